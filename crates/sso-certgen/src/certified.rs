//! A private key with its certificate, and every form callers need them in.

use std::fmt;

use openssl::pkey::{PKey, Private};
use openssl::x509::X509;

use crate::builder::CertificateBuilder;
use crate::error::Error;

/// A private key and a certificate for its public key, with the PEM, DER and base64 forms
/// made once up front, so reading them cannot fail.
#[derive(Clone)]
pub struct CertifiedKey {
    key: PKey<Private>,
    certificate: X509,
    key_pem: String,
    certificate_pem: String,
    certificate_der: Vec<u8>,
}

impl CertifiedKey {
    /// A builder for a certificate whose subject is `CN=common_name`.
    pub fn builder(common_name: &str) -> CertificateBuilder {
        CertificateBuilder::new(common_name)
    }

    /// An RSA-2048 key and a self-signed certificate for `CN=common_name`, valid from now for
    /// 365 days: what an IdP's signing certificate usually is.
    pub fn self_signed(common_name: &str) -> Result<CertifiedKey, Error> {
        CertificateBuilder::new(common_name).build()
    }

    /// A key and certificate read back from PEM (the key PKCS#8 or traditional), checked to
    /// belong together.
    pub fn from_pem(key_pem: &[u8], certificate_pem: &[u8]) -> Result<CertifiedKey, Error> {
        let key = PKey::private_key_from_pem(key_pem).map_err(Error::openssl("read key PEM"))?;
        let certificate =
            X509::from_pem(certificate_pem).map_err(Error::openssl("read certificate PEM"))?;
        let public = certificate
            .public_key()
            .map_err(Error::openssl("read the certificate's public key"))?;
        if !key.public_eq(&public) {
            return Err(Error::KeyMismatch);
        }
        CertifiedKey::new(key, certificate)
    }

    /// Bundles `key` and `certificate`, encoding them once.
    pub(crate) fn new(key: PKey<Private>, certificate: X509) -> Result<CertifiedKey, Error> {
        let key_pem = key
            .private_key_to_pem_pkcs8()
            .map_err(Error::openssl("encode key PEM"))?;
        let certificate_pem = certificate
            .to_pem()
            .map_err(Error::openssl("encode certificate PEM"))?;
        let certificate_der = certificate
            .to_der()
            .map_err(Error::openssl("encode certificate DER"))?;
        Ok(CertifiedKey {
            key,
            certificate,
            // PEM is ASCII by construction.
            key_pem: String::from_utf8_lossy(&key_pem).into_owned(),
            certificate_pem: String::from_utf8_lossy(&certificate_pem).into_owned(),
            certificate_der,
        })
    }

    /// The private key.
    pub fn key(&self) -> &PKey<Private> {
        &self.key
    }

    /// The certificate.
    pub fn certificate(&self) -> &X509 {
        &self.certificate
    }

    /// The private key as PKCS#8 PEM (`BEGIN PRIVATE KEY`).
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// The certificate as PEM (`BEGIN CERTIFICATE`).
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// The certificate as DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    /// The certificate's DER in base64 on one line, as `ds:X509Certificate` carries it.
    pub fn certificate_base64(&self) -> String {
        openssl::base64::encode_block(&self.certificate_der)
    }
}

/// Names the certificate, never the key.
impl fmt::Debug for CertifiedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let subject: Vec<String> = self
            .certificate
            .subject_name()
            .entries()
            .filter_map(|entry| entry.data().to_string().ok())
            .collect();
        f.debug_struct("CertifiedKey")
            .field("subject", &subject)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn pem_round_trips_and_a_foreign_key_is_refused() {
        let a = CertifiedKey::self_signed("a.test").unwrap();
        let b = CertifiedKey::self_signed("b.test").unwrap();
        let again =
            CertifiedKey::from_pem(a.key_pem().as_bytes(), a.certificate_pem().as_bytes()).unwrap();
        assert_eq!(again.certificate_der(), a.certificate_der());
        let mixed = CertifiedKey::from_pem(b.key_pem().as_bytes(), a.certificate_pem().as_bytes());
        assert_eq!(mixed.unwrap_err().reason(), "key-mismatch");
        assert!(format!("{a:?}").contains("a.test"));
        assert!(!format!("{a:?}").contains("PRIVATE"));
    }

    #[test]
    fn base64_is_the_der() {
        let a = CertifiedKey::self_signed("a.test").unwrap();
        let decoded = openssl::base64::decode_block(&a.certificate_base64()).unwrap();
        assert_eq!(decoded, a.certificate_der());
        assert!(!a.certificate_base64().contains('\n'));
    }
}
