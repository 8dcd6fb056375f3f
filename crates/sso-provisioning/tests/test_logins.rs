//! Test logins end to end, on both backends: validated and traced like a sign-in, replay
//! protected, provisioning nobody, previewing JIT, and proving the configuration they started
//! under.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::{Arc, LazyLock};

use sso_email::{Email, EmailSource};
use sso_policy::{Plan, Role};
use sso_provisioning::{
    JitPreview, LoginError, Provisioner, SSO_LOGIN, SSO_TEST_LOGIN, SSO_TEST_LOGIN_START,
    TestLogin, TestLoginStart, TestLoginStatus,
};
use sso_store::entity::{
    authn_request, consumed_assertion, login_code, membership, project_access, user,
};
use sso_store::sea_orm::{EntityTrait, PaginatorTrait};
use sso_store::{CreatedBy, EventOutcome, EventQuery, EventRecord, OrgId};
use sso_testkit::idp::{BASE_URL, IDP_SSO_URL, Idp, Response};
use sso_testkit::{TestDb, on_both_backends};
use time::{Duration, OffsetDateTime, macros::datetime};

const BASE: OffsetDateTime = datetime!(2025-03-01 09:00 UTC);
const ADMIN: &str = "admin@example.com";

static IDP: LazyLock<Idp> = LazyLock::new(|| Idp::generate("idp.test"));
/// Same entity ID and URLs, another key: a response it signs has the wrong certificate.
static WRONG_IDP: LazyLock<Idp> = LazyLock::new(|| Idp::generate("idp.test impostor"));

fn at(seconds: i64) -> OffsetDateTime {
    BASE + Duration::seconds(seconds)
}

async fn provisioner(db: &TestDb) -> Provisioner {
    Provisioner::new(db.connect().await, BASE_URL)
}

/// An org with the verified domain `example.com`, a connection to [`IDP`] (enabled or not)
/// and JIT as given.
async fn org(p: &Provisioner, plan: Plan, jit: Option<Role>, enabled: bool) -> OrgId {
    let org = p.create_org(ADMIN, "Example", plan, BASE).await.unwrap().id;
    p.add_verified_domain(ADMIN, org, "example.com", BASE)
        .await
        .unwrap();
    p.import_idp_metadata(ADMIN, org, &IDP.metadata(), BASE)
        .await
        .unwrap();
    p.set_connection_enabled(ADMIN, org, enabled, BASE)
        .await
        .unwrap();
    let _ = p.set_jit(ADMIN, org, jit, &[], BASE).await.unwrap();
    org
}

/// A member of `org` with `role`, as the host product's sync would add them.
async fn member(p: &Provisioner, org: OrgId, email: &str, role: Role) {
    let email = Email::parse(email).unwrap();
    let user = p.store().get_or_create_user(&email, BASE).await.unwrap();
    p.store()
        .ensure_membership(org, user.record.id, role, CreatedBy::Admin, BASE)
        .await
        .unwrap();
}

/// Rows that provisioning writes: users, memberships, project access.
async fn provisioned(p: &Provisioner) -> (u64, u64, u64) {
    let db = p.store().connection();
    (
        user::Entity::find().count(db).await.unwrap(),
        membership::Entity::find().count(db).await.unwrap(),
        project_access::Entity::find().count(db).await.unwrap(),
    )
}

/// `signer`'s response for `email` to test login `start`, issued at `t`.
fn answer(signer: &Idp, org: OrgId, start: &TestLoginStart, email: &str, t: i64) -> Vec<u8> {
    signer.response(
        &Response::new(org, &format!("_t{t}_{}", start.test_login), email, at(t))
            .answering(&start.test_login),
    )
}

/// Starts a test login at `t` and answers it for `email`, signed by `signer`, at `t + 1`.
async fn run_test(
    p: &Provisioner,
    org: OrgId,
    signer: &Idp,
    email: &str,
    t: i64,
) -> (TestLoginStart, LoginError) {
    let start = p.begin_test_login(ADMIN, org, at(t)).await.unwrap();
    let raw = answer(signer, org, &start, email, t + 1);
    let error = p
        .complete_login(org, &raw, Some(&start.relay_state), at(t + 1))
        .await
        .unwrap_err();
    (start, error)
}

async fn result(p: &Provisioner, org: OrgId, start: &TestLoginStart, t: i64) -> TestLogin {
    p.test_login(org, &start.test_login, at(t)).await.unwrap()
}

async fn traces(p: &Provisioner, org: OrgId, kind: &str) -> Vec<EventRecord> {
    p.list_traces(org, &EventQuery::new(1000).kind(kind))
        .await
        .unwrap()
        .events
}

/// Whether the connection's current configuration is proven (lockout protection).
async fn proven(p: &Provisioner, org: OrgId) -> bool {
    p.connection(org).await.unwrap().policy().proven()
}

on_both_backends!(
    provisions_nothing_and_proves,
    jit_preview_for_each_kind_of_person,
    wrong_certificate_fails_and_proves_nothing,
    replays_are_refused,
    never_a_sign_in,
    disabled_connection_and_plan,
    configuration_changed_meanwhile,
    expiry_and_other_orgs,
);

/// A new person at a verified domain on Enterprise: the test creates and changes nothing,
/// says JIT would add them with the default role and projects, consumes its request, records
/// the assertion, and proves the configuration, so require-SSO may go on.
async fn provisions_nothing_and_proves(db: TestDb) {
    let p = provisioner(&db).await;
    let org = org(&p, Plan::Enterprise, Some(Role::Manager), true).await;
    let handbook = sso_store::ProjectId::parse("handbook").unwrap();
    p.store()
        .upsert_projects(
            org,
            &[sso_store::NewProject {
                id: handbook.clone(),
                name: "Handbook".to_owned(),
            }],
            BASE,
        )
        .await
        .unwrap();
    let _ = p
        .set_jit(
            ADMIN,
            org,
            Some(Role::Manager),
            std::slice::from_ref(&handbook),
            BASE,
        )
        .await
        .unwrap();
    member(&p, org, "boss@example.com", Role::Admin).await;
    let refused = p.set_require_sso(ADMIN, org, true, at(10)).await;
    assert_eq!(refused.unwrap_err().reason(), "no-sso-login-since-change");
    let before = provisioned(&p).await;
    assert_eq!(before, (1, 1, 0));

    let start = p.begin_test_login(ADMIN, org, at(60)).await.unwrap();
    assert!(start.redirect_url.starts_with(IDP_SSO_URL), "{start:?}");
    assert!(start.redirect_url.contains("SAMLRequest="));
    assert!(start.connection_enabled);
    assert_eq!(start.config_version, 1);
    assert_eq!(start.expires_at, at(60) + Duration::minutes(10));
    let pending = result(&p, org, &start, 60).await;
    assert_eq!(pending.state, TestLoginStatus::Pending);
    assert_eq!(pending.started_by, ADMIN);

    let raw = answer(&IDP, org, &start, "New.Person@Example.com", 61);
    let done = p
        .complete_login(org, &raw, Some(&start.relay_state), at(62))
        .await
        .unwrap_err();
    assert!(
        matches!(&done, LoginError::TestLoginCompleted { test_login } if *test_login == start.test_login),
        "{done:?}"
    );
    assert_eq!(done.reason(), "test-login-completed");

    assert_eq!(provisioned(&p).await, before, "nothing provisioned");
    let request = authn_request::Entity::find_by_id(start.test_login.clone())
        .one(p.store().connection())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(request.purpose, "test");
    assert!(request.consumed_at.is_some(), "the request is consumed");
    let assertions = consumed_assertion::Entity::find()
        .count(p.store().connection())
        .await
        .unwrap();
    assert_eq!(assertions, 1, "the assertion ID is recorded");

    let test = result(&p, org, &start, 63).await;
    assert_eq!(test.state, TestLoginStatus::Succeeded);
    assert!(test.proved_configuration);
    assert_eq!(test.config_version, 1);
    assert_eq!(test.connection_enabled, Some(true));
    assert_eq!(test.email.as_deref(), Some("new.person@example.com"));
    assert_eq!(test.email_source, Some(EmailSource::NameId));
    assert_eq!(
        test.jit,
        Some(JitPreview::NewMember {
            role: Role::Manager,
            projects: vec![handbook],
            user_exists: false,
            default_projects_withheld: false,
        })
    );
    assert_eq!(
        (test.reason.as_deref(), test.message.as_deref()),
        (None, None)
    );
    let names: Vec<&str> = test.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "sso-testable",
            "response-valid",
            "email",
            "authn-request",
            "replay"
        ]
    );
    assert!(test.checks.iter().all(|c| c.passed));

    let trace = &traces(&p, org, SSO_TEST_LOGIN).await[0];
    assert_eq!(test.trace, Some(trace.id));
    assert_eq!(
        (trace.outcome, trace.reason.as_str()),
        (EventOutcome::Success, "test-login-succeeded")
    );
    assert_eq!(trace.detail["email"]["source"], "name-id");
    assert_eq!(trace.detail["jit"]["decision"], "jit-new-member");
    assert!(traces(&p, org, SSO_LOGIN).await.is_empty(), "not a sign-in");
    let started = &traces(&p, org, SSO_TEST_LOGIN_START).await[0];
    assert_eq!(started.actor.as_deref(), Some(ADMIN));

    // The configuration is proven: require-SSO may go on, and applies to the members.
    assert!(proven(&p, org).await);
    let _ = p.set_require_sso(ADMIN, org, true, at(70)).await.unwrap();
    let boss = Email::parse("boss@example.com").unwrap();
    let refused = p.check_password_login(&boss, org).await.unwrap_err();
    assert_eq!(refused.reason(), "sso-required");
}

/// The preview for an existing member (keeps the role), a known user new to the org, a
/// person at an unverified domain (would be refused; the test still succeeds: the connection
/// works), and a new person with JIT off.
async fn jit_preview_for_each_kind_of_person(db: TestDb) {
    let p = provisioner(&db).await;
    let org = org(&p, Plan::Growth, Some(Role::Member), true).await;
    member(&p, org, "jane@example.com", Role::Admin).await;
    let elsewhere = p
        .create_org(ADMIN, "Elsewhere", Plan::Growth, BASE)
        .await
        .unwrap()
        .id;
    member(&p, elsewhere, "bob@example.com", Role::Viewer).await;
    let before = provisioned(&p).await;

    let (start, _) = run_test(&p, org, &IDP, "jane@example.com", 60).await;
    let test = result(&p, org, &start, 70).await;
    assert_eq!(
        test.jit,
        Some(JitPreview::ExistingMember { role: Role::Admin })
    );

    let (start, _) = run_test(&p, org, &IDP, "bob@example.com", 80).await;
    let test = result(&p, org, &start, 90).await;
    assert_eq!(
        test.jit,
        Some(JitPreview::NewMember {
            role: Role::Member,
            projects: Vec::new(),
            user_exists: true,
            default_projects_withheld: false,
        })
    );

    let (start, done) = run_test(&p, org, &IDP, "someone@other.example", 100).await;
    assert_eq!(done.reason(), "test-login-completed");
    let test = result(&p, org, &start, 110).await;
    assert_eq!(test.state, TestLoginStatus::Succeeded);
    assert!(test.proved_configuration);
    match &test.jit {
        Some(JitPreview::Refused { reason, detail }) => {
            assert_eq!(reason, "domain-not-verified");
            assert!(detail.contains("other.example"), "{detail}");
        }
        other => panic!("{other:?}"),
    }

    let _ = p.set_jit(ADMIN, org, None, &[], at(120)).await.unwrap();
    let (start, _) = run_test(&p, org, &IDP, "new@example.com", 130).await;
    let test = result(&p, org, &start, 140).await;
    assert!(
        matches!(&test.jit, Some(JitPreview::Refused { reason, .. }) if reason == "not-a-member"),
        "{:?}",
        test.jit
    );
    assert_eq!(provisioned(&p).await, before, "nothing provisioned");
}

/// A response signed with a key the configuration does not trust (no KeyInfo: the signature
/// verifies with none of the trusted keys): the test fails at `response-valid`, is recorded and traced as failed, and proves nothing. The same test may
/// still succeed with a good response.
async fn wrong_certificate_fails_and_proves_nothing(db: TestDb) {
    let p = provisioner(&db).await;
    let org = org(&p, Plan::Growth, Some(Role::Member), true).await;
    let (start, failed) = run_test(&p, org, &WRONG_IDP, "jane@example.com", 60).await;
    match &failed {
        LoginError::TestLoginFailed { test_login, cause } => {
            assert_eq!(test_login, &start.test_login);
            assert_eq!(cause.reason(), "signature-invalid", "{cause}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(failed.reason(), "signature-invalid");

    let test = result(&p, org, &start, 62).await;
    assert_eq!(test.state, TestLoginStatus::Failed);
    assert_eq!(test.reason.as_deref(), Some("signature-invalid"));
    assert!(!test.proved_configuration);
    assert!(test.message.as_deref().is_some_and(|m| !m.is_empty()));
    let last = test.checks.last().unwrap();
    assert_eq!(
        (last.name.as_str(), last.passed, last.reason.as_deref()),
        ("response-valid", false, Some("signature-invalid"))
    );
    assert!(
        test.checks[..test.checks.len() - 1]
            .iter()
            .all(|c| c.passed)
    );
    assert_eq!((test.email, test.jit), (None, None));
    assert!(!proven(&p, org).await);
    let trace = &traces(&p, org, SSO_TEST_LOGIN).await[0];
    assert_eq!(
        (trace.outcome, trace.reason.as_str()),
        (EventOutcome::Refused, "signature-invalid")
    );
    assert_eq!(test.trace, Some(trace.id));
    assert_eq!(
        p.set_require_sso(ADMIN, org, true, at(63))
            .await
            .unwrap_err()
            .reason(),
        "no-sso-login-since-change"
    );

    // The request was not consumed by the refused response: a good one still completes it.
    let raw = answer(&IDP, org, &start, "jane@example.com", 64);
    let done = p
        .complete_login(org, &raw, Some(&start.relay_state), at(64))
        .await
        .unwrap_err();
    assert_eq!(done.reason(), "test-login-completed");
    let test = result(&p, org, &start, 65).await;
    assert_eq!(test.state, TestLoginStatus::Succeeded);
    assert_eq!(test.reason, None);
    assert!(test.proved_configuration && proven(&p, org).await);
}

/// A test response used twice is `replayed`, on any server: the second use is traced and the
/// recorded success stays. Submitted eight times at once, exactly one completes.
async fn replays_are_refused(db: TestDb) {
    let p = Arc::new(provisioner(&db).await);
    let org = org(&p, Plan::Growth, Some(Role::Member), true).await;
    let start = p.begin_test_login(ADMIN, org, at(60)).await.unwrap();
    let raw = Arc::new(answer(&IDP, org, &start, "jane@example.com", 60));
    let relay = Arc::new(start.relay_state.clone());
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (p, raw, relay) = (p.clone(), raw.clone(), relay.clone());
            tokio::spawn(async move { p.complete_login(org, &raw, Some(&relay), at(61)).await })
        })
        .collect();
    let mut reasons = Vec::new();
    for task in tasks {
        reasons.push(task.await.unwrap().unwrap_err().reason());
    }
    reasons.sort_unstable();
    let mut expected = vec!["replayed"; 7];
    expected.push("test-login-completed");
    expected.sort_unstable();
    assert_eq!(reasons, expected);

    let again = p
        .complete_login(org, &raw, Some(&relay), at(62))
        .await
        .unwrap_err();
    assert!(
        matches!(&again, LoginError::TestLoginFailed { cause, .. } if matches!(**cause, LoginError::Replayed { .. })),
        "{again:?}"
    );
    let test = result(&p, org, &start, 63).await;
    assert_eq!(test.state, TestLoginStatus::Succeeded, "a success is final");
    let traced = traces(&p, org, SSO_TEST_LOGIN).await;
    assert_eq!(traced.len(), 9);
    assert_eq!(
        traced
            .iter()
            .filter(|t| t.outcome == EventOutcome::Refused && t.reason == "replayed")
            .count(),
        8
    );
    assert_eq!(provisioned(&p).await, (0, 0, 0));
}

/// However it is submitted, a test response never becomes a sign-in: not through the ACS
/// path that issues login codes, not without its RelayState, and not under a sign-in's
/// RelayState.
async fn never_a_sign_in(db: TestDb) {
    let p = provisioner(&db).await;
    let org = org(&p, Plan::Growth, Some(Role::Member), true).await;

    let start = p.begin_test_login(ADMIN, org, at(60)).await.unwrap();
    let raw = answer(&IDP, org, &start, "jane@example.com", 60);
    let error = p
        .complete_login_with_code(org, &raw, Some(&start.relay_state), at(61))
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "test-login-completed");
    let codes = login_code::Entity::find()
        .count(p.store().connection())
        .await
        .unwrap();
    assert_eq!(codes, 0, "no login code");

    // An IdP that drops the RelayState: the signed InResponseTo names the test.
    let start = p.begin_test_login(ADMIN, org, at(70)).await.unwrap();
    let raw = answer(&IDP, org, &start, "jane@example.com", 70);
    let error = p.complete_login(org, &raw, None, at(71)).await.unwrap_err();
    assert_eq!(error.test_login(), Some(start.test_login.as_str()));
    assert_eq!(error.reason(), "test-login-completed");
    assert_eq!(
        result(&p, org, &start, 72).await.state,
        TestLoginStatus::Succeeded
    );

    // A test response under a sign-in's RelayState answers the wrong request.
    let start = p.begin_test_login(ADMIN, org, at(80)).await.unwrap();
    let login = p.begin_login(org, Some("/home"), at(80)).await.unwrap();
    let raw = answer(&IDP, org, &start, "jane@example.com", 80);
    let error = p
        .complete_login(org, &raw, Some(&login.relay_state), at(81))
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "wrong-in-response-to", "{error}");
    assert_eq!(
        result(&p, org, &start, 82).await.state,
        TestLoginStatus::Pending
    );
    assert_eq!(provisioned(&p).await, (0, 0, 0));
}

/// A disabled connection can be tested (and proven, previewing JIT as once enabled) though
/// nobody can sign in through it; without SSO on the plan or without a connection there is
/// nothing to test; a downgrade while the test runs fails it.
async fn disabled_connection_and_plan(db: TestDb) {
    let p = provisioner(&db).await;
    let org = org(&p, Plan::Growth, Some(Role::Member), false).await;
    let refused = p.begin_login(org, None, at(10)).await.unwrap_err();
    assert_eq!(refused.reason(), "connection-disabled");

    let (start, done) = run_test(&p, org, &IDP, "jane@example.com", 60).await;
    assert!(!start.connection_enabled);
    assert_eq!(done.reason(), "test-login-completed");
    let test = result(&p, org, &start, 62).await;
    assert_eq!(test.state, TestLoginStatus::Succeeded);
    assert_eq!(test.connection_enabled, Some(false));
    assert!(test.proved_configuration);
    assert_eq!(test.checks[0].name, "sso-testable");
    assert!(matches!(test.jit, Some(JitPreview::NewMember { .. })));
    assert_eq!(provisioned(&p).await, (0, 0, 0));
    // Enabling it keeps the proof: require-SSO may go on at once.
    p.set_connection_enabled(ADMIN, org, true, at(63))
        .await
        .unwrap();
    let _ = p.set_require_sso(ADMIN, org, true, at(64)).await.unwrap();

    // The plan loses SSO while a test runs: its response is refused and the test fails.
    let start = p.begin_test_login(ADMIN, org, at(70)).await.unwrap();
    p.set_plan(ADMIN, org, Plan::Plus, at(71)).await.unwrap();
    let raw = answer(&IDP, org, &start, "jane@example.com", 72);
    let error = p
        .complete_login(org, &raw, Some(&start.relay_state), at(72))
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "plan-without-sso");
    assert_eq!(error.test_login(), Some(start.test_login.as_str()));
    let test = result(&p, org, &start, 73).await;
    assert_eq!(test.state, TestLoginStatus::Failed);
    assert_eq!(test.checks[0].name, "sso-testable");

    let refused = p.begin_test_login(ADMIN, org, at(80)).await.unwrap_err();
    assert_eq!(refused.reason(), "plan-without-sso");
    let bare = p
        .create_org(ADMIN, "Bare", Plan::Growth, BASE)
        .await
        .unwrap()
        .id;
    let refused = p.begin_test_login(ADMIN, bare, at(80)).await.unwrap_err();
    assert_eq!(refused.reason(), "no-connection");
    let event = &traces(&p, bare, SSO_TEST_LOGIN_START).await[0];
    assert_eq!(
        (event.outcome, event.reason.as_str(), event.actor.as_deref()),
        (EventOutcome::Refused, "no-connection", Some(ADMIN))
    );
}

/// The configuration changes between the start and the response: the response is checked
/// against the new configuration, but the test proves neither (it started under the old one).
async fn configuration_changed_meanwhile(db: TestDb) {
    let p = provisioner(&db).await;
    let org = org(&p, Plan::Growth, Some(Role::Member), true).await;
    let start = p.begin_test_login(ADMIN, org, at(60)).await.unwrap();
    assert_eq!(start.config_version, 1);
    // Another clock skew: a configuration change that the same IdP still satisfies.
    let options = sso_provisioning::ValidationOptions {
        clock_skew: Duration::minutes(5),
        ..sso_provisioning::ValidationOptions::default()
    };
    let replaced = p
        .set_connection_options(ADMIN, org, &options, at(61))
        .await
        .unwrap();
    assert_eq!(replaced.config_version, 2);
    let raw = answer(&IDP, org, &start, "jane@example.com", 62);
    let done = p
        .complete_login(org, &raw, Some(&start.relay_state), at(62))
        .await
        .unwrap_err();
    assert_eq!(done.reason(), "test-login-completed");
    let test = result(&p, org, &start, 63).await;
    assert_eq!(test.state, TestLoginStatus::Succeeded);
    assert_eq!(test.config_version, 1);
    assert!(!test.proved_configuration);
    assert!(!proven(&p, org).await, "version 2 is not proven");
    let trace = &traces(&p, org, SSO_TEST_LOGIN).await[0];
    assert_eq!(trace.detail["configuration_changed_since_start"], true);

    // A test of the new configuration proves it.
    let (start, _) = run_test(&p, org, &IDP, "jane@example.com", 70).await;
    let test = result(&p, org, &start, 72).await;
    assert_eq!(test.config_version, 2);
    assert!(test.proved_configuration && proven(&p, org).await);
}

/// An unanswered test expires; a test login is only ever read through its own org; the
/// result is purged a week after the request expired.
async fn expiry_and_other_orgs(db: TestDb) {
    let p = provisioner(&db).await;
    let org = org(&p, Plan::Growth, Some(Role::Member), true).await;
    let other = p
        .create_org(ADMIN, "Other", Plan::Growth, BASE)
        .await
        .unwrap()
        .id;
    let start = p.begin_test_login(ADMIN, org, at(60)).await.unwrap();
    assert_eq!(
        result(&p, org, &start, 60 + 599).await.state,
        TestLoginStatus::Pending
    );
    assert_eq!(
        result(&p, org, &start, 60 + 600).await.state,
        TestLoginStatus::Expired
    );
    let late = answer(&IDP, org, &start, "jane@example.com", 60 + 601);
    let error = p
        .complete_login(org, &late, Some(&start.relay_state), at(60 + 601))
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "request-expired");
    assert_eq!(
        result(&p, org, &start, 60 + 602).await.state,
        TestLoginStatus::Failed
    );

    let missing = p
        .test_login(other, &start.test_login, at(61))
        .await
        .unwrap_err();
    assert_eq!(missing.reason(), "not-found");
    let missing = p.test_login(org, "_nope", at(61)).await.unwrap_err();
    assert_eq!(missing.reason(), "not-found");

    let week = Duration::days(7).whole_seconds();
    let kept = p.purge_expired(at(60 + 600 + week - 1)).await.unwrap();
    assert_eq!(kept.test_logins, 0);
    assert!(p.test_login(org, &start.test_login, at(61)).await.is_ok());
    let purged = p.purge_expired(at(60 + 600 + week)).await.unwrap();
    assert_eq!(purged.test_logins, 1);
    assert!(p.test_login(org, &start.test_login, at(61)).await.is_err());
}
