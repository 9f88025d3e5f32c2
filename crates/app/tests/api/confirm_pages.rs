//! Irreversible steps on the demand page ask for a confirming tick that
//! works without JavaScript; without it nothing changes.

use crate::helpers::*;
use crate::pages::{form_csrf, location, logged_in, page, post_form};
use reqwest::StatusCode;

#[tokio::test]
async fn rejecting_a_demand_needs_the_confirming_tick() {
    let app = spawn_app().await;
    let resident = app.token("13800000001").await;
    let id = app.file_demand(&resident, "不属于物业范围的诉求").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/demands/{id}");
    let community = logged_in(&app, "community-zq").await;
    let (s, html) = page(&app, &community, &path).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains("id=\"confirm-reject\" name=\"confirmed\" value=\"1\" required"),
        "the reject form carries a required confirming checkbox"
    );
    let csrf = form_csrf(&app, &community, &path).await;
    let status = |app: &TestApp| {
        let db = app.ctx.db.clone();
        let id = id.clone();
        async move {
            cases::store::get_demand(&db, &id)
                .await
                .unwrap()
                .unwrap()
                .status
                .as_str()
                .to_string()
        }
    };

    let r = post_form(
        &app,
        &community,
        &format!("{path}/act"),
        &[
            ("csrf", &csrf),
            ("action", "reject"),
            ("note", "不属于受理范围"),
        ],
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "the page again, with the reason"
    );
    let html = r.text().await.unwrap();
    assert!(html.contains("请先勾选"), "it says what to do: {html}");
    assert_eq!(status(&app).await, "submitted", "nothing changed");

    let r = post_form(
        &app,
        &community,
        &format!("{path}/act"),
        &[
            ("csrf", &csrf),
            ("action", "reject"),
            ("note", "不属于受理范围"),
            ("confirmed", "1"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), path);
    assert_eq!(status(&app).await, "rejected");
}
