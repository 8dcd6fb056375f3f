//! Admin and operator operations: each decided by `sso-policy` where a rule applies, and each
//! audited as an event, in the same transaction as the change.
//!
//! By subject: [`orgs`] (orgs, plans, traces), [`domains`] (domain claims, their DNS proof and
//! re-verification, the operator's path), [`connection`] (IdP metadata,
//! options, JIT, require-SSO and break-glass), [`metadata_url`] (metadata by URL and its
//! refresh) and [`certificates`] (trusted IdP certificates during a rollover). Here: the
//! audit wrapper they share, and the one way IdP metadata becomes a stored configuration.

mod certificates;
mod connection;
mod domains;
mod metadata_url;
mod orgs;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sso_assertion::{Binding, Certificate, Fingerprint, IdpMetadata};
use sso_store::{EventOutcome, IdpConfig, NewEvent, OrgId, Transaction};
use time::OffsetDateTime;

use crate::error::AdminError;
use crate::login::Provisioner;

pub use self::connection::{ImportedMetadata, ValidationOptions};
pub use self::domains::{DOMAIN_CHECK_ACTOR, DomainChecks, DomainRecheck};
pub use self::metadata_url::{ImportedFromUrl, REFRESH_ACTOR, RefreshOutcome};

/// Event kinds of the admin operations.
pub mod kinds {
    /// An org was created.
    pub const ORG_CREATED: &str = "org-created";
    /// An org's plan changed.
    pub const PLAN_CHANGED: &str = "plan-changed";
    /// The operator made a domain verified without DNS (`AddVerifiedDomain`).
    pub const DOMAIN_ADDED: &str = "domain-added";
    /// A claim or verified domain was removed.
    pub const DOMAIN_REMOVED: &str = "domain-removed";
    /// A domain was claimed: a pending claim with a token to publish.
    pub const DOMAIN_CLAIMED: &str = "domain-claimed";
    /// A claim's TXT record was looked up to prove it (`verified`, or why not).
    pub const DOMAIN_VERIFIED: &str = "domain-verified";
    /// A DNS-verified domain's record was looked up again (`still-verified`, or why not).
    pub const DOMAIN_RECHECKED: &str = "domain-rechecked";
    /// A DNS-verified domain dropped back to pending after checks in a row without its record.
    pub const DOMAIN_UNVERIFIED: &str = "domain-unverified";
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

/// A change that went through: what the operation returns, and what its audit event says.
struct Audited<T> {
    /// What the operation returns.
    value: T,
    /// The org the event belongs to.
    org: OrgId,
    /// The event's reason code (`created`, `added`, `already-verified` ...).
    reason: &'static str,
    /// The event's detail for the org's admins.
    detail: Value,
}

impl<T> Audited<T> {
    fn new(value: T, org: OrgId, reason: &'static str, detail: Value) -> Self {
        Self {
            value,
            org,
            reason,
            detail,
        }
    }
}

/// A change that was refused or failed, with the detail its audit event records.
type Refused = (AdminError, Value);

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
        F: for<'t> AsyncFnOnce(&'t Transaction) -> Result<Audited<T>, Refused>,
    {
        let tx = self.store.begin().await?;
        match change(&tx).await {
            Ok(done) => {
                let event = NewEvent::new(done.org, kind, EventOutcome::Success, done.reason)
                    .actor(actor)
                    .detail(done.detail);
                tx.record_event(&event, now).await?;
                tx.commit().await?;
                Ok(done.value)
            }
            Err((error, detail)) => {
                drop(tx.rollback().await);
                if let Some(org) = org {
                    self.record_refusal(org, kind, actor, &error, detail, now)
                        .await;
                }
                Err(error)
            }
        }
    }

    /// Records a refused (or failed) change on its own, best effort.
    async fn record_refusal(
        &self,
        org: OrgId,
        kind: &str,
        actor: &str,
        error: &AdminError,
        detail: Value,
        now: OffsetDateTime,
    ) {
        let outcome = match error {
            AdminError::Store(e) if e.reason() == "database" => EventOutcome::Failed,
            _ => EventOutcome::Refused,
        };
        let detail = with(detail, "error", Value::String(error.to_string()));
        let event = NewEvent::new(org, kind, outcome, error.reason())
            .actor(actor)
            .detail(detail);
        if let Err(e) = self.store.record_event(&event, now).await {
            tracing::warn!(org = org.get(), kind, "audit event not written: {e}");
        }
    }
}

/// Adds `key: value` to a JSON object.
fn with(mut detail: Value, key: &str, value: Value) -> Value {
    if let Value::Object(map) = &mut detail {
        map.insert(key.to_owned(), value);
    }
    detail
}

/// The one way IdP metadata becomes a stored configuration: its entity, its HTTP-Redirect
/// SSO URL, its signing certificates as PEM, and the document as read (`xml`, from `url`
/// when it was fetched).
fn idp_config(metadata: &IdpMetadata, xml: &[u8], url: Option<&str>) -> IdpConfig {
    IdpConfig {
        entity_id: metadata.entity_id.clone(),
        sso_url: metadata
            .sso_service(&Binding::HttpRedirect)
            .map(|e| e.location.clone()),
        certificates: metadata
            .signing_certificates
            .iter()
            .map(Certificate::to_pem)
            .collect(),
        metadata_xml: Some(String::from_utf8_lossy(xml).into_owned()),
        metadata_url: url.map(str::to_owned),
    }
}

/// What an admin should know about imported metadata: what was skipped, and certificates
/// expiring within 30 days of `now`.
fn metadata_warnings(metadata: &IdpMetadata, now: OffsetDateTime) -> Vec<String> {
    let mut warnings = metadata.warnings.clone();
    warnings.extend(
        metadata
            .signing_certificates
            .iter()
            .filter_map(|c| c.expiry_warning(now)),
    );
    warnings
}

/// The signing certificates of metadata as an audit event shows them.
fn certificate_details(metadata: &IdpMetadata) -> Value {
    metadata
        .signing_certificates
        .iter()
        .map(|c| json!({ "fingerprint": c.fingerprint().to_string(), "subject": c.subject() }))
        .collect()
}

/// The fingerprints of stored PEM certificates, `None` for one that no longer reads.
fn fingerprints(certificates: &[String]) -> Vec<Option<Fingerprint>> {
    certificates
        .iter()
        .map(|pem| {
            Certificate::from_pem_or_base64(pem)
                .ok()
                .map(|c| *c.fingerprint())
        })
        .collect()
}

/// Fingerprints as an audit event shows them (`null` for a certificate that no longer reads).
fn fingerprint_details(fingerprints: &[Option<Fingerprint>]) -> Value {
    fingerprints
        .iter()
        .map(|f| f.map_or(Value::Null, |f| Value::String(f.to_string())))
        .collect()
}

/// `created` for a new connection (configuration version 1), `replaced` otherwise.
fn import_reason(config_version: i64) -> &'static str {
    if config_version == 1 {
        "created"
    } else {
        "replaced"
    }
}

/// The SHA-256 of a metadata document, base64, as audit events record it.
fn metadata_sha256(xml: &[u8]) -> String {
    STANDARD.encode(openssl::sha::sha256(xml))
}
