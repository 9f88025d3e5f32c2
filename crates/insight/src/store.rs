//! SQL for the dashboards: grouped aggregations over `demands` (and their
//! events) within scope ranges, the same text on SQLite and PostgreSQL
//! (`$n` placeholders, BIGINT Unix ms, Shanghai day buckets as
//! `(t + 28800000) / 86400000`, sums cast to BIGINT for PostgreSQL's NUMERIC).
//! The indicators themselves are not computed here but by
//! [`cases::rates`]; this file counts filings, lateness and escalations,
//! lists demands, finds the units of a league and keeps the weights.

use crate::model::Weights;
use kernel::db::opt_str;
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

const OPEN: &str =
    "('submitted', 'accepted', 'dispatched', 'in_progress', 'returned', 'rework', 'suspended')";

fn bind_roots<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    roots: &[OrgPath],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for r in roots {
        q = q.bind(r.as_str().to_string()).bind(r.subtree_end());
    }
    q
}

/// The part of [`LATE`] the rollups cannot hold because it depends on now:
/// demands not yet fed back (nor closed) whose deadline in `[$1, $2)` has
/// passed (`$3`). The rest of LATE, the demands fed back after their
/// deadline, is the rollups' `fed_back_late`. Its first condition repeats
/// [`OPEN`]'s list so that the partial index `demands_open_now` (open demands
/// only, migration 0081) serves it: only the scope's open demands are read.
/// `feedback_deadline + 0` keeps the planner off `(status, feedback_deadline)`:
/// at city scale it took that index for a month's deadlines and then read
/// every matching row of the whole city from the table (0.6 s), where the
/// partial index answers from the scope's open entries alone.
/// `resolved` and `closed` are not listed: a resolved demand always has
/// `resolved_at` and a closed one `closed_at` (every path to them sets it),
/// and listing them would walk every closed demand of the period.
const OPEN_LATE: &str = "d.status IN ('submitted', 'accepted', 'dispatched', 'in_progress', \
     'returned', 'rework', 'suspended') AND d.status IN ('submitted', 'accepted', 'dispatched', 'in_progress', \
     'returned', 'rework') AND d.resolved_at IS NULL AND d.closed_at IS NULL \
     AND d.feedback_deadline + 0 >= $1 AND d.feedback_deadline + 0 < $2 AND d.feedback_deadline + 0 < $3";

/// Filings per (bucket, category, channel); `day` is the bucket's first day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeRow {
    pub day: i64,
    pub category: String,
    pub channel: String,
    pub n: i64,
}

/// `node_path IN ($first, …)` over the roots (disjoint subtrees: each
/// root's rollup rows hold its whole subtree).
fn node_in(roots: usize, first: usize) -> String {
    let list: Vec<String> = (0..roots).map(|i| format!("${}", first + i)).collect();
    format!("node_path IN ({})", list.join(", "))
}

/// Filings in the buckets (contiguous, sorted), by category and channel,
/// from the `demand_filings` rollup: at most one row per node, day,
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
    // Bucket bounds are day numbers the server computed, not client text.
    let mut case = String::from("CASE");
    for b in buckets {
        case.push_str(&format!(" WHEN day < {} THEN {}", b.to_day, b.from_day));
    }
    case.push_str(" END");
    let sql = format!(
        "SELECT {case} AS gday, category, channel, CAST(SUM(n) AS BIGINT) AS n FROM demand_filings
         WHERE day >= $1 AND day < $2 AND {} GROUP BY 1, 2, 3",
        node_in(roots.len(), 3)
    );
    let mut q = sqlx::query(&sql).bind(first.from_day).bind(last.to_day);
    for r in roots {
        q = q.bind(r.as_str().to_string());
    }
    Ok(q.fetch_all(db.reader())
        .await?
        .iter()
        .map(|r| VolumeRow {
            day: r.get("gday"),
            category: r.get("category"),
            channel: r.get("channel"),
            n: r.get("n"),
        })
        .collect())
}

/// The number of filings in the days `[from_day, to_day)`.
pub async fn filed_total(db: &Db, roots: &[OrgPath], from_day: i64, to_day: i64) -> AppResult<i64> {
    if roots.is_empty() {
        return Ok(0);
    }
    let sql = format!(
        "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM demand_filings WHERE day >= $1 AND day < $2 AND {}",
        node_in(roots.len(), 3)
    );
    let mut q = sqlx::query(&sql).bind(from_day).bind(to_day);
    for r in roots {
        q = q.bind(r.as_str().to_string());
    }
    Ok(q.fetch_one(db.reader()).await?.get(0))
}

/// Open demands past a deadline in the period (see [`OPEN_LATE`]); add the
/// rollups' `fed_back_late` for the whole 超期 count of [`LATE`].
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
    let sql = format!(
        "SELECT COUNT(*) FROM demands d WHERE {OPEN_LATE} AND {}",
        scope_sql("d.org_path", roots.len(), 4)
    );
    Ok(bind_roots(
        sqlx::query(&sql).bind(from_ms).bind(to_ms).bind(now_ms),
        roots,
    )
    .fetch_one(db.reader())
    .await?
    .get(0))
}

/// Open, overdue (flagged by the sweep) and escalated open demands now.
pub async fn snapshot(db: &Db, roots: &[OrgPath]) -> AppResult<(i64, i64, i64)> {
    if roots.is_empty() {
        return Ok((0, 0, 0));
    }
    let sql = format!(
        "SELECT COUNT(*),
                CAST(COALESCE(SUM(CASE WHEN d.overdue = 1 THEN 1 ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN d.escalation_level > 0 THEN 1 ELSE 0 END), 0) AS BIGINT)
         FROM demands d WHERE d.status IN {OPEN} AND {}",
        scope_sql("d.org_path", roots.len(), 1)
    );
    let r = bind_roots(sqlx::query(&sql), roots)
        .fetch_one(db.reader())
        .await?;
    Ok((r.get(0), r.get(1), r.get(2)))
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

/// Filings per (unit, category) in the days `[from_day, to_day)`, from the
/// `demand_filings` rollup; units are given as their ranges (the unit's
/// subtree within scope, disjoint) and answered by index.
pub async fn unit_categories(
    db: &Db,
    units: &[Vec<OrgPath>],
    from_day: i64,
    to_day: i64,
) -> AppResult<Vec<(usize, String, i64)>> {
    let paths: Vec<(usize, &OrgPath)> = units
        .iter()
        .enumerate()
        .flat_map(|(i, ranges)| ranges.iter().map(move |p| (i, p)))
        .collect();
    if paths.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        "SELECT node_path, category, CAST(SUM(n) AS BIGINT) AS n FROM demand_filings
         WHERE day >= $1 AND day < $2 AND {} GROUP BY node_path, category",
        node_in(paths.len(), 3)
    );
    let mut q = sqlx::query(&sql).bind(from_day).bind(to_day);
    for (_, p) in &paths {
        q = q.bind(p.as_str().to_string());
    }
    Ok(q.fetch_all(db.reader())
        .await?
        .iter()
        .filter_map(|r| {
            let path: String = r.get("node_path");
            let unit = paths.iter().find(|(_, p)| p.as_str() == path)?.0;
            Some((unit, r.get("category"), r.get("n")))
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
    if roots.is_empty() || units.iter().all(Vec::is_empty) {
        return Ok(out);
    }
    let scope = scope_sql("d.org_path", roots.len(), 4);
    let (case, binds) = unit_case("d.org_path", units, 4 + 2 * roots.len());
    let sql = format!(
        "SELECT {case} AS unit, COUNT(*) AS n FROM demands d WHERE {OPEN_LATE} AND {scope} GROUP BY 1"
    );
    let rows = bind_roots(
        bind_roots(
            sqlx::query(&sql).bind(from_ms).bind(to_ms).bind(now_ms),
            roots,
        ),
        &binds,
    )
    .fetch_all(db.reader())
    .await?;
    for r in rows {
        let u: i64 = r.get("unit");
        if u >= 0 {
            out[u as usize] = r.get("n");
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
