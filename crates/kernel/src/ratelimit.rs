//! Per-key rate limits (login attempts per client address, filings per
//! user): a fixed window per key, kept in memory. A limit answers 429 with
//! `Retry-After`; it protects the argon2 check and the intake path from
//! floods without touching the database.

use std::collections::HashMap;
use std::sync::Mutex;

pub struct RateLimiter {
    limit: u32,
    window_ms: i64,
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

impl RateLimiter {
    pub fn new(limit: u32, window_ms: i64) -> RateLimiter {
        RateLimiter {
            limit,
            window_ms,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one event for `key` at `now`; `Err(seconds)` when over the limit.
    pub fn check(&self, key: &str, now: i64) -> Result<(), i64> {
        if self.limit == 0 {
            return Ok(());
        }
        let mut w = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if w.len() > 100_000 {
            // Forget finished windows so the map stays small under a flood of keys.
            let window = self.window_ms;
            w.retain(|_, (start, _)| now - *start < window);
        }
        let entry = w.entry(key.to_string()).or_insert((now, 0));
        if now - entry.0 >= self.window_ms {
            *entry = (now, 0);
        }
        if entry.1 >= self.limit {
            let retry = (entry.0 + self.window_ms - now + 999) / 1000;
            return Err(retry.max(1));
        }
        entry.1 += 1;
        Ok(())
    }
}

/// The limits the modules use.
pub struct RateLimits {
    /// Login attempts per client address per minute.
    pub login: RateLimiter,
    /// Demands filed per account per minute.
    pub intake: RateLimiter,
}

impl RateLimits {
    pub fn per_minute(login: u32, intake: u32) -> RateLimits {
        RateLimits {
            login: RateLimiter::new(login, 60_000),
            intake: RateLimiter::new(intake, 60_000),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_allows_the_limit_then_refuses_until_it_ends() {
        let l = RateLimiter::new(3, 60_000);
        for _ in 0..3 {
            assert!(l.check("a", 1_000).is_ok());
        }
        assert_eq!(l.check("a", 1_000), Err(60));
        assert_eq!(l.check("a", 31_000), Err(30));
        assert!(l.check("b", 1_000).is_ok(), "keys are separate");
        assert!(l.check("a", 61_000).is_ok(), "a new window");
    }

    #[test]
    fn zero_means_unlimited() {
        let l = RateLimiter::new(0, 60_000);
        for _ in 0..1000 {
            assert!(l.check("a", 0).is_ok());
        }
    }
}
