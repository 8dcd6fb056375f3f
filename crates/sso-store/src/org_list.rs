//! Organizations one page at a time, oldest first, each read with its connection and verified
//! domains (a snapshot, as `sso-policy` needs it) in a fixed number of queries per page.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use sea_orm::sea_query::{Alias, Expr, Func};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect,
};

use crate::connections::ConnectionRecord;
use crate::entity::{jit_default_project, organization, project, sso_connection, verified_domain};
use crate::error::StoreError;
use crate::events::MAX_PAGE;
use crate::ids::{OrgId, ProjectId};
use crate::orgs::{OrgRecord, OrgSnapshot};
use crate::store::Store;

/// The longest name prefix a listing may filter on, in characters.
pub const MAX_NAME_PREFIX: usize = 200;

/// Where an oldest-first listing of organizations continues: after this organization. Opaque
/// text for the wire (`Display` and `FromStr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OrgCursor {
    after: OrgId,
}

impl fmt::Display for OrgCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "org.{}", self.after)
    }
}

impl FromStr for OrgCursor {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.strip_prefix("org.")
            .and_then(|id| id.parse::<OrgId>().ok())
            .map(|after| Self { after })
            .ok_or_else(|| StoreError::invalid("org cursor", format!("{s:?} is not a cursor")))
    }
}

/// What to list: organizations in the order they were created (by id), optionally only those
/// whose name starts with a prefix, one page at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgQuery {
    limit: u32,
    name_prefix: Option<String>,
    after: Option<OrgCursor>,
}

impl OrgQuery {
    /// The first page of at most `limit` organizations (1 to [`MAX_PAGE`]; other values are
    /// clamped).
    pub fn new(limit: u32) -> Self {
        Self {
            limit: limit.clamp(1, MAX_PAGE),
            name_prefix: None,
            after: None,
        }
    }

    /// Only organizations whose name starts with `prefix`, compared exactly (letter case
    /// counts, the same on every backend); an empty prefix matches every name. At most
    /// [`MAX_NAME_PREFIX`] characters, else the listing is `invalid-input`.
    #[must_use]
    pub fn name_prefix(mut self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        self.name_prefix = (!prefix.is_empty()).then_some(prefix);
        self
    }

    /// The page after this cursor (from [`OrgPage::next`]).
    #[must_use]
    pub fn after(mut self, cursor: OrgCursor) -> Self {
        self.after = Some(cursor);
        self
    }
}

/// One page of organizations, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OrgPage {
    /// The organizations, each with its connection and verified domains.
    pub orgs: Vec<OrgSnapshot>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<OrgCursor>,
}

impl<C: ConnectionTrait> Store<C> {
    /// Organizations by id (creation order), one page at a time. Keyset paging: a page is the
    /// same whatever is created after the first one was read, and nothing is listed twice.
    /// Four queries per page, whatever its size.
    pub async fn list_orgs(&self, query: &OrgQuery) -> Result<OrgPage, StoreError> {
        let mut select = organization::Entity::find();
        if let Some(cursor) = query.after {
            select = select.filter(organization::Column::Id.gt(cursor.after.get()));
        }
        if let Some(prefix) = &query.name_prefix {
            let length = prefix.chars().count();
            let length = i32::try_from(length)
                .ok()
                .filter(|_| length <= MAX_NAME_PREFIX)
                .ok_or_else(|| {
                    StoreError::invalid(
                        "name prefix",
                        format!("longer than {MAX_NAME_PREFIX} characters"),
                    )
                })?;
            // `substr` counts characters on SQLite and PostgreSQL alike, and `=` compares
            // exactly, where `LIKE` would ignore ASCII case on SQLite only.
            let head = Func::cust(Alias::new("substr"))
                .arg(Expr::col(organization::Column::Name))
                .arg(1i32)
                .arg(length);
            select = select.filter(Expr::expr(head).eq(prefix.as_str()));
        }
        let mut records = select
            .order_by_asc(organization::Column::Id)
            .limit(u64::from(query.limit) + 1)
            .all(&self.conn)
            .await?
            .into_iter()
            .map(OrgRecord::from_model)
            .collect::<Result<Vec<_>, _>>()?;
        let more = records.len() > query.limit as usize;
        records.truncate(query.limit as usize);
        let next = if more {
            records.last().map(|r| OrgCursor { after: r.id })
        } else {
            None
        };
        let orgs = self.snapshots_of(records).await?;
        Ok(OrgPage { orgs, next })
    }

    /// The snapshots of these organizations: their connections (with default projects) and
    /// verified domains read in one query each.
    async fn snapshots_of(&self, records: Vec<OrgRecord>) -> Result<Vec<OrgSnapshot>, StoreError> {
        let ids: Vec<i64> = records.iter().map(|r| r.id.get()).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let models = sso_connection::Entity::find()
            .filter(sso_connection::Column::OrgId.is_in(ids.clone()))
            .all(&self.conn)
            .await?;
        let connection_ids: Vec<i64> = models.iter().map(|m| m.id).collect();
        let mut projects: HashMap<i64, Vec<ProjectId>> = HashMap::new();
        if !connection_ids.is_empty() {
            let rows = jit_default_project::Entity::find()
                .select_only()
                .column(jit_default_project::Column::ConnectionId)
                .column_as(
                    Expr::col((project::Entity, project::Column::ExternalId)),
                    "external_id",
                )
                .join(
                    JoinType::InnerJoin,
                    jit_default_project::Entity::belongs_to(project::Entity)
                        .from(jit_default_project::Column::ProjectId)
                        .to(project::Column::Id)
                        .into(),
                )
                .filter(jit_default_project::Column::ConnectionId.is_in(connection_ids))
                .order_by_asc(project::Column::ExternalId)
                .into_tuple::<(i64, String)>()
                .all(&self.conn)
                .await?;
            for (connection, project) in rows {
                let id = ProjectId::parse(&project)
                    .map_err(|e| StoreError::corrupt("project id", e.to_string()))?;
                projects.entry(connection).or_default().push(id);
            }
        }
        let mut connections = HashMap::new();
        for model in models {
            let defaults = projects.remove(&model.id).unwrap_or_default();
            let record = ConnectionRecord::from_model(model, defaults)?;
            connections.insert(record.org, record);
        }
        let mut domains: HashMap<i64, Vec<String>> = HashMap::new();
        let rows = verified_domain::Entity::find()
            .select_only()
            .column(verified_domain::Column::OrgId)
            .column(verified_domain::Column::Domain)
            .filter(verified_domain::Column::OrgId.is_in(ids))
            .filter(verified_domain::Column::State.eq(crate::domains::DomainState::Verified.code()))
            .order_by_asc(verified_domain::Column::Domain)
            .into_tuple::<(i64, String)>()
            .all(&self.conn)
            .await?;
        for (org, domain) in rows {
            domains.entry(org).or_default().push(domain);
        }
        Ok(records
            .into_iter()
            .map(|org| OrgSnapshot {
                connection: connections.remove(&org.id),
                verified_domains: domains.remove(&org.id.get()).unwrap_or_default(),
                org,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_as_text() {
        let cursor = OrgCursor {
            after: OrgId::new(42),
        };
        assert_eq!(cursor.to_string(), "org.42");
        assert_eq!("org.42".parse::<OrgCursor>().unwrap(), cursor);
        for bad in ["", "42", "org.", "org.x", "org.-1", "1740819600123456.42"] {
            assert_eq!(
                bad.parse::<OrgCursor>().unwrap_err().reason(),
                "invalid-input",
                "{bad}"
            );
        }
    }
}
