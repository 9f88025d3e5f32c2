//! Direct writes ([`crate::Db::direct`]): on a SQLite file, a transaction
//! run on a plain connection of the writer's own, on one blocking-pool
//! thread, start to commit.
//!
//! The group-committed writer ([`crate::db`]) runs each statement through
//! sqlx: a hand-off to the connection's thread and back per statement,
//! `$n` names looked up at every bind, and each member a SAVEPOINT whose
//! pages SQLite copies to a temporary sub-journal file. Profiles of the
//! filing path under load showed the writer busy with that rather than
//! with the rows. A direct transaction takes the writer in its turn (the
//! same lock every [`crate::Tx`] queues on, after committing any batch still
//! open), so there is never a second writer to meet SQLITE_BUSY from, and
//! runs its statements from cached prepared statements, bound by position.

use crate::auth_epoch::{AuthEpoch, EPOCH_SQL};
use crate::db::{Val, Writes};
use crate::error::{AppError, AppResult};
use crate::rows::Rows;
use std::path::PathBuf;
use std::sync::Mutex;

/// Why a direct transaction did not commit.
#[derive(Debug)]
pub enum DirectError {
    /// The job failed (a statement, or the job's own check): rolled back.
    Job(AppError),
    /// Opening the connection, BEGIN or COMMIT failed: not the job's doing.
    Transaction(AppError),
}

impl From<DirectError> for AppError {
    fn from(e: DirectError) -> AppError {
        match e {
            DirectError::Job(e) | DirectError::Transaction(e) => e,
        }
    }
}

/// The open transaction a direct job runs in.
pub struct DirectTx<'a> {
    conn: &'a rusqlite::Connection,
}

impl DirectTx<'_> {
    /// Runs the statements of `w`, in order.
    pub fn run(&self, w: &Writes) -> AppResult<()> {
        for (sql, vals) in w.statements() {
            // The statement counter (tests, bench) listens for sqlx's events.
            tracing::debug!(target: "sqlx::query", summary = "direct write", db.statement = %sql);
            let mut stmt = self.conn.prepare_cached(sql).map_err(|e| failed(e, sql))?;
            crate::rows::bind(&mut stmt, sql, vals).map_err(|e| failed(e, sql))?;
            stmt.raw_execute().map_err(|e| failed(e, sql))?;
        }
        Ok(())
    }

    /// One read inside the transaction (it sees the transaction's writes).
    pub fn rows(&self, sql: &str, args: &[Val]) -> AppResult<Rows> {
        tracing::debug!(target: "sqlx::query", summary = "direct read", db.statement = %sql);
        crate::rows::run(self.conn, sql, args).map_err(|e| failed(e, sql))
    }
}

fn failed(e: rusqlite::Error, sql: &str) -> AppError {
    AppError::internal(format!("{e}: {sql}"))
}

/// The writer's plain connection, opened on first use.
pub(crate) struct DirectConn {
    path: PathBuf,
    conn: Mutex<Option<rusqlite::Connection>>,
}

/// Prepared statements kept: a filing batch's texts (the rollup upserts
/// come in a few sizes per table) and whatever else writes directly.
const STATEMENT_CACHE: usize = 256;

impl DirectConn {
    pub(crate) fn new(path: PathBuf) -> DirectConn {
        DirectConn {
            path,
            conn: Mutex::new(None),
        }
    }

    fn open(&self) -> Result<rusqlite::Connection, AppError> {
        use rusqlite::OpenFlags;
        let c = rusqlite::Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(|e| AppError::internal(format!("open {}: {e}", self.path.display())))?;
        c.execute_batch(crate::db::WRITER_PRAGMAS)
            .map_err(|e| AppError::internal(format!("set up {}: {e}", self.path.display())))?;
        c.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        crate::rows::without_stat4(&c);
        Ok(c)
    }

    /// Runs `job` in one IMMEDIATE transaction and commits it (blocking: call
    /// it on the blocking pool, holding the writer). The authentication
    /// epoch is read before the COMMIT and observed after it, as the group's
    /// batches do.
    pub(crate) fn transact<T>(
        &self,
        auth: &AuthEpoch,
        job: impl FnOnce(&DirectTx<'_>) -> AppResult<T>,
    ) -> Result<T, DirectError> {
        let mut slot = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(self.open().map_err(DirectError::Transaction)?);
        }
        let conn = slot.as_mut().expect("opened above");
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| DirectError::Transaction(AppError::internal(format!("BEGIN: {e}"))))?;
        // Dropping `tx` on any early return rolls it back.
        let out = job(&DirectTx { conn: &tx }).map_err(DirectError::Job)?;
        let epoch = {
            use crate::rows::Columns;
            DirectTx { conn: &tx }
                .rows(EPOCH_SQL, &[])
                .map(|r| r.first().map(|r| r.int("v")))
        };
        match tx.commit() {
            Ok(()) => {
                auth.observe_read(epoch.map_err(|e| sqlx::Error::Protocol(e.to_string())));
                Ok(out)
            }
            Err(e) => {
                // A failed COMMIT may have committed all the same.
                auth.invalidate();
                Err(DirectError::Transaction(AppError::internal(format!(
                    "COMMIT: {e}"
                ))))
            }
        }
    }

    /// Closes the connection (it is opened again on next use).
    pub(crate) fn close(&self) {
        self.conn.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}
