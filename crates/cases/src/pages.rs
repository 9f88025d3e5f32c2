//! Demand pages: the resident home `/me` (file a demand, my demands), the
//! staff workbench `/work` (demands in scope), and a demand's page with its
//! timeline. Plain HTML forms; they work without JavaScript.

use crate::api::{self, ListQuery, NewDemandBody};
use crate::store::{self, Category, DemandRow};
use accounts::session::check_csrf;
use accounts::Auth;
use askama::Template;
use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use kernel::clock::to_display;
use kernel::i18n::Lang;
use kernel::shell::{render, Shell};
use kernel::{AppError, Ctx, FieldErrors, Principal};
use serde::Deserialize;

pub fn routes() -> Router<Ctx> {
    Router::new()
        .route("/me", get(me))
        .route("/work", get(work))
        .route("/demands", post(file))
        .route("/demands/{id}", get(demand_page))
}

pub struct DemandItem {
    pub id: String,
    pub title: String,
    pub category: String,
    pub status: String,
    pub status_label: &'static str,
    pub created_at: String,
}

fn items(rows: Vec<DemandRow>, cats: &[Category], lang: Lang) -> Vec<DemandItem> {
    rows.into_iter()
        .map(|d| DemandItem {
            category: category_name(cats, &d.category, lang),
            status: d.status.as_str().to_string(),
            status_label: lang.t(&d.status.label_key()),
            created_at: to_display(d.created_at),
            id: d.id,
            title: d.title,
        })
        .collect()
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

pub struct CategoryOption {
    pub code: String,
    pub name: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "me.html")]
struct MePage {
    shell: Shell,
    households: Vec<String>,
    categories: Vec<CategoryOption>,
    demands: Vec<DemandItem>,
    errors: FieldErrors,
    form: FormValues,
    flash: Option<&'static str>,
}

impl MePage {
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
    anonymous: Option<String>,
    #[serde(default)]
    csrf: String,
}

#[derive(Deserialize, Default)]
struct MeQuery {
    filed: Option<String>,
}

async fn household_names(ctx: &Ctx, p: &Principal) -> Result<Vec<String>, AppError> {
    let mut out = Vec::new();
    for h in &p.households {
        let chain = org::store::ancestors(&ctx.db, &h.org_path).await?;
        // 新城壹号小区 1号楼 1单元 101室: the names from the compound down.
        let start = chain
            .iter()
            .position(|n| {
                matches!(
                    n.kind,
                    org::model::OrgKind::Compound | org::model::OrgKind::Village
                )
            })
            .unwrap_or(0);
        out.push(
            chain[start..]
                .iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    Ok(out)
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
    let page = MePage {
        shell: Shell::new(lang, "me.title", "me", Some(p)),
        households: household_names(ctx, p).await?,
        categories: cats
            .iter()
            .map(|c| CategoryOption {
                code: c.code.clone(),
                name: if lang == Lang::En {
                    c.name_en.clone()
                } else {
                    c.name.clone()
                },
                selected: c.code == form.category,
            })
            .collect(),
        demands: items(rows, &cats, lang),
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
    let flash = q.filed.is_some().then_some("demand.submitted_ok");
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

async fn file(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Form(f): Form<FormValues>,
) -> Response {
    if let Err(e) = check_csrf(&p, &f.csrf) {
        return e.into_response();
    }
    let body = NewDemandBody {
        category: f.category.clone(),
        title: f.title.clone(),
        description: f.description.clone(),
        location: Some(f.location.clone()),
        anonymous: Some(f.anonymous.is_some()),
        ..Default::default()
    };
    match api::file_demand(&ctx, &p, &body).await {
        Ok(_) => Redirect::to("/me?filed=1").into_response(),
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
    demands: Vec<DemandItem>,
}

async fn work(State(ctx): State<Ctx>, lang: Lang, Auth(p): Auth) -> Response {
    if !p.is_staff() {
        return Redirect::to("/me").into_response();
    }
    let result = async {
        let cats = store::categories(&ctx.db).await?;
        let q = ListQuery {
            status: None,
            category: None,
            org: None,
            limit: Some("100".into()),
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
            demands: items(rows, &cats, lang),
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
    pub what: &'static str,
    pub who: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "demand.html")]
struct DemandPage {
    shell: Shell,
    d: DemandItem,
    description: String,
    location: String,
    household: String,
    events: Vec<EventItem>,
    back: &'static str,
}

async fn demand_page(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let d = api::visible_demand(&ctx, &p, &id).await?;
        let cats = store::categories(&ctx.db).await?;
        let events = store::events_of(&ctx.db, &d.id).await?;
        let household = org::store::ancestors(&ctx.db, &d.org_path)
            .await?
            .iter()
            .skip_while(|n| {
                !matches!(
                    n.kind,
                    org::model::OrgKind::Compound | org::model::OrgKind::Village
                )
            })
            .map(|n| n.name.clone())
            .collect::<Vec<_>>()
            .join(" ");
        let description = d.description.clone();
        let location = d.location.clone().unwrap_or_default();
        let title = d.title.clone();
        let item = items(vec![d], &cats, lang).pop().expect("one row");
        Ok::<_, AppError>(DemandPage {
            shell: Shell::new(
                lang,
                "nav.demands",
                if p.is_staff() { "work" } else { "me" },
                Some(&p),
            )
            .with_title(title),
            d: item,
            description,
            location,
            household,
            events: events
                .into_iter()
                .map(|e| EventItem {
                    when: to_display(e.at_ms),
                    what: lang.t(&format!("status.{}", e.to_status)),
                    who: e.actor_name.unwrap_or_default(),
                    note: e.note.unwrap_or_default(),
                })
                .collect(),
            back: if p.is_staff() { "/work" } else { "/me" },
        })
    }
    .await;
    match result {
        Ok(page) => render(&page),
        Err(e) => e.into_response(),
    }
}
