//! Copying a SQLite file's write-ahead log into the database, off the request path.
//!
//! By default SQLite checkpoints inside the commit that takes the log past 1000 pages: that
//! commit flushes the log to disk, copies it into the database file and flushes that too, while
//! the pool's one connection (and every login queued behind it) waits. On a virtual disk whose
//! flush takes 10 ms, that was one login in a hundred, which is exactly a p99 (BENCHMARKS.md).
//! Here the pooled connections never checkpoint (`wal_autocheckpoint=0`); a connection of its
//! own, outside the pool, runs a passive checkpoint every [`CHECKPOINT_EVERY`]. A passive
//! checkpoint takes no lock a writer waits for, so commits go on while it flushes.
//!
//! Durability is unchanged in kind: with `synchronous=NORMAL` the log reaches the disk at each
//! checkpoint, now at most [`CHECKPOINT_EVERY`] apart instead of every thousand pages.

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sea_orm::sqlx::{Connection, Row};
use tokio::sync::oneshot;

/// How often the log is checkpointed.
pub(crate) const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// Stops the checkpointer when the last handle of the store it serves is dropped.
#[derive(Debug)]
pub(crate) struct Checkpoints {
    _stop: oneshot::Sender<()>,
}

/// Starts checkpointing the SQLite file `options` opens. The returned handle keeps it running.
pub(crate) fn start(options: SqliteConnectOptions) -> Checkpoints {
    let (stop, mut stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let mut conn: Option<SqliteConnection> = None;
        loop {
            // Err(_) is the interval passing; Ok(_) is the store gone.
            if tokio::time::timeout(CHECKPOINT_EVERY, &mut stopped)
                .await
                .is_ok()
            {
                break;
            }
            let open = match conn.as_mut() {
                Some(open) => open,
                None => match SqliteConnection::connect_with(&options).await {
                    Ok(opened) => conn.insert(opened),
                    Err(e) => {
                        tracing::warn!("SQLite checkpoint connection not opened: {e}");
                        continue;
                    }
                },
            };
            if let Err(e) = checkpoint(open).await {
                tracing::warn!("SQLite checkpoint failed: {e}");
                // Opened again next time, in case this connection is what is broken.
                conn = None;
            }
        }
        if let Some(conn) = conn {
            drop(conn.close().await);
        }
    });
    Checkpoints { _stop: stop }
}

/// One passive checkpoint. A busy answer (another process's checkpoint is running) is not an
/// error: that one does the work.
async fn checkpoint(conn: &mut SqliteConnection) -> Result<(), sea_orm::sqlx::Error> {
    let row = sea_orm::sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(conn)
        .await?;
    let busy: i64 = row.try_get(0)?;
    if busy != 0 {
        tracing::debug!("SQLite checkpoint skipped: another checkpoint is running");
    }
    Ok(())
}
