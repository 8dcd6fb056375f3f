//! Metadata by URL: which entity of an aggregate the connection uses, and the periodic
//! refresh (interval, when next due, how the last one ended).

use sea_orm_migration::prelude::*;

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0003_metadata_url"
    }
}

#[derive(DeriveIden)]
enum SsoConnections {
    Table,
    IdpMetadataEntityId,
    IdpMetadataRefreshSeconds,
    IdpMetadataNextRefreshAt,
    IdpMetadataRefreshedAt,
    IdpMetadataRefreshReason,
}

const NEXT_REFRESH_INDEX: &str = "ix_sso_connections_next_refresh";

/// The new columns, all nullable: existing connections have no URL and no refresh.
fn columns() -> [ColumnDef; 5] {
    [
        ColumnDef::new(SsoConnections::IdpMetadataEntityId)
            .text()
            .null()
            .to_owned(),
        ColumnDef::new(SsoConnections::IdpMetadataRefreshSeconds)
            .big_integer()
            .null()
            .to_owned(),
        ColumnDef::new(SsoConnections::IdpMetadataNextRefreshAt)
            .timestamp()
            .null()
            .to_owned(),
        ColumnDef::new(SsoConnections::IdpMetadataRefreshedAt)
            .timestamp()
            .null()
            .to_owned(),
        ColumnDef::new(SsoConnections::IdpMetadataRefreshReason)
            .string()
            .null()
            .to_owned(),
    ]
}

// async-trait cannot name the manager's lifetime.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        for mut column in columns() {
            manager
                .alter_table(
                    Table::alter()
                        .table(SsoConnections::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name(NEXT_REFRESH_INDEX)
                    .table(SsoConnections::Table)
                    .col(SsoConnections::IdpMetadataNextRefreshAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(NEXT_REFRESH_INDEX)
                    .table(SsoConnections::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            SsoConnections::IdpMetadataEntityId,
            SsoConnections::IdpMetadataRefreshSeconds,
            SsoConnections::IdpMetadataNextRefreshAt,
            SsoConnections::IdpMetadataRefreshedAt,
            SsoConnections::IdpMetadataRefreshReason,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(SsoConnections::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
