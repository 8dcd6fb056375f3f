//! The User resource (RFC 7643 §4.1, with the enterprise extension of §4.3): from a client's
//! JSON to a [`UserWrite`], and from a [`StoredUser`] back to JSON.

use serde_json::{Map, Value, json};

use crate::backend::{StoredUser, UserWrite};
use crate::discovery::{ENTERPRISE_SCHEMA, USER_SCHEMA};
use crate::error::ScimError;
use crate::json::{get_ci, get_ci_mut, opt_string};
use crate::resource::{boolean, document, encode_segment, meta, optional_name, required_name};

/// Attributes never stored: the server's own (`id`, `meta`, `schemas`), the write-only
/// `password` (we do not keep passwords from an IdP) and the read-only `groups`.
const NOT_STORED: [&str; 5] = ["id", "meta", "schemas", "password", "groups"];

/// The User attributes of RFC 7643 §4.1, spelled as the RFC spells them.
const KNOWN: [&str; 22] = [
    "userName",
    "externalId",
    "name",
    "displayName",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "active",
    "emails",
    "phoneNumbers",
    "ims",
    "photos",
    "addresses",
    "entitlements",
    "roles",
    "x509Certificates",
    "password",
    ENTERPRISE_SCHEMA,
];

/// Builds the write for a User as the client sent it (POST, PUT) or as PATCH left it.
pub(crate) fn user_write(resource: &Value) -> Result<UserWrite, ScimError> {
    let object = resource
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("a User must be a JSON object"))?;
    let mut doc = document(object, &NOT_STORED, &KNOWN)?;
    let active = match doc.get("active") {
        None | Some(Value::Null) => true,
        Some(v) => boolean(v).ok_or_else(|| {
            ScimError::invalid_value("active must be true or false (a boolean or its string)")
        })?,
    };
    // An absent `active` means active, and stays absent: a PATCH that removes it reads back
    // without it.
    if doc.contains_key("active") {
        doc.insert("active".into(), Value::Bool(active));
    }
    match doc.get_mut(ENTERPRISE_SCHEMA) {
        None => {}
        Some(Value::Object(ext)) => manager_as_object(ext),
        Some(_) => {
            return Err(ScimError::invalid_value(format!(
                "{ENTERPRISE_SCHEMA} must be an object"
            )));
        }
    }
    let doc = Value::Object(doc);
    let user_name = required_name(&doc, "userName")?;
    let external_id = optional_name(&doc, "externalId")?;
    let display_name = display_name(&doc)?;
    let email = email(&doc)?.or_else(|| user_name.contains('@').then(|| user_name.clone()));
    Ok(UserWrite {
        user_name,
        external_id,
        display_name,
        email,
        active,
        document: doc,
    })
}

/// Entra ID may send the enterprise `manager` as the manager's id alone; the schema makes it
/// a complex attribute whose `value` is that id.
fn manager_as_object(ext: &mut Map<String, Value>) {
    if let Some(slot) = get_ci_mut(ext, "manager") {
        if let Value::String(id) = slot {
            let mut manager = Map::new();
            manager.insert("value".into(), Value::String(std::mem::take(id)));
            *slot = Value::Object(manager);
        }
    }
}

/// `displayName`, else `name.formatted`, else the given and family names joined.
fn display_name(doc: &Value) -> Result<Option<String>, ScimError> {
    if let Some(name) = optional_name(doc, "displayName")? {
        return Ok(Some(name));
    }
    let name = match get_ci(doc, "name") {
        None | Some(Value::Null) => return Ok(None),
        Some(n @ Value::Object(_)) => n,
        Some(_) => return Err(ScimError::invalid_value("name must be an object")),
    };
    if let Some(formatted) = optional_name(name, "formatted")? {
        return Ok(Some(formatted));
    }
    let parts: Vec<String> = ["givenName", "familyName"]
        .iter()
        .map(|part| optional_name(name, part))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .map(|s| s.trim().to_owned())
        .collect();
    Ok((!parts.is_empty()).then(|| parts.join(" ")))
}

/// The primary email, else the `work` one, else the first.
fn email(doc: &Value) -> Result<Option<String>, ScimError> {
    let emails = match get_ci(doc, "emails") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(ScimError::invalid_value("emails must be an array")),
    };
    let mut candidates = Vec::with_capacity(emails.len());
    for item in emails {
        if !item.is_object() {
            return Err(ScimError::invalid_value("each email must be an object"));
        }
        let value = opt_string(item, "value").map_err(ScimError::invalid_value)?;
        if let Some(value) = value.filter(|v| !v.trim().is_empty()) {
            candidates.push((item, value));
        }
    }
    let primary = candidates
        .iter()
        .find(|(item, _)| get_ci(item, "primary").and_then(boolean) == Some(true));
    let work = || {
        candidates.iter().find(|(item, _)| {
            get_ci(item, "type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("work"))
        })
    };
    Ok(primary
        .or_else(work)
        .or(candidates.first())
        .map(|(_, value)| (*value).to_owned()))
}

/// The user as PATCH sees it: the stored document with the indexed fields written back, and
/// no `id`, `meta` or `schemas`.
pub(crate) fn user_state(stored: &StoredUser) -> Value {
    let mut doc = match &stored.user.document {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    for key in NOT_STORED {
        doc.retain(|k, _| !k.eq_ignore_ascii_case(key));
    }
    let has_active = doc.keys().any(|k| k.eq_ignore_ascii_case("active"));
    doc.retain(|k, _| !k.eq_ignore_ascii_case("userName") && !k.eq_ignore_ascii_case("active"));
    doc.insert("userName".into(), stored.user.user_name.clone().into());
    if has_active || !stored.user.active {
        doc.insert("active".into(), stored.user.active.into());
    }
    if let Some(external_id) = &stored.user.external_id {
        doc.retain(|k, _| !k.eq_ignore_ascii_case("externalId"));
        doc.insert("externalId".into(), external_id.clone().into());
    }
    Value::Object(doc)
}

/// The user as a SCIM resource; `base` is `<base_url>/scim/v2/<org>`.
pub(crate) fn render_user(stored: &StoredUser, base: &str) -> Value {
    let mut state = user_state(stored);
    let mut schemas = vec![json!(USER_SCHEMA)];
    if get_ci(&state, ENTERPRISE_SCHEMA).is_some() {
        schemas.push(json!(ENTERPRISE_SCHEMA));
    }
    if let Value::Object(doc) = &mut state {
        doc.insert("schemas".into(), Value::Array(schemas));
        doc.insert("id".into(), stored.id.clone().into());
        let location = format!("{base}/Users/{}", encode_segment(&stored.id));
        doc.insert(
            "meta".into(),
            meta(
                "User",
                stored.created,
                stored.modified,
                &location,
                stored.version,
            ),
        );
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    #[allow(clippy::needless_pass_by_value)]
    fn write(v: Value) -> UserWrite {
        match user_write(&v) {
            Ok(w) => w,
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn the_email_is_primary_then_work_then_first_then_user_name() {
        let emails = json!([
            {"value": "home@x.test", "type": "home"},
            {"value": "work@x.test", "type": "work"},
            {"value": "main@x.test", "type": "other", "primary": true}
        ]);
        let w = write(json!({"userName": "u", "emails": emails}));
        assert_eq!(w.email.as_deref(), Some("main@x.test"));
        let w = write(json!({"userName": "u", "emails": [
            {"value": "home@x.test", "type": "home"}, {"value": "w@x.test", "type": "Work"}]}));
        assert_eq!(w.email.as_deref(), Some("w@x.test"));
        let w = write(
            json!({"userName": "u", "emails": [{"value": "a@x.test"}, {"value": "b@x.test"}]}),
        );
        assert_eq!(w.email.as_deref(), Some("a@x.test"));
        let w = write(json!({"userName": "p@x.test", "emails": []}));
        assert_eq!(w.email.as_deref(), Some("p@x.test"));
        let w = write(json!({"userName": "plain"}));
        assert_eq!(w.email, None);
        let w = write(
            json!({"userName": "u", "emails": [{"value": "s@x.test", "primary": "True"}, {"value": "w@x.test", "type": "work"}]}),
        );
        assert_eq!(w.email.as_deref(), Some("s@x.test"));
    }

    #[test]
    fn display_name_falls_back_to_the_name_parts() {
        let w = write(json!({"userName": "u", "name": {"formatted": "Ada L", "givenName": "A"}}));
        assert_eq!(w.display_name.as_deref(), Some("Ada L"));
        let w =
            write(json!({"userName": "u", "name": {"givenName": "Ada", "familyName": "Lovelace"}}));
        assert_eq!(w.display_name.as_deref(), Some("Ada Lovelace"));
        let w = write(json!({"userName": "u", "displayName": "D", "name": {"givenName": "Ada"}}));
        assert_eq!(w.display_name.as_deref(), Some("D"));
        assert_eq!(write(json!({"userName": "u"})).display_name, None);
    }

    #[test]
    fn active_accepts_strings_and_defaults_to_true() {
        assert!(write(json!({"userName": "u"})).active);
        let w = write(json!({"userName": "u", "active": "False"}));
        assert!(!w.active);
        assert_eq!(w.document["active"], json!(false));
        assert!(user_write(&json!({"userName": "u", "active": "maybe"})).is_err());
    }

    #[test]
    fn server_and_secret_attributes_are_not_stored() {
        let w = write(json!({
            "schemas": [USER_SCHEMA], "id": "forged", "meta": {"version": "1"},
            "UserName": "u", "password": "hunter2", "groups": [{"value": "g"}],
            ENTERPRISE_SCHEMA: {"department": "R&D"}
        }));
        assert_eq!(
            w.document,
            json!({"userName": "u", ENTERPRISE_SCHEMA: {"department": "R&D"}})
        );
    }

    #[test]
    fn a_bare_manager_id_becomes_the_complex_value() {
        let w = write(json!({"userName": "u", ENTERPRISE_SCHEMA: {"manager": "boss-id"}}));
        assert_eq!(
            w.document[ENTERPRISE_SCHEMA]["manager"],
            json!({"value": "boss-id"})
        );
        assert!(user_write(&json!({"userName": "u", ENTERPRISE_SCHEMA: "x"})).is_err());
    }

    #[test]
    fn refusals_are_invalid_values() {
        for bad in [
            json!({}),
            json!({"userName": "  "}),
            json!({"userName": 5}),
            json!({"userName": "u", "emails": "a@b"}),
            json!({"userName": "u", "name": "Ada"}),
            json!({"userName": "u", "externalId": ["x"]}),
            json!({"userName": "x".repeat(2000)}),
        ] {
            let err = user_write(&bad).err();
            assert_eq!(
                err.map(|e| e.scim_type()),
                Some(Some("invalidValue")),
                "{bad}"
            );
        }
        let err = user_write(&json!([1])).err();
        assert_eq!(err.map(|e| e.scim_type()), Some(Some("invalidSyntax")));
    }

    #[test]
    fn rendering_adds_schemas_id_and_meta() {
        let stored = StoredUser {
            id: "u 1".into(),
            user: write(json!({"userName": "a@x.test", "externalId": "e1",
                ENTERPRISE_SCHEMA: {"department": "R&D"}})),
            version: 7,
            created: OffsetDateTime::UNIX_EPOCH,
            modified: OffsetDateTime::UNIX_EPOCH,
        };
        let v = render_user(&stored, "https://sso.test/scim/v2/acme");
        assert_eq!(v["schemas"], json!([USER_SCHEMA, ENTERPRISE_SCHEMA]));
        assert_eq!(v["id"], json!("u 1"));
        assert_eq!(v["externalId"], json!("e1"));
        assert_eq!(v["meta"]["version"], json!("W/\"7\""));
        assert_eq!(
            v["meta"]["location"],
            json!("https://sso.test/scim/v2/acme/Users/u%201")
        );
        assert_eq!(v["meta"]["created"], json!("1970-01-01T00:00:00Z"));
        assert_eq!(v["meta"]["resourceType"], json!("User"));
    }
}
