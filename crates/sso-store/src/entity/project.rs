//! `projects`: an organization's projects (project permissions are an Enterprise feature).

use sea_orm::entity::prelude::*;

/// One project; `(org_id, external_id)` is unique.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "projects")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The owning organization.
    pub org_id: i64,
    /// Display name (a label: two projects may share one).
    pub name: String,
    /// The host product's id for the project (`ProjectId`), unique within the organization;
    /// byte-ordered (`COLLATE "C"` on PostgreSQL).
    pub external_id: String,
    /// When it was created.
    pub created_at: TimeDateTime,
}

/// No relations are navigated through sea-orm; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
