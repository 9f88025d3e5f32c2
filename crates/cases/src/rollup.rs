//! Incremental rollups of the indicator counts, so rates for any node —
//! a building or a whole district — over a year read at most one row per day
//! whatever the number of demands. One row per (org node, Shanghai day) for
//! every node from the demand's household up to the top of the tree; each
//! change to a demand moves its contribution: the counts it added before the
//! change are taken away and those after are added, in the same transaction
//! as the change.
//!
//! A demand contributes
//! - on the day of its return visit (`rated_at`): rated, contacted, resolved, satisfied;
//! - on the day of its feedback deadline (unless merged or rejected): due,
//!   and suspended / closed / closed on time as it stands;
//! - on the day of its feedback deadline (unless merged or rejected): due,
//!   and suspended / closed / closed on time / fed back late as it stands;
//! - on the day of each `resolve` / `verify_fail` event: handled / rework;
//! - on the day of its first `escalate` event: escalated.
//!
//! Filings are kept apart in `demand_filings`, one row per (node, day,
//! category, channel), counted once when the demand is inserted (category
//! and channel never change afterwards), and again by month in
//! `demand_filings_monthly`, so a year reads twelve rows per combination.
//!
//! `demand_open` holds the open demands as they stand, one row per (node,
//! day of the feedback deadline): a dashboard's "open now" and "open past
//! the deadline" read the scope's rows, not its open demands.
//!
//! Changes are gathered in a [`Tally`] (merged by row) and written as one
//! upsert per table: a batch of filings touches its street's, district's
//! and city's rows once, not once per filing.

use crate::model::DemandStatus;
use crate::rates::Counts;
use crate::store::DemandRow;
use chrono::Datelike;
use kernel::db::{Val, Writes};
use kernel::{AppResult, Backend, Db, OrgPath, Tx};
use sqlx::Row;
use std::collections::BTreeMap;

const DAY_MS: i64 = 86_400_000;
const SHANGHAI_MS: i64 = 8 * 3_600_000;

/// The Shanghai calendar day of an instant, as a day number.
pub fn day_of(ms: i64) -> i64 {
    (ms + SHANGHAI_MS).div_euclid(DAY_MS)
}

/// What a demand adds to the counts, by day (pure).
pub fn contributions(d: &DemandRow) -> BTreeMap<i64, Counts> {
    let mut out: BTreeMap<i64, Counts> = BTreeMap::new();
    if let Some(r) = &d.rating {
        let c = out.entry(day_of(r.rated_at)).or_default();
        c.rated += 1;
        c.contacted += r.contacted as i64;
        c.resolved += r.resolved as i64;
        c.satisfied += (r.satisfaction >= 4) as i64;
    }
    if let Some(dl) = d.feedback_deadline {
        if !matches!(d.status, DemandStatus::Merged | DemandStatus::Rejected) {
            let c = out.entry(day_of(dl)).or_default();
            c.due += 1;
            c.suspended += (d.status == DemandStatus::Suspended) as i64;
            c.closed += d.closed_at.is_some() as i64;
            c.closed_on_time += (d.closed_on_time == Some(true)) as i64;
            let fed_back = d.resolved_at.or(d.closed_at);
            c.fed_back_late +=
                (d.status != DemandStatus::Suspended && fed_back.is_some_and(|t| t > dl)) as i64;
        }
    }
    out
}

fn minus(a: &Counts, b: &Counts) -> Counts {
    Counts {
        rated: a.rated - b.rated,
        contacted: a.contacted - b.contacted,
        resolved: a.resolved - b.resolved,
        satisfied: a.satisfied - b.satisfied,
        due: a.due - b.due,
        suspended: a.suspended - b.suspended,
        closed: a.closed - b.closed,
        closed_on_time: a.closed_on_time - b.closed_on_time,
        handled: a.handled - b.handled,
        rework: a.rework - b.rework,
        fed_back_late: a.fed_back_late - b.fed_back_late,
        escalated: a.escalated - b.escalated,
    }
}

fn is_zero(c: &Counts) -> bool {
    *c == Counts::default()
}

/// The per-day change from `before` to `after` (pure).
pub fn delta(before: Option<&DemandRow>, after: &DemandRow) -> BTreeMap<i64, Counts> {
    let old = before.map(contributions).unwrap_or_default();
    let new = contributions(after);
    let mut out = BTreeMap::new();
    for day in old.keys().chain(new.keys()) {
        let d = minus(
            &new.get(day).cloned().unwrap_or_default(),
            &old.get(day).cloned().unwrap_or_default(),
        );
        if !is_zero(&d) {
            out.insert(*day, d);
        }
    }
    out
}

/// The nodes a demand's counts roll up to: its household and every node
/// above it.
pub fn levels(org_path: &OrgPath) -> Vec<OrgPath> {
    org_path.ancestors_and_self()
}

/// The `demand_open` key of an open demand without a feedback deadline
/// (not yet dispatched): no real deadline falls on day -1 (1969-12-31).
pub const NO_DEADLINE_DAY: i64 = -1;

/// What an open demand adds to `demand_open`, the live counts behind the
/// dashboards' "open now" and "open past the deadline" (超期未反馈).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenCounts {
    pub open: i64,
    /// Flagged by the sweep (past its dispatch or feedback deadline).
    pub overdue: i64,
    /// 督办 at least once.
    pub escalated: i64,
    /// Not suspended, not fed back nor closed: late once its deadline has
    /// passed (`insight::store`'s OPEN_LATE).
    pub awaiting_feedback: i64,
}

impl OpenCounts {
    pub fn add(&mut self, o: &OpenCounts) {
        self.open += o.open;
        self.overdue += o.overdue;
        self.escalated += o.escalated;
        self.awaiting_feedback += o.awaiting_feedback;
    }

    fn minus(&self, o: &OpenCounts) -> OpenCounts {
        OpenCounts {
            open: self.open - o.open,
            overdue: self.overdue - o.overdue,
            escalated: self.escalated - o.escalated,
            awaiting_feedback: self.awaiting_feedback - o.awaiting_feedback,
        }
    }
}

/// What a demand adds to `demand_open` (pure): nothing once it is no longer
/// open; else one, keyed by the day of its feedback deadline
/// ([`NO_DEADLINE_DAY`] without one).
pub fn open_contribution(d: &DemandRow) -> Option<(i64, OpenCounts)> {
    // The workflow's open states: also the list of the partial indexes
    // `demands_open_now` and `demands_open_deadline` (migrations 0081, 0082).
    if !crate::workflow::is_open(d.status) {
        return None;
    }
    let day = d.feedback_deadline.map(day_of).unwrap_or(NO_DEADLINE_DAY);
    Some((
        day,
        OpenCounts {
            open: 1,
            overdue: d.overdue as i64,
            escalated: (d.escalation_level > 0) as i64,
            awaiting_feedback: (d.status != DemandStatus::Suspended
                && d.feedback_deadline.is_some()
                && d.resolved_at.is_none()
                && d.closed_at.is_none()) as i64,
        },
    ))
}

/// The first day of the (Shanghai) calendar month holding `day`: the key of
/// `demand_filings_monthly`.
pub fn month_of(day: i64) -> i64 {
    let date = epoch() + chrono::Duration::days(day);
    day - i64::from(date.day0())
}

/// The first day of the month after the one starting on `month`.
pub fn next_month(month: i64) -> i64 {
    let date = epoch() + chrono::Duration::days(month);
    let next = if date.month() == 12 {
        chrono::NaiveDate::from_ymd_opt(date.year() + 1, 1, 1)
    } else {
        chrono::NaiveDate::from_ymd_opt(date.year(), date.month() + 1, 1)
    }
    .expect("the first of a month exists");
    (next - epoch()).num_days()
}

fn epoch() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid")
}

/// How to read the filings of the days `[from, to)`: whole months from
/// `demand_filings_monthly` (`months`, first days, end exclusive) and the
/// days around them from `demand_filings` (`days`, at most two ranges).
/// `cuts` are days the months must not straddle (the dashboard's bucket
/// bounds): a month is read whole only if no cut falls inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilingSpans {
    pub days: Vec<(i64, i64)>,
    pub months: Option<(i64, i64)>,
}

pub fn filing_spans(from: i64, to: i64, cuts: &[i64]) -> FilingSpans {
    let whole = |m: i64| {
        let end = next_month(m);
        m >= from && end <= to && !cuts.iter().any(|c| *c > m && *c < end)
    };
    let mut first = month_of(from);
    if first < from {
        first = next_month(first);
    }
    // The longest run of whole months from the first one that fits.
    let mut end = first;
    while end < to && whole(end) {
        end = next_month(end);
    }
    if end == first {
        return FilingSpans {
            days: if from < to { vec![(from, to)] } else { vec![] },
            months: None,
        };
    }
    let days = [(from, first), (end, to)]
        .into_iter()
        .filter(|(a, b)| a < b)
        .collect();
    FilingSpans {
        days,
        months: Some((first, end)),
    }
}

/// Rollup changes to write, merged by row: the changes of many filings
/// (or of one transition) become one multi-row upsert per table, each row
/// once. Rows are written in key order, so concurrent writers on
/// PostgreSQL lock shared rows in the same order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    rollups: BTreeMap<(String, i64), Counts>,
    filings: BTreeMap<(String, i64, String, String), i64>,
    open: BTreeMap<(String, i64), OpenCounts>,
}

impl Tally {
    pub fn new() -> Tally {
        Tally::default()
    }

    pub fn is_empty(&self) -> bool {
        self.rollups.is_empty() && self.filings.is_empty() && self.open.is_empty()
    }

    /// A new demand: its filing and what it adds as it stands.
    pub fn filing(&mut self, d: &DemandRow) {
        self.filings_of(
            &d.org_path,
            day_of(d.created_at),
            &d.category,
            &d.channel,
            1,
        );
        self.change(None, d);
    }

    /// `n` filings of (day, category, channel) at every level of `org_path`.
    pub fn filings_of(
        &mut self,
        org_path: &OrgPath,
        day: i64,
        category: &str,
        channel: &str,
        n: i64,
    ) {
        for node in levels(org_path) {
            *self
                .filings
                .entry((
                    node.as_str().to_string(),
                    day,
                    category.to_string(),
                    channel.to_string(),
                ))
                .or_default() += n;
        }
    }

    /// Moves a demand's contribution from `before` to `after`.
    pub fn change(&mut self, before: Option<&DemandRow>, after: &DemandRow) {
        let nodes = levels(&after.org_path);
        for (day, c) in delta(before, after) {
            self.counts(&nodes, day, &c);
        }
        let old = before.and_then(open_contribution);
        let new = open_contribution(after);
        if old != new {
            let mut by_day: BTreeMap<i64, OpenCounts> = BTreeMap::new();
            if let Some((day, c)) = old {
                let e = by_day.entry(day).or_default();
                *e = e.minus(&c);
            }
            if let Some((day, c)) = new {
                by_day.entry(day).or_default().add(&c);
            }
            for (day, c) in by_day {
                if c == OpenCounts::default() {
                    continue;
                }
                for node in &nodes {
                    self.open
                        .entry((node.as_str().to_string(), day))
                        .or_default()
                        .add(&c);
                }
            }
        }
    }

    /// One `resolve` (handled) or `verify_fail` (rework) event, or the first
    /// `escalate` of a demand (`first_escalation`; later ones count no more:
    /// the dashboards count escalated demands, not escalations).
    pub fn event(&mut self, org_path: &OrgPath, action: &str, at_ms: i64, first_escalation: bool) {
        let c = match action {
            "escalate" if first_escalation => Counts {
                escalated: 1,
                ..Default::default()
            },
            "resolve" => Counts {
                handled: 1,
                ..Default::default()
            },
            "verify_fail" => Counts {
                rework: 1,
                ..Default::default()
            },
            _ => return,
        };
        self.counts(&levels(org_path), day_of(at_ms), &c);
    }

    fn counts(&mut self, nodes: &[OrgPath], day: i64, c: &Counts) {
        for node in nodes {
            self.rollups
                .entry((node.as_str().to_string(), day))
                .or_default()
                .add(c);
        }
    }

    /// Adds `other`'s changes to these.
    pub fn merge(&mut self, other: &Tally) {
        for (k, c) in &other.rollups {
            self.rollups.entry(k.clone()).or_default().add(c);
        }
        for (k, n) in &other.filings {
            *self.filings.entry(k.clone()).or_default() += n;
        }
        for (k, c) in &other.open {
            self.open.entry(k.clone()).or_default().add(c);
        }
    }

    /// The upserts, added to `w` (the monthly filings summed from the daily).
    pub fn push(&self, w: &mut Writes) {
        for (sql, vals) in self.statements() {
            w.push(sql, vals);
        }
    }

    /// Writes the changes inside `tx`, one statement per round trip: a
    /// statement's text depends only on its row count (see [`chunks`]), so
    /// the connection keeps a few prepared, where one text of them all
    /// would differ from batch to batch.
    pub async fn write(&self, tx: &mut Tx) -> AppResult<()> {
        for (sql, vals) in self.statements() {
            let mut w = Writes::new();
            w.push(sql, vals);
            w.run(tx).await?;
        }
        Ok(())
    }

    fn statements(&self) -> Vec<(String, Vec<Val>)> {
        let mut out = Vec::new();
        let rollups: Vec<Vec<Val>> = self
            .rollups
            .iter()
            .filter(|(_, c)| !is_zero(c))
            .map(|((node, day), c)| {
                vec![
                    node.as_str().into(),
                    (*day).into(),
                    c.rated.into(),
                    c.contacted.into(),
                    c.resolved.into(),
                    c.satisfied.into(),
                    c.due.into(),
                    c.suspended.into(),
                    c.closed.into(),
                    c.closed_on_time.into(),
                    c.handled.into(),
                    c.rework.into(),
                    c.fed_back_late.into(),
                    c.escalated.into(),
                ]
            })
            .collect();
        push_upserts(
            &mut out,
            "INSERT INTO demand_rollups (node_path, day, rated, contacted, resolved, satisfied, due, suspended, closed, closed_on_time, handled, rework, fed_back_late, escalated)",
            "ON CONFLICT (node_path, day) DO UPDATE SET
                rated = demand_rollups.rated + excluded.rated,
                contacted = demand_rollups.contacted + excluded.contacted,
                resolved = demand_rollups.resolved + excluded.resolved,
                satisfied = demand_rollups.satisfied + excluded.satisfied,
                due = demand_rollups.due + excluded.due,
                suspended = demand_rollups.suspended + excluded.suspended,
                closed = demand_rollups.closed + excluded.closed,
                closed_on_time = demand_rollups.closed_on_time + excluded.closed_on_time,
                handled = demand_rollups.handled + excluded.handled,
                rework = demand_rollups.rework + excluded.rework,
                fed_back_late = demand_rollups.fed_back_late + excluded.fed_back_late,
                escalated = demand_rollups.escalated + excluded.escalated",
            &rollups,
        );
        let mut monthly: BTreeMap<(&str, i64, &str, &str), i64> = BTreeMap::new();
        let filings: Vec<Vec<Val>> = self
            .filings
            .iter()
            .filter(|(_, n)| **n != 0)
            .map(|((node, day, category, channel), n)| {
                *monthly
                    .entry((node, month_of(*day), category, channel))
                    .or_default() += n;
                vec![
                    node.as_str().into(),
                    (*day).into(),
                    category.as_str().into(),
                    channel.as_str().into(),
                    (*n).into(),
                ]
            })
            .collect();
        push_upserts(
            &mut out,
            "INSERT INTO demand_filings (node_path, day, category, channel, n)",
            "ON CONFLICT (node_path, day, category, channel) DO UPDATE SET n = demand_filings.n + excluded.n",
            &filings,
        );
        let monthly: Vec<Vec<Val>> = monthly
            .into_iter()
            .map(|((node, month, category, channel), n)| {
                vec![
                    node.into(),
                    month.into(),
                    category.into(),
                    channel.into(),
                    n.into(),
                ]
            })
            .collect();
        push_upserts(
            &mut out,
            "INSERT INTO demand_filings_monthly (node_path, month, category, channel, n)",
            "ON CONFLICT (node_path, month, category, channel) DO UPDATE SET n = demand_filings_monthly.n + excluded.n",
            &monthly,
        );
        let open: Vec<Vec<Val>> = self
            .open
            .iter()
            .filter(|(_, c)| **c != OpenCounts::default())
            .map(|((node, day), c)| {
                vec![
                    node.as_str().into(),
                    (*day).into(),
                    c.open.into(),
                    c.overdue.into(),
                    c.escalated.into(),
                    c.awaiting_feedback.into(),
                ]
            })
            .collect();
        push_upserts(
            &mut out,
            "INSERT INTO demand_open (node_path, day, open, overdue, escalated, awaiting_feedback)",
            "ON CONFLICT (node_path, day) DO UPDATE SET
                open = demand_open.open + excluded.open,
                overdue = demand_open.overdue + excluded.overdue,
                escalated = demand_open.escalated + excluded.escalated,
                awaiting_feedback = demand_open.awaiting_feedback + excluded.awaiting_feedback",
            &open,
        );
        out
    }
}

/// The row counts of the upserts for `n` rows: up to 16 in one statement
/// (one demand's change, a node chain or two), more in statements of 64 and
/// 16 and the rest: at most 18 statement texts per table, whatever comes.
fn chunks(mut n: usize) -> Vec<usize> {
    let mut out = Vec::new();
    for size in [64, 16] {
        while n > 16 && n >= size {
            out.push(size);
            n -= size;
        }
    }
    if n > 0 {
        out.push(n);
    }
    out
}

/// `insert VALUES (…), … on_conflict` over `rows` (each the same width), in
/// statements of [`chunks`] rows.
fn push_upserts(
    w: &mut Vec<(String, Vec<Val>)>,
    insert: &str,
    on_conflict: &str,
    rows: &[Vec<Val>],
) {
    let Some(width) = rows.first().map(Vec::len) else {
        return;
    };
    let mut rest = rows;
    for size in chunks(rows.len()) {
        let (now, later) = rest.split_at(size);
        let values: Vec<String> = (0..size)
            .map(|i| {
                let cols: Vec<String> =
                    (1..=width).map(|k| format!("${}", i * width + k)).collect();
                format!("({})", cols.join(", "))
            })
            .collect();
        w.push((
            format!("{insert} VALUES {} {on_conflict}", values.join(", ")),
            now.iter().flatten().cloned().collect(),
        ));
        rest = later;
    }
}

/// Moves a demand's contribution from `before` to `after` inside `tx`.
pub async fn apply(tx: &mut Tx, before: Option<&DemandRow>, after: &DemandRow) -> AppResult<()> {
    let mut t = Tally::new();
    t.change(before, after);
    t.write(tx).await
}

/// Sums the rollups of `roots` (disjoint subtrees, as `Principal::roots_for`
/// gives them) over the days of `[from_ms, to_ms)`.
pub async fn sum(db: &Db, roots: &[OrgPath], from_ms: i64, to_ms: i64) -> AppResult<Counts> {
    let mut total = Counts::default();
    for root in roots {
        let r = sqlx::query(
            "SELECT CAST(COALESCE(SUM(rated), 0) AS BIGINT), CAST(COALESCE(SUM(contacted), 0) AS BIGINT),
                    CAST(COALESCE(SUM(resolved), 0) AS BIGINT), CAST(COALESCE(SUM(satisfied), 0) AS BIGINT),
                    CAST(COALESCE(SUM(due), 0) AS BIGINT), CAST(COALESCE(SUM(suspended), 0) AS BIGINT),
                    CAST(COALESCE(SUM(closed), 0) AS BIGINT), CAST(COALESCE(SUM(closed_on_time), 0) AS BIGINT),
                    CAST(COALESCE(SUM(handled), 0) AS BIGINT), CAST(COALESCE(SUM(rework), 0) AS BIGINT),
                    CAST(COALESCE(SUM(fed_back_late), 0) AS BIGINT), CAST(COALESCE(SUM(escalated), 0) AS BIGINT)
             FROM demand_rollups WHERE node_path = $1 AND day >= $2 AND day < $3",
        )
        .bind(root.as_str())
        .bind(day_of(from_ms))
        .bind(day_of(to_ms))
        .fetch_one(db.reader())
        .await?;
        total.add(&Counts {
            rated: r.get(0),
            contacted: r.get(1),
            resolved: r.get(2),
            satisfied: r.get(3),
            due: r.get(4),
            suspended: r.get(5),
            closed: r.get(6),
            closed_on_time: r.get(7),
            handled: r.get(8),
            rework: r.get(9),
            fed_back_late: r.get(10),
            escalated: r.get(11),
        });
    }
    Ok(total)
}

/// Recomputes every rollup from the demands and their events (after an
/// import that bypassed the workflow, or to repair). One transaction.
pub async fn rebuild(db: &Db) -> AppResult<usize> {
    let mut tx = db.begin().await?;
    if db.backend() == Backend::Postgres {
        sqlx::query(
            "LOCK TABLE demand_rollups, demand_filings, demand_filings_monthly, demand_open IN EXCLUSIVE MODE",
        )
            .execute(&mut *tx)
            .await?;
    }
    for table in [
        "demand_rollups",
        "demand_filings",
        "demand_filings_monthly",
        "demand_open",
    ] {
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(&mut *tx)
            .await?;
    }
    let mut after = String::new();
    let mut n = 0;
    loop {
        let ids: Vec<String> =
            sqlx::query("SELECT id FROM demands WHERE id > $1 ORDER BY id LIMIT 1000")
                .bind(&after)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
        let Some(last) = ids.last().cloned() else {
            break;
        };
        // A thousand demands' counts merged: one upsert per row they touch.
        let mut t = Tally::new();
        for id in &ids {
            if let Some(d) = crate::store::get_demand_tx(&mut tx, id).await? {
                t.filing(&d);
                n += 1;
            }
        }
        t.write(&mut tx).await?;
        after = last;
    }
    let mut t = Tally::new();
    let events = sqlx::query(
        "SELECT d.org_path, e.action, e.at_ms FROM demand_events e JOIN demands d ON d.id = e.demand_id
         WHERE e.action IN ('resolve', 'verify_fail')",
    )
    .fetch_all(&mut *tx)
    .await?;
    for e in events {
        let path = OrgPath::from_db(e.get::<String, _>(0));
        t.event(&path, &e.get::<String, _>(1), e.get(2), false);
    }
    let firsts = sqlx::query(
        "SELECT d.org_path, MIN(e.at_ms) FROM demand_events e JOIN demands d ON d.id = e.demand_id
         WHERE e.action = 'escalate' GROUP BY e.demand_id, d.org_path",
    )
    .fetch_all(&mut *tx)
    .await?;
    for e in firsts {
        let path = OrgPath::from_db(e.get::<String, _>(0));
        t.event(&path, "escalate", e.get(1), true);
    }
    t.write(&mut tx).await?;
    tx.commit().await?;
    Ok(n)
}

/// Rebuilds when demands exist but no rollup does (a database from before
/// rollups). Cheap when there is nothing to do.
pub async fn ensure(db: &Db) -> AppResult<()> {
    let demands: i64 = sqlx::query("SELECT COUNT(*) FROM (SELECT 1 FROM demands LIMIT 1) t")
        .fetch_one(db.reader())
        .await?
        .get(0);
    let rollups: i64 = sqlx::query("SELECT COUNT(*) FROM (SELECT 1 FROM demand_rollups LIMIT 1) t")
        .fetch_one(db.reader())
        .await?
        .get(0);
    if demands > 0 && rollups == 0 {
        rebuild(db).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_shanghai_days() {
        // 2026-11-29T15:59:59Z is 23:59:59 in Shanghai; a second later is the next day.
        let t = kernel::clock::from_rfc3339("2026-11-29T23:59:59+08:00").unwrap();
        assert_eq!(day_of(t) + 1, day_of(t + 1000));
        assert_eq!(
            day_of(kernel::clock::day_start_ms("2026-11-30").unwrap()),
            day_of(t + 1000)
        );
    }

    fn day(s: &str) -> i64 {
        day_of(kernel::clock::day_start_ms(s).unwrap())
    }

    #[test]
    fn months_start_on_their_first_day() {
        assert_eq!(month_of(day("2026-11-29")), day("2026-11-01"));
        assert_eq!(month_of(day("2026-11-01")), day("2026-11-01"));
        assert_eq!(month_of(day("2024-02-29")), day("2024-02-01"));
        assert_eq!(next_month(day("2026-12-01")), day("2027-01-01"));
        assert_eq!(next_month(day("2024-02-01")), day("2024-03-01"));
        assert_eq!(month_of(0), 0);
    }

    #[test]
    fn a_year_reads_whole_months_and_its_edge_days() {
        let s = filing_spans(day("2025-11-15"), day("2026-11-15"), &[]);
        assert_eq!(s.months, Some((day("2025-12-01"), day("2026-11-01"))));
        assert_eq!(
            s.days,
            vec![
                (day("2025-11-15"), day("2025-12-01")),
                (day("2026-11-01"), day("2026-11-15"))
            ]
        );
        // Month-aligned: months only.
        let s = filing_spans(day("2026-01-01"), day("2027-01-01"), &[]);
        assert_eq!(s.months, Some((day("2026-01-01"), day("2027-01-01"))));
        assert!(s.days.is_empty());
        // Shorter than a month: days only.
        let s = filing_spans(day("2026-11-03"), day("2026-11-20"), &[]);
        assert_eq!(s.months, None);
        assert_eq!(s.days, vec![(day("2026-11-03"), day("2026-11-20"))]);
        // A cut inside a month keeps that month (and the rest) in days.
        let s = filing_spans(day("2026-01-01"), day("2026-04-01"), &[day("2026-02-08")]);
        assert_eq!(s.months, Some((day("2026-01-01"), day("2026-02-01"))));
        assert_eq!(s.days, vec![(day("2026-02-01"), day("2026-04-01"))]);
        assert_eq!(filing_spans(5, 5, &[]).days, vec![]);
    }

    proptest::proptest! {
        /// The spans cover `[from, to)` exactly once, whole months only where
        /// no cut falls inside them.
        #[test]
        fn spans_cover_every_day_once(from in 19_000i64..20_000, len in 0i64..800, cut in 19_000i64..21_000) {
            let to = from + len;
            let s = filing_spans(from, to, &[cut]);
            let mut seen = std::collections::BTreeMap::<i64, u32>::new();
            for (a, b) in &s.days {
                for d in *a..*b { *seen.entry(d).or_default() += 1; }
            }
            if let Some((a, b)) = s.months {
                let mut m = a;
                while m < b {
                    proptest::prop_assert_eq!(month_of(m), m);
                    let end = next_month(m);
                    proptest::prop_assert!(!(cut > m && cut < end));
                    for d in m..end { *seen.entry(d).or_default() += 1; }
                    m = end;
                }
                proptest::prop_assert_eq!(m, b);
            }
            proptest::prop_assert_eq!(seen.len() as i64, len);
            proptest::prop_assert!(seen.iter().all(|(d, n)| *n == 1 && *d >= from && *d < to));
        }

        #[test]
        fn chunks_add_up_from_few_sizes(n in 0usize..2000) {
            let c = chunks(n);
            proptest::prop_assert_eq!(c.iter().sum::<usize>(), n);
            proptest::prop_assert!(c.iter().all(|k| *k == 64 || *k <= 16));
        }
    }

    fn demand(status: DemandStatus) -> DemandRow {
        let path = OrgPath::parse("/141100/141102/C1/B1/U1/101/").unwrap();
        DemandRow::filed(
            "d1".into(),
            &crate::model::NewDemand {
                category: "leak".into(),
                title: "漏水".into(),
                description: "楼上漏水".into(),
                location: None,
                anonymous: false,
            },
            &crate::store::Filing {
                urgency: "normal",
                dispatch_deadline: 1_000,
                household_id: "h1",
                household_path: &path,
                building_id: None,
                channel: "web",
                reporter_user_id: None,
                created_by: "u1",
            },
            day_start_of("2026-11-20"),
        )
        .with_status(status)
    }

    fn day_start_of(s: &str) -> i64 {
        kernel::clock::day_start_ms(s).unwrap()
    }

    trait WithStatus {
        fn with_status(self, s: DemandStatus) -> Self;
    }
    impl WithStatus for DemandRow {
        fn with_status(mut self, s: DemandStatus) -> Self {
            self.status = s;
            self
        }
    }

    #[test]
    fn open_counts_follow_the_demand() {
        let filed = demand(DemandStatus::Submitted);
        assert_eq!(
            open_contribution(&filed),
            Some((
                NO_DEADLINE_DAY,
                OpenCounts {
                    open: 1,
                    ..Default::default()
                }
            ))
        );
        let mut dispatched = filed.clone();
        dispatched.status = DemandStatus::Dispatched;
        dispatched.feedback_deadline = Some(day_start_of("2026-11-25") + 3_600_000);
        dispatched.escalation_level = 1;
        dispatched.overdue = true;
        assert_eq!(
            open_contribution(&dispatched),
            Some((
                day("2026-11-25"),
                OpenCounts {
                    open: 1,
                    overdue: 1,
                    escalated: 1,
                    awaiting_feedback: 1
                }
            ))
        );
        let mut suspended = dispatched.clone();
        suspended.status = DemandStatus::Suspended;
        assert_eq!(
            open_contribution(&suspended).unwrap().1.awaiting_feedback,
            0
        );
        let mut resolved = dispatched.clone();
        resolved.status = DemandStatus::Resolved;
        resolved.resolved_at = Some(day_start_of("2026-11-24"));
        assert_eq!(open_contribution(&resolved), None);

        // Filing, then dispatch: every level moves from "no deadline" to the
        // deadline's day, and nothing is left behind.
        let mut t = Tally::new();
        t.filing(&filed);
        t.change(Some(&filed), &dispatched);
        let levels = levels(&filed.org_path).len();
        assert_eq!(t.open.len(), 2 * levels);
        assert!(t
            .open
            .iter()
            .filter(|((_, d), _)| *d == NO_DEADLINE_DAY)
            .all(|(_, c)| *c == OpenCounts::default()));
        // The zero rows are not written.
        let stmts = t.statements();
        let open_rows: usize = stmts
            .iter()
            .filter(|(sql, _)| sql.starts_with("INSERT INTO demand_open"))
            .map(|(_, v)| v.len() / 6)
            .sum();
        assert_eq!(open_rows, levels);
        // Resolving takes it away again.
        t.change(Some(&dispatched), &resolved);
        assert!(t.open.values().all(|c| *c == OpenCounts::default()));
    }

    #[test]
    fn a_batch_merges_shared_rows() {
        let a = demand(DemandStatus::Submitted);
        let mut b = a.clone();
        b.org_path = OrgPath::parse("/141100/141102/C1/B1/U1/102/").unwrap();
        let (mut ta, mut tb) = (Tally::new(), Tally::new());
        ta.filing(&a);
        tb.filing(&b);
        let mut batch = Tally::new();
        batch.merge(&ta);
        batch.merge(&tb);
        // Five shared levels and two households, each once.
        let levels = levels(&a.org_path).len();
        assert_eq!(batch.filings.len(), levels + 1);
        let shared = (
            "/141100/".to_string(),
            day_of(a.created_at),
            "leak".to_string(),
            "web".to_string(),
        );
        assert_eq!(batch.filings[&shared], 2);
        let stmts = batch.statements();
        let monthly: Vec<&(String, Vec<Val>)> = stmts
            .iter()
            .filter(|(sql, _)| sql.starts_with("INSERT INTO demand_filings_monthly"))
            .collect();
        assert_eq!(monthly.len(), 1);
        assert_eq!(monthly[0].1.len(), 5 * (levels + 1));
        assert!(monthly[0]
            .1
            .contains(&Val::from(month_of(day_of(a.created_at)))));
    }
}
