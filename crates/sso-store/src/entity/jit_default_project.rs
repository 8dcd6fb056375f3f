//! `jit_default_projects`: the projects given to members created just in time.

use sea_orm::entity::prelude::*;

/// One default project of a connection's JIT settings.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "jit_default_projects")]
pub struct Model {
    /// The connection.
    #[sea_orm(primary_key, auto_increment = false)]
    pub connection_id: i64,
    /// The project (of the connection's organization).
    #[sea_orm(primary_key, auto_increment = false)]
    pub project_id: i64,
}

/// No relations are navigated through sea-orm; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
