//! A fresh PostgreSQL database per run, and the CPU time of the backends serving it.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};

use crate::server::cpu_ticks;

/// A database created for one run, dropped by [`drop_database`](Self::drop_database).
#[derive(Debug)]
pub struct FreshDatabase {
    admin: DatabaseConnection,
    name: String,
    /// The URL the servers connect to.
    pub url: String,
}

/// `url` with its database name replaced by `name`, query kept.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, ""), |(b, q)| (b, q));
    let authority = base.find("://").map_or(0, |i| i + 3);
    let root = base
        .get(authority..)
        .and_then(|rest| rest.find('/'))
        .and_then(|slash| base.get(..authority + slash))
        .unwrap_or(base);
    if query.is_empty() {
        format!("{root}/{name}")
    } else {
        format!("{root}/{name}?{query}")
    }
}

impl FreshDatabase {
    /// Creates `sso_load_<label>_<pid>_<nanos>` on the server of `admin_url`.
    pub async fn create(admin_url: &str, label: &str) -> Result<FreshDatabase, String> {
        let admin = Database::connect(admin_url)
            .await
            .map_err(|e| format!("PostgreSQL {admin_url}: {e}"))?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let label: String = label
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let name = format!("sso_load_{label}_{}_{nanos}", std::process::id());
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .map_err(|e| format!("CREATE DATABASE {name}: {e}"))?;
        Ok(FreshDatabase {
            url: with_database(admin_url, &name),
            admin,
            name,
        })
    }

    /// Process ids of the PostgreSQL backends connected to this database.
    async fn backend_pids(&self) -> Result<Vec<u32>, String> {
        let rows = self
            .admin
            .query_all(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pid FROM pg_stat_activity WHERE datname = $1",
                [self.name.clone().into()],
            ))
            .await
            .map_err(|e| format!("pg_stat_activity: {e}"))?;
        rows.iter()
            .map(|row| {
                row.try_get::<i32>("", "pid")
                    .map_err(|e| format!("pg_stat_activity pid: {e}"))
                    .and_then(|pid| u32::try_from(pid).map_err(|e| e.to_string()))
            })
            .collect()
    }

    /// CPU ticks of each backend serving this database now. A backend that ends between
    /// the listing and the read is left out.
    pub async fn backend_ticks(&self) -> Result<HashMap<u32, u64>, String> {
        Ok(self
            .backend_pids()
            .await?
            .into_iter()
            .filter_map(|pid| cpu_ticks(pid).ok().map(|t| (pid, t)))
            .collect())
    }

    /// Drops the database, closing any connection still open to it.
    pub async fn drop_database(self) -> Result<(), String> {
        let result = self
            .admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await
            .map(|_| ())
            .map_err(|e| format!("DROP DATABASE {}: {e}", self.name));
        let _ = self.admin.close().await;
        result
    }
}

/// CPU ticks the backends spent between two snapshots: a backend new in `after` counts from
/// zero; one gone from `after` is lost (the pool keeps its connections during a run).
pub fn ticks_between(before: &HashMap<u32, u64>, after: &HashMap<u32, u64>) -> u64 {
    after
        .iter()
        .map(|(pid, t)| t.saturating_sub(before.get(pid).copied().unwrap_or(0)))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_is_replaced_and_the_query_kept() {
        assert_eq!(
            with_database(
                "postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
                "x"
            ),
            "postgres://postgres@127.0.0.1:5432/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://u:p@h/test", "x"),
            "postgres://u:p@h/x"
        );
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    }

    #[test]
    fn backend_ticks_count_new_backends_from_zero() {
        let before = HashMap::from([(1, 10), (2, 5)]);
        let after = HashMap::from([(1, 15), (3, 7)]);
        assert_eq!(ticks_between(&before, &after), 12);
    }
}
