//! SQL for accounts. Logins are stored as a blind index (for lookup), an
//! encrypted copy and a masked display form — never as plaintext phones.

use crate::model::{self, FailureState};
use kernel::crypto::FieldCipher;
use kernel::id::new_id;
use kernel::principal::{Grant, HouseholdRef};
use kernel::rows::Columns;
use kernel::{AppResult, Db, OrgPath, Role, Tx};
use sqlx::Row;

pub struct UserRow {
    pub id: String,
    pub display_name: String,
    pub login_masked: String,
    pub password_hash: String,
    pub active: bool,
    pub failures: FailureState,
    pub password_changed_at: i64,
    /// The TOTP secret, decrypted; `None` when not enrolled.
    pub totp_secret: Option<Vec<u8>>,
    pub totp_last_step: i64,
}

pub fn login_index(cipher: &FieldCipher, login: &str) -> String {
    cipher.blind_index("login", &model::normalize_login(login))
}

pub async fn find_user_by_login(
    db: &Db,
    cipher: &FieldCipher,
    login: &str,
) -> AppResult<Option<UserRow>> {
    let row = sqlx::query(
        "SELECT id, display_name, login_masked, password_hash, active, failed_logins, failed_window_start, locked_until,
                password_changed_at, totp_secret_enc, totp_last_step
         FROM users WHERE login_index = $1",
    )
    .bind(login_index(cipher, login))
    .fetch_optional(db.reader())
    .await?;
    Ok(row.map(|r| UserRow {
        id: r.get("id"),
        display_name: r.get("display_name"),
        login_masked: r.get("login_masked"),
        password_hash: r.get("password_hash"),
        active: r.get::<i64, _>("active") != 0,
        failures: FailureState {
            failed_logins: r.get("failed_logins"),
            window_start: r.get("failed_window_start"),
            locked_until: r.get("locked_until"),
        },
        password_changed_at: r.get("password_changed_at"),
        totp_secret: r
            .get::<Option<String>, _>("totp_secret_enc")
            .and_then(|enc| cipher.decrypt(&enc))
            .and_then(|b32| model::base32_decode(&b32)),
        totp_last_step: r.get("totp_last_step"),
    }))
}

pub async fn create_user(
    tx: &mut Tx,
    cipher: &FieldCipher,
    login: &str,
    display_name: &str,
    password_hash: &str,
    now: i64,
) -> AppResult<String> {
    let id = new_id();
    let normalized = model::normalize_login(login);
    sqlx::query(
        "INSERT INTO users (id, login_index, login_masked, login_enc, display_name, password_hash, active, created_at, updated_at, password_changed_at)
         VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7, $7)",
    )
    .bind(&id)
    .bind(cipher.blind_index("login", &normalized))
    .bind(model::masked_login(&normalized))
    .bind(cipher.encrypt(&normalized))
    .bind(display_name)
    .bind(password_hash)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// A new password hash (already checked against the policy), its age reset.
pub async fn set_password(
    tx: &mut Tx,
    user_id: &str,
    password_hash: &str,
    now: i64,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE users SET password_hash = $1, password_changed_at = $2, updated_at = $2 WHERE id = $3",
    )
    .bind(password_hash)
    .bind(now)
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn password_hash_of(db: &Db, user_id: &str) -> AppResult<Option<String>> {
    let row = sqlx::query("SELECT password_hash FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(db.reader())
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Stores a TOTP secret (base32, encrypted with the field cipher).
pub async fn set_totp_secret(
    tx: &mut Tx,
    cipher: &FieldCipher,
    user_id: &str,
    secret_b32: &str,
    now: i64,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE users SET totp_secret_enc = $1, totp_last_step = 0, updated_at = $2 WHERE id = $3",
    )
    .bind(cipher.encrypt(secret_b32))
    .bind(now)
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records the time step of an accepted code; false when that step (or a
/// later one) was already used — a replayed code, even by a racing request.
pub async fn use_totp_step(db: &Db, user_id: &str, step: i64) -> AppResult<bool> {
    let mut tx = db.begin().await?;
    let done =
        sqlx::query("UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1")
            .bind(step)
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    tx.commit().await?;
    Ok(done == 1)
}

pub async fn save_failures(db: &Db, user_id: &str, s: &FailureState, now: i64) -> AppResult<()> {
    sqlx::query(
        "UPDATE users SET failed_logins = $1, failed_window_start = $2, locked_until = $3, updated_at = $4 WHERE id = $5",
    )
    .bind(s.failed_logins)
    .bind(s.window_start)
    .bind(s.locked_until)
    .bind(now)
    .bind(user_id)
    .execute(db.writer())
    .await?;
    Ok(())
}

pub async fn reset_failures(tx: &mut Tx, user_id: &str) -> AppResult<()> {
    sqlx::query("UPDATE users SET failed_logins = 0, failed_window_start = 0 WHERE id = $1 AND failed_logins <> 0")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub struct NewSession {
    pub token: String,
    pub csrf: String,
    pub expires_at: i64,
}

pub async fn create_session(
    tx: &mut Tx,
    user_id: &str,
    kind: &str,
    now: i64,
    absolute_ms: i64,
) -> AppResult<NewSession> {
    let token = kernel::id::random_token();
    let csrf = kernel::id::random_token();
    let expires_at = now + absolute_ms;
    sqlx::query(
        "INSERT INTO sessions (id, user_id, kind, csrf_token, created_at, last_seen_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $5, $6)",
    )
    .bind(session_id(&token))
    .bind(user_id)
    .bind(kind)
    .bind(&csrf)
    .bind(now)
    .bind(expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(NewSession {
        token,
        csrf,
        expires_at,
    })
}

/// Sessions are stored by the SHA-256 of their token, so a database leak
/// does not hand out live tokens.
pub fn session_id(token: &str) -> String {
    kernel::crypto::sha256_hex(token.as_bytes())
}

#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub kind: String,
    pub csrf_token: String,
    pub times: model::SessionTimes,
    pub display_name: String,
    pub user_active: bool,
    pub password_changed_at: i64,
    pub totp_enrolled: bool,
}

pub async fn load_session(db: &Db, token: &str) -> AppResult<Option<SessionRow>> {
    let row = sqlx::query(
        "SELECT s.id, s.user_id, s.kind, s.csrf_token, s.created_at, s.last_seen_at, s.expires_at,
                u.display_name, u.active, u.password_changed_at, u.totp_secret_enc
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id = $1 AND s.revoked_at IS NULL",
    )
    .bind(session_id(token))
    .fetch_optional(db.reader())
    .await?;
    Ok(row.map(|r| SessionRow {
        id: r.get("id"),
        user_id: r.get("user_id"),
        kind: r.get("kind"),
        csrf_token: r.get("csrf_token"),
        times: model::SessionTimes {
            created_at: r.get("created_at"),
            last_seen_at: r.get("last_seen_at"),
            expires_at: r.get("expires_at"),
        },
        display_name: r.get("display_name"),
        user_active: r.get::<i64, _>("active") != 0,
        password_changed_at: r.get("password_changed_at"),
        totp_enrolled: r.get::<Option<String>, _>("totp_secret_enc").is_some(),
    }))
}

/// What authentication reads of a live session: the session and user row,
/// the live grants (ordered by path) and the households lived in.
#[derive(Debug, Clone)]
pub struct Access {
    pub session: SessionRow,
    pub grants: Vec<Grant>,
    pub households: Vec<HouseholdRef>,
}

/// A live session with what its user may reach (by token).
pub async fn load_session_with_access(
    db: &Db,
    token: &str,
) -> AppResult<Option<(SessionRow, Vec<Grant>, Vec<HouseholdRef>)>> {
    Ok(load_access(db, &session_id(token))
        .await?
        .map(|a| (a.session, a.grants, a.households)))
}

/// A live session (by id, [`session_id`] of its token) with what its user
/// may reach. One query, as authentication asks it on every request it
/// does not find in the session cache (`crate::cache`).
///
/// The rows this reads are watched by the `auth_epoch` triggers (migration
/// 0083), which the cache relies on: a column read here must be in their
/// column lists (the test `auth_cache::epoch_triggers_cover_the_columns_
/// authentication_reads` lists the columns that are not).
pub async fn load_access(db: &Db, session_id: &str) -> AppResult<Option<Access>> {
    // The lean read path: every authenticated request runs this.
    let rows = db.rows(
        "SELECT 's' AS k, s.id AS t1, s.user_id AS t2, s.kind AS t3, s.csrf_token AS t4, u.display_name AS t5,
                CAST(s.created_at AS BIGINT) AS n1, CAST(s.last_seen_at AS BIGINT) AS n2, CAST(s.expires_at AS BIGINT) AS n3,
                CAST(u.active AS BIGINT) AS n4, CAST(u.password_changed_at AS BIGINT) AS n5,
                CAST(CASE WHEN u.totp_secret_enc IS NULL THEN 0 ELSE 1 END AS BIGINT) AS n6
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id = $1 AND s.revoked_at IS NULL
         UNION ALL
         SELECT 'g', g.role, g.org_id, g.org_path, CAST(NULL AS TEXT), CAST(NULL AS TEXT),
                CAST(0 AS BIGINT), CAST(0 AS BIGINT), CAST(0 AS BIGINT), CAST(0 AS BIGINT), CAST(0 AS BIGINT), CAST(0 AS BIGINT)
         FROM role_grants g
         WHERE g.user_id = (SELECT user_id FROM sessions WHERE id = $1 AND revoked_at IS NULL) AND g.revoked_at IS NULL
         UNION ALL
         SELECT 'h', r.household_id, r.org_path, CAST(NULL AS TEXT), CAST(NULL AS TEXT), CAST(NULL AS TEXT),
                CAST(0 AS BIGINT), CAST(0 AS BIGINT), CAST(0 AS BIGINT), CAST(0 AS BIGINT), CAST(0 AS BIGINT), CAST(0 AS BIGINT)
         FROM residents r
         WHERE r.user_id = (SELECT user_id FROM sessions WHERE id = $1 AND revoked_at IS NULL)",
        vec![session_id.into()],
    )
    .await?;
    let mut session = None;
    let mut grants = Vec::new();
    let mut households = Vec::new();
    for r in rows.iter() {
        let text = |c: &str| r.opt_text(c).unwrap_or_default();
        match r.text("k").as_str() {
            "s" => {
                session = Some(SessionRow {
                    id: text("t1"),
                    user_id: text("t2"),
                    kind: text("t3"),
                    csrf_token: text("t4"),
                    times: model::SessionTimes {
                        created_at: r.int("n1"),
                        last_seen_at: r.int("n2"),
                        expires_at: r.int("n3"),
                    },
                    display_name: text("t5"),
                    user_active: r.flag("n4"),
                    password_changed_at: r.int("n5"),
                    totp_enrolled: r.flag("n6"),
                })
            }
            "g" => {
                if let Some(role) = Role::parse(&text("t1")) {
                    grants.push(Grant {
                        role,
                        org_id: text("t2"),
                        org_path: OrgPath::from_db(text("t3")),
                    });
                }
            }
            _ => households.push(HouseholdRef {
                id: text("t1"),
                org_path: OrgPath::from_db(text("t2")),
            }),
        }
    }
    // The orders grants_of and households_of give.
    grants.sort_by(|a, b| a.org_path.as_str().cmp(b.org_path.as_str()));
    // One entry per household and path, as households_of's DISTINCT (in
    // the query it would cost a temporary B-tree on every request).
    households.sort_by(|a, b| (a.org_path.as_str(), &a.id).cmp(&(b.org_path.as_str(), &b.id)));
    households.dedup_by(|a, b| a.id == b.id && a.org_path == b.org_path);
    Ok(session.map(|session| Access {
        session,
        grants,
        households,
    }))
}

pub async fn touch_session(db: &Db, id: &str, now: i64) -> AppResult<()> {
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Is the session (by id) still usable: not revoked, not past its absolute
/// expiry or idle limit, its user active? For long-lived connections (the
/// live-update stream) that re-check while open.
pub async fn session_alive(db: &Db, id: &str, idle_ms: i64, now: i64) -> AppResult<bool> {
    let row = sqlx::query(
        "SELECT s.created_at, s.last_seen_at, s.expires_at, u.active
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id = $1 AND s.revoked_at IS NULL",
    )
    .bind(id)
    .fetch_optional(db.reader())
    .await?;
    Ok(row.is_some_and(|r| {
        let times = model::SessionTimes {
            created_at: r.get("created_at"),
            last_seen_at: r.get("last_seen_at"),
            expires_at: r.get("expires_at"),
        };
        r.get::<i64, _>("active") != 0 && model::session_alive(&times, idle_ms, now)
    }))
}

pub async fn revoke_session(tx: &mut Tx, id: &str, now: i64) -> AppResult<()> {
    sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn grants_of(db: &Db, user_id: &str) -> AppResult<Vec<Grant>> {
    let rows = sqlx::query(
        "SELECT role, org_id, org_path FROM role_grants WHERE user_id = $1 AND revoked_at IS NULL ORDER BY org_path",
    )
    .bind(user_id)
    .fetch_all(db.reader())
    .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some(Grant {
                role: Role::parse(&r.get::<String, _>("role"))?,
                org_id: r.get("org_id"),
                org_path: OrgPath::from_db(r.get("org_path")),
            })
        })
        .collect())
}

pub async fn households_of(db: &Db, user_id: &str) -> AppResult<Vec<HouseholdRef>> {
    let rows = sqlx::query(
        "SELECT DISTINCT r.household_id, r.org_path FROM residents r WHERE r.user_id = $1 ORDER BY r.org_path",
    )
    .bind(user_id)
    .fetch_all(db.reader())
    .await?;
    Ok(rows
        .iter()
        .map(|r| HouseholdRef {
            id: r.get("household_id"),
            org_path: OrgPath::from_db(r.get("org_path")),
        })
        .collect())
}

pub async fn grant_role(
    tx: &mut Tx,
    user_id: &str,
    role: Role,
    org_id: &str,
    org_path: &OrgPath,
    granted_by: Option<&str>,
    now: i64,
) -> AppResult<String> {
    // 三权分立: system admin, security admin and auditor exclude each other
    // (and the schema's one-live-grant index backs this up).
    if Role::SEPARATED_DUTIES.contains(&role) {
        let held: Vec<Role> =
            sqlx::query("SELECT role FROM role_grants WHERE user_id = $1 AND revoked_at IS NULL")
                .bind(user_id)
                .fetch_all(&mut **tx)
                .await?
                .iter()
                .filter_map(|r| Role::parse(&r.get::<String, _>(0)))
                .collect();
        if let Some(other) = model::separation_conflict(&held, role) {
            return Err(kernel::AppError::conflict(
                "separation_of_duties",
                format!(
                    "三权分立:该账号已是{},不能再授予{}",
                    other.label_zh(),
                    role.label_zh()
                ),
            ));
        }
    }
    let id = new_id();
    sqlx::query(
        "INSERT INTO role_grants (id, user_id, role, org_id, org_path, granted_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(user_id)
    .bind(role.as_str())
    .bind(org_id)
    .bind(org_path.as_str())
    .bind(granted_by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// Audit rows visible to an auditor: those within the given subtrees, and
/// rows bound to no place (such as failed logins of unknown accounts).
pub async fn audit_page(
    db: &Db,
    roots: &[OrgPath],
    before_seq: Option<i64>,
    limit: i64,
) -> AppResult<Vec<kernel::audit::AuditRow>> {
    // $1 the cursor, $2 the limit, then the scope ranges.
    let scope = kernel::orgpath::scope_sql("org_path", roots.len(), 3);
    let sql = format!(
        "SELECT seq, id, at_ms, actor_id, action, object_type, object_id, org_path, detail, ip, prev_hash, hash
         FROM audit_events WHERE seq < $1 AND (org_path IS NULL OR {scope}) ORDER BY seq DESC LIMIT $2"
    );
    let mut q = sqlx::query(&sql)
        .bind(before_seq.unwrap_or(i64::MAX))
        .bind(limit);
    for r in roots {
        q = q.bind(r.as_str().to_string()).bind(r.subtree_end());
    }
    let rows = q.fetch_all(db.reader()).await?;
    Ok(rows.iter().map(kernel::audit::row_from).collect())
}

/// The principal of a user without a session (the demo seeder, jobs, tests).
pub async fn principal_of(db: &Db, user_id: &str) -> AppResult<Option<kernel::Principal>> {
    let row = sqlx::query("SELECT display_name FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(db.reader())
        .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(kernel::Principal {
        user_id: user_id.to_string(),
        display_name: row.get(0),
        grants: grants_of(db, user_id).await?,
        households: households_of(db, user_id).await?,
        csrf_token: None,
        session_id: String::new(),
    }))
}
