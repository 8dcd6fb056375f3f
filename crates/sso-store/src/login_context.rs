//! Everything a login reads before its transaction, in one round trip.
//!
//! A login needs the organization, its connection, its verified domains, the connection's JIT
//! default projects and the AuthnRequest its RelayState names. Read one by one that was five
//! queries, each with a pooled connection checked out and pinged back in; here it is one
//! statement whose lists come back as JSON arrays (`array_to_json(ARRAY(…))` on PostgreSQL,
//! `json_group_array` on SQLite, the only text that differs between the two).

use sea_orm::sea_query::{Alias, Condition, Expr, JoinType, Query, SelectStatement};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, IdenStatic, Iterable, QueryResult, TryGetable};

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
        let layout = Layout::new(relay_state.is_some());
        #[cfg(debug_assertions)]
        layout.check_names(&row);
        let org_record = OrgRecord::from_model(organization_at(&row, layout.org)?)?;
        let mut verified_domains: Vec<String> = json_list(row.try_get_by_index(DOMAINS)?)?;
        // Byte order, as every other read of these lists gives them.
        verified_domains.sort_unstable();
        let connection = match connection_at(&row, layout.connection)? {
            Some(model) => {
                let projects: Vec<String> = json_list(row.try_get_by_index(PROJECTS)?)?;
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
        let request = match layout.request {
            Some(start) => request_at(&row, start)?.map(AuthnRequestRecord::from),
            None => None,
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
    // The lists first, then each entity's columns in `Column::iter()` order: see `Layout`.
    query
        .expr_as(Expr::cust(domains), Alias::new("domains_json"))
        .expr_as(Expr::cust(projects), Alias::new("projects_json"));
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

/// Where each part of the context row starts. The row is read by position, not by name:
/// sea-orm's by-name read of a prefixed column formats the name into a new string and looks
/// it up, for each of some forty columns, twice per login (BENCHMARKS.md).
#[derive(Debug, Clone, Copy)]
struct Layout {
    org: usize,
    connection: usize,
    request: Option<usize>,
}

/// The verified domains' and the default projects' positions.
const DOMAINS: usize = 0;
const PROJECTS: usize = 1;

impl Layout {
    fn new(with_request: bool) -> Self {
        let org = PROJECTS + 1;
        let connection = org + organization::Column::iter().count();
        let request = connection + sso_connection::Column::iter().count();
        Self {
            org,
            connection,
            request: with_request.then_some(request),
        }
    }

    /// Debug builds (the tests) check that every position holds the column it is read as.
    #[cfg(debug_assertions)]
    fn check_names(&self, row: &QueryResult) {
        let mut expected = vec!["domains_json".to_owned(), "projects_json".to_owned()];
        expected.extend(organization::Column::iter().map(|c| format!("{ORG}{}", c.as_str())));
        expected
            .extend(sso_connection::Column::iter().map(|c| format!("{CONNECTION}{}", c.as_str())));
        if self.request.is_some() {
            expected
                .extend(authn_request::Column::iter().map(|c| format!("{REQUEST}{}", c.as_str())));
        }
        assert_eq!(row.column_names(), expected, "login context columns");
    }
}

/// One entity's columns in a row, from `start` in `Column::iter()` order: `column as usize` is
/// a column's place among them (the derived `Column` enums have no explicit discriminants).
struct Columns<'r> {
    row: &'r QueryResult,
    start: usize,
}

impl Columns<'_> {
    fn get<T: TryGetable>(&self, column: usize) -> Result<T, DbErr> {
        self.row.try_get_by_index(self.start + column)
    }
}

fn organization_at(row: &QueryResult, start: usize) -> Result<organization::Model, DbErr> {
    use organization::Column as C;
    let c = Columns { row, start };
    Ok(organization::Model {
        id: c.get(C::Id as usize)?,
        name: c.get(C::Name as usize)?,
        plan: c.get(C::Plan as usize)?,
        require_sso: c.get(C::RequireSso as usize)?,
        require_sso_changed_at: c.get(C::RequireSsoChangedAt as usize)?,
        created_at: c.get(C::CreatedAt as usize)?,
    })
}

/// The connection, `None` when the org has none (its id is `NULL` in the left join). Any other
/// column that does not read is an error, not a missing connection.
fn connection_at(row: &QueryResult, start: usize) -> Result<Option<sso_connection::Model>, DbErr> {
    use sso_connection::Column as C;
    let c = Columns { row, start };
    let Some(id) = c.get::<Option<i64>>(C::Id as usize)? else {
        return Ok(None);
    };
    Ok(Some(sso_connection::Model {
        id,
        org_id: c.get(C::OrgId as usize)?,
        enabled: c.get(C::Enabled as usize)?,
        idp_metadata_xml: c.get(C::IdpMetadataXml as usize)?,
        idp_metadata_url: c.get(C::IdpMetadataUrl as usize)?,
        idp_entity_id: c.get(C::IdpEntityId as usize)?,
        idp_sso_url: c.get(C::IdpSsoUrl as usize)?,
        idp_certificates: c.get(C::IdpCertificates as usize)?,
        sp_settings: c.get(C::SpSettings as usize)?,
        jit_role: c.get(C::JitRole as usize)?,
        allow_unsolicited: c.get(C::AllowUnsolicited as usize)?,
        allow_sha1: c.get(C::AllowSha1 as usize)?,
        clock_skew_seconds: c.get(C::ClockSkewSeconds as usize)?,
        config_version: c.get(C::ConfigVersion as usize)?,
        configuration_changed_at: c.get(C::ConfigurationChangedAt as usize)?,
        last_successful_login_at: c.get(C::LastSuccessfulLoginAt as usize)?,
        created_at: c.get(C::CreatedAt as usize)?,
        idp_metadata_entity_id: c.get(C::IdpMetadataEntityId as usize)?,
        idp_metadata_refresh_seconds: c.get(C::IdpMetadataRefreshSeconds as usize)?,
        idp_metadata_next_refresh_at: c.get(C::IdpMetadataNextRefreshAt as usize)?,
        idp_metadata_refreshed_at: c.get(C::IdpMetadataRefreshedAt as usize)?,
        idp_metadata_refresh_reason: c.get(C::IdpMetadataRefreshReason as usize)?,
        idp_metadata_signing_certificate: c.get(C::IdpMetadataSigningCertificate as usize)?,
        idp_metadata_valid_until: c.get(C::IdpMetadataValidUntil as usize)?,
        idp_metadata_cache_seconds: c.get(C::IdpMetadataCacheSeconds as usize)?,
        groups_attribute: c.get(C::GroupsAttribute as usize)?,
        group_rules: c.get(C::GroupRules as usize)?,
        group_rules_every_login: c.get(C::GroupRulesEveryLogin as usize)?,
    }))
}

/// The request the RelayState names, `None` when there is none for this connection.
fn request_at(row: &QueryResult, start: usize) -> Result<Option<authn_request::Model>, DbErr> {
    use authn_request::Column as C;
    let c = Columns { row, start };
    let Some(id) = c.get::<Option<String>>(C::Id as usize)? else {
        return Ok(None);
    };
    Ok(Some(authn_request::Model {
        id,
        connection_id: c.get(C::ConnectionId as usize)?,
        relay_state: c.get(C::RelayState as usize)?,
        return_target: c.get(C::ReturnTarget as usize)?,
        created_at: c.get(C::CreatedAt as usize)?,
        expires_at: c.get(C::ExpiresAt as usize)?,
        consumed_at: c.get(C::ConsumedAt as usize)?,
        purpose: c.get(C::Purpose as usize)?,
    }))
}

/// A JSON array of strings from the database's own aggregate (`NULL` is empty).
fn json_list(text: Option<String>) -> Result<Vec<String>, StoreError> {
    match text {
        None => Ok(Vec::new()),
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| StoreError::corrupt("aggregated list", e.to_string())),
    }
}
