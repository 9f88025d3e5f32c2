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
use kernel::openapi::{
    BodyErrors, Conflict, Forbidden, Locked, NotFound, QueryErrors, TooManyRequests, Unauthorized,
};
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
        .route("/api/v1/me/password", post(change_password_api))
        .route("/api/v1/me/totp", post(enrol_totp_api))
        .route("/api/v1/admin/accounts", post(create_account_api))
        .route("/api/v1/security/grants", post(grant_api))
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
    /// Set when the session may do one thing only until it is done:
    /// `password_change_required` or `totp_enrolment_required`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restriction: Option<&'static str>,
}

pub struct LoginOutcome {
    pub token: String,
    pub csrf: String,
    pub expires_at_ms: i64,
    pub user: UserView,
    pub restriction: Option<&'static str>,
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
    totp: Option<&str>,
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
    let ok = verify(password, hash).await?;

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
        let failure = LoginFailure {
            policy: &policy,
            user: &user,
            home_path: home_path.as_deref(),
            now,
        };
        return Err(failure.record(ctx, "bad_password").await?);
    }

    // The second factor: staff who enrolled give the current code, once.
    let is_staff = grants.iter().any(|g| g.role != Role::Resident);
    if is_staff && ctx.settings.totp_required() {
        if let Some(secret) = &user.totp_secret {
            let Some(code) = totp.filter(|c| !c.trim().is_empty()) else {
                return Err(AppError::SecondFactorRequired);
            };
            let accepted = match model::totp_verify(secret, code, now, user.totp_last_step) {
                Some(step) => store::use_totp_step(&ctx.db, &user.id, step).await?,
                None => false,
            };
            if !accepted {
                let failure = LoginFailure {
                    policy: &policy,
                    user: &user,
                    home_path: home_path.as_deref(),
                    now,
                };
                return Err(failure.record(ctx, "bad_totp").await?);
            }
        }
    }
    let restriction = if model::password_expired(
        user.password_changed_at,
        ctx.settings.password_max_age_in_force(),
        is_staff,
        now,
    ) {
        Some("password_change_required")
    } else if is_staff && ctx.settings.totp_required() && user.totp_secret.is_none() {
        Some("totp_enrolment_required")
    } else {
        None
    };

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
        restriction,
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
    let out = login(
        &ctx,
        &body.login,
        &body.password,
        body.totp.as_deref(),
        "api",
        &client,
    )
    .await?;
    Ok(JsonOut(LoginAnswer {
        token: out.token,
        expires_at: kernel::clock::to_rfc3339(out.expires_at_ms),
        user: out.user,
        restriction: out.restriction,
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

// ---------------------------------------------------------------------------
// Password change, TOTP enrolment, account creation (系统管理员) and role
// grants (安全管理员).

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeBody {
    pub current_password: String,
    pub new_password: String,
}

/// A failed password or TOTP code of a known account: counted towards the
/// lockout and audited (`account_locked` when it locks).
struct LoginFailure<'a> {
    policy: &'a LockoutPolicy,
    user: &'a store::UserRow,
    home_path: Option<&'a str>,
    now: i64,
}

impl LoginFailure<'_> {
    /// Records the failure; the error to answer with.
    async fn record(self, ctx: &Ctx, reason: &str) -> AppResult<AppError> {
        let LoginFailure {
            policy,
            user,
            home_path,
            now,
        } = self;
        let next = policy.after_failure(&user.failures, now);
        store::save_failures(&ctx.db, &user.id, &next, now).await?;
        let locked = policy.locked_for(&next, now);
        audit::record_alone(
            &ctx.db,
            AuditEntry {
                at_ms: now,
                action: if locked.is_some() {
                    "account_locked"
                } else {
                    "login_failed"
                },
                object_type: "user",
                object_id: Some(&user.id),
                org_path: home_path,
                detail: json!({"login": user.login_masked, "reason": reason}),
                ..Default::default()
            },
        )
        .await?;
        Ok(match locked {
            Some(secs) => AppError::Locked {
                retry_after_secs: secs,
            },
            None => AppError::InvalidCredentials,
        })
    }
}

/// Hashes on the blocking pool (argon2 takes tens of milliseconds).
async fn hash(password: &str) -> AppResult<String> {
    let pw = password.to_string();
    tokio::task::spawn_blocking(move || model::hash_password(&pw))
        .await
        .map_err(AppError::internal)
}

async fn verify(password: &str, hash: String) -> AppResult<bool> {
    let pw = password.to_string();
    tokio::task::spawn_blocking(move || model::verify_password(&pw, &hash))
        .await
        .map_err(AppError::internal)
}

/// The policy's problems as the contract's 422 on `field`.
fn policy_check(field: &str, password: &str, login: &str) -> AppResult<()> {
    let mut errors = FieldErrors::new();
    for m in model::password_problems(password, login) {
        errors.add(field, m);
    }
    errors.check()
}

async fn login_of(ctx: &Ctx, user_id: &str) -> AppResult<String> {
    use sqlx::Row;
    let row = sqlx::query("SELECT login_enc FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(ctx.db.reader())
        .await?;
    Ok(ctx
        .cipher
        .decrypt(&row.get::<String, _>(0))
        .unwrap_or_default())
}

/// Changes the caller's password: the current one, then the new one
/// against the password policy. Other sessions of the account end.
pub async fn change_password(ctx: &Ctx, p: &Principal, current: &str, new: &str) -> AppResult<()> {
    let mut errors = FieldErrors::new();
    if current.is_empty() || current.chars().count() > model::PASSWORD_MAX_CHARS {
        errors.add("current_password", "请输入当前密码");
    }
    errors.check()?;
    let hash_now = store::password_hash_of(&ctx.db, &p.user_id)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    if !verify(current, hash_now).await? {
        return Err(AppError::field("current_password", "当前密码不正确"));
    }
    let login = login_of(ctx, &p.user_id).await?;
    policy_check("new_password", new, &login)?;
    if new == current {
        return Err(AppError::field("new_password", "新密码不能与当前密码相同"));
    }
    let new_hash = hash(new).await?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    store::set_password(&mut tx, &p.user_id, &new_hash, now).await?;
    sqlx::query(
        "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND id <> $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(&p.user_id)
    .bind(&p.session_id)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        ctx.db.backend(),
        AuditEntry {
            at_ms: now,
            actor_id: Some(&p.user_id),
            action: "password_changed",
            object_type: "user",
            object_id: Some(&p.user_id),
            org_path: home_path_of(p),
            detail: json!({}),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn home_path_of(p: &Principal) -> Option<&str> {
    p.grants
        .first()
        .map(|g| g.org_path.as_str())
        .or_else(|| p.households.first().map(|h| h.org_path.as_str()))
}

/// Changes the caller's password (policy: 12+ characters, 3 of 4 classes,
/// not a common password, not containing the login).
#[utoipa::path(
    post,
    path = "/api/v1/me/password",
    operation_id = "change_password",
    tag = "auth",
    summary = "修改密码",
    request_body = PasswordChangeBody,
    responses((status = 204, description = "密码已修改"), BodyErrors, Unauthorized),
    security(("bearer" = [])),
)]
async fn change_password_api(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Json(b): Json<PasswordChangeBody>,
) -> AppResult<axum::http::StatusCode> {
    change_password(&ctx, &p, &b.current_password, &b.new_password).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpEnrolBody {
    /// The current password (re-authentication before changing a factor).
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct TotpEnrolment {
    /// Base32 secret, for typing into an authenticator app.
    pub secret: String,
    /// `otpauth://totp/…`, for a QR code.
    pub otpauth_uri: String,
}

/// Enrols (or replaces) the caller's TOTP second factor. Staff only.
pub async fn enrol_totp(ctx: &Ctx, p: &Principal, password: &str) -> AppResult<TotpEnrolment> {
    if !p.is_staff() {
        return Err(AppError::Forbidden);
    }
    if password.is_empty() || password.chars().count() > model::PASSWORD_MAX_CHARS {
        return Err(AppError::field("password", "请输入当前密码"));
    }
    let hash_now = store::password_hash_of(&ctx.db, &p.user_id)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    if !verify(password, hash_now).await? {
        return Err(AppError::field("password", "当前密码不正确"));
    }
    let secret = model::base32_encode(&model::new_totp_secret());
    let login = login_of(ctx, &p.user_id).await?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    store::set_totp_secret(&mut tx, &ctx.cipher, &p.user_id, &secret, now).await?;
    audit::record(
        &mut tx,
        ctx.db.backend(),
        AuditEntry {
            at_ms: now,
            actor_id: Some(&p.user_id),
            action: "totp_enrolled",
            object_type: "user",
            object_id: Some(&p.user_id),
            org_path: home_path_of(p),
            detail: json!({}),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(TotpEnrolment {
        otpauth_uri: model::otpauth_uri(&secret, &login),
        secret,
    })
}

/// Enrols a TOTP authenticator (RFC 6238, SHA-1, 6 digits, 30 s) for the
/// caller; from then on staff logins need its code.
#[utoipa::path(
    post,
    path = "/api/v1/me/totp",
    operation_id = "enrol_totp",
    tag = "auth",
    summary = "绑定动态口令",
    request_body = TotpEnrolBody,
    responses(
        (status = 200, description = "密钥(仅此一次显示)", body = TotpEnrolment),
        BodyErrors, Unauthorized, Forbidden,
    ),
    security(("bearer" = [])),
)]
async fn enrol_totp_api(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Json(b): Json<TotpEnrolBody>,
) -> AppResult<JsonOut<TotpEnrolment>> {
    Ok(JsonOut(enrol_totp(&ctx, &p, &b.password).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccountBody {
    /// A staff account name (letters, digits, `-`, `_`) or a phone number.
    pub login: String,
    pub display_name: String,
    /// The initial password, checked against the password policy.
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct AccountView {
    pub id: String,
    pub login: String,
    pub display_name: String,
}

/// Creates an account (no role: the security admin grants roles).
#[utoipa::path(
    post,
    path = "/api/v1/admin/accounts",
    operation_id = "create_account",
    tag = "auth",
    summary = "创建账号(系统管理员)",
    request_body = NewAccountBody,
    responses(
        (status = 201, description = "账号", body = AccountView),
        BodyErrors, Unauthorized, Forbidden, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn create_account_api(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Json(b): Json<NewAccountBody>,
) -> AppResult<(axum::http::StatusCode, JsonOut<AccountView>)> {
    if !p.has_role(Role::Sysadmin) {
        return Err(AppError::Forbidden);
    }
    let mut errors = FieldErrors::new();
    let login = model::normalize_login(&b.login);
    if login.is_empty()
        || login.chars().count() > 64
        || !login
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        errors.add("login", "登录名为 1–64 个字母、数字、- 或 _,或手机号");
    }
    let name = b.display_name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        errors.add("display_name", "请填写姓名(不超过 64 个字符)");
    }
    for m in model::password_problems(&b.password, &login) {
        errors.add("password", m);
    }
    errors.check()?;
    let now = ctx.now_ms();
    if store::find_user_by_login(&ctx.db, &ctx.cipher, &login)
        .await?
        .is_some()
    {
        return Err(AppError::conflict("login_taken", "该登录名已被使用"));
    }
    let password_hash = hash(&b.password).await?;
    let mut tx = ctx.db.begin().await?;
    let id = store::create_user(&mut tx, &ctx.cipher, &login, name, &password_hash, now).await?;
    audit::record(
        &mut tx,
        ctx.db.backend(),
        AuditEntry {
            at_ms: now,
            actor_id: Some(&p.user_id),
            action: "account_created",
            object_type: "user",
            object_id: Some(&id),
            org_path: home_path_of(&p),
            detail: json!({"login": model::masked_login(&login)}),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok((
        axum::http::StatusCode::CREATED,
        JsonOut(AccountView {
            id,
            login: model::masked_login(&login),
            display_name: name.to_string(),
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    pub user_id: String,
    /// A role name, e.g. `community_staff`, `auditor`, `sysadmin`.
    pub role: String,
    /// The org node the grant covers (with its subtree).
    pub org_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct GrantView {
    pub id: String,
    pub user_id: String,
    pub role: Role,
    pub org_id: String,
}

/// Grants a role at an org node. System admin, security admin and auditor
/// exclude each other (三权分立): a second one is refused with 409.
#[utoipa::path(
    post,
    path = "/api/v1/security/grants",
    operation_id = "grant_role",
    tag = "auth",
    summary = "授予角色(安全管理员)",
    request_body = GrantBody,
    responses(
        (status = 201, description = "授权", body = GrantView),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn grant_api(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Json(b): Json<GrantBody>,
) -> AppResult<(axum::http::StatusCode, JsonOut<GrantView>)> {
    use sqlx::Row;
    if !p.has_role(Role::Secadmin) {
        return Err(AppError::Forbidden);
    }
    let mut errors = FieldErrors::new();
    let role = Role::parse(&b.role);
    if role.is_none() {
        errors.add("role", "角色无效");
    }
    let user_id = kernel::id::parse_id(&b.user_id);
    if user_id.is_none() {
        errors.add("user_id", "账号编号无效");
    }
    let org_id = kernel::id::parse_id(&b.org_id);
    if org_id.is_none() {
        errors.add("org_id", "组织编号无效");
    }
    errors.check()?;
    let (Some(role), Some(user_id), Some(org_id)) = (role, user_id, org_id) else {
        return Err(AppError::NotFound);
    };
    if user_id == p.user_id {
        return Err(AppError::conflict("self_grant", "不能给自己授权"));
    }
    let user = sqlx::query("SELECT id FROM users WHERE id = $1")
        .bind(&user_id)
        .fetch_optional(ctx.db.reader())
        .await?;
    if user.is_none() {
        return Err(AppError::NotFound);
    }
    let node = sqlx::query("SELECT org_path FROM org_nodes WHERE id = $1")
        .bind(&org_id)
        .fetch_optional(ctx.db.reader())
        .await?
        .ok_or(AppError::NotFound)?;
    let path = kernel::OrgPath::from_db(node.get(0));
    // The security admin grants within its own subtree only.
    if !p.covers(&[Role::Secadmin], &path) {
        return Err(AppError::NotFound);
    }
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let id = store::grant_role(
        &mut tx,
        &user_id,
        role,
        &org_id,
        &path,
        Some(&p.user_id),
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        ctx.db.backend(),
        AuditEntry {
            at_ms: now,
            actor_id: Some(&p.user_id),
            action: "role_granted",
            object_type: "user",
            object_id: Some(&user_id),
            org_path: Some(path.as_str()),
            detail: json!({"role": role.as_str()}),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok((
        axum::http::StatusCode::CREATED,
        JsonOut(GrantView {
            id,
            user_id,
            role,
            org_id,
        }),
    ))
}
