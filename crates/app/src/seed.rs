//! `lianxin seed`: a realistic synthetic world written straight into the
//! database for load tests — the region tree under 吕梁市, households and
//! residents with fake but well-formed identities (encrypted and
//! blind-indexed as the org store does), staff with grants, a bounded sample
//! of resident accounts, and demands over several years with their
//! timelines, assignees and the rollups of their indicator counts.
//!
//! Deterministic: every id, name, number, time and nonce comes from one RNG
//! seeded with `--seed` and a fixed anchor date, never from the clock (only
//! the argon2 salt of the shared seed password is random).
//!
//! Fast: one generator thread turns the world into batches of typed row
//! values (all values are generated here), while the writer stores them. On
//! a SQLite file the writer is a bulk loader on its own connection
//! (`seed/sqlite.rs`): prepared statements through the C API, no fsync, no
//! foreign key checks, a large page cache, the journal off when the caller
//! owns the database (the CLI), and the loaded tables' secondary indexes
//! dropped before and rebuilt after; the file is back in WAL mode with every
//! index when the seed returns. A seed that fails midway leaves a file to
//! delete and seed again. PostgreSQL (and an in-memory SQLite) get the same
//! rows as multi-row INSERT statements in large transactions. The tree is
//! generated depth first, so the rollups of each node are complete when the
//! generator leaves it: they are written then, without a second pass over
//! the demands.

use cases::catalogue::Limits;
use cases::model::DemandStatus;
use cases::model::NewDemand;
use cases::rates::Counts;
use cases::store::{DemandRow, Filing, RatingRow};
use cases::workflow::Urgency;
use kernel::calendar::WorkingCalendar;
use kernel::crypto::FieldCipher;
use kernel::{AppError, AppResult, Db, OrgPath, Role};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::time::Instant;

mod sqlite;

/// The password of every seeded account.
pub const SEED_PASSWORD: &str = "lianxin-seed";
/// Resident accounts are created for at most this many residents (argon2
/// makes each login check costly; the bench needs a sample, not everyone).
pub const MAX_RESIDENT_ACCOUNTS: usize = 2_000;

const DAY_MS: i64 = 86_400_000;
const MIN_MS: i64 = 60_000;
/// The seeded world ends here (2026-11-01T00:00:00+08:00): a fixed instant,
/// so the same seed gives the same rows on any day.
pub const ANCHOR_MS: i64 = 1_793_462_400_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// One compound, about 2,000 residents.
    Compound,
    /// One street, about 60,000 residents; its district gets ~200k demands in the busiest year.
    Street,
    /// One district, about 400,000 residents.
    District,
    /// 吕梁市, 13 districts, about 3.4 million residents; one district gets ≥ 2 million demands in its busiest year.
    City,
}

/// The size of a profile.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub districts: usize,
    pub streets: usize,
    pub communities: usize,
    pub compounds: usize,
    /// Households per compound.
    pub households: usize,
    /// Years of history before the anchor, at the base rate.
    pub years: i64,
    /// Demands of the first district (离石区) in the busiest (last) year,
    /// including the base rate: the rest arrive through the 12345 hotline
    /// (channel open311). 0: base rate only.
    pub focus_year_demands: u64,
}

impl Profile {
    pub fn shape(self) -> Shape {
        match self {
            Profile::Compound => Shape {
                districts: 1,
                streets: 1,
                communities: 1,
                compounds: 1,
                households: 720,
                years: 3,
                focus_year_demands: 0,
            },
            Profile::Street => Shape {
                districts: 1,
                streets: 1,
                communities: 8,
                compounds: 4,
                households: 670,
                years: 3,
                focus_year_demands: 200_000,
            },
            Profile::District => Shape {
                districts: 1,
                streets: 7,
                communities: 7,
                compounds: 4,
                households: 730,
                years: 3,
                focus_year_demands: 800_000,
            },
            Profile::City => Shape {
                districts: 13,
                streets: 7,
                communities: 7,
                compounds: 4,
                households: 476,
                years: 3,
                focus_year_demands: 2_050_000,
            },
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Compound => "compound",
            Profile::Street => "street",
            Profile::District => "district",
            Profile::City => "city",
        }
    }
}

/// Base rate: demands per resident per year.
const BASE_RATE: f64 = 0.2;
/// Mean residents per household (the distribution below).
const MEAN_RESIDENTS: f64 = 2.85;

/// 吕梁市's districts and counties (GB/T 2260 codes).
const DISTRICTS: &[(&str, &str, bool)] = &[
    ("141102", "离石区", true),
    ("141181", "孝义市", true),
    ("141182", "汾阳市", true),
    ("141121", "文水县", false),
    ("141122", "交城县", false),
    ("141123", "兴县", false),
    ("141124", "临县", false),
    ("141125", "柳林县", false),
    ("141126", "石楼县", false),
    ("141127", "岚县", false),
    ("141128", "方山县", false),
    ("141129", "中阳县", false),
    ("141130", "交口县", false),
];

const STREET_NAMES: &[&str] = &[
    "城北",
    "莲花池",
    "滨河",
    "凤山",
    "田家会",
    "西属巴",
    "交口",
    "信义",
    "枣林",
];
const COMMUNITY_NAMES: &[&str] = &[
    "站前", "泛华", "龙凤", "永宁", "北川", "东关", "南关", "西关", "和平", "新华",
];
const COMPOUND_NAMES: &[&str] = &[
    "新城壹号",
    "泛华盛世",
    "御景园",
    "阳光家园",
    "凤山华府",
    "滨河湾",
    "锦绣苑",
    "金地花园",
    "翠微苑",
    "世纪城",
];
const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗", "梁", "宋", "郑", "谢", "韩", "唐", "冯", "于", "董", "萧", "程", "曹",
    "袁", "邓", "许", "傅", "沈", "曾", "彭", "吕", "樊", "雷", "白", "贾", "薛",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟",
    "涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英", "建国", "建华", "晓东", "一新", "福贵",
    "爱珍", "东平", "瑞霞", "晓燕", "婷", "华", "鹏", "宇", "欣怡", "子涵", "浩然", "梓轩",
];

/// (category, kind weight group): 求助 40%, 咨询 39%, 投诉 20%, 建议 1%,
/// mapped onto the catalogue's categories of the matching kind.
const CATEGORY_MIX: &[(&str, u32)] = &[
    // 求助 (repair and dispute kinds): 40
    ("leak", 10),
    ("elevator", 6),
    ("charging", 3),
    ("access", 5),
    ("public_facility", 10),
    ("neighbour_dispute", 6),
    // 咨询 (enquiry): 39
    ("property_fee", 39),
    // 投诉 (complaint): 20
    ("parking", 5),
    ("garbage", 4),
    ("noise", 5),
    ("sanitation", 6),
    // 建议 (suggestion): 1
    ("suggestion", 1),
];

fn texts(category: &str) -> (&'static str, &'static str) {
    match category {
        "leak" => ("卫生间漏水", "楼上卫生间渗水到我家天花板,请尽快安排维修。"),
        "elevator" => ("电梯故障", "单元电梯停运,老人上下楼困难,请尽快修复。"),
        "charging" => ("充电桩无法使用", "小区充电桩刷卡无反应,请检修。"),
        "access" => ("门禁失灵", "单元门禁刷卡打不开,请维修。"),
        "public_facility" => ("楼道灯不亮", "楼道声控灯坏了好几天,晚上出行不便。"),
        "neighbour_dispute" => ("邻里纠纷", "邻居长期占用楼道堆放杂物,协商未果,请调解。"),
        "property_fee" => ("物业费咨询", "想了解今年物业费的收费标准和缴费方式。"),
        "parking" => ("车位被占", "我的车位经常被外来车辆占用,请物业处理。"),
        "garbage" => ("垃圾清运不及时", "垃圾桶已满两天没人清运,气味很大。"),
        "noise" => ("夜间噪音扰民", "楼上夜间装修噪音很大,影响休息。"),
        "sanitation" => ("楼道卫生差", "楼道内有小广告和垃圾,请安排清扫。"),
        _ => (
            "建议增设休闲座椅",
            "建议在小区广场增设几张休闲座椅,方便老人休息。",
        ),
    }
}

/// What a seed wrote.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub profile: String,
    pub seed: u64,
    pub org_nodes: u64,
    pub residents: u64,
    pub users: u64,
    pub resident_accounts: u64,
    pub demands: u64,
    pub demand_events: u64,
    pub rollup_rows: u64,
    pub focus_district_busiest_year: u64,
    pub rows: u64,
    pub seconds: f64,
}

/// Logins of the seeded accounts (password [`SEED_PASSWORD`]).
pub fn resident_login(n: usize) -> String {
    format!("seed-r-{n:06}")
}

/// Writes the profile's world into an empty database (migrated already).
pub async fn run(
    db: &Db,
    cipher: &FieldCipher,
    profile: Profile,
    seed: u64,
    progress: bool,
) -> AppResult<Report> {
    run_with(db, false, cipher, profile, seed, progress).await
}

/// [`run`] for a caller that owns the database (the CLI): a SQLite file is
/// loaded with its journal switched off, which needs every other connection
/// closed, so `db` is closed for the load (and unusable after).
pub async fn run_exclusive(
    db: &Db,
    cipher: &FieldCipher,
    profile: Profile,
    seed: u64,
    progress: bool,
) -> AppResult<Report> {
    run_with(db, true, cipher, profile, seed, progress).await
}

async fn run_with(
    db: &Db,
    exclusive: bool,
    cipher: &FieldCipher,
    profile: Profile,
    seed: u64,
    progress: bool,
) -> AppResult<Report> {
    let started = Instant::now();
    let nodes: i64 = sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) FROM org_nodes")
            .fetch_one(db.reader())
            .await?,
        0,
    );
    if nodes > 0 {
        return Err(AppError::conflict(
            "not_empty",
            "数据库已有数据,seed 只写入空数据库 / the database is not empty",
        ));
    }
    // A SQLite file gets the bulk loader; PostgreSQL (and an in-memory
    // SQLite) the multi-row INSERT statements.
    let sqlite_file = if db.backend() == kernel::Backend::Sqlite {
        let rows = sqlx::query("PRAGMA database_list")
            .fetch_all(db.reader())
            .await?;
        rows.iter()
            .find(|r| sqlx::Row::get::<String, _>(*r, 1) == "main")
            .map(|r| sqlx::Row::get::<String, _>(r, 2))
            .filter(|f| !f.is_empty())
    } else {
        None
    };
    let password_hash =
        tokio::task::spawn_blocking(|| accounts::model::hash_password(SEED_PASSWORD))
            .await
            .map_err(AppError::internal)?;
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Batch>(4);
    let gen_cipher = cipher.clone();
    let generator = std::thread::spawn(move || {
        let mut g = Generator::new(profile, seed, gen_cipher, password_hash, sender);
        g.world();
        g.finish()
    });
    let mut meter = Meter {
        profile,
        progress,
        started,
        last_print: Instant::now(),
        written: 0,
    };

    let mut reopened: Option<Db> = None;
    let sqlite_file_loaded = sqlite_file.is_some();
    let written = match sqlite_file {
        Some(path) => {
            if exclusive {
                db.close().await;
            }
            let file = path.clone();
            let loaded = tokio::task::spawn_blocking(move || {
                let r = load_sqlite(&path, exclusive, &mut receiver, &mut meter);
                // Stop the generator if the load failed.
                drop(receiver);
                r.map(|()| meter.written)
            })
            .await
            .map_err(AppError::internal)?;
            let n = match loaded {
                Ok(n) => n,
                Err(e) => {
                    let _ = generator.join();
                    return Err(e);
                }
            };
            if exclusive {
                reopened = Some(crate::open_database(&format!("sqlite://{file}")).await?);
            }
            n
        }
        None => {
            let mut tx = db.begin().await?;
            let mut in_tx: u64 = 0;
            while let Some(batch) = receiver.recv().await {
                let mut sql = String::with_capacity(8 << 20);
                for t in &batch.tables {
                    t.to_sql(1_000, &mut sql);
                }
                sqlx::raw_sql(&sql).execute(&mut *tx).await?;
                in_tx += batch.rows;
                if in_tx >= 400_000 {
                    tx.commit().await?;
                    tx = db.begin().await?;
                    in_tx = 0;
                }
                meter.wrote(&batch);
            }
            tx.commit().await?;
            meter.written
        }
    };
    let mut report = generator
        .join()
        .map_err(|_| AppError::internal("the seed generator panicked"))?;
    let db = reopened.as_ref().unwrap_or(db);
    let mut tx = db.begin().await?;
    kernel::audit::record(
        &mut tx,
        db.backend(),
        kernel::audit::AuditEntry {
            at_ms: ANCHOR_MS,
            actor_id: None,
            action: "seed.run",
            object_type: "database",
            object_id: None,
            org_path: None,
            detail: serde_json::json!({
                "profile": profile.as_str(),
                "seed": seed,
                "residents": report.residents,
                "demands": report.demands,
            }),
            ip: None,
        },
    )
    .await?;
    tx.commit().await?;
    if sqlite_file_loaded {
        // The loader analysed its tables before the audit row existed.
        sqlx::raw_sql("ANALYZE audit_events")
            .execute(db.writer())
            .await?;
    } else {
        if progress {
            eprintln!("[seed {}] analysing the tables…", profile.as_str());
        }
        // Fresh statistics, so the planners pick the indexes for the new
        // sizes.
        sqlx::raw_sql("ANALYZE").execute(db.writer()).await?;
    }
    if let Some(db) = &reopened {
        db.close().await;
    }
    report.rows = written;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Counts written rows and prints progress every two seconds.
struct Meter {
    profile: Profile,
    progress: bool,
    started: Instant,
    last_print: Instant,
    written: u64,
}

impl Meter {
    fn wrote(&mut self, batch: &Batch) {
        self.written += batch.rows;
        if self.progress && self.last_print.elapsed().as_secs_f64() >= 2.0 {
            self.last_print = Instant::now();
            let secs = self.started.elapsed().as_secs_f64();
            eprintln!(
                "[seed {}] {} · {} rows · {:.0} rows/s · {:.0}s",
                self.profile.as_str(),
                batch.phase,
                self.written,
                self.written as f64 / secs,
                secs
            );
        }
    }

    fn say(&self, what: &str) {
        if self.progress {
            eprintln!(
                "[seed {}] {what} · {:.1}s",
                self.profile.as_str(),
                self.started.elapsed().as_secs_f64()
            );
        }
    }
}

/// The SQLite bulk load, on a blocking thread: bulk-load settings, the
/// loaded tables' secondary indexes dropped, every batch through prepared
/// statements in large transactions, the indexes rebuilt, fresh statistics,
/// and the server's settings (WAL) back.
fn load_sqlite(
    path: &str,
    exclusive: bool,
    receiver: &mut tokio::sync::mpsc::Receiver<Batch>,
    meter: &mut Meter,
) -> AppResult<()> {
    let mut conn = sqlite::Conn::open(path, SQLITE_CACHE_MIB, exclusive)?;
    let journal = conn.journal_mode()?;
    meter.say(&format!("bulk load into {path} (journal {journal})"));
    // Every commit writes out every page dirtied since the last one, and
    // inserts into the id indexes dirty pages all over them: without a
    // journal there is nothing to bound, so the load is one transaction;
    // with the WAL (a live server) it is committed every 2 million rows.
    let commit_every = if journal == "off" {
        u64::MAX
    } else {
        2_000_000
    };
    conn.drop_indexes()?;
    conn.exec("BEGIN")?;
    let mut in_tx: u64 = 0;
    while let Some(batch) = receiver.blocking_recv() {
        conn.write(&batch)?;
        in_tx += batch.rows;
        if in_tx >= commit_every {
            conn.exec("COMMIT; BEGIN")?;
            in_tx = 0;
        }
        meter.wrote(&batch);
    }
    conn.exec("COMMIT")?;
    // Fresh statistics, so the planner picks the indexes for the new sizes:
    // each index analysed while it is cached (one ANALYZE at the end read a
    // city file larger than RAM back from disk: ~200 s), the primary keys
    // first, from the load's page cache.
    conn.analyze_kept_indexes(|what| meter.say(what))?;
    // The index builds need little page cache: the table pages stream
    // through the OS cache, and sort memory of 16, 64 or 512 MiB built the
    // street indexes equally fast (measured).
    conn.exec("PRAGMA cache_size = -16384")?;
    conn.rebuild_indexes(|what| meter.say(what))?;
    conn.analyze_other_tables()?;
    conn.restore_journal()?;
    Ok(())
}

/// The page cache of the SQLite loader's connection, in MiB: index builds
/// and inserts that land all over the B-trees stay in memory.
const SQLITE_CACHE_MIB: i64 = 4096;

/// One round of generated rows, every table's, with a phase label.
pub(crate) struct Batch {
    tables: Vec<TableRows>,
    rows: u64,
    phase: String,
}

/// One column value of a generated row; text lives in the table's arena.
#[derive(Clone, Copy)]
pub(crate) enum Val {
    Null,
    Int(i64),
    /// Byte range in [`TableRows::text`].
    Text(u32, u32),
}

/// One table's generated rows: `cols` values a row, row after row.
pub(crate) struct TableRows {
    /// `INSERT INTO t (columns)`, without the values.
    insert: &'static str,
    cols: usize,
    text: String,
    vals: Vec<Val>,
    rows: u64,
}

impl TableRows {
    /// Multi-row INSERT statements with literal values (text quoted), at
    /// most `per_statement` rows each: for the backends the bulk loader
    /// does not serve (PostgreSQL, an in-memory SQLite).
    fn to_sql(&self, per_statement: usize, sql: &mut String) {
        for chunk in self.vals.chunks(self.cols * per_statement) {
            sql.push_str(self.insert);
            sql.push_str(" VALUES ");
            for (r, row) in chunk.chunks_exact(self.cols).enumerate() {
                if r > 0 {
                    sql.push(',');
                }
                sql.push('(');
                for (i, v) in row.iter().enumerate() {
                    if i > 0 {
                        sql.push(',');
                    }
                    match *v {
                        Val::Null => sql.push_str("NULL"),
                        Val::Int(n) => {
                            let _ = write!(sql, "{n}");
                        }
                        Val::Text(a, b) => {
                            sql.push('\'');
                            for c in self.text[a as usize..b as usize].chars() {
                                if c == '\'' {
                                    sql.push('\'');
                                }
                                sql.push(c);
                            }
                            sql.push('\'');
                        }
                    }
                }
                sql.push(')');
            }
            sql.push_str(";\n");
        }
    }
}

/// One table's pending rows.
struct Table {
    insert: &'static str,
    cols: usize,
    text: String,
    vals: Vec<Val>,
    rows: u64,
}

impl Table {
    fn new(insert: &'static str) -> Self {
        let (_, cols) = insert.split_once('(').expect("INSERT INTO t (columns)");
        Table {
            insert,
            cols: cols.split(',').count(),
            text: String::new(),
            vals: Vec::new(),
            rows: 0,
        }
    }

    fn row(&mut self) -> Row<'_> {
        self.rows += 1;
        let start = self.vals.len();
        Row { t: self, start }
    }

    fn take(&mut self) -> TableRows {
        let rows = std::mem::take(&mut self.rows);
        let (text_cap, vals_cap) = (self.text.capacity(), self.vals.capacity());
        TableRows {
            insert: self.insert,
            cols: self.cols,
            text: std::mem::replace(&mut self.text, String::with_capacity(text_cap)),
            vals: std::mem::replace(&mut self.vals, Vec::with_capacity(vals_cap)),
            rows,
        }
    }
}

/// Appends one row's values; checks the column count when dropped.
struct Row<'a> {
    t: &'a mut Table,
    start: usize,
}

impl Row<'_> {
    fn text(self, v: &str) -> Self {
        let a = self.t.text.len() as u32;
        self.t.text.push_str(v);
        let b = self.t.text.len() as u32;
        self.t.vals.push(Val::Text(a, b));
        self
    }
    fn opt_text(self, v: Option<&str>) -> Self {
        match v {
            Some(v) => self.text(v),
            None => self.null(),
        }
    }
    fn int(self, v: i64) -> Self {
        self.t.vals.push(Val::Int(v));
        self
    }
    fn opt_int(self, v: Option<i64>) -> Self {
        match v {
            Some(v) => self.int(v),
            None => self.null(),
        }
    }
    fn null(self) -> Self {
        self.t.vals.push(Val::Null);
        self
    }
}

impl Drop for Row<'_> {
    fn drop(&mut self) {
        debug_assert_eq!(
            self.t.vals.len() - self.start,
            self.t.cols,
            "{}",
            self.t.insert
        );
    }
}

/// Filings by (Shanghai day, category, channel).
type Filings = BTreeMap<(i64, String, String), i64>;

/// What one open level of the tree (city … household) has counted so far:
/// its rollup rows, written when the level is left and then added to its
/// parent's.
#[derive(Default)]
struct Level {
    path: String,
    counts: BTreeMap<i64, Counts>,
    filings: Filings,
    /// Open demands by the day of their feedback deadline.
    open: BTreeMap<i64, cases::rollup::OpenCounts>,
}

/// Tables in the order their rows must be written (parents first).
struct Tables {
    nodes: Table,
    users: Table,
    residents: Table,
    grants: Table,
    demands: Table,
    assignees: Table,
    events: Table,
    rollups: Table,
    filings: Table,
    monthly: Table,
    open: Table,
}

impl Tables {
    fn new() -> Self {
        Tables {
            nodes: Table::new("INSERT INTO org_nodes (id, parent_id, kind, code, name, org_path, created_at, updated_at, version)"),
            users: Table::new("INSERT INTO users (id, login_index, login_masked, login_enc, display_name, password_hash, active, created_at, updated_at)"),
            residents: Table::new("INSERT INTO residents (id, household_id, org_path, name, phone_enc, phone_index, id_card_enc, id_card_index, tenure, relation, user_id, created_at, updated_at)"),
            grants: Table::new("INSERT INTO role_grants (id, user_id, role, org_id, org_path, granted_by, created_at)"),
            demands: Table::new("INSERT INTO demands (id, org_path, household_id, building_id, category, title, description, location, anonymous, channel, status, reporter_user_id, created_by, created_at, updated_at, version, \
                urgency, assignee_user_id, dispatch_deadline, feedback_deadline, dispatched_at, resolved_at, closed_at, closed_on_time, rework_count, escalation_level, escalated_to, overdue, support_count, \
                rated_at, rating_contacted, rating_resolved, rating_satisfaction, rating_comment, rating_source, rated_by)"),
            assignees: Table::new("INSERT INTO demand_assignees (demand_id, user_id, lead, added_at)"),
            events: Table::new("INSERT INTO demand_events (id, demand_id, at_ms, actor_id, action, from_status, to_status, note, detail)"),
            rollups: Table::new("INSERT INTO demand_rollups (node_path, day, rated, contacted, resolved, satisfied, due, suspended, closed, closed_on_time, handled, rework, fed_back_late, escalated)"),
            filings: Table::new("INSERT INTO demand_filings (node_path, day, category, channel, n)"),
            monthly: Table::new("INSERT INTO demand_filings_monthly (node_path, month, category, channel, n)"),
            open: Table::new("INSERT INTO demand_open (node_path, day, open, overdue, escalated, awaiting_feedback)"),
        }
    }

    fn pending(&self) -> u64 {
        self.nodes.rows
            + self.users.rows
            + self.residents.rows
            + self.grants.rows
            + self.demands.rows
            + self.assignees.rows
            + self.events.rows
            + self.rollups.rows
            + self.filings.rows
            + self.monthly.rows
            + self.open.rows
    }

    fn drain(&mut self) -> (Vec<TableRows>, u64) {
        let mut out = Vec::with_capacity(11);
        let mut n = 0;
        for t in [
            &mut self.nodes,
            &mut self.users,
            &mut self.residents,
            &mut self.grants,
            &mut self.demands,
            &mut self.assignees,
            &mut self.events,
            &mut self.rollups,
            &mut self.filings,
            &mut self.monthly,
            &mut self.open,
        ] {
            if t.rows > 0 {
                n += t.rows;
                out.push(t.take());
            }
        }
        (out, n)
    }
}

#[derive(Clone)]
struct Node {
    id: String,
    path: OrgPath,
}

/// Staff of one compound and above who act on its demands.
struct Staff {
    butler: String,
    manager: String,
    community: String,
    street: String,
    hotline: String,
}

struct Generator {
    rng: StdRng,
    cipher: FieldCipher,
    password_hash: String,
    shape: Shape,
    sender: tokio::sync::mpsc::Sender<Batch>,
    t: Tables,
    calendar: WorkingCalendar,
    report: Report,
    /// Id numbers handed out per (district code, birth day) — GB 11643's
    /// 3-digit sequence must not repeat.
    id_seq: HashMap<(u32, i64), u16>,
    phone_seq: u64,
    /// Every `account_stride`-th household's first resident gets an account.
    account_stride: usize,
    households_seen: usize,
    /// Per level of the current path (city … household): its path and counts by day.
    /// Per open level: its path, its counts by day and its filings by
    /// (day, category, channel).
    rollup_stack: Vec<Level>,
    /// Extra demands per resident in the last year of the focus district.
    focus_rate: f64,
    phase: String,
    /// A creation clock for ids: ids are UUIDv7 from generated instants.
    id_clock: i64,
    categories: Vec<(&'static str, u32)>,
    category_total: u32,
    /// The writer went away (it failed): stop generating.
    stopped: bool,
}

impl Generator {
    fn new(
        profile: Profile,
        seed: u64,
        cipher: FieldCipher,
        password_hash: String,
        sender: tokio::sync::mpsc::Sender<Batch>,
    ) -> Self {
        let shape = profile.shape();
        let households_total = shape.districts
            * shape.streets
            * shape.communities
            * shape.compounds
            * shape.households;
        let focus_residents =
            (shape.streets * shape.communities * shape.compounds * shape.households) as f64
                * MEAN_RESIDENTS;
        let focus_rate = if shape.focus_year_demands == 0 {
            0.0
        } else {
            (shape.focus_year_demands as f64 / focus_residents - BASE_RATE).max(0.0) * 1.01
        };
        Generator {
            rng: StdRng::seed_from_u64(seed),
            cipher,
            password_hash,
            shape,
            sender,
            t: Tables::new(),
            calendar: WorkingCalendar::china_default(),
            report: Report {
                profile: profile.as_str().into(),
                seed,
                ..Default::default()
            },
            id_seq: HashMap::new(),
            phone_seq: 0,
            account_stride: (households_total / MAX_RESIDENT_ACCOUNTS).max(1),
            households_seen: 0,
            rollup_stack: Vec::new(),
            focus_rate,
            phase: "start".into(),
            id_clock: ANCHOR_MS - (shape.years + 1) * 365 * DAY_MS,
            categories: CATEGORY_MIX.to_vec(),
            category_total: CATEGORY_MIX.iter().map(|c| c.1).sum(),
            stopped: false,
        }
    }

    /// A UUIDv7 for an instant, its random bits from the seeded RNG.
    fn id_at(&mut self, ms: i64) -> String {
        let bytes: [u8; 10] = self.rng.gen();
        uuid::Builder::from_unix_timestamp_millis(ms.max(0) as u64, &bytes)
            .into_uuid()
            .to_string()
    }

    /// An id for a row with no natural time (tree, people): time-ordered in
    /// generation order, so B-tree inserts stay near the right edge.
    fn next_id(&mut self) -> String {
        self.id_clock += 1;
        let at = self.id_clock;
        self.id_at(at)
    }

    fn encrypt(&mut self, plaintext: &str) -> String {
        let nonce: [u8; 12] = self.rng.gen();
        self.cipher.encrypt_with_nonce(plaintext, nonce)
    }

    fn maybe_flush(&mut self) {
        if self.t.pending() >= 20_000 {
            self.flush();
        }
    }

    fn flush(&mut self) {
        let (tables, rows) = self.t.drain();
        if rows == 0 {
            return;
        }
        // The receiver only goes away when the writer failed; its error is
        // reported there, and generating the rest would be wasted.
        if self
            .sender
            .blocking_send(Batch {
                tables,
                rows,
                phase: self.phase.clone(),
            })
            .is_err()
        {
            self.stopped = true;
        }
    }

    fn finish(mut self) -> Report {
        self.flush();
        self.report
    }

    fn node(&mut self, parent: Option<&Node>, kind: &str, code: &str, name: &str) -> Node {
        let id = self.next_id();
        let path = match parent {
            Some(p) => p.path.child(code),
            None => OrgPath::root().child(code),
        };
        self.t
            .nodes
            .row()
            .text(&id)
            .opt_text(parent.map(|p| p.id.as_str()))
            .text(kind)
            .text(code)
            .text(name)
            .text(path.as_str())
            .int(ANCHOR_MS - (self.shape.years + 1) * 365 * DAY_MS)
            .int(ANCHOR_MS - (self.shape.years + 1) * 365 * DAY_MS)
            .int(1);
        self.report.org_nodes += 1;
        Node { id, path }
    }

    fn user(&mut self, login: &str, display_name: &str) -> String {
        let id = self.next_id();
        let normalized = accounts::model::normalize_login(login);
        let index = self.cipher.blind_index("login", &normalized);
        let enc = self.encrypt(&normalized);
        let hash = self.password_hash.clone();
        let at = ANCHOR_MS - (self.shape.years + 1) * 365 * DAY_MS;
        self.t
            .users
            .row()
            .text(&id)
            .text(&index)
            .text(&accounts::model::masked_login(&normalized))
            .text(&enc)
            .text(display_name)
            .text(&hash)
            .int(1)
            .int(at)
            .int(at);
        self.report.users += 1;
        id
    }

    fn grant(&mut self, user: &str, role: Role, at: &Node) {
        let id = self.next_id();
        self.t
            .grants
            .row()
            .text(&id)
            .text(user)
            .text(role.as_str())
            .text(&at.id)
            .text(at.path.as_str())
            .null()
            .int(ANCHOR_MS - (self.shape.years + 1) * 365 * DAY_MS);
    }

    fn staff(&mut self, login: &str, name: &str, role: Role, at: &Node) -> String {
        let id = self.user(login, name);
        self.grant(&id, role, at);
        id
    }

    /// A GB 11643 number: district code, birth date, a sequence unique per
    /// (district, day), and the check character.
    fn id_card(&mut self, district: u32) -> String {
        // Born 1940-01-01 … 2020-12-31.
        let base = chrono::NaiveDate::from_ymd_opt(1940, 1, 1).expect("date");
        loop {
            let day = self.rng.gen_range(0..29_585i64);
            let seq = self.id_seq.entry((district, day)).or_insert(0);
            if *seq >= 999 {
                continue;
            }
            *seq += 1;
            let birth = base + chrono::Duration::days(day);
            let body = format!("{district:06}{}{:03}", birth.format("%Y%m%d"), *seq);
            let check = gb11643_check(body.as_bytes());
            return format!("{body}{}", check as char);
        }
    }

    /// Fake mobile numbers: 138 0000 0000 upwards, one per resident.
    fn phone(&mut self) -> String {
        let n = self.phone_seq;
        self.phone_seq += 1;
        format!("13{}{:08}", 8 + (n / 100_000_000) % 2, n % 100_000_000)
    }

    fn world(&mut self) {
        let shape = self.shape;
        let city = self.node(None, "city", "141100", "吕梁市");
        self.push_level(&city);
        let hotline = self.staff("seed-hotline", "12345热线接入", Role::CityAdmin, &city);
        let _ = self.staff("seed-city", "吕梁市 管理员", Role::CityAdmin, &city);
        for (di, (dcode, dname, urban)) in DISTRICTS.iter().take(shape.districts).enumerate() {
            self.phase = format!("district {}/{} {dname}", di + 1, shape.districts);
            let district = self.node(Some(&city), "district", dcode, dname);
            self.push_level(&district);
            self.staff(
                &format!("seed-district-{dcode}"),
                &format!("{dname} 管理员"),
                Role::DistrictAdmin,
                &district,
            );
            let dnum: u32 = dcode.parse().expect("numeric code");
            for si in 0..shape.streets {
                let scode = format!("{dcode}{:03}", si + 1);
                let sname = if *urban {
                    format!("{}街道", STREET_NAMES[si % STREET_NAMES.len()])
                } else {
                    format!("{}镇", STREET_NAMES[si % STREET_NAMES.len()])
                };
                let street = self.node(
                    Some(&district),
                    if *urban { "street" } else { "township" },
                    &scode,
                    &sname,
                );
                self.push_level(&street);
                let street_admin = self.staff(
                    &format!("seed-street-{scode}"),
                    &format!("{sname} 管理员"),
                    Role::StreetAdmin,
                    &street,
                );
                for ci in 0..shape.communities {
                    let ccode = format!("{scode}{:03}", ci + 1);
                    let cname = format!("{}社区", COMMUNITY_NAMES[ci % COMMUNITY_NAMES.len()]);
                    let community = self.node(Some(&street), "community", &ccode, &cname);
                    self.push_level(&community);
                    let community_staff = self.staff(
                        &format!("seed-community-{ccode}"),
                        &format!("{cname} 工作人员"),
                        Role::CommunityStaff,
                        &community,
                    );
                    for ki in 0..shape.compounds {
                        let kcode = format!("C{:02}", ki + 1);
                        let kname = format!(
                            "{}小区",
                            COMPOUND_NAMES[(ci * shape.compounds + ki) % COMPOUND_NAMES.len()]
                        );
                        let compound = self.node(Some(&community), "compound", &kcode, &kname);
                        self.push_level(&compound);
                        let tag = format!("{ccode}-{kcode}").to_lowercase();
                        let butler = self.staff(
                            &format!("seed-butler-{tag}"),
                            &format!("{kname} 楼宇管家"),
                            Role::Butler,
                            &compound,
                        );
                        let manager = self.staff(
                            &format!("seed-property-{tag}"),
                            &format!("{kname} 物业经理"),
                            Role::PropertyManager,
                            &compound,
                        );
                        let staff = Staff {
                            butler,
                            manager,
                            community: community_staff.clone(),
                            street: street_admin.clone(),
                            hotline: hotline.clone(),
                        };
                        let focus = di == 0 && shape.focus_year_demands > 0;
                        self.compound(&compound, dnum, &staff, focus);
                        self.pop_level();
                    }
                    self.pop_level();
                }
                self.pop_level();
            }
            self.pop_level();
        }
        self.pop_level();
    }

    fn push_level(&mut self, n: &Node) {
        self.rollup_stack.push(Level {
            path: n.path.as_str().to_string(),
            ..Default::default()
        });
    }

    /// Leaves a node: writes its rollup rows and adds its counts to its parent's.
    fn pop_level(&mut self) {
        let Level {
            path,
            counts,
            filings,
            open,
        } = self.rollup_stack.pop().expect("balanced levels");
        for (day, c) in &counts {
            self.t
                .rollups
                .row()
                .text(&path)
                .int(*day)
                .int(c.rated)
                .int(c.contacted)
                .int(c.resolved)
                .int(c.satisfied)
                .int(c.due)
                .int(c.suspended)
                .int(c.closed)
                .int(c.closed_on_time)
                .int(c.handled)
                .int(c.rework)
                .int(c.fed_back_late)
                .int(c.escalated);
            self.report.rollup_rows += 1;
        }
        let mut monthly: BTreeMap<(i64, &str, &str), i64> = BTreeMap::new();
        for ((day, category, channel), n) in &filings {
            self.t
                .filings
                .row()
                .text(&path)
                .int(*day)
                .text(category)
                .text(channel)
                .int(*n);
            *monthly
                .entry((cases::rollup::month_of(*day), category, channel))
                .or_default() += n;
            self.report.rollup_rows += 1;
        }
        for ((month, category, channel), n) in monthly {
            self.t
                .monthly
                .row()
                .text(&path)
                .int(month)
                .text(category)
                .text(channel)
                .int(n);
            self.report.rollup_rows += 1;
        }
        for (day, c) in &open {
            self.t
                .open
                .row()
                .text(&path)
                .int(*day)
                .int(c.open)
                .int(c.overdue)
                .int(c.escalated)
                .int(c.awaiting_feedback);
            self.report.rollup_rows += 1;
        }
        if let Some(parent) = self.rollup_stack.last_mut() {
            for (day, c) in counts {
                parent.counts.entry(day).or_default().add(&c);
            }
            for (k, n) in filings {
                *parent.filings.entry(k).or_default() += n;
            }
            for (day, c) in open {
                parent.open.entry(day).or_default().add(&c);
            }
        }
        self.maybe_flush();
    }

    fn count(&mut self, day: i64, c: &Counts) {
        if let Some(top) = self.rollup_stack.last_mut() {
            top.counts.entry(day).or_default().add(c);
        }
    }

    fn count_filing(&mut self, day: i64, category: &str, channel: &str) {
        if let Some(top) = self.rollup_stack.last_mut() {
            *top.filings
                .entry((day, category.to_string(), channel.to_string()))
                .or_default() += 1;
        }
    }

    fn count_open(&mut self, row: &cases::store::DemandRow) {
        if let Some((day, c)) = cases::rollup::open_contribution(row) {
            if let Some(top) = self.rollup_stack.last_mut() {
                top.open.entry(day).or_default().add(&c);
            }
        }
    }

    fn compound(&mut self, compound: &Node, district: u32, staff: &Staff, focus: bool) {
        if self.stopped {
            return;
        }
        // Buildings of 2 entrances × 6 floors × 2 flats.
        let per_building = 24;
        let buildings = self.shape.households.div_ceil(per_building);
        let mut left = self.shape.households;
        for b in 0..buildings {
            let building = self.node(
                Some(compound),
                "building",
                &format!("B{}", b + 1),
                &format!("{}号楼", b + 1),
            );
            self.push_level(&building);
            for e in 0..2 {
                if left == 0 {
                    break;
                }
                let entrance = self.node(
                    Some(&building),
                    "entrance",
                    &format!("U{}", e + 1),
                    &format!("{}单元", e + 1),
                );
                self.push_level(&entrance);
                'floors: for floor in 1..=6 {
                    for flat in 1..=2 {
                        if left == 0 {
                            break 'floors;
                        }
                        left -= 1;
                        let room = format!("{floor}{flat:02}");
                        let home =
                            self.node(Some(&entrance), "household", &room, &format!("{room}室"));
                        self.push_level(&home);
                        self.household(&home, &building, district, staff, focus);
                        self.pop_level();
                    }
                }
                self.pop_level();
            }
            self.pop_level();
        }
    }

    fn household(
        &mut self,
        home: &Node,
        building: &Node,
        district: u32,
        staff: &Staff,
        focus: bool,
    ) {
        let size = match self.rng.gen_range(0..100) {
            0..=14 => 1,
            15..=39 => 2,
            40..=69 => 3,
            70..=89 => 4,
            _ => 5,
        };
        self.households_seen += 1;
        let with_account = (self.households_seen - 1).is_multiple_of(self.account_stride)
            && (self.report.resident_accounts as usize) < MAX_RESIDENT_ACCOUNTS;
        let surname = SURNAMES[self.rng.gen_range(0..SURNAMES.len())];
        let mut account: Option<String> = None;
        for i in 0..size {
            let given = GIVEN[self.rng.gen_range(0..GIVEN.len())];
            let name = format!("{surname}{given}");
            let id_card = self.id_card(district);
            let phone = if i < 2 { Some(self.phone()) } else { None };
            let user_id = if i == 0 && with_account {
                self.report.resident_accounts += 1;
                let login = resident_login(self.report.resident_accounts as usize);
                let uid = self.user(&login, &name);
                self.grant(&uid, Role::Resident, home);
                account = Some(uid.clone());
                Some(uid)
            } else {
                None
            };
            let id = self.next_id();
            let phone_enc = phone.as_deref().map(|p| self.encrypt(p));
            let phone_index = phone
                .as_deref()
                .map(|p| self.cipher.blind_index("phone", p));
            let id_enc = self.encrypt(&id_card);
            let id_index = self.cipher.blind_index("id_card", &id_card);
            let tenure = if self.rng.gen_bool(0.8) {
                "owner"
            } else {
                "tenant"
            };
            let relation = match i {
                0 => "户主",
                1 => "配偶",
                2 | 3 => "子女",
                _ => "父母",
            };
            let at = ANCHOR_MS - (self.shape.years + 1) * 365 * DAY_MS;
            self.t
                .residents
                .row()
                .text(&id)
                .text(&home.id)
                .text(home.path.as_str())
                .text(&name)
                .opt_text(phone_enc.as_deref())
                .opt_text(phone_index.as_deref())
                .text(&id_enc)
                .text(&id_index)
                .text(tenure)
                .text(relation)
                .opt_text(user_id.as_deref())
                .int(at)
                .int(at);
            self.report.residents += 1;
        }
        // Demands: the base rate over the years, plus the hotline's share
        // in the focus district's last year.
        let years = self.shape.years;
        let base = poisson(&mut self.rng, BASE_RATE * size as f64 * years as f64);
        let extra = if focus {
            poisson(&mut self.rng, self.focus_rate * size as f64)
        } else {
            0
        };
        let span = years * 365 * DAY_MS;
        let mut filed: Vec<(i64, bool)> = Vec::with_capacity((base + extra) as usize);
        for _ in 0..base {
            filed.push((ANCHOR_MS - self.rng.gen_range(1..span), false));
        }
        for _ in 0..extra {
            filed.push((ANCHOR_MS - self.rng.gen_range(1..365 * DAY_MS), true));
        }
        filed.sort_unstable();
        for (at, hotline) in filed {
            if focus && at >= ANCHOR_MS - 365 * DAY_MS {
                self.report.focus_district_busiest_year += 1;
            }
            self.demand(home, building, staff, account.as_deref(), at, hotline);
        }
        self.maybe_flush();
    }

    fn pick_category(&mut self) -> &'static str {
        let mut x = self.rng.gen_range(0..self.category_total);
        for (code, w) in &self.categories {
            if x < *w {
                return code;
            }
            x -= *w;
        }
        "suggestion"
    }

    #[allow(clippy::too_many_arguments)]
    fn demand(
        &mut self,
        home: &Node,
        building: &Node,
        staff: &Staff,
        account: Option<&str>,
        created: i64,
        hotline: bool,
    ) {
        let category = self.pick_category();
        let urgency = cases::catalogue::DEFAULTS
            .iter()
            .find(|c| c.0 == category)
            .map(|c| c.5)
            .unwrap_or(Urgency::Normal);
        let limits = Limits::default_for(urgency);
        let basis = limits.basis();
        let id = self.id_at(created);
        let (title, description) = texts(category);
        let (channel, created_by, reporter) = if hotline {
            ("open311", staff.hotline.as_str(), None)
        } else if let Some(a) = account {
            if self.rng.gen_bool(0.7) {
                ("web", a, Some(a))
            } else {
                ("phone", staff.community.as_str(), Some(a))
            }
        } else if self.rng.gen_bool(0.15) {
            ("grid", staff.community.as_str(), None)
        } else {
            ("phone", staff.community.as_str(), None)
        };
        let dispatch_deadline = self
            .calendar
            .deadline(created, limits.dispatch_minutes, basis);

        // The whole life, then cut at the anchor: later steps have not happened yet.
        let mut steps: Vec<Step> = Vec::with_capacity(9);
        let mut t = created;
        steps.push(Step::new("submit", None, "submitted", t, Some(created_by)));
        t += self.rng.gen_range(5..180) * MIN_MS;
        let rejected = self.rng.gen_bool(0.02);
        if rejected {
            steps.push(Step::new(
                "reject",
                Some("submitted"),
                "rejected",
                t,
                Some(&staff.manager),
            ));
        } else {
            steps.push(Step::new(
                "accept",
                Some("submitted"),
                "accepted",
                t,
                Some(&staff.manager),
            ));
            t += self.rng.gen_range(5..240) * MIN_MS;
            steps.push(Step::new(
                "dispatch",
                Some("accepted"),
                "dispatched",
                t,
                Some(&staff.manager),
            ));
            let dispatched = t;
            let deadline = self
                .calendar
                .deadline(dispatched, limits.feedback_minutes, basis);
            t += self.rng.gen_range(10..600) * MIN_MS;
            steps.push(Step::new(
                "start",
                Some("dispatched"),
                "in_progress",
                t,
                Some(&staff.butler),
            ));
            // Most are fed back well inside the limit; about 8% run late.
            let late = self.rng.gen_bool(0.08);
            let resolve_at = if late {
                deadline + self.rng.gen_range(30..4 * 24 * 60) * MIN_MS
            } else {
                t + ((deadline - t).max(MIN_MS) as f64 * self.rng.gen_range(0.05..0.95)) as i64
            };
            if late {
                steps.push(Step::escalate(deadline, "in_progress"));
            }
            t = resolve_at.max(t + MIN_MS);
            steps.push(Step::new(
                "resolve",
                Some("in_progress"),
                "resolved",
                t,
                Some(&staff.butler),
            ));
            if self.rng.gen_bool(0.06) {
                t += self.rng.gen_range(60..2 * 24 * 60) * MIN_MS;
                steps.push(Step::new(
                    "verify_fail",
                    Some("resolved"),
                    "rework",
                    t,
                    Some(&staff.community),
                ));
                t += self.rng.gen_range(60..3 * 24 * 60) * MIN_MS;
                steps.push(Step::new(
                    "resolve",
                    Some("rework"),
                    "resolved",
                    t,
                    Some(&staff.butler),
                ));
            }
            let resolved_at = t;
            let rate_at = resolved_at + self.rng.gen_range(30..3 * 24 * 60) * MIN_MS;
            let close_at = resolved_at + self.rng.gen_range(60..2 * 24 * 60) * MIN_MS;
            let (first, second) = if rate_at <= close_at {
                (("rate", rate_at), ("verify_pass", close_at))
            } else {
                (("verify_pass", close_at), ("rate", rate_at))
            };
            for (action, at) in [first, second] {
                if action == "rate" {
                    steps.push(Step::new("rate", None, "", at, None));
                } else {
                    steps.push(Step::new(
                        "verify_pass",
                        Some("resolved"),
                        "closed",
                        at,
                        Some(&staff.community),
                    ));
                }
            }
        }

        // Play the steps up to the anchor, in time order.
        steps.sort_by_key(|s| s.at);
        let mut row = DemandRow::filed(
            id.clone(),
            &NewDemand {
                category: category.to_string(),
                title: title.to_string(),
                description: description.to_string(),
                location: None,
                anonymous: false,
            },
            &Filing {
                urgency: urgency.as_str(),
                dispatch_deadline,
                household_id: &home.id,
                household_path: &home.path,
                building_id: Some(&building.id),
                channel,
                reporter_user_id: reporter,
                created_by,
            },
            created,
        );
        let mut rated_by: Option<String> = None;
        let mut status = "submitted".to_string();
        for s in steps.iter_mut() {
            if s.at >= ANCHOR_MS {
                break;
            }
            row.version += 1;
            row.updated_at = s.at;
            match s.action {
                "dispatch" => {
                    row.assignee_user_id = Some(staff.butler.clone());
                    row.dispatched_at = Some(s.at);
                    row.feedback_deadline =
                        Some(self.calendar.deadline(s.at, limits.feedback_minutes, basis));
                    s.detail = format!("{{\"assignee\":\"{}\"}}", staff.butler);
                    self.t
                        .assignees
                        .row()
                        .text(&id)
                        .text(&staff.butler)
                        .int(1)
                        .int(s.at);
                }
                "escalate" => {
                    if row.escalation_level == 0 {
                        self.count(
                            cases::rollup::day_of(s.at),
                            &Counts {
                                escalated: 1,
                                ..Default::default()
                            },
                        );
                    }
                    s.from = Some(status.clone());
                    s.to = status.clone();
                    row.escalation_level += 1;
                    row.overdue = true;
                    row.escalated_to = Some(staff.street.clone());
                    s.detail = format!(
                        "{{\"level\":1,\"to\":\"{}\",\"overdue\":true}}",
                        staff.street
                    );
                }
                "resolve" => {
                    row.resolved_at = Some(s.at);
                    self.count(
                        cases::rollup::day_of(s.at),
                        &Counts {
                            handled: 1,
                            ..Default::default()
                        },
                    );
                }
                "verify_fail" => {
                    row.resolved_at = None;
                    row.rework_count += 1;
                    self.count(
                        cases::rollup::day_of(s.at),
                        &Counts {
                            rework: 1,
                            ..Default::default()
                        },
                    );
                }
                "verify_pass" => {
                    row.closed_at = Some(s.at);
                    let resolved = row.resolved_at.unwrap_or(s.at);
                    row.closed_on_time =
                        Some(row.feedback_deadline.is_none_or(|dl| resolved <= dl));
                }
                "rate" => {
                    let satisfied = self.rng.gen_bool(0.9);
                    let satisfaction = if satisfied {
                        self.rng.gen_range(4..=5)
                    } else {
                        self.rng.gen_range(1..=3)
                    };
                    let contacted = self.rng.gen_bool(0.98);
                    let resolved = satisfied || self.rng.gen_bool(0.3);
                    let (source, by) = match account {
                        Some(a) if self.rng.gen_bool(0.6) => ("resident", a.to_string()),
                        _ => ("phone", staff.community.clone()),
                    };
                    s.from = Some(status.clone());
                    s.to = status.clone();
                    s.actor = Some(by.clone());
                    s.detail = format!(
                        "{{\"contacted\":{contacted},\"resolved\":{resolved},\"satisfaction\":{satisfaction},\"source\":\"{source}\"}}"
                    );
                    rated_by = Some(by);
                    row.rating = Some(RatingRow {
                        rated_at: s.at,
                        contacted,
                        resolved,
                        satisfaction,
                        comment: None,
                        source: source.to_string(),
                    });
                }
                _ => {}
            }
            if s.action != "rate" {
                status = s.to.clone();
            }
        }
        row.status = DemandStatus::parse(&status).unwrap_or(DemandStatus::Submitted);
        for (day, c) in cases::rollup::contributions(&row) {
            self.count(day, &c);
        }
        self.count_filing(
            cases::rollup::day_of(row.created_at),
            &row.category,
            &row.channel,
        );
        self.count_open(&row);

        let r = &row;
        let rating = r.rating.as_ref();
        self.t
            .demands
            .row()
            .text(&r.id)
            .text(r.org_path.as_str())
            .text(&r.household_id)
            .opt_text(r.building_id.as_deref())
            .text(&r.category)
            .text(&r.title)
            .text(&r.description)
            .null()
            .int(0)
            .text(&r.channel)
            .text(&status)
            .opt_text(r.reporter_user_id.as_deref())
            .text(&r.created_by)
            .int(r.created_at)
            .int(r.updated_at)
            .int(r.version)
            .text(&r.urgency)
            .opt_text(r.assignee_user_id.as_deref())
            .opt_int(r.dispatch_deadline)
            .opt_int(r.feedback_deadline)
            .opt_int(r.dispatched_at)
            .opt_int(r.resolved_at)
            .opt_int(r.closed_at)
            .opt_int(r.closed_on_time.map(i64::from))
            .int(r.rework_count)
            .int(r.escalation_level)
            .opt_text(r.escalated_to.as_deref())
            .int(r.overdue as i64)
            .int(0)
            .opt_int(rating.map(|x| x.rated_at))
            .opt_int(rating.map(|x| x.contacted as i64))
            .opt_int(rating.map(|x| x.resolved as i64))
            .opt_int(rating.map(|x| x.satisfaction))
            .null()
            .opt_text(rating.map(|x| x.source.as_str()))
            .opt_text(rated_by.as_deref());
        self.report.demands += 1;

        for s in steps.iter().take_while(|s| s.at < ANCHOR_MS) {
            let eid = self.id_at(s.at);
            let note = match s.action {
                "resolve" => Some("已处理完毕,请核查。"),
                "verify_fail" => Some("核查未通过,请返工。"),
                "reject" => Some("不属于受理范围,已告知诉求人。"),
                "escalate" => Some("超期未办,系统自动督办"),
                _ => None,
            };
            let detail = if s.action == "submit" {
                None
            } else {
                Some(s.detail.as_str())
            };
            self.t
                .events
                .row()
                .text(&eid)
                .text(&id)
                .int(s.at)
                .opt_text(s.actor.as_deref())
                .text(s.action)
                .opt_text(s.from.as_deref())
                .text(&s.to)
                .opt_text(note)
                .opt_text(detail);
            self.report.demand_events += 1;
        }
    }
}

struct Step {
    action: &'static str,
    from: Option<String>,
    to: String,
    at: i64,
    actor: Option<String>,
    detail: String,
}

impl Step {
    fn new(
        action: &'static str,
        from: Option<&str>,
        to: &str,
        at: i64,
        actor: Option<&str>,
    ) -> Self {
        Step {
            action,
            from: from.map(str::to_string),
            to: to.to_string(),
            at,
            actor: actor.map(str::to_string),
            detail: "{}".into(),
        }
    }

    fn escalate(at: i64, status: &str) -> Self {
        Step {
            action: "escalate",
            from: Some(status.to_string()),
            to: status.to_string(),
            at,
            actor: None,
            detail: "{}".into(),
        }
    }
}

/// Poisson-distributed count (Knuth; the means here are small).
fn poisson(rng: &mut StdRng, lambda: f64) -> u64 {
    if lambda <= 0.0 {
        return 0;
    }
    if lambda > 30.0 {
        // Normal approximation for large means.
        let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
        let u2: f64 = rng.gen();
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        return (lambda + z * lambda.sqrt()).round().max(0.0) as u64;
    }
    let l = (-lambda).exp();
    let mut k = 0;
    let mut p = 1.0;
    loop {
        p *= rng.gen::<f64>();
        if p <= l {
            return k;
        }
        k += 1;
    }
}

/// GB 11643 check character of the first 17 digits.
fn gb11643_check(body: &[u8]) -> u8 {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let sum: u32 = body
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| (d - b'0') as u32 * w)
        .sum();
    CHECK[(sum % 11) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_numbers_pass_the_kernel_check() {
        let (tx, _rx) = tokio::sync::mpsc::channel(1);
        let mut g = Generator::new(
            Profile::Compound,
            7,
            FieldCipher::from_hex(&"11".repeat(32)).unwrap(),
            String::new(),
            tx,
        );
        for _ in 0..2_000 {
            let n = g.id_card(141102);
            kernel::personal::IdCardNumber::parse(&n).unwrap_or_else(|e| panic!("{n}: {e}"));
        }
        for _ in 0..100 {
            let p = g.phone();
            kernel::personal::PhoneNumber::parse(&p).unwrap_or_else(|e| panic!("{p}: {e}"));
        }
    }

    #[test]
    fn the_anchor_is_the_first_of_november_in_shanghai() {
        assert_eq!(
            kernel::clock::from_rfc3339("2026-11-01T00:00:00+08:00").unwrap(),
            ANCHOR_MS
        );
    }

    #[test]
    fn the_city_profile_is_sized_for_the_benchmark() {
        let s = Profile::City.shape();
        let residents = (s.districts * s.streets * s.communities * s.compounds * s.households)
            as f64
            * MEAN_RESIDENTS;
        assert!((3.2e6..3.6e6).contains(&residents), "{residents}");
        assert!(s.focus_year_demands >= 2_000_000);
    }
}
