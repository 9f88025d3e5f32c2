//! The Open311 GeoReport v2 endpoints under `/open311/v2/` (JSON and XML,
//! errors in the specification's shape), FixMyStreet's
//! `servicerequestupdates`, and the admin API for integration keys under
//! `/api/v1/open311/keys`.

use crate::model::{self, Doc, Fault, Format, Params};
use crate::store::{self, Jurisdiction, KeyRow, Placement, RequestFilter};
use accounts::Auth;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get};
use axum::{Json as JsonOut, Router};
use kernel::clock::to_rfc3339;
use kernel::json::{Json, Query};
use kernel::openapi::{BodyErrors, Conflict, Forbidden, NotFound, QueryErrors, Unauthorized};
use kernel::page::{Page, PageParams, PageQuery};
use kernel::{text, AppError, AppResult, Ctx, Role};
use org::model::OrgKind;
use org::store::NodeRow;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub fn routes() -> Router<Ctx> {
    Router::new()
        .route("/open311/v2/{file}", any(resource))
        .route("/open311/v2/services/{file}", any(service_definition))
        .route("/open311/v2/requests/{file}", any(one_request))
        .route("/open311/v2/tokens/{file}", any(token))
        .route("/open311/{*rest}", any(unknown))
        .route("/api/v1/open311/keys", get(list_keys).post(issue_key))
        .route("/api/v1/open311/keys/{id}", delete(revoke_key))
}

// ---------------------------------------------------------------------------
// responses
// ---------------------------------------------------------------------------

impl From<AppError> for Fault {
    fn from(e: AppError) -> Fault {
        match e {
            AppError::NotFound => Fault::not_found("not found(未找到)"),
            AppError::Internal(detail) => {
                tracing::error!(
                    request_id = kernel::web::current_request_id().unwrap_or_default(),
                    error = %detail,
                    "open311 internal error"
                );
                Fault::new(
                    500,
                    "the service failed; please try again later(服务暂时不可用,请稍后重试)",
                )
            }
            AppError::TooManyRequests { retry_after_secs } => Fault {
                retry_after: Some(retry_after_secs.max(1)),
                ..Fault::new(
                    429,
                    "too many requests with this api_key; please retry later(提交过于频繁,请稍后再试)",
                )
            },
            other => Fault::new(other.status().as_u16(), other.message().to_string()),
        }
    }
}

fn respond(fmt: Format, status: StatusCode, root: &str, doc: &Doc) -> Response {
    let body = match fmt {
        Format::Json => model::to_json(doc).to_string(),
        Format::Xml => model::to_xml(root, doc),
    };
    let mut r = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(fmt.content_type()),
        )],
        body,
    )
        .into_response();
    // The GeoReport reads are public; browsers' clients may call them.
    r.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r
}

fn fault(fmt: Format, f: Fault) -> Response {
    let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut r = respond(fmt, status, "errors", &f.doc());
    if status == StatusCode::METHOD_NOT_ALLOWED {
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
    }
    if let Some(secs) = f.retry_after {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    r
}

fn finish(fmt: Format, result: Result<(StatusCode, &'static str, Doc), Fault>) -> Response {
    match result {
        Ok((status, root, doc)) => respond(fmt, status, root, &doc),
        Err(f) => fault(fmt, f),
    }
}

fn accept_format(headers: &HeaderMap) -> Format {
    Format::from_accept(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()))
}

fn not_a_resource(file: &str) -> Fault {
    Fault::not_found(format!(
        "{file:?} is not a resource of this server; resources end in .json or .xml(资源不存在)"
    ))
}

fn is_read(m: &Method) -> bool {
    *m == Method::GET || *m == Method::HEAD
}

fn method_not_allowed(m: &Method) -> Fault {
    Fault::new(
        405,
        format!("method {m} is not allowed on this resource(不支持该请求方法)"),
    )
}

fn query(uri: &Uri) -> Result<Params, Fault> {
    model::parse_form(uri.query().unwrap_or(""))
        .map(Params::from_pairs)
        .map_err(Fault::bad)
}

/// The `jurisdiction_id`, if given: 404 when no such place exists.
async fn scope(ctx: &Ctx, p: &Params) -> Result<Option<NodeRow>, Fault> {
    match p.get("jurisdiction_id") {
        None => Ok(None),
        Some(j) => jurisdiction(ctx, j).await.map(Some),
    }
}

async fn jurisdiction(ctx: &Ctx, j: &str) -> Result<NodeRow, Fault> {
    match store::jurisdiction(&ctx.db, j).await? {
        Jurisdiction::Found(n) => Ok(n),
        Jurisdiction::Missing => Err(Fault::not_found(format!(
            "jurisdiction_id {j:?} was not found(辖区不存在)"
        ))),
        Jurisdiction::Ambiguous => Err(Fault::bad(format!(
            "jurisdiction_id {j:?} names several places; give its id or its org path(辖区编码不唯一,请使用节点 id 或路径)"
        ))),
    }
}

// ---------------------------------------------------------------------------
// handlers
// ---------------------------------------------------------------------------

/// `discovery`, `services`, `requests` (GET and POST) and
/// `servicerequestupdates`, each as `.json` or `.xml`.
async fn resource(
    State(ctx): State<Ctx>,
    Path(file): Path<String>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let Some((name, fmt)) = model::split_format(&file) else {
        return fault(accept_format(&headers), not_a_resource(&file));
    };
    let result = match (name, is_read(&method), method == Method::POST) {
        ("discovery", true, _) => discovery(&ctx, &headers, &uri).await,
        ("services", true, _) => services(&ctx, &uri).await,
        ("requests", true, _) => list_requests(&ctx, &uri).await,
        ("requests", _, true) => create_request(&ctx, &headers, &uri, &body).await,
        ("servicerequestupdates", true, _) => request_updates(&ctx, &uri).await,
        ("discovery" | "services" | "requests" | "servicerequestupdates", _, _) => {
            Err(method_not_allowed(&method))
        }
        _ => Err(not_a_resource(&file)),
    };
    finish(fmt, result)
}

async fn unknown(headers: HeaderMap, Path(rest): Path<String>) -> Response {
    let fmt = match rest.rsplit_once('.') {
        Some((_, "json")) => Format::Json,
        Some((_, "xml")) => Format::Xml,
        _ => accept_format(&headers),
    };
    fault(fmt, not_a_resource(&rest))
}

fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("localhost");
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    format!(
        "{}://{host}/open311/v2",
        if https { "https" } else { "http" }
    )
}

async fn discovery(
    ctx: &Ctx,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<(StatusCode, &'static str, Doc), Fault> {
    query(uri)?;
    // The catalogue is what changes the services and their definitions.
    let changed = store::catalogue_changed_at(&ctx.db).await?;
    let changeset = to_rfc3339(changed.max(RELEASED_MS));
    let endpoint = Doc::Obj(vec![
        ("specification", Doc::text(model::SPECIFICATION)),
        ("url", Doc::text(base_url(headers))),
        ("changeset", Doc::text(changeset.clone())),
        (
            "type",
            Doc::text(if ctx.settings.demo {
                "test"
            } else {
                "production"
            }),
        ),
        (
            "formats",
            Doc::List(
                "format",
                vec![Doc::text("text/xml"), Doc::text("application/json")],
            ),
        ),
    ]);
    let doc = Doc::Obj(vec![
        ("changeset", Doc::text(changeset)),
        (
            "contact",
            Doc::text(
                "Contact the community, street or district office that runs this Lianxin deployment(请联系所在社区、街道或区县管理员)",
            ),
        ),
        (
            "key_service",
            Doc::text(
                "API keys are issued per integration by community, street, district or city administrators, through POST /api/v1/open311/keys(接入密钥由社区、街道、区县或市级管理员为每个接入系统签发)",
            ),
        ),
        ("endpoints", Doc::List("endpoint", vec![endpoint])),
    ]);
    Ok((StatusCode::OK, "discovery", doc))
}

/// The first release of this server: the changeset never sorts before it.
const RELEASED_MS: i64 = 1_764_547_200_000; // 2025-12-01T08:00:00+08:00

async fn services(ctx: &Ctx, uri: &Uri) -> Result<(StatusCode, &'static str, Doc), Fault> {
    let p = query(uri)?;
    scope(ctx, &p).await?;
    let items = store::services(&ctx.db)
        .await?
        .iter()
        .filter(|s| s.active)
        .map(|s| model::service_doc(&s.view()))
        .collect();
    Ok((StatusCode::OK, "services", Doc::List("service", items)))
}

async fn service_definition(
    State(ctx): State<Ctx>,
    Path(file): Path<String>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let Some((code, fmt)) = model::split_format(&file) else {
        return fault(accept_format(&headers), not_a_resource(&file));
    };
    let result = async {
        if !is_read(&method) {
            return Err(method_not_allowed(&method));
        }
        let p = query(&uri)?;
        scope(&ctx, &p).await?;
        let found = store::services(&ctx.db)
            .await?
            .into_iter()
            .any(|s| s.active && s.code == code);
        if !found {
            return Err(Fault::not_found(format!(
                "service_code {code:?} was not found(服务类型不存在)"
            )));
        }
        Ok((
            StatusCode::OK,
            "service_definition",
            model::definition_doc(code),
        ))
    }
    .await;
    finish(fmt, result)
}

async fn list_requests(ctx: &Ctx, uri: &Uri) -> Result<(StatusCode, &'static str, Doc), Fault> {
    let p = query(uri)?;
    let place = scope(ctx, &p).await?;
    let q = model::requests_query(&p, ctx.now_ms()).map_err(|e| Fault::many(400, e))?;
    let states = q.statuses.as_ref().and_then(|s| {
        // Both statuses are every status.
        (s.len() == 1).then(|| s[0].workflow_states())
    });
    let filter = RequestFilter {
        scope: place.map(|n| n.org_path),
        ids: q.ids,
        codes: q.service_codes,
        states,
        start: q.start,
        end: q.end,
        limit: model::MAX_REQUESTS,
    };
    let items = store::public_requests(ctx, &filter)
        .await?
        .iter()
        .map(model::request_doc)
        .collect();
    Ok((
        StatusCode::OK,
        "service_requests",
        Doc::List("request", items),
    ))
}

async fn one_request(
    State(ctx): State<Ctx>,
    Path(file): Path<String>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let Some((id, fmt)) = model::split_format(&file) else {
        return fault(accept_format(&headers), not_a_resource(&file));
    };
    let result = async {
        if !is_read(&method) {
            return Err(method_not_allowed(&method));
        }
        let p = query(&uri)?;
        let place = scope(&ctx, &p).await?;
        let r = store::public_request(&ctx, id, place.as_ref().map(|n| &n.org_path))
            .await?
            .ok_or_else(|| {
                Fault::not_found(format!(
                    "service_request_id {id:?} was not found(诉求不存在)"
                ))
            })?;
        Ok((
            StatusCode::OK,
            "service_requests",
            Doc::List("request", vec![model::request_doc(&r)]),
        ))
    }
    .await;
    finish(fmt, result)
}

/// Requests are created in real time, so a request's token is its id: the
/// call answers for any request id, as a batch server would once the token
/// has turned into a request.
async fn token(
    State(ctx): State<Ctx>,
    Path(file): Path<String>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let Some((token, fmt)) = model::split_format(&file) else {
        return fault(accept_format(&headers), not_a_resource(&file));
    };
    let result = async {
        if !is_read(&method) {
            return Err(method_not_allowed(&method));
        }
        let p = query(&uri)?;
        let place = scope(&ctx, &p).await?;
        let r = store::public_request(&ctx, token, place.as_ref().map(|n| &n.org_path))
            .await?
            .ok_or_else(|| {
                Fault::not_found(format!("token {token:?} was not found(令牌不存在)"))
            })?;
        Ok((
            StatusCode::OK,
            "service_requests",
            Doc::List(
                "request",
                vec![Doc::Obj(vec![
                    ("service_request_id", Doc::text(r.id.clone())),
                    ("token", Doc::text(r.id)),
                ])],
            ),
        ))
    }
    .await;
    finish(fmt, result)
}

async fn request_updates(ctx: &Ctx, uri: &Uri) -> Result<(StatusCode, &'static str, Doc), Fault> {
    let p = query(uri)?;
    let place = scope(ctx, &p).await?;
    let mut errors = Vec::new();
    let (start, end) = model::dates(&p, &mut errors);
    if !errors.is_empty() {
        return Err(Fault::many(400, errors));
    }
    let (start, end) = model::window(ctx.now_ms(), start, end).map_err(Fault::bad)?;
    let items = store::updates(
        &ctx.db,
        place.as_ref().map(|n| &n.org_path),
        start,
        end,
        model::MAX_REQUESTS,
    )
    .await?
    .iter()
    .map(model::update_doc)
    .collect();
    Ok((
        StatusCode::OK,
        "service_request_updates",
        Doc::List("request_update", items),
    ))
}

// ---------------------------------------------------------------------------
// POST Service Request
// ---------------------------------------------------------------------------

fn is_place(n: &NodeRow) -> bool {
    matches!(n.kind, OrgKind::Compound | OrgKind::Village)
}

/// Files a request as an ordinary demand.
///
/// Where it lands: with `account_id` — the login (phone) of a resident
/// account — in that resident's household inside the jurisdiction, as if
/// they had filed it themselves; without one, at the compound or village
/// the `jurisdiction_id` (or the key itself) names, the way staff file a
/// demand they took by phone. Either way it is routed like any other, and
/// the key's service account is its creator. `first_name`, `last_name`,
/// `email` and `phone` are not stored: there is no place a public list could
/// not reach that the handler would read, and a return visit needs
/// `account_id`.
async fn create_request(
    ctx: &Ctx,
    headers: &HeaderMap,
    uri: &Uri,
    body: &[u8],
) -> Result<(StatusCode, &'static str, Doc), Fault> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    if let Some(ct) = content_type.filter(|c| !c.is_empty()) {
        if ct != "application/x-www-form-urlencoded" {
            return Err(Fault::bad(
                "POST Service Request takes application/x-www-form-urlencoded(请以表单编码提交)",
            ));
        }
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| Fault::bad("parameters must be UTF-8(参数须为 UTF-8 编码)"))?;
    let mut p = Params::from_pairs(model::parse_form(text).map_err(Fault::bad)?);
    p.merge_missing(query(uri)?);

    let secret = p.get("api_key").ok_or_else(|| {
        Fault::forbidden(
            "api_key was not provided -- can't proceed with create_request(缺少 api_key)",
        )
    })?;
    let key = store::key_by_secret(&ctx.db, secret)
        .await?
        .ok_or_else(|| {
            Fault::forbidden(
            "Invalid api_key received -- can't proceed with create_request(api_key 无效或已吊销)",
        )
        })?;

    // The intake limit of `file_demand`, counted per integration.
    if let Err(secs) = ctx
        .limits
        .intake
        .check(&format!("intake:{}", key.user_id), ctx.now_ms())
    {
        return Err(AppError::TooManyRequests {
            retry_after_secs: secs,
        }
        .into());
    }

    let place = match p.get("jurisdiction_id") {
        Some(j) => {
            let n = jurisdiction(ctx, j).await?;
            if !n.org_path.is_within(&key.org_path) {
                return Err(Fault::forbidden(format!(
                    "this api_key may not file requests in jurisdiction_id {j:?}(该 api_key 无权向该辖区提交)"
                )));
            }
            n
        }
        None => org::store::get_node(&ctx.db, &key.org_id)
            .await?
            .ok_or_else(|| {
                Fault::forbidden("the api_key's place no longer exists(密钥所属辖区已不存在)")
            })?,
    };

    let mut errors: Vec<String> = Vec::new();
    let services = store::services(&ctx.db).await?;
    let service = match p.get("service_code") {
        None => {
            errors.push("service_code was not provided(缺少 service_code)".into());
            None
        }
        Some(code) => {
            let s = services.iter().find(|s| s.active && s.code == code);
            if s.is_none() {
                errors.push(format!(
                    "service_code {code:?} was not found(服务类型不存在)"
                ));
            }
            s
        }
    };
    let description = p
        .raw("description")
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if description.is_none() {
        errors.push("description was not provided(缺少 description)".into());
    }
    match (p.get("lat"), p.get("long")) {
        (None, None) => {}
        (Some(lat), Some(long)) => {
            let ok = lat
                .parse::<f64>()
                .is_ok_and(|v| (-90.0..=90.0).contains(&v))
                && long
                    .parse::<f64>()
                    .is_ok_and(|v| (-180.0..=180.0).contains(&v));
            if !ok {
                errors.push("lat and long must be WGS84 degrees(经纬度无效)".into());
            }
        }
        _ => errors.push("lat and long must be sent together(经纬度须同时提供)".into()),
    }

    let placement = match p.get("account_id") {
        Some(account) => match resident_home(ctx, account, &place).await? {
            Some(at) => Some(at),
            None => {
                errors.push(
                    "account_id is not a resident account registered in this jurisdiction(account_id 不是该辖区登记的居民账号)"
                        .into(),
                );
                None
            }
        },
        None if is_place(&place) => Some(Placement {
            place: place.clone(),
            building_id: None,
            reporter: None,
        }),
        None => {
            errors.push(format!(
                "without account_id, jurisdiction_id must name a compound (小区) or village (村); {:?} is a {}(未提供 account_id 时,辖区须为小区或村)",
                place.name,
                place.kind.as_str()
            ));
            None
        }
    };
    let mut placement = placement;
    if let Some(at) = placement.as_mut() {
        match building_for(ctx, &p, at).await? {
            Ok(b) => at.building_id = b,
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(Fault::many(400, errors));
    }
    let (service, description, placement) = (
        service.expect("checked"),
        description.expect("checked"),
        placement.expect("checked"),
    );
    let title = model::title_from(description, &service.name);
    let new = cases::model::validate_new(
        &service.code,
        &title,
        description,
        p.get("address_string"),
        false,
    )
    .map_err(|fe| {
        Fault::many(
            400,
            fe.0.iter()
                .map(|(field, msgs)| {
                    let field = match field.as_str() {
                        "title" | "description" => "description",
                        "location" => "address_string",
                        other => other,
                    };
                    format!("{field}: {}", msgs.join(";"))
                })
                .collect(),
        )
    })?;
    let row = store::file(ctx, &key, &new, &placement).await?;
    let doc = Doc::List(
        "request",
        vec![Doc::Obj(vec![
            ("service_request_id", Doc::text(row.id.clone())),
            ("service_notice", Doc::text(service.notice(&row.urgency))),
            ("account_id", Doc::Null),
        ])],
    );
    Ok((StatusCode::OK, "service_requests", doc))
}

/// The household of the resident whose login is `account`, inside `place`.
async fn resident_home(ctx: &Ctx, account: &str, place: &NodeRow) -> AppResult<Option<Placement>> {
    let Some(user) = accounts::store::find_user_by_login(&ctx.db, &ctx.cipher, account).await?
    else {
        return Ok(None);
    };
    if !user.active {
        return Ok(None);
    }
    for h in accounts::store::households_of(&ctx.db, &user.id).await? {
        if !h.org_path.is_within(&place.org_path) {
            continue;
        }
        if let Some(home) = org::store::get_node(&ctx.db, &h.id).await? {
            return Ok(Some(Placement {
                place: home,
                building_id: None,
                reporter: Some(user.id),
            }));
        }
    }
    Ok(None)
}

/// The building the request is about: `address_id` (a building's id), else
/// a building of the compound named in `address_string` (the longest name
/// that appears), else the household's own building.
async fn building_for(
    ctx: &Ctx,
    p: &Params,
    at: &Placement,
) -> AppResult<Result<Option<String>, String>> {
    let compound = if is_place(&at.place) {
        Some(at.place.clone())
    } else {
        cases::flow::compound_of(ctx, &at.place.org_path).await?
    };
    if let Some(aid) = p.get("address_id") {
        let node = match kernel::id::parse_id(aid) {
            Some(id) => org::store::get_node(&ctx.db, &id).await?,
            None => None,
        };
        return Ok(match (node, &compound) {
            (Some(n), Some(c))
                if n.kind == OrgKind::Building && n.org_path.is_within(&c.org_path) =>
            {
                Ok(Some(n.id))
            }
            _ => Err(format!(
                "address_id {aid:?} is not a building of this compound(address_id 不是该小区的楼栋)"
            )),
        });
    }
    if let (Some(addr), Some(c)) = (p.get("address_string"), &compound) {
        let named = store::buildings_of(&ctx.db, c)
            .await?
            .into_iter()
            .filter(|b| addr.contains(b.name.as_str()))
            .max_by_key(|b| b.name.chars().count());
        if let Some(b) = named {
            return Ok(Ok(Some(b.id)));
        }
    }
    if at.place.kind == OrgKind::Household {
        let own = org::store::ancestors(&ctx.db, &at.place.org_path)
            .await?
            .into_iter()
            .rev()
            .find(|n| n.kind == OrgKind::Building);
        return Ok(Ok(own.map(|n| n.id)));
    }
    Ok(Ok(None))
}

// ---------------------------------------------------------------------------
// /api/v1/open311/keys
// ---------------------------------------------------------------------------

#[derive(Serialize, ToSchema)]
pub struct KeyView {
    pub id: String,
    pub name: String,
    pub org_id: String,
    pub org_name: String,
    pub org_path: String,
    pub created_by: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
    pub active: bool,
}

impl From<KeyRow> for KeyView {
    fn from(k: KeyRow) -> Self {
        KeyView {
            id: k.id,
            name: k.name,
            org_id: k.org_id,
            org_name: k.org_name,
            org_path: k.org_path.as_str().to_string(),
            created_by: k.created_by,
            created_at: to_rfc3339(k.created_at),
            active: k.revoked_at.is_none(),
            revoked_at: k.revoked_at.map(to_rfc3339),
        }
    }
}

/// The answer to issuing a key: the only time the key itself is shown.
#[derive(Serialize, ToSchema)]
pub struct IssuedKey {
    #[serde(flatten)]
    pub key: KeyView,
    pub api_key: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// The integration's name.
    pub name: String,
    /// The place it may file for: a city, district, street, community or compound.
    pub org_id: String,
}

/// Keys of the places the caller administers, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/open311/keys",
    operation_id = "list_open311_keys",
    tag = "open311",
    summary = "Open311 接入密钥列表",
    params(PageQuery),
    responses(
        (status = 200, description = "一页密钥(不含密钥本身)", body = Page<KeyView>),
        QueryErrors, Unauthorized,
    ),
    security(("bearer" = [])),
)]
async fn list_keys(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<PageQuery>,
) -> AppResult<JsonOut<Page<KeyView>>> {
    let params = PageParams::from_query(&q)?;
    let roots = p.roots_for(Role::ORG_ADMINS);
    let rows = store::keys_in(&ctx.db, &roots, params.after.as_deref(), params.fetch()).await?;
    Ok(JsonOut(
        Page::from_rows(rows, &params, |k| k.id.clone()).map(KeyView::from),
    ))
}

/// Issues a key for one integration at a place the caller administers.
#[utoipa::path(
    post,
    path = "/api/v1/open311/keys",
    operation_id = "issue_open311_key",
    tag = "open311",
    summary = "签发 Open311 接入密钥",
    request_body = NewKey,
    responses(
        (status = 201, description = "新密钥;`api_key` 仅此一次显示", body = IssuedKey),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn issue_key(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Json(b): Json<NewKey>,
) -> AppResult<(StatusCode, JsonOut<IssuedKey>)> {
    // The place and the role first: a refused caller learns nothing from the body.
    let node = org::api::visible_node(&ctx, &p, &b.org_id).await?;
    p.can_act(Role::ORG_ADMINS, &node.org_path, true)?;
    let name = text::required(&b.name, 1, 64, "名称").map_err(|m| AppError::field("name", m))?;
    if !store::JURISDICTION_KINDS.contains(&node.kind) {
        return Err(AppError::field(
            "org_id",
            "接入密钥只能签发给市、区县、街道/乡镇、社区/村或小区",
        ));
    }
    let secret = store::new_secret();
    let key = store::issue_key(&ctx, &p.user_id, &name, &node, &secret).await?;
    Ok((
        StatusCode::CREATED,
        JsonOut(IssuedKey {
            key: key.into(),
            api_key: secret,
        }),
    ))
}

/// Revokes a key: requests with it are refused (403) from then on.
#[utoipa::path(
    delete,
    path = "/api/v1/open311/keys/{id}",
    operation_id = "revoke_open311_key",
    tag = "open311",
    summary = "吊销 Open311 接入密钥",
    params(("id" = String, Path, description = "密钥编号")),
    responses(
        (status = 200, description = "已吊销的密钥", body = KeyView),
        Unauthorized, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn revoke_key(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<JsonOut<KeyView>> {
    let id = kernel::id::parse_id(&id).ok_or(AppError::NotFound)?;
    let key = store::get_key(&ctx.db, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !p.covers(Role::ORG_ADMINS, &key.org_path) {
        return Err(AppError::NotFound);
    }
    Ok(JsonOut(
        store::revoke_key(&ctx, &p.user_id, &key).await?.into(),
    ))
}
