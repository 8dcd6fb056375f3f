//! `verified_domains`: email domains an organization has proven it owns.

use sea_orm::entity::prelude::*;

/// One verified domain. `domain` is unique across all organizations.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "verified_domains")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The owning organization.
    pub org_id: i64,
    /// Lower-case ASCII (punycode) form, as `sso_email::Email::domain()` returns it.
    #[sea_orm(unique)]
    pub domain: String,
    /// When it was added.
    pub created_at: TimeDateTime,
}

/// No relations are navigated through sea-orm; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
