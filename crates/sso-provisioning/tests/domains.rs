//! Domain claims end to end on both backends, against a real DNS server on loopback
//! (dnsmasq, from `sso-testkit`): a claim routes logins and allows JIT only once its TXT
//! record proved it, the refusals say why, and a record that goes away takes the domain back
//! to pending after the configured failures in a row.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::LazyLock;
use std::time::Duration as StdDuration;

use sso_domains::TxtLookup;
use sso_email::Email;
use sso_policy::{Plan, Role};
use sso_provisioning::{
    AdminError, DomainChecks, DomainClaim, DomainState, LoginError, LoginOutcome, Provisioner,
    VerifiedBy, kinds,
};
use sso_store::{EventOutcome, EventQuery, EventRecord, OrgId};
use sso_testkit::dns::{SilentDns, TestDns};
use sso_testkit::idp::{BASE_URL, Idp, Response};
use sso_testkit::{TestDb, on_both_backends};
use time::{Duration, OffsetDateTime, macros::datetime};

const BASE: OffsetDateTime = datetime!(2025-03-01 09:00 UTC);
const ADMIN: &str = "admin@example.com";

static IDP: LazyLock<Idp> = LazyLock::new(|| Idp::generate("idp.test"));

fn at(hours: i64) -> OffsetDateTime {
    BASE + Duration::hours(hours)
}

fn lookup(dns: &TestDns) -> TxtLookup {
    TxtLookup::builder()
        .name_server(dns.addr())
        .timeout(StdDuration::from_millis(500))
        .build()
}

async fn provisioner(db: &TestDb) -> Provisioner {
    Provisioner::new(db.connect().await, BASE_URL).with_domain_checks(DomainChecks {
        interval: Duration::hours(24),
        failures_to_unverify: 2,
    })
}

async fn org(p: &Provisioner, name: &str) -> OrgId {
    p.create_org(ADMIN, name, Plan::Growth, BASE)
        .await
        .unwrap()
        .id
}

/// An org with an enabled connection to the test IdP and JIT on, and no domain yet.
async fn sso_org(p: &Provisioner, name: &str) -> OrgId {
    let org = org(p, name).await;
    p.import_idp_metadata(ADMIN, org, &IDP.metadata(), BASE)
        .await
        .unwrap();
    p.set_connection_enabled(ADMIN, org, true, BASE)
        .await
        .unwrap();
    let _ = p
        .set_jit(ADMIN, org, Some(Role::Member), &[], BASE)
        .await
        .unwrap();
    org
}

/// An SP-initiated login of `email` at `org`, at `t`.
async fn sso(
    p: &Provisioner,
    org: OrgId,
    email: &str,
    t: OffsetDateTime,
) -> Result<LoginOutcome, LoginError> {
    let start = p.begin_login(org, None, t).await.unwrap();
    let id = format!("_a{}_{}", t.unix_timestamp(), start.request_id);
    let raw = IDP.response(&Response::new(org, &id, email, t).answering(&start.request_id));
    p.complete_login(org, &raw, Some(&start.relay_state), t)
        .await
}

async fn routed(p: &Provisioner, email: &str) -> Option<OrgId> {
    p.org_for_email(&Email::parse(email).unwrap())
        .await
        .unwrap()
}

async fn events(p: &Provisioner, org: OrgId, kind: &str) -> Vec<EventRecord> {
    p.list_traces(org, &EventQuery::new(100).kind(kind))
        .await
        .unwrap()
        .events
}

/// The TXT record that proves `claim`.
fn record(claim: &DomainClaim) -> (String, String) {
    (
        format!("_sso-verification.{}", claim.domain),
        format!("sso-verification={}", claim.token.as_deref().unwrap()),
    )
}

fn publish(dns: &mut TestDns, records: &[&(String, String)]) {
    let records: Vec<(&str, &str)> = records
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    dns.set_records(&records);
}

on_both_backends!(
    only_the_org_that_proves_a_domain_gets_it,
    refused_domains_and_refusals,
    pending_claims_allow_no_jit,
    reverification_drops_a_domain_whose_record_is_gone,
    the_operator_path_vouches_without_dns,
);

/// Two orgs claim one domain; the org whose token is published proves it and gets the
/// logins; the other is refused with a precise reason at every step.
async fn only_the_org_that_proves_a_domain_gets_it(db: TestDb) {
    let p = provisioner(&db).await;
    let mut dns = TestDns::start(&[]);
    let lookup = lookup(&dns);
    let squatter = org(&p, "Squatter").await;
    let owner = org(&p, "BigCorp").await;

    let first = p
        .claim_domain(ADMIN, squatter, "BigCorp.example", BASE)
        .await
        .unwrap();
    assert_eq!(first.domain, "bigcorp.example");
    assert_eq!(first.state, DomainState::Pending);
    assert_eq!(first.token.as_deref().unwrap().len(), 32);
    let second = p
        .claim_domain(ADMIN, owner, "bigcorp.example", BASE)
        .await
        .unwrap();
    assert_ne!(first.token, second.token);
    // Claiming first routes nothing.
    assert_eq!(routed(&p, "ceo@bigcorp.example").await, None);
    // Claiming again gives the same token.
    let again = p
        .claim_domain(ADMIN, squatter, "bigcorp.example", at(1))
        .await
        .unwrap();
    assert_eq!(again.token, first.token);
    let claimed = events(&p, squatter, kinds::DOMAIN_CLAIMED).await;
    assert_eq!(claimed[0].reason, "already-claimed");
    assert_eq!(claimed[1].reason, "claimed");
    assert_eq!(
        claimed[1].detail["record_name"],
        "_sso-verification.bigcorp.example"
    );

    // No record yet.
    let missing = p
        .verify_domain(&lookup, ADMIN, squatter, "bigcorp.example", at(1))
        .await
        .unwrap_err();
    assert_eq!(missing.reason(), "domain-record-missing", "{missing}");
    // The owner publishes its token: the squatter's does not match.
    publish(&mut dns, &[&record(&second)]);
    let mismatch = p
        .verify_domain(&lookup, ADMIN, squatter, "bigcorp.example", at(2))
        .await
        .unwrap_err();
    assert_eq!(mismatch.reason(), "domain-token-mismatch", "{mismatch}");
    let verified = p
        .verify_domain(&lookup, ADMIN, owner, "bigcorp.example", at(2))
        .await
        .unwrap();
    assert_eq!(verified.state, DomainState::Verified);
    assert_eq!(verified.verified_by, Some(VerifiedBy::Dns));
    assert_eq!(verified.verified_at, Some(at(2)));
    assert_eq!(verified.next_check_at, Some(at(26)));
    assert_eq!(routed(&p, "ceo@bigcorp.example").await, Some(owner));
    assert_eq!(
        p.org(owner).await.unwrap().verified_domains,
        ["bigcorp.example"]
    );

    // Even with its own token published too, the squatter cannot take it now.
    publish(&mut dns, &[&record(&second), &record(&first)]);
    let taken = p
        .verify_domain(&lookup, ADMIN, squatter, "bigcorp.example", at(3))
        .await
        .unwrap_err();
    assert_eq!(taken.reason(), "domain-verified-elsewhere", "{taken}");
    assert_eq!(routed(&p, "ceo@bigcorp.example").await, Some(owner));

    // Every attempt is in the squatter's audit trail.
    let attempts: Vec<(EventOutcome, String)> = events(&p, squatter, kinds::DOMAIN_VERIFIED)
        .await
        .iter()
        .map(|e| (e.outcome, e.reason.clone()))
        .collect();
    assert_eq!(
        attempts,
        [
            (
                EventOutcome::Refused,
                "domain-verified-elsewhere".to_owned()
            ),
            (EventOutcome::Refused, "domain-token-mismatch".to_owned()),
            (EventOutcome::Refused, "domain-record-missing".to_owned()),
        ]
    );
    let proof = &events(&p, owner, kinds::DOMAIN_VERIFIED).await[0];
    assert_eq!(
        (proof.outcome, proof.reason.as_str()),
        (EventOutcome::Success, "verified")
    );
    assert_eq!(proof.detail["verified_by"], "dns");

    // The listing shows each org its own claim and the record to publish.
    let listed = p.list_domains(squatter).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, DomainState::Pending);
    assert_eq!(listed[0].token, first.token);
    assert_eq!(p.list_domains(owner).await.unwrap(), [verified]);
}

async fn refused_domains_and_refusals(db: TestDb) {
    let p = provisioner(&db).await;
    let dns = TestDns::start(&[]);
    let org = org(&p, "Acme").await;
    for (domain, reason) in [
        ("gmail.com", "domain-free-mail"),
        ("mail.yahoo.co.jp", "domain-free-mail"),
        ("gmx.de", "domain-free-mail"),
        ("co.uk", "domain-public-suffix"),
        ("github.io", "domain-public-suffix"),
        ("s3.amazonaws.com", "domain-public-suffix"),
        // A single label is no email domain at all.
        ("com", "invalid-input"),
        ("not a domain", "invalid-input"),
    ] {
        let claim = p.claim_domain(ADMIN, org, domain, BASE).await.unwrap_err();
        assert_eq!(claim.reason(), reason, "claim {domain}: {claim}");
        let add = p
            .add_verified_domain(ADMIN, org, domain, BASE)
            .await
            .unwrap_err();
        assert_eq!(add.reason(), reason, "operator add {domain}: {add}");
    }
    assert!(p.list_domains(org).await.unwrap().is_empty());
    let refused = &events(&p, org, kinds::DOMAIN_CLAIMED).await[0];
    assert_eq!(refused.outcome, EventOutcome::Refused);
    assert_eq!(refused.reason, "invalid-input");
    assert_eq!(
        events(&p, org, kinds::DOMAIN_ADDED)
            .await
            .last()
            .unwrap()
            .reason,
        "domain-free-mail"
    );

    // Verifying needs a claim.
    let unclaimed = p
        .verify_domain(&lookup(&dns), ADMIN, org, "acme.example", BASE)
        .await
        .unwrap_err();
    assert_eq!(unclaimed.reason(), "domain-not-claimed");
    assert!(matches!(unclaimed, AdminError::DomainNotClaimed(_)));
    // An unknown org has nothing to list.
    assert_eq!(
        p.list_domains(OrgId::new(999_999))
            .await
            .unwrap_err()
            .reason(),
        "not-found"
    );
}

/// A pending claim is not a verified domain: JIT refuses its people until the record proved
/// it.
async fn pending_claims_allow_no_jit(db: TestDb) {
    let p = provisioner(&db).await;
    let mut dns = TestDns::start(&[]);
    let org = sso_org(&p, "Example").await;
    let claim = p
        .claim_domain(ADMIN, org, "example.com", BASE)
        .await
        .unwrap();
    let refused = sso(&p, org, "new@example.com", at(1)).await.unwrap_err();
    assert_eq!(refused.reason(), "domain-not-verified");
    assert_eq!(routed(&p, "new@example.com").await, None);

    publish(&mut dns, &[&record(&claim)]);
    p.verify_domain(&lookup(&dns), ADMIN, org, "example.com", at(2))
        .await
        .unwrap();
    let joined = sso(&p, org, "new@example.com", at(3)).await.unwrap();
    assert!(joined.membership_created);
    assert_eq!(routed(&p, "new@example.com").await, Some(org));
}

/// Re-verification on the schedule: a record that is there keeps the domain; one that is
/// gone counts a failure; a failed lookup does not count; at two failures in a row the domain
/// is pending again, routes nothing and allows no JIT, until the record is back.
async fn reverification_drops_a_domain_whose_record_is_gone(db: TestDb) {
    let p = provisioner(&db).await;
    let mut dns = TestDns::start(&[]);
    let lookup = lookup(&dns);
    let org = sso_org(&p, "Example").await;
    let claim = p
        .claim_domain(ADMIN, org, "example.com", BASE)
        .await
        .unwrap();
    let proof = record(&claim);
    publish(&mut dns, &[&proof]);
    p.verify_domain(&lookup, ADMIN, org, "example.com", BASE)
        .await
        .unwrap();

    // Nothing due before a day has passed.
    assert!(
        p.recheck_due_domains(&lookup, at(23))
            .await
            .unwrap()
            .is_empty()
    );
    let done = p.recheck_due_domains(&lookup, at(24)).await.unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!((done[0].org, done[0].domain.as_str()), (org, "example.com"));
    assert_eq!(done[0].reason(), "still-verified");
    // Claimed: a second pass (another server) finds nothing due.
    assert!(
        p.recheck_due_domains(&lookup, at(24))
            .await
            .unwrap()
            .is_empty()
    );

    // The record goes away: one failure, still verified.
    publish(&mut dns, &[]);
    let done = p.recheck_due_domains(&lookup, at(48)).await.unwrap();
    assert_eq!(done[0].reason(), "domain-record-missing");
    let message = done[0].result.as_ref().unwrap_err().to_string();
    assert!(message.contains("check 1 of 2"), "{message}");
    assert_eq!(routed(&p, "jane@example.com").await, Some(org));

    // A name server that does not answer says nothing about the record: no count.
    let silent = SilentDns::start();
    let deaf = TxtLookup::builder()
        .name_server(silent.addr())
        .timeout(StdDuration::from_millis(300))
        .build();
    let done = p.recheck_due_domains(&deaf, at(72)).await.unwrap();
    assert_eq!(done[0].reason(), "domain-lookup-timeout");
    let listed = &p.list_domains(org).await.unwrap()[0];
    assert_eq!(
        (listed.state, listed.check_failures),
        (DomainState::Verified, 1)
    );
    assert_eq!(
        listed.check_result.as_deref(),
        Some("domain-lookup-timeout")
    );

    // The second failure in a row, asked for by an admin with VerifyDomain: dropped.
    let dropped = p
        .verify_domain(&lookup, ADMIN, org, "example.com", at(80))
        .await
        .unwrap_err();
    assert_eq!(dropped.reason(), "domain-record-missing");
    assert!(dropped.to_string().contains("pending again"), "{dropped}");
    let listed = &p.list_domains(org).await.unwrap()[0];
    assert_eq!(listed.state, DomainState::Pending);
    assert_eq!((listed.verified_by, listed.next_check_at), (None, None));
    assert_eq!(listed.token, claim.token, "the claim keeps its token");
    assert_eq!(routed(&p, "jane@example.com").await, None);
    let refused = sso(&p, org, "jane@example.com", at(81)).await.unwrap_err();
    assert_eq!(refused.reason(), "domain-not-verified");
    // Nothing left to re-check.
    assert!(
        p.recheck_due_domains(&lookup, at(200))
            .await
            .unwrap()
            .is_empty()
    );

    // The audit trail says what happened, newest first.
    let rechecks: Vec<(EventOutcome, String, Option<String>)> =
        events(&p, org, kinds::DOMAIN_RECHECKED)
            .await
            .iter()
            .map(|e| (e.outcome, e.reason.clone(), e.actor.clone()))
            .collect();
    let scheduled = Some("domain-recheck".to_owned());
    assert_eq!(
        rechecks,
        [
            (
                EventOutcome::Refused,
                "domain-record-missing".into(),
                Some(ADMIN.into())
            ),
            (
                EventOutcome::Failed,
                "domain-lookup-timeout".into(),
                scheduled.clone()
            ),
            (
                EventOutcome::Refused,
                "domain-record-missing".into(),
                scheduled.clone()
            ),
            (EventOutcome::Success, "still-verified".into(), scheduled),
        ]
    );
    let unverified = events(&p, org, kinds::DOMAIN_UNVERIFIED).await;
    assert_eq!(unverified.len(), 1);
    assert_eq!(unverified[0].detail["failures_in_a_row"], 2);
    assert_eq!(unverified[0].detail["last_check"], "domain-record-missing");

    // The record is back: verified again, failures cleared.
    publish(&mut dns, &[&proof]);
    let again = p
        .verify_domain(&lookup, ADMIN, org, "example.com", at(90))
        .await
        .unwrap();
    assert_eq!(
        (again.state, again.check_failures),
        (DomainState::Verified, 0)
    );
    assert!(sso(&p, org, "jane@example.com", at(91)).await.is_ok());
}

/// The operator's path: verified at once without DNS, never re-checked; the org's claim on
/// it later can turn it into a DNS-verified domain.
async fn the_operator_path_vouches_without_dns(db: TestDb) {
    let p = provisioner(&db).await;
    let mut dns = TestDns::start(&[]);
    let lookup = lookup(&dns);
    let org = org(&p, "Acme").await;
    p.add_verified_domain(ADMIN, org, "acme.example", BASE)
        .await
        .unwrap();
    let listed = &p.list_domains(org).await.unwrap()[0];
    assert_eq!(
        (listed.state, listed.verified_by, listed.token.as_deref()),
        (DomainState::Verified, Some(VerifiedBy::Operator), None)
    );
    assert_eq!(routed(&p, "x@acme.example").await, Some(org));
    let added = &events(&p, org, kinds::DOMAIN_ADDED).await[0];
    assert_eq!(added.reason, "added");
    assert_eq!(added.detail["verified_by"], "operator");
    // Never re-checked.
    assert!(
        p.recheck_due_domains(&lookup, at(1000))
            .await
            .unwrap()
            .is_empty()
    );

    // Claimed later: a token to publish; a failed proof leaves the operator's word standing.
    let claim = p
        .claim_domain(ADMIN, org, "acme.example", at(1))
        .await
        .unwrap();
    assert_eq!(claim.verified_by, Some(VerifiedBy::Operator));
    let failed = p
        .verify_domain(&lookup, ADMIN, org, "acme.example", at(2))
        .await
        .unwrap_err();
    assert_eq!(failed.reason(), "domain-record-missing");
    assert!(failed.to_string().contains("operator"), "{failed}");
    assert_eq!(routed(&p, "x@acme.example").await, Some(org));
    publish(&mut dns, &[&record(&claim)]);
    let proven = p
        .verify_domain(&lookup, ADMIN, org, "acme.example", at(3))
        .await
        .unwrap();
    assert_eq!(proven.verified_by, Some(VerifiedBy::Dns));

    // Another org's pending claim does not stop the operator; its verified domain does.
    let other = self::org(&p, "Other").await;
    p.claim_domain(ADMIN, other, "shared.example", BASE)
        .await
        .unwrap();
    p.add_verified_domain(ADMIN, org, "shared.example", BASE)
        .await
        .unwrap();
    let conflict = p
        .add_verified_domain(ADMIN, other, "shared.example", BASE)
        .await
        .unwrap_err();
    assert_eq!(conflict.reason(), "conflict");
}
