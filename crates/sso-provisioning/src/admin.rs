//! Admin and operator operations: each decided by `sso-policy` where a rule applies, and each
//! audited as an event, in the same transaction as the change.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sso_assertion::{Binding, IdpMetadata};
use sso_policy::{
    BreakGlass, JitChange, JitSettings, Plan, RequireSsoChange, Role, break_glass, set_jit,
    set_require_sso, sso_in_effect,
};
use sso_store::{
    ConnectionOptions, ConnectionRecord, EventOutcome, EventPage, EventQuery, IdpConfig, NewEvent,
    OrgId, OrgRecord, ProjectId, Transaction,
};
use time::OffsetDateTime;

use crate::error::AdminError;
use crate::login::Provisioner;

/// Event kinds of the admin operations.
pub mod kinds {
    /// An org was created.
    pub const ORG_CREATED: &str = "org-created";
    /// An org's plan changed.
    pub const PLAN_CHANGED: &str = "plan-changed";
    /// A verified domain was added.
    pub const DOMAIN_ADDED: &str = "domain-added";
    /// A verified domain was removed.
    pub const DOMAIN_REMOVED: &str = "domain-removed";
    /// IdP metadata was imported or replaced.
    pub const METADATA_IMPORTED: &str = "idp-metadata-imported";
    /// Validation options of the connection changed.
    pub const CONNECTION_OPTIONS: &str = "connection-options-changed";
    /// The connection was switched on or off.
    pub const CONNECTION_ENABLED: &str = "connection-enabled-changed";
    /// JIT settings changed.
    pub const JIT_CHANGED: &str = "jit-changed";
    /// Require-SSO was turned on or off (or refused).
    pub const REQUIRE_SSO: &str = "require-sso-changed";
    /// The operator's break-glass.
    pub const BREAK_GLASS: &str = "break-glass";
}

/// A connection after its IdP metadata was imported, with what the admin should know.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportedMetadata {
    /// The connection as stored (a new one starts disabled).
    pub connection: ConnectionRecord,
    /// What was skipped in the metadata, and certificates expiring within 30 days.
    pub warnings: Vec<String>,
}

fn pem(der_base64: &str) -> String {
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    let bytes = der_base64.as_bytes();
    for line in bytes.chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

impl Provisioner {
    /// Runs `change` in a transaction and records its event in the same transaction; when
    /// `change` fails, rolls back and records the refusal (or failure) on its own.
    async fn audited<T, F>(
        &self,
        org: Option<OrgId>,
        kind: &str,
        actor: &str,
        now: OffsetDateTime,
        change: F,
    ) -> Result<T, AdminError>
    where
        F: for<'t> AsyncFnOnce(
            &'t Transaction,
        )
            -> Result<(T, OrgId, &'static str, Value), (AdminError, Value)>,
    {
        let tx = self.store.begin().await?;
        match change(&tx).await {
            Ok((value, org, reason, detail)) => {
                let event = NewEvent::new(org, kind, EventOutcome::Success, reason)
                    .actor(actor)
                    .detail(detail);
                tx.record_event(&event, now).await?;
                tx.commit().await?;
                Ok(value)
            }
            Err((error, detail)) => {
                drop(tx.rollback().await);
                if let Some(org) = org {
                    let outcome = match error {
                        AdminError::Store(ref e) if e.reason() == "database" => {
                            EventOutcome::Failed
                        }
                        _ => EventOutcome::Refused,
                    };
                    let mut detail = detail;
                    if let Value::Object(map) = &mut detail {
                        map.insert("error".to_owned(), Value::String(error.to_string()));
                    }
                    let event = NewEvent::new(org, kind, outcome, error.reason())
                        .actor(actor)
                        .detail(detail);
                    if let Err(e) = self.store.record_event(&event, now).await {
                        tracing::warn!(org = org.get(), kind, "audit event not written: {e}");
                    }
                }
                Err(error)
            }
        }
    }

    /// Creates an org on `plan`.
    pub async fn create_org(
        &self,
        actor: &str,
        name: &str,
        plan: Plan,
        now: OffsetDateTime,
    ) -> Result<OrgRecord, AdminError> {
        self.audited(None, kinds::ORG_CREATED, actor, now, async |tx| {
            let org = tx
                .create_org(name, plan, now)
                .await
                .map_err(|e| (e.into(), json!({})))?;
            let detail = json!({ "name": org.name, "plan": plan.code() });
            Ok((org.clone(), org.id, "created", detail))
        })
        .await
    }

    /// Changes the plan. A downgrade below Growth turns SSO off (require-SSO stops applying,
    /// password login works again); nothing is deleted, so an upgrade restores everything.
    pub async fn set_plan(
        &self,
        actor: &str,
        org: OrgId,
        plan: Plan,
        now: OffsetDateTime,
    ) -> Result<OrgRecord, AdminError> {
        self.audited(Some(org), kinds::PLAN_CHANGED, actor, now, async |tx| {
            let fail =
                |e: sso_store::StoreError| (AdminError::from(e), json!({ "to": plan.code() }));
            let before = tx.org(org).await.map_err(fail)?;
            let after = tx.set_plan(org, plan).await.map_err(fail)?;
            let snapshot = tx.org_snapshot(org).await.map_err(fail)?;
            let in_effect = sso_in_effect(&snapshot.policy());
            let detail = json!({
                "from": before.plan.code(),
                "to": plan.code(),
                "sso_in_effect": in_effect.is_ok(),
                "sso_off_reason": in_effect.err().map(|off| off.reason()),
                "require_sso_applies": after.require_sso && in_effect.is_ok(),
            });
            Ok((after, org, "plan-changed", detail))
        })
        .await
    }

    /// Adds a verified domain; one owned by another org is refused (`conflict`).
    pub async fn add_verified_domain(
        &self,
        actor: &str,
        org: OrgId,
        domain: &str,
        now: OffsetDateTime,
    ) -> Result<String, AdminError> {
        self.audited(Some(org), kinds::DOMAIN_ADDED, actor, now, async |tx| {
            let added = tx
                .add_verified_domain(org, domain, now)
                .await
                .map_err(|e| (e.into(), json!({ "domain": domain })))?;
            let reason = if added.created {
                "added"
            } else {
                "already-verified"
            };
            let detail = json!({ "domain": added.record });
            Ok((added.record, org, reason, detail))
        })
        .await
    }

    /// Removes a verified domain; `false` when the org did not have it. Existing members keep
    /// their membership; JIT stops creating members in that domain.
    pub async fn remove_verified_domain(
        &self,
        actor: &str,
        org: OrgId,
        domain: &str,
        now: OffsetDateTime,
    ) -> Result<bool, AdminError> {
        self.audited(Some(org), kinds::DOMAIN_REMOVED, actor, now, async |tx| {
            let removed = tx
                .remove_verified_domain(org, domain)
                .await
                .map_err(|e| (e.into(), json!({ "domain": domain })))?;
            let reason = if removed { "removed" } else { "not-verified" };
            Ok((removed, org, reason, json!({ "domain": domain })))
        })
        .await
    }

    /// Imports IdP metadata (XML) into the org's connection: creates it (disabled, JIT off) or
    /// replaces its IdP configuration, which bumps the configuration version and forgets the
    /// last successful login (so require-SSO needs a new successful login first).
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
        let parsed = match entity_id {
            Some(entity) => IdpMetadata::from_xml_for_entity(metadata_xml, entity),
            None => IdpMetadata::from_xml(metadata_xml),
        }
        .map_err(AdminError::Metadata);
        self.audited(Some(org), kinds::METADATA_IMPORTED, actor, now, async |tx| {
            let metadata = parsed.map_err(|e| (e, json!({})))?;
            let mut warnings = metadata.warnings.clone();
            warnings.extend(
                metadata
                    .signing_certificates
                    .iter()
                    .filter_map(|c| c.expiry_warning(now)),
            );
            let idp = IdpConfig {
                entity_id: metadata.entity_id.clone(),
                sso_url: metadata
                    .sso_service(&Binding::HttpRedirect)
                    .map(|e| e.location.clone()),
                certificates: metadata
                    .signing_certificates
                    .iter()
                    .map(|c| pem(&c.to_base64()))
                    .collect(),
                metadata_xml: Some(String::from_utf8_lossy(metadata_xml).into_owned()),
                metadata_url: None,
            };
            let connection = tx
                .import_idp_metadata(org, &idp, now)
                .await
                .map_err(|e| (e.into(), json!({ "entity_id": idp.entity_id })))?;
            let detail = json!({
                "entity_id": idp.entity_id,
                "sso_url": idp.sso_url,
                "certificates": metadata
                    .signing_certificates
                    .iter()
                    .map(|c| json!({ "fingerprint": c.fingerprint_hex(), "subject": c.subject() }))
                    .collect::<Vec<_>>(),
                "config_version": connection.config_version,
                "warnings": warnings,
                "metadata_sha256": STANDARD.encode(
                    openssl::sha::sha256(metadata_xml)
                ),
            });
            let reason = if connection.config_version == 1 {
                "created"
            } else {
                "replaced"
            };
            Ok((
                ImportedMetadata {
                    connection,
                    warnings,
                },
                org,
                reason,
                detail,
            ))
        })
        .await
    }

    /// Sets the connection's validation options (IdP-initiated logins, SHA-1, clock skew); a
    /// configuration change when anything differs.
    pub async fn set_connection_options(
        &self,
        actor: &str,
        org: OrgId,
        options: &ConnectionOptions,
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
                let connection = tx
                    .set_connection_options(org, options, now)
                    .await
                    .map_err(|e| (e.into(), wanted.clone()))?;
                let mut detail = wanted.clone();
                if let Value::Object(map) = &mut detail {
                    map.insert("config_version".into(), json!(connection.config_version));
                }
                Ok((connection, org, "options-set", detail))
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
                Ok((connection, org, reason, json!({ "enabled": enabled })))
            },
        )
        .await
    }

    /// Sets the JIT role (`None`: JIT off) and default projects. Adding default projects needs
    /// a plan with project permissions (Enterprise): `plan-without-default-projects`.
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
            "default_projects": default_projects.iter().map(|p| p.get()).collect::<Vec<_>>(),
        });
        self.audited(Some(org), kinds::JIT_CHANGED, actor, now, async |tx| {
            let fail = |e: sso_store::StoreError| (AdminError::from(e), wanted.clone());
            let org_record = tx.org(org).await.map_err(fail)?;
            let current = tx.connection_for_org(org).await.map_err(fail)?;
            let new = JitSettings {
                default_role: role,
                default_projects: default_projects.to_vec(),
            };
            let change = set_jit(org_record.plan, &current.jit(), &new)
                .map_err(|r| (AdminError::Jit(r), wanted.clone()))?;
            let connection = tx
                .set_jit(org, role, default_projects)
                .await
                .map_err(fail)?;
            Ok(((connection, change), org, change.reason(), wanted.clone()))
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
            let fail = |e: sso_store::StoreError| (AdminError::from(e), json!({ "on": on }));
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
            Ok(((record, change), org, change.reason(), detail))
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
            let fail = |e: sso_store::StoreError| (AdminError::from(e), detail.clone());
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
            Ok(((record, decision), org, decision.reason(), detail.clone()))
        })
        .await
    }

    /// The org's login traces and audit events, newest first, one page at a time.
    pub async fn list_traces(
        &self,
        org: OrgId,
        query: &EventQuery,
    ) -> Result<EventPage, AdminError> {
        Ok(self.store.list_events(org, query).await?)
    }
}
