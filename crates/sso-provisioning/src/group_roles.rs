//! Directory-driven roles at login: the connection's group rules applied to the groups of the
//! verified assertion and the SCIM groups the org's directory put the person in, inside the
//! login's transaction.
//!
//! One entry point, [`apply_group_rules`], called by the login between the policy's grant
//! and provisioning: it turns the grant of a new member into the rules' role and projects,
//! and (when the rules apply on every login) changes an existing member's role and adds
//! projects. Every write is on the login's transaction, so a refused login changes nothing.

use serde_json::{Value, json};
use sso_policy::{
    DirectoryRole, GroupMatch, Groups, RuleMatch, SsoLoginGrant, directory_role, match_groups,
    role_change_allowed,
};
use sso_store::{CreatedBy, ProjectId, Transaction, UserId};
use time::OffsetDateTime;

use crate::login::{Checked, Failed, step};
use crate::trace::Trace;

/// The attribute Entra ID sends instead of the groups when a person has more than it puts in
/// a token (group overage): the trace points it out.
const ENTRA_GROUPS_LINK: &str = "http://schemas.microsoft.com/claims/groups.link";

/// The most directory (SCIM) groups read for one person; `Groups::read` bounds the total.
const DIRECTORY_GROUPS_READ: u64 = 1000;

/// The trace's name of the check.
const CHECK: &str = "group-roles";

/// Applies the connection's group rules to `grant` for the person signing in (`user`, when
/// they are known already). Returns the grant provisioning carries out: a new member's role
/// and projects from the rules, or an existing member's role after a change made here. A
/// connection without rules returns `grant` as it is and traces nothing.
pub(crate) async fn apply_group_rules(
    tx: &Transaction,
    c: &Checked<'_>,
    grant: SsoLoginGrant<ProjectId>,
    user: Option<UserId>,
    trace: &mut Trace,
    now: OffsetDateTime,
) -> Result<SsoLoginGrant<ProjectId>, Failed> {
    let settings = &c.connection.group_roles;
    if settings.rules.is_empty() {
        return Ok(grant);
    }
    let attribute = settings.attribute.as_deref();
    // The org's directory (SCIM) is the second source: the groups it pushed this person into.
    let directory = match user {
        Some(user) => tx
            .scim_group_names_of(c.org, user, DIRECTORY_GROUPS_READ)
            .await
            .map_err(step(CHECK))?,
        None => Vec::new(),
    };
    let groups = Groups::read(
        attribute
            .into_iter()
            .flat_map(|a| c.verified.attribute_values(a))
            .chain(directory.iter().map(String::as_str)),
    );
    let matched = match_groups(&settings.rules, &groups);
    let decided = directory_role(c.snapshot.org.plan, settings, &grant, &matched);
    let mut detail = facts(c, &groups, &matched, &decided);
    add(&mut detail, "directory_groups", json!(directory.len()));
    let grant = match decided {
        DirectoryRole::NotApplied(_) => grant,
        DirectoryRole::NewMember {
            role,
            projects,
            projects_withheld,
            ..
        } => {
            let (projects, missing) = existing_projects(tx, c, projects).await?;
            add(&mut detail, "projects", ids(&projects));
            add(&mut detail, "projects_missing", ids(&missing));
            SsoLoginGrant::NewMember {
                role,
                default_projects: projects,
                default_projects_withheld: projects_withheld,
            }
        }
        DirectoryRole::ExistingMember {
            from, to, projects, ..
        } => {
            // The policy grants an existing member only when the login found them.
            let user = user
                .ok_or_else(|| step(CHECK)(sso_store::StoreError::NotFound { what: "member" }))?;
            let role = change_role(tx, c, user, from, to, &mut detail).await?;
            let (projects, missing) = existing_projects(tx, c, projects).await?;
            let granted = tx
                .grant_project_access(c.org, user, &projects, CreatedBy::Jit, now)
                .await
                .map_err(step(CHECK))?;
            add(&mut detail, "projects_granted", json!(granted));
            add(&mut detail, "projects_missing", ids(&missing));
            SsoLoginGrant::ExistingMember { role }
        }
    };
    trace.passed_with(CHECK, detail);
    Ok(grant)
}

/// Changes an existing member's role `from` to `to`, unless that would take the Admin role
/// from the org's last Admin: then they keep Admin and the trace says so. Only a demotion
/// from Admin locks the org and counts Admins (as an admin's change does), so ordinary logins
/// take no lock. Returns the role they have afterwards.
async fn change_role(
    tx: &Transaction,
    c: &Checked<'_>,
    user: UserId,
    from: sso_policy::Role,
    to: sso_policy::Role,
    detail: &mut Value,
) -> Result<sso_policy::Role, Failed> {
    if from == to {
        return Ok(from);
    }
    if from == sso_policy::Role::Admin {
        tx.lock_org(c.org).await.map_err(step(CHECK))?;
        let admins = tx.count_admins(c.org).await.map_err(step(CHECK))?;
        if !role_change_allowed(from, to, admins) {
            add(detail, "decision", json!("last-admin-kept"));
            add(detail, "to", json!(from.code()));
            return Ok(from);
        }
    }
    tx.set_member_role(c.org, user, to)
        .await
        .map_err(step(CHECK))?;
    Ok(to)
}

/// Of `projects`, those the org still has (a rule may name a project removed since), and
/// those it does not.
async fn existing_projects(
    tx: &Transaction,
    c: &Checked<'_>,
    projects: Vec<ProjectId>,
) -> Result<(Vec<ProjectId>, Vec<ProjectId>), Failed> {
    if projects.is_empty() {
        return Ok((projects, Vec::new()));
    }
    let found = tx
        .projects_by_id(c.org, &projects)
        .await
        .map_err(step(CHECK))?;
    Ok(projects
        .into_iter()
        .partition(|p| found.iter().any(|f| f.id == *p)))
}

/// What the trace says about the groups and the rules, before anything is written.
fn facts(
    c: &Checked<'_>,
    groups: &Groups<'_>,
    matched: &GroupMatch<ProjectId>,
    decided: &DirectoryRole<ProjectId>,
) -> Value {
    let settings = &c.connection.group_roles;
    let attribute_present = settings
        .attribute
        .as_deref()
        .is_some_and(|a| c.verified.attribute_values(a).next().is_some());
    let (from, to) = match decided {
        DirectoryRole::NewMember { role, .. } => (Value::Null, json!(role.code())),
        DirectoryRole::ExistingMember { from, to, .. } => (json!(from.code()), json!(to.code())),
        DirectoryRole::NotApplied(_) => (Value::Null, Value::Null),
    };
    json!({
        "decision": decided.reason(),
        "attribute": settings.attribute,
        "attribute_present": attribute_present,
        "entra_groups_link": c.verified.attribute_values(ENTRA_GROUPS_LINK).next().is_some(),
        "apply_on_every_login": settings.apply_on_every_login,
        "groups_read": groups.names().len(),
        "groups_truncated": groups.truncated(),
        "groups_too_long": groups.too_long(),
        "matched": matched.matched.iter().map(rule_json).collect::<Vec<_>>(),
        "fired": matched.fired.as_ref().map(rule_json),
        "from": from,
        "to": to,
    })
}

fn rule_json(rule: &RuleMatch) -> Value {
    json!({ "rule": rule.rule, "group": rule.group, "role": rule.role.code() })
}

fn ids(projects: &[ProjectId]) -> Value {
    projects.iter().map(|p| Value::from(p.as_str())).collect()
}

fn add(detail: &mut Value, key: &str, value: Value) {
    if let Value::Object(map) = detail {
        map.insert(key.to_owned(), value);
    }
}
