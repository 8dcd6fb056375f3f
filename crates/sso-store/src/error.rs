//! The one error type of the crate, with stable reason codes.

use sea_orm::{DbErr, SqlErr};

/// Why a store operation failed.
///
/// [`reason`](Self::reason) is a stable kebab-case code for machines (the gRPC layer maps it to
/// a status); the `Display` text is for logs and may carry database detail, so it is not meant
/// for end users.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The thing asked for does not exist (or belongs to another organization).
    #[error("{what} not found (not-found)")]
    NotFound {
        /// What was looked for.
        what: &'static str,
    },
    /// A one-time value was used a second time: an assertion ID already recorded for the
    /// connection, or an AuthnRequest already consumed.
    #[error("{what} was already used (replayed)")]
    Replayed {
        /// What was reused.
        what: &'static str,
    },
    /// The value exists but its time is over.
    #[error("{what} has expired (expired)")]
    Expired {
        /// What expired.
        what: &'static str,
    },
    /// A uniqueness rule refused the change (a domain verified by another organization, a
    /// project name taken, a request ID reused ...).
    #[error("{what} already exists (conflict)")]
    Conflict {
        /// What already exists.
        what: &'static str,
    },
    /// An argument is out of range or malformed.
    #[error("invalid {what}: {detail} (invalid-input)")]
    InvalidInput {
        /// Which argument.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// A stored value cannot be read back (an unknown plan or role code, malformed JSON):
    /// the database was changed behind the store's back.
    #[error("stored {what} is unreadable: {detail} (corrupt-data)")]
    CorruptData {
        /// Which value.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// The database failed: unreachable, timed out, busy, or a statement error. The detail is
    /// for logs.
    #[error("database error (database): {0}")]
    Database(DatabaseError),
}

/// What the database said when it failed, for logs. Opaque: callers decide on
/// [`StoreError::reason`] and [`StoreError::is_infrastructure`], never on the driver's error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DatabaseError(DbErr);

impl StoreError {
    /// Stable machine-readable code.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "not-found",
            Self::Replayed { .. } => "replayed",
            Self::Expired { .. } => "expired",
            Self::Conflict { .. } => "conflict",
            Self::InvalidInput { .. } => "invalid-input",
            Self::CorruptData { .. } => "corrupt-data",
            Self::Database(_) => "database",
        }
    }

    /// Whether this is a failure of the infrastructure (`database`, `corrupt-data`) rather
    /// than a refusal the caller can act on: the layers above log these and send a generic
    /// message.
    pub fn is_infrastructure(&self) -> bool {
        !matches!(
            self,
            Self::NotFound { .. }
                | Self::Replayed { .. }
                | Self::Expired { .. }
                | Self::Conflict { .. }
                | Self::InvalidInput { .. }
        )
    }

    /// A [`StoreError::Database`] carrying `detail`, for tests of how the layers above treat
    /// a failing database.
    #[cfg(feature = "testing")]
    pub fn database_for_tests(detail: &str) -> Self {
        Self::Database(DatabaseError(DbErr::Custom(detail.to_owned())))
    }

    pub(crate) fn not_found(what: &'static str) -> Self {
        Self::NotFound { what }
    }

    pub(crate) fn invalid(what: &'static str, detail: impl Into<String>) -> Self {
        Self::InvalidInput {
            what,
            detail: detail.into(),
        }
    }

    pub(crate) fn corrupt(what: &'static str, detail: impl Into<String>) -> Self {
        Self::CorruptData {
            what,
            detail: detail.into(),
        }
    }

    /// A write failed: a unique violation is a [`Conflict`](Self::Conflict) on `what`, a
    /// foreign-key violation means the row it points at is missing.
    pub(crate) fn on_write(what: &'static str, parent: &'static str) -> impl Fn(DbErr) -> Self {
        move |error| match error.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => Self::Conflict { what },
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => Self::NotFound { what: parent },
            _ => Self::Database(DatabaseError(error)),
        }
    }
}

impl From<DbErr> for StoreError {
    fn from(error: DbErr) -> Self {
        Self::Database(DatabaseError(error))
    }
}
