//! `Idempotency-Key` for POST writes: the same key, from the same user
//! (whichever of their sessions sends it), with the same request answers
//! the first response again without a second write; the same key with a
//! different request is refused (422). Never on [`EXEMPT_PATHS`].
//!
//! Exactly-once needs the key to be written in the *same transaction* as the
//! change it guards, or a crash between the two would let a retry write
//! twice. Every change is audited inside its own transaction
//! ([`crate::audit::record`]), so the audit writer binds the key there: the
//! middleware puts a claim in a task-local, the first audited transaction of
//! the request inserts the key row. After the handler answers, the
//! middleware stores the response on that row for replays. If the process
//! dies between the commit and storing the response, a retry learns that the
//! request was carried out (409 `idempotency_request_done` naming the
//! object) instead of writing again.
//!
//! Keys live 24 hours; [`purge_expired`] removes older ones (a job in `app`).

use crate::ctx::Ctx;
use crate::db::{Backend, Db, Tx};
use crate::error::{AppError, AppResult};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sqlx::Row;
use std::sync::atomic::{AtomicBool, Ordering};

pub const HEADER: &str = "idempotency-key";
/// POSTs whose answer carries a credential (a session token, a TOTP
/// secret, a new Open311 API key): the key is not honoured there, so no such answer is ever kept
/// in `idempotency_keys`. A retried login simply logs in again.
pub const EXEMPT_PATHS: &[&str] = &[
    "/api/v1/auth/login",
    "/api/v1/me/totp",
    "/api/v1/open311/keys",
    "/login",
    "/me/totp",
];
/// Uploads (photos, workbooks) may be larger than the global body limit:
/// their routes set their own, up to this; a keyed upload is read up to it
/// and the route's own limit still applies after.
const MAX_UPLOAD_BODY: usize = 64 * 1024 * 1024;

fn is_upload(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            let ct = ct.to_ascii_lowercase();
            ct.starts_with("multipart/")
                || ct.starts_with("image/")
                || ct.starts_with("application/octet-stream")
                || ct.starts_with("application/vnd.")
        })
}
/// How long a key is remembered.
pub const TTL_MS: i64 = 24 * 60 * 60 * 1000;
/// Replays are kept for responses up to this size.
const MAX_STORED_RESPONSE: usize = 8 * 1024 * 1024;

/// What the middleware knows about the request in flight.
#[derive(Debug)]
struct Claim {
    scope: String,
    key: String,
    request_hash: String,
    now_ms: i64,
    bound: AtomicBool,
}

tokio::task_local! {
    static CLAIM: Claim;
}

/// A key is 1–255 visible ASCII characters.
pub fn valid_key(k: &str) -> bool {
    !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// Who a credential (bearer token or session cookie) belongs to, if its
/// session is usable now: lent by the accounts module at start-up (the
/// kernel cannot depend on it), stored in the context's extensions.
#[derive(Clone)]
pub struct OwnerResolver(pub std::sync::Arc<dyn Fn(Ctx, String) -> OwnerFuture + Send + Sync>);

/// What an [`OwnerResolver`] answers: the user id, if any.
pub type OwnerFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Option<String>> + Send>>;

/// Lends the resolver to `ctx` (once; later calls keep the first).
pub fn set_owner_resolver(ctx: &Ctx, resolver: OwnerResolver) {
    ctx.extensions.get_or_init(move || resolver);
}

/// The credential presented, as the accounts module reads it: the bearer
/// token, else the session cookie.
fn credential(headers: &HeaderMap) -> (Option<&str>, Option<&str>) {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let session = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == "lx_session")
        .map(|(_, v)| v);
    (bearer, session)
}

/// Whose key it is: the **user** behind the credential, so the same user
/// retrying after a new login (a new token) gets the first answer again,
/// and another user's request under the same key is a request of its own.
/// A credential that names no usable session (anonymous callers, Open311
/// with its `api_key` in the body; or a dead token, which the handler
/// refuses anyway) is scoped by the credential itself, hashed so no token
/// is stored; anonymous callers share one scope and the body hash tells
/// their requests apart.
async fn scope_of(ctx: &Ctx, headers: &HeaderMap) -> String {
    let (bearer, session) = credential(headers);
    let token = match bearer {
        Some(h) => h
            .strip_prefix("Bearer ")
            .or_else(|| h.strip_prefix("bearer "))
            .map(str::trim),
        None => session,
    };
    if let (Some(token), Some(owner)) = (
        token.filter(|t| !t.is_empty() && t.len() <= 128),
        ctx.extensions.get::<OwnerResolver>(),
    ) {
        if let Some(user) = (owner.0)(ctx.clone(), token.to_string()).await {
            return user_scope(&user);
        }
    }
    crate::crypto::sha256_hex(
        format!(
            "auth:{}\ncookie:{}",
            bearer.unwrap_or(""),
            session.unwrap_or("")
        )
        .as_bytes(),
    )
}

/// The scope of a user's keys.
pub fn user_scope(user_id: &str) -> String {
    crate::crypto::sha256_hex(format!("user:{user_id}").as_bytes())
}

fn request_hash(method: &Method, uri: &axum::http::Uri, body: &[u8]) -> String {
    let mut buf = Vec::with_capacity(body.len() + 64);
    buf.extend_from_slice(method.as_str().as_bytes());
    buf.push(b' ');
    buf.extend_from_slice(uri.to_string().as_bytes());
    buf.push(b'\n');
    buf.extend_from_slice(body);
    crate::crypto::sha256_hex(&buf)
}

fn key_error(message: &'static str) -> AppError {
    AppError::Validation(crate::error::FieldErrors::single(
        "Idempotency-Key",
        message,
    ))
}

struct Stored {
    request_hash: String,
    status: Option<i64>,
    content_type: Option<String>,
    body: Option<String>,
    object_type: Option<String>,
    object_id: Option<String>,
    expires_ms: i64,
}

async fn lookup(db: &Db, scope: &str, key: &str) -> AppResult<Option<Stored>> {
    let row = sqlx::query(
        "SELECT request_hash, status, content_type, body, object_type, object_id, expires_ms
         FROM idempotency_keys WHERE scope = $1 AND idem_key = $2",
    )
    .bind(scope)
    .bind(key)
    .fetch_optional(db.reader())
    .await?;
    Ok(row.map(|r| Stored {
        request_hash: r.get(0),
        status: r.try_get::<Option<i64>, _>(1).ok().flatten(),
        content_type: crate::db::opt_str(&r, "content_type"),
        body: crate::db::opt_str(&r, "body"),
        object_type: crate::db::opt_str(&r, "object_type"),
        object_id: crate::db::opt_str(&r, "object_id"),
        expires_ms: r.get("expires_ms"),
    }))
}

/// The middleware (state: the context and the body limit). Acts only on
/// POST requests that carry the header; everything else passes untouched.
pub async fn layer(
    State((ctx, max_body)): State<(Ctx, usize)>,
    req: Request,
    next: Next,
) -> Response {
    if req.method() != Method::POST || EXEMPT_PATHS.contains(&req.uri().path()) {
        return next.run(req).await;
    }
    let Some(raw) = req.headers().get(HEADER) else {
        return next.run(req).await;
    };
    let key = match raw.to_str() {
        Ok(k) if valid_key(k) => k.to_string(),
        _ => return key_error("Idempotency-Key 须为 1–255 个可见 ASCII 字符").into_response(),
    };
    match run(&ctx, max_body, key, req, next).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn run(
    ctx: &Ctx,
    max_body: usize,
    key: String,
    req: Request,
    next: Next,
) -> AppResult<Response> {
    let scope = scope_of(ctx, req.headers()).await;
    let limit = if is_upload(req.headers()) {
        max_body.max(MAX_UPLOAD_BODY)
    } else {
        max_body
    };
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| AppError::PayloadTooLarge)?;
    let hash = request_hash(&parts.method, &parts.uri, &bytes);
    let now_ms = ctx.now_ms();

    match lookup(&ctx.db, &scope, &key).await? {
        Some(s) if s.expires_ms > now_ms => {
            if s.request_hash != hash {
                return Err(key_error("该 Idempotency-Key 已用于另一个不同的请求"));
            }
            return Ok(replay(s));
        }
        Some(_) => {
            // Expired, not yet purged: it gives way.
            sqlx::query(
                "DELETE FROM idempotency_keys WHERE scope = $1 AND idem_key = $2 AND expires_ms <= $3",
            )
            .bind(&scope)
            .bind(&key)
            .bind(now_ms)
            .execute(ctx.db.writer())
            .await?;
        }
        None => {}
    }

    let claim = Claim {
        scope: scope.clone(),
        key: key.clone(),
        request_hash: hash.clone(),
        now_ms,
        bound: AtomicBool::new(false),
    };
    let req = Request::from_parts(parts, Body::from(bytes));
    let resp = CLAIM.scope(claim, next.run(req)).await;

    let status = resp.status();
    if status.is_server_error() {
        return Ok(resp);
    }
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_STORED_RESPONSE)
        .await
        .map_err(|e| AppError::internal(format!("buffer response: {e}")))?;
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Ok(text) = std::str::from_utf8(&bytes) {
        let stored = if status.is_success() {
            // Bound inside the write's transaction already, or a success
            // that wrote nothing audited: either way the answer is kept.
            sqlx::query(
                "INSERT INTO idempotency_keys (scope, idem_key, request_hash, created_ms, expires_ms, status, content_type, body)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (scope, idem_key) DO UPDATE SET status = excluded.status,
                   content_type = excluded.content_type, body = excluded.body
                 WHERE idempotency_keys.request_hash = excluded.request_hash",
            )
            .bind(&scope)
            .bind(&key)
            .bind(&hash)
            .bind(now_ms)
            .bind(now_ms + TTL_MS)
            .bind(status.as_u16() as i64)
            .bind(content_type.as_deref())
            .bind(text)
            .execute(ctx.db.writer())
            .await
        } else {
            // A refusal is remembered only when something was written
            // under the key (an audited denial); otherwise the client may
            // fix the request and try again with the same key.
            sqlx::query(
                "UPDATE idempotency_keys SET status = $1, content_type = $2, body = $3
                 WHERE scope = $4 AND idem_key = $5 AND status IS NULL",
            )
            .bind(status.as_u16() as i64)
            .bind(content_type.as_deref())
            .bind(text)
            .bind(&scope)
            .bind(&key)
            .execute(ctx.db.writer())
            .await
        };
        if let Err(e) = stored {
            // The change itself is committed; the client still gets its
            // answer, a retry then learns the request was done.
            tracing::warn!(error = %e, "storing the idempotent response failed");
        }
    }
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

fn replay(s: Stored) -> Response {
    match (s.status, s.body) {
        (Some(status), Some(body)) => {
            let status = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK);
            let mut resp = (status, body).into_response();
            if let Some(ct) = s.content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
                resp.headers_mut().insert(header::CONTENT_TYPE, ct);
            }
            resp.headers_mut()
                .insert("idempotency-replayed", HeaderValue::from_static("true"));
            resp
        }
        _ => {
            // Written, but the answer was never stored (a crash between the
            // commit and the reply, or the first request is just finishing).
            let what = match (s.object_type, s.object_id) {
                (Some(t), Some(id)) => format!("{t} {id}"),
                _ => String::new(),
            };
            AppError::conflict(
                "idempotency_request_done",
                format!("该请求已经处理({what}),请查询结果,不要重复提交"),
            )
            .into_response()
        }
    }
}

/// Does the running request carry an Idempotency-Key not yet bound to a
/// change? (Its binding needs the request's own task: see [`bind`].)
pub fn has_unbound_key() -> bool {
    CLAIM
        .try_with(|c| !c.bound.load(Ordering::SeqCst))
        .unwrap_or(false)
}

/// Binds the request's key (if any, and not yet bound) inside `tx`: called
/// by the audit writer, so the key commits or rolls back with the change.
/// A key already bound by a concurrent twin refuses this write (409).
pub async fn bind(
    tx: &mut Tx,
    _backend: Backend,
    object_type: &str,
    object_id: Option<&str>,
) -> AppResult<()> {
    let claim = CLAIM
        .try_with(|c| {
            (!c.bound.swap(true, Ordering::SeqCst)).then(|| {
                (
                    c.scope.clone(),
                    c.key.clone(),
                    c.request_hash.clone(),
                    c.now_ms,
                )
            })
        })
        .ok()
        .flatten();
    let Some((scope, key, hash, now_ms)) = claim else {
        return Ok(());
    };
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (scope, idem_key, request_hash, created_ms, expires_ms, object_type, object_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (scope, idem_key) DO NOTHING",
    )
    .bind(&scope)
    .bind(&key)
    .bind(&hash)
    .bind(now_ms)
    .bind(now_ms + TTL_MS)
    .bind(object_type)
    .bind(object_id)
    .execute(&mut **tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(AppError::conflict(
            "idempotency_key_in_use",
            "相同 Idempotency-Key 的请求已在处理,请稍后用同一个键重试",
        ));
    }
    Ok(())
}

/// Deletes keys past their expiry; returns how many.
pub async fn purge_expired(db: &Db, now_ms: i64) -> AppResult<u64> {
    let r = sqlx::query("DELETE FROM idempotency_keys WHERE expires_ms <= $1")
        .bind(now_ms)
        .execute(db.writer())
        .await?;
    Ok(r.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii() {
        assert!(valid_key("a-1_B:2"));
        assert!(!valid_key(""));
        assert!(!valid_key("has space"));
        assert!(!valid_key("中文"));
        assert!(!valid_key(&"k".repeat(256)));
    }

    #[test]
    fn the_request_hash_covers_path_and_body() {
        let m = Method::POST;
        let a: axum::http::Uri = "/api/v1/demands".parse().unwrap();
        let b: axum::http::Uri = "/api/v1/other".parse().unwrap();
        assert_eq!(request_hash(&m, &a, b"x"), request_hash(&m, &a, b"x"));
        assert_ne!(request_hash(&m, &a, b"x"), request_hash(&m, &a, b"y"));
        assert_ne!(request_hash(&m, &a, b"x"), request_hash(&m, &b, b"x"));
    }
}
