//! Projects, named by the host product's ids, and members' access to them.
//!
//! A project's row id stays inside the store: project access and JIT default projects point
//! at it, and every method here speaks [`ProjectId`], the host product's id.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect,
};
use time::OffsetDateTime;

use crate::entity::{project, project_access};
use crate::error::StoreError;
use crate::ids::{OrgId, ProjectId, UserId};
use crate::instant::{from_db, to_db};
use crate::lists::{MAX_BATCH, ProjectCursor, clamp_page};
use crate::people::CreatedBy;
use crate::store::Store;

/// How many ids one `IN (...)` list holds.
const IN_LIST_CHUNK: usize = 500;

/// The most characters a project name may have.
pub const MAX_PROJECT_NAME_CHARS: usize = 200;

/// A project as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProjectRecord {
    /// The host product's id for it.
    pub id: ProjectId,
    /// The owning organization.
    pub org: OrgId,
    /// Its display name.
    pub name: String,
    /// When it was created.
    pub created_at: OffsetDateTime,
}

impl ProjectRecord {
    fn from_model(m: project::Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: ProjectId::parse(&m.external_id)
                .map_err(|e| StoreError::corrupt("project id", e.to_string()))?,
            org: OrgId::new(m.org_id),
            name: m.name,
            created_at: from_db(m.created_at),
        })
    }
}

/// A project as the host product names it, for [`Store::upsert_projects`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProject {
    /// The host product's id.
    pub id: ProjectId,
    /// Its display name: trimmed, 1 to [`MAX_PROJECT_NAME_CHARS`] characters, no control
    /// characters.
    pub name: String,
}

/// What [`Store::upsert_projects`] did to one project.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProjectChange {
    /// The project is new.
    Created,
    /// The project existed under another name, `from`.
    Renamed {
        /// The name before.
        from: String,
    },
    /// The project existed with this name already.
    Unchanged,
}

impl ProjectChange {
    /// Stable code: `created`, `renamed`, `unchanged`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Renamed { .. } => "renamed",
            Self::Unchanged => "unchanged",
        }
    }
}

/// One project of an upsert: the row as stored afterwards, and what changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpsertedProject {
    /// The project as stored.
    pub record: ProjectRecord,
    /// What the upsert did to it.
    pub change: ProjectChange,
}

/// What to list: an organization's projects by id (byte order), one page at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectQuery {
    limit: u32,
    after: Option<ProjectCursor>,
}

impl ProjectQuery {
    /// The first page of at most `limit` projects (1 to [`MAX_PAGE`](crate::MAX_PAGE);
    /// other values are clamped).
    pub fn new(limit: u32) -> Self {
        Self {
            limit: clamp_page(limit),
            after: None,
        }
    }

    /// The page after this cursor (from [`ProjectPage::next`]).
    #[must_use]
    pub fn after(mut self, cursor: ProjectCursor) -> Self {
        self.after = Some(cursor);
        self
    }
}

/// One page of projects.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProjectPage {
    /// The projects, by id.
    pub projects: Vec<ProjectRecord>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<ProjectCursor>,
}

/// `name` trimmed, or why it cannot be a project name.
fn project_name(name: &str) -> Result<&str, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("empty".to_owned());
    }
    if name.chars().count() > MAX_PROJECT_NAME_CHARS {
        return Err(format!("longer than {MAX_PROJECT_NAME_CHARS} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("control characters are not allowed".to_owned());
    }
    Ok(name)
}

/// The index of the first repeated item of `items`, by `key`.
pub(crate) fn first_repeat<'a, T, K: Eq + std::hash::Hash>(
    items: &'a [T],
    key: impl Fn(&'a T) -> K,
) -> Option<usize> {
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    items.iter().position(|item| !seen.insert(key(item)))
}

impl<C: ConnectionTrait> Store<C> {
    /// Creates the projects that are new and renames those whose name differs, keeping their
    /// access grants; returns every project as stored afterwards, in the order given, with
    /// what changed.
    ///
    /// All or nothing when run in a transaction. At most [`MAX_BATCH`] projects, each id once;
    /// otherwise, or for a bad name, [`StoreError::InvalidInput`] naming the item's index. Two
    /// concurrent upserts creating the same id: the second fails with
    /// [`StoreError::Conflict`], unless the callers serialize on the organization
    /// ([`lock_org`](Self::lock_org)), as the audited operations above the store do.
    pub async fn upsert_projects(
        &self,
        org: OrgId,
        projects: &[NewProject],
        now: OffsetDateTime,
    ) -> Result<Vec<UpsertedProject>, StoreError> {
        if projects.len() > MAX_BATCH {
            return Err(StoreError::invalid(
                "projects",
                format!("{} projects; at most {MAX_BATCH} at once", projects.len()),
            ));
        }
        let mut names = Vec::with_capacity(projects.len());
        for (index, p) in projects.iter().enumerate() {
            let name = project_name(&p.name)
                .map_err(|e| StoreError::invalid("project name", format!("item {index}: {e}")))?;
            names.push(name);
        }
        if let Some(index) = first_repeat(projects, |p| &p.id) {
            return Err(StoreError::invalid(
                "project id",
                format!(
                    "item {index}: {} is listed twice",
                    projects_id(projects, index)
                ),
            ));
        }
        let ids: Vec<&ProjectId> = projects.iter().map(|p| &p.id).collect();
        let existing: HashMap<String, project::Model> = self
            .project_models(org, &ids)
            .await?
            .into_iter()
            .map(|m| (m.external_id.clone(), m))
            .collect();
        let created_at = to_db(now)?;
        let mut out = Vec::with_capacity(projects.len());
        let mut new_rows = Vec::new();
        for (p, name) in projects.iter().zip(names) {
            let change = match existing.get(p.id.as_str()) {
                None => {
                    new_rows.push(project::ActiveModel {
                        id: NotSet,
                        org_id: Set(org.get()),
                        name: Set(name.to_owned()),
                        external_id: Set(p.id.as_str().to_owned()),
                        created_at: Set(created_at),
                    });
                    ProjectChange::Created
                }
                Some(found) if found.name == name => ProjectChange::Unchanged,
                Some(found) => {
                    project::Entity::update_many()
                        .col_expr(project::Column::Name, Expr::value(name))
                        .filter(project::Column::Id.eq(found.id))
                        .exec(&self.conn)
                        .await?;
                    ProjectChange::Renamed {
                        from: found.name.clone(),
                    }
                }
            };
            let record = ProjectRecord {
                id: p.id.clone(),
                org,
                name: name.to_owned(),
                created_at: existing
                    .get(p.id.as_str())
                    .map_or(from_db(created_at), |m| from_db(m.created_at)),
            };
            out.push(UpsertedProject { record, change });
        }
        if !new_rows.is_empty() {
            project::Entity::insert_many(new_rows)
                .exec_without_returning(&self.conn)
                .await
                .map_err(StoreError::on_write("project", "organization"))?;
        }
        Ok(out)
    }

    /// The organization's projects among `ids` (each found one once, by id); ids it does not
    /// have are left out.
    pub async fn projects_by_id(
        &self,
        org: OrgId,
        ids: &[ProjectId],
    ) -> Result<Vec<ProjectRecord>, StoreError> {
        let ids: Vec<&ProjectId> = ids.iter().collect();
        let mut models = self.project_models(org, &ids).await?;
        models.sort_by(|a, b| a.external_id.cmp(&b.external_id));
        models.dedup_by_key(|m| m.id);
        models.into_iter().map(ProjectRecord::from_model).collect()
    }

    /// The organization's projects by id (byte order), one page at a time. Keyset paging: a
    /// page does not shift when projects are added or removed before it.
    pub async fn list_projects(
        &self,
        org: OrgId,
        query: &ProjectQuery,
    ) -> Result<ProjectPage, StoreError> {
        let mut select = project::Entity::find().filter(project::Column::OrgId.eq(org.get()));
        if let Some(after) = &query.after {
            select = select.filter(project::Column::ExternalId.gt(after.id.as_str()));
        }
        let mut projects = select
            .order_by_asc(project::Column::ExternalId)
            .limit(u64::from(query.limit) + 1)
            .all(&self.conn)
            .await?
            .into_iter()
            .map(ProjectRecord::from_model)
            .collect::<Result<Vec<_>, _>>()?;
        let more = projects.len() > query.limit as usize;
        projects.truncate(query.limit as usize);
        let next = more
            .then(|| projects.last().map(|p| ProjectCursor::after(&p.id)))
            .flatten();
        Ok(ProjectPage { projects, next })
    }

    /// Removes the project and every member's access to it (and it from the JIT default
    /// projects). Returns how many access grants went with it, or `None` when the
    /// organization has no such project. Whether removing it is allowed is the caller's
    /// decision.
    pub async fn remove_project(
        &self,
        org: OrgId,
        id: &ProjectId,
    ) -> Result<Option<u64>, StoreError> {
        let Some(key) = self
            .project_keys(org, std::slice::from_ref(id))
            .await?
            .pop()
        else {
            return Ok(None);
        };
        // Explicit deletes, not only the foreign keys' cascade: the count is reported.
        let access = project_access::Entity::delete_many()
            .filter(project_access::Column::ProjectId.eq(key))
            .exec(&self.conn)
            .await?;
        crate::entity::jit_default_project::Entity::delete_many()
            .filter(crate::entity::jit_default_project::Column::ProjectId.eq(key))
            .exec(&self.conn)
            .await?;
        project::Entity::delete_by_id(key).exec(&self.conn).await?;
        Ok(Some(access.rows_affected))
    }

    /// Gives `user` access to `projects` of `org`, keeping grants that exist. Every project
    /// must belong to `org` ([`StoreError::NotFound`] otherwise, and nothing is granted).
    /// Returns how many grants are new.
    pub async fn grant_project_access(
        &self,
        org: OrgId,
        user: UserId,
        projects: &[ProjectId],
        created_by: CreatedBy,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let keys = self.project_keys_strict(org, projects).await?;
        if keys.is_empty() {
            return Ok(0);
        }
        let created_at = to_db(now)?;
        let rows = keys.into_iter().map(|key| project_access::ActiveModel {
            project_id: Set(key),
            user_id: Set(user.get()),
            created_by: Set(created_by.code().to_owned()),
            created_at: Set(created_at),
        });
        let inserted = project_access::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([
                    project_access::Column::ProjectId,
                    project_access::Column::UserId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&self.conn)
            .await
            .map_err(StoreError::on_write("project access", "user"))?;
        Ok(inserted)
    }

    /// The projects of `org` that `user` has access to, by id.
    pub async fn project_access(
        &self,
        org: OrgId,
        user: UserId,
    ) -> Result<Vec<ProjectId>, StoreError> {
        Ok(self
            .project_access_of(org, &[user])
            .await?
            .remove(&user)
            .unwrap_or_default())
    }

    /// The projects of `org` each of `users` has access to, by id; users without any are
    /// left out.
    pub(crate) async fn project_access_of(
        &self,
        org: OrgId,
        users: &[UserId],
    ) -> Result<HashMap<UserId, Vec<ProjectId>>, StoreError> {
        let mut access: HashMap<UserId, Vec<ProjectId>> = HashMap::new();
        if users.is_empty() {
            return Ok(access);
        }
        let rows = project_access::Entity::find()
            .select_only()
            .column(project_access::Column::UserId)
            .column_as(
                Expr::col((project::Entity, project::Column::ExternalId)),
                "external_id",
            )
            .join(
                JoinType::InnerJoin,
                project_access::Entity::belongs_to(project::Entity)
                    .from(project_access::Column::ProjectId)
                    .to(project::Column::Id)
                    .into(),
            )
            .filter(project::Column::OrgId.eq(org.get()))
            .filter(project_access::Column::UserId.is_in(users.iter().map(|u| u.get())))
            .order_by_asc(project::Column::ExternalId)
            .into_tuple::<(i64, String)>()
            .all(&self.conn)
            .await?;
        for (user, id) in rows {
            let id = ProjectId::parse(&id)
                .map_err(|e| StoreError::corrupt("project id", e.to_string()))?;
            access.entry(UserId::new(user)).or_default().push(id);
        }
        Ok(access)
    }

    /// The row ids of `org`'s projects among `ids`, sorted, without duplicates; ids the
    /// organization does not have are left out.
    pub(crate) async fn project_keys(
        &self,
        org: OrgId,
        ids: &[ProjectId],
    ) -> Result<Vec<i64>, StoreError> {
        let ids: Vec<&ProjectId> = ids.iter().collect();
        let mut keys: Vec<i64> = self
            .project_models(org, &ids)
            .await?
            .into_iter()
            .map(|m| m.id)
            .collect();
        keys.sort_unstable();
        keys.dedup();
        Ok(keys)
    }

    /// [`project_keys`](Self::project_keys), after checking that every id is one of `org`'s
    /// projects ([`StoreError::NotFound`] otherwise).
    pub(crate) async fn project_keys_strict(
        &self,
        org: OrgId,
        ids: &[ProjectId],
    ) -> Result<Vec<i64>, StoreError> {
        let keys = self.project_keys(org, ids).await?;
        let mut distinct: Vec<&ProjectId> = ids.iter().collect();
        distinct.sort_unstable();
        distinct.dedup();
        if keys.len() != distinct.len() {
            return Err(StoreError::not_found("project"));
        }
        Ok(keys)
    }

    /// The rows of `org`'s projects among `ids`, in any order. Asked in chunks, so no list
    /// length reaches a backend's limit on bound parameters.
    async fn project_models(
        &self,
        org: OrgId,
        ids: &[&ProjectId],
    ) -> Result<Vec<project::Model>, StoreError> {
        let mut models = Vec::new();
        for chunk in ids.chunks(IN_LIST_CHUNK) {
            models.extend(
                project::Entity::find()
                    .filter(project::Column::OrgId.eq(org.get()))
                    .filter(project::Column::ExternalId.is_in(chunk.iter().map(|id| id.as_str())))
                    .all(&self.conn)
                    .await?,
            );
        }
        Ok(models)
    }
}

fn projects_id(projects: &[NewProject], index: usize) -> String {
    projects
        .get(index)
        .map(|p| format!("{:?}", p.id.as_str()))
        .unwrap_or_default()
}

/// The subquery of `org`'s project row ids.
pub(crate) fn project_keys_of(org: OrgId) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(project::Column::Id)
        .from(project::Entity)
        .and_where(project::Column::OrgId.eq(org.get()))
        .to_owned()
}
