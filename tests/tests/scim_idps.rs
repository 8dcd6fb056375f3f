//! SCIM through the real `sso-server`, on SQLite and PostgreSQL: the request sequences Okta
//! and Entra ID send (lookup by filter, create, update, deactivate, group push, member add and
//! remove, rename, delete), replayed over HTTP with a token from `ssoctl admin scim token`;
//! a deactivated member refused at SSO (`ssoctl login`) and at `CheckPasswordLogin`; a role
//! changed by SCIM group membership on the next login; tokens that open only their own org.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration;

use serde_json::{Value, json};
use sso_grpc::v1;
use system_tests::{RunningServer, ServerOptions};
use tokio::runtime::Handle;

mod common;
use common::ctl::{Ctl, text};
use common::{HttpResponse, try_http_with, wait_until_serving, with_token};

const AUTH_TOKEN: &str = "auth-secret-of-the-scim-test";
const ADMIN_TOKEN: &str = "admin-secret-of-the-scim-test";
const DOMAIN: &str = "acme.example";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The IdP's side: its token and the org's SCIM path on the server's HTTP port.
struct Idp {
    http_port: u16,
    org: String,
    token: String,
    runtime: Handle,
}

impl Idp {
    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        extra: &[(&str, &str)],
    ) -> HttpResponse {
        let bearer = format!("Bearer {}", self.token);
        let mut headers = vec![("Authorization", bearer.as_str())];
        headers.extend_from_slice(extra);
        let body = body.map(Value::to_string).unwrap_or_default();
        let content_type = (!body.is_empty()).then_some("application/scim+json");
        let full = format!("/scim/v2/{}{path}", self.org);
        self.runtime
            .block_on(try_http_with(
                self.http_port,
                method,
                &full,
                content_type,
                &headers,
                body.as_bytes(),
            ))
            .unwrap_or_else(|| panic!("no answer to {method} {full}"))
    }

    /// A call that must answer `status`; its body as JSON (null when empty).
    fn expect(&self, method: &str, path: &str, body: Option<&Value>, status: u16) -> Value {
        let answer = self.call(method, path, body, &[]);
        assert_eq!(answer.status, status, "{method} {path}: {}", answer.raw);
        if answer.body.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&answer.body).unwrap_or_else(|e| panic!("{e}: {}", answer.raw))
        }
    }
}

fn patch(operations: &Value) -> Value {
    json!({ "schemas": [PATCH_OP], "Operations": operations })
}

fn login_refusal(ctl: &Ctl, org: &str, email: &str) -> Value {
    ctl.sign_in_with(org, email, &[], 1)
}

fn role_of(ctl: &Ctl, org: &str, email: &str) -> String {
    let member = ctl.admin(&["members", "get", org, email], 0);
    text(&member, "/member/role").to_owned()
}

async fn run(name: &'static str, database_url: Option<String>) {
    let mut server = RunningServer::start_with(
        name,
        AUTH_TOKEN,
        ADMIN_TOKEN,
        ServerOptions {
            database_url,
            ..ServerOptions::default()
        },
    );
    let channel = wait_until_serving(&mut server).await;
    let runtime = Handle::current();
    tokio::task::spawn_blocking(move || scenario(name, server, &channel, &runtime))
        .await
        .unwrap();
}

fn scenario(
    name: &str,
    mut server: RunningServer,
    channel: &tonic::transport::Channel,
    runtime: &Handle,
) {
    let work = system_tests::fresh_dir(&format!("{name}_work"));
    let ctl = Ctl {
        port: server.grpc_port,
        work: work.clone(),
        admin_token: ADMIN_TOKEN,
        auth_token: AUTH_TOKEN,
        actor: "scim-system-test",
    };
    let org = ctl.org_with_connection("enterprise", DOMAIN, "viewer");
    let created = ctl.admin(
        &["scim", "token", "create", &org, "--description", "Okta"],
        0,
    );
    let base = text(&created, "/scim_base_url");
    assert!(base.ends_with(&format!("/scim/v2/{org}")), "{created}");
    let idp = Idp {
        http_port: server.http_port,
        org: org.clone(),
        token: text(&created, "/secret").to_owned(),
        runtime: runtime.clone(),
    };
    let password_refusal = |email: &str| -> (bool, i32) {
        let mut auth = v1::auth_service_client::AuthServiceClient::new(channel.clone());
        let request = v1::CheckPasswordLoginRequest {
            org_id: org.clone(),
            email: email.to_owned(),
        };
        let answer = runtime
            .block_on(auth.check_password_login(with_token(request, Some(AUTH_TOKEN))))
            .unwrap()
            .into_inner();
        (answer.allowed, answer.reason)
    };

    okta(&ctl, &idp, &password_refusal);
    entra(&ctl, &idp);
    doors(&ctl, &idp, &created);

    server.assert_running();
    let exit = server.stop(Duration::from_secs(10));
    assert!(exit.success(), "{exit}:\n{}", server.log());
    let _ = std::fs::remove_dir_all(&work);
}

/// Okta: lookup, create, read, profile update (PUT), deactivate and reactivate (PATCH without a
/// path), group push with members added and removed and a rename.
fn okta(ctl: &Ctl, idp: &Idp, password: &dyn Fn(&str) -> (bool, i32)) {
    let org = &idp.org;
    let ann = "ann@acme.example";
    let lookup = idp.expect(
        "GET",
        "/Users?filter=userName%20eq%20%22ann%40acme.example%22&startIndex=1&count=100",
        None,
        200,
    );
    assert_eq!(lookup["totalResults"], 0, "{lookup}");
    let body = json!({
        "schemas": [USER],
        "userName": ann,
        "name": { "givenName": "Ann", "familyName": "Lee" },
        "emails": [{ "primary": true, "value": ann, "type": "work" }],
        "displayName": "Ann Lee",
        "locale": "en-US",
        "externalId": "00u1ann",
        "groups": [],
        "password": "not-stored-here",
        "active": true,
    });
    let user = idp.expect("POST", "/Users", Some(&body), 201);
    let id = text(&user, "/id").to_owned();
    assert_eq!(user["meta"]["version"], "W/\"1\"", "{user}");
    assert!(
        user.get("password").is_none(),
        "a password is never returned: {user}"
    );
    let read = idp.expect("GET", &format!("/Users/{id}"), None, 200);
    assert_eq!(read["userName"], ann);

    // Provisioned before any login: the member exists, SCIM-managed, and signs in.
    let member = ctl.admin(&["members", "get", org, ann], 0);
    assert_eq!(
        member["member"]["created_by"], "CREATED_BY_SCIM",
        "{member}"
    );
    let signed_in = ctl.sign_in_with(org, ann, &[], 0);
    assert_eq!(
        signed_in["login"]["membership_created"], false,
        "{signed_in}"
    );

    let mut update = body;
    update["name"]["familyName"] = json!("Lee-Smith");
    update["id"] = json!(id);
    let updated = idp.expect("PUT", &format!("/Users/{id}"), Some(&update), 200);
    assert_eq!(updated["name"]["familyName"], "Lee-Smith", "{updated}");

    let off = patch(&json!([{ "op": "replace", "value": { "active": false } }]));
    let off = idp.expect("PATCH", &format!("/Users/{id}"), Some(&off), 200);
    assert_eq!(off["active"], false, "{off}");
    let refused = login_refusal(ctl, org, ann);
    assert_eq!(refused["reason"], "REASON_MEMBER_DEACTIVATED", "{refused}");
    let (allowed, reason) = password(ann);
    assert!(!allowed);
    assert_eq!(reason, v1::Reason::MemberDeactivated as i32);
    let listed = ctl.admin(&["members", "get", org, ann], 0);
    assert!(listed["member"]["deactivated_at"].is_string(), "{listed}");

    // Group push.
    let group = json!({ "schemas": [GROUP], "displayName": "Engineering", "members": [] });
    let group = idp.expect("POST", "/Groups", Some(&group), 201);
    let gid = text(&group, "/id").to_owned();
    let add = patch(
        &json!([{ "op": "add", "path": "members", "value": [{ "value": id, "display": ann }] }]),
    );
    let added = idp.expect("PATCH", &format!("/Groups/{gid}"), Some(&add), 200);
    assert_eq!(added["members"][0]["value"], json!(id), "{added}");
    let rename = patch(&json!([{ "op": "replace", "value": { "id": gid, "displayName": "Eng" } }]));
    let renamed = idp.expect("PATCH", &format!("/Groups/{gid}"), Some(&rename), 200);
    assert_eq!(renamed["displayName"], "Eng", "{renamed}");
    let remove = patch(&json!([{ "op": "remove", "path": format!("members[value eq \"{id}\"]") }]));
    let removed = idp.expect("PATCH", &format!("/Groups/{gid}"), Some(&remove), 200);
    assert!(
        removed["members"].as_array().is_none_or(Vec::is_empty),
        "{removed}"
    );

    // Reactivated: the same member, the same role.
    let on = patch(&json!([{ "op": "replace", "value": { "active": true } }]));
    idp.expect("PATCH", &format!("/Users/{id}"), Some(&on), 200);
    let back = ctl.sign_in_with(org, ann, &[], 0);
    assert_eq!(back["login"]["role"], "ROLE_VIEWER", "{back}");
    assert!(password(ann).0);
}

/// Entra ID: filter lookups, create with the enterprise extension, PATCH with capitalized ops,
/// value paths and "False", groups looked up without members, member Add and Remove, delete.
fn entra(ctl: &Ctl, idp: &Idp) {
    let org = &idp.org;
    let bob = "bob@acme.example";
    ctl.admin(
        &[
            "connection",
            "group-rules",
            "set",
            org,
            "--rule",
            "admin=Admins",
            "--rule",
            "member=Staff",
            "--every-login",
        ],
        0,
    );
    // Another Admin, so that Bob can be demoted from Admin later.
    ctl.sign_in_with(org, "root@acme.example", &[], 0);
    ctl.admin(
        &["members", "set-role", org, "root@acme.example", "admin"],
        0,
    );

    let lookup = idp.expect(
        "GET",
        "/Users?filter=userName+eq+%22bob%40acme.example%22",
        None,
        200,
    );
    assert_eq!(lookup["totalResults"], 0, "{lookup}");
    let body = json!({
        "schemas": [USER, ENTERPRISE],
        "externalId": "9c1f-bob",
        "userName": bob,
        "active": true,
        "displayName": "Bob",
        "emails": [{ "primary": true, "type": "work", "value": bob }],
        "meta": { "resourceType": "User" },
        "name": { "formatted": "Bob Brown", "familyName": "Brown", "givenName": "Bob" },
        ENTERPRISE: { "department": "Engineering" },
    });
    let user = idp.expect("POST", "/Users", Some(&body), 201);
    let id = text(&user, "/id").to_owned();
    assert_eq!(user[ENTERPRISE]["department"], "Engineering", "{user}");
    let again = idp.call("POST", "/Users", Some(&body), &[]);
    assert_eq!(again.status, 409, "{}", again.raw);

    let change = patch(&json!([
        { "op": "Replace", "path": "displayName", "value": "Bobby" },
        { "op": "Replace", "path": "emails[type eq \"work\"].value", "value": bob },
        { "op": "Add", "path": "name.givenName", "value": "Robert" },
    ]));
    let changed = idp.expect("PATCH", &format!("/Users/{id}"), Some(&change), 200);
    assert_eq!(changed["displayName"], "Bobby", "{changed}");
    assert_eq!(changed["name"]["givenName"], "Robert", "{changed}");

    let groups = idp.expect(
        "GET",
        "/Groups?excludedAttributes=members&filter=displayName+eq+%22Admins%22",
        None,
        200,
    );
    assert_eq!(groups["totalResults"], 0, "{groups}");
    let admins = json!({ "schemas": [GROUP], "externalId": "g-admins", "displayName": "Admins", "members": [] });
    let admins = idp.expect("POST", "/Groups", Some(&admins), 201);
    let gid = text(&admins, "/id").to_owned();
    let add = patch(&json!([{ "op": "Add", "path": "members", "value": [{ "value": id }] }]));
    idp.expect("PATCH", &format!("/Groups/{gid}"), Some(&add), 200);

    // The role follows the directory's group on the next login.
    let first = ctl.sign_in_with(org, bob, &[], 0);
    assert_eq!(first["login"]["role"], "ROLE_ADMIN", "{first}");
    let remove = patch(&json!([{ "op": "Remove", "path": "members", "value": [{ "value": id }] }]));
    idp.expect("PATCH", &format!("/Groups/{gid}"), Some(&remove), 200);
    let staff = json!({ "schemas": [GROUP], "displayName": "Staff", "members": [{ "value": id }] });
    idp.expect("POST", "/Groups", Some(&staff), 201);
    let next = ctl.sign_in_with(org, bob, &[], 0);
    assert_eq!(next["login"]["role"], "ROLE_MEMBER", "{next}");
    assert_eq!(role_of(ctl, org, bob), "ROLE_MEMBER");

    let off = patch(&json!([{ "op": "Replace", "path": "active", "value": "False" }]));
    let off = idp.expect("PATCH", &format!("/Users/{id}"), Some(&off), 200);
    assert_eq!(off["active"], false, "{off}");
    let refused = login_refusal(ctl, org, bob);
    assert_eq!(refused["reason"], "REASON_MEMBER_DEACTIVATED", "{refused}");

    idp.expect("DELETE", &format!("/Users/{id}"), None, 204);
    idp.expect("GET", &format!("/Users/{id}"), None, 404);
    let gone = ctl.admin(&["members", "get", org, bob], 1);
    assert_eq!(gone["reason"], "REASON_NOT_FOUND", "{gone}");
}

/// Tokens open their own org's endpoint only, and not after revocation; versions guard
/// concurrent writers.
fn doors(ctl: &Ctl, idp: &Idp, created: &Value) {
    let org = &idp.org;
    let config = idp.expect("GET", "/ServiceProviderConfig", None, 200);
    assert_eq!(config["patch"]["supported"], true, "{config}");
    let with = |token: &str, org: &str| Idp {
        http_port: idp.http_port,
        org: org.to_owned(),
        token: token.to_owned(),
        runtime: idp.runtime.clone(),
    };
    for refused in [
        with("sso_scim_1_wrong", org),
        with(ADMIN_TOKEN, org),
        with(&idp.token, "999999"),
    ] {
        let answer = refused.call("GET", "/Users", None, &[]);
        assert_eq!(answer.status, 401, "{}", answer.raw);
    }
    let other = ctl.admin(&["org", "create", "--name", "Other", "--plan", "growth"], 0);
    let other = text(&other, "/org/id").to_owned();
    assert_eq!(
        with(&idp.token, &other)
            .call("GET", "/Users", None, &[])
            .status,
        401
    );

    // If-Match with a stale version: 412, nothing changes.
    let cy = json!({ "schemas": [USER], "userName": "cy@acme.example", "active": true });
    let user = idp.expect("POST", "/Users", Some(&cy), 201);
    let id = text(&user, "/id").to_owned();
    let off = patch(&json!([{ "op": "replace", "path": "active", "value": false }]));
    let stale = idp.call(
        "PATCH",
        &format!("/Users/{id}"),
        Some(&off),
        &[("If-Match", "W/\"7\"")],
    );
    assert_eq!(stale.status, 412, "{}", stale.raw);
    assert_eq!(
        idp.expect("GET", &format!("/Users/{id}"), None, 200)["active"],
        true
    );

    let token_id = text(created, "/token/id");
    ctl.admin(&["scim", "token", "revoke", org, token_id], 0);
    assert_eq!(idp.call("GET", "/Users", None, &[]).status, 401);
    let listed = ctl.admin(&["scim", "token", "list", org], 0);
    assert!(listed["tokens"][0]["revoked_at"].is_string(), "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_idps_on_sqlite() {
    run("scim_idps_sqlite", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_idps_on_postgres() {
    sso_testkit::on_postgres("system", "scim_idps", |db| async move {
        run("scim_idps_postgres", Some(db.url)).await;
    })
    .await;
}
