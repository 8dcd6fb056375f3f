//! Test support above the store, for the integration tests of the crates that use a `Store`:
//! run a case on SQLite and on PostgreSQL with a [`TestDb`] that connects a store
//! ([`on_both_backends!`], from `sso-testdb`), the test IdP of [`idp`] at fixed URLs, and
//! a real DNS server on loopback in [`dns`] for domain claims.
//!
//! ```
//! use sso_testkit::{TestDb, on_sqlite};
//!
//! # #[tokio::main]
//! # async fn main() {
//! on_sqlite("doc", "example", |db: TestDb| async move {
//!     let store = db.connect().await; // migrated, empty
//!     assert!(store.org(sso_store::OrgId::new(1)).await.is_err());
//! })
//! .await;
//! # }
//! ```
//!
//! Dev-only: never a dependency of a shipped crate. The store's own tests use `sso-testdb`
//! directly, since this crate depends on the store.
#![forbid(unsafe_code)]
// Test support: a panic here is a failed test, which is what a broken fixture should be.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

pub mod dns;
pub mod idp;

use std::future::Future;

use sso_store::Store;

pub use sso_testdb::{DbBackend, PG_URL_VAR, on_both_backends};

/// A fresh test database that connects a store.
#[derive(Debug, Clone)]
pub struct TestDb {
    /// Where it is: `sqlite://...?mode=rwc` or `postgres://.../<unique name>`.
    pub url: String,
    /// Which of the two backends.
    pub backend: DbBackend,
}

impl TestDb {
    /// A new store on this database (migrating it if needed).
    pub async fn connect(&self) -> Store {
        Store::connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.url))
    }
}

impl From<sso_testdb::TestDb> for TestDb {
    fn from(db: sso_testdb::TestDb) -> Self {
        TestDb {
            url: db.url,
            backend: db.backend,
        }
    }
}

/// [`sso_testdb::on_sqlite`] with a [`TestDb`].
pub async fn on_sqlite<F, Fut>(label: &str, test: &str, case: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    sso_testdb::on_sqlite(label, test, case).await;
}

/// [`sso_testdb::on_postgres`] with a [`TestDb`].
pub async fn on_postgres<F, Fut>(label: &str, test: &str, case: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    sso_testdb::on_postgres(label, test, case).await;
}
