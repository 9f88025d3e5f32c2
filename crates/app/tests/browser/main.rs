//! End to end in a real browser: headless Chromium driven through
//! chromedriver's W3C WebDriver HTTP API (`wd.rs`: plain `reqwest`).
//!
//! - `flows.rs`: the demand from filing (with a photo) to rating, with the
//!   butler's /work open in a second window that shows it arrive live, and
//!   the street dashboard's figures before and after; a party branch
//!   secretary recording an activity; a demand filed and rated with
//!   JavaScript switched off.
//! - `crawl.rs`: every demo role logs in and follows every link it can see;
//!   any 4xx/5xx, console error, failed or third-party request, or page
//!   without an `<h1>` fails.
//! - `checks.rs`: axe-core on the main pages (serious/critical violations
//!   fail), the main pages in English without Chinese in the interface, and
//!   the resident home's weight.
//!
//! Every page visited is checked (`wd::Session::check_page`). Each test runs
//! on a fresh database (`spawn_app`) and saves screenshots at 390×844 and
//! 1440×900 as `target/screenshots/<flow>-<step>-<width>.png`.
//!
//! Needs `chromium` and `chromedriver`: `$LIANXIN_CHROMIUM` /
//! `$LIANXIN_CHROMEDRIVER`, else `/usr/bin/chromium` / `/usr/bin/chromedriver`.
//! Without them every test prints SKIPPED and passes, so plain `cargo test`
//! works anywhere; `.ci/run` installs both and sets the variables.

#[path = "../api/helpers.rs"]
mod helpers;

mod checks;
mod crawl;
mod flows;
mod wd;

use helpers::{spawn_app, TestApp, PASSWORD};
use std::path::{Path, PathBuf};
use wd::Res;

pub const MOBILE: (u32, u32) = (390, 844);
pub const DESKTOP: (u32, u32) = (1440, 900);

/// One browser test at a time: the machines that run CI have two cores,
/// and several Chromiums at once only make every test slower and flakier.
static ONE_BROWSER_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The browser binaries, or `None` (skip) when this machine has none.
fn browser_binaries() -> Option<(PathBuf, PathBuf)> {
    fn pick(var: &str, default: &str) -> Option<PathBuf> {
        match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => {
                let p = PathBuf::from(v.trim());
                // Set but wrong is a broken setup (CI exports these only
                // after installing), not an absent browser: fail loudly.
                assert!(p.is_file(), "{var}={} does not exist", p.display());
                Some(p)
            }
            _ => Some(PathBuf::from(default)).filter(|p| p.is_file()),
        }
    }
    // The browser suite exercises pages, not the storage backend: .ci/run
    // runs it once (SQLite step) and turns it off for the PostgreSQL step.
    if std::env::var("LIANXIN_BROWSER_TESTS").is_ok_and(|v| v.trim() == "off") {
        eprintln!("SKIPPED browser test: LIANXIN_BROWSER_TESTS=off");
        return None;
    }
    let chromium = pick("LIANXIN_CHROMIUM", "/usr/bin/chromium");
    let driver = pick("LIANXIN_CHROMEDRIVER", "/usr/bin/chromedriver");
    match (chromium, driver) {
        (Some(c), Some(d)) => Some((c, d)),
        (c, d) => {
            eprintln!(
                "SKIPPED browser test: {} not found (set LIANXIN_CHROMIUM / LIANXIN_CHROMEDRIVER, \
                 or install Debian's chromium and chromium-driver)",
                match (c, d) {
                    (None, None) => "chromium and chromedriver",
                    (None, _) => "chromium",
                    _ => "chromedriver",
                }
            );
            None
        }
    }
}

/// A browser test's world: a fresh app, a chromedriver, the screenshot dir.
pub struct Rig {
    pub app: TestApp,
    pub driver: wd::Driver,
    pub chromium: PathBuf,
    pub shots: PathBuf,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl Rig {
    /// `None` (the test then passes, having said SKIPPED) without Chromium.
    pub async fn start() -> Option<Rig> {
        let (chromium, chromedriver) = browser_binaries()?;
        let turn = ONE_BROWSER_AT_A_TIME.lock().await;
        let app = spawn_app().await;
        let driver = wd::Driver::start(&chromedriver).await;
        Some(Rig {
            app,
            driver,
            chromium,
            shots: screenshot_dir(),
            _turn: turn,
        })
    }

    /// A new window (a person of its own) at phone size.
    pub async fn window(&self, javascript: bool) -> wd::Session {
        let mut b = self.driver.new_session(&self.chromium, javascript).await;
        if let Err(e) = b.set_viewport(MOBILE, true).await {
            b.quit().await;
            panic!("cannot size the browser to a phone: {e}");
        }
        b
    }

    /// Ends the windows; on failure saves a screenshot of each and panics
    /// with where the first window was and what it showed.
    pub async fn finish(&self, flow: &str, outcome: Res<()>, windows: &mut [&mut wd::Session]) {
        let mut context = String::new();
        if outcome.is_err() {
            for (i, w) in windows.iter().enumerate() {
                let _ = w
                    .screenshot(&self.shots, &format!("{flow}-99-failure-{i}"), None)
                    .await;
                if i == 0 {
                    context = w.context().await;
                }
            }
        }
        for w in windows.iter_mut() {
            w.quit().await;
        }
        if let Err(e) = outcome {
            panic!("{flow} failed: {e}\n{context}");
        }
    }
}

fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).expect("create target/screenshots");
    dir.canonicalize().unwrap_or(dir)
}

pub fn step(what: &str) {
    eprintln!("step: {what}");
}

/// Two screenshots of what the window shows now: at 390×844 (a phone) and
/// at 1440×900 (a desktop), named `<flow>-<step>-<width>.png`; the window
/// goes back to phone size afterwards.
pub async fn shoot(b: &mut wd::Session, shots: &Path, flow: &str, name: &str) -> Res<()> {
    b.screenshot(shots, &format!("{flow}-{name}-{}", MOBILE.0), Some(MOBILE))
        .await?;
    b.set_viewport(DESKTOP, false).await?;
    let desktop = b
        .screenshot(
            shots,
            &format!("{flow}-{name}-{}", DESKTOP.0),
            Some(DESKTOP),
        )
        .await;
    b.set_viewport(MOBILE, true).await?;
    desktop.map(drop)
}

/// Logs in on /login by typing, and expects to land on `home`.
pub async fn login(b: &mut wd::Session, app: &TestApp, who: &str, home: &str) -> Res<()> {
    b.goto(&app.url("/login")).await?;
    b.wait_for("form[action=\"/login\"]").await?;
    b.type_into("form[action=\"/login\"] #login", who).await?;
    b.type_into("form[action=\"/login\"] #password", PASSWORD)
        .await?;
    b.click_and_load("form[action=\"/login\"] button[type=\"submit\"]")
        .await?;
    if !home.is_empty() {
        b.expect_path(home).await?;
    }
    b.expect_text("header .who", "").await?;
    Ok(())
}

pub async fn logout(b: &mut wd::Session) -> Res<()> {
    b.click_and_load("header form[action=\"/logout\"] button[type=\"submit\"]")
        .await?;
    b.expect_path("/login").await?;
    if b.find("header .who").await?.is_some() {
        return Err("still shown as logged in after 退出登录".into());
    }
    Ok(())
}
