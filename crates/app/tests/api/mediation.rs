//! Dispute mediation (矛盾调解) over HTTP: from a 纠纷 demand to agreement
//! (which closes the demand), the checks on parties and mediators, the scope
//! matrix, wrong states and stale versions, the other outcomes, list filters
//! and paging, and the seed page's case in the demo world.

use crate::helpers::*;
use kernel::clock::to_rfc3339;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashSet;

const CASES: &str = "/api/v1/mediation/cases";
const FH_401: &str = "/141100/141102/141102002/141102002003/FH/B3/U1/401/";
const FH_501: &str = "/141100/141102/141102002/141102002003/FH/B3/U1/501/";
const FH_B3: &str = "/141100/141102/141102002/141102002003/FH/B3/";

async fn user_id(app: &TestApp, login: &str) -> String {
    accounts::store::find_user_by_login(&app.ctx.db, &app.ctx.cipher, login)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no user {login}"))
        .id
}

fn now(app: &TestApp) -> i64 {
    use kernel::clock::Clock;
    app.clock.now_ms()
}

/// An RFC 3339 moment `minutes` before the test clock's now.
fn ago(app: &TestApp, minutes: i64) -> String {
    to_rfc3339(now(app) - minutes * 60_000)
}

async fn file_dispute(app: &TestApp, token: &str) -> String {
    let (s, v) = app
        .post(
            "/api/v1/demands",
            token,
            json!({"category": "neighbour_dispute", "title": "楼上漏水邻里纠纷", "description": "楼上洗衣机下水管道漏水,渗到我家卫生间吊顶,沟通时吵了起来"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_str().unwrap().to_string()
}

/// A standalone case in FH between 301 and 401, opened by branch-fh.
async fn open_fh_case(app: &TestApp, branch: &str, title: &str) -> Value {
    let (s, v) = app
        .post(
            CASES,
            branch,
            json!({
                "title": title,
                "summary": "两户因楼道堆放杂物发生争执,需要上门调解",
                "compound_id": app.node_id(FH).await,
                "parties": [
                    {"household_id": app.node_id(FH_301).await, "role": "applicant"},
                    {"household_id": app.node_id(FH_401).await, "role": "respondent"}
                ]
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

fn session_body(app: &TestApp) -> Value {
    json!({"held_at": ago(app, 60), "place": "3号楼1单元楼道", "notes": "双方到场,各自陈述,情绪平复"})
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_dispute_demand_is_mediated_to_an_agreement_that_closes_it() {
    let app = spawn_app().await;
    let resident = app.token("13800000003").await;
    let branch = app.token("branch-fh").await;
    let demand = file_dispute(&app, &resident).await;
    let before = app.count("mediations").await;

    let (s, v) = app
        .post(
            CASES,
            &branch,
            json!({
                "title": "楼上漏水纠纷调解",
                "summary": "王勇家卫生间吊顶被楼上漏水渗坏,双方言语激烈",
                "demand_id": demand,
                "mediators": [user_id(&app, "branch-fh").await, user_id(&app, "property-fh").await]
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(app.count("mediations").await, before + 1);
    assert_eq!(
        app.audit_actions().await.last().unwrap(),
        "mediation_created"
    );
    assert_eq!(v["status"], "open");
    assert_eq!(v["status_label"], "调解中");
    assert_eq!(v["demand_id"], demand.as_str());
    assert_eq!(v["compound_id"], app.node_id(FH).await);
    assert_eq!(v["compound_name"], "泛华盛世小区");
    assert_eq!(v["org_path"], FH);
    assert!(v["created_at"].as_str().unwrap().ends_with("+08:00"));
    // The demand's household joins as applicant by default.
    let parties = v["parties"].as_array().unwrap();
    assert_eq!(parties.len(), 1, "{v}");
    assert_eq!(parties[0]["household_id"], app.node_id(FH_301).await);
    assert_eq!(parties[0]["role"], "applicant");
    assert_eq!(parties[0]["household_label"], "3号楼 1单元 301室");
    let names: HashSet<&str> = v["mediators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["display_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, HashSet::from(["雷爱珍", "泛华盛世物业 张经理"]));
    let kinds: HashSet<&str> = v["mediators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, HashSet::from(["party_member", "property_staff"]));
    assert_eq!(v["allowed_actions"], json!(["session", "outcome"]));
    let id = id_of(&v);

    // A session.
    let (s, v) = app
        .post(
            &format!("{CASES}/{id}/sessions"),
            &branch,
            session_body(&app),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let sessions = v["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["place"], "3号楼1单元楼道");
    assert_eq!(sessions[0]["recorded_by"], "雷爱珍");
    assert_eq!(v["version"], 2);

    // An agreement needs its text; a refused outcome changes nothing.
    let (s, e) = app
        .post(
            &format!("{CASES}/{id}/outcome"),
            &branch,
            json!({"kind": "agreement"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["fields"]["agreement_text"].is_array(), "{e}");
    let (s, e) = app
        .post(
            &format!("{CASES}/{id}/outcome"),
            &branch,
            json!({"kind": "handshake"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["fields"]["kind"].is_array(), "{e}");
    let (_, d) = app.get(&format!("/api/v1/demands/{demand}"), &branch).await;
    assert_eq!(d["status"], "submitted");

    let (s, v) = app
        .post(
            &format!("{CASES}/{id}/outcome"),
            &branch,
            json!({"kind": "agreement", "agreement_text": "楼上住户负责维修下水管道并承担吊顶修复费用"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "agreed");
    assert_eq!(v["outcome"]["kind"], "agreement");
    assert_eq!(v["outcome"]["label"], "达成调解协议");
    assert_eq!(
        v["outcome"]["agreement_text"],
        "楼上住户负责维修下水管道并承担吊顶修复费用"
    );
    assert_eq!(v["allowed_actions"], json!(["followup", "close"]));

    // The demand is closed, with the mediation on its timeline.
    let (s, d) = app
        .get(&format!("/api/v1/demands/{demand}"), &resident)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(d["status"], "closed", "{d}");
    let events = d["events"].as_array().unwrap();
    let last = events.last().unwrap();
    assert_eq!(last["action"], "mediation_closed");
    assert_eq!(last["to_status"], "closed");
    assert!(
        last["note"].as_str().unwrap().contains("达成协议"),
        "{last}"
    );
    let actions = app.audit_actions().await;
    assert!(actions.contains(&"demand_closed_by_mediation".to_string()));
    assert_eq!(actions.last().unwrap(), "mediation_outcome_recorded");

    // The resident of the party household reads it, but records nothing.
    let (s, r) = app.get(&format!("{CASES}/{id}"), &resident).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["allowed_actions"], json!([]));
    assert_eq!(r["sessions"].as_array().unwrap().len(), 1);
    let (s, _) = app
        .post(
            &format!("{CASES}/{id}/followups"),
            &resident,
            json!({"visited_at": ago(&app, 5), "notes": "已修好"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // A follow-up visit, then closing with an empty POST.
    let (s, v) = app
        .post(
            &format!("{CASES}/{id}/followups"),
            &app.token("property-fh").await,
            json!({"visited_at": ago(&app, 5), "notes": "管道已修好,吊顶已修复,两家和好", "satisfied": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let f = &v["followups"][0];
    assert_eq!(f["satisfied"], true);
    assert_eq!(f["recorded_by"], "泛华盛世物业 张经理");
    let r = app
        .client
        .post(app.url(&format!("{CASES}/{id}/close")))
        .bearer_auth(&branch)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "closed");
    assert!(v["closed_at"].as_str().is_some());
    assert_eq!(v["allowed_actions"], json!([]));
    assert_eq!(
        app.audit_actions().await.last().unwrap(),
        "mediation_closed"
    );

    // Closed is final.
    let sessions = app.count("mediation_sessions").await;
    for (path, body) in [
        ("sessions", session_body(&app)),
        (
            "followups",
            json!({"visited_at": ago(&app, 1), "notes": "再次回访"}),
        ),
        ("close", json!({})),
        ("outcome", json!({"kind": "referred_court", "note": "再议"})),
    ] {
        let (s, e) = app
            .post(&format!("{CASES}/{id}/{path}"), &branch, body)
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{path}: {e}");
        assert_eq!(e["code"], "invalid_state");
    }
    assert_eq!(app.count("mediation_sessions").await, sessions);
}

#[tokio::test]
async fn only_dispute_demands_can_be_mediated() {
    let app = spawn_app().await;
    let resident = app.token("13800000003").await;
    let branch = app.token("branch-fh").await;
    let leak = app.file_demand(&resident, "楼上漏水").await;
    let leak = leak["id"].as_str().unwrap();
    let xc_demand = app
        .file_demand(&app.token("13800000001").await, "车库漏水")
        .await;
    let before = (
        app.count("mediations").await,
        app.count("audit_events").await,
    );

    for (demand, why) in [
        (leak.to_string(), "a repair demand"),
        (
            xc_demand["id"].as_str().unwrap().to_string(),
            "out of scope",
        ),
        (kernel::id::new_id(), "missing"),
        ("not-an-id".to_string(), "malformed"),
    ] {
        let (s, e) = app
            .post(
                CASES,
                &branch,
                json!({"title": "漏水纠纷", "summary": "楼上漏水引起的纠纷", "demand_id": demand}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{why}: {e}");
        assert!(e["fields"]["demand_id"].is_array(), "{why}: {e}");
    }
    let (s, e) = app
        .post(
            CASES,
            &branch,
            json!({"title": "漏水纠纷", "summary": "楼上漏水引起的纠纷", "demand_id": leak}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["fields"]["demand_id"][0], "只有纠纷类诉求可以发起调解");
    assert_eq!(
        (
            app.count("mediations").await,
            app.count("audit_events").await
        ),
        before,
        "nothing written"
    );

    // A dispute filed in FH: XC's property manager cannot mediate it.
    let dispute = file_dispute(&app, &resident).await;
    let (s, _) = app
        .post(
            CASES,
            &app.token("property-xc").await,
            json!({"title": "漏水纠纷", "summary": "楼上漏水引起的纠纷", "demand_id": dispute}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // Residents and auditors open no cases.
    for login in ["13800000003", "auditor"] {
        let (s, _) = app
            .post(
                CASES,
                &app.token(login).await,
                json!({"title": "漏水纠纷", "summary": "楼上漏水引起的纠纷", "demand_id": dispute}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{login}");
    }
    // The same demand cannot have two open cases.
    let body = json!({"title": "漏水纠纷", "summary": "楼上漏水引起的纠纷", "demand_id": dispute});
    let (s, v) = app.post(CASES, &branch, body.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, e) = app.post(CASES, &branch, body).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert_eq!(e["code"], "mediation_exists");
}

#[tokio::test]
async fn parties_mediators_and_compound_are_checked() {
    let app = spawn_app().await;
    let branch = app.token("branch-fh").await;
    let community = app.token("community-zq").await;
    let fh = app.node_id(FH).await;
    let h301 = app.node_id(FH_301).await;
    let before = (
        app.count("mediations").await,
        app.count("audit_events").await,
    );
    let case = |compound: &str, parties: Value, mediators: Value| {
        json!({
            "title": "楼道杂物纠纷",
            "summary": "两户因楼道堆放杂物发生争执",
            "compound_id": compound,
            "parties": parties,
            "mediators": mediators,
        })
    };
    let p = |id: &str, role: &str| json!({"household_id": id, "role": role});
    let cases = [
        (
            "a household of another compound",
            case(
                &fh,
                json!([
                    p(&h301, "applicant"),
                    p(&app.node_id(XC_101).await, "respondent")
                ]),
                json!([]),
            ),
            "parties",
        ),
        (
            "a building, not a household",
            case(
                &fh,
                json!([p(&app.node_id(FH_B3).await, "applicant")]),
                json!([]),
            ),
            "parties",
        ),
        (
            "no such household",
            case(
                &fh,
                json!([p(&kernel::id::new_id(), "applicant")]),
                json!([]),
            ),
            "parties",
        ),
        (
            "the same household twice",
            case(
                &fh,
                json!([p(&h301, "applicant"), p(&h301, "respondent")]),
                json!([]),
            ),
            "parties",
        ),
        (
            "an unknown role",
            case(&fh, json!([p(&h301, "judge")]), json!([])),
            "parties",
        ),
        ("no parties", case(&fh, json!([]), json!([])), "parties"),
        (
            "a mediator of another compound",
            case(
                &fh,
                json!([p(&h301, "applicant")]),
                json!([user_id(&app, "property-xc").await]),
            ),
            "mediators",
        ),
        (
            "a resident as mediator",
            case(
                &fh,
                json!([p(&h301, "applicant")]),
                json!([user_id(&app, "13800000003").await]),
            ),
            "mediators",
        ),
        (
            "the auditor as mediator",
            case(
                &fh,
                json!([p(&h301, "applicant")]),
                json!([user_id(&app, "auditor").await]),
            ),
            "mediators",
        ),
        (
            "a compound out of scope",
            case(
                &app.node_id(XC).await,
                json!([p(&h301, "applicant")]),
                json!([]),
            ),
            "compound_id",
        ),
        (
            "a household as compound",
            case(&h301, json!([p(&h301, "applicant")]), json!([])),
            "compound_id",
        ),
        (
            "no compound and no demand",
            json!({"title": "楼道杂物纠纷", "summary": "两户因楼道堆放杂物发生争执", "parties": [p(&h301, "applicant")]}),
            "compound_id",
        ),
        (
            "a short title",
            case(&fh, json!([p(&h301, "applicant")]), json!([])),
            "",
        ),
    ];
    for (why, mut body, field) in cases {
        let field = if field.is_empty() {
            body["title"] = json!("纠");
            "title"
        } else {
            field
        };
        let (s, e) = app.post(CASES, &branch, body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{why}: {e}");
        assert!(e["fields"][field].is_array(), "{why}: {e}");
    }
    // Unknown fields and wrong types are the contract's 422; not JSON is 415.
    let (s, e) = app
        .post(
            CASES,
            &branch,
            json!({"title": "楼道杂物纠纷", "summary": "两户因楼道堆放杂物发生争执", "compound_id": fh, "urgent": true}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["fields"]["urgent"][0], "不允许的字段");
    let r = app
        .client
        .post(app.url(CASES))
        .bearer_auth(&branch)
        .body("title=x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Community staff of another community cannot open a case in FH.
    let (s, e) = app
        .post(
            CASES,
            &community,
            case(&fh, json!([p(&h301, "applicant")]), json!([])),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["fields"]["compound_id"].is_array());
    assert_eq!(
        (
            app.count("mediations").await,
            app.count("audit_events").await
        ),
        before,
        "nothing written"
    );

    // With no mediators named, the caller mediates; the district may open one too.
    let (s, v) = app
        .post(
            CASES,
            &app.token("district-ls").await,
            case(&fh, json!([p(&h301, "applicant")]), json!([])),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["mediators"][0]["display_name"], "离石区 高峰");
    assert_eq!(v["mediators"][0]["kind"], "community_staff");
}

#[tokio::test]
async fn scope_matrix() {
    let app = spawn_app().await;
    let branch = app.token("branch-fh").await;
    let resident = app.token("13800000003").await;
    let demand = file_dispute(&app, &resident).await;
    let (s, v) = app
        .post(
            CASES,
            &branch,
            json!({"title": "楼上漏水纠纷", "summary": "楼上漏水引起的邻里纠纷", "demand_id": demand}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = id_of(&v);

    // login → reads it (and finds it in the list)
    for (login, sees) in [
        ("branch-fh", true),
        ("property-fh", true),
        ("district-ls", true),
        ("13800000003", true),
        ("community-zq", false),
        ("street-cb", false),
        ("property-xc", false),
        ("butler-xc", false),
        ("13800000001", false),
        ("13800000002", false),
        ("village-xmz", false),
        ("grid-cz", false),
        ("auditor", false),
    ] {
        let t = app.token(login).await;
        let (s, _) = app.get(&format!("{CASES}/{id}"), &t).await;
        let want = if sees {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        };
        assert_eq!(s, want, "{login} reads");
        let (s, l) = app.get(&format!("{CASES}?limit=100"), &t).await;
        assert_eq!(s, StatusCode::OK, "{login} lists");
        let listed = l["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == id.as_str());
        assert_eq!(listed, sees, "{login} lists it");
        // Writes by those who cannot see it are 404, not 403.
        if !sees {
            let (s, _) = app
                .post(&format!("{CASES}/{id}/sessions"), &t, session_body(&app))
                .await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{login} writes");
        }
    }
    // Missing and malformed ids are 404 alike; no token is 401.
    for bad in [kernel::id::new_id(), "../x".to_string(), "1".to_string()] {
        let (s, _) = app.get(&format!("{CASES}/{bad}"), &branch).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{bad}");
    }
    let r = app.client.get(app.url(CASES)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // A mediator keeps reading the case after their grant is gone, but
    // records nothing: visible, not allowed → 403.
    let prop = user_id(&app, "property-fh").await;
    let (s, v) = app
        .post(
            CASES,
            &branch,
            json!({"title": "楼道杂物纠纷", "summary": "两户因楼道堆放杂物发生争执", "compound_id": app.node_id(FH).await,
                   "parties": [{"household_id": app.node_id(FH_401).await, "role": "applicant"}],
                   "mediators": [prop]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let other = id_of(&v);
    let prop_token = app.token("property-fh").await;
    sqlx::query("UPDATE role_grants SET revoked_at = 1 WHERE user_id = $1")
        .bind(&prop)
        .execute(app.ctx.db.writer())
        .await
        .unwrap();
    let (s, _) = app.get(&format!("{CASES}/{other}"), &prop_token).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app.get(&format!("{CASES}/{id}"), &prop_token).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "not a mediator there");
    let (s, _) = app
        .post(
            &format!("{CASES}/{other}/sessions"),
            &prop_token,
            session_body(&app),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // 13800000003 (301) is not a party of the 401 case.
    let (s, _) = app.get(&format!("{CASES}/{other}"), &resident).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn wrong_states_and_stale_versions_are_conflicts() {
    let app = spawn_app().await;
    let branch = app.token("branch-fh").await;
    let v = open_fh_case(&app, &branch, "楼道杂物纠纷").await;
    let id = id_of(&v);
    let url = |step: &str| format!("{CASES}/{id}/{step}");

    // Before an outcome: no follow-up, no close.
    let (s, e) = app
        .post(
            &url("followups"),
            &branch,
            json!({"visited_at": ago(&app, 5), "notes": "回访"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert_eq!(e["code"], "invalid_state");
    let (s, _) = app.post(&url("close"), &branch, json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT);

    // Bad session input is 422 and writes nothing.
    let sessions = app.count("mediation_sessions").await;
    for (body, field) in [
        (
            json!({"held_at": "2026-11-29 09:00", "place": "楼道", "notes": "双方到场"}),
            "held_at",
        ),
        (
            json!({"held_at": to_rfc3339(now(&app) + 3 * 86_400_000), "place": "楼道", "notes": "双方到场"}),
            "held_at",
        ),
        (
            json!({"held_at": ago(&app, 5), "place": "", "notes": "双方到场"}),
            "place",
        ),
        (
            json!({"held_at": ago(&app, 5), "place": "楼道", "notes": " "}),
            "notes",
        ),
    ] {
        let (s, e) = app.post(&url("sessions"), &branch, body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert!(e["fields"][field].is_array(), "{e}");
    }
    assert_eq!(app.count("mediation_sessions").await, sessions);

    // A stale version is refused; the current one goes through.
    let mut body = session_body(&app);
    body["version"] = json!(7);
    let (s, e) = app.post(&url("sessions"), &branch, body.clone()).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(e["code"], "version_conflict");
    body["version"] = json!(1);
    let (s, v) = app.post(&url("sessions"), &branch, body.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["version"], 2);

    // Two staff recording at once on the same version: exactly one wins.
    body["version"] = json!(2);
    let property = app.token("property-fh").await;
    let sessions_url = url("sessions");
    let (a, b) = tokio::join!(
        app.post(&sessions_url, &branch, body.clone()),
        app.post(&sessions_url, &property, body.clone()),
    );
    let mut got = [a.0, b.0];
    got.sort();
    assert_eq!(
        got,
        [StatusCode::CREATED, StatusCode::CONFLICT],
        "{a:?} {b:?}"
    );
    assert_eq!(app.count("mediation_sessions").await, sessions + 2);

    // One outcome only; sessions end with it.
    let (s, v) = app
        .post(
            &url("outcome"),
            &branch,
            json!({"kind": "no_agreement", "note": "双方分歧较大"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    for body in [
        json!({"kind": "agreement", "agreement_text": "双方各让一步,杂物当天清走"}),
        json!({"kind": "no_agreement"}),
    ] {
        let (s, e) = app.post(&url("outcome"), &branch, body).await;
        assert_eq!(s, StatusCode::CONFLICT, "{e}");
        assert_eq!(e["code"], "invalid_state");
    }
    let (s, _) = app
        .post(&url("sessions"), &branch, session_body(&app))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    // Closing with a stale version, then properly.
    let (s, _) = app
        .post(&url("close"), &branch, json!({"version": 1}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, v) = app
        .post(&url("close"), &branch, json!({"note": "双方表示不再追究"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "closed");
    let (s, _) = app.post(&url("close"), &branch, json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT);
}

#[tokio::test]
async fn no_agreement_keeps_the_demand_and_a_referral_closes_it() {
    let app = spawn_app().await;
    let resident = app.token("13800000003").await;
    let branch = app.token("branch-fh").await;
    let demand = file_dispute(&app, &resident).await;
    let open = |title: &'static str| {
        json!({"title": title, "summary": "楼上漏水引起的邻里纠纷", "demand_id": demand,
               "parties": [{"household_id": "", "role": "respondent"}]})
    };
    // A party list with a bad entry is refused even though the demand is fine.
    let (s, e) = app.post(CASES, &branch, open("第一次调解")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");

    let respondent = app.node_id(FH_401).await;
    let body = |title: &str| {
        json!({"title": title, "summary": "楼上漏水引起的邻里纠纷", "demand_id": demand,
               "parties": [{"household_id": respondent, "role": "respondent"}]})
    };
    let (s, v) = app.post(CASES, &branch, body("第一次调解")).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // The named respondent, and the demand's household as applicant.
    let roles: Vec<(String, String)> = v["parties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["household_label"].as_str().unwrap().to_string(),
                p["role"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        vec![
            ("3号楼 1单元 301室".to_string(), "applicant".to_string()),
            ("3号楼 1单元 401室".to_string(), "respondent".to_string())
        ]
    );
    let first = id_of(&v);
    let (s, v) = app
        .post(
            &format!("{CASES}/{first}/outcome"),
            &branch,
            json!({"kind": "no_agreement", "note": "双方对维修费用分歧较大"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "no_agreement");
    assert_eq!(v["outcome"]["note"], "双方对维修费用分歧较大");
    let (_, d) = app.get(&format!("/api/v1/demands/{demand}"), &branch).await;
    assert_eq!(
        d["status"], "submitted",
        "no agreement leaves the demand open"
    );
    assert!(!d["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "mediation_closed"));

    // A second attempt ends in a referral to the 人民调解委员会, which closes the demand.
    let (s, v) = app.post(CASES, &branch, body("第二次调解")).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let second = id_of(&v);
    let (s, e) = app
        .post(
            &format!("{CASES}/{second}/outcome"),
            &branch,
            json!({"kind": "referred_people_committee", "agreement_text": "双方同意"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["fields"]["agreement_text"].is_array());
    let (s, v) = app
        .post(
            &format!("{CASES}/{second}/outcome"),
            &branch,
            json!({"kind": "referred_people_committee", "note": "移交泛华社区人民调解委员会"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "referred");
    assert_eq!(v["outcome"]["label"], "移交人民调解委员会");
    let (_, d) = app.get(&format!("/api/v1/demands/{demand}"), &branch).await;
    assert_eq!(d["status"], "closed");
    let closed: Vec<&Value> = d["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "mediation_closed")
        .collect();
    assert_eq!(closed.len(), 1);
    assert!(closed[0]["note"]
        .as_str()
        .unwrap()
        .contains("移交人民调解委员会"));
    // A closed demand starts no new case.
    let (s, e) = app.post(CASES, &branch, body("第三次调解")).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert_eq!(e["code"], "demand_not_open");

    // A standalone case referred to the court.
    let v = open_fh_case(&app, &branch, "楼道杂物纠纷").await;
    let (s, v) = app
        .post(
            &format!("{CASES}/{}/outcome", id_of(&v)),
            &app.token("property-fh").await,
            json!({"kind": "referred_court"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "referred");
    assert_eq!(v["outcome"]["kind"], "referred_court");
    assert!(v["demand_id"].is_null());
    let (s, v) = app
        .post(
            &format!("{CASES}/{}/followups", id_of(&v)),
            &branch,
            json!({"visited_at": ago(&app, 1), "notes": "已告知起诉流程"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert!(v["followups"][0]["satisfied"].is_null());
}

#[tokio::test]
async fn lists_filter_and_page() {
    let app = spawn_app().await;
    let branch = app.token("branch-fh").await;
    let mut made = Vec::new();
    for i in 0..4 {
        let v = open_fh_case(&app, &branch, &format!("楼道杂物纠纷{i}")).await;
        made.push(id_of(&v));
    }
    let (s, _) = app
        .post(
            &format!("{CASES}/{}/outcome", made[0]),
            &branch,
            json!({"kind": "no_agreement"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    // The demo case plus four, newest first, paged two at a time.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let (s, v) = app
            .get(&format!("{CASES}?limit=2&cursor={cursor}"), &branch)
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        pages += 1;
        for c in v["items"].as_array().unwrap() {
            seen.push(c["id"].as_str().unwrap().to_string());
            assert!(c.get("parties").is_none(), "lists stay light");
        }
        match v["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert_eq!(pages, 3);
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), 5);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(seen, sorted, "newest first");
    assert_eq!(seen[0], made[3]);

    let count = |v: &Value| v["items"].as_array().unwrap().len();
    let (_, v) = app.get(&format!("{CASES}?status=open"), &branch).await;
    assert_eq!(count(&v), 3);
    let (_, v) = app
        .get(&format!("{CASES}?status=no_agreement"), &branch)
        .await;
    assert_eq!(count(&v), 1);
    assert_eq!(v["items"][0]["id"], made[0].as_str());
    let (_, v) = app.get(&format!("{CASES}?status=agreed"), &branch).await;
    assert_eq!(count(&v), 1, "the demo case");
    let (_, v) = app.get(&format!("{CASES}?status=closed"), &branch).await;
    assert_eq!(count(&v), 0);

    // Cases on one demand.
    let resident = app.token("13800000003").await;
    let demand = file_dispute(&app, &resident).await;
    let (s, v) = app
        .post(
            CASES,
            &branch,
            json!({"title": "漏水纠纷", "summary": "楼上漏水引起的纠纷", "demand_id": demand}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, l) = app
        .get(&format!("{CASES}?demand_id={demand}"), &branch)
        .await;
    assert_eq!(count(&l), 1);
    assert_eq!(l["items"][0]["id"], v["id"]);
    // The resident of 301 sees the cases where 301 is a party: four plus this one.
    let (_, l) = app.get(&format!("{CASES}?limit=100"), &resident).await;
    assert_eq!(count(&l), 5, "{l}");

    for bad in [
        "status=settled",
        "limit=0",
        "limit=101",
        "cursor=!!",
        "demand_id=x",
    ] {
        let (s, e) = app.get(&format!("{CASES}?{bad}"), &branch).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {e}");
    }
}

#[tokio::test]
async fn the_seed_pages_case_is_in_the_demo() {
    let app = spawn_app().await;
    let branch = app.token("branch-fh").await;
    let (s, l) = app.get(CASES, &branch).await;
    assert_eq!(s, StatusCode::OK);
    let items = l["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{l}");
    assert_eq!(items[0]["title"], cases::mediation::demo::TITLE);
    assert_eq!(items[0]["status"], "agreed");
    let id = items[0]["id"].as_str().unwrap();

    let (s, v) = app.get(&format!("{CASES}/{id}"), &branch).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["compound_name"], "泛华盛世小区");
    let parties: Vec<(&str, &str)> = v["parties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["household_label"].as_str().unwrap(),
                p["role"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        parties,
        vec![
            ("3号楼 1单元 401室", "applicant"),
            ("3号楼 1单元 501室", "respondent")
        ]
    );
    assert_eq!(v["parties"][1]["household_id"], app.node_id(FH_501).await);
    let mediators: HashSet<(&str, &str)> = v["mediators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["display_name"].as_str().unwrap(),
                m["kind"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        mediators,
        HashSet::from([
            ("雷爱珍", "party_member"),
            ("泛华盛世物业 张经理", "property_staff")
        ])
    );
    assert_eq!(v["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(v["outcome"]["kind"], "agreement");
    assert!(v["outcome"]["agreement_text"]
        .as_str()
        .unwrap()
        .starts_with("老李负责维修下水管道并承担陈先生家卫生间吊顶修复费用"));
    let followups = v["followups"].as_array().unwrap();
    assert_eq!(followups.len(), 1);
    assert_eq!(followups[0]["satisfied"], true);
    assert_eq!(v["allowed_actions"], json!(["followup", "close"]));

    // 陈建国's household has a resident; 老李's upstairs household too.
    let li: i64 = {
        use sqlx::Row;
        sqlx::query("SELECT COUNT(*) FROM residents WHERE org_path = $1")
            .bind(FH_501)
            .fetch_one(app.ctx.db.reader())
            .await
            .unwrap()
            .get(0)
    };
    assert_eq!(li, 1);
    // Out of scope for the other community and for XC's resident.
    for login in ["community-zq", "13800000001", "13800000003"] {
        let (s, _) = app
            .get(&format!("{CASES}/{id}"), &app.token(login).await)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{login}");
    }
}
