//! The figures behind the dashboard, the league tables and the monthly
//! report, computed once here and shown by the API (JSON), the pages (SVG
//! and tables) and the workbook alike. Every indicator comes from
//! [`cases::rates::compute`] / [`cases::rates::by_assignee`] and
//! [`cases::rates::rates_from`] — the one computation path of
//! `/api/v1/insight/rates` — over the node, each time bucket, each unit
//! below and each league entry; [`crate::store`] adds the counts that are
//! not indicators (filings by category and channel, late and escalated
//! demands).

use crate::model::{self, Bucket, BucketKind, Part, Weights};
use crate::store::{self, CategoryName};
use cases::rates::{self, Counts, Period, Rates};
use kernel::{AppError, AppResult, Ctx, Db, OrgPath, Principal, Role};
use org::model::OrgKind;
use org::store::NodeRow;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use utoipa::ToSchema;

#[derive(Serialize, Clone, Debug, PartialEq, ToSchema)]
#[schema(as = InsightOrg)]
pub struct OrgRef {
    pub id: String,
    pub name: String,
    pub kind: OrgKind,
    pub org_path: String,
}

impl From<&NodeRow> for OrgRef {
    fn from(n: &NodeRow) -> Self {
        OrgRef {
            id: n.id.clone(),
            name: n.name.clone(),
            kind: n.kind,
            org_path: n.org_path.as_str().to_string(),
        }
    }
}

/// What a view covers: a node (when there is one) and the subtrees of the
/// caller's case scope within it.
#[derive(Clone, Debug)]
pub struct Scope {
    pub node: Option<NodeRow>,
    pub roots: Vec<OrgPath>,
}

/// `roots` narrowed to `node`'s subtree.
pub fn narrow(roots: &[OrgPath], node: &OrgPath) -> Vec<OrgPath> {
    let mut out: Vec<OrgPath> = Vec::new();
    for r in roots {
        let part = if node.is_within(r) {
            node.clone()
        } else if r.is_within(node) {
            r.clone()
        } else {
            continue;
        };
        if !out.contains(&part) {
            out.push(part);
        }
    }
    out
}

impl Scope {
    /// Staff who work on demands (Role::CASE_STAFF) see their subtrees;
    /// residents, the auditor and others 403. `org` narrows to a node the
    /// caller may see (else 404, exactly as a missing one).
    pub async fn for_principal(ctx: &Ctx, p: &Principal, org: Option<&str>) -> AppResult<Scope> {
        let roots = p.roots_for(Role::CASE_STAFF);
        if roots.is_empty() {
            return Err(AppError::Forbidden);
        }
        match org.map(str::trim).filter(|s| !s.is_empty()) {
            Some(id) => {
                let node = org::api::visible_node(ctx, p, id).await?;
                let narrowed = narrow(&roots, &node.org_path);
                if narrowed.is_empty() {
                    return Err(AppError::NotFound);
                }
                Ok(Scope {
                    node: Some(node),
                    roots: narrowed,
                })
            }
            None => {
                let node = match roots.as_slice() {
                    [only] => org::store::get_node_by_path(&ctx.db, only.as_str()).await?,
                    _ => None,
                };
                Ok(Scope { node, roots })
            }
        }
    }

    /// The whole tree (the command line): its single top node, or all of them.
    pub async fn whole_tree(db: &Db) -> AppResult<Scope> {
        let tops = store::top_nodes(db).await?;
        let roots = tops.iter().map(|n| n.org_path.clone()).collect();
        Ok(Scope {
            node: if tops.len() == 1 {
                tops.into_iter().next()
            } else {
                None
            },
            roots,
        })
    }

    pub fn of_node(node: NodeRow) -> Scope {
        Scope {
            roots: vec![node.org_path.clone()],
            node: Some(node),
        }
    }

    /// The path whose weights apply (the node's, else the first root's).
    pub fn anchor(&self) -> Option<OrgPath> {
        self.node
            .as_ref()
            .map(|n| n.org_path.clone())
            .or_else(|| self.roots.first().cloned())
    }
}

/// Kinds whose children are drilled into (down to the buildings of a
/// compound; a building shows its demands instead).
pub fn drills(kind: OrgKind) -> bool {
    matches!(
        kind,
        OrgKind::City
            | OrgKind::District
            | OrgKind::Street
            | OrgKind::Township
            | OrgKind::Community
            | OrgKind::Village
            | OrgKind::Compound
    )
}

/// The units one level down, each with its part of the scope: the node's
/// children (none below a compound's buildings), or the roots themselves
/// when the scope has no single node.
pub async fn units(db: &Db, scope: &Scope) -> AppResult<Vec<(NodeRow, Vec<OrgPath>)>> {
    let mut out = Vec::new();
    match &scope.node {
        Some(n) if drills(n.kind) => {
            for child in org::store::children(db, &n.id).await? {
                let part = rates::child_roots(&child.org_path, &scope.roots);
                if !part.is_empty() {
                    out.push((child, part));
                }
            }
        }
        Some(_) => {}
        None => {
            for r in &scope.roots {
                if let Some(n) = org::store::get_node_by_path(db, r.as_str()).await? {
                    out.push((n, vec![r.clone()]));
                }
            }
        }
    }
    Ok(out)
}

#[derive(Serialize, Clone, Debug, PartialEq, ToSchema)]
#[schema(as = InsightPeriod)]
pub struct PeriodRef {
    pub from: String,
    pub to: String,
}

impl From<&Period> for PeriodRef {
    fn from(p: &Period) -> Self {
        let (from, to) = model::period_dates(p);
        PeriodRef { from, to }
    }
}

#[derive(Serialize, Clone, Debug, PartialEq, ToSchema)]
#[schema(as = InsightCount)]
pub struct CountItem {
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub count: i64,
    /// Of all filings in the period (0–1).
    pub share: f64,
}

#[derive(Serialize, Clone, Debug, PartialEq, ToSchema)]
#[schema(as = InsightTrendPoint)]
pub struct TrendPoint {
    /// The bucket's first day, `YYYY-MM-DD`.
    pub bucket: String,
    pub label: String,
    pub from: String,
    pub to: String,
    /// Filings in the bucket, in total and by category / channel code.
    pub created: i64,
    pub by_category: BTreeMap<String, i64>,
    pub by_channel: BTreeMap<String, i64>,
    /// The six indicators over the bucket.
    #[serde(flatten)]
    pub rates: Rates,
}

#[derive(Serialize, Clone, Debug, PartialEq, ToSchema)]
#[schema(as = InsightSnapshot)]
pub struct Snapshot {
    pub open: i64,
    pub overdue: i64,
    pub escalated: i64,
}

#[derive(Serialize, Clone, Debug, PartialEq, ToSchema)]
#[schema(as = InsightUnit)]
pub struct UnitStats {
    #[serde(flatten)]
    pub org: OrgRef,
    pub created: i64,
    pub late: i64,
    pub escalated: i64,
    #[serde(flatten)]
    pub rates: Rates,
}

#[derive(Serialize, Clone, Debug, PartialEq, ToSchema)]
#[schema(as = InsightHeatRow)]
pub struct HeatRow {
    pub id: String,
    pub name: String,
    pub counts: Vec<i64>,
    pub total: i64,
}

#[derive(Serialize, Clone, Debug, PartialEq, ToSchema)]
#[schema(as = InsightHeat)]
pub struct Heat {
    /// The columns: categories with filings, in the order of `by_category`.
    pub categories: Vec<String>,
    pub rows: Vec<HeatRow>,
}

#[derive(Serialize, Clone, Debug, PartialEq, ToSchema)]
#[schema(as = InsightDashboard)]
pub struct Dashboard {
    pub org: Option<OrgRef>,
    pub from: String,
    pub to: String,
    pub previous: PeriodRef,
    pub bucket: BucketKind,
    /// Demands filed in the period.
    pub created: i64,
    /// Demands whose feedback deadline fell in the period, has passed, and
    /// was missed (fed back late or not yet); suspended, merged and
    /// rejected ones excepted.
    pub late: i64,
    /// Demands escalated (督办) at least once in the period.
    pub escalated: i64,
    pub previous_created: i64,
    pub previous_late: i64,
    pub previous_escalated: i64,
    /// Open demands right now: all, flagged overdue, escalated.
    pub now: Snapshot,
    pub indicators: Rates,
    pub previous_indicators: Rates,
    pub trend: Vec<TrendPoint>,
    pub by_category: Vec<CountItem>,
    pub by_channel: Vec<CountItem>,
    pub top_categories: Vec<CountItem>,
    pub units: Vec<UnitStats>,
    pub heat: Heat,
}

/// Channels in a fixed order with their names.
pub const CHANNELS: [(&str, &str, &str); 4] = [
    ("web", "网上", "Web"),
    ("phone", "电话", "Phone"),
    ("grid", "网格", "Grid"),
    ("open311", "Open311", "Open311"),
];

fn share(n: i64, of: i64) -> f64 {
    if of > 0 {
        n as f64 / of as f64
    } else {
        0.0
    }
}

/// Filings of one bucket: total, by category, by channel.
type BucketVolume = (i64, BTreeMap<String, i64>, BTreeMap<String, i64>);

/// Finds the bucket holding `day` (buckets are contiguous and sorted).
fn bucket_of(buckets: &[Bucket], day: i64) -> Option<usize> {
    let i = buckets.partition_point(|b| b.to_day <= day);
    (i < buckets.len() && buckets[i].contains(day)).then_some(i)
}

pub async fn dashboard(ctx: &Ctx, scope: &Scope, period: &Period) -> AppResult<Dashboard> {
    let db = &ctx.db;
    let now = ctx.now_ms();
    let roots = &scope.roots;
    let prev = model::previous(period);
    let counts = rates::compute(db, roots, period).await?;
    let prev_counts = rates::compute(db, roots, &prev).await?;
    let cats = store::category_names(db).await?;
    let cat_of = |code: &str| cats.iter().find(|c| c.code == code);

    // Filings by day, category and channel, folded into the buckets.
    let (bucket_kind, buckets) = model::buckets(period);
    let volume = store::volume(db, roots, &buckets).await?;
    let mut per_cat: HashMap<String, i64> = HashMap::new();
    let mut per_channel: HashMap<String, i64> = HashMap::new();
    let mut per_bucket: Vec<BucketVolume> =
        vec![(0, BTreeMap::new(), BTreeMap::new()); buckets.len()];
    let mut created = 0;
    for v in &volume {
        created += v.n;
        *per_cat.entry(v.category.clone()).or_default() += v.n;
        *per_channel.entry(v.channel.clone()).or_default() += v.n;
        if let Some(i) = bucket_of(&buckets, v.day) {
            let b = &mut per_bucket[i];
            b.0 += v.n;
            *b.1.entry(v.category.clone()).or_default() += v.n;
            *b.2.entry(v.channel.clone()).or_default() += v.n;
        }
    }
    let previous_created = store::filed_total(
        db,
        roots,
        cases::rollup::day_of(prev.from_ms),
        cases::rollup::day_of(prev.to_ms),
    )
    .await?;

    // Categories by count (then catalogue order), channels in fixed order.
    let order = |code: &str| {
        cats.iter()
            .position(|c| c.code == code)
            .unwrap_or(usize::MAX)
    };
    let mut by_category: Vec<CountItem> = per_cat
        .iter()
        .map(|(code, n)| {
            let c = cat_of(code);
            CountItem {
                code: code.clone(),
                name: c.map(|c| c.name.clone()).unwrap_or_else(|| code.clone()),
                name_en: c.map(|c| c.name_en.clone()).unwrap_or_else(|| code.clone()),
                count: *n,
                share: share(*n, created),
            }
        })
        .collect();
    by_category.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| order(&a.code).cmp(&order(&b.code)))
            .then_with(|| a.code.cmp(&b.code))
    });
    let mut by_channel: Vec<CountItem> = CHANNELS
        .iter()
        .map(|(code, zh, en)| {
            let n = per_channel.get(*code).copied().unwrap_or(0);
            CountItem {
                code: code.to_string(),
                name: zh.to_string(),
                name_en: en.to_string(),
                count: n,
                share: share(n, created),
            }
        })
        .collect();
    let mut others: Vec<(&String, &i64)> = per_channel
        .iter()
        .filter(|(c, _)| CHANNELS.iter().all(|k| k.0 != c.as_str()))
        .collect();
    others.sort();
    for (code, n) in others {
        by_channel.push(CountItem {
            code: code.clone(),
            name: code.clone(),
            name_en: code.clone(),
            count: *n,
            share: share(*n, created),
        });
    }
    let top_categories: Vec<CountItem> = by_category.iter().take(5).cloned().collect();

    // The six indicators per bucket, each over the bucket's own days.
    let mut trend = Vec::with_capacity(buckets.len());
    for (b, (n, bc, bch)) in buckets.iter().zip(per_bucket) {
        let bp = b.period();
        let c = rates::compute(db, roots, &bp).await?;
        let (from, to) = model::period_dates(&bp);
        trend.push(TrendPoint {
            bucket: b.key.clone(),
            label: b.label.clone(),
            from,
            to,
            created: n,
            by_category: bc,
            by_channel: bch,
            rates: rates::rates_from(&c),
        });
    }

    // 超期: fed back late (rollups) and open past the deadline (live).
    let late = counts.fed_back_late
        + store::open_late(db, roots, period.from_ms, period.to_ms, now).await?;
    let previous_late = prev_counts.fed_back_late
        + store::open_late(db, roots, prev.from_ms, prev.to_ms, now).await?;
    let (escalated, previous_escalated) = (counts.escalated, prev_counts.escalated);
    let (open, overdue, open_escalated) = store::snapshot(db, roots).await?;

    // One level down: filings by category (the heat table), lateness and
    // the indicators of each unit.
    let units = units(db, scope).await?;
    let ranges: Vec<Vec<OrgPath>> = units.iter().map(|u| u.1.clone()).collect();
    let unit_cats = store::unit_categories(
        db,
        &ranges,
        cases::rollup::day_of(period.from_ms),
        cases::rollup::day_of(period.to_ms),
    )
    .await?;
    let unit_open_late =
        store::unit_open_late(db, roots, &ranges, period.from_ms, period.to_ms, now).await?;
    let columns: Vec<String> = by_category.iter().map(|c| c.code.clone()).collect();
    let mut unit_stats = Vec::new();
    let mut heat_rows = Vec::new();
    for (i, (node, part)) in units.iter().enumerate() {
        let c: Counts = rates::compute(db, part, period).await?;
        let mut row = vec![0; columns.len()];
        for (u, code, n) in &unit_cats {
            if *u == i {
                if let Some(j) = columns.iter().position(|c| c == code) {
                    row[j] += n;
                }
            }
        }
        let total: i64 = row.iter().sum();
        unit_stats.push(UnitStats {
            org: OrgRef::from(node),
            created: total,
            late: c.fed_back_late + unit_open_late[i],
            escalated: c.escalated,
            rates: rates::rates_from(&c),
        });
        heat_rows.push(HeatRow {
            id: node.id.clone(),
            name: node.name.clone(),
            counts: row,
            total,
        });
    }

    let (from, to) = model::period_dates(period);
    Ok(Dashboard {
        org: scope.node.as_ref().map(OrgRef::from),
        from,
        to,
        previous: PeriodRef::from(&prev),
        bucket: bucket_kind,
        created,
        late,
        escalated,
        previous_created,
        previous_late,
        previous_escalated,
        now: Snapshot {
            open,
            overdue,
            escalated: open_escalated,
        },
        indicators: rates::rates_from(&counts),
        previous_indicators: rates::rates_from(&prev_counts),
        trend,
        by_category,
        by_channel,
        top_categories,
        units: unit_stats,
        heat: Heat {
            categories: columns,
            rows: heat_rows,
        },
    })
}

// ------------------------------------------------------------------ league

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeagueKind {
    Compound,
    Community,
    Street,
    Butler,
    PropertyCompany,
}

impl LeagueKind {
    pub const ALL: [LeagueKind; 5] = [
        LeagueKind::Compound,
        LeagueKind::Community,
        LeagueKind::Street,
        LeagueKind::Butler,
        LeagueKind::PropertyCompany,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LeagueKind::Compound => "compound",
            LeagueKind::Community => "community",
            LeagueKind::Street => "street",
            LeagueKind::Butler => "butler",
            LeagueKind::PropertyCompany => "property_company",
        }
    }

    pub fn parse(s: &str) -> Option<LeagueKind> {
        LeagueKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label(self, en: bool) -> &'static str {
        match (self, en) {
            (LeagueKind::Compound, false) => "小区",
            (LeagueKind::Community, false) => "社区/村",
            (LeagueKind::Street, false) => "街道/乡镇",
            (LeagueKind::Butler, false) => "楼宇管家",
            (LeagueKind::PropertyCompany, false) => "物业公司",
            (LeagueKind::Compound, true) => "Compounds",
            (LeagueKind::Community, true) => "Communities",
            (LeagueKind::Street, true) => "Streets",
            (LeagueKind::Butler, true) => "Butlers",
            (LeagueKind::PropertyCompany, true) => "Property companies",
        }
    }

    fn kinds(self) -> &'static [OrgKind] {
        match self {
            LeagueKind::Compound => &[OrgKind::Compound],
            LeagueKind::Community => &[OrgKind::Community, OrgKind::Village],
            LeagueKind::Street => &[OrgKind::Street, OrgKind::Township],
            LeagueKind::Butler | LeagueKind::PropertyCompany => &[],
        }
    }
}

#[derive(Serialize, Clone, Debug, PartialEq, ToSchema)]
#[schema(as = LeagueWeights)]
pub struct WeightsView {
    /// The node whose weights apply; null: the defaults.
    pub source: Option<OrgRef>,
    pub criteria: Vec<model::Criterion>,
    pub total_points: f64,
    /// The stored version (0: none stored at the source).
    pub version: i64,
}

/// The weights that apply at `path`, with where they come from.
pub async fn weights_at(db: &Db, path: Option<&OrgPath>) -> AppResult<WeightsView> {
    let stored = match path {
        Some(p) => store::effective_weights(db, p).await?,
        None => None,
    };
    Ok(match stored {
        Some(s) => WeightsView {
            source: org::store::get_node(db, &s.org_id)
                .await?
                .as_ref()
                .map(OrgRef::from),
            total_points: s.weights.total_points(),
            criteria: s.weights.criteria,
            version: s.version,
        },
        None => {
            let w = Weights::default();
            WeightsView {
                source: None,
                total_points: w.total_points(),
                criteria: w.criteria,
                version: 0,
            }
        }
    })
}

#[derive(Serialize, Clone, Debug, PartialEq, ToSchema)]
pub struct LeagueItem {
    pub rank: Option<usize>,
    pub previous_rank: Option<usize>,
    /// Places moved up (+) or down (−) since the previous period; null
    /// when not ranked in both.
    pub movement: Option<i64>,
    pub arrow: String,
    /// The node's id, or the butler's user id.
    pub key: String,
    pub name: String,
    /// Where: the parent node's name, or the butler's place.
    pub place: Option<String>,
    pub org_path: Option<String>,
    pub score: Option<f64>,
    pub previous_score: Option<f64>,
    pub parts: Vec<Part>,
    #[serde(flatten)]
    pub rates: Rates,
}

#[derive(Serialize, Clone, Debug, PartialEq, ToSchema)]
pub struct League {
    pub kind: LeagueKind,
    pub org: Option<OrgRef>,
    pub from: String,
    pub to: String,
    pub previous: PeriodRef,
    pub weights: WeightsView,
    pub items: Vec<LeagueItem>,
}

struct Entry {
    key: String,
    name: String,
    place: Option<String>,
    org_path: Option<OrgPath>,
    now: Counts,
    before: Counts,
}

pub async fn league(
    ctx: &Ctx,
    scope: &Scope,
    kind: LeagueKind,
    period: &Period,
) -> AppResult<League> {
    let db = &ctx.db;
    let prev = model::previous(period);
    let wv = weights_at(db, scope.anchor().as_ref()).await?;
    let weights = Weights {
        criteria: wv.criteria.clone(),
    };
    let mut entries: Vec<Entry> = Vec::new();
    let mut names: HashMap<String, String> = HashMap::new();
    match kind {
        LeagueKind::Butler => {
            let now: HashMap<String, Counts> = rates::by_assignee(db, &scope.roots, period)
                .await?
                .into_iter()
                .map(|(id, _, c)| (id, c))
                .collect();
            let before: HashMap<String, Counts> = rates::by_assignee(db, &scope.roots, &prev)
                .await?
                .into_iter()
                .map(|(id, _, c)| (id, c))
                .collect();
            for (id, name, path) in store::butlers_in(db, &scope.roots).await? {
                let place = match names.get(path.as_str()) {
                    Some(n) => Some(n.clone()),
                    None => {
                        let n = org::store::get_node_by_path(db, path.as_str())
                            .await?
                            .map(|n| n.name);
                        if let Some(n) = &n {
                            names.insert(path.as_str().to_string(), n.clone());
                        }
                        n
                    }
                };
                entries.push(Entry {
                    now: now.get(&id).copied().unwrap_or_default(),
                    before: before.get(&id).copied().unwrap_or_default(),
                    key: id,
                    name,
                    place,
                    org_path: None,
                });
            }
        }
        LeagueKind::PropertyCompany => {
            // A company's figures are those of its compounds in scope.
            let mut groups: Vec<(store::CompanyRow, Vec<OrgPath>)> = Vec::new();
            for (compound, company) in store::compounds_with_companies(db, &scope.roots).await? {
                match groups.iter_mut().find(|g| g.0.id == company.id) {
                    Some(g) => g.1.push(compound.org_path),
                    None => groups.push((company, vec![compound.org_path])),
                }
            }
            for (company, paths) in groups {
                entries.push(Entry {
                    now: rates::compute(db, &paths, period).await?,
                    before: rates::compute(db, &paths, &prev).await?,
                    key: company.id,
                    name: company.name,
                    place: Some(format!("{}个小区", paths.len())),
                    org_path: None,
                });
            }
        }
        _ => {
            for node in store::nodes_of_kinds(db, &scope.roots, kind.kinds()).await? {
                let part = std::slice::from_ref(&node.org_path);
                let now = rates::compute(db, part, period).await?;
                let before = rates::compute(db, part, &prev).await?;
                let place = match &node.parent_id {
                    Some(pid) => match names.get(pid) {
                        Some(n) => Some(n.clone()),
                        None => {
                            let n = org::store::get_node(db, pid).await?.map(|n| n.name);
                            if let Some(n) = &n {
                                names.insert(pid.clone(), n.clone());
                            }
                            n
                        }
                    },
                    None => None,
                };
                entries.push(Entry {
                    key: node.id.clone(),
                    name: node.name.clone(),
                    place,
                    org_path: Some(node.org_path.clone()),
                    now,
                    before,
                });
            }
        }
    }
    let now_scores: Vec<model::Score> = entries
        .iter()
        .map(|e| model::score(&weights, &rates::rates_from(&e.now)))
        .collect();
    let before_scores: Vec<Option<f64>> = entries
        .iter()
        .map(|e| model::score(&weights, &rates::rates_from(&e.before)).score)
        .collect();
    let ranks = model::rank(&now_scores.iter().map(|s| s.score).collect::<Vec<_>>());
    let prev_ranks = model::rank(&before_scores);
    let mut items: Vec<LeagueItem> = entries
        .into_iter()
        .zip(now_scores)
        .enumerate()
        .map(|(i, (e, s))| LeagueItem {
            rank: ranks[i],
            previous_rank: prev_ranks[i],
            movement: model::movement(prev_ranks[i], ranks[i]),
            arrow: model::arrow(prev_ranks[i], ranks[i]),
            key: e.key,
            name: e.name,
            place: e.place,
            org_path: e.org_path.map(|p| p.as_str().to_string()),
            score: s.score,
            previous_score: before_scores[i],
            parts: s.parts,
            rates: rates::rates_from(&e.now),
        })
        .collect();
    items.sort_by(|a, b| {
        a.rank
            .unwrap_or(usize::MAX)
            .cmp(&b.rank.unwrap_or(usize::MAX))
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.key.cmp(&b.key))
    });
    let (from, to) = model::period_dates(period);
    Ok(League {
        kind,
        org: scope.node.as_ref().map(OrgRef::from),
        from,
        to,
        previous: PeriodRef::from(&prev),
        weights: wv,
        items,
    })
}

/// The display name of a category in a language.
pub fn category_label(cats: &[CategoryName], code: &str, en: bool) -> String {
    cats.iter()
        .find(|c| c.code == code)
        .map(|c| {
            if en {
                c.name_en.clone()
            } else {
                c.name.clone()
            }
        })
        .unwrap_or_else(|| code.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> OrgPath {
        OrgPath::parse(s).unwrap()
    }

    #[test]
    fn narrowing_keeps_the_overlap() {
        let roots = [p("/1/2/"), p("/9/")];
        assert_eq!(narrow(&roots, &p("/1/2/3/")), vec![p("/1/2/3/")]);
        assert_eq!(narrow(&roots, &p("/1/")), vec![p("/1/2/")]);
        assert!(narrow(&roots, &p("/5/")).is_empty());
    }

    #[test]
    fn days_find_their_bucket() {
        let per = model::period_of_days(100, 160);
        let (_, b) = model::buckets(&per);
        assert_eq!(bucket_of(&b, 100), Some(0));
        assert_eq!(bucket_of(&b, 106), Some(0));
        assert_eq!(bucket_of(&b, 107), Some(1));
        assert_eq!(bucket_of(&b, 160), Some(b.len() - 1));
        assert_eq!(bucket_of(&b, 161), None);
        assert_eq!(bucket_of(&b, 99), None);
    }

    #[test]
    fn league_kinds_round_trip() {
        for k in LeagueKind::ALL {
            assert_eq!(LeagueKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(LeagueKind::parse("property"), None);
    }
}
