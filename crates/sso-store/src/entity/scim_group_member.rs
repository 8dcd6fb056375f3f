//! `scim_group_members`: which SCIM users are in which SCIM group.

use sea_orm::entity::prelude::*;

/// One member of one group; the primary key `(group_id, scim_user_id)` makes it unique.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scim_group_members")]
pub struct Model {
    /// The group.
    #[sea_orm(primary_key, auto_increment = false)]
    pub group_id: i64,
    /// The member.
    #[sea_orm(primary_key, auto_increment = false)]
    pub scim_user_id: i64,
    /// When the member was added (members list in this order).
    pub added_at: TimeDateTime,
}

/// The group and the member (joined to list members with their names).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `group_id` to `scim_groups.id`.
    #[sea_orm(
        belongs_to = "super::scim_group::Entity",
        from = "Column::GroupId",
        to = "super::scim_group::Column::Id"
    )]
    Group,
    /// `scim_user_id` to `scim_users.id`.
    #[sea_orm(
        belongs_to = "super::scim_user::Entity",
        from = "Column::ScimUserId",
        to = "super::scim_user::Column::Id"
    )]
    ScimUser,
}

impl Related<super::scim_group::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Group.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
