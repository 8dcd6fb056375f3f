//! SCIM provisioning: SCIM tokens as a kind of org credential, suspended memberships, and the
//! users, groups and group members an org's directory pushes.
//!
//! (m0011 is unused: the number was held for this work before it was renumbered after m0012.)

use sea_orm_migration::prelude::*;

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0013_scim"
    }
}

#[derive(DeriveIden)]
enum OrgCredentials {
    Table,
    Kind,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    SuspendedAt,
}

#[derive(DeriveIden)]
enum ScimUsers {
    Table,
    Id,
    OrgId,
    UserId,
    UserName,
    UserNameKey,
    ExternalId,
    DisplayName,
    Active,
    Document,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ScimGroups {
    Table,
    Id,
    OrgId,
    DisplayName,
    NameKey,
    ExternalId,
    Document,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ScimGroupMembers {
    Table,
    GroupId,
    ScimUserId,
    AddedAt,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

fn id_column<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

fn org_key(
    table: impl IntoIden + 'static,
    column: impl IntoIden + 'static,
    name: &str,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, column)
        .to(Organizations::Table, Organizations::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn scim_users() -> TableCreateStatement {
    Table::create()
        .table(ScimUsers::Table)
        .col(id_column(ScimUsers::Id))
        .col(ColumnDef::new(ScimUsers::OrgId).big_integer().not_null())
        .col(ColumnDef::new(ScimUsers::UserId).big_integer().not_null())
        .col(ColumnDef::new(ScimUsers::UserName).string().not_null())
        .col(ColumnDef::new(ScimUsers::UserNameKey).string().not_null())
        .col(ColumnDef::new(ScimUsers::ExternalId).string().null())
        .col(ColumnDef::new(ScimUsers::DisplayName).string().null())
        .col(ColumnDef::new(ScimUsers::Active).boolean().not_null())
        .col(ColumnDef::new(ScimUsers::Document).json().not_null())
        .col(ColumnDef::new(ScimUsers::Version).big_integer().not_null())
        .col(ColumnDef::new(ScimUsers::CreatedAt).timestamp().not_null())
        .col(ColumnDef::new(ScimUsers::UpdatedAt).timestamp().not_null())
        .foreign_key(&mut org_key(
            ScimUsers::Table,
            ScimUsers::OrgId,
            "fk_scim_users_org",
        ))
        .foreign_key(
            ForeignKey::create()
                .name("fk_scim_users_user")
                .from(ScimUsers::Table, ScimUsers::UserId)
                .to(Users::Table, Users::Id),
        )
        .to_owned()
}

fn scim_groups() -> TableCreateStatement {
    Table::create()
        .table(ScimGroups::Table)
        .col(id_column(ScimGroups::Id))
        .col(ColumnDef::new(ScimGroups::OrgId).big_integer().not_null())
        .col(ColumnDef::new(ScimGroups::DisplayName).string().not_null())
        .col(ColumnDef::new(ScimGroups::NameKey).string().not_null())
        .col(ColumnDef::new(ScimGroups::ExternalId).string().null())
        .col(ColumnDef::new(ScimGroups::Document).json().not_null())
        .col(ColumnDef::new(ScimGroups::Version).big_integer().not_null())
        .col(ColumnDef::new(ScimGroups::CreatedAt).timestamp().not_null())
        .col(ColumnDef::new(ScimGroups::UpdatedAt).timestamp().not_null())
        .foreign_key(&mut org_key(
            ScimGroups::Table,
            ScimGroups::OrgId,
            "fk_scim_groups_org",
        ))
        .to_owned()
}

fn scim_group_members() -> TableCreateStatement {
    Table::create()
        .table(ScimGroupMembers::Table)
        .col(
            ColumnDef::new(ScimGroupMembers::GroupId)
                .big_integer()
                .not_null(),
        )
        .col(
            ColumnDef::new(ScimGroupMembers::ScimUserId)
                .big_integer()
                .not_null(),
        )
        .col(
            ColumnDef::new(ScimGroupMembers::AddedAt)
                .timestamp()
                .not_null(),
        )
        .primary_key(
            Index::create()
                .col(ScimGroupMembers::GroupId)
                .col(ScimGroupMembers::ScimUserId),
        )
        .foreign_key(
            ForeignKey::create()
                .name("fk_scim_group_members_group")
                .from(ScimGroupMembers::Table, ScimGroupMembers::GroupId)
                .to(ScimGroups::Table, ScimGroups::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .foreign_key(
            ForeignKey::create()
                .name("fk_scim_group_members_user")
                .from(ScimGroupMembers::Table, ScimGroupMembers::ScimUserId)
                .to(ScimUsers::Table, ScimUsers::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        Index::create()
            .name("ux_scim_users_name")
            .table(ScimUsers::Table)
            .col(ScimUsers::OrgId)
            .col(ScimUsers::UserNameKey)
            .unique()
            .to_owned(),
        Index::create()
            .name("ux_scim_users_user")
            .table(ScimUsers::Table)
            .col(ScimUsers::OrgId)
            .col(ScimUsers::UserId)
            .unique()
            .to_owned(),
        Index::create()
            .name("ix_scim_users_external")
            .table(ScimUsers::Table)
            .col(ScimUsers::OrgId)
            .col(ScimUsers::ExternalId)
            .to_owned(),
        Index::create()
            .name("ux_scim_groups_name")
            .table(ScimGroups::Table)
            .col(ScimGroups::OrgId)
            .col(ScimGroups::NameKey)
            .unique()
            .to_owned(),
        Index::create()
            .name("ix_scim_groups_external")
            .table(ScimGroups::Table)
            .col(ScimGroups::OrgId)
            .col(ScimGroups::ExternalId)
            .to_owned(),
        Index::create()
            .name("ix_scim_group_members_user")
            .table(ScimGroupMembers::Table)
            .col(ScimGroupMembers::ScimUserId)
            .to_owned(),
    ]
}

// See m0001 for why the lifetime stays elided.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Existing credentials are admin credentials.
        manager
            .alter_table(
                Table::alter()
                    .table(OrgCredentials::Table)
                    .add_column(
                        ColumnDef::new(OrgCredentials::Kind)
                            .string()
                            .not_null()
                            .default("admin"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Memberships::Table)
                    .add_column(ColumnDef::new(Memberships::SuspendedAt).timestamp().null())
                    .to_owned(),
            )
            .await?;
        for table in [scim_users(), scim_groups(), scim_group_members()] {
            manager.create_table(table).await?;
        }
        for index in indexes() {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ScimGroupMembers::Table.into_iden(),
            ScimGroups::Table.into_iden(),
            ScimUsers::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Memberships::Table)
                    .drop_column(Memberships::SuspendedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(OrgCredentials::Table)
                    .drop_column(OrgCredentials::Kind)
                    .to_owned(),
            )
            .await
    }
}
