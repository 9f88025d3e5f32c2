//! The query-count regression test of #8: the real binary counts the SQL
//! statements it executes (`LIANXIN_COUNT_DB_STATEMENTS=1`, read from
//! `/metrics`), and each hot path must stay within its budget of statements
//! per request. No timing is asserted: a count does not depend on how busy
//! the machine is, and an N+1 query or a lost index-backed rollup (a
//! dashboard counting per unit, a list fetching per row) multiplies it.
//!
//! The budgets are about twice what the paths use today (the table is
//! printed; `LIANXIN_QUERY_COUNTS_PRINT=1` shows it on success too).

use crate::binary::{login, World};
use reqwest::StatusCode;
use serde_json::json;

async fn statements(client: &reqwest::Client, base: &str) -> u64 {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("lianxin_db_statements_total "))
        .unwrap_or_else(|| panic!("no statement counter in /metrics:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

struct Path {
    name: &'static str,
    budget: f64,
    per_request: f64,
}

#[tokio::test]
async fn hot_paths_stay_within_their_statement_budgets() {
    let world = World::new();
    let server = world
        .start_with_env("warn", &[("LIANXIN_COUNT_DB_STATEMENTS", "1")])
        .await;
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let resident = login(&client, &base, "13800000001").await;
    let staff = login(&client, &base, "community-zq").await;
    let district = login(&client, &base, "district-ls").await;
    const N: u64 = 20;
    let mut results: Vec<Path> = Vec::new();

    // Runs `call` once to warm caches, then N times; statements per call.
    macro_rules! measure {
        ($name:expr, $budget:expr, $call:expr) => {{
            $call;
            let before = statements(&client, &base).await;
            for _ in 0..N {
                $call;
            }
            let after = statements(&client, &base).await;
            // The /metrics read itself runs no statement.
            results.push(Path {
                name: $name,
                budget: $budget,
                per_request: (after - before) as f64 / N as f64,
            });
        }};
    }

    let mut ids: Vec<String> = Vec::new();
    let create = || async {
        let r = client
            .post(format!("{base}/api/v1/demands"))
            .bearer_auth(&resident)
            .json(&json!({"category": "leak", "title": "卫生间渗水", "description": "卫生间顶棚渗水,已经三天了"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let v: serde_json::Value = r.json().await.unwrap();
        v["id"].as_str().unwrap().to_string()
    };
    measure!("create demand (resident)", 50.0, ids.push(create().await));
    let get = |url: String, token: String| {
        let client = client.clone();
        async move {
            let r = client.get(url).bearer_auth(token).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            r.bytes().await.unwrap().len()
        }
    };
    measure!(
        "list my demands (resident)",
        10.0,
        get(format!("{base}/api/v1/demands?limit=20"), resident.clone()).await
    );
    measure!(
        "list demands in scope (district)",
        10.0,
        get(format!("{base}/api/v1/demands?limit=20"), district.clone()).await
    );
    let first = ids[0].clone();
    measure!(
        "one demand with its events (staff)",
        12.0,
        get(format!("{base}/api/v1/demands/{first}"), staff.clone()).await
    );
    let mut next = ids.clone().into_iter();
    measure!("accept a demand (staff)", 36.0, {
        let id = next.next().unwrap();
        let r = client
            .post(format!("{base}/api/v1/demands/{id}/transitions"))
            .bearer_auth(&staff)
            .json(&json!({"action": "accept"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    });
    measure!(
        "rates of the district over a year",
        12.0,
        get(
            format!("{base}/api/v1/insight/rates?from=2025-12-01&to=2026-11-30"),
            district.clone()
        )
        .await
    );
    // The dashboard reads a bounded number of rollup sums: per trend bucket
    // and per unit one, not per demand.
    measure!(
        "dashboard of the district over a year",
        60.0,
        get(
            format!("{base}/api/v1/insight/dashboard?from=2025-12-01&to=2026-11-30"),
            district.clone()
        )
        .await
    );
    measure!(
        "Open311 requests.json",
        12.0,
        get(
            format!("{base}/open311/v2/requests.json"),
            district.clone()
        )
        .await
    );

    let table: String = results
        .iter()
        .map(|p| format!("{:<40} {:>7.1} (budget {:>5.0})\n", p.name, p.per_request, p.budget))
        .collect();
    if std::env::var("LIANXIN_QUERY_COUNTS_PRINT").is_ok() {
        println!("statements per request:\n{table}");
    }
    for p in &results {
        assert!(
            p.per_request > 0.0,
            "{} ran no statement: is the counter wired?\n{table}",
            p.name
        );
        assert!(
            p.per_request <= p.budget,
            "{} runs {:.1} statements per request, over its budget of {}\n{table}",
            p.name,
            p.per_request,
            p.budget
        );
    }
}
