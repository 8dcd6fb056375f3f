//! What a validated response yields: the proof type [`VerifiedAssertion`] and the values read
//! from the covered node, so code above this crate never touches the XML.

use sso_xmldsig::Fingerprint;
use time::OffsetDateTime;

/// The Subject's NameID, as the signed assertion states it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NameId {
    /// The value: every text node of the element, concatenated.
    pub value: String,
    /// The `Format` attribute.
    pub format: Option<String>,
    /// The `SPNameQualifier` attribute (equal to the SP entity ID when present).
    pub sp_name_qualifier: Option<String>,
    /// The `NameQualifier` attribute.
    pub name_qualifier: Option<String>,
}

/// One attribute of the assertion. Several `Attribute` elements with the same `Name` stay
/// separate here, in document order; consumers read their values in that order.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Attribute {
    /// `Name`.
    pub name: String,
    /// `NameFormat`.
    pub name_format: Option<String>,
    /// `FriendlyName`.
    pub friendly_name: Option<String>,
    /// Every `AttributeValue` as text, in document order.
    pub values: Vec<String>,
}

/// Which signatures covered the assertion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignedParts {
    /// The Response carried a signature that verified.
    pub response: bool,
    /// The Assertion carried a signature that verified.
    pub assertion: bool,
}

/// An assertion that passed every check of [`validate`](crate::validate).
///
/// Only `validate` makes one, and every value in it was read from a node covered by a verified
/// signature, found by node identity.
#[derive(Clone, Debug)]
pub struct VerifiedAssertion {
    pub(crate) issuer: String,
    pub(crate) assertion_id: String,
    pub(crate) name_id: NameId,
    pub(crate) attributes: Vec<Attribute>,
    pub(crate) authn_instant: Option<OffsetDateTime>,
    pub(crate) session_index: Option<String>,
    pub(crate) session_not_on_or_after: Option<OffsetDateTime>,
    pub(crate) remember_until: OffsetDateTime,
    pub(crate) in_response_to: Option<String>,
    pub(crate) signed: SignedParts,
    pub(crate) signing_key: Fingerprint,
    pub(crate) encrypted: bool,
}

impl VerifiedAssertion {
    /// The IdP entity ID.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The Assertion's ID: the replay-cache key (with the connection).
    pub fn assertion_id(&self) -> &str {
        &self.assertion_id
    }

    /// The Subject's NameID.
    pub fn name_id(&self) -> &NameId {
        &self.name_id
    }

    /// The attributes, in document order.
    pub fn attributes(&self) -> &[Attribute] {
        &self.attributes
    }

    /// The values of every attribute named exactly `name`, in document order.
    pub fn attribute_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.attributes
            .iter()
            .filter(move |a| a.name == name)
            .flat_map(|a| a.values.iter().map(String::as_str))
    }

    /// When the user authenticated at the IdP.
    pub fn authn_instant(&self) -> Option<OffsetDateTime> {
        self.authn_instant
    }

    /// The IdP's session index, for logout.
    pub fn session_index(&self) -> Option<&str> {
        self.session_index.as_deref()
    }

    /// The IdP's limit on the session it starts (`SessionNotOnOrAfter`).
    pub fn session_not_on_or_after(&self) -> Option<OffsetDateTime> {
        self.session_not_on_or_after
    }

    /// Until when the assertion ID must be remembered to refuse a replay: the latest time at
    /// which the assertion could still be accepted, skew included.
    pub fn remember_until(&self) -> OffsetDateTime {
        self.remember_until
    }

    /// The request this answers, `None` for an accepted unsolicited (IdP-initiated) response.
    pub fn in_response_to(&self) -> Option<&str> {
        self.in_response_to.as_deref()
    }

    /// Whether the response was solicited by one of our AuthnRequests.
    pub fn is_solicited(&self) -> bool {
        self.in_response_to.is_some()
    }

    /// Which signatures covered the assertion.
    pub fn signed_parts(&self) -> SignedParts {
        self.signed
    }

    /// SHA-256 fingerprint of the certificate whose key verified the covering signature.
    pub fn signing_key(&self) -> &Fingerprint {
        &self.signing_key
    }

    /// Whether the assertion arrived encrypted.
    pub fn was_encrypted(&self) -> bool {
        self.encrypted
    }
}
