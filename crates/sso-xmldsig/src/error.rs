//! Why a signature, key or signing request was refused, with a stable reason code per kind.

use std::fmt;

use sso_xml::Position;

use crate::algorithm::{AlgorithmRole, DigestAlgorithm, SignatureAlgorithm};
use crate::keys::Fingerprint;

/// Why a signature was refused, a key was not accepted or a document could not be signed.
///
/// [`reason`](Error::reason) is a stable machine-readable code for logs, login traces and API
/// errors; `Display` adds the detail an administrator needs to act (which algorithm, which
/// reference, which certificate fingerprints were tried).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
}

/// What went wrong, with its detail.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The element has no `ds:Signature` child.
    NoSignature {
        /// The element that was expected to be signed.
        element: String,
    },
    /// The element has more than one `ds:Signature` child.
    MultipleSignatures {
        /// How many.
        count: usize,
    },
    /// The `ds:Signature` does not have the shape of an enveloped signature (missing or repeated
    /// `SignedInfo` or `Reference`, misplaced elements, markup inside a value, bad base64...).
    MalformedSignature {
        /// What is wrong, for the administrator.
        detail: String,
        /// Where, when known.
        position: Option<Position>,
    },
    /// An algorithm outside the allowlist (or allowed only by a dangerous opt-in that is off).
    AlgorithmNotAllowed {
        /// Where the algorithm was used.
        role: AlgorithmRole,
        /// The algorithm URI as written.
        uri: String,
        /// Whether the policy could allow it through its `dangerous()` opt-in.
        allowed_by_opt_in: bool,
    },
    /// A `ds:Transform` whose algorithm is neither enveloped-signature nor one of the allowed
    /// canonicalizations (exclusive c14n or c14n 1.0, with or without comments): XPath, XSLT,
    /// base64, C14N 1.1...
    TransformNotAllowed {
        /// The transform's algorithm URI.
        uri: String,
    },
    /// The transforms are not exactly enveloped-signature followed by one canonicalization
    /// (SAML core 5.4.4): one is missing, repeated, out of order, or there are more than two.
    InvalidTransforms {
        /// What is wrong with the sequence, for the administrator.
        detail: String,
    },
    /// `URI=""`: the reference names the whole document rather than the signed element. SAML
    /// (core 5.4.2, metadata 3.1.2) requires `#` followed by the signed element's ID.
    WholeDocumentReference {
        /// The element that carries the signature.
        signed: String,
    },
    /// A `Reference` URI that is not `#` followed by a plain ID: external URIs, XPointer, a
    /// fragment with markup or XPath syntax, or no URI at all.
    UnsupportedReference {
        /// The URI as written; `None` when the `Reference` has no `URI` attribute.
        uri: Option<String>,
    },
    /// No element of the document carries the referenced ID.
    ReferenceNotFound {
        /// The referenced ID.
        id: String,
    },
    /// Two or more elements carry the same ID.
    DuplicateId {
        /// The ID value.
        id: String,
        /// How many elements carry it.
        count: usize,
    },
    /// The reference resolves to an element other than the signature's parent: the signature
    /// does not cover the element that was asked about.
    WrongReference {
        /// The referenced ID.
        id: String,
        /// The element the reference names.
        referenced: String,
        /// The element that carries the signature.
        signed: String,
    },
    /// The content changed after signing: the digest of the referenced element differs from
    /// `DigestValue`.
    DigestMismatch {
        /// The Reference URI.
        reference: String,
        /// The digest algorithm.
        algorithm: DigestAlgorithm,
    },
    /// No trusted key verifies `SignatureValue` over `SignedInfo`.
    SignatureInvalid {
        /// The signature algorithm.
        algorithm: SignatureAlgorithm,
        /// Fingerprints of the trusted keys that were tried.
        tried: Vec<Fingerprint>,
        /// Extra detail (for example a malformed ECDSA value).
        detail: Option<String>,
    },
    /// The signature was made with a key that is not trusted, or no trusted key fits the
    /// signature algorithm. `KeyInfo` never adds trust.
    UntrustedKey {
        /// Fingerprint of the certificate the document's `KeyInfo` carries, if any.
        presented: Option<Fingerprint>,
        /// Fingerprints of the trusted keys.
        trusted: Vec<Fingerprint>,
        /// The signature algorithm.
        algorithm: SignatureAlgorithm,
    },
    /// Every trusted key that fits the algorithm is shorter than the policy allows.
    WeakKey {
        /// The key.
        fingerprint: Fingerprint,
        /// Its size in bits.
        bits: u32,
        /// The policy's minimum.
        minimum: u32,
    },
    /// A certificate or public key given as trusted could not be read, or holds a key type or
    /// curve outside the allowlist.
    InvalidCertificate {
        /// What is wrong.
        detail: String,
    },
    /// A private key could not be read or is unsuitable.
    InvalidKey {
        /// What is wrong.
        detail: String,
    },
    /// The element cannot be signed as asked (no `ID`, already signed, duplicate IDs...), or the
    /// crypto library failed.
    SigningFailed {
        /// What went wrong.
        detail: String,
    },
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Self {
        Error { kind }
    }

    pub(crate) fn malformed(detail: impl Into<String>, at: Option<sso_xml::Node<'_>>) -> Self {
        Error::new(ErrorKind::MalformedSignature {
            detail: detail.into(),
            position: at.map(|n| n.position()),
        })
    }

    pub(crate) fn invalid_certificate(detail: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidCertificate {
            detail: detail.into(),
        })
    }

    pub(crate) fn invalid_key(detail: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidKey {
            detail: detail.into(),
        })
    }

    pub(crate) fn signing(detail: impl Into<String>) -> Self {
        Error::new(ErrorKind::SigningFailed {
            detail: detail.into(),
        })
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// A stable, machine-readable reason code.
    pub fn reason(&self) -> &'static str {
        match &self.kind {
            ErrorKind::NoSignature { .. } => "no-signature",
            ErrorKind::MultipleSignatures { .. } => "multiple-signatures",
            ErrorKind::MalformedSignature { .. } => "malformed-signature",
            ErrorKind::AlgorithmNotAllowed { .. } => "algorithm-not-allowed",
            ErrorKind::TransformNotAllowed { .. } => "transform-not-allowed",
            ErrorKind::InvalidTransforms { .. } => "invalid-transforms",
            ErrorKind::WholeDocumentReference { .. } => "whole-document-reference",
            ErrorKind::UnsupportedReference { .. } => "unsupported-reference",
            ErrorKind::ReferenceNotFound { .. } => "reference-not-found",
            ErrorKind::DuplicateId { .. } => "duplicate-id",
            ErrorKind::WrongReference { .. } => "wrong-reference",
            ErrorKind::DigestMismatch { .. } => "digest-mismatch",
            ErrorKind::SignatureInvalid { .. } => "signature-invalid",
            ErrorKind::UntrustedKey { .. } => "untrusted-key",
            ErrorKind::WeakKey { .. } => "weak-key",
            ErrorKind::InvalidCertificate { .. } => "invalid-certificate",
            ErrorKind::InvalidKey { .. } => "invalid-key",
            ErrorKind::SigningFailed { .. } => "signing-failed",
        }
    }
}

struct List<'a>(&'a [Fingerprint]);

impl fmt::Display for List<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        for (i, fp) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{fp}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())?;
        f.write_str(": ")?;
        match &self.kind {
            ErrorKind::NoSignature { element } => {
                write!(f, "{element} has no ds:Signature child")
            }
            ErrorKind::MultipleSignatures { count } => {
                write!(f, "{count} ds:Signature children where one is allowed")
            }
            ErrorKind::MalformedSignature { detail, position } => {
                f.write_str(detail)?;
                match position {
                    Some(p) => write!(f, " (at {p})"),
                    None => Ok(()),
                }
            }
            ErrorKind::AlgorithmNotAllowed {
                role,
                uri,
                allowed_by_opt_in,
            } => {
                write!(f, "{role} algorithm {uri} is not allowed")?;
                if *allowed_by_opt_in {
                    f.write_str(" (SHA-1 needs the policy's explicit dangerous opt-in)")?;
                }
                Ok(())
            }
            ErrorKind::TransformNotAllowed { uri } => write!(
                f,
                "transform {uri} is not allowed (only enveloped-signature, then exclusive c14n \
                 or c14n 1.0)"
            ),
            ErrorKind::InvalidTransforms { detail } => write!(
                f,
                "{detail}; the transforms must be enveloped-signature followed by one \
                 canonicalization"
            ),
            ErrorKind::WholeDocumentReference { signed } => write!(
                f,
                "the reference URI \"\" names the whole document; the signature on {signed} \
                 must reference it as \"#\" followed by its ID"
            ),
            ErrorKind::UnsupportedReference { uri: Some(uri) } => write!(
                f,
                "reference URI {uri:?} is not supported (only \"#\" followed by the signed \
                 element's ID)"
            ),
            ErrorKind::UnsupportedReference { uri: None } => f.write_str(
                "ds:Reference has no URI (only \"#\" followed by the signed element's ID)",
            ),
            ErrorKind::ReferenceNotFound { id } => {
                write!(f, "no element carries the referenced ID {id:?}")
            }
            ErrorKind::DuplicateId { id, count } => {
                write!(f, "{count} elements carry the ID {id:?}")
            }
            ErrorKind::WrongReference {
                id,
                referenced,
                signed,
            } => write!(
                f,
                "the reference #{id} names {referenced}, not the signed element {signed}"
            ),
            ErrorKind::DigestMismatch {
                reference,
                algorithm,
            } => write!(
                f,
                "{algorithm} digest of reference {reference:?} does not match DigestValue: \
                 the content changed after signing"
            ),
            ErrorKind::SignatureInvalid {
                algorithm,
                tried,
                detail,
            } => {
                write!(
                    f,
                    "{algorithm} signature does not verify with any trusted key (tried {})",
                    List(tried)
                )?;
                match detail {
                    Some(d) => write!(f, "; {d}"),
                    None => Ok(()),
                }
            }
            ErrorKind::UntrustedKey {
                presented,
                trusted,
                algorithm,
            } => {
                write!(f, "no trusted key verifies the {algorithm} signature")?;
                if let Some(p) = presented {
                    write!(f, "; the document's KeyInfo carries certificate {p}")?;
                }
                write!(f, "; trusted: {}", List(trusted))
            }
            ErrorKind::WeakKey {
                fingerprint,
                bits,
                minimum,
            } => write!(
                f,
                "trusted key {fingerprint} has {bits} bits, the policy requires {minimum}"
            ),
            ErrorKind::InvalidCertificate { detail }
            | ErrorKind::InvalidKey { detail }
            | ErrorKind::SigningFailed { detail } => f.write_str(detail),
        }
    }
}

impl std::error::Error for Error {}

/// Why an encrypted element could not be decrypted.
///
/// Every failure after the algorithms were checked (wrong key, bad padding, corrupt ciphertext,
/// plaintext that is not XML...) is the same [`decryption-failed`](Self::reason) to the caller,
/// so that no answer can serve as a padding or format oracle; the detail is logged with
/// `tracing` at debug level. Algorithms are checked first, from the document alone, so a refused
/// algorithm (RSA 1.5, 3DES) can be named to the administrator without revealing anything about
/// the key or the plaintext.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecryptionError {
    refused_algorithm: Option<(AlgorithmRole, String)>,
}

impl DecryptionError {
    pub(crate) fn failed(detail: &str) -> Self {
        tracing::debug!(detail, "xmlenc decryption failed");
        DecryptionError {
            refused_algorithm: None,
        }
    }

    pub(crate) fn algorithm(role: AlgorithmRole, uri: &str) -> Self {
        DecryptionError {
            refused_algorithm: Some((role, uri.to_owned())),
        }
    }

    /// `decryption-failed`, or `encryption-algorithm-not-allowed` when the document uses a
    /// key transport or content algorithm outside the allowlist.
    pub fn reason(&self) -> &'static str {
        match self.refused_algorithm {
            Some(_) => "encryption-algorithm-not-allowed",
            None => "decryption-failed",
        }
    }

    /// The refused algorithm (its role and URI), when that is the reason.
    pub fn refused_algorithm(&self) -> Option<(AlgorithmRole, &str)> {
        self.refused_algorithm
            .as_ref()
            .map(|(role, uri)| (*role, uri.as_str()))
    }
}

impl fmt::Display for DecryptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.refused_algorithm {
            Some((role, uri)) => write!(
                f,
                "encryption-algorithm-not-allowed: {role} algorithm {uri} is not allowed"
            ),
            None => f.write_str("decryption-failed: the encrypted element could not be decrypted"),
        }
    }
}

impl std::error::Error for DecryptionError {}
