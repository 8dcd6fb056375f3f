//! `audit_events`: login traces and admin audit entries, read by the organization's admins.

use sea_orm::entity::prelude::*;

/// One event.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    /// Primary key; increasing, and the tie-breaker of the listing order.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The organization whose admins may read it.
    pub org_id: i64,
    /// When it happened.
    pub occurred_at: TimeDateTime,
    /// What kind of event (`sso-login`, `require-sso`, `break-glass` ...), chosen by the caller.
    pub kind: String,
    /// `EventOutcome::code()`: `success`, `refused` or `failed`.
    pub outcome: String,
    /// The stable reason code of the outcome.
    pub reason: String,
    /// Who did it (an admin or the operator), when not the signing-in user.
    pub actor: Option<String>,
    /// Everything else: checks run, email sources tried, values compared.
    pub detail: Json,
}

/// No relations are navigated through sea-orm; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
