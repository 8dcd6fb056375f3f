//! `authn_requests`: outstanding SP-initiated AuthnRequests.

use sea_orm::entity::prelude::*;

/// One AuthnRequest we sent.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "authn_requests")]
pub struct Model {
    /// The request's SAML `ID`, which the response names in `InResponseTo`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The connection it was sent for.
    pub connection_id: i64,
    /// The opaque RelayState sent with it, unique.
    #[sea_orm(unique)]
    pub relay_state: String,
    /// Where the caller wants the user sent afterwards, kept server-side.
    #[sea_orm(column_type = "Text", nullable)]
    pub return_target: Option<String>,
    /// When it was created.
    pub created_at: TimeDateTime,
    /// After this instant it cannot be consumed.
    pub expires_at: TimeDateTime,
    /// When a response consumed it; set at most once.
    pub consumed_at: Option<TimeDateTime>,
    /// What it was sent for: `login` (a sign-in) or `test` (an admin's test login, which
    /// provisions nothing).
    pub purpose: String,
}

/// No relations are navigated through sea-orm; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
