//! The six indicators (DESIGN.md §3) on a hand-computed fixture:
//! `GET /api/v1/insight/rates` over a district, a community, a compound,
//! grouped by children and by assignee, and its refusals.

use crate::helpers::*;
use kernel::clock::day_start_ms;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::Row;

/// The period of every query below: March 2025 (Asia/Shanghai), far from
/// the demo seed's own demands (which are filed "now").
const FROM: &str = "2025-03-01";
const TO: &str = "2025-03-31";
const H: i64 = 3_600_000;

/// Local midnight of a day in Shanghai plus `hours`.
fn at(day: &str, hours: i64) -> i64 {
    day_start_ms(day).unwrap() + hours * H
}

/// Start of the period, and the first instant after it.
fn start() -> i64 {
    at("2025-03-01", 0)
}
fn after() -> i64 {
    at("2025-04-01", 0)
}

async fn user_id(app: &TestApp, display_name: &str) -> String {
    sqlx::query("SELECT id FROM users WHERE display_name = $1")
        .bind(display_name)
        .fetch_one(app.ctx.db.reader())
        .await
        .unwrap_or_else(|e| panic!("user {display_name}: {e}"))
        .get(0)
}

struct Demand<'a> {
    home: &'a str,
    assignee: &'a str,
    status: &'a str,
    deadline: Option<i64>,
    closed_at: Option<i64>,
    on_time: Option<i64>,
    /// (rated_at, contacted, resolved, satisfaction)
    rating: Option<(i64, i64, i64, i64)>,
}

async fn insert_demand(app: &TestApp, creator: &str, d: &Demand<'_>) -> String {
    let id = kernel::id::new_id();
    let household = app.node_id(d.home).await;
    let created = at("2025-02-20", 9);
    sqlx::query(
        "INSERT INTO demands (id, org_path, household_id, category, title, description, channel, status,
             created_by, created_at, updated_at, assignee_user_id, feedback_deadline, closed_at,
             closed_on_time, rated_at, rating_contacted, rating_resolved, rating_satisfaction)
         VALUES ($1, $2, $3, 'leak', '指标测试诉求', '卫生间顶棚渗水,已经三天了', 'web', $4,
             $5, $6, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(&id)
    .bind(d.home)
    .bind(household)
    .bind(d.status)
    .bind(creator)
    .bind(created)
    .bind(d.assignee)
    .bind(d.deadline)
    .bind(d.closed_at)
    .bind(d.on_time)
    .bind(d.rating.map(|r| r.0))
    .bind(d.rating.map(|r| r.1))
    .bind(d.rating.map(|r| r.2))
    .bind(d.rating.map(|r| r.3))
    .execute(app.ctx.db.writer())
    .await
    .expect("insert demand");
    id
}

async fn insert_event(app: &TestApp, demand: &str, at_ms: i64, action: &str, actor: &str) {
    sqlx::query(
        "INSERT INTO demand_events (id, demand_id, at_ms, actor_id, action, from_status, to_status, note)
         VALUES ($1, $2, $3, $4, $5, NULL, 'in_progress', '指标测试')",
    )
    .bind(kernel::id::new_id())
    .bind(demand)
    .bind(at_ms)
    .bind(actor)
    .bind(action)
    .execute(app.ctx.db.writer())
    .await
    .expect("insert event");
}

struct Users {
    butler_xc: String,
    property_xc: String,
    property_fh: String,
}

/// Twelve demands in two compounds (XC: buildings 1 and 2 of 站前社区; FH:
/// 泛华社区) and their resolve / verify_fail events. The tables of expected
/// numbers are in the tests below.
async fn fixture(app: &TestApp) -> Users {
    let creator: String = sqlx::query("SELECT id FROM users LIMIT 1")
        .fetch_one(app.ctx.db.reader())
        .await
        .unwrap()
        .get(0);
    let butler_xc = user_id(app, "赵晓东").await;
    let property_xc = user_id(app, "新城壹号物业 刘经理").await;
    let property_fh = user_id(app, "泛华盛世物业 张经理").await;
    let community_zq = user_id(app, "站前社区 郭敏").await;
    let district_ls = user_id(app, "离石区 高峰").await;

    let d = |home, assignee, status, deadline, closed_at, on_time, rating| Demand {
        home,
        assignee,
        status,
        deadline,
        closed_at,
        on_time,
        rating,
    };
    let (b, px, pf) = (
        butler_xc.as_str(),
        property_xc.as_str(),
        property_fh.as_str(),
    );
    let rows = [
        // XC building 1, butler-xc
        // D1 closed on time, rated 5 (contacted, resolved)
        d(
            XC_101,
            b,
            "closed",
            Some(at("2025-03-04", 18)),
            Some(at("2025-03-03", 10)),
            Some(1),
            Some((at("2025-03-05", 10), 1, 1, 5)),
        ),
        // D2 closed late, rated in the last millisecond of the period: 3 (contacted, not resolved)
        d(
            XC_101,
            b,
            "closed",
            Some(at("2025-03-10", 18)),
            Some(at("2025-03-12", 10)),
            Some(0),
            Some((after() - 1, 1, 0, 3)),
        ),
        // D3 suspended, due in the period
        d(
            XC_101,
            b,
            "suspended",
            Some(at("2025-03-15", 18)),
            None,
            None,
            None,
        ),
        // D4 still in progress, due (and overdue) in the period
        d(
            XC_101,
            b,
            "in_progress",
            Some(at("2025-03-20", 18)),
            None,
            None,
            None,
        ),
        // D5 merged: never due, but its return visit counts: 4 (contacted, resolved)
        d(
            XC_101,
            b,
            "merged",
            Some(at("2025-03-20", 18)),
            None,
            None,
            Some((at("2025-03-21", 10), 1, 1, 4)),
        ),
        // XC building 2, property-xc
        // D6 due in February (not in the period), rated at the first instant: 1 (nothing)
        d(
            XC2_101,
            px,
            "closed",
            Some(at("2025-02-27", 18)),
            Some(at("2025-02-26", 10)),
            Some(1),
            Some((start(), 0, 0, 1)),
        ),
        // D7 due on the last evening, closed on time, rated at the first instant after (not counted)
        d(
            XC2_101,
            px,
            "closed",
            Some(at("2025-03-31", 23)),
            Some(at("2025-03-30", 10)),
            Some(1),
            Some((after(), 1, 1, 5)),
        ),
        // D8 rejected: never due
        d(
            XC2_101,
            px,
            "rejected",
            Some(at("2025-03-08", 18)),
            None,
            None,
            None,
        ),
        // D9 in rework, due in the period
        d(
            XC2_101,
            px,
            "rework",
            Some(at("2025-03-25", 18)),
            None,
            None,
            None,
        ),
        // FH building 3, property-fh
        // D10 closed on time, rated 5 (contacted, resolved)
        d(
            FH_301,
            pf,
            "closed",
            Some(at("2025-03-11", 18)),
            Some(at("2025-03-10", 10)),
            Some(1),
            Some((at("2025-03-12", 10), 1, 1, 5)),
        ),
        // D11 suspended, due in the period
        d(
            FH_301,
            pf,
            "suspended",
            Some(at("2025-03-28", 18)),
            None,
            None,
            None,
        ),
        // D12 closed late, rated 2 (contacted, not resolved)
        d(
            FH_301,
            pf,
            "closed",
            Some(at("2025-03-02", 18)),
            Some(at("2025-03-06", 10)),
            Some(0),
            Some((at("2025-03-07", 10), 1, 0, 2)),
        ),
    ];
    let mut ids = Vec::new();
    for r in &rows {
        ids.push(insert_demand(app, &creator, r).await);
    }
    let id = |n: usize| ids[n - 1].as_str();
    let events = [
        (1, at("2025-03-02", 10), "resolve", b),
        (2, at("2025-03-09", 10), "resolve", b),
        (
            2,
            at("2025-03-10", 10),
            "verify_fail",
            community_zq.as_str(),
        ),
        (2, at("2025-03-11", 10), "resolve", b),
        (4, at("2025-03-14", 10), "dispatch", community_zq.as_str()), // not counted
        (9, at("2025-03-18", 10), "resolve", px),
        (
            9,
            at("2025-03-19", 10),
            "verify_fail",
            community_zq.as_str(),
        ),
        (6, at("2025-02-25", 10), "resolve", px), // before the period
        (7, at("2025-03-29", 10), "resolve", px),
        (10, at("2025-03-09", 10), "resolve", pf),
        (12, start(), "resolve", pf), // the first instant counts
        (
            12,
            at("2025-03-03", 10),
            "verify_fail",
            district_ls.as_str(),
        ),
        (12, at("2025-03-05", 10), "resolve", pf),
        (10, after(), "verify_fail", district_ls.as_str()), // after the period
    ];
    for (n, t, action, actor) in events {
        insert_event(app, id(n), t, action, actor).await;
    }
    // The fixture bypasses the workflow, so the rollups are rebuilt from the
    // rows; the API then answers from the rollups.
    cases::rollup::rebuild(&app.ctx.db).await.unwrap();
    Users {
        butler_xc,
        property_xc,
        property_fh,
    }
}

/// Expected counts, in the order rated, contacted, resolved, satisfied, due,
/// suspended, closed, closed_on_time, handled, rework.
type Expect = [i64; 10];
const FIELDS: [&str; 10] = [
    "rated",
    "contacted",
    "resolved",
    "satisfied",
    "due",
    "suspended",
    "closed",
    "closed_on_time",
    "handled",
    "rework",
];

fn ratio(n: i64, d: i64) -> f64 {
    if d == 0 {
        0.0
    } else {
        n as f64 / d as f64
    }
}

/// Checks the counts and the six rates of DESIGN.md §3 derived from them.
fn check(v: &Value, e: Expect, what: &str) {
    for (f, want) in FIELDS.iter().zip(e) {
        assert_eq!(v[*f], want, "{what}: {f} in {v}");
    }
    let [rated, contacted, resolved, satisfied, due, suspended, closed, on_time, handled, rework] =
        e;
    let rates = [
        ("response_rate", ratio(contacted, rated)),
        ("resolution_rate", ratio(resolved, rated)),
        ("satisfaction_rate", ratio(satisfied, rated)),
        ("closure_rate", ratio(closed, due - suspended)),
        ("on_time_closure_rate", ratio(on_time, due - suspended)),
        ("rework_rate", ratio(rework, handled)),
    ];
    for (f, want) in rates {
        assert_eq!(v[f].as_f64(), Some(want), "{what}: {f} in {v}");
    }
}

// 离石区 (XC + FH):
//   rated     = D1 D2 D5 D6 D10 D12 = 6  (D7 rated at 04-01 00:00, outside)
//   contacted = D1 D2 D5 D10 D12    = 5
//   resolved  = D1 D5 D10           = 3
//   satisfied = D1(5) D5(4) D10(5)  = 3
//   due       = D1 D2 D3 D4 D7 D9 D10 D11 D12 = 9  (not D5 merged, D6 Feb, D8 rejected)
//   suspended = D3 D11 = 2;  closed = D1 D2 D7 D10 D12 = 5;  closed_on_time = D1 D7 D10 = 3
//   handled   = resolve events in March: D1, D2×2, D9, D7, D10, D12×2 = 8
//   rework    = verify_fail in March: D2, D9, D12 = 3
//   → response 5/6, resolution 3/6, satisfaction 3/6, closure 5/(9−2) = 5/7,
//     on-time 3/7, rework 3/8
const LISHI: Expect = [6, 5, 3, 3, 9, 2, 5, 3, 8, 3];
// 新城壹号小区 = 站前社区 (D1–D9):
//   rated D1 D2 D5 D6 = 4; contacted D1 D2 D5 = 3; resolved D1 D5 = 2; satisfied D1 D5 = 2
//   due D1 D2 D3 D4 D7 D9 = 6; suspended D3 = 1; closed D1 D2 D7 = 3; on time D1 D7 = 2
//   handled D1, D2×2, D9, D7 = 5; rework D2, D9 = 2
//   → 3/4, 2/4, 2/4, closure 3/(6−1) = 3/5, on-time 2/5, rework 2/5
const XC_ALL: Expect = [4, 3, 2, 2, 6, 1, 3, 2, 5, 2];
// 泛华盛世小区 (D10–D12): rated 2, contacted 2, resolved D10 = 1, satisfied D10 = 1,
//   due 3, suspended D11 = 1, closed 2, on time D10 = 1, handled 3, rework D12 = 1
//   → 2/2, 1/2, 1/2, 2/2, 1/2, 1/3   (XC + FH = 离石区 column by column)
const FH_ALL: Expect = [2, 2, 1, 1, 3, 1, 2, 1, 3, 1];
// XC building 1 (D1–D5): rated D1 D2 D5 = 3, contacted 3, resolved 2, satisfied 2,
//   due D1–D4 = 4, suspended 1, closed D1 D2 = 2, on time D1 = 1, handled 3, rework D2 = 1
const XC_B1: Expect = [3, 3, 2, 2, 4, 1, 2, 1, 3, 1];
// XC building 2 (D6–D9): rated D6 = 1 (0/0/0), due D7 D9 = 2, suspended 0,
//   closed D7 = 1, on time 1, handled D9, D7 = 2, rework D9 = 1   (B1 + B2 = XC)
const XC_B2: Expect = [1, 0, 0, 0, 2, 0, 1, 1, 2, 1];

fn q(org: Option<&str>, extra: &str) -> String {
    let org = org.map(|o| format!("&org={o}")).unwrap_or_default();
    format!("/api/v1/insight/rates?from={FROM}&to={TO}{org}{extra}")
}

#[tokio::test]
async fn district_sees_the_whole_district() {
    let app = spawn_app().await;
    fixture(&app).await;
    let t = app.token("district-ls").await;
    let lishi = app.node_id("/141100/141102/").await;

    let (s, v) = app.get(&q(Some(&lishi), ""), &t).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    check(&v, LISHI, "离石区");
    assert_eq!(v["org"]["id"], lishi);
    assert_eq!(v["org"]["name"], "离石区");
    assert_eq!(v["org"]["org_path"], "/141100/141102/");
    assert_eq!(v["from"], FROM);
    assert_eq!(v["to"], TO);
    assert!(v.get("groups").is_none());
    // The exact fractions, once spelled out.
    assert_eq!(v["response_rate"].as_f64(), Some(5.0 / 6.0));
    assert_eq!(v["closure_rate"].as_f64(), Some(5.0 / 7.0));
    assert_eq!(v["on_time_closure_rate"].as_f64(), Some(3.0 / 7.0));
    assert_eq!(v["rework_rate"].as_f64(), Some(3.0 / 8.0));

    // Without org: the caller's whole scope, the same numbers.
    let (s, w) = app.get(&q(None, ""), &t).await;
    assert_eq!(s, StatusCode::OK, "{w}");
    check(&w, LISHI, "离石区 (default scope)");
    assert_eq!(w["org"]["id"], lishi);

    // One compound from the district's view.
    let fh = app.node_id(FH).await;
    let (_, f) = app.get(&q(Some(&fh), ""), &t).await;
    check(&f, FH_ALL, "泛华盛世小区");

    // By children: the two streets, in org path order (莲花池 …002 before 城北 …003).
    let (s, g) = app.get(&q(Some(&lishi), "&group_by=children"), &t).await;
    assert_eq!(s, StatusCode::OK, "{g}");
    check(&g, LISHI, "离石区 grouped");
    let groups = g["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{g}");
    assert_eq!(groups[0]["name"], "莲花池街道");
    check(&groups[0], FH_ALL, "莲花池街道");
    assert_eq!(groups[1]["name"], "城北街道");
    assert_eq!(
        groups[1]["key"],
        app.node_id("/141100/141102/141102003/").await
    );
    check(&groups[1], XC_ALL, "城北街道");

    // A period with nothing in it: all zero, rates 0 (not NaN).
    let (s, z) = app
        .get("/api/v1/insight/rates?from=2024-01-01&to=2024-01-31", &t)
        .await;
    assert_eq!(s, StatusCode::OK, "{z}");
    check(&z, [0; 10], "empty period");
}

#[tokio::test]
async fn by_assignee_groups_ratings_and_deadlines_by_handler() {
    let app = spawn_app().await;
    let u = fixture(&app).await;
    let t = app.token("district-ls").await;
    let (s, v) = app.get(&q(None, "&group_by=assignee"), &t).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    check(&v, LISHI, "离石区 by assignee");
    let groups = v["groups"].as_array().unwrap();
    // Only the three assignees: the verifiers' verify_fail events count as
    // rework of the demand's assignee, not of the verifier.
    assert_eq!(groups.len(), 3, "{v}");
    let group = |id: &str| {
        groups
            .iter()
            .find(|g| g["key"] == id)
            .unwrap_or_else(|| panic!("no group {id} in {v}"))
    };
    // butler-xc = XC building 1 (D1–D5); resolves D1, D2×2 = 3; rework D2 = 1.
    let g = group(&u.butler_xc);
    assert_eq!(g["name"], "赵晓东");
    check(g, XC_B1, "butler-xc");
    // property-xc = XC building 2 (D6–D9); resolves D9, D7 = 2; rework D9 = 1.
    let g = group(&u.property_xc);
    assert_eq!(g["name"], "新城壹号物业 刘经理");
    check(g, XC_B2, "property-xc");
    // property-fh = FH (D10–D12); resolves D10, D12×2 = 3; rework D12 = 1.
    let g = group(&u.property_fh);
    check(g, FH_ALL, "property-fh");

    // A compound's manager sees only their own compound's assignees.
    let t = app.token("property-xc").await;
    let (s, v) = app.get(&q(None, "&group_by=assignee"), &t).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    check(&v, XC_ALL, "property-xc scope");
    let keys: Vec<&str> = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), 2);
    assert!(keys.contains(&u.butler_xc.as_str()) && keys.contains(&u.property_xc.as_str()));
}

#[tokio::test]
async fn community_sees_only_its_own_compounds() {
    let app = spawn_app().await;
    fixture(&app).await;
    let t = app.token("community-zq").await;

    // Default scope = 站前社区: XC only, FH's D10–D12 excluded.
    let (s, v) = app.get(&q(None, ""), &t).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    check(&v, XC_ALL, "站前社区");
    assert_eq!(v["org"]["org_path"], ZHANQIAN);
    assert_eq!(v["response_rate"].as_f64(), Some(3.0 / 4.0));
    assert_eq!(v["closure_rate"].as_f64(), Some(3.0 / 5.0));

    // org = the XC compound: the same demands.
    let xc = app.node_id(XC).await;
    let (s, v) = app.get(&q(Some(&xc), ""), &t).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    check(&v, XC_ALL, "新城壹号小区");
    assert_eq!(v["org"]["name"], "新城壹号小区");

    // By children of 站前社区: one compound, XC.
    let zq = app.node_id(ZHANQIAN).await;
    let (s, g) = app.get(&q(Some(&zq), "&group_by=children"), &t).await;
    assert_eq!(s, StatusCode::OK, "{g}");
    let groups = g["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{g}");
    assert_eq!(groups[0]["key"], xc);
    assert_eq!(groups[0]["name"], "新城壹号小区");
    assert_eq!(groups[0]["org_path"], XC);
    check(&groups[0], XC_ALL, "站前社区 › XC");

    // By children of the compound: its two buildings, which add up to it.
    let (s, g) = app.get(&q(Some(&xc), "&group_by=children"), &t).await;
    assert_eq!(s, StatusCode::OK, "{g}");
    let groups = g["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{g}");
    check(&groups[0], XC_B1, "XC building 1");
    check(&groups[1], XC_B2, "XC building 2");
}

#[tokio::test]
async fn bad_periods_are_422_and_scope_is_enforced() {
    let app = spawn_app().await;
    fixture(&app).await;
    let t = app.token("community-zq").await;

    // from after to
    let (s, v) = app
        .get("/api/v1/insight/rates?from=2025-03-31&to=2025-03-01", &t)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["code"], "validation_failed");
    assert_eq!(v["fields"]["to"][0], "结束日期不能早于开始日期");

    // not a date
    for bad in ["2025-02-30", "2025-3-1", "yesterday"] {
        let (s, v) = app
            .get(
                &format!("/api/v1/insight/rates?from={bad}&to=2025-03-31"),
                &t,
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {v}");
        assert!(v["fields"]["from"].is_array(), "{bad}: {v}");
    }
    // missing dates, too long a span, an unknown grouping
    let (s, v) = app.get("/api/v1/insight/rates", &t).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["fields"]["from"].is_array() && v["fields"]["to"].is_array());
    let (s, v) = app
        .get("/api/v1/insight/rates?from=2020-01-01&to=2025-03-31", &t)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["fields"]["to"][0], "统计区间不能超过三年");
    let (s, v) = app.get(&q(None, "&group_by=street"), &t).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["fields"]["group_by"].is_array());

    // Another community's compound, or the district above: 404 as if missing.
    let fh = app.node_id(FH).await;
    let (s, v) = app.get(&q(Some(&fh), ""), &t).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(v["code"], "not_found");
    let lishi = app.node_id("/141100/141102/").await;
    let (s, _) = app.get(&q(Some(&lishi), ""), &t).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app.get(&q(Some("not-an-id"), ""), &t).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Residents and the auditor have no indicators; anonymous callers log in first.
    for login in ["13800000001", "auditor"] {
        let t = app.token(login).await;
        let (s, v) = app.get(&q(None, ""), &t).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{login}: {v}");
        assert_eq!(v["code"], "forbidden");
    }
    let r = app.client.get(app.url(&q(None, ""))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
