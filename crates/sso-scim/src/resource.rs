//! What Users and Groups share: the `meta` block, ETags, URL segments and the checks on the
//! attributes a backend indexes.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::ScimError;
use crate::json::{get_ci, key_ci};

/// The longest `userName`, `displayName` or `externalId`, in characters.
pub(crate) const MAX_NAME_CHARS: usize = 1024;

/// The weak ETag of a version.
pub(crate) fn etag(version: u64) -> String {
    format!("W/\"{version}\"")
}

/// RFC 3339, or an empty string for a date RFC 3339 cannot express (years past 9999).
pub(crate) fn timestamp(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// The `meta` attribute (RFC 7643 §3.1).
pub(crate) fn meta(
    resource_type: &str,
    created: OffsetDateTime,
    modified: OffsetDateTime,
    location: &str,
    version: u64,
) -> Value {
    json!({
        "resourceType": resource_type,
        "created": timestamp(created),
        "lastModified": timestamp(modified),
        "location": location,
        "version": etag(version),
    })
}

/// Percent-encodes one path segment (everything but RFC 3986's unreserved characters), so
/// an org or id with odd bytes still yields a well-formed `location`.
pub(crate) fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A copy of `resource`'s members without `dropped` (ignoring case), with the names in
/// `known` respelled canonically; two members that name the same attribute are refused.
pub(crate) fn document(
    resource: &Map<String, Value>,
    dropped: &[&str],
    known: &[&str],
) -> Result<Map<String, Value>, ScimError> {
    let mut out = Map::new();
    for (key, value) in resource {
        if dropped.iter().any(|d| d.eq_ignore_ascii_case(key)) {
            continue;
        }
        let name = known
            .iter()
            .find(|k| k.eq_ignore_ascii_case(key))
            .map_or_else(|| key.clone(), |k| (*k).to_owned());
        if key_ci(&out, &name).is_some() {
            return Err(ScimError::invalid_syntax(format!(
                "the attribute {name} is given twice"
            )));
        }
        out.insert(name, value.clone());
    }
    Ok(out)
}

/// A required, non-blank string of bounded length.
pub(crate) fn required_name(resource: &Value, name: &str) -> Result<String, ScimError> {
    optional_name(resource, name)?
        .ok_or_else(|| ScimError::invalid_value(format!("{name} is required")))
}

/// An optional string of bounded length; blank counts as absent.
pub(crate) fn optional_name(resource: &Value, name: &str) -> Result<Option<String>, ScimError> {
    let value = match get_ci(resource, name) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s,
        Some(_) => return Err(ScimError::invalid_value(format!("{name} must be a string"))),
    };
    if value.chars().count() > MAX_NAME_CHARS {
        return Err(ScimError::invalid_value(format!(
            "{name} is longer than {MAX_NAME_CHARS} characters"
        )));
    }
    if value.trim().is_empty() {
        return Ok(None);
    }
    Ok(Some(value.clone()))
}

/// A boolean as SCIM clients send it: JSON `true`/`false`, or the strings `"true"`/`"false"`
/// in any case (Entra ID sends `"False"`).
pub(crate) fn boolean(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(encode_segment("org_1-a.b~c"), "org_1-a.b~c");
        assert_eq!(encode_segment("a b/é"), "a%20b%2F%C3%A9");
    }

    #[test]
    fn documents_respell_known_names_and_refuse_twins() {
        let resource = json!({"USERNAME": "a", "id": "x", "Meta": {}, "custom": 1});
        let doc = document(
            resource.as_object().unwrap_or(&Map::new()),
            &["id", "meta"],
            &["userName"],
        );
        assert_eq!(
            Value::Object(doc.unwrap_or_default()),
            json!({"userName": "a", "custom": 1})
        );
        let twins = json!({"userName": "a", "username": "b"});
        let err = document(twins.as_object().unwrap_or(&Map::new()), &[], &["userName"]);
        assert!(err.is_err());
    }

    #[test]
    fn booleans_accept_entra_strings() {
        assert_eq!(boolean(&json!("False")), Some(false));
        assert_eq!(boolean(&json!("TRUE")), Some(true));
        assert_eq!(boolean(&json!(true)), Some(true));
        assert_eq!(boolean(&json!("no")), None);
        assert_eq!(boolean(&json!(0)), None);
    }
}
