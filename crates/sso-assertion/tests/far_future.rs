//! A signed assertion valid "forever" (NotOnOrAfter in year 9999) is accepted without an
//! arithmetic overflow, and is remembered for as long as time can say.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sso_assertion::{Certificate, ConnectionConfig, ServiceProvider, ValidationContext, validate};
use sso_certgen::CertifiedKey;
use sso_xml::Document;
use sso_xmldsig::{Signer, SigningKey};
use time::macros::datetime;

const IDP: &str = "https://idp.example/metadata";
const SP: &str = "https://sso.example/saml/2/metadata/o1";
const ACS: &str = "https://sso.example/saml/2/acs/o1";

#[test]
fn year_9999_does_not_overflow() {
    let made = CertifiedKey::builder("idp.example")
        .valid_days(0, 30)
        .build()
        .unwrap();
    let key = made.key().clone();
    let cert = Certificate::from_der(made.certificate_der()).unwrap();

    let forever = "9999-12-31T23:59:59Z";
    let xml = format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r1" Version="2.0" IssueInstant="2026-11-28T08:00:00Z" Destination="{ACS}"><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1" Version="2.0" IssueInstant="2026-11-28T08:00:00Z"><saml:Issuer>{IDP}</saml:Issuer><saml:Subject><saml:NameID>ada@example.com</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{forever}" Recipient="{ACS}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotOnOrAfter="{forever}"><saml:AudienceRestriction><saml:Audience>{SP}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="2026-11-28T08:00:00Z" SessionNotOnOrAfter="{forever}"/></saml:Assertion></samlp:Response>"#
    );
    let doc = Document::parse(xml.as_bytes()).unwrap();
    let assertion = doc.root_element().child_elements().nth(1).unwrap();
    let signed = Signer::new(SigningKey::from_pkey(key).unwrap())
        .sign(assertion)
        .unwrap();

    let mut config =
        ConnectionConfig::new(IDP, vec![cert], Vec::new(), ServiceProvider::new(SP, ACS));
    config.dangerous().allow_unsolicited(true);
    let v = validate(
        &signed,
        &config,
        &ValidationContext::new(datetime!(2026-11-28 08:01 UTC), &[]),
    )
    .unwrap();
    assert!(v.remember_until() >= datetime!(9999-12-31 23:59:59 UTC));
}
