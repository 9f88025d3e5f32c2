//! The shared context every module's routes run with.

use crate::clock::SharedClock;
use crate::crypto::FieldCipher;
use crate::db::Db;
use std::sync::Arc;

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
        }
    }
}

#[derive(Clone)]
pub struct Ctx {
    pub db: Db,
    pub cipher: FieldCipher,
    pub clock: SharedClock,
    pub settings: Arc<Settings>,
}

impl Ctx {
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}
