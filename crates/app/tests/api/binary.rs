//! The real `lianxin` binary as a child process on a SQLite file in a temp
//! directory: for crash, backup and log tests that need a process to kill
//! or a log to read. Its stdout and stderr go to `server.log` in the dir
//! (appended across restarts).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_lianxin");

pub struct Server {
    child: Child,
    pub base: String,
}

/// A temp directory with a config (no rate limits) and a free port.
pub struct World {
    pub dir: tempfile::TempDir,
    pub port: u16,
}

impl World {
    pub fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("lianxin.toml"),
            "login_rate_per_minute = 0\nintake_rate_per_minute = 0\n",
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        World { dir, port }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn db_file(&self) -> PathBuf {
        self.dir.path().join("data/demo.db")
    }

    pub fn database_url(&self) -> String {
        format!("sqlite://{}", self.db_file().display())
    }

    pub fn log_file(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    pub fn log_text(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(self.log_file()).unwrap_or_default()).into_owned()
    }

    /// The field key `demo` generated next to its database.
    pub fn demo_key(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("data/demo.key"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// `lianxin demo` on this world's database, waiting until it is healthy.
    pub async fn start(&self, log: &str) -> Server {
        self.start_with_env(log, &[]).await
    }

    /// As [`World::start`], with extra environment variables for the server.
    pub async fn start_with_env(&self, log: &str, env: &[(&str, &str)]) -> Server {
        self.start_command("demo", log, env).await
    }

    /// `lianxin <command>` (`demo` or `serve`) on this world's database and
    /// config, with extra environment variables, waiting until it is healthy.
    pub async fn start_command(&self, command: &str, log: &str, env: &[(&str, &str)]) -> Server {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_file())
            .unwrap();
        let child = Command::new(BIN)
            .arg(command)
            .arg("--addr")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--database-url")
            .arg(self.database_url())
            .arg("--config")
            .arg(self.dir.path().join("lianxin.toml"))
            .arg("--log")
            .arg(log)
            .current_dir(self.dir.path())
            .env_remove("LIANXIN_FIELD_KEY")
            .env_remove("LIANXIN_DATABASE_URL")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("start lianxin");
        let base = format!("http://127.0.0.1:{}", self.port);
        let mut server = Server { child, base };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = client.get(format!("{}/healthz", server.base)).send().await {
                if r.status().is_success() {
                    return server;
                }
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("lianxin exited early ({status}):\n{}", self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "lianxin did not become healthy:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs a `lianxin` command to completion: (success, stdout + stderr).
    pub fn run(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new(BIN)
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("LIANXIN_FIELD_KEY")
            .env_remove("LIANXIN_DATABASE_URL")
            .output()
            .expect("run lianxin");
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        (out.status.success(), text)
    }
}

impl Server {
    /// `kill -9`: no shutdown, no flush, nothing.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub async fn login(client: &reqwest::Client, base: &str, login: &str) -> String {
    let r = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"login": login, "password": crate::helpers::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "login {login}");
    let v: serde_json::Value = r.json().await.unwrap();
    v["token"].as_str().unwrap().to_string()
}

/// A small xorshift generator; the seed is printed so a run can be repeated.
pub struct Rng(u64);

impl Rng {
    pub fn from_env_or_time(var: &str) -> Rng {
        let seed = std::env::var(var)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("{var}={seed}");
        Rng(seed)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x % n.max(1)
    }
}
