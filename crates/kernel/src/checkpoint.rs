//! WAL checkpoints off the write path (SQLite file).
//!
//! By default the connection whose COMMIT takes the WAL past 1,000 pages
//! copies the WAL's pages back into the database file, there and then: on
//! the single writer, inside the turn every other write waits for. Under a
//! filing load that was every few dozen filings, and each copied the pages
//! again that the next batch would change once more. Here a thread of the
//! `Db`'s own runs a PASSIVE checkpoint every [`INTERVAL`]: it copies what no
//! reader still needs, beside the writer rather than in its way, and once
//! all of it is copied SQLite starts the WAL over at the next write. The
//! writers keep an automatic checkpoint of their own only as a backstop
//! (`wal_autocheckpoint=16384`: 64 MiB of 4 KiB pages, far above what
//! [`INTERVAL`] lets build up), should this thread fall far behind or be
//! gone.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often the WAL is checkpointed.
pub(crate) const INTERVAL: Duration = Duration::from_millis(100);

/// The checkpointing thread; stops when this is dropped.
pub(crate) struct Checkpointer {
    stop: Arc<AtomicBool>,
}

impl Checkpointer {
    /// Starts the thread on the file at `path` (it opens its own connection
    /// at its first pass, so a file not yet created is no error).
    pub(crate) fn start(path: PathBuf) -> Checkpointer {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let spawned = std::thread::Builder::new()
            .name("lianxin-checkpoint".into())
            .spawn(move || run(&path, &flag));
        if let Err(e) = spawned {
            // The writers' backstop checkpoints instead.
            tracing::warn!(error = %e, "could not start the WAL checkpoint thread");
        }
        Checkpointer { stop }
    }

    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(path: &std::path::Path, stop: &AtomicBool) {
    let mut conn: Option<rusqlite::Connection> = None;
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(INTERVAL);
        if stop.load(Ordering::SeqCst) {
            break;
        }
        if conn.is_none() {
            conn = open(path);
        }
        let Some(c) = &conn else { continue };
        // (busy, WAL pages, pages copied): PASSIVE never waits on a lock.
        if let Err(e) = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0)) {
            tracing::warn!(error = %e, "WAL checkpoint failed");
            conn = None;
        }
    }
}

fn open(path: &std::path::Path) -> Option<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let c = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .ok()?;
    c.execute_batch("PRAGMA busy_timeout=1000;").ok()?;
    Some(c)
}
