//! Sensitive personal data: encrypted at rest, masked by default, unmasked
//! only for admins with a reason, and every unmasked read audited.

use crate::helpers::*;
use reqwest::StatusCode;
use sqlx::Row;

const PHONE: &str = "13800000001";
const ID_CARD: &str = "14110219850312001X";

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn the_database_holds_no_plaintext_phone_or_id_number() {
    let app = spawn_app().await;
    // Use the system so more rows exist: logins, a demand, the audit log.
    let t = app.token(PHONE).await;
    app.file_demand(&t, "隐私测试").await;
    let _ = app.login_response(PHONE, "wrong").await;

    match &app.sqlite_file {
        Some(file) => {
            // Checkpoint so the main file holds everything, then read it and any WAL.
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(app.ctx.db.writer())
                .await
                .unwrap();
            let mut bytes = std::fs::read(file).unwrap();
            if let Ok(wal) = std::fs::read(file.with_extension("db-wal")) {
                bytes.extend(wal);
            }
            assert!(bytes.len() > 10_000);
            assert!(contains(&bytes, "樊一新"), "the scan reads real rows");
            assert!(
                !contains(&bytes, PHONE),
                "plaintext phone in the database file"
            );
            assert!(
                !contains(&bytes, ID_CARD),
                "plaintext ID number in the database file"
            );
        }
        None => {
            // PostgreSQL: scan every text column of every table we own.
            let cols = sqlx::query(
                "SELECT table_name::text, column_name::text FROM information_schema.columns
                 WHERE table_schema = 'public' AND data_type = 'text'",
            )
            .fetch_all(app.ctx.db.reader())
            .await
            .unwrap();
            assert!(cols.len() > 20);
            for c in cols {
                let (t, col): (String, String) = (c.get(0), c.get(1));
                let n: i64 = sqlx::query(&format!(
                    "SELECT COUNT(*) FROM {t} WHERE {col} LIKE $1 OR {col} LIKE $2"
                ))
                .bind(format!("%{PHONE}%"))
                .bind(format!("%{ID_CARD}%"))
                .fetch_one(app.ctx.db.reader())
                .await
                .unwrap()
                .get(0);
                assert_eq!(n, 0, "plaintext in {t}.{col}");
            }
        }
    }
    // Yet the values are there, encrypted, for those allowed to read them.
    let enc: String = sqlx::query("SELECT phone_enc FROM residents WHERE name = '樊一新'")
        .fetch_one(app.ctx.db.reader())
        .await
        .unwrap()
        .get(0);
    assert_eq!(app.ctx.cipher.decrypt(&enc).as_deref(), Some(PHONE));
}

async fn fan_resident_id(app: &TestApp, token: &str) -> String {
    let hh = app.node_id(XC_101).await;
    let (s, v) = app
        .get(&format!("/api/v1/org/households/{hh}/residents"), token)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "樊一新")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn lists_are_masked() {
    let app = spawn_app().await;
    let t = app.token("butler-xc").await;
    let hh = app.node_id(XC_101).await;
    let (_, v) = app
        .get(&format!("/api/v1/org/households/{hh}/residents"), &t)
        .await;
    let text = v.to_string();
    assert!(text.contains("138****0001"), "{text}");
    assert!(text.contains("1411**********001X"), "{text}");
    assert!(!text.contains(PHONE) && !text.contains(ID_CARD));
}

#[tokio::test]
async fn unmasking_needs_an_admin_and_a_reason_and_is_audited() {
    let app = spawn_app().await;
    let butler = app.token("butler-xc").await;
    let admin = app.token("community-zq").await;
    let id = fan_resident_id(&app, &admin).await;

    let (s, _) = app
        .get(
            &format!("/api/v1/org/residents/{id}?unmask=true&reason=上门维修联系"),
            &butler,
        )
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a butler sees the masked record but may not unmask"
    );

    let (s, v) = app
        .get(&format!("/api/v1/org/residents/{id}?unmask=true"), &admin)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(v["fields"]["reason"].is_array());

    let before = app.count("audit_events").await;
    let (s, v) = app
        .get(
            &format!("/api/v1/org/residents/{id}?unmask=true&reason=核实住户信息"),
            &admin,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["phone"], PHONE);
    assert_eq!(v["id_card"], ID_CARD);
    assert_eq!(v["masked"], false);
    assert_eq!(app.count("audit_events").await, before + 1);
    let row =
        sqlx::query("SELECT action, actor_id, detail FROM audit_events ORDER BY seq DESC LIMIT 1")
            .fetch_one(app.ctx.db.reader())
            .await
            .unwrap();
    assert_eq!(row.get::<String, _>(0), "personal_data_unmasked");
    let detail: String = row.get(2);
    assert!(detail.contains("核实住户信息"));
    assert!(
        !detail.contains(PHONE),
        "the audit row never holds the value itself"
    );

    // A staff member of another community cannot even find the record.
    let other = app.token("property-fh").await;
    let (s, _) = app
        .get(&format!("/api/v1/org/residents/{id}"), &other)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_audit_log_never_holds_full_phone_numbers() {
    let app = spawn_app().await;
    let _ = app.login_response(PHONE, "wrong").await;
    let _ = app.login_response("13912345678", "wrong").await;
    app.token(PHONE).await;
    let rows = sqlx::query("SELECT detail FROM audit_events")
        .fetch_all(app.ctx.db.reader())
        .await
        .unwrap();
    assert!(rows.len() >= 3);
    for r in rows {
        let d: String = r.get(0);
        assert!(!d.contains(PHONE) && !d.contains("13912345678"), "{d}");
    }
}
