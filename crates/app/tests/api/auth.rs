//! Logins, lockout, sessions, logout — and their audit rows.

use crate::helpers::*;
use reqwest::StatusCode;

#[tokio::test]
async fn every_demo_account_can_log_in() {
    let app = spawn_app().await;
    for (login, name, _) in app::demo::ACCOUNTS {
        let r = app.login_response(login, PASSWORD).await;
        assert_eq!(r.status(), StatusCode::OK, "{login}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["user"]["display_name"], *name);
        assert!(v["token"].as_str().unwrap().len() >= 40);
        let expires = v["expires_at"].as_str().unwrap();
        assert!(
            expires.ends_with("+08:00"),
            "RFC 3339 in Asia/Shanghai: {expires}"
        );
    }
}

#[tokio::test]
async fn wrong_password_and_unknown_login_are_401_and_audited() {
    let app = spawn_app().await;
    let r = app.login_response("butler-xc", "wrong-password").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["code"], "invalid_credentials");
    let r = app.login_response("nobody-here", "whatever").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let actions = app.audit_actions().await;
    assert_eq!(actions.iter().filter(|a| *a == "login_failed").count(), 2);
}

#[tokio::test]
async fn five_failures_lock_the_account_with_retry_after() {
    let app = spawn_app().await;
    for i in 0..4 {
        let r = app.login_response("13800000001", "bad").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "failure {i}");
    }
    let r = app.login_response("13800000001", "bad").await;
    assert_eq!(r.status(), StatusCode::LOCKED);
    let retry: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((890..=900).contains(&retry), "{retry}");
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["code"], "account_locked");

    // Even the right password is refused while locked …
    let r = app.login_response("13800000001", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::LOCKED);
    assert!(app
        .audit_actions()
        .await
        .contains(&"account_locked".to_string()));

    // … and accepted once the lock has run out.
    app.clock.advance_ms(15 * 60_000 + 1_000);
    let r = app.login_response("13800000001", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn failures_spread_over_more_than_the_window_do_not_lock() {
    let app = spawn_app().await;
    for _ in 0..8 {
        let r = app.login_response("butler-xc", "bad").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        app.clock.advance_ms(4 * 60_000);
    }
    assert_eq!(
        app.login_response("butler-xc", PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn login_accepts_phone_spellings() {
    let app = spawn_app().await;
    assert_eq!(
        app.login_response("138 0000 0001", PASSWORD).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.login_response("+8613800000001", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.login_response("BUTLER-XC", PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn logout_revokes_the_token_server_side() {
    let app = spawn_app().await;
    let t = app.token("butler-xc").await;
    assert_eq!(app.get("/api/v1/me", &t).await.0, StatusCode::OK);
    let r = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (s, v) = app.get("/api/v1/me", &t).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(v["code"], "unauthenticated");
    assert!(app.audit_actions().await.contains(&"logout".to_string()));
}

#[tokio::test]
async fn sessions_expire_when_idle_and_at_the_absolute_limit() {
    let app = spawn_app().await;
    let t = app.token("butler-xc").await;
    app.clock.advance_ms(29 * 60_000);
    assert_eq!(
        app.get("/api/v1/me", &t).await.0,
        StatusCode::OK,
        "used within the idle limit"
    );
    app.clock.advance_ms(31 * 60_000);
    assert_eq!(
        app.get("/api/v1/me", &t).await.0,
        StatusCode::UNAUTHORIZED,
        "idle for 31 minutes"
    );

    // Kept busy, a session still ends 12 hours after login.
    let t = app.token("butler-xc").await;
    for _ in 0..25 {
        app.clock.advance_ms(29 * 60_000);
        let _ = app.get("/api/v1/me", &t).await;
    }
    assert_eq!(app.get("/api/v1/me", &t).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn me_shows_grants_and_households() {
    let app = spawn_app().await;
    let t = app.token("community-zq").await;
    let (_, v) = app.get("/api/v1/me", &t).await;
    assert_eq!(v["grants"][0]["role"], "community_staff");
    assert_eq!(v["grants"][0]["org_path"], ZHANQIAN);
    let t = app.token("13800000001").await;
    let (_, v) = app.get("/api/v1/me", &t).await;
    assert_eq!(v["households"][0]["org_path"], XC_101);
}

#[tokio::test]
async fn successful_logins_are_audited_with_a_place() {
    let app = spawn_app().await;
    app.token("street-cb").await;
    use sqlx::Row;
    let row = sqlx::query("SELECT org_path, detail FROM audit_events WHERE action = 'login' ORDER BY seq DESC LIMIT 1")
        .fetch_one(app.ctx.db.reader())
        .await
        .unwrap();
    assert_eq!(row.get::<String, _>(0), "/141100/141102/141102003/");
    assert!(!row.get::<String, _>(1).contains(PASSWORD));
}

#[tokio::test]
async fn logins_and_filings_are_rate_limited() {
    let app = spawn_configured(true, |c| {
        c.login_rate_per_minute = 3;
        c.intake_rate_per_minute = 2;
    })
    .await;
    for _ in 0..3 {
        let _ = app.login_response("butler-xc", "wrong").await;
    }
    let r = app.login_response("13800000001", PASSWORD).await;
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "per client address, whatever the account"
    );
    assert!(
        r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
            >= 1
    );
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["code"], "too_many_requests");
    app.clock.advance_ms(61_000);
    let t = app.token("13800000001").await;

    app.file_demand(&t, "限流一").await;
    app.file_demand(&t, "限流二").await;
    let before = app.count("demands").await;
    let (s, _) = app
        .post("/api/v1/demands", &t, serde_json::json!({"category": "leak", "title": "限流三", "description": "第三条在一分钟之内"}))
        .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.count("demands").await, before, "nothing written");
}
