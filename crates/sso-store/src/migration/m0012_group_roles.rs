//! Directory-driven roles: a connection's group rules (group to role and projects), the SAML
//! attribute that carries the groups, and whether the rules apply on every login.

use sea_orm_migration::prelude::*;

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0012_group_roles"
    }
}

#[derive(DeriveIden)]
enum SsoConnections {
    Table,
    GroupsAttribute,
    GroupRules,
    GroupRulesEveryLogin,
}

/// The new columns. The rules are one JSON array on the connection's row, which every login
/// reads already, so a login costs no extra query for them; `NULL` is no rules.
fn columns() -> [ColumnDef; 3] {
    [
        ColumnDef::new(SsoConnections::GroupsAttribute)
            .text()
            .null()
            .to_owned(),
        ColumnDef::new(SsoConnections::GroupRules)
            .json()
            .null()
            .to_owned(),
        ColumnDef::new(SsoConnections::GroupRulesEveryLogin)
            .boolean()
            .not_null()
            .default(false)
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
            SsoConnections::GroupsAttribute,
            SsoConnections::GroupRules,
            SsoConnections::GroupRulesEveryLogin,
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
