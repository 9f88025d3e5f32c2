//! Time. Stored as Unix milliseconds (BIGINT) in both databases so range
//! queries and day buckets are the same SQL everywhere; shown in the default
//! zone, Asia/Shanghai (UTC+8, no daylight saving).

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

pub const SHANGHAI_OFFSET_SECS: i32 = 8 * 3600;

pub fn shanghai() -> FixedOffset {
    FixedOffset::east_opt(SHANGHAI_OFFSET_SECS).expect("valid offset")
}

/// The clock is injectable so deadline and expiry tests are exact.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> i64;
}

pub type SharedClock = Arc<dyn Clock>;

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        Utc::now().timestamp_millis()
    }
}

/// A clock that only moves when told to.
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(ms: i64) -> Self {
        Self(AtomicI64::new(ms))
    }
    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
    pub fn set_ms(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// RFC 3339 with the +08:00 offset, as the contract requires.
pub fn to_rfc3339(ms: i64) -> String {
    shanghai()
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false))
        .unwrap_or_default()
}

/// "2026-11-29 09:18" for pages.
pub fn to_display(ms: i64) -> String {
    shanghai()
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

pub fn from_rfc3339(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Start of a calendar day (YYYY-MM-DD) in Shanghai, in ms.
pub fn day_start_ms(date: &str) -> Option<i64> {
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    let t = d.and_hms_opt(0, 0, 0)?;
    shanghai()
        .from_local_datetime(&t)
        .single()
        .map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_in_shanghai() {
        // 2026-11-29T01:18:00Z is 09:18 in Shanghai.
        let ms = Utc
            .with_ymd_and_hms(2026, 11, 29, 1, 18, 0)
            .unwrap()
            .timestamp_millis();
        assert_eq!(to_rfc3339(ms), "2026-11-29T09:18:00+08:00");
        assert_eq!(to_display(ms), "2026-11-29 09:18");
        assert_eq!(from_rfc3339("2026-11-29T09:18:00+08:00"), Some(ms));
    }

    #[test]
    fn day_start_is_local_midnight() {
        let ms = day_start_ms("2026-11-29").unwrap();
        assert_eq!(to_rfc3339(ms), "2026-11-29T00:00:00+08:00");
        assert!(day_start_ms("2026-13-01").is_none());
    }

    #[test]
    fn manual_clock_moves_when_told() {
        let c = ManualClock::new(1000);
        c.advance_ms(500);
        assert_eq!(c.now_ms(), 1500);
    }
}
