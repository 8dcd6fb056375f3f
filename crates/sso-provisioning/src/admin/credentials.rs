//! Org-scoped admin credentials: bearer secrets that administer one organization and nothing
//! else, beside the service-wide tokens of the server's configuration.
//!
//! A credential reads `sso_org_<id>_<secret>`: the prefix tells it apart from a service-wide
//! token without a database read, the id finds its row by primary key, and the secret (256
//! random bits, URL-safe base64) is checked against the stored SHA-256 in constant time. Only
//! the hash is stored, so reading the table or an audit event gives nobody a credential.
//! Creating and revoking one are audited like every admin change.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sso_store::{
    CredentialKind, NewOrgCredential, OrgCredentialId, OrgCredentialRecord, OrgId, StoreError,
};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::{Audited, kinds};
use crate::error::{AdminError, CredentialError};
use crate::login::Provisioner;

/// How every org credential begins.
pub const ORG_CREDENTIAL_PREFIX: &str = "sso_org_";

/// How every SCIM token begins.
pub const SCIM_TOKEN_PREFIX: &str = "sso_scim_";

/// How long a SCIM token lasts when its creator does not say: an IdP keeps it in its
/// provisioning settings, and an expiry nobody watches stops deprovisioning silently.
pub const DEFAULT_SCIM_TOKEN_TTL: Duration = Duration::days(365);

/// How long a credential lasts when its creator does not say.
pub const DEFAULT_CREDENTIAL_TTL: Duration = Duration::days(90);

/// The longest a credential may last.
pub const MAX_CREDENTIAL_TTL: Duration = Duration::days(365);

/// The shortest a credential may last (short ones are for tests and one-off jobs).
pub const MIN_CREDENTIAL_TTL: Duration = Duration::seconds(1);

/// Random bytes in a secret: 256 bits.
const SECRET_BYTES: usize = 32;

/// No token is longer: the prefix (`sso_org_`, `sso_scim_`, `sso_setup_`), a 64-bit id, `_` and 43 characters
/// of secret.
const MAX_PRESENTED: usize = 96;

/// Whether a bearer token is an org credential (by its prefix alone: cheap, no database).
pub fn is_org_credential(token: &str) -> bool {
    token.starts_with(ORG_CREDENTIAL_PREFIX)
}

/// A credential as its org's admins see it: never the secret, nor its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OrgCredential {
    /// Its id, also the id part of the secret.
    pub id: OrgCredentialId,
    /// The only org it may act on.
    pub org: OrgId,
    /// What it is for.
    pub description: String,
    /// Who created it.
    pub created_by: String,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// From this instant on it is refused.
    pub expires_at: OffsetDateTime,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
}

impl From<OrgCredentialRecord> for OrgCredential {
    fn from(r: OrgCredentialRecord) -> Self {
        Self {
            id: r.id,
            org: r.org,
            description: r.description,
            created_by: r.created_by,
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
        }
    }
}

/// A credential just created, with its secret: the only time the secret exists outside its
/// holder. `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedOrgCredential {
    /// The credential as stored.
    pub credential: OrgCredential,
    secret: String,
}

impl IssuedOrgCredential {
    /// The bearer token to hand to its holder: `sso_org_<id>_<secret>`.
    pub fn secret(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for IssuedOrgCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedOrgCredential")
            .field("credential", &self.credential)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// What an accepted org credential lets its caller do: act on `org`, named in audit events as
/// the credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OrgCredentialCaller {
    /// The credential presented.
    pub credential: OrgCredentialId,
    /// The only org it may act on.
    pub org: OrgId,
}

impl OrgCredentialCaller {
    /// The audit actor of a change made with it: `org-credential:<id>`.
    pub fn actor(&self) -> String {
        format!("org-credential:{}", self.credential)
    }
}

/// The stored form of a secret part: its SHA-256 in lower-case hex.
pub(super) fn secret_hash(secret: &str) -> String {
    openssl::sha::sha256(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The id and secret parts of a presented credential, when it has the shape of one.
#[cfg(test)]
fn parse(token: &str) -> Option<(OrgCredentialId, &str)> {
    parse_bearer(token, ORG_CREDENTIAL_PREFIX)
}

/// How a credential of `kind` begins, and how long it lasts unless its creator says.
fn kind_defaults(kind: CredentialKind) -> (&'static str, Duration) {
    match kind {
        CredentialKind::Scim => (SCIM_TOKEN_PREFIX, DEFAULT_SCIM_TOKEN_TTL),
        _ => (ORG_CREDENTIAL_PREFIX, DEFAULT_CREDENTIAL_TTL),
    }
}

/// The audit event kinds of creating and revoking a credential of `kind`.
fn kind_events(kind: CredentialKind) -> (&'static str, &'static str) {
    match kind {
        CredentialKind::Scim => (kinds::SCIM_TOKEN_CREATED, kinds::SCIM_TOKEN_REVOKED),
        _ => (kinds::CREDENTIAL_CREATED, kinds::CREDENTIAL_REVOKED),
    }
}

/// The id and secret parts of a presented `<prefix><id>_<secret>` token (org credentials and
/// setup links share the form), when it has that shape; longer than any issued token is not.
pub(super) fn parse_bearer<'t, Id: std::str::FromStr>(
    token: &'t str,
    prefix: &str,
) -> Option<(Id, &'t str)> {
    if token.len() > MAX_PRESENTED {
        return None;
    }
    let (id, secret) = token.strip_prefix(prefix)?.split_once('_')?;
    let id = id.parse().ok()?;
    (!secret.is_empty()).then_some((id, secret))
}

/// A fresh secret: 256 random bits, base64url without padding.
pub(super) fn new_secret() -> Result<String, AdminError> {
    let mut bytes = [0u8; SECRET_BYTES];
    openssl::rand::rand_bytes(&mut bytes)
        .map_err(|e| AdminError::Internal(format!("random secret: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Equal hashes, compared in constant time (`openssl::memcmp::eq` wants equal lengths).
pub(super) fn same_hash(stored: &str, presented: &str) -> bool {
    stored.len() == presented.len() && openssl::memcmp::eq(stored.as_bytes(), presented.as_bytes())
}

/// The TTL a creator asks for: `None` is `default`, the rest must lie within the bounds.
fn ttl(asked: Option<Duration>, default: Duration) -> Result<Duration, AdminError> {
    let ttl = asked.unwrap_or(default);
    if ttl < MIN_CREDENTIAL_TTL || ttl > MAX_CREDENTIAL_TTL {
        return Err(AdminError::Store(StoreError::InvalidInput {
            what: "credential ttl",
            detail: format!(
                "{} seconds; from {} to {}",
                ttl.whole_seconds(),
                MIN_CREDENTIAL_TTL.whole_seconds(),
                MAX_CREDENTIAL_TTL.whole_seconds()
            ),
        }));
    }
    Ok(ttl)
}

pub(super) fn rfc3339(t: OffsetDateTime) -> Option<String> {
    t.format(&Rfc3339).ok()
}

impl Provisioner {
    /// Creates a credential that may administer `org` alone, lasting `ttl`
    /// ([`DEFAULT_CREDENTIAL_TTL`] when `None`; [`MIN_CREDENTIAL_TTL`] to
    /// [`MAX_CREDENTIAL_TTL`]). The secret is in the result and nowhere else; the audit event
    /// names the credential, never its secret.
    pub async fn create_org_credential(
        &self,
        actor: &str,
        org: OrgId,
        description: &str,
        ttl_asked: Option<Duration>,
        now: OffsetDateTime,
    ) -> Result<IssuedOrgCredential, AdminError> {
        self.create_credential(
            CredentialKind::Admin,
            actor,
            org,
            description,
            ttl_asked,
            now,
        )
        .await
    }

    /// Creates a SCIM token for `org`'s directory (`sso_scim_<id>_<secret>`), accepted by the
    /// org's SCIM endpoint only, lasting `ttl` ([`DEFAULT_SCIM_TOKEN_TTL`] when `None`, at most
    /// [`MAX_CREDENTIAL_TTL`]). Audited as `scim-token-created`.
    pub async fn create_scim_token(
        &self,
        actor: &str,
        org: OrgId,
        description: &str,
        ttl_asked: Option<Duration>,
        now: OffsetDateTime,
    ) -> Result<IssuedOrgCredential, AdminError> {
        self.create_credential(
            CredentialKind::Scim,
            actor,
            org,
            description,
            ttl_asked,
            now,
        )
        .await
    }

    async fn create_credential(
        &self,
        kind: CredentialKind,
        actor: &str,
        org: OrgId,
        description: &str,
        ttl_asked: Option<Duration>,
        now: OffsetDateTime,
    ) -> Result<IssuedOrgCredential, AdminError> {
        let asked = json!({
            "description": description,
            "ttl_seconds": ttl_asked.map(|t| t.whole_seconds()),
        });
        let (prefix, default_ttl) = kind_defaults(kind);
        self.audited(Some(org), kind_events(kind).0, actor, now, async |tx| {
            let fail = |e: AdminError| (e, asked.clone());
            let ttl = ttl(ttl_asked, default_ttl).map_err(fail)?;
            let secret = new_secret().map_err(fail)?;
            let expires_at = now
                .checked_add(ttl)
                .ok_or_else(|| fail(AdminError::Internal("expiry out of range".to_owned())))?;
            let new = NewOrgCredential {
                org,
                secret_hash: secret_hash(&secret),
                description: description.to_owned(),
                created_by: actor.to_owned(),
                expires_at,
                kind,
            };
            let record = tx
                .create_org_credential(&new, now)
                .await
                .map_err(|e| fail(e.into()))?;
            let detail = json!({
                "credential": record.id.get(),
                "description": record.description,
                "expires_at": rfc3339(record.expires_at),
            });
            let issued = IssuedOrgCredential {
                secret: format!("{prefix}{}_{secret}", record.id),
                credential: record.into(),
            };
            Ok(Audited::new(issued, org, "created", detail))
        })
        .await
    }

    /// The org's credentials, newest first, revoked and expired ones included (at most
    /// `sso_store::MAX_CREDENTIALS_LISTED`); `not-found` when the org does not exist.
    pub async fn list_org_credentials(&self, org: OrgId) -> Result<Vec<OrgCredential>, AdminError> {
        self.list_credentials(org, CredentialKind::Admin).await
    }

    /// The org's SCIM tokens, like [`list_org_credentials`](Self::list_org_credentials).
    pub async fn list_scim_tokens(&self, org: OrgId) -> Result<Vec<OrgCredential>, AdminError> {
        self.list_credentials(org, CredentialKind::Scim).await
    }

    async fn list_credentials(
        &self,
        org: OrgId,
        kind: CredentialKind,
    ) -> Result<Vec<OrgCredential>, AdminError> {
        self.store.org(org).await?;
        Ok(self
            .store
            .list_org_credentials(org, kind)
            .await?
            .into_iter()
            .map(OrgCredential::from)
            .collect())
    }

    /// Revokes the org's credential `id`: from now on it is refused. Revoking it again changes
    /// nothing (reason `already-revoked`); a credential of another org is `not-found`.
    pub async fn revoke_org_credential(
        &self,
        actor: &str,
        org: OrgId,
        id: OrgCredentialId,
        now: OffsetDateTime,
    ) -> Result<OrgCredential, AdminError> {
        self.revoke_credential(CredentialKind::Admin, actor, org, id, now)
            .await
    }

    /// Revokes the org's SCIM token `id`, like
    /// [`revoke_org_credential`](Self::revoke_org_credential); an admin credential's id is
    /// `not-found` here.
    pub async fn revoke_scim_token(
        &self,
        actor: &str,
        org: OrgId,
        id: OrgCredentialId,
        now: OffsetDateTime,
    ) -> Result<OrgCredential, AdminError> {
        self.revoke_credential(CredentialKind::Scim, actor, org, id, now)
            .await
    }

    async fn revoke_credential(
        &self,
        kind: CredentialKind,
        actor: &str,
        org: OrgId,
        id: OrgCredentialId,
        now: OffsetDateTime,
    ) -> Result<OrgCredential, AdminError> {
        let asked = json!({ "credential": id.get() });
        self.audited(Some(org), kind_events(kind).1, actor, now, async |tx| {
            let (record, revoked) = tx
                .revoke_org_credential(org, id, kind, now)
                .await
                .map_err(|e| (e.into(), asked.clone()))?;
            let reason = if revoked {
                "revoked"
            } else {
                "already-revoked"
            };
            let detail = json!({
                "credential": record.id.get(),
                "description": record.description,
                "revoked_at": record.revoked_at.and_then(rfc3339),
            });
            Ok(Audited::new(record.into(), org, reason, detail))
        })
        .await
    }

    /// Checks a presented org credential at `now`: the org it may act on, or why not. The
    /// secret is compared before anything about the credential is told, so only its holder
    /// learns that it expired or was revoked.
    pub async fn authenticate_org_credential(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<OrgCredentialCaller, CredentialError> {
        self.authenticate_credential(CredentialKind::Admin, token, now)
            .await
    }

    /// Checks a presented SCIM token at `now`, like
    /// [`authenticate_org_credential`](Self::authenticate_org_credential): an admin credential
    /// is `Unknown` here, and a SCIM token is `Unknown` there.
    pub async fn authenticate_scim_token(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<OrgCredentialCaller, CredentialError> {
        self.authenticate_credential(CredentialKind::Scim, token, now)
            .await
    }

    async fn authenticate_credential(
        &self,
        kind: CredentialKind,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<OrgCredentialCaller, CredentialError> {
        let (id, secret) = parse_bearer::<OrgCredentialId>(token, kind_defaults(kind).0)
            .ok_or(CredentialError::Unknown)?;
        let record = self
            .store
            .org_credential(id)
            .await?
            .ok_or(CredentialError::Unknown)?;
        if !same_hash(&record.secret_hash, &secret_hash(secret)) || record.kind != kind {
            return Err(CredentialError::Unknown);
        }
        if record.revoked_at.is_some() {
            return Err(CredentialError::Revoked);
        }
        if record.expires_at <= now {
            return Err(CredentialError::Expired);
        }
        Ok(OrgCredentialCaller {
            credential: record.id,
            org: record.org,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_of_presented_credentials() {
        assert_eq!(
            parse("sso_org_12_abc-_d"),
            Some((OrgCredentialId::new(12), "abc-_d"))
        );
        for bad in [
            "sso_org_",
            "sso_org_12",
            "sso_org_12_",
            "sso_org__abc",
            "sso_org_0_abc",
            "sso_org_-1_abc",
            "sso_org_x_abc",
            "admin-token",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        let long = format!("sso_org_1_{}", "a".repeat(MAX_PRESENTED));
        assert_eq!(parse(&long), None);
        assert!(is_org_credential("sso_org_1_x"));
        assert!(!is_org_credential("sso_orgx"));
    }

    #[test]
    fn hashes_compare_by_value_only() {
        let hash = secret_hash("secret");
        assert_eq!(hash.len(), 64);
        assert!(same_hash(&hash, &secret_hash("secret")));
        assert!(!same_hash(&hash, &secret_hash("secreT")));
        assert!(!same_hash(&hash, "short"));
    }

    #[test]
    fn ttl_bounds() {
        let default = DEFAULT_CREDENTIAL_TTL;
        assert_eq!(ttl(None, default).unwrap(), DEFAULT_CREDENTIAL_TTL);
        assert_eq!(
            ttl(Some(Duration::seconds(1)), default).unwrap(),
            MIN_CREDENTIAL_TTL
        );
        assert_eq!(
            ttl(Some(MAX_CREDENTIAL_TTL), default).unwrap(),
            MAX_CREDENTIAL_TTL
        );
        for bad in [Duration::ZERO, Duration::seconds(-5), Duration::days(366)] {
            assert_eq!(
                ttl(Some(bad), default).unwrap_err().reason(),
                "invalid-input"
            );
        }
    }
}
