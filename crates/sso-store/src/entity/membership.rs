//! `memberships`: who belongs to which organization, with which role.

use sea_orm::entity::prelude::*;

/// One membership; the primary key `(org_id, user_id)` makes it unique.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "memberships")]
pub struct Model {
    /// The organization.
    #[sea_orm(primary_key, auto_increment = false)]
    pub org_id: i64,
    /// The member.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i64,
    /// The role's `sso_policy::Role::code()`.
    pub role: String,
    /// How it was created: `CreatedBy::code()` (`jit`, `admin`, `scim`).
    pub created_by: String,
    /// When it was created.
    pub created_at: TimeDateTime,
    /// When the org's directory (SCIM) deactivated it; `NULL` while active. A suspended
    /// member keeps their role and projects but signs in neither by SSO nor by password.
    pub suspended_at: Option<TimeDateTime>,
}

/// No relations are navigated through sea-orm; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
