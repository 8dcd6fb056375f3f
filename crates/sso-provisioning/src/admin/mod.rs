//! Admin and operator operations: each decided by `sso-policy` where a rule applies, and each
//! audited as an event, in the same transaction as the change.
//!
//! By subject: [`orgs`] (orgs, plans, traces), [`domains`] (domain claims, their DNS proof and
//! re-verification, the operator's path), [`connection`] (IdP metadata,
//! options, JIT, require-SSO and break-glass), [`metadata_url`] (metadata by URL and its
//! refresh), [`certificates`] (trusted IdP certificates during a rollover), [`members`]
//! (listing, roles, removal, bulk adds; never the last Admin) and [`projects`] (the host
//! product's projects). Here: the audit wrapper they share, and the one way IdP metadata
//! becomes a stored configuration; [`idp_change`] decides whether new metadata is a
//! configuration change at all; [`credentials`] (org-scoped admin credentials and their
//! check); [`group_roles`] (directory-driven roles: group rules per connection); [`setup_links`]
//! (links to the setup portal and their check).

mod certificates;
mod connection;
mod credentials;
mod domains;
mod group_roles;
mod idp_change;
mod members;
mod metadata_url;
mod orgs;
mod projects;
mod setup_links;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sso_assertion::{Binding, Certificate, Fingerprint, IdpMetadata};
use sso_store::{EventOutcome, IdpConfig, MetadataValidity, NewEvent, OrgId, Transaction};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::AdminError;
use crate::login::Provisioner;

pub use self::connection::{ImportedMetadata, ValidationOptions};
pub use self::credentials::{
    DEFAULT_CREDENTIAL_TTL, DEFAULT_SCIM_TOKEN_TTL, IssuedOrgCredential, MAX_CREDENTIAL_TTL,
    MIN_CREDENTIAL_TTL, ORG_CREDENTIAL_PREFIX, OrgCredential, OrgCredentialCaller,
    SCIM_TOKEN_PREFIX, is_org_credential,
};
pub use self::domains::{DOMAIN_CHECK_ACTOR, DomainChecks, DomainRecheck};
pub use self::members::{AddedMember, NewMember};
pub use self::metadata_url::{ImportedFromUrl, REFRESH_ACTOR, RefreshOutcome};
pub use self::setup_links::{
    DEFAULT_SETUP_LINK_TTL, IssuedSetupLink, MAX_SETUP_LINK_TTL, MIN_SETUP_LINK_TTL,
    SETUP_LINK_PREFIX, SETUP_PATH, SetupAbilities, SetupAbility, SetupLink, SetupLinkCaller,
};

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
    /// The group rules of directory-driven roles were set (`changed`, `unchanged`).
    pub const GROUP_ROLES_CHANGED: &str = "group-roles-changed";
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
    /// Projects were created or renamed in bulk (`upserted`): the detail lists what was
    /// created, renamed and unchanged.
    pub const PROJECTS_UPSERTED: &str = "projects-upserted";
    /// A project was removed, with every member's access to it (`removed`, `no-such-project`).
    pub const PROJECT_REMOVED: &str = "project-removed";
    /// Members were added in bulk (`added`, or `all-existing` when every one was a member).
    pub const MEMBERS_ADDED: &str = "members-added";
    /// A member's role changed (`changed`, `unchanged`).
    pub const MEMBER_ROLE_CHANGED: &str = "member-role-changed";
    /// A member was removed with their project access (`removed`, `not-a-member`).
    pub const MEMBER_REMOVED: &str = "member-removed";
    /// An org-scoped admin credential was created (the event names it, never its secret).
    pub const CREDENTIAL_CREATED: &str = "org-credential-created";
    /// An org-scoped admin credential was revoked.
    pub const CREDENTIAL_REVOKED: &str = "org-credential-revoked";
    /// A setup link to the setup portal was created (the event names it, never its secret).
    pub const SETUP_LINK_CREATED: &str = "setup-link-created";
    /// A setup link was revoked.
    pub const SETUP_LINK_REVOKED: &str = "setup-link-revoked";
    /// A SCIM token was created (the event names it, never its secret).
    pub const SCIM_TOKEN_CREATED: &str = "scim-token-created";
    /// A SCIM token was revoked.
    pub const SCIM_TOKEN_REVOKED: &str = "scim-token-revoked";
    /// The org's directory created, changed or deleted a user over SCIM (`created`,
    /// `updated`, `deactivated`, `reactivated`, `deleted`, or why it was refused).
    pub const SCIM_USER: &str = "scim-user";
    /// The org's directory created, changed or deleted a group over SCIM.
    pub const SCIM_GROUP: &str = "scim-group";
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
            AdminError::Internal(_) => EventOutcome::Failed,
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

/// A pinned metadata signing certificate as an admin gives it (PEM or base64 DER); `None` or
/// blank pins nothing.
fn pinned_certificate(text: Option<&str>) -> Result<Option<Certificate>, AdminError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(text) => Certificate::from_pem_or_base64(text)
            .map(Some)
            .map_err(|e| AdminError::InvalidCertificate(e.to_string())),
    }
}

/// Reads IdP metadata (the IdP `entity_id`, or the one IdP): with a pinned certificate, only
/// after the root's signature verified with it; refused when `validUntil` (of the entity or
/// an aggregate around it) is past at `now`.
fn read_metadata(
    xml: &[u8],
    entity_id: Option<&str>,
    pinned: Option<&Certificate>,
    now: OffsetDateTime,
) -> Result<IdpMetadata, AdminError> {
    let metadata = match (pinned, entity_id) {
        (Some(certificate), _) => IdpMetadata::from_signed_xml(xml, entity_id, certificate),
        (None, Some(entity)) => IdpMetadata::from_xml_for_entity(xml, entity),
        (None, None) => IdpMetadata::from_xml(xml),
    }
    .map_err(AdminError::Metadata)?;
    if let Some(until) = metadata.valid_until.filter(|until| *until <= now) {
        return Err(AdminError::MetadataExpired(until.to_string()));
    }
    Ok(metadata)
}

/// What metadata says about its lifetime, as the store keeps it.
fn validity(metadata: &IdpMetadata) -> MetadataValidity {
    MetadataValidity {
        valid_until: metadata.valid_until,
        cache_duration: metadata.cache_duration,
    }
}

/// The signature and lifetime of metadata, as audit events show them.
fn trust_details(metadata: &IdpMetadata) -> Value {
    json!({
        "signed_by": metadata.verified_by.map(|f| f.to_string()),
        "valid_until": metadata.valid_until.and_then(|t| t.format(&Rfc3339).ok()),
        "cache_duration_seconds": metadata.cache_duration.map(|d| d.whole_seconds()),
    })
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

/// The SHA-256 of a metadata document, base64, as audit events record it.
fn metadata_sha256(xml: &[u8]) -> String {
    STANDARD.encode(openssl::sha::sha256(xml))
}
