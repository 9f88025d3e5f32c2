//! `/me/data` (the resident: see, download, correct, ask for deletion) and
//! `/work/privacy` (community staff: process the requests). Forms post with
//! the session's CSRF token.

use super::{CorrectionOutcome, MyData, RequestView};
use accounts::Auth;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use kernel::i18n::Lang;
use kernel::shell::{render, Shell};
use kernel::Ctx;
use serde::Deserialize;

pub fn routes() -> Router<Ctx> {
    Router::new()
        .route("/me/data", get(my_data_page))
        .route("/me/data/corrections", post(correction_submit))
        .route("/me/data/deletion", post(deletion_submit))
        .route("/work/privacy", get(staff_page))
        .route("/work/privacy/{id}", post(decision_submit))
}

#[derive(Template)]
#[template(path = "rights_me.html")]
struct MyDataPage {
    shell: Shell,
    data: MyData,
    flash: Option<&'static str>,
    /// The refused form (`correction` or `deletion`).
    fs: kernel::FormState,
}

impl MyDataPage {
    fn status_label(&self, r: &RequestView) -> &'static str {
        self.shell.t(match r.status.as_str() {
            "pending" => "rights.status_pending",
            "done" => "rights.status_done",
            _ => "rights.status_rejected",
        })
    }
    fn kind_label(&self, r: &RequestView) -> &'static str {
        self.shell.t(match (r.kind.as_str(), r.field.as_deref()) {
            ("deletion", _) => "rights.kind_deletion",
            (_, Some("name")) => "rights.field_name",
            (_, Some("phone")) => "rights.field_phone",
            (_, Some("id_card")) => "rights.field_id_card",
            _ => "rights.field_relation",
        })
    }
}

#[derive(Deserialize)]
struct FlashQuery {
    #[serde(default)]
    sent: Option<String>,
}

async fn render_mine(
    ctx: &Ctx,
    lang: Lang,
    p: &kernel::Principal,
    flash: Option<&'static str>,
    fs: kernel::FormState,
) -> Response {
    match super::my_data(ctx, p, "view").await {
        Ok(data) => {
            let page = MyDataPage {
                shell: Shell::new(lang, "rights.title", "me", Some(p)),
                data,
                flash,
                fs,
            };
            (page.fs.status(), render(&page)).into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn my_data_page(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    axum::extract::Query(q): axum::extract::Query<FlashQuery>,
) -> Response {
    let flash = match q.sent.as_deref() {
        Some("correction") => Some("rights.sent_correction"),
        Some("applied") => Some("rights.sent_applied"),
        Some("deletion") => Some("rights.sent_deletion"),
        _ => None,
    };
    render_mine(&ctx, lang, &p, flash, kernel::FormState::none()).await
}

#[derive(Deserialize, serde::Serialize)]
struct CorrectionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    field: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    reason: String,
}

async fn correction_submit(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Form(f): Form<CorrectionForm>,
) -> Response {
    if let Err(e) = accounts::session::check_csrf(&p, &f.csrf) {
        return e.into_response();
    }
    let reason = (!f.reason.trim().is_empty()).then_some(f.reason.as_str());
    match super::request_correction(&ctx, &p, &f.field, &f.value, reason).await {
        Ok(CorrectionOutcome::Applied) => Redirect::to("/me/data?sent=applied").into_response(),
        Ok(CorrectionOutcome::Requested(_)) => {
            Redirect::to("/me/data?sent=correction").into_response()
        }
        Err(e) => match kernel::FormState::new("correction", &f).refused(
            &e,
            &["field", "value", "reason"],
            lang,
        ) {
            Some(fs) => render_mine(&ctx, lang, &p, None, fs).await,
            None => e.into_response(),
        },
    }
}

#[derive(Deserialize, serde::Serialize)]
struct DeletionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

async fn deletion_submit(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Form(f): Form<DeletionForm>,
) -> Response {
    if let Err(e) = accounts::session::check_csrf(&p, &f.csrf) {
        return e.into_response();
    }
    let reason = (!f.reason.trim().is_empty()).then_some(f.reason.as_str());
    match super::request_deletion(&ctx, &p, reason).await {
        Ok(_) => Redirect::to("/me/data?sent=deletion").into_response(),
        Err(e) => match kernel::FormState::new("deletion", &f).refused(&e, &["reason"], lang) {
            Some(fs) => render_mine(&ctx, lang, &p, None, fs).await,
            None => e.into_response(),
        },
    }
}

#[derive(Template)]
#[template(path = "rights_staff.html")]
struct StaffPage {
    shell: Shell,
    requests: Vec<RequestView>,
    /// The refused decision form, named by the request's id.
    fs: kernel::FormState,
}

impl StaffPage {
    fn kind_label(&self, r: &RequestView) -> &'static str {
        self.shell.t(match (r.kind.as_str(), r.field.as_deref()) {
            ("deletion", _) => "rights.kind_deletion",
            (_, Some("name")) => "rights.field_name",
            (_, Some("phone")) => "rights.field_phone",
            (_, Some("id_card")) => "rights.field_id_card",
            _ => "rights.field_relation",
        })
    }
}

async fn render_staff(
    ctx: &Ctx,
    lang: Lang,
    p: &kernel::Principal,
    fs: kernel::FormState,
) -> Response {
    match super::requests_in_scope(ctx, p, true).await {
        Ok(requests) => {
            let page = StaffPage {
                shell: Shell::new(lang, "rights.staff_title", "work", Some(p)),
                requests,
                fs,
            };
            (page.fs.status(), render(&page)).into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn staff_page(State(ctx): State<Ctx>, lang: Lang, Auth(p): Auth) -> Response {
    render_staff(&ctx, lang, &p, kernel::FormState::none()).await
}

#[derive(Deserialize, serde::Serialize)]
struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    note: String,
    /// Approving a deletion erases the resident's data for good: it needs
    /// the "cannot be undone" tick, checked here.
    #[serde(default)]
    confirmed: String,
}

async fn decision_submit(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Path(id): Path<String>,
    Form(f): Form<DecisionForm>,
) -> Response {
    if let Err(e) = accounts::session::check_csrf(&p, &f.csrf) {
        return e.into_response();
    }
    let approve = f.decision == "approve";
    let form = kernel::FormState::new(&id, &f);
    if approve && f.confirmed != "1" {
        let deletion = match super::requests_in_scope(&ctx, &p, true).await {
            Ok(all) => all.iter().any(|r| r.id == id && r.kind == "deletion"),
            Err(e) => return e.into_response(),
        };
        if deletion {
            let fs = form.with_field("confirmed", lang.t("rights.confirm_missing"));
            return render_staff(&ctx, lang, &p, fs).await;
        }
    }
    let note = (!f.note.trim().is_empty()).then_some(f.note.as_str());
    match super::decide(&ctx, &p, &id, approve, note).await {
        Ok(_) => Redirect::to("/work/privacy").into_response(),
        Err(e) => match form.refused(&e, &["note"], lang) {
            Some(fs) => render_staff(&ctx, lang, &p, fs).await,
            None => e.into_response(),
        },
    }
}
