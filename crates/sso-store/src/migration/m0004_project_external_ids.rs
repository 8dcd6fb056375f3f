//! Projects named by the host product: an external id per project, unique within its
//! organization, while names become plain labels (two projects may share one).
//!
//! Existing projects get their decimal row id as external id, which is what the API showed
//! for them before, so stored JIT settings and callers keep working unchanged. The internal
//! row id stays the key that project access and JIT default projects point at.

use sea_orm::DbBackend;
use sea_orm_migration::prelude::*;

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0004_project_external_ids"
    }
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
    OrgId,
    Name,
    ExternalId,
}

const NAME_INDEX: &str = "ux_projects_org_name";
const EXTERNAL_ID_INDEX: &str = "ux_projects_org_external_id";

// async-trait cannot name the manager's lifetime.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let postgres = manager.get_database_backend() == DbBackend::Postgres;
        // SQLite adds a NOT NULL column only with a default; every row is filled in below.
        let mut column = ColumnDef::new(Projects::ExternalId);
        column.string().not_null().default("");
        if postgres {
            // Byte order for listing and paging, whatever the database's collation (SQLite
            // compares text byte by byte already).
            column.extra("COLLATE \"C\"");
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Projects::Table)
                    .add_column(&mut column)
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::update()
                    .table(Projects::Table)
                    .value(
                        Projects::ExternalId,
                        Expr::col(Projects::Id).cast_as(Alias::new("TEXT")),
                    )
                    .to_owned(),
            )
            .await?;
        if postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "ALTER TABLE \"projects\" ALTER COLUMN \"external_id\" DROP DEFAULT",
                )
                .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name(NAME_INDEX)
                    .table(Projects::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(EXTERNAL_ID_INDEX)
                    .table(Projects::Table)
                    .col(Projects::OrgId)
                    .col(Projects::ExternalId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(EXTERNAL_ID_INDEX)
                    .table(Projects::Table)
                    .to_owned(),
            )
            .await?;
        // Names were unique before: this fails, changing nothing, if two now share one.
        manager
            .create_index(
                Index::create()
                    .name(NAME_INDEX)
                    .table(Projects::Table)
                    .col(Projects::OrgId)
                    .col(Projects::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Projects::Table)
                    .drop_column(Projects::ExternalId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use sea_orm::{ConnectionTrait, Database, Statement};
    use sea_orm_migration::MigratorTrait;
    use sso_testdb::{TestDb, on_both_backends};

    use crate::migration::Migrator;

    on_both_backends!(existing_projects_keep_their_decimal_id);

    /// A database at m0003 with a project and a default project: after m0004 the project's
    /// external id is its old decimal id, the JIT row still points at it, names may repeat
    /// and external ids may not.
    async fn existing_projects_keep_their_decimal_id(db: TestDb) {
        let conn = Database::connect(&db.url).await.unwrap();
        Migrator::up(&conn, Some(3)).await.unwrap();
        let backend = conn.get_database_backend();
        for sql in [
            "INSERT INTO organizations (id, name, plan, require_sso, created_at) \
             VALUES (7, 'A', 'enterprise', false, '2025-03-01 09:00:00')",
            "INSERT INTO projects (id, org_id, name, created_at) \
             VALUES (41, 7, 'Handbook', '2025-03-01 09:00:00')",
        ] {
            conn.execute_unprepared(sql).await.unwrap();
        }
        Migrator::up(&conn, None).await.unwrap();

        let row = conn
            .query_one(Statement::from_string(
                backend,
                "SELECT external_id FROM projects WHERE id = 41",
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.try_get::<String>("", "external_id").unwrap(), "41");
        conn.execute_unprepared(
            "INSERT INTO projects (id, org_id, name, external_id, created_at) \
             VALUES (42, 7, 'Handbook', 'handbook-2', '2025-03-01 09:00:00')",
        )
        .await
        .unwrap();
        let taken = conn
            .execute_unprepared(
                "INSERT INTO projects (id, org_id, name, external_id, created_at) \
                 VALUES (43, 7, 'Other', '41', '2025-03-01 09:00:00')",
            )
            .await;
        assert!(taken.is_err(), "external ids are unique per organization");
        conn.close().await.unwrap();
    }
}
