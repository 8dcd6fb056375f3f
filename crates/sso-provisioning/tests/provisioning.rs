//! `complete_login`, `begin_login` and the admin operations end to end, on both backends:
//! races, replays, faults and the product rules.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::{Arc, LazyLock};

use serde_json::Value;
use sso_email::{Email, EmailSource};
use sso_policy::{Plan, Role, require_sso_status};
use sso_provisioning::{
    LoginError, LoginOutcome, Provisioner, SSO_LOGIN, ValidationOptions, kinds,
};
use sso_store::entity::{authn_request, consumed_assertion, membership, project_access, user};
use sso_store::sea_orm::{ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait};
use sso_store::{
    CreatedBy, EventOutcome, EventQuery, EventRecord, NewProject, OrgId, OrgQuery, ProjectId,
};
use sso_testkit::idp::{BASE_URL, IDP_ENTITY, IDP_SSO_URL, Idp, Response};
use sso_testkit::{TestDb, on_both_backends};
use time::{Duration, OffsetDateTime, macros::datetime};

const BASE: OffsetDateTime = datetime!(2025-03-01 09:00 UTC);
const ADMIN: &str = "admin@example.com";

static IDP: LazyLock<Idp> = LazyLock::new(|| Idp::generate("idp.test"));
static NEW_IDP: LazyLock<Idp> = LazyLock::new(|| Idp::generate("idp.test rollover"));

fn at(seconds: i64) -> OffsetDateTime {
    BASE + Duration::seconds(seconds)
}

async fn count<E: EntityTrait>(p: &Provisioner, _entity: E) -> u64
where
    E::Model: Sync,
{
    E::find().count(p.store().connection()).await.unwrap()
}

/// An org with a verified domain, an enabled connection to the test IdP and JIT as given.
async fn sso_org(p: &Provisioner, plan: Plan, jit: Option<Role>) -> OrgId {
    let org = p.create_org(ADMIN, "Example", plan, BASE).await.unwrap().id;
    p.add_verified_domain(ADMIN, org, "example.com", BASE)
        .await
        .unwrap();
    let imported = p
        .import_idp_metadata(ADMIN, org, &IDP.metadata(), BASE)
        .await
        .unwrap();
    assert!(
        !imported.connection.enabled,
        "a new connection starts disabled"
    );
    p.set_connection_enabled(ADMIN, org, true, BASE)
        .await
        .unwrap();
    let _ = p.set_jit(ADMIN, org, jit, &[], BASE).await.unwrap();
    org
}

/// Project `id` of `org`, created through the audited upsert.
async fn project(p: &Provisioner, org: OrgId, id: &str, name: &str) -> ProjectId {
    let id = ProjectId::parse(id).unwrap();
    let new = NewProject {
        id: id.clone(),
        name: name.to_owned(),
    };
    p.upsert_projects(ADMIN, org, &[new], BASE).await.unwrap();
    id
}

async fn provisioner(db: &TestDb) -> Provisioner {
    Provisioner::new(db.connect().await, BASE_URL)
}

/// An SP-initiated login of `email` at `org`, completed at `t`.
async fn sso(p: &Provisioner, org: OrgId, email: &str, t: i64) -> Result<LoginOutcome, LoginError> {
    let start = p.begin_login(org, Some("/home"), at(t)).await.unwrap();
    let raw = IDP.response(
        &Response::new(org, &format!("_a{t}_{}", start.request_id), email, at(t))
            .answering(&start.request_id),
    );
    p.complete_login(org, &raw, Some(&start.relay_state), at(t))
        .await
}

async fn traces(p: &Provisioner, org: OrgId, kind: &str) -> Vec<EventRecord> {
    p.list_traces(org, &EventQuery::new(1000).kind(kind))
        .await
        .unwrap()
        .events
}

fn checks(event: &EventRecord) -> Vec<(String, String)> {
    event.detail["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["check"].as_str().unwrap().to_owned(),
                c["result"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

on_both_backends!(
    sp_initiated_jit_login,
    racing_first_logins,
    racing_replays,
    injected_fault,
    plan_downgrade,
    configuration_change_suspends_require_sso,
    identical_metadata_is_no_change,
    connection_view_reads_as_stored,
    orgs_are_listed_with_their_status,
    lockout_protection,
    verified_domains,
    jit_off,
    default_projects,
    members_keep_role,
    refusals_are_traced,
    per_org_acs,
    idp_initiated,
    break_glass_audited,
    post_only_idp,
    aggregate_metadata,
);

async fn sp_initiated_jit_login(db: TestDb) {
    let p = provisioner(&db).await;
    let org = sso_org(&p, Plan::Enterprise, Some(Role::Member)).await;
    let handbook = project(&p, org, "proj-handbook", "Handbook").await;
    let _ = p
        .set_jit(
            ADMIN,
            org,
            Some(Role::Member),
            std::slice::from_ref(&handbook),
            BASE,
        )
        .await
        .unwrap();

    let start = p
        .begin_login(org, Some("/reports/7"), at(60))
        .await
        .unwrap();
    assert!(
        start.redirect_url.starts_with(IDP_SSO_URL),
        "{}",
        start.redirect_url
    );
    assert!(start.redirect_url.contains("SAMLRequest="));
    assert!(
        start
            .redirect_url
            .contains(&format!("RelayState={}", start.relay_state))
    );
    assert!(
        !start.redirect_url.contains("reports"),
        "the return target stays server-side"
    );
    assert_eq!(start.expires_at, at(60) + Duration::minutes(10));

    let raw = IDP.response(
        &Response::new(org, "_a1", "Jane.Doe@Example.com", at(61)).answering(&start.request_id),
    );
    let login = p
        .complete_login(org, &raw, Some(&start.relay_state), at(62))
        .await
        .unwrap();
    assert_eq!(login.user.email.as_str(), "jane.doe@example.com");
    assert!(login.user_created && login.membership_created);
    assert_eq!((login.org, login.role), (org, Role::Member));
    assert_eq!(login.projects, [handbook]);
    assert_eq!(login.return_target.as_deref(), Some("/reports/7"));
    assert_eq!(
        login.session_not_on_or_after,
        Some(at(61) + Duration::hours(8))
    );
    assert_eq!(login.email_source, EmailSource::NameId);
    assert_eq!(login.assertion_id, "_a1");

    let trace = &traces(&p, org, SSO_LOGIN).await[0];
    assert_eq!(trace.id, login.trace);
    assert_eq!(
        (trace.outcome, trace.reason.as_str()),
        (EventOutcome::Success, "signed-in")
    );
    let ran: Vec<_> = checks(trace).into_iter().map(|(c, _)| c).collect();
    assert_eq!(
        ran,
        [
            "sso-in-effect",
            "response-valid",
            "email",
            "authn-request",
            "replay",
            "policy",
            "provision"
        ]
    );
    assert_eq!(trace.detail["email"]["source"], "name-id");

    // A second login of the same person: an existing member now, nothing created.
    let again = sso(&p, org, "jane.doe@example.com", 120).await.unwrap();
    assert!(!again.user_created && !again.membership_created);
    assert_eq!(again.user.id, login.user.id);
    assert_eq!(count(&p, membership::Entity).await, 1);
}

/// 32 first logins of one new person at once, each with its own request and assertion: one
/// user, one membership, 32 successes.
async fn racing_first_logins(db: TestDb) {
    let p = Arc::new(provisioner(&db).await);
    let org = sso_org(&p, Plan::Growth, Some(Role::Member)).await;
    let mut prepared = Vec::new();
    for i in 0..32 {
        let start = p.begin_login(org, None, at(60)).await.unwrap();
        let raw = IDP.response(
            &Response::new(org, &format!("_race{i}"), "new.person@example.com", at(60))
                .answering(&start.request_id),
        );
        prepared.push((raw, start.relay_state));
    }
    let tasks: Vec<_> = prepared
        .into_iter()
        .map(|(raw, relay)| {
            let p = p.clone();
            tokio::spawn(async move { p.complete_login(org, &raw, Some(&relay), at(61)).await })
        })
        .collect();
    let mut created = 0;
    let mut users = std::collections::BTreeSet::new();
    for task in tasks {
        let login = task.await.unwrap().unwrap();
        created += usize::from(login.membership_created);
        users.insert(login.user.id);
        assert_eq!(login.role, Role::Member);
    }
    assert_eq!(created, 1, "exactly one login created the membership");
    assert_eq!(users.len(), 1);
    assert_eq!(count(&p, user::Entity).await, 1);
    assert_eq!(count(&p, membership::Entity).await, 1);
    assert_eq!(count(&p, consumed_assertion::Entity).await, 32);
    assert_eq!(traces(&p, org, SSO_LOGIN).await.len(), 32);
}

/// 32 submissions of one response at once: one success, 31 `replayed`, each traced.
async fn racing_replays(db: TestDb) {
    let p = Arc::new(provisioner(&db).await);
    let org = sso_org(&p, Plan::Growth, Some(Role::Member)).await;
    let start = p.begin_login(org, None, at(60)).await.unwrap();
    let raw = Arc::new(IDP.response(
        &Response::new(org, "_once", "jane@example.com", at(60)).answering(&start.request_id),
    ));
    let relay = Arc::new(start.relay_state);
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (p, raw, relay) = (p.clone(), raw.clone(), relay.clone());
            tokio::spawn(async move { p.complete_login(org, &raw, Some(&relay), at(61)).await })
        })
        .collect();
    let (mut ok, mut replayed) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => {
                assert_eq!(e.reason(), "replayed", "{e}");
                replayed += 1;
            }
        }
    }
    assert_eq!((ok, replayed), (1, 31));
    assert_eq!(count(&p, user::Entity).await, 1);
    let events = traces(&p, org, SSO_LOGIN).await;
    assert_eq!(events.iter().filter(|e| e.reason == "replayed").count(), 31);
    let replay = events.iter().find(|e| e.reason == "replayed").unwrap();
    assert_eq!(replay.outcome, EventOutcome::Refused);
    assert_eq!(
        replay.detail["user_message"],
        LoginError::Replayed { what: "assertion" }.user_message()
    );

    // Later, after the winner committed, the same response is still a replay.
    let late = p
        .complete_login(org, &raw, Some(&relay), at(62))
        .await
        .unwrap_err();
    assert_eq!(late.reason(), "replayed");
}

/// A database error in the middle of the transaction (a trigger refuses the project grant):
/// nothing stays but the trace, and the same response succeeds once the fault is gone.
async fn injected_fault(db: TestDb) {
    let p = provisioner(&db).await;
    let org = sso_org(&p, Plan::Enterprise, Some(Role::Member)).await;
    let project = project(&p, org, "handbook", "Handbook").await;
    let _ = p
        .set_jit(
            ADMIN,
            org,
            Some(Role::Member),
            std::slice::from_ref(&project),
            BASE,
        )
        .await
        .unwrap();
    let (install, remove) = match db.backend {
        DbBackend::Sqlite => (
            vec![
                "CREATE TRIGGER injected_fault BEFORE INSERT ON project_access \
                  BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
            ],
            "DROP TRIGGER injected_fault",
        ),
        _ => (
            vec![
                "CREATE FUNCTION injected_fault() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$",
                "CREATE TRIGGER injected_fault BEFORE INSERT ON project_access \
                 FOR EACH ROW EXECUTE FUNCTION injected_fault()",
            ],
            "DROP TRIGGER injected_fault ON project_access",
        ),
    };
    for sql in install {
        p.store()
            .connection()
            .execute_unprepared(sql)
            .await
            .unwrap();
    }
    let start = p.begin_login(org, Some("/x"), at(60)).await.unwrap();
    let raw = IDP.response(
        &Response::new(org, "_fault", "jane@example.com", at(60)).answering(&start.request_id),
    );
    let failed = p
        .complete_login(org, &raw, Some(&start.relay_state), at(61))
        .await
        .unwrap_err();
    assert_eq!(failed.reason(), "database");
    assert!(failed.to_string().contains("injected fault"), "{failed}");
    assert_eq!(count(&p, user::Entity).await, 0);
    assert_eq!(count(&p, membership::Entity).await, 0);
    assert_eq!(count(&p, consumed_assertion::Entity).await, 0);
    let request = authn_request::Entity::find_by_id(start.request_id.clone())
        .one(p.store().connection())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(request.consumed_at, None, "the request is not consumed");
    let trace = &traces(&p, org, SSO_LOGIN).await[0];
    assert_eq!(
        (trace.outcome, trace.reason.as_str()),
        (EventOutcome::Failed, "database")
    );
    assert_eq!(
        checks(trace).last().unwrap(),
        &("provision".to_owned(), "failed".to_owned())
    );

    p.store()
        .connection()
        .execute_unprepared(remove)
        .await
        .unwrap();
    let login = p
        .complete_login(org, &raw, Some(&start.relay_state), at(62))
        .await
        .unwrap();
    assert!(login.membership_created);
    assert_eq!(login.projects, [project]);
    assert_eq!(login.return_target.as_deref(), Some("/x"));
    assert_eq!(count(&p, project_access::Entity).await, 1);
}

/// Below Growth SSO is off: require-SSO stops applying, password login works again, SSO
/// logins are refused, and nothing is deleted, so an upgrade restores it all.
async fn plan_downgrade(db: TestDb) {
    let p = provisioner(&db).await;
    let org = sso_org(&p, Plan::Growth, Some(Role::Member)).await;
    let jane = Email::parse("jane@example.com").unwrap();
    sso(&p, org, "jane@example.com", 60).await.unwrap();
    let _ = p.set_require_sso(ADMIN, org, true, at(70)).await.unwrap();
    let refused = p.check_password_login(&jane, org).await.unwrap_err();
    assert_eq!(refused.reason(), "sso-required");

    p.set_plan(ADMIN, org, Plan::Plus, at(80)).await.unwrap();
    let allowed = p.check_password_login(&jane, org).await.unwrap();
    assert_eq!(allowed.reason(), "sso-not-in-effect");
    let off = sso_login_refused(&p, org, at(90)).await;
    assert_eq!(off, "plan-without-sso");
    let snapshot = p.store().org_snapshot(org).await.unwrap();
    assert!(snapshot.org.require_sso, "the setting is kept");
    assert!(snapshot.connection.is_some());
    assert_eq!(snapshot.verified_domains, ["example.com"]);
    assert_eq!(count(&p, membership::Entity).await, 1);
    let changed = &traces(&p, org, kinds::PLAN_CHANGED).await[0];
    assert_eq!(changed.detail["sso_off_reason"], "plan-without-sso");
    assert_eq!(changed.actor.as_deref(), Some(ADMIN));

    p.set_plan(ADMIN, org, Plan::Growth, at(100)).await.unwrap();
    assert_eq!(
        p.check_password_login(&jane, org)
            .await
            .unwrap_err()
            .reason(),
        "sso-required"
    );
    sso(&p, org, "jane@example.com", 110).await.unwrap();
    // Require-SSO covers everyone at the org's verified domains, member or not yet...
    let newcomer = Email::parse("x@example.com").unwrap();
    assert_eq!(
        p.check_password_login(&newcomer, org)
            .await
            .unwrap_err()
            .reason(),
        "sso-required"
    );
    // ...and nobody else: whether they belong to the org is the host product's business.
    let outsider = Email::parse("x@elsewhere.example").unwrap();
    assert_eq!(
        p.check_password_login(&outsider, org)
            .await
            .unwrap()
            .reason(),
        "not-covered-by-require-sso"
    );
}

/// A configuration change while require-SSO is on never locks anyone out: the requirement is
/// suspended until the new configuration completes a successful login, then applies again.
async fn configuration_change_suspends_require_sso(db: TestDb) {
    let p = provisioner(&db).await;
    let org = sso_org(&p, Plan::Growth, Some(Role::Member)).await;
    let jane = Email::parse("jane@example.com").unwrap();
    sso(&p, org, "jane@example.com", 60).await.unwrap();
    let _ = p.set_require_sso(ADMIN, org, true, at(70)).await.unwrap();
    let refused = p.check_password_login(&jane, org).await.unwrap_err();
    assert_eq!(refused.reason(), "sso-required");

    // The IdP's key changes: a new configuration, not proven yet.
    p.import_idp_metadata(ADMIN, org, &NEW_IDP.metadata(), at(80))
        .await
        .unwrap();
    let allowed = p.check_password_login(&jane, org).await.unwrap();
    assert_eq!(allowed.reason(), "no-sso-login-since-change");
    let snapshot = p.store().org_snapshot(org).await.unwrap();
    assert!(snapshot.org.require_sso, "the setting is kept");

    let start = p.begin_login(org, None, at(90)).await.unwrap();
    let raw = NEW_IDP.response(
        &Response::new(org, "_new", "jane@example.com", at(90)).answering(&start.request_id),
    );
    p.complete_login(org, &raw, Some(&start.relay_state), at(90))
        .await
        .unwrap();
    let refused = p.check_password_login(&jane, org).await.unwrap_err();
    assert_eq!(refused.reason(), "sso-required");
}

/// Metadata that says what the connection already has (entity, certificates as a set, SSO
/// endpoints) is no configuration change, whatever else differs in the document: the version
/// stays, the proof stays, require-SSO stays enforced, the event says `unchanged`. A change in
/// any of those is a new configuration.
async fn identical_metadata_is_no_change(db: TestDb) {
    let p = provisioner(&db).await;
    let org = sso_org(&p, Plan::Growth, Some(Role::Member)).await;
    let jane = Email::parse("jane@example.com").unwrap();
    sso(&p, org, "jane@example.com", 60).await.unwrap();
    let _ = p.set_require_sso(ADMIN, org, true, at(70)).await.unwrap();
    let before = p.connection(org).await.unwrap();
    let xml = String::from_utf8(IDP.metadata()).unwrap();

    // The same document, and the same configuration in another document.
    let cosmetic = xml
        .replacen(
            "<md:EntityDescriptor ",
            r#"<md:EntityDescriptor validUntil="2030-01-01T00:00:00Z" "#,
            1,
        )
        .replace(">\n<", ">\n\n  <");
    for (t, document) in [(80, xml.clone()), (81, cosmetic.clone())] {
        let again = p
            .import_idp_metadata(ADMIN, org, document.as_bytes(), at(t))
            .await
            .unwrap();
        let connection = &again.connection;
        assert_eq!(connection.config_version, before.config_version);
        assert_eq!(
            connection.configuration_changed_at,
            before.configuration_changed_at
        );
        assert_eq!(
            connection.last_successful_login_at,
            before.last_successful_login_at
        );
        assert_eq!(
            connection.idp.metadata_xml.as_deref(),
            Some(document.as_str())
        );
        let event = &traces(&p, org, kinds::METADATA_IMPORTED).await[0];
        assert_eq!(
            (event.outcome, event.reason.as_str()),
            (EventOutcome::Success, "unchanged")
        );
        let refused = p.check_password_login(&jane, org).await.unwrap_err();
        assert_eq!(refused.reason(), "sso-required");
    }
    let view = p.connection_view(org, at(82)).await.unwrap().unwrap();
    assert!(view.proven);

    // Each of these is a change: another entity ID, one more SSO endpoint, a signing
    // request wanted, another certificate. Every one is imported on a proven configuration.
    let redirect =
        r#"<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect""#;
    let changes = [
        xml.replace(IDP_ENTITY, "https://idp.test/other"),
        xml.replacen(
            redirect,
            &format!(
                r#"<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{IDP_SSO_URL}/post"/>{redirect}"#
            ),
            1,
        ),
        xml.replacen(
            "<md:IDPSSODescriptor ",
            r#"<md:IDPSSODescriptor WantAuthnRequestsSigned="true" "#,
            1,
        ),
        String::from_utf8(NEW_IDP.metadata()).unwrap(),
    ];
    let mut version = before.config_version;
    for (n, document) in changes.iter().enumerate() {
        let t = 100 + 10 * i64::try_from(n).unwrap();
        // Prove the current configuration first (the first change swaps the entity: the IdP
        // must answer as that entity, which the test IdP does not, so go back first).
        if n > 0 {
            p.import_idp_metadata(ADMIN, org, &IDP.metadata(), at(t))
                .await
                .unwrap();
            version = p.connection(org).await.unwrap().config_version;
            sso(&p, org, "jane@example.com", t + 1).await.unwrap();
        }
        let changed = p
            .import_idp_metadata(ADMIN, org, document.as_bytes(), at(t + 2))
            .await
            .unwrap();
        assert_eq!(changed.connection.config_version, version + 1, "change {n}");
        assert_eq!(
            changed.connection.last_successful_login_at, None,
            "change {n}"
        );
        let event = &traces(&p, org, kinds::METADATA_IMPORTED).await[0];
        assert_eq!(event.reason, "replaced", "change {n}");
        assert_eq!(
            p.check_password_login(&jane, org).await.unwrap().reason(),
            "no-sso-login-since-change",
            "change {n}"
        );
        version += 1;
    }
}

/// The connection as an admin reads it: options, metadata source, warnings, and the proof
/// of the current configuration, before and after a login.
async fn connection_view_reads_as_stored(db: TestDb) {
    let p = provisioner(&db).await;
    let bare = p
        .create_org(ADMIN, "Bare", Plan::Growth, BASE)
        .await
        .unwrap()
        .id;
    assert_eq!(p.connection_view(bare, BASE).await.unwrap(), None);
    let missing = p
        .connection_view(OrgId::new(999_999), BASE)
        .await
        .unwrap_err();
    assert_eq!(missing.reason(), "not-found");

    let org = sso_org(&p, Plan::Growth, Some(Role::Member)).await;
    let view = p.connection_view(org, at(1)).await.unwrap().unwrap();
    assert!(!view.proven);
    assert_eq!(view.source, None, "imported as XML");
    assert!(view.warnings.is_empty(), "{:?}", view.warnings);
    assert_eq!(view.connection.options.clock_skew, Duration::seconds(180));

    let options = ValidationOptions {
        allow_unsolicited: true,
        allow_sha1: false,
        clock_skew: Duration::seconds(300),
    };
    p.set_connection_options(ADMIN, org, &options, at(2))
        .await
        .unwrap();
    let view = p.connection_view(org, at(3)).await.unwrap().unwrap();
    assert!(view.connection.options.allow_unsolicited);
    assert!(!view.connection.options.allow_sha1);
    assert_eq!(view.connection.options.clock_skew, Duration::seconds(300));
    assert_eq!(view.connection.configuration_changed_at, at(2));

    sso(&p, org, "jane@example.com", 60).await.unwrap();
    let view = p.connection_view(org, at(61)).await.unwrap().unwrap();
    assert!(view.proven);
    assert_eq!(view.connection.last_successful_login_at, Some(at(60)));

    // A certificate close to its end is a warning; one that no longer reads too.
    let expiring = sso_certgen::CertifiedKey::builder("expiring idp")
        .valid_unix(
            (BASE - Duration::days(300)).unix_timestamp(),
            (BASE + Duration::days(10)).unix_timestamp(),
        )
        .build()
        .unwrap();
    p.add_connection_certificate(ADMIN, org, expiring.certificate_pem(), at(62))
        .await
        .unwrap();
    let view = p.connection_view(org, at(63)).await.unwrap().unwrap();
    assert!(!view.proven, "adding a certificate is a change");
    assert_eq!(view.warnings.len(), 1, "{:?}", view.warnings);
    assert!(
        view.warnings[0].contains("expires on"),
        "{:?}",
        view.warnings
    );
}

/// Orgs listed a page at a time, with their connection: what GetOrg's require-SSO status
/// needs.
async fn orgs_are_listed_with_their_status(db: TestDb) {
    let p = provisioner(&db).await;
    let org = sso_org(&p, Plan::Growth, Some(Role::Member)).await;
    sso(&p, org, "jane@example.com", 60).await.unwrap();
    let _ = p.set_require_sso(ADMIN, org, true, at(70)).await.unwrap();
    let other = p
        .create_org(ADMIN, "Other", Plan::Plus, BASE)
        .await
        .unwrap()
        .id;
    let page = p.list_orgs(&OrgQuery::new(1)).await.unwrap();
    assert_eq!(page.orgs.len(), 1);
    assert_eq!(page.orgs[0].org.id, org);
    let status = require_sso_status(&page.orgs[0].policy());
    assert_eq!((status.enforced(), status.code()), (true, "enforced"));
    let rest = p
        .list_orgs(&OrgQuery::new(1).after(page.next.unwrap()))
        .await
        .unwrap();
    assert_eq!(rest.orgs[0].org.id, other);
    assert_eq!(require_sso_status(&rest.orgs[0].policy()).code(), "off");
    assert!(rest.next.is_none());
}

/// The reason of a refused `begin_login`.
async fn sso_login_refused(p: &Provisioner, org: OrgId, now: OffsetDateTime) -> &'static str {
    p.begin_login(org, None, now).await.unwrap_err().reason()
}

/// Require-SSO needs a successful login with the current configuration: refused before one,
/// allowed after, refused again once the metadata is replaced, until the new IdP key works.
async fn lockout_protection(db: TestDb) {
    let p = provisioner(&db).await;
    let org = sso_org(&p, Plan::Growth, Some(Role::Member)).await;
    let refused = p
        .set_require_sso(ADMIN, org, true, at(10))
        .await
        .unwrap_err();
    assert_eq!(refused.reason(), "no-sso-login-since-change");
    let event = &traces(&p, org, kinds::REQUIRE_SSO).await[0];
    assert_eq!(
        (event.outcome, event.reason.as_str()),
        (EventOutcome::Refused, "no-sso-login-since-change")
    );

    sso(&p, org, "jane@example.com", 60).await.unwrap();
    let (record, change) = p.set_require_sso(ADMIN, org, true, at(70)).await.unwrap();
    assert!(record.require_sso);
    assert_eq!(change.reason(), "sso-proven");
    let _ = p.set_require_sso(ADMIN, org, false, at(80)).await.unwrap();

    // The IdP rolls its key: the configuration is new and unproven.
    let replaced = p
        .import_idp_metadata(ADMIN, org, &NEW_IDP.metadata(), at(90))
        .await
        .unwrap();
    assert_eq!(replaced.connection.config_version, 2);
    assert!(
        replaced.connection.enabled,
        "replacing metadata keeps the connection on"
    );
    let refused = p
        .set_require_sso(ADMIN, org, true, at(100))
        .await
        .unwrap_err();
    assert_eq!(refused.reason(), "no-sso-login-since-change");

    // A response signed with the old key no longer verifies; one with the new key does.
    let start = p.begin_login(org, None, at(110)).await.unwrap();
    let old = IDP.response(
        &Response::new(org, "_old", "jane@example.com", at(110)).answering(&start.request_id),
    );
    let invalid = p
        .complete_login(org, &old, Some(&start.relay_state), at(110))
        .await
        .unwrap_err();
    assert_eq!(invalid.reason(), "signature-invalid", "{invalid}");
    let new = NEW_IDP.response(
        &Response::new(org, "_new", "jane@example.com", at(111)).answering(&start.request_id),
    );
    p.complete_login(org, &new, Some(&start.relay_state), at(111))
        .await
        .unwrap();
    let _ = p.set_require_sso(ADMIN, org, true, at(120)).await.unwrap();
}

/// JIT creates members only for emails in the org's verified domains; members from other
/// domains still sign in.
async fn verified_domains(db: TestDb) {
    let p = provisioner(&db).await;
    let org = sso_org(&p, Plan::Growth, Some(Role::Member)).await;
    let refused = sso(&p, org, "eve@other.example", 60).await.unwrap_err();
    assert_eq!(refused.reason(), "domain-not-verified");
    assert!(refused.to_string().contains("other.example"), "{refused}");
    assert_eq!(count(&p, user::Entity).await, 0);
    assert_eq!(
        count(&p, consumed_assertion::Entity).await,
        0,
        "the refusal rolled back"
    );
    let trace = &traces(&p, org, SSO_LOGIN).await[0];
    assert_eq!(trace.reason, "domain-not-verified");
    assert_eq!(
        checks(trace).last().unwrap(),
        &("policy".to_owned(), "failed".to_owned())
    );

    // Verified afterwards: JIT admits the domain.
    p.add_verified_domain(ADMIN, org, "other.example", at(70))
        .await
        .unwrap();
    sso(&p, org, "eve@other.example", 80).await.unwrap();
    // Removed again: eve is a member now and keeps signing in; a colleague is refused.
    assert!(
        p.remove_verified_domain(ADMIN, org, "other.example", at(90))
            .await
            .unwrap()
    );
    sso(&p, org, "eve@other.example", 100).await.unwrap();
    assert_eq!(
        sso(&p, org, "bob@other.example", 110)
            .await
            .unwrap_err()
            .reason(),
        "domain-not-verified"
    );
    // A domain another org verified is refused, and audited.
    let other = p
        .create_org(ADMIN, "Other", Plan::Growth, BASE)
        .await
        .unwrap()
        .id;
    let taken = p
        .add_verified_domain(ADMIN, other, "example.com", at(120))
        .await
        .unwrap_err();
    assert_eq!(taken.reason(), "conflict");
    assert_eq!(
        traces(&p, other, kinds::DOMAIN_ADDED).await[0].reason,
        "conflict"
    );
}

/// JIT off: unknown people are refused with a clear reason; members still get in.
async fn jit_off(db: TestDb) {
    let p = provisioner(&db).await;
    let org = sso_org(&p, Plan::Growth, None).await;
    let refused = sso(&p, org, "new@example.com", 60).await.unwrap_err();
    assert_eq!(refused.reason(), "not-a-member");
    assert_eq!(
        refused.user_message(),
        "You are not a member of this organization. Ask your administrator for access."
    );
    assert!(
        refused
            .to_string()
            .contains("just-in-time provisioning is off"),
        "{refused}"
    );
    assert_eq!(count(&p, user::Entity).await, 0);

    let member = Email::parse("boss@example.com").unwrap();
    let user = p.store().get_or_create_user(&member, BASE).await.unwrap();
    p.store()
        .ensure_membership(org, user.record.id, Role::Admin, CreatedBy::Admin, BASE)
        .await
        .unwrap();
    let login = sso(&p, org, "Boss@Example.com", 70).await.unwrap();
    assert_eq!(login.role, Role::Admin);
    assert!(!login.membership_created && !login.user_created);
}

/// Default projects need Enterprise: refused on Growth, granted on Enterprise, kept but not
/// applied after a downgrade to Growth.
async fn default_projects(db: TestDb) {
    let p = provisioner(&db).await;
    let org = sso_org(&p, Plan::Growth, Some(Role::Viewer)).await;
    let project = project(&p, org, "wiki", "Wiki").await;
    let refused = p
        .set_jit(
            ADMIN,
            org,
            Some(Role::Viewer),
            std::slice::from_ref(&project),
            at(1),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.reason(), "plan-without-default-projects");
    assert_eq!(
        traces(&p, org, kinds::JIT_CHANGED).await[0].reason,
        "plan-without-default-projects"
    );
    let growth = sso(&p, org, "a@example.com", 60).await.unwrap();
    assert_eq!(growth.projects, Vec::<ProjectId>::new());

    p.set_plan(ADMIN, org, Plan::Enterprise, at(70))
        .await
        .unwrap();
    let (_, change) = p
        .set_jit(
            ADMIN,
            org,
            Some(Role::Viewer),
            std::slice::from_ref(&project),
            at(71),
        )
        .await
        .unwrap();
    assert_eq!(change.reason(), "jit-on");
    let enterprise = sso(&p, org, "b@example.com", 80).await.unwrap();
    assert_eq!(
        (enterprise.role, enterprise.projects.as_slice()),
        (Role::Viewer, [project.clone()].as_slice())
    );

    p.set_plan(ADMIN, org, Plan::Growth, at(90)).await.unwrap();
    let downgraded = sso(&p, org, "c@example.com", 100).await.unwrap();
    assert_eq!(downgraded.projects, Vec::<ProjectId>::new());
    let trace = &traces(&p, org, SSO_LOGIN).await[0];
    let provision = trace.detail["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "provision")
        .unwrap();
    assert_eq!(
        provision["detail"]["default_projects_withheld"],
        Value::Bool(true)
    );
    // b keeps the access granted on Enterprise.
    assert_eq!(
        sso(&p, org, "b@example.com", 110).await.unwrap().projects,
        [project]
    );
}

/// SSO never changes a role: an existing member keeps theirs whatever the JIT role.
async fn members_keep_role(db: TestDb) {
    let p = provisioner(&db).await;
    let org = sso_org(&p, Plan::Enterprise, Some(Role::Admin)).await;
    let email = Email::parse("viewer@example.com").unwrap();
    let user = p.store().get_or_create_user(&email, BASE).await.unwrap();
    p.store()
        .ensure_membership(org, user.record.id, Role::Viewer, CreatedBy::Admin, BASE)
        .await
        .unwrap();
    let login = sso(&p, org, "viewer@example.com", 60).await.unwrap();
    assert_eq!(login.role, Role::Viewer);
    let member = p
        .store()
        .membership(org, user.record.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (member.role, member.created_by),
        (Role::Viewer, CreatedBy::Admin)
    );
}

/// Every kind of refusal leaves a trace the admin can page through, with the checks that ran,
/// the reason, the detail and the email places tried.
async fn refusals_are_traced(db: TestDb) {
    let p = provisioner(&db).await;
    let org = sso_org(&p, Plan::Growth, Some(Role::Member)).await;

    // Tampered after signing: the digest no longer matches.
    let start = p.begin_login(org, None, at(60)).await.unwrap();
    let good = IDP.response(
        &Response::new(org, "_t1", "jane@example.com", at(60)).answering(&start.request_id),
    );
    let xml = String::from_utf8(base64_decode(&good)).unwrap();
    let tampered = xml.replace("jane@example.com", "ceo@example.com");
    let e = p
        .complete_login(org, tampered.as_bytes(), Some(&start.relay_state), at(60))
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "digest-mismatch", "{e}");

    // No email anywhere: the places tried are listed.
    let no_email = IDP.response(
        &Response::new(org, "_t2", "jdoe", at(61))
            .answering(&start.request_id)
            .attribute("Email", "not-an-email"),
    );
    let e = p
        .complete_login(org, &no_email, Some(&start.relay_state), at(61))
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "no-valid-email");

    // Expired request.
    let late = IDP.response(
        &Response::new(org, "_t3", "jane@example.com", at(700)).answering(&start.request_id),
    );
    let e = p
        .complete_login(org, &late, Some(&start.relay_state), at(700))
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "request-expired");

    // Unsolicited on a connection that does not accept them.
    let unsolicited = IDP.response(&Response::new(org, "_t4", "jane@example.com", at(710)));
    let e = p
        .complete_login(org, &unsolicited, None, at(710))
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "unsolicited-response");

    // Disabled connection.
    p.set_connection_enabled(ADMIN, org, false, at(720))
        .await
        .unwrap();
    let e = p
        .complete_login(org, &unsolicited, None, at(721))
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "connection-disabled");

    // Paged, newest first.
    let first = p
        .list_traces(org, &EventQuery::new(3).kind(SSO_LOGIN))
        .await
        .unwrap();
    let rest = p
        .list_traces(
            org,
            &EventQuery::new(3)
                .kind(SSO_LOGIN)
                .after(first.next.unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(rest.next, None);
    let all: Vec<_> = first.events.iter().chain(&rest.events).collect();
    let reasons: Vec<_> = all.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "connection-disabled",
            "unsolicited-response",
            "request-expired",
            "no-valid-email",
            "digest-mismatch"
        ]
    );
    for event in &all {
        assert_eq!(event.outcome, EventOutcome::Refused);
        let last = event.detail["checks"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        assert_eq!(last["result"], "failed");
        assert_eq!(last["reason"], event.reason.as_str());
        assert!(!last["detail"].as_str().unwrap().is_empty());
        assert!(event.detail["user_message"].is_string());
    }
    let tried = all[3].detail["email"]["tried"].as_array().unwrap();
    let sources: Vec<_> = tried
        .iter()
        .map(|t| t["source"].as_str().unwrap())
        .collect();
    assert_eq!(
        sources,
        [
            "name-id",
            "emailaddress-claim",
            "emailaddress-attribute",
            "email-attribute"
        ]
    );
    assert_eq!(tried[3]["reason"], "no-valid-value");
    assert_eq!(checks(all[4]).last().unwrap().0, "response-valid");
    assert_eq!(count(&p, user::Entity).await, 0);
}

fn base64_decode(b: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(b).unwrap()
}

/// A response is validated only against the connection of the org whose ACS URL it arrived
/// on: one addressed to org A is refused at org B, and traced at B.
async fn per_org_acs(db: TestDb) {
    let p = provisioner(&db).await;
    let a = sso_org(&p, Plan::Growth, Some(Role::Member)).await;
    let b = p
        .create_org(ADMIN, "B", Plan::Growth, BASE)
        .await
        .unwrap()
        .id;
    p.add_verified_domain(ADMIN, b, "b.example", BASE)
        .await
        .unwrap();
    // B trusts the same IdP (the same key!) and accepts IdP-initiated logins.
    p.import_idp_metadata(ADMIN, b, &IDP.metadata(), BASE)
        .await
        .unwrap();
    p.set_connection_enabled(ADMIN, b, true, BASE)
        .await
        .unwrap();
    let _ = p
        .set_jit(ADMIN, b, Some(Role::Member), &[], BASE)
        .await
        .unwrap();
    let options = ValidationOptions {
        allow_unsolicited: true,
        ..ValidationOptions::default()
    };
    p.set_connection_options(ADMIN, b, &options, BASE)
        .await
        .unwrap();

    let for_a = IDP.response(&Response::new(a, "_x1", "jane@b.example", at(60)));
    let e = p.complete_login(b, &for_a, None, at(60)).await.unwrap_err();
    assert_eq!(e.reason(), "wrong-destination", "{e}");
    assert_eq!(
        traces(&p, b, SSO_LOGIN).await[0].reason,
        "wrong-destination"
    );
    assert!(traces(&p, a, SSO_LOGIN).await.is_empty());
    assert_eq!(count(&p, user::Entity).await, 0);
}

/// IdP-initiated logins where the org opted in; a RelayState that names no request of ours is
/// not used as a return target.
async fn idp_initiated(db: TestDb) {
    let p = provisioner(&db).await;
    let org = sso_org(&p, Plan::Growth, Some(Role::Member)).await;
    let options = ValidationOptions {
        allow_unsolicited: true,
        ..ValidationOptions::default()
    };
    let connection = p
        .set_connection_options(ADMIN, org, &options, at(1))
        .await
        .unwrap();
    assert_eq!(connection.config_version, 2);
    let raw = IDP.response(
        &Response::new(org, "_idp1", "jdoe-opaque", at(60)).attribute(
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
            "jdoe@example.com",
        ),
    );
    let login = p
        .complete_login(org, &raw, Some("https://evil.example/"), at(60))
        .await
        .unwrap();
    assert_eq!(login.return_target, None);
    assert_eq!(login.email_source, EmailSource::EmailAddressClaim);
    assert_eq!(login.user.email.as_str(), "jdoe@example.com");
    let e = p.complete_login(org, &raw, None, at(61)).await.unwrap_err();
    assert_eq!(e.reason(), "replayed");
    // The login proved configuration 2: require-SSO may be turned on.
    let _ = p.set_require_sso(ADMIN, org, true, at(70)).await.unwrap();
}

/// Break-glass: refused without a justification, lifts require-SSO with one; both audited with
/// the operator's name.
async fn break_glass_audited(db: TestDb) {
    let p = provisioner(&db).await;
    let org = sso_org(&p, Plan::Enterprise, Some(Role::Member)).await;
    sso(&p, org, "jane@example.com", 60).await.unwrap();
    let _ = p.set_require_sso(ADMIN, org, true, at(70)).await.unwrap();
    let e = p
        .break_glass("operator", org, "  ", at(80))
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "missing-justification");
    let (record, decision) = p
        .break_glass("operator", org, "IdP outage, ticket 4711", at(90))
        .await
        .unwrap();
    assert!(!record.require_sso);
    assert_eq!(decision.reason(), "require-sso-lifted");
    let events = traces(&p, org, kinds::BREAK_GLASS).await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].actor.as_deref(), Some("operator"));
    assert_eq!(events[0].detail["justification"], "IdP outage, ticket 4711");
    assert_eq!(events[1].reason, "missing-justification");
    let jane = Email::parse("jane@example.com").unwrap();
    assert_eq!(
        p.check_password_login(&jane, org).await.unwrap().reason(),
        "sso-not-required"
    );
}

/// An IdP whose metadata lists only an HTTP-POST SingleSignOnService (Google Workspace's does)
/// gets the AuthnRequest as an auto-submitting form, and the login completes.
async fn post_only_idp(db: TestDb) {
    let p = provisioner(&db).await;
    let org = sso_org(&p, Plan::Growth, Some(Role::Member)).await;
    let post_only = String::from_utf8(IDP.metadata()).unwrap().replace(
        "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
        "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
    );
    let _ = p
        .import_idp_metadata(ADMIN, org, post_only.as_bytes(), at(1))
        .await
        .unwrap();
    let start = p.begin_login(org, None, at(60)).await.unwrap();
    assert!(start.redirect_url.is_empty());
    let form = start.post_form.clone().unwrap();
    assert!(
        form.contains(&format!("action=\"{IDP_SSO_URL}\"")),
        "{form}"
    );
    assert!(form.contains("name=\"SAMLRequest\""));
    assert!(form.contains(&start.relay_state));
    let raw = IDP.response(
        &Response::new(org, "_post1", "pat@example.com", at(61)).answering(&start.request_id),
    );
    let login = p
        .complete_login(org, &raw, Some(&start.relay_state), at(62))
        .await
        .unwrap();
    assert_eq!(login.user.email.as_str(), "pat@example.com");
}

/// Metadata describing several IdPs imports only with the entity named, and then signs in.
async fn aggregate_metadata(db: TestDb) {
    let p = provisioner(&db).await;
    let org = sso_org(&p, Plan::Growth, Some(Role::Member)).await;
    let strip = |xml: Vec<u8>| String::from_utf8(xml).unwrap();
    let other = strip(NEW_IDP.metadata()).replace(IDP_ENTITY, "https://other-idp.test/metadata");
    let aggregate = format!(
        "<md:EntitiesDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\">{}{}</md:EntitiesDescriptor>",
        other,
        strip(IDP.metadata())
    );
    let ambiguous = p
        .import_idp_metadata(ADMIN, org, aggregate.as_bytes(), at(1))
        .await
        .unwrap_err();
    assert_eq!(ambiguous.reason(), "ambiguous-entity", "{ambiguous}");
    let missing = p
        .import_idp_metadata_for_entity(
            ADMIN,
            org,
            aggregate.as_bytes(),
            Some("https://nobody.test"),
            at(1),
        )
        .await
        .unwrap_err();
    assert_eq!(missing.reason(), "entity-not-found", "{missing}");
    let imported = p
        .import_idp_metadata_for_entity(ADMIN, org, aggregate.as_bytes(), Some(IDP_ENTITY), at(2))
        .await
        .unwrap();
    assert_eq!(imported.connection.idp.entity_id, IDP_ENTITY);
    p.set_connection_enabled(ADMIN, org, true, at(3))
        .await
        .unwrap();
    let login = sso(&p, org, "agg@example.com", 60).await.unwrap();
    assert_eq!(login.user.email.as_str(), "agg@example.com");
}
