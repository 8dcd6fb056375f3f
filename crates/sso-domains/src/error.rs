//! Why a domain cannot be claimed, and why a DNS check did not prove a claim, with stable
//! kebab-case reason codes.

use std::time::Duration;

/// Why a domain can never be an organization's verified domain, whoever asks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainRefusal {
    /// The domain is a public suffix (`com`, `co.uk`, `github.io`): names under it belong to
    /// many unrelated owners (`domain-public-suffix`).
    #[error(
        "{domain} is a public suffix: names under it belong to many owners (domain-public-suffix)"
    )]
    PublicSuffix {
        /// The domain refused.
        domain: String,
    },
    /// The domain (or the domain it is under) is a free-mail or consumer email provider:
    /// anyone can have an address there (`domain-free-mail`).
    #[error(
        "{domain} is a free-mail domain ({entry}): anyone can have an address there (domain-free-mail)"
    )]
    FreeMail {
        /// The domain refused.
        domain: String,
        /// The entry of the free-mail list it matched (`gmail.com`, `gmx.*`).
        entry: String,
    },
}

impl DomainRefusal {
    /// Stable machine-readable code.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::PublicSuffix { .. } => "domain-public-suffix",
            Self::FreeMail { .. } => "domain-free-mail",
        }
    }
}

/// Why a DNS check did not prove a claim.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The name has no TXT record, or none of its TXT records is a verification value
    /// (`domain-record-missing`). A definitive answer of the domain's DNS.
    #[error("no TXT record \"sso-verification=...\" at {name} (domain-record-missing)")]
    RecordMissing {
        /// The name looked up.
        name: String,
    },
    /// The name has verification values, but none carries this claim's token
    /// (`domain-token-mismatch`). A definitive answer of the domain's DNS.
    #[error(
        "the TXT records at {name} carry {found} verification value(s), none with this claim's token (domain-token-mismatch)"
    )]
    TokenMismatch {
        /// The name looked up.
        name: String,
        /// How many `sso-verification=` values were there.
        found: usize,
    },
    /// The lookup failed: the name server refused or failed (SERVFAIL), could not be reached,
    /// or answered something unreadable (`domain-lookup-failed`). Says nothing about the
    /// domain's records.
    #[error("the TXT lookup of {name} failed: {detail} (domain-lookup-failed)")]
    LookupFailed {
        /// The name looked up.
        name: String,
        /// What went wrong, for the admin.
        detail: String,
    },
    /// No answer in time (`domain-lookup-timeout`). Says nothing about the domain's records.
    #[error("the TXT lookup of {name} got no answer within {after:?} (domain-lookup-timeout)")]
    Timeout {
        /// The name looked up.
        name: String,
        /// How long the lookup waited.
        after: Duration,
    },
}

impl CheckError {
    /// Stable machine-readable code.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::RecordMissing { .. } => "domain-record-missing",
            Self::TokenMismatch { .. } => "domain-token-mismatch",
            Self::LookupFailed { .. } => "domain-lookup-failed",
            Self::Timeout { .. } => "domain-lookup-timeout",
        }
    }

    /// Whether the domain's DNS answered, and the answer lacks the token (`true`), rather
    /// than the lookup itself failing (`false`): only a definitive answer is evidence that
    /// the record is gone.
    pub fn is_definitive(&self) -> bool {
        matches!(
            self,
            Self::RecordMissing { .. } | Self::TokenMismatch { .. }
        )
    }
}

/// A claim token that could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The random source failed (`internal`).
    #[error("the random source failed: {0} (internal)")]
    Random(String),
    /// The text is not a claim token: 32 lower-case hex digits (`invalid-input`).
    #[error("not a claim token: expected 32 lower-case hex digits (invalid-input)")]
    Malformed,
}

impl TokenError {
    /// Stable machine-readable code.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Random(_) => "internal",
            Self::Malformed => "invalid-input",
        }
    }
}
