//! The whole product through the real `sso-server` binary, driven only as a calling service
//! and a browser would: gRPC with the generated clients, and HTTP form posts to the ACS
//! endpoint. The IdP's responses are signed by xmlsec1, an independent implementation.
//!
//! Runs on SQLite, and on PostgreSQL when `SSO_TEST_DATABASE_URL` is set (it fails when that
//! is set and the server is down; without it, it says NOT RUN). Also on PostgreSQL: two
//! servers on one database given the same response, and a server killed mid-load.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration;

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

const AUTH: &str = "auth-token-of-the-login-flow-test";
const ADMIN: &str = "admin-token-of-the-login-flow-test";
const APP: &str = "https://app.example.test";
const DOMAIN: &str = "acme.example";

struct Clients {
    auth: AuthServiceClient<Channel>,
    admin: AdminServiceClient<Channel>,
}

impl Clients {
    fn new(channel: Channel) -> Self {
        Clients {
            auth: AuthServiceClient::new(channel.clone()),
            admin: AdminServiceClient::new(channel),
        }
    }
}

fn options(database_url: Option<String>) -> ServerOptions {
    ServerOptions {
        database_url,
        public_base_url: Some(BASE_URL.to_owned()),
        args: vec![
            "--default-return-url".into(),
            format!("{APP}/sso/callback"),
            "--return-origin".into(),
            APP.into(),
        ],
        ..ServerOptions::default()
    }
}

/// BeginSsoLogin by email; returns (request id, relay state).
async fn begin(c: &mut Clients, email: &str, return_target: &str) -> (String, String) {
    let start = c
        .auth
        .begin_sso_login(with_token(
            v1::BeginSsoLoginRequest {
                target: Some(v1::begin_sso_login_request::Target::Email(email.into())),
                return_target: return_target.into(),
            },
            Some(AUTH),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        start
            .redirect_url
            .starts_with(sso_testkit::idp::IDP_SSO_URL),
        "{}",
        start.redirect_url
    );
    assert!(start.redirect_url.contains("SAMLRequest="));
    (start.request_id, start.relay_state)
}

fn signed_response(idp: &Idp, org: &str, request: &str, email: &str, n: u32) -> String {
    let org = OrgId::new(org.parse().unwrap());
    let response = Response::new(
        org,
        &format!("_a{n}_{request}"),
        email,
        OffsetDateTime::now_utc(),
    )
    .answering(request);
    String::from_utf8(idp.response_signed_by_xmlsec1(&response)).unwrap()
}

async fn post_acs(port: u16, org: &str, saml_response: &str, relay_state: &str) -> HttpResponse {
    post_form(
        port,
        &format!("/saml/2/acs/{org}"),
        &[("SAMLResponse", saml_response), ("RelayState", relay_state)],
    )
    .await
}

/// The code in a 303 to the return target.
fn code_of(answer: &HttpResponse, target: &str) -> String {
    assert_eq!(answer.status, 303, "{}", answer.raw);
    let location = answer.header("location").unwrap();
    assert!(location.starts_with(target), "{location}");
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    query_param(location, "code").unwrap_or_else(|| panic!("no code in {location}"))
}

async fn password_allowed(c: &mut Clients, org: &str, email: &str) -> (bool, Reason) {
    let answer = c
        .auth
        .check_password_login(with_token(
            v1::CheckPasswordLoginRequest {
                email: email.into(),
                org_id: org.into(),
            },
            Some(AUTH),
        ))
        .await
        .unwrap()
        .into_inner();
    (answer.allowed, answer.reason())
}

async fn redeem(
    c: &mut Clients,
    code: &str,
) -> Result<v1::CompleteSsoLoginResponse, tonic::Status> {
    c.auth
        .redeem_login_code(with_token(
            v1::RedeemLoginCodeRequest { code: code.into() },
            Some(AUTH),
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn login_flow(name: &str, database_url: Option<String>) {
    let idp = Idp::generate("login-flow IdP");
    let mut server = RunningServer::start_with(name, AUTH, ADMIN, options(database_url));
    let port = server.http_port;
    let channel = wait_until_serving(&mut server).await;
    let mut c = Clients::new(channel.clone());
    let (org, acs_url) = set_up_org(
        channel,
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
    assert_eq!(acs_url, format!("{BASE_URL}/saml/2/acs/{org}"));
    let alice = format!("alice@{DOMAIN}");

    // Not a member yet, and the org does not require SSO: password login is the host
    // product's business.
    assert_eq!(
        password_allowed(&mut c, &org, &alice).await,
        (true, Reason::Unspecified)
    );

    first_login_and_its_code(&mut c, &idp, port, &org, &alice).await;
    second_login_of_a_member(&mut c, &idp, port, &org, &alice).await;
    oversized_grpc_input(&mut c, &org).await;
    password_login_follows_the_rules(&mut c, &org, &alice).await;
    acs_refusals(&idp, port, &org, &alice).await;
    foreign_return_target_refused(&mut c, &org).await;
    traces_show_it_all(&mut c, &org).await;

    server.assert_running();
    // Stopping waits for the exit on this thread: let the runtime's other tasks (the gRPC
    // connection answering the server's GOAWAY) run meanwhile.
    drop(c);
    let exit = tokio::task::block_in_place(|| server.stop(Duration::from_secs(10)));
    assert!(exit.success(), "{exit}:\n{}", server.log());
}

/// SP-initiated login with a return path; the browser posts the response to the ACS.
async fn first_login_and_its_code(c: &mut Clients, idp: &Idp, port: u16, org: &str, alice: &str) {
    let (request, relay) = begin(c, alice, "/reports/7?tab=sso").await;
    let response = signed_response(idp, org, &request, alice, 1);
    let answer = post_acs(port, org, &response, &relay).await;
    let code = code_of(&answer, &format!("{APP}/reports/7?tab=sso&code="));

    // The calling service redeems the code: the JIT member, once.
    let login = redeem(c, &code).await.unwrap();
    assert_eq!(login.user.as_ref().unwrap().email, alice);
    assert_eq!(login.org_id, org);
    assert_eq!(login.role(), Role::Member);
    assert!(login.membership_created);
    assert_eq!(login.return_target, "/reports/7?tab=sso");
    assert!(!login.session_not_on_or_after.is_empty());
    let again = redeem(c, &code).await.unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");
    assert_eq!(reason_of(&again), Some(Reason::LoginCodeUsed));
    let forged = redeem(c, "not-a-code-anyone-was-given").await.unwrap_err();
    assert_eq!(forged.code(), Code::NotFound, "{forged:?}");
    assert_eq!(reason_of(&forged), Some(Reason::LoginCodeUnknown));

    // The same response posted again: replayed, told to the return target.
    let replay = post_acs(port, org, &response, &relay).await;
    assert_eq!(replay.status, 303, "{}", replay.raw);
    let location = replay.header("location").unwrap();
    assert_eq!(
        query_param(location, "error").as_deref(),
        Some("replayed"),
        "{location}"
    );
    assert_eq!(query_param(location, "code"), None);
}

/// A second login of the same person: an existing member now.
async fn second_login_of_a_member(c: &mut Clients, idp: &Idp, port: u16, org: &str, alice: &str) {
    let (request, relay) = begin(c, alice, "").await;
    let response = signed_response(idp, org, &request, alice, 2);
    let code = code_of(
        &post_acs(port, org, &response, &relay).await,
        &format!("{APP}/sso/callback?code="),
    );
    let login = redeem(c, &code).await.unwrap();
    assert!(!login.membership_created);
    assert_eq!(login.return_target, "");
}

/// Oversized gRPC input: past the validator's 1 MiB a typed refusal, past the transport's
/// 4 MiB message limit the transport's own OUT_OF_RANGE; the server serves on.
async fn oversized_grpc_input(c: &mut Clients, org: &str) {
    for (size, code, reason) in [
        (
            2 << 20,
            Code::PermissionDenied,
            Some(Reason::ResponseTooLarge),
        ),
        (5 << 20, Code::OutOfRange, None),
    ] {
        let refused = c
            .auth
            .complete_sso_login(with_token(
                v1::CompleteSsoLoginRequest {
                    org_id: org.to_owned(),
                    saml_response: "A".repeat(size),
                    relay_state: String::new(),
                },
                Some(AUTH),
            ))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), code, "{size} bytes: {refused:?}");
        assert_eq!(reason_of(&refused), reason, "{size} bytes");
    }
}

/// Password login: allowed; refused once SSO is required; allowed again on a plan
/// without SSO (a downgrade never locks anyone out).
async fn password_login_follows_the_rules(c: &mut Clients, org: &str, alice: &str) {
    assert_eq!(
        password_allowed(c, org, alice).await,
        (true, Reason::Unspecified)
    );
    c.admin
        .set_require_sso(with_token(
            v1::SetRequireSsoRequest {
                org_id: org.to_owned(),
                require_sso: true,
            },
            Some(ADMIN),
        ))
        .await
        .unwrap();
    assert_eq!(
        password_allowed(c, org, alice).await,
        (false, Reason::SsoRequired)
    );
    // A newcomer at the org's verified domain is covered too; a guest from elsewhere is not.
    assert_eq!(
        password_allowed(c, org, &format!("newcomer@{DOMAIN}")).await,
        (false, Reason::SsoRequired)
    );
    assert_eq!(
        password_allowed(c, org, "guest@elsewhere.example").await,
        (true, Reason::Unspecified)
    );
    c.admin
        .set_plan(with_token(
            v1::SetPlanRequest {
                org_id: org.to_owned(),
                plan: Plan::Plus.into(),
            },
            Some(ADMIN),
        ))
        .await
        .unwrap();
    assert_eq!(
        password_allowed(c, org, alice).await,
        (true, Reason::Unspecified)
    );
}

/// With SSO off for the plan, the ACS refuses; without a RelayState there is no return
/// target, so the browser gets a page with the reason.
async fn acs_refusals(idp: &Idp, port: u16, org: &str, alice: &str) {
    let response = signed_response(idp, org, "_unsolicited", alice, 3);
    let refused = post_acs(port, org, &response, "").await;
    assert_eq!(refused.status, 403, "{}", refused.raw);
    assert!(refused.body.contains("plan-without-sso"), "{}", refused.raw);

    // Hostile and broken posts get clear answers, not a crash.
    let garbage = post_acs(port, org, "%%% not base64 %%%", "").await;
    assert_eq!(garbage.status, 403, "{}", garbage.raw);
    let no_field = post_form(port, &format!("/saml/2/acs/{org}"), &[("RelayState", "x")]).await;
    assert!((400..500).contains(&no_field.status), "{}", no_field.raw);
    let big = "A".repeat(3 * 1024 * 1024);
    let oversized = post_acs(port, org, &big, "").await;
    assert_eq!(oversized.status, 413, "{}", oversized.raw);
    let unknown_org = post_acs(port, "987654321", &response, "").await;
    assert_eq!(unknown_org.status, 404, "{}", unknown_org.raw);
}

/// A return target on another origin is refused at the start.
async fn foreign_return_target_refused(c: &mut Clients, org: &str) {
    let refused = c
        .auth
        .begin_sso_login(with_token(
            v1::BeginSsoLoginRequest {
                target: Some(v1::begin_sso_login_request::Target::OrgId(org.to_owned())),
                return_target: "https://evil.example/steal".into(),
            },
            Some(AUTH),
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert_eq!(reason_of(&refused), Some(Reason::ReturnTargetNotAllowed));
}

/// The admin sees it all in the traces.
async fn traces_show_it_all(c: &mut Clients, org: &str) {
    let traces = c
        .admin
        .list_login_traces(with_token(
            v1::ListLoginTracesRequest {
                org_id: org.to_owned(),
                page_size: 100,
                page_token: String::new(),
            },
            Some(ADMIN),
        ))
        .await
        .unwrap()
        .into_inner()
        .traces;
    let codes: Vec<&str> = traces.iter().map(|t| t.reason_code.as_str()).collect();
    for expected in [
        "signed-in",
        "replayed",
        "plan-without-sso",
        "login-code-used",
    ] {
        assert!(codes.contains(&expected), "{expected} not in {codes:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_from_begin_to_redeemed_code_on_sqlite() {
    login_flow("login_flow_sqlite", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_from_begin_to_redeemed_code_on_postgres() {
    sso_testkit::on_postgres("system", "login_flow", |db| async move {
        login_flow("login_flow_postgres", Some(db.url)).await;
    })
    .await;
}
