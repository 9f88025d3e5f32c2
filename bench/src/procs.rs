//! Child processes: building and starting the floor and Lianxin, reading
//! their peak memory, and killing them whatever happens to the bench.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A started server; killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    /// From spawn until it answered.
    pub startup: Duration,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident set size (VmHWM) so far, in MiB.
    /// CPU time (user + system, in clock ticks) the process has used.
    pub fn cpu_ticks(&self) -> Option<u64> {
        let s = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).ok()?;
        // Fields after the parenthesised name: utime and stime are the 12th
        // and 13th of them.
        let rest = s.rsplit_once(')')?.1;
        let f: Vec<&str> = rest.split_whitespace().collect();
        Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
    }

    /// Waits (at most `within`) until the process is nearly idle: background
    /// work a load left behind (the outbox fanning notices out) has drained.
    /// Waits until the server process uses under 10 % of a core; false if
    /// it did not within `within` (or its CPU time cannot be read). Only
    /// this process is watched: PostgreSQL's own work is not seen.
    pub async fn wait_idle(&self, within: Duration) -> bool {
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            let Some(a) = self.cpu_ticks() else {
                return false;
            };
            tokio::time::sleep(Duration::from_millis(500)).await;
            let Some(b) = self.cpu_ticks() else {
                return false;
            };
            // Under 10 % of one core over the half second (ticks are 1/100 s).
            if b - a < 5 {
                return true;
            }
        }
        false
    }

    pub fn peak_rss_mib(&self) -> Option<f64> {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb / 1024.0)
    }

    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs a command to completion; its output goes to ours. Err with what failed.
pub fn run(cmd: &mut Command, what: &str) -> Result<Duration, String> {
    let t0 = Instant::now();
    let status = cmd
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    if !status.success() {
        return Err(format!("{what}: {status}"));
    }
    Ok(t0.elapsed())
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a free port")
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let dest = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &dest)?;
        } else {
            std::fs::copy(e.path(), &dest)?;
            // The source folder is read-only; the copy must not be.
            let mut perm = std::fs::metadata(&dest)?.permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perm.set_readonly(false);
            std::fs::set_permissions(&dest, perm)?;
        }
    }
    Ok(())
}

/// Copies the floor out of its read-only folder to `target/limit-src` and
/// builds it (release, its own target dir `target/limit`), as its README says.
pub fn build_floor(limit_src: &Path, target: &Path) -> Result<PathBuf, String> {
    let src = target.join("limit-src");
    let _ = std::fs::remove_dir_all(&src);
    copy_dir(limit_src, &src).map_err(|e| format!("copy {}: {e}", limit_src.display()))?;
    let target_dir = target.join("limit");
    run(
        Command::new(cargo())
            .args(["build", "--release", "--quiet", "--manifest-path"])
            .arg(src.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target_dir),
        "build the floor",
    )?;
    Ok(target_dir.join("release").join("limit"))
}

pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Waits until `GET url` answers 200.
pub async fn wait_ready(url: &str, within: Duration) -> Result<(), String> {
    let client = reqwest::Client::new();
    let t0 = Instant::now();
    loop {
        if let Ok(r) = client.get(url).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        if t0.elapsed() > within {
            return Err(format!("{url} did not answer within {within:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts the floor on a fresh database file in `dir`.
pub async fn start_floor(bin: &Path, dir: &Path) -> Result<Server, String> {
    let db = dir.join("limit.db");
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
    }
    let port = free_port();
    let t0 = Instant::now();
    let child = Command::new(bin)
        .arg(&db)
        .arg(port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("start the floor {}: {e}", bin.display()))?;
    let base = format!("http://127.0.0.1:{port}");
    let mut server = Server {
        child,
        base: base.clone(),
        startup: Duration::ZERO,
    };
    wait_ready(&format!("{base}/health"), Duration::from_secs(30)).await?;
    server.startup = t0.elapsed();
    Ok(server)
}

/// Starts `lianxin <args>` and waits for its "is running: http://ADDR" line;
/// the rest of its stdout is drained in the background (and kept in `log`).
pub async fn start_lianxin(
    bin: &Path,
    args: &[String],
    env: &[(&str, String)],
    dir: &Path,
) -> Result<Server, String> {
    let log_path = dir.join("server.log");
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("start {}: {e}", bin.display()))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("is running: ").nth(1) {
                if let Some(t) = tx.take() {
                    let _ = t.send(rest.trim().to_string());
                }
            }
        }
    });
    let mut server = Server {
        child,
        base: String::new(),
        startup: Duration::ZERO,
    };
    let deadline = Instant::now() + Duration::from_secs(600);
    let base = loop {
        match rx.try_recv() {
            Ok(b) => break b,
            Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                return Err(format!(
                    "lianxin exited before serving; see {}",
                    log_path.display()
                ))
            }
            Err(std::sync::mpsc::TryRecvError::Empty) => {
                if Instant::now() > deadline {
                    return Err("lianxin did not start within 10 minutes".into());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    wait_ready(&format!("{base}/healthz"), Duration::from_secs(60)).await?;
    server.base = base;
    server.startup = t0.elapsed();
    Ok(server)
}
