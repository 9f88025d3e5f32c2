//! Demand pages. Residents: `/me` — file a demand (category, description,
//! photo, building preselected; similar open demands first, with 我也遇到),
//! my demands; a demand's page with its timeline, photos, the rating form and
//! reopen. Staff: `/work` — the inbox sorted by deadline with overdue badges,
//! each demand one tap away and its next step one more; `/work/board` — the
//! supervision board (overdue, escalated to my level, by unit). Plain HTML
//! forms that work without JavaScript.

use crate::api::{self, ListQuery, NewDemandBody};
use crate::flow::{self, RatingInput, TransitionInput};
use crate::model::DemandStatus;
use crate::store::{self, Category, DemandRow};
use crate::workflow::{self, Action};
use accounts::session::check_csrf;
use accounts::Auth;
use askama::Template;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use kernel::clock::to_display;
use kernel::i18n::Lang;
use kernel::page::PageParams;
use kernel::shell::{render, Shell};
use kernel::{AppError, Ctx, FieldErrors, Principal, Role};
use serde::Deserialize;

pub fn routes() -> Router<Ctx> {
    Router::new()
        .route("/me", get(me))
        .route("/work", get(work))
        .route("/work/board", get(board))
        .route(
            "/demands",
            post(file).layer(axum::extract::DefaultBodyLimit::max(
                crate::attachments::MAX_BODY,
            )),
        )
        .route("/demands/{id}", get(demand_page))
        .route("/demands/{id}/act", post(act))
        .route("/demands/{id}/rate", post(rate))
        .route("/demands/{id}/support", post(support))
}

pub struct DemandItem {
    pub id: String,
    pub title: String,
    pub category: String,
    pub status: String,
    pub status_label: &'static str,
    pub created_at: String,
    /// The running deadline, shown; empty when no clock runs.
    pub due: String,
    pub overdue: bool,
    pub escalated: bool,
    pub support_count: i64,
}

fn item(d: DemandRow, cats: &[Category], lang: Lang, now: i64) -> DemandItem {
    let due_ms = store::due_of(&d);
    let running = due_ms < 9_000_000_000_000_000;
    DemandItem {
        category: category_name(cats, &d.category, lang),
        status: d.status.as_str().to_string(),
        status_label: lang.t(&d.status.label_key()),
        created_at: to_display(d.created_at),
        due: if running {
            to_display(due_ms)
        } else {
            String::new()
        },
        overdue: d.overdue || (running && due_ms < now),
        escalated: d.escalation_level > 0,
        support_count: d.support_count,
        id: d.id,
        title: d.title,
    }
}

fn items(rows: Vec<DemandRow>, cats: &[Category], lang: Lang, now: i64) -> Vec<DemandItem> {
    rows.into_iter().map(|d| item(d, cats, lang, now)).collect()
}

fn category_name(cats: &[Category], code: &str, lang: Lang) -> String {
    cats.iter()
        .find(|c| c.code == code)
        .map(|c| {
            if lang == Lang::En {
                c.name_en.clone()
            } else {
                c.name.clone()
            }
        })
        .unwrap_or_else(|| code.to_string())
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub struct SimilarItem {
    pub id: String,
    pub title: String,
    pub category: String,
    pub support_count: i64,
}

#[derive(Template)]
#[template(path = "me.html")]
struct MePage {
    shell: Shell,
    households: Vec<String>,
    categories: Vec<Choice>,
    buildings: Vec<Choice>,
    similar: Vec<SimilarItem>,
    demands: Vec<DemandItem>,
    errors: FieldErrors,
    form: FormValues,
    flash: Option<&'static str>,
}

impl MePage {
    /// Messages about fields the form does not show (e.g. the household),
    /// shown above it.
    fn other_errors(&self) -> String {
        const SHOWN: &[&str] = &[
            "category",
            "title",
            "description",
            "building_id",
            "location",
            "photo",
        ];
        self.errors
            .0
            .iter()
            .filter(|(k, _)| !SHOWN.contains(&k.as_str()))
            .flat_map(|(_, v)| v.iter().cloned())
            .collect::<Vec<_>>()
            .join(";")
    }

    fn error(&self, field: &str) -> String {
        self.errors
            .0
            .get(field)
            .map(|v| v.join(";"))
            .unwrap_or_default()
    }
}

#[derive(Default, Deserialize, Clone)]
struct FormValues {
    #[serde(default)]
    category: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    building_id: String,
    #[serde(default)]
    anonymous: Option<String>,
    #[serde(default)]
    csrf: String,
}

#[derive(Deserialize, Default)]
struct MeQuery {
    filed: Option<String>,
    supported: Option<String>,
}

async fn household_names(ctx: &Ctx, p: &Principal) -> Result<Vec<String>, AppError> {
    let mut out = Vec::new();
    for h in &p.households {
        out.push(place_name(ctx, &h.org_path).await?);
    }
    Ok(out)
}

/// 新城壹号小区 1号楼 1单元 101室: the names from the compound down.
async fn place_name(ctx: &Ctx, path: &kernel::OrgPath) -> Result<String, AppError> {
    let chain = org::store::ancestors(&ctx.db, path).await?;
    let start = chain
        .iter()
        .position(|n| {
            matches!(
                n.kind,
                org::model::OrgKind::Compound | org::model::OrgKind::Village
            )
        })
        .unwrap_or(0);
    Ok(chain[start..]
        .iter()
        .map(|n| n.name.as_str())
        .collect::<Vec<_>>()
        .join(" "))
}

async fn render_me(
    ctx: &Ctx,
    p: &Principal,
    lang: Lang,
    errors: FieldErrors,
    form: FormValues,
    flash: Option<&'static str>,
) -> Result<Response, AppError> {
    let cats = store::categories(&ctx.db).await?;
    let q = ListQuery {
        status: None,
        category: None,
        org: None,
        limit: Some("50".into()),
        cursor: None,
    };
    let rows = api::list_in_scope(ctx, p, &q).await?.items;
    // The buildings of the resident's compound, their own preselected.
    let mut buildings = Vec::new();
    let own_building = match p.households.first() {
        Some(h) => org::store::ancestors(&ctx.db, &h.org_path)
            .await?
            .into_iter()
            .rev()
            .find(|n| n.kind == org::model::OrgKind::Building),
        None => None,
    };
    if let Some(h) = p.households.first() {
        if let Some(c) = flow::compound_of(ctx, &h.org_path).await? {
            for b in org::store::children(&ctx.db, &c.id).await? {
                if b.kind == org::model::OrgKind::Building {
                    let selected = if form.building_id.is_empty() {
                        own_building.as_ref().is_some_and(|o| o.id == b.id)
                    } else {
                        form.building_id == b.id
                    };
                    buildings.push(Choice {
                        value: b.id,
                        label: b.name,
                        selected,
                    });
                }
            }
        }
    }
    let similar = api::similar_open(ctx, p, None)
        .await?
        .into_iter()
        .take(5)
        .map(|s| SimilarItem {
            category: category_name(&cats, &s.category, lang),
            id: s.id,
            title: s.title,
            support_count: s.support_count,
        })
        .collect();
    let page = MePage {
        shell: Shell::new(lang, "me.title", "me", Some(p)),
        households: household_names(ctx, p).await?,
        categories: cats
            .iter()
            .map(|c| Choice {
                value: c.code.clone(),
                label: category_name(&cats, &c.code, lang),
                selected: c.code == form.category,
            })
            .collect(),
        buildings,
        similar,
        demands: items(rows, &cats, lang, ctx.now_ms()),
        errors,
        form,
        flash,
    };
    let status = if page.errors.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, render(&page)).into_response())
}

async fn me(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    kernel::json::Query(q): kernel::json::Query<MeQuery>,
) -> Response {
    if !p.is_resident() {
        return Redirect::to("/work").into_response();
    }
    let flash = if q.filed.is_some() {
        Some("demand.submitted_ok")
    } else if q.supported.is_some() {
        Some("demand.supported_ok")
    } else {
        None
    };
    render_me(
        &ctx,
        &p,
        lang,
        FieldErrors::new(),
        FormValues::default(),
        flash,
    )
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

/// The filing form, as urlencoded fields or multipart with an optional photo.
async fn read_filing(req: Request) -> Result<(FormValues, Option<(String, Vec<u8>)>), AppError> {
    let is_multipart = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !is_multipart {
        let Form(f) = Form::<FormValues>::from_request(req, &())
            .await
            .map_err(|_| AppError::bad_request("invalid_form", "表单内容无效"))?;
        return Ok((f, None));
    }
    let mut form = Multipart::from_request(req, &())
        .await
        .map_err(|_| AppError::bad_request("invalid_form", "表单内容无效"))?;
    let mut f = FormValues::default();
    let mut photo = None;
    let too_big = |e: axum::extract::multipart::MultipartError| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge
        } else {
            AppError::bad_request("invalid_form", "表单内容无效")
        }
    };
    while let Some(field) = form.next_field().await.map_err(too_big)? {
        let name = field.name().unwrap_or("").to_string();
        if name == "photo" {
            let filename = field.file_name().unwrap_or("photo").to_string();
            let bytes = field.bytes().await.map_err(too_big)?;
            if !bytes.is_empty() {
                photo = Some((filename, bytes.to_vec()));
            }
            continue;
        }
        let value = field.text().await.map_err(too_big)?;
        match name.as_str() {
            "category" => f.category = value,
            "title" => f.title = value,
            "description" => f.description = value,
            "location" => f.location = value,
            "building_id" => f.building_id = value,
            "anonymous" => f.anonymous = Some(value),
            "csrf" => f.csrf = value,
            _ => {}
        }
    }
    Ok((f, photo))
}

async fn file(State(ctx): State<Ctx>, lang: Lang, Auth(p): Auth, req: Request) -> Response {
    let (f, photo) = match read_filing(req).await {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    if let Err(e) = check_csrf(&p, &f.csrf) {
        return e.into_response();
    }
    let mut errors = FieldErrors::new();
    if let Some((_, bytes)) = &photo {
        if bytes.len() > crate::attachments::MAX_BYTES {
            errors.add("photo", lang.t("ux.photo_too_big"));
        } else if crate::attachments::sniff(bytes).is_none() {
            errors.add("photo", lang.t("ux.photo_kind"));
        }
    }
    let body = NewDemandBody {
        category: f.category.clone(),
        title: f.title.clone(),
        description: f.description.clone(),
        location: Some(f.location.clone()),
        anonymous: Some(f.anonymous.is_some()),
        building_id: Some(f.building_id.clone()).filter(|b| !b.is_empty()),
        ..Default::default()
    };
    if !errors.is_empty() {
        return render_me(&ctx, &p, lang, errors, f, None)
            .await
            .unwrap_or_else(IntoResponse::into_response);
    }
    match api::file_demand(&ctx, &p, &body).await {
        Ok(d) => {
            if let Some((name, bytes)) = photo {
                if let Err(e) = crate::attachments::store_photo(&ctx, &p, &d, &name, bytes).await {
                    return e.into_response();
                }
            }
            Redirect::to("/me?filed=1").into_response()
        }
        Err(AppError::Validation(errors)) => render_me(&ctx, &p, lang, errors, f, None)
            .await
            .unwrap_or_else(IntoResponse::into_response),
        Err(e) => e.into_response(),
    }
}

#[derive(Template)]
#[template(path = "work.html")]
struct WorkPage {
    shell: Shell,
    scope: Vec<String>,
    inbox: Vec<DemandItem>,
    demands: Vec<DemandItem>,
    supervises: bool,
}

async fn work(State(ctx): State<Ctx>, lang: Lang, Auth(p): Auth) -> Response {
    if !p.is_staff() {
        return Redirect::to("/me").into_response();
    }
    let result = async {
        let cats = store::categories(&ctx.db).await?;
        let now = ctx.now_ms();
        let inbox = api::inbox_page(
            &ctx,
            &p,
            &PageParams {
                limit: 50,
                after: None,
            },
        )
        .await?
        .items;
        let q = ListQuery {
            status: None,
            category: None,
            org: None,
            limit: Some("50".into()),
            cursor: None,
        };
        let rows = api::list_in_scope(&ctx, &p, &q).await?.items;
        let mut scope = Vec::new();
        for g in &p.grants {
            if let Some(n) = org::store::get_node(&ctx.db, &g.org_id).await? {
                let role = if lang == Lang::En {
                    g.role.label_en()
                } else {
                    g.role.label_zh()
                };
                scope.push(format!("{role} · {}", n.name));
            }
        }
        Ok::<_, AppError>(WorkPage {
            shell: Shell::new(lang, "work.title", "work", Some(&p)),
            scope,
            inbox: items(inbox, &cats, lang, now),
            demands: items(rows, &cats, lang, now),
            supervises: p.covers(
                &[
                    Role::CommunityStaff,
                    Role::StreetAdmin,
                    Role::DistrictAdmin,
                    Role::CityAdmin,
                ],
                &p.grants
                    .first()
                    .map(|g| g.org_path.clone())
                    .unwrap_or_else(kernel::OrgPath::root),
            ),
        })
    }
    .await;
    match result {
        Ok(page) => render(&page),
        Err(e) => e.into_response(),
    }
}

pub struct UnitRow {
    pub id: String,
    pub name: String,
    pub open: i64,
    pub overdue: i64,
    pub escalated: i64,
}

#[derive(Template)]
#[template(path = "board.html")]
struct BoardPage {
    shell: Shell,
    flagged: Vec<DemandItem>,
    units: Vec<UnitRow>,
}

/// The supervision board: overdue demands and those escalated to the
/// caller's level, and open/overdue/escalated counts per unit below.
async fn board(State(ctx): State<Ctx>, lang: Lang, Auth(p): Auth) -> Response {
    const SUPERVISORS: &[Role] = &[
        Role::CommunityStaff,
        Role::StreetAdmin,
        Role::DistrictAdmin,
        Role::CityAdmin,
    ];
    let roots = p.roots_for(SUPERVISORS);
    if roots.is_empty() {
        return AppError::Forbidden.into_response();
    }
    let result = async {
        let cats = store::categories(&ctx.db).await?;
        let levels: Vec<String> = roots.iter().map(|r| r.as_str().to_string()).collect();
        let flagged = store::supervision(&ctx.db, &roots, &levels, 100).await?;
        let mut units = Vec::new();
        for r in &roots {
            if let Some(node) = org::store::get_node_by_path(&ctx.db, r.as_str()).await? {
                for child in org::store::children(&ctx.db, &node.id).await? {
                    let (open, overdue, escalated) =
                        store::unit_counts(&ctx.db, &child.org_path).await?;
                    units.push(UnitRow {
                        id: child.id,
                        name: child.name,
                        open,
                        overdue,
                        escalated,
                    });
                }
            }
        }
        Ok::<_, AppError>(BoardPage {
            shell: Shell::new(lang, "board.title", "work", Some(&p)),
            flagged: items(flagged, &cats, lang, ctx.now_ms()),
            units,
        })
    }
    .await;
    match result {
        Ok(page) => render(&page),
        Err(e) => e.into_response(),
    }
}

pub struct EventItem {
    pub when: String,
    pub what: String,
    pub who: String,
    pub note: String,
}

/// One action the caller may take, as a form on the demand page.
pub struct ActionForm {
    pub action: &'static str,
    /// The form's name when refused (`act-<action>`).
    pub which: String,
    pub label: &'static str,
    pub primary: bool,
    pub needs_note: bool,
    pub confirm: bool,
}

pub struct Photo {
    pub url: String,
    pub name: String,
}

#[derive(Template)]
#[template(path = "demand.html")]
struct DemandPage {
    shell: Shell,
    d: DemandItem,
    version: i64,
    description: String,
    location: String,
    household: String,
    assignee: String,
    events: Vec<EventItem>,
    photos: Vec<Photo>,
    actions: Vec<ActionForm>,
    handlers: Vec<Choice>,
    merge_targets: Vec<Choice>,
    can_rate: bool,
    /// Staff may open a mediation from this 纠纷 demand.
    can_mediate: bool,
    rating: Option<String>,
    back: &'static str,
    /// A refused step or rating: values kept, messages next to the fields.
    fs: kernel::FormState,
}

/// The order buttons appear in: the usual next step first.
const ACTION_ORDER: &[Action] = &[
    Action::Accept,
    Action::Dispatch,
    Action::Start,
    Action::Resolve,
    Action::VerifyPass,
    Action::VerifyFail,
    Action::Reopen,
    Action::Return,
    Action::Suspend,
    Action::Resume,
    Action::Extend,
    Action::Escalate,
    Action::Merge,
    Action::Reject,
    Action::Comment,
];

async fn demand_page_for(
    ctx: &Ctx,
    p: &Principal,
    lang: Lang,
    id: &str,
    fs: kernel::FormState,
) -> Result<Response, AppError> {
    let d = api::visible_demand(ctx, p, id).await?;
    let cats = store::categories(&ctx.db).await?;
    let events = store::events_of(&ctx.db, &d.id).await?;
    let household = place_name(ctx, &d.org_path).await?;
    let actors = flow::actors_for(p, &d, false);
    let mut actions = Vec::new();
    for a in ACTION_ORDER {
        if workflow::decide(d.status, *a, &actors, d.suspended_from).is_ok() {
            actions.push(ActionForm {
                action: a.as_str(),
                which: format!("act-{}", a.as_str()),
                label: lang.t(&format!("action.{}", a.as_str())),
                // The usual next step is the big button; reopening, notes and
                // refusals never are.
                primary: !actions.iter().any(|f: &ActionForm| f.primary)
                    && !matches!(
                        a,
                        Action::Reopen | Action::Comment | Action::Reject | Action::Merge
                    ),
                needs_note: a.needs_note(),
                confirm: needs_confirmation(a.as_str()),
            });
        }
    }
    let handlers = if actions.iter().any(|a| a.action == "dispatch") {
        let mut h: Vec<Choice> = store::handlers_for(&ctx.db, &d.org_path)
            .await?
            .into_iter()
            .map(|(id, name, role)| {
                let role = Role::parse(&role)
                    .map(|r| {
                        if lang == Lang::En {
                            r.label_en()
                        } else {
                            r.label_zh()
                        }
                    })
                    .unwrap_or("");
                Choice {
                    selected: d.assignee_user_id.as_deref() == Some(id.as_str()),
                    value: id,
                    label: format!("{name}({role})"),
                }
            })
            .collect();
        h.dedup_by(|a, b| a.value == b.value);
        h
    } else {
        vec![]
    };
    let merge_targets = if actions.iter().any(|a| a.action == "merge") {
        match flow::compound_of(ctx, &d.org_path).await? {
            Some(c) => store::open_in(&ctx.db, &[c.org_path], Some(&d.category), 20)
                .await?
                .into_iter()
                .filter(|o| o.id != d.id)
                .map(|o| Choice {
                    value: o.id,
                    label: format!("{} · {}", o.title, to_display(o.created_at)),
                    selected: false,
                })
                .collect(),
            None => vec![],
        }
    } else {
        vec![]
    };
    let outcome = match &d.merged_into {
        Some(main) => store::get_demand(&ctx.db, main)
            .await?
            .map(|m| m.status)
            .unwrap_or(d.status),
        None => d.status,
    };
    let can_rate = d.rating.is_none()
        && matches!(outcome, DemandStatus::Resolved | DemandStatus::Closed)
        && p.lives_at(&d.org_path);
    let rating = d.rating.as_ref().map(|r| {
        let mut parts = vec![
            format!(
                "{}:{}",
                lang.t("rating.satisfaction"),
                lang.t(&format!("rating.level{}", r.satisfaction))
            ),
            lang.t(if r.contacted {
                "rating.was_contacted"
            } else {
                "rating.not_contacted"
            })
            .to_string(),
            lang.t(if r.resolved {
                "rating.was_resolved"
            } else {
                "rating.not_resolved"
            })
            .to_string(),
        ];
        if let Some(c) = &r.comment {
            parts.push(format!("“{c}”"));
        }
        parts.join(" · ")
    });
    let assignee = match &d.assignee_user_id {
        Some(a) => accounts::store::principal_of(&ctx.db, a)
            .await?
            .map(|u| u.display_name)
            .unwrap_or_default(),
        None => String::new(),
    };
    let photos = crate::attachments::list(ctx, &d.id)
        .await?
        .into_iter()
        .map(|a| Photo {
            url: a.url,
            name: a.filename,
        })
        .collect();
    let can_mediate = crate::mediation::pages::may_open_from(ctx, p, &d).await?;
    let description = d.description.clone();
    let location = d.location.clone().unwrap_or_default();
    let title = d.title.clone();
    let version = d.version;
    let page = DemandPage {
        shell: Shell::new(
            lang,
            "nav.demands",
            if p.is_staff() { "work" } else { "me" },
            Some(p),
        )
        .with_title(title),
        d: item(d, &cats, lang, ctx.now_ms()),
        version,
        description,
        location,
        household,
        assignee,
        events: events
            .into_iter()
            .map(|e| EventItem {
                when: to_display(e.at_ms),
                what: lang.t(&format!("action.{}", e.action)).to_string(),
                who: e
                    .actor_name
                    .unwrap_or_else(|| lang.t("event.system").to_string()),
                note: e.note.unwrap_or_default(),
            })
            .collect(),
        photos,
        actions,
        handlers,
        merge_targets,
        can_rate,
        can_mediate,
        rating,
        back: if p.is_staff() { "/work" } else { "/me" },
        fs,
    };
    Ok((page.fs.status(), render(&page)).into_response())
}

async fn demand_page(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Response {
    demand_page_for(&ctx, &p, lang, &id, kernel::FormState::none())
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

#[derive(Deserialize, serde::Serialize, Default)]
struct ActForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    assignee: String,
    #[serde(default)]
    into: String,
    #[serde(default)]
    extend_minutes: Option<i64>,
    /// The "I understand this cannot be undone" checkbox of irreversible steps.
    #[serde(default)]
    confirmed: String,
}

/// Steps that cannot be undone: the page asks for a confirming tick
/// (works without JavaScript) besides app.js's confirm dialog.
fn needs_confirmation(action: &str) -> bool {
    matches!(action, "reject" | "merge" | "verify_fail")
}

/// The fields of the step forms that show their own messages.
const ACT_FIELDS: &[&str] = &["note", "assignee", "into", "extend_minutes", "confirmed"];
/// The fields of the rating form.
const RATE_FIELDS: &[&str] = &["contacted", "resolved", "satisfaction", "comment"];

async fn act(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Path(id): Path<String>,
    Form(f): Form<ActForm>,
) -> Response {
    if let Err(e) = check_csrf(&p, &f.csrf) {
        return e.into_response();
    }
    let which = format!("act-{}", f.action);
    if needs_confirmation(&f.action) && f.confirmed != "1" {
        let fs = kernel::FormState::new(&which, &f)
            .with_field("confirmed", lang.t("ux.confirm_missing"));
        return demand_page_for(&ctx, &p, lang, &id, fs)
            .await
            .unwrap_or_else(IntoResponse::into_response);
    }
    let input = TransitionInput {
        action: f.action.clone(),
        note: Some(f.note.clone()).filter(|n| !n.trim().is_empty()),
        version: f.version,
        assignee: Some(f.assignee.clone()).filter(|a| !a.is_empty()),
        into: Some(f.into.clone()).filter(|a| !a.is_empty()),
        extend_minutes: f.extend_minutes,
        ..Default::default()
    };
    match flow::transition(&ctx, &p, &id, &input).await {
        Ok(d) => Redirect::to(&format!("/demands/{}", d.id)).into_response(),
        Err(e) => match kernel::FormState::new(&which, &f).refused(&e, ACT_FIELDS, lang) {
            Some(fs) => demand_page_for(&ctx, &p, lang, &id, fs)
                .await
                .unwrap_or_else(IntoResponse::into_response),
            None => e.into_response(),
        },
    }
}

#[derive(Deserialize, serde::Serialize, Default)]
struct RateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    contacted: String,
    #[serde(default)]
    resolved: String,
    #[serde(default)]
    satisfaction: String,
    #[serde(default)]
    comment: String,
}

async fn rate(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Path(id): Path<String>,
    Form(f): Form<RateForm>,
) -> Response {
    if let Err(e) = check_csrf(&p, &f.csrf) {
        return e.into_response();
    }
    let input = RatingInput {
        contacted: f.contacted == "yes",
        resolved: f.resolved == "yes",
        satisfaction: f.satisfaction.parse().unwrap_or(0),
        comment: Some(f.comment.clone()).filter(|c| !c.trim().is_empty()),
    };
    match flow::rate(&ctx, &p, &id, &input).await {
        Ok(d) => Redirect::to(&format!("/demands/{}", d.id)).into_response(),
        Err(e) => match kernel::FormState::new("rate", &f).refused(&e, RATE_FIELDS, lang) {
            Some(fs) => demand_page_for(&ctx, &p, lang, &id, fs)
                .await
                .unwrap_or_else(IntoResponse::into_response),
            None => e.into_response(),
        },
    }
}

#[derive(Deserialize, Default)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

async fn support(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if let Err(e) = check_csrf(&p, &f.csrf) {
        return e.into_response();
    }
    match flow::support(&ctx, &p, &id).await {
        Ok(_) | Err(AppError::Conflict { .. }) => Redirect::to("/me?supported=1").into_response(),
        Err(e) => e.into_response(),
    }
}
