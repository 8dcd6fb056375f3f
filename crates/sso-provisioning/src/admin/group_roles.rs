//! Directory-driven roles as admins set them: a connection's group rules, the SAML attribute
//! carrying the groups, and whether the rules apply on every login (checked by
//! `sso_policy::check_group_roles`, audited as `group-roles-changed`).

use serde_json::{Value, json};
use sso_policy::{GroupRoles, check_group_roles};
use sso_store::{ConnectionRecord, OrgId, ProjectId};
use time::OffsetDateTime;

use super::{Audited, kinds};
use crate::error::AdminError;
use crate::login::Provisioner;

/// Group rules as audit events and traces show them.
pub(crate) fn group_roles_json(settings: &GroupRoles<ProjectId>) -> Value {
    json!({
        "attribute": settings.attribute,
        "apply_on_every_login": settings.apply_on_every_login,
        "rules": settings.rules.iter().enumerate().map(|(i, r)| json!({
            "rule": i + 1,
            "group": r.group,
            "role": r.role.code(),
            "projects": r.projects.iter().map(ProjectId::as_str).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

impl Provisioner {
    /// Replaces the connection's group rules, the attribute carrying the groups (blank: none,
    /// for groups from the directory alone) and whether they apply on every login. Limits and
    /// malformed rules are `invalid-input` naming the rule; projects in rules need a plan
    /// with project permissions (`plan-without-rule-projects`) and must be the org's
    /// (`not-found`, naming the rule). Not a configuration change.
    pub async fn set_group_roles(
        &self,
        actor: &str,
        org: OrgId,
        settings: &GroupRoles<ProjectId>,
        now: OffsetDateTime,
    ) -> Result<ConnectionRecord, AdminError> {
        let mut settings = settings.clone();
        settings.attribute = settings
            .attribute
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty());
        for rule in &mut settings.rules {
            rule.group = rule.group.trim().to_owned();
        }
        let wanted = group_roles_json(&settings);
        self.audited(
            Some(org),
            kinds::GROUP_ROLES_CHANGED,
            actor,
            now,
            async |tx| {
                let fail = |e: AdminError| (e, wanted.clone());
                let org_record = tx.lock_org(org).await.map_err(|e| fail(e.into()))?;
                let current = tx
                    .connection_for_org(org)
                    .await
                    .map_err(|e| fail(e.into()))?;
                check_group_roles(org_record.plan, &current.group_roles, &settings)
                    .map_err(|r| fail(AdminError::GroupRules(r)))?;
                for (index, rule) in settings.rules.iter().enumerate() {
                    let found = tx
                        .projects_by_id(org, &rule.projects)
                        .await
                        .map_err(|e| fail(e.into()))?;
                    if let Some(missing) = rule
                        .projects
                        .iter()
                        .find(|p| !found.iter().any(|f| f.id == **p))
                    {
                        return Err(fail(AdminError::unknown_project("rules", index, missing)));
                    }
                }
                let connection = tx
                    .set_group_roles(org, &settings)
                    .await
                    .map_err(|e| fail(e.into()))?;
                let detail =
                    json!({ "from": group_roles_json(&current.group_roles), "to": wanted });
                let reason = if current.group_roles == connection.group_roles {
                    "unchanged"
                } else {
                    "changed"
                };
                Ok(Audited::new(connection, org, reason, detail))
            },
        )
        .await
    }
}
