//! A development SAML identity provider: an RSA key with a self-signed certificate, the IdP
//! metadata that names them, and SAML responses whose assertion it signs, for any service
//! provider's ACS URL.
//!
//! One implementation behind `ssoctl dev-idp`, the load generator and the tests. It signs in
//! whoever it is told to: it exists to try the service without a real IdP, never to stand in
//! for one.
//!
//! ```
//! use sso_dev_idp::{Idp, Response, SAML_NS};
//! use sso_xml::Document;
//! use sso_xmldsig::{TrustedKey, TrustedKeys, Verifier};
//! use time::macros::datetime;
//!
//! let idp = Idp::generate("dev idp", "https://idp.test/metadata", "https://idp.test/sso")?;
//! // The service provider imports this: entity ID, SSO URL, signing certificate.
//! assert!(idp.metadata().contains(&idp.credential().certificate_base64()));
//!
//! let response = Response::new(
//!     "https://sp.test/acs",      // where the browser posts it
//!     "https://sp.test/metadata", // the SP entity ID, the assertion's audience
//!     "_a1",
//!     "ada@example.com",
//!     datetime!(2026-11-28 08:00 UTC),
//! )
//! .answering("_req1");
//! let xml = idp.signed_response(&response)?;
//!
//! // The assertion verifies with the certificate from the metadata.
//! let doc = Document::parse(&xml)?;
//! let assertion = doc.elements().find(|e| e.is(SAML_NS, "Assertion")).unwrap();
//! let trusted = TrustedKey::from_certificate_der(idp.credential().certificate_der())?;
//! Verifier::new(TrustedKeys::new().with(trusted)).verify(assertion)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod idp;
mod response;

pub use crate::idp::{Error, Idp};
pub use crate::response::Response;

/// The SAML 2.0 metadata namespace.
pub const MD_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
/// The SAML 2.0 protocol namespace.
pub const SAMLP_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
/// The SAML 2.0 assertion namespace.
pub const SAML_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

/// Text for XML content and attribute values.
fn escape(text: &str) -> String {
    // The markup-safe form escapes all five special characters, so one value may go into text
    // or into a quoted attribute alike.
    sso_xml::escape::html(text).to_string()
}

#[cfg(test)]
#[test]
fn escapes_markup() {
    assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
}
