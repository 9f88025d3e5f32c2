//! `lianxin`: the one binary. `serve` runs production, `demo` the demo world,
//! `migrate`, `import` and `export` keep the database.

use app::config::{CommonArgs, Config};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Transparent huge pages off for this process. mimalloc's heaps (one per
/// thread that allocates, and the blocking pool has dozens) were backed by
/// 2 MiB pages: a heap that used a few KiB of a region held a whole huge
/// page. Under the bench's load that was 100 of 200 MiB of RSS (measured
/// with `AnonHugePages` in smaps); without, the same load ran in 80 MiB.
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes plain integer arguments and only
    // sets a flag on this process.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[derive(Parser)]
#[command(
    name = "lianxin",
    version,
    about = "连心 Lianxin — 党建引领的基层治理平台 (grassroots governance platform)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the product (production start).
    Serve(CommonArgs),
    /// Serve with the demo world (seeded into an empty database) and print the demo accounts.
    Demo(CommonArgs),
    /// Apply database migrations and exit.
    Migrate(CommonArgs),
    /// Import from Excel (xlsx).
    Import {
        #[command(subcommand)]
        what: ImportWhat,
    },
    /// Export to Excel (xlsx).
    Export {
        #[command(subcommand)]
        what: ExportWhat,
    },
    /// Online, consistent backup of the database (while serving) with a
    /// sha256 manifest: SQLite by VACUUM INTO, PostgreSQL by pg_dump.
    Backup {
        /// A new (or empty) directory for the copy and its manifest.
        #[arg(long)]
        output: PathBuf,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Restore a backup into an empty target (--database-url), after
    /// checking every file against the manifest.
    Restore {
        /// The backup directory (with manifest.json).
        #[arg(long)]
        from: PathBuf,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Re-encrypt every encrypted column and recompute every blind index
    /// under a new field key, in one transaction (stop the server first).
    /// New values use `field_cipher` from the config, and its blind index
    /// (HMAC-SM3 with sm4-gcm, HMAC-SHA256 otherwise). Giving the same key
    /// as old and new switches the algorithms in place.
    RotateKey {
        /// The key the data is encrypted with now (64 hex).
        #[arg(long, env = "LIANXIN_OLD_FIELD_KEY", hide_env_values = true)]
        old_key: String,
        /// The key to encrypt with from now on (64 hex).
        #[arg(long, env = "LIANXIN_NEW_FIELD_KEY", hide_env_values = true)]
        new_key: String,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        what: AuditWhat,
    },
    /// Write a synthetic world (region tree, residents, staff, demands over
    /// years, rollups) into an empty database, for load tests. Deterministic
    /// for a given --seed.
    Seed {
        /// How big: compound ≈ 2k residents, street ≈ 60k, district ≈ 400k, city ≈ 3.4M.
        #[arg(long, value_enum)]
        profile: app::seed::Profile,
        /// The RNG seed: the same seed writes the same rows and ids.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[command(flatten)]
        common: CommonArgs,
    },
}

#[derive(Subcommand)]
enum AuditWhat {
    /// Walk the hash chain: prints OK, or the first tampered row (exit code 1).
    Verify {
        #[command(flatten)]
        common: CommonArgs,
    },
}

#[derive(Subcommand)]
enum ImportWhat {
    /// Buildings, households and residents of one compound; columns
    /// 楼栋 单元 户号 姓名 手机号 身份证号 身份 与户主关系. All rows or none.
    Residents {
        /// The compound: its id or its org path (e.g. /141100/141102/141102003/141102003001/XC/).
        #[arg(long)]
        org: String,
        /// The .xlsx file.
        file: PathBuf,
        #[command(flatten)]
        common: CommonArgs,
    },
}

#[derive(Subcommand)]
enum ExportWhat {
    /// Residents under an org node (phones and ID numbers masked).
    Residents {
        /// The node: its id or its org path.
        #[arg(long)]
        org: String,
        /// Where to write the .xlsx file.
        #[arg(long)]
        output: PathBuf,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// The monthly report (汇总, 分单位, 小区排名, 超期清单, 图表数据) of a month.
    Report {
        /// The month, YYYY-MM (e.g. 2026-11).
        #[arg(long)]
        month: String,
        /// The node: its id or its org path (default: the whole tree).
        #[arg(long)]
        org: Option<String>,
        /// Where to write the .xlsx file.
        #[arg(long)]
        output: PathBuf,
        #[command(flatten)]
        common: CommonArgs,
    },
}

fn main() -> ExitCode {
    no_huge_pages();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(config: &Config) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_filter(filter);
    let registry = tracing_subscriber::registry().with(fmt);
    if app::metrics::counting_requested() {
        app::metrics::enable_counting();
        let counter = app::metrics::StatementCounter.with_filter(
            tracing_subscriber::filter::filter_fn(|m| m.target() == "sqlx::query"),
        );
        let _ = registry.with(counter).try_init();
    } else {
        let _ = registry.try_init();
    }
}

async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Seed {
            profile,
            seed,
            common,
        } => seed_world(profile, seed, &common).await,
        Command::Serve(args) => serve(args, false).await,
        Command::Demo(args) => serve(args, true).await,
        Command::Migrate(args) => {
            let config = Config::load(&args, false)?;
            init_logging(&config);
            app::open_database(&config.database_url)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "数据库已是最新 / database is up to date: {}",
                redact_url(&config.database_url)
            );
            Ok(())
        }
        Command::Import {
            what: ImportWhat::Residents { org, file, common },
        } => {
            let (config, ctx) = offline_ctx(&common).await?;
            let _ = config;
            let node = find_node(&ctx, &org).await?;
            let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            match org::xlsx::import(&ctx, None, &node, &bytes).await {
                Ok(r) => {
                    println!(
                        "导入完成 / imported: {} residents, {} buildings/households touched",
                        r.imported_residents, r.created_nodes
                    );
                    Ok(())
                }
                Err(kernel::AppError::Validation(f)) => {
                    eprintln!("导入被拒绝,未写入任何数据 / import rejected, nothing was written:");
                    for (k, msgs) in &f.0 {
                        for m in msgs {
                            eprintln!("  {k}: {m}");
                        }
                    }
                    Err(format!("{} problem(s) in {}", f.0.len(), file.display()))
                }
                Err(e) => Err(e.to_string()),
            }
        }
        Command::Backup { output, common } => {
            let config = Config::load(&common, false)?;
            init_logging(&config);
            let db = kernel::Db::connect(&config.database_url)
                .await
                .map_err(|e| e.to_string())?;
            let m = app::ops::backup(&db, &config.database_url, &output).await?;
            db.close().await;
            println!(
                "备份完成 / backup written: {} (schema {}, {} file(s), sha256 {})",
                output.display(),
                m.schema_version,
                m.files.len(),
                m.files[0].sha256
            );
            Ok(())
        }
        Command::Restore { from, common } => {
            let config = Config::load(&common, false)?;
            init_logging(&config);
            let m = app::ops::restore(&from, &config.database_url).await?;
            println!(
                "恢复完成 / restored the backup of {} (schema {}) into {}",
                m.created_at,
                m.schema_version,
                redact_url(&config.database_url)
            );
            Ok(())
        }
        Command::RotateKey {
            old_key,
            new_key,
            common,
        } => {
            let config = Config::load(&common, false)?;
            init_logging(&config);
            let old = kernel::crypto::FieldCipher::from_hex(&old_key)
                .map_err(|e| format!("--old-key: {e}"))?;
            let new = kernel::crypto::FieldCipher::from_hex_with(&new_key, config.field_cipher)
                .map_err(|e| format!("--new-key: {e}"))?;
            let db = app::open_database(&config.database_url)
                .await
                .map_err(|e| e.to_string())?;
            let r = app::ops::rotate_key(&db, &old, &new).await;
            db.close().await;
            let r = r?;
            println!(
                "密钥已轮换 / key rotated: {} values re-encrypted ({}), {} blind indexes recomputed; \
                 start the server with the new key",
                r.values,
                config.field_cipher.name(),
                r.indexes
            );
            Ok(())
        }
        Command::Audit {
            what: AuditWhat::Verify { common },
        } => {
            let config = Config::load(&common, false)?;
            init_logging(&config);
            let db = kernel::Db::connect(&config.database_url)
                .await
                .map_err(|e| e.to_string())?;
            let outcome = app::ops::audit_verify(&db).await;
            db.close().await;
            match outcome? {
                app::ops::AuditCheck::Intact { rows } => {
                    println!("OK: 审计链完整 / audit chain intact, {rows} rows");
                    Ok(())
                }
                app::ops::AuditCheck::Tampered { seq, id, at_ms } => {
                    let at = chrono::DateTime::from_timestamp_millis(at_ms)
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_default();
                    println!("TAMPERED: 审计链在第 {seq} 行断开 / first tampered row seq={seq} id={id} at={at}");
                    Err(format!("audit chain broken at seq {seq} (id {id}, {at})"))
                }
            }
        }
        Command::Export {
            what:
                ExportWhat::Report {
                    month,
                    org,
                    output,
                    common,
                },
        } => export_report(&month, org.as_deref(), &output, &common).await,
        Command::Export {
            what:
                ExportWhat::Residents {
                    org,
                    output,
                    common,
                },
        } => {
            let (_config, ctx) = offline_ctx(&common).await?;
            let node = find_node(&ctx, &org).await?;
            let residents = org::store::residents_in(
                &ctx.db,
                &ctx.cipher,
                std::slice::from_ref(&node.org_path),
                10_000_000,
            )
            .await
            .map_err(|e| e.to_string())?;
            let bytes = org::xlsx::export_workbook(&node, &residents).map_err(|e| e.to_string())?;
            std::fs::write(&output, bytes).map_err(|e| format!("{}: {e}", output.display()))?;
            println!(
                "已导出 / exported {} residents to {}",
                residents.len(),
                output.display()
            );
            Ok(())
        }
    }
}

async fn seed_world(
    profile: app::seed::Profile,
    seed: u64,
    common: &CommonArgs,
) -> Result<(), String> {
    let config = Config::load(common, false)?;
    init_logging(&config);
    let cipher = app::field_cipher(&config)?;
    let db = app::open_database(&config.database_url)
        .await
        .map_err(|e| e.to_string())?;
    let r = app::seed::run_exclusive(&db, &cipher, profile, seed, true)
        .await
        .map_err(|e| e.to_string())?;
    db.close().await;
    println!(
        "已写入 / seeded profile {} (seed {}) into {} in {:.1}s: {} rows ({:.0} rows/s)",
        r.profile,
        r.seed,
        redact_url(&config.database_url),
        r.seconds,
        r.rows,
        r.rows as f64 / r.seconds.max(0.001)
    );
    println!(
        "  org nodes {}, residents {}, accounts {} ({} residents), demands {}, events {}, rollup rows {}",
        r.org_nodes, r.residents, r.users, r.resident_accounts, r.demands, r.demand_events, r.rollup_rows
    );
    println!(
        "  离石区 demands in the busiest year (to 2026-11-01): {}",
        r.focus_district_busiest_year
    );
    println!(
        "登录 / logins (password {}): residents {} … {}; staff seed-district-141102, seed-street-141102001, \
         seed-community-141102001001, seed-butler-141102001001-c01, seed-property-141102001001-c01, seed-city",
        app::seed::SEED_PASSWORD,
        app::seed::resident_login(1),
        app::seed::resident_login(r.resident_accounts as usize),
    );
    Ok(())
}

async fn export_report(
    month: &str,
    org: Option<&str>,
    output: &std::path::Path,
    common: &CommonArgs,
) -> Result<(), String> {
    let (month, period) = insight::api::parse_month(Some(month)).map_err(|e| match e {
        kernel::AppError::Validation(f) => {
            f.0.values()
                .flatten()
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        }
        other => other.to_string(),
    })?;
    let (_config, ctx) = offline_ctx(common).await?;
    let scope = match org {
        Some(o) => insight::dashboard::Scope::of_node(find_node(&ctx, o).await?),
        None => insight::dashboard::Scope::whole_tree(&ctx.db)
            .await
            .map_err(|e| e.to_string())?,
    };
    let bytes = insight::report::workbook(&ctx, &scope, &month, &period)
        .await
        .map_err(|e| e.to_string())?;
    std::fs::write(output, bytes).map_err(|e| format!("{}: {e}", output.display()))?;
    let name = scope
        .node
        .as_ref()
        .map(|n| n.name.clone())
        .unwrap_or_else(|| "全部".into());
    println!(
        "已导出 / exported the {month} report of {name} to {}",
        output.display()
    );
    Ok(())
}

/// A context for commands that work on the database without serving.
async fn offline_ctx(args: &CommonArgs) -> Result<(Config, kernel::Ctx), String> {
    let demo = args.database_url.is_none()
        && std::path::Path::new("lianxin-data/demo.db").exists()
        && args.field_key.is_none();
    let config = Config::load(args, demo)?;
    init_logging(&config);
    let cipher = app::field_cipher(&config)?;
    let db = app::open_database(&config.database_url)
        .await
        .map_err(|e| e.to_string())?;
    let ctx = app::context(db, cipher, kernel::clock::system(), &config);
    Ok((config, ctx))
}

async fn find_node(ctx: &kernel::Ctx, org: &str) -> Result<org::store::NodeRow, String> {
    let found = if org.starts_with('/') {
        org::store::get_node_by_path(&ctx.db, org).await
    } else {
        match kernel::id::parse_id(org) {
            Some(id) => org::store::get_node(&ctx.db, &id).await,
            None => Ok(None),
        }
    };
    found
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no org node {org}"))
}

fn redact_url(url: &str) -> String {
    // postgres://user:password@host → postgres://user:***@host
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if url[s + 3..at].contains(':') => {
            let colon = s + 3 + url[s + 3..at].find(':').unwrap_or(0);
            format!("{}:***{}", &url[..colon], &url[at..])
        }
        _ => url.to_string(),
    }
}

async fn serve(args: CommonArgs, demo: bool) -> Result<(), String> {
    let config = Config::load(&args, demo)?;
    init_logging(&config);
    tracing::debug!(?config, "configuration");
    let cipher = app::field_cipher(&config)?;
    let db = app::open_database(&config.database_url)
        .await
        .map_err(|e| e.to_string())?;
    app::ops::check_blind_indexes(&db, &cipher).await?;
    let ctx = app::context(db, cipher, kernel::clock::system(), &config);
    if demo {
        let seeded = app::demo::seed_if_empty(&ctx)
            .await
            .map_err(|e| e.to_string())?;
        if seeded {
            println!("演示数据已写入 / demo world seeded");
        }
    }
    app::spawn_jobs(ctx.clone());
    if let Some(schedule) = config.backup_schedule() {
        app::spawn_backups(ctx.clone(), config.database_url.clone(), schedule);
    }
    let (running, scheme) = match &config.tls {
        Some((cert, key)) => {
            let tls = app::tls_config(cert, key)?;
            let r = app::start_tls(ctx, &config.addr, config.max_body_bytes, tls)
                .await
                .map_err(|e| e.to_string())?;
            (r, "https")
        }
        None => {
            let r = app::start(ctx, &config.addr, config.max_body_bytes)
                .await
                .map_err(|e| e.to_string())?;
            (r, "http")
        }
    };
    println!();
    println!(
        "连心 Lianxin 已启动 / is running: {scheme}://{}",
        running.addr
    );
    println!("数据库 / database: {}", redact_url(&config.database_url));
    if demo {
        println!();
        println!(
            "演示账号(密码均为 {}) / demo accounts (password {}):",
            app::demo::DEMO_PASSWORD,
            app::demo::DEMO_PASSWORD
        );
        for (login, name, what) in app::demo::ACCOUNTS {
            println!("  {login:<14} {name} — {what}");
        }
        println!();
        println!("居民请访问 / residents: {scheme}://{}/login", running.addr);
    }
    running.handle.await.map_err(|e| e.to_string())?;
    Ok(())
}
