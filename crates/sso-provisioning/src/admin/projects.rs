//! The host product's projects: created and renamed in bulk under the host product's ids,
//! listed, and removed with every member's access to them, except while just-in-time
//! provisioning gives them to new members.

use serde_json::{Value, json};
use sso_store::{
    NewProject, OrgId, ProjectChange, ProjectId, ProjectPage, ProjectQuery, StoreError,
    UpsertedProject,
};
use time::OffsetDateTime;

use super::{Audited, kinds};
use crate::error::AdminError;
use crate::login::Provisioner;

impl Provisioner {
    /// Creates the projects that are new and renames those whose name changed, in one
    /// transaction with one audit event listing what was created, renamed and unchanged.
    /// Returns every project as stored, in the order given. At most
    /// [`MAX_BATCH`](sso_store::MAX_BATCH), each id once, names of 1 to 200 characters
    /// (`invalid-input` naming the item otherwise).
    pub async fn upsert_projects(
        &self,
        actor: &str,
        org: OrgId,
        projects: &[NewProject],
        now: OffsetDateTime,
    ) -> Result<Vec<UpsertedProject>, AdminError> {
        let wanted = json!({ "count": projects.len() });
        self.audited(
            Some(org),
            kinds::PROJECTS_UPSERTED,
            actor,
            now,
            async |tx| {
                let fail = |e: StoreError| (AdminError::from(e), wanted.clone());
                // Serializes with other changes of the org's projects and JIT settings.
                tx.lock_org(org).await.map_err(fail)?;
                let upserted = tx.upsert_projects(org, projects, now).await.map_err(fail)?;
                let mut created = Vec::new();
                let mut renamed = Vec::new();
                let mut unchanged = Vec::new();
                for u in &upserted {
                    let id = Value::from(u.record.id.as_str());
                    match &u.change {
                        ProjectChange::Created => created.push(id),
                        ProjectChange::Renamed { from } => renamed.push(json!({
                            "id": id,
                            "from": from,
                            "to": u.record.name,
                        })),
                        _ => unchanged.push(id),
                    }
                }
                let detail = json!({
                    "created": created,
                    "renamed": renamed,
                    "unchanged": unchanged,
                });
                Ok(Audited::new(upserted, org, "upserted", detail))
            },
        )
        .await
    }

    /// The org's projects by id, one page at a time.
    pub async fn list_projects(
        &self,
        org: OrgId,
        query: &ProjectQuery,
    ) -> Result<ProjectPage, AdminError> {
        self.store.org(org).await?;
        Ok(self.store.list_projects(org, query).await?)
    }

    /// Removes a project and every member's access to it; `false` when the org has no such
    /// project. Refused while the project is one of the connection's JIT default projects
    /// (`project-is-jit-default`): the admin takes it out of the JIT settings first, so what
    /// new members get never changes as a side effect.
    pub async fn remove_project(
        &self,
        actor: &str,
        org: OrgId,
        project: &ProjectId,
        now: OffsetDateTime,
    ) -> Result<bool, AdminError> {
        let wanted = json!({ "project": project.as_str() });
        self.audited(Some(org), kinds::PROJECT_REMOVED, actor, now, async |tx| {
            let fail = |e: StoreError| (AdminError::from(e), wanted.clone());
            tx.lock_org(org).await.map_err(fail)?;
            let snapshot = tx.org_snapshot(org).await.map_err(fail)?;
            let default = snapshot
                .connection
                .is_some_and(|c| c.jit_default_projects.contains(project));
            if default {
                let refused = AdminError::ProjectIsJitDefault(project.as_str().to_owned());
                return Err((refused, wanted.clone()));
            }
            let Some(access_removed) = tx.remove_project(org, project).await.map_err(fail)? else {
                return Ok(Audited::new(false, org, "no-such-project", wanted.clone()));
            };
            let detail = json!({ "project": project.as_str(), "access_removed": access_removed });
            Ok(Audited::new(true, org, "removed", detail))
        })
        .await
    }
}
