//! Finds who signed in: the user's email in a verified SAML assertion, looked up in a fixed
//! order, with the reason for every place that did not count.
//!
//! ```
//! use sso_email::{find_email, Attribute, Claims, EmailSource, NameId};
//!
//! let claims = Claims::new()
//!     // A persistent NameID is an opaque identifier, not an email: skipped.
//!     .with_name_id(
//!         NameId::new("a1b2c3").with_format("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"),
//!     )
//!     .with_attribute(Attribute::new("Email", [" Jane.Doe@Bücher.example "]));
//!
//! let found = find_email(&claims)?;
//! assert_eq!(found.email().as_str(), "jane.doe@xn--bcher-kva.example");
//! assert_eq!(found.value_as_sent(), " Jane.Doe@Bücher.example ");
//! assert_eq!(found.source(), EmailSource::EmailAttribute);
//! assert_eq!(found.skipped()[0].reason(), "no-valid-value");
//!
//! // Nothing valid anywhere: the refusal lists what was tried.
//! let miss = find_email(&Claims::new().with_name_id(NameId::new("jdoe"))).unwrap_err();
//! assert_eq!(miss.reason(), "no-valid-email");
//! assert_eq!(
//!     miss.to_string(),
//!     "no valid email in the assertion (no-valid-email); tried name-id: \"jdoe\" (missing-at); \
//!      emailaddress-claim: not present; emailaddress-attribute: not present; \
//!      email-attribute: not present",
//! );
//! # Ok::<(), sso_email::NoValidEmail>(())
//! ```
//!
//! # The order
//!
//! The first place holding a valid email wins:
//!
//! 1. the Subject's NameID, whatever its Format;
//! 2. the attribute named [`EMAILADDRESS_CLAIM`]
//!    (`http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress`), exact case;
//! 3. an attribute named `emailaddress`, any ASCII letter case;
//! 4. an attribute named `email`, any ASCII letter case.
//!
//! Attributes are matched on their `Name` only, whatever their `NameFormat`. `FriendlyName` is
//! never matched: SAML says it must not be used to identify an attribute, and honouring it would
//! let a label decide who signs in. When a `FriendlyName` would have matched, the miss report
//! says so, since that is a common IdP misconfiguration. Several attributes with one matching
//! `Name` are read as one, values in document order; the first valid value counts.
//!
//! # Valid and normalized
//!
//! A value counts when, surrounding whitespace trimmed, it is one plain address: no display
//! name, no comments, no domain literal, a dotted domain, RFC 5321 length limits. See
//! [`Email::parse`]. The identity key is the normalized form: lower-cased, domain in ASCII
//! (punycode) form. Syntax is checked by the `email_address` and `idna` crates, not by a
//! hand-written pattern.
//!
//! The crate reads a small borrowed view ([`Claims`]) rather than the SAML types, so it can be
//! used on its own and by services that never see XML. It assumes the view comes from an
//! assertion whose signature was verified.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// The README's example runs as a doctest, so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(feature = "assertion")]
mod assertion;
mod claims;
mod email;
mod find;

pub use crate::{
    claims::{Attribute, Claims, NameId},
    email::{Email, InvalidEmail},
    find::{
        EMAILADDRESS_CLAIM, EmailMatch, EmailSource, Finding, NoValidEmail, PlaceReport,
        RejectedValue, find_email,
    },
};
