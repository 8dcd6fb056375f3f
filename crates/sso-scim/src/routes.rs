//! The handlers. Users and Groups share one set, written once over [`Kind`]; discovery is
//! served from `discovery`.

use std::future::Future;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::{Value, json};

use crate::ScimConfig;
use crate::backend::{
    Backend, BackendError, GroupWrite, Lookup, StoredGroup, StoredUser, Tenant, UserWrite,
};
use crate::discovery::{self, GROUP_SCHEMA, USER_SCHEMA};
use crate::error::ScimError;
use crate::extract::{
    AppState, Caller, Last, Precondition, ScimJson, Shared, not_modified, respond,
};
use crate::filter::{self, Budget};
use crate::group::{MAX_MEMBERS_PER_REQUEST, group_state, group_write, render_group};
use crate::list::{LIST_SCHEMA, ListParams, page};
use crate::patch::{self, Target};
use crate::project::Projection;
use crate::user::{render_user, user_state, user_write};

/// How many attribute values one listing's filter may visit across all candidates.
const MAX_FILTER_VISITS: usize = 10_000_000;

/// How many times a PATCH without `If-Match` reads again after losing a race.
const PATCH_RETRIES: usize = 3;

/// The routes under `/scim/v2/{org}`.
pub(crate) fn router<B: Backend>(backend: B, config: ScimConfig) -> Router {
    let limit = config.max_body_bytes;
    let state: AppState<B> = std::sync::Arc::new(Shared { backend, config });
    Router::new()
        .route(
            "/scim/v2/{org}/Users",
            get(list::<B, Users>).post(create::<B, Users>),
        )
        .route("/scim/v2/{org}/Users/.search", post(search::<B, Users>))
        .route(
            "/scim/v2/{org}/Users/{id}",
            get(read::<B, Users>)
                .put(replace::<B, Users>)
                .patch(modify::<B, Users>)
                .delete(delete::<B, Users>),
        )
        .route(
            "/scim/v2/{org}/Groups",
            get(list::<B, Groups>).post(create::<B, Groups>),
        )
        .route("/scim/v2/{org}/Groups/.search", post(search::<B, Groups>))
        .route(
            "/scim/v2/{org}/Groups/{id}",
            get(read::<B, Groups>)
                .put(replace::<B, Groups>)
                .patch(modify::<B, Groups>)
                .delete(delete::<B, Groups>),
        )
        .route(
            "/scim/v2/{org}/ServiceProviderConfig",
            get(service_provider_config::<B>),
        )
        .route("/scim/v2/{org}/ResourceTypes", get(resource_types))
        .route("/scim/v2/{org}/ResourceTypes/{name}", get(resource_type))
        .route("/scim/v2/{org}/Schemas", get(schemas))
        .route("/scim/v2/{org}/Schemas/{uri}", get(schema))
        .route("/scim/v2/{org}/.search", post(search_all))
        // Anything else under an org's SCIM root is a SCIM 404 (after the token is checked),
        // not the server's plain one.
        .route("/scim/v2/{org}/{*rest}", any(unknown))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// A resource type: its schema, its name attribute, and its operations on the backend.
pub(crate) trait Kind: Send + Sync + 'static {
    /// The core schema URN.
    const CORE: &'static str;
    /// `userName` or `displayName`.
    const NAME_ATTR: &'static str;
    type Stored: Send + Sync + 'static;
    type Write: Send + 'static;

    fn parse(body: &Value, max_members: usize) -> Result<Self::Write, ScimError>;
    /// The resource as PATCH sees it.
    fn state(stored: &Self::Stored, base: &str) -> Value;
    fn render(stored: &Self::Stored, base: &str) -> Value;
    fn id(stored: &Self::Stored) -> &str;
    fn version(stored: &Self::Stored) -> u64;
    fn create<B: Backend>(
        b: &B,
        t: &Tenant,
        w: Self::Write,
    ) -> impl Future<Output = Result<Self::Stored, BackendError>> + Send;
    fn get<B: Backend>(
        b: &B,
        t: &Tenant,
        id: &str,
    ) -> impl Future<Output = Result<Self::Stored, BackendError>> + Send;
    fn find<B: Backend>(
        b: &B,
        t: &Tenant,
        lookup: &Lookup,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Self::Stored>, BackendError>> + Send;
    fn replace<B: Backend>(
        b: &B,
        t: &Tenant,
        id: &str,
        w: Self::Write,
        expected: Option<u64>,
    ) -> impl Future<Output = Result<Self::Stored, BackendError>> + Send;
    fn delete<B: Backend>(
        b: &B,
        t: &Tenant,
        id: &str,
        expected: Option<u64>,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;
}

/// `/Users`.
#[derive(Debug)]
pub(crate) struct Users;

impl Kind for Users {
    const CORE: &'static str = USER_SCHEMA;
    const NAME_ATTR: &'static str = "userName";
    type Stored = StoredUser;
    type Write = UserWrite;

    fn parse(body: &Value, _: usize) -> Result<UserWrite, ScimError> {
        user_write(body)
    }
    fn state(stored: &StoredUser, _: &str) -> Value {
        user_state(stored)
    }
    fn render(stored: &StoredUser, base: &str) -> Value {
        render_user(stored, base)
    }
    fn id(stored: &StoredUser) -> &str {
        &stored.id
    }
    fn version(stored: &StoredUser) -> u64 {
        stored.version
    }
    fn create<B: Backend>(
        b: &B,
        t: &Tenant,
        w: UserWrite,
    ) -> impl Future<Output = Result<StoredUser, BackendError>> + Send {
        b.create_user(t, w)
    }
    fn get<B: Backend>(
        b: &B,
        t: &Tenant,
        id: &str,
    ) -> impl Future<Output = Result<StoredUser, BackendError>> + Send {
        b.get_user(t, id)
    }
    fn find<B: Backend>(
        b: &B,
        t: &Tenant,
        lookup: &Lookup,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StoredUser>, BackendError>> + Send {
        b.find_users(t, lookup, limit)
    }
    fn replace<B: Backend>(
        b: &B,
        t: &Tenant,
        id: &str,
        w: UserWrite,
        expected: Option<u64>,
    ) -> impl Future<Output = Result<StoredUser, BackendError>> + Send {
        b.replace_user(t, id, w, expected)
    }
    fn delete<B: Backend>(
        b: &B,
        t: &Tenant,
        id: &str,
        expected: Option<u64>,
    ) -> impl Future<Output = Result<(), BackendError>> + Send {
        b.delete_user(t, id, expected)
    }
}

/// `/Groups`.
#[derive(Debug)]
pub(crate) struct Groups;

impl Kind for Groups {
    const CORE: &'static str = GROUP_SCHEMA;
    const NAME_ATTR: &'static str = "displayName";
    type Stored = StoredGroup;
    type Write = GroupWrite;

    fn parse(body: &Value, max_members: usize) -> Result<GroupWrite, ScimError> {
        group_write(body, max_members)
    }
    fn state(stored: &StoredGroup, base: &str) -> Value {
        group_state(stored, base)
    }
    fn render(stored: &StoredGroup, base: &str) -> Value {
        render_group(stored, base)
    }
    fn id(stored: &StoredGroup) -> &str {
        &stored.id
    }
    fn version(stored: &StoredGroup) -> u64 {
        stored.version
    }
    fn create<B: Backend>(
        b: &B,
        t: &Tenant,
        w: GroupWrite,
    ) -> impl Future<Output = Result<StoredGroup, BackendError>> + Send {
        b.create_group(t, w)
    }
    fn get<B: Backend>(
        b: &B,
        t: &Tenant,
        id: &str,
    ) -> impl Future<Output = Result<StoredGroup, BackendError>> + Send {
        b.get_group(t, id)
    }
    fn find<B: Backend>(
        b: &B,
        t: &Tenant,
        lookup: &Lookup,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StoredGroup>, BackendError>> + Send {
        b.find_groups(t, lookup, limit)
    }
    fn replace<B: Backend>(
        b: &B,
        t: &Tenant,
        id: &str,
        w: GroupWrite,
        expected: Option<u64>,
    ) -> impl Future<Output = Result<StoredGroup, BackendError>> + Send {
        b.replace_group(t, id, w, expected)
    }
    fn delete<B: Backend>(
        b: &B,
        t: &Tenant,
        id: &str,
        expected: Option<u64>,
    ) -> impl Future<Output = Result<(), BackendError>> + Send {
        b.delete_group(t, id, expected)
    }
}

type Pairs = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// The query string's pairs; a malformed one is a syntax error.
fn pairs(query: Pairs) -> Result<Vec<(String, String)>, ScimError> {
    query
        .map(|Query(pairs)| pairs)
        .map_err(|_| ScimError::invalid_syntax("the query string is malformed"))
}

/// `attributes` / `excludedAttributes` for a single-resource response.
fn projection(query: Pairs) -> Result<Projection, ScimError> {
    let pairs = pairs(query)?;
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    Projection::from_query(get("attributes"), get("excludedAttributes"))
}

/// One resource as a response, projected, with its ETag.
fn one<K: Kind>(
    status: StatusCode,
    stored: &K::Stored,
    caller: &Caller,
    projection: &Projection,
    location: bool,
) -> Response {
    let mut body = K::render(stored, &caller.base);
    let href = body
        .pointer("/meta/location")
        .and_then(Value::as_str)
        .map(str::to_owned);
    projection.apply(&mut body, K::CORE);
    let location = href.as_deref().filter(|_| location);
    respond(status, &body, Some(K::version(stored)), location)
}

async fn list<B: Backend, K: Kind>(
    caller: Caller,
    State(state): State<AppState<B>>,
    query: Pairs,
) -> Result<Response, ScimError> {
    let params = ListParams::from_query(&pairs(query)?)?;
    listing::<B, K>(&state, &caller, &params).await
}

async fn search<B: Backend, K: Kind>(
    caller: Caller,
    State(state): State<AppState<B>>,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let params = ListParams::from_search(&body)?;
    listing::<B, K>(&state, &caller, &params).await
}

/// Narrows by the filter's indexed condition, evaluates the whole filter, pages.
async fn listing<B: Backend, K: Kind>(
    state: &Shared<B>,
    caller: &Caller,
    params: &ListParams,
) -> Result<Response, ScimError> {
    let lookup = params
        .filter
        .as_ref()
        .map_or(Lookup::All, |f| filter::lookup(f, K::CORE, K::NAME_ATTR));
    let limit = state.config.max_candidates;
    let found = match K::find(&state.backend, &caller.tenant, &lookup, limit).await {
        Ok(found) => found,
        Err(BackendError::NotFound) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let budget = Budget::new(MAX_FILTER_VISITS);
    let matched: Vec<Value> = found
        .iter()
        .map(|stored| K::render(stored, &caller.base))
        .filter(|r| {
            params
                .filter
                .as_ref()
                .is_none_or(|f| filter::matches(f, r, K::CORE, &budget))
        })
        .collect();
    if budget.exhausted() {
        return Err(ScimError::too_many(
            "the filter would examine too many values; narrow it (for example userName eq)",
        ));
    }
    let body = page(matched, params, state.config.max_results, K::CORE);
    Ok(respond(StatusCode::OK, &body, None, None))
}

async fn create<B: Backend, K: Kind>(
    caller: Caller,
    State(state): State<AppState<B>>,
    query: Pairs,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let projection = projection(query)?;
    let write = K::parse(&body, MAX_MEMBERS_PER_REQUEST)?;
    let stored = K::create(&state.backend, &caller.tenant, write).await?;
    Ok(one::<K>(
        StatusCode::CREATED,
        &stored,
        &caller,
        &projection,
        true,
    ))
}

async fn read<B: Backend, K: Kind>(
    caller: Caller,
    State(state): State<AppState<B>>,
    Last(id): Last,
    headers: HeaderMap,
    query: Pairs,
) -> Result<Response, ScimError> {
    let projection = projection(query)?;
    let stored = K::get(&state.backend, &caller.tenant, &id).await?;
    let version = K::version(&stored);
    let unchanged = Precondition::from_headers(&headers, header::IF_NONE_MATCH)
        .is_some_and(|p| p.matches(version));
    if unchanged {
        return Ok(not_modified(version));
    }
    Ok(one::<K>(
        StatusCode::OK,
        &stored,
        &caller,
        &projection,
        false,
    ))
}

/// The version a write must expect under `If-Match`: read now, refused if it does not match.
async fn expected<B: Backend, K: Kind>(
    state: &Shared<B>,
    caller: &Caller,
    id: &str,
    headers: &HeaderMap,
) -> Result<Option<u64>, ScimError> {
    let Some(condition) = Precondition::from_headers(headers, header::IF_MATCH) else {
        return Ok(None);
    };
    let current = K::get(&state.backend, &caller.tenant, id).await?;
    let version = K::version(&current);
    if !condition.matches(version) {
        return Err(ScimError::precondition_failed());
    }
    Ok(Some(version))
}

async fn replace<B: Backend, K: Kind>(
    caller: Caller,
    State(state): State<AppState<B>>,
    Last(id): Last,
    headers: HeaderMap,
    query: Pairs,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let projection = projection(query)?;
    let write = K::parse(&body, MAX_MEMBERS_PER_REQUEST)?;
    let expected = expected::<B, K>(&state, &caller, &id, &headers).await?;
    let stored = K::replace(&state.backend, &caller.tenant, &id, write, expected).await?;
    Ok(one::<K>(
        StatusCode::OK,
        &stored,
        &caller,
        &projection,
        false,
    ))
}

async fn delete<B: Backend, K: Kind>(
    caller: Caller,
    State(state): State<AppState<B>>,
    Last(id): Last,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let expected = expected::<B, K>(&state, &caller, &id, &headers).await?;
    K::delete(&state.backend, &caller.tenant, &id, expected).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// PATCH: read, apply in memory, write back expecting the version read. Without `If-Match`
/// a lost race is retried; with it, the client asked for exactly that version.
async fn modify<B: Backend, K: Kind>(
    caller: Caller,
    State(state): State<AppState<B>>,
    Last(id): Last,
    headers: HeaderMap,
    query: Pairs,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let projection = projection(query)?;
    let ops = patch::parse(&body)?;
    if patch::member_values(&ops) > MAX_MEMBERS_PER_REQUEST {
        return Err(ScimError::invalid_value(format!(
            "scim-too-many-members: at most {MAX_MEMBERS_PER_REQUEST} members in one request"
        )));
    }
    let condition = Precondition::from_headers(&headers, header::IF_MATCH);
    let mut retries = 0;
    loop {
        let current = K::get(&state.backend, &caller.tenant, &id).await?;
        let version = K::version(&current);
        if condition.as_ref().is_some_and(|c| !c.matches(version)) {
            return Err(ScimError::precondition_failed());
        }
        let mut resource = K::state(&current, &caller.base);
        let target = Target {
            id: K::id(&current),
            core: K::CORE,
        };
        patch::apply(&mut resource, &ops, target)?;
        let write = K::parse(&resource, usize::MAX)?;
        match K::replace(&state.backend, &caller.tenant, &id, write, Some(version)).await {
            Ok(stored) => {
                return Ok(one::<K>(
                    StatusCode::OK,
                    &stored,
                    &caller,
                    &projection,
                    false,
                ));
            }
            Err(BackendError::VersionMismatch)
                if condition.is_none() && retries < PATCH_RETRIES =>
            {
                retries += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn discovery_list(resources: &[Value]) -> Response {
    let body = json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    });
    respond(StatusCode::OK, &body, None, None)
}

async fn service_provider_config<B: Backend>(
    caller: Caller,
    State(state): State<AppState<B>>,
) -> Response {
    let body = discovery::service_provider_config(&caller.base, state.config.max_results);
    respond(StatusCode::OK, &body, None, None)
}

async fn resource_types(caller: Caller) -> Response {
    discovery_list(&discovery::resource_types(&caller.base))
}

async fn resource_type(caller: Caller, Last(name): Last) -> Result<Response, ScimError> {
    let body = discovery::resource_type(&caller.base, &name)
        .ok_or_else(|| ScimError::not_found("no such resource type"))?;
    Ok(respond(StatusCode::OK, &body, None, None))
}

/// Searching Users and Groups in one request (RFC 7644 3.4.3 at the root) is not offered: 501,
/// as the RFC allows; each resource type's own `.search` is.
async fn search_all(_caller: Caller) -> ScimError {
    ScimError::not_implemented(
        "search Users and Groups apart, at /Users/.search and /Groups/.search",
    )
}

async fn unknown(_caller: Caller) -> ScimError {
    ScimError::not_found("no such endpoint")
}

async fn schemas(caller: Caller) -> Response {
    discovery_list(&discovery::schemas(&caller.base))
}

async fn schema(caller: Caller, Last(uri): Last) -> Result<Response, ScimError> {
    let body = discovery::schema(&caller.base, &uri)
        .ok_or_else(|| ScimError::not_found("no such schema"))?;
    Ok(respond(StatusCode::OK, &body, None, None))
}
