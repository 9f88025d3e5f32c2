//! The shared context every module's routes run with.

use crate::calendar::WorkingCalendar;
use crate::clock::SharedClock;
use crate::crypto::FieldCipher;
use crate::db::Db;
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
        }
    }
}

#[derive(Clone)]
pub struct Ctx {
    pub db: Db,
    pub cipher: FieldCipher,
    pub clock: SharedClock,
    pub settings: Arc<Settings>,
    /// Office hours, holidays and 调休 days; reloaded when admins edit them.
    pub calendar: Arc<RwLock<WorkingCalendar>>,
    /// Login and intake rate limits.
    pub limits: Arc<crate::ratelimit::RateLimits>,
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
