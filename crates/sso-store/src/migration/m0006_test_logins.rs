//! Test logins: an AuthnRequest says what it was sent for (`purpose`: a sign-in or an admin's
//! test of the connection), and a test's result is kept where the admin can read it.

use sea_orm_migration::prelude::*;

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0006_test_logins"
    }
}

#[derive(DeriveIden)]
enum AuthnRequests {
    Table,
    Purpose,
}

#[derive(DeriveIden)]
enum SsoTestLogins {
    Table,
    Id,
    OrgId,
    ConnectionId,
    ConfigVersion,
    Actor,
    CreatedAt,
    ExpiresAt,
    KeepUntil,
    State,
    Reason,
    CompletedAt,
    TraceEventId,
    Proved,
    Result,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum SsoConnections {
    Table,
    Id,
}

const KEEP_UNTIL_INDEX: &str = "ix_sso_test_logins_keep_until";
const ORG_INDEX: &str = "ix_sso_test_logins_org";

fn test_logins_table() -> TableCreateStatement {
    let instant = |col: SsoTestLogins| ColumnDef::new(col).timestamp().not_null().to_owned();
    Table::create()
        .table(SsoTestLogins::Table)
        // The AuthnRequest's ID: the test login is named by the request it sent.
        .col(
            ColumnDef::new(SsoTestLogins::Id)
                .string()
                .not_null()
                .primary_key(),
        )
        .col(
            ColumnDef::new(SsoTestLogins::OrgId)
                .big_integer()
                .not_null(),
        )
        .col(
            ColumnDef::new(SsoTestLogins::ConnectionId)
                .big_integer()
                .not_null(),
        )
        .col(
            ColumnDef::new(SsoTestLogins::ConfigVersion)
                .big_integer()
                .not_null(),
        )
        .col(ColumnDef::new(SsoTestLogins::Actor).text().not_null())
        .col(instant(SsoTestLogins::CreatedAt))
        .col(instant(SsoTestLogins::ExpiresAt))
        .col(instant(SsoTestLogins::KeepUntil))
        .col(ColumnDef::new(SsoTestLogins::State).string().not_null())
        .col(ColumnDef::new(SsoTestLogins::Reason).string().null())
        .col(
            ColumnDef::new(SsoTestLogins::CompletedAt)
                .timestamp()
                .null(),
        )
        .col(
            ColumnDef::new(SsoTestLogins::TraceEventId)
                .big_integer()
                .null(),
        )
        .col(
            ColumnDef::new(SsoTestLogins::Proved)
                .boolean()
                .not_null()
                .default(false),
        )
        .col(ColumnDef::new(SsoTestLogins::Result).json().null())
        .foreign_key(
            ForeignKey::create()
                .name("fk_sso_test_logins_org")
                .from(SsoTestLogins::Table, SsoTestLogins::OrgId)
                .to(Organizations::Table, Organizations::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .foreign_key(
            ForeignKey::create()
                .name("fk_sso_test_logins_connection")
                .from(SsoTestLogins::Table, SsoTestLogins::ConnectionId)
                .to(SsoConnections::Table, SsoConnections::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

// async-trait cannot name the manager's lifetime.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Every request stored before this migration was sent for a sign-in.
        manager
            .alter_table(
                Table::alter()
                    .table(AuthnRequests::Table)
                    .add_column(
                        ColumnDef::new(AuthnRequests::Purpose)
                            .string()
                            .not_null()
                            .default("login"),
                    )
                    .to_owned(),
            )
            .await?;
        manager.create_table(test_logins_table()).await?;
        for (name, column) in [
            (KEEP_UNTIL_INDEX, SsoTestLogins::KeepUntil),
            (ORG_INDEX, SsoTestLogins::OrgId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(SsoTestLogins::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SsoTestLogins::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AuthnRequests::Table)
                    .drop_column(AuthnRequests::Purpose)
                    .to_owned(),
            )
            .await
    }
}
