//! The seed's bulk loader for a SQLite file: its own connection through
//! the C API, one prepared INSERT per table with bound values (no SQL text
//! to build and parse per row, no round trip through an async driver per
//! statement), bulk-load settings for the duration of the load only, and
//! the secondary indexes of the loaded tables dropped before and rebuilt
//! after (sorting once is far cheaper than millions of inserts into a dozen
//! B-trees at random positions).

use super::{Batch, Val};
use kernel::{AppError, AppResult};
use libsqlite3_sys as ffi;
use std::collections::HashMap;
use std::ffi::{c_char, c_int, CStr, CString};
use std::ptr;

/// Tables the seed writes: their secondary indexes are rebuilt after the load.
pub(super) const LOADED_TABLES: &[&str] = &[
    "org_nodes",
    "users",
    "residents",
    "role_grants",
    "demands",
    "demand_assignees",
    "demand_events",
    "demand_rollups",
    "demand_filings",
    "demand_filings_monthly",
    "demand_open",
];

pub(super) struct Conn {
    db: *mut ffi::sqlite3,
    stmts: HashMap<&'static str, Stmt>,
    /// The journal mode to restore after the load.
    journal_mode: String,
    /// Secondary indexes dropped for the load: (name, CREATE statement).
    dropped: Vec<(String, String)>,
}

// The connection is used by one thread at a time (moved into the writer).
unsafe impl Send for Conn {}

struct Stmt(*mut ffi::sqlite3_stmt);

impl Drop for Stmt {
    fn drop(&mut self) {
        unsafe {
            ffi::sqlite3_finalize(self.0);
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.stmts.clear();
        unsafe {
            ffi::sqlite3_close(self.db);
        }
    }
}

fn err(what: &str, msg: impl std::fmt::Display) -> AppError {
    AppError::internal(format!("seed (sqlite) {what}: {msg}"))
}

impl Conn {
    /// Opens the database file for the load, with settings for bulk
    /// loading: no fsync, no foreign key checks (every parent is written
    /// before its children), a large page cache, index builds sorting on
    /// worker threads. The journal is switched off when no other connection
    /// has the file open (`exclusive`: the CLI, which closed its own); with
    /// a live server it stays WAL.
    pub(super) fn open(path: &str, cache_mib: i64, exclusive: bool) -> AppResult<Conn> {
        let c_path = CString::new(path).map_err(|e| err("path", e))?;
        let mut db = ptr::null_mut();
        let rc = unsafe {
            ffi::sqlite3_open_v2(
                c_path.as_ptr(),
                &mut db,
                ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_NOMUTEX,
                ptr::null(),
            )
        };
        let mut conn = Conn {
            db,
            stmts: HashMap::new(),
            journal_mode: String::new(),
            dropped: Vec::new(),
        };
        if rc != ffi::SQLITE_OK {
            return Err(err("open", conn.errmsg()));
        }
        conn.exec(&format!(
            "PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = OFF; \
             PRAGMA synchronous = OFF; PRAGMA cache_size = -{}; \
             PRAGMA secure_delete = OFF; PRAGMA temp_store = FILE; PRAGMA threads = 2;",
            cache_mib * 1024
        ))?;
        // temp_store = FILE: the sorter uses its worker threads only with
        // temporary files; with MEMORY every index build sorted on one
        // thread.
        conn.journal_mode = conn.query_text("PRAGMA journal_mode")?;
        // Refused (the mode stays WAL) while other connections are open. A
        // closed `Db`'s checkpoint thread lets go of its connection within
        // its interval: the CLI asks again for a little longer than that.
        // Measured on the city profile (session 9): 239k rows/s with the
        // journal off against 167k through the WAL, where every page is
        // written twice.
        let attempts = if exclusive { 20 } else { 1 };
        for attempt in 0..attempts {
            if attempt > 0 {
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
            if conn.query_text("PRAGMA journal_mode = OFF").ok().as_deref() == Some("off") {
                break;
            }
        }
        Ok(conn)
    }

    pub(super) fn journal_mode(&mut self) -> AppResult<String> {
        self.query_text("PRAGMA journal_mode")
    }

    fn errmsg(&self) -> String {
        unsafe {
            let p = ffi::sqlite3_errmsg(self.db);
            if p.is_null() {
                "unknown error".into()
            } else {
                CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        }
    }

    pub(super) fn exec(&mut self, sql: &str) -> AppResult<()> {
        let c = CString::new(sql).map_err(|e| err("sql", e))?;
        let mut msg: *mut c_char = ptr::null_mut();
        let rc = unsafe { ffi::sqlite3_exec(self.db, c.as_ptr(), None, ptr::null_mut(), &mut msg) };
        if rc != ffi::SQLITE_OK {
            let text = if msg.is_null() {
                self.errmsg()
            } else {
                let t = unsafe { CStr::from_ptr(msg).to_string_lossy().into_owned() };
                unsafe { ffi::sqlite3_free(msg.cast()) };
                t
            };
            return Err(err(sql.lines().next().unwrap_or(sql), text));
        }
        Ok(())
    }

    fn prepare(&self, sql: &str) -> AppResult<Stmt> {
        let mut stmt = ptr::null_mut();
        let rc = unsafe {
            ffi::sqlite3_prepare_v2(
                self.db,
                sql.as_ptr().cast(),
                sql.len() as c_int,
                &mut stmt,
                ptr::null_mut(),
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(err("prepare", self.errmsg()));
        }
        Ok(Stmt(stmt))
    }

    /// Rows of text columns of a query.
    fn query_rows(&mut self, sql: &str) -> AppResult<Vec<Vec<String>>> {
        let stmt = self.prepare(sql)?;
        let mut rows = Vec::new();
        loop {
            match unsafe { ffi::sqlite3_step(stmt.0) } {
                ffi::SQLITE_ROW => {
                    let n = unsafe { ffi::sqlite3_column_count(stmt.0) };
                    let mut row = Vec::with_capacity(n as usize);
                    for i in 0..n {
                        let p = unsafe { ffi::sqlite3_column_text(stmt.0, i) };
                        row.push(if p.is_null() {
                            String::new()
                        } else {
                            unsafe { CStr::from_ptr(p.cast()).to_string_lossy().into_owned() }
                        });
                    }
                    rows.push(row);
                }
                ffi::SQLITE_DONE => return Ok(rows),
                _ => return Err(err(sql, self.errmsg())),
            }
        }
    }

    fn query_text(&mut self, sql: &str) -> AppResult<String> {
        Ok(self
            .query_rows(sql)?
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .unwrap_or_default())
    }

    /// Drops the secondary indexes of the loaded tables, remembering their
    /// definitions (as the schema holds them) to rebuild them after.
    pub(super) fn drop_indexes(&mut self) -> AppResult<()> {
        let list = LOADED_TABLES
            .iter()
            .map(|t| format!("'{t}'"))
            .collect::<Vec<_>>()
            .join(",");
        let rows = self.query_rows(&format!(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL \
             AND tbl_name IN ({list}) ORDER BY name"
        ))?;
        for r in rows {
            let (name, sql) = (r[0].clone(), r[1].clone());
            self.exec(&format!("DROP INDEX \"{}\"", name.replace('"', "\"\"")))?;
            self.dropped.push((name, sql));
        }
        Ok(())
    }

    /// Rebuilds the indexes [`Conn::drop_indexes`] dropped, each analysed
    /// right after its build, while its pages are still cached: analysed
    /// after all the builds, a city file larger than RAM read them back from
    /// disk.
    pub(super) fn rebuild_indexes(&mut self, progress: impl Fn(&str)) -> AppResult<()> {
        for (name, sql) in std::mem::take(&mut self.dropped) {
            progress(&format!("index {name}"));
            self.exec(&sql)?;
            progress(&format!("statistics of {name}"));
            self.exec(&format!("ANALYZE \"{}\"", name.replace('"', "\"\"")))?;
        }
        Ok(())
    }

    /// Analyses the indexes the load kept (the primary keys), one by one:
    /// called while the load's page cache still holds them. The statistics
    /// are those of one `ANALYZE` (it also goes index by index).
    pub(super) fn analyze_kept_indexes(&mut self, progress: impl Fn(&str)) -> AppResult<()> {
        for name in self.names("index", true)? {
            progress(&format!("statistics of {name}"));
            self.exec(&format!("ANALYZE \"{}\"", name.replace('"', "\"\"")))?;
        }
        Ok(())
    }

    /// Analyses the tables the seed does not load (small: the catalogue,
    /// settings), which the per-index passes leave out.
    pub(super) fn analyze_other_tables(&mut self) -> AppResult<()> {
        for name in self.names("table", false)? {
            self.exec(&format!("ANALYZE \"{}\"", name.replace('"', "\"\"")))?;
        }
        Ok(())
    }

    /// Names of the schema's objects of a type, of the loaded tables or of
    /// the others.
    fn names(&mut self, kind: &str, loaded: bool) -> AppResult<Vec<String>> {
        let list = LOADED_TABLES
            .iter()
            .map(|t| format!("'{t}'"))
            .collect::<Vec<_>>()
            .join(",");
        let not = if loaded { "" } else { "NOT" };
        // ANALYZE skips the system tables (sqlite_stat1, sqlite_sequence).
        Ok(self
            .query_rows(&format!(
                "SELECT name FROM sqlite_master WHERE type = '{kind}' AND tbl_name {not} IN ({list}) \
                 AND NOT (type = 'table' AND name LIKE 'sqlite\\_%' ESCAPE '\\') ORDER BY name"
            ))?
            .into_iter()
            .map(|mut r| r.swap_remove(0))
            .collect())
    }

    /// Restores the journal mode the file had before the load.
    pub(super) fn restore_journal(&mut self) -> AppResult<()> {
        let mode = std::mem::take(&mut self.journal_mode);
        if !mode.is_empty() {
            self.query_text(&format!("PRAGMA journal_mode = {mode}"))?;
        }
        Ok(())
    }

    /// Inserts one batch of generated rows: each table's rows through its
    /// prepared statement.
    pub(super) fn write(&mut self, batch: &Batch) -> AppResult<()> {
        for t in &batch.tables {
            if t.rows == 0 {
                continue;
            }
            if !self.stmts.contains_key(t.insert) {
                let marks = vec!["?"; t.cols].join(",");
                let stmt = self.prepare(&format!("{} VALUES ({marks})", t.insert))?;
                self.stmts.insert(t.insert, stmt);
            }
            let stmt = self.stmts[t.insert].0;
            for row in t.vals.chunks_exact(t.cols) {
                for (i, v) in row.iter().enumerate() {
                    let i = i as c_int + 1;
                    let rc = unsafe {
                        match *v {
                            Val::Null => ffi::sqlite3_bind_null(stmt, i),
                            Val::Int(n) => ffi::sqlite3_bind_int64(stmt, i, n),
                            Val::Text(a, b) => {
                                let s = &t.text.as_bytes()[a as usize..b as usize];
                                // SQLITE_STATIC: the batch outlives the step.
                                ffi::sqlite3_bind_text(
                                    stmt,
                                    i,
                                    s.as_ptr().cast(),
                                    s.len() as c_int,
                                    ffi::SQLITE_STATIC(),
                                )
                            }
                        }
                    };
                    if rc != ffi::SQLITE_OK {
                        return Err(err("bind", self.errmsg()));
                    }
                }
                let rc = unsafe { ffi::sqlite3_step(stmt) };
                unsafe { ffi::sqlite3_reset(stmt) };
                if rc != ffi::SQLITE_DONE {
                    return Err(err(t.insert, self.errmsg()));
                }
            }
        }
        Ok(())
    }
}
