//! The authorization matrix (OWASP API1/API5, #9): ONE table, `MATRIX`,
//! lists every API operation with the outcome expected for every caller —
//! anonymous, each demo account, and three accounts made in setup (a system
//! and a security administrator, and the secretary of 岚县行政审批局机关党支部,
//! home branch of in-service members) — on the demo world.
//!
//! Every request is one the allowed callers would make for real: a body
//! that is valid for them (real multipart for photos, a real workbook for
//! imports), the query the operation needs, and objects that exist. The
//! objects are fixtures of known places (a demand, a household, a resident
//! of 新城壹号小区; a mediation and party records of 泛华盛世小区; an
//! attachment, a survey, a webhook, a dead letter, a photo, volunteer hours,
//! an inbox entry, a subscription made in setup), so for each caller the
//! object is in scope or out of scope as the caller's place says: a row
//! shows allowed (`A`), refused for the role (`3`) and refused for the
//! place (`4`) side by side. An operation that uses up its object (a
//! close, a delete, an end, a decision …) gets a fresh one, made the same
//! way, before the next caller once a caller has used it up.
//!
//! `every_cell_of_the_matrix_holds` runs every cell over real HTTP and
//! reports all mismatches at once. `refusals_come_before_body_checks`
//! sends every write again with a body that is well-typed but invalid (the
//! documented schema's required fields with placeholder values): each
//! caller refused in the matrix (`1`, `3`, `4`) must be refused the same way
//! — the role and the place are checked before the body. The third test
//! fails when an operation of the OpenAPI document is missing here.
//!
//! Cells, one character per caller: `A` 2xx, `0` 400, `1` 401, `3` 403,
//! `4` 404, `9` 409, `2` 422, `M` 413/415, `R` 429, `!` anything else.
//! A `2` in a refused caller's cell is the contract's answer to a body that
//! names a place or record the caller cannot see (a field error, like
//! "上级节点不存在"), and `9` the state a previous allowed caller left.
//! Set `LIANXIN_MATRIX_PRINT=1` to print the observed table.

use crate::helpers::*;
use kernel::clock::Clock;
use kernel::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Map, Value};
use sqlx::Row;
use std::collections::{BTreeSet, HashMap};

/// The callers, in the order of the cells after the anonymous one.
const CALLERS: [&str; 18] = [
    "13800000001",
    "13800000002",
    "13800000003",
    "butler-xc",
    "property-xc",
    "property-fh",
    "branch-fh",
    "community-zq",
    "street-cb",
    "district-ls",
    "village-xmz",
    "approval-lx",
    "expert-1",
    "grid-cz",
    "auditor",
    "matrix-sysadmin",
    "matrix-secadmin",
    "matrix-branch-jyj",
];

/// (method, path template, cells: anonymous, then `CALLERS` in order).
#[rustfmt::skip]
const MATRIX: &[(&str, &str, &str)] = &[
    // Columns: anonymous, 13800000001, 13800000002, 13800000003, butler-xc,
    // property-xc, property-fh, branch-fh, community-zq, street-cb,
    // district-ls, village-xmz, approval-lx, expert-1, grid-cz, auditor,
    // matrix-sysadmin, matrix-secadmin, matrix-branch-jyj.
    ("POST",   "/api/v1/admin/accounts",                            "1333333333333333A33"),
    ("GET",    "/api/v1/audit/events",                              "133333333333333A333"),
    ("POST",   "/api/v1/auth/login",                                "1AAAAAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/auth/logout",                               "1AAAAAAAAAAAAAAAAAA"),
    ("GET",    "/api/v1/demand-categories",                         "AAAAAAAAAAAAAAAAAAA"),
    ("PUT",    "/api/v1/demand-categories/{code}",                  "1333333333A33333333"),
    ("GET",    "/api/v1/demands",                                   "1AAAAAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/demands",                                   "1A22AA22AAA23323332"),
    ("GET",    "/api/v1/demands/inbox",                             "1AAAAAAAAAAAAAAAAAA"),
    ("GET",    "/api/v1/demands/similar",                           "1AAAAAAAAAAAAAAAAAA"),
    ("GET",    "/api/v1/demands/{id}",                              "1A44AA44AAA44444444"),
    ("POST",   "/api/v1/demands/{id}/attachments",                  "1A44AA44AAA44444444"),
    ("GET",    "/api/v1/demands/{id}/attachments/{attachment}",     "1A44AA44AAA44444444"),
    ("POST",   "/api/v1/demands/{id}/rating",                       "1A44AA44AAA44444444"),
    // The household that filed cannot support its own demand (409).
    ("POST",   "/api/v1/demands/{id}/support",                      "19A4444444444444444"),
    ("POST",   "/api/v1/demands/{id}/transitions",                  "13443A44AAA44444444"),
    ("PUT",    "/api/v1/insight/compounds/{id}/company",            "14443344AAA44444444"),
    ("GET",    "/api/v1/insight/dashboard",                         "1333AA44AAA43343334"),
    ("GET",    "/api/v1/insight/league",                            "1333AA44AAA43343334"),
    ("GET",    "/api/v1/insight/rates",                             "1333AA44AAA43343334"),
    ("GET",    "/api/v1/insight/report.xlsx",                       "1333AA44AAA43343334"),
    ("GET",    "/api/v1/insight/surveys",                           "1AAAAAAAAAAA33A333A"),
    ("POST",   "/api/v1/insight/surveys",                           "12223322AAA22222222"),
    ("GET",    "/api/v1/insight/surveys/{id}",                      "1AA4AA44AAA44444444"),
    ("POST",   "/api/v1/insight/surveys/{id}/answers",              "1AA4334433344444444"),
    ("POST",   "/api/v1/insight/surveys/{id}/publish",              "13343344AAA44444444"),
    ("GET",    "/api/v1/insight/weights",                           "1333AA44AAA43343334"),
    ("PUT",    "/api/v1/insight/weights",                           "1333444444A43343334"),
    ("GET",    "/api/v1/me",                                        "1AAAAAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/me/corrections",                            "1AAA333333333333333"),
    ("GET",    "/api/v1/me/data",                                   "1AAA333333333333333"),
    ("GET",    "/api/v1/me/data.json",                              "1AAA333333333333333"),
    ("GET",    "/api/v1/me/data.xlsx",                              "1AAA333333333333333"),
    ("POST",   "/api/v1/me/deletion-request",                       "1AAA333333333333333"),
    ("POST",   "/api/v1/me/password",                               "1AAAAAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/me/totp",                                   "1333AAAAAAAAAAAAAAA"),
    ("GET",    "/api/v1/mediation/cases",                           "1AAAAAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/mediation/cases",                           "133322AA22A23333332"),
    ("GET",    "/api/v1/mediation/cases/{id}",                      "144A44AA44A44444444"),
    ("POST",   "/api/v1/mediation/cases/{id}/close",                "144344AA44A44444444"),
    ("POST",   "/api/v1/mediation/cases/{id}/followups",            "144344AA44A44444444"),
    ("POST",   "/api/v1/mediation/cases/{id}/outcome",              "144344AA44A44444444"),
    ("POST",   "/api/v1/mediation/cases/{id}/sessions",             "144344AA44A44444444"),
    ("GET",    "/api/v1/notify/inbox",                              "1AAAAAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/notify/inbox/read-all",                     "1AAAAAAAAAAAAAAAAAA"),
    ("GET",    "/api/v1/notify/inbox/{id}",                         "1444A44444444444444"),
    ("POST",   "/api/v1/notify/inbox/{id}/read",                    "1444A44444444444444"),
    ("GET",    "/api/v1/notify/stream",                             "1AAAAAAAAAAAAAAAAAA"),
    ("GET",    "/api/v1/notify/subscriptions",                      "1AAAAAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/notify/subscriptions",                      "1A44AA44AAA44444444"),
    ("DELETE", "/api/v1/notify/subscriptions/{id}",                 "144444444A444444444"),
    ("GET",    "/api/v1/notify/unread",                             "1AAAAAAAAAAAAAAAAAA"),
    ("GET",    "/api/v1/notify/webhooks",                           "1AAAAAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/notify/webhooks",                           "14443344AAA44444444"),
    ("GET",    "/api/v1/notify/webhooks/dead",                      "1AAAAAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/notify/webhooks/dead/{id}/retry",           "14444444AAA44444444"),
    ("DELETE", "/api/v1/notify/webhooks/{id}",                      "14444444AAA44444444"),
    ("GET",    "/api/v1/notify/webhooks/{id}",                      "14444444AAA44444444"),
    ("PATCH",  "/api/v1/notify/webhooks/{id}",                      "14444444AAA44444444"),
    ("POST",   "/api/v1/notify/webhooks/{id}/test",                 "14444444AAA44444444"),
    ("GET",    "/api/v1/open311/keys",                              "1AAAAAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/open311/keys",                              "14443344AAA44444444"),
    ("DELETE", "/api/v1/open311/keys/{id}",                         "14444444AAA44444444"),
    ("GET",    "/api/v1/org/export.xlsx",                           "1444AA44AAA44444444"),
    ("GET",    "/api/v1/org/grids",                                 "1AAAAAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/org/grids",                                 "12222222AAA22222222"),
    ("GET",    "/api/v1/org/households/{id}/residents",             "1A44AA44AAA44444444"),
    ("POST",   "/api/v1/org/households/{id}/residents",             "13443344AAA44444444"),
    ("POST",   "/api/v1/org/import",                                "14443344AAA44444444"),
    ("POST",   "/api/v1/org/import/jobs",                           "14443344AAA44444444"),
    ("GET",    "/api/v1/org/import/jobs/{id}",                      "14444444AAA44444444"),
    ("POST",   "/api/v1/org/nodes",                                 "12223322AAA22222222"),
    ("DELETE", "/api/v1/org/nodes/{id}",                            "14443344AAA44444444"),
    ("GET",    "/api/v1/org/nodes/{id}",                            "1444AA44AAA44444444"),
    ("PATCH",  "/api/v1/org/nodes/{id}",                            "14443344AAA44444444"),
    ("GET",    "/api/v1/org/nodes/{id}/children",                   "1444AA44AAA44444444"),
    ("GET",    "/api/v1/org/privacy-requests",                      "13333333AAAA3333333"),
    ("POST",   "/api/v1/org/privacy-requests/{id}/decision",        "14444444AAA44444444"),
    ("GET",    "/api/v1/org/residents/{id}",                        "1A44AA44AAA44444444"),
    ("GET",    "/api/v1/org/tree",                                  "1AAAAAAAAAAAAAAAAAA"),
    ("GET",    "/api/v1/party/activities",                          "1AAAAAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/party/activities",                          "1222222A22322222222"),
    ("GET",    "/api/v1/party/activities/{id}",                     "1444444A44A44444444"),
    ("PATCH",  "/api/v1/party/activities/{id}",                     "1444444A44344444444"),
    ("PUT",    "/api/v1/party/activities/{id}/attendance",          "1444444A44344444444"),
    ("POST",   "/api/v1/party/activities/{id}/photos",              "1444444A44344444444"),
    ("GET",    "/api/v1/party/activities/{id}/photos/{photo}",      "1444444A44444444444"),
    ("GET",    "/api/v1/party/appointments",                        "1AAAAAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/party/appointments",                        "1222222A22322222222"),
    ("POST",   "/api/v1/party/appointments/{id}/end",               "1444444A44344444444"),
    ("GET",    "/api/v1/party/butlers",                             "1AAAAAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/party/butlers",                             "1222223A22322222222"),
    ("POST",   "/api/v1/party/butlers/{id}/end",                    "1444444A44344444444"),
    ("GET",    "/api/v1/party/me",                                  "1AAAAAAAAAAAAAAAAAA"),
    ("GET",    "/api/v1/party/members",                             "1AAAAAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/party/members",                             "1222222A22322222222"),
    ("GET",    "/api/v1/party/members/export.xlsx",                 "1444444A44A44444444"),
    ("POST",   "/api/v1/party/members/import",                      "1444444A44344444444"),
    ("GET",    "/api/v1/party/members/{id}",                        "1444444A44A44444444"),
    ("PATCH",  "/api/v1/party/members/{id}",                        "1444444A44344444444"),
    ("GET",    "/api/v1/party/members/{id}/checkins",               "1444444A44344444444"),
    ("POST",   "/api/v1/party/members/{id}/checkins",               "1444444A44344444444"),
    ("DELETE", "/api/v1/party/members/{id}/registration",           "1444444A4434444444A"),
    ("POST",   "/api/v1/party/members/{id}/registration",           "144444444444444444A"),
    ("POST",   "/api/v1/party/members/{id}/status",                 "1444444A44344444444"),
    ("POST",   "/api/v1/party/members/{id}/transfer",               "1444444A44344444444"),
    ("POST",   "/api/v1/party/officers/{id}/end",                   "1444444A44344444444"),
    ("GET",    "/api/v1/party/orgs",                                "1AAAAAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/party/orgs",                                "1222223A22A22222222"),
    ("GET",    "/api/v1/party/orgs/{id}",                           "1444444A44A44444444"),
    ("POST",   "/api/v1/party/orgs/{id}/officers",                  "1444444A44344444444"),
    ("PUT",    "/api/v1/party/orgs/{id}/service-centre",            "1444444A44A44444444"),
    ("GET",    "/api/v1/party/orgs/{id}/stats",                     "1444444A44A44444444"),
    ("GET",    "/api/v1/party/orgs/{id}/transfers",                 "1444444A44A44444444"),
    ("GET",    "/api/v1/party/tasks",                               "1AAAAAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/party/tasks",                               "1222222A22322222222"),
    ("POST",   "/api/v1/party/tasks/{id}/claims",                   "1444444A44444444444"),
    ("GET",    "/api/v1/party/volunteer",                           "1AAAAAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/party/volunteer",                           "1444444A44344444444"),
    ("POST",   "/api/v1/party/volunteer/{id}/verify",               "1444444A44344444444"),
    ("POST",   "/api/v1/security/grants",                           "13333333333333333A3"),
];

const NIL_ID: &str = "0190f0f0-0000-7000-8000-000000000000";

fn cell(s: StatusCode) -> char {
    match s.as_u16() {
        200..=299 => 'A',
        400 => '0',
        401 => '1',
        403 => '3',
        404 => '4',
        409 => '9',
        422 => '2',
        413 | 415 => 'M',
        429 => 'R',
        _ => '!',
    }
}

fn doc() -> Value {
    serde_json::from_str(app::openapi::json()).expect("the document is JSON")
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (m, op) in item.as_object().expect("path item") {
            if ["get", "post", "put", "patch", "delete"].contains(&m.as_str()) {
                out.push((m.to_uppercase(), path.clone(), op.clone()));
            }
        }
    }
    out
}

#[test]
fn the_matrix_names_every_operation_once() {
    let doc = doc();
    let documented: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect();
    let mut tabled = BTreeSet::new();
    for (m, p, cells) in MATRIX {
        assert!(
            tabled.insert((m.to_string(), p.to_string())),
            "{m} {p} twice in the matrix"
        );
        assert_eq!(cells.chars().count(), 1 + CALLERS.len(), "{m} {p}: {cells}");
    }
    let missing: Vec<_> = documented.difference(&tabled).collect();
    let extra: Vec<_> = tabled.difference(&documented).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing from the matrix: {missing:?}\nnot operations: {extra:?}"
    );
}

/// A tiny PNG (the signature and an IHDR chunk header are what is checked).
fn png() -> Vec<u8> {
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"
        .iter()
        .copied()
        .chain(std::iter::repeat_n(0u8, 100))
        .collect()
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// What a request carries.
#[derive(Clone)]
enum Body {
    Json(Value),
    /// A multipart form with one PNG in the field `file`.
    Photo,
    /// The same form with a text file instead.
    Text,
    /// Raw bytes with a content type (the workbook imports).
    Raw(&'static str, Vec<u8>),
}

/// The query and body of one call.
#[derive(Clone)]
struct Call {
    query: String,
    body: Option<Body>,
}

/// The fixtures: ids of real objects in known places, and the tokens.
struct Fixtures {
    ids: HashMap<&'static str, String>,
    tokens: std::cell::RefCell<HashMap<&'static str, String>>,
    today: String,
    yesterday: String,
    made: std::cell::Cell<usize>,
}

async fn one_id(app: &TestApp, sql: &str, bind: &[&str]) -> Option<String> {
    let mut q = sqlx::query(sql);
    for b in bind {
        q = q.bind(b.to_string());
    }
    q.fetch_optional(app.ctx.db.reader())
        .await
        .unwrap()
        .map(|r| r.get::<String, _>(0))
}

async fn user_id(app: &TestApp, login: &str) -> String {
    accounts::store::find_user_by_login(&app.ctx.db, &app.ctx.cipher, login)
        .await
        .unwrap()
        .unwrap()
        .id
}

/// POSTs `body` as `token`, expecting 2xx; returns the answer.
async fn made(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let (s, v) = app.post(path, token, body.clone()).await;
    assert!(s.is_success(), "setup: POST {path} {body} → {s} {v}");
    v
}

async fn upload_photo(app: &TestApp, token: &str, path: &str) -> Value {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(png()).file_name("matrix.png"),
    );
    let r = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "setup: upload to {path}: {}",
        r.status()
    );
    r.json().await.unwrap()
}

impl Fixtures {
    async fn build(app: &TestApp) -> Fixtures {
        // The separated administrators, at the top of the tree, and the work
        // unit's branch secretary.
        {
            let hash = accounts::model::hash_password(PASSWORD);
            let now = app.clock.now_ms();
            let city = org::store::get_node_by_path(&app.ctx.db, "/141100/")
                .await
                .unwrap()
                .unwrap();
            let mut tx = app.ctx.db.begin().await.unwrap();
            let jyj = org::store::get_node_by_path(&app.ctx.db, "/141100/141127/XZSPJ/")
                .await
                .unwrap()
                .unwrap();
            for (login, role, at) in [
                ("matrix-sysadmin", Role::Sysadmin, &city),
                ("matrix-secadmin", Role::Secadmin, &city),
                ("matrix-branch-jyj", Role::PartyBranchSecretary, &jyj),
            ] {
                let uid = accounts::store::create_user(
                    &mut tx,
                    &app.ctx.cipher,
                    login,
                    login,
                    &hash,
                    now,
                )
                .await
                .unwrap();
                accounts::store::grant_role(&mut tx, &uid, role, &at.id, &at.org_path, None, now)
                    .await
                    .unwrap();
            }
            tx.commit().await.unwrap();
        }
        let mut tokens = HashMap::new();
        for login in CALLERS {
            tokens.insert(login, app.token(login).await);
        }
        let day = |n: i64| {
            party::model::fmt_date(party::model::day_of(app.clock.now_ms() - n * 86_400_000))
        };
        let mut fx = Fixtures {
            ids: HashMap::new(),
            tokens: std::cell::RefCell::new(tokens),
            today: day(0),
            yesterday: day(1),
            made: std::cell::Cell::new(0),
        };
        let t = |login: &str| fx.token(login);
        let mut ids: HashMap<&'static str, String> = HashMap::new();
        ids.insert("xc", app.node_id(XC).await);
        ids.insert("xc_101", app.node_id(XC_101).await);
        ids.insert("fh", app.node_id(FH).await);
        ids.insert("fh_301", app.node_id(FH_301).await);
        ids.insert("zq", app.node_id(ZHANQIAN).await);
        ids.insert("lishi", app.node_id("/141100/141102/").await);
        ids.insert(
            "fh_b3",
            app.node_id("/141100/141102/141102002/141102002003/FH/B3/")
                .await,
        );
        ids.insert(
            "xc_b1",
            app.node_id("/141100/141102/141102003/141102003001/XC/B1/")
                .await,
        );
        for (key, sql) in [
            ("demand", "SELECT id FROM demands WHERE title = '地下车库照明不亮'"),
            ("mediation", "SELECT id FROM mediations ORDER BY id LIMIT 1"),
            (
                "resident",
                "SELECT id FROM residents WHERE org_path = '/141100/141102/141102003/141102003001/XC/B1/U1/101/' ORDER BY id LIMIT 1",
            ),
            ("key", "SELECT id FROM open311_keys ORDER BY id LIMIT 1"),
            ("fh_branch", "SELECT id FROM party_orgs WHERE name = '泛华盛世小区党支部'"),
            (
                "jyj_branch",
                "SELECT id FROM party_orgs WHERE name = '岚县行政审批局机关党支部'",
            ),
            ("officer", "SELECT id FROM party_officers ORDER BY id LIMIT 1"),
            ("member", "SELECT id FROM party_members ORDER BY id LIMIT 1"),
            ("butler", "SELECT id FROM party_butlers ORDER BY id LIMIT 1"),
            (
                "appointment",
                "SELECT id FROM party_cross_appointments ORDER BY id LIMIT 1",
            ),
            ("activity", "SELECT id FROM party_activities ORDER BY id LIMIT 1"),
            ("task", "SELECT id FROM party_tasks ORDER BY id LIMIT 1"),
        ] {
            ids.insert(key, one_id(app, sql, &[]).await.unwrap_or_else(|| panic!("no {key}")));
        }
        // Records the demo world lacks, made the way users make them.
        let v = upload_photo(
            app,
            &t("13800000001"),
            &format!("/api/v1/demands/{}/attachments", ids["demand"]),
        )
        .await;
        ids.insert("attachment", v["id"].as_str().unwrap().into());
        let v = upload_photo(
            app,
            &t("branch-fh"),
            &format!("/api/v1/party/activities/{}/photos", ids["activity"]),
        )
        .await;
        ids.insert("photo", v["id"].as_str().unwrap().into());
        let v = made(
            app,
            &t("community-zq"),
            "/api/v1/insight/surveys",
            json!({"compound_id": ids["xc"], "period": "2025q1"}),
        )
        .await;
        ids.insert("survey", v["id"].as_str().unwrap().to_string());
        // street-cb follows another demand of the household.
        let other = made(
            app,
            &t("13800000001"),
            "/api/v1/demands",
            json!({"category": "leak", "title": "矩阵关注", "description": "卫生间顶棚渗水,已经三天了"}),
        )
        .await;
        let v = made(
            app,
            &t("street-cb"),
            "/api/v1/notify/subscriptions",
            json!({"object_type": "demand", "object_id": other["id"]}),
        )
        .await;
        ids.insert("subscription", v["id"].as_str().unwrap().into());
        // An import job, started by community-zq (a job is its starter's).
        let r = app
            .client
            .post(app.url(&format!("/api/v1/org/import/jobs?org={}", ids["xc"])))
            .bearer_auth(t("community-zq"))
            .header(reqwest::header::CONTENT_TYPE, XLSX)
            .body(org::xlsx::template_workbook(&[[
                "9",
                "1",
                "902",
                "矩阵任务",
                "",
                "",
                "业主",
                "",
            ]]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED, "setup: import job");
        let v: Value = r.json().await.unwrap();
        ids.insert("import_job", v["id"].as_str().unwrap().to_string());
        fx.ids = ids;
        let webhook = fx.fresh(app, "webhook").await;
        fx.ids.insert("webhook", webhook);
        let dead = fx.fresh(app, "delivery").await;
        fx.ids.insert("delivery", dead);
        for kind in ["member", "volunteer", "floating", "mediation", "mediated"] {
            let id = fx.fresh(app, kind).await;
            fx.ids.insert(kind, id);
        }
        // The inbox: what the demo world published, fanned out.
        for _ in 0..10 {
            if notify::worker::run_once(&app.ctx).await.unwrap().fanned_out == 0 {
                break;
            }
        }
        let butler = user_id(app, "butler-xc").await;
        let inbox = one_id(
            app,
            "SELECT id FROM notify_inbox WHERE user_id = $1 ORDER BY id LIMIT 1",
            &[&butler],
        )
        .await
        .expect("butler-xc has an inbox entry");
        fx.ids.insert("inbox", inbox);
        fx
    }

    fn id(&self, key: &str) -> String {
        self.ids
            .get(key)
            .cloned()
            .unwrap_or_else(|| NIL_ID.to_string())
    }

    fn token(&self, login: &str) -> String {
        self.tokens.borrow()[login].clone()
    }

    /// After the password-change row: every caller's password back to the
    /// demo one, and new tokens (a change ends the other sessions).
    async fn restore_passwords(&self, app: &TestApp) {
        let hash = accounts::model::hash_password(PASSWORD);
        let mut tx = app.ctx.db.begin().await.unwrap();
        for login in CALLERS {
            let uid = user_id(app, login).await;
            accounts::store::set_password(&mut tx, &uid, &hash, app.clock.now_ms())
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        for login in CALLERS {
            let token = app.token(login).await;
            self.tokens.borrow_mut().insert(login, token);
        }
    }

    /// A number for unique names and codes.
    fn next(&self) -> usize {
        self.made.set(self.made.get() + 1);
        self.made.get()
    }

    /// A new object of `kind`, in the same place as the fixture, made the
    /// way its users make it.
    async fn fresh(&self, app: &TestApp, kind: &str) -> String {
        let n = self.next();
        let id = |v: Value| v["id"].as_str().expect("an id").to_string();
        match kind {
            "demand" => id(made(
                app,
                &self.token("13800000001"),
                "/api/v1/demands",
                json!({"category": "leak", "title": format!("矩阵测试{n}"), "description": "卫生间顶棚渗水,已经三天了"}),
            )
            .await),
            "node" => id(made(
                app,
                &self.token("community-zq"),
                "/api/v1/org/nodes",
                json!({"parent_id": self.id("xc"), "kind": "building", "code": format!("M{n}"), "name": format!("矩阵{n}号楼")}),
            )
            .await),
            "mediation" => id(made(
                app,
                &self.token("property-fh"),
                "/api/v1/mediation/cases",
                json!({"title": format!("矩阵纠纷{n}"), "summary": "楼上漏水引起的纠纷", "compound_id": self.id("fh"), "parties": [{"household_id": self.id("fh_301"), "role": "applicant"}]}),
            )
            .await),
            "resolved" => {
                // Handled and fed back: waiting for the return visit.
                let d = Box::pin(self.fresh(app, "demand")).await;
                for (login, body) in [
                    ("community-zq", json!({"action": "accept"})),
                    ("community-zq", json!({"action": "dispatch"})),
                    ("butler-xc", json!({"action": "start"})),
                    ("butler-xc", json!({"action": "resolve", "note": "已处理"})),
                ] {
                    made(
                        app,
                        &self.token(login),
                        &format!("/api/v1/demands/{d}/transitions"),
                        body,
                    )
                    .await;
                }
                d
            }
            "mediated" => {
                // Open, with its outcome recorded: ready for follow-ups and closing.
                let m = Box::pin(self.fresh(app, "mediation")).await;
                made(
                    app,
                    &self.token("property-fh"),
                    &format!("/api/v1/mediation/cases/{m}/outcome"),
                    json!({"kind": "agreement", "agreement_text": "楼上负责修复"}),
                )
                .await;
                m
            }
            "webhook" => id(made(
                app,
                &self.token("community-zq"),
                "/api/v1/notify/webhooks",
                json!({"org_id": self.id("xc"), "name": format!("矩阵{n}"), "platform": "generic", "url": "http://127.0.0.1:9/hook", "secret": "matrix-secret"}),
            )
            .await),
            "key" => id(made(
                app,
                &self.token("community-zq"),
                "/api/v1/open311/keys",
                json!({"name": format!("矩阵{n}"), "org_id": self.id("xc")}),
            )
            .await),
            "survey" => {
                // Open, with one resident's answer: ready to publish.
                let survey = id(made(
                    app,
                    &self.token("community-zq"),
                    "/api/v1/insight/surveys",
                    json!({"compound_id": self.id("xc"), "period": format!("20{:02}q2", n % 90 + 10)}),
                )
                .await);
                made(
                    app,
                    &self.token("13800000001"),
                    &format!("/api/v1/insight/surveys/{survey}/answers"),
                    json!({"scores": [5, 4, 3, 4, 5]}),
                )
                .await;
                survey
            }
            "privacy" => {
                let v = made(
                    app,
                    &self.token("13800000001"),
                    "/api/v1/me/corrections",
                    json!({"field": "name", "value": format!("樊一新{n}"), "reason": "改名"}),
                )
                .await;
                v["request"]["id"].as_str().expect("a request").to_string()
            }
            "volunteer" => id(made(
                app,
                &self.token("branch-fh"),
                "/api/v1/party/volunteer",
                json!({"member_id": self.id("member"), "served_on": self.yesterday, "hours": 1, "description": "楼道清理"}),
            )
            .await),
            "delivery" => {
                // A dead letter of the fixture webhook (the worker makes them
                // after the last failed attempt; written directly here).
                let now = app.clock.now_ms();
                let event = one_id(
                    app,
                    "SELECT id FROM notify_outbox WHERE id NOT IN (SELECT event_id FROM notify_deliveries WHERE webhook_id = $1) ORDER BY id LIMIT 1",
                    &[&self.id("webhook")],
                )
                .await
                .expect("an outbox event");
                let id = kernel::id::new_id();
                let mut tx = app.ctx.db.begin().await.unwrap();
                sqlx::query(
                    "INSERT INTO notify_deliveries (id, event_id, webhook_id, org_path, status, attempts, next_attempt_at, last_status, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, 'dead', 3, $5, 500, $5, $5)",
                )
                .bind(&id)
                .bind(&event)
                .bind(self.id("webhook"))
                .bind(XC)
                .bind(now)
                .execute(&mut *tx)
                .await
                .unwrap();
                tx.commit().await.unwrap();
                id
            }
            "member" | "probationary" | "floating" => {
                let mut body = json!({"branch_id": self.id("fh_branch"), "name": format!("矩阵党员{n}"), "status": "full", "joined_on": "2010-07-01", "full_on": "2011-07-01", "mode": "resident"});
                if kind == "probationary" {
                    body["status"] = json!("probationary");
                    body["full_on"] = Value::Null;
                    body["joined_on"] = json!("2025-06-01");
                }
                if kind == "floating" {
                    body["mode"] = json!("floating");
                    body["whereabouts"] = json!("太原市小店区");
                    body["away_since"] = json!(self.yesterday);
                    body["away_reason"] = json!("外出务工");
                }
                id(made(app, &self.token("branch-fh"), "/api/v1/party/members", body).await)
            }
            "in_service" => id(made(
                app,
                &self.token("matrix-branch-jyj"),
                "/api/v1/party/members",
                json!({"branch_id": self.id("jyj_branch"), "name": format!("在职党员{n}"), "status": "full", "joined_on": "2006-07-01", "full_on": "2007-07-01", "mode": "in_service", "work_unit": "岚县行政审批局"}),
            )
            .await),
            "registered" => {
                // 双报到 at the 泛华盛世 branch.
                let m = Box::pin(self.fresh(app, "in_service")).await;
                made(
                    app,
                    &self.token("matrix-branch-jyj"),
                    &format!("/api/v1/party/members/{m}/registration"),
                    json!({"org_id": self.id("fh_branch"), "registered_on": self.yesterday}),
                )
                .await;
                m
            }
            "butler" => id(made(
                app,
                &self.token("branch-fh"),
                "/api/v1/party/butlers",
                json!({"building_id": self.id("fh_b3"), "role": "party_volunteer", "member_id": self.fresh_member(app).await, "duty": "楼道巡查", "started_on": self.yesterday}),
            )
            .await),
            "appointment" => id(made(
                app,
                &self.token("branch-fh"),
                "/api/v1/party/appointments",
                json!({"org_id": self.id("fh_branch"), "member_id": self.fresh_member(app).await, "compound_id": self.id("fh"), "body": "owners_committee", "direction": "into_body", "position": "业委会委员", "started_on": self.yesterday}),
            )
            .await),
            "officer" => id(made(
                app,
                &self.token("branch-fh"),
                &format!("/api/v1/party/orgs/{}/officers", self.id("fh_branch")),
                json!({"member_id": self.fresh_member(app).await, "position": "committee_member", "term_start": self.yesterday}),
            )
            .await),
            other => panic!("no fresh {other}"),
        }
    }

    /// A new member of the 泛华盛世 branch (boxed: `fresh` calls it).
    fn fresh_member<'a>(
        &'a self,
        app: &'a TestApp,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = String> + 'a>> {
        Box::pin(self.fresh(app, "member"))
    }

    /// The fixture behind path parameter `param` of the operation at `path`.
    fn param(&self, path: &str, param: &str) -> String {
        let under = |p: &str| path.starts_with(p);
        match param {
            "code" => "leak".into(),
            "attachment" => self.id("attachment"),
            "photo" => self.id("photo"),
            _ if under("/api/v1/demands/") => self.id("demand"),
            _ if path.ends_with("/followups") => self.id("mediated"),
            _ if under("/api/v1/mediation/") => self.id("mediation"),
            _ if path.ends_with("/checkins") => self.id("floating"),
            _ if path.ends_with("/officers") => self.id("fh_branch"),
            _ if under("/api/v1/notify/inbox/") => self.id("inbox"),
            _ if under("/api/v1/notify/subscriptions/") => self.id("subscription"),
            _ if under("/api/v1/notify/webhooks/dead/") => self.id("delivery"),
            _ if under("/api/v1/notify/webhooks/") => self.id("webhook"),
            _ if under("/api/v1/org/import/jobs/") => self.id("import_job"),
            _ if under("/api/v1/org/nodes/") => self.id("xc"),
            _ if under("/api/v1/org/households/") => self.id("xc_101"),
            _ if under("/api/v1/org/residents/") => self.id("resident"),
            _ if under("/api/v1/org/privacy-requests/") => NIL_ID.into(),
            _ if under("/api/v1/insight/surveys/") => self.id("survey"),
            _ if under("/api/v1/insight/compounds/") => self.id("xc"),
            _ if under("/api/v1/open311/keys/") => self.id("key"),
            _ if under("/api/v1/party/orgs/") => self.id("fh_branch"),
            _ if under("/api/v1/party/officers/") => self.id("officer"),
            _ if under("/api/v1/party/members/") => self.id("member"),
            _ if under("/api/v1/party/butlers/") => self.id("butler"),
            _ if under("/api/v1/party/appointments/") => self.id("appointment"),
            _ if under("/api/v1/party/activities/") => self.id("activity"),
            _ if under("/api/v1/party/tasks/") => self.id("task"),
            _ if under("/api/v1/party/volunteer/") => self.id("volunteer"),
            _ => NIL_ID.into(),
        }
    }

    /// The operations that use up their object (or need one in a state
    /// the shared fixture is not in), and the kind of a fresh one.
    fn consumes(method: &str, path: &str) -> Option<&'static str> {
        Some(match (method, path) {
            ("POST", "/api/v1/demands/{id}/support") => "demand",
            ("POST", "/api/v1/demands/{id}/rating") => "resolved",
            ("POST", "/api/v1/mediation/cases/{id}/outcome") => "mediation",
            ("POST", "/api/v1/party/members/{id}/status") => "probationary",
            ("POST", "/api/v1/party/members/{id}/registration") => "in_service",
            ("DELETE", "/api/v1/party/members/{id}/registration") => "registered",
            ("POST", "/api/v1/party/members/{id}/transfer") => "member",
            ("POST", "/api/v1/party/butlers/{id}/end") => "butler",
            ("POST", "/api/v1/party/appointments/{id}/end") => "appointment",
            ("POST", "/api/v1/party/officers/{id}/end") => "officer",
            ("POST", "/api/v1/demands/{id}/transitions") => "demand",
            ("DELETE", "/api/v1/org/nodes/{id}") | ("PATCH", "/api/v1/org/nodes/{id}") => "node",
            ("POST", "/api/v1/mediation/cases/{id}/close") => "mediated",
            ("DELETE", "/api/v1/notify/webhooks/{id}")
            | ("PATCH", "/api/v1/notify/webhooks/{id}") => "webhook",
            ("POST", "/api/v1/notify/webhooks/dead/{id}/retry") => "delivery",
            ("DELETE", "/api/v1/open311/keys/{id}") => "key",
            ("POST", "/api/v1/insight/surveys/{id}/publish") => "survey",
            ("POST", "/api/v1/org/privacy-requests/{id}/decision") => "privacy",
            ("POST", "/api/v1/party/volunteer/{id}/verify") => "volunteer",
            _ => return None,
        })
    }

    /// How the operation is called by the callers it is meant for: its
    /// query and a body valid for them. `None`: the documented required
    /// query and no body, or the schema sample when it needs none better.
    fn call(&self, method: &str, path: &str) -> Option<Call> {
        let j = |query: &str, body: Value| {
            Some(Call {
                query: query.to_string(),
                body: Some(Body::Json(body)),
            })
        };
        let q = |query: String| Some(Call { query, body: None });
        let (xc, fh, zq) = (self.id("xc"), self.id("fh"), self.id("zq"));
        let n = self.next();
        match (method, path) {
            ("POST", "/api/v1/admin/accounts") => j(
                "",
                json!({"login": format!("matrix-new-{n}"), "display_name": "新账号", "password": "Matrix-Pass-2026!"}),
            ),
            ("POST", "/api/v1/security/grants") => j(
                "",
                json!({"user_id": "{user:13800000002}", "role": "grid_worker", "org_id": zq}),
            ),
            ("PUT", "/api/v1/demand-categories/{code}") => j(
                "",
                json!({"name": "漏水", "name_en": "Leak", "default_handler_role": "butler", "default_urgency": "normal"}),
            ),
            ("POST", "/api/v1/demands") => j(
                "",
                json!({"category": "leak", "title": "矩阵测试", "description": "楼道灯不亮,已经好几天了", "household_id": self.id("xc_101")}),
            ),
            ("POST", "/api/v1/demands/{id}/transitions") => j("", json!({"action": "accept"})),
            ("POST", "/api/v1/demands/{id}/rating") => j(
                "",
                json!({"contacted": true, "resolved": true, "satisfaction": 5, "comment": "及时"}),
            ),
            ("POST", "/api/v1/demands/{id}/attachments")
            | ("POST", "/api/v1/party/activities/{id}/photos") => Some(Call {
                query: String::new(),
                body: Some(Body::Photo),
            }),
            ("GET", "/api/v1/insight/dashboard") | ("GET", "/api/v1/insight/league") => {
                q(format!("org={xc}&from=2026-01-01&to=2026-11-28"))
            }
            ("GET", "/api/v1/insight/rates") => {
                q(format!("org={xc}&from=2026-11-01&to=2026-11-28"))
            }
            ("GET", "/api/v1/insight/report.xlsx") => q(format!("org={xc}&month=2026-10")),
            ("POST", "/api/v1/insight/surveys") => j(
                "",
                json!({"compound_id": xc, "period": format!("20{:02}q3", n % 90 + 10)}),
            ),
            ("POST", "/api/v1/insight/surveys/{id}/answers") => {
                j("", json!({"scores": [5, 4, 3, 4, 5]}))
            }
            ("GET", "/api/v1/insight/weights") => q(format!("org={xc}")),
            ("POST", "/api/v1/me/password") => j(
                "",
                json!({"current_password": PASSWORD, "new_password": "Matrix-Pass-2026!"}),
            ),
            ("POST", "/api/v1/me/corrections") => {
                j("", json!({"field": "relation", "value": "户主"}))
            }
            ("POST", "/api/v1/me/totp") => j("", json!({"password": PASSWORD})),
            ("POST", "/api/v1/mediation/cases") => j(
                "",
                json!({"title": "矩阵纠纷", "summary": "楼上漏水引起的纠纷", "compound_id": fh, "parties": [{"household_id": self.id("fh_301"), "role": "applicant"}]}),
            ),
            ("POST", "/api/v1/mediation/cases/{id}/sessions") => j(
                "",
                json!({"held_at": "2026-11-20T09:00:00+08:00", "place": "调解室", "notes": "双方到场"}),
            ),
            ("POST", "/api/v1/mediation/cases/{id}/outcome") => j(
                "",
                json!({"kind": "agreement", "agreement_text": "楼上负责修复"}),
            ),
            ("POST", "/api/v1/mediation/cases/{id}/followups") => j(
                "",
                json!({"visited_at": "2026-11-21T09:00:00+08:00", "notes": "已修复", "satisfied": true}),
            ),
            ("POST", "/api/v1/notify/subscriptions") => j(
                "",
                json!({"object_type": "demand", "object_id": self.id("demand")}),
            ),
            ("POST", "/api/v1/notify/webhooks") => j(
                "",
                json!({"org_id": xc, "name": format!("矩阵{n}"), "platform": "generic", "url": "http://127.0.0.1:9/hook", "secret": "matrix-secret"}),
            ),
            ("PATCH", "/api/v1/notify/webhooks/{id}") => j("", json!({"name": "矩阵改名"})),
            ("POST", "/api/v1/open311/keys") => {
                j("", json!({"name": format!("矩阵{n}"), "org_id": xc}))
            }
            ("GET", "/api/v1/org/export.xlsx") => q(format!("org={xc}")),
            ("POST", "/api/v1/org/grids") => j(
                "",
                json!({"org_id": zq, "number": 10 + n % 80, "name": format!("矩阵网格{n}")}),
            ),
            ("POST", "/api/v1/org/households/{id}/residents") => {
                j("", json!({"name": format!("矩阵{n}")}))
            }
            ("POST", "/api/v1/org/import") | ("POST", "/api/v1/org/import/jobs") => Some(Call {
                query: format!("org={xc}"),
                body: Some(Body::Raw(
                    XLSX,
                    org::xlsx::template_workbook(&[[
                        "9",
                        "1",
                        "901",
                        "矩阵导入",
                        "",
                        "",
                        "业主",
                        "",
                    ]]),
                )),
            }),
            ("POST", "/api/v1/org/nodes") => j(
                "",
                json!({"parent_id": xc, "kind": "building", "code": format!("N{n}"), "name": format!("矩阵{n}号楼")}),
            ),
            ("PATCH", "/api/v1/org/nodes/{id}") => j("", json!({"name": "矩阵改名", "version": 1})),
            ("POST", "/api/v1/org/privacy-requests/{id}/decision") => {
                j("", json!({"decision": "approve"}))
            }
            ("POST", "/api/v1/party/activities") => j(
                "",
                json!({"org_id": self.id("fh_branch"), "kind": "branch_assembly", "title": "矩阵党员大会", "held_at": "2026-11-20T09:00:00+08:00", "place": "活动室"}),
            ),
            ("POST", "/api/v1/party/tasks") => j(
                "",
                json!({"org_id": self.id("fh_branch"), "title": "矩阵任务", "description": "清理楼道杂物"}),
            ),
            ("GET", "/api/v1/party/members/export.xlsx") => {
                q(format!("org={}", self.id("fh_branch")))
            }
            ("POST", "/api/v1/party/members") => j(
                "",
                json!({"branch_id": self.id("fh_branch"), "name": format!("矩阵党员{n}"), "status": "full", "joined_on": "2010-07-01", "full_on": "2011-07-01", "mode": "resident"}),
            ),
            ("POST", "/api/v1/party/volunteer/{id}/verify") => j("", json!({"approve": true})),
            ("POST", "/api/v1/party/volunteer") => j(
                "",
                json!({"member_id": self.id("member"), "served_on": self.yesterday, "hours": 1, "description": "楼道清理"}),
            ),
            ("POST", "/api/v1/party/orgs") => j(
                "",
                json!({"kind": "group", "name": format!("矩阵党小组{n}"), "org_id": self.id("fh_b3"), "parent_id": self.id("fh_branch")}),
            ),
            ("POST", "/api/v1/party/orgs/{id}/officers") => j(
                "",
                json!({"member_id": self.id("member"), "position": "committee_member", "term_start": self.yesterday}),
            ),
            ("POST", "/api/v1/party/butlers") => j(
                "",
                json!({"building_id": self.id("fh_b3"), "role": "party_volunteer", "member_id": self.id("member"), "duty": format!("楼道巡查{n}"), "started_on": self.yesterday}),
            ),
            ("POST", "/api/v1/party/appointments") => j(
                "",
                json!({"org_id": self.id("fh_branch"), "member_id": self.id("member"), "compound_id": fh, "body": "owners_committee", "direction": "into_body", "position": "业委会委员", "started_on": self.yesterday}),
            ),
            ("POST", "/api/v1/party/butlers/{id}/end")
            | ("POST", "/api/v1/party/appointments/{id}/end")
            | ("POST", "/api/v1/party/officers/{id}/end") => j("", json!({"ended_on": self.today})),
            ("POST", "/api/v1/party/members/{id}/registration") => j(
                "",
                json!({"org_id": self.id("fh_branch"), "registered_on": self.today}),
            ),
            ("POST", "/api/v1/party/members/{id}/status") => {
                j("", json!({"status": "full", "date": self.today}))
            }
            ("POST", "/api/v1/party/members/{id}/transfer") => j(
                "",
                json!({"to_external": "太原市小店区龙城街道某社区党支部", "transferred_on": self.today}),
            ),
            ("POST", "/api/v1/party/members/{id}/checkins") => j(
                "",
                json!({"place": "太原市小店区龙城街道", "note": "工作稳定"}),
            ),
            ("PUT", "/api/v1/insight/weights") => j(
                &format!("org={}", self.id("lishi")),
                json!({"criteria": [{"indicator": "on_time_closure_rate", "points": 100, "threshold": 0.6, "per_point": 2}], "version": 0}),
            ),
            ("POST", "/api/v1/party/members/import") => Some(Call {
                query: format!("org={}", self.id("fh_branch")),
                body: Some(Body::Raw(
                    XLSX,
                    party::xlsx::template_workbook(&[[
                        "矩阵导入",
                        "",
                        "",
                        "正式党员",
                        "2001-07-01",
                        "2002-07-01",
                        "居民党员(直接管)",
                        "",
                        "",
                        "",
                        "",
                    ]]),
                )),
            }),
            _ => None,
        }
    }

    /// A sample value for a query parameter or body field, by name.
    fn sample_named(&self, name: &str) -> Option<Value> {
        Some(match name {
            "org" | "org_id" | "compound_id" => json!(self.id("xc")),
            "household_id" => json!(self.id("xc_101")),
            "category" => json!("leak"),
            "from" | "date" | "day" => json!("2026-11-01"),
            "to" => json!("2026-11-28"),
            "month" => json!("2026-11"),
            "q" => json!("灯"),
            "phone" => json!("13900009999"),
            _ => return None,
        })
    }
}

fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(|r| r.as_str()) {
        Some(r) => doc.pointer(r.trim_start_matches('#')).unwrap_or(v),
        None => v,
    }
}

/// A value of `schema` with its required fields only, named samples first:
/// well-typed, but mostly not a valid request.
fn sample(doc: &Value, schema: &Value, name: &str, fx: &Fixtures, depth: usize) -> Value {
    let schema = resolve(doc, schema);
    if let Some(v) = fx.sample_named(name) {
        return v;
    }
    for k in ["allOf", "oneOf", "anyOf"] {
        if let Some(first) = schema[k].as_array().and_then(|a| {
            a.iter()
                .find(|s| resolve(doc, s)["type"] != "null")
                .or(a.first())
        }) {
            return sample(doc, first, name, fx, depth + 1);
        }
    }
    if let Some(first) = schema["enum"].as_array().and_then(|a| a.first()) {
        return first.clone();
    }
    let ty = match &schema["type"] {
        Value::Array(a) => a
            .iter()
            .find(|t| *t != "null")
            .cloned()
            .unwrap_or(Value::Null),
        t => t.clone(),
    };
    match ty.as_str().unwrap_or("object") {
        "string" => match schema["format"].as_str() {
            Some("date") => json!("2026-11-20"),
            Some("date-time") => json!("2026-11-20T09:00:00+08:00"),
            _ => json!("矩阵测试"),
        },
        "integer" | "number" => json!(schema["minimum"].as_i64().unwrap_or(1).max(1)),
        "boolean" => json!(true),
        "array" => json!([]),
        _ if depth > 4 => json!({}),
        _ => {
            let mut out = Map::new();
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
                .unwrap_or_default();
            if let Some(props) = schema["properties"].as_object() {
                for (k, v) in props {
                    if required.contains(&k.as_str()) {
                        out.insert(k.clone(), sample(doc, v, k, fx, depth + 1));
                    }
                }
            }
            Value::Object(out)
        }
    }
}

/// The documented call: the required query parameters and the schema
/// sample of the JSON body (or the recipe's multipart or workbook body).
fn documented_call(doc: &Value, op: &Value, fx: &Fixtures, recipe: Option<&Call>) -> Call {
    let mut query = Vec::new();
    for p in op["parameters"].as_array().into_iter().flatten() {
        let p = resolve(doc, p);
        if p["in"] == "query" && p["required"] == true {
            let name = p["name"].as_str().unwrap_or("");
            let v = sample(doc, &p["schema"], name, fx, 0);
            let v = v.as_str().map(str::to_string).unwrap_or(v.to_string());
            query.push(format!("{name}={v}"));
        }
    }
    let body = match op["requestBody"]["content"]["application/json"]["schema"].as_object() {
        Some(s) => Some(Body::Json(sample(
            doc,
            &Value::Object(s.clone()),
            "",
            fx,
            0,
        ))),
        None => recipe.and_then(|c| c.body.clone()),
    };
    Call {
        query: query.join("&"),
        body,
    }
}

/// Sends one call as caller `i` (0: anonymous) and returns the status.
async fn send(
    app: &TestApp,
    fx: &Fixtures,
    method: &str,
    template: &str,
    url: &str,
    i: usize,
    body: Option<&Body>,
) -> StatusCode {
    let mut req = app
        .client
        .request(method.parse::<Method>().unwrap(), app.url(url));
    if i > 0 {
        let token = if template == "/api/v1/auth/logout" || template == "/api/v1/me/password" {
            // Logging out (or changing the password) ends the token: use one of its own.
            app.token(CALLERS[i - 1]).await
        } else {
            fx.token(CALLERS[i - 1])
        };
        req = req.bearer_auth(token);
    }
    if template == "/api/v1/auth/login" {
        let login = if i == 0 { "nobody" } else { CALLERS[i - 1] };
        req = req.json(&json!({"login": login, "password": PASSWORD}));
    } else {
        match body {
            Some(Body::Json(b)) => req = req.json(b),
            Some(Body::Photo) => {
                req = req.multipart(reqwest::multipart::Form::new().part(
                    "file",
                    reqwest::multipart::Part::bytes(png()).file_name("matrix.png"),
                ))
            }
            Some(Body::Text) => {
                req = req.multipart(
                    reqwest::multipart::Form::new().part(
                        "file",
                        reqwest::multipart::Part::bytes(b"not a photo".to_vec())
                            .file_name("matrix.txt"),
                    ),
                )
            }
            Some(Body::Raw(ct, bytes)) => {
                req = req
                    .header(reqwest::header::CONTENT_TYPE, *ct)
                    .body(bytes.clone())
            }
            None => {}
        }
    }
    // Only the status is read (the live stream would never end).
    req.send().await.unwrap().status()
}

/// `{user:LOGIN}` in a JSON body stands for that account's user id.
async fn with_users(app: &TestApp, body: Option<Body>) -> Option<Body> {
    match body {
        Some(Body::Json(v)) => {
            let mut s = v.to_string();
            while let Some(start) = s.find("{user:") {
                let end = start + s[start..].find('}').unwrap();
                let login = s[start + 6..end].to_string();
                s.replace_range(start..=end, &user_id(app, &login).await);
            }
            Some(Body::Json(serde_json::from_str(&s).unwrap()))
        }
        other => other,
    }
}

fn path_of(fx: &Fixtures, template: &str, object: Option<&str>) -> String {
    template
        .split('/')
        .map(
            |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some("id") if object.is_some() => object.unwrap().to_string(),
                Some(param) => fx.param(template, param),
                None => seg.to_string(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

fn mismatch(method: &str, template: &str, row: &str, expected: &str) -> Option<String> {
    if row == expected {
        return None;
    }
    let who: Vec<String> = row
        .chars()
        .zip(expected.chars())
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(i, (a, b))| {
            let name = if i == 0 { "anonymous" } else { CALLERS[i - 1] };
            format!("{name}: expected {b}, got {a}")
        })
        .collect();
    Some(format!("{method} {template}: {}", who.join("; ")))
}

fn expected_row(method: &str, template: &str) -> &'static str {
    MATRIX
        .iter()
        .find(|(m, p, _)| *m == method && *p == template)
        .map(|(_, _, c)| *c)
        .unwrap_or("(not in the matrix)")
}

async fn matrix_app() -> TestApp {
    // Webhooks may point at 127.0.0.1 (nothing is delivered in this test).
    spawn_configured(true, |c| c.webhook_allow_private = true).await
}

#[tokio::test]
async fn every_cell_of_the_matrix_holds() {
    let app = matrix_app().await;
    let doc = doc();
    let fx = Fixtures::build(&app).await;
    let mut mismatches = Vec::new();
    let mut observed = Vec::new();
    // In the document's order (sorted by path), so that the writes of one
    // run happen in the same order as in the next.
    for (method, template, op) in &operations(&doc) {
        let (method, template) = (method.as_str(), template.as_str());
        let expected = expected_row(method, template);
        let consumes = Fixtures::consumes(method, template);
        let mut object: Option<String> = None;
        let mut row = String::new();
        for i in 0..=CALLERS.len() {
            if let (Some(kind), None) = (consumes, &object) {
                object = Some(fx.fresh(&app, kind).await);
            }
            // A fresh body per caller (unique names and codes).
            let recipe = fx.call(method, template);
            let call = match recipe {
                Some(c) => c,
                None => documented_call(&doc, op, &fx, None),
            };
            let mut url = path_of(&fx, template, object.as_deref());
            if !call.query.is_empty() {
                url = format!("{url}?{}", call.query);
            }
            let body = with_users(&app, call.body).await;
            let status = send(&app, &fx, method, template, &url, i, body.as_ref()).await;
            if status.is_success() {
                object = None;
            }
            row.push(cell(status));
        }
        if template == "/api/v1/me/password" {
            fx.restore_passwords(&app).await;
        }
        mismatches.extend(mismatch(method, template, &row, expected));
        observed.push(format!("    ({method:?}, {template:?}, {row:?}),"));
    }
    if std::env::var("LIANXIN_MATRIX_PRINT").is_ok() {
        println!("{}", observed.join("\n"));
    }
    assert!(
        mismatches.is_empty(),
        "{} cells differ from the matrix:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// Fields of a typed enum the body must keep to parse at all, or that say
/// what kind of object the ids name.
const KEPT: [&str; 2] = ["indicator", "object_type"];

/// The valid body made invalid where only its content is checked: every
/// string that is not an id becomes empty and every number negative; the
/// ids (and `KEPT` fields) stay, so the objects and places it names are the
/// same.
fn invalidate(v: &Value) -> Value {
    match v {
        Value::String(s) if kernel::id::parse_id(s).is_some() => v.clone(),
        Value::String(_) => json!(""),
        Value::Number(_) => json!(-1),
        Value::Array(a) => Value::Array(a.iter().map(invalidate).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| {
                    let v = if KEPT.contains(&k.as_str()) {
                        v.clone()
                    } else {
                        invalidate(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

#[tokio::test]
async fn refusals_come_before_body_checks() {
    let app = matrix_app().await;
    let doc = doc();
    let fx = Fixtures::build(&app).await;
    let mut mismatches = Vec::new();
    let mut checked = 0;
    for (method, template, op) in &operations(&doc) {
        let (method, template) = (method.as_str(), template.as_str());
        // Reads have no body; logging in and out are for everyone; and a
        // workflow step's roles are those of the action the body names (the
        // transition table test covers every action × actor).
        if method == "GET"
            || template.starts_with("/api/v1/auth/")
            || template == "/api/v1/demands/{id}/transitions"
        {
            continue;
        }
        let expected = expected_row(method, template);
        let object = match Fixtures::consumes(method, template) {
            Some(kind) => Some(fx.fresh(&app, kind).await),
            None => None,
        };
        let recipe = fx.call(method, template);
        let call = documented_call(&doc, op, &fx, None);
        let query = match &recipe {
            Some(r) => r.query.clone(),
            None => call.query.clone(),
        };
        let body = match recipe.and_then(|r| r.body) {
            Some(Body::Json(v)) => Some(Body::Json(invalidate(&v))),
            // Well-formed uploads of the wrong content.
            Some(Body::Photo) | Some(Body::Text) => Some(Body::Text),
            Some(Body::Raw(ct, _)) => Some(Body::Raw(ct, b"not a workbook".to_vec())),
            None => call.body,
        };
        let body = with_users(&app, body).await;
        let mut url = path_of(&fx, template, object.as_deref());
        if !query.is_empty() {
            url = format!("{url}?{query}");
        }
        // Refused callers only: the row as observed where refused, the
        // expected cell elsewhere (those callers are not sent anything).
        let mut row = String::new();
        for (i, want) in expected.chars().enumerate() {
            if matches!(want, '1' | '3' | '4') {
                let status = send(&app, &fx, method, template, &url, i, body.as_ref()).await;
                row.push(cell(status));
                checked += 1;
            } else {
                row.push(want);
            }
        }
        mismatches.extend(mismatch(method, template, &row, expected));
    }
    assert!(checked > 700, "only {checked} refusals checked");
    assert!(
        mismatches.is_empty(),
        "{} refusals depend on the body:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
