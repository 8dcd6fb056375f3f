//! Test logins: an admin checks that the org's connection works before relying on it.
//!
//! [`Provisioner::begin_test_login`] sends an AuthnRequest of purpose `test` (the plan must
//! include SSO and a connection must exist; it may still be disabled). The IdP's response
//! comes back through the same ACS URL (or `complete_login`) and goes through every check of
//! a sign-in: the RelayState's request, the signature and conditions, the email, the
//! AuthnRequest consumed and the assertion ID recorded (so it is replay-protected the same
//! way). Then, instead of provisioning, the transaction only previews what just-in-time
//! provisioning would do (`sso_policy::sso_login_preview`) and marks the configuration the
//! test started under as proven, exactly as a sign-in does. Nobody is created, joined or
//! given a project, and the caller gets [`LoginError::TestLoginCompleted`] (or
//! [`LoginError::TestLoginFailed`]), never a login. The result is kept for a week under the
//! test login's id ([`Provisioner::test_login`]), and each response is traced as
//! [`SSO_TEST_LOGIN`].

use serde_json::{Value, json};
use sso_email::EmailSource;
use sso_policy::{
    Membership, Role, SsoLoginGrant, SsoLoginRefusal, SsoOff, sso_login_preview, test_login_allowed,
};
use sso_store::{
    AuthnRequestRecord, EventId, EventOutcome, NewEvent, NewTestLogin, OrgId, ProjectId,
    RequestPurpose, StoreError, TestLoginRecord, TestLoginResult, TestLoginState, Transaction,
};
use time::{Duration, OffsetDateTime};

use crate::error::LoginError;
use crate::login::{
    Checked, Failed, Provisioner, consume_request, record_assertion, step, time_json,
};
use crate::trace::{SSO_TEST_LOGIN, SSO_TEST_LOGIN_START, Trace};

/// How long a test login's result is kept after its request expires.
pub const TEST_RESULT_KEPT: Duration = Duration::days(7);

/// The trace reason of a test login whose response validated and named a person.
const SUCCEEDED: &str = "test-login-succeeded";

/// The test login a response answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TestRequest {
    /// The AuthnRequest's ID, which names the test login.
    pub(crate) id: String,
}

impl TestRequest {
    /// The test login `request` was sent for, if it was sent for one.
    pub(crate) fn of(request: &AuthnRequestRecord) -> Option<Self> {
        (request.purpose == RequestPurpose::Test).then(|| Self {
            id: request.id.clone(),
        })
    }
}

/// A test login, started: open [`redirect_url`](Self::redirect_url) (or serve
/// [`post_form`](Self::post_form)) in a browser and sign in at the IdP.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TestLoginStart {
    /// The IdP's HTTP-Redirect URL carrying the AuthnRequest and the RelayState; empty when
    /// the IdP offers only HTTP-POST.
    pub redirect_url: String,
    /// For IdPs that take requests only by HTTP-POST: an auto-submitting HTML form.
    pub post_form: Option<String>,
    /// The test login's id (the AuthnRequest's ID), for [`Provisioner::test_login`].
    pub test_login: String,
    /// The RelayState sent along.
    pub relay_state: String,
    /// When the request stops being accepted.
    pub expires_at: OffsetDateTime,
    /// The configuration version the test checks (and can prove).
    pub config_version: i64,
    /// Whether the connection is enabled now (a test works either way).
    pub connection_enabled: bool,
}

/// Where a test login stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TestLoginStatus {
    /// Waiting for the IdP's response.
    Pending,
    /// A response validated and named a person by email: the connection works.
    Succeeded,
    /// The last response was refused (see the checks and the reason).
    Failed,
    /// No response came before the request expired.
    Expired,
}

impl TestLoginStatus {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Expired => "expired",
        }
    }
}

/// One check a test login's response went through.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TestLoginCheck {
    /// The check (`sso-testable`, `response-valid`, `email`, `authn-request`, `replay` ...).
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// Why it failed.
    pub reason: Option<String>,
    /// For the admin: what it found (JSON text) or why it failed.
    pub detail: String,
}

/// What a sign-in of the tested person would do, as the test previews it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JitPreview {
    /// They are a member and would sign in with the role they have.
    ExistingMember {
        /// Their role.
        role: Role,
    },
    /// Just-in-time provisioning would add them.
    NewMember {
        /// The role they would get.
        role: Role,
        /// The projects they would get access to.
        projects: Vec<ProjectId>,
        /// Whether the user exists already (a member of another org): then only the
        /// membership would be created.
        user_exists: bool,
        /// Default projects are configured but the plan no longer applies them.
        default_projects_withheld: bool,
    },
    /// The sign-in would be refused.
    Refused {
        /// The refusal's reason code (`domain-not-verified`, `not-a-member` ...).
        reason: String,
        /// For the admin.
        detail: String,
    },
}

/// A test login and what it found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TestLogin {
    /// Its id (the AuthnRequest's ID).
    pub id: String,
    /// The org whose connection was tested.
    pub org: OrgId,
    /// Where it stands.
    pub state: TestLoginStatus,
    /// Who started it.
    pub started_by: String,
    /// When it started.
    pub started_at: OffsetDateTime,
    /// When its request stops being accepted.
    pub expires_at: OffsetDateTime,
    /// When the response that decided its state was processed.
    pub completed_at: Option<OffsetDateTime>,
    /// The connection's configuration version when it started: the one it tests.
    pub config_version: i64,
    /// Whether it marked that configuration as proven (lockout protection then lets "require
    /// SSO" apply). Not when the configuration changed while the test ran.
    pub proved_configuration: bool,
    /// Whether the connection was enabled when the response arrived.
    pub connection_enabled: Option<bool>,
    /// Why it failed.
    pub reason: Option<String>,
    /// The failed check's detail, for the admin.
    pub message: Option<String>,
    /// Every check the response went through, in order.
    pub checks: Vec<TestLoginCheck>,
    /// The email found.
    pub email: Option<String>,
    /// Where it was found.
    pub email_source: Option<EmailSource>,
    /// What a sign-in of that person would do.
    pub jit: Option<JitPreview>,
    /// The trace of the response.
    pub trace: Option<EventId>,
}

impl Provisioner {
    /// Starts a test login of `org`'s connection for `actor`: an AuthnRequest marked as a
    /// test, to open at the IdP like [`begin_login`](Self::begin_login)'s. Works when the plan includes SSO and a connection exists, enabled
    /// or not, so a connection can be tested before it is switched on. Audited as
    /// [`SSO_TEST_LOGIN_START`] in the same transaction; a refusal is recorded too.
    pub async fn begin_test_login(
        &self,
        actor: &str,
        org: OrgId,
        now: OffsetDateTime,
    ) -> Result<TestLoginStart, LoginError> {
        let snapshot = self.snapshot(org).await?;
        let connection = match (test_login_allowed(&snapshot.policy()), &snapshot.connection) {
            (Ok(()), Some(connection)) => connection,
            (Err(off), _) => {
                let error = LoginError::SsoOff(off);
                return Err(self.refuse_test_start(actor, org, error, now).await);
            }
            (Ok(()), None) => {
                let error = LoginError::SsoOff(SsoOff::NoConnection);
                return Err(self.refuse_test_start(actor, org, error, now).await);
            }
        };
        let (request, start) = match self.prepare_request(connection, None, now) {
            Ok(prepared) => prepared,
            Err(error) => return Err(self.refuse_test_start(actor, org, error, now).await),
        };
        let test = NewTestLogin {
            org,
            actor: actor.to_owned(),
            config_version: connection.config_version,
            keep_until: start.expires_at + TEST_RESULT_KEPT,
        };
        let event = NewEvent::new(org, SSO_TEST_LOGIN_START, EventOutcome::Success, "started")
            .actor(actor)
            .detail(json!({
                "test_login": start.request_id,
                "connection": connection.id.get(),
                "config_version": connection.config_version,
                "connection_enabled": connection.enabled,
                "expires_at": time_json(Some(start.expires_at)),
            }));
        let tx = self.store.begin().await?;
        tx.create_test_login(&request, &test, now).await?;
        tx.record_event(&event, now).await?;
        tx.commit().await?;
        Ok(TestLoginStart {
            redirect_url: start.redirect_url,
            post_form: start.post_form,
            test_login: start.request_id,
            relay_state: start.relay_state,
            expires_at: start.expires_at,
            config_version: connection.config_version,
            connection_enabled: connection.enabled,
        })
    }

    /// Test login `id` of `org` and what it found (`not-found` when `org` has no such test
    /// login, or its result is older than [`TEST_RESULT_KEPT`] past its expiry and purged).
    pub async fn test_login(
        &self,
        org: OrgId,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<TestLogin, StoreError> {
        let record = self
            .store
            .test_login(org, id)
            .await?
            .ok_or(StoreError::NotFound { what: "test login" })?;
        Ok(view(record, now))
    }

    /// Records a refused test-login start with its actor, and returns the error.
    async fn refuse_test_start(
        &self,
        actor: &str,
        org: OrgId,
        error: LoginError,
        now: OffsetDateTime,
    ) -> LoginError {
        let check = match error {
            LoginError::SsoOff(_) => "sso-testable",
            _ => "authn-request",
        };
        let detail = Trace::default().finish(check, Some(&error));
        let outcome = if error.is_refusal() {
            EventOutcome::Refused
        } else {
            EventOutcome::Failed
        };
        let event = NewEvent::new(org, SSO_TEST_LOGIN_START, outcome, error.reason())
            .actor(actor)
            .detail(detail);
        if let Err(e) = self.store.record_event(&event, now).await {
            tracing::warn!(org = org.get(), "test-login start not recorded: {e}");
        }
        error
    }

    /// The transaction of a test login's response that passed every check before it: the
    /// request consumed, the assertion ID recorded, the JIT preview, the configuration marked
    /// as proven, the trace and the result. Provisions nothing. Returns the error the caller
    /// gets: [`LoginError::TestLoginCompleted`], or the refusal wrapped in
    /// [`LoginError::TestLoginFailed`].
    pub(crate) async fn commit_test(
        &self,
        c: &Checked<'_>,
        test: &TestRequest,
        mut trace: Trace,
        now: OffsetDateTime,
    ) -> LoginError {
        let org = c.org;
        let tx = match self.store.begin().await {
            Ok(tx) => tx,
            Err(e) => {
                let error = LoginError::Store(e);
                return self
                    .refuse_test(org, test, trace, "commit", error, now)
                    .await;
            }
        };
        let proved = match test_in_transaction(&tx, c, test, &mut trace, now).await {
            Ok(proved) => proved,
            Err((check, error)) => {
                drop(tx.rollback().await);
                return self.refuse_test(org, test, trace, check, error, now).await;
            }
        };
        let detail = std::mem::take(&mut trace).finish("", None);
        let event = NewEvent::new(org, SSO_TEST_LOGIN, EventOutcome::Success, SUCCEEDED)
            .detail(detail.clone());
        let written = match tx.record_event(&event, now).await {
            Ok(id) => {
                let result = TestLoginResult {
                    state: TestLoginState::Succeeded,
                    reason: None,
                    trace: Some(id),
                    proved,
                    result: detail,
                };
                tx.record_test_login_result(&test.id, &result, now).await
            }
            Err(e) => Err(e),
        };
        let committed = match written {
            Ok(_) => tx.commit().await,
            Err(e) => {
                drop(tx.rollback().await);
                Err(e)
            }
        };
        if let Err(e) = committed {
            let error = LoginError::Store(e);
            return self
                .refuse_test(org, test, Trace::default(), "commit", error, now)
                .await;
        }
        LoginError::TestLoginCompleted {
            test_login: test.id.clone(),
        }
    }

    /// Writes the trace of a refused test-login response and records the test as failed
    /// (one transaction, best effort), and returns the error the caller gets.
    pub(crate) async fn refuse_test(
        &self,
        org: OrgId,
        test: &TestRequest,
        trace: Trace,
        check: &str,
        error: LoginError,
        now: OffsetDateTime,
    ) -> LoginError {
        let detail = trace.finish(check, Some(&error));
        let outcome = if error.is_refusal() {
            EventOutcome::Refused
        } else {
            EventOutcome::Failed
        };
        let event =
            NewEvent::new(org, SSO_TEST_LOGIN, outcome, error.reason()).detail(detail.clone());
        let result = TestLoginResult {
            state: TestLoginState::Failed,
            reason: Some(error.reason().to_owned()),
            trace: None,
            proved: false,
            result: detail,
        };
        if let Err(e) = self.record_failed_test(test, &event, result, now).await {
            tracing::warn!(
                org = org.get(),
                reason = error.reason(),
                "test-login result not recorded: {e}"
            );
        }
        LoginError::TestLoginFailed {
            test_login: test.id.clone(),
            cause: Box::new(error),
        }
    }

    async fn record_failed_test(
        &self,
        test: &TestRequest,
        event: &NewEvent,
        mut result: TestLoginResult,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let tx = self.store.begin().await?;
        result.trace = Some(tx.record_event(event, now).await?);
        tx.record_test_login_result(&test.id, &result, now).await?;
        tx.commit().await
    }
}

/// A test's work in its transaction, writing only the one-time values and the proof: the
/// request consumed and the assertion ID recorded (a replay is refused as for a sign-in),
/// what JIT would do, and the configuration the test started under marked as proven when it
/// is still the current one. Returns whether it was marked.
async fn test_in_transaction(
    tx: &Transaction,
    c: &Checked<'_>,
    test: &TestRequest,
    trace: &mut Trace,
    now: OffsetDateTime,
) -> Result<bool, Failed> {
    // Validation accepted only this request's ID as `InResponseTo` (or none, for an
    // unsolicited response carrying the test's RelayState): the test's request is the one
    // consumed either way.
    consume_request(tx, c.connection.id, &test.id, trace, now).await?;
    record_assertion(tx, c, trace, now).await?;
    let record = tx
        .test_login(c.org, &test.id)
        .await
        .map_err(step("test-login"))?
        .ok_or(("test-login", LoginError::UnknownRequest))?;

    let email = c.email.email();
    let user = tx.user_by_email(email).await.map_err(step("jit-preview"))?;
    let membership = match &user {
        Some(user) => tx
            .membership(c.org, user.id)
            .await
            .map_err(step("jit-preview"))?,
        None => None,
    };
    let preview = sso_login_preview(
        &c.snapshot.policy(),
        email.domain(),
        membership
            .as_ref()
            .map_or(Membership::NotMember, sso_store::MembershipRecord::policy),
    );
    trace.fact("jit", preview_json(&preview, user.is_some()));

    let unchanged = c.connection.config_version == record.config_version;
    let proved = if unchanged {
        tx.record_successful_login(c.connection.id, record.config_version, now)
            .await
            .map_err(step("connection-proven"))?
    } else {
        false
    };
    trace.fact("tested_config_version", json!(record.config_version));
    trace.fact("configuration_changed_since_start", json!(!unchanged));
    trace.fact("proved_configuration", json!(proved));
    Ok(proved)
}

/// The JIT preview as the trace and the stored result hold it.
fn preview_json(
    preview: &Result<SsoLoginGrant<ProjectId>, SsoLoginRefusal>,
    user_exists: bool,
) -> Value {
    match preview {
        Ok(SsoLoginGrant::ExistingMember { role }) => json!({
            "decision": "existing-member",
            "role": role.code(),
        }),
        Ok(SsoLoginGrant::NewMember {
            role,
            default_projects,
            default_projects_withheld,
        }) => json!({
            "decision": "jit-new-member",
            "role": role.code(),
            "projects": default_projects.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            "user_exists": user_exists,
            "default_projects_withheld": default_projects_withheld,
        }),
        Err(refusal) => json!({
            "decision": "refused",
            "reason": refusal.reason(),
            "detail": refusal.to_string(),
        }),
    }
}

fn preview_from_json(v: &Value) -> Option<JitPreview> {
    let role = || v.get("role")?.as_str().and_then(Role::from_code);
    match v.get("decision")?.as_str()? {
        "existing-member" => Some(JitPreview::ExistingMember { role: role()? }),
        "jit-new-member" => Some(JitPreview::NewMember {
            role: role()?,
            projects: v
                .get("projects")?
                .as_array()?
                .iter()
                .map(|p| p.as_str().and_then(|p| ProjectId::parse(p).ok()))
                .collect::<Option<Vec<_>>>()?,
            user_exists: v.get("user_exists")?.as_bool()?,
            default_projects_withheld: v.get("default_projects_withheld")?.as_bool()?,
        }),
        "refused" => Some(JitPreview::Refused {
            reason: v.get("reason")?.as_str()?.to_owned(),
            detail: v.get("detail")?.as_str()?.to_owned(),
        }),
        _ => None,
    }
}

fn check_from_json(v: &Value) -> Option<TestLoginCheck> {
    let passed = v.get("result")?.as_str()? == "passed";
    let detail = match v.get("detail") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    };
    Some(TestLoginCheck {
        name: v.get("check")?.as_str()?.to_owned(),
        passed,
        reason: v.get("reason").and_then(Value::as_str).map(str::to_owned),
        detail,
    })
}

/// A stored test login as the admin reads it at `now`. The result is JSON this module wrote;
/// a part that does not read back is left out rather than failing the whole answer.
fn view(record: TestLoginRecord, now: OffsetDateTime) -> TestLogin {
    let state = match record.state {
        TestLoginState::Succeeded => TestLoginStatus::Succeeded,
        TestLoginState::Failed => TestLoginStatus::Failed,
        _ if record.expires_at <= now => TestLoginStatus::Expired,
        _ => TestLoginStatus::Pending,
    };
    let result = record.result.unwrap_or(Value::Null);
    let checks: Vec<TestLoginCheck> = result
        .get("checks")
        .and_then(Value::as_array)
        .map(|checks| checks.iter().filter_map(check_from_json).collect())
        .unwrap_or_default();
    let message = checks
        .iter()
        .rev()
        .find(|c| !c.passed)
        .map(|c| c.detail.clone());
    let email = result.get("email");
    let source = email.and_then(|e| e.get("source")).and_then(Value::as_str);
    TestLogin {
        id: record.id,
        org: record.org,
        state,
        started_by: record.actor,
        started_at: record.created_at,
        expires_at: record.expires_at,
        completed_at: record.completed_at,
        config_version: record.config_version,
        proved_configuration: record.proved,
        connection_enabled: result.get("connection_enabled").and_then(Value::as_bool),
        reason: record.reason,
        message,
        checks,
        email: email
            .and_then(|e| e.get("email"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        email_source: source
            .and_then(|code| EmailSource::ORDER.into_iter().find(|s| s.code() == code)),
        jit: result.get("jit").and_then(preview_from_json),
        trace: record.trace,
    }
}
