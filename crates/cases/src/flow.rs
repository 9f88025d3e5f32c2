//! The workflow service: loads a demand, works out who the caller is to it,
//! asks the pure state machine, computes deadlines on the working calendar,
//! and writes the new state, its immutable event and the audit row in one
//! transaction guarded by the demand's version (one of two racing staff wins,
//! the other gets 409).

use crate::catalogue;
use crate::model::DemandStatus;
use crate::store::{self, DemandRow};
use crate::workflow::{self, Action, Actor, Refusal, Satisfaction, Urgency};
use kernel::audit::{self, AuditEntry};
use kernel::calendar::LimitBasis;
use kernel::{text, AppError, AppResult, Ctx, FieldErrors, OrgPath, Principal, Role, Tx};
use org::model::OrgKind;
use serde::Deserialize;
use serde_json::json;
use sqlx::Row;

const DISPATCH_ROLES: &[Role] = &[
    Role::PropertyManager,
    Role::CommunityStaff,
    Role::StreetAdmin,
    Role::DistrictAdmin,
    Role::CityAdmin,
];
const VERIFY_ROLES: &[Role] = &[
    Role::CommunityStaff,
    Role::StreetAdmin,
    Role::DistrictAdmin,
    Role::CityAdmin,
];
const SUPERVISE_ROLES: &[Role] = &[Role::StreetAdmin, Role::DistrictAdmin, Role::CityAdmin];

/// The capacities the caller holds for this demand.
pub fn actors_for(p: &Principal, d: &DemandRow, co_assignee: bool) -> Vec<Actor> {
    let mut out = Vec::new();
    if p.lives_at(&d.org_path) {
        out.push(Actor::Resident);
    }
    let is_assignee = d.assignee_user_id.as_deref() == Some(p.user_id.as_str());
    let manages_assignee =
        d.assignee_user_id.is_some() && p.covers(&[Role::PropertyManager], &d.org_path);
    if is_assignee || manages_assignee || co_assignee {
        out.push(Actor::Handler);
    }
    if p.covers(DISPATCH_ROLES, &d.org_path) {
        out.push(Actor::Dispatcher);
    }
    if p.covers(VERIFY_ROLES, &d.org_path) {
        out.push(Actor::Verifier);
    }
    if p.covers(SUPERVISE_ROLES, &d.org_path) {
        out.push(Actor::Supervisor);
    }
    out
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionInput {
    #[schema(value_type = crate::workflow::Action)]
    pub action: String,
    #[serde(default)]
    pub note: Option<String>,
    /// The version the caller saw; a stale one is refused with 409.
    #[serde(default)]
    pub version: Option<i64>,
    /// dispatch: the lead assignee (a user id); omitted → auto-routing.
    #[serde(default)]
    pub assignee: Option<String>,
    /// dispatch: co-units of a cross-department demand.
    #[serde(default)]
    pub co_assignees: Option<Vec<String>>,
    /// merge: the main demand.
    #[serde(default)]
    pub into: Option<String>,
    /// extend: extra minutes on the feedback limit.
    #[serde(default)]
    pub extend_minutes: Option<i64>,
    /// accept / dispatch: re-classify the urgency.
    #[serde(default)]
    #[schema(value_type = Option<crate::workflow::Urgency>)]
    pub urgency: Option<String>,
    /// Photos already uploaded to this demand that belong to this step
    /// (e.g. the repaired pipe on resolve).
    #[serde(default)]
    pub attachments: Option<Vec<String>>,
}

fn refusal(r: Refusal) -> AppError {
    match r {
        Refusal::WrongState => AppError::conflict("invalid_transition", "当前状态下不能执行该操作"),
        Refusal::NotAllowed => AppError::Forbidden,
    }
}

async fn is_co_assignee(ctx: &Ctx, demand_id: &str, user_id: &str) -> AppResult<bool> {
    let n: i64 = sqlx::query(
        "SELECT COUNT(*) FROM demand_assignees WHERE demand_id = $1 AND user_id = $2 AND lead = 0",
    )
    .bind(demand_id)
    .bind(user_id)
    .fetch_one(ctx.db.reader())
    .await?
    .get(0);
    Ok(n > 0)
}

/// A demand the caller may see: staff over it, its household, or an
/// assignee (who may sit outside the subtree, e.g. a co-unit).
pub async fn visible(ctx: &Ctx, p: &Principal, id: &str) -> AppResult<DemandRow> {
    let id = kernel::id::parse_id(id).ok_or(AppError::NotFound)?;
    let d = store::get_demand(&ctx.db, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    if p.can_see(Role::CASE_STAFF, &d.org_path).is_ok()
        || d.assignee_user_id.as_deref() == Some(p.user_id.as_str())
        || is_co_assignee(ctx, &d.id, &p.user_id).await?
    {
        Ok(d)
    } else {
        Err(AppError::NotFound)
    }
}

/// Picks the handler for a demand: the category's default role nearest to
/// the building, then butler, property staff, property manager; failing all
/// of them the community (属地兜底).
pub async fn route(ctx: &Ctx, d: &DemandRow) -> AppResult<Option<String>> {
    let role: String =
        sqlx::query("SELECT default_handler_role FROM demand_categories WHERE code = $1")
            .bind(&d.category)
            .fetch_optional(ctx.db.reader())
            .await?
            .map(|r| r.get(0))
            .unwrap_or_else(|| "butler".into());
    let place = match &d.building_id {
        Some(b) => org::store::get_node(&ctx.db, b)
            .await?
            .map(|n| n.org_path)
            .unwrap_or_else(|| d.org_path.clone()),
        None => d.org_path.clone(),
    };
    let mut chain = vec![role];
    for r in [
        Role::Butler,
        Role::PropertyStaff,
        Role::PropertyManager,
        Role::CommunityStaff,
    ] {
        if !chain.iter().any(|c| c == r.as_str()) {
            chain.push(r.as_str().to_string());
        }
    }
    let ancestors = place.ancestors_and_self();
    for role in chain {
        // The nearest grant wins: walk from the building upwards.
        for a in ancestors.iter().rev() {
            let hit = sqlx::query(
                "SELECT user_id FROM role_grants WHERE role = $1 AND org_path = $2 AND revoked_at IS NULL ORDER BY created_at, user_id LIMIT 1",
            )
            .bind(&role)
            .bind(a.as_str())
            .fetch_optional(ctx.db.reader())
            .await?;
            if let Some(r) = hit {
                return Ok(Some(r.get(0)));
            }
        }
    }
    Ok(None)
}

/// The org path a demand escalates to at `level` (1 = the community or
/// village above the compound, 2 = the street or township, …).
pub async fn escalation_target(ctx: &Ctx, path: &OrgPath, level: i64) -> AppResult<Option<String>> {
    let chain = org::store::ancestors(&ctx.db, path).await?;
    let levels: Vec<_> = chain
        .iter()
        .rev()
        .filter(|n| {
            matches!(
                n.kind,
                OrgKind::Community
                    | OrgKind::Village
                    | OrgKind::Street
                    | OrgKind::Township
                    | OrgKind::District
                    | OrgKind::City
            )
        })
        .collect();
    let idx = (level.max(1) - 1) as usize;
    Ok(levels
        .get(idx.min(levels.len().saturating_sub(1)))
        .map(|n| n.org_path.as_str().to_string()))
}

fn basis_and_limits(l: &catalogue::Limits) -> LimitBasis {
    l.basis()
}

pub async fn urgency_of(d: &DemandRow) -> Urgency {
    Urgency::parse(&d.urgency).unwrap_or(Urgency::Normal)
}

/// Applies one action; returns the demand as it now is.
pub async fn transition(
    ctx: &Ctx,
    p: &Principal,
    id: &str,
    input: &TransitionInput,
) -> AppResult<DemandRow> {
    let mut d = visible(ctx, p, id).await?;
    let action =
        Action::parse(&input.action).ok_or_else(|| AppError::field("action", "未知的操作"))?;
    let mut errors = FieldErrors::new();
    let note = match input
        .note
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(n) => errors.take("note", text::multiline(n, 1, 1000, "说明")),
        None => {
            if action.needs_note() {
                errors.add("note", "请填写说明");
            }
            None
        }
    };
    errors.check()?;
    if let Some(v) = input.version {
        if v != d.version {
            return Err(AppError::conflict(
                "version_conflict",
                "该诉求已被他人处理,请刷新后重试",
            ));
        }
    }
    let co = is_co_assignee(ctx, &d.id, &p.user_id).await?;
    let mut actors = actors_for(p, &d, false);
    if co && action == Action::Comment {
        actors.push(Actor::Handler);
    }
    let from = d.status;
    let to = workflow::decide(from, action, &actors, d.suspended_from).map_err(refusal)?;
    let now = ctx.now_ms();
    let cal = ctx.calendar();
    let expected_version = d.version;
    let before = d.clone();
    let mut detail = json!({});
    let mut co_assignees: Vec<String> = Vec::new();
    if let Some(ids) = &input.attachments {
        let mut linked = Vec::new();
        for a in ids {
            let aid = kernel::id::parse_id(a)
                .ok_or_else(|| AppError::field("attachments", "照片不存在"))?;
            let n: i64 =
                sqlx::query("SELECT COUNT(*) FROM attachments WHERE id = $1 AND demand_id = $2")
                    .bind(&aid)
                    .bind(&d.id)
                    .fetch_one(ctx.db.reader())
                    .await?
                    .get(0);
            if n == 0 {
                return Err(AppError::field("attachments", "照片不存在或不属于该诉求"));
            }
            linked.push(aid);
        }
        detail["attachments"] = json!(linked);
    }

    if let Some(u) = input.urgency.as_deref().filter(|s| !s.is_empty()) {
        if !matches!(action, Action::Accept | Action::Dispatch) {
            return Err(AppError::field(
                "urgency",
                "只有受理或派遣时可以调整紧急程度",
            ));
        }
        let u = Urgency::parse(u).ok_or_else(|| AppError::field("urgency", "紧急程度取值无效"))?;
        d.urgency = u.as_str().to_string();
        detail["urgency"] = json!(u.as_str());
    }
    let urgency = urgency_of(&d).await;
    let limits = catalogue::limits(&ctx.db, &d.category, urgency).await?;
    let basis = basis_and_limits(&limits);

    match action {
        Action::Dispatch => {
            let assignee = match input.assignee.as_deref().filter(|s| !s.is_empty()) {
                Some(a) => {
                    let a = kernel::id::parse_id(a)
                        .ok_or_else(|| AppError::field("assignee", "处置人不存在"))?;
                    if !can_handle(ctx, &a, &d.org_path).await? {
                        return Err(AppError::field("assignee", "处置人不存在或不负责该小区"));
                    }
                    a
                }
                None => route(ctx, &d)
                    .await?
                    .ok_or_else(|| AppError::field("assignee", "没有找到可派遣的处置人,请指定"))?,
            };
            for c in input.co_assignees.iter().flatten() {
                let c = kernel::id::parse_id(c)
                    .ok_or_else(|| AppError::field("co_assignees", "协办人不存在"))?;
                if c != assignee && can_help(ctx, &c, &d.org_path).await? {
                    co_assignees.push(c);
                } else {
                    return Err(AppError::field(
                        "co_assignees",
                        "协办人不存在或与主办人相同",
                    ));
                }
            }
            d.assignee_user_id = Some(assignee.clone());
            d.dispatched_at = Some(now);
            // The feedback clock starts at the first dispatch; a re-dispatch
            // after a return keeps it running (the resident has waited).
            if d.feedback_deadline.is_none() {
                d.feedback_deadline = Some(cal.deadline(now, limits.feedback_minutes, basis));
            }
            d.overdue = false;
            detail["assignee"] = json!(assignee);
            detail["co_assignees"] = json!(co_assignees);
        }
        Action::Accept => {}
        Action::Resolve => d.resolved_at = Some(now),
        Action::VerifyPass => {
            d.closed_at = Some(now);
            let resolved = d.resolved_at.unwrap_or(now);
            d.closed_on_time = Some(d.feedback_deadline.is_none_or(|dl| resolved <= dl));
        }
        Action::VerifyFail => {
            d.rework_count += 1;
            d.resolved_at = None;
        }
        Action::Suspend => {
            d.suspended_from = Some(from);
            d.suspended_at = Some(now);
            d.remaining_minutes = d.feedback_deadline.map(|dl| match basis {
                LimitBasis::Natural => ((dl - now) / 60_000).max(0),
                LimitBasis::Working => cal.working_minutes_between(now, dl),
            });
        }
        Action::Resume => {
            if let Some(rem) = d.remaining_minutes {
                d.feedback_deadline = Some(cal.deadline(now, rem, basis));
            }
            detail["suspended_minutes"] = json!(d.suspended_at.map(|s| (now - s) / 60_000));
            d.suspended_from = None;
            d.suspended_at = None;
            d.remaining_minutes = None;
        }
        Action::Extend => {
            let m = input
                .extend_minutes
                .filter(|m| (1..=60 * 24 * 90).contains(m))
                .ok_or_else(|| {
                    AppError::field("extend_minutes", "延期时长应为 1 分钟到 90 天之间")
                })?;
            let base = d.feedback_deadline.unwrap_or(now).max(now);
            d.feedback_deadline = Some(cal.deadline(base, m, basis));
            d.overdue = false;
            detail["extend_minutes"] = json!(m);
        }
        Action::Merge => {
            let into = input
                .into
                .as_deref()
                .ok_or_else(|| AppError::field("into", "请指定合并到哪条诉求"))?;
            let main = visible(ctx, p, into)
                .await
                .map_err(|_| AppError::field("into", "主诉求不存在"))?;
            if main.id == d.id
                || main.merged_into.is_some()
                || !workflow::is_open(main.status) && main.status != DemandStatus::Resolved
            {
                return Err(AppError::field("into", "只能合并到另一条办理中的诉求"));
            }
            d.merged_into = Some(main.id.clone());
            detail["into"] = json!(main.id);
        }
        Action::Escalate => {
            d.escalation_level += 1;
            d.escalated_to = escalation_target(ctx, &d.org_path, d.escalation_level).await?;
            detail["level"] = json!(d.escalation_level);
            detail["to"] = json!(d.escalated_to);
        }
        Action::Reopen => {
            let since = d.closed_at.or(d.resolved_at).unwrap_or(d.updated_at);
            if now - since > ctx.settings.reopen_days * 86_400_000 {
                return Err(AppError::conflict(
                    "reopen_window_passed",
                    "已超过可重新打开的期限",
                ));
            }
            if d.assignee_user_id.is_none() {
                return Err(AppError::conflict(
                    "invalid_transition",
                    "该诉求没有处置人,不能重新打开",
                ));
            }
            d.closed_at = None;
            d.closed_on_time = None;
            d.resolved_at = None;
            d.rating = None;
            d.feedback_deadline = Some(cal.deadline(now, limits.feedback_minutes, basis));
            d.overdue = false;
            detail["assignee"] = json!(d.assignee_user_id);
        }
        Action::Start | Action::Return | Action::Reject | Action::Comment => {}
    }
    if matches!(action, Action::Accept | Action::Dispatch)
        && input.urgency.is_some()
        && d.feedback_deadline.is_none()
    {
        d.dispatch_deadline = Some(cal.deadline(d.created_at, limits.dispatch_minutes, basis));
    }
    d.status = to;

    let mut tx = ctx.db.begin().await?;
    save(&mut tx, &d, expected_version, now).await?;
    if action == Action::Dispatch {
        sqlx::query("DELETE FROM demand_assignees WHERE demand_id = $1")
            .bind(&d.id)
            .execute(&mut *tx)
            .await?;
        let lead = d.assignee_user_id.clone().expect("set above");
        add_assignee(&mut tx, &d.id, &lead, true, now).await?;
        for c in &co_assignees {
            add_assignee(&mut tx, &d.id, c, false, now).await?;
        }
    }
    if action == Action::Reopen {
        clear_rating(&mut tx, &d.id).await?;
    }
    let after = store::get_demand_tx(&mut tx, &d.id)
        .await?
        .ok_or(AppError::NotFound)?;
    // The change and its event in one tally: rows they share are written once.
    let mut tally = crate::rollup::Tally::new();
    tally.change(Some(&before), &after);
    tally.event(
        &d.org_path,
        action.as_str(),
        now,
        before.escalation_level == 0 && after.escalation_level > 0,
    );
    tally.write(&mut tx).await?;
    store::insert_event(
        &mut tx,
        &d.id,
        now,
        Some(&p.user_id),
        action.as_str(),
        Some(from.as_str()),
        to.as_str(),
        note.as_deref(),
        &detail,
    )
    .await?;
    audit::record(
        &mut tx,
        ctx.db.backend(),
        AuditEntry {
            at_ms: now,
            actor_id: Some(&p.user_id),
            action: "demand_transition",
            object_type: "demand",
            object_id: Some(&d.id),
            org_path: Some(d.org_path.as_str()),
            detail: json!({"action": action.as_str(), "from": from.as_str(), "to": to.as_str()}),
            ..Default::default()
        },
    )
    .await?;
    crate::notices::on_transition(
        &mut tx,
        ctx.db.backend(),
        &d,
        action,
        &co_assignees,
        note.as_deref(),
        &p.user_id,
        now,
    )
    .await?;
    tx.commit().await?;
    store::get_demand(&ctx.db, &d.id)
        .await?
        .ok_or(AppError::NotFound)
}

async fn can_handle(ctx: &Ctx, user_id: &str, path: &OrgPath) -> AppResult<bool> {
    let grants = accounts::store::grants_of(&ctx.db, user_id).await?;
    Ok(grants
        .iter()
        .any(|g| Role::CASE_STAFF.contains(&g.role) && path.is_within(&g.org_path)))
}

/// Who may join a demand as a co-unit: staff, or a party member whose
/// party organisation serves the place (党员协办).
async fn can_help(ctx: &Ctx, user_id: &str, path: &OrgPath) -> AppResult<bool> {
    let grants = accounts::store::grants_of(&ctx.db, user_id).await?;
    if grants.iter().any(|g| Role::CASE_STAFF.contains(&g.role)) {
        return Ok(true);
    }
    let members = party::store::members_of_user(&ctx.db, &ctx.cipher, user_id).await?;
    Ok(members
        .iter()
        .any(|m| m.active && (path.is_within(&m.org_path) || m.org_path.is_within(path))))
}

async fn add_assignee(
    tx: &mut Tx,
    demand_id: &str,
    user_id: &str,
    lead: bool,
    now: i64,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO demand_assignees (demand_id, user_id, lead, added_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(demand_id)
    .bind(user_id)
    .bind(lead as i64)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn clear_rating(tx: &mut Tx, id: &str) -> AppResult<()> {
    sqlx::query(
        "UPDATE demands SET rated_at = NULL, rating_contacted = NULL, rating_resolved = NULL, rating_satisfaction = NULL,
         rating_comment = NULL, rating_source = NULL, rated_by = NULL WHERE id = $1",
    )
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Writes the workflow fields of `d` if nobody changed it since `expected`.
pub async fn save(tx: &mut Tx, d: &DemandRow, expected: i64, now: i64) -> AppResult<()> {
    let n = sqlx::query(
        "UPDATE demands SET status = $1, urgency = $2, assignee_user_id = $3, dispatch_deadline = $4, feedback_deadline = $5,
            suspended_from = $6, suspended_at = $7, remaining_minutes = $8, dispatched_at = $9, resolved_at = $10,
            closed_at = $11, closed_on_time = $12, rework_count = $13, escalation_level = $14, escalated_to = $15,
            overdue = $16, merged_into = $17, updated_at = $18, version = version + 1
         WHERE id = $19 AND version = $20",
    )
    .bind(d.status.as_str())
    .bind(&d.urgency)
    .bind(&d.assignee_user_id)
    .bind(d.dispatch_deadline)
    .bind(d.feedback_deadline)
    .bind(d.suspended_from.map(|s| s.as_str()))
    .bind(d.suspended_at)
    .bind(d.remaining_minutes)
    .bind(d.dispatched_at)
    .bind(d.resolved_at)
    .bind(d.closed_at)
    .bind(d.closed_on_time.map(|b| b as i64))
    .bind(d.rework_count)
    .bind(d.escalation_level)
    .bind(&d.escalated_to)
    .bind(d.overdue as i64)
    .bind(&d.merged_into)
    .bind(now)
    .bind(&d.id)
    .bind(expected)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(AppError::conflict(
            "version_conflict",
            "该诉求已被他人处理,请刷新后重试",
        ));
    }
    Ok(())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingInput {
    pub contacted: bool,
    pub resolved: bool,
    /// 1 (非常不满意) … 5 (非常满意).
    #[schema(minimum = 1, maximum = 5)]
    pub satisfaction: i64,
    #[serde(default)]
    pub comment: Option<String>,
}

/// The return visit (回访): by the demand's resident, or staff recording a
/// phone call. Once only, and only after the handler has fed back.
pub async fn rate(ctx: &Ctx, p: &Principal, id: &str, input: &RatingInput) -> AppResult<DemandRow> {
    let d = visible(ctx, p, id).await?;
    let by_resident = p.lives_at(&d.org_path);
    let by_staff = p.covers(DISPATCH_ROLES, &d.org_path)
        || p.covers(
            &[Role::Butler, Role::PartyBranchSecretary, Role::GridWorker],
            &d.org_path,
        );
    if !by_resident && !by_staff {
        return Err(AppError::Forbidden);
    }
    let mut errors = FieldErrors::new();
    let sat = errors.take("satisfaction", Satisfaction::new(input.satisfaction));
    let comment = errors
        .take(
            "comment",
            text::optional(input.comment.as_deref(), 500, "评价"),
        )
        .flatten();
    errors.check()?;
    let outcome = match &d.merged_into {
        Some(main) => store::get_demand(&ctx.db, main)
            .await?
            .map(|m| m.status)
            .unwrap_or(d.status),
        None => d.status,
    };
    if !matches!(outcome, DemandStatus::Resolved | DemandStatus::Closed) {
        return Err(AppError::conflict(
            "not_ready_for_rating",
            "诉求办结反馈后才能评价",
        ));
    }
    if d.rating.is_some() {
        return Err(AppError::conflict("already_rated", "该诉求已评价过"));
    }
    let now = ctx.now_ms();
    let source = if by_resident { "resident" } else { "phone" };
    let mut tx = ctx.db.begin().await?;
    let n = sqlx::query(
        "UPDATE demands SET rated_at = $1, rating_contacted = $2, rating_resolved = $3, rating_satisfaction = $4,
            rating_comment = $5, rating_source = $6, rated_by = $7, updated_at = $1, version = version + 1
         WHERE id = $8 AND rated_at IS NULL",
    )
    .bind(now)
    .bind(input.contacted as i64)
    .bind(input.resolved as i64)
    .bind(sat.expect("checked").value())
    .bind(&comment)
    .bind(source)
    .bind(&p.user_id)
    .bind(&d.id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(AppError::conflict("already_rated", "该诉求已评价过"));
    }
    let after = store::get_demand_tx(&mut tx, &d.id)
        .await?
        .ok_or(AppError::NotFound)?;
    crate::rollup::apply(&mut tx, Some(&d), &after).await?;
    store::insert_event(
        &mut tx,
        &d.id,
        now,
        Some(&p.user_id),
        "rate",
        Some(d.status.as_str()),
        d.status.as_str(),
        comment.as_deref(),
        &json!({"contacted": input.contacted, "resolved": input.resolved, "satisfaction": input.satisfaction, "source": source}),
    )
    .await?;
    audit::record(
        &mut tx,
        ctx.db.backend(),
        AuditEntry {
            at_ms: now,
            actor_id: Some(&p.user_id),
            action: "demand_rated",
            object_type: "demand",
            object_id: Some(&d.id),
            org_path: Some(d.org_path.as_str()),
            detail: json!({"satisfaction": input.satisfaction, "source": source}),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    store::get_demand(&ctx.db, &d.id)
        .await?
        .ok_or(AppError::NotFound)
}

/// The compound (or village) a household path lies in.
pub async fn compound_of(ctx: &Ctx, path: &OrgPath) -> AppResult<Option<org::store::NodeRow>> {
    Ok(org::store::ancestors(&ctx.db, path)
        .await?
        .into_iter()
        .rev()
        .find(|n| matches!(n.kind, OrgKind::Compound | OrgKind::Village)))
}

/// 我也遇到: a resident of the same compound adds their household's support
/// to an open demand instead of filing a duplicate.
pub async fn support(ctx: &Ctx, p: &Principal, id: &str) -> AppResult<DemandRow> {
    let id = kernel::id::parse_id(id).ok_or(AppError::NotFound)?;
    let d = store::get_demand(&ctx.db, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    let compound = compound_of(ctx, &d.org_path)
        .await?
        .ok_or(AppError::NotFound)?;
    let home = p
        .households
        .iter()
        .find(|h| h.org_path.is_within(&compound.org_path))
        .ok_or(AppError::NotFound)?;
    if !workflow::is_open(d.status) {
        return Err(AppError::conflict("not_open", "该诉求已办结,不能再附议"));
    }
    if home.org_path == d.org_path {
        return Err(AppError::conflict("own_demand", "不能附议自己家反映的诉求"));
    }
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    sqlx::query("INSERT INTO demand_supports (demand_id, household_id, user_id, at_ms) VALUES ($1, $2, $3, $4)")
        .bind(&d.id)
        .bind(&home.id)
        .bind(&p.user_id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| match AppError::from(e) {
            AppError::Conflict { .. } => AppError::conflict("already_supported", "您家已经附议过这条诉求"),
            other => other,
        })?;
    sqlx::query(
        "UPDATE demands SET support_count = support_count + 1, updated_at = $1 WHERE id = $2",
    )
    .bind(now)
    .bind(&d.id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    store::get_demand(&ctx.db, &d.id)
        .await?
        .ok_or(AppError::NotFound)
}

/// What the background sweep did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub escalated: usize,
    pub default_rated: usize,
}

/// Marks overdue demands and escalates them (督办) one level up the tree;
/// gives unrated demands their configured default rating.
pub async fn sweep(ctx: &Ctx) -> AppResult<SweepReport> {
    let now = ctx.now_ms();
    let mut report = SweepReport::default();
    let due = sqlx::query(
        "SELECT id FROM demands WHERE overdue = 0 AND (
            (status IN ('submitted', 'accepted', 'returned') AND dispatch_deadline < $1)
         OR (status IN ('dispatched', 'in_progress', 'rework') AND feedback_deadline < $1))
         ORDER BY id LIMIT 500",
    )
    .bind(now)
    .fetch_all(ctx.db.reader())
    .await?;
    for r in due {
        let id: String = r.get(0);
        let Some(mut d) = store::get_demand(&ctx.db, &id).await? else {
            continue;
        };
        let before = d.clone();
        let expected = d.version;
        let expected_level = d.escalation_level;
        d.overdue = true;
        d.escalation_level += 1;
        d.escalated_to = escalation_target(ctx, &d.org_path, d.escalation_level).await?;
        let mut tx = ctx.db.begin().await?;
        match save(&mut tx, &d, expected, now).await {
            Ok(()) => {}
            // Someone acted on it meanwhile; the next sweep looks again.
            Err(AppError::Conflict { .. }) => continue,
            Err(e) => return Err(e),
        }
        store::insert_event(
            &mut tx,
            &d.id,
            now,
            None,
            "escalate",
            Some(d.status.as_str()),
            d.status.as_str(),
            Some("超期未办,系统自动督办"),
            &json!({"level": d.escalation_level, "to": d.escalated_to, "overdue": true}),
        )
        .await?;
        // The open counters count the overdue flag and the escalation.
        let mut tally = crate::rollup::Tally::new();
        tally.change(Some(&before), &d);
        tally.event(&d.org_path, "escalate", now, expected_level == 0);
        tally.write(&mut tx).await?;
        audit::record(
            &mut tx,
            ctx.db.backend(),
            AuditEntry {
                at_ms: now,
                action: "demand_escalated",
                object_type: "demand",
                object_id: Some(&d.id),
                org_path: Some(d.org_path.as_str()),
                detail: json!({"level": d.escalation_level, "to": d.escalated_to}),
                ..Default::default()
            },
        )
        .await?;
        crate::notices::on_overdue(&mut tx, ctx.db.backend(), &d, now).await?;
        tx.commit().await?;
        report.escalated += 1;
    }
    if ctx.settings.unrated_counts_as_satisfied {
        let cutoff = now - ctx.settings.unrated_days * 86_400_000;
        let ids: Vec<String> = sqlx::query(
            "SELECT id FROM demands WHERE rated_at IS NULL AND status IN ('resolved', 'closed') AND resolved_at < $1
             ORDER BY id LIMIT 500",
        )
        .bind(cutoff)
        .fetch_all(ctx.db.reader())
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
        for id in ids {
            let mut tx = ctx.db.begin().await?;
            let Some(before) = store::get_demand_tx(&mut tx, &id).await? else {
                continue;
            };
            let n = sqlx::query(
                "UPDATE demands SET rated_at = $1, rating_contacted = 1, rating_resolved = 1, rating_satisfaction = 5,
                    rating_source = 'default', updated_at = $1, version = version + 1
                 WHERE id = $2 AND rated_at IS NULL",
            )
            .bind(now)
            .bind(&id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 1 {
                let after = store::get_demand_tx(&mut tx, &id)
                    .await?
                    .ok_or(AppError::NotFound)?;
                crate::rollup::apply(&mut tx, Some(&before), &after).await?;
                report.default_rated += 1;
            }
            tx.commit().await?;
        }
    }
    Ok(report)
}

/// Closes a demand from outside the workflow's own actions (a mediation
/// that reached its outcome); records why. Refuses a demand already final.
pub async fn close_by_mediation(
    tx: &mut Tx,
    backend: kernel::Backend,
    demand_id: &str,
    actor: &str,
    note: &str,
    now: i64,
) -> AppResult<()> {
    let d = store::get_demand_tx(tx, demand_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if matches!(
        d.status,
        DemandStatus::Closed | DemandStatus::Rejected | DemandStatus::Merged
    ) {
        return Ok(());
    }
    let mut closed = d.clone();
    closed.status = DemandStatus::Closed;
    closed.closed_at = Some(now);
    closed.resolved_at = Some(d.resolved_at.unwrap_or(now));
    closed.closed_on_time = Some(
        d.feedback_deadline
            .is_none_or(|dl| closed.resolved_at.unwrap_or(now) <= dl),
    );
    save(tx, &closed, d.version, now).await?;
    let after = store::get_demand_tx(tx, demand_id)
        .await?
        .ok_or(AppError::NotFound)?;
    crate::rollup::apply(tx, Some(&d), &after).await?;
    store::insert_event(
        tx,
        demand_id,
        now,
        Some(actor),
        "mediation_closed",
        Some(d.status.as_str()),
        "closed",
        Some(note),
        &json!({}),
    )
    .await?;
    audit::record(
        tx,
        backend,
        AuditEntry {
            at_ms: now,
            actor_id: Some(actor),
            action: "demand_closed_by_mediation",
            object_type: "demand",
            object_id: Some(demand_id),
            org_path: Some(d.org_path.as_str()),
            detail: json!({}),
            ..Default::default()
        },
    )
    .await?;
    Ok(())
}
