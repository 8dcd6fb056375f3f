//! SAML 2.0 Web Browser SSO for a service provider: IdP metadata in, SP metadata and
//! AuthnRequests out, and responses validated into a [`VerifiedAssertion`].
//!
//! Everything read from the IdP is parsed by `sso-xml` (never by samael, which only writes what
//! we send).
//!
//! ```
//! use sso_assertion::{ConnectionConfig, IdpMetadata, ServiceProvider};
//!
//! let xml = std::fs::read("../../../shared/corpus/metadata/okta/crewjam_okta_idp_metadata.xml")?;
//! let idp = IdpMetadata::from_xml(&xml)?;
//! let sp = ServiceProvider::for_org("https://sso.example.com", "org_42");
//! let config = ConnectionConfig::from_metadata(&idp, sp);
//! let (request, url) = config.redirect_request("relay", time::OffsetDateTime::now_utc())?;
//! assert!(url.as_str().contains("SAMLRequest="));
//! assert!(request.id.starts_with('_'));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod certificate;
mod config;
mod duration;
mod metadata;
mod ns;
mod placement;
mod request;
mod sp_metadata;
mod validate;
mod verified;

pub use crate::certificate::{Certificate, CertificateError};
pub use crate::config::{
    ConnectionConfig, DEFAULT_CLOCK_SKEW, DangerousConfig, RequiredSignature, ServiceProvider,
    SpKey,
};
pub use crate::duration::{DurationError, MAX_DURATION, MAX_DURATION_TEXT, parse_xs_duration};
pub use crate::metadata::{Binding, Endpoint, IdpMetadata, MetadataError};
pub use crate::request::{AuthnRequest, RequestError, new_message_id};
pub use crate::sp_metadata::SpMetadataError;
pub use crate::validate::{
    MAX_RESPONSE_BYTES, ValidationContext, ValidationError, ValidationErrorKind, validate,
};
pub use crate::verified::{Attribute, NameId, SignedParts, VerifiedAssertion};
pub use sso_xmldsig::{Fingerprint, ParseFingerprintError};
