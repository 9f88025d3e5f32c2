//! `/api/v1/me/data…`, `/api/v1/me/corrections`, `/api/v1/me/deletion-request`
//! (the resident) and `/api/v1/org/privacy-requests` (staff of the community).

use super::{CorrectionOutcome, MyData, RequestView};
use accounts::Auth;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json as JsonOut, Router};
use kernel::json::{Json, Query};
use kernel::openapi::{BodyErrors, Conflict, Forbidden, NotFound, QueryErrors, Unauthorized};
use kernel::page::Page;
use kernel::{AppError, AppResult, Ctx};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub const XLSX_MIME: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

pub fn routes() -> Router<Ctx> {
    Router::new()
        .route("/api/v1/me/data", get(my_data))
        .route("/api/v1/me/data.json", get(my_data_json))
        .route("/api/v1/me/data.xlsx", get(my_data_xlsx))
        .route("/api/v1/me/corrections", post(correction))
        .route("/api/v1/me/deletion-request", post(deletion))
        .route("/api/v1/org/privacy-requests", get(list_requests))
        .route("/api/v1/org/privacy-requests/{id}/decision", post(decision))
}

/// Everything held about the caller and their household.
///
/// The caller's own identity is shown in full (it is theirs); other
/// household members' phones and ID numbers are masked. Every read is
/// audited.
#[utoipa::path(
    get,
    path = "/api/v1/me/data",
    operation_id = "me_data",
    tag = "rights",
    summary = "我的个人信息(查阅)",
    responses(
        (status = 200, description = "本人及本户的个人信息", body = MyData),
        Unauthorized, Forbidden,
    ),
    security(("bearer" = [])),
)]
pub async fn my_data(State(ctx): State<Ctx>, Auth(p): Auth) -> AppResult<JsonOut<MyData>> {
    Ok(JsonOut(super::my_data(&ctx, &p, "view").await?))
}

/// The same as a JSON file to keep (PIPL art. 45: a copy).
#[utoipa::path(
    get,
    path = "/api/v1/me/data.json",
    operation_id = "me_data_json",
    tag = "rights",
    summary = "导出我的个人信息(JSON)",
    responses(
        (status = 200, description = "JSON 文件", body = MyData),
        Unauthorized, Forbidden,
    ),
    security(("bearer" = [])),
)]
pub async fn my_data_json(State(ctx): State<Ctx>, Auth(p): Auth) -> AppResult<Response> {
    let d = super::my_data(&ctx, &p, "export_json").await?;
    let body = serde_json::to_vec_pretty(&d).map_err(AppError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"my-data.json\"".to_string(),
            ),
        ],
        body,
    )
        .into_response())
}

/// The same as an Excel workbook, one sheet per kind of record.
#[utoipa::path(
    get,
    path = "/api/v1/me/data.xlsx",
    operation_id = "me_data_xlsx",
    tag = "rights",
    summary = "导出我的个人信息(Excel)",
    responses(
        (status = 200, description = "工作簿", body = kernel::openapi::Binary,
            content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        Unauthorized, Forbidden,
    ),
    security(("bearer" = [])),
)]
pub async fn my_data_xlsx(State(ctx): State<Ctx>, Auth(p): Auth) -> AppResult<Response> {
    let d = super::my_data(&ctx, &p, "export_xlsx").await?;
    let bytes = super::xlsx::workbook(&d)?;
    Ok((
        [
            (header::CONTENT_TYPE, XLSX_MIME.to_string()),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"my-data.xlsx\"".to_string(),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionInput {
    /// `name`, `phone`, `id_card` (checked by staff) or `relation` (applied at once).
    pub field: String,
    pub value: String,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CorrectionAnswer {
    /// `applied` (changed now) or `pending` (a request for staff).
    pub status: String,
    pub request: Option<RequestView>,
}

/// Correct one's own record.
///
/// Identity fields (name, phone, ID number) become a request that staff
/// of the community check against documents (201); the relation to the
/// household head is changed at once (200).
#[utoipa::path(
    post,
    path = "/api/v1/me/corrections",
    operation_id = "me_correction",
    tag = "rights",
    summary = "更正我的个人信息",
    request_body = CorrectionInput,
    responses(
        (status = 200, description = "已更正", body = CorrectionAnswer),
        (status = 201, description = "更正申请已提交", body = CorrectionAnswer),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
pub async fn correction(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Json(b): Json<CorrectionInput>,
) -> AppResult<Response> {
    Ok(
        match super::request_correction(&ctx, &p, &b.field, &b.value, b.reason.as_deref()).await? {
            CorrectionOutcome::Applied => (
                StatusCode::OK,
                JsonOut(CorrectionAnswer {
                    status: "applied".into(),
                    request: None,
                }),
            )
                .into_response(),
            CorrectionOutcome::Requested(r) => (
                StatusCode::CREATED,
                JsonOut(CorrectionAnswer {
                    status: "pending".into(),
                    request: Some(*r),
                }),
            )
                .into_response(),
        },
    )
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeletionInput {
    #[serde(default)]
    pub reason: Option<String>,
}

/// Ask for one's personal information to be deleted.
///
/// Recorded with its due date; staff of the community process it, which
/// anonymises the record, closes the account and detaches the demands.
#[utoipa::path(
    post,
    path = "/api/v1/me/deletion-request",
    operation_id = "me_deletion_request",
    tag = "rights",
    summary = "申请删除我的个人信息",
    request_body = DeletionInput,
    responses(
        (status = 201, description = "删除申请已提交", body = RequestView),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
pub async fn deletion(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Json(b): Json<DeletionInput>,
) -> AppResult<(StatusCode, JsonOut<RequestView>)> {
    let r = super::request_deletion(&ctx, &p, b.reason.as_deref()).await?;
    Ok((StatusCode::CREATED, JsonOut(r)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestsQuery {
    /// `pending` (default) or `all`.
    pub status: Option<String>,
}

/// Correction and deletion requests of residents in the caller's scope
/// (community staff and above), the pending ones first, oldest due first.
#[utoipa::path(
    get,
    path = "/api/v1/org/privacy-requests",
    operation_id = "privacy_requests",
    tag = "rights",
    summary = "居民的更正与删除申请",
    params(RequestsQuery),
    responses(
        (status = 200, description = "申请(最多 200 条)", body = Page<RequestView>),
        QueryErrors, Unauthorized, Forbidden,
    ),
    security(("bearer" = [])),
)]
pub async fn list_requests(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<RequestsQuery>,
) -> AppResult<JsonOut<Page<RequestView>>> {
    let pending_only = match q.status.as_deref() {
        None | Some("pending") => true,
        Some("all") => false,
        Some(_) => return Err(AppError::field("status", "status 只能是 pending 或 all")),
    };
    let items = super::requests_in_scope(&ctx, &p, pending_only).await?;
    Ok(JsonOut(Page {
        items,
        next_cursor: None,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    /// `approve` (carry it out) or `reject` (a note is then required).
    pub decision: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// Approve (and carry out) or reject a request.
#[utoipa::path(
    post,
    path = "/api/v1/org/privacy-requests/{id}/decision",
    operation_id = "privacy_request_decision",
    tag = "rights",
    summary = "处理更正或删除申请",
    params(("id" = String, Path, description = "申请编号")),
    request_body = DecisionInput,
    responses(
        (status = 200, description = "处理后的申请", body = RequestView),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
pub async fn decision(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<DecisionInput>,
) -> AppResult<JsonOut<RequestView>> {
    // The scope first: a caller who may not decide learns nothing from the body.
    super::check_decider(&ctx, &p, &id).await?;
    let approve = match b.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => {
            return Err(AppError::field(
                "decision",
                "decision 只能是 approve 或 reject",
            ))
        }
    };
    Ok(JsonOut(
        super::decide(&ctx, &p, &id, approve, b.note.as_deref()).await?,
    ))
}
