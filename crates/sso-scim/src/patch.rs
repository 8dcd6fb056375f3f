//! PATCH (RFC 7644 §3.5.2) applied to a resource's JSON in memory, with the dialects IdPs
//! send: Okta's path-less `replace` of `{"active": false}` or of `{"id", "displayName"}`,
//! Entra ID's capitalized `Add`/`Replace`/`Remove`, `"False"` for `active`, value-filter paths
//! such as `emails[type eq "work"].value` (creating the value when none matches a plain
//! `eq` filter), path-less `add` whose keys are themselves paths, and removal of members
//! by `value` list or by filter.
//!
//! The caller turns the patched JSON back into a write, so every rule of POST and PUT holds
//! after a PATCH too.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::filter::{self, Budget, CompareOp, Filter, Literal, PatchPath};
use crate::json::{get_ci, get_ci_mut, key_ci, remove_ci, set_ci};
use crate::resource::boolean;

/// The PatchOp message schema.
pub(crate) const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The most operations one PATCH may carry.
pub(crate) const MAX_OPERATIONS: usize = 1000;

/// How much one PATCH may cost, counted in values touched and values its filters visit, so
/// many operations over a long multi-valued attribute stay cheap.
const MAX_PATCH_WORK: usize = 10_000_000;

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpKind {
    Add,
    Replace,
    Remove,
}

/// One parsed operation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Operation {
    pub(crate) kind: OpKind,
    pub(crate) path: Option<PatchPath>,
    pub(crate) value: Option<Value>,
}

/// The resource being patched: its id (which may be named but not changed) and core schema.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    pub(crate) id: &'a str,
    pub(crate) core: &'a str,
}

/// Parses a PatchOp message.
pub(crate) fn parse(body: &Value) -> Result<Vec<Operation>, ScimError> {
    if !body.is_object() {
        return Err(ScimError::invalid_syntax(
            "a PATCH body must be a JSON object",
        ));
    }
    if let Some(Value::Array(schemas)) = get_ci(body, "schemas") {
        let named = schemas.iter().any(|s| {
            s.as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(PATCH_SCHEMA))
        });
        if !named {
            return Err(ScimError::invalid_syntax(format!(
                "a PATCH body's schemas must be [\"{PATCH_SCHEMA}\"]"
            )));
        }
    }
    let ops = match get_ci(body, "Operations") {
        Some(Value::Array(ops)) if !ops.is_empty() => ops,
        _ => {
            return Err(ScimError::invalid_syntax(
                "a PATCH body needs a non-empty Operations array",
            ));
        }
    };
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::invalid_syntax(format!(
            "a PATCH may carry at most {MAX_OPERATIONS} operations"
        )));
    }
    ops.iter().map(operation).collect()
}

fn operation(op: &Value) -> Result<Operation, ScimError> {
    if !op.is_object() {
        return Err(ScimError::invalid_syntax(
            "each operation must be a JSON object",
        ));
    }
    let kind = match get_ci(op, "op").and_then(Value::as_str) {
        Some(k) if k.eq_ignore_ascii_case("add") => OpKind::Add,
        Some(k) if k.eq_ignore_ascii_case("replace") => OpKind::Replace,
        Some(k) if k.eq_ignore_ascii_case("remove") => OpKind::Remove,
        _ => {
            return Err(ScimError::invalid_syntax(
                "op must be \"add\", \"replace\" or \"remove\"",
            ));
        }
    };
    let path = match get_ci(op, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.trim().is_empty() => None,
        Some(Value::String(p)) => Some(filter::parse_path(p).map_err(ScimError::invalid_path)?),
        Some(_) => return Err(ScimError::invalid_path("path must be a string")),
    };
    let value = get_ci(op, "value").cloned();
    if kind != OpKind::Remove && value.is_none() {
        return Err(ScimError::invalid_syntax("add and replace need a value"));
    }
    Ok(Operation { kind, path, value })
}

/// How many member values the operations carry (bounded per request).
pub(crate) fn member_values(ops: &[Operation]) -> usize {
    let count = |v: &Value| match v {
        Value::Array(items) => items.len(),
        _ => 1,
    };
    ops.iter()
        .map(|op| match (&op.path, &op.value) {
            (Some(p), Some(v))
                if p.attr.urn.is_none() && p.attr.name.eq_ignore_ascii_case("members") =>
            {
                count(v)
            }
            (None, Some(v)) => get_ci(v, "members").map_or(0, count),
            _ => 0,
        })
        .sum()
}

/// Applies every operation, in order, to `state` (a JSON object).
pub(crate) fn apply(
    state: &mut Value,
    ops: &[Operation],
    target: Target<'_>,
) -> Result<(), ScimError> {
    let Value::Object(top) = state else {
        return Err(ScimError::internal("the patched resource is not an object"));
    };
    let budget = Budget::new(MAX_PATCH_WORK);
    for op in ops {
        match (&op.path, op.kind, &op.value) {
            (None, OpKind::Remove, _) => {
                return Err(ScimError::no_target("remove needs a path"));
            }
            (None, kind, Some(Value::Object(values))) => {
                for (key, value) in values {
                    if key.eq_ignore_ascii_case("schemas") || key.eq_ignore_ascii_case("meta") {
                        continue;
                    }
                    let path = filter::parse_path(key).map_err(ScimError::invalid_path)?;
                    apply_path(top, kind, &path, Some(value.clone()), target, &budget)?;
                }
            }
            (None, _, _) => {
                return Err(ScimError::invalid_value(
                    "without a path, the value must be an object of attributes",
                ));
            }
            (Some(path), kind, value) => {
                apply_path(top, kind, path, value.clone(), target, &budget)?;
            }
        }
    }
    Ok(())
}

fn apply_path(
    top: &mut Map<String, Value>,
    kind: OpKind,
    path: &PatchPath,
    value: Option<Value>,
    target: Target<'_>,
    budget: &Budget,
) -> Result<(), ScimError> {
    let attr = &path.attr;
    let in_core = attr
        .urn
        .as_deref()
        .is_none_or(|u| u.eq_ignore_ascii_case(target.core));
    let (name, container) = if attr.name.is_empty() {
        (attr.urn.clone().unwrap_or_default(), Some(top))
    } else if in_core {
        (attr.name.clone(), Some(top))
    } else {
        let urn = attr.urn.as_deref().unwrap_or_default();
        (
            attr.name.clone(),
            extension(top, urn, kind != OpKind::Remove)?,
        )
    };
    if in_core && read_only(&name, kind, path, value.as_ref(), target)? {
        return Ok(());
    }
    let Some(container) = container else {
        return Ok(());
    };
    charge(budget, container, &name, value.as_ref())?;
    match (&path.filter, kind, value) {
        (None, OpKind::Remove, value) => {
            remove_attr(container, &name, attr.sub.as_deref(), value.as_ref());
            Ok(())
        }
        (None, kind, Some(value)) => set_attr(container, &name, attr.sub.as_deref(), value, kind),
        (Some(f), OpKind::Remove, _) => {
            remove_filtered(container, &name, f, path.sub.as_deref(), budget)
        }
        (Some(f), _, Some(value)) => {
            set_filtered(container, &name, f, path.sub.as_deref(), value, budget)
        }
        (_, _, None) => Err(ScimError::invalid_syntax("add and replace need a value")),
    }
}

/// The extension object named `urn` (created when `create`); `None` when absent.
fn extension<'a>(
    top: &'a mut Map<String, Value>,
    urn: &str,
    create: bool,
) -> Result<Option<&'a mut Map<String, Value>>, ScimError> {
    if key_ci(top, urn).is_none() {
        if !create {
            return Ok(None);
        }
        top.insert(urn.to_owned(), Value::Object(Map::new()));
    }
    let Some(slot) = get_ci_mut(top, urn) else {
        return Ok(None);
    };
    if slot.is_null() {
        if !create {
            return Ok(None);
        }
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(ext) => Ok(Some(ext)),
        _ => Err(ScimError::invalid_value(format!("{urn} must be an object"))),
    }
}

/// `id` may be named with its own value (Okta sends it on a rename); `meta` and `schemas` may
/// not be changed. Returns whether the operation is a no-op to skip.
fn read_only(
    name: &str,
    kind: OpKind,
    path: &PatchPath,
    value: Option<&Value>,
    target: Target<'_>,
) -> Result<bool, ScimError> {
    if name.eq_ignore_ascii_case("id") {
        let same = value.and_then(Value::as_str) == Some(target.id);
        if kind != OpKind::Remove && same && path.filter.is_none() && path.attr.sub.is_none() {
            return Ok(true);
        }
        return Err(ScimError::mutability("id is read-only"));
    }
    if name.eq_ignore_ascii_case("meta") || name.eq_ignore_ascii_case("schemas") {
        return Err(ScimError::mutability(format!("{name} is read-only")));
    }
    Ok(false)
}

fn set_attr(
    container: &mut Map<String, Value>,
    name: &str,
    sub: Option<&str>,
    value: Value,
    kind: OpKind,
) -> Result<(), ScimError> {
    let existing = get_ci_mut(container, name);
    if let Some(sub) = sub {
        match existing {
            None | Some(Value::Null) => {
                let mut object = Map::new();
                object.insert(sub.to_owned(), value);
                set_ci(container, name, Value::Object(object));
            }
            Some(Value::Object(object)) => set_ci(object, sub, value),
            Some(Value::Array(items)) => {
                for item in items.iter_mut().filter_map(Value::as_object_mut) {
                    set_ci(item, sub, value.clone());
                }
            }
            Some(_) => {
                return Err(ScimError::invalid_path(format!(
                    "{name} has no sub-attributes"
                )));
            }
        }
        return Ok(());
    }
    match (kind, existing, value) {
        (OpKind::Add, Some(Value::Array(items)), value) => append(name, items, value),
        (_, Some(Value::Object(object)), Value::Object(values)) => {
            for (key, v) in values {
                set_ci(object, &key, v);
            }
        }
        (_, _, value) => set_ci(container, name, value),
    }
    Ok(())
}

/// Adds values to a multi-valued attribute, skipping those already there (members by id).
fn append(name: &str, items: &mut Vec<Value>, value: Value) {
    let new = match value {
        Value::Array(new) => new,
        other => vec![other],
    };
    // Members are the same when their ids are, other values when their JSON is; a set keeps
    // this linear where `Vec::contains` per new value would be quadratic.
    let by_id = name.eq_ignore_ascii_case("members");
    let identity = |item: &Value| match (by_id, member_value(item)) {
        (true, Some(id)) => format!("id:{id}"),
        _ => format!("json:{item}"),
    };
    let mut seen: HashSet<String> = items.iter().map(identity).collect();
    let first_new = items.len();
    for item in new {
        if seen.insert(identity(&item)) {
            items.push(item);
        }
    }
    let touched: Vec<usize> = (first_new..items.len()).collect();
    single_primary(items, &touched);
}

fn member_value(item: &Value) -> Option<&str> {
    get_ci(item, "value").and_then(Value::as_str)
}

/// Keeps one `primary: true` (RFC 7643 §2.4): a value just written wins over older ones.
fn single_primary(items: &mut [Value], touched: &[usize]) {
    let touched: HashSet<usize> = touched.iter().copied().collect();
    let is_primary = |v: &Value| get_ci(v, "primary").and_then(boolean) == Some(true);
    let new_primary = touched
        .iter()
        .any(|i| items.get(*i).is_some_and(is_primary));
    if !new_primary {
        return;
    }
    for (i, item) in items.iter_mut().enumerate() {
        if !touched.contains(&i) && is_primary(item) {
            if let Some(object) = item.as_object_mut() {
                set_ci(object, "primary", Value::Bool(false));
            }
        }
    }
}

fn remove_attr(
    container: &mut Map<String, Value>,
    name: &str,
    sub: Option<&str>,
    value: Option<&Value>,
) {
    if let Some(sub) = sub {
        match get_ci_mut(container, name) {
            Some(Value::Object(object)) => {
                remove_ci(object, sub);
            }
            Some(Value::Array(items)) => {
                for item in items.iter_mut().filter_map(Value::as_object_mut) {
                    remove_ci(item, sub);
                }
            }
            _ => {}
        }
        return;
    }
    let Some((Value::Array(items), Some(value))) = get_ci_mut(container, name).map(|v| (v, value))
    else {
        remove_ci(container, name);
        return;
    };
    let targets = match value {
        Value::Array(targets) => targets.iter().collect::<Vec<_>>(),
        other => vec![other],
    };
    let ids: HashSet<&str> = targets.iter().filter_map(|t| member_value(t)).collect();
    let whole: HashSet<String> = targets
        .into_iter()
        .filter(|t| member_value(t).is_none())
        .map(Value::to_string)
        .collect();
    items.retain(|item| {
        let by_id = member_value(item).is_some_and(|id| ids.contains(id));
        !(by_id || (!whole.is_empty() && whole.contains(&item.to_string())))
    });
    if items.is_empty() {
        remove_ci(container, name);
    }
}

fn remove_filtered(
    container: &mut Map<String, Value>,
    name: &str,
    filter: &Filter,
    sub: Option<&str>,
    budget: &Budget,
) -> Result<(), ScimError> {
    let Some(Value::Array(items)) = get_ci_mut(container, name) else {
        return Ok(());
    };
    let hits: Vec<bool> = items
        .iter()
        .map(|item| filter::matches_item(filter, item, budget))
        .collect();
    spent(budget)?;
    let mut hit = hits.into_iter();
    match sub {
        None => items.retain(|_| !hit.next().unwrap_or(false)),
        Some(sub) => {
            for item in items.iter_mut() {
                if hit.next().unwrap_or(false) {
                    if let Some(object) = item.as_object_mut() {
                        remove_ci(object, sub);
                    }
                }
            }
        }
    }
    if items.is_empty() {
        remove_ci(container, name);
    }
    Ok(())
}

fn set_filtered(
    container: &mut Map<String, Value>,
    name: &str,
    filter: &Filter,
    sub: Option<&str>,
    value: Value,
    budget: &Budget,
) -> Result<(), ScimError> {
    match get_ci_mut(container, name) {
        Some(Value::Array(_)) => {}
        None | Some(Value::Null) => set_ci(container, name, Value::Array(Vec::new())),
        Some(_) => {
            return Err(ScimError::invalid_path(format!(
                "{name} is not multi-valued"
            )));
        }
    }
    let Some(Value::Array(items)) = get_ci_mut(container, name) else {
        return Err(ScimError::internal("a multi-valued attribute vanished"));
    };
    let matched: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, item)| filter::matches_item(filter, item, budget))
        .map(|(i, _)| i)
        .collect();
    spent(budget)?;
    if matched.is_empty() {
        let mut item = template(filter).ok_or_else(|| {
            ScimError::no_target(format!("no value of {name} matches the filter"))
        })?;
        match (sub, value) {
            (Some(sub), value) => set_ci(&mut item, sub, value),
            (None, Value::Object(values)) => item.extend(values),
            (None, _) => {
                return Err(ScimError::invalid_value(format!(
                    "a new value of {name} must be an object"
                )));
            }
        }
        items.push(Value::Object(item));
        let last = items.len() - 1;
        single_primary(items, &[last]);
        return Ok(());
    }
    for i in &matched {
        let Some(item) = items.get_mut(*i) else {
            continue;
        };
        match (sub, item, &value) {
            (Some(sub), Value::Object(object), value) => set_ci(object, sub, value.clone()),
            (None, Value::Object(object), Value::Object(values)) => {
                for (key, v) in values {
                    set_ci(object, key, v.clone());
                }
            }
            (_, item, value) => *item = value.clone(),
        }
    }
    single_primary(items, &matched);
    Ok(())
}

/// Spends what an operation costs before it runs: the values of the attribute it touches
/// and the values it brings (value filters spend per value they visit as they run).
fn charge(
    budget: &Budget,
    container: &Map<String, Value>,
    name: &str,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let current = key_ci(container, name)
        .and_then(|k| container.get(&k))
        .map_or(0, |v| v.as_array().map_or(1, Vec::len));
    let incoming = value.and_then(Value::as_array).map_or(1, Vec::len);
    if budget.take(current.saturating_add(incoming)) {
        Ok(())
    } else {
        Err(too_costly())
    }
}

/// Refuses the PATCH once its value filters ran out of budget.
fn spent(budget: &Budget) -> Result<(), ScimError> {
    if budget.exhausted() {
        Err(too_costly())
    } else {
        Ok(())
    }
}

fn too_costly() -> ScimError {
    ScimError::too_many("the PATCH would examine too many values; send fewer operations")
}

/// The value a filter of plain `eq` tests describes (`type eq "work"`), to create when none
/// matches; `None` for any other filter.
fn template(filter: &Filter) -> Option<Map<String, Value>> {
    match filter {
        Filter::Compare(path, CompareOp::Eq, literal, _)
            if path.urn.is_none() && path.sub.is_none() =>
        {
            let value = match literal {
                Literal::String(s) => Value::String(s.clone()),
                Literal::Bool(b) => Value::Bool(*b),
                Literal::Number(n) => serde_json::Number::from_f64(*n).map(Value::Number)?,
                Literal::Null => return None,
            };
            let mut item = Map::new();
            item.insert(path.name.clone(), value);
            Some(item)
        }
        Filter::And(terms) => {
            let mut item = Map::new();
            for term in terms {
                item.extend(template(term)?);
            }
            Some(item)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
