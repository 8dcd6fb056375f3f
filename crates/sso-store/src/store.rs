//! Connecting, migrating, and transactions.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sea_orm::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, RuntimeErr,
    SqlxPostgresConnector, SqlxSqliteConnector, Statement, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

use crate::checkpoint::{self, Checkpoints};
use crate::error::StoreError;
use crate::migration::Migrator;

/// A SQLite-only table whose sole use is to be written to first in every transaction; see
/// [`Store::begin`].
const SQLITE_LOCK_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS sso_store_write_lock (id INTEGER PRIMARY KEY)";
const SQLITE_TAKE_WRITE_LOCK: &str = "DELETE FROM sso_store_write_lock WHERE 0";
/// Serializes migrations of servers starting at once on one PostgreSQL database. Any constant
/// works as long as nothing else in the database uses it ("sso-store" in ASCII).
const PG_MIGRATION_LOCK: &str = "SELECT pg_advisory_xact_lock(8319682377451041381)";

/// The default number of pooled connections to a SQLite file: one. SQLite runs one writer at a
/// time anyway, and a second connection that wants to write while the first holds the lock
/// waits in SQLite's busy handler, which sleeps and polls (1, 2, 5 ... 100 ms): under load that
/// was most of the latency. One connection queues every statement in the pool's fair order
/// instead, and reads, in-process, take microseconds.
const SQLITE_MAX_CONNECTIONS: u32 = 1;
const POSTGRES_MAX_CONNECTIONS: u32 = 10;

/// The database: a connection pool (`Store`, the default) or one transaction in progress
/// ([`Transaction`], a `Store<DatabaseTransaction>`).
///
/// Every query is a method of `Store<C>` for any sea-orm connection `C`, so the same calls work
/// on the pool (each statement on its own) and inside a transaction (all or nothing):
///
/// ```no_run
/// # async fn f(store: &sso_store::Store, email: &sso_email::Email, now: time::OffsetDateTime)
/// # -> Result<(), sso_store::StoreError> {
/// let tx = store.begin().await?;
/// let user = tx.get_or_create_user(email, now).await?;
/// // ... more statements that must succeed or fail together ...
/// tx.commit().await?;
/// # Ok(()) }
/// ```
///
/// Dropping a transaction without [`commit`](Store::commit) rolls it back.
#[derive(Debug, Clone)]
pub struct Store<C = DatabaseConnection> {
    pub(crate) conn: C,
    /// Keeps a SQLite file's checkpointer running while any handle of the store lives.
    checkpoints: Option<Arc<Checkpoints>>,
}

/// A transaction in progress: every query method of [`Store`], plus
/// [`commit`](Store::commit) and [`rollback`](Store::rollback).
pub type Transaction = Store<DatabaseTransaction>;

/// Connection settings for [`Store::builder`].
#[derive(Debug, Clone)]
pub struct StoreBuilder {
    url: String,
    max_connections: Option<u32>,
    busy_timeout: Duration,
    acquire_timeout: Duration,
    sqlite_sync_every_commit: bool,
}

impl StoreBuilder {
    /// The most connections the pool opens. Default: 1 for a SQLite file, 10 for PostgreSQL;
    /// always 1 for an in-memory SQLite database, which exists only inside its one connection.
    #[must_use]
    pub fn max_connections(mut self, max: u32) -> Self {
        self.max_connections = Some(max.max(1));
        self
    }

    /// How long a SQLite statement waits for another connection's write lock before failing
    /// with "database is locked". Default: 5 s. Not used by PostgreSQL.
    #[must_use]
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Makes a SQLite file flush its write-ahead log to disk at every commit
    /// (`synchronous=FULL`). Default: off (`synchronous=NORMAL`), where the log is flushed at
    /// checkpoints only. The URL's `synchronous=full` or `synchronous=normal` parameter, when
    /// given, decides instead.
    ///
    /// With it off a commit is still atomic and survives the server process crashing or being
    /// killed; what it may not survive is the machine losing power or the operating system
    /// crashing within the moments before the next checkpoint. The transactions lost that way
    /// are the latest ones, all or nothing each: a login whose AuthnRequest consumption and
    /// assertion ID vanish with it could be replayed once more until the assertion expires
    /// (minutes), and members created just then are created again on their next login. Turn it
    /// on where that window matters more than a disk flush per login (see `BENCHMARKS.md`);
    /// PostgreSQL's own settings govern PostgreSQL.
    #[must_use]
    pub fn sqlite_sync_every_commit(mut self, on: bool) -> Self {
        self.sqlite_sync_every_commit = on;
        self
    }

    /// How long a caller waits for a free pooled connection. Default: 30 s.
    #[must_use]
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// Connects and applies pending migrations.
    ///
    /// `sqlite:` URLs (`sqlite://path/to/file.db`, `sqlite::memory:`) create the file if it is
    /// missing and set WAL mode, the busy timeout and foreign keys on every connection; a file's
    /// write-ahead log is checkpointed by a background task every 200 ms, not by the commits.
    /// `postgres://` and `postgresql://` URLs connect to an existing database.
    pub async fn connect(self) -> Result<Store, StoreError> {
        let (conn, checkpoints) = if self.url.starts_with("sqlite:") {
            self.sqlite().await?
        } else if self.url.starts_with("postgres://") || self.url.starts_with("postgresql://") {
            (self.postgres().await?, None)
        } else {
            return Err(StoreError::invalid(
                "database URL",
                "expected a sqlite:, postgres:// or postgresql:// URL",
            ));
        };
        let store = Store {
            conn,
            checkpoints: checkpoints.map(Arc::new),
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn sqlite(&self) -> Result<(DatabaseConnection, Option<Checkpoints>), StoreError> {
        let in_memory = self.url.contains(":memory:") || self.url.contains("mode=memory");
        let (url, synchronous) = take_synchronous(&self.url)?;
        let options = SqliteConnectOptions::from_str(&url)
            .map_err(|e| StoreError::invalid("database URL", e.to_string()))?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(self.busy_timeout)
            .synchronous(if synchronous.unwrap_or(self.sqlite_sync_every_commit) {
                SqliteSynchronous::Full
            } else {
                SqliteSynchronous::Normal
            })
            .journal_mode(if in_memory {
                SqliteJournalMode::Memory
            } else {
                SqliteJournalMode::Wal
            });
        // The pool's connections leave checkpoints to the checkpointer; see `checkpoint`.
        let pooled = if in_memory {
            options.clone()
        } else {
            options.clone().pragma("wal_autocheckpoint", "0")
        };
        let pool_options = || {
            if in_memory {
                // The database lives and dies with its one connection: never close it.
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
            } else {
                SqlitePoolOptions::new()
                    .max_connections(self.max_connections.unwrap_or(SQLITE_MAX_CONNECTIONS))
                    // An in-process file has no connection to lose; see `postgres` below.
                    .test_before_acquire(false)
            }
            .acquire_timeout(self.acquire_timeout)
        };
        // Servers opening a new file at once race to switch it to WAL, and SQLite answers that
        // switch's losers "database is locked" at once, without its busy handler: try again,
        // within the busy timeout.
        let started = std::time::Instant::now();
        let pool = loop {
            match pool_options().connect_with(pooled.clone()).await {
                Ok(pool) => break pool,
                Err(e) if is_busy(&e) && started.elapsed() < self.busy_timeout => {
                    tokio::time::sleep(SQLITE_OPEN_RETRY).await;
                }
                Err(e) => return Err(connect_error(e)),
            }
        };
        let checkpoints = (!in_memory).then(|| checkpoint::start(options));
        Ok((
            SqlxSqliteConnector::from_sqlx_sqlite_pool(pool),
            checkpoints,
        ))
    }

    async fn postgres(&self) -> Result<DatabaseConnection, StoreError> {
        let options = PgConnectOptions::from_str(&self.url)
            .map_err(|e| StoreError::invalid("database URL", e.to_string()))?;
        let pool = PgPoolOptions::new()
            .max_connections(self.max_connections.unwrap_or(POSTGRES_MAX_CONNECTIONS))
            // No ping before every statement: it was an eighth of the server's CPU under load
            // (BENCHMARKS.md). A connection the database dropped while idle fails its next
            // statement instead, and is discarded; idle connections are closed after a minute,
            // before most proxies and firewalls forget them.
            .test_before_acquire(false)
            .idle_timeout(Some(Duration::from_secs(60)))
            .acquire_timeout(self.acquire_timeout)
            .connect_with(options)
            .await
            .map_err(connect_error)?;
        Ok(SqlxPostgresConnector::from_sqlx_postgres_pool(pool))
    }
}

/// Takes our own `synchronous=full|normal` parameter off a SQLite URL (the driver refuses
/// parameters it does not know), so `sqlite://sso.db?synchronous=full` asks for a flush at
/// every commit without a flag of its own.
fn take_synchronous(url: &str) -> Result<(String, Option<bool>), StoreError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), None));
    };
    let mut every_commit = None;
    let mut kept = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("synchronous", value)) => {
                every_commit = Some(match value.to_ascii_lowercase().as_str() {
                    "full" => true,
                    "normal" => false,
                    _ => {
                        return Err(StoreError::invalid(
                            "database URL",
                            "synchronous must be full or normal",
                        ));
                    }
                });
            }
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, every_commit))
}

/// The pause between attempts to open a SQLite file that is busy.
const SQLITE_OPEN_RETRY: Duration = Duration::from_millis(20);

/// SQLite's `SQLITE_BUSY` ("database is locked"), primary code 5, extended codes included.
fn is_busy(error: &sea_orm::sqlx::Error) -> bool {
    match error {
        sea_orm::sqlx::Error::Database(e) => e
            .code()
            .and_then(|code| code.parse::<i32>().ok())
            .is_some_and(|code| code & 0xff == 5),
        _ => false,
    }
}

fn connect_error(error: sea_orm::sqlx::Error) -> StoreError {
    StoreError::from(DbErr::Conn(RuntimeErr::SqlxError(error)))
}

impl Store {
    /// Connects with the default settings and applies pending migrations; see
    /// [`StoreBuilder::connect`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::builder(url).connect().await
    }

    /// Connection settings, starting from the defaults.
    pub fn builder(url: impl Into<String>) -> StoreBuilder {
        StoreBuilder {
            url: url.into(),
            max_connections: None,
            busy_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(30),
            sqlite_sync_every_commit: false,
        }
    }

    /// Applies pending migrations. Idempotent, and safe when several servers start at once:
    /// the migration runs in one transaction holding the database's write lock (SQLite) or an
    /// advisory lock (PostgreSQL). [`connect`](Self::connect) calls it.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        if self.conn.get_database_backend() == DbBackend::Sqlite {
            self.conn.execute_unprepared(SQLITE_LOCK_TABLE).await?;
        }
        let tx = self.begin().await?;
        if tx.conn.get_database_backend() == DbBackend::Postgres {
            tx.conn.execute_unprepared(PG_MIGRATION_LOCK).await?;
        }
        Migrator::up(&tx.conn, None).await?;
        tx.commit().await
    }

    /// Starts a transaction for a unit of work that writes.
    ///
    /// On PostgreSQL this is a `READ COMMITTED` transaction: a statement that waits on another
    /// transaction's uncommitted row (an `INSERT ... ON CONFLICT DO NOTHING` on the same key)
    /// sees that row once the other commits, which is what lets concurrent first logins
    /// converge. On SQLite the transaction takes the database's write lock before anything
    /// else (waiting up to the busy timeout), because a deferred transaction that reads first
    /// and writes later fails at once with "database is locked" when another writer committed
    /// in between.
    ///
    /// While a transaction is open, do the unit's work through it, not through the pool: on
    /// SQLite a write on another connection waits for this transaction's lock (and fails after
    /// the busy timeout), and an in-memory database has only the one connection.
    pub async fn begin(&self) -> Result<Transaction, StoreError> {
        let conn = self.conn.begin().await?;
        if conn.get_database_backend() == DbBackend::Sqlite {
            // As a prepared statement, kept by the connection: parsed once, not at every login.
            let lock = Statement::from_string(DbBackend::Sqlite, SQLITE_TAKE_WRITE_LOCK);
            conn.execute(lock).await?;
        }
        Ok(Store {
            conn,
            checkpoints: self.checkpoints.clone(),
        })
    }

    /// [`begin`](Self::begin) for a unit of work whose first statement writes, such as a login
    /// that starts with [`Transaction::spend_login_values`]. SQLite takes the write lock at
    /// that statement, waiting up to the busy timeout as it would here, so the statement
    /// `begin` runs to take the lock up front is left out: one round trip to SQLite's
    /// connection thread less per login. A unit that reads first must use `begin`, or it may
    /// fail with "database is locked" when another server writes the same file in between.
    pub async fn begin_with_write(&self) -> Result<Transaction, StoreError> {
        Ok(Store {
            conn: self.conn.begin().await?,
            checkpoints: self.checkpoints.clone(),
        })
    }

    /// Whether transactions run side by side (PostgreSQL) rather than one after another
    /// (SQLite, where [`begin`](Self::begin) takes the database's only write lock). Reading
    /// through a transaction opened early saves a pooled connection's checkout, and the ping
    /// sqlx sends when it goes back, but it holds the transaction open longer: worth it only
    /// where that keeps no one else waiting.
    pub fn transactions_run_side_by_side(&self) -> bool {
        self.conn.get_database_backend() == DbBackend::Postgres
    }

    /// Closes every pooled connection.
    pub async fn close(self) -> Result<(), StoreError> {
        Ok(self.conn.close().await?)
    }
}

impl Transaction {
    /// Makes every change of the transaction durable.
    pub async fn commit(self) -> Result<(), StoreError> {
        Ok(self.conn.commit().await?)
    }

    /// Discards every change of the transaction.
    pub async fn rollback(self) -> Result<(), StoreError> {
        Ok(self.conn.rollback().await?)
    }
}

#[cfg(feature = "testing")]
impl<C: ConnectionTrait> Store<C> {
    /// The sea-orm connection (pool or transaction), for tests that query the tables directly.
    pub fn connection(&self) -> &C {
        &self.conn
    }

    /// Which database this is.
    pub fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synchronous_parameter_is_ours_and_taken_off_the_url() {
        assert_eq!(
            take_synchronous("sqlite://a.db").unwrap(),
            ("sqlite://a.db".to_owned(), None)
        );
        assert_eq!(
            take_synchronous("sqlite://a.db?synchronous=FULL").unwrap(),
            ("sqlite://a.db".to_owned(), Some(true))
        );
        assert_eq!(
            take_synchronous("sqlite://a.db?mode=rwc&synchronous=normal&cache=shared").unwrap(),
            (
                "sqlite://a.db?mode=rwc&cache=shared".to_owned(),
                Some(false)
            )
        );
        assert!(take_synchronous("sqlite://a.db?synchronous=off").is_err());
    }

    async fn synchronous_of(url: &str) -> i64 {
        use sea_orm::{ConnectionTrait, Statement};
        let store = Store::connect(url).await.unwrap();
        let row = store
            .conn
            .query_one(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA synchronous",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    }

    #[tokio::test]
    async fn sqlite_flushes_at_checkpoints_unless_asked_for_every_commit() {
        let dir = std::env::temp_dir().join(format!("sso-store-sync-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let base = format!("sqlite://{}", dir.join("sync.db").display());
        // SQLite's values: 1 is NORMAL, 2 is FULL.
        assert_eq!(synchronous_of(&base).await, 1);
        assert_eq!(synchronous_of(&format!("{base}?synchronous=full")).await, 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Commits never checkpoint on the pool's connection, and the checkpointer copies them into
    /// the database file soon after: a connection that ignores the log (`immutable`) sees them.
    #[tokio::test]
    async fn sqlite_log_is_checkpointed_off_the_pool() {
        use sea_orm::sqlx::sqlite::SqliteConnectOptions;
        use sea_orm::sqlx::{Connection, Row, SqliteConnection};
        use sea_orm::{ConnectionTrait, Statement};

        let dir = std::env::temp_dir().join(format!("sso-store-ckpt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ckpt.db");
        let store = Store::connect(&format!("sqlite://{}", file.display()))
            .await
            .unwrap();
        let auto = store
            .conn
            .query_one(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA wal_autocheckpoint",
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(auto.try_get_by_index::<i64>(0).unwrap(), 0);
        store
            .conn
            .execute_unprepared("CREATE TABLE ckpt (x INTEGER); INSERT INTO ckpt VALUES (42)")
            .await
            .unwrap();

        let main_file_only = SqliteConnectOptions::new()
            .filename(&file)
            .immutable(true)
            .read_only(true);
        let mut seen = None;
        for _ in 0..50 {
            tokio::time::sleep(checkpoint::CHECKPOINT_EVERY / 2).await;
            let mut conn = SqliteConnection::connect_with(&main_file_only)
                .await
                .unwrap();
            let found = sea_orm::sqlx::query("SELECT x FROM ckpt")
                .fetch_optional(&mut conn)
                .await;
            conn.close().await.unwrap();
            if let Ok(Some(row)) = found {
                seen = Some(row.try_get::<i64, _>(0).unwrap());
                break;
            }
        }
        assert_eq!(seen, Some(42), "the write never reached the database file");
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
