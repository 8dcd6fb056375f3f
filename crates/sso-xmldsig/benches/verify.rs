//! Whole verification of a signed SAML response (parse, reference checks, exclusive c14n,
//! SHA-256 digest, RSA-2048 signature) at ~7 KB and ~50 KB, beside the bare RSA-2048 SHA-256
//! verification floor measured in the same run.
//!
//! `cargo bench -p sso-xmldsig --bench verify`; figures in BENCHMARKS.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::LazyLock;

use divan::Bencher;
use divan::counter::BytesCount;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::Rsa;
use sso_xml::Document;
use sso_xmldsig::{Signer, SigningKey, TrustedKey, TrustedKeys, Verifier};

fn main() {
    divan::main();
}

struct Setup {
    public: PKey<Public>,
    verifier: Verifier,
    small: Vec<u8>,
    large: Vec<u8>,
    /// A canonical SignedInfo of the usual size and its signature, for the floor.
    signed_info: Vec<u8>,
    signature: Vec<u8>,
}

static SETUP: LazyLock<Setup> = LazyLock::new(|| {
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let public = PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap();
    let cert = self_signed(&key);
    let verifier =
        Verifier::new(TrustedKeys::new().with(TrustedKey::from_certificate_der(&cert).unwrap()));
    let sign = |size: usize| {
        let xml = response(size);
        let doc = Document::parse(xml.as_bytes()).unwrap();
        let signing = SigningKey::from_pkey(key.clone()).unwrap();
        Signer::new(signing).sign(doc.root_element()).unwrap()
    };
    let small = sign(7 * 1024);
    let large = sign(50 * 1024);
    // The floor signs and verifies a SignedInfo-sized input, like the real one.
    let signed_info = vec![b'x'; 700];
    let mut s = openssl::sign::Signer::new(MessageDigest::sha256(), &key).unwrap();
    s.update(&signed_info).unwrap();
    let signature = s.sign_to_vec().unwrap();
    Setup {
        public,
        verifier,
        small,
        large,
        signed_info,
        signature,
    }
});

fn self_signed(key: &PKey<Private>) -> Vec<u8> {
    sso_certgen::CertifiedKey::builder("idp.bench")
        .key(key.clone())
        .valid_days(0, 30)
        .build()
        .unwrap()
        .certificate_der()
        .to_vec()
}

/// A realistic response (one assertion, group attributes) of about `size` bytes.
fn response(size: usize) -> String {
    let head = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_resp1" Version="2.0" IssueInstant="2025-01-01T00:00:00Z" Destination="https://sp.test/saml/2/acs/org1" InResponseTo="_req1">
  <saml:Issuer>https://idp.test/metadata</saml:Issuer>
  <samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
  <saml:Assertion ID="_assert1" Version="2.0" IssueInstant="2025-01-01T00:00:00Z">
    <saml:Issuer>https://idp.test/metadata</saml:Issuer>
    <saml:Subject>
      <saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">jane@corp.test</saml:NameID>
      <saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
        <saml:SubjectConfirmationData NotOnOrAfter="2025-01-01T00:05:00Z" Recipient="https://sp.test/saml/2/acs/org1" InResponseTo="_req1"/>
      </saml:SubjectConfirmation>
    </saml:Subject>
    <saml:Conditions NotBefore="2024-12-31T23:59:00Z" NotOnOrAfter="2025-01-01T00:05:00Z">
      <saml:AudienceRestriction><saml:Audience>https://sp.test/saml/2/metadata/org1</saml:Audience></saml:AudienceRestriction>
    </saml:Conditions>
    <saml:AttributeStatement>
"#;
    let tail = "    </saml:AttributeStatement>\n  </saml:Assertion>\n</samlp:Response>\n";
    let mut attrs = String::new();
    let mut i = 0;
    // Leave room for the signature (about 1.9 KB with its certificate).
    while head.len() + attrs.len() + tail.len() + 1900 < size {
        attrs.push_str(&format!(
            "      <saml:Attribute Name=\"group{i}\"><saml:AttributeValue>engineering-team-{i}</saml:AttributeValue></saml:Attribute>\n"
        ));
        i += 1;
    }
    format!("{head}{attrs}{tail}")
}

fn verify_whole(bencher: Bencher<'_, '_>, input: &'static [u8]) {
    let verifier = &SETUP.verifier;
    bencher.counter(BytesCount::of_slice(input)).bench(|| {
        let doc = Document::parse(divan::black_box(input)).unwrap();
        let v = verifier.verify(doc.root_element()).unwrap();
        divan::black_box(v.node().id())
    });
}

/// Parse + verify the ~7 KB signed response.
#[divan::bench]
fn verify_7kb(bencher: Bencher<'_, '_>) {
    verify_whole(bencher, &SETUP.small);
}

/// Parse + verify the ~50 KB signed response.
#[divan::bench]
fn verify_50kb(bencher: Bencher<'_, '_>) {
    verify_whole(bencher, &SETUP.large);
}

/// The floor: one RSA-2048 PKCS#1 v1.5 SHA-256 verification of a SignedInfo-sized input.
#[divan::bench]
fn rsa2048_sha256_verify_floor(bencher: Bencher<'_, '_>) {
    let s = &*SETUP;
    bencher.bench(|| {
        let mut v = openssl::sign::Verifier::new(MessageDigest::sha256(), &s.public).unwrap();
        v.update(divan::black_box(&s.signed_info)).unwrap();
        assert!(v.verify(&s.signature).unwrap());
    });
}

/// Parsing alone, ~7 KB (the `sso-xml` share of `verify_7kb`).
#[divan::bench]
fn parse_only_7kb(bencher: Bencher<'_, '_>) {
    let input: &[u8] = &SETUP.small;
    bencher.bench(|| Document::parse(divan::black_box(input)).unwrap());
}

/// Verification of an already parsed ~7 KB response (this crate's share of `verify_7kb`).
#[divan::bench]
fn verify_parsed_7kb(bencher: Bencher<'_, '_>) {
    let doc = Document::parse(&SETUP.small).unwrap();
    let verifier = &SETUP.verifier;
    bencher.bench(|| {
        let v = verifier
            .verify(divan::black_box(doc.root_element()))
            .unwrap();
        divan::black_box(v.node().id())
    });
}
