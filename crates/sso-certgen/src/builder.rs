//! The certificate builder: subject, key, validity, CA or server use, issuer.

use std::time::{SystemTime, UNIX_EPOCH};

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
};
use openssl::x509::{X509, X509Builder, X509NameBuilder};

use crate::certified::CertifiedKey;
use crate::error::Error;

const DAY: i64 = 24 * 60 * 60;

/// The kind of key to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyType {
    /// RSA with this many bits.
    Rsa(u32),
    /// ECDSA on this named curve (for example `Nid::X9_62_PRIME256V1`, `Nid::SECP384R1`).
    Ec(Nid),
}

impl KeyType {
    fn generate(self) -> Result<PKey<Private>, Error> {
        match self {
            KeyType::Rsa(bits) => Rsa::generate(bits)
                .and_then(PKey::from_rsa)
                .map_err(Error::openssl("generate RSA key")),
            KeyType::Ec(curve) => EcGroup::from_curve_name(curve)
                .and_then(|group| EcKey::generate(&group))
                .and_then(PKey::from_ec_key)
                .map_err(Error::openssl("generate EC key")),
        }
    }
}

/// One end of the validity window.
#[derive(Debug, Clone, Copy)]
enum Instant {
    /// Whole days from now (negative: in the past).
    DaysFromNow(i64),
    /// Seconds since the Unix epoch.
    Unix(i64),
}

impl Instant {
    fn to_asn1(self) -> Result<Asn1Time, Error> {
        let seconds = match self {
            Instant::Unix(seconds) => seconds,
            Instant::DaysFromNow(days) => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
                days.checked_mul(DAY)
                    .and_then(|offset| now.checked_add(offset))
                    .ok_or(Error::ValidityOutOfRange)?
            }
        };
        // `time_t` is `i64` here, narrower on some 32-bit platforms.
        #[allow(clippy::useless_conversion)]
        let seconds = seconds.try_into().map_err(|_| Error::ValidityOutOfRange)?;
        Asn1Time::from_unix(seconds).map_err(Error::openssl("validity time"))
    }
}

/// Describes a certificate, then [`build`](Self::build)s it with a new key (or a given one).
///
/// Defaults: an RSA-2048 key, self-signed, valid from now for 365 days, a random serial
/// number, SHA-256, no extensions.
#[derive(Debug, Clone)]
#[must_use]
pub struct CertificateBuilder {
    common_name: String,
    key_type: KeyType,
    key: Option<PKey<Private>>,
    not_before: Instant,
    not_after: Instant,
    issuer: Option<CertifiedKey>,
    ca: bool,
    server_auth: bool,
    dns: Vec<String>,
    ips: Vec<String>,
}

impl CertificateBuilder {
    /// A certificate whose subject is `CN=common_name`.
    pub fn new(common_name: &str) -> CertificateBuilder {
        CertificateBuilder {
            common_name: common_name.to_owned(),
            key_type: KeyType::Rsa(2048),
            key: None,
            not_before: Instant::DaysFromNow(0),
            not_after: Instant::DaysFromNow(365),
            issuer: None,
            ca: false,
            server_auth: false,
            dns: Vec::new(),
            ips: Vec::new(),
        }
    }

    /// Generates this kind of key.
    pub fn key_type(mut self, key_type: KeyType) -> Self {
        self.key_type = key_type;
        self
    }

    /// Certifies this key instead of generating one.
    pub fn key(mut self, key: PKey<Private>) -> Self {
        self.key = Some(key);
        self
    }

    /// Valid from `from` days to `until` days from now; negative days are in the past, so
    /// `valid_days(-30, -1)` made a certificate that expired yesterday.
    pub fn valid_days(mut self, from: i64, until: i64) -> Self {
        self.not_before = Instant::DaysFromNow(from);
        self.not_after = Instant::DaysFromNow(until);
        self
    }

    /// Valid between two instants in seconds since the Unix epoch (for example up to
    /// 9999-12-31T23:59:59Z, `253_402_300_799`).
    pub fn valid_unix(mut self, not_before: i64, not_after: i64) -> Self {
        self.not_before = Instant::Unix(not_before);
        self.not_after = Instant::Unix(not_after);
        self
    }

    /// A CA certificate: basic constraints `CA:TRUE` and key usage `keyCertSign, cRLSign`,
    /// both critical.
    pub fn ca(mut self) -> Self {
        self.ca = true;
        self
    }

    /// A TLS server certificate: basic constraints `CA:FALSE` and extended key usage
    /// `serverAuth`.
    pub fn server_auth(mut self) -> Self {
        self.server_auth = true;
        self
    }

    /// Adds a DNS name to the subject alternative names.
    pub fn dns(mut self, name: &str) -> Self {
        self.dns.push(name.to_owned());
        self
    }

    /// Adds an IP address to the subject alternative names.
    pub fn ip(mut self, address: &str) -> Self {
        self.ips.push(address.to_owned());
        self
    }

    /// Signed by `issuer` (its subject becomes the issuer name) instead of self-signed.
    pub fn issued_by(mut self, issuer: &CertifiedKey) -> Self {
        self.issuer = Some(issuer.clone());
        self
    }

    /// Generates the key (unless one was given) and signs the certificate.
    pub fn build(self) -> Result<CertifiedKey, Error> {
        let key = match self.key.clone() {
            Some(key) => key,
            None => self.key_type.generate()?,
        };
        let certificate = self.certificate(&key)?;
        CertifiedKey::new(key, certificate)
    }

    fn certificate(&self, key: &PKey<Private>) -> Result<X509, Error> {
        let step = Error::openssl;
        let mut name = X509NameBuilder::new().map_err(step("subject name"))?;
        name.append_entry_by_text("CN", &self.common_name)
            .map_err(step("subject name"))?;
        let name = name.build();
        let mut serial = BigNum::new().map_err(step("serial number"))?;
        serial
            .rand(127, MsbOption::MAYBE_ZERO, false)
            .map_err(step("serial number"))?;
        let serial = serial.to_asn1_integer().map_err(step("serial number"))?;

        let mut b = X509Builder::new().map_err(step("certificate"))?;
        b.set_version(2).map_err(step("version"))?;
        b.set_serial_number(&serial)
            .map_err(step("serial number"))?;
        b.set_subject_name(&name).map_err(step("subject name"))?;
        let issuer_name = match &self.issuer {
            Some(issuer) => issuer.certificate().subject_name(),
            None => &name,
        };
        b.set_issuer_name(issuer_name)
            .map_err(step("issuer name"))?;
        b.set_pubkey(key).map_err(step("public key"))?;
        let (not_before, not_after) = (self.not_before.to_asn1()?, self.not_after.to_asn1()?);
        b.set_not_before(&not_before).map_err(step("not before"))?;
        b.set_not_after(&not_after).map_err(step("not after"))?;
        self.extensions(&mut b)?;
        let signing_key = self.issuer.as_ref().map_or(key, CertifiedKey::key);
        b.sign(signing_key, MessageDigest::sha256())
            .map_err(step("sign"))?;
        Ok(b.build())
    }

    fn extensions(&self, b: &mut X509Builder) -> Result<(), Error> {
        let step = Error::openssl("extensions");
        if self.ca {
            let constraints = BasicConstraints::new().critical().ca().build();
            b.append_extension(constraints.map_err(step)?)
                .map_err(step)?;
            let usage = KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build();
            b.append_extension(usage.map_err(step)?).map_err(step)?;
        }
        if !self.dns.is_empty() || !self.ips.is_empty() {
            let mut san = SubjectAlternativeName::new();
            for name in &self.dns {
                san.dns(name);
            }
            for address in &self.ips {
                san.ip(address);
            }
            let issuer = self.issuer.as_ref().map(CertifiedKey::certificate);
            let san = san.build(&b.x509v3_context(issuer.map(AsRef::as_ref), None));
            b.append_extension(san.map_err(step)?).map_err(step)?;
        }
        if self.server_auth {
            let constraints = BasicConstraints::new().build();
            b.append_extension(constraints.map_err(step)?)
                .map_err(step)?;
            let usage = ExtendedKeyUsage::new().server_auth().build();
            b.append_extension(usage.map_err(step)?).map_err(step)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn unix(t: &openssl::asn1::Asn1TimeRef) -> i64 {
        let epoch = Asn1Time::from_unix(0).unwrap();
        let diff = epoch.diff(t).unwrap();
        i64::from(diff.days) * DAY + i64::from(diff.secs)
    }

    #[test]
    fn validity_windows_past_and_far_future() {
        let far = CertificateBuilder::new("far.test")
            .key_type(KeyType::Ec(Nid::X9_62_PRIME256V1))
            .valid_unix(0, 253_402_300_799)
            .build()
            .unwrap();
        assert_eq!(unix(far.certificate().not_before()), 0);
        assert_eq!(unix(far.certificate().not_after()), 253_402_300_799);

        let expired = CertificateBuilder::new("old.test")
            .key_type(KeyType::Ec(Nid::X9_62_PRIME256V1))
            .valid_days(-30, -1)
            .build()
            .unwrap();
        let now = Asn1Time::days_from_now(0).unwrap();
        assert!(expired.certificate().not_after() < now);
        assert!(expired.certificate().not_before() < expired.certificate().not_after());
    }

    #[test]
    fn given_keys_and_curves_are_used() {
        let key = KeyType::Ec(Nid::SECP384R1).generate().unwrap();
        let c = CertificateBuilder::new("ec.test")
            .key(key.clone())
            .build()
            .unwrap();
        assert!(c.key().public_eq(&key));
        let group = c.key().ec_key().unwrap();
        assert_eq!(group.group().curve_name(), Some(Nid::SECP384R1));
        let rsa = CertificateBuilder::new("rsa.test")
            .key_type(KeyType::Rsa(1024))
            .build()
            .unwrap();
        assert_eq!(rsa.key().bits(), 1024);
    }

    #[test]
    fn self_signed_certificates_verify_with_their_own_key() {
        let c = CertificateBuilder::new("self.test")
            .key_type(KeyType::Ec(Nid::X9_62_PRIME256V1))
            .build()
            .unwrap();
        assert!(c.certificate().verify(c.key()).unwrap());
        let issued = c.certificate().issuer_name().entries().next().unwrap();
        assert_eq!(issued.data().to_string().unwrap(), "self.test");
    }
}
