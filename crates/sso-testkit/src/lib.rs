//! Test support shared by the workspace's integration tests: run a case on SQLite and on
//! PostgreSQL ([`on_both_backends!`]), and a test identity provider ([`idp`]) that publishes
//! metadata and signs SAML responses with a key generated at run time.
//!
//! Dev-only: never a dependency of a shipped crate.
#![forbid(unsafe_code)]
// Test support: a panic here is a failed test, which is what a broken fixture should be.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    missing_debug_implementations
)]

mod db;
pub mod idp;

pub use crate::db::{PG_URL_VAR, TestDb, on_postgres, on_sqlite};
