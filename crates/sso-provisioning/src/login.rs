//! SP-initiated login start, and one login completed as one transaction.

use serde_json::{Value, json};
use sso_assertion::{
    Binding, Certificate, ConnectionConfig, Endpoint, IdpMetadata, ServiceProvider, SpKey,
    ValidationContext, VerifiedAssertion, new_message_id, validate,
};
use sso_email::{Claims, Email, EmailMatch, EmailSource, find_email};
use sso_policy::{
    Membership, Role, SsoLoginGrant, SsoOff, sso_in_effect, sso_login, test_login_allowed,
};
use sso_store::{
    AuthnRequestRecord, ConnectionId, ConnectionRecord, CreatedBy, EventId, EventOutcome,
    MembershipRecord, NewAuthnRequest, NewEvent, OneTimeValue, OrgId, OrgSnapshot, ProjectId,
    Store, StoreError, Transaction, UserRecord,
};
use time::{Duration, OffsetDateTime};

use crate::codes::LoginCode;
use crate::error::LoginError;
use crate::test_login::TestRequest;
use crate::trace::{SSO_LOGIN, SSO_LOGIN_START, Trace};

/// How long an AuthnRequest waits for its response by default.
pub const DEFAULT_REQUEST_LIFETIME: Duration = Duration::minutes(10);

/// The longest return target kept (browsers and proxies cut URLs not far above this).
const MAX_RETURN_TARGET: usize = 2048;

/// How many still-open requests of a connection are offered to validation when a response
/// arrives without a RelayState (IdPs that drop it). The newest ones.
const OPEN_REQUESTS_WITHOUT_RELAY_STATE: u64 = 100;

/// A connection's last-successful-login time is refreshed at most this often once the current
/// configuration is proven, so concurrent logins do not all write the connection's row.
const LAST_LOGIN_REFRESH: Duration = Duration::minutes(1);

/// SSO logins and admin operations of every org, over one [`Store`].
///
/// Holds the public base URL from which each org's SP entity ID
/// (`<base>/saml/2/metadata/<org>`) and ACS URL (`<base>/saml/2/acs/<org>`) are built, and the
/// optional SP key (signed AuthnRequests, encrypted assertions). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Provisioner {
    pub(crate) store: Store,
    pub(crate) base_url: String,
    sp_key: Option<SpKey>,
    request_lifetime: Duration,
    pub(crate) code_lifetime: Duration,
    return_origins: Vec<String>,
    pub(crate) domain_checks: crate::admin::DomainChecks,
    configs: crate::config_cache::ConfigCache,
    request_configs: crate::config_cache::ConfigCache,
}

/// An SP-initiated login, started: send the browser to [`redirect_url`](Self::redirect_url).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoginStart {
    /// The IdP's HTTP-Redirect URL carrying the AuthnRequest and the RelayState. Empty when
    /// the IdP offers only the HTTP-POST binding: then use [`post_form`](Self::post_form).
    pub redirect_url: String,
    /// For IdPs whose metadata lists only an HTTP-POST SingleSignOnService (Google
    /// Workspace's does): an auto-submitting HTML form carrying the request.
    pub post_form: Option<String>,
    /// The AuthnRequest's ID (the response's `InResponseTo`).
    pub request_id: String,
    /// The opaque RelayState sent along; the ACS endpoint hands it back to
    /// [`Provisioner::complete_login`].
    pub relay_state: String,
    /// When the request stops being accepted.
    pub expires_at: OffsetDateTime,
}

/// A completed SSO login: who, in which org, with what access, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoginOutcome {
    /// The user (found or created).
    pub user: UserRecord,
    /// Whether this login created the user.
    pub user_created: bool,
    /// The org the session is for: the one whose ACS URL the response arrived on, only.
    pub org: OrgId,
    /// The connection that validated the response.
    pub connection: ConnectionId,
    /// The member's role in the org (an existing member keeps theirs).
    pub role: Role,
    /// The org's projects the user has access to.
    pub projects: Vec<ProjectId>,
    /// Whether this login created the membership (just-in-time provisioning).
    pub membership_created: bool,
    /// The IdP's limit on the session (`SessionNotOnOrAfter`), when it set one.
    pub session_not_on_or_after: Option<OffsetDateTime>,
    /// Where the caller of [`Provisioner::begin_login`] wanted the user afterwards; `None` for
    /// IdP-initiated logins.
    pub return_target: Option<String>,
    /// Where the email was found.
    pub email_source: EmailSource,
    /// The assertion's ID (now in the replay cache).
    pub assertion_id: String,
    /// The login trace.
    pub trace: EventId,
}

pub(crate) fn time_json(t: Option<OffsetDateTime>) -> Value {
    t.and_then(|t| {
        t.format(&time::format_description::well_known::Rfc3339)
            .ok()
    })
    .map_or(Value::Null, Value::String)
}

/// What the transaction needs from the checks before it.
pub(crate) struct Checked<'a> {
    pub(crate) org: OrgId,
    pub(crate) snapshot: &'a OrgSnapshot,
    pub(crate) connection: &'a ConnectionRecord,
    pub(crate) verified: VerifiedAssertion,
    pub(crate) email: EmailMatch,
}

/// A response as it arrived on the ACS URL.
struct Response<'a> {
    /// The `SAMLResponse` form field.
    raw: &'a [u8],
    /// The `RelayState` form field, if any (and not empty).
    relay_state: Option<&'a str>,
    /// The request of the org's connection sent with that RelayState, read with the org.
    named: Option<AuthnRequestRecord>,
}

/// The requests a response may answer, and the request its RelayState names.
struct Outstanding {
    ids: Vec<String>,
    named: Option<AuthnRequestRecord>,
}

/// What the trace records about a response that passed validation.
fn verified_facts(verified: &VerifiedAssertion) -> Value {
    json!({
        "issuer": verified.issuer(),
        "assertion_id": verified.assertion_id(),
        "in_response_to": verified.in_response_to(),
        "signed_response": verified.signed_parts().response,
        "signed_assertion": verified.signed_parts().assertion,
        "signing_key": verified.signing_key().to_string(),
        "encrypted": verified.was_encrypted(),
        "session_not_on_or_after": time_json(verified.session_not_on_or_after()),
    })
}

impl Provisioner {
    /// A provisioner over `store`, with this public base URL (`https://sso.example.com`).
    pub fn new(store: Store, public_base_url: impl Into<String>) -> Self {
        Self {
            store,
            base_url: public_base_url.into(),
            sp_key: None,
            request_lifetime: DEFAULT_REQUEST_LIFETIME,
            code_lifetime: crate::codes::DEFAULT_CODE_LIFETIME,
            return_origins: Vec::new(),
            domain_checks: crate::admin::DomainChecks::default(),
            configs: crate::config_cache::ConfigCache::default(),
            request_configs: crate::config_cache::ConfigCache::default(),
        }
    }

    /// Adds the SP key pair: AuthnRequests are signed and encrypted assertions can be read.
    #[must_use]
    pub fn with_sp_key(mut self, key: SpKey) -> Self {
        self.sp_key = Some(key);
        // Configurations built before carry the SP without its key.
        self.configs = crate::config_cache::ConfigCache::default();
        self.request_configs = crate::config_cache::ConfigCache::default();
        self
    }

    /// How long an AuthnRequest waits for its response (default
    /// [`DEFAULT_REQUEST_LIFETIME`], ten minutes).
    #[must_use]
    pub fn with_request_lifetime(mut self, lifetime: Duration) -> Self {
        self.request_lifetime = lifetime;
        self
    }

    /// The store, for tests that set up or inspect what the provisioner does not offer
    /// (`testing` feature). The service layers use the provisioner's own methods.
    #[cfg(feature = "testing")]
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The SP side of `org`'s connection: its entity ID and ACS URL (and the SP key).
    pub fn service_provider(&self, org: OrgId) -> ServiceProvider {
        let sp = ServiceProvider::for_org(&self.base_url, &org.to_string());
        match &self.sp_key {
            Some(key) => sp.with_key(key.clone()),
            None => sp,
        }
    }

    /// The validation settings of a stored connection: its certificates and options, and the
    /// org's own SP entity ID and ACS URL.
    pub fn connection_config(
        &self,
        connection: &ConnectionRecord,
    ) -> Result<ConnectionConfig, LoginError> {
        let certificates = connection
            .idp
            .certificates
            .iter()
            .map(|pem| Certificate::from_pem_or_base64(pem))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| LoginError::Misconfigured(format!("IdP certificate: {e}")))?;
        let endpoints = connection
            .idp
            .sso_url
            .iter()
            .map(|url| Endpoint {
                binding: Binding::HttpRedirect,
                location: url.clone(),
            })
            .collect();
        let mut config = ConnectionConfig::new(
            connection.idp.entity_id.clone(),
            certificates,
            endpoints,
            self.service_provider(connection.org),
        )
        .clock_skew(connection.options.clock_skew);
        config
            .dangerous()
            .allow_unsolicited(connection.options.allow_unsolicited)
            .allow_sha1(connection.options.allow_sha1);
        Ok(config)
    }

    /// Accepts return targets only on these origins (`https://app.example.com`, scheme, host
    /// and port as a browser compares them). Without any, every absolute `http`/`https` URL
    /// is accepted: the callers are authenticated services, but a caller that passes a user's
    /// input through would turn the service's ACS endpoint into an open redirect carrying a
    /// login code, so production deployments should list their origins.
    pub fn with_return_origins(mut self, origins: impl IntoIterator<Item = String>) -> Self {
        self.return_origins = origins
            .into_iter()
            .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
            .collect();
        self
    }

    /// Checks a return target: a path on the caller's own site (`/reports/7`), or an absolute
    /// `http`/`https` URL without credentials on an allowed origin.
    fn check_return_target(&self, target: &str) -> Result<(), LoginError> {
        let refuse = |why: &str| Err(LoginError::ReturnTarget(why.to_owned()));
        if target.len() > MAX_RETURN_TARGET {
            return refuse("longer than 2048 bytes");
        }
        if target.chars().any(|c| c.is_control() || c == '\\') {
            return refuse("contains a control character or a backslash");
        }
        if target.starts_with('/') {
            // `//host/...` is a URL of another host to a browser, not a path.
            return if target.starts_with("//") {
                refuse("a scheme-relative URL")
            } else {
                Ok(())
            };
        }
        let Ok(url) = url::Url::parse(target) else {
            return refuse("not an absolute URL");
        };
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return refuse("not an http or https URL");
        }
        if !url.username().is_empty() || url.password().is_some() {
            return refuse("carries credentials");
        }
        if self.return_origins.is_empty() {
            return Ok(());
        }
        let origin = url.origin().ascii_serialization();
        if self.return_origins.contains(&origin) {
            Ok(())
        } else {
            refuse(&format!("origin {origin} is not an allowed return origin"))
        }
    }

    /// Starts an SP-initiated login for `org`: an AuthnRequest for its connection, stored with
    /// an opaque RelayState and the caller's `return_target` (kept here, never sent to the IdP),
    /// valid for the request lifetime.
    ///
    /// Refused (and traced) when SSO is not in effect for the org.
    pub async fn begin_login(
        &self,
        org: OrgId,
        return_target: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<LoginStart, LoginError> {
        if let Some(target) = return_target {
            self.check_return_target(target)?;
        }
        let snapshot = self.snapshot(org).await?;
        let connection = match (sso_in_effect(&snapshot.policy()), &snapshot.connection) {
            (Ok(()), Some(connection)) => connection,
            (Err(off), _) => return self.refuse_start(org, LoginError::SsoOff(off), now).await,
            (Ok(()), None) => {
                let error = LoginError::SsoOff(SsoOff::NoConnection);
                return self.refuse_start(org, error, now).await;
            }
        };
        let (request, start) = match self.prepare_request(connection, return_target, now) {
            Ok(prepared) => prepared,
            Err(error) => return self.refuse_start(org, error, now).await,
        };
        self.store.create_authn_request(&request, now).await?;
        Ok(start)
    }

    /// An AuthnRequest for `connection`, written but not stored: the row to store, and what
    /// the caller hands the browser. The RelayState is fresh and opaque; the return target
    /// stays in the row.
    pub(crate) fn prepare_request(
        &self,
        connection: &ConnectionRecord,
        return_target: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(NewAuthnRequest, LoginStart), LoginError> {
        let config = self.request_config(connection)?;
        let relay_state = new_message_id().map_err(LoginError::Request)?;
        let relay_state = relay_state.trim_start_matches('_').to_owned();
        let has_redirect = config
            .idp_sso_services()
            .iter()
            .any(|e| e.binding == Binding::HttpRedirect);
        let (request, redirect_url, post_form) = if has_redirect {
            config
                .redirect_request(&relay_state, now)
                .map(|(request, url)| (request, url.to_string(), None))
        } else {
            config
                .post_request(&relay_state, now)
                .map(|(request, form)| (request, String::new(), Some(form)))
        }
        .map_err(LoginError::Request)?;
        let expires_at = now + self.request_lifetime;
        let row = NewAuthnRequest {
            id: request.id.clone(),
            connection: connection.id,
            relay_state: relay_state.clone(),
            return_target: return_target.map(str::to_owned),
            expires_at,
        };
        let start = LoginStart {
            redirect_url,
            post_form,
            request_id: request.id,
            relay_state,
            expires_at,
        };
        Ok((row, start))
    }

    /// The configuration for writing requests: from the imported metadata when there is one
    /// (it says whether the IdP wants signed requests), else from the stored fields.
    fn request_config(
        &self,
        connection: &ConnectionRecord,
    ) -> Result<std::sync::Arc<ConnectionConfig>, LoginError> {
        self.request_configs
            .get_or_build(connection, || self.build_request_config(connection))
    }

    fn build_request_config(
        &self,
        connection: &ConnectionRecord,
    ) -> Result<ConnectionConfig, LoginError> {
        let Some(xml) = &connection.idp.metadata_xml else {
            return self.connection_config(connection);
        };
        let metadata = IdpMetadata::from_xml_for_entity(xml.as_bytes(), &connection.idp.entity_id)
            .map_err(|e| LoginError::Misconfigured(format!("stored IdP metadata: {e}")))?;
        Ok(ConnectionConfig::from_metadata(
            &metadata,
            self.service_provider(connection.org),
        ))
    }

    async fn refuse_start<T>(
        &self,
        org: OrgId,
        error: LoginError,
        now: OffsetDateTime,
    ) -> Result<T, LoginError> {
        let mut trace = Trace::default();
        trace.fact("return_target", Value::Null);
        let detail = trace.finish("begin-login", Some(&error));
        self.write_trace(org, SSO_LOGIN_START, &error, detail, now)
            .await;
        Err(error)
    }

    pub(crate) async fn snapshot(&self, org: OrgId) -> Result<OrgSnapshot, LoginError> {
        match self.store.org_snapshot(org).await {
            Ok(snapshot) => Ok(snapshot),
            Err(StoreError::NotFound { .. }) => Err(LoginError::OrgNotFound),
            Err(e) => Err(LoginError::Store(e)),
        }
    }

    /// Completes an SSO login: `raw_response` (the `SAMLResponse` form field, base64 or XML)
    /// arrived on the ACS URL of `org`, with `relay_state` when the IdP sent one back.
    ///
    /// The response is validated against `org`'s connection only (per-org ACS), then the email
    /// is found and, in one transaction, the AuthnRequest is consumed (solicited responses), the
    /// assertion ID is recorded (a second use on any server is `replayed`), `sso-policy`
    /// decides, the user, membership and project access are created when JIT grants them, the
    /// connection is marked as proven and the trace is written. On any refusal the transaction
    /// is rolled back and only the trace is written, with every check that ran, the reason and
    /// the detail.
    ///
    /// The org's settings are read once, before validation; a change committed while the
    /// login runs applies from the next login on (and a configuration replaced meanwhile is
    /// not marked as proven by it).
    pub async fn complete_login(
        &self,
        org: OrgId,
        raw_response: &[u8],
        relay_state: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<LoginOutcome, LoginError> {
        self.complete(org, raw_response, relay_state, now, None)
            .await
    }

    /// [`complete_login`](Self::complete_login), and in the same transaction a single-use
    /// [`LoginCode`] for the service's own ACS endpoint to put in the redirect to the return
    /// target; the caller's service exchanges it with [`redeem_login_code`](Self::redeem_login_code).
    /// Either both the login and the code are committed, or neither.
    pub async fn complete_login_with_code(
        &self,
        org: OrgId,
        raw_response: &[u8],
        relay_state: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(LoginOutcome, LoginCode), LoginError> {
        let code = LoginCode::generate(now + self.code_lifetime)?;
        let outcome = self
            .complete(org, raw_response, relay_state, now, Some(&code))
            .await?;
        Ok((outcome, code))
    }

    async fn complete(
        &self,
        org: OrgId,
        raw_response: &[u8],
        relay_state: Option<&str>,
        now: OffsetDateTime,
        code: Option<&LoginCode>,
    ) -> Result<LoginOutcome, LoginError> {
        let relay_state = relay_state.filter(|r| !r.is_empty());
        // On PostgreSQL the login's transaction reads the context too: one pooled connection
        // per login instead of two. It stays open through validation, which holds back no
        // other login there; on SQLite it would hold the write lock, so the context is read on
        // its own. At READ COMMITTED the read sees what it would have seen outside.
        let early = if self.store.transactions_run_side_by_side() {
            Some(self.store.begin().await?)
        } else {
            None
        };
        let context = match &early {
            Some(tx) => tx.login_context(org, relay_state).await,
            None => self.store.login_context(org, relay_state).await,
        };
        let (snapshot, named) = match context {
            Ok(context) => context,
            Err(StoreError::NotFound { .. }) => return Err(LoginError::OrgNotFound),
            Err(e) => return Err(LoginError::Store(e)),
        };
        let mut trace = Trace::default();
        let mut test = None;
        let checked = match self
            .check_response(
                org,
                &snapshot,
                Response {
                    raw: raw_response,
                    relay_state,
                    named,
                },
                &mut test,
                &mut trace,
                now,
            )
            .await
        {
            Ok(checked) => checked,
            Err((check, error)) => {
                if let Some(tx) = early {
                    drop(tx.rollback().await);
                }
                return match test {
                    Some(test) => Err(self.refuse_test(org, &test, trace, check, error, now).await),
                    None => self.refuse(org, trace, check, error, now).await,
                };
            }
        };
        match test {
            // A test login's response never signs anyone in: it ends in an error either way.
            Some(test) => {
                if let Some(tx) = early {
                    drop(tx.rollback().await);
                }
                Err(self.commit_test(&checked, &test, trace, now).await)
            }
            None => self.commit_login(early, &checked, trace, code, now).await,
        }
    }

    /// Everything before the transaction, writing nothing: SSO in effect (or, for a test
    /// login, SSO available), the connection's validation settings, the requests the response
    /// may answer, the response itself and the email. On refusal, the check that refused and
    /// why. `test` is set as soon as the attempt is known to answer a test login: from the
    /// request its RelayState names, or else from the request its signed `InResponseTo` names.
    async fn check_response<'s>(
        &self,
        org: OrgId,
        snapshot: &'s OrgSnapshot,
        response: Response<'_>,
        test: &mut Option<TestRequest>,
        trace: &mut Trace,
        now: OffsetDateTime,
    ) -> Result<Checked<'s>, Failed> {
        let policy = snapshot.policy();
        let in_effect = sso_in_effect(&policy);
        let Some(connection) = &snapshot.connection else {
            let off = in_effect.err().unwrap_or(SsoOff::NoConnection);
            return Err(("sso-in-effect", LoginError::SsoOff(off)));
        };
        let outstanding = self
            .outstanding_requests(
                connection.id,
                response.relay_state,
                response.named,
                trace,
                now,
            )
            .await
            .map_err(|error| ("authn-request", error))?;
        *test = outstanding.named.as_ref().and_then(TestRequest::of);
        if let Some(test) = test {
            trace.fact("test_login", json!(test.id));
            trace.fact("connection_enabled", json!(connection.enabled));
            // A test may run before the connection is switched on.
            test_login_allowed(&policy).map_err(|off| ("sso-testable", LoginError::SsoOff(off)))?;
            trace.passed_with(
                "sso-testable",
                json!({ "connection_enabled": connection.enabled }),
            );
        } else {
            in_effect.map_err(|off| ("sso-in-effect", LoginError::SsoOff(off)))?;
            trace.passed("sso-in-effect");
        }
        trace.fact("connection", json!(connection.id.get()));
        trace.fact("config_version", json!(connection.config_version));
        let config = self
            .configs
            .get_or_build(connection, || self.connection_config(connection))
            .map_err(|error| ("connection-config", error))?;
        let warnings: Vec<String> = config
            .idp_certificates()
            .iter()
            .filter_map(|c| c.expiry_warning(now))
            .chain(config.key_problems().iter().cloned())
            .collect();
        if !warnings.is_empty() {
            trace.fact("warnings", json!(warnings));
        }

        let ids: Vec<&str> = outstanding.ids.iter().map(String::as_str).collect();
        let verified = validate(response.raw, &config, &ValidationContext::new(now, &ids))
            .map_err(|e| ("response-valid", LoginError::Invalid(e)))?;
        trace.passed_with("response-valid", verified_facts(&verified));
        if test.is_none() {
            *test = self
                .answered_test(connection.id, &verified, outstanding.named.as_ref())
                .await
                .map_err(|error| ("authn-request", error))?;
            if let Some(test) = test {
                trace.fact("test_login", json!(test.id));
                trace.fact("connection_enabled", json!(connection.enabled));
            }
        }
        let claims = Claims::from(&verified);
        let email = match find_email(&claims) {
            Ok(found) => found,
            Err(missing) => {
                trace.email_missing(&missing);
                return Err(("email", LoginError::NoEmail(missing)));
            }
        };
        trace.email_found(&email);
        Ok(Checked {
            org,
            snapshot,
            connection,
            verified,
            email,
        })
    }

    /// The test login a verified response answers when its RelayState did not name one (an
    /// IdP that drops the RelayState): the request its `InResponseTo` names, if that was sent
    /// for a test on this connection.
    async fn answered_test(
        &self,
        connection: ConnectionId,
        verified: &VerifiedAssertion,
        named: Option<&AuthnRequestRecord>,
    ) -> Result<Option<TestRequest>, LoginError> {
        let Some(id) = verified.in_response_to() else {
            return Ok(None);
        };
        if named.is_some_and(|r| r.id == id) {
            return Ok(None);
        }
        let request = self.store.authn_request(id).await?;
        Ok(request
            .filter(|r| r.connection == connection)
            .as_ref()
            .and_then(TestRequest::of))
    }

    /// The login's transaction: provisioning, the success trace, the login code if one is
    /// asked for, and the commit. Any failure rolls all of it back and writes the trace alone.
    async fn commit_login(
        &self,
        early: Option<Transaction>,
        checked: &Checked<'_>,
        mut trace: Trace,
        code: Option<&LoginCode>,
        now: OffsetDateTime,
    ) -> Result<LoginOutcome, LoginError> {
        let org = checked.org;
        let tx = match early {
            Some(tx) => tx,
            // `provision` writes first: it spends the request and the assertion.
            None => self.store.begin_with_write().await?,
        };
        let mut outcome = match provision(&tx, checked, &mut trace, now).await {
            Ok(outcome) => outcome,
            Err((check, error)) => {
                // Nothing of the attempt stays but its trace, written on its own below.
                drop(tx.rollback().await);
                return self.refuse(org, trace, check, error, now).await;
            }
        };
        let detail = std::mem::take(&mut trace).finish("", None);
        let event =
            NewEvent::new(org, SSO_LOGIN, EventOutcome::Success, "signed-in").detail(detail);
        outcome.trace = match tx.record_event(&event, now).await {
            Ok(id) => id,
            Err(e) => {
                drop(tx.rollback().await);
                return self
                    .refuse(org, trace, "commit", LoginError::Store(e), now)
                    .await;
            }
        };
        if let Some(code) = code {
            if let Err(e) = tx.create_login_code(&code.record(&outcome), now).await {
                drop(tx.rollback().await);
                let error = LoginError::Store(e);
                return self
                    .refuse(org, Trace::default(), "login-code", error, now)
                    .await;
            }
        }
        if let Err(e) = tx.commit().await {
            return self
                .refuse(org, Trace::default(), "commit", LoginError::Store(e), now)
                .await;
        }
        Ok(outcome)
    }

    /// The return target stored with the AuthnRequest this RelayState belongs to, if it was
    /// sent for `org`'s current connection: where to send the browser with the reason when a
    /// login is refused.
    pub async fn return_target_for(
        &self,
        org: OrgId,
        relay_state: &str,
    ) -> Result<Option<String>, StoreError> {
        let (_, found) = self.store.login_context(org, Some(relay_state)).await?;
        Ok(found.and_then(|r| r.return_target))
    }

    /// The request IDs validation may accept: the one the RelayState names (`found`, read
    /// with the org; whatever its state: consuming it in the transaction decides, so a second
    /// use is `replayed`), or, without a RelayState, the newest open requests of the
    /// connection. With the request the RelayState names, when it names one.
    async fn outstanding_requests(
        &self,
        connection: ConnectionId,
        relay_state: Option<&str>,
        found: Option<AuthnRequestRecord>,
        trace: &mut Trace,
        now: OffsetDateTime,
    ) -> Result<Outstanding, LoginError> {
        if relay_state.is_none() {
            let open = self
                .store
                .open_authn_request_ids(connection, now, OPEN_REQUESTS_WITHOUT_RELAY_STATE)
                .await?;
            trace.fact(
                "relay_state",
                json!({ "given": false, "open_requests": open.len() }),
            );
            return Ok(Outstanding {
                ids: open,
                named: None,
            });
        }
        match found.filter(|r| r.connection == connection) {
            Some(request) => {
                trace.fact(
                    "relay_state",
                    json!({
                        "given": true,
                        "request": request.id,
                        "purpose": request.purpose.code(),
                        "expires_at": time_json(Some(request.expires_at)),
                        "consumed": request.consumed_at.is_some(),
                    }),
                );
                Ok(Outstanding {
                    ids: vec![request.id.clone()],
                    named: Some(request),
                })
            }
            None => {
                // An IdP-initiated login may carry a RelayState of its own: not ours, not used.
                trace.fact("relay_state", json!({ "given": true, "request": null }));
                Ok(Outstanding {
                    ids: Vec::new(),
                    named: None,
                })
            }
        }
    }

    /// Writes the trace of a refused or failed attempt in its own statement, and returns the
    /// error.
    async fn refuse<T>(
        &self,
        org: OrgId,
        trace: Trace,
        check: &str,
        error: LoginError,
        now: OffsetDateTime,
    ) -> Result<T, LoginError> {
        let detail = trace.finish(check, Some(&error));
        self.write_trace(org, SSO_LOGIN, &error, detail, now).await;
        Err(error)
    }

    pub(crate) async fn write_trace(
        &self,
        org: OrgId,
        kind: &str,
        error: &LoginError,
        detail: Value,
        now: OffsetDateTime,
    ) {
        let outcome = if error.is_refusal() {
            EventOutcome::Refused
        } else {
            EventOutcome::Failed
        };
        let event = NewEvent::new(org, kind, outcome, error.reason()).detail(detail);
        if let Err(e) = self.store.record_event(&event, now).await {
            tracing::warn!(
                org = org.get(),
                reason = error.reason(),
                "login trace not written: {e}"
            );
        }
    }

    /// Whether `email` may sign in to `org` with a password. The policy question only: refused
    /// when "require SSO" is in effect for the org (SSO in effect and the current configuration
    /// proven by a login since it last changed, so neither a downgrade nor an untried
    /// configuration locks anyone out) and the person is a member or at one of the org's
    /// verified domains. Whether the person belongs to the org is the host product's business.
    pub async fn check_password_login(
        &self,
        email: &Email,
        org: OrgId,
    ) -> Result<sso_policy::PasswordAllowed, crate::error::PasswordLoginError> {
        self.password_check(email, org)
            .await?
            .decision
            .map_err(crate::error::PasswordLoginError::Refused)
    }

    /// [`Provisioner::check_password_login`]'s decision together with the membership it was
    /// decided on, from one read, for callers that also tell whether the person is a member.
    pub async fn password_check(
        &self,
        email: &Email,
        org: OrgId,
    ) -> Result<PasswordCheck, StoreError> {
        let snapshot = self.store.org_snapshot(org).await?;
        let membership = match self.store.user_and_membership(email, org).await? {
            Some((_, membership)) => membership,
            None => None,
        };
        let who = sso_policy::PasswordSubject {
            email_domain: email.domain(),
            membership: membership
                .as_ref()
                .map_or(sso_policy::Membership::NotMember, MembershipRecord::policy),
        };
        Ok(PasswordCheck {
            decision: sso_policy::password_login(&snapshot.policy(), who),
            member: membership.map(|m| m.role),
        })
    }
}

/// A password-login decision and the membership it was made on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PasswordCheck {
    /// Allowed, or refused because "require SSO" applies to this person.
    pub decision: Result<sso_policy::PasswordAllowed, sso_policy::PasswordRefusal>,
    /// The person's role in the org, when the service knows them as a member.
    pub member: Option<sso_policy::Role>,
}

pub(crate) type Failed = (&'static str, LoginError);

pub(crate) fn step(check: &'static str) -> impl Fn(StoreError) -> Failed {
    move |e| (check, LoginError::Store(e))
}

/// The transaction's work, up to (not including) the success trace and the commit. On error,
/// the check that failed and why.
async fn provision(
    tx: &Transaction,
    c: &Checked<'_>,
    trace: &mut Trace,
    now: OffsetDateTime,
) -> Result<LoginOutcome, Failed> {
    let connection = c.connection.id;
    let return_target = spend_one_time_values(tx, c, trace, now).await?;

    let email = c.email.email();
    let (existing, membership) = match tx
        .user_and_membership(email, c.org)
        .await
        .map_err(step("membership"))?
    {
        Some((user, membership)) => (Some(user), membership),
        None => (None, None),
    };
    let policy = c.snapshot.policy();
    let grant = sso_login(
        &policy,
        email.domain(),
        membership
            .as_ref()
            .map_or(Membership::NotMember, MembershipRecord::policy),
    )
    .map_err(|r| ("policy", LoginError::Refused(r)))?;
    trace.passed_with("policy", json!({ "grant": grant.reason() }));
    let user = existing.as_ref().map(|u| u.id);
    let grant = crate::group_roles::apply_group_rules(tx, c, grant, user, trace, now).await?;

    let member = apply_grant(tx, c, &grant, existing, membership, trace, now).await?;
    let projects = match &grant {
        // A user this transaction created holds no access but what it has just granted.
        SsoLoginGrant::NewMember {
            default_projects, ..
        } if member.user_created => default_projects.clone(),
        _ if member.user_created => Vec::new(),
        _ => tx
            .project_access(c.org, member.user.id)
            .await
            .map_err(step("provision"))?,
    };

    let proven_recently = c.connection.policy().proven()
        && c.connection
            .last_successful_login_at
            .is_some_and(|at| now - at < LAST_LOGIN_REFRESH);
    if !proven_recently {
        let recorded = tx
            .record_successful_login(connection, c.connection.config_version, now)
            .await
            .map_err(step("connection-proven"))?;
        trace.fact("proved_configuration", json!(recorded));
    }
    trace.fact("user", json!(member.user.id.get()));
    Ok(LoginOutcome {
        user: member.user,
        user_created: member.user_created,
        org: c.org,
        connection,
        role: member.role,
        projects,
        membership_created: member.membership_created,
        session_not_on_or_after: c.verified.session_not_on_or_after(),
        return_target,
        email_source: c.email.source(),
        assertion_id: c.verified.assertion_id().to_owned(),
        trace: EventId::new(0),
    })
}

/// Consumes the AuthnRequest the response answers (solicited responses) and records the
/// assertion ID, in one round trip where the database allows: a second use of either, on any
/// server, is `replayed`. Returns the request's return target.
async fn spend_one_time_values(
    tx: &Transaction,
    c: &Checked<'_>,
    trace: &mut Trace,
    now: OffsetDateTime,
) -> Result<Option<String>, Failed> {
    let request = c.verified.in_response_to();
    let spent = tx
        .spend_login_values(
            c.connection.id,
            request,
            c.verified.assertion_id(),
            c.verified.remember_until(),
            now,
        )
        .await;
    match spent {
        Err((OneTimeValue::AuthnRequest, e)) => Err(("authn-request", request_error(e))),
        spent => {
            if request.is_some() {
                trace.passed("authn-request");
            }
            let consumed = spent.map_err(|(_, e)| ("replay", assertion_error(e)))?;
            trace.passed("replay");
            Ok(consumed.and_then(|r| r.return_target))
        }
    }
}

/// Consumes AuthnRequest `request` of `connection`, once (check `authn-request`).
pub(crate) async fn consume_request(
    tx: &Transaction,
    connection: ConnectionId,
    request: &str,
    trace: &mut Trace,
    now: OffsetDateTime,
) -> Result<AuthnRequestRecord, Failed> {
    let consumed = tx
        .consume_authn_request(connection, request, now)
        .await
        .map_err(|e| ("authn-request", request_error(e)))?;
    trace.passed("authn-request");
    Ok(consumed)
}

/// Why an AuthnRequest could not be consumed, as the login tells it.
fn request_error(e: StoreError) -> LoginError {
    match e {
        StoreError::Replayed { what } => LoginError::Replayed { what },
        StoreError::Expired { .. } => LoginError::RequestExpired,
        StoreError::NotFound { .. } => LoginError::UnknownRequest,
        other => LoginError::Store(other),
    }
}

/// Why an assertion ID could not be recorded, as the login tells it.
fn assertion_error(e: StoreError) -> LoginError {
    match e {
        StoreError::Replayed { what } => LoginError::Replayed { what },
        other => LoginError::Store(other),
    }
}

/// Records the assertion ID in the replay cache (check `replay`): a second use, on any
/// server, is `replayed`.
pub(crate) async fn record_assertion(
    tx: &Transaction,
    c: &Checked<'_>,
    trace: &mut Trace,
    now: OffsetDateTime,
) -> Result<(), Failed> {
    tx.record_assertion(
        c.connection.id,
        c.verified.assertion_id(),
        c.verified.remember_until(),
        now,
    )
    .await
    .map_err(|e| ("replay", assertion_error(e)))?;
    trace.passed("replay");
    Ok(())
}

/// The member a login signs in, after the policy's grant was applied.
struct Member {
    user: UserRecord,
    user_created: bool,
    role: Role,
    membership_created: bool,
}

/// Applies the policy's grant: an existing member as they are; otherwise the user, the
/// membership and (for a new member) the default projects, created once whatever the races.
async fn apply_grant(
    tx: &Transaction,
    c: &Checked<'_>,
    grant: &SsoLoginGrant<ProjectId>,
    existing: Option<UserRecord>,
    membership: Option<MembershipRecord>,
    trace: &mut Trace,
    now: OffsetDateTime,
) -> Result<Member, Failed> {
    let member = match (grant, existing, membership) {
        (SsoLoginGrant::ExistingMember { role }, Some(user), Some(_)) => Member {
            user,
            user_created: false,
            role: *role,
            membership_created: false,
        },
        (grant, existing, membership) => {
            // Both were just read in this transaction: insert what was missing first, and read
            // back only what a concurrent login created meanwhile.
            let role = grant.role();
            let (user, user_created, membership, membership_created) = match (existing, membership)
            {
                (None, _) => {
                    let (user, membership) = tx
                        .create_member(c.email.email(), c.org, role, CreatedBy::Jit, now)
                        .await
                        .map_err(step("provision"))?;
                    (
                        user.record,
                        user.created,
                        membership.record,
                        membership.created,
                    )
                }
                (Some(user), Some(found)) => (user, false, found, false),
                (Some(user), None) => {
                    let made = tx
                        .create_membership(c.org, user.id, role, CreatedBy::Jit, now)
                        .await
                        .map_err(step("provision"))?;
                    (user, false, made.record, made.created)
                }
            };
            // Created meanwhile by the org's directory, deactivated: refused as if read.
            if membership.suspended_at.is_some() {
                let refusal = sso_policy::SsoLoginRefusal::MemberDeactivated;
                return Err(("policy", LoginError::Refused(refusal)));
            }
            Member {
                user,
                user_created,
                role: membership.role,
                membership_created,
            }
        }
    };
    if let SsoLoginGrant::NewMember {
        default_projects,
        default_projects_withheld,
        ..
    } = grant
    {
        let granted = if member.membership_created && !default_projects.is_empty() {
            tx.grant_project_access(c.org, member.user.id, default_projects, CreatedBy::Jit, now)
                .await
                .map_err(step("provision"))?
        } else {
            0
        };
        trace.passed_with(
            "provision",
            json!({
                "user_created": member.user_created,
                "membership_created": member.membership_created,
                "role": member.role.code(),
                "projects_granted": granted,
                "default_projects": default_projects.iter().map(ProjectId::as_str).collect::<Vec<_>>(),
                "default_projects_withheld": default_projects_withheld,
            }),
        );
    }
    Ok(member)
}
