//! Helpers shared by the integration tests: the shared corpus, keys generated at test time,
//! and the `xmlsec1` tool.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use serde::Deserialize;
use sso_certgen::{CertifiedKey, KeyType};
use sso_xml::{Document, Node};
use sso_xmldsig::{DSIG_NS, TrustedKey, TrustedKeys};

#[derive(Deserialize)]
pub struct Manifest {
    pub case: Vec<Case>,
}

#[derive(Deserialize, Clone, Debug)]
pub struct Case {
    pub id: String,
    pub file: String,
    pub kind: String,
    pub expected: Option<String>,
    pub confidence: Option<String>,
    pub verify_cert: Option<String>,
    pub key_source: Option<String>,
    pub decrypt_key: Option<String>,
    pub encoding: Option<String>,
    pub xmlsec1_check: Option<String>,
    pub signed: Option<String>,
}

pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
}

pub fn manifest() -> Manifest {
    let path = corpus_dir().join("manifest.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the shared corpus must be at {}: {e}", path.display()));
    toml::from_str(&text).expect("manifest.toml parses")
}

/// The document bytes of a case, decoded from its transport encoding.
pub fn document_bytes(case: &Case) -> Vec<u8> {
    let raw = std::fs::read(corpus_dir().join(&case.file)).unwrap();
    match case.encoding.as_deref() {
        Some("base64") | Some("base64+deflate") => {
            let compact: Vec<u8> = raw
                .into_iter()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .unwrap();
            if case.encoding.as_deref() == Some("base64+deflate") {
                let mut out = Vec::new();
                flate2::read::DeflateDecoder::new(&bytes[..])
                    .read_to_end(&mut out)
                    .unwrap();
                out
            } else {
                bytes
            }
        }
        _ => raw,
    }
}

/// The trusted keys a case names: a PEM or DER certificate, a PEM public key, or the signing
/// certificates of an IdP metadata file. Empty when the source verified with a key carried in
/// the document, which we never do.
pub fn trusted_keys(case: &Case) -> TrustedKeys {
    let Some(file) = case.verify_cert.as_deref() else {
        return TrustedKeys::new();
    };
    if !file.starts_with("keys/") && !file.starts_with("metadata/") {
        return TrustedKeys::new();
    }
    let bytes = std::fs::read(corpus_dir().join(file)).unwrap();
    if file.ends_with(".der") {
        return TrustedKeys::new().with(TrustedKey::from_certificate_der(&bytes).unwrap());
    }
    let text = String::from_utf8_lossy(&bytes);
    if text.contains("PUBLIC KEY-----") {
        return TrustedKeys::new().with(TrustedKey::from_public_key_pem(&bytes).unwrap());
    }
    if text.contains("BEGIN CERTIFICATE") {
        return TrustedKeys::from_pem(&bytes).unwrap();
    }
    // IdP metadata: every signing (or unlabelled) KeyDescriptor certificate.
    let doc = Document::parse(&bytes).unwrap();
    let md = "urn:oasis:names:tc:SAML:2.0:metadata";
    let mut keys = TrustedKeys::new();
    for kd in doc.elements().filter(|e| e.is(md, "KeyDescriptor")) {
        if kd.attribute("use").is_some_and(|u| u != "signing") {
            continue;
        }
        for c in kd
            .descendants()
            .filter(|e| e.is(DSIG_NS, "X509Certificate"))
        {
            keys.add(TrustedKey::from_certificate_base64(&c.text()).unwrap());
        }
    }
    assert!(!keys.is_empty(), "{file}: no signing certificate");
    keys
}

/// Every `ds:Signature` of the document that sits inside an element.
pub fn signed_elements<'d>(doc: &'d Document) -> Vec<Node<'d>> {
    doc.elements()
        .filter(|e| e.is(DSIG_NS, "Signature"))
        .filter_map(|s| s.parent_element())
        .collect()
}

/// A fresh key and a self-signed certificate for it.
pub struct TestKey {
    pub key: PKey<Private>,
    pub cert: X509,
}

impl TestKey {
    pub fn rsa(bits: u32) -> TestKey {
        TestKey::generate("idp.test", KeyType::Rsa(bits))
    }

    pub fn ec(curve: Nid) -> TestKey {
        TestKey::generate("idp-ec.test", KeyType::Ec(curve))
    }

    fn generate(cn: &str, key_type: KeyType) -> TestKey {
        let made = CertifiedKey::builder(cn)
            .key_type(key_type)
            .build()
            .unwrap();
        TestKey {
            key: made.key().clone(),
            cert: made.certificate().clone(),
        }
    }

    pub fn key_pem(&self) -> Vec<u8> {
        self.key.private_key_to_pem_pkcs8().unwrap()
    }

    pub fn cert_pem(&self) -> Vec<u8> {
        self.cert.to_pem().unwrap()
    }

    pub fn trusted(&self) -> TrustedKeys {
        TrustedKeys::new().with(TrustedKey::from_certificate_pem(&self.cert_pem()).unwrap())
    }

    pub fn signing_key(&self) -> sso_xmldsig::SigningKey {
        sso_xmldsig::SigningKey::from_pem(&self.key_pem())
            .unwrap()
            .with_certificate_pem(&self.cert_pem())
            .unwrap()
    }
}

/// `xmlsec1`, which the interop tests need. Missing is a failure, never a skip.
pub fn xmlsec1() -> Command {
    let found = Command::new("xmlsec1").arg("--version").output();
    match found {
        Ok(o) if o.status.success() => Command::new("xmlsec1"),
        _ => panic!(
            "xmlsec1 is required for the interop tests: install the Debian package `xmlsec1` \
             (apt-get install xmlsec1)"
        ),
    }
}

/// A SAML response with one assertion, about `size` bytes long (padded with attributes).
pub fn sample_response(size: usize) -> String {
    let mut attrs = String::new();
    let mut i = 0;
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
    <saml:AuthnStatement AuthnInstant="2025-01-01T00:00:00Z" SessionIndex="_s1">
      <saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext>
    </saml:AuthnStatement>
    <saml:AttributeStatement>
"#;
    let tail = "    </saml:AttributeStatement>\n  </saml:Assertion>\n</samlp:Response>\n";
    while head.len() + attrs.len() + tail.len() < size {
        attrs.push_str(&format!(
            "      <saml:Attribute Name=\"group{i}\" NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:basic\"><saml:AttributeValue>engineering-team-{i}</saml:AttributeValue></saml:Attribute>\n"
        ));
        i += 1;
    }
    format!("{head}{attrs}{tail}")
}
