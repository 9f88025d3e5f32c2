//! End to end in a real browser: headless Chromium driven through
//! chromedriver's W3C WebDriver HTTP API (plain `reqwest` + `serde_json`).
//!
//! One demand from filing to rating, through the pages only, the way people
//! use them: the resident files it on /me, the community accepts and
//! dispatches it, the butler starts and resolves it from the /work inbox, the
//! community verifies it, the resident rates it. Every page visited is checked
//! (no error page, HTTP 200, the /static stylesheet loaded, no failed /static
//! request, a heading) and screenshots go to `target/screenshots/`
//! (390×844, and one 1440×900 of the staff workbench).
//!
//! Needs `chromium` and `chromedriver`: `$LIANXIN_CHROMIUM` /
//! `$LIANXIN_CHROMEDRIVER`, else `/usr/bin/chromium` / `/usr/bin/chromedriver`.
//! Without them the test prints a message and passes, so plain `cargo test`
//! works anywhere; `.ci/run` installs both and sets the variables.

#[path = "api/helpers.rs"]
mod helpers;

use helpers::{spawn_app, TestApp, PASSWORD};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const RESIDENT: &str = "13800000001";
const COMMUNITY: &str = "community-zq";
const BUTLER: &str = "butler-xc";
/// 赵晓东 is the demo world's butler of 新城壹号小区 (butler-xc).
const BUTLER_NAME: &str = "赵晓东";
const MOBILE: (u32, u32) = (390, 844);
const DESKTOP: (u32, u32) = (1440, 900);
const WAIT: Duration = Duration::from_secs(10);

type Res<T> = Result<T, String>;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demand_from_filing_to_rating_in_the_browser() {
    let Some((chromium, chromedriver)) = browser_binaries() else {
        return;
    };
    let started = Instant::now();
    let app = spawn_app().await;
    let driver = wd::Driver::start(&chromedriver).await;
    let mut b = driver.new_session(&chromium).await;
    if let Err(e) = b.set_viewport(MOBILE, true).await {
        b.quit().await;
        panic!("cannot size the browser to a phone: {e}");
    }
    let shots = screenshot_dir();
    let outcome = demand_flow(&mut b, &app, &shots).await;
    if let Err(e) = outcome {
        let _ = b.screenshot(&shots, "demand-99-failure", None).await;
        let context = b.context().await;
        b.quit().await;
        panic!("browser flow failed: {e}\n{context}");
    }
    b.quit().await;
    drop(driver);
    eprintln!(
        "browser flow passed in {:.1}s; {} pages checked; screenshots in {}",
        started.elapsed().as_secs_f64(),
        b.pages_checked,
        shots.display()
    );
}

fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).expect("create target/screenshots");
    dir.canonicalize().unwrap_or(dir)
}

/// The whole story; every step asserts on what the page says.
async fn demand_flow(b: &mut wd::Session, app: &TestApp, shots: &Path) -> Res<()> {
    let title = "卫生间顶棚漏水(浏览器测试)";
    let description = "楼上卫生间往下渗水,顶棚已经起皮,请尽快派人查看。";
    let resolve_note = "已更换楼上卫生间的下水管密封圈,顶棚晾干后重新粉刷。";
    let mobile = Some(MOBILE);

    // 1. The resident logs in and files a demand on /me.
    step("resident 13800000001 files a demand on /me");
    login(b, app, RESIDENT, "/me").await?;
    b.expect_text("h1", "我的诉求").await?;
    b.screenshot(shots, "demand-01-resident-home", mobile)
        .await?;

    let select = b.wait_for("#new select#category").await?;
    b.click(&select).await?;
    let leak = b
        .wait_for("#new select#category option[value=\"leak\"]")
        .await?;
    b.click(&leak).await?;
    let picked = b
        .exec(
            "return document.querySelector('#category').value;",
            json!([]),
        )
        .await?;
    if picked != "leak" {
        return Err(format!("category select holds {picked}, not leak"));
    }
    b.type_into("#new #title", title).await?;
    b.type_into("#new #description", description).await?;
    b.expect_value("#new #title", title).await?;
    b.expect_value("#new #description", description).await?;
    b.screenshot(shots, "demand-02-filing-form", mobile).await?;
    b.click_and_load("#new form button[type=\"submit\"]")
        .await?;
    b.expect_path("/me").await?;
    b.expect_text(".flash.ok", "诉求已提交").await?;
    let mine = b.section_link("我反映的诉求", title).await?;
    b.expect_text_in(&mine, "已提交").await?;
    b.screenshot(shots, "demand-03-filed", mobile).await?;
    b.scroll_to(&mine).await?;
    b.screenshot(shots, "demand-03b-my-demands", mobile).await?;
    logout(b).await?;

    // 2. The community accepts it and dispatches it by auto-routing.
    step("community-zq accepts and dispatches it (auto-route)");
    login(b, app, COMMUNITY, "/work").await?;
    b.expect_text("h1", "工作台").await?;
    let link = b.link_in_main(title).await?;
    b.click_link(&link).await?;
    b.expect_text("h1", title).await?;
    expect_status(b, "已提交").await?;
    b.expect_text("main", description).await?;
    b.screenshot(shots, "demand-04-community-opens", mobile)
        .await?;
    act(b, "accept", "受理", None).await?;
    expect_status(b, "已受理").await?;
    let auto = b
        .wait_for("form.action-form select#assignee-dispatch option[value=\"\"]")
        .await?;
    b.expect_text_in(&auto, "自动派单").await?;
    b.click(&auto).await?;
    act(b, "dispatch", "派遣", None).await?;
    expect_status(b, "已派遣").await?;
    b.expect_text("dl.kv", BUTLER_NAME).await?;
    b.expect_text("ol.timeline", "派遣").await?;
    b.screenshot(shots, "demand-05-dispatched", mobile).await?;
    logout(b).await?;

    // 3. The butler finds it in the inbox, starts it and resolves it.
    step("butler-xc starts and resolves it from the /work inbox");
    login(b, app, BUTLER, "/work").await?;
    let inbox = b.section_link("待办", title).await?;
    b.expect_text_in(&inbox, "已派遣").await?;
    b.screenshot(shots, "demand-06-butler-inbox", mobile)
        .await?;
    b.click_link(&inbox).await?;
    b.expect_text("h1", title).await?;
    act(b, "start", "接单处置", None).await?;
    expect_status(b, "处置中").await?;
    act(b, "resolve", "办结反馈", Some(resolve_note)).await?;
    expect_status(b, "已反馈").await?;
    b.expect_text("ol.timeline", "办结反馈").await?;
    b.expect_text("ol.timeline", resolve_note).await?;
    b.screenshot(shots, "demand-07-resolved", mobile).await?;
    logout(b).await?;

    // 4. The community verifies the work and closes the case.
    step("community-zq verifies and closes it");
    login(b, app, COMMUNITY, "/work").await?;
    let link = b.link_in_main(title).await?;
    b.expect_text_in(&link, "已反馈").await?;
    b.click_link(&link).await?;
    act(b, "verify_pass", "核查通过,结案", None).await?;
    expect_status(b, "已结案").await?;
    b.screenshot(shots, "demand-08-closed", mobile).await?;
    logout(b).await?;

    // 5. The resident sees it closed and rates it.
    step("the resident rates it");
    login(b, app, RESIDENT, "/me").await?;
    let mine = b.section_link("我反映的诉求", title).await?;
    b.expect_text_in(&mine, "已结案").await?;
    b.click_link(&mine).await?;
    b.expect_text("h1", title).await?;
    b.expect_text("main", "回访评价").await?;
    eprintln!(
        "  before rating the resident is offered {}",
        offered_actions(b).await?
    );
    let five = b
        .wait_for("form[action$=\"/rate\"] input[name=\"satisfaction\"][value=\"5\"]")
        .await?;
    b.click(&five).await?;
    let checked = b
        .exec(
            "return document.querySelector('form[action$=\"/rate\"] input[name=\"satisfaction\"]:checked').value;",
            json!([]),
        )
        .await?;
    if checked != "5" {
        return Err(format!("satisfaction radio holds {checked}, not 5"));
    }
    b.type_into(
        "form[action$=\"/rate\"] #comment",
        "管家来得很快,修得也好,谢谢!",
    )
    .await?;
    let card = b.section("回访评价").await?;
    b.scroll_to(&card).await?;
    b.screenshot(shots, "demand-09-rating-form", mobile).await?;
    b.click_and_load("form[action$=\"/rate\"] button[type=\"submit\"]")
        .await?;
    b.expect_text("h1", title).await?;
    b.expect_text("main", "满意度:非常满意").await?;
    b.expect_text("ol.timeline", "评价").await?;
    if b.find("form[action$=\"/rate\"]").await?.is_some() {
        return Err("the rating form is still offered after rating".into());
    }
    eprintln!(
        "  after rating the resident is offered {}",
        offered_actions(b).await?
    );
    let card = b.section("回访评价").await?;
    b.scroll_to(&card).await?;
    b.screenshot(shots, "demand-10-rated", mobile).await?;
    logout(b).await?;

    // 6. The staff workbench on a desktop.
    step("the staff workbench at 1440×900");
    b.set_viewport(DESKTOP, false).await?;
    login(b, app, COMMUNITY, "/work").await?;
    let link = b.link_in_main(title).await?;
    b.expect_text_in(&link, "已结案").await?;
    b.screenshot(shots, "demand-11-work-desktop", Some(DESKTOP))
        .await?;
    Ok(())
}

fn step(what: &str) {
    eprintln!("step: {what}");
}

/// Logs in on /login by typing, and expects to land on `home`.
async fn login(b: &mut wd::Session, app: &TestApp, who: &str, home: &str) -> Res<()> {
    b.goto(&app.url("/login")).await?;
    b.expect_text("h1", "登录").await?;
    b.type_into("form[action=\"/login\"] #login", who).await?;
    b.type_into("form[action=\"/login\"] #password", PASSWORD)
        .await?;
    b.click_and_load("form[action=\"/login\"] button[type=\"submit\"]")
        .await?;
    b.expect_path(home).await?;
    b.expect_text("header .who", "").await?;
    Ok(())
}

async fn logout(b: &mut wd::Session) -> Res<()> {
    b.click_and_load("header form[action=\"/logout\"] button[type=\"submit\"]")
        .await?;
    b.expect_path("/login").await?;
    if b.find("header .who").await?.is_some() {
        return Err("still shown as logged in after 退出登录".into());
    }
    Ok(())
}

async fn expect_status(b: &mut wd::Session, label: &str) -> Res<()> {
    b.expect_text("dl.kv dd .badge", label).await
}

/// Clicks the demand page's button for `action` (opening its `<details>`
/// first when it is a secondary action), typing `note` when given.
async fn act(b: &mut wd::Session, action: &str, label: &str, note: Option<&str>) -> Res<()> {
    let form = format!("form.action-form:has(input[name=\"action\"][value=\"{action}\"])");
    b.wait_for(&form).await?;
    eprintln!("  {label}: offered {}", offered_actions(b).await?);
    let folded = b
        .exec(
            "const d = document.querySelector(arguments[0]).closest('details'); \
             return d ? (d.open ? 'open' : 'closed') : 'none';",
            json!([form]),
        )
        .await?;
    if folded == "closed" {
        let summary = b
            .wait_for(&format!("details:has({form}) > summary"))
            .await?;
        b.expect_text_in(&summary, label).await?;
        b.click(&summary).await?;
        b.wait_until(
            "the action's details open",
            &format!(
                "return document.querySelector('{}').closest('details').open;",
                form.replace('\'', "\\'")
            ),
        )
        .await?;
    }
    if let Some(note) = note {
        let field = format!("{form} textarea[name=\"note\"]");
        b.type_into(&field, note).await?;
        b.expect_value(&field, note).await?;
    }
    let button = format!("{form} button[type=\"submit\"]");
    let el = b.wait_for(&button).await?;
    b.expect_text_in(&el, label).await?;
    b.click_and_load(&button).await?;
    if let Some(err) = b.find(".flash.error").await? {
        let text = b.text(&err).await?;
        return Err(format!("{label} was refused: {text}"));
    }
    Ok(())
}

/// The demand page's actions as a person sees them: `[primary]`, `(folded)`.
async fn offered_actions(b: &wd::Session) -> Res<String> {
    let v = b
        .exec(
            "return [...document.querySelectorAll('form.action-form')].map(f => { \
               const label = f.querySelector('button[type=submit]').textContent.trim(); \
               return f.closest('details') ? '(' + label + ')' : '[' + label + ']'; }).join(' ');",
            json!([]),
        )
        .await?;
    Ok(v.as_str().unwrap_or("").to_string())
}

/// A tiny WebDriver client over chromedriver's HTTP API.
mod wd {
    use super::{base64_decode, png_size, Res, WAIT};
    use serde_json::{json, Value};
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

    /// A running chromedriver; shut down (with its browsers) on drop.
    pub struct Driver {
        child: Child,
        port: u16,
        base: String,
        http: reqwest::Client,
        profile: tempfile::TempDir,
    }

    impl Driver {
        pub async fn start(binary: &Path) -> Driver {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let child = Command::new(binary)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
            let mut driver = Driver {
                child,
                port,
                base: format!("http://127.0.0.1:{port}"),
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(60))
                    .build()
                    .unwrap(),
                profile: tempfile::tempdir().expect("temp dir for the browser profile"),
            };
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if let Ok(Some(status)) = driver.child.try_wait() {
                    panic!("chromedriver exited at start-up with {status}");
                }
                let ready = async {
                    let v: Value = driver
                        .http
                        .get(format!("{}/status", driver.base))
                        .send()
                        .await
                        .ok()?
                        .json()
                        .await
                        .ok()?;
                    v["value"]["ready"].as_bool()
                };
                if ready.await == Some(true) {
                    return driver;
                }
                assert!(
                    Instant::now() < deadline,
                    "chromedriver on port {port} not ready after 20 s"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }

        pub async fn new_session(&self, chromium: &Path) -> Session {
            let (w, h) = super::MOBILE;
            let caps = json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "pageLoadStrategy": "normal",
                "unhandledPromptBehavior": "accept",
                "timeouts": {"implicit": 0, "pageLoad": 30000, "script": 10000},
                "goog:loggingPrefs": {"browser": "ALL"},
                "goog:chromeOptions": {
                    "binary": chromium.display().to_string(),
                    "args": [
                        "--headless",
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-quic",
                        "--no-first-run",
                        "--disable-background-networking",
                        "--disable-component-update",
                        "--disable-sync",
                        format!("--window-size={w},{h}"),
                        format!("--user-data-dir={}", self.profile.path().display()),
                    ],
                },
            }}});
            let r = self
                .http
                .post(format!("{}/session", self.base))
                .json(&caps)
                .send()
                .await
                .expect("POST /session");
            let v: Value = r.json().await.expect("session JSON");
            let id = v["value"]["sessionId"]
                .as_str()
                .unwrap_or_else(|| panic!("chromedriver refused the session: {v}"))
                .to_string();
            eprintln!(
                "browser: {} {} via chromedriver on port {}",
                v["value"]["capabilities"]["browserName"]
                    .as_str()
                    .unwrap_or("?"),
                v["value"]["capabilities"]["browserVersion"]
                    .as_str()
                    .unwrap_or("?"),
                self.port
            );
            Session {
                http: self.http.clone(),
                base: format!("{}/session/{id}", self.base),
                pages_checked: 0,
                viewport: None,
                quit: false,
            }
        }

        /// chromedriver's own `/shutdown` (it closes its browsers), over a
        /// plain blocking socket since `Drop` cannot await.
        fn shutdown(&self) {
            let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
                return;
            };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = s.set_write_timeout(Some(Duration::from_secs(5)));
            let req = format!(
                "GET /shutdown HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
                self.port
            );
            if s.write_all(req.as_bytes()).is_ok() {
                let mut sink = Vec::new();
                let _ = s.read_to_end(&mut sink);
            }
        }
    }

    impl Drop for Driver {
        fn drop(&mut self) {
            if matches!(self.child.try_wait(), Ok(None)) {
                self.shutdown();
                let deadline = Instant::now() + Duration::from_secs(5);
                while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// A found element (its WebDriver reference).
    #[derive(Clone, Debug)]
    pub struct El(String);

    pub struct Session {
        http: reqwest::Client,
        base: String,
        pub pages_checked: usize,
        viewport: Option<(u32, u32)>,
        quit: bool,
    }

    impl Session {
        /// One WebDriver command; a WebDriver error becomes `Err`.
        async fn cmd(
            &self,
            method: reqwest::Method,
            path: &str,
            body: Option<Value>,
        ) -> Res<Value> {
            let url = format!("{}{path}", self.base);
            let mut req = self.http.request(method.clone(), &url);
            if let Some(b) = body {
                req = req.json(&b);
            }
            let r = req
                .send()
                .await
                .map_err(|e| format!("{method} {path}: {e}"))?;
            let v: Value = r
                .json()
                .await
                .map_err(|e| format!("{method} {path}: bad JSON: {e}"))?;
            let value = v.get("value").cloned().unwrap_or(Value::Null);
            if let Some(err) = value.get("error").and_then(Value::as_str) {
                let msg = value["message"].as_str().unwrap_or("");
                let first = msg.lines().next().unwrap_or("");
                return Err(format!("{method} {path}: {err}: {first}"));
            }
            Ok(value)
        }

        async fn get(&self, path: &str) -> Res<Value> {
            self.cmd(reqwest::Method::GET, path, None).await
        }

        async fn post(&self, path: &str, body: Value) -> Res<Value> {
            self.cmd(reqwest::Method::POST, path, Some(body)).await
        }

        pub async fn goto(&mut self, url: &str) -> Res<()> {
            self.post("/url", json!({ "url": url })).await?;
            self.check_page().await
        }

        pub async fn current_url(&self) -> Res<String> {
            Ok(self.get("/url").await?.as_str().unwrap_or("").to_string())
        }

        pub async fn exec(&self, script: &str, args: Value) -> Res<Value> {
            self.post("/execute/sync", json!({"script": script, "args": args}))
                .await
        }

        /// The first element matching `css` now, if any.
        pub async fn find(&self, css: &str) -> Res<Option<El>> {
            match self
                .post("/element", json!({"using": "css selector", "value": css}))
                .await
            {
                Ok(v) => Ok(element_of(&v)),
                Err(e) if e.contains("no such element") => Ok(None),
                Err(e) => Err(e),
            }
        }

        /// Polls for `css` for up to 10 s.
        pub async fn wait_for(&self, css: &str) -> Res<El> {
            let deadline = Instant::now() + WAIT;
            loop {
                if let Some(el) = self.find(css).await? {
                    return Ok(el);
                }
                if Instant::now() >= deadline {
                    return Err(format!("no element `{css}` after {WAIT:?}"));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }

        /// Polls a script until it returns `true`, for up to 10 s.
        pub async fn wait_until(&self, what: &str, script: &str) -> Res<()> {
            let deadline = Instant::now() + WAIT;
            let mut last;
            loop {
                match self.exec(script, json!([])).await {
                    Ok(Value::Bool(true)) => return Ok(()),
                    Ok(v) => last = v.to_string(),
                    // Mid-navigation the old document may be gone: retry.
                    Err(e) => last = e,
                }
                if Instant::now() >= deadline {
                    return Err(format!("waited {WAIT:?} for {what}; last: {last}"));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }

        pub async fn click(&self, el: &El) -> Res<()> {
            self.post(&format!("/element/{}/click", el.0), json!({}))
                .await
                .map(drop)
        }

        /// Scrolls so that `el` starts at the top of the viewport.
        pub async fn scroll_to(&self, el: &El) -> Res<()> {
            let mut arg = serde_json::Map::new();
            arg.insert(ELEMENT_KEY.into(), Value::String(el.0.clone()));
            self.exec(
                "arguments[0].scrollIntoView({block: 'start'}); window.scrollBy(0, -16);",
                json!([arg]),
            )
            .await
            .map(drop)
        }

        pub async fn text(&self, el: &El) -> Res<String> {
            Ok(self
                .get(&format!("/element/{}/text", el.0))
                .await?
                .as_str()
                .unwrap_or("")
                .to_string())
        }

        /// Clicks `css`, then waits for the next page to load and checks it.
        pub async fn click_and_load(&mut self, css: &str) -> Res<()> {
            let el = self.wait_for(css).await?;
            self.click_to_next_page(&el, css).await
        }

        pub async fn click_link(&mut self, el: &El) -> Res<()> {
            self.click_to_next_page(el, "link").await
        }

        async fn click_to_next_page(&mut self, el: &El, what: &str) -> Res<()> {
            self.exec(
                "document.documentElement.setAttribute('data-lx-stale', '1');",
                json!([]),
            )
            .await?;
            self.click(el).await?;
            self.wait_until(
                &format!("a new page after clicking {what}"),
                "return document.readyState === 'complete' \
                 && !document.documentElement.hasAttribute('data-lx-stale');",
            )
            .await?;
            self.check_page().await
        }

        /// Clicks an input and types `text` into it, like a person.
        pub async fn type_into(&self, css: &str, text: &str) -> Res<()> {
            let el = self.wait_for(css).await?;
            self.click(&el).await?;
            self.post(&format!("/element/{}/clear", el.0), json!({}))
                .await?;
            self.post(&format!("/element/{}/value", el.0), json!({ "text": text }))
                .await
                .map(drop)
        }

        pub async fn expect_value(&self, css: &str, want: &str) -> Res<()> {
            let el = self.wait_for(css).await?;
            let got = self
                .get(&format!("/element/{}/property/value", el.0))
                .await?;
            if got.as_str() == Some(want) {
                Ok(())
            } else {
                Err(format!("`{css}` holds {got} after typing {want:?}"))
            }
        }

        /// Waits until an element matching `css` shows `want` in its text.
        pub async fn expect_text(&self, css: &str, want: &str) -> Res<()> {
            let deadline = Instant::now() + WAIT;
            loop {
                let mut seen = None;
                if let Some(el) = self.find(css).await? {
                    let t = self.text(&el).await.unwrap_or_default();
                    if t.contains(want) {
                        return Ok(());
                    }
                    seen = Some(t);
                }
                if Instant::now() >= deadline {
                    return Err(match seen {
                        Some(t) => format!(
                            "`{css}` says {:?}, expected it to contain {want:?}",
                            excerpt(&t, 400)
                        ),
                        None => format!("no element `{css}` (looking for {want:?})"),
                    });
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }

        pub async fn expect_text_in(&self, el: &El, want: &str) -> Res<()> {
            let t = self.text(el).await?;
            if t.contains(want) {
                Ok(())
            } else {
                Err(format!(
                    "element says {:?}, expected {want:?}",
                    excerpt(&t, 400)
                ))
            }
        }

        pub async fn expect_path(&self, want: &str) -> Res<()> {
            let url = self.current_url().await?;
            let path = url
                .split_once("://")
                .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
                .unwrap_or("");
            let path = path.split(['?', '#']).next().unwrap_or("");
            if path == want {
                Ok(())
            } else {
                Err(format!(
                    "expected to be on {want}, but the browser is at {url}"
                ))
            }
        }

        /// Polls (10 s) for a link in `main` whose text contains `text`.
        pub async fn link_in_main(&self, text: &str) -> Res<El> {
            self.find_by_script(
                &format!("a link {text:?} in main"),
                "return [...document.querySelectorAll('main a.item-link')]\
                 .find(a => a.textContent.includes(arguments[0])) || null;",
                json!([text]),
            )
            .await
        }

        /// Polls (10 s) for a link containing `text` in the card whose
        /// heading starts with `heading`.
        pub async fn section_link(&self, heading: &str, text: &str) -> Res<El> {
            self.find_by_script(
                &format!("a link {text:?} under the heading {heading:?}"),
                "const s = [...document.querySelectorAll('main section')]\
                 .find(s => { const h = s.querySelector('h2'); \
                   return h && h.textContent.trim().startsWith(arguments[0]); });\
                 if (!s) return null;\
                 return [...s.querySelectorAll('a.item-link')]\
                 .find(a => a.textContent.includes(arguments[1])) || null;",
                json!([heading, text]),
            )
            .await
        }

        /// Polls (10 s) for the card (`main section`) whose heading starts
        /// with `heading`.
        pub async fn section(&self, heading: &str) -> Res<El> {
            self.find_by_script(
                &format!("a card headed {heading:?}"),
                "return [...document.querySelectorAll('main section')]\
                 .find(s => { const h = s.querySelector('h2'); \
                   return h && h.textContent.trim().startsWith(arguments[0]); }) || null;",
                json!([heading]),
            )
            .await
        }

        async fn find_by_script(&self, what: &str, script: &str, args: Value) -> Res<El> {
            let deadline = Instant::now() + WAIT;
            loop {
                if let Some(el) = element_of(&self.exec(script, args.clone()).await?) {
                    return Ok(el);
                }
                if Instant::now() >= deadline {
                    return Err(format!("no {what} after {WAIT:?}"));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }

        /// Every page: not the error page, HTTP 200, a heading, the /static
        /// stylesheet applied, no failed /static request, no console error
        /// about /static.
        pub async fn check_page(&mut self) -> Res<()> {
            let v = self
                .exec(
                    r#"
const problems = [];
const nav = performance.getEntriesByType('navigation')[0];
const status = nav && typeof nav.responseStatus === 'number' ? nav.responseStatus : null;
if (document.title.includes('出错了')) problems.push('the error page: ' + document.title);
if (status !== null && status !== 200) problems.push('the page answered HTTP ' + status);
if (!document.querySelector('h1')) problems.push('no <h1> on the page');
if (document.styleSheets.length === 0) problems.push('no stylesheet loaded');
const sheets = [...document.styleSheets];
for (const l of document.querySelectorAll('link[rel="stylesheet"]')) {
  const sh = sheets.find(s => s.href === l.href);
  let rules = -1;
  try { rules = sh ? sh.cssRules.length : -1; } catch (e) {}
  if (!sh) problems.push('stylesheet not applied (failed to load?): ' + l.href);
  else if (rules <= 0) problems.push('stylesheet has no rules: ' + l.href);
}
for (const e of performance.getEntriesByType('resource')) {
  const u = new URL(e.name);
  if (u.origin === location.origin && u.pathname.startsWith('/static/')
      && typeof e.responseStatus === 'number' && e.responseStatus >= 400)
    problems.push('failed request ' + u.pathname + ' (HTTP ' + e.responseStatus + ')');
}
return {problems, status, title: document.title, sheets: document.styleSheets.length,
        viewport: [window.innerWidth, window.innerHeight]};
"#,
                    json!([]),
                )
                .await?;
            let mut problems: Vec<String> = v["problems"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|p| p.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            if let Some((w, h)) = self.viewport {
                // A layout wider than the phone means a missing or broken
                // <meta name="viewport"> (or content that overflows).
                if v["viewport"] != json!([w, h]) {
                    problems.push(format!(
                        "viewport is {} CSS px, expected [{w},{h}]",
                        v["viewport"]
                    ));
                }
            }
            for entry in self.browser_log().await {
                let level = entry["level"].as_str().unwrap_or("");
                let msg = entry["message"].as_str().unwrap_or("");
                if level == "SEVERE" && msg.contains("/static/") {
                    problems.push(format!("console: {msg}"));
                } else if level == "SEVERE" || level == "WARNING" {
                    eprintln!("browser console ({level}): {msg}");
                }
            }
            self.pages_checked += 1;
            if problems.is_empty() {
                Ok(())
            } else {
                Err(format!("page check failed: {}", problems.join("; ")))
            }
        }

        /// The console log since the last call (chromedriver's legacy log
        /// endpoint; empty when it is not offered).
        async fn browser_log(&self) -> Vec<Value> {
            self.post("/se/log", json!({"type": "browser"}))
                .await
                .ok()
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default()
        }

        /// Sizes the window and the page's viewport to `w`×`h` CSS pixels.
        /// Headless Chromium keeps windows at least 500 px wide and takes
        /// ~140 px of the height for (invisible) browser chrome, so the
        /// viewport is pinned with DevTools' device-metrics override; `mobile`
        /// also makes the page honour `<meta name="viewport">` like a phone.
        pub async fn set_viewport(&mut self, (w, h): (u32, u32), mobile: bool) -> Res<()> {
            self.post("/window/rect", json!({"width": w, "height": h}))
                .await?;
            self.post(
                "/goog/cdp/execute",
                json!({"cmd": "Emulation.setDeviceMetricsOverride", "params": {
                    "width": w, "height": h, "deviceScaleFactor": 1, "mobile": mobile,
                }}),
            )
            .await?;
            self.viewport = Some((w, h));
            Ok(())
        }

        /// Saves a PNG of the viewport as `dir/name.png`; checks its size
        /// when `want` is given.
        pub async fn screenshot(
            &self,
            dir: &Path,
            name: &str,
            want: Option<(u32, u32)>,
        ) -> Res<PathBuf> {
            let b64 = self.get("/screenshot").await?;
            let png = base64_decode(b64.as_str().unwrap_or(""))?;
            let size = png_size(&png).ok_or("the screenshot is not a PNG")?;
            let path = dir.join(format!("{name}.png"));
            std::fs::write(&path, &png).map_err(|e| format!("write {}: {e}", path.display()))?;
            eprintln!("screenshot {} ({}×{})", path.display(), size.0, size.1);
            match want {
                Some(w) if w != size => Err(format!(
                    "screenshot {name} is {}×{}, expected {}×{}",
                    size.0, size.1, w.0, w.1
                )),
                _ => Ok(path),
            }
        }

        /// Where the browser is and what it shows, for failure messages.
        pub async fn context(&self) -> String {
            let url = self.current_url().await.unwrap_or_else(|e| e);
            let title = self
                .get("/title")
                .await
                .map(|v| v.as_str().unwrap_or("").to_string())
                .unwrap_or_else(|e| e);
            let source = self
                .get("/source")
                .await
                .map(|v| v.as_str().unwrap_or("").to_string())
                .unwrap_or_else(|e| e);
            let main = match (source.find("<main"), source.find("</main>")) {
                (Some(a), Some(b)) if a < b => &source[a..b + "</main>".len()],
                _ => source.as_str(),
            };
            format!(
                "  at: {url}\n  title: {title}\n  page source (excerpt):\n{}",
                excerpt(main, 3000)
            )
        }

        pub async fn quit(&mut self) {
            if !self.quit {
                self.quit = true;
                let _ = self.cmd(reqwest::Method::DELETE, "", None).await;
            }
        }
    }

    fn element_of(v: &Value) -> Option<El> {
        v.get(ELEMENT_KEY)
            .and_then(Value::as_str)
            .map(|s| El(s.to_string()))
    }

    fn excerpt(s: &str, max_chars: usize) -> String {
        let mut out: String = s.chars().take(max_chars).collect();
        if s.chars().nth(max_chars).is_some() {
            out.push_str(" …");
        }
        out
    }
}

/// Standard base64 (RFC 4648, with or without padding) to bytes.
fn base64_decode(s: &str) -> Res<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            b'\r' | b'\n' | b' ' => continue,
            _ => return Err(format!("not base64: byte {c:#04x}")),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

/// Width and height from a PNG's IHDR.
fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    if png.len() < 24 || &png[..8] != b"\x89PNG\r\n\x1a\n" || &png[12..16] != b"IHDR" {
        return None;
    }
    let be = |i: usize| u32::from_be_bytes([png[i], png[i + 1], png[i + 2], png[i + 3]]);
    Some((be(16), be(20)))
}

#[test]
fn base64_decoder_matches_rfc_4648() {
    for (enc, dec) in [
        ("", ""),
        ("Zg==", "f"),
        ("Zm8=", "fo"),
        ("Zm9v", "foo"),
        ("Zm9vYg==", "foob"),
        ("Zm9vYmE=", "fooba"),
        ("Zm9vYmFy", "foobar"),
        ("Zm9vYmFy\n", "foobar"),
    ] {
        assert_eq!(base64_decode(enc).unwrap(), dec.as_bytes(), "{enc}");
    }
    assert_eq!(base64_decode("+/8=").unwrap(), [0xfb, 0xff]);
    assert!(base64_decode("Zm9v!").is_err());
    let png = "iVBORw0KGgoAAAANSUhEUgAAAYYAAANMCAY=";
    assert_eq!(png_size(&base64_decode(png).unwrap()), Some((390, 844)));
}
