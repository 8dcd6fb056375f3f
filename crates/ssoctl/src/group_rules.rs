//! `ssoctl admin connection group-rules ...`: directory-driven roles, the connection's rules
//! mapping IdP groups to a role and projects. Rules come from `--rule ROLE=GROUP` flags (the
//! first `=` splits, so a distinguished name keeps its own) or from a JSON file.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::{Value, json};
use sso_grpc::v1::{self, Role};

use crate::Failure;
use crate::admin::{Admin, connection_json};
use crate::client::Remote;
use crate::members::{json_items, required, text_field};

#[derive(Debug, Subcommand)]
pub(crate) enum GroupRulesCommand {
    /// Replace the rules (none given: clear them), the groups attribute and every-login.
    Set {
        org: String,
        /// The SAML attribute carrying the groups (`groups`, `memberOf`, or Entra ID's
        /// `http://schemas.microsoft.com/ws/2008/06/identity/claims/groups`).
        #[arg(long, value_name = "NAME")]
        attribute: Option<String>,
        /// One rule, `ROLE=GROUP` (viewer|member|manager|admin); repeat for several, in order.
        #[arg(long = "rule", value_name = "ROLE=GROUP", conflicts_with = "file")]
        rules: Vec<String>,
        /// The rules as JSON: `[{"group": "...", "role": "admin", "project_ids": ["..."]}]`.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Apply the rules to existing members on every login too, demotions included.
        #[arg(long)]
        every_login: bool,
    },
    /// Show the rules, the groups attribute and whether they apply on every login.
    Get { org: String },
}

pub(crate) async fn group_rules(
    remote: Remote<Admin>,
    command: GroupRulesCommand,
) -> Result<Value, Failure> {
    match command {
        GroupRulesCommand::Get { org } => {
            let message = v1::GetConnectionRequest { org_id: org };
            remote
                .call(message, Admin::get_connection, |c| {
                    json!({ "ok": true, "group_role_rules": rules_json(c.group_role_rules.as_ref()) })
                })
                .await
        }
        GroupRulesCommand::Set {
            org,
            attribute,
            rules,
            file,
            every_login,
        } => {
            let rules = match file {
                Some(file) => rules_from_file(&file)?,
                None => rules
                    .iter()
                    .map(|r| rule_from_flag(r))
                    .collect::<Result<_, _>>()?,
            };
            let message = v1::SetGroupRoleRulesRequest {
                org_id: org,
                groups_attribute: attribute.unwrap_or_default(),
                rules,
                apply_on_every_login: every_login,
            };
            remote
                .call(message, Admin::set_group_role_rules, connection_json)
                .await
        }
    }
}

/// The rules as `connection get` and `group-rules get` print them.
pub(crate) fn rules_json(rules: Option<&v1::GroupRoleRules>) -> Value {
    let Some(rules) = rules else {
        return Value::Null;
    };
    json!({
        "groups_attribute": Some(&rules.groups_attribute).filter(|a| !a.is_empty()),
        "apply_on_every_login": rules.apply_on_every_login,
        "rules": rules.rules.iter().map(|r| json!({
            "id": r.id,
            "group": r.group,
            "role": r.role().as_str_name(),
            "project_ids": r.project_ids,
        })).collect::<Vec<_>>(),
    })
}

fn role(text: &str) -> Option<Role> {
    match text.trim().to_ascii_lowercase().as_str() {
        "viewer" => Some(Role::Viewer),
        "member" => Some(Role::Member),
        "manager" => Some(Role::Manager),
        "admin" => Some(Role::Admin),
        _ => None,
    }
}

/// `ROLE=GROUP`, split at the first `=`.
fn rule_from_flag(flag: &str) -> Result<v1::GroupRoleRule, Failure> {
    let bad = || Failure::usage(format!("--rule {flag:?}: expected ROLE=GROUP"));
    let (role_text, group) = flag.split_once('=').ok_or_else(bad)?;
    let role = role(role_text).ok_or_else(bad)?;
    Ok(v1::GroupRoleRule {
        id: 0,
        group: group.to_owned(),
        role: role.into(),
        project_ids: Vec::new(),
    })
}

/// `[{"group": ..., "role": ..., "project_ids": [...]}]`.
fn rules_from_file(path: &Path) -> Result<Vec<v1::GroupRoleRule>, Failure> {
    let bad =
        |i: usize, detail: &str| Failure::usage(format!("{}: item {i}: {detail}", path.display()));
    json_items(path)?
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let group = required(path, i, "group", text_field(path, i, item, "group")?)?;
            let role_text = required(path, i, "role", text_field(path, i, item, "role")?)?;
            let role = role(&role_text)
                .ok_or_else(|| bad(i, "role is not viewer, member, manager or admin"))?;
            let project_ids = match item.get("project_ids") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(ids)) => ids
                    .iter()
                    .map(|id| id.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| bad(i, "\"project_ids\" holds a non-string"))?,
                Some(_) => return Err(bad(i, "\"project_ids\" is not an array")),
            };
            Ok(v1::GroupRoleRule {
                id: 0,
                group,
                role: role.into(),
                project_ids,
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_flag_splits_at_the_first_equals_sign() {
        let rule = rule_from_flag("admin=CN=Admins,OU=Groups,DC=example,DC=com").unwrap();
        assert_eq!(rule.group, "CN=Admins,OU=Groups,DC=example,DC=com");
        assert_eq!(rule.role(), Role::Admin);
        assert!(rule_from_flag("boss=admins").is_err());
        assert!(rule_from_flag("admins").is_err());
    }
}
