//! The storage handle: one `Db` over SQLite or PostgreSQL, chosen by URL.
//!
//! Queries are run-time `sqlx` queries through the `Any` driver, so one SQL
//! text (with `$1` placeholders, which both engines accept) serves both
//! backends; where dialects differ a store matches on [`Db::backend`] and
//! writes both forms side by side. Times are BIGINT Unix milliseconds and ids
//! UUIDv7 text, so values look the same in either database.
//! The hottest reads go through [`Db::rows`] instead (see [`crate::rows`]):
//! the same SQL text, on SQLite run on plain connections without sqlx's
//! per-statement thread hand-offs.
//!
//! SQLite gets one writer connection (writes are serialised in-process, so no
//! transaction ever meets SQLITE_BUSY from a sibling) and several readers in
//! WAL mode; `synchronous=FULL` so an acknowledged write survives a crash.
//!
//! **Group commit (SQLite).** An fsync per transaction would cap the whole
//! server at the disk's flush rate, so the writer connection keeps one outer
//! transaction (a *batch*) open across many logical transactions. Each
//! [`Tx`] is a SAVEPOINT inside the batch: its rollback rolls back to the
//! savepoint, its commit releases the savepoint and then waits until the batch
//! itself is committed — by whichever member finishes while no one else is
//! queued for the writer (or once the batch is [`MAX_BATCH_MEMBERS`] large or
//! [`MAX_BATCH_AGE`] old). `commit` returns `Ok` only after that fsync'd COMMIT;
//! an error that aborts the batch fails every member in it, none of which was
//! acknowledged. Work that touches the writer connection runs in spawned
//! tasks, so a caller cancelled half-way (a client hanging up) never leaves
//! the batch in a state the next holder cannot repair. PostgreSQL keeps plain
//! transactions (its own group commit lives in the server).
//!
//! **Direct transactions (SQLite file).** [`Db::direct`] runs a closure's
//! writes in a transaction of its own on a plain connection, in the writer's
//! turn (see [`crate::direct`]): the hot filing path, without the per-
//! statement hand-offs of the group's sqlx connection.

use crate::auth_epoch::{read_epoch, AuthEpoch, WritePool};
use crate::checkpoint::Checkpointer;
use crate::direct::{DirectConn, DirectError, DirectTx};
use crate::error::{AppError, AppResult};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyConnection, AnyPool, Connection, Executor, Row};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Mutex, OwnedMutexGuard};

/// A batch is committed at the latest when it holds this many members...
pub const MAX_BATCH_MEMBERS: usize = 256;
/// ...or when its first statement is this old, even if others still queue.
pub const MAX_BATCH_AGE: Duration = Duration::from_millis(8);
/// A member that has waited this long for its batch commits it itself (the
/// holder that should have done so was cancelled or is stuck elsewhere).
const SELF_FLUSH_AFTER: Duration = Duration::from_millis(100);
/// How long `begin` waits for the writer before giving up (as the pool did).
const WRITER_WAIT: Duration = Duration::from_secs(30);
/// The settings of the connections that write in turn (the group's and
/// [`Db::direct`]'s): durable at COMMIT, keys checked, and their own WAL
/// checkpoint only as a backstop to [`crate::checkpoint`]'s thread.
pub(crate) const WRITER_PRAGMAS: &str = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
     PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000; PRAGMA wal_autocheckpoint=16384;";
const SAVEPOINT: &str = "SAVEPOINT lianxin_tx";
const RELEASE: &str = "RELEASE SAVEPOINT lianxin_tx";
const ROLLBACK_TO: &str = "ROLLBACK TO SAVEPOINT lianxin_tx";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Db {
    read: AnyPool,
    write: WritePool,
    backend: Backend,
    /// The authentication epoch as this process knows it (see
    /// [`crate::auth_epoch`]): every commit reads it.
    auth: Arc<AuthEpoch>,
    /// SQLite: the group-committing writer every [`Tx`] runs on.
    group: Option<Arc<Group>>,
    /// SQLite in a file: the lean readers of [`Db::rows`].
    lean: Option<Arc<crate::rows::SqliteReaders>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .finish()
    }
}

/// A write transaction. On PostgreSQL a plain transaction; on SQLite a
/// savepoint in the current group-commit batch (see the module docs).
/// `&mut *tx` (or `&mut **tx` through a `&mut Tx`) is the connection to run
/// statements on; dropping it without `commit` rolls it back.
pub struct Tx {
    inner: TxInner,
}

enum TxInner {
    Plain {
        /// `None` once committed or rolled back.
        tx: Option<sqlx::Transaction<'static, sqlx::Any>>,
        /// Where the epoch is read after the COMMIT.
        pool: AnyPool,
        auth: Arc<AuthEpoch>,
    },
    Grouped {
        /// `None` once committed or rolled back.
        writer: Option<OwnedMutexGuard<Writer>>,
        group: Arc<Group>,
    },
}

impl std::ops::Deref for Tx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        match &self.inner {
            TxInner::Plain { tx, .. } => tx.as_ref().expect("live transaction"),
            TxInner::Grouped { writer, .. } => writer
                .as_ref()
                .and_then(|w| w.conn.as_ref())
                .expect("a live transaction holds the open writer"),
        }
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match &mut self.inner {
            TxInner::Plain { tx, .. } => tx.as_mut().expect("live transaction"),
            TxInner::Grouped { writer, .. } => writer
                .as_mut()
                .and_then(|w| w.conn.as_mut())
                .expect("a live transaction holds the open writer"),
        }
    }
}

impl Tx {
    /// Makes the transaction's writes durable; on SQLite returns once the
    /// batch holding them is committed (fsync'd), or fails with the batch.
    /// Before it returns, this process has read the authentication epoch
    /// the commit left (see [`crate::auth_epoch`]).
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        match &mut self.inner {
            TxInner::Plain { tx, pool, auth } => {
                let done = tx.take().expect("live transaction").commit().await;
                match &done {
                    Ok(()) => auth.observe_read(read_epoch(&*pool).await),
                    // It may have committed all the same.
                    Err(_) => auth.invalidate(),
                }
                done
            }
            TxInner::Grouped { writer, group } => {
                let mut w = writer.take().expect("live transaction");
                let group = group.clone();
                let g = group.clone();
                let joined = tokio::spawn(async move {
                    let released = w.release_member().await;
                    if w.due(g.waiting.load(Ordering::SeqCst)) {
                        w.flush().await;
                    }
                    released
                })
                .await
                .map_err(join_error)?;
                let (generation, outcome) = joined?;
                group.await_batch(generation, outcome).await
            }
        }
    }

    /// Undoes the transaction's writes.
    pub async fn rollback(mut self) -> Result<(), sqlx::Error> {
        match &mut self.inner {
            TxInner::Plain { tx, .. } => tx.take().expect("live transaction").rollback().await,
            TxInner::Grouped { writer, group } => {
                let w = writer.take().expect("live transaction");
                let g = group.clone();
                tokio::spawn(async move { Group::end_member_rolled_back(w, &g).await })
                    .await
                    .map_err(join_error)?
            }
        }
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        // Plain transactions roll themselves back (sqlx queues it).
        if let TxInner::Grouped { writer, group } = &mut self.inner {
            if let Some(w) = writer.take() {
                let g = group.clone();
                match tokio::runtime::Handle::try_current() {
                    Ok(rt) => {
                        rt.spawn(async move {
                            let _ = Group::end_member_rolled_back(w, &g).await;
                        });
                    }
                    // No runtime: leave the savepoint marked open; the next
                    // holder of the writer rolls it back first.
                    Err(_) => drop(w),
                }
            }
        }
    }
}

fn join_error(e: tokio::task::JoinError) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::other(format!("writer task failed: {e}")))
}

fn batch_error(why: &str) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::other(format!(
        "group commit failed, nothing in the batch was written: {why}"
    )))
}

/// What a batch's members learn: `None` while it is open.
type Outcome = Option<Result<(), Arc<str>>>;

/// The SQLite writer shared by every clone of a [`Db`].
struct Group {
    writer: Arc<Mutex<Writer>>,
    /// Tasks queued for the writer: while any are, a finishing member leaves
    /// the batch open for them instead of committing it.
    waiting: AtomicUsize,
    /// A SQLite file: the plain connection of [`Db::direct`].
    direct: Option<Arc<DirectConn>>,
    /// A SQLite file: the thread that checkpoints the WAL (see
    /// [`crate::checkpoint`]); stopped when the last clone goes.
    checkpointer: Option<Checkpointer>,
}

struct Writer {
    /// `None` after [`Db::close`].
    conn: Option<AnyConnection>,
    /// A member's savepoint is open. Seen by a new holder, it is the leftover
    /// of a member dropped where it could not clean up; it is rolled back.
    savepoint_open: bool,
    batch: Option<Batch>,
    next_generation: u64,
    /// [`MAX_BATCH_AGE`]; the tests lengthen it to make batching deterministic.
    max_age: Duration,
    /// Told the authentication epoch each committed batch leaves.
    auth: Arc<AuthEpoch>,
}

struct Batch {
    generation: u64,
    members: usize,
    opened: Instant,
    outcome: watch::Sender<Outcome>,
}

/// Counts a task as queued for the writer until dropped.
struct Queued<'a>(&'a AtomicUsize);

impl<'a> Queued<'a> {
    fn enter(n: &'a AtomicUsize) -> Queued<'a> {
        n.fetch_add(1, Ordering::SeqCst);
        Queued(n)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Group {
    fn new(conn: AnyConnection, auth: Arc<AuthEpoch>, file: Option<std::path::PathBuf>) -> Group {
        Group {
            writer: Arc::new(Mutex::new(Writer {
                conn: Some(conn),
                savepoint_open: false,
                batch: None,
                next_generation: 0,
                max_age: MAX_BATCH_AGE,
                auth,
            })),
            waiting: AtomicUsize::new(0),
            direct: file.clone().map(|p| Arc::new(DirectConn::new(p))),
            checkpointer: file.map(Checkpointer::start),
        }
    }

    /// Queues for the writer (counted in `waiting`) and repairs what a
    /// cancelled predecessor may have left.
    async fn acquire(self: &Arc<Group>) -> Result<OwnedMutexGuard<Writer>, sqlx::Error> {
        let mut w = {
            let _queued = Queued::enter(&self.waiting);
            tokio::time::timeout(WRITER_WAIT, self.writer.clone().lock_owned())
                .await
                .map_err(|_| sqlx::Error::PoolTimedOut)?
        };
        if w.savepoint_open {
            let _ = w.rollback_member().await;
        }
        Ok(w)
    }

    async fn begin(self: &Arc<Group>) -> Result<Tx, sqlx::Error> {
        let g = self.clone();
        let w = tokio::spawn(async move {
            let mut w = g.acquire().await?;
            match w.open_member().await {
                Ok(()) => Ok(w),
                Err(e) => {
                    if w.due(g.waiting.load(Ordering::SeqCst)) {
                        w.flush().await;
                    }
                    Err(e)
                }
            }
        })
        .await
        .map_err(join_error)??;
        Ok(Tx {
            inner: TxInner::Grouped {
                writer: Some(w),
                group: self.clone(),
            },
        })
    }

    async fn end_member_rolled_back(
        mut w: OwnedMutexGuard<Writer>,
        g: &Arc<Group>,
    ) -> Result<(), sqlx::Error> {
        let r = w.rollback_member().await;
        if w.due(g.waiting.load(Ordering::SeqCst)) {
            w.flush().await;
        }
        r
    }

    /// Waits for the batch a member released into; commits it itself if no
    /// one has after [`SELF_FLUSH_AFTER`].
    async fn await_batch(
        self: &Arc<Group>,
        generation: u64,
        mut outcome: watch::Receiver<Outcome>,
    ) -> Result<(), sqlx::Error> {
        loop {
            if let Some(done) = outcome.borrow_and_update().clone() {
                return done.map_err(|why| batch_error(&why));
            }
            match tokio::time::timeout(SELF_FLUSH_AFTER, outcome.changed()).await {
                Ok(Ok(())) => continue,
                Ok(Err(_)) => {
                    if let Some(done) = outcome.borrow().clone() {
                        return done.map_err(|why| batch_error(&why));
                    }
                    return Err(batch_error("the writer went away"));
                }
                Err(_) => {
                    let g = self.clone();
                    tokio::spawn(async move {
                        let mut w = g.acquire().await?;
                        if w.batch.as_ref().map(|b| b.generation) == Some(generation) {
                            w.flush().await;
                        }
                        Ok::<(), sqlx::Error>(())
                    })
                    .await
                    .map_err(join_error)??;
                }
            }
        }
    }

    async fn close(&self) {
        let mut w = self.writer.lock().await;
        if w.savepoint_open {
            let _ = w.rollback_member().await;
        }
        w.flush().await;
        if let Some(conn) = w.conn.take() {
            let _ = conn.close().await;
        }
        if let Some(d) = &self.direct {
            d.close();
        }
        if let Some(c) = &self.checkpointer {
            c.stop();
        }
    }
}

impl Writer {
    fn conn(&mut self) -> Result<&mut AnyConnection, sqlx::Error> {
        self.conn.as_mut().ok_or(sqlx::Error::PoolClosed)
    }

    /// Opens the batch if none is, then the member's savepoint.
    async fn open_member(&mut self) -> Result<(), sqlx::Error> {
        if self.batch.is_none() {
            // IMMEDIATE: take the file's write lock now, so a batch never
            // meets SQLITE_BUSY half-way (another process, or `Db::writer`).
            self.conn()?.execute("BEGIN IMMEDIATE").await?;
            self.batch = Some(Batch {
                generation: self.next_generation,
                members: 0,
                opened: Instant::now(),
                outcome: watch::channel(None).0,
            });
            self.next_generation += 1;
        }
        if let Err(e) = self.conn()?.execute(SAVEPOINT).await {
            self.abort_batch(&e.to_string()).await;
            return Err(e);
        }
        self.savepoint_open = true;
        Ok(())
    }

    /// Folds the member's savepoint into the batch; the batch's generation
    /// and where its outcome will be told.
    async fn release_member(&mut self) -> Result<(u64, watch::Receiver<Outcome>), sqlx::Error> {
        let released = self.conn()?.execute(RELEASE).await;
        self.savepoint_open = false;
        if let Err(e) = released {
            // The savepoint is gone: the batch was aborted under it.
            self.abort_batch(&e.to_string()).await;
            return Err(e);
        }
        match self.batch.as_mut() {
            Some(b) => {
                b.members += 1;
                Ok((b.generation, b.outcome.subscribe()))
            }
            None => Err(batch_error("no batch open")),
        }
    }

    async fn rollback_member(&mut self) -> Result<(), sqlx::Error> {
        self.savepoint_open = false;
        let mut undo = self.conn()?.execute(ROLLBACK_TO).await.map(|_| ());
        if undo.is_ok() {
            undo = self.conn()?.execute(RELEASE).await.map(|_| ());
        }
        if let Err(e) = &undo {
            self.abort_batch(&e.to_string()).await;
        }
        undo
    }

    /// Should the holder commit the batch now, as it lets go of the writer?
    fn due(&self, waiting: usize) -> bool {
        match &self.batch {
            None => false,
            Some(b) => {
                waiting == 0 || b.members >= MAX_BATCH_MEMBERS || b.opened.elapsed() >= self.max_age
            }
        }
    }

    /// Commits the open batch (if any) and tells its members.
    async fn flush(&mut self) {
        let Some(b) = self.batch.take() else { return };
        let Some(conn) = self.conn.as_mut() else {
            b.outcome
                .send_replace(Some(Err("the database is closed".into())));
            return;
        };
        // Nothing released into it: undo (no fsync) instead of committing.
        let end = if b.members == 0 { "ROLLBACK" } else { "COMMIT" };
        // The authentication epoch the COMMIT will publish: the batch holds
        // the file's write lock, so nobody moves it in between. Observed
        // before the members learn their outcome (see crate::auth_epoch).
        let epoch = if b.members == 0 {
            None
        } else {
            Some(read_epoch(&mut *conn).await)
        };
        match conn.execute(end).await {
            Ok(_) => {
                if let Some(epoch) = epoch {
                    self.auth.observe_read(epoch);
                }
                b.outcome.send_replace(Some(Ok(())));
            }
            Err(e) => {
                let _ = conn.execute("ROLLBACK").await;
                // A failed COMMIT may have committed all the same.
                self.auth.invalidate();
                b.outcome.send_replace(Some(Err(e.to_string().into())));
            }
        }
    }

    /// The batch cannot commit: undo it and fail every member.
    async fn abort_batch(&mut self, why: &str) {
        self.savepoint_open = false;
        if let Some(conn) = self.conn.as_mut() {
            // Fails harmlessly when SQLite already rolled it back.
            let _ = conn.execute("ROLLBACK").await;
        }
        if let Some(b) = self.batch.take() {
            tracing::error!(members = b.members, "group commit batch aborted: {why}");
            b.outcome.send_replace(Some(Err(why.into())));
        }
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
                         PRAGMA secure_delete=ON; PRAGMA wal_autocheckpoint=16384;",
                    )
                    .await?;
                    Ok(())
                })
            }
            // The group-committing writer every transaction runs on.
            let mut conn = AnyConnection::connect(&url)
                .await
                .map_err(|e| AppError::internal(format!("open sqlite {url}: {e}")))?;
            conn.execute(WRITER_PRAGMAS)
                .await
                .map_err(|e| AppError::internal(format!("open sqlite {url}: {e}")))?;
            // A second writer for single statements outside a transaction
            // (`Db::writer`): it bypasses the batch and waits on the file lock.
            let write = AnyPoolOptions::new()
                .max_connections(1)
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
            let auth = Arc::new(AuthEpoch::default());
            Ok(Db {
                read,
                write: WritePool::new(write, auth.clone()),
                backend: Backend::Sqlite,
                group: Some(Arc::new(Group::new(conn, auth.clone(), sqlite_path(&url)))),
                auth,
                lean: sqlite_path(&url).map(|p| Arc::new(crate::rows::SqliteReaders::new(p))),
            })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = AnyPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(30))
                .connect(url)
                .await
                .map_err(|e| AppError::internal(format!("connect postgres: {e}")))?;
            let auth = Arc::new(AuthEpoch::default());
            Ok(Db {
                read: pool.clone(),
                write: WritePool::new(pool, auth.clone()),
                backend: Backend::Postgres,
                group: None,
                auth,
                lean: None,
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

    /// One read through the lean path (see [`crate::rows`]): on a SQLite
    /// file a cached prepared statement on a plain connection, one hop to
    /// the blocking pool; elsewhere through sqlx. `sql` uses `$n`
    /// placeholders for `args`, as everywhere.
    pub async fn rows(
        &self,
        sql: impl Into<String>,
        args: Vec<Val>,
    ) -> AppResult<crate::rows::Rows> {
        let sql = sql.into();
        // The statement counter (tests, bench) listens for sqlx's events.
        tracing::debug!(target: "sqlx::query", summary = "lean read", db.statement = %sql);
        match &self.lean {
            Some(readers) => readers.clone().read_async(sql, args).await,
            None => {
                let rows = bind_all(sqlx::query(&sql), &args)
                    .fetch_all(&self.read)
                    .await?;
                Ok(crate::rows::from_any(rows))
            }
        }
    }

    /// Several independent reads through the lean path: on a SQLite file
    /// all of them in one hop to the blocking pool, on one connection (each
    /// statement still sees its own snapshot); elsewhere one after another
    /// through sqlx. The answers come in the order of `reads`.
    pub async fn rows_many(
        &self,
        reads: Vec<(String, Vec<Val>)>,
    ) -> AppResult<Vec<crate::rows::Rows>> {
        for (sql, _) in &reads {
            tracing::debug!(target: "sqlx::query", summary = "lean read", db.statement = %sql);
        }
        match &self.lean {
            Some(readers) => readers.clone().read_many_async(reads).await,
            None => {
                let mut out = Vec::with_capacity(reads.len());
                for (sql, args) in &reads {
                    let rows = bind_all(sqlx::query(sql), args)
                        .fetch_all(&self.read)
                        .await?;
                    out.push(crate::rows::from_any(rows));
                }
                Ok(out)
            }
        }
    }

    /// The pool for a single write outside a transaction. On SQLite this is
    /// a second connection that bypasses group commit and waits for the
    /// file's write lock; prefer [`Db::begin`] on any hot path. Each
    /// statement is followed by a read of the authentication epoch (see
    /// [`crate::auth_epoch`]).
    pub fn writer(&self) -> &WritePool {
        &self.write
    }

    /// Runs `job` in a transaction of its own on the SQLite writer's plain
    /// connection, in the writer's turn (see [`crate::direct`]), and commits
    /// it; `None` where there is no such connection (PostgreSQL, an
    /// in-memory SQLite), for the caller to take [`Db::begin`] instead. The
    /// job runs on the blocking pool, and to its end even if the caller
    /// stops waiting.
    pub async fn direct<T, F>(&self, job: F) -> Option<Result<T, DirectError>>
    where
        T: Send + 'static,
        F: FnOnce(&DirectTx<'_>) -> AppResult<T> + Send + 'static,
    {
        let group = self.group.clone()?;
        let conn = group.direct.clone()?;
        let auth = self.auth.clone();
        let turn = tokio::spawn(async move {
            let mut w = group
                .acquire()
                .await
                .map_err(|e| DirectError::Transaction(e.into()))?;
            if w.conn.is_none() {
                return Err(DirectError::Transaction(sqlx::Error::PoolClosed.into()));
            }
            // An open batch holds the file's write lock: commit it first.
            w.flush().await;
            let done = tokio::task::spawn_blocking(move || conn.transact(&auth, job)).await;
            drop(w);
            done.map_err(|e| DirectError::Transaction(AppError::internal(e)))?
        });
        Some(
            turn.await
                .map_err(|e| DirectError::Transaction(AppError::internal(e)))
                .and_then(|r| r),
        )
    }

    /// Whether [`Db::direct`] runs jobs here (a SQLite file).
    pub fn has_direct(&self) -> bool {
        self.group.as_ref().is_some_and(|g| g.direct.is_some())
    }

    /// The authentication epoch as this process knows it.
    pub fn auth_epoch(&self) -> &AuthEpoch {
        &self.auth
    }

    /// A write transaction (on SQLite, a savepoint in the writer's batch).
    pub async fn begin(&self) -> AppResult<Tx> {
        match &self.group {
            Some(g) => Ok(g.begin().await?),
            None => Ok(Tx {
                inner: TxInner::Plain {
                    tx: Some(self.write.pool().begin().await?),
                    pool: self.write.pool().clone(),
                    auth: self.auth.clone(),
                },
            }),
        }
    }

    pub async fn close(&self) {
        if let Some(g) = &self.group {
            g.close().await;
        }
        self.write.pool().close().await;
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
                .fetch_all(self.write.pool())
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

/// Splits `n` rows into statements of the given `sizes` (largest first,
/// ending with 1), greedily: a statement text per size at most, so the
/// prepared-statement caches hold a few texts, not one per count.
pub fn split_in_sizes(mut n: usize, sizes: &[usize]) -> Vec<usize> {
    let mut out = Vec::new();
    for &size in sizes {
        while size > 0 && n >= size {
            out.push(size);
            n -= size;
        }
    }
    if n > 0 {
        out.push(n);
    }
    out
}

/// Consecutive slices of `items` with the lengths [`split_in_sizes`] gives.
pub fn in_sizes<'a, T>(items: &'a [T], sizes: &[usize]) -> Vec<&'a [T]> {
    let mut rest = items;
    split_in_sizes(items.len(), sizes)
        .into_iter()
        .map(|k| {
            let (head, tail) = rest.split_at(k);
            rest = tail;
            head
        })
        .collect()
}

/// A value bound in [`Writes`].
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Int(Option<i64>),
    Text(Option<String>),
}

impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::Int(Some(v))
    }
}
impl From<Option<i64>> for Val {
    fn from(v: Option<i64>) -> Val {
        Val::Int(v)
    }
}
impl From<bool> for Val {
    fn from(v: bool) -> Val {
        Val::Int(Some(v as i64))
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Val {
        Val::Text(Some(v.to_string()))
    }
}
impl From<String> for Val {
    fn from(v: String) -> Val {
        Val::Text(Some(v))
    }
}
impl From<&String> for Val {
    fn from(v: &String) -> Val {
        Val::Text(Some(v.clone()))
    }
}
impl From<Option<&str>> for Val {
    fn from(v: Option<&str>) -> Val {
        Val::Text(v.map(str::to_string))
    }
}
impl From<Option<String>> for Val {
    fn from(v: Option<String>) -> Val {
        Val::Text(v)
    }
}
impl From<&Option<String>> for Val {
    fn from(v: &Option<String>) -> Val {
        Val::Text(v.clone())
    }
}

/// Statements written together, in order, inside a transaction.
///
/// On SQLite they go to the connection as one multi-statement query (each
/// statement's `$n` renumbered past the values of the ones before it): one
/// round trip to the connection's thread instead of one per statement. The
/// group-committed writer is shared by every request that changes anything,
/// so those round trips, not the statements' own work, bound the writes per
/// second. PostgreSQL's extended protocol takes one statement per query:
/// there they run one after another.
#[derive(Debug, Default, Clone)]
pub struct Writes {
    stmts: Vec<(String, Vec<Val>)>,
}

impl Writes {
    pub fn new() -> Writes {
        Writes::default()
    }

    /// Adds a statement whose placeholders are `$1..$n` for `vals` (no
    /// comments, and no `$` in identifiers: see [`renumber`]).
    pub fn push(&mut self, sql: impl Into<String>, vals: Vec<Val>) {
        let sql = sql.into();
        // sqlx would bind NULL to a placeholder past the values, silently.
        debug_assert_eq!(
            highest_placeholder(&sql),
            vals.len(),
            "placeholders and values differ: {sql}"
        );
        self.stmts.push((sql, vals));
    }

    pub fn is_empty(&self) -> bool {
        self.stmts.is_empty()
    }

    /// The statements, in order: each text with its values.
    pub(crate) fn statements(&self) -> &[(String, Vec<Val>)] {
        &self.stmts
    }

    /// Adds a copy of `other`'s statements after these.
    pub fn extend_from(&mut self, other: &Writes) {
        self.stmts.extend(other.stmts.iter().cloned());
    }

    /// Runs the statements in `tx`, in the order they were added.
    pub async fn run(self, tx: &mut Tx) -> Result<(), sqlx::Error> {
        if self.stmts.is_empty() {
            return Ok(());
        }
        let conn: &mut AnyConnection = tx;
        if conn.backend_name() != "SQLite" || self.stmts.len() == 1 {
            for (sql, vals) in &self.stmts {
                bind_all(sqlx::query(sql), vals).execute(&mut *conn).await?;
            }
            return Ok(());
        }
        let mut sql = String::new();
        let mut vals: Vec<Val> = Vec::new();
        for (s, v) in &self.stmts {
            sql.push_str(&renumber(s, vals.len()));
            sql.push_str(";\n");
            vals.extend(v.iter().cloned());
        }
        bind_all(sqlx::query(&sql), &vals).execute(conn).await?;
        Ok(())
    }
}

/// Binds `vals` to `q` in order.
pub fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    vals: &'q [Val],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for v in vals {
        q = match v {
            Val::Int(i) => q.bind(*i),
            Val::Text(t) => q.bind(t.as_deref()),
        };
    }
    q
}

/// The highest `$n` in `sql` outside quoted text (0: none).
fn highest_placeholder(sql: &str) -> usize {
    let mut highest = 0;
    let mut chars = sql.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '$' => {
                let mut n = 0usize;
                while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                    n = n * 10 + d as usize;
                    chars.next();
                }
                highest = highest.max(n);
            }
            None => {}
        }
    }
    highest
}

/// `sql` with every placeholder `$n` (outside quoted text) made `$(n + by)`.
/// SQL comments are not understood: the statements given to [`Writes`] have
/// none.
pub fn renumber(sql: &str, by: usize) -> String {
    if by == 0 {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut chars = sql.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '$' && chars.peek().is_some_and(|d| d.is_ascii_digit()) => {
                let mut n = 0usize;
                while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                    n = n * 10 + d as usize;
                    chars.next();
                }
                out.push('$');
                out.push_str(&(n + by).to_string());
            }
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_split_in_a_few_sizes() {
        const SIZES: &[usize] = &[128, 32, 8, 1];
        for n in 0..1000 {
            let s = split_in_sizes(n, SIZES);
            assert_eq!(s.iter().sum::<usize>(), n);
            assert!(s.iter().all(|k| SIZES.contains(k)), "{n}: {s:?}");
        }
        assert_eq!(
            split_in_sizes(300, SIZES),
            vec![128, 128, 32, 8, 1, 1, 1, 1]
        );
        let items: Vec<usize> = (0..300).collect();
        let parts = in_sizes(&items, SIZES);
        assert_eq!(parts.concat(), items);
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            split_in_sizes(300, SIZES)
        );
    }

    #[test]
    fn renumber_moves_placeholders_but_not_quoted_text() {
        assert_eq!(
            renumber("INSERT INTO t (a, b) VALUES ($1, $2)", 3),
            "INSERT INTO t (a, b) VALUES ($4, $5)"
        );
        assert_eq!(
            renumber("SELECT '$1', \"$2\", $10 FROM t WHERE x = $2", 5),
            "SELECT '$1', \"$2\", $15 FROM t WHERE x = $7"
        );
        assert_eq!(renumber("SELECT $ FROM t", 1), "SELECT $ FROM t");
        assert_eq!(renumber("SELECT $1", 0), "SELECT $1");
    }

    #[tokio::test]
    async fn writes_run_in_order_in_one_transaction() {
        let (db, _dir) = grouped_db().await;
        let mut tx = db.begin().await.unwrap();
        sqlx::query("CREATE TABLE w (id BIGINT PRIMARY KEY, note TEXT)")
            .execute(&mut *tx)
            .await
            .unwrap();
        let mut w = Writes::new();
        w.push(
            "INSERT INTO w (id, note) VALUES ($1, $2)",
            vec![1i64.into(), "一".into()],
        );
        w.push(
            "INSERT INTO w (id, note) VALUES ($1, $2), ($3, '$1')",
            vec![2i64.into(), Option::<String>::None.into(), 3i64.into()],
        );
        w.push(
            "UPDATE w SET note = $1 WHERE id = $2",
            vec!["改".into(), 1i64.into()],
        );
        w.run(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
        let rows: Vec<(i64, Option<String>)> = sqlx::query("SELECT id, note FROM w ORDER BY id")
            .fetch_all(db.reader())
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        assert_eq!(
            rows,
            vec![(1, Some("改".into())), (2, None), (3, Some("$1".into()))]
        );
    }

    #[tokio::test]
    async fn a_failing_statement_in_writes_fails_the_run() {
        let (db, _dir) = grouped_db().await;
        let mut tx = db.begin().await.unwrap();
        sqlx::query("CREATE TABLE w (id BIGINT PRIMARY KEY)")
            .execute(&mut *tx)
            .await
            .unwrap();
        let mut w = Writes::new();
        w.push("INSERT INTO w (id) VALUES ($1)", vec![1i64.into()]);
        w.push("INSERT INTO w (id) VALUES ($1)", vec![1i64.into()]);
        assert!(w.run(&mut tx).await.is_err());
    }

    fn direct_insert(v: &str) -> Writes {
        let mut w = Writes::new();
        w.push("INSERT INTO t (v) VALUES ($1)", vec![v.into()]);
        w
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_direct_transaction_commits_whole_or_not_at_all() {
        let (db, _dir) = grouped_db().await;
        let done = db
            .direct(|tx| {
                tx.run(&direct_insert("d1"))?;
                tx.run(&direct_insert("d2"))
            })
            .await
            .expect("a SQLite file has the direct path");
        assert!(done.is_ok(), "{done:?}");
        assert_eq!(committed(&db).await, vec!["d1", "d2"]);

        // A statement that fails (d1 again) undoes the job's earlier ones.
        let failed = db
            .direct(|tx| {
                tx.run(&direct_insert("d3"))?;
                tx.run(&direct_insert("d1"))
            })
            .await
            .unwrap();
        assert!(matches!(failed, Err(DirectError::Job(_))), "{failed:?}");
        // So does the job's own error.
        let refused = db
            .direct(|tx| {
                tx.run(&direct_insert("d4"))?;
                Err::<(), _>(AppError::Forbidden)
            })
            .await
            .unwrap();
        assert!(matches!(
            refused,
            Err(DirectError::Job(AppError::Forbidden))
        ));
        assert_eq!(committed(&db).await, vec!["d1", "d2"]);

        // The group's transactions go on as before, on the same file.
        let mut tx = db.begin().await.unwrap();
        insert(&mut tx, "g1").await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(committed(&db).await, vec!["d1", "d2", "g1"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_direct_transaction_commits_the_open_batch_first() {
        let (db, _dir) = grouped_db().await;
        let mut member = db.begin().await.unwrap();
        insert(&mut member, "g1").await.unwrap();
        // Queued for the writer while the member holds it: when the member
        // lets go, the batch stays open for the one waiting (the batch's age
        // limit is an hour here).
        let d = db.clone();
        let direct = tokio::spawn(async move {
            d.direct(|tx| {
                use crate::rows::Columns;
                // It sees the batch it waited for, committed.
                let n = tx
                    .rows("SELECT COUNT(*) AS n FROM t", &[])?
                    .first()
                    .unwrap()
                    .int("n");
                tx.run(&direct_insert(&format!("d{n}")))
            })
            .await
        });
        while db.group.as_ref().unwrap().waiting.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        member.commit().await.unwrap();
        let done = direct.await.unwrap().unwrap();
        assert!(done.is_ok(), "{done:?}");
        assert_eq!(committed(&db).await, vec!["d1", "g1"]);
    }

    #[test]
    fn only_a_sqlite_file_has_the_direct_path() {
        // `Db::connect` opens the direct connection on `sqlite_path`'s file.
        assert!(sqlite_path("sqlite:///tmp/x.db?mode=rwc").is_some());
        assert!(sqlite_path("sqlite::memory:").is_none());
        assert!(sqlite_path("postgres://u@h/db").is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_is_checkpointed_beside_the_writer() {
        let (db, dir) = grouped_db().await;
        let mut tx = db.begin().await.unwrap();
        insert(&mut tx, "c1").await.unwrap();
        tx.commit().await.unwrap();
        // `immutable=1` reads the database file alone, without the WAL: the
        // row is there only once a checkpoint has copied it, and the
        // writers' own automatic checkpoint starts at 16,384 pages.
        let url = format!("file:{}?immutable=1", dir.path().join("g.db").display());
        let in_file = || {
            let c = rusqlite::Connection::open_with_flags(
                &url,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
            )
            .unwrap();
            c.query_row("SELECT COUNT(*) FROM t WHERE v = 'c1'", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap_or(0)
        };
        let mut seen = false;
        for _ in 0..100 {
            if in_file() == 1 {
                seen = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            seen,
            "no checkpoint copied the row into the file within 5 s"
        );
    }

    /// A fresh SQLite Db with a table `t(v TEXT PRIMARY KEY)`; batches never
    /// age out, so only the queue decides when they commit.
    async fn grouped_db() -> (Db, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("g.db").display());
        let db = Db::connect(&url).await.unwrap();
        db.group.as_ref().unwrap().writer.lock().await.max_age = Duration::from_secs(3600);
        let mut tx = db.begin().await.unwrap();
        sqlx::query("CREATE TABLE t (v TEXT PRIMARY KEY)")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        (db, dir)
    }

    async fn insert(tx: &mut Tx, v: &str) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO t (v) VALUES ($1)")
            .bind(v)
            .execute(&mut **tx)
            .await
            .map(|_| ())
    }

    /// What a separate connection (another process, say) sees as committed.
    async fn committed(db: &Db) -> Vec<String> {
        sqlx::query("SELECT v FROM t ORDER BY v")
            .fetch_all(db.reader())
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>(0))
            .collect()
    }

    async fn until_queued(db: &Db, n: usize) {
        let g = db.group.as_ref().unwrap();
        for _ in 0..2000 {
            if g.waiting.load(Ordering::SeqCst) >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("{n} tasks never queued for the writer");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_commit_returns_once_its_batch_is_durable() {
        let (db, _dir) = grouped_db().await;
        let mut first = db.begin().await.unwrap();
        insert(&mut first, "a").await.unwrap();
        // Queue nine more behind the first, so the batch stays open as
        // members release into it; whoever is last commits it for all.
        let mut tasks = Vec::new();
        for i in 0..9 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = db.begin().await.expect("begin");
                insert(&mut tx, &format!("b{i}")).await?;
                tx.commit().await?;
                // Acknowledged: a separate connection must see it now.
                Ok::<_, sqlx::Error>(committed(&db).await.contains(&format!("b{i}")))
            }));
        }
        until_queued(&db, 9).await;
        first.commit().await.unwrap();
        assert!(committed(&db).await.contains(&"a".to_string()));
        for t in tasks {
            assert!(t.await.unwrap().unwrap(), "acknowledged but not visible");
        }
        assert_eq!(committed(&db).await.len(), 10);
        // The nine queued members rode along with the first: fewer than ten
        // fsync'd commits (each batch takes one generation).
        let batches = db
            .group
            .as_ref()
            .unwrap()
            .writer
            .lock()
            .await
            .next_generation;
        assert!(batches < 10, "{batches} batches for 10 transactions");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rollback_and_drop_undo_only_their_own_member() {
        let (db, _dir) = grouped_db().await;
        let mut keep = db.begin().await.unwrap();
        insert(&mut keep, "keep").await.unwrap();
        let (d1, d2, d3) = (db.clone(), db.clone(), db.clone());
        let undone = tokio::spawn(async move {
            let mut tx = d1.begin().await.unwrap();
            insert(&mut tx, "rolled-back").await.unwrap();
            tx.rollback().await.unwrap();
        });
        let dropped = tokio::spawn(async move {
            let mut tx = d2.begin().await.unwrap();
            insert(&mut tx, "dropped").await.unwrap();
            drop(tx);
        });
        let failed = tokio::spawn(async move {
            let mut tx = d3.begin().await.unwrap();
            insert(&mut tx, "partial").await.unwrap();
            // A constraint error aborts the statement, not the batch.
            assert!(insert(&mut tx, "keep").await.is_err());
            tx.commit().await.unwrap();
        });
        until_queued(&db, 3).await;
        keep.commit().await.unwrap();
        undone.await.unwrap();
        dropped.await.unwrap();
        failed.await.unwrap();
        // The dropped member's cleanup runs in the background; a new
        // transaction queues behind it.
        let tx = db.begin().await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(committed(&db).await, vec!["keep", "partial"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_aborted_batch_fails_every_member() {
        let (db, _dir) = grouped_db().await;
        let mut first = db.begin().await.unwrap();
        insert(&mut first, "first").await.unwrap();
        let d = db.clone();
        let breaker = tokio::spawn(async move {
            let mut tx = d.begin().await.unwrap();
            insert(&mut tx, "second").await.unwrap();
            // Ends the outer transaction under everyone (as a disk error would).
            (&mut *tx).execute("ROLLBACK").await.unwrap();
            tx.commit().await
        });
        until_queued(&db, 1).await;
        // Released into the batch, but the batch never commits.
        assert!(first.commit().await.is_err());
        assert!(breaker.await.unwrap().is_err());
        assert!(committed(&db).await.is_empty());
        // The writer recovers for the next batch.
        let mut tx = db.begin().await.unwrap();
        insert(&mut tx, "third").await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(committed(&db).await, vec!["third"]);
    }

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
