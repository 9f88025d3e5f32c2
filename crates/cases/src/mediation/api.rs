//! `/api/v1/mediation`: open a case (standalone or from a 纠纷 demand),
//! read it in scope, record sessions, the outcome, follow-up visits, close.
//! The procedures are public so the demo seeder and pages share them.

use super::model::{
    self, MediationStatus, MediatorKind, NewOutcome, PartyInput, PartyRole, Step, MEDIATION_STAFF,
};
use super::store::{
    self, FollowupRow, ListFilter, MediationRow, MediatorRow, PartyRow, SessionRow,
};
use crate::flow;
use crate::model::DemandStatus;
use accounts::Auth;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::routing::{get, post};
use axum::{Json as JsonOut, Router};
use kernel::audit::{self, AuditEntry};
use kernel::clock::to_rfc3339;
use kernel::json::{Json, Query};
use kernel::openapi::{BodyErrors, Conflict, Forbidden, NotFound, QueryErrors, Unauthorized};
use kernel::page::{Page, PageParams};
use kernel::{AppError, AppResult, Ctx, FieldErrors, Principal, Role};
use org::model::OrgKind;
use org::store::NodeRow;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

pub fn routes() -> Router<Ctx> {
    Router::new()
        .route("/api/v1/mediation/cases", get(list).post(create))
        .route("/api/v1/mediation/cases/{id}", get(detail))
        .route("/api/v1/mediation/cases/{id}/sessions", post(add_session))
        .route("/api/v1/mediation/cases/{id}/outcome", post(outcome))
        .route("/api/v1/mediation/cases/{id}/followups", post(add_followup))
        .route("/api/v1/mediation/cases/{id}/close", post(close))
}

// ---------------------------------------------------------------- bodies

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCaseBody {
    pub title: String,
    pub summary: String,
    /// The compound (or village) where it happens; from the demand when omitted.
    #[serde(default)]
    pub compound_id: Option<String>,
    /// A demand of kind 纠纷 this case mediates (and closes on agreement or referral).
    #[serde(default)]
    pub demand_id: Option<String>,
    /// Households at the table; a demand's household joins as applicant.
    #[serde(default)]
    pub parties: Option<Vec<PartyInput>>,
    /// Staff user ids; the caller when omitted.
    #[serde(default)]
    pub mediators: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionBody {
    /// When it was held (RFC 3339).
    pub held_at: String,
    pub place: String,
    pub notes: String,
    /// The version the caller saw; a stale one is refused with 409.
    #[serde(default)]
    pub version: Option<i64>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomeBody {
    #[schema(value_type = model::OutcomeKind)]
    pub kind: String,
    #[serde(default)]
    pub agreement_text: Option<String>,
    /// Why there was no agreement, or where it was referred.
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub version: Option<i64>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowupBody {
    /// When the visit was (RFC 3339).
    pub visited_at: String,
    pub notes: String,
    #[serde(default)]
    pub satisfied: Option<bool>,
    #[serde(default)]
    pub version: Option<i64>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseBody {
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub version: Option<i64>,
}

// ---------------------------------------------------------------- views

#[derive(Debug, Serialize, ToSchema)]
pub struct CaseItem {
    pub id: String,
    pub title: String,
    pub status: MediationStatus,
    pub status_label: &'static str,
    pub outcome_kind: Option<model::OutcomeKind>,
    pub compound_id: String,
    pub compound_name: String,
    pub org_path: String,
    pub demand_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
}

impl From<&MediationRow> for CaseItem {
    fn from(m: &MediationRow) -> Self {
        CaseItem {
            id: m.id.clone(),
            title: m.title.clone(),
            status: m.status,
            status_label: m.status.label_zh(),
            outcome_kind: m.outcome_kind,
            compound_id: m.compound_id.clone(),
            compound_name: m.compound_name.clone(),
            org_path: m.org_path.as_str().to_string(),
            demand_id: m.demand_id.clone(),
            created_at: to_rfc3339(m.created_at),
            updated_at: to_rfc3339(m.updated_at),
            version: m.version,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutcomeView {
    pub kind: model::OutcomeKind,
    pub label: &'static str,
    pub agreement_text: Option<String>,
    pub note: Option<String>,
    pub at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PartyView {
    pub household_id: String,
    pub household_name: String,
    /// 楼栋 单元 户, e.g. "3号楼 1单元 401室".
    pub household_label: String,
    pub role: PartyRole,
    pub role_label: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MediatorView {
    pub user_id: String,
    pub display_name: String,
    pub kind: MediatorKind,
    pub kind_label: &'static str,
}

impl From<MediatorRow> for MediatorView {
    fn from(m: MediatorRow) -> Self {
        MediatorView {
            kind_label: m.kind.label_zh(),
            user_id: m.user_id,
            display_name: m.display_name,
            kind: m.kind,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub id: String,
    pub held_at: String,
    pub place: String,
    pub notes: String,
    pub recorded_by: Option<String>,
    pub created_at: String,
}

impl From<SessionRow> for SessionView {
    fn from(s: SessionRow) -> Self {
        SessionView {
            id: s.id,
            held_at: to_rfc3339(s.held_at),
            place: s.place,
            notes: s.notes,
            recorded_by: s.recorded_by_name,
            created_at: to_rfc3339(s.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FollowupView {
    pub id: String,
    pub visited_at: String,
    pub notes: String,
    pub satisfied: Option<bool>,
    pub recorded_by: Option<String>,
    pub created_at: String,
}

impl From<FollowupRow> for FollowupView {
    fn from(f: FollowupRow) -> Self {
        FollowupView {
            id: f.id,
            visited_at: to_rfc3339(f.visited_at),
            notes: f.notes,
            satisfied: f.satisfied,
            recorded_by: f.recorded_by_name,
            created_at: to_rfc3339(f.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaseView {
    #[serde(flatten)]
    pub item: CaseItem,
    pub summary: String,
    pub outcome: Option<OutcomeView>,
    pub closed_at: Option<String>,
    pub parties: Vec<PartyView>,
    pub mediators: Vec<MediatorView>,
    pub sessions: Vec<SessionView>,
    pub followups: Vec<FollowupView>,
    /// The steps the caller may record now: session, outcome, followup, close.
    #[schema(value_type = Vec<model::Step>)]
    pub allowed_actions: Vec<&'static str>,
}

// ---------------------------------------------------------------- access

/// What the caller is to a case they can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// Staff over the compound: may record sessions, outcome, visits, close.
    pub record: bool,
}

/// The case if the caller may read it — staff over its compound, one of
/// its mediators, or a resident of a party household — else 404.
pub async fn visible(ctx: &Ctx, p: &Principal, id: &str) -> AppResult<(MediationRow, Access)> {
    let id = kernel::id::parse_id(id).ok_or(AppError::NotFound)?;
    let m = store::get_mediation(&ctx.db, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    if p.covers(MEDIATION_STAFF, &m.org_path) {
        return Ok((m, Access { record: true }));
    }
    if store::is_mediator(&ctx.db, &m.id, &p.user_id).await? {
        return Ok((m, Access { record: false }));
    }
    if !p.households.is_empty() {
        let parties = store::parties_of(&ctx.db, &m.id).await?;
        if parties
            .iter()
            .any(|x| p.households.iter().any(|h| h.id == x.household_id))
        {
            return Ok((m, Access { record: false }));
        }
    }
    Err(AppError::NotFound)
}

/// A case the caller may record on (visible but not theirs → 403).
async fn recordable(ctx: &Ctx, p: &Principal, id: &str) -> AppResult<MediationRow> {
    let (m, access) = visible(ctx, p, id).await?;
    if !access.record {
        return Err(AppError::Forbidden);
    }
    Ok(m)
}

/// 409 unless `step` is allowed now and the caller saw the current version.
fn check_step(m: &MediationRow, step: Step, seen: Option<i64>) -> AppResult<()> {
    if !model::allows(m.status, step) {
        return Err(AppError::conflict(
            "invalid_state",
            model::refusal(m.status, step),
        ));
    }
    if seen.is_some_and(|v| v != m.version) {
        return Err(store::version_conflict());
    }
    Ok(())
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

async fn node_by_id(ctx: &Ctx, id: &str) -> AppResult<Option<NodeRow>> {
    match kernel::id::parse_id(id.trim()) {
        Some(id) => org::store::get_node(&ctx.db, &id).await,
        None => Ok(None),
    }
}

/// The kind a user would mediate as in the compound: active staff with a
/// mediation role whose grant covers it, or — as the seed page tells it —
/// a party member of the compound's party organisation (a resident with an
/// account, no staff role needed).
async fn mediator_kind(
    ctx: &Ctx,
    user_id: &str,
    compound: &NodeRow,
) -> AppResult<Option<MediatorKind>> {
    match store::user_brief(&ctx.db, user_id).await? {
        Some((_, true)) => {}
        _ => return Ok(None),
    }
    let roles: Vec<Role> = accounts::store::grants_of(&ctx.db, user_id)
        .await?
        .into_iter()
        .filter(|g| MEDIATION_STAFF.contains(&g.role) && compound.org_path.is_within(&g.org_path))
        .map(|g| g.role)
        .collect();
    if let Some(kind) = MediatorKind::of_roles(&roles) {
        return Ok(Some(kind));
    }
    let members = party::store::members_of_user(&ctx.db, &ctx.cipher, user_id).await?;
    let serves_here = members.iter().any(|m| {
        m.active
            && (compound.org_path.is_within(&m.org_path)
                || m.org_path.is_within(&compound.org_path))
    });
    Ok(serves_here.then_some(MediatorKind::PartyMember))
}

// ---------------------------------------------------------------- procedures

/// Opens a case. From a demand: it must be of a 纠纷 category and still
/// open, the compound is the demand's, its household joins as applicant.
/// Standalone: the compound is named. Either way the caller must be staff
/// over the compound, parties households in it, mediators staff over it.
pub async fn open_case(ctx: &Ctx, p: &Principal, b: &NewCaseBody) -> AppResult<MediationRow> {
    if !p.grants.iter().any(|g| MEDIATION_STAFF.contains(&g.role)) {
        return Err(AppError::Forbidden);
    }
    let mut errors = FieldErrors::new();
    let new = match model::validate_new(
        &b.title,
        &b.summary,
        b.parties.as_deref().unwrap_or(&[]),
        b.mediators.as_deref().unwrap_or(&[]),
    ) {
        Ok(n) => Some(n),
        Err(e) => {
            errors = e;
            None
        }
    };

    // The demand, if any: one the caller can see, of a dispute category.
    let mut demand = None;
    if let Some(did) = non_empty(&b.demand_id) {
        match flow::visible(ctx, p, did).await {
            Ok(d) => {
                let kind = store::category_kind(&ctx.db, &d.category).await?;
                if kind.as_deref() == Some("dispute") {
                    demand = Some(d);
                } else {
                    errors.add("demand_id", "只有纠纷类诉求可以发起调解");
                }
            }
            Err(AppError::NotFound) => errors.add("demand_id", "诉求不存在"),
            Err(e) => return Err(e),
        }
    }

    // The compound: the demand's, or the one named.
    let named = match non_empty(&b.compound_id) {
        None => None,
        Some(cid) => match node_by_id(ctx, cid).await? {
            Some(n) if p.covers(MEDIATION_STAFF, &n.org_path) => {
                if matches!(n.kind, OrgKind::Compound | OrgKind::Village) {
                    Some(n)
                } else {
                    errors.add("compound_id", "只能在小区或村发起调解");
                    None
                }
            }
            _ => {
                errors.add("compound_id", "小区不存在或不在您的管辖范围内");
                None
            }
        },
    };
    let compound = match &demand {
        Some(d) => match flow::compound_of(ctx, &d.org_path).await? {
            None => {
                errors.add("demand_id", "该诉求不属于任何小区");
                None
            }
            Some(c) => {
                if named.as_ref().is_some_and(|n| n.id != c.id) {
                    errors.add("compound_id", "与诉求所在的小区不一致");
                }
                if !p.covers(MEDIATION_STAFF, &c.org_path) {
                    // The caller sees the demand but does not serve its compound.
                    return Err(AppError::Forbidden);
                }
                Some(c)
            }
        },
        None => {
            if named.is_none()
                && non_empty(&b.compound_id).is_none()
                && non_empty(&b.demand_id).is_none()
            {
                errors.add("compound_id", "请选择小区,或关联一条纠纷类诉求");
            }
            named
        }
    };

    // Parties: households inside the compound; the demand's joins as applicant.
    let mut parties = Vec::new();
    if let (Some(new), Some(c)) = (&new, &compound) {
        for (i, party) in new.parties.iter().enumerate() {
            match org::store::get_node(&ctx.db, &party.household_id).await? {
                Some(h) if h.kind == OrgKind::Household && h.org_path.is_within(&c.org_path) => {
                    parties.push((h, party.role));
                }
                _ => errors.add(
                    "parties",
                    format!("第 {} 位当事人的住户不存在或不在该小区", i + 1),
                ),
            }
        }
        if let Some(d) = &demand {
            if !parties.iter().any(|(h, _)| h.id == d.household_id) {
                if let Some(h) = org::store::get_node(&ctx.db, &d.household_id).await? {
                    parties.insert(0, (h, PartyRole::Applicant));
                }
            }
        }
        if parties.is_empty() && !errors.0.contains_key("parties") {
            errors.add("parties", "请至少填写一户当事人");
        }
    }

    // Mediators: staff over the compound; the caller when none are named.
    let mut mediators = Vec::new();
    if let (Some(new), Some(c)) = (&new, &compound) {
        let ids = if new.mediators.is_empty() {
            vec![p.user_id.clone()]
        } else {
            new.mediators.clone()
        };
        for (i, uid) in ids.iter().enumerate() {
            match mediator_kind(ctx, uid, c).await? {
                Some(kind) => mediators.push((uid.clone(), kind)),
                None => errors.add(
                    "mediators",
                    format!(
                        "第 {} 位调解员不是负责该小区的党员、管家、物业或社区工作人员",
                        i + 1
                    ),
                ),
            }
        }
    }
    errors.check()?;
    let (new, compound) = (new.expect("checked"), compound.expect("checked"));

    if let Some(d) = &demand {
        if matches!(
            d.status,
            DemandStatus::Closed | DemandStatus::Rejected | DemandStatus::Merged
        ) {
            return Err(AppError::conflict(
                "demand_not_open",
                "该诉求已办结,不能再发起调解",
            ));
        }
        if store::open_on_demand(&ctx.db, &d.id).await? {
            return Err(store::open_case_exists());
        }
    }

    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let id = store::insert_mediation(
        &mut tx,
        &store::Opening {
            compound_id: &compound.id,
            org_path: &compound.org_path,
            demand_id: demand.as_ref().map(|d| d.id.as_str()),
            title: &new.title,
            summary: &new.summary,
            created_by: &p.user_id,
        },
        now,
    )
    .await?;
    for (h, role) in &parties {
        store::insert_party(&mut tx, &id, &h.id, *role).await?;
    }
    for (uid, kind) in &mediators {
        store::insert_mediator(&mut tx, &id, uid, *kind).await?;
    }
    audit::record(
        &mut tx,
        ctx.db.backend(),
        AuditEntry {
            at_ms: now,
            actor_id: Some(&p.user_id),
            action: "mediation_created",
            object_type: "mediation",
            object_id: Some(&id),
            org_path: Some(compound.org_path.as_str()),
            detail: json!({
                "demand_id": demand.as_ref().map(|d| d.id.clone()),
                "parties": parties.len(),
                "mediators": mediators.iter().map(|(u, _)| u.clone()).collect::<Vec<_>>(),
            }),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    store::get_mediation(&ctx.db, &id)
        .await?
        .ok_or(AppError::NotFound)
}

/// Records one session (time, place, notes) on an open case.
pub async fn record_session(
    ctx: &Ctx,
    p: &Principal,
    id: &str,
    b: &SessionBody,
) -> AppResult<MediationRow> {
    let m = recordable(ctx, p, id).await?;
    let now = ctx.now_ms();
    let s = model::validate_session(&b.held_at, &b.place, &b.notes, now)
        .map_err(AppError::Validation)?;
    check_step(&m, Step::Session, b.version)?;
    let mut tx = ctx.db.begin().await?;
    store::advance(&mut tx, &m.id, m.version, m.status, m.status, now).await?;
    let sid = store::insert_session(
        &mut tx, &m.id, s.held_at, &s.place, &s.notes, &p.user_id, now,
    )
    .await?;
    audit::record(
        &mut tx,
        ctx.db.backend(),
        AuditEntry {
            at_ms: now,
            actor_id: Some(&p.user_id),
            action: "mediation_session_recorded",
            object_type: "mediation",
            object_id: Some(&m.id),
            org_path: Some(m.org_path.as_str()),
            detail: json!({"session_id": sid, "held_at": s.held_at}),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    reload(ctx, &m.id).await
}

/// Records the case's single outcome; an agreement or a referral of a case
/// that came from a demand closes that demand in the same transaction.
pub async fn record_outcome(
    ctx: &Ctx,
    p: &Principal,
    id: &str,
    b: &OutcomeBody,
) -> AppResult<MediationRow> {
    let m = recordable(ctx, p, id).await?;
    let o: NewOutcome =
        model::validate_outcome(&b.kind, b.agreement_text.as_deref(), b.note.as_deref())
            .map_err(AppError::Validation)?;
    check_step(&m, Step::Outcome, b.version)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    store::set_outcome(
        &mut tx,
        &m.id,
        m.version,
        &store::OutcomeWrite {
            kind: o.kind,
            agreement_text: o.agreement_text.as_deref(),
            note: o.note.as_deref(),
            by: &p.user_id,
        },
        now,
    )
    .await?;
    let closes = match &m.demand_id {
        Some(did) if o.kind.closes_demand() => {
            flow::close_by_mediation(
                &mut tx,
                ctx.db.backend(),
                did,
                &p.user_id,
                &model::demand_close_note(&o),
                now,
            )
            .await?;
            true
        }
        _ => false,
    };
    audit::record(
        &mut tx,
        ctx.db.backend(),
        AuditEntry {
            at_ms: now,
            actor_id: Some(&p.user_id),
            action: "mediation_outcome_recorded",
            object_type: "mediation",
            object_id: Some(&m.id),
            org_path: Some(m.org_path.as_str()),
            detail: json!({"kind": o.kind.as_str(), "demand_id": m.demand_id, "demand_closed": closes}),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    reload(ctx, &m.id).await
}

/// Records a follow-up visit (回访) after the outcome.
pub async fn record_followup(
    ctx: &Ctx,
    p: &Principal,
    id: &str,
    b: &FollowupBody,
) -> AppResult<MediationRow> {
    let m = recordable(ctx, p, id).await?;
    let now = ctx.now_ms();
    let f = model::validate_followup(&b.visited_at, &b.notes, b.satisfied, now)
        .map_err(AppError::Validation)?;
    check_step(&m, Step::Followup, b.version)?;
    let mut tx = ctx.db.begin().await?;
    store::advance(&mut tx, &m.id, m.version, m.status, m.status, now).await?;
    let fid = store::insert_followup(
        &mut tx,
        &m.id,
        f.visited_at,
        &f.notes,
        f.satisfied,
        &p.user_id,
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        ctx.db.backend(),
        AuditEntry {
            at_ms: now,
            actor_id: Some(&p.user_id),
            action: "mediation_followup_recorded",
            object_type: "mediation",
            object_id: Some(&m.id),
            org_path: Some(m.org_path.as_str()),
            detail: json!({"followup_id": fid, "satisfied": f.satisfied}),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    reload(ctx, &m.id).await
}

/// Closes a case that has its outcome; nothing is recorded after.
pub async fn close_case(
    ctx: &Ctx,
    p: &Principal,
    id: &str,
    b: &CloseBody,
) -> AppResult<MediationRow> {
    let m = recordable(ctx, p, id).await?;
    let note = model::validate_close(b.note.as_deref()).map_err(AppError::Validation)?;
    check_step(&m, Step::Close, b.version)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    store::set_closed(&mut tx, &m.id, m.version, m.status, &p.user_id, now).await?;
    audit::record(
        &mut tx,
        ctx.db.backend(),
        AuditEntry {
            at_ms: now,
            actor_id: Some(&p.user_id),
            action: "mediation_closed",
            object_type: "mediation",
            object_id: Some(&m.id),
            org_path: Some(m.org_path.as_str()),
            detail: json!({"from": m.status.as_str(), "note": note}),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    reload(ctx, &m.id).await
}

async fn reload(ctx: &Ctx, id: &str) -> AppResult<MediationRow> {
    store::get_mediation(&ctx.db, id)
        .await?
        .ok_or(AppError::NotFound)
}

/// "3号楼 1单元 401室": the names below the compound down to the household.
async fn household_label(ctx: &Ctx, party: &PartyRow) -> AppResult<String> {
    let chain = org::store::ancestors(&ctx.db, &party.org_path).await?;
    let below: Vec<String> = chain
        .iter()
        .skip_while(|n| !matches!(n.kind, OrgKind::Compound | OrgKind::Village))
        .skip(1)
        .map(|n| n.name.clone())
        .collect();
    Ok(if below.is_empty() {
        party.household_name.clone()
    } else {
        below.join(" ")
    })
}

/// The case with its parties, mediators, sessions, visits and the steps
/// open to the caller.
pub async fn full_view(ctx: &Ctx, m: &MediationRow, access: Access) -> AppResult<CaseView> {
    let mut parties = Vec::new();
    for party in store::parties_of(&ctx.db, &m.id).await? {
        let label = household_label(ctx, &party).await?;
        parties.push(PartyView {
            household_id: party.household_id,
            household_name: party.household_name,
            household_label: label,
            role: party.role,
            role_label: party.role.label_zh(),
        });
    }
    let mediators = store::mediators_of(&ctx.db, &m.id)
        .await?
        .into_iter()
        .map(MediatorView::from)
        .collect();
    let sessions = store::sessions_of(&ctx.db, &m.id)
        .await?
        .into_iter()
        .map(SessionView::from)
        .collect();
    let followups = store::followups_of(&ctx.db, &m.id)
        .await?
        .into_iter()
        .map(FollowupView::from)
        .collect();
    let allowed_actions = if access.record {
        Step::ALL
            .into_iter()
            .filter(|s| model::allows(m.status, *s))
            .map(Step::as_str)
            .collect()
    } else {
        Vec::new()
    };
    Ok(CaseView {
        item: CaseItem::from(m),
        summary: m.summary.clone(),
        outcome: m.outcome_kind.map(|k| OutcomeView {
            kind: k,
            label: k.label_zh(),
            agreement_text: m.agreement_text.clone(),
            note: m.outcome_note.clone(),
            at: m.outcome_at.map(to_rfc3339),
        }),
        closed_at: m.closed_at.map(to_rfc3339),
        parties,
        mediators,
        sessions,
        followups,
        allowed_actions,
    })
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(value_type = Option<MediationStatus>)]
    pub status: Option<String>,
    /// Only the cases of this demand.
    pub demand_id: Option<String>,
    /// Items per page, 1–100 (default 20).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Cases the caller may read, newest first, in the contract's list shape.
pub async fn list_in_scope(
    ctx: &Ctx,
    p: &Principal,
    q: &ListQuery,
) -> AppResult<Page<MediationRow>> {
    let params = PageParams::parse(q.limit.as_deref(), q.cursor.as_deref())?;
    let mut errors = FieldErrors::new();
    let status = match non_empty(&q.status) {
        None => None,
        Some(s) => {
            let v = MediationStatus::parse(s);
            if v.is_none() {
                errors.add(
                    "status",
                    "状态应为 open、agreed、no_agreement、referred 或 closed",
                );
            }
            v
        }
    };
    let demand_id = match non_empty(&q.demand_id) {
        None => None,
        Some(d) => match kernel::id::parse_id(d) {
            Some(id) => Some(id),
            None => {
                errors.add("demand_id", "诉求编号无效");
                None
            }
        },
    };
    errors.check()?;
    let roots = p.roots_for(MEDIATION_STAFF);
    let households: Vec<String> = p.households.iter().map(|h| h.id.clone()).collect();
    let rows = store::list(
        &ctx.db,
        &roots,
        &p.user_id,
        &households,
        &ListFilter { status, demand_id },
        params.after.as_deref(),
        params.fetch(),
    )
    .await?;
    Ok(Page::from_rows(rows, &params, |m| m.id.clone()))
}

// ---------------------------------------------------------------- handlers

/// Cases the caller may read, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/mediation/cases",
    operation_id = "list_mediation_cases",
    tag = "mediation",
    summary = "调解案件列表",
    params(ListQuery),
    responses(
        (status = 200, description = "一页案件", body = Page<CaseItem>),
        QueryErrors, Unauthorized,
    ),
    security(("bearer" = [])),
)]
async fn list(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<ListQuery>,
) -> AppResult<JsonOut<Page<CaseItem>>> {
    let page = list_in_scope(&ctx, &p, &q).await?;
    Ok(JsonOut(page.map(|m| CaseItem::from(&m))))
}

/// Opens a case, standalone in a compound or from a 纠纷 demand.
#[utoipa::path(
    post,
    path = "/api/v1/mediation/cases",
    operation_id = "open_mediation_case",
    tag = "mediation",
    summary = "发起调解",
    request_body = NewCaseBody,
    responses(
        (status = 201, description = "新案件", body = CaseView),
        BodyErrors, Unauthorized, Forbidden, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn create(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Json(b): Json<NewCaseBody>,
) -> AppResult<(StatusCode, JsonOut<CaseView>)> {
    let m = open_case(&ctx, &p, &b).await?;
    let v = full_view(&ctx, &m, Access { record: true }).await?;
    Ok((StatusCode::CREATED, JsonOut(v)))
}

/// The case with parties, mediators, sessions, follow-ups and the steps open to the caller.
#[utoipa::path(
    get,
    path = "/api/v1/mediation/cases/{id}",
    operation_id = "mediation_case",
    tag = "mediation",
    summary = "调解案件详情",
    params(("id" = String, Path, description = "调解案件编号")),
    responses(
        (status = 200, description = "案件", body = CaseView),
        Unauthorized, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn detail(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<JsonOut<CaseView>> {
    let (m, access) = visible(&ctx, &p, &id).await?;
    Ok(JsonOut(full_view(&ctx, &m, access).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/mediation/cases/{id}/sessions",
    operation_id = "record_mediation_session",
    tag = "mediation",
    summary = "记录调解会",
    params(("id" = String, Path, description = "调解案件编号")),
    request_body = SessionBody,
    responses(
        (status = 201, description = "记录后的案件", body = CaseView),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn add_session(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<SessionBody>,
) -> AppResult<(StatusCode, JsonOut<CaseView>)> {
    let m = record_session(&ctx, &p, &id, &b).await?;
    let v = full_view(&ctx, &m, Access { record: true }).await?;
    Ok((StatusCode::CREATED, JsonOut(v)))
}

#[utoipa::path(
    post,
    path = "/api/v1/mediation/cases/{id}/outcome",
    operation_id = "record_mediation_outcome",
    tag = "mediation",
    summary = "记录调解结果",
    params(("id" = String, Path, description = "调解案件编号")),
    request_body = OutcomeBody,
    responses(
        (status = 200, description = "记录后的案件", body = CaseView),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn outcome(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<OutcomeBody>,
) -> AppResult<JsonOut<CaseView>> {
    let m = record_outcome(&ctx, &p, &id, &b).await?;
    Ok(JsonOut(full_view(&ctx, &m, Access { record: true }).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/mediation/cases/{id}/followups",
    operation_id = "record_mediation_followup",
    tag = "mediation",
    summary = "记录回访",
    params(("id" = String, Path, description = "调解案件编号")),
    request_body = FollowupBody,
    responses(
        (status = 201, description = "记录后的案件", body = CaseView),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn add_followup(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<FollowupBody>,
) -> AppResult<(StatusCode, JsonOut<CaseView>)> {
    let m = record_followup(&ctx, &p, &id, &b).await?;
    let v = full_view(&ctx, &m, Access { record: true }).await?;
    Ok((StatusCode::CREATED, JsonOut(v)))
}

/// The body is optional here: an empty POST closes without a note.
#[utoipa::path(
    post,
    path = "/api/v1/mediation/cases/{id}/close",
    operation_id = "close_mediation_case",
    tag = "mediation",
    summary = "结案",
    params(("id" = String, Path, description = "调解案件编号")),
    request_body(content = Option<CloseBody>, description = "可省略:空请求即结案"),
    responses(
        (status = 200, description = "已结案的案件", body = CaseView),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn close(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    req: Request,
) -> AppResult<JsonOut<CaseView>> {
    let headers = req.headers();
    let empty = headers.get(header::CONTENT_TYPE).is_none()
        && headers
            .get(header::CONTENT_LENGTH)
            .is_none_or(|v| v.as_bytes() == b"0");
    let b = if empty {
        CloseBody::default()
    } else {
        Json::<CloseBody>::from_request(req, &ctx).await?.0
    };
    let m = close_case(&ctx, &p, &id, &b).await?;
    Ok(JsonOut(full_view(&ctx, &m, Access { record: true }).await?))
}
