//! PIPL rights of a resident (个人信息主体权利, PIPL arts. 44–47): see and
//! copy everything held about them and their household, ask for corrections,
//! and ask for deletion.
//!
//! What a real registry does, and so do we: identity fields (name, phone,
//! ID number) are changed only after staff of the community have checked
//! the evidence (户口本, 身份证), so a resident *requests* those and staff
//! approve or reject; the relation to the household head is the resident's
//! own statement and is corrected directly. A deletion request is recorded
//! with its due date (`retention_request_days`); processing it anonymises the
//! resident's personal fields, closes the account, and detaches their demands
//! (their text anonymised) while the counts, categories, times and ratings
//! stay for the statistics. Every step is audited.

pub mod api;
pub mod pages;
pub mod xlsx;

use kernel::audit::{self, AuditEntry};
use kernel::clock::to_rfc3339;
use kernel::db::{opt_str, Tx};
use kernel::personal::{IdCardNumber, PhoneNumber};
use kernel::{mask, text, AppError, AppResult, Ctx, OrgPath, Principal, Role};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;
use utoipa::ToSchema;

const DAY_MS: i64 = 86_400_000;

/// The name an erased resident and account are left with.
pub const ERASED_NAME: &str = "已注销居民";

#[derive(Debug, Serialize, ToSchema)]
pub struct MyData {
    pub generated_at: String,
    pub account: AccountData,
    /// The records of the caller's household(s): the caller's own in full,
    /// other members' phone and ID number masked.
    pub residents: Vec<PersonData>,
    pub demands: Vec<DemandData>,
    pub survey_answers: Vec<SurveyAnswerData>,
    pub requests: Vec<RequestView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountData {
    pub id: String,
    pub display_name: String,
    pub login: String,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonData {
    pub id: String,
    pub household_id: String,
    pub household: String,
    pub name: String,
    pub phone: Option<String>,
    pub id_card: Option<String>,
    pub tenure: String,
    pub relation: Option<String>,
    pub is_me: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DemandData {
    pub id: String,
    pub category: String,
    pub title: String,
    pub description: String,
    pub location: Option<String>,
    pub status: String,
    pub created_at: String,
    pub satisfaction: Option<i64>,
    pub rating_comment: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SurveyAnswerData {
    pub survey_id: String,
    pub answers: Vec<i64>,
    pub comment: Option<String>,
    pub at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RequestView {
    pub id: String,
    /// `correction` or `deletion`.
    pub kind: String,
    /// For a correction: `name`, `phone` or `id_card`.
    pub field: Option<String>,
    /// The proposed value, masked.
    pub new_value: Option<String>,
    pub reason: Option<String>,
    /// `pending`, `done` or `rejected`.
    pub status: String,
    pub created_at: String,
    pub due_at: String,
    pub overdue: bool,
    pub decision_note: Option<String>,
    /// The resident's name (in staff lists).
    pub resident: Option<String>,
}

fn resident_roles() -> &'static [Role] {
    Role::ORG_ADMINS
}

fn require_resident(p: &Principal) -> AppResult<()> {
    if p.households.is_empty() {
        return Err(AppError::Forbidden);
    }
    Ok(())
}

async fn place_of(ctx: &Ctx, path: &OrgPath) -> AppResult<String> {
    let chain = org::store::ancestors(&ctx.db, path).await?;
    Ok(chain
        .iter()
        .filter(|n| {
            !matches!(
                n.kind,
                org::model::OrgKind::City | org::model::OrgKind::District
            )
        })
        .map(|n| n.name.as_str())
        .collect::<Vec<_>>()
        .join(" "))
}

/// Everything held about the caller and their household; the read is
/// audited (it returns the caller's unmasked identity).
pub async fn my_data(ctx: &Ctx, p: &Principal, purpose: &str) -> AppResult<MyData> {
    require_resident(p)?;
    let u = sqlx::query("SELECT id, display_name, login_enc, created_at FROM users WHERE id = $1")
        .bind(&p.user_id)
        .fetch_one(ctx.db.reader())
        .await?;
    let account = AccountData {
        id: u.get("id"),
        display_name: u.get("display_name"),
        login: ctx
            .cipher
            .decrypt(&u.get::<String, _>("login_enc"))
            .unwrap_or_default(),
        created_at: to_rfc3339(u.get("created_at")),
    };
    let mut residents = Vec::new();
    let mut demands = Vec::new();
    for h in &p.households {
        let place = place_of(ctx, &h.org_path).await?;
        for r in org::store::residents_of(&ctx.db, &ctx.cipher, &h.id).await? {
            let me = r.user_id.as_deref() == Some(p.user_id.as_str());
            residents.push(PersonData {
                id: r.id,
                household_id: r.household_id,
                household: place.clone(),
                name: if me { r.name } else { mask::name(&r.name) },
                phone: if me {
                    r.phone
                } else {
                    r.phone.map(|v| mask::phone(&v))
                },
                id_card: if me {
                    r.id_card
                } else {
                    r.id_card.map(|v| mask::id_card(&v))
                },
                tenure: r.tenure.as_str().to_string(),
                relation: r.relation,
                is_me: me,
            });
        }
        let rows = sqlx::query(
            "SELECT id, category, title, description, location, status, created_at,
                    rating_satisfaction, rating_comment
             FROM demands WHERE household_id = $1 ORDER BY created_at, id",
        )
        .bind(&h.id)
        .fetch_all(ctx.db.reader())
        .await?;
        demands.extend(rows.iter().map(|r| {
            DemandData {
                id: r.get("id"),
                category: r.get("category"),
                title: r.get("title"),
                description: r.get("description"),
                location: opt_str(r, "location"),
                status: r.get("status"),
                created_at: to_rfc3339(r.get("created_at")),
                satisfaction: r
                    .try_get::<Option<i64>, _>("rating_satisfaction")
                    .ok()
                    .flatten(),
                rating_comment: opt_str(r, "rating_comment"),
            }
        }));
    }
    let survey_answers = sqlx::query(
        "SELECT survey_id, q1, q2, q3, q4, q5, comment, at_ms FROM property_survey_answers
         WHERE user_id = $1 ORDER BY at_ms",
    )
    .bind(&p.user_id)
    .fetch_all(ctx.db.reader())
    .await?
    .iter()
    .map(|r| SurveyAnswerData {
        survey_id: r.get("survey_id"),
        answers: ["q1", "q2", "q3", "q4", "q5"]
            .iter()
            .map(|q| r.get::<i64, _>(*q))
            .collect(),
        comment: opt_str(r, "comment"),
        at: to_rfc3339(r.get("at_ms")),
    })
    .collect();
    let requests = requests_of_user(ctx, &p.user_id).await?;
    let now = ctx.now_ms();
    audit::record_alone(
        &ctx.db,
        AuditEntry {
            at_ms: now,
            actor_id: Some(&p.user_id),
            action: "personal_data_accessed",
            object_type: "user",
            object_id: Some(&p.user_id),
            detail: json!({"purpose": purpose}),
            ..Default::default()
        },
    )
    .await?;
    Ok(MyData {
        generated_at: to_rfc3339(now),
        account,
        residents,
        demands,
        survey_answers,
        requests,
    })
}

const REQUEST_COLS: &str = "r.id, r.kind, r.field, r.new_value_enc, r.reason, r.status, \
    r.created_at, r.due_at, r.decision_note, r.org_path, r.user_id, r.resident_id, s.name AS resident_name";

fn request_from(ctx: &Ctx, r: &sqlx::any::AnyRow, now: i64, with_name: bool) -> RequestView {
    let field = opt_str(r, "field");
    let status: String = r.get("status");
    let due: i64 = r.get("due_at");
    RequestView {
        id: r.get("id"),
        kind: r.get("kind"),
        new_value: opt_str(r, "new_value_enc")
            .and_then(|v| ctx.cipher.decrypt(&v))
            .map(|v| match field.as_deref() {
                Some("phone") => mask::phone(&v),
                Some("id_card") => mask::id_card(&v),
                _ => v,
            }),
        field,
        reason: opt_str(r, "reason"),
        overdue: status == "pending" && due < now,
        status,
        created_at: to_rfc3339(r.get("created_at")),
        due_at: to_rfc3339(due),
        decision_note: opt_str(r, "decision_note"),
        resident: if with_name {
            opt_str(r, "resident_name")
        } else {
            None
        },
    }
}

pub async fn requests_of_user(ctx: &Ctx, user_id: &str) -> AppResult<Vec<RequestView>> {
    let rows = sqlx::query(&format!(
        "SELECT {REQUEST_COLS} FROM privacy_requests r LEFT JOIN residents s ON s.id = r.resident_id
         WHERE r.user_id = $1 ORDER BY r.created_at DESC, r.id"
    ))
    .bind(user_id)
    .fetch_all(ctx.db.reader())
    .await?;
    let now = ctx.now_ms();
    Ok(rows
        .iter()
        .map(|r| request_from(ctx, r, now, false))
        .collect())
}

/// Requests in the staff member's subtrees, pending first, oldest due first.
pub async fn requests_in_scope(
    ctx: &Ctx,
    p: &Principal,
    pending_only: bool,
) -> AppResult<Vec<RequestView>> {
    let roots = p.roots_for(resident_roles());
    if roots.is_empty() {
        return Err(AppError::Forbidden);
    }
    let scope = kernel::orgpath::scope_sql("r.org_path", roots.len(), 1);
    let status = if pending_only {
        " AND r.status = 'pending'"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {REQUEST_COLS} FROM privacy_requests r LEFT JOIN residents s ON s.id = r.resident_id
         WHERE {scope}{status}
         ORDER BY CASE WHEN r.status = 'pending' THEN 0 ELSE 1 END, r.due_at, r.id LIMIT 200"
    );
    let mut q = sqlx::query(&sql);
    for r in &roots {
        q = q.bind(r.as_str().to_string()).bind(r.subtree_end());
    }
    let now = ctx.now_ms();
    Ok(q.fetch_all(ctx.db.reader())
        .await?
        .iter()
        .map(|r| request_from(ctx, r, now, true))
        .collect())
}

/// The caller's own resident record (the first, when they have several).
async fn own_resident(ctx: &Ctx, p: &Principal) -> AppResult<(String, String)> {
    let r = sqlx::query(
        "SELECT id, org_path FROM residents WHERE user_id = $1 ORDER BY created_at, id LIMIT 1",
    )
    .bind(&p.user_id)
    .fetch_optional(ctx.db.reader())
    .await?
    .ok_or(AppError::NotFound)?;
    Ok((r.get("id"), r.get("org_path")))
}

pub enum CorrectionOutcome {
    /// Applied at once (a non-identity field).
    Applied,
    /// Recorded for staff to check.
    Requested(Box<RequestView>),
}

pub const CORRECTABLE: &[&str] = &["name", "phone", "id_card", "relation"];

/// Validates the proposed value of `field`; `Err` is a field message.
pub fn normalise(field: &str, value: &str) -> Result<String, (&'static str, String)> {
    match field {
        "name" => text::required(value, 1, 30, "姓名").map_err(|m| ("value", m)),
        "phone" => PhoneNumber::parse(value)
            .map(|v| v.as_str().to_string())
            .map_err(|m| ("value", m)),
        "id_card" => IdCardNumber::parse(value)
            .map(|v| v.as_str().to_string())
            .map_err(|m| ("value", m)),
        "relation" => text::required(value, 1, 20, "与户主关系").map_err(|m| ("value", m)),
        _ => Err((
            "field",
            "只能更正姓名(name)、手机号(phone)、身份证号(id_card)或与户主关系(relation)".into(),
        )),
    }
}

pub async fn request_correction(
    ctx: &Ctx,
    p: &Principal,
    field: &str,
    value: &str,
    reason: Option<&str>,
) -> AppResult<CorrectionOutcome> {
    require_resident(p)?;
    let mut errors = kernel::FieldErrors::new();
    let value = match normalise(field, value) {
        Ok(v) => Some(v),
        Err((f, m)) => {
            errors.add(f, m);
            None
        }
    };
    let reason = errors.take(
        "reason",
        text::optional(reason, 200, "理由").map_err(|m| m.to_string()),
    );
    errors.check()?;
    let (value, reason) = (value.unwrap_or_default(), reason.flatten());
    let (resident_id, org_path) = own_resident(ctx, p).await?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    if field == "relation" {
        sqlx::query(
            "UPDATE residents SET relation = $2, updated_at = $3, version = version + 1 WHERE id = $1",
        )
        .bind(&resident_id)
        .bind(&value)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            ctx.db.backend(),
            AuditEntry {
                at_ms: now,
                actor_id: Some(&p.user_id),
                action: "personal_data_corrected",
                object_type: "resident",
                object_id: Some(&resident_id),
                org_path: Some(&org_path),
                detail: json!({"field": field, "by": "resident"}),
                ..Default::default()
            },
        )
        .await?;
        tx.commit().await?;
        return Ok(CorrectionOutcome::Applied);
    }
    let pending = sqlx::query(
        "SELECT 1 FROM privacy_requests WHERE user_id = $1 AND kind = 'correction' AND field = $2 AND status = 'pending'",
    )
    .bind(&p.user_id)
    .bind(field)
    .fetch_optional(&mut *tx)
    .await?;
    if pending.is_some() {
        return Err(AppError::conflict(
            "request_pending",
            "该项已有待处理的更正申请",
        ));
    }
    let id = insert_request(
        ctx,
        &mut tx,
        p,
        "correction",
        Some(field),
        Some(&ctx.cipher.encrypt(&value)),
        reason.as_deref(),
        (&resident_id, &org_path),
        now,
    )
    .await?;
    tx.commit().await?;
    let view = requests_of_user(ctx, &p.user_id)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or(AppError::NotFound)?;
    Ok(CorrectionOutcome::Requested(Box::new(view)))
}

#[allow(clippy::too_many_arguments)]
async fn insert_request(
    ctx: &Ctx,
    tx: &mut Tx,
    p: &Principal,
    kind: &str,
    field: Option<&str>,
    new_value_enc: Option<&str>,
    reason: Option<&str>,
    (resident_id, org_path): (&str, &str),
    now: i64,
) -> AppResult<String> {
    let id = kernel::id::new_id();
    let due = now + crate::retention::policy(ctx).request_days * DAY_MS;
    sqlx::query(
        "INSERT INTO privacy_requests (id, kind, user_id, resident_id, org_path, field, new_value_enc, reason, status, due_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10)",
    )
    .bind(&id)
    .bind(kind)
    .bind(&p.user_id)
    .bind(resident_id)
    .bind(org_path)
    .bind(field)
    .bind(new_value_enc)
    .bind(reason)
    .bind(due)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        ctx.db.backend(),
        AuditEntry {
            at_ms: now,
            actor_id: Some(&p.user_id),
            action: if kind == "deletion" {
                "personal_data_deletion_requested"
            } else {
                "personal_data_correction_requested"
            },
            object_type: "privacy_request",
            object_id: Some(&id),
            org_path: Some(org_path),
            detail: json!({"field": field}),
            ..Default::default()
        },
    )
    .await?;
    Ok(id)
}

pub async fn request_deletion(
    ctx: &Ctx,
    p: &Principal,
    reason: Option<&str>,
) -> AppResult<RequestView> {
    require_resident(p)?;
    let reason = text::optional(reason, 200, "理由").map_err(|m| AppError::field("reason", m))?;
    let (resident_id, org_path) = own_resident(ctx, p).await?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let pending = sqlx::query(
        "SELECT 1 FROM privacy_requests WHERE user_id = $1 AND kind = 'deletion' AND status = 'pending'",
    )
    .bind(&p.user_id)
    .fetch_optional(&mut *tx)
    .await?;
    if pending.is_some() {
        return Err(AppError::conflict(
            "request_pending",
            "已有待处理的删除申请",
        ));
    }
    let id = insert_request(
        ctx,
        &mut tx,
        p,
        "deletion",
        None,
        None,
        reason.as_deref(),
        (&resident_id, &org_path),
        now,
    )
    .await?;
    tx.commit().await?;
    requests_of_user(ctx, &p.user_id)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or(AppError::NotFound)
}

/// Staff approve (and so carry out) or reject a request in their scope.
/// The scope check of a decision alone: the request exists and lies in the
/// caller's community scope, else 404 (so it can come before the body's).
pub async fn check_decider(ctx: &Ctx, p: &Principal, id: &str) -> AppResult<()> {
    let id = kernel::id::parse_id(id).ok_or(AppError::NotFound)?;
    let path: Option<String> = sqlx::query("SELECT org_path FROM privacy_requests WHERE id = $1")
        .bind(&id)
        .fetch_optional(ctx.db.reader())
        .await?
        .map(|r| r.get(0));
    match path {
        Some(path) if p.covers(resident_roles(), &OrgPath::from_db(path.clone())) => Ok(()),
        _ => Err(AppError::NotFound),
    }
}

pub async fn decide(
    ctx: &Ctx,
    p: &Principal,
    id: &str,
    approve: bool,
    note: Option<&str>,
) -> AppResult<RequestView> {
    check_decider(ctx, p, id).await?;
    let note = if approve {
        text::optional(note, 200, "说明").map_err(|m| AppError::field("note", m))?
    } else {
        Some(
            text::required(note.unwrap_or(""), 2, 200, "不予更正或删除的理由")
                .map_err(|m| AppError::field("note", m))?,
        )
    };
    let id = kernel::id::parse_id(id).ok_or(AppError::NotFound)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let r = sqlx::query(
        "SELECT kind, user_id, resident_id, org_path, field, new_value_enc, status FROM privacy_requests WHERE id = $1",
    )
    .bind(&id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let org_path = OrgPath::from_db(r.get("org_path"));
    if !p.covers(resident_roles(), &org_path) {
        return Err(AppError::NotFound);
    }
    if r.get::<String, _>("status") != "pending" {
        return Err(AppError::conflict("already_decided", "该申请已处理"));
    }
    let kind: String = r.get("kind");
    let user_id: String = r.get("user_id");
    let resident_id = opt_str(&r, "resident_id").unwrap_or_default();
    let mut detail = json!({"kind": kind, "approved": approve});
    if approve {
        if kind == "deletion" {
            // The audit row does not say whether a party membership was
            // erased: that would itself tell the membership.
            let (erased, _members) = erase(&mut tx, &ctx.cipher, &user_id, now).await?;
            detail["demands_detached"] = json!(erased);
        } else {
            let field = opt_str(&r, "field").unwrap_or_default();
            let value = opt_str(&r, "new_value_enc")
                .and_then(|v| ctx.cipher.decrypt(&v))
                .ok_or_else(|| AppError::internal("correction value unreadable"))?;
            apply_correction(ctx, &mut tx, &resident_id, &user_id, &field, &value, now).await?;
            detail["field"] = json!(field);
        }
    }
    // The proposed value is not kept once decided: it now lives in the
    // record itself, or was refused.
    sqlx::query(
        "UPDATE privacy_requests SET status = $2, decided_by = $3, decided_at = $4, decision_note = $5, new_value_enc = NULL
         WHERE id = $1",
    )
    .bind(&id)
    .bind(if approve { "done" } else { "rejected" })
    .bind(&p.user_id)
    .bind(now)
    .bind(&note)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        ctx.db.backend(),
        AuditEntry {
            at_ms: now,
            actor_id: Some(&p.user_id),
            action: if approve {
                "privacy_request_done"
            } else {
                "privacy_request_rejected"
            },
            object_type: "privacy_request",
            object_id: Some(&id),
            org_path: Some(org_path.as_str()),
            detail,
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    let rows = sqlx::query(&format!(
        "SELECT {REQUEST_COLS} FROM privacy_requests r LEFT JOIN residents s ON s.id = r.resident_id WHERE r.id = $1"
    ))
    .bind(&id)
    .fetch_one(ctx.db.reader())
    .await?;
    Ok(request_from(ctx, &rows, now, true))
}

async fn apply_correction(
    ctx: &Ctx,
    tx: &mut Tx,
    resident_id: &str,
    user_id: &str,
    field: &str,
    value: &str,
    now: i64,
) -> AppResult<()> {
    let c = &ctx.cipher;
    match field {
        "name" => {
            sqlx::query("UPDATE residents SET name = $2, updated_at = $3, version = version + 1 WHERE id = $1")
                .bind(resident_id)
                .bind(value)
                .bind(now)
                .execute(&mut **tx)
                .await?;
            sqlx::query("UPDATE users SET display_name = $2, updated_at = $3 WHERE id = $1")
                .bind(user_id)
                .bind(value)
                .bind(now)
                .execute(&mut **tx)
                .await?;
        }
        "phone" => {
            sqlx::query(
                "UPDATE residents SET phone_enc = $2, phone_index = $3, updated_at = $4, version = version + 1 WHERE id = $1",
            )
            .bind(resident_id)
            .bind(c.encrypt(value))
            .bind(c.blind_index("phone", value))
            .bind(now)
            .execute(&mut **tx)
            .await?;
            // A resident logs in with their phone: the login follows it.
            sqlx::query(
                "UPDATE users SET login_index = $2, login_masked = $3, login_enc = $4, updated_at = $5 WHERE id = $1",
            )
            .bind(user_id)
            .bind(accounts::store::login_index(c, value))
            .bind(mask::phone(value))
            .bind(c.encrypt(value))
            .bind(now)
            .execute(&mut **tx)
            .await
            .map_err(|e| match AppError::from(e) {
                AppError::Conflict { .. } => {
                    AppError::conflict("login_taken", "该手机号已被其他账号使用")
                }
                other => other,
            })?;
        }
        "id_card" => {
            if org::store::id_card_taken(tx, c, value).await? {
                return Err(AppError::conflict("id_card_taken", "该身份证号已登记"));
            }
            sqlx::query(
                "UPDATE residents SET id_card_enc = $2, id_card_index = $3, updated_at = $4, version = version + 1 WHERE id = $1",
            )
            .bind(resident_id)
            .bind(c.encrypt(value))
            .bind(c.blind_index("id_card", value))
            .bind(now)
            .execute(&mut **tx)
            .await?;
        }
        _ => return Err(AppError::internal(format!("unknown field {field}"))),
    }
    Ok(())
}

/// Carries out a deletion: the person's identity and contact data are
/// overwritten (not just hidden), the account is closed and its sessions
/// revoked, and the demands they filed are detached with their text
/// anonymised, so counts and ratings still add up. A party membership
/// (sensitive under PIPL art. 28) found by the account or the ID number is
/// anonymised in place: the branch's statistics keep the member, nothing
/// of the person stays ([`party::store::erase_person`]). Returns how many
/// demands were detached and how many party member rows were erased.
async fn erase(
    tx: &mut Tx,
    cipher: &kernel::crypto::FieldCipher,
    user_id: &str,
    now: i64,
) -> AppResult<(u64, u64)> {
    // Their ID numbers, read before they are overwritten: the party
    // register may know the person by ID number only.
    let id_cards: Vec<String> = sqlx::query(
        "SELECT id_card_enc FROM residents WHERE user_id = $1 AND id_card_enc IS NOT NULL",
    )
    .bind(user_id)
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .filter_map(|r| cipher.decrypt(&r.get::<String, _>(0)))
    .collect();
    let members = party::store::erase_person(
        tx,
        cipher,
        user_id,
        &id_cards,
        ERASED_NAME,
        crate::retention::ANONYMISED,
        now,
    )
    .await?;
    sqlx::query(
        "UPDATE residents SET name = $2, phone_enc = NULL, phone_index = NULL, id_card_enc = NULL,
            id_card_index = NULL, relation = NULL, user_id = NULL, updated_at = $3, version = version + 1
         WHERE user_id = $1",
    )
    .bind(user_id)
    .bind(ERASED_NAME)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE users SET display_name = $2, login_index = $3, login_masked = $2, login_enc = '',
            password_hash = '!', active = 0, updated_at = $4 WHERE id = $1",
    )
    .bind(user_id)
    .bind(ERASED_NAME)
    .bind(format!("erased:{user_id}"))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
        .bind(user_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    let theirs = "SELECT id FROM demands WHERE reporter_user_id = $1 OR created_by = $1";
    for sql in crate::retention::anonymise_demands_sql(theirs) {
        sqlx::query(&sql).bind(user_id).execute(&mut **tx).await?;
    }
    let detached = sqlx::query(
        "UPDATE demands SET title = $2, description = $2, location = NULL, rating_comment = NULL,
            reporter_user_id = NULL, anonymised_at = $3
         WHERE reporter_user_id = $1 OR created_by = $1",
    )
    .bind(user_id)
    .bind(crate::retention::ANONYMISED)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    sqlx::query("DELETE FROM notify_inbox WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE property_survey_answers SET comment = NULL WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "UPDATE privacy_requests SET new_value_enc = NULL, reason = NULL WHERE user_id = $1",
    )
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    Ok((detached, members))
}
