//! `sso_test_logins`: an admin's test logins of an org's connection and their results.

use sea_orm::entity::prelude::*;

/// One test login, named by the AuthnRequest it sent.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sso_test_logins")]
pub struct Model {
    /// The AuthnRequest's SAML `ID`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The organization.
    pub org_id: i64,
    /// The connection tested.
    pub connection_id: i64,
    /// The connection's configuration version when the test started: the one it can prove.
    pub config_version: i64,
    /// Who started it.
    #[sea_orm(column_type = "Text")]
    pub actor: String,
    /// When it started.
    pub created_at: TimeDateTime,
    /// When its AuthnRequest stops being accepted.
    pub expires_at: TimeDateTime,
    /// When the row may be deleted.
    pub keep_until: TimeDateTime,
    /// `pending`, `succeeded` or `failed`.
    pub state: String,
    /// The failure's reason code; `None` while pending and after a success.
    pub reason: Option<String>,
    /// When a response was last processed for it.
    pub completed_at: Option<TimeDateTime>,
    /// The `sso-test-login` trace of that response.
    pub trace_event_id: Option<i64>,
    /// Whether that response marked the configuration as proven.
    pub proved: bool,
    /// What the test found (checks, email, JIT preview), JSON written by `sso-provisioning`.
    pub result: Option<Json>,
}

/// No relations are navigated through sea-orm; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
