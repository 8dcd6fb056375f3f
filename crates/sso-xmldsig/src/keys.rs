//! Trusted keys, only from configured certificates, and their fingerprints.

use std::fmt;
use std::str::FromStr;

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use openssl::pkey::{HasPublic, Id, PKey, PKeyRef, Public};
use openssl::sign::Verifier;
use openssl::x509::X509;

use crate::algorithm::{KeyFamily, RSA_FLOOR_BITS, SignatureAlgorithm};
use crate::base64::decode_base64;
use crate::error::Error;

/// The SHA-256 fingerprint of a trusted certificate (of the DER `SubjectPublicKeyInfo` for a key
/// configured without a certificate): how admins, IdP consoles and refusals name a key.
///
/// Displayed in one canonical form, `AB:CD:...` (upper-case hex, colon-separated), like `openssl
/// x509 -fingerprint -sha256`, so an administrator can compare it with what the IdP publishes.
/// Parsed ([`FromStr`]) from the forms admins type: 64 hex digits in any letter case, with or
/// without colons (spaces and tabs are ignored too).
///
/// ```
/// use sso_xmldsig::Fingerprint;
///
/// let typed: Fingerprint = "ab".repeat(32).parse()?;
/// let shown = typed.to_string();
/// assert_eq!(shown, vec!["AB"; 32].join(":"));
/// assert_eq!(shown.parse::<Fingerprint>()?, typed);
/// assert!("abcd".parse::<Fingerprint>().is_err());
/// # Ok::<(), sso_xmldsig::ParseFingerprintError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    pub(crate) fn of(der: &[u8]) -> Fingerprint {
        Fingerprint(openssl::sha::sha256(der))
    }

    /// The fingerprint with these 32 bytes (a SHA-256 digest computed elsewhere).
    pub const fn from_bytes(bytes: [u8; 32]) -> Fingerprint {
        Fingerprint(bytes)
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl From<[u8; 32]> for Fingerprint {
    fn from(bytes: [u8; 32]) -> Self {
        Fingerprint(bytes)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl FromStr for Fingerprint {
    type Err = ParseFingerprintError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 32];
        let mut digits = 0usize;
        for c in text.chars().filter(|c| !matches!(c, ':' | ' ' | '\t')) {
            let digit = c
                .to_digit(16)
                .and_then(|d| u8::try_from(d).ok())
                .ok_or(ParseFingerprintError(()))?;
            let byte = bytes.get_mut(digits / 2).ok_or(ParseFingerprintError(()))?;
            *byte = (*byte << 4) | digit;
            digits += 1;
        }
        if digits != 64 {
            return Err(ParseFingerprintError(()));
        }
        Ok(Fingerprint(bytes))
    }
}

/// Text that is not a SHA-256 fingerprint (64 hex digits, colons optional).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseFingerprintError(());

impl fmt::Display for ParseFingerprintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a SHA-256 fingerprint is 64 hex digits, colons optional")
    }
}

impl std::error::Error for ParseFingerprintError {}

/// An allowed elliptic curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    pub(crate) fn from_nid(nid: Nid) -> Option<Curve> {
        match nid {
            Nid::X9_62_PRIME256V1 => Some(Curve::P256),
            Nid::SECP384R1 => Some(Curve::P384),
            Nid::SECP521R1 => Some(Curve::P521),
            _ => None,
        }
    }

    /// Bytes of one coordinate, the size of `r` and of `s` in XML-DSig's `r || s`.
    pub(crate) fn field_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }
}

/// The key types we accept, with what the policy checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeySpec {
    Rsa { bits: u32 },
    Ec { curve: Curve },
}

impl KeySpec {
    pub(crate) fn of<T: HasPublic>(key: &PKeyRef<T>) -> Result<KeySpec, String> {
        match key.id() {
            Id::RSA => {
                let bits = key.bits();
                if bits < RSA_FLOOR_BITS {
                    return Err(format!(
                        "RSA key of {bits} bits is below the {RSA_FLOOR_BITS}-bit floor"
                    ));
                }
                Ok(KeySpec::Rsa { bits })
            }
            Id::EC => {
                let ec = key
                    .ec_key()
                    .map_err(|e| format!("unreadable EC key: {e}"))?;
                let nid = ec.group().curve_name();
                nid.and_then(Curve::from_nid)
                    .map(|curve| KeySpec::Ec { curve })
                    .ok_or_else(|| {
                        format!(
                            "EC curve {} is not allowed (P-256, P-384, P-521)",
                            nid.and_then(|n| n.short_name().ok())
                                .unwrap_or("(explicit)")
                        )
                    })
            }
            other => Err(format!(
                "key type {other:?} is not allowed (RSA or ECDSA only)"
            )),
        }
    }

    pub(crate) fn family(self) -> KeyFamily {
        match self {
            KeySpec::Rsa { .. } => KeyFamily::Rsa,
            KeySpec::Ec { .. } => KeyFamily::Ec,
        }
    }
}

/// One key that signatures may be made with, from configuration: an IdP signing certificate
/// (usually from its metadata), or a bare public key.
///
/// Certificates are trusted keys, not a PKI: no chain, no validity dates are checked here (see
/// [`not_after_unix`](Self::not_after_unix) for expiry warnings).
#[derive(Clone)]
pub struct TrustedKey {
    key: PKey<Public>,
    spec: KeySpec,
    cert_der: Option<Vec<u8>>,
    fingerprint: Fingerprint,
    subject: Option<String>,
    not_after: Option<i64>,
}

impl fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedKey")
            .field("fingerprint", &self.fingerprint)
            .field("spec", &self.spec)
            .field("subject", &self.subject)
            .finish()
    }
}

impl TrustedKey {
    /// A key from one PEM `CERTIFICATE`.
    pub fn from_certificate_pem(pem: &[u8]) -> Result<TrustedKey, Error> {
        let cert = X509::from_pem(pem)
            .map_err(|e| Error::invalid_certificate(format!("unreadable PEM certificate: {e}")))?;
        TrustedKey::from_x509(&cert)
    }

    /// A key from one DER certificate.
    pub fn from_certificate_der(der: &[u8]) -> Result<TrustedKey, Error> {
        let cert = X509::from_der(der)
            .map_err(|e| Error::invalid_certificate(format!("unreadable DER certificate: {e}")))?;
        TrustedKey::from_x509(&cert)
    }

    /// A key from the base64 of a DER certificate, as in metadata's `ds:X509Certificate`
    /// (whitespace and line breaks allowed).
    pub fn from_certificate_base64(text: &str) -> Result<TrustedKey, Error> {
        let der = decode_base64(text)
            .ok_or_else(|| Error::invalid_certificate("certificate is not valid base64"))?;
        TrustedKey::from_certificate_der(&der)
    }

    /// A bare public key (PEM `PUBLIC KEY`, or PKCS#1 `RSA PUBLIC KEY`). Its fingerprint is the SHA-256
    /// of the DER SubjectPublicKeyInfo.
    pub fn from_public_key_pem(pem: &[u8]) -> Result<TrustedKey, Error> {
        let key = PKey::public_key_from_pem(pem)
            .or_else(|e| {
                openssl::rsa::Rsa::public_key_from_pem_pkcs1(pem)
                    .and_then(PKey::from_rsa)
                    .map_err(|_| e)
            })
            .map_err(|e| Error::invalid_certificate(format!("unreadable PEM public key: {e}")))?;
        let spec = KeySpec::of(&key).map_err(Error::invalid_certificate)?;
        let spki = key
            .public_key_to_der()
            .map_err(|e| Error::invalid_certificate(format!("public key: {e}")))?;
        Ok(TrustedKey {
            key,
            spec,
            cert_der: None,
            fingerprint: Fingerprint::of(&spki),
            subject: None,
            not_after: None,
        })
    }

    fn from_x509(cert: &X509) -> Result<TrustedKey, Error> {
        let key = cert
            .public_key()
            .map_err(|e| Error::invalid_certificate(format!("certificate public key: {e}")))?;
        let spec = KeySpec::of(&key).map_err(Error::invalid_certificate)?;
        let der = cert
            .to_der()
            .map_err(|e| Error::invalid_certificate(format!("certificate: {e}")))?;
        let subject = cert
            .subject_name()
            .entries()
            .map(|e| {
                let name = e.object().nid().short_name().unwrap_or("?");
                let value = e.data().to_string().unwrap_or_default();
                format!("{name}={value}")
            })
            .collect::<Vec<_>>()
            .join(", ");
        let not_after = Asn1Time::from_unix(0)
            .and_then(|epoch| epoch.diff(cert.not_after()))
            .ok()
            .map(|d| i64::from(d.days) * 86_400 + i64::from(d.secs));
        Ok(TrustedKey {
            key,
            spec,
            fingerprint: Fingerprint::of(&der),
            cert_der: Some(der),
            subject: Some(subject),
            not_after,
        })
    }

    /// The SHA-256 fingerprint (of the certificate, or of the public key).
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    /// The certificate's subject, `None` for a bare public key.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// The certificate's `notAfter`, in seconds since the Unix epoch, so the caller can warn
    /// before it expires with its own clock. `None` for a bare public key.
    pub fn not_after_unix(&self) -> Option<i64> {
        self.not_after
    }

    /// The DER certificate, `None` for a bare public key.
    pub fn certificate_der(&self) -> Option<&[u8]> {
        self.cert_der.as_deref()
    }

    pub(crate) fn spec(&self) -> KeySpec {
        self.spec
    }

    /// Checks `signature` over `data`. `Err` carries why the value could not even be tried.
    pub(crate) fn verify(
        &self,
        algorithm: SignatureAlgorithm,
        data: &[u8],
        signature: &[u8],
    ) -> Result<bool, String> {
        let md = algorithm.digest().message_digest();
        let der;
        let signature = match self.spec {
            KeySpec::Rsa { .. } => signature,
            KeySpec::Ec { curve } => {
                der = raw_ecdsa_to_der(signature, curve.field_len())?;
                &der[..]
            }
        };
        let mut verifier = Verifier::new(md, &self.key).map_err(|e| e.to_string())?;
        verifier.update(data).map_err(|e| e.to_string())?;
        // OpenSSL reports a malformed value as an error rather than `false`: both are a refusal.
        Ok(verifier.verify(signature).unwrap_or(false))
    }
}

/// XML-DSig writes ECDSA signatures as `r || s`, each left-padded to the field size; OpenSSL
/// wants DER. Some signers drop the leading zero bytes of both halves (a known Java bug), so a
/// value of even length up to twice the field size is split in half; anything else (notably a
/// DER value where the raw form is required) is refused.
fn raw_ecdsa_to_der(raw: &[u8], field_len: usize) -> Result<Vec<u8>, String> {
    if raw.is_empty() || raw.len() % 2 != 0 || raw.len() > 2 * field_len {
        return Err(format!(
            "ECDSA SignatureValue is {} bytes; XML-DSig requires r || s of {} bytes (a DER \
             value is not accepted)",
            raw.len(),
            2 * field_len
        ));
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let r = BigNum::from_slice(r).map_err(|e| e.to_string())?;
    let s = BigNum::from_slice(s).map_err(|e| e.to_string())?;
    let sig = EcdsaSig::from_private_components(r, s).map_err(|e| e.to_string())?;
    sig.to_der().map_err(|e| e.to_string())
}

/// The keys an organization trusts to sign its SAML messages: its IdP's signing certificates
/// (several during a key rollover). A signature verifies only with one of these; a key or
/// certificate carried in the document's `KeyInfo` is never trusted, only used to pick among
/// these.
#[derive(Clone, Debug, Default)]
pub struct TrustedKeys {
    keys: Vec<TrustedKey>,
}

impl TrustedKeys {
    /// An empty set (nothing verifies against it).
    pub fn new() -> Self {
        TrustedKeys::default()
    }

    /// Every `CERTIFICATE` in a PEM bundle (one or more).
    pub fn from_pem(pem: &[u8]) -> Result<TrustedKeys, Error> {
        let certs = X509::stack_from_pem(pem)
            .map_err(|e| Error::invalid_certificate(format!("unreadable PEM bundle: {e}")))?;
        if certs.is_empty() {
            return Err(Error::invalid_certificate(
                "no CERTIFICATE in the PEM input",
            ));
        }
        let mut keys = TrustedKeys::new();
        for cert in &certs {
            keys.add(TrustedKey::from_x509(cert)?);
        }
        Ok(keys)
    }

    /// Adds a key; a key already present (same fingerprint) is not added twice.
    pub fn add(&mut self, key: TrustedKey) {
        if self.find(key.fingerprint()).is_none() {
            self.keys.push(key);
        }
    }

    /// This set with `key` added.
    pub fn with(mut self, key: TrustedKey) -> Self {
        self.add(key);
        self
    }

    /// The key with this fingerprint.
    pub fn find(&self, fingerprint: &Fingerprint) -> Option<&TrustedKey> {
        self.keys.iter().find(|k| k.fingerprint() == fingerprint)
    }

    /// The keys, in the order they were added.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &TrustedKey> + '_ {
        self.keys.iter()
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub(crate) fn fingerprints(&self) -> Vec<Fingerprint> {
        self.keys.iter().map(|k| k.fingerprint).collect()
    }
}

impl FromIterator<TrustedKey> for TrustedKeys {
    fn from_iter<I: IntoIterator<Item = TrustedKey>>(iter: I) -> Self {
        let mut keys = TrustedKeys::new();
        for k in iter {
            keys.add(k);
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The "Java bug" ECDSA P-521 value of the xmlsec interop vector (r and s each one byte
    /// short) verifies over its SignedInfo with the leaf certificate it carries. The vector
    /// signs `URI=""`, which the verifier refuses before any key is tried, so the key is
    /// checked here directly.
    #[test]
    fn ecdsa_java_bug_value_verifies() {
        use sso_xml::{C14nAlgorithm, Canonicalizer, Document};

        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
            "../../../shared/corpus/dsig/xmlsec/aleksey-xmldsig-01/enveloped-ecdsa-java-bug.xml",
        );
        let bytes = std::fs::read(&path).unwrap();
        let doc = Document::parse(&bytes).unwrap();
        let find = |local: &str| {
            doc.elements()
                .find(|e| e.is(crate::DSIG_NS, local))
                .unwrap()
        };
        let key = TrustedKey::from_certificate_base64(&find("X509Certificate").text()).unwrap();
        let mut signed_info = Vec::new();
        Canonicalizer::new(C14nAlgorithm::InclusiveWithComments)
            .canonicalize(find("SignedInfo"), None, &mut signed_info)
            .unwrap();
        let value = crate::base64::decode_base64(&find("SignatureValue").text()).unwrap();
        assert_eq!(value.len(), 130, "two halves of 65 bytes, not 66");
        let algorithm = SignatureAlgorithm::EcdsaSha512;
        assert_eq!(key.verify(algorithm, &signed_info, &value), Ok(true));
        signed_info.push(b' ');
        assert_eq!(key.verify(algorithm, &signed_info, &value), Ok(false));
    }

    #[test]
    fn fingerprints_parse_from_what_admins_type() {
        let canonical = vec!["AB"; 32].join(":");
        let expected = Fingerprint([0xAB; 32]);
        for typed in [
            canonical.clone(),
            canonical.to_ascii_lowercase(),
            "Ab".repeat(32),
            "ab ".repeat(32),
            "AB\t".repeat(32),
            format!(":{}:", "ab".repeat(32)),
        ] {
            assert_eq!(typed.parse::<Fingerprint>(), Ok(expected), "{typed:?}");
        }
        assert_eq!(expected.to_string(), canonical);
        let mixed = Fingerprint(std::array::from_fn(|i| (i * 8) as u8));
        assert_eq!(mixed.to_string().parse::<Fingerprint>(), Ok(mixed));
        assert_eq!(Fingerprint::from(*mixed.as_bytes()), mixed);
    }

    #[test]
    fn anything_else_is_not_a_fingerprint() {
        for typed in [
            String::new(),
            "abcd".to_owned(),
            "zz".repeat(32),
            "ab".repeat(31),
            "ab".repeat(33),
            format!("{}a", "ab".repeat(32)),
            format!("{}\n", "ab".repeat(32)),
            format!("{}-", "ab".repeat(32)),
            format!("{}\u{FF10}", "ab".repeat(31)),
        ] {
            assert_eq!(
                typed.parse::<Fingerprint>(),
                Err(ParseFingerprintError(())),
                "{typed:?}"
            );
        }
        assert_eq!(
            ParseFingerprintError(()).to_string(),
            "a SHA-256 fingerprint is 64 hex digits, colons optional"
        );
    }
}
