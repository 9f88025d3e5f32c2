//! SQL for demands. A demand carries its household's org path, so a
//! resident's scope is an exact path and staff scope a path range.

use crate::model::{DemandStatus, NewDemand};
use kernel::db::opt_str;
use kernel::id::new_id;
use kernel::{AppResult, Db, OrgPath, Tx};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, Serialize)]
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
}

const COLS: &str = "id, org_path, household_id, building_id, category, title, description, location, anonymous, channel, status, reporter_user_id, created_by, created_at, updated_at, version";

fn demand_from(r: &AnyRow) -> DemandRow {
    DemandRow {
        id: r.get("id"),
        org_path: OrgPath::from_db(r.get("org_path")),
        household_id: r.get("household_id"),
        building_id: opt_str(r, "building_id"),
        category: r.get("category"),
        title: r.get("title"),
        description: r.get("description"),
        location: opt_str(r, "location"),
        anonymous: r.get::<i64, _>("anonymous") != 0,
        channel: r.get("channel"),
        status: DemandStatus::parse(&r.get::<String, _>("status"))
            .unwrap_or(DemandStatus::Submitted),
        reporter_user_id: opt_str(r, "reporter_user_id"),
        created_by: r.get("created_by"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
        version: r.get("version"),
    }
}

pub struct Filing<'a> {
    pub household_id: &'a str,
    pub household_path: &'a OrgPath,
    pub building_id: Option<&'a str>,
    pub channel: &'a str,
    pub reporter_user_id: Option<&'a str>,
    pub created_by: &'a str,
}

/// Inserts the demand and its first event (submitted).
pub async fn insert_demand(
    tx: &mut Tx,
    d: &NewDemand,
    f: &Filing<'_>,
    now: i64,
) -> AppResult<DemandRow> {
    let id = new_id();
    sqlx::query(&format!(
        "INSERT INTO demands ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, 1)"
    ))
    .bind(&id)
    .bind(f.household_path.as_str())
    .bind(f.household_id)
    .bind(f.building_id)
    .bind(&d.category)
    .bind(&d.title)
    .bind(&d.description)
    .bind(&d.location)
    .bind(d.anonymous as i64)
    .bind(f.channel)
    .bind(DemandStatus::Submitted.as_str())
    .bind(f.reporter_user_id)
    .bind(f.created_by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO demand_events (id, demand_id, at_ms, actor_id, action, from_status, to_status, note)
         VALUES ($1, $2, $3, $4, 'submit', NULL, 'submitted', NULL)",
    )
    .bind(new_id())
    .bind(&id)
    .bind(now)
    .bind(f.created_by)
    .execute(&mut **tx)
    .await?;
    Ok(DemandRow {
        id,
        org_path: f.household_path.clone(),
        household_id: f.household_id.into(),
        building_id: f.building_id.map(str::to_string),
        category: d.category.clone(),
        title: d.title.clone(),
        description: d.description.clone(),
        location: d.location.clone(),
        anonymous: d.anonymous,
        channel: f.channel.into(),
        status: DemandStatus::Submitted,
        reporter_user_id: f.reporter_user_id.map(str::to_string),
        created_by: f.created_by.into(),
        created_at: now,
        updated_at: now,
        version: 1,
    })
}

pub async fn get_demand(db: &Db, id: &str) -> AppResult<Option<DemandRow>> {
    let r = sqlx::query(&format!("SELECT {COLS} FROM demands WHERE id = $1"))
        .bind(id)
        .fetch_optional(db.reader())
        .await?;
    Ok(r.as_ref().map(demand_from))
}

#[derive(Default)]
pub struct ListFilter {
    pub status: Option<DemandStatus>,
    pub category: Option<String>,
}

/// Demands within `roots` (staff subtrees or residents' household paths),
/// newest first, after the cursor id.
pub async fn list_demands(
    db: &Db,
    roots: &[OrgPath],
    filter: &ListFilter,
    before_id: Option<&str>,
    limit: i64,
) -> AppResult<Vec<DemandRow>> {
    if roots.is_empty() {
        return Ok(vec![]);
    }
    // $1 cursor, $2 limit, $3 status, $4 category, then the scope ranges.
    let scope = org::store::scope_sql("org_path", roots.len(), 5);
    let sql = format!(
        "SELECT {COLS} FROM demands
         WHERE ($1 = '' OR id < $1) AND ($3 = '' OR status = $3) AND ($4 = '' OR category = $4) AND {scope}
         ORDER BY id DESC LIMIT $2"
    );
    let mut q = sqlx::query(&sql)
        .bind(before_id.unwrap_or("").to_string())
        .bind(limit)
        .bind(filter.status.map(|s| s.as_str()).unwrap_or("").to_string())
        .bind(filter.category.clone().unwrap_or_default());
    for r in roots {
        q = q.bind(r.as_str().to_string()).bind(r.subtree_end());
    }
    Ok(q.fetch_all(db.reader())
        .await?
        .iter()
        .map(demand_from)
        .collect())
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
}

pub async fn events_of(db: &Db, demand_id: &str) -> AppResult<Vec<EventRow>> {
    let rows = sqlx::query(
        "SELECT e.id, e.at_ms, e.actor_id, u.display_name, e.action, e.from_status, e.to_status, e.note
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
        })
        .collect())
}
