//! `consumed_assertions`: the replay cache, shared by every server through the database.

use sea_orm::entity::prelude::*;

/// One used assertion; the primary key `(connection_id, assertion_id)` is what refuses a replay.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consumed_assertions")]
pub struct Model {
    /// The connection the assertion arrived on.
    #[sea_orm(primary_key, auto_increment = false)]
    pub connection_id: i64,
    /// The assertion's `ID`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub assertion_id: String,
    /// When it was used.
    pub consumed_at: TimeDateTime,
    /// Kept until then: after it the assertion is invalid anyway.
    pub expires_at: TimeDateTime,
}

/// No relations are navigated through sea-orm; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
