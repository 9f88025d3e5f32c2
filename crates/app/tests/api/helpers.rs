//! `spawn_app`: a fresh database with the demo world and a server on port 0.

#![allow(dead_code)]

use kernel::clock::{Clock, ManualClock};
use kernel::crypto::FieldCipher;
use kernel::{Ctx, Db};
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;

pub const TEST_KEY: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";
pub const PASSWORD: &str = "lianxin-demo";

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub ctx: Ctx,
    pub clock: Arc<ManualClock>,
    pub database_url: String,
    /// The SQLite file, when the suite runs on SQLite.
    pub sqlite_file: Option<PathBuf>,
    _dir: Option<tempfile::TempDir>,
    pg_drop: Option<(String, String)>,
}

/// Which backend this run uses.
pub fn on_postgres() -> bool {
    std::env::var("LIANXIN_TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty())
}

/// A fresh, empty database URL for one test.
pub async fn fresh_database() -> (
    String,
    Option<tempfile::TempDir>,
    Option<PathBuf>,
    Option<(String, String)>,
) {
    match std::env::var("LIANXIN_TEST_DATABASE_URL") {
        Ok(admin) if !admin.is_empty() => {
            let name = format!("lxtest_{}", uuid_simple());
            let admin_db = Db::connect(&admin)
                .await
                .expect("connect to LIANXIN_TEST_DATABASE_URL");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(admin_db.reader())
                .await
                .expect("create test database");
            admin_db.close().await;
            let url = replace_db_name(&admin, &name);
            (url, None, None, Some((admin, name)))
        }
        _ => {
            let dir = tempfile::tempdir().expect("temp dir");
            let file = dir.path().join("test.db");
            (
                format!("sqlite://{}", file.display()),
                Some(dir),
                Some(file),
                None,
            )
        }
    }
}

fn uuid_simple() -> String {
    kernel::id::new_id().replace('-', "")
}

/// postgres://u@h:p/db?x → postgres://u@h:p/NAME?x
pub fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[scheme_end..].find('/').map(|i| i + scheme_end);
    let host_part = match path_start {
        Some(i) => &base[..i],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{name}?{q}"),
        None => format!("{host_part}/{name}"),
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_with(true).await
}

pub async fn spawn_empty_app() -> TestApp {
    spawn_with(false).await
}

async fn spawn_with(seed: bool) -> TestApp {
    spawn_configured(seed, |_| {}).await
}

/// A test app with its configuration adjusted (rate limits are off unless
/// a test turns them on: the manual clock never ends a window).
pub async fn spawn_configured(
    seed: bool,
    adjust: impl FnOnce(&mut app::config::Config),
) -> TestApp {
    let (database_url, dir, sqlite_file, pg_drop) = fresh_database().await;
    let db = app::open_database(&database_url)
        .await
        .expect("open database");
    let clock = Arc::new(ManualClock::new(kernel::clock::SystemClock.now_ms()));
    let mut config = app::config::Config::defaults();
    config.demo = true;
    config.login_rate_per_minute = 0;
    config.intake_rate_per_minute = 0;
    adjust(&mut config);
    let ctx = app::context(
        db,
        FieldCipher::from_hex_with(TEST_KEY, config.field_cipher).unwrap(),
        clock.clone(),
        &config,
    );
    if seed {
        app::demo::seed_if_empty(&ctx)
            .await
            .expect("seed demo world");
    }
    let running = app::start(ctx.clone(), "127.0.0.1:0", config.max_body_bytes)
        .await
        .expect("start server");
    TestApp {
        base: format!("http://{}", running.addr),
        client: Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        ctx,
        clock,
        database_url,
        sqlite_file,
        _dir: dir,
        pg_drop,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg_drop.take() {
            // Drop the per-test database on a thread of its own (Drop cannot await).
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    if let Ok(db) = Db::connect(&admin).await {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(db.reader())
                                .await;
                        db.close().await;
                    }
                });
            })
            .join();
        }
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn login_response(&self, login: &str, password: &str) -> Response {
        self.client
            .post(self.url("/api/v1/auth/login"))
            .json(&serde_json::json!({"login": login, "password": password}))
            .send()
            .await
            .unwrap()
    }

    /// Logs in a demo account and returns its bearer token.
    pub async fn token(&self, login: &str) -> String {
        let r = self.login_response(login, PASSWORD).await;
        assert_eq!(r.status(), StatusCode::OK, "login {login}");
        let v: Value = r.json().await.unwrap();
        v["token"].as_str().unwrap().to_string()
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let r = self
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let s = r.status();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let s = r.status();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .client
            .patch(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let s = r.status();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let r = self
            .client
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let s = r.status();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    /// Files a demand as `token`'s resident; returns the created JSON.
    pub async fn file_demand(&self, token: &str, title: &str) -> Value {
        let (s, v) = self
            .post(
                "/api/v1/demands",
                token,
                serde_json::json!({"category": "leak", "title": title, "description": "卫生间顶棚渗水,已经三天了"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v
    }

    /// The id of the org node at `path`.
    pub async fn node_id(&self, path: &str) -> String {
        org::store::get_node_by_path(&self.ctx.db, path)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no node {path}"))
            .id
    }

    pub async fn count(&self, table: &str) -> i64 {
        use sqlx::Row;
        sqlx::query(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(self.ctx.db.reader())
            .await
            .unwrap()
            .get(0)
    }

    pub async fn audit_actions(&self) -> Vec<String> {
        use sqlx::Row;
        sqlx::query("SELECT action FROM audit_events ORDER BY seq")
            .fetch_all(self.ctx.db.reader())
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>(0))
            .collect()
    }
}

pub const XC: &str = "/141100/141102/141102003/141102003001/XC/";
pub const XC_101: &str = "/141100/141102/141102003/141102003001/XC/B1/U1/101/";
pub const XC2_101: &str = "/141100/141102/141102003/141102003001/XC/B2/U1/101/";
pub const FH: &str = "/141100/141102/141102002/141102002003/FH/";
pub const FH_301: &str = "/141100/141102/141102002/141102002003/FH/B3/U1/301/";
pub const ZHANQIAN: &str = "/141100/141102/141102003/141102003001/";
