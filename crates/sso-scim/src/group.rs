//! The Group resource (RFC 7643 §4.2): from a client's JSON to a [`GroupWrite`], and from a
//! [`StoredGroup`] back to JSON. Members are users only; nested groups are refused.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use crate::backend::{GroupWrite, StoredGroup};
use crate::discovery::GROUP_SCHEMA;
use crate::error::ScimError;
use crate::json::{get_ci, opt_string};
use crate::resource::{document, encode_segment, meta, optional_name, required_name};

/// The most members one request may name (a body's `members`, or all of a PATCH's values).
pub(crate) const MAX_MEMBERS_PER_REQUEST: usize = 10_000;

/// The longest member id.
const MAX_ID_LEN: usize = 256;

const NOT_STORED: [&str; 4] = ["id", "meta", "schemas", "members"];
const KNOWN: [&str; 3] = ["displayName", "externalId", "members"];

/// Builds the write for a Group; `max_members` bounds the member list (a PATCH's own values
/// are bounded before, so it passes the number already in the group plus those).
pub(crate) fn group_write(resource: &Value, max_members: usize) -> Result<GroupWrite, ScimError> {
    let object = resource
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("a Group must be a JSON object"))?;
    let members = members(get_ci(resource, "members"), max_members)?;
    let doc = Value::Object(document(object, &NOT_STORED, &KNOWN)?);
    Ok(GroupWrite {
        display_name: required_name(&doc, "displayName")?,
        external_id: optional_name(&doc, "externalId")?,
        members,
        document: doc,
    })
}

/// Member ids in order, without duplicates.
fn members(value: Option<&Value>, max: usize) -> Result<Vec<String>, ScimError> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(ScimError::invalid_value("members must be an array")),
    };
    if items.len() > max {
        return Err(ScimError::invalid_value(format!(
            "scim-too-many-members: at most {max} members in one request"
        )));
    }
    let mut seen = HashSet::with_capacity(items.len());
    let mut ids = Vec::with_capacity(items.len());
    for item in items {
        let id = member_id(item)?;
        if seen.insert(id) {
            ids.push(id.to_owned());
        }
    }
    Ok(ids)
}

/// The `value` of one member, refusing a member of another type than User.
pub(crate) fn member_id(item: &Value) -> Result<&str, ScimError> {
    if !item.is_object() {
        return Err(ScimError::invalid_value("each member must be an object"));
    }
    let kind = opt_string(item, "type").map_err(ScimError::invalid_value)?;
    if kind.is_some_and(|k| !k.eq_ignore_ascii_case("User")) {
        return Err(ScimError::invalid_value(
            "scim-nested-group: only users can be members of a group",
        ));
    }
    match opt_string(item, "value").map_err(ScimError::invalid_value)? {
        Some(id) if !id.is_empty() && id.len() <= MAX_ID_LEN => Ok(id),
        _ => Err(ScimError::invalid_value(
            "each member needs a value: the id of a user",
        )),
    }
}

/// The group as PATCH sees it: the document, the indexed fields and `members`.
pub(crate) fn group_state(stored: &StoredGroup, base: &str) -> Value {
    let mut doc = match &stored.document {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    doc.retain(|k, _| {
        !NOT_STORED.iter().any(|n| n.eq_ignore_ascii_case(k))
            && !k.eq_ignore_ascii_case("displayName")
            && !k.eq_ignore_ascii_case("externalId")
    });
    doc.insert("displayName".into(), stored.display_name.clone().into());
    if let Some(external_id) = &stored.external_id {
        doc.insert("externalId".into(), external_id.clone().into());
    }
    let members: Vec<Value> = stored
        .members
        .iter()
        .map(|m| {
            json!({
                "value": m.value,
                "type": "User",
                "$ref": format!("{base}/Users/{}", encode_segment(&m.value)),
            })
        })
        .collect();
    doc.insert("members".into(), Value::Array(members));
    Value::Object(doc)
}

/// The group as a SCIM resource; `base` is `<base_url>/scim/v2/<org>`.
pub(crate) fn render_group(stored: &StoredGroup, base: &str) -> Value {
    let mut state = group_state(stored, base);
    if let Value::Object(doc) = &mut state {
        doc.insert("schemas".into(), json!([GROUP_SCHEMA]));
        doc.insert("id".into(), stored.id.clone().into());
        let location = format!("{base}/Groups/{}", encode_segment(&stored.id));
        doc.insert(
            "meta".into(),
            meta(
                "Group",
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
    use crate::backend::GroupMember;
    use time::OffsetDateTime;

    #[test]
    fn members_are_deduplicated_in_order() {
        let body = json!({"displayName": "Eng", "externalId": "x1", "members": [
            {"value": "b"}, {"value": "a", "display": "A"}, {"value": "b", "type": "User"}]});
        let w = group_write(&body, MAX_MEMBERS_PER_REQUEST).map_err(|e| format!("{e:?}"));
        let w = w.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(w.members, vec!["b".to_owned(), "a".to_owned()]);
        assert_eq!(w.display_name, "Eng");
        assert_eq!(w.external_id.as_deref(), Some("x1"));
        assert_eq!(
            w.document,
            json!({"displayName": "Eng", "externalId": "x1"})
        );
    }

    #[test]
    fn refusals() {
        for bad in [
            json!({"members": []}),
            json!({"displayName": "G", "members": {"value": "a"}}),
            json!({"displayName": "G", "members": [{"display": "no value"}]}),
            json!({"displayName": "G", "members": [{"value": "g", "type": "Group"}]}),
            json!({"displayName": "G", "members": ["a"]}),
            json!({"displayName": "G", "members": [{"value": "a"}, {"value": "b"}, {"value": "c"}]}),
        ] {
            let err = group_write(&bad, 2).err();
            assert_eq!(
                err.map(|e| e.scim_type()),
                Some(Some("invalidValue")),
                "{bad}"
            );
        }
    }

    #[test]
    fn rendering_lists_members_with_refs() {
        let stored = StoredGroup {
            id: "g1".into(),
            display_name: "Eng".into(),
            external_id: None,
            members: vec![GroupMember {
                value: "u1".into(),
                display: "ada@x.test".into(),
            }],
            document: json!({"displayName": "Eng"}),
            version: 3,
            created: OffsetDateTime::UNIX_EPOCH,
            modified: OffsetDateTime::UNIX_EPOCH,
        };
        let v = render_group(&stored, "https://h/scim/v2/o");
        assert_eq!(
            v["members"],
            json!([{"value": "u1", "type": "User", "$ref": "https://h/scim/v2/o/Users/u1"}])
        );
        assert_eq!(
            v["meta"]["location"],
            json!("https://h/scim/v2/o/Groups/g1")
        );
        assert_eq!(v["schemas"], json!([GROUP_SCHEMA]));
    }
}
