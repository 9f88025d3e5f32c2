//! `lianxin-bench` (issue #8): Lianxin's hot paths under 64 concurrent
//! clients, measured in the same run as the floor (../shared/limit, a bare
//! axum + SQLite server with group commit), so the ratios hold on noisy
//! hardware. Prints a table, writes `target/bench/latest.json`, marks each
//! target met or not; `--quick` (CI) fails only on an order-of-magnitude
//! regression against the floor.
//!
//!     cargo run --release -p lianxin-bench -- --profile street
//!     cargo run --release -p lianxin-bench -- --quick

mod load;
mod procs;
mod xlsx;

use clap::Parser;
use load::{round, Figure, Req};
use procs::Server;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

/// Quick-mode floors (generous: they catch a 10× slowdown, not noise).
const QUICK_MIN_CREATE_RATIO: f64 = 0.05;
const QUICK_MIN_LIST_RATIO: f64 = 0.06;

#[derive(Parser, Debug)]
#[command(
    name = "lianxin-bench",
    about = "连心 benchmark: Lianxin's hot paths vs the floor (../shared/limit), same machine, same run"
)]
struct Args {
    /// The world to load: `demo` (the demo world) or a `lianxin seed` profile
    /// (compound, street, district, city). A seed profile falls back to the
    /// demo world when this lianxin has no `seed` command.
    #[arg(long, default_value = "street")]
    profile: String,
    /// Seed for `lianxin seed`.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// CI mode: compound profile unless --profile is given, a few seconds per
    /// figure, no import unless --import-rows is given; exit 1 when
    /// create-demand < 0.05× the floor's insert or list < 0.06× its read.
    #[arg(long)]
    quick: bool,
    /// Seconds of load per figure (default 10; 3 with --quick).
    #[arg(long)]
    seconds: Option<f64>,
    /// Concurrent clients (one keep-alive connection each).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Concurrent clients for the district figures (rates, dashboard,
    /// Open311): the staff of a district office at their screens, not a
    /// load test. Their targets are latencies (p99 ≤ 50 ms).
    #[arg(long, default_value_t = 4)]
    district_connections: usize,
    /// The floor's read-only source folder (copied to target/limit-src).
    #[arg(long, default_value = "../shared/limit")]
    limit_src: PathBuf,
    /// A prebuilt `lianxin` binary; default: `cargo build --release -p app` and
    /// target/release/lianxin.
    #[arg(long)]
    lianxin_bin: Option<PathBuf>,
    /// Database for Lianxin (default: a fresh SQLite file under target/bench).
    /// A postgres:// URL must name an existing, empty database.
    #[arg(long)]
    database_url: Option<String>,
    /// Residents in the generated import workbook (0: skip the import figure).
    #[arg(long)]
    import_rows: Option<usize>,
    /// The admin whose district the rates and dashboard are measured for
    /// (default: district-ls in the demo world; in a seeded world the first
    /// district login `lianxin seed` prints).
    #[arg(long)]
    admin_login: Option<String>,
    /// Where the JSON goes (default target/bench/latest.json).
    #[arg(long)]
    out: Option<PathBuf>,
}

const DEMO_PASSWORD: &str = "lianxin-demo";
const SEED_PASSWORD: &str = "lianxin-seed";

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match rt.block_on(bench(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lianxin-bench: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ sits in the repository")
        .to_path_buf()
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { root.join(p) })
        .unwrap_or_else(|| root.join("target"))
}

fn say(s: impl AsRef<str>) {
    eprintln!("[bench] {}", s.as_ref());
}

struct Plan {
    seconds: f64,
    warmup: f64,
    connections: usize,
}

impl Plan {
    async fn load<F>(&self, what: &str, make: F) -> Figure
    where
        F: Fn(usize, u64) -> Req + Send + Sync + 'static,
    {
        say(format!(
            "{what}: {} clients, {:.0}s",
            self.connections, self.seconds
        ));
        let f = load::run(
            self.connections,
            Duration::from_secs_f64(self.warmup),
            Duration::from_secs_f64(self.seconds),
            make,
        )
        .await;
        say(format!(
            "  {:.0}/s p50 {:.2} ms p99 {:.2} ms ({} ok, {} errors){}",
            f.throughput,
            f.p50_ms,
            f.p99_ms,
            f.ok,
            f.errors,
            f.first_error
                .as_deref()
                .map(|e| format!(" first error: {e}"))
                .unwrap_or_default()
        ));
        f
    }
}

async fn bench(mut args: Args) -> Result<std::process::ExitCode, String> {
    let root = repo_root();
    let target = target_dir(&root);
    if args.quick && args.profile == "street" {
        args.profile = "compound".into();
    }
    let plan = Plan {
        seconds: args.seconds.unwrap_or(if args.quick { 3.0 } else { 10.0 }),
        warmup: if args.quick { 0.5 } else { 1.0 },
        connections: args.connections,
    };
    let import_rows = args
        .import_rows
        .unwrap_or(if args.quick { 0 } else { 100_000 });
    let limit_src = if args.limit_src.is_absolute() {
        args.limit_src.clone()
    } else {
        root.join(&args.limit_src)
    };
    let run_dir = target.join("bench").join("run");
    let _ = std::fs::remove_dir_all(&run_dir);
    std::fs::create_dir_all(&run_dir).map_err(|e| e.to_string())?;

    // ------------------------------------------------------------ builds
    say(format!("building the floor from {}", limit_src.display()));
    let floor_bin = procs::build_floor(&limit_src, &target)?;
    let lianxin = match &args.lianxin_bin {
        Some(p) => p.clone(),
        None => {
            say("building lianxin (release)");
            procs::run(
                Command::new(procs::cargo()).current_dir(&root).args([
                    "build",
                    "--release",
                    "--quiet",
                    "-p",
                    "app",
                    "--bin",
                    "lianxin",
                ]),
                "build lianxin",
            )?;
            target.join("release").join("lianxin")
        }
    };

    // ------------------------------------------------------------ the floor
    let floor_dir = target.join("limit");
    let floor = procs::start_floor(&floor_bin, &floor_dir).await?;
    let fb = floor.base.clone();
    let floor_insert_load = move |w: usize, s: u64| {
        Req::post(
            format!("{fb}/demands"),
            None,
            json!({"compound_id": (w as u64 + s) % 100 + 1, "category": "repair",
                   "title": "楼道灯不亮", "body": "三单元二楼楼道灯坏了,晚上看不见台阶。"})
            .to_string(),
        )
    };
    let fb = floor.base.clone();
    let floor_read_load = move |w: usize, s: u64| {
        Req::get(
            format!(
                "{fb}/demands?compound_id={}&limit=20",
                (w as u64 + s) % 100 + 1
            ),
            None,
        )
    };
    // Measured once before the seed (which also fills the floor's table for
    // its reads), and again right before Lianxin's own figure, the floor
    // idling in between: a shared machine's speed drifts over the minutes
    // of a city seed (session 10 saw the floor's read at 31.5k/s in one run
    // and 17.9k/s in the next), and the ratio is taken against the floor
    // measured in the same minute.
    let floor_insert_first = plan
        .load("floor insert (POST /demands)", floor_insert_load.clone())
        .await;
    let floor_read_first = plan
        .load(
            "floor read (GET /demands, 20 rows)",
            floor_read_load.clone(),
        )
        .await;

    // ------------------------------------------------------------ Lianxin's world
    let field_key = hex::encode(rand::random::<[u8; 32]>());
    let db_url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", run_dir.join("lianxin.db").display()));
    let backend = if db_url.starts_with("postgres") {
        "postgresql"
    } else {
        "sqlite"
    };
    std::fs::write(
        run_dir.join("lianxin.toml"),
        "# Written by lianxin-bench: the rate limits would otherwise throttle the load.\n\
         login_rate_per_minute = 100000000\n\
         intake_rate_per_minute = 100000000\n\
         log = \"warn\"\n\
         # Seeded staff have no TOTP and old passwords; `serve` would ask for both.\n\
         [auth]\n\
         require_totp_for_staff = false\n\
         password_max_age_days = 0\n",
    )
    .map_err(|e| e.to_string())?;
    let env = vec![("LIANXIN_FIELD_KEY", field_key.clone())];
    let common = |cmd: &str| -> Vec<String> {
        vec![
            cmd.to_string(),
            "--addr".into(),
            "127.0.0.1:0".into(),
            "--database-url".into(),
            db_url.clone(),
            "--config".into(),
            run_dir.join("lianxin.toml").display().to_string(),
        ]
    };

    let has_seed = args.profile != "demo"
        && Command::new(&lianxin)
            .args(["seed", "--help"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
    let mut notes: Vec<String> = Vec::new();
    let mut seed_seconds = None;
    let mut seed_logins: Vec<String> = Vec::new();
    let world;
    let server = if has_seed {
        say(format!(
            "lianxin seed --profile {} --seed {}",
            args.profile, args.seed
        ));
        let t0 = std::time::Instant::now();
        let out = Command::new(&lianxin)
            .args([
                "seed",
                "--profile",
                &args.profile,
                "--seed",
                &args.seed.to_string(),
            ])
            .args(["--database-url", &db_url])
            .env("LIANXIN_FIELD_KEY", &field_key)
            .current_dir(&run_dir)
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| format!("lianxin seed: {e}"))?;
        if !out.status.success() {
            return Err(format!("lianxin seed failed: {}", out.status));
        }
        seed_seconds = Some(t0.elapsed().as_secs_f64());
        let text = String::from_utf8_lossy(&out.stdout);
        seed_logins = text
            .split(|c: char| c.is_whitespace() || c == ',' || c == '|')
            .filter(|w| w.starts_with("seed-"))
            .map(|w| {
                w.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-')
                    .to_string()
            })
            .collect();
        if args.admin_login.is_none() {
            args.admin_login = text
                .lines()
                .filter(|l| l.contains("district") || l.contains("区"))
                .flat_map(|l| l.split_whitespace())
                .map(|w| w.trim_end_matches([',', ';', '.']))
                .find(|w| w.starts_with("seed-") && !w.starts_with("seed-r-"))
                .map(str::to_string);
        }
        world = format!("seed --profile {} --seed {}", args.profile, args.seed);
        procs::start_lianxin(&lianxin, &common("serve"), &env, &run_dir).await?
    } else {
        if args.profile != "demo" {
            notes.push(format!(
                "this lianxin has no `seed` command: profile {} fell back to the demo world",
                args.profile
            ));
            say(notes.last().unwrap());
        }
        world = "demo".into();
        procs::start_lianxin(&lianxin, &common("demo"), &env, &run_dir).await?
    };
    say(format!(
        "lianxin serves {} ({world}, {backend})",
        server.base
    ));
    // A server started on a seeded history first catches up in the
    // background (the retention job anonymises what aged past its window
    // since the seed's anchor, the overdue sweep flags what fell due): a
    // day's share of that in production, years' worth here. Measure the
    // steady state, after it.
    let caught_up = std::time::Instant::now();
    if server.wait_idle(Duration::from_secs(300)).await {
        say(format!(
            "  background catch-up done after {:.1} s",
            caught_up.elapsed().as_secs_f64()
        ));
    } else {
        notes.push("the server was still busy 300 s after its start; measured anyway".into());
        say(notes.last().unwrap());
    }
    let base = server.base.clone();
    let client = reqwest::Client::new();

    // Residents: distinct ones when the world has enough, else shared.
    let (resident_logins, password): (Vec<String>, &str) = if world == "demo" {
        (
            (1..=3).map(|i| format!("1380000000{i}")).collect(),
            DEMO_PASSWORD,
        )
    } else {
        // The logins `lianxin seed` printed, else its documented numbering.
        let printed: Vec<String> = seed_logins
            .iter()
            .filter(|l| l.starts_with("seed-r-"))
            .take(plan.connections)
            .cloned()
            .collect();
        // `seed` prints the first and last of its residents' logins; take
        // its documented numbering when it printed fewer than we need.
        let logins = if printed.len() < plan.connections {
            (1..=plan.connections)
                .map(|i| format!("seed-r-{i:06}"))
                .collect()
        } else {
            printed
        };
        (logins, SEED_PASSWORD)
    };
    let mut tokens: Vec<Arc<str>> = Vec::new();
    for l in &resident_logins {
        match login(&client, &base, l, password).await {
            Ok(t) => tokens.push(t.into()),
            Err(e) => say(format!("login {l}: {e}")),
        }
    }
    if tokens.is_empty() {
        return Err("no resident could log in".into());
    }
    say(format!("{} resident sessions", tokens.len()));
    let category = first_category(&client, &base, &tokens[0]).await?;

    // ------------------------------------------------------------ list / create
    let floor_read = plan
        .load(
            "floor read again, right before the list",
            floor_read_load.clone(),
        )
        .await;
    // The list first, on the world as seeded: after the create load each
    // resident has thousands of fresh demands, and the outbox is still
    // fanning their notices out.
    let (b, t) = (base.clone(), tokens.clone());
    let list = plan
        .load(
            "lianxin list-my-scope (GET /api/v1/demands, 20 rows)",
            move |w, _| {
                Req::get(
                    format!("{b}/api/v1/demands?limit=20"),
                    Some(t[w % t.len()].clone()),
                )
            },
        )
        .await;

    let floor_insert = plan
        .load(
            "floor insert again, right before create-demand",
            floor_insert_load.clone(),
        )
        .await;
    let floor_rss = floor.peak_rss_mib();
    floor.stop();
    let (b, t, c) = (base.clone(), tokens.clone(), category.clone());
    let create = plan
        .load(
            "lianxin create-demand (POST /api/v1/demands)",
            move |w, s| {
                Req::post(
                    format!("{b}/api/v1/demands"),
                    Some(t[w % t.len()].clone()),
                    json!({"category": c, "title": "楼道灯不亮",
                       "description": format!("三单元二楼楼道灯坏了,晚上看不见台阶。#{w}-{s}")})
                    .to_string(),
                )
            },
        )
        .await;
    // The creates left notices to fan out: let that finish before the
    // district figures are measured.
    server.wait_idle(Duration::from_secs(120)).await;

    // ------------------------------------------------------------ district figures
    let admin = args
        .admin_login
        .clone()
        .or_else(|| (world == "demo").then(|| "district-ls".to_string()));
    let admin_password = if world == "demo" {
        DEMO_PASSWORD
    } else {
        SEED_PASSWORD
    };
    let light = Plan {
        seconds: (plan.seconds / 2.0).max(1.0),
        warmup: plan.warmup,
        connections: args.district_connections.max(1),
    };
    let mut rates = None;
    let mut dashboard = None;
    let mut compound_for_import = None;
    let mut district_name = None;
    match &admin {
        Some(a) => match login(&client, &base, a, admin_password).await {
            Ok(tok) => {
                let tok: Arc<str> = tok.into();
                let (district, compound) = find_nodes(&client, &base, &tok).await?;
                compound_for_import = compound;
                if let Some((id, name)) = district {
                    district_name = Some(name);
                    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive(); // Shanghai
                    let from = today - chrono::Days::new(365);
                    let (b, t) = (base.clone(), tok.clone());
                    rates = Some(
                        light
                            .load("rates, a district over a year (GET /api/v1/insight/rates)", move |_, _| {
                                Req::get(
                                    format!("{b}/api/v1/insight/rates?org={id}&from={from}&to={today}"),
                                    Some(t.clone()),
                                )
                            })
                            .await,
                    );
                } else {
                    notes.push(format!("{a} sees no district: rates not measured"));
                }
                // The dashboard page over the same year as the rates.
                let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive(); // Shanghai
                let from = today - chrono::Days::new(365);
                let (b, t) = (base.clone(), tok.clone());
                dashboard = Some(
                    light
                        .load(
                            "dashboard page over a year (GET /insight as the district admin)",
                            move |_, _| {
                                Req::get(
                                    format!("{b}/insight?from={from}&to={today}"),
                                    Some(t.clone()),
                                )
                            },
                        )
                        .await,
                );
            }
            Err(e) => notes.push(format!(
                "admin {a} cannot log in ({e}): rates and dashboard not measured"
            )),
        },
        None => notes.push(
            "no district admin known (give --admin-login): rates and dashboard not measured".into(),
        ),
    }
    let b = base.clone();
    let open311 = light
        .load("Open311 (GET /open311/v2/requests.json)", move |_, _| {
            Req::get(format!("{b}/open311/v2/requests.json"), None)
        })
        .await;
    let server_rss = server.peak_rss_mib();
    let startup = server.startup;
    stop(server);

    // ------------------------------------------------------------ import
    let mut import_seconds = None;
    if import_rows > 0 {
        match &compound_for_import {
            Some(compound) => {
                say(format!("generating a workbook of {import_rows} residents"));
                let bytes = xlsx::residents_workbook(import_rows)?;
                let file = run_dir.join("residents.xlsx");
                std::fs::write(&file, bytes).map_err(|e| e.to_string())?;
                say(format!("lianxin import residents ({import_rows} rows)"));
                let took = match procs::run(
                    Command::new(&lianxin)
                        .args(["import", "residents", "--org", compound])
                        .arg(&file)
                        .args(["--database-url", &db_url])
                        .arg("--config")
                        .arg(run_dir.join("lianxin.toml"))
                        .env("LIANXIN_FIELD_KEY", &field_key)
                        .current_dir(&run_dir)
                        .stdout(std::process::Stdio::null()),
                    "lianxin import residents",
                ) {
                    Ok(took) => took,
                    Err(e) => {
                        // A refused import is a finding, not a reason to
                        // lose the other figures.
                        notes.push(format!("import refused: {e}"));
                        say(notes.last().unwrap());
                        Duration::ZERO
                    }
                };
                if !took.is_zero() {
                    import_seconds = Some(took.as_secs_f64());
                    say(format!("  {:.1} s", took.as_secs_f64()));
                }
            }
            None => notes.push("no compound found: import not measured".into()),
        }
    }

    // ------------------------------------------------------------ report
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let create_ratio = ratio(create.throughput, floor_insert.throughput);
    let list_ratio = ratio(list.throughput, floor_read.throughput);
    let city = args.profile == "city" && world != "demo";
    let mut targets = vec![
        goal(
            "create-demand ≥ 0.5× the floor's insert, p99 ≤ 25 ms",
            format!("{create_ratio:.2}×, p99 {:.1} ms", create.p99_ms),
            Some(create_ratio >= 0.5 && create.p99_ms <= 25.0 && create.errors == 0),
            "",
        ),
        goal(
            "list ≥ 0.6× the floor's read",
            format!("{list_ratio:.2}×"),
            Some(list_ratio >= 0.6 && list.errors == 0),
            "",
        ),
    ];
    let size_note = if city {
        ""
    } else {
        "the target is for the city profile (≥ 2 million cases); this world is smaller"
    };
    for (name, f) in [
        ("rates, a district over a year, p99 ≤ 50 ms", &rates),
        ("dashboard render, a district, p99 ≤ 50 ms", &dashboard),
    ] {
        targets.push(match f {
            Some(f) => goal(
                name,
                format!("p99 {:.1} ms", f.p99_ms),
                Some(f.p99_ms <= 50.0 && f.errors == 0),
                size_note,
            ),
            None => goal(name, "not measured".into(), None, ""),
        });
    }
    targets.push(match seed_seconds {
        Some(s) if city => goal(
            "city seed ≤ 10 minutes",
            format!("{s:.0} s"),
            Some(s <= 600.0),
            "",
        ),
        Some(s) => goal(
            "city seed ≤ 10 minutes",
            format!("{s:.1} s ({} profile)", args.profile),
            None,
            "only the city profile counts",
        ),
        None => goal("city seed ≤ 10 minutes", "not seeded".into(), None, ""),
    });
    targets.push(match import_seconds {
        Some(s) if import_rows >= 100_000 => goal(
            "import 100k residents ≤ 30 s",
            format!("{s:.1} s"),
            Some(s <= 30.0),
            "",
        ),
        Some(s) => goal(
            "import 100k residents ≤ 30 s",
            format!("{s:.1} s for {import_rows} rows"),
            None,
            "fewer rows than the target",
        ),
        None => goal(
            "import 100k residents ≤ 30 s",
            "not measured".into(),
            None,
            "",
        ),
    });
    targets.push(match server_rss {
        Some(m) => goal(
            "server RSS ≤ 250 MB under load",
            format!("{m:.0} MiB"),
            Some(m <= 250.0),
            "",
        ),
        None => goal("server RSS ≤ 250 MB under load", "unknown".into(), None, ""),
    });

    let report = json!({
        "when": chrono::Utc::now().to_rfc3339(),
        "machine": machine(),
        "backend": backend,
        "world": world,
        "profile": args.profile,
        "quick": args.quick,
        "connections": plan.connections,
        "district_connections": args.district_connections.max(1),
        "seconds_per_figure": plan.seconds,
        "floor": {
            "insert": floor_insert.to_json(),
            "read": floor_read.to_json(),
            "before_seed": {
                "insert": floor_insert_first.to_json(),
                "read": floor_read_first.to_json(),
            },
            "peak_rss_mib": floor_rss.map(|m| round(m, 1)),
        },
        "lianxin": {
            "create_demand": with_ratio(&create, floor_insert.throughput),
            "list_my_scope": with_ratio(&list, floor_read.throughput),
            "rates_district_year": rates.as_ref().map(Figure::to_json),
            "dashboard_page": dashboard.as_ref().map(Figure::to_json),
            "open311_requests_json": open311.to_json(),
            "import_residents": import_seconds.map(|s| json!({"rows": import_rows, "seconds": round(s, 2)})),
            "seed_seconds": seed_seconds.map(|s| round(s, 2)),
            "startup_seconds": round(startup.as_secs_f64(), 2),
            "peak_rss_mib": server_rss.map(|m| round(m, 1)),
            "district": district_name,
        },
        "targets": targets,
        "notes": notes,
    });
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| target.join("bench").join("latest.json"));
    if let Some(d) = out.parent() {
        std::fs::create_dir_all(d).map_err(|e| e.to_string())?;
    }
    std::fs::write(&out, serde_json::to_string_pretty(&report).expect("json"))
        .map_err(|e| e.to_string())?;

    print_table(
        &report,
        &floor_insert,
        &floor_read,
        &[
            ("create-demand", Some(&create), Some(create_ratio)),
            ("list-my-scope (20 rows)", Some(&list), Some(list_ratio)),
            ("rates, district, 1 year", rates.as_ref(), None),
            ("dashboard /insight", dashboard.as_ref(), None),
            ("Open311 requests.json", Some(&open311), None),
        ],
    );
    println!("JSON: {}", out.display());

    if args.quick {
        let mut failed = false;
        if create_ratio < QUICK_MIN_CREATE_RATIO || create.ok == 0 {
            eprintln!(
                "REGRESSION: create-demand {:.0}/s is {create_ratio:.3}× the floor's insert (minimum {QUICK_MIN_CREATE_RATIO}×)",
                create.throughput
            );
            failed = true;
        }
        if list_ratio < QUICK_MIN_LIST_RATIO || list.ok == 0 {
            eprintln!(
                "REGRESSION: list {:.0}/s is {list_ratio:.3}× the floor's read (minimum {QUICK_MIN_LIST_RATIO}×)",
                list.throughput
            );
            failed = true;
        }
        if failed {
            return Ok(std::process::ExitCode::from(1));
        }
        println!("quick check passed: create {create_ratio:.2}× (≥ {QUICK_MIN_CREATE_RATIO}), list {list_ratio:.2}× (≥ {QUICK_MIN_LIST_RATIO})");
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn stop(s: Server) {
    s.stop();
}

fn goal(name: &str, value: String, met: Option<bool>, note: &str) -> Value {
    json!({
        "target": name,
        "value": value,
        "met": met,
        "status": match met { Some(true) => "met", Some(false) => "NOT MET", None => "n/a" },
        "note": note,
    })
}

fn with_ratio(f: &Figure, floor: f64) -> Value {
    let mut v = f.to_json();
    v["ratio_to_floor"] = json!(round(
        if floor > 0.0 {
            f.throughput / floor
        } else {
            0.0
        },
        3
    ));
    v
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map(|m| m.trim().to_string())
    });
    let mem_gib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| round(kb / 1024.0 / 1024.0, 1))
    });
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu_model": cpu,
        "memory_gib": mem_gib,
    })
}

fn print_table(
    report: &Value,
    floor_insert: &Figure,
    floor_read: &Figure,
    rows: &[(&str, Option<&Figure>, Option<f64>)],
) {
    println!();
    println!(
        "连心 Lianxin bench — {} world, {}, {} clients ({} for the district figures), {}",
        report["world"].as_str().unwrap_or(""),
        report["backend"].as_str().unwrap_or(""),
        report["connections"],
        report["district_connections"],
        report["machine"]["cpu_model"].as_str().unwrap_or("?")
    );
    println!(
        "{:<30} {:>10} {:>9} {:>9} {:>8} {:>7}",
        "figure", "req/s", "p50 ms", "p99 ms", "errors", "×floor"
    );
    let line = |name: &str, f: &Figure, r: Option<f64>| {
        println!(
            "{:<30} {:>10.0} {:>9.2} {:>9.2} {:>8} {:>7}",
            name,
            f.throughput,
            f.p50_ms,
            f.p99_ms,
            f.errors,
            r.map(|r| format!("{r:.2}")).unwrap_or_else(|| "".into())
        )
    };
    line("floor: insert", floor_insert, None);
    line("floor: read 20 rows", floor_read, None);
    let before = &report["floor"]["before_seed"];
    println!(
        "(the floor measured again beside each of Lianxin's figures; before the seed: insert {:.0}/s, read {:.0}/s)",
        before["insert"]["throughput_per_s"].as_f64().unwrap_or(0.0),
        before["read"]["throughput_per_s"].as_f64().unwrap_or(0.0)
    );
    for (name, f, r) in rows {
        match f {
            Some(f) => line(name, f, *r),
            None => println!("{name:<30} {:>10}", "—"),
        }
    }
    let l = &report["lianxin"];
    if let Some(s) = l["seed_seconds"].as_f64() {
        println!("seed: {s:.1} s");
    }
    if let Some(i) = l["import_residents"].as_object() {
        println!("import: {} residents in {} s", i["rows"], i["seconds"]);
    }
    if let Some(m) = l["peak_rss_mib"].as_f64() {
        println!("server peak RSS: {m:.0} MiB");
    }
    println!();
    println!("targets (issue #8):");
    for t in report["targets"].as_array().into_iter().flatten() {
        let note = t["note"].as_str().unwrap_or("");
        println!(
            "  [{:<7}] {} — {}{}",
            t["status"].as_str().unwrap_or(""),
            t["target"].as_str().unwrap_or(""),
            t["value"].as_str().unwrap_or(""),
            if note.is_empty() {
                String::new()
            } else {
                format!(" ({note})")
            }
        );
    }
    for n in report["notes"].as_array().into_iter().flatten() {
        println!("note: {}", n.as_str().unwrap_or(""));
    }
}

async fn login(
    client: &reqwest::Client,
    base: &str,
    login: &str,
    password: &str,
) -> Result<String, String> {
    let r = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"login": login, "password": password}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status();
    let body: Value = r.json().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{status} {body}"));
    }
    body["token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "no token in the answer".into())
}

fn items(v: &Value) -> Vec<Value> {
    v.get("items")
        .and_then(Value::as_array)
        .or_else(|| v.as_array())
        .cloned()
        .unwrap_or_default()
}

async fn get_json(client: &reqwest::Client, url: &str, token: &str) -> Result<Value, String> {
    let r = client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = r.status();
    let v: Value = r.json().await.map_err(|e| format!("GET {url}: {e}"))?;
    if !status.is_success() {
        return Err(format!("GET {url}: {status} {v}"));
    }
    Ok(v)
}

async fn first_category(
    client: &reqwest::Client,
    base: &str,
    token: &str,
) -> Result<String, String> {
    let v = get_json(client, &format!("{base}/api/v1/demand-categories"), token).await?;
    items(&v)
        .first()
        .and_then(|c| c["code"].as_str())
        .map(str::to_string)
        .ok_or_else(|| "no demand category".into())
}

/// The admin's district (id, name) and the first compound in scope (id).
async fn find_nodes(
    client: &reqwest::Client,
    base: &str,
    token: &str,
) -> Result<(Option<(String, String)>, Option<String>), String> {
    let (mut district, mut compound) = (None, None);
    let mut cursor: Option<String> = None;
    for _ in 0..50 {
        let url = match &cursor {
            Some(c) => format!("{base}/api/v1/org/tree?limit=100&cursor={c}"),
            None => format!("{base}/api/v1/org/tree?limit=100"),
        };
        let page = get_json(client, &url, token).await?;
        for n in items(&page) {
            let id = n["id"].as_str().unwrap_or_default().to_string();
            match n["kind"].as_str() {
                Some("district") if district.is_none() => {
                    district = Some((id, n["name"].as_str().unwrap_or_default().to_string()))
                }
                Some("compound") if compound.is_none() => compound = Some(id),
                _ => {}
            }
        }
        if district.is_some() && compound.is_some() {
            break;
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    Ok((district, compound))
}
