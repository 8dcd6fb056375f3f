//! One email address: validation and the normalized form used as the identity key.

use std::fmt;

use email_address::{EmailAddress, Options};
use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};

/// RFC 5321 section 4.5.3.1.1, in octets.
const LOCAL_PART_MAX: usize = 64;
/// RFC 5321 path limit (256) minus the angle brackets, in octets.
const ADDRESS_MAX: usize = 254;
/// RFC 1035 section 2.3.4, in octets of the ASCII form.
const LABEL_MAX: usize = 63;

/// A valid email address in normalized form: the identity key of a user.
///
/// Normalized means: surrounding whitespace trimmed, local part lower-cased, domain in its
/// ASCII form (UTS 46 mapping, then punycode), so `Jane@BÜCHER.example` and
/// `jane@xn--bcher-kva.example` are one user. Normalizing a normalized address changes nothing.
/// The local part is lower-cased although RFC 5321 lets servers treat it case-sensitively,
/// because IdPs send the same mailbox with varying case and one person must stay one user.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Email(String);

impl Email {
    /// Validates one plain address and returns its normalized form.
    ///
    /// Valid means: one address, no display name or angle brackets, no comments, no domain
    /// literal, a domain of at least two labels, local part at most 64 octets, each domain
    /// label at most 63 octets and the whole at most 254 octets (lengths measured on the
    /// normalized form). Syntax is checked by the `email_address` crate and the domain by
    /// `idna` with the STD3 (letters, digits, hyphen) rules.
    pub fn parse(value: &str) -> Result<Self, InvalidEmail> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err(InvalidEmail::Empty);
        }
        let options = Options::default()
            .without_display_text()
            .without_domain_literal()
            .with_no_minimum_sub_domains();
        let parsed = EmailAddress::parse_with_options(trimmed, options)
            .map_err(|error| classify(trimmed, &error))?;

        let local = parsed.local_part().to_lowercase();
        if local.len() > LOCAL_PART_MAX {
            return Err(InvalidEmail::LocalPartTooLong);
        }
        // Lower-casing can turn a valid local part into an invalid one only in theory; checking
        // again keeps normalization idempotent whatever the Unicode tables say.
        if !EmailAddress::is_valid_local_part(&local) {
            return Err(InvalidEmail::Syntax);
        }

        let domain = Uts46::new()
            .to_ascii(
                parsed.domain().as_bytes(),
                AsciiDenyList::STD3,
                Hyphens::CheckFirstLast,
                DnsLength::Ignore,
            )
            .map_err(|_| InvalidEmail::InvalidDomain)?;
        let mut labels = 0usize;
        for label in domain.split('.') {
            if label.is_empty() {
                return Err(InvalidEmail::InvalidDomain);
            }
            if label.len() > LABEL_MAX {
                return Err(InvalidEmail::LabelTooLong);
            }
            labels += 1;
        }
        if labels < 2 {
            return Err(InvalidEmail::DomainNotDotted);
        }

        let normalized = format!("{local}@{domain}");
        if normalized.len() > ADDRESS_MAX {
            return Err(InvalidEmail::AddressTooLong);
        }
        Ok(Self(normalized))
    }

    /// The normalized address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lower-cased local part (before the last `@`).
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(local, _)| local)
    }

    /// The domain in ASCII form: what an org's verified domains are compared with.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }

    /// The normalized address, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Email {
    type Err = InvalidEmail;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value)
    }
}

/// Why a value is not one valid email address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InvalidEmail {
    /// Nothing but whitespace.
    Empty,
    /// A display name or angle brackets (`Jane <jane@example.com>`): not a plain address.
    DisplayName,
    /// A parenthesized comment, which RFC 5322 allows but an identity key must not carry.
    Comment,
    /// More than one address (separated by `,`, `;` or whitespace).
    SeveralAddresses,
    /// No `@`.
    MissingAt,
    /// Nothing before the `@`.
    EmptyLocalPart,
    /// A domain literal such as `[192.0.2.1]`: no organization can verify it as its domain.
    DomainLiteral,
    /// A single-label domain such as `localhost`.
    DomainNotDotted,
    /// The domain is empty, has an empty label, or is refused by IDNA (UTS 46, STD3 rules).
    InvalidDomain,
    /// Local part longer than 64 octets.
    LocalPartTooLong,
    /// A domain label longer than 63 octets in ASCII form.
    LabelTooLong,
    /// Whole address longer than 254 octets.
    AddressTooLong,
    /// Any other syntax error (invalid character, unbalanced quotes).
    Syntax,
}

impl InvalidEmail {
    /// Stable machine-readable code.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::DisplayName => "display-name",
            Self::Comment => "comment",
            Self::SeveralAddresses => "several-addresses",
            Self::MissingAt => "missing-at",
            Self::EmptyLocalPart => "empty-local-part",
            Self::DomainLiteral => "domain-literal",
            Self::DomainNotDotted => "domain-not-dotted",
            Self::InvalidDomain => "invalid-domain",
            Self::LocalPartTooLong => "local-part-too-long",
            Self::LabelTooLong => "label-too-long",
            Self::AddressTooLong => "address-too-long",
            Self::Syntax => "invalid-syntax",
        }
    }

    fn message(self) -> &'static str {
        match self {
            Self::Empty => "the value is empty",
            Self::DisplayName => "a display name or angle brackets, not a plain address",
            Self::Comment => "contains a comment in parentheses",
            Self::SeveralAddresses => "contains more than one address",
            Self::MissingAt => "has no @",
            Self::EmptyLocalPart => "has nothing before the @",
            Self::DomainLiteral => "the domain is an address literal in brackets",
            Self::DomainNotDotted => "the domain has a single label",
            Self::InvalidDomain => "the domain is not a valid domain name",
            Self::LocalPartTooLong => "the part before the @ is longer than 64 octets",
            Self::LabelTooLong => "a domain label is longer than 63 octets",
            Self::AddressTooLong => "the address is longer than 254 octets",
            Self::Syntax => "is not valid address syntax",
        }
    }
}

impl fmt::Display for InvalidEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "not an email address: {} ({})",
            self.message(),
            self.reason()
        )
    }
}

impl std::error::Error for InvalidEmail {}

/// Turns the syntax crate's error into our reason. Where that crate only says "invalid
/// character", the value is looked at once more so the admin reads the likely cause; this never
/// makes a value valid.
fn classify(value: &str, error: &email_address::Error) -> InvalidEmail {
    use email_address::Error as E;
    match error {
        E::UnsupportedDisplayName | E::MissingDisplayName | E::MissingEndBracket => {
            InvalidEmail::DisplayName
        }
        E::UnsupportedDomainLiteral | E::InvalidIPAddress => InvalidEmail::DomainLiteral,
        E::InvalidComment => InvalidEmail::Comment,
        E::MissingSeparator => InvalidEmail::MissingAt,
        E::LocalPartEmpty => InvalidEmail::EmptyLocalPart,
        E::LocalPartTooLong => InvalidEmail::LocalPartTooLong,
        E::DomainTooLong => InvalidEmail::AddressTooLong,
        E::SubDomainTooLong => InvalidEmail::LabelTooLong,
        E::DomainTooFew => InvalidEmail::DomainNotDotted,
        E::DomainEmpty | E::SubDomainEmpty | E::DomainInvalidSeparator => {
            InvalidEmail::InvalidDomain
        }
        _ if value.matches('@').count() > 1
            && value.contains(|c: char| c == ',' || c == ';' || c.is_whitespace()) =>
        {
            InvalidEmail::SeveralAddresses
        }
        _ if value.starts_with('<') || value.ends_with('>') => InvalidEmail::DisplayName,
        _ if value.contains('(') && value.contains(')') => InvalidEmail::Comment,
        _ => InvalidEmail::Syntax,
    }
}
