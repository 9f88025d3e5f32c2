//! Retention (PIPL art. 19 and 47: keep personal information no longer than
//! its purpose needs): a daily job that anonymises the personal details of
//! long-closed demands and purges expired sessions, delivered notifications
//! and read inbox entries. The audit log is never touched: it is
//! append-only, and its retention may not be set below the 184 days that
//! 网络安全法 art. 21 requires (6 months).

use kernel::audit::{self, AuditEntry};
use kernel::{AppResult, Ctx};
use serde::Serialize;
use serde_json::json;

const DAY_MS: i64 = 86_400_000;

/// The audit log is kept at least this many days (网络安全法 art. 21).
pub const AUDIT_MIN_DAYS: i64 = 184;

/// The retention keys the personal-data registry may name (each is
/// `retention_<key>` in lianxin.toml).
pub const RETENTION_KEYS: &[&str] = &[
    "closed_demand_days",
    "session_days",
    "outbox_days",
    "inbox_days",
    "audit_days",
];

/// Text that replaces a demand's personal details once anonymised.
pub const ANONYMISED: &str = "(已匿名)";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// A closed demand's title, description, location, rating comment,
    /// event notes and attachments are anonymised this long after closing;
    /// its category, place, times and ratings stay for the statistics.
    pub closed_demand_days: i64,
    /// Ended (expired or revoked) sessions are deleted this long after.
    pub session_days: i64,
    /// Fanned-out notification events and finished webhook deliveries.
    pub outbox_days: i64,
    /// Inbox entries (read or not).
    pub inbox_days: i64,
    /// The audit log: documented and validated, never purged by this job.
    pub audit_days: i64,
    /// Staff must process a resident's deletion or correction request
    /// within this many days (GB/T 35273-2020 §8.7: 15 working days at
    /// most; we count calendar days to be safe).
    pub request_days: i64,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy {
            closed_demand_days: 3 * 365,
            session_days: 30,
            outbox_days: 90,
            inbox_days: 365,
            audit_days: AUDIT_MIN_DAYS,
            request_days: 15,
        }
    }
}

impl RetentionPolicy {
    pub fn validate(&self) -> Result<(), String> {
        for (key, v) in [
            ("retention_closed_demand_days", self.closed_demand_days),
            ("retention_session_days", self.session_days),
            ("retention_outbox_days", self.outbox_days),
            ("retention_inbox_days", self.inbox_days),
            ("retention_request_days", self.request_days),
        ] {
            if !(1..=36_500).contains(&v) {
                return Err(format!("{key}: 1 to 36500"));
            }
        }
        if !(AUDIT_MIN_DAYS..=36_500).contains(&self.audit_days) {
            return Err(format!(
                "retention_audit_days: at least {AUDIT_MIN_DAYS} (网络安全法 第二十一条: 不少于六个月)"
            ));
        }
        Ok(())
    }
}

/// The policy this context runs with (set by `app::context`).
pub fn policy(ctx: &Ctx) -> std::sync::Arc<RetentionPolicy> {
    ctx.extensions.get_or_init(RetentionPolicy::default)
}

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct RetentionReport {
    pub anonymised_demands: u64,
    pub purged_sessions: u64,
    pub purged_deliveries: u64,
    pub purged_inbox: u64,
    pub purged_outbox: u64,
}

impl RetentionReport {
    pub fn is_empty(&self) -> bool {
        *self == RetentionReport::default()
    }
}

/// Statements that strip the personal details around the demands that
/// `ids` (a subquery with `$1`) selects: event notes, attachments, and the
/// notifications about them (which quote title and description).
pub fn anonymise_demands_sql(ids: &str) -> Vec<String> {
    vec![
        format!("UPDATE demand_events SET note = NULL, detail = NULL WHERE demand_id IN ({ids})"),
        format!("DELETE FROM attachments WHERE demand_id IN ({ids})"),
        format!(
            "UPDATE notify_outbox SET title = '{ANONYMISED}', body = NULL, payload = '{{}}' \
             WHERE object_type = 'demand' AND object_id IN ({ids})"
        ),
        format!(
            "UPDATE notify_inbox SET title = '{ANONYMISED}', body = NULL \
             WHERE object_type = 'demand' AND object_id IN ({ids})"
        ),
    ]
}

/// One pass of the retention job; idempotent, safe to run at any time.
pub async fn run(ctx: &Ctx) -> AppResult<RetentionReport> {
    let p = policy(ctx);
    let now = ctx.now_ms();
    let mut report = RetentionReport::default();
    let mut tx = ctx.db.begin().await?;

    let demand_cutoff = now - p.closed_demand_days * DAY_MS;
    let stale = "SELECT id FROM demands WHERE closed_at IS NOT NULL AND closed_at < $1 \
                 AND anonymised_at IS NULL";
    for sql in anonymise_demands_sql(stale) {
        sqlx::query(&sql)
            .bind(demand_cutoff)
            .execute(&mut *tx)
            .await?;
    }
    report.anonymised_demands = sqlx::query(
        "UPDATE demands SET title = $2, description = $2, location = NULL, \
         rating_comment = NULL, anonymised_at = $3 \
         WHERE closed_at IS NOT NULL AND closed_at < $1 AND anonymised_at IS NULL",
    )
    .bind(demand_cutoff)
    .bind(ANONYMISED)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();

    let session_cutoff = now - p.session_days * DAY_MS;
    report.purged_sessions = sqlx::query(
        "DELETE FROM sessions WHERE expires_at < $1 OR (revoked_at IS NOT NULL AND revoked_at < $1)",
    )
    .bind(session_cutoff)
    .execute(&mut *tx)
    .await?
    .rows_affected();

    let outbox_cutoff = now - p.outbox_days * DAY_MS;
    report.purged_deliveries = sqlx::query(
        "DELETE FROM notify_deliveries WHERE status IN ('delivered', 'dead') AND updated_at < $1",
    )
    .bind(outbox_cutoff)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    report.purged_inbox = sqlx::query("DELETE FROM notify_inbox WHERE created_at < $1")
        .bind(now - p.inbox_days * DAY_MS)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    // An event goes once nothing refers to it any more.
    report.purged_outbox = sqlx::query(
        "DELETE FROM notify_outbox WHERE fanned_out_at IS NOT NULL AND created_at < $1 \
         AND NOT EXISTS (SELECT 1 FROM notify_inbox i WHERE i.event_id = notify_outbox.id) \
         AND NOT EXISTS (SELECT 1 FROM notify_deliveries d WHERE d.event_id = notify_outbox.id)",
    )
    .bind(outbox_cutoff)
    .execute(&mut *tx)
    .await?
    .rows_affected();

    if !report.is_empty() {
        audit::record(
            &mut tx,
            ctx.db.backend(),
            AuditEntry {
                at_ms: now,
                action: "retention_run",
                object_type: "retention",
                detail: json!(report),
                ..Default::default()
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audit_log_is_never_kept_less_than_184_days() {
        let mut p = RetentionPolicy::default();
        assert!(p.validate().is_ok());
        p.audit_days = 183;
        assert!(p.validate().unwrap_err().contains("retention_audit_days"));
        p.audit_days = 184;
        p.session_days = 0;
        assert!(p.validate().is_err());
    }
}
