//! `/insight` pages: the dashboard of an org node (period picker; key
//! figures and the six indicators against the previous period; charts —
//! the indicators' trend, volume by category, channels, top categories —
//! each beside its table; the units one level down with drill-down and a
//! unit × category heat table; the demand list at a building; 下载月报),
//! the league tables with movement arrows and their weights (editable by
//! district and city admins), and the demand lists behind the figures.
//! Plain HTML and server-drawn SVG; no script needed.

use crate::api::{self, DashboardQuery, LeagueQuery, WeightsBody};
use crate::dashboard::{self, Dashboard, League, LeagueKind, Scope};
use crate::model::{self, Criterion, Indicator};
use crate::store::{self, CategoryName, DemandLine};
use crate::svg::{self, Scale, Series, PALETTE};
use accounts::session::check_csrf;
use accounts::Auth;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use cases::rates::{Period, Rates};
use kernel::clock::to_display;
use kernel::i18n::Lang;
use kernel::json::Query;
use kernel::shell::{render, Shell};
use kernel::{AppError, AppResult, Ctx, Principal, Role};
use serde::Deserialize;
use std::collections::HashMap;

pub fn routes() -> Router<Ctx> {
    Router::new()
        .route("/insight", get(index))
        .route("/insight/league", get(league_page))
        .route("/insight/weights", post(weights_form))
        .route("/insight/demands", get(demands_page))
        .route("/surveys", get(surveys_page).post(create_survey_form))
        .route("/surveys/company", post(company_form))
        .route("/surveys/{id}/answer", post(answer_form))
        .route("/surveys/{id}/publish", post(publish_form))
}

// ------------------------------------------------------------------ helpers

fn en(lang: Lang) -> bool {
    lang == Lang::En
}

fn pct(x: f64) -> String {
    model::percent(x)
}

/// "↑3.2" / "↓1.0" / "→" for a change in percentage points, with whether
/// the change is good news (rework: down is good).
fn delta(now: f64, before: f64, higher_is_better: bool) -> (String, &'static str) {
    let d = model::points_change(now, before);
    if d > 0.0 {
        (
            format!("↑{d:.1}"),
            if higher_is_better { "good" } else { "bad" },
        )
    } else if d < 0.0 {
        (
            format!("↓{:.1}", -d),
            if higher_is_better { "bad" } else { "good" },
        )
    } else {
        ("→".into(), "same")
    }
}

/// "↑3" / "↓1" / "→" for a change in a count (more late is bad news).
fn count_delta(now: i64, before: i64, more_is_better: Option<bool>) -> (String, &'static str) {
    let d = now - before;
    let class = |up: bool| match more_is_better {
        None => "same",
        Some(b) if b == up => "good",
        Some(_) => "bad",
    };
    if d > 0 {
        (format!("↑{d}"), class(true))
    } else if d < 0 {
        (format!("↓{}", -d), class(false))
    } else {
        ("→".into(), "same")
    }
}

/// Today (Shanghai day number).
fn today(ctx: &Ctx) -> i64 {
    model::day_of(ctx.now_ms())
}

/// The period asked for, or this month; an invalid one gives the error to
/// show and this month.
fn period_or_default(ctx: &Ctx, from: Option<&str>, to: Option<&str>) -> (Period, Option<String>) {
    let default = || {
        let (_, f, t) = model::presets(today(ctx)).remove(0);
        Period::parse(Some(&f), Some(&t)).expect("valid preset")
    };
    let blank = |s: Option<&str>| s.map(str::trim).unwrap_or("").is_empty();
    if blank(from) && blank(to) {
        return (default(), None);
    }
    match Period::parse(from, to) {
        Ok(p) => (p, None),
        Err(AppError::Validation(f)) => (
            default(),
            Some(
                f.0.values()
                    .flatten()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(";"),
            ),
        ),
        Err(_) => (default(), None),
    }
}

pub struct Preset {
    pub label: &'static str,
    pub from: String,
    pub to: String,
    pub active: bool,
}

fn presets(ctx: &Ctx, lang: Lang, from: &str, to: &str) -> Vec<Preset> {
    model::presets(today(ctx))
        .into_iter()
        .map(|(key, f, t)| Preset {
            label: lang.t(&format!("insight.preset.{key}")),
            active: f == from && t == to,
            from: f,
            to: t,
        })
        .collect()
}

pub struct Crumb {
    pub id: String,
    pub name: String,
    pub current: bool,
}

/// The node's chain from the top of the caller's scope down to it.
async fn crumbs(ctx: &Ctx, p: &Principal, scope: &Scope) -> AppResult<Vec<Crumb>> {
    let Some(node) = &scope.node else {
        return Ok(vec![]);
    };
    let roots = p.roots_for(Role::CASE_STAFF);
    Ok(org::store::ancestors(&ctx.db, &node.org_path)
        .await?
        .into_iter()
        .filter(|a| roots.iter().any(|r| a.org_path.is_within(r)))
        .map(|a| Crumb {
            current: a.id == node.id,
            id: a.id,
            name: a.name,
        })
        .collect())
}

fn org_q(scope: &Scope) -> String {
    scope
        .node
        .as_ref()
        .map(|n| format!("org={}&", n.id))
        .unwrap_or_default()
}

pub struct Tile {
    pub label: &'static str,
    pub value: String,
    pub detail: String,
    pub delta: String,
    pub delta_class: &'static str,
    pub href: String,
}

/// The six rates as cells; "—" where the indicator has no data.
fn rate_cells(r: &Rates) -> Vec<String> {
    Indicator::ALL
        .iter()
        .map(|i| {
            if i.denominator(&r.counts) > 0 {
                pct(i.value(r))
            } else {
                "—".into()
            }
        })
        .collect()
}

pub struct Table {
    pub caption: String,
    pub heads: Vec<String>,
    pub rows: Vec<(String, Vec<String>)>,
}

pub struct Chart {
    pub id: &'static str,
    pub title: String,
    pub svg: String,
    pub table: Table,
}

pub struct UnitView {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub created: i64,
    pub late: i64,
    pub escalated: i64,
    pub rates: Vec<String>,
}

pub struct HeatView {
    pub id: String,
    pub name: String,
    pub cells: Vec<(i64, u8)>,
    pub total: i64,
}

pub struct DemandView {
    pub id: String,
    pub title: String,
    pub category: String,
    pub status: String,
    pub status_label: &'static str,
    pub channel: String,
    pub created: String,
    pub deadline: String,
    pub assignee: String,
    pub overdue: bool,
    pub escalated: bool,
}

fn demand_views(lines: Vec<DemandLine>, cats: &[CategoryName], lang: Lang) -> Vec<DemandView> {
    lines
        .into_iter()
        .map(|l| DemandView {
            category: dashboard::category_label(cats, &l.category, en(lang)),
            status_label: lang.t(&format!("status.{}", l.status)),
            channel: channel_label(&l.channel, lang),
            created: to_display(l.created_at),
            deadline: l.feedback_deadline.map(to_display).unwrap_or_default(),
            assignee: l.assignee.unwrap_or_default(),
            overdue: l.overdue,
            escalated: l.escalation_level > 0,
            status: l.status,
            id: l.id,
            title: l.title,
        })
        .collect()
}

fn channel_label(code: &str, lang: Lang) -> String {
    dashboard::CHANNELS
        .iter()
        .find(|c| c.0 == code)
        .map(|c| if en(lang) { c.2 } else { c.1 }.to_string())
        .unwrap_or_else(|| code.to_string())
}

// ---------------------------------------------------------------- dashboard

#[derive(Deserialize, Default)]
struct IndexQuery {
    org: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

#[derive(Template)]
#[template(path = "insight_index.html")]
struct IndexPage {
    shell: Shell,
    crumb_base: &'static str,
    crumb_extra: String,
    period_action: &'static str,
    period_hidden: String,
    period_extra: String,
    error: Option<String>,
    crumbs: Vec<Crumb>,
    org_id: String,
    title: String,
    from: String,
    to: String,
    prev_from: String,
    prev_to: String,
    presets: Vec<Preset>,
    /// `org=…&from=…&to=…` for links that keep the view.
    q: String,
    month: String,
    tiles: Vec<Tile>,
    indicators: Vec<Tile>,
    wide: Vec<Chart>,
    narrow: Vec<Chart>,
    org_prefix: String,
    rate_heads: Vec<&'static str>,
    units_title: String,
    units: Vec<UnitView>,
    heat_heads: Vec<String>,
    heat: Vec<HeatView>,
    demands: Vec<DemandView>,
    leaf: bool,
}

async fn index(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Query(q): Query<IndexQuery>,
) -> Response {
    let (period, error) = period_or_default(&ctx, q.from.as_deref(), q.to.as_deref());
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let (from, to) = model::period_dates(&period);
    let dq = DashboardQuery {
        org: q.org.clone(),
        from: Some(from),
        to: Some(to),
    };
    match render_index(&ctx, &p, lang, &dq, error).await {
        Ok(mut r) => {
            *r.status_mut() = status;
            r
        }
        Err(e) => e.into_response(),
    }
}

async fn render_index(
    ctx: &Ctx,
    p: &Principal,
    lang: Lang,
    q: &DashboardQuery,
    error: Option<String>,
) -> AppResult<Response> {
    let (scope, period, d) = api::dashboard_for(ctx, p, q).await?;
    let cats = store::category_names(&ctx.db).await?;
    let e = en(lang);
    let leaf = scope
        .node
        .as_ref()
        .is_some_and(|n| !dashboard::drills(n.kind));
    let demands = if leaf {
        demand_views(
            store::filed_list(&ctx.db, &scope.roots, period.from_ms, period.to_ms, 200).await?,
            &cats,
            lang,
        )
    } else {
        vec![]
    };
    let title = match &scope.node {
        Some(n) => format!("{} · {}", lang.t("insight.title"), n.name),
        None => lang.t("insight.title").to_string(),
    };
    let oq = org_q(&scope);
    let q_all = format!("{oq}from={}&to={}", d.from, d.to);
    let mut wide = charts(&d, &cats, lang);
    let narrow = wide.split_off(2);
    let page = IndexPage {
        crumb_base: "/insight",
        crumb_extra: String::new(),
        period_action: "/insight",
        period_hidden: String::new(),
        period_extra: String::new(),
        shell: Shell::new(lang, "insight.title", "insight", Some(p)).with_title(title.clone()),
        error,
        crumbs: crumbs(ctx, p, &scope).await?,
        org_id: scope
            .node
            .as_ref()
            .map(|n| n.id.clone())
            .unwrap_or_default(),
        title,
        presets: presets(ctx, lang, &d.from, &d.to),
        month: model::month_of(&period).unwrap_or_else(|| d.to[..7].to_string()),
        // /work/board is for supervisors only; others get the figure without a dead link.
        tiles: tiles(
            &d,
            lang,
            &q_all,
            !p.roots_for(&[
                kernel::Role::CommunityStaff,
                kernel::Role::StreetAdmin,
                kernel::Role::DistrictAdmin,
                kernel::Role::CityAdmin,
            ])
            .is_empty(),
        ),
        indicators: indicator_tiles(&d, lang),
        wide,
        narrow,
        org_prefix: oq.clone(),
        rate_heads: Indicator::ALL.iter().map(|i| i.label(e)).collect(),
        units_title: units_title(&scope, lang),
        units: d
            .units
            .iter()
            .map(|u| UnitView {
                id: u.org.id.clone(),
                name: u.org.name.clone(),
                kind: u.org.kind.label(e),
                created: u.created,
                late: u.late,
                escalated: u.escalated,
                rates: rate_cells(&u.rates),
            })
            .collect(),
        heat_heads: d
            .heat
            .categories
            .iter()
            .map(|c| dashboard::category_label(&cats, c, e))
            .collect(),
        heat: {
            let max = d
                .heat
                .rows
                .iter()
                .flat_map(|r| r.counts.iter())
                .copied()
                .max()
                .unwrap_or(0);
            d.heat
                .rows
                .iter()
                .map(|r| HeatView {
                    id: r.id.clone(),
                    name: r.name.clone(),
                    cells: r
                        .counts
                        .iter()
                        .map(|n| (*n, model::heat_level(*n, max)))
                        .collect(),
                    total: r.total,
                })
                .collect()
        },
        demands,
        leaf,
        q: q_all,
        prev_from: d.previous.from.clone(),
        prev_to: d.previous.to.clone(),
        from: d.from.clone(),
        to: d.to.clone(),
    };
    Ok(render(&page))
}

fn units_title(scope: &Scope, lang: Lang) -> String {
    match &scope.node {
        Some(n) if n.kind == org::model::OrgKind::Compound => {
            lang.t("insight.units_buildings").into()
        }
        _ => lang.t("insight.units").into(),
    }
}

fn tiles(d: &Dashboard, lang: Lang, q: &str, supervises: bool) -> Vec<Tile> {
    let t = |key: &str| lang.t(key);
    let (cd, cc) = count_delta(d.created, d.previous_created, None);
    let (ld, lc) = count_delta(d.late, d.previous_late, Some(false));
    let (ed, ec) = count_delta(d.escalated, d.previous_escalated, Some(false));
    vec![
        Tile {
            label: t("insight.created"),
            value: d.created.to_string(),
            detail: format!("{} {}", t("insight.previous"), d.previous_created),
            delta: cd,
            delta_class: cc,
            href: format!("/insight/demands?{q}"),
        },
        Tile {
            label: t("insight.late"),
            value: d.late.to_string(),
            detail: format!("{} {}", t("insight.previous"), d.previous_late),
            delta: ld,
            delta_class: lc,
            href: format!("/insight/demands?{q}&list=late"),
        },
        Tile {
            label: t("insight.escalated"),
            value: d.escalated.to_string(),
            detail: format!("{} {}", t("insight.previous"), d.previous_escalated),
            delta: ed,
            delta_class: ec,
            href: String::new(),
        },
        Tile {
            label: t("insight.open_now"),
            value: d.now.open.to_string(),
            detail: format!(
                "{} {} · {} {}",
                t("insight.overdue_now"),
                d.now.overdue,
                t("insight.escalated_now"),
                d.now.escalated
            ),
            delta: String::new(),
            delta_class: "same",
            href: if supervises {
                "/work/board".into()
            } else {
                String::new()
            },
        },
    ]
}

fn indicator_tiles(d: &Dashboard, lang: Lang) -> Vec<Tile> {
    let c = &d.indicators.counts;
    Indicator::ALL
        .iter()
        .map(|i| {
            let now = i.value(&d.indicators);
            let before = i.value(&d.previous_indicators);
            let had = i.denominator(&d.previous_indicators.counts) > 0;
            let (num, den) = match i {
                Indicator::ResponseRate => (c.contacted, c.rated),
                Indicator::ResolutionRate => (c.resolved, c.rated),
                Indicator::SatisfactionRate => (c.satisfied, c.rated),
                Indicator::ClosureRate => (c.closed, c.due - c.suspended),
                Indicator::OnTimeClosureRate => (c.closed_on_time, c.due - c.suspended),
                Indicator::ReworkRate => (c.rework, c.handled),
            };
            let (dl, dc) = delta(now, before, i.higher_is_better());
            let before_text = if had { pct(before) } else { "—".into() };
            Tile {
                label: i.label(en(lang)),
                value: if den > 0 { pct(now) } else { "—".into() },
                detail: format!("{num}/{den} · {} {before_text}", lang.t("insight.previous")),
                delta: match (den > 0 && had, dl.as_str()) {
                    (false, _) => String::new(),
                    (true, "→") => dl,
                    (true, _) => format!("{dl} {}", lang.t("insight.pp")),
                },
                delta_class: dc,
                href: String::new(),
            }
        })
        .collect()
}

fn charts(d: &Dashboard, cats: &[CategoryName], lang: Lang) -> Vec<Chart> {
    let e = en(lang);
    let labels: Vec<String> = d.trend.iter().map(|t| t.label.clone()).collect();
    let mut out = Vec::new();

    // 1. The indicators' trend (a bucket without data is a gap).
    let series: Vec<Series> = Indicator::ALL
        .iter()
        .enumerate()
        .map(|(k, i)| Series {
            name: i.label(e).to_string(),
            values: d
                .trend
                .iter()
                .map(|t| (i.denominator(&t.rates.counts) > 0).then(|| i.value(&t.rates)))
                .collect(),
            color: PALETTE[k],
        })
        .collect();
    let title = lang.t("insight.chart.trend").to_string();
    out.push(Chart {
        id: "trend",
        svg: svg::line_chart("trend", &title, &labels, &series, Scale::Percent),
        table: Table {
            caption: title.clone(),
            heads: std::iter::once(lang.t("insight.date").to_string())
                .chain(Indicator::ALL.iter().map(|i| i.label(e).to_string()))
                .collect(),
            rows: d
                .trend
                .iter()
                .map(|t| {
                    let cells = Indicator::ALL
                        .iter()
                        .map(|i| {
                            if i.denominator(&t.rates.counts) > 0 {
                                pct(i.value(&t.rates))
                            } else {
                                "—".into()
                            }
                        })
                        .collect();
                    (t.label.clone(), cells)
                })
                .collect(),
        },
        title,
    });

    // 2. Volume over time, stacked by the top five categories and the rest.
    let top: Vec<&str> = d
        .by_category
        .iter()
        .take(5)
        .map(|c| c.code.as_str())
        .collect();
    let has_rest = d.by_category.len() > top.len();
    let mut series: Vec<Series> = top
        .iter()
        .enumerate()
        .map(|(k, code)| Series {
            name: dashboard::category_label(cats, code, e),
            values: d
                .trend
                .iter()
                .map(|t| Some(t.by_category.get(*code).copied().unwrap_or(0) as f64))
                .collect(),
            color: PALETTE[k],
        })
        .collect();
    if has_rest {
        series.push(Series {
            name: lang.t("insight.other").to_string(),
            values: d
                .trend
                .iter()
                .map(|t| {
                    Some(
                        t.by_category
                            .iter()
                            .filter(|(c, _)| !top.contains(&c.as_str()))
                            .map(|(_, n)| *n)
                            .sum::<i64>() as f64,
                    )
                })
                .collect(),
            color: PALETTE[7],
        });
    }
    let title = lang.t("insight.chart.volume").to_string();
    let mut heads = vec![lang.t("insight.date").to_string()];
    heads.extend(series.iter().map(|s| s.name.clone()));
    heads.push(lang.t("insight.total").to_string());
    out.push(Chart {
        id: "volume",
        svg: svg::stacked_chart("volume", &title, &labels, &series),
        table: Table {
            caption: title.clone(),
            heads,
            rows: d
                .trend
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let mut cells: Vec<String> = series
                        .iter()
                        .map(|s| format!("{}", s.values[i].unwrap_or(0.0) as i64))
                        .collect();
                    cells.push(t.created.to_string());
                    (t.label.clone(), cells)
                })
                .collect(),
        },
        title,
    });

    // 3. Channels.
    let title = lang.t("insight.chart.channels").to_string();
    let slices: Vec<(String, f64, &'static str)> = d
        .by_channel
        .iter()
        .enumerate()
        .map(|(k, c)| {
            (
                if e { c.name_en.clone() } else { c.name.clone() },
                c.count as f64,
                PALETTE[k % 8],
            )
        })
        .collect();
    out.push(Chart {
        id: "channels",
        svg: svg::donut_chart("channels", &title, &slices),
        table: Table {
            caption: title.clone(),
            heads: vec![
                lang.t("insight.channel").into(),
                lang.t("insight.count").into(),
                lang.t("insight.share").into(),
            ],
            rows: d
                .by_channel
                .iter()
                .map(|c| {
                    (
                        if e { c.name_en.clone() } else { c.name.clone() },
                        vec![c.count.to_string(), pct(c.share)],
                    )
                })
                .collect(),
        },
        title,
    });

    // 4. Top categories.
    let title = lang.t("insight.chart.top").to_string();
    let rows: Vec<(String, f64)> = d
        .top_categories
        .iter()
        .map(|c| {
            (
                if e { c.name_en.clone() } else { c.name.clone() },
                c.count as f64,
            )
        })
        .collect();
    out.push(Chart {
        id: "top",
        svg: svg::bar_chart("top", &title, &rows, Scale::Count, PALETTE[1]),
        table: Table {
            caption: title.clone(),
            heads: vec![
                lang.t("insight.category").into(),
                lang.t("insight.count").into(),
                lang.t("insight.share").into(),
            ],
            rows: d
                .top_categories
                .iter()
                .map(|c| {
                    (
                        if e { c.name_en.clone() } else { c.name.clone() },
                        vec![c.count.to_string(), pct(c.share)],
                    )
                })
                .collect(),
        },
        title,
    });
    out
}

// ------------------------------------------------------------------ league

#[derive(Deserialize, Default)]
struct LeaguePageQuery {
    kind: Option<String>,
    org: Option<String>,
    from: Option<String>,
    to: Option<String>,
    saved: Option<String>,
}

pub struct KindTab {
    pub code: &'static str,
    pub label: &'static str,
    pub active: bool,
}

pub struct LeagueRow {
    pub rank: String,
    pub arrow: String,
    pub arrow_class: &'static str,
    pub movement_label: String,
    pub name: String,
    pub place: String,
    pub href: String,
    pub score: String,
    pub previous_score: String,
    pub rates: Vec<String>,
    pub rated: i64,
    pub due: i64,
}

pub struct WeightInput {
    pub code: &'static str,
    pub label: &'static str,
    pub points: String,
    pub threshold: String,
    pub per_point: String,
    pub ceiling: bool,
}

#[derive(Template)]
#[template(path = "insight_league.html")]
struct LeaguePage {
    shell: Shell,
    crumb_base: &'static str,
    crumb_extra: String,
    period_action: &'static str,
    period_hidden: String,
    period_extra: String,
    error: Option<String>,
    /// The refused weights form: a message next to each bad number.
    fs: kernel::FormState,
    saved: bool,
    crumbs: Vec<Crumb>,
    title: String,
    org_id: String,
    kind: &'static str,
    kind_label: &'static str,
    tabs: Vec<KindTab>,
    from: String,
    to: String,
    prev_from: String,
    prev_to: String,
    presets: Vec<Preset>,
    q: String,
    org_prefix: String,
    rate_heads: Vec<&'static str>,
    rows: Vec<LeagueRow>,
    rules: Vec<(String, String, String, String)>,
    rules_source: String,
    total_points: String,
    editable: bool,
    version: i64,
    inputs: Vec<WeightInput>,
}

async fn league_page(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Query(q): Query<LeaguePageQuery>,
) -> Response {
    let (period, error) = period_or_default(&ctx, q.from.as_deref(), q.to.as_deref());
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let kind = match api::parse_kind(q.kind.as_deref()) {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    let saved = q.saved.is_some();
    match render_league(
        &ctx,
        &p,
        lang,
        kind,
        q.org.as_deref(),
        &period,
        error,
        saved,
        None,
        kernel::FormState::none(),
    )
    .await
    {
        Ok(mut r) => {
            *r.status_mut() = status;
            r
        }
        Err(e) => e.into_response(),
    }
}

/// The form's values when a save was refused, to show them again.
type Draft = Vec<(String, String, String, String)>;

#[allow(clippy::too_many_arguments)]
async fn render_league(
    ctx: &Ctx,
    p: &Principal,
    lang: Lang,
    kind: LeagueKind,
    org: Option<&str>,
    period: &Period,
    error: Option<String>,
    saved: bool,
    draft: Option<&Draft>,
    fs: kernel::FormState,
) -> AppResult<Response> {
    let (from, to) = model::period_dates(period);
    let lq = LeagueQuery {
        kind: Some(kind.as_str().into()),
        org: org.map(str::to_string),
        from: Some(from),
        to: Some(to),
    };
    let league: League = api::league_for(ctx, p, &lq).await?;
    let scope = Scope::for_principal(ctx, p, org).await?;
    let weights = api::weights_for(ctx, p, org).await?;
    let e = en(lang);
    let oq = org_q(&scope);
    let q = format!("{oq}from={}&to={}", league.from, league.to);
    let rows = league
        .items
        .iter()
        .map(|it| {
            let (arrow_class, movement_label) = match (it.movement, it.rank) {
                (Some(m), _) if m > 0 => ("up", format!("{} {m}", lang.t("insight.moved_up"))),
                (Some(m), _) if m < 0 => {
                    ("down", format!("{} {}", lang.t("insight.moved_down"), -m))
                }
                (Some(_), _) => ("same", lang.t("insight.moved_same").to_string()),
                (None, Some(_)) => ("new", lang.t("insight.moved_new").to_string()),
                (None, None) => ("same", lang.t("insight.unranked").to_string()),
            };
            LeagueRow {
                rank: it.rank.map(|r| r.to_string()).unwrap_or_else(|| "—".into()),
                arrow: if e && it.arrow == "新" {
                    "new".into()
                } else {
                    it.arrow.clone()
                },
                arrow_class,
                movement_label,
                name: it.name.clone(),
                place: it.place.clone().unwrap_or_default(),
                href: match kind {
                    LeagueKind::Butler => String::new(),
                    _ => format!(
                        "/insight?org={}&from={}&to={}",
                        it.key, league.from, league.to
                    ),
                },
                score: it
                    .score
                    .map(|s| format!("{s:.2}"))
                    .unwrap_or_else(|| "—".into()),
                previous_score: it
                    .previous_score
                    .map(|s| format!("{s:.2}"))
                    .unwrap_or_else(|| "—".into()),
                rates: rate_cells(&it.rates),
                rated: it.rates.counts.rated,
                due: it.rates.counts.due - it.rates.counts.suspended,
            }
        })
        .collect();
    let rules = league
        .weights
        .criteria
        .iter()
        .map(|c| {
            (
                c.indicator.label(e).to_string(),
                format!("{}", c.points),
                format!(
                    "{} {}",
                    if c.indicator.higher_is_better() {
                        "≥"
                    } else {
                        "≤"
                    },
                    pct(c.threshold)
                ),
                format!("{}", c.per_point),
            )
        })
        .collect();
    let inputs = Indicator::ALL
        .iter()
        .map(|i| {
            let found: Option<&Criterion> =
                league.weights.criteria.iter().find(|c| c.indicator == *i);
            let from_draft = draft.and_then(|d| d.iter().find(|x| x.0 == i.as_str()));
            let (points, threshold, per_point) = match (from_draft, found) {
                (Some(d), _) => (d.1.clone(), d.2.clone(), d.3.clone()),
                (None, Some(c)) => (
                    format!("{}", c.points),
                    format!("{}", model::round2(c.threshold * 100.0)),
                    format!("{}", c.per_point),
                ),
                (None, None) => ("0".into(), String::new(), "1".into()),
            };
            WeightInput {
                code: i.as_str(),
                label: i.label(e),
                points,
                threshold,
                per_point,
                ceiling: !i.higher_is_better(),
            }
        })
        .collect();
    let title = match &scope.node {
        Some(n) => format!("{} · {}", lang.t("insight.league"), n.name),
        None => lang.t("insight.league").to_string(),
    };
    let page = LeaguePage {
        crumb_base: "/insight/league",
        crumb_extra: format!("&kind={}", kind.as_str()),
        period_action: "/insight/league",
        period_hidden: format!(
            "<input type=\"hidden\" name=\"kind\" value=\"{}\">",
            kind.as_str()
        ),
        period_extra: format!("kind={}&", kind.as_str()),
        shell: Shell::new(lang, "insight.league", "insight", Some(p)).with_title(title.clone()),
        error,
        fs,
        saved,
        crumbs: crumbs(ctx, p, &scope).await?,
        title,
        org_id: scope
            .node
            .as_ref()
            .map(|n| n.id.clone())
            .unwrap_or_default(),
        kind: kind.as_str(),
        kind_label: kind.label(e),
        tabs: LeagueKind::ALL
            .iter()
            .map(|k| KindTab {
                code: k.as_str(),
                label: k.label(e),
                active: *k == kind,
            })
            .collect(),
        presets: presets(ctx, lang, &league.from, &league.to),
        q,
        org_prefix: oq.clone(),
        rate_heads: Indicator::ALL.iter().map(|i| i.label(e)).collect(),
        rows,
        rules,
        rules_source: match &league.weights.source {
            Some(s) => format!("{} · {}", lang.t("insight.weights_of"), s.name),
            None => lang.t("insight.weights_default").to_string(),
        },
        total_points: format!("{}", league.weights.total_points),
        editable: weights.editable,
        version: weights.own_version,
        inputs,
        prev_from: league.previous.from.clone(),
        prev_to: league.previous.to.clone(),
        from: league.from,
        to: league.to,
    };
    Ok(render(&page))
}

async fn weights_form(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let field = |k: &str| f.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
    if let Err(e) = check_csrf(&p, &field("csrf")) {
        return e.into_response();
    }
    let (org_s, kind_s, from_s, to_s, version_s) = (
        field("org"),
        field("kind"),
        field("from"),
        field("to"),
        field("version"),
    );
    let mut criteria = Vec::new();
    let mut draft: Draft = Vec::new();
    let mut bad = false;
    // Each number that does not read, by its form field.
    let mut numbers = kernel::FieldErrors::new();
    for i in Indicator::ALL {
        let get = |k: &str| field(&format!("{}_{k}", i.as_str()));
        let (points, threshold, per_point) = (get("points"), get("threshold"), get("per_point"));
        draft.push((
            i.as_str().into(),
            points.clone(),
            threshold.clone(),
            per_point.clone(),
        ));
        let num = |s: &str| s.parse::<f64>().ok().filter(|x| x.is_finite());
        match num(if points.is_empty() { "0" } else { &points }) {
            Some(0.0) => continue,
            Some(pt) => match (
                num(&threshold),
                num(if per_point.is_empty() {
                    "1"
                } else {
                    &per_point
                }),
            ) {
                (Some(t), Some(pp)) => criteria.push(Criterion {
                    indicator: i,
                    points: pt,
                    threshold: t / 100.0,
                    per_point: pp,
                }),
                (t, pp) => {
                    bad = true;
                    if t.is_none() {
                        numbers.add(
                            format!("{}_threshold", i.as_str()),
                            lang.t("insight.weights_numbers"),
                        );
                    }
                    if pp.is_none() {
                        numbers.add(
                            format!("{}_per_point", i.as_str()),
                            lang.t("insight.weights_numbers"),
                        );
                    }
                }
            },
            None => {
                bad = true;
                numbers.add(
                    format!("{}_points", i.as_str()),
                    lang.t("insight.weights_numbers"),
                );
            }
        }
    }
    let org = Some(org_s.as_str()).filter(|s| !s.is_empty());
    let kind = api::parse_kind(Some(&kind_s)).unwrap_or(LeagueKind::Compound);
    let (period, _) = period_or_default(&ctx, Some(&from_s), Some(&to_s));
    let result = if bad {
        Err(AppError::Validation(numbers))
    } else {
        api::save_weights(
            &ctx,
            &p,
            org,
            &WeightsBody {
                criteria: criteria.clone(),
                version: version_s.parse().unwrap_or(0),
            },
        )
        .await
    };
    match result {
        Ok(_) => {
            let (from, to) = model::period_dates(&period);
            let oq = org.map(|o| format!("org={o}&")).unwrap_or_default();
            Redirect::to(&format!(
                "/insight/league?{oq}kind={}&from={from}&to={to}&saved=1#weights",
                kind.as_str()
            ))
            .into_response()
        }
        Err(e @ (AppError::Validation(_) | AppError::Conflict { .. })) => {
            // `criteria[i].points` is the form's `<indicator>_points`; the
            // messages go next to those fields, the rest on top.
            let e = match e {
                AppError::Validation(fe) => {
                    let mut named = kernel::FieldErrors::new();
                    for (k, msgs) in fe.0 {
                        let key = k
                            .strip_prefix("criteria[")
                            .and_then(|r| r.split_once("]."))
                            .and_then(|(i, f)| {
                                let c = criteria.get(i.parse::<usize>().ok()?)?;
                                Some(format!("{}_{f}", c.indicator.as_str()))
                            })
                            .unwrap_or(k);
                        for m in msgs {
                            named.add(key.clone(), m);
                        }
                    }
                    AppError::Validation(named)
                }
                other => other,
            };
            let shown: Vec<String> = Indicator::ALL
                .iter()
                .flat_map(|i| {
                    ["points", "threshold", "per_point"].map(|f| format!("{}_{f}", i.as_str()))
                })
                .collect();
            let shown: Vec<&str> = shown.iter().map(String::as_str).collect();
            let fs = kernel::FormState::new("weights", &f)
                .refused(&e, &shown, lang)
                .unwrap_or_default();
            match render_league(
                &ctx,
                &p,
                lang,
                kind,
                org,
                &period,
                fs.message.clone(),
                false,
                Some(&draft),
                fs,
            )
            .await
            {
                Ok(mut r) => {
                    *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
                    r
                }
                Err(e) => e.into_response(),
            }
        }
        Err(e) => e.into_response(),
    }
}

// ----------------------------------------------------------- demand lists

#[derive(Deserialize, Default)]
struct DemandsQuery {
    org: Option<String>,
    from: Option<String>,
    to: Option<String>,
    list: Option<String>,
}

#[derive(Template)]
#[template(path = "insight_demands.html")]
struct DemandsPage {
    shell: Shell,
    crumb_base: &'static str,
    crumb_extra: String,
    error: Option<String>,
    crumbs: Vec<Crumb>,
    title: String,
    from: String,
    to: String,
    q: String,
    late: bool,
    demands: Vec<DemandView>,
    limit: i64,
}

const LIST_LIMIT: i64 = 500;

async fn demands_page(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Query(q): Query<DemandsQuery>,
) -> Response {
    let (period, error) = period_or_default(&ctx, q.from.as_deref(), q.to.as_deref());
    let late = q.list.as_deref() == Some("late");
    let result = async {
        if p.roots_for(Role::CASE_STAFF).is_empty() {
            return Err(AppError::Forbidden);
        }
        let scope = Scope::for_principal(&ctx, &p, q.org.as_deref()).await?;
        let cats = store::category_names(&ctx.db).await?;
        let lines = if late {
            store::late_list(
                &ctx.db,
                &scope.roots,
                period.from_ms,
                period.to_ms,
                ctx.now_ms(),
                LIST_LIMIT,
            )
            .await?
        } else {
            store::filed_list(
                &ctx.db,
                &scope.roots,
                period.from_ms,
                period.to_ms,
                LIST_LIMIT,
            )
            .await?
        };
        let (from, to) = model::period_dates(&period);
        let name = scope
            .node
            .as_ref()
            .map(|n| n.name.clone())
            .unwrap_or_default();
        let key = if late {
            "insight.late_list"
        } else {
            "insight.demand_list"
        };
        let title = if name.is_empty() {
            lang.t(key).to_string()
        } else {
            format!("{} · {name}", lang.t(key))
        };
        Ok::<_, AppError>(DemandsPage {
            crumb_base: "/insight/demands",
            crumb_extra: if late {
                "&list=late".into()
            } else {
                String::new()
            },
            shell: Shell::new(lang, key, "insight", Some(&p)).with_title(title.clone()),
            error: error.clone(),
            crumbs: crumbs(&ctx, &p, &scope).await?,
            title,
            q: format!("{}from={from}&to={to}", org_q(&scope)),
            from,
            to,
            late,
            demands: demand_views(lines, &cats, lang),
            limit: LIST_LIMIT,
        })
    }
    .await;
    match result {
        Ok(page) => {
            let mut r = render(&page);
            if error.is_some() {
                *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            }
            r
        }
        Err(e) => e.into_response(),
    }
}

// ------------------------------------------------------------ surveys

pub struct ResultView {
    pub grade: String,
    pub grade_code: &'static str,
    pub combined: String,
    pub survey_score: String,
    pub indicator_score: String,
    pub participation: String,
    pub satisfaction: String,
    pub questions: Vec<(&'static str, String)>,
}

pub struct SurveyCard {
    pub id: String,
    pub title: String,
    pub compound: String,
    pub company: String,
    pub open: bool,
    pub status_label: &'static str,
    pub answers: String,
    pub can_answer: bool,
    pub can_publish: bool,
    pub version: i64,
    pub my_scores: Vec<(&'static str, i64)>,
    pub result: Option<ResultView>,
    pub comments: Vec<String>,
}

#[derive(Template)]
#[template(path = "insight_surveys.html")]
struct SurveysPage {
    shell: Shell,
    /// The refused form (`answer-<id>`, `survey`, `company`).
    fs: kernel::FormState,
    done: Option<&'static str>,
    staff: bool,
    compounds: Vec<(String, String)>,
    period_hint: String,
    /// (1-based number, question) for the answer form's fields q1 … q5.
    questions: Vec<(usize, &'static str)>,
    surveys: Vec<SurveyCard>,
}

#[derive(Deserialize, Default)]
struct SurveysQuery {
    done: Option<String>,
}

fn score_text(x: Option<f64>) -> String {
    x.map(|v| format!("{v:.2}")).unwrap_or_else(|| "—".into())
}

fn survey_card(v: crate::survey::SurveyView, lang: Lang) -> SurveyCard {
    let e = en(lang);
    let q = |i: usize| {
        let x = model::QUESTIONS[i];
        if e {
            x.1
        } else {
            x.0
        }
    };
    let result = v.result.as_ref().map(|r| ResultView {
        grade: r
            .grade
            .map(|g| g.label(e).to_string())
            .unwrap_or_else(|| "—".into()),
        grade_code: match r.grade {
            Some(model::Grade::Excellent) => "excellent",
            Some(model::Grade::Good) => "good",
            Some(model::Grade::Pass) => "pass",
            Some(model::Grade::Fail) => "fail",
            None => "none",
        },
        combined: score_text(r.combined),
        survey_score: score_text(r.survey_score),
        indicator_score: score_text(r.indicator_score),
        participation: format!("{}/{} ({})", r.answers, r.households, pct(r.participation)),
        satisfaction: pct(r.satisfaction),
        questions: r
            .question_scores
            .iter()
            .enumerate()
            .map(|(i, s)| (q(i), score_text(*s)))
            .collect(),
    });
    SurveyCard {
        title: format!(
            "{} · {}",
            v.compound.name,
            model::survey_period_label(&v.period, e)
        ),
        compound: v.compound.name.clone(),
        company: v.company.clone().unwrap_or_default(),
        open: v.status == "open",
        status_label: lang.t(if v.status == "open" {
            "insight.survey_open"
        } else {
            "insight.survey_published"
        }),
        answers: v
            .tally
            .as_ref()
            .map(|t| t.answers.to_string())
            .unwrap_or_default(),
        can_answer: v.can_answer,
        can_publish: v.can_publish,
        version: v.version,
        my_scores: v
            .my_answer
            .as_ref()
            .map(|a| {
                a.scores
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (q(i), *s))
                    .collect()
            })
            .unwrap_or_default(),
        result,
        comments: v.comments.clone(),
        id: v.id,
    }
}

async fn render_surveys(
    ctx: &Ctx,
    p: &Principal,
    lang: Lang,
    fs: kernel::FormState,
    done: Option<&'static str>,
) -> AppResult<Response> {
    let surveys = crate::survey::list(ctx, p, None).await?;
    let admin_roots = p.roots_for(Role::ORG_ADMINS);
    let compounds = store::nodes_of_kinds(&ctx.db, &admin_roots, &[org::model::OrgKind::Compound])
        .await?
        .into_iter()
        .map(|n| (n.id, n.name))
        .collect();
    let t = model::date_of_day(today(ctx));
    use chrono::Datelike;
    let page = SurveysPage {
        shell: Shell::new(lang, "insight.surveys", "surveys", Some(p)),
        fs,
        done,
        staff: !p.roots_for(Role::CASE_STAFF).is_empty(),
        compounds,
        period_hint: format!("{}Q{}", t.year(), t.month0() / 3 + 1),
        questions: model::QUESTIONS
            .iter()
            .enumerate()
            .map(|(i, q)| (i + 1, if en(lang) { q.1 } else { q.0 }))
            .collect(),
        surveys: surveys.into_iter().map(|v| survey_card(v, lang)).collect(),
    };
    Ok(render(&page))
}

async fn surveys_page(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Query(q): Query<SurveysQuery>,
) -> Response {
    let done = match q.done.as_deref() {
        Some("answered") => Some("insight.survey_thanks"),
        Some("created") => Some("insight.survey_created"),
        Some("published") => Some("insight.survey_done_published"),
        Some("company") => Some("insight.company_saved"),
        _ => None,
    };
    render_surveys(&ctx, &p, lang, kernel::FormState::none(), done)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// After a form: back to the page, or the page again with the reason (422).
async fn after_form(
    ctx: &Ctx,
    p: &Principal,
    lang: Lang,
    result: AppResult<()>,
    done: &str,
    form: kernel::FormState,
    shown: &[&str],
) -> Response {
    match result {
        Ok(()) => Redirect::to(&format!("/surveys?done={done}")).into_response(),
        Err(e @ (AppError::Validation(_) | AppError::Conflict { .. } | AppError::Forbidden)) => {
            let fs = form.refused(&e, shown, lang).unwrap_or_default();
            match render_surveys(ctx, p, lang, fs, None).await {
                Ok(mut r) => {
                    *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
                    r
                }
                Err(e) => e.into_response(),
            }
        }
        Err(e) => e.into_response(),
    }
}

fn form_field(f: &HashMap<String, String>, k: &str) -> String {
    f.get(k).map(|s| s.trim().to_string()).unwrap_or_default()
}

async fn create_survey_form(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Err(e) = check_csrf(&p, &form_field(&f, "csrf")) {
        return e.into_response();
    }
    let body = crate::survey::NewSurvey {
        compound_id: form_field(&f, "compound_id"),
        period: form_field(&f, "period"),
    };
    let r = crate::survey::create(&ctx, &p, &body).await.map(|_| ());
    let form = kernel::FormState::new("survey", &f);
    after_form(
        &ctx,
        &p,
        lang,
        r,
        "created",
        form,
        &["compound_id", "period"],
    )
    .await
}

async fn company_form(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Err(e) = check_csrf(&p, &form_field(&f, "csrf")) {
        return e.into_response();
    }
    let body = crate::survey::CompanyBody {
        name: form_field(&f, "name"),
    };
    let r = crate::survey::set_company(&ctx, &p, &form_field(&f, "compound_id"), &body)
        .await
        .map(|_| ());
    let form = kernel::FormState::new("company", &f);
    after_form(&ctx, &p, lang, r, "company", form, &["compound_id", "name"]).await
}

async fn answer_form(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Path(id): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Err(e) = check_csrf(&p, &form_field(&f, "csrf")) {
        return e.into_response();
    }
    let scores: Vec<i64> = (0..model::QUESTIONS.len())
        .map(|i| form_field(&f, &format!("q{}", i + 1)).parse().unwrap_or(0))
        .collect();
    let comment = Some(form_field(&f, "comment")).filter(|c| !c.is_empty());
    let body = crate::survey::AnswerBody { scores, comment };
    // `scores[i]` is the form's question `q<i+1>`.
    let r = crate::survey::answer(&ctx, &p, &id, &body)
        .await
        .map(|_| ())
        .map_err(|e| match e {
            AppError::Validation(fe) => {
                let mut named = kernel::FieldErrors::new();
                for (k, msgs) in fe.0 {
                    let key = k
                        .strip_prefix("scores[")
                        .and_then(|r| r.strip_suffix(']'))
                        .and_then(|i| i.parse::<usize>().ok())
                        .map(|i| format!("q{}", i + 1))
                        .unwrap_or(k);
                    for m in msgs {
                        named.add(key.clone(), m);
                    }
                }
                AppError::Validation(named)
            }
            other => other,
        });
    let form = kernel::FormState::new(&format!("answer-{id}"), &f);
    after_form(
        &ctx,
        &p,
        lang,
        r,
        "answered",
        form,
        &["scores", "q1", "q2", "q3", "q4", "q5", "comment"],
    )
    .await
}

async fn publish_form(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Path(id): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Err(e) = check_csrf(&p, &form_field(&f, "csrf")) {
        return e.into_response();
    }
    let body = crate::survey::PublishBody {
        version: form_field(&f, "version").parse().ok(),
    };
    // Publishing fixes the grade for good: it needs the confirming tick,
    // checked here (the page's `required` is only a hint).
    let r = if form_field(&f, "confirmed") == "1" {
        crate::survey::publish(&ctx, &p, &id, &body)
            .await
            .map(|_| ())
    } else {
        crate::survey::visible_survey(&ctx, &p, &id)
            .await
            .and_then(|(_, v)| {
                if v.can_publish {
                    Err(AppError::field("confirmed", lang.t("ux.confirm_missing")))
                } else {
                    Err(AppError::Forbidden)
                }
            })
    };
    let form = kernel::FormState::new(&format!("publish-{id}"), &f);
    after_form(&ctx, &p, lang, r, "published", form, &["confirmed"]).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_say_which_way_is_good() {
        assert_eq!(delta(0.8, 0.7, true), ("↑10.0".into(), "good"));
        assert_eq!(delta(0.1, 0.05, false), ("↑5.0".into(), "bad"));
        assert_eq!(delta(0.5, 0.5, true), ("→".into(), "same"));
        assert_eq!(count_delta(3, 5, Some(false)), ("↓2".into(), "good"));
        assert_eq!(count_delta(5, 3, None), ("↑2".into(), "same"));
    }
}
