//! The main flows as people do them, through the pages only.

use crate::wd::{self, base64_decode, Res};
use crate::{login, logout, shoot, step, Rig};
use helpers::TestApp;
use serde_json::{json, Value};
use std::path::Path;

use crate::helpers;

const RESIDENT: &str = "13800000001";
const COMMUNITY: &str = "community-zq";
const BUTLER: &str = "butler-xc";
const STREET: &str = "street-cb";
const BRANCH: &str = "branch-fh";
/// 赵晓东 is the demo world's butler of 新城壹号小区 (butler-xc).
const BUTLER_NAME: &str = "赵晓东";
/// A 1×1 PNG, the photo a resident attaches.
const PHOTO_PNG: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demand_with_a_photo_reaches_the_butler_live_and_moves_the_dashboard() {
    let Some(rig) = Rig::start().await else {
        return;
    };
    let mut person = rig.window(true).await;
    let mut butler = rig.window(true).await;
    let outcome = demand_flow(&rig, &mut person, &mut butler).await;
    rig.finish("demand", outcome, &mut [&mut person, &mut butler])
        .await;
}

/// The street dashboard's figures (every tile's label and value).
async fn dashboard_figures(b: &wd::Session) -> Res<Value> {
    b.exec(
        "return [...document.querySelectorAll('main .tile')].map(t => [\
           (t.querySelector('.tile-label') || t).textContent.trim(),\
           (t.querySelector('.tile-value') || t).textContent.trim()]);",
        json!([]),
    )
    .await
}

async fn demand_flow(rig: &Rig, b: &mut wd::Session, butler: &mut wd::Session) -> Res<()> {
    let (app, shots) = (&rig.app, rig.shots.as_path());
    let title = "卫生间顶棚漏水(浏览器测试)";
    let description = "楼上卫生间往下渗水,顶棚已经起皮,请尽快派人查看。";
    let resolve_note = "已更换楼上卫生间的下水管密封圈,顶棚晾干后重新粉刷。";

    // 0. The street's dashboard before anything happens.
    step("street-cb reads /insight before");
    login(b, app, STREET, "").await?;
    b.goto(&app.url("/insight")).await?;
    let before = dashboard_figures(b).await?;
    if before.as_array().is_none_or(|a| a.is_empty()) {
        return Err("the street dashboard shows no figures".into());
    }
    shoot(b, shots, "demand", "00-dashboard-before").await?;
    logout(b).await?;

    // 1. The butler's workbench is open in a second window before the filing.
    step("butler-xc opens /work in a second window");
    login(butler, app, BUTLER, "/work").await?;
    butler
        .exec(
            "document.documentElement.setAttribute('data-lx-kept', '1');",
            json!([]),
        )
        .await?;
    shoot(butler, shots, "demand", "01-butler-inbox-before").await?;

    // 2. The resident files a demand with a photo on /me.
    step("resident 13800000001 files a demand with a photo on /me");
    login(b, app, RESIDENT, "/me").await?;
    b.expect_text("h1", "我的诉求").await?;
    shoot(b, shots, "demand", "02-resident-home").await?;
    b.exec(
        "const s = document.querySelector('#new select#category'); s.value = 'leak'; \
         s.dispatchEvent(new Event('change', {bubbles: true}));",
        json!([]),
    )
    .await?;
    b.type_into("#new #title", title).await?;
    b.type_into("#new #description", description).await?;
    let photo = std::env::temp_dir().join(format!("lianxin-photo-{}.png", std::process::id()));
    std::fs::write(&photo, base64_decode(PHOTO_PNG)?).map_err(|e| e.to_string())?;
    b.send_file("#new input#photo[type=\"file\"]", &photo)
        .await?;
    let picked = b
        .exec(
            "const f = document.querySelector('#photo').files; return f.length ? f[0].name : '';",
            json!([]),
        )
        .await?;
    if !picked.as_str().unwrap_or("").ends_with(".png") {
        return Err(format!("the file input holds {picked}, not the photo"));
    }
    let form = b.wait_for("#new form").await?;
    b.scroll_to(&form).await?;
    shoot(b, shots, "demand", "03-filing-form").await?;
    b.click_and_load("#new form button[type=\"submit\"]")
        .await?;
    b.expect_path("/me").await?;
    b.expect_text(".flash.ok", "诉求已提交").await?;
    let mine = b.section_link("我反映的诉求", title).await?;
    b.expect_text_in(&mine, "已提交").await?;
    b.click_link(&mine).await?;
    b.expect_text("h1", title).await?;
    b.wait_until(
        "the photo shows",
        "const i = document.querySelector('main img.photo'); \
         return !!i && i.complete && i.naturalWidth > 0 && i.alt.length > 0;",
    )
    .await?;
    shoot(b, shots, "demand", "04-filed-with-photo").await?;
    logout(b).await?;

    // 3. The community dispatches it; the butler's window shows it without a reload.
    step("community-zq accepts and dispatches it; the butler's open /work shows it live");
    login(b, app, COMMUNITY, "/work").await?;
    let link = b.link_in_main(title).await?;
    b.click_link(&link).await?;
    b.expect_text("h1", title).await?;
    act(b, "accept", "受理", None).await?;
    expect_status(b, "已受理").await?;
    let auto = b
        .wait_for("form.action-form select#assignee-dispatch option[value=\"\"]")
        .await?;
    b.click(&auto).await?;
    act(b, "dispatch", "派遣", None).await?;
    expect_status(b, "已派遣").await?;
    b.expect_text("dl.kv", BUTLER_NAME).await?;
    logout(b).await?;
    // The outbox worker (a background loop in production) fans the notice
    // out now; the butler's page hears it on its live stream.
    notify::worker::run_once(&app.ctx)
        .await
        .map_err(|e| format!("notify worker: {e:?}"))?;

    // The live part may be refreshed more than once (one per notice), so
    // the check reads the page afresh each time rather than holding an element.
    butler
        .wait_until(
            "the dispatched demand in the butler's 待办 without a reload",
            &format!(
                "const s = [...document.querySelectorAll('main section')]\
                 .find(s => (s.querySelector('h2') || {{}}).textContent?.trim().startsWith('待办'));\
                 const a = s && [...s.querySelectorAll('a.item-link')]\
                 .find(a => a.textContent.includes('{title}'));\
                 return !!a && a.textContent.includes('已派遣');"
            ),
        )
        .await?;
    let inbox = butler.section_link("待办", title).await?;
    let kept = butler
        .exec(
            "return document.documentElement.getAttribute('data-lx-kept');",
            json!([]),
        )
        .await?;
    if kept != "1" {
        return Err("the butler's /work was reloaded instead of updated live".into());
    }
    shoot(butler, shots, "demand", "05-butler-inbox-live").await?;

    // 4. The butler handles it.
    step("butler-xc starts and resolves it");
    // The live part may be refreshed again (another notice) between finding
    // the link and clicking it: find it afresh then.
    let mut inbox = inbox;
    for attempt in 0.. {
        match butler.click_link(&inbox).await {
            Ok(()) => break,
            Err(e) if e.contains("stale element") && attempt < 3 => {
                inbox = butler.section_link("待办", title).await?;
            }
            Err(e) => return Err(e),
        }
    }
    butler.expect_text("h1", title).await?;
    act(butler, "start", "接单处置", None).await?;
    expect_status(butler, "处置中").await?;
    act(butler, "resolve", "办结反馈", Some(resolve_note)).await?;
    expect_status(butler, "已反馈").await?;
    butler.expect_text("ol.timeline", resolve_note).await?;
    shoot(butler, shots, "demand", "06-resolved").await?;
    logout(butler).await?;

    // 5. The community verifies; the resident rates.
    step("community-zq closes it; the resident rates it");
    rework_then_close(b, app, shots, title).await?;
    login(b, app, RESIDENT, "/me").await?;
    rate(b, title, shots, "demand").await?;
    logout(b).await?;

    // 6. The street's dashboard has moved.
    step("street-cb reads /insight after");
    login(b, app, STREET, "").await?;
    b.goto(&app.url("/insight")).await?;
    let after = dashboard_figures(b).await?;
    if after == before {
        return Err(format!(
            "the street dashboard did not change: {before} → {after}"
        ));
    }
    eprintln!("  dashboard before: {before}\n  dashboard after:  {after}");
    shoot(b, shots, "demand", "08-dashboard-after").await?;
    Ok(())
}

/// On /me (logged in as the resident): opens the closed demand and rates it 5.
async fn rate(b: &mut wd::Session, title: &str, shots: &Path, flow: &str) -> Res<()> {
    let mine = b.section_link("我反映的诉求", title).await?;
    b.expect_text_in(&mine, "已结案").await?;
    b.click_link(&mine).await?;
    b.expect_text("h1", title).await?;
    let five = b
        .wait_for("form[action$=\"/rate\"] input[name=\"satisfaction\"][value=\"5\"]")
        .await?;
    b.click(&five).await?;
    b.type_into(
        "form[action$=\"/rate\"] #comment",
        "管家来得很快,修得也好,谢谢!",
    )
    .await?;
    let card = b.section("回访评价").await?;
    b.scroll_to(&card).await?;
    shoot(b, shots, flow, "07-rating-form").await?;
    b.click_and_load("form[action$=\"/rate\"] button[type=\"submit\"]")
        .await?;
    b.expect_text("h1", title).await?;
    b.expect_text("main", "满意度:非常满意").await?;
    if b.find("form[action$=\"/rate\"]").await?.is_some() {
        return Err("the rating form is still offered after rating".into());
    }
    let card = b.section("回访评价").await?;
    b.scroll_to(&card).await?;
    shoot(b, shots, flow, "07b-rated").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_party_branch_secretary_records_an_activity() {
    let Some(rig) = Rig::start().await else {
        return;
    };
    let mut b = rig.window(true).await;
    let outcome = party_flow(&rig.app, &mut b, &rig.shots).await;
    rig.finish("party", outcome, &mut [&mut b]).await;
}

async fn party_flow(app: &TestApp, b: &mut wd::Session, shots: &Path) -> Res<()> {
    let topic = "学习党的二十届四中全会精神(浏览器测试)";
    step("branch-fh records an activity from /party");
    login(b, app, BRANCH, "").await?;
    let nav = b.wait_for("header nav a[href=\"/party\"]").await?;
    b.click_link(&nav).await?;
    b.expect_text("h1", "党建").await?;
    shoot(b, shots, "party", "01-index").await?;
    let new = b
        .wait_for("main a[href^=\"/party/activities/new\"]")
        .await?;
    b.click_link(&new).await?;
    b.expect_text("h1", "活动").await?;
    b.type_into("#title", topic).await?;
    b.exec(
        "const h = document.querySelector('#held_at'); h.value = '2026-11-20T19:30'; \
         h.dispatchEvent(new Event('change', {bubbles: true}));",
        json!([]),
    )
    .await?;
    b.type_into("#place", "泛华盛世小区党群服务站").await?;
    b.type_into("#minutes", "书记领学,党员逐一发言,议定下月志愿服务安排。")
        .await?;
    shoot(b, shots, "party", "02-form").await?;
    b.click_and_load("main form[action=\"/party/activities\"] button[type=\"submit\"]")
        .await?;
    if let Some(err) = b.find(".flash.error").await? {
        return Err(format!("recording was refused: {}", b.text(&err).await?));
    }
    b.expect_path_prefix("/party/activities/").await?;
    b.expect_text("h1", topic).await?;
    shoot(b, shots, "party", "03-recorded").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_javascript_a_demand_is_filed_handled_and_rated() {
    let Some(rig) = Rig::start().await else {
        return;
    };
    let mut b = rig.window(false).await;
    let outcome = no_js_flow(&rig.app, &mut b, &rig.shots).await;
    rig.finish("nojs", outcome, &mut [&mut b]).await;
}

async fn no_js_flow(app: &TestApp, b: &mut wd::Session, shots: &Path) -> Res<()> {
    let title = "楼道灯不亮(无脚本)";
    step("with JavaScript off: the resident files a demand");
    login(b, app, RESIDENT, "/me").await?;
    let ran = b
        .exec(
            "return document.documentElement.dataset.js || 'off';",
            json!([]),
        )
        .await?;
    eprintln!("  page scripts: {ran}");
    let leak = b
        .wait_for("#new select#category option[value=\"leak\"]")
        .await?;
    b.click(&leak).await?;
    // A form sent empty keeps nothing and says what is missing next to the field.
    b.type_into("#new #title", title).await?;
    b.expect_status = 422;
    let sent = b.click_and_load("#new form button[type=\"submit\"]").await;
    b.expect_status = 200;
    sent?;
    b.expect_text("#new .field.has-error .field-error", "")
        .await?;
    b.expect_value("#new #title", title).await?;
    shoot(b, shots, "nojs", "01-field-error").await?;
    b.type_into(
        "#new #description",
        "三楼到五楼的楼道灯都不亮,晚上上下楼很危险。",
    )
    .await?;
    b.click_and_load("#new form button[type=\"submit\"]")
        .await?;
    b.expect_text(".flash.ok", "诉求已提交").await?;
    logout(b).await?;

    step("with JavaScript off: staff take it to closure");
    login(b, app, COMMUNITY, "/work").await?;
    let link = b.link_in_main(title).await?;
    b.click_link(&link).await?;
    act(b, "accept", "受理", None).await?;
    act(b, "dispatch", "派遣", None).await?;
    expect_status(b, "已派遣").await?;
    logout(b).await?;
    login(b, app, BUTLER, "/work").await?;
    let link = b.link_in_main(title).await?;
    b.click_link(&link).await?;
    act(b, "start", "接单处置", None).await?;
    act(b, "resolve", "办结反馈", Some("已更换楼道灯泡三只。")).await?;
    logout(b).await?;
    rework_then_close(b, app, shots, title).await?;

    step("with JavaScript off: the resident rates it");
    login(b, app, RESIDENT, "/me").await?;
    rate(b, title, shots, "nojs").await
}

/// The community sends the demand back for rework — an irreversible step:
/// sent without the confirming tick it is refused by the server, with the
/// reason next to the tick; ticked, it proceeds — the butler redoes it and
/// the community closes it.
async fn rework_then_close(
    b: &mut wd::Session,
    app: &TestApp,
    shots: &Path,
    title: &str,
) -> Res<()> {
    login(b, app, COMMUNITY, "/work").await?;
    let link = b.link_in_main(title).await?;
    b.click_link(&link).await?;
    step("a step that cannot be undone needs the tick");
    unticked_then_ticked(
        b,
        shots,
        "verify_fail",
        "核查不通过,返工",
        "灯泡型号不对,仍有两层不亮。",
    )
    .await?;
    expect_status(b, "返工").await?;
    logout(b).await?;
    login(b, app, BUTLER, "/work").await?;
    let link = b.link_in_main(title).await?;
    b.click_link(&link).await?;
    act(b, "start", "接单处置", None).await?;
    act(b, "resolve", "办结反馈", Some("已按型号重新更换。")).await?;
    logout(b).await?;
    login(b, app, COMMUNITY, "/work").await?;
    let link = b.link_in_main(title).await?;
    b.click_link(&link).await?;
    act(b, "verify_pass", "核查通过,结案", None).await?;
    expect_status(b, "已结案").await?;
    logout(b).await?;
    Ok(())
}

/// Sends the demand page's `action` (a step that cannot be undone) first
/// without its confirming tick — the page's `required` is taken off, as a
/// browser that does not check it would send it — and expects the server's
/// 422 with the message next to the tick and the note kept; then ticks it
/// and sends again.
async fn unticked_then_ticked(
    b: &mut wd::Session,
    shots: &Path,
    action: &str,
    label: &str,
    note: &str,
) -> Res<()> {
    let form = format!("form.action-form:has(input[name=\"action\"][value=\"{action}\"])");
    let tick = format!("#confirm-{action}");
    b.wait_for(&form).await?;
    b.exec(
        "const d = document.querySelector(arguments[0]).closest('details'); if (d) d.open = true;",
        json!([form]),
    )
    .await?;
    let required = b
        .exec(
            "return document.querySelector(arguments[0]).required;",
            json!([tick]),
        )
        .await?;
    if required != Value::Bool(true) {
        return Err(format!("the tick of {action} is not required on the page"));
    }
    b.type_into(&format!("{form} textarea[name=\"note\"]"), note)
        .await?;
    b.exec(
        "document.querySelector(arguments[0]).removeAttribute('required');",
        json!([tick]),
    )
    .await?;
    b.expect_status = 422;
    let sent = b
        .click_and_load(&format!("{form} button[type=\"submit\"]"))
        .await;
    b.expect_status = 200;
    sent?;
    b.expect_text(&format!("#act-{action}-confirmed-error"), "请先勾选")
        .await?;
    let invalid = b
        .exec(
            "const t = document.querySelector(arguments[0]); \
             return t.getAttribute('aria-invalid') === 'true' \
               && t.getAttribute('aria-describedby') === arguments[1] \
               && t.closest('details').open;",
            json!([tick, format!("act-{action}-confirmed-error")]),
        )
        .await?;
    if invalid != Value::Bool(true) {
        return Err("the refused tick is not marked invalid and described".into());
    }
    b.expect_value(&format!("{form} textarea[name=\"note\"]"), note)
        .await?;
    let el = b.wait_for(&tick).await?;
    b.scroll_to(&el).await?;
    shoot(b, shots, "nojs", "02-confirm-needed").await?;
    b.click(&el).await?;
    let button = format!("{form} button[type=\"submit\"]");
    let el = b.wait_for(&button).await?;
    b.expect_text_in(&el, label).await?;
    b.click_and_load(&button).await?;
    for refusal in [".flash.error", ".field-error"] {
        if let Some(err) = b.find(refusal).await? {
            return Err(format!("{label} was refused: {}", b.text(&err).await?));
        }
    }
    Ok(())
}

pub async fn expect_status(b: &mut wd::Session, label: &str) -> Res<()> {
    b.expect_text("dl.kv dd .badge", label).await
}

/// Clicks the demand page's button for `action` (opening its `<details>`
/// first when it is a secondary action), typing `note` when given.
pub async fn act(b: &mut wd::Session, action: &str, label: &str, note: Option<&str>) -> Res<()> {
    let form = format!("form.action-form:has(input[name=\"action\"][value=\"{action}\"])");
    b.wait_for(&form).await?;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_import_residents_from_a_workbook_with_progress() {
    let Some(rig) = Rig::start().await else {
        return;
    };
    let mut b = rig.window(true).await;
    let outcome = import_flow(&rig.app, &mut b, &rig.shots).await;
    rig.finish("import", outcome, &mut [&mut b]).await;
}

async fn import_flow(app: &TestApp, b: &mut wd::Session, shots: &Path) -> Res<()> {
    let xc = app.node_id(helpers::XC).await;
    step("community-zq opens 新城壹号小区 and its import page");
    login(b, app, COMMUNITY, "/work").await?;
    b.goto(&app.url(&format!("/org/{xc}"))).await?;
    let link = b
        .wait_for(&format!("main a[href=\"/org/{xc}/import\"]"))
        .await?;
    b.click_link(&link).await?;
    b.expect_text("h1", "导入居民").await?;
    shoot(b, shots, "import", "01-form").await?;

    step("a workbook with one bad row: nothing written, the row listed");
    let dir = std::env::temp_dir();
    let bad = dir.join(format!("lianxin-import-bad-{}.xlsx", std::process::id()));
    std::fs::write(
        &bad,
        org::xlsx::template_workbook(&[
            ["8", "1", "801", "吴一", "13700000801", "", "业主", ""],
            ["8", "1", "802", "", "13700000802", "", "业主", ""],
        ]),
    )
    .map_err(|e| e.to_string())?;
    b.send_file("input#file[type=\"file\"]", &bad).await?;
    b.click_and_load("main form button[type=\"submit\"]")
        .await?;
    b.expect_path_prefix("/org/import/").await?;
    b.wait_until(
        "the job to finish",
        "const s = document.querySelector('[data-import-state]'); \
         return !!s && s.dataset.importState !== 'running';",
    )
    .await?;
    b.expect_text("#import-errors", "姓名").await?;
    shoot(b, shots, "import", "02-rejected").await?;

    step("a good workbook: the upload's progress bar, then the summary");
    b.goto(&app.url(&format!("/org/{xc}/import"))).await?;
    let rows: Vec<[String; 8]> = (1..=400)
        .map(|i| {
            [
                "9".into(),
                format!("{}", 1 + i / 100),
                format!("{}", 100 + i % 100),
                format!("住户{i}"),
                format!("137{:08}", 900 + i),
                String::new(),
                "业主".into(),
                String::new(),
            ]
        })
        .collect();
    let rows: Vec<[&str; 8]> = rows
        .iter()
        .map(|r| std::array::from_fn(|c| r[c].as_str()))
        .collect();
    let good = dir.join(format!("lianxin-import-good-{}.xlsx", std::process::id()));
    std::fs::write(&good, org::xlsx::template_workbook(&rows)).map_err(|e| e.to_string())?;
    b.send_file("input#file[type=\"file\"]", &good).await?;
    // Watch for the upload's <progress>, which app.js adds while sending.
    b.exec(
        "window.lxSawProgress = false; \
         new MutationObserver(function () { \
           if (document.querySelector('.progress progress')) window.lxSawProgress = true; \
         }).observe(document.body, {childList: true, subtree: true});",
        json!([]),
    )
    .await?;
    let button = b.wait_for("main form button[type=\"submit\"]").await?;
    b.click(&button).await?;
    b.wait_until(
        "the upload to start",
        "return window.lxSawProgress === true || location.pathname.indexOf('/org/import/') === 0;",
    )
    .await?;
    b.wait_until(
        "the job's page",
        "return location.pathname.indexOf('/org/import/') === 0 \
           && !!document.querySelector('[data-import-state]');",
    )
    .await?;
    shoot(b, shots, "import", "03-progress").await?;
    b.wait_until(
        "the import to finish",
        "const s = document.querySelector('[data-import-state]'); \
         return !!s && s.dataset.importState === 'done';",
    )
    .await?;
    b.check_page().await?;
    b.expect_text("#import-imported", "400").await?;
    shoot(b, shots, "import", "04-summary").await?;
    let _ = std::fs::remove_file(&bad);
    let _ = std::fs::remove_file(&good);
    Ok(())
}
