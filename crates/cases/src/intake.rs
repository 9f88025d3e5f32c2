//! Writing filings under load. A filing is a handful of rows (the demand,
//! its first event, the rollup counts, the notice, the audit row). On
//! SQLite every write goes through one connection shared by the whole
//! server, and what bounds it is the round trips to that connection, not
//! the rows. So filings that arrive while others are being written queue,
//! and are then written together: one transaction, one read of the audit
//! chain's head, a few filings to a round trip. Nobody waits on a timer: a
//! filing that finds the writer idle is written at once. A batch that fails
//! is written again one filing at a time, so a bad filing fails alone.
//!
//! On a SQLite file a batch is one direct transaction (`kernel::direct`):
//! its statements run from prepared statements on the writer's own plain
//! connection, without sqlx's per-statement hand-offs or a savepoint.
//!
//! A request with an `Idempotency-Key` is written on its own: the key is
//! bound inside the request's own task (`kernel::idempotency::bind`).

use crate::rollup::Tally;
use kernel::audit::{self, AuditEntry};
use kernel::db::Writes;
use kernel::direct::DirectError;
use kernel::{AppError, AppResult, Ctx};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Filings per transaction at most.
const MAX_BATCH: usize = 128;
/// Filings per round trip: their statements go as one text, which the
/// connection prepares once and keeps (so only a few such texts exist).
const PER_TRIP: usize = 8;

/// The writes of one filing, its rollup counts and the audit entry that
/// records them.
pub struct Filing {
    pub writes: Writes,
    /// Merged with the batch's others: the street's, district's and city's
    /// rollup rows are written once per batch, not once per filing.
    pub tally: Tally,
    pub audit: Record,
}

/// An audit entry that owns its text (it outlives the request).
#[derive(Clone)]
pub struct Record {
    pub at_ms: i64,
    pub actor_id: String,
    pub action: &'static str,
    pub object_type: &'static str,
    pub object_id: String,
    pub org_path: String,
    pub detail: serde_json::Value,
}

impl Record {
    fn entry(&self) -> AuditEntry<'_> {
        AuditEntry {
            at_ms: self.at_ms,
            actor_id: Some(&self.actor_id),
            action: self.action,
            object_type: self.object_type,
            object_id: Some(&self.object_id),
            org_path: Some(&self.org_path),
            detail: self.detail.clone(),
            ip: None,
        }
    }
}

struct Job {
    filing: Filing,
    reply: oneshot::Sender<AppResult<()>>,
}

/// The filings waiting, and whether a task is writing them.
#[derive(Default)]
struct Queue {
    state: Mutex<(Vec<Job>, bool)>,
}

/// Writes the filing (with others that arrive meanwhile); returns once it
/// is committed.
pub async fn write(ctx: &Ctx, filing: Filing) -> AppResult<()> {
    if kernel::idempotency::has_unbound_key() {
        let mut tx = ctx.db.begin().await?;
        let mut writes = filing.writes;
        filing.tally.push(&mut writes);
        audit::record_with(&mut tx, ctx.db.backend(), filing.audit.entry(), writes).await?;
        tx.commit().await?;
        return Ok(());
    }
    let (reply, answer) = oneshot::channel();
    let queue = ctx.extensions.get_or_init(Queue::default);
    let start = {
        let mut st = queue.state.lock().unwrap_or_else(|e| e.into_inner());
        st.0.push(Job { filing, reply });
        !std::mem::replace(&mut st.1, true)
    };
    if start {
        // Its own task: a request that is cancelled (the client hung up)
        // never leaves the others' filings half-written. The guard exists
        // before the task does, so even a task dropped unpolled (the runtime
        // shutting down) lets go of the queue.
        let running = Running {
            queue,
            ended: false,
        };
        tokio::spawn(drain(ctx.clone(), running));
    }
    answer
        .await
        .map_err(|_| AppError::Internal("the filing writer stopped".into()))?
}

/// The draining task's hold on the queue. If the task ends early (a panic,
/// or dropped unpolled) the filings still queued are answered with an error
/// and the queue is marked idle, so the next filing starts another task.
struct Running {
    queue: Arc<Queue>,
    ended: bool,
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.ended {
            let orphans = {
                let mut st = self.queue.state.lock().unwrap_or_else(|e| e.into_inner());
                st.1 = false;
                std::mem::take(&mut st.0)
            };
            for j in orphans {
                let _ = j
                    .reply
                    .send(Err(AppError::Internal("the filing writer stopped".into())));
            }
        }
    }
}

async fn drain(ctx: Ctx, mut running: Running) {
    loop {
        let jobs: Vec<Job> = {
            let mut st = running
                .queue
                .state
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if st.0.is_empty() {
                st.1 = false;
                running.ended = true;
                return;
            }
            let n = st.0.len().min(MAX_BATCH);
            st.0.drain(..n).collect()
        };
        write_batch(&ctx, jobs).await;
    }
}

/// Why a batch was not written.
enum Failed {
    /// A statement failed: one of the filings may be at fault.
    Statement(AppError),
    /// The transaction itself (begin, the audit head, commit): not any one
    /// filing's doing, so writing them one at a time would not help.
    Transaction(AppError),
}

async fn write_batch(ctx: &Ctx, jobs: Vec<Job>) {
    if jobs.len() > 1 {
        match write_all(ctx, &jobs).await {
            Ok(()) => {
                for j in jobs {
                    let _ = j.reply.send(Ok(()));
                }
                return;
            }
            Err(Failed::Transaction(e)) => {
                tracing::error!(error = %e, filings = jobs.len(), "a batch of filings failed");
                let why = e.to_string();
                for j in jobs {
                    let _ = j.reply.send(Err(AppError::Internal(why.clone())));
                }
                return;
            }
            Err(Failed::Statement(e)) => tracing::warn!(
                error = %e,
                filings = jobs.len(),
                "a statement of a batch of filings failed; writing them one at a time"
            ),
        }
    }
    for j in jobs {
        let r = match write_all(ctx, std::slice::from_ref(&j)).await {
            Ok(()) => Ok(()),
            Err(Failed::Statement(e) | Failed::Transaction(e)) => Err(e),
        };
        let _ = j.reply.send(r);
    }
}

/// On a SQLite file: the same writes as [`write_all`], as one direct
/// transaction (`kernel::direct`): no statement hand-offs, no savepoints.
/// `None` where there is no direct path.
async fn write_direct(ctx: &Ctx, jobs: &[Job]) -> Option<Result<(), Failed>> {
    let mut writes = Writes::new();
    let mut tally = Tally::new();
    for j in jobs {
        writes.extend_from(&j.filing.writes);
        tally.merge(&j.filing.tally);
    }
    tally.push(&mut writes);
    let records: Vec<Record> = jobs.iter().map(|j| j.filing.audit.clone()).collect();
    let done = ctx
        .db
        .direct(move |tx| {
            tx.run(&writes)?;
            let mut head = audit::head_direct(tx)?;
            let mut chained = Writes::new();
            for r in &records {
                audit::push_chained(&mut chained, &mut head, &r.entry());
            }
            tx.run(&chained)
        })
        .await?;
    Some(done.map_err(|e| match e {
        DirectError::Job(e) => Failed::Statement(e),
        DirectError::Transaction(e) => Failed::Transaction(e),
    }))
}

/// The filings' rows first, then their rollup counts merged, then the
/// audit chain's head and their audit rows (on PostgreSQL the head's lock
/// is held only for that last part).
async fn write_all(ctx: &Ctx, jobs: &[Job]) -> Result<(), Failed> {
    if let Some(done) = write_direct(ctx, jobs).await {
        return done;
    }
    let mut tx = ctx.db.begin().await.map_err(Failed::Transaction)?;
    for trip in jobs.chunks(PER_TRIP) {
        let mut w = Writes::new();
        for j in trip {
            w.extend_from(&j.filing.writes);
        }
        w.run(&mut tx)
            .await
            .map_err(|e| Failed::Statement(e.into()))?;
    }
    let mut tally = Tally::new();
    for j in jobs {
        tally.merge(&j.filing.tally);
    }
    tally.write(&mut tx).await.map_err(Failed::Statement)?;
    let mut head = audit::head(&mut tx, ctx.db.backend())
        .await
        .map_err(Failed::Transaction)?;
    for trip in jobs.chunks(PER_TRIP) {
        let mut w = Writes::new();
        for j in trip {
            audit::push_chained(&mut w, &mut head, &j.filing.audit.entry());
        }
        w.run(&mut tx)
            .await
            .map_err(|e| Failed::Statement(e.into()))?;
    }
    tx.commit()
        .await
        .map_err(|e| Failed::Transaction(e.into()))?;
    Ok(())
}
