//! The storage suite: runs on a temp SQLite file, or on PostgreSQL when
//! `LIANXIN_TEST_DATABASE_URL` is set, through the same `Db` handle.

use crate::helpers::*;
use kernel::audit::{self, AuditEntry};
use kernel::{AppError, Backend, Db, OrgPath};
use org::model::{NewNode, OrgKind};
use sqlx::Row;

async fn fresh_db() -> (Db, Option<tempfile::TempDir>) {
    let (url, dir, _, _) = fresh_database().await;
    (app::open_database(&url).await.unwrap(), dir)
}

#[tokio::test]
async fn the_backend_is_the_one_asked_for() {
    let (db, _dir) = fresh_db().await;
    let want = if on_postgres() {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    assert_eq!(db.backend(), want);
}

#[tokio::test]
async fn migrations_are_idempotent_and_both_trees_agree() {
    let (db, _dir) = fresh_db().await;
    assert_eq!(
        db.migrate(app::migrations_for(&db)).await.unwrap(),
        0,
        "a second run applies nothing"
    );
    let versions =
        |m: &[kernel::db::Migration]| m.iter().map(|m| (m.version, m.name)).collect::<Vec<_>>();
    assert_eq!(
        versions(app::SQLITE_MIGRATIONS),
        versions(app::POSTGRES_MIGRATIONS)
    );
    let n: i64 = sqlx::query("SELECT COUNT(*) FROM schema_migrations")
        .fetch_one(db.reader())
        .await
        .unwrap()
        .get(0);
    assert_eq!(n as usize, app::SQLITE_MIGRATIONS.len());
}

#[tokio::test]
async fn an_edited_migration_is_refused() {
    let (db, _dir) = fresh_db().await;
    let mut edited: Vec<kernel::db::Migration> = app::migrations_for(&db)
        .iter()
        .map(|m| kernel::db::Migration {
            version: m.version,
            name: m.name,
            sql: m.sql,
        })
        .collect();
    edited[0].sql = "SELECT 1";
    assert!(db.migrate(&edited).await.is_err());
}

#[tokio::test]
async fn sqlite_is_durable_and_strict() {
    if on_postgres() {
        return;
    }
    let (db, _dir) = fresh_db().await;
    for (pragma, want) in [
        ("journal_mode", "wal"),
        ("synchronous", "2"),
        ("foreign_keys", "1"),
    ] {
        for on_writer in [false, true] {
            let sql = format!("PRAGMA {pragma}");
            let q = sqlx::query(&sql);
            let row = if on_writer {
                q.fetch_one(db.writer()).await
            } else {
                q.fetch_one(db.reader()).await
            }
            .unwrap();
            let got: String = row
                .try_get::<String, _>(0)
                .unwrap_or_else(|_| row.get::<i64, _>(0).to_string());
            assert_eq!(got, want, "PRAGMA {pragma}");
        }
    }
    let timeout: i64 = sqlx::query("PRAGMA busy_timeout")
        .fetch_one(db.writer())
        .await
        .unwrap()
        .get(0);
    assert!(timeout >= 5000);
}

async fn node(
    db: &Db,
    parent: Option<&org::store::NodeRow>,
    kind: OrgKind,
    code: &str,
) -> org::store::NodeRow {
    let mut tx = db.begin().await.unwrap();
    let n = org::store::insert_node(
        &mut tx,
        parent,
        &NewNode {
            kind,
            code: code.into(),
            name: code.into(),
        },
        1,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    n
}

#[tokio::test]
async fn subtree_scans_are_exact_ranges() {
    let (db, _dir) = fresh_db().await;
    let city = node(&db, None, OrgKind::City, "9").await;
    let d1 = node(&db, Some(&city), OrgKind::District, "1").await;
    let d10 = node(&db, Some(&city), OrgKind::District, "10").await;
    let s1 = node(&db, Some(&d1), OrgKind::Street, "a").await;
    node(&db, Some(&d10), OrgKind::Street, "b").await;
    let rows = org::store::subtree_page(&db, std::slice::from_ref(&d1.org_path), None, None, 100)
        .await
        .unwrap();
    let paths: Vec<&str> = rows.iter().map(|n| n.org_path.as_str()).collect();
    assert_eq!(
        paths,
        vec![d1.org_path.as_str(), s1.org_path.as_str()],
        "/9/10/ is not inside /9/1/"
    );
    let all = org::store::subtree_page(&db, &[OrgPath::parse("/9/").unwrap()], None, None, 100)
        .await
        .unwrap();
    assert_eq!(all.len(), 5);
    let page = org::store::subtree_page(
        &db,
        std::slice::from_ref(&city.org_path),
        Some(d1.org_path.as_str()),
        None,
        2,
    )
    .await
    .unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(page[0].org_path.as_str(), "/9/1/a/");
}

#[tokio::test]
async fn unique_violations_are_conflicts_not_500s() {
    let (db, _dir) = fresh_db().await;
    let city = node(&db, None, OrgKind::City, "9").await;
    let mut tx = db.begin().await.unwrap();
    let dup = org::store::insert_node(
        &mut tx,
        None,
        &NewNode {
            kind: OrgKind::City,
            code: "9".into(),
            name: "x".into(),
        },
        1,
    )
    .await;
    assert!(
        matches!(
            dup,
            Err(AppError::Conflict {
                code: "code_taken",
                ..
            })
        ),
        "{dup:?}"
    );
    drop(tx);
    let _ = city;
}

#[tokio::test]
async fn the_audit_chain_verifies_and_detects_tampering() {
    let (db, _dir) = fresh_db().await;
    for i in 0..5 {
        audit::record_alone(
            &db,
            AuditEntry {
                at_ms: i,
                action: "test",
                object_type: "t",
                detail: serde_json::json!({"i": i}),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    assert_eq!(audit::verify(&db).await.unwrap(), Ok(5));

    // The database refuses edits and deletes of audit rows.
    let mut tx = db.begin().await.unwrap();
    assert!(
        sqlx::query("UPDATE audit_events SET detail = '{}' WHERE seq = 3")
            .execute(&mut *tx)
            .await
            .is_err()
    );
    drop(tx);
    let mut tx = db.begin().await.unwrap();
    assert!(sqlx::query("DELETE FROM audit_events WHERE seq = 3")
        .execute(&mut *tx)
        .await
        .is_err());
    drop(tx);

    // Someone with the file bypasses the guard: verify names the first bad row.
    let mut tx = db.begin().await.unwrap();
    match db.backend() {
        Backend::Sqlite => {
            sqlx::raw_sql("DROP TRIGGER audit_events_no_update")
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        Backend::Postgres => {
            sqlx::raw_sql("DROP TRIGGER audit_events_no_change ON audit_events")
                .execute(&mut *tx)
                .await
                .unwrap();
        }
    }
    sqlx::query("UPDATE audit_events SET detail = '{\"i\":99}' WHERE seq = 3")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(audit::verify(&db).await.unwrap(), Err(3));
}

#[tokio::test]
async fn concurrent_audit_appends_keep_one_chain() {
    let (db, _dir) = fresh_db().await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            audit::record_alone(
                &db,
                AuditEntry {
                    at_ms: i,
                    action: "c",
                    object_type: "t",
                    detail: serde_json::json!(i),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(audit::verify(&db).await.unwrap(), Ok(20));
}

#[tokio::test]
async fn a_second_demo_start_does_not_duplicate() {
    let app = spawn_app().await;
    let nodes = app.count("org_nodes").await;
    let users = app.count("users").await;
    assert!(!app::demo::seed_if_empty(&app.ctx).await.unwrap());
    app::open_database(&app.database_url).await.unwrap();
    assert_eq!(app.count("org_nodes").await, nodes);
    assert_eq!(app.count("users").await, users);
    assert_eq!(
        app.count("demand_categories").await as usize,
        cases::catalogue::DEFAULTS.len()
    );
}

/// `Db::rows` (the lean read path: its own connections on SQLite, sqlx on
/// PostgreSQL) reads what a committed transaction wrote at once, binds
/// `$n` by number (reused, out of order), and gives NULL, integers and
/// text the same on both backends.
#[tokio::test]
async fn lean_reads_see_committed_writes_and_bind_by_number() {
    use kernel::rows::Columns;
    let (db, _dir) = fresh_db().await;
    for (i, note) in [(1_i64, Some("一")), (2, None), (3, Some("三"))] {
        let mut tx = db.begin().await.unwrap();
        sqlx::query("INSERT INTO calendar_days (day, kind, note) VALUES ($1, 'holiday', $2)")
            .bind(format!("2031-01-0{i}"))
            .bind(note)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        // Visible to the very next lean read: commit returned after COMMIT.
        let n = db
            .rows(
                "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM calendar_days WHERE day LIKE '2031-%'",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(n.first().unwrap().int("n"), i);
    }
    let rows = db
        .rows(
            "SELECT day, note, CAST(LENGTH(day) AS BIGINT) AS len FROM calendar_days
             WHERE day >= $2 AND (note IS NULL OR note <> $1) AND day <> $1 ORDER BY day",
            vec!["三".into(), "2031-01-01".into()],
        )
        .await
        .unwrap();
    let got: Vec<(String, Option<String>, i64)> = rows
        .iter()
        .map(|r| (r.text("day"), r.opt_text("note"), r.int("len")))
        .collect();
    assert_eq!(
        got,
        vec![
            ("2031-01-01".to_string(), Some("一".to_string()), 10),
            ("2031-01-02".to_string(), None, 10),
        ]
    );
    assert!(db
        .rows(
            "SELECT day FROM calendar_days WHERE day = $1",
            vec!["none".into()]
        )
        .await
        .unwrap()
        .is_empty());
}
