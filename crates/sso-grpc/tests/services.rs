//! Both services end to end over a real tonic server on 127.0.0.1, driven by the generated
//! clients: an org from creation to a JIT login, require-SSO with lockout protection, a plan
//! downgrade, a replay, malformed ids, trace paging, and an internal failure that must not
//! leak its detail.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::HashSet;
use std::sync::LazyLock;

use common::idp::{BASE_URL, IDP_ENTITY, Idp, Response};
use common::{TestServer, at};
use sso_grpc::reason_of;
use sso_grpc::v1::{self, Plan, Reason, Role, begin_sso_login_request::Target};
use sso_store::OrgId;
use tonic::{Code, Request};

static IDP: LazyLock<Idp> = LazyLock::new(|| Idp::generate("grpc test idp"));

fn as_ops<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("x-sso-actor", "ops@example.com".parse().unwrap());
    request
}

async fn check_password(
    s: &mut TestServer,
    email: &str,
    org: &str,
) -> v1::CheckPasswordLoginResponse {
    s.auth
        .check_password_login(v1::CheckPasswordLoginRequest {
            email: email.to_owned(),
            org_id: org.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_org_from_creation_to_sso_login_require_sso_and_downgrade() {
    let mut s = TestServer::start("flow").await;

    // An org on Growth, with a domain, the IdP's metadata, enabled, JIT on.
    let org = s
        .admin
        .create_org(as_ops(v1::CreateOrgRequest {
            name: "Example Corp".to_owned(),
            plan: Plan::Growth.into(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(org.plan(), Plan::Growth);
    let org_id = org.id.clone();
    let org_number = OrgId::new(org_id.parse().unwrap());

    let org = s
        .admin
        .add_verified_domain(as_ops(v1::VerifiedDomainRequest {
            org_id: org_id.clone(),
            domain: "Example.com".to_owned(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(org.verified_domains, ["example.com"]);

    let connection = s
        .admin
        .import_idp_metadata(as_ops(v1::ImportIdpMetadataRequest {
            org_id: org_id.clone(),
            metadata_xml: String::from_utf8(IDP.metadata()).unwrap(),
            entity_id: IDP_ENTITY.to_owned(),
            signing_certificate: String::new(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(connection.idp_entity_id, IDP_ENTITY);
    assert_eq!(connection.idp_certificate_fingerprints.len(), 1);
    assert!(!connection.enabled);
    assert_eq!(
        connection.sp_entity_id,
        format!("{BASE_URL}/saml/2/metadata/{org_id}")
    );
    assert_eq!(
        connection.acs_url,
        format!("{BASE_URL}/saml/2/acs/{org_id}")
    );
    assert_eq!(connection.last_successful_login_at, "");

    let version = connection.config_version;
    let connection = s
        .admin
        .set_connection_options(as_ops(v1::SetConnectionOptionsRequest {
            org_id: org_id.clone(),
            allow_unsolicited: false,
            allow_sha1: false,
            clock_skew_seconds: 300,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(connection.config_version, version + 1);

    let connection = s
        .admin
        .set_connection_enabled(as_ops(v1::SetConnectionEnabledRequest {
            org_id: org_id.clone(),
            enabled: true,
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(connection.enabled);
    let connection = s
        .admin
        .set_jit(as_ops(v1::SetJitRequest {
            org_id: org_id.clone(),
            role: Role::Member.into(),
            default_project_ids: Vec::new(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(connection.jit_role(), Role::Member);

    // The SP metadata for the IdP.
    let sp = s
        .auth
        .get_service_provider_metadata(v1::GetServiceProviderMetadataRequest {
            org_id: org_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sp.entity_id, connection.sp_entity_id);
    assert_eq!(sp.acs_url, connection.acs_url);
    assert!(sp.metadata_xml.contains(&sp.acs_url), "{}", sp.metadata_xml);

    // Lockout protection: no SSO login with this configuration yet.
    let refused = s
        .admin
        .set_require_sso(as_ops(v1::SetRequireSsoRequest {
            org_id: org_id.clone(),
            require_sso: true,
        }))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason_of(&refused), Some(Reason::NoSsoLoginSinceChange));

    // An SP-initiated login found by email, answered by the IdP.
    s.set_time(60);
    let start = s
        .auth
        .begin_sso_login(v1::BeginSsoLoginRequest {
            target: Some(Target::Email("Jane.Doe@example.com".to_owned())),
            return_target: "/home".to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(start.org_id, org_id);
    assert!(
        start.redirect_url.starts_with(common::idp::IDP_SSO_URL),
        "{}",
        start.redirect_url
    );
    assert!(!start.relay_state.is_empty());
    let response = String::from_utf8(
        IDP.response(
            &Response::new(org_number, "_a1", "jane.doe@example.com", at(60))
                .answering(&start.request_id),
        ),
    )
    .unwrap();
    s.set_time(61);
    let complete = v1::CompleteSsoLoginRequest {
        org_id: org_id.clone(),
        saml_response: response,
        relay_state: start.relay_state.clone(),
    };
    let login = s
        .auth
        .complete_sso_login(complete.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(login.user.as_ref().unwrap().email, "jane.doe@example.com");
    assert_eq!(login.org_id, org_id);
    assert_eq!(login.role(), Role::Member);
    assert!(login.membership_created);
    assert_eq!(login.return_target, "/home");
    assert!(!login.session_not_on_or_after.is_empty());

    // The same response again: a replay, with a safe message.
    s.set_time(62);
    let replayed = s.auth.complete_sso_login(complete).await.unwrap_err();
    assert_eq!(replayed.code(), Code::FailedPrecondition);
    assert_eq!(reason_of(&replayed), Some(Reason::Replayed));
    assert!(
        !replayed.message().contains("assertion"),
        "{}",
        replayed.message()
    );

    // Password login is allowed while SSO is not required.
    let allowed = check_password(&mut s, "jane.doe@example.com", &org_id).await;
    assert!(allowed.allowed);
    assert_eq!(allowed.reason(), Reason::Unspecified);

    // Now require SSO works, and password login is refused.
    s.set_time(120);
    let org = s
        .admin
        .set_require_sso(as_ops(v1::SetRequireSsoRequest {
            org_id: org_id.clone(),
            require_sso: true,
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(org.require_sso);
    let refused = check_password(&mut s, "jane.doe@example.com", &org_id).await;
    assert!(!refused.allowed);
    assert_eq!(refused.reason(), Reason::SsoRequired);
    assert!(!refused.message.is_empty());
    // The requirement covers everyone at the org's verified domains, member or not yet...
    let newcomer = check_password(&mut s, "someone@example.com", &org_id).await;
    assert!(!newcomer.allowed);
    assert_eq!(newcomer.reason(), Reason::SsoRequired);
    // ...and nobody else: membership is the host product's business.
    let outsider = check_password(&mut s, "guest@elsewhere.example", &org_id).await;
    assert!(outsider.allowed, "{outsider:?}");

    // A downgrade below Growth turns SSO off: password login works again, nothing deleted.
    let org = s
        .admin
        .set_plan(as_ops(v1::SetPlanRequest {
            org_id: org_id.clone(),
            plan: Plan::Starter.into(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(org.plan(), Plan::Starter);
    assert!(org.require_sso);
    let allowed = check_password(&mut s, "jane.doe@example.com", &org_id).await;
    assert!(allowed.allowed);

    // Every attempt and change is in the traces; page through them three at a time.
    let mut traces = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = s
            .admin
            .list_login_traces(v1::ListLoginTracesRequest {
                org_id: org_id.clone(),
                page_size: 3,
                page_token: token.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.traces.len() <= 3);
        pages += 1;
        traces.extend(page.traces);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        assert!(pages < 20, "paging does not end");
    }
    assert!(pages >= 3, "{pages} pages for {} traces", traces.len());
    let ids: HashSet<_> = traces.iter().map(|t| t.id.clone()).collect();
    assert_eq!(ids.len(), traces.len(), "a trace appeared twice");
    assert!(
        traces
            .windows(2)
            .all(|w| w[0].occurred_at >= w[1].occurred_at)
    );
    assert_eq!(traces.last().unwrap().kind, "org-created");
    let success = traces
        .iter()
        .find(|t| t.kind == sso_provisioning::SSO_LOGIN && t.outcome == "success")
        .unwrap();
    assert!(success.detail_json.contains("jane.doe@example.com"));
    let replay = traces.iter().find(|t| t.reason_code == "replayed").unwrap();
    assert_eq!(replay.reason(), Reason::Replayed);
    assert_eq!(replay.outcome, "refused");
    let refused_require = traces
        .iter()
        .find(|t| t.reason_code == "no-sso-login-since-change")
        .unwrap();
    assert_eq!(refused_require.reason(), Reason::NoSsoLoginSinceChange);

    // A page token this service never issued.
    let bad = s
        .admin
        .list_login_traces(v1::ListLoginTracesRequest {
            org_id: org_id.clone(),
            page_size: 3,
            page_token: "nonsense".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_unknown_input_is_refused_with_the_right_codes() {
    let mut s = TestServer::start("input").await;

    for org_id in ["", "abc", "-3", "1; drop table"] {
        let status = s
            .admin
            .get_org(v1::GetOrgRequest {
                org_id: org_id.to_owned(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{org_id:?}");
        assert_eq!(reason_of(&status), Some(Reason::InvalidInput));
        let status = s
            .auth
            .complete_sso_login(v1::CompleteSsoLoginRequest {
                org_id: org_id.to_owned(),
                saml_response: "x".to_owned(),
                relay_state: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{org_id:?}");
    }

    // Unknown org.
    let status = s
        .admin
        .get_org(v1::GetOrgRequest {
            org_id: "999".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(reason_of(&status), Some(Reason::NotFound));
    let status = s
        .auth
        .begin_sso_login(v1::BeginSsoLoginRequest {
            target: Some(Target::OrgId("999".to_owned())),
            return_target: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    // No target, a bad email, an email whose domain no org verified.
    let status = s
        .auth
        .begin_sso_login(v1::BeginSsoLoginRequest {
            target: None,
            return_target: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let status = s
        .auth
        .begin_sso_login(v1::BeginSsoLoginRequest {
            target: Some(Target::Email("not an email".to_owned())),
            return_target: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let status = s
        .auth
        .begin_sso_login(v1::BeginSsoLoginRequest {
            target: Some(Target::Email("a@nobody.example".to_owned())),
            return_target: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(reason_of(&status), Some(Reason::OrgNotFound));

    // Plan unspecified; SSO on a plan without it; a domain taken by another org.
    let status = s
        .admin
        .create_org(v1::CreateOrgRequest {
            name: "No plan".to_owned(),
            plan: Plan::Unspecified.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let starter = s
        .admin
        .create_org(v1::CreateOrgRequest {
            name: "Small".to_owned(),
            plan: Plan::Starter.into(),
        })
        .await
        .unwrap()
        .into_inner();
    let status = s
        .auth
        .begin_sso_login(v1::BeginSsoLoginRequest {
            target: Some(Target::OrgId(starter.id.clone())),
            return_target: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason_of(&status), Some(Reason::PlanWithoutSso));
    assert_eq!(
        status.message(),
        "Single sign-on is not available for this organization."
    );
    let other = s
        .admin
        .create_org(v1::CreateOrgRequest {
            name: "Other".to_owned(),
            plan: Plan::Growth.into(),
        })
        .await
        .unwrap()
        .into_inner();
    for (org, code) in [(&starter, None), (&other, Some(Code::AlreadyExists))] {
        let result = s
            .admin
            .add_verified_domain(v1::VerifiedDomainRequest {
                org_id: org.id.clone(),
                domain: "small.example".to_owned(),
            })
            .await;
        match code {
            None => assert!(result.is_ok()),
            Some(code) => {
                let status = result.unwrap_err();
                assert_eq!(status.code(), code);
                assert_eq!(reason_of(&status), Some(Reason::Conflict));
            }
        }
    }

    // Metadata that is not metadata; break-glass without a justification.
    let status = s
        .admin
        .import_idp_metadata(v1::ImportIdpMetadataRequest {
            org_id: other.id.clone(),
            metadata_xml: "<html/>".to_owned(),
            entity_id: String::new(),
            signing_certificate: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(reason_of(&status), Some(Reason::NotMetadata));
    let status = s
        .admin
        .break_glass(v1::BreakGlassRequest {
            org_id: other.id.clone(),
            justification: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(reason_of(&status), Some(Reason::MissingJustification));

    // Metadata for another IdP than the one asked for.
    let status = s
        .admin
        .import_idp_metadata(v1::ImportIdpMetadataRequest {
            org_id: other.id.clone(),
            metadata_xml: String::from_utf8(IDP.metadata()).unwrap(),
            entity_id: "https://elsewhere.test/idp".to_owned(),
            signing_certificate: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(reason_of(&status), Some(Reason::EntityNotFound));

    // Connection options: out of range, then on an org without a connection.
    let options = |skew| v1::SetConnectionOptionsRequest {
        org_id: other.id.clone(),
        allow_unsolicited: false,
        allow_sha1: false,
        clock_skew_seconds: skew,
    };
    let status = s
        .admin
        .set_connection_options(options(3601))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let status = s
        .admin
        .set_connection_options(options(0))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");

    // Login codes: a forged one is unknown, an empty or absurdly long one invalid.
    let status = s
        .auth
        .redeem_login_code(v1::RedeemLoginCodeRequest {
            code: "x".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert_eq!(reason_of(&status), Some(Reason::LoginCodeUnknown));
    for code in [String::new(), "c".repeat(129)] {
        let status = s
            .auth
            .redeem_login_code(v1::RedeemLoginCodeRequest { code })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_internal_failure_is_internal_and_keeps_its_detail_in_the_log() {
    let mut s = TestServer::start("internal").await;
    let org = s
        .admin
        .create_org(v1::CreateOrgRequest {
            name: "Example Corp".to_owned(),
            plan: Plan::Growth.into(),
        })
        .await
        .unwrap()
        .into_inner();
    // Closing the store's pool closes it for the server too.
    s.store.clone().close().await.unwrap();
    let generic = sso_grpc::internal();
    let status = s
        .admin
        .get_org(v1::GetOrgRequest {
            org_id: org.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    assert_eq!(status.message(), generic.message());
    assert_eq!(reason_of(&status), None);
    let status = s
        .auth
        .complete_sso_login(v1::CompleteSsoLoginRequest {
            org_id: org.id.clone(),
            saml_response: "x".to_owned(),
            relay_state: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    assert_eq!(status.message(), generic.message());
}
