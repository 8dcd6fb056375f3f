//! Setup links: single-org links to the setup portal, stored only as the SHA-256 of their
//! secret part, with the abilities they grant.

use sea_orm_migration::prelude::*;

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0010_setup_links"
    }
}

#[derive(DeriveIden)]
enum SetupLinks {
    Table,
    Id,
    OrgId,
    SecretHash,
    Abilities,
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
                    .table(SetupLinks::Table)
                    .col(
                        ColumnDef::new(SetupLinks::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(SetupLinks::OrgId).big_integer().not_null())
                    .col(ColumnDef::new(SetupLinks::SecretHash).string().not_null())
                    .col(ColumnDef::new(SetupLinks::Abilities).string().not_null())
                    .col(ColumnDef::new(SetupLinks::CreatedBy).string().not_null())
                    .col(ColumnDef::new(SetupLinks::CreatedAt).timestamp().not_null())
                    .col(ColumnDef::new(SetupLinks::ExpiresAt).timestamp().not_null())
                    .col(ColumnDef::new(SetupLinks::RevokedAt).timestamp().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_setup_links_org")
                            .from(SetupLinks::Table, SetupLinks::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_setup_links_org")
                    .table(SetupLinks::Table)
                    .col(SetupLinks::OrgId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SetupLinks::Table).to_owned())
            .await
    }
}
