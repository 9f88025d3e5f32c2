//! The contract's answer to bad input: a stable snake_case `code`, a Chinese
//! `message`, per-field Chinese messages for 422, and nothing written.
//! Never a 5xx, whatever the bytes.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

const DEMANDS: &str = "/api/v1/demands";
const LOGIN: &str = "/api/v1/auth/login";
const NODES: &str = "/api/v1/org/nodes";

/// POSTs raw bytes with an optional content type and bearer token.
async fn raw_post(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, Value) {
    let mut rb = app.client.post(app.url(path)).body(body);
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    if let Some(ct) = content_type {
        rb = rb.header(reqwest::header::CONTENT_TYPE, ct);
    }
    let r = rb.send().await.unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

fn has_cjk(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// The error shape every non-2xx answer must have.
fn assert_error_shape(v: &Value) {
    let code = v["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no code in {v}"));
    assert!(
        !code.is_empty()
            && code.starts_with(|c: char| c.is_ascii_lowercase())
            && code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
        "code is not snake_case: {v}"
    );
    let message = v["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message in {v}"));
    assert!(has_cjk(message), "message is not Chinese: {v}");
}

/// Asserts status and code, the error shape, and returns `fields` (if any).
fn expect_error(status: StatusCode, v: &Value, want: StatusCode, code: &str) -> Value {
    assert_eq!(status, want, "{v}");
    assert_error_shape(v);
    assert_eq!(v["code"], code, "{v}");
    v["fields"].clone()
}

/// Asserts a 422 naming `field`, with Chinese messages for every field.
fn expect_field(status: StatusCode, v: &Value, field: &str) {
    let fields = expect_error(
        status,
        v,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    let msgs = fields[field]
        .as_array()
        .unwrap_or_else(|| panic!("no fields.{field} in {v}"));
    assert!(!msgs.is_empty());
    for (_, list) in fields.as_object().unwrap() {
        for m in list.as_array().unwrap() {
            assert!(
                has_cjk(m.as_str().unwrap()),
                "field message not Chinese: {v}"
            );
        }
    }
}

fn good_demand() -> Value {
    json!({"category": "leak", "title": "卫生间漏水", "description": "卫生间顶棚渗水,已经三天了"})
}

#[tokio::test]
async fn demand_body_errors() {
    let app = spawn_app().await;
    let tok = app.token("13800000001").await;
    let t = Some(tok.as_str());
    let before = app.count("demands").await;
    let json_ct = Some("application/json");

    for bad in [
        &b"{\"category\": \"leak\","[..],
        b"{",
        b"",
        b"not json",
        b"{\"title\": \"a\"",
        b"\xff\xfe",
    ] {
        let (s, v) = raw_post(&app, DEMANDS, t, json_ct, bad.to_vec()).await;
        expect_error(s, &v, StatusCode::BAD_REQUEST, "malformed_json");
    }
    let body = good_demand().to_string();
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/jsonx"),
    ] {
        let (s, v) = raw_post(&app, DEMANDS, t, ct, body.clone()).await;
        expect_error(
            s,
            &v,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        );
    }

    // Wrong types.
    for (field, value) in [
        ("title", json!(5)),
        ("description", json!(["卫生间漏水"])),
        ("category", json!(null)),
        ("anonymous", json!("yes")),
        ("building_id", json!({"id": 1})),
    ] {
        let mut b = good_demand();
        b[field] = value;
        let (s, v) = app.post(DEMANDS, &tok, b).await;
        expect_field(s, &v, field);
    }
    // Unknown field.
    let mut b = good_demand();
    b["priority"] = json!("urgent");
    let (s, v) = app.post(DEMANDS, &tok, b).await;
    expect_field(s, &v, "priority");
    // Missing required field.
    let (s, v) = app
        .post(
            DEMANDS,
            &tok,
            json!({"category": "leak", "title": "卫生间漏水"}),
        )
        .await;
    expect_field(s, &v, "description");
    // Empty required fields: each named, each in Chinese.
    let (s, v) = app
        .post(
            DEMANDS,
            &tok,
            json!({"category": "", "title": "", "description": ""}),
        )
        .await;
    for f in ["category", "title", "description"] {
        expect_field(s, &v, f);
    }
    // Unknown category.
    let mut b = good_demand();
    b["category"] = json!("no_such_category");
    let (s, v) = app.post(DEMANDS, &tok, b).await;
    expect_field(s, &v, "category");
    // Title: 61 characters is one too many; 60 is fine.
    let mut b = good_demand();
    b["title"] = json!("漏".repeat(61));
    let (s, v) = app.post(DEMANDS, &tok, b).await;
    expect_field(s, &v, "title");
    // Control characters.
    let mut b = good_demand();
    b["title"] = json!("漏水\u{0007}了");
    let (s, v) = app.post(DEMANDS, &tok, b).await;
    expect_field(s, &v, "title");
    // Not JSON objects.
    for bad in [json!([]), json!("卫生间漏水"), json!(42), json!(null)] {
        let (s, v) = app.post(DEMANDS, &tok, bad.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {v}");
        assert_error_shape(&v);
    }
    assert_eq!(
        app.count("demands").await,
        before,
        "no bad write was stored"
    );

    let mut b = good_demand();
    b["title"] = json!("漏".repeat(60));
    let (s, v) = app.post(DEMANDS, &tok, b).await;
    assert_eq!(s, StatusCode::CREATED, "60 characters is allowed: {v}");
    assert_eq!(app.count("demands").await, before + 1);
}

#[tokio::test]

async fn demand_body_as_array_is_refused() {
    let app = spawn_app().await;
    let tok = app.token("13800000001").await;
    let before = app.count("demands").await;
    let (s, v) = app
        .post(
            DEMANDS,
            &tok,
            json!(["leak", "卫生间漏水", "卫生间顶棚渗水,已经三天了"]),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(app.count("demands").await, before);
}

#[tokio::test]

async fn trailing_garbage_after_json_is_malformed() {
    let app = spawn_app().await;
    let tok = app.token("13800000001").await;
    let before = app.count("demands").await;
    for tail in ["}", " garbage", "{}", ",\"x\":1}"] {
        let body = format!("{}{tail}", good_demand());
        let (s, v) = raw_post(&app, DEMANDS, Some(&tok), Some("application/json"), body).await;
        expect_error(s, &v, StatusCode::BAD_REQUEST, "malformed_json");
    }
    assert_eq!(app.count("demands").await, before);
}

#[tokio::test]
async fn oversized_body_is_413() {
    let app = spawn_app().await;
    let tok = app.token("13800000001").await;
    let before = app.count("demands").await;
    let mut b = good_demand();
    b["description"] = json!("a".repeat(1024 * 1024 + 16));
    let (s, v) = raw_post(
        &app,
        DEMANDS,
        Some(&tok),
        Some("application/json"),
        b.to_string(),
    )
    .await;
    expect_error(s, &v, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    // Under the limit but over the field's maximum: a field error instead.
    let mut b = good_demand();
    b["description"] = json!("长".repeat(2001));
    let (s, v) = app.post(DEMANDS, &tok, b).await;
    expect_field(s, &v, "description");
    assert_eq!(app.count("demands").await, before);
}

#[tokio::test]
async fn login_body_errors() {
    let app = spawn_app().await;
    let (sessions, audits) = (app.count("sessions").await, app.count("audit_events").await);
    let json_ct = Some("application/json");
    let (s, v) = raw_post(
        &app,
        LOGIN,
        None,
        json_ct,
        &b"{\"login\": \"13800000001\""[..],
    )
    .await;
    expect_error(s, &v, StatusCode::BAD_REQUEST, "malformed_json");
    let body = json!({"login": "13800000001", "password": PASSWORD}).to_string();
    for ct in [None, Some("text/plain")] {
        let (s, v) = raw_post(&app, LOGIN, None, ct, body.clone()).await;
        expect_error(
            s,
            &v,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        );
    }
    let (s, v) = raw_post(
        &app,
        LOGIN,
        None,
        json_ct,
        json!({"login": 13800000001u64, "password": PASSWORD}).to_string(),
    )
    .await;
    expect_field(s, &v, "login");
    let (s, v) = raw_post(
        &app,
        LOGIN,
        None,
        json_ct,
        json!({"login": "13800000001", "password": PASSWORD, "remember_me": true}).to_string(),
    )
    .await;
    expect_field(s, &v, "remember_me");
    let (s, v) = raw_post(
        &app,
        LOGIN,
        None,
        json_ct,
        json!({"login": "13800000001"}).to_string(),
    )
    .await;
    expect_field(s, &v, "password");
    let (s, v) = raw_post(
        &app,
        LOGIN,
        None,
        json_ct,
        json!({"login": "", "password": ""}).to_string(),
    )
    .await;
    expect_field(s, &v, "login");
    expect_field(s, &v, "password");
    let (s, v) = raw_post(
        &app,
        LOGIN,
        None,
        json_ct,
        json!({"login": "x".repeat(65), "password": "p"}).to_string(),
    )
    .await;
    expect_field(s, &v, "login");
    let (s, v) = raw_post(
        &app,
        LOGIN,
        None,
        json_ct,
        json!({"login": "13800000001", "password": PASSWORD, "totp": "1".repeat(17)}).to_string(),
    )
    .await;
    expect_field(s, &v, "totp");
    assert_eq!(
        app.count("sessions").await,
        sessions,
        "no session from bad input"
    );
    assert_eq!(
        app.count("audit_events").await,
        audits,
        "bad input is not a login attempt"
    );

    // A wrong password is not bad input: 401 with the contract's shape.
    let r = app.login_response("13800000001", "wrong-password").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let v: Value = r.json().await.unwrap();
    expect_error(
        StatusCode::UNAUTHORIZED,
        &v,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
    assert_eq!(app.count("sessions").await, sessions);
}

#[tokio::test]
async fn org_node_body_errors() {
    let app = spawn_app().await;
    let tok = app.token("community-zq").await;
    let t = Some(tok.as_str());
    let xc = app.node_id(XC).await;
    let nodes = app.count("org_nodes").await;
    let good = json!({"parent_id": xc, "kind": "building", "code": "B9", "name": "9号楼"});

    let (s, v) = raw_post(&app, NODES, t, Some("application/json"), "{\"parent_id\":").await;
    expect_error(s, &v, StatusCode::BAD_REQUEST, "malformed_json");
    for ct in [None, Some("text/plain")] {
        let (s, v) = raw_post(&app, NODES, t, ct, good.to_string()).await;
        expect_error(
            s,
            &v,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        );
    }
    let mut b = good.clone();
    b["kind"] = json!(7);
    let (s, v) = app.post(NODES, &tok, b).await;
    expect_field(s, &v, "kind");
    let mut b = good.clone();
    b["org_path"] = json!("/x/");
    let (s, v) = app.post(NODES, &tok, b).await;
    expect_field(s, &v, "org_path");
    let (s, v) = app
        .post(
            NODES,
            &tok,
            json!({"parent_id": xc, "kind": "", "code": "", "name": ""}),
        )
        .await;
    for f in ["kind", "code", "name"] {
        expect_field(s, &v, f);
    }
    for code in ["B/9", "B 9", &"B".repeat(33), "楼9"] {
        let mut b = good.clone();
        b["code"] = json!(code);
        let (s, v) = app.post(NODES, &tok, b).await;
        expect_field(s, &v, "code");
    }
    let mut b = good.clone();
    b["kind"] = json!("castle");
    let (s, v) = app.post(NODES, &tok, b).await;
    expect_field(s, &v, "kind");
    let mut b = good.clone();
    b["parent_id"] = json!("not-a-uuid");
    let (s, v) = app.post(NODES, &tok, b).await;
    expect_field(s, &v, "parent_id");
    assert_eq!(app.count("org_nodes").await, nodes, "nothing written");
}

#[tokio::test]
async fn list_query_errors() {
    let app = spawn_app().await;
    let tok = app.token("13800000001").await;
    for (q, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=abc", "limit"),
        ("limit=-1", "limit"),
        ("limit=1.5", "limit"),
        ("cursor=!!!", "cursor"),
        ("status=bogus", "status"),
        ("status=SUBMITTED", "status"),
    ] {
        let (s, v) = app.get(&format!("{DEMANDS}?{q}"), &tok).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{q}: {v}");
        expect_field(s, &v, field);
    }
    // Both at once: both named.
    let (s, v) = app
        .get(&format!("{DEMANDS}?limit=0&cursor=!!!"), &tok)
        .await;
    expect_field(s, &v, "limit");
    expect_field(s, &v, "cursor");

    // The valid edges work, and a cursor walks the resident's two demands.
    let (s, v) = app.get(&format!("{DEMANDS}?limit=100"), &tok).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["items"].as_array().unwrap().len(), 2);
    let status = v["items"][0]["status"].as_str().unwrap().to_string();
    let (s, v) = app
        .get(&format!("{DEMANDS}?limit=100&status={status}"), &tok)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let items = v["items"].as_array().unwrap();
    assert!(
        !items.is_empty() && items.iter().all(|d| d["status"] == status),
        "{v}"
    );
    let (s, v) = app.get(&format!("{DEMANDS}?limit=1"), &tok).await;
    assert_eq!(s, StatusCode::OK);
    let first = v["items"][0]["id"].clone();
    let cursor = v["next_cursor"].as_str().expect("a next page").to_string();
    let (_, v) = app
        .get(&format!("{DEMANDS}?limit=1&cursor={cursor}"), &tok)
        .await;
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    assert_ne!(v["items"][0]["id"], first);
    assert!(v["next_cursor"].is_null());
}

#[tokio::test]
async fn unknown_ids_are_not_found() {
    let app = spawn_app().await;
    let tok = app.token("13800000001").await;
    let fh_demand = {
        let fh = app.token("13800000003").await;
        let (_, v) = app.get(DEMANDS, &fh).await;
        v["items"][0]["id"].as_str().unwrap().to_string()
    };
    for id in [
        "00000000-0000-7000-8000-000000000000",
        &kernel::id::new_id(),
        "not-a-uuid",
        "%00",
        "..%2F..%2Fetc%2Fpasswd",
        &"9".repeat(300),
        fh_demand.as_str(),
    ] {
        let (s, v) = app.get(&format!("{DEMANDS}/{id}"), &tok).await;
        expect_error(s, &v, StatusCode::NOT_FOUND, "not_found");
    }
}

#[tokio::test]
async fn missing_or_bad_credentials_are_401() {
    let app = spawn_app().await;
    let before = app.count("demands").await;
    // No token at all, on a read and a write.
    let r = app.client.get(app.url(DEMANDS)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().contains_key(reqwest::header::WWW_AUTHENTICATE));
    let v: Value = r.json().await.unwrap();
    expect_error(
        StatusCode::UNAUTHORIZED,
        &v,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let (s, v) = raw_post(
        &app,
        DEMANDS,
        None,
        Some("application/json"),
        good_demand().to_string(),
    )
    .await;
    expect_error(s, &v, StatusCode::UNAUTHORIZED, "unauthenticated");

    let long = "x".repeat(500);
    for token in [
        "garbage",
        "",
        long.as_str(),
        "Zm9vOmJhcg==",
        "\u{00e9}t\u{00e9}",
    ] {
        let (s, v) = app.get(DEMANDS, token).await;
        expect_error(s, &v, StatusCode::UNAUTHORIZED, "unauthenticated");
        let (s, v) = app.post(DEMANDS, token, good_demand()).await;
        expect_error(s, &v, StatusCode::UNAUTHORIZED, "unauthenticated");
    }
    for header in ["Basic Zm9vOmJhcg==", "Bearer", "Token abc"] {
        let r = app
            .client
            .get(app.url(DEMANDS))
            .header(reqwest::header::AUTHORIZATION, header)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{header}");
    }
    // A token from a logged-out session.
    let tok = app.token("13800000001").await;
    let r = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (s, v) = app.post(DEMANDS, &tok, good_demand()).await;
    expect_error(s, &v, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(app.count("demands").await, before);
}

/// NUL characters may be refused at the door (400) or per field (422);
/// either way the contract's shape, never a 5xx.
fn expect_refused(status: StatusCode, v: &Value, field: &str, what: &str) {
    match status {
        StatusCode::BAD_REQUEST => assert_error_shape(v),
        StatusCode::UNPROCESSABLE_ENTITY => expect_field(status, v, field),
        other => panic!("{what}: {other} {v}"),
    }
}

#[tokio::test]
async fn nul_bytes_are_bad_input_not_server_errors() {
    let app = spawn_app().await;
    let tok = app.token("13800000001").await;
    let zq = app.token("community-zq").await;
    let (demands, sessions) = (app.count("demands").await, app.count("sessions").await);
    for (field, value) in [
        ("title", "漏水\u{0}了"),
        ("description", "卫生间顶棚\u{0}渗水三天了"),
        ("location", "1号楼\u{0}"),
        ("category", "le\u{0}ak"),
        ("household_id", "\u{0}"),
        ("building_id", "\u{0}"),
    ] {
        let mut b = good_demand();
        b[field] = json!(value);
        let (s, v) = app.post(DEMANDS, &tok, b).await;
        expect_refused(s, &v, field, field);
    }
    // A raw NUL byte inside a JSON string is not even valid JSON.
    let raw = b"{\"category\":\"leak\",\"title\":\"a\x00b\",\"description\":\"xxxxxxxx\"}".to_vec();
    let (s, v) = raw_post(&app, DEMANDS, Some(&tok), Some("application/json"), raw).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_error_shape(&v);
    let (s, v) = app
        .post(
            LOGIN,
            "",
            json!({"login": "1380000\u{0}0001", "password": PASSWORD}),
        )
        .await;
    assert!(
        s == StatusCode::UNAUTHORIZED || s == StatusCode::BAD_REQUEST,
        "{s} {v}"
    );
    assert_error_shape(&v);
    assert_eq!(app.count("sessions").await, sessions);

    // Query strings: a NUL directly, and cursors that decode to one
    // ("AA" is the base64url of a single NUL byte).
    for (path, t, field) in [
        (format!("{DEMANDS}?cursor=%00%01"), &tok, "cursor"),
        (format!("{DEMANDS}?category=%00"), &tok, "category"),
        (format!("{DEMANDS}?status=%00"), &tok, "status"),
        (format!("{DEMANDS}?cursor=AA"), &tok, "cursor"),
        ("/api/v1/org/tree?cursor=AA".to_string(), &zq, "cursor"),
        ("/api/v1/org/grids?cursor=AA".to_string(), &zq, "cursor"),
    ] {
        let (s, v) = app.get(&path, t).await;
        if s != StatusCode::OK {
            expect_refused(s, &v, field, &path);
        }
    }
    assert_eq!(app.count("demands").await, demands);
}

/// A tiny deterministic PRNG (PCG-style LCG), so the fuzz run is repeatable.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }
    fn below(&mut self, n: usize) -> usize {
        self.next() as usize % n
    }
}

const FRAGMENTS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    " ",
    "\\",
    "\"category\"",
    "\"title\"",
    "\"description\"",
    "\"location\"",
    "\"anonymous\"",
    "\"building_id\"",
    "\"household_id\"",
    "\"leak\"",
    "\"garbage\"",
    "\"卫生间漏水\"",
    "\"卫生间顶棚渗水,已经三天了\"",
    "true",
    "false",
    "null",
    "0",
    "-1",
    "1e999",
    "18446744073709551616",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"\\n\"",
    "\"长\"",
    "\"0196f1c2-0000-7000-8000-000000000000\"",
    "\u{feff}",
    "{\"category\":\"leak\",\"title\":\"卫生间漏水\",\"description\":\"卫生间顶棚渗水,已经三天了\"",
];

fn fuzz_body(rng: &mut Lcg) -> Vec<u8> {
    let mut out = Vec::new();
    match rng.below(4) {
        // A valid body with a few bytes changed.
        0 => {
            out.extend_from_slice(good_demand().to_string().as_bytes());
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(out.len());
                out[i] = rng.next() as u8;
            }
        }
        // Pure random bytes.
        1 => {
            for _ in 0..rng.below(64) {
                out.push(rng.next() as u8);
            }
        }
        // JSON-ish fragments.
        _ => {
            for _ in 0..1 + rng.below(24) {
                out.extend_from_slice(FRAGMENTS[rng.below(FRAGMENTS.len())].as_bytes());
            }
        }
    }
    out
}

#[tokio::test]
async fn fuzzed_demand_bodies_never_5xx() {
    let app = spawn_app().await;
    let tok = app.token("13800000001").await;
    let before = app.count("demands").await;
    let mut rng = Lcg(0x1ab5_c0de_2024);
    let mut bodies: Vec<Vec<u8>> = (0..200).map(|_| fuzz_body(&mut rng)).collect();
    // A few hand-picked nasties.
    bodies.push("[".repeat(10_000).into_bytes());
    bodies.push(format!("{}{}", "{\"a\":".repeat(2_000), "}".repeat(2_000)).into_bytes());
    bodies.push(b"\xff\xfe{\x00}".to_vec());
    let mut created = 0;
    for (i, body) in bodies.into_iter().enumerate() {
        let shown = String::from_utf8_lossy(&body)
            .chars()
            .take(120)
            .collect::<String>();
        let r = app
            .client
            .post(app.url(DEMANDS))
            .bearer_auth(&tok)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let s = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(!s.is_server_error(), "#{i} {shown:?} → {s} {v}");
        if s == StatusCode::CREATED {
            created += 1;
        } else {
            assert!(
                [StatusCode::BAD_REQUEST, StatusCode::UNPROCESSABLE_ENTITY].contains(&s),
                "#{i} {shown:?} → {s} {v}"
            );
            assert_error_shape(&v);
        }
    }
    assert_eq!(
        app.count("demands").await,
        before + created,
        "only 201s wrote"
    );
}
