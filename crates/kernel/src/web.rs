//! Cross-cutting HTTP pieces shared by every module: request ids (carried in
//! a task-local so errors can cite them), security headers, and the language
//! of the caller.

use crate::i18n::Lang;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

tokio::task_local! {
    static REQUEST_ID: String;
}

pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(|id| id.clone()).ok()
}

/// The outermost layer, in one: a layer of its own costs a clone of the
/// route's service and a boxed future on every request. In order, from the
/// outside in:
/// - the request id: every request gets one (or keeps a sane incoming
///   `x-request-id`), visible to logs and errors, echoed in the response;
/// - the language: `?lang=` is remembered in a cookie so the choice sticks
///   across pages;
/// - HSTS when the server is reached over HTTPS (`https`: built-in TLS, or
///   a reverse proxy that terminates it, which `secure_cookies = true`
///   says). Never on plain HTTP, where browsers ignore it and a mistaken
///   header would lock a test host out;
/// - the security headers.
pub async fn outer(
    axum::extract::State(https): axum::extract::State<bool>,
    req: Request,
    next: Next,
) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
    let (parts, body) = req.into_parts();
    let chosen_lang = lang_query(&parts);
    let req = Request::from_parts(parts, body);
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    // The span is attached to the future (never entered across an await,
    // which tracing forbids).
    let mut resp = REQUEST_ID
        .scope(
            id.clone(),
            tracing::Instrument::instrument(next.run(req), span),
        )
        .await;
    let h = resp.headers_mut();
    security_headers(h);
    if https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    if let Some(lang) = chosen_lang {
        let c = format!(
            "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            lang.code()
        );
        if let Ok(v) = HeaderValue::from_str(&c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert("x-request-id", v);
    }
    resp
}

pub const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; \
base-uri 'none'; object-src 'none'";

fn security_headers(h: &mut axum::http::HeaderMap) {
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// Reads one cookie from the request headers.
pub fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub const LANG_COOKIE: &str = "lx_lang";

/// `?lang=` wins, then the remembered cookie, then zh-CN.
impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(lang_of(parts))
    }
}

pub fn lang_query(parts: &Parts) -> Option<Lang> {
    parts.uri.query().and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "lang")
            .and_then(|(_, v)| Lang::parse(v))
    })
}

pub fn lang_of(parts: &Parts) -> Lang {
    lang_query(parts)
        .or_else(|| cookie(parts, LANG_COOKIE).and_then(Lang::parse))
        .unwrap_or(Lang::Zh)
}

/// The client's address (the TCP peer), for per-client limits and logs.
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let addr = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_else(|| "unknown".into());
        Ok(ClientAddr(addr))
    }
}

/// Reads a page's upload form: its `csrf` field and its `file` (name, bytes;
/// `None` when no file or an empty one was chosen). A file over the route's
/// limit is 413, a malformed body 400.
pub async fn csrf_and_file(
    form: &mut axum::extract::Multipart,
    default_name: &str,
) -> Result<(String, Option<(String, Vec<u8>)>), crate::error::AppError> {
    use crate::error::AppError;
    let malformed = || AppError::bad_request("invalid_multipart", "上传内容格式不正确");
    let mut csrf = String::new();
    let mut file = None;
    while let Some(field) = form.next_field().await.map_err(|_| malformed())? {
        match field.name() {
            Some("csrf") => csrf = field.text().await.unwrap_or_default(),
            Some("file") => {
                let name = field.file_name().unwrap_or(default_name).to_string();
                match field.bytes().await {
                    Ok(b) if !b.is_empty() => file = Some((name, b.to_vec())),
                    Ok(_) => {}
                    Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                        return Err(AppError::PayloadTooLarge)
                    }
                    Err(_) => return Err(malformed()),
                }
            }
            _ => {}
        }
    }
    Ok((csrf, file))
}

/// A multipart body whose malformed forms get the contract's JSON error
/// (axum's own rejection is plain text).
pub struct Upload(pub axum::extract::Multipart);

impl<S: Send + Sync> axum::extract::FromRequest<S> for Upload {
    type Rejection = crate::error::AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Multipart::from_request(req, state)
            .await
            .map(Upload)
            .map_err(|_| {
                crate::error::AppError::bad_request(
                    "invalid_multipart",
                    "上传内容格式不正确,请使用 multipart/form-data",
                )
            })
    }
}
