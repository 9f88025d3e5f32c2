//! SQL for mediation cases. A case carries the org path of its compound, so
//! staff scope is a path range; mediators and party households are found
//! through their own tables.

use super::model::{MediationStatus, MediatorKind, OutcomeKind, PartyRole};
use kernel::db::opt_str;
use kernel::id::new_id;
use kernel::{AppError, AppResult, Db, OrgPath, Tx};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone)]
pub struct MediationRow {
    pub id: String,
    pub org_path: OrgPath,
    pub compound_id: String,
    pub compound_name: String,
    pub demand_id: Option<String>,
    pub title: String,
    pub summary: String,
    pub status: MediationStatus,
    pub outcome_kind: Option<OutcomeKind>,
    pub agreement_text: Option<String>,
    pub outcome_note: Option<String>,
    pub outcome_at: Option<i64>,
    pub outcome_by: Option<String>,
    pub closed_at: Option<i64>,
    pub closed_by: Option<String>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

const COLS: &str = "m.id, m.org_path, m.compound_id, n.name AS compound_name, m.demand_id, m.title, m.summary, m.status, \
m.outcome_kind, m.agreement_text, m.outcome_note, m.outcome_at, m.outcome_by, m.closed_at, m.closed_by, \
m.created_by, m.created_at, m.updated_at, m.version";

const FROM: &str = "mediations m JOIN org_nodes n ON n.id = m.compound_id";

fn opt_i64(r: &AnyRow, c: &str) -> Option<i64> {
    r.try_get::<Option<i64>, _>(c).ok().flatten()
}

fn mediation_from(r: &AnyRow) -> MediationRow {
    MediationRow {
        id: r.get("id"),
        org_path: OrgPath::from_db(r.get("org_path")),
        compound_id: r.get("compound_id"),
        compound_name: r.get("compound_name"),
        demand_id: opt_str(r, "demand_id"),
        title: r.get("title"),
        summary: r.get("summary"),
        status: MediationStatus::parse(&r.get::<String, _>("status"))
            .unwrap_or(MediationStatus::Open),
        outcome_kind: opt_str(r, "outcome_kind").and_then(|s| OutcomeKind::parse(&s)),
        agreement_text: opt_str(r, "agreement_text"),
        outcome_note: opt_str(r, "outcome_note"),
        outcome_at: opt_i64(r, "outcome_at"),
        outcome_by: opt_str(r, "outcome_by"),
        closed_at: opt_i64(r, "closed_at"),
        closed_by: opt_str(r, "closed_by"),
        created_by: r.get("created_by"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
        version: r.get("version"),
    }
}

pub struct Opening<'a> {
    pub compound_id: &'a str,
    pub org_path: &'a OrgPath,
    pub demand_id: Option<&'a str>,
    pub title: &'a str,
    pub summary: &'a str,
    pub created_by: &'a str,
}

/// Inserts the case (status open) and returns its id. A second open case
/// on the same demand breaks the partial unique index → 409.
pub async fn insert_mediation(tx: &mut Tx, o: &Opening<'_>, now: i64) -> AppResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO mediations (id, org_path, compound_id, demand_id, title, summary, status, created_by, created_at, updated_at, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, 1)",
    )
    .bind(&id)
    .bind(o.org_path.as_str())
    .bind(o.compound_id)
    .bind(o.demand_id)
    .bind(o.title)
    .bind(o.summary)
    .bind(MediationStatus::Open.as_str())
    .bind(o.created_by)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(|e| match AppError::from(e) {
        AppError::Conflict {
            code: "already_exists",
            ..
        } => open_case_exists(),
        other => other,
    })?;
    Ok(id)
}

pub fn open_case_exists() -> AppError {
    AppError::conflict(
        "mediation_exists",
        "该诉求已有正在进行的调解,请在原调解中继续记录",
    )
}

pub async fn insert_party(
    tx: &mut Tx,
    mediation_id: &str,
    household_id: &str,
    role: PartyRole,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO mediation_parties (mediation_id, household_id, role) VALUES ($1, $2, $3)",
    )
    .bind(mediation_id)
    .bind(household_id)
    .bind(role.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn insert_mediator(
    tx: &mut Tx,
    mediation_id: &str,
    user_id: &str,
    kind: MediatorKind,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO mediation_mediators (mediation_id, user_id, kind) VALUES ($1, $2, $3)",
    )
    .bind(mediation_id)
    .bind(user_id)
    .bind(kind.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn get_mediation(db: &Db, id: &str) -> AppResult<Option<MediationRow>> {
    let r = sqlx::query(&format!("SELECT {COLS} FROM {FROM} WHERE m.id = $1"))
        .bind(id)
        .fetch_optional(db.reader())
        .await?;
    Ok(r.as_ref().map(mediation_from))
}

/// Is there an open case on this demand?
pub async fn open_on_demand(db: &Db, demand_id: &str) -> AppResult<bool> {
    let n: i64 =
        sqlx::query("SELECT COUNT(*) FROM mediations WHERE demand_id = $1 AND status = 'open'")
            .bind(demand_id)
            .fetch_one(db.reader())
            .await?
            .get(0);
    Ok(n > 0)
}

/// The kind of a demand category (`dispute` for 纠纷), active or not.
pub async fn category_kind(db: &Db, code: &str) -> AppResult<Option<String>> {
    Ok(
        sqlx::query("SELECT kind FROM demand_categories WHERE code = $1")
            .bind(code)
            .fetch_optional(db.reader())
            .await?
            .map(|r| r.get(0)),
    )
}

/// A user's display name and whether the account is active.
pub async fn user_brief(db: &Db, user_id: &str) -> AppResult<Option<(String, bool)>> {
    Ok(
        sqlx::query("SELECT display_name, active FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(db.reader())
            .await?
            .map(|r| (r.get(0), r.get::<i64, _>(1) != 0)),
    )
}

pub async fn is_mediator(db: &Db, mediation_id: &str, user_id: &str) -> AppResult<bool> {
    let n: i64 = sqlx::query(
        "SELECT COUNT(*) FROM mediation_mediators WHERE mediation_id = $1 AND user_id = $2",
    )
    .bind(mediation_id)
    .bind(user_id)
    .fetch_one(db.reader())
    .await?
    .get(0);
    Ok(n > 0)
}

#[derive(Debug, Clone)]
pub struct PartyRow {
    pub household_id: String,
    pub household_name: String,
    pub org_path: OrgPath,
    pub role: PartyRole,
}

pub async fn parties_of(db: &Db, mediation_id: &str) -> AppResult<Vec<PartyRow>> {
    let rows = sqlx::query(
        "SELECT p.household_id, n.name, n.org_path, p.role
         FROM mediation_parties p JOIN org_nodes n ON n.id = p.household_id
         WHERE p.mediation_id = $1 ORDER BY n.org_path",
    )
    .bind(mediation_id)
    .fetch_all(db.reader())
    .await?;
    Ok(rows
        .iter()
        .map(|r| PartyRow {
            household_id: r.get(0),
            household_name: r.get(1),
            org_path: OrgPath::from_db(r.get(2)),
            role: PartyRole::parse(&r.get::<String, _>(3)).unwrap_or(PartyRole::Other),
        })
        .collect())
}

#[derive(Debug, Clone)]
pub struct MediatorRow {
    pub user_id: String,
    pub display_name: String,
    pub kind: MediatorKind,
}

pub async fn mediators_of(db: &Db, mediation_id: &str) -> AppResult<Vec<MediatorRow>> {
    let rows = sqlx::query(
        "SELECT mm.user_id, u.display_name, mm.kind
         FROM mediation_mediators mm JOIN users u ON u.id = mm.user_id
         WHERE mm.mediation_id = $1 ORDER BY mm.kind, u.display_name",
    )
    .bind(mediation_id)
    .fetch_all(db.reader())
    .await?;
    Ok(rows
        .iter()
        .map(|r| MediatorRow {
            user_id: r.get(0),
            display_name: r.get(1),
            kind: MediatorKind::parse(&r.get::<String, _>(2)).unwrap_or(MediatorKind::PartyMember),
        })
        .collect())
}

#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: String,
    pub held_at: i64,
    pub place: String,
    pub notes: String,
    pub recorded_by: String,
    pub recorded_by_name: Option<String>,
    pub created_at: i64,
}

pub async fn sessions_of(db: &Db, mediation_id: &str) -> AppResult<Vec<SessionRow>> {
    let rows = sqlx::query(
        "SELECT s.id, s.held_at, s.place, s.notes, s.recorded_by, u.display_name, s.created_at
         FROM mediation_sessions s LEFT JOIN users u ON u.id = s.recorded_by
         WHERE s.mediation_id = $1 ORDER BY s.held_at, s.id",
    )
    .bind(mediation_id)
    .fetch_all(db.reader())
    .await?;
    Ok(rows
        .iter()
        .map(|r| SessionRow {
            id: r.get("id"),
            held_at: r.get("held_at"),
            place: r.get("place"),
            notes: r.get("notes"),
            recorded_by: r.get("recorded_by"),
            recorded_by_name: opt_str(r, "display_name"),
            created_at: r.get("created_at"),
        })
        .collect())
}

#[derive(Debug, Clone)]
pub struct FollowupRow {
    pub id: String,
    pub visited_at: i64,
    pub notes: String,
    pub satisfied: Option<bool>,
    pub recorded_by: String,
    pub recorded_by_name: Option<String>,
    pub created_at: i64,
}

pub async fn followups_of(db: &Db, mediation_id: &str) -> AppResult<Vec<FollowupRow>> {
    let rows = sqlx::query(
        "SELECT f.id, f.visited_at, f.notes, f.satisfied, f.recorded_by, u.display_name, f.created_at
         FROM mediation_followups f LEFT JOIN users u ON u.id = f.recorded_by
         WHERE f.mediation_id = $1 ORDER BY f.visited_at, f.id",
    )
    .bind(mediation_id)
    .fetch_all(db.reader())
    .await?;
    Ok(rows
        .iter()
        .map(|r| FollowupRow {
            id: r.get("id"),
            visited_at: r.get("visited_at"),
            notes: r.get("notes"),
            satisfied: opt_i64(r, "satisfied").map(|v| v != 0),
            recorded_by: r.get("recorded_by"),
            recorded_by_name: opt_str(r, "display_name"),
            created_at: r.get("created_at"),
        })
        .collect())
}

pub fn version_conflict() -> AppError {
    AppError::conflict("version_conflict", "该调解已被他人更新,请刷新后重试")
}

/// Moves the case from (`expected_version`, `from`) to `to`, bumping the
/// version; anyone who changed it meanwhile makes this a 409.
pub async fn advance(
    tx: &mut Tx,
    id: &str,
    expected_version: i64,
    from: MediationStatus,
    to: MediationStatus,
    now: i64,
) -> AppResult<()> {
    let n = sqlx::query(
        "UPDATE mediations SET status = $1, updated_at = $2, version = version + 1
         WHERE id = $3 AND version = $4 AND status = $5",
    )
    .bind(to.as_str())
    .bind(now)
    .bind(id)
    .bind(expected_version)
    .bind(from.as_str())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(version_conflict());
    }
    Ok(())
}

pub struct OutcomeWrite<'a> {
    pub kind: OutcomeKind,
    pub agreement_text: Option<&'a str>,
    pub note: Option<&'a str>,
    pub by: &'a str,
}

/// Records the single outcome of an open case.
pub async fn set_outcome(
    tx: &mut Tx,
    id: &str,
    expected_version: i64,
    o: &OutcomeWrite<'_>,
    now: i64,
) -> AppResult<()> {
    let n = sqlx::query(
        "UPDATE mediations SET status = $1, outcome_kind = $2, agreement_text = $3, outcome_note = $4,
            outcome_at = $5, outcome_by = $6, updated_at = $5, version = version + 1
         WHERE id = $7 AND version = $8 AND status = 'open' AND outcome_kind IS NULL",
    )
    .bind(o.kind.status().as_str())
    .bind(o.kind.as_str())
    .bind(o.agreement_text)
    .bind(o.note)
    .bind(now)
    .bind(o.by)
    .bind(id)
    .bind(expected_version)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(version_conflict());
    }
    Ok(())
}

pub async fn set_closed(
    tx: &mut Tx,
    id: &str,
    expected_version: i64,
    from: MediationStatus,
    by: &str,
    now: i64,
) -> AppResult<()> {
    let n = sqlx::query(
        "UPDATE mediations SET status = 'closed', closed_at = $1, closed_by = $2, updated_at = $1, version = version + 1
         WHERE id = $3 AND version = $4 AND status = $5",
    )
    .bind(now)
    .bind(by)
    .bind(id)
    .bind(expected_version)
    .bind(from.as_str())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(version_conflict());
    }
    Ok(())
}

pub async fn insert_session(
    tx: &mut Tx,
    mediation_id: &str,
    held_at: i64,
    place: &str,
    notes: &str,
    by: &str,
    now: i64,
) -> AppResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO mediation_sessions (id, mediation_id, held_at, place, notes, recorded_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(mediation_id)
    .bind(held_at)
    .bind(place)
    .bind(notes)
    .bind(by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

pub async fn insert_followup(
    tx: &mut Tx,
    mediation_id: &str,
    visited_at: i64,
    notes: &str,
    satisfied: Option<bool>,
    by: &str,
    now: i64,
) -> AppResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO mediation_followups (id, mediation_id, visited_at, notes, satisfied, recorded_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(mediation_id)
    .bind(visited_at)
    .bind(notes)
    .bind(satisfied.map(|b| b as i64))
    .bind(by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

#[derive(Default)]
pub struct ListFilter {
    pub status: Option<MediationStatus>,
    pub demand_id: Option<String>,
}

/// Cases the caller may read, newest first, after the cursor id: those in
/// the staff subtrees `roots`, those where `user_id` is a mediator, and
/// those where one of `households` is a party.
pub async fn list(
    db: &Db,
    roots: &[OrgPath],
    user_id: &str,
    households: &[String],
    filter: &ListFilter,
    before_id: Option<&str>,
    limit: i64,
) -> AppResult<Vec<MediationRow>> {
    // $1 cursor, $2 limit, $3 status, $4 demand, $5 user, then households, then scope ranges.
    let first_household = 6;
    let household_sql = if households.is_empty() {
        "1 = 0".to_string()
    } else {
        let ph: Vec<String> = (0..households.len())
            .map(|i| format!("${}", first_household + i))
            .collect();
        format!(
            "m.id IN (SELECT mediation_id FROM mediation_parties WHERE household_id IN ({}))",
            ph.join(", ")
        )
    };
    let scope = org::store::scope_sql(
        "m.org_path",
        roots.len(),
        first_household + households.len(),
    );
    let sql = format!(
        "SELECT {COLS} FROM {FROM}
         WHERE ($1 = '' OR m.id < $1) AND ($3 = '' OR m.status = $3) AND ($4 = '' OR m.demand_id = $4)
           AND ({scope}
                OR m.id IN (SELECT mediation_id FROM mediation_mediators WHERE user_id = $5)
                OR {household_sql})
         ORDER BY m.id DESC LIMIT $2"
    );
    let mut q = sqlx::query(&sql)
        .bind(before_id.unwrap_or("").to_string())
        .bind(limit)
        .bind(filter.status.map(|s| s.as_str()).unwrap_or("").to_string())
        .bind(filter.demand_id.clone().unwrap_or_default())
        .bind(user_id.to_string());
    for h in households {
        q = q.bind(h.clone());
    }
    for r in roots {
        q = q.bind(r.as_str().to_string()).bind(r.subtree_end());
    }
    Ok(q.fetch_all(db.reader())
        .await?
        .iter()
        .map(mediation_from)
        .collect())
}
