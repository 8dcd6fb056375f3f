//! SCIM provisioning on both backends: tokens that open the SCIM door only, users tied to a
//! membership (created, adopted, deactivated, reactivated, moved, deleted), the verified-domain
//! rule, versions, groups feeding the group rules on the next login, and concurrent SCIM
//! writes and logins converging on one member.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::LazyLock;

use serde_json::json;
use sso_email::Email;
use sso_policy::{GroupRoles, GroupRule, Plan, Role, SsoLoginRefusal};
use sso_provisioning::{
    CreatedBy, LoginError, LoginOutcome, OrgId, PasswordLoginError, Provisioner, ScimCaller,
    ScimError, ScimGroupInput, ScimLookup, ScimUserInput,
};
use sso_store::{EventQuery, MemberQuery};
use sso_testkit::idp::{BASE_URL, Idp, Response};
use sso_testkit::{TestDb, on_both_backends};
use time::{Duration, OffsetDateTime, macros::datetime};

const BASE: OffsetDateTime = datetime!(2025-03-01 09:00 UTC);
const ADMIN: &str = "admin@example.com";
const GROUPS: &str = "groups";

static IDP: LazyLock<Idp> = LazyLock::new(|| Idp::generate("idp.test scim"));

fn at(seconds: i64) -> OffsetDateTime {
    BASE + Duration::seconds(seconds)
}

fn email(address: &str) -> Email {
    Email::parse(address).unwrap()
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
    let _ = p
        .set_jit(ADMIN, org, Some(Role::Viewer), &[], BASE)
        .await
        .unwrap();
    org
}

/// A SCIM token for `org`, checked through the door it opens.
async fn scim_caller(p: &Provisioner, org: OrgId) -> ScimCaller {
    let issued = p
        .create_scim_token(ADMIN, org, "Okta provisioning", None, BASE)
        .await
        .unwrap();
    assert!(issued.secret().starts_with("sso_scim_"));
    let checked = p
        .authenticate_scim_token(issued.secret(), at(1))
        .await
        .unwrap();
    assert_eq!(checked.org, org);
    ScimCaller {
        token: checked.credential,
        org,
    }
}

fn user(name: &str, active: bool) -> ScimUserInput {
    ScimUserInput {
        user_name: name.to_owned(),
        external_id: Some(format!("ext-{name}")),
        display_name: Some("Someone".to_owned()),
        email: Some(name.to_owned()),
        active,
        document: json!({ "userName": name, "active": active }),
    }
}

async fn login(
    p: &Provisioner,
    org: OrgId,
    address: &str,
    groups: &[&str],
    t: i64,
) -> Result<LoginOutcome, LoginError> {
    let start = p.begin_login(org, None, at(t)).await.unwrap();
    let mut response = Response::new(org, &format!("_s{t}_{}", start.request_id), address, at(t))
        .answering(&start.request_id);
    for group in groups {
        response = response.attribute(GROUPS, group);
    }
    p.complete_login(
        org,
        &IDP.response(&response),
        Some(&start.relay_state),
        at(t),
    )
    .await
}

on_both_backends!(
    tokens_open_the_scim_door_only,
    deactivation_refuses_sso_and_password_until_reactivated,
    emails_must_be_at_verified_domains,
    existing_members_are_adopted_and_names_are_unique,
    a_new_email_moves_the_membership,
    stale_versions_are_refused,
    scim_groups_change_the_role_on_the_next_login,
    concurrent_scim_writes_and_logins_leave_one_member,
);

async fn tokens_open_the_scim_door_only(db: TestDb) {
    let p = Provisioner::new(db.connect().await, BASE_URL);
    let org = sso_org(&p).await;
    let scim = p
        .create_scim_token(ADMIN, org, "Entra", None, BASE)
        .await
        .unwrap();
    let admin = p
        .create_org_credential(ADMIN, org, "portal", None, BASE)
        .await
        .unwrap();
    // Each kind opens its own door only.
    assert!(
        p.authenticate_scim_token(scim.secret(), at(1))
            .await
            .is_ok()
    );
    assert!(
        p.authenticate_org_credential(scim.secret(), at(1))
            .await
            .is_err()
    );
    assert!(
        p.authenticate_scim_token(admin.secret(), at(1))
            .await
            .is_err()
    );
    // A SCIM token lasts a year unless asked otherwise.
    assert_eq!(scim.credential.expires_at - BASE, Duration::days(365));
    // Listed apart from admin credentials, revoked apart.
    let listed = p.list_scim_tokens(org).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, scim.credential.id);
    assert_eq!(p.list_org_credentials(org).await.unwrap().len(), 1);
    let wrong_kind = p
        .revoke_scim_token(ADMIN, org, admin.credential.id, at(2))
        .await
        .unwrap_err();
    assert_eq!(wrong_kind.reason(), "not-found");
    p.revoke_scim_token(ADMIN, org, scim.credential.id, at(2))
        .await
        .unwrap();
    let revoked = p
        .authenticate_scim_token(scim.secret(), at(3))
        .await
        .unwrap_err();
    assert_eq!(revoked.reason(), "credential-revoked");
    assert_eq!(p.scim_base_url(org), format!("{BASE_URL}/scim/v2/{org}"));
}

async fn deactivation_refuses_sso_and_password_until_reactivated(db: TestDb) {
    let p = Provisioner::new(db.connect().await, BASE_URL);
    let org = sso_org(&p).await;
    let caller = scim_caller(&p, org).await;
    let ann = "ann@example.com";

    let created = p
        .scim_create_user(&caller, &user(ann, true), at(10))
        .await
        .unwrap();
    assert_eq!(created.version, 1);
    let member = p.member(org, &email(ann)).await.unwrap();
    assert_eq!(
        (member.role, member.created_by),
        (Role::Viewer, CreatedBy::Scim)
    );
    assert_eq!(member.suspended_at, None);
    assert!(member.scim_managed);
    assert!(login(&p, org, ann, &[], 20).await.is_ok());
    // Require SSO is on after that proven login, so the password check refuses her anyway;
    // what matters below is the reason.
    let _ = p.set_require_sso(ADMIN, org, true, at(21)).await.unwrap();

    let id = created.id.to_string();
    let off = p
        .scim_replace_user(&caller, &id, &user(ann, false), Some(1), at(30))
        .await
        .unwrap();
    assert_eq!((off.version, off.active), (2, false));
    let member = p.member(org, &email(ann)).await.unwrap();
    assert_eq!(
        (member.role, member.suspended_at),
        (Role::Viewer, Some(at(30)))
    );
    let refused = login(&p, org, ann, &[], 40).await.unwrap_err();
    assert!(matches!(
        refused,
        LoginError::Refused(SsoLoginRefusal::MemberDeactivated)
    ));
    assert_eq!(refused.reason(), "member-deactivated");
    let password = p.check_password_login(&email(ann), org).await.unwrap_err();
    assert!(matches!(password, PasswordLoginError::Refused(_)));
    assert_eq!(password.reason(), "member-deactivated");
    // Without require-SSO too: deactivation is not a require-SSO matter.
    let _ = p.set_require_sso(ADMIN, org, false, at(41)).await.unwrap();
    let password = p.check_password_login(&email(ann), org).await.unwrap_err();
    assert_eq!(password.reason(), "member-deactivated");

    // Reactivation restores the same member and role.
    let on = p
        .scim_replace_user(&caller, &id, &user(ann, true), None, at(50))
        .await
        .unwrap();
    assert_eq!((on.version, on.active), (3, true));
    let back = login(&p, org, ann, &[], 60).await.unwrap();
    assert_eq!((back.user.id, back.role), (created.user, Role::Viewer));
    assert!(!back.membership_created);
    assert!(p.check_password_login(&email(ann), org).await.is_ok());

    // Deleting removes the membership; the trail is in the audit log.
    p.scim_delete_user(&caller, &id, None, at(70))
        .await
        .unwrap();
    assert_eq!(
        p.member(org, &email(ann)).await.unwrap_err().reason(),
        "not-found"
    );
    assert!(matches!(
        p.scim_user(org, &id).await.unwrap_err(),
        ScimError::NotFound
    ));
    let events = p
        .list_traces(org, &EventQuery::new(50).kind("scim-user"))
        .await
        .unwrap()
        .events;
    let reasons: Vec<&str> = events.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(
        reasons,
        ["deleted", "reactivated", "deactivated", "created"]
    );
    assert!(
        events
            .iter()
            .all(|e| e.actor.as_deref() == Some(caller.actor().as_str()))
    );
}

async fn emails_must_be_at_verified_domains(db: TestDb) {
    let p = Provisioner::new(db.connect().await, BASE_URL);
    let org = sso_org(&p).await;
    let caller = scim_caller(&p, org).await;
    let refused = p
        .scim_create_user(&caller, &user("eve@other.example", true), at(10))
        .await
        .unwrap_err();
    assert_eq!(refused.reason(), "scim-email-domain-unverified");
    let mut no_email = user("eve", true);
    no_email.email = None;
    let refused = p
        .scim_create_user(&caller, &no_email, at(11))
        .await
        .unwrap_err();
    assert_eq!(refused.reason(), "scim-no-email");
    let mut bad = user("eve", true);
    bad.email = Some("not an email".to_owned());
    let refused = p.scim_create_user(&caller, &bad, at(12)).await.unwrap_err();
    assert_eq!(refused.reason(), "scim-invalid-email");
    // Nothing was written but the refusals' audit events.
    let members = p.list_members(org, &MemberQuery::new(10)).await.unwrap();
    assert!(members.members.is_empty());
    let events = p
        .list_traces(org, &EventQuery::new(10).kind("scim-user"))
        .await
        .unwrap()
        .events;
    assert_eq!(events.len(), 3);
}

async fn existing_members_are_adopted_and_names_are_unique(db: TestDb) {
    let p = Provisioner::new(db.connect().await, BASE_URL);
    let org = sso_org(&p).await;
    let caller = scim_caller(&p, org).await;
    let bob = "bob@example.com";
    login(&p, org, bob, &[], 5).await.unwrap();
    p.set_member_role(ADMIN, org, &email(bob), Role::Manager, at(6))
        .await
        .unwrap();

    let created = p
        .scim_create_user(&caller, &user(bob, true), at(10))
        .await
        .unwrap();
    let member = p.member(org, &email(bob)).await.unwrap();
    assert_eq!(
        (member.role, member.created_by),
        (Role::Manager, CreatedBy::Jit)
    );
    assert_eq!(member.user.id, created.user);

    // The same userName in another letter case, or the same person again: 409.
    let mut again = user("BOB@example.com", true);
    again.email = Some("robert@example.com".to_owned());
    let taken = p
        .scim_create_user(&caller, &again, at(11))
        .await
        .unwrap_err();
    assert!(matches!(taken, ScimError::Uniqueness(_)), "{taken}");
    let mut twice = user("robert", true);
    twice.email = Some(bob.to_owned());
    let taken = p
        .scim_create_user(&caller, &twice, at(12))
        .await
        .unwrap_err();
    assert!(matches!(taken, ScimError::Uniqueness(_)), "{taken}");

    // Lookups by name ignore case; by external id they do not.
    let found = p
        .scim_find_users(org, ScimLookup::Name("Bob@Example.com"), 10)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let found = p
        .scim_find_users(org, ScimLookup::ExternalId("EXT-bob@example.com"), 10)
        .await
        .unwrap();
    assert!(found.is_empty());
    // More than the limit is too many.
    p.scim_create_user(&caller, &user("cy@example.com", true), at(13))
        .await
        .unwrap();
    let many = p
        .scim_find_users(org, ScimLookup::All, 1)
        .await
        .unwrap_err();
    assert!(matches!(many, ScimError::TooMany));
}

async fn a_new_email_moves_the_membership(db: TestDb) {
    let p = Provisioner::new(db.connect().await, BASE_URL);
    let org = sso_org(&p).await;
    let caller = scim_caller(&p, org).await;
    let created = p
        .scim_create_user(&caller, &user("dana@example.com", true), at(10))
        .await
        .unwrap();
    p.set_member_role(ADMIN, org, &email("dana@example.com"), Role::Admin, at(11))
        .await
        .unwrap();
    let moved = p
        .scim_replace_user(
            &caller,
            &created.id.to_string(),
            &user("dana.smith@example.com", true),
            None,
            at(20),
        )
        .await
        .unwrap();
    assert_ne!(moved.user, created.user);
    assert_eq!(moved.email, email("dana.smith@example.com"));
    let member = p
        .member(org, &email("dana.smith@example.com"))
        .await
        .unwrap();
    assert_eq!(member.role, Role::Admin);
    assert!(p.member(org, &email("dana@example.com")).await.is_err());
}

async fn stale_versions_are_refused(db: TestDb) {
    let p = Provisioner::new(db.connect().await, BASE_URL);
    let org = sso_org(&p).await;
    let caller = scim_caller(&p, org).await;
    let created = p
        .scim_create_user(&caller, &user("eli@example.com", true), at(10))
        .await
        .unwrap();
    let id = created.id.to_string();
    p.scim_replace_user(
        &caller,
        &id,
        &user("eli@example.com", true),
        Some(1),
        at(11),
    )
    .await
    .unwrap();
    let stale = p
        .scim_replace_user(
            &caller,
            &id,
            &user("eli@example.com", false),
            Some(1),
            at(12),
        )
        .await
        .unwrap_err();
    assert!(matches!(stale, ScimError::VersionMismatch));
    let stale = p
        .scim_delete_user(&caller, &id, Some(1), at(13))
        .await
        .unwrap_err();
    assert!(matches!(stale, ScimError::VersionMismatch));
    // Nothing changed.
    let now = p.scim_user(org, &id).await.unwrap();
    assert_eq!((now.version, now.active), (2, true));
    // Ids that are not ours name nothing.
    for id in ["0", "-1", "abc", "99999999999999999999", ""] {
        assert!(
            matches!(p.scim_user(org, id).await.unwrap_err(), ScimError::NotFound),
            "{id}"
        );
    }
    // Another org's resource is not found either.
    let other = p
        .create_org(ADMIN, "Other", Plan::Growth, BASE)
        .await
        .unwrap()
        .id;
    assert!(matches!(
        p.scim_user(other, &id).await.unwrap_err(),
        ScimError::NotFound
    ));
}

async fn scim_groups_change_the_role_on_the_next_login(db: TestDb) {
    let p = Provisioner::new(db.connect().await, BASE_URL);
    let org = sso_org(&p).await;
    let caller = scim_caller(&p, org).await;
    let rules = GroupRoles {
        attribute: Some(GROUPS.to_owned()),
        rules: vec![
            GroupRule {
                group: "Engineering".to_owned(),
                role: Role::Member,
                projects: vec![],
            },
            GroupRule {
                group: "Admins".to_owned(),
                role: Role::Admin,
                projects: vec![],
            },
        ],
        apply_on_every_login: true,
    };
    let _ = p.set_group_roles(ADMIN, org, &rules, at(1)).await.unwrap();
    let fay = p
        .scim_create_user(&caller, &user("fay@example.com", true), at(10))
        .await
        .unwrap();
    // An admin stays, so that demoting Fay later is allowed.
    let _ = p
        .scim_create_user(&caller, &user("gus@example.com", true), at(11))
        .await
        .unwrap();
    p.set_member_role(ADMIN, org, &email("gus@example.com"), Role::Admin, at(12))
        .await
        .unwrap();
    assert_eq!(
        login(&p, org, "fay@example.com", &[], 20)
            .await
            .unwrap()
            .role,
        Role::Viewer
    );

    let admins = p
        .scim_create_group(
            &caller,
            &ScimGroupInput {
                display_name: "Admins".to_owned(),
                external_id: None,
                members: vec![fay.id.to_string()],
                document: json!({ "displayName": "Admins" }),
            },
            at(30),
        )
        .await
        .unwrap();
    assert_eq!(admins.members.len(), 1);
    assert_eq!(admins.members[0].user_name, "fay@example.com");
    assert_eq!(
        login(&p, org, "fay@example.com", &[], 40)
            .await
            .unwrap()
            .role,
        Role::Admin
    );

    // Moved from Admins to Engineering: demoted on the next login.
    let input = |name: &str, members: Vec<String>| ScimGroupInput {
        display_name: name.to_owned(),
        external_id: None,
        members,
        document: json!({ "displayName": name }),
    };
    p.scim_replace_group(
        &caller,
        &admins.id.to_string(),
        &input("Admins", vec![]),
        None,
        at(50),
    )
    .await
    .unwrap();
    p.scim_create_group(
        &caller,
        &input("engineering", vec![fay.id.to_string()]),
        at(51),
    )
    .await
    .unwrap();
    assert_eq!(
        login(&p, org, "fay@example.com", &[], 60)
            .await
            .unwrap()
            .role,
        Role::Member
    );

    // Unknown members and duplicate names are refused, nothing half-written.
    let refused = p
        .scim_create_group(&caller, &input("Ops", vec!["424242".to_owned()]), at(70))
        .await
        .unwrap_err();
    assert_eq!(refused.reason(), "scim-unknown-member");
    let refused = p
        .scim_create_group(&caller, &input("ENGINEERING", vec![]), at(71))
        .await
        .unwrap_err();
    assert!(matches!(refused, ScimError::Uniqueness(_)));
    let groups = p.scim_find_groups(org, ScimLookup::All, 10).await.unwrap();
    assert_eq!(groups.len(), 2);
    // Deleting a user takes it out of its groups.
    p.scim_delete_user(&caller, &fay.id.to_string(), None, at(80))
        .await
        .unwrap();
    let groups = p
        .scim_find_groups(org, ScimLookup::Name("engineering"), 10)
        .await
        .unwrap();
    assert!(groups[0].members.is_empty());
}

async fn concurrent_scim_writes_and_logins_leave_one_member(db: TestDb) {
    let p = Provisioner::new(db.connect().await, BASE_URL);
    let org = sso_org(&p).await;
    let caller = scim_caller(&p, org).await;
    for round in 0..3_i64 {
        let address = format!("race{round}@example.com");
        let mut tasks = Vec::new();
        for i in 0..4_i64 {
            let p = p.clone();
            let address = address.clone();
            tasks.push(tokio::spawn(async move {
                login(&p, org, &address, &[], 100 * round + i)
                    .await
                    .map(|_| ())
            }));
        }
        let scim = {
            let p = p.clone();
            let address = address.clone();
            tokio::spawn(async move {
                p.scim_create_user(&caller, &user(&address, true), at(100 * round + 50))
                    .await
            })
        };
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let created = scim.await.unwrap().unwrap();
        let member = p.member(org, &email(&address)).await.unwrap();
        assert_eq!(member.user.id, created.user);
        let page = p
            .list_members(org, &MemberQuery::new(10).email_prefix(&address).unwrap())
            .await
            .unwrap();
        assert_eq!(page.members.len(), 1);
        // Deactivation racing logins: afterwards the member is suspended and refused.
        let id = created.id.to_string();
        let off = {
            let p = p.clone();
            tokio::spawn(async move {
                p.scim_replace_user(
                    &caller,
                    &id,
                    &user(&address, false),
                    None,
                    at(100 * round + 60),
                )
                .await
            })
        };
        let racing = login(
            &p,
            org,
            &format!("race{round}@example.com"),
            &[],
            100 * round + 61,
        )
        .await;
        off.await.unwrap().unwrap();
        if let Err(e) = racing {
            assert_eq!(e.reason(), "member-deactivated");
        }
        let after = login(
            &p,
            org,
            &format!("race{round}@example.com"),
            &[],
            100 * round + 70,
        )
        .await;
        assert_eq!(after.unwrap_err().reason(), "member-deactivated");
    }
}
