//! Insight (#7) on a hand-computed fixture: the dashboard's figures, the
//! league tables (scores, ranks, movement against February), the weights
//! and who may set them, the monthly workbook read back cell by cell (the
//! download and `lianxin export report`), the pages, and the refusals.
//!
//! The fixture: three compounds of 离石区 — 新城壹号小区 (XC) and a new
//! 锦绣花园 (JX) in 站前社区 (城北街道), 泛华盛世小区 (FH) in 泛华社区 (莲花池街道) —
//! each with its butler, and demands in March 2025 (the period) and
//! February 2025 (the previous period), far from the demo seed's own
//! demands (filed "now"). The expected numbers are worked out below, next
//! to the demands that make them.

use crate::helpers::*;
use crate::pages::{hidden, location, logged_in, page, post_form};
use calamine::{Data, Reader};
use kernel::clock::{day_start_ms, Clock};
use kernel::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;

const FROM: &str = "2025-03-01";
const TO: &str = "2025-03-31";
const H: i64 = 3_600_000;
const JX: &str = "/141100/141102/141102003/141102003001/JX/";
const JX_101: &str = "/141100/141102/141102003/141102003001/JX/B1/U1/101/";
const LISHI: &str = "/141100/141102/";

fn at(day: &str, hours: i64) -> i64 {
    day_start_ms(day).unwrap() + hours * H
}

async fn user_id(app: &TestApp, display_name: &str) -> String {
    sqlx::query("SELECT id FROM users WHERE display_name = $1")
        .bind(display_name)
        .fetch_one(app.ctx.db.reader())
        .await
        .unwrap_or_else(|e| panic!("user {display_name}: {e}"))
        .get(0)
}

/// A butler account at `path` (not used to log in).
async fn butler(app: &TestApp, login: &str, name: &str, path: &str) -> String {
    let node = org::store::get_node_by_path(&app.ctx.db, path)
        .await
        .unwrap()
        .unwrap();
    let now = app.clock.now_ms();
    let mut tx = app.ctx.db.begin().await.unwrap();
    let id = accounts::store::create_user(&mut tx, &app.ctx.cipher, login, name, "x", now)
        .await
        .unwrap();
    accounts::store::grant_role(
        &mut tx,
        &id,
        Role::Butler,
        &node.id,
        &node.org_path,
        None,
        now,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

/// 锦绣花园 › 1号楼 › 1单元 › 101室, made over the API by the district.
async fn make_jx(app: &TestApp, t: &str) {
    let mut parent = app.node_id(ZHANQIAN).await;
    for (kind, code, name) in [
        ("compound", "JX", "锦绣花园"),
        ("building", "B1", "1号楼"),
        ("entrance", "U1", "1单元"),
        ("household", "101", "101室"),
    ] {
        let (s, v) = app
            .post(
                "/api/v1/org/nodes",
                t,
                json!({"parent_id": parent, "kind": kind, "code": code, "name": name}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        parent = v["id"].as_str().unwrap().to_string();
    }
}

#[derive(Default, Clone)]
struct D {
    home: &'static str,
    category: &'static str,
    channel: &'static str,
    status: &'static str,
    created: i64,
    assignee: Option<String>,
    deadline: Option<i64>,
    resolved: Option<i64>,
    closed: Option<i64>,
    on_time: Option<i64>,
    /// (rated_at, contacted, resolved, satisfaction)
    rating: Option<(i64, i64, i64, i64)>,
    escalation: i64,
    overdue: i64,
    title: &'static str,
}

async fn insert(app: &TestApp, creator: &str, d: &D) -> String {
    let id = kernel::id::new_id();
    let household = app.node_id(d.home).await;
    sqlx::query(
        "INSERT INTO demands (id, org_path, household_id, category, title, description, channel, status,
             created_by, created_at, updated_at, assignee_user_id, feedback_deadline, resolved_at, closed_at,
             closed_on_time, rated_at, rating_contacted, rating_resolved, rating_satisfaction,
             escalation_level, overdue)
         VALUES ($1, $2, $3, $4, $5, '统计测试诉求的详细描述', $6, $7, $8, $9, $9, $10, $11, $12, $13,
             $14, $15, $16, $17, $18, $19, $20)",
    )
    .bind(&id)
    .bind(d.home)
    .bind(household)
    .bind(d.category)
    .bind(if d.title.is_empty() { "统计测试诉求" } else { d.title })
    .bind(d.channel)
    .bind(d.status)
    .bind(creator)
    .bind(d.created)
    .bind(d.assignee.clone())
    .bind(d.deadline)
    .bind(d.resolved)
    .bind(d.closed)
    .bind(d.on_time)
    .bind(d.rating.map(|r| r.0))
    .bind(d.rating.map(|r| r.1))
    .bind(d.rating.map(|r| r.2))
    .bind(d.rating.map(|r| r.3))
    .bind(d.escalation)
    .bind(d.overdue)
    .execute(app.ctx.db.writer())
    .await
    .expect("insert demand");
    id
}

async fn event(app: &TestApp, demand: &str, at_ms: i64, action: &str, actor: Option<&str>) {
    sqlx::query(
        "INSERT INTO demand_events (id, demand_id, at_ms, actor_id, action, from_status, to_status, note)
         VALUES ($1, $2, $3, $4, $5, NULL, 'in_progress', '统计测试')",
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

struct Fixture {
    butler_xc: String,
    butler_fh: String,
    butler_jx: String,
    /// The late demands of March, by deadline: X4, J2, F3.
    late: [String; 3],
}

/// The demands. Per compound and month (rated: contacted/resolved/
/// satisfied; due − suspended: closed/on time; handled; rework) and the
/// score under the default weights (按期结案率 50 ≥ 70 %, 满意率 20 ≥ 90 %,
/// 解决率 10 ≥ 85 %, 响应率 10 ≥ 95 %, 返工率 10 ≤ 5 %, 1 point per point):
///
/// | | March | score | February | score |
/// |---|---|---|---|---|
/// | XC | rated 4 (4/4/4); due 5 − 1 (4 closed, 3 on time); handled 5; rework 0 | 50+20+10+10+10 = **100** | rated 2 (1/1/1); due 2 (1/1); handled 1; rework 1 | 30+0+0+0+0 = **30** |
/// | FH | rated 2 (2/1/1); due 3 (2/2); handled 3; rework 1 | 46.67+0+0+10+0 = **56.67** | rated 1 (1/1/1); due 1 (1/1); handled 1 | **100** |
/// | JX | rated 0; due 2 (1/1); handled 1 | (30+10)/60 × 100 = **66.67** | nothing | — |
///
/// March ranks XC 1 (February 2: ↑1), JX 2 (new), FH 3 (February 1: ↓2).
async fn fixture(app: &TestApp) -> Fixture {
    let t = app.token("district-ls").await;
    make_jx(app, &t).await;
    let creator: String = sqlx::query("SELECT id FROM users LIMIT 1")
        .fetch_one(app.ctx.db.reader())
        .await
        .unwrap()
        .get(0);
    let bx = user_id(app, "赵晓东").await;
    let bf = butler(app, "butler-fh", "钱师傅", FH).await;
    let bj = butler(app, "butler-jx", "孙师傅", JX).await;
    let verifier = user_id(app, "离石区 高峰").await;
    let base = D {
        channel: "web",
        status: "closed",
        on_time: Some(1),
        ..Default::default()
    };
    let x = |d: D| D {
        assignee: Some(bx.clone()),
        ..d
    };
    let f = |d: D| D {
        assignee: Some(bf.clone()),
        ..d
    };
    let j = |d: D| D {
        assignee: Some(bj.clone()),
        ..d
    };
    let closed = |home, category, channel, created: i64, deadline: i64, resolved: i64| D {
        home,
        category,
        channel,
        created,
        deadline: Some(deadline),
        resolved: Some(resolved),
        closed: Some(resolved + 6 * H),
        ..base.clone()
    };

    // ---- 新城壹号小区, March (butler 赵晓东)
    let x1 = insert(
        app,
        &creator,
        &x(D {
            rating: Some((at("2025-03-06", 10), 1, 1, 5)),
            ..closed(
                XC_101,
                "leak",
                "web",
                at("2025-03-02", 9),
                at("2025-03-05", 18),
                at("2025-03-04", 10),
            )
        }),
    )
    .await;
    let x2 = insert(
        app,
        &creator,
        &x(D {
            rating: Some((at("2025-03-07", 10), 1, 1, 4)),
            ..closed(
                XC_101,
                "garbage",
                "phone",
                at("2025-03-03", 10),
                at("2025-03-06", 18),
                at("2025-03-05", 10),
            )
        }),
    )
    .await;
    let x3 = insert(
        app,
        &creator,
        &x(D {
            rating: Some((at("2025-03-15", 10), 1, 1, 5)),
            ..closed(
                XC2_101,
                "noise",
                "web",
                at("2025-03-10", 9),
                at("2025-03-14", 18),
                at("2025-03-13", 10),
            )
        }),
    )
    .await;
    // Fed back 40 hours late, escalated twice (one demand escalated).
    let x4 = insert(
        app,
        &creator,
        &x(D {
            on_time: Some(0),
            escalation: 2,
            title: "超期的漏水诉求",
            rating: Some((at("2025-03-19", 10), 1, 1, 4)),
            ..closed(
                XC2_101,
                "leak",
                "grid",
                at("2025-03-12", 9),
                at("2025-03-16", 18),
                at("2025-03-18", 10),
            )
        }),
    )
    .await;
    // Suspended: due, not counted against closure, never late.
    insert(
        app,
        &creator,
        &x(D {
            home: XC_101,
            category: "parking",
            status: "suspended",
            created: at("2025-03-20", 9),
            deadline: Some(at("2025-03-25", 18)),
            on_time: None,
            ..base.clone()
        }),
    )
    .await;
    // Fed back in March, due in April.
    let x6 = insert(
        app,
        &creator,
        &x(D {
            home: XC_101,
            category: "leak",
            status: "resolved",
            created: at("2025-03-25", 9),
            deadline: Some(at("2025-04-02", 18)),
            resolved: Some(at("2025-03-28", 10)),
            on_time: None,
            ..base.clone()
        }),
    )
    .await;
    // Just filed; and a duplicate merged into another (filed, never due).
    insert(
        app,
        &creator,
        &D {
            home: XC_101,
            category: "garbage",
            status: "submitted",
            created: at("2025-03-28", 10),
            on_time: None,
            ..base.clone()
        },
    )
    .await;
    insert(
        app,
        &creator,
        &D {
            home: XC2_101,
            category: "garbage",
            status: "merged",
            created: at("2025-03-28", 11),
            deadline: Some(at("2025-03-30", 18)),
            on_time: None,
            ..base.clone()
        },
    )
    .await;
    for (d, t) in [
        (&x1, at("2025-03-04", 10)),
        (&x2, at("2025-03-05", 10)),
        (&x3, at("2025-03-13", 10)),
        (&x4, at("2025-03-18", 10)),
        (&x6, at("2025-03-28", 10)),
    ] {
        event(app, d, t, "resolve", Some(&bx)).await;
    }
    event(app, &x4, at("2025-03-17", 0), "escalate", None).await;
    event(app, &x4, at("2025-03-18", 9), "escalate", Some(&verifier)).await;

    // ---- 新城壹号小区, February
    let xf1 = insert(
        app,
        &creator,
        &x(D {
            rating: Some((at("2025-02-07", 10), 1, 1, 5)),
            ..closed(
                XC_101,
                "leak",
                "web",
                at("2025-02-03", 9),
                at("2025-02-06", 18),
                at("2025-02-05", 10),
            )
        }),
    )
    .await;
    event(app, &xf1, at("2025-02-05", 10), "resolve", Some(&bx)).await;
    // Fed back in January, failed verification in February: late, and still open.
    let xf2 = insert(
        app,
        &creator,
        &x(D {
            home: XC2_101,
            category: "noise",
            channel: "phone",
            status: "rework",
            created: at("2025-01-25", 9),
            deadline: Some(at("2025-02-14", 18)),
            on_time: None,
            escalation: 1,
            overdue: 1,
            ..base.clone()
        }),
    )
    .await;
    event(app, &xf2, at("2025-01-30", 10), "resolve", Some(&bx)).await;
    event(
        app,
        &xf2,
        at("2025-02-13", 10),
        "verify_fail",
        Some(&verifier),
    )
    .await;
    event(app, &xf2, at("2025-02-15", 0), "escalate", None).await;
    // Due in January, its return visit in February: 2 points, nothing good.
    insert(
        app,
        &creator,
        &x(D {
            rating: Some((at("2025-02-02", 10), 0, 0, 2)),
            ..closed(
                XC_101,
                "garbage",
                "web",
                at("2025-01-10", 9),
                at("2025-01-20", 18),
                at("2025-01-18", 10),
            )
        }),
    )
    .await;

    // ---- 泛华盛世小区, March (butler 钱师傅)
    let f1 = insert(
        app,
        &creator,
        &f(D {
            rating: Some((at("2025-03-08", 10), 1, 1, 5)),
            ..closed(
                FH_301,
                "leak",
                "web",
                at("2025-03-03", 9),
                at("2025-03-07", 18),
                at("2025-03-06", 10),
            )
        }),
    )
    .await;
    let f2 = insert(
        app,
        &creator,
        &f(D {
            rating: Some((at("2025-03-13", 10), 1, 0, 3)),
            ..closed(
                FH_301,
                "noise",
                "phone",
                at("2025-03-05", 9),
                at("2025-03-12", 18),
                at("2025-03-11", 10),
            )
        }),
    )
    .await;
    let f3 = insert(
        app,
        &creator,
        &f(D {
            home: FH_301,
            category: "garbage",
            status: "in_progress",
            created: at("2025-03-20", 9),
            deadline: Some(at("2025-03-24", 18)),
            on_time: None,
            escalation: 1,
            overdue: 1,
            title: "没人管的垃圾",
            ..base.clone()
        }),
    )
    .await;
    event(app, &f1, at("2025-03-06", 10), "resolve", Some(&bf)).await;
    event(app, &f2, at("2025-03-08", 10), "resolve", Some(&bf)).await;
    event(
        app,
        &f2,
        at("2025-03-09", 10),
        "verify_fail",
        Some(&verifier),
    )
    .await;
    event(app, &f2, at("2025-03-11", 10), "resolve", Some(&bf)).await;
    event(app, &f3, at("2025-03-25", 0), "escalate", None).await;
    // February
    let ff1 = insert(
        app,
        &creator,
        &f(D {
            rating: Some((at("2025-02-15", 10), 1, 1, 5)),
            ..closed(
                FH_301,
                "leak",
                "web",
                at("2025-02-10", 9),
                at("2025-02-14", 18),
                at("2025-02-12", 10),
            )
        }),
    )
    .await;
    event(app, &ff1, at("2025-02-12", 10), "resolve", Some(&bf)).await;

    // ---- 锦绣花园, March (butler 孙师傅)
    let j1 = insert(
        app,
        &creator,
        &j(D {
            rating: None,
            ..closed(
                JX_101,
                "public_facility",
                "web",
                at("2025-03-04", 9),
                at("2025-03-09", 18),
                at("2025-03-08", 10),
            )
        }),
    )
    .await;
    event(app, &j1, at("2025-03-08", 10), "resolve", Some(&bj)).await;
    let j2 = insert(
        app,
        &creator,
        &j(D {
            home: JX_101,
            category: "public_facility",
            channel: "phone",
            status: "dispatched",
            created: at("2025-03-15", 9),
            deadline: Some(at("2025-03-20", 18)),
            on_time: None,
            overdue: 1,
            title: "路灯不亮",
            ..base.clone()
        }),
    )
    .await;

    // The fixture bypasses the workflow: rebuild the indicator rollups.
    cases::rollup::rebuild(&app.ctx.db).await.unwrap();
    Fixture {
        butler_xc: bx,
        butler_fh: bf,
        butler_jx: bj,
        late: [x4, j2, f3],
    }
}

fn ratio(n: i64, d: i64) -> f64 {
    n as f64 / d as f64
}

const COUNTS: [&str; 10] = [
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

fn check_counts(v: &Value, want: [i64; 10], what: &str) {
    for (f, n) in COUNTS.iter().zip(want) {
        assert_eq!(v[*f], n, "{what}: {f} in {v}");
    }
}

fn dashboard_q(org: &str) -> String {
    format!("/api/v1/insight/dashboard?org={org}&from={FROM}&to={TO}")
}

// 离石区, March: rated 6 (XC 4 + FH 2), contacted 6, resolved 5, satisfied 5;
// due 10 (XC 5 + FH 3 + JX 2), suspended 1, closed 7, on time 6;
// handled 9 (XC 5 + FH 3 + JX 1), rework 1.
const LISHI_MARCH: [i64; 10] = [6, 6, 5, 5, 10, 1, 7, 6, 9, 1];
// February: XC (2, 1, 1, 1, 2, 0, 1, 1, 1, 1) + FH (1, 1, 1, 1, 1, 0, 1, 1, 1, 0).
const LISHI_FEB: [i64; 10] = [3, 2, 2, 2, 3, 0, 2, 2, 2, 1];

#[tokio::test]
async fn dashboard_figures_match_the_fixture() {
    let app = spawn_app().await;
    let t = app.token("district-ls").await;
    let lishi = app.node_id(LISHI).await;
    // The demo seed's own open demands ("now" figures are not of a period).
    let (s, before) = app.get(&dashboard_q(&lishi), &t).await;
    assert_eq!(s, StatusCode::OK, "{before}");
    assert_eq!(before["created"], 0, "nothing of the seed in March 2025");
    fixture(&app).await;

    let (s, d) = app.get(&dashboard_q(&lishi), &t).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(d["org"]["name"], "离石区");
    assert_eq!(d["org"]["kind"], "district");
    assert_eq!(
        (d["from"].as_str(), d["to"].as_str()),
        (Some(FROM), Some(TO))
    );
    assert_eq!(
        d["previous"],
        json!({"from": "2025-02-01", "to": "2025-02-28"})
    );
    assert_eq!(d["bucket"], "day");

    // Filings: 8 in XC (one merged), 3 in FH, 2 in JX.
    assert_eq!(d["created"], 13);
    assert_eq!(
        d["previous_created"], 2,
        "XF1 and FF1 were filed in February"
    );
    // Late: X4 (fed back 40 h late), F3 and J2 (deadline passed, no feedback);
    // not the suspended X5, nor X6 (due in April). February: XF2.
    assert_eq!(d["late"], 3);
    assert_eq!(d["previous_late"], 1);
    // Escalated: X4 (twice, counted once) and F3; February: XF2.
    assert_eq!(d["escalated"], 2);
    assert_eq!(d["previous_escalated"], 1);
    // Open now: X5, X7, F3, J2 and XF2 on top of the seed's; overdue F3, J2,
    // XF2; escalated and open F3, XF2.
    let now = |v: &Value, k: &str| v["now"][k].as_i64().unwrap();
    assert_eq!(now(&d, "open"), now(&before, "open") + 5);
    assert_eq!(now(&d, "overdue"), now(&before, "overdue") + 3);
    assert_eq!(now(&d, "escalated"), now(&before, "escalated") + 2);

    // The six indicators, as the rates API computes them (one path).
    let i = &d["indicators"];
    check_counts(i, LISHI_MARCH, "离石区 March");
    assert_eq!(i["response_rate"].as_f64(), Some(1.0));
    assert_eq!(i["resolution_rate"].as_f64(), Some(ratio(5, 6)));
    assert_eq!(i["satisfaction_rate"].as_f64(), Some(ratio(5, 6)));
    assert_eq!(i["closure_rate"].as_f64(), Some(ratio(7, 9)));
    assert_eq!(i["on_time_closure_rate"].as_f64(), Some(ratio(6, 9)));
    assert_eq!(i["rework_rate"].as_f64(), Some(ratio(1, 9)));
    check_counts(&d["previous_indicators"], LISHI_FEB, "离石区 February");
    let (s, r) = app
        .get(
            &format!("/api/v1/insight/rates?org={lishi}&from={FROM}&to={TO}"),
            &t,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    for k in COUNTS.iter().copied().chain([
        "response_rate",
        "resolution_rate",
        "satisfaction_rate",
        "closure_rate",
        "on_time_closure_rate",
        "rework_rate",
    ]) {
        assert_eq!(r[k], i[k], "{k}: rates API and dashboard agree");
    }

    // By category (count, then catalogue order) and channel.
    let cats: Vec<(String, i64)> = d["by_category"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["code"].as_str().unwrap().to_string(),
                c["count"].as_i64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, i64)> = [
        ("leak", 4),
        ("garbage", 4),
        ("noise", 2),
        ("public_facility", 2),
        ("parking", 1),
    ]
    .iter()
    .map(|(c, n)| (c.to_string(), *n))
    .collect();
    assert_eq!(cats, want);
    assert_eq!(d["by_category"][0]["name"], "漏水");
    assert_eq!(d["by_category"][0]["share"].as_f64(), Some(ratio(4, 13)));
    let channels: Vec<(String, i64)> = d["by_channel"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["code"].as_str().unwrap().to_string(),
                c["count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        channels,
        vec![
            ("web".into(), 9),
            ("phone".into(), 3),
            ("grid".into(), 1),
            ("open311".into(), 0)
        ]
    );
    assert_eq!(d["top_categories"].as_array().unwrap().len(), 5);
    assert_eq!(d["top_categories"][1]["code"], "garbage");

    // The trend: 31 days; filings and indicators add up to the month.
    let trend = d["trend"].as_array().unwrap();
    assert_eq!(trend.len(), 31);
    assert_eq!(trend[0]["bucket"], "2025-03-01");
    assert_eq!(trend[0]["label"], "03-01");
    let sum = |k: &str| trend.iter().map(|p| p[k].as_i64().unwrap()).sum::<i64>();
    assert_eq!(sum("created"), 13);
    let sums: Vec<i64> = COUNTS.iter().map(|k| sum(k)).collect();
    assert_eq!(sums, LISHI_MARCH.to_vec(), "the days add up to the month");
    // 03-02: X1 filed (leak, web). 03-08: F1's return visit (5), J1's and
    // F2's feedback. 03-28: X7 and X8 filed (garbage), X6 fed back.
    assert_eq!(trend[1]["created"], 1);
    assert_eq!(trend[1]["by_category"], json!({"leak": 1}));
    assert_eq!(trend[1]["by_channel"], json!({"web": 1}));
    check_counts(&trend[7], [1, 1, 1, 1, 0, 0, 0, 0, 2, 0], "03-08");
    assert_eq!(trend[7]["satisfaction_rate"].as_f64(), Some(1.0));
    assert_eq!(trend[27]["by_category"], json!({"garbage": 2}));
    assert_eq!(trend[27]["handled"], 1);

    // One level down: the two streets, in org path order.
    let units = d["units"].as_array().unwrap();
    assert_eq!(units.len(), 2, "{d}");
    assert_eq!(units[0]["name"], "莲花池街道");
    assert_eq!(units[0]["kind"], "street");
    assert_eq!(
        (
            units[0]["created"].as_i64(),
            units[0]["late"].as_i64(),
            units[0]["escalated"].as_i64()
        ),
        (Some(3), Some(1), Some(1))
    );
    check_counts(&units[0], [2, 2, 1, 1, 3, 0, 2, 2, 3, 1], "莲花池街道 = FH");
    assert_eq!(units[1]["name"], "城北街道");
    assert_eq!(
        (
            units[1]["created"].as_i64(),
            units[1]["late"].as_i64(),
            units[1]["escalated"].as_i64()
        ),
        (Some(10), Some(2), Some(1))
    );
    check_counts(
        &units[1],
        [4, 4, 4, 4, 7, 1, 5, 4, 6, 0],
        "城北街道 = XC + JX",
    );

    // The heat table: streets × the categories filed, in by_category order.
    assert_eq!(
        d["heat"]["categories"],
        json!(["leak", "garbage", "noise", "public_facility", "parking"])
    );
    assert_eq!(d["heat"]["rows"][0]["counts"], json!([1, 1, 1, 0, 0]));
    assert_eq!(d["heat"]["rows"][0]["total"], 3);
    assert_eq!(d["heat"]["rows"][1]["counts"], json!([3, 3, 1, 2, 1]));
    assert_eq!(d["heat"]["rows"][1]["total"], 10);

    // Drill down: the compound XC → its buildings (building × category).
    let xc = app.node_id(XC).await;
    let (s, c) = app.get(&dashboard_q(&xc), &t).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["created"], 8);
    assert_eq!(c["late"], 1);
    check_counts(&c["indicators"], [4, 4, 4, 4, 5, 1, 4, 3, 5, 0], "XC");
    let names: Vec<&str> = c["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["1号楼", "2号楼"]);
    // B1: X1 leak, X2 garbage, X5 parking, X6 leak, X7 garbage; B2: X3 noise, X4 leak, X8 garbage.
    // Ties in catalogue order: 停车 before 噪音扰民.
    assert_eq!(
        c["heat"]["categories"],
        json!(["leak", "garbage", "parking", "noise"])
    );
    assert_eq!(c["heat"]["rows"][0]["counts"], json!([2, 2, 1, 0]));
    assert_eq!(c["heat"]["rows"][1]["counts"], json!([1, 1, 0, 1]));
    // A building has no units below it (its demands are the list).
    let b2 = app
        .node_id("/141100/141102/141102003/141102003001/XC/B2/")
        .await;
    let (s, b) = app.get(&dashboard_q(&b2), &t).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["created"], 3);
    assert_eq!(b["units"], json!([]));

    // A longer period is bucketed by week, then by month.
    let (s, w) = app
        .get(
            &format!("/api/v1/insight/dashboard?org={lishi}&from=2025-01-01&to=2025-03-31"),
            &t,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(w["bucket"], "week");
    assert_eq!(
        w["created"],
        2 + 2 + 13,
        "January: XF2, XF3; February: XF1, FF1 {w}"
    );
    let (_, m) = app
        .get(
            &format!("/api/v1/insight/dashboard?org={lishi}&from=2025-01-01&to=2025-12-31"),
            &t,
        )
        .await;
    assert_eq!(m["bucket"], "month");
    let months: Vec<i64> = m["trend"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["created"].as_i64().unwrap())
        .collect();
    assert_eq!(&months[..4], &[2, 2, 13, 0]);
}

fn league_q(kind: &str, org: &str) -> String {
    format!("/api/v1/insight/league?kind={kind}&org={org}&from={FROM}&to={TO}")
}

fn rows(v: &Value) -> Vec<(Value, String, Value, Value, Value, Value)> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["rank"].clone(),
                i["name"].as_str().unwrap().to_string(),
                i["score"].clone(),
                i["previous_rank"].clone(),
                i["movement"].clone(),
                i["previous_score"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn league_tables_rank_by_score_with_movement() {
    let app = spawn_app().await;
    let fx = fixture(&app).await;
    let t = app.token("district-ls").await;
    let lishi = app.node_id(LISHI).await;

    let (s, v) = app.get(&league_q("compound", &lishi), &t).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["kind"], "compound");
    assert_eq!(
        v["previous"],
        json!({"from": "2025-02-01", "to": "2025-02-28"})
    );
    assert_eq!(v["weights"]["source"], Value::Null);
    assert_eq!(v["weights"]["total_points"], 100.0);
    assert_eq!(
        rows(&v),
        vec![
            (
                json!(1),
                "新城壹号小区".into(),
                json!(100.0),
                json!(2),
                json!(1),
                json!(30.0)
            ),
            (
                json!(2),
                "锦绣花园".into(),
                json!(66.67),
                Value::Null,
                Value::Null,
                Value::Null
            ),
            (
                json!(3),
                "泛华盛世小区".into(),
                json!(56.67),
                json!(1),
                json!(-2),
                json!(100.0)
            ),
        ]
    );
    let items = v["items"].as_array().unwrap();
    let arrows: Vec<&str> = items.iter().map(|i| i["arrow"].as_str().unwrap()).collect();
    assert_eq!(arrows, ["↑1", "新", "↓2"]);
    assert_eq!(items[0]["place"], "站前社区");
    assert_eq!(items[2]["place"], "泛华社区");
    // FH's score, part by part: 按期结案率 2/3 → 50 − 3.33; 满意率 and 解决率 1/2
    // → 0; 响应率 2/2 → 10; 返工率 1/3 → 0.
    let parts: Vec<(String, Value)> = items[2]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["indicator"].as_str().unwrap().to_string(),
                p["earned"].clone(),
            )
        })
        .collect();
    assert_eq!(
        parts,
        vec![
            ("on_time_closure_rate".into(), json!(46.67)),
            ("satisfaction_rate".into(), json!(0.0)),
            ("resolution_rate".into(), json!(0.0)),
            ("response_rate".into(), json!(10.0)),
            ("rework_rate".into(), json!(0.0)),
        ]
    );
    // JX has no return visits: those criteria do not apply.
    assert_eq!(items[1]["parts"][1]["earned"], Value::Null);
    assert_eq!(items[1]["parts"][0]["earned"], json!(30.0));
    assert_eq!(items[1]["on_time_closure_rate"].as_f64(), Some(0.5));

    // Communities: 站前 (XC + JX) 46.67 + 20 + 10 + 10 + 10; 泛华 = FH.
    let (s, v) = app.get(&league_q("community", &lishi), &t).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        rows(&v),
        vec![
            (
                json!(1),
                "站前社区".into(),
                json!(96.67),
                json!(2),
                json!(1),
                json!(30.0)
            ),
            (
                json!(2),
                "泛华社区".into(),
                json!(56.67),
                json!(1),
                json!(-1),
                json!(100.0)
            ),
        ]
    );
    // Streets: the same two subtrees.
    let (_, v) = app.get(&league_q("street", &lishi), &t).await;
    let names: Vec<String> = rows(&v).into_iter().map(|r| r.1).collect();
    assert_eq!(names, ["城北街道", "莲花池街道"]);

    // Butlers: each compound's demands are its butler's.
    let (s, v) = app.get(&league_q("butler", &lishi), &t).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        rows(&v),
        vec![
            (
                json!(1),
                "赵晓东".into(),
                json!(100.0),
                json!(2),
                json!(1),
                json!(30.0)
            ),
            (
                json!(2),
                "孙师傅".into(),
                json!(66.67),
                Value::Null,
                Value::Null,
                Value::Null
            ),
            (
                json!(3),
                "钱师傅".into(),
                json!(56.67),
                json!(1),
                json!(-2),
                json!(100.0)
            ),
        ]
    );
    let keys: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            fx.butler_xc.as_str(),
            fx.butler_jx.as_str(),
            fx.butler_fh.as_str()
        ]
    );
    assert_eq!(v["items"][0]["place"], "新城壹号小区");
    assert_eq!(v["items"][0]["handled"], 5);

    // A community's staff see their own compounds only.
    let t = app.token("community-zq").await;
    let (s, v) = app
        .get(&format!("/api/v1/insight/league?from={FROM}&to={TO}"), &t)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let names: Vec<String> = rows(&v).into_iter().map(|r| r.1).collect();
    assert_eq!(names, ["新城壹号小区", "锦绣花园"]);
}

#[tokio::test]
async fn weights_are_set_by_district_and_city_admins() {
    let app = spawn_app().await;
    fixture(&app).await;
    let t = app.token("district-ls").await;
    let lishi = app.node_id(LISHI).await;

    let (s, w) = app
        .get(&format!("/api/v1/insight/weights?org={lishi}"), &t)
        .await;
    assert_eq!(s, StatusCode::OK, "{w}");
    assert_eq!(w["source"], Value::Null);
    assert_eq!(w["own_version"], 0);
    assert_eq!(w["editable"], true);
    assert_eq!(
        w["criteria"][0],
        json!({"indicator": "on_time_closure_rate", "points": 50.0, "threshold": 0.7, "per_point": 1.0})
    );

    // Only 按期结案率: full 100 at ≥ 60 %, 2 points off per point below.
    let body = json!({"criteria": [{"indicator": "on_time_closure_rate", "points": 100, "threshold": 0.6, "per_point": 2}], "version": 0});
    let r = app
        .client
        .put(app.url(&format!("/api/v1/insight/weights?org={lishi}")))
        .bearer_auth(&t)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let saved: Value = r.json().await.unwrap();
    assert_eq!(saved["own_version"], 1);
    assert_eq!(saved["source"]["name"], "离石区");
    assert!(app
        .audit_actions()
        .await
        .contains(&"insight_weights_updated".to_string()));
    // The same version again is stale.
    let r = app
        .client
        .put(app.url(&format!("/api/v1/insight/weights?org={lishi}")))
        .bearer_auth(&t)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);

    // XC 3/4 → 100, FH 2/3 → 100 (a tie: both first), JX 1/2 → 100 − 20 = 80.
    let (s, v) = app.get(&league_q("compound", &lishi), &t).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["weights"]["source"]["name"], "离石区");
    let got: Vec<(Value, String, Value)> = rows(&v).into_iter().map(|r| (r.0, r.1, r.2)).collect();
    assert_eq!(
        got,
        vec![
            (json!(1), "新城壹号小区".into(), json!(100.0)),
            (json!(1), "泛华盛世小区".into(), json!(100.0)),
            (json!(3), "锦绣花园".into(), json!(80.0)),
        ]
    );
    // A community below inherits them, and may not change them.
    let zq = app.node_id(ZHANQIAN).await;
    let tc = app.token("community-zq").await;
    let (s, w) = app
        .get(&format!("/api/v1/insight/weights?org={zq}"), &tc)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(w["source"]["name"], "离石区");
    assert_eq!(
        (w["own_version"].as_i64(), w["editable"].as_bool()),
        (Some(0), Some(false))
    );

    let put = |token: String, org: String, body: Value| {
        let app = &app;
        async move {
            let r = app
                .client
                .put(app.url(&format!("/api/v1/insight/weights?org={org}")))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let s = r.status();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let ok = json!({"criteria": [{"indicator": "satisfaction_rate", "points": 100, "threshold": 0.9, "per_point": 1}]});
    // A street admin over their own street: visible, not theirs to set → 403.
    let cb = app.node_id("/141100/141102/141102003/").await;
    let (s, _) = put(app.token("street-cb").await, cb.clone(), ok.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // The district above a street admin is out of their scope → 404.
    let (s, _) = put(app.token("street-cb").await, lishi.clone(), ok.clone()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Residents and the auditor → 403.
    for login in ["13800000001", "auditor"] {
        let (s, _) = put(app.token(login).await, lishi.clone(), ok.clone()).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{login}");
    }
    // Weights live at a district or city, not a compound → 422.
    let xc = app.node_id(XC).await;
    let (s, v) = put(t.clone(), xc, ok.clone()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["fields"]["org"].is_array());
    // Bad criteria → 422, each field named.
    let (s, v) = put(
        t.clone(),
        lishi.clone(),
        json!({"criteria": [{"indicator": "rework_rate", "points": 0, "threshold": 2, "per_point": 1},
                            {"indicator": "rework_rate", "points": 10, "threshold": 0.1, "per_point": -1}], "version": 1}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    for k in [
        "criteria[0].points",
        "criteria[0].threshold",
        "criteria[1].indicator",
        "criteria[1].per_point",
    ] {
        assert!(v["fields"][k].is_array(), "{k}: {v}");
    }
    let (s, v) = put(
        t.clone(),
        lishi.clone(),
        json!({"criteria": [{"indicator": "speed", "points": 1, "threshold": 0, "per_point": 0}]}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, _) = put(
        t.clone(),
        lishi.clone(),
        json!({"criteria": [], "extra": 1}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

fn cell(range: &calamine::Range<Data>, row: u32, col: u32) -> Data {
    range.get_value((row, col)).cloned().unwrap_or(Data::Empty)
}

fn num(range: &calamine::Range<Data>, row: u32, col: u32) -> f64 {
    match cell(range, row, col) {
        Data::Float(f) => f,
        Data::Int(i) => i as f64,
        other => panic!("({row}, {col}) is {other:?}, not a number"),
    }
}

fn text(range: &calamine::Range<Data>, row: u32, col: u32) -> String {
    cell(range, row, col).to_string()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// Every cell the workbook's readers rely on.
fn check_workbook(bytes: &[u8], fx: &Fixture) {
    let mut wb = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes.to_vec()))
        .expect("an xlsx");
    assert_eq!(
        wb.sheet_names(),
        ["汇总", "分单位", "小区排名", "超期清单", "图表数据"]
    );

    let s = wb.worksheet_range("汇总").unwrap();
    assert_eq!(text(&s, 0, 0), "连心 · 诉求办理月度报告");
    assert_eq!(text(&s, 1, 1), "离石区");
    assert_eq!(text(&s, 2, 1), "2025-03");
    assert_eq!(text(&s, 3, 1), "2025-03-01 至 2025-03-31");
    assert_eq!(text(&s, 4, 1), "2025-02-01 至 2025-02-28");
    assert_eq!(
        (0..5).map(|c| text(&s, 7, c)).collect::<Vec<_>>(),
        ["指标", "本月", "上月", "变化", "说明"]
    );
    // (label, March, February) for the counts …
    let counts: [(&str, f64, f64); 10] = [
        ("新增诉求", 13.0, 2.0),
        ("超期诉求", 3.0, 1.0),
        ("督办诉求", 2.0, 1.0),
        ("回访数", 6.0, 3.0),
        ("到期诉求", 10.0, 3.0),
        ("缓办", 1.0, 0.0),
        ("结案", 7.0, 2.0),
        ("按期结案", 6.0, 2.0),
        ("反馈次数", 9.0, 2.0),
        ("返工次数", 1.0, 1.0),
    ];
    for (k, (label, now, before)) in counts.iter().enumerate() {
        let row = 8 + k as u32;
        assert_eq!(text(&s, row, 0), *label);
        assert_eq!(
            (num(&s, row, 1), num(&s, row, 2), num(&s, row, 3)),
            (*now, *before, now - before),
            "{label}"
        );
    }
    // … and the rates (fractions, shown as 0.0%).
    let rates: [(&str, f64, f64); 6] = [
        ("响应率", 1.0, ratio(2, 3)),
        ("解决率", ratio(5, 6), ratio(2, 3)),
        ("满意率", ratio(5, 6), ratio(2, 3)),
        ("结案率", ratio(7, 9), ratio(2, 3)),
        ("按期结案率", ratio(6, 9), ratio(2, 3)),
        ("返工率", ratio(1, 9), ratio(1, 2)),
    ];
    for (k, (label, now, before)) in rates.iter().enumerate() {
        let row = 18 + k as u32;
        assert_eq!(text(&s, row, 0), *label);
        assert!(
            close(num(&s, row, 1), *now) && close(num(&s, row, 2), *before),
            "{label}"
        );
        assert!(close(num(&s, row, 3), now - before), "{label}");
    }
    assert_eq!(text(&s, 25, 0), "当前办理中");

    let u = wb.worksheet_range("分单位").unwrap();
    assert_eq!(text(&u, 0, 0), "单位");
    assert_eq!(text(&u, 0, 13), "综合得分");
    // 莲花池街道 = FH; 城北街道 = XC + JX (= 站前社区's 96.67); 合计: 10 + 8.33 +
    // 13.33 + 46.67 + 3.89 = 82.22 for the district.
    let want: [(&str, [f64; 5], f64); 3] = [
        ("莲花池街道", [3.0, 1.0, 1.0, 2.0, 3.0], 56.67),
        ("城北街道", [10.0, 2.0, 1.0, 4.0, 6.0], 96.67),
        ("合计", [13.0, 3.0, 2.0, 6.0, 9.0], 82.22),
    ];
    for (k, (name, figs, score)) in want.iter().enumerate() {
        let row = 1 + k as u32;
        assert_eq!(text(&u, row, 0), *name);
        let got: Vec<f64> = (2..7).map(|c| num(&u, row, c)).collect();
        assert_eq!(got, figs.to_vec(), "{name}");
        assert!(
            close(num(&u, row, 13), *score),
            "{name}: {}",
            num(&u, row, 13)
        );
    }
    assert!(close(num(&u, 1, 11), ratio(2, 3)), "莲花池街道 按期结案率");
    assert!(close(num(&u, 3, 7), 1.0), "合计 响应率");

    let l = wb.worksheet_range("小区排名").unwrap();
    let league: Vec<(String, String, String, String)> = (1..4)
        .map(|r| {
            (
                text(&l, r, 0),
                text(&l, r, 1),
                text(&l, r, 2),
                text(&l, r, 3),
            )
        })
        .collect();
    assert_eq!(
        league,
        vec![
            (
                "1".into(),
                "↑1".into(),
                "新城壹号小区".into(),
                "站前社区".into()
            ),
            (
                "2".into(),
                "新".into(),
                "锦绣花园".into(),
                "站前社区".into()
            ),
            (
                "3".into(),
                "↓2".into(),
                "泛华盛世小区".into(),
                "泛华社区".into()
            ),
        ]
    );
    assert_eq!((num(&l, 1, 4), num(&l, 1, 5)), (100.0, 30.0));
    assert_eq!(num(&l, 2, 4), 66.67);
    assert_eq!(text(&l, 2, 5), "—");
    assert_eq!((num(&l, 3, 4), num(&l, 3, 5)), (56.67, 100.0));
    assert_eq!(text(&l, 5, 0), "评分规则(默认)");
    assert_eq!(text(&l, 7, 2), "按期结案率");
    assert_eq!(
        (num(&l, 7, 4), num(&l, 7, 5), num(&l, 7, 6)),
        (50.0, 0.7, 1.0)
    );

    let o = wb.worksheet_range("超期清单").unwrap();
    assert_eq!(text(&o, 0, 1), "诉求编号");
    let ids: Vec<String> = (1..4).map(|r| text(&o, r, 1)).collect();
    assert_eq!(ids, fx.late.to_vec(), "X4, J2, F3 by deadline");
    assert_eq!(text(&o, 4, 1), "", "three late demands only");
    let row = |r: u32| (2..10).map(|c| text(&o, r, c)).collect::<Vec<_>>();
    assert_eq!(
        row(1),
        [
            "超期的漏水诉求",
            "漏水",
            "新城壹号小区",
            "2号楼",
            "赵晓东",
            "已结案",
            "2025-03-16 18:00",
            "2025-03-18 10:00"
        ]
    );
    assert_eq!(
        row(2),
        [
            "路灯不亮",
            "公共设施",
            "锦绣花园",
            "1号楼",
            "孙师傅",
            "已派遣",
            "2025-03-20 18:00",
            "未反馈"
        ]
    );
    assert_eq!(
        row(3)[..6],
        [
            "没人管的垃圾",
            "垃圾清运",
            "泛华盛世小区",
            "3号楼",
            "钱师傅",
            "处置中"
        ]
    );
    // 40 hours late; J2 and F3 are late until now.
    assert_eq!(num(&o, 1, 10), 1.7);
    assert!(num(&o, 2, 10) > 365.0);
    assert_eq!(
        (num(&o, 1, 11), num(&o, 2, 11), num(&o, 3, 11)),
        (2.0, 0.0, 1.0)
    );

    let c = wb.worksheet_range("图表数据").unwrap();
    let find = |title: &str| -> u32 {
        (0..c.height() as u32)
            .find(|r| text(&c, *r, 0) == title)
            .unwrap_or_else(|| panic!("no block {title}"))
    };
    let v = find("诉求量(按类别)");
    assert_eq!(
        (0..7).map(|k| text(&c, v + 1, k)).collect::<Vec<_>>(),
        [
            "日期",
            "漏水",
            "垃圾清运",
            "噪音扰民",
            "公共设施",
            "停车",
            "合计"
        ]
    );
    assert_eq!(text(&c, v + 2, 0), "2025-03-01");
    assert_eq!(
        (num(&c, v + 3, 1), num(&c, v + 3, 6)),
        (1.0, 1.0),
        "03-02: X1"
    );
    let total: f64 = (0..31).map(|d| num(&c, v + 2 + d, 6)).sum();
    assert_eq!(total, 13.0);
    let ch = find("反映渠道");
    assert_eq!(
        (text(&c, ch + 2, 0), num(&c, ch + 2, 1)),
        ("网上".into(), 9.0)
    );
    assert!(close(num(&c, ch + 2, 2), ratio(9, 13)));
    assert_eq!(
        (text(&c, ch + 3, 0), num(&c, ch + 3, 1)),
        ("电话".into(), 3.0)
    );
    let top = find("诉求类别排行");
    assert_eq!(
        (text(&c, top + 2, 0), num(&c, top + 2, 1)),
        ("漏水".into(), 4.0)
    );
    assert_eq!(
        (text(&c, top + 6, 0), num(&c, top + 6, 1)),
        ("停车".into(), 1.0)
    );
    let tr = find("指标趋势");
    assert_eq!(text(&c, tr + 1, 5), "按期结案率");
    assert_eq!(num(&c, tr + 2 + 7, 3), 1.0, "03-08: 满意率 1/1");
    let heat = find("单位 × 类别");
    assert_eq!(text(&c, heat + 2, 0), "莲花池街道");
    assert_eq!(
        (1..7).map(|k| num(&c, heat + 3, k)).collect::<Vec<_>>(),
        [3.0, 3.0, 1.0, 2.0, 1.0, 10.0],
        "城北街道"
    );
}

#[tokio::test]
async fn the_monthly_report_reads_back_cell_by_cell() {
    let app = spawn_app().await;
    let fx = fixture(&app).await;
    let t = app.token("district-ls").await;
    let lishi = app.node_id(LISHI).await;

    let r = app
        .client
        .get(app.url(&format!(
            "/api/v1/insight/report.xlsx?org={lishi}&month=2025-03"
        )))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("lianxin-report-2025-03.xlsx"));
    let bytes = r.bytes().await.unwrap();
    check_workbook(&bytes, &fx);
    assert!(app
        .audit_actions()
        .await
        .contains(&"insight_report_exported".to_string()));
    // Without org: the caller's scope, the same district.
    let r = app
        .client
        .get(app.url("/api/v1/insight/report.xlsx?month=2025-03"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    check_workbook(&r.bytes().await.unwrap(), &fx);

    // A bad or missing month → 422.
    for q in ["month=2025-13", "month=2025-3", "month=", ""] {
        let (s, v) = app
            .get(&format!("/api/v1/insight/report.xlsx?{q}"), &t)
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{q}: {v}");
        assert!(v["fields"]["month"].is_array(), "{q}: {v}");
    }

    // `lianxin export report` writes the same workbook.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.xlsx");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_lianxin"))
        .args([
            "export", "report", "--month", "2025-03", "--org", LISHI, "--output",
        ])
        .arg(&out)
        .args(["--database-url", &app.database_url, "--field-key", TEST_KEY])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    check_workbook(&std::fs::read(&out).unwrap(), &fx);
    // The whole tree (one city) by default: the same figures, under 吕梁市.
    let whole = dir.path().join("whole.xlsx");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_lianxin"))
        .args(["export", "report", "--month", "2025-03", "--output"])
        .arg(&whole)
        .args(["--database-url", &app.database_url, "--field-key", TEST_KEY])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let mut wb =
        calamine::open_workbook_auto_from_rs(std::io::Cursor::new(std::fs::read(&whole).unwrap()))
            .unwrap();
    let s = wb.worksheet_range("汇总").unwrap();
    assert_eq!(text(&s, 1, 1), "吕梁市");
    assert_eq!(num(&s, 8, 1), 13.0);
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_lianxin"))
        .args(["export", "report", "--month", "2025-13", "--output"])
        .arg(&whole)
        .args(["--database-url", &app.database_url, "--field-key", TEST_KEY])
        .output()
        .unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("月份"));
}

#[tokio::test]
async fn scope_is_enforced_and_bad_input_is_422() {
    let app = spawn_app().await;
    fixture(&app).await;
    let t = app.token("community-zq").await;

    // Without org: the community (XC + JX).
    let (s, v) = app
        .get(
            &format!("/api/v1/insight/dashboard?from={FROM}&to={TO}"),
            &t,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["org"]["name"], "站前社区");
    assert_eq!(v["created"], 10);
    let names: Vec<&str> = v["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["锦绣花园", "新城壹号小区"],
        "in org path order (JX < XC)"
    );

    // Another community's compound, the district above, nonsense: 404.
    for org in [
        app.node_id(FH).await,
        app.node_id(LISHI).await,
        "not-an-id".into(),
    ] {
        for path in ["dashboard", "league", "weights", "report.xlsx"] {
            let (s, v) = app
                .get(
                    &format!("/api/v1/insight/{path}?org={org}&from={FROM}&to={TO}&month=2025-03"),
                    &t,
                )
                .await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{path} {org}: {v}");
        }
    }
    // Residents and the auditor: 403 everywhere.
    for login in ["13800000001", "auditor"] {
        let t = app.token(login).await;
        for path in ["dashboard", "league", "weights", "report.xlsx"] {
            let (s, v) = app
                .get(
                    &format!("/api/v1/insight/{path}?from={FROM}&to={TO}&month=2025-03"),
                    &t,
                )
                .await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{login} {path}: {v}");
        }
    }
    let r = app
        .client
        .get(app.url(&dashboard_q("x")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Bad dates and kinds: 422 naming the field.
    for (q, field) in [
        ("from=2025-03-31&to=2025-03-01", "to"),
        ("from=2025-02-30&to=2025-03-31", "from"),
        ("from=2025-3-1&to=2025-03-31", "from"),
        ("to=2025-03-31", "from"),
        ("from=2020-01-01&to=2025-03-31", "to"),
    ] {
        for path in ["dashboard", "league"] {
            let (s, v) = app.get(&format!("/api/v1/insight/{path}?{q}"), &t).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{path}?{q}: {v}");
            assert!(v["fields"][field].is_array(), "{path}?{q}: {v}");
        }
    }
    let (s, v) = app
        .get(
            &format!("/api/v1/insight/league?kind=company&from=yesterday&to={TO}"),
            &t,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        v["fields"]["kind"].is_array() && v["fields"]["from"].is_array(),
        "{v}"
    );
}

#[tokio::test]
async fn pages_show_the_dashboard_the_league_and_the_lists() {
    let app = spawn_app().await;
    let fx = fixture(&app).await;
    let c = logged_in(&app, "district-ls").await;
    let lishi = app.node_id(LISHI).await;

    let (s, html) = page(
        &app,
        &c,
        &format!("/insight?org={lishi}&from={FROM}&to={TO}"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains("href=\"/insight\" class=\"active\""),
        "nav link 统计"
    );
    assert!(html.contains(">统计<"));
    assert!(html.contains("统计分析 · 离石区"));
    assert_eq!(html.matches("<svg").count(), 4, "four charts");
    assert_eq!(html.matches("role=\"img\"").count(), 4);
    assert!(html.contains("<title id=\"trend-t\">指标趋势</title>"));
    assert!(html.contains("83.3%"), "解决率 5/6");
    assert!(html.contains(">13<"), "13 filings");
    // Drill-down links to the streets, the heat table, the report button.
    let cb = app.node_id("/141100/141102/141102003/").await;
    assert!(html.contains(&format!("/insight?org={cb}&amp;from={FROM}&amp;to={TO}")));
    assert!(html.contains("heat-4"));
    assert!(html.contains("action=\"/api/v1/insight/report.xlsx\""));
    assert!(html.contains("下载月报"));
    // English.
    let (s, html) = page(
        &app,
        &c,
        &format!("/insight?org={lishi}&from={FROM}&to={TO}&lang=en"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("Indicators over time") && html.contains("Download monthly report"));
    // A building: its demand list.
    let b2 = app
        .node_id("/141100/141102/141102003/141102003001/XC/B2/")
        .await;
    let (s, html) = page(
        &app,
        &c,
        &format!("/insight?org={b2}&from={FROM}&to={TO}&lang=zh"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains(&format!("href=\"/demands/{}\"", fx.late[0])),
        "X4 in 2号楼's list"
    );
    // The late list.
    let (s, html) = page(
        &app,
        &c,
        &format!("/insight/demands?org={lishi}&from={FROM}&to={TO}&list=late"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    for id in &fx.late {
        assert!(html.contains(&format!("/demands/{id}")));
    }
    assert_eq!(html.matches("<tr>").count(), 1 + 3);
    // Bad dates on the page: the reason, this month instead, 422.
    let (s, html) = page(&app, &c, "/insight?from=2025-02-30&to=2025-03-31").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("flash error"));

    // The league page with its arrows; the district edits the weights.
    let (s, html) = page(
        &app,
        &c,
        &format!("/insight/league?org={lishi}&from={FROM}&to={TO}"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("↑1") && html.contains("↓2") && html.contains("新"));
    assert!(html.contains("100.00") && html.contains("66.67") && html.contains("56.67"));
    let csrf = hidden(&html, "csrf");
    let r = post_form(
        &app,
        &c,
        "/insight/weights",
        &[
            ("csrf", &csrf),
            ("org", &lishi),
            ("kind", "compound"),
            ("from", FROM),
            ("to", TO),
            ("version", "0"),
            ("on_time_closure_rate_points", "100"),
            ("on_time_closure_rate_threshold", "60"),
            ("on_time_closure_rate_per_point", "2"),
            ("satisfaction_rate_points", "0"),
            ("resolution_rate_points", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/insight/league?"));
    let (_, html) = page(
        &app,
        &c,
        &format!("/insight/league?org={lishi}&from={FROM}&to={TO}&saved=1"),
    )
    .await;
    assert!(html.contains("评分规则已保存"));
    assert!(html.contains("80.00"), "JX under the new rule");
    // A stale version: the form again with the reason.
    let r = post_form(
        &app,
        &c,
        "/insight/weights",
        &[
            ("csrf", &csrf),
            ("org", &lishi),
            ("version", "0"),
            ("rework_rate_points", "10"),
            ("rework_rate_threshold", "5"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Without the CSRF token: refused.
    let r = post_form(
        &app,
        &c,
        "/insight/weights",
        &[("org", &lishi), ("version", "1")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // A community's staff see no weights form; residents are refused.
    let zc = logged_in(&app, "community-zq").await;
    let (s, html) = page(&app, &zc, &format!("/insight/league?from={FROM}&to={TO}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(!html.contains("action=\"/insight/weights\""));
    let rc = logged_in(&app, "13800000001").await;
    let (s, html) = page(&app, &rc, "/insight").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(
        !html.contains("href=\"/insight\""),
        "no 统计 link for residents"
    );
}

/// 物业服务满意度测评 on the fixture: companies, a quarterly survey of XC
/// answered by two households, the grade combining it with XC's indicators
/// over the quarter, and who may do what.
///
/// Answers [5, 4, 5, 4, 5] and [3, 4, 4, 2, 5]: 41 points over 10 scores →
/// mean 4.1 × 20 = 82.00; questions 80, 80, 90, 60, 100; 8 of 10 scores
/// were 4–5. XC over 2025Q1: rated 6 (5 contacted, 5 resolved, 5
/// satisfied); due 8 − 1 suspended, 5 on time; handled 7, rework 1 →
/// 响应率 5/6 → 0; 解决率 5/6 → 8.33; 满意率 5/6 → 13.33; 按期结案率 5/7 → 50;
/// 返工率 1/7 → 0.71: 72.38. Combined 0.6 × 82 + 0.4 × 72.38 = 78.15: 合格.
#[tokio::test]
async fn property_surveys_grade_compounds_and_companies_rank() {
    let app = spawn_app().await;
    fixture(&app).await;
    let zq = app.token("community-zq").await;
    let district = app.token("district-ls").await;
    let (xc, jx, fh) = (
        app.node_id(XC).await,
        app.node_id(JX).await,
        app.node_id(FH).await,
    );

    let put = |token: String, path: String, body: Value| {
        let app = &app;
        async move {
            let r = app
                .client
                .put(app.url(&path))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let s = r.status();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let company = |id: &str| format!("/api/v1/insight/compounds/{id}/company");
    for id in [&xc, &jx] {
        let (s, v) = put(
            zq.clone(),
            company(id),
            json!({"name": "新城物业服务有限公司"}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let (s, v) = put(district.clone(), company(&fh), json!({"name": "泛华物业"})).await;
    assert_eq!(
        (s, v["company"].as_str()),
        (StatusCode::OK, Some("泛华物业"))
    );
    // Not an org admin; not theirs; not a compound; a bad name.
    let (s, _) = put(
        app.token("property-xc").await,
        company(&xc),
        json!({"name": "别家物业"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = put(zq.clone(), company(&fh), json!({"name": "别家物业"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let b1 = app
        .node_id("/141100/141102/141102003/141102003001/XC/B1/")
        .await;
    let (s, _) = put(zq.clone(), company(&b1), json!({"name": "别家物业"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, v) = put(zq.clone(), company(&xc), json!({"name": "新"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");

    // Companies ranked by their compounds' indicators: 新城 (XC + JX) as
    // 站前社区 96.67 (February 30), 泛华 = FH 56.67 (February 100).
    let lishi = app.node_id(LISHI).await;
    let (s, v) = app
        .get(&league_q("property_company", &lishi), &district)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        rows(&v),
        vec![
            (
                json!(1),
                "新城物业服务有限公司".into(),
                json!(96.67),
                json!(2),
                json!(1),
                json!(30.0)
            ),
            (
                json!(2),
                "泛华物业".into(),
                json!(56.67),
                json!(1),
                json!(-1),
                json!(100.0)
            ),
        ]
    );
    assert_eq!(v["items"][0]["place"], "2个小区");

    // Opening the quarter's survey of XC.
    let (s, sv) = app
        .post(
            "/api/v1/insight/surveys",
            &zq,
            json!({"compound_id": xc, "period": "2025q1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sv}");
    let id = sv["id"].as_str().unwrap().to_string();
    assert_eq!(sv["period"], "2025Q1");
    assert_eq!(sv["title"], "2025年第一季度物业服务满意度测评");
    assert_eq!(
        (sv["from"].as_str(), sv["to"].as_str()),
        (Some("2025-01-01"), Some("2025-03-31"))
    );
    assert_eq!(sv["status"], "open");
    assert_eq!(sv["company"], "新城物业服务有限公司");
    assert_eq!(
        sv["questions"],
        json!(["服务态度", "报修响应", "环境卫生", "秩序安全", "设施维护"])
    );
    assert_eq!(sv["can_publish"], true);
    let (s, _) = app
        .post(
            "/api/v1/insight/surveys",
            &zq,
            json!({"compound_id": xc, "period": "2025Q1"}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "one survey per compound and period"
    );
    let (s, v) = app
        .post(
            "/api/v1/insight/surveys",
            &zq,
            json!({"compound_id": xc, "period": "2025Q5"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(v["fields"]["period"].is_array());
    let (s, _) = app
        .post(
            "/api/v1/insight/surveys",
            &zq,
            json!({"compound_id": b1, "period": "2025"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = app
        .post(
            "/api/v1/insight/surveys",
            &app.token("butler-xc").await,
            json!({"compound_id": xc, "period": "2025"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Residents of XC answer, once per household; others cannot.
    let answers = format!("/api/v1/insight/surveys/{id}/answers");
    let r1 = app.token("13800000001").await;
    let r2 = app.token("13800000002").await;
    let (s, v) = app
        .post(&answers, &r1, json!({"scores": [0, 6, 3, 3, 3]}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        v["fields"]["scores[0]"].is_array() && v["fields"]["scores[1]"].is_array(),
        "{v}"
    );
    let (s, v) = app
        .post(
            &answers,
            &r1,
            json!({"scores": [5, 4, 5, 4, 5], "comment": "管家很负责"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["my_answer"]["scores"], json!([5, 4, 5, 4, 5]));
    assert_eq!(
        (
            v["can_answer"].as_bool(),
            v["tally"].is_null(),
            v["result"].is_null()
        ),
        (Some(false), true, true)
    );
    let (s, v) = app
        .post(&answers, &r1, json!({"scores": [1, 1, 1, 1, 1]}))
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_answered"))
    );
    let (s, _) = app
        .post(&answers, &r2, json!({"scores": [3, 4, 4, 2, 5]}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let r3 = app.token("13800000003").await;
    let (s, _) = app
        .post(&answers, &r3, json!({"scores": [5, 5, 5, 5, 5]}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "FH's resident");
    let (s, _) = app.get(&format!("/api/v1/insight/surveys/{id}"), &r3).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .post(
            &answers,
            &app.token("butler-xc").await,
            json!({"scores": [5, 5, 5, 5, 5]}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "staff have no household there");
    let (s, list) = app.get("/api/v1/insight/surveys", &r2).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        list["items"][0]["my_answer"]["scores"],
        json!([3, 4, 4, 2, 5])
    );
    let (_, list) = app.get("/api/v1/insight/surveys", &r3).await;
    assert_eq!(list["items"], json!([]));

    // Staff read the tally and comments as they come in.
    let (s, v) = app.get(&format!("/api/v1/insight/surveys/{id}"), &zq).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v["tally"],
        json!({"answers": 2, "sums": [8, 8, 9, 6, 10], "satisfied": [1, 2, 2, 1, 2]})
    );
    assert_eq!(v["comments"], json!(["管家很负责"]));

    // Publishing: org admins only; the grade as worked out above.
    let publish = format!("/api/v1/insight/surveys/{id}/publish");
    let (s, _) = app
        .post(&publish, &app.token("butler-xc").await, json!({}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = app.post(&publish, &zq, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "published");
    let households: i64 =
        sqlx::query("SELECT COUNT(*) FROM org_nodes WHERE kind = 'household' AND org_path LIKE $1")
            .bind(format!("{XC}%"))
            .fetch_one(app.ctx.db.reader())
            .await
            .unwrap()
            .get(0);
    let r = &v["result"];
    assert_eq!(r["answers"], 2);
    assert_eq!(r["households"], households);
    assert_eq!(r["participation"].as_f64(), Some(2.0 / households as f64));
    assert_eq!(r["question_scores"], json!([80.0, 80.0, 90.0, 60.0, 100.0]));
    assert_eq!(r["satisfaction"].as_f64(), Some(0.8));
    assert_eq!(r["survey_score"], 82.0);
    assert_eq!(r["indicator_score"], 72.38);
    assert_eq!(r["combined"], 78.15);
    assert_eq!(
        (r["grade"].as_str(), r["grade_label"].as_str()),
        (Some("pass"), Some("合格"))
    );
    assert_eq!(r["company"], "新城物业服务有限公司");
    assert!(app
        .audit_actions()
        .await
        .contains(&"property_survey_published".to_string()));
    let (s, _) = app.post(&publish, &zq, json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, v) = app
        .post(&answers, &r2, json!({"scores": [5, 5, 5, 5, 5]}))
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("survey_closed"))
    );
    // Published to residents: the result, not the comments.
    let (s, v) = app.get(&format!("/api/v1/insight/surveys/{id}"), &r1).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["result"]["grade"], "pass");
    assert_eq!(v["tally"]["answers"], 2);
    assert_eq!(v["comments"], json!([]));
    // A survey nobody answered cannot be published.
    let (_, y) = app
        .post(
            "/api/v1/insight/surveys",
            &zq,
            json!({"compound_id": jx, "period": "2025"}),
        )
        .await;
    let (s, v) = app
        .post(
            &format!(
                "/api/v1/insight/surveys/{}/publish",
                y["id"].as_str().unwrap()
            ),
            &zq,
            json!({}),
        )
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("no_answers"))
    );

    // The pages: residents see the grade; staff open surveys by form;
    // residents answer by form.
    let rc = logged_in(&app, "13800000001").await;
    let (s, html) = page(&app, &rc, "/surveys").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains("href=\"/surveys\" class=\"active\""),
        "测评 in residents' nav"
    );
    assert!(html.contains("合格") && html.contains("78.15") && html.contains("72.38"));
    assert!(!html.contains("管家很负责"), "comments stay with staff");
    let zc = logged_in(&app, "community-zq").await;
    let (s, html) = page(&app, &zc, "/surveys").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("管家很负责"));
    let csrf = hidden(&html, "csrf");
    let r = post_form(
        &app,
        &zc,
        "/surveys",
        &[("csrf", &csrf), ("compound_id", &xc), ("period", "2025")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/surveys?done=created");
    let r = post_form(
        &app,
        &zc,
        "/surveys",
        &[("csrf", &csrf), ("compound_id", &xc), ("period", "2025")],
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "the same period again"
    );
    let (_, list) = app.get("/api/v1/insight/surveys", &r1).await;
    let year = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["period"] == "2025")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, html) = page(&app, &rc, "/surveys").await;
    assert!(html.contains(&format!("action=\"/surveys/{year}/answer\"")));
    let csrf = hidden(&html, "csrf");
    let r = post_form(
        &app,
        &rc,
        &format!("/surveys/{year}/answer"),
        &[
            ("csrf", &csrf),
            ("q1", "4"),
            ("q2", "4"),
            ("q3", "5"),
            ("q4", "3"),
            ("q5", "4"),
            ("comment", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, v) = app
        .get(&format!("/api/v1/insight/surveys/{year}"), &r1)
        .await;
    assert_eq!(v["my_answer"]["scores"], json!([4, 4, 5, 3, 4]));
}
