//! The lean read path for the hottest queries ([`crate::db::Db::rows`]).
//!
//! sqlx's SQLite driver runs each connection on a thread of its own and
//! sends every statement there and every row back through channels; the
//! `Any` driver then copies each row once more. Profiles of the list and
//! filing paths showed more time in those thread hand-offs (futex wake-ups)
//! and copies than in SQLite itself. Here a read is one hop to the blocking
//! pool, where a plain SQLite connection (rusqlite, the same linked SQLite
//! sqlx uses) runs a cached prepared statement and collects all the rows.
//! On PostgreSQL (and an in-memory SQLite) the same call goes through sqlx:
//! the SQL text, with `$n` placeholders, is the same for both.

use crate::db::Val;
use crate::error::{AppError, AppResult};
use sqlx::any::AnyRow;
use sqlx::Row;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// One column value of a row read through [`crate::db::Db::rows`],
/// borrowed from its [`Rows`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl<'a> Value<'a> {
    /// A text column's value (NULL is `None`).
    pub fn as_str(self) -> Option<&'a str> {
        match self {
            Value::Null => None,
            Value::Text(s) => Some(s),
            v => panic!("not text: {v:?}"),
        }
    }

    /// An integer column's value (NULL is `None`).
    pub fn as_int(self) -> Option<i64> {
        match self {
            Value::Null => None,
            Value::Int(i) => Some(i),
            v => panic!("not an integer: {v:?}"),
        }
    }
}

/// A value as [`Rows`] stores it: text and blobs as ranges of its buffers.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Null,
    Int(i64),
    Real(f64),
    Text(u32, u32),
    Blob(u32, u32),
}

/// A position in a read's buffers. A read is a page or a report, far from
/// 4 GiB of text; past that it stops rather than wrap around.
fn offset(len: usize) -> u32 {
    u32::try_from(len).expect("a lean read holds less than 4 GiB of text")
}

/// The rows of one read: column names and the values, row after row.
///
/// Every text value of the read lives in one buffer and every name in
/// another: a page of 20 demands has some 300 text values, and allocating
/// (and, on another thread, freeing) each was over a tenth of a list
/// request (session 10).
#[derive(Debug, Default)]
pub struct Rows {
    /// The column names, one after the other; `name_ends[i]` ends name i.
    names: String,
    name_ends: Vec<u32>,
    slots: Vec<Slot>,
    text: String,
    blobs: Vec<u8>,
    /// Where the last column lookup matched: callers read the columns of
    /// each row in about the order they were selected, so the next lookup
    /// starts just after it and usually matches at the first try.
    cursor: AtomicUsize,
}

impl Rows {
    fn with_names<'n>(names: impl IntoIterator<Item = &'n str>) -> Rows {
        let mut rows = Rows::default();
        for n in names {
            rows.names.push_str(n);
            rows.name_ends.push(offset(rows.names.len()));
        }
        rows
    }

    fn width(&self) -> usize {
        self.name_ends.len()
    }

    fn name(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.name_ends[i - 1] };
        &self.names[start as usize..self.name_ends[i] as usize]
    }

    fn push_text(&mut self, t: &str) {
        let start = offset(self.text.len());
        self.text.push_str(t);
        self.slots.push(Slot::Text(start, offset(self.text.len())));
    }

    fn push_blob(&mut self, b: &[u8]) {
        let start = offset(self.blobs.len());
        self.blobs.extend_from_slice(b);
        self.slots.push(Slot::Blob(start, offset(self.blobs.len())));
    }

    fn get(&self, slot: usize) -> Value<'_> {
        match self.slots[slot] {
            Slot::Null => Value::Null,
            Slot::Int(i) => Value::Int(i),
            Slot::Real(f) => Value::Real(f),
            Slot::Text(a, b) => Value::Text(&self.text[a as usize..b as usize]),
            Slot::Blob(a, b) => Value::Blob(&self.blobs[a as usize..b as usize]),
        }
    }

    /// Rows from values in hand, row after row (`values` holds a whole
    /// number of rows of `names`' width): for what reads rows, tested
    /// without a database.
    pub fn from_values(names: &[&str], values: &[Value<'_>]) -> Rows {
        assert!(
            !names.is_empty() && values.len().is_multiple_of(names.len()),
            "whole rows of the names' width"
        );
        let mut rows = Rows::with_names(names.iter().copied());
        for v in values {
            match *v {
                Value::Null => rows.slots.push(Slot::Null),
                Value::Int(i) => rows.slots.push(Slot::Int(i)),
                Value::Real(f) => rows.slots.push(Slot::Real(f)),
                Value::Text(t) => rows.push_text(t),
                Value::Blob(b) => rows.push_blob(b),
            }
        }
        rows
    }

    pub fn len(&self) -> usize {
        if self.width() == 0 {
            0
        } else {
            self.slots.len() / self.width()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = RowRef<'_>> {
        (0..self.len()).map(move |i| RowRef { rows: self, row: i })
    }

    pub fn first(&self) -> Option<RowRef<'_>> {
        self.iter().next()
    }

    /// The index of column `name`. Callers read the columns of each row in
    /// about the order they were selected, so the search starts just after
    /// the last match and usually matches at the first try.
    fn column(&self, name: &str) -> usize {
        let n = self.width();
        let start = self.cursor.load(Ordering::Relaxed);
        for k in 0..n {
            let i = (start + k) % n;
            if self.name(i) == name {
                self.cursor.store(i + 1, Ordering::Relaxed);
                return i;
            }
        }
        panic!("no column {name:?} in the result (a query and its reader disagree)")
    }

    /// The position of column `name`, for a reader of many rows that
    /// resolves its columns once and reads them with [`RowRef::at`]. Panics
    /// when the query has no such column, like the typed reads.
    pub fn index_of(&self, name: &str) -> usize {
        self.column(name)
    }

    /// The rows one by one, each able to outlive the iteration (they share
    /// the read's buffers).
    pub fn into_rows(self) -> impl Iterator<Item = OwnedRow> {
        let rows = std::sync::Arc::new(self);
        (0..rows.len()).map(move |row| OwnedRow {
            rows: rows.clone(),
            row,
        })
    }
}

/// One row of [`Rows::into_rows`].
pub struct OwnedRow {
    rows: std::sync::Arc<Rows>,
    row: usize,
}

impl OwnedRow {
    fn as_ref(&self) -> RowRef<'_> {
        RowRef {
            rows: &self.rows,
            row: self.row,
        }
    }
}

impl Columns for OwnedRow {
    fn opt_int(&self, col: &str) -> Option<i64> {
        self.as_ref().opt_int(col)
    }

    fn opt_text(&self, col: &str) -> Option<String> {
        self.as_ref().opt_text(col)
    }
}

/// One row of [`Rows`].
#[derive(Clone, Copy)]
pub struct RowRef<'a> {
    rows: &'a Rows,
    row: usize,
}

impl<'a> RowRef<'a> {
    pub fn value(&self, col: &str) -> Value<'a> {
        let i = self.rows.column(col);
        self.at(i)
    }

    /// The value of the column at position `i` ([`Rows::index_of`]).
    pub fn at(&self, i: usize) -> Value<'a> {
        self.rows.get(self.row * self.rows.width() + i)
    }
}

/// Typed column reads, the same for a sqlx row and a lean row, so one
/// mapping function serves both paths. A column that is missing or of the
/// wrong type is a bug in the query, and panics like sqlx's `Row::get`.
pub trait Columns {
    fn opt_int(&self, col: &str) -> Option<i64>;
    fn opt_text(&self, col: &str) -> Option<String>;

    fn int(&self, col: &str) -> i64 {
        self.opt_int(col)
            .unwrap_or_else(|| panic!("column {col:?} is NULL"))
    }

    fn text(&self, col: &str) -> String {
        self.opt_text(col)
            .unwrap_or_else(|| panic!("column {col:?} is NULL"))
    }

    /// A 0/1 flag column (NULL reads as false).
    fn flag(&self, col: &str) -> bool {
        self.opt_int(col).is_some_and(|v| v != 0)
    }
}

impl Columns for RowRef<'_> {
    fn opt_int(&self, col: &str) -> Option<i64> {
        match self.value(col) {
            Value::Null => None,
            Value::Int(i) => Some(i),
            v => panic!("column {col:?} is not an integer: {v:?}"),
        }
    }

    fn opt_text(&self, col: &str) -> Option<String> {
        match self.value(col) {
            Value::Null => None,
            Value::Text(s) => Some(s.to_owned()),
            v => panic!("column {col:?} is not text: {v:?}"),
        }
    }
}

impl Columns for AnyRow {
    fn opt_int(&self, col: &str) -> Option<i64> {
        self.get::<Option<i64>, _>(col)
    }

    fn opt_text(&self, col: &str) -> Option<String> {
        self.get::<Option<String>, _>(col)
    }
}

/// Converts sqlx rows (the PostgreSQL path) into [`Rows`].
pub(crate) fn from_any(rows: Vec<AnyRow>) -> Rows {
    use sqlx::Column;
    let Some(first) = rows.first() else {
        return Rows::default();
    };
    let mut out = Rows::with_names(first.columns().iter().map(|c| c.name()));
    out.slots.reserve(out.width() * rows.len());
    for r in &rows {
        for i in 0..out.width() {
            push_any(&mut out, r, i);
        }
    }
    out
}

fn push_any(out: &mut Rows, r: &AnyRow, i: usize) {
    let slot = if let Ok(v) = r.try_get::<Option<i64>, _>(i) {
        v.map_or(Slot::Null, Slot::Int)
    } else if let Ok(v) = r.try_get::<Option<&str>, _>(i) {
        match v {
            Some(t) => return out.push_text(t),
            None => Slot::Null,
        }
    } else if let Ok(v) = r.try_get::<Option<i32>, _>(i) {
        v.map_or(Slot::Null, |v| Slot::Int(v.into()))
    } else if let Ok(v) = r.try_get::<Option<f64>, _>(i) {
        v.map_or(Slot::Null, Slot::Real)
    } else if let Ok(v) = r.try_get::<Option<bool>, _>(i) {
        v.map_or(Slot::Null, |v| Slot::Int(v.into()))
    } else {
        match r.try_get::<Option<&[u8]>, _>(i) {
            Ok(Some(b)) => return out.push_blob(b),
            _ => Slot::Null,
        }
    };
    out.slots.push(slot);
}

/// The lean SQLite readers: a few plain connections to the file, opened on
/// first use, each used by one blocking-pool thread at a time.
pub(crate) struct SqliteReaders {
    path: PathBuf,
    conns: OnceLock<Result<Vec<Mutex<rusqlite::Connection>>, String>>,
    next: AtomicUsize,
    /// One per connection: a read waits here (not on a blocking-pool thread
    /// parked on a connection's lock), so there are never more threads at
    /// work than connections.
    permits: tokio::sync::Semaphore,
}

/// As many as the floor's readers: more only queue on two cores.
const READERS: usize = 4;
/// Prepared statements kept per connection (each distinct SQL text is one;
/// scopes with several roots make a few variants of a query).
const STATEMENT_CACHE: usize = 256;

impl SqliteReaders {
    pub(crate) fn new(path: PathBuf) -> SqliteReaders {
        SqliteReaders {
            path,
            conns: OnceLock::new(),
            next: AtomicUsize::new(0),
            permits: tokio::sync::Semaphore::new(READERS),
        }
    }

    /// Runs one read on the blocking pool, once a connection is free.
    pub(crate) async fn read_async(
        self: std::sync::Arc<Self>,
        sql: String,
        args: Vec<Val>,
    ) -> AppResult<Rows> {
        let mut rows = self.read_many_async(vec![(sql, args)]).await?;
        Ok(rows.pop().unwrap_or_default())
    }

    /// Runs several reads in one hop to the blocking pool, on one
    /// connection.
    pub(crate) async fn read_many_async(
        self: std::sync::Arc<Self>,
        reads: Vec<(String, Vec<Val>)>,
    ) -> AppResult<Vec<Rows>> {
        if reads.is_empty() {
            return Ok(vec![]);
        }
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| AppError::internal(format!("lean read: {e}")))?;
        let readers = self.clone();
        let rows = tokio::task::spawn_blocking(move || {
            let guard = readers.connection()?;
            reads
                .iter()
                .map(|(sql, args)| {
                    run(&guard, sql, args).map_err(|e| AppError::internal(format!("{e}: {sql}")))
                })
                .collect()
        })
        .await
        .map_err(|e| AppError::internal(format!("lean read: {e}")))?;
        drop(permit);
        rows
    }

    fn open(&self) -> Result<Vec<Mutex<rusqlite::Connection>>, String> {
        use rusqlite::OpenFlags;
        (0..READERS)
            .map(|_| {
                let c = rusqlite::Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_WRITE
                        | OpenFlags::SQLITE_OPEN_NO_MUTEX
                        | OpenFlags::SQLITE_OPEN_URI,
                )
                .map_err(|e| format!("open {}: {e}", self.path.display()))?;
                // Readers never write: query_only makes sure of it.
                c.execute_batch("PRAGMA busy_timeout=10000; PRAGMA query_only=1;")
                    .map_err(|e| format!("set up {}: {e}", self.path.display()))?;
                c.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
                without_stat4(&c);
                Ok(Mutex::new(c))
            })
            .collect()
    }

    /// Runs one read on a free connection (blocking).
    #[cfg(test)]
    pub(crate) fn read(&self, sql: &str, args: &[Val]) -> AppResult<Rows> {
        let guard = self.connection()?;
        run(&guard, sql, args).map_err(|e| AppError::internal(format!("{e}: {sql}")))
    }

    /// A free connection, else the next one's turn (blocking).
    fn connection(&self) -> AppResult<std::sync::MutexGuard<'_, rusqlite::Connection>> {
        let conns = self
            .conns
            .get_or_init(|| self.open())
            .as_ref()
            .map_err(|e| AppError::internal(e.clone()))?;
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let guard = (0..conns.len())
            .find_map(|k| conns[(start + k) % conns.len()].try_lock().ok())
            .map(Ok)
            .unwrap_or_else(|| conns[start % conns.len()].lock())
            .unwrap_or_else(|e| e.into_inner());
        Ok(guard)
    }
}

/// The planner of this connection ignores `sqlite_stat4` (STAT4, which the
/// bundled SQLite is built with). With STAT4 data a prepared statement
/// whose bound value meets a sampled column is prepared anew whenever that
/// value changes — and every request binds its own session id, path or id:
/// the cached statements were parsed and planned again each time (15% of a
/// list request's time). The lean reads are point and range lookups on
/// unique or leading index columns, which `sqlite_stat1` plans alike.
pub(crate) fn without_stat4(c: &rusqlite::Connection) {
    /// `SQLITE_Stat4` of sqlite3.c's optimisation flags (a value its own
    /// test suite pins).
    const SQLITE_STAT4: std::ffi::c_uint = 0x0000_0800;
    // SAFETY: the handle is this open connection's, used by this thread
    // only; the call sets the connection's disabled-optimisations mask.
    unsafe {
        rusqlite::ffi::sqlite3_test_control(
            rusqlite::ffi::SQLITE_TESTCTRL_OPTIMIZATIONS,
            c.handle(),
            SQLITE_STAT4,
        );
    }
}

pub(crate) fn run(conn: &rusqlite::Connection, sql: &str, args: &[Val]) -> rusqlite::Result<Rows> {
    use rusqlite::types::ValueRef;
    let mut stmt = conn.prepare_cached(sql)?;
    bind(&mut stmt, sql, args)?;
    let mut out = Rows::with_names(stmt.column_names());
    let width = out.width();
    // A page of a list is about twenty rows: room for them at once.
    out.slots.reserve(width * 20);
    let mut rows = stmt.raw_query();
    while let Some(row) = rows.next()? {
        for c in 0..width {
            match row.get_ref(c)? {
                ValueRef::Null => out.slots.push(Slot::Null),
                ValueRef::Integer(i) => out.slots.push(Slot::Int(i)),
                ValueRef::Real(f) => out.slots.push(Slot::Real(f)),
                // Checked as UTF-8 in one pass (SQLite text always is),
                // with SIMD (std's check was 2% of a city list, on CJK
                // text); replacement characters only for what is not.
                ValueRef::Text(t) => match simdutf8::basic::from_utf8(t) {
                    Ok(s) => out.push_text(s),
                    Err(_) => out.push_text(&String::from_utf8_lossy(t)),
                },
                ValueRef::Blob(b) => out.push_blob(b),
            }
        }
    }
    Ok(out)
}

/// Binds `args` to `stmt`. `$n` is a named parameter to SQLite: bind by
/// the number in its name, as sqlx does, so a text may use its values in
/// any order or twice.
pub(crate) fn bind(
    stmt: &mut rusqlite::Statement<'_>,
    sql: &str,
    args: &[Val],
) -> rusqlite::Result<()> {
    let count = stmt.parameter_count();
    // SQLite finds a parameter's name by walking its list of names, so
    // asking for each in turn grows with the square of their number (a
    // rollup upsert of 64 rows has over a thousand). Many parameters: read
    // the numbers off the text instead, in the order SQLite assigned them.
    let numbers = if count > 16 {
        Some(placeholder_numbers(sql)).filter(|n| n.len() == count)
    } else {
        None
    };
    for i in 1..=count {
        let n = match &numbers {
            Some(numbers) => numbers[i - 1],
            None => match stmt.parameter_name(i) {
                Some(name) => name
                    .strip_prefix('$')
                    .and_then(|d| d.parse::<usize>().ok())
                    .unwrap_or(i),
                None => i,
            },
        };
        match args.get(n - 1) {
            Some(Val::Int(Some(v))) => stmt.raw_bind_parameter(i, *v)?,
            Some(Val::Text(Some(v))) => stmt.raw_bind_parameter(i, v.as_str())?,
            Some(Val::Int(None) | Val::Text(None)) | None => {
                stmt.raw_bind_parameter(i, rusqlite::types::Null)?
            }
        }
    }
    Ok(())
}
/// The numbers of the `$n` placeholders of `sql` (outside quoted text), in
/// the order they first appear: the order in which SQLite numbers named
/// parameters. `sql` holds no comments (as [`crate::db::Writes`] requires).
fn placeholder_numbers(sql: &str) -> Vec<usize> {
    let mut seen: Vec<usize> = Vec::new();
    let bytes = sql.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        i += 1;
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'\'' || c == b'"' => quote = Some(c),
            None if c == b'$' => {
                let start = i;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                if let Ok(n) = sql[start..i].parse::<usize>() {
                    if !seen.contains(&n) {
                        seen.push(n);
                    }
                }
            }
            None => {}
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Rows {
        let mut r = Rows::with_names(["id", "n", "note"]);
        r.push_text("a");
        r.slots.push(Slot::Int(1));
        r.slots.push(Slot::Null);
        r.push_text("b");
        r.slots.push(Slot::Int(2));
        r.push_text("x");
        r
    }

    #[test]
    fn columns_are_found_in_any_order() {
        let r = rows();
        assert_eq!(r.len(), 2);
        let second = r.iter().nth(1).unwrap();
        assert_eq!(second.opt_text("note").as_deref(), Some("x"));
        assert_eq!(second.text("id"), "b");
        assert_eq!(second.int("n"), 2);
        assert_eq!(second.text("id"), "b");
        let first = r.first().unwrap();
        assert_eq!(first.opt_text("note"), None);
        assert!(first.flag("n"));
        assert_eq!(r.index_of("note"), 2);
        assert_eq!(second.at(2).as_str(), Some("x"));
        assert_eq!(first.at(0), Value::Text("a"));
        assert_eq!(first.at(1).as_int(), Some(1));
    }

    #[test]
    fn owned_rows_read_like_shared_ones() {
        let owned: Vec<OwnedRow> = rows().into_rows().collect();
        assert_eq!(owned.len(), 2);
        let shared = rows();
        for (o, s) in owned.iter().zip(shared.iter()) {
            assert_eq!(o.int("n"), s.int("n"));
            assert_eq!(o.opt_text("note"), s.opt_text("note"));
            assert_eq!(o.text("id"), s.text("id"));
            // Columns may be read again.
            assert_eq!(o.text("id"), s.text("id"));
        }
        assert!(Rows::default().into_rows().next().is_none());
    }

    #[test]
    fn text_blobs_and_reals_keep_their_bytes() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        let r = run(
            &c,
            "SELECT '连心' AS t, x'00ff' AS b, 1.5 AS f, NULL AS z, '' AS e",
            &[],
        )
        .unwrap();
        let row = r.first().unwrap();
        assert_eq!(row.value("t"), Value::Text("连心"));
        assert_eq!(row.value("b"), Value::Blob(&[0, 255]));
        assert_eq!(row.value("f"), Value::Real(1.5));
        assert_eq!(row.value("z"), Value::Null);
        assert_eq!(row.value("e"), Value::Text(""));
    }

    #[test]
    #[should_panic(expected = "no column")]
    fn a_missing_column_is_a_bug() {
        rows().first().unwrap().int("missing");
    }

    #[test]
    fn placeholder_numbers_follow_sqlites_own() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (a INTEGER, b TEXT, c TEXT)")
            .unwrap();
        let many: Vec<String> = (1..=40).rev().map(|i| format!("${i}")).collect();
        for sql in [
            "SELECT a FROM t WHERE b = $2 AND c = '$9' AND a = $1 AND b <> $2".to_string(),
            format!("SELECT a FROM t WHERE a IN ({})", many.join(", ")),
            "INSERT INTO t (a, b, c) VALUES ($3, $1, $1), ($2, \"$7\", $4)".to_string(),
        ] {
            let stmt = c.prepare(&sql).unwrap();
            let names: Vec<usize> = (1..=stmt.parameter_count())
                .map(|i| stmt.parameter_name(i).unwrap()[1..].parse().unwrap())
                .collect();
            assert_eq!(placeholder_numbers(&sql), names, "{sql}");
        }
    }

    #[test]
    fn many_placeholders_bind_by_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t (a INTEGER, b TEXT);")
            .unwrap();
        // 40 values, placed in the text in reverse: row k is ($2k, $2k-1).
        let rows: Vec<String> = (1..=20)
            .rev()
            .map(|k| format!("(${}, ${})", 2 * k, 2 * k - 1))
            .collect();
        let sql = format!("INSERT INTO t (a, b) VALUES {}", rows.join(", "));
        let args: Vec<Val> = (1..=20)
            .flat_map(|k| [Val::from(format!("b{k}")), Val::from(k)])
            .collect();
        let mut stmt = c.prepare(&sql).unwrap();
        bind(&mut stmt, &sql, &args).unwrap();
        stmt.raw_execute().unwrap();
        drop(stmt);
        let got: Vec<(i64, String)> = c
            .prepare("SELECT a, b FROM t ORDER BY a")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let want: Vec<(i64, String)> = (1..=20).map(|k| (k, format!("b{k}"))).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn dollar_placeholders_bind_by_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "PRAGMA journal_mode=WAL; CREATE TABLE t (a INTEGER, b TEXT);
             INSERT INTO t VALUES (1, 'x'), (2, 'y'), (3, NULL);",
        )
        .unwrap();
        let readers = SqliteReaders::new(path);
        let got = readers
            .read(
                "SELECT a, b FROM t WHERE a >= $2 AND (b = $1 OR $1 = '' OR b IS NULL) ORDER BY a",
                &[Val::from(""), Val::from(2)],
            )
            .unwrap();
        let all: Vec<(i64, Option<String>)> =
            got.iter().map(|r| (r.int("a"), r.opt_text("b"))).collect();
        assert_eq!(all, vec![(2, Some("y".into())), (3, None)]);
        let got = readers
            .read("SELECT a FROM t WHERE b = $1", &[Val::from("x")])
            .unwrap();
        assert_eq!(got.first().unwrap().int("a"), 1);
        assert!(readers.read("INSERT INTO t VALUES (4, 'z')", &[]).is_err());
    }
}
