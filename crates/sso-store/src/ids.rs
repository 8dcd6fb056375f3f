//! Typed row identifiers, so an organization id cannot be passed where a user id is meant.

use std::fmt;
use std::str::FromStr;

/// Why text is not an id: ids are positive decimal integers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not {what} id")]
pub struct ParseIdError {
    what: &'static str,
    text: String,
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
                    .ok_or_else(|| ParseIdError {
                        what: $what,
                        text: text.to_owned(),
                    })
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
    /// A project.
    ProjectId,
    "a project"
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_from_positive_decimal_text_only() {
        assert_eq!("42".parse::<OrgId>(), Ok(OrgId::new(42)));
        assert_eq!("3".parse::<ProjectId>(), Ok(ProjectId::new(3)));
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
}
