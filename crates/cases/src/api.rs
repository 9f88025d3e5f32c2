//! `/api/v1/demand-categories` and `/api/v1/demands`. The filing procedure
//! is [`file_demand`], shared with the web form.

use crate::model::{self, Channel, DemandStatus};
use crate::store::{self, Category, DemandRow, EventRow, Filing, ListFilter};
use accounts::Auth;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json as JsonOut, Router};
use kernel::audit::{self, AuditEntry};
use kernel::clock::to_rfc3339;
use kernel::json::{Json, Query};
use kernel::page::{Page, PageParams};
use kernel::{AppError, AppResult, Ctx, FieldErrors, OrgPath, Principal, Role};
use org::model::OrgKind;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub fn routes() -> Router<Ctx> {
    Router::new()
        .route("/api/v1/demand-categories", get(list_categories))
        .route("/api/v1/demands", get(list).post(create))
        .route("/api/v1/demands/{id}", get(detail))
}

async fn list_categories(State(ctx): State<Ctx>) -> AppResult<JsonOut<Page<Category>>> {
    Ok(JsonOut(Page {
        items: store::categories(&ctx.db).await?,
        next_cursor: None,
    }))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NewDemandBody {
    pub category: String,
    pub title: String,
    pub description: String,
    #[serde(default)]
    pub building_id: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub anonymous: Option<bool>,
    /// Staff filing on a resident's behalf (phone intake) name the household.
    #[serde(default)]
    pub household_id: Option<String>,
}

/// Files a demand: a resident for their own household, staff in scope for
/// a resident's household (phone intake). Writes the demand, its first event
/// and the audit row in one transaction.
pub async fn file_demand(ctx: &Ctx, p: &Principal, b: &NewDemandBody) -> AppResult<DemandRow> {
    let mut errors = FieldErrors::new();
    let new = match model::validate_new(
        &b.category,
        &b.title,
        &b.description,
        b.location.as_deref(),
        b.anonymous.unwrap_or(false),
    ) {
        Ok(n) => Some(n),
        Err(e) => {
            errors = e;
            None
        }
    };
    if !b.category.trim().is_empty() && store::category(&ctx.db, b.category.trim()).await?.is_none()
    {
        errors.add("category", "类别不存在");
    }

    // Whose household, and through which channel.
    let (household, channel, reporter) = match b.household_id.as_deref().filter(|s| !s.is_empty()) {
        Some(hid) => {
            let node = match kernel::id::parse_id(hid) {
                Some(id) => org::store::get_node(&ctx.db, &id).await?,
                None => None,
            };
            match node {
                Some(n) if n.kind == OrgKind::Household && p.lives_at(&n.org_path) => {
                    (Some(n), Channel::Web, Some(p.user_id.clone()))
                }
                Some(n)
                    if n.kind == OrgKind::Household && p.covers(Role::CASE_STAFF, &n.org_path) =>
                {
                    (Some(n), Channel::Phone, None)
                }
                _ => {
                    errors.add("household_id", "住户不存在或不在您的管辖范围内");
                    (None, Channel::Web, None)
                }
            }
        }
        None => match p.households.first() {
            Some(h) => (
                org::store::get_node(&ctx.db, &h.id).await?,
                Channel::Web,
                Some(p.user_id.clone()),
            ),
            None => {
                if p.is_staff() {
                    errors.add("household_id", "代居民反映诉求时请选择住户");
                    (None, Channel::Phone, None)
                } else {
                    return Err(AppError::Forbidden);
                }
            }
        },
    };

    // The building defaults to the household's; a named one must be in the same compound.
    let mut building_id = None;
    if let Some(h) = &household {
        let chain = org::store::ancestors(&ctx.db, &h.org_path).await?;
        let own_building = chain.iter().rev().find(|n| n.kind == OrgKind::Building);
        let compound = chain
            .iter()
            .rev()
            .find(|n| matches!(n.kind, OrgKind::Compound | OrgKind::Village));
        building_id = own_building.map(|n| n.id.clone());
        if let Some(bid) = b.building_id.as_deref().filter(|s| !s.is_empty()) {
            let named = match kernel::id::parse_id(bid) {
                Some(id) => org::store::get_node(&ctx.db, &id).await?,
                None => None,
            };
            match (named, compound) {
                (Some(n), Some(c))
                    if n.kind == OrgKind::Building && n.org_path.is_within(&c.org_path) =>
                {
                    building_id = Some(n.id)
                }
                _ => errors.add("building_id", "楼栋不存在或不在您所在的小区"),
            }
        }
    }
    errors.check()?;
    let (new, household) = (new.expect("checked"), household.expect("checked"));

    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let row = store::insert_demand(
        &mut tx,
        &new,
        &Filing {
            household_id: &household.id,
            household_path: &household.org_path,
            building_id: building_id.as_deref(),
            channel: channel.as_str(),
            reporter_user_id: reporter.as_deref(),
            created_by: &p.user_id,
        },
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        ctx.db.backend(),
        AuditEntry {
            at_ms: now,
            actor_id: Some(&p.user_id),
            action: "demand_created",
            object_type: "demand",
            object_id: Some(&row.id),
            org_path: Some(row.org_path.as_str()),
            detail: json!({"category": row.category, "channel": row.channel}),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

#[derive(Serialize)]
pub struct DemandView {
    pub id: String,
    pub category: String,
    pub title: String,
    pub description: String,
    pub location: Option<String>,
    pub anonymous: bool,
    pub channel: String,
    pub status: DemandStatus,
    pub household_id: String,
    pub building_id: Option<String>,
    pub org_path: String,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<EventView>>,
}

#[derive(Serialize)]
pub struct EventView {
    pub at: String,
    pub action: String,
    pub actor: Option<String>,
    pub from_status: Option<String>,
    pub to_status: String,
    pub note: Option<String>,
}

impl From<DemandRow> for DemandView {
    fn from(d: DemandRow) -> Self {
        DemandView {
            id: d.id,
            category: d.category,
            title: d.title,
            description: d.description,
            location: d.location,
            anonymous: d.anonymous,
            channel: d.channel,
            status: d.status,
            household_id: d.household_id,
            building_id: d.building_id,
            org_path: d.org_path.as_str().to_string(),
            created_at: to_rfc3339(d.created_at),
            updated_at: to_rfc3339(d.updated_at),
            version: d.version,
            events: None,
        }
    }
}

impl From<EventRow> for EventView {
    fn from(e: EventRow) -> Self {
        EventView {
            at: to_rfc3339(e.at_ms),
            action: e.action,
            actor: e.actor_name,
            from_status: e.from_status,
            to_status: e.to_status,
            note: e.note,
        }
    }
}

async fn create(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Json(b): Json<NewDemandBody>,
) -> AppResult<(StatusCode, JsonOut<DemandView>)> {
    let row = file_demand(&ctx, &p, &b).await?;
    Ok((StatusCode::CREATED, JsonOut(row.into())))
}

/// The scope of demand reads: staff subtrees plus the caller's households.
pub fn demand_roots(p: &Principal) -> Vec<OrgPath> {
    let mut roots = p.roots_for(Role::CASE_STAFF);
    for h in &p.households {
        if !roots.iter().any(|r| h.org_path.is_within(r)) {
            roots.push(h.org_path.clone());
        }
    }
    roots
}

/// A demand the caller may see, else 404 (missing and out of scope alike).
pub async fn visible_demand(ctx: &Ctx, p: &Principal, id: &str) -> AppResult<DemandRow> {
    let id = kernel::id::parse_id(id).ok_or(AppError::NotFound)?;
    let d = store::get_demand(&ctx.db, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    p.can_see(Role::CASE_STAFF, &d.org_path)?;
    Ok(d)
}

#[derive(Deserialize)]
pub struct ListQuery {
    pub status: Option<String>,
    pub category: Option<String>,
    pub org: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// Lists demands in the caller's scope, optionally narrowed to one org node.
pub async fn list_in_scope(ctx: &Ctx, p: &Principal, q: &ListQuery) -> AppResult<Page<DemandRow>> {
    let params = PageParams::parse(q.limit.as_deref(), q.cursor.as_deref())?;
    let mut errors = FieldErrors::new();
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => {
            let v = DemandStatus::parse(s);
            if v.is_none() {
                errors.add("status", "状态取值无效");
            }
            v
        }
    };
    errors.check()?;
    let mut roots = demand_roots(p);
    if let Some(org) = q.org.as_deref().filter(|s| !s.is_empty()) {
        let node = org::api::visible_node(ctx, p, org).await?;
        roots = roots
            .iter()
            .filter_map(|r| {
                if node.org_path.is_within(r) {
                    Some(node.org_path.clone())
                } else if r.is_within(&node.org_path) {
                    Some(r.clone())
                } else {
                    None
                }
            })
            .collect();
    }
    let filter = ListFilter {
        status,
        category: q.category.clone().filter(|s| !s.is_empty()),
    };
    let rows = store::list_demands(
        &ctx.db,
        &roots,
        &filter,
        params.after.as_deref(),
        params.fetch(),
    )
    .await?;
    Ok(Page::from_rows(rows, &params, |d| d.id.clone()))
}

async fn list(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<ListQuery>,
) -> AppResult<JsonOut<Page<DemandView>>> {
    Ok(JsonOut(
        list_in_scope(&ctx, &p, &q).await?.map(DemandView::from),
    ))
}

async fn detail(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<JsonOut<DemandView>> {
    let d = visible_demand(&ctx, &p, &id).await?;
    let events = store::events_of(&ctx.db, &d.id)
        .await?
        .into_iter()
        .map(EventView::from)
        .collect();
    let mut v = DemandView::from(d);
    v.events = Some(events);
    Ok(JsonOut(v))
}
