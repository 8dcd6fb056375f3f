//! The lookup: four places, in a fixed order, first valid email wins.

use std::fmt;

use crate::claims::{Attribute, Claims};
use crate::email::{Email, InvalidEmail};

/// The attribute Name that Microsoft Entra ID / ADFS use for the email claim.
pub const EMAILADDRESS_CLAIM: &str =
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress";

/// A place where an email is looked for, in the order they are tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum EmailSource {
    /// The Subject's NameID, whatever its Format.
    NameId,
    /// The attribute whose Name is exactly [`EMAILADDRESS_CLAIM`].
    EmailAddressClaim,
    /// An attribute whose Name is `emailaddress`, in any ASCII letter case.
    EmailAddressAttribute,
    /// An attribute whose Name is `email`, in any ASCII letter case.
    EmailAttribute,
}

impl EmailSource {
    /// Every place, in lookup order.
    pub const ORDER: [EmailSource; 4] = [
        Self::NameId,
        Self::EmailAddressClaim,
        Self::EmailAddressAttribute,
        Self::EmailAttribute,
    ];

    /// Stable machine-readable code, for traces and the wire.
    pub fn code(self) -> &'static str {
        match self {
            Self::NameId => "name-id",
            Self::EmailAddressClaim => "emailaddress-claim",
            Self::EmailAddressAttribute => "emailaddress-attribute",
            Self::EmailAttribute => "email-attribute",
        }
    }

    /// Whether an attribute `Name` (or, for the hint in a miss report, a `FriendlyName`) names
    /// this place. The NameID is not an attribute and matches none.
    pub fn matches_attribute_name(self, name: &str) -> bool {
        match self {
            Self::NameId => false,
            Self::EmailAddressClaim => name == EMAILADDRESS_CLAIM,
            Self::EmailAddressAttribute => name.eq_ignore_ascii_case("emailaddress"),
            Self::EmailAttribute => name.eq_ignore_ascii_case("email"),
        }
    }
}

impl fmt::Display for EmailSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NameId => "the Subject NameID",
            Self::EmailAddressClaim => "the attribute named http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
            Self::EmailAddressAttribute => "an attribute named emailaddress (any letter case)",
            Self::EmailAttribute => "an attribute named email (any letter case)",
        })
    }
}

/// The email found, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailMatch {
    email: Email,
    value_as_sent: String,
    source: EmailSource,
    attribute_name: Option<String>,
    skipped: Vec<PlaceReport>,
}

impl EmailMatch {
    /// The normalized email: the identity key.
    pub fn email(&self) -> &Email {
        &self.email
    }

    /// The value exactly as the IdP sent it, untrimmed.
    pub fn value_as_sent(&self) -> &str {
        &self.value_as_sent
    }

    /// Where it was found.
    pub fn source(&self) -> EmailSource {
        self.source
    }

    /// The attribute `Name` exactly as sent (its letter case may differ from the place's
    /// name); `None` when the email came from the NameID.
    pub fn attribute_name(&self) -> Option<&str> {
        self.attribute_name.as_deref()
    }

    /// Why each place before [`source`](Self::source) did not count, in lookup order, so a
    /// trace can show that, say, the NameID was a persistent identifier.
    pub fn skipped(&self) -> &[PlaceReport] {
        &self.skipped
    }

    /// The normalized email, owned.
    pub fn into_email(self) -> Email {
        self.email
    }
}

/// No place held a valid email. Lists, for each of the four places, what was found there and why
/// it did not count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoValidEmail {
    places: Vec<PlaceReport>,
}

impl NoValidEmail {
    /// Stable machine-readable code.
    pub fn reason(&self) -> &'static str {
        "no-valid-email"
    }

    /// One report per place, in lookup order.
    pub fn places(&self) -> &[PlaceReport] {
        &self.places
    }
}

impl fmt::Display for NoValidEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no valid email in the assertion ({}); tried",
            self.reason()
        )?;
        for (i, place) in self.places.iter().enumerate() {
            let sep = if i == 0 { " " } else { "; " };
            write!(f, "{sep}{place}")?;
        }
        Ok(())
    }
}

impl std::error::Error for NoValidEmail {}

/// What was found at one place and why it did not count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceReport {
    source: EmailSource,
    finding: Finding,
    friendly_name_only: Vec<String>,
}

impl PlaceReport {
    /// The place.
    pub fn source(&self) -> EmailSource {
        self.source
    }

    /// What was there.
    pub fn finding(&self) -> &Finding {
        &self.finding
    }

    /// Stable machine-readable code for why the place did not count.
    pub fn reason(&self) -> &'static str {
        self.finding.reason()
    }

    /// `Name`s of attributes whose `FriendlyName`, not `Name`, names this place. They are not
    /// used (a `FriendlyName` is a label, not an identifier) but are worth telling the admin.
    pub fn friendly_name_only(&self) -> &[String] {
        &self.friendly_name_only
    }
}

impl fmt::Display for PlaceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.source.code())?;
        match &self.finding {
            Finding::Absent => f.write_str("not present")?,
            Finding::NoValues { attribute_names } => {
                write!(f, "attribute {} has no values", attribute_names.join(", "))?;
            }
            Finding::Rejected(rejected) => {
                for (i, value) in rejected.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}{value}")?;
                }
            }
        }
        if !self.friendly_name_only.is_empty() {
            write!(
                f,
                " (FriendlyName matches but Name does not, not used: {})",
                self.friendly_name_only.join(", ")
            )?;
        }
        Ok(())
    }
}

/// What a place held, when it held no valid email.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Finding {
    /// No NameID, or no attribute with a matching `Name`.
    Absent,
    /// Attributes with a matching `Name` are present but carry no values.
    NoValues {
        /// Their `Name`s, as sent.
        attribute_names: Vec<String>,
    },
    /// Every value was rejected; in the order tried.
    Rejected(Vec<RejectedValue>),
}

impl Finding {
    /// Stable machine-readable code.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Absent => "absent",
            Self::NoValues { .. } => "no-values",
            Self::Rejected(_) => "no-valid-value",
        }
    }
}

/// A value that was looked at and is not a valid email.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RejectedValue {
    /// The attribute `Name` as sent; `None` for the NameID.
    pub attribute_name: Option<String>,
    /// The value as sent.
    pub value: String,
    /// Why it does not count.
    pub problem: InvalidEmail,
}

impl fmt::Display for RejectedValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} ({})", self.value, self.problem.reason())
    }
}

/// Finds the user's email in `claims`: the first valid value in the NameID, then the
/// [`EMAILADDRESS_CLAIM`] attribute, then `emailaddress`, then `email` (any letter case).
///
/// Attributes are matched on `Name` only, whatever their `NameFormat`; `FriendlyName` is never
/// matched. Several attributes with a matching `Name` count as one, their values taken in
/// document order, and the first valid value wins.
pub fn find_email(claims: &Claims<'_>) -> Result<EmailMatch, NoValidEmail> {
    let mut places = Vec::with_capacity(EmailSource::ORDER.len());
    for source in EmailSource::ORDER {
        match look(claims, source) {
            Ok((email, value_as_sent, attribute_name)) => {
                return Ok(EmailMatch {
                    email,
                    value_as_sent: value_as_sent.to_owned(),
                    source,
                    attribute_name: attribute_name.map(str::to_owned),
                    skipped: places,
                });
            }
            Err(report) => places.push(report),
        }
    }
    Err(NoValidEmail { places })
}

type Found<'a> = (Email, &'a str, Option<&'a str>);

fn look<'a>(claims: &Claims<'a>, source: EmailSource) -> Result<Found<'a>, PlaceReport> {
    // (attribute name, value); the name is None for the NameID.
    let candidates: Vec<(Option<&'a str>, &'a str)> = match source {
        EmailSource::NameId => claims.name_id.iter().map(|n| (None, n.value)).collect(),
        _ => matching(&claims.attributes, source)
            .flat_map(|a| a.values.iter().map(move |v| (Some(a.name), *v)))
            .collect(),
    };

    let mut rejected = Vec::new();
    for (attribute_name, value) in candidates {
        match Email::parse(value) {
            Ok(email) => return Ok((email, value, attribute_name)),
            Err(problem) => rejected.push(RejectedValue {
                attribute_name: attribute_name.map(str::to_owned),
                value: value.to_owned(),
                problem,
            }),
        }
    }

    let finding = if !rejected.is_empty() {
        Finding::Rejected(rejected)
    } else if source == EmailSource::NameId || matching(&claims.attributes, source).count() == 0 {
        Finding::Absent
    } else {
        Finding::NoValues {
            attribute_names: matching(&claims.attributes, source)
                .map(|a| a.name.to_owned())
                .collect(),
        }
    };
    let friendly_name_only = claims
        .attributes
        .iter()
        .filter(|a| !source.matches_attribute_name(a.name))
        .filter(|a| {
            a.friendly_name
                .is_some_and(|f| source.matches_attribute_name(f))
        })
        .map(|a| a.name.to_owned())
        .collect();
    Err(PlaceReport {
        source,
        finding,
        friendly_name_only,
    })
}

fn matching<'c, 'a>(
    attributes: &'c [Attribute<'a>],
    source: EmailSource,
) -> impl Iterator<Item = &'c Attribute<'a>> {
    attributes
        .iter()
        .filter(move |a| source.matches_attribute_name(a.name))
}
