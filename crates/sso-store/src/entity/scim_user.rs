//! `scim_users`: the users an org's directory pushed over SCIM, each tied to one user and that
//! user's membership of the org.

use sea_orm::entity::prelude::*;

/// One SCIM user resource.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scim_users")]
pub struct Model {
    /// Primary key; the resource id in SCIM URLs.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The org whose directory owns it.
    pub org_id: i64,
    /// The user (by email) it provisions; unique per org.
    pub user_id: i64,
    /// `userName` as sent.
    pub user_name: String,
    /// `userName` in ASCII lower case, unique per org.
    pub user_name_key: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// `displayName`.
    pub display_name: Option<String>,
    /// `active`; false suspends the membership.
    pub active: bool,
    /// The resource as last written, minus `id`, `meta` and `schemas`.
    pub document: Json,
    /// Increases on every write: the ETag.
    pub version: i64,
    /// When it was created.
    pub created_at: TimeDateTime,
    /// When it was last written.
    pub updated_at: TimeDateTime,
}

/// The user it provisions (joined to read the email).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `user_id` to `users.id`.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id"
    )]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
