//! Org-scoped admin credentials: bearer secrets that may administer one organization, stored
//! only as the SHA-256 of their secret part.

use sea_orm_migration::prelude::*;

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0009_org_credentials"
    }
}

#[derive(DeriveIden)]
enum OrgCredentials {
    Table,
    Id,
    OrgId,
    SecretHash,
    Description,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

// See m0001 for why the lifetime stays elided.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OrgCredentials::Table)
                    .col(
                        ColumnDef::new(OrgCredentials::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(OrgCredentials::OrgId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OrgCredentials::SecretHash)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OrgCredentials::Description)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OrgCredentials::CreatedBy)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OrgCredentials::CreatedAt)
                            .timestamp()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OrgCredentials::ExpiresAt)
                            .timestamp()
                            .not_null(),
                    )
                    .col(ColumnDef::new(OrgCredentials::RevokedAt).timestamp().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_org_credentials_org")
                            .from(OrgCredentials::Table, OrgCredentials::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_org_credentials_org")
                    .table(OrgCredentials::Table)
                    .col(OrgCredentials::OrgId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OrgCredentials::Table).to_owned())
            .await
    }
}
