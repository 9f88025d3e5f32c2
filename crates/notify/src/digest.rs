//! The daily digest (每日摘要): for every staff member, what is new, overdue
//! and due today in their scope, as one inbox item; for every org node with
//! a webhook, the same figures for the node, to that node's endpoints only.
//! The figures come from the modules (see [`crate::registry`]). Each digest
//! carries a per-day key, so running twice on a day — two servers, or a
//! restart after the digest time — sends nothing twice.

use crate::model::{kind, Event, WebhookScope};
use crate::registry::{self, DigestCounts, DigestWindow};
use crate::{hub, store};
use chrono::TimeZone;
use kernel::clock::shanghai;
use kernel::{AppResult, Ctx, OrgPath, Role};
use serde_json::json;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DigestReport {
    /// Staff members who got a digest.
    pub users: usize,
    /// Nodes whose webhooks got one.
    pub nodes: usize,
}

/// Local (Shanghai) day number and minute of the day at `ms`.
fn local_day_minute(ms: i64) -> (i64, u32) {
    let local = ms + (kernel::clock::SHANGHAI_OFFSET_SECS as i64) * 1000;
    let day = local.div_euclid(86_400_000);
    let minute = (local.rem_euclid(86_400_000) / 60_000) as u32;
    (day, minute)
}

/// Is it time for today's digest (and has this server not sent it yet)?
pub fn due(ctx: &Ctx) -> bool {
    let (day, minute) = local_day_minute(ctx.now_ms());
    let done = *hub(ctx)
        .digest_day
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    minute >= ctx.settings.digest_minute && done != Some(day)
}

fn window(now: i64) -> (DigestWindow, String) {
    let (day, _) = local_day_minute(now);
    let offset = (kernel::clock::SHANGHAI_OFFSET_SECS as i64) * 1000;
    let day_start = day * 86_400_000 - offset;
    let date = shanghai()
        .timestamp_millis_opt(now)
        .single()
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    (
        DigestWindow {
            now,
            day_start,
            day_end: day_start + 86_400_000,
        },
        date,
    )
}

async fn counts(
    ctx: &Ctx,
    roots: &[OrgPath],
    w: DigestWindow,
) -> AppResult<Vec<(&'static str, DigestCounts)>> {
    let mut out = Vec::new();
    for (_, label, source) in registry::digest_sources() {
        let c = source(ctx, roots, w).await?;
        if !c.is_zero() {
            out.push((label, c));
        }
    }
    Ok(out)
}

fn body_of(sections: &[(&'static str, DigestCounts)]) -> String {
    sections
        .iter()
        .map(|(label, c)| {
            format!(
                "{label}:新增 {} · 超期 {} · 今日到期 {}",
                c.new, c.overdue, c.due_today
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn payload_of(date: &str, sections: &[(&'static str, DigestCounts)]) -> serde_json::Value {
    json!({
        "date": date,
        "sections": sections.iter().map(|(label, c)| json!({
            "label": label, "new": c.new, "overdue": c.overdue, "due_today": c.due_today
        })).collect::<Vec<_>>(),
    })
}

/// Sends today's digest (as of the context's clock).
pub async fn run(ctx: &Ctx) -> AppResult<DigestReport> {
    let now = ctx.now_ms();
    let (w, date) = window(now);
    let mut report = DigestReport::default();
    let mut events = Vec::new();
    for (user_id, _) in store::staff_with(&ctx.db, Role::CASE_STAFF).await? {
        let grants = accounts::store::grants_of(&ctx.db, &user_id).await?;
        let p = kernel::Principal {
            user_id: user_id.clone(),
            display_name: String::new(),
            grants,
            households: vec![],
            csrf_token: None,
            session_id: String::new(),
        };
        let roots = p.roots_for(Role::CASE_STAFF);
        let Some(first) = roots.first().cloned() else {
            continue;
        };
        let sections = counts(ctx, &roots, w).await?;
        if sections.is_empty() {
            continue;
        }
        events.push((
            true,
            Event::new(
                kind::DIGEST,
                &first,
                "digest",
                None,
                format!("每日摘要 {date}"),
            )
            .to_user(&user_id)
            .webhooks(WebhookScope::None)
            .body(body_of(&sections))
            .link("/inbox")
            .payload(payload_of(&date, &sections))
            .dedupe(format!("digest:{date}:user:{user_id}"))
            .at(now),
        ));
    }
    for node in store::webhook_nodes(&ctx.db).await? {
        let sections = counts(ctx, std::slice::from_ref(&node), w).await?;
        if sections.is_empty() {
            continue;
        }
        let name = store::org_node_by_path(&ctx.db, node.as_str())
            .await?
            .map(|n| n.2)
            .unwrap_or_default();
        events.push((
            false,
            Event::new(
                kind::DIGEST,
                &node,
                "org_node",
                None,
                format!("{name} 每日摘要 {date}"),
            )
            .webhooks(WebhookScope::Exact)
            .body(body_of(&sections))
            .payload(payload_of(&date, &sections))
            .dedupe(format!("digest:{date}:node:{}", node.as_str()))
            .at(now),
        ));
    }
    let mut tx = ctx.db.begin().await?;
    for (to_user, e) in events {
        if store::insert_event(&mut tx, &e, now).await?.is_some() {
            if to_user {
                report.users += 1;
            } else {
                report.nodes += 1;
            }
        }
    }
    tx.commit().await?;
    *hub(ctx)
        .digest_day
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = Some(local_day_minute(now).0);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_days_and_windows() {
        // 2026-03-09T00:30+08:00 is still 2026-03-08 in UTC.
        let ms = kernel::clock::from_rfc3339("2026-03-09T00:30:00+08:00").unwrap();
        let (w, date) = window(ms);
        assert_eq!(date, "2026-03-09");
        assert_eq!(
            w.day_start,
            kernel::clock::from_rfc3339("2026-03-09T00:00:00+08:00").unwrap()
        );
        assert_eq!(w.day_end - w.day_start, 86_400_000);
        assert_eq!(local_day_minute(ms).1, 30);
    }
}
