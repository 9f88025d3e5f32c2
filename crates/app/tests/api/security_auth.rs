//! Authentication controls and 三权分立 (#9): the password policy where a
//! password is set, rotation for staff, the TOTP second factor, idle limits
//! by role, separation of duties, and mass assignment refused on every
//! JSON write.

use crate::helpers::*;
use kernel::clock::Clock;
use kernel::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// An account with one grant at `path` (password `lianxin-demo`, set by
/// the store directly, as the demo seeder does).
async fn account_with(app: &TestApp, login: &str, role: Role, path: &str) -> String {
    let hash = accounts::model::hash_password(PASSWORD);
    let node = org::store::get_node_by_path(&app.ctx.db, path)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no node {path}"));
    let now = app.clock.now_ms();
    let mut tx = app.ctx.db.begin().await.unwrap();
    let id = accounts::store::create_user(&mut tx, &app.ctx.cipher, login, login, &hash, now)
        .await
        .unwrap();
    accounts::store::grant_role(&mut tx, &id, role, &node.id, &node.org_path, None, now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

const CITY: &str = "/141100/";

async fn login_json(app: &TestApp, body: Value) -> (StatusCode, Value) {
    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

fn field_messages(v: &Value, field: &str) -> Vec<String> {
    v["fields"][field]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| m.as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_password_change_applies_the_policy_and_ends_other_sessions() {
    let app = spawn_app().await;
    let t1 = app.token("13800000001").await;
    let t2 = app.token("13800000001").await;
    let change = |cur: &str, new: &str| json!({"current_password": cur, "new_password": new});

    let (s, v) = app
        .post("/api/v1/me/password", &t1, change(PASSWORD, "short1A!"))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(field_messages(&v, "new_password").contains(&"密码至少 12 个字符".to_string()));
    let (s, v) = app
        .post(
            "/api/v1/me/password",
            &t1,
            change(PASSWORD, "Woaini5201314"),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(field_messages(&v, "new_password")
        .iter()
        .any(|m| m.contains("常见")));
    let (s, v) = app
        .post(
            "/api/v1/me/password",
            &t1,
            change(PASSWORD, "x13800000001-Ab"),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(field_messages(&v, "new_password")
        .iter()
        .any(|m| m.contains("登录账号")));
    let (s, v) = app
        .post(
            "/api/v1/me/password",
            &t1,
            change("wrong-one", "Tiger-Lantern-42"),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!field_messages(&v, "current_password").is_empty());
    // Nothing changed so far: the old password still logs in.
    assert_eq!(
        app.login_response("13800000001", PASSWORD).await.status(),
        StatusCode::OK
    );

    let (s, _) = app
        .post(
            "/api/v1/me/password",
            &t1,
            change(PASSWORD, "Tiger-Lantern-42"),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/v1/me", &t1).await.0, StatusCode::OK);
    assert_eq!(
        app.get("/api/v1/me", &t2).await.0,
        StatusCode::UNAUTHORIZED,
        "other sessions end"
    );
    assert_eq!(
        app.login_response("13800000001", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login_response("13800000001", "Tiger-Lantern-42")
            .await
            .status(),
        StatusCode::OK
    );
    assert!(app
        .audit_actions()
        .await
        .contains(&"password_changed".to_string()));
}

#[tokio::test]
async fn an_expired_staff_password_must_be_changed_first() {
    let app = spawn_configured(true, |c| {
        c.demo = false;
        c.require_totp_for_staff = false;
        c.password_max_age_days = 90;
    })
    .await;
    let (s, v) = login_json(&app, json!({"login": "butler-xc", "password": PASSWORD})).await;
    assert_eq!(s, StatusCode::OK);
    assert!(v.get("restriction").is_none(), "{v}");

    app.clock.advance_ms(91 * 86_400_000);
    let (s, v) = login_json(&app, json!({"login": "butler-xc", "password": PASSWORD})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["restriction"], "password_change_required");
    let t = v["token"].as_str().unwrap().to_string();
    let (s, v) = app.get("/api/v1/demands", &t).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(v["code"], "password_change_required");
    assert_eq!(app.get("/api/v1/me", &t).await.0, StatusCode::OK);

    let (s, v) = app
        .post(
            "/api/v1/me/password",
            &t,
            json!({"current_password": PASSWORD, "new_password": "Tiger-Lantern-42"}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    assert_eq!(app.get("/api/v1/demands", &t).await.0, StatusCode::OK);

    // Residents are not made to rotate.
    let (_, v) = login_json(&app, json!({"login": "13800000001", "password": PASSWORD})).await;
    assert!(v.get("restriction").is_none(), "{v}");
}

#[tokio::test]
async fn staff_log_in_with_a_totp_code_outside_demo_mode() {
    let app = spawn_configured(true, |c| {
        c.demo = false;
        c.require_totp_for_staff = true;
        c.password_max_age_days = 0;
    })
    .await;
    // Not yet enrolled: the session may only enrol.
    let (s, v) = login_json(&app, json!({"login": "butler-xc", "password": PASSWORD})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["restriction"], "totp_enrolment_required");
    let t = v["token"].as_str().unwrap().to_string();
    let (s, v) = app.get("/api/v1/demands", &t).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(v["code"], "totp_enrolment_required");
    let (s, v) = app
        .post("/api/v1/me/totp", &t, json!({"password": "wrong"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = app
        .post("/api/v1/me/totp", &t, json!({"password": PASSWORD}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let b32 = v["secret"].as_str().unwrap();
    assert!(v["otpauth_uri"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/Lianxin:butler-xc?secret="));
    let secret = accounts::model::base32_decode(b32).unwrap();
    assert_eq!(secret.len(), 20);
    use sqlx::Row;
    let stored: String =
        sqlx::query("SELECT totp_secret_enc FROM users WHERE totp_secret_enc IS NOT NULL")
            .fetch_one(app.ctx.db.reader())
            .await
            .unwrap()
            .get(0);
    assert!(!stored.contains(b32), "the secret is stored encrypted");

    let (s, v) = login_json(&app, json!({"login": "butler-xc", "password": PASSWORD})).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(v["code"], "totp_required");
    let now = app.clock.now_ms();
    let code = accounts::model::totp_code(&secret, now);
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    let (s, v) = login_json(
        &app,
        json!({"login": "butler-xc", "password": PASSWORD, "totp": wrong}),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(v["code"], "invalid_credentials");
    let (s, v) = login_json(
        &app,
        json!({"login": "butler-xc", "password": PASSWORD, "totp": code}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v.get("restriction").is_none());
    let t = v["token"].as_str().unwrap().to_string();
    assert_eq!(app.get("/api/v1/demands", &t).await.0, StatusCode::OK);
    // The same code never works twice.
    let (s, _) = login_json(
        &app,
        json!({"login": "butler-xc", "password": PASSWORD, "totp": code}),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "a replayed code");
    app.clock.advance_ms(30_000);
    let code = accounts::model::totp_code(&secret, app.clock.now_ms());
    let (s, _) = login_json(
        &app,
        json!({"login": "butler-xc", "password": PASSWORD, "totp": code}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "the next step's code");

    // Residents have no second factor.
    let (s, v) = login_json(&app, json!({"login": "13800000001", "password": PASSWORD})).await;
    assert_eq!(s, StatusCode::OK);
    assert!(v.get("restriction").is_none());
}

#[tokio::test]
async fn separated_roles_idle_out_after_15_minutes_other_staff_after_30() {
    let app = spawn_app().await;
    let auditor = app.token("auditor").await;
    let butler = app.token("butler-xc").await;
    app.clock.advance_ms(14 * 60_000);
    assert_eq!(app.get("/api/v1/me", &auditor).await.0, StatusCode::OK);
    app.clock.advance_ms(16 * 60_000);
    assert_eq!(
        app.get("/api/v1/me", &auditor).await.0,
        StatusCode::UNAUTHORIZED,
        "16 idle minutes end an auditor's session"
    );
    assert_eq!(
        app.get("/api/v1/me", &butler).await.0,
        StatusCode::UNAUTHORIZED,
        "30 idle minutes end any session"
    );
    let butler = app.token("butler-xc").await;
    app.clock.advance_ms(16 * 60_000);
    assert_eq!(app.get("/api/v1/me", &butler).await.0, StatusCode::OK);
}

#[tokio::test]
async fn separation_of_duties_between_system_admin_security_admin_and_auditor() {
    let app = spawn_app().await;
    let sys_id = account_with(&app, "sysadmin-1", Role::Sysadmin, CITY).await;
    account_with(&app, "secadmin-1", Role::Secadmin, CITY).await;
    let sys = app.token("sysadmin-1").await;
    let sec = app.token("secadmin-1").await;

    // The system admin creates accounts, under the password policy.
    let (s, v) = app
        .post(
            "/api/v1/admin/accounts",
            &sys,
            json!({"login": "clerk-9", "display_name": "办事员", "password": "lianxin-demo"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!field_messages(&v, "password").is_empty());
    let (s, v) = app
        .post(
            "/api/v1/admin/accounts",
            &sys,
            json!({"login": "clerk-9", "display_name": "办事员", "password": "Tiger-Lantern-42"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let clerk = v["id"].as_str().unwrap().to_string();
    let district = app.token("district-ls").await;
    let auditor = app.token("auditor").await;
    for who in [&sec, &district, &auditor] {
        let (s, _) = app
            .post(
                "/api/v1/admin/accounts",
                who,
                json!({"login": "clerk-10", "display_name": "x", "password": "Tiger-Lantern-42"}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }

    // The security admin grants roles; a second separated role is refused.
    let city = app.node_id(CITY).await;
    let grant = |role: &str, user: &str| json!({"user_id": user, "role": role, "org_id": city});
    let (s, _) = app
        .post("/api/v1/security/grants", &sys, grant("auditor", &clerk))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "the system admin does not grant");
    let (s, v) = app
        .post("/api/v1/security/grants", &sec, grant("auditor", &clerk))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    for second in ["sysadmin", "secadmin", "auditor"] {
        let before = app.count("role_grants").await;
        let (s, v) = app
            .post("/api/v1/security/grants", &sec, grant(second, &clerk))
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{second}: {v}");
        assert_eq!(v["code"], "separation_of_duties");
        assert_eq!(app.count("role_grants").await, before);
    }
    let (s, v) = app
        .post("/api/v1/security/grants", &sec, grant("sysadmin", &sys_id))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, _) = app
        .post(
            "/api/v1/security/grants",
            &sec,
            grant("no_such_role", &clerk),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // The store refuses it too, and the schema backs it up.
    let now = app.clock.now_ms();
    let node = org::store::get_node_by_path(&app.ctx.db, CITY)
        .await
        .unwrap()
        .unwrap();
    let mut tx = app.ctx.db.begin().await.unwrap();
    let e = accounts::store::grant_role(
        &mut tx,
        &clerk,
        Role::Secadmin,
        &node.id,
        &node.org_path,
        None,
        now,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "separation_of_duties");
    drop(tx);
    let raw = sqlx::query(
        "INSERT INTO role_grants (id, user_id, role, org_id, org_path, created_at) VALUES ($1, $2, 'secadmin', $3, $4, $5)",
    )
    .bind(kernel::id::new_id())
    .bind(&clerk)
    .bind(&node.id)
    .bind(node.org_path.as_str())
    .bind(now)
    .execute(app.ctx.db.writer())
    .await;
    assert!(
        raw.is_err(),
        "the unique index refuses a second separated role"
    );

    // The system admin reads neither residents' data nor the audit log;
    // the security admin no business data.
    let resident: String = {
        use sqlx::Row;
        sqlx::query("SELECT id FROM residents ORDER BY id LIMIT 1")
            .fetch_one(app.ctx.db.reader())
            .await
            .unwrap()
            .get(0)
    };
    let household = app.node_id(XC_101).await;
    for t in [&sys, &sec] {
        assert_eq!(
            app.get("/api/v1/audit/events", t).await.0,
            StatusCode::FORBIDDEN
        );
        let s = app
            .get(&format!("/api/v1/org/residents/{resident}"), t)
            .await
            .0;
        assert!(
            matches!(s, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
            "{s}"
        );
        let s = app
            .get(&format!("/api/v1/org/households/{household}/residents"), t)
            .await
            .0;
        assert!(
            matches!(s, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
            "{s}"
        );
        let (s, v) = app.get("/api/v1/demands", t).await;
        assert!(
            s != StatusCode::OK || v["items"].as_array().is_some_and(|a| a.is_empty()),
            "no demands: {v}"
        );
        let (s, v) = app.get("/api/v1/party/members", t).await;
        assert!(
            s != StatusCode::OK || v["items"].as_array().is_some_and(|a| a.is_empty()),
            "no party members: {v}"
        );
        let s = app
            .get(
                &format!("/api/v1/org/export.xlsx?org={}", app.node_id(XC).await),
                t,
            )
            .await
            .0;
        assert!(
            matches!(s, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
            "{s}"
        );
    }
    // The auditor reads the audit log, and only it.
    let aud = app.token("auditor").await;
    assert_eq!(
        app.get("/api/v1/audit/events", &aud).await.0,
        StatusCode::OK
    );
    let (s, v) = app.get("/api/v1/demands", &aud).await;
    assert!(s != StatusCode::OK || v["items"].as_array().is_some_and(|a| a.is_empty()));
}

/// Mass assignment (OWASP API3): every JSON write refuses fields the caller
/// may not set — org, org_id, role, status, household_id, created_by,
/// version, … — with 422 and a field message, whatever the role, unless the
/// operation's documented body has that field.
#[tokio::test]
async fn every_json_write_refuses_fields_it_does_not_take() {
    let app = spawn_app().await;
    let doc: Value = serde_json::from_str(app::openapi::json()).unwrap();
    let token = app.token("district-ls").await;
    let forbidden = [
        "org",
        "org_id",
        "org_path",
        "role",
        "status",
        "household_id",
        "version",
        "created_by",
        "user_id",
        "id",
        "is_admin",
    ];
    let mut checked = 0;
    let mut failures = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if !["post", "put", "patch"].contains(&method.as_str()) {
                continue;
            }
            let Some(schema) =
                op["requestBody"]["content"]["application/json"]["schema"].as_object()
            else {
                continue;
            };
            let schema = match schema.get("$ref").and_then(|r| r.as_str()) {
                Some(r) => doc
                    .pointer(r.trim_start_matches('#'))
                    .cloned()
                    .unwrap_or(Value::Null),
                None => Value::Object(schema.clone()),
            };
            let props = schema["properties"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            let url = path
                .split('/')
                .map(|seg| {
                    if seg.starts_with('{') {
                        "0190f0f0-0000-7000-8000-000000000000"
                    } else {
                        seg
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            if url == "/api/v1/auth/login" {
                continue;
            }
            for field in forbidden {
                if props.contains_key(field) {
                    continue;
                }
                let r = app
                    .client
                    .request(method.to_uppercase().parse().unwrap(), app.url(&url))
                    .bearer_auth(&token)
                    .json(&Value::Object(
                        [(field.to_string(), json!("x"))].into_iter().collect(),
                    ))
                    .send()
                    .await
                    .unwrap();
                let s = r.status();
                let v: Value = r.json().await.unwrap_or(Value::Null);
                checked += 1;
                if s != StatusCode::UNPROCESSABLE_ENTITY || v["fields"][field].is_null() {
                    failures.push(format!(
                        "{} {url} with {field}: {s} {v}",
                        method.to_uppercase()
                    ));
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Login refuses unknown fields too.
    let (s, v) = login_json(
        &app,
        json!({"login": "butler-xc", "password": PASSWORD, "role": "city_admin"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!v["fields"]["role"].is_null());
}
