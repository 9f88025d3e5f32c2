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
///
/// Written digit by digit: a list of 20 demands formats some 80 of these,
/// and chrono's formatter (a parsed item list driven through `fmt::Write`)
/// was a visible share of a list request. Shanghai has one fixed offset, so
/// the civil date is plain arithmetic. Years outside 0000–9999 (never a
/// stored time) go through chrono.
pub fn to_rfc3339(ms: i64) -> String {
    match rfc3339_bytes(ms) {
        // Only ASCII digits and separators were written.
        Some(b) => String::from_utf8(b.to_vec()).unwrap_or_default(),
        None => shanghai()
            .timestamp_millis_opt(ms)
            .single()
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false))
            .unwrap_or_default(),
    }
}

/// [`to_rfc3339`] without an allocation, for a serialiser that writes the
/// text straight out: `None` for a year outside 0000–9999.
pub fn rfc3339_bytes(ms: i64) -> Option<[u8; 25]> {
    let secs = ms.div_euclid(1000) + i64::from(SHANGHAI_OFFSET_SECS);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    if !(0..=9999).contains(&year) {
        return None;
    }
    let of_day = secs.rem_euclid(86_400);
    let mut out = *b"0000-00-00T00:00:00+08:00";
    let two = |out: &mut [u8; 25], at: usize, v: i64| {
        out[at] = b'0' + (v / 10) as u8;
        out[at + 1] = b'0' + (v % 10) as u8;
    };
    two(&mut out, 0, year / 100);
    two(&mut out, 2, year % 100);
    two(&mut out, 5, month);
    two(&mut out, 8, day);
    two(&mut out, 11, of_day / 3600);
    two(&mut out, 14, of_day / 60 % 60);
    two(&mut out, 17, of_day % 60);
    Some(out)
}

/// (year, month, day) of the proleptic Gregorian calendar for a count of
/// days since 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
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

    proptest::proptest! {
        /// The hand-written formatter agrees with chrono's everywhere a
        /// stored time can be, and beyond (years -9999 to 99999).
        #[test]
        fn rfc3339_agrees_with_chrono(ms in -377_705_116_800_000i64..3_093_527_980_800_000) {
            let chrono = shanghai()
                .timestamp_millis_opt(ms)
                .single()
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false))
                .unwrap_or_default();
            proptest::prop_assert_eq!(to_rfc3339(ms), chrono);
        }
    }

    #[test]
    fn rfc3339_at_the_edges_of_days_and_years() {
        for (ms, text) in [
            (0, "1970-01-01T08:00:00+08:00"),
            (-1, "1970-01-01T07:59:59+08:00"),
            (-28_800_000, "1970-01-01T00:00:00+08:00"),
            (-28_800_001, "1969-12-31T23:59:59+08:00"),
            (951_753_600_000, "2000-02-29T00:00:00+08:00"),
            (253_402_271_999_000, "9999-12-31T23:59:59+08:00"),
        ] {
            assert_eq!(to_rfc3339(ms), text, "{ms}");
        }
    }

    #[test]
    fn manual_clock_moves_when_told() {
        let c = ManualClock::new(1000);
        c.advance_ms(500);
        assert_eq!(c.now_ms(), 1500);
    }
}
