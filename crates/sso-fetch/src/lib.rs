//! Fetches an IdP's metadata from the URL an admin gives, without letting that URL reach
//! into the service's own network.
//!
//! ```no_run
//! # async fn f() -> Result<(), sso_fetch::FetchError> {
//! let fetcher = sso_fetch::Fetcher::default();
//! let fetched = fetcher.fetch("https://idp.example.com/metadata").await?;
//! assert!(fetched.body.len() <= sso_fetch::DEFAULT_MAX_BYTES);
//! # Ok(()) }
//! ```
//!
//! # What is refused
//!
//! - Any scheme but `https` (`metadata-url-scheme`). Plain `http` reaches loopback only, and
//!   only through [`danger::allow_loopback`], which exists for tests.
//! - Any host that is, or resolves to, an address outside public unicast: private, loopback,
//!   link-local (169.254.169.254 included), shared, unique-local, multicast, unspecified,
//!   documentation, benchmarking and reserved ranges, IPv4 and IPv6, and IPv6 forms that
//!   embed such an IPv4 address (mapped, NAT64, 6to4) (`metadata-url-blocked-address`). The
//!   host is resolved once, every address is checked, and the connection goes to a checked
//!   address: a second lookup cannot swap in another one (DNS rebinding).
//! - More than [`DEFAULT_MAX_BYTES`], counted while reading (`metadata-too-large`); more than
//!   [`DEFAULT_TIMEOUT`] for the whole fetch (`metadata-fetch-timeout`); more than
//!   [`DEFAULT_MAX_REDIRECTS`] redirects, each checked like the first URL
//!   (`metadata-too-many-redirects`).
//! - Certificates that do not verify against the system roots (plus any added with
//!   [`FetcherBuilder::add_root_certificate`]) for the host name, SNI on, TLS 1.2 or later
//!   (`metadata-tls-failed`); statuses other than 200 (`metadata-http-status`); and network
//!   failures (`metadata-fetch-failed`).
//!
//! TLS is OpenSSL's, the one crypto library of the workspace; HTTP/1.1 is hyper's client on
//! the connection this crate opened.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod address;
mod error;
mod fetch;

pub use crate::{
    error::FetchError,
    fetch::{
        DEFAULT_MAX_BYTES, DEFAULT_MAX_REDIRECTS, DEFAULT_TIMEOUT, Fetched, Fetcher,
        FetcherBuilder, danger,
    },
};
