//! JSON helpers for SCIM's case-insensitive attribute names (RFC 7643 §2.1).

use serde_json::{Map, Value};

/// The key of `object` equal to `name` ignoring ASCII case (an exact match wins).
pub(crate) fn key_ci(object: &Map<String, Value>, name: &str) -> Option<String> {
    if object.contains_key(name) {
        return Some(name.to_owned());
    }
    object
        .keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
}

/// The member of `value` (when it is an object) named `name`, ignoring ASCII case.
pub(crate) fn get_ci<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    let object = value.as_object()?;
    object.get(name).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// The member named `name` ignoring ASCII case, mutably.
pub(crate) fn get_ci_mut<'a>(
    object: &'a mut Map<String, Value>,
    name: &str,
) -> Option<&'a mut Value> {
    let key = key_ci(object, name)?;
    object.get_mut(&key)
}

/// Removes the member named `name` ignoring ASCII case; returns it.
pub(crate) fn remove_ci(object: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let key = key_ci(object, name)?;
    object.remove(&key)
}

/// Sets the member named `name`, keeping the spelling of an existing key.
pub(crate) fn set_ci(object: &mut Map<String, Value>, name: &str, value: Value) {
    let key = key_ci(object, name).unwrap_or_else(|| name.to_owned());
    object.insert(key, value);
}

/// A string member, or `None` when absent or null; `Err` names a member of another type.
pub(crate) fn opt_string<'a>(value: &'a Value, name: &str) -> Result<Option<&'a str>, String> {
    match get_ci(value, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(format!("{name} must be a string")),
    }
}

/// Whether a value counts as present for `pr` and for "the attribute has a value": not null,
/// not an empty string, array or object.
pub(crate) fn has_value(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lookups_ignore_ascii_case_and_prefer_exact_keys() {
        let v = json!({"UserName": "a", "username": "b"});
        assert_eq!(get_ci(&v, "username"), Some(&json!("b")));
        assert_eq!(
            get_ci(&json!({"UserName": "a"}), "USERNAME"),
            Some(&json!("a"))
        );
        assert_eq!(get_ci(&json!("not an object"), "x"), None);
        let mut m = Map::new();
        set_ci(&mut m, "displayName", json!(1));
        set_ci(&mut m, "DISPLAYNAME", json!(2));
        assert_eq!(m.len(), 1);
        assert_eq!(m.get("displayName"), Some(&json!(2)));
        assert_eq!(remove_ci(&mut m, "displayname"), Some(json!(2)));
        assert!(m.is_empty());
    }

    #[test]
    fn presence_follows_the_rfc() {
        assert!(!has_value(&json!(null)));
        assert!(!has_value(&json!("")));
        assert!(!has_value(&json!([])));
        assert!(has_value(&json!(false)));
        assert!(has_value(&json!([1])));
    }
}
