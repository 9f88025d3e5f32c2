//! SQL for the dashboards: grouped aggregations over `demands` (and their
//! events) within scope ranges, the same text on SQLite and PostgreSQL
//! (`$n` placeholders, BIGINT Unix ms, Shanghai day buckets as
//! `(t + 28800000) / 86400000`, sums cast to BIGINT for PostgreSQL's NUMERIC).
//! The indicators themselves are not computed here but by
//! [`cases::rates`]; this file counts filings, lateness and escalations,
//! lists demands, finds the units of a league and keeps the weights.

use crate::model::Weights;
use crate::model::{day_of, day_start};
use cases::rollup::{filing_spans, FilingSpans};
use kernel::db::{opt_str, Val};
use kernel::rows::Columns;
use kernel::{AppError, AppResult, Db, OrgPath, Tx};
use org::model::OrgKind;
use org::store::{scope_sql, NodeRow};
use sqlx::any::AnyRow;
use sqlx::Row;

/// `(t + 28800000) / 86400000`: the Shanghai day of a BIGINT ms column.
pub fn day_sql(col: &str) -> String {
    format!("({col} + 28800000) / 86400000")
}

/// Fed back after the deadline, or not yet fed back with the deadline past:
/// over the demands whose feedback deadline falls in `[$1, $2)` and before
/// `$3` (now), neither merged, rejected nor suspended (as for 按期结案率).
const LATE: &str =
    "d.feedback_deadline >= $1 AND d.feedback_deadline < $2 AND d.feedback_deadline < $3 \
     AND d.status NOT IN ('merged', 'rejected', 'suspended') \
     AND COALESCE(d.resolved_at, d.closed_at, $3) > d.feedback_deadline";

fn bind_roots<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    roots: &[OrgPath],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for r in roots {
        q = q.bind(r.as_str().to_string()).bind(r.subtree_end());
    }
    q
}

/// Filings per (bucket, category, channel); `day` is the bucket's first day.
/// A bucket may come in more than one row (its whole months and its other
/// days are read apart): add them up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeRow {
    pub day: i64,
    pub category: String,
    pub channel: String,
    pub n: i64,
}

/// `column IN ($first, …)` over `n` values.
fn in_list(column: &str, n: usize, first: usize) -> String {
    let list: Vec<String> = (0..n).map(|i| format!("${}", first + i)).collect();
    format!("{column} IN ({})", list.join(", "))
}

/// The filings of `nodes` over the days `[from, to)` as one UNION ALL
/// query: whole months from `demand_filings_monthly`, the days around them
/// from `demand_filings` (see [`FilingSpans`]). `select` gives each part's
/// columns from its time column (`day` or `month`, both a day number: a
/// month's is its first day), `group_by` its grouping (may be empty).
fn filings_query(
    spans: &FilingSpans,
    nodes: &[&str],
    select: impl Fn(&str) -> String,
    group_by: &str,
) -> (String, Vec<Val>) {
    let mut parts = Vec::new();
    let mut vals: Vec<Val> = Vec::new();
    let mut part = |table: &str, col: &str, from: i64, to: i64| {
        let first = vals.len() + 1;
        parts.push(format!(
            "SELECT {} FROM {table} WHERE {col} >= ${first} AND {col} < ${} AND {}{group_by}",
            select(col),
            first + 1,
            in_list("node_path", nodes.len(), first + 2),
        ));
        vals.push(from.into());
        vals.push(to.into());
        vals.extend(nodes.iter().map(|n| Val::from(*n)));
    };
    for (from, to) in &spans.days {
        part("demand_filings", "day", *from, *to);
    }
    if let Some((from, to)) = spans.months {
        part("demand_filings_monthly", "month", from, to);
    }
    (parts.join(" UNION ALL "), vals)
}

/// Filings in the buckets (contiguous, sorted), by category and channel,
/// from the filings rollups: at most one row per node, month or day,
/// category and channel is read, whatever the number of demands.
pub async fn volume(
    db: &Db,
    roots: &[OrgPath],
    buckets: &[crate::model::Bucket],
) -> AppResult<Vec<VolumeRow>> {
    let (Some(first), Some(last)) = (buckets.first(), buckets.last()) else {
        return Ok(vec![]);
    };
    if roots.is_empty() {
        return Ok(vec![]);
    }
    let cuts: Vec<i64> = buckets.iter().map(|b| b.to_day).collect();
    let spans = filing_spans(first.from_day, last.to_day, &cuts);
    if spans.days.is_empty() && spans.months.is_none() {
        return Ok(vec![]);
    }
    // Bucket bounds are day numbers the server computed, not client text;
    // a whole month lies in one bucket (the cuts), found by its first day.
    let case = |col: &str| {
        let mut case = String::from("CASE");
        for b in buckets {
            case.push_str(&format!(" WHEN {col} < {} THEN {}", b.to_day, b.from_day));
        }
        case.push_str(" END");
        format!("{case} AS gday, category, channel, CAST(SUM(n) AS BIGINT) AS n")
    };
    let nodes: Vec<&str> = roots.iter().map(OrgPath::as_str).collect();
    let (sql, vals) = filings_query(&spans, &nodes, case, " GROUP BY 1, 2, 3");
    Ok(db
        .rows(&sql, vals)
        .await?
        .iter()
        .map(|r| VolumeRow {
            day: r.int("gday"),
            category: r.text("category"),
            channel: r.text("channel"),
            n: r.int("n"),
        })
        .collect())
}

/// The number of filings in the days `[from_day, to_day)`.
pub async fn filed_total(db: &Db, roots: &[OrgPath], from_day: i64, to_day: i64) -> AppResult<i64> {
    if roots.is_empty() || from_day >= to_day {
        return Ok(0);
    }
    let spans = filing_spans(from_day, to_day, &[]);
    let nodes: Vec<&str> = roots.iter().map(OrgPath::as_str).collect();
    let (sql, vals) = filings_query(
        &spans,
        &nodes,
        |_| "CAST(COALESCE(SUM(n), 0) AS BIGINT) AS n".into(),
        "",
    );
    Ok(db.rows(&sql, vals).await?.iter().map(|r| r.int("n")).sum())
}

/// How to count the open demands whose deadline falls in `[from_ms, to_ms)`
/// and has passed by `now_ms`: the whole days in there from `demand_open`
/// (`days`), the instants around them from the demands themselves
/// (`edges`, on `demands_open_deadline`: today's deadlines at most, and a
/// period's part-days).
#[derive(Debug, PartialEq, Eq)]
struct LateSpans {
    days: Option<(i64, i64)>,
    edges: Vec<(i64, i64)>,
}

fn late_spans(from_ms: i64, to_ms: i64, now_ms: i64) -> LateSpans {
    let end = to_ms.min(now_ms);
    if end <= from_ms {
        return LateSpans {
            days: None,
            edges: vec![],
        };
    }
    let mut first = day_of(from_ms);
    if day_start(first) < from_ms {
        first += 1;
    }
    // Never the key of demands without a deadline.
    let first = first.max(0);
    let last = day_of(end);
    if first >= last {
        return LateSpans {
            days: None,
            edges: vec![(from_ms, end)],
        };
    }
    LateSpans {
        days: Some((first, last)),
        edges: [(from_ms, day_start(first)), (day_start(last), end)]
            .into_iter()
            .filter(|(a, b)| a < b)
            .collect(),
    }
}

/// The part of [`LATE`] the rollups cannot hold because it depends on now:
/// open demands not yet fed back (nor closed) whose deadline has passed.
/// Their whole days are `demand_open`'s `awaiting_feedback`; this reads the
/// rest, the instants `[$1, $2)` (all past) around those days. Its first
/// condition repeats the open list of the partial index
/// `demands_open_deadline` (migration 0082), which holds the open demands
/// by deadline, so only the deadlines of those instants are read, city-wide,
/// and `d.org_path || ''` keeps the planner off the scope's open entries
/// (`demands_open_now`), which would read them all. `resolved` and `closed`
/// are not listed: a resolved demand always has `resolved_at` and a closed
/// one `closed_at` (every path to them sets it).
const OPEN_LATE_EDGE: &str = "d.status IN ('submitted', 'accepted', 'dispatched', 'in_progress', \
     'returned', 'rework', 'suspended') AND d.status IN ('submitted', 'accepted', 'dispatched', 'in_progress', \
     'returned', 'rework') AND d.resolved_at IS NULL AND d.closed_at IS NULL \
     AND d.feedback_deadline >= $1 AND d.feedback_deadline < $2";

/// Open demands past a deadline in the period (see [`OPEN_LATE`]); add the
/// rollups' `fed_back_late` for the whole 超期 count of [`LATE`]. Whole days
/// come from `demand_open`, so the cost does not grow with the open
/// demands.
pub async fn open_late(
    db: &Db,
    roots: &[OrgPath],
    from_ms: i64,
    to_ms: i64,
    now_ms: i64,
) -> AppResult<i64> {
    if roots.is_empty() {
        return Ok(0);
    }
    let spans = late_spans(from_ms, to_ms, now_ms);
    let mut n = 0;
    if let Some((from, to)) = spans.days {
        let sql = format!(
            "SELECT CAST(COALESCE(SUM(awaiting_feedback), 0) AS BIGINT) AS n FROM demand_open
             WHERE day >= $1 AND day < $2 AND {}",
            in_list("node_path", roots.len(), 3)
        );
        let mut vals: Vec<Val> = vec![from.into(), to.into()];
        vals.extend(roots.iter().map(|r| Val::from(r.as_str())));
        n += db
            .rows(&sql, vals)
            .await?
            .iter()
            .map(|r| r.int("n"))
            .sum::<i64>();
    }
    for (from, to) in spans.edges {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM demands d WHERE {OPEN_LATE_EDGE} AND {}",
            scope_sql("(d.org_path || '')", roots.len(), 3)
        );
        let mut vals: Vec<Val> = vec![from.into(), to.into()];
        vals.extend(range_vals(roots));
        n += db
            .rows(&sql, vals)
            .await?
            .iter()
            .map(|r| r.int("n"))
            .sum::<i64>();
    }
    Ok(n)
}

/// Each root as the two bounds of its subtree, for [`scope_sql`].
fn range_vals(roots: &[OrgPath]) -> Vec<Val> {
    roots
        .iter()
        .flat_map(|r| [Val::from(r.as_str()), Val::from(r.subtree_end())])
        .collect()
}

/// The open demands as they are, from `demand_open`: open, overdue (flagged
/// by the sweep) and escalated.
pub async fn snapshot(db: &Db, roots: &[OrgPath]) -> AppResult<(i64, i64, i64)> {
    if roots.is_empty() {
        return Ok((0, 0, 0));
    }
    let sql = format!(
        "SELECT CAST(COALESCE(SUM(open), 0) AS BIGINT) AS open,
                CAST(COALESCE(SUM(overdue), 0) AS BIGINT) AS overdue,
                CAST(COALESCE(SUM(escalated), 0) AS BIGINT) AS escalated
         FROM demand_open WHERE {}",
        in_list("node_path", roots.len(), 1)
    );
    let vals = roots.iter().map(|r| Val::from(r.as_str())).collect();
    let rows = db.rows(&sql, vals).await?;
    let r = rows
        .first()
        .ok_or_else(|| AppError::Internal("no row".into()))?;
    Ok((r.int("open"), r.int("overdue"), r.int("escalated")))
}

/// `CASE WHEN <unit 0's ranges> THEN 0 WHEN … END` over `col`, its
/// placeholders numbered from `first`; returns the SQL and the paths to
/// bind (each as a range start and end, in order).
fn unit_case(col: &str, units: &[Vec<OrgPath>], first: usize) -> (String, Vec<OrgPath>) {
    let mut sql = String::from("CASE");
    let mut binds = Vec::new();
    let mut next = first;
    for (i, ranges) in units.iter().enumerate() {
        if ranges.is_empty() {
            continue;
        }
        sql.push_str(&format!(
            " WHEN {} THEN {i}",
            scope_sql(col, ranges.len(), next)
        ));
        next += 2 * ranges.len();
        binds.extend(ranges.iter().cloned());
    }
    sql.push_str(" ELSE -1 END");
    (sql, binds)
}

/// The unit each range root belongs to (units as their ranges: each the
/// unit's subtree within scope, disjoint).
fn unit_paths(units: &[Vec<OrgPath>]) -> Vec<(usize, &str)> {
    units
        .iter()
        .enumerate()
        .flat_map(|(i, ranges)| ranges.iter().map(move |p| (i, p.as_str())))
        .collect()
}

/// Filings per (unit, category) in the days `[from_day, to_day)`, from the
/// filings rollups; units are given as their ranges and answered by index.
/// A unit and category may come in more than one row: add them up.
pub async fn unit_categories(
    db: &Db,
    units: &[Vec<OrgPath>],
    from_day: i64,
    to_day: i64,
) -> AppResult<Vec<(usize, String, i64)>> {
    let paths = unit_paths(units);
    if paths.is_empty() || from_day >= to_day {
        return Ok(vec![]);
    }
    let spans = filing_spans(from_day, to_day, &[]);
    let nodes: Vec<&str> = paths.iter().map(|(_, p)| *p).collect();
    let (sql, vals) = filings_query(
        &spans,
        &nodes,
        |_| "node_path, category, CAST(SUM(n) AS BIGINT) AS n".into(),
        " GROUP BY node_path, category",
    );
    Ok(db
        .rows(&sql, vals)
        .await?
        .iter()
        .filter_map(|r| {
            let path = r.text("node_path");
            let unit = paths.iter().find(|(_, p)| *p == path)?.0;
            Some((unit, r.text("category"), r.int("n")))
        })
        .collect())
}

/// [`open_late`] per unit (units as their ranges, answered by index).
pub async fn unit_open_late(
    db: &Db,
    roots: &[OrgPath],
    units: &[Vec<OrgPath>],
    from_ms: i64,
    to_ms: i64,
    now_ms: i64,
) -> AppResult<Vec<i64>> {
    let mut out = vec![0; units.len()];
    let paths = unit_paths(units);
    if roots.is_empty() || paths.is_empty() {
        return Ok(out);
    }
    let spans = late_spans(from_ms, to_ms, now_ms);
    if let Some((from, to)) = spans.days {
        let sql = format!(
            "SELECT node_path, CAST(COALESCE(SUM(awaiting_feedback), 0) AS BIGINT) AS n FROM demand_open
             WHERE day >= $1 AND day < $2 AND {} GROUP BY node_path",
            in_list("node_path", paths.len(), 3)
        );
        let mut vals: Vec<Val> = vec![from.into(), to.into()];
        vals.extend(paths.iter().map(|(_, p)| Val::from(*p)));
        for r in db.rows(&sql, vals).await?.iter() {
            let path = r.text("node_path");
            if let Some((u, _)) = paths.iter().find(|(_, p)| *p == path) {
                out[*u] += r.int("n");
            }
        }
    }
    for (from, to) in spans.edges {
        let col = "(d.org_path || '')";
        let scope = scope_sql(col, roots.len(), 3);
        let (case, binds) = unit_case(col, units, 3 + 2 * roots.len());
        let sql = format!(
            "SELECT {case} AS unit, COUNT(*) AS n FROM demands d WHERE {OPEN_LATE_EDGE} AND {scope} GROUP BY 1"
        );
        let mut vals: Vec<Val> = vec![from.into(), to.into()];
        vals.extend(range_vals(roots));
        vals.extend(range_vals(&binds));
        for r in db.rows(&sql, vals).await?.iter() {
            let u = r.int("unit");
            if u >= 0 {
                out[u as usize] += r.int("n");
            }
        }
    }
    Ok(out)
}

/// A demand as the lists of the dashboard and the report show it (no
/// resident's name, phone or household: title, category, place, handler).
#[derive(Debug, Clone)]
pub struct DemandLine {
    pub id: String,
    pub title: String,
    pub category: String,
    pub channel: String,
    pub status: String,
    pub org_path: OrgPath,
    pub assignee: Option<String>,
    pub created_at: i64,
    pub feedback_deadline: Option<i64>,
    pub resolved_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub escalation_level: i64,
    pub overdue: bool,
}

const LINE_COLS: &str =
    "d.id, d.title, d.category, d.channel, d.status, d.org_path, u.display_name AS assignee, \
     d.created_at, d.feedback_deadline, d.resolved_at, d.closed_at, d.escalation_level, d.overdue";

fn opt_i64(r: &AnyRow, c: &str) -> Option<i64> {
    r.try_get::<Option<i64>, _>(c).ok().flatten()
}

fn line_from(r: &AnyRow) -> DemandLine {
    DemandLine {
        id: r.get("id"),
        title: r.get("title"),
        category: r.get("category"),
        channel: r.get("channel"),
        status: r.get("status"),
        org_path: OrgPath::from_db(r.get("org_path")),
        assignee: opt_str(r, "assignee"),
        created_at: r.get("created_at"),
        feedback_deadline: opt_i64(r, "feedback_deadline"),
        resolved_at: opt_i64(r, "resolved_at"),
        closed_at: opt_i64(r, "closed_at"),
        escalation_level: r.get("escalation_level"),
        overdue: r.get::<i64, _>("overdue") != 0,
    }
}

/// The late demands of the period (see [`LATE`]), by deadline.
pub async fn late_list(
    db: &Db,
    roots: &[OrgPath],
    from_ms: i64,
    to_ms: i64,
    now_ms: i64,
    limit: i64,
) -> AppResult<Vec<DemandLine>> {
    if roots.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        "SELECT {LINE_COLS} FROM demands d LEFT JOIN users u ON u.id = d.assignee_user_id
         WHERE {LATE} AND {} ORDER BY d.feedback_deadline, d.id LIMIT $4",
        scope_sql("d.org_path", roots.len(), 5)
    );
    let q = sqlx::query(&sql)
        .bind(from_ms)
        .bind(to_ms)
        .bind(now_ms)
        .bind(limit);
    Ok(bind_roots(q, roots)
        .fetch_all(db.reader())
        .await?
        .iter()
        .map(line_from)
        .collect())
}

/// The demands filed in the period, newest first.
pub async fn filed_list(
    db: &Db,
    roots: &[OrgPath],
    from_ms: i64,
    to_ms: i64,
    limit: i64,
) -> AppResult<Vec<DemandLine>> {
    if roots.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        "SELECT {LINE_COLS} FROM demands d LEFT JOIN users u ON u.id = d.assignee_user_id
         WHERE d.created_at >= $1 AND d.created_at < $2 AND {}
         ORDER BY d.created_at DESC, d.id DESC LIMIT $3",
        scope_sql("d.org_path", roots.len(), 4)
    );
    let q = sqlx::query(&sql).bind(from_ms).bind(to_ms).bind(limit);
    Ok(bind_roots(q, roots)
        .fetch_all(db.reader())
        .await?
        .iter()
        .map(line_from)
        .collect())
}

/// A category's names (active or not: old demands keep their category).
#[derive(Debug, Clone)]
pub struct CategoryName {
    pub code: String,
    pub name: String,
    pub name_en: String,
}

/// Every category, in catalogue order.
pub async fn category_names(db: &Db) -> AppResult<Vec<CategoryName>> {
    Ok(sqlx::query(
        "SELECT code, name_zh, name_en FROM demand_categories ORDER BY sort_order, code",
    )
    .fetch_all(db.reader())
    .await?
    .iter()
    .map(|r| CategoryName {
        code: r.get(0),
        name: r.get(1),
        name_en: r.get(2),
    })
    .collect())
}

const NODE_COLS: &str = "id, parent_id, kind, code, name, org_path, version";

fn node_from(r: &AnyRow) -> NodeRow {
    NodeRow {
        id: r.get("id"),
        parent_id: opt_str(r, "parent_id"),
        kind: OrgKind::parse(&r.get::<String, _>("kind")).unwrap_or(OrgKind::Household),
        code: r.get("code"),
        name: r.get("name"),
        org_path: OrgPath::from_db(r.get("org_path")),
        version: r.get("version"),
    }
}

/// The nodes of the given kinds within the subtrees, in path order.
pub async fn nodes_of_kinds(
    db: &Db,
    roots: &[OrgPath],
    kinds: &[OrgKind],
) -> AppResult<Vec<NodeRow>> {
    if roots.is_empty() || kinds.is_empty() {
        return Ok(vec![]);
    }
    let kinds_sql: Vec<String> = kinds.iter().map(|k| format!("'{}'", k.as_str())).collect();
    let sql = format!(
        "SELECT {NODE_COLS} FROM org_nodes WHERE kind IN ({}) AND {} ORDER BY org_path LIMIT 5000",
        kinds_sql.join(", "),
        scope_sql("org_path", roots.len(), 1)
    );
    Ok(bind_roots(sqlx::query(&sql), roots)
        .fetch_all(db.reader())
        .await?
        .iter()
        .map(node_from)
        .collect())
}

/// The top-level nodes (the whole tree's roots).
pub async fn top_nodes(db: &Db) -> AppResult<Vec<NodeRow>> {
    Ok(sqlx::query(&format!(
        "SELECT {NODE_COLS} FROM org_nodes WHERE parent_id IS NULL ORDER BY org_path"
    ))
    .fetch_all(db.reader())
    .await?
    .iter()
    .map(node_from)
    .collect())
}

/// Butlers (楼宇管家) with a live grant inside the subtrees: (user id,
/// name, the org path of their grant), one row per user (the first grant).
pub async fn butlers_in(db: &Db, roots: &[OrgPath]) -> AppResult<Vec<(String, String, OrgPath)>> {
    if roots.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        "SELECT g.user_id, u.display_name, g.org_path FROM role_grants g JOIN users u ON u.id = g.user_id
         WHERE g.role = 'butler' AND g.revoked_at IS NULL AND {}
         ORDER BY u.display_name, g.user_id, g.org_path",
        scope_sql("g.org_path", roots.len(), 1)
    );
    let mut out: Vec<(String, String, OrgPath)> = Vec::new();
    for r in bind_roots(sqlx::query(&sql), roots)
        .fetch_all(db.reader())
        .await?
    {
        let id: String = r.get(0);
        if out.iter().all(|o| o.0 != id) {
            out.push((id, r.get(1), OrgPath::from_db(r.get(2))));
        }
    }
    Ok(out)
}

/// League weights stored for a node (a district or city).
#[derive(Debug, Clone)]
pub struct StoredWeights {
    pub org_id: String,
    pub org_path: OrgPath,
    pub weights: Weights,
    pub version: i64,
    pub updated_at: i64,
}

fn weights_from(r: &AnyRow) -> AppResult<StoredWeights> {
    let text: String = r.get("criteria");
    let weights: Weights = serde_json::from_str(&text)
        .map_err(|e| AppError::internal(format!("stored insight weights: {e}")))?;
    Ok(StoredWeights {
        org_id: r.get("org_id"),
        org_path: OrgPath::from_db(r.get("org_path")),
        weights,
        version: r.get("version"),
        updated_at: r.get("updated_at"),
    })
}

/// The weights that apply at `path`: those of the nearest node at or above
/// it that has some, else none (the defaults apply).
pub async fn effective_weights(db: &Db, path: &OrgPath) -> AppResult<Option<StoredWeights>> {
    let paths = path.ancestors_and_self();
    if paths.is_empty() {
        return Ok(None);
    }
    let ph: Vec<String> = (1..=paths.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT org_id, org_path, criteria, version, updated_at FROM insight_weights
         WHERE org_path IN ({}) ORDER BY LENGTH(org_path) DESC LIMIT 1",
        ph.join(", ")
    );
    let mut q = sqlx::query(&sql);
    for p in &paths {
        q = q.bind(p.as_str().to_string());
    }
    match q.fetch_optional(db.reader()).await? {
        Some(r) => Ok(Some(weights_from(&r)?)),
        None => Ok(None),
    }
}

/// Saves a node's weights; `version` is the one read (0: none stored yet).
/// A stale version is 409.
pub async fn save_weights(
    tx: &mut Tx,
    node: &NodeRow,
    w: &Weights,
    version: i64,
    user_id: &str,
    now: i64,
) -> AppResult<i64> {
    let text = serde_json::to_string(w).map_err(AppError::internal)?;
    let stale = || AppError::conflict("version_conflict", "权重已被他人修改,请刷新后重试");
    if version == 0 {
        let exists = sqlx::query("SELECT 1 FROM insight_weights WHERE org_id = $1")
            .bind(&node.id)
            .fetch_optional(&mut **tx)
            .await?;
        if exists.is_some() {
            return Err(stale());
        }
        sqlx::query(
            "INSERT INTO insight_weights (org_id, org_path, criteria, version, updated_by, updated_at)
             VALUES ($1, $2, $3, 1, $4, $5)",
        )
        .bind(&node.id)
        .bind(node.org_path.as_str())
        .bind(text)
        .bind(user_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        return Ok(1);
    }
    let n = sqlx::query(
        "UPDATE insight_weights SET criteria = $1, version = version + 1, updated_by = $2, updated_at = $3
         WHERE org_id = $4 AND version = $5",
    )
    .bind(text)
    .bind(user_id)
    .bind(now)
    .bind(&node.id)
    .bind(version)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(stale());
    }
    Ok(version + 1)
}

// --------------------------------------------------------- property surveys

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanyRow {
    pub id: String,
    pub name: String,
}

/// The company called `name`, created when new.
pub async fn company_named(
    tx: &mut Tx,
    name: &str,
    user_id: &str,
    now: i64,
) -> AppResult<CompanyRow> {
    if let Some(r) = sqlx::query("SELECT id, name FROM property_companies WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?
    {
        return Ok(CompanyRow {
            id: r.get(0),
            name: r.get(1),
        });
    }
    let id = kernel::id::new_id();
    sqlx::query(
        "INSERT INTO property_companies (id, name, created_by, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&id)
    .bind(name)
    .bind(user_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(CompanyRow {
        id,
        name: name.to_string(),
    })
}

/// Sets the company serving a compound.
pub async fn assign_company(
    tx: &mut Tx,
    compound: &NodeRow,
    company_id: &str,
    user_id: &str,
    now: i64,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO compound_companies (compound_id, compound_path, company_id, updated_by, updated_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (compound_id) DO UPDATE SET company_id = excluded.company_id,
            updated_by = excluded.updated_by, updated_at = excluded.updated_at",
    )
    .bind(&compound.id)
    .bind(compound.org_path.as_str())
    .bind(company_id)
    .bind(user_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn company_of(db: &Db, compound_id: &str) -> AppResult<Option<CompanyRow>> {
    Ok(sqlx::query(
        "SELECT c.id, c.name FROM compound_companies cc JOIN property_companies c ON c.id = cc.company_id
         WHERE cc.compound_id = $1",
    )
    .bind(compound_id)
    .fetch_optional(db.reader())
    .await?
    .map(|r| CompanyRow {
        id: r.get(0),
        name: r.get(1),
    }))
}

/// (compound, its company) for the compounds within the subtrees that have
/// one, by company name then compound path.
pub async fn compounds_with_companies(
    db: &Db,
    roots: &[OrgPath],
) -> AppResult<Vec<(NodeRow, CompanyRow)>> {
    if roots.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        "SELECT n.id, n.parent_id, n.kind, n.code, n.name, n.org_path, n.version, c.id AS company_id, c.name AS company
         FROM compound_companies cc JOIN property_companies c ON c.id = cc.company_id
         JOIN org_nodes n ON n.id = cc.compound_id
         WHERE {} ORDER BY c.name, c.id, n.org_path",
        scope_sql("cc.compound_path", roots.len(), 1)
    );
    Ok(bind_roots(sqlx::query(&sql), roots)
        .fetch_all(db.reader())
        .await?
        .iter()
        .map(|r| {
            (
                node_from(r),
                CompanyRow {
                    id: r.get("company_id"),
                    name: r.get("company"),
                },
            )
        })
        .collect())
}

#[derive(Debug, Clone)]
pub struct SurveyRow {
    pub id: String,
    pub compound_id: String,
    pub compound: String,
    pub org_path: OrgPath,
    pub period: String,
    pub company: Option<String>,
    pub status: String,
    pub result: Option<String>,
    pub created_at: i64,
    pub published_at: Option<i64>,
    pub version: i64,
}

const SURVEY_COLS: &str =
    "s.id, s.compound_id, n.name AS compound, s.org_path, s.period, c.name AS company, \
     s.status, s.result, s.created_at, s.published_at, s.version";
const SURVEY_FROM: &str = "property_surveys s JOIN org_nodes n ON n.id = s.compound_id \
     LEFT JOIN property_companies c ON c.id = s.company_id";

fn survey_from(r: &AnyRow) -> SurveyRow {
    SurveyRow {
        id: r.get("id"),
        compound_id: r.get("compound_id"),
        compound: r.get("compound"),
        org_path: OrgPath::from_db(r.get("org_path")),
        period: r.get("period"),
        company: opt_str(r, "company"),
        status: r.get("status"),
        result: opt_str(r, "result"),
        created_at: r.get("created_at"),
        published_at: opt_i64(r, "published_at"),
        version: r.get("version"),
    }
}

pub async fn insert_survey(
    tx: &mut Tx,
    compound: &NodeRow,
    period: &str,
    company_id: Option<&str>,
    user_id: &str,
    now: i64,
) -> AppResult<String> {
    let exists =
        sqlx::query("SELECT 1 FROM property_surveys WHERE compound_id = $1 AND period = $2")
            .bind(&compound.id)
            .bind(period)
            .fetch_optional(&mut **tx)
            .await?;
    if exists.is_some() {
        return Err(AppError::conflict(
            "survey_exists",
            "该小区本期的测评已经发起",
        ));
    }
    let id = kernel::id::new_id();
    sqlx::query(
        "INSERT INTO property_surveys (id, compound_id, org_path, period, company_id, status, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, 'open', $6, $7)",
    )
    .bind(&id)
    .bind(&compound.id)
    .bind(compound.org_path.as_str())
    .bind(period)
    .bind(company_id)
    .bind(user_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

pub async fn get_survey(db: &Db, id: &str) -> AppResult<Option<SurveyRow>> {
    Ok(sqlx::query(&format!(
        "SELECT {SURVEY_COLS} FROM {SURVEY_FROM} WHERE s.id = $1"
    ))
    .bind(id)
    .fetch_optional(db.reader())
    .await?
    .as_ref()
    .map(survey_from))
}

/// Surveys of compounds within the subtrees, newest first.
pub async fn surveys_in(db: &Db, roots: &[OrgPath], limit: i64) -> AppResult<Vec<SurveyRow>> {
    if roots.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        "SELECT {SURVEY_COLS} FROM {SURVEY_FROM} WHERE {} ORDER BY s.created_at DESC, s.id DESC LIMIT $1",
        scope_sql("s.org_path", roots.len(), 2)
    );
    Ok(bind_roots(sqlx::query(&sql).bind(limit), roots)
        .fetch_all(db.reader())
        .await?
        .iter()
        .map(survey_from)
        .collect())
}

/// Surveys of the compounds at any of the given exact paths (a resident's
/// households' ancestors), newest first.
pub async fn surveys_at(db: &Db, paths: &[OrgPath]) -> AppResult<Vec<SurveyRow>> {
    if paths.is_empty() {
        return Ok(vec![]);
    }
    let ph: Vec<String> = (1..=paths.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT {SURVEY_COLS} FROM {SURVEY_FROM} WHERE s.org_path IN ({}) ORDER BY s.created_at DESC, s.id DESC LIMIT 100",
        ph.join(", ")
    );
    let mut q = sqlx::query(&sql);
    for p in paths {
        q = q.bind(p.as_str().to_string());
    }
    Ok(q.fetch_all(db.reader())
        .await?
        .iter()
        .map(survey_from)
        .collect())
}

/// Every answer's scores, and the comments (newest first).
pub async fn answers(db: &Db, survey_id: &str) -> AppResult<(crate::model::Tally, Vec<String>)> {
    let rows = sqlx::query(
        "SELECT q1, q2, q3, q4, q5, comment FROM property_survey_answers WHERE survey_id = $1 ORDER BY at_ms DESC",
    )
    .bind(survey_id)
    .fetch_all(db.reader())
    .await?;
    let mut t = crate::model::Tally::default();
    let mut comments = Vec::new();
    for r in &rows {
        t.add(&[r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)]);
        if let Some(c) = opt_str(r, "comment") {
            comments.push(c);
        }
    }
    Ok((t, comments))
}

/// A household's answer: its scores and comment.
pub async fn answer_of(
    db: &Db,
    survey_id: &str,
    household_id: &str,
) -> AppResult<Option<([i64; 5], Option<String>)>> {
    Ok(sqlx::query(
        "SELECT q1, q2, q3, q4, q5, comment FROM property_survey_answers WHERE survey_id = $1 AND household_id = $2",
    )
    .bind(survey_id)
    .bind(household_id)
    .fetch_optional(db.reader())
    .await?
    .map(|r| ([r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)], opt_str(&r, "comment"))))
}

pub async fn insert_answer(
    tx: &mut Tx,
    survey_id: &str,
    household_id: &str,
    user_id: &str,
    scores: &[i64; 5],
    comment: Option<&str>,
    now: i64,
) -> AppResult<()> {
    let done = sqlx::query(
        "SELECT 1 FROM property_survey_answers WHERE survey_id = $1 AND household_id = $2",
    )
    .bind(survey_id)
    .bind(household_id)
    .fetch_optional(&mut **tx)
    .await?;
    if done.is_some() {
        return Err(AppError::conflict(
            "already_answered",
            "您家已经参与过本次测评",
        ));
    }
    sqlx::query(
        "INSERT INTO property_survey_answers (survey_id, household_id, user_id, q1, q2, q3, q4, q5, comment, at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(survey_id)
    .bind(household_id)
    .bind(user_id)
    .bind(scores[0])
    .bind(scores[1])
    .bind(scores[2])
    .bind(scores[3])
    .bind(scores[4])
    .bind(comment)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Publishes an open survey with its result; a survey published (or
/// changed) meanwhile is 409.
pub async fn publish_survey(
    tx: &mut Tx,
    survey_id: &str,
    version: i64,
    result: &str,
    user_id: &str,
    now: i64,
) -> AppResult<()> {
    let n = sqlx::query(
        "UPDATE property_surveys SET status = 'published', result = $1, published_by = $2, published_at = $3,
            version = version + 1
         WHERE id = $4 AND version = $5 AND status = 'open'",
    )
    .bind(result)
    .bind(user_id)
    .bind(now)
    .bind(survey_id)
    .bind(version)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(AppError::conflict("survey_closed", "该测评已经公布"));
    }
    Ok(())
}

/// Households within a subtree.
pub async fn households_in(db: &Db, path: &OrgPath) -> AppResult<i64> {
    Ok(sqlx::query(
        "SELECT COUNT(*) FROM org_nodes WHERE kind = 'household' AND org_path >= $1 AND org_path < $2",
    )
    .bind(path.as_str())
    .bind(path.subtree_end())
    .fetch_one(db.reader())
    .await?
    .get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> OrgPath {
        OrgPath::parse(s).unwrap()
    }

    #[test]
    fn late_spans_take_whole_days_from_the_counters() {
        let h = 3_600_000;
        let d = 24 * h;
        let today = day_start(20_000);
        // A period of whole days, now mid-day: the days before today from
        // the counters, today up to now from the demands.
        let s = late_spans(today - 10 * d, today + 5 * d, today + 9 * h);
        assert_eq!(s.days, Some((19_990, 20_000)));
        assert_eq!(s.edges, vec![(today, today + 9 * h)]);
        // Cut mid-day at the start: that part-day from the demands too.
        let s = late_spans(today - 10 * d + h, today + 5 * d, today);
        assert_eq!(s.days, Some((19_991, 20_000)));
        assert_eq!(s.edges, vec![(today - 10 * d + h, today - 9 * d)]);
        // Within one day: the demands only.
        let s = late_spans(today + h, today + 3 * h, today + 5 * h);
        assert_eq!((s.days, s.edges), (None, vec![(today + h, today + 3 * h)]));
        // All in the future: nothing.
        let s = late_spans(today + d, today + 2 * d, today);
        assert_eq!((s.days, s.edges), (None, vec![]));
    }

    #[test]
    fn unit_case_numbers_its_placeholders() {
        let units = vec![vec![p("/1/2/")], vec![], vec![p("/1/3/"), p("/1/4/")]];
        let (sql, binds) = unit_case("d.org_path", &units, 5);
        assert_eq!(binds, vec![p("/1/2/"), p("/1/3/"), p("/1/4/")]);
        assert!(
            sql.contains("$5") && sql.contains("$10") && !sql.contains("$11"),
            "{sql}"
        );
        assert!(sql.contains("THEN 0") && sql.contains("THEN 2") && !sql.contains("THEN 1"));
        assert!(sql.ends_with("ELSE -1 END"));
    }

    #[test]
    fn days_in_sql() {
        assert_eq!(
            day_sql("d.created_at"),
            "(d.created_at + 28800000) / 86400000"
        );
    }
}
