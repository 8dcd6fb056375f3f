//! `organizations`: the tenants.

use sea_orm::entity::prelude::*;

/// One organization.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organizations")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Display name.
    pub name: String,
    /// The plan's `sso_policy::Plan::code()`.
    pub plan: String,
    /// Whether admins asked for SSO-only sign-in (applies only while SSO is in effect).
    pub require_sso: bool,
    /// When `require_sso` last changed value, if ever.
    pub require_sso_changed_at: Option<TimeDateTime>,
    /// When the organization was created.
    pub created_at: TimeDateTime,
}

/// No relations are navigated through sea-orm; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
