//! `login_codes`: single-use codes the service's ACS endpoint puts in the redirect to the
//! caller's return target.

use sea_orm::entity::prelude::*;

/// One issued code. The code itself is never stored, only its SHA-256, so reading the table
/// does not give anyone a code to redeem.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "login_codes")]
pub struct Model {
    /// Lower-case hex SHA-256 of the code.
    #[sea_orm(primary_key, auto_increment = false)]
    pub code_hash: String,
    /// The org signed in to.
    pub org_id: i64,
    /// The user signed in.
    pub user_id: i64,
    /// The completed login, as the redeeming caller receives it (JSON, written by
    /// `sso-provisioning`).
    pub outcome: Json,
    /// When it was issued.
    pub created_at: TimeDateTime,
    /// After this instant it cannot be redeemed.
    pub expires_at: TimeDateTime,
    /// When it was redeemed; set at most once.
    pub redeemed_at: Option<TimeDateTime>,
}

/// No relations are navigated through sea-orm; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
