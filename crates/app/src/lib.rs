//! The Lianxin application: composes the modules' routers into one server,
//! applies migrations, seeds the demo world, and hosts the CLI's commands.

pub mod config;
pub mod demo;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod personal_data;
pub mod retention;
pub mod rights;
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
    30 => "0030_idempotency",
    40 => "0040_auth_controls",
    50 => "0050_privacy_requests",
    80 => "0080_dashboard_rollups",
    81 => "0081_open_demands",
    82 => "0082_dashboard_counters",
    83 => "0083_auth_epoch",
    84 => "0084_filing_indexes",
    85 => "0085_reference_epoch",
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
    30 => "0030_idempotency",
    40 => "0040_auth_controls",
    50 => "0050_privacy_requests",
    80 => "0080_dashboard_rollups",
    81 => "0081_open_demands",
    82 => "0082_dashboard_counters",
    83 => "0083_auth_epoch",
    84 => "0084_filing_indexes",
    85 => "0085_reference_epoch",
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
    FieldCipher::from_hex_with(&key, config.field_cipher).map_err(|e| e.to_string())
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
    let ctx = Ctx::new(kernel::ctx::CtxParts {
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
    });
    let policy = config.retention.clone();
    ctx.extensions.get_or_init(move || policy);
    // Idempotency-Keys belong to the user behind a token, not to the token.
    kernel::idempotency::set_owner_resolver(
        &ctx,
        kernel::idempotency::OwnerResolver(Arc::new(|ctx: Ctx, token: String| {
            Box::pin(async move { accounts::session::user_of_token(&ctx, &token).await })
        })),
    );
    ctx
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
    spawn_idempotency_purge(ctx.clone());
    spawn_retention(ctx.clone());
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

/// Scheduled backups with retention (config `backup_dir`,
/// `backup_every_minutes`, `backup_keep`); the first one after one period.
pub fn spawn_backups(
    ctx: Ctx,
    database_url: String,
    schedule: ops::BackupSchedule,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let period = std::time::Duration::from_secs(schedule.every_minutes.max(1) * 60);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            tick.tick().await;
            match ops::scheduled_backup(&ctx.db, &database_url, &schedule).await {
                Ok(dir) => tracing::info!(dir = %dir.display(), "backup written"),
                Err(e) => tracing::error!(error = %e, "scheduled backup failed"),
            }
        }
    })
}

/// Forgets Idempotency-Keys past their 24 hours, hourly.
fn spawn_idempotency_purge(ctx: Ctx) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match kernel::idempotency::purge_expired(&ctx.db, ctx.now_ms()).await {
                Ok(n) if n > 0 => tracing::info!(purged = n, "idempotency keys"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "idempotency purge failed"),
            }
        }
    });
}

/// The retention job (crate::retention): once shortly after start, then
/// every six hours (each pass is idempotent and does only what is due).
fn spawn_retention(ctx: Ctx) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(6 * 3600));
        loop {
            tick.tick().await;
            match retention::run(&ctx).await {
                Ok(r) if !r.is_empty() => tracing::info!(?r, "retention"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "retention failed"),
            }
        }
    });
}

/// The server's TLS settings from PEM files (a certificate chain and its
/// private key), TLS 1.2 and 1.3 with rustls' safe defaults.
pub fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<rustls::ServerConfig, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("tls_cert {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("tls_cert {}: no certificate", cert.display()));
    }
    let key =
        PrivateKeyDer::from_pem_file(key).map_err(|e| format!("tls_key {}: {e}", key.display()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| format!("tls_cert/tls_key: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Like [`start`], but speaking HTTPS with `tls` (see [`tls_config`]).
/// Each connection is handshaked and served on a task of its own, so a slow
/// or failed handshake holds up no one else. On SIGTERM or ctrl-c (the
/// plain server's signal path) it shuts down gracefully, as [`start`] does:
/// it stops accepting (the port is closed), ends the live streams, lets
/// every request in flight finish and answer, closes idle keep-alive
/// connections, and the task ends once the last connection has.
pub async fn start_tls(
    ctx: Ctx,
    addr: &str,
    max_body_bytes: usize,
    tls: rustls::ServerConfig,
) -> AppResult<Running> {
    start_tls_until(ctx, addr, max_body_bytes, tls, shutdown_signal()).await
}

/// [`start_tls`], shutting down gracefully when `shutdown` completes.
pub async fn start_tls_until(
    ctx: Ctx,
    addr: &str,
    max_body_bytes: usize,
    tls: rustls::ServerConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> AppResult<Running> {
    cases::catalogue::refresh_calendar(&ctx).await?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| AppError::internal(format!("bind {addr}: {e}")))?;
    let local = listener.local_addr().map_err(AppError::internal)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let router = web::router(ctx.clone(), max_body_bytes);
    let closing_ctx = ctx.clone();
    let handle = tokio::spawn(async move {
        // `closing` tells every connection to finish; each holds a clone of
        // `alive`, so `done` sees None once the last one has ended.
        let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
        let (alive, mut done) = tokio::sync::mpsc::channel::<()>(1);
        tokio::pin!(shutdown);
        loop {
            let (tcp, peer) = tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let acceptor = acceptor.clone();
            // Handlers read the peer address as axum's ConnectInfo.
            let app = router
                .clone()
                .layer(axum::Extension(axum::extract::ConnectInfo(peer)));
            let mut closing = closing_rx.clone();
            let alive = alive.clone();
            tokio::spawn(async move {
                let _alive = alive;
                let handshake =
                    tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(tcp));
                let stream = tokio::select! {
                    r = handshake => match r {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, %peer, "TLS handshake failed");
                            return;
                        }
                        Err(_) => return,
                    },
                    _ = closing.wait_for(|c| *c) => return,
                };
                let service = hyper_util::service::TowerToHyperService::new(app);
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .with_upgrades();
                tokio::pin!(conn);
                let ended = tokio::select! {
                    r = conn.as_mut() => Some(r),
                    _ = closing.wait_for(|c| *c) => None,
                };
                let ended = match ended {
                    Some(r) => r,
                    None => {
                        // Finish the request in flight (if any), then close.
                        conn.as_mut().graceful_shutdown();
                        conn.await
                    }
                };
                if let Err(e) = ended {
                    tracing::debug!(error = %e, %peer, "connection ended");
                }
            });
        }
        // Stop accepting: the port is closed from here on.
        drop(listener);
        // Live streams never end by themselves: end them.
        notify::close_streams(&closing_ctx);
        let _ = closing_tx.send(true);
        drop(alive);
        let _ = done.recv().await;
        tracing::info!("TLS server stopped");
    });
    Ok(Running {
        addr: local,
        ctx,
        handle,
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
