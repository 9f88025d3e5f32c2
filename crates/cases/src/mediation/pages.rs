//! Mediation pages. `/mediation`: the caller's cases, newest first (staff in
//! scope, mediators, residents of a party household), and for staff the
//! form to open one — pick the compound, then the households at the table.
//! `/mediation/{id}`: the case with its parties, mediators, sessions,
//! outcome and follow-up visits, and for staff over the compound the forms
//! for the next step. A case is also opened from a 纠纷 demand's page
//! (`may_open_from`). Plain HTML forms that work without JavaScript; every
//! POST checks the session's CSRF token and answers 303 on success, or the
//! page again with the reason (422).

use super::api::{
    self, Access, CloseBody, FollowupBody, ListQuery, NewCaseBody, OutcomeBody, SessionBody,
};
use super::model::{MediationStatus, OutcomeKind, PartyInput, MEDIATION_STAFF};
use super::store::{self, MediationRow};
use crate::flow;
use crate::model::DemandStatus;
use crate::store::DemandRow;
use accounts::session::check_csrf;
use accounts::Auth;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{NaiveDateTime, TimeZone};
use kernel::clock::{shanghai, to_display};
use kernel::i18n::Lang;
use kernel::shell::{render, Shell};
use kernel::{AppError, AppResult, Ctx, FieldErrors, OrgPath, Principal};
use org::model::OrgKind;
use serde::Deserialize;
use sqlx::Row;
use std::collections::HashMap;

pub fn routes() -> Router<Ctx> {
    Router::new()
        .route("/mediation", get(list_page).post(open))
        .route("/mediation/{id}", get(case_page))
        .route("/mediation/{id}/sessions", post(add_session))
        .route("/mediation/{id}/outcome", post(outcome))
        .route("/mediation/{id}/followups", post(add_followup))
        .route("/mediation/{id}/close", post(close))
}

/// May the caller open a mediation from this demand (the "发起调解" button
/// on its page)? Its category is of kind 纠纷, it is still open, no case on
/// it is open yet, and the caller is mediation staff over its compound —
/// the rules `api::open_case` enforces.
pub async fn may_open_from(ctx: &Ctx, p: &Principal, d: &DemandRow) -> AppResult<bool> {
    if matches!(
        d.status,
        DemandStatus::Closed | DemandStatus::Rejected | DemandStatus::Merged
    ) || !p.grants.iter().any(|g| MEDIATION_STAFF.contains(&g.role))
    {
        return Ok(false);
    }
    if store::category_kind(&ctx.db, &d.category).await?.as_deref() != Some("dispute") {
        return Ok(false);
    }
    let covered = match flow::compound_of(ctx, &d.org_path).await? {
        Some(c) => p.covers(MEDIATION_STAFF, &c.org_path),
        None => false,
    };
    Ok(covered && !store::open_on_demand(&ctx.db, &d.id).await?)
}

// ---------------------------------------------------------------- helpers

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

fn status_label(lang: Lang, s: MediationStatus) -> &'static str {
    lang.t(&format!("mediation.status.{}", s.as_str()))
}

/// "2026-11-29 09:18" from the API's RFC 3339.
fn shown(rfc3339: &str) -> String {
    kernel::clock::from_rfc3339(rfc3339)
        .map(to_display)
        .unwrap_or_else(|| rfc3339.to_string())
}

/// A `datetime-local` value ("2026-11-29T09:00", seconds optional; a space
/// instead of the T from browsers that show a text box) read as Beijing
/// time, in RFC 3339 with +08:00. Anything else goes on unchanged for the
/// model to refuse with its message.
pub fn local_to_rfc3339(value: &str) -> String {
    let v = value.trim().replacen(' ', "T", 1);
    [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(&v, f).ok())
    .and_then(|t| shanghai().from_local_datetime(&t).single())
    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false))
    .unwrap_or_else(|| value.trim().to_string())
}

/// Now in Beijing as a `datetime-local` value, the forms' default.
fn now_local(ms: i64) -> String {
    shanghai()
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%dT%H:%M").to_string())
        .unwrap_or_default()
}

/// Why a step was refused, in words for the page; other errors (404, 500)
/// answer as themselves.
fn refusal_text(e: &AppError, lang: Lang) -> Option<String> {
    match e {
        AppError::Validation(f) => Some(
            f.0.values()
                .flatten()
                .cloned()
                .collect::<Vec<_>>()
                .join(";"),
        ),
        AppError::Conflict { message, .. } => Some(message.to_string()),
        AppError::Forbidden => Some(lang.t("error.forbidden").to_string()),
        _ => None,
    }
}

fn with_status(status: StatusCode, page: &impl Template) -> Response {
    (status, render(page)).into_response()
}

// ---------------------------------------------------------------- the list

pub struct CaseRow {
    pub id: String,
    pub title: String,
    pub status: &'static str,
    pub status_label: &'static str,
    pub compound: String,
    pub created_at: String,
    pub from_demand: bool,
}

/// The open form's fields, as typed (kept when it is refused).
#[derive(Default, Deserialize, Clone)]
struct OpenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    compound_id: String,
    #[serde(default)]
    demand_id: String,
    #[serde(default)]
    applicant: String,
    #[serde(default)]
    respondent: String,
}

#[derive(Template)]
#[template(path = "mediation_list.html")]
struct ListPage {
    shell: Shell,
    cases: Vec<CaseRow>,
    next: Option<String>,
    /// Staff who may open cases somewhere.
    can_open: bool,
    /// Compounds and villages the caller may open a case in.
    compounds: Vec<Choice>,
    /// The compound picked for a standalone case.
    chosen: Option<String>,
    chosen_name: String,
    /// The caller asked for the form (picked a compound): show it open.
    asked: bool,
    households: Vec<Choice>,
    /// Households offered as respondent (the same, own selection).
    respondents: Vec<Choice>,
    form: OpenForm,
    errors: FieldErrors,
    /// Refusals not tied to a field shown in the form.
    error: Option<String>,
}

impl ListPage {
    fn field_error(&self, field: &str) -> String {
        self.errors
            .0
            .get(field)
            .map(|v| v.join(";"))
            .unwrap_or_default()
    }

    fn open_expanded(&self) -> bool {
        self.asked || self.error.is_some() || !self.errors.is_empty()
    }
}

#[derive(Deserialize, Default)]
struct ListParams {
    compound: Option<String>,
    cursor: Option<String>,
}

/// Compounds and villages within the caller's mediation grants, in path order.
async fn compounds_in_scope(ctx: &Ctx, p: &Principal) -> AppResult<Vec<(String, String)>> {
    let roots = p.roots_for(MEDIATION_STAFF);
    if roots.is_empty() {
        return Ok(vec![]);
    }
    let scope = org::store::scope_sql("org_path", roots.len(), 3);
    let sql = format!(
        "SELECT id, name FROM org_nodes WHERE kind IN ($1, $2) AND {scope} ORDER BY org_path LIMIT 500"
    );
    let mut q = sqlx::query(&sql)
        .bind(OrgKind::Compound.as_str())
        .bind(OrgKind::Village.as_str());
    for r in &roots {
        q = q.bind(r.as_str().to_string()).bind(r.subtree_end());
    }
    Ok(q.fetch_all(ctx.db.reader())
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// The households of a compound, labelled "3号楼 1单元 401室".
async fn households_of(ctx: &Ctx, compound: &OrgPath) -> AppResult<Vec<(String, String)>> {
    let nodes =
        org::store::subtree_page(&ctx.db, std::slice::from_ref(compound), None, None, 5000).await?;
    let names: HashMap<&str, &str> = nodes
        .iter()
        .map(|n| (n.org_path.as_str(), n.name.as_str()))
        .collect();
    Ok(nodes
        .iter()
        .filter(|n| n.kind == OrgKind::Household)
        .map(|h| {
            let label = h
                .org_path
                .ancestors_and_self()
                .iter()
                .filter(|a| a.depth() > compound.depth())
                .filter_map(|a| names.get(a.as_str()).copied())
                .collect::<Vec<_>>()
                .join(" ");
            (h.id.clone(), label)
        })
        .collect())
}

async fn render_list(
    ctx: &Ctx,
    p: &Principal,
    lang: Lang,
    params: ListParams,
    form: OpenForm,
    errors: FieldErrors,
    error: Option<String>,
) -> AppResult<Response> {
    let page = api::list_in_scope(
        ctx,
        p,
        &ListQuery {
            status: None,
            demand_id: None,
            limit: Some("50".into()),
            cursor: params.cursor.clone(),
        },
    )
    .await?;
    let cases = page
        .items
        .into_iter()
        .map(|m| CaseRow {
            status: m.status.as_str(),
            status_label: status_label(lang, m.status),
            created_at: to_display(m.created_at),
            from_demand: m.demand_id.is_some(),
            compound: m.compound_name,
            id: m.id,
            title: m.title,
        })
        .collect();
    let next = page.next_cursor.map(|c| format!("/mediation?cursor={c}"));

    let can_open = p.grants.iter().any(|g| MEDIATION_STAFF.contains(&g.role));
    let in_scope = if can_open {
        compounds_in_scope(ctx, p).await?
    } else {
        vec![]
    };
    // The compound: the one re-submitted, the one picked, or the only one.
    let wanted = Some(form.compound_id.clone())
        .filter(|c| !c.is_empty())
        .or(params.compound.clone().filter(|c| !c.is_empty()))
        .or_else(|| (in_scope.len() == 1).then(|| in_scope[0].0.clone()));
    let chosen = wanted.and_then(|w| in_scope.iter().find(|(id, _)| *id == w).cloned());
    let (households, respondents) = match (&chosen, form.demand_id.is_empty()) {
        (Some((id, _)), true) => match org::store::get_node(&ctx.db, id).await? {
            Some(n) => {
                let all = households_of(ctx, &n.org_path).await?;
                let pick = |sel: &str| {
                    all.iter()
                        .map(|(v, l)| Choice {
                            value: v.clone(),
                            label: l.clone(),
                            selected: v == sel,
                        })
                        .collect::<Vec<_>>()
                };
                (pick(&form.applicant), pick(&form.respondent))
            }
            None => (vec![], vec![]),
        },
        _ => (vec![], vec![]),
    };
    let chosen_id = chosen.as_ref().map(|(id, _)| id.clone());
    let asked = params.compound.is_some();
    let page = ListPage {
        shell: Shell::new(lang, "mediation.title", "mediation", Some(p)),
        cases,
        next,
        can_open,
        compounds: in_scope
            .into_iter()
            .map(|(id, name)| Choice {
                selected: chosen_id.as_deref() == Some(id.as_str()),
                value: id,
                label: name,
            })
            .collect(),
        chosen_name: chosen.map(|(_, name)| name).unwrap_or_default(),
        chosen: chosen_id,
        asked,
        households,
        respondents,
        form,
        errors,
        error,
    };
    let status = if page.errors.is_empty() && page.error.is_none() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(with_status(status, &page))
}

async fn list_page(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    kernel::json::Query(q): kernel::json::Query<ListParams>,
) -> Response {
    render_list(
        &ctx,
        &p,
        lang,
        q,
        OpenForm::default(),
        FieldErrors::new(),
        None,
    )
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

/// `POST /mediation`: a standalone case (compound and households picked on
/// /mediation) or one from a 纠纷 demand (its page's button sends the
/// demand and its title; the summary defaults to the demand's description).
async fn open(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Form(mut f): Form<OpenForm>,
) -> Response {
    if let Err(e) = check_csrf(&p, &f.csrf) {
        return e.into_response();
    }
    let demand_id = f.demand_id.trim().to_string();
    if !demand_id.is_empty() && (f.title.trim().is_empty() || f.summary.trim().is_empty()) {
        if let Ok(d) = flow::visible(&ctx, &p, &demand_id).await {
            if f.title.trim().is_empty() {
                f.title = d.title.clone();
            }
            if f.summary.trim().is_empty() {
                f.summary = d.description.clone();
            }
        }
    }
    let mut parties = Vec::new();
    for (household, role) in [(&f.applicant, "applicant"), (&f.respondent, "respondent")] {
        if !household.trim().is_empty() {
            parties.push(PartyInput {
                household_id: household.trim().to_string(),
                role: role.into(),
            });
        }
    }
    let body = NewCaseBody {
        title: f.title.clone(),
        summary: f.summary.clone(),
        compound_id: Some(f.compound_id.clone()).filter(|c| !c.trim().is_empty()),
        demand_id: Some(demand_id).filter(|d| !d.is_empty()),
        parties: Some(parties).filter(|p| !p.is_empty()),
        mediators: None,
    };
    match api::open_case(&ctx, &p, &body).await {
        Ok(m) => Redirect::to(&format!("/mediation/{}", m.id)).into_response(),
        Err(e) => {
            // Field errors the form shows next to its fields stay there;
            // the rest (and refusals) go on top.
            let shown: &[&str] = if f.demand_id.is_empty() {
                &["title", "summary", "parties"]
            } else {
                &["title", "summary"]
            };
            let (errors, error) = match e {
                AppError::Validation(all) => {
                    let mut inline = FieldErrors::new();
                    let mut rest = Vec::new();
                    for (field, msgs) in all.0 {
                        if shown.contains(&field.as_str()) {
                            for m in msgs {
                                inline.add(field.clone(), m);
                            }
                        } else {
                            rest.extend(msgs);
                        }
                    }
                    (inline, (!rest.is_empty()).then(|| rest.join(";")))
                }
                other => match refusal_text(&other, lang) {
                    Some(msg) => (FieldErrors::new(), Some(msg)),
                    None => return other.into_response(),
                },
            };
            render_list(&ctx, &p, lang, ListParams::default(), f, errors, error)
                .await
                .unwrap_or_else(IntoResponse::into_response)
        }
    }
}

// ---------------------------------------------------------------- one case

pub struct PartyItem {
    pub label: String,
    pub role: &'static str,
}

pub struct MediatorItem {
    pub name: String,
    pub kind: &'static str,
}

pub struct SessionItem {
    pub when: String,
    pub place: String,
    pub notes: String,
    pub by: String,
}

pub struct FollowupItem {
    pub when: String,
    pub notes: String,
    /// Empty when the party did not say.
    pub satisfied: &'static str,
    pub by: String,
}

pub struct OutcomeItem {
    pub kind: &'static str,
    pub label: &'static str,
    pub agreement: String,
    pub note: String,
    pub at: String,
}

/// The step forms' fields, as typed (kept when a step is refused). The
/// session and visit forms never show together, so they share `notes`.
#[derive(Default, Deserialize, serde::Serialize, Clone)]
struct StepForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    held_at: String,
    #[serde(default)]
    place: String,
    #[serde(default)]
    notes: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    agreement_text: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    visited_at: String,
    #[serde(default)]
    satisfied: String,
    /// The "cannot be undone" tick of the outcome and close forms.
    #[serde(default)]
    confirmed: String,
}

#[derive(Template)]
#[template(path = "mediation.html")]
struct CasePage {
    shell: Shell,
    id: String,
    title: String,
    status: &'static str,
    status_label: &'static str,
    compound: String,
    /// The demand it came from, when the caller may open it.
    demand_id: Option<String>,
    created_at: String,
    closed_at: String,
    summary: String,
    parties: Vec<PartyItem>,
    mediators: Vec<MediatorItem>,
    sessions: Vec<SessionItem>,
    outcome: Option<OutcomeItem>,
    followups: Vec<FollowupItem>,
    version: i64,
    can_session: bool,
    can_outcome: bool,
    can_followup: bool,
    can_close: bool,
    outcome_kinds: Vec<Choice>,
    held_at: String,
    visited_at: String,
    /// The refused step form (`session`, `outcome`, `followup`, `close`):
    /// shown open, its values kept and its messages next to its fields.
    fs: kernel::FormState,
}

impl CasePage {
    fn any_step(&self) -> bool {
        self.can_session || self.can_outcome || self.can_followup || self.can_close
    }
}

async fn render_case(
    ctx: &Ctx,
    p: &Principal,
    lang: Lang,
    id: &str,
    fs: kernel::FormState,
) -> AppResult<Response> {
    let (m, access): (MediationRow, Access) = api::visible(ctx, p, id).await?;
    let v = api::full_view(ctx, &m, access).await?;
    let demand_id = match &m.demand_id {
        Some(d) if flow::visible(ctx, p, d).await.is_ok() => Some(d.clone()),
        _ => None,
    };
    let allowed = |s: &str| v.allowed_actions.contains(&s);
    let now = now_local(ctx.now_ms());
    let chosen_kind = fs.val("outcome", "kind", OutcomeKind::Agreement.as_str());
    let page = CasePage {
        shell: Shell::new(lang, "mediation.title", "mediation", Some(p))
            .with_title(m.title.clone()),
        id: m.id.clone(),
        title: m.title.clone(),
        status: m.status.as_str(),
        status_label: status_label(lang, m.status),
        compound: m.compound_name.clone(),
        demand_id,
        created_at: to_display(m.created_at),
        closed_at: m.closed_at.map(to_display).unwrap_or_default(),
        summary: v.summary.clone(),
        parties: v
            .parties
            .iter()
            .map(|x| PartyItem {
                label: x.household_label.clone(),
                role: lang.t(&format!("mediation.role.{}", x.role.as_str())),
            })
            .collect(),
        mediators: v
            .mediators
            .iter()
            .map(|x| MediatorItem {
                name: x.display_name.clone(),
                kind: lang.t(&format!("mediation.kind.{}", x.kind.as_str())),
            })
            .collect(),
        sessions: v
            .sessions
            .iter()
            .rev()
            .map(|s| SessionItem {
                when: shown(&s.held_at),
                place: s.place.clone(),
                notes: s.notes.clone(),
                by: s.recorded_by.clone().unwrap_or_default(),
            })
            .collect(),
        outcome: v.outcome.as_ref().map(|o| OutcomeItem {
            kind: o.kind.as_str(),
            label: lang.t(&format!("mediation.outcome.{}", o.kind.as_str())),
            agreement: o.agreement_text.clone().unwrap_or_default(),
            note: o.note.clone().unwrap_or_default(),
            at: o.at.as_deref().map(shown).unwrap_or_default(),
        }),
        followups: v
            .followups
            .iter()
            .rev()
            .map(|f| FollowupItem {
                when: shown(&f.visited_at),
                notes: f.notes.clone(),
                satisfied: match f.satisfied {
                    Some(true) => lang.t("mediation.satisfied_yes"),
                    Some(false) => lang.t("mediation.satisfied_no"),
                    None => "",
                },
                by: f.recorded_by.clone().unwrap_or_default(),
            })
            .collect(),
        version: m.version,
        can_session: allowed("session"),
        can_outcome: allowed("outcome"),
        can_followup: allowed("followup"),
        can_close: allowed("close"),
        outcome_kinds: OutcomeKind::ALL
            .iter()
            .map(|k| Choice {
                value: k.as_str().to_string(),
                label: lang
                    .t(&format!("mediation.outcome.{}", k.as_str()))
                    .to_string(),
                selected: chosen_kind == k.as_str(),
            })
            .collect(),
        held_at: fs.val("session", "held_at", &now),
        visited_at: fs.val("followup", "visited_at", &now),
        fs,
    };
    Ok(with_status(page.fs.status(), &page))
}

async fn case_page(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Response {
    render_case(&ctx, &p, lang, &id, kernel::FormState::none())
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// The fields each step form shows a message next to.
fn step_fields(which: &str) -> &'static [&'static str] {
    match which {
        "session" => &["held_at", "place", "notes"],
        "outcome" => &["kind", "agreement_text", "note", "confirmed"],
        "followup" => &["visited_at", "notes", "satisfied"],
        "close" => &["note", "confirmed"],
        _ => &[],
    }
}

/// Irreversible steps (recording the outcome, closing the case) need the
/// "cannot be undone" tick; without it the page again (422), nothing changed.
async fn unconfirmed(
    ctx: &Ctx,
    p: &Principal,
    lang: Lang,
    id: &str,
    which: &'static str,
    form: &StepForm,
) -> Option<Response> {
    if form.confirmed == "1" {
        return None;
    }
    // A step the caller may not take is refused for that reason first.
    let allowed = match api::visible(ctx, p, id).await {
        Ok((m, access)) => match api::full_view(ctx, &m, access).await {
            Ok(v) => v.allowed_actions.contains(&which),
            Err(_) => false,
        },
        Err(_) => false,
    };
    if !allowed {
        return None;
    }
    let fs =
        kernel::FormState::new(which, form).with_field("confirmed", lang.t("ux.confirm_missing"));
    Some(
        render_case(ctx, p, lang, id, fs)
            .await
            .unwrap_or_else(IntoResponse::into_response),
    )
}

/// After a step: to the case on success, else the page with the reason.
async fn after_step(
    ctx: &Ctx,
    p: &Principal,
    lang: Lang,
    id: &str,
    which: &'static str,
    form: StepForm,
    result: AppResult<MediationRow>,
) -> Response {
    match result {
        Ok(m) => Redirect::to(&format!("/mediation/{}", m.id)).into_response(),
        Err(e) => {
            match kernel::FormState::new(which, &form).refused(&e, step_fields(which), lang) {
                Some(fs) => render_case(ctx, p, lang, id, fs)
                    .await
                    .unwrap_or_else(IntoResponse::into_response),
                None => e.into_response(),
            }
        }
    }
}

async fn add_session(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Path(id): Path<String>,
    Form(f): Form<StepForm>,
) -> Response {
    if let Err(e) = check_csrf(&p, &f.csrf) {
        return e.into_response();
    }
    let body = SessionBody {
        held_at: local_to_rfc3339(&f.held_at),
        place: f.place.clone(),
        notes: f.notes.clone(),
        version: f.version,
    };
    let r = api::record_session(&ctx, &p, &id, &body).await;
    after_step(&ctx, &p, lang, &id, "session", f, r).await
}

async fn outcome(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Path(id): Path<String>,
    Form(f): Form<StepForm>,
) -> Response {
    if let Err(e) = check_csrf(&p, &f.csrf) {
        return e.into_response();
    }
    if let Some(r) = unconfirmed(&ctx, &p, lang, &id, "outcome", &f).await {
        return r;
    }
    let body = OutcomeBody {
        kind: f.kind.clone(),
        agreement_text: Some(f.agreement_text.clone()).filter(|t| !t.trim().is_empty()),
        note: Some(f.note.clone()).filter(|t| !t.trim().is_empty()),
        version: f.version,
    };
    let r = api::record_outcome(&ctx, &p, &id, &body).await;
    after_step(&ctx, &p, lang, &id, "outcome", f, r).await
}

async fn add_followup(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Path(id): Path<String>,
    Form(f): Form<StepForm>,
) -> Response {
    if let Err(e) = check_csrf(&p, &f.csrf) {
        return e.into_response();
    }
    let body = FollowupBody {
        visited_at: local_to_rfc3339(&f.visited_at),
        notes: f.notes.clone(),
        satisfied: match f.satisfied.as_str() {
            "yes" => Some(true),
            "no" => Some(false),
            _ => None,
        },
        version: f.version,
    };
    let r = api::record_followup(&ctx, &p, &id, &body).await;
    after_step(&ctx, &p, lang, &id, "followup", f, r).await
}

async fn close(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Path(id): Path<String>,
    Form(f): Form<StepForm>,
) -> Response {
    if let Err(e) = check_csrf(&p, &f.csrf) {
        return e.into_response();
    }
    if let Some(r) = unconfirmed(&ctx, &p, lang, &id, "close", &f).await {
        return r;
    }
    let body = CloseBody {
        note: Some(f.note.clone()).filter(|t| !t.trim().is_empty()),
        version: f.version,
    };
    let r = api::close_case(&ctx, &p, &id, &body).await;
    after_step(&ctx, &p, lang, &id, "close", f, r).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_local_reads_as_beijing_time() {
        assert_eq!(
            local_to_rfc3339("2026-11-29T09:05"),
            "2026-11-29T09:05:00+08:00"
        );
        assert_eq!(
            local_to_rfc3339(" 2026-11-29T09:05:30 "),
            "2026-11-29T09:05:30+08:00"
        );
        assert_eq!(
            local_to_rfc3339("2026-11-29 09:05"),
            "2026-11-29T09:05:00+08:00"
        );
        assert_eq!(
            local_to_rfc3339("2026-11-29T09:05:30.250"),
            "2026-11-29T09:05:30+08:00"
        );
        // Already RFC 3339, or nonsense: passed on for the model to judge.
        assert_eq!(
            local_to_rfc3339("2026-11-29T09:05:00Z"),
            "2026-11-29T09:05:00Z"
        );
        assert_eq!(local_to_rfc3339("tomorrow"), "tomorrow");
        assert_eq!(local_to_rfc3339(""), "");
    }

    #[test]
    fn now_local_is_a_datetime_local_value() {
        // 2026-11-18T11:06:40Z is 19:06 in Beijing.
        assert_eq!(now_local(1_795_000_000_000), "2026-11-18T19:06");
    }
}
