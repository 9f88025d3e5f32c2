//! What other modules lend notify at start-up, since notify may not depend
//! on them: who may follow which object (a visibility check per object
//! type) and what the daily digest counts (a counter per module).

use kernel::{AppResult, Ctx, OrgPath, Principal};
use serde::Serialize;
use std::future::Future;
use std::pin::Pin;
use std::sync::RwLock;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An object a user may follow: its place and a title for listings.
#[derive(Debug, Clone)]
pub struct FollowTarget {
    pub org_path: OrgPath,
    pub title: String,
}

/// Resolves an object the caller can see (`None` when it is missing or out
/// of the caller's scope — both answered 404).
pub type FollowCheck =
    for<'a> fn(&'a Ctx, &'a Principal, &'a str) -> BoxFuture<'a, AppResult<Option<FollowTarget>>>;

/// The digest's day: `[day_start, day_end)` in Shanghai, and now.
#[derive(Debug, Clone, Copy)]
pub struct DigestWindow {
    pub now: i64,
    pub day_start: i64,
    pub day_end: i64,
}

/// One module's figures for a scope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DigestCounts {
    /// Filed in the last 24 hours.
    pub new: i64,
    /// Open and past their deadline.
    pub overdue: i64,
    /// Open with a deadline later today.
    pub due_today: i64,
}

impl DigestCounts {
    pub fn is_zero(&self) -> bool {
        self.new == 0 && self.overdue == 0 && self.due_today == 0
    }
}

/// Counts over the subtrees `roots`.
pub type DigestSource =
    for<'a> fn(&'a Ctx, &'a [OrgPath], DigestWindow) -> BoxFuture<'a, AppResult<DigestCounts>>;

static FOLLOWS: RwLock<Vec<(&'static str, FollowCheck)>> = RwLock::new(Vec::new());
static DIGESTS: RwLock<Vec<(&'static str, &'static str, DigestSource)>> = RwLock::new(Vec::new());

/// Lets users follow objects of `object_type` (idempotent).
pub fn register_follow(object_type: &'static str, check: FollowCheck) {
    let mut v = FOLLOWS.write().unwrap_or_else(|e| e.into_inner());
    v.retain(|(t, _)| *t != object_type);
    v.push((object_type, check));
}

pub fn follow_check(object_type: &str) -> Option<FollowCheck> {
    FOLLOWS
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|(t, _)| *t == object_type)
        .map(|(_, f)| *f)
}

pub fn follow_types() -> Vec<&'static str> {
    FOLLOWS
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(t, _)| *t)
        .collect()
}

/// Adds a digest section named `name`, labelled `label_zh` (idempotent).
pub fn register_digest(name: &'static str, label_zh: &'static str, source: DigestSource) {
    let mut v = DIGESTS.write().unwrap_or_else(|e| e.into_inner());
    v.retain(|(n, _, _)| *n != name);
    v.push((name, label_zh, source));
}

pub fn digest_sources() -> Vec<(&'static str, &'static str, DigestSource)> {
    DIGESTS.read().unwrap_or_else(|e| e.into_inner()).clone()
}
