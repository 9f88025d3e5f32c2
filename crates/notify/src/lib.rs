//! Notifications (通知): modules publish domain events into a transactional
//! outbox inside their own transactions; a worker fans each event out to the
//! people who should hear it (named in the event, subscribed by role over its
//! place, or following its object) — into their in-app inboxes, onto the
//! live-update stream (Server-Sent Events), and into durable webhook
//! deliveries to 企业微信 / 钉钉 group robots or generic JSON endpoints, sent
//! with retries, exponential backoff, idempotency keys, per-endpoint rate
//! limits and a dead-letter list. A daily digest sums up each staff member's
//! work. `notify` depends on kernel and accounts only: modules publish into
//! it, never the reverse.
//!
//! Delivery semantics: the inbox gets each event exactly once per person
//! (unique per user and event, in the fan-out transaction); webhooks get it
//! at least once, and every attempt of one delivery carries the same
//! `X-Lianxin-Delivery` key, so a receiver that remembers keys sees it once.

pub mod api;
pub mod digest;
pub mod model;
pub mod pages;
pub mod registry;
pub mod ssrf;
pub mod store;
pub mod stream;
pub mod webhook;
pub mod worker;

pub use model::{kind, Event, Hint, WebhookScope};

use kernel::{AppResult, Backend, Ctx, Tx};
use model::RateWindow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, watch};

/// Writes `event` to the outbox inside the caller's transaction: it is
/// delivered if and only if the caller commits.
pub async fn publish(tx: &mut Tx, backend: Backend, event: Event) -> AppResult<()> {
    let _ = backend;
    let at = event
        .at_ms
        .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
    store::insert_event(tx, &event, at).await?;
    Ok(())
}

/// [`publish`] as a write added to `w`, to run with the change it tells of.
pub fn publish_with(w: &mut kernel::db::Writes, event: Event) {
    let at = event
        .at_ms
        .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
    store::push_event(w, &event, at);
}

/// What the live stream hears about (ids only; the database has the rest).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Live {
    /// A new inbox item for a user.
    Item { user_id: String, seq: i64 },
    /// The user's read state changed (marked read elsewhere).
    Read { user_id: String },
}

/// Per-context state: the live broadcast channel, the HTTP client, the
/// endpoints' rate windows, and the stream shutdown signal.
pub struct Hub {
    live: broadcast::Sender<Live>,
    closing: watch::Sender<bool>,
    rates: Mutex<HashMap<String, RateWindow>>,
    client: reqwest::Client,
    /// The local day (days since 1970 in Shanghai) the digest last ran.
    pub digest_day: Mutex<Option<i64>>,
}

impl Hub {
    fn new(settings: &kernel::Settings) -> Hub {
        let (live, _) = broadcast::channel(1024);
        let (closing, _) = watch::channel(false);
        Hub {
            live,
            closing,
            rates: Mutex::new(HashMap::new()),
            client: webhook::client(settings),
            digest_day: Mutex::new(None),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Live> {
        self.live.subscribe()
    }

    pub fn send(&self, l: Live) {
        // No receiver (nobody connected) is fine.
        let _ = self.live.send(l);
    }

    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Counts a send to endpoint `id` against its per-minute limit.
    pub fn admit(&self, id: &str, limit: i64, now: i64) -> Result<(), i64> {
        let mut m = self.rates.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(id.to_string()).or_default().admit(limit, now)
    }
}

/// The hub of this context (made on first use).
pub fn hub(ctx: &Ctx) -> Arc<Hub> {
    ctx.extensions.get_or_init(|| Hub::new(&ctx.settings))
}

/// Ends every open live stream (the server is shutting down).
pub fn close_streams(ctx: &Ctx) {
    let _ = hub(ctx).closing.send(true);
}

/// Seeds the default subscriptions (idempotent; run at start-up).
pub async fn ensure_defaults(db: &kernel::Db) -> AppResult<()> {
    store::ensure_defaults(db).await
}
