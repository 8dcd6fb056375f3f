//! One-time values of a login: outstanding AuthnRequests and the assertion replay cache.

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, Statement,
};
use time::OffsetDateTime;

use crate::entity::{authn_request, consumed_assertion, login_code, test_login};
use crate::error::StoreError;
use crate::ids::ConnectionId;
use crate::instant::{from_db, to_db};
use crate::store::Store;
use crate::text_once::TextOnce;

/// An AuthnRequest to remember until its response arrives (SP-initiated login).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuthnRequest {
    /// The request's SAML `ID` (unique; the response's `InResponseTo`).
    pub id: String,
    /// The connection it is sent for.
    pub connection: ConnectionId,
    /// The opaque RelayState sent along (unique).
    pub relay_state: String,
    /// Where the caller wants the user afterwards; kept here, never sent to the IdP.
    pub return_target: Option<String>,
    /// When it stops being accepted.
    pub expires_at: OffsetDateTime,
}

/// Which of a login's one-time values [`Store::spend_login_values`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OneTimeValue {
    /// The AuthnRequest the response answers (check `authn-request`).
    AuthnRequest,
    /// The assertion's ID in the replay cache (check `replay`).
    Assertion,
}

/// [`Store::spend_login_values`] on PostgreSQL: the conditional `UPDATE` of
/// [`Store::consume_authn_request`], and the replay-cache insert of [`Store::record_assertion`]
/// made only when the update consumed the request. No row: the request was not consumed;
/// `recorded` false: the assertion was used before. `$1` now, `$2` the request, `$3` the
/// connection, `$4` the assertion ID, `$5` its expiry.
const SPEND_POSTGRES: &str = "WITH consumed AS (\
    UPDATE \"authn_requests\" SET \"consumed_at\" = $1 \
    WHERE \"id\" = $2 AND \"connection_id\" = $3 AND \"consumed_at\" IS NULL AND \"expires_at\" > $1 \
    RETURNING *), \
recorded AS (\
    INSERT INTO \"consumed_assertions\" (\"connection_id\", \"assertion_id\", \"consumed_at\", \"expires_at\") \
    SELECT $3, $4, $1, $5 FROM consumed \
    ON CONFLICT (\"connection_id\", \"assertion_id\") DO NOTHING RETURNING 1) \
SELECT consumed.*, EXISTS (SELECT 1 FROM recorded) AS \"recorded\" FROM consumed";

/// [`Store::spend_login_values`] on SQLite, which has no data-modifying `WITH`: the same
/// update, then the insert only when the update changed a row. No `RETURNING`: SQLite
/// gathers a `RETURNING` statement's rows in a temporary table, which cost more than reading
/// the row back; `changes()` still counts the last write when a `SELECT` follows it. Rows: the
/// consumed request's, then one if the assertion was recorded. `?`s in order: now, the
/// request, the connection, now; the request; the connection, the assertion ID, now, its
/// expiry.
const SPEND_SQLITE: &str = "UPDATE \"authn_requests\" SET \"consumed_at\" = ? \
    WHERE \"id\" = ? AND \"connection_id\" = ? AND \"consumed_at\" IS NULL AND \"expires_at\" > ?; \
SELECT * FROM \"authn_requests\" WHERE \"id\" = ? AND changes() = 1; \
INSERT INTO \"consumed_assertions\" (\"connection_id\", \"assertion_id\", \"consumed_at\", \"expires_at\") \
    SELECT ?, ?, ?, ? WHERE changes() = 1 \
    ON CONFLICT (\"connection_id\", \"assertion_id\") DO NOTHING; \
SELECT 1 AS \"recorded\" WHERE changes() = 1";

/// What an AuthnRequest was sent for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RequestPurpose {
    /// A sign-in ([`Store::create_authn_request`]).
    Login,
    /// An admin's test of the connection ([`Store::create_test_login`]): its response is
    /// validated like a sign-in's but provisions nobody.
    Test,
}

impl RequestPurpose {
    /// Stable code, as stored.
    pub fn code(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Test => "test",
        }
    }

    /// The purpose stored as `code`. Anything but `login` reads as [`Self::Test`], which can
    /// never sign anyone in.
    pub(crate) fn from_code(code: &str) -> Self {
        if code == Self::Login.code() {
            Self::Login
        } else {
            Self::Test
        }
    }
}

/// An AuthnRequest as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthnRequestRecord {
    /// The request's SAML `ID`.
    pub id: String,
    /// The connection it was sent for.
    pub connection: ConnectionId,
    /// The RelayState sent along.
    pub relay_state: String,
    /// Where the caller wants the user afterwards.
    pub return_target: Option<String>,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it stops being accepted.
    pub expires_at: OffsetDateTime,
    /// When a response consumed it.
    pub consumed_at: Option<OffsetDateTime>,
    /// What it was sent for.
    pub purpose: RequestPurpose,
}

impl From<authn_request::Model> for AuthnRequestRecord {
    fn from(m: authn_request::Model) -> Self {
        Self {
            id: m.id,
            connection: ConnectionId::new(m.connection_id),
            relay_state: m.relay_state,
            return_target: m.return_target,
            created_at: from_db(m.created_at),
            expires_at: from_db(m.expires_at),
            consumed_at: m.consumed_at.map(from_db),
            purpose: RequestPurpose::from_code(&m.purpose),
        }
    }
}

/// How many expired rows [`Store::purge_expired`] deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PurgeCounts {
    /// AuthnRequests past their expiry, consumed or not.
    pub authn_requests: u64,
    /// Replay-cache entries past their expiry.
    pub assertions: u64,
    /// Login codes past their expiry, redeemed or not.
    pub login_codes: u64,
    /// Test logins past the time their result is kept.
    pub test_logins: u64,
}

fn check_expiry(expires_at: OffsetDateTime, now: OffsetDateTime) -> Result<(), StoreError> {
    if expires_at <= now {
        return Err(StoreError::invalid(
            "expiry",
            format!("{expires_at} is not after now ({now})"),
        ));
    }
    Ok(())
}

impl<C: ConnectionTrait> Store<C> {
    /// Stores an AuthnRequest. A reused request ID or RelayState is a
    /// [`StoreError::Conflict`]; an unknown connection is [`StoreError::NotFound`].
    pub async fn create_authn_request(
        &self,
        request: &NewAuthnRequest,
        now: OffsetDateTime,
    ) -> Result<AuthnRequestRecord, StoreError> {
        self.insert_authn_request(request, RequestPurpose::Login, now)
            .await
    }

    pub(crate) async fn insert_authn_request(
        &self,
        request: &NewAuthnRequest,
        purpose: RequestPurpose,
        now: OffsetDateTime,
    ) -> Result<AuthnRequestRecord, StoreError> {
        check_expiry(request.expires_at, now)?;
        let model = authn_request::Model {
            id: request.id.clone(),
            connection_id: request.connection.get(),
            relay_state: request.relay_state.clone(),
            return_target: request.return_target.clone(),
            created_at: to_db(now)?,
            expires_at: to_db(request.expires_at)?,
            consumed_at: None,
            purpose: purpose.code().to_owned(),
        };
        static INSERT: TextOnce = TextOnce::new();
        let statement = INSERT.statement(
            self.conn.get_database_backend(),
            |backend| {
                authn_request::Entity::insert(authn_request::ActiveModel {
                    id: Set(model.id.clone()),
                    connection_id: Set(model.connection_id),
                    relay_state: Set(model.relay_state.clone()),
                    return_target: Set(model.return_target.clone()),
                    created_at: Set(model.created_at),
                    expires_at: Set(model.expires_at),
                    consumed_at: Set(None),
                    purpose: Set(model.purpose.clone()),
                })
                .build(backend)
            },
            vec![
                model.id.as_str().into(),
                model.connection_id.into(),
                model.relay_state.as_str().into(),
                model.return_target.clone().into(),
                model.created_at.into(),
                model.expires_at.into(),
                Option::<time::PrimitiveDateTime>::None.into(),
                model.purpose.as_str().into(),
            ],
        );
        self.conn
            .execute(statement)
            .await
            .map_err(StoreError::on_write("authn request", "sso connection"))?;
        Ok(model.into())
    }

    /// The AuthnRequest with this ID, consumed or not.
    pub async fn authn_request(&self, id: &str) -> Result<Option<AuthnRequestRecord>, StoreError> {
        Ok(authn_request::Entity::find_by_id(id)
            .one(&self.conn)
            .await?
            .map(AuthnRequestRecord::from))
    }

    /// The AuthnRequest of `connection` sent with this RelayState, consumed or not; `None`
    /// for a RelayState this connection never sent (an IdP-initiated login may carry one of
    /// its own).
    pub async fn authn_request_by_relay_state(
        &self,
        connection: ConnectionId,
        relay_state: &str,
    ) -> Result<Option<AuthnRequestRecord>, StoreError> {
        Ok(authn_request::Entity::find()
            .filter(authn_request::Column::RelayState.eq(relay_state))
            .filter(authn_request::Column::ConnectionId.eq(connection.get()))
            .one(&self.conn)
            .await?
            .map(AuthnRequestRecord::from))
    }

    /// The IDs of the newest `limit` AuthnRequests of `connection` that are neither consumed
    /// nor expired at `now`, newest first.
    pub async fn open_authn_request_ids(
        &self,
        connection: ConnectionId,
        now: OffsetDateTime,
        limit: u64,
    ) -> Result<Vec<String>, StoreError> {
        Ok(authn_request::Entity::find()
            .select_only()
            .column(authn_request::Column::Id)
            .filter(authn_request::Column::ConnectionId.eq(connection.get()))
            .filter(authn_request::Column::ConsumedAt.is_null())
            .filter(authn_request::Column::ExpiresAt.gt(to_db(now)?))
            .order_by_desc(authn_request::Column::CreatedAt)
            .limit(limit)
            .into_tuple::<String>()
            .all(&self.conn)
            .await?)
    }

    /// Marks the AuthnRequest `id` of `connection` as answered, once.
    ///
    /// One conditional `UPDATE`, so two servers receiving responses to the same request cannot
    /// both succeed. Fails with [`StoreError::Replayed`] when it was consumed before,
    /// [`StoreError::Expired`] when its time is over, and [`StoreError::NotFound`] when there is
    /// no such request for this connection (a request for another connection is not found, not
    /// revealed).
    pub async fn consume_authn_request(
        &self,
        connection: ConnectionId,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<AuthnRequestRecord, StoreError> {
        static CONSUME: TextOnce = TextOnce::new();
        let now = to_db(now)?;
        let backend = self.conn.get_database_backend();
        let statement = CONSUME.statement(
            backend,
            |backend| {
                backend.build(
                    authn_request::Entity::update_many()
                        .col_expr(authn_request::Column::ConsumedAt, Expr::value(now))
                        .filter(authn_request::Column::Id.eq(id))
                        .filter(authn_request::Column::ConnectionId.eq(connection.get()))
                        .filter(authn_request::Column::ConsumedAt.is_null())
                        .filter(authn_request::Column::ExpiresAt.gt(now))
                        .into_query()
                        .returning_all(),
                )
            },
            vec![now.into(), id.into(), connection.get().into(), now.into()],
        );
        if let Some(row) = self.conn.query_one(statement).await? {
            return Ok(authn_request::Model::from_query_result(&row, "")?.into());
        }
        Err(self.unconsumable(connection, id).await)
    }

    /// Why AuthnRequest `id` of `connection` could not be consumed: used before, expired, or
    /// not one of this connection's (not revealed).
    async fn unconsumable(&self, connection: ConnectionId, id: &str) -> StoreError {
        match authn_request::Entity::find_by_id(id).one(&self.conn).await {
            Ok(Some(found)) if found.connection_id == connection.get() => {
                if found.consumed_at.is_some() {
                    StoreError::Replayed {
                        what: "authn request",
                    }
                } else {
                    StoreError::Expired {
                        what: "authn request",
                    }
                }
            }
            Ok(_) => StoreError::not_found("authn request"),
            Err(e) => e.into(),
        }
    }

    /// Spends a login's one-time values: consumes AuthnRequest `request` (when the response
    /// answers one) as [`consume_authn_request`](Self::consume_authn_request) does, then records
    /// the assertion as [`record_assertion`](Self::record_assertion) does. Returns the consumed
    /// request; on failure, which of the two refused and why.
    ///
    /// On PostgreSQL both writes go in one statement (a data-modifying `WITH`): a login pays
    /// one round trip and one backend wakeup for them instead of two. On SQLite they go in one
    /// call, the insert conditional on the update's `changes()`. The outcome is the same
    /// either way, and a failure leaves the surrounding transaction to be rolled back. The
    /// first statement writes, so [`Store::begin_with_write`] may open the transaction.
    pub async fn spend_login_values(
        &self,
        connection: ConnectionId,
        request: Option<&str>,
        assertion_id: &str,
        assertion_expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Option<AuthnRequestRecord>, (OneTimeValue, StoreError)> {
        let backend = self.conn.get_database_backend();
        let Some(request) = request else {
            self.record_assertion(connection, assertion_id, assertion_expires_at, now)
                .await
                .map_err(|e| (OneTimeValue::Assertion, e))?;
            return Ok(None);
        };
        let assertion = |e| (OneTimeValue::Assertion, e);
        check_expiry(assertion_expires_at, now).map_err(assertion)?;
        if assertion_id.is_empty() {
            return Err(assertion(StoreError::invalid("assertion ID", "empty")));
        }
        let (consumed_at, expires_at) = (
            to_db(now).map_err(assertion)?,
            to_db(assertion_expires_at).map_err(assertion)?,
        );
        let (consumed, recorded) = if backend == DbBackend::Postgres {
            let statement = Statement::from_sql_and_values(
                backend,
                SPEND_POSTGRES,
                [
                    consumed_at.into(),
                    request.into(),
                    connection.get().into(),
                    assertion_id.into(),
                    expires_at.into(),
                ],
            );
            let row = self.conn.query_one(statement).await.map_err(|e| {
                (
                    OneTimeValue::Assertion,
                    StoreError::on_write("assertion", "sso connection")(e),
                )
            })?;
            match row {
                Some(row) => {
                    let recorded: bool = row
                        .try_get("", "recorded")
                        .map_err(|e| (OneTimeValue::Assertion, StoreError::from(e)))?;
                    (Some(row), recorded)
                }
                None => (None, false),
            }
        } else {
            // Two statements in one call: one trip to SQLite's connection thread. The first
            // returns the consumed request's row, the second a `recorded` row if it inserted.
            let statement = Statement::from_sql_and_values(
                backend,
                SPEND_SQLITE,
                [
                    consumed_at.into(),
                    request.into(),
                    connection.get().into(),
                    consumed_at.into(),
                    request.into(),
                    connection.get().into(),
                    assertion_id.into(),
                    consumed_at.into(),
                    expires_at.into(),
                ],
            );
            let mut rows = self
                .conn
                .query_all(statement)
                .await
                .map_err(|e| {
                    (
                        OneTimeValue::Assertion,
                        StoreError::on_write("assertion", "sso connection")(e),
                    )
                })?
                .into_iter();
            let consumed = rows.next();
            (consumed, rows.next().is_some())
        };
        let Some(row) = consumed else {
            // Nothing consumed, so nothing recorded: tell why the request was refused.
            return Err((
                OneTimeValue::AuthnRequest,
                self.unconsumable(connection, request).await,
            ));
        };
        let consumed = authn_request::Model::from_query_result(&row, "")
            .map_err(|e| (OneTimeValue::AuthnRequest, StoreError::from(e)))?;
        if !recorded {
            return Err((
                OneTimeValue::Assertion,
                StoreError::Replayed { what: "assertion" },
            ));
        }
        Ok(Some(consumed.into()))
    }

    /// Records that assertion `assertion_id` was used on `connection`, until `expires_at` (its
    /// validity end plus the allowed skew, which must be after `now`).
    ///
    /// The primary key `(connection, assertion ID)` decides: a second use, on any server, is
    /// [`StoreError::Replayed`]. The insert is `ON CONFLICT DO NOTHING`, so a replay does not
    /// abort the surrounding PostgreSQL transaction, and a concurrent first use that is rolled
    /// back does not count.
    pub async fn record_assertion(
        &self,
        connection: ConnectionId,
        assertion_id: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        check_expiry(expires_at, now)?;
        if assertion_id.is_empty() {
            return Err(StoreError::invalid("assertion ID", "empty"));
        }
        static RECORD: TextOnce = TextOnce::new();
        let (consumed_at, expires_at) = (to_db(now)?, to_db(expires_at)?);
        let statement = RECORD.statement(
            self.conn.get_database_backend(),
            |backend| {
                consumed_assertion::Entity::insert(consumed_assertion::ActiveModel {
                    connection_id: Set(connection.get()),
                    assertion_id: Set(assertion_id.to_owned()),
                    consumed_at: Set(consumed_at),
                    expires_at: Set(expires_at),
                })
                .on_conflict(
                    OnConflict::columns([
                        consumed_assertion::Column::ConnectionId,
                        consumed_assertion::Column::AssertionId,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .build(backend)
            },
            vec![
                connection.get().into(),
                assertion_id.into(),
                consumed_at.into(),
                expires_at.into(),
            ],
        );
        let inserted = self
            .conn
            .execute(statement)
            .await
            .map_err(StoreError::on_write("assertion", "sso connection"))?
            .rows_affected();
        if inserted == 0 {
            return Err(StoreError::Replayed { what: "assertion" });
        }
        Ok(())
    }

    /// Deletes AuthnRequests, replay-cache entries and login codes whose expiry is at or before
    /// `now` (none can be accepted any more, so nothing is lost), and test logins whose result
    /// has been kept long enough.
    pub async fn purge_expired(&self, now: OffsetDateTime) -> Result<PurgeCounts, StoreError> {
        let now = to_db(now)?;
        let authn_requests = authn_request::Entity::delete_many()
            .filter(authn_request::Column::ExpiresAt.lte(now))
            .exec(&self.conn)
            .await?
            .rows_affected;
        let assertions = consumed_assertion::Entity::delete_many()
            .filter(consumed_assertion::Column::ExpiresAt.lte(now))
            .exec(&self.conn)
            .await?
            .rows_affected;
        let login_codes = login_code::Entity::delete_many()
            .filter(login_code::Column::ExpiresAt.lte(now))
            .exec(&self.conn)
            .await?
            .rows_affected;
        let test_logins = test_login::Entity::delete_many()
            .filter(test_login::Column::KeepUntil.lte(now))
            .exec(&self.conn)
            .await?
            .rows_affected;
        Ok(PurgeCounts {
            authn_requests,
            assertions,
            login_codes,
            test_logins,
        })
    }
}
