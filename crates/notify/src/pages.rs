//! `/inbox`: the caller's notifications, newest first, unread ones marked;
//! "mark read" per item and "mark all read" are plain forms, so the page
//! works without JavaScript (with it, the header's count updates live).

use crate::api::{inbox_page, mark_all_read, mark_read};
use crate::model::kind_label;
use crate::store;
use accounts::session::check_csrf;
use accounts::Auth;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use kernel::i18n::Lang;
use kernel::json::Query;
use kernel::page::PageParams;
use kernel::shell::{render, Shell};
use kernel::{AppResult, Ctx};
use serde::Deserialize;

pub fn routes() -> Router<Ctx> {
    Router::new()
        .route("/inbox", get(inbox))
        .route("/inbox/read-all", post(read_all))
        .route("/inbox/{id}/read", post(read_one))
}

pub struct Item {
    pub id: String,
    pub label: String,
    pub title: String,
    pub body: String,
    pub link: String,
    pub at: String,
    pub unread: bool,
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    shell: Shell,
    items: Vec<Item>,
    unread: i64,
    unread_only: bool,
    next: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct PageQ {
    cursor: Option<String>,
    unread: Option<String>,
}

async fn inbox(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Query(q): Query<PageQ>,
) -> AppResult<Response> {
    let params = PageParams::parse(Some("30"), q.cursor.as_deref())?;
    let unread_only = matches!(q.unread.as_deref(), Some("1") | Some("true"));
    let page = inbox_page(&ctx, &p, &params, unread_only).await?;
    let unread = store::unread_count(&ctx.db, &p.user_id).await?;
    let items = page
        .items
        .into_iter()
        .map(|r| Item {
            label: kind_label(lang, &r.kind),
            // The body quotes the demand (the resident's words); a system
            // text in it (超期未办…) is shown in the page's language.
            body: lang.msg(r.body.as_deref().unwrap_or_default()),
            link: r.link.filter(|l| l.starts_with('/')).unwrap_or_default(),
            at: lang.datetime(r.created_at),
            unread: r.read_at.is_none(),
            id: r.id,
            title: r.title,
        })
        .collect();
    let next = page.next_cursor.map(|c| {
        if unread_only {
            format!("/inbox?unread=1&cursor={c}")
        } else {
            format!("/inbox?cursor={c}")
        }
    });
    Ok(render(&InboxPage {
        shell: Shell::new(lang, "inbox.title", "inbox", Some(&p)).with_unread(unread),
        items,
        unread,
        unread_only,
        next,
    }))
}

#[derive(Deserialize)]
struct ReadForm {
    #[serde(default)]
    csrf: String,
    /// "1": go on to the item's page after marking it read.
    #[serde(default)]
    open: Option<String>,
}

async fn read_one(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Form(f): Form<ReadForm>,
) -> Response {
    if let Err(e) = check_csrf(&p, &f.csrf) {
        return e.into_response();
    }
    match mark_read(&ctx, &p, &id).await {
        Ok(item) => {
            let to = match (f.open.as_deref(), item.link.as_deref()) {
                // Only paths of this site: never an open redirect.
                (Some("1"), Some(l)) if l.starts_with('/') && !l.starts_with("//") => l.to_string(),
                _ => "/inbox".to_string(),
            };
            Redirect::to(&to).into_response()
        }
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

async fn read_all(State(ctx): State<Ctx>, Auth(p): Auth, Form(f): Form<CsrfOnly>) -> Response {
    if let Err(e) = check_csrf(&p, &f.csrf) {
        return e.into_response();
    }
    match mark_all_read(&ctx, &p).await {
        Ok(_) => Redirect::to("/inbox").into_response(),
        Err(e) => e.into_response(),
    }
}
