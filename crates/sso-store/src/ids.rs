//! Typed row identifiers, so an organization id cannot be passed where a user id is meant.

use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
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
    };
}

id_type!(
    /// An organization (tenant).
    OrgId
);
id_type!(
    /// A user.
    UserId
);
id_type!(
    /// A project.
    ProjectId
);
id_type!(
    /// An SSO connection.
    ConnectionId
);
id_type!(
    /// An audit event or login trace.
    EventId
);
