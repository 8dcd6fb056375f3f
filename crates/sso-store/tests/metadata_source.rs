//! A metadata source keeps its pinned signing certificate and what the metadata said about its
//! lifetime; the lifetime brings a periodic refresh forward, never back, on both backends.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sso_policy::Plan;
use sso_store::{
    IdpConfig, MIN_REFRESH_INTERVAL, MetadataSource, MetadataValidity, OrgId, RefreshState, Store,
};
use sso_testdb::{TestDb, on_both_backends};
use time::{Duration, OffsetDateTime, macros::datetime};

const BASE: OffsetDateTime = datetime!(2025-03-01 09:00 UTC);
const PIN: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

async fn connect(db: &TestDb) -> Store {
    Store::connect(&db.url)
        .await
        .unwrap_or_else(|e| panic!("connect to {}: {e}", db.url))
}

async fn org_from_url(store: &Store, name: &str) -> OrgId {
    let org = store
        .create_org(name, Plan::Enterprise, BASE)
        .await
        .unwrap()
        .id;
    let idp = IdpConfig {
        entity_id: "https://idp.example".into(),
        sso_url: Some("https://idp.example/sso".into()),
        certificates: vec![PIN.into()],
        metadata_xml: Some("<EntityDescriptor/>".into()),
        metadata_url: Some("https://idp.example/metadata".into()),
    };
    store.import_idp_metadata(org, &idp, BASE).await.unwrap();
    org
}

fn source(interval: Option<Duration>, pin: Option<&str>) -> MetadataSource {
    MetadataSource {
        url: "https://idp.example/metadata".into(),
        entity_id: None,
        refresh_interval: interval,
        signing_certificate: pin.map(str::to_owned),
    }
}

async fn state(store: &Store, org: OrgId) -> RefreshState {
    store.metadata_refresh_state(org).await.unwrap().unwrap()
}

on_both_backends!(pin_and_lifetime_are_kept, lifetime_brings_refreshes_forward);

async fn pin_and_lifetime_are_kept(db: TestDb) {
    let store = connect(&db).await;
    let org = org_from_url(&store, "Pinned").await;
    let set = store
        .set_metadata_source(org, &source(None, Some(PIN)), BASE)
        .await
        .unwrap();
    assert_eq!(set.source.signing_certificate.as_deref(), Some(PIN));
    assert_eq!(set.validity, MetadataValidity::default());

    let validity = MetadataValidity {
        valid_until: Some(datetime!(2025-04-01 00:00:00.123456 UTC)),
        cache_duration: Some(Duration::hours(6)),
    };
    store
        .record_metadata_validity(org, &validity, BASE)
        .await
        .unwrap();
    let now = state(&store, org).await;
    assert_eq!(now.validity, validity);
    // Without a periodic refresh, nothing is scheduled.
    assert_eq!(now.next_refresh_at, None);

    // A source without a pin forgets it.
    let unpinned = store
        .set_metadata_source(org, &source(None, None), BASE)
        .await
        .unwrap();
    assert_eq!(unpinned.source.signing_certificate, None);
    // Later metadata without a lifetime clears the recorded one.
    store
        .record_metadata_validity(org, &MetadataValidity::default(), BASE)
        .await
        .unwrap();
    assert_eq!(
        state(&store, org).await.validity,
        MetadataValidity::default()
    );
}

async fn lifetime_brings_refreshes_forward(db: TestDb) {
    let store = connect(&db).await;
    let org = org_from_url(&store, "Scheduled").await;
    let day = Some(Duration::days(1));
    let set = store
        .set_metadata_source(org, &source(day, None), BASE)
        .await
        .unwrap();
    assert_eq!(set.next_refresh_at, Some(BASE + Duration::days(1)));
    let record = async |valid_until: Option<OffsetDateTime>, cache: Option<Duration>| {
        let validity = MetadataValidity {
            valid_until,
            cache_duration: cache,
        };
        store
            .record_metadata_validity(org, &validity, BASE)
            .await
            .unwrap();
        state(&store, org).await.next_refresh_at
    };
    // A longer cache duration leaves the interval's schedule.
    assert_eq!(
        record(None, Some(Duration::days(7))).await,
        Some(BASE + Duration::days(1))
    );
    // cacheDuration PT6H: no later than six hours from now.
    assert_eq!(
        record(None, Some(Duration::hours(6))).await,
        Some(BASE + Duration::hours(6))
    );
    // validUntil in two hours: no later than that.
    assert_eq!(
        record(Some(BASE + Duration::hours(2)), Some(Duration::hours(6))).await,
        Some(BASE + Duration::hours(2))
    );
    // Never pushed back by a later, longer lifetime.
    assert_eq!(
        record(Some(BASE + Duration::days(30)), None).await,
        Some(BASE + Duration::hours(2))
    );
    // A cache duration of a second counts as the shortest refresh interval.
    store
        .set_metadata_source(org, &source(day, None), BASE)
        .await
        .unwrap();
    assert_eq!(
        record(None, Some(Duration::seconds(1))).await,
        Some(BASE + MIN_REFRESH_INTERVAL)
    );
}
