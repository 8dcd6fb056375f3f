//! The members and projects calls of AdminService over a real tonic server: projects under
//! the host product's ids as JIT defaults of a login, removal of a default refused, bulk adds
//! with the failing item named, listing with filters and pages, roles, the last Admin kept,
//! and every refusal with its code and reason.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::LazyLock;

use common::idp::{Idp, Response};
use common::{TestServer, at};
use sso_grpc::reason_of;
use sso_grpc::v1::{self, CreatedBy, Plan, ProjectChange, Reason, Role};
use sso_store::OrgId;
use tonic::{Code, Request, Status};

static IDP: LazyLock<Idp> = LazyLock::new(|| Idp::generate("grpc members idp"));

fn as_ops<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("x-sso-actor", "ops@example.com".parse().unwrap());
    request
}

fn refused(status: &Status, code: Code, reason: Reason, mentions: &str) {
    assert_eq!(status.code(), code, "{status:?}");
    assert_eq!(reason_of(status), Some(reason), "{status:?}");
    assert!(status.message().contains(mentions), "{status:?}");
}

fn project(id: &str, name: &str) -> v1::ProjectInput {
    v1::ProjectInput {
        id: id.to_owned(),
        name: name.to_owned(),
    }
}

fn member(email: &str, role: Role, projects: &[&str]) -> v1::MemberInput {
    v1::MemberInput {
        email: email.to_owned(),
        role: role.into(),
        project_ids: projects.iter().map(|p| (*p).to_owned()).collect(),
    }
}

/// An org on `plan` with the test IdP's connection enabled and JIT on as Member.
async fn sso_org(s: &mut TestServer, plan: Plan, domain: &str) -> String {
    let org = s
        .admin
        .create_org(as_ops(v1::CreateOrgRequest {
            name: "Example".to_owned(),
            plan: plan.into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .id;
    s.admin
        .add_verified_domain(as_ops(v1::VerifiedDomainRequest {
            org_id: org.clone(),
            domain: domain.to_owned(),
        }))
        .await
        .unwrap();
    s.admin
        .import_idp_metadata(as_ops(v1::ImportIdpMetadataRequest {
            org_id: org.clone(),
            metadata_xml: String::from_utf8(IDP.metadata()).unwrap(),
            entity_id: String::new(),
            signing_certificate: String::new(),
        }))
        .await
        .unwrap();
    s.admin
        .set_connection_enabled(as_ops(v1::SetConnectionEnabledRequest {
            org_id: org.clone(),
            enabled: true,
        }))
        .await
        .unwrap();
    org
}

async fn set_jit(
    s: &mut TestServer,
    org: &str,
    projects: &[&str],
) -> Result<v1::Connection, Status> {
    s.admin
        .set_jit(as_ops(v1::SetJitRequest {
            org_id: org.to_owned(),
            role: Role::Member.into(),
            default_project_ids: projects.iter().map(|p| (*p).to_owned()).collect(),
        }))
        .await
        .map(tonic::Response::into_inner)
}

async fn add(
    s: &mut TestServer,
    org: &str,
    members: Vec<v1::MemberInput>,
) -> Result<Vec<v1::AddedMember>, Status> {
    s.admin
        .add_members(as_ops(v1::AddMembersRequest {
            org_id: org.to_owned(),
            members,
        }))
        .await
        .map(|r| r.into_inner().members)
}

async fn list(
    s: &mut TestServer,
    org: &str,
    page_size: u32,
    page_token: &str,
    email_prefix: &str,
    role: Role,
) -> Result<v1::ListMembersResponse, Status> {
    s.admin
        .list_members(as_ops(v1::ListMembersRequest {
            org_id: org.to_owned(),
            page_size,
            page_token: page_token.to_owned(),
            email_prefix: email_prefix.to_owned(),
            role: role.into(),
        }))
        .await
        .map(tonic::Response::into_inner)
}

async fn set_role(
    s: &mut TestServer,
    org: &str,
    email: &str,
    role: Role,
) -> Result<v1::Member, Status> {
    s.admin
        .set_member_role(as_ops(v1::SetMemberRoleRequest {
            org_id: org.to_owned(),
            email: email.to_owned(),
            role: role.into(),
        }))
        .await
        .map(tonic::Response::into_inner)
}

async fn remove_project(s: &mut TestServer, org: &str, id: &str) -> Result<bool, Status> {
    s.admin
        .remove_project(as_ops(v1::RemoveProjectRequest {
            org_id: org.to_owned(),
            project_id: id.to_owned(),
        }))
        .await
        .map(|r| r.into_inner().removed)
}

/// A JIT login of `email` at `org`, completed at `t`.
async fn login(s: &mut TestServer, org: &str, email: &str, t: i64) -> v1::CompleteSsoLoginResponse {
    s.set_time(t);
    let start = s
        .auth
        .begin_sso_login(v1::BeginSsoLoginRequest {
            target: Some(v1::begin_sso_login_request::Target::OrgId(org.to_owned())),
            return_target: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let number = OrgId::new(org.parse().unwrap());
    let response = IDP.response(
        &Response::new(number, &format!("_a{t}"), email, at(t)).answering(&start.request_id),
    );
    s.auth
        .complete_sso_login(v1::CompleteSsoLoginRequest {
            org_id: org.to_owned(),
            saml_response: String::from_utf8(response).unwrap(),
            relay_state: start.relay_state,
        })
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects_by_the_host_products_ids() {
    let mut s = TestServer::start("projects").await;
    let org = sso_org(&mut s, Plan::Enterprise, "example.com").await;

    let upserted = s
        .admin
        .upsert_projects(as_ops(v1::UpsertProjectsRequest {
            org_id: org.clone(),
            projects: vec![project("proj 7/α", "Handbook"), project("wiki", "Wiki")],
        }))
        .await
        .unwrap()
        .into_inner()
        .projects;
    assert!(
        upserted
            .iter()
            .all(|u| u.change() == ProjectChange::Created)
    );
    let renamed = s
        .admin
        .upsert_projects(as_ops(v1::UpsertProjectsRequest {
            org_id: org.clone(),
            projects: vec![project("wiki", "Team wiki")],
        }))
        .await
        .unwrap()
        .into_inner()
        .projects;
    assert_eq!(renamed[0].change(), ProjectChange::Renamed);
    assert_eq!(renamed[0].previous_name, "Wiki");
    assert_eq!(renamed[0].project.as_ref().unwrap().name, "Team wiki");

    // Ids are refused by place, the whole batch with them.
    for (projects, mentions) in [
        (
            vec![project("ok", "Ok"), project(" padded", "P")],
            "projects[1].id",
        ),
        (
            vec![project("ok", "Ok"), project("", "P")],
            "projects[1].id",
        ),
        (vec![project("ok", "Ok"), project("x", "  ")], "item 1"),
        (vec![project("ok", "Ok"), project("ok", "Again")], "item 1"),
    ] {
        let status = s
            .admin
            .upsert_projects(as_ops(v1::UpsertProjectsRequest {
                org_id: org.clone(),
                projects,
            }))
            .await
            .unwrap_err();
        refused(
            &status,
            Code::InvalidArgument,
            Reason::InvalidInput,
            mentions,
        );
    }
    let too_many = (0..=1000).map(|i| project(&format!("p{i}"), "P")).collect();
    let status = s
        .admin
        .upsert_projects(as_ops(v1::UpsertProjectsRequest {
            org_id: org.clone(),
            projects: too_many,
        }))
        .await
        .unwrap_err();
    refused(
        &status,
        Code::InvalidArgument,
        Reason::InvalidInput,
        "at most 1000",
    );

    // Paged by id in byte order.
    let first = s
        .admin
        .list_projects(as_ops(v1::ListProjectsRequest {
            org_id: org.clone(),
            page_size: 1,
            page_token: String::new(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.projects[0].id, "proj 7/α");
    assert!(!first.next_page_token.is_empty());
    let second = s
        .admin
        .list_projects(as_ops(v1::ListProjectsRequest {
            org_id: org.clone(),
            page_size: 1,
            page_token: first.next_page_token,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.projects[0].id, "wiki");
    assert_eq!(second.next_page_token, "");
    let status = s
        .admin
        .list_projects(as_ops(v1::ListProjectsRequest {
            org_id: org.clone(),
            page_size: 1,
            page_token: "m1.00".to_owned(),
        }))
        .await
        .unwrap_err();
    refused(
        &status,
        Code::InvalidArgument,
        Reason::InvalidInput,
        "page_token",
    );

    // JIT defaults by those ids; an unknown one is named.
    let status = set_jit(&mut s, &org, &["wiki", "nope"]).await.unwrap_err();
    refused(
        &status,
        Code::NotFound,
        Reason::NotFound,
        "default_project_ids[1]",
    );
    let connection = set_jit(&mut s, &org, &["wiki", "proj 7/α"]).await.unwrap();
    assert_eq!(connection.jit_default_project_ids, ["proj 7/α", "wiki"]);
    let jane = login(&mut s, &org, "jane@example.com", 60).await;
    assert!(jane.membership_created);
    assert_eq!(jane.project_ids, ["proj 7/α", "wiki"]);

    // A default project cannot be removed; another can, once.
    let status = remove_project(&mut s, &org, "wiki").await.unwrap_err();
    refused(
        &status,
        Code::FailedPrecondition,
        Reason::ProjectIsJitDefault,
        "wiki",
    );
    set_jit(&mut s, &org, &["proj 7/α"]).await.unwrap();
    assert!(remove_project(&mut s, &org, "wiki").await.unwrap());
    assert!(!remove_project(&mut s, &org, "wiki").await.unwrap());
    let status = remove_project(&mut s, &org, "").await.unwrap_err();
    refused(
        &status,
        Code::InvalidArgument,
        Reason::InvalidInput,
        "project_id",
    );

    // Default projects need Enterprise.
    let growth = sso_org(&mut s, Plan::Growth, "growth.example").await;
    s.admin
        .upsert_projects(as_ops(v1::UpsertProjectsRequest {
            org_id: growth.clone(),
            projects: vec![project("wiki", "Wiki")],
        }))
        .await
        .unwrap();
    let status = set_jit(&mut s, &growth, &["wiki"]).await.unwrap_err();
    refused(
        &status,
        Code::FailedPrecondition,
        Reason::PlanWithoutDefaultProjects,
        "",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_listed_reroled_and_removed() {
    let mut s = TestServer::start("members").await;
    let org = sso_org(&mut s, Plan::Enterprise, "example.com").await;
    s.admin
        .upsert_projects(as_ops(v1::UpsertProjectsRequest {
            org_id: org.clone(),
            projects: vec![project("wiki", "Wiki")],
        }))
        .await
        .unwrap();
    set_jit(&mut s, &org, &[]).await.unwrap();
    login(&mut s, &org, "jit@example.com", 10).await;

    // Refused by place, nothing added.
    for (members, code, reason, mentions) in [
        (
            vec![
                member("a@x.example", Role::Admin, &[]),
                member("nope", Role::Viewer, &[]),
            ],
            Code::InvalidArgument,
            Reason::InvalidInput,
            "members[1].email",
        ),
        (
            vec![member("a@x.example", Role::Unspecified, &[])],
            Code::InvalidArgument,
            Reason::InvalidInput,
            "members[0].role",
        ),
        (
            vec![member("a@x.example", Role::Admin, &["wiki", "\u{0}"])],
            Code::InvalidArgument,
            Reason::InvalidInput,
            "members[0].project_ids[1]",
        ),
        (
            vec![
                member("a@x.example", Role::Admin, &[]),
                member("b@x.example", Role::Admin, &["gone"]),
            ],
            Code::NotFound,
            Reason::NotFound,
            "members[1]",
        ),
        (
            vec![
                member("a@x.example", Role::Admin, &[]),
                member("A@X.example", Role::Admin, &[]),
            ],
            Code::InvalidArgument,
            Reason::InvalidInput,
            "members[1]",
        ),
    ] {
        let status = add(&mut s, &org, members).await.unwrap_err();
        refused(&status, code, reason, mentions);
    }
    let too_many = (0..=1000)
        .map(|i| member(&format!("u{i}@x.example"), Role::Viewer, &[]))
        .collect();
    let status = add(&mut s, &org, too_many).await.unwrap_err();
    refused(
        &status,
        Code::InvalidArgument,
        Reason::InvalidInput,
        "members",
    );
    assert_eq!(
        list(&mut s, &org, 0, "", "", Role::Unspecified)
            .await
            .unwrap()
            .members
            .len(),
        1
    );

    let batch = vec![
        member("Ann@X.example", Role::Admin, &[]),
        member("bob@x.example", Role::Viewer, &["wiki"]),
        member("jit@example.com", Role::Admin, &[]),
    ];
    let added = add(&mut s, &org, batch.clone()).await.unwrap();
    let created: Vec<bool> = added.iter().map(|a| a.created).collect();
    assert_eq!(created, [true, true, false]);
    let ann = added[0].member.as_ref().unwrap();
    assert_eq!(
        (ann.email.as_str(), ann.role(), ann.created_by()),
        ("ann@x.example", Role::Admin, CreatedBy::Admin)
    );
    assert!(!ann.user_id.is_empty() && !ann.created_at.is_empty());
    assert_eq!(added[1].member.as_ref().unwrap().project_ids, ["wiki"]);
    let jit = added[2].member.as_ref().unwrap();
    assert_eq!(
        (jit.role(), jit.created_by()),
        (Role::Member, CreatedBy::Jit)
    );
    let again = add(&mut s, &org, batch).await.unwrap();
    assert!(again.iter().all(|a| !a.created));

    // Listing: by email, filtered, paged.
    let page = list(&mut s, &org, 2, "", "", Role::Unspecified)
        .await
        .unwrap();
    let emails: Vec<&str> = page.members.iter().map(|m| m.email.as_str()).collect();
    assert_eq!(emails, ["ann@x.example", "bob@x.example"]);
    let rest = list(
        &mut s,
        &org,
        2,
        &page.next_page_token,
        "",
        Role::Unspecified,
    )
    .await
    .unwrap();
    assert_eq!(rest.members[0].email, "jit@example.com");
    assert_eq!(rest.next_page_token, "");
    let admins = list(&mut s, &org, 0, "", "", Role::Admin).await.unwrap();
    assert_eq!(admins.members.len(), 1);
    let b = list(&mut s, &org, 0, "", " B", Role::Unspecified)
        .await
        .unwrap();
    assert_eq!(b.members[0].email, "bob@x.example");
    for (size, token, prefix, mentions) in [
        (1001, "", "", "page_size"),
        (0, "p1.61", "", "page_token"),
        (0, "", "a\nb", "email prefix"),
    ] {
        let status = list(&mut s, &org, size, token, prefix, Role::Unspecified)
            .await
            .unwrap_err();
        refused(
            &status,
            Code::InvalidArgument,
            Reason::InvalidInput,
            mentions,
        );
    }
    let status = list(&mut s, "424242", 0, "", "", Role::Unspecified)
        .await
        .unwrap_err();
    refused(&status, Code::NotFound, Reason::NotFound, "organization");

    // One member; roles; the last Admin stays.
    let got = s
        .admin
        .get_member(as_ops(v1::GetMemberRequest {
            org_id: org.clone(),
            email: "BOB@x.example".to_owned(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((got.role(), got.project_ids.len()), (Role::Viewer, 1));
    let status = s
        .admin
        .get_member(as_ops(v1::GetMemberRequest {
            org_id: org.clone(),
            email: "nobody@x.example".to_owned(),
        }))
        .await
        .unwrap_err();
    refused(&status, Code::NotFound, Reason::NotFound, "member");
    let status = set_role(&mut s, &org, "ann@x.example", Role::Member)
        .await
        .unwrap_err();
    refused(
        &status,
        Code::FailedPrecondition,
        Reason::LastAdmin,
        "ann@x.example",
    );
    let status = set_role(&mut s, &org, "ann@x.example", Role::Unspecified)
        .await
        .unwrap_err();
    refused(&status, Code::InvalidArgument, Reason::InvalidInput, "role");
    let status = s
        .admin
        .remove_member(as_ops(v1::RemoveMemberRequest {
            org_id: org.clone(),
            email: "ann@x.example".to_owned(),
        }))
        .await
        .unwrap_err();
    refused(
        &status,
        Code::FailedPrecondition,
        Reason::LastAdmin,
        "ann@x.example",
    );
    let bob = set_role(&mut s, &org, "bob@x.example", Role::Admin)
        .await
        .unwrap();
    assert_eq!(bob.role(), Role::Admin);
    set_role(&mut s, &org, "ann@x.example", Role::Manager)
        .await
        .unwrap();
    for (email, removed) in [("ann@x.example", true), ("ann@x.example", false)] {
        let answer = s
            .admin
            .remove_member(as_ops(v1::RemoveMemberRequest {
                org_id: org.clone(),
                email: email.to_owned(),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(answer.removed, removed);
    }

    // Every change and refusal is in the audit events.
    let traces = s
        .admin
        .list_login_traces(as_ops(v1::ListLoginTracesRequest {
            org_id: org.clone(),
            page_size: 100,
            page_token: String::new(),
        }))
        .await
        .unwrap()
        .into_inner()
        .traces;
    for (kind, reason) in [
        ("members-added", "added"),
        ("members-added", "all-existing"),
        ("member-role-changed", "last-admin"),
        ("member-role-changed", "changed"),
        ("member-removed", "removed"),
        ("member-removed", "not-a-member"),
    ] {
        let trace = traces
            .iter()
            .find(|t| t.kind == kind && t.reason_code == reason)
            .unwrap_or_else(|| panic!("no {kind} {reason} in {traces:?}"));
        assert!(trace.detail_json.contains('{'), "{trace:?}");
    }
    let refusal = traces
        .iter()
        .find(|t| t.reason_code == "last-admin")
        .unwrap();
    assert_eq!(refusal.reason(), Reason::LastAdmin);
    assert_eq!(refusal.outcome, "refused");
}
