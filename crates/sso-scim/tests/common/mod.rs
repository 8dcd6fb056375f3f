//! An in-memory `Backend` that keeps the contract's rules (case-insensitive unique names,
//! versions checked atomically with the write, members that must be users of the org), and a
//! small client that drives the router with `oneshot`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use sso_scim::{
    Backend, BackendError, GroupMember, GroupWrite, Lookup, ScimConfig, StoredGroup, StoredUser,
    Tenant, UserWrite,
};
use time::OffsetDateTime;
use tower::ServiceExt;

/// The token that opens org `acme`.
pub const TOKEN: &str = "acme-scim-token";
/// The token that opens org `other`.
pub const OTHER_TOKEN: &str = "other-scim-token";

#[derive(Debug, Clone)]
struct GroupRow {
    id: String,
    write: GroupWrite,
    version: u64,
    created: OffsetDateTime,
    modified: OffsetDateTime,
}

#[derive(Debug, Default)]
struct Org {
    users: Vec<StoredUser>,
    groups: Vec<GroupRow>,
}

#[derive(Debug, Default)]
struct State {
    orgs: HashMap<String, Org>,
    next_id: u64,
    /// The next this many `replace_*` calls find the resource changed by someone else first.
    interference: usize,
    lookups: Vec<Lookup>,
    replaces: usize,
}

/// Storage in a `HashMap` behind a `Mutex`.
#[derive(Debug, Clone, Default)]
pub struct Memory {
    state: Arc<Mutex<State>>,
}

impl Memory {
    /// Makes the next `n` replaces lose a race against another writer.
    pub fn interfere(&self, n: usize) {
        self.state.lock().unwrap().interference = n;
    }

    /// Every lookup `find_*` was called with, in order.
    pub fn lookups(&self) -> Vec<Lookup> {
        self.state.lock().unwrap().lookups.clone()
    }

    /// How many `replace_*` calls were made.
    pub fn replaces(&self) -> usize {
        self.state.lock().unwrap().replaces
    }

    /// How many users org `acme` has.
    pub fn user_count(&self) -> usize {
        let state = self.state.lock().unwrap();
        state.orgs.get("acme").map_or(0, |o| o.users.len())
    }

    fn group(org: &Org, row: &GroupRow) -> StoredGroup {
        let members = row
            .write
            .members
            .iter()
            .filter_map(|id| org.users.iter().find(|u| &u.id == id))
            .map(|u| GroupMember {
                value: u.id.clone(),
                display: u.user.user_name.clone(),
            })
            .collect();
        StoredGroup {
            id: row.id.clone(),
            display_name: row.write.display_name.clone(),
            external_id: row.write.external_id.clone(),
            members,
            document: row.write.document.clone(),
            version: row.version,
            created: row.created,
            modified: row.modified,
        }
    }
}

fn check_user(org: &Org, user: &UserWrite, except: Option<&str>) -> Result<(), BackendError> {
    let taken = org.users.iter().any(|u| {
        Some(u.id.as_str()) != except && u.user.user_name.eq_ignore_ascii_case(&user.user_name)
    });
    if taken {
        return Err(BackendError::Uniqueness);
    }
    if user
        .email
        .as_deref()
        .is_some_and(|e| e.ends_with("@unverified.test"))
    {
        return Err(BackendError::InvalidValue {
            reason: "scim-email-domain-unverified",
            detail: "unverified.test is not a verified domain of this organization".into(),
        });
    }
    Ok(())
}

fn check_group(org: &Org, group: &GroupWrite, except: Option<&str>) -> Result<(), BackendError> {
    let taken = org.groups.iter().any(|g| {
        Some(g.id.as_str()) != except
            && g.write
                .display_name
                .eq_ignore_ascii_case(&group.display_name)
    });
    if taken {
        return Err(BackendError::Uniqueness);
    }
    for member in &group.members {
        if !org.users.iter().any(|u| &u.id == member) {
            return Err(BackendError::InvalidValue {
                reason: "scim-unknown-member",
                detail: format!("{member} is not a user of this organization"),
            });
        }
    }
    Ok(())
}

fn stale(version: u64, expected: Option<u64>) -> Result<(), BackendError> {
    match expected {
        Some(v) if v != version => Err(BackendError::VersionMismatch),
        _ => Ok(()),
    }
}

fn limited<T>(items: Vec<T>, limit: usize) -> Result<Vec<T>, BackendError> {
    if items.len() > limit {
        Err(BackendError::TooMany)
    } else {
        Ok(items)
    }
}

impl State {
    fn org(&mut self, tenant: &Tenant) -> &mut Org {
        self.orgs.entry(tenant.org.clone()).or_default()
    }

    fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}-{:04}", self.next_id)
    }

    /// Another writer got there first: bump the version behind the caller's back.
    fn interfered(&mut self) -> bool {
        self.replaces += 1;
        if self.interference == 0 {
            return false;
        }
        self.interference -= 1;
        true
    }
}

impl Backend for Memory {
    async fn authenticate(&self, org: &str, token: &str) -> Result<Tenant, BackendError> {
        match (org, token) {
            ("acme", TOKEN) | ("other", OTHER_TOKEN) => Ok(Tenant {
                org: org.to_owned(),
                actor: "scim-token:1".into(),
            }),
            (_, "explode") => Err(BackendError::Internal("token table unavailable".into())),
            _ => Err(BackendError::Unauthorized),
        }
    }

    async fn create_user(&self, t: &Tenant, user: UserWrite) -> Result<StoredUser, BackendError> {
        let mut state = self.state.lock().unwrap();
        let id = state.new_id("u");
        let org = state.org(t);
        check_user(org, &user, None)?;
        let now = OffsetDateTime::now_utc();
        let stored = StoredUser {
            id,
            user,
            version: 1,
            created: now,
            modified: now,
        };
        org.users.push(stored.clone());
        Ok(stored)
    }

    async fn get_user(&self, t: &Tenant, id: &str) -> Result<StoredUser, BackendError> {
        let mut state = self.state.lock().unwrap();
        let org = state.org(t);
        org.users
            .iter()
            .find(|u| u.id == id)
            .cloned()
            .ok_or(BackendError::NotFound)
    }

    async fn find_users(
        &self,
        t: &Tenant,
        lookup: &Lookup,
        limit: usize,
    ) -> Result<Vec<StoredUser>, BackendError> {
        let mut state = self.state.lock().unwrap();
        state.lookups.push(lookup.clone());
        let org = state.org(t);
        let found = org
            .users
            .iter()
            .filter(|u| match lookup {
                Lookup::All => true,
                Lookup::Id(id) => &u.id == id,
                Lookup::Name(n) => u.user.user_name.eq_ignore_ascii_case(n),
                Lookup::ExternalId(e) => u.user.external_id.as_ref() == Some(e),
            })
            .cloned()
            .collect();
        limited(found, limit)
    }

    async fn replace_user(
        &self,
        t: &Tenant,
        id: &str,
        user: UserWrite,
        expected: Option<u64>,
    ) -> Result<StoredUser, BackendError> {
        let mut state = self.state.lock().unwrap();
        let interfered = state.interfered();
        let org = state.org(t);
        check_user(org, &user, Some(id))?;
        let stored = org
            .users
            .iter_mut()
            .find(|u| u.id == id)
            .ok_or(BackendError::NotFound)?;
        if interfered {
            stored.version += 1;
        }
        stale(stored.version, expected)?;
        stored.user = user;
        stored.version += 1;
        stored.modified = OffsetDateTime::now_utc();
        Ok(stored.clone())
    }

    async fn delete_user(
        &self,
        t: &Tenant,
        id: &str,
        expected: Option<u64>,
    ) -> Result<(), BackendError> {
        let mut state = self.state.lock().unwrap();
        let org = state.org(t);
        let index = org
            .users
            .iter()
            .position(|u| u.id == id)
            .ok_or(BackendError::NotFound)?;
        stale(org.users[index].version, expected)?;
        org.users.remove(index);
        for group in &mut org.groups {
            if group.write.members.iter().any(|m| m == id) {
                group.write.members.retain(|m| m != id);
                group.version += 1;
            }
        }
        Ok(())
    }

    async fn create_group(
        &self,
        t: &Tenant,
        group: GroupWrite,
    ) -> Result<StoredGroup, BackendError> {
        let mut state = self.state.lock().unwrap();
        let id = state.new_id("g");
        let org = state.org(t);
        check_group(org, &group, None)?;
        let now = OffsetDateTime::now_utc();
        let row = GroupRow {
            id,
            write: group,
            version: 1,
            created: now,
            modified: now,
        };
        org.groups.push(row.clone());
        Ok(Self::group(org, &row))
    }

    async fn get_group(&self, t: &Tenant, id: &str) -> Result<StoredGroup, BackendError> {
        let mut state = self.state.lock().unwrap();
        let org = state.org(t);
        let row = org
            .groups
            .iter()
            .find(|g| g.id == id)
            .ok_or(BackendError::NotFound)?;
        Ok(Self::group(org, row))
    }

    async fn find_groups(
        &self,
        t: &Tenant,
        lookup: &Lookup,
        limit: usize,
    ) -> Result<Vec<StoredGroup>, BackendError> {
        let mut state = self.state.lock().unwrap();
        state.lookups.push(lookup.clone());
        let org = state.org(t);
        let found = org
            .groups
            .iter()
            .filter(|g| match lookup {
                Lookup::All => true,
                Lookup::Id(id) => &g.id == id,
                Lookup::Name(n) => g.write.display_name.eq_ignore_ascii_case(n),
                Lookup::ExternalId(e) => g.write.external_id.as_ref() == Some(e),
            })
            .map(|g| Self::group(org, g))
            .collect();
        limited(found, limit)
    }

    async fn replace_group(
        &self,
        t: &Tenant,
        id: &str,
        group: GroupWrite,
        expected: Option<u64>,
    ) -> Result<StoredGroup, BackendError> {
        let mut state = self.state.lock().unwrap();
        let interfered = state.interfered();
        let org = state.org(t);
        check_group(org, &group, Some(id))?;
        let index = org
            .groups
            .iter()
            .position(|g| g.id == id)
            .ok_or(BackendError::NotFound)?;
        let row = &mut org.groups[index];
        if interfered {
            row.version += 1;
        }
        stale(row.version, expected)?;
        row.write = group;
        row.version += 1;
        row.modified = OffsetDateTime::now_utc();
        let row = row.clone();
        Ok(Self::group(org, &row))
    }

    async fn delete_group(
        &self,
        t: &Tenant,
        id: &str,
        expected: Option<u64>,
    ) -> Result<(), BackendError> {
        let mut state = self.state.lock().unwrap();
        let org = state.org(t);
        let index = org
            .groups
            .iter()
            .position(|g| g.id == id)
            .ok_or(BackendError::NotFound)?;
        stale(org.groups[index].version, expected)?;
        org.groups.remove(index);
        Ok(())
    }
}

/// A response, its body parsed (or `Null` when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Asserts the status, naming the body when it differs.
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        self
    }

    /// Asserts a SCIM error with this status and `scimType`.
    pub fn expect_error(self, status: u16, scim_type: Option<&str>) -> Self {
        let reply = self.expect(status);
        assert_eq!(
            reply.body["schemas"],
            serde_json::json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
        );
        assert_eq!(reply.body["status"], Value::String(status.to_string()));
        assert_eq!(reply.body["scimType"].as_str(), scim_type, "{}", reply.body);
        reply
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Drives the router the way an IdP would.
#[derive(Debug, Clone)]
pub struct Client {
    pub backend: Memory,
    app: Router,
    token: Option<String>,
}

impl Client {
    /// A router over a fresh in-memory backend, as org `acme`.
    pub fn new() -> Self {
        Self::with_config(ScimConfig::new("https://sso.example.com"))
    }

    pub fn with_config(config: ScimConfig) -> Self {
        let backend = Memory::default();
        let app = sso_scim::router(backend.clone(), config);
        Self {
            backend,
            app,
            token: Some(TOKEN.into()),
        }
    }

    /// The same router and backend with another token (or none).
    pub fn with_token(&self, token: Option<&str>) -> Self {
        Self {
            token: token.map(str::to_owned),
            ..self.clone()
        }
    }

    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        self.raw(method, uri, bytes, headers).await
    }

    pub async fn raw(
        &self,
        method: Method,
        uri: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if !body.is_empty()
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            request = request.header("content-type", "application/scim+json; charset=utf-8");
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self
            .app
            .clone()
            .oneshot(request.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
        };
        if status != StatusCode::NO_CONTENT && status != StatusCode::NOT_MODIFIED {
            assert_eq!(
                headers.get("content-type").and_then(|v| v.to_str().ok()),
                Some("application/scim+json"),
                "every SCIM answer is application/scim+json"
            );
        }
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.send(Method::GET, uri, None, &[]).await
    }

    pub async fn post(&self, uri: &str, body: Value) -> Reply {
        self.send(Method::POST, uri, Some(body), &[]).await
    }

    pub async fn put(&self, uri: &str, body: Value) -> Reply {
        self.send(Method::PUT, uri, Some(body), &[]).await
    }

    pub async fn patch(&self, uri: &str, body: Value) -> Reply {
        self.send(Method::PATCH, uri, Some(body), &[]).await
    }

    pub async fn delete(&self, uri: &str) -> Reply {
        self.send(Method::DELETE, uri, None, &[]).await
    }
}

/// A PatchOp message around `ops`.
pub fn patch_op(ops: Value) -> Value {
    let mut message = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    });
    message["Operations"] = ops;
    message
}

/// A URL-encoded query value.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
