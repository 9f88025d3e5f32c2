//! Every form that posts, refused: each is sent bad input with the session's
//! CSRF token by a caller allowed to use it, and must answer the page again
//! (422, no redirect) with the typed values kept (never passwords) and the
//! message next to its field — the control marked `aria-invalid` and
//! pointing (`aria-describedby`) at a `.field-error` that follows it inside
//! the same field. Irreversible steps (rejecting a demand, recording a
//! mediation outcome, closing a case, transferring a party member out,
//! approving a deletion) refuse without the confirming tick, on the server,
//! and change nothing.

use crate::helpers::*;
use crate::pages::{browser, form_csrf, hidden, location, logged_in, page, post_form};
use reqwest::{Client, StatusCode};
use serde_json::json;

const FH: &str = "/141100/141102/141102002/141102002003/FH/";
const FH_401: &str = "/141100/141102/141102002/141102002003/FH/B3/U1/401/";
const LISHI: &str = "/141100/141102/";

/// The control that points at `err_id` is marked invalid, and the message
/// (containing `msg`) follows it within the same field.
fn assert_field_message(html: &str, err_id: &str, msg: &str) {
    let pointer = format!("aria-describedby=\"{err_id}\"");
    let at = html
        .find(&pointer)
        .unwrap_or_else(|| panic!("no control points at {err_id}:\n{html}"));
    let tag_start = html[..at].rfind('<').unwrap();
    let tag_end = at + html[at..].find('>').unwrap();
    let tag = &html[tag_start..=tag_end];
    assert!(
        tag.contains("aria-invalid=\"true\""),
        "{tag} is marked invalid"
    );
    let marker = format!("<p class=\"field-error\" id=\"{err_id}\">");
    let m = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no message {err_id}:\n{html}"));
    assert!(m > tag_end, "the message {err_id} follows its control");
    let between = &html[tag_end..m];
    assert!(
        !between.contains("<div class=\"field") && !between.contains("<fieldset"),
        "the message {err_id} is in its control's field, not the next one: {between}"
    );
    let text_end = m + html[m..].find("</p>").unwrap();
    let text = &html[m + marker.len()..text_end];
    assert!(text.contains(msg), "{err_id}: {text:?} says {msg:?}");
}

async fn refused(r: reqwest::Response) -> String {
    let s = r.status();
    let html = r.text().await.unwrap();
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    html
}

// ---------------------------------------------------------------- accounts

#[tokio::test]
async fn login_password_and_totp_forms_keep_input_and_show_field_messages() {
    let app = spawn_app().await;
    // Login: a wrong password; the account is kept, the password is not.
    let c = browser();
    let (_, html) = page(&app, &c, "/login").await;
    let csrf = hidden(&html, "csrf");
    let r = post_form(
        &app,
        &c,
        "/login",
        &[
            ("login", "13800000001"),
            ("password", "wrong-password-1"),
            ("csrf", &csrf),
            ("next", ""),
        ],
    )
    .await;
    let html = refused(r).await;
    assert!(html.contains("value=\"13800000001\""));
    assert!(!html.contains("wrong-password-1"));
    assert_field_message(&html, "login-password-error", "账号或密码错误");
    // An empty account: the message by the account field.
    let csrf = hidden(&html, "csrf");
    let r = post_form(
        &app,
        &c,
        "/login",
        &[
            ("login", ""),
            ("password", "x"),
            ("csrf", &csrf),
            ("next", ""),
        ],
    )
    .await;
    let html = refused(r).await;
    assert_field_message(&html, "login-login-error", "请填写账号");

    // Password change: the wrong current password.
    let me = logged_in(&app, "13800000001").await;
    let csrf = form_csrf(&app, &me, "/me/password").await;
    let r = post_form(
        &app,
        &me,
        "/me/password",
        &[
            ("csrf", &csrf),
            ("current_password", "not-my-password"),
            ("new_password", "a-much-longer-Passw0rd"),
        ],
    )
    .await;
    let html = refused(r).await;
    assert_field_message(&html, "password-current_password-error", "当前密码不正确");
    assert!(!html.contains("not-my-password") && !html.contains("a-much-longer-Passw0rd"));
    // TOTP enrolment: the wrong password.
    let staff = logged_in(&app, "community-zq").await;
    let csrf = form_csrf(&app, &staff, "/me/totp").await;
    let r = post_form(
        &app,
        &staff,
        "/me/totp",
        &[("csrf", &csrf), ("password", "nope-nope")],
    )
    .await;
    let html = refused(r).await;
    assert_field_message(&html, "totp-password-error", "当前密码不正确");
}

// ---------------------------------------------------------------- demands

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
async fn demand_forms_keep_input_and_show_field_messages() {
    let app = spawn_app().await;
    // Filing without a title.
    let me = logged_in(&app, "13800000001").await;
    let csrf = form_csrf(&app, &me, "/me").await;
    let r = post_form(
        &app,
        &me,
        "/demands",
        &[
            ("csrf", &csrf),
            ("category", "leak"),
            ("title", ""),
            ("description", "厨房水管一直滴水"),
            ("location", "厨房水槽下"),
        ],
    )
    .await;
    let html = refused(r).await;
    assert!(html.contains("厨房水管一直滴水") && html.contains("value=\"厨房水槽下\""));
    assert_field_message(&html, "title-error", "");

    // Rejecting without the tick, then without a reason.
    let resident = app.token("13800000001").await;
    let id = app.file_demand(&resident, "表单测试诉求").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/demands/{id}");
    let staff = logged_in(&app, "community-zq").await;
    let csrf = form_csrf(&app, &staff, &path).await;
    let r = post_form(
        &app,
        &staff,
        &format!("{path}/act"),
        &[
            ("csrf", &csrf),
            ("action", "reject"),
            ("note", "不属于物业服务范围"),
        ],
    )
    .await;
    let html = refused(r).await;
    assert_field_message(&html, "act-reject-confirmed-error", "请先勾选");
    assert!(
        html.contains(">不属于物业服务范围</textarea>"),
        "the reason is kept"
    );
    assert!(
        html.contains("<details class=\"more-action\" open><summary>不予受理"),
        "the refused step is shown open"
    );
    assert_eq!(demand_status(&app, &id).await, "submitted");
    let r = post_form(
        &app,
        &staff,
        &format!("{path}/act"),
        &[
            ("csrf", &csrf),
            ("action", "reject"),
            ("note", ""),
            ("confirmed", "1"),
        ],
    )
    .await;
    let html = refused(r).await;
    assert_field_message(&html, "act-reject-note-error", "说明");
    assert_eq!(demand_status(&app, &id).await, "submitted");

    // Take it to resolved, then a rating out of range keeps the comment.
    let staff_t = app.token("community-zq").await;
    for body in [json!({"action": "accept"}), json!({"action": "dispatch"})] {
        let (s, v) = app
            .post(&format!("/api/v1/demands/{id}/transitions"), &staff_t, body)
            .await;
        assert!(s.is_success(), "{v}");
    }
    let butler = app.token("butler-xc").await;
    for body in [
        json!({"action": "start"}),
        json!({"action": "resolve", "note": "已处理"}),
    ] {
        let (s, v) = app
            .post(&format!("/api/v1/demands/{id}/transitions"), &butler, body)
            .await;
        assert!(s.is_success(), "{v}");
    }
    let csrf = form_csrf(&app, &me, &path).await;
    let r = post_form(
        &app,
        &me,
        &format!("{path}/rate"),
        &[
            ("csrf", &csrf),
            ("contacted", "no"),
            ("resolved", "yes"),
            ("satisfaction", "9"),
            ("comment", "师傅来得很快"),
        ],
    )
    .await;
    let html = refused(r).await;
    assert_field_message(&html, "rate-satisfaction-error", "");
    assert!(html.contains(">师傅来得很快</textarea>"));
    assert!(
        html.contains("name=\"contacted\" value=\"no\" checked"),
        "the chosen answer is kept"
    );
}

// ---------------------------------------------------------------- mediation

async fn case_status(app: &TestApp, id: &str) -> String {
    use sqlx::Row;
    sqlx::query("SELECT status FROM mediations WHERE id = $1")
        .bind(id)
        .fetch_one(app.ctx.db.reader())
        .await
        .unwrap()
        .get("status")
}

#[tokio::test]
async fn mediation_forms_keep_input_and_confirm_irreversible_steps() {
    let app = spawn_app().await;
    let branch = logged_in(&app, "branch-fh").await;
    let csrf = form_csrf(&app, &branch, "/mediation").await;
    let compound = app.node_id(FH).await;
    let h401 = app.node_id(FH_401).await;
    let r = post_form(
        &app,
        &branch,
        "/mediation",
        &[
            ("csrf", &csrf),
            ("compound_id", &compound),
            ("title", "空调外机噪音"),
            ("summary", "楼上空调外机夜间噪音大"),
            ("applicant", &h401),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let path = location(&r);
    let id = path.rsplit('/').next().unwrap().to_string();
    let (_, html) = page(&app, &branch, &path).await;
    let version = hidden(&html, "version");

    // A session without its place keeps the notes.
    let r = post_form(
        &app,
        &branch,
        &format!("{path}/sessions"),
        &[
            ("csrf", &csrf),
            ("version", &version),
            ("held_at", "2026-11-20T19:00"),
            ("place", ""),
            ("notes", "双方到场,各自陈述"),
        ],
    )
    .await;
    let html = refused(r).await;
    assert_field_message(&html, "session-place-error", "");
    assert!(html.contains(">双方到场,各自陈述</textarea>"));
    assert!(html.contains("value=\"2026-11-20T19:00\""));

    // The outcome: without the tick nothing is recorded.
    let outcome = |confirmed: &'static str, text: &'static str| {
        let (csrf, version) = (csrf.clone(), version.clone());
        let mut form = vec![
            ("csrf".to_string(), csrf),
            ("version".to_string(), version),
            ("kind".to_string(), "agreement".to_string()),
            ("agreement_text".to_string(), text.to_string()),
            ("note".to_string(), "当面签字".to_string()),
        ];
        if !confirmed.is_empty() {
            form.push(("confirmed".to_string(), confirmed.to_string()));
        }
        form
    };
    let r = branch
        .post(app.url(&format!("{path}/outcome")))
        .form(&outcome("", "夜间关闭外机"))
        .send()
        .await
        .unwrap();
    let html = refused(r).await;
    assert_field_message(&html, "outcome-confirmed-error", "请先勾选");
    assert!(html.contains(">夜间关闭外机</textarea>") && html.contains(">当面签字</textarea>"));
    assert_eq!(case_status(&app, &id).await, "open");
    // With the tick but no agreement text: the message by that field.
    let r = branch
        .post(app.url(&format!("{path}/outcome")))
        .form(&outcome("1", " "))
        .send()
        .await
        .unwrap();
    let html = refused(r).await;
    assert_field_message(&html, "outcome-agreement_text-error", "协议内容");
    assert_eq!(case_status(&app, &id).await, "open");
    let r = branch
        .post(app.url(&format!("{path}/outcome")))
        .form(&outcome("1", "夜间关闭外机"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(case_status(&app, &id).await, "agreed");

    // A visit without notes keeps the satisfaction chosen.
    let (_, html) = page(&app, &branch, &path).await;
    let version = hidden(&html, "version");
    let r = post_form(
        &app,
        &branch,
        &format!("{path}/followups"),
        &[
            ("csrf", &csrf),
            ("version", &version),
            ("visited_at", "2026-11-25T10:00"),
            ("notes", ""),
            ("satisfied", "no"),
        ],
    )
    .await;
    let html = refused(r).await;
    assert_field_message(&html, "followup-notes-error", "");
    assert!(html.contains("name=\"satisfied\" value=\"no\" checked"));

    // Closing: refused without the tick, the note kept; with it, closed.
    let r = post_form(
        &app,
        &branch,
        &format!("{path}/close"),
        &[("csrf", &csrf), ("version", &version), ("note", "回访满意")],
    )
    .await;
    let html = refused(r).await;
    assert_field_message(&html, "close-confirmed-error", "请先勾选");
    assert!(html.contains(">回访满意</textarea>"));
    assert!(
        html.contains("结案后不能再登记回访"),
        "what cannot be undone is said"
    );
    assert_eq!(case_status(&app, &id).await, "agreed");
    let r = post_form(
        &app,
        &branch,
        &format!("{path}/close"),
        &[
            ("csrf", &csrf),
            ("version", &version),
            ("note", "回访满意"),
            ("confirmed", "1"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(case_status(&app, &id).await, "closed");
}

// ---------------------------------------------------------------- party

async fn party_org(app: &TestApp, token: &str, name: &str) -> String {
    let (_, v) = app.get("/api/v1/party/orgs", token).await;
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == name)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn party_forms_keep_input_and_transfers_need_the_tick() {
    let app = spawn_app().await;
    let c = logged_in(&app, "branch-fh").await;
    let t = app.token("branch-fh").await;
    let fh = party_org(&app, &t, "泛华盛世小区党支部").await;

    // A new activity without a topic keeps the place and minutes.
    let csrf = form_csrf(&app, &c, &format!("/party/activities/new?org={fh}")).await;
    let r = post_form(
        &app,
        &c,
        "/party/activities",
        &[
            ("csrf", &csrf),
            ("org_id", &fh),
            ("kind", "branch_assembly"),
            ("title", ""),
            ("held_at", "2026-11-20T09:00"),
            ("place", "党群服务站"),
            ("minutes", "学习会议精神"),
        ],
    )
    .await;
    let html = refused(r).await;
    assert_field_message(&html, "activity-title-error", "");
    assert!(html.contains("value=\"党群服务站\"") && html.contains(">学习会议精神</textarea>"));

    // A new member with a bad phone keeps the name.
    let r = post_form(
        &app,
        &c,
        "/party/members",
        &[
            ("csrf", &csrf),
            ("branch_id", &fh),
            ("name", "周建国"),
            ("phone", "12345"),
            ("status", "full"),
            ("mode", "resident"),
        ],
    )
    .await;
    let html = refused(r).await;
    assert_field_message(&html, "member-phone-error", "");
    assert!(html.contains("value=\"周建国\"") && html.contains("value=\"12345\""));

    // A floating member's check-in without a place keeps the note.
    let (_, v) = app
        .get(&format!("/api/v1/party/members?org={fh}&mode=floating"), &t)
        .await;
    let floating = v["items"][0]["id"].as_str().unwrap().to_string();
    let r = post_form(
        &app,
        &c,
        &format!("/party/members/{floating}/checkins"),
        &[
            ("csrf", &csrf),
            ("at", "2026-11-20T10:00"),
            ("place", ""),
            ("note", "电话联系"),
        ],
    )
    .await;
    let html = refused(r).await;
    assert_field_message(&html, "checkin-place-error", "");
    assert!(html.contains("value=\"电话联系\"") && html.contains("value=\"2026-11-20T10:00\""));

    // A member: service hours that are not a number; a transfer without the tick.
    let (_, v) = app
        .get(&format!("/api/v1/party/members?org={fh}"), &t)
        .await;
    let m = &v["items"][0];
    let mid = m["id"].as_str().unwrap().to_string();
    let path = format!("/party/members/{mid}");
    let (s, html) = page(&app, &c, &path).await;
    assert_eq!(s, StatusCode::OK);
    let version = hidden(&html, "version");
    let r = post_form(
        &app,
        &c,
        &format!("{path}/service"),
        &[
            ("csrf", &csrf),
            ("served_on", "2026-11-20"),
            ("hours", "两小时"),
            ("description", "清理楼道"),
        ],
    )
    .await;
    let html = refused(r).await;
    assert_field_message(&html, "service-hours-error", "数字");
    assert!(html.contains("value=\"两小时\"") && html.contains("value=\"清理楼道\""));

    let status_of = || app.count("party_transfers");
    let before = status_of().await;
    let r = post_form(
        &app,
        &c,
        &format!("{path}/transfer"),
        &[
            ("csrf", &csrf),
            ("version", &version),
            ("to_external", "太原市某单位党支部"),
            ("transferred_on", "2026-11-20"),
            ("reason", "工作调动"),
        ],
    )
    .await;
    let html = refused(r).await;
    assert_field_message(&html, "transfer-confirmed-error", "请先勾选");
    assert!(html.contains("value=\"太原市某单位党支部\"") && html.contains("value=\"工作调动\""));
    assert!(
        html.contains("不能在此撤回"),
        "what cannot be undone is said"
    );
    assert_eq!(status_of().await, before, "nothing changed");
    let r = post_form(
        &app,
        &c,
        &format!("{path}/transfer"),
        &[
            ("csrf", &csrf),
            ("version", &version),
            ("to_external", "太原市某单位党支部"),
            ("transferred_on", "2026-11-20"),
            ("reason", "工作调动"),
            ("confirmed", "1"),
        ],
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "with the tick it proceeds"
    );
    assert_eq!(status_of().await, before + 1);
}

// ---------------------------------------------------------------- PIPL rights

#[tokio::test]
async fn privacy_forms_keep_input_and_a_deletion_needs_the_tick() {
    let app = spawn_app().await;
    let me = logged_in(&app, "13800000001").await;
    let csrf = form_csrf(&app, &me, "/me/data").await;
    let r = post_form(
        &app,
        &me,
        "/me/data/corrections",
        &[
            ("csrf", &csrf),
            ("field", "phone"),
            ("value", "139"),
            ("reason", "换了号码"),
        ],
    )
    .await;
    let html = refused(r).await;
    assert_field_message(&html, "correction-value-error", "");
    assert!(html.contains("value=\"139\"") && html.contains("value=\"换了号码\""));
    assert!(html.contains("<option value=\"phone\" selected>"));

    // The resident asks for deletion; staff approve only with the tick.
    let tok = app.token("13800000001").await;
    let (s, v) = app
        .post(
            "/api/v1/me/deletion-request",
            &tok,
            json!({"reason": "搬走了"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let rid = v["id"].as_str().unwrap().to_string();
    let staff = logged_in(&app, "community-zq").await;
    let (s, html) = page(&app, &staff, "/work/privacy").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains(&format!(
        "id=\"confirm-{rid}\" name=\"confirmed\" value=\"1\" required"
    )));
    let csrf = hidden(&html, "csrf");
    let status = || async {
        let (_, v) = app
            .get(
                "/api/v1/org/privacy-requests",
                &app.token("community-zq").await,
            )
            .await;
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == rid.as_str())
            .map(|r| r["status"].as_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let r = post_form(
        &app,
        &staff,
        &format!("/work/privacy/{rid}"),
        &[("csrf", &csrf), ("decision", "approve"), ("note", "已核实")],
    )
    .await;
    let html = refused(r).await;
    assert_field_message(&html, &format!("{rid}-confirmed-error"), "请先勾选");
    assert!(html.contains("value=\"已核实\""));
    assert_eq!(status().await, "pending", "nothing erased");
    // Refusing needs a reason, by the note field; refusing needs no tick.
    let r = post_form(
        &app,
        &staff,
        &format!("/work/privacy/{rid}"),
        &[("csrf", &csrf), ("decision", "reject"), ("note", "")],
    )
    .await;
    let html = refused(r).await;
    assert_field_message(&html, &format!("{rid}-note-error"), "理由");
    let r = post_form(
        &app,
        &staff,
        &format!("/work/privacy/{rid}"),
        &[
            ("csrf", &csrf),
            ("decision", "approve"),
            ("note", "已核实"),
            ("confirmed", "1"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let after = status().await;
    assert!(after == "done" || after.is_empty(), "approved: {after}");
}

// ---------------------------------------------------------------- insight

#[tokio::test]
async fn insight_forms_keep_input_and_show_field_messages() {
    let app = spawn_app().await;
    // The district's weights: a threshold that is not a number.
    let d = logged_in(&app, "district-ls").await;
    let lishi = app.node_id(LISHI).await;
    let (s, html) = page(&app, &d, &format!("/insight/league?org={lishi}")).await;
    assert_eq!(s, StatusCode::OK);
    let csrf = hidden(&html, "csrf");
    let r = post_form(
        &app,
        &d,
        "/insight/weights",
        &[
            ("csrf", &csrf),
            ("org", &lishi),
            ("kind", "compound"),
            ("version", "0"),
            ("on_time_closure_rate_points", "100"),
            ("on_time_closure_rate_threshold", "六十"),
            ("on_time_closure_rate_per_point", "2"),
        ],
    )
    .await;
    let html = refused(r).await;
    assert_field_message(&html, "weights-on_time_closure_rate_threshold-error", "");
    assert!(html.contains("value=\"六十\""));
    // Points out of range, found by the model: by that field too.
    let r = post_form(
        &app,
        &d,
        "/insight/weights",
        &[
            ("csrf", &csrf),
            ("org", &lishi),
            ("kind", "compound"),
            ("version", "0"),
            ("on_time_closure_rate_points", "500"),
            ("on_time_closure_rate_threshold", "60"),
            ("on_time_closure_rate_per_point", "2"),
        ],
    )
    .await;
    let html = refused(r).await;
    assert_field_message(&html, "weights-on_time_closure_rate_points-error", "分值");

    // Community staff: a survey with a bad period, a company with a short name.
    let zq = logged_in(&app, "community-zq").await;
    let xc = app.node_id(XC).await;
    let csrf = form_csrf(&app, &zq, "/surveys").await;
    let r = post_form(
        &app,
        &zq,
        "/surveys",
        &[("csrf", &csrf), ("compound_id", &xc), ("period", "2025Q5")],
    )
    .await;
    let html = refused(r).await;
    assert_field_message(&html, "survey-period-error", "测评期");
    assert!(html.contains("value=\"2025Q5\""));
    assert!(html.contains(&format!("<option value=\"{xc}\" selected>")));
    let r = post_form(
        &app,
        &zq,
        "/surveys/company",
        &[("csrf", &csrf), ("compound_id", &xc), ("name", "新")],
    )
    .await;
    let html = refused(r).await;
    assert_field_message(&html, "company-name-error", "");
    assert!(html.contains("value=\"新\""));

    // A resident answers with one question left out: the others are kept.
    let t = app.token("community-zq").await;
    let (s, sv) = app
        .post(
            "/api/v1/insight/surveys",
            &t,
            json!({"compound_id": xc, "period": "2025Q1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sv}");
    let sid = sv["id"].as_str().unwrap().to_string();
    let me = logged_in(&app, "13800000001").await;
    let csrf = form_csrf(&app, &me, "/surveys").await;
    let r = post_form(
        &app,
        &me,
        &format!("/surveys/{sid}/answer"),
        &[
            ("csrf", &csrf),
            ("q1", "5"),
            ("q2", "4"),
            ("q3", ""),
            ("q4", "3"),
            ("q5", "9"),
            ("comment", "保洁很认真"),
        ],
    )
    .await;
    let html = refused(r).await;
    let w = format!("answer-{sid}");
    assert_field_message(&html, &format!("{w}-q5-error"), "1 到 5");
    assert!(html.contains(">保洁很认真</textarea>"));
    assert!(html.contains("name=\"q2\" value=\"4\" required checked"));

    // Publishing the result cannot be undone: refused without the tick.
    let r = post_form(
        &app,
        &me,
        &format!("/surveys/{sid}/answer"),
        &[
            ("csrf", &csrf),
            ("q1", "5"),
            ("q2", "4"),
            ("q3", "4"),
            ("q4", "3"),
            ("q5", "5"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&app, &zq, "/surveys").await;
    let version = hidden(&html, "version");
    let csrf = hidden(&html, "csrf");
    let status = || async {
        let (_, v) = app.get(&format!("/api/v1/insight/surveys/{sid}"), &t).await;
        v["status"].as_str().unwrap_or_default().to_string()
    };
    let r = post_form(
        &app,
        &zq,
        &format!("/surveys/{sid}/publish"),
        &[("csrf", &csrf), ("version", &version)],
    )
    .await;
    let html = refused(r).await;
    assert_field_message(&html, &format!("publish-{sid}-confirmed-error"), "请先勾选");
    assert!(html.contains("不能撤回"), "what cannot be undone is said");
    assert_eq!(status().await, "open");
    let r = post_form(
        &app,
        &zq,
        &format!("/surveys/{sid}/publish"),
        &[("csrf", &csrf), ("version", &version), ("confirmed", "1")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_ne!(status().await, "open");
}

// ---------------------------------------------------------------- import

#[tokio::test]
async fn the_import_form_without_a_file_says_so_by_the_file_field() {
    let app = spawn_app().await;
    let zq: Client = logged_in(&app, "community-zq").await;
    let xc = app.node_id(XC).await;
    let path = format!("/org/{xc}/import");
    let csrf = form_csrf(&app, &zq, &path).await;
    let r = zq
        .post(app.url(&path))
        .multipart(reqwest::multipart::Form::new().text("csrf", csrf))
        .send()
        .await
        .unwrap();
    let html = refused(r).await;
    assert_field_message(&html, "import-file-error", "请选择");
}
