//! Admin and operator operations: each decided by `sso-policy` where a rule applies, and each
//! audited as an event, in the same transaction as the change.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sso_assertion::{Binding, Certificate, DEFAULT_CLOCK_SKEW, IdpMetadata};
use sso_fetch::Fetcher;
use sso_policy::{
    BreakGlass, JitChange, JitSettings, Plan, RequireSsoChange, Role, break_glass, set_jit,
    set_require_sso, sso_in_effect,
};
use sso_store::{
    ConnectionRecord, EventOutcome, EventPage, EventQuery, IdpConfig, MAX_REFRESH_INTERVAL,
    MIN_REFRESH_INTERVAL, MetadataSource, NewEvent, OrgId, OrgRecord, ProjectId, RefreshState,
    StoreError, Transaction,
};
use time::{Duration, OffsetDateTime};

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
    /// IdP metadata was fetched again from its URL: `changed`, `unchanged`, or the reason it
    /// failed (the connection then keeps its configuration).
    pub const METADATA_REFRESHED: &str = "idp-metadata-refreshed";
    /// A trusted IdP certificate was added (rollover).
    pub const CERTIFICATE_ADDED: &str = "idp-certificate-added";
    /// A trusted IdP certificate was removed (rollover).
    pub const CERTIFICATE_REMOVED: &str = "idp-certificate-removed";
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

/// The actor of refreshes the service runs by itself.
pub const REFRESH_ACTOR: &str = "metadata-refresh";

/// The most due refreshes one [`Provisioner::refresh_due_metadata`] pass runs.
const REFRESH_BATCH: u64 = 50;

/// A connection after its IdP metadata was imported from a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportedFromUrl {
    /// The connection and warnings, as for an import of XML.
    pub imported: ImportedMetadata,
    /// The URL, the entity and the refresh schedule.
    pub source: RefreshState,
}

/// How a refresh of a connection's metadata from its URL ended.
#[derive(Debug)]
#[non_exhaustive]
pub enum RefreshOutcome {
    /// The certificates or the SSO URL changed: the connection has the new configuration
    /// (a new configuration version).
    Changed(ConnectionRecord),
    /// The metadata says what the connection already has; nothing changed.
    Unchanged(ConnectionRecord),
    /// Fetching, parsing or validating failed: the connection keeps its configuration.
    Failed(AdminError),
}

impl RefreshOutcome {
    /// `changed`, `unchanged`, or the failure's reason code.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Changed(_) => "changed",
            Self::Unchanged(_) => "unchanged",
            Self::Failed(e) => e.reason(),
        }
    }
}

/// Metadata fetched and read, ready to store.
struct Fetched {
    metadata: IdpMetadata,
    idp: IdpConfig,
    detail: Value,
}

/// The fingerprints of stored PEM certificates, `None` for one that no longer reads.
fn fingerprints(certificates: &[String]) -> Vec<Option<String>> {
    certificates
        .iter()
        .map(|pem| {
            Certificate::from_pem_or_base64(pem)
                .ok()
                .map(|c| c.fingerprint_hex())
        })
        .collect()
}

/// A fingerprint as an admin may type it (`ab:cd...`, `ABCD...`), in the colon-separated
/// upper-case form `Certificate::fingerprint_hex` gives.
fn normalize_fingerprint(text: &str) -> Option<String> {
    let hex: String = text
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '\t'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let pairs: Vec<String> = hex
        .as_bytes()
        .chunks(2)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    Some(pairs.join(":"))
}

/// Fetches `url` and reads the IdP `entity_id` (or the one IdP) from it; expired metadata
/// (`validUntil` past) is refused.
async fn fetch_metadata(
    fetcher: &Fetcher,
    url: &str,
    entity_id: Option<&str>,
    now: OffsetDateTime,
) -> Result<Fetched, AdminError> {
    let fetched = fetcher.fetch(url).await.map_err(AdminError::Fetch)?;
    let metadata = match entity_id {
        Some(id) => IdpMetadata::from_xml_for_entity(&fetched.body, id),
        None => IdpMetadata::from_xml(&fetched.body),
    }
    .map_err(AdminError::Metadata)?;
    if let Some(until) = metadata.valid_until.filter(|until| *until <= now) {
        return Err(AdminError::MetadataExpired(until.to_string()));
    }
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
        metadata_xml: Some(String::from_utf8_lossy(&fetched.body).into_owned()),
        metadata_url: Some(url.to_owned()),
    };
    let detail = json!({
        "url": url,
        "final_url": fetched.final_url,
        "redirects": fetched.redirects,
        "bytes": fetched.body.len(),
        "metadata_sha256": STANDARD.encode(openssl::sha::sha256(&fetched.body)),
        "entity_id": idp.entity_id,
        "sso_url": idp.sso_url,
        "certificates": metadata
            .signing_certificates
            .iter()
            .map(|c| json!({ "fingerprint": c.fingerprint_hex(), "subject": c.subject() }))
            .collect::<Vec<_>>(),
    });
    Ok(Fetched {
        metadata,
        idp,
        detail,
    })
}

/// Adds `key: value` to a JSON object.
fn with(mut detail: Value, key: &str, value: Value) -> Value {
    if let Value::Object(map) = &mut detail {
        map.insert(key.to_owned(), value);
    }
    detail
}

impl Provisioner {
    /// Imports IdP metadata from `url` with `fetcher` (HTTPS, public addresses, bounded size,
    /// time and redirects: see `sso-fetch`), choosing `entity_id` when the document describes
    /// several IdPs, and keeps the URL so the metadata can be refreshed: every
    /// `refresh_interval` (5 minutes to 30 days) by [`refresh_due_metadata`], or when an admin
    /// asks ([`refresh_idp_metadata`]). Otherwise like
    /// [`import_idp_metadata`](Self::import_idp_metadata).
    ///
    /// [`refresh_due_metadata`]: Self::refresh_due_metadata
    /// [`refresh_idp_metadata`]: Self::refresh_idp_metadata
    #[allow(clippy::too_many_arguments)]
    pub async fn import_idp_metadata_from_url(
        &self,
        fetcher: &Fetcher,
        actor: &str,
        org: OrgId,
        url: &str,
        entity_id: Option<&str>,
        refresh_interval: Option<Duration>,
        now: OffsetDateTime,
    ) -> Result<ImportedFromUrl, AdminError> {
        let interval_ok = refresh_interval.is_none_or(|i| {
            (MIN_REFRESH_INTERVAL..=MAX_REFRESH_INTERVAL).contains(&i)
                && i.subsec_nanoseconds() == 0
        });
        let fetched = if interval_ok {
            fetch_metadata(fetcher, url, entity_id, now).await
        } else {
            Err(AdminError::Store(StoreError::InvalidInput {
                what: "metadata refresh interval",
                detail: "whole seconds from 5 minutes to 30 days".into(),
            }))
        };
        let source = MetadataSource {
            url: url.to_owned(),
            entity_id: entity_id.map(str::to_owned),
            refresh_interval,
        };
        let asked = json!({
            "url": url,
            "entity_id": entity_id,
            "refresh_interval_seconds": refresh_interval.map(|i| i.whole_seconds()),
        });
        self.audited(
            Some(org),
            kinds::METADATA_IMPORTED,
            actor,
            now,
            async |tx| {
                let fetched = fetched.map_err(|e| (e, asked.clone()))?;
                let mut warnings = fetched.metadata.warnings.clone();
                warnings.extend(
                    fetched
                        .metadata
                        .signing_certificates
                        .iter()
                        .filter_map(|c| c.expiry_warning(now)),
                );
                let fail = |e: StoreError| (AdminError::from(e), asked.clone());
                let connection = tx
                    .import_idp_metadata(org, &fetched.idp, now)
                    .await
                    .map_err(fail)?;
                let state = tx
                    .set_metadata_source(org, &source, now)
                    .await
                    .map_err(fail)?;
                let detail = with(
                    with(
                        fetched.detail,
                        "config_version",
                        json!(connection.config_version),
                    ),
                    "warnings",
                    json!(warnings),
                );
                let detail = with(
                    detail,
                    "refresh_interval_seconds",
                    json!(refresh_interval.map(|i| i.whole_seconds())),
                );
                let reason = if connection.config_version == 1 {
                    "created"
                } else {
                    "replaced"
                };
                let imported = ImportedMetadata {
                    connection,
                    warnings,
                };
                Ok((
                    ImportedFromUrl {
                        imported,
                        source: state,
                    },
                    org,
                    reason,
                    detail,
                ))
            },
        )
        .await
    }

    /// Fetches the org's metadata again from the URL it was imported from. New certificates
    /// or a new SSO URL replace the configuration (a new configuration version); the same
    /// ones change nothing; a fetch, parse or validation failure keeps the configuration as
    /// it is. Each outcome is an `idp-metadata-refreshed` event the org's admins can list.
    /// `Err` only when there is no URL (`no-metadata-url`) or the database fails.
    pub async fn refresh_idp_metadata(
        &self,
        fetcher: &Fetcher,
        actor: &str,
        org: OrgId,
        now: OffsetDateTime,
    ) -> Result<RefreshOutcome, AdminError> {
        let Some(state) = self.store.metadata_refresh_state(org).await? else {
            let event = NewEvent::new(
                org,
                kinds::METADATA_REFRESHED,
                EventOutcome::Refused,
                AdminError::NoMetadataUrl.reason(),
            )
            .actor(actor);
            self.store.record_event(&event, now).await?;
            return Err(AdminError::NoMetadataUrl);
        };
        let current = self.store.connection_for_org(org).await?;
        let entity = state
            .source
            .entity_id
            .clone()
            .unwrap_or_else(|| current.idp.entity_id.clone());
        let before = fingerprints(&current.idp.certificates);
        let kept = json!({
            "url": state.source.url,
            "config_version": current.config_version,
            "certificates": before,
        });
        let fetched = match fetch_metadata(fetcher, &state.source.url, Some(&entity), now).await {
            Ok(fetched) => fetched,
            Err(error) => {
                let outcome = match &error {
                    AdminError::Fetch(e) if !e.is_refusal() => EventOutcome::Failed,
                    _ => EventOutcome::Refused,
                };
                let detail = json!({
                    "url": state.source.url,
                    "error": error.to_string(),
                    "kept": kept,
                });
                let event = NewEvent::new(org, kinds::METADATA_REFRESHED, outcome, error.reason())
                    .actor(actor)
                    .detail(detail);
                let tx = self.store.begin().await?;
                tx.record_event(&event, now).await?;
                tx.record_metadata_refresh(state.connection, error.reason(), now)
                    .await?;
                tx.commit().await?;
                return Ok(RefreshOutcome::Failed(error));
            }
        };
        let after: Vec<Option<String>> = fetched
            .metadata
            .signing_certificates
            .iter()
            .map(|c| Some(c.fingerprint_hex()))
            .collect();
        let same_certificates = {
            let mut a = before.clone();
            let mut b = after.clone();
            a.sort();
            b.sort();
            a == b && !a.contains(&None)
        };
        let unchanged = same_certificates && fetched.idp.sso_url == current.idp.sso_url;
        let tx = self.store.begin().await?;
        let (outcome, connection) = if unchanged {
            ("unchanged", current)
        } else {
            let connection = tx.import_idp_metadata(org, &fetched.idp, now).await?;
            ("changed", connection)
        };
        let detail = with(
            with(fetched.detail, "previous", kept),
            "config_version",
            json!(connection.config_version),
        );
        let event = NewEvent::new(
            org,
            kinds::METADATA_REFRESHED,
            EventOutcome::Success,
            outcome,
        )
        .actor(actor)
        .detail(detail);
        tx.record_event(&event, now).await?;
        tx.record_metadata_refresh(state.connection, outcome, now)
            .await?;
        tx.commit().await?;
        Ok(if unchanged {
            RefreshOutcome::Unchanged(connection)
        } else {
            RefreshOutcome::Changed(connection)
        })
    }

    /// Runs the periodic refreshes due at `now` (at most 50 per pass, the longest overdue
    /// first), each claimed in the database first so that servers sharing it never run the
    /// same one twice. Returns what each did.
    pub async fn refresh_due_metadata(
        &self,
        fetcher: &Fetcher,
        now: OffsetDateTime,
    ) -> Result<Vec<(OrgId, RefreshOutcome)>, AdminError> {
        let due = self
            .store
            .due_metadata_refreshes(now, REFRESH_BATCH)
            .await?;
        let mut done = Vec::with_capacity(due.len());
        for refresh in due {
            if !self.store.claim_metadata_refresh(&refresh, now).await? {
                continue;
            }
            match self
                .refresh_idp_metadata(fetcher, REFRESH_ACTOR, refresh.org, now)
                .await
            {
                Ok(outcome) => done.push((refresh.org, outcome)),
                // The URL went away between listing and running (an import of XML).
                Err(AdminError::NoMetadataUrl) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    /// Trusts one more IdP signing certificate (PEM or base64 DER), for a key rollover: both
    /// keys verify until the old one is removed. A configuration change; a certificate
    /// already trusted changes nothing.
    pub async fn add_connection_certificate(
        &self,
        actor: &str,
        org: OrgId,
        certificate: &str,
        now: OffsetDateTime,
    ) -> Result<ConnectionRecord, AdminError> {
        let parsed = Certificate::from_pem_or_base64(certificate)
            .map_err(|e| AdminError::InvalidCertificate(e.to_string()));
        self.audited(
            Some(org),
            kinds::CERTIFICATE_ADDED,
            actor,
            now,
            async |tx| {
                let cert = parsed.map_err(|e| (e, json!({})))?;
                let detail = json!({
                    "fingerprint": cert.fingerprint_hex(),
                    "subject": cert.subject(),
                    "not_after": cert.not_after().map(|t| t.to_string()),
                });
                let fail = |e: StoreError| (AdminError::from(e), detail.clone());
                let current = tx.connection_for_org(org).await.map_err(fail)?;
                let trusted = fingerprints(&current.idp.certificates);
                if trusted.contains(&Some(cert.fingerprint_hex())) {
                    let detail = with(detail.clone(), "certificates", json!(trusted));
                    return Ok((current, org, "already-trusted", detail));
                }
                let mut certificates = current.idp.certificates.clone();
                certificates.push(pem(&cert.to_base64()));
                let connection = tx
                    .replace_idp_certificates(org, current.config_version, &certificates, now)
                    .await
                    .map_err(fail)?;
                let detail = with(
                    with(
                        detail.clone(),
                        "certificates",
                        json!(fingerprints(&connection.idp.certificates)),
                    ),
                    "config_version",
                    json!(connection.config_version),
                );
                Ok((connection, org, "added", detail))
            },
        )
        .await
    }

    /// Stops trusting the IdP certificate with this SHA-256 fingerprint (hex, colons
    /// optional), ending a rollover. The last trusted certificate cannot be removed
    /// (`last-certificate`). A configuration change.
    pub async fn remove_connection_certificate(
        &self,
        actor: &str,
        org: OrgId,
        fingerprint: &str,
        now: OffsetDateTime,
    ) -> Result<ConnectionRecord, AdminError> {
        let wanted = normalize_fingerprint(fingerprint);
        let asked = json!({ "fingerprint": wanted.as_deref().unwrap_or(fingerprint) });
        self.audited(
            Some(org),
            kinds::CERTIFICATE_REMOVED,
            actor,
            now,
            async |tx| {
                let fail = |e: AdminError| (e, asked.clone());
                let wanted = wanted.ok_or_else(|| {
                    fail(AdminError::Store(StoreError::InvalidInput {
                        what: "fingerprint",
                        detail: "64 hexadecimal digits (SHA-256), colons optional".into(),
                    }))
                })?;
                let current = tx
                    .connection_for_org(org)
                    .await
                    .map_err(|e| fail(e.into()))?;
                let trusted = fingerprints(&current.idp.certificates);
                if !trusted.contains(&Some(wanted.clone())) {
                    return Err(fail(AdminError::CertificateNotFound(wanted)));
                }
                let remaining: Vec<String> = current
                    .idp
                    .certificates
                    .iter()
                    .zip(&trusted)
                    .filter(|(_, f)| f.as_deref() != Some(wanted.as_str()))
                    .map(|(pem, _)| pem.clone())
                    .collect();
                if remaining.is_empty() {
                    return Err(fail(AdminError::LastCertificate(wanted)));
                }
                let connection = tx
                    .replace_idp_certificates(org, current.config_version, &remaining, now)
                    .await
                    .map_err(|e| fail(e.into()))?;
                let detail = json!({
                    "fingerprint": wanted,
                    "certificates": fingerprints(&connection.idp.certificates),
                    "config_version": connection.config_version,
                });
                Ok((connection, org, "removed", detail))
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn fingerprints_are_normalized() {
        let colon = format!("{}AB", "ab:".repeat(31));
        let expected = format!("{}AB", "AB:".repeat(31));
        assert_eq!(normalize_fingerprint(&colon).unwrap(), expected);
        assert_eq!(normalize_fingerprint(&"Ab".repeat(32)).unwrap(), expected);
        assert_eq!(normalize_fingerprint("abcd"), None);
        assert_eq!(normalize_fingerprint(&"zz".repeat(32)), None);
    }
}
