//! Pure rules of the insight module: the league-table score (configurable
//! weights and thresholds per indicator), ranking with ties, period-over-
//! period movement, the previous period, the time buckets of a chart, and
//! month and date helpers. No IO; the indicators themselves come from
//! [`cases::rates`] (one computation path with `/api/v1/insight/rates`).
//!
//! **Score.** Each criterion names an indicator, the points it is worth, a
//! threshold and a deduction per percentage point: an indicator at or
//! beyond its threshold earns the full points, and each percentage point
//! short of it costs `per_point` points, never below zero. For 返工率
//! (lower is better) the threshold is a ceiling. E.g. 按期结案率 ≥ 70 % earns
//! the full 50 points, 65 % earns 45. A criterion whose denominator is zero
//! (nothing rated, nothing due, nothing handled) does not apply; the points
//! earned on the criteria that do apply are scaled to the full total, and a
//! unit where none applies has no score (and no rank).

use cases::rates::{Counts, Period, Rates};
use chrono::{Datelike, NaiveDate};
use kernel::FieldErrors;
use serde::{Deserialize, Serialize};

pub const DAY_MS: i64 = 86_400_000;
/// Asia/Shanghai is UTC+8 all year.
pub const SHANGHAI_MS: i64 = 8 * 3_600_000;

/// The Shanghai calendar day of an instant, as days since 1970-01-01; the
/// SQL form is `(t + 28800000) / 86400000`.
pub fn day_of(ms: i64) -> i64 {
    (ms + SHANGHAI_MS).div_euclid(DAY_MS)
}

/// The instant a Shanghai day starts.
pub fn day_start(day: i64) -> i64 {
    day * DAY_MS - SHANGHAI_MS
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date")
}

pub fn date_of_day(day: i64) -> NaiveDate {
    epoch() + chrono::Duration::days(day)
}

pub fn day_of_date(d: NaiveDate) -> i64 {
    (d - epoch()).num_days()
}

/// `YYYY-MM-DD` of a day number.
pub fn day_string(day: i64) -> String {
    date_of_day(day).format("%Y-%m-%d").to_string()
}

/// The first and last day (inclusive) of a period, as `YYYY-MM-DD`.
pub fn period_dates(p: &Period) -> (String, String) {
    (
        day_string(day_of(p.from_ms)),
        day_string(day_of(p.to_ms) - 1),
    )
}

/// The period of whole days `[from, to]` (inclusive day numbers).
pub fn period_of_days(from_day: i64, to_day_inclusive: i64) -> Period {
    Period {
        from_ms: day_start(from_day),
        to_ms: day_start(to_day_inclusive + 1),
    }
}

fn first_of_month(y: i32, m: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, 1)
}

/// Adds `n` months (may be negative) to the first day of a month.
fn shift_month(d: NaiveDate, n: i32) -> Option<NaiveDate> {
    let months = d.year() * 12 + d.month0() as i32 + n;
    first_of_month(months.div_euclid(12), months.rem_euclid(12) as u32 + 1)
}

/// A strict `YYYY-MM` month → the period of its days.
pub fn parse_month(s: &str) -> Option<Period> {
    let b = s.as_bytes();
    let shape = b.len() == 7
        && b[4] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || c.is_ascii_digit());
    if !shape {
        return None;
    }
    let y: i32 = s[..4].parse().ok()?;
    let m: u32 = s[5..].parse().ok()?;
    if !(1970..=9998).contains(&y) {
        return None;
    }
    let first = first_of_month(y, m)?;
    let next = shift_month(first, 1)?;
    Some(Period {
        from_ms: day_start(day_of_date(first)),
        to_ms: day_start(day_of_date(next)),
    })
}

/// When the period is a run of whole calendar months: (first month's first
/// day, number of months).
fn whole_months(p: &Period) -> Option<(NaiveDate, i32)> {
    let from = date_of_day(day_of(p.from_ms));
    let end = date_of_day(day_of(p.to_ms)); // the day after the last
    if from.day() != 1 || end.day() != 1 {
        return None;
    }
    let n = (end.year() - from.year()) * 12 + end.month() as i32 - from.month() as i32;
    (n > 0).then_some((from, n))
}

/// `YYYY-MM` when the period is exactly one calendar month.
pub fn month_of(p: &Period) -> Option<String> {
    match whole_months(p) {
        Some((first, 1)) => Some(first.format("%Y-%m").to_string()),
        _ => None,
    }
}

/// The period just before, to compare with: the same number of calendar
/// months when the period is whole months (November → October), else the
/// same number of days ending the day before it starts.
pub fn previous(p: &Period) -> Period {
    if let Some((first, n)) = whole_months(p) {
        if let Some(start) = shift_month(first, -n) {
            return Period {
                from_ms: day_start(day_of_date(start)),
                to_ms: p.from_ms,
            };
        }
    }
    let days = day_of(p.to_ms) - day_of(p.from_ms);
    Period {
        from_ms: day_start(day_of(p.from_ms) - days),
        to_ms: p.from_ms,
    }
}

/// The ready-made periods of the picker, for a given today (day number):
/// (key, from, to) with dates as `YYYY-MM-DD`.
pub fn presets(today: i64) -> Vec<(&'static str, String, String)> {
    let t = date_of_day(today);
    let month = first_of_month(t.year(), t.month()).expect("valid");
    let next_month = shift_month(month, 1).expect("valid");
    let last_month = shift_month(month, -1).expect("valid");
    let quarter = first_of_month(t.year(), t.month0() / 3 * 3 + 1).expect("valid");
    let next_quarter = shift_month(quarter, 3).expect("valid");
    let year = first_of_month(t.year(), 1).expect("valid");
    let d = |x: NaiveDate| x.format("%Y-%m-%d").to_string();
    let before = |x: NaiveDate| d(x - chrono::Duration::days(1));
    vec![
        ("this_month", d(month), before(next_month)),
        ("last_month", d(last_month), before(month)),
        ("this_quarter", d(quarter), before(next_quarter)),
        ("this_year", d(year), format!("{}-12-31", t.year())),
        ("last_30_days", d(t - chrono::Duration::days(29)), d(t)),
    ]
}

// ------------------------------------------------------------------ buckets

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BucketKind {
    Day,
    Week,
    Month,
}

/// One time bucket of a chart: days `[from_day, to_day)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bucket {
    pub from_day: i64,
    pub to_day: i64,
    /// The first day, `YYYY-MM-DD` (a stable key).
    pub key: String,
    /// Short axis label: `03-01` for days and weeks, `2025-03` for months.
    pub label: String,
}

impl Bucket {
    pub fn period(&self) -> Period {
        Period {
            from_ms: day_start(self.from_day),
            to_ms: day_start(self.to_day),
        }
    }

    pub fn contains(&self, day: i64) -> bool {
        (self.from_day..self.to_day).contains(&day)
    }
}

/// Days up to 31 days, 7-day weeks from the first day up to 26 weeks,
/// else calendar months (the first and last clipped to the period). At
/// most 37 buckets for the longest period (three years).
pub fn buckets(p: &Period) -> (BucketKind, Vec<Bucket>) {
    let (from, to) = (day_of(p.from_ms), day_of(p.to_ms));
    let days = to - from;
    let md = |d: i64| date_of_day(d).format("%m-%d").to_string();
    if days <= 31 {
        let b = (from..to)
            .map(|d| Bucket {
                from_day: d,
                to_day: d + 1,
                key: day_string(d),
                label: md(d),
            })
            .collect();
        return (BucketKind::Day, b);
    }
    if days <= 26 * 7 {
        let b = (from..to)
            .step_by(7)
            .map(|d| Bucket {
                from_day: d,
                to_day: (d + 7).min(to),
                key: day_string(d),
                label: md(d),
            })
            .collect();
        return (BucketKind::Week, b);
    }
    let mut out = Vec::new();
    let mut start = from;
    while start < to {
        let s = date_of_day(start);
        let next = shift_month(first_of_month(s.year(), s.month()).expect("valid"), 1)
            .map(day_of_date)
            .unwrap_or(to)
            .min(to);
        out.push(Bucket {
            from_day: start,
            to_day: next,
            key: day_string(start),
            label: s.format("%Y-%m").to_string(),
        });
        start = next;
    }
    (BucketKind::Month, out)
}

// --------------------------------------------------------------- indicators

/// The six indicators of DESIGN.md §3.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Indicator {
    ResponseRate,
    ResolutionRate,
    SatisfactionRate,
    ClosureRate,
    OnTimeClosureRate,
    ReworkRate,
}

impl Indicator {
    pub const ALL: [Indicator; 6] = [
        Indicator::ResponseRate,
        Indicator::ResolutionRate,
        Indicator::SatisfactionRate,
        Indicator::ClosureRate,
        Indicator::OnTimeClosureRate,
        Indicator::ReworkRate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Indicator::ResponseRate => "response_rate",
            Indicator::ResolutionRate => "resolution_rate",
            Indicator::SatisfactionRate => "satisfaction_rate",
            Indicator::ClosureRate => "closure_rate",
            Indicator::OnTimeClosureRate => "on_time_closure_rate",
            Indicator::ReworkRate => "rework_rate",
        }
    }

    pub fn parse(s: &str) -> Option<Indicator> {
        Indicator::ALL.into_iter().find(|i| i.as_str() == s)
    }

    pub fn label(self, en: bool) -> &'static str {
        match (self, en) {
            (Indicator::ResponseRate, false) => "响应率",
            (Indicator::ResolutionRate, false) => "解决率",
            (Indicator::SatisfactionRate, false) => "满意率",
            (Indicator::ClosureRate, false) => "结案率",
            (Indicator::OnTimeClosureRate, false) => "按期结案率",
            (Indicator::ReworkRate, false) => "返工率",
            (Indicator::ResponseRate, true) => "Response",
            (Indicator::ResolutionRate, true) => "Resolution",
            (Indicator::SatisfactionRate, true) => "Satisfaction",
            (Indicator::ClosureRate, true) => "Closure",
            (Indicator::OnTimeClosureRate, true) => "On-time closure",
            (Indicator::ReworkRate, true) => "Rework",
        }
    }

    /// Higher is better for all but 返工率.
    pub fn higher_is_better(self) -> bool {
        self != Indicator::ReworkRate
    }

    pub fn value(self, r: &Rates) -> f64 {
        match self {
            Indicator::ResponseRate => r.response_rate,
            Indicator::ResolutionRate => r.resolution_rate,
            Indicator::SatisfactionRate => r.satisfaction_rate,
            Indicator::ClosureRate => r.closure_rate,
            Indicator::OnTimeClosureRate => r.on_time_closure_rate,
            Indicator::ReworkRate => r.rework_rate,
        }
    }

    /// The denominator of the formula (0: the indicator has no data).
    pub fn denominator(self, c: &Counts) -> i64 {
        match self {
            Indicator::ResponseRate | Indicator::ResolutionRate | Indicator::SatisfactionRate => {
                c.rated
            }
            Indicator::ClosureRate | Indicator::OnTimeClosureRate => c.due - c.suspended,
            Indicator::ReworkRate => c.handled,
        }
    }
}

// ------------------------------------------------------------------ weights

/// One scored indicator: full `points` at or beyond `threshold` (a fraction
/// 0–1; a ceiling for 返工率), `per_point` points off per percentage point
/// short of it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ScoreCriterion)]
pub struct Criterion {
    pub indicator: Indicator,
    pub points: f64,
    pub threshold: f64,
    pub per_point: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weights {
    pub criteria: Vec<Criterion>,
}

impl Default for Weights {
    /// 100 points: 按期结案率 50 (≥ 70 %), 满意率 20 (≥ 90 %), 解决率 10
    /// (≥ 85 %), 响应率 10 (≥ 95 %), 返工率 10 (≤ 5 %); one point off per
    /// percentage point.
    fn default() -> Self {
        let c = |indicator, points, threshold| Criterion {
            indicator,
            points,
            threshold,
            per_point: 1.0,
        };
        Weights {
            criteria: vec![
                c(Indicator::OnTimeClosureRate, 50.0, 0.70),
                c(Indicator::SatisfactionRate, 20.0, 0.90),
                c(Indicator::ResolutionRate, 10.0, 0.85),
                c(Indicator::ResponseRate, 10.0, 0.95),
                c(Indicator::ReworkRate, 10.0, 0.05),
            ],
        }
    }
}

impl Weights {
    pub fn total_points(&self) -> f64 {
        self.criteria.iter().map(|c| c.points).sum()
    }

    /// Checks a configuration: 1–6 criteria, each indicator once, points in
    /// (0, 100], thresholds in [0, 1], deductions in [0, 100] per point.
    pub fn check(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::new();
        if self.criteria.is_empty() {
            e.add("criteria", "请至少设置一项指标");
        }
        if self.criteria.len() > Indicator::ALL.len() {
            e.add("criteria", "最多六项指标");
        }
        let mut seen = Vec::new();
        for (i, c) in self.criteria.iter().enumerate() {
            let f = |name: &str| format!("criteria[{i}].{name}");
            if seen.contains(&c.indicator) {
                e.add(f("indicator"), "每项指标只能设置一次");
            }
            seen.push(c.indicator);
            if !(c.points.is_finite() && c.points > 0.0 && c.points <= 100.0) {
                e.add(f("points"), "分值应在 0 到 100 之间(不含 0)");
            }
            if !(c.threshold.is_finite() && (0.0..=1.0).contains(&c.threshold)) {
                e.add(f("threshold"), "达标线应为 0 到 1 之间的小数");
            }
            if !(c.per_point.is_finite() && (0.0..=100.0).contains(&c.per_point)) {
                e.add(f("per_point"), "每低一个百分点扣分应在 0 到 100 之间");
            }
        }
        if e.is_empty() {
            Ok(())
        } else {
            Err(e)
        }
    }
}

/// Rounds to two decimals (scores are shown and compared at that precision).
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The points one criterion earns at `value`.
pub fn earned(c: &Criterion, value: f64) -> f64 {
    let gap = if c.indicator.higher_is_better() {
        c.threshold - value
    } else {
        value - c.threshold
    } * 100.0;
    // Float noise (0.7 − 0.65 = 0.05000000000000004) must not cost a point.
    let gap = if gap < 1e-9 { 0.0 } else { gap };
    (c.points - gap * c.per_point).clamp(0.0, c.points)
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = ScorePart)]
pub struct Part {
    pub indicator: Indicator,
    pub value: f64,
    pub points: f64,
    /// Points earned (two decimals); null when the indicator has no data.
    pub earned: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Score {
    /// Two decimals, out of the weights' total; null when no criterion applies.
    pub score: Option<f64>,
    pub parts: Vec<Part>,
}

/// Scores one unit's indicators with the weights.
pub fn score(w: &Weights, r: &Rates) -> Score {
    let mut parts = Vec::new();
    let (mut got, mut possible) = (0.0, 0.0);
    for c in &w.criteria {
        let value = c.indicator.value(r);
        let applies = c.indicator.denominator(&r.counts) > 0;
        let e = applies.then(|| earned(c, value));
        if let Some(x) = e {
            got += x;
            possible += c.points;
        }
        parts.push(Part {
            indicator: c.indicator,
            value,
            points: c.points,
            earned: e.map(round2),
        });
    }
    let score = (possible > 0.0).then(|| round2(got / possible * w.total_points()));
    Score { score, parts }
}

/// Competition ranking ("1224"): the highest score is 1, equal scores share
/// a rank, units without a score have none.
pub fn rank(scores: &[Option<f64>]) -> Vec<Option<usize>> {
    scores
        .iter()
        .map(|s| {
            s.map(|mine| {
                1 + scores
                    .iter()
                    .filter(|o| o.is_some_and(|x| x > mine + 1e-9))
                    .count()
            })
        })
        .collect()
}

/// Places moved since the previous period: positive = up, negative = down,
/// 0 = the same; None when the unit had no rank then or has none now.
pub fn movement(previous: Option<usize>, now: Option<usize>) -> Option<i64> {
    match (previous, now) {
        (Some(p), Some(n)) => Some(p as i64 - n as i64),
        _ => None,
    }
}

/// ↑2, ↓1, → or 新 (new to the table) / — (no rank now).
pub fn arrow(previous: Option<usize>, now: Option<usize>) -> String {
    match (movement(previous, now), now) {
        (Some(m), _) if m > 0 => format!("↑{m}"),
        (Some(m), _) if m < 0 => format!("↓{}", -m),
        (Some(_), _) => "→".into(),
        (None, Some(_)) => "新".into(),
        (None, None) => "—".into(),
    }
}

/// Heat-table shade 0–4 of a count against the largest one.
pub fn heat_level(n: i64, max: i64) -> u8 {
    if n <= 0 || max <= 0 {
        0
    } else {
        ((n * 4 + max - 1) / max).clamp(1, 4) as u8
    }
}

/// A fraction as a percentage with one decimal: `0.4286` → `42.9%`.
pub fn percent(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// Period-over-period change of a fraction in percentage points, one
/// decimal, signed: `+3.2` / `-1.0` / `0.0`.
pub fn points_change(now: f64, before: f64) -> f64 {
    round1((now - before) * 100.0)
}

pub fn round1(x: f64) -> f64 {
    let r = (x * 10.0).round() / 10.0;
    if r == 0.0 {
        0.0
    } else {
        r
    }
}

// ------------------------------------------------------ property surveys

/// The questions of the 物业服务满意度测评, each answered 1–5
/// (非常不满意 … 非常满意): (中文, English).
pub const QUESTIONS: [(&str, &str); 5] = [
    ("服务态度", "Staff attitude"),
    ("报修响应", "Repairs"),
    ("环境卫生", "Cleanliness"),
    ("秩序安全", "Order and safety"),
    ("设施维护", "Facilities"),
];

/// The share of a survey in the grade; the indicators' score has the rest.
pub const SURVEY_SHARE: f64 = 0.6;

/// A survey period: a year `2026` or a quarter `2026Q4` (also `2026q4`),
/// normalised, with its days.
pub fn parse_survey_period(s: &str) -> Option<(String, Period)> {
    let s = s.trim();
    let year = |y: &str| -> Option<i32> {
        (y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()))
            .then(|| y.parse().ok())
            .flatten()
            .filter(|y| (2000..=2999).contains(y))
    };
    let (y, first_month, months, label) = match s.len() {
        4 => (year(s)?, 1, 12, s.to_string()),
        6 if matches!(&s[4..5], "Q" | "q") => {
            let q: u32 = s[5..].parse().ok().filter(|q| (1..=4).contains(q))?;
            (
                year(&s[..4])?,
                (q - 1) * 3 + 1,
                3,
                format!("{}Q{q}", &s[..4]),
            )
        }
        _ => return None,
    };
    let first = first_of_month(y, first_month)?;
    let end = shift_month(first, months)?;
    Some((
        label,
        Period {
            from_ms: day_start(day_of_date(first)),
            to_ms: day_start(day_of_date(end)),
        },
    ))
}

/// The survey's title: `2026年度` / `2026年第四季度`.
pub fn survey_period_label(period: &str, en: bool) -> String {
    let (y, q) = match period.split_once('Q') {
        Some((y, q)) => (y, Some(q)),
        None => (period, None),
    };
    match (q, en) {
        (None, false) => format!("{y}年度"),
        (None, true) => y.to_string(),
        (Some(q), false) => {
            let n = ["一", "二", "三", "四"]
                .get(q.parse::<usize>().unwrap_or(1).saturating_sub(1))
                .copied()
                .unwrap_or("一");
            format!("{y}年第{n}季度")
        }
        (Some(q), true) => format!("Q{q} {y}"),
    }
}

/// Checks one household's answer: five scores 1–5 and an optional comment
/// of at most 500 characters.
pub fn check_answer(
    scores: &[i64],
    comment: Option<&str>,
) -> Result<([i64; 5], Option<String>), FieldErrors> {
    let mut e = FieldErrors::new();
    let mut out = [0; 5];
    if scores.len() != QUESTIONS.len() {
        e.add("scores", "请为五项内容逐一评分");
    } else {
        for (i, s) in scores.iter().enumerate() {
            if !(1..=5).contains(s) {
                e.add(format!("scores[{i}]"), "评分应为 1 到 5 分");
            }
            out[i] = *s;
        }
    }
    let comment = match kernel::text::optional(comment, 500, "意见建议") {
        Ok(c) => c,
        Err(m) => {
            e.add("comment", m);
            None
        }
    };
    if e.is_empty() {
        Ok((out, comment))
    } else {
        Err(e)
    }
}

/// The answers of a survey, added up.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Tally {
    pub answers: i64,
    /// Sum of the scores per question.
    pub sums: [i64; 5],
    /// Answers of 4 or 5 (满意 / 非常满意) per question.
    pub satisfied: [i64; 5],
}

impl Tally {
    pub fn add(&mut self, scores: &[i64; 5]) {
        self.answers += 1;
        for (i, s) in scores.iter().enumerate() {
            self.sums[i] += s;
            self.satisfied[i] += (*s >= 4) as i64;
        }
    }

    /// Each question's mean × 20 (1 → 20, 5 → 100), two decimals.
    pub fn question_scores(&self) -> Vec<Option<f64>> {
        self.sums
            .iter()
            .map(|s| (self.answers > 0).then(|| round2(*s as f64 / self.answers as f64 * 20.0)))
            .collect()
    }

    /// The survey's score: the mean of every answer × 20, two decimals.
    pub fn score(&self) -> Option<f64> {
        (self.answers > 0).then(|| {
            let total: i64 = self.sums.iter().sum();
            round2(total as f64 / (self.answers * QUESTIONS.len() as i64) as f64 * 20.0)
        })
    }

    /// The share of all scores that were 4 or 5.
    pub fn satisfaction(&self) -> f64 {
        let all = self.answers * QUESTIONS.len() as i64;
        if all == 0 {
            0.0
        } else {
            self.satisfied.iter().sum::<i64>() as f64 / all as f64
        }
    }
}

/// The grade's score: `SURVEY_SHARE` of the survey and the rest of the
/// indicators' league score; the survey alone when the indicators have no
/// data; none without answers.
pub fn combined(survey: Option<f64>, indicators: Option<f64>) -> Option<f64> {
    match (survey, indicators) {
        (Some(s), Some(i)) => Some(round2(SURVEY_SHARE * s + (1.0 - SURVEY_SHARE) * i)),
        (Some(s), None) => Some(s),
        (None, _) => None,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    Excellent,
    Good,
    Pass,
    Fail,
}

impl Grade {
    /// ≥ 90 优秀, ≥ 80 良好, ≥ 60 合格, else 不合格.
    pub fn of(score: f64) -> Grade {
        if score >= 90.0 {
            Grade::Excellent
        } else if score >= 80.0 {
            Grade::Good
        } else if score >= 60.0 {
            Grade::Pass
        } else {
            Grade::Fail
        }
    }

    pub fn label(self, en: bool) -> &'static str {
        match (self, en) {
            (Grade::Excellent, false) => "优秀",
            (Grade::Good, false) => "良好",
            (Grade::Pass, false) => "合格",
            (Grade::Fail, false) => "不合格",
            (Grade::Excellent, true) => "Excellent",
            (Grade::Good, true) => "Good",
            (Grade::Pass, true) => "Pass",
            (Grade::Fail, true) => "Fail",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cases::rates::rates_from;
    use proptest::prelude::*;

    fn day(s: &str) -> i64 {
        day_of_date(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap())
    }

    fn p(from: &str, to: &str) -> Period {
        Period::parse(Some(from), Some(to)).unwrap()
    }

    #[test]
    fn days_are_shanghai_days() {
        let ms = kernel::clock::day_start_ms("2026-11-29").unwrap();
        assert_eq!(day_of(ms), day("2026-11-29"));
        assert_eq!(day_of(ms - 1), day("2026-11-28"));
        assert_eq!(day_start(day("2026-11-29")), ms);
        assert_eq!(day_string(day("2026-02-28") + 1), "2026-03-01");
        let per = p("2025-03-01", "2025-03-31");
        assert_eq!(
            period_dates(&per),
            ("2025-03-01".into(), "2025-03-31".into())
        );
    }

    #[test]
    fn months_parse_strictly() {
        let m = parse_month("2026-11").unwrap();
        assert_eq!(m, p("2026-11-01", "2026-11-30"));
        assert_eq!(
            parse_month("2024-02").unwrap(),
            p("2024-02-01", "2024-02-29")
        );
        assert_eq!(
            parse_month("2026-12").unwrap(),
            p("2026-12-01", "2026-12-31")
        );
        for bad in [
            "2026-13", "2026-1", "2026/11", "202611", "2026-00", "x", "", "1969-12",
        ] {
            assert!(parse_month(bad).is_none(), "{bad}");
        }
        assert_eq!(month_of(&m).as_deref(), Some("2026-11"));
        assert_eq!(month_of(&p("2026-11-01", "2026-11-29")), None);
        assert_eq!(month_of(&p("2026-10-01", "2026-11-30")), None);
    }

    #[test]
    fn the_previous_period() {
        // A month → the month before, whatever their lengths.
        assert_eq!(
            previous(&p("2026-03-01", "2026-03-31")),
            p("2026-02-01", "2026-02-28")
        );
        assert_eq!(
            previous(&p("2026-01-01", "2026-01-31")),
            p("2025-12-01", "2025-12-31")
        );
        // A quarter → the quarter before.
        assert_eq!(
            previous(&p("2026-04-01", "2026-06-30")),
            p("2026-01-01", "2026-03-31")
        );
        // Other spans: as many days, ending the day before.
        assert_eq!(
            previous(&p("2026-03-10", "2026-03-16")),
            p("2026-03-03", "2026-03-09")
        );
        assert_eq!(
            previous(&p("2026-03-01", "2026-03-01")),
            p("2026-02-28", "2026-02-28")
        );
    }

    #[test]
    fn presets_cover_whole_periods() {
        let today = day("2026-11-18");
        let got = presets(today);
        let find = |k: &str| got.iter().find(|x| x.0 == k).unwrap().clone();
        assert_eq!(
            find("this_month"),
            ("this_month", "2026-11-01".into(), "2026-11-30".into())
        );
        assert_eq!(
            find("last_month"),
            ("last_month", "2026-10-01".into(), "2026-10-31".into())
        );
        assert_eq!(
            find("this_quarter"),
            ("this_quarter", "2026-10-01".into(), "2026-12-31".into())
        );
        assert_eq!(
            find("this_year"),
            ("this_year", "2026-01-01".into(), "2026-12-31".into())
        );
        assert_eq!(
            find("last_30_days"),
            ("last_30_days", "2026-10-20".into(), "2026-11-18".into())
        );
        let jan = presets(day("2026-01-05"));
        assert_eq!(jan[1].1, "2025-12-01");
    }

    #[test]
    fn buckets_by_span() {
        let (k, b) = buckets(&p("2025-03-01", "2025-03-31"));
        assert_eq!(k, BucketKind::Day);
        assert_eq!(b.len(), 31);
        assert_eq!(
            (b[0].key.as_str(), b[0].label.as_str()),
            ("2025-03-01", "03-01")
        );
        let (k, b) = buckets(&p("2025-03-01", "2025-04-30"));
        assert_eq!(k, BucketKind::Week);
        assert_eq!(b.len(), 9); // 61 days: 8 weeks and 5 days
        assert_eq!(b[8].to_day - b[8].from_day, 5);
        assert_eq!(b[1].key, "2025-03-08");
        let (k, b) = buckets(&p("2025-01-15", "2025-12-31"));
        assert_eq!(k, BucketKind::Month);
        assert_eq!(b.len(), 12);
        assert_eq!(
            (b[0].key.as_str(), b[0].label.as_str()),
            ("2025-01-15", "2025-01")
        );
        assert_eq!(b[1].key, "2025-02-01");
        assert_eq!(b[11].to_day, day("2026-01-01"));
        let (_, b) = buckets(&p("2024-01-01", "2026-12-31"));
        assert_eq!(b.len(), 36);
    }

    fn rates(
        rated: i64,
        contacted: i64,
        resolved: i64,
        satisfied: i64,
        due: i64,
        on_time: i64,
    ) -> Rates {
        rates_from(&Counts {
            rated,
            contacted,
            resolved,
            satisfied,
            due,
            closed: on_time,
            closed_on_time: on_time,
            ..Default::default()
        })
    }

    #[test]
    fn the_example_of_the_issue() {
        // 按期结案率 ≥ 70 % earns the full 50 points, minus 1 per point below.
        let c = Criterion {
            indicator: Indicator::OnTimeClosureRate,
            points: 50.0,
            threshold: 0.70,
            per_point: 1.0,
        };
        assert_eq!(earned(&c, 0.70), 50.0);
        assert_eq!(earned(&c, 0.95), 50.0);
        assert_eq!(round2(earned(&c, 0.65)), 45.0);
        assert_eq!(earned(&c, 0.0), 0.0);
        assert_eq!(round2(earned(&c, 3.0 / 7.0)), 22.86);
        // 返工率: a ceiling.
        let r = Criterion {
            indicator: Indicator::ReworkRate,
            points: 10.0,
            threshold: 0.05,
            per_point: 1.0,
        };
        assert_eq!(earned(&r, 0.05), 10.0);
        assert_eq!(earned(&r, 0.0), 10.0);
        assert_eq!(round2(earned(&r, 0.10)), 5.0);
        assert_eq!(earned(&r, 0.5), 0.0);
    }

    #[test]
    fn scores_scale_over_what_applies() {
        let w = Weights::default();
        assert_eq!(w.total_points(), 100.0);
        // Everything perfect: 100.
        let s = score(&w, &rates(4, 4, 4, 4, 4, 4));
        assert_eq!(s.score, Some(100.0));
        // Nothing at all: no score.
        let s = score(&w, &rates(0, 0, 0, 0, 0, 0));
        assert_eq!(s.score, None);
        assert!(s.parts.iter().all(|p| p.earned.is_none()));
        // Only ratings (nothing due, nothing handled): 满意率 1/2 = 50 % → 20 − 40 → 0;
        // 解决率 1/2 → 10 − 35 → 0; 响应率 2/2 → 10. 10 of 40 → 25 of 100.
        let s = score(&w, &rates(2, 2, 1, 1, 0, 0));
        assert_eq!(s.score, Some(25.0));
        assert_eq!(s.parts[0].earned, None);
        assert_eq!(s.parts[3].earned, Some(10.0));
    }

    #[test]
    fn ranks_share_ties() {
        assert_eq!(
            rank(&[Some(80.0), Some(90.5), None, Some(80.0), Some(10.0)]),
            vec![Some(2), Some(1), None, Some(2), Some(4)]
        );
        assert_eq!(movement(Some(3), Some(1)), Some(2));
        assert_eq!(movement(Some(1), Some(2)), Some(-1));
        assert_eq!(movement(None, Some(2)), None);
        assert_eq!(arrow(Some(3), Some(1)), "↑2");
        assert_eq!(arrow(Some(1), Some(3)), "↓2");
        assert_eq!(arrow(Some(2), Some(2)), "→");
        assert_eq!(arrow(None, Some(2)), "新");
        assert_eq!(arrow(Some(2), None), "—");
    }

    #[test]
    fn weights_are_checked() {
        assert!(Weights::default().check().is_ok());
        let bad = Weights {
            criteria: vec![
                Criterion {
                    indicator: Indicator::ReworkRate,
                    points: 0.0,
                    threshold: 1.5,
                    per_point: -1.0,
                },
                Criterion {
                    indicator: Indicator::ReworkRate,
                    points: 10.0,
                    threshold: 0.1,
                    per_point: f64::NAN,
                },
            ],
        };
        let e = bad.check().unwrap_err();
        for k in [
            "criteria[0].points",
            "criteria[0].threshold",
            "criteria[0].per_point",
            "criteria[1].indicator",
            "criteria[1].per_point",
        ] {
            assert!(e.0.contains_key(k), "{k}: {e:?}");
        }
        assert!(Weights { criteria: vec![] }
            .check()
            .unwrap_err()
            .0
            .contains_key("criteria"));
    }

    #[test]
    fn heat_levels() {
        assert_eq!(heat_level(0, 10), 0);
        assert_eq!(heat_level(1, 10), 1);
        assert_eq!(heat_level(5, 10), 2);
        assert_eq!(heat_level(10, 10), 4);
        assert_eq!(heat_level(3, 0), 0);
        assert_eq!(percent(3.0 / 7.0), "42.9%");
        assert_eq!(points_change(0.5, 0.25), 25.0);
        assert_eq!(points_change(0.25, 0.25), 0.0);
    }

    #[test]
    fn survey_periods() {
        let (l, p) = parse_survey_period("2026q4").unwrap();
        assert_eq!(l, "2026Q4");
        assert_eq!(
            p,
            Period::parse(Some("2026-10-01"), Some("2026-12-31")).unwrap()
        );
        let (l, p) = parse_survey_period("2025").unwrap();
        assert_eq!(l, "2025");
        assert_eq!(
            p,
            Period::parse(Some("2025-01-01"), Some("2025-12-31")).unwrap()
        );
        for bad in [
            "2026Q5", "2026Q0", "26Q1", "2026-Q1", "1999", "x", "", "2026H1",
        ] {
            assert!(parse_survey_period(bad).is_none(), "{bad}");
        }
        assert_eq!(survey_period_label("2026Q4", false), "2026年第四季度");
        assert_eq!(survey_period_label("2026", false), "2026年度");
        assert_eq!(survey_period_label("2026Q1", true), "Q1 2026");
    }

    #[test]
    fn survey_scores_and_grades() {
        let mut t = Tally::default();
        assert_eq!(t.score(), None);
        t.add(&[5, 4, 5, 4, 5]);
        t.add(&[3, 4, 4, 2, 5]);
        assert_eq!(t.answers, 2);
        assert_eq!(t.score(), Some(82.0));
        assert_eq!(
            t.question_scores(),
            vec![Some(80.0), Some(80.0), Some(90.0), Some(60.0), Some(100.0)]
        );
        assert_eq!(t.satisfaction(), 0.8);
        assert_eq!(combined(Some(82.0), Some(72.38)), Some(78.15));
        assert_eq!(combined(Some(82.0), None), Some(82.0));
        assert_eq!(combined(None, Some(90.0)), None);
        assert_eq!(Grade::of(90.0), Grade::Excellent);
        assert_eq!(Grade::of(89.99), Grade::Good);
        assert_eq!(Grade::of(60.0), Grade::Pass);
        assert_eq!(Grade::of(59.99), Grade::Fail);
        assert!(check_answer(&[5, 4, 3, 2, 1], Some(" 很好 ")).is_ok());
        let e = check_answer(&[0, 6, 3, 3, 3], None).unwrap_err();
        assert!(e.0.contains_key("scores[0]") && e.0.contains_key("scores[1]"));
        assert!(check_answer(&[5, 5], None)
            .unwrap_err()
            .0
            .contains_key("scores"));
        assert!(check_answer(&[5; 5], Some(&"长".repeat(501)))
            .unwrap_err()
            .0
            .contains_key("comment"));
    }

    fn any_rates() -> impl Strategy<Value = Rates> {
        (0i64..50, 0i64..50, 0i64..50).prop_flat_map(|(rated, due, handled)| {
            (0..=rated, 0..=rated, 0..=rated, 0..=due, 0..=handled).prop_map(
                move |(contacted, resolved, satisfied, on_time, rework)| {
                    rates_from(&Counts {
                        rated,
                        contacted,
                        resolved,
                        satisfied,
                        due,
                        closed: on_time,
                        closed_on_time: on_time,
                        handled,
                        rework,
                        ..Default::default()
                    })
                },
            )
        })
    }

    proptest! {
        /// A score is within [0, total]; better indicators never score lower.
        #[test]
        fn scores_are_bounded_and_monotone(r in any_rates(), bump in 0.0f64..0.3) {
            let w = Weights::default();
            let s = score(&w, &r);
            if let Some(x) = s.score {
                prop_assert!((0.0..=100.0).contains(&x), "{x}");
            }
            for c in &w.criteria {
                let v = c.indicator.value(&r);
                let better = if c.indicator.higher_is_better() { (v + bump).min(1.0) } else { (v - bump).max(0.0) };
                prop_assert!(earned(c, better) + 1e-9 >= earned(c, v));
                prop_assert!((0.0..=c.points).contains(&earned(c, v)));
            }
        }

        /// Ranks are 1-based, the best score is first, and a unit ranks
        /// ahead of another exactly when its score is higher.
        #[test]
        fn ranks_follow_scores(scores in proptest::collection::vec(proptest::option::of(0u32..100), 0..20)) {
            let s: Vec<Option<f64>> = scores.iter().map(|x| x.map(f64::from)).collect();
            let r = rank(&s);
            for (i, a) in s.iter().enumerate() {
                prop_assert_eq!(a.is_some(), r[i].is_some());
                for (j, b) in s.iter().enumerate() {
                    if let (Some(a), Some(b)) = (a, b) {
                        prop_assert_eq!(a > b, r[i].unwrap() < r[j].unwrap());
                    }
                }
            }
            if let Some(best) = s.iter().flatten().cloned().reduce(f64::max) {
                let i = s.iter().position(|x| *x == Some(best)).unwrap();
                prop_assert_eq!(r[i], Some(1));
            }
        }

        /// Buckets tile the period without gaps or overlaps.
        #[test]
        fn buckets_tile_the_period(start in 19000i64..21000, len in 1i64..1096) {
            let per = period_of_days(start, start + len - 1);
            let (_, b) = buckets(&per);
            prop_assert!(!b.is_empty() && b.len() <= 37);
            prop_assert_eq!(b[0].from_day, start);
            prop_assert_eq!(b.last().unwrap().to_day, start + len);
            for w in b.windows(2) {
                prop_assert_eq!(w[0].to_day, w[1].from_day);
                prop_assert!(w[0].from_day < w[0].to_day);
            }
        }

        /// The previous period ends where the period starts and never overlaps it.
        #[test]
        fn previous_abuts(start in 19000i64..21000, len in 1i64..400) {
            let per = period_of_days(start, start + len - 1);
            let prev = previous(&per);
            prop_assert_eq!(prev.to_ms, per.from_ms);
            prop_assert!(prev.from_ms < prev.to_ms);
        }
    }
}
