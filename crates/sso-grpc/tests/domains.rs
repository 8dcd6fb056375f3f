//! `ClaimDomain`, `VerifyDomain` and `ListDomains` over a real tonic server, looking records
//! up on a real DNS server on loopback (dnsmasq): the wire shape of a claim, the refusals'
//! reasons, and routing of `BeginSsoLogin` by email only to a verified domain.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use common::TestServer;
use sso_domains::TxtLookup;
use sso_grpc::reason_of;
use sso_grpc::v1::{self, Plan, Reason, begin_sso_login_request::Target};
use sso_testkit::dns::TestDns;
use tonic::Code;

async fn create_org(s: &mut TestServer, name: &str) -> String {
    s.admin
        .create_org(v1::CreateOrgRequest {
            name: name.to_owned(),
            plan: Plan::Growth.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .id
}

async fn verify(
    s: &mut TestServer,
    org: &str,
    domain: &str,
) -> Result<v1::DomainClaim, tonic::Status> {
    s.admin
        .verify_domain(v1::VerifyDomainRequest {
            org_id: org.to_owned(),
            domain: domain.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// The org id `BeginSsoLogin` by email routes to, or the refusal's code and reason.
async fn route(s: &mut TestServer, email: &str) -> Result<String, (Code, Option<Reason>)> {
    s.auth
        .begin_sso_login(v1::BeginSsoLoginRequest {
            target: Some(Target::Email(email.to_owned())),
            return_target: String::new(),
        })
        .await
        .map(|r| r.into_inner().org_id)
        .map_err(|status| (status.code(), reason_of(&status)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_is_proven_by_its_record_and_only_then_routes() {
    let mut dns = TestDns::start(&[]);
    let lookup = TxtLookup::builder()
        .name_server(dns.addr())
        .timeout(Duration::from_millis(500))
        .build();
    let mut s = TestServer::start_with_dns("domains", lookup).await;
    let org = create_org(&mut s, "Acme").await;

    let claim = s
        .admin
        .claim_domain(v1::ClaimDomainRequest {
            org_id: org.clone(),
            domain: "Acme.Example".to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(claim.org_id, org);
    assert_eq!(claim.domain, "acme.example");
    assert_eq!(claim.state, "pending");
    assert_eq!(claim.record_name, "_sso-verification.acme.example");
    let token = claim
        .record_value
        .strip_prefix("sso-verification=")
        .unwrap();
    assert_eq!(token.len(), 32, "{}", claim.record_value);
    assert_eq!(
        (claim.verified_by.as_str(), claim.verified_at.as_str()),
        ("", "")
    );
    assert!(!claim.claimed_at.is_empty());

    // Pending: not routed, not in the org's verified domains.
    assert_eq!(
        route(&mut s, "jane@acme.example").await,
        Err((Code::NotFound, Some(Reason::OrgNotFound)))
    );
    let missing = verify(&mut s, &org, "acme.example").await.unwrap_err();
    assert_eq!(missing.code(), Code::FailedPrecondition);
    assert_eq!(reason_of(&missing), Some(Reason::DomainRecordMissing));
    assert!(
        missing.message().contains("_sso-verification.acme.example"),
        "{}",
        missing.message()
    );

    dns.set_records(&[(claim.record_name.as_str(), claim.record_value.as_str())]);
    let verified = verify(&mut s, &org, "acme.example").await.unwrap();
    assert_eq!(verified.state, "verified");
    assert_eq!(verified.verified_by, "dns");
    assert!(!verified.verified_at.is_empty());
    assert!(!verified.next_check_at.is_empty());
    assert_eq!(verified.last_check_result, "verified");
    assert_eq!(verified.record_value, claim.record_value);
    // Routed now, and refused there for want of a connection (not for want of an org).
    assert_eq!(
        route(&mut s, "jane@acme.example").await,
        Err((Code::FailedPrecondition, Some(Reason::NoConnection)))
    );
    let listed = s
        .admin
        .list_domains(v1::ListDomainsRequest {
            org_id: org.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .domains;
    assert_eq!(listed, [verified]);
    let org_view = s
        .admin
        .get_org(v1::GetOrgRequest {
            org_id: org.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(org_view.verified_domains, ["acme.example"]);

    // Refusals carry their reasons.
    let free = s
        .admin
        .claim_domain(v1::ClaimDomainRequest {
            org_id: org.clone(),
            domain: "gmail.com".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (free.code(), reason_of(&free)),
        (Code::InvalidArgument, Some(Reason::DomainFreeMail))
    );
    let suffix = s
        .admin
        .add_verified_domain(v1::VerifiedDomainRequest {
            org_id: org.clone(),
            domain: "co.uk".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason_of(&suffix), Some(Reason::DomainPublicSuffix));
    let unclaimed = verify(&mut s, &org, "other.example").await.unwrap_err();
    assert_eq!(
        (unclaimed.code(), reason_of(&unclaimed)),
        (Code::NotFound, Some(Reason::DomainNotClaimed))
    );
    let other = create_org(&mut s, "Other").await;
    s.admin
        .claim_domain(v1::ClaimDomainRequest {
            org_id: other.clone(),
            domain: "acme.example".to_owned(),
        })
        .await
        .unwrap();
    let elsewhere = verify(&mut s, &other, "acme.example").await.unwrap_err();
    assert_eq!(
        (elsewhere.code(), reason_of(&elsewhere)),
        (Code::AlreadyExists, Some(Reason::DomainVerifiedElsewhere))
    );
    let unknown = s
        .admin
        .list_domains(v1::ListDomainsRequest {
            org_id: "999999".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}
