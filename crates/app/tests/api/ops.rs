//! Operations through the real binary: `lianxin backup` while the server
//! takes writes, `lianxin restore` (refusing a tampered backup),
//! `lianxin audit verify` finding the first tampered row; the logs, the
//! audit rows, the database file and a backup holding no planted secret;
//! an audit row that cannot be written stops the change; secure_delete.

use crate::binary::{login, World};
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Row;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Every table's full content, each row rendered by SQLite's `quote()`.
async fn dump(db: &kernel::Db) -> Vec<(String, Vec<String>)> {
    let tables: Vec<String> = sqlx::query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(db.reader())
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect();
    let mut out = Vec::new();
    for t in tables {
        let cols: Vec<String> = sqlx::query(&format!("SELECT name FROM pragma_table_info('{t}')"))
            .fetch_all(db.reader())
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let expr = cols
            .iter()
            .map(|c| format!("quote(\"{c}\")"))
            .collect::<Vec<_>>()
            .join(" || '|' || ");
        let rows: Vec<String> = sqlx::query(&format!(
            "SELECT x FROM (SELECT {expr} AS x FROM \"{t}\") ORDER BY x"
        ))
        .fetch_all(db.reader())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
        out.push((t, rows));
    }
    out
}

async fn file(client: &reqwest::Client, base: &str, token: &str, title: &str) -> StatusCode {
    client
        .post(format!("{base}/api/v1/demands"))
        .bearer_auth(token)
        .json(&json!({"category": "leak", "title": title, "description": "卫生间顶棚渗水"}))
        .send()
        .await
        .map(|r| r.status())
        .unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
}

#[tokio::test]
async fn backup_while_serving_then_restore_and_verify() {
    let world = World::new();
    let mut server = world.start("info").await;
    let client = reqwest::Client::new();
    let token = login(&client, &server.base, "13800000001").await;
    let url = world.database_url();

    // Writers keep going while the backup is taken.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (client, base, token, stop) = (
            client.clone(),
            server.base.clone(),
            token.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                assert_eq!(
                    file(&client, &base, &token, &format!("备份中-{n}")).await,
                    StatusCode::CREATED
                );
                n += 1;
            }
            n
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let online = world.path().join("backup-online");
    let (ok, out) = {
        let w = world.path().to_path_buf();
        let (online, url) = (online.clone(), url.clone());
        tokio::task::spawn_blocking(move || {
            let o = std::process::Command::new(crate::binary::BIN)
                .args(["backup", "--output"])
                .arg(&online)
                .args(["--database-url", &url])
                .current_dir(w)
                .output()
                .unwrap();
            (
                o.status.success(),
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                ),
            )
        })
        .await
        .unwrap()
    };
    assert!(ok, "{out}");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    stop.store(true, Ordering::SeqCst);
    let written = writer.await.unwrap();
    assert!(written > 0);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(online.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["backend"], "sqlite");
    assert!(manifest["schema_version"].as_i64().unwrap() >= 30);
    assert_eq!(
        manifest["files"][0]["sha256"].as_str().unwrap(),
        kernel::crypto::sha256_hex(&std::fs::read(online.join("lianxin.db")).unwrap())
    );

    // The online copy restores into a fresh path and is whole.
    let restored = world.path().join("restored/online.db");
    let restored_url = format!("sqlite://{}", restored.display());
    let (ok, out) = world.run(&[
        "restore",
        "--from",
        online.to_str().unwrap(),
        "--database-url",
        &restored_url,
    ]);
    assert!(ok, "{out}");
    let (ok, out) = world.run(&["audit", "verify", "--database-url", &restored_url]);
    assert!(ok, "{out}");
    assert!(out.contains("OK"), "{out}");
    {
        let db = kernel::Db::connect(&restored_url).await.unwrap();
        let check: String = sqlx::query("PRAGMA integrity_check")
            .fetch_one(db.reader())
            .await
            .unwrap()
            .get(0);
        assert_eq!(check, "ok");
        let orphans: i64 = sqlx::query(
            "SELECT COUNT(*) FROM demands d WHERE NOT EXISTS
               (SELECT 1 FROM demand_events e WHERE e.demand_id = d.id)",
        )
        .fetch_one(db.reader())
        .await
        .unwrap()
        .get(0);
        assert_eq!(orphans, 0, "a consistent snapshot");
        db.close().await;
    }
    // A second restore onto the same target is refused.
    let (ok, out) = world.run(&[
        "restore",
        "--from",
        online.to_str().unwrap(),
        "--database-url",
        &restored_url,
    ]);
    assert!(!ok, "{out}");

    // Quiet now (the server stopped, so no job writes either): a backup
    // equals the live database table by table.
    server.kill();
    let quiet = world.path().join("backup-quiet");
    let (ok, out) = world.run(&[
        "backup",
        "--output",
        quiet.to_str().unwrap(),
        "--database-url",
        &url,
    ]);
    assert!(ok, "{out}");
    let copy = world.path().join("restored/quiet.db");
    let copy_url = format!("sqlite://{}", copy.display());
    let (ok, out) = world.run(&[
        "restore",
        "--from",
        quiet.to_str().unwrap(),
        "--database-url",
        &copy_url,
    ]);
    assert!(ok, "{out}");
    let live = kernel::Db::connect(&url).await.unwrap();
    let back = kernel::Db::connect(&copy_url).await.unwrap();
    let (a, b) = (dump(&live).await, dump(&back).await);
    assert!(a.len() > 30, "every table: {}", a.len());
    assert!(a
        .iter()
        .any(|(t, rows)| t == "demands" && rows.len() as i64 >= written));
    for ((ta, ra), (tb, rb)) in a.iter().zip(b.iter()) {
        assert_eq!(ta, tb);
        assert_eq!(ra, rb, "table {ta} differs after restore");
    }
    assert_eq!(a.len(), b.len());
    live.close().await;
    back.close().await;

    // A tampered backup is refused before anything is written.
    let mut bytes = std::fs::read(quiet.join("lianxin.db")).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(quiet.join("lianxin.db"), bytes).unwrap();
    let target = world.path().join("restored/tampered.db");
    let (ok, out) = world.run(&[
        "restore",
        "--from",
        quiet.to_str().unwrap(),
        "--database-url",
        &format!("sqlite://{}", target.display()),
    ]);
    assert!(!ok, "{out}");
    assert!(out.contains("manifest"), "{out}");
    assert!(!target.exists());
}

#[tokio::test]
async fn audit_verify_names_the_first_tampered_row() {
    let world = World::new();
    let mut server = world.start("info").await;
    let client = reqwest::Client::new();
    let token = login(&client, &server.base, "13800000001").await;
    for i in 0..3 {
        assert_eq!(
            file(&client, &server.base, &token, &format!("审计-{i}")).await,
            StatusCode::CREATED
        );
    }
    server.kill();
    let url = world.database_url();
    let (ok, out) = world.run(&["audit", "verify", "--database-url", &url]);
    assert!(ok, "{out}");
    assert!(out.contains("OK"), "{out}");

    // Tamper with one row in the middle (the append-only trigger must go
    // first: only someone with the file itself can do this).
    let db = kernel::Db::connect(&url).await.unwrap();
    let (seq, id): (i64, String) = {
        let r = sqlx::query(
            "SELECT seq, id FROM audit_events WHERE action = 'demand_created' ORDER BY seq LIMIT 1",
        )
        .fetch_one(db.reader())
        .await
        .unwrap();
        (r.get(0), r.get(1))
    };
    sqlx::query("DROP TRIGGER audit_events_no_update")
        .execute(db.writer())
        .await
        .unwrap();
    sqlx::query("UPDATE audit_events SET detail = '{}' WHERE seq = $1")
        .bind(seq)
        .execute(db.writer())
        .await
        .unwrap();
    db.close().await;
    let (ok, out) = world.run(&["audit", "verify", "--database-url", &url]);
    assert!(!ok, "tamper must fail the check: {out}");
    assert!(out.contains(&format!("seq={seq}")), "{out}");
    assert!(out.contains(&id), "{out}");
}

#[tokio::test]
async fn no_log_line_audit_row_database_byte_or_backup_holds_a_planted_secret() {
    const PASSWORD: &str = "Planted-Secret-Pw-7731";
    const PHONE: &str = "13987654321";
    const ID_CARD: &str = "11010519491231002X";
    let world = World::new();
    let mut server = world.start("debug").await;
    let client = reqwest::Client::new();
    let base = server.base.clone();
    // A wrong password for a real account (audited as a failed login).
    let r = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"login": "13800000002", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let token = login(&client, &base, "street-cb").await;
    // A resident with the planted phone and ID number, then read back.
    let db = kernel::Db::connect(&world.database_url()).await.unwrap();
    let household: String = sqlx::query("SELECT id FROM org_nodes WHERE org_path = $1")
        .bind(XC_101)
        .fetch_one(db.reader())
        .await
        .unwrap()
        .get(0);
    let r = client
        .post(format!(
            "{base}/api/v1/org/households/{household}/residents"
        ))
        .bearer_auth(&token)
        .json(&json!({"name": "植入测试", "phone": PHONE, "id_card": ID_CARD, "tenure": "tenant"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    let r = client
        .get(format!(
            "{base}/api/v1/org/households/{household}/residents"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Bad requests and a missing object, to make the server log errors too.
    let _ = client
        .post(format!("{base}/api/v1/demands"))
        .bearer_auth(&token)
        .body("{not json")
        .send()
        .await;
    let _ = client
        .get(format!(
            "{base}/api/v1/demands/00000000-0000-0000-0000-000000000000"
        ))
        .bearer_auth(&token)
        .send()
        .await;
    let backup = world.path().join("secrets-backup");
    let (ok, out) = world.run(&[
        "backup",
        "--output",
        backup.to_str().unwrap(),
        "--database-url",
        &world.database_url(),
    ]);
    assert!(ok, "{out}");
    server.kill();

    let log = world.log_text();
    assert!(log.contains("request"), "the log was captured: {log}");
    let secrets = [PASSWORD, token.as_str(), PHONE, ID_CARD];
    for s in secrets {
        assert!(!log.contains(s), "{s} in the server log");
    }
    // Every column of every audit row.
    let rows = sqlx::query(
        "SELECT COALESCE(actor_id,'') || action || object_type || COALESCE(object_id,'') ||
                COALESCE(org_path,'') || detail || COALESCE(ip,'') FROM audit_events",
    )
    .fetch_all(db.reader())
    .await
    .unwrap();
    assert!(rows.len() > 2);
    for r in rows {
        let text: String = r.get(0);
        for s in secrets {
            assert!(!text.contains(s), "{s} in an audit row: {text}");
        }
    }
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(db.writer())
        .await
        .unwrap();
    db.close().await;
    let file = world.db_file();
    let mut bytes = std::fs::read(&file).unwrap();
    if let Ok(wal) = std::fs::read(file.with_extension("db-wal")) {
        bytes.extend(wal);
    }
    let backup_bytes = std::fs::read(backup.join("lianxin.db")).unwrap();
    assert!(contains(&bytes, "植入测试"), "the scan reads real rows");
    assert!(
        contains(&backup_bytes, "植入测试"),
        "the backup holds the rows"
    );
    for s in [PASSWORD, PHONE, ID_CARD] {
        assert!(!contains(&bytes, s), "{s} in the database file");
        assert!(!contains(&backup_bytes, s), "{s} in the backup");
    }
}

#[tokio::test]
async fn a_change_whose_audit_row_cannot_be_written_does_not_happen() {
    let app = spawn_app().await;
    let t = app.token("13800000001").await;
    let before = app.count("demands").await;
    let events = app.count("demand_events").await;
    let outbox = app.count("notify_outbox").await;
    // Test-only: the audit table refuses inserts.
    if on_postgres() {
        sqlx::raw_sql(
            "CREATE FUNCTION test_audit_down() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN RAISE EXCEPTION 'audit down'; END; $$;
             CREATE TRIGGER test_audit_down BEFORE INSERT ON audit_events
             FOR EACH ROW EXECUTE FUNCTION test_audit_down();",
        )
        .execute(app.ctx.db.writer())
        .await
        .unwrap();
    } else {
        sqlx::query(
            "CREATE TRIGGER test_audit_down BEFORE INSERT ON audit_events
             BEGIN SELECT RAISE(ABORT, 'audit down'); END",
        )
        .execute(app.ctx.db.writer())
        .await
        .unwrap();
    }
    let (s, v) = app
        .post(
            "/api/v1/demands",
            &t,
            json!({"category": "leak", "title": "无审计不落库", "description": "卫生间顶棚渗水"}),
        )
        .await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR, "{v}");
    assert!(
        !v.to_string().contains("audit down"),
        "no internals leak: {v}"
    );
    assert_eq!(app.count("demands").await, before);
    assert_eq!(app.count("demand_events").await, events);
    assert_eq!(app.count("notify_outbox").await, outbox);
}

#[tokio::test]
async fn secure_delete_wipes_a_deleted_residents_ciphertext_from_the_file() {
    let app = spawn_app().await;
    let Some(file) = app.sqlite_file.clone() else {
        return; // SQLite only.
    };
    let t = app.token("street-cb").await;
    let h = app.node_id(XC_101).await;
    let (s, v) = app
        .post(
            &format!("/api/v1/org/households/{h}/residents"),
            &t,
            json!({"name": "待删除住户", "phone": "13911112222", "id_card": "11010519491231002X"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let enc: String = sqlx::query("SELECT phone_enc FROM residents WHERE id = $1")
        .bind(&id)
        .fetch_one(app.ctx.db.reader())
        .await
        .unwrap()
        .get(0);
    let checkpoint = || async {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(app.ctx.db.writer())
            .await
            .unwrap();
    };
    checkpoint().await;
    let read = || {
        let mut b = std::fs::read(&file).unwrap();
        if let Ok(wal) = std::fs::read(file.with_extension("db-wal")) {
            b.extend(wal);
        }
        b
    };
    assert!(contains(&read(), &enc), "the ciphertext is in the file");
    assert!(contains(&read(), "待删除住户"));
    sqlx::query("DELETE FROM residents WHERE id = $1")
        .bind(&id)
        .execute(app.ctx.db.writer())
        .await
        .unwrap();
    checkpoint().await;
    let bytes = read();
    assert!(
        !contains(&bytes, &enc),
        "deleted ciphertext left in the file"
    );
    assert!(
        !contains(&bytes, "待删除住户"),
        "deleted name left in the file"
    );
}

/// Every `*_enc` value in the database.
async fn encrypted_values(db: &kernel::Db) -> Vec<(String, String)> {
    let sql = if on_postgres() {
        "SELECT table_name::text, column_name::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND column_name LIKE '%\\_enc'"
    } else {
        "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
         WHERE m.type = 'table' AND p.name LIKE '%\\_enc' ESCAPE '\\'"
    };
    let cols: Vec<(String, String)> = sqlx::query(sql)
        .fetch_all(db.reader())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(cols.len() >= 6, "{cols:?}");
    let mut out = Vec::new();
    for (t, c) in cols {
        for r in sqlx::query(&format!(
            "SELECT {c} FROM {t} WHERE {c} IS NOT NULL ORDER BY id"
        ))
        .fetch_all(db.reader())
        .await
        .unwrap()
        {
            out.push((format!("{t}.{c}"), r.get::<String, _>(0)));
        }
    }
    out
}

#[tokio::test]
async fn rotate_key_re_encrypts_everything_under_the_new_key() {
    use kernel::crypto::{Algorithm, FieldCipher};
    const NEW_KEY: &str = "7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b";
    let app = spawn_app().await;
    let old = app.ctx.cipher.clone();
    let new = FieldCipher::from_hex_with(NEW_KEY, Algorithm::Sm4Gcm).unwrap();
    let before = encrypted_values(&app.ctx.db).await;
    assert!(before.len() > 20);
    assert!(before.iter().all(|(_, v)| old.decrypt(v).is_some()));

    // The wrong old key changes nothing.
    let wrong = FieldCipher::from_hex(&"01".repeat(32)).unwrap();
    assert!(app::ops::rotate_key(&app.ctx.db, &wrong, &new)
        .await
        .is_err());
    assert_eq!(encrypted_values(&app.ctx.db).await, before);

    let r = app::ops::rotate_key(&app.ctx.db, &old, &new).await.unwrap();
    assert_eq!(r.values as usize, before.len());
    assert!(r.indexes > 10);
    let after = encrypted_values(&app.ctx.db).await;
    assert_eq!(after.len(), before.len());
    for ((col, a), (_, b)) in before.iter().zip(after.iter()) {
        assert_eq!(old.decrypt(a), new.decrypt(b), "{col}: same plaintext");
        assert!(
            old.decrypt(b).is_none(),
            "{col}: the old key no longer reads it"
        );
        assert!(b.starts_with("v2:sm4:"), "{col}: {b}");
    }
    // Blind indexes follow the new key: exact-match lookups still work.
    let row = sqlx::query("SELECT phone_enc, phone_index FROM residents WHERE name = '樊一新'")
        .fetch_one(app.ctx.db.reader())
        .await
        .unwrap();
    let phone = new.decrypt(&row.get::<String, _>(0)).unwrap();
    assert_eq!(row.get::<String, _>(1), new.blind_index("phone", &phone));
    let n: i64 = sqlx::query("SELECT COUNT(*) FROM users WHERE login_index = $1")
        .bind(new.blind_index("login", "13800000001"))
        .fetch_one(app.ctx.db.reader())
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);

    // A server on the new key logs the resident in; the old one cannot.
    let config = app::config::Config::defaults();
    let ctx = app::context(app.ctx.db.clone(), new, app.clock.clone(), &config);
    let running = app::start(ctx, "127.0.0.1:0", config.max_body_bytes)
        .await
        .unwrap();
    let r = app
        .client
        .post(format!("http://{}/api/v1/auth/login", running.addr))
        .json(&json!({"login": "13800000001", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.login_response("13800000001", PASSWORD).await;
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "the old key finds no one"
    );
}

#[tokio::test]
async fn rotate_key_through_the_binary() {
    const NEW_KEY: &str = "3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c";
    let world = World::new();
    let mut server = world.start("info").await;
    server.kill();
    let old_key = world.demo_key();
    let (ok, out) = world.run(&[
        "rotate-key",
        "--old-key",
        &old_key,
        "--new-key",
        NEW_KEY,
        "--database-url",
        &world.database_url(),
    ]);
    assert!(ok, "{out}");
    assert!(out.contains("key rotated"), "{out}");
    // The demo on its old key finds no account any more …
    let mut server = world.start("info").await;
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&json!({"login": "13800000001", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    server.kill();
    // … and on the new one everything is there.
    std::fs::write(world.path().join("data/demo.key"), NEW_KEY).unwrap();
    let server = world.start("info").await;
    login(&client, &server.base, "13800000001").await;
}

/// Every stored blind index: (table.column, value), erased accounts left out.
async fn blind_indexes(db: &kernel::Db) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (t, c, from) in [
        ("users", "login_index", "login_enc"),
        ("residents", "phone_index", "phone_enc"),
        ("residents", "id_card_index", "id_card_enc"),
        ("party_members", "id_card_index", "profile_enc"),
        ("party_members", "user_index", "profile_enc"),
    ] {
        for r in sqlx::query(&format!(
            "SELECT {c} FROM {t} WHERE {c} IS NOT NULL AND {from} <> '' ORDER BY id"
        ))
        .fetch_all(db.reader())
        .await
        .unwrap()
        {
            out.push((format!("{t}.{c}"), r.get::<String, _>(0)));
        }
    }
    out
}

/// A 密评 deployment (`field_cipher = "sm4-gcm"`): values are SM4-GCM,
/// blind indexes HMAC-SM3 (tagged `sm3:`), and everything that finds a
/// person by an exact value still works: logins by phone in any spelling
/// and by account name, the party register's duplicate check by ID number,
/// a member finding their own record.
#[tokio::test]
async fn in_sm4_mode_blind_indexes_are_hmac_sm3_and_lookups_work() {
    use kernel::crypto::{Algorithm, FieldCipher};
    let app = spawn_configured(true, |c| c.field_cipher = Algorithm::Sm4Gcm).await;
    let sm4 = &app.ctx.cipher;
    assert_eq!(sm4.algorithm(), Algorithm::Sm4Gcm);
    let values = encrypted_values(&app.ctx.db).await;
    assert!(values.iter().all(|(_, v)| v.starts_with("v2:sm4:")));
    let indexes = blind_indexes(&app.ctx.db).await;
    assert!(indexes.len() > 20, "{indexes:?}");
    for (col, v) in &indexes {
        assert!(v.starts_with("sm3:") && v.len() == 68, "{col}: {v}");
    }
    // The HMAC-SHA256 index of a known phone is nowhere.
    let aes = FieldCipher::from_hex(TEST_KEY).unwrap();
    let sha = aes.blind_index("login", "13800000001");
    assert!(indexes.iter().all(|(_, v)| *v != sha));
    assert_eq!(
        indexes
            .iter()
            .filter(
                |(c, v)| c == "users.login_index" && *v == sm4.blind_index("login", "13800000001")
            )
            .count(),
        1
    );
    app::ops::check_blind_indexes(&app.ctx.db, sm4)
        .await
        .unwrap();
    assert!(app::ops::check_blind_indexes(&app.ctx.db, &aes)
        .await
        .is_err());

    // Logins by phone (another spelling too) and by account name.
    for login in ["13800000001", "+86 138-0000-0001", "branch-fh"] {
        let r = app.login_response(login, PASSWORD).await;
        assert_eq!(r.status(), StatusCode::OK, "{login}");
    }
    // The party register finds a duplicate ID number through its index.
    let t = app.token("branch-fh").await;
    let (s, v) = app.get("/api/v1/party/orgs", &t).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let fh = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "泛华盛世小区党支部")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let member = |name: &str| {
        json!({"branch_id": fh, "name": name, "status": "full", "joined_on": "2010-07-01",
               "full_on": "2011-07-01", "mode": "resident", "id_card": "14110219850312001X"})
    };
    let (s, v) = app
        .post("/api/v1/party/members", &t, member("国密一"))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = app
        .post("/api/v1/party/members", &t, member("国密二"))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["fields"]["id_card"].is_array(), "{v}");
}

/// Switching a database to SM4 in place: `rotate-key` with the same key
/// and `field_cipher = "sm4-gcm"` recomputes every blind index as HMAC-SM3
/// (the tag says which), the start-up check then passes for SM4 and refuses
/// AES, and a server in SM4 mode logs residents in.
#[tokio::test]
async fn rotate_key_recomputes_blind_indexes_when_switching_to_sm4() {
    use kernel::crypto::{Algorithm, FieldCipher};
    let app = spawn_app().await;
    let aes = app.ctx.cipher.clone();
    let sm4 = FieldCipher::from_hex_with(TEST_KEY, Algorithm::Sm4Gcm).unwrap();
    app::ops::check_blind_indexes(&app.ctx.db, &aes)
        .await
        .unwrap();
    let err = app::ops::check_blind_indexes(&app.ctx.db, &sm4)
        .await
        .unwrap_err();
    assert!(err.contains("rotate-key"), "{err}");
    // An erased account (a processed deletion) has no login to re-encrypt.
    sqlx::query("UPDATE users SET login_enc = '', login_index = 'erased:x' WHERE id = (SELECT user_id FROM residents WHERE name = '王勇' AND user_id IS NOT NULL LIMIT 1)")
        .execute(app.ctx.db.writer())
        .await
        .unwrap();
    let before = blind_indexes(&app.ctx.db).await;
    assert!(before.iter().all(|(_, v)| !v.contains(':')));

    let r = app::ops::rotate_key(&app.ctx.db, &aes, &sm4).await.unwrap();
    assert!(r.indexes as usize >= before.len());
    let after = blind_indexes(&app.ctx.db).await;
    assert_eq!(after.len(), before.len());
    for (col, v) in &after {
        assert!(v.starts_with("sm3:"), "{col}: {v}");
    }
    app::ops::check_blind_indexes(&app.ctx.db, &sm4)
        .await
        .unwrap();
    assert!(app::ops::check_blind_indexes(&app.ctx.db, &aes)
        .await
        .is_err());
    let mut config = app::config::Config::defaults();
    config.field_cipher = Algorithm::Sm4Gcm;
    let ctx = app::context(app.ctx.db.clone(), sm4, app.clock.clone(), &config);
    let running = app::start(ctx, "127.0.0.1:0", config.max_body_bytes)
        .await
        .unwrap();
    let r = app
        .client
        .post(format!("http://{}/api/v1/auth/login", running.addr))
        .json(&json!({"login": "13800000001", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    running.handle.abort();
}

/// PostgreSQL (when the suite runs on it and `pg_dump` is installed):
/// `backup` through pg_dump, `restore` through pg_restore into a new empty
/// database, every table's row count equal and the audit chain intact.
#[tokio::test]
async fn postgres_backup_and_restore_through_pg_dump() {
    if !on_postgres()
        || std::process::Command::new("pg_dump")
            .arg("--version")
            .output()
            .is_err()
    {
        return;
    }
    let app = spawn_app().await;
    let t = app.token("13800000001").await;
    app.file_demand(&t, "备份前的诉求").await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pg");
    let m = app::ops::backup(&app.ctx.db, &app.database_url, &out)
        .await
        .unwrap();
    assert_eq!(m.backend, "postgres");
    assert!(out.join("lianxin.pgdump").exists());

    // A new, empty database as the target.
    let admin = std::env::var("LIANXIN_TEST_DATABASE_URL").unwrap();
    let name = format!("lxrestore_{}", kernel::id::new_id().replace('-', ""));
    let admin_db = kernel::Db::connect(&admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(admin_db.reader())
        .await
        .unwrap();
    let target = replace_db_name(&admin, &name);
    let restored = app::ops::restore(&out, &target).await;
    let outcome = async {
        restored?;
        let db = kernel::Db::connect(&target)
            .await
            .map_err(|e| e.to_string())?;
        let tables: Vec<String> = sqlx::query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
        )
        .fetch_all(db.reader())
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .map(|r| r.get(0))
        .collect();
        assert!(tables.len() > 30);
        for t in &tables {
            let q = format!("SELECT COUNT(*) FROM {t}");
            let a: i64 = sqlx::query(&q)
                .fetch_one(app.ctx.db.reader())
                .await
                .unwrap()
                .get(0);
            let b: i64 = sqlx::query(&q).fetch_one(db.reader()).await.unwrap().get(0);
            assert_eq!(a, b, "{t}");
        }
        let check = app::ops::audit_verify(&db).await;
        // A second restore onto a database that now has tables is refused.
        let again = app::ops::restore(&out, &target).await;
        db.close().await;
        Ok::<_, String>((check, again))
    }
    .await;
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(admin_db.reader())
        .await;
    admin_db.close().await;
    let (check, again) = outcome.unwrap();
    assert!(matches!(check, Ok(app::ops::AuditCheck::Intact { rows }) if rows > 0));
    assert!(again.is_err());
}

/// Retention: no code outside the migrations' own triggers deletes or
/// rewrites audit rows (the database refuses it too), so no job can cut
/// the log below the 184 days 等保 asks.
#[test]
fn no_code_deletes_audit_rows() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut stack = vec![root.clone()];
    let mut scanned = 0;
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if p.is_dir() {
                if name != "target" && name != "tests" && !name.starts_with('.') {
                    stack.push(p);
                }
            } else if name.ends_with(".rs") {
                let text = std::fs::read_to_string(&p).unwrap().to_lowercase();
                scanned += 1;
                for bad in [
                    "delete from audit_events",
                    "update audit_events",
                    "truncate audit_events",
                    "drop table audit_events",
                ] {
                    assert!(!text.contains(bad), "{} has {bad}", p.display());
                }
            }
        }
    }
    assert!(
        scanned > 50,
        "{scanned} files scanned from {}",
        root.display()
    );
}
