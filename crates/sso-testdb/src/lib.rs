//! Runs each test case twice: on a temporary SQLite file and on a fresh PostgreSQL database,
//! handing the case the database's URL.
//!
//! PostgreSQL comes from `SSO_TEST_DATABASE_URL` (CI sets it). Each case gets its own database,
//! created from that URL and dropped afterwards (also when the case panics), so cases run in
//! parallel. With the variable set, an unreachable server fails the test; without it, the
//! PostgreSQL half writes a line to stderr saying it did not run, past the test harness's
//! output capture, so a skip is never silent.
//!
//! It knows nothing of the store, so the store's own tests use it without a dependency cycle;
//! `sso-testkit` builds on it to hand out connected stores. A case takes a [`TestDb`] or any
//! type made `From` one.
//!
//! ```
//! use sso_testdb::{TestDb, on_sqlite};
//!
//! # #[tokio::main]
//! # async fn main() {
//! on_sqlite("doc", "example", |db: TestDb| async move {
//!     assert!(db.url.starts_with("sqlite://"));
//!     assert_eq!(db.backend, sso_testdb::DbBackend::Sqlite);
//! })
//! .await;
//! # }
//! ```
//!
//! In an integration test, `on_both_backends!(case_a, case_b)` declares `case_a::sqlite`,
//! `case_a::postgres` and so on for each `async fn case_a(db: TestDb)`.
#![forbid(unsafe_code)]
// Test support: a panic here is a failed test, which is what a broken fixture should be.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sea_orm::{ConnectOptions, ConnectionTrait, Database};

/// Which backend a [`TestDb`] is on (sea-orm's own enum, so tests can build statements for it).
pub use sea_orm::DbBackend;

/// The variable naming the PostgreSQL server the tests use.
pub const PG_URL_VAR: &str = "SSO_TEST_DATABASE_URL";

/// One test database, fresh and empty.
#[derive(Debug, Clone)]
pub struct TestDb {
    /// Where it is: `sqlite://...?mode=rwc` or `postgres://.../<unique name>`.
    pub url: String,
    /// Which of the two backends.
    pub backend: DbBackend,
}

/// A name no other test, process or earlier run uses.
fn unique_name(label: &str, test: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let label: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{label}_{test}_{}_{n}_{nanos}", std::process::id())
}

/// Writes to the real stderr, which libtest does not capture.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn report_time(label: &str, test: &str, backend: &str, started: Instant) {
    if std::env::var_os("SSO_TEST_TIMINGS").is_some() {
        say(&format!(
            "{label} timing: {test} on {backend}: {:.3} s",
            started.elapsed().as_secs_f64()
        ));
    }
}

/// Runs `case` in its own task, so a panic comes back here and cleanup still runs.
async fn run_case<T, F, Fut>(db: TestDb, case: F) -> Result<(), tokio::task::JoinError>
where
    T: From<TestDb>,
    F: FnOnce(T) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(case(T::from(db))).await
}

fn rethrow(result: Result<(), tokio::task::JoinError>) {
    if let Err(error) = result {
        match error.try_into_panic() {
            Ok(payload) => std::panic::resume_unwind(payload),
            Err(error) => panic!("test task failed: {error}"),
        }
    }
}

/// Runs `case` on a fresh SQLite file, removed afterwards. `label` names the calling crate.
pub async fn on_sqlite<T, F, Fut>(label: &str, test: &str, case: F)
where
    T: From<TestDb>,
    F: FnOnce(T) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let started = Instant::now();
    let path: PathBuf = std::env::temp_dir().join(format!("{}.sqlite", unique_name(label, test)));
    let db = TestDb {
        url: format!("sqlite://{}?mode=rwc", path.display()),
        backend: DbBackend::Sqlite,
    };
    let result = run_case(db, case).await;
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.clone().into_os_string();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
    rethrow(result);
    report_time(label, test, "sqlite", started);
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let root = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    format!("{root}/{name}{query}")
}

/// Runs `case` on a fresh PostgreSQL database created from `SSO_TEST_DATABASE_URL` and dropped
/// afterwards; says so on stderr when the variable is unset.
pub async fn on_postgres<T, F, Fut>(label: &str, test: &str, case: F)
where
    T: From<TestDb>,
    F: FnOnce(T) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Ok(admin_url) = std::env::var(PG_URL_VAR) else {
        say(&format!(
            "{label}: PostgreSQL half of `{test}` NOT RUN: {PG_URL_VAR} is not set"
        ));
        return;
    };
    let started = Instant::now();
    // Fail within seconds, not after the pool's default 30 s, when the server is down.
    let mut options = ConnectOptions::new(admin_url.as_str());
    options
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    let admin = Database::connect(options).await.unwrap_or_else(|e| {
        panic!("{PG_URL_VAR} is set but PostgreSQL at {admin_url} is unreachable: {e}")
    });
    let name = unique_name(label, test);
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap_or_else(|e| panic!("create database {name}: {e}"));
    let db = TestDb {
        url: with_database(&admin_url, &name),
        backend: DbBackend::Postgres,
    };
    let result = run_case(db, case).await;
    // FORCE ends the case's pooled connections, which may still be open.
    let dropped = admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await;
    let _ = admin.close().await;
    rethrow(result);
    if let Err(e) = dropped {
        panic!("drop database {name}: {e}");
    }
    report_time(label, test, "postgres", started);
}

/// Declares `<case>::sqlite` and `<case>::postgres` tests for each `async fn case(db: T)`,
/// where `T` is [`TestDb`] or made `From` it (as `sso_testkit::TestDb` is).
#[macro_export]
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::on_sqlite(env!("CARGO_PKG_NAME"), stringify!($case), super::$case).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::on_postgres(env!("CARGO_PKG_NAME"), stringify!($case), super::$case).await;
            }
        }
    )*};
}

#[cfg(test)]
#[test]
fn database_names_are_replaced_in_urls() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/test?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h:1", "x"), "postgres://h:1/x");
}
