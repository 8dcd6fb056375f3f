//! The test identity provider: `sso-dev-idp` at fixed URLs, for any org's ACS URL, with
//! panicking conveniences and a response signed by `xmlsec1` instead.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sso_certgen::CertifiedKey;
use sso_dev_idp::{Idp as DevIdp, Response as SamlResponse};
use sso_store::OrgId;
use time::OffsetDateTime;

pub const BASE_URL: &str = "https://sso.test";
pub const IDP_ENTITY: &str = "https://idp.test/metadata";
pub const IDP_SSO_URL: &str = "https://idp.test/sso";

/// The test IdP: `sso_dev_idp::Idp` at [`IDP_ENTITY`] and [`IDP_SSO_URL`], its certificate valid
/// ten years, signing without `KeyInfo` (the certificate comes from the metadata alone).
#[derive(Debug)]
pub struct Idp {
    idp: DevIdp,
}

impl Idp {
    pub fn generate(cn: &str) -> Idp {
        let credential = CertifiedKey::builder(cn)
            .valid_days(0, 3650)
            .build()
            .unwrap();
        Idp {
            idp: DevIdp::new(credential, IDP_ENTITY, IDP_SSO_URL).with_key_info(false),
        }
    }

    /// The IdP these helpers wrap.
    pub fn dev_idp(&self) -> &DevIdp {
        &self.idp
    }

    /// IdP metadata naming this key, the HTTP-Redirect SSO endpoint, and the entity ID.
    pub fn metadata(&self) -> Vec<u8> {
        self.idp.metadata().into_bytes()
    }

    /// The private key, PEM (PKCS#8).
    pub fn key_pem(&self) -> Vec<u8> {
        self.idp.credential().key_pem().as_bytes().to_vec()
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
        let xml = r.to_saml().xml(IDP_ENTITY).unwrap().replacen(
            &anchor,
            &format!("<saml:Issuer>{IDP_ENTITY}</saml:Issuer>{template}<saml:Subject>"),
            1,
        );
        // Unique per call: the SQLite and PostgreSQL halves of a case run at once in one
        // process and sign responses with the same assertion IDs.
        static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "xmlsec1_{}_{call}_{}",
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

    /// This IdP's metadata with `ID="_metadata"` on its `EntityDescriptor`, so that it can be
    /// signed.
    pub fn metadata_with_id(&self) -> String {
        String::from_utf8(self.metadata()).unwrap().replacen(
            "<md:EntityDescriptor ",
            "<md:EntityDescriptor ID=\"_metadata\" ",
            1,
        )
    }

    /// The certificate, PEM.
    pub fn certificate_pem(&self) -> String {
        self.idp.credential().certificate_pem().to_owned()
    }

    /// `xml`, whose root is an `EntityDescriptor` or `EntitiesDescriptor` with `ID="{id}"`,
    /// signed on its root by this IdP's key with `xmlsec1` (enveloped, exclusive c14n,
    /// RSA-SHA256, the certificate in `KeyInfo`): how a federation or an IdP signs the
    /// metadata it publishes.
    ///
    /// # Panics
    /// When xmlsec1 is missing or fails: the test cannot run without it.
    pub fn sign_metadata_with_xmlsec1(&self, xml: &str, id: &str) -> Vec<u8> {
        let template = format!(
            "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>\
             <ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\
             <ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>\
             <ds:Reference URI=\"#{id}\"><ds:Transforms>\
             <ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
             <ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>\
             <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\
             <ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/>\
             <ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>"
        );
        let root_end = xml.find('>').unwrap() + 1;
        let xml = format!("{}{template}{}", &xml[..root_end], &xml[root_end..]);
        static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("xmlsec1_md_{}_{call}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("key.pem"), self.key_pem()).unwrap();
        std::fs::write(dir.join("cert.pem"), self.certificate_pem()).unwrap();
        std::fs::write(dir.join("in.xml"), xml).unwrap();
        let md = "urn:oasis:names:tc:SAML:2.0:metadata";
        let key_and_cert = format!(
            "{},{}",
            dir.join("key.pem").display(),
            dir.join("cert.pem").display()
        );
        let output = std::process::Command::new("xmlsec1")
            .arg("--sign")
            .arg("--privkey-pem")
            .arg(key_and_cert)
            .args(["--id-attr:ID", &format!("{md}:EntityDescriptor")])
            .args(["--id-attr:ID", &format!("{md}:EntitiesDescriptor")])
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
        signed
    }

    /// A signed response (assertion signed), base64 as the HTTP-POST binding carries it.
    pub fn response(&self, r: &Response) -> Vec<u8> {
        self.idp.response(&r.to_saml()).unwrap().into_bytes()
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

    /// The same response for `sso_dev_idp`, addressed to this org's ACS URL and entity ID.
    pub fn to_saml(&self) -> SamlResponse {
        let acs = format!("{BASE_URL}/saml/2/acs/{}", self.org);
        let sp = format!("{BASE_URL}/saml/2/metadata/{}", self.org);
        let mut saml = SamlResponse::new(&acs, &sp, &self.assertion_id, &self.name_id, self.issued);
        saml.in_response_to.clone_from(&self.in_response_to);
        saml.attributes.clone_from(&self.attributes);
        saml
    }
}
