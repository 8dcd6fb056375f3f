//! Who may claim an email domain, and the DNS record that proves a claim.
//!
//! An organization that says it owns `bigcorp.com` gets the logins of everyone at
//! `bigcorp.com` routed to its IdP, and its IdP may create members there. So saying is not
//! enough: the domain must not be one nobody owns ([`check_claimable`]: public suffixes by
//! the Public Suffix List compiled in, free-mail domains by the list shipped with this crate),
//! and whoever claims it must publish a random token in the domain's DNS, which
//! [`TxtLookup::check`] looks up through a real resolver.
//!
//! ```no_run
//! use sso_domains::{ClaimToken, TxtLookup, check_claimable, record_name};
//!
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! check_claimable("bigcorp.com")?;
//! let token = ClaimToken::generate()?;
//! // The admin publishes one TXT record:
//! //   _sso-verification.bigcorp.com.  TXT  "sso-verification=<token>"
//! assert_eq!(record_name("bigcorp.com"), "_sso-verification.bigcorp.com");
//! println!("{}", token.record_value());
//!
//! // Then the claim is checked, now and again later: the record must stay.
//! let lookup = TxtLookup::default(); // the system's name servers
//! lookup.check("bigcorp.com", &token).await?;
//! # Ok(()) }
//! ```
//!
//! # The record
//!
//! Name `_sso-verification.<domain>` ([`RECORD_LABEL`]), type TXT, value
//! `sso-verification=<token>` ([`VALUE_PREFIX`]) with the claim's 32 hex digits. The apex is
//! never looked at. Other TXT values at the name are ignored, so several organizations'
//! claims (and a successor's, during a hand-over) can stand side by side; each proves only
//! its own claim.
//!
//! # Errors
//!
//! [`DomainRefusal::reason`]: `domain-public-suffix`, `domain-free-mail`.
//! [`CheckError::reason`]: `domain-record-missing` and `domain-token-mismatch` (the domain's
//! DNS answered without the token: [`CheckError::is_definitive`]), `domain-lookup-failed`,
//! `domain-lookup-timeout` (nothing learned about the domain).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// The README's example runs as a doctest, so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod error;
mod lookup;
mod record;
mod rules;

pub use crate::{
    error::{CheckError, DomainRefusal, TokenError},
    lookup::{DEFAULT_TIMEOUT, TxtLookup, TxtLookupBuilder},
    record::{ClaimToken, RECORD_LABEL, VALUE_PREFIX, record_name},
    rules::{check_claimable, is_free_mail},
};
