//! The org's SSO connection: IdP metadata imported as XML, validation options, on/off, JIT
//! settings, and require-SSO with its lockout protection and the operator's break-glass.

use serde_json::json;
use sso_assertion::DEFAULT_CLOCK_SKEW;
use sso_policy::{
    BreakGlass, JitChange, JitSettings, RequireSsoChange, Role, break_glass, set_jit,
    set_require_sso,
};
use sso_store::{ConnectionRecord, MAX_BATCH, OrgId, OrgRecord, ProjectId, StoreError};
use time::{Duration, OffsetDateTime};

use super::idp_change::store_idp;
use super::{
    Audited, certificate_details, idp_config, kinds, metadata_sha256, metadata_warnings,
    pinned_certificate, read_metadata, trust_details, with,
};
use crate::error::AdminError;
use crate::login::Provisioner;

/// A connection after its IdP metadata was imported, with what the admin should know.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportedMetadata {
    /// The connection as stored (a new one starts disabled).
    pub connection: ConnectionRecord,
    /// What was skipped in the metadata, and certificates expiring within 30 days.
    pub warnings: Vec<String>,
}

/// The validation options an admin sets on a connection. The other stored options (the SP
/// settings) are kept as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidationOptions {
    /// Accept IdP-initiated responses (no `InResponseTo`).
    pub allow_unsolicited: bool,
    /// Accept SHA-1 signatures and digests.
    pub allow_sha1: bool,
    /// Allowed clock difference for the time checks, whole seconds up to [`MAX_CLOCK_SKEW`].
    ///
    /// [`MAX_CLOCK_SKEW`]: sso_store::MAX_CLOCK_SKEW
    pub clock_skew: Duration,
}

impl Default for ValidationOptions {
    /// Both opt-ins off, the validator's default clock skew.
    fn default() -> Self {
        Self {
            allow_unsolicited: false,
            allow_sha1: false,
            clock_skew: DEFAULT_CLOCK_SKEW,
        }
    }
}

impl Provisioner {
    /// Imports IdP metadata (XML) into the org's connection: creates it (disabled, JIT off) or
    /// replaces its IdP configuration, which bumps the configuration version and forgets the
    /// last successful login (so require-SSO needs a new successful login first). Metadata
    /// with the same entity ID, signing certificates (as a set) and SSO endpoints as the
    /// connection has is no configuration change: the document is kept, the version and the
    /// proof stay, and the audit event says `unchanged`.
    pub async fn import_idp_metadata(
        &self,
        actor: &str,
        org: OrgId,
        metadata_xml: &[u8],
        now: OffsetDateTime,
    ) -> Result<ImportedMetadata, AdminError> {
        self.import_idp_metadata_for_entity(actor, org, metadata_xml, None, now)
            .await
    }

    /// [`import_idp_metadata`](Self::import_idp_metadata) of the IdP `entity_id` out of
    /// metadata that may describe several (an `EntitiesDescriptor` aggregate, as federations
    /// and some IdPs publish); `None` requires the document to describe exactly one IdP.
    pub async fn import_idp_metadata_for_entity(
        &self,
        actor: &str,
        org: OrgId,
        metadata_xml: &[u8],
        entity_id: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<ImportedMetadata, AdminError> {
        self.import_idp_metadata_pinned(actor, org, metadata_xml, entity_id, None, now)
            .await
    }

    /// [`import_idp_metadata_for_entity`](Self::import_idp_metadata_for_entity) that, given a
    /// metadata signing certificate (PEM or base64 DER), first verifies the signature on the
    /// document's root element with it and nothing else (`metadata-unsigned`,
    /// `metadata-signature-invalid`, `metadata-untrusted-key`). Metadata past its `validUntil`
    /// is refused either way (`metadata-expired`).
    pub async fn import_idp_metadata_pinned(
        &self,
        actor: &str,
        org: OrgId,
        metadata_xml: &[u8],
        entity_id: Option<&str>,
        signing_certificate: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<ImportedMetadata, AdminError> {
        let parsed = pinned_certificate(signing_certificate)
            .and_then(|pin| read_metadata(metadata_xml, entity_id, pin.as_ref(), now));
        self.audited(
            Some(org),
            kinds::METADATA_IMPORTED,
            actor,
            now,
            async |tx| {
                let metadata = parsed.map_err(|e| (e, json!({})))?;
                let warnings = metadata_warnings(&metadata, now);
                let idp = idp_config(&metadata, metadata_xml, None);
                let (connection, stored) = store_idp(tx, org, &metadata, &idp, now)
                    .await
                    .map_err(|e| (e.into(), json!({ "entity_id": idp.entity_id })))?;
                let detail = json!({
                    "entity_id": idp.entity_id,
                    "sso_url": idp.sso_url,
                    "certificates": certificate_details(&metadata),
                    "config_version": connection.config_version,
                    "warnings": warnings,
                    "metadata_sha256": metadata_sha256(metadata_xml),
                    "trust": trust_details(&metadata),
                });
                let reason = stored.reason();
                let imported = ImportedMetadata {
                    connection,
                    warnings,
                };
                Ok(Audited::new(imported, org, reason, detail))
            },
        )
        .await
    }

    /// Sets the connection's validation options (IdP-initiated logins, SHA-1, clock skew),
    /// keeping the rest of its stored options, in one transaction; a configuration change
    /// when anything differs.
    pub async fn set_connection_options(
        &self,
        actor: &str,
        org: OrgId,
        options: &ValidationOptions,
        now: OffsetDateTime,
    ) -> Result<ConnectionRecord, AdminError> {
        let wanted = json!({
            "allow_unsolicited": options.allow_unsolicited,
            "allow_sha1": options.allow_sha1,
            "clock_skew_seconds": options.clock_skew.whole_seconds(),
        });
        self.audited(
            Some(org),
            kinds::CONNECTION_OPTIONS,
            actor,
            now,
            async |tx| {
                let fail = |e: StoreError| (AdminError::from(e), wanted.clone());
                let current = tx.org_snapshot(org).await.map_err(fail)?;
                let mut stored = current.connection.map(|c| c.options).unwrap_or_default();
                stored.allow_unsolicited = options.allow_unsolicited;
                stored.allow_sha1 = options.allow_sha1;
                stored.clock_skew = options.clock_skew;
                let connection = tx
                    .set_connection_options(org, &stored, now)
                    .await
                    .map_err(fail)?;
                let detail = with(
                    wanted.clone(),
                    "config_version",
                    json!(connection.config_version),
                );
                Ok(Audited::new(connection, org, "options-set", detail))
            },
        )
        .await
    }

    /// Switches the org's connection on or off (not a configuration change).
    pub async fn set_connection_enabled(
        &self,
        actor: &str,
        org: OrgId,
        enabled: bool,
        now: OffsetDateTime,
    ) -> Result<ConnectionRecord, AdminError> {
        self.audited(
            Some(org),
            kinds::CONNECTION_ENABLED,
            actor,
            now,
            async |tx| {
                let connection = tx
                    .set_connection_enabled(org, enabled)
                    .await
                    .map_err(|e| (e.into(), json!({ "enabled": enabled })))?;
                let reason = if enabled { "enabled" } else { "disabled" };
                let detail = json!({ "enabled": enabled });
                Ok(Audited::new(connection, org, reason, detail))
            },
        )
        .await
    }

    /// Sets the JIT role (`None`: JIT off) and default projects, named by the host product's
    /// ids. Adding default projects needs a plan with project permissions (Enterprise):
    /// `plan-without-default-projects`; a project the org does not have is `not-found`,
    /// naming it.
    pub async fn set_jit(
        &self,
        actor: &str,
        org: OrgId,
        role: Option<Role>,
        default_projects: &[ProjectId],
        now: OffsetDateTime,
    ) -> Result<(ConnectionRecord, JitChange), AdminError> {
        let wanted = json!({
            "role": role.map(Role::code),
            "default_projects": default_projects.iter().map(ProjectId::as_str).collect::<Vec<_>>(),
        });
        self.audited(Some(org), kinds::JIT_CHANGED, actor, now, async |tx| {
            let fail = |e: AdminError| (e, wanted.clone());
            if default_projects.len() > MAX_BATCH {
                return Err(fail(AdminError::Store(StoreError::InvalidInput {
                    what: "default projects",
                    detail: format!("{}; at most {MAX_BATCH}", default_projects.len()),
                })));
            }
            // Serializes with project removals, which refuse a default project.
            let org_record = tx.lock_org(org).await.map_err(|e| fail(e.into()))?;
            let current = tx
                .connection_for_org(org)
                .await
                .map_err(|e| fail(e.into()))?;
            let new = JitSettings {
                default_role: role,
                default_projects: default_projects.to_vec(),
            };
            let change = set_jit(org_record.plan, &current.jit(), &new)
                .map_err(|r| fail(AdminError::Jit(r)))?;
            let found = tx
                .projects_by_id(org, default_projects)
                .await
                .map_err(|e| fail(e.into()))?;
            if let Some((index, missing)) = default_projects
                .iter()
                .enumerate()
                .find(|(_, p)| !found.iter().any(|f| f.id == **p))
            {
                let error = AdminError::unknown_project("default_project_ids", index, missing);
                return Err(fail(error));
            }
            let connection = tx
                .set_jit(org, role, default_projects)
                .await
                .map_err(|e| fail(e.into()))?;
            let reason = change.reason();
            Ok(Audited::new(
                (connection, change),
                org,
                reason,
                wanted.clone(),
            ))
        })
        .await
    }

    /// Turns require-SSO on or off. On needs SSO in effect and a successful SSO login with the
    /// current connection configuration (lockout protection): `no-sso-login-since-change`.
    pub async fn set_require_sso(
        &self,
        actor: &str,
        org: OrgId,
        on: bool,
        now: OffsetDateTime,
    ) -> Result<(OrgRecord, RequireSsoChange), AdminError> {
        self.audited(Some(org), kinds::REQUIRE_SSO, actor, now, async |tx| {
            let fail = |e: StoreError| (AdminError::from(e), json!({ "on": on }));
            let snapshot = tx.org_snapshot(org).await.map_err(fail)?;
            let connection = snapshot.connection.as_ref().map(|c| {
                json!({
                    "config_version": c.config_version,
                    "last_successful_login_at": c.last_successful_login_at.map(|t| t.to_string()),
                    "configuration_changed_at": c.configuration_changed_at.to_string(),
                })
            });
            let detail = json!({ "on": on, "connection": connection });
            let change = set_require_sso(&snapshot.policy(), on)
                .map_err(|r| (AdminError::RequireSso(r), detail.clone()))?;
            let record = tx.set_require_sso(org, on, now).await.map_err(fail)?;
            Ok(Audited::new((record, change), org, change.reason(), detail))
        })
        .await
    }

    /// The service operator's break-glass: lifts require-SSO for one org whatever its plan or
    /// connection, with a justification recorded in the audit log (refused without one:
    /// `missing-justification`).
    pub async fn break_glass(
        &self,
        operator: &str,
        org: OrgId,
        justification: &str,
        now: OffsetDateTime,
    ) -> Result<(OrgRecord, BreakGlass), AdminError> {
        let detail = json!({ "justification": justification });
        self.audited(Some(org), kinds::BREAK_GLASS, operator, now, async |tx| {
            let fail = |e: StoreError| (AdminError::from(e), detail.clone());
            let record = tx.org(org).await.map_err(fail)?;
            let snapshot = sso_policy::Org::<ProjectId> {
                plan: record.plan,
                connection: None,
                require_sso: record.require_sso,
                jit: JitSettings::off(),
                verified_domains: Vec::new(),
            };
            let decision = break_glass(&snapshot, justification)
                .map_err(|r| (AdminError::BreakGlass(r), detail.clone()))?;
            let record = match decision {
                BreakGlass::Lift => tx.set_require_sso(org, false, now).await.map_err(fail)?,
                _ => record,
            };
            let reason = decision.reason();
            Ok(Audited::new(
                (record, decision),
                org,
                reason,
                detail.clone(),
            ))
        })
        .await
    }
}
