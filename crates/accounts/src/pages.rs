//! `/login` and `/logout` for the web: a cookie session with a CSRF token.
//! The login form itself is protected by a double-submit token.

use crate::session::{self, Auth, MaybeAuth};
use askama::Template;
use axum::extract::{Form, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use kernel::error::AppError;
use kernel::i18n::Lang;
use kernel::shell::{render, Shell};
use kernel::Ctx;
use serde::Deserialize;

const PRE_CSRF_COOKIE: &str = "lx_login_csrf";

pub fn routes() -> Router<Ctx> {
    Router::new()
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout_submit))
        .route("/audit", get(audit_page))
        .route("/me/password", get(password_page).post(password_submit))
        .route("/me/totp", get(totp_page).post(totp_submit))
}

#[derive(Template)]
#[template(path = "me_security.html")]
struct SecurityPage {
    shell: Shell,
    totp: bool,
    notice: Option<String>,
    /// The refused form (`password` or `totp`): messages next to fields.
    fs: kernel::FormState,
    secret: Option<String>,
    uri: String,
}

fn security_page(lang: Lang, p: &kernel::Principal, totp: bool) -> SecurityPage {
    SecurityPage {
        shell: Shell::new(
            lang,
            if totp {
                "h4auth.totp_title"
            } else {
                "h4auth.password_title"
            },
            "me",
            Some(p),
        ),
        totp,
        notice: None,
        fs: kernel::FormState::none(),
        secret: None,
        uri: String::new(),
    }
}

/// The security page again with the refusal of its form: 422, each message
/// next to its field (the password fields are never sent back).
fn refused_security(
    mut page: SecurityPage,
    which: &str,
    shown: &[&str],
    e: &AppError,
    lang: Lang,
) -> Response {
    let fs = kernel::FormState::new(which, &()).refused(e, shown, lang);
    page.fs = fs.unwrap_or_else(|| {
        let mut f = kernel::FormState::new(which, &());
        f.message = Some(e.message().to_string());
        f
    });
    (page.fs.status(), render(&page)).into_response()
}

async fn password_page(lang: Lang, Auth(p): Auth) -> Response {
    render(&security_page(lang, &p, false))
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

async fn password_submit(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Form(f): Form<PasswordForm>,
) -> Response {
    if let Err(e) = session::check_csrf(&p, &f.csrf) {
        return e.into_response();
    }
    let mut page = security_page(lang, &p, false);
    match crate::api::change_password(&ctx, &p, &f.current_password, &f.new_password).await {
        Ok(()) => page.notice = Some(lang.t("h4auth.changed").to_string()),
        Err(e @ (AppError::Validation(_) | AppError::BadRequest { .. })) => {
            return refused_security(
                page,
                "password",
                &["current_password", "new_password"],
                &e,
                lang,
            )
        }
        Err(e) => return e.into_response(),
    }
    render(&page)
}

async fn totp_page(lang: Lang, Auth(p): Auth) -> Response {
    render(&security_page(lang, &p, true))
}

#[derive(Deserialize)]
struct TotpForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
}

async fn totp_submit(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Form(f): Form<TotpForm>,
) -> Response {
    if let Err(e) = session::check_csrf(&p, &f.csrf) {
        return e.into_response();
    }
    let mut page = security_page(lang, &p, true);
    match crate::api::enrol_totp(&ctx, &p, &f.password).await {
        Ok(t) => {
            page.secret = Some(t.secret);
            page.uri = t.otpauth_uri;
        }
        Err(e @ (AppError::Validation(_) | AppError::BadRequest { .. })) => {
            return refused_security(page, "totp", &["password"], &e, lang)
        }
        Err(e) => return e.into_response(),
    }
    render(&page)
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    shell: Shell,
    error: Option<String>,
    /// A refused login: the message next to the field it is about.
    fs: kernel::FormState,
    login: String,
    next: String,
    pre_csrf: String,
    demo: bool,
}

#[derive(Deserialize, Default)]
pub struct NextQuery {
    next: Option<String>,
}

/// Only same-site relative paths are followed after login.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && n.len() < 200 =>
        {
            n.to_string()
        }
        _ => String::new(),
    }
}

fn login_form(
    ctx: &Ctx,
    lang: Lang,
    error: Option<String>,
    login: String,
    next: String,
) -> Response {
    login_form_with(ctx, lang, error, kernel::FormState::none(), login, next)
}

/// The login form refused: 422 with the message next to `field`.
fn login_refused(
    ctx: &Ctx,
    lang: Lang,
    field: &str,
    message: &str,
    login: String,
    next: String,
) -> Response {
    let fs = kernel::FormState::new("login", &()).with_field(field, message);
    let mut resp = login_form_with(ctx, lang, None, fs, login, next);
    *resp.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    resp
}

fn login_form_with(
    ctx: &Ctx,
    lang: Lang,
    error: Option<String>,
    fs: kernel::FormState,
    login: String,
    next: String,
) -> Response {
    let token = kernel::id::random_token();
    let page = LoginPage {
        shell: Shell::new(lang, "login.title", "login", None),
        error,
        fs,
        login,
        next,
        pre_csrf: token.clone(),
        demo: ctx.settings.demo,
    };
    let mut resp = render(&page);
    let c =
        format!("{PRE_CSRF_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600");
    if let Ok(v) = HeaderValue::from_str(&c) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

async fn login_page(
    State(ctx): State<Ctx>,
    lang: Lang,
    MaybeAuth(who): MaybeAuth,
    kernel::json::Query(q): kernel::json::Query<NextQuery>,
) -> Response {
    if let Some(p) = who {
        return Redirect::to(home_of(&p)).into_response();
    }
    login_form(
        &ctx,
        lang,
        None,
        String::new(),
        safe_next(q.next.as_deref()),
    )
}

pub fn home_of(p: &kernel::Principal) -> &'static str {
    home_for(&p.grants)
}

/// Where an account lands: the auditor on the audit log, staff on the
/// workbench, residents at home.
pub fn home_for(grants: &[kernel::Grant]) -> &'static str {
    use kernel::Role;
    if grants.iter().any(|g| g.role == Role::Auditor)
        && !grants.iter().any(|g| Role::CASE_STAFF.contains(&g.role))
    {
        "/audit"
    } else if grants.iter().any(|g| g.role != Role::Resident) {
        "/work"
    } else {
        "/me"
    }
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: String,
    /// The TOTP code (staff outside demo mode).
    #[serde(default)]
    totp: String,
}

async fn login_submit(
    State(ctx): State<Ctx>,
    lang: Lang,
    kernel::web::ClientAddr(client): kernel::web::ClientAddr,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let cookie_token = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == PRE_CSRF_COOKIE)
        .map(|(_, v)| v.to_string())
        .unwrap_or_default();
    let next = safe_next(Some(&f.next));
    if cookie_token.is_empty() || !session::constant_eq(&cookie_token, &f.csrf) {
        return login_form(&ctx, lang, Some(lang.t("error.csrf").into()), f.login, next);
    }
    if f.login.trim().is_empty() {
        return login_refused(
            &ctx,
            lang,
            "login",
            lang.t("login.need_login"),
            f.login,
            next,
        );
    }
    if f.password.is_empty() {
        return login_refused(
            &ctx,
            lang,
            "password",
            lang.t("login.need_password"),
            f.login,
            next,
        );
    }
    let totp = Some(f.totp.as_str()).filter(|t| !t.trim().is_empty() && t.len() <= 16);
    match crate::api::login(&ctx, &f.login, &f.password, totp, "web", &client).await {
        Ok(out) => {
            let to = if let Some(r) = out.restriction {
                // The one thing the session may do first.
                if r == "password_change_required" {
                    "/me/password".to_string()
                } else {
                    "/me/totp".to_string()
                }
            } else if next.is_empty() {
                home_for(&out.user.grants).to_string()
            } else {
                next
            };
            let mut resp = Redirect::to(&to).into_response();
            let max_age = ctx.settings.session_absolute_minutes * 60;
            if let Ok(v) = HeaderValue::from_str(&session::session_cookie(
                &out.token,
                max_age,
                ctx.settings.secure_cookies,
            )) {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
            resp
        }
        Err(AppError::TooManyRequests { .. }) => login_form(
            &ctx,
            lang,
            Some(lang.t("login.too_many").into()),
            f.login,
            next,
        ),
        Err(AppError::Locked { .. }) => login_form(
            &ctx,
            lang,
            Some(lang.t("login.locked").into()),
            f.login,
            next,
        ),
        Err(AppError::SecondFactorRequired) => login_refused(
            &ctx,
            lang,
            if ctx.settings.demo {
                "password"
            } else {
                "totp"
            },
            lang.t("h4auth.totp_needed"),
            f.login,
            next,
        ),
        Err(AppError::InvalidCredentials) | Err(AppError::Validation(_)) => login_refused(
            &ctx,
            lang,
            "password",
            lang.t("login.failed"),
            f.login,
            next,
        ),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout_submit(State(ctx): State<Ctx>, Auth(p): Auth, Form(f): Form<CsrfForm>) -> Response {
    if let Err(e) = session::check_csrf(&p, &f.csrf) {
        return e.into_response();
    }
    if let Err(e) = crate::api::logout(&ctx, &p).await {
        return e.into_response();
    }
    let mut resp = Redirect::to("/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&session::clear_session_cookie()) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

pub struct AuditItem {
    pub seq: i64,
    pub at: String,
    pub action: String,
    pub object: String,
    pub actor: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    shell: Shell,
    rows: Vec<AuditItem>,
    next: Option<String>,
    intact: Option<i64>,
    broken_at: i64,
}

#[derive(Deserialize, Default)]
struct AuditQuery {
    cursor: Option<String>,
}

/// The audit log for auditors: newest first, with the hash chain checked.
async fn audit_page(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    kernel::json::Query(q): kernel::json::Query<AuditQuery>,
) -> Response {
    if !p.has_role(kernel::Role::Auditor) {
        return AppError::Forbidden.into_response();
    }
    let result = async {
        let params = kernel::page::PageParams::parse(Some("50"), q.cursor.as_deref())?;
        let before = match &params.after {
            Some(k) => Some(
                k.parse::<i64>()
                    .map_err(|_| AppError::field("cursor", "cursor 无效"))?,
            ),
            None => None,
        };
        let roots = p.roots_for(&[kernel::Role::Auditor]);
        let rows = crate::store::audit_page(&ctx.db, &roots, before, params.fetch()).await?;
        let page = kernel::page::Page::from_rows(rows, &params, |r| r.seq.to_string());
        let verdict = kernel::audit::verify(&ctx.db).await?;
        let mut names = std::collections::HashMap::new();
        let mut items = Vec::new();
        for r in page.items {
            let actor = match &r.actor_id {
                Some(id) => {
                    if !names.contains_key(id) {
                        let n = crate::store::principal_of(&ctx.db, id)
                            .await?
                            .map(|u| u.display_name)
                            .unwrap_or_default();
                        names.insert(id.clone(), n);
                    }
                    names[id].clone()
                }
                None => lang.t("event.system").to_string(),
            };
            items.push(AuditItem {
                seq: r.seq,
                at: kernel::clock::to_display(r.at_ms),
                action: r.action,
                object: format!("{} {}", r.object_type, r.object_id.unwrap_or_default()),
                actor,
                detail: r.detail,
            });
        }
        Ok::<_, AppError>(AuditPage {
            shell: Shell::new(lang, "audit.title", "audit", Some(&p)),
            rows: items,
            next: page.next_cursor,
            intact: verdict.ok(),
            broken_at: verdict.err().unwrap_or(0),
        })
    }
    .await;
    match result {
        Ok(page) => render(&page),
        Err(e) => e.into_response(),
    }
}
