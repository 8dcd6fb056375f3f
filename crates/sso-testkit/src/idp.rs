//! A test identity provider: an RSA-2048 key and self-signed certificate, its metadata, and
//! signed SAML responses for any org's ACS URL.
#![allow(dead_code)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509, X509NameBuilder};
use sso_store::OrgId;
use sso_xml::Document;
use sso_xmldsig::{Signer, SigningKey};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

pub const BASE_URL: &str = "https://sso.test";
pub const IDP_ENTITY: &str = "https://idp.test/metadata";
pub const IDP_SSO_URL: &str = "https://idp.test/sso";

pub struct Idp {
    key: PKey<Private>,
    cert_b64: String,
}

impl Idp {
    pub fn generate(cn: &str) -> Idp {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", cn).unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_serial_number(&BigNum::from_u32(7).unwrap().to_asn1_integer().unwrap())
            .unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(3650).unwrap())
            .unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        let cert_b64 = STANDARD.encode(b.build().to_der().unwrap());
        Idp { key, cert_b64 }
    }

    /// IdP metadata naming this key, the HTTP-Redirect SSO endpoint, and the entity ID.
    pub fn metadata(&self) -> Vec<u8> {
        format!(
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{IDP_ENTITY}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{IDP_SSO_URL}"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
            self.cert_b64
        )
        .into_bytes()
    }

    /// The private key, PEM (PKCS#8).
    pub fn key_pem(&self) -> Vec<u8> {
        self.key.private_key_to_pem_pkcs8().unwrap()
    }

    /// Like [`response`](Self::response), but the assertion is signed by `xmlsec1` (an
    /// independent implementation; Debian package `xmlsec1`) rather than by our own signer.
    ///
    /// # Panics
    /// When xmlsec1 is missing or fails: the test cannot run without it.
    pub fn response_signed_by_xmlsec1(&self, r: &Response) -> Vec<u8> {
        let template = format!(
            "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>\
             <ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\
             <ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>\
             <ds:Reference URI=\"#{id}\"><ds:Transforms>\
             <ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
             <ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>\
             <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\
             <ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/></ds:Signature>",
            id = r.assertion_id
        );
        let anchor = format!("<saml:Issuer>{IDP_ENTITY}</saml:Issuer><saml:Subject>");
        let xml = r.xml().replacen(
            &anchor,
            &format!("<saml:Issuer>{IDP_ENTITY}</saml:Issuer>{template}<saml:Subject>"),
            1,
        );
        let dir = std::env::temp_dir().join(format!(
            "xmlsec1_{}_{}",
            std::process::id(),
            r.assertion_id.trim_start_matches('_')
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("key.pem"), self.key_pem()).unwrap();
        std::fs::write(dir.join("in.xml"), xml).unwrap();
        let output = std::process::Command::new("xmlsec1")
            .arg("--sign")
            .arg("--privkey-pem")
            .arg(dir.join("key.pem"))
            .args(["--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"])
            .arg("--output")
            .arg(dir.join("out.xml"))
            .arg(dir.join("in.xml"))
            .output()
            .unwrap_or_else(|e| {
                panic!("xmlsec1 is required (Debian package `xmlsec1`; `cargo xtask test` installs it): {e}")
            });
        assert!(
            output.status.success(),
            "xmlsec1 --sign failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let signed = std::fs::read(dir.join("out.xml")).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        STANDARD.encode(signed).into_bytes()
    }

    /// A signed response (assertion signed), base64 as the HTTP-POST binding carries it.
    pub fn response(&self, r: &Response) -> Vec<u8> {
        let xml = r.xml();
        let doc = Document::parse(xml.as_bytes()).unwrap();
        let assertion = doc.root_element().child_elements().nth(2).unwrap();
        let signed = Signer::new(SigningKey::from_pkey(self.key.clone()).unwrap())
            .sign(assertion)
            .unwrap();
        STANDARD.encode(signed).into_bytes()
    }
}

/// What a response says.
#[derive(Clone, Debug)]
pub struct Response {
    /// The org whose ACS URL and entity ID it is addressed to.
    pub org: OrgId,
    pub assertion_id: String,
    pub in_response_to: Option<String>,
    pub name_id: String,
    pub attributes: Vec<(String, String)>,
    pub issued: OffsetDateTime,
}

fn t(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap()
}

impl Response {
    pub fn new(org: OrgId, assertion_id: &str, email: &str, issued: OffsetDateTime) -> Self {
        Response {
            org,
            assertion_id: assertion_id.into(),
            in_response_to: None,
            name_id: email.into(),
            attributes: Vec::new(),
            issued,
        }
    }

    pub fn answering(mut self, request: &str) -> Self {
        self.in_response_to = Some(request.into());
        self
    }

    pub fn name_id(mut self, value: &str) -> Self {
        self.name_id = value.into();
        self
    }

    pub fn attribute(mut self, name: &str, value: &str) -> Self {
        self.attributes.push((name.into(), value.into()));
        self
    }

    fn xml(&self) -> String {
        let sp = format!("{BASE_URL}/saml/2/metadata/{}", self.org);
        let acs = format!("{BASE_URL}/saml/2/acs/{}", self.org);
        let irt = self
            .in_response_to
            .as_ref()
            .map(|id| format!(" InResponseTo=\"{id}\""))
            .unwrap_or_default();
        let attrs: String = self
            .attributes
            .iter()
            .map(|(n, v)| {
                format!(
                    "<saml:Attribute Name=\"{n}\"><saml:AttributeValue>{v}</saml:AttributeValue></saml:Attribute>"
                )
            })
            .collect();
        let attrs = if attrs.is_empty() {
            String::new()
        } else {
            format!("<saml:AttributeStatement>{attrs}</saml:AttributeStatement>")
        };
        let issued = t(self.issued);
        let not_before = t(self.issued - Duration::minutes(5));
        let not_after = t(self.issued + Duration::minutes(5));
        let session = t(self.issued + Duration::hours(8));
        let id = &self.assertion_id;
        let name_id = &self.name_id;
        format!(
            r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r{id}" Version="2.0" IssueInstant="{issued}" Destination="{acs}"{irt}><saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">{IDP_ENTITY}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{issued}"><saml:Issuer>{IDP_ENTITY}</saml:Issuer><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">{name_id}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData{irt} NotOnOrAfter="{not_after}" Recipient="{acs}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{not_before}" NotOnOrAfter="{not_after}"><saml:AudienceRestriction><saml:Audience>{sp}</saml:Audience></saml:AudienceRestriction></saml:Conditions>{attrs}<saml:AuthnStatement AuthnInstant="{issued}" SessionIndex="_s1" SessionNotOnOrAfter="{session}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement></saml:Assertion></samlp:Response>"#
        )
    }
}
