//! Why a fetch was refused or failed, with stable reason codes.

use std::net::IpAddr;
use std::time::Duration;

/// Why a metadata URL was not fetched.
///
/// [`reason`](Self::reason) is a stable kebab-case code (the gRPC layer maps it to a wire
/// value); the `Display` text is the detail for the admin who gave the URL. Refusals (the
/// URL, an address, a limit) are decided before or while reading and never retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The text is not an absolute URL with a host, or carries credentials.
    #[error("{url:?} is not a usable metadata URL: {detail} (metadata-url-invalid)")]
    InvalidUrl {
        /// The URL as given (or as a redirect named it).
        url: String,
        /// What is wrong with it.
        detail: String,
    },
    /// Not `https`; plain `http` only reaches loopback, and only when the fetcher allows
    /// loopback (tests).
    #[error("{url:?}: {detail} (metadata-url-scheme)")]
    Scheme {
        /// The URL.
        url: String,
        /// What was refused.
        detail: String,
    },
    /// The host is or resolves to an address inside a private, loopback, link-local,
    /// multicast, documentation or other non-public range. Nothing was sent to it.
    #[error("{host} ({address}) is a {range} address (metadata-url-blocked-address)")]
    BlockedAddress {
        /// The host of the URL.
        host: String,
        /// The refused address.
        address: IpAddr,
        /// The range it falls in.
        range: &'static str,
    },
    /// The document is larger than the limit (by its Content-Length, or counted while
    /// reading).
    #[error("the metadata is larger than {limit} bytes (metadata-too-large)")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Resolving, connecting, redirects and reading together took longer than the limit.
    #[error("fetching the metadata took longer than {limit:?} (metadata-fetch-timeout)")]
    Timeout {
        /// The limit.
        limit: Duration,
    },
    /// More redirects than allowed.
    #[error("more than {limit} redirects (metadata-too-many-redirects)")]
    TooManyRedirects {
        /// The limit.
        limit: u32,
    },
    /// The server answered with a status other than 200 (or a redirect without a usable
    /// Location).
    #[error("the server answered HTTP {status} for {url} (metadata-http-status)")]
    HttpStatus {
        /// The status code.
        status: u16,
        /// The URL asked.
        url: String,
    },
    /// The TLS handshake failed: an untrusted or mismatched certificate, or no common
    /// protocol.
    #[error("TLS with {host} failed: {detail} (metadata-tls-failed)")]
    Tls {
        /// The host.
        host: String,
        /// OpenSSL's explanation.
        detail: String,
    },
    /// The host did not resolve, no address accepted the connection, or the HTTP exchange
    /// broke.
    #[error("fetching {url} failed: {detail} (metadata-fetch-failed)")]
    Failed {
        /// The URL asked.
        url: String,
        /// What broke.
        detail: String,
    },
}

impl FetchError {
    /// Stable machine-readable code.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidUrl { .. } => "metadata-url-invalid",
            Self::Scheme { .. } => "metadata-url-scheme",
            Self::BlockedAddress { .. } => "metadata-url-blocked-address",
            Self::TooLarge { .. } => "metadata-too-large",
            Self::Timeout { .. } => "metadata-fetch-timeout",
            Self::TooManyRedirects { .. } => "metadata-too-many-redirects",
            Self::HttpStatus { .. } => "metadata-http-status",
            Self::Tls { .. } => "metadata-tls-failed",
            Self::Failed { .. } => "metadata-fetch-failed",
        }
    }

    /// Whether the URL or its answer was refused by a rule (`true`), rather than the network
    /// failing (`false`: timeouts, TLS and connection failures, error statuses), which may
    /// pass on a later try.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Self::InvalidUrl { .. }
                | Self::Scheme { .. }
                | Self::BlockedAddress { .. }
                | Self::TooLarge { .. }
                | Self::TooManyRedirects { .. }
        )
    }

    pub(crate) fn failed(url: &url::Url, detail: impl std::fmt::Display) -> Self {
        Self::Failed {
            url: url.to_string(),
            detail: detail.to_string(),
        }
    }
}
