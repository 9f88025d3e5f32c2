//! The incremental rollups agree with counting the demands themselves, for
//! every node and period, after a busy history driven through the workflow
//! (rework, suspension, extension, merge, reopen, ratings, mediation), and
//! after a rebuild.

use crate::helpers::*;
use cases::rates::{compute, compute_direct, Period};
use kernel::OrgPath;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Row;

async fn step(app: &TestApp, token: &str, id: &str, body: serde_json::Value) {
    let (s, v) = app
        .post(
            &format!("/api/v1/demands/{id}/transitions"),
            token,
            body.clone(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}: {v}");
}

async fn check_everywhere(app: &TestApp) {
    let nodes = [
        "/141100/",
        "/141100/141102/",
        "/141100/141102/141102003/",
        ZHANQIAN,
        XC,
        "/141100/141102/141102003/141102003001/XC/B1/",
        XC_101,
        XC2_101,
        FH,
        FH_301,
    ];
    // Periods are whole Shanghai days, as `Period::parse` makes them: the
    // rollups keep one row per day, so a period cut mid-day is not theirs to
    // answer.
    let now = kernel::Clock::now_ms(app.clock.as_ref());
    let today = cases::rollup::day_of(now) * 86_400_000 - 8 * 3_600_000;
    let days = |from: i64, to: i64| Period {
        from_ms: today + from * 86_400_000,
        to_ms: today + to * 86_400_000,
    };
    let periods = [days(-30, 60), days(-1, 2), days(3, 40)];
    for n in nodes {
        let roots = [OrgPath::parse(n).unwrap()];
        for p in &periods {
            let fast = compute(&app.ctx.db, &roots, p).await.unwrap();
            let slow = compute_direct(&app.ctx.db, &roots, p).await.unwrap();
            assert_eq!(fast, slow, "{n} {p:?}");
            assert_eq!(
                filings_rolled(app, &roots[0], p).await,
                filings_direct(app, &roots[0], p).await,
                "filings of {n} {p:?}"
            );
        }
    }
    // Several roots at once.
    let roots = [OrgPath::parse(XC).unwrap(), OrgPath::parse(FH).unwrap()];
    let p = &periods[0];
    assert_eq!(
        compute(&app.ctx.db, &roots, p).await.unwrap(),
        compute_direct(&app.ctx.db, &roots, p).await.unwrap()
    );
    check_open(app, &nodes, now, today).await;
    assert_eq!(monthly_rolled(app).await, monthly_from_days(app).await);
}

/// The open demands' counters (`demand_open`) agree with the demands, and
/// so do the dashboard's "open now" and "open past the deadline", for
/// periods of whole days and cut mid-day, past, present and future.
async fn check_open(app: &TestApp, nodes: &[&str], now: i64, today: i64) {
    let h = 3_600_000;
    let d = 24 * h;
    let periods = [
        (today - 30 * d, today + 60 * d),
        (today - d, today + 2 * d),
        (today, today + d),
        (today - 40 * d + 5 * h, now - h),
        (now - 2 * h, now + h),
        (today + 3 * d, today + 40 * d),
    ];
    for n in nodes {
        let roots = [OrgPath::parse(n).unwrap()];
        assert_eq!(
            open_rolled(app, n).await,
            open_direct(app, &roots[0]).await,
            "open of {n}"
        );
        let (open, overdue, escalated) =
            insight::store::snapshot(&app.ctx.db, &roots).await.unwrap();
        let r = sqlx::query(
            "SELECT COUNT(*), CAST(COALESCE(SUM(overdue), 0) AS BIGINT),
                    CAST(COALESCE(SUM(CASE WHEN escalation_level > 0 THEN 1 ELSE 0 END), 0) AS BIGINT)
             FROM demands WHERE org_path >= $1 AND org_path < $2
               AND status IN ('submitted', 'accepted', 'dispatched', 'in_progress', 'returned', 'rework', 'suspended')",
        )
        .bind(roots[0].as_str())
        .bind(roots[0].subtree_end())
        .fetch_one(app.ctx.db.reader())
        .await
        .unwrap();
        assert_eq!(
            (open, overdue, escalated),
            (r.get(0), r.get(1), r.get(2)),
            "snapshot of {n}"
        );
        for (from, to) in periods {
            let fast = insight::store::open_late(&app.ctx.db, &roots, from, to, now)
                .await
                .unwrap();
            let slow: i64 = sqlx::query(
                "SELECT COUNT(*) FROM demands WHERE org_path >= $1 AND org_path < $2
                   AND status IN ('submitted', 'accepted', 'dispatched', 'in_progress', 'returned', 'rework')
                   AND resolved_at IS NULL AND closed_at IS NULL
                   AND feedback_deadline >= $3 AND feedback_deadline < $4 AND feedback_deadline < $5",
            )
            .bind(roots[0].as_str())
            .bind(roots[0].subtree_end())
            .bind(from)
            .bind(to)
            .bind(now)
            .fetch_one(app.ctx.db.reader())
            .await
            .unwrap()
            .get(0);
            assert_eq!(fast, slow, "open late of {n} in [{from}, {to}) at {now}");
            let units = insight::store::unit_open_late(
                &app.ctx.db,
                &roots,
                std::slice::from_ref(&roots.to_vec()),
                from,
                to,
                now,
            )
            .await
            .unwrap();
            assert_eq!(units, vec![slow], "unit open late of {n}");
        }
    }
}

type OpenRows = std::collections::BTreeMap<i64, (i64, i64, i64, i64)>;

/// A node's `demand_open` rows (zero rows left out).
async fn open_rolled(app: &TestApp, node: &str) -> OpenRows {
    sqlx::query(
        "SELECT day, open, overdue, escalated, awaiting_feedback FROM demand_open WHERE node_path = $1",
    )
    .bind(node)
    .fetch_all(app.ctx.db.reader())
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get::<i64, _>(0), (r.get(1), r.get(2), r.get(3), r.get(4))))
    .filter(|(_, c)| *c != (0, 0, 0, 0))
    .collect()
}

/// The same counted from the demands of the node's subtree.
async fn open_direct(app: &TestApp, root: &OrgPath) -> OpenRows {
    let rows = sqlx::query(
        "SELECT status, feedback_deadline, overdue, escalation_level, resolved_at, closed_at FROM demands
         WHERE org_path >= $1 AND org_path < $2",
    )
    .bind(root.as_str())
    .bind(root.subtree_end())
    .fetch_all(app.ctx.db.reader())
    .await
    .unwrap();
    let mut out = OpenRows::new();
    for r in rows {
        let status: String = r.get(0);
        if ![
            "submitted",
            "accepted",
            "dispatched",
            "in_progress",
            "returned",
            "rework",
            "suspended",
        ]
        .contains(&status.as_str())
        {
            continue;
        }
        let deadline: Option<i64> = r.get(1);
        let day = deadline.map(cases::rollup::day_of).unwrap_or(-1);
        let e = out.entry(day).or_default();
        e.0 += 1;
        e.1 += r.get::<i64, _>(2);
        e.2 += (r.get::<i64, _>(3) > 0) as i64;
        e.3 += (status != "suspended"
            && deadline.is_some()
            && r.get::<Option<i64>, _>(4).is_none()
            && r.get::<Option<i64>, _>(5).is_none()) as i64;
    }
    out
}

type MonthRows = std::collections::BTreeMap<(String, i64, String, String), i64>;

/// Every `demand_filings_monthly` row (zero rows left out).
async fn monthly_rolled(app: &TestApp) -> MonthRows {
    sqlx::query("SELECT node_path, month, category, channel, n FROM demand_filings_monthly")
        .fetch_all(app.ctx.db.reader())
        .await
        .unwrap()
        .iter()
        .map(|r| ((r.get(0), r.get(1), r.get(2), r.get(3)), r.get::<i64, _>(4)))
        .filter(|(_, n)| *n != 0)
        .collect()
}

/// The daily filings summed by month.
async fn monthly_from_days(app: &TestApp) -> MonthRows {
    let mut out = MonthRows::new();
    for r in sqlx::query("SELECT node_path, day, category, channel, n FROM demand_filings")
        .fetch_all(app.ctx.db.reader())
        .await
        .unwrap()
    {
        *out.entry((
            r.get(0),
            cases::rollup::month_of(r.get(1)),
            r.get(2),
            r.get(3),
        ))
        .or_default() += r.get::<i64, _>(4);
    }
    out.retain(|_, n| *n != 0);
    out
}

/// The rollups of the whole city over all time.
async fn whole_city(app: &TestApp) -> cases::rates::Counts {
    let all = Period {
        from_ms: 0,
        to_ms: i64::MAX / 4,
    };
    compute(&app.ctx.db, &[OrgPath::parse("/141100/").unwrap()], &all)
        .await
        .unwrap()
}

type Filings = std::collections::BTreeMap<(String, String), i64>;

/// Filings by (category, channel) from the `demand_filings` rollup.
async fn filings_rolled(app: &TestApp, root: &OrgPath, p: &Period) -> Filings {
    let rows = sqlx::query(
        "SELECT category, channel, CAST(SUM(n) AS BIGINT) FROM demand_filings
         WHERE node_path = $1 AND day >= $2 AND day < $3 GROUP BY category, channel",
    )
    .bind(root.as_str())
    .bind(cases::rollup::day_of(p.from_ms))
    .bind(cases::rollup::day_of(p.to_ms))
    .fetch_all(app.ctx.db.reader())
    .await
    .unwrap();
    rows.iter()
        .map(|r| ((r.get(0), r.get(1)), r.get::<i64, _>(2)))
        .filter(|(_, n)| *n != 0)
        .collect()
}

/// Filings by (category, channel) counted from the demands themselves.
async fn filings_direct(app: &TestApp, root: &OrgPath, p: &Period) -> Filings {
    let rows = sqlx::query(
        "SELECT category, channel, COUNT(*) FROM demands
         WHERE org_path >= $1 AND org_path < $2 AND created_at >= $3 AND created_at < $4
         GROUP BY category, channel",
    )
    .bind(root.as_str())
    .bind(root.subtree_end())
    .bind(p.from_ms)
    .bind(p.to_ms)
    .fetch_all(app.ctx.db.reader())
    .await
    .unwrap();
    rows.iter()
        .map(|r| ((r.get(0), r.get(1)), r.get::<i64, _>(2)))
        .collect()
}

#[tokio::test]
async fn rollups_match_the_demands_through_a_busy_history() {
    let app = spawn_app().await;
    let r1 = app.token("13800000001").await;
    let r2 = app.token("13800000002").await;
    let staff = app.token("community-zq").await;
    let butler = app.token("butler-xc").await;

    let mut ids = Vec::new();
    for (t, title) in [
        (&r1, "诉求甲"),
        (&r1, "诉求乙"),
        (&r2, "诉求丙"),
        (&r2, "诉求丁"),
        (&r1, "诉求戊"),
    ] {
        ids.push(
            app.file_demand(t, title).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    for id in &ids {
        step(&app, &staff, id, json!({"action": "accept"})).await;
        step(&app, &staff, id, json!({"action": "dispatch"})).await;
        step(&app, &butler, id, json!({"action": "start"})).await;
    }
    check_everywhere(&app).await;
    // 甲: rework then closed, rated satisfied.
    step(
        &app,
        &butler,
        &ids[0],
        json!({"action": "resolve", "note": "修好"}),
    )
    .await;
    step(
        &app,
        &staff,
        &ids[0],
        json!({"action": "verify_fail", "note": "没修好"}),
    )
    .await;
    step(
        &app,
        &butler,
        &ids[0],
        json!({"action": "resolve", "note": "再修"}),
    )
    .await;
    step(&app, &staff, &ids[0], json!({"action": "verify_pass"})).await;
    let (s, _) = app
        .post(
            &format!("/api/v1/demands/{}/rating", ids[0]),
            &r1,
            json!({"contacted": true, "resolved": true, "satisfaction": 5}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // 乙: suspended, resumed, extended.
    step(
        &app,
        &staff,
        &ids[1],
        json!({"action": "suspend", "note": "等配件"}),
    )
    .await;
    check_everywhere(&app).await;
    app.clock.advance_ms(2 * 86_400_000);
    let staff = app.token("community-zq").await;
    step(&app, &staff, &ids[1], json!({"action": "resume"})).await;
    step(
        &app,
        &staff,
        &ids[1],
        json!({"action": "extend", "note": "延期", "extend_minutes": 2100}),
    )
    .await;
    // 丙 merged into 丁 is not possible from in_progress; 丙 resolved late and rated unhappy.
    app.clock.advance_ms(10 * 86_400_000);
    // The overdue sweep escalates (督办) what is past its deadline; a second
    // sweep a day later escalates again, which must not count twice.
    let swept = cases::flow::sweep(&app.ctx).await.unwrap();
    assert!(swept.escalated >= 1, "{:?}", swept.escalated);
    check_everywhere(&app).await;
    let staff = app.token("community-zq").await;
    let butler = app.token("butler-xc").await;
    let r1 = app.token("13800000001").await;
    let r2 = app.token("13800000002").await;
    let r3 = app.token("13800000003").await;
    let fh = app.token("property-fh").await;
    step(
        &app,
        &butler,
        &ids[2],
        json!({"action": "resolve", "note": "晚了"}),
    )
    .await;
    step(&app, &staff, &ids[2], json!({"action": "verify_pass"})).await;
    let (s, _) = app
        .post(
            &format!("/api/v1/demands/{}/rating", ids[2]),
            &r2,
            json!({"contacted": false, "resolved": false, "satisfaction": 2}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // 戊: closed, rated, then reopened (its rating and closure go away).
    step(
        &app,
        &butler,
        &ids[4],
        json!({"action": "resolve", "note": "处理"}),
    )
    .await;
    step(&app, &staff, &ids[4], json!({"action": "verify_pass"})).await;
    let (s, _) = app
        .post(
            &format!("/api/v1/demands/{}/rating", ids[4]),
            &r1,
            json!({"contacted": true, "resolved": true, "satisfaction": 4}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    check_everywhere(&app).await;
    step(
        &app,
        &r1,
        &ids[4],
        json!({"action": "reopen", "note": "又坏了"}),
    )
    .await;
    // A duplicate merged, a rejection.
    let dup = app.file_demand(&r2, "重复").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    step(
        &app,
        &staff,
        &dup,
        json!({"action": "merge", "into": ids[3]}),
    )
    .await;
    let rej = app.file_demand(&r2, "不予受理").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    step(
        &app,
        &staff,
        &rej,
        json!({"action": "reject", "note": "不属于物业范围"}),
    )
    .await;
    // A dispute closed by mediation in the other compound.
    let (s, v) = app
        .post("/api/v1/demands", &r3, json!({"category": "neighbour_dispute", "title": "楼上漏水纠纷", "description": "楼上漏水,双方争执"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let dispute = v["id"].as_str().unwrap().to_string();
    let (s, v) = app
        .post(
            "/api/v1/mediation/cases",
            &fh,
            json!({"title": "漏水纠纷调解", "summary": "上下楼漏水纠纷", "demand_id": dispute}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let case = v["id"].as_str().unwrap().to_string();
    let (s, v) = app
        .post(
            &format!("/api/v1/mediation/cases/{case}/outcome"),
            &fh,
            json!({"kind": "agreement", "agreement_text": "楼上负责维修"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    check_everywhere(&app).await;
    let escalated_before = whole_city(&app).await.escalated;
    app.clock.advance_ms(3 * 86_400_000);
    // Clear the overdue flags so the sweep escalates again, keeping the
    // rollups (the open counters count the flags) in step, as a workflow
    // change would.
    let flagged: Vec<String> = sqlx::query("SELECT id FROM demands WHERE overdue = 1")
        .fetch_all(app.ctx.db.reader())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for id in flagged {
        let mut tx = app.ctx.db.begin().await.unwrap();
        let before = cases::store::get_demand_tx(&mut tx, &id)
            .await
            .unwrap()
            .unwrap();
        sqlx::query("UPDATE demands SET overdue = 0 WHERE id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await
            .unwrap();
        let after = cases::store::get_demand_tx(&mut tx, &id)
            .await
            .unwrap()
            .unwrap();
        cases::rollup::apply(&mut tx, Some(&before), &after)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let again = cases::flow::sweep(&app.ctx).await.unwrap();
    assert!(again.escalated >= 1, "escalated again: {}", again.escalated);
    check_everywhere(&app).await;
    let all = whole_city(&app).await;
    let r = sqlx::query(
        "SELECT COUNT(*), COUNT(DISTINCT demand_id) FROM demand_events WHERE action = 'escalate'",
    )
    .fetch_one(app.ctx.db.reader())
    .await
    .unwrap();
    let (events, demands): (i64, i64) = (r.get(0), r.get(1));
    assert!(
        events > demands && demands >= escalated_before,
        "some demand was escalated twice: {events} escalations of {demands} demands"
    );
    assert_eq!(
        all.escalated, demands,
        "a demand escalated twice counts once"
    );
    assert!(all.escalated >= 1 && all.fed_back_late >= 1, "{all:?}");

    // A rebuild from scratch lands on the same numbers.
    let before = whole_city(&app).await;
    let open_before = open_rolled(&app, "/141100/").await;
    let months_before = monthly_rolled(&app).await;
    assert!(!open_before.is_empty() && !months_before.is_empty());
    cases::rollup::rebuild(&app.ctx.db).await.unwrap();
    let after = whole_city(&app).await;
    assert_eq!(before, after);
    assert_eq!(open_before, open_rolled(&app, "/141100/").await);
    assert_eq!(months_before, monthly_rolled(&app).await);
    check_everywhere(&app).await;
    assert!(
        after.rated >= 3 && after.handled >= 5 && after.rework >= 1,
        "{after:?}"
    );
}
