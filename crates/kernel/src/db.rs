//! The storage handle: one `Db` over SQLite or PostgreSQL, chosen by URL.
//!
//! Queries are run-time `sqlx` queries through the `Any` driver, so one SQL
//! text (with `$1` placeholders, which both engines accept) serves both
//! backends; where dialects differ a store matches on [`Db::backend`] and
//! writes both forms side by side. Times are BIGINT Unix milliseconds and ids
//! UUIDv7 text, so values look the same in either database.
//!
//! SQLite gets one writer connection (writes are serialised in-process, so no
//! transaction ever meets SQLITE_BUSY from a sibling) and several readers in
//! WAL mode; `synchronous=FULL` so an acknowledged write survives a crash.

use crate::error::{AppError, AppResult};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};
use std::time::Duration;

pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Db {
    read: AnyPool,
    write: AnyPool,
    backend: Backend,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .finish()
    }
}

/// One embedded migration: the version orders them, the checksum catches a
/// file edited after it was applied.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

impl Db {
    pub async fn connect(url: &str) -> AppResult<Db> {
        sqlx::any::install_default_drivers();
        if url.starts_with("sqlite:") {
            let url = prepare_sqlite_url(url)?;
            fn pragmas(
                conn: &mut sqlx::AnyConnection,
                _meta: sqlx::pool::PoolConnectionMetadata,
            ) -> futures_core::future::BoxFuture<'_, Result<(), sqlx::Error>> {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
                         PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000; \
                         PRAGMA secure_delete=ON;",
                    )
                    .await?;
                    Ok(())
                })
            }
            let write = AnyPoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .acquire_timeout(Duration::from_secs(30))
                .after_connect(pragmas)
                .connect(&url)
                .await
                .map_err(|e| AppError::internal(format!("open sqlite {url}: {e}")))?;
            let read = AnyPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(30))
                .after_connect(pragmas)
                .connect(&url)
                .await
                .map_err(|e| AppError::internal(format!("open sqlite {url}: {e}")))?;
            Ok(Db {
                read,
                write,
                backend: Backend::Sqlite,
            })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = AnyPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(30))
                .connect(url)
                .await
                .map_err(|e| AppError::internal(format!("connect postgres: {e}")))?;
            Ok(Db {
                read: pool.clone(),
                write: pool,
                backend: Backend::Postgres,
            })
        } else {
            Err(AppError::internal(
                "database url must start with sqlite:// or postgres://",
            ))
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool for reads outside a transaction.
    pub fn reader(&self) -> &AnyPool {
        &self.read
    }

    /// The pool for a single write outside a transaction.
    pub fn writer(&self) -> &AnyPool {
        &self.write
    }

    /// A write transaction (on SQLite, on the single writer connection).
    pub async fn begin(&self) -> AppResult<Tx> {
        Ok(self.write.begin().await?)
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }

    /// Applies the embedded migrations that are not yet applied, each in its
    /// own transaction; refuses to start if an applied one was edited.
    pub async fn migrate(&self, migrations: &[Migration]) -> AppResult<usize> {
        let mut tx = self.begin().await?;
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version BIGINT PRIMARY KEY,
                name TEXT NOT NULL,
                checksum TEXT NOT NULL,
                applied_at BIGINT NOT NULL)",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;

        let applied: Vec<(i64, String)> =
            sqlx::query("SELECT version, checksum FROM schema_migrations ORDER BY version")
                .fetch_all(&self.write)
                .await?
                .iter()
                .map(|r| (r.get::<i64, _>(0), r.get::<String, _>(1)))
                .collect();
        let mut count = 0;
        for m in migrations {
            let sum = checksum(m.sql);
            if let Some((_, s)) = applied.iter().find(|(v, _)| *v == m.version) {
                if *s != sum {
                    return Err(AppError::internal(format!(
                        "migration {} {} was changed after it was applied",
                        m.version, m.name
                    )));
                }
                continue;
            }
            let mut tx = self.begin().await?;
            sqlx::raw_sql(m.sql)
                .execute(&mut *tx)
                .await
                .map_err(|e| AppError::internal(format!("migration {}: {e}", m.name)))?;
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(m.version)
            .bind(m.name)
            .bind(sum)
            .bind(chrono::Utc::now().timestamp_millis())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            count += 1;
        }
        Ok(count)
    }
}

fn checksum(sql: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(sql.as_bytes()))
}

/// Makes sure the file's folder exists and the file is created on first use.
fn prepare_sqlite_url(url: &str) -> AppResult<String> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    if path != ":memory:" && !path.is_empty() {
        if let Some(parent) = std::path::Path::new(path).parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| AppError::internal(format!("create {}: {e}", parent.display())))?;
            }
        }
    }
    let query = match query {
        Some(q) if q.contains("mode=") => q.to_string(),
        Some(q) => format!("{q}&mode=rwc"),
        None => "mode=rwc".to_string(),
    };
    Ok(format!("sqlite://{path}?{query}"))
}

/// Reads an optional text column (NULL → None).
pub fn opt_str(row: &AnyRow, col: &str) -> Option<String> {
    row.try_get::<Option<String>, _>(col).ok().flatten()
}

/// The SQLite file behind a `sqlite://` URL, if any (for backups and tests).
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    if !url.starts_with("sqlite:") {
        return None;
    }
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = rest.split('?').next().unwrap_or("");
    (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_get_create_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b.db");
        let url = format!("sqlite://{}", p.display());
        let u = prepare_sqlite_url(&url).unwrap();
        assert!(u.ends_with("?mode=rwc"));
        assert!(p.parent().unwrap().exists());
        assert_eq!(sqlite_path(&url).unwrap(), p);
    }
}
