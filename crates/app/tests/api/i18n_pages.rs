//! Pages in English (`?lang=en`): every page each demo role can reach shows
//! no Chinese outside user data (marked `translate="no"`), no raw RFC 3339
//! or ISO dates, and no raw codes (`public_facility`); forms refused with bad
//! input show their field messages and refusals in English, while the JSON
//! API keeps its Chinese messages. In Chinese the same pages show dates as
//! 2026年11月29日.

use crate::helpers::*;
use crate::pages::{browser, form_csrf, hidden, page, post_form, submit_login};
use kernel::i18n::is_cjk;
use reqwest::StatusCode;
use serde_json::json;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// The text a reader sees (text nodes, `aria-label`, `title`,
/// `placeholder`), leaving out elements marked `translate="no"` (user data)
/// with everything inside them, and scripts and styles.
pub(crate) fn visible_text(html: &str) -> String {
    const VOID: &[&str] = &[
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr",
    ];
    let mut out = String::new();
    let mut stack: Vec<(String, bool)> = Vec::new();
    let mut rest = html;
    loop {
        let hidden = stack.iter().any(|(_, h)| *h);
        let Some(lt) = rest.find('<') else {
            if !hidden {
                out.push_str(rest);
            }
            break;
        };
        if !hidden {
            out.push_str(&rest[..lt]);
            out.push('\n');
        }
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |j| &after[j + 3..]);
            continue;
        }
        let Some(gt) = rest.find('>') else { break };
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        if tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim().to_ascii_lowercase();
            if let Some(pos) = stack.iter().rposition(|(n, _)| *n == name) {
                stack.truncate(pos);
            }
            continue;
        }
        let name = tag
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        // The document title cannot mark the user data in it (a demand's
        // title); its words come from the catalogue like the h1 it repeats.
        let no = tag.contains("translate=\"no\"")
            || matches!(name.as_str(), "script" | "style")
            || (name == "title" && !stack.iter().any(|(n, _)| n == "svg"));
        if !hidden && !no {
            for attr in ["aria-label", "title", "placeholder"] {
                let marker = format!(" {attr}=\"");
                if let Some(i) = tag.find(&marker) {
                    let v = &tag[i + marker.len()..];
                    out.push_str(&v[..v.find('"').unwrap_or(v.len())]);
                    out.push('\n');
                }
            }
        }
        if VOID.contains(&name.as_str()) || tag.ends_with('/') {
            continue;
        }
        stack.push((name, no));
    }
    out
}

/// What an English page must not show, one line per finding.
fn english_problems(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.chars().any(is_cjk) {
            found.push(format!("Chinese: {line}"));
        }
        let b = line.as_bytes();
        let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
        for i in 0..b.len() {
            // 2026-11-29 (and 2026-11-29T09:18…): a date not formatted.
            if (0..4).all(|k| digit(i + k))
                && b.get(i + 4) == Some(&b'-')
                && digit(i + 5)
                && digit(i + 6)
                && b.get(i + 7) == Some(&b'-')
                && digit(i + 8)
                && digit(i + 9)
                && (i == 0 || !b[i - 1].is_ascii_alphanumeric())
            {
                found.push(format!("raw date: {line}"));
                break;
            }
        }
        // public_facility, in_service: a code, not its label.
        for word in line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            let parts: Vec<&str> = word.split('_').collect();
            if parts.len() > 1
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_lowercase()))
            {
                found.push(format!("code: {word} in {line}"));
            }
        }
    }
    found
}

/// Same-site page links of a page (no API, downloads, assets or logout).
fn links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("href=\"") {
        rest = &rest[i + 6..];
        let end = rest.find('"').unwrap_or(rest.len());
        let href = rest[..end].replace("&amp;", "&");
        let href = href.split('#').next().unwrap_or("").to_string();
        let skip = [
            "/api/",
            "/static/",
            "/favicon",
            "/logout",
            "/open311/",
            "/metrics",
        ];
        if href.starts_with('/')
            && !href.starts_with("//")
            && !skip.iter().any(|s| href.starts_with(s))
            && !href.contains("export")
            && !href.contains("lang=")
        {
            out.push(href);
        }
    }
    out
}

/// A link's shape: ids and query values left out, so a crawl sees each kind
/// of page a couple of times, not every record.
fn shape(href: &str) -> String {
    let (path, query) = href.split_once('?').unwrap_or((href, ""));
    let path: Vec<&str> = path
        .split('/')
        .map(|s| if s.len() >= 20 { "{id}" } else { s })
        .collect();
    let mut keys: Vec<&str> = query
        .split('&')
        .filter_map(|kv| kv.split('=').next())
        .filter(|k| !k.is_empty())
        .collect();
    keys.sort();
    format!("{}?{}", path.join("/"), keys.join("&"))
}

/// Logs in as `login` with the language set to English (remembered in the
/// cookie), then follows every link it sees from `start`, each shape of
/// page at most twice and `max` pages in all; the pages it found problems
/// on, with the problems.
async fn crawl_in_english(
    app: &TestApp,
    login: &str,
    start: &[&str],
    max: usize,
) -> (usize, BTreeMap<String, Vec<String>>) {
    let c = browser();
    let (s, _) = page(app, &c, "/login?lang=en").await;
    assert_eq!(s, StatusCode::OK);
    let r = submit_login(app, &c, login, PASSWORD, "").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "login {login}");
    let mut queue: VecDeque<String> = start.iter().map(|s| s.to_string()).collect();
    let mut seen_shape: HashMap<String, usize> = HashMap::new();
    let mut visited = std::collections::HashSet::new();
    let mut problems = BTreeMap::new();
    let mut pages = 0;
    while let Some(href) = queue.pop_front() {
        if pages >= max || !visited.insert(href.clone()) {
            continue;
        }
        let n = seen_shape.entry(shape(&href)).or_default();
        if *n >= 2 {
            continue;
        }
        *n += 1;
        let r = c.get(app.url(&href)).send().await.unwrap();
        let is_page = r
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"));
        if !is_page {
            continue;
        }
        let html = r.text().await.unwrap();
        pages += 1;
        assert!(html.contains("lang=\"en\""), "{login} {href}: not English");
        let found = english_problems(&visible_text(&html));
        if !found.is_empty() {
            problems.insert(format!("{login} {href}"), found);
        }
        queue.extend(links(&html));
    }
    (pages, problems)
}

#[test]
fn the_checker_finds_what_it_should() {
    let html = r#"<p>Filed 29 Nov 2026, 15:30</p><p translate="no">张三 <b>2026-11-29</b></p>
        <img alt="x"><input aria-label="名字"><span title="public_facility">ok</span>"#;
    let text = visible_text(html);
    assert!(text.contains("Filed 29 Nov 2026, 15:30"));
    assert!(!text.contains("张三") && !text.contains("2026-11-29"));
    let found = english_problems(&text);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("Chinese: 名字"));
    assert!(found[1].starts_with("code: public_facility"));
    assert_eq!(
        english_problems("Due 2026-11-29T09:18:00+08:00").len(),
        1,
        "an RFC 3339 instant"
    );
    assert!(english_problems("Due 29 Nov 2026, 09:18 · 95.2% · A, B").is_empty());
}

#[tokio::test]
async fn english_pages_show_no_chinese_raw_dates_or_codes() {
    let app = spawn_app().await;
    // Data with dates and codes on the resident's pages: a demand in a
    // category with a two-word code, and a correction request.
    let token = app.token("13800000001").await;
    let (s, _) = app
        .post(
            "/api/v1/demands",
            &token,
            json!({"category": "public_facility", "title": "健身器材坏了",
                   "description": "小区健身器材的扶手断了"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = app
        .post(
            "/api/v1/me/corrections",
            &token,
            json!({"field": "relation", "value": "户主", "reason": "登记有误"}),
        )
        .await;
    assert!(s.is_success(), "{s}");
    let roles: &[(&str, &[&str])] = &[
        (
            "13800000001",
            &["/me", "/me/data", "/inbox", "/surveys", "/me/password"],
        ),
        ("butler-xc", &["/work", "/inbox", "/org"]),
        (
            "branch-fh",
            &["/party", "/party/members/new", "/party/activities/new"],
        ),
        (
            "community-zq",
            &[
                "/work",
                "/work/board",
                "/work/privacy",
                "/mediation",
                "/surveys",
                "/insight",
            ],
        ),
        ("street-cb", &["/insight", "/insight/league", "/work/board"]),
        ("auditor", &["/audit"]),
    ];
    let mut all = BTreeMap::new();
    let mut total = 0;
    for (login, start) in roles {
        let (pages, problems) = crawl_in_english(&app, login, start, 45).await;
        assert!(pages >= start.len(), "{login}: {pages} pages");
        total += pages;
        all.extend(problems);
    }
    assert!(total > 60, "the crawl saw the pages ({total})");
    assert!(
        all.is_empty(),
        "English pages with Chinese, raw dates or codes:\n{}",
        all.iter()
            .map(|(k, v)| format!("{k}:\n  {}", v.join("\n  ")))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[tokio::test]
async fn dates_are_formatted_per_locale() {
    let app = spawn_app().await;
    let token = app.token("13800000001").await;
    app.file_demand(&token, "楼道灯不亮").await;
    let c = browser();
    let r = submit_login(&app, &c, "13800000001", PASSWORD, "").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, zh) = page(&app, &c, "/me/data").await;
    let (_, en) = page(&app, &c, "/me/data?lang=en").await;
    // The clock of the test app, in both languages.
    let now = app.ctx.now_ms();
    let zh_date = kernel::i18n::Lang::Zh.date(now);
    let en_date = kernel::i18n::Lang::En.date(now);
    assert!(
        zh_date.ends_with('日') && zh.contains(&zh_date),
        "{zh_date}"
    );
    assert!(en.contains(&en_date), "{en_date}");
    assert!(!en.contains(&zh_date));
    // The category by its name, not its code; no RFC 3339 instant.
    assert!(!visible_text(&en).contains("+08:00"));
    assert!(!visible_text(&zh).contains("+08:00"));
}

/// The field messages and page-level errors of refused forms are English on
/// English pages (the JSON API keeps its Chinese).
#[tokio::test]
async fn refused_forms_speak_english_on_english_pages() {
    let app = spawn_app().await;

    // The resident files an empty demand: field messages next to the fields.
    let c = browser();
    page(&app, &c, "/login?lang=en").await;
    let r = submit_login(&app, &c, "13800000001", PASSWORD, "").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let csrf = form_csrf(&app, &c, "/me").await;
    let r = post_form(
        &app,
        &c,
        "/demands",
        &[
            ("csrf", &csrf),
            ("category", ""),
            ("title", "x"),
            ("description", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    let errors = field_errors(&html);
    assert!(errors.len() >= 2, "{errors:?}");
    assert!(
        errors.iter().any(|e| e.contains("Choose a category")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("is required")),
        "{errors:?}"
    );
    assert_english(&html, "/demands");

    // A correction with a bad phone number on /me/data.
    let csrf = form_csrf(&app, &c, "/me/data").await;
    let r = post_form(
        &app,
        &c,
        "/me/data/corrections",
        &[("csrf", &csrf), ("field", "phone"), ("value", "123")],
    )
    .await;
    let html = r.text().await.unwrap();
    assert!(html.contains("Invalid phone number"), "{html}");
    assert_english(&html, "/me/data/corrections");

    // A password change that is too short.
    let csrf = form_csrf(&app, &c, "/me/password").await;
    let r = post_form(
        &app,
        &c,
        "/me/password",
        &[
            ("csrf", &csrf),
            ("current_password", PASSWORD),
            ("new_password", "short"),
        ],
    )
    .await;
    let html = r.text().await.unwrap();
    assert!(html.contains("at least 12 characters"), "{html}");
    assert_english(&html, "/me/password");

    // The branch secretary's new activity without a title or a place, and
    // with a time too far ahead.
    let c = browser();
    page(&app, &c, "/login?lang=en").await;
    let r = submit_login(&app, &c, "branch-fh", PASSWORD, "").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (s, html) = page(&app, &c, "/party/activities/new").await;
    assert_eq!(s, StatusCode::OK);
    let csrf = hidden(&html, "csrf");
    // The first organisation offered.
    let marker = "<option translate=\"no\" value=\"";
    let i = html.find(marker).expect("an organisation to choose") + marker.len();
    let org = html[i..i + html[i..].find('"').unwrap()].to_string();
    let r = post_form(
        &app,
        &c,
        "/party/activities",
        &[
            ("csrf", &csrf),
            ("org_id", &org),
            ("kind", "themed_day"),
            ("title", ""),
            ("held_at", "2099-01-01T09:00"),
            ("place", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("is required"), "{html}");
    assert_english(&html, "/party/activities");

    // Community staff open a mediation with nothing filled in.
    let c = browser();
    page(&app, &c, "/login?lang=en").await;
    let r = submit_login(&app, &c, "community-zq", PASSWORD, "").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let csrf = form_csrf(&app, &c, "/mediation").await;
    let r = post_form(
        &app,
        &c,
        "/mediation",
        &[("csrf", &csrf), ("title", ""), ("summary", "")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert_english(&html, "/mediation");

    // The API keeps the contract's Chinese.
    let token = app.token("13800000001").await;
    let (s, body) = app
        .post(
            "/api/v1/demands",
            &token,
            json!({"category": "", "title": "", "description": ""}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["message"], "提交的内容有误,请按提示修改");
    assert!(body["fields"]["title"][0]
        .as_str()
        .unwrap()
        .chars()
        .any(is_cjk));
}

fn field_errors(html: &str) -> Vec<String> {
    html.split("class=\"field-error\"")
        .skip(1)
        .map(|s| {
            let s = &s[s.find('>').unwrap() + 1..];
            s[..s.find("</p>").unwrap()].to_string()
        })
        .collect()
}

fn assert_english(html: &str, what: &str) {
    assert!(html.contains("lang=\"en\""), "{what}: not English");
    let found: Vec<String> = english_problems(&visible_text(html))
        .into_iter()
        .filter(|p| p.starts_with("Chinese"))
        .collect();
    assert!(found.is_empty(), "{what}: {found:?}");
}
