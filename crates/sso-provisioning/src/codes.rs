//! Single-use login codes: the service's own ACS endpoint completes the login and sends the
//! browser to the caller's return target with a code; the caller's backend exchanges the code
//! for the login over an authenticated channel. The browser never carries the login itself,
//! and a code read from a log or a history is worthless once used or a minute old.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::sha::sha256;
use serde_json::{Value, json};
use sso_email::EmailSource;
use sso_policy::Role;
use sso_store::{
    ConnectionId, EventId, EventOutcome, NewEvent, NewLoginCode, ProjectId, StoreError,
};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::error::{LoginError, RedeemError};
use crate::login::{LoginOutcome, Provisioner};
use crate::trace::SSO_LOGIN_CODE;

/// How long a login code can be redeemed by default: long enough for one browser redirect.
pub const DEFAULT_CODE_LIFETIME: Duration = Duration::seconds(60);

/// Random bytes in a code: 256 bits, so guessing one is hopeless.
const CODE_BYTES: usize = 32;

/// A single-use login code, issued by [`Provisioner::complete_login_with_code`]. `Debug`
/// does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginCode {
    secret: String,
    expires_at: OffsetDateTime,
}

impl fmt::Debug for LoginCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginCode")
            .field("secret", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The stored form of a code: its SHA-256 in lower-case hex.
fn code_hash(code: &str) -> String {
    sha256(code.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl LoginCode {
    pub(crate) fn generate(expires_at: OffsetDateTime) -> Result<Self, LoginError> {
        let mut bytes = [0u8; CODE_BYTES];
        openssl::rand::rand_bytes(&mut bytes)
            .map_err(|e| LoginError::Internal(format!("random login code: {e}")))?;
        Ok(Self {
            secret: URL_SAFE_NO_PAD.encode(bytes),
            expires_at,
        })
    }

    /// The code, URL-safe base64 (43 characters): put it in the redirect's query.
    pub fn as_str(&self) -> &str {
        &self.secret
    }

    /// When it stops being redeemable.
    pub fn expires_at(&self) -> OffsetDateTime {
        self.expires_at
    }

    /// The row to store for this code and `outcome`.
    pub(crate) fn record(&self, outcome: &LoginOutcome) -> NewLoginCode {
        NewLoginCode {
            code_hash: code_hash(&self.secret),
            org: outcome.org,
            user: outcome.user.id,
            outcome: outcome_json(outcome),
            expires_at: self.expires_at,
        }
    }
}

fn outcome_json(o: &LoginOutcome) -> Value {
    json!({
        "user_created": o.user_created,
        "connection": o.connection.get(),
        "role": o.role.code(),
        "projects": o.projects.iter().map(ProjectId::as_str).collect::<Vec<_>>(),
        "membership_created": o.membership_created,
        "session_not_on_or_after": o.session_not_on_or_after.and_then(|t| t.format(&Rfc3339).ok()),
        "return_target": o.return_target,
        "email_source": o.email_source.code(),
        "assertion_id": o.assertion_id,
        "trace": o.trace.get(),
    })
}

/// The parts of a stored outcome other than the org and user (which have their own columns).
struct StoredOutcome {
    user_created: bool,
    connection: ConnectionId,
    role: Role,
    projects: Vec<ProjectId>,
    membership_created: bool,
    session_not_on_or_after: Option<OffsetDateTime>,
    return_target: Option<String>,
    email_source: EmailSource,
    assertion_id: String,
    trace: EventId,
}

fn outcome_from_json(v: &Value) -> Option<StoredOutcome> {
    let session_not_on_or_after = match v.get("session_not_on_or_after")? {
        Value::Null => None,
        Value::String(t) => Some(OffsetDateTime::parse(t, &Rfc3339).ok()?),
        _ => return None,
    };
    let return_target = match v.get("return_target")? {
        Value::Null => None,
        Value::String(t) => Some(t.clone()),
        _ => return None,
    };
    let source = v.get("email_source")?.as_str()?;
    Some(StoredOutcome {
        user_created: v.get("user_created")?.as_bool()?,
        connection: ConnectionId::new(v.get("connection")?.as_i64()?),
        role: Role::from_code(v.get("role")?.as_str()?)?,
        projects: v
            .get("projects")?
            .as_array()?
            .iter()
            .map(stored_project)
            .collect::<Option<Vec<_>>>()?,
        membership_created: v.get("membership_created")?.as_bool()?,
        session_not_on_or_after,
        return_target,
        email_source: EmailSource::ORDER
            .into_iter()
            .find(|s| s.code() == source)?,
        assertion_id: v.get("assertion_id")?.as_str()?.to_owned(),
        trace: EventId::new(v.get("trace")?.as_i64()?),
    })
}

/// A project of a stored outcome: its id, or (codes written before projects had the host
/// product's ids) the decimal row id, which is what such a project's id became.
fn stored_project(value: &Value) -> Option<ProjectId> {
    match value {
        Value::String(id) => ProjectId::parse(id).ok(),
        Value::Number(n) => ProjectId::parse(&n.as_i64()?.to_string()).ok(),
        _ => None,
    }
}

impl Provisioner {
    /// Sets how long login codes stay redeemable ([`DEFAULT_CODE_LIFETIME`] otherwise).
    pub fn with_code_lifetime(mut self, lifetime: Duration) -> Self {
        self.code_lifetime = lifetime;
        self
    }

    /// Exchanges a login code for the login it stands for, once: a second redemption, on any
    /// server, is [`RedeemError::Used`] (and is recorded in the org's traces, since it means
    /// the code leaked or a caller retried), an old one [`RedeemError::Expired`], anything
    /// else [`RedeemError::Unknown`].
    pub async fn redeem_login_code(
        &self,
        code: &str,
        now: OffsetDateTime,
    ) -> Result<LoginOutcome, RedeemError> {
        let hash = code_hash(code);
        let record = match self.store.redeem_login_code(&hash, now).await {
            Ok(record) => record,
            Err(StoreError::NotFound { .. }) => return Err(RedeemError::Unknown),
            Err(StoreError::Expired { .. }) => return Err(RedeemError::Expired),
            Err(StoreError::Replayed { .. }) => {
                self.trace_reuse(&hash, now).await;
                return Err(RedeemError::Used);
            }
            Err(e) => return Err(RedeemError::Store(e)),
        };
        let stored = outcome_from_json(&record.outcome).ok_or_else(|| {
            RedeemError::Store(StoreError::CorruptData {
                what: "login code",
                detail: "stored outcome does not read back".to_owned(),
            })
        })?;
        let user = self.store.user(record.user).await?;
        Ok(LoginOutcome {
            user,
            user_created: stored.user_created,
            org: record.org,
            connection: stored.connection,
            role: stored.role,
            projects: stored.projects,
            membership_created: stored.membership_created,
            session_not_on_or_after: stored.session_not_on_or_after,
            return_target: stored.return_target,
            email_source: stored.email_source,
            assertion_id: stored.assertion_id,
            trace: stored.trace,
        })
    }

    /// Records a second redemption of a code in the org's traces (best effort).
    async fn trace_reuse(&self, hash: &str, now: OffsetDateTime) {
        let Ok(Some(row)) = self.store.login_code(hash).await else {
            return;
        };
        let org = row.org;
        let event = NewEvent::new(
            org,
            SSO_LOGIN_CODE,
            EventOutcome::Refused,
            "login-code-used",
        )
        .detail(json!({
            "user": row.user.get(),
            "trace": row.outcome.get("trace"),
        }));
        if let Err(e) = self.store.record_event(&event, now).await {
            tracing::warn!(org = org.get(), "login-code trace not written: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_random_url_safe_and_hashed_to_hex() {
        let at = OffsetDateTime::UNIX_EPOCH;
        let a = LoginCode::generate(at).unwrap();
        let b = LoginCode::generate(at).unwrap();
        assert_ne!(a.as_str(), b.as_str());
        assert_eq!(a.as_str().len(), 43);
        assert!(
            a.as_str()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        let hash = code_hash(a.as_str());
        assert_eq!(hash.len(), 64);
        assert_ne!(hash, code_hash(b.as_str()));
        assert!(!format!("{a:?}").contains(a.as_str()));
    }

    #[test]
    fn stored_projects_read_back_in_both_forms() {
        let parse = |v: Value| stored_project(&v).map(|p| p.as_str().to_owned());
        assert_eq!(parse(json!("wiki/2")).as_deref(), Some("wiki/2"));
        assert_eq!(parse(json!(41)).as_deref(), Some("41"));
        assert_eq!(parse(json!("")), None);
        assert_eq!(parse(json!(1.5)), None);
        assert_eq!(parse(json!(null)), None);
    }
}
