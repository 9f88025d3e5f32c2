//! The case workflow over HTTP: the path from filing to rating, refusals
//! that change nothing, racing staff, deadlines on the working calendar,
//! escalation, merge, reopen, support, attachments.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Shanghai local time → Unix ms.
fn at(s: &str) -> i64 {
    kernel::clock::from_rfc3339(&format!("{s}+08:00")).unwrap()
}

async fn act(app: &TestApp, token: &str, id: &str, body: Value) -> (StatusCode, Value) {
    app.post(&format!("/api/v1/demands/{id}/transitions"), token, body)
        .await
}

async fn ok(app: &TestApp, token: &str, id: &str, body: Value) -> Value {
    let (s, v) = act(app, token, id, body.clone()).await;
    assert_eq!(s, StatusCode::OK, "{body} → {v}");
    v
}

async fn file(app: &TestApp, token: &str, category: &str) -> String {
    let (s, v) = app
        .post("/api/v1/demands", token, json!({"category": category, "title": "测试诉求", "description": "用于测试办理流程的诉求"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_str().unwrap().to_string()
}

async fn user_id(app: &TestApp, login: &str) -> String {
    accounts::store::find_user_by_login(&app.ctx.db, &app.ctx.cipher, login)
        .await
        .unwrap()
        .unwrap()
        .id
}

#[tokio::test]
async fn from_filing_to_rating_with_a_rework() {
    let app = spawn_app().await;
    let resident = app.token("13800000001").await;
    let community = app.token("community-zq").await;
    let butler = app.token("butler-xc").await;
    let id = file(&app, &resident, "leak").await;

    let v = ok(&app, &community, &id, json!({"action": "accept"})).await;
    assert_eq!(v["status"], "accepted");
    assert!(v["allowed_actions"]
        .as_array()
        .unwrap()
        .contains(&json!("dispatch")));
    // Auto-routing: a leak goes to the compound's butler.
    let v = ok(&app, &community, &id, json!({"action": "dispatch"})).await;
    assert_eq!(v["status"], "dispatched");
    assert_eq!(v["assignee_id"], user_id(&app, "butler-xc").await);
    assert!(v["feedback_deadline"].is_string());

    // The butler finds it in the inbox and works it.
    let (_, inbox) = app.get("/api/v1/demands/inbox", &butler).await;
    assert!(inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["id"] == id.as_str()));
    ok(&app, &butler, &id, json!({"action": "start"})).await;
    let v = ok(
        &app,
        &butler,
        &id,
        json!({"action": "resolve", "note": "已更换漏水的水管接头"}),
    )
    .await;
    assert_eq!(v["status"], "resolved");

    // Verification fails once: back to rework, counted.
    let v = ok(
        &app,
        &community,
        &id,
        json!({"action": "verify_fail", "note": "居民反映仍在渗水"}),
    )
    .await;
    assert_eq!(v["status"], "rework");
    assert_eq!(v["rework_count"], 1);
    ok(
        &app,
        &butler,
        &id,
        json!({"action": "resolve", "note": "重新做了防水"}),
    )
    .await;
    let v = ok(&app, &community, &id, json!({"action": "verify_pass"})).await;
    assert_eq!(v["status"], "closed");
    assert_eq!(v["closed_on_time"], true);

    // The return visit, once.
    let body = json!({"contacted": true, "resolved": true, "satisfaction": 5, "comment": "很满意"});
    let (s, v) = app
        .post(
            &format!("/api/v1/demands/{id}/rating"),
            &resident,
            body.clone(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["rating"]["satisfaction"], 5);
    assert_eq!(v["rating"]["source"], "resident");
    let (s, v) = app
        .post(&format!("/api/v1/demands/{id}/rating"), &resident, body)
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_rated"))
    );

    // Every step is an immutable event with its actor.
    let (_, d) = app.get(&format!("/api/v1/demands/{id}"), &resident).await;
    let actions: Vec<&str> = d["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "submit",
            "accept",
            "dispatch",
            "start",
            "resolve",
            "verify_fail",
            "resolve",
            "verify_pass",
            "rate"
        ]
    );
    assert_eq!(d["events"][4]["note"], "已更换漏水的水管接头");
    assert_eq!(d["events"][4]["actor"], "赵晓东");
}

#[tokio::test]
async fn refusals_change_nothing() {
    let app = spawn_app().await;
    let resident = app.token("13800000001").await;
    let butler = app.token("butler-xc").await;
    let community = app.token("community-zq").await;
    let id = file(&app, &resident, "leak").await;
    let before = app
        .get(&format!("/api/v1/demands/{id}"), &community)
        .await
        .1;

    // Wrong actor: 403.
    let (s, _) = act(&app, &butler, &id, json!({"action": "accept"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = act(&app, &resident, &id, json!({"action": "accept"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Wrong state: 409.
    let (s, v) = act(&app, &community, &id, json!({"action": "verify_pass"})).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("invalid_transition"))
    );
    // A required note is missing: 422.
    let (s, v) = act(&app, &community, &id, json!({"action": "reject"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(v["fields"]["note"].is_array());
    // Unknown action, unknown field: 422.
    let (s, _) = act(&app, &community, &id, json!({"action": "teleport"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = act(
        &app,
        &community,
        &id,
        json!({"action": "accept", "status": "closed"}),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "mass assignment is refused"
    );
    // Out of scope: 404.
    let other = app.token("property-fh").await;
    let (s, _) = act(&app, &other, &id, json!({"action": "accept"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A stale version: 409.
    let (s, v) = act(
        &app,
        &community,
        &id,
        json!({"action": "accept", "version": 99}),
    )
    .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("version_conflict"))
    );

    let after = app
        .get(&format!("/api/v1/demands/{id}"), &community)
        .await
        .1;
    assert_eq!(before, after, "nothing changed");
}

#[tokio::test]
async fn of_two_racing_staff_exactly_one_wins() {
    let app = spawn_app().await;
    let resident = app.token("13800000001").await;
    let a = app.token("community-zq").await;
    let b = app.token("street-cb").await;
    for _ in 0..5 {
        let id = file(&app, &resident, "leak").await;
        let (ra, rb) = tokio::join!(
            act(&app, &a, &id, json!({"action": "accept", "version": 1})),
            act(&app, &b, &id, json!({"action": "accept", "version": 1}))
        );
        let mut codes = [ra.0, rb.0];
        codes.sort();
        assert_eq!(codes, [StatusCode::OK, StatusCode::CONFLICT]);
        let (_, d) = app.get(&format!("/api/v1/demands/{id}"), &a).await;
        let accepts = d["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "accept")
            .count();
        assert_eq!(accepts, 1);
    }
}

#[tokio::test]
async fn deadlines_follow_the_working_calendar() {
    let app = spawn_app().await;
    let resident = app.token("13800000001").await;
    // A leak is "high": 120 office minutes to dispatch (08:30–12:00, 14:30–18:00).
    for (filed, due) in [
        // Friday 17:00 → 60 min Friday + 60 min Monday.
        ("2026-03-13T17:00:00", "2026-03-16T09:30:00+08:00"),
        // 清明: Monday 4/6 is a holiday → Tuesday.
        ("2026-04-03T17:00:00", "2026-04-07T09:30:00+08:00"),
        // 调休: Saturday 2/28 is a working day.
        ("2026-02-27T17:00:00", "2026-02-28T09:30:00+08:00"),
        // The lunch break does not count.
        ("2026-03-11T11:30:00", "2026-03-11T16:00:00+08:00"),
    ] {
        app.clock.set_ms(at(filed));
        let id = file(&app, &resident, "leak").await;
        let (_, d) = app.get(&format!("/api/v1/demands/{id}"), &resident).await;
        assert_eq!(d["dispatch_deadline"], due, "filed {filed}");
    }
    // An urgent lift fault runs round the clock: 60 natural minutes.
    app.clock.set_ms(at("2026-03-14T23:30:00"));
    let id = file(&app, &resident, "elevator").await;
    let (_, d) = app.get(&format!("/api/v1/demands/{id}"), &resident).await;
    assert_eq!(d["dispatch_deadline"], "2026-03-15T00:30:00+08:00");
}

#[tokio::test]
async fn suspension_stops_the_clock_and_extension_moves_it() {
    let app = spawn_app().await;
    let resident = app.token("13800000001").await;
    let community = app.token("community-zq").await;
    app.clock.set_ms(at("2026-03-09T09:00:00")); // Monday
    let id = file(&app, &resident, "noise").await; // normal: 5 working days to feed back
    ok(&app, &community, &id, json!({"action": "accept"})).await;
    let v = ok(&app, &community, &id, json!({"action": "dispatch"})).await;
    // 5 × 420 min from Monday 09:00 → the next Monday 09:00.
    assert_eq!(v["feedback_deadline"], "2026-03-16T09:00:00+08:00");

    // Suspended Tuesday 09:00 with 4 working days left; resumed on Thursday
    // 09:00: the four days start again from there → Wednesday 09:00.
    app.clock.set_ms(at("2026-03-10T09:00:00"));
    let v = ok(
        &app,
        &community,
        &id,
        json!({"action": "suspend", "note": "等待业主回家开门"}),
    )
    .await;
    assert_eq!(v["status"], "suspended");
    app.clock.set_ms(at("2026-03-12T09:00:00"));
    let v = ok(&app, &community, &id, json!({"action": "resume"})).await;
    assert_eq!(v["status"], "dispatched", "back to where it was");
    assert_eq!(v["feedback_deadline"], "2026-03-18T09:00:00+08:00");

    // An approved extension of one working day (420 min).
    let v = ok(
        &app,
        &community,
        &id,
        json!({"action": "extend", "note": "需要采购配件", "extend_minutes": 420}),
    )
    .await;
    assert_eq!(v["feedback_deadline"], "2026-03-19T09:00:00+08:00");
    let (s, _) = act(
        &app,
        &community,
        &id,
        json!({"action": "extend", "note": "x", "extend_minutes": 0}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn overdue_demands_escalate_one_level_up() {
    let app = spawn_app().await;
    let resident = app.token("13800000001").await;
    app.clock.set_ms(at("2026-03-09T09:00:00"));
    let id = file(&app, &resident, "leak").await; // dispatch due 11:00
    app.clock.set_ms(at("2026-03-09T11:01:00"));
    let r = cases::flow::sweep(&app.ctx).await.unwrap();
    assert!(r.escalated >= 1);
    let staff = app.token("street-cb").await;
    let (_, d) = app.get(&format!("/api/v1/demands/{id}"), &staff).await;
    assert_eq!(d["overdue"], true);
    assert_eq!(d["escalation_level"], 1);
    assert_eq!(
        d["escalated_to"], ZHANQIAN,
        "from the compound up to its community"
    );
    let last = d["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "escalate");
    assert!(last["actor"].is_null(), "the system escalated it");
    // The next sweep does not escalate it again.
    cases::flow::sweep(&app.ctx).await.unwrap();
    let (_, d) = app.get(&format!("/api/v1/demands/{id}"), &staff).await;
    assert_eq!(d["escalation_level"], 1);
    // A supervisor escalates further by hand: to the street.
    let v = ok(
        &app,
        &staff,
        &id,
        json!({"action": "escalate", "note": "街道督办"}),
    )
    .await;
    assert_eq!(v["escalated_to"], "/141100/141102/141102003/");
}

#[tokio::test]
async fn merged_duplicates_follow_the_main_demand_and_get_the_return_visit() {
    let app = spawn_app().await;
    let r1 = app.token("13800000001").await;
    let r2 = app.token("13800000002").await;
    let community = app.token("community-zq").await;
    let butler = app.token("butler-xc").await;
    let main = file(&app, &r1, "access").await;
    let dup = file(&app, &r2, "access").await;
    let v = ok(
        &app,
        &community,
        &dup,
        json!({"action": "merge", "into": main}),
    )
    .await;
    assert_eq!(v["status"], "merged");
    assert_eq!(v["merged_into"], main.as_str());
    let (s, _) = act(
        &app,
        &community,
        &main,
        json!({"action": "merge", "into": main}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "not into itself");

    // Rating the duplicate waits for the main one's outcome.
    let rating = json!({"contacted": true, "resolved": true, "satisfaction": 4});
    let (s, _) = app
        .post(
            &format!("/api/v1/demands/{dup}/rating"),
            &r2,
            rating.clone(),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    for (t, body) in [
        (&community, json!({"action": "accept"})),
        (&community, json!({"action": "dispatch"})),
        (&butler, json!({"action": "start"})),
        (
            &butler,
            json!({"action": "resolve", "note": "门禁主板已更换"}),
        ),
    ] {
        ok(&app, t, &main, body).await;
    }
    let (s, v) = app
        .post(&format!("/api/v1/demands/{dup}/rating"), &r2, rating)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

async fn walk_to_closed(app: &TestApp, id: &str) {
    let community = app.token("community-zq").await;
    let butler = app.token("butler-xc").await;
    ok(app, &community, id, json!({"action": "accept"})).await;
    ok(app, &community, id, json!({"action": "dispatch"})).await;
    ok(app, &butler, id, json!({"action": "start"})).await;
    ok(
        app,
        &butler,
        id,
        json!({"action": "resolve", "note": "已处理"}),
    )
    .await;
    ok(app, &community, id, json!({"action": "verify_pass"})).await;
}

#[tokio::test]
async fn reopen_goes_back_to_the_assignee_within_the_window() {
    let app = spawn_app().await;
    let resident = app.token("13800000001").await;
    let id = file(&app, &resident, "garbage").await;
    walk_to_closed(&app, &id).await;
    app.clock.advance_ms(6 * 86_400_000);
    // Sessions idle out over days: log in again.
    let (resident, butler) = (app.token("13800000001").await, app.token("butler-xc").await);
    let (s, _) = act(
        &app,
        &butler,
        &id,
        json!({"action": "reopen", "note": "又满了"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "only the resident reopens");
    let v = ok(
        &app,
        &resident,
        &id,
        json!({"action": "reopen", "note": "垃圾又堆满了"}),
    )
    .await;
    assert_eq!(v["status"], "dispatched");
    assert_eq!(v["assignee_id"], user_id(&app, "butler-xc").await);

    let id = file(&app, &resident, "garbage").await;
    walk_to_closed(&app, &id).await;
    app.clock.advance_ms(8 * 86_400_000);
    let resident = app.token("13800000001").await;
    let (s, v) = act(
        &app,
        &resident,
        &id,
        json!({"action": "reopen", "note": "又满了"}),
    )
    .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("reopen_window_passed"))
    );
}

#[tokio::test]
async fn rating_rules() {
    let app = spawn_app().await;
    let resident = app.token("13800000001").await;
    let other = app.token("13800000003").await;
    let community = app.token("community-zq").await;
    let id = file(&app, &resident, "leak").await;
    let good =
        json!({"contacted": true, "resolved": false, "satisfaction": 2, "comment": "还没修好"});
    let (s, v) = app
        .post(
            &format!("/api/v1/demands/{id}/rating"),
            &resident,
            good.clone(),
        )
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("not_ready_for_rating"))
    );
    let (s, _) = app
        .post(
            &format!("/api/v1/demands/{id}/rating"),
            &other,
            good.clone(),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "someone else's demand");
    let (s, v) = app
        .post(
            &format!("/api/v1/demands/{id}/rating"),
            &resident,
            json!({"contacted": true, "resolved": true, "satisfaction": 6}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(v["fields"]["satisfaction"].is_array());

    // Staff record a phone return visit on the seeded, resolved-and-closed demand? It is
    // already rated; use a fresh one carried to resolved.
    let butler = app.token("butler-xc").await;
    for (t, body) in [
        (&community, json!({"action": "accept"})),
        (&community, json!({"action": "dispatch"})),
        (&butler, json!({"action": "start"})),
        (&butler, json!({"action": "resolve", "note": "已修"})),
    ] {
        ok(&app, t, &id, body).await;
    }
    let (s, v) = app
        .post(&format!("/api/v1/demands/{id}/rating"), &community, good)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["rating"]["source"], "phone");
}

#[tokio::test]
async fn neighbours_say_me_too_instead_of_filing_twice() {
    let app = spawn_app().await;
    let r1 = app.token("13800000001").await;
    let r2 = app.token("13800000002").await;
    let r3 = app.token("13800000003").await;
    let id = file(&app, &r1, "parking").await;

    let (_, similar) = app
        .get("/api/v1/demands/similar?category=parking", &r2)
        .await;
    let items = similar["items"].as_array().unwrap();
    let hit = items
        .iter()
        .find(|d| d["id"] == id.as_str())
        .expect("a neighbour's open demand is shown");
    assert!(
        hit.get("household_id").is_none() && hit.get("org_path").is_none(),
        "no household in the summary: {hit}"
    );
    let (_, similar) = app.get("/api/v1/demands/similar", &r3).await;
    assert!(
        !similar["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["id"] == id.as_str()),
        "another compound sees nothing"
    );

    let (s, v) = app
        .post(&format!("/api/v1/demands/{id}/support"), &r2, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["support_count"], 1);
    let (s, v) = app
        .post(&format!("/api/v1/demands/{id}/support"), &r2, json!({}))
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_supported"))
    );
    let (s, _) = app
        .post(&format!("/api/v1/demands/{id}/support"), &r3, json!({}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .post(&format!("/api/v1/demands/{id}/support"), &r1, json!({}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "not one's own demand");
}

#[tokio::test]
async fn dispatch_overrides_and_fallbacks() {
    let app = spawn_app().await;
    let resident = app.token("13800000001").await;
    let community = app.token("community-zq").await;
    let id = file(&app, &resident, "leak").await;
    ok(&app, &community, &id, json!({"action": "accept"})).await;
    // An assignee outside the compound is refused.
    let fh = user_id(&app, "property-fh").await;
    let (s, v) = act(
        &app,
        &community,
        &id,
        json!({"action": "dispatch", "assignee": fh}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    // Lead unit and co-unit.
    let lead = user_id(&app, "property-xc").await;
    let co = user_id(&app, "butler-xc").await;
    let v = ok(
        &app,
        &community,
        &id,
        json!({"action": "dispatch", "assignee": lead, "co_assignees": [co]}),
    )
    .await;
    assert_eq!(v["assignee_id"], lead.as_str());
    let butler = app.token("butler-xc").await;
    let (s, _) = act(&app, &butler, &id, json!({"action": "start"})).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a co-unit does not take the lead's steps"
    );
    let (s, _) = act(
        &app,
        &butler,
        &id,
        json!({"action": "comment", "note": "已到现场查看"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "but adds to the record");

    // 属地兜底: a village with no property service falls to the village staff.
    let village = app.token("village-xmz").await;
    let home = app
        .node_id("/141100/141125/141125104/141125104201/G1/08/")
        .await;
    let (s, v) = app
        .post("/api/v1/demands", &village, json!({"category": "leak", "title": "院里水管冻裂", "description": "8号院水管冻裂漏水", "household_id": home}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let vid = v["id"].as_str().unwrap().to_string();
    ok(&app, &village, &vid, json!({"action": "accept"})).await;
    let v = ok(&app, &village, &vid, json!({"action": "dispatch"})).await;
    assert_eq!(v["assignee_id"], user_id(&app, "village-xmz").await);
}

#[tokio::test]
async fn photos_are_checked_and_stay_in_scope() {
    let app = spawn_app().await;
    let resident = app.token("13800000001").await;
    let id = file(&app, &resident, "leak").await;
    let png: Vec<u8> = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"
        .iter()
        .copied()
        .chain(std::iter::repeat_n(0u8, 100))
        .collect();
    let upload = |bytes: Vec<u8>, name: &'static str, token: String| {
        let app = &app;
        let id = id.clone();
        async move {
            let part = reqwest::multipart::Part::bytes(bytes).file_name(name);
            let form = reqwest::multipart::Form::new().part("file", part);
            let r = app
                .client
                .post(app.url(&format!("/api/v1/demands/{id}/attachments")))
                .bearer_auth(token)
                .multipart(form)
                .send()
                .await
                .unwrap();
            let s = r.status();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (s, v) = upload(png.clone(), "leak.png", resident.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let url = v["url"].as_str().unwrap().to_string();
    let photo_id = v["id"].as_str().unwrap().to_string();
    // A step can carry the photo: it is recorded on that event.
    let (s, v) = act(
        &app,
        &resident,
        &id,
        json!({"action": "comment", "note": "补充照片", "attachments": [photo_id]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let last = v["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["detail"]["attachments"][0], photo_id.as_str());
    let (s, _) = act(
        &app,
        &resident,
        &id,
        json!({"action": "comment", "note": "x", "attachments": [kernel::id::new_id()]}),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a photo of another demand or none"
    );
    let r = app
        .client
        .get(app.url(&url))
        .bearer_auth(&resident)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.unwrap().to_vec(), png);
    let other = app.token("13800000003").await;
    let r = app
        .client
        .get(app.url(&url))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let (s, v) = upload(
        b"<svg onload=alert(1)></svg>".to_vec(),
        "x.png",
        resident.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let big: Vec<u8> = png
        .iter()
        .copied()
        .chain(std::iter::repeat_n(0u8, 6 * 1024 * 1024))
        .collect();
    let (s, _) = upload(big, "big.png", resident.clone()).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    let (s, _) = upload(png, "x.png", other).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn categories_are_edited_by_admins_only() {
    let app = spawn_app().await;
    let district = app.token("district-ls").await;
    let community = app.token("community-zq").await;
    let body = json!({"name": "漏水", "name_en": "Water leak", "default_handler_role": "property_staff", "default_urgency": "urgent",
                      "limits": {"urgent": {"dispatch_minutes": 30, "feedback_minutes": 240}}});
    let r = app
        .client
        .put(app.url("/api/v1/demand-categories/leak"))
        .bearer_auth(&community)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app
        .client
        .put(app.url("/api/v1/demand-categories/leak"))
        .bearer_auth(&district)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["default_urgency"], "urgent");
    assert_eq!(v["limits"]["urgent"]["dispatch_minutes"], 30);
    // New demands use it.
    let resident = app.token("13800000001").await;
    app.clock.set_ms(at("2026-03-14T23:00:00"));
    let id = file(&app, &resident, "leak").await;
    let (_, d) = app.get(&format!("/api/v1/demands/{id}"), &resident).await;
    assert_eq!(d["urgency"], "urgent");
    assert_eq!(d["dispatch_deadline"], "2026-03-14T23:30:00+08:00");
    let bad = json!({"name": "", "name_en": "x", "default_handler_role": "auditor", "default_urgency": "soon", "limits": {"urgent": {"dispatch_minutes": 0, "feedback_minutes": 1}}});
    let r = app
        .client
        .put(app.url("/api/v1/demand-categories/leak"))
        .bearer_auth(&district)
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = r.json().await.unwrap();
    for f in [
        "name",
        "default_handler_role",
        "default_urgency",
        "limits.urgent",
    ] {
        assert!(v["fields"][f].is_array(), "{f}: {v}");
    }
}

#[tokio::test]
async fn unrated_demands_count_as_configured() {
    let app = spawn_app().await;
    let resident = app.token("13800000001").await;
    let id = file(&app, &resident, "garbage").await;
    walk_to_closed(&app, &id).await;
    app.clock.advance_ms(8 * 86_400_000);

    // Default policy: left unrated (out of the rated count).
    cases::flow::sweep(&app.ctx).await.unwrap();
    assert!(cases::store::get_demand(&app.ctx.db, &id)
        .await
        .unwrap()
        .unwrap()
        .rating
        .is_none());

    // 默认满意: after the configured days, it counts as satisfied.
    let ctx = kernel::Ctx::new(kernel::ctx::CtxParts {
        settings: std::sync::Arc::new(kernel::Settings {
            unrated_counts_as_satisfied: true,
            ..(*app.ctx.settings).clone()
        }),
        ..(*app.ctx).clone()
    });
    let r = cases::flow::sweep(&ctx).await.unwrap();
    assert!(r.default_rated >= 1);
    let d = cases::store::get_demand(&app.ctx.db, &id)
        .await
        .unwrap()
        .unwrap();
    let rating = d.rating.expect("default rating");
    assert_eq!(
        (rating.satisfaction, rating.source.as_str()),
        (5, "default")
    );
}

#[tokio::test]
async fn grid_workers_file_through_the_grid_channel() {
    let app = spawn_app().await;
    let community = app.token("community-zq").await;
    let hh = app.node_id(XC_101).await;
    let (s, v) = app
        .post("/api/v1/demands", &community, json!({"category": "sanitation", "title": "楼道堆物", "description": "楼道里堆满了杂物", "household_id": hh}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(v["channel"], "phone");
    let grid = app.token("grid-cz").await;
    let (s, _) = app
        .post("/api/v1/demands", &grid, json!({"category": "sanitation", "title": "楼道堆物", "description": "楼道里堆满了杂物", "household_id": hh}))
        .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "not in the grid worker's area"
    );
    let home = app
        .node_id("/141100/141124/141124102/141124102200/G1/03/")
        .await;
    let (s, v) = app
        .post("/api/v1/demands", &grid, json!({"category": "sanitation", "title": "村道垃圾", "description": "村口垃圾堆放多日", "household_id": home}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["channel"], "grid");
}

#[tokio::test]
async fn a_malformed_upload_gets_the_contract_error() {
    let app = spawn_app().await;
    let resident = app.token("13800000001").await;
    let id = file(&app, &resident, "leak").await;
    let r = app
        .client
        .post(app.url(&format!("/api/v1/demands/{id}/attachments")))
        .bearer_auth(&resident)
        .header("content-type", "multipart/form-data")
        .body("no boundary here")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "invalid_multipart");
}
