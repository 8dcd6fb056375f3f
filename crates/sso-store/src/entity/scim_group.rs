//! `scim_groups`: the groups an org's directory pushed over SCIM; their names feed the
//! connection's group rules.

use sea_orm::entity::prelude::*;

/// One SCIM group resource.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scim_groups")]
pub struct Model {
    /// Primary key; the resource id in SCIM URLs.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The org whose directory owns it.
    pub org_id: i64,
    /// `displayName` as sent.
    pub display_name: String,
    /// `displayName` in ASCII lower case, unique per org.
    pub name_key: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// The resource as last written, minus `id`, `meta`, `schemas` and `members`.
    pub document: Json,
    /// Increases on every write, membership changes included: the ETag.
    pub version: i64,
    /// When it was created.
    pub created_at: TimeDateTime,
    /// When it was last written.
    pub updated_at: TimeDateTime,
}

/// Its members (joined to find a user's groups).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `scim_group_members.group_id`.
    #[sea_orm(has_many = "super::scim_group_member::Entity")]
    Members,
}

impl Related<super::scim_group_member::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Members.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
