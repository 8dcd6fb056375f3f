//! What we send: SP metadata and AuthnRequests, read back with our own parser and checked with
//! openssl directly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use openssl::hash::MessageDigest;
use openssl::sign::Verifier;
use openssl::x509::X509;
use sso_assertion::{Binding, ConnectionConfig, IdpMetadata, ServiceProvider, SpKey};
use sso_xml::Document;
use time::macros::datetime;

const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
}

fn sp_key() -> SpKey {
    let key = std::fs::read(corpus().join("keys/python3-saml/sp.key")).unwrap();
    let cert = std::fs::read_to_string(corpus().join("keys/python3-saml/sp.crt")).unwrap();
    SpKey::from_pem(&key, &cert).unwrap()
}

fn okta() -> IdpMetadata {
    let xml = std::fs::read(corpus().join("metadata/okta/crewjam_okta_idp_metadata.xml")).unwrap();
    IdpMetadata::from_xml(&xml).unwrap()
}

#[test]
fn per_org_endpoints() {
    let sp = ServiceProvider::for_org("https://sso.example.com/", "org_7");
    assert_eq!(
        sp.entity_id(),
        "https://sso.example.com/saml/2/metadata/org_7"
    );
    assert_eq!(sp.acs_url(), "https://sso.example.com/saml/2/acs/org_7");
}

#[test]
fn sp_metadata_without_and_with_key() {
    let sp = ServiceProvider::for_org("https://sso.example.com", "org_7");
    let xml = sp.metadata_xml().unwrap();
    let doc = Document::parse(xml.as_bytes()).unwrap();
    let root = doc.root_element();
    assert!(root.is(MD, "EntityDescriptor"));
    assert_eq!(root.attribute("entityID"), Some(sp.entity_id()));
    let desc = root
        .child_elements()
        .find(|e| e.is(MD, "SPSSODescriptor"))
        .unwrap();
    assert_eq!(desc.attribute("protocolSupportEnumeration"), Some(SAMLP));
    let acs = desc
        .child_elements()
        .find(|e| e.is(MD, "AssertionConsumerService"))
        .unwrap();
    assert_eq!(acs.attribute("Location"), Some(sp.acs_url()));
    assert_eq!(
        acs.attribute("Binding"),
        Some("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")
    );
    let formats: Vec<String> = desc
        .child_elements()
        .filter(|e| e.is(MD, "NameIDFormat"))
        .map(|e| e.text())
        .collect();
    assert_eq!(
        formats,
        ["urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"]
    );
    assert!(!desc.child_elements().any(|e| e.is(MD, "KeyDescriptor")));

    let key = sp_key();
    let with_key = sp.with_key(key.clone()).metadata_xml().unwrap();
    let doc = Document::parse(with_key.as_bytes()).unwrap();
    let uses: Vec<&str> = doc
        .elements()
        .filter(|e| e.is(MD, "KeyDescriptor"))
        .filter_map(|e| e.attribute("use"))
        .collect();
    assert_eq!(uses, ["signing", "encryption"]);
    let cert_text = doc
        .elements()
        .find(|e| e.local_name() == "X509Certificate")
        .unwrap()
        .text();
    assert_eq!(
        STANDARD.decode(cert_text.trim()).unwrap(),
        key.certificate().unwrap().der()
    );
}

fn query_param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[test]
fn redirect_request_carries_a_fresh_request() {
    let idp = okta();
    let sp = ServiceProvider::for_org("https://sso.example.com", "org_7");
    let config = ConnectionConfig::from_metadata(&idp, sp);
    let now = datetime!(2026-11-28 08:00:00.250 UTC);
    let (request, url) = config.redirect_request("state-123", now).unwrap();
    let expected_dest = &idp.sso_service(&Binding::HttpRedirect).unwrap().location;
    assert!(url.as_str().starts_with(expected_dest.as_str()));
    assert_eq!(
        query_param(&url, "RelayState").as_deref(),
        Some("state-123")
    );
    assert!(query_param(&url, "Signature").is_none());

    let deflated = STANDARD
        .decode(query_param(&url, "SAMLRequest").unwrap())
        .unwrap();
    let mut xml = Vec::new();
    flate2::read::DeflateDecoder::new(&deflated[..])
        .read_to_end(&mut xml)
        .unwrap();
    let doc = Document::parse(&xml).unwrap();
    let root = doc.root_element();
    assert!(root.is(SAMLP, "AuthnRequest"));
    assert_eq!(root.attribute("ID"), Some(request.id.as_str()));
    assert_eq!(root.attribute("Version"), Some("2.0"));
    assert_eq!(root.attribute("Destination"), Some(expected_dest.as_str()));
    assert_eq!(
        root.attribute("AssertionConsumerServiceURL"),
        Some("https://sso.example.com/saml/2/acs/org_7")
    );
    assert!(
        root.attribute("IssueInstant")
            .unwrap()
            .starts_with("2026-11-28T08:00:00")
    );
    let issuer = root
        .child_elements()
        .find(|e| e.is(SAML, "Issuer"))
        .unwrap();
    assert_eq!(
        issuer.text(),
        "https://sso.example.com/saml/2/metadata/org_7"
    );

    // Request IDs are unguessable and never repeat.
    let ids: HashSet<String> = (0..200)
        .map(|_| {
            config
                .authn_request(&Binding::HttpRedirect, now)
                .unwrap()
                .id
        })
        .collect();
    assert_eq!(ids.len(), 200);
    assert!(ids.iter().all(|id| id.len() == 41 && id.starts_with('_')));
}

#[test]
fn signed_redirect_verifies_with_the_sp_certificate() {
    let key = sp_key();
    let sp = ServiceProvider::for_org("https://sso.example.com", "org_7").with_key(key.clone());
    let config = ConnectionConfig::from_metadata(&okta(), sp);
    let (_, url) = config
        .redirect_request("a b&c", datetime!(2026-11-28 08:00 UTC))
        .unwrap();
    assert_eq!(
        query_param(&url, "SigAlg").as_deref(),
        Some("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
    );
    // The signed octets are the query string up to the Signature parameter, as sent.
    let query = url.query().unwrap();
    let (signed, _) = query.split_once("&Signature=").unwrap();
    let signature = STANDARD
        .decode(query_param(&url, "Signature").unwrap())
        .unwrap();
    let cert = X509::from_der(key.certificate().unwrap().der()).unwrap();
    let public = cert.public_key().unwrap();
    let mut v = Verifier::new(MessageDigest::sha256(), &public).unwrap();
    v.update(signed.as_bytes()).unwrap();
    assert!(v.verify(&signature).unwrap());
    let mut tampered = Verifier::new(MessageDigest::sha256(), &public).unwrap();
    tampered
        .update(signed.replace("RelayState=a", "RelayState=b").as_bytes())
        .unwrap();
    assert!(!tampered.verify(&signature).unwrap());
}

#[test]
fn idp_that_wants_signed_requests_needs_an_sp_key() {
    let xml = std::fs::read(corpus().join("metadata/other/python3-saml_multiple_descriptors.xml"))
        .unwrap();
    let idp = IdpMetadata::from_xml_for_entity(&xml, "https://foo.example.com/access/saml/idp.xml")
        .unwrap();
    assert!(idp.want_authn_requests_signed);
    let config =
        ConnectionConfig::from_metadata(&idp, ServiceProvider::new("sp", "https://sp/acs"));
    match config.redirect_request("", datetime!(2026-11-28 08:00 UTC)) {
        Err(e) => assert_eq!(e.reason(), "sp-key-missing"),
        // The IdP may offer no Redirect endpoint at all.
        Ok(_) => panic!("an unsigned request went to an IdP that wants signed ones"),
    }
}

#[test]
fn post_request_form_escapes_relay_state() {
    let config =
        ConnectionConfig::from_metadata(&okta(), ServiceProvider::new("sp", "https://sp/acs"));
    let (request, html) = config
        .post_request("\"><script>", datetime!(2026-11-28 08:00 UTC))
        .unwrap();
    assert!(!html.contains("<script>"));
    assert!(html.contains("&quot;&gt;&lt;script&gt;"));
    assert!(html.contains(&STANDARD.encode(request.xml.as_bytes())));
}

/// A fresh RSA-2048 SP key pair, PEM (key, certificate).
fn fresh_sp_key() -> (Vec<u8>, String) {
    let made = sso_certgen::CertifiedKey::builder("sp.example")
        .valid_days(0, 30)
        .build()
        .unwrap();
    (
        made.key_pem().as_bytes().to_vec(),
        made.certificate_pem().to_owned(),
    )
}

/// The HTTP-POST binding signs inside the request; xmlsec1, with only the SP certificate,
/// verifies it. Without a key, an IdP that wants signed requests gets none.
#[test]
fn post_requests_carry_an_enveloped_signature_xmlsec1_verifies() {
    let (key_pem, cert_pem) = fresh_sp_key();
    let key = SpKey::from_pem(&key_pem, &cert_pem).unwrap();
    let sp =
        ServiceProvider::new("https://sp.example/metadata", "https://sp.example/acs").with_key(key);
    let config = ConnectionConfig::from_metadata(&okta(), sp);
    let (request, html) = config
        .post_request("relay", datetime!(2026-11-28 08:00 UTC))
        .unwrap();
    assert!(html.contains(&STANDARD.encode(request.xml.as_bytes())));
    let doc = Document::parse(request.xml.as_bytes()).unwrap();
    let root = doc.root_element();
    let children: Vec<_> = root.child_elements().collect();
    assert!(children[0].is(SAML, "Issuer"));
    assert!(children[1].is("http://www.w3.org/2000/09/xmldsig#", "Signature"));

    let dir = std::env::temp_dir().join(format!("sso_post_request_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cert.pem"), &cert_pem).unwrap();
    std::fs::write(dir.join("request.xml"), &request.xml).unwrap();
    let verify = |file: &str| {
        std::process::Command::new("xmlsec1")
            .arg("--verify")
            .arg("--pubkey-cert-pem")
            .arg(dir.join("cert.pem"))
            .args([
                "--id-attr:ID",
                "urn:oasis:names:tc:SAML:2.0:protocol:AuthnRequest",
            ])
            .arg(dir.join(file))
            .output()
            .expect("xmlsec1 is required (Debian package xmlsec1)")
    };
    let ok = verify("request.xml");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // Tampering is caught, so the check above could fail.
    std::fs::write(
        dir.join("tampered.xml"),
        request
            .xml
            .replace("https://sp.example/acs", "https://evil.example/acs"),
    )
    .unwrap();
    assert!(!verify("tampered.xml").status.success());
    let _ = std::fs::remove_dir_all(&dir);

    // No key, and the IdP wants signed requests: refused, not sent unsigned.
    let xml = std::fs::read_to_string(corpus().join("metadata/okta/crewjam_okta_idp_metadata.xml"))
        .unwrap()
        .replace(
            "WantAuthnRequestsSigned=\"false\"",
            "WantAuthnRequestsSigned=\"true\"",
        );
    let idp = IdpMetadata::from_xml(xml.as_bytes()).unwrap();
    assert!(idp.want_authn_requests_signed);
    let config =
        ConnectionConfig::from_metadata(&idp, ServiceProvider::new("sp", "https://sp/acs"));
    match config.post_request("", datetime!(2026-11-28 08:00 UTC)) {
        Err(e) => assert_eq!(e.reason(), "sp-key-missing"),
        Ok(_) => panic!("an unsigned POST request went to an IdP that wants signed ones"),
    }
}
