//! `/api/v1/insight`: the dashboard of an org node over a period, the
//! league tables, the league weights (read by staff, written by district
//! and city admins) and the monthly report as a workbook. Staff who work on
//! demands (Role::CASE_STAFF) see their subtrees; residents and the auditor
//! are 403; a node outside the caller's scope is 404 as if missing; bad
//! dates, months or kinds are 422. `/api/v1/insight/rates` itself stays in
//! `cases::insight_api` — the same computation path.

use crate::dashboard::{self, Dashboard, League, LeagueKind, OrgRef, Scope, WeightsView};
use crate::model::{self, Criterion, Weights};
use crate::{report, store};
use accounts::Auth;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json as JsonOut, Router};
use cases::rates::Period;
use kernel::audit::{self, AuditEntry};
use kernel::json::{Json, Query};
use kernel::openapi::{BodyErrors, Conflict, Forbidden, NotFound, QueryErrors, Unauthorized};
use kernel::{AppError, AppResult, Ctx, FieldErrors, Principal, Role};
use org::model::OrgKind;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

pub fn routes() -> Router<Ctx> {
    Router::new()
        .route("/api/v1/insight/dashboard", get(dashboard_handler))
        .route("/api/v1/insight/league", get(league_handler))
        .route(
            "/api/v1/insight/weights",
            get(weights_handler).put(put_weights_handler),
        )
        .route("/api/v1/insight/report.xlsx", get(report_handler))
}

/// Who may set league weights: district and city admins over the node.
pub const WEIGHT_EDITORS: &[Role] = &[Role::DistrictAdmin, Role::CityAdmin];

pub const XLSX_MIME: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// 403 unless the caller works on demands somewhere.
fn require_staff(p: &Principal) -> AppResult<()> {
    if p.roots_for(Role::CASE_STAFF).is_empty() {
        Err(AppError::Forbidden)
    } else {
        Ok(())
    }
}

/// Collects a parse's 422 into `errors`.
fn collect<T>(errors: &mut FieldErrors, r: AppResult<T>) -> AppResult<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(AppError::Validation(f)) => {
            for (k, v) in f.0 {
                for m in v {
                    errors.add(k.clone(), m);
                }
            }
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize, Default, Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DashboardQuery {
    /// An org node id (default: the caller's whole scope).
    pub org: Option<String>,
    /// First day, `YYYY-MM-DD`.
    #[param(format = Date)]
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD` (inclusive).
    #[param(format = Date)]
    pub to: Option<String>,
}

/// The dashboard for the caller (shared with the page).
pub async fn dashboard_for(
    ctx: &Ctx,
    p: &Principal,
    q: &DashboardQuery,
) -> AppResult<(Scope, Period, Dashboard)> {
    require_staff(p)?;
    let period = Period::parse(q.from.as_deref(), q.to.as_deref())?;
    let scope = Scope::for_principal(ctx, p, q.org.as_deref()).await?;
    let d = dashboard::dashboard(ctx, &scope, &period).await?;
    Ok((scope, period, d))
}

/// The dashboard of an org node over a period: filings by category and
/// channel over time, the six indicators and their trend against the
/// previous period, late and escalated demands, top categories, the units
/// one level down and a unit × category heat table.
#[utoipa::path(
    get,
    path = "/api/v1/insight/dashboard",
    tag = "insight",
    summary = "统计看板(诉求量、六率及趋势、超期与督办、下级单位)",
    params(DashboardQuery),
    responses(
        (status = 200, description = "看板数据", body = Dashboard),
        QueryErrors, Unauthorized, Forbidden, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn dashboard_handler(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<DashboardQuery>,
) -> AppResult<JsonOut<Dashboard>> {
    Ok(JsonOut(dashboard_for(&ctx, &p, &q).await?.2))
}

#[derive(Deserialize, Default, Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LeagueQuery {
    /// `compound` (default), `community`, `street`, `butler` or `property_company`.
    #[param(value_type = Option<LeagueKind>)]
    pub kind: Option<String>,
    /// An org node id (default: the caller's whole scope).
    pub org: Option<String>,
    /// First day, `YYYY-MM-DD`.
    #[param(format = Date)]
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD` (inclusive).
    #[param(format = Date)]
    pub to: Option<String>,
}

pub fn parse_kind(s: Option<&str>) -> AppResult<LeagueKind> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(LeagueKind::Compound),
        Some(k) => LeagueKind::parse(k).ok_or_else(|| {
            AppError::field(
                "kind",
                "排名对象只能是 compound、community、street、butler 或 property_company",
            )
        }),
    }
}

pub async fn league_for(ctx: &Ctx, p: &Principal, q: &LeagueQuery) -> AppResult<League> {
    require_staff(p)?;
    let mut errors = FieldErrors::new();
    let period = collect(
        &mut errors,
        Period::parse(q.from.as_deref(), q.to.as_deref()),
    )?;
    let kind = collect(&mut errors, parse_kind(q.kind.as_deref()))?;
    errors.check()?;
    let (period, kind) = (period.expect("checked"), kind.expect("checked"));
    let scope = Scope::for_principal(ctx, p, q.org.as_deref()).await?;
    dashboard::league(ctx, &scope, kind, &period).await
}

/// Units ranked by a weighted score of the indicators, with their rank in
/// the previous period and the movement since.
#[utoipa::path(
    get,
    path = "/api/v1/insight/league",
    tag = "insight",
    summary = "排行榜(小区、社区、街道、楼宇管家)",
    params(LeagueQuery),
    responses(
        (status = 200, description = "排行榜", body = League),
        QueryErrors, Unauthorized, Forbidden, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn league_handler(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<LeagueQuery>,
) -> AppResult<JsonOut<League>> {
    Ok(JsonOut(league_for(&ctx, &p, &q).await?))
}

#[derive(Deserialize, Default, Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrgQuery {
    /// An org node id (default: the caller's own node).
    pub org: Option<String>,
}

#[derive(Serialize, Debug, ToSchema)]
pub struct WeightsAnswer {
    /// The node asked about.
    pub org: Option<OrgRef>,
    #[serde(flatten)]
    pub weights: WeightsView,
    /// The version stored at `org` itself (0: it inherits); send it back
    /// with a PUT.
    pub own_version: i64,
    /// May the caller PUT weights at `org`?
    pub editable: bool,
}

pub async fn weights_for(ctx: &Ctx, p: &Principal, org: Option<&str>) -> AppResult<WeightsAnswer> {
    require_staff(p)?;
    let scope = Scope::for_principal(ctx, p, org).await?;
    let view = dashboard::weights_at(&ctx.db, scope.anchor().as_ref()).await?;
    let (own_version, editable) = match &scope.node {
        Some(n) => (
            own_version(ctx, n).await?,
            matches!(n.kind, OrgKind::District | OrgKind::City)
                && p.covers(WEIGHT_EDITORS, &n.org_path),
        ),
        None => (0, false),
    };
    Ok(WeightsAnswer {
        org: scope.node.as_ref().map(OrgRef::from),
        weights: view,
        own_version,
        editable,
    })
}

async fn own_version(ctx: &Ctx, n: &org::store::NodeRow) -> AppResult<i64> {
    Ok(store::effective_weights(&ctx.db, &n.org_path)
        .await?
        .filter(|s| s.org_id == n.id)
        .map(|s| s.version)
        .unwrap_or(0))
}

/// The league weights that apply at a node (its own, an ancestor's, or
/// the defaults).
#[utoipa::path(
    get,
    path = "/api/v1/insight/weights",
    tag = "insight",
    summary = "排行榜评分权重",
    params(OrgQuery),
    responses(
        (status = 200, description = "适用的权重", body = WeightsAnswer),
        QueryErrors, Unauthorized, Forbidden, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn weights_handler(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<OrgQuery>,
) -> AppResult<JsonOut<WeightsAnswer>> {
    Ok(JsonOut(weights_for(&ctx, &p, q.org.as_deref()).await?))
}

#[derive(Deserialize, Debug, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeightsBody {
    pub criteria: Vec<Criterion>,
    /// The node's own stored version as read (0 when it has none yet).
    #[serde(default)]
    pub version: i64,
}

/// Saves weights at a district or city node (the caller's, when it has one
/// such grant and `org` is not given). 403 for anyone but a district or
/// city admin over it.
pub async fn save_weights(
    ctx: &Ctx,
    p: &Principal,
    org: Option<&str>,
    body: &WeightsBody,
) -> AppResult<WeightsAnswer> {
    require_staff(p)?;
    let node = match org.map(str::trim).filter(|s| !s.is_empty()) {
        Some(id) => org::api::visible_node(ctx, p, id).await?,
        None => {
            let roots = p.roots_for(WEIGHT_EDITORS);
            match roots.as_slice() {
                [only] => org::store::get_node_by_path(&ctx.db, only.as_str())
                    .await?
                    .ok_or(AppError::NotFound)?,
                [] => return Err(AppError::Forbidden),
                _ => return Err(AppError::field("org", "请指定要设置权重的区县或市")),
            }
        }
    };
    p.can_act(WEIGHT_EDITORS, &node.org_path, true)?;
    if !matches!(node.kind, OrgKind::District | OrgKind::City) {
        return Err(AppError::field("org", "评分权重只能设在区县或市一级"));
    }
    let w = Weights {
        criteria: body.criteria.clone(),
    };
    w.check().map_err(AppError::Validation)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let version = store::save_weights(&mut tx, &node, &w, body.version, &p.user_id, now).await?;
    audit::record(
        &mut tx,
        ctx.db.backend(),
        AuditEntry {
            at_ms: now,
            actor_id: Some(&p.user_id),
            action: "insight_weights_updated",
            object_type: "org_node",
            object_id: Some(&node.id),
            org_path: Some(node.org_path.as_str()),
            detail: json!({"criteria": w.criteria, "version": version}),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    weights_for(ctx, p, Some(&node.id)).await
}

/// Sets the league weights of a district or city (district and city
/// admins over it).
#[utoipa::path(
    put,
    path = "/api/v1/insight/weights",
    tag = "insight",
    summary = "设置排行榜评分权重(区县、市管理员)",
    params(OrgQuery),
    request_body = WeightsBody,
    responses(
        (status = 200, description = "保存后的权重", body = WeightsAnswer),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn put_weights_handler(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<OrgQuery>,
    Json(body): Json<WeightsBody>,
) -> AppResult<JsonOut<WeightsAnswer>> {
    Ok(JsonOut(
        save_weights(&ctx, &p, q.org.as_deref(), &body).await?,
    ))
}

#[derive(Deserialize, Default, Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// An org node id (default: the caller's whole scope).
    pub org: Option<String>,
    /// The month, `YYYY-MM`.
    #[param(example = "2026-11")]
    pub month: Option<String>,
}

/// `YYYY-MM` → the month's period (422 on `month` otherwise).
pub fn parse_month(s: Option<&str>) -> AppResult<(String, Period)> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Err(AppError::field("month", "请填写月份,格式 YYYY-MM")),
        Some(m) => model::parse_month(m)
            .map(|p| (m.to_string(), p))
            .ok_or_else(|| AppError::field("month", "月份应为有效月份,格式 YYYY-MM")),
    }
}

/// The monthly report as an Excel workbook: summary, per unit, compound
/// league, late demands, charts as tables.
#[utoipa::path(
    get,
    path = "/api/v1/insight/report.xlsx",
    tag = "insight",
    summary = "下载月报(Excel)",
    params(ReportQuery),
    responses(
        (status = 200, description = "月报工作簿", body = kernel::openapi::Binary,
         content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        QueryErrors, Unauthorized, Forbidden, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn report_handler(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<ReportQuery>,
) -> AppResult<Response> {
    require_staff(&p)?;
    let (month, period) = parse_month(q.month.as_deref())?;
    let scope = Scope::for_principal(&ctx, &p, q.org.as_deref()).await?;
    let bytes = report::workbook(&ctx, &scope, &month, &period).await?;
    audit::record_alone(
        &ctx.db,
        AuditEntry {
            at_ms: ctx.now_ms(),
            actor_id: Some(&p.user_id),
            action: "insight_report_exported",
            object_type: "org_node",
            object_id: scope.node.as_ref().map(|n| n.id.as_str()),
            org_path: scope.node.as_ref().map(|n| n.org_path.as_str()),
            detail: json!({"month": month}),
            ..Default::default()
        },
    )
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, XLSX_MIME.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"lianxin-report-{month}.xlsx\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_kinds_are_checked() {
        assert_eq!(parse_month(Some("2026-11")).unwrap().0, "2026-11");
        for bad in [None, Some(""), Some("2026-13"), Some("2026-11-01")] {
            let e = parse_month(bad).unwrap_err();
            assert!(e.fields().unwrap().0.contains_key("month"), "{bad:?}");
        }
        assert_eq!(parse_kind(None).unwrap(), LeagueKind::Compound);
        assert_eq!(parse_kind(Some("butler")).unwrap(), LeagueKind::Butler);
        assert!(parse_kind(Some("x"))
            .unwrap_err()
            .fields()
            .unwrap()
            .0
            .contains_key("kind"));
    }
}
