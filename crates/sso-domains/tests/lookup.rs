//! The TXT lookup against a real DNS server on loopback (dnsmasq, from `sso-testkit`): every
//! outcome a claim's check can have, never a mocked resolver.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use sso_domains::{CheckError, ClaimToken, TxtLookup};
use sso_testkit::dns::{SilentDns, TestDns};

const NAME: &str = "_sso-verification.acme.example";

fn token(hex: &str) -> ClaimToken {
    ClaimToken::parse(hex).unwrap()
}

fn lookup(dns: std::net::SocketAddr) -> TxtLookup {
    TxtLookup::builder()
        .name_server(dns)
        .timeout(Duration::from_millis(500))
        .build()
}

#[tokio::test]
async fn a_published_token_proves_the_claim_and_only_that_claim() {
    let ours = token("00112233445566778899aabbccddeeff");
    let theirs = token("ffeeddccbbaa99887766554433221100");
    let value = ours.record_value();
    // Other TXT values at the name and other claims' tokens stand beside ours.
    let dns = TestDns::start(&[
        (NAME, "v=spf1 -all"),
        (NAME, value.as_str()),
        (NAME, "sso-verification=0123456789abcdef0123456789abcdef"),
    ]);
    let lookup = lookup(dns.addr());
    lookup.check("acme.example", &ours).await.unwrap();
    lookup.check("ACME.example.", &ours).await.unwrap();
    let wrong = lookup.check("acme.example", &theirs).await.unwrap_err();
    assert_eq!(
        wrong,
        CheckError::TokenMismatch {
            name: NAME.into(),
            found: 2
        }
    );
    assert_eq!(wrong.reason(), "domain-token-mismatch");
    assert!(wrong.is_definitive());
}

#[tokio::test]
async fn no_name_no_txt_record_and_no_verification_value_are_all_a_missing_record() {
    let ours = token("00112233445566778899aabbccddeeff");
    let dns = TestDns::start(&[
        ("_sso-verification.spf-only.example", "v=spf1 -all"),
        (
            "other.example",
            "sso-verification=00112233445566778899aabbccddeeff",
        ),
    ]);
    let lookup = lookup(dns.addr());
    for domain in ["acme.example", "spf-only.example"] {
        let missing = lookup.check(domain, &ours).await.unwrap_err();
        assert_eq!(
            missing.reason(),
            "domain-record-missing",
            "{domain}: {missing}"
        );
        assert!(missing.is_definitive());
    }
    // The apex is never looked at: a token published at the domain itself proves nothing.
    let apex = lookup.check("other.example", &ours).await.unwrap_err();
    assert_eq!(apex.reason(), "domain-record-missing");
}

#[tokio::test]
async fn a_removed_record_is_seen_at_once() {
    let ours = token("00112233445566778899aabbccddeeff");
    let value = ours.record_value();
    let mut dns = TestDns::start(&[(NAME, value.as_str())]);
    let lookup = lookup(dns.addr());
    lookup.check("acme.example", &ours).await.unwrap();
    dns.set_records(&[]);
    let gone = lookup.check("acme.example", &ours).await.unwrap_err();
    assert_eq!(gone.reason(), "domain-record-missing");
    dns.set_records(&[(NAME, value.as_str())]);
    lookup.check("acme.example", &ours).await.unwrap();
}

#[tokio::test]
async fn a_failing_name_server_is_a_lookup_failure_not_a_missing_record() {
    let ours = token("00112233445566778899aabbccddeeff");
    let dns = TestDns::start_refusing(&[]);
    let failed = lookup(dns.addr())
        .check("acme.example", &ours)
        .await
        .unwrap_err();
    assert_eq!(failed.reason(), "domain-lookup-failed", "{failed}");
    assert!(!failed.is_definitive());
}

#[tokio::test]
async fn a_silent_name_server_times_out_within_the_bound() {
    let ours = token("00112233445566778899aabbccddeeff");
    let silent = SilentDns::start();
    let started = Instant::now();
    let timed_out = lookup(silent.addr())
        .check("acme.example", &ours)
        .await
        .unwrap_err();
    assert_eq!(timed_out.reason(), "domain-lookup-timeout", "{timed_out}");
    assert!(!timed_out.is_definitive());
    // Two attempts of 500 ms and a second of slack at most.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}
