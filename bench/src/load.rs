//! A closed-loop load generator: `connections` tokio tasks, each with its
//! own HTTP client (so exactly one keep-alive connection per task), sending
//! one request after another for a fixed time. Latencies of requests started
//! after a short warm-up are kept and summarised.

use std::sync::Arc;
use std::time::{Duration, Instant};

/// One request to send; built per worker and sequence number.
pub struct Req {
    pub method: reqwest::Method,
    pub url: String,
    pub bearer: Option<Arc<str>>,
    pub json: Option<String>,
}

impl Req {
    pub fn get(url: String, bearer: Option<Arc<str>>) -> Req {
        Req {
            method: reqwest::Method::GET,
            url,
            bearer,
            json: None,
        }
    }

    pub fn post(url: String, bearer: Option<Arc<str>>, json: String) -> Req {
        Req {
            method: reqwest::Method::POST,
            url,
            bearer,
            json: Some(json),
        }
    }
}

/// What one load phase measured.
#[derive(Debug, Clone)]
pub struct Figure {
    pub ok: u64,
    pub errors: u64,
    pub seconds: f64,
    pub throughput: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// The first failure seen (status and the start of the body), if any.
    pub first_error: Option<String>,
}

impl Figure {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "ok": self.ok,
            "errors": self.errors,
            "seconds": round(self.seconds, 2),
            "throughput_per_s": round(self.throughput, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "max_ms": round(self.max_ms, 2),
            "first_error": self.first_error,
        })
    }
}

pub fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

/// The value at quantile `q` (0–1) of sorted microsecond latencies, in ms.
pub fn quantile_ms(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((sorted_us.len() as f64) * q).ceil() as usize;
    let i = rank.clamp(1, sorted_us.len()) - 1;
    sorted_us[i] as f64 / 1000.0
}

struct WorkerResult {
    latencies_us: Vec<u32>,
    ok: u64,
    errors: u64,
    first_error: Option<String>,
}

/// Runs `make(worker, seq)` requests from `connections` workers for
/// `warmup + measure`; only requests started after the warm-up count.
pub async fn run<F>(connections: usize, warmup: Duration, measure: Duration, make: F) -> Figure
where
    F: Fn(usize, u64) -> Req + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + measure;
    let mut tasks = Vec::with_capacity(connections);
    for worker in 0..connections {
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .timeout(Duration::from_secs(60))
                .build()
                .expect("http client");
            let mut r = WorkerResult {
                latencies_us: Vec::new(),
                ok: 0,
                errors: 0,
                first_error: None,
            };
            let mut seq = 0u64;
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                let req = make(worker, seq);
                seq += 1;
                let mut b = client.request(req.method, &req.url);
                if let Some(t) = &req.bearer {
                    b = b.bearer_auth(t);
                }
                if let Some(j) = req.json {
                    b = b.header("content-type", "application/json").body(j);
                }
                let outcome = match b.send().await {
                    Ok(resp) => {
                        let status = resp.status();
                        match resp.bytes().await {
                            Ok(_) if status.is_success() => Ok(()),
                            Ok(body) => Err(format!(
                                "{status}: {}",
                                String::from_utf8_lossy(&body[..body.len().min(300)])
                            )),
                            Err(e) => Err(format!("{status}: body: {e}")),
                        }
                    }
                    Err(e) => Err(format!("send: {e}")),
                };
                if t0 < measure_from {
                    continue;
                }
                let us = t0.elapsed().as_micros().min(u32::MAX as u128) as u32;
                match outcome {
                    Ok(()) => {
                        r.ok += 1;
                        r.latencies_us.push(us);
                    }
                    Err(e) => {
                        r.errors += 1;
                        r.first_error.get_or_insert(e);
                    }
                }
            }
            r
        }));
    }
    let mut all = Vec::new();
    let (mut ok, mut errors, mut first_error) = (0, 0, None);
    for t in tasks {
        let r = t.await.expect("load worker");
        ok += r.ok;
        errors += r.errors;
        if first_error.is_none() {
            first_error = r.first_error;
        }
        all.extend(r.latencies_us);
    }
    // Requests started before `end` may finish after it: count the real span.
    let seconds = Instant::now()
        .saturating_duration_since(measure_from)
        .as_secs_f64()
        .max(1e-9);
    all.sort_unstable();
    Figure {
        ok,
        errors,
        seconds,
        throughput: ok as f64 / seconds,
        p50_ms: quantile_ms(&all, 0.50),
        p99_ms: quantile_ms(&all, 0.99),
        max_ms: all.last().map(|&u| u as f64 / 1000.0).unwrap_or(0.0),
        first_error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_pick_the_ranked_value() {
        let us: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(quantile_ms(&us, 0.5), 50.0);
        assert_eq!(quantile_ms(&us, 0.99), 99.0);
        assert_eq!(quantile_ms(&us, 1.0), 100.0);
        assert_eq!(quantile_ms(&[], 0.99), 0.0);
        assert_eq!(quantile_ms(&[7000], 0.5), 7.0);
    }
}
