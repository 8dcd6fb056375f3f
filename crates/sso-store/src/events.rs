//! Login traces and audit events, and their newest-first paged listing.

use std::fmt;
use std::str::FromStr;

use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait,
};
use serde_json::Value;
use time::OffsetDateTime;

use crate::entity::audit_event;
use crate::error::StoreError;
use crate::ids::{EventId, OrgId};
use crate::instant::{from_db, to_db};
use crate::store::Store;
use crate::text_once::TextOnce;

/// The most events one page may hold.
pub const MAX_PAGE: u32 = 1000;

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventOutcome {
    /// It did what was asked.
    Success,
    /// A rule said no (the reason says which).
    Refused,
    /// Something broke (the database, the network ...).
    Failed,
}

impl EventOutcome {
    /// Every value.
    pub const ALL: [EventOutcome; 3] = [Self::Success, Self::Refused, Self::Failed];

    /// Stable code, as stored.
    pub fn code(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Refused => "refused",
            Self::Failed => "failed",
        }
    }

    /// The value with this [`code`](Self::code).
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.code() == code)
    }
}

impl fmt::Display for EventOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An event to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// The organization whose admins may read it.
    pub org: OrgId,
    /// What kind of event: a stable code such as `sso-login` or `break-glass`.
    pub kind: String,
    /// How it ended.
    pub outcome: EventOutcome,
    /// The stable reason code of the outcome.
    pub reason: String,
    /// Who did it, when not the signing-in user (an admin, the operator).
    pub actor: Option<String>,
    /// Everything else, for the admin to read: checks run, values compared, email sources tried.
    pub detail: Value,
}

impl NewEvent {
    /// An event without actor or detail.
    pub fn new(
        org: OrgId,
        kind: impl Into<String>,
        outcome: EventOutcome,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            org,
            kind: kind.into(),
            outcome,
            reason: reason.into(),
            actor: None,
            detail: Value::Object(serde_json::Map::new()),
        }
    }

    /// Sets who did it.
    #[must_use]
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// Sets the detail.
    #[must_use]
    pub fn detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventRecord {
    /// Its id.
    pub id: EventId,
    /// The organization.
    pub org: OrgId,
    /// When it happened.
    pub occurred_at: OffsetDateTime,
    /// What kind of event.
    pub kind: String,
    /// How it ended.
    pub outcome: EventOutcome,
    /// The stable reason code.
    pub reason: String,
    /// Who did it.
    pub actor: Option<String>,
    /// The detail.
    pub detail: Value,
}

impl EventRecord {
    fn from_model(m: audit_event::Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: EventId::new(m.id),
            org: OrgId::new(m.org_id),
            occurred_at: from_db(m.occurred_at),
            outcome: EventOutcome::from_code(&m.outcome).ok_or_else(|| {
                StoreError::corrupt("event outcome", format!("unknown code {:?}", m.outcome))
            })?,
            kind: m.kind,
            reason: m.reason,
            actor: m.actor,
            detail: m.detail,
        })
    }

    /// The cursor that continues a listing after this event.
    pub fn cursor(&self) -> EventCursor {
        EventCursor {
            occurred_at: self.occurred_at,
            id: self.id,
        }
    }
}

/// Where a newest-first listing continues: strictly older than this event. Opaque text for the
/// wire (`Display` and `FromStr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventCursor {
    occurred_at: OffsetDateTime,
    id: EventId,
}

impl fmt::Display for EventCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let micros = self.occurred_at.unix_timestamp_nanos() / 1000;
        write!(f, "{micros}.{}", self.id)
    }
}

impl FromStr for EventCursor {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || StoreError::invalid("event cursor", format!("{s:?} is not a cursor"));
        let (micros, id) = s.split_once('.').ok_or_else(bad)?;
        let micros: i128 = micros.parse().map_err(|_| bad())?;
        let id: i64 = id.parse().map_err(|_| bad())?;
        let occurred_at = micros
            .checked_mul(1000)
            .and_then(|nanos| OffsetDateTime::from_unix_timestamp_nanos(nanos).ok())
            .ok_or_else(bad)?;
        Ok(Self {
            occurred_at,
            id: EventId::new(id),
        })
    }
}

/// What to list: the newest events first, optionally of one kind, one page at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQuery {
    limit: u32,
    kind: Option<String>,
    after: Option<EventCursor>,
}

impl EventQuery {
    /// The first page of at most `limit` events (1 to [`MAX_PAGE`]; other values are clamped).
    pub fn new(limit: u32) -> Self {
        Self {
            limit: limit.clamp(1, MAX_PAGE),
            kind: None,
            after: None,
        }
    }

    /// Only events of this kind.
    #[must_use]
    pub fn kind(mut self, kind: impl Into<String>) -> Self {
        self.kind = Some(kind.into());
        self
    }

    /// The page after this cursor (from [`EventPage::next`]).
    #[must_use]
    pub fn after(mut self, cursor: EventCursor) -> Self {
        self.after = Some(cursor);
        self
    }
}

/// One page of events, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventPage {
    /// The events.
    pub events: Vec<EventRecord>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<EventCursor>,
}

impl<C: ConnectionTrait> Store<C> {
    /// Records an event that happened at `now`.
    pub async fn record_event(
        &self,
        event: &NewEvent,
        now: OffsetDateTime,
    ) -> Result<EventId, StoreError> {
        static RECORD: TextOnce = TextOnce::new();
        let occurred_at = to_db(now)?;
        let backend = self.conn.get_database_backend();
        // PostgreSQL returns the new id; SQLite reports it with the insert (its last rowid),
        // which costs less than a `RETURNING`, whose rows SQLite gathers in a temporary table.
        let returning = backend == DbBackend::Postgres;
        let statement = RECORD.statement(
            backend,
            |backend| {
                let mut insert = audit_event::Entity::insert(audit_event::ActiveModel {
                    id: NotSet,
                    org_id: Set(event.org.get()),
                    occurred_at: Set(occurred_at),
                    kind: Set(event.kind.clone()),
                    outcome: Set(event.outcome.code().to_owned()),
                    reason: Set(event.reason.clone()),
                    actor: Set(event.actor.clone()),
                    detail: Set(event.detail.clone()),
                })
                .into_query();
                if returning {
                    insert.returning_col(audit_event::Column::Id);
                }
                backend.build(&insert)
            },
            vec![
                event.org.get().into(),
                occurred_at.into(),
                event.kind.as_str().into(),
                event.outcome.code().into(),
                event.reason.as_str().into(),
                event.actor.clone().into(),
                event.detail.clone().into(),
            ],
        );
        let on_write = StoreError::on_write("event", "organization");
        if !returning {
            let done = self.conn.execute(statement).await.map_err(on_write)?;
            let id = i64::try_from(done.last_insert_id())
                .map_err(|_| StoreError::not_found("inserted event"))?;
            return Ok(EventId::new(id));
        }
        let row = self
            .conn
            .query_one(statement)
            .await
            .map_err(on_write)?
            .ok_or(StoreError::not_found("inserted event"))?;
        Ok(EventId::new(row.try_get("", "id")?))
    }

    /// The organization's events, newest first (by time, then by id), one page at a time.
    /// Keyset paging: a page is the same whatever is recorded after the first one was read.
    pub async fn list_events(
        &self,
        org: OrgId,
        query: &EventQuery,
    ) -> Result<EventPage, StoreError> {
        let mut select =
            audit_event::Entity::find().filter(audit_event::Column::OrgId.eq(org.get()));
        if let Some(kind) = &query.kind {
            select = select.filter(audit_event::Column::Kind.eq(kind.as_str()));
        }
        if let Some(cursor) = query.after {
            let at = to_db(cursor.occurred_at)?;
            select = select.filter(
                Condition::any()
                    .add(audit_event::Column::OccurredAt.lt(at))
                    .add(
                        Condition::all()
                            .add(audit_event::Column::OccurredAt.eq(at))
                            .add(audit_event::Column::Id.lt(cursor.id.get())),
                    ),
            );
        }
        let mut events = select
            .order_by_desc(audit_event::Column::OccurredAt)
            .order_by_desc(audit_event::Column::Id)
            .limit(u64::from(query.limit) + 1)
            .all(&self.conn)
            .await?
            .into_iter()
            .map(EventRecord::from_model)
            .collect::<Result<Vec<_>, _>>()?;
        let more = events.len() > query.limit as usize;
        events.truncate(query.limit as usize);
        let next = if more {
            events.last().map(EventRecord::cursor)
        } else {
            None
        };
        Ok(EventPage { events, next })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn cursor_round_trips_as_text() {
        let cursor = EventCursor {
            occurred_at: datetime!(2025-03-01 09:00:00.123_456 UTC),
            id: EventId::new(42),
        };
        let text = cursor.to_string();
        assert_eq!(text, "1740819600123456.42");
        assert_eq!(text.parse::<EventCursor>().unwrap(), cursor);
        for bad in ["", "1", "x.1", "1.x", "1.2.3", "99999999999999999999999.1"] {
            assert_eq!(
                bad.parse::<EventCursor>().unwrap_err().reason(),
                "invalid-input",
                "{bad}"
            );
        }
    }
}
