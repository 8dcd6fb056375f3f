//! The audited members and projects operations on both backends: projects under the host
//! product's ids (upsert, list, removal refused for a JIT default), JIT logins and login codes
//! that carry those ids, bulk adds that are idempotent and all-or-nothing, roles, removals,
//! and the last Admin kept, also against concurrent demotions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::LazyLock;

use sso_email::Email;
use sso_policy::{Plan, Role};
use sso_provisioning::{
    AdminError, LoginError, LoginOutcome, MAX_BATCH, MemberQuery, NewMember, NewProject,
    Provisioner, SSO_LOGIN, kinds,
};
use sso_store::{
    CreatedBy, EventOutcome, EventQuery, EventRecord, OrgId, ProjectChange, ProjectId, ProjectQuery,
};
use sso_testkit::idp::{BASE_URL, Idp, Response};
use sso_testkit::{TestDb, on_both_backends};
use time::{Duration, OffsetDateTime, macros::datetime};

const BASE: OffsetDateTime = datetime!(2025-03-01 09:00 UTC);
const ADMIN: &str = "admin@example.com";

static IDP: LazyLock<Idp> = LazyLock::new(|| Idp::generate("idp.test members"));

fn at(seconds: i64) -> OffsetDateTime {
    BASE + Duration::seconds(seconds)
}

fn pid(id: &str) -> ProjectId {
    ProjectId::parse(id).unwrap()
}

fn email(text: &str) -> Email {
    Email::parse(text).unwrap()
}

fn new_project(id: &str, name: &str) -> NewProject {
    NewProject {
        id: pid(id),
        name: name.to_owned(),
    }
}

fn new_member(address: &str, role: Role, projects: &[&str]) -> NewMember {
    NewMember {
        email: email(address),
        role,
        projects: projects.iter().map(|p| pid(p)).collect(),
    }
}

async fn provisioner(db: &TestDb) -> Provisioner {
    Provisioner::new(db.connect().await, BASE_URL)
}

/// An org with a verified domain and an enabled connection to the test IdP, JIT as given.
async fn sso_org(p: &Provisioner, plan: Plan, jit: Option<Role>) -> OrgId {
    let org = p.create_org(ADMIN, "Example", plan, BASE).await.unwrap().id;
    p.add_verified_domain(ADMIN, org, "example.com", BASE)
        .await
        .unwrap();
    p.import_idp_metadata(ADMIN, org, &IDP.metadata(), BASE)
        .await
        .unwrap();
    p.set_connection_enabled(ADMIN, org, true, BASE)
        .await
        .unwrap();
    let _ = p.set_jit(ADMIN, org, jit, &[], BASE).await.unwrap();
    org
}

/// An SP-initiated login of `address` at `org`, completed at `t`.
async fn sso(
    p: &Provisioner,
    org: OrgId,
    address: &str,
    t: i64,
) -> Result<LoginOutcome, LoginError> {
    let start = p.begin_login(org, None, at(t)).await.unwrap();
    let raw = IDP.response(
        &Response::new(org, &format!("_a{t}_{}", start.request_id), address, at(t))
            .answering(&start.request_id),
    );
    p.complete_login(org, &raw, Some(&start.relay_state), at(t))
        .await
}

async fn events(p: &Provisioner, org: OrgId, kind: &str) -> Vec<EventRecord> {
    p.list_traces(org, &EventQuery::new(1000).kind(kind))
        .await
        .unwrap()
        .events
}

fn roles(page: &[sso_provisioning::MemberRecord]) -> Vec<(String, Role)> {
    page.iter()
        .map(|m| (m.user.email.as_str().to_owned(), m.role))
        .collect()
}

on_both_backends!(
    projects_upsert_list_and_remove,
    jit_logins_and_codes_carry_project_ids,
    members_added_listed_reroled_and_removed,
    bulk_adds_are_all_or_nothing,
    sso_never_changes_an_added_members_role,
    concurrent_demotions_keep_one_admin,
);

async fn projects_upsert_list_and_remove(db: TestDb) {
    let p = provisioner(&db).await;
    let org = sso_org(&p, Plan::Enterprise, Some(Role::Member)).await;
    let upserted = p
        .upsert_projects(
            ADMIN,
            org,
            &[new_project("wiki", "Wiki"), new_project("docs", "Docs")],
            at(1),
        )
        .await
        .unwrap();
    assert_eq!(upserted.len(), 2);
    let again = p
        .upsert_projects(
            ADMIN,
            org,
            &[
                new_project("docs", "Docs"),
                new_project("wiki", "Team wiki"),
                new_project("blog", "Blog"),
            ],
            at(2),
        )
        .await
        .unwrap();
    let changes: Vec<_> = again.iter().map(|u| u.change.code()).collect();
    assert_eq!(changes, ["unchanged", "renamed", "created"]);
    assert_eq!(
        again[1].change,
        ProjectChange::Renamed {
            from: "Wiki".to_owned()
        }
    );
    let event = &events(&p, org, kinds::PROJECTS_UPSERTED).await[0];
    assert_eq!(
        (event.outcome, event.reason.as_str(), event.actor.as_deref()),
        (EventOutcome::Success, "upserted", Some(ADMIN))
    );
    assert_eq!(event.detail["created"], serde_json::json!(["blog"]));
    assert_eq!(event.detail["unchanged"], serde_json::json!(["docs"]));
    assert_eq!(
        event.detail["renamed"],
        serde_json::json!([{ "id": "wiki", "from": "Wiki", "to": "Team wiki" }])
    );

    let page = p.list_projects(org, &ProjectQuery::new(2)).await.unwrap();
    let ids: Vec<_> = page.projects.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["blog", "docs"]);
    let rest = p
        .list_projects(org, &ProjectQuery::new(2).after(page.next.unwrap()))
        .await
        .unwrap();
    assert_eq!(rest.projects[0].name, "Team wiki");
    assert_eq!(rest.next, None);
    let missing = p
        .list_projects(OrgId::new(999_999), &ProjectQuery::new(2))
        .await
        .unwrap_err();
    assert_eq!(missing.reason(), "not-found");

    // An unknown default project is named; a known one is accepted.
    let unknown = p
        .set_jit(
            ADMIN,
            org,
            Some(Role::Member),
            &[pid("wiki"), pid("nope")],
            at(3),
        )
        .await
        .unwrap_err();
    assert_eq!(unknown.reason(), "not-found");
    assert!(
        unknown.to_string().contains("default_project_ids[1]")
            && unknown.to_string().contains("nope"),
        "{unknown}"
    );
    let _ = p
        .set_jit(ADMIN, org, Some(Role::Member), &[pid("wiki")], at(4))
        .await
        .unwrap();
    let jane = sso(&p, org, "jane@example.com", 10).await.unwrap();
    assert_eq!(jane.projects, [pid("wiki")]);

    // Removal of a JIT default is refused and audited; nothing is removed.
    let refused = p
        .remove_project(ADMIN, org, &pid("wiki"), at(20))
        .await
        .unwrap_err();
    assert_eq!(refused.reason(), "project-is-jit-default");
    assert!(matches!(refused, AdminError::ProjectIsJitDefault(_)));
    let event = &events(&p, org, kinds::PROJECT_REMOVED).await[0];
    assert_eq!(
        (event.outcome, event.reason.as_str()),
        (EventOutcome::Refused, "project-is-jit-default")
    );
    assert_eq!(
        p.member(org, &email("jane@example.com"))
            .await
            .unwrap()
            .projects,
        [pid("wiki")]
    );

    // Out of the JIT settings, it goes, with Jane's access.
    let _ = p
        .set_jit(ADMIN, org, Some(Role::Member), &[pid("docs")], at(30))
        .await
        .unwrap();
    assert!(
        p.remove_project(ADMIN, org, &pid("wiki"), at(31))
            .await
            .unwrap()
    );
    assert!(
        p.member(org, &email("jane@example.com"))
            .await
            .unwrap()
            .projects
            .is_empty()
    );
    let event = &events(&p, org, kinds::PROJECT_REMOVED).await[0];
    assert_eq!(event.reason, "removed");
    assert_eq!(event.detail["access_removed"], 1);
    assert!(
        !p.remove_project(ADMIN, org, &pid("wiki"), at(32))
            .await
            .unwrap()
    );
    assert_eq!(
        events(&p, org, kinds::PROJECT_REMOVED).await[0].reason,
        "no-such-project"
    );

    // Default projects stay an Enterprise feature.
    let growth = p
        .create_org(ADMIN, "Growing", Plan::Growth, BASE)
        .await
        .unwrap()
        .id;
    p.import_idp_metadata(ADMIN, growth, &IDP.metadata(), BASE)
        .await
        .unwrap();
    p.upsert_projects(ADMIN, growth, &[new_project("wiki", "Wiki")], at(40))
        .await
        .unwrap();
    let refused = p
        .set_jit(ADMIN, growth, Some(Role::Member), &[pid("wiki")], at(41))
        .await
        .unwrap_err();
    assert_eq!(refused.reason(), "plan-without-default-projects");
}

async fn jit_logins_and_codes_carry_project_ids(db: TestDb) {
    let p = provisioner(&db).await;
    let org = sso_org(&p, Plan::Enterprise, Some(Role::Viewer)).await;
    let odd = "Ωmega / handbook #1";
    p.upsert_projects(
        ADMIN,
        org,
        &[new_project(odd, "Handbook"), new_project("42", "Numbers")],
        BASE,
    )
    .await
    .unwrap();
    let _ = p
        .set_jit(ADMIN, org, Some(Role::Viewer), &[pid(odd), pid("42")], BASE)
        .await
        .unwrap();
    assert_eq!(
        p.connection(org).await.unwrap().jit_default_projects,
        [pid("42"), pid(odd)]
    );

    let start = p.begin_login(org, None, at(10)).await.unwrap();
    let raw = IDP.response(
        &Response::new(org, "_code", "ann@example.com", at(10)).answering(&start.request_id),
    );
    let (login, code) = p
        .complete_login_with_code(org, &raw, Some(&start.relay_state), at(10))
        .await
        .unwrap();
    assert_eq!(login.projects, [pid("42"), pid(odd)]);
    let redeemed = p.redeem_login_code(code.as_str(), at(11)).await.unwrap();
    assert_eq!(redeemed.projects, login.projects);

    let trace = &events(&p, org, SSO_LOGIN).await[0];
    let provision = trace.detail["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "provision")
        .unwrap();
    assert_eq!(
        provision["detail"]["default_projects"],
        serde_json::json!(["42", odd])
    );
}

async fn members_added_listed_reroled_and_removed(db: TestDb) {
    let p = provisioner(&db).await;
    let org = sso_org(&p, Plan::Enterprise, Some(Role::Member)).await;
    p.upsert_projects(ADMIN, org, &[new_project("wiki", "Wiki")], BASE)
        .await
        .unwrap();
    let alice = sso(&p, org, "alice@example.com", 10).await.unwrap();
    assert_eq!(alice.role, Role::Member);

    let batch = [
        new_member("Bob@Example.com", Role::Admin, &[]),
        new_member("carol@example.com", Role::Viewer, &["wiki"]),
        // Alice is a member already: left as she is, whatever the role asked.
        new_member("alice@example.com", Role::Admin, &["wiki"]),
    ];
    let added = p.add_members(ADMIN, org, &batch, at(20)).await.unwrap();
    let summary: Vec<_> = added
        .iter()
        .map(|a| (a.member.user.email.as_str(), a.member.role, a.created))
        .collect();
    assert_eq!(
        summary,
        [
            ("bob@example.com", Role::Admin, true),
            ("carol@example.com", Role::Viewer, true),
            ("alice@example.com", Role::Member, false),
        ]
    );
    assert_eq!(added[1].member.projects, [pid("wiki")]);
    assert_eq!(added[1].member.created_by, CreatedBy::Admin);
    assert!(added[2].member.projects.is_empty());
    assert_eq!(added[2].member.created_by, CreatedBy::Jit);
    let event = &events(&p, org, kinds::MEMBERS_ADDED).await[0];
    assert_eq!(event.reason, "added");
    assert_eq!(
        event.detail["existing"],
        serde_json::json!(["alice@example.com"])
    );
    assert_eq!(
        event.detail["added"][1]["projects"],
        serde_json::json!(["wiki"])
    );

    // The same again: everyone exists, nothing changes.
    let again = p.add_members(ADMIN, org, &batch, at(21)).await.unwrap();
    assert!(again.iter().all(|a| !a.created));
    assert_eq!(
        again.iter().map(|a| a.member.clone()).collect::<Vec<_>>(),
        vec![
            added[0].member.clone(),
            added[1].member.clone(),
            added[2].member.clone()
        ]
    );
    assert_eq!(
        events(&p, org, kinds::MEMBERS_ADDED).await[0].reason,
        "all-existing"
    );

    let all = p.list_members(org, &MemberQuery::new(10)).await.unwrap();
    assert_eq!(
        roles(&all.members),
        [
            ("alice@example.com".to_owned(), Role::Member),
            ("bob@example.com".to_owned(), Role::Admin),
            ("carol@example.com".to_owned(), Role::Viewer),
        ]
    );
    let admins = p
        .list_members(org, &MemberQuery::new(10).role(Role::Admin))
        .await
        .unwrap();
    assert_eq!(roles(&admins.members).len(), 1);

    // Bob is the only Admin: neither demoted nor removed.
    let bob = email("bob@example.com");
    for refused in [
        p.set_member_role(ADMIN, org, &bob, Role::Manager, at(30))
            .await
            .map(|_| ()),
        p.remove_member(ADMIN, org, &bob, at(31)).await.map(|_| ()),
    ] {
        let refused = refused.unwrap_err();
        assert_eq!(refused.reason(), "last-admin");
        assert!(refused.to_string().contains("bob@example.com"), "{refused}");
    }
    assert_eq!(
        events(&p, org, kinds::MEMBER_REMOVED).await[0].reason,
        "last-admin"
    );
    assert_eq!(p.member(org, &bob).await.unwrap().role, Role::Admin);

    // With Alice made Admin, Bob can step down.
    let alice_addr = email("alice@example.com");
    let changed = p
        .set_member_role(ADMIN, org, &alice_addr, Role::Admin, at(40))
        .await
        .unwrap();
    assert_eq!(changed.role, Role::Admin);
    let event = &events(&p, org, kinds::MEMBER_ROLE_CHANGED).await[0];
    assert_eq!(
        (
            event.reason.as_str(),
            &event.detail["from"],
            &event.detail["to"]
        ),
        (
            "changed",
            &serde_json::json!("member"),
            &serde_json::json!("admin")
        )
    );
    p.set_member_role(ADMIN, org, &bob, Role::Viewer, at(41))
        .await
        .unwrap();
    let same = p
        .set_member_role(ADMIN, org, &bob, Role::Viewer, at(42))
        .await
        .unwrap();
    assert_eq!(same.role, Role::Viewer);
    assert_eq!(
        events(&p, org, kinds::MEMBER_ROLE_CHANGED).await[0].reason,
        "unchanged"
    );

    // Carol goes, with her access; a second removal finds nobody.
    let carol = email("carol@example.com");
    assert!(p.remove_member(ADMIN, org, &carol, at(50)).await.unwrap());
    let event = &events(&p, org, kinds::MEMBER_REMOVED).await[0];
    assert_eq!(event.reason, "removed");
    assert_eq!(
        event.detail["projects_removed"],
        serde_json::json!(["wiki"])
    );
    assert_eq!(
        p.member(org, &carol).await.unwrap_err().reason(),
        "not-found"
    );
    assert!(!p.remove_member(ADMIN, org, &carol, at(51)).await.unwrap());
    assert_eq!(
        p.set_member_role(ADMIN, org, &carol, Role::Admin, at(52))
            .await
            .unwrap_err()
            .reason(),
        "not-found"
    );
    // Added back, Carol starts afresh.
    let back = p
        .add_members(
            ADMIN,
            org,
            &[new_member("carol@example.com", Role::Member, &[])],
            at(60),
        )
        .await
        .unwrap();
    assert!(back[0].created && back[0].member.projects.is_empty());
}

async fn bulk_adds_are_all_or_nothing(db: TestDb) {
    let p = provisioner(&db).await;
    let org = sso_org(&p, Plan::Enterprise, None).await;
    p.upsert_projects(ADMIN, org, &[new_project("wiki", "Wiki")], BASE)
        .await
        .unwrap();
    let repeated = p
        .add_members(
            ADMIN,
            org,
            &[
                new_member("a@example.com", Role::Member, &[]),
                new_member("b@example.com", Role::Member, &[]),
                new_member("A@EXAMPLE.com", Role::Admin, &[]),
            ],
            BASE,
        )
        .await
        .unwrap_err();
    assert_eq!(repeated.reason(), "invalid-input");
    assert!(repeated.to_string().contains("members[2]"), "{repeated}");

    let unknown = p
        .add_members(
            ADMIN,
            org,
            &[
                new_member("a@example.com", Role::Member, &["wiki"]),
                new_member("b@example.com", Role::Member, &["wiki", "nope"]),
            ],
            BASE,
        )
        .await
        .unwrap_err();
    assert_eq!(unknown.reason(), "not-found");
    assert!(
        unknown.to_string().contains("members[1]") && unknown.to_string().contains("nope"),
        "{unknown}"
    );
    let too_many: Vec<NewMember> = (0..=MAX_BATCH)
        .map(|i| new_member(&format!("u{i}@example.com"), Role::Viewer, &[]))
        .collect();
    assert_eq!(
        p.add_members(ADMIN, org, &too_many, BASE)
            .await
            .unwrap_err()
            .reason(),
        "invalid-input"
    );
    // Nothing was written, and every refusal is in the traces.
    assert!(
        p.list_members(org, &MemberQuery::new(10))
            .await
            .unwrap()
            .members
            .is_empty()
    );
    let refusals: Vec<_> = events(&p, org, kinds::MEMBERS_ADDED)
        .await
        .iter()
        .map(|e| (e.outcome, e.reason.clone()))
        .collect();
    assert_eq!(
        refusals,
        [
            (EventOutcome::Refused, "invalid-input".to_owned()),
            (EventOutcome::Refused, "not-found".to_owned()),
            (EventOutcome::Refused, "invalid-input".to_owned()),
        ]
    );
    assert_eq!(
        p.add_members(
            ADMIN,
            OrgId::new(999_999),
            &[new_member("a@example.com", Role::Member, &[])],
            BASE
        )
        .await
        .unwrap_err()
        .reason(),
        "not-found"
    );
}

/// SSO never changes an existing member's role, however they were added.
async fn sso_never_changes_an_added_members_role(db: TestDb) {
    let p = provisioner(&db).await;
    let org = sso_org(&p, Plan::Enterprise, Some(Role::Admin)).await;
    p.upsert_projects(ADMIN, org, &[new_project("wiki", "Wiki")], BASE)
        .await
        .unwrap();
    let _ = p
        .set_jit(ADMIN, org, Some(Role::Admin), &[pid("wiki")], BASE)
        .await
        .unwrap();
    p.add_members(
        ADMIN,
        org,
        &[new_member("viewer@example.com", Role::Viewer, &[])],
        BASE,
    )
    .await
    .unwrap();
    let login = sso(&p, org, "Viewer@Example.com", 10).await.unwrap();
    assert_eq!(login.role, Role::Viewer);
    assert!(!login.membership_created);
    assert!(login.projects.is_empty(), "no JIT projects for a member");
    let member = p.member(org, &email("viewer@example.com")).await.unwrap();
    assert_eq!(
        (member.role, member.created_by),
        (Role::Viewer, CreatedBy::Admin)
    );
}

/// Two admins demote each other at the same moment, many times over: each time exactly one
/// demotion goes through and the other is refused as the last Admin's.
async fn concurrent_demotions_keep_one_admin(db: TestDb) {
    let p = provisioner(&db).await;
    for round in 0..8 {
        let org = p
            .create_org(ADMIN, &format!("Race {round}"), Plan::Growth, BASE)
            .await
            .unwrap()
            .id;
        p.add_members(
            ADMIN,
            org,
            &[
                new_member("one@example.com", Role::Admin, &[]),
                new_member("two@example.com", Role::Admin, &[]),
            ],
            BASE,
        )
        .await
        .unwrap();
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
        let demote = |who: &'static str| {
            let p = p.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                p.set_member_role(ADMIN, org, &email(who), Role::Member, at(round))
                    .await
            })
        };
        let (a, b) = (demote("one@example.com"), demote("two@example.com"));
        let results = [a.await.unwrap(), b.await.unwrap()];
        let ok = results.iter().filter(|r| r.is_ok()).count();
        let last_admin = results
            .iter()
            .filter(|r| matches!(r, Err(AdminError::LastAdmin(_))))
            .count();
        assert_eq!((ok, last_admin), (1, 1), "round {round}: {results:?}");
        let admins = p
            .list_members(org, &MemberQuery::new(10).role(Role::Admin))
            .await
            .unwrap();
        assert_eq!(admins.members.len(), 1, "round {round}");
    }
}
