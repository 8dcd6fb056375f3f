//! Setup links on both backends: only a hash is stored, the URL's token opens its own org's
//! pages and no other, expiry and revocation end it, abilities are kept, and creation,
//! revocation and changes made through a link are audited under the link's name.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sso_policy::Plan;
use sso_provisioning::{
    DEFAULT_SETUP_LINK_TTL, EventQuery, OrgId, Provisioner, SetupAbilities, SetupAbility,
    SetupLinkError, SetupLinkId, kinds,
};
use sso_store::entity::{audit_event, setup_link};
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

/// The token at the end of a link's URL.
fn token(url: &str) -> &str {
    url.rsplit_once("/link/").unwrap().1
}

on_both_backends!(
    the_url_names_the_org_and_only_a_hash_is_stored,
    the_token_opens_its_own_org_only,
    expiry_and_revocation_end_it,
    abilities_are_kept_and_bounds_hold,
    changes_through_a_link_name_it,
);

async fn the_url_names_the_org_and_only_a_hash_is_stored(db: TestDb) {
    let p = provisioner(&db).await;
    let org = org(&p, "Example").await;
    let issued = p
        .create_setup_link(OPERATOR, org, SetupAbilities::all(), None, at(0))
        .await
        .unwrap();
    let prefix = format!("{BASE_URL}/setup/{org}/link/sso_setup_{}_", issued.link.id);
    assert!(issued.url().starts_with(&prefix), "{}", issued.url());
    assert_eq!(issued.link.expires_at, at(0) + DEFAULT_SETUP_LINK_TTL);
    assert!(!format!("{issued:?}").contains(token(issued.url())));
    // The secret is base64url, so it may itself contain `_`: cut the known prefix off.
    let secret = token(issued.url())
        .strip_prefix(&format!("sso_setup_{}_", issued.link.id))
        .unwrap()
        .to_owned();
    assert_eq!(secret.len(), 43);

    let rows = setup_link::Entity::find()
        .all(db.connect().await.connection())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].secret_hash.len(), 64);
    assert!(!rows[0].secret_hash.contains(&secret));
    let events = audit_event::Entity::find()
        .all(db.connect().await.connection())
        .await
        .unwrap();
    for event in &events {
        assert!(!event.detail.to_string().contains(&secret), "{event:?}");
    }
    let created = p
        .list_traces(org, &EventQuery::new(10).kind(kinds::SETUP_LINK_CREATED))
        .await
        .unwrap();
    assert_eq!(created.events.len(), 1);
    assert_eq!(created.events[0].actor.as_deref(), Some(OPERATOR));
    assert_eq!(created.events[0].detail["setup_link"], issued.link.id.get());
}

async fn the_token_opens_its_own_org_only(db: TestDb) {
    let p = provisioner(&db).await;
    let a = org(&p, "A").await;
    let b = org(&p, "B").await;
    let issued = p
        .create_setup_link(OPERATOR, a, SetupAbilities::all(), None, at(0))
        .await
        .unwrap();
    let t = token(issued.url()).to_owned();
    let caller = p.authenticate_setup_link(&t, a, at(1)).await.unwrap();
    assert_eq!(caller.org, a);
    assert_eq!(caller.link, issued.link.id);
    assert_eq!(caller.actor(), format!("setup-link:{}", issued.link.id));

    let other = p.authenticate_setup_link(&t, b, at(1)).await.unwrap_err();
    assert!(matches!(other, SetupLinkError::WrongOrg), "{other:?}");
    assert_eq!(other.reason(), "setup-link-wrong-org");

    // A changed secret, a missing one, another id: one answer, telling nothing.
    let mut wrong = t.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == 'A' { 'B' } else { 'A' });
    let other_id = t.replacen(&format!("_{}_", issued.link.id), "_999_", 1);
    for bad in [wrong.as_str(), "sso_setup_1_", other_id.as_str(), ""] {
        let error = p.authenticate_setup_link(bad, a, at(1)).await.unwrap_err();
        assert_eq!(error.reason(), "unauthenticated", "{bad}");
    }
}

async fn expiry_and_revocation_end_it(db: TestDb) {
    let p = provisioner(&db).await;
    let org = org(&p, "Example").await;
    let short = p
        .create_setup_link(
            OPERATOR,
            org,
            SetupAbilities::all(),
            Some(Duration::seconds(60)),
            at(0),
        )
        .await
        .unwrap();
    let t = token(short.url()).to_owned();
    p.authenticate_setup_link(&t, org, at(59)).await.unwrap();
    let expired = p
        .authenticate_setup_link(&t, org, at(60))
        .await
        .unwrap_err();
    assert_eq!(expired.reason(), "setup-link-expired");

    let other = p
        .create_setup_link(OPERATOR, org, SetupAbilities::all(), None, at(0))
        .await
        .unwrap();
    let t = token(other.url()).to_owned();
    let revoked = p
        .revoke_setup_link(OPERATOR, org, other.link.id, at(10))
        .await
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(at(10)));
    let refused = p
        .authenticate_setup_link(&t, org, at(11))
        .await
        .unwrap_err();
    assert_eq!(refused.reason(), "setup-link-revoked");
    // Again: nothing changes, and the first time is kept.
    let again = p
        .revoke_setup_link(OPERATOR, org, other.link.id, at(20))
        .await
        .unwrap();
    assert_eq!(again.revoked_at, Some(at(10)));
    let events = p
        .list_traces(org, &EventQuery::new(10).kind(kinds::SETUP_LINK_REVOKED))
        .await
        .unwrap()
        .events;
    let reasons: Vec<&str> = events.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(reasons, ["already-revoked", "revoked"]);
    // Another org's link, or none, is not found.
    let b = self::org(&p, "B").await;
    let error = p
        .revoke_setup_link(OPERATOR, b, other.link.id, at(30))
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "not-found");
    let error = p
        .revoke_setup_link(OPERATOR, org, SetupLinkId::new(999), at(30))
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "not-found");
    // Listed newest first, revoked and expired ones included.
    let listed = p.list_setup_links(org).await.unwrap();
    let ids: Vec<SetupLinkId> = listed.iter().map(|l| l.id).collect();
    assert_eq!(ids, [other.link.id, short.link.id]);
}

async fn abilities_are_kept_and_bounds_hold(db: TestDb) {
    let p = provisioner(&db).await;
    let org = org(&p, "Example").await;
    let some = SetupAbilities::of(&[SetupAbility::Domains, SetupAbility::SignIns]);
    let issued = p
        .create_setup_link(OPERATOR, org, some, None, at(0))
        .await
        .unwrap();
    assert_eq!(issued.link.abilities, some);
    let caller = p
        .authenticate_setup_link(token(issued.url()), org, at(1))
        .await
        .unwrap();
    assert!(caller.require(SetupAbility::Domains).is_ok());
    let refused = caller.require(SetupAbility::RequireSso).unwrap_err();
    assert_eq!(refused.reason(), "setup-link-not-allowed");
    assert_eq!(p.list_setup_links(org).await.unwrap()[0].abilities, some);

    for ttl in [Duration::ZERO, Duration::days(31)] {
        let error = p
            .create_setup_link(OPERATOR, org, some, Some(ttl), at(0))
            .await
            .unwrap_err();
        assert_eq!(error.reason(), "invalid-input");
    }
    let error = p
        .create_setup_link(OPERATOR, OrgId::new(999), some, None, at(0))
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "not-found");
}

async fn changes_through_a_link_name_it(db: TestDb) {
    let p = provisioner(&db).await;
    let org = org(&p, "Example").await;
    let issued = p
        .create_setup_link(OPERATOR, org, SetupAbilities::all(), None, at(0))
        .await
        .unwrap();
    let caller = p
        .authenticate_setup_link(token(issued.url()), org, at(1))
        .await
        .unwrap();
    p.claim_domain(&caller.actor(), org, "example.com", at(2))
        .await
        .unwrap();
    let events = p
        .list_traces(org, &EventQuery::new(10).kind(kinds::DOMAIN_CLAIMED))
        .await
        .unwrap()
        .events;
    assert_eq!(
        events[0].actor.as_deref(),
        Some(format!("setup-link:{}", issued.link.id).as_str())
    );
}
