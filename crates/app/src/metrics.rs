//! Prometheus metrics: request counts and latency sums per route and status,
//! and — when `LIANXIN_COUNT_DB_STATEMENTS=1` — the number of SQL statements
//! executed, which the query-count regression test reads (#8: a request that
//! suddenly runs ten times the statements is an N+1, whatever the machine).

use axum::extract::{MatchedPath, Request};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

#[derive(Default)]
struct Counter {
    count: u64,
    seconds: f64,
}

/// SQL statements executed since start (counted only when enabled).
static DB_STATEMENTS: AtomicU64 = AtomicU64::new(0);
static COUNTING: AtomicBool = AtomicBool::new(false);

/// The environment variable that turns statement counting on.
pub const COUNT_ENV: &str = "LIANXIN_COUNT_DB_STATEMENTS";

/// Counts sqlx's per-statement `sqlx::query` events. sqlx formats each
/// statement for the event, so this runs only when asked for (tests, bench).
pub struct StatementCounter;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for StatementCounter {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if event.metadata().target() == "sqlx::query" {
            DB_STATEMENTS.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Whether the environment asks for statement counting.
pub fn counting_requested() -> bool {
    std::env::var(COUNT_ENV).is_ok_and(|v| v == "1")
}

/// Marks counting as on, so `/metrics` reports the counter.
pub fn enable_counting() {
    COUNTING.store(true, Ordering::Relaxed);
}

static REQUESTS: Mutex<BTreeMap<(String, String, u16), Counter>> = Mutex::new(BTreeMap::new());

pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().as_str().to_string();
    let start = Instant::now();
    let resp = next.run(req).await;
    let elapsed = start.elapsed().as_secs_f64();
    if let Ok(mut m) = REQUESTS.lock() {
        let c = m
            .entry((method, route, resp.status().as_u16()))
            .or_default();
        c.count += 1;
        c.seconds += elapsed;
    }
    resp
}

pub async fn render() -> Response {
    let mut out = String::from(
        "# HELP lianxin_http_requests_total HTTP requests by method, route and status.\n\
         # TYPE lianxin_http_requests_total counter\n",
    );
    let mut sums = String::from(
        "# HELP lianxin_http_request_duration_seconds_sum Total time spent answering, by route.\n\
         # TYPE lianxin_http_request_duration_seconds_sum counter\n",
    );
    if let Ok(m) = REQUESTS.lock() {
        for ((method, route, status), c) in m.iter() {
            let labels = format!(
                "method=\"{method}\",route=\"{}\",status=\"{status}\"",
                route.replace('"', "'")
            );
            out.push_str(&format!(
                "lianxin_http_requests_total{{{labels}}} {}\n",
                c.count
            ));
            sums.push_str(&format!(
                "lianxin_http_request_duration_seconds_sum{{{labels}}} {:.6}\n",
                c.seconds
            ));
        }
    }
    out.push_str(&sums);
    if COUNTING.load(Ordering::Relaxed) {
        out.push_str(&format!(
            "# HELP lianxin_db_statements_total SQL statements executed since start.\n\
             # TYPE lianxin_db_statements_total counter\n\
             lianxin_db_statements_total {}\n",
            DB_STATEMENTS.load(Ordering::Relaxed)
        ));
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
