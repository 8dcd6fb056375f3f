//! SSO connections: the IdP configuration, validation options and JIT settings of an
//! organization, with the configuration version that lockout protection relies on.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect,
    UpdateMany,
};
use serde_json::Value;
use sso_policy::{GroupRoles, GroupRule, JitSettings, Role};
use time::{Duration, OffsetDateTime, PrimitiveDateTime};

use crate::entity::{jit_default_project, project, sso_connection};
use crate::error::StoreError;
use crate::ids::{ConnectionId, OrgId, ProjectId};
use crate::instant::{from_db, to_db};
use crate::orgs::role_from_code;
use crate::store::Store;

/// The largest clock skew a connection may allow.
pub const MAX_CLOCK_SKEW: Duration = Duration::hours(1);

/// What an admin imported about the IdP: the document and what was read from it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdpConfig {
    /// The IdP's entity ID.
    pub entity_id: String,
    /// Its SingleSignOnService URL for HTTP-Redirect; `None` when it only starts logins itself.
    pub sso_url: Option<String>,
    /// The trusted signing certificates, PEM. At least one; several during a rollover.
    pub certificates: Vec<String>,
    /// The metadata XML as imported, kept so admins can see what was read.
    pub metadata_xml: Option<String>,
    /// The URL the metadata came from, when the admin gave a URL.
    pub metadata_url: Option<String>,
}

/// How responses on a connection are validated. Changing any of these is a configuration
/// change (it can stop logins from working), so it bumps the configuration version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionOptions {
    /// Service-provider settings, a JSON object whose fields belong to the layers above.
    pub sp_settings: Value,
    /// Accept IdP-initiated responses (no `InResponseTo`). Off by default.
    pub allow_unsolicited: bool,
    /// Accept SHA-1 signatures and digests. Off by default.
    pub allow_sha1: bool,
    /// Allowed clock difference for the time checks, whole seconds from 0 to one hour.
    pub clock_skew: Duration,
}

impl Default for ConnectionOptions {
    /// No SP settings, both opt-ins off, the validator's default clock skew
    /// ([`sso_assertion::DEFAULT_CLOCK_SKEW`]).
    fn default() -> Self {
        Self {
            sp_settings: Value::Object(serde_json::Map::new()),
            allow_unsolicited: false,
            allow_sha1: false,
            clock_skew: sso_assertion::DEFAULT_CLOCK_SKEW,
        }
    }
}

/// An SSO connection as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionRecord {
    /// Its id.
    pub id: ConnectionId,
    /// The organization it belongs to (one connection per organization).
    pub org: OrgId,
    /// Whether admins have it switched on. A new connection starts off.
    pub enabled: bool,
    /// The IdP configuration.
    pub idp: IdpConfig,
    /// Validation options.
    pub options: ConnectionOptions,
    /// The role given to members created just in time; `None` when JIT is off.
    pub jit_role: Option<Role>,
    /// Projects given to members created just in time (applied on Enterprise only), by the
    /// host product's id (byte order).
    pub jit_default_projects: Vec<ProjectId>,
    /// The group rules (directory-driven roles), their groups attribute and when they apply.
    pub group_roles: GroupRoles<ProjectId>,
    /// 1 at creation, plus one per configuration change.
    pub config_version: i64,
    /// When the configuration last changed.
    pub configuration_changed_at: OffsetDateTime,
    /// When a login last succeeded with the current configuration.
    pub last_successful_login_at: Option<OffsetDateTime>,
    /// When the connection was created.
    pub created_at: OffsetDateTime,
}

impl ConnectionRecord {
    /// The connection as `sso-policy` sees it.
    pub fn policy(&self) -> sso_policy::Connection {
        sso_policy::Connection {
            enabled: self.enabled,
            configuration_changed_at: self.configuration_changed_at,
            last_successful_login_at: self.last_successful_login_at,
        }
    }

    /// The JIT settings as `sso-policy` sees them.
    pub fn jit(&self) -> JitSettings<ProjectId> {
        JitSettings {
            default_role: self.jit_role,
            default_projects: self.jit_default_projects.clone(),
        }
    }

    pub(crate) fn from_model(
        m: sso_connection::Model,
        jit_default_projects: Vec<ProjectId>,
    ) -> Result<Self, StoreError> {
        let group_roles = GroupRoles {
            attribute: m.groups_attribute,
            rules: match m.group_rules {
                Some(json) => group_rules_from_json(json)?,
                None => Vec::new(),
            },
            apply_on_every_login: m.group_rules_every_login,
        };
        Ok(Self {
            id: ConnectionId::new(m.id),
            org: OrgId::new(m.org_id),
            enabled: m.enabled,
            idp: IdpConfig {
                entity_id: m.idp_entity_id,
                sso_url: m.idp_sso_url,
                certificates: certificates_from_json(m.idp_certificates)?,
                metadata_xml: m.idp_metadata_xml,
                metadata_url: m.idp_metadata_url,
            },
            options: ConnectionOptions {
                sp_settings: m.sp_settings,
                allow_unsolicited: m.allow_unsolicited,
                allow_sha1: m.allow_sha1,
                clock_skew: Duration::seconds(m.clock_skew_seconds),
            },
            jit_role: m.jit_role.as_deref().map(role_from_code).transpose()?,
            jit_default_projects,
            group_roles,
            config_version: m.config_version,
            configuration_changed_at: from_db(m.configuration_changed_at),
            last_successful_login_at: m.last_successful_login_at.map(from_db),
            created_at: from_db(m.created_at),
        })
    }
}

fn certificates_from_json(value: Value) -> Result<Vec<String>, StoreError> {
    let Value::Array(items) = value else {
        return Err(StoreError::corrupt("IdP certificates", "not a JSON array"));
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::String(pem) => Ok(pem),
            _ => Err(StoreError::corrupt("IdP certificates", "not a string")),
        })
        .collect()
}

/// Group rules as stored: `[{"group": "...", "role": "admin", "projects": ["..."]}]`.
fn group_rules_to_json(rules: &[GroupRule<ProjectId>]) -> Value {
    rules
        .iter()
        .map(|rule| {
            serde_json::json!({
                "group": rule.group,
                "role": rule.role.code(),
                "projects": rule.projects.iter().map(ProjectId::as_str).collect::<Vec<_>>(),
            })
        })
        .collect()
}

fn group_rules_from_json(value: Value) -> Result<Vec<GroupRule<ProjectId>>, StoreError> {
    let corrupt = |detail: &str| StoreError::corrupt("group rules", detail.to_owned());
    let Value::Array(items) = value else {
        return Err(corrupt("not a JSON array"));
    };
    items
        .into_iter()
        .map(|item| {
            let group = item.get("group").and_then(Value::as_str);
            let role = item.get("role").and_then(Value::as_str);
            let projects = item.get("projects").and_then(Value::as_array);
            let (Some(group), Some(role), Some(projects)) = (group, role, projects) else {
                return Err(corrupt("a rule without group, role or projects"));
            };
            let projects = projects
                .iter()
                .map(|p| {
                    p.as_str()
                        .and_then(|p| ProjectId::parse(p).ok())
                        .ok_or_else(|| corrupt("a project id that does not read"))
                })
                .collect::<Result<_, _>>()?;
            Ok(GroupRule {
                group: group.to_owned(),
                role: role_from_code(role)?,
                projects,
            })
        })
        .collect()
}

fn check_idp(idp: &IdpConfig) -> Result<(), StoreError> {
    if idp.entity_id.trim().is_empty() {
        return Err(StoreError::invalid("IdP entity ID", "empty"));
    }
    if idp.certificates.iter().all(|pem| pem.trim().is_empty()) {
        return Err(StoreError::invalid(
            "IdP certificates",
            "at least one signing certificate is needed",
        ));
    }
    Ok(())
}

fn clock_skew_seconds(options: &ConnectionOptions) -> Result<i64, StoreError> {
    let skew = options.clock_skew;
    if skew.is_negative() || skew > MAX_CLOCK_SKEW || skew.subsec_nanoseconds() != 0 {
        return Err(StoreError::invalid(
            "clock skew",
            format!("{skew} is not whole seconds from 0 to 1 hour"),
        ));
    }
    Ok(skew.whole_seconds())
}

impl<C: ConnectionTrait> Store<C> {
    /// Creates the organization's connection from imported IdP metadata, or replaces the IdP
    /// configuration of the existing one. A replacement is a configuration change: the version
    /// goes up by one, `configuration_changed_at` becomes `now` and the last successful login
    /// is forgotten, so require-SSO cannot be turned on again before the new configuration has
    /// worked once. A new connection starts disabled, with default options and JIT off.
    pub async fn import_idp_metadata(
        &self,
        org: OrgId,
        idp: &IdpConfig,
        now: OffsetDateTime,
    ) -> Result<ConnectionRecord, StoreError> {
        check_idp(idp)?;
        let now = to_db(now)?;
        let certificates = Value::Array(
            idp.certificates
                .iter()
                .map(|pem| Value::String(pem.clone()))
                .collect(),
        );
        let existing = sso_connection::Entity::find()
            .select_only()
            .column(sso_connection::Column::Id)
            .filter(sso_connection::Column::OrgId.eq(org.get()))
            .into_tuple::<i64>()
            .one(&self.conn)
            .await?;
        let Some(id) = existing else {
            let defaults = ConnectionOptions::default();
            sso_connection::Entity::insert(sso_connection::ActiveModel {
                id: NotSet,
                org_id: Set(org.get()),
                enabled: Set(false),
                idp_metadata_xml: Set(idp.metadata_xml.clone()),
                idp_metadata_url: Set(idp.metadata_url.clone()),
                idp_entity_id: Set(idp.entity_id.clone()),
                idp_sso_url: Set(idp.sso_url.clone()),
                idp_certificates: Set(certificates),
                sp_settings: Set(defaults.sp_settings.clone()),
                jit_role: Set(None),
                allow_unsolicited: Set(defaults.allow_unsolicited),
                allow_sha1: Set(defaults.allow_sha1),
                clock_skew_seconds: Set(clock_skew_seconds(&defaults)?),
                config_version: Set(1),
                configuration_changed_at: Set(now),
                last_successful_login_at: Set(None),
                created_at: Set(now),
                ..Default::default()
            })
            .exec(&self.conn)
            .await
            .map_err(StoreError::on_write("sso connection", "organization"))?;
            return self.connection_for_org(org).await;
        };
        let update = sso_connection::Entity::update_many()
            .col_expr(
                sso_connection::Column::IdpMetadataXml,
                Expr::value(idp.metadata_xml.clone()),
            )
            .col_expr(
                sso_connection::Column::IdpMetadataUrl,
                Expr::value(idp.metadata_url.clone()),
            )
            .col_expr(
                sso_connection::Column::IdpEntityId,
                Expr::value(idp.entity_id.clone()),
            )
            .col_expr(
                sso_connection::Column::IdpSsoUrl,
                Expr::value(idp.sso_url.clone()),
            )
            .col_expr(
                sso_connection::Column::IdpCertificates,
                Expr::value(certificates),
            )
            .filter(sso_connection::Column::Id.eq(id));
        configuration_changed(update, now).exec(&self.conn).await?;
        self.connection_for_org(org).await
    }

    /// Stores a new reading of the IdP's metadata that says what the connection already has
    /// (the caller compared entity, certificates and endpoints): the document, its URL and the
    /// certificates as now published are kept, and the configuration version and the proof
    /// of a working configuration are not touched. Only if the configuration is still
    /// `expected_version`: `conflict` when it changed in between, so a concurrent real change
    /// is never overwritten with a document that no longer matches it.
    pub async fn keep_idp_configuration(
        &self,
        org: OrgId,
        expected_version: i64,
        idp: &IdpConfig,
    ) -> Result<ConnectionRecord, StoreError> {
        check_idp(idp)?;
        let certificates = Value::Array(
            idp.certificates
                .iter()
                .map(|pem| Value::String(pem.clone()))
                .collect(),
        );
        let updated = sso_connection::Entity::update_many()
            .col_expr(
                sso_connection::Column::IdpMetadataXml,
                Expr::value(idp.metadata_xml.clone()),
            )
            .col_expr(
                sso_connection::Column::IdpMetadataUrl,
                Expr::value(idp.metadata_url.clone()),
            )
            .col_expr(
                sso_connection::Column::IdpCertificates,
                Expr::value(certificates),
            )
            .filter(sso_connection::Column::OrgId.eq(org.get()))
            .filter(sso_connection::Column::ConfigVersion.eq(expected_version))
            .exec(&self.conn)
            .await?;
        if updated.rows_affected == 0 {
            self.connection_for_org(org).await?;
            return Err(StoreError::Conflict {
                what: "connection configuration (it changed meanwhile)",
            });
        }
        self.connection_for_org(org).await
    }

    /// Switches the organization's connection on or off. Not a configuration change.
    pub async fn set_connection_enabled(
        &self,
        org: OrgId,
        enabled: bool,
    ) -> Result<ConnectionRecord, StoreError> {
        let updated = sso_connection::Entity::update_many()
            .col_expr(sso_connection::Column::Enabled, Expr::value(enabled))
            .filter(sso_connection::Column::OrgId.eq(org.get()))
            .exec(&self.conn)
            .await?;
        if updated.rows_affected == 0 {
            return Err(StoreError::not_found("sso connection"));
        }
        self.connection_for_org(org).await
    }

    /// Sets the validation options; a configuration change (see
    /// [`import_idp_metadata`](Self::import_idp_metadata)) when anything differs, nothing
    /// otherwise.
    pub async fn set_connection_options(
        &self,
        org: OrgId,
        options: &ConnectionOptions,
        now: OffsetDateTime,
    ) -> Result<ConnectionRecord, StoreError> {
        let skew = clock_skew_seconds(options)?;
        let now = to_db(now)?;
        let current = self.connection_for_org(org).await?;
        if current.options == *options {
            return Ok(current);
        }
        let update = sso_connection::Entity::update_many()
            .col_expr(
                sso_connection::Column::SpSettings,
                Expr::value(options.sp_settings.clone()),
            )
            .col_expr(
                sso_connection::Column::AllowUnsolicited,
                Expr::value(options.allow_unsolicited),
            )
            .col_expr(
                sso_connection::Column::AllowSha1,
                Expr::value(options.allow_sha1),
            )
            .col_expr(sso_connection::Column::ClockSkewSeconds, Expr::value(skew))
            .filter(sso_connection::Column::Id.eq(current.id.get()));
        configuration_changed(update, now).exec(&self.conn).await?;
        self.connection_for_org(org).await
    }

    /// Sets the JIT role (`None` turns JIT off) and default projects, which must belong to the
    /// organization. Whether the plan allows default projects is `sso_policy::set_jit`, decided
    /// by the caller. Not a configuration change.
    pub async fn set_jit(
        &self,
        org: OrgId,
        role: Option<Role>,
        default_projects: &[ProjectId],
    ) -> Result<ConnectionRecord, StoreError> {
        let projects = self.project_keys_strict(org, default_projects).await?;
        let connection = self.connection_for_org(org).await?;
        sso_connection::Entity::update_many()
            .col_expr(
                sso_connection::Column::JitRole,
                Expr::value(role.map(|r| r.code().to_owned())),
            )
            .filter(sso_connection::Column::Id.eq(connection.id.get()))
            .exec(&self.conn)
            .await?;
        jit_default_project::Entity::delete_many()
            .filter(jit_default_project::Column::ConnectionId.eq(connection.id.get()))
            .exec(&self.conn)
            .await?;
        if !projects.is_empty() {
            let rows = projects
                .iter()
                .map(|project| jit_default_project::ActiveModel {
                    connection_id: Set(connection.id.get()),
                    project_id: Set(*project),
                });
            jit_default_project::Entity::insert_many(rows)
                .exec_without_returning(&self.conn)
                .await
                .map_err(StoreError::on_write("default project", "project"))?;
        }
        self.connection_for_org(org).await
    }

    /// Replaces the group rules, their groups attribute and whether they apply on every
    /// login. Whether they are allowed (limits, the plan for projects) is
    /// `sso_policy::check_group_roles`, decided by the caller; projects are the host product's
    /// ids, kept as given (a login grants only those the organization still has). Not a
    /// configuration change.
    pub async fn set_group_roles(
        &self,
        org: OrgId,
        group_roles: &GroupRoles<ProjectId>,
    ) -> Result<ConnectionRecord, StoreError> {
        let rules =
            (!group_roles.rules.is_empty()).then(|| group_rules_to_json(&group_roles.rules));
        let updated = sso_connection::Entity::update_many()
            .col_expr(
                sso_connection::Column::GroupsAttribute,
                Expr::value(group_roles.attribute.clone()),
            )
            .col_expr(sso_connection::Column::GroupRules, Expr::value(rules))
            .col_expr(
                sso_connection::Column::GroupRulesEveryLogin,
                Expr::value(group_roles.apply_on_every_login),
            )
            .filter(sso_connection::Column::OrgId.eq(org.get()))
            .exec(&self.conn)
            .await?;
        if updated.rows_affected == 0 {
            return Err(StoreError::not_found("sso connection"));
        }
        self.connection_for_org(org).await
    }

    /// The organization's connection ([`StoreError::NotFound`] when it has none).
    pub async fn connection_for_org(&self, org: OrgId) -> Result<ConnectionRecord, StoreError> {
        self.find_connection_for_org(org)
            .await?
            .ok_or(StoreError::not_found("sso connection"))
    }

    /// The connection with this id.
    pub async fn connection_by_id(
        &self,
        connection: ConnectionId,
    ) -> Result<ConnectionRecord, StoreError> {
        let model = sso_connection::Entity::find_by_id(connection.get())
            .one(&self.conn)
            .await?
            .ok_or(StoreError::not_found("sso connection"))?;
        self.with_default_projects(model).await
    }

    /// Notes that a login succeeded with configuration `config_version` of the connection.
    /// Returns `false`, changing nothing, when the configuration has changed since (the login
    /// proved the old configuration, not the current one).
    pub async fn record_successful_login(
        &self,
        connection: ConnectionId,
        config_version: i64,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let updated = sso_connection::Entity::update_many()
            .col_expr(
                sso_connection::Column::LastSuccessfulLoginAt,
                Expr::value(to_db(now)?),
            )
            .filter(sso_connection::Column::Id.eq(connection.get()))
            .filter(sso_connection::Column::ConfigVersion.eq(config_version))
            .exec(&self.conn)
            .await?;
        Ok(updated.rows_affected > 0)
    }

    pub(crate) async fn find_connection_for_org(
        &self,
        org: OrgId,
    ) -> Result<Option<ConnectionRecord>, StoreError> {
        let model = sso_connection::Entity::find()
            .filter(sso_connection::Column::OrgId.eq(org.get()))
            .one(&self.conn)
            .await?;
        match model {
            Some(model) => Ok(Some(self.with_default_projects(model).await?)),
            None => Ok(None),
        }
    }

    async fn with_default_projects(
        &self,
        model: sso_connection::Model,
    ) -> Result<ConnectionRecord, StoreError> {
        let projects = jit_default_project::Entity::find()
            .select_only()
            .column_as(
                Expr::col((project::Entity, project::Column::ExternalId)),
                "external_id",
            )
            .join(
                JoinType::InnerJoin,
                jit_default_project::Entity::belongs_to(project::Entity)
                    .from(jit_default_project::Column::ProjectId)
                    .to(project::Column::Id)
                    .into(),
            )
            .filter(jit_default_project::Column::ConnectionId.eq(model.id))
            .order_by_asc(project::Column::ExternalId)
            .into_tuple::<String>()
            .all(&self.conn)
            .await?
            .iter()
            .map(|id| {
                ProjectId::parse(id).map_err(|e| StoreError::corrupt("project id", e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        ConnectionRecord::from_model(model, projects)
    }
}

/// Adds to `update` what makes it a configuration change: the version goes up by one (in the
/// statement, so two concurrent changes make two versions), the change time is `now`, and the
/// last successful login, which proved the previous configuration, is forgotten.
fn configuration_changed(
    update: UpdateMany<sso_connection::Entity>,
    now: PrimitiveDateTime,
) -> UpdateMany<sso_connection::Entity> {
    update
        .col_expr(
            sso_connection::Column::ConfigVersion,
            Expr::col(sso_connection::Column::ConfigVersion).add(1),
        )
        .col_expr(
            sso_connection::Column::ConfigurationChangedAt,
            Expr::value(now),
        )
        .col_expr(
            sso_connection::Column::LastSuccessfulLoginAt,
            Expr::value(Option::<PrimitiveDateTime>::None),
        )
}
