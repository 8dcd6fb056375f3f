//! `org_credentials`: admin credentials that may act on one organization only.

use sea_orm::entity::prelude::*;

/// One issued credential. The secret is never stored, only the SHA-256 of its secret part, so
/// reading the table does not give anyone a credential to present.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "org_credentials")]
pub struct Model {
    /// Primary key; also the id part of the presented credential.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The only organization it may act on.
    pub org_id: i64,
    /// Lower-case hex SHA-256 of the secret part.
    pub secret_hash: String,
    /// What it is for, as its creator wrote.
    pub description: String,
    /// Who created it (the audit actor of the creation).
    pub created_by: String,
    /// When it was created.
    pub created_at: TimeDateTime,
    /// From this instant on it is refused.
    pub expires_at: TimeDateTime,
    /// When it was revoked; set at most once.
    pub revoked_at: Option<TimeDateTime>,
    /// What it may do: `admin` (AdminService on its org) or `scim` (the org's SCIM endpoint).
    pub kind: String,
}

/// No relations are navigated through sea-orm; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
