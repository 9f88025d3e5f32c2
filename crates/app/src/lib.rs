//! The Lianxin application: composes the modules' routers into one server,
//! applies migrations, seeds the demo world, and hosts the CLI's commands.

pub mod config;
pub mod demo;
pub mod metrics;
pub mod openapi;
pub mod seed;
pub mod web;

use config::Config;
use kernel::crypto::FieldCipher;
use kernel::db::Migration;
use kernel::{AppError, AppResult, Ctx, Db, SharedClock};
use std::net::SocketAddr;
use std::sync::Arc;

/// One list of migrations, embedded once per backend tree; the versions and
/// names must match (a storage test checks it).
macro_rules! migrations {
    ($dir:literal: $($version:literal => $stem:literal),* $(,)?) => {
        &[$(Migration {
            version: $version,
            name: $stem,
            sql: include_str!(concat!("../migrations/", $dir, "/", $stem, ".sql")),
        }),*]
    };
}

pub const SQLITE_MIGRATIONS: &[Migration] = migrations!("sqlite":
    1 => "0001_org_accounts",
    2 => "0002_cases",
    3 => "0003_workflow",
    4 => "0004_mediation",
    5 => "0005_open311",
    6 => "0006_party",
    7 => "0007_insight",
    10 => "0010_rollups",
    11 => "0011_notify",
    20 => "0020_read_paths",
);

pub const POSTGRES_MIGRATIONS: &[Migration] = migrations!("postgres":
    1 => "0001_org_accounts",
    2 => "0002_cases",
    3 => "0003_workflow",
    4 => "0004_mediation",
    5 => "0005_open311",
    6 => "0006_party",
    7 => "0007_insight",
    10 => "0010_rollups",
    11 => "0011_notify",
    20 => "0020_read_paths",
);

pub fn migrations_for(db: &Db) -> &'static [Migration] {
    match db.backend() {
        kernel::Backend::Sqlite => SQLITE_MIGRATIONS,
        kernel::Backend::Postgres => POSTGRES_MIGRATIONS,
    }
}

/// Opens the database and brings its schema and reference data up to date.
pub async fn open_database(url: &str) -> AppResult<Db> {
    let db = Db::connect(url).await?;
    let applied = db.migrate(migrations_for(&db)).await?;
    if applied > 0 {
        tracing::info!(applied, "migrations applied");
    }
    cases::catalogue::ensure_defaults(&db).await?;
    cases::rollup::ensure(&db).await?;
    notify::ensure_defaults(&db).await?;
    Ok(db)
}

/// The field cipher from config; `demo` keeps a generated key next to its
/// database so restarts can still read what they wrote.
pub fn field_cipher(config: &Config) -> Result<FieldCipher, String> {
    let key = if !config.field_key.0.is_empty() {
        config.field_key.0.clone()
    } else if config.demo {
        demo_key(&config.database_url)?
    } else {
        return Err("field_key is not set: give --field-key, LIANXIN_FIELD_KEY or field_key in lianxin.toml \
                    (64 hex characters, e.g. from `openssl rand -hex 32`)"
            .into());
    };
    FieldCipher::from_hex(&key).map_err(|e| e.to_string())
}

fn demo_key(database_url: &str) -> Result<String, String> {
    let dir = kernel::db::sqlite_path(database_url)
        .and_then(|p| p.parent().map(|d| d.to_path_buf()))
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| std::path::PathBuf::from("lianxin-data"));
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let path = dir.join("demo.key");
    match std::fs::read_to_string(&path) {
        Ok(k) => Ok(k.trim().to_string()),
        Err(_) => {
            let k = FieldCipher::generate_hex();
            std::fs::write(&path, &k).map_err(|e| format!("write {}: {e}", path.display()))?;
            Ok(k)
        }
    }
}

pub fn context(db: Db, cipher: FieldCipher, clock: SharedClock, config: &Config) -> Ctx {
    register_modules();
    Ctx {
        db,
        cipher,
        clock,
        settings: Arc::new(config.settings()),
        calendar: Arc::new(std::sync::RwLock::new(
            kernel::calendar::WorkingCalendar::china_default(),
        )),
        limits: Arc::new(kernel::ratelimit::RateLimits::per_minute(
            config.login_rate_per_minute,
            config.intake_rate_per_minute,
        )),
        extensions: Default::default(),
    }
}

/// What modules lend each other at start-up (notify's follow checks and
/// digest figures, which notify cannot depend on). Idempotent.
pub fn register_modules() {
    cases::notices::register();
}

/// A server bound and running in the background.
pub struct Running {
    pub addr: SocketAddr,
    pub ctx: Ctx,
    pub handle: tokio::task::JoinHandle<()>,
}

/// Binds `addr` (port 0 picks a free one) and serves until the task ends.
pub async fn start(ctx: Ctx, addr: &str, max_body_bytes: usize) -> AppResult<Running> {
    cases::catalogue::refresh_calendar(&ctx).await?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| AppError::internal(format!("bind {addr}: {e}")))?;
    let local = listener.local_addr().map_err(AppError::internal)?;
    let router = web::router(ctx.clone(), max_body_bytes);
    let ctx_for_shutdown = ctx.clone();
    let handle = tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        let closing = ctx_for_shutdown;
        let shutdown = async move {
            shutdown_signal().await;
            // Live streams never end by themselves: end them, so the
            // graceful shutdown does not wait on open browsers.
            notify::close_streams(&closing);
        };
        if let Err(e) = axum::serve(listener, service)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "server stopped");
        }
    });
    Ok(Running {
        addr: local,
        ctx,
        handle,
    })
}

/// Background work: the overdue sweep (督办) every minute, and notify's
/// worker (outbox fan-out, webhook deliveries every second, the daily
/// digest at `digest_time`). Tests call `cases::flow::sweep`,
/// `notify::worker::run_once` and `notify::digest::run` themselves with a
/// manual clock instead.
pub fn spawn_jobs(ctx: Ctx) -> tokio::task::JoinHandle<()> {
    notify::worker::spawn(ctx.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            match cases::flow::sweep(&ctx).await {
                Ok(r) if r.escalated > 0 || r.default_rated > 0 => {
                    tracing::info!(
                        escalated = r.escalated,
                        default_rated = r.default_rated,
                        "sweep"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "sweep failed"),
            }
        }
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
