//! The session cache: what authentication read for a session
//! ([`store::load_access`]), kept in memory so a repeat request skips the
//! database read. Only the read is cached: every request still checks the
//! cached data against its own time (user active, idle and absolute expiry,
//! CSRF, restrictions; see [`crate::session`]).
//!
//! **Invalidation.** Database triggers move the `auth_epoch` whenever a row
//! that read returns changes (migration 0083); [`kernel::auth_epoch`]
//! turns what this process learns of it into a *generation*. An entry is
//! tagged with the generation read *before* its database read and served
//! only while the generation is still that one, so a change committed while
//! a request was reading (a logout racing a request) is never kept:
//!
//! - this process's own writes: every commit reads the epoch before it
//!   returns (`kernel::db`), so the request after a logout, a password
//!   change or a revoked grant misses the cache;
//! - other processes' writes (the `lianxin` CLI, an operator's SQL): a task
//!   polls the epoch every [`POLL_EVERY`] (1 s). A change is seen by the
//!   first poll that starts after it commits: within about a second. The
//!   cache serves nothing while its last successful poll started more than
//!   [`POLL_STALE`] (3 s) ago, so a stalled or failing poll never stretches
//!   that bound: 3 s is the most a cross-process revocation can lag.
//!
//! The idle clock: a touch ([`store::touch_session`], at most once a minute)
//! does not move the epoch; the request that touched updates the entry once
//! the touch has committed. A cached entry that fails the liveness checks is
//! dropped and read again before the request is refused, so a stale
//! `last_seen_at` (another server on the same PostgreSQL touched it) cannot
//! expire a busy session.
//!
//! **Bound.** At most [`CAPACITY`] entries (a few hundred bytes each). When
//! full, the entries of older generations go first; if that frees nothing,
//! half the map, arbitrarily (a refill costs one read).

use crate::store::{self, Access};
use kernel::auth_epoch::AuthEpoch;
use kernel::{AppResult, Ctx, Db};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

/// Entries kept at most.
pub const CAPACITY: usize = 20_000;
/// How often the epoch is polled for other processes' writes.
pub const POLL_EVERY: Duration = Duration::from_secs(1);
/// The cache serves nothing once its last successful poll started longer
/// ago than this.
pub const POLL_STALE: Duration = Duration::from_secs(3);

/// One session's cached access.
pub struct Entry {
    /// The generation read before the database read that filled it.
    generation: u64,
    pub access: Access,
    /// The session's last activity: the read's, moved forward by this
    /// process's touches.
    last_seen_at: AtomicI64,
}

impl Entry {
    pub fn last_seen_at(&self) -> i64 {
        self.last_seen_at.load(Ordering::SeqCst)
    }
}

pub struct SessionCache {
    map: RwLock<HashMap<String, Arc<Entry>>>,
    capacity: usize,
    /// The origin of `polled`.
    started: Instant,
    /// When the last successful poll started, in ms since `started`, plus 1
    /// (0: never).
    polled: AtomicU64,
    poller: AtomicBool,
}

impl SessionCache {
    pub fn new(capacity: usize) -> SessionCache {
        SessionCache {
            map: RwLock::new(HashMap::new()),
            capacity: capacity.max(2),
            started: Instant::now(),
            polled: AtomicU64::new(0),
            poller: AtomicBool::new(false),
        }
    }

    /// The context's cache; the first call (from within the runtime) starts
    /// its poll, which ends when the context is gone.
    pub fn of(ctx: &Ctx) -> Arc<SessionCache> {
        let cache = ctx.extensions.get_or_init(|| SessionCache::new(CAPACITY));
        if !cache.poller.swap(true, Ordering::SeqCst) {
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => {
                    rt.spawn(poll(Arc::downgrade(&cache), ctx.db.clone()));
                }
                Err(_) => cache.poller.store(false, Ordering::SeqCst),
            }
        }
        cache
    }

    fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Records a successful poll that started at `at` (from [`Self::clock`]).
    pub fn polled(&self, at: u64) {
        self.polled.fetch_max(at + 1, Ordering::SeqCst);
    }

    /// The cache's own monotonic clock, for [`Self::polled`].
    pub fn clock(&self) -> u64 {
        self.elapsed_ms()
    }

    /// May the cache serve and take entries now: has a poll that started
    /// within [`POLL_STALE`] succeeded?
    pub fn fresh(&self) -> bool {
        let p = self.polled.load(Ordering::SeqCst);
        p != 0 && self.elapsed_ms().saturating_sub(p - 1) < POLL_STALE.as_millis() as u64
    }

    /// The entry of a session, if it is of the current generation (and the
    /// poll is fresh).
    pub fn get(&self, session_id: &str, epoch: &AuthEpoch) -> Option<Arc<Entry>> {
        if !self.fresh() {
            return None;
        }
        let e = self
            .map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(session_id)
            .cloned()?;
        (e.generation == epoch.generation()).then_some(e)
    }

    /// Reads a session's access from the database and keeps it, tagged with
    /// the generation read before the read. `None`: no live session (not
    /// cached).
    pub async fn load(&self, db: &Db, session_id: &str) -> AppResult<Option<Arc<Entry>>> {
        let generation = db.auth_epoch().generation();
        let fresh = self.fresh();
        let Some(access) = store::load_access(db, session_id).await? else {
            return Ok(None);
        };
        let entry = Arc::new(Entry {
            generation,
            last_seen_at: AtomicI64::new(access.session.times.last_seen_at),
            access,
        });
        if fresh {
            self.insert(session_id, entry.clone(), db.auth_epoch());
        }
        Ok(Some(entry))
    }

    /// Keeps `entry` unless the generation moved since it was read (a change
    /// committed meanwhile: the read may predate it). Returns whether kept.
    pub fn insert(&self, session_id: &str, entry: Arc<Entry>, epoch: &AuthEpoch) -> bool {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        let current = epoch.generation();
        if entry.generation != current {
            return false;
        }
        if map.len() >= self.capacity && !map.contains_key(session_id) {
            map.retain(|_, e| e.generation == current);
            if map.len() >= self.capacity {
                let mut keep = false;
                map.retain(|_, _| {
                    keep = !keep;
                    keep
                });
            }
        }
        if let Some(old) = map.get(session_id) {
            // Keep the later activity of the two (a touch that landed
            // after this entry's read).
            if old.generation == current {
                entry
                    .last_seen_at
                    .fetch_max(old.last_seen_at(), Ordering::SeqCst);
            }
        }
        map.insert(session_id.to_string(), entry);
        true
    }

    /// The session was touched (committed) at `now`.
    pub fn touched(&self, session_id: &str, now: i64) {
        if let Some(e) = self
            .map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(session_id)
        {
            e.last_seen_at.fetch_max(now, Ordering::SeqCst);
        }
    }

    pub fn remove(&self, session_id: &str) {
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(session_id);
    }

    pub fn len(&self) -> usize {
        self.map.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Polls the epoch every [`POLL_EVERY`] while the cache lives.
async fn poll(cache: Weak<SessionCache>, db: Db) {
    let mut failing = false;
    loop {
        let Some(c) = cache.upgrade() else { return };
        let at = c.clock();
        if db.auth_epoch().poll(&db).await {
            c.polled(at);
            if failing {
                tracing::info!("the authentication epoch is readable again");
            }
            failing = false;
        } else if !failing {
            tracing::warn!(
                "cannot read the authentication epoch: the session cache serves nothing until it can"
            );
            failing = true;
        }
        drop(c);
        tokio::time::sleep(POLL_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SessionTimes;
    use crate::store::SessionRow;

    fn access(id: &str, last_seen_at: i64) -> Access {
        Access {
            session: SessionRow {
                id: id.into(),
                user_id: "u".into(),
                kind: "api".into(),
                csrf_token: "c".into(),
                times: SessionTimes {
                    created_at: 0,
                    last_seen_at,
                    expires_at: i64::MAX,
                },
                display_name: "n".into(),
                user_active: true,
                password_changed_at: 0,
                totp_enrolled: false,
            },
            grants: vec![],
            households: vec![],
        }
    }

    fn entry(id: &str, generation: u64) -> Arc<Entry> {
        Arc::new(Entry {
            generation,
            last_seen_at: AtomicI64::new(0),
            access: access(id, 0),
        })
    }

    fn fresh_cache(capacity: usize) -> SessionCache {
        let c = SessionCache::new(capacity);
        c.polled(c.clock());
        c
    }

    #[test]
    fn an_entry_read_before_a_change_is_neither_kept_nor_served() {
        let epoch = AuthEpoch::default();
        let cache = fresh_cache(10);
        // Kept and served under the generation it was read in.
        let g = epoch.generation();
        assert!(cache.insert("a", entry("a", g), &epoch));
        assert!(cache.get("a", &epoch).is_some());
        // A read that started before a change committed is not kept...
        let before = epoch.generation();
        epoch.observe(1);
        assert!(!cache.insert("b", entry("b", before), &epoch));
        assert!(cache.get("b", &epoch).is_none());
        // ...and what was kept before it is not served any more.
        assert!(cache.get("a", &epoch).is_none());
        // The same epoch again changes nothing.
        let g = epoch.generation();
        assert!(cache.insert("c", entry("c", g), &epoch));
        epoch.observe(1);
        assert!(cache.get("c", &epoch).is_some());
        epoch.invalidate();
        assert!(cache.get("c", &epoch).is_none());
    }

    #[test]
    fn nothing_is_served_without_a_recent_poll() {
        let epoch = AuthEpoch::default();
        let cache = SessionCache::new(10);
        assert!(!cache.fresh(), "never polled");
        assert!(cache.insert("a", entry("a", epoch.generation()), &epoch));
        assert!(cache.get("a", &epoch).is_none());
        cache.polled(cache.clock());
        assert!(cache.get("a", &epoch).is_some());
        // A poll that started longer ago than POLL_STALE.
        let stale = SessionCache::new(10);
        let old = SessionCache {
            started: Instant::now() - POLL_STALE - Duration::from_millis(50),
            ..stale
        };
        old.polled(0);
        assert!(!old.fresh());
    }

    #[test]
    fn the_cache_stays_within_its_bound() {
        let epoch = AuthEpoch::default();
        let cache = fresh_cache(100);
        let g = epoch.generation();
        for i in 0..1_000 {
            assert!(cache.insert(&format!("s{i}"), entry(&format!("s{i}"), g), &epoch));
            assert!(cache.len() <= 100, "{} entries", cache.len());
        }
        // The latest is always kept.
        assert!(cache.get("s999", &epoch).is_some());
        // Entries of an older generation go first.
        epoch.invalidate();
        let g = epoch.generation();
        assert!(cache.insert("new", entry("new", g), &epoch));
        assert_eq!(cache.len(), 1, "the stale entries made room");
        // Re-inserting a present key never evicts.
        for _ in 0..10 {
            assert!(cache.insert("new", entry("new", g), &epoch));
        }
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn a_touch_moves_the_cached_idle_clock_forward_only() {
        let epoch = AuthEpoch::default();
        let cache = fresh_cache(10);
        let g = epoch.generation();
        cache.insert("a", entry("a", g), &epoch);
        cache.touched("a", 70_000);
        assert_eq!(cache.get("a", &epoch).unwrap().last_seen_at(), 70_000);
        cache.touched("a", 10_000);
        assert_eq!(cache.get("a", &epoch).unwrap().last_seen_at(), 70_000);
        // A refill read before the touch keeps the touch's time.
        cache.insert("a", entry("a", g), &epoch);
        assert_eq!(cache.get("a", &epoch).unwrap().last_seen_at(), 70_000);
    }
}
