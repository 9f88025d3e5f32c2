//! `GET /api/v1/notify/stream`: the caller's Server-Sent Events stream.
//!
//! Each inbox item is one event whose `id` is the item's per-user sequence
//! number, so a client that reconnects with `Last-Event-ID: n` (browsers do
//! it by themselves) gets every item after `n` replayed from the database
//! before live ones — nothing is lost in between. Without the header the
//! stream starts at the present. The database is the source of truth; the
//! broadcast channel only says "look again". Comments (`: heartbeat`) keep
//! proxies from closing an idle connection; at each heartbeat the session
//! is checked again, and the stream ends when it is revoked or expired
//! (the browser reconnects and is then refused), or after ten minutes
//! (it reconnects and resumes where it was).

use crate::{api::ItemView, hub, store, Live};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kernel::json::Query;
use kernel::{AppError, AppResult, Ctx};
use serde::Deserialize;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

/// A stream lasts at most this long; the client then reconnects.
pub const MAX_LIFETIME: Duration = Duration::from_secs(600);
/// Items replayed per query.
const REPLAY_BATCH: i64 = 100;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// For clients that cannot set `Last-Event-ID` themselves.
    pub last_event_id: Option<String>,
}

struct ChannelStream(mpsc::Receiver<Bytes>);

impl futures_core::Stream for ChannelStream {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|o| o.map(Ok))
    }
}

fn parse_last_id(s: &str) -> AppResult<i64> {
    s.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| AppError::bad_request("invalid_last_event_id", "Last-Event-ID 无效"))
}

/// The caller's live notifications (Server-Sent Events, `text/event-stream`).
/// Each `notification` event's `id` is the item's sequence number and its
/// `data` an `ItemView` plus `unread`; `unread` events carry the new count
/// after items were marked read; comments are heartbeats. Reconnect with
/// `Last-Event-ID` (or `?last_event_id=`) to get what was missed.
#[utoipa::path(
    get,
    path = "/api/v1/notify/stream",
    tag = "notify",
    operation_id = "notify_stream",
    summary = "实时消息(SSE)",
    params(
        StreamQuery,
        ("Last-Event-ID" = Option<i64>, Header, description = "上次收到的事件编号"),
    ),
    responses(
        (status = 200, description = "事件流", content_type = "text/event-stream", body = String),
        kernel::openapi::BadRequest, kernel::openapi::Unauthorized,
    ),
    security(("bearer" = [])),
)]
pub async fn stream(
    State(ctx): State<Ctx>,
    accounts::Auth(p): accounts::Auth,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> AppResult<Response> {
    let from_header = headers
        .get("last-event-id")
        .map(|v| v.to_str().unwrap_or("x").to_string());
    let last = match from_header
        .or(q.last_event_id)
        .filter(|s| !s.trim().is_empty())
    {
        Some(s) => Some(parse_last_id(&s)?),
        None => None,
    };
    let hub = hub(&ctx);
    // Listen before reading the database, so nothing falls in between.
    let rx = hub.subscribe();
    let start = match last {
        Some(n) => n,
        None => store::last_seq(&ctx.db, &p.user_id).await?,
    };
    let (tx, out) = mpsc::channel::<Bytes>(64);
    tokio::spawn(pump(ctx.clone(), p.user_id, p.session_id, start, rx, tx));
    let mut resp = (StatusCode::OK, Body::from_stream(ChannelStream(out))).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(resp)
}

/// Writes one SSE event; `data` is one line of JSON.
fn frame(id: Option<i64>, event: &str, data: &serde_json::Value) -> Bytes {
    let mut s = String::new();
    if let Some(id) = id {
        s.push_str(&format!("id: {id}\n"));
    }
    s.push_str(&format!("event: {event}\ndata: {data}\n\n"));
    Bytes::from(s)
}

/// Sends every item after `*last`; false when the client is gone.
async fn catch_up(ctx: &Ctx, user: &str, last: &mut i64, out: &mpsc::Sender<Bytes>) -> bool {
    loop {
        let rows = match store::inbox_after(&ctx.db, user, *last, REPLAY_BATCH).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "stream replay");
                return true;
            }
        };
        if rows.is_empty() {
            return true;
        }
        let unread = store::unread_count(&ctx.db, user).await.unwrap_or(0);
        let n = rows.len() as i64;
        for r in rows {
            let seq = r.seq;
            let mut data = serde_json::to_value(ItemView::from(r)).unwrap_or_default();
            data["unread"] = unread.into();
            if out
                .send(frame(Some(seq), "notification", &data))
                .await
                .is_err()
            {
                return false;
            }
            *last = seq;
        }
        if n < REPLAY_BATCH {
            return true;
        }
    }
}

async fn pump(
    ctx: Ctx,
    user: String,
    session: String,
    mut last: i64,
    mut rx: broadcast::Receiver<Live>,
    out: mpsc::Sender<Bytes>,
) {
    let hub = hub(&ctx);
    let mut closing = hub.closing();
    if *closing.borrow() {
        return;
    }
    let hello = Bytes::from_static(b"retry: 3000\n: connected\n\n");
    if out.send(hello).await.is_err() || !catch_up(&ctx, &user, &mut last, &out).await {
        return;
    }
    let beat = Duration::from_secs(ctx.settings.sse_heartbeat_seconds.max(1));
    let mut tick = tokio::time::interval_at(Instant::now() + beat, beat);
    let deadline = tokio::time::sleep(MAX_LIFETIME);
    tokio::pin!(deadline);
    loop {
        let go_on = tokio::select! {
            r = rx.recv() => match r {
                Ok(Live::Item { user_id, seq }) if user_id == user && seq > last => {
                    catch_up(&ctx, &user, &mut last, &out).await
                }
                Ok(Live::Read { user_id }) if user_id == user => {
                    let unread = store::unread_count(&ctx.db, &user).await.unwrap_or(0);
                    out.send(frame(None, "unread", &serde_json::json!({"unread": unread}))).await.is_ok()
                }
                Ok(_) => true,
                Err(broadcast::error::RecvError::Lagged(_)) => catch_up(&ctx, &user, &mut last, &out).await,
                Err(broadcast::error::RecvError::Closed) => false,
            },
            _ = tick.tick() => {
                // The same idle rule as every request (15 minutes for the
                // separated roles, 30 for other staff).
                let alive = accounts::session::still_alive(&ctx, &session, &user)
                    .await
                    .unwrap_or(true);
                alive
                    && out.send(Bytes::from_static(b": heartbeat\n\n")).await.is_ok()
                    // Items fanned out by another server reach us here.
                    && catch_up(&ctx, &user, &mut last, &out).await
            }
            _ = closing.changed() => false,
            _ = out.closed() => false,
            _ = &mut deadline => false,
        };
        if !go_on {
            break;
        }
    }
}
