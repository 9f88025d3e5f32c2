//! The audit log: append-only and tamper-evident. Each row carries the hash
//! of the previous row, so editing or deleting any row breaks the chain from
//! there on. Rows are written inside the same transaction as the change they
//! record: if the audit row cannot be written, the change does not happen.
//! Details must never hold a password, token, or unmasked phone/ID number.

use crate::db::{Backend, Db, Tx, Writes};
use crate::error::AppResult;
use crate::id::new_id;
use serde::Serialize;
use sqlx::Row;

#[derive(Debug, Clone, Default)]
pub struct AuditEntry<'a> {
    pub at_ms: i64,
    pub actor_id: Option<&'a str>,
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: Option<&'a str>,
    pub org_path: Option<&'a str>,
    pub detail: serde_json::Value,
    pub ip: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct AuditRow {
    pub seq: i64,
    pub id: String,
    pub at_ms: i64,
    pub actor_id: Option<String>,
    pub action: String,
    pub object_type: String,
    pub object_id: Option<String>,
    pub org_path: Option<String>,
    pub detail: String,
    pub ip: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[allow(clippy::too_many_arguments)]
fn row_hash(
    prev: &str,
    seq: i64,
    id: &str,
    at_ms: i64,
    actor: Option<&str>,
    action: &str,
    object_type: &str,
    object_id: Option<&str>,
    org_path: Option<&str>,
    detail: &str,
    ip: Option<&str>,
) -> String {
    // A length-prefixed encoding so no two field sequences hash alike.
    let mut buf = Vec::new();
    for part in [
        prev,
        &seq.to_string(),
        id,
        &at_ms.to_string(),
        actor.unwrap_or(""),
        action,
        object_type,
        object_id.unwrap_or(""),
        org_path.unwrap_or(""),
        detail,
        ip.unwrap_or(""),
    ] {
        buf.extend_from_slice(&(part.len() as u64).to_be_bytes());
        buf.extend_from_slice(part.as_bytes());
    }
    crate::crypto::sha256_hex(&buf)
}

/// Appends one row to the chain inside `tx`.
pub async fn record(tx: &mut Tx, backend: Backend, e: AuditEntry<'_>) -> AppResult<()> {
    record_with(tx, backend, e, Writes::new()).await
}

/// Records the entry and runs `writes` (the change it records) with it:
/// the chain's head is read first, then the writes and the new row travel
/// together (one round trip on SQLite, see [`Writes`]).
pub async fn record_with(
    tx: &mut Tx,
    backend: Backend,
    e: AuditEntry<'_>,
    mut writes: Writes,
) -> AppResult<()> {
    // An Idempotency-Key of the request commits with its first audited change.
    crate::idempotency::bind(tx, backend, e.object_type, e.object_id).await?;
    let mut head = head(tx, backend).await?;
    push_chained(&mut writes, &mut head, &e);
    writes.run(tx).await?;
    Ok(())
}

/// The chain's last row (its seq and hash; the genesis before the first),
/// for [`push_chained`]. On PostgreSQL it also locks the chain to `tx`.
pub async fn head(tx: &mut Tx, backend: Backend) -> AppResult<(i64, String)> {
    if backend == Backend::Postgres {
        // Serialises appenders so two transactions never extend the same head.
        sqlx::query("SELECT pg_advisory_xact_lock(7240001)")
            .execute(&mut **tx)
            .await?;
    }
    let head = sqlx::query("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?;
    Ok(match head {
        Some(r) => (r.get::<i64, _>(0), r.get::<String, _>(1)),
        None => (0, GENESIS.to_string()),
    })
}

/// [`head`] inside a direct transaction (SQLite: the transaction holds the
/// file's write lock, so no one else extends the chain meanwhile).
pub fn head_direct(tx: &crate::direct::DirectTx<'_>) -> AppResult<(i64, String)> {
    use crate::rows::Columns;
    let rows = tx.rows(
        "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
        &[],
    )?;
    Ok(match rows.first() {
        Some(r) => (r.int("seq"), r.text("hash")),
        None => (0, GENESIS.to_string()),
    })
}

/// Adds the row of `e` after `head` to `writes` and moves `head` on to it:
/// several entries can be chained in one transaction this way.
pub fn push_chained(writes: &mut Writes, head: &mut (i64, String), e: &AuditEntry<'_>) {
    let seq = head.0 + 1;
    let id = new_id();
    let detail = e.detail.to_string();
    let hash = row_hash(
        &head.1,
        seq,
        &id,
        e.at_ms,
        e.actor_id,
        e.action,
        e.object_type,
        e.object_id,
        e.org_path,
        &detail,
        e.ip,
    );
    let prev = std::mem::replace(head, (seq, hash.clone())).1;
    writes.push(
        "INSERT INTO audit_events (seq, id, at_ms, actor_id, action, object_type, object_id, org_path, detail, ip, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        vec![
            seq.into(),
            id.into(),
            e.at_ms.into(),
            e.actor_id.into(),
            e.action.into(),
            e.object_type.into(),
            e.object_id.into(),
            e.org_path.into(),
            detail.into(),
            e.ip.into(),
            prev.into(),
            hash.into(),
        ],
    );
}

/// Records one entry in its own transaction (for events with no other change,
/// such as a failed login).
pub async fn record_alone(db: &Db, e: AuditEntry<'_>) -> AppResult<()> {
    let mut tx = db.begin().await?;
    record(&mut tx, db.backend(), e).await?;
    tx.commit().await?;
    Ok(())
}

pub fn row_from(r: &sqlx::any::AnyRow) -> AuditRow {
    AuditRow {
        seq: r.get("seq"),
        id: r.get("id"),
        at_ms: r.get("at_ms"),
        actor_id: crate::db::opt_str(r, "actor_id"),
        action: r.get("action"),
        object_type: r.get("object_type"),
        object_id: crate::db::opt_str(r, "object_id"),
        org_path: crate::db::opt_str(r, "org_path"),
        detail: r.get("detail"),
        ip: crate::db::opt_str(r, "ip"),
        prev_hash: r.get("prev_hash"),
        hash: r.get("hash"),
    }
}

/// Walks the chain; `Ok(n)` with the number of rows when intact, else
/// `Err(seq)` of the first row whose link or content does not match.
pub async fn verify(db: &Db) -> AppResult<Result<i64, i64>> {
    let rows = sqlx::query(
        "SELECT seq, id, at_ms, actor_id, action, object_type, object_id, org_path, detail, ip, prev_hash, hash
         FROM audit_events ORDER BY seq",
    )
    .fetch_all(db.reader())
    .await?;
    let mut prev = GENESIS.to_string();
    for (expected_seq, r) in (1..).zip(rows.iter()) {
        let a = row_from(r);
        let h = row_hash(
            &prev,
            a.seq,
            &a.id,
            a.at_ms,
            a.actor_id.as_deref(),
            &a.action,
            &a.object_type,
            a.object_id.as_deref(),
            a.org_path.as_deref(),
            &a.detail,
            a.ip.as_deref(),
        );
        if a.seq != expected_seq || a.prev_hash != prev || a.hash != h {
            return Ok(Err(a.seq));
        }
        prev = a.hash;
    }
    Ok(Ok(rows.len() as i64))
}
