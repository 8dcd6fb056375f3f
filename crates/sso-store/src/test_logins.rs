//! Test logins: an admin's test of an org's connection, sent as an AuthnRequest of purpose
//! `test`, and its result kept for the admin to read.

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::Value;
use time::OffsetDateTime;

use crate::entity::test_login;
use crate::error::StoreError;
use crate::ids::{ConnectionId, EventId, OrgId};
use crate::instant::{from_db, to_db};
use crate::logins::{NewAuthnRequest, RequestPurpose};
use crate::store::Store;

/// Where a test login stands, as stored. (Whether a pending one has expired depends on the
/// time of asking: compare its `expires_at`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TestLoginState {
    /// No response has been processed for it yet.
    Pending,
    /// A response to it validated and named a person; nothing was provisioned.
    Succeeded,
    /// The last response to it was refused.
    Failed,
}

impl TestLoginState {
    /// Stable code, as stored.
    pub fn code(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    fn from_code(code: &str) -> Result<Self, StoreError> {
        match code {
            "pending" => Ok(Self::Pending),
            "succeeded" => Ok(Self::Succeeded),
            "failed" => Ok(Self::Failed),
            other => Err(StoreError::corrupt(
                "test login state",
                format!("unknown code {other:?}"),
            )),
        }
    }
}

/// What a test login records besides its AuthnRequest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTestLogin {
    /// The organization whose connection is tested.
    pub org: OrgId,
    /// Who started it.
    pub actor: String,
    /// The connection's configuration version now: the only one this test can prove.
    pub config_version: i64,
    /// Until when the result is kept (then [`Store::purge_expired`] deletes it).
    pub keep_until: OffsetDateTime,
}

/// A test login as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TestLoginRecord {
    /// The AuthnRequest's ID, which names the test login.
    pub id: String,
    /// The organization.
    pub org: OrgId,
    /// The connection tested.
    pub connection: ConnectionId,
    /// The configuration version the test started under.
    pub config_version: i64,
    /// Who started it.
    pub actor: String,
    /// When it started.
    pub created_at: OffsetDateTime,
    /// When its AuthnRequest stops being accepted.
    pub expires_at: OffsetDateTime,
    /// Until when the row is kept.
    pub keep_until: OffsetDateTime,
    /// Where it stands.
    pub state: TestLoginState,
    /// Why it failed.
    pub reason: Option<String>,
    /// When the response that set the state was processed.
    pub completed_at: Option<OffsetDateTime>,
    /// The trace of that response.
    pub trace: Option<EventId>,
    /// Whether that response marked the configuration as proven.
    pub proved: bool,
    /// What it found (JSON written by the layer above).
    pub result: Option<Value>,
}

impl TryFrom<test_login::Model> for TestLoginRecord {
    type Error = StoreError;

    fn try_from(m: test_login::Model) -> Result<Self, StoreError> {
        Ok(Self {
            state: TestLoginState::from_code(&m.state)?,
            id: m.id,
            org: OrgId::new(m.org_id),
            connection: ConnectionId::new(m.connection_id),
            config_version: m.config_version,
            actor: m.actor,
            created_at: from_db(m.created_at),
            expires_at: from_db(m.expires_at),
            keep_until: from_db(m.keep_until),
            reason: m.reason,
            completed_at: m.completed_at.map(from_db),
            trace: m.trace_event_id.map(EventId::new),
            proved: m.proved,
            result: m.result,
        })
    }
}

/// The result of one response to a test login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestLoginResult {
    /// [`TestLoginState::Succeeded`] or [`TestLoginState::Failed`].
    pub state: TestLoginState,
    /// Why it failed.
    pub reason: Option<String>,
    /// The trace of the response.
    pub trace: Option<EventId>,
    /// Whether the response marked the configuration as proven.
    pub proved: bool,
    /// What it found.
    pub result: Value,
}

impl<C: ConnectionTrait> Store<C> {
    /// Stores a test login: its AuthnRequest (purpose `test`) and its pending record, named by
    /// the request's ID. Two statements: call it in a [`Transaction`](crate::Transaction).
    /// A reused request ID or RelayState is a [`StoreError::Conflict`].
    pub async fn create_test_login(
        &self,
        request: &NewAuthnRequest,
        test: &NewTestLogin,
        now: OffsetDateTime,
    ) -> Result<TestLoginRecord, StoreError> {
        if test.keep_until < request.expires_at {
            return Err(StoreError::invalid(
                "test login",
                "its result must be kept at least until its request expires",
            ));
        }
        self.insert_authn_request(request, RequestPurpose::Test, now)
            .await?;
        let model = test_login::Model {
            id: request.id.clone(),
            org_id: test.org.get(),
            connection_id: request.connection.get(),
            config_version: test.config_version,
            actor: test.actor.clone(),
            created_at: to_db(now)?,
            expires_at: to_db(request.expires_at)?,
            keep_until: to_db(test.keep_until)?,
            state: TestLoginState::Pending.code().to_owned(),
            reason: None,
            completed_at: None,
            trace_event_id: None,
            proved: false,
            result: None,
        };
        test_login::Entity::insert(test_login::ActiveModel {
            id: Set(model.id.clone()),
            org_id: Set(model.org_id),
            connection_id: Set(model.connection_id),
            config_version: Set(model.config_version),
            actor: Set(model.actor.clone()),
            created_at: Set(model.created_at),
            expires_at: Set(model.expires_at),
            keep_until: Set(model.keep_until),
            state: Set(model.state.clone()),
            reason: Set(None),
            completed_at: Set(None),
            trace_event_id: Set(None),
            proved: Set(false),
            result: Set(None),
        })
        .exec_without_returning(&self.conn)
        .await
        .map_err(StoreError::on_write("test login", "organization"))?;
        model.try_into()
    }

    /// The test login `id` of `org`; `None` when there is none (or it is another org's).
    pub async fn test_login(
        &self,
        org: OrgId,
        id: &str,
    ) -> Result<Option<TestLoginRecord>, StoreError> {
        test_login::Entity::find_by_id(id)
            .filter(test_login::Column::OrgId.eq(org.get()))
            .one(&self.conn)
            .await?
            .map(TestLoginRecord::try_from)
            .transpose()
    }

    /// Records the result of a response to test login `id`. A success is final: once a test
    /// has succeeded, later responses (a replay, a second post) are traced but do not change
    /// its result. Returns whether the record changed.
    pub async fn record_test_login_result(
        &self,
        id: &str,
        result: &TestLoginResult,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        if result.state == TestLoginState::Pending {
            return Err(StoreError::invalid("test login result", "still pending"));
        }
        let updated = test_login::Entity::update_many()
            .col_expr(test_login::Column::State, Expr::value(result.state.code()))
            .col_expr(
                test_login::Column::Reason,
                Expr::value(result.reason.clone()),
            )
            .col_expr(test_login::Column::CompletedAt, Expr::value(to_db(now)?))
            .col_expr(
                test_login::Column::TraceEventId,
                Expr::value(result.trace.map(EventId::get)),
            )
            .col_expr(test_login::Column::Proved, Expr::value(result.proved))
            .col_expr(
                test_login::Column::Result,
                Expr::value(result.result.clone()),
            )
            .filter(test_login::Column::Id.eq(id))
            .filter(test_login::Column::State.ne(TestLoginState::Succeeded.code()))
            .exec(&self.conn)
            .await?;
        Ok(updated.rows_affected > 0)
    }
}
