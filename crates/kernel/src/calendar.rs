//! The working-hours calendar that demand deadlines are computed on.
//!
//! Why: in the 12345 接诉即办 practice, dispatch and feedback limits count
//! office time (工作时间), so a demand filed on Friday evening is not overdue on
//! Saturday morning; weekends and public holidays are off, and 调休 weekend days
//! are worked. Urgent cases are the exception: their limits run round the clock
//! ([`LimitBasis::Natural`]).
//!
//! Pure (no IO). Times are Unix milliseconds; days and office hours are read in
//! Asia/Shanghai (fixed UTC+8, no daylight saving, see [`crate::clock`]).
//! Convention: when the minutes run out exactly at the end of an office period,
//! the deadline is that period's end (e.g. 12:00), not the next period's start.

use crate::clock::SHANGHAI_OFFSET_SECS;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const MIN_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;
const OFFSET_MS: i64 = SHANGHAI_OFFSET_SECS as i64 * 1000;
/// `NaiveDate::num_days_from_ce` of 1970-01-01, to map Unix day numbers to dates.
const UNIX_EPOCH_DAYS_FROM_CE: i64 = 719_163;

/// Office periods as minutes since local midnight, sorted and non-overlapping:
/// `[(510, 720), (870, 1080)]` is 08:30–12:00 and 14:30–18:00.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfficeHours {
    pub periods: Vec<(u32, u32)>,
}

/// A date that breaks the Mon–Fri rule: a public holiday (off), or a 调休
/// working day (a weekend day that is worked to make up for a long holiday).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    Holiday,
    Workday,
}

/// How a time limit is counted: round the clock (urgent cases) or in office time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitBasis {
    Natural,
    Working,
}

/// 2026 per 国务院办公厅关于2026年部分节假日安排的通知 (国办发明电〔2025〕7号,
/// issued 2025-11-04): every day off in each holiday block (weekend days included, as
/// the notice lists them) and the six 调休 working days. 2027-01-01 (元旦, a
/// Friday) is added ahead of the 2027 notice, which may add more days.
#[rustfmt::skip]
pub const CHINA_2026: &[(&str, DayKind)] = {
    use DayKind::{Holiday as H, Workday as W};
    &[
        // 元旦: 1/1 (Thu) – 1/3 off; Sun 1/4 worked.
        ("2026-01-01", H), ("2026-01-02", H), ("2026-01-03", H), ("2026-01-04", W),
        // 春节: Sat 2/14 worked; 2/15 (腊月二十八, Sun) – 2/23 (正月初七, Mon) off; Sat 2/28 worked.
        ("2026-02-14", W), ("2026-02-15", H), ("2026-02-16", H), ("2026-02-17", H),
        ("2026-02-18", H), ("2026-02-19", H), ("2026-02-20", H), ("2026-02-21", H),
        ("2026-02-22", H), ("2026-02-23", H), ("2026-02-28", W),
        // 清明节: 4/4 (Sat) – 4/6 (Mon) off.
        ("2026-04-04", H), ("2026-04-05", H), ("2026-04-06", H),
        // 劳动节: 5/1 (Fri) – 5/5 (Tue) off; Sat 5/9 worked.
        ("2026-05-01", H), ("2026-05-02", H), ("2026-05-03", H), ("2026-05-04", H),
        ("2026-05-05", H), ("2026-05-09", W),
        // 端午节: 6/19 (Fri) – 6/21 (Sun) off.
        ("2026-06-19", H), ("2026-06-20", H), ("2026-06-21", H),
        // 中秋节 (Sun 9/20 is a 国庆 make-up day, worked); 9/25 (Fri) – 9/27 (Sun) off.
        ("2026-09-20", W), ("2026-09-25", H), ("2026-09-26", H), ("2026-09-27", H),
        // 国庆节: 10/1 (Thu) – 10/7 (Wed) off; Sat 10/10 worked.
        ("2026-10-01", H), ("2026-10-02", H), ("2026-10-03", H), ("2026-10-04", H),
        ("2026-10-05", H), ("2026-10-06", H), ("2026-10-07", H), ("2026-10-10", W),
        // 2027 元旦 (statutory day only; the 2027 notice is not yet in here).
        ("2027-01-01", H),
    ]
};

/// Parses "08:30-12:00,14:30-18:00" into office periods (checked the same
/// way as [`WorkingCalendar::new`]).
pub fn parse_office_hours(text: &str) -> Result<Vec<(u32, u32)>, String> {
    let minutes = |t: &str| -> Result<u32, String> {
        let (h, m) = t
            .trim()
            .split_once(':')
            .ok_or_else(|| format!("bad time {t:?}, expected HH:MM"))?;
        let (h, m): (u32, u32) = (
            h.parse().map_err(|_| format!("bad hour in {t:?}"))?,
            m.parse().map_err(|_| format!("bad minute in {t:?}"))?,
        );
        if h > 24 || m > 59 || (h == 24 && m > 0) {
            return Err(format!("bad time {t:?}"));
        }
        Ok(h * 60 + m)
    };
    let periods = text
        .split(',')
        .map(|p| {
            let (a, b) = p
                .split_once('-')
                .ok_or_else(|| format!("bad period {p:?}, expected HH:MM-HH:MM"))?;
            Ok((minutes(a)?, minutes(b)?))
        })
        .collect::<Result<Vec<_>, String>>()?;
    WorkingCalendar::new(
        OfficeHours {
            periods: periods.clone(),
        },
        [],
    )
    .map(|_| periods)
}

/// Office hours plus dated overrides; the weekday rule covers every other day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkingCalendar {
    office: OfficeHours,
    overrides: BTreeMap<NaiveDate, DayKind>,
}

/// Unix ms → (local day number since 1970-01-01, ms into that local day).
fn split(ms: i64) -> (i64, i64) {
    let local = ms.saturating_add(OFFSET_MS);
    (local.div_euclid(DAY_MS), local.rem_euclid(DAY_MS))
}

/// Local day number + ms into the day → Unix ms (saturating for absurd spans).
fn join(day: i64, tod: i64) -> i64 {
    day.saturating_mul(DAY_MS)
        .saturating_add(tod)
        .saturating_sub(OFFSET_MS)
}

fn day_number(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce()) - UNIX_EPOCH_DAYS_FROM_CE
}

impl WorkingCalendar {
    /// Checks that there is at least one period, each `start < end <= 1440`,
    /// sorted and non-overlapping (touching is allowed). Later duplicate
    /// override dates win.
    pub fn new(
        office: OfficeHours,
        overrides: impl IntoIterator<Item = (NaiveDate, DayKind)>,
    ) -> Result<Self, String> {
        if office.periods.is_empty() {
            return Err("office hours need at least one period".into());
        }
        let mut prev_end = 0;
        for &(s, e) in &office.periods {
            if s >= e || e > 1440 {
                return Err(format!("office period {s}–{e}: need start < end <= 1440"));
            }
            if s < prev_end {
                return Err(format!("office period {s}–{e} overlaps or is out of order"));
            }
            prev_end = e;
        }
        let overrides = overrides.into_iter().collect();
        Ok(Self { office, overrides })
    }

    /// 08:30–12:00 and 14:30–18:00 (a common 街道/社区 schedule) with [`CHINA_2026`].
    pub fn china_default() -> Self {
        let overrides = CHINA_2026
            .iter()
            .map(|&(d, k)| (d.parse().expect("CHINA_2026 date"), k));
        let periods = vec![(510, 720), (870, 1080)];
        Self::new(OfficeHours { periods }, overrides).expect("default office hours are valid")
    }

    /// Mon–Fri unless overridden as a holiday; Sat/Sun only if overridden as a 调休 workday.
    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        match self.overrides.get(&d) {
            Some(k) => *k == DayKind::Workday,
            None => d.weekday().num_days_from_monday() < 5,
        }
    }

    fn is_working(&self, day: i64) -> bool {
        let date = i32::try_from(day + UNIX_EPOCH_DAYS_FROM_CE)
            .ok()
            .and_then(NaiveDate::from_num_days_from_ce_opt);
        match date {
            Some(d) => self.is_working_day(d),
            // Beyond chrono's range: plain weekday rule (1970-01-01 was a Thursday).
            None => (day + 3).rem_euclid(7) < 5,
        }
    }

    /// Office periods in ms since local midnight.
    fn periods_ms(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.office
            .periods
            .iter()
            .map(|&(s, e)| (i64::from(s) * MIN_MS, i64::from(e) * MIN_MS))
    }

    /// Office ms in one plain week (any 7 consecutive days without overrides have 5 working days).
    fn week_ms(&self) -> i64 {
        5 * self.periods_ms().map(|(s, e)| e - s).sum::<i64>()
    }

    /// How many whole weeks from `day` on contain no override, capped at `max`,
    /// so long spans skip a week at a time instead of walking every day.
    fn plain_weeks(&self, day: i64, max: i64) -> i64 {
        let (mut keys, last) = (self.overrides.keys(), self.overrides.keys().next_back());
        match (keys.next(), last) {
            (Some(first), Some(last)) if day <= day_number(*last) => {
                max.min((day_number(*first) - day).max(0) / 7)
            }
            _ => max,
        }
    }

    /// The first office instant at or after `ms` (`ms` itself when inside a
    /// period; a period's end belongs to the break after it). This is where
    /// the working clock of a demand filed at `ms` starts.
    pub fn next_office_moment(&self, ms: i64) -> i64 {
        let (mut day, mut tod) = split(ms);
        loop {
            if self.is_working(day) {
                if let Some((s, _)) = self.periods_ms().find(|&(_, e)| tod < e) {
                    return join(day, tod.max(s));
                }
            }
            day += 1;
            tod = 0;
        }
    }

    /// The instant at which `minutes` of office time have elapsed after
    /// `start_ms`. Counting begins at the next office moment when the start is
    /// outside office hours; `minutes <= 0` returns `start_ms` unchanged; if
    /// the minutes run out exactly at a period end, that end is returned.
    pub fn add_working_minutes(&self, start_ms: i64, minutes: i64) -> i64 {
        if minutes <= 0 {
            return start_ms;
        }
        let mut rem = minutes.saturating_mul(MIN_MS);
        let week = self.week_ms();
        let (mut day, mut tod) = split(start_ms);
        loop {
            if tod == 0 && rem > week {
                // Leave 0 < rem <= week so the end-of-period convention holds.
                let k = self.plain_weeks(day, (rem - 1) / week);
                day += 7 * k;
                rem -= k * week;
            }
            if self.is_working(day) {
                for (s, e) in self.periods_ms() {
                    if tod >= e {
                        continue;
                    }
                    let from = tod.max(s);
                    if rem <= e - from {
                        return join(day, from + rem);
                    }
                    rem -= e - from;
                }
            }
            day += 1;
            tod = 0;
        }
    }

    /// Office minutes in `[from_ms, to_ms)` (whole minutes, rounded down); 0 if `to_ms <= from_ms`.
    pub fn working_minutes_between(&self, from_ms: i64, to_ms: i64) -> i64 {
        if to_ms <= from_ms {
            return 0;
        }
        let (mut day, mut tod) = split(from_ms);
        let (end_day, end_tod) = split(to_ms);
        let week = self.week_ms();
        let mut total: i64 = 0;
        while day <= end_day {
            if tod == 0 {
                let k = self.plain_weeks(day, (end_day - day) / 7);
                if k > 0 {
                    total = total.saturating_add(k.saturating_mul(week));
                    day += 7 * k;
                    continue;
                }
            }
            if self.is_working(day) {
                let lim = if day == end_day { end_tod } else { DAY_MS };
                for (s, e) in self.periods_ms() {
                    total += (e.min(lim) - s.max(tod)).max(0);
                }
            }
            day += 1;
            tod = 0;
        }
        total / MIN_MS
    }

    /// When a limit of `minutes` that starts at `start_ms` falls due: round the
    /// clock for [`LimitBasis::Natural`] (urgent cases), office time for
    /// [`LimitBasis::Working`].
    pub fn deadline(&self, start_ms: i64, minutes: i64, basis: LimitBasis) -> i64 {
        match basis {
            LimitBasis::Natural => start_ms.saturating_add(minutes.saturating_mul(MIN_MS)),
            LimitBasis::Working => self.add_working_minutes(start_ms, minutes),
        }
    }
}

#[cfg(test)]
mod office_hours_tests {
    use super::parse_office_hours;

    #[test]
    fn office_hours_parse() {
        assert_eq!(
            parse_office_hours("08:30-12:00,14:30-18:00").unwrap(),
            vec![(510, 720), (870, 1080)]
        );
        assert_eq!(
            parse_office_hours("09:00-17:30").unwrap(),
            vec![(540, 1050)]
        );
        for bad in [
            "",
            "9-17",
            "12:00-08:00",
            "08:00-12:00,11:00-13:00",
            "25:00-26:00",
            "08:60-09:00",
        ] {
            assert!(parse_office_hours(bad).is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{shanghai, to_display};
    use chrono::TimeZone;
    use proptest::prelude::*;

    /// Shanghai wall-clock time → Unix ms.
    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        let t = shanghai().with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap();
        t.timestamp_millis()
    }

    fn cal() -> WorkingCalendar {
        WorkingCalendar::china_default()
    }

    /// The working deadline shown as "YYYY-MM-DD HH:MM" (Shanghai).
    fn due(start: i64, minutes: i64) -> String {
        to_display(cal().add_working_minutes(start, minutes))
    }

    fn between(from: i64, to: i64) -> i64 {
        cal().working_minutes_between(from, to)
    }

    #[test]
    fn friday_evening_runs_into_monday() {
        // Fri 2026-03-13 17:00 + 120: 60 min Fri 17:00–18:00, 60 min Mon 2026-03-16 08:30–09:30.
        let start = at(2026, 3, 13, 17, 0);
        assert_eq!(due(start, 120), "2026-03-16 09:30");
        assert_eq!(between(start, at(2026, 3, 16, 9, 30)), 120);
    }

    #[test]
    fn lunch_break_is_skipped() {
        // Wed 2026-03-11 11:30 + 60: 30 min to 12:00, then 14:30–15:00.
        assert_eq!(due(at(2026, 3, 11, 11, 30), 60), "2026-03-11 15:00");
        // Exactly 30 min left in the morning: lands at 12:00, not 14:30.
        assert_eq!(due(at(2026, 3, 11, 11, 30), 30), "2026-03-11 12:00");
        // Wed 08:00–20:00 holds the whole office day; empty and reversed ranges hold nothing.
        let (t0, t1) = (at(2026, 3, 11, 8, 0), at(2026, 3, 11, 20, 0));
        assert_eq!(
            (between(t0, t1), between(t0, t0), between(t1, t0)),
            (420, 0, 0)
        );
    }

    #[test]
    fn saturday_start_begins_monday_morning() {
        // Sat 2026-03-14 10:00 → the clock starts Mon 2026-03-16 08:30.
        let sat = at(2026, 3, 14, 10, 0);
        assert_eq!(due(sat, 1), "2026-03-16 08:31");
        assert_eq!(cal().next_office_moment(sat), at(2026, 3, 16, 8, 30));
        assert_eq!(cal().add_working_minutes(sat, 0), sat);
        assert_eq!(between(sat, at(2026, 3, 16, 8, 30)), 0);
    }

    #[test]
    fn holiday_monday_pushes_to_tuesday() {
        // Fri 2026-04-03 17:00 + 120: 60 min Friday; Sat 4/4–Mon 4/6 are 清明 off;
        // 60 min Tue 2026-04-07 08:30–09:30.
        assert_eq!(due(at(2026, 4, 3, 17, 0), 120), "2026-04-07 09:30");
    }

    #[test]
    fn tiaoxiu_saturday_is_worked() {
        // Fri 2026-02-27 17:00 + 120: 60 min Friday, 60 min Sat 2026-02-28 (调休) 08:30–09:30.
        assert_eq!(due(at(2026, 2, 27, 17, 0), 120), "2026-02-28 09:30");
        // 调休 Sat and Sun worked; a plain Saturday and the 国庆 Monday off.
        let worked = |d: &str| cal().is_working_day(d.parse().unwrap());
        assert!(worked("2026-02-28") && worked("2026-01-04"));
        assert!(!worked("2026-03-14") && !worked("2026-10-05"));
    }

    #[test]
    fn seven_working_days_across_a_weekend() {
        // Wed 2026-03-11 08:30 + 7 × 420 = 2940 min: Wed 11, Thu 12, Fri 13, Mon 16,
        // Tue 17, Wed 18, Thu 19 → Thu 2026-03-19 18:00 (period end, not Fri 08:30).
        let start = at(2026, 3, 11, 8, 30);
        assert_eq!(due(start, 2940), "2026-03-19 18:00");
        assert_eq!(between(start, at(2026, 3, 19, 18, 0)), 2940);
    }

    #[test]
    fn fifteen_days_across_mid_autumn_and_national_day() {
        // Thu 2026-09-17 08:30 + 15 × 420 min. Working days: 9/17, 9/18, Sun 9/20 (调休),
        // 9/21, 9/22, 9/23, 9/24, [9/25–27 中秋], 9/28, 9/29, 9/30, [10/1–7 国庆],
        // 10/8, 10/9, Sat 10/10 (调休), 10/12, 10/13 → Tue 2026-10-13 18:00.
        let start = at(2026, 9, 17, 8, 30);
        let end = cal().deadline(start, 15 * 420, LimitBasis::Working);
        assert_eq!(end, at(2026, 10, 13, 18, 0));
        assert_eq!(between(start, end), 15 * 420);
    }

    #[test]
    fn long_spans_are_fast_and_exact() {
        // Ten years of office time: weeks are skipped whole past the last override.
        let start = at(2026, 12, 28, 9, 0);
        let minutes = 10 * 52 * 5 * 420;
        assert_eq!(
            between(start, cal().add_working_minutes(start, minutes)),
            minutes
        );
        // No overrides: Mon 2026-03-02 08:30 + 52 weeks of office time → Fri 2027-02-26 18:00.
        let periods = vec![(510, 720), (870, 1080)];
        let plain = WorkingCalendar::new(OfficeHours { periods }, []).unwrap();
        let end = plain.add_working_minutes(at(2026, 3, 2, 8, 30), 52 * 5 * 420);
        assert_eq!(end, at(2027, 2, 26, 18, 0));
    }

    #[test]
    fn natural_basis_ignores_the_calendar() {
        // Fri 2026-04-03 17:00 + 120 natural minutes → 19:00 the same day; + 24 h → Sat
        // 2026-04-04 17:00, a 清明 holiday.
        let start = at(2026, 4, 3, 17, 0);
        let natural = |m| cal().deadline(start, m, LimitBasis::Natural);
        assert_eq!(natural(120), at(2026, 4, 3, 19, 0));
        assert_eq!(natural(24 * 60), at(2026, 4, 4, 17, 0));
    }

    #[test]
    fn office_hours_are_validated() {
        let new = |periods| WorkingCalendar::new(OfficeHours { periods }, []);
        assert!(new(vec![]).is_err());
        assert!(new(vec![(600, 600)]).is_err());
        assert!(new(vec![(600, 1441)]).is_err());
        assert!(new(vec![(870, 1080), (510, 720)]).is_err());
        assert!(new(vec![(510, 900), (870, 1080)]).is_err());
        assert!(new(vec![(0, 720), (720, 1440)]).is_ok());
    }

    #[test]
    fn china_2026_table_is_consistent() {
        let dates: Vec<(NaiveDate, DayKind)> = CHINA_2026
            .iter()
            .map(|&(d, k)| (d.parse().unwrap(), k))
            .collect();
        let count = |k| dates.iter().filter(|x| x.1 == k).count();
        // 33 days off in 2026 + 2027-01-01; six 调休 days, all on a weekend.
        assert_eq!((count(DayKind::Holiday), count(DayKind::Workday)), (34, 6));
        for (d, k) in dates {
            assert_eq!(cal().is_working_day(d), k == DayKind::Workday, "{d}");
            let weekend = d.weekday().num_days_from_monday() >= 5;
            assert!(k == DayKind::Holiday || weekend, "调休 day {d}");
        }
        let json = serde_json::to_string(&(DayKind::Workday, LimitBasis::Natural)).unwrap();
        assert_eq!(json, r#"["workday","natural"]"#);
    }

    /// 2025-12-01 .. 2027-02-01 in Shanghai, so the holidays are exercised.
    fn any_start() -> impl Strategy<Value = i64> {
        at(2025, 12, 1, 0, 0)..at(2027, 2, 1, 0, 0)
    }

    proptest! {
        #[test]
        fn between_inverts_add(start in any_start(), m in 0i64..20_000) {
            let c = cal();
            let end = c.add_working_minutes(start, m);
            prop_assert_eq!(c.working_minutes_between(c.next_office_moment(start), end), m);
            prop_assert_eq!(c.working_minutes_between(start, end), m);
        }

        #[test]
        fn add_is_monotonic_and_lands_in_office(start in any_start(), a in 0i64..10_000, b in 0i64..10_000) {
            let c = cal();
            let (lo, hi) = (a.min(b), a.max(b));
            prop_assert!(c.add_working_minutes(start, lo) <= c.add_working_minutes(start, hi));
            if hi > 0 {
                // On a working day, strictly after a period's start and at most at its end.
                let (day, tod) = split(c.add_working_minutes(start, hi));
                prop_assert!(c.is_working(day));
                prop_assert!(c.periods_ms().any(|(s, e)| s < tod && tod <= e));
            }
        }
    }
}
