//! Test logins over the wire: BeginTestLogin on a disabled connection, the IdP's response
//! given to CompleteSsoLogin (never a sign-in), GetTestLogin's findings, and the refusals.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::LazyLock;

use common::idp::{Idp, Response};
use common::{TestServer, at};
use sso_grpc::reason_of;
use sso_grpc::v1::{self, Plan, Reason, Role};
use sso_store::OrgId;
use tonic::Code;

static IDP: LazyLock<Idp> = LazyLock::new(|| Idp::generate("grpc test-login idp"));
static WRONG_IDP: LazyLock<Idp> = LazyLock::new(|| Idp::generate("grpc test-login impostor"));

/// An org on `plan` with `domain` verified, the IdP's metadata imported (the connection left
/// disabled) and JIT on with role Member.
async fn org(s: &mut TestServer, plan: Plan, domain: &str) -> String {
    let org = s
        .admin
        .create_org(v1::CreateOrgRequest {
            name: "Example".to_owned(),
            plan: plan.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    s.admin
        .add_verified_domain(v1::VerifiedDomainRequest {
            org_id: org.clone(),
            domain: domain.to_owned(),
        })
        .await
        .unwrap();
    s.admin
        .import_idp_metadata(v1::ImportIdpMetadataRequest {
            org_id: org.clone(),
            metadata_xml: String::from_utf8(IDP.metadata()).unwrap(),
            entity_id: String::new(),
            signing_certificate: String::new(),
        })
        .await
        .unwrap();
    s.admin
        .set_jit(v1::SetJitRequest {
            org_id: org.clone(),
            role: Role::Member.into(),
            default_project_ids: Vec::new(),
        })
        .await
        .unwrap();
    org
}

async fn begin(s: &mut TestServer, org: &str) -> v1::BeginTestLoginResponse {
    s.admin
        .begin_test_login(v1::BeginTestLoginRequest {
            org_id: org.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
}

/// The RelayState in the IdP URL (ours is URL-safe: no decoding).
fn relay_state(url: &str) -> String {
    url.split(['?', '&'])
        .find_map(|p| p.strip_prefix("RelayState="))
        .unwrap()
        .to_owned()
}

async fn complete(
    s: &mut TestServer,
    org: &str,
    signer: &Idp,
    start: &v1::BeginTestLoginResponse,
    t: i64,
) -> tonic::Status {
    let number = OrgId::new(org.parse().unwrap());
    let response = signer.response(
        &Response::new(number, &format!("_t{t}"), "new.person@example.com", at(t))
            .answering(&start.test_login_id),
    );
    s.auth
        .complete_sso_login(v1::CompleteSsoLoginRequest {
            org_id: org.to_owned(),
            saml_response: String::from_utf8(response).unwrap(),
            relay_state: relay_state(&start.redirect_url),
        })
        .await
        .unwrap_err()
}

async fn get(s: &mut TestServer, org: &str, id: &str) -> Result<v1::TestLogin, tonic::Status> {
    s.admin
        .get_test_login(v1::GetTestLoginRequest {
            org_id: org.to_owned(),
            test_login_id: id.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_login_over_grpc() {
    let mut s = TestServer::start("test_login").await;
    let org = org(&mut s, Plan::Growth, "example.com").await;

    s.set_time(60);
    let start = begin(&mut s, &org).await;
    assert!(!start.connection_enabled);
    assert_eq!(start.config_version, 1);
    assert_eq!(start.org_id, org);
    assert!(start.redirect_url.contains("SAMLRequest="));
    assert!(!start.expires_at.is_empty());
    let pending = get(&mut s, &org, &start.test_login_id).await.unwrap();
    assert_eq!(pending.state(), v1::TestLoginState::Pending);

    // A response with the wrong certificate: refused with its own reason, said to be a test.
    s.set_time(61);
    let failed = complete(&mut s, &org, &WRONG_IDP, &start, 61).await;
    assert_eq!(failed.code(), Code::PermissionDenied, "{failed:?}");
    assert_eq!(reason_of(&failed), Some(Reason::SignatureInvalid));
    assert!(
        failed.message().contains("test login"),
        "{}",
        failed.message()
    );
    let test = get(&mut s, &org, &start.test_login_id).await.unwrap();
    assert_eq!(test.state(), v1::TestLoginState::Failed);
    assert_eq!(test.reason(), Reason::SignatureInvalid);
    assert!(!test.proved_configuration);
    let last = test.checks.last().unwrap();
    assert_eq!((last.name.as_str(), last.passed), ("response-valid", false));
    assert_eq!(last.reason(), Reason::SignatureInvalid);

    // The right one: FAILED_PRECONDITION with TEST_LOGIN_COMPLETED, never a user.
    s.set_time(62);
    let done = complete(&mut s, &org, &IDP, &start, 62).await;
    assert_eq!(done.code(), Code::FailedPrecondition, "{done:?}");
    assert_eq!(reason_of(&done), Some(Reason::TestLoginCompleted));
    assert!(
        done.message().contains(&start.test_login_id),
        "{}",
        done.message()
    );
    assert!(
        done.message().contains("GetTestLogin"),
        "{}",
        done.message()
    );

    let test = get(&mut s, &org, &start.test_login_id).await.unwrap();
    assert_eq!(test.state(), v1::TestLoginState::Succeeded);
    assert_eq!(test.reason(), Reason::Unspecified);
    assert!(test.proved_configuration);
    assert!(!test.connection_enabled);
    assert_eq!(test.config_version, 1);
    assert_eq!(test.email, "new.person@example.com");
    assert_eq!(test.email_source, "name-id");
    assert!(test.checks.iter().all(|c| c.passed));
    assert!(!test.completed_at.is_empty() && !test.trace_id.is_empty());
    let jit = test.jit.unwrap();
    assert_eq!(jit.decision, "jit-new-member");
    assert_eq!(jit.role(), Role::Member);
    assert!(!jit.user_exists);
    let password = s
        .auth
        .check_password_login(v1::CheckPasswordLoginRequest {
            email: "new.person@example.com".to_owned(),
            org_id: org.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!password.member, "nobody was provisioned");

    // The trace is there, with its own kind.
    let traces = s
        .admin
        .list_login_traces(v1::ListLoginTracesRequest {
            org_id: org.clone(),
            page_size: 100,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .traces;
    let traced = traces.iter().find(|t| t.id == test.trace_id).unwrap();
    assert_eq!(
        (traced.kind.as_str(), traced.outcome.as_str()),
        ("sso-test-login", "success")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_login_refusals() {
    let mut s = TestServer::start("test_login_refusals").await;
    let starter = org(&mut s, Plan::Starter, "starter.example").await;
    let refused = s
        .admin
        .begin_test_login(v1::BeginTestLoginRequest {
            org_id: starter.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason_of(&refused), Some(Reason::PlanWithoutSso));
    assert!(refused.message().contains("plan"), "{}", refused.message());

    let growth = org(&mut s, Plan::Growth, "growth.example").await;
    let start = begin(&mut s, &growth).await;
    let unknown = get(&mut s, &growth, "_no-such-test").await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(reason_of(&unknown), Some(Reason::NotFound));
    let elsewhere = get(&mut s, &starter, &start.test_login_id)
        .await
        .unwrap_err();
    assert_eq!(elsewhere.code(), Code::NotFound, "another org's test login");
    for bad in ["", &"x".repeat(200)] {
        let invalid = get(&mut s, &growth, bad).await.unwrap_err();
        assert_eq!(invalid.code(), Code::InvalidArgument);
    }
    let bad_org = s
        .admin
        .begin_test_login(v1::BeginTestLoginRequest {
            org_id: "not-an-org".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_org.code(), Code::InvalidArgument);
    let missing_org = s
        .admin
        .begin_test_login(v1::BeginTestLoginRequest {
            org_id: "987654".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing_org.code(), Code::NotFound, "{missing_org:?}");
}
