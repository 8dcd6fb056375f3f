//! Key pairs and X.509 certificates made on the spot: a self-signed certificate for an IdP's
//! signing key, or a small CA and the server certificates it issues, with a chosen subject,
//! key type and validity window (already expired and far future included), in PEM, DER and
//! base64.
//!
//! OpenSSL is its only dependency, so every crate's tests and benches can use it, and so can
//! the development IdP that ships in `ssoctl`. Nothing here is meant to protect production
//! secrets: keys live in memory and certificates trust nothing but themselves.
//!
//! ```
//! use sso_certgen::{CertifiedKey, KeyType};
//!
//! // An RSA-2048 key and a self-signed certificate valid from now for 365 days.
//! let idp = CertifiedKey::self_signed("idp.example")?;
//! assert!(idp.certificate_pem().starts_with("-----BEGIN CERTIFICATE-----"));
//! assert!(idp.key_pem().starts_with("-----BEGIN PRIVATE KEY-----"));
//!
//! // A certificate that expired yesterday, on a P-256 key.
//! let expired = CertifiedKey::builder("old.example")
//!     .key_type(KeyType::Ec(openssl::nid::Nid::X9_62_PRIME256V1))
//!     .valid_days(-30, -1)
//!     .build()?;
//! assert!(expired.certificate().not_after() < openssl::asn1::Asn1Time::days_from_now(0)?);
//!
//! // A CA and a server certificate it issued for localhost.
//! let ca = CertifiedKey::builder("test CA").ca().build()?;
//! let server = CertifiedKey::builder("localhost")
//!     .dns("localhost")
//!     .ip("127.0.0.1")
//!     .server_auth()
//!     .issued_by(&ca)
//!     .build()?;
//! assert!(server.certificate().verify(ca.certificate().public_key()?.as_ref())?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod builder;
mod certified;
mod error;

pub use crate::builder::{CertificateBuilder, KeyType};
pub use crate::certified::CertifiedKey;
pub use crate::error::Error;
