//! `/api/v1/org`: the tree, node CRUD for admins in scope, households'
//! residents (masked; unmasking is audited), grids, Excel import/export.

use crate::model::{self, OrgKind};
use crate::store::{self, GridRow, NodeRow, ResidentRow};
use crate::xlsx;
use accounts::Auth;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json as JsonOut, Router};
use kernel::audit::{self, AuditEntry};
use kernel::json::{Json, Query};
use kernel::openapi::{
    BadRequest, BodyErrors, Conflict, Forbidden, NotFound, PayloadTooLarge, QueryErrors,
    Unauthorized, Unprocessable, UnsupportedMediaType,
};
use kernel::page::{Page, PageParams};
use kernel::{text, AppError, AppResult, Ctx, OrgPath, Principal, Role};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

pub fn routes() -> Router<Ctx> {
    Router::new()
        .route("/api/v1/org/tree", get(tree))
        .route("/api/v1/org/nodes", axum::routing::post(create_node))
        .route(
            "/api/v1/org/nodes/{id}",
            get(get_node).patch(rename_node).delete(delete_node),
        )
        .route("/api/v1/org/nodes/{id}/children", get(children))
        .route(
            "/api/v1/org/households/{id}/residents",
            get(household_residents).post(add_resident),
        )
        .route("/api/v1/org/residents/{id}", get(get_resident))
        .route("/api/v1/org/grids", get(list_grids).post(create_grid))
        .route(
            "/api/v1/org/import",
            axum::routing::post(import_xlsx)
                .layer(axum::extract::DefaultBodyLimit::max(64 * 1024 * 1024)),
        )
        .route("/api/v1/org/export.xlsx", get(export_xlsx))
        .merge(crate::import_job::routes())
}

/// Who may read the registry at a node: staff over it, or a resident for
/// their own household.
fn readable_roots(p: &Principal) -> Vec<OrgPath> {
    let mut roots = p.roots_for(Role::REGISTRY_READERS);
    for h in &p.households {
        if !roots.iter().any(|r| h.org_path.is_within(r)) {
            roots.push(h.org_path.clone());
        }
    }
    roots
}

/// Loads a node the caller may see, else 404.
pub async fn visible_node(ctx: &Ctx, p: &Principal, id: &str) -> AppResult<NodeRow> {
    let id = kernel::id::parse_id(id).ok_or(AppError::NotFound)?;
    let node = store::get_node(&ctx.db, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    if readable_roots(p).iter().any(|r| node.org_path.is_within(r)) {
        Ok(node)
    } else {
        Err(AppError::NotFound)
    }
}

/// A node the caller may administer (visible but not theirs to edit → 403).
async fn admin_node(ctx: &Ctx, p: &Principal, id: &str) -> AppResult<NodeRow> {
    let node = visible_node(ctx, p, id).await?;
    p.can_act(Role::ORG_ADMINS, &node.org_path, true)?;
    Ok(node)
}

#[derive(Serialize, ToSchema)]
pub struct NodeView {
    pub id: String,
    pub parent_id: Option<String>,
    pub kind: OrgKind,
    pub kind_label: &'static str,
    pub code: String,
    pub name: String,
    pub org_path: String,
    pub depth: usize,
    pub version: i64,
}

impl From<NodeRow> for NodeView {
    fn from(n: NodeRow) -> Self {
        NodeView {
            depth: n.org_path.depth(),
            kind_label: n.kind.label(false),
            id: n.id,
            parent_id: n.parent_id,
            kind: n.kind,
            code: n.code,
            name: n.name,
            org_path: n.org_path.as_str().to_string(),
            version: n.version,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct TreeQuery {
    /// A node id: its subtree only (default: the caller's whole scope).
    root: Option<String>,
    /// Levels below the root, 0–10.
    #[param(value_type = Option<i64>, minimum = 0, maximum = 10)]
    depth: Option<String>,
    /// Items per page, 1–100 (default 20).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The region tree in the caller's scope, in path order.
#[utoipa::path(
    get,
    path = "/api/v1/org/tree",
    operation_id = "org_tree",
    tag = "org",
    summary = "组织树",
    params(TreeQuery),
    responses(
        (status = 200, description = "一页节点", body = Page<NodeView>),
        QueryErrors, Unauthorized, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn tree(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<TreeQuery>,
) -> AppResult<JsonOut<Page<NodeView>>> {
    let params = PageParams::parse(q.limit.as_deref(), q.cursor.as_deref())?;
    let depth = match q.depth.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(d) => Some(
            d.parse::<usize>()
                .ok()
                .filter(|d| *d <= 10)
                .ok_or_else(|| AppError::field("depth", "depth 应为 0 到 10 的整数"))?,
        ),
    };
    let roots = match q.root.as_deref().filter(|s| !s.is_empty()) {
        Some(id) => vec![visible_node(&ctx, &p, id).await?.org_path],
        None => readable_roots(&p),
    };
    let rows = store::subtree_page(
        &ctx.db,
        &roots,
        params.after.as_deref(),
        depth,
        params.fetch(),
    )
    .await?;
    let page = Page::from_rows(rows, &params, |n| n.org_path.as_str().to_string());
    Ok(JsonOut(page.map(NodeView::from)))
}

#[derive(Serialize, ToSchema)]
struct NodeDetail {
    #[serde(flatten)]
    node: NodeView,
    ancestors: Vec<NodeView>,
}

/// One node with the visible part of its ancestor chain.
#[utoipa::path(
    get,
    path = "/api/v1/org/nodes/{id}",
    operation_id = "org_node",
    tag = "org",
    summary = "节点详情",
    params(("id" = String, Path, description = "节点编号")),
    responses(
        (status = 200, description = "节点及其上级", body = NodeDetail),
        Unauthorized, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn get_node(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<JsonOut<NodeDetail>> {
    let node = visible_node(&ctx, &p, &id).await?;
    // Only the part of the chain the caller may see (their scope and below).
    let roots = readable_roots(&p);
    let mut ancestors: Vec<NodeView> = store::ancestors(&ctx.db, &node.org_path)
        .await?
        .into_iter()
        .filter(|a| roots.iter().any(|r| a.org_path.is_within(r)))
        .map(NodeView::from)
        .collect();
    ancestors.pop();
    Ok(JsonOut(NodeDetail {
        node: node.into(),
        ancestors,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/org/nodes/{id}/children",
    operation_id = "org_node_children",
    tag = "org",
    summary = "下级节点",
    params(("id" = String, Path, description = "节点编号")),
    responses(
        (status = 200, description = "全部下级节点", body = Page<NodeView>),
        Unauthorized, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn children(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<JsonOut<Page<NodeView>>> {
    let node = visible_node(&ctx, &p, &id).await?;
    let roots = readable_roots(&p);
    let kids = store::children(&ctx.db, &node.id)
        .await?
        .into_iter()
        .filter(|k| roots.iter().any(|r| k.org_path.is_within(r)))
        .map(NodeView::from)
        .collect();
    Ok(JsonOut(Page {
        items: kids,
        next_cursor: None,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateNode {
    parent_id: String,
    #[schema(value_type = OrgKind)]
    kind: String,
    code: String,
    name: String,
}

/// A node under a parent the caller administers.
#[utoipa::path(
    post,
    path = "/api/v1/org/nodes",
    operation_id = "create_org_node",
    tag = "org",
    summary = "新建节点",
    request_body = CreateNode,
    responses(
        (status = 201, description = "新节点", body = NodeView),
        BodyErrors, Unauthorized, Forbidden, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn create_node(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Json(b): Json<CreateNode>,
) -> AppResult<(StatusCode, JsonOut<NodeView>)> {
    let parent = visible_node(&ctx, &p, &b.parent_id)
        .await
        .map_err(|_| AppError::field("parent_id", "上级节点不存在"))?;
    p.can_act(Role::ORG_ADMINS, &parent.org_path, true)?;
    let new = model::validate_node(&b.kind, &b.code, &b.name, Some(parent.kind))
        .map_err(AppError::Validation)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let node = store::insert_node(&mut tx, Some(&parent), &new, now).await?;
    audit::record(
        &mut tx,
        ctx.db.backend(),
        AuditEntry {
            at_ms: now,
            actor_id: Some(&p.user_id),
            action: "org_node_created",
            object_type: "org_node",
            object_id: Some(&node.id),
            org_path: Some(node.org_path.as_str()),
            detail: json!({"kind": node.kind.as_str(), "code": node.code, "name": node.name}),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, JsonOut(node.into())))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RenameNode {
    name: String,
    version: i64,
}

/// Renames a node; `version` must be the one the caller saw (else 409).
#[utoipa::path(
    patch,
    path = "/api/v1/org/nodes/{id}",
    operation_id = "rename_org_node",
    tag = "org",
    summary = "重命名节点",
    params(("id" = String, Path, description = "节点编号")),
    request_body = RenameNode,
    responses(
        (status = 200, description = "改名后的节点", body = NodeView),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn rename_node(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<RenameNode>,
) -> AppResult<JsonOut<NodeView>> {
    let node = admin_node(&ctx, &p, &id).await?;
    let name = text::required(&b.name, 1, 64, "名称").map_err(|m| AppError::field("name", m))?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    store::rename_node(&mut tx, &node.id, &name, b.version, now).await?;
    audit::record(
        &mut tx,
        ctx.db.backend(),
        AuditEntry {
            at_ms: now,
            actor_id: Some(&p.user_id),
            action: "org_node_renamed",
            object_type: "org_node",
            object_id: Some(&node.id),
            org_path: Some(node.org_path.as_str()),
            detail: json!({"from": node.name, "to": name}),
            ..Default::default()
        },
    )
    .await?;
    let updated = store::get_node_tx(&mut tx, &node.id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(JsonOut(updated.into()))
}

/// Deletes a node (refused with 409 while anything refers to it).
#[utoipa::path(
    delete,
    path = "/api/v1/org/nodes/{id}",
    operation_id = "delete_org_node",
    tag = "org",
    summary = "删除节点",
    params(("id" = String, Path, description = "节点编号")),
    responses(
        (status = 204, description = "已删除"),
        Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn delete_node(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    let node = admin_node(&ctx, &p, &id).await?;
    if p.grants.iter().any(|g| g.org_id == node.id) {
        return Err(AppError::conflict("in_use", "不能删除自己所在的管辖节点"));
    }
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    store::delete_node(&mut tx, &node.id).await?;
    audit::record(
        &mut tx,
        ctx.db.backend(),
        AuditEntry {
            at_ms: now,
            actor_id: Some(&p.user_id),
            action: "org_node_deleted",
            object_type: "org_node",
            object_id: Some(&node.id),
            org_path: Some(node.org_path.as_str()),
            detail: json!({"name": node.name}),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A resident as lists show it: phone and ID masked.
#[derive(Serialize, ToSchema)]
pub struct ResidentView {
    pub id: String,
    pub household_id: String,
    pub name: String,
    pub phone: Option<String>,
    pub id_card: Option<String>,
    pub tenure: model::Tenure,
    pub relation: Option<String>,
    pub masked: bool,
}

impl ResidentView {
    pub fn masked(r: ResidentRow) -> Self {
        ResidentView {
            phone: r.phone.as_deref().map(kernel::mask::phone),
            id_card: r.id_card.as_deref().map(kernel::mask::id_card),
            id: r.id,
            household_id: r.household_id,
            name: r.name,
            tenure: r.tenure,
            relation: r.relation,
            masked: true,
        }
    }
}

/// A household's residents, phone and ID masked.
#[utoipa::path(
    get,
    path = "/api/v1/org/households/{id}/residents",
    operation_id = "household_residents",
    tag = "org",
    summary = "住户的居民",
    params(("id" = String, Path, description = "住户(户)节点编号")),
    responses(
        (status = 200, description = "居民(脱敏)", body = Page<ResidentView>),
        Unauthorized, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn household_residents(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<JsonOut<Page<ResidentView>>> {
    let node = visible_node(&ctx, &p, &id).await?;
    if node.kind != OrgKind::Household {
        return Err(AppError::NotFound);
    }
    let items = store::residents_of(&ctx.db, &ctx.cipher, &node.id)
        .await?
        .into_iter()
        .map(ResidentView::masked)
        .collect();
    Ok(JsonOut(Page {
        items,
        next_cursor: None,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AddResident {
    name: String,
    /// An 11-digit mainland mobile number.
    #[serde(default)]
    phone: Option<String>,
    /// An 18-character resident ID number (GB 11643).
    #[serde(default)]
    id_card: Option<String>,
    /// `owner` (业主) or `tenant` (租户).
    #[serde(default)]
    #[schema(value_type = Option<crate::model::Tenure>)]
    tenure: Option<String>,
    #[serde(default)]
    relation: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/org/households/{id}/residents",
    operation_id = "add_resident",
    tag = "org",
    summary = "登记居民",
    params(("id" = String, Path, description = "住户(户)节点编号")),
    request_body = AddResident,
    responses(
        (status = 201, description = "新登记的居民(脱敏)", body = ResidentView),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn add_resident(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<AddResident>,
) -> AppResult<(StatusCode, JsonOut<ResidentView>)> {
    let node = admin_node(&ctx, &p, &id).await?;
    let r = model::parse_resident(
        &b.name,
        b.phone.as_deref(),
        b.id_card.as_deref(),
        b.tenure.as_deref(),
        b.relation.as_deref(),
    )
    .map_err(AppError::Validation)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let rid = store::insert_resident(&mut tx, &ctx.cipher, &node, &r, None, now).await?;
    audit::record(&mut tx, ctx.db.backend(), AuditEntry {
        at_ms: now,
        actor_id: Some(&p.user_id),
        action: "resident_created",
        object_type: "resident",
        object_id: Some(&rid),
        org_path: Some(node.org_path.as_str()),
        detail: json!({"name": kernel::mask::name(&r.name), "phone": r.phone.as_ref().map(|x| x.masked())}),
        ..Default::default()
    })
    .await?;
    tx.commit().await?;
    let row = store::get_resident(&ctx.db, &ctx.cipher, &rid)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((StatusCode::CREATED, JsonOut(ResidentView::masked(row))))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct UnmaskQuery {
    /// `true` shows the full phone and ID (org admins in scope; audited).
    unmask: Option<String>,
    /// Why (2–200 characters), required with `unmask=true`.
    reason: Option<String>,
}

/// One resident; `?unmask=true&reason=…` shows full phone and ID to org
/// admins in scope, and every such read is audited with its reason.
#[utoipa::path(
    get,
    path = "/api/v1/org/residents/{id}",
    operation_id = "resident",
    tag = "org",
    summary = "居民详情(可审计地查看完整号码)",
    params(("id" = String, Path, description = "居民编号"), UnmaskQuery),
    responses(
        (status = 200, description = "居民", body = ResidentView),
        QueryErrors, Unauthorized, Forbidden, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn get_resident(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Query(q): Query<UnmaskQuery>,
) -> AppResult<JsonOut<ResidentView>> {
    let id = kernel::id::parse_id(&id).ok_or(AppError::NotFound)?;
    let r = store::get_resident(&ctx.db, &ctx.cipher, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !readable_roots(&p)
        .iter()
        .any(|root| r.org_path.is_within(root))
    {
        return Err(AppError::NotFound);
    }
    if q.unmask.as_deref() != Some("true") {
        return Ok(JsonOut(ResidentView::masked(r)));
    }
    p.can_act(Role::ORG_ADMINS, &r.org_path, true)?;
    let reason = text::required(q.reason.as_deref().unwrap_or(""), 2, 200, "查看原因")
        .map_err(|m| AppError::field("reason", m))?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    audit::record(
        &mut tx,
        ctx.db.backend(),
        AuditEntry {
            at_ms: now,
            actor_id: Some(&p.user_id),
            action: "personal_data_unmasked",
            object_type: "resident",
            object_id: Some(&r.id),
            org_path: Some(r.org_path.as_str()),
            detail: json!({"fields": ["phone", "id_card"], "reason": reason}),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(JsonOut(ResidentView {
        id: r.id,
        household_id: r.household_id,
        name: r.name,
        phone: r.phone,
        id_card: r.id_card,
        tenure: r.tenure,
        relation: r.relation,
        masked: false,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct GridQuery {
    /// Items per page, 1–100 (default 20).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/org/grids",
    operation_id = "list_grids",
    tag = "org",
    summary = "网格列表",
    params(GridQuery),
    responses(
        (status = 200, description = "一页网格", body = Page<GridRow>),
        QueryErrors, Unauthorized,
    ),
    security(("bearer" = [])),
)]
async fn list_grids(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<GridQuery>,
) -> AppResult<JsonOut<Page<GridRow>>> {
    let params = PageParams::parse(q.limit.as_deref(), q.cursor.as_deref())?;
    let roots = p.roots_for(Role::REGISTRY_READERS);
    let rows = store::grids_in(&ctx.db, &roots, params.after.as_deref(), params.fetch()).await?;
    Ok(JsonOut(Page::from_rows(rows, &params, |g| g.code.clone())))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateGrid {
    /// The community or village.
    org_id: String,
    /// The grid's number within it, 1–999.
    number: u32,
    name: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/org/grids",
    operation_id = "create_grid",
    tag = "org",
    summary = "划分网格",
    request_body = CreateGrid,
    responses(
        (status = 201, description = "新网格", body = GridRow),
        BodyErrors, Unauthorized, Forbidden, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn create_grid(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Json(b): Json<CreateGrid>,
) -> AppResult<(StatusCode, JsonOut<GridRow>)> {
    let area = visible_node(&ctx, &p, &b.org_id)
        .await
        .map_err(|_| AppError::field("org_id", "所属社区或村不存在"))?;
    p.can_act(Role::ORG_ADMINS, &area.org_path, true)?;
    if !matches!(area.kind, OrgKind::Community | OrgKind::Village) {
        return Err(AppError::field("org_id", "网格只能划在社区或村"));
    }
    let code = model::grid_code(&area.code, b.number).ok_or_else(|| {
        AppError::field(
            "number",
            "网格序号应为 1-999,且社区/村编码须为 12 位统计用区划代码",
        )
    })?;
    let name =
        text::required(&b.name, 1, 64, "网格名称").map_err(|m| AppError::field("name", m))?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let g = store::insert_grid(&mut tx, &area, &code, &name, now).await?;
    audit::record(
        &mut tx,
        ctx.db.backend(),
        AuditEntry {
            at_ms: now,
            actor_id: Some(&p.user_id),
            action: "grid_created",
            object_type: "grid",
            object_id: Some(&g.id),
            org_path: Some(area.org_path.as_str()),
            detail: json!({"code": code}),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, JsonOut(g)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct OrgQuery {
    /// The node id (import: the compound).
    org: Option<String>,
}

const XLSX_MIME: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Upload the workbook as the raw body (`Content-Type` of xlsx) with `?org=`
/// the compound; 200 with the report, or 422 with every bad cell.
#[utoipa::path(
    post,
    path = "/api/v1/org/import",
    operation_id = "import_residents",
    tag = "org",
    summary = "Excel 导入居民",
    params(OrgQuery),
    request_body(
        description = "The workbook (xlsx). 表头:楼栋 单元 户号 姓名 手机号 身份证号 身份 与户主关系",
        content(
            (kernel::openapi::Binary = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (kernel::openapi::Binary = "application/octet-stream"),
        ),
    ),
    responses(
        (status = 200, description = "导入结果", body = xlsx::ImportReport),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge,
        UnsupportedMediaType, Unprocessable,
    ),
    security(("bearer" = [])),
)]
async fn import_xlsx(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<OrgQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<JsonOut<xlsx::ImportReport>> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !(ct.starts_with(XLSX_MIME) || ct.starts_with("application/octet-stream")) {
        return Err(AppError::UnsupportedMediaType);
    }
    let org = q
        .org
        .ok_or_else(|| AppError::field("org", "请指定导入到哪个小区"))?;
    let compound = admin_node(&ctx, &p, &org).await?;
    Ok(JsonOut(
        xlsx::import(&ctx, Some(&p.user_id), &compound, &body).await?,
    ))
}

/// The residents under a node as a workbook, phones and IDs masked.
#[utoipa::path(
    get,
    path = "/api/v1/org/export.xlsx",
    operation_id = "export_residents",
    tag = "org",
    summary = "Excel 导出居民(脱敏)",
    params(OrgQuery),
    responses(
        (status = 200, description = "工作簿", body = kernel::openapi::Binary,
            content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        QueryErrors, Unauthorized, Forbidden, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn export_xlsx(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<OrgQuery>,
) -> AppResult<Response> {
    let org = q
        .org
        .ok_or_else(|| AppError::field("org", "请指定导出哪个节点"))?;
    let node = visible_node(&ctx, &p, &org).await?;
    p.can_act(Role::REGISTRY_READERS, &node.org_path, true)?;
    let residents = store::residents_in(
        &ctx.db,
        &ctx.cipher,
        std::slice::from_ref(&node.org_path),
        1_000_000,
    )
    .await?;
    let bytes = xlsx::export_workbook(&node, &residents)?;
    audit::record_alone(
        &ctx.db,
        AuditEntry {
            at_ms: ctx.now_ms(),
            actor_id: Some(&p.user_id),
            action: "residents_exported",
            object_type: "org_node",
            object_id: Some(&node.id),
            org_path: Some(node.org_path.as_str()),
            detail: json!({"rows": residents.len(), "masked": true}),
            ..Default::default()
        },
    )
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, XLSX_MIME.to_string()),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"residents.xlsx\"".to_string(),
            ),
        ],
        bytes,
    )
        .into_response())
}
