//! SQL for the registry. Subtree queries are range scans on `org_path`.

use crate::model::{NewNode, NewResident, OrgKind, Tenure};
use kernel::crypto::FieldCipher;
use kernel::db::opt_str;
use kernel::id::new_id;
use kernel::rows::Columns;
use kernel::{AppError, AppResult, Db, OrgPath, Tx};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, Serialize)]
pub struct NodeRow {
    pub id: String,
    pub parent_id: Option<String>,
    pub kind: OrgKind,
    pub code: String,
    pub name: String,
    pub org_path: OrgPath,
    pub version: i64,
}

const NODE_COLS: &str = "id, parent_id, kind, code, name, org_path, version";

fn node_from(r: &impl Columns) -> NodeRow {
    NodeRow {
        id: r.text("id"),
        parent_id: r.opt_text("parent_id"),
        kind: OrgKind::parse(&r.text("kind")).unwrap_or(OrgKind::Household),
        code: r.text("code"),
        name: r.text("name"),
        org_path: OrgPath::from_db(r.text("org_path")),
        version: r.int("version"),
    }
}

pub async fn get_node(db: &Db, id: &str) -> AppResult<Option<NodeRow>> {
    let rows = db
        .rows(
            format!("SELECT {NODE_COLS} FROM org_nodes WHERE id = $1"),
            vec![id.into()],
        )
        .await?;
    Ok(rows.first().as_ref().map(node_from))
}

pub async fn get_node_tx(tx: &mut Tx, id: &str) -> AppResult<Option<NodeRow>> {
    let r = sqlx::query(&format!("SELECT {NODE_COLS} FROM org_nodes WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(r.as_ref().map(node_from))
}

pub async fn get_node_by_path(db: &Db, path: &str) -> AppResult<Option<NodeRow>> {
    let r = sqlx::query(&format!(
        "SELECT {NODE_COLS} FROM org_nodes WHERE org_path = $1"
    ))
    .bind(path)
    .fetch_optional(db.reader())
    .await?;
    Ok(r.as_ref().map(node_from))
}

/// The chain from the top of the tree down to (and including) `path`.
pub async fn ancestors(db: &Db, path: &OrgPath) -> AppResult<Vec<NodeRow>> {
    let paths = path.ancestors_and_self();
    if paths.is_empty() {
        return Ok(vec![]);
    }
    let placeholders: Vec<String> = (1..=paths.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT {NODE_COLS} FROM org_nodes WHERE org_path IN ({}) ORDER BY org_path",
        placeholders.join(", ")
    );
    let args = paths.iter().map(|p| p.as_str().into()).collect();
    Ok(db
        .rows(sql, args)
        .await?
        .iter()
        .map(|r| node_from(&r))
        .collect())
}

pub async fn insert_node(
    tx: &mut Tx,
    parent: Option<&NodeRow>,
    n: &NewNode,
    now: i64,
) -> AppResult<NodeRow> {
    let id = new_id();
    let path = match parent {
        Some(p) => p.org_path.child(&n.code),
        None => OrgPath::root().child(&n.code),
    };
    sqlx::query(
        "INSERT INTO org_nodes (id, parent_id, kind, code, name, org_path, created_at, updated_at, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 1)",
    )
    .bind(&id)
    .bind(parent.map(|p| p.id.clone()))
    .bind(n.kind.as_str())
    .bind(&n.code)
    .bind(&n.name)
    .bind(path.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(|e| match AppError::from(e) {
        AppError::Conflict { code: "already_exists", .. } => {
            AppError::conflict("code_taken", "同一上级下已有相同编码的节点")
        }
        other => other,
    })?;
    Ok(NodeRow {
        id,
        parent_id: parent.map(|p| p.id.clone()),
        kind: n.kind,
        code: n.code.clone(),
        name: n.name.clone(),
        org_path: path,
        version: 1,
    })
}

/// Finds the child with `code` under `parent`, creating it when missing
/// (used by the Excel import so rows can name new buildings and households);
/// says whether it was created.
pub async fn ensure_child(
    tx: &mut Tx,
    parent: &NodeRow,
    n: &NewNode,
    now: i64,
) -> AppResult<(NodeRow, bool)> {
    let path = parent.org_path.child(&n.code);
    let r = sqlx::query(&format!(
        "SELECT {NODE_COLS} FROM org_nodes WHERE org_path = $1"
    ))
    .bind(path.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    match r {
        Some(r) => {
            let node = node_from(&r);
            if node.kind != n.kind {
                return Err(AppError::conflict(
                    "kind_mismatch",
                    "已存在编码相同但类型不同的节点",
                ));
            }
            Ok((node, false))
        }
        None => Ok((insert_node(tx, Some(parent), n, now).await?, true)),
    }
}

pub async fn rename_node(
    tx: &mut Tx,
    id: &str,
    name: &str,
    version: i64,
    now: i64,
) -> AppResult<()> {
    let n = sqlx::query("UPDATE org_nodes SET name = $1, updated_at = $2, version = version + 1 WHERE id = $3 AND version = $4")
        .bind(name)
        .bind(now)
        .bind(id)
        .bind(version)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(AppError::conflict(
            "version_conflict",
            "该记录已被他人修改,请刷新后重试",
        ));
    }
    Ok(())
}

/// Deletes a leaf with nothing attached; anything still referring to it
/// (children, residents, demands, grants) makes it a 409.
pub async fn delete_node(tx: &mut Tx, id: &str) -> AppResult<()> {
    let children: i64 = sqlx::query("SELECT COUNT(*) FROM org_nodes WHERE parent_id = $1")
        .bind(id)
        .fetch_one(&mut **tx)
        .await?
        .get(0);
    if children > 0 {
        return Err(AppError::conflict(
            "has_children",
            "该节点下还有下级,不能删除",
        ));
    }
    sqlx::query("DELETE FROM org_nodes WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await
        .map_err(|e| match AppError::from(e) {
            AppError::Conflict { .. } => {
                AppError::conflict("in_use", "该节点仍有关联的住户或记录,不能删除")
            }
            other => other,
        })?;
    Ok(())
}

pub use kernel::orgpath::scope_sql;

/// Nodes within the given subtrees (and of the given exact paths), in path
/// order, after the cursor path, at most `limit` rows and `max_depth` deep.
pub async fn subtree_page(
    db: &Db,
    roots: &[OrgPath],
    after: Option<&str>,
    max_depth: Option<usize>,
    limit: i64,
) -> AppResult<Vec<NodeRow>> {
    let scope = scope_sql("org_path", roots.len(), 3);
    let sql = format!(
        "SELECT {NODE_COLS} FROM org_nodes WHERE org_path > $1 AND {scope} ORDER BY org_path LIMIT $2"
    );
    let mut rows = Vec::new();
    let mut cursor = after.unwrap_or("").to_string();
    // Depth filtering happens in Rust; loop until the page is full.
    loop {
        let mut q = sqlx::query(&sql).bind(cursor.clone()).bind(limit);
        for r in roots {
            q = q.bind(r.as_str().to_string()).bind(r.subtree_end());
        }
        let batch: Vec<NodeRow> = q
            .fetch_all(db.reader())
            .await?
            .iter()
            .map(node_from)
            .collect();
        let done = (batch.len() as i64) < limit;
        if let Some(last) = batch.last() {
            cursor = last.org_path.as_str().to_string();
        }
        rows.extend(batch.into_iter().filter(|n| {
            match max_depth {
                Some(d) => roots
                    .iter()
                    .any(|r| n.org_path.is_within(r) && n.org_path.depth() <= r.depth() + d),
                None => true,
            }
        }));
        if done || rows.len() as i64 >= limit {
            break;
        }
    }
    rows.truncate(limit as usize);
    Ok(rows)
}

pub async fn children(db: &Db, parent_id: &str) -> AppResult<Vec<NodeRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {NODE_COLS} FROM org_nodes WHERE parent_id = $1 ORDER BY org_path LIMIT 1000"
    ))
    .bind(parent_id)
    .fetch_all(db.reader())
    .await?;
    Ok(rows.iter().map(node_from).collect())
}

#[derive(Debug, Clone, Serialize)]
pub struct ResidentRow {
    pub id: String,
    pub household_id: String,
    pub org_path: OrgPath,
    pub name: String,
    pub phone: Option<String>,
    pub id_card: Option<String>,
    pub tenure: Tenure,
    pub relation: Option<String>,
    pub user_id: Option<String>,
}

/// Residents with their sensitive fields decrypted; callers mask them.
fn resident_from(r: &AnyRow, cipher: &FieldCipher) -> ResidentRow {
    ResidentRow {
        id: r.get("id"),
        household_id: r.get("household_id"),
        org_path: OrgPath::from_db(r.get("org_path")),
        name: r.get("name"),
        phone: opt_str(r, "phone_enc").and_then(|v| cipher.decrypt(&v)),
        id_card: opt_str(r, "id_card_enc").and_then(|v| cipher.decrypt(&v)),
        tenure: Tenure::parse(&r.get::<String, _>("tenure")).unwrap_or(Tenure::Owner),
        relation: opt_str(r, "relation"),
        user_id: opt_str(r, "user_id"),
    }
}

const RESIDENT_COLS: &str =
    "id, household_id, org_path, name, phone_enc, id_card_enc, tenure, relation, user_id";

pub async fn insert_resident(
    tx: &mut Tx,
    cipher: &FieldCipher,
    household: &NodeRow,
    r: &NewResident,
    user_id: Option<&str>,
    now: i64,
) -> AppResult<String> {
    if household.kind != OrgKind::Household {
        return Err(AppError::field("household_id", "住户只能登记在“户”下"));
    }
    let id = new_id();
    sqlx::query(
        "INSERT INTO residents (id, household_id, org_path, name, phone_enc, phone_index, id_card_enc, id_card_index, tenure, relation, user_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
    )
    .bind(&id)
    .bind(&household.id)
    .bind(household.org_path.as_str())
    .bind(&r.name)
    .bind(r.phone.as_ref().map(|p| cipher.encrypt(p.as_str())))
    .bind(r.phone.as_ref().map(|p| cipher.blind_index("phone", p.as_str())))
    .bind(r.id_card.as_ref().map(|p| cipher.encrypt(p.as_str())))
    .bind(r.id_card.as_ref().map(|p| cipher.blind_index("id_card", p.as_str())))
    .bind(r.tenure.as_str())
    .bind(&r.relation)
    .bind(user_id)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(|e| match AppError::from(e) {
        AppError::Conflict { code: "already_exists", .. } => {
            AppError::field("id_card", "该身份证号已登记")
        }
        other => other,
    })?;
    Ok(id)
}

pub async fn residents_of(
    db: &Db,
    cipher: &FieldCipher,
    household_id: &str,
) -> AppResult<Vec<ResidentRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {RESIDENT_COLS} FROM residents WHERE household_id = $1 ORDER BY created_at, id"
    ))
    .bind(household_id)
    .fetch_all(db.reader())
    .await?;
    Ok(rows.iter().map(|r| resident_from(r, cipher)).collect())
}

/// Is this ID-card number already registered (by its blind index)?
/// Which of these `id_card` blind indexes are already registered.
pub async fn id_card_indexes_taken(
    tx: &mut Tx,
    indexes: &[&str],
) -> AppResult<std::collections::HashSet<String>> {
    if indexes.is_empty() {
        return Ok(Default::default());
    }
    let list: Vec<String> = (1..=indexes.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT id_card_index FROM residents WHERE id_card_index IN ({})",
        list.join(", ")
    );
    let mut q = sqlx::query(&sql);
    for x in indexes {
        q = q.bind(x.to_string());
    }
    Ok(q.fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect())
}

pub async fn id_card_taken(tx: &mut Tx, cipher: &FieldCipher, id_card: &str) -> AppResult<bool> {
    let r = sqlx::query("SELECT 1 FROM residents WHERE id_card_index = $1")
        .bind(cipher.blind_index("id_card", id_card))
        .fetch_optional(&mut **tx)
        .await?;
    Ok(r.is_some())
}

pub async fn get_resident(
    db: &Db,
    cipher: &FieldCipher,
    id: &str,
) -> AppResult<Option<ResidentRow>> {
    let r = sqlx::query(&format!(
        "SELECT {RESIDENT_COLS} FROM residents WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db.reader())
    .await?;
    Ok(r.map(|r| resident_from(&r, cipher)))
}

/// Residents within the subtrees, in path order (for export), with the
/// node names of their household chain resolved by the caller.
pub async fn residents_in(
    db: &Db,
    cipher: &FieldCipher,
    roots: &[OrgPath],
    limit: i64,
) -> AppResult<Vec<ResidentRow>> {
    let scope = scope_sql("org_path", roots.len(), 2);
    let sql = format!("SELECT {RESIDENT_COLS} FROM residents WHERE {scope} ORDER BY org_path, created_at LIMIT $1");
    let mut q = sqlx::query(&sql).bind(limit);
    for r in roots {
        q = q.bind(r.as_str().to_string()).bind(r.subtree_end());
    }
    Ok(q.fetch_all(db.reader())
        .await?
        .iter()
        .map(|r| resident_from(r, cipher))
        .collect())
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GridRow {
    pub id: String,
    pub org_id: String,
    pub org_path: OrgPath,
    pub code: String,
    pub name: String,
}

pub async fn insert_grid(
    tx: &mut Tx,
    area: &NodeRow,
    code: &str,
    name: &str,
    now: i64,
) -> AppResult<GridRow> {
    let id = new_id();
    sqlx::query("INSERT INTO grids (id, org_id, org_path, code, name, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&id)
        .bind(&area.id)
        .bind(area.org_path.as_str())
        .bind(code)
        .bind(name)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(|e| match AppError::from(e) {
            AppError::Conflict { code: "already_exists", .. } => AppError::conflict("code_taken", "该网格编码已存在"),
            other => other,
        })?;
    Ok(GridRow {
        id,
        org_id: area.id.clone(),
        org_path: area.org_path.clone(),
        code: code.into(),
        name: name.into(),
    })
}

pub async fn grids_in(
    db: &Db,
    roots: &[OrgPath],
    after: Option<&str>,
    limit: i64,
) -> AppResult<Vec<GridRow>> {
    let scope = scope_sql("org_path", roots.len(), 3);
    let sql = format!("SELECT id, org_id, org_path, code, name FROM grids WHERE code > $1 AND {scope} ORDER BY code LIMIT $2");
    let mut q = sqlx::query(&sql)
        .bind(after.unwrap_or("").to_string())
        .bind(limit);
    for r in roots {
        q = q.bind(r.as_str().to_string()).bind(r.subtree_end());
    }
    Ok(q.fetch_all(db.reader())
        .await?
        .iter()
        .map(|r| GridRow {
            id: r.get("id"),
            org_id: r.get("org_id"),
            org_path: OrgPath::from_db(r.get("org_path")),
            code: r.get("code"),
            name: r.get("name"),
        })
        .collect())
}
