//! The shared context every module's routes run with.

use crate::calendar::WorkingCalendar;
use crate::clock::SharedClock;
use crate::crypto::FieldCipher;
use crate::db::Db;
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Run-time settings the modules need (the full configuration lives in app).
#[derive(Clone, Debug)]
pub struct Settings {
    /// Demo mode: no second factor, demo hints on the login page.
    pub demo: bool,
    /// Sessions end after this much inactivity …
    pub session_idle_minutes: i64,
    /// … and at the latest this long after login.
    pub session_absolute_minutes: i64,
    /// Set the `Secure` flag on cookies (behind TLS).
    pub secure_cookies: bool,
    /// Failed logins in the window that lock an account, and the window.
    pub lockout_failures: i64,
    pub lockout_window_minutes: i64,
    /// A resident may reopen a resolved or closed demand within this many days.
    pub reopen_days: i64,
    /// A demand left unrated this many days after it was resolved …
    pub unrated_days: i64,
    /// … counts as satisfied (the 12345 默认满意 practice) or is left out.
    pub unrated_counts_as_satisfied: bool,
    /// Office periods (minutes since local midnight) for working-time limits.
    pub office_hours: Vec<(u32, u32)>,
    /// Login attempts allowed per client address per minute (0 = no limit).
    pub login_rate_per_minute: u32,
    /// Demands one account may file per minute (0 = no limit).
    pub intake_rate_per_minute: u32,
    /// Webhooks may point at loopback / private addresses (SSRF guard off).
    pub webhook_allow_private: bool,
    /// One webhook request may take this long before it counts as failed.
    pub webhook_timeout_seconds: u64,
    /// The first retry waits this long; each further one twice as long.
    pub webhook_retry_base_seconds: i64,
    /// Attempts before a delivery is dead-lettered.
    pub webhook_max_attempts: i64,
    /// Local time (minutes since midnight, Asia/Shanghai) of the daily digest.
    pub digest_minute: u32,
    /// Seconds between heartbeat comments on live-update streams.
    pub sse_heartbeat_seconds: u64,
    /// Idle limit of sessions of system admins, security admins and auditors.
    pub session_idle_privileged_minutes: i64,
    /// Staff must change a password this old (0 = never). Off in demo mode.
    pub password_max_age_days: i64,
    /// Staff log in with a TOTP code as well. Never in demo mode.
    pub require_totp_for_staff: bool,
}

impl Settings {
    /// Is the second factor in force (configured, and not the demo)?
    pub fn totp_required(&self) -> bool {
        self.require_totp_for_staff && !self.demo
    }

    /// The password age limit in force (none in demo mode, where the
    /// contract's demo password must keep working).
    pub fn password_max_age_in_force(&self) -> i64 {
        if self.demo {
            0
        } else {
            self.password_max_age_days
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            demo: false,
            session_idle_minutes: 30,
            session_absolute_minutes: 12 * 60,
            secure_cookies: false,
            lockout_failures: 5,
            lockout_window_minutes: 15,
            reopen_days: 7,
            unrated_days: 7,
            unrated_counts_as_satisfied: false,
            office_hours: vec![(510, 720), (870, 1080)],
            login_rate_per_minute: 30,
            intake_rate_per_minute: 20,
            webhook_allow_private: false,
            webhook_timeout_seconds: 10,
            webhook_retry_base_seconds: 30,
            webhook_max_attempts: 6,
            digest_minute: 8 * 60,
            sse_heartbeat_seconds: 15,
            session_idle_privileged_minutes: 15,
            password_max_age_days: 90,
            require_totp_for_staff: true,
        }
    }
}

/// The state every handler shares, behind one `Arc`: axum clones the state
/// for each extractor and layer of every request, and as a struct of seven
/// shared handles (some of them structs of handles again) each clone and
/// drop was a dozen atomic operations on counters both cores touch. Fields
/// read through `Deref` (`ctx.db`); [`Ctx::new`] makes one.
#[derive(Clone)]
pub struct Ctx(Arc<CtxParts>);

impl Ctx {
    pub fn new(parts: CtxParts) -> Ctx {
        Ctx(Arc::new(parts))
    }
}

impl std::ops::Deref for Ctx {
    type Target = CtxParts;

    fn deref(&self) -> &CtxParts {
        &self.0
    }
}

/// What a [`Ctx`] holds.
#[derive(Clone)]
pub struct CtxParts {
    pub db: Db,
    pub cipher: FieldCipher,
    pub clock: SharedClock,
    pub settings: Arc<Settings>,
    /// Office hours, holidays and 调休 days; reloaded when admins edit them.
    pub calendar: Arc<RwLock<WorkingCalendar>>,
    /// Login and intake rate limits.
    pub limits: Arc<crate::ratelimit::RateLimits>,
    /// Per-context state a module keeps for itself (e.g. notify's live-update
    /// hub), one value per type, made on first use.
    pub extensions: Arc<Extensions>,
}

/// A type map: each module stores one value of its own type here, so a
/// module's in-memory state lives exactly as long as its context (two test
/// servers in one process never share it).
#[derive(Default)]
pub struct Extensions(RwLock<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>);

impl Extensions {
    /// The stored `T`, or the one `init` makes (stored for next time).
    pub fn get_or_init<T: Any + Send + Sync>(&self, init: impl FnOnce() -> T) -> Arc<T> {
        let key = TypeId::of::<T>();
        if let Some(v) = self
            .0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned()
        {
            if let Ok(t) = v.downcast::<T>() {
                return t;
            }
        }
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        let v = map
            .entry(key)
            .or_insert_with(|| Arc::new(init()) as Arc<dyn Any + Send + Sync>)
            .clone();
        v.downcast::<T>().expect("stored under its own type id")
    }

    /// The stored `T`, if one was made.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&TypeId::of::<T>())
            .cloned()
            .and_then(|v| v.downcast::<T>().ok())
    }
}

impl std::fmt::Debug for Extensions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Extensions")
    }
}

impl Ctx {
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// A snapshot of the working calendar.
    pub fn calendar(&self) -> WorkingCalendar {
        self.calendar
            .read()
            .map(|c| c.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }
}
