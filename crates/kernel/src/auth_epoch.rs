//! The authentication epoch as this process knows it.
//!
//! Migration 0083 keeps a one-row table `auth_epoch` whose `v` database
//! triggers move whenever a row authentication reads changes (a session
//! revoked or deleted, a user deactivated, renamed or given a new password
//! or second factor, a grant given or revoked, a resident added, moved or
//! removed): the triggers, not the code that writes, so no write site can be
//! forgotten. Migration 0085 adds the reference data that filings keep in
//! memory (categories and their limits, org nodes: `cases::reference`,
//! through [`crate::epoch_map`]). A cache of authentication results
//! (`accounts::cache`) tags each entry with [`AuthEpoch::generation`] as it
//! was *before* the entry's database read, and serves the entry only while
//! the generation is unchanged. The generation moves whenever this process learns of a new
//! epoch, or cannot tell:
//!
//! - every commit of this process reads the epoch: on SQLite inside the
//!   group-commit batch, just before its COMMIT (the batch holds the file's
//!   write lock, so that is the value the COMMIT publishes), on PostgreSQL
//!   right after the transaction's COMMIT; the writes through
//!   [`crate::Db::writer`] right after each statement. The generation has
//!   moved before `commit` (or the statement) returns to its caller, so any
//!   request that starts afterwards misses the cache;
//! - a reader polls it about once a second for the writes of other
//!   processes (`accounts::cache`);
//! - a failed read, a failed commit (it may have committed all the same) or
//!   a statement whose end was not seen moves it unconditionally.

use crate::db::Val;
use futures_core::future::BoxFuture;
use futures_core::stream::BoxStream;
use futures_core::Stream;
use sqlx::any::{AnyQueryResult, AnyRow, AnyStatement, AnyTypeInfo};
use sqlx::{Any, AnyPool, Describe, Either, Execute, Executor};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// Reads the current epoch (one row; none before migration 0083).
pub const EPOCH_SQL: &str = "SELECT v FROM auth_epoch WHERE id = 1";

/// What this process knows of the epoch; shared by every clone of a `Db`.
#[derive(Debug, Default)]
pub struct AuthEpoch {
    /// The last epoch seen; changed only under the lock, with the
    /// generation, so that whoever finds it already current knows the
    /// generation has moved for it.
    known: Mutex<Option<i64>>,
    generation: AtomicU64,
}

impl AuthEpoch {
    /// The generation: read it before a database read whose result is to be
    /// cached, and compare it with the entry's when serving one.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The last epoch seen, if any.
    pub fn known(&self) -> Option<i64> {
        *self.known.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An epoch read from the database (committed, or about to be by the
    /// caller's own COMMIT): any change moves the generation — a new value,
    /// and also an older one (a restored database; a poll that read just
    /// before a commit costs at most a needless refill).
    pub fn observe(&self, epoch: i64) {
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if *known != Some(epoch) {
            *known = Some(epoch);
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Something may have changed that no epoch read told: forget every
    /// cached result.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The outcome of an epoch read: observed, or (failed, no row)
    /// everything invalidated.
    pub fn observe_read(&self, read: Result<Option<i64>, sqlx::Error>) {
        match read {
            Ok(Some(v)) => self.observe(v),
            Ok(None) | Err(_) => self.invalidate(),
        }
    }

    /// Reads the epoch through `db`'s reads (the poll of other processes'
    /// writes) and observes it. Returns whether the read succeeded.
    pub async fn poll(&self, db: &crate::Db) -> bool {
        match db.rows(EPOCH_SQL, Vec::<Val>::new()).await {
            Ok(rows) => match rows.iter().next() {
                Some(r) => {
                    use crate::rows::Columns;
                    self.observe(r.int("v"));
                    true
                }
                None => {
                    self.invalidate();
                    false
                }
            },
            Err(_) => {
                self.invalidate();
                false
            }
        }
    }
}

/// Reads the epoch on a connection or pool.
pub(crate) async fn read_epoch<'c, E>(on: E) -> Result<Option<i64>, sqlx::Error>
where
    E: Executor<'c, Database = Any>,
{
    sqlx::query_scalar::<_, i64>(EPOCH_SQL)
        .fetch_optional(on)
        .await
}

/// The pool behind [`crate::Db::writer`]: single statements outside a
/// transaction. Each statement, once it has run, is followed by a read of
/// the epoch, so a change to what authentication reads is seen before the
/// statement's caller goes on (see the module docs). A statement whose
/// end is not seen (its future or stream dropped half-way) invalidates.
#[derive(Debug, Clone)]
pub struct WritePool {
    pool: AnyPool,
    auth: Arc<AuthEpoch>,
}

impl WritePool {
    pub(crate) fn new(pool: AnyPool, auth: Arc<AuthEpoch>) -> WritePool {
        WritePool { pool, auth }
    }

    /// The pool itself, for `Db`'s own use (transactions, closing).
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// Invalidates when dropped armed: the statement's end went unseen.
struct Unseen(Option<Arc<AuthEpoch>>);

impl Unseen {
    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for Unseen {
    fn drop(&mut self) {
        if let Some(a) = self.0.take() {
            a.invalidate();
        }
    }
}

async fn observe_after(pool: AnyPool, auth: Arc<AuthEpoch>) {
    auth.observe_read(read_epoch(&pool).await);
}

/// The statement's results, then (once they end) the epoch read.
struct Observed<'e> {
    inner: Option<BoxStream<'e, Result<Either<AnyQueryResult, AnyRow>, sqlx::Error>>>,
    after: Option<BoxFuture<'static, ()>>,
    pool: AnyPool,
    unseen: Unseen,
}

impl Stream for Observed<'_> {
    type Item = Result<Either<AnyQueryResult, AnyRow>, sqlx::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(inner) = this.inner.as_mut() {
                match inner.as_mut().poll_next(cx) {
                    Poll::Ready(None) => {
                        // Drop the statement's stream first: it holds the
                        // pool's connection (SQLite's writer pool has one).
                        this.inner = None;
                        if let Some(auth) = this.unseen.0.clone() {
                            this.after = Some(Box::pin(observe_after(this.pool.clone(), auth)));
                        }
                    }
                    other => return other,
                }
            } else if let Some(after) = this.after.as_mut() {
                match after.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.after = None;
                        this.unseen.disarm();
                        return Poll::Ready(None);
                    }
                    Poll::Pending => return Poll::Pending,
                }
            } else {
                return Poll::Ready(None);
            }
        }
    }
}

impl<'p> Executor<'p> for &'p WritePool {
    type Database = Any;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<AnyQueryResult, AnyRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Any>,
    {
        Box::pin(Observed {
            inner: Some((&self.pool).fetch_many(query)),
            after: None,
            pool: self.pool.clone(),
            unseen: Unseen(Some(self.auth.clone())),
        })
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<AnyRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Any>,
    {
        let pool = self.pool.clone();
        let auth = self.auth.clone();
        Box::pin(async move {
            let mut unseen = Unseen(Some(auth.clone()));
            let row = (&pool).fetch_optional(query).await;
            auth.observe_read(read_epoch(&pool).await);
            unseen.disarm();
            row
        })
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [AnyTypeInfo],
    ) -> BoxFuture<'e, Result<AnyStatement<'q>, sqlx::Error>>
    where
        'p: 'e,
    {
        (&self.pool).prepare_with(sql, parameters)
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, Result<Describe<Any>, sqlx::Error>>
    where
        'p: 'e,
    {
        (&self.pool).describe(sql)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_change_of_the_epoch_moves_the_generation_once() {
        let a = AuthEpoch::default();
        let g0 = a.generation();
        a.observe(5);
        let g1 = a.generation();
        assert_ne!(g0, g1, "the first epoch seen");
        a.observe(5);
        assert_eq!(a.generation(), g1, "the same epoch again");
        a.observe(6);
        let g2 = a.generation();
        assert_ne!(g2, g1);
        a.observe(4);
        assert_ne!(a.generation(), g2, "an older epoch (a restored database)");
        let g3 = a.generation();
        a.invalidate();
        assert_ne!(a.generation(), g3);
        let g4 = a.generation();
        a.observe_read(Ok(None));
        assert_ne!(a.generation(), g4, "no epoch row: cannot tell");
        let g5 = a.generation();
        a.observe_read(Err(sqlx::Error::PoolClosed));
        assert_ne!(a.generation(), g5, "a failed read: cannot tell");
        assert_eq!(a.known(), Some(4));
    }
}
