//! SQL of the notify module: outbox, fan-out, inboxes, subscriptions,
//! webhook endpoints and their deliveries. One SQL text for SQLite and
//! PostgreSQL; where PostgreSQL needs serialising (the per-user sequence),
//! a transaction-scoped advisory lock does it.

use crate::model::{Event, Hint, WebhookScope};
use kernel::db::{opt_str, Val, Writes};
use kernel::id::new_id;
use kernel::rows::Columns;
use kernel::{AppResult, Backend, Db, OrgPath, Role, Tx};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::BTreeSet;

fn opt_i64(r: &AnyRow, c: &str) -> Option<i64> {
    r.try_get::<Option<i64>, _>(c).ok().flatten()
}

/// Rows (or ids) per statement of the fan-out's batches: a few statement
/// texts, so the connections' statement caches stay small.
const STATEMENT_SIZES: &[usize] = &[128, 32, 8, 1];

fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------- outbox

/// Writes `e` to the outbox inside the caller's transaction. An event whose
/// `dedupe_key` is already there is skipped (returns None); else its id.
pub async fn insert_event(tx: &mut Tx, e: &Event, at_ms: i64) -> AppResult<Option<String>> {
    let (id, sql, vals) = outbox_insert(e, at_ms);
    let n = kernel::db::bind_all(sqlx::query(sql), &vals)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok((n == 1).then_some(id))
}

/// [`insert_event`] as a write added to `w` (its outcome unknown to the caller).
pub fn push_event(w: &mut Writes, e: &Event, at_ms: i64) {
    let (_, sql, vals) = outbox_insert(e, at_ms);
    w.push(sql, vals);
}

fn outbox_insert(e: &Event, at_ms: i64) -> (String, &'static str, Vec<Val>) {
    let id = new_id();
    let audience = serde_json::to_string(&e.audience).unwrap_or_else(|_| "[]".into());
    let vals = vec![
        (&id).into(),
        (&e.kind).into(),
        e.org_path.as_str().into(),
        (&e.object_type).into(),
        (&e.object_id).into(),
        (&e.actor).into(),
        audience.into(),
        e.webhooks.as_str().into(),
        (&e.title).into(),
        (&e.body).into(),
        (&e.link).into(),
        e.payload.to_string().into(),
        (&e.dedupe_key).into(),
        at_ms.into(),
    ];
    (
        id,
        "INSERT INTO notify_outbox (id, kind, org_path, object_type, object_id, actor_id, audience, webhooks, title, body, link, payload, dedupe_key, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (dedupe_key) DO NOTHING",
        vals,
    )
}

#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub id: String,
    pub kind: String,
    pub org_path: OrgPath,
    pub object_type: String,
    pub object_id: Option<String>,
    pub actor_id: Option<String>,
    pub audience: Vec<Hint>,
    pub webhooks: WebhookScope,
    pub title: String,
    pub body: Option<String>,
    pub link: Option<String>,
    pub payload: serde_json::Value,
    pub created_at: i64,
}

const OUTBOX_COLS: &str = "id, kind, org_path, object_type, object_id, actor_id, audience, webhooks, title, body, link, payload, created_at";

fn outbox_from(r: &AnyRow) -> OutboxRow {
    OutboxRow {
        id: r.get("id"),
        kind: r.get("kind"),
        org_path: OrgPath::from_db(r.get("org_path")),
        object_type: r.get("object_type"),
        object_id: opt_str(r, "object_id"),
        actor_id: opt_str(r, "actor_id"),
        audience: serde_json::from_str(&r.get::<String, _>("audience")).unwrap_or_default(),
        webhooks: WebhookScope::parse(&r.get::<String, _>("webhooks")),
        title: r.get("title"),
        body: opt_str(r, "body"),
        link: opt_str(r, "link"),
        payload: serde_json::from_str(&r.get::<String, _>("payload"))
            .unwrap_or(serde_json::Value::Null),
        created_at: r.get("created_at"),
    }
}

/// Events not yet fanned out, oldest first.
pub async fn pending_events(db: &Db, limit: i64) -> AppResult<Vec<OutboxRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {OUTBOX_COLS} FROM notify_outbox WHERE fanned_out_at IS NULL ORDER BY created_at, id LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    Ok(rows.iter().map(outbox_from).collect())
}

pub async fn get_event(db: &Db, id: &str) -> AppResult<Option<OutboxRow>> {
    let r = sqlx::query(&format!(
        "SELECT {OUTBOX_COLS} FROM notify_outbox WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db.reader())
    .await?;
    Ok(r.as_ref().map(outbox_from))
}

/// Marks the events as being fanned out by this transaction; the ids of
/// those it claimed (another worker may have got to some first).
pub async fn claim_events(
    tx: &mut Tx,
    backend: Backend,
    ids: &[&str],
    now: i64,
) -> AppResult<BTreeSet<String>> {
    if backend == Backend::Postgres {
        // Fan-outs append to per-user sequences: one at a time.
        sqlx::query("SELECT pg_advisory_xact_lock(7240011)")
            .execute(&mut **tx)
            .await?;
    }
    let mut claimed = BTreeSet::new();
    for (sql, args) in claim_reads(ids, now) {
        for r in kernel::db::bind_all(sqlx::query(&sql), &args)
            .fetch_all(&mut **tx)
            .await?
        {
            claimed.insert(r.get::<String, _>(0));
        }
    }
    Ok(claimed)
}

/// The statements that claim `ids` (a few hundred to each), answering the
/// ids claimed.
pub fn claim_reads(ids: &[&str], now: i64) -> Vec<(String, Vec<Val>)> {
    kernel::db::in_sizes(ids, STATEMENT_SIZES)
        .into_iter()
        .map(|chunk| {
            let sql = format!(
                "UPDATE notify_outbox SET fanned_out_at = $1 WHERE fanned_out_at IS NULL AND id IN ({}) RETURNING id",
                placeholders(2, chunk.len())
            );
            let mut args: Vec<Val> = vec![now.into()];
            args.extend(chunk.iter().map(|id| Val::from(*id)));
            (sql, args)
        })
        .collect()
}

/// Who hears an event (its recipients) and the webhooks (id, node) it
/// goes to.
pub type Plan = (Vec<String>, Vec<(String, String)>);

/// The reads of a batch, each distinct one asked once (events of one
/// household or node ask the same questions).
#[derive(Default)]
struct Reads {
    asked: Vec<(String, Vec<Val>)>,
    index: std::collections::HashMap<String, usize>,
}

impl Reads {
    fn ask(&mut self, sql: String, args: Vec<Val>) -> usize {
        let key = format!("{sql}\u{0}{args:?}");
        let next = self.asked.len();
        *self.index.entry(key).or_insert_with(|| {
            self.asked.push((sql, args));
            next
        })
    }
}

/// What one event asked: the reads naming its recipients, its webhooks'.
struct Asked {
    people: Vec<usize>,
    webhooks: Option<usize>,
}

/// For each of `events`: everyone who hears it (the people it names, the
/// holders of subscribed roles over its place, followers of its object;
/// active accounts only, never its actor) and the active endpoints that hear
/// it (by their node and their kind filter). Every read of the batch goes in
/// two trips (`Db::rows_many`): the candidates, then which are active.
/// Read outside the fan-out's transaction: it needs no lock, and the writer
/// is held only for the writes.
pub async fn plans(db: &Db, events: &[OutboxRow]) -> AppResult<Vec<Plan>> {
    let mut reads = Reads::default();
    let asked: Vec<Asked> = events.iter().map(|e| ask(&mut reads, e)).collect();
    let answers = db.rows_many(reads.asked).await?;
    let mut candidates: Vec<BTreeSet<String>> = Vec::with_capacity(events.len());
    for (e, a) in events.iter().zip(&asked) {
        let mut out: BTreeSet<String> = BTreeSet::new();
        for h in &e.audience {
            if let Hint::User { id } = h {
                out.insert(id.clone());
            }
        }
        for &i in &a.people {
            out.extend(answers[i].iter().map(|r| r.text("user_id")));
        }
        if let Some(actor) = &e.actor_id {
            out.remove(actor);
        }
        candidates.push(out);
    }
    // Active accounts only.
    let everyone: BTreeSet<&String> = candidates.iter().flatten().collect();
    let everyone: Vec<&String> = everyone.into_iter().collect();
    let checks: Vec<(String, Vec<Val>)> = kernel::db::in_sizes(&everyone, STATEMENT_SIZES)
        .into_iter()
        .map(|chunk| {
            (
                format!(
                    "SELECT id FROM users WHERE active = 1 AND id IN ({})",
                    placeholders(1, chunk.len())
                ),
                chunk.iter().map(|id| Val::from(*id)).collect(),
            )
        })
        .collect();
    let active: BTreeSet<String> = db
        .rows_many(checks)
        .await?
        .iter()
        .flat_map(|rows| rows.iter().map(|r| r.text("id")).collect::<Vec<_>>())
        .collect();
    Ok(events
        .iter()
        .zip(asked)
        .zip(candidates)
        .map(|((e, a), people)| {
            let people = people.into_iter().filter(|u| active.contains(u)).collect();
            let hooks = a
                .webhooks
                .map(|i| {
                    answers[i]
                        .iter()
                        .filter(|r| kinds_match(&r.text("kinds"), &e.kind))
                        .map(|r| (r.text("id"), r.text("org_path")))
                        .collect()
                })
                .unwrap_or_default();
            (people, hooks)
        })
        .collect())
}

/// The reads that name `e`'s candidates and its endpoints.
fn ask(reads: &mut Reads, e: &OutboxRow) -> Asked {
    let mut people = Vec::new();
    for h in &e.audience {
        match h {
            Hint::User { .. } => {}
            Hint::Household { id } => people.push(reads.ask(
                "SELECT DISTINCT user_id FROM residents WHERE household_id = $1 AND user_id IS NOT NULL".into(),
                vec![id.into()],
            )),
            Hint::RolesAt { org_path, roles } => {
                if roles.is_empty() {
                    continue;
                }
                let sql = format!(
                    "SELECT DISTINCT user_id FROM role_grants WHERE org_path = $1 AND revoked_at IS NULL AND role IN ({})",
                    placeholders(2, roles.len())
                );
                let mut args: Vec<Val> = vec![org_path.as_str().into()];
                args.extend(roles.iter().map(|r| Val::from(r.as_str())));
                people.push(reads.ask(sql, args));
            }
        }
    }
    // Role subscriptions: the subscription's node covers the event, and the
    // holder's grant covers it too.
    let chain = e.org_path.ancestors_and_self();
    let mut paths: Vec<String> = vec!["/".into()];
    paths.extend(chain.iter().map(|p| p.as_str().to_string()));
    let n = paths.len();
    let sql = format!(
        "SELECT DISTINCT g.user_id AS user_id FROM notify_subscriptions s
         JOIN role_grants g ON g.role = s.role AND g.revoked_at IS NULL
         WHERE s.active = 1 AND s.role IS NOT NULL AND s.user_id IS NULL AND (s.kind = $1 OR s.kind = '*')
           AND s.org_path IN ({}) AND g.org_path IN ({})",
        placeholders(2, n),
        placeholders(2 + n, n)
    );
    let mut args: Vec<Val> = vec![e.kind.as_str().into()];
    args.extend(paths.iter().chain(paths.iter()).map(Val::from));
    people.push(reads.ask(sql, args));
    // Personal follows of the object.
    if let Some(oid) = &e.object_id {
        people.push(reads.ask(
            "SELECT DISTINCT user_id FROM notify_subscriptions
             WHERE active = 1 AND user_id IS NOT NULL AND object_type = $1 AND object_id = $2 AND (kind = $3 OR kind = '*')"
                .into(),
            vec![e.object_type.as_str().into(), oid.into(), e.kind.as_str().into()],
        ));
    }
    let hook_paths: Vec<String> = match e.webhooks {
        WebhookScope::None => vec![],
        WebhookScope::Exact => vec![e.org_path.as_str().to_string()],
        WebhookScope::Covering => e
            .org_path
            .ancestors_and_self()
            .iter()
            .map(|p| p.as_str().to_string())
            .collect(),
    };
    let webhooks = (!hook_paths.is_empty()).then(|| {
        reads.ask(
            format!(
                "SELECT id, org_path, kinds FROM notify_webhooks WHERE active = 1 AND deleted_at IS NULL AND org_path IN ({}) ORDER BY id",
                placeholders(1, hook_paths.len())
            ),
            hook_paths.iter().map(Val::from).collect(),
        )
    });
    Asked { people, webhooks }
}

/// The last inbox sequence number of each of `users` (absent: none yet).
pub async fn last_inbox_seqs(
    tx: &mut Tx,
    users: &BTreeSet<&str>,
) -> AppResult<std::collections::HashMap<String, i64>> {
    let mut out = std::collections::HashMap::with_capacity(users.len());
    for (sql, args) in last_seq_reads(users) {
        for r in kernel::db::bind_all(sqlx::query(&sql), &args)
            .fetch_all(&mut **tx)
            .await?
        {
            out.insert(r.get::<String, _>(0), r.get::<i64, _>(1));
        }
    }
    Ok(out)
}

/// The reads behind [`last_inbox_seqs`]: rows of `user_id`, `last_seq`.
pub fn last_seq_reads(users: &BTreeSet<&str>) -> Vec<(String, Vec<Val>)> {
    let users: Vec<&str> = users.iter().copied().collect();
    kernel::db::in_sizes(&users, STATEMENT_SIZES)
        .into_iter()
        .map(|chunk| {
            (
                format!(
                    "SELECT user_id, CAST(MAX(seq) AS BIGINT) AS last_seq FROM notify_inbox WHERE user_id IN ({}) GROUP BY user_id",
                    placeholders(1, chunk.len())
                ),
                chunk.iter().map(|u| Val::from(*u)).collect(),
            )
        })
        .collect()
}

/// One inbox item to write: `seq` is the user's next sequence number.
pub struct NewInboxItem<'a> {
    pub user_id: &'a str,
    pub seq: i64,
    pub event: &'a OutboxRow,
}

/// Appends inbox items, a few hundred to a statement.
pub async fn insert_inbox_items(tx: &mut Tx, items: &[NewInboxItem<'_>]) -> AppResult<()> {
    let mut w = Writes::new();
    push_inbox_items(&mut w, items);
    w.run(tx).await?;
    Ok(())
}

/// Adds the inserts of `items` to `w`, a few hundred to a statement.
pub fn push_inbox_items(w: &mut Writes, items: &[NewInboxItem<'_>]) {
    const COLS: usize = 12;
    for chunk in kernel::db::in_sizes(items, STATEMENT_SIZES) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("({})", placeholders(1 + i * COLS, COLS)))
            .collect();
        let sql = format!(
            "INSERT INTO notify_inbox (id, user_id, seq, event_id, kind, title, body, link, object_type, object_id, org_path, created_at)
             VALUES {}",
            values.join(", ")
        );
        let mut vals: Vec<Val> = Vec::with_capacity(chunk.len() * COLS);
        for it in chunk {
            let e = it.event;
            vals.extend([
                new_id().into(),
                it.user_id.into(),
                it.seq.into(),
                Val::from(&e.id),
                Val::from(&e.kind),
                Val::from(&e.title),
                Val::from(&e.body),
                Val::from(&e.link),
                Val::from(&e.object_type),
                Val::from(&e.object_id),
                e.org_path.as_str().into(),
                e.created_at.into(),
            ]);
        }
        w.push(sql, vals);
    }
}

/// Queues a webhook delivery of an event (once per endpoint).
pub async fn insert_delivery(
    tx: &mut Tx,
    event_id: &str,
    webhook_id: &str,
    org_path: &str,
    now: i64,
) -> AppResult<()> {
    let mut w = Writes::new();
    push_delivery(&mut w, event_id, webhook_id, org_path, now);
    w.run(tx).await?;
    Ok(())
}

/// Adds a webhook delivery of an event to `w` (once per endpoint).
pub fn push_delivery(w: &mut Writes, event_id: &str, webhook_id: &str, org_path: &str, now: i64) {
    w.push(
        "INSERT INTO notify_deliveries (id, event_id, webhook_id, org_path, status, attempts, next_attempt_at, locked_until, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'pending', 0, $5, 0, $5, $5)
         ON CONFLICT (event_id, webhook_id) DO NOTHING",
        vec![
            new_id().into(),
            event_id.into(),
            webhook_id.into(),
            org_path.into(),
            now.into(),
        ],
    );
}

/// `*` or a comma list of kinds (a trailing `.*` matches a family).
pub fn kinds_match(kinds: &str, kind: &str) -> bool {
    kinds.split(',').map(str::trim).any(|k| {
        k == "*"
            || k == kind
            || k.strip_suffix(".*")
                .is_some_and(|fam| kind.starts_with(&format!("{fam}.")))
    })
}

// ---------------------------------------------------------------- inbox

#[derive(Debug, Clone, Serialize)]
pub struct InboxRow {
    pub id: String,
    pub user_id: String,
    pub seq: i64,
    pub event_id: String,
    pub kind: String,
    pub title: String,
    pub body: Option<String>,
    pub link: Option<String>,
    pub object_type: String,
    pub object_id: Option<String>,
    pub org_path: String,
    pub created_at: i64,
    pub read_at: Option<i64>,
}

const INBOX_COLS: &str = "id, user_id, seq, event_id, kind, title, body, link, object_type, object_id, org_path, created_at, read_at";

fn inbox_from(r: &AnyRow) -> InboxRow {
    InboxRow {
        id: r.get("id"),
        user_id: r.get("user_id"),
        seq: r.get("seq"),
        event_id: r.get("event_id"),
        kind: r.get("kind"),
        title: r.get("title"),
        body: opt_str(r, "body"),
        link: opt_str(r, "link"),
        object_type: r.get("object_type"),
        object_id: opt_str(r, "object_id"),
        org_path: r.get("org_path"),
        created_at: r.get("created_at"),
        read_at: opt_i64(r, "read_at"),
    }
}

/// A user's items, newest first, below `before_seq`.
pub async fn inbox_page(
    db: &Db,
    user_id: &str,
    before_seq: Option<i64>,
    unread_only: bool,
    limit: i64,
) -> AppResult<Vec<InboxRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {INBOX_COLS} FROM notify_inbox
         WHERE user_id = $1 AND seq < $2 AND ($3 = 0 OR read_at IS NULL)
         ORDER BY seq DESC LIMIT $4"
    ))
    .bind(user_id)
    .bind(before_seq.unwrap_or(i64::MAX))
    .bind(unread_only as i64)
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    Ok(rows.iter().map(inbox_from).collect())
}

/// A user's items after `after_seq`, oldest first (the stream's replay).
pub async fn inbox_after(
    db: &Db,
    user_id: &str,
    after_seq: i64,
    limit: i64,
) -> AppResult<Vec<InboxRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {INBOX_COLS} FROM notify_inbox WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
    ))
    .bind(user_id)
    .bind(after_seq)
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    Ok(rows.iter().map(inbox_from).collect())
}

pub async fn inbox_item(db: &Db, user_id: &str, id: &str) -> AppResult<Option<InboxRow>> {
    let r = sqlx::query(&format!(
        "SELECT {INBOX_COLS} FROM notify_inbox WHERE id = $1 AND user_id = $2"
    ))
    .bind(id)
    .bind(user_id)
    .fetch_optional(db.reader())
    .await?;
    Ok(r.as_ref().map(inbox_from))
}

pub async fn unread_count(db: &Db, user_id: &str) -> AppResult<i64> {
    Ok(
        sqlx::query("SELECT COUNT(*) FROM notify_inbox WHERE user_id = $1 AND read_at IS NULL")
            .bind(user_id)
            .fetch_one(db.reader())
            .await?
            .get(0),
    )
}

pub async fn last_seq(db: &Db, user_id: &str) -> AppResult<i64> {
    Ok(sqlx::query(
        "SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) FROM notify_inbox WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_one(db.reader())
    .await?
    .get(0))
}

/// Marks one item read; false when it is not the user's.
pub async fn mark_read(db: &Db, user_id: &str, id: &str, now: i64) -> AppResult<bool> {
    let mut tx = db.begin().await?;
    let n = sqlx::query(
        "UPDATE notify_inbox SET read_at = COALESCE(read_at, $1) WHERE id = $2 AND user_id = $3",
    )
    .bind(now)
    .bind(id)
    .bind(user_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(n == 1)
}

/// Marks every unread item (up to `up_to_seq`, if given) read.
pub async fn mark_all_read(
    db: &Db,
    user_id: &str,
    up_to_seq: Option<i64>,
    now: i64,
) -> AppResult<u64> {
    let mut tx = db.begin().await?;
    let n = sqlx::query(
        "UPDATE notify_inbox SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL AND seq <= $3",
    )
    .bind(now)
    .bind(user_id)
    .bind(up_to_seq.unwrap_or(i64::MAX))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(n)
}

// ---------------------------------------------------------------- subscriptions

/// The default subscriptions, seeded once (an admin may switch one off).
pub const DEFAULTS: &[(&str, Role)] = &[
    // A new demand: the compound's property manager and the community,
    // who accept and dispatch it.
    (crate::model::kind::DEMAND_FILED, Role::PropertyManager),
    (crate::model::kind::DEMAND_FILED, Role::CommunityStaff),
    // Fed back: the community verifies it (the resident is named directly).
    (crate::model::kind::DEMAND_RESOLVED, Role::CommunityStaff),
    // Sent back to the dispatcher.
    (crate::model::kind::DEMAND_RETURNED, Role::PropertyManager),
    (crate::model::kind::DEMAND_RETURNED, Role::CommunityStaff),
];

pub async fn ensure_defaults(db: &Db) -> AppResult<()> {
    let now = chrono::Utc::now().timestamp_millis();
    let mut tx = db.begin().await?;
    for (kind, role) in DEFAULTS {
        let key = format!("{kind}:{}", role.as_str());
        sqlx::query(
            "INSERT INTO notify_subscriptions (id, kind, role, org_path, default_key, active, created_at)
             VALUES ($1, $2, $3, '/', $4, 1, $5) ON CONFLICT (default_key) DO NOTHING",
        )
        .bind(new_id())
        .bind(*kind)
        .bind(role.as_str())
        .bind(key)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionRow {
    pub id: String,
    pub kind: String,
    pub role: Option<String>,
    pub org_path: String,
    pub user_id: Option<String>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub is_default: bool,
    pub active: bool,
    pub created_at: i64,
}

const SUB_COLS: &str =
    "id, kind, role, org_path, user_id, object_type, object_id, default_key, active, created_at";

fn sub_from(r: &AnyRow) -> SubscriptionRow {
    SubscriptionRow {
        id: r.get("id"),
        kind: r.get("kind"),
        role: opt_str(r, "role"),
        org_path: r.get("org_path"),
        user_id: opt_str(r, "user_id"),
        object_type: opt_str(r, "object_type"),
        object_id: opt_str(r, "object_id"),
        is_default: opt_str(r, "default_key").is_some(),
        active: r.get::<i64, _>("active") != 0,
        created_at: r.get("created_at"),
    }
}

/// Role subscriptions (all, filtered by the caller) and the user's follows.
pub async fn subscriptions_for(db: &Db, user_id: &str) -> AppResult<Vec<SubscriptionRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {SUB_COLS} FROM notify_subscriptions
         WHERE (user_id IS NULL AND role IS NOT NULL) OR user_id = $1
         ORDER BY org_path, kind, id"
    ))
    .bind(user_id)
    .fetch_all(db.reader())
    .await?;
    Ok(rows.iter().map(sub_from).collect())
}

pub async fn get_subscription(db: &Db, id: &str) -> AppResult<Option<SubscriptionRow>> {
    let r = sqlx::query(&format!(
        "SELECT {SUB_COLS} FROM notify_subscriptions WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db.reader())
    .await?;
    Ok(r.as_ref().map(sub_from))
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_subscription(
    tx: &mut Tx,
    kind: &str,
    role: Option<&str>,
    org_path: &str,
    user_id: Option<&str>,
    object: Option<(&str, &str)>,
    created_by: &str,
    now: i64,
) -> AppResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO notify_subscriptions (id, kind, role, org_path, user_id, object_type, object_id, active, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9)",
    )
    .bind(&id)
    .bind(kind)
    .bind(role)
    .bind(org_path)
    .bind(user_id)
    .bind(object.map(|o| o.0))
    .bind(object.map(|o| o.1))
    .bind(created_by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// An existing active follow of the object by the user, if any.
pub async fn find_follow(
    db: &Db,
    user_id: &str,
    object_type: &str,
    object_id: &str,
) -> AppResult<Option<SubscriptionRow>> {
    let r = sqlx::query(&format!(
        "SELECT {SUB_COLS} FROM notify_subscriptions WHERE user_id = $1 AND object_type = $2 AND object_id = $3 AND active = 1"
    ))
    .bind(user_id)
    .bind(object_type)
    .bind(object_id)
    .fetch_optional(db.reader())
    .await?;
    Ok(r.as_ref().map(sub_from))
}

/// Defaults are switched off (so the seed does not bring them back),
/// others removed.
pub async fn remove_subscription(tx: &mut Tx, s: &SubscriptionRow) -> AppResult<()> {
    if s.is_default {
        sqlx::query("UPDATE notify_subscriptions SET active = 0 WHERE id = $1")
            .bind(&s.id)
            .execute(&mut **tx)
            .await?;
    } else {
        sqlx::query("DELETE FROM notify_subscriptions WHERE id = $1")
            .bind(&s.id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

// ---------------------------------------------------------------- webhooks

#[derive(Debug, Clone)]
pub struct WebhookRow {
    pub id: String,
    pub org_id: String,
    pub org_path: OrgPath,
    pub name: String,
    pub platform: String,
    pub format: String,
    pub url_enc: String,
    pub url_hint: String,
    pub secret_enc: Option<String>,
    pub kinds: String,
    pub rate_per_minute: i64,
    pub active: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

const WEBHOOK_COLS: &str = "id, org_id, org_path, name, platform, format, url_enc, url_hint, secret_enc, kinds, rate_per_minute, active, created_at, updated_at, version";

fn webhook_from(r: &AnyRow) -> WebhookRow {
    WebhookRow {
        id: r.get("id"),
        org_id: r.get("org_id"),
        org_path: OrgPath::from_db(r.get("org_path")),
        name: r.get("name"),
        platform: r.get("platform"),
        format: r.get("format"),
        url_enc: r.get("url_enc"),
        url_hint: r.get("url_hint"),
        secret_enc: opt_str(r, "secret_enc"),
        kinds: r.get("kinds"),
        rate_per_minute: r.get("rate_per_minute"),
        active: r.get::<i64, _>("active") != 0,
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
        version: r.get("version"),
    }
}

pub struct NewWebhook<'a> {
    pub org_id: &'a str,
    pub org_path: &'a OrgPath,
    pub name: &'a str,
    pub platform: &'a str,
    pub format: &'a str,
    pub url_enc: &'a str,
    pub url_hint: &'a str,
    pub secret_enc: Option<&'a str>,
    pub kinds: &'a str,
    pub rate_per_minute: i64,
    pub created_by: &'a str,
}

pub async fn insert_webhook(tx: &mut Tx, w: &NewWebhook<'_>, now: i64) -> AppResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO notify_webhooks (id, org_id, org_path, name, platform, format, url_enc, url_hint, secret_enc, kinds, rate_per_minute, active, created_by, created_at, updated_at, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $13, $13, 1)",
    )
    .bind(&id)
    .bind(w.org_id)
    .bind(w.org_path.as_str())
    .bind(w.name)
    .bind(w.platform)
    .bind(w.format)
    .bind(w.url_enc)
    .bind(w.url_hint)
    .bind(w.secret_enc)
    .bind(w.kinds)
    .bind(w.rate_per_minute)
    .bind(w.created_by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

pub async fn get_webhook(db: &Db, id: &str) -> AppResult<Option<WebhookRow>> {
    let r = sqlx::query(&format!(
        "SELECT {WEBHOOK_COLS} FROM notify_webhooks WHERE id = $1 AND deleted_at IS NULL"
    ))
    .bind(id)
    .fetch_optional(db.reader())
    .await?;
    Ok(r.as_ref().map(webhook_from))
}

/// Any webhook, deleted or not (the delivery worker's view).
pub async fn get_webhook_any(db: &Db, id: &str) -> AppResult<Option<(WebhookRow, bool)>> {
    let r = sqlx::query(&format!(
        "SELECT {WEBHOOK_COLS}, deleted_at FROM notify_webhooks WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db.reader())
    .await?;
    Ok(r.as_ref()
        .map(|r| (webhook_from(r), opt_i64(r, "deleted_at").is_some())))
}

/// Endpoints within the subtrees, in path order.
pub async fn webhooks_in(
    db: &Db,
    roots: &[OrgPath],
    after_id: Option<&str>,
    limit: i64,
) -> AppResult<Vec<WebhookRow>> {
    if roots.is_empty() {
        return Ok(vec![]);
    }
    let scope = scope_sql("org_path", roots.len(), 3);
    let sql = format!(
        "SELECT {WEBHOOK_COLS} FROM notify_webhooks WHERE deleted_at IS NULL AND ($1 = '' OR id > $1) AND {scope}
         ORDER BY id LIMIT $2"
    );
    let mut q = sqlx::query(&sql)
        .bind(after_id.unwrap_or("").to_string())
        .bind(limit);
    for r in roots {
        q = q.bind(r.as_str().to_string()).bind(r.subtree_end());
    }
    Ok(q.fetch_all(db.reader())
        .await?
        .iter()
        .map(webhook_from)
        .collect())
}

/// `(col >= $a AND col < $b) OR …` for subtree ranges from `$first`.
pub fn scope_sql(column: &str, roots: usize, first: usize) -> String {
    if roots == 0 {
        return "1 = 0".into();
    }
    let parts: Vec<String> = (0..roots)
        .map(|i| {
            format!(
                "({column} >= ${} AND {column} < ${})",
                first + 2 * i,
                first + 2 * i + 1
            )
        })
        .collect();
    format!("({})", parts.join(" OR "))
}

#[allow(clippy::too_many_arguments)]
pub async fn update_webhook(
    tx: &mut Tx,
    w: &WebhookRow,
    expected_version: i64,
    now: i64,
) -> AppResult<bool> {
    let n = sqlx::query(
        "UPDATE notify_webhooks SET name = $1, format = $2, url_enc = $3, url_hint = $4, secret_enc = $5, kinds = $6,
            rate_per_minute = $7, active = $8, updated_at = $9, version = version + 1
         WHERE id = $10 AND version = $11 AND deleted_at IS NULL",
    )
    .bind(&w.name)
    .bind(&w.format)
    .bind(&w.url_enc)
    .bind(&w.url_hint)
    .bind(&w.secret_enc)
    .bind(&w.kinds)
    .bind(w.rate_per_minute)
    .bind(w.active as i64)
    .bind(now)
    .bind(&w.id)
    .bind(expected_version)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Soft-deletes an endpoint; its pending deliveries are cancelled.
pub async fn delete_webhook(tx: &mut Tx, id: &str, now: i64) -> AppResult<bool> {
    let n = sqlx::query(
        "UPDATE notify_webhooks SET deleted_at = $1, active = 0, updated_at = $1, version = version + 1
         WHERE id = $2 AND deleted_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    sqlx::query(
        "UPDATE notify_deliveries SET status = 'cancelled', updated_at = $1 WHERE webhook_id = $2 AND status = 'pending'",
    )
    .bind(now)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(n == 1)
}

// ---------------------------------------------------------------- deliveries

#[derive(Debug, Clone, Serialize)]
pub struct DeliveryRow {
    pub id: String,
    pub event_id: String,
    pub webhook_id: String,
    pub org_path: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub locked_until: i64,
    pub last_error: Option<String>,
    pub last_status: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub delivered_at: Option<i64>,
}

const DELIVERY_COLS: &str = "id, event_id, webhook_id, org_path, status, attempts, next_attempt_at, locked_until, last_error, last_status, created_at, updated_at, delivered_at";

fn delivery_from(r: &AnyRow) -> DeliveryRow {
    DeliveryRow {
        id: r.get("id"),
        event_id: r.get("event_id"),
        webhook_id: r.get("webhook_id"),
        org_path: r.get("org_path"),
        status: r.get("status"),
        attempts: r.get("attempts"),
        next_attempt_at: r.get("next_attempt_at"),
        locked_until: r.get("locked_until"),
        last_error: opt_str(r, "last_error"),
        last_status: opt_i64(r, "last_status"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
        delivered_at: opt_i64(r, "delivered_at"),
    }
}

/// Pending deliveries that are due and not leased by a worker.
pub async fn due_deliveries(db: &Db, now: i64, limit: i64) -> AppResult<Vec<DeliveryRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {DELIVERY_COLS} FROM notify_deliveries
         WHERE status = 'pending' AND next_attempt_at <= $1 AND locked_until <= $1
         ORDER BY next_attempt_at, id LIMIT $2"
    ))
    .bind(now)
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    Ok(rows.iter().map(delivery_from).collect())
}

pub async fn get_delivery(db: &Db, id: &str) -> AppResult<Option<DeliveryRow>> {
    let r = sqlx::query(&format!(
        "SELECT {DELIVERY_COLS} FROM notify_deliveries WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db.reader())
    .await?;
    Ok(r.as_ref().map(delivery_from))
}

/// Leases a delivery to this worker until `until`; false when someone else
/// holds it or it is no longer pending.
pub async fn lease(db: &Db, id: &str, now: i64, until: i64) -> AppResult<bool> {
    let mut tx = db.begin().await?;
    let n = sqlx::query(
        "UPDATE notify_deliveries SET locked_until = $1, updated_at = $2
         WHERE id = $3 AND status = 'pending' AND locked_until <= $2 AND next_attempt_at <= $2",
    )
    .bind(until)
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(n == 1)
}

/// What happened to one attempt.
pub enum Outcome<'a> {
    Delivered {
        status: u16,
    },
    /// Try again at `at`; `attempts` counts this one.
    Retry {
        at: i64,
        error: &'a str,
        status: Option<u16>,
    },
    /// Given up: the dead-letter list.
    Dead {
        error: &'a str,
        status: Option<u16>,
    },
    /// Not attempted (rate limit): wait until `at`, no attempt counted.
    Defer {
        at: i64,
    },
    /// The endpoint is gone or switched off.
    Cancelled,
}

pub async fn finish(db: &Db, id: &str, outcome: Outcome<'_>, now: i64) -> AppResult<()> {
    let mut tx = db.begin().await?;
    let q = match outcome {
        Outcome::Delivered { status } => sqlx::query(
            "UPDATE notify_deliveries SET status = 'delivered', attempts = attempts + 1, locked_until = 0,
                last_status = $1, last_error = NULL, delivered_at = $2, updated_at = $2 WHERE id = $3",
        )
        .bind(status as i64)
        .bind(now)
        .bind(id),
        Outcome::Retry { at, error, status } => sqlx::query(
            "UPDATE notify_deliveries SET attempts = attempts + 1, locked_until = 0, next_attempt_at = $1,
                last_error = $2, last_status = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(at)
        .bind(error.to_string())
        .bind(status.map(|s| s as i64))
        .bind(now)
        .bind(id),
        Outcome::Dead { error, status } => sqlx::query(
            "UPDATE notify_deliveries SET status = 'dead', attempts = attempts + 1, locked_until = 0,
                last_error = $1, last_status = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(error.to_string())
        .bind(status.map(|s| s as i64))
        .bind(now)
        .bind(id),
        Outcome::Defer { at } => sqlx::query(
            "UPDATE notify_deliveries SET locked_until = 0, next_attempt_at = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(at)
        .bind(now)
        .bind(id),
        Outcome::Cancelled => sqlx::query(
            "UPDATE notify_deliveries SET status = 'cancelled', locked_until = 0, updated_at = $1 WHERE id = $2",
        )
        .bind(now)
        .bind(id),
    };
    q.execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Dead deliveries of endpoints within the subtrees, newest first.
pub async fn dead_in(
    db: &Db,
    roots: &[OrgPath],
    before_id: Option<&str>,
    limit: i64,
) -> AppResult<Vec<DeliveryRow>> {
    if roots.is_empty() {
        return Ok(vec![]);
    }
    let scope = scope_sql("org_path", roots.len(), 3);
    let sql = format!(
        "SELECT {DELIVERY_COLS} FROM notify_deliveries WHERE status = 'dead' AND ($1 = '' OR id < $1) AND {scope}
         ORDER BY id DESC LIMIT $2"
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
        .map(delivery_from)
        .collect())
}

/// Puts a dead delivery back in the queue with a fresh count.
pub async fn requeue(tx: &mut Tx, id: &str, now: i64) -> AppResult<bool> {
    let n = sqlx::query(
        "UPDATE notify_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $1, locked_until = 0, updated_at = $1
         WHERE id = $2 AND status = 'dead'",
    )
    .bind(now)
    .bind(id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Delivery counts of one endpoint by status.
pub async fn delivery_counts(db: &Db, webhook_id: &str) -> AppResult<Vec<(String, i64)>> {
    Ok(sqlx::query(
        "SELECT status, COUNT(*) FROM notify_deliveries WHERE webhook_id = $1 GROUP BY status ORDER BY status",
    )
    .bind(webhook_id)
    .fetch_all(db.reader())
    .await?
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect())
}

// ---------------------------------------------------------------- org nodes and staff

/// (id, org_path, name) of an org node, by id.
pub async fn org_node(db: &Db, id: &str) -> AppResult<Option<(String, OrgPath, String)>> {
    let r = sqlx::query("SELECT id, org_path, name FROM org_nodes WHERE id = $1")
        .bind(id)
        .fetch_optional(db.reader())
        .await?;
    Ok(r.map(|r| (r.get(0), OrgPath::from_db(r.get(1)), r.get::<String, _>(2))))
}

/// (id, org_path, name) of an org node, by path.
pub async fn org_node_by_path(db: &Db, path: &str) -> AppResult<Option<(String, OrgPath, String)>> {
    let r = sqlx::query("SELECT id, org_path, name FROM org_nodes WHERE org_path = $1")
        .bind(path)
        .fetch_optional(db.reader())
        .await?;
    Ok(r.map(|r| (r.get(0), OrgPath::from_db(r.get(1)), r.get::<String, _>(2))))
}

/// Active staff holding any of `roles`: (user id, display name).
pub async fn staff_with(db: &Db, roles: &[Role]) -> AppResult<Vec<(String, String)>> {
    if roles.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        "SELECT DISTINCT u.id, u.display_name FROM role_grants g JOIN users u ON u.id = g.user_id
         WHERE g.revoked_at IS NULL AND u.active = 1 AND g.role IN ({}) ORDER BY u.id",
        placeholders(1, roles.len())
    );
    let mut q = sqlx::query(&sql);
    for r in roles {
        q = q.bind(r.as_str());
    }
    Ok(q.fetch_all(db.reader())
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// Nodes with an active endpoint: (org_path).
pub async fn webhook_nodes(db: &Db) -> AppResult<Vec<OrgPath>> {
    Ok(sqlx::query(
        "SELECT DISTINCT org_path FROM notify_webhooks WHERE active = 1 AND deleted_at IS NULL ORDER BY org_path",
    )
    .fetch_all(db.reader())
    .await?
    .iter()
    .map(|r| OrgPath::from_db(r.get(0)))
    .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_filters() {
        assert!(kinds_match("*", "demand.filed"));
        assert!(kinds_match("demand.filed, digest", "digest"));
        assert!(kinds_match("demand.*", "demand.overdue"));
        assert!(!kinds_match("demand.*", "digest"));
        assert!(!kinds_match("demand.filed", "demand.filedx"));
    }
}
