//! IdP metadata with a pinned signing certificate, on both backends: imports (by URL and
//! inline) verify the root's signature first and refuse with a precise reason; refreshes of a
//! tampered, unsigned or expired document keep the working configuration and trace why;
//! `validUntil` and `cacheDuration` schedule the next refresh.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::{Arc, LazyLock, Mutex};

use sso_assertion::Certificate;
use sso_fetch::{Fetcher, danger};
use sso_policy::{Plan, Role};
use sso_provisioning::{AdminError, Provisioner, RefreshOutcome, kinds};
use sso_store::{EventOutcome, EventQuery, EventRecord, OrgId};
use sso_testkit::idp::{BASE_URL, IDP_SSO_URL, Idp, Response};
use sso_testkit::{TestDb, on_both_backends};
use time::{Duration, OffsetDateTime, macros::datetime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const BASE: OffsetDateTime = datetime!(2025-03-01 09:00 UTC);
const ADMIN: &str = "admin@example.com";
const HOUR: Duration = Duration::hours(1);

/// The IdP whose metadata is published, the key that signs it, and a stranger.
static IDP: LazyLock<Idp> = LazyLock::new(|| Idp::generate("idp.test signing"));
static PUBLISHER: LazyLock<Idp> = LazyLock::new(|| Idp::generate("metadata publisher"));
static STRANGER: LazyLock<Idp> = LazyLock::new(|| Idp::generate("someone else"));

fn at(seconds: i64) -> OffsetDateTime {
    BASE + Duration::seconds(seconds)
}

/// The IdP's metadata with `attrs` on its root, signed by `signer`.
fn signed_by(signer: &Idp, attrs: &str) -> Vec<u8> {
    let xml =
        IDP.metadata_with_id()
            .replacen("ID=\"_metadata\"", &format!("ID=\"_metadata\"{attrs}"), 1);
    signer.sign_metadata_with_xmlsec1(&xml, "_metadata")
}

/// Signed metadata changed after signing: another SSO URL and another IdP certificate.
fn tampered() -> Vec<u8> {
    let signed = String::from_utf8(signed_by(&PUBLISHER, "")).unwrap();
    let idp_cert = Certificate::from_pem_or_base64(&IDP.certificate_pem()).unwrap();
    let evil_cert = Certificate::from_pem_or_base64(&STRANGER.certificate_pem()).unwrap();
    let changed = signed
        .replace(IDP_SSO_URL, "https://evil.example/sso")
        .replace(&idp_cert.to_base64(), &evil_cert.to_base64());
    assert_ne!(changed, signed);
    changed.into_bytes()
}

/// What the metadata server answers, changed by the test.
#[derive(Clone)]
struct Served(Arc<Mutex<Vec<u8>>>);

impl Served {
    fn set(&self, body: &[u8]) {
        *self.0.lock().unwrap() = body.to_vec();
    }
}

/// A local HTTP server answering every request with what `Served` holds.
async fn metadata_server(initial: &[u8]) -> (String, Served) {
    let served = Served(Arc::new(Mutex::new(initial.to_vec())));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metadata", listener.local_addr().unwrap());
    let state = served.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let body = state.0.lock().unwrap().clone();
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
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
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

async fn events(p: &Provisioner, org: OrgId, kind: &str) -> Vec<EventRecord> {
    p.list_traces(org, &EventQuery::new(100).kind(kind))
        .await
        .unwrap()
        .events
}

/// An Enterprise org with a verified domain, and no connection yet.
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

async fn import(
    p: &Provisioner,
    org: OrgId,
    url: &str,
    interval: Option<Duration>,
    pin: &Idp,
    now: OffsetDateTime,
) -> Result<sso_provisioning::ImportedFromUrl, AdminError> {
    let pem = pin.certificate_pem();
    p.import_idp_metadata_from_url_pinned(
        &fetcher(),
        ADMIN,
        org,
        url,
        None,
        interval,
        Some(&pem),
        now,
    )
    .await
}

fn fingerprint(idp: &Idp) -> String {
    Certificate::from_pem_or_base64(&idp.certificate_pem())
        .unwrap()
        .fingerprint()
        .to_string()
}

on_both_backends!(
    pinned_import_from_url,
    refresh_keeps_the_configuration_when_the_signature_fails,
    inline_import_with_a_pin,
    lifetime_schedules_refreshes,
);

async fn pinned_import_from_url(db: TestDb) {
    let p = Provisioner::new(db.connect().await, BASE_URL);
    let org = org(&p).await;
    let (url, served) = metadata_server(&IDP.metadata()).await;

    // Unsigned, tampered, or signed by someone else: refused, nothing stored.
    for (body, reason) in [
        (IDP.metadata(), "metadata-unsigned"),
        (tampered(), "metadata-signature-invalid"),
        (signed_by(&STRANGER, ""), "metadata-untrusted-key"),
    ] {
        served.set(&body);
        let error = import(&p, org, &url, Some(HOUR), &PUBLISHER, BASE)
            .await
            .unwrap_err();
        assert_eq!(error.reason(), reason, "{error}");
        assert!(p.connection(org).await.is_err(), "{reason}: nothing stored");
        let audit = &events(&p, org, kinds::METADATA_IMPORTED).await[0];
        assert_eq!(
            (audit.outcome, audit.reason.as_str()),
            (EventOutcome::Refused, reason)
        );
        assert_eq!(audit.detail["signing_certificate"], fingerprint(&PUBLISHER));
    }
    // A pin that is not a certificate.
    let error = p
        .import_idp_metadata_from_url_pinned(
            &fetcher(),
            ADMIN,
            org,
            &url,
            None,
            None,
            Some("not a certificate"),
            BASE,
        )
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "invalid-certificate");

    // Signed by the pinned key: imported, and the pin is kept with the URL.
    served.set(&signed_by(&PUBLISHER, ""));
    let imported = import(&p, org, &url, Some(HOUR), &PUBLISHER, BASE)
        .await
        .unwrap();
    let pinned = imported
        .source
        .source
        .signing_certificate
        .as_deref()
        .unwrap();
    assert_eq!(
        Certificate::from_pem_or_base64(pinned)
            .unwrap()
            .fingerprint()
            .to_string(),
        fingerprint(&PUBLISHER)
    );
    let connection = &imported.imported.connection;
    assert_eq!(connection.idp.sso_url.as_deref(), Some(IDP_SSO_URL));
    let audit = &events(&p, org, kinds::METADATA_IMPORTED).await[0];
    assert_eq!(audit.outcome, EventOutcome::Success);
    assert_eq!(audit.detail["trust"]["signed_by"], fingerprint(&PUBLISHER));
    let source = p.metadata_source(org).await.unwrap().unwrap();
    assert_eq!(source.source.signing_certificate.as_deref(), Some(pinned));

    // The same URL imported without a pin drops it.
    p.import_idp_metadata_from_url(&fetcher(), ADMIN, org, &url, None, None, BASE)
        .await
        .unwrap();
    let source = p.metadata_source(org).await.unwrap().unwrap();
    assert_eq!(source.source.signing_certificate, None);
}

async fn refresh_keeps_the_configuration_when_the_signature_fails(db: TestDb) {
    let p = Provisioner::new(db.connect().await, BASE_URL);
    let org = org(&p).await;
    let (url, served) = metadata_server(&signed_by(&PUBLISHER, "")).await;
    import(&p, org, &url, Some(HOUR), &PUBLISHER, BASE)
        .await
        .unwrap();
    p.set_connection_enabled(ADMIN, org, true, BASE)
        .await
        .unwrap();
    let _ = p
        .set_jit(ADMIN, org, Some(Role::Member), &[], BASE)
        .await
        .unwrap();
    let before = p.connection(org).await.unwrap();

    // By an admin: the document was changed after signing.
    served.set(&tampered());
    let outcome = p
        .refresh_idp_metadata(&fetcher(), ADMIN, org, at(60))
        .await
        .unwrap();
    let RefreshOutcome::Failed(error) = &outcome else {
        panic!("expected a failure, got {outcome:?}");
    };
    assert_eq!(error.reason(), "metadata-signature-invalid");
    assert_eq!(p.connection(org).await.unwrap(), before);
    let trace = &events(&p, org, kinds::METADATA_REFRESHED).await[0];
    assert_eq!(
        (trace.outcome, trace.reason.as_str()),
        (EventOutcome::Refused, "metadata-signature-invalid")
    );
    assert!(
        trace.detail["error"]
            .as_str()
            .unwrap()
            .contains("digest-mismatch"),
        "{}",
        trace.detail
    );
    assert_eq!(
        trace.detail["kept"]["config_version"],
        before.config_version
    );

    // On the schedule: the document is no longer signed.
    served.set(&IDP.metadata());
    let done = p.refresh_due_metadata(&fetcher(), at(3600)).await.unwrap();
    assert!(
        matches!(&done[..], [(o, RefreshOutcome::Failed(e))] if *o == org && e.reason() == "metadata-unsigned"),
        "{done:?}"
    );
    assert_eq!(p.connection(org).await.unwrap(), before);
    let source = p.metadata_source(org).await.unwrap().unwrap();
    assert_eq!(source.refresh_reason.as_deref(), Some("metadata-unsigned"));
    assert_eq!(
        events(&p, org, kinds::METADATA_REFRESHED).await[0].reason,
        "metadata-unsigned"
    );

    // Still working: a login with the kept configuration succeeds.
    let start = p.begin_login(org, None, at(3700)).await.unwrap();
    let raw = IDP.response(
        &Response::new(org, "_a1", "jane@example.com", at(3700)).answering(&start.request_id),
    );
    p.complete_login(org, &raw, Some(&start.relay_state), at(3700))
        .await
        .unwrap();

    // Properly signed again: the refresh goes through.
    served.set(&signed_by(&PUBLISHER, ""));
    let outcome = p
        .refresh_idp_metadata(&fetcher(), ADMIN, org, at(3800))
        .await
        .unwrap();
    assert_eq!(outcome.reason(), "unchanged");
}

async fn inline_import_with_a_pin(db: TestDb) {
    let p = Provisioner::new(db.connect().await, BASE_URL);
    let org = org(&p).await;
    let pem = PUBLISHER.certificate_pem();
    let import_inline = async |xml: &[u8], pin: Option<&str>| {
        p.import_idp_metadata_pinned(ADMIN, org, xml, None, pin, BASE)
            .await
    };
    let error = import_inline(&IDP.metadata(), Some(&pem))
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "metadata-unsigned");
    let error = import_inline(&tampered(), Some(&pem)).await.unwrap_err();
    assert_eq!(error.reason(), "metadata-signature-invalid");
    assert!(p.connection(org).await.is_err());
    let audit = &events(&p, org, kinds::METADATA_IMPORTED).await[0];
    assert_eq!(audit.reason, "metadata-signature-invalid");

    let imported = import_inline(&signed_by(&PUBLISHER, ""), Some(&pem))
        .await
        .unwrap();
    assert_eq!(
        imported.connection.idp.sso_url.as_deref(),
        Some(IDP_SSO_URL)
    );
    let audit = &events(&p, org, kinds::METADATA_IMPORTED).await[0];
    assert_eq!(audit.detail["trust"]["signed_by"], fingerprint(&PUBLISHER));
    // Without a pin the signature is not checked, so a tampered copy goes in unverified.
    let unchecked = import_inline(&tampered(), None).await.unwrap();
    assert_eq!(
        unchecked.connection.idp.sso_url.as_deref(),
        Some("https://evil.example/sso")
    );
    let audit = &events(&p, org, kinds::METADATA_IMPORTED).await[0];
    assert_eq!(audit.detail["trust"]["signed_by"], serde_json::Value::Null);

    // Past validUntil (signed or not, on the root or only on an entity of an aggregate):
    // refused, inline as well.
    let expired = signed_by(&PUBLISHER, " validUntil=\"2025-02-01T00:00:00Z\"");
    let error = import_inline(&expired, Some(&pem)).await.unwrap_err();
    assert_eq!(error.reason(), "metadata-expired");
    let entity = String::from_utf8(IDP.metadata()).unwrap().replacen(
        "<md:EntityDescriptor ",
        "<md:EntityDescriptor validUntil=\"2025-02-01T00:00:00Z\" ",
        1,
    );
    let aggregate = format!(
        "<md:EntitiesDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" \
         validUntil=\"2030-01-01T00:00:00Z\">{}</md:EntitiesDescriptor>",
        entity.trim_start_matches(|c| c != '<')
    );
    let error = import_inline(aggregate.as_bytes(), None).await.unwrap_err();
    assert_eq!(error.reason(), "metadata-expired");
}

async fn lifetime_schedules_refreshes(db: TestDb) {
    let p = Provisioner::new(db.connect().await, BASE_URL);
    let org = org(&p).await;
    let lifetime = " validUntil=\"2025-03-02T09:00:00Z\" cacheDuration=\"PT10M\"";
    let (url, served) = metadata_server(&signed_by(&PUBLISHER, lifetime)).await;

    // No periodic refresh: the lifetime is recorded and shown, nothing is scheduled.
    let imported = import(&p, org, &url, None, &PUBLISHER, BASE).await.unwrap();
    let validity = imported.source.validity;
    assert_eq!(validity.valid_until, Some(datetime!(2025-03-02 09:00 UTC)));
    assert_eq!(validity.cache_duration, Some(Duration::minutes(10)));
    assert_eq!(imported.source.next_refresh_at, None);

    // Hourly refresh: the cache duration brings the first one to ten minutes.
    let imported = import(&p, org, &url, Some(HOUR), &PUBLISHER, BASE)
        .await
        .unwrap();
    assert_eq!(imported.source.next_refresh_at, Some(at(600)));
    let done = p.refresh_due_metadata(&fetcher(), at(600)).await.unwrap();
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0].1.reason(), "unchanged");
    let state = p.metadata_source(org).await.unwrap().unwrap();
    assert_eq!(state.next_refresh_at, Some(at(1200)));

    // A validUntil that is not a date and time is refused, and changes nothing.
    served.set(&signed_by(&PUBLISHER, " validUntil=\"soon\""));
    let outcome = p
        .refresh_idp_metadata(&fetcher(), ADMIN, org, at(1000))
        .await
        .unwrap();
    assert_eq!(outcome.reason(), "metadata-invalid-valid-until");
    assert_eq!(
        p.metadata_source(org)
            .await
            .unwrap()
            .unwrap()
            .next_refresh_at,
        Some(at(1200))
    );

    // validUntil sooner than the interval: the next refresh comes no later than it.
    served.set(&signed_by(
        &PUBLISHER,
        " validUntil=\"2025-03-01T09:30:00Z\"",
    ));
    let done = p.refresh_due_metadata(&fetcher(), at(1200)).await.unwrap();
    assert_eq!(done[0].1.reason(), "unchanged", "{done:?}");
    let state = p.metadata_source(org).await.unwrap().unwrap();
    assert_eq!(state.next_refresh_at, Some(at(1800)));
    assert_eq!(state.validity.cache_duration, None);

    // Then, past validUntil, the same document is refused and the configuration kept.
    let before = p.connection(org).await.unwrap();
    let done = p.refresh_due_metadata(&fetcher(), at(1800)).await.unwrap();
    assert_eq!(done[0].1.reason(), "metadata-expired", "{done:?}");
    assert_eq!(p.connection(org).await.unwrap(), before);
}
