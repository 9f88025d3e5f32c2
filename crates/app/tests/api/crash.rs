//! Crash safety (issue #9): the real binary on a SQLite file takes
//! concurrent `POST /api/v1/demands` with Idempotency-Keys and is killed
//! with SIGKILL at random moments, 20+ times. Requests without an answer
//! are retried with the same key after each restart. At the end: every
//! demand acknowledged with 201 is present exactly once (and every key at
//! most once), `PRAGMA integrity_check` is ok, every demand has its filing
//! event and outbox row, the rollups equal counting the demands, and the
//! audit chain is intact.
//!
//! Seed: `CRASH_SEED=<n>` repeats a run; `CRASH_ROUNDS` changes the count
//! (22 by default, about 20 s; `.ci/run` runs it once more with 60).

use crate::binary::{login, Rng, World};
use kernel::OrgPath;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Ledger {
    /// Keys whose request has not been answered yet.
    pending: VecDeque<String>,
    /// Keys answered 201, with the demand id.
    acked: BTreeMap<String, String>,
    /// Keys a retry found already done (committed, answer lost).
    done: BTreeSet<String>,
    all: BTreeSet<String>,
}

enum Outcome {
    Created(String),
    Done,
    Retry,
}

async fn send(client: &reqwest::Client, base: &str, token: &str, key: &str) -> Outcome {
    let r = client
        .post(format!("{base}/api/v1/demands"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&json!({"category": "leak", "title": key, "description": "崩溃测试:卫生间顶棚渗水"}))
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    let Ok(r) = r else {
        return Outcome::Retry;
    };
    let status = r.status();
    let Ok(v) = r.json::<serde_json::Value>().await else {
        return Outcome::Retry;
    };
    match status {
        StatusCode::CREATED => Outcome::Created(v["id"].as_str().unwrap().to_string()),
        StatusCode::CONFLICT if v["code"] == "idempotency_request_done" => Outcome::Done,
        StatusCode::CONFLICT if v["code"] == "idempotency_key_in_use" => Outcome::Retry,
        other => panic!("unexpected answer {other}: {v}"),
    }
}

/// Workers take retries first, then fresh keys, until `stop`.
async fn load(
    base: String,
    token: String,
    ledger: Arc<Mutex<Ledger>>,
    next: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    workers: usize,
) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut handles = Vec::new();
    for _ in 0..workers {
        let (client, base, token, ledger, next, stop) = (
            client.clone(),
            base.clone(),
            token.clone(),
            ledger.clone(),
            next.clone(),
            stop.clone(),
        );
        handles.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let key = {
                    let mut l = ledger.lock().unwrap();
                    match l.pending.pop_front() {
                        Some(k) => k,
                        None => {
                            let k = format!("crash-{}", next.fetch_add(1, Ordering::SeqCst));
                            l.all.insert(k.clone());
                            k
                        }
                    }
                };
                let outcome = send(&client, &base, &token, &key).await;
                let retry = {
                    let mut l = ledger.lock().unwrap();
                    match outcome {
                        Outcome::Created(id) => {
                            if let Some(prev) = l.acked.insert(key.clone(), id.clone()) {
                                assert_eq!(prev, id, "{key} acknowledged as two demands");
                            }
                            false
                        }
                        Outcome::Done => {
                            l.done.insert(key);
                            false
                        }
                        Outcome::Retry => {
                            l.pending.push_back(key);
                            true
                        }
                    }
                };
                if retry {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }));
    }
    for h in handles {
        let _ = h.await;
    }
}

#[tokio::test]
async fn acknowledged_demands_survive_kill_9_exactly_once() {
    let rounds: usize = std::env::var("CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(22);
    let mut rng = Rng::from_env_or_time("CRASH_SEED");
    let world = World::new();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let next = Arc::new(AtomicU64::new(1));

    let mut server = world.start("warn").await;
    let client = reqwest::Client::new();
    // One credential for every worker: a retry after a crash must present
    // the same credential as the first attempt (keys are per credential).
    let token = login(&client, &server.base, "13800000001").await;

    for round in 0..rounds {
        let stop = Arc::new(AtomicBool::new(false));
        let job = tokio::spawn(load(
            server.base.clone(),
            token.clone(),
            ledger.clone(),
            next.clone(),
            stop.clone(),
            4,
        ));
        tokio::time::sleep(Duration::from_millis(50 + rng.below(700))).await;
        server.kill();
        stop.store(true, Ordering::SeqCst);
        job.await.unwrap();
        let (acked, pending) = {
            let l = ledger.lock().unwrap();
            (l.acked.len(), l.pending.len())
        };
        eprintln!("round {round}: killed; {acked} acknowledged, {pending} to retry");
        server = world.start("warn").await;
    }

    // The last run is not killed: every pending key gets its answer.
    for _ in 0..200 {
        let key = ledger.lock().unwrap().pending.pop_front();
        let Some(key) = key else { break };
        match send(&client, &server.base, &token, &key).await {
            Outcome::Created(id) => {
                ledger.lock().unwrap().acked.insert(key, id);
            }
            Outcome::Done => {
                ledger.lock().unwrap().done.insert(key);
            }
            Outcome::Retry => ledger.lock().unwrap().pending.push_back(key),
        }
    }
    server.kill();

    let l = std::mem::take(&mut *ledger.lock().unwrap());
    assert!(l.pending.is_empty(), "unanswered keys: {:?}", l.pending);
    assert!(
        l.acked.len() >= rounds,
        "too little load: {}",
        l.acked.len()
    );

    let db = kernel::Db::connect(&world.database_url()).await.unwrap();
    let check: String = sqlx::query("PRAGMA integrity_check")
        .fetch_one(db.reader())
        .await
        .unwrap()
        .get(0);
    assert_eq!(check, "ok");

    // Exactly once: one demand per acknowledged key, at most one per key.
    let rows = sqlx::query("SELECT title, id FROM demands WHERE title LIKE 'crash-%'")
        .fetch_all(db.reader())
        .await
        .unwrap();
    let mut by_title: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &rows {
        by_title
            .entry(r.get::<String, _>(0))
            .or_default()
            .push(r.get::<String, _>(1));
    }
    for (title, ids) in &by_title {
        assert_eq!(ids.len(), 1, "{title} written {} times", ids.len());
        assert!(l.all.contains(title));
    }
    for (key, id) in &l.acked {
        assert_eq!(
            by_title.get(key),
            Some(&vec![id.clone()]),
            "acknowledged {key} missing or different"
        );
    }
    for key in &l.done {
        assert_eq!(by_title.get(key).map(Vec::len), Some(1), "{key}");
    }
    // Every key was answered in the end, so every key has its demand.
    assert_eq!(by_title.len(), l.acked.len() + l.done.len());

    // Each demand with its filing event and its outbox row.
    let orphans: i64 = sqlx::query(
        "SELECT COUNT(*) FROM demands d WHERE d.title LIKE 'crash-%' AND (
           NOT EXISTS (SELECT 1 FROM demand_events e WHERE e.demand_id = d.id AND e.from_status IS NULL)
           OR NOT EXISTS (SELECT 1 FROM notify_outbox o WHERE o.object_type = 'demand' AND o.object_id = d.id))",
    )
    .fetch_one(db.reader())
    .await
    .unwrap()
    .get(0);
    assert_eq!(
        orphans, 0,
        "demands without their filing event or outbox row"
    );

    // Rollups agree with counting the demands.
    let period = cases::rates::Period {
        from_ms: 0,
        to_ms: i64::MAX / 4,
    };
    for root in ["/141100/", crate::helpers::XC, crate::helpers::XC_101] {
        let roots = [OrgPath::parse(root).unwrap()];
        let fast = cases::rates::compute(&db, &roots, &period).await.unwrap();
        let slow = cases::rates::compute_direct(&db, &roots, &period)
            .await
            .unwrap();
        assert_eq!(fast, slow, "rollups of {root}");
    }

    assert!(matches!(
        kernel::audit::verify(&db).await.unwrap(),
        Ok(n) if n > 0
    ));
    db.close().await;
    eprintln!(
        "{} acknowledged, {} done on retry, {} rounds",
        l.acked.len(),
        l.done.len(),
        rounds
    );
}
