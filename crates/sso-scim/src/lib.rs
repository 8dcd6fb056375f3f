//! A SCIM 2.0 service provider (RFC 7643, RFC 7644) over a storage trait.
//!
//! [`router`] serves, under `/scim/v2/{org}`, `Users` and `Groups` (list with filters and
//! paging, `.search`, create, read, replace, PATCH, delete) and discovery
//! (`ServiceProviderConfig`, `ResourceTypes`, `Schemas`). Everything SCIM-shaped happens here:
//! bearer-token extraction, filters, the PATCH dialects Okta and Entra ID send, rendering,
//! ETags and RFC 7644 §3.12 errors. Identity and durability belong to a [`Backend`], which
//! authenticates the token for the org, stores documents with their indexed fields and bumps
//! a version on every write.
//!
//! ```
//! use sso_scim::{
//!     Backend, BackendError, GroupWrite, Lookup, ScimConfig, StoredGroup, StoredUser, Tenant,
//!     UserWrite,
//! };
//! use tower::ServiceExt;
//!
//! /// A backend with one token and no resources yet.
//! #[derive(Clone)]
//! struct Empty;
//!
//! impl Backend for Empty {
//!     async fn authenticate(&self, org: &str, token: &str) -> Result<Tenant, BackendError> {
//!         match token {
//!             "s3cret" => Ok(Tenant { org: org.into(), actor: "scim-token:1".into() }),
//!             _ => Err(BackendError::Unauthorized),
//!         }
//!     }
//!     async fn find_users(&self, _: &Tenant, _: &Lookup, _: usize)
//!         -> Result<Vec<StoredUser>, BackendError> { Ok(Vec::new()) }
//!     // ...and the other nine methods: create, get, replace and delete for each kind.
//!     # async fn create_user(&self, _: &Tenant, _: UserWrite) -> Result<StoredUser, BackendError> { Err(BackendError::Forbidden { reason: "read-only", detail: String::new() }) }
//!     # async fn get_user(&self, _: &Tenant, _: &str) -> Result<StoredUser, BackendError> { Err(BackendError::NotFound) }
//!     # async fn replace_user(&self, _: &Tenant, _: &str, _: UserWrite, _: Option<u64>) -> Result<StoredUser, BackendError> { Err(BackendError::NotFound) }
//!     # async fn delete_user(&self, _: &Tenant, _: &str, _: Option<u64>) -> Result<(), BackendError> { Err(BackendError::NotFound) }
//!     # async fn create_group(&self, _: &Tenant, _: GroupWrite) -> Result<StoredGroup, BackendError> { Err(BackendError::Forbidden { reason: "read-only", detail: String::new() }) }
//!     # async fn get_group(&self, _: &Tenant, _: &str) -> Result<StoredGroup, BackendError> { Err(BackendError::NotFound) }
//!     # async fn find_groups(&self, _: &Tenant, _: &Lookup, _: usize) -> Result<Vec<StoredGroup>, BackendError> { Ok(Vec::new()) }
//!     # async fn replace_group(&self, _: &Tenant, _: &str, _: GroupWrite, _: Option<u64>) -> Result<StoredGroup, BackendError> { Err(BackendError::NotFound) }
//!     # async fn delete_group(&self, _: &Tenant, _: &str, _: Option<u64>) -> Result<(), BackendError> { Err(BackendError::NotFound) }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let app = sso_scim::router(Empty, ScimConfig::new("https://sso.example.com"));
//! let request = axum::http::Request::get(
//!     "/scim/v2/acme/Users?filter=userName%20eq%20%22ada%40example.com%22",
//! )
//! .header("authorization", "Bearer s3cret")
//! .body(axum::body::Body::empty())
//! .unwrap();
//! let response = app.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.headers()["content-type"], "application/scim+json");
//! # }
//! ```
//!
//! The router sets no fallback, so it merges into a larger axum app.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod backend;
mod discovery;
mod error;
mod extract;
mod filter;
mod group;
mod json;
mod list;
mod patch;
mod project;
mod resource;
mod routes;
mod user;

pub use backend::{
    Backend, BackendError, GroupMember, GroupWrite, Lookup, StoredGroup, StoredUser, Tenant,
    UserWrite,
};

/// How the service provider presents itself and how much it does per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimConfig {
    /// The public base URL, without a trailing slash (`https://sso.example.com`); resource
    /// `location`s are `<base_url>/scim/v2/<org>/Users/<id>`.
    pub base_url: String,
    /// The largest page a listing returns (and `filter.maxResults` in the config).
    pub max_results: usize,
    /// The `limit` passed to `find_users` / `find_groups`: how many resources one listing
    /// evaluates its filter on before answering `tooMany`.
    pub max_candidates: usize,
    /// The largest request body, in bytes; larger ones get 413.
    pub max_body_bytes: usize,
}

impl ScimConfig {
    /// The defaults: pages of 200, 10 000 candidates, 1 MiB bodies.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            max_results: 200,
            max_candidates: 10_000,
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// The SCIM routes under `/scim/v2/{org}`, every one behind `Authorization: Bearer`.
pub fn router<B: Backend>(backend: B, config: ScimConfig) -> axum::Router {
    routes::router(backend, config)
}
