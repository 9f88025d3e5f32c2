//! The workflow in the web pages: act on a demand, rate it, say 我也遇到,
//! file with a photo, the inbox badges and the supervision board.

use crate::helpers::*;
use crate::pages::{form_csrf, location, logged_in, page, post_form};
use reqwest::StatusCode;
use serde_json::json;

async fn demand_status(app: &TestApp, id: &str) -> String {
    cases::store::get_demand(&app.ctx.db, id)
        .await
        .unwrap()
        .unwrap()
        .status
        .as_str()
        .to_string()
}

#[tokio::test]
async fn staff_take_steps_from_the_demand_page() {
    let app = spawn_app().await;
    let resident = app.token("13800000001").await;
    let id = app.file_demand(&resident, "页面办理").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/demands/{id}");

    let community = logged_in(&app, "community-zq").await;
    let (s, html) = page(&app, &community, &path).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains("value=\"accept\"") && html.contains("受理"),
        "the next step is offered"
    );
    assert!(
        !html.contains("value=\"resolve\""),
        "a step that does not apply is not offered"
    );
    let csrf = form_csrf(&app, &community, &path).await;

    let r = post_form(
        &app,
        &community,
        &format!("{path}/act"),
        &[("csrf", &csrf), ("action", "accept")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), path);
    assert_eq!(demand_status(&app, &id).await, "accepted");

    // A refused step re-renders the page with the reason, and changes nothing.
    let r = post_form(
        &app,
        &community,
        &format!("{path}/act"),
        &[("csrf", &csrf), ("action", "verify_pass")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("当前状态下不能执行该操作"));
    assert_eq!(demand_status(&app, &id).await, "accepted");
    // Without the CSRF token nothing happens.
    let r = post_form(
        &app,
        &community,
        &format!("{path}/act"),
        &[("csrf", "forged"), ("action", "dispatch")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(demand_status(&app, &id).await, "accepted");

    // Dispatch offers the compound's handlers, auto-routing first.
    let (_, html) = page(&app, &community, &path).await;
    assert!(html.contains("自动派单") && html.contains("赵晓东"));
    let r = post_form(
        &app,
        &community,
        &format!("{path}/act"),
        &[("csrf", &csrf), ("action", "dispatch"), ("assignee", "")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // The butler: the demand is in the inbox; start and resolve are two taps.
    let butler = logged_in(&app, "butler-xc").await;
    let (_, work) = page(&app, &butler, "/work").await;
    assert!(work.contains(&format!("/demands/{id}")));
    let bcsrf = form_csrf(&app, &butler, &path).await;
    let r = post_form(
        &app,
        &butler,
        &format!("{path}/act"),
        &[("csrf", &bcsrf), ("action", "start")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = post_form(
        &app,
        &butler,
        &format!("{path}/act"),
        &[("csrf", &bcsrf), ("action", "resolve"), ("note", "")],
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "resolve needs a note"
    );
    let r = post_form(
        &app,
        &butler,
        &format!("{path}/act"),
        &[("csrf", &bcsrf), ("action", "resolve"), ("note", "已修好")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(demand_status(&app, &id).await, "resolved");

    // The resident rates it on the page.
    let me = logged_in(&app, "13800000001").await;
    let (_, html) = page(&app, &me, &path).await;
    assert!(html.contains("回访评价") && html.contains("action=\"/demands/"));
    let mcsrf = form_csrf(&app, &me, &path).await;
    let form = [
        ("csrf", mcsrf.as_str()),
        ("contacted", "yes"),
        ("resolved", "yes"),
        ("satisfaction", "4"),
        ("comment", "谢谢管家"),
    ];
    let r = post_form(&app, &me, &format!("{path}/rate"), &form).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&app, &me, &path).await;
    assert!(html.contains("满意度:满意"), "the rating is shown");
    assert!(!html.contains("提交评价"), "and the form is gone");
    let r = post_form(&app, &me, &format!("{path}/rate"), &form).await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "rating twice is refused"
    );
}

#[tokio::test]
async fn the_inbox_marks_overdue_demands() {
    let app = spawn_app().await;
    let resident = app.token("13800000001").await;
    let community = app.token("community-zq").await;
    let id = app.file_demand(&resident, "超期标记").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    for action in ["accept", "dispatch"] {
        let (s, _) = app
            .post(
                &format!("/api/v1/demands/{id}/transitions"),
                &community,
                json!({"action": action}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
    }
    app.clock.advance_ms(20 * 86_400_000);
    cases::flow::sweep(&app.ctx).await.unwrap();
    let butler = logged_in(&app, "butler-xc").await;
    let (_, html) = page(&app, &butler, "/work").await;
    let inbox = &html[html.find("待办").unwrap()..html.find("辖区诉求").unwrap()];
    assert!(
        inbox.contains("超期标记") && inbox.contains("badge-overdue"),
        "{inbox}"
    );

    // The community's supervision board lists it, with counts by unit.
    let staff = logged_in(&app, "community-zq").await;
    let (s, html) = page(&app, &staff, "/work/board").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("督办看板") && html.contains("超期标记"));
    assert!(html.contains("新城壹号小区"));
    let (s, _) = page(&app, &butler, "/work/board").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a butler has no board");
}

#[tokio::test]
async fn me_too_from_the_resident_home() {
    let app = spawn_app().await;
    let r1 = app.token("13800000001").await;
    let id = app.file_demand(&r1, "门口路灯坏了").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let neighbour = logged_in(&app, "13800000002").await;
    let (_, html) = page(&app, &neighbour, "/me").await;
    assert!(html.contains("门口路灯坏了") && html.contains("我也遇到"));
    let csrf = form_csrf(&app, &neighbour, "/me").await;
    let r = post_form(
        &app,
        &neighbour,
        &format!("/demands/{id}/support"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/me?supported=1");
    assert_eq!(
        cases::store::get_demand(&app.ctx.db, &id)
            .await
            .unwrap()
            .unwrap()
            .support_count,
        1
    );
}

#[tokio::test]
async fn filing_with_a_photo() {
    let app = spawn_app().await;
    let me = logged_in(&app, "13800000001").await;
    let csrf = form_csrf(&app, &me, "/me").await;
    let png: Vec<u8> = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"
        .iter()
        .copied()
        .chain(std::iter::repeat_n(7u8, 64))
        .collect();
    let form = |photo: Vec<u8>| {
        reqwest::multipart::Form::new()
            .text("csrf", csrf.clone())
            .text("category", "leak")
            .text("title", "带照片的诉求")
            .text("description", "卫生间顶棚渗水,附照片")
            .part(
                "photo",
                reqwest::multipart::Part::bytes(photo).file_name("ceiling.png"),
            )
    };
    let before = app.count("demands").await;
    let r = me
        .post(app.url("/demands"))
        .multipart(form(b"not an image".to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("只能上传 JPEG、PNG 或 WebP 格式的照片"));
    assert!(
        html.contains("卫生间顶棚渗水,附照片"),
        "the typed text is kept"
    );
    assert_eq!(app.count("demands").await, before, "nothing written");

    let r = me
        .post(app.url("/demands"))
        .multipart(form(png.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("demands").await, before + 1);
    assert_eq!(app.count("attachments").await, 1);
    use sqlx::Row;
    let id: String = sqlx::query("SELECT demand_id FROM attachments")
        .fetch_one(app.ctx.db.reader())
        .await
        .unwrap()
        .get(0);
    let (_, html) = page(&app, &me, &format!("/demands/{id}")).await;
    assert!(html.contains("<img class=\"photo\""));
}

#[tokio::test]
async fn the_auditor_reads_the_audit_log_page() {
    let app = spawn_app().await;
    let auditor = logged_in(&app, "auditor").await;
    let (s, html) = page(&app, &auditor, "/audit").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains("审计日志") && html.contains("校验通过"),
        "the chain is verified on the page"
    );
    assert!(
        html.contains("<td>登录</td>"),
        "the auditor's own login is listed, by its label"
    );
    assert!(html.contains("href=\"/audit\""), "the nav leads there");
    assert!(
        !html.contains("href=\"/work\""),
        "no workbench for the auditor"
    );
    let butler = logged_in(&app, "butler-xc").await;
    let (s, _) = page(&app, &butler, "/audit").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}
