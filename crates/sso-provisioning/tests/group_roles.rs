//! Directory-driven roles on both backends: group rules set by an admin (checked, audited),
//! applied at JIT from the verified assertion's groups attribute, and on every login when
//! asked (promotion, demotion, no match keeps the role, never the last Admin), with the trace
//! naming the rule that fired.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::LazyLock;

use serde_json::Value;
use sso_email::Email;
use sso_policy::{GroupRoles, GroupRule, MAX_GROUPS, Plan, Role};
use sso_provisioning::{AdminError, LoginOutcome, NewProject, Provisioner, SSO_LOGIN, kinds};
use sso_store::{EventOutcome, EventQuery, OrgId, ProjectId};
use sso_testkit::idp::{BASE_URL, Idp, Response};
use sso_testkit::{TestDb, on_both_backends};
use time::{Duration, OffsetDateTime, macros::datetime};

const BASE: OffsetDateTime = datetime!(2025-03-01 09:00 UTC);
const ADMIN: &str = "admin@example.com";
const ENTRA_GROUPS: &str = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups";
const ADMINS_ID: &str = "8f0b2c4e-1d3a-4c6b-9e7f-0a1b2c3d4e5f";

static IDP: LazyLock<Idp> = LazyLock::new(|| Idp::generate("idp.test groups"));

fn at(seconds: i64) -> OffsetDateTime {
    BASE + Duration::seconds(seconds)
}

fn pid(id: &str) -> ProjectId {
    ProjectId::parse(id).unwrap()
}

fn rule(group: &str, role: Role, projects: &[&str]) -> GroupRule<ProjectId> {
    GroupRule {
        group: group.to_owned(),
        role,
        projects: projects.iter().map(|p| pid(p)).collect(),
    }
}

/// Entra ID's group claim: object ids. Members of `ADMINS_ID` are Admins, of "engineering"
/// Members with the wiki.
fn rules(every_login: bool) -> GroupRoles<ProjectId> {
    GroupRoles {
        attribute: Some(ENTRA_GROUPS.to_owned()),
        rules: vec![
            rule("engineering", Role::Member, &["wiki"]),
            rule(ADMINS_ID, Role::Admin, &[]),
        ],
        apply_on_every_login: every_login,
    }
}

async fn sso_org(p: &Provisioner) -> OrgId {
    let org = p
        .create_org(ADMIN, "Example", Plan::Enterprise, BASE)
        .await
        .unwrap()
        .id;
    p.add_verified_domain(ADMIN, org, "example.com", BASE)
        .await
        .unwrap();
    p.import_idp_metadata(ADMIN, org, &IDP.metadata(), BASE)
        .await
        .unwrap();
    p.set_connection_enabled(ADMIN, org, true, BASE)
        .await
        .unwrap();
    let projects = [
        NewProject {
            id: pid("wiki"),
            name: "Wiki".to_owned(),
        },
        NewProject {
            id: pid("handbook"),
            name: "Handbook".to_owned(),
        },
    ];
    p.upsert_projects(ADMIN, org, &projects, BASE)
        .await
        .unwrap();
    let _ = p
        .set_jit(ADMIN, org, Some(Role::Viewer), &[pid("handbook")], BASE)
        .await
        .unwrap();
    org
}

/// A login of `address` at `t` whose assertion says these groups.
async fn sso(p: &Provisioner, org: OrgId, address: &str, groups: &[&str], t: i64) -> LoginOutcome {
    let start = p.begin_login(org, None, at(t)).await.unwrap();
    let mut response = Response::new(org, &format!("_g{t}_{}", start.request_id), address, at(t))
        .answering(&start.request_id);
    for group in groups {
        response = response.attribute(ENTRA_GROUPS, group);
    }
    p.complete_login(
        org,
        &IDP.response(&response),
        Some(&start.relay_state),
        at(t),
    )
    .await
    .unwrap()
}

/// The `group-roles` check of the newest login trace.
async fn group_check(p: &Provisioner, org: OrgId) -> Value {
    let traces = p
        .list_traces(org, &EventQuery::new(1).kind(SSO_LOGIN))
        .await
        .unwrap()
        .events;
    let checks = traces[0].detail["checks"].as_array().unwrap().clone();
    checks
        .into_iter()
        .find(|c| c["check"] == "group-roles")
        .map(|c| c["detail"].clone())
        .unwrap_or(Value::Null)
}

async fn role_of(p: &Provisioner, org: OrgId, address: &str) -> Role {
    p.member(org, &Email::parse(address).unwrap())
        .await
        .unwrap()
        .role
}

on_both_backends!(
    a_first_login_takes_its_role_from_a_group,
    every_login_promotes_and_demotes_only_when_asked,
    a_login_never_demotes_the_last_admin,
    rules_are_checked_and_audited,
    a_huge_group_list_is_read_up_to_the_bound,
);

async fn a_first_login_takes_its_role_from_a_group(db: TestDb) {
    let p = Provisioner::new(db.connect().await, BASE_URL);
    let org = sso_org(&p).await;
    let connection = p
        .set_group_roles(ADMIN, org, &rules(false), at(1))
        .await
        .unwrap();
    assert_eq!(connection.group_roles, rules(false));

    let ann = sso(&p, org, "ann@example.com", &["engineering", ADMINS_ID], 10).await;
    assert!(ann.membership_created);
    assert_eq!(ann.role, Role::Admin);
    assert_eq!(ann.projects, [pid("handbook"), pid("wiki")]);
    let check = group_check(&p, org).await;
    assert_eq!(check["decision"], "role-from-group-rule");
    assert_eq!(check["fired"]["rule"], 2);
    assert_eq!(check["fired"]["group"], ADMINS_ID);
    assert_eq!(check["matched"].as_array().unwrap().len(), 2);

    // No matching group: the JIT default role and projects.
    let bob = sso(&p, org, "bob@example.com", &["sales"], 20).await;
    assert_eq!(
        (bob.role, bob.projects.clone()),
        (Role::Viewer, vec![pid("handbook")])
    );
    let check = group_check(&p, org).await;
    assert_eq!(check["decision"], "jit-default-role");
    assert_eq!(check["fired"], Value::Null);

    // Without the attribute at all, the same, and the trace says it was absent.
    let cy = sso(&p, org, "cy@example.com", &[], 30).await;
    assert_eq!(cy.role, Role::Viewer);
    assert_eq!(group_check(&p, org).await["attribute_present"], false);
}

async fn every_login_promotes_and_demotes_only_when_asked(db: TestDb) {
    let p = Provisioner::new(db.connect().await, BASE_URL);
    let org = sso_org(&p).await;
    let _ = p
        .set_group_roles(ADMIN, org, &rules(true), at(1))
        .await
        .unwrap();
    let _ = sso(&p, org, "ann@example.com", &[ADMINS_ID], 10).await;
    let bob = sso(&p, org, "bob@example.com", &[], 20).await;
    assert_eq!(bob.role, Role::Viewer);

    let bob = sso(&p, org, "bob@example.com", &[ADMINS_ID], 30).await;
    assert_eq!(bob.role, Role::Admin);
    assert_eq!(role_of(&p, org, "bob@example.com").await, Role::Admin);
    let check = group_check(&p, org).await;
    assert_eq!(
        (
            check["decision"].clone(),
            check["from"].clone(),
            check["to"].clone()
        ),
        ("promoted".into(), "viewer".into(), "admin".into())
    );

    // A demotion: Ann is still an Admin, so Bob may lose it. He gets the wiki too.
    let bob = sso(&p, org, "bob@example.com", &["engineering"], 40).await;
    assert_eq!(bob.role, Role::Member);
    assert!(bob.projects.contains(&pid("wiki")));
    let check = group_check(&p, org).await;
    assert_eq!(check["decision"], "demoted");
    assert_eq!(check["fired"]["rule"], 1);
    assert_eq!(check["projects_granted"], 1);

    // No matching group on every login: the role stays.
    let bob = sso(&p, org, "bob@example.com", &["sales"], 50).await;
    assert_eq!(bob.role, Role::Member);
    assert_eq!(
        group_check(&p, org).await["decision"],
        "no-matching-rule-kept"
    );

    // Every-login off: the groups no longer move an existing member.
    let _ = p
        .set_group_roles(ADMIN, org, &rules(false), at(60))
        .await
        .unwrap();
    let bob = sso(&p, org, "bob@example.com", &[ADMINS_ID], 70).await;
    assert_eq!(bob.role, Role::Member);
    assert_eq!(role_of(&p, org, "bob@example.com").await, Role::Member);
    assert_eq!(
        group_check(&p, org).await["decision"],
        "existing-member-kept"
    );
}

async fn a_login_never_demotes_the_last_admin(db: TestDb) {
    let p = Provisioner::new(db.connect().await, BASE_URL);
    let org = sso_org(&p).await;
    let _ = p
        .set_group_roles(ADMIN, org, &rules(true), at(1))
        .await
        .unwrap();
    let ann = sso(&p, org, "ann@example.com", &[ADMINS_ID], 10).await;
    assert_eq!(ann.role, Role::Admin);

    // Ann leaves the admins group: as the only Admin, she keeps the role, and the trace says so.
    let ann = sso(&p, org, "ann@example.com", &["engineering"], 20).await;
    assert_eq!(ann.role, Role::Admin);
    assert_eq!(role_of(&p, org, "ann@example.com").await, Role::Admin);
    let check = group_check(&p, org).await;
    assert_eq!(check["decision"], "last-admin-kept");
    assert_eq!(check["to"], "admin");

    // Once another Admin exists, the same login demotes her.
    let _ = sso(&p, org, "bob@example.com", &[ADMINS_ID], 30).await;
    let ann = sso(&p, org, "ann@example.com", &["engineering"], 40).await;
    assert_eq!(ann.role, Role::Member);
    assert_eq!(group_check(&p, org).await["decision"], "demoted");
}

async fn rules_are_checked_and_audited(db: TestDb) {
    let p = Provisioner::new(db.connect().await, BASE_URL);
    let org = sso_org(&p).await;
    let unknown = GroupRoles {
        rules: vec![
            rule("a", Role::Member, &[]),
            rule("b", Role::Member, &["nope"]),
        ],
        ..rules(false)
    };
    let refused = p
        .set_group_roles(ADMIN, org, &unknown, at(1))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &refused,
            AdminError::UnknownProject {
                field: "rules",
                index: 1,
                ..
            }
        ),
        "{refused}"
    );
    let duplicate = GroupRoles {
        rules: vec![
            rule("Eng", Role::Member, &[]),
            rule(" eng ", Role::Admin, &[]),
        ],
        ..rules(false)
    };
    let refused = p
        .set_group_roles(ADMIN, org, &duplicate, at(2))
        .await
        .unwrap_err();
    assert_eq!(refused.reason(), "invalid-input");

    p.set_plan(ADMIN, org, Plan::Growth, at(3)).await.unwrap();
    let refused = p
        .set_group_roles(ADMIN, org, &rules(false), at(4))
        .await
        .unwrap_err();
    assert_eq!(refused.reason(), "plan-without-rule-projects");
    let no_projects = GroupRoles {
        rules: vec![rule(ADMINS_ID, Role::Admin, &[])],
        ..rules(true)
    };
    let stored = p
        .set_group_roles(ADMIN, org, &no_projects, at(5))
        .await
        .unwrap();
    assert_eq!(stored.group_roles, no_projects);
    // A blank attribute is none; rules then wait for directory groups.
    let blank = GroupRoles {
        attribute: Some("  ".to_owned()),
        ..no_projects.clone()
    };
    let stored = p.set_group_roles(ADMIN, org, &blank, at(6)).await.unwrap();
    assert_eq!(stored.group_roles.attribute, None);

    let events = p
        .list_traces(org, &EventQuery::new(100).kind(kinds::GROUP_ROLES_CHANGED))
        .await
        .unwrap()
        .events;
    let outcomes: Vec<(EventOutcome, &str)> = events
        .iter()
        .map(|e| (e.outcome, e.reason.as_str()))
        .collect();
    assert_eq!(
        outcomes,
        [
            (EventOutcome::Success, "changed"),
            (EventOutcome::Success, "changed"),
            (EventOutcome::Refused, "plan-without-rule-projects"),
            (EventOutcome::Refused, "invalid-input"),
            (EventOutcome::Refused, "not-found"),
        ]
    );
    assert_eq!(events[1].detail["to"]["rules"][0]["group"], ADMINS_ID);
}

async fn a_huge_group_list_is_read_up_to_the_bound(db: TestDb) {
    let p = Provisioner::new(db.connect().await, BASE_URL);
    let org = sso_org(&p).await;
    let _ = p
        .set_group_roles(ADMIN, org, &rules(false), at(1))
        .await
        .unwrap();
    // The admins group comes after more values than are read: it is not seen.
    let filler: Vec<String> = (0..MAX_GROUPS + 200).map(|i| format!("g{i}")).collect();
    let mut groups: Vec<&str> = filler.iter().map(String::as_str).collect();
    groups.insert(MAX_GROUPS + 100, ADMINS_ID);
    groups.insert(10, "engineering");
    let dee = sso(&p, org, "dee@example.com", &groups, 10).await;
    assert_eq!(dee.role, Role::Member);
    let check = group_check(&p, org).await;
    assert_eq!(check["groups_truncated"], true);
    assert_eq!(check["groups_read"], MAX_GROUPS);
    assert_eq!(check["fired"]["group"], "engineering");
}
