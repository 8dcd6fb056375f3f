//! Everything a login reads before its transaction, in one round trip.
//!
//! A login needs the organization, its connection, its verified domains, the connection's JIT
//! default projects and the AuthnRequest its RelayState names. Read one by one that was five
//! queries, each with a pooled connection checked out and pinged back in; here it is one
//! statement whose lists come back as JSON arrays (`array_to_json(ARRAY(…))` on PostgreSQL,
//! `json_group_array` on SQLite, the only text that differs between the two).

use sea_orm::sea_query::{Alias, Condition, Expr, JoinType, Query, SelectStatement};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, IdenStatic, Iterable};

use crate::connections::ConnectionRecord;
use crate::entity::{authn_request, organization, sso_connection};
use crate::error::StoreError;
use crate::ids::{OrgId, ProjectId};
use crate::logins::AuthnRequestRecord;
use crate::orgs::{OrgRecord, OrgSnapshot};
use crate::store::Store;
use crate::text_once::TextOnce;

const ORG: &str = "o_";
const CONNECTION: &str = "c_";
const REQUEST: &str = "r_";

/// The org's verified domains, as a JSON array of strings. On PostgreSQL an `ARRAY` subquery
/// rather than `json_agg`: no aggregate to set up on every execution (in isolation, `pgbench`
/// ran the query 1-18% faster; see BENCHMARKS.md), and an empty list is `[]` without a
/// `COALESCE`.
const DOMAINS_PG: &str = "CAST(array_to_json(ARRAY(SELECT d.domain \
     FROM verified_domains d WHERE d.org_id = organizations.id AND d.state = 'verified')) AS TEXT)";
const DOMAINS_SQLITE: &str = "(SELECT json_group_array(d.domain) \
     FROM verified_domains d WHERE d.org_id = organizations.id AND d.state = 'verified')";
/// The connection's JIT default projects by the host product's id, as a JSON array.
const PROJECTS_PG: &str = "CAST(array_to_json(ARRAY(SELECT p.external_id \
     FROM jit_default_projects j JOIN projects p ON p.id = j.project_id \
     WHERE j.connection_id = sso_connections.id)) AS TEXT)";
const PROJECTS_SQLITE: &str = "(SELECT json_group_array(p.external_id) \
     FROM jit_default_projects j JOIN projects p ON p.id = j.project_id \
     WHERE j.connection_id = sso_connections.id)";

impl<C: ConnectionTrait> Store<C> {
    /// The org's snapshot (as [`org_snapshot`](Self::org_snapshot)) and, when `relay_state`
    /// is given, the AuthnRequest of the org's connection sent with it (as
    /// [`authn_request_by_relay_state`](Self::authn_request_by_relay_state)), in one query.
    pub async fn login_context(
        &self,
        org: OrgId,
        relay_state: Option<&str>,
    ) -> Result<(OrgSnapshot, Option<AuthnRequestRecord>), StoreError> {
        static WITH_REQUEST: TextOnce = TextOnce::new();
        static WITHOUT_REQUEST: TextOnce = TextOnce::new();
        let backend = self.conn.get_database_backend();
        let build = |backend: DbBackend| backend.build(&context_query(backend, org, relay_state));
        // In the text the RelayState (in the join) comes before the org id (in the WHERE).
        let statement = match relay_state {
            Some(relay_state) => {
                WITH_REQUEST.statement(backend, build, vec![relay_state.into(), org.get().into()])
            }
            None => WITHOUT_REQUEST.statement(backend, build, vec![org.get().into()]),
        };
        let row = self
            .conn
            .query_one(statement)
            .await?
            .ok_or(StoreError::not_found("organization"))?;
        let org_record = OrgRecord::from_model(organization::Model::from_query_result(&row, ORG)?)?;
        let mut verified_domains: Vec<String> = json_list(row.try_get("", "domains_json")?)?;
        // Byte order, as every other read of these lists gives them.
        verified_domains.sort_unstable();
        let connection = match sso_connection::Model::from_query_result_optional(&row, CONNECTION)?
        {
            Some(model) => {
                let projects: Vec<String> = json_list(row.try_get("", "projects_json")?)?;
                let projects = projects
                    .iter()
                    .map(|id| {
                        ProjectId::parse(id)
                            .map_err(|e| StoreError::corrupt("project id", e.to_string()))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let mut projects = projects;
                projects.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
                Some(ConnectionRecord::from_model(model, projects)?)
            }
            None => None,
        };
        let request = if relay_state.is_some() {
            authn_request::Model::from_query_result_optional(&row, REQUEST)?
                .map(AuthnRequestRecord::from)
        } else {
            None
        };
        let snapshot = OrgSnapshot {
            org: org_record,
            connection,
            verified_domains,
        };
        Ok((snapshot, request))
    }
}

fn context_query(backend: DbBackend, org: OrgId, relay_state: Option<&str>) -> SelectStatement {
    let (domains, projects) = match backend {
        DbBackend::Postgres => (DOMAINS_PG, PROJECTS_PG),
        _ => (DOMAINS_SQLITE, PROJECTS_SQLITE),
    };
    let mut query = Query::select();
    for column in organization::Column::iter() {
        query.expr_as(
            Expr::col((organization::Entity, column)),
            Alias::new(format!("{ORG}{}", column.as_str())),
        );
    }
    for column in sso_connection::Column::iter() {
        query.expr_as(
            Expr::col((sso_connection::Entity, column)),
            Alias::new(format!("{CONNECTION}{}", column.as_str())),
        );
    }
    query
        .expr_as(Expr::cust(domains), Alias::new("domains_json"))
        .expr_as(Expr::cust(projects), Alias::new("projects_json"))
        .from(organization::Entity)
        .join(
            JoinType::LeftJoin,
            sso_connection::Entity,
            Expr::col((sso_connection::Entity, sso_connection::Column::OrgId))
                .equals((organization::Entity, organization::Column::Id)),
        )
        .and_where(Expr::col((organization::Entity, organization::Column::Id)).eq(org.get()));
    if let Some(relay_state) = relay_state {
        for column in authn_request::Column::iter() {
            query.expr_as(
                Expr::col((authn_request::Entity, column)),
                Alias::new(format!("{REQUEST}{}", column.as_str())),
            );
        }
        query.join(
            JoinType::LeftJoin,
            authn_request::Entity,
            Condition::all()
                .add(
                    Expr::col((authn_request::Entity, authn_request::Column::ConnectionId))
                        .equals((sso_connection::Entity, sso_connection::Column::Id)),
                )
                .add(
                    Expr::col((authn_request::Entity, authn_request::Column::RelayState))
                        .eq(relay_state),
                ),
        );
    }
    query
}

/// A JSON array of strings from the database's own aggregate (`NULL` is empty).
fn json_list(text: Option<String>) -> Result<Vec<String>, StoreError> {
    match text {
        None => Ok(Vec::new()),
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| StoreError::corrupt("aggregated list", e.to_string())),
    }
}
