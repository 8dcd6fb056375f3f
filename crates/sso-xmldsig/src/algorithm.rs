//! The algorithm allowlist: which URIs are accepted, which only through `dangerous()`, and
//! which never, in one place.

use std::fmt;

use openssl::hash::MessageDigest;

use crate::error::{Error, ErrorKind};

/// Where an algorithm URI was found, for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AlgorithmRole {
    /// `SignedInfo/SignatureMethod`.
    Signature,
    /// `Reference/DigestMethod`.
    Digest,
    /// `SignedInfo/CanonicalizationMethod`.
    Canonicalization,
    /// `EncryptedKey/EncryptionMethod`.
    KeyTransport,
    /// `EncryptedData/EncryptionMethod`.
    ContentEncryption,
}

impl fmt::Display for AlgorithmRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AlgorithmRole::Signature => "signature",
            AlgorithmRole::Digest => "digest",
            AlgorithmRole::Canonicalization => "canonicalization",
            AlgorithmRole::KeyTransport => "key transport",
            AlgorithmRole::ContentEncryption => "content encryption",
        })
    }
}

/// A `DigestMethod`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DigestAlgorithm {
    /// SHA-1: only with [`DangerousAlgorithmPolicy::allow_sha1`].
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl DigestAlgorithm {
    const ALL: [DigestAlgorithm; 4] = [
        DigestAlgorithm::Sha1,
        DigestAlgorithm::Sha256,
        DigestAlgorithm::Sha384,
        DigestAlgorithm::Sha512,
    ];

    /// The XML-DSig / xmlenc URI.
    pub fn uri(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha1 => "http://www.w3.org/2000/09/xmldsig#sha1",
            DigestAlgorithm::Sha256 => "http://www.w3.org/2001/04/xmlenc#sha256",
            DigestAlgorithm::Sha384 => "http://www.w3.org/2001/04/xmldsig-more#sha384",
            DigestAlgorithm::Sha512 => "http://www.w3.org/2001/04/xmlenc#sha512",
        }
    }

    /// The algorithm this exact URI names, allowed or not.
    pub fn from_uri(uri: &str) -> Option<DigestAlgorithm> {
        DigestAlgorithm::ALL.into_iter().find(|a| a.uri() == uri)
    }

    pub(crate) fn message_digest(self) -> MessageDigest {
        match self {
            DigestAlgorithm::Sha1 => MessageDigest::sha1(),
            DigestAlgorithm::Sha256 => MessageDigest::sha256(),
            DigestAlgorithm::Sha384 => MessageDigest::sha384(),
            DigestAlgorithm::Sha512 => MessageDigest::sha512(),
        }
    }

    pub(crate) fn output_len(self) -> usize {
        match self {
            DigestAlgorithm::Sha1 => 20,
            DigestAlgorithm::Sha256 => 32,
            DigestAlgorithm::Sha384 => 48,
            DigestAlgorithm::Sha512 => 64,
        }
    }
}

impl fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DigestAlgorithm::Sha1 => "SHA-1",
            DigestAlgorithm::Sha256 => "SHA-256",
            DigestAlgorithm::Sha384 => "SHA-384",
            DigestAlgorithm::Sha512 => "SHA-512",
        })
    }
}

/// The key family a signature algorithm needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum KeyFamily {
    Rsa,
    Ec,
}

/// A `SignatureMethod`: RSA PKCS#1 v1.5 or ECDSA (raw `r || s`), each with a SHA-2 digest, or
/// SHA-1 behind the dangerous opt-in. HMAC, DSA and RSA-PSS are not among them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    /// `xmldsig#rsa-sha1`: only with [`DangerousAlgorithmPolicy::allow_sha1`].
    RsaSha1,
    /// `xmldsig-more#rsa-sha256`.
    RsaSha256,
    /// `xmldsig-more#rsa-sha384`.
    RsaSha384,
    /// `xmldsig-more#rsa-sha512`.
    RsaSha512,
    /// `xmldsig-more#ecdsa-sha1`: only with [`DangerousAlgorithmPolicy::allow_sha1`].
    EcdsaSha1,
    /// `xmldsig-more#ecdsa-sha256`.
    EcdsaSha256,
    /// `xmldsig-more#ecdsa-sha384`.
    EcdsaSha384,
    /// `xmldsig-more#ecdsa-sha512`.
    EcdsaSha512,
}

impl SignatureAlgorithm {
    const ALL: [SignatureAlgorithm; 8] = [
        SignatureAlgorithm::RsaSha1,
        SignatureAlgorithm::RsaSha256,
        SignatureAlgorithm::RsaSha384,
        SignatureAlgorithm::RsaSha512,
        SignatureAlgorithm::EcdsaSha1,
        SignatureAlgorithm::EcdsaSha256,
        SignatureAlgorithm::EcdsaSha384,
        SignatureAlgorithm::EcdsaSha512,
    ];

    /// The XML-DSig URI.
    pub fn uri(self) -> &'static str {
        match self {
            SignatureAlgorithm::RsaSha1 => "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
            SignatureAlgorithm::RsaSha256 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            SignatureAlgorithm::RsaSha384 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
            SignatureAlgorithm::RsaSha512 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
            SignatureAlgorithm::EcdsaSha1 => "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1",
            SignatureAlgorithm::EcdsaSha256 => {
                "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
            }
            SignatureAlgorithm::EcdsaSha384 => {
                "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"
            }
            SignatureAlgorithm::EcdsaSha512 => {
                "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512"
            }
        }
    }

    /// The algorithm this exact URI names, allowed or not. Look-alikes such as
    /// `xmldsig-more#rsa-sha1` are not recognized.
    pub fn from_uri(uri: &str) -> Option<SignatureAlgorithm> {
        SignatureAlgorithm::ALL.into_iter().find(|a| a.uri() == uri)
    }

    /// The digest the signature is computed over.
    pub fn digest(self) -> DigestAlgorithm {
        match self {
            SignatureAlgorithm::RsaSha1 | SignatureAlgorithm::EcdsaSha1 => DigestAlgorithm::Sha1,
            SignatureAlgorithm::RsaSha256 | SignatureAlgorithm::EcdsaSha256 => {
                DigestAlgorithm::Sha256
            }
            SignatureAlgorithm::RsaSha384 | SignatureAlgorithm::EcdsaSha384 => {
                DigestAlgorithm::Sha384
            }
            SignatureAlgorithm::RsaSha512 | SignatureAlgorithm::EcdsaSha512 => {
                DigestAlgorithm::Sha512
            }
        }
    }

    pub(crate) fn family(self) -> KeyFamily {
        match self {
            SignatureAlgorithm::RsaSha1
            | SignatureAlgorithm::RsaSha256
            | SignatureAlgorithm::RsaSha384
            | SignatureAlgorithm::RsaSha512 => KeyFamily::Rsa,
            _ => KeyFamily::Ec,
        }
    }
}

impl fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let family = match self.family() {
            KeyFamily::Rsa => "RSA",
            KeyFamily::Ec => "ECDSA",
        };
        write!(f, "{family}-{}", self.digest())
    }
}

/// Which algorithms and key sizes a verification accepts.
///
/// The default is the allowlist of the service: RSA PKCS#1 v1.5 and ECDSA with SHA-256, SHA-384
/// or SHA-512, RSA keys of at least 2048 bits, ECDSA on P-256, P-384 or P-521. HMAC, DSA,
/// RSA-PSS and unknown URIs are always refused. Weaker legacy settings exist only behind
/// [`dangerous`](Self::dangerous), so that every use is visible at the call site.
///
/// ```
/// use sso_xmldsig::AlgorithmPolicy;
///
/// let strict = AlgorithmPolicy::default();
/// assert!(!strict.allows_sha1());
///
/// // An organization that explicitly accepted SHA-1 from a legacy IdP:
/// let legacy = AlgorithmPolicy::default().dangerous().allow_sha1();
/// assert!(legacy.allows_sha1());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlgorithmPolicy {
    sha1: bool,
    min_rsa_bits: u32,
}

/// Never accepted, whatever the opt-ins: a trusted RSA key shorter than this.
pub(crate) const RSA_FLOOR_BITS: u32 = 1024;

impl Default for AlgorithmPolicy {
    fn default() -> Self {
        AlgorithmPolicy {
            sha1: false,
            min_rsa_bits: 2048,
        }
    }
}

impl AlgorithmPolicy {
    /// The default, strict policy.
    pub fn strict() -> Self {
        AlgorithmPolicy::default()
    }

    /// Options that weaken the policy. Each one is a decision an administrator takes for one
    /// organization, knowingly; none is a default.
    pub fn dangerous(self) -> DangerousAlgorithmPolicy {
        DangerousAlgorithmPolicy { policy: self }
    }

    /// Whether SHA-1 digests and `rsa-sha1` / `ecdsa-sha1` signatures are accepted.
    pub fn allows_sha1(&self) -> bool {
        self.sha1
    }

    /// The smallest RSA key accepted, in bits.
    pub fn min_rsa_bits(&self) -> u32 {
        self.min_rsa_bits
    }

    pub(crate) fn check_digest(&self, uri: &str) -> Result<DigestAlgorithm, Error> {
        let found = DigestAlgorithm::from_uri(uri);
        match found {
            Some(DigestAlgorithm::Sha1) if !self.sha1 => {
                Err(not_allowed(AlgorithmRole::Digest, uri, true))
            }
            Some(a) => Ok(a),
            None => Err(not_allowed(AlgorithmRole::Digest, uri, false)),
        }
    }

    pub(crate) fn check_signature(&self, uri: &str) -> Result<SignatureAlgorithm, Error> {
        match SignatureAlgorithm::from_uri(uri) {
            Some(a) if a.digest() == DigestAlgorithm::Sha1 && !self.sha1 => {
                Err(not_allowed(AlgorithmRole::Signature, uri, true))
            }
            Some(a) => Ok(a),
            None => Err(not_allowed(AlgorithmRole::Signature, uri, false)),
        }
    }
}

fn not_allowed(role: AlgorithmRole, uri: &str, allowed_by_opt_in: bool) -> Error {
    Error::new(ErrorKind::AlgorithmNotAllowed {
        role,
        uri: uri.to_owned(),
        allowed_by_opt_in,
    })
}

/// The weakening options of an [`AlgorithmPolicy`], reached through
/// [`AlgorithmPolicy::dangerous`].
#[derive(Clone, Debug)]
pub struct DangerousAlgorithmPolicy {
    policy: AlgorithmPolicy,
}

impl DangerousAlgorithmPolicy {
    /// Accept SHA-1 digests and SHA-1 signatures. SHA-1 collisions are practical; only for an
    /// IdP that cannot do better, by the organization's explicit choice.
    pub fn allow_sha1(mut self) -> AlgorithmPolicy {
        self.policy.sha1 = true;
        self.policy
    }

    /// Accept RSA keys from 1024 bits on (instead of 2048). 1024-bit RSA is within reach of a
    /// well-funded attacker; only for a legacy IdP, by the organization's explicit choice.
    pub fn allow_rsa_1024(mut self) -> AlgorithmPolicy {
        self.policy.min_rsa_bits = RSA_FLOOR_BITS;
        self.policy
    }
}
