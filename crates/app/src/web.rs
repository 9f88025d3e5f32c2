//! The router: every module's routes, the shell's own (health, metrics,
//! static assets, home), and the cross-cutting layers.

use askama::Template;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use kernel::shell::{render, Shell};
use kernel::{AppError, Ctx};

pub fn router(ctx: Ctx, max_body_bytes: usize) -> Router {
    Router::new()
        .merge(accounts::api::routes())
        .merge(accounts::pages::routes())
        .merge(org::api::routes())
        .merge(org::pages::routes())
        .merge(cases::api::routes())
        .merge(cases::pages::routes())
        .merge(cases::insight_api::routes())
        .merge(insight::api::routes())
        .merge(insight::survey::routes())
        .merge(insight::pages::routes())
        .merge(cases::mediation::api::routes())
        .merge(cases::mediation::pages::routes())
        .merge(open311::routes())
        .merge(party::api::routes())
        .merge(party::pages::routes())
        .merge(notify::api::routes())
        .merge(notify::pages::routes())
        .merge(crate::rights::api::routes())
        .merge(crate::rights::pages::routes())
        .route("/", get(home))
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/openapi.json", get(crate::openapi::serve))
        .route("/metrics", get(crate::metrics::render))
        .route("/static/app.css", get(css))
        .route("/static/app.js", get(js))
        .route("/static/icon.svg", get(icon))
        .route("/favicon.ico", get(icon))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(from_fn_with_state(
            (ctx.clone(), max_body_bytes),
            kernel::idempotency::layer,
        ))
        .layer(from_fn(html_errors))
        .layer(from_fn(crate::metrics::track))
        .layer(from_fn_with_state(
            ctx.settings.secure_cookies,
            kernel::web::outer,
        ))
        .with_state(ctx)
}

async fn home(State(ctx): State<Ctx>, accounts::MaybeAuth(who): accounts::MaybeAuth) -> Response {
    let _ = ctx;
    match who {
        Some(p) => Redirect::to(accounts::pages::home_of(&p)).into_response(),
        None => Redirect::to("/login").into_response(),
    }
}

async fn not_found() -> AppError {
    AppError::NotFound
}

const CSS: &str = include_str!("../static/app.css");
const JS: &str = include_str!("../static/app.js");
const ICON: &str = include_str!("../static/icon.svg");

fn asset(body: &'static str, mime: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(mime)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        body,
    )
        .into_response()
}

async fn css() -> Response {
    asset(CSS, "text/css; charset=utf-8")
}

async fn js() -> Response {
    asset(JS, "text/javascript; charset=utf-8")
}

async fn icon() -> Response {
    asset(ICON, "image/svg+xml")
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    shell: Shell,
    message: String,
}

/// Pages answer errors in HTML: 401 sends the visitor to log in, other
/// errors get a page in the visitor's language. The API keeps JSON.
async fn html_errors(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    // Pages are everything outside the machine interfaces.
    let machine = path.starts_with("/api/")
        || path.starts_with("/open311/")
        || path == "/metrics"
        || path == "/healthz";
    let wants_page = !machine
        && matches!(
            *req.method(),
            axum::http::Method::GET | axum::http::Method::POST
        );
    let (parts, body) = req.into_parts();
    let lang = kernel::web::lang_of(&parts);
    let resp = next.run(Request::from_parts(parts, body)).await;
    let status = resp.status();
    if !wants_page || status.is_success() || status.is_redirection() {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return resp;
    }
    if status == StatusCode::UNAUTHORIZED {
        let next = match query {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        let to = format!("/login?next={}", urlencode(&next));
        return Redirect::to(&to).into_response();
    }
    let key = match status {
        StatusCode::NOT_FOUND => "error.not_found",
        StatusCode::FORBIDDEN => "error.forbidden",
        StatusCode::BAD_REQUEST => "error.csrf",
        _ => "error.title",
    };
    let page = ErrorPage {
        shell: Shell::new(lang, "error.title", "", None),
        message: lang.t(key).to_string(),
    };
    let mut out = render(&page);
    *out.status_mut() = status;
    out
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
