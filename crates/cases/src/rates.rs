//! The indicators (三率 and GB/T 30428), computed the same way everywhere
//! with the formulas of DESIGN.md §3:
//!
//! | indicator | formula |
//! |---|---|
//! | 响应率 `response_rate` | contacted / rated |
//! | 解决率 `resolution_rate` | resolved / rated |
//! | 满意率 `satisfaction_rate` | satisfied (4–5) / rated |
//! | 结案率 `closure_rate` | closed / (due − suspended) |
//! | 按期结案率 `on_time_closure_rate` | closed on time / (due − suspended) |
//! | 返工率 `rework_rate` | rework / handled |
//!
//! The counts behind them are taken over the demands in scope (`org_path`
//! within any of the roots) and a [`Period`] of whole days in Asia/Shanghai;
//! see [`Counts`] for what each one counts. [`compute`] runs three aggregate
//! queries (ratings, due, events) whatever the size of the scope; the pure
//! [`rates_from`] turns counts into fractions 0–1, a zero denominator giving 0.

use kernel::clock::day_start_ms;
use kernel::{AppResult, Db, FieldErrors, OrgPath};
use org::store::{scope_sql, NodeRow};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::BTreeMap;

const DAY_MS: i64 = 86_400_000;

/// The longest period: three years of days, counting both ends
/// (2024-01-01 … 2026-12-31 is 1096 days).
pub const MAX_SPAN_DAYS: i64 = 3 * 365 + 1;

/// A half-open range of Unix ms `[from_ms, to_ms)`: from the start of the
/// `from` day to the start of the day after `to` (both in Asia/Shanghai), so
/// `to` is inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from_ms: i64,
    pub to_ms: i64,
}

/// A strict `YYYY-MM-DD` (chrono alone would also take `2026-1-5`).
fn date_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        });
    if shape {
        day_start_ms(s)
    } else {
        None
    }
}

impl Period {
    /// Parses the `from` / `to` query parameters (both required). Errors are
    /// 422 with Chinese messages on `from` / `to`.
    pub fn parse(from: Option<&str>, to: Option<&str>) -> AppResult<Period> {
        let mut e = FieldErrors::new();
        let mut day = |field: &str, label: &str, v: Option<&str>| match v.map(str::trim) {
            None | Some("") => {
                e.add(field, format!("请填写{label}"));
                None
            }
            Some(s) => {
                let ms = date_ms(s);
                if ms.is_none() {
                    e.add(field, format!("{label}应为有效日期,格式 YYYY-MM-DD"));
                }
                ms
            }
        };
        let from_ms = day("from", "开始日期", from);
        let to_start = day("to", "结束日期", to);
        if let (Some(f), Some(t)) = (from_ms, to_start) {
            if f > t {
                e.add("to", "结束日期不能早于开始日期");
            } else if (t - f) / DAY_MS + 1 > MAX_SPAN_DAYS {
                e.add("to", "统计区间不能超过三年");
            }
        }
        e.check()?;
        Ok(Period {
            from_ms: from_ms.expect("checked"),
            to_ms: to_start.expect("checked") + DAY_MS,
        })
    }
}

/// The counts behind the indicators, over the demands in scope and the
/// period `[from, to)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Counts {
    /// Demands with `rated_at` in the period (the return visit happened then).
    pub rated: i64,
    /// Among `rated`: `rating_contacted = 1`.
    pub contacted: i64,
    /// Among `rated`: `rating_resolved = 1`.
    pub resolved: i64,
    /// Among `rated`: `rating_satisfaction >= 4` (满意 or 非常满意).
    pub satisfied: i64,
    /// Demands whose `feedback_deadline` falls in the period and whose status
    /// is neither `merged` nor `rejected`.
    pub due: i64,
    /// Among `due`: status `suspended` (缓办 — not counted against closure).
    pub suspended: i64,
    /// Among `due`: `closed_at IS NOT NULL`.
    pub closed: i64,
    /// Among `due`: `closed_on_time = 1`.
    pub closed_on_time: i64,
    /// `demand_events` with action `resolve` at `at_ms` in the period, on
    /// demands in scope (each feedback to the resident counts once).
    pub handled: i64,
    /// `demand_events` with action `verify_fail` in the period, on demands in
    /// scope (返工: verification failed).
    pub rework: i64,
    /// Among `due`, not suspended: fed back (`resolved_at`, else `closed_at`)
    /// after the deadline. With the open demands past their deadline this
    /// makes the dashboards' 超期 count; not part of the rates API.
    #[serde(skip)]
    pub fed_back_late: i64,
    /// Demands first escalated (督办) in the period; not part of the rates
    /// API.
    #[serde(skip)]
    pub escalated: i64,
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.rated += o.rated;
        self.contacted += o.contacted;
        self.resolved += o.resolved;
        self.satisfied += o.satisfied;
        self.due += o.due;
        self.suspended += o.suspended;
        self.closed += o.closed;
        self.closed_on_time += o.closed_on_time;
        self.handled += o.handled;
        self.rework += o.rework;
        self.fed_back_late += o.fed_back_late;
        self.escalated += o.escalated;
    }
}

/// The counts and the six indicators, fractions 0–1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Rates {
    #[serde(flatten)]
    pub counts: Counts,
    /// 响应率 = contacted / rated
    pub response_rate: f64,
    /// 解决率 = resolved / rated
    pub resolution_rate: f64,
    /// 满意率 = satisfied (4–5) / rated
    pub satisfaction_rate: f64,
    /// 结案率 = closed / (due − suspended)
    pub closure_rate: f64,
    /// 按期结案率 = closed on time / (due − suspended)
    pub on_time_closure_rate: f64,
    /// 返工率 = rework / handled
    pub rework_rate: f64,
}

/// `num / den`, and 0 when there is nothing to divide by.
fn ratio(num: i64, den: i64) -> f64 {
    if den <= 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// The formulas of DESIGN.md §3:
/// 响应率 = contacted / rated; 解决率 = resolved / rated;
/// 满意率 = satisfied (4–5) / rated; 结案率 = closed / (due − suspended);
/// 按期结案率 = closed on time / (due − suspended); 返工率 = rework / handled.
/// A zero denominator gives 0.0.
pub fn rates_from(c: &Counts) -> Rates {
    let open_due = c.due - c.suspended;
    Rates {
        counts: *c,
        response_rate: ratio(c.contacted, c.rated),
        resolution_rate: ratio(c.resolved, c.rated),
        satisfaction_rate: ratio(c.satisfied, c.rated),
        closure_rate: ratio(c.closed, open_due),
        on_time_closure_rate: ratio(c.closed_on_time, open_due),
        rework_rate: ratio(c.rework, c.handled),
    }
}

/// `CAST(COALESCE(SUM(CASE WHEN cond THEN 1 ELSE 0 END), 0) AS BIGINT)`:
/// PostgreSQL's SUM may be NUMERIC, which the Any driver cannot decode.
fn count_if(cond: &str) -> String {
    format!("CAST(COALESCE(SUM(CASE WHEN {cond} THEN 1 ELSE 0 END), 0) AS BIGINT)")
}

fn ratings_cols() -> String {
    format!(
        "COUNT(*) AS rated, {} AS contacted, {} AS resolved, {} AS satisfied",
        count_if("d.rating_contacted = 1"),
        count_if("d.rating_resolved = 1"),
        count_if("d.rating_satisfaction >= 4"),
    )
}

fn due_cols() -> String {
    format!(
        "COUNT(*) AS due, {} AS suspended, {} AS closed, {} AS closed_on_time, {} AS fed_back_late",
        count_if("d.status = 'suspended'"),
        count_if("d.closed_at IS NOT NULL"),
        count_if("d.closed_on_time = 1"),
        count_if(
            "d.status <> 'suspended' AND COALESCE(d.resolved_at, d.closed_at) > d.feedback_deadline"
        ),
    )
}

fn events_cols() -> String {
    format!(
        "{} AS handled, {} AS rework",
        count_if("e.action = 'resolve'"),
        count_if("e.action = 'verify_fail'"),
    )
}

// $1 from, $2 to, then the scope ranges from $3. `group` is either empty or
// the grouping column (selected as `gkey`, with the user's name as `gname`).
fn ratings_sql(roots: usize, group: Option<&str>) -> String {
    let scope = scope_sql("d.org_path", roots, 3);
    grouped(
        &format!(
            "{{sel}}{} FROM demands d {{join}} WHERE d.rated_at >= $1 AND d.rated_at < $2 AND {scope}",
            ratings_cols()
        ),
        group,
    )
}

fn due_sql(roots: usize, group: Option<&str>) -> String {
    let scope = scope_sql("d.org_path", roots, 3);
    grouped(
        &format!(
            "{{sel}}{} FROM demands d {{join}} WHERE d.feedback_deadline >= $1 AND d.feedback_deadline < $2 \
             AND d.status NOT IN ('merged', 'rejected') AND {scope}",
            due_cols()
        ),
        group,
    )
}

fn events_sql(roots: usize, group: Option<&str>) -> String {
    let scope = scope_sql("d.org_path", roots, 3);
    grouped(
        &format!(
            "{{sel}}{} FROM demand_events e JOIN demands d ON d.id = e.demand_id {{join}} \
             WHERE e.at_ms >= $1 AND e.at_ms < $2 AND e.action IN ('resolve', 'verify_fail') AND {scope}",
            events_cols()
        ),
        group,
    )
}

// Demands whose first `escalate` event falls in the period ($1, $2).
fn escalated_sql(roots: usize) -> String {
    let scope = scope_sql("d.org_path", roots, 3);
    format!(
        "SELECT COUNT(*) FROM (SELECT e.demand_id, MIN(e.at_ms) AS first_at FROM demand_events e \
         JOIN demands d ON d.id = e.demand_id WHERE e.action = 'escalate' AND {scope} \
         GROUP BY e.demand_id) t WHERE t.first_at >= $1 AND t.first_at < $2"
    )
}

fn grouped(template: &str, group: Option<&str>) -> String {
    match group {
        None => template.replace("{sel}", "SELECT ").replace("{join}", ""),
        Some(col) => format!(
            "{} AND {col} IS NOT NULL GROUP BY {col}, u.display_name",
            template
                .replace(
                    "{sel}",
                    &format!("SELECT {col} AS gkey, u.display_name AS gname, ")
                )
                .replace("{join}", &format!("LEFT JOIN users u ON u.id = {col}"))
        ),
    }
}

async fn fetch(db: &Db, sql: &str, roots: &[OrgPath], period: &Period) -> AppResult<Vec<AnyRow>> {
    let mut q = sqlx::query(sql).bind(period.from_ms).bind(period.to_ms);
    for r in roots {
        q = q.bind(r.as_str().to_string()).bind(r.subtree_end());
    }
    Ok(q.fetch_all(db.reader()).await?)
}

fn ratings_from(r: &AnyRow, c: &mut Counts) {
    c.rated = r.get("rated");
    c.contacted = r.get("contacted");
    c.resolved = r.get("resolved");
    c.satisfied = r.get("satisfied");
}

fn due_from(r: &AnyRow, c: &mut Counts) {
    c.due = r.get("due");
    c.suspended = r.get("suspended");
    c.closed = r.get("closed");
    c.closed_on_time = r.get("closed_on_time");
    c.fed_back_late = r.get("fed_back_late");
}

fn events_from(r: &AnyRow, c: &mut Counts) {
    c.handled = r.get("handled");
    c.rework = r.get("rework");
}

/// The counts over the demands within any of `roots`, in `period`: three
/// aggregate queries (ratings, due, events), served by the
/// `(org_path, rated_at)` and `(org_path, feedback_deadline)` indexes.
/// The counts for the subtrees over the period, read from the incremental
/// rollups (crate::rollup): at most one row per root and day.
pub async fn compute(db: &Db, roots: &[OrgPath], period: &Period) -> AppResult<Counts> {
    crate::rollup::sum(db, roots, period.from_ms, period.to_ms).await
}

/// The same counts computed from the demands and events themselves: the
/// reference the rollups are checked against (and the path of groupings
/// the rollups do not keep, such as by assignee).
pub async fn compute_direct(db: &Db, roots: &[OrgPath], period: &Period) -> AppResult<Counts> {
    let mut c = Counts::default();
    if roots.is_empty() {
        return Ok(c);
    }
    let n = roots.len();
    if let Some(r) = fetch(db, &ratings_sql(n, None), roots, period)
        .await?
        .first()
    {
        ratings_from(r, &mut c);
    }
    if let Some(r) = fetch(db, &due_sql(n, None), roots, period).await?.first() {
        due_from(r, &mut c);
    }
    if let Some(r) = fetch(db, &events_sql(n, None), roots, period)
        .await?
        .first()
    {
        events_from(r, &mut c);
    }
    if let Some(r) = fetch(db, &escalated_sql(n), roots, period).await?.first() {
        c.escalated = r.get(0);
    }
    Ok(c)
}

/// The counts per assignee (per butler / handler), for rankings: rated,
/// contacted, resolved, satisfied and due, suspended, closed, closed on time
/// by the demand's `assignee_user_id`; handled by the `resolve` event's
/// `actor_id` (who fed back); rework by the demand's `assignee_user_id` too,
/// since the actor of `verify_fail` is the verifier, not the handler whose
/// work failed. Demands without an assignee and events without an actor
/// belong to nobody and are left out. Sorted by name, then user id.
pub async fn by_assignee(
    db: &Db,
    roots: &[OrgPath],
    period: &Period,
) -> AppResult<Vec<(String, String, Counts)>> {
    if roots.is_empty() {
        return Ok(vec![]);
    }
    let n = roots.len();
    let mut groups: BTreeMap<String, (String, Counts)> = BTreeMap::new();
    let mut each = |rows: Vec<AnyRow>, f: fn(&AnyRow, &mut Counts)| {
        for r in &rows {
            let key: String = r.get("gkey");
            let name = kernel::db::opt_str(r, "gname").unwrap_or_default();
            let mut one = Counts::default();
            f(r, &mut one);
            let slot = groups
                .entry(key)
                .or_insert_with(|| (name, Counts::default()));
            slot.1.add(&one);
        }
    };
    each(
        fetch(
            db,
            &ratings_sql(n, Some("d.assignee_user_id")),
            roots,
            period,
        )
        .await?,
        ratings_from,
    );
    each(
        fetch(db, &due_sql(n, Some("d.assignee_user_id")), roots, period).await?,
        due_from,
    );
    each(fetch(db, &handled_sql(n), roots, period).await?, |r, c| {
        c.handled = r.get("handled")
    });
    each(fetch(db, &rework_sql(n), roots, period).await?, |r, c| {
        c.rework = r.get("rework")
    });
    let mut out: Vec<(String, String, Counts)> = groups
        .into_iter()
        .map(|(id, (name, c))| (id, name, c))
        .collect();
    out.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    Ok(out)
}

fn handled_sql(roots: usize) -> String {
    let scope = scope_sql("d.org_path", roots, 3);
    grouped(
        &format!(
            "{{sel}}COUNT(*) AS handled FROM demand_events e JOIN demands d ON d.id = e.demand_id {{join}} \
             WHERE e.at_ms >= $1 AND e.at_ms < $2 AND e.action = 'resolve' AND {scope}"
        ),
        Some("e.actor_id"),
    )
}

fn rework_sql(roots: usize) -> String {
    let scope = scope_sql("d.org_path", roots, 3);
    grouped(
        &format!(
            "{{sel}}COUNT(*) AS rework FROM demand_events e JOIN demands d ON d.id = e.demand_id {{join}} \
             WHERE e.at_ms >= $1 AND e.at_ms < $2 AND e.action = 'verify_fail' AND {scope}"
        ),
        Some("d.assignee_user_id"),
    )
}

/// The part of `child`'s subtree that lies within `roots`: the child itself
/// when a root covers it, else the roots inside it (empty: out of scope).
pub fn child_roots(child: &OrgPath, roots: &[OrgPath]) -> Vec<OrgPath> {
    if roots.iter().any(|r| child.is_within(r)) {
        return vec![child.clone()];
    }
    roots
        .iter()
        .filter(|r| r.is_within(child))
        .cloned()
        .collect()
}

/// One [`Counts`] per child node of `node` that lies (at least partly) in
/// scope, each computed with [`compute`] over child subtree ∩ roots, in
/// org path order.
pub async fn by_children(
    db: &Db,
    node: &NodeRow,
    roots: &[OrgPath],
    period: &Period,
) -> AppResult<Vec<(NodeRow, Counts)>> {
    let mut out = Vec::new();
    for child in org::store::children(db, &node.id).await? {
        let scoped = child_roots(&child.org_path, roots);
        if scoped.is_empty() {
            continue;
        }
        let c = compute(db, &scoped, period).await?;
        out.push((child, c));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> OrgPath {
        OrgPath::parse(s).unwrap()
    }

    #[test]
    fn rates_follow_the_formulas() {
        let c = Counts {
            rated: 8,
            contacted: 6,
            resolved: 5,
            satisfied: 4,
            due: 7,
            suspended: 2,
            closed: 4,
            closed_on_time: 3,
            handled: 10,
            rework: 1,
            ..Default::default()
        };
        let r = rates_from(&c);
        assert_eq!(r.counts, c);
        assert_eq!(r.response_rate, 6.0 / 8.0);
        assert_eq!(r.resolution_rate, 5.0 / 8.0);
        assert_eq!(r.satisfaction_rate, 4.0 / 8.0);
        assert_eq!(r.closure_rate, 4.0 / 5.0);
        assert_eq!(r.on_time_closure_rate, 3.0 / 5.0);
        assert_eq!(r.rework_rate, 1.0 / 10.0);
    }

    #[test]
    fn zero_denominators_give_zero() {
        let r = rates_from(&Counts::default());
        assert_eq!(
            [
                r.response_rate,
                r.resolution_rate,
                r.satisfaction_rate,
                r.closure_rate,
                r.on_time_closure_rate,
                r.rework_rate
            ],
            [0.0; 6]
        );
        // Everything due was suspended: nothing to close, so 0, not NaN.
        let r = rates_from(&Counts {
            due: 3,
            suspended: 3,
            ..Default::default()
        });
        assert_eq!(r.closure_rate, 0.0);
        assert_eq!(r.on_time_closure_rate, 0.0);
    }

    #[test]
    fn rates_serialize_flat() {
        let v = serde_json::to_value(rates_from(&Counts {
            rated: 2,
            contacted: 1,
            ..Default::default()
        }))
        .unwrap();
        assert_eq!(v["rated"], 2);
        assert_eq!(v["response_rate"], 0.5);
        assert!(v.get("counts").is_none());
    }

    #[test]
    fn period_is_whole_days_in_shanghai() {
        let p = Period::parse(Some("2025-03-01"), Some("2025-03-31")).unwrap();
        assert_eq!(p.from_ms, day_start_ms("2025-03-01").unwrap());
        assert_eq!(p.to_ms, day_start_ms("2025-04-01").unwrap());
        assert_eq!(
            kernel::clock::to_rfc3339(p.from_ms),
            "2025-03-01T00:00:00+08:00"
        );
        // One day.
        let d = Period::parse(Some("2025-03-01"), Some("2025-03-01")).unwrap();
        assert_eq!(d.to_ms - d.from_ms, DAY_MS);
        // Exactly three years is allowed, a day more is not.
        assert!(Period::parse(Some("2024-01-01"), Some("2026-12-31")).is_ok());
        let e = Period::parse(Some("2024-01-01"), Some("2027-01-01")).unwrap_err();
        assert_eq!(e.fields().unwrap().0["to"], vec!["统计区间不能超过三年"]);
    }

    #[test]
    fn period_errors_name_the_field() {
        let e = Period::parse(Some("2025-03-02"), Some("2025-03-01")).unwrap_err();
        assert_eq!(e.status(), axum::http::StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            e.fields().unwrap().0["to"],
            vec!["结束日期不能早于开始日期"]
        );
        for bad in ["2025-3-1", "2025-02-30", "20250301", "2025/03/01", "x"] {
            let e = Period::parse(Some(bad), Some("2025-03-31")).unwrap_err();
            assert!(e.fields().unwrap().0.contains_key("from"), "{bad}");
        }
        let e = Period::parse(None, Some("")).unwrap_err();
        let f = &e.fields().unwrap().0;
        assert_eq!(f["from"], vec!["请填写开始日期"]);
        assert_eq!(f["to"], vec!["请填写结束日期"]);
    }

    #[test]
    fn child_scope_is_the_intersection() {
        let roots = [p("/1/2/3/"), p("/9/")];
        // A child covered by a root is taken whole.
        assert_eq!(child_roots(&p("/9/8/"), &roots), vec![p("/9/8/")]);
        // A child above a root is narrowed to that root.
        assert_eq!(child_roots(&p("/1/2/"), &roots), vec![p("/1/2/3/")]);
        // A sibling is out of scope.
        assert!(child_roots(&p("/1/4/"), &roots).is_empty());
        assert!(child_roots(&p("/1/2/30/"), &roots).is_empty());
    }

    #[test]
    fn sql_has_one_placeholder_pair_per_root() {
        let s = ratings_sql(2, None);
        assert!(s.contains("$6") && !s.contains("$7"), "{s}");
        assert!(s.starts_with("SELECT COUNT(*) AS rated"), "{s}");
        assert!(!s.contains("{sel}") && !s.contains("{join}"));
        let g = due_sql(1, Some("d.assignee_user_id"));
        assert!(
            g.contains("GROUP BY d.assignee_user_id, u.display_name"),
            "{g}"
        );
        assert!(g.contains("LEFT JOIN users u ON u.id = d.assignee_user_id"));
    }

    fn consistent() -> impl Strategy<Value = Counts> {
        (0i64..1000, 0i64..1000, 0i64..1000).prop_flat_map(|(rated, due, handled)| {
            (
                0..=rated,
                0..=rated,
                0..=rated,
                0..=due,
                0..=handled,
                Just((rated, due, handled)),
            )
                .prop_flat_map(
                    |(contacted, resolved, satisfied, suspended, rework, (rated, due, handled))| {
                        let open = due - suspended;
                        (0..=open).prop_flat_map(move |closed| {
                            (0..=closed).prop_map(move |closed_on_time| Counts {
                                rated,
                                contacted,
                                resolved,
                                satisfied,
                                due,
                                suspended,
                                closed,
                                closed_on_time,
                                handled,
                                rework,
                                ..Default::default()
                            })
                        })
                    },
                )
        })
    }

    proptest! {
        /// With numerators never above their denominators, every rate is a
        /// fraction in [0, 1] (never NaN, never above 1).
        #[test]
        fn rates_stay_within_0_and_1(c in consistent()) {
            let r = rates_from(&c);
            for x in [r.response_rate, r.resolution_rate, r.satisfaction_rate,
                      r.closure_rate, r.on_time_closure_rate, r.rework_rate] {
                prop_assert!((0.0..=1.0).contains(&x), "{x} from {c:?}");
            }
            prop_assert_eq!(r.counts, c);
        }
    }
}
