//! `/api/v1/demand-categories` and `/api/v1/demands`. The filing procedure
//! is [`file_demand`], shared with the web form.

use crate::catalogue;
use crate::flow::{self, RatingInput, TransitionInput};
use crate::list_view::DemandListPage;
use crate::model::{self, Channel, DemandStatus};
use crate::store::{self, Category, DemandRow, EventRow, Filing, ListFilter, RatingRow};
use crate::workflow::{self, Action, Urgency};
use accounts::Auth;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json as JsonOut, Router};
use kernel::audit::{self, AuditEntry};
use kernel::clock::to_rfc3339;
use kernel::json::{Json, Query};
use kernel::openapi::{
    BodyErrors, Conflict, Forbidden, NotFound, QueryErrors, TooManyRequests, Unauthorized,
};
use kernel::page::{Page, PageParams};
use kernel::rows::Rows;
use kernel::{AppError, AppResult, Ctx, FieldErrors, OrgPath, Principal, Role};
use org::model::OrgKind;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

pub fn routes() -> Router<Ctx> {
    Router::new()
        .route("/api/v1/demand-categories", get(list_categories))
        .route(
            "/api/v1/demand-categories/{code}",
            axum::routing::put(update_category),
        )
        .route("/api/v1/demands", get(list).post(create))
        .route("/api/v1/demands/inbox", get(inbox))
        .route("/api/v1/demands/similar", get(similar))
        .route("/api/v1/demands/{id}", get(detail))
        .route(
            "/api/v1/demands/{id}/transitions",
            axum::routing::post(transition),
        )
        .route("/api/v1/demands/{id}/rating", axum::routing::post(rating))
        .route("/api/v1/demands/{id}/support", axum::routing::post(support))
        .route(
            "/api/v1/demands/{id}/attachments",
            axum::routing::post(crate::attachments::upload).layer(
                axum::extract::DefaultBodyLimit::max(crate::attachments::MAX_BODY),
            ),
        )
        .route(
            "/api/v1/demands/{id}/attachments/{attachment}",
            get(crate::attachments::download),
        )
}

#[derive(Serialize, ToSchema)]
pub struct CategoryView {
    #[serde(flatten)]
    pub category: Category,
    #[schema(value_type = Role)]
    pub default_handler_role: String,
    #[schema(value_type = Urgency)]
    pub default_urgency: String,
    /// Time limits per urgency (`urgent`, `high`, `normal`, `low`).
    pub limits: std::collections::BTreeMap<&'static str, catalogue::Limits>,
}

pub async fn category_view(ctx: &Ctx, c: Category) -> AppResult<CategoryView> {
    let (role, urgency) = store::category_defaults(&ctx.db, &c.code).await?;
    let limits = catalogue::all_limits(&ctx.db, &c.code)
        .await?
        .into_iter()
        .map(|(u, l)| (u.as_str(), l))
        .collect();
    Ok(CategoryView {
        category: c,
        default_handler_role: role,
        default_urgency: urgency,
        limits,
    })
}

/// The categories with their codes, default handler and time limits.
#[utoipa::path(
    get,
    path = "/api/v1/demand-categories",
    operation_id = "list_demand_categories",
    tag = "demands",
    summary = "诉求类别及时限",
    responses((status = 200, description = "全部在用的类别", body = Page<CategoryView>)),
)]
async fn list_categories(State(ctx): State<Ctx>) -> AppResult<JsonOut<Page<CategoryView>>> {
    let mut items = Vec::new();
    for c in store::categories(&ctx.db).await? {
        items.push(category_view(&ctx, c).await?);
    }
    Ok(JsonOut(Page {
        items,
        next_cursor: None,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CategoryUpdate {
    name: String,
    name_en: String,
    #[schema(value_type = Role)]
    default_handler_role: String,
    #[schema(value_type = Urgency)]
    default_urgency: String,
    /// Keyed by urgency: `urgent`, `high`, `normal`, `low`.
    #[serde(default)]
    limits: std::collections::BTreeMap<String, LimitInput>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LimitInput {
    dispatch_minutes: i64,
    feedback_minutes: i64,
    #[serde(default)]
    natural_clock: Option<bool>,
}

/// The catalogue is deployment-wide, so district and city admins edit it.
#[utoipa::path(
    put,
    path = "/api/v1/demand-categories/{code}",
    operation_id = "update_demand_category",
    tag = "demands",
    summary = "修改诉求类别(区县、市级管理员)",
    params(("code" = String, Path, description = "类别代码")),
    request_body = CategoryUpdate,
    responses(
        (status = 200, description = "修改后的类别", body = CategoryView),
        BodyErrors, Unauthorized, Forbidden, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn update_category(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(code): Path<String>,
    Json(b): Json<CategoryUpdate>,
) -> AppResult<JsonOut<CategoryView>> {
    let current = store::category(&ctx.db, &code)
        .await?
        .ok_or(AppError::NotFound)?;
    if !p.has_role(Role::DistrictAdmin) && !p.has_role(Role::CityAdmin) {
        return Err(AppError::Forbidden);
    }
    let mut e = FieldErrors::new();
    let name = e.take("name", kernel::text::required(&b.name, 1, 32, "名称"));
    let name_en = e.take(
        "name_en",
        kernel::text::required(&b.name_en, 1, 64, "英文名称"),
    );
    if Role::parse(&b.default_handler_role).is_none_or(|r| !Role::CASE_STAFF.contains(&r)) {
        e.add("default_handler_role", "默认处置角色无效");
    }
    if Urgency::parse(&b.default_urgency).is_none() {
        e.add("default_urgency", "紧急程度取值无效");
    }
    let mut limits = Vec::new();
    for (k, l) in &b.limits {
        match Urgency::parse(k) {
            None => e.add(format!("limits.{k}"), "紧急程度取值无效"),
            Some(u) => {
                let ok = (1..=60 * 24 * 30).contains(&l.dispatch_minutes)
                    && (1..=60 * 24 * 90).contains(&l.feedback_minutes)
                    && l.feedback_minutes >= l.dispatch_minutes;
                if ok {
                    limits.push((
                        u,
                        catalogue::Limits {
                            dispatch_minutes: l.dispatch_minutes,
                            feedback_minutes: l.feedback_minutes,
                            natural_clock: l.natural_clock.unwrap_or(u.natural_clock()),
                        },
                    ));
                } else {
                    e.add(
                        format!("limits.{k}"),
                        "时限无效:派遣 1 分钟至 30 天,反馈不短于派遣且不超过 90 天",
                    );
                }
            }
        }
    }
    e.check()?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    sqlx::query(
        "UPDATE demand_categories SET name_zh = $1, name_en = $2, default_handler_role = $3, default_urgency = $4, updated_at = $5
         WHERE code = $6",
    )
    .bind(name.as_deref())
    .bind(name_en.as_deref())
    .bind(&b.default_handler_role)
    .bind(&b.default_urgency)
    .bind(now)
    .bind(&current.code)
    .execute(&mut *tx)
    .await?;
    for (u, l) in &limits {
        catalogue::set_limits(&mut tx, &current.code, *u, l).await?;
    }
    audit::record(
        &mut tx,
        ctx.db.backend(),
        AuditEntry {
            at_ms: now,
            actor_id: Some(&p.user_id),
            action: "category_updated",
            object_type: "demand_category",
            object_id: Some(&current.code),
            detail: json!({"default_handler_role": b.default_handler_role, "default_urgency": b.default_urgency}),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    let c = store::category(&ctx.db, &current.code)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(JsonOut(category_view(&ctx, c).await?))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDemandBody {
    /// A category code from `GET /api/v1/demand-categories`.
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
/// a resident's household (phone intake). Writes the demand, its first event,
/// the notice and the audit row in one transaction (shared with the other
/// filings of the moment, see `intake`).
pub async fn file_demand(ctx: &Ctx, p: &Principal, b: &NewDemandBody) -> AppResult<DemandRow> {
    // Who may file at all (before anything in the body is looked at): a
    // resident, or staff who work on demands.
    if !p.is_resident() && p.roots_for(Role::CASE_STAFF).is_empty() {
        return Err(AppError::Forbidden);
    }
    if let Err(secs) = ctx
        .limits
        .intake
        .check(&format!("intake:{}", p.user_id), ctx.now_ms())
    {
        return Err(AppError::TooManyRequests {
            retry_after_secs: secs,
        });
    }
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
    let code = b.category.trim();
    let well_formed =
        code.len() <= 32 && code.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
    let terms = if code.is_empty() || !well_formed {
        None
    } else {
        crate::reference::filing_terms(ctx, code).await?
    };
    if !code.is_empty() && terms.is_none() {
        errors.add("category", "类别不存在");
    }

    // Whose household, and through which channel.
    let mut household_chain = None;
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
                    // A grid worker found it on the round; other staff took a call.
                    let channel = if p.covers(&[Role::GridWorker], &n.org_path) {
                        Channel::Grid
                    } else {
                        Channel::Phone
                    };
                    (Some(n), channel, None)
                }
                _ => {
                    errors.add("household_id", "住户不存在或不在您的管辖范围内");
                    (None, Channel::Web, None)
                }
            }
        }
        None => match p.households.first() {
            Some(h) => {
                // The household's chain from the city down (it ends with the
                // household itself), read once for the building below too.
                let chain = crate::reference::household_chain(ctx, &h.org_path).await?;
                let home = match chain.last().filter(|n| n.id == h.id).cloned() {
                    Some(n) => {
                        household_chain = Some(chain);
                        Some(n)
                    }
                    // The node is not where the residents row says (never
                    // expected): look it up by id, as before.
                    None => org::store::get_node(&ctx.db, &h.id).await?,
                };
                if home.is_none() {
                    errors.add("household_id", "住户不存在或不在您的管辖范围内");
                }
                (home, Channel::Web, Some(p.user_id.clone()))
            }
            None => {
                errors.add("household_id", "代居民反映诉求时请选择住户");
                (None, Channel::Phone, None)
            }
        },
    };

    // The building defaults to the household's; a named one must be in the same compound.
    let mut building_id = None;
    if let Some(h) = &household {
        let chain = match household_chain.take() {
            Some(c) => c,
            None => std::sync::Arc::new(org::store::ancestors(&ctx.db, &h.org_path).await?),
        };
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
    let (urgency, limits) = terms.expect("checked with the category");
    let dispatch_deadline = ctx
        .calendar()
        .deadline(now, limits.dispatch_minutes, limits.basis());
    // The demand, its first event, the filings rollup, the notice and the
    // audit row, written with the other filings of the moment (intake.rs).
    let mut w = kernel::db::Writes::new();
    let row = store::push_demand(
        &mut w,
        &new,
        &Filing {
            urgency: urgency.as_str(),
            dispatch_deadline,
            household_id: &household.id,
            household_path: &household.org_path,
            building_id: building_id.as_deref(),
            channel: channel.as_str(),
            reporter_user_id: reporter.as_deref(),
            created_by: &p.user_id,
        },
        now,
    );
    crate::notices::push_filed(&mut w, &row, &p.user_id, now);
    let mut tally = crate::rollup::Tally::new();
    tally.filing(&row);
    crate::intake::write(
        ctx,
        crate::intake::Filing {
            writes: w,
            tally,
            audit: crate::intake::Record {
                at_ms: now,
                actor_id: p.user_id.clone(),
                action: "demand_created",
                object_type: "demand",
                object_id: row.id.clone(),
                org_path: row.org_path.as_str().to_string(),
                detail: json!({"category": row.category, "channel": row.channel}),
            },
        },
    )
    .await?;
    Ok(row)
}

#[derive(Serialize, ToSchema)]
pub struct DemandView {
    pub id: String,
    pub category: String,
    pub title: String,
    pub description: String,
    pub location: Option<String>,
    pub anonymous: bool,
    #[schema(value_type = Channel)]
    pub channel: String,
    pub status: DemandStatus,
    pub household_id: String,
    pub building_id: Option<String>,
    pub org_path: String,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
    #[schema(value_type = Urgency)]
    pub urgency: String,
    pub assignee_id: Option<String>,
    pub dispatch_deadline: Option<String>,
    pub feedback_deadline: Option<String>,
    pub overdue: bool,
    pub escalation_level: i64,
    pub escalated_to: Option<String>,
    pub rework_count: i64,
    pub closed_on_time: Option<bool>,
    pub merged_into: Option<String>,
    pub support_count: i64,
    pub rating: Option<RatingView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<EventView>>,
    /// The actions the caller may take now (detail only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Action>>)]
    pub allowed_actions: Option<Vec<&'static str>>,
}

#[derive(Serialize, ToSchema)]
pub struct RatingView {
    pub rated_at: String,
    pub contacted: bool,
    pub resolved: bool,
    pub satisfaction: i64,
    pub comment: Option<String>,
    pub source: String,
}

impl From<RatingRow> for RatingView {
    fn from(r: RatingRow) -> Self {
        RatingView {
            rated_at: to_rfc3339(r.rated_at),
            contacted: r.contacted,
            resolved: r.resolved,
            satisfaction: r.satisfaction,
            comment: r.comment,
            source: r.source,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct EventView {
    pub at: String,
    pub action: String,
    pub actor: Option<String>,
    pub from_status: Option<String>,
    pub to_status: String,
    pub note: Option<String>,
    pub detail: Option<serde_json::Value>,
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
            urgency: d.urgency,
            assignee_id: d.assignee_user_id,
            dispatch_deadline: d.dispatch_deadline.map(to_rfc3339),
            feedback_deadline: d.feedback_deadline.map(to_rfc3339),
            overdue: d.overdue,
            escalation_level: d.escalation_level,
            escalated_to: d.escalated_to,
            rework_count: d.rework_count,
            closed_on_time: d.closed_on_time,
            merged_into: d.merged_into,
            support_count: d.support_count,
            rating: d.rating.map(RatingView::from),
            events: None,
            allowed_actions: None,
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
            detail: e.detail.and_then(|d| serde_json::from_str(&d).ok()),
        }
    }
}

/// A resident files for their own household; staff in scope file on a
/// resident's behalf (phone intake) by naming `household_id`.
#[utoipa::path(
    post,
    path = "/api/v1/demands",
    operation_id = "file_demand",
    tag = "demands",
    summary = "反映诉求",
    request_body = NewDemandBody,
    responses(
        (status = 201, description = "已提交,状态 submitted", body = DemandView),
        BodyErrors, Unauthorized, Forbidden, TooManyRequests,
    ),
    security(("bearer" = [])),
)]
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
    flow::visible(ctx, p, id).await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(value_type = Option<DemandStatus>)]
    pub status: Option<String>,
    /// A category code.
    pub category: Option<String>,
    /// An org node id: only demands under it.
    pub org: Option<String>,
    /// Items per page, 1–100 (default 20).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Lists demands in the caller's scope, optionally narrowed to one org node.
pub async fn list_in_scope(ctx: &Ctx, p: &Principal, q: &ListQuery) -> AppResult<Page<DemandRow>> {
    let (rows, params) = list_rows_in_scope(ctx, p, q).await?;
    let rows = rows.into_rows().map(|r| store::demand_from(&r)).collect();
    Ok(Page::from_rows(rows, &params, |d| d.id.clone()))
}

/// [`list_in_scope`]'s read, the rows as read (up to one more than the
/// page), with the page's parameters.
async fn list_rows_in_scope(
    ctx: &Ctx,
    p: &Principal,
    q: &ListQuery,
) -> AppResult<(Rows, PageParams)> {
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
        households_only: roots
            .iter()
            .all(|r| p.households.iter().any(|h| &h.org_path == r)),
    };
    let rows = store::list_demand_rows(
        &ctx.db,
        &roots,
        &filter,
        params.after.as_deref(),
        params.fetch(),
    )
    .await?;
    Ok((rows, params))
}

/// Demands in the caller's scope, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/demands",
    operation_id = "list_demands",
    tag = "demands",
    summary = "诉求列表",
    params(ListQuery),
    responses(
        (status = 200, description = "一页诉求", body = Page<DemandView>),
        QueryErrors, Unauthorized, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn list(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<ListQuery>,
) -> AppResult<DemandListPage> {
    // The same JSON as `Page<DemandView>`, written from the rows in place.
    let (rows, params) = list_rows_in_scope(&ctx, &p, &q).await?;
    Ok(DemandListPage::new(rows, params.limit as usize))
}

/// The demand with its timeline and the actions open to the caller.
pub async fn full_view(ctx: &Ctx, p: &Principal, d: DemandRow) -> AppResult<DemandView> {
    let events = store::events_of(&ctx.db, &d.id)
        .await?
        .into_iter()
        .map(EventView::from)
        .collect();
    let actors = flow::actors_for(p, &d, false);
    let allowed = Action::ALL
        .into_iter()
        .filter(|a| workflow::decide(d.status, *a, &actors, d.suspended_from).is_ok())
        .map(|a| a.as_str())
        .collect();
    let mut v = DemandView::from(d);
    v.events = Some(events);
    v.allowed_actions = Some(allowed);
    Ok(v)
}

/// The demand with its `events` timeline and the caller's `allowed_actions`.
#[utoipa::path(
    get,
    path = "/api/v1/demands/{id}",
    operation_id = "demand_detail",
    tag = "demands",
    summary = "诉求详情",
    params(("id" = String, Path, description = "诉求编号")),
    responses(
        (status = 200, description = "诉求及其办理过程", body = DemandView),
        Unauthorized, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn detail(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<JsonOut<DemandView>> {
    let d = visible_demand(&ctx, &p, &id).await?;
    Ok(JsonOut(full_view(&ctx, &p, d).await?))
}

/// One step of the workflow; a step not allowed from the current state is
/// 409, one not allowed for the caller 403, and nothing changes.
#[utoipa::path(
    post,
    path = "/api/v1/demands/{id}/transitions",
    operation_id = "demand_transition",
    tag = "demands",
    summary = "办理诉求(受理、派遣、办结、核查……)",
    params(("id" = String, Path, description = "诉求编号")),
    request_body = TransitionInput,
    responses(
        (status = 200, description = "办理后的诉求", body = DemandView),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn transition(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<TransitionInput>,
) -> AppResult<JsonOut<DemandView>> {
    let d = flow::transition(&ctx, &p, &id, &b).await?;
    Ok(JsonOut(full_view(&ctx, &p, d).await?))
}

/// The return visit: by the demand's resident, or staff recording a phone call.
#[utoipa::path(
    post,
    path = "/api/v1/demands/{id}/rating",
    operation_id = "rate_demand",
    tag = "demands",
    summary = "评价(回访)",
    params(("id" = String, Path, description = "诉求编号")),
    request_body = RatingInput,
    responses(
        (status = 200, description = "评价后的诉求", body = DemandView),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn rating(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<RatingInput>,
) -> AppResult<JsonOut<DemandView>> {
    let d = flow::rate(&ctx, &p, &id, &b).await?;
    Ok(JsonOut(full_view(&ctx, &p, d).await?))
}

#[derive(Serialize, ToSchema)]
struct SupportAnswer {
    id: String,
    support_count: i64,
}

/// "我也遇到": a neighbouring household supports an open demand (once).
#[utoipa::path(
    post,
    path = "/api/v1/demands/{id}/support",
    operation_id = "support_demand",
    tag = "demands",
    summary = "附议(我也遇到)",
    params(("id" = String, Path, description = "诉求编号")),
    responses(
        (status = 200, description = "附议人数", body = SupportAnswer),
        Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn support(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<JsonOut<SupportAnswer>> {
    let d = flow::support(&ctx, &p, &id).await?;
    Ok(JsonOut(SupportAnswer {
        id: d.id,
        support_count: d.support_count,
    }))
}

/// What a resident may see of a neighbour's open demand: no person, no household.
#[derive(Serialize, ToSchema)]
pub struct SimilarView {
    pub id: String,
    pub category: String,
    pub title: String,
    pub status: DemandStatus,
    pub support_count: i64,
    pub created_at: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SimilarQuery {
    /// A category code.
    pub category: Option<String>,
}

/// Open demands in the caller's compound(s), so a resident can add
/// "我也遇到" instead of filing a duplicate.
pub async fn similar_open(
    ctx: &Ctx,
    p: &Principal,
    category: Option<&str>,
) -> AppResult<Vec<SimilarView>> {
    let mut roots = Vec::new();
    for h in &p.households {
        if let Some(c) = flow::compound_of(ctx, &h.org_path).await? {
            if !roots.contains(&c.org_path) {
                roots.push(c.org_path);
            }
        }
    }
    let rows = store::open_in(&ctx.db, &roots, category, 20).await?;
    Ok(rows
        .into_iter()
        .filter(|d| !p.lives_at(&d.org_path))
        .map(|d| SimilarView {
            id: d.id,
            category: d.category,
            title: d.title,
            status: d.status,
            support_count: d.support_count,
            created_at: to_rfc3339(d.created_at),
        })
        .collect())
}

/// Open demands of other households in the caller's compound(s), without
/// names or households.
#[utoipa::path(
    get,
    path = "/api/v1/demands/similar",
    operation_id = "similar_demands",
    tag = "demands",
    summary = "小区内类似的诉求",
    params(SimilarQuery),
    responses(
        (status = 200, description = "至多 20 条", body = Page<SimilarView>),
        QueryErrors, Unauthorized,
    ),
    security(("bearer" = [])),
)]
async fn similar(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<SimilarQuery>,
) -> AppResult<JsonOut<Page<SimilarView>>> {
    let items = similar_open(&ctx, &p, q.category.as_deref().filter(|s| !s.is_empty())).await?;
    Ok(JsonOut(Page {
        items,
        next_cursor: None,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct InboxQuery {
    /// Items per page, 1–100 (default 20).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The handler's inbox: open demands assigned to the caller, plus those
/// waiting for dispatch or verification where the caller dispatches;
/// soonest deadline first.
#[utoipa::path(
    get,
    path = "/api/v1/demands/inbox",
    operation_id = "demand_inbox",
    tag = "demands",
    summary = "待办诉求(按时限排序)",
    params(InboxQuery),
    responses(
        (status = 200, description = "一页待办", body = Page<DemandView>),
        QueryErrors, Unauthorized,
    ),
    security(("bearer" = [])),
)]
async fn inbox(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<InboxQuery>,
) -> AppResult<JsonOut<Page<DemandView>>> {
    let params = PageParams::parse(q.limit.as_deref(), q.cursor.as_deref())?;
    let page = inbox_page(&ctx, &p, &params).await?;
    Ok(JsonOut(page.map(DemandView::from)))
}

pub async fn inbox_page(
    ctx: &Ctx,
    p: &Principal,
    params: &PageParams,
) -> AppResult<Page<DemandRow>> {
    let bad = || AppError::field("cursor", "cursor 无效,请使用上一页返回的 next_cursor");
    let after = match params.after.as_deref() {
        Some(c) => {
            let (due, id) = c.split_once('|').ok_or_else(bad)?;
            Some((due.parse::<i64>().map_err(|_| bad())?, id.to_string()))
        }
        None => None,
    };
    let dispatch_roots = p.roots_for(&[
        Role::PropertyManager,
        Role::CommunityStaff,
        Role::StreetAdmin,
        Role::DistrictAdmin,
        Role::CityAdmin,
    ]);
    let rows = store::inbox(&ctx.db, &p.user_id, &dispatch_roots, after, params.fetch()).await?;
    Ok(Page::from_rows(rows, params, |d| {
        format!("{}|{}", store::due_of(d), d.id)
    }))
}
