//! `project_access`: which users may use which projects.

use sea_orm::entity::prelude::*;

/// One grant; the primary key `(project_id, user_id)` makes it unique.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "project_access")]
pub struct Model {
    /// The project.
    #[sea_orm(primary_key, auto_increment = false)]
    pub project_id: i64,
    /// The user.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i64,
    /// How it was created: `CreatedBy::code()` (`jit`, `admin`).
    pub created_by: String,
    /// When it was granted.
    pub created_at: TimeDateTime,
}

/// No relations are navigated through sea-orm; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
