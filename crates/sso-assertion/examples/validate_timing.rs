//! Validation against the RSA floor on a shared machine: the floor, the parse, the signature
//! check and the whole validation are timed in turns, batch after batch, so a neighbour's load
//! falls on all of them alike (a bench that measures the floor once, then the rest, does not).
//! Prints the fastest and the median batch of each, and their ratio to the floor's.
//!
//! `cargo run --profile bench -p sso-assertion --example validate_timing -- 7KB 60`
//! `... -- 50KB 20`, and for a profiler, one step in a loop:
//! `... -- 7KB 2000 validate` (or `parse`, `verify`, `floor`). The response is the bench's
//! (`benches/validate.rs`), assertion signed, without a certificate in `KeyInfo` unless
//! `WITH_CERT` is set. See BENCHMARKS.md.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::indexing_slicing,
    missing_docs
)]

use std::hint::black_box;
use std::time::Instant;

use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::Rsa;
use sso_assertion::{Certificate, ConnectionConfig, ServiceProvider, ValidationContext, validate};
use sso_xml::{Document, Node};
use sso_xmldsig::{Signer, SigningKey, TrustedKey, TrustedKeys, Verifier};
use time::OffsetDateTime;
use time::macros::datetime;

const IDP: &str = "https://idp.bench.example/metadata";
const SP: &str = "https://sso.bench.example/saml/2/metadata/org_1";
const ACS: &str = "https://sso.bench.example/saml/2/acs/org_1";
const REQUEST: &str = "_a1b2c3d4e5f60718293a4b5c6d7e8f9011223344";
const NOW: OffsetDateTime = datetime!(2026-11-28 08:00:00 UTC);

/// The bench's response: like Entra ID's, grown with group claims to about `size` bytes.
fn response(size: usize) -> String {
    let mut attrs = String::new();
    for (name, value) in [
        (
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
            "ada@example.com",
        ),
        (
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
            "Ada",
        ),
        (
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
            "Lovelace",
        ),
        (
            "http://schemas.microsoft.com/identity/claims/tenantid",
            "7c0e1f3a-55aa-4d7e-9c1d-3b2a1f0e9d8c",
        ),
    ] {
        attrs.push_str(&format!(
            "<saml:Attribute Name=\"{name}\"><saml:AttributeValue>{value}</saml:AttributeValue></saml:Attribute>"
        ));
    }
    let mut i = 0;
    let base = 2600;
    while base + attrs.len() < size {
        attrs.push_str(&format!(
            "<saml:Attribute Name=\"http://schemas.microsoft.com/ws/2008/06/identity/claims/groups\">\
             <saml:AttributeValue>3f2a{i:04}-1c2d-4e5f-8a9b-0c1d2e3f4a5b</saml:AttributeValue></saml:Attribute>"
        ));
        i += 1;
    }
    format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r0f1e2d3c4b5a69788796a5b4c3d2e1f0" Version="2.0" IssueInstant="2026-11-28T07:59:58Z" Destination="{ACS}" InResponseTo="{REQUEST}"><saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">{IDP}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a9f8e7d6c5b4a39281706f5e4d3c2b1a0" Version="2.0" IssueInstant="2026-11-28T07:59:58Z"><saml:Issuer>{IDP}</saml:Issuer><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">ada@example.com</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData InResponseTo="{REQUEST}" NotOnOrAfter="2026-11-28T08:04:58Z" Recipient="{ACS}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="2026-11-28T07:54:58Z" NotOnOrAfter="2026-11-28T08:59:58Z"><saml:AudienceRestriction><saml:Audience>{SP}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AttributeStatement>{attrs}</saml:AttributeStatement><saml:AuthnStatement AuthnInstant="2026-11-28T07:59:50Z" SessionIndex="_s1"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement></saml:Assertion></samlp:Response>"#
    )
}

struct Setup {
    config: ConnectionConfig,
    verifier: Verifier,
    public: PKey<Public>,
    floor_data: Vec<u8>,
    floor_signature: Vec<u8>,
    input: Vec<u8>,
}

fn setup(size: usize) -> Setup {
    let key: PKey<Private> = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let der = sso_certgen::CertifiedKey::builder("idp.bench.example")
        .key(key.clone())
        .valid_days(0, 365)
        .build()
        .unwrap()
        .certificate_der()
        .to_vec();
    let pem = openssl::x509::X509::from_der(&der)
        .unwrap()
        .to_pem()
        .unwrap();
    let cert = Certificate::from_der(&der).unwrap();
    let config = ConnectionConfig::new(IDP, vec![cert], Vec::new(), ServiceProvider::new(SP, ACS));
    let verifier =
        Verifier::new(TrustedKeys::new().with(TrustedKey::from_certificate_der(&der).unwrap()));
    let mut signing = SigningKey::from_pkey(key.clone()).unwrap();
    if std::env::var_os("WITH_CERT").is_some() {
        signing = signing.with_certificate_pem(&pem).unwrap();
    }
    let xml = response(size).into_bytes();
    let doc = Document::parse(&xml).unwrap();
    let assertion = doc.root_element().child_elements().nth(2).unwrap();
    let input = Signer::new(signing).sign(assertion).unwrap();
    let floor_data = vec![b'x'; 700];
    let mut s = openssl::sign::Signer::new(MessageDigest::sha256(), &key).unwrap();
    s.update(&floor_data).unwrap();
    let floor_signature = s.sign_to_vec().unwrap();
    let public = PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap();
    Setup {
        config,
        verifier,
        public,
        floor_data,
        floor_signature,
        input,
    }
}

/// The same as the bench's floor: one RSA-2048 PKCS#1 v1.5 SHA-256 verification.
#[inline(never)]
fn floor(s: &Setup) {
    let mut v = openssl::sign::Verifier::new(MessageDigest::sha256(), &s.public).unwrap();
    v.update(black_box(&s.floor_data)).unwrap();
    assert!(v.verify(&s.floor_signature).unwrap());
}

#[inline(never)]
fn parse(s: &Setup) {
    black_box(Document::parse(black_box(&s.input)).unwrap());
}

#[inline(never)]
fn verify(s: &Setup, signed: Node<'_>) {
    s.verifier.verify(black_box(signed)).unwrap();
}

#[inline(never)]
fn run_validate(s: &Setup, ctx: &ValidationContext<'_>) {
    let v = validate(black_box(&s.input), &s.config, ctx).unwrap();
    assert_eq!(v.name_id().value, "ada@example.com");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let size = if args.get(1).map(String::as_str) == Some("50KB") {
        50 * 1024
    } else {
        7 * 1024
    };
    let rounds: usize = args.get(2).map_or(60, |n| n.parse().unwrap());
    let s = setup(size);
    let ctx = ValidationContext::new(NOW, &[REQUEST]);
    let doc = Document::parse(&s.input).unwrap();
    let signed = doc.root_element().child_elements().nth(2).unwrap();
    match args.get(3).map(String::as_str) {
        Some("floor") => (0..rounds).for_each(|_| floor(&s)),
        Some("parse") => (0..rounds).for_each(|_| parse(&s)),
        Some("verify") => (0..rounds).for_each(|_| verify(&s, signed)),
        Some("validate") => (0..rounds).for_each(|_| run_validate(&s, &ctx)),
        Some(other) => panic!("unknown step {other}"),
        None => timings(&s, &ctx, signed, rounds),
    }
}

/// Per-call microseconds of each step in `rounds` interleaved batches.
fn timings(s: &Setup, ctx: &ValidationContext<'_>, signed: Node<'_>, rounds: usize) {
    let batch = if s.input.len() > 20_000 { 4 } else { 20 };
    let mut times: [Vec<f64>; 4] = Default::default();
    let time = |runs: usize, f: &dyn Fn()| {
        let start = Instant::now();
        (0..runs).for_each(|_| f());
        start.elapsed().as_secs_f64() * 1e6 / runs as f64
    };
    for _ in 0..rounds {
        times[0].push(time(batch * 10, &|| floor(s)));
        times[1].push(time(batch, &|| parse(s)));
        times[2].push(time(batch, &|| verify(s, signed)));
        times[3].push(time(batch, &|| run_validate(s, ctx)));
    }
    for t in &mut times {
        t.sort_by(f64::total_cmp);
    }
    let (floor_min, floor_median) = (times[0][0], times[0][rounds / 2]);
    println!("{} bytes, {rounds} rounds", s.input.len());
    for (name, t) in ["floor", "parse", "verify", "validate"].iter().zip(&times) {
        let (min, median) = (t[0], t[rounds / 2]);
        println!(
            "{name:9} fastest {min:9.2} us ({:5.2}x)   median {median:9.2} us ({:5.2}x)",
            min / floor_min,
            median / floor_median
        );
    }
}
