//! The reference data filings keep in memory (cases::reference): a
//! category's filing terms and a household's chain. A change must reach
//! the next filing: this process's own edit at once, another process's
//! within the epoch poll. Migration 0085's triggers move the epoch.

use crate::auth_cache::epoch;
use crate::helpers::*;
use accounts::cache::SessionCache;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Waits for the epoch's first poll: before it the caches serve nothing,
/// and a test of invalidation would pass without any.
async fn caches_serving(app: &TestApp) {
    let cache = SessionCache::of(&app.ctx);
    for _ in 0..200 {
        if cache.fresh() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the epoch was never polled");
}

async fn file(app: &TestApp, token: &str, category: &str) -> (StatusCode, Value) {
    app.post(
        "/api/v1/demands",
        token,
        json!({"category": category, "title": "楼道漏水", "description": "三单元楼道顶部漏水"}),
    )
    .await
}

#[tokio::test]
async fn an_edited_category_reaches_the_next_filing() {
    let app = spawn_app().await;
    caches_serving(&app).await;
    let resident = app.token("13800000001").await;
    let district = app.token("district-ls").await;
    // Twice: the first fills the cache, the second is served from it.
    for _ in 0..2 {
        let (s, v) = file(&app, &resident, "noise").await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert_eq!(v["urgency"], "normal", "{v}");
    }
    let r = app
        .client
        .put(app.url("/api/v1/demand-categories/noise"))
        .bearer_auth(&district)
        .json(&json!({"name": "噪音扰民", "name_en": "Noise", "default_handler_role": "butler", "default_urgency": "urgent",
                      "limits": {"urgent": {"dispatch_minutes": 20, "feedback_minutes": 120}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (s, v) = file(&app, &resident, "noise").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(
        v["urgency"], "urgent",
        "served the terms from before the edit: {v}"
    );
}

/// Another process (a second pool, as the `lianxin` CLI or an operator's
/// SQL would write) retires a category whose terms are cached: the server
/// refuses filings in it once its poll has seen the epoch move.
#[tokio::test]
async fn another_process_retiring_a_category_is_seen_within_the_poll() {
    let app = spawn_app().await;
    caches_serving(&app).await;
    let resident = app.token("13800000001").await;
    for _ in 0..2 {
        assert_eq!(
            file(&app, &resident, "parking").await.0,
            StatusCode::CREATED
        );
    }
    let other = kernel::Db::connect(&app.database_url).await.unwrap();
    let before = epoch(&other).await;
    let mut tx = other.begin().await.unwrap();
    sqlx::query("UPDATE demand_categories SET active = 0 WHERE code = 'parking'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(epoch(&other).await > before, "the trigger moved the epoch");
    other.close().await;
    // The bound is the poll (1 s, at most 3 s); slack for a loaded machine.
    let start = Instant::now();
    loop {
        let (s, v) = file(&app, &resident, "parking").await;
        if s == StatusCode::UNPROCESSABLE_ENTITY {
            assert!(v["fields"]["category"].is_array(), "{v}");
            break;
        }
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "another process's change never reached the server"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every table behind the cached reference data moves the epoch: a
/// category's limits, and an org node renamed or removed (a household's
/// chain). A new node does not (it changes no existing chain).
#[tokio::test]
async fn limits_and_org_nodes_move_the_epoch() {
    let app = spawn_app().await;
    let db = &app.ctx.db;
    let moves = |sql: &'static str| async move {
        let before = epoch(db).await;
        let mut tx = db.begin().await.unwrap();
        sqlx::query(sql).execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        epoch(db).await > before
    };
    assert!(moves("UPDATE category_limits SET feedback_minutes = feedback_minutes + 1 WHERE category = 'leak'").await);
    assert!(moves("DELETE FROM category_limits WHERE category = 'leak' AND urgency = 'low'").await);
    assert!(moves("INSERT INTO category_limits (category, urgency, dispatch_minutes, feedback_minutes, natural_clock) VALUES ('leak', 'low', 60, 600, 0)").await);
    assert!(moves("UPDATE org_nodes SET name = name || '·' WHERE org_path = '/141100/'").await);
    let parent = app.node_id("/141100/").await;
    let now = kernel::Clock::now_ms(&*app.clock);
    let mut tx = db.begin().await.unwrap();
    let before = epoch(db).await;
    sqlx::query(
        "INSERT INTO org_nodes (id, parent_id, kind, code, name, org_path, version, created_at, updated_at)
         VALUES ('0190a000-0000-7000-8000-00000000beef', $1, 'district', '149999', '试验区', '/141100/149999/', 1, $2, $2)",
    )
    .bind(&parent)
    .bind(now)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(epoch(db).await, before, "a new node moved the epoch");
    assert!(moves("DELETE FROM org_nodes WHERE org_path = '/141100/149999/'").await);
}
