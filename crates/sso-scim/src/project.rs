//! `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5 and §3.9): which attributes a
//! response carries. `id` and `schemas` are always returned.

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::filter::{AttrPath, MAX_FILTER_LEN, parse_attr_path};
use crate::json::{get_ci_mut, key_ci, remove_ci};

/// The most attribute names one list may give.
const MAX_NAMES: usize = 100;

/// Attributes no projection removes.
const ALWAYS: [&str; 2] = ["id", "schemas"];

/// A parsed `attributes` / `excludedAttributes` pair.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Projection {
    include: Option<Vec<AttrPath>>,
    exclude: Vec<AttrPath>,
}

impl Projection {
    /// From the query parameters' comma-separated lists.
    pub(crate) fn from_query(
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Result<Self, ScimError> {
        let split = |list: &str| -> Result<Vec<String>, ScimError> {
            if list.len() > MAX_FILTER_LEN {
                return Err(ScimError::invalid_value("the attribute list is too long"));
            }
            Ok(list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect())
        };
        let include = attributes.map(split).transpose()?;
        let exclude = excluded.map(split).transpose()?.unwrap_or_default();
        Self::from_names(include, exclude)
    }

    /// From lists of names (a `.search` body's arrays).
    pub(crate) fn from_names(
        include: Option<Vec<String>>,
        exclude: Vec<String>,
    ) -> Result<Self, ScimError> {
        let parse = |names: Vec<String>| -> Result<Vec<AttrPath>, ScimError> {
            if names.len() > MAX_NAMES {
                return Err(ScimError::invalid_value(format!(
                    "at most {MAX_NAMES} attribute names"
                )));
            }
            names
                .iter()
                .map(|n| parse_attr_path(n).map_err(ScimError::invalid_value))
                .collect()
        };
        Ok(Self {
            include: include
                .filter(|names| !names.is_empty())
                .map(parse)
                .transpose()?,
            exclude: parse(exclude)?,
        })
    }

    /// Trims a rendered resource of schema `core` in place.
    pub(crate) fn apply(&self, resource: &mut Value, core: &str) {
        let Value::Object(object) = resource else {
            return;
        };
        if let Some(include) = &self.include {
            let mut kept = Map::new();
            for name in ALWAYS {
                if let Some(v) = object.get(name) {
                    kept.insert(name.to_owned(), v.clone());
                }
            }
            for path in include {
                pick(object, &mut kept, path, core);
            }
            *object = kept;
        }
        for path in &self.exclude {
            drop_path(object, path, core);
        }
    }
}

/// The object a path's attribute lives in, and the attribute's name there.
fn locate<'a>(path: &'a AttrPath, core: &str) -> (Option<&'a str>, &'a str) {
    match path.urn.as_deref() {
        Some(urn) if path.name.is_empty() => (None, urn),
        Some(urn) if !urn.eq_ignore_ascii_case(core) => (Some(urn), path.name.as_str()),
        _ => (None, path.name.as_str()),
    }
}

fn pick(source: &Map<String, Value>, out: &mut Map<String, Value>, path: &AttrPath, core: &str) {
    let (extension, name) = locate(path, core);
    match extension {
        None => pick_in(source, out, name, path.sub.as_deref()),
        Some(urn) => {
            let Some(key) = key_ci(source, urn) else {
                return;
            };
            let Some(Value::Object(inner)) = source.get(&key) else {
                return;
            };
            let slot = out.entry(key).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(inner_out) = slot {
                pick_in(inner, inner_out, name, path.sub.as_deref());
            }
        }
    }
}

fn pick_in(
    source: &Map<String, Value>,
    out: &mut Map<String, Value>,
    name: &str,
    sub: Option<&str>,
) {
    let Some(key) = key_ci(source, name) else {
        return;
    };
    let Some(value) = source.get(&key) else {
        return;
    };
    let Some(sub) = sub else {
        out.insert(key, value.clone());
        return;
    };
    match value {
        Value::Object(inner) => {
            let slot = out.entry(key).or_insert_with(|| Value::Object(Map::new()));
            if let (Value::Object(slot), Some(sub_key)) = (slot, key_ci(inner, sub)) {
                if let Some(v) = inner.get(&sub_key) {
                    slot.insert(sub_key, v.clone());
                }
            }
        }
        Value::Array(items) => {
            let blank = || Value::Array(items.iter().map(|_| Value::Object(Map::new())).collect());
            let slot = out.entry(key).or_insert_with(blank);
            let Value::Array(slots) = slot else {
                return;
            };
            for (dst, src) in slots.iter_mut().zip(items) {
                if let (Value::Object(dst), Value::Object(src)) = (dst, src) {
                    if let Some(sub_key) = key_ci(src, sub) {
                        if let Some(v) = src.get(&sub_key) {
                            dst.insert(sub_key, v.clone());
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

fn drop_path(object: &mut Map<String, Value>, path: &AttrPath, core: &str) {
    let (extension, name) = locate(path, core);
    let container = match extension {
        None => {
            if ALWAYS.iter().any(|a| a.eq_ignore_ascii_case(name)) {
                return;
            }
            object
        }
        Some(urn) => match get_ci_mut(object, urn) {
            Some(Value::Object(inner)) => inner,
            _ => return,
        },
    };
    let Some(sub) = path.sub.as_deref() else {
        remove_ci(container, name);
        return;
    };
    match get_ci_mut(container, name) {
        Some(Value::Object(inner)) => {
            remove_ci(inner, sub);
        }
        Some(Value::Array(items)) => {
            for item in items.iter_mut().filter_map(Value::as_object_mut) {
                remove_ci(item, sub);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::{ENTERPRISE_SCHEMA, USER_SCHEMA};
    use serde_json::json;

    fn user() -> Value {
        json!({
            "schemas": [USER_SCHEMA], "id": "1", "userName": "ada",
            "name": {"givenName": "Ada", "familyName": "L"},
            "emails": [{"value": "a@x.test", "type": "work"}, {"value": "b@x.test", "type": "home"}],
            ENTERPRISE_SCHEMA: {"department": "R&D", "costCenter": "9"},
            "meta": {"version": "W/\"1\""}
        })
    }

    fn project(attributes: Option<&str>, excluded: Option<&str>) -> Value {
        let p = Projection::from_query(attributes, excluded).unwrap_or_default();
        let mut v = user();
        p.apply(&mut v, USER_SCHEMA);
        v
    }

    #[test]
    fn attributes_keep_only_what_was_asked_plus_id_and_schemas() {
        let v = project(
            Some(
                "UserName, name.givenName,emails.value,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            ),
            None,
        );
        assert_eq!(
            v,
            json!({
                "schemas": [USER_SCHEMA], "id": "1", "userName": "ada",
                "name": {"givenName": "Ada"},
                "emails": [{"value": "a@x.test"}, {"value": "b@x.test"}],
                ENTERPRISE_SCHEMA: {"department": "R&D"}
            })
        );
    }

    #[test]
    fn excluded_attributes_never_drop_id() {
        let v = project(None, Some("members,emails,id,name.familyName,meta"));
        assert_eq!(v["id"], json!("1"));
        assert!(v.get("emails").is_none());
        assert!(v.get("meta").is_none());
        assert_eq!(v["name"], json!({"givenName": "Ada"}));
    }

    #[test]
    fn bad_names_are_invalid_values() {
        assert!(Projection::from_query(Some("a b"), None).is_err());
        assert!(Projection::from_query(None, Some("x.y.z")).is_err());
        let many = vec!["a"; 200].join(",");
        assert!(Projection::from_query(Some(&many), None).is_err());
    }
}
