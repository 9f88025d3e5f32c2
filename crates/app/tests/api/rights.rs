//! PIPL rights (个人信息主体权利): a resident sees, exports (JSON and xlsx),
//! corrects and asks to delete their data; staff process the requests; the
//! retention job anonymises and purges on time.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;

const ME: &str = "13800000001"; // 樊一新, 新城壹号小区 1号楼 101
const OTHER: &str = "13800000002"; // 李秀兰, 2号楼 101 (another household)
const ME_ID_CARD: &str = "14110219850312001X";

async fn raw_get(app: &TestApp, path: &str, token: &str) -> (StatusCode, String, Vec<u8>) {
    let r = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let s = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (s, ct, r.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn a_resident_sees_and_exports_only_their_own_data() {
    let app = spawn_app().await;
    let me = app.token(ME).await;
    let other = app.token(OTHER).await;
    let mine = app.file_demand(&me, "樊家楼道灯坏了-PIPL").await;
    let theirs = app.file_demand(&other, "李家下水道堵了-PIPL").await;

    let (s, v) = app.get("/api/v1/me/data", &me).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["account"]["login"], ME,
        "the subject sees their own login"
    );
    let me_row = v["residents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["is_me"] == true)
        .expect("their own record");
    assert_eq!(me_row["name"], "樊一新");
    assert_eq!(me_row["phone"], ME);
    assert_eq!(me_row["id_card"], ME_ID_CARD);
    let ids: Vec<&str> = v["demands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&mine["id"].as_str().unwrap()));
    assert!(!ids.contains(&theirs["id"].as_str().unwrap()));
    let text = v.to_string();
    assert!(!text.contains("李秀兰") && !text.contains(OTHER) && !text.contains("李家下水道"));

    // The JSON copy is a download of the same.
    let (s, ct, body) = raw_get(&app, "/api/v1/me/data.json", &me).await;
    assert_eq!(s, StatusCode::OK);
    assert!(ct.starts_with("application/json"));
    let copy: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(copy["account"]["login"], ME);
    assert!(copy.to_string().contains("樊家楼道灯坏了-PIPL"));
    assert!(!copy.to_string().contains("李家下水道"));

    // The xlsx copy reads back with calamine.
    let (s, ct, body) = raw_get(&app, "/api/v1/me/data.xlsx", &me).await;
    assert_eq!(s, StatusCode::OK);
    assert!(ct.contains("spreadsheetml"), "{ct}");
    use calamine::{Reader, Xlsx};
    let mut wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(body)).unwrap();
    let names = wb.sheet_names().to_vec();
    assert!(names.contains(&"诉求".to_string()), "{names:?}");
    let mut cells = String::new();
    for n in &names {
        let range = wb.worksheet_range(n).unwrap();
        for row in range.rows() {
            for c in row {
                cells.push_str(&c.to_string());
                cells.push('|');
            }
        }
    }
    assert!(cells.contains("樊家楼道灯坏了-PIPL"), "{cells}");
    assert!(cells.contains(ME_ID_CARD));
    assert!(!cells.contains("李家下水道") && !cells.contains("李秀兰"));

    // Reads of one's own unmasked data are audited.
    let actions = app.audit_actions().await;
    assert!(
        actions
            .iter()
            .filter(|a| *a == "personal_data_accessed")
            .count()
            >= 3
    );

    // Staff are not residents: this is not their page.
    let staff = app.token("community-zq").await;
    assert_eq!(
        app.get("/api/v1/me/data", &staff).await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn identity_corrections_wait_for_staff_and_relation_applies_at_once() {
    let app = spawn_app().await;
    let me = app.token(ME).await;

    // Bad input: the contract's error, nothing recorded.
    let (s, v) = app
        .post(
            "/api/v1/me/corrections",
            &me,
            json!({"field": "id_card", "value": "123"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["fields"]["value"].is_array(), "{v}");
    let (s, _) = app
        .post(
            "/api/v1/me/corrections",
            &me,
            json!({"field": "org_path", "value": "/"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("privacy_requests").await, 0);

    // relation: applied at once.
    let (s, v) = app
        .post(
            "/api/v1/me/corrections",
            &me,
            json!({"field": "relation", "value": "户主"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "applied");

    // name: a request, staff approve, then the record changes.
    let (s, v) = app
        .post(
            "/api/v1/me/corrections",
            &me,
            json!({"field": "name", "value": "樊一鑫", "reason": "登记错字"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let rid = v["request"]["id"].as_str().unwrap().to_string();
    let (s, _) = app
        .post(
            "/api/v1/me/corrections",
            &me,
            json!({"field": "name", "value": "樊一鑫"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "one pending request per field");
    let (_, mine) = app.get("/api/v1/me/data", &me).await;
    let me_row = mine["residents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["is_me"] == true)
        .unwrap()
        .clone();
    assert_eq!(me_row["name"], "樊一新", "not changed before approval");
    assert_eq!(me_row["relation"], "户主");

    // Staff of another community do not see it; a resident may not decide.
    let fh = app.token("property-fh").await;
    let (s, _) = app
        .post(
            &format!("/api/v1/org/privacy-requests/{rid}/decision"),
            &fh,
            json!({"decision": "approve"}),
        )
        .await;
    assert!(s == StatusCode::NOT_FOUND || s == StatusCode::FORBIDDEN);
    let (s, _) = app
        .post(
            &format!("/api/v1/org/privacy-requests/{rid}/decision"),
            &me,
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let staff = app.token("community-zq").await;
    let (s, list) = app.get("/api/v1/org/privacy-requests", &staff).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert!(list["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == rid.as_str()));
    let (s, v) = app
        .post(
            &format!("/api/v1/org/privacy-requests/{rid}/decision"),
            &staff,
            json!({"decision": "reject"}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a rejection needs a reason: {v}"
    );
    let (s, v) = app
        .post(
            &format!("/api/v1/org/privacy-requests/{rid}/decision"),
            &staff,
            json!({"decision": "approve", "note": "已核对户口本"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "done");
    let (s, _) = app
        .post(
            &format!("/api/v1/org/privacy-requests/{rid}/decision"),
            &staff,
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "decided once");
    let (_, mine) = app.get("/api/v1/me/data", &me).await;
    assert!(mine["residents"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["is_me"] == true && r["name"] == "樊一鑫"));
    let actions = app.audit_actions().await;
    for a in [
        "personal_data_corrected",
        "personal_data_correction_requested",
        "privacy_request_done",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} audited");
    }
}

/// Every text value of every table, for a plaintext search.
async fn all_text(app: &TestApp) -> String {
    let tables: Vec<String> = if on_postgres() {
        sqlx::query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
        )
        .fetch_all(app.ctx.db.reader())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
    } else {
        sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'")
            .fetch_all(app.ctx.db.reader())
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    let mut out = String::new();
    for t in tables {
        let cols: Vec<String> = if on_postgres() {
            sqlx::query("SELECT column_name::text FROM information_schema.columns WHERE table_name = $1 AND data_type = 'text'")
                .bind(&t)
                .fetch_all(app.ctx.db.reader())
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect()
        } else {
            sqlx::query(&format!(
                "SELECT name FROM pragma_table_info('{t}') WHERE type = 'TEXT'"
            ))
            .fetch_all(app.ctx.db.reader())
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
        };
        for c in cols {
            for r in sqlx::query(&format!("SELECT {c} FROM {t} WHERE {c} IS NOT NULL"))
                .fetch_all(app.ctx.db.reader())
                .await
                .unwrap()
            {
                out.push_str(&format!("{t}.{c}: {}\n", r.get::<String, _>(0)));
            }
        }
    }
    out
}

const PARTY_PLACE: &str = "呼和浩特市保密巷九号-c41";
const PARTY_NOTE: &str = "党员本人电话联系-c41";
const PARTY_SERVICE: &str = "樊一新义务修车-c41";

/// Every encrypted value of the party tables, decrypted (table.column, text).
async fn party_plaintexts(app: &TestApp) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (t, c) in [
        ("party_members", "profile_enc"),
        ("party_checkins", "detail_enc"),
        ("party_transfers", "reason_enc"),
    ] {
        for r in sqlx::query(&format!("SELECT {c} FROM {t} WHERE {c} IS NOT NULL"))
            .fetch_all(app.ctx.db.reader())
            .await
            .unwrap()
        {
            let enc: String = r.get(0);
            let plain = app.ctx.cipher.decrypt(&enc).expect("decrypts");
            out.push((format!("{t}.{c}"), enc, plain));
        }
    }
    out
}

/// The resident (ME) as a floating party member of the 泛华盛世 branch,
/// known by account and ID number, with a check-in and volunteer service
/// carrying planted text. Returns (branch id, member id).
async fn me_as_party_member(app: &TestApp) -> (String, String) {
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
    let day = |n: i64| {
        party::model::fmt_date(party::model::day_of(
            kernel::Clock::now_ms(app.clock.as_ref()) - n * 86_400_000,
        ))
    };
    let (s, m) = app
        .post(
            "/api/v1/party/members",
            &t,
            json!({"branch_id": fh, "name": "樊一新", "status": "full", "joined_on": "2012-07-01",
                   "full_on": "2013-07-01", "mode": "floating", "whereabouts": PARTY_PLACE,
                   "away_since": day(10), "away_reason": "外出务工", "phone": ME,
                   "id_card": ME_ID_CARD, "account": ME}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    let id = m["id"].as_str().unwrap().to_string();
    let (s, v) = app
        .post(
            &format!("/api/v1/party/members/{id}/checkins"),
            &t,
            json!({"place": PARTY_PLACE, "note": PARTY_NOTE}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = app
        .post(
            "/api/v1/party/volunteer",
            &t,
            json!({"member_id": id, "served_on": day(1), "hours": 2, "description": PARTY_SERVICE}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    (fh, id)
}

#[tokio::test]
async fn a_processed_deletion_leaves_no_plaintext_and_keeps_the_statistics() {
    let app = spawn_app().await;
    let me = app.token(ME).await;
    let planted = "独一无二的楼道描述-7f3a";
    let (s, d) = app
        .post(
            "/api/v1/demands",
            &me,
            json!({"category": "leak", "title": "樊一新家漏水", "description": planted, "location": "樊家厨房"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let demand_id = d["id"].as_str().unwrap().to_string();
    let demands_before = app.count("demands").await;
    // They are a party member too (sensitive personal data, PIPL art. 28).
    let (fh, member_id) = me_as_party_member(&app).await;
    let branch = app.token("branch-fh").await;
    let stats_path = format!("/api/v1/party/orgs/{fh}/stats");
    let (s, stats_before) = app.get(&stats_path, &branch).await;
    assert_eq!(s, StatusCode::OK, "{stats_before}");
    let my_user_id = app.get("/api/v1/me", &me).await.1["id"]
        .as_str()
        .unwrap()
        .to_string();
    let n: i64 = sqlx::query("SELECT COUNT(*) FROM party_members WHERE user_index = $1")
        .bind(party::store::user_index(&app.ctx.cipher, &my_user_id))
        .fetch_one(app.ctx.db.reader())
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1, "the member is linked to their account");
    let party_before = party_plaintexts(&app).await;
    let planted_party = ["樊一新", ME, ME_ID_CARD, PARTY_PLACE, PARTY_NOTE];
    assert!(
        party_before
            .iter()
            .any(|(_, _, p)| p.contains(ME_ID_CARD) && p.contains(PARTY_PLACE)),
        "the member's profile holds their data before"
    );
    let their_ciphertexts: Vec<String> = party_before
        .iter()
        .filter(|(_, _, p)| planted_party.iter().any(|x| p.contains(x)))
        .map(|(_, e, _)| e.clone())
        .collect();
    assert!(their_ciphertexts.len() >= 2, "profile and check-in");
    assert!(all_text(&app).await.contains(PARTY_SERVICE));

    let (s, v) = app
        .post(
            "/api/v1/me/deletion-request",
            &me,
            json!({"reason": "搬离小区"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "pending");
    assert!(v["due_at"].as_str().unwrap() > v["created_at"].as_str().unwrap());
    let (s, _) = app
        .post("/api/v1/me/deletion-request", &me, json!({}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(all_text(&app).await.contains(planted), "nothing erased yet");

    let staff = app.token("community-zq").await;
    let rid = v["id"].as_str().unwrap();
    let (s, v) = app
        .post(
            &format!("/api/v1/org/privacy-requests/{rid}/decision"),
            &staff,
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // Via the API: the session is gone, the login no longer works, and the
    // demand stays (counted) with its text anonymised and no reporter.
    assert_eq!(
        app.get("/api/v1/me/data", &me).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login_response(ME, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (s, dv) = app
        .get(&format!("/api/v1/demands/{demand_id}"), &staff)
        .await;
    assert_eq!(s, StatusCode::OK, "{dv}");
    let shown = dv.to_string();
    assert!(!shown.contains(planted) && !shown.contains("樊一新") && !shown.contains("樊家厨房"));
    assert_eq!(
        app.count("demands").await,
        demands_before,
        "statistics keep the demand"
    );

    // In the database: no plaintext left in any text column, and the
    // encrypted phone and ID are gone (their blind indexes too).
    let text = all_text(&app).await;
    for secret in [planted, "樊家厨房", "樊一新", ME, ME_ID_CARD] {
        let hits: Vec<&str> = text.lines().filter(|l| l.contains(secret)).collect();
        assert!(hits.is_empty(), "{secret} still in the database: {hits:?}");
    }
    let idx = app.ctx.cipher.blind_index("id_card", ME_ID_CARD);
    let n: i64 = sqlx::query("SELECT COUNT(*) FROM residents WHERE id_card_index = $1")
        .bind(&idx)
        .fetch_one(app.ctx.db.reader())
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    let names: Vec<String> = sqlx::query("SELECT name FROM residents")
        .fetch_all(app.ctx.db.reader())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(!names.iter().any(|n| n == "樊一新"));
    assert!(app
        .audit_actions()
        .await
        .iter()
        .any(|a| a == "privacy_request_done"));

    // The party register: no plaintext (above, PARTY_SERVICE included), no
    // old ciphertext, no encrypted value that decrypts to their data, no
    // blind index that finds them — and the branch's statistics unchanged.
    let text = all_text(&app).await;
    assert!(!text.contains(PARTY_SERVICE), "the service description");
    for enc in &their_ciphertexts {
        assert!(!text.contains(enc.as_str()), "old ciphertext left: {enc}");
    }
    for (col, _, plain) in party_plaintexts(&app).await {
        for x in planted_party {
            assert!(!plain.contains(x), "{col} still holds {x}: {plain}");
        }
    }
    for (col, value) in [
        (
            "id_card_index",
            party::store::id_card_index(&app.ctx.cipher, ME_ID_CARD),
        ),
        (
            "user_index",
            party::store::user_index(&app.ctx.cipher, &my_user_id),
        ),
    ] {
        let n: i64 = sqlx::query(&format!(
            "SELECT COUNT(*) FROM party_members WHERE {col} = $1"
        ))
        .bind(&value)
        .fetch_one(app.ctx.db.reader())
        .await
        .unwrap()
        .get(0);
        assert_eq!(n, 0, "{col}");
    }
    let (s, stats_after) = app.get(&stats_path, &branch).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(stats_after, stats_before, "branch statistics unchanged");
    let (s, m) = app
        .get(&format!("/api/v1/party/members/{member_id}"), &branch)
        .await;
    assert_eq!(s, StatusCode::OK, "{m}");
    assert_eq!(m["name"], app::rights::ERASED_NAME, "{m}");
    assert!(!m.to_string().contains(ME_ID_CARD) && !m.to_string().contains("樊一新"));
}

#[tokio::test]
async fn the_retention_job_anonymises_and_purges_on_time_and_keeps_the_rest() {
    let app = spawn_configured(true, |c| {
        c.retention.closed_demand_days = 30;
        c.retention.session_days = 7;
    })
    .await;
    let me = app.token(ME).await;
    let old = app.file_demand(&me, "早已结案的诉求-RET").await;
    let open = app.file_demand(&me, "仍在办理的诉求-RET").await;
    let now = kernel::Clock::now_ms(app.clock.as_ref());
    sqlx::query("UPDATE demands SET status = 'closed', closed_at = $2 WHERE id = $1")
        .bind(old["id"].as_str().unwrap())
        .bind(now)
        .execute(app.ctx.db.writer())
        .await
        .unwrap();
    let sessions_before = app.count("sessions").await;

    // Not yet due (the session ended after 12 h, but 7 days have not
    // passed since; the demand closed 5 days ago): nothing changes.
    app.clock.advance_ms(5 * 86_400_000);
    let r = app::retention::run(&app.ctx).await.unwrap();
    assert_eq!(r.anonymised_demands, 0);
    assert_eq!(app.count("sessions").await, sessions_before);

    // Past both limits.
    app.clock.advance_ms(26 * 86_400_000);
    let r = app::retention::run(&app.ctx).await.unwrap();
    assert!(r.anonymised_demands >= 1, "{r:?}");
    assert!(r.purged_sessions >= 1, "{r:?}");
    let staff = app.token("community-zq").await; // a fresh session is kept
    let row =
        sqlx::query("SELECT title, description, status, closed_at FROM demands WHERE id = $1")
            .bind(old["id"].as_str().unwrap())
            .fetch_one(app.ctx.db.reader())
            .await
            .unwrap();
    assert_eq!(row.get::<String, _>("title"), app::retention::ANONYMISED);
    assert_eq!(
        row.get::<String, _>("description"),
        app::retention::ANONYMISED
    );
    assert_eq!(
        row.get::<String, _>("status"),
        "closed",
        "statistics keep it"
    );
    let (s, v) = app
        .get(
            &format!("/api/v1/demands/{}", open["id"].as_str().unwrap()),
            &staff,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["title"], "仍在办理的诉求-RET", "an open demand is kept");

    // The audit log is never purged, and the run itself is audited.
    let audit_before = app.count("audit_events").await;
    app.clock.advance_ms(400 * 86_400_000);
    app::retention::run(&app.ctx).await.unwrap();
    assert!(app.count("audit_events").await >= audit_before);
    assert!(app
        .audit_actions()
        .await
        .iter()
        .any(|a| a == "retention_run"));
    // A second pass finds nothing more to anonymise.
    let again = app::retention::run(&app.ctx).await.unwrap();
    assert_eq!(again.anonymised_demands, 0);
}

#[tokio::test]
async fn pages_for_the_resident_and_staff_render_and_need_the_csrf_token() {
    use crate::pages::{form_csrf, logged_in, page, post_form};
    let app = spawn_app().await;
    let c = logged_in(&app, ME).await;
    let (s, html) = page(&app, &c, "/me/data?lang=en").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains("My personal information"),
        "English page; got: {}",
        html.chars().take(1500).collect::<String>()
    );
    assert!(html.contains("/api/v1/me/data.xlsx"));
    let (_, html) = page(&app, &c, "/me/data?lang=zh").await;
    assert!(html.contains("我的个人信息") && html.contains("樊一新"));

    // Without the token: refused, nothing recorded.
    let r = post_form(&app, &c, "/me/data/deletion", &[("reason", "x")]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.count("privacy_requests").await, 0);
    let csrf = form_csrf(&app, &c, "/me/data").await;
    let r = post_form(
        &app,
        &c,
        "/me/data/deletion",
        &[("reason", "搬走了"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("privacy_requests").await, 1);

    let staff = logged_in(&app, "community-zq").await;
    let (s, html) = page(&app, &staff, "/work/privacy").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains("个人信息申请") && html.contains("删除个人信息"),
        "{html}"
    );
}
