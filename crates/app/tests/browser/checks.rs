//! Page-level checks over the main pages: axe-core accessibility, the
//! interface in English, and the resident home's weight.

use crate::wd::{self, Res};
use crate::{login, logout, shoot, step, Rig};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The main pages: (who, path); `""` for who means logged out. Paths
/// starting with `first:` mean "the first link in main whose href starts
/// with the rest", so a demand or member page of the demo world is reached
/// without knowing its id.
const MAIN_PAGES: &[(&str, &str)] = &[
    ("", "/login"),
    ("13800000001", "/me"),
    ("13800000001", "first:/demands/"),
    ("13800000001", "/surveys"),
    ("13800000001", "/mediation"),
    ("13800000001", "/inbox"),
    ("butler-xc", "/work"),
    ("butler-xc", "first:/demands/"),
    ("community-zq", "/work/board"),
    ("street-cb", "/insight"),
    ("street-cb", "/insight/league"),
    ("street-cb", "/insight/demands"),
    ("street-cb", "/org"),
    ("branch-fh", "/party"),
    ("branch-fh", "/party/activities/new"),
    ("branch-fh", "first:/party/members/"),
    ("auditor", "/audit"),
];

/// What to check on each main page.
enum Check<'a> {
    Axe(&'a str),
    English,
}

/// Visits each main page as its person and collects what `check` finds.
async fn visit_main_pages(rig: &Rig, b: &mut wd::Session, check: Check<'_>) -> Res<Vec<String>> {
    let query = match check {
        Check::Axe(_) => "",
        Check::English => "?lang=en",
    };
    let mut found = Vec::new();
    let mut current = "";
    for (who, path) in MAIN_PAGES {
        if *who != current {
            if !current.is_empty() {
                logout(b).await?;
            }
            if !who.is_empty() {
                login(b, &rig.app, who, "").await?;
            }
            current = who;
        }
        let url = if let Some(prefix) = path.strip_prefix("first:") {
            let back = if prefix.starts_with("/demands/") {
                if who.starts_with("138") {
                    "/me"
                } else {
                    "/work"
                }
            } else {
                "/party"
            };
            b.goto(&rig.app.url(&format!("{back}{query}"))).await?;
            let href = b
                .exec(
                    "const a = [...document.querySelectorAll('main a[href]')]\
                     .find(a => new URL(a.href).pathname.startsWith(arguments[0])\
                       && !new URL(a.href).pathname.endsWith('/new'));\
                     return a ? new URL(a.href).pathname : null;",
                    json!([prefix]),
                )
                .await?;
            let Some(href) = href.as_str() else {
                return Err(format!("{who}: no link to {prefix}… on {back}"));
            };
            rig.app.url(&format!("{href}{query}"))
        } else {
            rig.app.url(&format!("{path}{query}"))
        };
        b.goto(&url).await?;
        let page = format!("{} {path}", if who.is_empty() { "anonymous" } else { who });
        match check {
            Check::Axe(axe) => axe_on(b, axe, &page, &mut found).await?,
            Check::English => english_on(b, &rig.shots, &page, &mut found).await?,
        }
    }
    Ok(found)
}

async fn axe_on(b: &mut wd::Session, axe: &str, page: &str, found: &mut Vec<String>) -> Res<()> {
    step(&format!("axe-core on {page}"));
    let loaded = b
        .exec(&format!("{axe}\n;return typeof window.axe;"), json!([]))
        .await?;
    if loaded != "object" {
        return Err(format!("axe-core did not load on {page}: {loaded}"));
    }
    let v = b.exec_async(AXE_RUN, json!([])).await?;
    for x in v.as_array().into_iter().flatten() {
        found.push(format!("{page}: {}", x.as_str().unwrap_or("")));
    }
    Ok(())
}

async fn english_on(
    b: &mut wd::Session,
    shots: &Path,
    page: &str,
    found: &mut Vec<String>,
) -> Res<()> {
    step(&format!("English on {page}"));
    let lang = b
        .exec("return document.documentElement.lang;", json!([]))
        .await?;
    if lang != "en" {
        return Err(format!("{page} is not in English: lang={lang}"));
    }
    if page.ends_with("/me") || page.ends_with("/insight") || page.ends_with("/party") {
        let name: String = page
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        shoot(b, shots, "english", name.trim_matches('-')).await?;
    }
    let v = b.exec(CHROME_TEXT, json!([])).await?;
    for x in v.as_array().into_iter().flatten() {
        found.push(format!("{page}: {}", x.as_str().unwrap_or("")));
    }
    Ok(())
}

fn axe_source() -> Option<String> {
    let path = std::env::var("LIANXIN_AXE_JS")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/axe/node_modules/axe-core/axe.min.js")
        });
    match std::fs::read_to_string(&path) {
        Ok(s) => Some(s),
        Err(_) => {
            eprintln!(
                "SKIPPED axe-core check: {} not found (`npm install --prefix target/axe axe-core@4.10.2`, \
                 as .ci/run does, or set LIANXIN_AXE_JS)",
                path.display()
            );
            None
        }
    }
}

const AXE_RUN: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations
  .filter(v => v.impact === 'serious' || v.impact === 'critical')
  .map(v => v.impact + ' ' + v.id + ' (' + v.help + '): '
       + v.nodes.slice(0, 4).map(n => n.target.join(' ') + ' ' + (n.failureSummary || '').replace(/\s+/g, ' ').slice(0, 200)).join(' | '))))
  .catch(e => done(['axe failed: ' + e]));
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_main_pages_have_no_serious_accessibility_violations() {
    let Some(axe) = axe_source() else {
        return;
    };
    let Some(rig) = Rig::start().await else {
        return;
    };
    let mut b = rig.window(true).await;
    let outcome = visit_main_pages(&rig, &mut b, Check::Axe(&axe))
        .await
        .and_then(|found| {
            if found.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{} serious or critical axe-core violations:\n  {}",
                    found.len(),
                    found.join("\n  ")
                ))
            }
        });
    rig.finish("axe", outcome, &mut [&mut b]).await;
}

/// The interface's own words on the page (not user data): every text node
/// in the document and the title, attributes people read (placeholder,
/// aria-label, alt, title, value of buttons), except inside elements
/// marked `translate="no"` — which is how templates mark user data (names,
/// addresses, titles of demands, org names): content not to be translated.
const CHROME_TEXT: &str = r#"
const out = [];
// The language switch names the other language in that language (lang="zh-CN").
const skip = el => el.closest('[translate="no"], script, style, svg title, [lang]:not(html)');
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let n = walker.nextNode(); n; n = walker.nextNode()) {
  const t = n.textContent.trim();
  if (t && /\p{Script=Han}/u.test(t) && !skip(n.parentElement)) {
    const el = n.parentElement;
    out.push(el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).split(' ')[0] : '') + ': ' + t.slice(0, 60));
  }
}
for (const el of document.querySelectorAll('[placeholder], [aria-label], [alt], [title], input[type=submit][value]')) {
  if (skip(el)) continue;
  for (const a of ['placeholder', 'aria-label', 'alt', 'title', 'value']) {
    const v = el.getAttribute(a);
    if (v && (a !== 'value' || el.type === 'submit') && /\p{Script=Han}/u.test(v))
      out.push(el.tagName.toLowerCase() + '[' + a + ']: ' + v.slice(0, 60));
  }
}
const title = document.title.split(' · ');
if (/\p{Script=Han}/u.test(title[title.length - 1])) out.push('title: ' + document.title);
return out;
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_main_pages_in_english_have_no_chinese_outside_user_data() {
    let Some(rig) = Rig::start().await else {
        return;
    };
    let mut b = rig.window(true).await;
    let outcome = visit_main_pages(&rig, &mut b, Check::English)
        .await
        .and_then(|found| {
            if found.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{} pieces of Chinese in the English interface:\n  {}",
                    found.len(),
                    found.join("\n  ")
                ))
            }
        });
    rig.finish("english", outcome, &mut [&mut b]).await;
}

/// Bytes the resident home costs a phone: the page and every resource it
/// loaded (encoded body sizes, i.e. as sent, whether cached or not).
const WEIGHT: &str = r#"
const all = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
return {
  bytes: all.reduce((s, e) => s + (e.encodedBodySize || 0), 0),
  transferred: all.reduce((s, e) => s + (e.transferSize || 0), 0),
  urls: all.map(e => e.name),
  origin: location.origin,
};
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resident_home_weighs_under_150_kb_with_no_third_party_request() {
    let Some(rig) = Rig::start().await else {
        return;
    };
    let mut b = rig.window(true).await;
    let outcome = async {
        login(&mut b, &rig.app, "13800000001", "/me").await?;
        // Every resource the page asks for has loaded (the live stream
        // stays open and is not counted until it ends).
        b.wait_until(
            "the page to finish loading",
            "return document.readyState === 'complete';",
        )
        .await?;
        let v: Value = b.exec(WEIGHT, json!([])).await?;
        let bytes = v["bytes"].as_u64().unwrap_or(u64::MAX);
        eprintln!(
            "resident home: {bytes} bytes encoded, {} transferred, {} requests",
            v["transferred"],
            v["urls"].as_array().map_or(0, Vec::len)
        );
        let origin = v["origin"].as_str().unwrap_or("");
        let foreign: Vec<&str> = v["urls"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|u| !u.starts_with(origin))
            .collect();
        if !foreign.is_empty() {
            return Err(format!("third-party requests: {foreign:?}"));
        }
        if v["urls"].as_array().map_or(0, Vec::len) < 3 {
            return Err(format!(
                "too few entries to be the whole page: {}",
                v["urls"]
            ));
        }
        if bytes >= 150 * 1024 {
            return Err(format!("the resident home weighs {bytes} bytes (≥ 150 KB)"));
        }
        Ok(())
    }
    .await;
    rig.finish("weight", outcome, &mut [&mut b]).await;
}
