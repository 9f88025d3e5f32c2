//! The session cache (accounts::cache) under revocation: a session served
//! from the cache must see a logout, a password change, a grant given or
//! revoked on the very next request, and another process's write within
//! the poll interval. The `auth_epoch` triggers (migration 0083) must watch
//! every column authentication reads, and ignore the once-a-minute touch.

use crate::helpers::*;
use accounts::cache::SessionCache;
use kernel::{Clock, Role};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Row;
use std::time::{Duration, Instant};

/// Uses the session until its access is in the cache (the first requests
/// miss: the cache takes entries once its first poll of the epoch is in).
async fn cached(app: &TestApp, token: &str) {
    let cache = SessionCache::of(&app.ctx);
    let id = accounts::store::session_id(token);
    for _ in 0..200 {
        assert_eq!(app.get("/api/v1/me", token).await.0, StatusCode::OK);
        if cache.get(&id, app.ctx.db.auth_epoch()).is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the session never made it into the cache");
}

fn is_cached(app: &TestApp, token: &str) -> bool {
    SessionCache::of(&app.ctx)
        .get(&accounts::store::session_id(token), app.ctx.db.auth_epoch())
        .is_some()
}

async fn user_id(app: &TestApp, token: &str) -> String {
    let (s, v) = app.get("/api/v1/me", token).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["id"]
        .as_str()
        .or_else(|| v["user_id"].as_str())
        .unwrap_or_else(|| panic!("no user id in /me: {v}"))
        .to_string()
}

/// The epoch's value in the database.
pub(crate) async fn epoch(db: &kernel::Db) -> i64 {
    sqlx::query("SELECT v FROM auth_epoch WHERE id = 1")
        .fetch_one(db.reader())
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_cached_session_ends_at_logout() {
    let app = spawn_app().await;
    let t = app.token("butler-xc").await;
    cached(&app, &t).await;
    let r = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (s, v) = app.get("/api/v1/me", &t).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "served from the cache: {v}");
    assert!(!is_cached(&app, &t));
}

#[tokio::test]
async fn a_password_change_ends_the_other_cached_sessions_at_once() {
    let app = spawn_app().await;
    let here = app.token("butler-xc").await;
    let there = app.token("butler-xc").await;
    cached(&app, &here).await;
    cached(&app, &there).await;
    let (s, v) = app
        .post(
            "/api/v1/me/password",
            &here,
            json!({"current_password": PASSWORD, "new_password": "Tiger-Lantern-42"}),
        )
        .await;
    assert!(s.is_success(), "{s}: {v}");
    assert_eq!(
        app.get("/api/v1/me", &there).await.0,
        StatusCode::UNAUTHORIZED,
        "the other session ended"
    );
    assert_eq!(
        app.get("/api/v1/me", &here).await.0,
        StatusCode::OK,
        "the session that changed it goes on"
    );
}

#[tokio::test]
async fn a_cached_session_gains_and_loses_a_grant_on_the_next_request() {
    let app = spawn_app().await;
    // A security admin to grant with (as security_auth's tests make one).
    let node = org::store::get_node_by_path(&app.ctx.db, "/141100/")
        .await
        .unwrap()
        .unwrap();
    let now = app.clock.now_ms();
    let mut tx = app.ctx.db.begin().await.unwrap();
    let sec_id = accounts::store::create_user(
        &mut tx,
        &app.ctx.cipher,
        "secadmin-c",
        "secadmin-c",
        &accounts::model::hash_password(PASSWORD),
        now,
    )
    .await
    .unwrap();
    accounts::store::grant_role(
        &mut tx,
        &sec_id,
        Role::Secadmin,
        &node.id,
        &node.org_path,
        None,
        now,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let sec = app.token("secadmin-c").await;

    let butler = app.token("butler-xc").await;
    let butler_id = user_id(&app, &butler).await;
    cached(&app, &butler).await;
    assert_eq!(
        app.get("/api/v1/audit/events", &butler).await.0,
        StatusCode::FORBIDDEN
    );
    assert!(is_cached(&app, &butler));

    // Granted through the API: the next request has it.
    let (s, v) = app
        .post(
            "/api/v1/security/grants",
            &sec,
            json!({"user_id": butler_id, "role": "auditor", "org_id": node.id}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let grant = v["id"].as_str().unwrap().to_string();
    assert_eq!(
        app.get("/api/v1/audit/events", &butler).await.0,
        StatusCode::OK,
        "the new grant counts on the next request"
    );
    cached(&app, &butler).await;
    assert_eq!(
        app.get("/api/v1/audit/events", &butler).await.0,
        StatusCode::OK
    );

    // Revoked by this process (there is no revocation endpoint; this is the
    // transaction one would run): the next request has lost it.
    let mut tx = app.ctx.db.begin().await.unwrap();
    sqlx::query("UPDATE role_grants SET revoked_at = $1 WHERE id = $2")
        .bind(app.clock.now_ms())
        .bind(&grant)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        app.get("/api/v1/audit/events", &butler).await.0,
        StatusCode::FORBIDDEN,
        "the revoked grant no longer counts"
    );

    // The same through a single statement on Db::writer.
    let (s, v) = app
        .post(
            "/api/v1/security/grants",
            &sec,
            json!({"user_id": butler_id, "role": "auditor", "org_id": node.id}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    cached(&app, &butler).await;
    assert_eq!(
        app.get("/api/v1/audit/events", &butler).await.0,
        StatusCode::OK
    );
    sqlx::query("UPDATE role_grants SET revoked_at = $1 WHERE user_id = $2 AND role = 'auditor'")
        .bind(app.clock.now_ms())
        .bind(&butler_id)
        .execute(app.ctx.db.writer())
        .await
        .unwrap();
    assert_eq!(
        app.get("/api/v1/audit/events", &butler).await.0,
        StatusCode::FORBIDDEN
    );
}

/// Another process (here: a second connection pool with its own view of
/// the epoch, as the `lianxin` CLI would open) deactivates a user whose
/// session is cached: the server's poll sees it within about a second.
#[tokio::test]
async fn another_process_deactivating_a_user_is_seen_within_the_poll_interval() {
    let app = spawn_app().await;
    let t = app.token("butler-xc").await;
    let id = user_id(&app, &t).await;
    cached(&app, &t).await;
    let other = kernel::Db::connect(&app.database_url).await.unwrap();
    let before = epoch(&other).await;
    let mut tx = other.begin().await.unwrap();
    sqlx::query("UPDATE users SET active = 0 WHERE id = $1")
        .bind(&id)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(epoch(&other).await > before, "the trigger moved the epoch");
    other.close().await;
    // The bound is the poll interval (1 s), at most POLL_STALE (3 s); give
    // a loaded machine some slack, and assert no timing.
    let start = Instant::now();
    loop {
        let (s, _) = app.get("/api/v1/me", &t).await;
        if s == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_eq!(s, StatusCode::OK);
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "another process's deactivation never reached the server"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The triggers of migration 0083 list, per table, the columns whose
/// update moves the epoch: every column but those authentication does not
/// read (a new column must be placed in one list or the other).
#[tokio::test]
async fn epoch_triggers_cover_the_columns_authentication_reads() {
    let app = spawn_empty_app().await;
    let db = &app.ctx.db;
    let not_read: &[(&str, &[&str])] = &[
        // The touch: the server updates its own cache entry.
        ("sessions", &["last_seen_at"]),
        // Login bookkeeping: failed attempts, lockout, the last TOTP step.
        (
            "users",
            &[
                "failed_logins",
                "failed_window_start",
                "locked_until",
                "updated_at",
                "totp_last_step",
            ],
        ),
        ("role_grants", &[]),
        // Authentication reads a resident's household, path and account.
        (
            "residents",
            &[
                "name",
                "phone_enc",
                "phone_index",
                "id_card_enc",
                "id_card_index",
                "tenure",
                "relation",
                "created_at",
                "updated_at",
                "version",
            ],
        ),
    ];
    for (table, skip) in not_read {
        let mut columns: Vec<String> = if on_postgres() {
            sqlx::query(
                "SELECT column_name::text FROM information_schema.columns
                 WHERE table_schema = 'public' AND table_name = $1",
            )
            .bind(table)
            .fetch_all(db.reader())
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
        } else {
            sqlx::query("SELECT name FROM pragma_table_info($1)")
                .bind(table)
                .fetch_all(db.reader())
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect()
        };
        columns.retain(|c| !skip.contains(&c.as_str()));
        columns.sort();
        let mut watched: Vec<String> = if on_postgres() {
            sqlx::query(
                "SELECT DISTINCT event_object_column::text FROM information_schema.triggered_update_columns
                 WHERE event_object_table = $1 AND trigger_name LIKE 'auth_epoch%'",
            )
            .bind(table)
            .fetch_all(db.reader())
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
        } else {
            let sql: String = sqlx::query(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = $1
                 AND name = 'auth_epoch_' || $1 || '_update'",
            )
            .bind(table)
            .fetch_one(db.reader())
            .await
            .unwrap()
            .get(0);
            let list = sql
                .split_once("UPDATE OF ")
                .and_then(|(_, rest)| rest.split_once(" ON "))
                .map(|(cols, _)| cols)
                .unwrap_or_else(|| panic!("no column list: {sql}"));
            list.split(',').map(|c| c.trim().to_string()).collect()
        };
        watched.sort();
        assert_eq!(
            watched, columns,
            "{table}: the epoch's update trigger must watch every column authentication may read"
        );
    }
}

/// The touch does not move the epoch; a revocation, a deactivation and a
/// new grant do, once per transaction.
#[tokio::test]
async fn the_epoch_moves_for_what_authentication_reads_only() {
    let app = spawn_app().await;
    let db = &app.ctx.db;
    let t = app.token("butler-xc").await;
    let uid = user_id(&app, &t).await;
    let sid = accounts::store::session_id(&t);
    let e0 = epoch(db).await;
    accounts::store::touch_session(db, &sid, app.clock.now_ms() + 61_000)
        .await
        .unwrap();
    accounts::store::save_failures(
        db,
        &uid,
        &accounts::model::FailureState {
            failed_logins: 1,
            window_start: 1,
            locked_until: 0,
        },
        app.clock.now_ms(),
    )
    .await
    .unwrap();
    assert_eq!(epoch(db).await, e0, "a touch and a failed login leave it");
    let _other = app.token("butler-xc").await;
    assert_eq!(epoch(db).await, e0, "a new session leaves it");

    let mut tx = db.begin().await.unwrap();
    accounts::store::revoke_session(&mut tx, &sid, app.clock.now_ms())
        .await
        .unwrap();
    sqlx::query("UPDATE users SET display_name = '改名' WHERE id = $1")
        .bind(&uid)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let e1 = epoch(db).await;
    assert!(e1 > e0, "a revocation moves it");
    assert_eq!(db.auth_epoch().known(), Some(e1), "the commit read it");

    sqlx::query("DELETE FROM sessions WHERE id = $1")
        .bind(&sid)
        .execute(db.writer())
        .await
        .unwrap();
    let e2 = epoch(db).await;
    assert!(e2 > e1, "a deletion moves it");
    assert_eq!(db.auth_epoch().known(), Some(e2), "the statement read it");
}
