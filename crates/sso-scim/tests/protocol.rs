//! The protocol's edges through the router: authentication, media types and sizes, ETags,
//! errors, paging, projections, discovery, PATCH races, and hostile input.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use axum::http::Method;
use common::{Client, OTHER_TOKEN, enc, patch_op};
use serde_json::{Value, json};
use sso_scim::ScimConfig;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

async fn user(c: &Client, name: &str) -> String {
    let r = c
        .post(
            "/scim/v2/acme/Users",
            json!({"schemas": [USER], "userName": name}),
        )
        .await
        .expect(201);
    r.body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_endpoint_needs_a_token_for_its_org() {
    let c = Client::new();
    let id = user(&c, "a@example.com").await;
    let paths = [
        "/scim/v2/acme/Users".to_owned(),
        format!("/scim/v2/acme/Users/{id}"),
        "/scim/v2/acme/Groups".to_owned(),
        "/scim/v2/acme/ServiceProviderConfig".to_owned(),
        "/scim/v2/acme/ResourceTypes".to_owned(),
        "/scim/v2/acme/Schemas".to_owned(),
    ];
    for client in [
        c.with_token(None),
        c.with_token(Some("wrong")),
        c.with_token(Some(OTHER_TOKEN)),
    ] {
        for path in &paths {
            let r = client.get(path).await.expect_error(401, None);
            assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        }
        let r = client
            .send(
                Method::DELETE,
                &format!("/scim/v2/acme/Users/{id}"),
                None,
                &[],
            )
            .await;
        r.expect_error(401, None);
    }
    let basic = c
        .with_token(None)
        .send(
            Method::GET,
            "/scim/v2/acme/Users",
            None,
            &[("authorization", "Basic YTpi")],
        )
        .await;
    basic.expect_error(401, None);
    c.with_token(Some("explode"))
        .get("/scim/v2/acme/Users")
        .await
        .expect_error(500, None);
    assert_eq!(c.backend.user_count(), 1, "nothing was deleted");
    let other = c.with_token(Some(OTHER_TOKEN));
    other
        .get(&format!("/scim/v2/other/Users/{id}"))
        .await
        .expect_error(404, None);
}

#[tokio::test]
async fn bodies_must_be_json_of_bounded_size() {
    let mut config = ScimConfig::new("https://sso.example.com");
    config.max_body_bytes = 2048;
    let c = Client::with_config(config);
    let big = json!({"userName": "big@example.com", "title": "x".repeat(4096)});
    c.post("/scim/v2/acme/Users", big)
        .await
        .expect_error(413, None);
    let ok = json!({"userName": "a@example.com"})
        .to_string()
        .into_bytes();
    for content_type in [
        "application/json",
        "application/scim+json",
        "Application/SCIM+JSON; charset=utf-8",
    ] {
        let name = format!("{}@example.com", content_type.len());
        let body = json!({"userName": name}).to_string().into_bytes();
        c.raw(
            Method::POST,
            "/scim/v2/acme/Users",
            body,
            &[("content-type", content_type)],
        )
        .await
        .expect(201);
    }
    c.raw(
        Method::POST,
        "/scim/v2/acme/Users",
        ok.clone(),
        &[("content-type", "text/plain")],
    )
    .await
    .expect_error(415, None);
    let request = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/scim/v2/acme/Users")
        .header("authorization", format!("Bearer {}", common::TOKEN))
        .body(axum::body::Body::from(ok))
        .unwrap();
    let app = sso_scim::router(c.backend.clone(), ScimConfig::new("https://h"));
    let response = tower::ServiceExt::oneshot(app, request).await.unwrap();
    assert_eq!(
        response.status(),
        201,
        "a body without a content type is read as JSON"
    );
    for bad in [&b"{"[..], b"not json", b"[]", b"\xff\xfe", b""] {
        let r = c
            .raw(
                Method::POST,
                "/scim/v2/acme/Users",
                bad.to_vec(),
                &[("content-type", "application/json")],
            )
            .await;
        r.expect_error(400, Some("invalidSyntax"));
    }
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    c.raw(Method::POST, "/scim/v2/acme/Users", deep.into_bytes(), &[])
        .await
        .expect(413);
}

#[tokio::test]
async fn deeply_nested_json_is_a_syntax_error() {
    let c = Client::new();
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    c.raw(Method::POST, "/scim/v2/acme/Users", deep.into_bytes(), &[])
        .await
        .expect_error(400, Some("invalidSyntax"));
}

#[tokio::test]
async fn etags_guard_writes_and_save_reads() {
    let c = Client::new();
    let id = user(&c, "e@example.com").await;
    let uri = format!("/scim/v2/acme/Users/{id}");

    let same = c
        .send(Method::GET, &uri, None, &[("if-none-match", "W/\"1\"")])
        .await
        .expect(304);
    assert_eq!(same.header("etag"), Some("W/\"1\""));
    assert_eq!(same.body, Value::Null);
    c.send(Method::GET, &uri, None, &[("if-none-match", "W/\"9\"")])
        .await
        .expect(200);

    let body = json!({"userName": "e@example.com", "title": "T"});
    c.send(
        Method::PUT,
        &uri,
        Some(body.clone()),
        &[("if-match", "W/\"7\"")],
    )
    .await
    .expect_error(412, None);
    let put = c
        .send(Method::PUT, &uri, Some(body), &[("if-match", "W/\"1\"")])
        .await
        .expect(200);
    assert_eq!(put.header("etag"), Some("W/\"2\""));

    let op = patch_op(json!([{"op": "replace", "path": "title", "value": "U"}]));
    c.send(
        Method::PATCH,
        &uri,
        Some(op.clone()),
        &[("if-match", "W/\"1\"")],
    )
    .await
    .expect_error(412, None);
    c.send(
        Method::PATCH,
        &uri,
        Some(op.clone()),
        &[("if-match", "\"2\"")],
    )
    .await
    .expect(200);
    c.send(Method::PATCH, &uri, Some(op), &[("if-match", "*")])
        .await
        .expect(200);

    c.send(Method::DELETE, &uri, None, &[("if-match", "W/\"1\"")])
        .await
        .expect_error(412, None);
    c.send(Method::DELETE, &uri, None, &[("if-match", "W/\"4\"")])
        .await
        .expect(204);
}

#[tokio::test]
async fn patch_retries_lost_races_unless_if_match_was_given() {
    let c = Client::new();
    let id = user(&c, "r@example.com").await;
    let uri = format!("/scim/v2/acme/Users/{id}");
    let op = patch_op(json!([{"op": "replace", "path": "title", "value": "Race"}]));

    c.backend.interfere(2);
    let before = c.backend.replaces();
    let r = c.patch(&uri, op.clone()).await.expect(200);
    assert_eq!(r.body["title"], json!("Race"));
    assert_eq!(c.backend.replaces() - before, 3);

    c.backend.interfere(100);
    c.patch(&uri, op.clone()).await.expect_error(412, None);
    c.backend.interfere(0);

    let version = c
        .get(&uri)
        .await
        .expect(200)
        .header("etag")
        .unwrap()
        .to_owned();
    c.backend.interfere(1);
    let before = c.backend.replaces();
    c.send(Method::PATCH, &uri, Some(op), &[("if-match", &version)])
        .await
        .expect_error(412, None);
    assert_eq!(c.backend.replaces() - before, 1);
}

#[tokio::test]
async fn refusals_carry_the_rfc_scim_types() {
    let c = Client::new();
    let id = user(&c, "Dup@Example.com").await;
    let uri = format!("/scim/v2/acme/Users/{id}");
    c.post(
        "/scim/v2/acme/Users",
        json!({"userName": "dup@example.COM"}),
    )
    .await
    .expect_error(409, Some("uniqueness"));
    c.post("/scim/v2/acme/Users", json!({"displayName": "no userName"}))
        .await
        .expect_error(400, Some("invalidValue"));
    let unverified = c
        .post(
            "/scim/v2/acme/Users",
            json!({"userName": "x@unverified.test"}),
        )
        .await
        .expect_error(400, Some("invalidValue"));
    let detail = unverified.body["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("scim-email-domain-unverified: "),
        "{detail}"
    );

    for filter in [
        r#"userName eq"#,
        r#"userName eq "x" and"#,
        "((((",
        r#"userName gt true"#,
    ] {
        c.get(&format!("/scim/v2/acme/Users?filter={}", enc(filter)))
            .await
            .expect_error(400, Some("invalidFilter"));
    }
    let long = format!(r#"userName eq "{}""#, "a".repeat(5000));
    c.get(&format!("/scim/v2/acme/Users?filter={}", enc(&long)))
        .await
        .expect_error(400, Some("invalidFilter"));

    let cases = [
        (
            json!([{"op": "replace", "path": "id", "value": "other"}]),
            "mutability",
        ),
        (
            json!([{"op": "replace", "value": {"id": "other"}}]),
            "mutability",
        ),
        (json!([{"op": "remove"}]), "noTarget"),
        (
            json!([{"op": "add", "path": "emails[type eq", "value": "x"}]),
            "invalidPath",
        ),
        (json!([{"op": "jump", "path": "title"}]), "invalidSyntax"),
        (
            json!([{"op": "replace", "path": "emails[value co \"none\"].display", "value": "x"}]),
            "noTarget",
        ),
        (
            json!([{"op": "remove", "path": "userName"}]),
            "invalidValue",
        ),
        (
            json!([{"op": "replace", "path": "active", "value": "perhaps"}]),
            "invalidValue",
        ),
    ];
    for (ops, scim_type) in cases {
        c.patch(&uri, patch_op(ops))
            .await
            .expect_error(400, Some(scim_type));
    }
    let members: Vec<Value> = (0..10_001)
        .map(|i| json!({"value": format!("u{i}")}))
        .collect();
    let big = patch_op(json!([{"op": "add", "path": "members", "value": members}]));
    let g = c
        .post("/scim/v2/acme/Groups", json!({"displayName": "G"}))
        .await
        .expect(201);
    let gid = g.body["id"].as_str().unwrap();
    c.patch(&format!("/scim/v2/acme/Groups/{gid}"), big)
        .await
        .expect_error(400, Some("invalidValue"));
    c.get("/scim/v2/acme/Users/nope")
        .await
        .expect_error(404, None);
    c.get(&format!("/scim/v2/acme/Users/{}", "x".repeat(600)))
        .await
        .expect_error(404, None);
}

#[tokio::test]
async fn listing_pages_projects_and_searches() {
    let mut config = ScimConfig::new("https://sso.example.com/");
    config.max_results = 3;
    let c = Client::with_config(config);
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(user(&c, &format!("p{i}@example.com")).await);
    }
    let page = c
        .get("/scim/v2/acme/Users?startIndex=2&count=2")
        .await
        .expect(200)
        .body;
    assert_eq!(page["totalResults"], json!(5));
    assert_eq!(page["itemsPerPage"], json!(2));
    assert_eq!(page["startIndex"], json!(2));
    let got: Vec<&Value> = page["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["id"])
        .collect();
    assert_eq!(got, vec![&json!(ids[1]), &json!(ids[2])]);
    let capped = c.get("/scim/v2/acme/Users?count=50").await.expect(200).body;
    assert_eq!(capped["itemsPerPage"], json!(3));
    let counted = c.get("/scim/v2/acme/Users?count=0").await.expect(200).body;
    assert_eq!(
        (
            counted["totalResults"].clone(),
            counted["Resources"].clone()
        ),
        (json!(5), json!([]))
    );
    let past = c
        .get("/scim/v2/acme/Users?startIndex=99")
        .await
        .expect(200)
        .body;
    assert_eq!(past["Resources"], json!([]));
    assert_eq!(
        capped["Resources"][0]["meta"]["location"],
        json!(format!(
            "https://sso.example.com/scim/v2/acme/Users/{}",
            ids[0]
        ))
    );

    let projected = c
        .get("/scim/v2/acme/Users?attributes=userName&count=1")
        .await
        .expect(200)
        .body;
    assert_eq!(
        projected["Resources"][0],
        json!({"schemas": [USER], "id": ids[0], "userName": "p0@example.com"})
    );
    let one = c
        .get(&format!(
            "/scim/v2/acme/Users/{}?excludedAttributes=meta,active",
            ids[0]
        ))
        .await
        .expect(200)
        .body;
    assert!(one.get("meta").is_none() && one.get("active").is_none());

    let search = c
        .post(
            "/scim/v2/acme/Users/.search",
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "filter": "userName sw \"P3\" or userName ew \"4@example.com\"",
                "attributes": ["userName"]
            }),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(search["totalResults"], json!(2));
    assert_eq!(
        search["Resources"][1],
        json!({"schemas": [USER], "id": ids[4], "userName": "p4@example.com"})
    );

    let mut tight = ScimConfig::new("https://sso.example.com");
    tight.max_candidates = 2;
    let small = Client::with_config(tight);
    for i in 0..3 {
        user(&small, &format!("t{i}@example.com")).await;
    }
    small
        .get("/scim/v2/acme/Users")
        .await
        .expect_error(400, Some("tooMany"));
    let narrowed = small
        .get(&format!(
            "/scim/v2/acme/Users?filter={}",
            enc(r#"userName eq "t1@example.com""#)
        ))
        .await
        .expect(200);
    assert_eq!(narrowed.body["totalResults"], json!(1));
}

#[tokio::test]
async fn discovery_describes_the_service() {
    let c = Client::new();
    let spc = c
        .get("/scim/v2/acme/ServiceProviderConfig")
        .await
        .expect(200)
        .body;
    assert_eq!(spc["patch"]["supported"], json!(true));
    assert_eq!(spc["etag"]["supported"], json!(true));
    assert_eq!(spc["filter"], json!({"supported": true, "maxResults": 200}));
    assert_eq!(spc["bulk"]["supported"], json!(false));
    assert_eq!(spc["sort"]["supported"], json!(false));
    assert_eq!(spc["changePassword"]["supported"], json!(false));
    assert_eq!(
        spc["meta"]["location"],
        json!("https://sso.example.com/scim/v2/acme/ServiceProviderConfig")
    );
    let types = c.get("/scim/v2/acme/ResourceTypes").await.expect(200).body;
    assert_eq!(types["totalResults"], json!(2));
    let user_type = c
        .get("/scim/v2/acme/ResourceTypes/User")
        .await
        .expect(200)
        .body;
    assert_eq!(user_type["endpoint"], json!("/Users"));
    c.get("/scim/v2/acme/ResourceTypes/Printer")
        .await
        .expect_error(404, None);
    let schemas = c.get("/scim/v2/acme/Schemas").await.expect(200).body;
    assert_eq!(schemas["totalResults"], json!(3));
    let user_schema = c
        .get(&format!("/scim/v2/acme/Schemas/{USER}"))
        .await
        .expect(200)
        .body;
    let names: Vec<&str> = user_schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert!(names.contains(&"userName") && names.contains(&"emails"));
    c.get("/scim/v2/acme/Schemas/urn:nothing")
        .await
        .expect_error(404, None);
}

/// A deterministic byte generator, so a failure reproduces.
struct Bytes(u64);

impl Bytes {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn take(&mut self, alphabet: &[u8], max: u64) -> Vec<u8> {
        let len = self.next() % max;
        (0..len)
            .map(|_| alphabet[usize::try_from(self.next()).unwrap() % alphabet.len()])
            .collect()
    }
}

#[tokio::test]
async fn random_filters_and_patch_bodies_never_break_the_server() {
    let c = Client::new();
    let id = user(&c, "f@example.com").await;
    let g = c
        .post("/scim/v2/acme/Groups", json!({"displayName": "F"}))
        .await
        .expect(201);
    let gid = g.body["id"].as_str().unwrap().to_owned();
    let mut rng = Bytes(0xDEAD_BEEF_CAFE_F00D);
    let filter_alphabet: Vec<u8> = (0u8..=255)
        .chain(*b"  \"\"()[].:eqnotandorprcoswgtuserNameemails")
        .collect();
    for _ in 0..1500 {
        let raw = rng.take(&filter_alphabet, 80);
        let encoded: String = raw.iter().map(|b| format!("%{b:02X}")).collect();
        for resource in ["Users", "Groups"] {
            let r = c
                .get(&format!("/scim/v2/acme/{resource}?filter={encoded}"))
                .await;
            assert!(
                r.status == 200 || r.status == 400,
                "{} for {raw:?}",
                r.status
            );
        }
    }
    let json_alphabet = br#"{}[]":,0123456789.-eEtruefalsnl opaddreplaceremovepathvaluemembersemails[type eq "work"]Operations\ "#;
    let user_uri = format!("/scim/v2/acme/Users/{id}");
    let group_uri = format!("/scim/v2/acme/Groups/{gid}");
    for i in 0..1500 {
        let body = if i % 2 == 0 {
            rng.take(json_alphabet, 120)
        } else {
            let mut ops = Vec::new();
            for _ in 0..(rng.next() % 4) {
                let op =
                    ["add", "Replace", "remove", "move"][usize::try_from(rng.next() % 4).unwrap()];
                let path = String::from_utf8_lossy(&rng.take(json_alphabet, 30)).into_owned();
                let value = [
                    json!(null),
                    json!("False"),
                    json!([{"value": id}]),
                    json!({"active": true}),
                    json!(path),
                ][usize::try_from(rng.next() % 5).unwrap()]
                .clone();
                ops.push(json!({"op": op, "path": path, "value": value}));
            }
            patch_op(json!(ops)).to_string().into_bytes()
        };
        for uri in [&user_uri, &group_uri] {
            let r = c.raw(Method::PATCH, uri, body.clone(), &[]).await;
            assert!(
                matches!(r.status.as_u16(), 200 | 400 | 409),
                "{} for {}",
                r.status,
                String::from_utf8_lossy(&body)
            );
        }
    }
    c.get(&user_uri).await.expect(200);
}
