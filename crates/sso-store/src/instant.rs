//! Instants as the database holds them: UTC, microsecond precision, no offset.
//!
//! Both backends store `timestamp` without time zone. PostgreSQL keeps microseconds; SQLite keeps
//! the text sqlx writes (`YYYY-MM-DD HH:MM:SS.f`, shortest fraction), which sorts in time order
//! only because every value has the same offset, UTC. Truncating to the microsecond on the way
//! in makes both backends hold, compare and return the same value.

use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use crate::error::StoreError;

/// `t` in UTC, truncated to the microsecond.
pub(crate) fn to_db(t: OffsetDateTime) -> Result<PrimitiveDateTime, StoreError> {
    let utc = t
        .checked_to_offset(UtcOffset::UTC)
        .ok_or_else(|| StoreError::invalid("time", format!("{t} is out of range in UTC")))?;
    let truncated = utc
        .replace_microsecond(utc.microsecond())
        .map_err(|e| StoreError::invalid("time", e.to_string()))?;
    Ok(PrimitiveDateTime::new(truncated.date(), truncated.time()))
}

/// A stored instant, which is UTC by construction.
pub(crate) fn from_db(t: PrimitiveDateTime) -> OffsetDateTime {
    t.assume_utc()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn converts_to_utc_and_truncates_to_the_microsecond() {
        let t = datetime!(2025-03-01 10:00:00.123_456_789 +01:00);
        let db = to_db(t).unwrap();
        assert_eq!(db, datetime!(2025-03-01 09:00:00.123_456));
        assert_eq!(from_db(db), datetime!(2025-03-01 09:00:00.123_456 UTC));
    }
}
