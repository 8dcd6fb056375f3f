//! Listing (RFC 7644 §3.4.2 and §3.4.3): the query parameters or `.search` body, and the
//! ListResponse page over the resources that match.

use serde_json::{Value, json};

use crate::error::ScimError;
use crate::filter::{self, Filter};
use crate::json::get_ci;
use crate::project::Projection;

/// The ListResponse message schema.
pub(crate) const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// What a listing asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ListParams {
    pub(crate) filter: Option<Filter>,
    /// 1-based.
    pub(crate) start_index: usize,
    /// `None` when not given (the page size cap applies).
    pub(crate) count: Option<usize>,
    pub(crate) projection: Projection,
}

impl ListParams {
    /// From the query string's pairs (names in any case; `sortBy` and `sortOrder` ignored).
    pub(crate) fn from_query(pairs: &[(String, String)]) -> Result<Self, ScimError> {
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let integer = |name: &str| -> Result<Option<i64>, ScimError> {
            get(name)
                .map(|v| {
                    v.trim()
                        .parse::<i64>()
                        .map_err(|_| ScimError::invalid_value(format!("{name} must be an integer")))
                })
                .transpose()
        };
        Ok(Self {
            filter: parse_filter(get("filter"))?,
            start_index: start_index(integer("startIndex")?),
            count: count(integer("count")?),
            projection: Projection::from_query(get("attributes"), get("excludedAttributes"))?,
        })
    }

    /// From a `POST .search` body (RFC 7644 §3.4.3).
    pub(crate) fn from_search(body: &Value) -> Result<Self, ScimError> {
        if !body.is_object() {
            return Err(ScimError::invalid_syntax("a search must be a JSON object"));
        }
        let filter = match get_ci(body, "filter") {
            None | Some(Value::Null) => None,
            Some(Value::String(f)) => parse_filter(Some(f))?,
            Some(_) => return Err(ScimError::invalid_filter("filter must be a string")),
        };
        let integer = |name: &str| -> Result<Option<i64>, ScimError> {
            match get_ci(body, name) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_i64()
                    .map(Some)
                    .ok_or_else(|| ScimError::invalid_value(format!("{name} must be an integer"))),
            }
        };
        let names = |name: &str| -> Result<Option<Vec<String>>, ScimError> {
            match get_ci(body, name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| i.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .map(Some)
                    .ok_or_else(|| ScimError::invalid_value(format!("{name} must be strings"))),
                Some(_) => Err(ScimError::invalid_value(format!("{name} must be an array"))),
            }
        };
        Ok(Self {
            filter,
            start_index: start_index(integer("startIndex")?),
            count: count(integer("count")?),
            projection: Projection::from_names(
                names("attributes")?,
                names("excludedAttributes")?.unwrap_or_default(),
            )?,
        })
    }
}

fn parse_filter(filter: Option<&str>) -> Result<Option<Filter>, ScimError> {
    match filter.map(str::trim) {
        None | Some("") => Ok(None),
        Some(f) => filter::parse_filter(f)
            .map(Some)
            .map_err(ScimError::invalid_filter),
    }
}

/// Below 1 means 1 (RFC 7644 §3.4.2.4).
fn start_index(given: Option<i64>) -> usize {
    given
        .and_then(|i| usize::try_from(i).ok())
        .unwrap_or(1)
        .max(1)
}

/// Negative means 0.
fn count(given: Option<i64>) -> Option<usize> {
    given.map(|c| usize::try_from(c).unwrap_or(0))
}

/// The page of `matched` (already filtered) that `params` asks for, as a ListResponse.
pub(crate) fn page(
    matched: Vec<Value>,
    params: &ListParams,
    max_results: usize,
    core: &str,
) -> Value {
    let total = matched.len();
    let count = params.count.unwrap_or(max_results).min(max_results);
    let resources: Vec<Value> = matched
        .into_iter()
        .skip(params.start_index.saturating_sub(1))
        .take(count)
        .map(|mut resource| {
            params.projection.apply(&mut resource, core);
            resource
        })
        .collect();
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": params.start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn paging_is_one_based_and_capped() {
        let params = ListParams::from_query(&pairs(&[("startIndex", "2"), ("COUNT", "500")]));
        let params = params.unwrap_or_default();
        let all: Vec<Value> = (0..10).map(|i| json!({"id": i.to_string()})).collect();
        let page = page(all, &params, 3, "");
        assert_eq!(page["totalResults"], json!(10));
        assert_eq!(page["itemsPerPage"], json!(3));
        assert_eq!(page["startIndex"], json!(2));
        assert_eq!(page["Resources"][0]["id"], json!("1"));
    }

    #[test]
    fn odd_numbers_are_clamped_and_junk_refused() {
        let p = ListParams::from_query(&pairs(&[("startIndex", "-4"), ("count", "-1")]));
        let p = p.unwrap_or_default();
        assert_eq!((p.start_index, p.count), (1, Some(0)));
        let zero = page(vec![json!({"id": "a"})], &p, 10, "");
        assert_eq!(zero["totalResults"], json!(1));
        assert_eq!(zero["Resources"], json!([]));
        assert!(ListParams::from_query(&pairs(&[("count", "ten")])).is_err());
        assert!(ListParams::from_query(&pairs(&[("count", "99999999999999999999999")])).is_err());
        let bad = ListParams::from_query(&pairs(&[("filter", "userName eq")])).err();
        assert_eq!(bad.map(|e| e.scim_type()), Some(Some("invalidFilter")));
    }

    #[test]
    fn searches_read_the_body() {
        let p = ListParams::from_search(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": "userName sw \"a\"", "startIndex": 1, "count": 5,
            "attributes": ["userName"]
        }));
        let p = p.unwrap_or_default();
        assert!(p.filter.is_some());
        assert_eq!(p.count, Some(5));
        assert!(ListParams::from_search(&json!({"count": "5"})).is_err());
        assert!(ListParams::from_search(&json!({"attributes": [1]})).is_err());
    }
}
