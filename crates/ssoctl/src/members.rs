//! `ssoctl admin members ...` and `ssoctl admin projects ...`: the org's members and the host
//! product's projects, over gRPC. Bulk input comes from a JSON file (`-` for standard
//! input) or, for one item, from flags; every command prints one JSON object.

use std::path::{Path, PathBuf};

use clap::{ArgGroup, Subcommand};
use serde_json::{Value, json};
use sso_grpc::v1::{self, Role};

use crate::admin::{Admin, RoleArg, text_or_null};
use crate::client::Remote;
use crate::{Failure, read_text};

#[derive(Debug, Subcommand)]
pub(crate) enum MembersCommand {
    /// List the organization's members by email.
    List {
        org: String,
        /// Only emails starting with this text.
        #[arg(long, value_name = "TEXT")]
        email_prefix: Option<String>,
        /// Only members with this role.
        #[arg(long, value_enum)]
        role: Option<RoleArg>,
        /// At most 1000; the server's default when absent.
        #[arg(long, value_name = "N")]
        page_size: Option<u32>,
        /// The next_page_token of the previous page.
        #[arg(long, value_name = "T")]
        page_token: Option<String>,
    },
    /// Show one member.
    Get { org: String, email: String },
    /// Change a member's role (the last Admin keeps theirs).
    SetRole {
        org: String,
        email: String,
        #[arg(value_enum)]
        role: RoleArg,
    },
    /// Remove a member and their project access (never the last Admin).
    Remove { org: String, email: String },
    /// Add people the host product already has; existing members are left as they are.
    #[command(group(ArgGroup::new("input").required(true).args(["file", "email"])))]
    Add {
        org: String,
        /// A JSON array of {"email", "role", "project_ids"}; - for standard input.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// One person's email (instead of --file).
        #[arg(long, value_name = "EMAIL", requires = "role")]
        email: Option<String>,
        /// Their role.
        #[arg(long, value_enum, requires = "email")]
        role: Option<RoleArg>,
        /// A project they get; repeat for several.
        #[arg(long = "project", value_name = "ID", requires = "email")]
        projects: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ProjectsCommand {
    /// Create new projects and rename changed ones, by the host product's ids.
    #[command(group(ArgGroup::new("input").required(true).args(["file", "id"])))]
    Upsert {
        org: String,
        /// A JSON array of {"id", "name"}; - for standard input.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// One project's id (instead of --file).
        #[arg(long, value_name = "ID", requires = "name")]
        id: Option<String>,
        /// Its name.
        #[arg(long, value_name = "NAME", requires = "id")]
        name: Option<String>,
    },
    /// List the organization's projects by id.
    List {
        org: String,
        /// At most 1000; the server's default when absent.
        #[arg(long, value_name = "N")]
        page_size: Option<u32>,
        /// The next_page_token of the previous page.
        #[arg(long, value_name = "T")]
        page_token: Option<String>,
    },
    /// Remove a project and every member's access to it (not while a JIT default).
    Remove { org: String, id: String },
}

pub(crate) async fn members(
    remote: Remote<Admin>,
    command: MembersCommand,
) -> Result<Value, Failure> {
    match command {
        MembersCommand::List {
            org,
            email_prefix,
            role,
            page_size,
            page_token,
        } => {
            let message = v1::ListMembersRequest {
                org_id: org,
                page_size: page_size.unwrap_or(0),
                page_token: page_token.unwrap_or_default(),
                email_prefix: email_prefix.unwrap_or_default(),
                role: role.map_or(Role::Unspecified, Role::from).into(),
            };
            remote.call(message, Admin::list_members, list_json).await
        }
        MembersCommand::Get { org, email } => {
            let message = v1::GetMemberRequest { org_id: org, email };
            remote.call(message, Admin::get_member, one_json).await
        }
        MembersCommand::SetRole { org, email, role } => {
            let message = v1::SetMemberRoleRequest {
                org_id: org,
                email,
                role: Role::from(role).into(),
            };
            remote.call(message, Admin::set_member_role, one_json).await
        }
        MembersCommand::Remove { org, email } => {
            let message = v1::RemoveMemberRequest { org_id: org, email };
            remote
                .call(message, Admin::remove_member, |r| removed_json(r.removed))
                .await
        }
        MembersCommand::Add {
            org,
            file,
            email,
            role,
            projects,
        } => {
            let members = match (file, email, role) {
                (Some(file), _, _) => member_inputs(&file)?,
                (None, Some(email), Some(role)) => vec![v1::MemberInput {
                    email,
                    role: Role::from(role).into(),
                    project_ids: projects,
                }],
                _ => return Err(Failure::usage("give --file, or --email with --role")),
            };
            let message = v1::AddMembersRequest {
                org_id: org,
                members,
            };
            remote.call(message, Admin::add_members, added_json).await
        }
    }
}

pub(crate) async fn projects(
    remote: Remote<Admin>,
    command: ProjectsCommand,
) -> Result<Value, Failure> {
    match command {
        ProjectsCommand::Upsert {
            org,
            file,
            id,
            name,
        } => {
            let projects = match (file, id, name) {
                (Some(file), _, _) => project_inputs(&file)?,
                (None, Some(id), Some(name)) => vec![v1::ProjectInput { id, name }],
                _ => return Err(Failure::usage("give --file, or --id with --name")),
            };
            let message = v1::UpsertProjectsRequest {
                org_id: org,
                projects,
            };
            remote
                .call(message, Admin::upsert_projects, upserted_json)
                .await
        }
        ProjectsCommand::List {
            org,
            page_size,
            page_token,
        } => {
            let message = v1::ListProjectsRequest {
                org_id: org,
                page_size: page_size.unwrap_or(0),
                page_token: page_token.unwrap_or_default(),
            };
            remote
                .call(message, Admin::list_projects, projects_json)
                .await
        }
        ProjectsCommand::Remove { org, id } => {
            let message = v1::RemoveProjectRequest {
                org_id: org,
                project_id: id,
            };
            remote
                .call(message, Admin::remove_project, |r| removed_json(r.removed))
                .await
        }
    }
}

/// The items of a JSON array file, each an object; a usage error names the file and item.
pub(crate) fn json_items(path: &Path) -> Result<Vec<serde_json::Map<String, Value>>, Failure> {
    let text = read_text(path)?;
    let bad = |detail: String| Failure::usage(format!("{}: {detail}", path.display()));
    let value: Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let Value::Array(items) = value else {
        return Err(bad("expected a JSON array".to_owned()));
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::Object(map) => Ok(map),
            _ => Err(bad(format!("item {i} is not an object"))),
        })
        .collect()
}

/// A string field of item `index` of `path`; `None` when absent.
pub(crate) fn text_field(
    path: &Path,
    index: usize,
    item: &serde_json::Map<String, Value>,
    key: &str,
) -> Result<Option<String>, Failure> {
    match item.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Failure::usage(format!(
            "{}: item {index}: {key:?} is not a string",
            path.display()
        ))),
    }
}

pub(crate) fn required(
    path: &Path,
    index: usize,
    key: &str,
    value: Option<String>,
) -> Result<String, Failure> {
    value.ok_or_else(|| {
        Failure::usage(format!(
            "{}: item {index}: {key:?} is missing",
            path.display()
        ))
    })
}

/// `[{"email": ..., "role": "viewer|member|manager|admin", "project_ids": [...]}]`.
fn member_inputs(path: &Path) -> Result<Vec<v1::MemberInput>, Failure> {
    json_items(path)?
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let email = required(path, i, "email", text_field(path, i, item, "email")?)?;
            let role_text = required(path, i, "role", text_field(path, i, item, "role")?)?;
            let role = match role_text.to_ascii_lowercase().as_str() {
                "viewer" => Role::Viewer,
                "member" => Role::Member,
                "manager" => Role::Manager,
                "admin" => Role::Admin,
                _ => {
                    return Err(Failure::usage(format!(
                        "{}: item {i}: role {role_text:?} is not viewer, member, manager or admin",
                        path.display()
                    )));
                }
            };
            let project_ids = match item.get("project_ids") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(ids)) => ids
                    .iter()
                    .map(|id| id.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        Failure::usage(format!(
                            "{}: item {i}: \"project_ids\" holds a non-string",
                            path.display()
                        ))
                    })?,
                Some(_) => {
                    return Err(Failure::usage(format!(
                        "{}: item {i}: \"project_ids\" is not an array",
                        path.display()
                    )));
                }
            };
            Ok(v1::MemberInput {
                email,
                role: role.into(),
                project_ids,
            })
        })
        .collect()
}

/// `[{"id": ..., "name": ...}]`.
fn project_inputs(path: &Path) -> Result<Vec<v1::ProjectInput>, Failure> {
    json_items(path)?
        .iter()
        .enumerate()
        .map(|(i, item)| {
            Ok(v1::ProjectInput {
                id: required(path, i, "id", text_field(path, i, item, "id")?)?,
                name: required(path, i, "name", text_field(path, i, item, "name")?)?,
            })
        })
        .collect()
}

fn member_json(member: &v1::Member) -> Value {
    json!({
        "email": member.email,
        "user_id": member.user_id,
        "role": member.role().as_str_name(),
        "created_by": member.created_by().as_str_name(),
        "created_at": member.created_at,
        "project_ids": member.project_ids,
        "deactivated_at": crate::admin::text_or_null(&member.deactivated_at),
        "scim_managed": member.scim_managed,
    })
}

fn project_json(project: &v1::Project) -> Value {
    json!({
        "id": project.id,
        "name": project.name,
        "created_at": project.created_at,
    })
}

fn list_json(response: &v1::ListMembersResponse) -> Value {
    json!({
        "ok": true,
        "members": response.members.iter().map(member_json).collect::<Vec<_>>(),
        "next_page_token": text_or_null(&response.next_page_token),
    })
}

fn one_json(member: &v1::Member) -> Value {
    json!({ "ok": true, "member": member_json(member) })
}

fn removed_json(removed: bool) -> Value {
    json!({ "ok": true, "removed": removed })
}

fn added_json(response: &v1::AddMembersResponse) -> Value {
    let members: Vec<Value> = response
        .members
        .iter()
        .map(|added| {
            json!({
                "member": added.member.as_ref().map_or(Value::Null, member_json),
                "created": added.created,
            })
        })
        .collect();
    json!({ "ok": true, "members": members })
}

fn upserted_json(response: &v1::UpsertProjectsResponse) -> Value {
    let projects: Vec<Value> = response
        .projects
        .iter()
        .map(|upserted| {
            json!({
                "project": upserted.project.as_ref().map_or(Value::Null, project_json),
                "change": upserted.change().as_str_name(),
                "previous_name": text_or_null(&upserted.previous_name),
            })
        })
        .collect();
    json!({ "ok": true, "projects": projects })
}

fn projects_json(response: &v1::ListProjectsResponse) -> Value {
    json!({
        "ok": true,
        "projects": response.projects.iter().map(project_json).collect::<Vec<_>>(),
        "next_page_token": text_or_null(&response.next_page_token),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    /// `read` on a temporary file holding `text`, removed afterwards.
    fn with_file<T>(name: &str, text: &str, read: impl FnOnce(&Path) -> T) -> T {
        let path = std::env::temp_dir().join(format!("ssoctl_{name}_{}.json", std::process::id()));
        std::fs::write(&path, text).unwrap();
        let out = read(&path);
        let _ = std::fs::remove_file(&path);
        out
    }

    fn usage(result: Result<impl std::fmt::Debug, Failure>) -> String {
        match result {
            Err(Failure::Usage(message)) => message,
            other => panic!("not a usage error: {other:?}"),
        }
    }

    #[test]
    fn member_files_read_or_name_the_bad_item() {
        let members = with_file(
            "members_good",
            r#"[{"email":"a@example.com","role":"Admin"},
                {"email":"b@example.com","role":"viewer","project_ids":["p 1","p2"]}]"#,
            member_inputs,
        )
        .unwrap();
        assert_eq!(members.len(), 2);
        assert_eq!(members[0].role(), Role::Admin);
        assert!(members[0].project_ids.is_empty());
        assert_eq!(members[1].project_ids, ["p 1", "p2"]);
        for (name, text, mentions) in [
            (
                "members_role",
                r#"[{"email":"a@x.example","role":"boss"}]"#,
                "item 0: role",
            ),
            (
                "members_email",
                r#"[{"email":"a@x.example","role":"admin"},{"role":"admin"}]"#,
                "item 1",
            ),
            (
                "members_ids",
                r#"[{"email":"a@x.example","role":"admin","project_ids":[1]}]"#,
                "non-string",
            ),
            ("members_object", r#"{"email":"a@x.example"}"#, "JSON array"),
            ("members_json", "[", "EOF"),
        ] {
            let message = usage(with_file(name, text, member_inputs));
            assert!(message.contains(mentions), "{name}: {message}");
        }
    }

    #[test]
    fn project_files_read_or_name_the_bad_item() {
        let projects = with_file(
            "projects_good",
            r#"[{"id":"a/1","name":"A"},{"id":"b","name":"B"}]"#,
            project_inputs,
        )
        .unwrap();
        assert_eq!(
            (projects[0].id.as_str(), projects[1].name.as_str()),
            ("a/1", "B")
        );
        let message = usage(with_file("projects_bad", r#"[{"id":"a"}]"#, project_inputs));
        assert!(message.contains("item 0: \"name\" is missing"), "{message}");
        let message = usage(with_file(
            "projects_type",
            r#"[{"id":7,"name":"x"}]"#,
            project_inputs,
        ));
        assert!(message.contains("not a string"), "{message}");
    }
}
