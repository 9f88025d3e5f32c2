//! SQL of the Open311 server: API keys (stored as SHA-256 of the key, each
//! with a service account that files in its name), jurisdictions, the public
//! view of demands and their status changes, and filing a demand the way
//! `cases::api::file_demand` does.

use crate::model::{self, RequestView, UpdateView};
use cases::catalogue::{self, Limits};
use cases::model::{Channel, DemandStatus, NewDemand};
use cases::store::{DemandRow, Filing};
use cases::workflow::Urgency;
use kernel::audit::{self, AuditEntry};
use kernel::db::opt_str;
use kernel::id::new_id;
use kernel::{AppError, AppResult, Ctx, Db, OrgPath};
use org::model::OrgKind;
use org::store::NodeRow;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::{HashMap, HashSet};

/// The demo world's integration key (CONTRACT.md), issued for 离石区.
pub const DEMO_KEY: &str = "lianxin-demo-open311";

/// Nodes that may be named as a `jurisdiction_id` (and own keys): places
/// from the city down to a compound. Buildings, entrances and households
/// never are, so no public list can be narrowed to one household.
pub const JURISDICTION_KINDS: &[OrgKind] = &[
    OrgKind::City,
    OrgKind::District,
    OrgKind::Street,
    OrgKind::Township,
    OrgKind::Community,
    OrgKind::Village,
    OrgKind::Compound,
];

const NODE_COLS: &str = "id, parent_id, kind, code, name, org_path, version";

fn node_from(r: &AnyRow) -> NodeRow {
    NodeRow {
        id: r.get("id"),
        parent_id: opt_str(r, "parent_id"),
        kind: OrgKind::parse(&r.get::<String, _>("kind")).unwrap_or(OrgKind::Household),
        code: r.get("code"),
        name: r.get("name"),
        org_path: OrgPath::from_db(r.get("org_path")),
        version: r.get("version"),
    }
}

/// A bound value of a query built at run time.
enum Bind {
    Str(String),
    Int(i64),
}

fn placeholders(binds: &mut Vec<Bind>, values: impl IntoIterator<Item = String>) -> String {
    let mut out = Vec::new();
    for v in values {
        binds.push(Bind::Str(v));
        out.push(format!("${}", binds.len()));
    }
    out.join(", ")
}

async fn fetch(db: &Db, sql: &str, binds: Vec<Bind>) -> AppResult<Vec<AnyRow>> {
    let mut q = sqlx::query(sql);
    for b in binds {
        q = match b {
            Bind::Str(s) => q.bind(s),
            Bind::Int(i) => q.bind(i),
        };
    }
    Ok(q.fetch_all(db.reader()).await?)
}

// ---------------------------------------------------------------------------
// jurisdictions
// ---------------------------------------------------------------------------

pub enum Jurisdiction {
    Found(NodeRow),
    Missing,
    /// A code shared by several places; the id or the path tells them apart.
    Ambiguous,
}

/// Resolves a `jurisdiction_id`: an org node's id, its org path, or its
/// code (a compound's `XC`, a community's `141102003001`).
pub async fn jurisdiction(db: &Db, given: &str) -> AppResult<Jurisdiction> {
    let given = given.trim();
    let node = if let Some(id) = kernel::id::parse_id(given) {
        org::store::get_node(db, &id).await?
    } else if given.starts_with('/') {
        match OrgPath::parse(given) {
            Some(p) => org::store::get_node_by_path(db, p.as_str()).await?,
            None => None,
        }
    } else if kernel::orgpath::is_valid_code(given) {
        let kinds: Vec<String> = JURISDICTION_KINDS
            .iter()
            .map(|k| k.as_str().to_string())
            .collect();
        let mut binds = vec![Bind::Str(given.to_string())];
        let list = placeholders(&mut binds, kinds);
        let rows = fetch(
            db,
            &format!(
                "SELECT {NODE_COLS} FROM org_nodes WHERE code = $1 AND kind IN ({list}) ORDER BY org_path LIMIT 2"
            ),
            binds,
        )
        .await?;
        match rows.len() {
            0 => None,
            1 => Some(node_from(&rows[0])),
            _ => return Ok(Jurisdiction::Ambiguous),
        }
    } else {
        None
    };
    Ok(match node {
        Some(n) if JURISDICTION_KINDS.contains(&n.kind) => Jurisdiction::Found(n),
        _ => Jurisdiction::Missing,
    })
}

// ---------------------------------------------------------------------------
// API keys
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub org_id: String,
    pub org_name: String,
    pub org_path: OrgPath,
    /// The service account demands filed with this key are created by.
    pub user_id: String,
    pub created_by: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

const KEY_COLS: &str = "k.id, k.name, k.org_id, n.name AS org_name, k.org_path, k.user_id, k.created_by, k.created_at, k.revoked_at";

fn key_from(r: &AnyRow) -> KeyRow {
    KeyRow {
        id: r.get("id"),
        name: r.get("name"),
        org_id: r.get("org_id"),
        org_name: r.get("org_name"),
        org_path: OrgPath::from_db(r.get("org_path")),
        user_id: r.get("user_id"),
        created_by: r.get("created_by"),
        created_at: r.get("created_at"),
        revoked_at: r.try_get::<Option<i64>, _>("revoked_at").ok().flatten(),
    }
}

pub fn key_hash(secret: &str) -> String {
    kernel::crypto::sha256_hex(secret.as_bytes())
}

/// A fresh key: shown once to the admin who asked for it, stored hashed.
pub fn new_secret() -> String {
    format!("lx311_{}", kernel::id::random_token())
}

/// The live (not revoked) key with this secret.
pub async fn key_by_secret(db: &Db, secret: &str) -> AppResult<Option<KeyRow>> {
    if secret.is_empty() || secret.len() > 200 {
        return Ok(None);
    }
    let r = sqlx::query(&format!(
        "SELECT {KEY_COLS} FROM open311_keys k JOIN org_nodes n ON n.id = k.org_id
         WHERE k.key_hash = $1 AND k.revoked_at IS NULL"
    ))
    .bind(key_hash(secret))
    .fetch_optional(db.reader())
    .await?;
    Ok(r.as_ref().map(key_from))
}

pub async fn get_key(db: &Db, id: &str) -> AppResult<Option<KeyRow>> {
    let r = sqlx::query(&format!(
        "SELECT {KEY_COLS} FROM open311_keys k JOIN org_nodes n ON n.id = k.org_id WHERE k.id = $1"
    ))
    .bind(id)
    .fetch_optional(db.reader())
    .await?;
    Ok(r.as_ref().map(key_from))
}

/// Keys within the subtrees, newest first, after the cursor id.
pub async fn keys_in(
    db: &Db,
    roots: &[OrgPath],
    before_id: Option<&str>,
    limit: i64,
) -> AppResult<Vec<KeyRow>> {
    if roots.is_empty() {
        return Ok(vec![]);
    }
    let scope = org::store::scope_sql("k.org_path", roots.len(), 3);
    let sql = format!(
        "SELECT {KEY_COLS} FROM open311_keys k JOIN org_nodes n ON n.id = k.org_id
         WHERE ($1 = '' OR k.id < $1) AND {scope} ORDER BY k.id DESC LIMIT $2"
    );
    let mut q = sqlx::query(&sql)
        .bind(before_id.unwrap_or("").to_string())
        .bind(limit);
    for r in roots {
        q = q.bind(r.as_str().to_string()).bind(r.subtree_end());
    }
    Ok(q.fetch_all(db.reader())
        .await?
        .iter()
        .map(key_from)
        .collect())
}

/// Issues a key for `node`: its service account (no password, inactive, so
/// it can never log in), the key row and the audit row, in one transaction.
pub async fn issue_key(
    ctx: &Ctx,
    actor_id: &str,
    name: &str,
    node: &NodeRow,
    secret: &str,
) -> AppResult<KeyRow> {
    let now = ctx.now_ms();
    let id = new_id();
    let mut tx = ctx.db.begin().await?;
    let user_id = accounts::store::create_user(
        &mut tx,
        &ctx.cipher,
        &format!("open311:{id}"),
        &format!("Open311 · {name}"),
        "!",
        now,
    )
    .await?;
    sqlx::query("UPDATE users SET active = 0 WHERE id = $1")
        .bind(&user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO open311_keys (id, name, key_hash, org_id, org_path, user_id, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(name)
    .bind(key_hash(secret))
    .bind(&node.id)
    .bind(node.org_path.as_str())
    .bind(&user_id)
    .bind(actor_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        ctx.db.backend(),
        AuditEntry {
            at_ms: now,
            actor_id: Some(actor_id),
            action: "open311_key_issued",
            object_type: "open311_key",
            object_id: Some(&id),
            org_path: Some(node.org_path.as_str()),
            detail: json!({"name": name, "org_id": node.id}),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    get_key(&ctx.db, &id).await?.ok_or(AppError::NotFound)
}

/// Revokes a key (once; a second revocation changes nothing).
pub async fn revoke_key(ctx: &Ctx, actor_id: &str, key: &KeyRow) -> AppResult<KeyRow> {
    if key.revoked_at.is_some() {
        return Ok(key.clone());
    }
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let n = sqlx::query(
        "UPDATE open311_keys SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(actor_id)
    .bind(&key.id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n > 0 {
        audit::record(
            &mut tx,
            ctx.db.backend(),
            AuditEntry {
                at_ms: now,
                actor_id: Some(actor_id),
                action: "open311_key_revoked",
                object_type: "open311_key",
                object_id: Some(&key.id),
                org_path: Some(key.org_path.as_str()),
                detail: json!({"name": key.name}),
                ..Default::default()
            },
        )
        .await?;
    }
    tx.commit().await?;
    get_key(&ctx.db, &key.id).await?.ok_or(AppError::NotFound)
}

/// The demo world's key for 离石区, issued by its district admin; a no-op
/// when that place or account is missing or the key exists already.
pub async fn seed_demo_key(ctx: &Ctx) -> AppResult<()> {
    if key_by_secret(&ctx.db, DEMO_KEY).await?.is_some() {
        return Ok(());
    }
    let Some(lishi) = org::store::get_node_by_path(&ctx.db, "/141100/141102/").await? else {
        return Ok(());
    };
    let Some(admin) =
        accounts::store::find_user_by_login(&ctx.db, &ctx.cipher, "district-ls").await?
    else {
        return Ok(());
    };
    issue_key(
        ctx,
        &admin.id,
        "演示集成 demo integration",
        &lishi,
        DEMO_KEY,
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------
// services
// ---------------------------------------------------------------------------

/// A demand category with what the Open311 views need of it.
#[derive(Debug, Clone)]
pub struct ServiceInfo {
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub kind: String,
    pub active: bool,
    pub handler_role: String,
    pub default_urgency: String,
    pub updated_at: i64,
    pub limits: HashMap<String, Limits>,
}

impl ServiceInfo {
    pub fn limits_for(&self, urgency: &str) -> Limits {
        self.limits.get(urgency).copied().unwrap_or_else(|| {
            Limits::default_for(Urgency::parse(urgency).unwrap_or(Urgency::Normal))
        })
    }

    pub fn view(&self) -> model::ServiceView {
        let l = self.limits_for(&self.default_urgency);
        let handler = kernel::Role::parse(&self.handler_role)
            .map(|r| r.label_zh())
            .unwrap_or("物业或社区");
        model::ServiceView {
            code: self.code.clone(),
            name: self.name.clone(),
            description: model::service_description(
                &self.name,
                &self.kind,
                handler,
                l.dispatch_minutes,
                l.feedback_minutes,
                l.natural_clock,
            ),
            keywords: format!(
                "{}, {}, {}",
                self.name_en,
                model::kind_zh(&self.kind),
                self.kind
            ),
            group: model::kind_zh(&self.kind).to_string(),
        }
    }

    pub fn notice(&self, urgency: &str) -> String {
        let l = self.limits_for(urgency);
        model::service_notice(
            &self.name,
            l.dispatch_minutes,
            l.feedback_minutes,
            l.natural_clock,
        )
    }
}

/// Every category (inactive ones too, so old demands keep their names), in
/// catalogue order.
pub async fn services(db: &Db) -> AppResult<Vec<ServiceInfo>> {
    let rows = sqlx::query(
        "SELECT code, name_zh, name_en, kind, active, default_handler_role, default_urgency, updated_at
         FROM demand_categories ORDER BY sort_order, code",
    )
    .fetch_all(db.reader())
    .await?;
    let limits = sqlx::query(
        "SELECT category, urgency, dispatch_minutes, feedback_minutes, natural_clock FROM category_limits",
    )
    .fetch_all(db.reader())
    .await?;
    let mut by_code: HashMap<String, HashMap<String, Limits>> = HashMap::new();
    for r in &limits {
        by_code.entry(r.get("category")).or_default().insert(
            r.get("urgency"),
            Limits {
                dispatch_minutes: r.get("dispatch_minutes"),
                feedback_minutes: r.get("feedback_minutes"),
                natural_clock: r.get::<i64, _>("natural_clock") != 0,
            },
        );
    }
    Ok(rows
        .iter()
        .map(|r| {
            let code: String = r.get("code");
            ServiceInfo {
                limits: by_code.remove(&code).unwrap_or_default(),
                code,
                name: r.get("name_zh"),
                name_en: r.get("name_en"),
                kind: r.get("kind"),
                active: r.get::<i64, _>("active") != 0,
                handler_role: r.get("default_handler_role"),
                default_urgency: r.get("default_urgency"),
                updated_at: r.get("updated_at"),
            }
        })
        .collect())
}

// ---------------------------------------------------------------------------
// requests
// ---------------------------------------------------------------------------

/// What the public list reads of a demand (never its reporter).
struct PublicRow {
    id: String,
    org_path: OrgPath,
    household_id: String,
    building_id: Option<String>,
    category: String,
    description: String,
    anonymous: bool,
    status: DemandStatus,
    urgency: String,
    created_at: i64,
    updated_at: i64,
    feedback_deadline: Option<i64>,
    status_at: Option<i64>,
}

const PUBLIC_COLS: &str = "d.id, d.org_path, d.household_id, d.building_id, d.category, d.description, d.anonymous, d.status, d.urgency, \
d.created_at, d.updated_at, d.feedback_deadline, \
(SELECT MAX(e.at_ms) FROM demand_events e WHERE e.demand_id = d.id AND e.from_status IS NOT NULL AND e.from_status <> e.to_status) AS status_at";

fn public_from(r: &AnyRow) -> PublicRow {
    PublicRow {
        id: r.get("id"),
        org_path: OrgPath::from_db(r.get("org_path")),
        household_id: r.get("household_id"),
        building_id: opt_str(r, "building_id"),
        category: r.get("category"),
        description: r.get("description"),
        anonymous: r.get::<i64, _>("anonymous") != 0,
        status: DemandStatus::parse(&r.get::<String, _>("status"))
            .unwrap_or(DemandStatus::Submitted),
        urgency: r.get("urgency"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
        feedback_deadline: r
            .try_get::<Option<i64>, _>("feedback_deadline")
            .ok()
            .flatten(),
        status_at: r.try_get::<Option<i64>, _>("status_at").ok().flatten(),
    }
}

/// The filters of a public list, already checked.
#[derive(Debug, Default)]
pub struct RequestFilter {
    pub scope: Option<OrgPath>,
    /// When given, the other filters (but the jurisdiction) are ignored.
    pub ids: Option<Vec<String>>,
    pub codes: Option<Vec<String>>,
    pub states: Option<Vec<DemandStatus>>,
    pub start: i64,
    pub end: i64,
    pub limit: i64,
}

/// Demands as the public sees them, newest first.
pub async fn public_requests(ctx: &Ctx, f: &RequestFilter) -> AppResult<Vec<RequestView>> {
    let mut binds: Vec<Bind> = Vec::new();
    let mut wh: Vec<String> = Vec::new();
    if let Some(s) = &f.scope {
        binds.push(Bind::Str(s.as_str().to_string()));
        binds.push(Bind::Str(s.subtree_end()));
        wh.push(format!(
            "d.org_path >= ${} AND d.org_path < ${}",
            binds.len() - 1,
            binds.len()
        ));
    }
    match &f.ids {
        Some(ids) => {
            let ids: Vec<String> = ids.iter().filter_map(|i| kernel::id::parse_id(i)).collect();
            if ids.is_empty() {
                return Ok(vec![]);
            }
            let list = placeholders(&mut binds, ids);
            wh.push(format!("d.id IN ({list})"));
        }
        None => {
            binds.push(Bind::Int(f.start));
            binds.push(Bind::Int(f.end));
            wh.push(format!(
                "d.created_at >= ${} AND d.created_at <= ${}",
                binds.len() - 1,
                binds.len()
            ));
            if let Some(codes) = &f.codes {
                let list = placeholders(&mut binds, codes.iter().cloned());
                wh.push(format!("d.category IN ({list})"));
            }
            if let Some(states) = &f.states {
                if states.is_empty() {
                    return Ok(vec![]);
                }
                let list = placeholders(&mut binds, states.iter().map(|s| s.as_str().to_string()));
                wh.push(format!("d.status IN ({list})"));
            }
        }
    }
    binds.push(Bind::Int(f.limit));
    let sql = format!(
        "SELECT {PUBLIC_COLS} FROM demands d WHERE {} ORDER BY d.created_at DESC, d.id DESC LIMIT ${}",
        if wh.is_empty() {
            "1 = 1".to_string()
        } else {
            wh.join(" AND ")
        },
        binds.len()
    );
    let rows: Vec<PublicRow> = fetch(&ctx.db, &sql, binds)
        .await?
        .iter()
        .map(public_from)
        .collect();
    views(ctx, rows).await
}

/// One demand as the public sees it, within the scope if one is given.
pub async fn public_request(
    ctx: &Ctx,
    id: &str,
    scope: Option<&OrgPath>,
) -> AppResult<Option<RequestView>> {
    let Some(id) = kernel::id::parse_id(id) else {
        return Ok(None);
    };
    let f = RequestFilter {
        scope: scope.cloned(),
        ids: Some(vec![id]),
        limit: 1,
        ..Default::default()
    };
    Ok(public_requests(ctx, &f).await?.into_iter().next())
}

async fn nodes_where(db: &Db, column: &str, values: Vec<String>) -> AppResult<Vec<NodeRow>> {
    let mut out = Vec::new();
    for chunk in values.chunks(200) {
        let mut binds = Vec::new();
        let list = placeholders(&mut binds, chunk.iter().cloned());
        let rows = fetch(
            db,
            &format!("SELECT {NODE_COLS} FROM org_nodes WHERE {column} IN ({list})"),
            binds,
        )
        .await?;
        out.extend(rows.iter().map(node_from));
    }
    Ok(out)
}

/// Turns rows into public views: place names resolved in a few batched
/// queries, free text redacted of the household's residents.
async fn views(ctx: &Ctx, rows: Vec<PublicRow>) -> AppResult<Vec<RequestView>> {
    if rows.is_empty() {
        return Ok(vec![]);
    }
    let services: HashMap<String, ServiceInfo> = services(&ctx.db)
        .await?
        .into_iter()
        .map(|s| (s.code.clone(), s))
        .collect();
    let paths: HashSet<String> = rows
        .iter()
        .flat_map(|r| r.org_path.ancestors_and_self())
        .map(|p| p.as_str().to_string())
        .collect();
    let by_path: HashMap<String, NodeRow> =
        nodes_where(&ctx.db, "org_path", paths.into_iter().collect())
            .await?
            .into_iter()
            .map(|n| (n.org_path.as_str().to_string(), n))
            .collect();
    let building_ids: HashSet<String> = rows.iter().filter_map(|r| r.building_id.clone()).collect();
    let buildings: HashMap<String, NodeRow> =
        nodes_where(&ctx.db, "id", building_ids.into_iter().collect())
            .await?
            .into_iter()
            .map(|n| (n.id.clone(), n))
            .collect();
    let households: Vec<String> = rows
        .iter()
        .map(|r| r.household_id.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut names: HashMap<String, Vec<String>> = HashMap::new();
    for chunk in households.chunks(200) {
        let mut binds = Vec::new();
        let list = placeholders(&mut binds, chunk.iter().cloned());
        for r in fetch(
            &ctx.db,
            &format!("SELECT household_id, name FROM residents WHERE household_id IN ({list})"),
            binds,
        )
        .await?
        {
            names
                .entry(r.get("household_id"))
                .or_default()
                .push(r.get("name"));
        }
    }

    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let chain: Vec<&NodeRow> = r
            .org_path
            .ancestors_and_self()
            .iter()
            .filter_map(|p| by_path.get(p.as_str()))
            .collect();
        let compound = chain
            .iter()
            .rev()
            .find(|n| matches!(n.kind, OrgKind::Compound | OrgKind::Village));
        let agency = compound.or_else(|| {
            chain.iter().rev().find(|n| {
                matches!(
                    n.kind,
                    OrgKind::Community | OrgKind::Street | OrgKind::Township | OrgKind::District
                )
            })
        });
        let building = r
            .building_id
            .as_ref()
            .and_then(|b| buildings.get(b))
            .filter(|b| b.kind == OrgKind::Building);
        // What could name the household in free text: its residents, and
        // the names of the nodes below the building (entrance, room).
        let mut secret: Vec<&str> = names
            .get(&r.household_id)
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default();
        for n in &chain {
            if matches!(n.kind, OrgKind::Household | OrgKind::Entrance) {
                secret.push(n.name.as_str());
            }
        }
        let service = services.get(&r.category);
        out.push(RequestView {
            id: r.id,
            status: r.status,
            service_code: r.category.clone(),
            service_name: service
                .map(|s| s.name.clone())
                .unwrap_or_else(|| r.category.clone()),
            description: model::redact(&r.description, &secret),
            agency_responsible: agency.map(|n| n.name.clone()),
            service_notice: service.map(|s| s.notice(&r.urgency)),
            requested_ms: r.created_at,
            updated_ms: model::updated_ms(r.status, r.updated_at, r.status_at),
            expected_ms: r.feedback_deadline,
            address: model::address(
                compound.map(|c| c.name.as_str()),
                building.map(|b| b.name.as_str()),
                r.anonymous,
            ),
        });
    }
    Ok(out)
}

/// Status changes (FixMyStreet's `servicerequestupdates`): every event that
/// moved a demand from one workflow state to another, oldest first.
pub async fn updates(
    db: &Db,
    scope: Option<&OrgPath>,
    start: i64,
    end: i64,
    limit: i64,
) -> AppResult<Vec<UpdateView>> {
    let mut binds = vec![Bind::Int(start), Bind::Int(end), Bind::Int(limit)];
    let mut scope_sql = String::new();
    if let Some(s) = scope {
        binds.push(Bind::Str(s.as_str().to_string()));
        binds.push(Bind::Str(s.subtree_end()));
        scope_sql = "AND d.org_path >= $4 AND d.org_path < $5".into();
    }
    let sql = format!(
        "SELECT e.id, e.demand_id, e.at_ms, e.to_status FROM demand_events e JOIN demands d ON d.id = e.demand_id
         WHERE e.from_status IS NOT NULL AND e.from_status <> e.to_status AND e.at_ms >= $1 AND e.at_ms <= $2 {scope_sql}
         ORDER BY e.at_ms, e.id LIMIT $3"
    );
    Ok(fetch(db, &sql, binds)
        .await?
        .iter()
        .filter_map(|r| {
            Some(UpdateView {
                update_id: r.get("id"),
                service_request_id: r.get("demand_id"),
                status: DemandStatus::parse(&r.get::<String, _>("to_status"))?,
                at_ms: r.get("at_ms"),
            })
        })
        .collect())
}

/// The latest change to the catalogue, for the discovery changeset.
pub async fn catalogue_changed_at(db: &Db) -> AppResult<i64> {
    let r = sqlx::query("SELECT MAX(updated_at) FROM demand_categories")
        .fetch_one(db.reader())
        .await?;
    Ok(r.try_get::<Option<i64>, _>(0).ok().flatten().unwrap_or(0))
}

// ---------------------------------------------------------------------------
// filing
// ---------------------------------------------------------------------------

/// Where a demand filed over Open311 lands.
pub struct Placement {
    /// A household (when `account_id` named its resident), else the
    /// compound or village itself.
    pub place: NodeRow,
    pub building_id: Option<String>,
    /// The resident who asked (the `account_id` user), if any.
    pub reporter: Option<String>,
}

/// Files the demand as `cases::api::file_demand` does — the category's
/// default urgency, its dispatch limit on the working calendar, the first
/// event and the audit row in one transaction — with channel `open311`,
/// created by the key's service account.
pub async fn file(
    ctx: &Ctx,
    key: &KeyRow,
    new: &NewDemand,
    at: &Placement,
) -> AppResult<DemandRow> {
    let now = ctx.now_ms();
    let (_, urgency) = cases::store::category_defaults(&ctx.db, &new.category).await?;
    let urgency = Urgency::parse(&urgency).unwrap_or(Urgency::Normal);
    let limits = catalogue::limits(&ctx.db, &new.category, urgency).await?;
    let dispatch_deadline = ctx
        .calendar()
        .deadline(now, limits.dispatch_minutes, limits.basis());
    let mut tx = ctx.db.begin().await?;
    let row = cases::store::insert_demand(
        &mut tx,
        new,
        &Filing {
            urgency: urgency.as_str(),
            dispatch_deadline,
            household_id: &at.place.id,
            household_path: &at.place.org_path,
            building_id: at.building_id.as_deref(),
            channel: Channel::Open311.as_str(),
            reporter_user_id: at.reporter.as_deref(),
            created_by: &key.user_id,
        },
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        ctx.db.backend(),
        AuditEntry {
            at_ms: now,
            actor_id: Some(&key.user_id),
            action: "demand_created",
            object_type: "demand",
            object_id: Some(&row.id),
            org_path: Some(row.org_path.as_str()),
            detail: json!({"category": row.category, "channel": row.channel, "open311_key": key.id}),
            ..Default::default()
        },
    )
    .await?;
    cases::notices::on_filed(&mut tx, ctx.db.backend(), &row, &key.user_id, now).await?;
    tx.commit().await?;
    Ok(row)
}

/// The buildings of a compound or village, for matching `address_string`.
pub async fn buildings_of(db: &Db, compound: &NodeRow) -> AppResult<Vec<NodeRow>> {
    Ok(org::store::children(db, &compound.id)
        .await?
        .into_iter()
        .filter(|n| n.kind == OrgKind::Building)
        .collect())
}
