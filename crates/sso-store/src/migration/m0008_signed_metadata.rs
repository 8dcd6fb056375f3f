//! Signed metadata by URL: the certificate the metadata's signature must verify with, and what
//! the metadata last said about its own lifetime (`validUntil`, `cacheDuration`).

use sea_orm_migration::prelude::*;

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0008_signed_metadata"
    }
}

#[derive(DeriveIden)]
enum SsoConnections {
    Table,
    IdpMetadataSigningCertificate,
    IdpMetadataValidUntil,
    IdpMetadataCacheSeconds,
}

/// The new columns, all nullable: existing sources pin nothing and recorded no lifetime.
fn columns() -> [ColumnDef; 3] {
    [
        ColumnDef::new(SsoConnections::IdpMetadataSigningCertificate)
            .text()
            .null()
            .to_owned(),
        ColumnDef::new(SsoConnections::IdpMetadataValidUntil)
            .timestamp()
            .null()
            .to_owned(),
        ColumnDef::new(SsoConnections::IdpMetadataCacheSeconds)
            .big_integer()
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
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            SsoConnections::IdpMetadataSigningCertificate,
            SsoConnections::IdpMetadataValidUntil,
            SsoConnections::IdpMetadataCacheSeconds,
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
