//! Domain claims: a row of `verified_domains` is now a claim, `pending` until proven by a DNS
//! TXT record (or vouched for by the operator), then `verified`. Several organizations may
//! hold pending claims on one domain; only one may hold it verified. Existing rows were added
//! by the operator path and stay verified.

use sea_orm_migration::prelude::*;

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0007_domain_claims"
    }
}

#[derive(DeriveIden)]
enum VerifiedDomains {
    Table,
    OrgId,
    Domain,
    State,
    Token,
    VerifiedBy,
    VerifiedAt,
    CheckedAt,
    CheckResult,
    CheckFailures,
    NextCheckAt,
}

/// The old key: one row per domain, whatever its state.
const OLD_DOMAIN_INDEX: &str = "ux_verified_domains_domain";
/// One claim per (organization, domain).
const CLAIM_INDEX: &str = "ux_verified_domains_org_domain";
/// One organization holds a domain verified: a partial unique index, which SQLite and
/// PostgreSQL both have.
const VERIFIED_INDEX: &str = "ux_verified_domains_verified";
/// The re-verification schedule.
const NEXT_CHECK_INDEX: &str = "ix_verified_domains_next_check";

/// The new columns. Existing rows are verified; the rest is filled below or starts empty.
fn columns() -> [ColumnDef; 8] {
    [
        ColumnDef::new(VerifiedDomains::State)
            .string()
            .not_null()
            .default("verified")
            .to_owned(),
        ColumnDef::new(VerifiedDomains::Token)
            .string()
            .null()
            .to_owned(),
        ColumnDef::new(VerifiedDomains::VerifiedBy)
            .string()
            .null()
            .to_owned(),
        ColumnDef::new(VerifiedDomains::VerifiedAt)
            .timestamp()
            .null()
            .to_owned(),
        ColumnDef::new(VerifiedDomains::CheckedAt)
            .timestamp()
            .null()
            .to_owned(),
        ColumnDef::new(VerifiedDomains::CheckResult)
            .string()
            .null()
            .to_owned(),
        ColumnDef::new(VerifiedDomains::CheckFailures)
            .integer()
            .not_null()
            .default(0)
            .to_owned(),
        ColumnDef::new(VerifiedDomains::NextCheckAt)
            .timestamp()
            .null()
            .to_owned(),
    ]
}

// See m0001 for why the lifetime stays elided.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        for mut column in columns() {
            manager
                .alter_table(
                    Table::alter()
                        .table(VerifiedDomains::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        // Rows so far came from AddVerifiedDomain, now the operator's path.
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE verified_domains SET verified_by = 'operator', verified_at = created_at",
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(OLD_DOMAIN_INDEX)
                    .table(VerifiedDomains::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(CLAIM_INDEX)
                    .table(VerifiedDomains::Table)
                    .col(VerifiedDomains::OrgId)
                    .col(VerifiedDomains::Domain)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "CREATE UNIQUE INDEX {VERIFIED_INDEX} ON verified_domains (domain) \
                 WHERE state = 'verified'"
            ))
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(NEXT_CHECK_INDEX)
                    .table(VerifiedDomains::Table)
                    .col(VerifiedDomains::NextCheckAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Pending claims did not exist before; the old key allows one row per domain.
        manager
            .get_connection()
            .execute_unprepared("DELETE FROM verified_domains WHERE state <> 'verified'")
            .await?;
        for index in [NEXT_CHECK_INDEX, VERIFIED_INDEX, CLAIM_INDEX] {
            manager
                .drop_index(
                    Index::drop()
                        .name(index)
                        .table(VerifiedDomains::Table)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name(OLD_DOMAIN_INDEX)
                    .table(VerifiedDomains::Table)
                    .col(VerifiedDomains::Domain)
                    .unique()
                    .to_owned(),
            )
            .await?;
        for column in [
            VerifiedDomains::State,
            VerifiedDomains::Token,
            VerifiedDomains::VerifiedBy,
            VerifiedDomains::VerifiedAt,
            VerifiedDomains::CheckedAt,
            VerifiedDomains::CheckResult,
            VerifiedDomains::CheckFailures,
            VerifiedDomains::NextCheckAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(VerifiedDomains::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
