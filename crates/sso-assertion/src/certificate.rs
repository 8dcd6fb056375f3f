//! IdP and SP certificates as configuration values: parsed once from what admins paste and
//! metadata carries, named by fingerprint, and written back as base64 or PEM.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use openssl::hash::MessageDigest;
use openssl::x509::X509;
use sso_xmldsig::Fingerprint;
use time::OffsetDateTime;

/// An IdP signing certificate: a trusted key, not a PKI credential.
///
/// Its validity dates are not enforced at login (see DESIGN.md: an expired certificate in an
/// IdP's metadata is common); [`Certificate::expiry_warning`] lets traces and the admin API warn
/// ahead of time instead.
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
    fingerprint: Fingerprint,
    not_after: Option<OffsetDateTime>,
    subject: String,
}

/// Why bytes are not a usable certificate.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid certificate: {0}")]
pub struct CertificateError(String);

impl CertificateError {
    pub(crate) fn new(msg: String) -> Self {
        CertificateError(msg)
    }
}

impl Certificate {
    /// A certificate from DER bytes.
    pub fn from_der(der: &[u8]) -> Result<Certificate, CertificateError> {
        let x509 =
            X509::from_der(der).map_err(|e| CertificateError(format!("not X.509 DER: {e}")))?;
        let digest = x509
            .digest(MessageDigest::sha256())
            .map_err(|e| CertificateError(format!("cannot hash: {e}")))?;
        let fingerprint = <[u8; 32]>::try_from(&*digest)
            .map(Fingerprint::from_bytes)
            .map_err(|_| CertificateError("the SHA-256 digest is not 32 bytes".to_owned()))?;
        let subject = x509
            .subject_name()
            .entries()
            .filter_map(|e| {
                let key = e.object().nid().short_name().ok()?;
                let value = e.data().to_string().ok()?;
                Some(format!("{key}={value}"))
            })
            .collect::<Vec<_>>()
            .join(", ");
        Ok(Certificate {
            der: der.to_vec(),
            fingerprint,
            not_after: asn1_to_time(x509.not_after()),
            subject,
        })
    }

    /// A certificate from PEM text (`-----BEGIN CERTIFICATE-----`) or bare base64 DER, the two
    /// forms admins paste and metadata carries.
    pub fn from_pem_or_base64(text: &str) -> Result<Certificate, CertificateError> {
        let trimmed = text.trim();
        if trimmed.starts_with("-----BEGIN") {
            let x509 = X509::from_pem(trimmed.as_bytes())
                .map_err(|e| CertificateError(format!("not a PEM certificate: {e}")))?;
            let der = x509
                .to_der()
                .map_err(|e| CertificateError(format!("cannot encode: {e}")))?;
            return Certificate::from_der(&der);
        }
        let compact: String = trimmed
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let der = STANDARD
            .decode(compact.as_bytes())
            .map_err(|e| CertificateError(format!("not base64: {e}")))?;
        // Some metadata generators base64-encode the PEM text instead of the DER.
        if der.starts_with(b"-----BEGIN CERTIFICATE-----") {
            let x509 = X509::from_pem(&der)
                .map_err(|e| CertificateError(format!("not a PEM certificate: {e}")))?;
            let der = x509
                .to_der()
                .map_err(|e| CertificateError(format!("cannot encode: {e}")))?;
            return Certificate::from_der(&der);
        }
        Certificate::from_der(&der)
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// SHA-256 of the DER encoding: how admins and IdP consoles name a certificate. Compare
    /// it as a [`Fingerprint`] (parse what an admin typed with `str::parse`), and print it with
    /// its `Display` (`AB:CD:...`).
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    /// The subject, for display.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// End of the stated validity period.
    pub fn not_after(&self) -> Option<OffsetDateTime> {
        self.not_after
    }

    /// A warning when the certificate expires within 30 days of `now`, or already has.
    pub fn expiry_warning(&self, now: OffsetDateTime) -> Option<String> {
        let not_after = self.not_after?;
        if not_after <= now {
            Some(format!(
                "certificate {} expired on {}; logins still work, but ask the IdP for its new certificate",
                self.fingerprint,
                not_after.date()
            ))
        } else if not_after - now <= time::Duration::days(30) {
            Some(format!(
                "certificate {} expires on {}; add the IdP's next certificate before then",
                self.fingerprint,
                not_after.date()
            ))
        } else {
            None
        }
    }

    /// Base64 of the DER, as metadata and KeyInfo carry it.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(&self.der)
    }

    /// The PEM text (`-----BEGIN CERTIFICATE-----`, base64 in 64-character lines, a final line
    /// break): how certificates are stored and handed to tools such as `openssl x509`.
    pub fn to_pem(&self) -> String {
        const BEGIN: &str = "-----BEGIN CERTIFICATE-----\n";
        const END: &str = "-----END CERTIFICATE-----\n";
        let base64 = self.to_base64();
        let mut out =
            String::with_capacity(BEGIN.len() + base64.len() + base64.len() / 64 + 1 + END.len());
        out.push_str(BEGIN);
        for line in base64.as_bytes().chunks(64) {
            out.extend(line.iter().copied().map(char::from));
            out.push('\n');
        }
        out.push_str(END);
        out
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("fingerprint", &self.fingerprint)
            .field("subject", &self.subject)
            .field("not_after", &self.not_after)
            .finish()
    }
}

fn asn1_to_time(t: &openssl::asn1::Asn1TimeRef) -> Option<OffsetDateTime> {
    let epoch = openssl::asn1::Asn1Time::from_unix(0).ok()?;
    let diff = epoch.diff(t).ok()?;
    let secs = i64::from(diff.days) * 86_400 + i64::from(diff.secs);
    OffsetDateTime::from_unix_timestamp(secs).ok()
}
