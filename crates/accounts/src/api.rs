//! `/api/v1/auth/*`, `/api/v1/me` and `/api/v1/audit/events`. Handlers are
//! thin: the login procedure itself is [`login`], shared with the web form.

use crate::model::{self, LockoutPolicy};
use crate::session::Auth;
use crate::store;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json as JsonOut, Router};
use kernel::audit::{self, AuditEntry};
use kernel::json::{Json, Query};
use kernel::openapi::{BodyErrors, Forbidden, Locked, QueryErrors, TooManyRequests, Unauthorized};
use kernel::page::{Page, PageParams, PageQuery};
use kernel::principal::{Grant, HouseholdRef};
use kernel::{AppError, AppResult, Ctx, FieldErrors, Principal, Role};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::OnceLock;
use utoipa::ToSchema;

pub fn routes() -> Router<Ctx> {
    Router::new()
        .route("/api/v1/auth/login", post(login_api))
        .route("/api/v1/auth/logout", post(logout_api))
        .route("/api/v1/me", get(me_api))
        .route("/api/v1/audit/events", get(audit_events))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// A resident's phone number, or a staff account name.
    pub login: String,
    pub password: String,
    /// The one-time code of staff outside demo mode.
    #[serde(default)]
    pub totp: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub display_name: String,
    pub login: String,
    pub grants: Vec<Grant>,
    pub households: Vec<HouseholdRef>,
}

#[derive(Serialize, ToSchema)]
pub struct LoginAnswer {
    pub token: String,
    pub expires_at: String,
    pub user: UserView,
}

pub struct LoginOutcome {
    pub token: String,
    pub csrf: String,
    pub expires_at_ms: i64,
    pub user: UserView,
}

/// A hash to verify against when the login is unknown, so a wrong login and
/// a wrong password take the same time.
fn dummy_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| model::hash_password("lianxin-timing-equaliser"))
}

/// The login procedure: lockout, password check on the blocking pool,
/// failure counting, session creation, audit.
pub async fn login(
    ctx: &Ctx,
    login: &str,
    password: &str,
    kind: &str,
    client: &str,
) -> AppResult<LoginOutcome> {
    if let Err(secs) = ctx
        .limits
        .login
        .check(&format!("login:{client}"), ctx.now_ms())
    {
        return Err(AppError::TooManyRequests {
            retry_after_secs: secs,
        });
    }
    let mut errors = FieldErrors::new();
    if login.trim().is_empty() || login.chars().count() > 64 {
        errors.add("login", "请输入手机号或账号(不超过 64 个字符)");
    }
    if password.is_empty() || password.chars().count() > 256 {
        errors.add("password", "请输入密码(不超过 256 个字符)");
    }
    errors.check()?;

    let now = ctx.now_ms();
    let policy = LockoutPolicy::new(
        ctx.settings.lockout_failures,
        ctx.settings.lockout_window_minutes,
    );
    let user = store::find_user_by_login(&ctx.db, &ctx.cipher, login).await?;
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| dummy_hash().to_string());
    let pw = password.to_string();
    let ok = tokio::task::spawn_blocking(move || model::verify_password(&pw, &hash))
        .await
        .map_err(AppError::internal)?;

    let Some(user) = user else {
        audit::record_alone(
            &ctx.db,
            AuditEntry {
                at_ms: now,
                action: "login_failed",
                object_type: "user",
                // An unknown login may be a mistyped phone: never store it as typed.
                detail: json!({"login": kernel::mask::phone(&model::normalize_login(login)), "reason": "unknown_login"}),
                ..Default::default()
            },
        )
        .await?;
        return Err(AppError::InvalidCredentials);
    };
    let grants = store::grants_of(&ctx.db, &user.id).await?;
    let households = store::households_of(&ctx.db, &user.id).await?;
    let home_path = grants
        .first()
        .map(|g| g.org_path.as_str().to_string())
        .or_else(|| households.first().map(|h| h.org_path.as_str().to_string()));

    if let Some(secs) = policy.locked_for(&user.failures, now) {
        return Err(AppError::Locked {
            retry_after_secs: secs,
        });
    }
    if !ok || !user.active {
        let next = policy.after_failure(&user.failures, now);
        store::save_failures(&ctx.db, &user.id, &next, now).await?;
        let locked = policy.locked_for(&next, now);
        audit::record_alone(
            &ctx.db,
            AuditEntry {
                at_ms: now,
                actor_id: None,
                action: if locked.is_some() {
                    "account_locked"
                } else {
                    "login_failed"
                },
                object_type: "user",
                object_id: Some(&user.id),
                org_path: home_path.as_deref(),
                detail: json!({"login": user.login_masked, "reason": "bad_password"}),
                ..Default::default()
            },
        )
        .await?;
        return Err(match locked {
            Some(secs) => AppError::Locked {
                retry_after_secs: secs,
            },
            None => AppError::InvalidCredentials,
        });
    }

    let mut tx = ctx.db.begin().await?;
    store::reset_failures(&mut tx, &user.id).await?;
    let s = store::create_session(
        &mut tx,
        &user.id,
        kind,
        now,
        ctx.settings.session_absolute_minutes * 60_000,
    )
    .await?;
    audit::record(
        &mut tx,
        ctx.db.backend(),
        AuditEntry {
            at_ms: now,
            actor_id: Some(&user.id),
            action: "login",
            object_type: "session",
            object_id: Some(&user.id),
            org_path: home_path.as_deref(),
            detail: json!({"kind": kind}),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(LoginOutcome {
        token: s.token,
        csrf: s.csrf,
        expires_at_ms: s.expires_at,
        user: UserView {
            id: user.id,
            display_name: user.display_name,
            login: user.login_masked,
            grants,
            households,
        },
    })
}

/// Exchanges credentials for a bearer token. Wrong credentials → 401; too
/// many failures lock the account (423 with `Retry-After`).
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    operation_id = "login",
    tag = "auth",
    summary = "登录,取得令牌",
    request_body = LoginBody,
    responses(
        (status = 200, description = "令牌及用户", body = LoginAnswer),
        BodyErrors, Unauthorized, Locked, TooManyRequests,
    ),
)]
async fn login_api(
    State(ctx): State<Ctx>,
    kernel::web::ClientAddr(client): kernel::web::ClientAddr,
    Json(body): Json<LoginBody>,
) -> AppResult<JsonOut<LoginAnswer>> {
    if let Some(t) = &body.totp {
        if t.len() > 16 {
            return Err(AppError::field("totp", "动态口令格式不正确"));
        }
    }
    let out = login(&ctx, &body.login, &body.password, "api", &client).await?;
    Ok(JsonOut(LoginAnswer {
        token: out.token,
        expires_at: kernel::clock::to_rfc3339(out.expires_at_ms),
        user: out.user,
    }))
}

/// Revokes the caller's session server-side.
pub async fn logout(ctx: &Ctx, p: &Principal) -> AppResult<()> {
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    store::revoke_session(&mut tx, &p.session_id, now).await?;
    audit::record(
        &mut tx,
        ctx.db.backend(),
        AuditEntry {
            at_ms: now,
            actor_id: Some(&p.user_id),
            action: "logout",
            object_type: "session",
            object_id: Some(&p.user_id),
            org_path: p
                .grants
                .first()
                .map(|g| g.org_path.as_str())
                .or_else(|| p.households.first().map(|h| h.org_path.as_str())),
            detail: json!({}),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Revokes the caller's session.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    operation_id = "logout",
    tag = "auth",
    summary = "退出登录",
    responses((status = 204, description = "令牌已作废"), Unauthorized),
    security(("bearer" = [])),
)]
async fn logout_api(State(ctx): State<Ctx>, Auth(p): Auth) -> AppResult<axum::http::StatusCode> {
    logout(&ctx, &p).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
struct MeView {
    id: String,
    display_name: String,
    grants: Vec<Grant>,
    households: Vec<HouseholdRef>,
}

/// The caller: name, role grants and households.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    operation_id = "me",
    tag = "auth",
    summary = "当前用户",
    responses((status = 200, description = "当前用户", body = MeView), Unauthorized),
    security(("bearer" = [])),
)]
async fn me_api(Auth(p): Auth) -> JsonOut<MeView> {
    JsonOut(MeView {
        id: p.user_id,
        display_name: p.display_name,
        grants: p.grants,
        households: p.households,
    })
}

#[derive(Serialize, ToSchema)]
struct AuditView {
    seq: i64,
    id: String,
    at: String,
    actor_id: Option<String>,
    action: String,
    object_type: String,
    object_id: Option<String>,
    org_path: Option<String>,
    detail: serde_json::Value,
    hash: String,
}

/// The audit log, to auditors only (三权分立: nobody else reads it).
#[utoipa::path(
    get,
    path = "/api/v1/audit/events",
    operation_id = "audit_events",
    tag = "audit",
    summary = "审计日志(仅审计员)",
    params(PageQuery),
    responses(
        (status = 200, description = "一页审计记录,新的在前", body = Page<AuditView>),
        QueryErrors, Unauthorized, Forbidden,
    ),
    security(("bearer" = [])),
)]
async fn audit_events(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<PageQuery>,
) -> AppResult<JsonOut<Page<AuditView>>> {
    if !p.has_role(Role::Auditor) {
        return Err(AppError::Forbidden);
    }
    let params = PageParams::from_query(&q)?;
    let before = match &params.after {
        Some(k) => Some(
            k.parse::<i64>()
                .map_err(|_| AppError::field("cursor", "cursor 无效"))?,
        ),
        None => None,
    };
    let roots = p.roots_for(&[Role::Auditor]);
    let rows = store::audit_page(&ctx.db, &roots, before, params.fetch()).await?;
    let page = Page::from_rows(rows, &params, |r| r.seq.to_string());
    Ok(JsonOut(page.map(|r| AuditView {
        seq: r.seq,
        id: r.id,
        at: kernel::clock::to_rfc3339(r.at_ms),
        actor_id: r.actor_id,
        action: r.action,
        object_type: r.object_type,
        object_id: r.object_id,
        org_path: r.org_path,
        detail: serde_json::from_str(&r.detail).unwrap_or(serde_json::Value::Null),
        hash: r.hash,
    })))
}
