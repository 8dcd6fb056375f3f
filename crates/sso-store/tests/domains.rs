//! Domain claims on both backends: several orgs may claim a domain, one holds it verified
//! (the partial unique index decides), only verified rows route, and the re-verification
//! schedule is claimed once.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sso_policy::Plan;
use sso_store::{CheckCount, DomainState, OrgId, Store, StoreError, VerifiedBy};
use sso_testdb::{TestDb, on_both_backends};
use time::{Duration, OffsetDateTime, macros::datetime};

const BASE: OffsetDateTime = datetime!(2025-03-01 09:00 UTC);
const TOKEN_A: &str = "00112233445566778899aabbccddeeff";
const TOKEN_B: &str = "ffeeddccbbaa99887766554433221100";

struct Db(TestDb);

impl Db {
    async fn connect(&self) -> Store {
        Store::connect(&self.0.url).await.unwrap()
    }
}

fn reason<T: std::fmt::Debug>(result: Result<T, StoreError>) -> &'static str {
    result.unwrap_err().reason()
}

async fn two_orgs(store: &Store) -> (OrgId, OrgId) {
    let a = store.create_org("A", Plan::Growth, BASE).await.unwrap();
    let b = store.create_org("B", Plan::Growth, BASE).await.unwrap();
    (a.id, b.id)
}

on_both_backends!(
    claims_are_pending_until_one_org_proves_them,
    rechecks_are_scheduled_and_claimed_once
);

async fn claims_are_pending_until_one_org_proves_them(db: TestDb) {
    let store = Db(db).connect().await;
    let (a, b) = two_orgs(&store).await;

    // Both orgs claim the same domain; neither claim routes anything.
    let claimed = store
        .claim_domain(a, "BigCorp.example", TOKEN_A, BASE)
        .await
        .unwrap();
    assert!(claimed.created);
    assert_eq!(claimed.record.domain, "bigcorp.example");
    assert_eq!(claimed.record.state, DomainState::Pending);
    assert_eq!(claimed.record.token.as_deref(), Some(TOKEN_A));
    assert_eq!(claimed.record.verified_by, None);
    assert!(
        store
            .claim_domain(b, "bigcorp.example", TOKEN_B, BASE)
            .await
            .unwrap()
            .created
    );
    // Claiming again keeps the first token.
    let again = store
        .claim_domain(a, "bigcorp.example", TOKEN_B, BASE)
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.record.token.as_deref(), Some(TOKEN_A));
    assert_eq!(store.org_for_domain("bigcorp.example").await.unwrap(), None);
    assert!(store.verified_domains(a).await.unwrap().is_empty());
    assert_eq!(store.count_domain_claims(a).await.unwrap(), 1);

    // B proves it: B's domain now, and A cannot prove it too.
    let next = BASE + Duration::hours(24);
    let verified = store
        .verify_domain_claim(b, "bigcorp.example", VerifiedBy::Dns, Some(next), BASE)
        .await
        .unwrap();
    assert_eq!(verified.state, DomainState::Verified);
    assert_eq!(verified.verified_by, Some(VerifiedBy::Dns));
    assert_eq!(verified.verified_at, Some(BASE));
    assert_eq!(verified.next_check_at, Some(next));
    assert_eq!(verified.check_result.as_deref(), Some("verified"));
    assert_eq!(
        store.org_for_domain("bigcorp.example").await.unwrap(),
        Some(b)
    );
    assert_eq!(
        reason(
            store
                .verify_domain_claim(a, "bigcorp.example", VerifiedBy::Dns, Some(next), BASE)
                .await
        ),
        "conflict"
    );
    // The operator path cannot take it either, by a claim or without one.
    assert_eq!(
        reason(store.add_verified_domain(a, "bigcorp.example", BASE).await),
        "conflict"
    );
    let c = store.create_org("C", Plan::Growth, BASE).await.unwrap().id;
    assert_eq!(
        reason(store.add_verified_domain(c, "bigcorp.example", BASE).await),
        "conflict"
    );
    // A's claim is still there, pending.
    let a_claim = store
        .domain_claim(a, "bigcorp.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a_claim.state, DomainState::Pending);
    assert_eq!(store.domain_claims(a).await.unwrap(), [a_claim]);

    // Dropped back to pending only at the failure count asked for.
    for _ in 0..2 {
        store
            .record_domain_check(
                b,
                "bigcorp.example",
                "domain-record-missing",
                CheckCount::Increment,
                Some(next),
                BASE,
            )
            .await
            .unwrap();
    }
    assert!(
        !store
            .unverify_domain(b, "bigcorp.example", 3)
            .await
            .unwrap()
    );
    assert!(
        store
            .unverify_domain(b, "bigcorp.example", 2)
            .await
            .unwrap()
    );
    let dropped = store
        .domain_claim(b, "bigcorp.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(dropped.state, DomainState::Pending);
    assert_eq!((dropped.verified_by, dropped.verified_at), (None, None));
    assert_eq!(dropped.token.as_deref(), Some(TOKEN_B));
    assert_eq!(store.org_for_domain("bigcorp.example").await.unwrap(), None);

    // Now A may prove it.
    store
        .verify_domain_claim(a, "bigcorp.example", VerifiedBy::Dns, Some(next), BASE)
        .await
        .unwrap();
    assert_eq!(
        store.org_for_domain("bigcorp.example").await.unwrap(),
        Some(a)
    );
    assert_eq!(
        store.verified_domains(a).await.unwrap(),
        ["bigcorp.example"]
    );
}

async fn rechecks_are_scheduled_and_claimed_once(db: TestDb) {
    let store = Db(db).connect().await;
    let (a, b) = two_orgs(&store).await;
    let day = Duration::hours(24);
    store
        .claim_domain(a, "a.example", TOKEN_A, BASE)
        .await
        .unwrap();
    store
        .verify_domain_claim(a, "a.example", VerifiedBy::Dns, Some(BASE + day), BASE)
        .await
        .unwrap();
    // The operator's domains are never re-checked, nor are pending claims.
    store
        .add_verified_domain(b, "b.example", BASE)
        .await
        .unwrap();
    store
        .claim_domain(b, "c.example", TOKEN_B, BASE)
        .await
        .unwrap();
    // An operator-added domain gets a token when claimed, and stays verified.
    let vouched = store
        .claim_domain(b, "b.example", TOKEN_B, BASE)
        .await
        .unwrap();
    assert_eq!(
        (vouched.record.state, vouched.record.verified_by),
        (DomainState::Verified, Some(VerifiedBy::Operator))
    );
    assert_eq!(vouched.record.token.as_deref(), Some(TOKEN_B));

    assert!(
        store
            .due_domain_checks(BASE + day - Duration::SECOND, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let due = store.due_domain_checks(BASE + day, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].org, due[0].domain.as_str()), (a, "a.example"));
    // Two servers: one claims it.
    let later = BASE + day + day;
    assert!(store.claim_domain_check(&due[0], later).await.unwrap());
    assert!(!store.claim_domain_check(&due[0], later).await.unwrap());
    assert!(
        store
            .due_domain_checks(BASE + day, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // A failed lookup keeps the count; a missing record adds one; a success resets it.
    let check = |count, result: &'static str| {
        let store = &store;
        async move {
            store
                .record_domain_check(a, "a.example", result, count, Some(later), BASE + day)
                .await
                .unwrap()
                .check_failures
        }
    };
    assert_eq!(
        check(CheckCount::Increment, "domain-record-missing").await,
        1
    );
    assert_eq!(check(CheckCount::Keep, "domain-lookup-timeout").await, 1);
    assert_eq!(
        check(CheckCount::Increment, "domain-token-mismatch").await,
        2
    );
    let ok = store
        .record_domain_check(
            a,
            "a.example",
            "still-verified",
            CheckCount::Reset,
            Some(later),
            BASE + day,
        )
        .await
        .unwrap();
    assert_eq!(ok.check_failures, 0);
    assert_eq!(ok.checked_at, Some(BASE + day));
    assert_eq!(ok.check_result.as_deref(), Some("still-verified"));
    assert_eq!(ok.next_check_at, Some(later));

    // Removing a claim, pending or verified, deletes the org's row only.
    assert!(store.remove_verified_domain(b, "c.example").await.unwrap());
    assert!(!store.remove_verified_domain(b, "c.example").await.unwrap());
    assert_eq!(
        reason(
            store
                .claim_domain(OrgId::new(999_999), "x.example", TOKEN_A, BASE)
                .await
        ),
        "not-found"
    );
}
