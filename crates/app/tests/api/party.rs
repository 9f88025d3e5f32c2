//! Party building (党建) over HTTP: the demo branch, the three management
//! modes' rules (直接管 by the compound branch; 双重管 — an in-service
//! member in both branches' views with the right rights; 跟进管 — a
//! floating member's check-ins reach the home branch), transfers with
//! history, statistics on a fixture computed by hand, the privacy rule
//! (who sees membership; the raw database holds no plaintext), scope 404s,
//! bad input, the roster, cross-appointments, engagement in cases, Excel,
//! and the pages.

use crate::helpers::*;
use crate::pages::{form_csrf, logged_in, page};
use kernel::clock::{to_rfc3339, Clock};
use kernel::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;

const MEMBERS: &str = "/api/v1/party/members";
const JYJ: &str = "/141100/141127/XZSPJ/";
const FH_B3: &str = "/141100/141102/141102002/141102002003/FH/B3/";
const FH_401: &str = "/141100/141102/141102002/141102002003/FH/B3/U1/401/";
const XC_B1: &str = "/141100/141102/141102003/141102003001/XC/B1/";

/// The date `n` days before the test clock's today (Beijing), YYYY-MM-DD.
fn days_ago(app: &TestApp, n: i64) -> String {
    party::model::fmt_date(party::model::day_of(app.clock.now_ms() - n * 86_400_000))
}

/// A staff account with one grant (password `lianxin-demo`).
async fn staff_user(app: &TestApp, login: &str, name: &str, role: Role, path: &str) -> String {
    let hash = accounts::model::hash_password(PASSWORD);
    let node = org::store::get_node_by_path(&app.ctx.db, path)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no node {path}"));
    let now = app.clock.now_ms();
    let mut tx = app.ctx.db.begin().await.unwrap();
    let id = accounts::store::create_user(&mut tx, &app.ctx.cipher, login, name, &hash, now)
        .await
        .unwrap();
    accounts::store::grant_role(&mut tx, &id, role, &node.id, &node.org_path, None, now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

/// The id of the organisation named `name` as `token` sees it.
async fn org_id(app: &TestApp, token: &str, name: &str) -> String {
    let (s, v) = app.get("/api/v1/party/orgs", token).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == name)
        .unwrap_or_else(|| panic!("no org {name} in {v}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_string()
}

async fn create_member(app: &TestApp, token: &str, body: Value) -> Value {
    let (s, v) = app.post(MEMBERS, token, body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

fn resident_body(branch: &str, name: &str) -> Value {
    json!({"branch_id": branch, "name": name, "status": "full", "joined_on": "2010-07-01",
           "full_on": "2011-07-01", "mode": "resident"})
}

fn in_service_body(branch: &str, name: &str) -> Value {
    json!({"branch_id": branch, "name": name, "status": "full", "joined_on": "2006-07-01",
           "full_on": "2007-07-01", "mode": "in_service", "work_unit": "岚县行政审批局"})
}

fn floating_body(app: &TestApp, branch: &str, name: &str, away_days: i64) -> Value {
    json!({"branch_id": branch, "name": name, "status": "full", "joined_on": "2012-07-01",
           "full_on": "2013-07-01", "mode": "floating", "whereabouts": "太原市小店区",
           "away_since": days_ago(app, away_days), "away_reason": "外出务工"})
}

async fn list_ids(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let (s, v) = app.get(&format!("{MEMBERS}?limit=100{query}"), token).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["items"].as_array().unwrap().iter().map(id_of).collect()
}

/// The work unit's branch (岚县行政审批局机关党支部, seeded) with a secretary.
async fn work_unit(app: &TestApp) -> (String, String) {
    staff_user(
        app,
        "branch-jyj",
        "审批局支部 马书记",
        Role::PartyBranchSecretary,
        JYJ,
    )
    .await;
    let t = app.token("branch-jyj").await;
    let id = org_id(app, &t, "岚县行政审批局机关党支部").await;
    (t, id)
}

// ---------------------------------------------------------------- the demo

#[tokio::test]
async fn the_demo_seeds_the_fh_branch_with_every_kind_of_member() {
    let app = spawn_app().await;
    let t = app.token("branch-fh").await;
    let fh = org_id(&app, &t, "泛华盛世小区党支部").await;
    // The contract's entry point: the standard list shape, scope applied.
    let (s, v) = app.get(MEMBERS, &t).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        v["items"].is_array() && v.get("next_cursor").is_some(),
        "{v}"
    );
    let (_, v) = app.get(&format!("{MEMBERS}?org={fh}&limit=100"), &t).await;
    let items = v["items"].as_array().unwrap();
    let count = |mode: &str| items.iter().filter(|m| m["mode"] == mode).count();
    assert!(
        count("resident") >= 2 && count("in_service") >= 2 && count("floating") >= 2,
        "{v}"
    );
    for m in items.iter().filter(|m| m["mode"] == "in_service") {
        assert_eq!(
            m["relation"], "registered",
            "双报到 members appear in the residential branch"
        );
        assert_eq!(m["registration"]["org_id"], fh.as_str());
    }
    // Paging by cursor walks the same list without gaps or repeats.
    let all: Vec<String> = items.iter().map(id_of).collect();
    let (mut seen, mut cursor) = (Vec::new(), String::new());
    for _ in 0..20 {
        let (s, p) = app
            .get(&format!("{MEMBERS}?org={fh}&limit=2{cursor}"), &t)
            .await;
        assert_eq!(s, StatusCode::OK, "{p}");
        assert!(p["items"].as_array().unwrap().len() <= 2);
        seen.extend(p["items"].as_array().unwrap().iter().map(id_of));
        match p["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, all);
    let lei = items
        .iter()
        .find(|m| m["name"] == "雷爱珍")
        .expect("the secretary");
    assert_eq!(lei["masked"], false);
    // The branch: its committee, its group with a leader, officers, centre.
    let (s, d) = app.get(&format!("/api/v1/party/orgs/{fh}"), &t).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert!(d["officers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["position"] == "secretary" && o["name"] == "雷爱珍" && o["current"] == true));
    assert_eq!(d["service_centre"]["name"], "泛华盛世小区党群服务中心");
    let group = d["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "group")
        .expect("a building party group")
        .clone();
    let (_, g) = app
        .get(&format!("/api/v1/party/orgs/{}", id_of(&group)), &t)
        .await;
    assert!(
        g["officers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["position"] == "group_leader" && o["name"] == "刘建军"),
        "{g}"
    );
    // Activities: 三会一课 and the themed day 重温入党誓词, with attendance.
    let (_, a) = app
        .get(
            &format!(
                "/api/v1/party/activities?org={fh}&from={}&to={}",
                days_ago(&app, 60),
                days_ago(&app, 0)
            ),
            &t,
        )
        .await;
    let acts = a["items"].as_array().unwrap();
    for kind in [
        "branch_assembly",
        "branch_committee",
        "group_meeting",
        "party_lecture",
        "themed_day",
    ] {
        assert!(acts.iter().any(|x| x["kind"] == kind), "{kind} in {a}");
    }
    let themed = acts.iter().find(|x| x["kind"] == "themed_day").unwrap();
    assert_eq!(themed["theme"], "重温入党誓词");
    assert!(themed["present"].as_i64().unwrap() >= 5);
    // The secretary mediated the seed page's dispute: her engagement shows it.
    let (_, me) = app.get("/api/v1/party/me", &t).await;
    let mine = &me["members"][0];
    assert_eq!(mine["name"], "雷爱珍");
    assert_eq!(mine["engagement"]["mediations"], 1, "{me}");
    assert_eq!(
        mine["engagement"]["mediation_list"][0]["title"],
        "楼上洗衣机下水管道漏水引发邻里纠纷"
    );
}

// ---------------------------------------------------------------- 直接管

#[tokio::test]
async fn resident_members_are_managed_directly_by_their_compound_branch() {
    let app = spawn_app().await;
    let t = app.token("branch-fh").await;
    let fh = org_id(&app, &t, "泛华盛世小区党支部").await;
    // A household in another compound is not this branch's to manage.
    let mut body = resident_body(&fh, "外小区居民");
    body["household_id"] = json!(app.node_id(XC_101).await);
    let (s, v) = app.post(MEMBERS, &t, body.clone()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["fields"]["household_id"][0]
            .as_str()
            .unwrap()
            .contains("直接管理"),
        "{v}"
    );
    // Its own compound's household is.
    body["household_id"] = json!(app.node_id(FH_401).await);
    body["name"] = json!("本小区居民");
    body["central_household"] = json!(true);
    body["vanguard_post"] = json!("垃圾分类先锋岗");
    let m = create_member(&app, &t, body).await;
    assert_eq!(m["relation"], "home");
    assert_eq!(m["central_household"], true);
    assert_eq!(m["vanguard_post"], "垃圾分类先锋岗");
    assert!(m["household"].as_str().unwrap().contains("401室"), "{m}");
    // A work unit's branch cannot hold resident members.
    let (tj, jyj) = work_unit(&app).await;
    let (s, v) = app
        .post(MEMBERS, &tj, resident_body(&jyj, "单位居民"))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["fields"]["mode"].is_array(), "{v}");
    // 党员中心户 needs the household; a floating member cannot be one.
    let mut f = floating_body(&app, &fh, "外出中心户", 10);
    f["central_household"] = json!(true);
    let (s, v) = app.post(MEMBERS, &t, f).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(v["fields"]["central_household"].is_array(), "{v}");
}

// ---------------------------------------------------------------- 双重管

#[tokio::test]
async fn an_in_service_member_appears_in_both_branches_with_the_right_rights() {
    let app = spawn_app().await;
    let (tj, jyj) = work_unit(&app).await;
    let tf = app.token("branch-fh").await;
    let fh = org_id(&app, &tf, "泛华盛世小区党支部").await;
    // In-service needs the work unit.
    let mut body = in_service_body(&jyj, "赵在职");
    body.as_object_mut().unwrap().remove("work_unit");
    let (s, v) = app.post(MEMBERS, &tj, body).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(v["fields"]["work_unit"].is_array(), "{v}");
    let m = create_member(&app, &tj, in_service_body(&jyj, "赵在职")).await;
    let id = id_of(&m);
    let path = format!("{MEMBERS}/{id}");
    // Not yet registered: the residential branch does not see them.
    let (s, _) = app.get(&path, &tf).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // 双报到 at the residential compound's branch; not at a work unit.
    let (s, v) = app
        .post(
            &format!("{path}/registration"),
            &tj,
            json!({"org_id": jyj, "registered_on": days_ago(&app, 1)}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = app
        .post(
            &format!("{path}/registration"),
            &tj,
            json!({"org_id": fh, "registered_on": days_ago(&app, 1)}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["registration"]["org_id"], fh.as_str());
    let (s, _) = app
        .post(
            &format!("{path}/registration"),
            &tj,
            json!({"org_id": fh, "registered_on": days_ago(&app, 1)}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "registered once");

    // Both branches' views: the home branch manages, the residential
    // branch sees the record in full and records community service.
    assert!(list_ids(&app, &tj, &format!("&org={jyj}"))
        .await
        .contains(&id));
    assert!(
        list_ids(&app, &tf, &format!("&org={fh}&relation=registered"))
            .await
            .contains(&id)
    );
    assert!(!list_ids(&app, &tf, &format!("&org={fh}&relation=home"))
        .await
        .contains(&id));
    let (_, home_view) = app.get(&path, &tj).await;
    assert_eq!(home_view["relation"], "home");
    assert_eq!(home_view["rights"]["manage"], true);
    let (s, res_view) = app.get(&path, &tf).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(res_view["relation"], "registered");
    assert_eq!(res_view["masked"], false);
    assert_eq!(res_view["work_unit"], "岚县行政审批局");
    assert_eq!(res_view["rights"]["manage"], false);
    assert_eq!(res_view["rights"]["record_service"], true);
    // The residential branch may not change the record or move it.
    let version = res_view["version"].as_i64().unwrap();
    let (s, _) = app
        .patch(&path, &tf, json!({"name": "改名", "version": version}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .post(
            &format!("{path}/transfer"),
            &tf,
            json!({"to_branch_id": fh, "transferred_on": days_ago(&app, 0)}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .post(
            &format!("{path}/status"),
            &tf,
            json!({"status": "full", "date": days_ago(&app, 0)}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Community service there, verified by the residential branch …
    let (s, sv) = app.post("/api/v1/party/volunteer", &tf, json!({"member_id": id, "served_on": days_ago(&app, 1), "hours": 2, "description": "协助清理楼道杂物"})).await;
    assert_eq!(s, StatusCode::CREATED, "{sv}");
    assert_eq!(
        sv["org"]["id"],
        fh.as_str(),
        "service for the branch of registration"
    );
    assert_eq!(sv["status"], "pending");
    let (s, _) = app
        .post(
            &format!("/api/v1/party/volunteer/{}/verify", id_of(&sv)),
            &tj,
            json!({"approve": true}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "the branch served verifies, not the work unit"
    );
    let (s, v) = app
        .post(
            &format!("/api/v1/party/volunteer/{}/verify", id_of(&sv)),
            &tf,
            json!({"approve": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["points"], 20);
    let (s, _) = app
        .post(
            &format!("/api/v1/party/volunteer/{}/verify", id_of(&sv)),
            &tf,
            json!({"approve": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "verified once");
    // … feeds the member's hours in the home branch's view.
    let (_, home_view) = app.get(&path, &tj).await;
    assert_eq!(home_view["service_hours"], 2.0);
    assert_eq!(home_view["service_points"], 20);
    assert_eq!(home_view["engagement"]["service_hours"], 2.0);
    // The home branch edits; a resident member cannot register (409).
    let (s, v) = app
        .patch(
            &path,
            &tj,
            json!({"work_unit": "离石区第二中学", "version": home_view["version"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let r = create_member(&app, &tf, resident_body(&fh, "居民甲")).await;
    let (s, v) = app
        .post(
            &format!("{MEMBERS}/{}/registration", id_of(&r)),
            &tf,
            json!({"org_id": fh, "registered_on": days_ago(&app, 0)}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    // Ending the registration takes the member out of the residential view.
    let (s, _) = app.delete(&format!("{path}/registration"), &tf).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app.get(&path, &tf).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------- 跟进管

#[tokio::test]
async fn a_floating_members_check_ins_reach_the_home_branch() {
    let app = spawn_app().await;
    let t = app.token("branch-fh").await;
    let fh = org_id(&app, &t, "泛华盛世小区党支部").await;
    let mut body = floating_body(&app, &fh, "王外出", 30);
    body["account"] = json!("13800000002");
    let m = create_member(&app, &t, body).await;
    let id = id_of(&m);
    assert_eq!(m["has_account"], true);
    assert_eq!(m["floating"]["overdue"], false);
    // The member, away, checks in from where they are.
    let me = app.token("13800000002").await;
    let (s, v) = app.get("/api/v1/party/me", &me).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["members"][0]["id"], id.as_str());
    assert_eq!(v["members"][0]["relation"], "own");
    let (s, c) = app
        .post(
            &format!("{MEMBERS}/{id}/checkins"),
            &me,
            json!({"place": "太原市小店区龙城街道", "note": "工作稳定"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["channel"], "self");
    // It reaches the home branch.
    let (_, d) = app.get(&format!("{MEMBERS}/{id}"), &t).await;
    assert_eq!(d["checkins"][0]["place"], "太原市小店区龙城街道");
    assert_eq!(d["checkins"][0]["channel"], "self");
    assert!(d["floating"]["last_checkin"].is_string());
    // Another branch cannot see it at all.
    let (tj, _) = work_unit(&app).await;
    let (s, _) = app.get(&format!("{MEMBERS}/{id}/checkins"), &tj).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .post(
            &format!("{MEMBERS}/{id}/checkins"),
            &tj,
            json!({"place": "某地"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Bad input and wrong state.
    let (s, v) = app
        .post(
            &format!("{MEMBERS}/{id}/checkins"),
            &me,
            json!({"place": "", "at": to_rfc3339(app.clock.now_ms() + 86_400_000)}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        v["fields"]["place"].is_array() && v["fields"]["at"].is_array(),
        "{v}"
    );
    let r = create_member(&app, &t, resident_body(&fh, "常住党员")).await;
    let (s, _) = app
        .post(
            &format!("{MEMBERS}/{}/checkins", id_of(&r)),
            &t,
            json!({"place": "小区"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "only floating members check in");
    // A quarter without contact is overdue, and the statistics say so.
    let (_, before) = app.get(&format!("/api/v1/party/orgs/{fh}/stats"), &t).await;
    app.clock.advance_ms(91 * 86_400_000);
    let t = app.token("branch-fh").await;
    let (_, d) = app.get(&format!("{MEMBERS}/{id}"), &t).await;
    assert_eq!(d["floating"]["overdue"], true);
    let (_, after) = app.get(&format!("/api/v1/party/orgs/{fh}/stats"), &t).await;
    assert!(
        after["floating_overdue"].as_i64().unwrap() > before["floating_overdue"].as_i64().unwrap()
    );
}

// ---------------------------------------------------------------- transfers

#[tokio::test]
async fn transfers_move_the_relation_and_keep_the_history() {
    let app = spawn_app().await;
    let t = app.token("branch-fh").await;
    let fh = org_id(&app, &t, "泛华盛世小区党支部").await;
    staff_user(
        &app,
        "branch-xc",
        "新城壹号支部 吴书记",
        Role::PartyBranchSecretary,
        XC,
    )
    .await;
    let tx = app.token("branch-xc").await;
    let xc = org_id(&app, &tx, "新城壹号小区党支部").await;
    let m = create_member(&app, &t, resident_body(&fh, "搬家党员")).await;
    let id = id_of(&m);
    let (s, o) = app.post(&format!("/api/v1/party/orgs/{fh}/officers"), &t, json!({"member_id": id, "position": "committee_member", "term_start": days_ago(&app, 100)})).await;
    assert_eq!(s, StatusCode::CREATED, "{o}");
    let path = format!("{MEMBERS}/{id}");
    // Bad transfers change nothing.
    let (s, v) = app
        .post(
            &format!("{path}/transfer"),
            &t,
            json!({"to_branch_id": fh, "transferred_on": days_ago(&app, 0)}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = app
        .post(
            &format!("{path}/transfer"),
            &t,
            json!({"to_branch_id": xc, "transferred_on": days_ago(&app, -2)}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = app
        .post(
            &format!("{path}/transfer"),
            &t,
            json!({"transferred_on": days_ago(&app, 0)}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = app
        .post(
            &format!("{path}/transfer"),
            &t,
            json!({"to_branch_id": xc, "transferred_on": days_ago(&app, 0), "version": 99}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    // The move.
    let (s, v) = app.post(&format!("{path}/transfer"), &t, json!({"to_branch_id": xc, "transferred_on": days_ago(&app, 0), "reason": "搬到新城壹号小区"})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // The old branch no longer sees the record; the new one manages it.
    let (s, _) = app.get(&path, &t).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(!list_ids(&app, &t, &format!("&org={fh}"))
        .await
        .contains(&id));
    let (s, d) = app.get(&path, &tx).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(d["branch"]["id"], xc.as_str());
    assert_eq!(d["rights"]["manage"], true);
    let tr = &d["transfers"][0];
    assert_eq!(tr["from"]["name"], "泛华盛世小区党支部");
    assert_eq!(tr["to"]["name"], "新城壹号小区党支部");
    assert_eq!(tr["reason"], "搬到新城壹号小区");
    // The office in the old branch ended on the day; the old branch keeps
    // the transfer-out record.
    assert!(
        d["offices"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["ended_on"].is_string()),
        "{d}"
    );
    let (_, org) = app.get(&format!("/api/v1/party/orgs/{fh}"), &t).await;
    let off = org["officers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["member_id"] == id.as_str())
        .unwrap();
    assert_eq!(off["current"], false);
    let (_, out) = app
        .get(&format!("/api/v1/party/orgs/{fh}/transfers"), &t)
        .await;
    assert!(
        out["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["member_id"] == id.as_str() && x["member_name"] == "搬家党员"),
        "{out}"
    );
    // Onward, out of the platform: the record leaves every list; the
    // history stays with both branches.
    let (s, _) = app.post(&format!("{path}/transfer"), &tx, json!({"to_external": "太原市小店区龙城街道某社区党支部", "transferred_on": days_ago(&app, 0)})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app.get(&path, &tx).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(!list_ids(&app, &tx, "").await.contains(&id));
    let (_, out) = app
        .get(&format!("/api/v1/party/orgs/{xc}/transfers"), &tx)
        .await;
    assert_eq!(
        out["items"].as_array().unwrap().len(),
        2,
        "in and out: {out}"
    );
    let n: i64 = sqlx::query("SELECT COUNT(*) FROM party_transfers WHERE member_id = $1")
        .bind(&id)
        .fetch_one(app.ctx.db.reader())
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
}

// ---------------------------------------------------------------- statistics

#[tokio::test]
async fn statistics_on_a_fixture_match_the_hand_computed_numbers() {
    let app = spawn_app().await;
    staff_user(
        &app,
        "branch-xc",
        "新城壹号支部 吴书记",
        Role::PartyBranchSecretary,
        XC,
    )
    .await;
    let t = app.token("branch-xc").await;
    let xc = org_id(&app, &t, "新城壹号小区党支部").await;
    let tf = app.token("branch-fh").await;
    let fh = org_id(&app, &tf, "泛华盛世小区党支部").await;
    let (tj, jyj) = work_unit(&app).await;

    // Six members at home in XC: 2 resident (full, probationary), 2
    // in-service (one registered elsewhere), 2 floating (one overdue).
    let r1 = id_of(&create_member(&app, &t, resident_body(&xc, "甲")).await);
    let r2 = id_of(&create_member(&app, &t, json!({"branch_id": xc, "name": "乙", "status": "probationary", "joined_on": days_ago(&app, 100), "mode": "resident"})).await);
    let i1 = id_of(&create_member(&app, &t, in_service_body(&xc, "丙")).await);
    let i2 = id_of(&create_member(&app, &t, in_service_body(&xc, "丁")).await);
    let (s, v) = app
        .post(
            &format!("{MEMBERS}/{i1}/registration"),
            &t,
            json!({"org_id": fh, "registered_on": days_ago(&app, 5)}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let f1 = id_of(&create_member(&app, &t, floating_body(&app, &xc, "戊", 200)).await);
    let f2 = id_of(&create_member(&app, &t, floating_body(&app, &xc, "己", 200)).await);
    let (s, _) = app
        .post(
            &format!("{MEMBERS}/{f2}/checkins"),
            &t,
            json!({"place": "深圳"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    // One in-service member of the work unit registered at XC.
    let w = id_of(&create_member(&app, &tj, in_service_body(&jyj, "庚")).await);
    let (s, _) = app
        .post(
            &format!("{MEMBERS}/{w}/registration"),
            &tj,
            json!({"org_id": xc, "registered_on": days_ago(&app, 5)}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    // Service for XC: 2 h + 1.5 h verified, 1 h pending, 0.5 h turned down.
    let service = |member: String, hours: f64, verify: Option<bool>| {
        let (app, t) = (&app, t.clone());
        async move {
            let (s, v) = app.post("/api/v1/party/volunteer", &t, json!({"member_id": member, "served_on": days_ago(app, 1), "hours": hours, "description": "楼道清理"})).await;
            assert_eq!(s, StatusCode::CREATED, "{v}");
            if let Some(approve) = verify {
                let (s, v) = app
                    .post(
                        &format!("/api/v1/party/volunteer/{}/verify", id_of(&v)),
                        &t,
                        json!({"approve": approve}),
                    )
                    .await;
                assert_eq!(s, StatusCode::OK, "{v}");
            }
        }
    };
    service(r1.clone(), 2.0, Some(true)).await;
    service(w.clone(), 1.5, Some(true)).await;
    service(r2.clone(), 1.0, None).await;
    service(r1.clone(), 0.5, Some(false)).await;

    // Two activities held yesterday: 4 expected / 2 present, 2 / 2.
    let held = to_rfc3339(app.clock.now_ms() - 86_400_000);
    let activity = |kind: &str, entries: Value| {
        let (app, t, xc, held, kind) =
            (&app, t.clone(), xc.clone(), held.clone(), kind.to_string());
        async move {
            let (s, a) = app.post("/api/v1/party/activities", &t, json!({"org_id": xc, "kind": kind, "title": "学习研讨", "held_at": held, "place": "新城壹号小区活动室"})).await;
            assert_eq!(s, StatusCode::CREATED, "{a}");
            let r = app
                .client
                .put(app.url(&format!(
                    "/api/v1/party/activities/{}/attendance",
                    id_of(&a)
                )))
                .bearer_auth(&t)
                .json(&json!({"entries": entries}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
        }
    };
    activity(
        "branch_assembly",
        json!([
        {"member_id": r1, "status": "present"}, {"member_id": r2, "status": "present"},
        {"member_id": i1, "status": "excused"}, {"member_id": f1, "status": "absent"}]),
    )
    .await;
    activity(
        "party_lecture",
        json!([
        {"member_id": r1, "status": "present"}, {"member_id": i2, "status": "present"}]),
    )
    .await;

    let period = format!("from={}&to={}", days_ago(&app, 30), days_ago(&app, 0));
    let (s, st) = app
        .get(&format!("/api/v1/party/orgs/{xc}/stats?{period}"), &t)
        .await;
    assert_eq!(s, StatusCode::OK, "{st}");
    let expect = |st: &Value| {
        assert_eq!(st["members"], 6, "{st}");
        assert_eq!(
            st["by_mode"],
            json!({"resident": 2, "in_service": 2, "floating": 2})
        );
        assert_eq!(
            st["by_status"],
            json!({"activist": 0, "probationary": 1, "full": 5})
        );
        assert_eq!(st["in_service_registered"], 1);
        assert_eq!(st["registration_coverage"], 0.5);
        assert_eq!(st["registered_here"], 1);
        assert_eq!(st["floating_overdue"], 1);
        assert_eq!(st["service_hours"], 3.5);
        assert_eq!(st["service_hours_pending"], 1.0);
        assert_eq!(st["service_records"], 4);
        assert_eq!(st["service_points"], 35);
        assert_eq!(st["activities"], 2);
        assert_eq!(st["activities_by_kind"]["branch_assembly"], 1);
        assert_eq!(st["attendance_expected"], 6);
        assert_eq!(st["attendance_present"], 4);
        assert_eq!(st["attendance_rate"], 0.6667);
    };
    expect(&st);
    let tm = st["three_meetings"].as_array().unwrap();
    assert!(
        tm.iter()
            .any(|x| x["kind"] == "branch_assembly" && x["held"] == 1 && x["required"] == 1),
        "{st}"
    );
    assert!(tm
        .iter()
        .any(|x| x["kind"] == "branch_committee" && x["held"] == 0 && x["required"] == 3));
    // The community (站前社区党委) sums its branches; the overseer sees the
    // numbers, and the branch as one of the parts.
    let zq = app.token("community-zq").await;
    let committee = org_id(&app, &zq, "站前社区党委").await;
    let (s, cs) = app
        .get(
            &format!("/api/v1/party/orgs/{committee}/stats?{period}"),
            &zq,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{cs}");
    expect(&cs);
    let part = cs["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["org"]["id"] == xc.as_str())
        .expect("the branch as a part");
    expect(part);
    // A period without the activities counts none of them.
    let (_, old) = app
        .get(
            &format!("/api/v1/party/orgs/{xc}/stats?from=2020-01-01&to=2020-12-31"),
            &t,
        )
        .await;
    assert_eq!(old["activities"], 0);
    assert_eq!(old["service_hours"], 0.0);
    assert_eq!(old["members"], 6, "membership is a state, not an event");
    // Bad periods.
    let (s, v) = app
        .get(
            &format!("/api/v1/party/orgs/{xc}/stats?from=2026-05-01&to=2026-04-01"),
            &t,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, _) = app
        .get(&format!("/api/v1/party/orgs/{xc}/stats?from=yesterday"), &t)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

// ---------------------------------------------------------------- privacy

/// Who sees a member of 泛华盛世小区党支部, and how.
const MATRIX: &[(&str, Option<bool>)] = &[
    // login, None = 404, Some(masked)
    ("branch-fh", Some(false)),
    ("district-ls", Some(true)),
    ("community-zq", None),
    ("street-cb", None),
    ("property-fh", None),
    ("butler-xc", None),
    ("property-xc", None),
    ("13800000001", None),
    ("13800000003", None),
    ("village-xmz", None),
    ("approval-lx", None),
    ("expert-1", None),
    ("grid-cz", None),
    ("auditor", None),
];

#[tokio::test]
async fn membership_is_seen_only_by_party_roles_the_member_and_masked_by_overseers() {
    let app = spawn_app().await;
    let t = app.token("branch-fh").await;
    let fh = org_id(&app, &t, "泛华盛世小区党支部").await;
    let mut body = resident_body(&fh, "欧阳保密");
    body["phone"] = json!("13912345670");
    body["account"] = json!("13800000002");
    let m = create_member(&app, &t, body).await;
    let id = id_of(&m);
    for (login, seen) in MATRIX {
        let tok = app.token(login).await;
        let (s, v) = app.get(&format!("{MEMBERS}/{id}"), &tok).await;
        let ids = list_ids(&app, &tok, "").await;
        match seen {
            None => {
                assert_eq!(s, StatusCode::NOT_FOUND, "{login}");
                assert!(!ids.contains(&id), "{login} list");
            }
            Some(masked) => {
                assert_eq!(s, StatusCode::OK, "{login}");
                assert!(ids.contains(&id), "{login} list");
                assert_eq!(v["masked"], *masked, "{login}: {v}");
                let text = v.to_string();
                if *masked {
                    assert_eq!(v["name"], "欧***");
                    assert!(
                        !text.contains("欧阳保密") && !text.contains("13912345670"),
                        "{login}: {text}"
                    );
                    assert_eq!(v["phone"], "139****5670");
                    assert_eq!(v["joined_on"], "2010", "only the year");
                } else {
                    assert_eq!(v["name"], "欧阳保密");
                    assert_eq!(v["phone"], "13912345670");
                }
            }
        }
    }
    // The member themself.
    let own = app.token("13800000002").await;
    let (s, v) = app.get(&format!("{MEMBERS}/{id}"), &own).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (v["relation"].as_str(), v["masked"].as_bool()),
        (Some("own"), Some(false))
    );
    assert!(list_ids(&app, &own, "").await.contains(&id));
    let (s, _) = app
        .patch(&format!("{MEMBERS}/{id}"), &own, json!({"name": "改名"}))
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "the member reads but does not edit"
    );
    // An overseer sees but may not write (403), nor register members (403).
    let d = app.token("district-ls").await;
    let (s, _) = app
        .patch(&format!("{MEMBERS}/{id}"), &d, json!({"name": "改名"}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app.post(MEMBERS, &d, resident_body(&fh, "越权登记")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // The overseer's member list, officers and attendance are masked too.
    let (_, o) = app.get(&format!("/api/v1/party/orgs/{fh}"), &d).await;
    assert!(
        o["officers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| !x["name"].as_str().unwrap().contains("爱珍")),
        "{o}"
    );
    let (_, acts) = app
        .get(
            &format!(
                "/api/v1/party/activities?org={fh}&from={}&to={}",
                days_ago(&app, 60),
                days_ago(&app, 0)
            ),
            &d,
        )
        .await;
    let a = id_of(&acts["items"][0]);
    let (_, ad) = app.get(&format!("/api/v1/party/activities/{a}"), &d).await;
    assert_eq!(ad["attendance"], json!([]), "counts only: {ad}");
    assert!(ad["present"].as_i64().unwrap() > 0);
    // Exports: in full for the party role, masked for the overseer.
    for (tok, full) in [(&t, true), (&d, false)] {
        let r = app
            .client
            .get(app.url(&format!("/api/v1/party/members/export.xlsx?org={fh}")))
            .bearer_auth(tok)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let rows = xlsx_text(&r.bytes().await.unwrap());
        assert_eq!(rows.contains("欧阳保密"), full, "{rows}");
        assert_eq!(rows.contains("13912345670"), full);
        assert_eq!(rows.contains("139****5670"), !full);
    }
    // The unmasked export is audited as a read of personal data.
    assert!(app
        .audit_actions()
        .await
        .contains(&"personal_data_exported".to_string()));
}

fn xlsx_text(bytes: &[u8]) -> String {
    use calamine::Reader;
    let mut wb =
        calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let range = wb.worksheet_range_at(0).unwrap().unwrap();
    range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join("\t")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn the_database_holds_no_plaintext_party_membership() {
    let app = spawn_app().await;
    let t = app.token("branch-fh").await;
    let fh = org_id(&app, &t, "泛华盛世小区党支部").await;
    const NAME: &str = "司马隐私";
    const PHONE: &str = "13912345671";
    // 樊一新's ID number, also in the residents' registry.
    const ID: &str = "14110219850312001X";
    const PLACE: &str = "呼和浩特市赛罕区保密路";
    const REASON: &str = "组织关系转接保密原因";
    let mut body = floating_body(&app, &fh, NAME, 10);
    body["phone"] = json!(PHONE);
    body["id_card"] = json!(ID);
    body["whereabouts"] = json!(PLACE);
    let m = create_member(&app, &t, body).await;
    let id = id_of(&m);
    let (s, _) = app
        .post(
            &format!("{MEMBERS}/{id}/checkins"),
            &t,
            json!({"place": PLACE, "note": "电话联系"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = app.post(&format!("{MEMBERS}/{id}/transfer"), &t, json!({"to_external": "呼和浩特市某社区党支部", "transferred_on": days_ago(&app, 0), "reason": REASON})).await;
    assert_eq!(s, StatusCode::OK);
    let secrets = [NAME, PHONE, PLACE, REASON, "正式党员", "\"full\""];
    match &app.sqlite_file {
        Some(file) => {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(app.ctx.db.writer())
                .await
                .unwrap();
            let mut bytes = std::fs::read(file).unwrap();
            if let Ok(wal) = std::fs::read(file.with_extension("db-wal")) {
                bytes.extend(wal);
            }
            assert!(
                contains(&bytes, "泛华盛世小区党支部"),
                "the scan reads real rows"
            );
            for s in secrets {
                assert!(!contains(&bytes, s), "plaintext {s} in the database file");
            }
        }
        None => {
            let cols = sqlx::query(
                "SELECT table_name::text, column_name::text FROM information_schema.columns
                 WHERE table_schema = 'public' AND data_type = 'text'",
            )
            .fetch_all(app.ctx.db.reader())
            .await
            .unwrap();
            for c in cols {
                let (tb, col): (String, String) = (c.get(0), c.get(1));
                for s in secrets {
                    let n: i64 =
                        sqlx::query(&format!("SELECT COUNT(*) FROM {tb} WHERE {col} LIKE $1"))
                            .bind(format!("%{s}%"))
                            .fetch_one(app.ctx.db.reader())
                            .await
                            .unwrap()
                            .get(0);
                    assert_eq!(n, 0, "plaintext {s} in {tb}.{col}");
                }
            }
        }
    }
    // The blind index is the party's own: it cannot be joined to the
    // residents' registry to put a name on the member.
    let joined: i64 = sqlx::query("SELECT COUNT(*) FROM party_members p JOIN residents r ON r.id_card_index = p.id_card_index")
        .fetch_one(app.ctx.db.reader())
        .await
        .unwrap()
        .get(0);
    assert_eq!(joined, 0);
    // Yet the record is there, encrypted, for those allowed to read it.
    let enc: String = sqlx::query("SELECT profile_enc FROM party_members WHERE id = $1")
        .bind(&id)
        .fetch_one(app.ctx.db.reader())
        .await
        .unwrap()
        .get(0);
    let plain = app.ctx.cipher.decrypt(&enc).unwrap();
    assert!(plain.contains(NAME) && plain.contains(ID));
    // No audit row names the member.
    for r in sqlx::query("SELECT detail FROM audit_events")
        .fetch_all(app.ctx.db.reader())
        .await
        .unwrap()
    {
        let d: String = r.get(0);
        assert!(!d.contains(NAME) && !d.contains(PHONE), "{d}");
    }
    // The same ID number cannot be registered twice.
    let mut again = resident_body(&fh, "重复");
    again["id_card"] = json!(ID);
    let (s, v) = app.post(MEMBERS, &t, again).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["fields"]["id_card"].is_array());
}

// ---------------------------------------------------------------- scope and bad input

#[tokio::test]
async fn out_of_scope_is_404_and_bad_input_is_422_and_changes_nothing() {
    let app = spawn_app().await;
    let t = app.token("branch-fh").await;
    let fh = org_id(&app, &t, "泛华盛世小区党支部").await;
    let zq = app.token("community-zq").await;
    // Unknown, malformed and out-of-scope ids look the same.
    for path in [
        format!("{MEMBERS}/{}", kernel::id::new_id()),
        format!("{MEMBERS}/not-a-uuid"),
        format!("/api/v1/party/orgs/{fh}"),
        format!("/api/v1/party/orgs/{fh}/stats"),
        format!("{MEMBERS}?org={fh}"),
    ] {
        let (s, v) = app.get(&path, &zq).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}: {v}");
    }
    let (s, v) = app.get(MEMBERS, &zq).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        v["items"].as_array().unwrap().is_empty(),
        "no FH member leaks to 站前社区: {v}"
    );
    let before = app.count("party_members").await;
    // Shape errors.
    let (s, v) = app
        .post(
            MEMBERS,
            &t,
            json!({"branch_id": fh, "name": "", "status": "member", "mode": "x"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    for f in ["name", "status", "mode"] {
        assert!(v["fields"][f].is_array(), "{f}: {v}");
    }
    let (s, v) = app.post(MEMBERS, &t, json!({"branch_id": fh, "name": "甲", "status": "full", "mode": "resident", "joined_on": "2010-07-01", "full_on": "2011-07-01", "party": true})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["fields"]["party"][0], "不允许的字段");
    let r = app
        .client
        .post(app.url(MEMBERS))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let (s, v) = app.post(MEMBERS, &t, json!({"branch_id": fh, "name": "甲", "status": "full", "mode": "resident", "joined_on": "2010-07-01", "full_on": "2010-08-01", "phone": "123", "id_card": "110105194912310021"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    for f in ["full_on", "phone", "id_card"] {
        assert!(v["fields"][f].is_array(), "{f}: {v}");
    }
    // A branch out of sight is a field error, not a hint that it exists.
    let xc_committee = org_id(&app, &app.token("district-ls").await, "站前社区党委").await;
    let (s, v) = app
        .post(MEMBERS, &t, resident_body(&xc_committee, "甲"))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["fields"]["branch_id"].is_array());
    assert_eq!(app.count("party_members").await, before, "nothing written");
    // Lists.
    for q in [
        "limit=0",
        "limit=101",
        "mode=bogus",
        "relation=friends",
        "cursor=!!",
    ] {
        let (s, _) = app.get(&format!("{MEMBERS}?{q}"), &t).await;
        assert!(
            s == StatusCode::UNPROCESSABLE_ENTITY || s == StatusCode::BAD_REQUEST,
            "{q}: {s}"
        );
    }
    // Wrong states: status backwards, a second secretary, attendance
    // before the activity, verification of one's own hours.
    let m = create_member(&app, &t, resident_body(&fh, "状态测试")).await;
    let (s, _) = app
        .post(
            &format!("{MEMBERS}/{}/status", id_of(&m)),
            &t,
            json!({"status": "probationary", "date": days_ago(&app, 0)}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let act = create_member(
        &app,
        &t,
        json!({"branch_id": fh, "name": "积极分子", "status": "activist", "mode": "resident"}),
    )
    .await;
    let (s, v) = app
        .post(
            &format!("{MEMBERS}/{}/status", id_of(&act)),
            &t,
            json!({"status": "probationary", "date": days_ago(&app, 0)}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "probationary");
    let (s, v) = app
        .post(
            &format!("{MEMBERS}/{}/status", id_of(&act)),
            &t,
            json!({"status": "full", "date": days_ago(&app, 0)}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a year's probation first: {v}"
    );
    let (s, _) = app.post(&format!("/api/v1/party/orgs/{fh}/officers"), &t, json!({"member_id": id_of(&m), "position": "secretary", "term_start": days_ago(&app, 1)})).await;
    assert_eq!(s, StatusCode::CONFLICT, "雷爱珍 is the secretary");
    let (s, v) = app.post("/api/v1/party/activities", &t, json!({"org_id": fh, "kind": "group_meeting", "title": "小组会", "held_at": to_rfc3339(app.clock.now_ms()), "place": "活动室"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = app.post("/api/v1/party/activities", &t, json!({"org_id": fh, "kind": "themed_day", "title": "主题党日", "held_at": to_rfc3339(app.clock.now_ms()), "place": "活动室"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(v["fields"]["theme"].is_array());
    let (s, a) = app.post("/api/v1/party/activities", &t, json!({"org_id": fh, "kind": "branch_assembly", "title": "下周党员大会", "held_at": to_rfc3339(app.clock.now_ms() + 7 * 86_400_000), "place": "活动室"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let put = |body: Value, t: String| {
        app.client
            .put(app.url(&format!(
                "/api/v1/party/activities/{}/attendance",
                id_of(&a)
            )))
            .bearer_auth(t)
            .json(&body)
            .send()
    };
    assert_eq!(
        put(
            json!({"entries": [{"member_id": id_of(&m), "status": "present"}]}),
            t.clone()
        )
        .await
        .unwrap()
        .status(),
        StatusCode::CONFLICT
    );
    app.clock.advance_ms(8 * 86_400_000);
    let t = app.token("branch-fh").await;
    let stranger = kernel::id::new_id();
    assert_eq!(
        put(
            json!({"entries": [{"member_id": stranger, "status": "present"}]}),
            t.clone()
        )
        .await
        .unwrap()
        .status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        put(
            json!({"entries": [{"member_id": id_of(&m), "status": "asleep"}]}),
            t.clone()
        )
        .await
        .unwrap()
        .status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        put(
            json!({"entries": [{"member_id": id_of(&m), "status": "present"}]}),
            t.clone()
        )
        .await
        .unwrap()
        .status(),
        StatusCode::OK
    );
    // Volunteer hours: half hours, not in the future, not one's own to verify.
    let (s, v) = app.post("/api/v1/party/volunteer", &t, json!({"member_id": id_of(&m), "served_on": days_ago(&app, -1), "hours": 0.2, "description": ""})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    for f in ["served_on", "hours", "description"] {
        assert!(v["fields"][f].is_array(), "{f}: {v}");
    }
    let (_, me) = app.get("/api/v1/party/me", &t).await;
    let lei = id_of(&me["members"][0]);
    let (s, own) = app.post("/api/v1/party/volunteer", &t, json!({"member_id": lei, "served_on": days_ago(&app, 0), "hours": 1, "description": "值班"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = app
        .post(
            &format!("/api/v1/party/volunteer/{}/verify", id_of(&own)),
            &t,
            json!({"approve": true}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "nobody verifies their own hours");
}

// ---------------------------------------------------------------- roster, appointments, engagement

#[tokio::test]
async fn red_butlers_cross_appointments_and_engagement_in_cases() {
    let app = spawn_app().await;
    staff_user(
        &app,
        "branch-xc",
        "新城壹号支部 吴书记",
        Role::PartyBranchSecretary,
        XC,
    )
    .await;
    let t = app.token("branch-xc").await;
    let xc = org_id(&app, &t, "新城壹号小区党支部").await;
    let b1 = app.node_id(XC_B1).await;
    // The butler 赵晓东 is a party member: a red butler. He resolved the
    // garage-lighting demand in the demo world.
    let mut zhao = resident_body(&xc, "赵晓东");
    zhao["account"] = json!("butler-xc");
    let zhao = id_of(&create_member(&app, &t, zhao).await);
    let (s, v) = app.post("/api/v1/party/butlers", &t, json!({"building_id": b1, "role": "butler", "member_id": zhao, "duty": "1号楼诉求受理", "started_on": days_ago(&app, 30)})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(
        (v["red"].as_bool(), v["name"].as_str()),
        (Some(true), Some("赵晓东"))
    );
    // A member who is not the building's butler cannot be listed as one.
    let other = id_of(&create_member(&app, &t, resident_body(&xc, "钱志愿")).await);
    let (s, v) = app.post("/api/v1/party/butlers", &t, json!({"building_id": b1, "role": "butler", "member_id": other, "started_on": days_ago(&app, 1)})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = app.post("/api/v1/party/butlers", &t, json!({"building_id": b1, "role": "party_volunteer", "member_id": other, "started_on": days_ago(&app, 1)})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // A building of another compound is out of sight.
    let (s, _) = app.post("/api/v1/party/butlers", &t, json!({"building_id": app.node_id(FH_B3).await, "role": "party_volunteer", "member_id": other, "started_on": days_ago(&app, 1)})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, roster) = app
        .get(&format!("/api/v1/party/butlers?org={b1}"), &t)
        .await;
    assert_eq!(roster["items"].as_array().unwrap().len(), 2, "{roster}");
    // No roster row ties the butler's account to party membership in the clear.
    let n: i64 = sqlx::query(
        "SELECT COUNT(*) FROM party_butlers WHERE user_id IS NOT NULL AND member_id IS NOT NULL",
    )
    .fetch_one(app.ctx.db.reader())
    .await
    .unwrap()
    .get(0);
    assert_eq!(n, 0);
    // 双向进入、交叉任职.
    let xc_node = app.node_id(XC).await;
    let body = json!({"org_id": xc, "member_id": other, "compound_id": xc_node, "body": "owners_committee", "direction": "into_body", "position": "业委会委员", "started_on": days_ago(&app, 10)});
    let (s, v) = app
        .post("/api/v1/party/appointments", &t, body.clone())
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, _) = app
        .post("/api/v1/party/appointments", &t, body.clone())
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let mut far = body.clone();
    far["compound_id"] = json!(app.node_id(FH).await);
    let (s, v) = app.post("/api/v1/party/appointments", &t, far).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let mut bad = body;
    bad["body"] = json!("street_office");
    let (s, _) = app.post("/api/v1/party/appointments", &t, bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, d) = app.get(&format!("{MEMBERS}/{other}"), &t).await;
    assert_eq!(d["appointments"][0]["position"], "业委会委员");
    // Engagement: the demands the red butler helped with.
    let (_, d) = app.get(&format!("{MEMBERS}/{zhao}"), &t).await;
    let e = &d["engagement"];
    assert!(e["demands_helped"].as_i64().unwrap() >= 1, "{d}");
    assert!(
        e["demands"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["title"] == "地下车库照明不亮"),
        "{e}"
    );
}

// ---------------------------------------------------------------- Excel

#[tokio::test]
async fn members_import_all_or_nothing_and_export() {
    let app = spawn_app().await;
    staff_user(
        &app,
        "branch-xc",
        "新城壹号支部 吴书记",
        Role::PartyBranchSecretary,
        XC,
    )
    .await;
    let t = app.token("branch-xc").await;
    let xc = org_id(&app, &t, "新城壹号小区党支部").await;
    let upload = |bytes: Vec<u8>, org: String| {
        let (app, t) = (&app, t.clone());
        async move {
            let r = app
                .client
                .post(app.url(&format!("/api/v1/party/members/import?org={org}")))
                .bearer_auth(&t)
                .header(
                    "content-type",
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                )
                .body(bytes)
                .send()
                .await
                .unwrap();
            let s = r.status();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let before = app.count("party_members").await;
    let bad = party::xlsx::template_workbook(&[
        [
            "吴一",
            "13900000071",
            "",
            "正式党员",
            "2001-07-01",
            "2002-07-01",
            "居民党员(直接管)",
            "",
            "",
            "",
            "",
        ],
        ["", "", "", "党员", "", "", "居民", "", "", "", ""],
    ]);
    let (s, v) = upload(bad, xc.clone()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["fields"]["第3行.姓名"].is_array() && v["fields"]["第3行.状态"].is_array(),
        "{v}"
    );
    assert_eq!(
        app.count("party_members").await,
        before,
        "nothing half-imported"
    );
    let good = party::xlsx::template_workbook(&[
        [
            "吴一",
            "13900000071",
            "",
            "正式党员",
            "2001-07-01",
            "2002-07-01",
            "居民党员(直接管)",
            "",
            "",
            "",
            "",
        ],
        [
            "郑二",
            "",
            "",
            "probationary",
            &days_ago(&app, 30),
            "",
            "in_service",
            "离石区卫健局",
            "",
            "",
            "",
        ],
    ]);
    let (s, v) = upload(good, xc.clone()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["imported_members"], 2);
    let r = app
        .client
        .post(app.url(&format!("/api/v1/party/members/import?org={xc}")))
        .bearer_auth(&t)
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // The overseer may not import (403) and exports masked.
    let zq = app.token("community-zq").await;
    let r = app
        .client
        .post(app.url(&format!("/api/v1/party/members/import?org={xc}")))
        .bearer_auth(&zq)
        .header("content-type", "application/octet-stream")
        .body(vec![1u8, 2, 3])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app
        .client
        .get(app.url(&format!("/api/v1/party/members/export.xlsx?org={xc}")))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    let full = xlsx_text(&r.bytes().await.unwrap());
    assert!(
        full.contains("吴一") && full.contains("13900000071") && full.contains("离石区卫健局"),
        "{full}"
    );
    let r = app
        .client
        .get(app.url(&format!("/api/v1/party/members/export.xlsx?org={xc}")))
        .bearer_auth(&zq)
        .send()
        .await
        .unwrap();
    let masked = xlsx_text(&r.bytes().await.unwrap());
    assert!(
        masked.contains("吴*")
            && !masked.contains("吴一")
            && !masked.contains("13900000071")
            && masked.contains("139****0071"),
        "{masked}"
    );
    let (s, _) = app
        .get(
            &format!(
                "/api/v1/party/members/export.xlsx?org={}",
                org_id(&app, &app.token("branch-fh").await, "泛华盛世小区党支部").await
            ),
            &t,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------- pages

#[tokio::test]
async fn the_party_pages_render_and_their_forms_work() {
    let app = spawn_app().await;
    let c = logged_in(&app, "branch-fh").await;
    let (s, html) = page(&app, &c, "/party").await;
    assert_eq!(s, StatusCode::OK);
    for want in [
        "泛华盛世小区党支部",
        "雷爱珍",
        "重温入党誓词",
        "3号楼党小组",
        "<svg",
        "双报到党员",
        "党群服务中心",
    ] {
        assert!(html.contains(want), "{want}");
    }
    let (s, en) = page(&app, &c, "/party?lang=en").await;
    assert_eq!(s, StatusCode::OK);
    assert!(en.contains("Party building") && en.contains("Floating (followed up)"));
    let (s, _) = page(&app, &c, "/party?lang=zh").await;
    assert_eq!(s, StatusCode::OK);
    // A member's page and a check-in by form (CSRF required).
    let t = app.token("branch-fh").await;
    let fh = org_id(&app, &t, "泛华盛世小区党支部").await;
    let (_, v) = app
        .get(&format!("{MEMBERS}?org={fh}&mode=floating"), &t)
        .await;
    let wang = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "王海")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/party/members/{wang}");
    let (s, html) = page(&app, &c, &path).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains("太原市小店区") && html.contains("登记报到"),
        "{html}"
    );
    let r = c
        .post(app.url(&format!("{path}/checkins")))
        .form(&[("csrf", "forged"), ("place", "太原")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let csrf = form_csrf(&app, &c, &path).await;
    let r = c
        .post(app.url(&format!("{path}/checkins")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("place", "太原市迎泽区"),
            ("at", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&app, &c, &path).await;
    assert!(html.contains("太原市迎泽区"));
    let r = c
        .post(app.url(&format!("{path}/checkins")))
        .form(&[("csrf", csrf.as_str()), ("place", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // A new member by form.
    let (s, _) = page(&app, &c, &format!("/party/members/new?branch={fh}")).await;
    assert_eq!(s, StatusCode::OK);
    let r = c
        .post(app.url("/party/members"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("branch_id", &fh),
            ("name", "表单党员"),
            ("status", "full"),
            ("joined_on", "2015-07-01"),
            ("full_on", "2016-07-01"),
            ("mode", "resident"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // An activity page with its attendance form.
    let (_, acts) = app
        .get(
            &format!(
                "/api/v1/party/activities?org={fh}&from={}&to={}",
                days_ago(&app, 60),
                days_ago(&app, 0)
            ),
            &t,
        )
        .await;
    let (s, html) = page(
        &app,
        &c,
        &format!("/party/activities/{}", id_of(&acts["items"][0])),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("name=\"a_"), "the attendance form");
    // Others: the overseer sees masked names; a resident with no
    // membership sees nothing of the branch.
    let d = logged_in(&app, "district-ls").await;
    let (s, html) = page(&app, &d, &format!("/party?org={fh}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains("雷*") && !html.contains("雷爱珍"),
        "masked for the overseer"
    );
    let r = logged_in(&app, "13800000003").await;
    let (s, html) = page(&app, &r, "/party").await;
    assert_eq!(s, StatusCode::OK);
    assert!(!html.contains("雷爱珍") && !html.contains("泛华盛世小区党支部"));
    let (s, _) = page(&app, &r, &path).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------- 调解

/// A party member of the compound's branch mediates a dispute there without
/// any staff role, as the seed page's 泛华盛世小区 story tells it.
#[tokio::test]
async fn party_members_of_the_compound_can_mediate() {
    let app = spawn_app().await;
    let t = app.token("branch-fh").await;
    let fh = org_id(&app, &t, "泛华盛世小区党支部").await;
    let mut body = resident_body(&fh, "王勇");
    body["account"] = json!("13800000003");
    body["household_id"] = json!(app.node_id(FH_301).await);
    create_member(&app, &t, body).await;
    let wang = accounts::store::find_user_by_login(&app.ctx.db, &app.ctx.cipher, "13800000003")
        .await
        .unwrap()
        .unwrap()
        .id;
    let fan = accounts::store::find_user_by_login(&app.ctx.db, &app.ctx.cipher, "13800000001")
        .await
        .unwrap()
        .unwrap()
        .id;
    let compound = app.node_id(FH).await;
    let parties = json!([{"household_id": app.node_id("/141100/141102/141102002/141102002003/FH/B3/U1/401/").await, "role": "applicant"}]);
    let staff = app.token("property-fh").await;
    let (s, v) = app
        .post("/api/v1/mediation/cases", &staff, json!({"title": "邻里漏水纠纷", "summary": "楼上漏水引起争执", "compound_id": compound, "parties": parties, "mediators": [wang]}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, case) = app
        .get(
            &format!("/api/v1/mediation/cases/{}", v["id"].as_str().unwrap()),
            &staff,
        )
        .await;
    let kinds: Vec<&str> = case["mediators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"party_member"), "{case}");
    // A resident who is no party member here cannot be named.
    let (s, v) = app
        .post("/api/v1/mediation/cases", &staff, json!({"title": "另一纠纷", "summary": "另一起纠纷", "compound_id": compound, "parties": parties, "mediators": [fan]}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
}

/// …and joins a demand as a helper (协办): sees it and adds to its record.
#[tokio::test]
async fn party_members_help_on_demands_of_their_compound() {
    let app = spawn_app().await;
    let t = app.token("branch-fh").await;
    let fh = org_id(&app, &t, "泛华盛世小区党支部").await;
    let mut body = resident_body(&fh, "王勇");
    body["account"] = json!("13800000003");
    body["household_id"] = json!(app.node_id(FH_301).await);
    create_member(&app, &t, body).await;
    let wang = accounts::store::find_user_by_login(&app.ctx.db, &app.ctx.cipher, "13800000003")
        .await
        .unwrap()
        .unwrap()
        .id;
    let manager = app.token("property-fh").await;
    let hh = app
        .node_id("/141100/141102/141102002/141102002003/FH/B3/U1/401/")
        .await;
    let (s, d) = app
        .post("/api/v1/demands", &manager, json!({"category": "noise", "title": "夜间噪音", "description": "楼上夜里装修噪音", "household_id": hh}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let id = d["id"].as_str().unwrap();
    let path = format!("/api/v1/demands/{id}/transitions");
    assert_eq!(
        app.post(&path, &manager, json!({"action": "accept"}))
            .await
            .0,
        StatusCode::OK
    );
    let (s, v) = app
        .post(
            &path,
            &manager,
            json!({"action": "dispatch", "co_assignees": [wang]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let me = app.token("13800000003").await;
    let (s, _) = app.get(&format!("/api/v1/demands/{id}"), &me).await;
    assert_eq!(s, StatusCode::OK, "the helper sees the demand");
    let (s, v) = app
        .post(
            &format!("/api/v1/demands/{id}/transitions"),
            &me,
            json!({"action": "comment", "note": "已上门劝导邻居"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = app
        .post(
            &format!("/api/v1/demands/{id}/transitions"),
            &me,
            json!({"action": "start"}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a helper does not take the lead's steps"
    );
}
