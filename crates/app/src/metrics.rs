//! Prometheus metrics: request counts and latency sums per route and status.

use axum::extract::{MatchedPath, Request};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Default)]
struct Counter {
    count: u64,
    seconds: f64,
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
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
