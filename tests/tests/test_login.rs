//! "Test the connection before relying on it", through the real `sso-server` and `ssoctl`
//! binaries, with responses signed by xmlsec1 (an independent implementation):
//!
//! an org requires SSO; its IdP metadata is replaced by one with the wrong certificate, which
//! suspends the requirement (a member may use a password again); a test login with the wrong
//! certificate fails and leaves it suspended; the right metadata is imported; a test login
//! through the HTTP ACS endpoint succeeds, shows its result page, signs nobody in and
//! provisions nobody; and the requirement applies again. A test response handed to
//! `CompleteSsoLogin` is never a sign-in.
//!
//! Runs on SQLite, and on PostgreSQL when `SSO_TEST_DATABASE_URL` is set (it fails when that
//! is set and the server is down; without it, it says NOT RUN).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use sso_grpc::reason_of;
use sso_grpc::v1::admin_service_client::AdminServiceClient;
use sso_grpc::v1::auth_service_client::AuthServiceClient;
use sso_grpc::v1::{self, Plan, Reason, Role};
use sso_store::OrgId;
use sso_testkit::idp::{BASE_URL, Idp, Response};
use system_tests::{RunningServer, ServerOptions};
use time::OffsetDateTime;
use tonic::Code;
use tonic::transport::Channel;

mod common;
use common::{
    HttpResponse, OrgSetup, post_form, query_param, set_up_org, wait_until_serving, with_token,
};

const AUTH: &str = "auth-token-of-the-test-login-test";
const ADMIN: &str = "admin-token-of-the-test-login-test";
const DOMAIN: &str = "acme.example";

struct Setup {
    auth: AuthServiceClient<Channel>,
    admin: AdminServiceClient<Channel>,
    grpc_port: u16,
    http_port: u16,
    org: String,
    idp: Idp,
    dir: PathBuf,
}

/// `ssoctl admin --server ... --token ... ARGS`, with no admin environment inherited; the one
/// JSON object it prints, after checking the exit code.
fn ssoctl_admin(grpc_port: u16, args: &[&str], code: i32) -> Value {
    let output: Output = Command::new(system_tests::binary("ssoctl"))
        .env_remove("SSO_SERVER")
        .env_remove("SSO_ADMIN_TOKEN")
        .env_remove("SSO_ACTOR")
        .args([
            "admin",
            "--server",
            &format!("http://127.0.0.1:{grpc_port}"),
        ])
        .args(["--token", ADMIN, "--actor", "it-admin@acme.example"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("ssoctl runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(code),
        "ssoctl {args:?}\nstdout: {stdout}\nstderr: {stderr}"
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// The IdP's response for `email` to request `request`, signed by xmlsec1 with `idp`'s key.
fn signed_response(idp: &Idp, org: &str, request: &str, email: &str, n: u32) -> String {
    let org = OrgId::new(org.parse().unwrap());
    let response = Response::new(
        org,
        &format!("_tl{n}_{request}"),
        email,
        OffsetDateTime::now_utc(),
    )
    .answering(request);
    String::from_utf8(idp.response_signed_by_xmlsec1(&response)).unwrap()
}

async fn password(s: &mut Setup, email: &str) -> (bool, Reason, bool) {
    let answer = s
        .auth
        .check_password_login(with_token(
            v1::CheckPasswordLoginRequest {
                email: email.into(),
                org_id: s.org.clone(),
            },
            Some(AUTH),
        ))
        .await
        .unwrap()
        .into_inner();
    (answer.allowed, answer.reason(), answer.member)
}

/// Writes `idp`'s metadata to a file and imports it with `ssoctl admin connection import`.
fn import_metadata(s: &Setup, idp: &Idp, name: &str) -> Value {
    let file = s.dir.join(name);
    std::fs::write(&file, idp.metadata()).unwrap();
    ssoctl_admin(
        s.grpc_port,
        &[
            "connection",
            "import",
            &s.org,
            "--metadata",
            file.to_str().unwrap(),
        ],
        0,
    )
}

/// `ssoctl admin test-login begin`: the test login's id and the RelayState in its IdP URL.
fn begin_test(s: &Setup) -> (String, String) {
    let started = ssoctl_admin(s.grpc_port, &["test-login", "begin", &s.org], 0);
    let test = &started["test_login"];
    let url = test["redirect_url"].as_str().unwrap();
    assert!(url.starts_with(sso_testkit::idp::IDP_SSO_URL), "{started}");
    assert!(url.contains("SAMLRequest="), "{started}");
    assert_eq!(test["org_id"], s.org.as_str(), "{started}");
    assert!(test["expires_at"].is_string(), "{started}");
    let id = test["id"].as_str().unwrap().to_owned();
    (id, query_param(url, "RelayState").unwrap())
}

fn get_test(s: &Setup, id: &str) -> Value {
    ssoctl_admin(s.grpc_port, &["test-login", "get", &s.org, id], 0)["test_login"].clone()
}

async fn post_acs(s: &Setup, saml_response: &str, relay_state: &str) -> HttpResponse {
    post_form(
        s.http_port,
        &format!("/saml/2/acs/{}", s.org),
        &[("SAMLResponse", saml_response), ("RelayState", relay_state)],
    )
    .await
}

/// A result page of the ACS endpoint for a test: no redirect, no code, not cached.
fn assert_test_page(page: &HttpResponse, status: u16, title: &str, test: &str) {
    assert_eq!(page.status, status, "{}", page.raw);
    assert_eq!(page.header("location"), None, "{}", page.raw);
    assert_eq!(
        page.header("cache-control"),
        Some("no-store"),
        "{}",
        page.raw
    );
    assert!(page.body.contains(title), "{}", page.body);
    assert!(page.body.contains(test), "{}", page.body);
    assert!(page.body.contains("Nobody was signed in"), "{}", page.body);
    assert!(!page.body.contains("code="), "{}", page.body);
    // The checks' JSON details are on the page, escaped.
    assert!(
        page.body.contains("{&quot;connection_enabled&quot;:true}"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("\"connection_enabled\""),
        "{}",
        page.body
    );
}

async fn test_login(name: &str, database_url: Option<String>) {
    let idp = Idp::generate("test-login IdP");
    let mut server = RunningServer::start_with(
        name,
        AUTH,
        ADMIN,
        ServerOptions {
            database_url,
            public_base_url: Some(BASE_URL.to_owned()),
            ..ServerOptions::default()
        },
    );
    let channel = wait_until_serving(&mut server).await;
    let (org, _) = set_up_org(
        channel.clone(),
        ADMIN,
        OrgSetup {
            name: "Acme",
            plan: Plan::Growth,
            domain: DOMAIN,
            metadata_xml: String::from_utf8(idp.metadata()).unwrap(),
            jit_role: Role::Member,
        },
    )
    .await;
    let mut s = Setup {
        auth: AuthServiceClient::new(channel.clone()),
        admin: AdminServiceClient::new(channel),
        grpc_port: server.grpc_port,
        http_port: server.http_port,
        org,
        idp,
        dir: server.dir().to_path_buf(),
    };

    require_sso_after_a_login(&mut s).await;
    wrong_certificate(&mut s).await;
    right_certificate(&mut s).await;
    never_a_sign_in(&mut s).await;
    traced(&mut s).await;

    server.assert_running();
    drop(s);
    let exit = tokio::task::block_in_place(|| server.stop(Duration::from_secs(10)));
    assert!(exit.success(), "{exit}:\n{}", server.log());
}

/// Alice signs in once (the configuration is proven, she is a member); require SSO goes on
/// and applies to her.
async fn require_sso_after_a_login(s: &mut Setup) {
    let alice = format!("alice@{DOMAIN}");
    let start = s
        .auth
        .begin_sso_login(with_token(
            v1::BeginSsoLoginRequest {
                target: Some(v1::begin_sso_login_request::Target::OrgId(s.org.clone())),
                return_target: String::new(),
            },
            Some(AUTH),
        ))
        .await
        .unwrap()
        .into_inner();
    let response = signed_response(&s.idp, &s.org, &start.request_id, &alice, 1);
    let login = s
        .auth
        .complete_sso_login(with_token(
            v1::CompleteSsoLoginRequest {
                org_id: s.org.clone(),
                saml_response: response,
                relay_state: start.relay_state,
            },
            Some(AUTH),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(login.membership_created);
    let on = ssoctl_admin(s.grpc_port, &["require-sso", &s.org, "on"], 0);
    assert_eq!(on["org"]["require_sso"], true, "{on}");
    assert_eq!(
        password(s, &alice).await,
        (false, Reason::SsoRequired, true)
    );
}

/// Metadata with the wrong certificate: the requirement is suspended (untried
/// configuration); a test login fails at `response-valid`, proves nothing, and leaves it so.
async fn wrong_certificate(s: &mut Setup) {
    let alice = format!("alice@{DOMAIN}");
    let impostor = Idp::generate("not the IdP's key");
    let imported = import_metadata(s, &impostor, "wrong-idp.xml");
    assert_eq!(imported["connection"]["config_version"], 2, "{imported}");
    assert_eq!(password(s, &alice).await, (true, Reason::Unspecified, true));

    let (id, relay) = begin_test(s);
    let pending = get_test(s, &id);
    assert_eq!(pending["state"], "TEST_LOGIN_STATE_PENDING", "{pending}");
    assert_eq!(pending["started_by"], "it-admin@acme.example", "{pending}");
    let response = signed_response(&s.idp, &s.org, &id, &alice, 2);
    let page = post_acs(s, &response, &relay).await;
    assert_test_page(&page, 403, "SSO test login failed", &id);

    let test = get_test(s, &id);
    assert_eq!(test["state"], "TEST_LOGIN_STATE_FAILED", "{test}");
    assert_eq!(test["proved_configuration"], false, "{test}");
    assert_eq!(test["config_version"], 2, "{test}");
    assert!(test["message"].is_string(), "{test}");
    let checks = test["checks"].as_array().unwrap();
    let failed: Vec<&Value> = checks.iter().filter(|c| c["passed"] == false).collect();
    assert_eq!(failed.len(), 1, "{test}");
    assert_eq!(failed[0]["name"], "response-valid", "{test}");
    assert_eq!(test["reason_code"], failed[0]["reason_code"], "{test}");
    assert_eq!(test["jit"], Value::Null, "{test}");
    assert_eq!(password(s, &alice).await, (true, Reason::Unspecified, true));
}

/// The right metadata: still suspended until it works; a test login through the ACS endpoint
/// succeeds, provisions nobody, previews JIT, and makes the requirement apply again.
async fn right_certificate(s: &mut Setup) {
    let alice = format!("alice@{DOMAIN}");
    let bob = format!("bob@{DOMAIN}");
    let imported = import_metadata(s, &s.idp, "right-idp.xml");
    assert_eq!(imported["connection"]["config_version"], 3, "{imported}");
    assert_eq!(password(s, &alice).await, (true, Reason::Unspecified, true));
    assert_eq!(password(s, &bob).await, (true, Reason::Unspecified, false));

    let (id, relay) = begin_test(s);
    let response = signed_response(&s.idp, &s.org, &id, &bob, 3);
    let page = post_acs(s, &response, &relay).await;
    assert_test_page(&page, 200, "SSO test login completed", &id);
    assert!(page.body.contains("succeeded"), "{}", page.body);
    assert!(page.body.contains(&bob), "{}", page.body);

    let test = get_test(s, &id);
    assert_eq!(test["state"], "TEST_LOGIN_STATE_SUCCEEDED", "{test}");
    assert_eq!(test["proved_configuration"], true, "{test}");
    assert_eq!(test["config_version"], 3, "{test}");
    assert_eq!(test["connection_enabled"], true, "{test}");
    assert_eq!(test["email"], bob.as_str(), "{test}");
    assert_eq!(test["email_source"], "name-id", "{test}");
    assert_eq!(test["reason"], Value::Null, "{test}");
    assert_eq!(test["jit"]["decision"], "jit-new-member", "{test}");
    assert_eq!(test["jit"]["role"], "ROLE_MEMBER", "{test}");
    assert_eq!(test["jit"]["user_exists"], false, "{test}");
    assert!(
        test["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["passed"] == true),
        "{test}"
    );

    // Nobody was provisioned: bob is still unknown to the service.
    assert_eq!(password(s, &bob).await, (false, Reason::SsoRequired, false));
    // The requirement applies again, to members and to the verified domain.
    assert_eq!(
        password(s, &alice).await,
        (false, Reason::SsoRequired, true)
    );

    // The same response posted again: replayed, and still a test page, not a sign-in.
    let replay = post_acs(s, &response, &relay).await;
    assert_eq!(replay.status, 403, "{}", replay.raw);
    assert_eq!(replay.header("location"), None, "{}", replay.raw);
    assert!(replay.body.contains("replayed"), "{}", replay.body);
    assert_eq!(get_test(s, &id)["state"], "TEST_LOGIN_STATE_SUCCEEDED");
}

/// A test response handed to `CompleteSsoLogin` is an error saying it was a test, without a
/// user; the test records its result.
async fn never_a_sign_in(s: &mut Setup) {
    let carol = format!("carol@{DOMAIN}");
    let (id, relay) = begin_test(s);
    let response = signed_response(&s.idp, &s.org, &id, &carol, 4);
    let refused = s
        .auth
        .complete_sso_login(with_token(
            v1::CompleteSsoLoginRequest {
                org_id: s.org.clone(),
                saml_response: response,
                relay_state: relay,
            },
            Some(AUTH),
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert_eq!(reason_of(&refused), Some(Reason::TestLoginCompleted));
    assert!(refused.message().contains(&id), "{}", refused.message());
    assert!(
        refused.message().contains("GetTestLogin"),
        "{}",
        refused.message()
    );
    let test = get_test(s, &id);
    assert_eq!(test["state"], "TEST_LOGIN_STATE_SUCCEEDED", "{test}");
    assert_eq!(test["email"], carol.as_str(), "{test}");
    assert!(!password(s, &carol).await.2, "carol is not a member");

    let unknown = ssoctl_admin(s.grpc_port, &["test-login", "get", &s.org, "_nope"], 1);
    assert_eq!(unknown["reason"], "REASON_NOT_FOUND", "{unknown}");
}

/// Every test left its trace, with its own kind.
async fn traced(s: &mut Setup) {
    let traces = s
        .admin
        .list_login_traces(with_token(
            v1::ListLoginTracesRequest {
                org_id: s.org.clone(),
                page_size: 200,
                page_token: String::new(),
            },
            Some(ADMIN),
        ))
        .await
        .unwrap()
        .into_inner()
        .traces;
    let tests: Vec<(&str, &str)> = traces
        .iter()
        .filter(|t| t.kind == "sso-test-login")
        .map(|t| (t.outcome.as_str(), t.reason_code.as_str()))
        .collect();
    assert_eq!(tests.len(), 4, "{tests:?}");
    assert!(
        tests.contains(&("success", "test-login-succeeded")),
        "{tests:?}"
    );
    assert!(tests.contains(&("refused", "replayed")), "{tests:?}");
    let starts = traces
        .iter()
        .filter(|t| t.kind == "sso-test-login-start")
        .count();
    assert_eq!(starts, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn testing_the_connection_before_relying_on_it_on_sqlite() {
    test_login("test_login_sqlite", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn testing_the_connection_before_relying_on_it_on_postgres() {
    sso_testkit::on_postgres("system", "test_login", |db| async move {
        test_login("test_login_postgres", Some(db.url)).await;
    })
    .await;
}
