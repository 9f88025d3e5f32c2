//! No dead ends: every demo role follows every same-origin link it can see.

use crate::wd::{self, Res};
use crate::{login, logout, shoot, step, Rig};
use serde_json::json;
use std::collections::{BTreeSet, HashMap, VecDeque};

/// Every account in the README's demo table.
pub const DEMO_ACCOUNTS: &[&str] = &[
    "13800000001",
    "13800000002",
    "13800000003",
    "butler-xc",
    "property-xc",
    "property-fh",
    "branch-fh",
    "community-zq",
    "street-cb",
    "district-ls",
    "village-xmz",
    "approval-lx",
    "expert-1",
    "grid-cz",
    "auditor",
];

/// Pages per role at most.
const MAX_PAGES: usize = 150;
/// Pages of one shape (same path with ids blanked, same query keys) per role:
/// the tenth demand page finds nothing the second did not.
const PER_SHAPE: usize = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_follows_every_link_without_a_dead_end() {
    let Some(rig) = Rig::start().await else {
        return;
    };
    let mut b = rig.window(true).await;
    let mut problems = Vec::new();
    let mut visited_total = 0;
    for who in DEMO_ACCOUNTS {
        step(&format!("crawling as {who}"));
        match crawl_as(&rig, &mut b, who).await {
            Ok((visited, mut found)) => {
                eprintln!("  {who}: {visited} pages, {} problems", found.len());
                visited_total += visited;
                problems.append(&mut found);
            }
            Err(e) => problems.push(format!("{who}: {e}")),
        }
        // Whatever happened, the next role starts logged out.
        let _ = b.delete_cookies().await;
    }
    eprintln!(
        "crawled {visited_total} pages as {} roles",
        DEMO_ACCOUNTS.len()
    );
    let outcome = if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} dead ends:\n  {}",
            problems.len(),
            problems.join("\n  ")
        ))
    };
    rig.finish("crawl", outcome, &mut [&mut b]).await;
}

/// The shape of a URL: ids blanked, query values dropped.
fn shape(path_and_query: &str) -> String {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let path: Vec<String> = path
        .split('/')
        .map(|seg| {
            let digits = seg.chars().filter(char::is_ascii_digit).count();
            if seg.len() >= 8 && digits >= 2 {
                "{id}".to_string()
            } else {
                seg.to_string()
            }
        })
        .collect();
    let keys: BTreeSet<&str> = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| kv.split('=').next().unwrap_or(""))
        .collect();
    format!(
        "{}?{}",
        path.join("/"),
        keys.into_iter().collect::<Vec<_>>().join("&")
    )
}

#[test]
fn shapes_blank_ids_and_query_values() {
    assert_eq!(
        shape("/demands/0193a7b2-1c3d-7e4f-8a9b-0c1d2e3f4a5b"),
        "/demands/{id}?"
    );
    assert_eq!(
        shape("/insight?org=abc&from=2026-11-01"),
        "/insight?from&org"
    );
    assert_ne!(shape("/insight"), shape("/insight/league"));
}

async fn crawl_as(rig: &Rig, b: &mut wd::Session, who: &str) -> Res<(usize, Vec<String>)> {
    login(b, &rig.app, who, "").await?;
    let start = b.current_url().await?;
    shoot(b, &rig.shots, "crawl", &format!("home-{who}")).await?;
    let origin = rig.app.url("");
    let origin = origin.trim_end_matches('/').to_string();
    let mut queue = VecDeque::from([start.clone()]);
    let mut seen = BTreeSet::from([start.clone()]);
    let mut shapes: HashMap<String, usize> = HashMap::new();
    let mut problems = Vec::new();
    let mut visited = 0;
    while let Some(url) = queue.pop_front() {
        if visited >= MAX_PAGES {
            break;
        }
        visited += 1;
        if let Err(e) = b.goto(&url).await {
            problems.push(format!("{who} at {url}: {e}"));
            continue;
        }
        if b.find("header .who").await?.is_none() {
            problems.push(format!("{who} at {url}: logged out by visiting it"));
            login(b, &rig.app, who, "").await?;
            continue;
        }
        let links = b
            .exec(
                "return [...document.querySelectorAll('a[href]')]\
                 .filter(a => !a.hasAttribute('download'))\
                 .map(a => a.href.split('#')[0]);",
                json!([]),
            )
            .await?;
        for href in links.as_array().into_iter().flatten() {
            let Some(href) = href.as_str() else { continue };
            let Some(rest) = href.strip_prefix(&origin) else {
                continue; // another origin: not ours to crawl
            };
            if !followable(rest) || seen.contains(href) {
                continue;
            }
            let n = shapes.entry(shape(rest)).or_default();
            if *n >= PER_SHAPE {
                continue;
            }
            *n += 1;
            seen.insert(href.to_string());
            queue.push_back(href.to_string());
        }
    }
    logout(b).await?;
    Ok((visited, problems))
}

/// A page a person reads: not the API, not a download, not logging out,
/// not the language switch (it changes the language for the rest).
fn followable(path_and_query: &str) -> bool {
    let path = path_and_query.split('?').next().unwrap_or("");
    !(path.starts_with("/api/")
        || path.starts_with("/logout")
        || path.starts_with("/static/")
        || path.starts_with("/open311/")
        || path.ends_with(".xlsx")
        || path.ends_with(".csv")
        || path.ends_with(".json")
        || path.ends_with(".xml")
        || path.ends_with(".png")
        || path.ends_with(".jpg")
        || path.ends_with(".webp")
        || path_and_query.contains("lang="))
}
