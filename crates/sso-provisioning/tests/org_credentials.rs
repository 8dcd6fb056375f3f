//! Org-scoped admin credentials on both backends: only a hash is stored, the check accepts
//! the secret alone, and expiry and revocation end it; creation and revocation are audited.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sso_policy::Plan;
use sso_provisioning::{
    CredentialError, DEFAULT_CREDENTIAL_TTL, EventQuery, MAX_CREDENTIAL_TTL, OrgCredentialId,
    OrgId, Provisioner, kinds,
};
use sso_store::entity::{audit_event, org_credential};
use sso_store::sea_orm::EntityTrait;
use sso_testkit::idp::BASE_URL;
use sso_testkit::{TestDb, on_both_backends};
use time::{Duration, OffsetDateTime, macros::datetime};

const BASE: OffsetDateTime = datetime!(2025-03-01 09:00 UTC);
const OPERATOR: &str = "ops@example.com";

fn at(seconds: i64) -> OffsetDateTime {
    BASE + Duration::seconds(seconds)
}

async fn provisioner(db: &TestDb) -> Provisioner {
    Provisioner::new(db.connect().await, BASE_URL)
}

async fn org(p: &Provisioner, name: &str) -> OrgId {
    p.create_org(OPERATOR, name, Plan::Growth, BASE)
        .await
        .unwrap()
        .id
}

/// What follows `sso_org_<id>_` (the secret may contain `_` itself).
fn secret_part(token: &str) -> &str {
    let rest = token.strip_prefix("sso_org_").unwrap();
    rest.split_once('_').unwrap().1
}

on_both_backends!(
    only_the_hash_is_stored,
    the_secret_alone_authenticates,
    expiry,
    revocation,
    bounds_and_refusals,
);

async fn only_the_hash_is_stored(db: TestDb) {
    let p = provisioner(&db).await;
    let org = org(&p, "Example").await;
    let issued = p
        .create_org_credential(OPERATOR, org, " terraform ", None, at(0))
        .await
        .unwrap();
    let secret = issued.secret().to_owned();
    let id = issued.credential.id;
    assert!(
        secret.starts_with(&format!("sso_org_{id}_")),
        "{secret} names its id"
    );
    let secret_part = secret_part(&secret);
    assert_eq!(secret_part.len(), 43, "256 random bits: {secret}");
    assert!(!format!("{issued:?}").contains(secret_part));
    assert_eq!(issued.credential.description, "terraform");
    assert_eq!(issued.credential.created_by, OPERATOR);
    assert_eq!(issued.credential.expires_at, at(0) + DEFAULT_CREDENTIAL_TTL);
    assert_eq!(issued.credential.revoked_at, None);

    // Neither the token nor its secret part is anywhere in the database: the row holds a
    // SHA-256, and the audit event names the credential only.
    let conn = p.store().connection();
    let rows = org_credential::Entity::find().all(conn).await.unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.secret_hash.len(), 64);
    assert_ne!(row.secret_hash, secret_part);
    let events = audit_event::Entity::find().all(conn).await.unwrap();
    let everything = format!("{rows:?} {events:?}");
    assert!(!everything.contains(secret_part), "{everything}");

    let created = p
        .list_traces(org, &EventQuery::new(10).kind(kinds::CREDENTIAL_CREATED))
        .await
        .unwrap();
    assert_eq!(created.events.len(), 1);
    let event = &created.events[0];
    assert_eq!(event.actor.as_deref(), Some(OPERATOR));
    assert_eq!(event.reason, "created");
    assert_eq!(event.detail["credential"], id.get());
    assert_eq!(event.detail["description"], "terraform");

    // Listing shows it, without anything secret (the type has no such field).
    let listed = p.list_org_credentials(org).await.unwrap();
    assert_eq!(listed, vec![issued.credential.clone()]);
}

async fn the_secret_alone_authenticates(db: TestDb) {
    let p = provisioner(&db).await;
    let a = org(&p, "A").await;
    let b = org(&p, "B").await;
    let issued = p
        .create_org_credential(OPERATOR, a, "ci", None, at(0))
        .await
        .unwrap();
    let other = p
        .create_org_credential(OPERATOR, b, "ci", None, at(0))
        .await
        .unwrap();
    let caller = p
        .authenticate_org_credential(issued.secret(), at(1))
        .await
        .unwrap();
    assert_eq!(caller.org, a);
    assert_eq!(caller.credential, issued.credential.id);
    assert_eq!(
        caller.actor(),
        format!("org-credential:{}", caller.credential)
    );
    assert_eq!(
        p.authenticate_org_credential(other.secret(), at(1))
            .await
            .unwrap()
            .org,
        b
    );

    // A changed character, the other credential's secret under this id, an unknown id, or
    // garbage: one refusal, which says nothing more.
    let secret = issued.secret();
    let mut flipped = secret.to_owned();
    let last = flipped.pop().unwrap();
    flipped.push(if last == 'A' { 'B' } else { 'A' });
    let other_secret = secret_part(other.secret());
    let swapped = format!("sso_org_{}_{other_secret}", issued.credential.id);
    let unknown_id = secret.replacen(
        &format!("sso_org_{}_", issued.credential.id),
        "sso_org_999999_",
        1,
    );
    for bad in [
        flipped.as_str(),
        swapped.as_str(),
        unknown_id.as_str(),
        "sso_org_",
        "sso_org_1",
        "nonsense",
    ] {
        let error = p.authenticate_org_credential(bad, at(1)).await.unwrap_err();
        assert!(matches!(error, CredentialError::Unknown), "{bad}: {error}");
        assert_eq!(error.reason(), "unauthenticated");
    }
}

async fn expiry(db: TestDb) {
    let p = provisioner(&db).await;
    let a = org(&p, "A").await;
    let issued = p
        .create_org_credential(OPERATOR, a, "short", Some(Duration::seconds(60)), at(0))
        .await
        .unwrap();
    assert_eq!(issued.credential.expires_at, at(60));
    assert!(
        p.authenticate_org_credential(issued.secret(), at(59))
            .await
            .is_ok()
    );
    for t in [60, 61, 86_400] {
        let error = p
            .authenticate_org_credential(issued.secret(), at(t))
            .await
            .unwrap_err();
        assert!(matches!(error, CredentialError::Expired), "{t}: {error}");
        assert_eq!(error.reason(), "credential-expired");
    }
    // A wrong secret for an expired credential is still just unknown.
    let wrong = format!("sso_org_{}_not-the-secret", issued.credential.id);
    assert!(matches!(
        p.authenticate_org_credential(&wrong, at(61)).await,
        Err(CredentialError::Unknown)
    ));
}

async fn revocation(db: TestDb) {
    let p = provisioner(&db).await;
    let a = org(&p, "A").await;
    let b = org(&p, "B").await;
    let issued = p
        .create_org_credential(OPERATOR, a, "to revoke", None, at(0))
        .await
        .unwrap();
    let kept = p
        .create_org_credential(OPERATOR, a, "kept", None, at(0))
        .await
        .unwrap();
    let id = issued.credential.id;

    // Another org cannot name it: not found, and nothing changes.
    let error = p
        .revoke_org_credential(OPERATOR, b, id, at(5))
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "not-found");
    assert!(
        p.authenticate_org_credential(issued.secret(), at(6))
            .await
            .is_ok()
    );
    let error = p
        .revoke_org_credential(OPERATOR, a, OrgCredentialId::new(999_999), at(5))
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "not-found");

    let revoked = p
        .revoke_org_credential("org-credential:9", a, id, at(10))
        .await
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(at(10)));
    let error = p
        .authenticate_org_credential(issued.secret(), at(11))
        .await
        .unwrap_err();
    assert!(matches!(error, CredentialError::Revoked), "{error}");
    assert_eq!(error.reason(), "credential-revoked");
    // The other credential of the org is untouched.
    assert!(
        p.authenticate_org_credential(kept.secret(), at(11))
            .await
            .is_ok()
    );

    // Again: no change, the first revocation time stays.
    let again = p
        .revoke_org_credential(OPERATOR, a, id, at(20))
        .await
        .unwrap();
    assert_eq!(again.revoked_at, Some(at(10)));

    let events = p
        .list_traces(a, &EventQuery::new(10).kind(kinds::CREDENTIAL_REVOKED))
        .await
        .unwrap()
        .events;
    let seen: Vec<(&str, &str, Option<&str>)> = events
        .iter()
        .map(|e| (e.outcome.code(), e.reason.as_str(), e.actor.as_deref()))
        .collect();
    assert_eq!(
        seen,
        [
            ("success", "already-revoked", Some(OPERATOR)),
            ("success", "revoked", Some("org-credential:9")),
            ("refused", "not-found", Some(OPERATOR)),
        ]
    );
    // The refusal on org B is in org B's events.
    let on_b = p
        .list_traces(b, &EventQuery::new(10).kind(kinds::CREDENTIAL_REVOKED))
        .await
        .unwrap()
        .events;
    assert_eq!(on_b.len(), 1);
    assert_eq!(on_b[0].reason, "not-found");

    // Newest first, revoked ones listed too.
    let listed = p.list_org_credentials(a).await.unwrap();
    let ids: Vec<_> = listed.iter().map(|c| (c.id, c.revoked_at)).collect();
    assert_eq!(ids, [(kept.credential.id, None), (id, Some(at(10)))]);
    assert!(p.list_org_credentials(b).await.unwrap().is_empty());
}

async fn bounds_and_refusals(db: TestDb) {
    let p = provisioner(&db).await;
    let a = org(&p, "A").await;
    for ttl in [
        Duration::ZERO,
        Duration::seconds(-1),
        MAX_CREDENTIAL_TTL + Duration::seconds(1),
    ] {
        let error = p
            .create_org_credential(OPERATOR, a, "x", Some(ttl), at(0))
            .await
            .unwrap_err();
        assert_eq!(error.reason(), "invalid-input", "{ttl}");
    }
    let longest = p
        .create_org_credential(OPERATOR, a, "a year", Some(MAX_CREDENTIAL_TTL), at(0))
        .await
        .unwrap();
    assert_eq!(longest.credential.expires_at, at(0) + MAX_CREDENTIAL_TTL);
    for description in ["", "   ", &"d".repeat(201)] {
        let error = p
            .create_org_credential(OPERATOR, a, description, None, at(0))
            .await
            .unwrap_err();
        assert_eq!(error.reason(), "invalid-input");
    }
    let missing = OrgId::new(999_999);
    let error = p
        .create_org_credential(OPERATOR, missing, "x", None, at(0))
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "not-found");
    assert_eq!(
        p.list_org_credentials(missing).await.unwrap_err().reason(),
        "not-found"
    );
    // The refused creations were audited on the org, without a credential.
    let refused = p
        .list_traces(a, &EventQuery::new(20).kind(kinds::CREDENTIAL_CREATED))
        .await
        .unwrap()
        .events;
    let outcomes: Vec<&str> = refused.iter().map(|e| e.outcome.code()).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == "refused").count(), 6);
    assert_eq!(outcomes.iter().filter(|o| **o == "success").count(), 1);
}
