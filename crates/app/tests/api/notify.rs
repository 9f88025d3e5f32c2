//! Notifications over real HTTP: events from the workflow reach the right
//! inboxes (dispatch → the butler, resolve → the resident, escalation → the
//! community), inboxes are private, the live stream (SSE) replays what a
//! reconnecting client missed, webhooks reach a local receiver in each
//! platform's exact format — once, through 500s, timeouts, a dead letter,
//! a rate limit and a restart in the middle of deliveries — the SSRF guard
//! refuses inward addresses, and the daily digest is sent once a day.

use crate::helpers::*;
use crate::pages::{hidden, logged_in, page, post_form};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxStatus, Uri};
use axum::response::{IntoResponse, Response as AxResponse};
use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Shanghai local time → Unix ms.
fn at(s: &str) -> i64 {
    kernel::clock::from_rfc3339(&format!("{s}+08:00")).unwrap()
}

// ------------------------------------------------------------ local receiver

#[derive(Clone, Debug)]
struct Hit {
    query: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Hit {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

#[derive(Clone, Copy, Debug)]
enum Reply {
    Fail(u16),
    /// HTTP 200 with a robot's error code (e.g. 45009, too frequent).
    ErrCode(i64),
    Slow(u64),
    /// Waits until the test releases it.
    Hold,
}

/// A tiny HTTP server on 127.0.0.1:0 that records every request by path
/// and answers as planned (default: the robots' `{"errcode":0}`).
#[derive(Clone, Default)]
struct Receiver {
    base: String,
    hits: Arc<Mutex<HashMap<String, Vec<Hit>>>>,
    plan: Arc<Mutex<HashMap<String, VecDeque<Reply>>>>,
    release: Arc<tokio::sync::Notify>,
}

async fn receive(
    State(r): State<Receiver>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> AxResponse {
    let path = uri.path().to_string();
    r.hits
        .lock()
        .unwrap()
        .entry(path.clone())
        .or_default()
        .push(Hit {
            query: uri.query().unwrap_or("").to_string(),
            headers,
            body: body.to_vec(),
        });
    let reply = r
        .plan
        .lock()
        .unwrap()
        .get_mut(&path)
        .and_then(|q| q.pop_front());
    match reply {
        Some(Reply::Fail(s)) => return (AxStatus::from_u16(s).unwrap(), "boom").into_response(),
        Some(Reply::ErrCode(c)) => {
            return (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                format!(r#"{{"errcode":{c},"errmsg":"api freq out of limit"}}"#),
            )
                .into_response()
        }
        Some(Reply::Slow(secs)) => tokio::time::sleep(Duration::from_secs(secs)).await,
        Some(Reply::Hold) => r.release.notified().await,
        None => {}
    }
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        r#"{"errcode":0,"errmsg":"ok"}"#,
    )
        .into_response()
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut r = Receiver {
            base: format!("http://{}", listener.local_addr().unwrap()),
            ..Default::default()
        };
        r.release = Arc::new(tokio::sync::Notify::new());
        let app = axum::Router::new().fallback(receive).with_state(r.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        r
    }
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
    fn plan(&self, path: &str, replies: &[Reply]) {
        self.plan
            .lock()
            .unwrap()
            .insert(path.to_string(), replies.iter().copied().collect());
    }
    fn hits(&self, path: &str) -> Vec<Hit> {
        self.hits
            .lock()
            .unwrap()
            .get(path)
            .cloned()
            .unwrap_or_default()
    }
}

// ------------------------------------------------------------ helpers

async fn run(app: &TestApp) -> notify::worker::Report {
    notify::worker::run_once(&app.ctx).await.unwrap()
}

/// Fans out what the demo seed published, so tests start from a quiet outbox.
async fn drain(app: &TestApp) {
    for _ in 0..10 {
        if run(app).await.fanned_out == 0 {
            return;
        }
    }
}

async fn user_id(app: &TestApp, login: &str) -> String {
    accounts::store::find_user_by_login(&app.ctx.db, &app.ctx.cipher, login)
        .await
        .unwrap()
        .unwrap()
        .id
}

async fn act(app: &TestApp, token: &str, id: &str, body: Value) -> Value {
    let (s, v) = app
        .post(
            &format!("/api/v1/demands/{id}/transitions"),
            token,
            body.clone(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body} → {v}");
    v
}

async fn inbox(app: &TestApp, token: &str) -> Vec<Value> {
    let (s, v) = app.get("/api/v1/notify/inbox?limit=100", token).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["items"].as_array().unwrap().clone()
}

fn of_kind<'a>(items: &'a [Value], kind: &str, object: &str) -> Vec<&'a Value> {
    items
        .iter()
        .filter(|i| i["kind"] == kind && i["object_id"] == object)
        .collect()
}

async fn webhook(app: &TestApp, token: &str, body: Value) -> Value {
    let (s, v) = app
        .post("/api/v1/notify/webhooks", token, body.clone())
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body} → {v}");
    v
}

async fn allowing_private() -> TestApp {
    spawn_configured(true, |c| {
        c.webhook_allow_private = true;
        c.webhook_timeout_seconds = 1;
        c.webhook_retry_base_seconds = 10;
        c.webhook_max_attempts = 3;
    })
    .await
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn query_param(q: &str, name: &str) -> Option<String> {
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

// ------------------------------------------------------------ inbox flows

#[tokio::test]
async fn dispatch_reaches_the_butler_and_filing_the_dispatchers() {
    let app = spawn_app().await;
    drain(&app).await;
    let resident = app.token("13800000001").await;
    let community = app.token("community-zq").await;
    let butler = app.token("butler-xc").await;
    let manager = app.token("property-xc").await;
    let street = app.token("street-cb").await;
    let id = app.file_demand(&resident, "楼道灯不亮了").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Nothing reaches an inbox before the worker runs: the outbox is durable.
    assert!(of_kind(&inbox(&app, &community).await, "demand.filed", &id).is_empty());
    let r = run(&app).await;
    assert!(r.fanned_out >= 1 && r.inbox_items >= 2, "{r:?}");
    // Filed → the compound's dispatchers (community staff, property manager).
    for t in [&community, &manager] {
        let items = inbox(&app, t).await;
        let hit = of_kind(&items, "demand.filed", &id);
        assert_eq!(hit.len(), 1, "{items:?}");
        assert_eq!(hit[0]["title"], "楼道灯不亮了");
        assert_eq!(hit[0]["link"], format!("/demands/{id}"));
        assert_eq!(hit[0]["read"], false);
        assert_eq!(hit[0]["label"], "新的诉求待受理");
    }
    // … not the street, and not the resident who filed it.
    assert!(of_kind(&inbox(&app, &street).await, "demand.filed", &id).is_empty());
    assert!(of_kind(&inbox(&app, &resident).await, "demand.filed", &id).is_empty());

    // Dispatch (auto-routed to the butler) with the manager as co-unit.
    act(&app, &community, &id, json!({"action": "accept"})).await;
    let manager_id = user_id(&app, "property-xc").await;
    act(
        &app,
        &community,
        &id,
        json!({"action": "dispatch", "co_assignees": [manager_id], "note": "请尽快处理"}),
    )
    .await;
    run(&app).await;
    let items = inbox(&app, &butler).await;
    let hit = of_kind(&items, "demand.dispatched", &id);
    assert_eq!(hit.len(), 1, "{items:?}");
    assert_eq!(hit[0]["body"], "请尽快处理");
    assert_eq!(
        of_kind(&inbox(&app, &manager).await, "demand.dispatched", &id).len(),
        1,
        "co-assignees hear it too"
    );
    assert!(
        of_kind(&inbox(&app, &community).await, "demand.dispatched", &id).is_empty(),
        "never told of one's own action"
    );
    // A second pass changes nothing: each event reaches each person once.
    run(&app).await;
    assert_eq!(
        of_kind(&inbox(&app, &butler).await, "demand.dispatched", &id).len(),
        1
    );

    // Unread count, mark one read, mark all read.
    let (_, u) = app.get("/api/v1/notify/unread", &butler).await;
    let before = u["unread"].as_i64().unwrap();
    assert!(before >= 1);
    let item_id = hit[0]["id"].as_str().unwrap();
    let (s, v) = app
        .post(
            &format!("/api/v1/notify/inbox/{item_id}/read"),
            &butler,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["read"], true);
    assert!(v["read_at"].is_string());
    let (_, u) = app.get("/api/v1/notify/unread", &butler).await;
    assert_eq!(u["unread"].as_i64().unwrap(), before - 1);
    let (s, v) = app
        .post("/api/v1/notify/inbox/read-all", &butler, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["unread"], 0);
    let (_, v) = app.get("/api/v1/notify/inbox?unread=true", &butler).await;
    assert!(v["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn resolution_reaches_the_residents_inbox() {
    let app = spawn_app().await;
    drain(&app).await;
    let resident = app.token("13800000001").await;
    let neighbour = app.token("13800000002").await;
    let community = app.token("community-zq").await;
    let butler = app.token("butler-xc").await;
    let id = app.file_demand(&resident, "卫生间漏水").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    act(&app, &community, &id, json!({"action": "accept"})).await;
    act(&app, &community, &id, json!({"action": "dispatch"})).await;
    act(&app, &butler, &id, json!({"action": "start"})).await;
    act(
        &app,
        &butler,
        &id,
        json!({"action": "resolve", "note": "已更换水管接头"}),
    )
    .await;
    run(&app).await;
    let items = inbox(&app, &resident).await;
    let hit = of_kind(&items, "demand.resolved", &id);
    assert_eq!(hit.len(), 1, "{items:?}");
    assert_eq!(hit[0]["label"], "诉求已办结,请评价");
    assert_eq!(hit[0]["body"], "已更换水管接头");
    assert_eq!(hit[0]["link"], format!("/demands/{id}"));
    // The community verifies it (default subscription); the neighbour hears nothing.
    assert_eq!(
        of_kind(&inbox(&app, &community).await, "demand.resolved", &id).len(),
        1
    );
    assert!(of_kind(&inbox(&app, &neighbour).await, "demand.resolved", &id).is_empty());
}

#[tokio::test]
async fn escalation_reaches_the_community_staff() {
    let app = spawn_app().await;
    drain(&app).await;
    let resident = app.token("13800000001").await;
    app.clock.set_ms(at("2026-03-09T09:00:00"));
    let id = app.file_demand(&resident, "电梯困人隐患").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.clock.set_ms(at("2026-03-09T11:01:00"));
    let r = cases::flow::sweep(&app.ctx).await.unwrap();
    assert!(r.escalated >= 1);
    run(&app).await;
    let community = app.token("community-zq").await;
    let items = inbox(&app, &community).await;
    let hit = of_kind(&items, "demand.overdue", &id);
    assert_eq!(hit.len(), 1, "{items:?}");
    assert_eq!(hit[0]["title"], "电梯困人隐患");
    // Level 1 is the community: the street is not told yet …
    let street = app.token("street-cb").await;
    assert!(of_kind(&inbox(&app, &street).await, "demand.overdue", &id).is_empty());
    // … until it is escalated by hand to the street (by the district).
    let district = app.token("district-ls").await;
    act(
        &app,
        &district,
        &id,
        json!({"action": "escalate", "note": "区级督办"}),
    )
    .await;
    run(&app).await;
    assert_eq!(
        of_kind(&inbox(&app, &street).await, "demand.escalated", &id).len(),
        1
    );
}

#[tokio::test]
async fn inboxes_are_private_and_paged() {
    let app = spawn_app().await;
    drain(&app).await;
    let resident = app.token("13800000001").await;
    let manager = app.token("property-xc").await;
    for i in 0..3 {
        app.file_demand(&resident, &format!("测试消息{i}")).await;
    }
    run(&app).await;
    let items = inbox(&app, &manager).await;
    let mine = items[0]["id"].as_str().unwrap().to_string();
    // Another user's item: 404 to read and to mark, exactly as a missing one.
    for other in [&resident, &app.token("property-fh").await] {
        let (s, _) = app
            .get(&format!("/api/v1/notify/inbox/{mine}"), other)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = app
            .post(
                &format!("/api/v1/notify/inbox/{mine}/read"),
                other,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let theirs = inbox(&app, other).await;
        assert!(theirs.iter().all(|i| i["id"] != mine.as_str()));
    }
    let (s, v) = app
        .get(&format!("/api/v1/notify/inbox/{mine}"), &manager)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["read"], false, "reading an item does not mark it");
    for bad in ["nope", "00000000-0000-7000-8000-000000000000"] {
        let (s, _) = app
            .get(&format!("/api/v1/notify/inbox/{bad}"), &manager)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
    // Unauthenticated: 401.
    let r = app
        .client
        .get(app.url("/api/v1/notify/inbox"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Pages of 2, newest first, no overlap, sequence descending.
    let (s, p1) = app.get("/api/v1/notify/inbox?limit=2", &manager).await;
    assert_eq!(s, StatusCode::OK);
    let cursor = p1["next_cursor"].as_str().unwrap();
    let (_, p2) = app
        .get(
            &format!("/api/v1/notify/inbox?limit=2&cursor={cursor}"),
            &manager,
        )
        .await;
    let seqs: Vec<i64> = p1["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(p2["items"].as_array().unwrap())
        .map(|i| i["seq"].as_i64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "{seqs:?}");
    for q in ["limit=0", "limit=101", "cursor=%21%21", "unread=maybe"] {
        let (s, v) = app
            .get(&format!("/api/v1/notify/inbox?{q}"), &manager)
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{q}: {v}");
    }
}

#[tokio::test]
async fn following_a_demand_and_its_refusals() {
    let app = spawn_app().await;
    drain(&app).await;
    let resident = app.token("13800000001").await;
    let community = app.token("community-zq").await;
    let street = app.token("street-cb").await;
    let id = app.file_demand(&resident, "小区门禁坏了").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The street follows it (it is in the street's scope).
    let (s, f) = app
        .post(
            "/api/v1/notify/subscriptions",
            &street,
            json!({"object_type": "demand", "object_id": id}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{f}");
    assert_eq!(f["personal"], true);
    let (s, _) = app
        .post(
            "/api/v1/notify/subscriptions",
            &street,
            json!({"object_type": "demand", "object_id": id}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    // Out of scope (another community's resident) or missing: 404.
    let other = app.token("13800000003").await;
    let (s, _) = app
        .post(
            "/api/v1/notify/subscriptions",
            &other,
            json!({"object_type": "demand", "object_id": id}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .post(
            "/api/v1/notify/subscriptions",
            &other,
            json!({"object_type": "planet", "object_id": id}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    act(
        &app,
        &community,
        &id,
        json!({"action": "reject", "note": "不属于物业范围"}),
    )
    .await;
    run(&app).await;
    assert_eq!(
        of_kind(&inbox(&app, &street).await, "demand.rejected", &id).len(),
        1
    );
    assert_eq!(
        of_kind(&inbox(&app, &resident).await, "demand.rejected", &id).len(),
        1,
        "the household hears of the rejection"
    );
    // Unfollow; another's follow is not theirs to delete.
    let fid = f["id"].as_str().unwrap();
    let (s, _) = app
        .delete(&format!("/api/v1/notify/subscriptions/{fid}"), &other)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .delete(&format!("/api/v1/notify/subscriptions/{fid}"), &street)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    // The defaults are listed to those they concern.
    let (_, list) = app.get("/api/v1/notify/subscriptions", &community).await;
    assert!(list["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["kind"] == "demand.filed"
            && s["role"] == "community_staff"
            && s["is_default"] == true));
}

// ------------------------------------------------------------ live stream

struct Sse {
    resp: reqwest::Response,
    buf: String,
}

#[derive(Debug, Default)]
struct Frame {
    id: Option<i64>,
    event: Option<String>,
    data: String,
    comments: Vec<String>,
}

impl Sse {
    async fn open(app: &TestApp, auth: (&str, &str), last: Option<i64>) -> Sse {
        let mut req = app
            .client
            .get(app.url("/api/v1/notify/stream"))
            .header(auth.0, auth.1);
        if let Some(n) = last {
            req = req.header("Last-Event-ID", n.to_string());
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
        Sse {
            resp,
            buf: String::new(),
        }
    }

    /// The next frame (blank-line separated), or None after `secs`.
    async fn next(&mut self, secs: u64) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let raw: String = self.buf.drain(..end + 2).collect();
                let mut f = Frame::default();
                for line in raw.lines() {
                    if let Some(c) = line.strip_prefix(':') {
                        f.comments.push(c.trim().to_string());
                    } else if let Some(v) = line.strip_prefix("id: ") {
                        f.id = v.parse().ok();
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        f.event = Some(v.to_string());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        f.data.push_str(v);
                    }
                }
                return Some(f);
            }
            let chunk = tokio::time::timeout_at(deadline, self.resp.chunk()).await;
            match chunk {
                Ok(Ok(Some(c))) => self.buf.push_str(&String::from_utf8_lossy(&c)),
                _ => return None,
            }
        }
    }

    /// The next `notification` frame, skipping comments and other events.
    async fn notification(&mut self, secs: u64) -> Option<(i64, Value)> {
        while let Some(f) = self.next(secs).await {
            if f.event.as_deref() == Some("notification") {
                return Some((f.id.unwrap(), serde_json::from_str(&f.data).unwrap()));
            }
        }
        None
    }
}

#[tokio::test]
async fn the_stream_replays_what_a_reconnecting_client_missed() {
    let app = spawn_configured(true, |c| c.sse_heartbeat_seconds = 1).await;
    drain(&app).await;
    let resident = app.token("13800000001").await;
    let manager = app.token("property-xc").await;
    let bearer = format!("Bearer {manager}");
    let auth = ("authorization", bearer.as_str());

    let mut s = Sse::open(&app, auth, None).await;
    let hello = s.next(5).await.unwrap();
    assert!(hello.comments.iter().any(|c| c == "connected"), "{hello:?}");
    app.file_demand(&resident, "直播事件一").await;
    run(&app).await;
    let (first, data) = s.notification(5).await.expect("a live event");
    assert_eq!(data["title"], "直播事件一");
    assert_eq!(data["kind"], "demand.filed");
    assert_eq!(data["seq"], first);
    assert!(data["unread"].as_i64().unwrap() >= 1);
    // A heartbeat comment comes while idle.
    let mut beat = false;
    for _ in 0..5 {
        if let Some(f) = s.next(3).await {
            if f.comments.iter().any(|c| c == "heartbeat") {
                beat = true;
                break;
            }
        }
    }
    assert!(beat, "heartbeat comments keep the connection alive");
    drop(s); // the client goes away …

    app.file_demand(&resident, "离线事件二").await;
    app.file_demand(&resident, "离线事件三").await;
    run(&app).await;

    // … and comes back with Last-Event-ID: the missed two, in order, then live ones.
    let mut s = Sse::open(&app, auth, Some(first)).await;
    let (a, da) = s.notification(5).await.unwrap();
    let (b, db) = s.notification(5).await.unwrap();
    assert_eq!((a, b), (first + 1, first + 2));
    assert_eq!(da["title"], "离线事件二");
    assert_eq!(db["title"], "离线事件三");
    app.file_demand(&resident, "直播事件四").await;
    run(&app).await;
    let (c, dc) = s.notification(5).await.unwrap();
    assert_eq!(c, first + 3);
    assert_eq!(dc["title"], "直播事件四");
    drop(s);

    // The cookie session works the same; replay from the very start.
    let cookie = format!("lx_session={manager}");
    let mut s = Sse::open(&app, ("cookie", cookie.as_str()), Some(0)).await;
    let (one, _) = s.notification(5).await.unwrap();
    assert_eq!(one, 1, "sequences start at 1 per user");
    drop(s);

    // Marking read elsewhere updates the count on the stream.
    let mut s = Sse::open(&app, auth, None).await;
    let (_, v) = app
        .post("/api/v1/notify/inbox/read-all", &manager, json!({}))
        .await;
    assert_eq!(v["unread"], 0);
    let mut saw_unread = false;
    for _ in 0..5 {
        if let Some(f) = s.next(3).await {
            if f.event.as_deref() == Some("unread") {
                let d: Value = serde_json::from_str(&f.data).unwrap();
                assert_eq!(d["unread"], 0);
                saw_unread = true;
                break;
            }
        }
    }
    assert!(saw_unread);
    drop(s);

    // No session: 401; a garbage Last-Event-ID: 400.
    let r = app
        .client
        .get(app.url("/api/v1/notify/stream"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app
        .client
        .get(app.url("/api/v1/notify/stream"))
        .bearer_auth(&manager)
        .header("Last-Event-ID", "x1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // A revoked session's stream ends at the next heartbeat.
    let mut s = Sse::open(&app, auth, None).await;
    let (st, _) = app.post("/api/v1/auth/logout", &manager, json!({})).await;
    assert!(st.is_success());
    let mut ended = false;
    for _ in 0..6 {
        if s.next(3).await.is_none() {
            ended = true;
            break;
        }
    }
    assert!(ended, "the stream closes once the session is gone");
}

/// Did the stream end (rather than keep sending heartbeats) within a few
/// heartbeats?
async fn stream_ends(s: &mut Sse) -> bool {
    for _ in 0..6 {
        if s.next(3).await.is_none() {
            return true;
        }
    }
    false
}

/// The stream re-checks its session with the same idle rule as every
/// request: an auditor's (a separated role) ends after 15 idle minutes,
/// a butler's lives on to 30.
#[tokio::test]
async fn the_stream_of_a_separated_role_ends_after_15_idle_minutes() {
    let app = spawn_configured(true, |c| c.sse_heartbeat_seconds = 1).await;
    let auditor = format!("Bearer {}", app.token("auditor").await);
    let butler = format!("Bearer {}", app.token("butler-xc").await);
    let mut a = Sse::open(&app, ("authorization", auditor.as_str()), None).await;
    let mut b = Sse::open(&app, ("authorization", butler.as_str()), None).await;
    for s in [&mut a, &mut b] {
        let hello = s.next(5).await.unwrap();
        assert!(hello.comments.iter().any(|c| c == "connected"), "{hello:?}");
    }
    app.clock.advance_ms(16 * 60_000);
    assert!(
        stream_ends(&mut a).await,
        "16 idle minutes end an auditor's stream"
    );
    let beat = b.next(5).await.expect("the butler's stream goes on");
    assert!(beat.comments.iter().any(|c| c == "heartbeat"), "{beat:?}");
    assert!(
        !stream_ends(&mut b).await,
        "16 minutes are within the staff limit"
    );
    app.clock.advance_ms(15 * 60_000);
    assert!(stream_ends(&mut b).await, "31 idle minutes end any stream");
}

// ------------------------------------------------------------ webhooks

#[tokio::test]
async fn webhooks_deliver_once_in_each_platforms_format() {
    let app = allowing_private().await;
    drain(&app).await;
    let rx = Receiver::start().await;
    let community = app.token("community-zq").await;
    let resident = app.token("13800000001").await;
    let xc = app.node_id(XC).await;
    let wecom = webhook(
        &app,
        &community,
        json!({"org_id": xc, "name": "小区物业群", "platform": "wecom",
               "url": rx.url("/cgi-bin/webhook/send?key=WECOM-KEY-123")}),
    )
    .await;
    assert_eq!(
        wecom["url"],
        format!("{}/…", rx.base),
        "the key is never shown"
    );
    assert!(!wecom.to_string().contains("WECOM-KEY-123"));
    webhook(
        &app,
        &community,
        json!({"org_id": xc, "name": "社区钉钉群", "platform": "dingtalk", "format": "markdown",
               "url": rx.url("/robot/send?access_token=DT-TOKEN"), "secret": "SECdingtalk-secret"}),
    )
    .await;
    let generic = webhook(
        &app,
        &community,
        json!({"org_id": xc, "name": "数据中台", "platform": "generic",
               "url": rx.url("/hooks/lianxin"), "secret": "generic-hmac-key", "kinds": "demand.*"}),
    )
    .await;
    assert_eq!(generic["has_secret"], true);
    assert!(!generic.to_string().contains("generic-hmac-key"));

    let d = app
        .file_demand(&resident, "楼道堆放杂物,电话13912345678")
        .await;
    let id = d["id"].as_str().unwrap();
    let r = run(&app).await;
    assert_eq!(r.delivered, 3, "{r:?}");
    run(&app).await;

    // 企业微信: {"msgtype":"text","text":{"content":…}} to the URL as registered.
    let w = rx.hits("/cgi-bin/webhook/send");
    assert_eq!(w.len(), 1, "delivered once");
    assert_eq!(w[0].query, "key=WECOM-KEY-123");
    let body = w[0].json();
    assert_eq!(body["msgtype"], "text");
    assert_eq!(body.as_object().unwrap().len(), 2);
    let content = body["text"]["content"].as_str().unwrap();
    assert!(content.contains("新的诉求待受理"), "{content}");
    assert!(content.contains("楼道堆放杂物"), "{content}");
    assert!(
        !content.contains("13912345678"),
        "phone numbers are starred: {content}"
    );
    assert!(w[0]
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));

    // 钉钉, signed: timestamp + sign = urlencode(base64(HMAC-SHA256(secret, "ts\nsecret"))).
    let dt = rx.hits("/robot/send");
    assert_eq!(dt.len(), 1);
    let q = &dt[0].query;
    assert_eq!(query_param(q, "access_token").as_deref(), Some("DT-TOKEN"));
    let ts = query_param(q, "timestamp").unwrap();
    let raw_sign = query_param(q, "sign").unwrap();
    assert!(
        !raw_sign.contains(['+', '/', '=']),
        "sign is URL-encoded: {raw_sign}"
    );
    let expected = base64::engine::general_purpose::STANDARD.encode(hmac_sha256(
        b"SECdingtalk-secret",
        format!("{ts}\nSECdingtalk-secret").as_bytes(),
    ));
    assert_eq!(percent_decode(&raw_sign), expected);
    let ts: i64 = ts.parse().unwrap();
    assert!((ts - kernel::clock::Clock::now_ms(&*app.clock)).abs() < 3_600_000);
    let body = dt[0].json();
    assert_eq!(body["msgtype"], "markdown");
    assert!(body["markdown"]["title"]
        .as_str()
        .unwrap()
        .contains("新的诉求待受理"));
    assert!(body["markdown"]["text"]
        .as_str()
        .unwrap()
        .contains("楼道堆放杂物"));

    // Generic: the event as JSON, X-Lianxin-Signature = sha256=<hex HMAC of the body>.
    let g = rx.hits("/hooks/lianxin");
    assert_eq!(g.len(), 1);
    let sig = g[0].header("x-lianxin-signature").unwrap();
    assert_eq!(
        sig,
        format!(
            "sha256={}",
            hex::encode(hmac_sha256(b"generic-hmac-key", &g[0].body))
        )
    );
    let delivery = g[0].header("x-lianxin-delivery").unwrap();
    let body = g[0].json();
    assert_eq!(body["id"], delivery.as_str());
    assert_eq!(body["kind"], "demand.filed");
    assert_eq!(body["object_type"], "demand");
    assert_eq!(body["object_id"], id);
    assert_eq!(body["link"], format!("/demands/{id}"));
    assert_eq!(
        g[0].header("x-lianxin-event").as_deref(),
        Some("demand.filed")
    );

    // The endpoint's counts; a demand of another community reaches none of them.
    let (_, v) = app
        .get(
            &format!("/api/v1/notify/webhooks/{}", wecom["id"].as_str().unwrap()),
            &community,
        )
        .await;
    assert_eq!(v["deliveries"]["delivered"], 1);
    let other = app.token("13800000003").await;
    app.file_demand(&other, "另一个小区的诉求").await;
    run(&app).await;
    assert_eq!(rx.hits("/cgi-bin/webhook/send").len(), 1);

    // A test message goes to the one endpoint only.
    let (s, v) = app
        .post(
            &format!(
                "/api/v1/notify/webhooks/{}/test",
                generic["id"].as_str().unwrap()
            ),
            &community,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    run(&app).await;
    let g = rx.hits("/hooks/lianxin");
    assert_eq!(g.len(), 2);
    assert_eq!(g[1].json()["kind"], "webhook.test");
    assert_eq!(rx.hits("/cgi-bin/webhook/send").len(), 1);
}

#[tokio::test]
async fn failed_deliveries_retry_with_backoff_then_dead_letter() {
    let app = allowing_private().await; // timeout 1 s, base 10 s, 3 attempts
    drain(&app).await;
    let rx = Receiver::start().await;
    let community = app.token("community-zq").await;
    let resident = app.token("13800000001").await;
    let xc = app.node_id(XC).await;
    // Two 500s, then fine.
    rx.plan("/flaky", &[Reply::Fail(500), Reply::Fail(502)]);
    // A first answer slower than the timeout, then fine.
    rx.plan("/slow", &[Reply::Slow(3)]);
    // Always failing.
    rx.plan("/down", &[Reply::Fail(500); 10]);
    for (name, path) in [("flaky", "/flaky"), ("slow", "/slow"), ("down", "/down")] {
        webhook(
            &app,
            &community,
            json!({"org_id": xc, "name": name, "platform": "generic", "url": rx.url(path), "secret": "k"}),
        )
        .await;
    }
    app.file_demand(&resident, "需要重试的消息").await;
    let r = run(&app).await;
    assert_eq!((r.delivered, r.retried), (0, 3), "{r:?}");
    // Not yet due: nothing is sent again.
    app.clock.advance_ms(9_000);
    let r = run(&app).await;
    assert_eq!(r.delivered + r.retried + r.dead, 0, "{r:?}");
    // After the base delay: second attempts.
    app.clock.advance_ms(1_500);
    let r = run(&app).await;
    assert_eq!(
        (r.delivered, r.retried),
        (1, 2),
        "the slow one went through: {r:?}"
    );
    // The backoff doubles: 20 s.
    app.clock.advance_ms(15_000);
    assert_eq!(run(&app).await.delivered, 0);
    app.clock.advance_ms(6_000);
    let r = run(&app).await;
    assert_eq!(
        (r.delivered, r.dead),
        (1, 1),
        "flaky through, down dead-lettered: {r:?}"
    );

    let ids = |path: &str| -> Vec<String> {
        rx.hits(path)
            .iter()
            .map(|h| h.header("x-lianxin-delivery").unwrap())
            .collect()
    };
    // Every attempt of one delivery carries the same idempotency key.
    for (path, n) in [("/flaky", 3), ("/slow", 2), ("/down", 3)] {
        let k = ids(path);
        assert_eq!(k.len(), n, "{path}");
        assert!(k.iter().all(|x| *x == k[0]), "{path}: {k:?}");
    }
    // Nothing more happens to delivered or dead ones.
    app.clock.advance_ms(3_600_000);
    assert_eq!(run(&app).await, notify::worker::Report::default());
    let community = app.token("community-zq").await; // the old session idled out

    // The dead letter, for the admins of the node only.
    let (s, v) = app.get("/api/v1/notify/webhooks/dead", &community).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let dead = v["items"].as_array().unwrap();
    assert_eq!(dead.len(), 1, "{v}");
    assert_eq!(dead[0]["attempts"], 3);
    assert_eq!(dead[0]["last_status"], 500);
    assert_eq!(dead[0]["webhook_name"], "down");
    assert_eq!(dead[0]["kind"], "demand.filed");
    for outsider in ["village-xmz", "butler-xc"] {
        let t = app.token(outsider).await;
        let (_, v) = app.get("/api/v1/notify/webhooks/dead", &t).await;
        assert!(v["items"].as_array().unwrap().is_empty(), "{outsider}");
        let (s, _) = app
            .post(
                &format!(
                    "/api/v1/notify/webhooks/dead/{}/retry",
                    dead[0]["id"].as_str().unwrap()
                ),
                &t,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{outsider}");
    }
    // Retried by hand: a fresh count, the same key.
    let did = dead[0]["id"].as_str().unwrap();
    rx.plan("/down", &[]);
    let (s, _) = app
        .post(
            &format!("/api/v1/notify/webhooks/dead/{did}/retry"),
            &community,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, _) = app
        .post(
            &format!("/api/v1/notify/webhooks/dead/{did}/retry"),
            &community,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(run(&app).await.delivered, 1);
    assert_eq!(ids("/down").last().unwrap(), did);
    let (_, v) = app.get("/api/v1/notify/webhooks/dead", &community).await;
    assert!(v["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn robots_that_answer_an_error_code_are_retried() {
    let app = allowing_private().await;
    drain(&app).await;
    let rx = Receiver::start().await;
    let community = app.token("community-zq").await;
    let xc = app.node_id(XC).await;
    webhook(
        &app,
        &community,
        json!({"org_id": xc, "name": "群", "platform": "dingtalk", "url": rx.url("/dt")}),
    )
    .await;
    // HTTP 200 with {"errcode":45009} is a failure for a robot.
    rx.plan("/dt", &[Reply::ErrCode(45009)]);
    let resident = app.token("13800000001").await;
    app.file_demand(&resident, "机器人限频").await;
    let r = run(&app).await;
    assert_eq!((r.delivered, r.retried), (0, 1), "{r:?}");
    app.clock.advance_ms(10_000);
    assert_eq!(run(&app).await.delivered, 1);
    let hits = rx.hits("/dt");
    assert_eq!(hits.len(), 2);
    // Unsigned 钉钉 robots get no timestamp/sign.
    assert!(!hits[0].query.contains("sign="), "{}", hits[0].query);
}

#[tokio::test]
async fn each_endpoint_is_rate_limited() {
    let app = allowing_private().await;
    drain(&app).await;
    let rx = Receiver::start().await;
    let community = app.token("community-zq").await;
    let resident = app.token("13800000001").await;
    let xc = app.node_id(XC).await;
    webhook(
        &app,
        &community,
        json!({"org_id": xc, "name": "慢群", "platform": "wecom", "url": rx.url("/slowgroup"), "rate_per_minute": 2}),
    )
    .await;
    for i in 0..5 {
        app.file_demand(&resident, &format!("限速消息{i}")).await;
    }
    let r = run(&app).await;
    assert_eq!((r.delivered, r.deferred), (2, 1), "{r:?}");
    assert_eq!(run(&app).await.delivered, 0, "still the same minute");
    app.clock.advance_ms(60_001);
    assert_eq!(run(&app).await.delivered, 2);
    app.clock.advance_ms(60_001);
    assert_eq!(run(&app).await.delivered, 1);
    // In order, each once.
    let titles: Vec<String> = rx
        .hits("/slowgroup")
        .iter()
        .map(|h| h.json()["text"]["content"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(titles.len(), 5);
    for (i, t) in titles.iter().enumerate() {
        assert!(t.contains(&format!("限速消息{i}")), "{titles:?}");
    }
}

#[tokio::test]
async fn nothing_is_lost_when_the_server_stops_mid_delivery() {
    let app = allowing_private().await;
    drain(&app).await;
    let rx = Receiver::start().await;
    let community = app.token("community-zq").await;
    let resident = app.token("13800000001").await;
    let xc = app.node_id(XC).await;
    webhook(
        &app,
        &community,
        json!({"org_id": xc, "name": "中台", "platform": "generic", "url": rx.url("/ingest"), "secret": "k"}),
    )
    .await;
    for i in 0..5 {
        app.file_demand(&resident, &format!("重启消息{i}")).await;
    }
    // The third request hangs: the worker is killed while it waits.
    rx.plan("/ingest", &[Reply::Slow(0), Reply::Slow(0), Reply::Hold]);
    let ctx = app.ctx.clone();
    let worker = tokio::spawn(async move { notify::worker::run_once(&ctx).await });
    for _ in 0..100 {
        if rx.hits("/ingest").len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rx.hits("/ingest").len(), 3);
    worker.abort(); // the process dies mid-request
    let _ = worker.await;

    // A new server on the same database (the old context is gone).
    let mut config = app::config::Config::defaults();
    config.webhook_allow_private = true;
    config.webhook_timeout_seconds = 1;
    let db = app::open_database(&app.database_url).await.unwrap();
    let ctx2 = app::context(
        db,
        kernel::crypto::FieldCipher::from_hex(TEST_KEY).unwrap(),
        app.clock.clone(),
        &config,
    );
    // The two after the interrupted one go out; the interrupted one is
    // still leased to the dead worker …
    let r = notify::worker::run_once(&ctx2).await.unwrap();
    assert_eq!(r.delivered, 2, "{r:?}");
    // … until its lease runs out: then it is sent again, same key.
    app.clock.advance_ms(60_000);
    let r = notify::worker::run_once(&ctx2).await.unwrap();
    assert_eq!(r.delivered, 1, "{r:?}");
    assert_eq!(notify::worker::run_once(&ctx2).await.unwrap().delivered, 0);
    rx.release.notify_waiters();

    let hits = rx.hits("/ingest");
    assert_eq!(hits.len(), 6, "one request was repeated");
    // The receiver keeps the first of each key: every message exactly once.
    let mut seen = HashSet::new();
    let mut titles = Vec::new();
    for h in &hits {
        let key = h.header("x-lianxin-delivery").unwrap();
        if seen.insert(key) {
            titles.push(h.json()["title"].as_str().unwrap().to_string());
        }
    }
    titles.sort();
    assert_eq!(
        titles,
        (0..5).map(|i| format!("重启消息{i}")).collect::<Vec<_>>()
    );
    let delivered: i64 = sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) FROM notify_deliveries WHERE status = 'delivered'")
            .fetch_one(app.ctx.db.reader())
            .await
            .unwrap(),
        0,
    );
    assert_eq!(delivered, 5);
    ctx2.db.close().await;
}

#[tokio::test]
async fn the_ssrf_guard_refuses_inward_addresses() {
    let app = spawn_app().await; // webhook_allow_private = false (the default)
    drain(&app).await;
    let community = app.token("community-zq").await;
    let xc = app.node_id(XC).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost:8080/hook",
        "http://[::1]/hook",
        "http://10.0.0.8/hook",
        "http://172.16.5.4/hook",
        "http://192.168.1.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
        "http://[fd00::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
    ] {
        let (s, v) = app
            .post(
                "/api/v1/notify/webhooks",
                &community,
                json!({"org_id": xc, "name": "内网", "platform": "wecom", "url": url}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {v}");
        assert_eq!(v["fields"]["url"][0], "不允许指向本机或内网地址", "{url}");
    }
    for url in [
        "ftp://example.org/x",
        "javascript:alert(1)",
        "http://u:p@1.2.3.4/",
    ] {
        let (s, v) = app
            .post(
                "/api/v1/notify/webhooks",
                &community,
                json!({"org_id": xc, "name": "坏地址", "platform": "wecom", "url": url}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {v}");
    }
    assert_eq!(app.count("notify_webhooks").await, 0);

    // An endpoint registered while private addresses were allowed is
    // refused at send time once they are not: dead-lettered, never contacted.
    let rx = Receiver::start().await;
    let allowed = allowing_private().await;
    drain(&allowed).await;
    let t = allowed.token("community-zq").await;
    let xc2 = allowed.node_id(XC).await;
    webhook(
        &allowed,
        &t,
        json!({"org_id": xc2, "name": "本机", "platform": "generic", "url": rx.url("/inner"), "secret": "k"}),
    )
    .await;
    let resident = allowed.token("13800000001").await;
    allowed.file_demand(&resident, "内网测试").await;
    let mut config = app::config::Config::defaults();
    config.webhook_allow_private = false;
    let db = app::open_database(&allowed.database_url).await.unwrap();
    let strict = app::context(
        db,
        kernel::crypto::FieldCipher::from_hex(TEST_KEY).unwrap(),
        allowed.clock.clone(),
        &config,
    );
    let r = notify::worker::run_once(&strict).await.unwrap();
    assert_eq!((r.delivered, r.dead), (0, 1), "{r:?}");
    assert!(
        rx.hits("/inner").is_empty(),
        "the receiver was never contacted"
    );
    let (_, v) = allowed.get("/api/v1/notify/webhooks/dead", &t).await;
    assert_eq!(v["items"][0]["last_error"], "不允许指向本机或内网地址");
    strict.db.close().await;
}

#[tokio::test]
async fn webhooks_are_managed_by_the_nodes_admins() {
    let app = allowing_private().await;
    let rx = Receiver::start().await;
    let community = app.token("community-zq").await;
    let xc = app.node_id(XC).await;
    let body = json!({"org_id": xc, "name": "群", "platform": "dingtalk", "url": rx.url("/dt")});
    // A property manager sees the compound but does not administer it: 403;
    // another village's staff does not even see it: 404.
    let (s, _) = app
        .post(
            "/api/v1/notify/webhooks",
            &app.token("property-xc").await,
            body.clone(),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let village = app.token("village-xmz").await;
    let (s, _) = app
        .post("/api/v1/notify/webhooks", &village, body.clone())
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let w = webhook(&app, &community, body).await;
    let id = w["id"].as_str().unwrap();
    let (s, _) = app
        .get(&format!("/api/v1/notify/webhooks/{id}"), &village)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = app.get("/api/v1/notify/webhooks", &village).await;
    assert!(list["items"].as_array().unwrap().is_empty());
    // The street above administers it too.
    let street = app.token("street-cb").await;
    let (_, list) = app.get("/api/v1/notify/webhooks", &street).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    // Bad input is 422 with fields, and changes nothing.
    let (s, v) = app
        .post(
            "/api/v1/notify/webhooks",
            &community,
            json!({"org_id": xc, "name": "", "platform": "telegram", "url": "x", "kinds": "nope", "rate_per_minute": 0}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    for f in ["name", "platform", "url", "kinds", "rate_per_minute"] {
        assert!(v["fields"][f].is_array(), "{f}: {v}");
    }
    let (s, v) = app
        .post(
            "/api/v1/notify/webhooks",
            &community,
            json!({"org_id": xc, "name": "通用", "platform": "generic", "url": rx.url("/g")}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "generic needs a secret: {v}"
    );
    // Edit with the version seen; a stale version is 409.
    let (s, v) = app
        .patch(
            &format!("/api/v1/notify/webhooks/{id}"),
            &community,
            json!({"name": "改名", "format": "markdown", "secret": "SECnew", "version": w["version"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["name"], "改名");
    assert_eq!(v["has_secret"], true);
    let (s, _) = app
        .patch(
            &format!("/api/v1/notify/webhooks/{id}"),
            &community,
            json!({"active": false, "version": w["version"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    // Deleted: gone from lists, 404 after.
    let (s, _) = app
        .delete(&format!("/api/v1/notify/webhooks/{id}"), &community)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app
        .get(&format!("/api/v1/notify/webhooks/{id}"), &community)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let actions = app.audit_actions().await;
    for a in [
        "notify_webhook_created",
        "notify_webhook_updated",
        "notify_webhook_deleted",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a}");
    }
}

// ------------------------------------------------------------ digest

#[tokio::test]
async fn the_daily_digest_goes_out_once_a_day() {
    let app = allowing_private().await;
    drain(&app).await;
    let rx = Receiver::start().await;
    let community = app.token("community-zq").await;
    let resident = app.token("13800000001").await;
    let xc = app.node_id(XC).await;
    webhook(
        &app,
        &community,
        json!({"org_id": xc, "name": "小区群", "platform": "wecom", "url": rx.url("/digest")}),
    )
    .await;
    app.clock.set_ms(at("2026-03-09T07:00:00"));
    app.file_demand(&resident, "今天要派单的诉求").await;
    run(&app).await;
    let before = rx.hits("/digest").len();

    app.clock.set_ms(at("2026-03-09T07:59:00"));
    assert!(!notify::digest::due(&app.ctx), "not before 08:00");
    app.clock.set_ms(at("2026-03-09T08:00:00"));
    assert!(notify::digest::due(&app.ctx));
    let r = notify::digest::run(&app.ctx).await.unwrap();
    assert!(r.users >= 2 && r.nodes >= 1, "{r:?}");
    assert!(!notify::digest::due(&app.ctx), "once a day");
    // Again the same day (another server, a restart): nothing twice.
    let again = notify::digest::run(&app.ctx).await.unwrap();
    assert_eq!(again, notify::digest::DigestReport::default());
    run(&app).await;

    let manager = app.token("property-xc").await;
    let items = inbox(&app, &manager).await;
    let digests: Vec<&Value> = items.iter().filter(|i| i["kind"] == "digest").collect();
    assert_eq!(digests.len(), 1, "{items:?}");
    assert_eq!(digests[0]["title"], "每日摘要 2026-03-09");
    let body = digests[0]["body"].as_str().unwrap();
    assert!(body.starts_with("诉求:新增 "), "{body}");
    let due_today: i64 = body
        .rsplit("今日到期 ")
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        due_today >= 1,
        "the demand filed at 07:00 is due today: {body}"
    );
    // Residents get none.
    assert!(inbox(&app, &resident)
        .await
        .iter()
        .all(|i| i["kind"] != "digest"));
    // The compound's robot gets the compound's digest, once.
    let hits = rx.hits("/digest");
    assert_eq!(hits.len(), before + 1);
    let content = hits.last().unwrap().json()["text"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        content.contains("新城壹号小区 每日摘要 2026-03-09"),
        "{content}"
    );
    // The next day it is due again.
    app.clock.set_ms(at("2026-03-10T08:05:00"));
    assert!(notify::digest::due(&app.ctx));
}

// ------------------------------------------------------------ pages

#[tokio::test]
async fn the_inbox_page_and_the_header_count() {
    let app = spawn_app().await;
    drain(&app).await;
    let resident = app.token("13800000001").await;
    app.file_demand(&resident, "页面上的消息").await;
    run(&app).await;
    let c = logged_in(&app, "property-xc").await;
    let (s, html) = page(&app, &c, "/inbox").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("页面上的消息"), "{html}");
    assert!(html.contains("新的诉求待受理"));
    assert!(
        html.contains("data-unread data-known"),
        "the page renders the count"
    );
    assert!(html.contains("class=\"unread-badge\""));
    assert!(html.contains("全部标为已读"));
    // Other pages carry the badge for app.js to fill (and the link without JS).
    let (_, work) = page(&app, &c, "/work").await;
    assert!(work.contains("href=\"/inbox\""));
    assert!(work.contains("data-unread"));
    // Open an item: it is marked read and leads to the demand.
    let csrf = hidden(&html, "csrf");
    let start = html.find("/read\">").unwrap() - 36;
    let item = &html[start..start + 36];
    let r = post_form(
        &app,
        &c,
        &format!("/inbox/{item}/read"),
        &[("csrf", &csrf), ("open", "1")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/demands/"));
    // Mark all read by form; a forged token changes nothing.
    let r = post_form(&app, &c, "/inbox/read-all", &[("csrf", "forged")]).await;
    assert_ne!(r.status(), StatusCode::SEE_OTHER);
    let r = post_form(&app, &c, "/inbox/read-all", &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&app, &c, "/inbox").await;
    assert!(html.contains("消息都已读"));
    let (_, en) = page(&app, &c, "/inbox?lang=en").await;
    assert!(en.contains("My notifications"));
    // Anonymous visitors are sent to log in.
    let r = crate::pages::browser()
        .get(app.url("/inbox"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}
