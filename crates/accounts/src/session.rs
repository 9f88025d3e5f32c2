//! Resolving the caller: a bearer token (API) or the `lx_session` cookie
//! (web). Cookie-authenticated writes to the API must echo the session's
//! CSRF token in `X-CSRF-Token`; forms carry it as a hidden `csrf` field.

use crate::cache::SessionCache;
use crate::{model, store};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::Method;
use kernel::error::AppError;
use kernel::{Ctx, Principal};

pub const SESSION_COOKIE: &str = "lx_session";

/// The authenticated caller; rejects with 401 when there is none.
pub struct Auth(pub Principal);

/// The caller if any (pages that also serve anonymous visitors).
pub struct MaybeAuth(pub Option<Principal>);

enum Credential<'a> {
    Bearer(&'a str),
    Cookie(&'a str),
}

fn credential(parts: &Parts) -> Option<Credential<'_>> {
    if let Some(h) = parts.headers.get(axum::http::header::AUTHORIZATION) {
        let v = h.to_str().ok()?;
        let token = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))?;
        return Some(Credential::Bearer(token.trim()));
    }
    kernel::web::cookie(parts, SESSION_COOKIE).map(Credential::Cookie)
}

async fn resolve(parts: &Parts, ctx: &Ctx) -> Result<Option<Principal>, AppError> {
    let Some(cred) = credential(parts) else {
        return Ok(None);
    };
    let (token, via_cookie) = match cred {
        Credential::Bearer(t) => (t, false),
        Credential::Cookie(t) => (t, true),
    };
    if token.is_empty() || token.len() > 128 {
        return Err(AppError::Unauthenticated);
    }
    let sid = store::session_id(token);
    let cache = SessionCache::of(ctx);
    let now = ctx.now_ms();
    // Only the read is cached (see crate::cache): every check below runs on
    // every request. A cached entry that fails them is read again before
    // the request is refused.
    let mut cached = cache.get(&sid, ctx.db.auth_epoch());
    let (entry, roles) = loop {
        let from_cache = cached.is_some();
        let entry = match cached.take() {
            Some(e) => e,
            None => match cache.load(&ctx.db, &sid).await? {
                Some(e) => e,
                None => return Err(AppError::Unauthenticated),
            },
        };
        let s = &entry.access.session;
        let roles: Vec<kernel::Role> = entry.access.grants.iter().map(|g| g.role).collect();
        let times = model::SessionTimes {
            last_seen_at: entry.last_seen_at(),
            ..s.times
        };
        if s.user_active && model::session_alive(&times, idle_ms(ctx, &roles), now) {
            break (entry, roles);
        }
        if !from_cache {
            return Err(AppError::Unauthenticated);
        }
        cache.remove(&sid);
    };
    let s = &entry.access.session;
    if via_cookie
        && parts.uri.path().starts_with("/api/")
        && !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS)
    {
        let echoed = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !constant_eq(echoed, &s.csrf_token) {
            return Err(AppError::Forbidden);
        }
    }
    let is_staff = roles.iter().any(|r| *r != kernel::Role::Resident);
    if let Some(e) = restriction(ctx, s, is_staff, now) {
        if !allowed_while_restricted(parts.uri.path()) {
            return Err(e);
        }
    }
    // Refresh the idle clock at most once a minute, to keep reads cheap.
    // The live-update stream reconnects by itself, so it is no sign that
    // someone is at the screen: it never keeps a session alive. The touch
    // does not move the auth epoch: the cached entry learns it here, once
    // it has committed.
    if now - entry.last_seen_at() > 60_000 && !is_passive(parts) {
        store::touch_session(&ctx.db, &s.id, now).await?;
        cache.touched(&sid, now);
    }
    Ok(Some(Principal {
        user_id: s.user_id.clone(),
        display_name: s.display_name.clone(),
        grants: entry.access.grants.clone(),
        households: entry.access.households.clone(),
        csrf_token: (s.kind == "web").then(|| s.csrf_token.clone()),
        session_id: s.id.clone(),
    }))
}

/// The one idle rule, for requests and for long-lived connections alike:
/// system admins, security admins and auditors idle out sooner than other
/// staff (`session_idle_privileged_minutes`, 15 by default, against 30).
pub fn idle_ms(ctx: &Ctx, roles: &[kernel::Role]) -> i64 {
    model::idle_minutes_for(
        roles,
        ctx.settings.session_idle_minutes,
        ctx.settings.session_idle_privileged_minutes,
    ) * 60_000
}

/// Is this session (by id) of `user_id` still usable now: not revoked, its
/// user active, within the absolute limit and the idle limit of the user's
/// roles as they are now? For connections that stay open (the live-update
/// stream) and re-check while they do; the same rule as [`Auth`].
pub async fn still_alive(ctx: &Ctx, session_id: &str, user_id: &str) -> kernel::AppResult<bool> {
    let roles: Vec<kernel::Role> = store::grants_of(&ctx.db, user_id)
        .await?
        .iter()
        .map(|g| g.role)
        .collect();
    store::session_alive(&ctx.db, session_id, idle_ms(ctx, &roles), ctx.now_ms()).await
}

/// The user a token (bearer or cookie) belongs to, if its session is usable
/// now (the idempotency layer scopes keys by it).
pub async fn user_of_token(ctx: &Ctx, token: &str) -> Option<String> {
    let s = store::load_session(&ctx.db, token).await.ok()??;
    if !s.user_active {
        return None;
    }
    still_alive(ctx, &s.id, &s.user_id)
        .await
        .ok()?
        .then_some(s.user_id)
}

/// What a staff session must do before anything else: change an expired
/// password, or enrol the second factor that is now required.
pub fn restriction(ctx: &Ctx, s: &store::SessionRow, is_staff: bool, now: i64) -> Option<AppError> {
    if model::password_expired(
        s.password_changed_at,
        ctx.settings.password_max_age_in_force(),
        is_staff,
        now,
    ) {
        return Some(AppError::Restricted {
            code: "password_change_required",
            message: "密码已过期,请先修改密码".into(),
        });
    }
    if is_staff && ctx.settings.totp_required() && !s.totp_enrolled {
        return Some(AppError::Restricted {
            code: "totp_enrolment_required",
            message: "请先绑定动态口令(两步验证)".into(),
        });
    }
    None
}

/// The paths a restricted session may still use: who am I, the password
/// and second-factor settings, logout.
fn allowed_while_restricted(path: &str) -> bool {
    matches!(
        path,
        "/api/v1/me"
            | "/api/v1/me/password"
            | "/api/v1/me/totp"
            | "/api/v1/auth/logout"
            | "/me/password"
            | "/me/totp"
            | "/logout"
    )
}

/// Requests a page makes by itself, which do not count as activity.
fn is_passive(parts: &Parts) -> bool {
    parts.uri.path() == "/api/v1/notify/stream"
}

impl FromRequestParts<Ctx> for Auth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, ctx: &Ctx) -> Result<Self, Self::Rejection> {
        match resolve(parts, ctx).await? {
            Some(p) => Ok(Auth(p)),
            None => Err(AppError::Unauthenticated),
        }
    }
}

impl FromRequestParts<Ctx> for MaybeAuth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, ctx: &Ctx) -> Result<Self, Self::Rejection> {
        match resolve(parts, ctx).await {
            Ok(p) => Ok(MaybeAuth(p)),
            // An expired or revoked cookie on a page is simply "not logged in".
            Err(AppError::Unauthenticated) => Ok(MaybeAuth(None)),
            Err(e) => Err(e),
        }
    }
}

/// Checks a form's CSRF token against the session's.
pub fn check_csrf(p: &Principal, token: &str) -> Result<(), AppError> {
    match &p.csrf_token {
        Some(expected) if constant_eq(token, expected) => Ok(()),
        Some(_) => Err(AppError::bad_request(
            "csrf_failed",
            "页面已过期,请刷新后重试",
        )),
        // Bearer sessions are not exposed to CSRF.
        None => Ok(()),
    }
}

pub fn constant_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn session_cookie(token: &str, max_age_secs: i64, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{}",
        if secure { "; Secure" } else { "" }
    )
}

pub fn clear_session_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}
