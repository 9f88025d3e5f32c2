//! `/api/v1/party`: organisations and officers, members and their modes,
//! transfers, 双报到, check-ins, the red-butler roster, cross-appointments,
//! activities with attendance and photos, service tasks and volunteer
//! records, statistics, the caller's own membership, Excel in and out.
//! The procedures are public so the pages and the demo seeder share them.
//!
//! Access (see `model::PARTY_ROLES`, `model::OVERSEERS`): an organisation is
//! *managed* by the party roles whose grant covers one of its attachment
//! nodes and *overseen* by the overseers' grants that do. A member record
//! is read in full by the party roles over the member's home branch, group
//! or 双报到 organisation and by the member; masked by overseers; 404 for
//! anyone else. Writes on a member are the home branch's (403 for the
//! other readers).

use crate::model::{
    self, ActivityKind, AttendanceInput, AttendanceStatus, ButlerRole, CheckinChannel,
    ManagementMode, MemberAccess, MemberInput, MemberStatus, OfficerPosition, PartyOrgKind,
    PartyStats, VolunteerStatus, OVERSEERS, PARTY_ROLES,
};
use crate::store::{self, MemberRow, OrgRow};
use accounts::Auth;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json as JsonOut, Router};
use chrono::NaiveDate;
use kernel::audit::{self, AuditEntry};
use kernel::clock::to_rfc3339;
use kernel::json::{Json, Query};
use kernel::openapi::{
    BadRequest, BodyErrors, Conflict, Forbidden, NotFound, PayloadTooLarge, QueryErrors,
    Unauthorized, Unprocessable, UnsupportedMediaType,
};
use kernel::page::{Page, PageParams};
use kernel::{text, AppError, AppResult, Ctx, FieldErrors, OrgPath, Principal, Role};
use org::store::NodeRow;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use utoipa::{IntoParams, ToSchema};

pub const XLSX_MIME: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
pub const PHOTO_MAX_BYTES: usize = 5 * 1024 * 1024;
pub const PHOTOS_PER_ACTIVITY: usize = 9;

pub fn routes() -> Router<Ctx> {
    Router::new()
        .route("/api/v1/party/orgs", get(list_orgs_h).post(create_org_h))
        .route("/api/v1/party/orgs/{id}", get(org_detail_h))
        .route("/api/v1/party/orgs/{id}/officers", post(add_officer_h))
        .route(
            "/api/v1/party/orgs/{id}/service-centre",
            axum::routing::put(set_centre_h),
        )
        .route("/api/v1/party/orgs/{id}/stats", get(stats_h))
        .route("/api/v1/party/orgs/{id}/transfers", get(org_transfers_h))
        .route("/api/v1/party/officers/{id}/end", post(end_officer_h))
        .route(
            "/api/v1/party/members",
            get(list_members_h).post(create_member_h),
        )
        .route(
            "/api/v1/party/members/import",
            post(import_h).layer(axum::extract::DefaultBodyLimit::max(16 * 1024 * 1024)),
        )
        .route("/api/v1/party/members/export.xlsx", get(export_h))
        .route(
            "/api/v1/party/members/{id}",
            get(member_detail_h).patch(update_member_h),
        )
        .route("/api/v1/party/members/{id}/status", post(status_h))
        .route("/api/v1/party/members/{id}/transfer", post(transfer_h))
        .route(
            "/api/v1/party/members/{id}/registration",
            post(register_h).delete(unregister_h),
        )
        .route(
            "/api/v1/party/members/{id}/checkins",
            get(checkins_h).post(checkin_h),
        )
        .route("/api/v1/party/me", get(me_h))
        .route("/api/v1/party/butlers", get(butlers_h).post(add_butler_h))
        .route("/api/v1/party/butlers/{id}/end", post(end_butler_h))
        .route(
            "/api/v1/party/appointments",
            get(appointments_h).post(add_appointment_h),
        )
        .route(
            "/api/v1/party/appointments/{id}/end",
            post(end_appointment_h),
        )
        .route(
            "/api/v1/party/activities",
            get(activities_h).post(create_activity_h),
        )
        .route(
            "/api/v1/party/activities/{id}",
            get(activity_h).patch(minutes_h),
        )
        .route(
            "/api/v1/party/activities/{id}/attendance",
            axum::routing::put(attendance_h),
        )
        .route(
            "/api/v1/party/activities/{id}/photos",
            post(photo_upload_h).layer(axum::extract::DefaultBodyLimit::max(
                PHOTO_MAX_BYTES + 64 * 1024,
            )),
        )
        .route("/api/v1/party/activities/{id}/photos/{photo}", get(photo_h))
        .route("/api/v1/party/tasks", get(tasks_h).post(create_task_h))
        .route("/api/v1/party/tasks/{id}/claims", post(claim_h))
        .route(
            "/api/v1/party/volunteer",
            get(service_list_h).post(record_service_h),
        )
        .route(
            "/api/v1/party/volunteer/{id}/verify",
            post(decide_service_h),
        )
}

// ================================================================ scope

/// The caller's reach in party building, computed once per request.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Organisations a party role of the caller covers.
    pub managed: HashSet<String>,
    /// Organisations an overseer grant covers (and no party role does).
    pub overseen: HashSet<String>,
    /// The caller's own blind index (to find their member record).
    pub own_index: String,
}

impl Scope {
    pub fn manages(&self, org_id: &str) -> bool {
        self.managed.contains(org_id)
    }
    pub fn sees_org(&self, org_id: &str) -> bool {
        self.managed.contains(org_id) || self.overseen.contains(org_id)
    }
    pub fn has_any(&self) -> bool {
        !self.managed.is_empty() || !self.overseen.is_empty()
    }

    /// What the caller is to this member record.
    pub fn access(&self, m: &MemberRow) -> MemberAccess {
        let in_set = |set: &HashSet<String>, id: &Option<String>| {
            id.as_ref().is_some_and(|i| set.contains(i))
        };
        MemberAccess {
            home: self.managed.contains(&m.branch_id),
            group: in_set(&self.managed, &m.group_id),
            registered: in_set(&self.managed, &m.reg_org_id),
            own: m.user_index.as_deref() == Some(self.own_index.as_str()),
            overseer: self.overseen.contains(&m.branch_id)
                || in_set(&self.overseen, &m.group_id)
                || in_set(&self.overseen, &m.reg_org_id),
        }
    }

    pub fn all_visible(&self) -> Vec<String> {
        let mut v: Vec<String> = self.managed.union(&self.overseen).cloned().collect();
        v.sort();
        v
    }
}

pub async fn scope_of(ctx: &Ctx, p: &Principal) -> AppResult<Scope> {
    let managed: HashSet<String> = store::org_ids_in(&ctx.db, &p.roots_for(PARTY_ROLES))
        .await?
        .into_iter()
        .collect();
    let overseen: HashSet<String> = store::org_ids_in(&ctx.db, &p.roots_for(OVERSEERS))
        .await?
        .into_iter()
        .filter(|id| !managed.contains(id))
        .collect();
    Ok(Scope {
        managed,
        overseen,
        own_index: store::user_index(&ctx.cipher, &p.user_id),
    })
}

fn today(ctx: &Ctx) -> NaiveDate {
    model::day_of(ctx.now_ms())
}

fn parse_uuid(id: &str) -> Option<String> {
    kernel::id::parse_id(id.trim())
}

/// An organisation the caller may see (managed or overseen), else 404.
pub async fn visible_org(ctx: &Ctx, scope: &Scope, id: &str) -> AppResult<OrgRow> {
    let id = parse_uuid(id).ok_or(AppError::NotFound)?;
    if !scope.sees_org(&id) {
        return Err(AppError::NotFound);
    }
    store::get_org(&ctx.db, &id)
        .await?
        .ok_or(AppError::NotFound)
}

/// An organisation the caller manages (seen but not managed → 403).
pub async fn managed_org(ctx: &Ctx, scope: &Scope, id: &str) -> AppResult<OrgRow> {
    let o = visible_org(ctx, scope, id).await?;
    if !scope.manages(&o.id) {
        return Err(AppError::Forbidden);
    }
    Ok(o)
}

/// An organisation named in a body: 422 on the field when it does not
/// exist or is out of sight, 403 when seen but not managed.
async fn body_org(
    ctx: &Ctx,
    scope: &Scope,
    id: &str,
    field: &str,
    what: &str,
) -> AppResult<OrgRow> {
    match managed_org(ctx, scope, id).await {
        Err(AppError::NotFound) => Err(AppError::field(field, format!("{what}不存在"))),
        other => other,
    }
}

/// A member record the caller may see, with the caller's access; 404 when
/// out of sight, missing, or no longer in the platform.
pub async fn visible_member(
    ctx: &Ctx,
    scope: &Scope,
    id: &str,
) -> AppResult<(MemberRow, MemberAccess)> {
    let id = parse_uuid(id).ok_or(AppError::NotFound)?;
    let m = store::get_member(&ctx.db, &ctx.cipher, &id)
        .await?
        .filter(|m| m.active)
        .ok_or(AppError::NotFound)?;
    let a = scope.access(&m);
    if !a.visible() {
        return Err(AppError::NotFound);
    }
    Ok((m, a))
}

/// 403 unless `right`; 409 when the caller saw an older version.
fn check_right(right: bool, m: &MemberRow, seen: Option<i64>) -> AppResult<()> {
    if !right {
        return Err(AppError::Forbidden);
    }
    if seen.is_some_and(|v| v != m.version) {
        return Err(store::version_conflict());
    }
    Ok(())
}

async fn node_by_id(ctx: &Ctx, id: &str) -> AppResult<Option<NodeRow>> {
    match parse_uuid(id) {
        Some(id) => org::store::get_node(&ctx.db, &id).await,
        None => Ok(None),
    }
}

#[allow(clippy::too_many_arguments)]
async fn audit_tx(
    tx: &mut kernel::Tx,
    ctx: &Ctx,
    p: &Principal,
    action: &str,
    object_type: &str,
    object_id: &str,
    org_path: &str,
    detail: serde_json::Value,
    now: i64,
) -> AppResult<()> {
    audit::record(
        tx,
        ctx.db.backend(),
        AuditEntry {
            at_ms: now,
            actor_id: Some(&p.user_id),
            action,
            object_type,
            object_id: Some(object_id),
            org_path: Some(org_path),
            detail,
            ..Default::default()
        },
    )
    .await
}

// ================================================================ views

#[derive(Debug, Serialize, Clone, ToSchema)]
pub struct OrgBrief {
    pub id: String,
    pub kind: PartyOrgKind,
    pub kind_label: &'static str,
    pub name: String,
}

impl From<&OrgRow> for OrgBrief {
    fn from(o: &OrgRow) -> Self {
        OrgBrief {
            id: o.id.clone(),
            kind: o.kind,
            kind_label: o.kind.label_zh(),
            name: o.name.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AreaView {
    pub org_id: String,
    pub name: String,
    pub org_path: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgView {
    pub id: String,
    pub kind: PartyOrgKind,
    pub kind_label: &'static str,
    pub name: String,
    pub parent_id: Option<String>,
    pub org_id: String,
    pub org_name: String,
    pub org_path: String,
    pub joint: bool,
    pub founded_on: Option<String>,
    pub areas: Vec<AreaView>,
    /// Whether the caller manages it (else oversees it).
    pub manage: bool,
    pub version: i64,
}

pub fn org_view(o: &OrgRow, scope: &Scope) -> OrgView {
    OrgView {
        id: o.id.clone(),
        kind: o.kind,
        kind_label: o.kind.label_zh(),
        name: o.name.clone(),
        parent_id: o.parent_id.clone(),
        org_id: o.org_id.clone(),
        org_name: o.node_name.clone(),
        org_path: o.org_path.as_str().to_string(),
        joint: o.joint,
        founded_on: o.founded_on.clone(),
        areas: o
            .areas
            .iter()
            .map(|a| AreaView {
                org_id: a.org_id.clone(),
                name: a.name.clone(),
                org_path: a.org_path.as_str().to_string(),
            })
            .collect(),
        manage: scope.manages(&o.id),
        version: o.version,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OfficerView {
    pub id: String,
    pub member_id: String,
    pub name: String,
    pub position: OfficerPosition,
    pub position_label: &'static str,
    pub term_start: String,
    pub term_end: Option<String>,
    pub ended_on: Option<String>,
    pub current: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CentreView {
    pub name: String,
    pub address: String,
    pub opening_hours: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgDetail {
    #[serde(flatten)]
    pub org: OrgView,
    pub parent: Option<OrgBrief>,
    pub children: Vec<OrgBrief>,
    pub officers: Vec<OfficerView>,
    pub service_centre: Option<CentreView>,
}

#[derive(Debug, Serialize, Clone, ToSchema)]
pub struct RegistrationView {
    pub org_id: String,
    pub org_name: String,
    pub registered_on: Option<String>,
}

#[derive(Debug, Serialize, Clone, ToSchema)]
pub struct Rights {
    pub manage: bool,
    pub check_in: bool,
    pub record_service: bool,
    pub register: bool,
}

/// A member as the caller may see it: everything for the party roles over
/// the member's organisations and the member; masked for overseers.
#[derive(Debug, Serialize, Clone, ToSchema)]
pub struct MemberView {
    pub id: String,
    pub name: String,
    pub masked: bool,
    pub phone: Option<String>,
    pub id_card: Option<String>,
    pub status: MemberStatus,
    pub status_label: &'static str,
    pub joined_on: Option<String>,
    pub full_on: Option<String>,
    pub mode: ManagementMode,
    pub mode_label: &'static str,
    pub branch: OrgBrief,
    pub group: Option<OrgBrief>,
    pub registration: Option<RegistrationView>,
    pub work_unit: Option<String>,
    pub whereabouts: Option<String>,
    pub away_since: Option<String>,
    pub away_reason: Option<String>,
    pub household_id: Option<String>,
    pub household: Option<String>,
    pub has_account: bool,
    pub central_household: bool,
    pub vanguard_post: Option<String>,
    /// home, group, registered, own or overseen.
    pub relation: &'static str,
    pub rights: Rights,
    pub service_hours: f64,
    pub service_points: i64,
    pub version: i64,
}

/// Names of organisations and households for a batch of views.
#[derive(Default)]
pub struct Names {
    pub orgs: HashMap<String, OrgRow>,
    pub households: HashMap<String, String>,
    pub totals: HashMap<String, (i64, i64)>,
}

impl Names {
    pub async fn load(ctx: &Ctx, members: &[MemberRow], households: bool) -> AppResult<Names> {
        let mut ids: Vec<String> = members
            .iter()
            .flat_map(|m| {
                [
                    Some(m.branch_id.clone()),
                    m.group_id.clone(),
                    m.reg_org_id.clone(),
                ]
                .into_iter()
                .flatten()
            })
            .collect();
        ids.sort();
        ids.dedup();
        let orgs = store::orgs_by_ids(&ctx.db, &ids)
            .await?
            .into_iter()
            .map(|o| (o.id.clone(), o))
            .collect();
        let mut hh = HashMap::new();
        if households {
            for m in members {
                if let Some(h) = &m.profile.household_id {
                    if !hh.contains_key(h) {
                        hh.insert(h.clone(), household_label(ctx, h).await?);
                    }
                }
            }
        }
        let mids: Vec<String> = members.iter().map(|m| m.id.clone()).collect();
        Ok(Names {
            orgs,
            households: hh,
            totals: store::service_totals(&ctx.db, &mids).await?,
        })
    }

    fn brief(&self, id: &str) -> OrgBrief {
        match self.orgs.get(id) {
            Some(o) => o.into(),
            None => OrgBrief {
                id: id.to_string(),
                kind: PartyOrgKind::Branch,
                kind_label: PartyOrgKind::Branch.label_zh(),
                name: String::new(),
            },
        }
    }
}

/// "泛华盛世小区 3号楼 1单元 301室" for a household node.
pub async fn household_label(ctx: &Ctx, id: &str) -> AppResult<String> {
    let Some(n) = org::store::get_node(&ctx.db, id).await? else {
        return Ok(String::new());
    };
    let chain = org::store::ancestors(&ctx.db, &n.org_path).await?;
    let start = chain
        .iter()
        .rposition(|a| {
            a.kind == org::model::OrgKind::Compound || a.kind == org::model::OrgKind::Village
        })
        .unwrap_or(0);
    Ok(chain[start..]
        .iter()
        .map(|a| a.name.as_str())
        .collect::<Vec<_>>()
        .join(" "))
}

fn year_of(d: &Option<String>) -> Option<String> {
    d.as_ref().map(|d| d.chars().take(4).collect())
}

pub fn member_view(m: &MemberRow, a: MemberAccess, names: &Names) -> MemberView {
    let p = &m.profile;
    let full = a.unmasked();
    let (minutes, points) = names.totals.get(&m.id).copied().unwrap_or((0, 0));
    MemberView {
        id: m.id.clone(),
        name: if full {
            p.name.clone()
        } else {
            kernel::mask::name(&p.name)
        },
        masked: !full,
        phone: p.phone.as_deref().map(|x| {
            if full {
                x.to_string()
            } else {
                kernel::mask::phone(x)
            }
        }),
        id_card: p.id_card.as_deref().map(|x| {
            if full {
                x.to_string()
            } else {
                kernel::mask::id_card(x)
            }
        }),
        status: p.status(),
        status_label: p.status().label_zh(),
        joined_on: if full {
            p.joined_on.clone()
        } else {
            year_of(&p.joined_on)
        },
        full_on: if full {
            p.full_on.clone()
        } else {
            year_of(&p.full_on)
        },
        mode: m.mode,
        mode_label: m.mode.label_zh(),
        branch: names.brief(&m.branch_id),
        group: m.group_id.as_deref().map(|g| names.brief(g)),
        registration: m.reg_org_id.as_ref().map(|r| RegistrationView {
            org_id: r.clone(),
            org_name: names.brief(r).name,
            registered_on: m.reg_on.clone(),
        }),
        work_unit: p.work_unit.clone().filter(|_| full),
        whereabouts: p.whereabouts.clone().filter(|_| full),
        away_since: p.away_since.clone().filter(|_| full),
        away_reason: p.away_reason.clone().filter(|_| full),
        household_id: p.household_id.clone().filter(|_| full),
        household: p
            .household_id
            .as_ref()
            .filter(|_| full)
            .and_then(|h| names.households.get(h).cloned()),
        has_account: p.user_id.is_some(),
        central_household: m.central_household,
        vanguard_post: m.vanguard_post.clone(),
        relation: a.relation(),
        rights: Rights {
            manage: a.manage(),
            check_in: a.check_in() && m.mode == ManagementMode::Floating,
            record_service: a.record_service(),
            register: a.register() && m.mode == ManagementMode::InService,
        },
        service_hours: model::hours_of(minutes),
        service_points: points,
        version: m.version,
    }
}

// ================================================================ organisations

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrgBody {
    #[schema(value_type = PartyOrgKind)]
    pub kind: String,
    pub name: String,
    /// The org node it is attached to (community, compound, building, agency).
    pub org_id: String,
    #[serde(default)]
    pub parent_id: Option<String>,
    /// A joint branch's further compounds.
    #[serde(default)]
    pub areas: Option<Vec<String>>,
    #[serde(default)]
    pub founded_on: Option<String>,
}

/// Sets up an organisation: party roles or overseers covering the node; a
/// child needs the same over its parent.
pub async fn create_org(ctx: &Ctx, p: &Principal, b: &NewOrgBody) -> AppResult<OrgRow> {
    let setup_roles: Vec<Role> = PARTY_ROLES.iter().chain(OVERSEERS).copied().collect();
    let node = node_by_id(ctx, &b.org_id).await?;
    let node = match node {
        Some(n) if p.covers(&setup_roles, &n.org_path) => Some(n),
        Some(n) if p.covers(Role::REGISTRY_READERS, &n.org_path) => {
            return Err(AppError::Forbidden)
        }
        _ => None,
    };
    let new = model::validate_org(
        &b.kind,
        &b.name,
        b.founded_on.as_deref(),
        node.as_ref().map(|n| n.kind.as_str()),
        today(ctx),
    )
    .map_err(AppError::Validation)?;
    let node = node.expect("checked by validate_org");
    let scope = scope_of(ctx, p).await?;
    let parent = match b
        .parent_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(pid) => Some(
            visible_org(ctx, &scope, pid)
                .await
                .map_err(|_| AppError::field("parent_id", "上级组织不存在"))?,
        ),
        None => None,
    };
    let mut extra = Vec::new();
    for (i, a) in b.areas.iter().flatten().enumerate() {
        match node_by_id(ctx, a).await? {
            Some(n) if p.covers(&setup_roles, &n.org_path) => extra.push(n),
            _ => {
                return Err(AppError::field(
                    "areas",
                    format!("第 {} 个小区不存在", i + 1),
                ))
            }
        }
    }
    let parent_paths = parent.as_ref().map(|o| o.area_paths());
    model::check_nesting(
        new.kind,
        parent
            .as_ref()
            .map(|o| (o.kind, parent_paths.as_deref().unwrap_or(&[]))),
        node.org_path.as_str(),
        &extra
            .iter()
            .map(|n| (n.kind.as_str().to_string(), n.org_path.as_str().to_string()))
            .collect::<Vec<_>>(),
    )
    .map_err(AppError::Validation)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let id = store::insert_org(
        &mut tx,
        &store::OrgInsert {
            kind: new.kind,
            name: &new.name,
            parent_id: parent.as_ref().map(|o| o.id.as_str()),
            node: &node,
            extra: &extra,
            founded_on: new.founded_on.map(model::fmt_date),
            created_by: &p.user_id,
        },
        now,
    )
    .await?;
    audit_tx(
        &mut tx,
        ctx,
        p,
        "party_org_created",
        "party_org",
        &id,
        node.org_path.as_str(),
        json!({"kind": new.kind.as_str(), "name": new.name, "areas": extra.len() + 1}),
        now,
    )
    .await?;
    tx.commit().await?;
    store::get_org(&ctx.db, &id)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn org_detail(ctx: &Ctx, scope: &Scope, o: &OrgRow) -> AppResult<OrgDetail> {
    let parent = match &o.parent_id {
        Some(pid) if scope.sees_org(pid) => {
            store::get_org(&ctx.db, pid).await?.map(|x| (&x).into())
        }
        _ => None,
    };
    let kids = store::subtree_ids(&ctx.db, &o.id).await?;
    let children = store::orgs_by_ids(&ctx.db, &kids)
        .await?
        .iter()
        .filter(|c| c.parent_id.as_deref() == Some(o.id.as_str()) && scope.sees_org(&c.id))
        .map(OrgBrief::from)
        .collect();
    let officers = officer_views(ctx, scope, o).await?;
    let service_centre = store::centre_of(&ctx.db, &o.id).await?.map(|c| CentreView {
        name: c.name,
        address: c.address,
        opening_hours: c.opening_hours,
        phone: c.phone,
    });
    Ok(OrgDetail {
        org: org_view(o, scope),
        parent,
        children,
        officers,
        service_centre,
    })
}

/// Officers with names: full for those who manage the organisation (and
/// thus see its members), masked for overseers.
pub async fn officer_views(ctx: &Ctx, scope: &Scope, o: &OrgRow) -> AppResult<Vec<OfficerView>> {
    let day = today(ctx);
    let mut out = Vec::new();
    for r in store::officers_of(&ctx.db, &o.id).await? {
        let name = store::get_member(&ctx.db, &ctx.cipher, &r.member_id)
            .await?
            .map(|m| {
                if scope.manages(&o.id) || scope.access(&m).unmasked() {
                    m.profile.name
                } else {
                    kernel::mask::name(&m.profile.name)
                }
            })
            .unwrap_or_default();
        let parse = |s: &Option<String>| s.as_deref().and_then(|d| model::parse_date(d, "").ok());
        let current = model::parse_date(&r.term_start, "")
            .map(|s| model::in_office(s, parse(&r.term_end), parse(&r.ended_on), day))
            .unwrap_or(false);
        out.push(OfficerView {
            id: r.id,
            member_id: r.member_id,
            name,
            position: r.position,
            position_label: r.position.label_zh(),
            term_start: r.term_start,
            term_end: r.term_end,
            ended_on: r.ended_on,
            current,
        });
    }
    Ok(out)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfficerBody {
    pub member_id: String,
    #[schema(value_type = OfficerPosition)]
    pub position: String,
    pub term_start: String,
    #[serde(default)]
    pub term_end: Option<String>,
}

/// Does the member belong to the organisation (so may hold office there)?
/// Their home branch is it or lies under it, their group is it, or they
/// registered at it (在职党员 as 兼职委员).
async fn belongs(ctx: &Ctx, m: &MemberRow, o: &OrgRow) -> AppResult<bool> {
    let sub = store::subtree_ids(&ctx.db, &o.id).await?;
    let group_of_branch =
        o.kind == PartyOrgKind::Group && o.parent_id.as_deref() == Some(m.branch_id.as_str());
    Ok(sub.contains(&m.branch_id)
        || m.group_id.as_deref() == Some(o.id.as_str())
        || group_of_branch
        || m.reg_org_id.as_deref() == Some(o.id.as_str()))
}

pub async fn add_officer(
    ctx: &Ctx,
    p: &Principal,
    org_id: &str,
    b: &OfficerBody,
) -> AppResult<OfficerView> {
    let scope = scope_of(ctx, p).await?;
    let o = managed_org(ctx, &scope, org_id).await?;
    let new = model::validate_officer(&b.position, &b.term_start, b.term_end.as_deref(), o.kind)
        .map_err(AppError::Validation)?;
    let m = match visible_member(ctx, &scope, &b.member_id).await {
        Ok((m, a)) if a.unmasked() && belongs(ctx, &m, &o).await? => m,
        _ => return Err(AppError::field("member_id", "该党员不是本组织的党员")),
    };
    let now = ctx.now_ms();
    let day = today(ctx);
    let mut tx = ctx.db.begin().await?;
    let parse = |s: &Option<String>| s.as_deref().and_then(|d| model::parse_date(d, "").ok());
    for x in store::officers_of_tx(&mut tx, &o.id).await? {
        let current = model::parse_date(&x.term_start, "")
            .map(|s| model::in_office(s, parse(&x.term_end), parse(&x.ended_on), day))
            .unwrap_or(false);
        if !current {
            continue;
        }
        if x.member_id == m.id {
            return Err(AppError::conflict(
                "already_in_office",
                "该党员已在本组织任职,请先免去原职务",
            ));
        }
        if x.position == new.position && new.position.single() {
            return Err(AppError::conflict(
                "position_taken",
                "该职务已有人担任,请先免去现任后再任命",
            ));
        }
    }
    let id = store::insert_officer(
        &mut tx,
        &o.id,
        &m.id,
        new.position,
        &model::fmt_date(new.term_start),
        new.term_end.map(model::fmt_date).as_deref(),
        &p.user_id,
        now,
    )
    .await?;
    audit_tx(
        &mut tx,
        ctx,
        p,
        "party_officer_appointed",
        "party_org",
        &o.id,
        o.org_path.as_str(),
        json!({"officer": id, "member": m.id, "position": new.position.as_str()}),
        now,
    )
    .await?;
    tx.commit().await?;
    officer_views(ctx, &scope, &o)
        .await?
        .into_iter()
        .find(|v| v.id == id)
        .ok_or(AppError::NotFound)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndBody {
    pub ended_on: String,
}

pub async fn end_officer(ctx: &Ctx, p: &Principal, id: &str, b: &EndBody) -> AppResult<()> {
    let scope = scope_of(ctx, p).await?;
    let id = parse_uuid(id).ok_or(AppError::NotFound)?;
    let r = store::get_officer(&ctx.db, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    let o = managed_org(ctx, &scope, &r.party_org_id).await?;
    let on =
        model::parse_date(&b.ended_on, "免职日期").map_err(|m| AppError::field("ended_on", m))?;
    let start = model::parse_date(&r.term_start, "").unwrap_or_else(|_| model::founding());
    model::check_end(start, on, today(ctx)).map_err(|m| AppError::field("ended_on", m))?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    if !store::end_officer(&mut tx, &id, &model::fmt_date(on)).await? {
        return Err(AppError::conflict("already_ended", "该职务已经免去"));
    }
    audit_tx(
        &mut tx,
        ctx,
        p,
        "party_officer_ended",
        "party_org",
        &o.id,
        o.org_path.as_str(),
        json!({"officer": id}),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CentreBody {
    pub name: String,
    pub address: String,
    #[serde(default)]
    pub opening_hours: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

/// The organisation's 党群服务中心: party roles or overseers over it.
pub async fn set_centre(
    ctx: &Ctx,
    p: &Principal,
    org_id: &str,
    b: &CentreBody,
) -> AppResult<CentreView> {
    let scope = scope_of(ctx, p).await?;
    let o = visible_org(ctx, &scope, org_id).await?;
    let mut e = FieldErrors::new();
    let name = e.take(
        "name",
        text::required(&b.name, 2, model::ORG_NAME_MAX, "服务中心名称"),
    );
    let address = e.take(
        "address",
        text::required(&b.address, 2, model::PLACE_MAX, "地址"),
    );
    let hours = e
        .take(
            "opening_hours",
            text::optional(b.opening_hours.as_deref(), 60, "开放时间"),
        )
        .flatten();
    let phone = e
        .take("phone", text::optional(b.phone.as_deref(), 20, "联系电话"))
        .flatten();
    if phone
        .as_deref()
        .is_some_and(|x| !x.chars().all(|c| c.is_ascii_digit() || c == '-'))
    {
        e.add("phone", "联系电话只能包含数字和 -");
    }
    e.check()?;
    let c = store::CentreRow {
        name: name.expect("checked"),
        address: address.expect("checked"),
        opening_hours: hours,
        phone,
    };
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    store::upsert_centre(&mut tx, &o, &c, now).await?;
    audit_tx(
        &mut tx,
        ctx,
        p,
        "party_service_centre_set",
        "party_org",
        &o.id,
        o.org_path.as_str(),
        json!({"name": c.name}),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(CentreView {
        name: c.name,
        address: c.address,
        opening_hours: c.opening_hours,
        phone: c.phone,
    })
}

// ================================================================ members

#[derive(Debug, Default, Deserialize, Clone, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMemberBody {
    pub branch_id: String,
    #[serde(default)]
    pub group_id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub id_card: Option<String>,
    #[schema(value_type = MemberStatus)]
    pub status: String,
    #[serde(default)]
    pub joined_on: Option<String>,
    #[serde(default)]
    pub full_on: Option<String>,
    #[schema(value_type = ManagementMode)]
    pub mode: String,
    #[serde(default)]
    pub work_unit: Option<String>,
    #[serde(default)]
    pub whereabouts: Option<String>,
    #[serde(default)]
    pub away_since: Option<String>,
    #[serde(default)]
    pub away_reason: Option<String>,
    /// The household (org node) the member lives in.
    #[serde(default)]
    pub household_id: Option<String>,
    /// The login of the member's own account, to link it.
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub central_household: Option<bool>,
    #[serde(default)]
    pub vanguard_post: Option<String>,
}

impl NewMemberBody {
    fn input(&self) -> MemberInput {
        MemberInput {
            name: self.name.clone(),
            phone: self.phone.clone(),
            id_card: self.id_card.clone(),
            status: self.status.clone(),
            joined_on: self.joined_on.clone(),
            full_on: self.full_on.clone(),
            mode: self.mode.clone(),
            work_unit: self.work_unit.clone(),
            whereabouts: self.whereabouts.clone(),
            away_since: self.away_since.clone(),
            away_reason: self.away_reason.clone(),
        }
    }
}

fn blank(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The links every write of a member checks against the database: the
/// group under the branch, the household in the branch's area for resident
/// members, the account, the designations.
struct Links {
    group_id: Option<String>,
    household: Option<NodeRow>,
    user_id: Option<String>,
    vanguard_post: Option<String>,
}

#[allow(clippy::too_many_arguments)]
async fn check_links(
    ctx: &Ctx,
    branch: &OrgRow,
    mode: ManagementMode,
    group_id: Option<&str>,
    household_id: Option<&str>,
    account: Option<&str>,
    central: bool,
    vanguard: Option<&str>,
    e: &mut FieldErrors,
) -> AppResult<Links> {
    let group_id = match group_id {
        None => None,
        Some(g) => match parse_uuid(g) {
            Some(g) => match store::get_org(&ctx.db, &g).await? {
                Some(x)
                    if x.kind == PartyOrgKind::Group
                        && x.parent_id.as_deref() == Some(branch.id.as_str()) =>
                {
                    Some(g)
                }
                _ => {
                    e.add("group_id", "党小组不存在或不属于该党支部");
                    None
                }
            },
            None => {
                e.add("group_id", "党小组不存在或不属于该党支部");
                None
            }
        },
    };
    let household = match household_id {
        None => None,
        Some(h) => match node_by_id(ctx, h).await? {
            Some(n) if n.kind == org::model::OrgKind::Household => Some(n),
            _ => {
                e.add("household_id", "住户不存在");
                None
            }
        },
    };
    if let Err(m) = model::check_home_branch(
        mode,
        &branch.node_kind,
        &branch.area_paths(),
        household.as_ref().map(|h| h.org_path.as_str()),
    ) {
        e.add(
            if household.is_some() {
                "household_id"
            } else {
                "mode"
            },
            m,
        );
    }
    let user_id = match account {
        None => None,
        Some(login) => {
            match accounts::store::find_user_by_login(&ctx.db, &ctx.cipher, login).await? {
                Some(u) if u.active => Some(u.id),
                _ => {
                    e.add("account", "未找到该账号");
                    None
                }
            }
        }
    };
    if central && (household_id.is_none() || mode == ManagementMode::Floating) {
        e.add(
            "central_household",
            "党员中心户应为党员本人居住的住户,流动党员不能设为中心户",
        );
    }
    let vanguard_post = match vanguard {
        None => None,
        Some(v) => e.take(
            "vanguard_post",
            text::required(v, 2, model::POST_MAX, "先锋岗名称"),
        ),
    };
    Ok(Links {
        group_id,
        household,
        user_id,
        vanguard_post,
    })
}

/// Registers a member in a branch the caller manages.
pub async fn create_member(ctx: &Ctx, p: &Principal, b: &NewMemberBody) -> AppResult<MemberRow> {
    let scope = scope_of(ctx, p).await?;
    let branch = body_org(ctx, &scope, &b.branch_id, "branch_id", "党支部").await?;
    if !branch.kind.holds_members() {
        return Err(AppError::field("branch_id", "党员的组织关系应在党支部"));
    }
    let mut e = FieldErrors::new();
    let new = match model::validate_member(&b.input(), today(ctx)) {
        Ok(n) => Some(n),
        Err(f) => {
            e = f;
            None
        }
    };
    let mode = new
        .as_ref()
        .map(|n| n.mode)
        .or_else(|| ManagementMode::parse(&b.mode))
        .unwrap_or(ManagementMode::Resident);
    let links = check_links(
        ctx,
        &branch,
        mode,
        blank(&b.group_id),
        blank(&b.household_id),
        blank(&b.account),
        b.central_household.unwrap_or(false),
        blank(&b.vanguard_post),
        &mut e,
    )
    .await?;
    e.check()?;
    let new = new.expect("checked");
    let mut profile = new.profile();
    profile.user_id = links.user_id.clone();
    profile.household_id = links.household.as_ref().map(|h| h.id.clone());
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    if let Some(field) = store::identity_taken(
        &mut tx,
        &ctx.cipher,
        profile.id_card.as_deref(),
        profile.user_id.as_deref(),
        None,
    )
    .await?
    {
        return Err(AppError::field(
            field,
            if field == "id_card" {
                "该身份证号已登记为党员"
            } else {
                "该账号已关联其他党员"
            },
        ));
    }
    let id = store::insert_member(
        &mut tx,
        &ctx.cipher,
        &store::MemberInsert {
            branch: &branch,
            group_id: links.group_id.as_deref(),
            mode: new.mode,
            profile: &profile,
            central_household: b.central_household.unwrap_or(false),
            vanguard_post: links.vanguard_post.as_deref(),
            created_by: &p.user_id,
        },
        now,
    )
    .await?;
    // Never the name, phone, ID or status: the audit log is read by
    // auditors, who are not party roles.
    audit_tx(
        &mut tx,
        ctx,
        p,
        "party_member_created",
        "party_member",
        &id,
        branch.org_path.as_str(),
        json!({"branch": branch.id, "mode": new.mode.as_str()}),
        now,
    )
    .await?;
    tx.commit().await?;
    store::get_member(&ctx.db, &ctx.cipher, &id)
        .await?
        .ok_or(AppError::NotFound)
}

/// A change to a member: absent fields stay, empty strings clear.
#[derive(Debug, Default, Deserialize, Clone, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchMemberBody {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub id_card: Option<String>,
    #[serde(default)]
    pub joined_on: Option<String>,
    #[serde(default)]
    pub full_on: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<ManagementMode>)]
    pub mode: Option<String>,
    #[serde(default)]
    pub work_unit: Option<String>,
    #[serde(default)]
    pub whereabouts: Option<String>,
    #[serde(default)]
    pub away_since: Option<String>,
    #[serde(default)]
    pub away_reason: Option<String>,
    #[serde(default)]
    pub group_id: Option<String>,
    #[serde(default)]
    pub household_id: Option<String>,
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub central_household: Option<bool>,
    #[serde(default)]
    pub vanguard_post: Option<String>,
    #[serde(default)]
    pub version: Option<i64>,
}

fn merged(patch: &Option<String>, current: &Option<String>) -> Option<String> {
    match patch {
        Some(v) => Some(v.clone()).filter(|v| !v.trim().is_empty()),
        None => current.clone(),
    }
}

/// Edits a member's fields, mode, group, household, account and
/// designations: the home branch only. Changing the mode away from
/// in-service ends the 双报到 registration.
pub async fn update_member(
    ctx: &Ctx,
    p: &Principal,
    id: &str,
    b: &PatchMemberBody,
) -> AppResult<MemberRow> {
    let scope = scope_of(ctx, p).await?;
    let (m, a) = visible_member(ctx, &scope, id).await?;
    check_right(a.manage(), &m, b.version)?;
    let branch = store::get_org(&ctx.db, &m.branch_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let cur = &m.profile;
    let mode = b
        .mode
        .clone()
        .unwrap_or_else(|| m.mode.as_str().to_string());
    let input = MemberInput {
        name: b.name.clone().unwrap_or_else(|| cur.name.clone()),
        phone: merged(&b.phone, &cur.phone),
        id_card: merged(&b.id_card, &cur.id_card),
        status: cur.status().as_str().to_string(),
        joined_on: merged(&b.joined_on, &cur.joined_on),
        full_on: merged(&b.full_on, &cur.full_on),
        mode: mode.clone(),
        work_unit: merged(&b.work_unit, &cur.work_unit),
        whereabouts: merged(&b.whereabouts, &cur.whereabouts),
        away_since: merged(&b.away_since, &cur.away_since),
        away_reason: merged(&b.away_reason, &cur.away_reason),
    };
    let mut e = FieldErrors::new();
    let new = match model::validate_member(&input, today(ctx)) {
        Ok(n) => Some(n),
        Err(f) => {
            e = f;
            None
        }
    };
    let new_mode = new.as_ref().map(|n| n.mode).unwrap_or(m.mode);
    let household_id = merged(&b.household_id, &cur.household_id);
    let group_id = merged(&b.group_id, &m.group_id);
    let central = b.central_household.unwrap_or(m.central_household);
    let vanguard = merged(&b.vanguard_post, &m.vanguard_post);
    let account_changed = b.account.is_some();
    let links = check_links(
        ctx,
        &branch,
        new_mode,
        group_id.as_deref(),
        household_id.as_deref(),
        blank(&b.account),
        central,
        vanguard.as_deref(),
        &mut e,
    )
    .await?;
    e.check()?;
    let new = new.expect("checked");
    let mut next = m.clone();
    let mut profile = new.profile();
    profile.user_id = if account_changed {
        links.user_id.clone()
    } else {
        cur.user_id.clone()
    };
    profile.household_id = links.household.as_ref().map(|h| h.id.clone());
    next.profile = profile;
    next.mode = new.mode;
    next.group_id = links.group_id;
    next.central_household = central;
    next.vanguard_post = links.vanguard_post;
    let mut changed: Vec<&str> = Vec::new();
    if next.mode != m.mode {
        changed.push("mode");
        if next.mode != ManagementMode::InService && next.reg_org_id.is_some() {
            next.reg_org_id = None;
            next.reg_on = None;
            changed.push("registration");
        }
    }
    if next.profile != m.profile {
        changed.push("profile");
    }
    if next.group_id != m.group_id {
        changed.push("group");
    }
    if next.central_household != m.central_household || next.vanguard_post != m.vanguard_post {
        changed.push("designations");
    }
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    if let Some(field) = store::identity_taken(
        &mut tx,
        &ctx.cipher,
        next.profile.id_card.as_deref(),
        next.profile.user_id.as_deref(),
        Some(&m.id),
    )
    .await?
    {
        return Err(AppError::field(
            field,
            if field == "id_card" {
                "该身份证号已登记为党员"
            } else {
                "该账号已关联其他党员"
            },
        ));
    }
    store::save_member(&mut tx, &ctx.cipher, &next, m.version, now).await?;
    audit_tx(
        &mut tx,
        ctx,
        p,
        "party_member_updated",
        "party_member",
        &m.id,
        m.org_path.as_str(),
        json!({"changed": changed}),
        now,
    )
    .await?;
    tx.commit().await?;
    store::get_member(&ctx.db, &ctx.cipher, &m.id)
        .await?
        .ok_or(AppError::NotFound)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    #[schema(value_type = MemberStatus)]
    pub status: String,
    /// 入党日期 for probationary, 转正日期 for full.
    pub date: String,
    #[serde(default)]
    pub version: Option<i64>,
}

/// 积极分子 → 预备党员 → 正式党员, by the home branch.
pub async fn change_status(
    ctx: &Ctx,
    p: &Principal,
    id: &str,
    b: &StatusBody,
) -> AppResult<MemberRow> {
    let scope = scope_of(ctx, p).await?;
    let (m, a) = visible_member(ctx, &scope, id).await?;
    check_right(a.manage(), &m, b.version)?;
    let to = MemberStatus::parse(&b.status)
        .ok_or_else(|| AppError::field("status", "党员状态应为 probationary 或 full"))?;
    let from = m.profile.status();
    if !model::status_step_allowed(from, to) {
        return Err(AppError::conflict(
            "invalid_status_change",
            format!("党员状态不能从“{}”变为“{}”", from.label_zh(), to.label_zh()),
        ));
    }
    let date = model::parse_date(&b.date, "日期").map_err(|m| AppError::field("date", m))?;
    let mut profile = m.profile.clone();
    match to {
        MemberStatus::Probationary => profile.joined_on = Some(model::fmt_date(date)),
        MemberStatus::Full => profile.full_on = Some(model::fmt_date(date)),
        MemberStatus::Activist => {}
    }
    profile.status = Some(to);
    let mut e = FieldErrors::new();
    let parse = |s: &Option<String>| s.as_deref().and_then(|d| model::parse_date(d, "").ok());
    let birth = profile
        .id_card
        .as_deref()
        .and_then(|i| kernel::personal::IdCardNumber::parse(i).ok())
        .and_then(|i| model::birth_date(&i));
    model::check_status_dates(
        to,
        parse(&profile.joined_on),
        parse(&profile.full_on),
        birth,
        today(ctx),
        &mut e,
    );
    // The dates' messages name their fields; the form sends one `date`.
    if !e.is_empty() {
        let msgs: Vec<String> = e.0.into_values().flatten().collect();
        return Err(AppError::field("date", msgs.join(";")));
    }
    let mut next = m.clone();
    next.profile = profile;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    store::save_member(&mut tx, &ctx.cipher, &next, m.version, now).await?;
    audit_tx(
        &mut tx,
        ctx,
        p,
        "party_member_status_changed",
        "party_member",
        &m.id,
        m.org_path.as_str(),
        json!({"changed": ["status"]}),
        now,
    )
    .await?;
    tx.commit().await?;
    store::get_member(&ctx.db, &ctx.cipher, &m.id)
        .await?
        .ok_or(AppError::NotFound)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    #[serde(default)]
    pub to_branch_id: Option<String>,
    /// An organisation outside the platform.
    #[serde(default)]
    pub to_external: Option<String>,
    pub transferred_on: String,
    #[serde(default)]
    pub reason: Option<String>,
    /// The mode in the new branch (default: unchanged).
    #[serde(default)]
    #[schema(value_type = Option<ManagementMode>)]
    pub mode: Option<String>,
    #[serde(default)]
    pub version: Option<i64>,
}

/// Moves a member's organisation relation (组织关系转接), by the home
/// branch. The history keeps every move; offices held in the old branch
/// and its groups end on the day; the group is left; a registration at the
/// new branch itself ends (it is now home). To a branch outside the
/// platform the record leaves every list.
pub async fn transfer(
    ctx: &Ctx,
    p: &Principal,
    id: &str,
    b: &TransferBody,
) -> AppResult<MemberRow> {
    let scope = scope_of(ctx, p).await?;
    let (m, a) = visible_member(ctx, &scope, id).await?;
    check_right(a.manage(), &m, b.version)?;
    let from = store::get_org(&ctx.db, &m.branch_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let last = store::last_transfer_on(&ctx.db, &m.id)
        .await?
        .or_else(|| m.profile.joined_on.clone())
        .and_then(|d| model::parse_date(&d, "").ok());
    let t = model::validate_transfer(
        b.to_branch_id.as_deref(),
        b.to_external.as_deref(),
        &b.transferred_on,
        b.reason.as_deref(),
        today(ctx),
        last,
    )
    .map_err(AppError::Validation)?;
    let to = match &t.target {
        model::TransferTarget::Branch(bid) => {
            let o = store::get_org(&ctx.db, bid)
                .await?
                .filter(|o| o.kind == PartyOrgKind::Branch)
                .ok_or_else(|| AppError::field("to_branch_id", "转入的党支部不存在"))?;
            if o.id == m.branch_id {
                return Err(AppError::field("to_branch_id", "转入的党支部与现在的相同"));
            }
            Some(o)
        }
        model::TransferTarget::External(_) => None,
    };
    let mode = match b.mode.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => ManagementMode::parse(s).ok_or_else(|| {
            AppError::field("mode", "管理方式应为 resident、in_service 或 floating")
        })?,
        None => m.mode,
    };
    let mut next = m.clone();
    if let Some(o) = &to {
        let mut e = FieldErrors::new();
        let household = match &m.profile.household_id {
            Some(h) => org::store::get_node(&ctx.db, h).await?,
            None => None,
        };
        // Moving house usually goes with moving the relation: a household
        // outside the new branch's area is dropped rather than refused.
        let household = household.filter(|h| {
            o.area_paths()
                .iter()
                .any(|a| h.org_path.as_str().starts_with(a.as_str()))
        });
        if let Err(msg) = model::check_home_branch(
            mode,
            &o.node_kind,
            &o.area_paths(),
            household.as_ref().map(|h| h.org_path.as_str()),
        ) {
            e.add("mode", msg);
        }
        let mut fields_input = FieldErrors::new();
        model::check_mode_fields(
            mode,
            m.profile.work_unit.is_some(),
            m.profile.whereabouts.is_some(),
            m.profile
                .away_since
                .as_deref()
                .and_then(|d| model::parse_date(d, "").ok()),
            today(ctx),
            &mut fields_input,
        );
        for (f, msgs) in fields_input.0 {
            for msg in msgs {
                e.add(f.clone(), msg);
            }
        }
        e.check()?;
        next.branch_id = o.id.clone();
        next.org_path = o.org_path.clone();
        next.profile.household_id = household.map(|h| h.id);
        if next.profile.household_id.is_none() {
            next.central_household = false;
        }
        if next.reg_org_id.as_deref() == Some(o.id.as_str()) || mode != ManagementMode::InService {
            next.reg_org_id = None;
            next.reg_on = None;
        }
    } else {
        next.active = false;
        next.reg_org_id = None;
        next.reg_on = None;
    }
    next.mode = mode;
    next.group_id = None;
    let on = model::fmt_date(t.on);
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let old_orgs = store::subtree_ids(&ctx.db, &from.id).await?;
    let ended = store::end_offices_in(&mut tx, &m.id, &old_orgs, &on).await?;
    let external = match &t.target {
        model::TransferTarget::External(x) => Some(x.clone()),
        _ => None,
    };
    let tid = store::insert_transfer(
        &mut tx,
        &ctx.cipher,
        &store::TransferInsert {
            member_id: &m.id,
            from: &from,
            to: to.as_ref(),
            to_external: external.as_deref(),
            on: &on,
            reason: t.reason.as_deref(),
            by: &p.user_id,
        },
        now,
    )
    .await?;
    store::save_member(&mut tx, &ctx.cipher, &next, m.version, now).await?;
    audit_tx(
        &mut tx,
        ctx,
        p,
        "party_member_transferred",
        "party_member",
        &m.id,
        from.org_path.as_str(),
        json!({"transfer": tid, "from": from.id, "to": to.as_ref().map(|o| o.id.clone()), "external": external.is_some(), "offices_ended": ended}),
        now,
    )
    .await?;
    tx.commit().await?;
    store::get_member(&ctx.db, &ctx.cipher, &m.id)
        .await?
        .ok_or(AppError::NotFound)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationBody {
    /// The residential community's committee or compound branch.
    pub org_id: String,
    pub registered_on: String,
    #[serde(default)]
    pub version: Option<i64>,
}

/// 双报到: an in-service member registers at the residential community.
/// The home branch registers its member anywhere; the receiving branch
/// (managing the target) may record a member it can see.
pub async fn register(
    ctx: &Ctx,
    p: &Principal,
    id: &str,
    b: &RegistrationBody,
) -> AppResult<MemberRow> {
    let scope = scope_of(ctx, p).await?;
    let (m, a) = visible_member(ctx, &scope, id).await?;
    let target_id =
        parse_uuid(&b.org_id).ok_or_else(|| AppError::field("org_id", "报到组织不存在"))?;
    let target = store::get_org(&ctx.db, &target_id)
        .await?
        .ok_or_else(|| AppError::field("org_id", "报到组织不存在"))?;
    check_right(a.manage() || scope.manages(&target.id), &m, b.version)?;
    if let Err((field, msg)) = model::check_registration(
        m.mode,
        target.kind,
        &target.node_kind,
        target.id == m.branch_id,
    ) {
        return Err(if field == "conflict" {
            AppError::conflict("not_in_service", msg)
        } else {
            AppError::field(field, msg)
        });
    }
    if m.reg_org_id.is_some() {
        return Err(AppError::conflict(
            "already_registered",
            "该党员已在居住地报到,请先取消原报到",
        ));
    }
    let on = model::parse_date(&b.registered_on, "报到日期")
        .map_err(|x| AppError::field("registered_on", x))?;
    if on > today(ctx) {
        return Err(AppError::field("registered_on", "报到日期不能晚于今天"));
    }
    let mut next = m.clone();
    next.reg_org_id = Some(target.id.clone());
    next.reg_on = Some(model::fmt_date(on));
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    store::save_member(&mut tx, &ctx.cipher, &next, m.version, now).await?;
    audit_tx(
        &mut tx,
        ctx,
        p,
        "party_member_registered",
        "party_member",
        &m.id,
        target.org_path.as_str(),
        json!({"org": target.id}),
        now,
    )
    .await?;
    tx.commit().await?;
    store::get_member(&ctx.db, &ctx.cipher, &m.id)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn unregister(ctx: &Ctx, p: &Principal, id: &str) -> AppResult<MemberRow> {
    let scope = scope_of(ctx, p).await?;
    let (m, a) = visible_member(ctx, &scope, id).await?;
    check_right(a.register(), &m, None)?;
    let Some(reg) = m.reg_org_id.clone() else {
        return Err(AppError::conflict("not_registered", "该党员没有双报到记录"));
    };
    let mut next = m.clone();
    next.reg_org_id = None;
    next.reg_on = None;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    store::save_member(&mut tx, &ctx.cipher, &next, m.version, now).await?;
    audit_tx(
        &mut tx,
        ctx,
        p,
        "party_member_unregistered",
        "party_member",
        &m.id,
        m.org_path.as_str(),
        json!({"org": reg}),
        now,
    )
    .await?;
    tx.commit().await?;
    store::get_member(&ctx.db, &ctx.cipher, &m.id)
        .await?
        .ok_or(AppError::NotFound)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckinBody {
    /// When (RFC 3339); now when omitted.
    #[serde(default)]
    pub at: Option<String>,
    /// Where the member is.
    pub place: String,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckinView {
    pub id: String,
    pub at: String,
    pub place: String,
    pub note: Option<String>,
    pub channel: CheckinChannel,
    pub channel_label: &'static str,
}

impl From<store::CheckinRow> for CheckinView {
    fn from(c: store::CheckinRow) -> Self {
        CheckinView {
            id: c.id,
            at: to_rfc3339(c.at_ms),
            place: c.place,
            note: c.note,
            channel: c.channel,
            channel_label: c.channel.label_zh(),
        }
    }
}

/// 跟进管: a floating member's check-in — by the member (from wherever
/// they are) or by the home branch after a call — reaches the home branch.
pub async fn add_checkin(
    ctx: &Ctx,
    p: &Principal,
    id: &str,
    b: &CheckinBody,
) -> AppResult<CheckinView> {
    let scope = scope_of(ctx, p).await?;
    let (m, a) = visible_member(ctx, &scope, id).await?;
    check_right(a.check_in(), &m, None)?;
    if m.mode != ManagementMode::Floating {
        return Err(AppError::conflict(
            "not_floating",
            "只有流动党员需要报到联系",
        ));
    }
    let now = ctx.now_ms();
    let mut e = FieldErrors::new();
    let at = match blank(&b.at) {
        None => Some(now),
        Some(s) => match kernel::clock::from_rfc3339(s) {
            Some(t) if t > now + 3600 * 1000 => {
                e.add("at", "报到时间不能晚于现在");
                None
            }
            Some(t) if t < model::EARLIEST_MS => {
                e.add("at", "报到时间不能早于 2000 年");
                None
            }
            Some(t) => Some(t),
            None => {
                e.add(
                    "at",
                    "报到时间格式应为 RFC 3339,如 2026-07-01T09:00:00+08:00",
                );
                None
            }
        },
    };
    let place = e.take(
        "place",
        text::required(&b.place, 2, model::PLACE_MAX, "所在地"),
    );
    let note = e
        .take(
            "note",
            text::optional(b.note.as_deref(), model::NOTE_MAX, "备注"),
        )
        .flatten();
    e.check()?;
    let (at, place) = (at.expect("checked"), place.expect("checked"));
    let channel = if a.own && !a.home {
        CheckinChannel::SelfReport
    } else {
        CheckinChannel::Branch
    };
    let mut tx = ctx.db.begin().await?;
    let cid = store::insert_checkin(
        &mut tx,
        &ctx.cipher,
        &m.id,
        &m.branch_id,
        at,
        &place,
        note.as_deref(),
        channel,
        (channel == CheckinChannel::Branch).then_some(p.user_id.as_str()),
        now,
    )
    .await?;
    audit_tx(
        &mut tx,
        ctx,
        p,
        "party_checkin_recorded",
        "party_member",
        &m.id,
        m.org_path.as_str(),
        json!({"checkin": cid, "channel": channel.as_str()}),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(CheckinView {
        id: cid,
        at: to_rfc3339(at),
        place,
        note,
        channel,
        channel_label: channel.label_zh(),
    })
}

// ---------------------------------------------------------------- member detail

#[derive(Debug, Serialize, ToSchema)]
pub struct TransferView {
    pub id: String,
    pub member_id: String,
    pub member_name: Option<String>,
    pub from: OrgBriefName,
    pub to: OrgBriefName,
    pub transferred_on: String,
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgBriefName {
    pub id: Option<String>,
    pub name: String,
}

fn transfer_view(t: store::TransferRow, member_name: Option<String>) -> TransferView {
    TransferView {
        id: t.id,
        member_id: t.member_id,
        member_name,
        from: OrgBriefName {
            id: Some(t.from_org_id),
            name: t.from_name,
        },
        to: OrgBriefName {
            id: t.to_org_id,
            name: t.to_name,
        },
        transferred_on: t.transferred_on,
        reason: t.reason,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OfficeView {
    pub org_id: String,
    pub position: OfficerPosition,
    pub position_label: &'static str,
    pub term_start: String,
    pub term_end: Option<String>,
    pub ended_on: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppointmentView {
    pub id: String,
    pub party_org_id: String,
    pub member_id: String,
    pub member_name: String,
    pub compound_id: String,
    pub compound_name: String,
    pub body: model::CrossBody,
    pub body_label: &'static str,
    pub direction: model::CrossDirection,
    pub direction_label: &'static str,
    pub position: String,
    pub started_on: String,
    pub ended_on: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceView {
    pub id: String,
    pub member_id: String,
    pub member_name: String,
    pub org: OrgBriefName,
    pub task_id: Option<String>,
    pub served_on: String,
    pub hours: f64,
    pub description: String,
    pub status: VolunteerStatus,
    pub status_label: &'static str,
    pub points: i64,
    pub self_reported: bool,
    /// May the caller verify it now?
    pub can_verify: bool,
    pub version: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaseBrief {
    pub id: String,
    pub title: String,
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Engagement {
    /// Demands the member helped with (by their account), how many, and
    /// those the caller may open.
    pub demands_helped: i64,
    pub demands: Vec<CaseBrief>,
    pub mediations: i64,
    pub mediation_list: Vec<CaseBrief>,
    pub service_hours: f64,
    pub service_points: i64,
    pub service_pending_hours: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttendedView {
    pub activity_id: String,
    pub title: String,
    pub kind: ActivityKind,
    pub kind_label: &'static str,
    pub held_at: String,
    pub status: AttendanceStatus,
    pub status_label: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskBrief {
    pub id: String,
    pub title: String,
    pub org_name: String,
    pub open: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FloatingView {
    pub last_checkin: Option<String>,
    pub overdue: bool,
    pub contact_days: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberDetail {
    #[serde(flatten)]
    pub member: MemberView,
    pub transfers: Vec<TransferView>,
    pub checkins: Vec<CheckinView>,
    pub floating: Option<FloatingView>,
    pub offices: Vec<OfficeView>,
    pub appointments: Vec<AppointmentView>,
    pub service: Vec<ServiceView>,
    pub tasks: Vec<TaskBrief>,
    pub attendance: Vec<AttendedView>,
    pub engagement: Option<Engagement>,
}

/// The record with its history; the masked view (overseers) carries no
/// history, whereabouts or engagement.
pub async fn member_detail(
    ctx: &Ctx,
    p: &Principal,
    scope: &Scope,
    m: &MemberRow,
    a: MemberAccess,
) -> AppResult<MemberDetail> {
    let names = Names::load(ctx, std::slice::from_ref(m), a.unmasked()).await?;
    let view = member_view(m, a, &names);
    if !a.unmasked() {
        return Ok(MemberDetail {
            member: view,
            transfers: vec![],
            checkins: vec![],
            floating: None,
            offices: vec![],
            appointments: vec![],
            service: vec![],
            tasks: vec![],
            attendance: vec![],
            engagement: None,
        });
    }
    let transfers = store::transfers_of_member(&ctx.db, &ctx.cipher, &m.id)
        .await?
        .into_iter()
        .map(|t| transfer_view(t, None))
        .collect();
    let checkin_rows = store::checkins_of(&ctx.db, &ctx.cipher, &m.id, 50).await?;
    let floating = (m.mode == ManagementMode::Floating).then(|| {
        let last = checkin_rows.first().map(|c| c.at_ms);
        FloatingView {
            last_checkin: last.map(to_rfc3339),
            overdue: model::contact_overdue(
                last.map(model::day_of),
                m.profile
                    .away_since
                    .as_deref()
                    .and_then(|d| model::parse_date(d, "").ok()),
                today(ctx),
            ),
            contact_days: model::FLOATING_CONTACT_DAYS,
        }
    });
    let offices = store::offices_of_member(&ctx.db, &m.id)
        .await?
        .into_iter()
        .map(|o| OfficeView {
            org_id: o.party_org_id,
            position: o.position,
            position_label: o.position.label_zh(),
            term_start: o.term_start,
            term_end: o.term_end,
            ended_on: o.ended_on,
        })
        .collect();
    let appointments = store::appointments_of_member(&ctx.db, &m.id)
        .await?
        .into_iter()
        .map(|x| appointment_view(x, m.profile.name.clone()))
        .collect();
    let service_rows = store::list_service(
        &ctx.db,
        &store::ServiceFilter {
            members: vec![m.id.clone()],
            limit: 100,
            ..Default::default()
        },
    )
    .await?;
    let pending: i64 = service_rows
        .iter()
        .filter(|s| s.status == VolunteerStatus::Pending)
        .map(|s| s.minutes)
        .sum();
    let service = service_rows
        .into_iter()
        .map(|s| service_view(s, m, scope, a))
        .collect();
    let tasks = store::tasks_of_member(&ctx.db, &m.id)
        .await?
        .into_iter()
        .map(|t| TaskBrief {
            id: t.id,
            title: t.title,
            org_name: t.org_name,
            open: t.open,
        })
        .collect();
    let attendance = store::attendance_of_member(&ctx.db, &m.id)
        .await?
        .into_iter()
        .map(|(act, st)| AttendedView {
            activity_id: act.id,
            title: act.title,
            kind: act.kind,
            kind_label: act.kind.label_zh(),
            held_at: to_rfc3339(act.held_at),
            status: st,
            status_label: st.label_zh(),
        })
        .collect();
    let (minutes, points) = names.totals.get(&m.id).copied().unwrap_or((0, 0));
    let engagement = match &m.profile.user_id {
        Some(uid) => {
            let demands = store::demands_helped(&ctx.db, uid).await?;
            let mediations = store::mediations_of(&ctx.db, uid).await?;
            Some(Engagement {
                demands_helped: demands.len() as i64,
                demands: demands
                    .into_iter()
                    .filter(|d| p.covers(Role::CASE_STAFF, &d.org_path) || p.lives_at(&d.org_path))
                    .map(|d| CaseBrief {
                        id: d.id,
                        title: d.title,
                        status: d.status,
                    })
                    .collect(),
                mediations: mediations.len() as i64,
                mediation_list: mediations
                    .into_iter()
                    .filter(|d| p.covers(model::MEDIATION_READERS, &d.org_path))
                    .map(|d| CaseBrief {
                        id: d.id,
                        title: d.title,
                        status: d.status,
                    })
                    .collect(),
                service_hours: model::hours_of(minutes),
                service_points: points,
                service_pending_hours: model::hours_of(pending),
            })
        }
        None => Some(Engagement {
            demands_helped: 0,
            demands: vec![],
            mediations: 0,
            mediation_list: vec![],
            service_hours: model::hours_of(minutes),
            service_points: points,
            service_pending_hours: model::hours_of(pending),
        }),
    };
    Ok(MemberDetail {
        member: view,
        transfers,
        checkins: checkin_rows.into_iter().map(CheckinView::from).collect(),
        floating,
        offices,
        appointments,
        service,
        tasks,
        attendance,
        engagement,
    })
}

fn appointment_view(x: store::AppointmentRow, member_name: String) -> AppointmentView {
    AppointmentView {
        id: x.id,
        party_org_id: x.party_org_id,
        member_id: x.member_id,
        member_name,
        compound_id: x.compound_id,
        compound_name: x.compound_name,
        body: x.body,
        body_label: x.body.label_zh(),
        direction: x.direction,
        direction_label: x.direction.label_zh(),
        position: x.position,
        started_on: x.started_on,
        ended_on: x.ended_on,
    }
}

fn service_view(
    s: store::ServiceRow,
    m: &MemberRow,
    scope: &Scope,
    a: MemberAccess,
) -> ServiceView {
    let name = if a.unmasked() {
        m.profile.name.clone()
    } else {
        kernel::mask::name(&m.profile.name)
    };
    ServiceView {
        can_verify: s.status == VolunteerStatus::Pending
            && scope.manages(&s.party_org_id)
            && !a.own,
        id: s.id,
        member_id: s.member_id,
        member_name: name,
        org: OrgBriefName {
            id: Some(s.party_org_id),
            name: s.org_name,
        },
        task_id: s.task_id,
        served_on: s.served_on,
        hours: model::hours_of(s.minutes),
        description: s.description,
        status: s.status,
        status_label: s.status.label_zh(),
        points: s.points,
        self_reported: s.channel == "self",
        version: s.version,
    }
}

// ---------------------------------------------------------------- member lists

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MemberQuery {
    /// An organisation: its members (home, group or registered there; a
    /// committee with everything under it).
    pub org: Option<String>,
    /// home (organisation relation there) or registered (双报到 there).
    #[param(pattern = "^(home|registered)?$")]
    pub relation: Option<String>,
    #[param(value_type = Option<ManagementMode>)]
    pub mode: Option<String>,
    /// Items per page, 1–100 (default 20).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Members in the caller's scope (the contract's entry point).
pub async fn list_members(
    ctx: &Ctx,
    p: &Principal,
    q: &MemberQuery,
) -> AppResult<(Page<MemberView>, Scope)> {
    let params = PageParams::parse(q.limit.as_deref(), q.cursor.as_deref())?;
    let scope = scope_of(ctx, p).await?;
    let mode = match q.mode.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(m) => Some(ManagementMode::parse(m).ok_or_else(|| {
            AppError::field("mode", "管理方式应为 resident、in_service 或 floating")
        })?),
    };
    let relation = q
        .relation
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if relation.is_some_and(|r| r != "home" && r != "registered") {
        return Err(AppError::field(
            "relation",
            "relation 应为 home 或 registered",
        ));
    }
    let visible = scope.all_visible();
    let (home, reg, own) = match q.org.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(org_id) => {
            let o = visible_org(ctx, &scope, org_id).await?;
            let sub: Vec<String> = store::subtree_ids(&ctx.db, &o.id)
                .await?
                .into_iter()
                .filter(|id| scope.sees_org(id))
                .collect();
            match relation {
                Some("home") => (sub, vec![], None),
                Some("registered") => (vec![], sub, None),
                _ => (sub.clone(), sub, None),
            }
        }
        None => match relation {
            Some("home") => (visible, vec![], None),
            Some("registered") => (vec![], visible, None),
            _ => (visible.clone(), visible, Some(scope.own_index.clone())),
        },
    };
    let rows = store::list_members(
        &ctx.db,
        &ctx.cipher,
        &store::MemberFilter {
            home_orgs: home,
            reg_orgs: reg,
            own_index: own,
            mode,
            after: params.after.clone(),
            limit: params.fetch(),
        },
    )
    .await?;
    let page = Page::from_rows(rows, &params, |m| m.id.clone());
    let names = Names::load(ctx, &page.items, true).await?;
    let out = page.map(|m| member_view(&m, scope.access(&m), &names));
    Ok((out, scope))
}

// ================================================================ roster and appointments

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ButlerBody {
    pub building_id: String,
    #[schema(value_type = ButlerRole)]
    pub role: String,
    /// A butler's login (a butler who is not a party member) …
    #[serde(default)]
    pub account: Option<String>,
    /// … or the member record of a red butler / party volunteer.
    #[serde(default)]
    pub member_id: Option<String>,
    #[serde(default)]
    pub duty: Option<String>,
    pub started_on: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ButlerView {
    pub id: String,
    pub building_id: String,
    pub building_name: String,
    pub role: ButlerRole,
    pub role_label: &'static str,
    pub name: String,
    /// A butler who is a party member (红色管家).
    pub red: bool,
    pub member_id: Option<String>,
    pub duty: Option<String>,
    pub started_on: String,
}

/// Puts a butler or a party volunteer on a building's roster: party roles
/// over the building. A red butler is a member whose own account holds the
/// butler role over the building; a volunteer is a member whose home or
/// registration branch serves the building.
pub async fn add_butler(ctx: &Ctx, p: &Principal, b: &ButlerBody) -> AppResult<ButlerView> {
    let building = match node_by_id(ctx, &b.building_id).await? {
        Some(n)
            if n.kind == org::model::OrgKind::Building
                && p.covers(Role::REGISTRY_READERS, &n.org_path) =>
        {
            n
        }
        _ => return Err(AppError::field("building_id", "楼栋不存在")),
    };
    if !p.covers(PARTY_ROLES, &building.org_path) {
        return Err(AppError::Forbidden);
    }
    let scope = scope_of(ctx, p).await?;
    let mut e = FieldErrors::new();
    let role = ButlerRole::parse(&b.role);
    if role.is_none() {
        e.add("role", "名册身份应为 butler 或 party_volunteer");
    }
    let duty = e
        .take("duty", text::optional(b.duty.as_deref(), 100, "负责内容"))
        .flatten();
    let on = e.take("started_on", model::parse_date(&b.started_on, "上岗日期"));
    if on.is_some_and(|d| d > today(ctx)) {
        e.add("started_on", "上岗日期不能晚于今天");
    }
    let member = match blank(&b.member_id) {
        Some(mid) => match visible_member(ctx, &scope, mid).await {
            Ok((m, a)) if a.unmasked() => Some(m),
            _ => {
                e.add("member_id", "党员不存在");
                None
            }
        },
        None => None,
    };
    let account = match blank(&b.account) {
        Some(login) => {
            match accounts::store::find_user_by_login(&ctx.db, &ctx.cipher, login).await? {
                Some(u) if u.active => Some(u.id),
                _ => {
                    e.add("account", "未找到该账号");
                    None
                }
            }
        }
        None => None,
    };
    let butler_over = |uid: &str| {
        let uid = uid.to_string();
        let path = building.org_path.clone();
        async move {
            Ok::<bool, AppError>(
                accounts::store::grants_of(&ctx.db, &uid)
                    .await?
                    .iter()
                    .any(|g| g.role == Role::Butler && path.is_within(&g.org_path)),
            )
        }
    };
    match role {
        Some(ButlerRole::Butler) => match (&account, &member) {
            (Some(uid), None) => {
                let over = butler_over(uid).await?;
                if !over {
                    e.add("account", "该账号不是本楼栋的楼宇管家");
                }
            }
            (None, Some(m)) => match &m.profile.user_id {
                Some(uid) if butler_over(uid).await? => {}
                _ => e.add("member_id", "该党员不是本楼栋的楼宇管家,不能列为红色管家"),
            },
            (Some(_), Some(_)) => e.add("account", "红色管家请只选择党员,不要同时填写账号"),
            (None, None) if !e.0.contains_key("account") && !e.0.contains_key("member_id") => {
                e.add("account", "请填写楼宇管家的账号,或选择担任红色管家的党员")
            }
            _ => {}
        },
        Some(ButlerRole::PartyVolunteer) => match &member {
            Some(m) => {
                let mut serves = false;
                for oid in [Some(&m.branch_id), m.reg_org_id.as_ref()]
                    .into_iter()
                    .flatten()
                {
                    if let Some(o) = store::get_org(&ctx.db, oid).await? {
                        serves |= o
                            .area_paths()
                            .iter()
                            .any(|a| building.org_path.as_str().starts_with(a.as_str()));
                    }
                }
                if !serves {
                    e.add("member_id", "党员志愿者应是服务该楼栋的支部党员或报到党员");
                }
                if account.is_some() {
                    e.add("account", "党员志愿者不填写账号");
                }
            }
            None if !e.0.contains_key("member_id") => e.add("member_id", "请选择党员志愿者"),
            None => {}
        },
        None => {}
    }
    e.check()?;
    let role = role.expect("checked");
    let on = model::fmt_date(on.expect("checked"));
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let id = store::insert_butler(
        &mut tx,
        &store::ButlerInsert {
            building: &building,
            role,
            user_id: if member.is_some() {
                None
            } else {
                account.as_deref()
            },
            member_id: member.as_ref().map(|m| m.id.as_str()),
            duty: duty.as_deref(),
            started_on: &on,
            by: &p.user_id,
        },
        now,
    )
    .await?;
    audit_tx(
        &mut tx,
        ctx,
        p,
        "party_roster_added",
        "building",
        &building.id,
        building.org_path.as_str(),
        json!({"entry": id, "role": role.as_str()}),
        now,
    )
    .await?;
    tx.commit().await?;
    butler_views(ctx, p, &scope, std::slice::from_ref(&building.org_path))
        .await?
        .into_iter()
        .find(|v| v.id == id)
        .ok_or(AppError::NotFound)
}

/// The roster within the roots: party roles see members' names, overseers
/// masked ones.
pub async fn butler_views(
    ctx: &Ctx,
    p: &Principal,
    scope: &Scope,
    roots: &[OrgPath],
) -> AppResult<Vec<ButlerView>> {
    let mut out = Vec::new();
    for r in store::butlers_in(&ctx.db, roots).await? {
        let (name, red) = match &r.member_id {
            Some(mid) => match store::get_member(&ctx.db, &ctx.cipher, mid).await? {
                Some(m) => {
                    let full = scope.access(&m).unmasked() || p.covers(PARTY_ROLES, &r.org_path);
                    (
                        if full {
                            m.profile.name.clone()
                        } else {
                            kernel::mask::name(&m.profile.name)
                        },
                        r.role == ButlerRole::Butler,
                    )
                }
                None => (String::new(), false),
            },
            None => (r.user_name.clone().unwrap_or_default(), false),
        };
        out.push(ButlerView {
            id: r.id,
            building_id: r.building_id,
            building_name: r.building_name,
            role: r.role,
            role_label: r.role.label_zh(),
            name,
            red,
            member_id: r.member_id,
            duty: r.duty,
            started_on: r.started_on,
        });
    }
    Ok(out)
}

pub async fn end_butler(ctx: &Ctx, p: &Principal, id: &str, b: &EndBody) -> AppResult<()> {
    let id = parse_uuid(id).ok_or(AppError::NotFound)?;
    let (path, started) = store::butler_path(&ctx.db, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    let readers: Vec<Role> = PARTY_ROLES.iter().chain(OVERSEERS).copied().collect();
    p.can_act(PARTY_ROLES, &path, p.covers(&readers, &path))?;
    let on =
        model::parse_date(&b.ended_on, "离岗日期").map_err(|m| AppError::field("ended_on", m))?;
    let start = model::parse_date(&started, "").unwrap_or_else(|_| model::founding());
    model::check_end(start, on, today(ctx)).map_err(|m| AppError::field("ended_on", m))?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    if !store::end_butler(&mut tx, &id, &model::fmt_date(on)).await? {
        return Err(AppError::conflict("already_ended", "该名册记录已结束"));
    }
    audit_tx(
        &mut tx,
        ctx,
        p,
        "party_roster_ended",
        "party_roster",
        &id,
        path.as_str(),
        json!({}),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppointmentBody {
    /// The branch that records it.
    pub org_id: String,
    pub member_id: String,
    pub compound_id: String,
    #[schema(value_type = model::CrossBody)]
    pub body: String,
    #[schema(value_type = model::CrossDirection)]
    pub direction: String,
    pub position: String,
    pub started_on: String,
}

/// 双向进入、交叉任职: a member of the branch serves in the compound's
/// owners' committee or property company, or one of theirs serves on the
/// branch committee. The compound lies in the branch's area; one active
/// appointment per member, compound and body.
pub async fn add_appointment(
    ctx: &Ctx,
    p: &Principal,
    b: &AppointmentBody,
) -> AppResult<AppointmentView> {
    let scope = scope_of(ctx, p).await?;
    let o = body_org(ctx, &scope, &b.org_id, "org_id", "党组织").await?;
    let mut e = FieldErrors::new();
    let new = match model::validate_appointment(
        &b.body,
        &b.direction,
        &b.position,
        &b.started_on,
        today(ctx),
    ) {
        Ok(n) => Some(n),
        Err(f) => {
            e = f;
            None
        }
    };
    let member = match visible_member(ctx, &scope, &b.member_id).await {
        Ok((m, a)) if a.unmasked() && belongs(ctx, &m, &o).await? => Some(m),
        _ => {
            e.add("member_id", "该党员不是本组织的党员");
            None
        }
    };
    let compound = match node_by_id(ctx, &b.compound_id).await? {
        Some(n)
            if n.kind == org::model::OrgKind::Compound
                && o.area_paths().iter().any(|a| {
                    n.org_path.as_str().starts_with(a.as_str())
                        || a.starts_with(n.org_path.as_str())
                }) =>
        {
            Some(n)
        }
        _ => {
            e.add("compound_id", "小区不存在或不在本组织范围内");
            None
        }
    };
    e.check()?;
    let (new, member, compound) = (
        new.expect("checked"),
        member.expect("checked"),
        compound.expect("checked"),
    );
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    if store::active_appointment_exists(&mut tx, &member.id, &compound.id, new.body).await? {
        return Err(AppError::conflict(
            "already_appointed",
            "该党员已在该机构任职",
        ));
    }
    let on = model::fmt_date(new.started_on);
    let id = store::insert_appointment(
        &mut tx,
        &store::AppointmentInsert {
            org: &o,
            member_id: &member.id,
            compound: &compound,
            body: new.body,
            direction: new.direction,
            position: &new.position,
            started_on: &on,
            by: &p.user_id,
        },
        now,
    )
    .await?;
    audit_tx(
        &mut tx,
        ctx,
        p,
        "party_appointment_added",
        "party_org",
        &o.id,
        o.org_path.as_str(),
        json!({"appointment": id, "body": new.body.as_str(), "direction": new.direction.as_str()}),
        now,
    )
    .await?;
    tx.commit().await?;
    let row = store::get_appointment(&ctx.db, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(appointment_view(row, member.profile.name))
}

pub async fn appointment_views(
    ctx: &Ctx,
    scope: &Scope,
    org_ids: &[String],
) -> AppResult<Vec<AppointmentView>> {
    let mut out = Vec::new();
    for a in store::appointments_of_orgs(&ctx.db, org_ids).await? {
        let name = match store::get_member(&ctx.db, &ctx.cipher, &a.member_id).await? {
            Some(m) if scope.manages(&a.party_org_id) || scope.access(&m).unmasked() => {
                m.profile.name
            }
            Some(m) => kernel::mask::name(&m.profile.name),
            None => String::new(),
        };
        out.push(appointment_view(a, name));
    }
    Ok(out)
}

pub async fn end_appointment(ctx: &Ctx, p: &Principal, id: &str, b: &EndBody) -> AppResult<()> {
    let scope = scope_of(ctx, p).await?;
    let id = parse_uuid(id).ok_or(AppError::NotFound)?;
    let a = store::get_appointment(&ctx.db, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    let o = managed_org(ctx, &scope, &a.party_org_id).await?;
    let on =
        model::parse_date(&b.ended_on, "卸任日期").map_err(|m| AppError::field("ended_on", m))?;
    let start = model::parse_date(&a.started_on, "").unwrap_or_else(|_| model::founding());
    model::check_end(start, on, today(ctx)).map_err(|m| AppError::field("ended_on", m))?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    if !store::end_appointment(&mut tx, &id, &model::fmt_date(on)).await? {
        return Err(AppError::conflict("already_ended", "该任职已结束"));
    }
    audit_tx(
        &mut tx,
        ctx,
        p,
        "party_appointment_ended",
        "party_org",
        &o.id,
        o.org_path.as_str(),
        json!({"appointment": id}),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

// ================================================================ activities

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityBody {
    pub org_id: String,
    #[schema(value_type = ActivityKind)]
    pub kind: String,
    pub title: String,
    #[serde(default)]
    pub theme: Option<String>,
    pub held_at: String,
    pub place: String,
    #[serde(default)]
    pub minutes: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityItem {
    pub id: String,
    pub org: OrgBrief,
    pub kind: ActivityKind,
    pub kind_label: &'static str,
    pub title: String,
    pub theme: Option<String>,
    pub held_at: String,
    pub place: String,
    pub present: i64,
    pub expected: i64,
    /// The number of photos (the detail lists them as `photos`).
    pub photo_count: i64,
    pub version: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttendanceView {
    pub member_id: String,
    pub name: String,
    pub status: AttendanceStatus,
    pub status_label: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PhotoView {
    pub id: String,
    pub filename: String,
    pub mime: String,
    pub size: i64,
    pub url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityDetail {
    #[serde(flatten)]
    pub item: ActivityItem,
    /// Minutes and names for those who manage the organisation; overseers
    /// see the counts only.
    pub minutes: Option<String>,
    pub attendance: Vec<AttendanceView>,
    pub photos: Vec<PhotoView>,
    pub manage: bool,
}

pub async fn create_activity(
    ctx: &Ctx,
    p: &Principal,
    b: &ActivityBody,
) -> AppResult<store::ActivityRow> {
    let scope = scope_of(ctx, p).await?;
    let o = body_org(ctx, &scope, &b.org_id, "org_id", "党组织").await?;
    let new = model::validate_activity(
        &b.kind,
        &b.title,
        b.theme.as_deref(),
        &b.held_at,
        &b.place,
        b.minutes.as_deref(),
        o.kind,
        ctx.now_ms(),
    )
    .map_err(AppError::Validation)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let id = store::insert_activity(&mut tx, &o, &new, &p.user_id, now).await?;
    audit_tx(
        &mut tx,
        ctx,
        p,
        "party_activity_created",
        "party_activity",
        &id,
        o.org_path.as_str(),
        json!({"org": o.id, "kind": new.kind.as_str()}),
        now,
    )
    .await?;
    tx.commit().await?;
    store::get_activity(&ctx.db, &id)
        .await?
        .ok_or(AppError::NotFound)
}

/// An activity of an organisation the caller sees, with whether they manage it.
pub async fn visible_activity(
    ctx: &Ctx,
    scope: &Scope,
    id: &str,
) -> AppResult<(store::ActivityRow, bool)> {
    let id = parse_uuid(id).ok_or(AppError::NotFound)?;
    let a = store::get_activity(&ctx.db, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !scope.sees_org(&a.party_org_id) {
        return Err(AppError::NotFound);
    }
    let m = scope.manages(&a.party_org_id);
    Ok((a, m))
}

pub async fn activity_items(
    ctx: &Ctx,
    rows: Vec<store::ActivityRow>,
) -> AppResult<Vec<ActivityItem>> {
    let ids: Vec<String> = rows.iter().map(|a| a.id.clone()).collect();
    let att = store::attendance_of(&ctx.db, &ids).await?;
    let mut orgs: HashMap<String, OrgRow> = HashMap::new();
    let mut out = Vec::new();
    for a in rows {
        if !orgs.contains_key(&a.party_org_id) {
            if let Some(o) = store::get_org(&ctx.db, &a.party_org_id).await? {
                orgs.insert(o.id.clone(), o);
            }
        }
        let mine: Vec<&(String, String, AttendanceStatus)> =
            att.iter().filter(|x| x.0 == a.id).collect();
        let photos = store::photos_of(&ctx.db, &a.id).await?.len() as i64;
        out.push(ActivityItem {
            org: orgs
                .get(&a.party_org_id)
                .map(OrgBrief::from)
                .unwrap_or(OrgBrief {
                    id: a.party_org_id.clone(),
                    kind: PartyOrgKind::Branch,
                    kind_label: PartyOrgKind::Branch.label_zh(),
                    name: a.org_name.clone(),
                }),
            kind: a.kind,
            kind_label: a.kind.label_zh(),
            title: a.title,
            theme: a.theme,
            held_at: to_rfc3339(a.held_at),
            place: a.place,
            present: mine
                .iter()
                .filter(|x| x.2 == AttendanceStatus::Present)
                .count() as i64,
            expected: mine.len() as i64,
            photo_count: photos,
            version: a.version,
            id: a.id,
        });
    }
    Ok(out)
}

pub async fn activity_detail(
    ctx: &Ctx,
    a: store::ActivityRow,
    manage: bool,
) -> AppResult<ActivityDetail> {
    // Minutes name the members who spoke: overseers see that the meeting
    // was held and how many attended, not the record itself.
    let minutes = a.minutes.clone().filter(|_| manage);
    let id = a.id.clone();
    let mut attendance = Vec::new();
    if manage {
        for (_, mid, st) in store::attendance_of(&ctx.db, std::slice::from_ref(&id)).await? {
            let name = store::get_member(&ctx.db, &ctx.cipher, &mid)
                .await?
                .map(|m| m.profile.name)
                .unwrap_or_default();
            attendance.push(AttendanceView {
                member_id: mid,
                name,
                status: st,
                status_label: st.label_zh(),
            });
        }
    }
    let photos = if manage {
        store::photos_of(&ctx.db, &id)
            .await?
            .into_iter()
            .map(|ph| PhotoView {
                url: format!("/api/v1/party/activities/{id}/photos/{}", ph.id),
                id: ph.id,
                filename: ph.filename,
                mime: ph.mime,
                size: ph.size,
            })
            .collect()
    } else {
        vec![]
    };
    let item = activity_items(ctx, vec![a])
        .await?
        .pop()
        .ok_or(AppError::NotFound)?;
    Ok(ActivityDetail {
        item,
        minutes,
        attendance,
        photos,
        manage,
    })
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MinutesBody {
    pub minutes: String,
    #[serde(default)]
    pub version: Option<i64>,
}

pub async fn set_minutes(
    ctx: &Ctx,
    p: &Principal,
    id: &str,
    b: &MinutesBody,
) -> AppResult<store::ActivityRow> {
    let scope = scope_of(ctx, p).await?;
    let (a, manage) = visible_activity(ctx, &scope, id).await?;
    if !manage {
        return Err(AppError::Forbidden);
    }
    let minutes = text::multiline(&b.minutes, 0, model::MINUTES_MAX, "会议记录")
        .map_err(|m| AppError::field("minutes", m))?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    store::save_minutes(
        &mut tx,
        &a.id,
        Some(minutes.as_str()).filter(|m| !m.is_empty()),
        b.version.unwrap_or(a.version),
        now,
    )
    .await?;
    audit_tx(
        &mut tx,
        ctx,
        p,
        "party_minutes_saved",
        "party_activity",
        &a.id,
        a.org_path.as_str(),
        json!({"chars": minutes.chars().count()}),
        now,
    )
    .await?;
    tx.commit().await?;
    store::get_activity(&ctx.db, &a.id)
        .await?
        .ok_or(AppError::NotFound)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttendanceBody {
    pub entries: Vec<AttendanceInput>,
    #[serde(default)]
    pub version: Option<i64>,
}

/// The members who may attend an organisation's activity: its members
/// (home branch or group, a committee with its branches) and in-service
/// members registered at it.
pub async fn attendees_of(ctx: &Ctx, o: &OrgRow) -> AppResult<Vec<MemberRow>> {
    let sub = store::subtree_ids(&ctx.db, &o.id).await?;
    let mut all = store::members_of_orgs(&ctx.db, &ctx.cipher, &sub).await?;
    if o.kind == PartyOrgKind::Group {
        all.retain(|m| {
            m.group_id.as_deref() == Some(o.id.as_str())
                || m.reg_org_id.as_deref() == Some(o.id.as_str())
        });
    }
    Ok(all)
}

pub async fn set_attendance(
    ctx: &Ctx,
    p: &Principal,
    id: &str,
    b: &AttendanceBody,
) -> AppResult<ActivityDetail> {
    let scope = scope_of(ctx, p).await?;
    let (a, manage) = visible_activity(ctx, &scope, id).await?;
    if !manage {
        return Err(AppError::Forbidden);
    }
    let entries = model::validate_attendance(&b.entries).map_err(AppError::Validation)?;
    if !model::attendance_open(a.held_at, ctx.now_ms()) {
        return Err(AppError::conflict(
            "not_held_yet",
            "活动尚未举行,不能登记出勤",
        ));
    }
    if b.version.is_some_and(|v| v != a.version) {
        return Err(store::version_conflict());
    }
    let o = store::get_org(&ctx.db, &a.party_org_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let allowed: HashSet<String> = attendees_of(ctx, &o)
        .await?
        .into_iter()
        .map(|m| m.id)
        .collect();
    let strangers: Vec<usize> = entries
        .iter()
        .enumerate()
        .filter(|(_, (mid, _))| !allowed.contains(mid))
        .map(|(i, _)| i + 1)
        .collect();
    if !strangers.is_empty() {
        return Err(AppError::field(
            "entries",
            format!(
                "第 {} 条的党员不是本组织的党员",
                strangers
                    .iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join("、")
            ),
        ));
    }
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    store::replace_attendance(&mut tx, &a.id, &entries, a.version, now).await?;
    let present = entries
        .iter()
        .filter(|e| e.1 == AttendanceStatus::Present)
        .count();
    audit_tx(
        &mut tx,
        ctx,
        p,
        "party_attendance_recorded",
        "party_activity",
        &a.id,
        a.org_path.as_str(),
        json!({"expected": entries.len(), "present": present}),
        now,
    )
    .await?;
    tx.commit().await?;
    let a = store::get_activity(&ctx.db, &a.id)
        .await?
        .ok_or(AppError::NotFound)?;
    activity_detail(ctx, a, true).await
}

/// The image type by its first bytes (JPEG, PNG, WebP), not the client's word.
pub fn sniff(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if data.len() >= 12 && &data[0..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

pub async fn add_photo(
    ctx: &Ctx,
    p: &Principal,
    id: &str,
    name: &str,
    data: Vec<u8>,
) -> AppResult<PhotoView> {
    let scope = scope_of(ctx, p).await?;
    let (a, manage) = visible_activity(ctx, &scope, id).await?;
    if !manage {
        return Err(AppError::Forbidden);
    }
    if data.len() > PHOTO_MAX_BYTES {
        return Err(AppError::PayloadTooLarge);
    }
    let mime = sniff(&data)
        .ok_or_else(|| AppError::field("file", "只能上传 JPEG、PNG 或 WebP 格式的照片"))?;
    if store::photos_of(&ctx.db, &a.id).await?.len() >= PHOTOS_PER_ACTIVITY {
        return Err(AppError::conflict(
            "too_many_photos",
            "每次活动最多上传 9 张照片",
        ));
    }
    let filename: String = text::required(name, 1, 200, "文件名")
        .unwrap_or_else(|_| "photo".into())
        .chars()
        .filter(|c| !matches!(c, '/' | '\\' | '"' | '\r' | '\n'))
        .collect();
    let size = data.len() as i64;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let pid = store::insert_photo(&mut tx, &a, &filename, mime, data, &p.user_id, now).await?;
    audit_tx(
        &mut tx,
        ctx,
        p,
        "party_photo_added",
        "party_activity",
        &a.id,
        a.org_path.as_str(),
        json!({"photo": pid, "size": size, "mime": mime}),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(PhotoView {
        url: format!("/api/v1/party/activities/{}/photos/{pid}", a.id),
        id: pid,
        filename,
        mime: mime.into(),
        size,
    })
}

// ================================================================ tasks and volunteer service

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskBody {
    pub org_id: String,
    pub title: String,
    pub description: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskView {
    pub id: String,
    pub org: OrgBriefName,
    pub title: String,
    pub description: String,
    pub open: bool,
    pub claimed_by: Vec<String>,
    pub created_at: String,
}

/// A community service task (for 双报到 members and the branch's own) of a
/// branch or committee the caller manages.
pub async fn create_task(ctx: &Ctx, p: &Principal, b: &TaskBody) -> AppResult<store::TaskRow> {
    let scope = scope_of(ctx, p).await?;
    let o = body_org(ctx, &scope, &b.org_id, "org_id", "党组织").await?;
    let mut e = FieldErrors::new();
    if o.kind == PartyOrgKind::Group {
        e.add("org_id", "服务任务由党支部或社区党委发布");
    }
    let title = e.take(
        "title",
        text::required(&b.title, 2, model::TITLE_MAX, "任务名称"),
    );
    let description = e.take(
        "description",
        text::multiline(&b.description, 2, model::DESCRIPTION_MAX, "任务内容"),
    );
    e.check()?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let id = store::insert_task(
        &mut tx,
        &o,
        &title.expect("checked"),
        &description.expect("checked"),
        &p.user_id,
        now,
    )
    .await?;
    audit_tx(
        &mut tx,
        ctx,
        p,
        "party_task_created",
        "party_task",
        &id,
        o.org_path.as_str(),
        json!({"org": o.id}),
        now,
    )
    .await?;
    tx.commit().await?;
    store::get_task(&ctx.db, &id)
        .await?
        .ok_or(AppError::NotFound)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimBody {
    /// The member (staff assigning); the caller's own record when omitted.
    #[serde(default)]
    pub member_id: Option<String>,
}

/// Is this organisation the member's home branch, group or registration?
fn serves_at(m: &MemberRow, org_id: &str) -> bool {
    m.branch_id == org_id
        || m.group_id.as_deref() == Some(org_id)
        || m.reg_org_id.as_deref() == Some(org_id)
}

async fn own_member(ctx: &Ctx, p: &Principal) -> AppResult<Option<MemberRow>> {
    Ok(store::members_of_user(&ctx.db, &ctx.cipher, &p.user_id)
        .await?
        .into_iter()
        .next())
}

pub async fn claim_task(ctx: &Ctx, p: &Principal, id: &str, b: &ClaimBody) -> AppResult<TaskView> {
    let scope = scope_of(ctx, p).await?;
    let tid = parse_uuid(id).ok_or(AppError::NotFound)?;
    let t = store::get_task(&ctx.db, &tid)
        .await?
        .ok_or(AppError::NotFound)?;
    let member = match blank(&b.member_id) {
        Some(mid) => {
            if !scope.sees_org(&t.party_org_id) {
                return Err(AppError::NotFound);
            }
            if !scope.manages(&t.party_org_id) {
                return Err(AppError::Forbidden);
            }
            match visible_member(ctx, &scope, mid).await {
                Ok((m, a)) if a.unmasked() => m,
                _ => return Err(AppError::field("member_id", "党员不存在")),
            }
        }
        None => match own_member(ctx, p).await? {
            Some(m) if serves_at(&m, &t.party_org_id) || scope.sees_org(&t.party_org_id) => m,
            _ => return Err(AppError::NotFound),
        },
    };
    if !serves_at(&member, &t.party_org_id) {
        return Err(AppError::field(
            "member_id",
            "只有本支部党员或在此报到的党员可以认领该任务",
        ));
    }
    if !t.open {
        return Err(AppError::conflict("task_closed", "该任务已关闭"));
    }
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    if !store::claim_task(&mut tx, &t.id, &member.id, now).await? {
        return Err(AppError::conflict("already_claimed", "该党员已认领此任务"));
    }
    let o = store::get_org(&ctx.db, &t.party_org_id)
        .await?
        .ok_or(AppError::NotFound)?;
    audit_tx(
        &mut tx,
        ctx,
        p,
        "party_task_claimed",
        "party_task",
        &t.id,
        o.org_path.as_str(),
        json!({"member": member.id}),
        now,
    )
    .await?;
    tx.commit().await?;
    task_views(ctx, &scope, vec![t])
        .await?
        .pop()
        .ok_or(AppError::NotFound)
}

pub async fn task_views(
    ctx: &Ctx,
    scope: &Scope,
    rows: Vec<store::TaskRow>,
) -> AppResult<Vec<TaskView>> {
    let ids: Vec<String> = rows.iter().map(|t| t.id.clone()).collect();
    let claims = store::claims_of_tasks(&ctx.db, &ids).await?;
    let mut out = Vec::new();
    for t in rows {
        let mut names = Vec::new();
        for (_, mid) in claims.iter().filter(|c| c.0 == t.id) {
            if let Some(m) = store::get_member(&ctx.db, &ctx.cipher, mid).await? {
                names.push(
                    if scope.access(&m).unmasked() || scope.manages(&t.party_org_id) {
                        m.profile.name
                    } else {
                        kernel::mask::name(&m.profile.name)
                    },
                );
            }
        }
        out.push(TaskView {
            id: t.id,
            org: OrgBriefName {
                id: Some(t.party_org_id),
                name: t.org_name,
            },
            title: t.title,
            description: t.description,
            open: t.open,
            claimed_by: names,
            created_at: to_rfc3339(t.created_at),
        });
    }
    Ok(out)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceBody {
    pub member_id: String,
    /// The organisation served (the member's home branch or where they
    /// registered); from the task, or the caller's organisation, if omitted.
    #[serde(default)]
    pub org_id: Option<String>,
    #[serde(default)]
    pub task_id: Option<String>,
    pub served_on: String,
    pub hours: f64,
    pub description: String,
}

/// Records volunteer service, pending until the branch served verifies it.
/// Recorded by that branch, by the home branch, or reported by the member.
pub async fn record_service(ctx: &Ctx, p: &Principal, b: &ServiceBody) -> AppResult<ServiceView> {
    let scope = scope_of(ctx, p).await?;
    let (m, a) = visible_member(ctx, &scope, &b.member_id).await?;
    if !a.record_service() {
        return Err(AppError::Forbidden);
    }
    let mut e = FieldErrors::new();
    let new = match model::validate_service(&b.served_on, b.hours, &b.description, today(ctx)) {
        Ok(n) => Some(n),
        Err(f) => {
            e = f;
            None
        }
    };
    let task = match blank(&b.task_id) {
        Some(tid) => match parse_uuid(tid) {
            Some(tid) => match store::get_task(&ctx.db, &tid).await? {
                Some(t) if serves_at(&m, &t.party_org_id) => Some(t),
                _ => {
                    e.add("task_id", "服务任务不存在或不是该党员所在组织的任务");
                    None
                }
            },
            None => {
                e.add("task_id", "服务任务不存在或不是该党员所在组织的任务");
                None
            }
        },
        None => None,
    };
    // The organisation served: named, the task's, else where the caller
    // stands (a registration branch records service done there).
    let org_id = blank(&b.org_id)
        .and_then(parse_uuid)
        .or_else(|| task.as_ref().map(|t| t.party_org_id.clone()))
        .or_else(|| m.reg_org_id.clone().filter(|r| scope.manages(r)))
        .unwrap_or_else(|| m.branch_id.clone());
    if !(m.branch_id == org_id || m.reg_org_id.as_deref() == Some(org_id.as_str())) {
        e.add("org_id", "服务记录应记在党员所在党支部或双报到的组织");
    }
    if task.as_ref().is_some_and(|t| t.party_org_id != org_id) {
        e.add("task_id", "服务任务不属于所记的组织");
    }
    e.check()?;
    if !(scope.manages(&org_id) || a.home || a.own) {
        return Err(AppError::Forbidden);
    }
    let o = store::get_org(&ctx.db, &org_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let new = new.expect("checked");
    let self_report = a.own && !scope.manages(&org_id) && !a.home;
    let now = ctx.now_ms();
    let on = model::fmt_date(new.served_on);
    let mut tx = ctx.db.begin().await?;
    let id = store::insert_service(
        &mut tx,
        &store::ServiceInsert {
            member_id: &m.id,
            org: &o,
            task_id: task.as_ref().map(|t| t.id.as_str()),
            served_on: &on,
            minutes: new.minutes,
            description: &new.description,
            channel: if self_report { "self" } else { "branch" },
            recorded_by: (!self_report).then_some(p.user_id.as_str()),
        },
        now,
    )
    .await?;
    audit_tx(
        &mut tx,
        ctx,
        p,
        "party_service_recorded",
        "party_volunteer",
        &id,
        o.org_path.as_str(),
        json!({"member": m.id, "minutes": new.minutes}),
        now,
    )
    .await?;
    tx.commit().await?;
    let row = store::get_service(&ctx.db, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(service_view(row, &m, &scope, a))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideBody {
    pub approve: bool,
    #[serde(default)]
    pub version: Option<i64>,
}

/// The branch served verifies (or turns down) a pending record; a member
/// never verifies their own.
pub async fn decide_service(
    ctx: &Ctx,
    p: &Principal,
    id: &str,
    b: &DecideBody,
) -> AppResult<ServiceView> {
    let scope = scope_of(ctx, p).await?;
    let sid = parse_uuid(id).ok_or(AppError::NotFound)?;
    let s = store::get_service(&ctx.db, &sid)
        .await?
        .ok_or(AppError::NotFound)?;
    let m = store::get_member(&ctx.db, &ctx.cipher, &s.member_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let a = scope.access(&m);
    if !(scope.sees_org(&s.party_org_id) || a.unmasked()) {
        return Err(AppError::NotFound);
    }
    if !scope.manages(&s.party_org_id) || a.own {
        return Err(AppError::Forbidden);
    }
    if !model::verify_allowed(s.status) {
        return Err(AppError::conflict("already_decided", "该服务记录已核实过"));
    }
    if b.version.is_some_and(|v| v != s.version) {
        return Err(store::version_conflict());
    }
    let (status, points) = if b.approve {
        (VolunteerStatus::Verified, model::points_for(s.minutes))
    } else {
        (VolunteerStatus::Rejected, 0)
    };
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    store::decide_service(&mut tx, &s.id, status, points, &p.user_id, s.version, now).await?;
    audit_tx(
        &mut tx,
        ctx,
        p,
        "party_service_decided",
        "party_volunteer",
        &s.id,
        s.org_path.as_str(),
        json!({"status": status.as_str(), "points": points}),
        now,
    )
    .await?;
    tx.commit().await?;
    let row = store::get_service(&ctx.db, &s.id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(service_view(row, &m, &scope, a))
}

// ================================================================ statistics

#[derive(Debug, Serialize, ToSchema)]
pub struct ComplianceItem {
    pub kind: ActivityKind,
    pub kind_label: &'static str,
    pub held: i64,
    pub required: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BranchStats {
    pub org: OrgBrief,
    #[serde(flatten)]
    pub stats: PartyStats,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatsView {
    pub org: OrgBrief,
    pub from: String,
    pub to: String,
    #[serde(flatten)]
    pub stats: PartyStats,
    /// 三会一课 of this organisation in the quarter of `to`.
    pub quarter_from: String,
    pub quarter_to: String,
    pub three_meetings: Vec<ComplianceItem>,
    /// Each organisation under it (a committee's branches, a branch's groups).
    pub parts: Vec<BranchStats>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// First day, `YYYY-MM-DD` (default: 1 January of this year).
    #[param(format = Date)]
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD` (default: 31 December of this year).
    #[param(format = Date)]
    pub to: Option<String>,
}

/// Statistics of an organisation and everything under it, for the party
/// roles and overseers over it (numbers only — no names).
pub async fn stats(
    ctx: &Ctx,
    p: &Principal,
    org_id: &str,
    q: &PeriodQuery,
) -> AppResult<StatsView> {
    let scope = scope_of(ctx, p).await?;
    let o = visible_org(ctx, &scope, org_id).await?;
    let (from, to) = model::parse_period(q.from.as_deref(), q.to.as_deref(), today(ctx))
        .map_err(AppError::Validation)?;
    let sub = store::subtree_ids(&ctx.db, &o.id).await?;
    let day_ms = |d: NaiveDate| kernel::clock::day_start_ms(&model::fmt_date(d)).unwrap_or(0);
    let members = store::members_of_orgs(&ctx.db, &ctx.cipher, &sub).await?;
    let floating: Vec<String> = members
        .iter()
        .filter(|m| m.mode == ManagementMode::Floating)
        .map(|m| m.id.clone())
        .collect();
    let last = store::last_checkins(&ctx.db, &floating).await?;
    let t = today(ctx);
    let stat_members: Vec<model::StatMember> = members
        .iter()
        .map(|m| model::StatMember {
            id: m.id.clone(),
            // A member in a group counts for the group too.
            branch_id: m.branch_id.clone(),
            reg_org_id: m.reg_org_id.clone(),
            mode: m.mode,
            status: m.profile.status(),
            floating_overdue: m.mode == ManagementMode::Floating
                && model::contact_overdue(
                    last.get(&m.id).map(|ms| model::day_of(*ms)),
                    m.profile
                        .away_since
                        .as_deref()
                        .and_then(|d| model::parse_date(d, "").ok()),
                    t,
                ),
        })
        .collect();
    let service: Vec<model::StatService> = store::list_service(
        &ctx.db,
        &store::ServiceFilter {
            orgs: sub.clone(),
            from: Some(model::fmt_date(from)),
            to: Some(model::fmt_date(to)),
            limit: 1_000_000,
            ..Default::default()
        },
    )
    .await?
    .into_iter()
    .map(|s| model::StatService {
        party_org_id: s.party_org_id,
        member_id: s.member_id,
        minutes: s.minutes,
        status: s.status,
    })
    .collect();
    let end_ms = day_ms(to.succ_opt().unwrap_or(to));
    let acts = store::activities_of(&ctx.db, &sub, day_ms(from), end_ms, 1_000_000).await?;
    let act_ids: Vec<String> = acts.iter().map(|a| a.id.clone()).collect();
    let attendance: Vec<(String, AttendanceStatus)> = store::attendance_of(&ctx.db, &act_ids)
        .await?
        .into_iter()
        .map(|(a, _, s)| (a, s))
        .collect();
    let stat_acts: Vec<model::StatActivity> = acts
        .iter()
        .map(|a| model::StatActivity {
            id: a.id.clone(),
            party_org_id: a.party_org_id.clone(),
            kind: a.kind,
        })
        .collect();
    let all: HashSet<String> = sub.iter().cloned().collect();
    let total = model::compute_stats(&all, &stat_members, &service, &stat_acts, &attendance);
    // Groups hold no members' relation; count a group's members by group.
    let group_members = |gid: &str| -> Vec<model::StatMember> {
        members
            .iter()
            .zip(stat_members.iter())
            .filter(|(m, _)| m.group_id.as_deref() == Some(gid))
            .map(|(_, s)| model::StatMember {
                branch_id: gid.to_string(),
                ..s.clone()
            })
            .collect()
    };
    let mut parts = Vec::new();
    for child in store::orgs_by_ids(&ctx.db, &sub).await? {
        if child.parent_id.as_deref() != Some(o.id.as_str()) {
            continue;
        }
        let child_sub: HashSet<String> = store::subtree_ids(&ctx.db, &child.id)
            .await?
            .into_iter()
            .collect();
        let s = if child.kind == PartyOrgKind::Group {
            model::compute_stats(
                &child_sub,
                &group_members(&child.id),
                &service,
                &stat_acts,
                &attendance,
            )
        } else {
            model::compute_stats(&child_sub, &stat_members, &service, &stat_acts, &attendance)
        };
        parts.push(BranchStats {
            org: (&child).into(),
            stats: s,
        });
    }
    // 三会一课 of the organisation itself in the quarter of `to`.
    let (qf, qt) = model::quarter_of(to);
    let q_acts = store::activities_of(
        &ctx.db,
        std::slice::from_ref(&o.id),
        day_ms(qf),
        day_ms(qt.succ_opt().unwrap_or(qt)),
        10_000,
    )
    .await?;
    let mut held: HashMap<ActivityKind, i64> = HashMap::new();
    for a in &q_acts {
        *held.entry(a.kind).or_default() += 1;
    }
    let three_meetings = model::quarter_compliance(o.kind, &held)
        .into_iter()
        .map(|(k, h, r)| ComplianceItem {
            kind: k,
            kind_label: k.label_zh(),
            held: h,
            required: r,
        })
        .collect();
    Ok(StatsView {
        org: (&o).into(),
        from: model::fmt_date(from),
        to: model::fmt_date(to),
        stats: total,
        quarter_from: model::fmt_date(qf),
        quarter_to: model::fmt_date(qt),
        three_meetings,
        parts,
    })
}

// ================================================================ the caller's own membership

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = PartyMe)]
pub struct MeView {
    pub members: Vec<MemberDetail>,
    /// Open service tasks of the member's organisations.
    pub open_tasks: Vec<TaskView>,
}

pub async fn me(ctx: &Ctx, p: &Principal) -> AppResult<MeView> {
    let scope = scope_of(ctx, p).await?;
    let mut members = Vec::new();
    let mut org_ids = Vec::new();
    for m in store::members_of_user(&ctx.db, &ctx.cipher, &p.user_id).await? {
        let a = scope.access(&m);
        org_ids.extend(
            [Some(m.branch_id.clone()), m.reg_org_id.clone()]
                .into_iter()
                .flatten(),
        );
        members.push(member_detail(ctx, p, &scope, &m, a).await?);
    }
    let tasks = store::tasks_of(&ctx.db, &org_ids)
        .await?
        .into_iter()
        .filter(|t| t.open)
        .collect();
    Ok(MeView {
        members,
        open_tasks: task_views(ctx, &scope, tasks).await?,
    })
}

// ================================================================ handlers

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct KindQuery {
    #[param(value_type = Option<PartyOrgKind>)]
    kind: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/party/orgs",
    operation_id = "party_list_orgs",
    tag = "party",
    summary = "党组织列表",
    params(KindQuery),
    responses(
        (status = 200, description = "可见的党组织", body = Page<OrgView>),
        QueryErrors, Unauthorized,
    ),
    security(("bearer" = [])),
)]
async fn list_orgs_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<KindQuery>,
) -> AppResult<JsonOut<Page<OrgView>>> {
    let scope = scope_of(&ctx, &p).await?;
    let kind =
        match q.kind.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(k) => Some(PartyOrgKind::parse(k).ok_or_else(|| {
                AppError::field("kind", "组织类型应为 committee、branch 或 group")
            })?),
        };
    let items = store::orgs_by_ids(&ctx.db, &scope.all_visible())
        .await?
        .iter()
        .filter(|o| kind.is_none_or(|k| o.kind == k))
        .map(|o| org_view(o, &scope))
        .collect();
    Ok(JsonOut(Page {
        items,
        next_cursor: None,
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/party/orgs",
    operation_id = "party_create_org",
    tag = "party",
    summary = "新建党组织",
    request_body = NewOrgBody,
    responses(
        (status = 201, description = "新党组织", body = OrgView),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn create_org_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Json(b): Json<NewOrgBody>,
) -> AppResult<(StatusCode, JsonOut<OrgView>)> {
    let o = create_org(&ctx, &p, &b).await?;
    let scope = scope_of(&ctx, &p).await?;
    Ok((StatusCode::CREATED, JsonOut(org_view(&o, &scope))))
}

#[utoipa::path(
    get,
    path = "/api/v1/party/orgs/{id}",
    operation_id = "party_org_detail",
    tag = "party",
    summary = "党组织详情",
    params(("id" = String, Path, description = "党组织编号")),
    responses(
        (status = 200, description = "党组织及其班子、下级", body = OrgDetail),
        Unauthorized, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn org_detail_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<JsonOut<OrgDetail>> {
    let scope = scope_of(&ctx, &p).await?;
    let o = visible_org(&ctx, &scope, &id).await?;
    Ok(JsonOut(org_detail(&ctx, &scope, &o).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/party/orgs/{id}/officers",
    operation_id = "party_add_officer",
    tag = "party",
    summary = "任命班子成员",
    params(("id" = String, Path, description = "党组织编号")),
    request_body = OfficerBody,
    responses(
        (status = 201, description = "任职", body = OfficerView),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn add_officer_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<OfficerBody>,
) -> AppResult<(StatusCode, JsonOut<OfficerView>)> {
    Ok((
        StatusCode::CREATED,
        JsonOut(add_officer(&ctx, &p, &id, &b).await?),
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/party/officers/{id}/end",
    operation_id = "party_end_officer",
    tag = "party",
    summary = "免去职务",
    params(("id" = String, Path, description = "任职编号")),
    request_body = EndBody,
    responses(
        (status = 204, description = "已离任"),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn end_officer_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<EndBody>,
) -> AppResult<StatusCode> {
    end_officer(&ctx, &p, &id, &b).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    put,
    path = "/api/v1/party/orgs/{id}/service-centre",
    operation_id = "party_set_centre",
    tag = "party",
    summary = "设置党群服务中心",
    params(("id" = String, Path, description = "党组织编号")),
    request_body = CentreBody,
    responses(
        (status = 200, description = "服务中心", body = CentreView),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn set_centre_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<CentreBody>,
) -> AppResult<JsonOut<CentreView>> {
    Ok(JsonOut(set_centre(&ctx, &p, &id, &b).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/party/orgs/{id}/stats",
    operation_id = "party_stats",
    tag = "party",
    summary = "党建统计",
    params(("id" = String, Path, description = "党组织编号"), PeriodQuery),
    responses(
        (status = 200, description = "统计(仅数字)", body = StatsView),
        QueryErrors, Unauthorized, Forbidden, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn stats_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Query(q): Query<PeriodQuery>,
) -> AppResult<JsonOut<StatsView>> {
    Ok(JsonOut(stats(&ctx, &p, &id, &q).await?))
}

/// Transfers in and out of an organisation: the history stays with the
/// branch a member left (names for those who manage it).
#[utoipa::path(
    get,
    path = "/api/v1/party/orgs/{id}/transfers",
    operation_id = "party_org_transfers",
    tag = "party",
    summary = "组织关系转接记录",
    params(("id" = String, Path, description = "党组织编号")),
    responses(
        (status = 200, description = "转入转出", body = Page<TransferView>),
        Unauthorized, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn org_transfers_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<JsonOut<Page<TransferView>>> {
    let scope = scope_of(&ctx, &p).await?;
    let o = visible_org(&ctx, &scope, &id).await?;
    let manage = scope.manages(&o.id);
    let mut items = Vec::new();
    for t in store::transfers_of_org(&ctx.db, &ctx.cipher, &o.id).await? {
        let name = store::get_member(&ctx.db, &ctx.cipher, &t.member_id)
            .await?
            .map(|m| {
                if manage {
                    m.profile.name
                } else {
                    kernel::mask::name(&m.profile.name)
                }
            });
        let mut v = transfer_view(t, name);
        if !manage {
            v.reason = None;
        }
        items.push(v);
    }
    Ok(JsonOut(Page {
        items,
        next_cursor: None,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/party/members",
    operation_id = "party_list_members",
    tag = "party",
    summary = "党员列表",
    params(MemberQuery),
    responses(
        (status = 200, description = "一页党员", body = Page<MemberView>),
        QueryErrors, Unauthorized, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn list_members_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<MemberQuery>,
) -> AppResult<JsonOut<Page<MemberView>>> {
    Ok(JsonOut(list_members(&ctx, &p, &q).await?.0))
}

#[utoipa::path(
    post,
    path = "/api/v1/party/members",
    operation_id = "party_create_member",
    tag = "party",
    summary = "登记党员",
    request_body = NewMemberBody,
    responses(
        (status = 201, description = "新党员", body = MemberDetail),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn create_member_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Json(b): Json<NewMemberBody>,
) -> AppResult<(StatusCode, JsonOut<MemberDetail>)> {
    let m = create_member(&ctx, &p, &b).await?;
    let scope = scope_of(&ctx, &p).await?;
    let a = scope.access(&m);
    Ok((
        StatusCode::CREATED,
        JsonOut(member_detail(&ctx, &p, &scope, &m, a).await?),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/party/members/{id}",
    operation_id = "party_member_detail",
    tag = "party",
    summary = "党员详情",
    params(("id" = String, Path, description = "党员编号")),
    responses(
        (status = 200, description = "党员(对监督者脱敏)", body = MemberDetail),
        Unauthorized, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn member_detail_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<JsonOut<MemberDetail>> {
    let scope = scope_of(&ctx, &p).await?;
    let (m, a) = visible_member(&ctx, &scope, &id).await?;
    Ok(JsonOut(member_detail(&ctx, &p, &scope, &m, a).await?))
}

async fn detail_after(ctx: &Ctx, p: &Principal, m: MemberRow) -> AppResult<JsonOut<MemberDetail>> {
    let scope = scope_of(ctx, p).await?;
    let a = scope.access(&m);
    if !a.visible() {
        // Transferred out of the caller's reach: the history is on the
        // branch's transfers list; answer with the masked record.
        let masked = MemberAccess {
            overseer: true,
            ..Default::default()
        };
        return Ok(JsonOut(member_detail(ctx, p, &scope, &m, masked).await?));
    }
    Ok(JsonOut(member_detail(ctx, p, &scope, &m, a).await?))
}

#[utoipa::path(
    patch,
    path = "/api/v1/party/members/{id}",
    operation_id = "party_update_member",
    tag = "party",
    summary = "修改党员信息",
    params(("id" = String, Path, description = "党员编号")),
    request_body = PatchMemberBody,
    responses(
        (status = 200, description = "修改后的党员", body = MemberDetail),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn update_member_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<PatchMemberBody>,
) -> AppResult<JsonOut<MemberDetail>> {
    let m = update_member(&ctx, &p, &id, &b).await?;
    detail_after(&ctx, &p, m).await
}

#[utoipa::path(
    post,
    path = "/api/v1/party/members/{id}/status",
    operation_id = "party_status",
    tag = "party",
    summary = "发展阶段(预备、转正)",
    params(("id" = String, Path, description = "党员编号")),
    request_body = StatusBody,
    responses(
        (status = 200, description = "修改后的党员", body = MemberDetail),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn status_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<StatusBody>,
) -> AppResult<JsonOut<MemberDetail>> {
    let m = change_status(&ctx, &p, &id, &b).await?;
    detail_after(&ctx, &p, m).await
}

#[utoipa::path(
    post,
    path = "/api/v1/party/members/{id}/transfer",
    operation_id = "party_transfer",
    tag = "party",
    summary = "转接组织关系",
    params(("id" = String, Path, description = "党员编号")),
    request_body = TransferBody,
    responses(
        (status = 200, description = "转接后的党员", body = MemberDetail),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn transfer_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<TransferBody>,
) -> AppResult<JsonOut<MemberDetail>> {
    let m = transfer(&ctx, &p, &id, &b).await?;
    detail_after(&ctx, &p, m).await
}

#[utoipa::path(
    post,
    path = "/api/v1/party/members/{id}/registration",
    operation_id = "party_register",
    tag = "party",
    summary = "双报到",
    params(("id" = String, Path, description = "党员编号")),
    request_body = RegistrationBody,
    responses(
        (status = 200, description = "报到后的党员", body = MemberDetail),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn register_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<RegistrationBody>,
) -> AppResult<JsonOut<MemberDetail>> {
    let m = register(&ctx, &p, &id, &b).await?;
    detail_after(&ctx, &p, m).await
}

#[utoipa::path(
    delete,
    path = "/api/v1/party/members/{id}/registration",
    operation_id = "party_unregister",
    tag = "party",
    summary = "取消双报到",
    params(("id" = String, Path, description = "党员编号")),
    responses(
        (status = 200, description = "取消后的党员", body = MemberDetail),
        Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn unregister_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<JsonOut<MemberDetail>> {
    let m = unregister(&ctx, &p, &id).await?;
    detail_after(&ctx, &p, m).await
}

#[utoipa::path(
    get,
    path = "/api/v1/party/members/{id}/checkins",
    operation_id = "party_checkins",
    tag = "party",
    summary = "流动党员报到记录",
    params(("id" = String, Path, description = "党员编号")),
    responses(
        (status = 200, description = "最近 100 条", body = Page<CheckinView>),
        Unauthorized, Forbidden, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn checkins_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<JsonOut<Page<CheckinView>>> {
    let scope = scope_of(&ctx, &p).await?;
    let (m, a) = visible_member(&ctx, &scope, &id).await?;
    if !a.unmasked() {
        return Err(AppError::Forbidden);
    }
    let items = store::checkins_of(&ctx.db, &ctx.cipher, &m.id, 100)
        .await?
        .into_iter()
        .map(CheckinView::from)
        .collect();
    Ok(JsonOut(Page {
        items,
        next_cursor: None,
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/party/members/{id}/checkins",
    operation_id = "party_checkin",
    tag = "party",
    summary = "流动党员报到",
    params(("id" = String, Path, description = "党员编号")),
    request_body = CheckinBody,
    responses(
        (status = 201, description = "报到", body = CheckinView),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn checkin_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<CheckinBody>,
) -> AppResult<(StatusCode, JsonOut<CheckinView>)> {
    Ok((
        StatusCode::CREATED,
        JsonOut(add_checkin(&ctx, &p, &id, &b).await?),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/party/me",
    operation_id = "party_me",
    tag = "party",
    summary = "我的党员信息",
    responses(
        (status = 200, description = "本人的党员记录和待认领任务", body = MeView),
        Unauthorized,
    ),
    security(("bearer" = [])),
)]
async fn me_h(State(ctx): State<Ctx>, Auth(p): Auth) -> AppResult<JsonOut<MeView>> {
    Ok(JsonOut(me(&ctx, &p).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct OrgNodeQuery {
    /// An org node (compound, building) to narrow to; the caller's scope otherwise.
    org: Option<String>,
}

async fn roster_roots(ctx: &Ctx, p: &Principal, org: Option<&str>) -> AppResult<Vec<OrgPath>> {
    let readers: Vec<Role> = PARTY_ROLES.iter().chain(OVERSEERS).copied().collect();
    match org.map(str::trim).filter(|s| !s.is_empty()) {
        Some(id) => match node_by_id(ctx, id).await? {
            Some(n) if p.covers(&readers, &n.org_path) => Ok(vec![n.org_path]),
            _ => Err(AppError::NotFound),
        },
        None => Ok(p.roots_for(&readers)),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/party/butlers",
    operation_id = "party_butlers",
    tag = "party",
    summary = "红色管家名册",
    params(OrgNodeQuery),
    responses(
        (status = 200, description = "在岗管家和党员志愿者", body = Page<ButlerView>),
        QueryErrors, Unauthorized, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn butlers_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<OrgNodeQuery>,
) -> AppResult<JsonOut<Page<ButlerView>>> {
    let roots = roster_roots(&ctx, &p, q.org.as_deref()).await?;
    let scope = scope_of(&ctx, &p).await?;
    Ok(JsonOut(Page {
        items: butler_views(&ctx, &p, &scope, &roots).await?,
        next_cursor: None,
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/party/butlers",
    operation_id = "party_add_butler",
    tag = "party",
    summary = "登记楼宇管家",
    request_body = ButlerBody,
    responses(
        (status = 201, description = "新登记", body = ButlerView),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn add_butler_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Json(b): Json<ButlerBody>,
) -> AppResult<(StatusCode, JsonOut<ButlerView>)> {
    Ok((
        StatusCode::CREATED,
        JsonOut(add_butler(&ctx, &p, &b).await?),
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/party/butlers/{id}/end",
    operation_id = "party_end_butler",
    tag = "party",
    summary = "管家离岗",
    params(("id" = String, Path, description = "名册编号")),
    request_body = EndBody,
    responses(
        (status = 204, description = "已离岗"),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn end_butler_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<EndBody>,
) -> AppResult<StatusCode> {
    end_butler(&ctx, &p, &id, &b).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PartyOrgQuery {
    /// A party organisation: it and everything under it.
    org: Option<String>,
}

/// The organisations a list is about: one visible organisation with
/// everything under it, or all the caller sees.
async fn orgs_for(ctx: &Ctx, scope: &Scope, org: Option<&str>) -> AppResult<Vec<String>> {
    match org.map(str::trim).filter(|s| !s.is_empty()) {
        Some(id) => {
            let o = visible_org(ctx, scope, id).await?;
            Ok(store::subtree_ids(&ctx.db, &o.id)
                .await?
                .into_iter()
                .filter(|i| scope.sees_org(i))
                .collect())
        }
        None => Ok(scope.all_visible()),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/party/appointments",
    operation_id = "party_appointments",
    tag = "party",
    summary = "交叉任职",
    params(PartyOrgQuery),
    responses(
        (status = 200, description = "交叉任职", body = Page<AppointmentView>),
        QueryErrors, Unauthorized, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn appointments_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<PartyOrgQuery>,
) -> AppResult<JsonOut<Page<AppointmentView>>> {
    let scope = scope_of(&ctx, &p).await?;
    let ids = orgs_for(&ctx, &scope, q.org.as_deref()).await?;
    Ok(JsonOut(Page {
        items: appointment_views(&ctx, &scope, &ids).await?,
        next_cursor: None,
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/party/appointments",
    operation_id = "party_add_appointment",
    tag = "party",
    summary = "登记交叉任职",
    request_body = AppointmentBody,
    responses(
        (status = 201, description = "新任职", body = AppointmentView),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn add_appointment_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Json(b): Json<AppointmentBody>,
) -> AppResult<(StatusCode, JsonOut<AppointmentView>)> {
    Ok((
        StatusCode::CREATED,
        JsonOut(add_appointment(&ctx, &p, &b).await?),
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/party/appointments/{id}/end",
    operation_id = "party_end_appointment",
    tag = "party",
    summary = "结束交叉任职",
    params(("id" = String, Path, description = "任职编号")),
    request_body = EndBody,
    responses(
        (status = 204, description = "已结束"),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn end_appointment_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<EndBody>,
) -> AppResult<StatusCode> {
    end_appointment(&ctx, &p, &id, &b).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ActivityQuery {
    /// A party organisation: it and everything under it.
    org: Option<String>,
    /// First day, `YYYY-MM-DD` (default: 1 January of this year).
    #[param(format = Date)]
    from: Option<String>,
    /// Last day, `YYYY-MM-DD` (default: 31 December of this year).
    #[param(format = Date)]
    to: Option<String>,
    /// At most this many, 1–100 (default 20).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    limit: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/party/activities",
    operation_id = "party_activities",
    tag = "party",
    summary = "组织生活(三会一课、主题党日)",
    params(ActivityQuery),
    responses(
        (status = 200, description = "期间内的活动", body = Page<ActivityItem>),
        QueryErrors, Unauthorized, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn activities_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<ActivityQuery>,
) -> AppResult<JsonOut<Page<ActivityItem>>> {
    let scope = scope_of(&ctx, &p).await?;
    let params = PageParams::parse(q.limit.as_deref(), None)?;
    let (from, to) = model::parse_period(q.from.as_deref(), q.to.as_deref(), today(&ctx))
        .map_err(AppError::Validation)?;
    let ids = orgs_for(&ctx, &scope, q.org.as_deref()).await?;
    let day_ms = |d: NaiveDate| kernel::clock::day_start_ms(&model::fmt_date(d)).unwrap_or(0);
    let rows = store::activities_of(
        &ctx.db,
        &ids,
        day_ms(from),
        day_ms(to.succ_opt().unwrap_or(to)),
        params.limit,
    )
    .await?;
    Ok(JsonOut(Page {
        items: activity_items(&ctx, rows).await?,
        next_cursor: None,
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/party/activities",
    operation_id = "party_create_activity",
    tag = "party",
    summary = "记录组织生活",
    request_body = ActivityBody,
    responses(
        (status = 201, description = "新活动", body = ActivityDetail),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn create_activity_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Json(b): Json<ActivityBody>,
) -> AppResult<(StatusCode, JsonOut<ActivityDetail>)> {
    let a = create_activity(&ctx, &p, &b).await?;
    Ok((
        StatusCode::CREATED,
        JsonOut(activity_detail(&ctx, a, true).await?),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/party/activities/{id}",
    operation_id = "party_activity",
    tag = "party",
    summary = "活动详情",
    params(("id" = String, Path, description = "活动编号")),
    responses(
        (status = 200, description = "活动", body = ActivityDetail),
        Unauthorized, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn activity_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<JsonOut<ActivityDetail>> {
    let scope = scope_of(&ctx, &p).await?;
    let (a, manage) = visible_activity(&ctx, &scope, &id).await?;
    Ok(JsonOut(activity_detail(&ctx, a, manage).await?))
}

#[utoipa::path(
    patch,
    path = "/api/v1/party/activities/{id}",
    operation_id = "party_minutes",
    tag = "party",
    summary = "活动记录(会议纪要)",
    params(("id" = String, Path, description = "活动编号")),
    request_body = MinutesBody,
    responses(
        (status = 200, description = "修改后的活动", body = ActivityDetail),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn minutes_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<MinutesBody>,
) -> AppResult<JsonOut<ActivityDetail>> {
    let a = set_minutes(&ctx, &p, &id, &b).await?;
    Ok(JsonOut(activity_detail(&ctx, a, true).await?))
}

#[utoipa::path(
    put,
    path = "/api/v1/party/activities/{id}/attendance",
    operation_id = "party_attendance",
    tag = "party",
    summary = "考勤",
    params(("id" = String, Path, description = "活动编号")),
    request_body = AttendanceBody,
    responses(
        (status = 200, description = "考勤后的活动", body = ActivityDetail),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn attendance_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<AttendanceBody>,
) -> AppResult<JsonOut<ActivityDetail>> {
    Ok(JsonOut(set_attendance(&ctx, &p, &id, &b).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/party/activities/{id}/photos",
    operation_id = "party_photo_upload",
    tag = "party",
    summary = "上传活动照片",
    params(("id" = String, Path, description = "活动编号")),
    request_body(content = kernel::openapi::PhotoUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "已保存的照片", body = PhotoView),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, Unprocessable,
    ),
    security(("bearer" = [])),
)]
async fn photo_upload_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    kernel::web::Upload(mut form): kernel::web::Upload,
) -> AppResult<(StatusCode, JsonOut<PhotoView>)> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge
        } else {
            AppError::bad_request("invalid_multipart", "上传内容格式不正确")
        }
    };
    let mut file: Option<(String, Vec<u8>)> = None;
    while let Some(field) = form.next_field().await.map_err(bad)? {
        if field.name() == Some("file") {
            let name = field.file_name().unwrap_or("photo").to_string();
            let bytes = field.bytes().await.map_err(bad)?;
            file = Some((name, bytes.to_vec()));
        }
    }
    let (name, data) = file.ok_or_else(|| AppError::field("file", "请选择要上传的照片"))?;
    Ok((
        StatusCode::CREATED,
        JsonOut(add_photo(&ctx, &p, &id, &name, data).await?),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/party/activities/{id}/photos/{photo}",
    operation_id = "party_photo",
    tag = "party",
    summary = "活动照片",
    params(
        ("id" = String, Path, description = "活动编号"),
        ("photo" = String, Path, description = "照片编号"),
    ),
    responses(
        (status = 200, description = "照片", content(
            (kernel::openapi::Binary = "image/jpeg"),
            (kernel::openapi::Binary = "image/png"),
            (kernel::openapi::Binary = "image/webp"),
        )),
        Unauthorized, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn photo_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path((id, photo)): Path<(String, String)>,
) -> AppResult<Response> {
    let scope = scope_of(&ctx, &p).await?;
    let (a, manage) = visible_activity(&ctx, &scope, &id).await?;
    if !manage {
        return Err(AppError::NotFound);
    }
    let pid = parse_uuid(&photo).ok_or(AppError::NotFound)?;
    let (mime, data) = store::photo_data(&ctx.db, &a.id, &pid)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, mime),
            (header::CONTENT_DISPOSITION, "inline".to_string()),
            (header::CACHE_CONTROL, "private, max-age=3600".to_string()),
        ],
        data,
    )
        .into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/party/tasks",
    operation_id = "party_tasks",
    tag = "party",
    summary = "服务任务",
    params(PartyOrgQuery),
    responses(
        (status = 200, description = "任务", body = Page<TaskView>),
        QueryErrors, Unauthorized, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn tasks_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<PartyOrgQuery>,
) -> AppResult<JsonOut<Page<TaskView>>> {
    let scope = scope_of(&ctx, &p).await?;
    let ids = orgs_for(&ctx, &scope, q.org.as_deref()).await?;
    let rows = store::tasks_of(&ctx.db, &ids).await?;
    Ok(JsonOut(Page {
        items: task_views(&ctx, &scope, rows).await?,
        next_cursor: None,
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/party/tasks",
    operation_id = "party_create_task",
    tag = "party",
    summary = "发布服务任务",
    request_body = TaskBody,
    responses(
        (status = 201, description = "新任务", body = TaskView),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn create_task_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Json(b): Json<TaskBody>,
) -> AppResult<(StatusCode, JsonOut<TaskView>)> {
    let t = create_task(&ctx, &p, &b).await?;
    let scope = scope_of(&ctx, &p).await?;
    Ok((
        StatusCode::CREATED,
        JsonOut(
            task_views(&ctx, &scope, vec![t])
                .await?
                .pop()
                .ok_or(AppError::NotFound)?,
        ),
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/party/tasks/{id}/claims",
    operation_id = "party_claim",
    tag = "party",
    summary = "认领服务任务",
    params(("id" = String, Path, description = "任务编号")),
    request_body = ClaimBody,
    responses(
        (status = 200, description = "认领后的任务", body = TaskView),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn claim_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<ClaimBody>,
) -> AppResult<JsonOut<TaskView>> {
    Ok(JsonOut(claim_task(&ctx, &p, &id, &b).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ServiceQuery {
    /// A party organisation: it and everything under it.
    org: Option<String>,
    #[param(value_type = Option<VolunteerStatus>)]
    status: Option<String>,
    /// At most this many, 1–100 (default 20).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    limit: Option<String>,
}

/// Volunteer records done for organisations the caller manages, or by
/// members whose home branch they manage, or the caller's own.
pub async fn service_list(
    ctx: &Ctx,
    p: &Principal,
    org: Option<&str>,
    status: Option<VolunteerStatus>,
    limit: i64,
) -> AppResult<Vec<ServiceView>> {
    let scope = scope_of(ctx, p).await?;
    let managed_ids: Vec<String> = orgs_for(ctx, &scope, org)
        .await?
        .into_iter()
        .filter(|i| scope.manages(i))
        .collect();
    let own: Vec<String> = if org.is_none() {
        store::members_of_user(&ctx.db, &ctx.cipher, &p.user_id)
            .await?
            .into_iter()
            .map(|m| m.id)
            .collect()
    } else {
        vec![]
    };
    let home_members: Vec<String> = store::list_members(
        &ctx.db,
        &ctx.cipher,
        &store::MemberFilter {
            home_orgs: managed_ids.clone(),
            limit: 1_000_000,
            ..Default::default()
        },
    )
    .await?
    .into_iter()
    .map(|m| m.id)
    .chain(own)
    .collect();
    let rows = store::list_service(
        &ctx.db,
        &store::ServiceFilter {
            orgs: managed_ids,
            members: home_members,
            status,
            limit,
            ..Default::default()
        },
    )
    .await?;
    let mut out = Vec::new();
    let mut cache: HashMap<String, MemberRow> = HashMap::new();
    for s in rows {
        if !cache.contains_key(&s.member_id) {
            if let Some(m) = store::get_member(&ctx.db, &ctx.cipher, &s.member_id).await? {
                cache.insert(m.id.clone(), m);
            }
        }
        let Some(m) = cache.get(&s.member_id) else {
            continue;
        };
        let mut a = scope.access(m);
        // The branch served sees the records done for it in full.
        a.registered |= scope.manages(&s.party_org_id);
        if a.unmasked() {
            out.push(service_view(s, m, &scope, a));
        }
    }
    Ok(out)
}

#[utoipa::path(
    get,
    path = "/api/v1/party/volunteer",
    operation_id = "party_service_list",
    tag = "party",
    summary = "志愿服务记录",
    params(ServiceQuery),
    responses(
        (status = 200, description = "服务记录", body = Page<ServiceView>),
        QueryErrors, Unauthorized, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn service_list_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<ServiceQuery>,
) -> AppResult<JsonOut<Page<ServiceView>>> {
    let params = PageParams::parse(q.limit.as_deref(), None)?;
    let status = match q.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(VolunteerStatus::parse(s).ok_or_else(|| {
            AppError::field("status", "status 应为 pending、verified 或 rejected")
        })?),
    };
    Ok(JsonOut(Page {
        items: service_list(&ctx, &p, q.org.as_deref(), status, params.limit).await?,
        next_cursor: None,
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/party/volunteer",
    operation_id = "party_record_service",
    tag = "party",
    summary = "记录志愿服务",
    request_body = ServiceBody,
    responses(
        (status = 201, description = "新记录", body = ServiceView),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn record_service_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Json(b): Json<ServiceBody>,
) -> AppResult<(StatusCode, JsonOut<ServiceView>)> {
    Ok((
        StatusCode::CREATED,
        JsonOut(record_service(&ctx, &p, &b).await?),
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/party/volunteer/{id}/verify",
    operation_id = "party_decide_service",
    tag = "party",
    summary = "核实志愿服务",
    params(("id" = String, Path, description = "服务记录编号")),
    request_body = DecideBody,
    responses(
        (status = 200, description = "核实后的记录", body = ServiceView),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn decide_service_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<DecideBody>,
) -> AppResult<JsonOut<ServiceView>> {
    Ok(JsonOut(decide_service(&ctx, &p, &id, &b).await?))
}

// ---------------------------------------------------------------- Excel

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ExportQuery {
    /// The party organisation (import: the branch).
    org: Option<String>,
}

/// The members of an organisation as a workbook: unmasked only for the
/// party roles over it (and then every unmasked export is audited as a
/// read of personal data); masked for overseers.
#[utoipa::path(
    get,
    path = "/api/v1/party/members/export.xlsx",
    operation_id = "party_export",
    tag = "party",
    summary = "Excel 导出党员",
    params(ExportQuery),
    responses(
        (status = 200, description = "工作簿", body = kernel::openapi::Binary,
            content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        QueryErrors, Unauthorized, Forbidden, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn export_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<ExportQuery>,
) -> AppResult<Response> {
    let org_id = q
        .org
        .ok_or_else(|| AppError::field("org", "请指定导出哪个党组织"))?;
    let scope = scope_of(&ctx, &p).await?;
    let o = visible_org(&ctx, &scope, &org_id).await?;
    let sub: Vec<String> = store::subtree_ids(&ctx.db, &o.id)
        .await?
        .into_iter()
        .filter(|i| scope.sees_org(i))
        .collect();
    let rows = store::members_of_orgs(&ctx.db, &ctx.cipher, &sub).await?;
    let names = Names::load(&ctx, &rows, false).await?;
    let views: Vec<MemberView> = rows
        .iter()
        .map(|m| member_view(m, scope.access(m), &names))
        .collect();
    let masked = views.iter().any(|v| v.masked);
    let bytes = crate::xlsx::export_workbook(&views)?;
    audit::record_alone(
        &ctx.db,
        AuditEntry {
            at_ms: ctx.now_ms(),
            actor_id: Some(&p.user_id),
            action: if masked {
                "party_members_exported"
            } else {
                "personal_data_exported"
            },
            object_type: "party_org",
            object_id: Some(&o.id),
            org_path: Some(o.org_path.as_str()),
            detail: json!({"rows": views.len(), "masked": masked, "what": "party_members"}),
            ..Default::default()
        },
    )
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, XLSX_MIME.to_string()),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"party-members.xlsx\"".to_string(),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/party/members/import",
    operation_id = "party_import",
    tag = "party",
    summary = "Excel 导入党员",
    params(ExportQuery),
    request_body(
        description = "The workbook (xlsx), in the layout of the export.",
        content(
            (kernel::openapi::Binary = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (kernel::openapi::Binary = "application/octet-stream"),
        ),
    ),
    responses(
        (status = 200, description = "导入结果", body = crate::xlsx::ImportReport),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge,
        UnsupportedMediaType, Unprocessable,
    ),
    security(("bearer" = [])),
)]
async fn import_h(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<ExportQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<JsonOut<crate::xlsx::ImportReport>> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !(ct.starts_with(XLSX_MIME) || ct.starts_with("application/octet-stream")) {
        return Err(AppError::UnsupportedMediaType);
    }
    let org_id = q
        .org
        .ok_or_else(|| AppError::field("org", "请指定导入到哪个党支部"))?;
    let scope = scope_of(&ctx, &p).await?;
    let branch = managed_org(&ctx, &scope, &org_id).await?;
    Ok(JsonOut(
        crate::xlsx::import(&ctx, &p, &branch, &body).await?,
    ))
}
