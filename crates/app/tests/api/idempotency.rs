//! `Idempotency-Key` on the create endpoints: a retry with the same key and
//! request answers the first response without writing again; the same key
//! with another request is refused; the key commits with the change (a
//! failed change leaves no key); concurrent twins write once; keys expire.

use crate::helpers::*;
use kernel::Clock;
use reqwest::StatusCode;
use serde_json::{json, Value};

struct Answer {
    status: StatusCode,
    replayed: bool,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

async fn post_keyed(app: &TestApp, path: &str, token: &str, key: &str, body: &Value) -> Answer {
    let r = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap();
    Answer {
        status: r.status(),
        replayed: r.headers().get("idempotency-replayed").is_some(),
        body: r.text().await.unwrap(),
    }
}

fn demand(title: &str) -> Value {
    json!({"category": "leak", "title": title, "description": "卫生间顶棚渗水,已经三天了"})
}

/// Posts twice with one key: the second is the first's answer, replayed,
/// and `table` grew by exactly one row over both.
async fn twice(app: &TestApp, path: &str, token: &str, body: Value, table: &str) -> Value {
    let before = app.count(table).await;
    let key = format!("k-{}", kernel::id::new_id());
    let first = post_keyed(app, path, token, &key, &body).await;
    assert!(first.status.is_success(), "{path}: {}", first.body);
    assert!(!first.replayed);
    let second = post_keyed(app, path, token, &key, &body).await;
    assert_eq!(second.status, first.status, "{path}: {}", second.body);
    assert_eq!(second.body, first.body, "{path}: the first answer again");
    assert!(second.replayed, "{path}");
    assert_eq!(app.count(table).await, before + 1, "{path}: one write");
    first.json()
}

#[tokio::test]
async fn create_endpoints_write_once_per_key() {
    let app = spawn_app().await;
    let resident = app.token("13800000001").await;

    let d = twice(
        &app,
        "/api/v1/demands",
        &resident,
        demand("幂等诉求"),
        "demands",
    )
    .await;
    assert_eq!(d["status"], "submitted");

    // Open311: anonymous, the API key in the form body.
    let before = app.count("demands").await;
    let key = "open311-key-1";
    let form = [
        ("api_key", "lianxin-demo-open311"),
        ("jurisdiction_id", "XC"),
        ("service_code", "leak"),
        ("description", "楼道顶棚渗水"),
    ];
    let mut bodies = Vec::new();
    for _ in 0..2 {
        let r = app
            .client
            .post(app.url("/open311/v2/requests.json"))
            .header("Idempotency-Key", key)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        bodies.push(r.text().await.unwrap());
    }
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(app.count("demands").await, before + 1);

    // Mediation case on a dispute.
    let (s, v) = app
        .post(
            "/api/v1/demands",
            &resident,
            json!({"category": "neighbour_dispute", "title": "楼上漏水邻里纠纷", "description": "楼上洗衣机下水管道漏水,渗到我家卫生间吊顶"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let dispute = v["id"].as_str().unwrap().to_string();
    let community = app.token("community-zq").await;
    let property = app.token("property-xc").await;
    twice(
        &app,
        "/api/v1/mediation/cases",
        &property,
        json!({"title": "漏水纠纷", "summary": "楼上漏水引起的纠纷", "demand_id": dispute}),
        "mediations",
    )
    .await;

    // Party activity.
    let branch = app.token("branch-fh").await;
    let (s, orgs) = app.get("/api/v1/party/orgs", &branch).await;
    assert_eq!(s, StatusCode::OK);
    let fh = orgs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "泛华盛世小区党支部")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let held = kernel::clock::to_rfc3339(app.clock.now_ms() + 7 * 86_400_000);
    twice(
        &app,
        "/api/v1/party/activities",
        &branch,
        json!({"org_id": fh, "kind": "branch_assembly", "title": "下周党员大会", "held_at": held, "place": "活动室"}),
        "party_activities",
    )
    .await;

    // Rating: without a key a second rating is refused; with one, the
    // retry is the first answer and the rating is recorded once.
    let id = d["id"].as_str().unwrap();
    let butler = app.token("butler-xc").await;
    for (t, body) in [
        (&community, json!({"action": "accept"})),
        (&community, json!({"action": "dispatch"})),
        (&butler, json!({"action": "start"})),
        (&butler, json!({"action": "resolve", "note": "已处理"})),
        (&community, json!({"action": "verify_pass"})),
    ] {
        let (s, v) = app
            .post(&format!("/api/v1/demands/{id}/transitions"), t, body)
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let rating = json!({"contacted": true, "resolved": true, "satisfaction": 5, "comment": "及时"});
    let events = app.count("demand_events").await;
    let path = format!("/api/v1/demands/{id}/rating");
    let a = post_keyed(&app, &path, &resident, "rate-1", &rating).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let b = post_keyed(&app, &path, &resident, "rate-1", &rating).await;
    assert_eq!(b.status, StatusCode::OK, "{}", b.body);
    assert!(b.replayed);
    assert_eq!(a.body, b.body);
    assert_eq!(app.count("demand_events").await, events + 1);
}

#[tokio::test]
async fn a_reused_key_with_another_request_is_refused_and_writes_nothing() {
    let app = spawn_app().await;
    let resident = app.token("13800000001").await;
    let a = post_keyed(
        &app,
        "/api/v1/demands",
        &resident,
        "same",
        &demand("第一个诉求"),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED);
    let before = app.count("demands").await;
    let b = post_keyed(
        &app,
        "/api/v1/demands",
        &resident,
        "same",
        &demand("第二个诉求"),
    )
    .await;
    assert_eq!(b.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", b.body);
    let v = b.json();
    assert_eq!(v["code"], "validation_failed");
    assert!(v["fields"]["Idempotency-Key"].is_array(), "{v}");
    assert_eq!(app.count("demands").await, before);

    // Another principal's key space is its own.
    let other = app.token("13800000002").await;
    let c = post_keyed(
        &app,
        "/api/v1/demands",
        &other,
        "same",
        &demand("第二个诉求"),
    )
    .await;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.body);
    assert!(!c.replayed);

    // A malformed key is refused before anything runs.
    let d = post_keyed(
        &app,
        "/api/v1/demands",
        &resident,
        "has space",
        &demand("第三个诉求"),
    )
    .await;
    assert_eq!(d.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("demands").await, before + 1);
}

#[tokio::test]
async fn a_refused_request_leaves_the_key_free() {
    let app = spawn_app().await;
    let resident = app.token("13800000001").await;
    let bad = json!({"category": "leak", "title": "", "description": ""});
    let a = post_keyed(&app, "/api/v1/demands", &resident, "fix-me", &bad).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("idempotency_keys").await, 0);
    // Fixed and sent again under the same key: accepted.
    let b = post_keyed(
        &app,
        "/api/v1/demands",
        &resident,
        "fix-me",
        &demand("修好了"),
    )
    .await;
    assert_eq!(b.status, StatusCode::CREATED, "{}", b.body);
}

#[tokio::test]
async fn the_key_commits_with_the_write_so_a_lost_answer_never_writes_twice() {
    let app = spawn_app().await;
    let resident = app.token("13800000001").await;
    let a = post_keyed(
        &app,
        "/api/v1/demands",
        &resident,
        "lost",
        &demand("丢失的回复"),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED);
    let id = a.json()["id"].as_str().unwrap().to_string();
    // The row was written in the demand's transaction, naming the demand.
    let row = sqlx::query("SELECT object_type, object_id FROM idempotency_keys")
        .fetch_one(app.ctx.db.reader())
        .await
        .unwrap();
    use sqlx::Row;
    assert_eq!(row.get::<String, _>(0), "demand");
    assert_eq!(row.get::<String, _>(1), id);
    // As if the process died after the commit, before the answer was kept.
    sqlx::query("UPDATE idempotency_keys SET status = NULL, body = NULL")
        .execute(app.ctx.db.writer())
        .await
        .unwrap();
    let before = app.count("demands").await;
    let b = post_keyed(
        &app,
        "/api/v1/demands",
        &resident,
        "lost",
        &demand("丢失的回复"),
    )
    .await;
    assert_eq!(b.status, StatusCode::CONFLICT, "{}", b.body);
    let v = b.json();
    assert_eq!(v["code"], "idempotency_request_done");
    assert!(v["message"].as_str().unwrap().contains(&id), "{v}");
    assert_eq!(app.count("demands").await, before);
}

#[tokio::test]
async fn concurrent_twins_write_once() {
    let app = spawn_app().await;
    let resident = app.token("13800000001").await;
    let before = app.count("demands").await;
    let body = demand("并发同键");
    let answers = futures_join(&app, &resident, &body, 8).await;
    assert_eq!(app.count("demands").await, before + 1);
    let created: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.status == StatusCode::CREATED)
        .collect();
    assert!(!created.is_empty());
    let first_id = created[0].json()["id"].clone();
    for a in &answers {
        match a.status {
            StatusCode::CREATED => assert_eq!(a.json()["id"], first_id),
            StatusCode::CONFLICT => {
                let code = a.json()["code"].as_str().unwrap().to_string();
                assert!(
                    code == "idempotency_key_in_use" || code == "idempotency_request_done",
                    "{code}"
                );
            }
            other => panic!("unexpected {other}: {}", a.body),
        }
    }
}

async fn futures_join(app: &TestApp, token: &str, body: &Value, n: usize) -> Vec<Answer> {
    let mut handles = Vec::new();
    for _ in 0..n {
        let (client, url, token, body) = (
            app.client.clone(),
            app.url("/api/v1/demands"),
            token.to_string(),
            body.clone(),
        );
        handles.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(token)
                .header("Idempotency-Key", "twins")
                .json(&body)
                .send()
                .await
                .unwrap();
            Answer {
                status: r.status(),
                replayed: r.headers().get("idempotency-replayed").is_some(),
                body: r.text().await.unwrap(),
            }
        }));
    }
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn keys_expire_after_a_day_and_are_purged() {
    let app = spawn_app().await;
    let resident = app.token("13800000001").await;
    let a = post_keyed(
        &app,
        "/api/v1/demands",
        &resident,
        "day",
        &demand("一天后过期"),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED);
    let now = app.clock.now_ms();
    assert_eq!(
        kernel::idempotency::purge_expired(&app.ctx.db, now)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        kernel::idempotency::purge_expired(&app.ctx.db, now + kernel::idempotency::TTL_MS + 1)
            .await
            .unwrap(),
        1
    );
    assert_eq!(app.count("idempotency_keys").await, 0);
}

/// Keys belong to the user, not to the token: the same user retrying after
/// a new login gets the first answer again; another user sending the same
/// key and body makes a request of their own; a logged-out token replays
/// nothing.
#[tokio::test]
async fn keys_belong_to_the_user_not_to_the_token() {
    let app = spawn_app().await;
    let first_token = app.token("13800000001").await;
    let body = demand("换了令牌再重试");
    let a = post_keyed(&app, "/api/v1/demands", &first_token, "per-user", &body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let before = app.count("demands").await;

    // The same user, logged in again (a new token), retries.
    let second_token = app.token("13800000001").await;
    assert_ne!(first_token, second_token);
    let b = post_keyed(&app, "/api/v1/demands", &second_token, "per-user", &body).await;
    assert_eq!(b.status, StatusCode::CREATED, "{}", b.body);
    assert!(b.replayed, "the same user gets the first answer again");
    assert_eq!(b.body, a.body);
    assert_eq!(app.count("demands").await, before);

    // Another user with the same key and body: a request of their own.
    let other = app.token("13800000002").await;
    let c = post_keyed(&app, "/api/v1/demands", &other, "per-user", &body).await;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.body);
    assert!(!c.replayed, "another user's key is another key");
    assert_ne!(c.json()["id"], a.json()["id"]);
    assert_eq!(app.count("demands").await, before + 1);

    // A logged-out token gets no replay of its user's answers.
    let (s, _) = app
        .post("/api/v1/auth/logout", &first_token, json!({}))
        .await;
    assert!(s.is_success());
    let d = post_keyed(&app, "/api/v1/demands", &first_token, "per-user", &body).await;
    assert_eq!(d.status, StatusCode::UNAUTHORIZED, "{}", d.body);
    assert!(!d.replayed);
}

/// An answer that carries a credential is never kept: a login sent with a
/// key logs in again each time, and no token lands in `idempotency_keys`.
#[tokio::test]
async fn a_login_answer_is_never_kept_under_a_key() {
    let app = spawn_app().await;
    let body = json!({"login": "13800000001", "password": PASSWORD});
    let mut tokens = Vec::new();
    for _ in 0..2 {
        let r = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .header("Idempotency-Key", "login-key")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers().get("idempotency-replayed").is_none());
        let v: Value = r.json().await.unwrap();
        tokens.push(v["token"].as_str().unwrap().to_string());
    }
    assert_ne!(tokens[0], tokens[1]);
    assert_eq!(app.count("idempotency_keys").await, 0);

    // A new Open311 API key is shown once: never kept for a replay either.
    let staff = app.token("community-zq").await;
    let xc = app.node_id(XC).await;
    let mut secrets = Vec::new();
    for _ in 0..2 {
        let r = app
            .client
            .post(app.url("/api/v1/open311/keys"))
            .bearer_auth(&staff)
            .header("Idempotency-Key", "key-key")
            .json(&json!({"name": "物业系统对接", "org_id": xc}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        assert!(r.headers().get("idempotency-replayed").is_none());
        let v: Value = r.json().await.unwrap();
        secrets.push(v["api_key"].as_str().unwrap().to_string());
    }
    assert_ne!(secrets[0], secrets[1]);
    assert_eq!(app.count("idempotency_keys").await, 0);
}

#[tokio::test]
async fn a_keyed_upload_larger_than_the_json_limit_is_taken() {
    // The global body limit (1 MiB by default) is for JSON; a workbook route
    // sets its own (64 MiB), and a keyed upload must reach it.
    let app = spawn_app().await;
    let staff = app.token("community-zq").await;
    let xc = app.node_id(XC).await;
    let big = vec![0u8; 1_200_000];
    let r = app
        .client
        .post(app.url(&format!("/api/v1/org/import/jobs?org={xc}")))
        .bearer_auth(&staff)
        .header("Idempotency-Key", "big-upload")
        .header(
            "content-type",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        .body(big)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    // Taken as a job (which then finds the bytes are no workbook).
    assert_eq!(status, StatusCode::ACCEPTED, "{text}");
}
