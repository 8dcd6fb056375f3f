//! The request sequences Okta and Entra ID send when provisioning, replayed against the router
//! over an in-memory backend.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{Client, enc, patch_op};
use serde_json::{Value, json};
use sso_scim::Lookup;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

fn id_of(body: &Value) -> String {
    body["id"].as_str().expect("an id").to_owned()
}

#[tokio::test]
async fn okta_user_lifecycle() {
    let c = Client::new();
    let filter = enc(r#"userName eq "ada@example.com""#);
    let uri = format!("/scim/v2/acme/Users?filter={filter}&startIndex=1&count=100");
    let empty = c.get(&uri).await.expect(200).body;
    assert_eq!(
        empty,
        json!({"schemas": [LIST], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []})
    );
    assert_eq!(
        c.backend.lookups().last(),
        Some(&Lookup::Name("ada@example.com".into()))
    );

    let created = c
        .post(
            "/scim/v2/acme/Users",
            json!({
                "schemas": [USER],
                "userName": "ada@example.com",
                "name": {"givenName": "Ada", "familyName": "Lovelace"},
                "emails": [{"primary": true, "value": "ada@example.com", "type": "work"}],
                "displayName": "Ada Lovelace",
                "locale": "en-US",
                "externalId": "00u1abcd",
                "groups": [],
                "password": "1mportant!",
                "active": true
            }),
        )
        .await
        .expect(201);
    let id = id_of(&created.body);
    let location = format!("https://sso.example.com/scim/v2/acme/Users/{id}");
    assert_eq!(created.header("location"), Some(location.as_str()));
    assert_eq!(created.header("etag"), Some("W/\"1\""));
    assert_eq!(created.body["meta"]["location"], json!(location));
    assert_eq!(created.body["meta"]["version"], json!("W/\"1\""));
    assert_eq!(created.body["meta"]["resourceType"], json!("User"));
    assert_eq!(created.body["schemas"], json!([USER]));
    assert_eq!(created.body["active"], json!(true));
    assert!(
        created.body.get("password").is_none(),
        "passwords are never stored"
    );

    let read = c
        .get(&format!("/scim/v2/acme/Users/{id}"))
        .await
        .expect(200);
    assert_eq!(read.header("etag"), Some("W/\"1\""));
    assert_eq!(read.body, created.body);

    let found = c.get(&uri).await.expect(200).body;
    assert_eq!(found["totalResults"], json!(1));
    assert_eq!(found["Resources"][0]["id"], json!(id));

    let off = c
        .patch(
            &format!("/scim/v2/acme/Users/{id}"),
            patch_op(json!([{"op": "replace", "value": {"active": false}}])),
        )
        .await
        .expect(200);
    assert_eq!(off.body["active"], json!(false));
    assert_eq!(off.header("etag"), Some("W/\"2\""));
    assert_eq!(off.body["name"]["givenName"], json!("Ada"));

    let mut full = read.body.clone();
    full["name"] = json!({"givenName": "Augusta", "familyName": "King"});
    full["displayName"] = json!("Augusta King");
    full["active"] = json!(true);
    let put = c
        .put(&format!("/scim/v2/acme/Users/{id}"), full)
        .await
        .expect(200);
    assert_eq!(put.body["displayName"], json!("Augusta King"));
    assert_eq!(put.body["active"], json!(true));
    assert_eq!(put.body["id"], json!(id));
    assert_eq!(put.body["meta"]["version"], json!("W/\"3\""));
    assert_eq!(put.body["externalId"], json!("00u1abcd"));
}

#[tokio::test]
async fn okta_group_push() {
    let c = Client::new();
    let mut ids = Vec::new();
    for name in ["ada@example.com", "bob@example.com"] {
        let u = c
            .post(
                "/scim/v2/acme/Users",
                json!({"schemas": [USER], "userName": name}),
            )
            .await
            .expect(201);
        ids.push(id_of(&u.body));
    }
    let filter = enc(r#"displayName eq "Engineering""#);
    let none = c
        .get(&format!(
            "/scim/v2/acme/Groups?filter={filter}&startIndex=1&count=100"
        ))
        .await
        .expect(200);
    assert_eq!(none.body["totalResults"], json!(0));

    let g = c
        .post(
            "/scim/v2/acme/Groups",
            json!({"schemas": [GROUP], "displayName": "Engineering", "members": []}),
        )
        .await
        .expect(201);
    let gid = id_of(&g.body);
    let group_uri = format!("/scim/v2/acme/Groups/{gid}");
    assert_eq!(g.body["members"], json!([]));
    assert_eq!(
        g.header("location"),
        Some(format!("https://sso.example.com{group_uri}").as_str())
    );

    let added = c
        .patch(
            &group_uri,
            patch_op(json!([{"op": "add", "path": "members", "value": [
                {"value": ids[0], "display": "ada@example.com"},
                {"value": ids[1], "display": "bob@example.com"}
            ]}])),
        )
        .await
        .expect(200);
    assert_eq!(
        added.body["members"],
        json!([
            {"value": ids[0], "type": "User", "$ref": format!("https://sso.example.com/scim/v2/acme/Users/{}", ids[0])},
            {"value": ids[1], "type": "User", "$ref": format!("https://sso.example.com/scim/v2/acme/Users/{}", ids[1])}
        ])
    );

    let removed = c
        .patch(
            &group_uri,
            patch_op(
                json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", ids[0])}]),
            ),
        )
        .await
        .expect(200);
    assert_eq!(removed.body["members"].as_array().map(Vec::len), Some(1));
    assert_eq!(removed.body["members"][0]["value"], json!(ids[1]));

    let renamed = c
        .patch(
            &group_uri,
            patch_op(
                json!([{"op": "replace", "value": {"id": gid, "displayName": "Engineering Team"}}]),
            ),
        )
        .await
        .expect(200);
    assert_eq!(renamed.body["displayName"], json!("Engineering Team"));
    assert_eq!(renamed.body["members"].as_array().map(Vec::len), Some(1));
    assert_eq!(renamed.header("etag"), Some("W/\"4\""));

    let filter = enc(r#"displayName eq "engineering team""#);
    let listed = c
        .get(&format!("/scim/v2/acme/Groups?filter={filter}"))
        .await
        .expect(200);
    assert_eq!(listed.body["totalResults"], json!(1));

    c.delete(&group_uri).await.expect(204);
    c.get(&group_uri).await.expect_error(404, None);
}

#[tokio::test]
async fn entra_user_lifecycle() {
    let c = Client::new();
    let filter = enc(r#"userName eq "bob@example.com""#);
    let none = c
        .get(&format!("/scim/v2/acme/Users?filter={filter}"))
        .await
        .expect(200);
    assert_eq!(none.body["totalResults"], json!(0));

    let created = c
        .post(
            "/scim/v2/acme/Users",
            json!({
                "schemas": [USER, ENTERPRISE],
                "externalId": "bob",
                "userName": "bob@example.com",
                "active": true,
                "displayName": "Bob",
                "emails": [{"primary": true, "type": "work", "value": "bob@example.com"}],
                "meta": {"resourceType": "User"},
                "name": {"formatted": "Bob B", "familyName": "B", "givenName": "Bob"},
                "title": "Engineer",
                ENTERPRISE: {"employeeNumber": "7", "department": "R&D"}
            }),
        )
        .await
        .expect(201);
    let id = id_of(&created.body);
    let uri = format!("/scim/v2/acme/Users/{id}");
    assert_eq!(created.body["schemas"], json!([USER, ENTERPRISE]));
    assert_eq!(created.body[ENTERPRISE]["department"], json!("R&D"));

    let patched = c
        .patch(
            &uri,
            patch_op(json!([
                {"op": "Replace", "path": "displayName", "value": "Robert"},
                {"op": "Add", "path": "title", "value": "Lead"},
                {"op": "Replace", "path": "name.givenName", "value": "Robert"},
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "Replace", "path": "externalId", "value": "bob-2"}
            ])),
        )
        .await
        .expect(200);
    assert_eq!(patched.body["active"], json!(false));
    assert_eq!(patched.body["displayName"], json!("Robert"));
    assert_eq!(patched.body["title"], json!("Lead"));
    assert_eq!(patched.body["name"]["givenName"], json!("Robert"));
    assert_eq!(patched.body["externalId"], json!("bob-2"));

    let email = c
        .patch(
            &uri,
            patch_op(json!([
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "robert@example.com"},
                {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "mgr-1"},
                {"op": "Remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}
            ])),
        )
        .await
        .expect(200);
    assert_eq!(
        email.body["emails"],
        json!([{"primary": true, "type": "work", "value": "robert@example.com"}])
    );
    assert_eq!(
        email.body[ENTERPRISE],
        json!({"employeeNumber": "7", "manager": {"value": "mgr-1"}})
    );

    let filter = enc(r#"emails[type eq "work" and value eq "ROBERT@example.com"]"#);
    let found = c
        .get(&format!("/scim/v2/acme/Users?filter={filter}"))
        .await
        .expect(200);
    assert_eq!(found.body["totalResults"], json!(1));
    let filter = enc(r#"externalId eq "bob-2""#);
    let found = c
        .get(&format!("/scim/v2/acme/Users?filter={filter}"))
        .await
        .expect(200);
    assert_eq!(found.body["totalResults"], json!(1));
    assert_eq!(
        c.backend.lookups().last(),
        Some(&Lookup::ExternalId("bob-2".into()))
    );

    let reactivated = c
        .patch(
            &uri,
            patch_op(json!([{"op": "Replace", "path": "active", "value": "True"}])),
        )
        .await
        .expect(200);
    assert_eq!(reactivated.body["active"], json!(true));

    c.delete(&uri).await.expect(204);
    c.get(&uri).await.expect_error(404, None);
    c.delete(&uri).await.expect_error(404, None);
}

#[tokio::test]
async fn entra_group_lifecycle() {
    let c = Client::new();
    let user = c
        .post(
            "/scim/v2/acme/Users",
            json!({"schemas": [USER], "userName": "cy@example.com"}),
        )
        .await
        .expect(201);
    let uid = id_of(&user.body);
    let filter = enc(r#"displayName eq "Sales""#);
    let query = format!("/scim/v2/acme/Groups?excludedAttributes=members&filter={filter}");
    let none = c.get(&query).await.expect(200);
    assert_eq!(none.body["totalResults"], json!(0));

    let g = c
        .post(
            "/scim/v2/acme/Groups",
            json!({"schemas": [GROUP], "externalId": "8aa1", "displayName": "Sales", "members": []}),
        )
        .await
        .expect(201);
    let gid = id_of(&g.body);
    let uri = format!("/scim/v2/acme/Groups/{gid}");

    let add = c
        .patch(
            &uri,
            patch_op(json!([{"op": "Add", "path": "members", "value": [{"value": uid}]}])),
        )
        .await
        .expect(200);
    assert_eq!(add.body["members"][0]["type"], json!("User"));

    let listed = c.get(&query).await.expect(200);
    assert_eq!(listed.body["totalResults"], json!(1));
    let resource = &listed.body["Resources"][0];
    assert!(
        resource.get("members").is_none(),
        "excludedAttributes=members"
    );
    assert_eq!(resource["displayName"], json!("Sales"));
    assert_eq!(resource["externalId"], json!("8aa1"));
    assert_eq!(resource["id"], json!(gid));

    let remove = c
        .patch(
            &uri,
            patch_op(json!([{"op": "Remove", "path": "members", "value": [{"value": uid}]}])),
        )
        .await
        .expect(200);
    assert_eq!(remove.body["members"], json!([]));

    let unknown = c
        .patch(
            &uri,
            patch_op(json!([{"op": "Add", "path": "members", "value": [{"value": "u-nope"}]}])),
        )
        .await
        .expect_error(400, Some("invalidValue"));
    assert!(
        unknown.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("scim-unknown-member: ")
    );

    let rename = c
        .patch(
            &uri,
            patch_op(json!([{"op": "Replace", "path": "displayName", "value": "Sales EMEA"}])),
        )
        .await
        .expect(200);
    assert_eq!(rename.body["displayName"], json!("Sales EMEA"));

    c.delete(&format!("/scim/v2/acme/Users/{uid}"))
        .await
        .expect(204);
    c.delete(&uri).await.expect(204);
    c.get(&uri).await.expect_error(404, None);
}
