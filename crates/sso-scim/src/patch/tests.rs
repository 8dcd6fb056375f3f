//! PATCH semantics: the RFC's rules and the requests Okta and Entra ID actually send.

use serde_json::json;

use super::*;
use crate::discovery::{ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};

const USER: Target<'static> = Target {
    id: "u1",
    core: USER_SCHEMA,
};
const GROUP: Target<'static> = Target {
    id: "g1",
    core: GROUP_SCHEMA,
};

fn patched(mut state: Value, body: &Value, target: Target<'_>) -> Result<Value, ScimError> {
    let ops = parse(body)?;
    apply(&mut state, &ops, target)?;
    Ok(state)
}

fn message(ops: Value) -> Value {
    let mut body = json!({"schemas": [PATCH_SCHEMA]});
    body["Operations"] = ops;
    body
}

fn ok(state: Value, ops: Value, target: Target<'_>) -> Value {
    patched(state, &message(ops), target).unwrap_or_else(|e| panic!("{e:?}"))
}

fn refused(state: Value, ops: Value, target: Target<'_>) -> Option<&'static str> {
    patched(state, &message(ops), target)
        .err()
        .and_then(|e| e.scim_type())
}

fn user() -> Value {
    json!({
        "userName": "ada@x.test",
        "active": true,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [
            {"value": "ada@x.test", "type": "work", "primary": true},
            {"value": "ada@home.test", "type": "home"}
        ]
    })
}

#[test]
fn okta_deactivates_without_a_path() {
    let v = ok(
        user(),
        json!([{"op": "replace", "value": {"active": false}}]),
        USER,
    );
    assert_eq!(v["active"], json!(false));
    assert_eq!(v["userName"], json!("ada@x.test"));
}

#[test]
fn okta_renames_a_group_naming_its_own_id() {
    let group = json!({"displayName": "Eng", "members": [{"value": "u1"}]});
    let ops = json!([{"op": "replace", "value": {"id": "g1", "displayName": "Engineering"}}]);
    let v = ok(group.clone(), ops, GROUP);
    assert_eq!(v["displayName"], json!("Engineering"));
    assert_eq!(v["members"], json!([{"value": "u1"}]));
    let ops = json!([{"op": "replace", "value": {"id": "other", "displayName": "X"}}]);
    assert_eq!(refused(group.clone(), ops, GROUP), Some("mutability"));
    let ops = json!([{"op": "remove", "path": "id"}]);
    assert_eq!(refused(group.clone(), ops, GROUP), Some("mutability"));
    let ops = json!([{"op": "replace", "path": "meta.version", "value": "1"}]);
    assert_eq!(refused(group, ops, GROUP), Some("mutability"));
}

#[test]
fn entra_capitalized_ops_string_booleans_and_sub_attributes() {
    let ops = json!([
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Replace", "path": "name.givenName", "value": "Augusta"},
        {"op": "Add", "path": "name.formatted", "value": "Augusta Ada King"},
        {"op": "Replace", "path": "externalId", "value": "e-77"},
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
         "value": {"value": "boss"}},
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
         "value": "Analytics"}
    ]);
    let v = ok(user(), ops, USER);
    assert_eq!(v["active"], json!("False"));
    assert_eq!(
        v["name"],
        json!({"givenName": "Augusta", "familyName": "Lovelace", "formatted": "Augusta Ada King"})
    );
    assert_eq!(v["externalId"], json!("e-77"));
    assert_eq!(
        v[ENTERPRISE_SCHEMA],
        json!({"manager": {"value": "boss"}, "department": "Analytics"})
    );
    let ops = json!([{"op": "Remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]);
    let v = ok(v, ops, USER);
    assert_eq!(v[ENTERPRISE_SCHEMA], json!({"department": "Analytics"}));
}

#[test]
fn entra_value_filter_paths_update_or_create() {
    let ops =
        json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "aug@x.test"}]);
    let v = ok(user(), ops, USER);
    assert_eq!(
        v["emails"][0],
        json!({"value": "aug@x.test", "type": "work", "primary": true})
    );
    assert_eq!(v["emails"][1]["value"], json!("ada@home.test"));
    let no_work = json!({"userName": "u", "emails": [{"value": "h@x.test", "type": "home"}]});
    let ops = json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "w@x.test"}]);
    let v = ok(no_work, ops, USER);
    assert_eq!(
        v["emails"],
        json!([{"value": "h@x.test", "type": "home"}, {"type": "work", "value": "w@x.test"}])
    );
    let none = json!({"userName": "u"});
    let ops = json!([{"op": "replace", "path": "emails[type eq \"work\" and primary eq true].value", "value": "p@x.test"}]);
    let v = ok(none, ops, USER);
    assert_eq!(
        v["emails"],
        json!([{"type": "work", "primary": true, "value": "p@x.test"}])
    );
    let ops =
        json!([{"op": "replace", "path": "emails[value co \"zzz\"].value", "value": "p@x.test"}]);
    assert_eq!(refused(user(), ops, USER), Some("noTarget"));
    let ops = json!([{"op": "replace", "path": "userName[value pr].value", "value": "p"}]);
    assert_eq!(refused(user(), ops, USER), Some("invalidPath"));
}

#[test]
fn entra_adds_without_a_path_using_path_keys() {
    let ops = json!([{"op": "Add", "value": {
        "displayName": "Ada",
        "name.honorificPrefix": "Countess",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "42",
        "schemas": ["ignored"]
    }}]);
    let v = ok(user(), ops, USER);
    assert_eq!(v["displayName"], json!("Ada"));
    assert_eq!(v["name"]["honorificPrefix"], json!("Countess"));
    assert_eq!(v["name"]["givenName"], json!("Ada"));
    assert_eq!(v[ENTERPRISE_SCHEMA]["employeeNumber"], json!("42"));
    assert!(v.get("schemas").is_none());
}

#[test]
fn members_add_remove_and_replace() {
    let group = json!({"displayName": "Eng", "members": [{"value": "a"}, {"value": "b"}]});
    let ops = json!([{"op": "add", "path": "members", "value": [{"value": "b"}, {"value": "c", "display": "C"}, {"value": "c"}]}]);
    let v = ok(group, ops, GROUP);
    assert_eq!(
        v["members"],
        json!([{"value": "a"}, {"value": "b"}, {"value": "c", "display": "C"}])
    );
    let ops = json!([{"op": "remove", "path": "members[value eq \"a\"]"}]);
    let v = ok(v, ops, GROUP);
    assert_eq!(
        v["members"],
        json!([{"value": "b"}, {"value": "c", "display": "C"}])
    );
    let ops =
        json!([{"op": "Remove", "path": "members", "value": [{"value": "b"}, {"value": "zz"}]}]);
    let v = ok(v, ops, GROUP);
    assert_eq!(v["members"], json!([{"value": "c", "display": "C"}]));
    let ops = json!([{"op": "replace", "path": "members", "value": [{"value": "x"}]}]);
    let v = ok(v, ops, GROUP);
    assert_eq!(v["members"], json!([{"value": "x"}]));
    let ops = json!([{"op": "remove", "path": "members"}]);
    let v = ok(v, ops, GROUP);
    assert!(v.get("members").is_none());
    let ops = json!([{"op": "add", "path": "members", "value": [{"value": "n"}]}]);
    let v = ok(json!({"displayName": "Empty"}), ops, GROUP);
    assert_eq!(v["members"], json!([{"value": "n"}]));
    let ops = json!([{"op": "remove", "path": "members[value eq \"gone\"]"}]);
    let v = ok(v, ops, GROUP);
    assert_eq!(v["members"], json!([{"value": "n"}]));
}

#[test]
fn a_new_primary_demotes_the_old_one() {
    let ops = json!([{"op": "add", "path": "emails", "value": [{"value": "new@x.test", "type": "work", "primary": true}]}]);
    let v = ok(user(), ops, USER);
    assert_eq!(v["emails"][0]["primary"], json!(false));
    assert_eq!(v["emails"][2]["primary"], json!(true));
    let ops = json!([{"op": "add", "path": "emails", "value": [{"value": "ada@x.test", "type": "work", "primary": true}]}]);
    let v = ok(user(), ops, USER);
    assert_eq!(v["emails"].as_array().map(Vec::len), Some(2));
}

#[test]
fn replace_merges_complex_values_and_replaces_multi_valued_ones() {
    let ops = json!([
        {"op": "replace", "path": "name", "value": {"givenName": "A"}},
        {"op": "replace", "path": "emails", "value": [{"value": "only@x.test"}]}
    ]);
    let v = ok(user(), ops, USER);
    assert_eq!(
        v["name"],
        json!({"givenName": "A", "familyName": "Lovelace"})
    );
    assert_eq!(v["emails"], json!([{"value": "only@x.test"}]));
    let ops = json!([{"op": "remove", "path": "name.familyName"}, {"op": "remove", "path": "emails[type eq \"home\"]"}]);
    let v = ok(user(), ops, USER);
    assert_eq!(v["name"], json!({"givenName": "Ada"}));
    assert_eq!(v["emails"].as_array().map(Vec::len), Some(1));
    let ops = json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]);
    let v = ok(user(), ops, USER);
    assert!(v["emails"][0].get("primary").is_none());
}

#[test]
fn malformed_messages_are_refused() {
    let cases = [
        (json!([1]), "invalidSyntax"),
        (json!({"Operations": []}), "invalidSyntax"),
        (json!({"Operations": "x"}), "invalidSyntax"),
        (
            json!({"Operations": [{"op": "move", "path": "a"}]}),
            "invalidSyntax",
        ),
        (
            json!({"Operations": [{"op": "add", "path": "a"}]}),
            "invalidSyntax",
        ),
        (
            json!({"Operations": [{"op": "add", "path": "a b", "value": 1}]}),
            "invalidPath",
        ),
        (
            json!({"Operations": [{"op": "add", "path": 5, "value": 1}]}),
            "invalidPath",
        ),
        (json!({"Operations": [{"op": "remove"}]}), "noTarget"),
        (
            json!({"Operations": [{"op": "replace", "value": "x"}]}),
            "invalidValue",
        ),
        (
            json!({"Operations": [{"op": "add", "value": {"bad key": 1}}]}),
            "invalidPath",
        ),
    ];
    for (body, scim_type) in cases {
        let err = patched(user(), &body, USER).err();
        assert_eq!(err.and_then(|e| e.scim_type()), Some(scim_type), "{body}");
    }
    let ops: Vec<Value> = (0..=MAX_OPERATIONS)
        .map(|_| json!({"op": "remove", "path": "title"}))
        .collect();
    assert!(parse(&json!({"Operations": ops})).is_err());
}

#[test]
fn member_values_are_counted_across_operations() {
    let body = json!({"Operations": [
        {"op": "add", "path": "members", "value": [{"value": "a"}, {"value": "b"}]},
        {"op": "replace", "value": {"members": [{"value": "c"}]}},
        {"op": "remove", "path": "members[value eq \"a\"]"}
    ]});
    let ops = parse(&body).unwrap_or_default();
    assert_eq!(member_values(&ops), 3);
}

#[test]
fn arbitrary_messages_never_panic() {
    let pieces = [
        json!("add"),
        json!("Replace"),
        json!("remove"),
        json!("members"),
        json!("emails[type eq \"work\"].value"),
        json!("name.givenName"),
        json!("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
        json!("id"),
        json!(null),
        json!(true),
        json!([{"value": "x"}, 3, null]),
        json!({"value": "y", "primary": "True"}),
        json!({"active": "False", "id": "u1", "name.familyName": 1}),
        json!("emails[value co \"@\" or not (type pr)]"),
    ];
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut pick = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        pieces
            .get(usize::try_from(seed % 14).unwrap_or(0))
            .cloned()
            .unwrap_or_default()
    };
    for _ in 0..5_000 {
        let ops: Vec<Value> = (0..3)
            .map(|_| json!({"op": pick(), "path": pick(), "value": pick()}))
            .collect();
        let _ = patched(user(), &json!({"Operations": ops}), USER);
        let group = json!({"displayName": "G", "members": [{"value": "u1"}]});
        let _ = patched(group, &json!({"Operations": ops}), GROUP);
    }
}

#[test]
fn costly_messages_are_refused_not_run() {
    // 5 000 values × 101 filter nodes: about 500 000 per operation, 19 fit the budget.
    let members: Vec<Value> = (0..5_000)
        .map(|i| json!({"value": format!("m{i}")}))
        .collect();
    let group = json!({"displayName": "Big", "members": members});
    let filter = vec![r#"value eq "nobody""#; 100].join(" or ");
    let op = json!({"op": "remove", "path": format!("members[{filter}]")});
    let few: Vec<Value> = (0..3).map(|_| op.clone()).collect();
    let v = ok(group.clone(), Value::Array(few), GROUP);
    assert_eq!(v["members"].as_array().map(Vec::len), Some(5_000));
    let many: Vec<Value> = (0..25).map(|_| op.clone()).collect();
    assert_eq!(refused(group, Value::Array(many), GROUP), Some("tooMany"));
}
