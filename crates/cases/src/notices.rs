//! What demands tell people, through the notify module: each call writes
//! an event to the outbox inside the caller's transaction, so a notice goes
//! out exactly when the change commits. Also what notify borrows from this
//! module: who may follow a demand, and the demand figures of the daily digest.
//!
//! - filed → the compound's dispatchers (by the default subscriptions);
//! - dispatched → the lead assignee and the co-assignees;
//! - overdue (the sweep) and escalated (督办) → staff at the escalation
//!   target node and the assignee;
//! - resolved, waiting for the return visit → the household's residents
//!   (their accounts, `residents.user_id`), and the verifiers by subscription;
//! - rework, reopened → the assignee; rejected → the household; returned →
//!   the dispatchers.

use crate::store::DemandRow;
use crate::workflow::Action;
use kernel::{AppError, AppResult, Backend, Ctx, OrgPath, Principal, Role, Tx};
use notify::registry::{BoxFuture, DigestCounts, DigestWindow, FollowTarget};
use notify::{kind, Event};
use serde_json::json;
use sqlx::Row;

fn base(kind: &str, d: &DemandRow, now: i64) -> Event {
    Event::new(kind, &d.org_path, "demand", Some(&d.id), d.title.clone())
        .link(format!("/demands/{}", d.id))
        .payload(json!({
            "status": d.status.as_str(),
            "category": d.category,
            "urgency": d.urgency,
            "escalation_level": d.escalation_level,
            "escalated_to": d.escalated_to,
            "overdue": d.overdue,
        }))
        .at(now)
}

fn short(s: &str, n: usize) -> String {
    let mut out: String = s.chars().take(n).collect();
    if s.chars().count() > n {
        out.push('…');
    }
    out
}

/// A demand was filed (web, phone intake, grid, Open311).
pub async fn on_filed(
    tx: &mut Tx,
    backend: Backend,
    d: &DemandRow,
    actor: &str,
    now: i64,
) -> AppResult<()> {
    notify::publish(tx, backend, filed(d, actor, now)).await
}

/// [`on_filed`] as a write added to `w`.
pub fn push_filed(w: &mut kernel::db::Writes, d: &DemandRow, actor: &str, now: i64) {
    notify::publish_with(w, filed(d, actor, now))
}

fn filed(d: &DemandRow, actor: &str, now: i64) -> Event {
    base(kind::DEMAND_FILED, d, now)
        .actor(Some(actor))
        .body(short(&d.description, 80))
}

/// After a workflow step (`d` as it now is).
#[allow(clippy::too_many_arguments)]
pub async fn on_transition(
    tx: &mut Tx,
    backend: Backend,
    d: &DemandRow,
    action: Action,
    co_assignees: &[String],
    note: Option<&str>,
    actor: &str,
    now: i64,
) -> AppResult<()> {
    let with_note = |e: Event| match note {
        Some(n) => e.body(short(n, 200)),
        None => e,
    };
    let to_assignee = |e: Event| match &d.assignee_user_id {
        Some(a) => e.to_user(a),
        None => e,
    };
    let e = match action {
        Action::Dispatch => {
            let mut e = to_assignee(base(kind::DEMAND_DISPATCHED, d, now));
            for c in co_assignees {
                e = e.to_user(c);
            }
            with_note(e)
        }
        Action::Resolve => {
            with_note(base(kind::DEMAND_RESOLVED, d, now).to_household(&d.household_id))
        }
        Action::Escalate => escalated(kind::DEMAND_ESCALATED, d, now),
        Action::VerifyFail => with_note(to_assignee(base(kind::DEMAND_REWORK, d, now))),
        Action::Reopen => with_note(to_assignee(base(kind::DEMAND_REOPENED, d, now))),
        Action::Reject => {
            with_note(base(kind::DEMAND_REJECTED, d, now).to_household(&d.household_id))
        }
        Action::Return => with_note(base(kind::DEMAND_RETURNED, d, now)),
        _ => return Ok(()),
    };
    notify::publish(tx, backend, e.actor(Some(actor))).await
}

fn escalated(k: &str, d: &DemandRow, now: i64) -> Event {
    let mut e = base(k, d, now);
    if let Some(to) = &d.escalated_to {
        e = e.to_roles_at(to, Role::CASE_STAFF);
    }
    if let Some(a) = &d.assignee_user_id {
        e = e.to_user(a);
    }
    e
}

/// The sweep found it overdue and escalated it one level up.
pub async fn on_overdue(tx: &mut Tx, backend: Backend, d: &DemandRow, now: i64) -> AppResult<()> {
    let e = escalated(kind::DEMAND_OVERDUE, d, now).body("超期未办,系统自动督办");
    notify::publish(tx, backend, e).await
}

fn follow_demand<'a>(
    ctx: &'a Ctx,
    p: &'a Principal,
    id: &'a str,
) -> BoxFuture<'a, AppResult<Option<FollowTarget>>> {
    Box::pin(async move {
        match crate::flow::visible(ctx, p, id).await {
            Ok(d) => Ok(Some(FollowTarget {
                org_path: d.org_path,
                title: d.title,
            })),
            Err(AppError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    })
}

/// New (last 24 hours), overdue and due-today demands under `roots`.
fn digest_demands<'a>(
    ctx: &'a Ctx,
    roots: &'a [OrgPath],
    w: DigestWindow,
) -> BoxFuture<'a, AppResult<DigestCounts>> {
    Box::pin(async move {
        if roots.is_empty() {
            return Ok(DigestCounts::default());
        }
        let scope = org::store::scope_sql("org_path", roots.len(), 4);
        let sql = format!(
            "SELECT
                CAST(COALESCE(SUM(CASE WHEN created_at >= $1 THEN 1 ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN overdue = 1 AND status IN ('submitted', 'accepted', 'returned', 'dispatched', 'in_progress', 'rework') THEN 1 ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN overdue = 0 AND (
                    (status IN ('submitted', 'accepted', 'returned') AND dispatch_deadline >= $2 AND dispatch_deadline < $3)
                 OR (status IN ('dispatched', 'in_progress', 'rework') AND feedback_deadline >= $2 AND feedback_deadline < $3))
                 THEN 1 ELSE 0 END), 0) AS BIGINT)
             FROM demands WHERE merged_into IS NULL AND {scope}"
        );
        let mut q = sqlx::query(&sql)
            .bind(w.now - 86_400_000)
            .bind(w.day_start)
            .bind(w.day_end);
        for r in roots {
            q = q.bind(r.as_str().to_string()).bind(r.subtree_end());
        }
        let r = q.fetch_one(ctx.db.reader()).await?;
        Ok(DigestCounts {
            new: r.get(0),
            overdue: r.get(1),
            due_today: r.get(2),
        })
    })
}

/// Lends notify the demand follow check and the digest's demand figures
/// (idempotent; the app calls it when it builds a context).
pub fn register() {
    notify::registry::register_follow("demand", follow_demand);
    notify::registry::register_digest("demands", "诉求", digest_demands);
}
