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
//! and channel never change afterwards).

use crate::model::DemandStatus;
use crate::rates::Counts;
use crate::store::DemandRow;
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

/// Adds `c` to the row of every node in `nodes` for `day`: one multi-row
/// upsert (the nodes are distinct, so no row is hit twice).
async fn add(tx: &mut Tx, nodes: &[OrgPath], day: i64, c: &Counts) -> AppResult<()> {
    if nodes.is_empty() {
        return Ok(());
    }
    let values: Vec<String> = (0..nodes.len())
        .map(|i| {
            let b = i * 14;
            let cols: Vec<String> = (1..=14).map(|k| format!("${}", b + k)).collect();
            format!("({})", cols.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO demand_rollups (node_path, day, rated, contacted, resolved, satisfied, due, suspended, closed, closed_on_time, handled, rework, fed_back_late, escalated)
         VALUES {}
         ON CONFLICT (node_path, day) DO UPDATE SET
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
        values.join(", ")
    );
    let mut q = sqlx::query(&sql);
    for node in nodes {
        q = q
            .bind(node.as_str().to_string())
            .bind(day)
            .bind(c.rated)
            .bind(c.contacted)
            .bind(c.resolved)
            .bind(c.satisfied)
            .bind(c.due)
            .bind(c.suspended)
            .bind(c.closed)
            .bind(c.closed_on_time)
            .bind(c.handled)
            .bind(c.rework)
            .bind(c.fed_back_late)
            .bind(c.escalated);
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// Moves a demand's contribution from `before` to `after` inside `tx`.
pub async fn apply(tx: &mut Tx, before: Option<&DemandRow>, after: &DemandRow) -> AppResult<()> {
    let changes = delta(before, after);
    if changes.is_empty() {
        return Ok(());
    }
    let nodes = levels(&after.org_path);
    for (day, c) in &changes {
        add(tx, &nodes, *day, c).await?;
    }
    Ok(())
}

/// Counts one `resolve` (handled) or `verify_fail` (rework) event, or the
/// first `escalate` of a demand (`first_escalation`; later ones count no
/// more: the dashboards count escalated demands, not escalations).
pub async fn count_event(
    tx: &mut Tx,
    org_path: &OrgPath,
    action: &str,
    at_ms: i64,
    first_escalation: bool,
) -> AppResult<()> {
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
        _ => return Ok(()),
    };
    add(tx, &levels(org_path), day_of(at_ms), &c).await?;
    Ok(())
}

/// Counts a new demand's filing for its household and every node above.
pub async fn count_filing(tx: &mut Tx, d: &DemandRow) -> AppResult<()> {
    let mut w = Writes::new();
    push_filing(&mut w, d);
    w.run(tx).await?;
    Ok(())
}

/// [`count_filing`] as a write added to `w`.
pub fn push_filing(w: &mut Writes, d: &DemandRow) {
    push_filings(
        w,
        &d.org_path,
        day_of(d.created_at),
        &d.category,
        &d.channel,
        1,
    )
}

/// Adds `n` filings of (day, category, channel) to every level of `org_path`
/// (the seed writes its own sums through this too).
pub async fn add_filings(
    tx: &mut Tx,
    org_path: &OrgPath,
    day: i64,
    category: &str,
    channel: &str,
    n: i64,
) -> AppResult<()> {
    let mut w = Writes::new();
    push_filings(&mut w, org_path, day, category, channel, n);
    w.run(tx).await?;
    Ok(())
}

fn push_filings(
    w: &mut Writes,
    org_path: &OrgPath,
    day: i64,
    category: &str,
    channel: &str,
    n: i64,
) {
    let nodes = levels(org_path);
    let values: Vec<String> = (0..nodes.len())
        .map(|i| format!("(${}, $1, $2, $3, $4)", i + 5))
        .collect();
    let sql = format!(
        "INSERT INTO demand_filings (node_path, day, category, channel, n) VALUES {}
         ON CONFLICT (node_path, day, category, channel) DO UPDATE SET n = demand_filings.n + excluded.n",
        values.join(", ")
    );
    let mut vals: Vec<Val> = vec![day.into(), category.into(), channel.into(), n.into()];
    vals.extend(nodes.iter().map(|node| Val::from(node.as_str())));
    w.push(sql, vals);
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
        sqlx::query("LOCK TABLE demand_rollups IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("DELETE FROM demand_rollups")
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM demand_filings")
        .execute(&mut *tx)
        .await?;
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
        for id in &ids {
            if let Some(d) = crate::store::get_demand_tx(&mut tx, id).await? {
                apply(&mut tx, None, &d).await?;
                count_filing(&mut tx, &d).await?;
                n += 1;
            }
        }
        after = last;
    }
    let events = sqlx::query(
        "SELECT d.org_path, e.action, e.at_ms FROM demand_events e JOIN demands d ON d.id = e.demand_id
         WHERE e.action IN ('resolve', 'verify_fail')",
    )
    .fetch_all(&mut *tx)
    .await?;
    for e in events {
        let path = OrgPath::from_db(e.get::<String, _>(0));
        count_event(&mut tx, &path, &e.get::<String, _>(1), e.get(2), false).await?;
    }
    let firsts = sqlx::query(
        "SELECT d.org_path, MIN(e.at_ms) FROM demand_events e JOIN demands d ON d.id = e.demand_id
         WHERE e.action = 'escalate' GROUP BY e.demand_id, d.org_path",
    )
    .fetch_all(&mut *tx)
    .await?;
    for e in firsts {
        let path = OrgPath::from_db(e.get::<String, _>(0));
        count_event(&mut tx, &path, "escalate", e.get(1), true).await?;
    }
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
}
