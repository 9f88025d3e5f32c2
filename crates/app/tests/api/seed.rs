//! `lianxin seed`: the `compound` profile written into a fresh database is a
//! world the real server serves — a seeded resident logs in and sees only
//! their household's demands, the rates of the compound equal counting the
//! demands, every seeded ID number is well-formed — and the same seed writes
//! the same rows with the same ids.

use crate::helpers::*;
use app::seed::{Profile, SEED_PASSWORD};
use cases::rates::{compute, compute_direct, Period};
use kernel::OrgPath;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::Row;

const COMPOUND: &str = "/141100/141102/141102001/141102001001/C01/";

async fn seeded(seed: u64) -> (TestApp, app::seed::Report) {
    let app = spawn_empty_app().await;
    let report = app::seed::run(&app.ctx.db, &app.ctx.cipher, Profile::Compound, seed, false)
        .await
        .expect("seed the compound profile");
    (app, report)
}

async fn strings(app: &TestApp, sql: &str) -> Vec<String> {
    sqlx::query(sql)
        .fetch_all(app.ctx.db.reader())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect()
}

async fn login(app: &TestApp, login: &str) -> String {
    let r = app.login_response(login, SEED_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK, "login {login}");
    let v: Value = r.json().await.unwrap();
    v["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_seeded_compound_is_a_world_the_server_serves() {
    let (app, r) = seeded(42).await;
    assert!((1_800..2_300).contains(&r.residents), "{r:?}");
    assert_eq!(app.count("residents").await as u64, r.residents);
    assert_eq!(app.count("demands").await as u64, r.demands);
    assert_eq!(app.count("demand_events").await as u64, r.demand_events);
    // About 0.2 demands per resident per year over three years.
    let expected = r.residents as f64 * 0.2 * 3.0;
    assert!(
        (r.demands as f64) > expected * 0.8 && (r.demands as f64) < expected * 1.2,
        "{r:?}"
    );
    assert_eq!(
        strings(&app, "SELECT action FROM audit_events").await,
        vec!["seed.run".to_string()]
    );

    // The mix of kinds: about 40% 求助, 39% 咨询, 20% 投诉, 1% 建议.
    let enquiries = sqlx::query("SELECT COUNT(*) FROM demands WHERE category = 'property_fee'")
        .fetch_one(app.ctx.db.reader())
        .await
        .unwrap()
        .get::<i64, _>(0) as f64;
    let share = enquiries / r.demands as f64;
    assert!((0.33..0.45).contains(&share), "咨询 share {share}");
    // Ratings: about 90% satisfied (4 or 5).
    let rated = sqlx::query(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN rating_satisfaction >= 4 THEN 1 ELSE 0 END), 0) FROM demands WHERE rated_at IS NOT NULL",
    )
    .fetch_one(app.ctx.db.reader())
    .await
    .unwrap();
    let (n, happy): (i64, i64) = (rated.get(0), rated.get(1));
    assert!(n > 0);
    let share = happy as f64 / n as f64;
    assert!((0.84..0.96).contains(&share), "satisfied share {share}");

    // Every ID number decrypts and passes GB 11643, and its blind index is the org store's.
    let rows = sqlx::query("SELECT id_card_enc, id_card_index, phone_enc FROM residents")
        .fetch_all(app.ctx.db.reader())
        .await
        .unwrap();
    assert_eq!(rows.len() as u64, r.residents);
    for row in &rows {
        let enc: String = row.get(0);
        let plain = app.ctx.cipher.decrypt(&enc).expect("decrypts");
        let id = kernel::personal::IdCardNumber::parse(&plain)
            .unwrap_or_else(|e| panic!("{plain}: {e}"));
        assert_eq!(
            row.get::<String, _>(1),
            app.ctx.cipher.blind_index("id_card", id.as_str())
        );
        if let Some(p) = kernel::db::opt_str(row, "phone_enc") {
            let phone = app.ctx.cipher.decrypt(&p).expect("decrypts");
            kernel::personal::PhoneNumber::parse(&phone).unwrap_or_else(|e| panic!("{phone}: {e}"));
        }
    }

    // A seeded resident logs in and sees their own household's demands, only those.
    let resident = login(&app, "seed-r-000001").await;
    let (s, me) = app.get("/api/v1/me", &resident).await;
    assert_eq!(s, StatusCode::OK, "{me}");
    let household: String = sqlx::query(
        "SELECT r.household_id FROM residents r JOIN users u ON u.id = r.user_id WHERE u.display_name = r.name AND r.user_id IS NOT NULL ORDER BY r.id LIMIT 1",
    )
    .fetch_one(app.ctx.db.reader())
    .await
    .unwrap()
    .get(0);
    let mut own = strings(
        &app,
        &format!("SELECT id FROM demands WHERE household_id = '{household}' ORDER BY id"),
    )
    .await;
    let (s, page) = app.get("/api/v1/demands?limit=100", &resident).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let items = page["items"].as_array().unwrap();
    let mut seen: Vec<String> = items
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect();
    for d in items {
        assert_eq!(d["household_id"], household.as_str(), "{d}");
    }
    own.sort();
    seen.sort();
    assert_eq!(seen, own);
    // The whole compound has many more demands than that one household.
    assert!(r.demands as usize > own.len() * 10);

    // Staff of the compound see the compound; the district admin its rates.
    let butler = login(&app, "seed-butler-141102001001-c01").await;
    let (s, page) = app.get("/api/v1/demands?limit=20", &butler).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 20);

    let district = login(&app, "seed-district-141102").await;
    let compound = app.node_id(COMPOUND).await;
    let (s, v) = app
        .get(
            &format!("/api/v1/insight/rates?org={compound}&from=2025-11-01&to=2026-10-31"),
            &district,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let roots = [OrgPath::parse(COMPOUND).unwrap()];
    let year = Period {
        from_ms: app::seed::ANCHOR_MS - 365 * 86_400_000,
        to_ms: app::seed::ANCHOR_MS,
    };
    let direct = compute_direct(&app.ctx.db, &roots, &year).await.unwrap();
    assert!(direct.rated > 100 && direct.due > 100, "{direct:?}");
    assert_eq!(v["rated"], direct.rated, "{v}");
    assert_eq!(v["due"], direct.due, "{v}");
    assert_eq!(v["closed"], direct.closed, "{v}");
    assert_eq!(v["handled"], direct.handled, "{v}");
    assert_eq!(v["rework"], direct.rework, "{v}");
    assert_eq!(v["satisfied"], direct.satisfied, "{v}");
    // Rollups agree with the demands for every level and all the years.
    let all = Period {
        from_ms: app::seed::ANCHOR_MS - 5 * 365 * 86_400_000,
        to_ms: app::seed::ANCHOR_MS + 60 * 86_400_000,
    };
    for path in [
        "/141100/",
        "/141100/141102/",
        COMPOUND,
        &format!("{COMPOUND}B1/"),
        &format!("{COMPOUND}B1/U1/"),
        &format!("{COMPOUND}B1/U1/101/"),
    ] {
        let roots = [OrgPath::parse(path).unwrap()];
        for p in [&year, &all] {
            assert_eq!(
                compute(&app.ctx.db, &roots, p).await.unwrap(),
                compute_direct(&app.ctx.db, &roots, p).await.unwrap(),
                "{path} {p:?}"
            );
        }
    }
    // And a rebuild from scratch gives the same rows: the seed's own sums
    // (the daily and monthly filings and the open counters too) are what
    // the server would have counted.
    let tables = [
        "SELECT node_path || ':' || CAST(day AS TEXT) || ':' || CAST(rated AS TEXT) || ':' || CAST(due AS TEXT) || ':' || CAST(closed AS TEXT) || ':' || CAST(handled AS TEXT) || ':' || CAST(rework AS TEXT) || ':' || CAST(fed_back_late AS TEXT) || ':' || CAST(escalated AS TEXT) FROM demand_rollups ORDER BY node_path, day",
        "SELECT node_path || ':' || CAST(day AS TEXT) || ':' || category || ':' || channel || ':' || CAST(n AS TEXT) FROM demand_filings ORDER BY node_path, day, category, channel",
        "SELECT node_path || ':' || CAST(month AS TEXT) || ':' || category || ':' || channel || ':' || CAST(n AS TEXT) FROM demand_filings_monthly ORDER BY node_path, month, category, channel",
        "SELECT node_path || ':' || CAST(day AS TEXT) || ':' || CAST(open AS TEXT) || ':' || CAST(overdue AS TEXT) || ':' || CAST(escalated AS TEXT) || ':' || CAST(awaiting_feedback AS TEXT) FROM demand_open WHERE open <> 0 ORDER BY node_path, day",
    ];
    let mut before = Vec::new();
    for sql in tables {
        let rows = strings(&app, sql).await;
        assert!(!rows.is_empty(), "{sql}");
        before.push(rows);
    }
    cases::rollup::rebuild(&app.ctx.db).await.unwrap();
    for (sql, before) in tables.iter().zip(before) {
        assert_eq!(before, strings(&app, sql).await, "{sql}");
    }

    // Open311 reads the seeded demands too.
    let r = app
        .client
        .get(app.url("/open311/v2/requests.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // A second seed into the same database is refused and writes nothing.
    let demands = app.count("demands").await;
    assert!(
        app::seed::run(&app.ctx.db, &app.ctx.cipher, Profile::Compound, 42, false)
            .await
            .is_err()
    );
    assert_eq!(app.count("demands").await, demands);
}

#[tokio::test]
async fn the_same_seed_writes_the_same_rows() {
    let (a, ra) = seeded(7).await;
    let (b, rb) = seeded(7).await;
    for table in [
        "org_nodes",
        "users",
        "residents",
        "role_grants",
        "demands",
        "demand_events",
        "demand_assignees",
        "demand_rollups",
        "demand_filings",
        "demand_filings_monthly",
        "demand_open",
    ] {
        assert_eq!(a.count(table).await, b.count(table).await, "{table}");
    }
    assert_eq!(ra.demands, rb.demands);
    for sql in [
        "SELECT id FROM org_nodes ORDER BY id",
        "SELECT id FROM residents ORDER BY id",
        "SELECT id_card_enc FROM residents ORDER BY id",
        "SELECT id || status || CAST(updated_at AS TEXT) FROM demands ORDER BY id",
        "SELECT id FROM demand_events ORDER BY id",
    ] {
        assert_eq!(strings(&a, sql).await, strings(&b, sql).await, "{sql}");
    }
    // Another seed is another world.
    let (c, _) = seeded(8).await;
    assert_ne!(
        strings(&a, "SELECT id FROM demands ORDER BY id").await,
        strings(&c, "SELECT id FROM demands ORDER BY id").await
    );
}

/// The CLI owns its SQLite file: it closes its own connections (the
/// checkpoint thread lets go within its interval) and loads with the journal
/// off, one transaction and no WAL to write twice; afterwards the file is
/// back in WAL mode for the server.
#[tokio::test]
async fn the_cli_seed_loads_without_a_journal_and_leaves_the_file_in_wal() {
    let world = crate::binary::World::new();
    let url = format!("sqlite://{}", world.path().join("seed.db").display());
    let (ok, text) = world.run(&[
        "seed",
        "--profile",
        "compound",
        "--seed",
        "1",
        "--database-url",
        &url,
        "--field-key",
        TEST_KEY,
    ]);
    assert!(ok, "{text}");
    assert!(
        text.contains("(journal off)"),
        "loaded through the WAL:\n{text}"
    );
    let db = kernel::Db::connect(&url).await.unwrap();
    let mode: String = sqlx::query("PRAGMA journal_mode")
        .fetch_one(db.reader())
        .await
        .unwrap()
        .get(0);
    assert_eq!(mode, "wal");
    let demands: i64 = sqlx::query("SELECT COUNT(*) FROM demands")
        .fetch_one(db.reader())
        .await
        .unwrap()
        .get(0);
    assert!(demands > 0);
    db.close().await;
}

/// The list writes each demand straight from the rows it read
/// (`cases::list_view`); the detail goes through `DemandView`. On a seeded
/// history (closed, rated, escalated, reworked, merged demands) both give
/// the same JSON for every field, and the pages chain through the whole
/// scope newest first.
#[tokio::test]
async fn the_list_writes_each_demand_as_its_detail_does() {
    let (app, _) = seeded(7).await;
    let butler = login(&app, "seed-butler-141102001001-c01").await;
    let in_scope: i64 = sqlx::query(&format!(
        "SELECT COUNT(*) FROM demands WHERE org_path >= '{COMPOUND}' AND org_path < '{COMPOUND}~'"
    ))
    .fetch_one(app.ctx.db.reader())
    .await
    .unwrap()
    .get(0);
    let mut ids: Vec<String> = Vec::new();
    let mut compared = 0;
    let (mut rated, mut unrated, mut escalated, mut closed_late) = (0, 0, 0, 0);
    let mut cursor = String::new();
    for page_no in 0.. {
        let (s, page) = app
            .get(
                &format!("/api/v1/demands?limit=100&cursor={cursor}"),
                &butler,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{page}");
        let items = page["items"].as_array().unwrap();
        for item in items {
            let id = item["id"].as_str().unwrap();
            ids.push(id.to_string());
            if item["rating"].is_null() {
                unrated += 1;
            } else {
                rated += 1;
            }
            if !item["escalated_to"].is_null() {
                escalated += 1;
            }
            if item["closed_on_time"] == false {
                closed_late += 1;
            }
            // Every item of the first two pages, and every tenth after.
            if page_no < 2 || ids.len().is_multiple_of(10) {
                let (s, mut detail) = app.get(&format!("/api/v1/demands/{id}"), &butler).await;
                assert_eq!(s, StatusCode::OK, "{detail}");
                let fields = detail.as_object_mut().unwrap();
                fields.remove("events");
                fields.remove("allowed_actions");
                assert_eq!(item, &detail);
                compared += 1;
            }
        }
        match page["next_cursor"].as_str() {
            Some(c) => {
                assert_eq!(items.len(), 100, "a full page before the cursor");
                cursor = c.to_string();
            }
            None => break,
        }
    }
    assert_eq!(ids.len() as i64, in_scope);
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "newest first, no repeats"
    );
    assert!(compared > 200, "{compared}");
    assert!(
        rated > 0 && unrated > 0 && escalated > 0 && closed_late > 0,
        "a varied history: {rated} {unrated} {escalated} {closed_late}"
    );
}
