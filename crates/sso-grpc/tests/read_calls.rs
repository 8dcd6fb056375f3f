//! The admin's read calls over a real tonic server: GetConnection as stored (options, source,
//! warnings, proof), ListOrgs paging, and GetOrg saying whether require-SSO is in effect
//! through every state, including metadata re-imported unchanged and a new certificate.
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

static IDP: LazyLock<Idp> = LazyLock::new(|| Idp::generate("grpc read idp"));
static OTHER_IDP: LazyLock<Idp> = LazyLock::new(|| Idp::generate("grpc read idp, new key"));

async fn get_org(s: &mut TestServer, org: &str) -> v1::Org {
    s.admin
        .get_org(v1::GetOrgRequest {
            org_id: org.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
}

async fn get_connection(s: &mut TestServer, org: &str) -> Result<v1::Connection, tonic::Status> {
    s.admin
        .get_connection(v1::GetConnectionRequest {
            org_id: org.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn import(s: &mut TestServer, org: &str, idp: &Idp) -> v1::Connection {
    s.admin
        .import_idp_metadata(v1::ImportIdpMetadataRequest {
            org_id: org.to_owned(),
            metadata_xml: String::from_utf8(idp.metadata()).unwrap(),
            entity_id: String::new(),
            signing_certificate: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
}

async fn set_plan(s: &mut TestServer, org: &str, plan: Plan) -> v1::Org {
    s.admin
        .set_plan(v1::SetPlanRequest {
            org_id: org.to_owned(),
            plan: plan.into(),
        })
        .await
        .unwrap()
        .into_inner()
}

async fn set_enabled(s: &mut TestServer, org: &str, enabled: bool) {
    s.admin
        .set_connection_enabled(v1::SetConnectionEnabledRequest {
            org_id: org.to_owned(),
            enabled,
        })
        .await
        .unwrap();
}

/// An SP-initiated login of jane, answered by `idp`, at `t`.
async fn login(s: &mut TestServer, org: &str, idp: &Idp, t: i64) {
    s.set_time(t);
    let start = s
        .auth
        .begin_sso_login(v1::BeginSsoLoginRequest {
            target: Some(v1::begin_sso_login_request::Target::OrgId(org.to_owned())),
            return_target: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let org_number = OrgId::new(org.parse().unwrap());
    let response = idp.response(
        &Response::new(org_number, &format!("_a{t}"), "jane@example.com", at(t))
            .answering(&start.request_id),
    );
    s.auth
        .complete_sso_login(v1::CompleteSsoLoginRequest {
            org_id: org.to_owned(),
            saml_response: String::from_utf8(response).unwrap(),
            relay_state: start.relay_state,
        })
        .await
        .unwrap();
}

async fn password_allowed(s: &mut TestServer, org: &str) -> bool {
    s.auth
        .check_password_login(v1::CheckPasswordLoginRequest {
            email: "jane@example.com".to_owned(),
            org_id: org.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .allowed
}

/// The require-SSO fields of an org: (setting, in effect, status).
fn require(org: &v1::Org) -> (bool, bool, &str) {
    assert!(
        org.require_sso_explanation.ends_with('.') && org.require_sso_explanation.len() > 20,
        "{org:?}"
    );
    (
        org.require_sso,
        org.require_sso_in_effect,
        org.require_sso_status.as_str(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_connection_and_get_org_follow_the_configuration() {
    let mut s = TestServer::start("reads").await;
    let created = s
        .admin
        .create_org(v1::CreateOrgRequest {
            name: "Example Corp".to_owned(),
            plan: Plan::Growth.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(require(&created), (false, false, "off"));
    let org = created.id;
    s.admin
        .add_verified_domain(v1::VerifiedDomainRequest {
            org_id: org.clone(),
            domain: "example.com".to_owned(),
        })
        .await
        .unwrap();

    // No connection yet; unknown and malformed orgs.
    let none = get_connection(&mut s, &org).await.unwrap_err();
    assert_eq!(none.code(), Code::NotFound, "{none:?}");
    assert_eq!(reason_of(&none), Some(Reason::NoConnection));
    let unknown = get_connection(&mut s, "987654").await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
    assert_eq!(reason_of(&unknown), Some(Reason::NotFound));
    let malformed = get_connection(&mut s, "x").await.unwrap_err();
    assert_eq!(malformed.code(), Code::InvalidArgument);

    // Imported as XML: inline, default options, not proven.
    let imported = import(&mut s, &org, &IDP).await;
    let got = get_connection(&mut s, &org).await.unwrap();
    assert_eq!(got, imported, "every call returns the same view");
    assert_eq!(got.metadata_origin, "inline");
    assert_eq!(got.metadata_source, None);
    assert_eq!(
        (
            got.allow_unsolicited,
            got.allow_sha1,
            got.clock_skew_seconds
        ),
        (false, false, 180)
    );
    assert!(!got.proven);
    assert_eq!(got.configuration_changed_at, "2025-03-01T09:00:00Z");
    assert_eq!(got.last_successful_login_at, "");
    assert!(got.warnings.is_empty(), "{:?}", got.warnings);

    set_enabled(&mut s, &org, true).await;
    s.admin
        .set_jit(v1::SetJitRequest {
            org_id: org.clone(),
            role: Role::Member.into(),
            default_project_ids: Vec::new(),
        })
        .await
        .unwrap();
    s.set_time(10);
    let options = s
        .admin
        .set_connection_options(v1::SetConnectionOptionsRequest {
            org_id: org.clone(),
            allow_unsolicited: true,
            allow_sha1: false,
            clock_skew_seconds: 300,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            options.allow_unsolicited,
            options.allow_sha1,
            options.clock_skew_seconds
        ),
        (true, false, 300)
    );
    assert_eq!(options.configuration_changed_at, "2025-03-01T09:00:10Z");

    // A login proves the configuration.
    login(&mut s, &org, &IDP, 60).await;
    let proven = get_connection(&mut s, &org).await.unwrap();
    assert!(proven.proven);
    assert_eq!(proven.last_successful_login_at, "2025-03-01T09:01:00Z");
    assert_eq!(proven.config_version, options.config_version);

    // Require SSO: enforced.
    s.set_time(70);
    let on = s
        .admin
        .set_require_sso(v1::SetRequireSsoRequest {
            org_id: org.clone(),
            require_sso: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(require(&on), (true, true, "enforced"));
    assert!(!password_allowed(&mut s, &org).await);

    // The same metadata again: no change, still proven, still enforced.
    s.set_time(80);
    let again = import(&mut s, &org, &IDP).await;
    assert_eq!(again.config_version, proven.config_version);
    assert!(again.proven);
    assert_eq!(
        require(&get_org(&mut s, &org).await),
        (true, true, "enforced")
    );

    // A disabled connection, a downgrade: suspended, the setting kept; back on, enforced.
    set_enabled(&mut s, &org, false).await;
    assert_eq!(
        require(&get_org(&mut s, &org).await),
        (true, false, "connection-disabled")
    );
    assert!(password_allowed(&mut s, &org).await);
    set_enabled(&mut s, &org, true).await;
    let down = set_plan(&mut s, &org, Plan::Plus).await;
    assert_eq!(require(&down), (true, false, "plan-without-sso"));
    assert!(password_allowed(&mut s, &org).await);
    let up = set_plan(&mut s, &org, Plan::Enterprise).await;
    assert_eq!(require(&up), (true, true, "enforced"));

    // The IdP's new key: a change, suspended until a login with it works.
    s.set_time(90);
    let changed = import(&mut s, &org, &OTHER_IDP).await;
    assert_eq!(changed.config_version, proven.config_version + 1);
    assert!(!changed.proven);
    assert_eq!(
        require(&get_org(&mut s, &org).await),
        (true, false, "no-sso-login-since-change")
    );
    assert!(password_allowed(&mut s, &org).await);
    login(&mut s, &org, &OTHER_IDP, 100).await;
    assert_eq!(
        require(&get_org(&mut s, &org).await),
        (true, true, "enforced")
    );

    // The import events say what happened.
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
    let imports: Vec<&str> = traces
        .iter()
        .filter(|t| t.kind == "idp-metadata-imported")
        .map(|t| t.reason_code.as_str())
        .collect();
    assert_eq!(imports, ["replaced", "unchanged", "created"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_orgs_pages_in_creation_order() {
    let mut s = TestServer::start("list_orgs").await;
    let mut made = Vec::new();
    for name in ["Zeta 1", "Alpha", "Zeta 2", "zeta 3", "Zeta 4", "Zeta 5"] {
        let org = s
            .admin
            .create_org(v1::CreateOrgRequest {
                name: name.to_owned(),
                plan: Plan::Growth.into(),
            })
            .await
            .unwrap()
            .into_inner();
        made.push(org);
    }
    let list = |size: u32, token: &str, prefix: &str| v1::ListOrgsRequest {
        page_size: size,
        page_token: token.to_owned(),
        name_prefix: prefix.to_owned(),
    };

    // Everything by default, oldest first, each org as GetOrg shows it.
    let all = s
        .admin
        .list_orgs(list(0, "", ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.orgs, made);
    assert_eq!(all.next_page_token, "");

    // Two at a time, within a prefix (letter case counts).
    let mut names = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = s
            .admin
            .list_orgs(list(2, &token, "Zeta"))
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        assert!(page.orgs.len() <= 2);
        names.extend(page.orgs.into_iter().map(|o| o.name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(names, ["Zeta 1", "Zeta 2", "Zeta 4", "Zeta 5"]);
    assert_eq!(pages, 2);

    // Bounds: page size, foreign tokens, prefix length.
    for bad in [
        list(1001, "", ""),
        list(2, "nonsense", ""),
        list(2, "1740819605000000.12", ""),
        list(2, "", &"x".repeat(201)),
    ] {
        let status = s.admin.list_orgs(bad.clone()).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{bad:?}");
        assert_eq!(reason_of(&status), Some(Reason::InvalidInput));
    }
}
