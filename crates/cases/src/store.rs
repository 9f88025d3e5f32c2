//! SQL for demands. A demand carries its household's org path, so a
//! resident's scope is an exact path and staff scope a path range.

use crate::model::{DemandStatus, NewDemand};
use kernel::db::{opt_str, Val, Writes};
use kernel::id::new_id;
use kernel::rows::{Columns, Rows};
use kernel::{AppResult, Db, OrgPath, Tx};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Category {
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub kind: String,
    pub dispatch_limit_minutes: i64,
    pub feedback_limit_minutes: i64,
}

fn category_from(r: &AnyRow) -> Category {
    Category {
        code: r.get("code"),
        name: r.get("name_zh"),
        name_en: r.get("name_en"),
        kind: r.get("kind"),
        dispatch_limit_minutes: r.get("dispatch_limit_minutes"),
        feedback_limit_minutes: r.get("feedback_limit_minutes"),
    }
}

pub async fn categories(db: &Db) -> AppResult<Vec<Category>> {
    let rows = sqlx::query(
        "SELECT code, name_zh, name_en, kind, dispatch_limit_minutes, feedback_limit_minutes
         FROM demand_categories WHERE active = 1 ORDER BY sort_order, code",
    )
    .fetch_all(db.reader())
    .await?;
    Ok(rows.iter().map(category_from).collect())
}

pub async fn category(db: &Db, code: &str) -> AppResult<Option<Category>> {
    let r = sqlx::query(
        "SELECT code, name_zh, name_en, kind, dispatch_limit_minutes, feedback_limit_minutes
         FROM demand_categories WHERE code = $1 AND active = 1",
    )
    .bind(code)
    .fetch_optional(db.reader())
    .await?;
    Ok(r.as_ref().map(category_from))
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_category(
    tx: &mut Tx,
    code: &str,
    name_zh: &str,
    name_en: &str,
    kind: &str,
    dispatch_minutes: i64,
    feedback_minutes: i64,
    sort: i64,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO demand_categories (code, name_zh, name_en, kind, dispatch_limit_minutes, feedback_limit_minutes, active, sort_order)
         VALUES ($1, $2, $3, $4, $5, $6, 1, $7)",
    )
    .bind(code)
    .bind(name_zh)
    .bind(name_en)
    .bind(kind)
    .bind(dispatch_minutes)
    .bind(feedback_minutes)
    .bind(sort)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize)]
pub struct DemandRow {
    pub id: String,
    pub org_path: OrgPath,
    pub household_id: String,
    pub building_id: Option<String>,
    pub category: String,
    pub title: String,
    pub description: String,
    pub location: Option<String>,
    pub anonymous: bool,
    pub channel: String,
    pub status: DemandStatus,
    pub reporter_user_id: Option<String>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
    pub urgency: String,
    pub assignee_user_id: Option<String>,
    pub dispatch_deadline: Option<i64>,
    pub feedback_deadline: Option<i64>,
    pub suspended_from: Option<DemandStatus>,
    pub suspended_at: Option<i64>,
    pub remaining_minutes: Option<i64>,
    pub dispatched_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub closed_on_time: Option<bool>,
    pub rework_count: i64,
    pub escalation_level: i64,
    pub escalated_to: Option<String>,
    pub overdue: bool,
    pub merged_into: Option<String>,
    pub support_count: i64,
    pub rating: Option<RatingRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RatingRow {
    pub rated_at: i64,
    pub contacted: bool,
    pub resolved: bool,
    pub satisfaction: i64,
    pub comment: Option<String>,
    pub source: String,
}

impl DemandRow {
    /// A demand as filed: its columns from the filing, the rest at the
    /// table's defaults (what `INSERT_COLS` leaves out).
    pub fn filed(id: String, d: &NewDemand, f: &Filing<'_>, now: i64) -> DemandRow {
        DemandRow {
            id,
            org_path: f.household_path.clone(),
            household_id: f.household_id.to_string(),
            building_id: f.building_id.map(str::to_string),
            category: d.category.clone(),
            title: d.title.clone(),
            description: d.description.clone(),
            location: d.location.clone(),
            anonymous: d.anonymous,
            channel: f.channel.to_string(),
            status: DemandStatus::Submitted,
            reporter_user_id: f.reporter_user_id.map(str::to_string),
            created_by: f.created_by.to_string(),
            created_at: now,
            updated_at: now,
            version: 1,
            urgency: f.urgency.to_string(),
            assignee_user_id: None,
            dispatch_deadline: Some(f.dispatch_deadline),
            feedback_deadline: None,
            suspended_from: None,
            suspended_at: None,
            remaining_minutes: None,
            dispatched_at: None,
            resolved_at: None,
            closed_at: None,
            closed_on_time: None,
            rework_count: 0,
            escalation_level: 0,
            escalated_to: None,
            overdue: false,
            merged_into: None,
            support_count: 0,
            rating: None,
        }
    }
}

const COLS: &str = "id, org_path, household_id, building_id, category, title, description, location, anonymous, channel, status, reporter_user_id, created_by, created_at, updated_at, version, \
urgency, assignee_user_id, dispatch_deadline, feedback_deadline, suspended_from, suspended_at, remaining_minutes, dispatched_at, resolved_at, closed_at, closed_on_time, \
rework_count, escalation_level, escalated_to, overdue, merged_into, support_count, rated_at, rating_contacted, rating_resolved, rating_satisfaction, rating_comment, rating_source";

const INSERT_COLS: &str = "id, org_path, household_id, building_id, category, title, description, location, anonymous, channel, status, reporter_user_id, created_by, created_at, updated_at, version, urgency, dispatch_deadline";

pub(crate) fn demand_from(r: &impl Columns) -> DemandRow {
    let rating = r.opt_int("rated_at").map(|at| RatingRow {
        rated_at: at,
        contacted: r.opt_int("rating_contacted") == Some(1),
        resolved: r.opt_int("rating_resolved") == Some(1),
        satisfaction: r.opt_int("rating_satisfaction").unwrap_or(0),
        comment: r.opt_text("rating_comment"),
        source: r.opt_text("rating_source").unwrap_or_default(),
    });
    DemandRow {
        id: r.text("id"),
        org_path: OrgPath::from_db(r.text("org_path")),
        household_id: r.text("household_id"),
        building_id: r.opt_text("building_id"),
        category: r.text("category"),
        title: r.text("title"),
        description: r.text("description"),
        location: r.opt_text("location"),
        anonymous: r.flag("anonymous"),
        channel: r.text("channel"),
        status: DemandStatus::parse(&r.text("status")).unwrap_or(DemandStatus::Submitted),
        reporter_user_id: r.opt_text("reporter_user_id"),
        created_by: r.text("created_by"),
        created_at: r.int("created_at"),
        updated_at: r.int("updated_at"),
        version: r.int("version"),
        urgency: r.text("urgency"),
        assignee_user_id: r.opt_text("assignee_user_id"),
        dispatch_deadline: r.opt_int("dispatch_deadline"),
        feedback_deadline: r.opt_int("feedback_deadline"),
        suspended_from: r
            .opt_text("suspended_from")
            .and_then(|s| DemandStatus::parse(&s)),
        suspended_at: r.opt_int("suspended_at"),
        remaining_minutes: r.opt_int("remaining_minutes"),
        dispatched_at: r.opt_int("dispatched_at"),
        resolved_at: r.opt_int("resolved_at"),
        closed_at: r.opt_int("closed_at"),
        closed_on_time: r.opt_int("closed_on_time").map(|v| v == 1),
        rework_count: r.int("rework_count"),
        escalation_level: r.int("escalation_level"),
        escalated_to: r.opt_text("escalated_to"),
        overdue: r.flag("overdue"),
        merged_into: r.opt_text("merged_into"),
        support_count: r.int("support_count"),
        rating,
    }
}

pub struct Filing<'a> {
    pub urgency: &'a str,
    pub dispatch_deadline: i64,
    pub household_id: &'a str,
    pub household_path: &'a OrgPath,
    pub building_id: Option<&'a str>,
    pub channel: &'a str,
    pub reporter_user_id: Option<&'a str>,
    pub created_by: &'a str,
}

/// Inserts the demand and its first event (submitted), and counts it in
/// the rollups.
pub async fn insert_demand(
    tx: &mut Tx,
    d: &NewDemand,
    f: &Filing<'_>,
    now: i64,
) -> AppResult<DemandRow> {
    let mut w = Writes::new();
    let row = push_demand(&mut w, d, f, now);
    let mut t = crate::rollup::Tally::new();
    t.filing(&row);
    t.push(&mut w);
    w.run(tx).await?;
    Ok(row)
}

/// Adds the writes of a new demand (the row, its first event) to `w`; the
/// row as it will be. The rollups are the caller's: `Tally::filing` (the
/// filing writer merges those of a batch).
pub fn push_demand(w: &mut Writes, d: &NewDemand, f: &Filing<'_>, now: i64) -> DemandRow {
    let id = new_id();
    w.push(
        format!(
            "INSERT INTO demands ({INSERT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, 1, $15, $16)"
        ),
        vec![
            (&id).into(),
            f.household_path.as_str().into(),
            f.household_id.into(),
            f.building_id.into(),
            (&d.category).into(),
            (&d.title).into(),
            (&d.description).into(),
            (&d.location).into(),
            d.anonymous.into(),
            f.channel.into(),
            DemandStatus::Submitted.as_str().into(),
            f.reporter_user_id.into(),
            f.created_by.into(),
            now.into(),
            f.urgency.into(),
            f.dispatch_deadline.into(),
        ],
    );
    w.push(
        "INSERT INTO demand_events (id, demand_id, at_ms, actor_id, action, from_status, to_status, note)
         VALUES ($1, $2, $3, $4, 'submit', NULL, 'submitted', NULL)",
        vec![new_id().into(), (&id).into(), now.into(), f.created_by.into()],
    );
    // The row as inserted: built here rather than read back, one statement
    // less on the writer.
    DemandRow::filed(id, d, f, now)
}

pub async fn get_demand_tx(tx: &mut Tx, id: &str) -> AppResult<Option<DemandRow>> {
    let r = sqlx::query(&format!("SELECT {COLS} FROM demands WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(r.as_ref().map(demand_from))
}

pub async fn get_demand(db: &Db, id: &str) -> AppResult<Option<DemandRow>> {
    let rows = db
        .rows(
            format!("SELECT {COLS} FROM demands WHERE id = $1"),
            vec![id.into()],
        )
        .await?;
    Ok(rows.first().as_ref().map(demand_from))
}

#[derive(Default)]
pub struct ListFilter {
    pub status: Option<DemandStatus>,
    pub category: Option<String>,
    /// Every root is a household: a leaf of the tree, whose demands carry
    /// its path exactly. Matched by equality, a single household is read
    /// from `demands_scope` newest first and stops at the page's end, where
    /// a range would collect all its demands and sort them.
    pub households_only: bool,
}

/// Demands within `roots` (staff subtrees or residents' household paths),
/// newest first, after the cursor id: the rows as read, for
/// [`crate::list_view`] to write out or [`demand_from`] to map.
pub async fn list_demand_rows(
    db: &Db,
    roots: &[OrgPath],
    filter: &ListFilter,
    before_id: Option<&str>,
    limit: i64,
) -> AppResult<Rows> {
    if roots.is_empty() {
        return Ok(Rows::default());
    }
    // $1 cursor, $2 limit, $3 status, $4 category, then the scope ranges.
    // A wide scope (a community or above) holds a large share of all
    // demands: walking the primary key newest first finds a page after a
    // few rows, while the org_path index would collect and sort the whole
    // subtree (millions for a district). `org_path || ''` keeps the planner
    // off that index there; narrow scopes (a compound, a household) use it.
    let wide = roots.iter().all(|r| r.depth() <= 4);
    let column = if wide { "(org_path || '')" } else { "org_path" };
    let scope = if filter.households_only {
        let each: Vec<String> = (0..roots.len())
            .map(|i| format!("org_path = ${}", 5 + i))
            .collect();
        format!("({})", each.join(" OR "))
    } else {
        org::store::scope_sql(column, roots.len(), 5)
    };
    let sql = format!(
        "SELECT {COLS} FROM demands
         WHERE ($1 = '' OR id < $1) AND ($3 = '' OR status = $3) AND ($4 = '' OR category = $4) AND {scope}
         ORDER BY id DESC LIMIT $2"
    );
    let mut args: Vec<Val> = vec![
        before_id.unwrap_or("").into(),
        limit.into(),
        filter.status.map(|s| s.as_str()).unwrap_or("").into(),
        filter.category.clone().unwrap_or_default().into(),
    ];
    for r in roots {
        args.push(r.as_str().into());
        if !filter.households_only {
            args.push(r.subtree_end().into());
        }
    }
    db.rows(sql, args).await
}

#[derive(Debug, Clone, Serialize)]
pub struct EventRow {
    pub id: String,
    pub at_ms: i64,
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub note: Option<String>,
    pub detail: Option<String>,
}

pub async fn events_of(db: &Db, demand_id: &str) -> AppResult<Vec<EventRow>> {
    let rows = sqlx::query(
        "SELECT e.id, e.at_ms, e.actor_id, u.display_name, e.action, e.from_status, e.to_status, e.note, e.detail
         FROM demand_events e LEFT JOIN users u ON u.id = e.actor_id
         WHERE e.demand_id = $1 ORDER BY e.at_ms, e.id",
    )
    .bind(demand_id)
    .fetch_all(db.reader())
    .await?;
    Ok(rows
        .iter()
        .map(|r| EventRow {
            id: r.get("id"),
            at_ms: r.get("at_ms"),
            actor_id: opt_str(r, "actor_id"),
            actor_name: opt_str(r, "display_name"),
            action: r.get("action"),
            from_status: opt_str(r, "from_status"),
            to_status: r.get("to_status"),
            note: opt_str(r, "note"),
            detail: opt_str(r, "detail"),
        })
        .collect())
}

/// Appends one immutable event to a demand's timeline.
#[allow(clippy::too_many_arguments)]
pub async fn insert_event(
    tx: &mut Tx,
    demand_id: &str,
    at_ms: i64,
    actor_id: Option<&str>,
    action: &str,
    from_status: Option<&str>,
    to_status: &str,
    note: Option<&str>,
    detail: &serde_json::Value,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO demand_events (id, demand_id, at_ms, actor_id, action, from_status, to_status, note, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(new_id())
    .bind(demand_id)
    .bind(at_ms)
    .bind(actor_id)
    .bind(action)
    .bind(from_status)
    .bind(to_status)
    .bind(note)
    .bind(detail.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// (default handler role, default urgency) of a category.
pub async fn category_defaults(db: &Db, code: &str) -> AppResult<(String, String)> {
    let r = sqlx::query(
        "SELECT default_handler_role, default_urgency FROM demand_categories WHERE code = $1",
    )
    .bind(code)
    .fetch_optional(db.reader())
    .await?;
    Ok(r.map(|r| (r.get(0), r.get(1)))
        .unwrap_or_else(|| ("butler".into(), "normal".into())))
}

const OPEN_STATUSES: &str =
    "('submitted', 'accepted', 'dispatched', 'in_progress', 'returned', 'rework', 'suspended')";

/// Open demands within the subtrees, newest first (for "similar" before filing).
pub async fn open_in(
    db: &Db,
    roots: &[OrgPath],
    category: Option<&str>,
    limit: i64,
) -> AppResult<Vec<DemandRow>> {
    if roots.is_empty() {
        return Ok(vec![]);
    }
    let scope = org::store::scope_sql("org_path", roots.len(), 3);
    let sql = format!(
        "SELECT {COLS} FROM demands WHERE status IN {OPEN_STATUSES} AND merged_into IS NULL AND ($1 = '' OR category = $1) AND {scope}
         ORDER BY id DESC LIMIT $2"
    );
    let mut q = sqlx::query(&sql)
        .bind(category.unwrap_or("").to_string())
        .bind(limit);
    for r in roots {
        q = q.bind(r.as_str().to_string()).bind(r.subtree_end());
    }
    Ok(q.fetch_all(db.reader())
        .await?
        .iter()
        .map(demand_from)
        .collect())
}

/// The deadline that orders an inbox row (the one running now).
pub fn due_of(d: &DemandRow) -> i64 {
    match crate::workflow::running_clock(d.status) {
        crate::workflow::Clock::Dispatch => d.dispatch_deadline.unwrap_or(NO_DEADLINE),
        crate::workflow::Clock::Feedback => d.feedback_deadline.unwrap_or(NO_DEADLINE),
        crate::workflow::Clock::Stopped => NO_DEADLINE,
    }
}

const NO_DEADLINE: i64 = 9_000_000_000_000_000;

/// Open demands assigned to `user_id`, and those awaiting dispatch (or
/// verification) within `dispatch_roots`, soonest deadline first.
pub async fn inbox(
    db: &Db,
    user_id: &str,
    dispatch_roots: &[OrgPath],
    after: Option<(i64, String)>,
    limit: i64,
) -> AppResult<Vec<DemandRow>> {
    let due = format!(
        "(CASE WHEN status IN ('submitted', 'accepted', 'returned') THEN COALESCE(dispatch_deadline, {NO_DEADLINE})
               WHEN status IN ('dispatched', 'in_progress', 'rework') THEN COALESCE(feedback_deadline, {NO_DEADLINE})
               ELSE {NO_DEADLINE} END)"
    );
    let scope = org::store::scope_sql("org_path", dispatch_roots.len(), 6);
    let sql = format!(
        "SELECT {COLS}, {due} AS due FROM demands
         WHERE (
             (assignee_user_id = $1 AND status IN ('dispatched', 'in_progress', 'rework'))
             OR (status IN ('submitted', 'accepted', 'returned', 'resolved') AND {scope})
         )
         AND ($3 = 0 OR {due} > $4 OR ({due} = $4 AND id > $5))
         ORDER BY due, id LIMIT $2"
    );
    let (has_after, after_due, after_id) = match &after {
        Some((d, i)) => (1i64, *d, i.clone()),
        None => (0, 0, String::new()),
    };
    let mut q = sqlx::query(&sql)
        .bind(user_id)
        .bind(limit)
        .bind(has_after)
        .bind(after_due)
        .bind(after_id);
    for r in dispatch_roots {
        q = q.bind(r.as_str().to_string()).bind(r.subtree_end());
    }
    Ok(q.fetch_all(db.reader())
        .await?
        .iter()
        .map(demand_from)
        .collect())
}

/// Open, overdue and escalated counts of the demands under `path`.
pub async fn unit_counts(db: &Db, path: &OrgPath) -> AppResult<(i64, i64, i64)> {
    let r = sqlx::query(&format!(
        "SELECT COUNT(*),
                CAST(COALESCE(SUM(CASE WHEN overdue = 1 THEN 1 ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN escalation_level > 0 THEN 1 ELSE 0 END), 0) AS BIGINT)
         FROM demands WHERE status IN {OPEN_STATUSES} AND org_path >= $1 AND org_path < $2"
    ))
    .bind(path.as_str())
    .bind(path.subtree_end())
    .fetch_one(db.reader())
    .await?;
    Ok((r.get(0), r.get(1), r.get(2)))
}

/// Open demands in the subtrees that are overdue, or escalated to one of
/// `levels` (the supervision board).
pub async fn supervision(
    db: &Db,
    roots: &[OrgPath],
    levels: &[String],
    limit: i64,
) -> AppResult<Vec<DemandRow>> {
    if roots.is_empty() {
        return Ok(vec![]);
    }
    let scope = org::store::scope_sql("org_path", roots.len(), 2);
    let mut level_sql = String::from("1 = 0");
    for i in 0..levels.len() {
        level_sql.push_str(&format!(" OR escalated_to = ${}", 2 + 2 * roots.len() + i));
    }
    let sql = format!(
        "SELECT {COLS} FROM demands WHERE status IN {OPEN_STATUSES} AND {scope} AND (overdue = 1 OR {level_sql})
         ORDER BY escalation_level DESC, id DESC LIMIT $1"
    );
    let mut q = sqlx::query(&sql).bind(limit);
    for r in roots {
        q = q.bind(r.as_str().to_string()).bind(r.subtree_end());
    }
    for l in levels {
        q = q.bind(l.clone());
    }
    Ok(q.fetch_all(db.reader())
        .await?
        .iter()
        .map(demand_from)
        .collect())
}

/// Staff who may handle demands at `path` (for the dispatch picker):
/// holders of a case role on the path or one of its ancestors.
pub async fn handlers_for(db: &Db, path: &OrgPath) -> AppResult<Vec<(String, String, String)>> {
    let paths = path.ancestors_and_self();
    let placeholders: Vec<String> = (1..=paths.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT DISTINCT g.user_id, u.display_name, g.role FROM role_grants g JOIN users u ON u.id = g.user_id
         WHERE g.revoked_at IS NULL AND g.org_path IN ({}) AND g.role IN
         ('butler', 'property_staff', 'property_manager', 'party_branch_secretary', 'party_group_leader', 'grid_worker', 'community_staff')
         ORDER BY g.role, u.display_name",
        placeholders.join(", ")
    );
    let mut q = sqlx::query(&sql);
    for p in &paths {
        q = q.bind(p.as_str().to_string());
    }
    Ok(q.fetch_all(db.reader())
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}
