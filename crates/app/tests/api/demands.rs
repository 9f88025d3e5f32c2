//! The first demand path: file, list in scope, read with the timeline.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn categories_are_served_with_their_limits() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/api/v1/demand-categories"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: serde_json::Value = r.json().await.unwrap();
    let items = v["items"].as_array().unwrap();
    let leak = items.iter().find(|c| c["code"] == "leak").unwrap();
    assert_eq!(leak["name"], "漏水");
    assert_eq!(leak["default_urgency"], "high");
    assert_eq!(leak["dispatch_limit_minutes"], 120);
    assert_eq!(leak["limits"]["urgent"]["dispatch_minutes"], 60);
    assert_eq!(leak["limits"]["urgent"]["feedback_minutes"], 120);
    assert_eq!(leak["limits"]["urgent"]["natural_clock"], true);
    assert_eq!(leak["limits"]["low"]["natural_clock"], false);
    assert!(v["next_cursor"].is_null());
}

#[tokio::test]
async fn a_resident_files_for_their_household() {
    let app = spawn_app().await;
    let t = app.token("13800000001").await;
    let before = app.count("demands").await;
    let (s, v) = app
        .post(
            "/api/v1/demands",
            &t,
            json!({"category": "elevator", "title": "电梯异响", "description": "1号楼电梯运行时有异响,担心安全", "location": "1号楼电梯", "anonymous": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "submitted");
    assert_eq!(v["channel"], "web");
    assert_eq!(v["org_path"], XC_101);
    assert_eq!(v["anonymous"], true);
    assert_eq!(
        v["building_id"],
        app.node_id("/141100/141102/141102003/141102003001/XC/B1/")
            .await
    );
    assert!(v["created_at"].as_str().unwrap().ends_with("+08:00"));
    assert_eq!(app.count("demands").await, before + 1);
    assert_eq!(app.audit_actions().await.last().unwrap(), "demand_created");

    let (s, d) = app
        .get(
            &format!("/api/v1/demands/{}", v["id"].as_str().unwrap()),
            &t,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let events = d["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["to_status"], "submitted");
    assert_eq!(events[0]["actor"], "樊一新");
}

#[tokio::test]
async fn staff_file_on_a_residents_behalf_by_phone() {
    let app = spawn_app().await;
    let t = app.token("butler-xc").await;
    let hh = app.node_id(XC2_101).await;
    let (s, v) = app
        .post("/api/v1/demands", &t, json!({"category": "noise", "title": "夜间装修噪音", "description": "楼上夜里十一点还在装修", "household_id": hh}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["channel"], "phone");
    assert_eq!(v["org_path"], XC2_101);
    // The resident of that household sees it in their list.
    let t2 = app.token("13800000002").await;
    let (_, list) = app.get("/api/v1/demands", &t2).await;
    assert!(list["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["id"] == v["id"]));

    // Staff must name a household, and only one in their scope.
    let (s, v) = app
        .post(
            "/api/v1/demands",
            &t,
            json!({"category": "noise", "title": "夜间噪音", "description": "楼上夜里还在装修"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(v["fields"]["household_id"].is_array());
    let fh = app.node_id(FH_301).await;
    let before = app.count("demands").await;
    let (s, v) = app.post("/api/v1/demands", &t, json!({"category": "noise", "title": "夜间噪音", "description": "楼上夜里还在装修", "household_id": fh})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(v["fields"]["household_id"].is_array());
    assert_eq!(app.count("demands").await, before);
}

#[tokio::test]
async fn a_building_must_be_in_the_residents_compound() {
    let app = spawn_app().await;
    let t = app.token("13800000001").await;
    let b2 = app
        .node_id("/141100/141102/141102003/141102003001/XC/B2/")
        .await;
    let (s, v) = app.post("/api/v1/demands", &t, json!({"category": "garbage", "title": "2号楼垃圾", "description": "2号楼门口垃圾满了", "building_id": b2})).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(v["building_id"], b2);
    let fh_b3 = app
        .node_id("/141100/141102/141102002/141102002003/FH/B3/")
        .await;
    let (s, v) = app.post("/api/v1/demands", &t, json!({"category": "garbage", "title": "别的小区", "description": "别的小区的垃圾满了", "building_id": fh_b3})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(v["fields"]["building_id"].is_array());
}

#[tokio::test]
async fn unknown_category_is_a_field_error() {
    let app = spawn_app().await;
    let t = app.token("13800000001").await;
    let (s, v) = app
        .post(
            "/api/v1/demands",
            &t,
            json!({"category": "ufo", "title": "外星人", "description": "小区上空有不明飞行物"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["fields"]["category"][0], "类别不存在");
}

#[tokio::test]
async fn staff_without_case_roles_cannot_file() {
    let app = spawn_app().await;
    let t = app.token("auditor").await;
    let hh = app.node_id(XC_101).await;
    let before = app.count("demands").await;
    let (s, _) = app.post("/api/v1/demands", &t, json!({"category": "leak", "title": "审计员", "description": "审计员不能代为反映", "household_id": hh})).await;
    // Refused for the role (#9: before the body is looked at), nothing written.
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(app.count("demands").await, before);
}

#[tokio::test]
async fn lists_page_and_filter() {
    let app = spawn_app().await;
    let t = app.token("13800000001").await;
    for i in 0..5 {
        app.file_demand(&t, &format!("分页测试{i}")).await;
    }
    let staff = app.token("community-zq").await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/demands?limit=2&cursor={c}"),
            None => "/api/v1/demands?limit=2".to_string(),
        };
        let (s, v) = app.get(&path, &staff).await;
        assert_eq!(s, StatusCode::OK);
        let items = v["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|d| d["id"].as_str().unwrap().to_string()));
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let mut dedup = seen.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), seen.len(), "no row twice");
    assert_eq!(seen.len(), 5 + 3, "five new plus three seeded in 站前社区");
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest first");

    // A resident's own list (their household matched exactly, see
    // cases::store::ListFilter::households_only) pages the same way, and
    // holds what staff see of that household, in the same order.
    let walk = |token: String, limit: usize| {
        let app = &app;
        async move {
            let mut seen: Vec<serde_json::Value> = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let path = match &cursor {
                    Some(c) => format!("/api/v1/demands?limit={limit}&cursor={c}"),
                    None => format!("/api/v1/demands?limit={limit}"),
                };
                let (s, v) = app.get(&path, &token).await;
                assert_eq!(s, StatusCode::OK);
                seen.extend(v["items"].as_array().unwrap().iter().cloned());
                match v["next_cursor"].as_str() {
                    Some(c) => cursor = Some(c.to_string()),
                    None => break,
                }
            }
            seen
        }
    };
    let own = walk(t.clone(), 2).await;
    assert!(own.len() >= 5, "the five filed above at least");
    let household = own[0]["household_id"].clone();
    assert!(own.iter().all(|d| d["household_id"] == household));
    let ids = |v: &[serde_json::Value]| -> Vec<String> {
        v.iter()
            .map(|d| d["id"].as_str().unwrap().to_string())
            .collect()
    };
    let of_household: Vec<serde_json::Value> = walk(staff.clone(), 100)
        .await
        .into_iter()
        .filter(|d| d["household_id"] == household)
        .collect();
    assert_eq!(ids(&own), ids(&of_household));

    let (_, v) = app.get("/api/v1/demands?category=garbage", &staff).await;
    assert!(v["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["category"] == "garbage"));
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    let (_, v) = app.get("/api/v1/demands?status=rejected", &staff).await;
    assert!(v["items"].as_array().unwrap().is_empty());
    let (_, v) = app.get("/api/v1/demands?status=closed", &staff).await;
    let closed = v["items"].as_array().unwrap();
    assert_eq!(closed.len(), 1, "the demo's garage lighting demand");
    assert_eq!(closed[0]["title"], "地下车库照明不亮");
}

/// Filings that arrive together are written together (cases::intake): every
/// one is answered with its own demand, the audit chain stays intact with
/// one row each, and the filings rollup counts each once.
#[tokio::test]
async fn filings_at_the_same_moment_are_each_written_and_chained() {
    let app = spawn_app().await;
    let residents = ["13800000001", "13800000002", "13800000003"];
    let mut tokens = Vec::new();
    for r in residents {
        tokens.push(app.token(r).await);
    }
    let demands_before = app.count("demands").await;
    let audit_before = app.count("audit_events").await;
    let outbox_before = app.count("notify_outbox").await;
    let filed_before = filings_total(&app).await;
    let mut tasks = Vec::new();
    for i in 0..60 {
        let (client, url, token) = (
            app.client.clone(),
            app.url("/api/v1/demands"),
            tokens[i % tokens.len()].clone(),
        );
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"category": "elevator", "title": format!("并发报修 {i}"), "description": "同一时刻提交的诉求"}))
                .send()
                .await
                .unwrap();
            let status = r.status();
            let v: serde_json::Value = r.json().await.unwrap();
            (status, v)
        }));
    }
    let mut ids = std::collections::BTreeSet::new();
    let mut answers = Vec::new();
    for t in tasks {
        let (status, v) = t.await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{v}");
        assert!(v["title"].as_str().unwrap().starts_with("并发报修"));
        ids.insert(v["id"].as_str().unwrap().to_string());
        answers.push(v);
    }
    assert_eq!(ids.len(), 60, "every filing has its own demand");
    assert_eq!(app.count("demands").await, demands_before + 60);
    assert_eq!(app.count("audit_events").await, audit_before + 60);
    assert_eq!(app.count("notify_outbox").await, outbox_before + 60);
    assert_eq!(filings_total(&app).await, filed_before + 60);
    let verified = kernel::audit::verify(&app.ctx.db).await.unwrap();
    assert_eq!(verified, Ok(audit_before + 60), "the chain is intact");
    // Each answer is the demand as stored (the row is not read back after
    // the insert): the first resident's filings, field by field.
    for (i, v) in answers.iter().enumerate().filter(|(i, _)| i % 3 == 0) {
        let (s, mut d) = app
            .get(
                &format!("/api/v1/demands/{}", v["id"].as_str().unwrap()),
                &tokens[0],
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{i}: {d}");
        let d = d.as_object_mut().unwrap();
        d.remove("events");
        d.remove("allowed_actions");
        let mut v = v.as_object().unwrap().clone();
        v.remove("events");
        v.remove("allowed_actions");
        assert_eq!(
            serde_json::Value::Object(v),
            serde_json::Value::Object(d.clone())
        );
    }
}

/// The household-level sum of the filings rollup over all days.
async fn filings_total(app: &TestApp) -> i64 {
    use sqlx::Row;
    sqlx::query(
        "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM demand_filings WHERE node_path LIKE '%/' AND node_path IN (SELECT org_path FROM org_nodes WHERE kind = 'household')",
    )
    .fetch_one(app.ctx.db.reader())
    .await
    .unwrap()
    .get(0)
}
