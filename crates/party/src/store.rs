//! SQL for party building. Organisations are found through the org nodes
//! they are attached to (`party_org_areas`, a path range per caller root);
//! members through their organisations' ids. A member's personal fields are
//! one encrypted profile; lookups use blind indexes in the party's own
//! domains (`party_id_card`, `party_user`), so they cannot be joined to the
//! residents' or users' tables by anyone without the key.

use crate::model::{
    ActivityKind, AttendanceStatus, ButlerRole, CheckinChannel, CrossBody, CrossDirection,
    ManagementMode, OfficerPosition, PartyOrgKind, Profile, VolunteerStatus,
};
use kernel::crypto::FieldCipher;
use kernel::db::opt_str;
use kernel::id::new_id;
use kernel::{AppError, AppResult, Db, OrgPath, Tx};
use sqlx::any::AnyRow;
use sqlx::Row;

pub const ID_CARD_DOMAIN: &str = "party_id_card";
pub const USER_DOMAIN: &str = "party_user";

fn opt_i64(r: &AnyRow, c: &str) -> Option<i64> {
    r.try_get::<Option<i64>, _>(c).ok().flatten()
}

/// `col IN ($first, …)` for `n` values; `1 = 0` when there are none.
pub fn in_list(col: &str, n: usize, first: usize) -> String {
    if n == 0 {
        return "1 = 0".into();
    }
    let ps: Vec<String> = (first..first + n).map(|i| format!("${i}")).collect();
    format!("{col} IN ({})", ps.join(", "))
}

pub fn version_conflict() -> AppError {
    AppError::conflict("version_conflict", "该记录已被他人修改,请刷新后重试")
}

// ---------------------------------------------------------------- organisations

#[derive(Debug, Clone)]
pub struct AreaRow {
    pub org_id: String,
    pub org_path: OrgPath,
    pub name: String,
    pub kind: String,
}

#[derive(Debug, Clone)]
pub struct OrgRow {
    pub id: String,
    pub kind: PartyOrgKind,
    pub name: String,
    pub parent_id: Option<String>,
    /// The primary attachment.
    pub org_id: String,
    pub org_path: OrgPath,
    pub node_kind: String,
    pub node_name: String,
    pub joint: bool,
    pub founded_on: Option<String>,
    pub version: i64,
    /// Every attachment, the primary first.
    pub areas: Vec<AreaRow>,
}

impl OrgRow {
    pub fn area_paths(&self) -> Vec<String> {
        self.areas
            .iter()
            .map(|a| a.org_path.as_str().to_string())
            .collect()
    }
}

const ORG_COLS: &str =
    "o.id, o.kind, o.name, o.parent_id, o.org_id, o.org_path, n.kind AS node_kind, \
n.name AS node_name, o.joint, o.founded_on, o.version";
const ORG_FROM: &str = "party_orgs o JOIN org_nodes n ON n.id = o.org_id";

fn org_from(r: &AnyRow) -> OrgRow {
    OrgRow {
        id: r.get("id"),
        kind: PartyOrgKind::parse(&r.get::<String, _>("kind")).unwrap_or(PartyOrgKind::Branch),
        name: r.get("name"),
        parent_id: opt_str(r, "parent_id"),
        org_id: r.get("org_id"),
        org_path: OrgPath::from_db(r.get("org_path")),
        node_kind: r.get("node_kind"),
        node_name: r.get("node_name"),
        joint: r.get::<i64, _>("joint") != 0,
        founded_on: opt_str(r, "founded_on"),
        version: r.get("version"),
        areas: vec![],
    }
}

pub struct OrgInsert<'a> {
    pub kind: PartyOrgKind,
    pub name: &'a str,
    pub parent_id: Option<&'a str>,
    pub node: &'a org::store::NodeRow,
    pub extra: &'a [org::store::NodeRow],
    pub founded_on: Option<String>,
    pub created_by: &'a str,
}

pub async fn insert_org(tx: &mut Tx, o: &OrgInsert<'_>, now: i64) -> AppResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO party_orgs (id, kind, name, parent_id, org_id, org_path, joint, founded_on, created_by, created_at, updated_at, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, 1)",
    )
    .bind(&id)
    .bind(o.kind.as_str())
    .bind(o.name)
    .bind(o.parent_id)
    .bind(&o.node.id)
    .bind(o.node.org_path.as_str())
    .bind(i64::from(!o.extra.is_empty()))
    .bind(&o.founded_on)
    .bind(o.created_by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    for (i, n) in std::iter::once(o.node).chain(o.extra.iter()).enumerate() {
        sqlx::query(
            "INSERT INTO party_org_areas (party_org_id, org_id, org_path, primary_area) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(&n.id)
        .bind(n.org_path.as_str())
        .bind(i64::from(i == 0))
        .execute(&mut **tx)
        .await?;
    }
    Ok(id)
}

async fn attach_areas(db: &Db, orgs: &mut [OrgRow]) -> AppResult<()> {
    if orgs.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "SELECT a.party_org_id, a.org_id, a.org_path, n.name, n.kind FROM party_org_areas a
         JOIN org_nodes n ON n.id = a.org_id WHERE {} ORDER BY a.primary_area DESC, a.org_path",
        in_list("a.party_org_id", orgs.len(), 1)
    );
    let mut q = sqlx::query(&sql);
    for o in orgs.iter() {
        q = q.bind(o.id.clone());
    }
    for r in q.fetch_all(db.reader()).await? {
        let oid: String = r.get(0);
        if let Some(o) = orgs.iter_mut().find(|o| o.id == oid) {
            o.areas.push(AreaRow {
                org_id: r.get(1),
                org_path: OrgPath::from_db(r.get(2)),
                name: r.get(3),
                kind: r.get(4),
            });
        }
    }
    Ok(())
}

pub async fn get_org(db: &Db, id: &str) -> AppResult<Option<OrgRow>> {
    let r = sqlx::query(&format!(
        "SELECT {ORG_COLS} FROM {ORG_FROM} WHERE o.id = $1"
    ))
    .bind(id)
    .fetch_optional(db.reader())
    .await?;
    let Some(r) = r else { return Ok(None) };
    let mut v = vec![org_from(&r)];
    attach_areas(db, &mut v).await?;
    Ok(v.pop())
}

/// The organisations with these ids, in path order.
pub async fn orgs_by_ids(db: &Db, ids: &[String]) -> AppResult<Vec<OrgRow>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        "SELECT {ORG_COLS} FROM {ORG_FROM} WHERE {} ORDER BY o.org_path, o.kind, o.name",
        in_list("o.id", ids.len(), 1)
    );
    let mut q = sqlx::query(&sql);
    for id in ids {
        q = q.bind(id.clone());
    }
    let mut v: Vec<OrgRow> = q
        .fetch_all(db.reader())
        .await?
        .iter()
        .map(org_from)
        .collect();
    attach_areas(db, &mut v).await?;
    Ok(v)
}

/// Ids of organisations with any attachment within the given subtrees.
pub async fn org_ids_in(db: &Db, roots: &[OrgPath]) -> AppResult<Vec<String>> {
    if roots.is_empty() {
        return Ok(vec![]);
    }
    let scope = org::store::scope_sql("org_path", roots.len(), 1);
    let sql = format!("SELECT DISTINCT party_org_id FROM party_org_areas WHERE {scope}");
    let mut q = sqlx::query(&sql);
    for r in roots {
        q = q.bind(r.as_str().to_string()).bind(r.subtree_end());
    }
    Ok(q.fetch_all(db.reader())
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// An organisation and every organisation under it (by parent links).
pub async fn subtree_ids(db: &Db, root: &str) -> AppResult<Vec<String>> {
    let mut all = vec![root.to_string()];
    let mut frontier = vec![root.to_string()];
    // Party trees are three levels deep; the bound only guards a cycle.
    for _ in 0..6 {
        if frontier.is_empty() {
            break;
        }
        let sql = format!(
            "SELECT id FROM party_orgs WHERE {}",
            in_list("parent_id", frontier.len(), 1)
        );
        let mut q = sqlx::query(&sql);
        for f in &frontier {
            q = q.bind(f.clone());
        }
        frontier = q
            .fetch_all(db.reader())
            .await?
            .iter()
            .map(|r| r.get::<String, _>(0))
            .filter(|id| !all.contains(id))
            .collect();
        all.extend(frontier.iter().cloned());
    }
    Ok(all)
}

/// Every branch in the platform, for the transfer form (names are public).
pub async fn all_branches(db: &Db) -> AppResult<Vec<(String, String)>> {
    Ok(sqlx::query(
        "SELECT id, name FROM party_orgs WHERE kind = 'branch' ORDER BY org_path, name LIMIT 5000",
    )
    .fetch_all(db.reader())
    .await?
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect())
}

// ---------------------------------------------------------------- officers

#[derive(Debug, Clone)]
pub struct OfficerRow {
    pub id: String,
    pub party_org_id: String,
    pub member_id: String,
    pub position: OfficerPosition,
    pub term_start: String,
    pub term_end: Option<String>,
    pub ended_on: Option<String>,
}

fn officer_from(r: &AnyRow) -> OfficerRow {
    OfficerRow {
        id: r.get("id"),
        party_org_id: r.get("party_org_id"),
        member_id: r.get("member_id"),
        position: OfficerPosition::parse(&r.get::<String, _>("position"))
            .unwrap_or(OfficerPosition::CommitteeMember),
        term_start: r.get("term_start"),
        term_end: opt_str(r, "term_end"),
        ended_on: opt_str(r, "ended_on"),
    }
}

const OFFICER_COLS: &str = "id, party_org_id, member_id, position, term_start, term_end, ended_on";

#[allow(clippy::too_many_arguments)]
pub async fn insert_officer(
    tx: &mut Tx,
    org_id: &str,
    member_id: &str,
    position: OfficerPosition,
    term_start: &str,
    term_end: Option<&str>,
    by: &str,
    now: i64,
) -> AppResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO party_officers (id, party_org_id, member_id, position, term_start, term_end, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(org_id)
    .bind(member_id)
    .bind(position.as_str())
    .bind(term_start)
    .bind(term_end)
    .bind(by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

pub async fn officers_of(db: &Db, org_id: &str) -> AppResult<Vec<OfficerRow>> {
    Ok(sqlx::query(&format!(
        "SELECT {OFFICER_COLS} FROM party_officers WHERE party_org_id = $1 ORDER BY term_start DESC, id"
    ))
    .bind(org_id)
    .fetch_all(db.reader())
    .await?
    .iter()
    .map(officer_from)
    .collect())
}

pub async fn officers_of_tx(tx: &mut Tx, org_id: &str) -> AppResult<Vec<OfficerRow>> {
    Ok(sqlx::query(&format!(
        "SELECT {OFFICER_COLS} FROM party_officers WHERE party_org_id = $1 ORDER BY term_start DESC, id"
    ))
    .bind(org_id)
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(officer_from)
    .collect())
}

pub async fn offices_of_member(db: &Db, member_id: &str) -> AppResult<Vec<OfficerRow>> {
    Ok(sqlx::query(&format!(
        "SELECT {OFFICER_COLS} FROM party_officers WHERE member_id = $1 ORDER BY term_start DESC, id"
    ))
    .bind(member_id)
    .fetch_all(db.reader())
    .await?
    .iter()
    .map(officer_from)
    .collect())
}

pub async fn get_officer(db: &Db, id: &str) -> AppResult<Option<OfficerRow>> {
    Ok(sqlx::query(&format!(
        "SELECT {OFFICER_COLS} FROM party_officers WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db.reader())
    .await?
    .as_ref()
    .map(officer_from))
}

pub async fn end_officer(tx: &mut Tx, id: &str, on: &str) -> AppResult<bool> {
    Ok(
        sqlx::query("UPDATE party_officers SET ended_on = $1 WHERE id = $2 AND ended_on IS NULL")
            .bind(on)
            .bind(id)
            .execute(&mut **tx)
            .await?
            .rows_affected()
            > 0,
    )
}

/// Ends the offices a member holds in the given organisations (on transfer).
pub async fn end_offices_in(
    tx: &mut Tx,
    member_id: &str,
    org_ids: &[String],
    on: &str,
) -> AppResult<u64> {
    if org_ids.is_empty() {
        return Ok(0);
    }
    let sql = format!(
        "UPDATE party_officers SET ended_on = $1 WHERE member_id = $2 AND ended_on IS NULL AND {}",
        in_list("party_org_id", org_ids.len(), 3)
    );
    let mut q = sqlx::query(&sql).bind(on).bind(member_id);
    for id in org_ids {
        q = q.bind(id.clone());
    }
    Ok(q.execute(&mut **tx).await?.rows_affected())
}

// ---------------------------------------------------------------- service centres

#[derive(Debug, Clone)]
pub struct CentreRow {
    pub name: String,
    pub address: String,
    pub opening_hours: Option<String>,
    pub phone: Option<String>,
}

pub async fn upsert_centre(tx: &mut Tx, org: &OrgRow, c: &CentreRow, now: i64) -> AppResult<()> {
    sqlx::query("DELETE FROM party_service_centres WHERE party_org_id = $1")
        .bind(&org.id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO party_service_centres (id, party_org_id, org_path, name, address, opening_hours, phone, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new_id())
    .bind(&org.id)
    .bind(org.org_path.as_str())
    .bind(&c.name)
    .bind(&c.address)
    .bind(&c.opening_hours)
    .bind(&c.phone)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn centre_of(db: &Db, org_id: &str) -> AppResult<Option<CentreRow>> {
    Ok(sqlx::query(
        "SELECT name, address, opening_hours, phone FROM party_service_centres WHERE party_org_id = $1",
    )
    .bind(org_id)
    .fetch_optional(db.reader())
    .await?
    .map(|r| CentreRow {
        name: r.get("name"),
        address: r.get("address"),
        opening_hours: opt_str(&r, "opening_hours"),
        phone: opt_str(&r, "phone"),
    }))
}

// ---------------------------------------------------------------- members

#[derive(Debug, Clone)]
pub struct MemberRow {
    pub id: String,
    pub branch_id: String,
    pub group_id: Option<String>,
    pub org_path: OrgPath,
    pub mode: ManagementMode,
    pub reg_org_id: Option<String>,
    pub reg_on: Option<String>,
    pub profile: Profile,
    pub user_index: Option<String>,
    pub central_household: bool,
    pub vanguard_post: Option<String>,
    pub active: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

const MEMBER_COLS: &str =
    "id, branch_id, group_id, org_path, mode, reg_org_id, reg_on, profile_enc, \
user_index, central_household, vanguard_post, active, created_at, updated_at, version";

fn member_from(r: &AnyRow, cipher: &FieldCipher) -> AppResult<MemberRow> {
    let enc: String = r.get("profile_enc");
    let profile: Profile = cipher
        .decrypt(&enc)
        .and_then(|s| serde_json::from_str(&s).ok())
        .ok_or_else(|| AppError::internal("a party member's profile cannot be decrypted"))?;
    Ok(MemberRow {
        id: r.get("id"),
        branch_id: r.get("branch_id"),
        group_id: opt_str(r, "group_id"),
        org_path: OrgPath::from_db(r.get("org_path")),
        mode: ManagementMode::parse(&r.get::<String, _>("mode"))
            .unwrap_or(ManagementMode::Resident),
        reg_org_id: opt_str(r, "reg_org_id"),
        reg_on: opt_str(r, "reg_on"),
        profile,
        user_index: opt_str(r, "user_index"),
        central_household: r.get::<i64, _>("central_household") != 0,
        vanguard_post: opt_str(r, "vanguard_post"),
        active: r.get::<i64, _>("active") != 0,
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
        version: r.get("version"),
    })
}

pub fn encrypt_profile(cipher: &FieldCipher, p: &Profile) -> AppResult<String> {
    Ok(cipher.encrypt(&serde_json::to_string(p).map_err(AppError::internal)?))
}

pub fn user_index(cipher: &FieldCipher, user_id: &str) -> String {
    cipher.blind_index(USER_DOMAIN, user_id)
}

pub fn id_card_index(cipher: &FieldCipher, id_card: &str) -> String {
    cipher.blind_index(ID_CARD_DOMAIN, id_card)
}

pub struct MemberInsert<'a> {
    pub branch: &'a OrgRow,
    pub group_id: Option<&'a str>,
    pub mode: ManagementMode,
    pub profile: &'a Profile,
    pub central_household: bool,
    pub vanguard_post: Option<&'a str>,
    pub created_by: &'a str,
}

pub async fn insert_member(
    tx: &mut Tx,
    cipher: &FieldCipher,
    m: &MemberInsert<'_>,
    now: i64,
) -> AppResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO party_members (id, branch_id, group_id, org_path, mode, profile_enc, id_card_index, user_index,
             central_household, vanguard_post, active, created_by, created_at, updated_at, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $12, $12, 1)",
    )
    .bind(&id)
    .bind(&m.branch.id)
    .bind(m.group_id)
    .bind(m.branch.org_path.as_str())
    .bind(m.mode.as_str())
    .bind(encrypt_profile(cipher, m.profile)?)
    .bind(m.profile.id_card.as_deref().map(|i| id_card_index(cipher, i)))
    .bind(m.profile.user_id.as_deref().map(|u| user_index(cipher, u)))
    .bind(i64::from(m.central_household))
    .bind(m.vanguard_post)
    .bind(m.created_by)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(|e| match AppError::from(e) {
        AppError::Conflict {
            code: "already_exists",
            ..
        } => AppError::conflict("member_exists", "该党员已登记(身份证号或账号重复)"),
        other => other,
    })?;
    Ok(id)
}

/// Saves a member's changeable fields if the version is still `expected`.
pub async fn save_member(
    tx: &mut Tx,
    cipher: &FieldCipher,
    m: &MemberRow,
    expected: i64,
    now: i64,
) -> AppResult<()> {
    let n = sqlx::query(
        "UPDATE party_members SET branch_id = $1, group_id = $2, org_path = $3, mode = $4, reg_org_id = $5,
             reg_on = $6, profile_enc = $7, id_card_index = $8, user_index = $9, central_household = $10,
             vanguard_post = $11, active = $12, updated_at = $13, version = version + 1
         WHERE id = $14 AND version = $15",
    )
    .bind(&m.branch_id)
    .bind(&m.group_id)
    .bind(m.org_path.as_str())
    .bind(m.mode.as_str())
    .bind(&m.reg_org_id)
    .bind(&m.reg_on)
    .bind(encrypt_profile(cipher, &m.profile)?)
    .bind(m.profile.id_card.as_deref().map(|i| id_card_index(cipher, i)))
    .bind(m.profile.user_id.as_deref().map(|u| user_index(cipher, u)))
    .bind(i64::from(m.central_household))
    .bind(&m.vanguard_post)
    .bind(i64::from(m.active))
    .bind(now)
    .bind(&m.id)
    .bind(expected)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(version_conflict());
    }
    Ok(())
}

pub async fn get_member(db: &Db, cipher: &FieldCipher, id: &str) -> AppResult<Option<MemberRow>> {
    match sqlx::query(&format!(
        "SELECT {MEMBER_COLS} FROM party_members WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db.reader())
    .await?
    {
        Some(r) => Ok(Some(member_from(&r, cipher)?)),
        None => Ok(None),
    }
}

pub async fn get_member_tx(
    tx: &mut Tx,
    cipher: &FieldCipher,
    id: &str,
) -> AppResult<Option<MemberRow>> {
    match sqlx::query(&format!(
        "SELECT {MEMBER_COLS} FROM party_members WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    {
        Some(r) => Ok(Some(member_from(&r, cipher)?)),
        None => Ok(None),
    }
}

/// The active member records linked to a user (normally one).
pub async fn members_of_user(
    db: &Db,
    cipher: &FieldCipher,
    user_id: &str,
) -> AppResult<Vec<MemberRow>> {
    sqlx::query(&format!(
        "SELECT {MEMBER_COLS} FROM party_members WHERE user_index = $1 AND active = 1 ORDER BY id"
    ))
    .bind(user_index(cipher, user_id))
    .fetch_all(db.reader())
    .await?
    .iter()
    .map(|r| member_from(r, cipher))
    .collect()
}

/// Is this ID number or account already a member (other than `except`)?
pub async fn identity_taken(
    tx: &mut Tx,
    cipher: &FieldCipher,
    id_card: Option<&str>,
    user_id: Option<&str>,
    except: Option<&str>,
) -> AppResult<Option<&'static str>> {
    for (col, value, field) in [
        (
            "id_card_index",
            id_card.map(|i| id_card_index(cipher, i)),
            "id_card",
        ),
        (
            "user_index",
            user_id.map(|u| user_index(cipher, u)),
            "account",
        ),
    ] {
        let Some(v) = value else { continue };
        let r = sqlx::query(&format!("SELECT id FROM party_members WHERE {col} = $1"))
            .bind(v)
            .fetch_optional(&mut **tx)
            .await?;
        if let Some(r) = r {
            if except != Some(r.get::<String, _>(0).as_str()) {
                return Ok(Some(field));
            }
        }
    }
    Ok(None)
}

#[derive(Debug, Default)]
pub struct MemberFilter {
    /// Members whose branch or group is one of these …
    pub home_orgs: Vec<String>,
    /// … or who registered (双报到) at one of these …
    pub reg_orgs: Vec<String>,
    /// … or the caller's own record.
    pub own_index: Option<String>,
    pub mode: Option<ManagementMode>,
    pub after: Option<String>,
    pub limit: i64,
}

/// Active members matching the filter, in id (creation) order.
pub async fn list_members(
    db: &Db,
    cipher: &FieldCipher,
    f: &MemberFilter,
) -> AppResult<Vec<MemberRow>> {
    let mut n = 2;
    let mut ors = Vec::new();
    let home = f.home_orgs.len();
    if home > 0 {
        ors.push(format!(
            "{} OR {}",
            in_list("branch_id", home, n + 1),
            in_list("group_id", home, n + 1)
        ));
        n += home;
    }
    if !f.reg_orgs.is_empty() {
        ors.push(in_list("reg_org_id", f.reg_orgs.len(), n + 1));
        n += f.reg_orgs.len();
    }
    if f.own_index.is_some() {
        n += 1;
        ors.push(format!("user_index = ${n}"));
    }
    if ors.is_empty() {
        return Ok(vec![]);
    }
    let mode_sql = if f.mode.is_some() {
        n += 1;
        format!(" AND mode = ${n}")
    } else {
        String::new()
    };
    let sql = format!(
        "SELECT {MEMBER_COLS} FROM party_members WHERE active = 1 AND id > $1 AND ({}){mode_sql} ORDER BY id LIMIT $2",
        ors.join(" OR ")
    );
    let mut q = sqlx::query(&sql)
        .bind(f.after.clone().unwrap_or_default())
        .bind(f.limit);
    for id in f.home_orgs.iter().chain(f.reg_orgs.iter()) {
        q = q.bind(id.clone());
    }
    if let Some(i) = &f.own_index {
        q = q.bind(i.clone());
    }
    if let Some(m) = f.mode {
        q = q.bind(m.as_str());
    }
    q.fetch_all(db.reader())
        .await?
        .iter()
        .map(|r| member_from(r, cipher))
        .collect()
}

/// All active members at home in or registered at these organisations
/// (statistics, exports, forms), in id order.
pub async fn members_of_orgs(
    db: &Db,
    cipher: &FieldCipher,
    org_ids: &[String],
) -> AppResult<Vec<MemberRow>> {
    list_members(
        db,
        cipher,
        &MemberFilter {
            home_orgs: org_ids.to_vec(),
            reg_orgs: org_ids.to_vec(),
            limit: 1_000_000,
            ..Default::default()
        },
    )
    .await
}

// ---------------------------------------------------------------- transfers

#[derive(Debug, Clone)]
pub struct TransferRow {
    pub id: String,
    pub member_id: String,
    pub from_org_id: String,
    pub from_name: String,
    pub to_org_id: Option<String>,
    pub to_name: String,
    pub transferred_on: String,
    pub reason: Option<String>,
    pub created_at: i64,
}

pub struct TransferInsert<'a> {
    pub member_id: &'a str,
    pub from: &'a OrgRow,
    pub to: Option<&'a OrgRow>,
    pub to_external: Option<&'a str>,
    pub on: &'a str,
    pub reason: Option<&'a str>,
    pub by: &'a str,
}

pub async fn insert_transfer(
    tx: &mut Tx,
    cipher: &FieldCipher,
    t: &TransferInsert<'_>,
    now: i64,
) -> AppResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO party_transfers (id, member_id, from_org_id, to_org_id, to_external, transferred_on, reason_enc, recorded_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(t.member_id)
    .bind(&t.from.id)
    .bind(t.to.map(|o| o.id.clone()))
    .bind(t.to_external)
    .bind(t.on)
    .bind(t.reason.map(|r| cipher.encrypt(r)))
    .bind(t.by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

fn transfer_from(r: &AnyRow, cipher: &FieldCipher) -> TransferRow {
    TransferRow {
        id: r.get("id"),
        member_id: r.get("member_id"),
        from_org_id: r.get("from_org_id"),
        from_name: r.get("from_name"),
        to_org_id: opt_str(r, "to_org_id"),
        to_name: opt_str(r, "to_name")
            .or_else(|| opt_str(r, "to_external"))
            .unwrap_or_default(),
        transferred_on: r.get("transferred_on"),
        reason: opt_str(r, "reason_enc").and_then(|v| cipher.decrypt(&v)),
        created_at: r.get("created_at"),
    }
}

const TRANSFER_SELECT: &str = "SELECT t.id, t.member_id, t.from_org_id, f.name AS from_name, t.to_org_id, o.name AS to_name,
    t.to_external, t.transferred_on, t.reason_enc, t.created_at
    FROM party_transfers t JOIN party_orgs f ON f.id = t.from_org_id LEFT JOIN party_orgs o ON o.id = t.to_org_id";

pub async fn transfers_of_member(
    db: &Db,
    cipher: &FieldCipher,
    member_id: &str,
) -> AppResult<Vec<TransferRow>> {
    Ok(sqlx::query(&format!(
        "{TRANSFER_SELECT} WHERE t.member_id = $1 ORDER BY t.transferred_on, t.created_at"
    ))
    .bind(member_id)
    .fetch_all(db.reader())
    .await?
    .iter()
    .map(|r| transfer_from(r, cipher))
    .collect())
}

/// Transfers into or out of an organisation, newest first.
pub async fn transfers_of_org(
    db: &Db,
    cipher: &FieldCipher,
    org_id: &str,
) -> AppResult<Vec<TransferRow>> {
    Ok(sqlx::query(&format!(
        "{TRANSFER_SELECT} WHERE t.from_org_id = $1 OR t.to_org_id = $1 ORDER BY t.transferred_on DESC, t.created_at DESC LIMIT 500"
    ))
    .bind(org_id)
    .fetch_all(db.reader())
    .await?
    .iter()
    .map(|r| transfer_from(r, cipher))
    .collect())
}

/// The latest transfer date of a member (a transfer cannot precede it).
pub async fn last_transfer_on(db: &Db, member_id: &str) -> AppResult<Option<String>> {
    Ok(
        sqlx::query("SELECT MAX(transferred_on) FROM party_transfers WHERE member_id = $1")
            .bind(member_id)
            .fetch_one(db.reader())
            .await?
            .try_get::<Option<String>, _>(0)
            .ok()
            .flatten(),
    )
}

// ---------------------------------------------------------------- check-ins

#[derive(Debug, Clone)]
pub struct CheckinRow {
    pub id: String,
    pub member_id: String,
    pub branch_id: String,
    pub at_ms: i64,
    pub place: String,
    pub note: Option<String>,
    pub channel: CheckinChannel,
    pub created_at: i64,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct CheckinDetail {
    place: String,
    #[serde(default)]
    note: Option<String>,
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_checkin(
    tx: &mut Tx,
    cipher: &FieldCipher,
    member_id: &str,
    branch_id: &str,
    at_ms: i64,
    place: &str,
    note: Option<&str>,
    channel: CheckinChannel,
    recorded_by: Option<&str>,
    now: i64,
) -> AppResult<String> {
    let id = new_id();
    let detail = serde_json::to_string(&CheckinDetail {
        place: place.into(),
        note: note.map(str::to_string),
    })
    .map_err(AppError::internal)?;
    sqlx::query(
        "INSERT INTO party_checkins (id, member_id, branch_id, at_ms, detail_enc, channel, recorded_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(member_id)
    .bind(branch_id)
    .bind(at_ms)
    .bind(cipher.encrypt(&detail))
    .bind(channel.as_str())
    .bind(recorded_by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

pub async fn checkins_of(
    db: &Db,
    cipher: &FieldCipher,
    member_id: &str,
    limit: i64,
) -> AppResult<Vec<CheckinRow>> {
    Ok(sqlx::query(
        "SELECT id, member_id, branch_id, at_ms, detail_enc, channel, created_at FROM party_checkins
         WHERE member_id = $1 ORDER BY at_ms DESC, id DESC LIMIT $2",
    )
    .bind(member_id)
    .bind(limit)
    .fetch_all(db.reader())
    .await?
    .iter()
    .map(|r| {
        let d: Option<CheckinDetail> = cipher
            .decrypt(&r.get::<String, _>("detail_enc"))
            .and_then(|s| serde_json::from_str(&s).ok());
        CheckinRow {
            id: r.get("id"),
            member_id: r.get("member_id"),
            branch_id: r.get("branch_id"),
            at_ms: r.get("at_ms"),
            place: d.as_ref().map(|d| d.place.clone()).unwrap_or_default(),
            note: d.and_then(|d| d.note),
            channel: CheckinChannel::parse(&r.get::<String, _>("channel"))
                .unwrap_or(CheckinChannel::Branch),
            created_at: r.get("created_at"),
        }
    })
    .collect())
}

/// The latest check-in time of each of these members.
pub async fn last_checkins(
    db: &Db,
    member_ids: &[String],
) -> AppResult<std::collections::HashMap<String, i64>> {
    let mut out = std::collections::HashMap::new();
    for chunk in member_ids.chunks(500) {
        let sql = format!(
            "SELECT member_id, MAX(at_ms) FROM party_checkins WHERE {} GROUP BY member_id",
            in_list("member_id", chunk.len(), 1)
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(id.clone());
        }
        for r in q.fetch_all(db.reader()).await? {
            out.insert(r.get::<String, _>(0), r.get::<i64, _>(1));
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- red butlers

#[derive(Debug, Clone)]
pub struct ButlerRow {
    pub id: String,
    pub building_id: String,
    pub building_name: String,
    pub org_path: OrgPath,
    pub role: ButlerRole,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub member_id: Option<String>,
    pub duty: Option<String>,
    pub started_on: String,
    pub ended_on: Option<String>,
}

pub struct ButlerInsert<'a> {
    pub building: &'a org::store::NodeRow,
    pub role: ButlerRole,
    /// A butler who is not a party member is linked by account …
    pub user_id: Option<&'a str>,
    /// … a red butler or a party volunteer by member record, never both, so
    /// no row ties an account to party membership in the clear.
    pub member_id: Option<&'a str>,
    pub duty: Option<&'a str>,
    pub started_on: &'a str,
    pub by: &'a str,
}

pub async fn insert_butler(tx: &mut Tx, b: &ButlerInsert<'_>, now: i64) -> AppResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO party_butlers (id, building_id, org_path, role, user_id, member_id, duty, started_on, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&id)
    .bind(&b.building.id)
    .bind(b.building.org_path.as_str())
    .bind(b.role.as_str())
    .bind(b.user_id)
    .bind(b.member_id)
    .bind(b.duty)
    .bind(b.started_on)
    .bind(b.by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// Current roster entries on buildings within the subtrees.
pub async fn butlers_in(db: &Db, roots: &[OrgPath]) -> AppResult<Vec<ButlerRow>> {
    if roots.is_empty() {
        return Ok(vec![]);
    }
    let scope = org::store::scope_sql("b.org_path", roots.len(), 1);
    let sql = format!(
        "SELECT b.id, b.building_id, n.name AS building_name, b.org_path, b.role, b.user_id, u.display_name,
                b.member_id, b.duty, b.started_on, b.ended_on
         FROM party_butlers b JOIN org_nodes n ON n.id = b.building_id LEFT JOIN users u ON u.id = b.user_id
         WHERE b.ended_on IS NULL AND {scope} ORDER BY b.org_path, b.role, b.id LIMIT 2000"
    );
    let mut q = sqlx::query(&sql);
    for r in roots {
        q = q.bind(r.as_str().to_string()).bind(r.subtree_end());
    }
    Ok(q.fetch_all(db.reader())
        .await?
        .iter()
        .map(|r| ButlerRow {
            id: r.get("id"),
            building_id: r.get("building_id"),
            building_name: r.get("building_name"),
            org_path: OrgPath::from_db(r.get("org_path")),
            role: ButlerRole::parse(&r.get::<String, _>("role")).unwrap_or(ButlerRole::Butler),
            user_id: opt_str(r, "user_id"),
            user_name: opt_str(r, "display_name"),
            member_id: opt_str(r, "member_id"),
            duty: opt_str(r, "duty"),
            started_on: r.get("started_on"),
            ended_on: opt_str(r, "ended_on"),
        })
        .collect())
}

pub async fn butler_path(db: &Db, id: &str) -> AppResult<Option<(OrgPath, String)>> {
    Ok(sqlx::query(
        "SELECT org_path, started_on FROM party_butlers WHERE id = $1 AND ended_on IS NULL",
    )
    .bind(id)
    .fetch_optional(db.reader())
    .await?
    .map(|r| (OrgPath::from_db(r.get(0)), r.get(1))))
}

pub async fn end_butler(tx: &mut Tx, id: &str, on: &str) -> AppResult<bool> {
    Ok(
        sqlx::query("UPDATE party_butlers SET ended_on = $1 WHERE id = $2 AND ended_on IS NULL")
            .bind(on)
            .bind(id)
            .execute(&mut **tx)
            .await?
            .rows_affected()
            > 0,
    )
}

// ---------------------------------------------------------------- cross-appointments

#[derive(Debug, Clone)]
pub struct AppointmentRow {
    pub id: String,
    pub party_org_id: String,
    pub member_id: String,
    pub compound_id: String,
    pub compound_name: String,
    pub body: CrossBody,
    pub direction: CrossDirection,
    pub position: String,
    pub started_on: String,
    pub ended_on: Option<String>,
}

pub struct AppointmentInsert<'a> {
    pub org: &'a OrgRow,
    pub member_id: &'a str,
    pub compound: &'a org::store::NodeRow,
    pub body: CrossBody,
    pub direction: CrossDirection,
    pub position: &'a str,
    pub started_on: &'a str,
    pub by: &'a str,
}

pub async fn insert_appointment(
    tx: &mut Tx,
    a: &AppointmentInsert<'_>,
    now: i64,
) -> AppResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO party_cross_appointments (id, party_org_id, member_id, compound_id, org_path, body, direction, position, started_on, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&id)
    .bind(&a.org.id)
    .bind(a.member_id)
    .bind(&a.compound.id)
    .bind(a.compound.org_path.as_str())
    .bind(a.body.as_str())
    .bind(a.direction.as_str())
    .bind(a.position)
    .bind(a.started_on)
    .bind(a.by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

const APPOINTMENT_SELECT: &str =
    "SELECT a.id, a.party_org_id, a.member_id, a.compound_id, n.name AS compound_name, a.body,
    a.direction, a.position, a.started_on, a.ended_on
    FROM party_cross_appointments a JOIN org_nodes n ON n.id = a.compound_id";

fn appointment_from(r: &AnyRow) -> AppointmentRow {
    AppointmentRow {
        id: r.get("id"),
        party_org_id: r.get("party_org_id"),
        member_id: r.get("member_id"),
        compound_id: r.get("compound_id"),
        compound_name: r.get("compound_name"),
        body: CrossBody::parse(&r.get::<String, _>("body")).unwrap_or(CrossBody::OwnersCommittee),
        direction: CrossDirection::parse(&r.get::<String, _>("direction"))
            .unwrap_or(CrossDirection::IntoBody),
        position: r.get("position"),
        started_on: r.get("started_on"),
        ended_on: opt_str(r, "ended_on"),
    }
}

pub async fn appointments_of_orgs(db: &Db, org_ids: &[String]) -> AppResult<Vec<AppointmentRow>> {
    if org_ids.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        "{APPOINTMENT_SELECT} WHERE {} ORDER BY a.ended_on IS NOT NULL, a.started_on DESC, a.id LIMIT 2000",
        in_list("a.party_org_id", org_ids.len(), 1)
    );
    let mut q = sqlx::query(&sql);
    for id in org_ids {
        q = q.bind(id.clone());
    }
    Ok(q.fetch_all(db.reader())
        .await?
        .iter()
        .map(appointment_from)
        .collect())
}

pub async fn appointments_of_member(db: &Db, member_id: &str) -> AppResult<Vec<AppointmentRow>> {
    Ok(sqlx::query(&format!(
        "{APPOINTMENT_SELECT} WHERE a.member_id = $1 ORDER BY a.started_on DESC, a.id"
    ))
    .bind(member_id)
    .fetch_all(db.reader())
    .await?
    .iter()
    .map(appointment_from)
    .collect())
}

pub async fn get_appointment(db: &Db, id: &str) -> AppResult<Option<AppointmentRow>> {
    Ok(
        sqlx::query(&format!("{APPOINTMENT_SELECT} WHERE a.id = $1"))
            .bind(id)
            .fetch_optional(db.reader())
            .await?
            .as_ref()
            .map(appointment_from),
    )
}

pub async fn active_appointment_exists(
    tx: &mut Tx,
    member_id: &str,
    compound_id: &str,
    body: CrossBody,
) -> AppResult<bool> {
    let n: i64 = sqlx::query(
        "SELECT COUNT(*) FROM party_cross_appointments WHERE member_id = $1 AND compound_id = $2 AND body = $3 AND ended_on IS NULL",
    )
    .bind(member_id)
    .bind(compound_id)
    .bind(body.as_str())
    .fetch_one(&mut **tx)
    .await?
    .get(0);
    Ok(n > 0)
}

pub async fn end_appointment(tx: &mut Tx, id: &str, on: &str) -> AppResult<bool> {
    Ok(sqlx::query(
        "UPDATE party_cross_appointments SET ended_on = $1 WHERE id = $2 AND ended_on IS NULL",
    )
    .bind(on)
    .bind(id)
    .execute(&mut **tx)
    .await?
    .rows_affected()
        > 0)
}

// ---------------------------------------------------------------- activities

#[derive(Debug, Clone)]
pub struct ActivityRow {
    pub id: String,
    pub party_org_id: String,
    pub org_name: String,
    pub org_path: OrgPath,
    pub kind: ActivityKind,
    pub title: String,
    pub theme: Option<String>,
    pub held_at: i64,
    pub place: String,
    pub minutes: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

const ACTIVITY_COLS: &str =
    "a.id, a.party_org_id, o.name AS org_name, a.org_path, a.kind, a.title, a.theme, a.held_at, \
a.place, a.minutes, a.created_at, a.updated_at, a.version";
const ACTIVITY_FROM: &str = "party_activities a JOIN party_orgs o ON o.id = a.party_org_id";

fn activity_from(r: &AnyRow) -> ActivityRow {
    ActivityRow {
        id: r.get("id"),
        party_org_id: r.get("party_org_id"),
        org_name: r.get("org_name"),
        org_path: OrgPath::from_db(r.get("org_path")),
        kind: ActivityKind::parse(&r.get::<String, _>("kind"))
            .unwrap_or(ActivityKind::PartyLecture),
        title: r.get("title"),
        theme: opt_str(r, "theme"),
        held_at: r.get("held_at"),
        place: r.get("place"),
        minutes: opt_str(r, "minutes"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
        version: r.get("version"),
    }
}

pub async fn insert_activity(
    tx: &mut Tx,
    org: &OrgRow,
    a: &crate::model::NewActivity,
    by: &str,
    now: i64,
) -> AppResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO party_activities (id, party_org_id, org_path, kind, title, theme, held_at, place, minutes, created_by, created_at, updated_at, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, 1)",
    )
    .bind(&id)
    .bind(&org.id)
    .bind(org.org_path.as_str())
    .bind(a.kind.as_str())
    .bind(&a.title)
    .bind(&a.theme)
    .bind(a.held_at)
    .bind(&a.place)
    .bind(&a.minutes)
    .bind(by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

pub async fn get_activity(db: &Db, id: &str) -> AppResult<Option<ActivityRow>> {
    Ok(sqlx::query(&format!(
        "SELECT {ACTIVITY_COLS} FROM {ACTIVITY_FROM} WHERE a.id = $1"
    ))
    .bind(id)
    .fetch_optional(db.reader())
    .await?
    .as_ref()
    .map(activity_from))
}

/// Activities of these organisations held in `[from_ms, to_ms)`, newest first.
pub async fn activities_of(
    db: &Db,
    org_ids: &[String],
    from_ms: i64,
    to_ms: i64,
    limit: i64,
) -> AppResult<Vec<ActivityRow>> {
    if org_ids.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        "SELECT {ACTIVITY_COLS} FROM {ACTIVITY_FROM} WHERE a.held_at >= $1 AND a.held_at < $2 AND {}
         ORDER BY a.held_at DESC, a.id DESC LIMIT $3",
        in_list("a.party_org_id", org_ids.len(), 4)
    );
    let mut q = sqlx::query(&sql).bind(from_ms).bind(to_ms).bind(limit);
    for id in org_ids {
        q = q.bind(id.clone());
    }
    Ok(q.fetch_all(db.reader())
        .await?
        .iter()
        .map(activity_from)
        .collect())
}

pub async fn save_minutes(
    tx: &mut Tx,
    id: &str,
    minutes: Option<&str>,
    expected: i64,
    now: i64,
) -> AppResult<()> {
    let n = sqlx::query(
        "UPDATE party_activities SET minutes = $1, updated_at = $2, version = version + 1 WHERE id = $3 AND version = $4",
    )
    .bind(minutes)
    .bind(now)
    .bind(id)
    .bind(expected)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(version_conflict());
    }
    Ok(())
}

/// Replaces an activity's attendance and bumps its version (if unchanged).
pub async fn replace_attendance(
    tx: &mut Tx,
    activity_id: &str,
    entries: &[(String, AttendanceStatus)],
    expected: i64,
    now: i64,
) -> AppResult<()> {
    let n = sqlx::query(
        "UPDATE party_activities SET updated_at = $1, version = version + 1 WHERE id = $2 AND version = $3",
    )
    .bind(now)
    .bind(activity_id)
    .bind(expected)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(version_conflict());
    }
    sqlx::query("DELETE FROM party_attendance WHERE activity_id = $1")
        .bind(activity_id)
        .execute(&mut **tx)
        .await?;
    for (m, s) in entries {
        sqlx::query(
            "INSERT INTO party_attendance (activity_id, member_id, status) VALUES ($1, $2, $3)",
        )
        .bind(activity_id)
        .bind(m)
        .bind(s.as_str())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// `(activity_id, member_id, status)` of these activities.
pub async fn attendance_of(
    db: &Db,
    activity_ids: &[String],
) -> AppResult<Vec<(String, String, AttendanceStatus)>> {
    let mut out = Vec::new();
    for chunk in activity_ids.chunks(500) {
        let sql = format!(
            "SELECT activity_id, member_id, status FROM party_attendance WHERE {}",
            in_list("activity_id", chunk.len(), 1)
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(id.clone());
        }
        for r in q.fetch_all(db.reader()).await? {
            out.push((
                r.get(0),
                r.get(1),
                AttendanceStatus::parse(&r.get::<String, _>(2)).unwrap_or(AttendanceStatus::Absent),
            ));
        }
    }
    Ok(out)
}

/// A member's attendance, newest activity first.
pub async fn attendance_of_member(
    db: &Db,
    member_id: &str,
) -> AppResult<Vec<(ActivityRow, AttendanceStatus)>> {
    Ok(sqlx::query(&format!(
        "SELECT {ACTIVITY_COLS}, t.status AS att FROM {ACTIVITY_FROM} JOIN party_attendance t ON t.activity_id = a.id
         WHERE t.member_id = $1 ORDER BY a.held_at DESC LIMIT 100"
    ))
    .bind(member_id)
    .fetch_all(db.reader())
    .await?
    .iter()
    .map(|r| {
        (
            activity_from(r),
            AttendanceStatus::parse(&r.get::<String, _>("att")).unwrap_or(AttendanceStatus::Absent),
        )
    })
    .collect())
}

#[derive(Debug, Clone)]
pub struct PhotoRow {
    pub id: String,
    pub filename: String,
    pub mime: String,
    pub size: i64,
}

pub async fn photos_of(db: &Db, activity_id: &str) -> AppResult<Vec<PhotoRow>> {
    Ok(sqlx::query(
        "SELECT id, filename, mime, size FROM party_activity_photos WHERE activity_id = $1 ORDER BY created_at, id",
    )
    .bind(activity_id)
    .fetch_all(db.reader())
    .await?
    .iter()
    .map(|r| PhotoRow {
        id: r.get(0),
        filename: r.get(1),
        mime: r.get(2),
        size: r.get(3),
    })
    .collect())
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_photo(
    tx: &mut Tx,
    activity: &ActivityRow,
    filename: &str,
    mime: &str,
    data: Vec<u8>,
    by: &str,
    now: i64,
) -> AppResult<String> {
    let id = new_id();
    let size = data.len() as i64;
    sqlx::query(
        "INSERT INTO party_activity_photos (id, activity_id, org_path, filename, mime, size, sha256, data, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&id)
    .bind(&activity.id)
    .bind(activity.org_path.as_str())
    .bind(filename)
    .bind(mime)
    .bind(size)
    .bind(kernel::crypto::sha256_hex(&data))
    .bind(data)
    .bind(by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

pub async fn photo_data(
    db: &Db,
    activity_id: &str,
    photo_id: &str,
) -> AppResult<Option<(String, Vec<u8>)>> {
    Ok(sqlx::query(
        "SELECT mime, data FROM party_activity_photos WHERE id = $1 AND activity_id = $2",
    )
    .bind(photo_id)
    .bind(activity_id)
    .fetch_optional(db.reader())
    .await?
    .map(|r| (r.get(0), r.get(1))))
}

// ---------------------------------------------------------------- tasks

#[derive(Debug, Clone)]
pub struct TaskRow {
    pub id: String,
    pub party_org_id: String,
    pub org_name: String,
    pub title: String,
    pub description: String,
    pub open: bool,
    pub created_at: i64,
}

pub async fn insert_task(
    tx: &mut Tx,
    org: &OrgRow,
    title: &str,
    description: &str,
    by: &str,
    now: i64,
) -> AppResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO party_tasks (id, party_org_id, org_path, title, description, open, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, 1, $6, $7)",
    )
    .bind(&id)
    .bind(&org.id)
    .bind(org.org_path.as_str())
    .bind(title)
    .bind(description)
    .bind(by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

const TASK_SELECT: &str =
    "SELECT t.id, t.party_org_id, o.name AS org_name, t.title, t.description, t.open, t.created_at
    FROM party_tasks t JOIN party_orgs o ON o.id = t.party_org_id";

fn task_from(r: &AnyRow) -> TaskRow {
    TaskRow {
        id: r.get("id"),
        party_org_id: r.get("party_org_id"),
        org_name: r.get("org_name"),
        title: r.get("title"),
        description: r.get("description"),
        open: r.get::<i64, _>("open") != 0,
        created_at: r.get("created_at"),
    }
}

pub async fn get_task(db: &Db, id: &str) -> AppResult<Option<TaskRow>> {
    Ok(sqlx::query(&format!("{TASK_SELECT} WHERE t.id = $1"))
        .bind(id)
        .fetch_optional(db.reader())
        .await?
        .as_ref()
        .map(task_from))
}

pub async fn tasks_of(db: &Db, org_ids: &[String]) -> AppResult<Vec<TaskRow>> {
    if org_ids.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        "{TASK_SELECT} WHERE {} ORDER BY t.open DESC, t.created_at DESC LIMIT 500",
        in_list("t.party_org_id", org_ids.len(), 1)
    );
    let mut q = sqlx::query(&sql);
    for id in org_ids {
        q = q.bind(id.clone());
    }
    Ok(q.fetch_all(db.reader())
        .await?
        .iter()
        .map(task_from)
        .collect())
}

/// Claims a task for a member; false when already claimed.
pub async fn claim_task(tx: &mut Tx, task_id: &str, member_id: &str, now: i64) -> AppResult<bool> {
    let exists: i64 = sqlx::query(
        "SELECT COUNT(*) FROM party_task_members WHERE task_id = $1 AND member_id = $2",
    )
    .bind(task_id)
    .bind(member_id)
    .fetch_one(&mut **tx)
    .await?
    .get(0);
    if exists > 0 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO party_task_members (task_id, member_id, claimed_at) VALUES ($1, $2, $3)",
    )
    .bind(task_id)
    .bind(member_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(true)
}

pub async fn claims_of_tasks(db: &Db, task_ids: &[String]) -> AppResult<Vec<(String, String)>> {
    if task_ids.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        "SELECT task_id, member_id FROM party_task_members WHERE {} ORDER BY claimed_at",
        in_list("task_id", task_ids.len(), 1)
    );
    let mut q = sqlx::query(&sql);
    for id in task_ids {
        q = q.bind(id.clone());
    }
    Ok(q.fetch_all(db.reader())
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

pub async fn tasks_of_member(db: &Db, member_id: &str) -> AppResult<Vec<TaskRow>> {
    Ok(sqlx::query(&format!(
        "{TASK_SELECT} JOIN party_task_members c ON c.task_id = t.id WHERE c.member_id = $1 ORDER BY c.claimed_at DESC"
    ))
    .bind(member_id)
    .fetch_all(db.reader())
    .await?
    .iter()
    .map(task_from)
    .collect())
}

// ---------------------------------------------------------------- volunteer service

#[derive(Debug, Clone)]
pub struct ServiceRow {
    pub id: String,
    pub member_id: String,
    pub party_org_id: String,
    pub org_name: String,
    pub org_path: OrgPath,
    pub task_id: Option<String>,
    pub served_on: String,
    pub minutes: i64,
    pub description: String,
    pub status: VolunteerStatus,
    pub points: i64,
    pub channel: String,
    pub verified_at: Option<i64>,
    pub created_at: i64,
    pub version: i64,
}

const SERVICE_COLS: &str =
    "v.id, v.member_id, v.party_org_id, o.name AS org_name, v.org_path, v.task_id, v.served_on, \
v.minutes, v.description, v.status, v.points, v.channel, v.verified_at, v.created_at, v.version";
const SERVICE_FROM: &str = "party_volunteer v JOIN party_orgs o ON o.id = v.party_org_id";

fn service_from(r: &AnyRow) -> ServiceRow {
    ServiceRow {
        id: r.get("id"),
        member_id: r.get("member_id"),
        party_org_id: r.get("party_org_id"),
        org_name: r.get("org_name"),
        org_path: OrgPath::from_db(r.get("org_path")),
        task_id: opt_str(r, "task_id"),
        served_on: r.get("served_on"),
        minutes: r.get("minutes"),
        description: r.get("description"),
        status: VolunteerStatus::parse(&r.get::<String, _>("status"))
            .unwrap_or(VolunteerStatus::Pending),
        points: r.get("points"),
        channel: r.get("channel"),
        verified_at: opt_i64(r, "verified_at"),
        created_at: r.get("created_at"),
        version: r.get("version"),
    }
}

pub struct ServiceInsert<'a> {
    pub member_id: &'a str,
    pub org: &'a OrgRow,
    pub task_id: Option<&'a str>,
    pub served_on: &'a str,
    pub minutes: i64,
    pub description: &'a str,
    pub channel: &'a str,
    /// Staff who recorded it; none for the member's own report.
    pub recorded_by: Option<&'a str>,
}

pub async fn insert_service(tx: &mut Tx, s: &ServiceInsert<'_>, now: i64) -> AppResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO party_volunteer (id, member_id, party_org_id, org_path, task_id, served_on, minutes, description, status,
             points, channel, recorded_by, created_at, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, $9, $10, $11, 1)",
    )
    .bind(&id)
    .bind(s.member_id)
    .bind(&s.org.id)
    .bind(s.org.org_path.as_str())
    .bind(s.task_id)
    .bind(s.served_on)
    .bind(s.minutes)
    .bind(s.description)
    .bind(s.channel)
    .bind(s.recorded_by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

pub async fn get_service(db: &Db, id: &str) -> AppResult<Option<ServiceRow>> {
    Ok(sqlx::query(&format!(
        "SELECT {SERVICE_COLS} FROM {SERVICE_FROM} WHERE v.id = $1"
    ))
    .bind(id)
    .fetch_optional(db.reader())
    .await?
    .as_ref()
    .map(service_from))
}

/// Verifies or turns down a pending record (its version must be unchanged).
#[allow(clippy::too_many_arguments)]
pub async fn decide_service(
    tx: &mut Tx,
    id: &str,
    status: VolunteerStatus,
    points: i64,
    by: &str,
    expected: i64,
    now: i64,
) -> AppResult<()> {
    let n = sqlx::query(
        "UPDATE party_volunteer SET status = $1, points = $2, verified_by = $3, verified_at = $4, version = version + 1
         WHERE id = $5 AND version = $6 AND status = 'pending'",
    )
    .bind(status.as_str())
    .bind(points)
    .bind(by)
    .bind(now)
    .bind(id)
    .bind(expected)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(version_conflict());
    }
    Ok(())
}

#[derive(Debug, Default)]
pub struct ServiceFilter {
    /// Records done for one of these organisations …
    pub orgs: Vec<String>,
    /// … or by one of these members.
    pub members: Vec<String>,
    pub status: Option<VolunteerStatus>,
    /// Served in `[from, to]` (YYYY-MM-DD).
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: i64,
}

pub async fn list_service(db: &Db, f: &ServiceFilter) -> AppResult<Vec<ServiceRow>> {
    if f.orgs.is_empty() && f.members.is_empty() {
        return Ok(vec![]);
    }
    let mut n = 1;
    let mut ors = Vec::new();
    if !f.orgs.is_empty() {
        ors.push(in_list("v.party_org_id", f.orgs.len(), n + 1));
        n += f.orgs.len();
    }
    if !f.members.is_empty() {
        ors.push(in_list("v.member_id", f.members.len(), n + 1));
        n += f.members.len();
    }
    let mut and = String::new();
    if f.status.is_some() {
        n += 1;
        and.push_str(&format!(" AND v.status = ${n}"));
    }
    if f.from.is_some() {
        n += 1;
        and.push_str(&format!(" AND v.served_on >= ${n}"));
    }
    if f.to.is_some() {
        n += 1;
        and.push_str(&format!(" AND v.served_on <= ${n}"));
    }
    let sql = format!(
        "SELECT {SERVICE_COLS} FROM {SERVICE_FROM} WHERE ({}){and} ORDER BY v.served_on DESC, v.id DESC LIMIT $1",
        ors.join(" OR ")
    );
    let mut q = sqlx::query(&sql).bind(f.limit);
    for id in f.orgs.iter().chain(f.members.iter()) {
        q = q.bind(id.clone());
    }
    if let Some(s) = f.status {
        q = q.bind(s.as_str());
    }
    if let Some(x) = &f.from {
        q = q.bind(x.clone());
    }
    if let Some(x) = &f.to {
        q = q.bind(x.clone());
    }
    Ok(q.fetch_all(db.reader())
        .await?
        .iter()
        .map(service_from)
        .collect())
}

/// Verified minutes and points per member.
pub async fn service_totals(
    db: &Db,
    member_ids: &[String],
) -> AppResult<std::collections::HashMap<String, (i64, i64)>> {
    let mut out = std::collections::HashMap::new();
    for chunk in member_ids.chunks(500) {
        let sum = match db.backend() {
            kernel::Backend::Postgres => {
                "CAST(SUM(minutes) AS BIGINT), CAST(SUM(points) AS BIGINT)"
            }
            kernel::Backend::Sqlite => "SUM(minutes), SUM(points)",
        };
        let sql = format!(
            "SELECT member_id, {sum} FROM party_volunteer WHERE status = 'verified' AND {} GROUP BY member_id",
            in_list("member_id", chunk.len(), 1)
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(id.clone());
        }
        for r in q.fetch_all(db.reader()).await? {
            out.insert(
                r.get::<String, _>(0),
                (
                    r.try_get::<Option<i64>, _>(1).ok().flatten().unwrap_or(0),
                    r.try_get::<Option<i64>, _>(2).ok().flatten().unwrap_or(0),
                ),
            );
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- engagement in cases

#[derive(Debug, Clone)]
pub struct CaseRef {
    pub id: String,
    pub title: String,
    pub status: String,
    pub org_path: OrgPath,
}

/// Demands the user helped with: any step they took on a demand that is
/// not their own, or a demand they were assigned to (lead or co-unit).
pub async fn demands_helped(db: &Db, user_id: &str) -> AppResult<Vec<CaseRef>> {
    Ok(sqlx::query(
        "SELECT d.id, d.title, d.status, d.org_path FROM demands d
         WHERE d.id IN (
             SELECT e.demand_id FROM demand_events e WHERE e.actor_id = $1
             UNION SELECT a.demand_id FROM demand_assignees a WHERE a.user_id = $1)
           AND (d.reporter_user_id IS NULL OR d.reporter_user_id <> $1)
         ORDER BY d.updated_at DESC LIMIT 200",
    )
    .bind(user_id)
    .fetch_all(db.reader())
    .await?
    .iter()
    .map(|r| CaseRef {
        id: r.get(0),
        title: r.get(1),
        status: r.get(2),
        org_path: OrgPath::from_db(r.get(3)),
    })
    .collect())
}

/// Mediations the user sat on as a mediator.
pub async fn mediations_of(db: &Db, user_id: &str) -> AppResult<Vec<CaseRef>> {
    Ok(sqlx::query(
        "SELECT m.id, m.title, m.status, m.org_path FROM mediation_mediators mm
         JOIN mediations m ON m.id = mm.mediation_id WHERE mm.user_id = $1
         ORDER BY m.updated_at DESC LIMIT 200",
    )
    .bind(user_id)
    .fetch_all(db.reader())
    .await?
    .iter()
    .map(|r| CaseRef {
        id: r.get(0),
        title: r.get(1),
        status: r.get(2),
        org_path: OrgPath::from_db(r.get(3)),
    })
    .collect())
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

/// What a processed PIPL deletion (art. 47) leaves of a person's party
/// membership: the member rows found by their account or ID number stay
/// (branch statistics count them: mode, status, active, the floating
/// member's away-since date and last check-in time, attendance, service
/// hours), but every personal field is gone. The profile is re-encrypted
/// with the name replaced by `erased_name` and phone, ID number, dates of
/// joining, account, household, work unit, whereabouts and reasons
/// dropped; both blind indexes, the 党员中心户 flag and the 先锋岗 name are
/// cleared; check-in places and notes, transfer reasons and service
/// descriptions are overwritten. Returns how many member rows were erased.
pub async fn erase_person(
    tx: &mut Tx,
    cipher: &FieldCipher,
    user_id: &str,
    id_cards: &[String],
    erased_name: &str,
    anonymised_text: &str,
    now: i64,
) -> AppResult<u64> {
    let mut ids: Vec<String> = Vec::new();
    let mut probes = vec![("user_index", user_index(cipher, user_id))];
    for c in id_cards {
        probes.push(("id_card_index", id_card_index(cipher, c)));
    }
    for (col, value) in probes {
        for r in sqlx::query(&format!("SELECT id FROM party_members WHERE {col} = $1"))
            .bind(&value)
            .fetch_all(&mut **tx)
            .await?
        {
            let id: String = r.get(0);
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    for id in &ids {
        let enc: String = sqlx::query("SELECT profile_enc FROM party_members WHERE id = $1")
            .bind(id)
            .fetch_one(&mut **tx)
            .await?
            .get(0);
        let old: Profile = cipher
            .decrypt(&enc)
            .and_then(|s| serde_json::from_str(&s).ok())
            .ok_or_else(|| AppError::internal("a party member's profile cannot be decrypted"))?;
        let kept = Profile {
            name: erased_name.to_string(),
            phone: None,
            id_card: None,
            status: old.status,
            joined_on: None,
            full_on: None,
            user_id: None,
            household_id: None,
            work_unit: None,
            whereabouts: None,
            away_since: old.away_since,
            away_reason: None,
        };
        sqlx::query(
            "UPDATE party_members SET profile_enc = $2, id_card_index = NULL, user_index = NULL,
                central_household = 0, vanguard_post = NULL, updated_at = $3, version = version + 1
             WHERE id = $1",
        )
        .bind(id)
        .bind(encrypt_profile(cipher, &kept)?)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        let blank = serde_json::to_string(&CheckinDetail {
            place: anonymised_text.to_string(),
            note: None,
        })
        .map_err(AppError::internal)?;
        for r in sqlx::query("SELECT id FROM party_checkins WHERE member_id = $1")
            .bind(id)
            .fetch_all(&mut **tx)
            .await?
        {
            sqlx::query("UPDATE party_checkins SET detail_enc = $2 WHERE id = $1")
                .bind(r.get::<String, _>(0))
                .bind(cipher.encrypt(&blank))
                .execute(&mut **tx)
                .await?;
        }
        sqlx::query("UPDATE party_transfers SET reason_enc = NULL WHERE member_id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        sqlx::query("UPDATE party_volunteer SET description = $2 WHERE member_id = $1")
            .bind(id)
            .bind(anonymised_text)
            .execute(&mut **tx)
            .await?;
    }
    Ok(ids.len() as u64)
}
