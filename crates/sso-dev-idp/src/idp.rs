//! The IdP: its key and certificate, its metadata, and signing.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sso_certgen::CertifiedKey;
use sso_xml::Document;
use sso_xmldsig::{Signer, SigningKey};

use crate::response::Response;
use crate::{MD_NS, SAML_NS, SAMLP_NS, escape};

/// Why the IdP could not make its key or a response.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Generating or reading the key and certificate failed.
    #[error("key and certificate: {0}")]
    Certificate(#[from] sso_certgen::Error),
    /// An instant of the response cannot be written as an xs:dateTime.
    #[error("formatting a time: {0}")]
    Time(#[from] time::error::Format),
    /// The response built is not XML (a value broke it).
    #[error("the response built is not XML: {0}")]
    Xml(#[from] sso_xml::Error),
    /// The response built has no assertion to sign.
    #[error("the response built has no assertion")]
    NoAssertion,
    /// Signing the assertion failed.
    #[error("signing the assertion: {0}")]
    Signing(#[from] sso_xmldsig::Error),
}

impl Error {
    /// A stable, machine-readable reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Certificate(_) => "certificate",
            Error::Time(_) => "time-format",
            Error::Xml(_) => "response-not-xml",
            Error::NoAssertion => "response-without-assertion",
            Error::Signing(_) => "signing",
        }
    }
}

/// A development identity provider: entity ID, SSO URL, and the key its assertions are
/// signed with.
#[derive(Debug, Clone)]
pub struct Idp {
    credential: CertifiedKey,
    entity_id: String,
    sso_url: String,
    key_info: bool,
}

impl Idp {
    /// An IdP with a new RSA-2048 key and a self-signed certificate for `CN=common_name`,
    /// valid for a year.
    pub fn generate(common_name: &str, entity_id: &str, sso_url: &str) -> Result<Idp, Error> {
        Ok(Idp::new(
            CertifiedKey::self_signed(common_name)?,
            entity_id,
            sso_url,
        ))
    }

    /// An IdP signing with the key and certificate of an earlier [`generate`](Self::generate),
    /// read back from PEM and checked to belong together.
    pub fn from_pem(
        key_pem: &[u8],
        certificate_pem: &[u8],
        entity_id: &str,
        sso_url: &str,
    ) -> Result<Idp, Error> {
        Ok(Idp::new(
            CertifiedKey::from_pem(key_pem, certificate_pem)?,
            entity_id,
            sso_url,
        ))
    }

    /// An IdP signing with `credential`.
    pub fn new(credential: CertifiedKey, entity_id: &str, sso_url: &str) -> Idp {
        Idp {
            credential,
            entity_id: entity_id.to_owned(),
            sso_url: sso_url.to_owned(),
            key_info: true,
        }
    }

    /// Whether signatures carry the certificate in `KeyInfo`, as most IdPs' do (the default).
    /// Without it responses are about 1 KB smaller, which load and benchmark runs keep.
    #[must_use]
    pub fn with_key_info(mut self, key_info: bool) -> Idp {
        self.key_info = key_info;
        self
    }

    /// The key and certificate.
    pub fn credential(&self) -> &CertifiedKey {
        &self.credential
    }

    /// The IdP's entity ID, the `Issuer` of its responses.
    pub fn entity_id(&self) -> &str {
        &self.entity_id
    }

    /// IdP metadata: the entity ID, the signing certificate, the emailAddress NameID format
    /// and the HTTP-Redirect SSO endpoint.
    pub fn metadata(&self) -> String {
        format!(
            "<md:EntityDescriptor xmlns:md=\"{MD_NS}\" \
             xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"{entity}\">\n\
             <md:IDPSSODescriptor protocolSupportEnumeration=\"{SAMLP_NS}\">\n\
             <md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>\
             {certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\n\
             <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress\
             </md:NameIDFormat>\n\
             <md:SingleSignOnService \
             Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" \
             Location=\"{sso_url}\"/>\n\
             </md:IDPSSODescriptor>\n\
             </md:EntityDescriptor>\n",
            entity = escape(&self.entity_id),
            certificate = self.credential.certificate_base64(),
            sso_url = escape(&self.sso_url),
        )
    }

    /// The response as XML, its assertion signed (enveloped, RSA-SHA256, exclusive c14n).
    pub fn signed_response(&self, response: &Response) -> Result<Vec<u8>, Error> {
        let xml = response.xml(&self.entity_id)?;
        let doc = Document::parse(xml.as_bytes())?;
        let assertion = doc
            .root_element()
            .child_elements()
            .find(|e| e.is(SAML_NS, "Assertion"))
            .ok_or(Error::NoAssertion)?;
        let mut key = SigningKey::from_pkey(self.credential.key().clone())?;
        if self.key_info {
            key = key.with_certificate_pem(self.credential.certificate_pem().as_bytes())?;
        }
        Ok(Signer::new(key).sign(assertion)?)
    }

    /// [`signed_response`](Self::signed_response) in base64, as the HTTP-POST binding's
    /// `SAMLResponse` field carries it.
    pub fn response(&self, response: &Response) -> Result<String, Error> {
        Ok(STANDARD.encode(self.signed_response(response)?))
    }
}
