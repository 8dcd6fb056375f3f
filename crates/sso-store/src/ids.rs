//! Typed identifiers, so an organization id cannot be passed where a user id is meant: the
//! database's own numbers for the rows this service creates, and the host product's text for
//! its projects.

use std::fmt;
use std::str::FromStr;

/// Why text is not an id: the service's ids are positive decimal integers, project ids are
/// the host product's text within [`ProjectId`]'s limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not {what} id{}", why.map(|w| format!(": {w}")).unwrap_or_default())]
pub struct ParseIdError {
    what: &'static str,
    /// The text, cut to [`SHOWN_TEXT`] characters: an error message stays small whatever
    /// was sent.
    text: String,
    why: Option<&'static str>,
}

/// How much of a refused id an error message repeats.
const SHOWN_TEXT: usize = 64;

impl ParseIdError {
    fn new(what: &'static str, text: &str, why: Option<&'static str>) -> Self {
        let mut shown: String = text.chars().take(SHOWN_TEXT).collect();
        if shown.len() < text.len() {
            shown.push('…');
        }
        Self {
            what,
            text: shown,
            why,
        }
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(i64);

        impl $name {
            /// Wraps a raw database id (for ids that come back from the wire).
            pub const fn new(id: i64) -> Self {
                Self(id)
            }

            /// The raw database id.
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        /// The decimal text [`Display`](fmt::Display) writes; zero and negative numbers are
        /// refused, since the database never hands them out.
        impl FromStr for $name {
            type Err = ParseIdError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                text.parse::<i64>()
                    .ok()
                    .filter(|id| *id > 0)
                    .map(Self)
                    .ok_or_else(|| ParseIdError::new($what, text, None))
            }
        }
    };
}

id_type!(
    /// An organization (tenant).
    OrgId,
    "an organization"
);
id_type!(
    /// A user.
    UserId,
    "a user"
);
id_type!(
    /// An SSO connection.
    ConnectionId,
    "a connection"
);
id_type!(
    /// An audit event or login trace.
    EventId,
    "an event"
);
id_type!(
    /// An org-scoped admin credential.
    OrgCredentialId,
    "a credential"
);
id_type!(
    /// A setup link to the setup portal.
    SetupLinkId,
    "a setup link"
);
id_type!(
    /// A user resource pushed by an org's directory over SCIM.
    ScimUserId,
    "a SCIM user"
);
id_type!(
    /// A group resource pushed by an org's directory over SCIM.
    ScimGroupId,
    "a SCIM group"
);

/// The most bytes a [`ProjectId`] may have.
pub const MAX_PROJECT_ID_BYTES: usize = 200;

/// A project, by the id the host product chose for it: opaque text of 1 to
/// [`MAX_PROJECT_ID_BYTES`] bytes (UTF-8), printable, with no whitespace at either end. Unique
/// within an organization; two organizations may use the same id. Compared and ordered byte
/// by byte.
///
/// Printable means no control characters and none of the invisible formatting characters
/// (zero-width spaces and joiners, bidirectional overrides, the byte-order mark ...) that
/// would let two ids look alike in a listing. Surrounding whitespace is refused rather than
/// trimmed, so the id the service stores is exactly the one it was given.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProjectId(String);

impl ProjectId {
    /// The id, after checking it against the rules above.
    pub fn parse(text: &str) -> Result<Self, ParseIdError> {
        let refuse = |why| Err(ParseIdError::new("a project", text, Some(why)));
        if text.is_empty() {
            return refuse("empty");
        }
        if text.len() > MAX_PROJECT_ID_BYTES {
            return refuse("longer than 200 bytes");
        }
        if text.chars().any(|c| !printable(c)) {
            return refuse("control or invisible formatting characters are not allowed");
        }
        if text.trim() != text {
            return refuse("whitespace at either end is not allowed");
        }
        Ok(Self(text.to_owned()))
    }

    /// The id as the host product gave it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `c` may appear in a project id: not a control character, and not one of the
/// formatting, separator or non-characters that render as nothing.
fn printable(c: char) -> bool {
    !c.is_control()
        && !matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{FDD0}'..='\u{FDEF}'
                | '\u{E0000}'..='\u{E007F}'
        )
        && (u32::from(c) & 0xFFFE) != 0xFFFE
}

impl fmt::Display for ProjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ProjectId {
    type Err = ParseIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl AsRef<str> for ProjectId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_from_positive_decimal_text_only() {
        assert_eq!("42".parse::<OrgId>(), Ok(OrgId::new(42)));
        assert_eq!("3".parse::<UserId>(), Ok(UserId::new(3)));
        assert_eq!(
            OrgId::new(7).to_string().parse::<OrgId>(),
            Ok(OrgId::new(7))
        );
        for bad in ["", " 7", "abc", "-1", "0", "1.5", "99999999999999999999"] {
            let error = bad.parse::<OrgId>().unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("{bad:?} is not an organization id")
            );
        }
    }

    #[test]
    fn project_ids_are_printable_text_of_at_most_200_bytes() {
        for good in [
            "3",
            "proj_01HZX",
            "Team Wiki / 2024",
            "ünïcødé-项目",
            "a=b&c?d#e",
            &"x".repeat(200),
            &"é".repeat(100),
        ] {
            let id = ProjectId::parse(good).unwrap();
            assert_eq!(id.as_str(), good);
            assert_eq!(id.to_string().parse::<ProjectId>(), Ok(id));
        }
        for (bad, why) in [
            ("", "empty"),
            (&"x".repeat(201), "longer than 200 bytes"),
            (&"é".repeat(101), "longer than 200 bytes"),
            ("a\nb", "control"),
            ("a\u{0}b", "control"),
            ("tab\t", "control"),
            ("a\u{7f}", "control"),
            ("zero\u{200B}width", "invisible"),
            ("\u{202E}reversed", "invisible"),
            ("\u{FEFF}bom", "invisible"),
            ("\u{FFFF}", "invisible"),
            (" padded", "whitespace"),
            ("padded ", "whitespace"),
            ("\u{3000}ideographic", "whitespace"),
        ] {
            let error = ProjectId::parse(bad).unwrap_err().to_string();
            assert!(error.contains("is not a project id"), "{bad:?}: {error}");
            assert!(error.contains(why), "{bad:?}: {error}");
        }
        // A long refused id is not repeated in full.
        let error = ProjectId::parse(&"y".repeat(10_000))
            .unwrap_err()
            .to_string();
        assert!(error.len() < 200, "{error}");
    }
}
