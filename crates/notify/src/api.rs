//! `/api/v1/notify`: the caller's inbox (list, unread count, mark read),
//! the live stream, subscriptions (personal follows; role subscriptions by
//! org admins), webhook endpoints per org node and their dead letters.

use crate::model::{kind_label, Format, Platform};
use crate::registry;
use crate::store::{self, DeliveryRow, InboxRow, SubscriptionRow, WebhookRow};
use crate::{hub, ssrf, Live};
use accounts::Auth;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json as JsonOut, Router};
use kernel::audit::{self, AuditEntry};
use kernel::clock::to_rfc3339;
use kernel::i18n::Lang;
use kernel::json::{Json, Query};
use kernel::openapi::{BodyErrors, Conflict, Forbidden, NotFound, QueryErrors, Unauthorized};
use kernel::page::{Page, PageParams};
use kernel::{AppError, AppResult, Ctx, FieldErrors, OrgPath, Principal, Role};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

pub fn routes() -> Router<Ctx> {
    Router::new()
        .route("/api/v1/notify/inbox", get(inbox))
        .route("/api/v1/notify/inbox/read-all", post(read_all))
        .route("/api/v1/notify/inbox/{id}", get(inbox_item))
        .route("/api/v1/notify/inbox/{id}/read", post(read_one))
        .route("/api/v1/notify/unread", get(unread))
        .route("/api/v1/notify/stream", get(crate::stream::stream))
        .route(
            "/api/v1/notify/subscriptions",
            get(list_subscriptions).post(create_subscription),
        )
        .route(
            "/api/v1/notify/subscriptions/{id}",
            axum::routing::delete(delete_subscription),
        )
        .route(
            "/api/v1/notify/webhooks",
            get(list_webhooks).post(create_webhook),
        )
        .route("/api/v1/notify/webhooks/dead", get(dead_letters))
        .route("/api/v1/notify/webhooks/dead/{id}/retry", post(retry_dead))
        .route(
            "/api/v1/notify/webhooks/{id}",
            get(get_webhook)
                .patch(update_webhook)
                .delete(delete_webhook),
        )
        .route("/api/v1/notify/webhooks/{id}/test", post(test_webhook))
}

// ---------------------------------------------------------------- inbox

/// One notification in the caller's inbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemView {
    pub id: String,
    /// The item's place in the caller's sequence (the stream's event id).
    pub seq: i64,
    /// e.g. `demand.dispatched`.
    pub kind: String,
    /// The kind in words (中文).
    pub label: String,
    pub title: String,
    pub body: Option<String>,
    /// A page of the web UI it leads to.
    pub link: Option<String>,
    pub object_type: String,
    pub object_id: Option<String>,
    pub created_at: String,
    pub read: bool,
    pub read_at: Option<String>,
}

impl From<InboxRow> for ItemView {
    fn from(r: InboxRow) -> Self {
        ItemView {
            id: r.id,
            seq: r.seq,
            label: kind_label(Lang::Zh, &r.kind),
            kind: r.kind,
            title: r.title,
            body: r.body,
            link: r.link,
            object_type: r.object_type,
            object_id: r.object_id,
            created_at: to_rfc3339(r.created_at),
            read: r.read_at.is_some(),
            read_at: r.read_at.map(to_rfc3339),
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxQuery {
    /// Items per page, 1–100 (default 20).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `true` (or `1`): unread items only.
    #[param(value_type = Option<bool>)]
    pub unread: Option<String>,
}

fn flag(v: Option<&str>, field: &str) -> AppResult<bool> {
    match v.map(str::trim) {
        None | Some("") => Ok(false),
        Some("1") | Some("true") => Ok(true),
        Some("0") | Some("false") => Ok(false),
        Some(_) => Err(AppError::field(field, "应为 true 或 false")),
    }
}

/// The caller's page of items, newest first (cursor = the last seq shown).
pub async fn inbox_page(
    ctx: &Ctx,
    p: &Principal,
    params: &PageParams,
    unread_only: bool,
) -> AppResult<Page<InboxRow>> {
    let before = match &params.after {
        Some(c) => Some(c.parse::<i64>().map_err(|_| {
            AppError::field("cursor", "cursor 无效,请使用上一页返回的 next_cursor")
        })?),
        None => None,
    };
    let rows = store::inbox_page(&ctx.db, &p.user_id, before, unread_only, params.fetch()).await?;
    Ok(Page::from_rows(rows, params, |r| r.seq.to_string()))
}

/// The caller's notifications, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/notify/inbox",
    tag = "notify",
    operation_id = "notify_inbox",
    summary = "我的消息",
    params(InboxQuery),
    responses(
        (status = 200, description = "消息列表", body = Page<ItemView>),
        QueryErrors, Unauthorized,
    ),
    security(("bearer" = [])),
)]
pub async fn inbox(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<InboxQuery>,
) -> AppResult<JsonOut<Page<ItemView>>> {
    let params = PageParams::parse(q.limit.as_deref(), q.cursor.as_deref())?;
    let unread_only = flag(q.unread.as_deref(), "unread")?;
    Ok(JsonOut(
        inbox_page(&ctx, &p, &params, unread_only)
            .await?
            .map(ItemView::from),
    ))
}

/// The unread count (and the newest item's sequence number).
#[derive(Debug, Serialize, ToSchema)]
pub struct UnreadView {
    pub unread: i64,
    pub last_seq: i64,
}

/// How many of the caller's notifications are unread.
#[utoipa::path(
    get,
    path = "/api/v1/notify/unread",
    tag = "notify",
    operation_id = "notify_unread",
    summary = "未读消息数",
    responses((status = 200, description = "未读数", body = UnreadView), Unauthorized),
    security(("bearer" = [])),
)]
pub async fn unread(State(ctx): State<Ctx>, Auth(p): Auth) -> AppResult<JsonOut<UnreadView>> {
    Ok(JsonOut(UnreadView {
        unread: store::unread_count(&ctx.db, &p.user_id).await?,
        last_seq: store::last_seq(&ctx.db, &p.user_id).await?,
    }))
}

async fn own_item(ctx: &Ctx, p: &Principal, id: &str) -> AppResult<InboxRow> {
    let id = kernel::id::parse_id(id).ok_or(AppError::NotFound)?;
    store::inbox_item(&ctx.db, &p.user_id, &id)
        .await?
        .ok_or(AppError::NotFound)
}

/// One of the caller's notifications (another person's is 404).
#[utoipa::path(
    get,
    path = "/api/v1/notify/inbox/{id}",
    tag = "notify",
    operation_id = "notify_inbox_item",
    summary = "一条消息",
    params(("id" = String, Path, description = "消息编号")),
    responses((status = 200, description = "消息", body = ItemView), Unauthorized, NotFound),
    security(("bearer" = [])),
)]
pub async fn inbox_item(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<JsonOut<ItemView>> {
    Ok(JsonOut(own_item(&ctx, &p, &id).await?.into()))
}

/// Marks one of the caller's items read (again is harmless).
pub async fn mark_read(ctx: &Ctx, p: &Principal, id: &str) -> AppResult<InboxRow> {
    let item = own_item(ctx, p, id).await?;
    if item.read_at.is_none() {
        store::mark_read(&ctx.db, &p.user_id, &item.id, ctx.now_ms()).await?;
        hub(ctx).send(Live::Read {
            user_id: p.user_id.clone(),
        });
    }
    own_item(ctx, p, &item.id).await
}

/// Marks one notification read.
#[utoipa::path(
    post,
    path = "/api/v1/notify/inbox/{id}/read",
    tag = "notify",
    operation_id = "notify_read_one",
    summary = "标为已读",
    params(("id" = String, Path, description = "消息编号")),
    responses((status = 200, description = "已读的消息", body = ItemView), Unauthorized, Forbidden, NotFound),
    security(("bearer" = [])),
)]
pub async fn read_one(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<JsonOut<ItemView>> {
    Ok(JsonOut(mark_read(&ctx, &p, &id).await?.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadAllView {
    /// Items marked read now.
    pub marked: u64,
    pub unread: i64,
}

/// Marks every unread item of the caller read.
pub async fn mark_all_read(ctx: &Ctx, p: &Principal) -> AppResult<ReadAllView> {
    let marked = store::mark_all_read(&ctx.db, &p.user_id, None, ctx.now_ms()).await?;
    if marked > 0 {
        hub(ctx).send(Live::Read {
            user_id: p.user_id.clone(),
        });
    }
    Ok(ReadAllView {
        marked,
        unread: store::unread_count(&ctx.db, &p.user_id).await?,
    })
}

/// Marks all of the caller's notifications read.
#[utoipa::path(
    post,
    path = "/api/v1/notify/inbox/read-all",
    tag = "notify",
    operation_id = "notify_read_all",
    summary = "全部标为已读",
    responses((status = 200, description = "标记的条数", body = ReadAllView), Unauthorized, Forbidden),
    security(("bearer" = [])),
)]
pub async fn read_all(State(ctx): State<Ctx>, Auth(p): Auth) -> AppResult<JsonOut<ReadAllView>> {
    Ok(JsonOut(mark_all_read(&ctx, &p).await?))
}

// ---------------------------------------------------------------- subscriptions

/// Who hears what: a role over a node (org admins), or a person following
/// one object.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionView {
    pub id: String,
    /// An event kind, or `*`.
    pub kind: String,
    /// Role subscriptions: holders of this role whose grant covers the event.
    pub role: Option<String>,
    /// Events under this node (`/` = everywhere).
    pub org_path: String,
    /// Personal follows: the object followed.
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    /// Seeded at start-up.
    pub is_default: bool,
    pub active: bool,
    pub personal: bool,
    pub created_at: String,
}

impl From<SubscriptionRow> for SubscriptionView {
    fn from(s: SubscriptionRow) -> Self {
        SubscriptionView {
            personal: s.user_id.is_some(),
            id: s.id,
            kind: s.kind,
            role: s.role,
            org_path: s.org_path,
            object_type: s.object_type,
            object_id: s.object_id,
            is_default: s.is_default,
            active: s.active,
            created_at: to_rfc3339(s.created_at),
        }
    }
}

/// May `p` see this subscription? Their own follows; role subscriptions of
/// a role they hold, or at a node they administer.
fn sees(p: &Principal, s: &SubscriptionRow) -> bool {
    if let Some(u) = &s.user_id {
        return *u == p.user_id;
    }
    let holds = s
        .role
        .as_deref()
        .and_then(Role::parse)
        .is_some_and(|r| p.has_role(r));
    holds || p.covers(Role::ORG_ADMINS, &OrgPath::from_db(s.org_path.clone()))
}

/// The subscriptions that concern the caller.
#[utoipa::path(
    get,
    path = "/api/v1/notify/subscriptions",
    tag = "notify",
    operation_id = "notify_list_subscriptions",
    summary = "订阅",
    responses((status = 200, description = "订阅列表", body = Page<SubscriptionView>), Unauthorized),
    security(("bearer" = [])),
)]
pub async fn list_subscriptions(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
) -> AppResult<JsonOut<Page<SubscriptionView>>> {
    let items = store::subscriptions_for(&ctx.db, &p.user_id)
        .await?
        .into_iter()
        .filter(|s| sees(&p, s))
        .map(SubscriptionView::from)
        .collect();
    Ok(JsonOut(Page {
        items,
        next_cursor: None,
    }))
}

/// Either a follow (`object_type` + `object_id`) or, by an org admin, a
/// role subscription (`role` + `org_id`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionInput {
    /// An event kind, or `*` (default).
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub object_type: Option<String>,
    #[serde(default)]
    pub object_id: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub org_id: Option<String>,
}

fn valid_kind(k: &str) -> bool {
    k == "*"
        || crate::model::kind::ALL.contains(&k)
        || k.strip_suffix(".*").is_some_and(|fam| {
            crate::model::kind::ALL
                .iter()
                .any(|x| x.starts_with(&format!("{fam}.")))
        })
}

/// Follows an object, or subscribes a role at a node.
#[utoipa::path(
    post,
    path = "/api/v1/notify/subscriptions",
    tag = "notify",
    operation_id = "notify_create_subscription",
    summary = "关注或订阅",
    request_body = SubscriptionInput,
    responses(
        (status = 201, description = "已订阅", body = SubscriptionView),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
pub async fn create_subscription(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Json(b): Json<SubscriptionInput>,
) -> AppResult<(StatusCode, JsonOut<SubscriptionView>)> {
    let kind = b.kind.as_deref().map(str::trim).unwrap_or("*").to_string();
    if !valid_kind(&kind) {
        return Err(AppError::field("kind", "消息类型无效"));
    }
    let now = ctx.now_ms();
    let id = match (&b.object_type, &b.object_id, &b.role, &b.org_id) {
        (Some(t), Some(oid), None, None) => {
            let check = registry::follow_check(t)
                .ok_or_else(|| AppError::field("object_type", "不能关注这类对象"))?;
            let target = check(&ctx, &p, oid).await?.ok_or(AppError::NotFound)?;
            let oid = kernel::id::parse_id(oid).ok_or(AppError::NotFound)?;
            if store::find_follow(&ctx.db, &p.user_id, t, &oid)
                .await?
                .is_some()
            {
                return Err(AppError::conflict("already_following", "已经关注过了"));
            }
            let mut tx = ctx.db.begin().await?;
            let id = store::insert_subscription(
                &mut tx,
                &kind,
                None,
                target.org_path.as_str(),
                Some(&p.user_id),
                Some((t, &oid)),
                &p.user_id,
                now,
            )
            .await?;
            tx.commit().await?;
            id
        }
        (None, None, Some(role), Some(org_id)) => {
            let role = Role::parse(role)
                .filter(|r| !Role::SEPARATED_DUTIES.contains(r))
                .ok_or_else(|| AppError::field("role", "角色无效"))?;
            let node_id = kernel::id::parse_id(org_id).ok_or(AppError::NotFound)?;
            let (node_id, path, _) = store::org_node(&ctx.db, &node_id)
                .await?
                .ok_or(AppError::NotFound)?;
            p.can_act(
                Role::ORG_ADMINS,
                &path,
                p.can_see(Role::CASE_STAFF, &path).is_ok(),
            )?;
            let mut tx = ctx.db.begin().await?;
            let id = store::insert_subscription(
                &mut tx,
                &kind,
                Some(role.as_str()),
                path.as_str(),
                None,
                None,
                &p.user_id,
                now,
            )
            .await?;
            audit::record(
                &mut tx,
                ctx.db.backend(),
                AuditEntry {
                    at_ms: now,
                    actor_id: Some(&p.user_id),
                    action: "notify_subscription_created",
                    object_type: "notify_subscription",
                    object_id: Some(&id),
                    org_path: Some(path.as_str()),
                    detail: json!({"kind": kind, "role": role.as_str(), "org_id": node_id}),
                    ..Default::default()
                },
            )
            .await?;
            tx.commit().await?;
            id
        }
        _ => {
            return Err(AppError::field(
                "body",
                "请给出 object_type 与 object_id(关注),或 role 与 org_id(按角色订阅)",
            ))
        }
    };
    let s = store::get_subscription(&ctx.db, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((StatusCode::CREATED, JsonOut(s.into())))
}

/// Ends a follow, or (org admins) a role subscription at their node.
#[utoipa::path(
    delete,
    path = "/api/v1/notify/subscriptions/{id}",
    tag = "notify",
    operation_id = "notify_delete_subscription",
    summary = "取消关注或订阅",
    params(("id" = String, Path, description = "订阅编号")),
    responses((status = 204, description = "已取消"), Unauthorized, Forbidden, NotFound),
    security(("bearer" = [])),
)]
pub async fn delete_subscription(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    let id = kernel::id::parse_id(&id).ok_or(AppError::NotFound)?;
    let s = store::get_subscription(&ctx.db, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !sees(&p, &s) {
        return Err(AppError::NotFound);
    }
    let path = OrgPath::from_db(s.org_path.clone());
    let personal = s.user_id.as_deref() == Some(p.user_id.as_str());
    if !personal && (s.is_default || !p.covers(Role::ORG_ADMINS, &path)) {
        return Err(AppError::Forbidden);
    }
    let mut tx = ctx.db.begin().await?;
    store::remove_subscription(&mut tx, &s).await?;
    if !personal {
        audit::record(
            &mut tx,
            ctx.db.backend(),
            AuditEntry {
                at_ms: ctx.now_ms(),
                actor_id: Some(&p.user_id),
                action: "notify_subscription_deleted",
                object_type: "notify_subscription",
                object_id: Some(&s.id),
                org_path: Some(&s.org_path),
                detail: json!({"kind": s.kind, "role": s.role}),
                ..Default::default()
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- webhooks

/// A webhook endpoint of an org node. The URL is shown only as its scheme
/// and host (the rest holds the robot's key); secrets are never shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: String,
    pub org_id: String,
    pub org_path: String,
    pub name: String,
    /// `wecom` (企业微信), `dingtalk` (钉钉) or `generic`.
    pub platform: String,
    /// `text` or `markdown` (robots only).
    pub format: String,
    pub url: String,
    pub has_secret: bool,
    /// `*` or a comma list of kinds (`demand.*` for a family).
    pub kinds: String,
    pub rate_per_minute: i64,
    pub active: bool,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
    /// Deliveries by state: pending, delivered, dead, cancelled.
    #[schema(value_type = Object)]
    pub deliveries: serde_json::Value,
}

async fn webhook_view(ctx: &Ctx, w: WebhookRow) -> AppResult<WebhookView> {
    let counts = store::delivery_counts(&ctx.db, &w.id).await?;
    let mut deliveries = json!({"pending": 0, "delivered": 0, "dead": 0, "cancelled": 0});
    for (s, n) in counts {
        deliveries[s] = n.into();
    }
    Ok(WebhookView {
        id: w.id,
        org_id: w.org_id,
        org_path: w.org_path.as_str().to_string(),
        name: w.name,
        platform: w.platform,
        format: w.format,
        url: w.url_hint,
        has_secret: w.secret_enc.is_some(),
        kinds: w.kinds,
        rate_per_minute: w.rate_per_minute,
        active: w.active,
        created_at: to_rfc3339(w.created_at),
        updated_at: to_rfc3339(w.updated_at),
        version: w.version,
        deliveries,
    })
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Items per page, 1–100 (default 20).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Endpoints at the nodes the caller administers.
#[utoipa::path(
    get,
    path = "/api/v1/notify/webhooks",
    tag = "notify",
    operation_id = "notify_list_webhooks",
    summary = "Webhook 列表",
    params(ListQuery),
    responses(
        (status = 200, description = "Webhook 列表", body = Page<WebhookView>),
        QueryErrors, Unauthorized,
    ),
    security(("bearer" = [])),
)]
pub async fn list_webhooks(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<ListQuery>,
) -> AppResult<JsonOut<Page<WebhookView>>> {
    let params = PageParams::parse(q.limit.as_deref(), q.cursor.as_deref())?;
    let roots = p.roots_for(Role::ORG_ADMINS);
    let rows = store::webhooks_in(&ctx.db, &roots, params.after.as_deref(), params.fetch()).await?;
    let page = Page::from_rows(rows, &params, |w| w.id.clone());
    let mut items = Vec::new();
    for w in page.items {
        items.push(webhook_view(&ctx, w).await?);
    }
    Ok(JsonOut(Page {
        items,
        next_cursor: page.next_cursor,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// The org node whose events (and those below it) it hears.
    pub org_id: String,
    pub name: String,
    /// `wecom`, `dingtalk` or `generic`.
    pub platform: String,
    /// `text` (default) or `markdown`.
    #[serde(default)]
    pub format: Option<String>,
    pub url: String,
    /// 钉钉: the 加签 secret (SEC…); generic: the HMAC key (required).
    #[serde(default)]
    pub secret: Option<String>,
    /// `*` (default) or a comma list of kinds.
    #[serde(default)]
    pub kinds: Option<String>,
    /// At most this many messages a minute (1–600, default 20 — the robots' own limit).
    #[serde(default)]
    pub rate_per_minute: Option<i64>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    /// A new secret; an empty string removes it (not allowed for generic).
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub kinds: Option<String>,
    #[serde(default)]
    pub rate_per_minute: Option<i64>,
    #[serde(default)]
    pub active: Option<bool>,
    /// The version the caller saw; a stale one is 409.
    #[serde(default)]
    pub version: Option<i64>,
}

/// `scheme://host[:port]/…` — what lists show of a URL.
fn url_hint(u: &reqwest::Url) -> String {
    let host = u.host_str().unwrap_or("");
    match u.port() {
        Some(port) => format!("{}://{host}:{port}/…", u.scheme()),
        None => format!("{}://{host}/…", u.scheme()),
    }
}

fn check_kinds(e: &mut FieldErrors, kinds: &str) -> String {
    let list: Vec<&str> = kinds
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if list.is_empty() || list.iter().any(|k| !valid_kind(k)) || kinds.len() > 500 {
        e.add("kinds", "消息类型无效");
    }
    list.join(",")
}

async fn check_url(ctx: &Ctx, e: &mut FieldErrors, url: &str) -> Option<reqwest::Url> {
    match ssrf::check(url, ctx.settings.webhook_allow_private).await {
        Ok(u) => Some(u),
        Err(r) => {
            e.add("url", r.message());
            None
        }
    }
}

/// The admin scope check: an endpoint outside the caller's nodes is 404.
async fn admin_webhook(ctx: &Ctx, p: &Principal, id: &str) -> AppResult<WebhookRow> {
    let id = kernel::id::parse_id(id).ok_or(AppError::NotFound)?;
    let w = store::get_webhook(&ctx.db, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !p.covers(Role::ORG_ADMINS, &w.org_path) {
        return Err(AppError::NotFound);
    }
    Ok(w)
}

fn audit_webhook<'a>(
    now: i64,
    p: &'a Principal,
    action: &'a str,
    w: &'a WebhookRow,
    detail: serde_json::Value,
) -> AuditEntry<'a> {
    AuditEntry {
        at_ms: now,
        actor_id: Some(&p.user_id),
        action,
        object_type: "notify_webhook",
        object_id: Some(&w.id),
        org_path: Some(w.org_path.as_str()),
        detail,
        ..Default::default()
    }
}

/// Registers an endpoint at a node the caller administers. The URL must
/// not point at a loopback or private address (unless the deployment
/// allows it).
#[utoipa::path(
    post,
    path = "/api/v1/notify/webhooks",
    tag = "notify",
    operation_id = "notify_create_webhook",
    summary = "登记 Webhook(企业微信/钉钉群机器人或通用)",
    request_body = WebhookInput,
    responses(
        (status = 201, description = "已登记", body = WebhookView),
        BodyErrors, Unauthorized, Forbidden, NotFound,
    ),
    security(("bearer" = [])),
)]
pub async fn create_webhook(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Json(b): Json<WebhookInput>,
) -> AppResult<(StatusCode, JsonOut<WebhookView>)> {
    let node_id = kernel::id::parse_id(&b.org_id).ok_or(AppError::NotFound)?;
    let (node_id, path, _) = store::org_node(&ctx.db, &node_id)
        .await?
        .ok_or(AppError::NotFound)?;
    p.can_act(
        Role::ORG_ADMINS,
        &path,
        p.can_see(Role::CASE_STAFF, &path).is_ok(),
    )?;
    let mut e = FieldErrors::new();
    let name = e.take("name", kernel::text::required(&b.name, 1, 64, "名称"));
    let platform = Platform::parse(&b.platform);
    if platform.is_none() {
        e.add("platform", "平台应为 wecom、dingtalk 或 generic");
    }
    let format = match b.format.as_deref() {
        None | Some("") => Some(Format::Text),
        Some(f) => Format::parse(f),
    };
    if format.is_none() {
        e.add("format", "格式应为 text 或 markdown");
    }
    let secret = b
        .secret
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    match (platform, &secret) {
        (Some(Platform::Generic), None) => e.add("secret", "通用 Webhook 需要签名密钥"),
        (Some(Platform::Wecom), Some(_)) => e.add("secret", "企业微信群机器人不使用密钥"),
        (_, Some(s)) if s.len() > 200 => e.add("secret", "密钥过长"),
        _ => {}
    }
    let kinds = check_kinds(&mut e, b.kinds.as_deref().unwrap_or("*"));
    let rate = b.rate_per_minute.unwrap_or(20);
    if !(1..=600).contains(&rate) {
        e.add("rate_per_minute", "每分钟条数应为 1 到 600");
    }
    let url = check_url(&ctx, &mut e, &b.url).await;
    e.check()?;
    let (url, platform, format) = (
        url.expect("checked"),
        platform.expect("checked"),
        format.expect("checked"),
    );
    let now = ctx.now_ms();
    let url_enc = ctx.cipher.encrypt(url.as_str());
    let secret_enc = secret.as_deref().map(|s| ctx.cipher.encrypt(s));
    let mut tx = ctx.db.begin().await?;
    let id = store::insert_webhook(
        &mut tx,
        &store::NewWebhook {
            org_id: &node_id,
            org_path: &path,
            name: name.as_deref().unwrap_or_default(),
            platform: platform.as_str(),
            format: format.as_str(),
            url_enc: &url_enc,
            url_hint: &url_hint(&url),
            secret_enc: secret_enc.as_deref(),
            kinds: &kinds,
            rate_per_minute: rate,
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
            action: "notify_webhook_created",
            object_type: "notify_webhook",
            object_id: Some(&id),
            org_path: Some(path.as_str()),
            detail: json!({"platform": platform.as_str(), "url": url_hint(&url), "kinds": kinds}),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    let w = store::get_webhook(&ctx.db, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((StatusCode::CREATED, JsonOut(webhook_view(&ctx, w).await?)))
}

/// One endpoint.
#[utoipa::path(
    get,
    path = "/api/v1/notify/webhooks/{id}",
    tag = "notify",
    operation_id = "notify_get_webhook",
    summary = "Webhook 详情",
    params(("id" = String, Path, description = "Webhook 编号")),
    responses((status = 200, description = "Webhook", body = WebhookView), Unauthorized, NotFound),
    security(("bearer" = [])),
)]
pub async fn get_webhook(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<JsonOut<WebhookView>> {
    let w = admin_webhook(&ctx, &p, &id).await?;
    Ok(JsonOut(webhook_view(&ctx, w).await?))
}

/// Changes an endpoint (name, format, URL, secret, kinds, rate, on/off).
#[utoipa::path(
    patch,
    path = "/api/v1/notify/webhooks/{id}",
    tag = "notify",
    operation_id = "notify_update_webhook",
    summary = "修改 Webhook",
    params(("id" = String, Path, description = "Webhook 编号")),
    request_body = WebhookPatch,
    responses(
        (status = 200, description = "修改后的 Webhook", body = WebhookView),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
pub async fn update_webhook(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<WebhookPatch>,
) -> AppResult<JsonOut<WebhookView>> {
    let mut w = admin_webhook(&ctx, &p, &id).await?;
    let expected = w.version;
    if b.version.is_some_and(|v| v != expected) {
        return Err(AppError::conflict(
            "version_conflict",
            "该 Webhook 已被他人修改,请刷新后重试",
        ));
    }
    let platform = Platform::parse(&w.platform).unwrap_or(Platform::Generic);
    let mut e = FieldErrors::new();
    if let Some(n) = &b.name {
        if let Some(n) = e.take("name", kernel::text::required(n, 1, 64, "名称")) {
            w.name = n;
        }
    }
    if let Some(f) = &b.format {
        match Format::parse(f) {
            Some(f) => w.format = f.as_str().to_string(),
            None => e.add("format", "格式应为 text 或 markdown"),
        }
    }
    if let Some(k) = &b.kinds {
        w.kinds = check_kinds(&mut e, k);
    }
    if let Some(r) = b.rate_per_minute {
        if (1..=600).contains(&r) {
            w.rate_per_minute = r;
        } else {
            e.add("rate_per_minute", "每分钟条数应为 1 到 600");
        }
    }
    if let Some(s) = &b.secret {
        let s = s.trim();
        match (platform, s.is_empty()) {
            (Platform::Generic, true) => e.add("secret", "通用 Webhook 需要签名密钥"),
            (Platform::Wecom, false) => e.add("secret", "企业微信群机器人不使用密钥"),
            (_, true) => w.secret_enc = None,
            (_, false) if s.len() > 200 => e.add("secret", "密钥过长"),
            (_, false) => w.secret_enc = Some(ctx.cipher.encrypt(s)),
        }
    }
    if let Some(u) = &b.url {
        if let Some(u) = check_url(&ctx, &mut e, u).await {
            w.url_enc = ctx.cipher.encrypt(u.as_str());
            w.url_hint = url_hint(&u);
        }
    }
    if let Some(a) = b.active {
        w.active = a;
    }
    e.check()?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    if !store::update_webhook(&mut tx, &w, expected, now).await? {
        return Err(AppError::conflict(
            "version_conflict",
            "该 Webhook 已被他人修改,请刷新后重试",
        ));
    }
    audit::record(
        &mut tx,
        ctx.db.backend(),
        audit_webhook(
            now,
            &p,
            "notify_webhook_updated",
            &w,
            json!({"url": w.url_hint, "kinds": w.kinds, "active": w.active, "secret_changed": b.secret.is_some()}),
        ),
    )
    .await?;
    tx.commit().await?;
    let w = store::get_webhook(&ctx.db, &w.id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(JsonOut(webhook_view(&ctx, w).await?))
}

/// Removes an endpoint; its pending deliveries are cancelled.
#[utoipa::path(
    delete,
    path = "/api/v1/notify/webhooks/{id}",
    tag = "notify",
    operation_id = "notify_delete_webhook",
    summary = "删除 Webhook",
    params(("id" = String, Path, description = "Webhook 编号")),
    responses((status = 204, description = "已删除"), Unauthorized, Forbidden, NotFound),
    security(("bearer" = [])),
)]
pub async fn delete_webhook(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    let w = admin_webhook(&ctx, &p, &id).await?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    store::delete_webhook(&mut tx, &w.id, now).await?;
    audit::record(
        &mut tx,
        ctx.db.backend(),
        audit_webhook(
            now,
            &p,
            "notify_webhook_deleted",
            &w,
            json!({"url": w.url_hint}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueuedView {
    /// The delivery (its id is the `X-Lianxin-Delivery` idempotency key).
    pub delivery_id: String,
}

/// Queues a test message to this endpoint only.
#[utoipa::path(
    post,
    path = "/api/v1/notify/webhooks/{id}/test",
    tag = "notify",
    operation_id = "notify_test_webhook",
    summary = "发送测试消息",
    params(("id" = String, Path, description = "Webhook 编号")),
    responses((status = 202, description = "已排队", body = QueuedView), Unauthorized, Forbidden, NotFound),
    security(("bearer" = [])),
)]
pub async fn test_webhook(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<(StatusCode, JsonOut<QueuedView>)> {
    let w = admin_webhook(&ctx, &p, &id).await?;
    let now = ctx.now_ms();
    let e = crate::Event::new(
        crate::kind::TEST,
        &w.org_path,
        "notify_webhook",
        Some(&w.id),
        format!("{}:连心通知测试", w.name),
    )
    .webhooks(crate::WebhookScope::None)
    .at(now);
    let mut tx = ctx.db.begin().await?;
    let event_id = store::insert_event(&mut tx, &e, now)
        .await?
        .ok_or_else(|| AppError::internal("test event not written"))?;
    store::insert_delivery(&mut tx, &event_id, &w.id, w.org_path.as_str(), now).await?;
    let delivery_id: String =
        sqlx::query("SELECT id FROM notify_deliveries WHERE event_id = $1 AND webhook_id = $2")
            .bind(&event_id)
            .bind(&w.id)
            .fetch_one(&mut *tx)
            .await
            .map(|r| sqlx::Row::get(&r, 0))?;
    tx.commit().await?;
    Ok((StatusCode::ACCEPTED, JsonOut(QueuedView { delivery_id })))
}

/// A delivery that gave up after its attempts.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadView {
    pub id: String,
    pub webhook_id: String,
    pub webhook_name: Option<String>,
    pub org_path: String,
    pub event_id: String,
    pub kind: Option<String>,
    pub title: Option<String>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub last_status: Option<i64>,
    pub created_at: String,
    pub failed_at: String,
}

async fn dead_view(ctx: &Ctx, d: DeliveryRow) -> AppResult<DeadView> {
    let event = store::get_event(&ctx.db, &d.event_id).await?;
    let w = store::get_webhook_any(&ctx.db, &d.webhook_id).await?;
    Ok(DeadView {
        webhook_name: w.map(|(w, _)| w.name),
        kind: event.as_ref().map(|e| e.kind.clone()),
        title: event.map(|e| e.title),
        id: d.id,
        webhook_id: d.webhook_id,
        org_path: d.org_path,
        event_id: d.event_id,
        attempts: d.attempts,
        last_error: d.last_error,
        last_status: d.last_status,
        created_at: to_rfc3339(d.created_at),
        failed_at: to_rfc3339(d.updated_at),
    })
}

/// Dead letters of the endpoints the caller administers, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/notify/webhooks/dead",
    tag = "notify",
    operation_id = "notify_dead_letters",
    summary = "投递失败的消息(死信)",
    params(ListQuery),
    responses(
        (status = 200, description = "死信列表", body = Page<DeadView>),
        QueryErrors, Unauthorized,
    ),
    security(("bearer" = [])),
)]
pub async fn dead_letters(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<ListQuery>,
) -> AppResult<JsonOut<Page<DeadView>>> {
    let params = PageParams::parse(q.limit.as_deref(), q.cursor.as_deref())?;
    let roots = p.roots_for(Role::ORG_ADMINS);
    let rows = store::dead_in(&ctx.db, &roots, params.after.as_deref(), params.fetch()).await?;
    let page = Page::from_rows(rows, &params, |d| d.id.clone());
    let mut items = Vec::new();
    for d in page.items {
        items.push(dead_view(&ctx, d).await?);
    }
    Ok(JsonOut(Page {
        items,
        next_cursor: page.next_cursor,
    }))
}

/// Sends a dead letter again (a fresh count of attempts, same idempotency key).
#[utoipa::path(
    post,
    path = "/api/v1/notify/webhooks/dead/{id}/retry",
    tag = "notify",
    operation_id = "notify_retry_dead",
    summary = "重新投递死信",
    params(("id" = String, Path, description = "投递编号")),
    responses((status = 202, description = "已重新排队", body = QueuedView), Unauthorized, Forbidden, NotFound, Conflict),
    security(("bearer" = [])),
)]
pub async fn retry_dead(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<(StatusCode, JsonOut<QueuedView>)> {
    let id = kernel::id::parse_id(&id).ok_or(AppError::NotFound)?;
    let d = store::get_delivery(&ctx.db, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !p.covers(Role::ORG_ADMINS, &OrgPath::from_db(d.org_path.clone())) {
        return Err(AppError::NotFound);
    }
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    if !store::requeue(&mut tx, &d.id, now).await? {
        return Err(AppError::conflict("not_dead", "该投递不在失败列表中"));
    }
    audit::record(
        &mut tx,
        ctx.db.backend(),
        AuditEntry {
            at_ms: now,
            actor_id: Some(&p.user_id),
            action: "notify_delivery_requeued",
            object_type: "notify_delivery",
            object_id: Some(&d.id),
            org_path: Some(&d.org_path),
            detail: json!({"webhook_id": d.webhook_id}),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::ACCEPTED,
        JsonOut(QueuedView { delivery_id: d.id }),
    ))
}
