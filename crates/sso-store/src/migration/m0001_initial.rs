//! The first schema: organizations, people, connections, the replay cache and the traces.

use sea_orm_migration::prelude::*;

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0001_initial"
    }
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    Name,
    Plan,
    RequireSso,
    RequireSsoChangedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum VerifiedDomains {
    Table,
    Id,
    OrgId,
    Domain,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    OrgId,
    UserId,
    Role,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
    OrgId,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ProjectAccess {
    Table,
    ProjectId,
    UserId,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SsoConnections {
    Table,
    Id,
    OrgId,
    Enabled,
    IdpMetadataXml,
    IdpMetadataUrl,
    IdpEntityId,
    IdpSsoUrl,
    IdpCertificates,
    SpSettings,
    JitRole,
    AllowUnsolicited,
    AllowSha1,
    ClockSkewSeconds,
    ConfigVersion,
    ConfigurationChangedAt,
    LastSuccessfulLoginAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum JitDefaultProjects {
    Table,
    ConnectionId,
    ProjectId,
}

#[derive(DeriveIden)]
enum AuthnRequests {
    Table,
    Id,
    ConnectionId,
    RelayState,
    ReturnTarget,
    CreatedAt,
    ExpiresAt,
    ConsumedAt,
}

#[derive(DeriveIden)]
enum ConsumedAssertions {
    Table,
    ConnectionId,
    AssertionId,
    ConsumedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    OrgId,
    OccurredAt,
    Kind,
    Outcome,
    Reason,
    Actor,
    Detail,
}

/// An auto-increment 64-bit primary key (`bigserial` on PostgreSQL, the rowid on SQLite).
fn id(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

/// A 64-bit reference to another table's `id`.
fn reference(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().to_owned()
}

/// A UTC instant (`timestamp` without time zone; every value written is UTC).
fn instant(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).timestamp().not_null().to_owned()
}

fn optional_instant(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).timestamp().null().to_owned()
}

fn string(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).string().not_null().to_owned()
}

fn flag(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .boolean()
        .not_null()
        .default(false)
        .to_owned()
}

/// A foreign key that deletes the row with its parent.
fn cascade(
    name: &str,
    from: (impl IntoIden + 'static, impl IntoIden + 'static),
    to: (impl IntoIden + 'static, impl IntoIden + 'static),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

// The trait is declared with `&SchemaManager` (an elided lifetime); spelling it `<'_>` here makes
// async-trait bind it differently from the declaration.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Organizations::Table)
                    .col(id(Organizations::Id))
                    .col(string(Organizations::Name))
                    .col(string(Organizations::Plan))
                    .col(flag(Organizations::RequireSso))
                    .col(optional_instant(Organizations::RequireSsoChangedAt))
                    .col(instant(Organizations::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(VerifiedDomains::Table)
                    .col(id(VerifiedDomains::Id))
                    .col(reference(VerifiedDomains::OrgId))
                    .col(string(VerifiedDomains::Domain))
                    .col(instant(VerifiedDomains::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_verified_domains_org",
                        (VerifiedDomains::Table, VerifiedDomains::OrgId),
                        (Organizations::Table, Organizations::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // One organization per domain: what keeps one org's IdP from minting another's people.
        manager
            .create_index(
                Index::create()
                    .name("ux_verified_domains_domain")
                    .table(VerifiedDomains::Table)
                    .col(VerifiedDomains::Domain)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_verified_domains_org")
                    .table(VerifiedDomains::Table)
                    .col(VerifiedDomains::OrgId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(id(Users::Id))
                    .col(string(Users::Email))
                    .col(instant(Users::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_users_email")
                    .table(Users::Table)
                    .col(Users::Email)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Memberships::Table)
                    .col(reference(Memberships::OrgId))
                    .col(reference(Memberships::UserId))
                    .col(string(Memberships::Role))
                    .col(string(Memberships::CreatedBy))
                    .col(instant(Memberships::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(Memberships::OrgId)
                            .col(Memberships::UserId),
                    )
                    .foreign_key(&mut cascade(
                        "fk_memberships_org",
                        (Memberships::Table, Memberships::OrgId),
                        (Organizations::Table, Organizations::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_memberships_user",
                        (Memberships::Table, Memberships::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_memberships_user")
                    .table(Memberships::Table)
                    .col(Memberships::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Projects::Table)
                    .col(id(Projects::Id))
                    .col(reference(Projects::OrgId))
                    .col(string(Projects::Name))
                    .col(instant(Projects::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_projects_org",
                        (Projects::Table, Projects::OrgId),
                        (Organizations::Table, Organizations::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_projects_org_name")
                    .table(Projects::Table)
                    .col(Projects::OrgId)
                    .col(Projects::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProjectAccess::Table)
                    .col(reference(ProjectAccess::ProjectId))
                    .col(reference(ProjectAccess::UserId))
                    .col(string(ProjectAccess::CreatedBy))
                    .col(instant(ProjectAccess::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(ProjectAccess::ProjectId)
                            .col(ProjectAccess::UserId),
                    )
                    .foreign_key(&mut cascade(
                        "fk_project_access_project",
                        (ProjectAccess::Table, ProjectAccess::ProjectId),
                        (Projects::Table, Projects::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_project_access_user",
                        (ProjectAccess::Table, ProjectAccess::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_project_access_user")
                    .table(ProjectAccess::Table)
                    .col(ProjectAccess::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SsoConnections::Table)
                    .col(id(SsoConnections::Id))
                    .col(reference(SsoConnections::OrgId))
                    .col(flag(SsoConnections::Enabled))
                    .col(ColumnDef::new(SsoConnections::IdpMetadataXml).text().null())
                    .col(ColumnDef::new(SsoConnections::IdpMetadataUrl).text().null())
                    .col(
                        ColumnDef::new(SsoConnections::IdpEntityId)
                            .text()
                            .not_null(),
                    )
                    .col(ColumnDef::new(SsoConnections::IdpSsoUrl).text().null())
                    .col(
                        ColumnDef::new(SsoConnections::IdpCertificates)
                            .json()
                            .not_null(),
                    )
                    .col(ColumnDef::new(SsoConnections::SpSettings).json().not_null())
                    .col(ColumnDef::new(SsoConnections::JitRole).string().null())
                    .col(flag(SsoConnections::AllowUnsolicited))
                    .col(flag(SsoConnections::AllowSha1))
                    .col(
                        ColumnDef::new(SsoConnections::ClockSkewSeconds)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(SsoConnections::ConfigVersion)
                            .big_integer()
                            .not_null(),
                    )
                    .col(instant(SsoConnections::ConfigurationChangedAt))
                    .col(optional_instant(SsoConnections::LastSuccessfulLoginAt))
                    .col(instant(SsoConnections::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_sso_connections_org",
                        (SsoConnections::Table, SsoConnections::OrgId),
                        (Organizations::Table, Organizations::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // One current connection per organization.
        manager
            .create_index(
                Index::create()
                    .name("ux_sso_connections_org")
                    .table(SsoConnections::Table)
                    .col(SsoConnections::OrgId)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(JitDefaultProjects::Table)
                    .col(reference(JitDefaultProjects::ConnectionId))
                    .col(reference(JitDefaultProjects::ProjectId))
                    .primary_key(
                        Index::create()
                            .col(JitDefaultProjects::ConnectionId)
                            .col(JitDefaultProjects::ProjectId),
                    )
                    .foreign_key(&mut cascade(
                        "fk_jit_default_projects_connection",
                        (JitDefaultProjects::Table, JitDefaultProjects::ConnectionId),
                        (SsoConnections::Table, SsoConnections::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_jit_default_projects_project",
                        (JitDefaultProjects::Table, JitDefaultProjects::ProjectId),
                        (Projects::Table, Projects::Id),
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuthnRequests::Table)
                    .col(
                        ColumnDef::new(AuthnRequests::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(reference(AuthnRequests::ConnectionId))
                    .col(string(AuthnRequests::RelayState))
                    .col(ColumnDef::new(AuthnRequests::ReturnTarget).text().null())
                    .col(instant(AuthnRequests::CreatedAt))
                    .col(instant(AuthnRequests::ExpiresAt))
                    .col(optional_instant(AuthnRequests::ConsumedAt))
                    .foreign_key(&mut cascade(
                        "fk_authn_requests_connection",
                        (AuthnRequests::Table, AuthnRequests::ConnectionId),
                        (SsoConnections::Table, SsoConnections::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_authn_requests_relay_state")
                    .table(AuthnRequests::Table)
                    .col(AuthnRequests::RelayState)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_authn_requests_expires_at")
                    .table(AuthnRequests::Table)
                    .col(AuthnRequests::ExpiresAt)
                    .to_owned(),
            )
            .await?;

        // The replay cache: the primary key is what refuses a second use, on any server.
        manager
            .create_table(
                Table::create()
                    .table(ConsumedAssertions::Table)
                    .col(reference(ConsumedAssertions::ConnectionId))
                    .col(string(ConsumedAssertions::AssertionId))
                    .col(instant(ConsumedAssertions::ConsumedAt))
                    .col(instant(ConsumedAssertions::ExpiresAt))
                    .primary_key(
                        Index::create()
                            .col(ConsumedAssertions::ConnectionId)
                            .col(ConsumedAssertions::AssertionId),
                    )
                    .foreign_key(&mut cascade(
                        "fk_consumed_assertions_connection",
                        (ConsumedAssertions::Table, ConsumedAssertions::ConnectionId),
                        (SsoConnections::Table, SsoConnections::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_consumed_assertions_expires_at")
                    .table(ConsumedAssertions::Table)
                    .col(ConsumedAssertions::ExpiresAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(id(AuditEvents::Id))
                    .col(reference(AuditEvents::OrgId))
                    .col(instant(AuditEvents::OccurredAt))
                    .col(string(AuditEvents::Kind))
                    .col(string(AuditEvents::Outcome))
                    .col(string(AuditEvents::Reason))
                    .col(ColumnDef::new(AuditEvents::Actor).string().null())
                    .col(ColumnDef::new(AuditEvents::Detail).json().not_null())
                    .foreign_key(&mut cascade(
                        "fk_audit_events_org",
                        (AuditEvents::Table, AuditEvents::OrgId),
                        (Organizations::Table, Organizations::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // The admin listing: one organization, newest first, keyset-paged on (time, id).
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_events_org_time")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::OrgId)
                    .col(AuditEvents::OccurredAt)
                    .col(AuditEvents::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Children before parents.
        for table in [
            AuditEvents::Table.into_iden(),
            ConsumedAssertions::Table.into_iden(),
            AuthnRequests::Table.into_iden(),
            JitDefaultProjects::Table.into_iden(),
            SsoConnections::Table.into_iden(),
            ProjectAccess::Table.into_iden(),
            Projects::Table.into_iden(),
            Memberships::Table.into_iden(),
            Users::Table.into_iden(),
            VerifiedDomains::Table.into_iden(),
            Organizations::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
