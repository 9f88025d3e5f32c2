//! Operations on the database outside serving: online backup with a checksum
//! manifest, restore that checks the manifest first, scheduled backups with
//! retention, and the audit-chain check. See docs/security-ops.md.

use kernel::{Backend, Db};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::path::{Path, PathBuf};

pub const MANIFEST: &str = "manifest.json";
pub const FORMAT: &str = "lianxin-backup/1";
/// The database copy inside a SQLite backup.
pub const SQLITE_FILE: &str = "lianxin.db";
/// The `pg_dump --format=custom` archive inside a PostgreSQL backup.
pub const PG_FILE: &str = "lianxin.pgdump";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManifestFile {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub backend: String,
    pub created_at: String,
    pub app_version: String,
    pub schema_version: i64,
    /// The audit chain's last row when the copy was taken (seq, hash).
    pub audit_head: Option<(i64, String)>,
    pub files: Vec<ManifestFile>,
}

fn file_entry(dir: &Path, name: &str) -> Result<ManifestFile, String> {
    let path = dir.join(name);
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(ManifestFile {
        name: name.to_string(),
        bytes: bytes.len() as u64,
        sha256: kernel::crypto::sha256_hex(&bytes),
    })
}

async fn schema_version(db: &Db) -> Result<i64, String> {
    let r = sqlx::query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        .fetch_one(db.reader())
        .await
        .map_err(|e| e.to_string())?;
    Ok(r.get::<i64, _>(0))
}

async fn audit_head(db: &Db) -> Result<Option<(i64, String)>, String> {
    let r = sqlx::query("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
        .fetch_optional(db.reader())
        .await
        .map_err(|e| e.to_string())?;
    Ok(r.map(|r| (r.get::<i64, _>(0), r.get::<String, _>(1))))
}

/// Takes a consistent copy of the live database into `out` (created; must
/// be empty or absent) and writes the manifest last, so a directory with a
/// manifest is a complete backup. SQLite: `VACUUM INTO` (one read
/// transaction, so writers keep going and the copy is one snapshot).
/// PostgreSQL: `pg_dump --format=custom` (one snapshot too).
pub async fn backup(db: &Db, database_url: &str, out: &Path) -> Result<Manifest, String> {
    if out.exists()
        && std::fs::read_dir(out)
            .map_err(|e| format!("{}: {e}", out.display()))?
            .next()
            .is_some()
    {
        return Err(format!(
            "{} is not empty: a backup goes into a new directory",
            out.display()
        ));
    }
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let schema_version = schema_version(db).await?;
    let (backend, name) = match db.backend() {
        Backend::Sqlite => {
            let target = out.join(SQLITE_FILE);
            let target_str = target
                .to_str()
                .ok_or("the backup path is not valid UTF-8")?
                .replace('\'', "''");
            sqlx::query(&format!("VACUUM INTO '{target_str}'"))
                .execute(db.reader())
                .await
                .map_err(|e| format!("VACUUM INTO: {e}"))?;
            ("sqlite", SQLITE_FILE)
        }
        Backend::Postgres => {
            let target = out.join(PG_FILE);
            let status = std::process::Command::new("pg_dump")
                .arg("--format=custom")
                .arg("--no-owner")
                .arg("--file")
                .arg(&target)
                .arg("--dbname")
                .arg(database_url)
                .status()
                .map_err(|e| {
                    format!("pg_dump not runnable ({e}); install the PostgreSQL client tools")
                })?;
            if !status.success() {
                return Err(format!("pg_dump failed: {status}"));
            }
            ("postgres", PG_FILE)
        }
    };
    // The head read after the copy is at least as new as the copy's own.
    let manifest = Manifest {
        format: FORMAT.into(),
        backend: backend.into(),
        created_at: chrono::Utc::now().to_rfc3339(),
        app_version: env!("CARGO_PKG_VERSION").into(),
        schema_version,
        audit_head: audit_head(db).await?,
        files: vec![file_entry(out, name)?],
    };
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?;
    let tmp = out.join("manifest.json.tmp");
    std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, out.join(MANIFEST)).map_err(|e| e.to_string())?;
    Ok(manifest)
}

/// Reads the manifest and checks every file's size and sha256 against it.
pub fn verify_backup(dir: &Path) -> Result<Manifest, String> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let manifest: Manifest =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if manifest.format != FORMAT {
        return Err(format!("unknown backup format {}", manifest.format));
    }
    if manifest.files.is_empty() {
        return Err("the manifest lists no files".into());
    }
    for f in &manifest.files {
        if f.name.contains('/') || f.name.contains('\\') || f.name.starts_with('.') {
            return Err(format!("unsafe file name in manifest: {}", f.name));
        }
        let actual = file_entry(dir, &f.name)?;
        if actual != *f {
            return Err(format!(
                "{} does not match the manifest (sha256 {} expected, {} found): the backup was changed or is damaged",
                f.name, f.sha256, actual.sha256
            ));
        }
    }
    Ok(manifest)
}

/// Restores a verified backup into an empty target: a SQLite file that does
/// not exist yet, or a PostgreSQL database without tables.
pub async fn restore(from: &Path, database_url: &str) -> Result<Manifest, String> {
    let manifest = verify_backup(from)?;
    match manifest.backend.as_str() {
        "sqlite" => {
            let target = kernel::db::sqlite_path(database_url)
                .ok_or("a SQLite backup restores into a sqlite:// database url")?;
            if target.exists() && std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0) > 0 {
                return Err(format!(
                    "{} exists: restore only into a new, empty target",
                    target.display()
                ));
            }
            if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            // Copy under a temporary name, check it again, then rename, so a
            // half-written file is never taken for a database.
            let tmp = target.with_extension("restore-tmp");
            std::fs::copy(from.join(SQLITE_FILE), &tmp).map_err(|e| e.to_string())?;
            let copied = std::fs::read(&tmp).map_err(|e| e.to_string())?;
            if kernel::crypto::sha256_hex(&copied) != manifest.files[0].sha256 {
                let _ = std::fs::remove_file(&tmp);
                return Err("the copy does not match the manifest".into());
            }
            std::fs::rename(&tmp, &target).map_err(|e| e.to_string())?;
        }
        "postgres" => {
            if !database_url.starts_with("postgres") {
                return Err("a PostgreSQL backup restores into a postgres:// database url".into());
            }
            let db = Db::connect(database_url).await.map_err(|e| e.to_string())?;
            let tables: i64 = sqlx::query(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'",
            )
            .fetch_one(db.reader())
            .await
            .map_err(|e| e.to_string())?
            .get(0);
            db.close().await;
            if tables > 0 {
                return Err(
                    "the target database has tables: restore only into an empty one".into(),
                );
            }
            let status = std::process::Command::new("pg_restore")
                .arg("--no-owner")
                .arg("--exit-on-error")
                .arg("--dbname")
                .arg(database_url)
                .arg(from.join(PG_FILE))
                .status()
                .map_err(|e| format!("pg_restore not runnable ({e})"))?;
            if !status.success() {
                return Err(format!("pg_restore failed: {status}"));
            }
        }
        other => return Err(format!("unknown backend {other} in the manifest")),
    }
    Ok(manifest)
}

/// The outcome of walking the audit chain.
#[derive(Debug, PartialEq)]
pub enum AuditCheck {
    Intact { rows: i64 },
    Tampered { seq: i64, id: String, at_ms: i64 },
}

pub async fn audit_verify(db: &Db) -> Result<AuditCheck, String> {
    match kernel::audit::verify(db).await.map_err(|e| e.to_string())? {
        Ok(rows) => Ok(AuditCheck::Intact { rows }),
        Err(seq) => {
            let r = sqlx::query("SELECT id, at_ms FROM audit_events WHERE seq = $1")
                .bind(seq)
                .fetch_optional(db.reader())
                .await
                .map_err(|e| e.to_string())?;
            let (id, at_ms) = r
                .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1)))
                .unwrap_or_default();
            Ok(AuditCheck::Tampered { seq, id, at_ms })
        }
    }
}

/// When and where scheduled backups go, and how many are kept.
#[derive(Debug, Clone)]
pub struct BackupSchedule {
    pub dir: PathBuf,
    pub every_minutes: u64,
    pub keep: usize,
}

/// Takes one scheduled backup into `dir/lianxin-<UTC time>` and removes the
/// oldest complete backups beyond `keep`. Only directories this job names
/// (prefix `lianxin-`, with a manifest) are ever removed.
pub async fn scheduled_backup(
    db: &Db,
    database_url: &str,
    s: &BackupSchedule,
) -> Result<PathBuf, String> {
    std::fs::create_dir_all(&s.dir).map_err(|e| format!("{}: {e}", s.dir.display()))?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string();
    let out = s.dir.join(format!("lianxin-{stamp}"));
    backup(db, database_url, &out).await?;
    prune(&s.dir, s.keep)?;
    Ok(out)
}

/// Keeps the newest `keep` backups in `dir`.
pub fn prune(dir: &Path, keep: usize) -> Result<Vec<PathBuf>, String> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("lianxin-"))
                && p.join(MANIFEST).exists()
        })
        .collect();
    // The names carry the UTC time, so name order is time order.
    found.sort();
    let mut removed = Vec::new();
    while found.len() > keep.max(1) {
        let old = found.remove(0);
        std::fs::remove_dir_all(&old).map_err(|e| format!("{}: {e}", old.display()))?;
        removed.push(old);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_keeps_the_newest_backups_only() {
        let dir = tempfile::tempdir().unwrap();
        for stamp in ["20260101T000000Z", "20260102T000000Z", "20260103T000000Z"] {
            let d = dir.path().join(format!("lianxin-{stamp}"));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join(MANIFEST), "{}").unwrap();
        }
        // Not ours: never touched.
        std::fs::create_dir_all(dir.path().join("other")).unwrap();
        let removed = prune(dir.path(), 2).unwrap();
        assert_eq!(removed.len(), 1);
        assert!(removed[0].ends_with("lianxin-20260101T000000Z"));
        assert!(dir.path().join("lianxin-20260103T000000Z").exists());
        assert!(dir.path().join("other").exists());
    }
}

/// What a key rotation rewrote.
#[derive(Debug, Default, PartialEq)]
pub struct Rotation {
    pub values: u64,
    pub indexes: u64,
}

/// The blind indexes rotate-key knows how to recompute: (table, index
/// column, encrypted column it derives from). Any other `*_index` column
/// found in the schema stops the rotation, so a new one is never left
/// under the old key.
const BLIND_INDEXES: &[(&str, &str, &str)] = &[
    ("users", "login_index", "login_enc"),
    ("residents", "phone_index", "phone_enc"),
    ("residents", "id_card_index", "id_card_enc"),
    ("party_members", "id_card_index", "profile_enc"),
    ("party_members", "user_index", "profile_enc"),
];

fn blind_index_of(
    new: &kernel::crypto::FieldCipher,
    table: &str,
    index_col: &str,
    plaintext: &str,
) -> Result<Option<String>, String> {
    Ok(match (table, index_col) {
        ("users", "login_index") => Some(new.blind_index("login", plaintext)),
        ("residents", "phone_index") => Some(new.blind_index("phone", plaintext)),
        ("residents", "id_card_index") => Some(new.blind_index("id_card", plaintext)),
        ("party_members", _) => {
            let p: serde_json::Value = serde_json::from_str(plaintext)
                .map_err(|e| format!("party_members profile: {e}"))?;
            let field = if index_col == "user_index" {
                "user_id"
            } else {
                "id_card"
            };
            p[field].as_str().map(|v| {
                if field == "user_id" {
                    party::store::user_index(new, v)
                } else {
                    party::store::id_card_index(new, v)
                }
            })
        }
        _ => return Err(format!("no rule for {table}.{index_col}")),
    })
}

/// Are the stored blind indexes computed with the configured cipher's index
/// algorithm (HMAC-SHA256 for AES-256-GCM, HMAC-SM3 for SM4-GCM)? A server
/// whose `field_cipher` changed without `lianxin rotate-key` would find no
/// one by phone, login or ID number: it refuses to start instead. Erased
/// accounts (no encrypted login) are not looked at.
pub async fn check_blind_indexes(
    db: &Db,
    cipher: &kernel::crypto::FieldCipher,
) -> Result<(), String> {
    for (table, index_col, enc_col) in BLIND_INDEXES {
        let rows = sqlx::query(&format!(
            "SELECT {index_col} FROM {table}
             WHERE {index_col} IS NOT NULL AND {enc_col} IS NOT NULL AND {enc_col} <> ''
             ORDER BY id LIMIT 20"
        ))
        .fetch_all(db.reader())
        .await
        .map_err(|e| format!("{table}.{index_col}: {e}"))?;
        if rows
            .iter()
            .any(|r| !cipher.index_is_current(&r.get::<String, _>(0)))
        {
            return Err(format!(
                "{table}.{index_col}: the blind indexes were computed for another field_cipher than {}; \
                 run `lianxin rotate-key` (the same key may be given as old and new) to recompute them",
                cipher.algorithm().name()
            ));
        }
    }
    Ok(())
}

/// Columns of every table whose name ends in `suffix`.
async fn columns_ending(db: &Db, suffix: &str) -> Result<Vec<(String, String)>, String> {
    let sql = match db.backend() {
        Backend::Sqlite => {
            "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
             WHERE m.type = 'table' AND substr(p.name, -length($1)) = $1 ORDER BY 1, 2"
        }
        Backend::Postgres => {
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND right(column_name::text, length($1)) = $1
             ORDER BY 1, 2"
        }
    };
    Ok(sqlx::query(sql)
        .bind(suffix)
        .fetch_all(db.reader())
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .map(|r| (r.get::<String, _>(0), r.get::<String, _>(1)))
        .collect())
}

/// Re-encrypts every encrypted column (`*_enc`) from `old` to `new` and
/// recomputes every blind index with `new`'s index algorithm (HMAC-SHA256
/// or HMAC-SM3), in one transaction: all or nothing. A value that the old
/// key cannot read stops it (wrong key given). `old` and `new` may share
/// the key: that switches the algorithms of a database in place.
pub async fn rotate_key(
    db: &Db,
    old: &kernel::crypto::FieldCipher,
    new: &kernel::crypto::FieldCipher,
) -> Result<Rotation, String> {
    let encrypted = columns_ending(db, "_enc").await?;
    for (table, col) in columns_ending(db, "_index").await? {
        if !BLIND_INDEXES
            .iter()
            .any(|(t, c, _)| *t == table && *c == col)
        {
            return Err(format!(
                "{table}.{col} looks like a blind index rotate-key cannot recompute; nothing was changed"
            ));
        }
    }
    let mut report = Rotation::default();
    let mut tx = db.begin().await.map_err(|e| e.to_string())?;
    for (table, col) in &encrypted {
        // An erased account's login is '' (nothing to re-encrypt).
        let rows = sqlx::query(&format!(
            "SELECT id, {col} FROM {table} WHERE {col} IS NOT NULL AND {col} <> ''"
        ))
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| format!("{table}.{col}: {e}"))?;
        let indexes: Vec<&str> = BLIND_INDEXES
            .iter()
            .filter(|(t, _, from)| *t == table.as_str() && *from == col.as_str())
            .map(|(_, c, _)| *c)
            .collect();
        for r in rows {
            let id: String = r.get(0);
            let stored: String = r.get(1);
            let plain = old.decrypt(&stored).ok_or_else(|| {
                format!(
                    "{table}.{col} of {id} does not decrypt with the old key; nothing was changed"
                )
            })?;
            sqlx::query(&format!("UPDATE {table} SET {col} = $1 WHERE id = $2"))
                .bind(new.encrypt(&plain))
                .bind(&id)
                .execute(&mut *tx)
                .await
                .map_err(|e| format!("{table}.{col}: {e}"))?;
            report.values += 1;
            for index_col in &indexes {
                let value = blind_index_of(new, table, index_col, &plain)?;
                sqlx::query(&format!(
                    "UPDATE {table} SET {index_col} = $1 WHERE id = $2"
                ))
                .bind(value)
                .bind(&id)
                .execute(&mut *tx)
                .await
                .map_err(|e| format!("{table}.{index_col}: {e}"))?;
                report.indexes += 1;
            }
        }
    }
    tx.commit().await.map_err(|e| e.to_string())?;
    Ok(report)
}
