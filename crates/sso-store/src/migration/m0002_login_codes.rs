//! Single-use login codes: what the service's own ACS endpoint hands the browser instead of
//! the login itself.

use sea_orm_migration::prelude::*;

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0002_login_codes"
    }
}

#[derive(DeriveIden)]
enum LoginCodes {
    Table,
    CodeHash,
    OrgId,
    UserId,
    Outcome,
    CreatedAt,
    ExpiresAt,
    RedeemedAt,
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

// See m0001 for why the lifetime stays elided.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LoginCodes::Table)
                    .col(
                        ColumnDef::new(LoginCodes::CodeHash)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(LoginCodes::OrgId).big_integer().not_null())
                    .col(ColumnDef::new(LoginCodes::UserId).big_integer().not_null())
                    .col(ColumnDef::new(LoginCodes::Outcome).json().not_null())
                    .col(ColumnDef::new(LoginCodes::CreatedAt).timestamp().not_null())
                    .col(ColumnDef::new(LoginCodes::ExpiresAt).timestamp().not_null())
                    .col(ColumnDef::new(LoginCodes::RedeemedAt).timestamp().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_login_codes_org")
                            .from(LoginCodes::Table, LoginCodes::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_login_codes_user")
                            .from(LoginCodes::Table, LoginCodes::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_login_codes_expires_at")
                    .table(LoginCodes::Table)
                    .col(LoginCodes::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LoginCodes::Table).to_owned())
            .await
    }
}
