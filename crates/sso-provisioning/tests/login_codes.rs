//! Single-use login codes and return targets, on both backends.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::LazyLock;

use sso_policy::{Plan, Role};
use sso_provisioning::{
    LoginCode, LoginError, LoginOutcome, Provisioner, RedeemError, SSO_LOGIN_CODE,
};
use sso_store::entity::login_code;
use sso_store::sea_orm::{EntityTrait, PaginatorTrait};
use sso_store::{EventQuery, OrgId};
use sso_testkit::idp::{BASE_URL, Idp, Response};
use sso_testkit::{TestDb, on_both_backends};
use time::{Duration, OffsetDateTime, macros::datetime};

const BASE: OffsetDateTime = datetime!(2025-03-01 09:00 UTC);
const ADMIN: &str = "admin@example.com";

static IDP: LazyLock<Idp> = LazyLock::new(|| Idp::generate("idp.test codes"));

fn at(seconds: i64) -> OffsetDateTime {
    BASE + Duration::seconds(seconds)
}

async fn sso_org(p: &Provisioner) -> OrgId {
    let org = p
        .create_org(ADMIN, "Example", Plan::Growth, BASE)
        .await
        .unwrap()
        .id;
    p.add_verified_domain(ADMIN, org, "example.com", BASE)
        .await
        .unwrap();
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

async fn login(
    p: &Provisioner,
    org: OrgId,
    email: &str,
    t: i64,
) -> Result<(LoginOutcome, LoginCode), LoginError> {
    let start = p.begin_login(org, Some("/home"), at(t)).await.unwrap();
    let raw = IDP.response(
        &Response::new(org, &format!("_c{t}_{}", start.request_id), email, at(t))
            .answering(&start.request_id),
    );
    p.complete_login_with_code(org, &raw, Some(&start.relay_state), at(t))
        .await
}

async fn codes_stored(p: &Provisioner) -> u64 {
    login_code::Entity::find()
        .count(p.store().connection())
        .await
        .unwrap()
}

on_both_backends!(
    a_code_redeems_once_for_the_same_login,
    codes_expire_and_are_purged,
    a_refused_login_issues_no_code,
    racing_redemptions_have_one_winner,
    return_targets_are_checked,
);

async fn a_code_redeems_once_for_the_same_login(db: TestDb) {
    let p = Provisioner::new(db.connect().await, BASE_URL);
    let org = sso_org(&p).await;
    let (outcome, code) = login(&p, org, "ann@example.com", 10).await.unwrap();
    assert_eq!(code.expires_at(), at(70));
    // Only the hash is stored.
    let row = login_code::Entity::find()
        .one(p.store().connection())
        .await
        .unwrap()
        .unwrap();
    assert_ne!(row.code_hash, code.as_str());
    assert!(!row.code_hash.contains(code.as_str()));

    let redeemed = p.redeem_login_code(code.as_str(), at(20)).await.unwrap();
    assert_eq!(redeemed, outcome);
    assert_eq!(redeemed.return_target.as_deref(), Some("/home"));
    assert!(redeemed.membership_created);
    assert_eq!(redeemed.role, Role::Member);

    let again = p
        .redeem_login_code(code.as_str(), at(21))
        .await
        .unwrap_err();
    assert!(matches!(again, RedeemError::Used), "{again:?}");
    assert_eq!(again.reason(), "login-code-used");
    let reuse = p
        .list_traces(org, &EventQuery::new(10).kind(SSO_LOGIN_CODE))
        .await
        .unwrap()
        .events;
    assert_eq!(reuse.len(), 1);
    assert_eq!(reuse[0].reason, "login-code-used");

    for forged in ["", "x", &code.as_str()[1..], &"A".repeat(10_000)] {
        let e = p.redeem_login_code(forged, at(22)).await.unwrap_err();
        assert!(matches!(e, RedeemError::Unknown), "{forged:?}: {e:?}");
    }
}

async fn codes_expire_and_are_purged(db: TestDb) {
    let p =
        Provisioner::new(db.connect().await, BASE_URL).with_code_lifetime(Duration::seconds(30));
    let org = sso_org(&p).await;
    let (_, code) = login(&p, org, "ann@example.com", 10).await.unwrap();
    let late = p
        .redeem_login_code(code.as_str(), at(40))
        .await
        .unwrap_err();
    assert!(matches!(late, RedeemError::Expired), "{late:?}");
    assert_eq!(codes_stored(&p).await, 1);
    let purged = p.store().purge_expired(at(41)).await.unwrap();
    assert_eq!(purged.login_codes, 1);
    assert_eq!(codes_stored(&p).await, 0);
    let gone = p
        .redeem_login_code(code.as_str(), at(42))
        .await
        .unwrap_err();
    assert!(matches!(gone, RedeemError::Unknown), "{gone:?}");
}

async fn a_refused_login_issues_no_code(db: TestDb) {
    let p = Provisioner::new(db.connect().await, BASE_URL);
    let org = sso_org(&p).await;
    let refused = login(&p, org, "eve@elsewhere.example", 10)
        .await
        .unwrap_err();
    assert_eq!(refused.reason(), "domain-not-verified");
    assert_eq!(codes_stored(&p).await, 0);
}

async fn racing_redemptions_have_one_winner(db: TestDb) {
    let p = Provisioner::new(db.connect().await, BASE_URL);
    let org = sso_org(&p).await;
    let (_, code) = login(&p, org, "ann@example.com", 10).await.unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let p = p.clone();
            let code = code.as_str().to_owned();
            tokio::spawn(async move { p.redeem_login_code(&code, at(20)).await })
        })
        .collect();
    let mut won = 0;
    let mut used = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => won += 1,
            Err(RedeemError::Used) => used += 1,
            Err(e) => panic!("unexpected: {e:?}"),
        }
    }
    assert_eq!((won, used), (1, 15));
}

async fn return_targets_are_checked(db: TestDb) {
    let store = db.connect().await;
    let open = Provisioner::new(store.clone(), BASE_URL);
    let org = sso_org(&open).await;
    let strict = Provisioner::new(store, BASE_URL)
        .with_return_origins(["https://App.example.com/".to_owned()]);
    let reason = |r: Result<sso_provisioning::LoginStart, LoginError>| match r {
        Ok(_) => "ok".to_owned(),
        Err(e) => e.reason().to_owned(),
    };
    let long = format!("/{}", "a".repeat(3000));
    for (target, open_verdict, strict_verdict) in [
        ("/reports/7?tab=1", "ok", "ok"),
        ("https://app.example.com/after", "ok", "ok"),
        (
            "https://evil.example/after",
            "ok",
            "return-target-not-allowed",
        ),
        (
            "https://app.example.com:8443/after",
            "ok",
            "return-target-not-allowed",
        ),
        (
            "//evil.example/after",
            "return-target-not-allowed",
            "return-target-not-allowed",
        ),
        (
            "/\\evil.example",
            "return-target-not-allowed",
            "return-target-not-allowed",
        ),
        (
            "javascript:alert(1)",
            "return-target-not-allowed",
            "return-target-not-allowed",
        ),
        (
            "https://user:pw@app.example.com/",
            "return-target-not-allowed",
            "return-target-not-allowed",
        ),
        (
            "relative/path",
            "return-target-not-allowed",
            "return-target-not-allowed",
        ),
        (
            "/line\nbreak",
            "return-target-not-allowed",
            "return-target-not-allowed",
        ),
        (
            long.as_str(),
            "return-target-not-allowed",
            "return-target-not-allowed",
        ),
    ] {
        assert_eq!(
            reason(open.begin_login(org, Some(target), at(5)).await),
            open_verdict,
            "{target}"
        );
        assert_eq!(
            reason(strict.begin_login(org, Some(target), at(5)).await),
            strict_verdict,
            "{target}"
        );
    }
}
