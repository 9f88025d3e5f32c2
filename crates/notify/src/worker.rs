//! The delivery worker. [`run_once`] does one pass: it fans out every event
//! waiting in the outbox (inbox items + webhook deliveries, in one
//! transaction per event, then wakes the live streams) and sends the webhook
//! deliveries that are due. All state is in the database, so a pass that is
//! cut short — the process dies mid-request — loses nothing: an event is
//! fanned out exactly once (claimed in its transaction), and a delivery
//! leased but never recorded is sent again when its lease runs out, with
//! the same idempotency key. `app::spawn_jobs` runs [`spawn`]; tests call
//! [`run_once`] themselves.

use crate::model::{self, Format, Message, Platform};
use crate::store::{self, DeliveryRow, Outcome, Plan};
use crate::{hub, ssrf, webhook, Live};
use kernel::db::Writes;
use kernel::rows::Columns;
use kernel::{AppError, AppResult, Ctx};
use std::collections::{BTreeMap, BTreeSet};

/// Events fanned out / deliveries handled per pass.
pub const BATCH: i64 = 200;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub fanned_out: usize,
    pub inbox_items: usize,
    pub delivered: usize,
    pub retried: usize,
    pub dead: usize,
    pub deferred: usize,
}

impl Report {
    fn add(&mut self, o: &Report) {
        self.fanned_out += o.fanned_out;
        self.inbox_items += o.inbox_items;
        self.delivered += o.delivered;
        self.retried += o.retried;
        self.dead += o.dead;
        self.deferred += o.deferred;
    }

    pub fn is_idle(&self) -> bool {
        *self == Report::default()
    }
}

/// One pass: fan out, then deliver what is due.
pub async fn run_once(ctx: &Ctx) -> AppResult<Report> {
    let mut r = fan_out(ctx).await?;
    r.add(&deliver(ctx).await?);
    Ok(r)
}

/// Fans out the outbox's waiting events: who hears each is read first,
/// then one transaction claims them all and writes every inbox item and
/// webhook delivery, a few statements for the whole pass (the writer is
/// shared with every request that changes something). On a SQLite file
/// that transaction is a direct one (`kernel::direct`): an inbox insert
/// binds over a thousand values, which sqlx would look up by name one by one.
pub async fn fan_out(ctx: &Ctx) -> AppResult<Report> {
    let mut report = Report::default();
    let events = store::pending_events(&ctx.db, BATCH).await?;
    if events.is_empty() {
        return Ok(report);
    }
    let plans: Vec<Plan> = store::plans(&ctx.db, &events).await?;
    let now = ctx.now_ms();
    let (fanned, live) = match fan_out_direct(ctx, events, plans, now).await {
        Ok(done) => done?,
        Err((events, plans)) => fan_out_tx(ctx, &events, &plans, now).await?,
    };
    report.fanned_out = fanned;
    report.inbox_items = live.len();
    let hub = hub(ctx);
    for l in live {
        hub.send(l);
    }
    Ok(report)
}

/// What a fan-out wrote: the events fanned out, the inbox items to announce.
type FannedOut = (usize, Vec<Live>);

/// The fan-out's transaction through sqlx.
async fn fan_out_tx(
    ctx: &Ctx,
    events: &[store::OutboxRow],
    plans: &[Plan],
    now: i64,
) -> AppResult<FannedOut> {
    let mut tx = ctx.db.begin().await?;
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let claimed = store::claim_events(&mut tx, ctx.db.backend(), &ids, now).await?;
    let last = store::last_inbox_seqs(&mut tx, &recipients(events, plans, &claimed)).await?;
    let (writes, fanned) = assemble(events, plans, &claimed, last, now);
    writes.run(&mut tx).await?;
    tx.commit().await?;
    Ok(fanned)
}

/// The fan-out's transaction as a direct one; `Err` gives the batch back
/// where there is no direct path.
async fn fan_out_direct(
    ctx: &Ctx,
    events: Vec<store::OutboxRow>,
    plans: Vec<Plan>,
    now: i64,
) -> Result<AppResult<FannedOut>, (Vec<store::OutboxRow>, Vec<Plan>)> {
    if !ctx.db.has_direct() {
        return Err((events, plans));
    }
    let done = ctx
        .db
        .direct(move |tx| {
            let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
            let mut claimed = BTreeSet::new();
            for (sql, args) in store::claim_reads(&ids, now) {
                claimed.extend(tx.rows(&sql, &args)?.iter().map(|r| r.text("id")));
            }
            let mut last = std::collections::HashMap::new();
            for (sql, args) in store::last_seq_reads(&recipients(&events, &plans, &claimed)) {
                for r in tx.rows(&sql, &args)?.iter() {
                    last.insert(r.text("user_id"), r.int("last_seq"));
                }
            }
            let (writes, fanned) = assemble(&events, &plans, &claimed, last, now);
            tx.run(&writes)?;
            Ok(fanned)
        })
        .await;
    match done {
        Some(r) => Ok(r.map_err(AppError::from)),
        // Checked above: a direct path exists.
        None => Ok(Err(AppError::internal("no direct transaction"))),
    }
}

/// Everyone who hears one of the claimed events.
fn recipients<'a>(
    events: &[store::OutboxRow],
    plans: &'a [Plan],
    claimed: &BTreeSet<String>,
) -> BTreeSet<&'a str> {
    events
        .iter()
        .zip(plans)
        .filter(|(e, _)| claimed.contains(&e.id))
        .flat_map(|(_, (users, _))| users.iter().map(String::as_str))
        .collect()
}

/// The inbox items (numbered on from each user's `last` sequence number)
/// and webhook deliveries of the claimed events.
fn assemble(
    events: &[store::OutboxRow],
    plans: &[Plan],
    claimed: &BTreeSet<String>,
    mut last: std::collections::HashMap<String, i64>,
    now: i64,
) -> (Writes, FannedOut) {
    let mut writes = Writes::new();
    let mut items = Vec::new();
    let mut live = Vec::new();
    let mut fanned = 0;
    for (e, (users, hooks)) in events.iter().zip(plans) {
        if !claimed.contains(&e.id) {
            continue;
        }
        fanned += 1;
        for user in users {
            let seq = last.entry(user.clone()).or_insert(0);
            *seq += 1;
            items.push(store::NewInboxItem {
                user_id: user,
                seq: *seq,
                event: e,
            });
            live.push(Live::Item {
                user_id: user.clone(),
                seq: *seq,
            });
        }
        for (webhook_id, org_path) in hooks {
            store::push_delivery(&mut writes, &e.id, webhook_id, org_path, now);
        }
    }
    store::push_inbox_items(&mut writes, &items);
    (writes, (fanned, live))
}

/// Sends the deliveries that are due: endpoints in parallel, each
/// endpoint's messages one after another in order; an endpoint that fails
/// is left alone for the rest of the pass.
pub async fn deliver(ctx: &Ctx) -> AppResult<Report> {
    let due = store::due_deliveries(&ctx.db, ctx.now_ms(), BATCH).await?;
    let mut by_endpoint: BTreeMap<String, Vec<DeliveryRow>> = BTreeMap::new();
    for d in due {
        by_endpoint.entry(d.webhook_id.clone()).or_default().push(d);
    }
    let mut set = tokio::task::JoinSet::new();
    for (_, mut list) in by_endpoint {
        // Oldest first (ids are time-ordered): a message deferred by the
        // rate limit keeps its place ahead of later ones.
        list.sort_by(|a, b| a.id.cmp(&b.id));
        let ctx = ctx.clone();
        set.spawn(async move { deliver_endpoint(&ctx, list).await });
    }
    let mut report = Report::default();
    let mut first_err = None;
    while let Some(r) = set.join_next().await {
        match r {
            Ok(Ok(r)) => report.add(&r),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "webhook delivery failed");
                first_err.get_or_insert(e);
            }
            Err(e) => tracing::warn!(error = %e, "webhook delivery task"),
        }
    }
    match first_err {
        Some(e) if report.is_idle() => Err(e),
        _ => Ok(report),
    }
}

/// How long a worker holds a delivery while sending it.
fn lease_ms(ctx: &Ctx) -> i64 {
    (ctx.settings.webhook_timeout_seconds.max(1) as i64) * 2_000 + 30_000
}

async fn deliver_endpoint(ctx: &Ctx, list: Vec<DeliveryRow>) -> AppResult<Report> {
    let mut report = Report::default();
    let hub = hub(ctx);
    let Some(first) = list.first() else {
        return Ok(report);
    };
    let Some((w, deleted)) = store::get_webhook_any(&ctx.db, &first.webhook_id).await? else {
        return Ok(report);
    };
    let platform = Platform::parse(&w.platform).unwrap_or(Platform::Generic);
    let format = Format::parse(&w.format).unwrap_or(Format::Text);
    let url = ctx.cipher.decrypt(&w.url_enc);
    let secret = w.secret_enc.as_deref().and_then(|s| ctx.cipher.decrypt(s));
    for d in list {
        let now = ctx.now_ms();
        if deleted || !w.active {
            store::finish(&ctx.db, &d.id, Outcome::Cancelled, now).await?;
            continue;
        }
        if let Err(at) = hub.admit(&w.id, w.rate_per_minute, now) {
            // Over the endpoint's limit: this and the rest wait, uncounted.
            store::finish(&ctx.db, &d.id, Outcome::Defer { at }, now).await?;
            report.deferred += 1;
            break;
        }
        if !store::lease(&ctx.db, &d.id, now, now + lease_ms(ctx)).await? {
            continue;
        }
        let attempts = d.attempts + 1;
        let max = ctx.settings.webhook_max_attempts.max(1);
        let Some(url) = url.as_deref() else {
            store::finish(
                &ctx.db,
                &d.id,
                Outcome::Dead {
                    error: "地址无法解密(密钥已更换?)",
                    status: None,
                },
                now,
            )
            .await?;
            report.dead += 1;
            continue;
        };
        // The guard again, at send time (a name may resolve differently now).
        match ssrf::check(url, ctx.settings.webhook_allow_private).await {
            Ok(_) => {}
            Err(ssrf::Refusal::Unresolvable) if attempts < max => {
                let at = now + model::backoff_ms(retry_base_ms(ctx), attempts);
                let error = ssrf::Refusal::Unresolvable.message();
                store::finish(
                    &ctx.db,
                    &d.id,
                    Outcome::Retry {
                        at,
                        error,
                        status: None,
                    },
                    now,
                )
                .await?;
                report.retried += 1;
                break;
            }
            Err(refusal) => {
                let error = refusal.message();
                store::finish(
                    &ctx.db,
                    &d.id,
                    Outcome::Dead {
                        error,
                        status: None,
                    },
                    now,
                )
                .await?;
                report.dead += 1;
                continue;
            }
        }
        let Some(event) = store::get_event(&ctx.db, &d.event_id).await? else {
            store::finish(&ctx.db, &d.id, Outcome::Cancelled, now).await?;
            continue;
        };
        let message = Message {
            delivery_id: d.id.clone(),
            event_id: event.id.clone(),
            kind: event.kind.clone(),
            org_path: event.org_path.as_str().to_string(),
            object_type: event.object_type.clone(),
            object_id: event.object_id.clone(),
            title: event.title.clone(),
            body: event.body.clone(),
            link: event.link.clone(),
            occurred_at_ms: event.created_at,
            payload: event.payload.clone(),
        };
        let out = model::outgoing(platform, format, url, secret.as_deref(), &message, now);
        let result = webhook::post(hub.client(), &out).await;
        let now = ctx.now_ms();
        let verdict = match &result {
            Ok((status, body)) => model::accepted(platform, *status, body)
                .map(|_| *status)
                .map_err(|e| (e, Some(*status))),
            Err(f) => Err((f.error.clone(), f.status)),
        };
        match verdict {
            Ok(status) => {
                store::finish(&ctx.db, &d.id, Outcome::Delivered { status }, now).await?;
                report.delivered += 1;
            }
            Err((error, status)) if attempts >= max => {
                store::finish(
                    &ctx.db,
                    &d.id,
                    Outcome::Dead {
                        error: &error,
                        status,
                    },
                    now,
                )
                .await?;
                report.dead += 1;
                tracing::warn!(delivery = %d.id, endpoint = %w.id, %error, "webhook delivery dead-lettered");
                break;
            }
            Err((error, status)) => {
                let at = now + model::backoff_ms(retry_base_ms(ctx), attempts);
                store::finish(
                    &ctx.db,
                    &d.id,
                    Outcome::Retry {
                        at,
                        error: &error,
                        status,
                    },
                    now,
                )
                .await?;
                report.retried += 1;
                break;
            }
        }
    }
    Ok(report)
}

fn retry_base_ms(ctx: &Ctx) -> i64 {
    ctx.settings.webhook_retry_base_seconds.max(1) * 1000
}

/// The background loop: a pass every second (at once again while there is
/// a backlog), the daily digest when its time comes.
pub fn spawn(ctx: Ctx) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match run_once(&ctx).await {
                Ok(r) if r.fanned_out as i64 >= BATCH => tick.reset_immediately(),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "notify worker pass failed"),
            }
            if crate::digest::due(&ctx) {
                match crate::digest::run(&ctx).await {
                    Ok(r) => tracing::info!(users = r.users, nodes = r.nodes, "daily digest"),
                    Err(e) => tracing::warn!(error = %e, "daily digest failed"),
                }
            }
        }
    })
}
