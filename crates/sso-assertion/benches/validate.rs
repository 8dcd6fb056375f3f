//! `validate` on ~7 KB and ~50 KB responses (assertion signed, response signed, both), and the
//! HTTP-Redirect URL of a new AuthnRequest (what starting a login costs), beside one bare
//! RSA-2048 SHA-256 verification measured in the same run.
//!
//! `cargo bench -p sso-assertion --bench validate`; figures in BENCHMARKS.md. The same benches
//! run with the server's allocator in `validate_server_allocator`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::LazyLock;

use divan::Bencher;
use divan::counter::BytesCount;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::Rsa;
use sso_assertion::{
    Binding, Certificate, ConnectionConfig, Endpoint, ServiceProvider, ValidationContext, validate,
};
use sso_xml::Document;
use sso_xmldsig::{Signer, SigningKey};
use time::OffsetDateTime;
use time::macros::datetime;

pub fn main() {
    // Key generation and signing stay out of the first sample.
    LazyLock::force(&SETUP);
    divan::main();
}

const IDP: &str = "https://idp.bench.example/metadata";
const SP: &str = "https://sso.bench.example/saml/2/metadata/org_1";
const ACS: &str = "https://sso.bench.example/saml/2/acs/org_1";
const REQUEST: &str = "_a1b2c3d4e5f60718293a4b5c6d7e8f9011223344";
const NOW: OffsetDateTime = datetime!(2026-11-28 08:00:00 UTC);

/// A response like Entra ID's, grown with group claims to about `size` bytes.
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

fn self_signed(key: &PKey<Private>) -> Vec<u8> {
    sso_certgen::CertifiedKey::builder("idp.bench.example")
        .key(key.clone())
        .valid_days(0, 365)
        .build()
        .unwrap()
        .certificate_der()
        .to_vec()
}

struct Setup {
    config: ConnectionConfig,
    public: PKey<Public>,
    floor_data: Vec<u8>,
    floor_signature: Vec<u8>,
    /// (size, part) -> signed response.
    inputs: Vec<((&'static str, &'static str), Vec<u8>)>,
}

static SETUP: LazyLock<Setup> = LazyLock::new(|| {
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let cert = Certificate::from_der(&self_signed(&key)).unwrap();
    let sso = Endpoint {
        binding: Binding::HttpRedirect,
        location: "https://idp.bench.example/sso/redirect".to_owned(),
    };
    let config = ConnectionConfig::new(IDP, vec![cert], vec![sso], ServiceProvider::new(SP, ACS));
    let signer = || Signer::new(SigningKey::from_pkey(key.clone()).unwrap());
    let sign_assertion = |xml: &[u8]| {
        let doc = Document::parse(xml).unwrap();
        let assertion = doc.root_element().child_elements().nth(2).unwrap();
        signer().sign(assertion).unwrap()
    };
    let sign_response = |xml: &[u8]| {
        let doc = Document::parse(xml).unwrap();
        signer().sign(doc.root_element()).unwrap()
    };
    let mut inputs = Vec::new();
    for (label, size) in [("7KB", 7 * 1024), ("50KB", 50 * 1024)] {
        let xml = response(size).into_bytes();
        inputs.push(((label, "assertion"), sign_assertion(&xml)));
        inputs.push(((label, "response"), sign_response(&xml)));
        inputs.push(((label, "both"), sign_response(&sign_assertion(&xml))));
    }
    let floor_data = vec![b'x'; 700];
    let mut s = openssl::sign::Signer::new(MessageDigest::sha256(), &key).unwrap();
    s.update(&floor_data).unwrap();
    let floor_signature = s.sign_to_vec().unwrap();
    let public = PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap();
    // Every input must be accepted, or the bench measures a refusal.
    for ((size, part), input) in &inputs {
        let ctx = ValidationContext::new(NOW, &[REQUEST]);
        let v = validate(input, &config, &ctx).unwrap_or_else(|e| panic!("{size} {part}: {e}"));
        assert_eq!(v.name_id().value, "ada@example.com");
    }
    Setup {
        config,
        public,
        floor_data,
        floor_signature,
        inputs,
    }
});

#[divan::bench]
fn rsa2048_sha256_verify_floor() -> bool {
    let s = &*SETUP;
    let mut v = openssl::sign::Verifier::new(MessageDigest::sha256(), &s.public).unwrap();
    v.update(divan::black_box(&s.floor_data)).unwrap();
    v.verify(&s.floor_signature).unwrap()
}

#[divan::bench(args = [
    ("7KB", "assertion"), ("7KB", "response"), ("7KB", "both"),
    ("50KB", "assertion"), ("50KB", "response"), ("50KB", "both"),
])]
fn validate_response(bencher: Bencher<'_, '_>, which: (&str, &str)) {
    let s = &*SETUP;
    let input = &s.inputs.iter().find(|(k, _)| *k == which).unwrap().1;
    let ctx = ValidationContext::new(NOW, &[REQUEST]);
    bencher
        .counter(BytesCount::of_slice(input))
        .bench(|| validate(divan::black_box(input), &s.config, &ctx).unwrap());
}

/// The parse alone, to show what the rest of validation costs.
#[divan::bench(args = [("7KB", "assertion"), ("50KB", "assertion")])]
fn parse_only(bencher: Bencher<'_, '_>, which: (&str, &str)) {
    let s = &*SETUP;
    let input = &s.inputs.iter().find(|(k, _)| *k == which).unwrap().1;
    bencher
        .counter(BytesCount::of_slice(input))
        .bench(|| Document::parse(divan::black_box(input)).unwrap());
}

/// A new AuthnRequest as an HTTP-Redirect URL (unsigned): the request's XML, DEFLATE, base64
/// and the query string.
#[divan::bench]
fn redirect_request() -> usize {
    let s = &*SETUP;
    let relay_state = divan::black_box("rs_0123456789abcdef0123456789abcdef");
    let (_, url) = s.config.redirect_request(relay_state, NOW).unwrap();
    url.as_str().len()
}
