//! IdP metadata by URL (import, periodic refresh) and certificate rollover, on both backends.
//! The IdP's metadata is served by a local HTTP server; the fetcher allows loopback for it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::{Arc, LazyLock, Mutex};

use sso_assertion::IdpMetadata;
use sso_fetch::{Fetcher, danger};
use sso_policy::{Plan, Role};
use sso_provisioning::{
    AdminError, LoginError, LoginOutcome, Provisioner, REFRESH_ACTOR, RefreshOutcome, kinds,
};
use sso_store::{EventOutcome, EventQuery, EventRecord, OrgId};
use sso_testkit::idp::{BASE_URL, IDP_ENTITY, Idp, Response};
use sso_testkit::{TestDb, on_both_backends};
use time::{Duration, OffsetDateTime, macros::datetime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const BASE: OffsetDateTime = datetime!(2025-03-01 09:00 UTC);
const ADMIN: &str = "admin@example.com";
const HOUR: Duration = Duration::hours(1);

static OLD: LazyLock<Idp> = LazyLock::new(|| Idp::generate("idp.test 2024"));
static NEW: LazyLock<Idp> = LazyLock::new(|| Idp::generate("idp.test 2025"));

fn at(seconds: i64) -> OffsetDateTime {
    BASE + Duration::seconds(seconds)
}

/// What the metadata server answers: a status and a body, changed by the test.
#[derive(Clone)]
struct Served(Arc<Mutex<(u16, Vec<u8>)>>);

impl Served {
    fn set(&self, status: u16, body: &[u8]) {
        *self.0.lock().unwrap() = (status, body.to_vec());
    }
}

/// A local HTTP server answering every request with what `Served` holds.
async fn metadata_server(initial: &[u8]) -> (String, Served) {
    let served = Served(Arc::new(Mutex::new((200, initial.to_vec()))));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/idp/metadata", listener.local_addr().unwrap());
    let state = served.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (status, body) = state.0.lock().unwrap().clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let mut raw = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                raw.extend_from_slice(&body);
                let _ = stream.write_all(&raw).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (url, served)
}

fn fetcher() -> Fetcher {
    danger::allow_loopback(Fetcher::builder()).build()
}

/// Metadata listing the signing certificates of `idps`, in order.
fn metadata_with(idps: &[&Idp]) -> Vec<u8> {
    let first = String::from_utf8(idps[0].metadata()).unwrap();
    let descriptor = |idp: &Idp| {
        let text = String::from_utf8(idp.metadata()).unwrap();
        let start = text.find("<md:KeyDescriptor").unwrap();
        let end = text.find("</md:KeyDescriptor>").unwrap() + "</md:KeyDescriptor>".len();
        text[start..end].to_owned()
    };
    let keys: String = idps.iter().map(|idp| descriptor(idp)).collect();
    let start = first.find("<md:KeyDescriptor").unwrap();
    let end = first.find("</md:KeyDescriptor>").unwrap() + "</md:KeyDescriptor>".len();
    format!("{}{keys}{}", &first[..start], &first[end..]).into_bytes()
}

fn fingerprint(idp: &Idp) -> String {
    IdpMetadata::from_xml(&idp.metadata())
        .unwrap()
        .signing_certificates[0]
        .fingerprint()
        .to_string()
}

fn certificate_pem(idp: &Idp) -> String {
    let b64 = IdpMetadata::from_xml(&idp.metadata())
        .unwrap()
        .signing_certificates[0]
        .to_base64();
    format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n")
}

async fn fingerprints(p: &Provisioner, org: OrgId) -> Vec<String> {
    let connection = p.store().connection_for_org(org).await.unwrap();
    connection
        .idp
        .certificates
        .iter()
        .map(|pem| {
            sso_assertion::Certificate::from_pem_or_base64(pem)
                .unwrap()
                .fingerprint()
                .to_string()
        })
        .collect()
}

async fn events(p: &Provisioner, org: OrgId, kind: &str) -> Vec<EventRecord> {
    p.list_traces(org, &EventQuery::new(100).kind(kind))
        .await
        .unwrap()
        .events
}

/// An Enterprise org with a verified domain and JIT on, and no connection yet.
async fn org(p: &Provisioner) -> OrgId {
    let org = p
        .create_org(ADMIN, "Example", Plan::Enterprise, BASE)
        .await
        .unwrap()
        .id;
    p.add_verified_domain(ADMIN, org, "example.com", BASE)
        .await
        .unwrap();
    org
}

async fn enable(p: &Provisioner, org: OrgId) {
    p.set_connection_enabled(ADMIN, org, true, BASE)
        .await
        .unwrap();
    let _ = p
        .set_jit(ADMIN, org, Some(Role::Member), &[], BASE)
        .await
        .unwrap();
}

/// An SP-initiated login answered by `idp`'s key, at `t`.
async fn login(p: &Provisioner, idp: &Idp, org: OrgId, t: i64) -> Result<LoginOutcome, LoginError> {
    let start = p.begin_login(org, None, at(t)).await.unwrap();
    let raw = idp.response(
        &Response::new(
            org,
            &format!("_a{t}_{}", start.request_id),
            "jane@example.com",
            at(t),
        )
        .answering(&start.request_id),
    );
    p.complete_login(org, &raw, Some(&start.relay_state), at(t))
        .await
}

on_both_backends!(
    import_from_url,
    refresh_good_unchanged_and_broken,
    due_refreshes_are_claimed_once,
    rollover_by_admin_calls,
    another_server_sees_a_certificate_change_at_once,
);

/// Each server keeps the validation settings it built, but only while the connection row it
/// reads for the login still says what they were built from: a key removed through one server
/// is refused by the other on its very next login.
async fn another_server_sees_a_certificate_change_at_once(db: TestDb) {
    let store = db.connect().await;
    let one = Provisioner::new(store.clone(), BASE_URL);
    let two = Provisioner::new(store, BASE_URL);
    let org = org(&one).await;
    one.import_idp_metadata(ADMIN, org, &OLD.metadata(), BASE)
        .await
        .unwrap();
    enable(&one, org).await;
    one.add_connection_certificate(ADMIN, org, &certificate_pem(&NEW), at(5))
        .await
        .unwrap();
    // Both servers have built settings trusting both keys.
    login(&one, &OLD, org, 10).await.unwrap();
    login(&two, &OLD, org, 20).await.unwrap();
    login(&two, &NEW, org, 30).await.unwrap();

    let old = fingerprint(&OLD).replace(':', "");
    one.remove_connection_certificate(ADMIN, org, &old, at(40))
        .await
        .unwrap();
    let refused = login(&two, &OLD, org, 50).await.unwrap_err();
    assert_eq!(refused.reason(), "signature-invalid", "{refused}");
    login(&two, &NEW, org, 60).await.unwrap();
}

async fn import_from_url(db: TestDb) {
    let p = Provisioner::new(db.connect().await, BASE_URL);
    let org = org(&p).await;
    let (url, served) = metadata_server(&OLD.metadata()).await;

    // The default fetcher refuses plain HTTP (and loopback): nothing is imported.
    let refused = p
        .import_idp_metadata_from_url(&Fetcher::default(), ADMIN, org, &url, None, None, BASE)
        .await
        .unwrap_err();
    assert_eq!(refused.reason(), "metadata-url-scheme");
    assert!(p.store().connection_for_org(org).await.is_err());
    let audit = &events(&p, org, kinds::METADATA_IMPORTED).await[0];
    assert_eq!(
        (audit.outcome, audit.reason.as_str()),
        (EventOutcome::Refused, "metadata-url-scheme")
    );

    // An interval outside 5 minutes .. 30 days is refused before fetching.
    let short = p
        .import_idp_metadata_from_url(
            &fetcher(),
            ADMIN,
            org,
            &url,
            None,
            Some(Duration::seconds(10)),
            BASE,
        )
        .await
        .unwrap_err();
    assert_eq!(short.reason(), "invalid-input");

    let imported = p
        .import_idp_metadata_from_url(&fetcher(), ADMIN, org, &url, None, Some(HOUR), BASE)
        .await
        .unwrap();
    let connection = &imported.imported.connection;
    assert_eq!(connection.idp.entity_id, IDP_ENTITY);
    assert_eq!(connection.idp.metadata_url.as_deref(), Some(url.as_str()));
    assert_eq!(connection.config_version, 1);
    assert_eq!(fingerprints(&p, org).await, [fingerprint(&OLD)]);
    assert_eq!(imported.source.source.refresh_interval, Some(HOUR));
    assert_eq!(imported.source.next_refresh_at, Some(BASE + HOUR));
    let audit = &events(&p, org, kinds::METADATA_IMPORTED).await[0];
    assert_eq!(
        (audit.outcome, audit.reason.as_str()),
        (EventOutcome::Success, "created")
    );
    assert_eq!(audit.detail["url"], url.as_str());
    enable(&p, org).await;
    login(&p, &OLD, org, 10).await.unwrap();

    // An aggregate describing two IdPs: refused without an entity ID, imported with one.
    let other = String::from_utf8(NEW.metadata())
        .unwrap()
        .replace(IDP_ENTITY, "https://other.test/metadata");
    let aggregate = format!(
        r#"<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">{other}{}</md:EntitiesDescriptor>"#,
        String::from_utf8(OLD.metadata()).unwrap()
    );
    served.set(200, aggregate.as_bytes());
    let ambiguous = p
        .import_idp_metadata_from_url(&fetcher(), ADMIN, org, &url, None, None, at(20))
        .await
        .unwrap_err();
    assert_eq!(ambiguous.reason(), "ambiguous-entity");
    let chosen = p
        .import_idp_metadata_from_url(
            &fetcher(),
            ADMIN,
            org,
            &url,
            Some("https://other.test/metadata"),
            None,
            at(30),
        )
        .await
        .unwrap();
    assert_eq!(
        chosen.imported.connection.idp.entity_id,
        "https://other.test/metadata"
    );
    assert_eq!(fingerprints(&p, org).await, [fingerprint(&NEW)]);
    assert_eq!(
        chosen.source.source.entity_id.as_deref(),
        Some("https://other.test/metadata")
    );
    // No interval: no periodic refresh.
    assert_eq!(chosen.source.next_refresh_at, None);

    // Expired metadata (validUntil past) is refused; the connection keeps what it has.
    let expired = String::from_utf8(OLD.metadata()).unwrap().replacen(
        "<md:EntityDescriptor ",
        r#"<md:EntityDescriptor validUntil="2025-02-01T00:00:00Z" "#,
        1,
    );
    served.set(200, expired.as_bytes());
    let error = p
        .import_idp_metadata_from_url(&fetcher(), ADMIN, org, &url, None, None, at(40))
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "metadata-expired");
    assert_eq!(fingerprints(&p, org).await, [fingerprint(&NEW)]);
}

async fn refresh_good_unchanged_and_broken(db: TestDb) {
    let p = Provisioner::new(db.connect().await, BASE_URL);
    let org = org(&p).await;
    let (url, served) = metadata_server(&OLD.metadata()).await;
    p.import_idp_metadata_from_url(&fetcher(), ADMIN, org, &url, None, Some(HOUR), BASE)
        .await
        .unwrap();
    enable(&p, org).await;
    login(&p, &OLD, org, 10).await.unwrap();
    let version = |c: &sso_store::ConnectionRecord| c.config_version;
    let v1 = version(&p.store().connection_for_org(org).await.unwrap());

    // Nothing is due before the interval has passed.
    let early = p.refresh_due_metadata(&fetcher(), at(1800)).await.unwrap();
    assert!(early.is_empty());

    // Unchanged: same certificates and SSO URL; no configuration change.
    let done = p.refresh_due_metadata(&fetcher(), at(3600)).await.unwrap();
    assert_eq!(done.len(), 1);
    assert!(matches!(done[0], (o, RefreshOutcome::Unchanged(_)) if o == org));
    let after = p.store().connection_for_org(org).await.unwrap();
    assert_eq!(version(&after), v1);
    assert!(
        after.last_successful_login_at.is_some(),
        "an unchanged refresh keeps the proof of a working configuration"
    );
    let state = p
        .store()
        .metadata_refresh_state(org)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.next_refresh_at, Some(at(3600) + HOUR));
    assert_eq!(state.refresh_reason.as_deref(), Some("unchanged"));

    // Good new metadata: the IdP publishes its next key beside the current one.
    served.set(200, &metadata_with(&[&OLD, &NEW]));
    let changed = p
        .refresh_idp_metadata(&fetcher(), ADMIN, org, at(4000))
        .await
        .unwrap();
    let RefreshOutcome::Changed(connection) = changed else {
        panic!("expected a change, got {changed:?}");
    };
    assert_eq!(connection.config_version, v1 + 1);
    assert_eq!(
        fingerprints(&p, org).await,
        [fingerprint(&OLD), fingerprint(&NEW)]
    );
    login(&p, &OLD, org, 4010).await.unwrap();
    login(&p, &NEW, org, 4020).await.unwrap();

    // The same keys listed the other way round: a set, so unchanged, still proven.
    served.set(200, &metadata_with(&[&NEW, &OLD]));
    let reordered = p
        .refresh_idp_metadata(&fetcher(), ADMIN, org, at(4030))
        .await
        .unwrap();
    let RefreshOutcome::Unchanged(connection) = reordered else {
        panic!("expected no change, got {reordered:?}");
    };
    assert_eq!(connection.config_version, v1 + 1);
    assert_eq!(connection.last_successful_login_at, Some(at(4010)));

    // The IdP drops the old key.
    served.set(200, &NEW.metadata());
    let done = p.refresh_due_metadata(&fetcher(), at(7200)).await.unwrap();
    assert!(matches!(done[0].1, RefreshOutcome::Changed(_)));
    assert_eq!(fingerprints(&p, org).await, [fingerprint(&NEW)]);
    let v3 = version(&p.store().connection_for_org(org).await.unwrap());

    // Broken metadata, an error status, and metadata for another entity: each is a recorded
    // failure, and the working configuration stays.
    let broken: [(u16, Vec<u8>, &str); 4] = [
        (200, b"<md:EntityDescriptor".to_vec(), "metadata-malformed"),
        (
            503,
            b"down for maintenance".to_vec(),
            "metadata-http-status",
        ),
        (
            200,
            String::from_utf8(NEW.metadata())
                .unwrap()
                .replace(IDP_ENTITY, "https://impostor.test/")
                .into_bytes(),
            "entity-not-found",
        ),
        (
            200,
            String::from_utf8(NEW.metadata())
                .unwrap()
                .replace(
                    "<md:KeyDescriptor use=\"signing\">",
                    "<md:KeyDescriptor use=\"encryption\">",
                )
                .into_bytes(),
            "no-signing-certificate",
        ),
    ];
    for (i, (status, body, reason)) in broken.iter().enumerate() {
        served.set(*status, body);
        let t = 7300 + 100 * i64::try_from(i).unwrap();
        let outcome = p
            .refresh_idp_metadata(&fetcher(), ADMIN, org, at(t))
            .await
            .unwrap();
        let RefreshOutcome::Failed(error) = &outcome else {
            panic!("expected a failure for {reason}, got {outcome:?}");
        };
        let got = error.reason();
        // The XML layer may name the malformation more precisely.
        assert!(
            got == *reason || (*reason == "metadata-malformed" && got.contains("xml")),
            "{reason}: {got} ({error})"
        );
        assert_eq!(fingerprints(&p, org).await, [fingerprint(&NEW)], "{reason}");
        assert_eq!(
            version(&p.store().connection_for_org(org).await.unwrap()),
            v3
        );
        login(&p, &NEW, org, t + 10).await.unwrap();
    }

    // Every refresh left an event the admin can list, newest first.
    let refreshes = events(&p, org, kinds::METADATA_REFRESHED).await;
    let seen: Vec<(EventOutcome, &str, Option<&str>)> = refreshes
        .iter()
        .map(|e| (e.outcome, e.reason.as_str(), e.actor.as_deref()))
        .collect();
    assert_eq!(seen.len(), 8, "{seen:?}");
    assert_eq!(
        seen[7],
        (EventOutcome::Success, "unchanged", Some(REFRESH_ACTOR))
    );
    assert_eq!(seen[6], (EventOutcome::Success, "changed", Some(ADMIN)));
    assert_eq!(seen[5], (EventOutcome::Success, "unchanged", Some(ADMIN)));
    assert_eq!(
        seen[4],
        (EventOutcome::Success, "changed", Some(REFRESH_ACTOR))
    );
    assert_eq!(seen[2].0, EventOutcome::Failed, "an HTTP 503 is a failure");
    for failed in &refreshes[..4] {
        assert_ne!(failed.outcome, EventOutcome::Success);
        assert_eq!(
            failed.detail["kept"]["certificates"][0],
            fingerprint(&NEW).as_str()
        );
        assert!(failed.detail["error"].as_str().unwrap().len() > 10);
    }
    let changed = &refreshes[6];
    assert_eq!(
        changed.detail["previous"]["certificates"][0],
        fingerprint(&OLD).as_str()
    );
    assert_eq!(changed.detail["certificates"].as_array().unwrap().len(), 2);

    // A connection whose metadata came as XML has nothing to refresh. The XML says what the
    // connection has: no configuration change, but the source is now the XML.
    login(&p, &NEW, org, 8000).await.unwrap();
    let inline = p
        .import_idp_metadata(ADMIN, org, &NEW.metadata(), at(9000))
        .await
        .unwrap();
    assert_eq!(inline.connection.config_version, v3);
    assert_eq!(inline.connection.last_successful_login_at, Some(at(8000)));
    assert_eq!(inline.connection.idp.metadata_url, None);
    assert_eq!(p.metadata_source(org).await.unwrap(), None);
    let audit = &events(&p, org, kinds::METADATA_IMPORTED).await[0];
    assert_eq!(audit.reason, "unchanged");
    let none = p
        .refresh_idp_metadata(&fetcher(), ADMIN, org, at(9100))
        .await
        .unwrap_err();
    assert!(matches!(none, AdminError::NoMetadataUrl), "{none}");
    assert!(
        p.refresh_due_metadata(&fetcher(), at(99_999))
            .await
            .unwrap()
            .is_empty()
    );

    // The same metadata by URL again: unchanged, still proven, and the URL is the source.
    served.set(200, &NEW.metadata());
    let by_url = p
        .import_idp_metadata_from_url(&fetcher(), ADMIN, org, &url, None, None, at(9200))
        .await
        .unwrap();
    assert_eq!(by_url.imported.connection.config_version, v3);
    assert_eq!(
        by_url.imported.connection.last_successful_login_at,
        Some(at(8000))
    );
    assert_eq!(by_url.source.source.url, url);
    let audit = &events(&p, org, kinds::METADATA_IMPORTED).await[0];
    assert_eq!(audit.reason, "unchanged");
}

async fn due_refreshes_are_claimed_once(db: TestDb) {
    let p = Provisioner::new(db.connect().await, BASE_URL);
    let org = org(&p).await;
    let (url, _served) = metadata_server(&OLD.metadata()).await;
    p.import_idp_metadata_from_url(&fetcher(), ADMIN, org, &url, None, Some(HOUR), BASE)
        .await
        .unwrap();
    // Two servers see the same due refresh; only the first claim wins.
    let due = p
        .store()
        .due_metadata_refreshes(at(3600), 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].due_at, BASE + HOUR);
    assert!(
        p.store()
            .claim_metadata_refresh(&due[0], at(3600))
            .await
            .unwrap()
    );
    assert!(
        !p.store()
            .claim_metadata_refresh(&due[0], at(3601))
            .await
            .unwrap()
    );
    assert!(
        p.store()
            .due_metadata_refreshes(at(3601), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Two passes at once run it once.
    let fetcher = fetcher();
    let (a, b) = tokio::join!(
        p.refresh_due_metadata(&fetcher, at(7200)),
        p.refresh_due_metadata(&fetcher, at(7200)),
    );
    assert_eq!(a.unwrap().len() + b.unwrap().len(), 1);
    assert_eq!(events(&p, org, kinds::METADATA_REFRESHED).await.len(), 1);
}

async fn rollover_by_admin_calls(db: TestDb) {
    let p = Provisioner::new(db.connect().await, BASE_URL);
    let org = org(&p).await;
    p.import_idp_metadata(ADMIN, org, &OLD.metadata(), BASE)
        .await
        .unwrap();
    enable(&p, org).await;
    login(&p, &OLD, org, 10).await.unwrap();
    let v1 = p
        .store()
        .connection_for_org(org)
        .await
        .unwrap()
        .config_version;

    // Not a certificate: refused, audited.
    let bad = p
        .add_connection_certificate(
            ADMIN,
            org,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
            at(20),
        )
        .await
        .unwrap_err();
    assert_eq!(bad.reason(), "invalid-certificate");

    // Both keys trusted: logins signed by either succeed.
    let added = p
        .add_connection_certificate(ADMIN, org, &certificate_pem(&NEW), at(30))
        .await
        .unwrap();
    assert_eq!(added.config_version, v1 + 1);
    assert_eq!(
        fingerprints(&p, org).await,
        [fingerprint(&OLD), fingerprint(&NEW)]
    );
    // Adding it again changes nothing.
    let again = p
        .add_connection_certificate(ADMIN, org, &certificate_pem(&NEW), at(35))
        .await
        .unwrap();
    assert_eq!(again.config_version, v1 + 1);
    login(&p, &OLD, org, 40).await.unwrap();
    login(&p, &NEW, org, 50).await.unwrap();
    login(&p, &OLD, org, 60).await.unwrap();
    // No login failed during the rollover.
    let logins = events(&p, org, sso_provisioning::SSO_LOGIN).await;
    assert_eq!(logins.len(), 4);
    assert!(logins.iter().all(|e| e.outcome == EventOutcome::Success));

    // Unknown fingerprints, malformed ones, and the last certificate are refused.
    let unknown = p
        .remove_connection_certificate(ADMIN, org, &"00".repeat(32), at(70))
        .await
        .unwrap_err();
    assert_eq!(unknown.reason(), "certificate-not-found");
    let malformed = p
        .remove_connection_certificate(ADMIN, org, "abc", at(70))
        .await
        .unwrap_err();
    assert_eq!(malformed.reason(), "invalid-input");

    // One call removes the old key (typed in lower case without colons, as consoles show it).
    let old = fingerprint(&OLD).replace(':', "").to_ascii_lowercase();
    let removed = p
        .remove_connection_certificate(ADMIN, org, &old, at(80))
        .await
        .unwrap();
    assert_eq!(removed.config_version, v1 + 2);
    assert_eq!(fingerprints(&p, org).await, [fingerprint(&NEW)]);
    let refused = login(&p, &OLD, org, 90).await.unwrap_err();
    assert_eq!(refused.reason(), "signature-invalid", "{refused}");
    assert!(
        refused.to_string().contains(&fingerprint(&NEW)),
        "{refused}"
    );
    login(&p, &NEW, org, 100).await.unwrap();

    let last = p
        .remove_connection_certificate(ADMIN, org, &fingerprint(&NEW), at(110))
        .await
        .unwrap_err();
    assert_eq!(last.reason(), "last-certificate");
    assert_eq!(fingerprints(&p, org).await, [fingerprint(&NEW)]);

    // The audit trail names each step.
    let added: Vec<_> = events(&p, org, kinds::CERTIFICATE_ADDED)
        .await
        .iter()
        .map(|e| (e.outcome, e.reason.clone()))
        .collect();
    assert_eq!(
        added,
        [
            (EventOutcome::Success, "already-trusted".to_owned()),
            (EventOutcome::Success, "added".to_owned()),
            (EventOutcome::Refused, "invalid-certificate".to_owned()),
        ]
    );
    let removed: Vec<_> = events(&p, org, kinds::CERTIFICATE_REMOVED)
        .await
        .iter()
        .map(|e| (e.outcome, e.reason.clone()))
        .collect();
    assert_eq!(
        removed,
        [
            (EventOutcome::Refused, "last-certificate".to_owned()),
            (EventOutcome::Success, "removed".to_owned()),
            (EventOutcome::Refused, "invalid-input".to_owned()),
            (EventOutcome::Refused, "certificate-not-found".to_owned()),
        ]
    );
}
