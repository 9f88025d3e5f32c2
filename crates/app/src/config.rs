//! Configuration: defaults, then an optional `lianxin.toml`, then
//! `LIANXIN_*` environment variables, then command-line flags. Every setting
//! is documented in `lianxin.toml.example`. Secrets never print in Debug.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A secret string whose Debug output is redacted.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            f.write_str("Secret(<unset>)")
        } else {
            f.write_str("Secret(<redacted>)")
        }
    }
}

/// What `lianxin.toml` may hold (all optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub addr: Option<String>,
    pub database_url: Option<String>,
    pub field_key: Option<Secret>,
    pub session_idle_minutes: Option<i64>,
    pub session_absolute_minutes: Option<i64>,
    pub secure_cookies: Option<bool>,
    pub lockout_failures: Option<i64>,
    pub lockout_window_minutes: Option<i64>,
    pub max_body_bytes: Option<usize>,
    pub log: Option<String>,
    pub reopen_days: Option<i64>,
    pub unrated_days: Option<i64>,
    pub unrated_counts_as_satisfied: Option<bool>,
    pub office_hours: Option<String>,
    pub login_rate_per_minute: Option<u32>,
    pub intake_rate_per_minute: Option<u32>,
    pub webhook_allow_private: Option<bool>,
    pub webhook_timeout_seconds: Option<u64>,
    pub webhook_retry_base_seconds: Option<i64>,
    pub webhook_max_attempts: Option<i64>,
    pub digest_time: Option<String>,
    pub sse_heartbeat_seconds: Option<u64>,
    pub backup_dir: Option<String>,
    pub backup_every_minutes: Option<u64>,
    pub backup_keep: Option<usize>,
    pub field_cipher: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub retention_closed_demand_days: Option<i64>,
    pub retention_session_days: Option<i64>,
    pub retention_outbox_days: Option<i64>,
    pub retention_inbox_days: Option<i64>,
    pub retention_audit_days: Option<i64>,
    pub retention_request_days: Option<i64>,
    pub auth: Option<AuthFileConfig>,
}

/// The `[auth]` table of `lianxin.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthFileConfig {
    pub password_max_age_days: Option<i64>,
    pub require_totp_for_staff: Option<bool>,
    pub privileged_idle_minutes: Option<i64>,
}

/// The flags every command shares (each also `LIANXIN_*` in the environment).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CommonArgs {
    /// Address to listen on, HOST:PORT.
    #[arg(long, env = "LIANXIN_ADDR")]
    pub addr: Option<String>,
    /// sqlite://PATH or postgres://USER@HOST/DB.
    #[arg(long, env = "LIANXIN_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Configuration file (default: ./lianxin.toml when it exists).
    #[arg(long, env = "LIANXIN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Master key for field encryption: 64 hex characters.
    #[arg(long, env = "LIANXIN_FIELD_KEY", hide_env_values = true)]
    pub field_key: Option<String>,
    /// Log filter, e.g. info or lianxin=debug.
    #[arg(long, env = "LIANXIN_LOG")]
    pub log: Option<String>,
    /// Set the Secure flag on cookies (when served over TLS).
    #[arg(long, env = "LIANXIN_SECURE_COOKIES")]
    pub secure_cookies: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub addr: String,
    pub database_url: String,
    pub field_key: Secret,
    pub session_idle_minutes: i64,
    pub session_absolute_minutes: i64,
    pub secure_cookies: bool,
    pub lockout_failures: i64,
    pub lockout_window_minutes: i64,
    pub max_body_bytes: usize,
    pub log: String,
    pub demo: bool,
    pub reopen_days: i64,
    pub unrated_days: i64,
    pub unrated_counts_as_satisfied: bool,
    pub office_hours: Vec<(u32, u32)>,
    pub login_rate_per_minute: u32,
    pub intake_rate_per_minute: u32,
    pub webhook_allow_private: bool,
    pub webhook_timeout_seconds: u64,
    pub webhook_retry_base_seconds: i64,
    pub webhook_max_attempts: i64,
    /// Minutes since local midnight.
    pub digest_minute: u32,
    pub sse_heartbeat_seconds: u64,
    /// Scheduled backups: where (none when unset), how often, how many kept.
    pub backup_dir: Option<String>,
    pub backup_every_minutes: u64,
    pub backup_keep: usize,
    /// The AEAD new encrypted values are written with.
    pub field_cipher: kernel::crypto::Algorithm,
    /// `auth.password_max_age_days`: staff password rotation (0 = off).
    pub password_max_age_days: i64,
    /// `auth.require_totp_for_staff`: true for `serve`, false for `demo`.
    pub require_totp_for_staff: bool,
    /// `auth.privileged_idle_minutes`: idle limit for the separated roles.
    pub privileged_idle_minutes: i64,
    pub retention: crate::retention::RetentionPolicy,
    /// Built-in TLS: PEM certificate chain and private key (both or neither).
    pub tls: Option<(PathBuf, PathBuf)>,
}

pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./lianxin-data/lianxin.db";
pub const DEMO_DATABASE_URL: &str = "sqlite://./lianxin-data/demo.db";

impl Config {
    pub fn defaults() -> Config {
        Config {
            addr: DEFAULT_ADDR.into(),
            database_url: DEFAULT_DATABASE_URL.into(),
            field_key: Secret::default(),
            session_idle_minutes: 30,
            session_absolute_minutes: 12 * 60,
            secure_cookies: false,
            lockout_failures: 5,
            lockout_window_minutes: 15,
            max_body_bytes: 1024 * 1024,
            log: "info".into(),
            demo: false,
            reopen_days: 7,
            unrated_days: 7,
            unrated_counts_as_satisfied: false,
            office_hours: vec![(510, 720), (870, 1080)],
            login_rate_per_minute: 30,
            intake_rate_per_minute: 20,
            webhook_allow_private: false,
            webhook_timeout_seconds: 10,
            webhook_retry_base_seconds: 30,
            webhook_max_attempts: 6,
            digest_minute: 8 * 60,
            sse_heartbeat_seconds: 15,
            backup_dir: None,
            backup_every_minutes: 24 * 60,
            backup_keep: 7,
            field_cipher: kernel::crypto::Algorithm::Aes256Gcm,
            password_max_age_days: 90,
            require_totp_for_staff: true,
            privileged_idle_minutes: 15,
            retention: crate::retention::RetentionPolicy::default(),
            tls: None,
        }
    }

    /// Layers file, environment and flags over the defaults.
    pub fn load(args: &CommonArgs, demo: bool) -> Result<Config, String> {
        let mut c = Config::defaults();
        c.demo = demo;
        if demo {
            c.database_url = DEMO_DATABASE_URL.into();
            c.require_totp_for_staff = false;
        }
        let path = args.config.clone().or_else(|| {
            let p = PathBuf::from("lianxin.toml");
            p.exists().then_some(p)
        });
        if let Some(path) = path {
            let f = read_file(&path)?;
            c.apply_file(f)?;
        }
        if let Some(v) = &args.addr {
            c.addr = v.clone();
        }
        if let Some(v) = &args.database_url {
            c.database_url = v.clone();
        }
        if let Some(v) = &args.field_key {
            c.field_key = Secret(v.clone());
        }
        if let Some(v) = &args.log {
            c.log = v.clone();
        }
        if let Some(v) = args.secure_cookies {
            c.secure_cookies = v;
        }
        Ok(c)
    }

    fn apply_file(&mut self, f: FileConfig) -> Result<(), String> {
        if let Some(v) = f.addr {
            self.addr = v;
        }
        if let Some(v) = f.database_url {
            self.database_url = v;
        }
        if let Some(v) = f.field_key {
            self.field_key = v;
        }
        if let Some(v) = f.session_idle_minutes {
            self.session_idle_minutes = v;
        }
        if let Some(v) = f.session_absolute_minutes {
            self.session_absolute_minutes = v;
        }
        if let Some(v) = f.secure_cookies {
            self.secure_cookies = v;
        }
        if let Some(v) = f.lockout_failures {
            self.lockout_failures = v;
        }
        if let Some(v) = f.lockout_window_minutes {
            self.lockout_window_minutes = v;
        }
        if let Some(v) = f.max_body_bytes {
            self.max_body_bytes = v;
        }
        if let Some(v) = f.log {
            self.log = v;
        }
        if let Some(v) = f.reopen_days {
            self.reopen_days = v;
        }
        if let Some(v) = f.unrated_days {
            self.unrated_days = v;
        }
        if let Some(v) = f.unrated_counts_as_satisfied {
            self.unrated_counts_as_satisfied = v;
        }
        if let Some(v) = f.login_rate_per_minute {
            self.login_rate_per_minute = v;
        }
        if let Some(v) = f.intake_rate_per_minute {
            self.intake_rate_per_minute = v;
        }
        if let Some(v) = f.webhook_allow_private {
            self.webhook_allow_private = v;
        }
        if let Some(v) = f.webhook_timeout_seconds {
            if !(1..=300).contains(&v) {
                return Err("webhook_timeout_seconds: 1 to 300".into());
            }
            self.webhook_timeout_seconds = v;
        }
        if let Some(v) = f.webhook_retry_base_seconds {
            if !(1..=86_400).contains(&v) {
                return Err("webhook_retry_base_seconds: 1 to 86400".into());
            }
            self.webhook_retry_base_seconds = v;
        }
        if let Some(v) = f.webhook_max_attempts {
            if !(1..=50).contains(&v) {
                return Err("webhook_max_attempts: 1 to 50".into());
            }
            self.webhook_max_attempts = v;
        }
        if let Some(v) = f.digest_time {
            self.digest_minute =
                notify::model::parse_time_of_day(&v).map_err(|e| format!("digest_time: {e}"))?;
        }
        if let Some(v) = f.sse_heartbeat_seconds {
            if !(1..=300).contains(&v) {
                return Err("sse_heartbeat_seconds: 1 to 300".into());
            }
            self.sse_heartbeat_seconds = v;
        }
        if let Some(v) = f.backup_dir.filter(|d| !d.trim().is_empty()) {
            self.backup_dir = Some(v);
        }
        if let Some(v) = f.backup_every_minutes {
            if !(1..=525_600).contains(&v) {
                return Err("backup_every_minutes: 1 to 525600".into());
            }
            self.backup_every_minutes = v;
        }
        if let Some(v) = f.backup_keep {
            if !(1..=10_000).contains(&v) {
                return Err("backup_keep: 1 to 10000".into());
            }
            self.backup_keep = v;
        }
        if let Some(v) = f.field_cipher {
            self.field_cipher = kernel::crypto::Algorithm::parse(&v)
                .ok_or("field_cipher: \"aes-256-gcm\" or \"sm4-gcm\"")?;
        }
        if let Some(a) = f.auth {
            if let Some(v) = a.password_max_age_days {
                if !(0..=3650).contains(&v) {
                    return Err("auth.password_max_age_days: 0 to 3650".into());
                }
                self.password_max_age_days = v;
            }
            if let Some(v) = a.require_totp_for_staff {
                self.require_totp_for_staff = v;
            }
            if let Some(v) = a.privileged_idle_minutes {
                if !(1..=1440).contains(&v) {
                    return Err("auth.privileged_idle_minutes: 1 to 1440".into());
                }
                self.privileged_idle_minutes = v;
            }
        }
        match (f.tls_cert, f.tls_key) {
            (Some(cert), Some(key)) => {
                self.tls = Some((cert, key));
                // Served over HTTPS: cookies are Secure and HSTS is sent.
                self.secure_cookies = true;
            }
            (None, None) => {}
            _ => return Err("tls_cert and tls_key go together".into()),
        }
        let r = &mut self.retention;
        for (slot, v) in [
            (&mut r.closed_demand_days, f.retention_closed_demand_days),
            (&mut r.session_days, f.retention_session_days),
            (&mut r.outbox_days, f.retention_outbox_days),
            (&mut r.inbox_days, f.retention_inbox_days),
            (&mut r.audit_days, f.retention_audit_days),
            (&mut r.request_days, f.retention_request_days),
        ] {
            if let Some(v) = v {
                *slot = v;
            }
        }
        self.retention.validate()?;
        if let Some(v) = f.office_hours {
            self.office_hours = kernel::calendar::parse_office_hours(&v)
                .map_err(|e| format!("office_hours: {e}"))?;
        }
        Ok(())
    }

    /// The scheduled backup, when `backup_dir` is set.
    pub fn backup_schedule(&self) -> Option<crate::ops::BackupSchedule> {
        self.backup_dir
            .as_ref()
            .map(|d| crate::ops::BackupSchedule {
                dir: PathBuf::from(d),
                every_minutes: self.backup_every_minutes,
                keep: self.backup_keep,
            })
    }

    pub fn settings(&self) -> kernel::Settings {
        kernel::Settings {
            demo: self.demo,
            session_idle_minutes: self.session_idle_minutes,
            session_absolute_minutes: self.session_absolute_minutes,
            secure_cookies: self.secure_cookies,
            lockout_failures: self.lockout_failures,
            lockout_window_minutes: self.lockout_window_minutes,
            reopen_days: self.reopen_days,
            unrated_days: self.unrated_days,
            unrated_counts_as_satisfied: self.unrated_counts_as_satisfied,
            office_hours: self.office_hours.clone(),
            login_rate_per_minute: self.login_rate_per_minute,
            intake_rate_per_minute: self.intake_rate_per_minute,
            webhook_allow_private: self.webhook_allow_private,
            webhook_timeout_seconds: self.webhook_timeout_seconds,
            webhook_retry_base_seconds: self.webhook_retry_base_seconds,
            webhook_max_attempts: self.webhook_max_attempts,
            digest_minute: self.digest_minute,
            sse_heartbeat_seconds: self.sse_heartbeat_seconds,
            session_idle_privileged_minutes: self.privileged_idle_minutes,
            password_max_age_days: self.password_max_age_days,
            require_totp_for_staff: self.require_totp_for_staff,
        }
    }
}

fn read_file(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_and_redaction() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lianxin.toml");
        std::fs::write(
            &p,
            "addr = \"0.0.0.0:9000\"\nfield_key = \"abcd\"\nsession_idle_minutes = 10\n",
        )
        .unwrap();
        let args = CommonArgs {
            config: Some(p),
            addr: Some("127.0.0.1:1".into()),
            ..Default::default()
        };
        let c = Config::load(&args, false).unwrap();
        assert_eq!(c.addr, "127.0.0.1:1", "flags win over the file");
        assert_eq!(c.session_idle_minutes, 10);
        assert_eq!(c.field_key.0, "abcd");
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("abcd"), "{dbg}");
        assert!(dbg.contains("redacted"));
    }

    #[test]
    fn the_template_documents_every_setting() {
        let template = include_str!("../../../lianxin.toml.example");
        let parsed: FileConfig = toml::from_str(
            &template
                .lines()
                .map(|l| {
                    l.strip_prefix("# ")
                        .filter(|x| x.contains(" = "))
                        .unwrap_or(l)
                })
                .collect::<Vec<_>>()
                .join("\n"),
        )
        .expect("the template, uncommented, is a valid config");
        let _ = parsed;
        for key in [
            "addr",
            "database_url",
            "field_key",
            "session_idle_minutes",
            "session_absolute_minutes",
            "secure_cookies",
            "lockout_failures",
            "lockout_window_minutes",
            "max_body_bytes",
            "log",
            "reopen_days",
            "unrated_days",
            "unrated_counts_as_satisfied",
            "office_hours",
            "login_rate_per_minute",
            "intake_rate_per_minute",
            "webhook_allow_private",
            "webhook_timeout_seconds",
            "webhook_retry_base_seconds",
            "webhook_max_attempts",
            "digest_time",
            "sse_heartbeat_seconds",
            "backup_dir",
            "backup_every_minutes",
            "backup_keep",
            "field_cipher",
            "password_max_age_days",
            "require_totp_for_staff",
            "privileged_idle_minutes",
            "tls_cert",
            "tls_key",
            "retention_closed_demand_days",
            "retention_session_days",
            "retention_outbox_days",
            "retention_inbox_days",
            "retention_audit_days",
            "retention_request_days",
        ] {
            assert!(
                template.contains(&format!("{key} = ")),
                "{key} missing from lianxin.toml.example"
            );
        }
    }

    #[test]
    fn an_audit_retention_below_184_days_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lianxin.toml");
        std::fs::write(&p, "retention_audit_days = 90\n").unwrap();
        let args = CommonArgs {
            config: Some(p.clone()),
            ..Default::default()
        };
        let e = Config::load(&args, false).unwrap_err();
        assert!(e.contains("retention_audit_days"), "{e}");
        std::fs::write(
            &p,
            "retention_audit_days = 400\nretention_session_days = 7\n",
        )
        .unwrap();
        let c = Config::load(&args, false).unwrap();
        assert_eq!(c.retention.audit_days, 400);
        assert_eq!(c.retention.session_days, 7);
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        assert!(toml::from_str::<FileConfig>("adr = \"x\"").is_err());
    }
}
