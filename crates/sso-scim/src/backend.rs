//! The storage contract: what the protocol layer asks of whoever keeps the resources.
//!
//! The protocol layer (this crate) owns everything SCIM-shaped: parsing, filters, PATCH,
//! rendering, ETags. A backend owns identity and durability: it authenticates the bearer
//! token for an org, stores each resource's document with its indexed fields, bumps the
//! version on every write and refuses a write whose expected version is stale. Several
//! servers may share one backend, so every read-modify-write goes through `expected`.

use std::future::Future;

use serde_json::Value;
use time::OffsetDateTime;

/// Who is calling: the org the token belongs to, and the audit actor for its changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// The org, as it appears in the URL path (`/scim/v2/<org>/...`).
    pub org: String,
    /// The actor recorded for changes, for example `scim-token:<id>`.
    pub actor: String,
}

/// A user as the protocol layer asks to store it.
#[derive(Debug, Clone, PartialEq)]
pub struct UserWrite {
    /// `userName`, unique per org ignoring ASCII case.
    pub user_name: String,
    /// `externalId`, the IdP's own id.
    pub external_id: Option<String>,
    /// `displayName`, or `name.formatted`, or given and family name joined.
    pub display_name: Option<String>,
    /// The address the person signs in with: the primary email, else the `work` one, else the
    /// first, else `userName` when it contains `@`. The backend decides whether it may be used.
    pub email: Option<String>,
    /// `active` (absent means true).
    pub active: bool,
    /// The whole resource as received and patched, minus `id`, `meta` and `schemas`; read back
    /// verbatim so that attributes the backend does not index survive a round trip.
    pub document: Value,
}

/// A stored user.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredUser {
    /// The resource id the backend assigned (opaque, URL-safe).
    pub id: String,
    /// What was last written.
    pub user: UserWrite,
    /// Increases on every write; the ETag is `W/"<version>"`.
    pub version: u64,
    /// When it was created.
    pub created: OffsetDateTime,
    /// When it was last written.
    pub modified: OffsetDateTime,
}

/// A group as the protocol layer asks to store it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupWrite {
    /// `displayName`, unique per org ignoring ASCII case.
    pub display_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// The member user ids, without duplicates. Every one must be a user of the same org.
    pub members: Vec<String>,
    /// The resource minus `id`, `meta`, `schemas` and `members`.
    pub document: Value,
}

/// One member of a stored group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    /// The member user's id.
    pub value: String,
    /// The member user's `userName`.
    pub display: String,
}

/// A stored group.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredGroup {
    /// The resource id.
    pub id: String,
    /// `displayName`.
    pub display_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// Its members, in the order they were added.
    pub members: Vec<GroupMember>,
    /// The document as written (no `members`).
    pub document: Value,
    /// Increases on every write (a membership change included).
    pub version: u64,
    /// When it was created.
    pub created: OffsetDateTime,
    /// When it was last written.
    pub modified: OffsetDateTime,
}

/// The one indexed condition a listing may be narrowed by; the protocol layer evaluates the
/// full filter on what comes back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Every resource of the org.
    All,
    /// `id eq`.
    Id(String),
    /// `userName eq` (users) or `displayName eq` (groups), ignoring ASCII case.
    Name(String),
    /// `externalId eq`, exact.
    ExternalId(String),
}

/// Why the backend refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendError {
    /// No token, an unknown, expired or revoked one, or one for another org: 401.
    Unauthorized,
    /// No such resource in this org: 404.
    NotFound,
    /// The name (`userName`, `displayName`) is taken in this org: 409 `uniqueness`.
    Uniqueness,
    /// `expected` did not match the stored version: 412.
    VersionMismatch,
    /// A value the backend will not store (an email outside the org's verified domains, a
    /// member id that is not a user of the org): 400 `invalidValue`, with the detail and a
    /// stable reason code.
    InvalidValue {
        /// Stable reason code, for example `scim-email-domain-unverified`.
        reason: &'static str,
        /// Words for the admin reading the IdP's provisioning log.
        detail: String,
    },
    /// The org may not use this (for example its plan): 403.
    Forbidden {
        /// Stable reason code.
        reason: &'static str,
        /// Words for the admin.
        detail: String,
    },
    /// A listing would return more than the limit asked for: 400 `tooMany`.
    TooMany,
    /// Something broke on our side: 500, logged, no detail to the caller.
    Internal(String),
}

/// Storage for one service provider; cloned into every request.
///
/// `find_*` return at most `limit` resources in creation order; when more match they return
/// [`BackendError::TooMany`]. `replace_*` with `expected: Some(v)` must fail with
/// [`BackendError::VersionMismatch`] unless the stored version is `v`, atomically with the
/// write.
pub trait Backend: Clone + Send + Sync + 'static {
    /// Checks the bearer token (without `Bearer `) for `org`.
    fn authenticate(
        &self,
        org: &str,
        token: &str,
    ) -> impl Future<Output = Result<Tenant, BackendError>> + Send;
    /// Creates a user.
    fn create_user(
        &self,
        tenant: &Tenant,
        user: UserWrite,
    ) -> impl Future<Output = Result<StoredUser, BackendError>> + Send;
    /// Reads a user.
    fn get_user(
        &self,
        tenant: &Tenant,
        id: &str,
    ) -> impl Future<Output = Result<StoredUser, BackendError>> + Send;
    /// Lists users matching `lookup`.
    fn find_users(
        &self,
        tenant: &Tenant,
        lookup: &Lookup,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StoredUser>, BackendError>> + Send;
    /// Replaces a user.
    fn replace_user(
        &self,
        tenant: &Tenant,
        id: &str,
        user: UserWrite,
        expected: Option<u64>,
    ) -> impl Future<Output = Result<StoredUser, BackendError>> + Send;
    /// Deletes a user (and its group memberships).
    fn delete_user(
        &self,
        tenant: &Tenant,
        id: &str,
        expected: Option<u64>,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;
    /// Creates a group.
    fn create_group(
        &self,
        tenant: &Tenant,
        group: GroupWrite,
    ) -> impl Future<Output = Result<StoredGroup, BackendError>> + Send;
    /// Reads a group.
    fn get_group(
        &self,
        tenant: &Tenant,
        id: &str,
    ) -> impl Future<Output = Result<StoredGroup, BackendError>> + Send;
    /// Lists groups matching `lookup`.
    fn find_groups(
        &self,
        tenant: &Tenant,
        lookup: &Lookup,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StoredGroup>, BackendError>> + Send;
    /// Replaces a group, its member list included.
    fn replace_group(
        &self,
        tenant: &Tenant,
        id: &str,
        group: GroupWrite,
        expected: Option<u64>,
    ) -> impl Future<Output = Result<StoredGroup, BackendError>> + Send;
    /// Deletes a group.
    fn delete_group(
        &self,
        tenant: &Tenant,
        id: &str,
        expected: Option<u64>,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;
}
