//! `/party` pages. The overview: the caller's party organisations, the
//! statistics of the chosen one (members by mode, 双报到 coverage, service
//! hours, attendance, 三会一课 this quarter) drawn as SVG, its members,
//! activities, service awaiting verification, the red-butler roster,
//! cross-appointments and service tasks; a member's own record. A member's
//! page with its history, check-ins, service and engagement in cases; an
//! activity's page with attendance, minutes and photos; forms for a new
//! member and a new activity. Plain HTML forms that work without
//! JavaScript; every POST checks the session's CSRF token and answers 303,
//! or the page again with the reason (422).

use crate::api::{self, MemberView, Scope};
use crate::model::{
    self, ActivityKind, AttendanceStatus, ManagementMode, PartyOrgKind, VolunteerStatus,
};
use crate::store;
use accounts::session::check_csrf;
use accounts::Auth;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use kernel::i18n::Lang;
use kernel::shell::{render, Shell};
use kernel::{AppError, AppResult, Ctx, Principal};
use serde::Deserialize;
use std::collections::HashMap;

pub fn routes() -> Router<Ctx> {
    Router::new()
        .route("/party", get(index))
        .route("/party/members", post(create_member_form))
        .route("/party/members/new", get(new_member_page))
        .route("/party/members/{id}", get(member_page))
        .route("/party/members/{id}/checkins", post(checkin_form))
        .route("/party/members/{id}/service", post(service_form))
        .route("/party/members/{id}/transfer", post(transfer_form))
        .route("/party/members/{id}/status", post(status_form))
        .route("/party/volunteer/{id}/verify", post(verify_form))
        .route("/party/activities", post(create_activity_form))
        .route("/party/activities/new", get(new_activity_page))
        .route("/party/activities/{id}", get(activity_page))
        .route("/party/activities/{id}/attendance", post(attendance_form))
        .route(
            "/party/activities/{id}/photos",
            post(photo_form).layer(axum::extract::DefaultBodyLimit::max(
                api::PHOTO_MAX_BYTES + 64 * 1024,
            )),
        )
}

// ---------------------------------------------------------------- helpers

fn t(lang: Lang, prefix: &str, code: &str) -> &'static str {
    lang.t(&format!("{prefix}.{code}"))
}

/// Why a write was refused, in words for the page; other errors answer as
/// themselves.
fn refusal_text(e: &AppError, lang: Lang) -> Option<String> {
    match e {
        AppError::Validation(f) => Some(lang.msgs(&f.0.values().flatten().collect::<Vec<_>>())),
        AppError::Conflict { message, .. } => Some(lang.msg(message)),
        AppError::Forbidden => Some(lang.t("error.forbidden").to_string()),
        AppError::PayloadTooLarge => Some(lang.msg(&e.message())),
        _ => None,
    }
}

fn hours(h: f64) -> String {
    if (h - h.round()).abs() < 1e-9 {
        format!("{}", h.round() as i64)
    } else {
        format!("{h:.1}")
    }
}

fn percent(x: Option<f64>, lang: Lang) -> String {
    x.map(|v| lang.percent(v)).unwrap_or_else(|| "—".into())
}

/// "from – to" of two API dates, shown in the page's language; an open end
/// stays empty.
fn span(lang: Lang, from: &str, to: &str) -> String {
    format!("{} – {}", lang.when(from), lang.when(to))
}

fn local_now(ms: i64) -> String {
    use chrono::TimeZone;
    kernel::clock::shanghai()
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%dT%H:%M").to_string())
        .unwrap_or_default()
}

async fn with_error<F>(status: StatusCode, render_page: F) -> Response
where
    F: std::future::Future<Output = AppResult<Response>>,
{
    match render_page.await {
        Ok(mut r) => {
            *r.status_mut() = status;
            r
        }
        Err(e) => e.into_response(),
    }
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

// ---------------------------------------------------------------- the overview

pub struct OrgItem {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    /// Indentation by depth ("└ " under a parent).
    pub pad: String,
    pub current: bool,
}

pub struct Bar {
    pub label: &'static str,
    pub value: i64,
    /// Of 200 units.
    pub width: i64,
    pub colour: &'static str,
}

pub struct StatsBlock {
    pub from: String,
    pub to: String,
    pub members: i64,
    pub registered_here: i64,
    pub in_service_registered: i64,
    pub coverage: String,
    pub service_hours: String,
    pub pending_hours: String,
    pub points: i64,
    pub activities: i64,
    pub attendance: String,
    pub floating_overdue: i64,
    pub bars: Vec<Bar>,
    pub status_line: String,
    pub quarter: String,
    pub three: Vec<(&'static str, i64, i64, bool)>,
    pub parts: Vec<(String, i64, String, String, String)>,
}

pub struct MemberItem {
    pub id: String,
    pub name: String,
    pub status: &'static str,
    pub mode: &'static str,
    pub mode_code: &'static str,
    pub relation: &'static str,
    pub hours: String,
    pub marks: Vec<String>,
}

pub struct ActItem {
    pub id: String,
    pub title: String,
    pub kind: &'static str,
    pub org: String,
    pub when: String,
    pub attendance: String,
}

pub struct PendingItem {
    pub id: String,
    pub member: String,
    pub hours: String,
    pub what: String,
    pub on: String,
    pub version: i64,
    pub self_reported: bool,
}

pub struct RosterItem {
    pub building: String,
    pub role: &'static str,
    pub name: String,
    pub red: bool,
    pub duty: String,
}

pub struct AppointmentItem {
    pub name: String,
    pub body: &'static str,
    pub direction: &'static str,
    pub position: String,
    pub compound: String,
    pub since: String,
}

pub struct TaskItem {
    pub title: String,
    pub description: String,
    pub claimed: String,
}

pub struct OfficerItem {
    pub position: &'static str,
    pub name: String,
    pub term: String,
}

pub struct Current {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub kind_code: &'static str,
    pub area: String,
    pub manage: bool,
    pub centre: Option<(String, String, String)>,
    pub officers: Vec<OfficerItem>,
}

#[derive(Template)]
#[template(path = "party_index.html")]
struct IndexPage {
    shell: Shell,
    error: Option<String>,
    orgs: Vec<OrgItem>,
    current: Option<Current>,
    stats: Option<StatsBlock>,
    members: Vec<MemberItem>,
    activities: Vec<ActItem>,
    pending: Vec<PendingItem>,
    roster: Vec<RosterItem>,
    appointments: Vec<AppointmentItem>,
    tasks: Vec<TaskItem>,
    mine: Vec<(String, String, String)>,
}

#[derive(Deserialize, Default)]
struct IndexQuery {
    org: Option<String>,
}

fn member_item(v: &MemberView, lang: Lang) -> MemberItem {
    let mut marks = Vec::new();
    if v.central_household {
        marks.push(lang.t("party.central_household").to_string());
    }
    if let Some(p) = &v.vanguard_post {
        marks.push(p.clone());
    }
    if let Some(g) = &v.group {
        marks.push(g.name.clone());
    }
    MemberItem {
        id: v.id.clone(),
        name: v.name.clone(),
        status: t(lang, "party.status", v.status.as_str()),
        mode: t(lang, "party.mode", v.mode.as_str()),
        mode_code: v.mode.as_str(),
        relation: t(lang, "party.relation", v.relation),
        hours: hours(v.service_hours),
        marks,
    }
}

async fn render_index(
    ctx: &Ctx,
    p: &Principal,
    lang: Lang,
    q: IndexQuery,
    error: Option<String>,
) -> AppResult<Response> {
    let scope = api::scope_of(ctx, p).await?;
    let all = store::orgs_by_ids(&ctx.db, &scope.all_visible()).await?;
    // The chosen organisation: asked for, else the first branch managed,
    // else the first seen.
    let current_id = q
        .org
        .as_deref()
        .and_then(|o| kernel::id::parse_id(o.trim()))
        .filter(|o| scope.sees_org(o))
        .or_else(|| {
            all.iter()
                .find(|o| o.kind == PartyOrgKind::Branch && scope.manages(&o.id))
                .or_else(|| all.first())
                .map(|o| o.id.clone())
        });
    // Orgs as a tree: roots are those whose parent is out of sight.
    let ids: std::collections::HashSet<&str> = all.iter().map(|o| o.id.as_str()).collect();
    let mut orgs = Vec::new();
    fn walk(
        all: &[store::OrgRow],
        parent: Option<&str>,
        ids: &std::collections::HashSet<&str>,
        depth: usize,
        cur: Option<&str>,
        lang: Lang,
        out: &mut Vec<OrgItem>,
    ) {
        for o in all.iter().filter(|o| match parent {
            None => o.parent_id.as_deref().is_none_or(|pid| !ids.contains(pid)),
            Some(pid) => o.parent_id.as_deref() == Some(pid),
        }) {
            out.push(OrgItem {
                id: o.id.clone(),
                name: o.name.clone(),
                kind: t(lang, "party.kind", o.kind.as_str()),
                pad: if depth == 0 {
                    String::new()
                } else {
                    // An ideographic space indents Chinese; an em space English.
                    let indent = if lang == Lang::En {
                        "\u{2003}"
                    } else {
                        "\u{3000}"
                    };
                    format!("{}└ ", indent.repeat(depth - 1))
                },
                current: cur == Some(o.id.as_str()),
            });
            if depth < 4 {
                walk(all, Some(&o.id), ids, depth + 1, cur, lang, out);
            }
        }
    }
    walk(&all, None, &ids, 0, current_id.as_deref(), lang, &mut orgs);

    let mut page = IndexPage {
        shell: Shell::new(lang, "party.title", "party", Some(p)),
        error,
        orgs,
        current: None,
        stats: None,
        members: vec![],
        activities: vec![],
        pending: vec![],
        roster: vec![],
        appointments: vec![],
        tasks: vec![],
        mine: vec![],
    };
    for m in store::members_of_user(&ctx.db, &ctx.cipher, &p.user_id).await? {
        let b = store::get_org(&ctx.db, &m.branch_id)
            .await?
            .map(|o| o.name)
            .unwrap_or_default();
        page.mine.push((m.id, m.profile.name, b));
    }
    if let Some(cid) = current_id {
        let o = api::visible_org(ctx, &scope, &cid).await?;
        fill_current(ctx, p, &scope, lang, &o, &mut page).await?;
    }
    Ok(render(&page))
}

async fn fill_current(
    ctx: &Ctx,
    p: &Principal,
    scope: &Scope,
    lang: Lang,
    o: &store::OrgRow,
    page: &mut IndexPage,
) -> AppResult<()> {
    let detail = api::org_detail(ctx, scope, o).await?;
    let manage = scope.manages(&o.id);
    page.current = Some(Current {
        id: o.id.clone(),
        name: o.name.clone(),
        kind: t(lang, "party.kind", o.kind.as_str()),
        kind_code: o.kind.as_str(),
        area: lang.join(&o.areas.iter().map(|a| a.name.as_str()).collect::<Vec<_>>()),
        manage,
        centre: detail
            .service_centre
            .map(|c| (c.name, c.address, c.opening_hours.unwrap_or_default())),
        officers: detail
            .officers
            .into_iter()
            .filter(|x| x.current)
            .map(|x| OfficerItem {
                position: t(lang, "party.position", x.position.as_str()),
                name: x.name,
                term: span(lang, &x.term_start, &x.term_end.unwrap_or_default()),
            })
            .collect(),
    });
    let s = api::stats(ctx, p, &o.id, &api::PeriodQuery::default()).await?;
    let st = &s.stats;
    let max = [
        st.by_mode.resident,
        st.by_mode.in_service,
        st.by_mode.floating,
        st.registered_here,
    ]
    .into_iter()
    .max()
    .unwrap_or(0)
    .max(1);
    let bars = [
        ("party.mode.resident", st.by_mode.resident, "#c8102e"),
        ("party.mode.in_service", st.by_mode.in_service, "#9a6700"),
        ("party.mode.floating", st.by_mode.floating, "#0b57d0"),
        ("party.registered_here", st.registered_here, "#1a7f37"),
    ]
    .into_iter()
    .map(|(k, v, colour)| Bar {
        label: lang.t(k),
        value: v,
        width: (v * 200 / max).max(if v > 0 { 4 } else { 0 }),
        colour,
    })
    .collect();
    page.stats = Some(StatsBlock {
        from: lang.when(&s.from),
        to: lang.when(&s.to),
        members: st.members,
        registered_here: st.registered_here,
        in_service_registered: st.in_service_registered,
        coverage: percent(st.registration_coverage, lang),
        service_hours: hours(st.service_hours),
        pending_hours: hours(st.service_hours_pending),
        points: st.service_points,
        activities: st.activities,
        attendance: percent(st.attendance_rate, lang),
        floating_overdue: st.floating_overdue,
        bars,
        status_line: format!(
            "{} {} · {} {} · {} {}",
            lang.t("party.status.full"),
            st.by_status.full,
            lang.t("party.status.probationary"),
            st.by_status.probationary,
            lang.t("party.status.activist"),
            st.by_status.activist
        ),
        quarter: span(lang, &s.quarter_from, &s.quarter_to),
        three: s
            .three_meetings
            .iter()
            .map(|c| {
                (
                    t(lang, "party.activity", c.kind.as_str()),
                    c.held,
                    c.required,
                    c.held >= c.required,
                )
            })
            .collect(),
        parts: s
            .parts
            .iter()
            .map(|b| {
                (
                    b.org.name.clone(),
                    b.stats.members,
                    percent(b.stats.registration_coverage, lang),
                    hours(b.stats.service_hours),
                    percent(b.stats.attendance_rate, lang),
                )
            })
            .collect(),
    });
    let (members, _) = api::list_members(
        ctx,
        p,
        &api::MemberQuery {
            org: Some(o.id.clone()),
            limit: Some("100".into()),
            ..Default::default()
        },
    )
    .await?;
    page.members = members.items.iter().map(|v| member_item(v, lang)).collect();
    let sub: Vec<String> = store::subtree_ids(&ctx.db, &o.id)
        .await?
        .into_iter()
        .filter(|i| scope.sees_org(i))
        .collect();
    let acts = store::activities_of(&ctx.db, &sub, 0, i64::MAX, 10).await?;
    page.activities = api::activity_items(ctx, acts)
        .await?
        .into_iter()
        .map(|a| ActItem {
            attendance: if a.expected > 0 {
                format!("{}/{}", a.present, a.expected)
            } else {
                String::new()
            },
            id: a.id,
            title: match &a.theme {
                Some(th) => format!("{} · {th}", a.title),
                None => a.title,
            },
            kind: t(lang, "party.activity", a.kind.as_str()),
            org: a.org.name,
            when: lang.when(&a.held_at),
        })
        .collect();
    if manage {
        page.pending = api::service_list(ctx, p, Some(&o.id), Some(VolunteerStatus::Pending), 50)
            .await?
            .into_iter()
            .filter(|s| s.can_verify)
            .map(|s| PendingItem {
                id: s.id,
                member: s.member_name,
                hours: hours(s.hours),
                what: s.description,
                on: lang.when(&s.served_on),
                version: s.version,
                self_reported: s.self_reported,
            })
            .collect();
    }
    let roots: Vec<kernel::OrgPath> = o.areas.iter().map(|a| a.org_path.clone()).collect();
    page.roster = api::butler_views(ctx, p, scope, &roots)
        .await?
        .into_iter()
        .map(|b| RosterItem {
            building: b.building_name,
            role: t(lang, "party.role", b.role.as_str()),
            name: b.name,
            red: b.red,
            duty: b.duty.unwrap_or_default(),
        })
        .collect();
    page.appointments = api::appointment_views(ctx, scope, &sub)
        .await?
        .into_iter()
        .filter(|a| a.ended_on.is_none())
        .map(|a| AppointmentItem {
            name: a.member_name,
            body: t(lang, "party.body", a.body.as_str()),
            direction: t(lang, "party.dir", a.direction.as_str()),
            position: a.position,
            compound: a.compound_name,
            since: lang.when(&a.started_on),
        })
        .collect();
    page.tasks = api::task_views(ctx, scope, store::tasks_of(&ctx.db, &sub).await?)
        .await?
        .into_iter()
        .filter(|t| t.open)
        .map(|t| TaskItem {
            title: t.title,
            description: t.description,
            claimed: lang.join(&t.claimed_by),
        })
        .collect();
    Ok(())
}

async fn index(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    kernel::json::Query(q): kernel::json::Query<IndexQuery>,
) -> Response {
    render_index(&ctx, &p, lang, q, None)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

#[derive(Deserialize, Default)]
struct CsrfVersion {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    org: String,
}

async fn verify_form(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Path(id): Path<String>,
    Form(f): Form<CsrfVersion>,
) -> Response {
    if let Err(e) = check_csrf(&p, &f.csrf) {
        return e.into_response();
    }
    let back = IndexQuery {
        org: Some(f.org.clone()).filter(|o| !o.is_empty()),
    };
    match api::decide_service(
        &ctx,
        &p,
        &id,
        &api::DecideBody {
            approve: true,
            version: f.version,
        },
    )
    .await
    {
        Ok(_) => Redirect::to(&match &back.org {
            Some(o) => format!("/party?org={o}#pending"),
            None => "/party#pending".into(),
        })
        .into_response(),
        Err(e) => match refusal_text(&e, lang) {
            Some(msg) => {
                with_error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    render_index(&ctx, &p, lang, back, Some(msg)),
                )
                .await
            }
            None => e.into_response(),
        },
    }
}

// ---------------------------------------------------------------- a member

pub struct Kv {
    pub key: &'static str,
    pub value: String,
}

pub struct HistoryItem {
    pub when: String,
    pub what: String,
    pub note: String,
}

pub struct ServiceItem {
    pub on: String,
    pub hours: String,
    pub what: String,
    pub org: String,
    pub status: &'static str,
    pub status_code: &'static str,
    pub points: i64,
}

#[derive(Template)]
#[template(path = "party_member.html")]
struct MemberPage {
    shell: Shell,
    /// The refused step form (`checkin`, `service`, `status`, `transfer`).
    fs: kernel::FormState,
    id: String,
    name: String,
    masked: bool,
    status: &'static str,
    mode: &'static str,
    mode_code: &'static str,
    relation: &'static str,
    kv: Vec<Kv>,
    marks: Vec<String>,
    floating_overdue: bool,
    last_checkin: String,
    checkins: Vec<HistoryItem>,
    transfers: Vec<HistoryItem>,
    offices: Vec<HistoryItem>,
    appointments: Vec<HistoryItem>,
    service: Vec<ServiceItem>,
    attendance: Vec<HistoryItem>,
    tasks: Vec<String>,
    demands_helped: i64,
    demands: Vec<(String, String)>,
    mediations: i64,
    mediation_list: Vec<(String, String)>,
    service_hours: String,
    service_points: i64,
    pending_hours: String,
    can_manage: bool,
    can_checkin: bool,
    can_service: bool,
    next_status: Option<(&'static str, &'static str)>,
    branches: Vec<Choice>,
    today: String,
    now_local: String,
    version: i64,
}

async fn render_member(
    ctx: &Ctx,
    p: &Principal,
    lang: Lang,
    id: &str,
    fs: kernel::FormState,
) -> AppResult<Response> {
    let scope = api::scope_of(ctx, p).await?;
    let (m, a) = api::visible_member(ctx, &scope, id).await?;
    let d = api::member_detail(ctx, p, &scope, &m, a).await?;
    let v = &d.member;
    let mut kv = vec![Kv {
        key: lang.t("party.branch"),
        value: v.branch.name.clone(),
    }];
    let mut push = |key: &'static str, value: Option<String>| {
        if let Some(value) = value.filter(|s| !s.is_empty()) {
            kv.push(Kv {
                key: lang.t(key),
                value,
            });
        }
    };
    push("party.group", v.group.as_ref().map(|g| g.name.clone()));
    push("party.phone", v.phone.clone());
    push("party.id_card", v.id_card.clone());
    push(
        "party.joined_on",
        v.joined_on.as_deref().map(|d| lang.when(d)),
    );
    push("party.full_on", v.full_on.as_deref().map(|d| lang.when(d)));
    push("party.household", v.household.clone());
    push("party.work_unit", v.work_unit.clone());
    push(
        "party.registration",
        v.registration.as_ref().map(|r| {
            format!(
                "{} · {}",
                r.org_name,
                lang.when(r.registered_on.as_deref().unwrap_or_default())
            )
        }),
    );
    push("party.whereabouts", v.whereabouts.clone());
    push(
        "party.away_since",
        v.away_since.as_deref().map(|d| lang.when(d)),
    );
    push("party.away_reason", v.away_reason.clone());
    let mut marks = Vec::new();
    if v.central_household {
        marks.push(lang.t("party.central_household").to_string());
    }
    if let Some(x) = &v.vanguard_post {
        marks.push(format!("{} · {x}", lang.t("party.vanguard_post")));
    }
    let org_names: HashMap<String, String> = store::orgs_by_ids(
        &ctx.db,
        &d.offices
            .iter()
            .map(|o| o.org_id.clone())
            .collect::<Vec<_>>(),
    )
    .await?
    .into_iter()
    .map(|o| (o.id, o.name))
    .collect();
    let e = d.engagement.as_ref();
    let next_status = match v.status {
        model::MemberStatus::Activist => Some(("probationary", lang.t("party.to_probationary"))),
        model::MemberStatus::Probationary => Some(("full", lang.t("party.to_full"))),
        model::MemberStatus::Full => None,
    };
    let branches = if v.rights.manage {
        store::all_branches(&ctx.db)
            .await?
            .into_iter()
            .filter(|(bid, _)| *bid != v.branch.id)
            .map(|(value, label)| Choice {
                value,
                label,
                selected: false,
            })
            .collect()
    } else {
        vec![]
    };
    let now = ctx.now_ms();
    let page = MemberPage {
        shell: Shell::new(lang, "party.member", "party", Some(p)).with_title(v.name.clone()),
        fs,
        id: v.id.clone(),
        name: v.name.clone(),
        masked: v.masked,
        status: t(lang, "party.status", v.status.as_str()),
        mode: t(lang, "party.mode", v.mode.as_str()),
        mode_code: v.mode.as_str(),
        relation: t(lang, "party.relation", v.relation),
        kv,
        marks,
        floating_overdue: d.floating.as_ref().is_some_and(|f| f.overdue),
        last_checkin: d
            .floating
            .as_ref()
            .and_then(|f| f.last_checkin.as_deref().map(|t| lang.when(t)))
            .unwrap_or_default(),
        checkins: d
            .checkins
            .iter()
            .map(|c| HistoryItem {
                when: lang.when(&c.at),
                // The place and the note are the member's words.
                what: match &c.note {
                    Some(n) => format!("{} · {n}", c.place),
                    None => c.place.clone(),
                },
                note: t(lang, "party.channel", c.channel.as_str()).to_string(),
            })
            .collect(),
        transfers: d
            .transfers
            .iter()
            .map(|x| HistoryItem {
                when: lang.when(&x.transferred_on),
                what: format!("{} → {}", x.from.name, x.to.name),
                note: x.reason.clone().unwrap_or_default(),
            })
            .collect(),
        offices: d
            .offices
            .iter()
            .map(|o| HistoryItem {
                when: span(
                    lang,
                    &o.term_start,
                    &o.ended_on
                        .clone()
                        .or(o.term_end.clone())
                        .unwrap_or_default(),
                ),
                what: format!(
                    "{} {}",
                    org_names.get(&o.org_id).cloned().unwrap_or_default(),
                    t(lang, "party.position", o.position.as_str())
                ),
                note: if o.ended_on.is_some() {
                    lang.t("party.ended").to_string()
                } else {
                    String::new()
                },
            })
            .collect(),
        appointments: d
            .appointments
            .iter()
            .map(|x| HistoryItem {
                when: span(lang, &x.started_on, &x.ended_on.clone().unwrap_or_default()),
                what: format!(
                    "{} {} {}",
                    x.compound_name,
                    t(lang, "party.body", x.body.as_str()),
                    x.position
                ),
                note: t(lang, "party.dir", x.direction.as_str()).to_string(),
            })
            .collect(),
        service: d
            .service
            .iter()
            .map(|s| ServiceItem {
                on: lang.when(&s.served_on),
                hours: hours(s.hours),
                what: s.description.clone(),
                org: s.org.name.clone(),
                status: t(lang, "party.vol", s.status.as_str()),
                status_code: s.status.as_str(),
                points: s.points,
            })
            .collect(),
        attendance: d
            .attendance
            .iter()
            .map(|x| HistoryItem {
                when: lang.when(&x.held_at),
                what: format!(
                    "{} · {}",
                    t(lang, "party.activity", x.kind.as_str()),
                    x.title
                ),
                note: t(lang, "party.att", x.status.as_str()).to_string(),
            })
            .collect(),
        tasks: d
            .tasks
            .iter()
            .map(|x| format!("{} · {}", x.org_name, x.title))
            .collect(),
        demands_helped: e.map(|e| e.demands_helped).unwrap_or(0),
        demands: e
            .map(|e| {
                e.demands
                    .iter()
                    .map(|c| (c.id.clone(), c.title.clone()))
                    .collect()
            })
            .unwrap_or_default(),
        mediations: e.map(|e| e.mediations).unwrap_or(0),
        mediation_list: e
            .map(|e| {
                e.mediation_list
                    .iter()
                    .map(|c| (c.id.clone(), c.title.clone()))
                    .collect()
            })
            .unwrap_or_default(),
        service_hours: hours(v.service_hours),
        service_points: v.service_points,
        pending_hours: hours(e.map(|e| e.service_pending_hours).unwrap_or(0.0)),
        can_manage: v.rights.manage,
        can_checkin: v.rights.check_in,
        can_service: v.rights.record_service,
        next_status,
        branches,
        today: model::fmt_date(model::day_of(now)),
        now_local: local_now(now),
        version: v.version,
    };
    Ok(render(&page))
}

async fn member_page(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Response {
    render_member(&ctx, &p, lang, &id, kernel::FormState::none())
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// Runs a member step; 303 back to the member's page (or `to`), or the page
/// again with the reason.
#[allow(clippy::too_many_arguments)]
async fn member_step(
    ctx: &Ctx,
    p: &Principal,
    lang: Lang,
    id: &str,
    csrf: &str,
    to: Option<String>,
    form: kernel::FormState,
    shown: &[&str],
    step: impl std::future::Future<Output = AppResult<()>>,
) -> Response {
    if let Err(e) = check_csrf(p, csrf) {
        return e.into_response();
    }
    match step.await {
        Ok(()) => {
            Redirect::to(&to.unwrap_or_else(|| format!("/party/members/{id}"))).into_response()
        }
        Err(e) => match form.refused(&e, shown, lang) {
            Some(fs) => {
                with_error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    render_member(ctx, p, lang, id, fs),
                )
                .await
            }
            None => e.into_response(),
        },
    }
}

#[derive(Deserialize, serde::Serialize, Default)]
struct CheckinForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    at: String,
    #[serde(default)]
    place: String,
    #[serde(default)]
    note: String,
}

async fn checkin_form(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Path(id): Path<String>,
    Form(f): Form<CheckinForm>,
) -> Response {
    let at = match model::parse_moment(&f.at, ctx.now_ms() + 3_600_000) {
        Ok(ms) => Some(kernel::clock::to_rfc3339(ms)),
        Err(_) if f.at.trim().is_empty() => None,
        Err(_) => Some(f.at.clone()),
    };
    let body = api::CheckinBody {
        at,
        place: f.place.clone(),
        note: Some(f.note.clone()).filter(|n| !n.trim().is_empty()),
    };
    let form = kernel::FormState::new("checkin", &f);
    member_step(
        &ctx,
        &p,
        lang,
        &id,
        &f.csrf,
        None,
        form,
        &["at", "place", "note"],
        async { api::add_checkin(&ctx, &p, &id, &body).await.map(|_| ()) },
    )
    .await
}

#[derive(Deserialize, serde::Serialize, Default)]
struct ServiceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    served_on: String,
    #[serde(default)]
    hours: String,
    #[serde(default)]
    description: String,
}

async fn service_form(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Path(id): Path<String>,
    Form(f): Form<ServiceForm>,
) -> Response {
    let h = f.hours.trim().parse::<f64>();
    let step = async {
        let h = h.map_err(|_| AppError::field("hours", "服务时长应为数字,如 1.5"))?;
        api::record_service(
            &ctx,
            &p,
            &api::ServiceBody {
                member_id: id.clone(),
                served_on: f.served_on.clone(),
                hours: h,
                description: f.description.clone(),
                ..Default::default()
            },
        )
        .await
        .map(|_| ())
    };
    let form = kernel::FormState::new("service", &f);
    member_step(
        &ctx,
        &p,
        lang,
        &id,
        &f.csrf,
        None,
        form,
        &["served_on", "hours", "description"],
        step,
    )
    .await
}

#[derive(Deserialize, serde::Serialize, Default)]
struct TransferForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    to_branch_id: String,
    #[serde(default)]
    to_external: String,
    #[serde(default)]
    transferred_on: String,
    #[serde(default)]
    reason: String,
    /// The "cannot be undone" tick.
    #[serde(default)]
    confirmed: String,
}

async fn transfer_form(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Path(id): Path<String>,
    Form(f): Form<TransferForm>,
) -> Response {
    let body = api::TransferBody {
        to_branch_id: Some(f.to_branch_id.clone()).filter(|s| !s.trim().is_empty()),
        to_external: Some(f.to_external.clone()).filter(|s| !s.trim().is_empty()),
        transferred_on: f.transferred_on.clone(),
        reason: Some(f.reason.clone()).filter(|s| !s.trim().is_empty()),
        mode: None,
        version: f.version,
    };
    let form = kernel::FormState::new("transfer", &f);
    let confirmed = f.confirmed == "1";
    let step = async {
        // A transfer out cannot be undone here: it needs the tick, checked
        // on the server (the page's `required` is only a hint).
        if !confirmed {
            return Err(AppError::field("confirmed", lang.t("ux.confirm_missing")));
        }
        api::transfer(&ctx, &p, &id, &body).await.map(|_| ())
    };
    // After a transfer the member is usually out of the caller's reach.
    member_step(
        &ctx,
        &p,
        lang,
        &id,
        &f.csrf,
        Some("/party".into()),
        form,
        &[
            "to_branch_id",
            "to_external",
            "transferred_on",
            "reason",
            "confirmed",
        ],
        step,
    )
    .await
}

#[derive(Deserialize, serde::Serialize, Default)]
struct StatusForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    status: String,
    #[serde(default)]
    date: String,
}

async fn status_form(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Path(id): Path<String>,
    Form(f): Form<StatusForm>,
) -> Response {
    let body = api::StatusBody {
        status: f.status.clone(),
        date: f.date.clone(),
        version: f.version,
    };
    let form = kernel::FormState::new("status", &f);
    member_step(&ctx, &p, lang, &id, &f.csrf, None, form, &["date"], async {
        api::change_status(&ctx, &p, &id, &body).await.map(|_| ())
    })
    .await
}

// ---------------------------------------------------------------- a new member

#[derive(Deserialize, serde::Serialize, Default, Clone)]
struct MemberForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    branch_id: String,
    #[serde(default)]
    group_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    id_card: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    joined_on: String,
    #[serde(default)]
    full_on: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    work_unit: String,
    #[serde(default)]
    whereabouts: String,
    #[serde(default)]
    away_since: String,
    #[serde(default)]
    away_reason: String,
    #[serde(default)]
    vanguard_post: String,
}

#[derive(Template)]
#[template(path = "party_member_new.html")]
struct NewMemberPage {
    shell: Shell,
    fs: kernel::FormState,
    branches: Vec<Choice>,
    groups: Vec<Choice>,
    statuses: Vec<Choice>,
    modes: Vec<Choice>,
    form: MemberForm,
}

#[derive(Deserialize, Default)]
struct BranchQuery {
    branch: Option<String>,
}

async fn render_new_member(
    ctx: &Ctx,
    p: &Principal,
    lang: Lang,
    form: MemberForm,
    fs: kernel::FormState,
) -> AppResult<Response> {
    let scope = api::scope_of(ctx, p).await?;
    let managed: Vec<String> = scope.managed.iter().cloned().collect();
    let orgs = store::orgs_by_ids(&ctx.db, &managed).await?;
    let branches: Vec<Choice> = orgs
        .iter()
        .filter(|o| o.kind == PartyOrgKind::Branch)
        .map(|o| Choice {
            selected: o.id == form.branch_id,
            value: o.id.clone(),
            label: o.name.clone(),
        })
        .collect();
    if branches.is_empty() {
        return Err(AppError::Forbidden);
    }
    let groups = orgs
        .iter()
        .filter(|o| o.kind == PartyOrgKind::Group)
        .map(|o| Choice {
            selected: o.id == form.group_id,
            value: o.id.clone(),
            label: o.name.clone(),
        })
        .collect();
    let statuses = model::MemberStatus::ALL
        .iter()
        .map(|s| Choice {
            selected: s.as_str() == form.status,
            value: s.as_str().into(),
            label: t(lang, "party.status", s.as_str()).into(),
        })
        .collect();
    let modes = ManagementMode::ALL
        .iter()
        .map(|s| Choice {
            selected: s.as_str() == form.mode,
            value: s.as_str().into(),
            label: t(lang, "party.mode", s.as_str()).into(),
        })
        .collect();
    Ok(render(&NewMemberPage {
        shell: Shell::new(lang, "party.new_member", "party", Some(p)),
        fs,
        branches,
        groups,
        statuses,
        modes,
        form,
    }))
}

async fn new_member_page(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    kernel::json::Query(q): kernel::json::Query<BranchQuery>,
) -> Response {
    let form = MemberForm {
        branch_id: q.branch.unwrap_or_default(),
        status: "full".into(),
        mode: "resident".into(),
        ..Default::default()
    };
    render_new_member(&ctx, &p, lang, form, kernel::FormState::none())
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn create_member_form(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Form(f): Form<MemberForm>,
) -> Response {
    if let Err(e) = check_csrf(&p, &f.csrf) {
        return e.into_response();
    }
    let opt = |s: &str| Some(s.to_string()).filter(|s| !s.trim().is_empty());
    let body = api::NewMemberBody {
        branch_id: f.branch_id.clone(),
        group_id: opt(&f.group_id),
        name: f.name.clone(),
        phone: opt(&f.phone),
        id_card: opt(&f.id_card),
        status: f.status.clone(),
        joined_on: opt(&f.joined_on),
        full_on: opt(&f.full_on),
        mode: f.mode.clone(),
        work_unit: opt(&f.work_unit),
        whereabouts: opt(&f.whereabouts),
        away_since: opt(&f.away_since),
        away_reason: opt(&f.away_reason),
        vanguard_post: opt(&f.vanguard_post),
        ..Default::default()
    };
    match api::create_member(&ctx, &p, &body).await {
        Ok(m) => Redirect::to(&format!("/party/members/{}", m.id)).into_response(),
        Err(e) => match kernel::FormState::new("member", &f).refused(&e, MEMBER_FIELDS, lang) {
            Some(fs) => {
                with_error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    render_new_member(&ctx, &p, lang, f, fs),
                )
                .await
            }
            None => e.into_response(),
        },
    }
}

/// The fields of the new-member form that show their own messages.
const MEMBER_FIELDS: &[&str] = &[
    "branch_id",
    "group_id",
    "name",
    "phone",
    "id_card",
    "status",
    "joined_on",
    "full_on",
    "mode",
    "work_unit",
    "whereabouts",
    "away_since",
    "away_reason",
    "vanguard_post",
];

/// The fields of the new-activity form that show their own messages.
const ACTIVITY_FIELDS: &[&str] = &[
    "org_id", "kind", "title", "theme", "held_at", "place", "minutes",
];

// ---------------------------------------------------------------- activities

#[derive(Deserialize, serde::Serialize, Default, Clone)]
struct ActivityForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    org_id: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    theme: String,
    #[serde(default)]
    held_at: String,
    #[serde(default)]
    place: String,
    #[serde(default)]
    minutes: String,
}

#[derive(Template)]
#[template(path = "party_activity_new.html")]
struct NewActivityPage {
    shell: Shell,
    fs: kernel::FormState,
    orgs: Vec<Choice>,
    kinds: Vec<Choice>,
    themes: Vec<&'static str>,
    form: ActivityForm,
}

#[derive(Deserialize, Default)]
struct OrgQuery {
    org: Option<String>,
}

async fn render_new_activity(
    ctx: &Ctx,
    p: &Principal,
    lang: Lang,
    form: ActivityForm,
    fs: kernel::FormState,
) -> AppResult<Response> {
    let scope = api::scope_of(ctx, p).await?;
    let managed: Vec<String> = scope.managed.iter().cloned().collect();
    let orgs: Vec<Choice> = store::orgs_by_ids(&ctx.db, &managed)
        .await?
        .into_iter()
        .map(|o| Choice {
            selected: o.id == form.org_id,
            label: format!("{} ({})", o.name, t(lang, "party.kind", o.kind.as_str())),
            value: o.id,
        })
        .collect();
    if orgs.is_empty() {
        return Err(AppError::Forbidden);
    }
    let kinds = ActivityKind::ALL
        .iter()
        .map(|k| Choice {
            selected: k.as_str() == form.kind,
            value: k.as_str().into(),
            label: t(lang, "party.activity", k.as_str()).into(),
        })
        .collect();
    Ok(render(&NewActivityPage {
        shell: Shell::new(lang, "party.new_activity", "party", Some(p)),
        fs,
        orgs,
        kinds,
        themes: model::THEMES.to_vec(),
        form,
    }))
}

async fn new_activity_page(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    kernel::json::Query(q): kernel::json::Query<OrgQuery>,
) -> Response {
    let form = ActivityForm {
        org_id: q.org.unwrap_or_default(),
        kind: "branch_assembly".into(),
        held_at: local_now(ctx.now_ms()),
        ..Default::default()
    };
    render_new_activity(&ctx, &p, lang, form, kernel::FormState::none())
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn create_activity_form(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Form(f): Form<ActivityForm>,
) -> Response {
    if let Err(e) = check_csrf(&p, &f.csrf) {
        return e.into_response();
    }
    let body = api::ActivityBody {
        org_id: f.org_id.clone(),
        kind: f.kind.clone(),
        title: f.title.clone(),
        theme: Some(f.theme.clone()).filter(|s| !s.trim().is_empty()),
        held_at: f.held_at.clone(),
        place: f.place.clone(),
        minutes: Some(f.minutes.clone()).filter(|s| !s.trim().is_empty()),
    };
    match api::create_activity(&ctx, &p, &body).await {
        Ok(a) => Redirect::to(&format!("/party/activities/{}", a.id)).into_response(),
        Err(e) => match kernel::FormState::new("activity", &f).refused(&e, ACTIVITY_FIELDS, lang) {
            Some(fs) => {
                with_error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    render_new_activity(&ctx, &p, lang, f, fs),
                )
                .await
            }
            None => e.into_response(),
        },
    }
}

pub struct AttendeeItem {
    pub id: String,
    pub name: String,
    pub registered: bool,
    pub present: bool,
    pub excused: bool,
    pub absent: bool,
    pub unset: bool,
}

#[derive(Template)]
#[template(path = "party_activity.html")]
struct ActivityPage {
    shell: Shell,
    /// The refused form (`attendance` or `photo`).
    fs: kernel::FormState,
    id: String,
    title: String,
    kind: &'static str,
    theme: String,
    org: String,
    org_id: String,
    when: String,
    place: String,
    minutes: String,
    present: i64,
    expected: i64,
    manage: bool,
    held: bool,
    attendees: Vec<AttendeeItem>,
    photos: Vec<(String, String)>,
    version: i64,
}

async fn render_activity(
    ctx: &Ctx,
    p: &Principal,
    lang: Lang,
    id: &str,
    fs: kernel::FormState,
) -> AppResult<Response> {
    let scope = api::scope_of(ctx, p).await?;
    let (a, manage) = api::visible_activity(ctx, &scope, id).await?;
    let held = model::attendance_open(a.held_at, ctx.now_ms());
    let org = store::get_org(&ctx.db, &a.party_org_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let d = api::activity_detail(ctx, a, manage).await?;
    let recorded: HashMap<String, AttendanceStatus> = d
        .attendance
        .iter()
        .map(|x| (x.member_id.clone(), x.status))
        .collect();
    let attendees = if manage {
        api::attendees_of(ctx, &org)
            .await?
            .into_iter()
            .map(|m| {
                let st = recorded.get(&m.id).copied();
                AttendeeItem {
                    registered: m.reg_org_id.as_deref() == Some(org.id.as_str()),
                    id: m.id,
                    name: m.profile.name,
                    present: st == Some(AttendanceStatus::Present),
                    excused: st == Some(AttendanceStatus::Excused),
                    absent: st == Some(AttendanceStatus::Absent),
                    unset: st.is_none(),
                }
            })
            .collect()
    } else {
        vec![]
    };
    Ok(render(&ActivityPage {
        shell: Shell::new(lang, "party.activity_title", "party", Some(p))
            .with_title(d.item.title.clone()),
        fs,
        id: d.item.id.clone(),
        title: d.item.title.clone(),
        kind: t(lang, "party.activity", d.item.kind.as_str()),
        theme: d.item.theme.clone().unwrap_or_default(),
        org: d.item.org.name.clone(),
        org_id: d.item.org.id.clone(),
        when: lang.when(&d.item.held_at),
        place: d.item.place.clone(),
        minutes: d.minutes.clone().unwrap_or_default(),
        present: d.item.present,
        expected: d.item.expected,
        manage,
        held,
        attendees,
        photos: d
            .photos
            .iter()
            .map(|ph| (ph.url.clone(), ph.filename.clone()))
            .collect(),
        version: d.item.version,
    }))
}

async fn activity_page(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Response {
    render_activity(&ctx, &p, lang, &id, kernel::FormState::none())
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// The attendance form: one radio group per member, named `a_<member id>`.
async fn attendance_form(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Path(id): Path<String>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let csrf = f
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    if let Err(e) = check_csrf(&p, &csrf) {
        return e.into_response();
    }
    let version = f
        .iter()
        .find(|(k, _)| k == "version")
        .and_then(|(_, v)| v.parse().ok());
    let entries: Vec<model::AttendanceInput> = f
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("a_").map(|m| (m, v)))
        .filter(|(_, v)| !v.is_empty())
        .map(|(m, v)| model::AttendanceInput {
            member_id: m.to_string(),
            status: v.clone(),
        })
        .collect();
    let form = kernel::FormState::new("attendance", &f);
    match api::set_attendance(&ctx, &p, &id, &api::AttendanceBody { entries, version }).await {
        Ok(_) => Redirect::to(&format!("/party/activities/{id}")).into_response(),
        Err(e) => match form.refused(&e, &[], lang) {
            Some(fs) => {
                with_error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    render_activity(&ctx, &p, lang, &id, fs),
                )
                .await
            }
            None => e.into_response(),
        },
    }
}

async fn photo_form(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Path(id): Path<String>,
    kernel::web::Upload(mut form): kernel::web::Upload,
) -> Response {
    let (csrf, file) = match kernel::web::csrf_and_file(&mut form, "photo").await {
        Ok(read) => read,
        Err(e) => return e.into_response(),
    };
    if let Err(e) = check_csrf(&p, &csrf) {
        return e.into_response();
    }
    let result = match file {
        Some((name, data)) => api::add_photo(&ctx, &p, &id, &name, data).await.map(|_| ()),
        None => Err(AppError::field("file", "请选择要上传的照片")),
    };
    match result {
        Ok(()) => Redirect::to(&format!("/party/activities/{id}#photos")).into_response(),
        Err(e) => match kernel::FormState::new("photo", &()).refused(&e, &["file"], lang) {
            Some(fs) => {
                with_error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    render_activity(&ctx, &p, lang, &id, fs),
                )
                .await
            }
            None => e.into_response(),
        },
    }
}
