//! The mediation pages: the list and the demo case as its mediators see
//! them, scope (404 for other compounds and communities), a case opened from
//! a 纠纷 demand's page and taken through a session, a refused outcome and
//! the agreement that closes the demand, a standalone case from /mediation,
//! the CSRF rule, and English.

use crate::helpers::*;
use crate::pages::{form_csrf, hidden, location, logged_in, page, post_form};
use reqwest::StatusCode;
use serde_json::json;

const FH_401: &str = "/141100/141102/141102002/141102002003/FH/B3/U1/401/";

async fn demo_case_id(app: &TestApp) -> String {
    use sqlx::Row;
    sqlx::query("SELECT id FROM mediations WHERE title = $1")
        .bind(cases::mediation::demo::TITLE)
        .fetch_one(app.ctx.db.reader())
        .await
        .unwrap()
        .get(0)
}

async fn case_status(app: &TestApp, id: &str) -> String {
    cases::mediation::store::get_mediation(&app.ctx.db, id)
        .await
        .unwrap()
        .unwrap()
        .status
        .as_str()
        .to_string()
}

async fn demand_status(app: &TestApp, id: &str) -> String {
    cases::store::get_demand(&app.ctx.db, id)
        .await
        .unwrap()
        .unwrap()
        .status
        .as_str()
        .to_string()
}

/// A `datetime-local` value `minutes` before the test clock's now.
fn local_ago(app: &TestApp, minutes: i64) -> String {
    use kernel::clock::Clock;
    kernel::clock::to_rfc3339(app.clock.now_ms() - minutes * 60_000)[..16].to_string()
}

async fn file(app: &TestApp, token: &str, category: &str, title: &str) -> String {
    let (s, v) = app
        .post(
            "/api/v1/demands",
            token,
            json!({"category": category, "title": title, "description": "楼上洗衣机下水管道漏水,渗到我家卫生间吊顶,沟通时吵了起来"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_demo_case_as_its_mediator_sees_it() {
    let app = spawn_app().await;
    let id = demo_case_id(&app).await;
    let branch = logged_in(&app, "branch-fh").await;

    let (s, html) = page(&app, &branch, "/mediation").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("矛盾调解"));
    assert!(html.contains(cases::mediation::demo::TITLE));
    assert!(html.contains(&format!("href=\"/mediation/{id}\"")));
    assert!(html.contains("badge status-agreed") && html.contains("已达成协议"));
    assert!(
        html.contains("href=\"/mediation\" class=\"active\" aria-current=\"page\""),
        "the 调解 tab is in the navigation, active"
    );

    let path = format!("/mediation/{id}");
    let (s, html) = page(&app, &branch, &path).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains(cases::mediation::demo::TITLE));
    for text in [
        "泛华盛世小区",
        "3号楼 1单元 401室",
        "3号楼 1单元 501室",
        "申请人",
        "被申请人",
        "雷爱珍",
        "泛华盛世物业 张经理",
        "党员",
        "3号楼1单元401室、501室",
        "达成调解协议",
        cases::mediation::demo::AGREEMENT,
        "两家人握手言和",
        "满意",
    ] {
        assert!(html.contains(text), "{text} on the case page");
    }
    // After the agreement: a visit may be recorded and the case closed
    // (with a confirmation); no second session or outcome.
    assert!(html.contains(&format!("action=\"/mediation/{id}/followups\"")));
    assert!(html.contains(&format!("action=\"/mediation/{id}/close\"")));
    assert!(html.contains("data-confirm=\"结案后不能再登记回访"));
    assert!(!html.contains(&format!("action=\"/mediation/{id}/sessions\"")));
    assert!(!html.contains(&format!("action=\"/mediation/{id}/outcome\"")));
    assert!(html.contains("type=\"datetime-local\""));

    // The visit and the closing, from the page.
    let csrf = form_csrf(&app, &branch, &path).await;
    let version = hidden(&html, "version");
    let r = post_form(
        &app,
        &branch,
        &format!("{path}/followups"),
        &[
            ("csrf", &csrf),
            ("version", &version),
            ("visited_at", &local_ago(&app, 5)),
            ("notes", "一个月后再访,两家相处融洽"),
            ("satisfied", "yes"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), path);
    let (_, html) = page(&app, &branch, &path).await;
    assert!(html.contains("一个月后再访,两家相处融洽"));
    let version = hidden(&html, "version");
    let r = post_form(
        &app,
        &branch,
        &format!("{path}/close"),
        &[
            ("csrf", &csrf),
            ("version", &version),
            ("note", ""),
            ("confirmed", "1"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(case_status(&app, &id).await, "closed");
    let (_, html) = page(&app, &branch, &path).await;
    assert!(html.contains("已结案") && html.contains("结案时间"));
    assert!(
        !html.contains("action=\"/mediation/"),
        "nothing more to record"
    );
    // A stale form (the old version) is refused on the page, nothing changes.
    let r = post_form(
        &app,
        &branch,
        &format!("{path}/followups"),
        &[
            ("csrf", &csrf),
            ("version", &version),
            ("visited_at", &local_ago(&app, 1)),
            ("notes", "再次回访"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("该调解已结案"));
}

#[tokio::test]
async fn other_compounds_and_communities_do_not_see_the_case() {
    let app = spawn_app().await;
    let id = demo_case_id(&app).await;
    let path = format!("/mediation/{id}");

    // A resident of another compound, and one of the same compound who is
    // no party: 404, as for a case that does not exist.
    for login in ["13800000001", "13800000003"] {
        let c = logged_in(&app, login).await;
        let (s, html) = page(&app, &c, &path).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{login}");
        assert!(!html.contains(cases::mediation::demo::TITLE));
        let (s, html) = page(&app, &c, "/mediation").await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("暂无调解案件"), "{login}: the empty state");
        assert!(
            !html.contains("action=\"/mediation\""),
            "{login}: residents open no case"
        );
    }

    // Another community's staff: not in the list, 404 on the page.
    let zq = logged_in(&app, "community-zq").await;
    let (s, html) = page(&app, &zq, "/mediation").await;
    assert_eq!(s, StatusCode::OK);
    assert!(!html.contains(cases::mediation::demo::TITLE));
    assert!(html.contains("暂无调解案件"));
    let (s, _) = page(&app, &zq, &path).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Nor may they record on it.
    let csrf = form_csrf(&app, &zq, "/mediation").await;
    let r = post_form(&app, &zq, &format!("{path}/close"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(case_status(&app, &id).await, "agreed");

    let branch = logged_in(&app, "branch-fh").await;
    for bad in [
        "/mediation/not-an-id",
        "/mediation/0195b4a2-0000-7000-8000-000000000000",
    ] {
        let (s, _) = page(&app, &branch, bad).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{bad}");
    }
}

#[tokio::test]
async fn a_dispute_demand_is_mediated_from_its_page_to_an_agreement() {
    let app = spawn_app().await;
    let resident = app.token("13800000003").await;
    let demand = file(&app, &resident, "neighbour_dispute", "楼上漏水邻里纠纷").await;
    let leak = file(&app, &resident, "leak", "卫生间吊顶渗水").await;
    let demand_path = format!("/demands/{demand}");

    // Only a dispute shows the button, and only to staff over the compound.
    let property = logged_in(&app, "property-fh").await;
    let (s, html) = page(&app, &property, &demand_path).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("发起调解") && html.contains("action=\"/mediation\""));
    assert_eq!(hidden(&html, "demand_id"), demand);
    assert!(html.contains("data-confirm=\"确定为这条诉求发起调解吗"));
    let (_, html) = page(&app, &property, &format!("/demands/{leak}")).await;
    assert!(!html.contains("action=\"/mediation\""), "not for a leak");
    let me = logged_in(&app, "13800000003").await;
    let (_, html) = page(&app, &me, &demand_path).await;
    assert!(
        !html.contains("action=\"/mediation\""),
        "not for the resident"
    );

    // Open it from the demand page.
    let (_, html) = page(&app, &property, &demand_path).await;
    let csrf = form_csrf(&app, &property, &demand_path).await;
    let title = hidden(&html, "title");
    assert_eq!(title, "楼上漏水邻里纠纷");
    let before = app.count("mediations").await;
    let r = post_form(
        &app,
        &property,
        "/mediation",
        &[("demand_id", &demand), ("title", &title)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "no CSRF token");
    assert_eq!(app.count("mediations").await, before);
    let r = post_form(
        &app,
        &property,
        "/mediation",
        &[("csrf", &csrf), ("demand_id", &demand), ("title", &title)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let path = location(&r);
    assert!(path.starts_with("/mediation/"), "{path}");
    let id = path.trim_start_matches("/mediation/").to_string();
    assert_eq!(app.count("mediations").await, before + 1);
    let (_, html) = page(&app, &property, &demand_path).await;
    assert!(
        !html.contains("action=\"/mediation\""),
        "one open case per demand: the button is gone"
    );

    let (s, html) = page(&app, &property, &path).await;
    assert_eq!(s, StatusCode::OK);
    for text in [
        "楼上漏水邻里纠纷",
        "调解中",
        "3号楼 1单元 301室",
        "申请人",
        "泛华盛世物业 张经理",
        "楼上洗衣机下水管道漏水",
        "还没有调解记录",
    ] {
        assert!(html.contains(text), "{text}");
    }
    assert!(html.contains(&format!("href=\"{demand_path}\"")));
    assert!(html.contains(&format!("action=\"{path}/sessions\"")));
    assert!(html.contains(&format!("action=\"{path}/outcome\"")));
    assert!(html.contains("data-confirm=\"调解结果记录后不能修改"));
    assert!(!html.contains(&format!("action=\"{path}/close\"")));

    // A session, entered as a datetime-local value.
    let r = post_form(
        &app,
        &property,
        &format!("{path}/sessions"),
        &[
            ("csrf", &csrf),
            ("version", &hidden(&html, "version")),
            ("held_at", &local_ago(&app, 90)),
            ("place", "3号楼1单元楼道"),
            ("notes", "双方到场,各自陈述,情绪平复"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), path);
    let (_, html) = page(&app, &property, &path).await;
    assert!(html.contains("3号楼1单元楼道") && html.contains("双方到场,各自陈述,情绪平复"));
    assert!(html.contains(&local_ago(&app, 90).replace('T', " ")));
    let version = hidden(&html, "version");

    // A session with a bad time: the page again with the reason.
    let r = post_form(
        &app,
        &property,
        &format!("{path}/sessions"),
        &[
            ("csrf", &csrf),
            ("version", &version),
            ("held_at", "yesterday"),
            ("place", "物业办公室"),
            ("notes", "第二次调解"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("调解时间格式应为"));
    assert!(html.contains("第二次调解"), "the typed notes are kept");

    // Without the CSRF token nothing happens.
    let agreement = "楼上住户负责维修下水管道并承担吊顶修复费用,一周内完工";
    let r = post_form(
        &app,
        &property,
        &format!("{path}/outcome"),
        &[
            ("version", &version),
            ("kind", "agreement"),
            ("agreement_text", agreement),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(case_status(&app, &id).await, "open");

    // An agreement without its text: the page with the reason, nothing changes.
    let r = post_form(
        &app,
        &property,
        &format!("{path}/outcome"),
        &[
            ("csrf", &csrf),
            ("version", &version),
            ("kind", "agreement"),
            ("agreement_text", "  "),
            ("note", "双方口头同意"),
            ("confirmed", "1"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("达成协议时请填写协议内容"));
    assert!(html.contains("双方口头同意"), "the typed note is kept");
    assert!(
        html.contains("<details class=\"more-action\" open><summary>记录调解结果"),
        "the refused form is shown open"
    );
    assert_eq!(case_status(&app, &id).await, "open");
    assert_ne!(demand_status(&app, &demand).await, "closed");

    // The agreement closes the demand.
    let r = post_form(
        &app,
        &property,
        &format!("{path}/outcome"),
        &[
            ("csrf", &csrf),
            ("version", &version),
            ("kind", "agreement"),
            ("agreement_text", agreement),
            ("confirmed", "1"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(case_status(&app, &id).await, "agreed");
    assert_eq!(demand_status(&app, &demand).await, "closed");
    let (_, html) = page(&app, &property, &path).await;
    assert!(html.contains("已达成协议") && html.contains(agreement));
    assert!(html.contains(&format!("action=\"{path}/followups\"")));
    let (_, html) = page(&app, &property, &demand_path).await;
    assert!(html.contains("调解结案"), "the demand's timeline says why");

    // The applicant's resident reads the case, and records nothing.
    let (s, html) = page(&app, &me, "/mediation").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains(&format!("href=\"{path}\"")));
    assert!(
        html.contains("href=\"/mediation\""),
        "the 调解 tab for residents"
    );
    let (s, html) = page(&app, &me, &path).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains(agreement));
    assert!(!html.contains(&format!("action=\"{path}/")));
    let mcsrf = form_csrf(&app, &me, &path).await;
    let r = post_form(&app, &me, &format!("{path}/close"), &[("csrf", &mcsrf)]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("您没有执行此操作的权限"));
    assert_eq!(case_status(&app, &id).await, "agreed");
}

#[tokio::test]
async fn a_standalone_case_from_the_list_page() {
    let app = spawn_app().await;
    // branch-fh serves one compound: the form offers its households at once.
    let branch = logged_in(&app, "branch-fh").await;
    let (_, html) = page(&app, &branch, "/mediation").await;
    assert!(html.contains("name=\"compound_id\""));
    assert!(html.contains("3号楼 1单元 401室"));
    assert!(
        !html.contains("name=\"compound\""),
        "no picker for one compound"
    );
    let csrf = form_csrf(&app, &branch, "/mediation").await;
    let compound = app.node_id(FH).await;
    let before = app.count("mediations").await;

    let r = post_form(
        &app,
        &branch,
        "/mediation",
        &[
            ("csrf", &csrf),
            ("compound_id", &compound),
            ("title", "楼道堆物纠纷"),
            ("summary", "两户因楼道堆放杂物发生争执"),
            ("applicant", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("请至少填写一户当事人"));
    assert!(
        html.contains("两户因楼道堆放杂物发生争执"),
        "typed text kept"
    );
    assert_eq!(app.count("mediations").await, before);

    let h401 = app.node_id(FH_401).await;
    let h301 = app.node_id(FH_301).await;
    let r = post_form(
        &app,
        &branch,
        "/mediation",
        &[
            ("csrf", &csrf),
            ("compound_id", &compound),
            ("title", "楼道堆物纠纷"),
            ("summary", "两户因楼道堆放杂物发生争执"),
            ("applicant", &h301),
            ("respondent", &h401),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let path = location(&r);
    let (_, html) = page(&app, &branch, &path).await;
    assert!(html.contains("3号楼 1单元 301室") && html.contains("3号楼 1单元 401室"));
    assert!(html.contains("被申请人"));
    let (_, html) = page(&app, &branch, "/mediation").await;
    let newest = html.find("楼道堆物纠纷").unwrap();
    let older = html.find(cases::mediation::demo::TITLE).unwrap();
    assert!(newest < older, "newest first");

    // The district serves two compounds: pick one first.
    let district = logged_in(&app, "district-ls").await;
    let (_, html) = page(&app, &district, "/mediation").await;
    assert!(html.contains("name=\"compound\"") && html.contains("新城壹号小区"));
    assert!(!html.contains("name=\"compound_id\""));
    let xc = app.node_id(XC).await;
    let (s, html) = page(&app, &district, &format!("/mediation?compound={xc}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains(&format!("name=\"compound_id\" value=\"{xc}\"")));
    assert!(html.contains("1号楼 1单元 101室"));
    assert!(
        !html.contains("3号楼 1单元 401室"),
        "only the picked compound"
    );
}

#[tokio::test]
async fn the_pages_in_english() {
    let app = spawn_app().await;
    let id = demo_case_id(&app).await;
    let branch = logged_in(&app, "branch-fh").await;
    let (s, html) = page(&app, &branch, "/mediation?lang=en").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("<html lang=\"en\">"));
    for text in [
        "Dispute mediation",
        "Mediation cases",
        "Agreed",
        ">Mediation<",
    ] {
        assert!(html.contains(text), "{text}");
    }
    let (s, html) = page(&app, &branch, &format!("/mediation/{id}?lang=en")).await;
    assert_eq!(s, StatusCode::OK);
    for text in [
        "Parties",
        "Applicant",
        "Respondent",
        "Mediators",
        "Party member",
        "Agreement reached",
        "Record a follow-up visit",
        "Close the case",
        cases::mediation::demo::AGREEMENT,
    ] {
        assert!(html.contains(text), "{text}");
    }
    assert!(!html.contains("mediation."), "no untranslated key");
}
