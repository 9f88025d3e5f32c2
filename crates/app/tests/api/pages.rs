//! The web pages over real HTTP with a cookie session: login with its
//! double-submit CSRF token, the resident and staff homes, filing a demand by
//! form, language switching, logout, and the API's CSRF rule for cookies.

use crate::helpers::*;
use reqwest::header::{CONTENT_TYPE, LOCATION, SET_COOKIE};
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};

pub(crate) fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value of the first `<input … name="{name}" value="…">` in the page.
pub(crate) fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no input {name} in page"))
        + marker.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].to_string()
}

pub(crate) fn set_cookies(r: &Response) -> Vec<String> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

pub(crate) fn cookie_value(set_cookies: &[String], name: &str) -> Option<String> {
    set_cookies.iter().find_map(|c| {
        c.split(';')
            .next()
            .and_then(|kv| kv.trim().split_once('='))
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    })
}

pub(crate) fn location(r: &Response) -> String {
    r.headers()
        .get(LOCATION)
        .unwrap_or_else(|| panic!("no Location on {}", r.status()))
        .to_str()
        .unwrap()
        .to_string()
}

pub(crate) fn is_html(r: &Response) -> bool {
    r.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

pub(crate) async fn get(app: &TestApp, c: &Client, path: &str) -> Response {
    c.get(app.url(path)).send().await.unwrap()
}

pub(crate) async fn page(app: &TestApp, c: &Client, path: &str) -> (StatusCode, String) {
    let r = get(app, c, path).await;
    let s = r.status();
    (s, r.text().await.unwrap())
}

pub(crate) async fn post_form(
    app: &TestApp,
    c: &Client,
    path: &str,
    form: &[(&str, &str)],
) -> Response {
    c.post(app.url(path)).form(form).send().await.unwrap()
}

/// GET /login, then POST the form with its CSRF token; the raw answer.
pub(crate) async fn submit_login(
    app: &TestApp,
    c: &Client,
    login: &str,
    password: &str,
    next: &str,
) -> Response {
    let (s, html) = page(app, c, "/login").await;
    assert_eq!(s, StatusCode::OK);
    let csrf = hidden(&html, "csrf");
    post_form(
        app,
        c,
        "/login",
        &[
            ("login", login),
            ("password", password),
            ("csrf", &csrf),
            ("next", next),
        ],
    )
    .await
}

/// A browser logged in as `login`.
pub(crate) async fn logged_in(app: &TestApp, login: &str) -> Client {
    let c = browser();
    let r = submit_login(app, &c, login, PASSWORD, "").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "login {login}");
    c
}

/// The session's CSRF token, as the forms on /me carry it.
pub(crate) async fn form_csrf(app: &TestApp, c: &Client, path: &str) -> String {
    let (s, html) = page(app, c, path).await;
    assert_eq!(s, StatusCode::OK);
    let t = hidden(&html, "csrf");
    assert!(
        !t.is_empty(),
        "a logged-in page carries the session's CSRF token"
    );
    t
}

#[tokio::test]
async fn login_page_sets_a_csrf_cookie_and_form_field() {
    let app = spawn_app().await;
    let c = browser();
    let r = get(&app, &c, "/login").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(is_html(&r));
    let cookies = set_cookies(&r);
    let cookie = cookie_value(&cookies, "lx_login_csrf").expect("lx_login_csrf cookie");
    let raw = cookies
        .iter()
        .find(|c| c.starts_with("lx_login_csrf="))
        .unwrap();
    assert!(raw.contains("HttpOnly"), "{raw}");
    let html = r.text().await.unwrap();
    assert!(
        html.contains("type=\"hidden\" name=\"csrf\""),
        "hidden csrf input"
    );
    assert_eq!(
        hidden(&html, "csrf"),
        cookie,
        "double-submit: form field equals cookie"
    );
    assert!(html.contains("登录连心"));
    assert!(html.contains("lang=\"zh-CN\""));
}

#[tokio::test]
async fn login_sends_residents_to_me_and_staff_to_work() {
    let app = spawn_app().await;
    for (login, home) in [
        ("13800000001", "/me"),
        ("butler-xc", "/work"),
        ("community-zq", "/work"),
    ] {
        let c = browser();
        let r = submit_login(&app, &c, login, PASSWORD, "").await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{login}");
        assert_eq!(location(&r), home, "{login}");
        let cookies = set_cookies(&r);
        let raw = cookies
            .iter()
            .find(|c| c.starts_with("lx_session="))
            .unwrap_or_else(|| panic!("no session cookie for {login}: {cookies:?}"));
        assert!(raw.contains("HttpOnly"), "{raw}");
        assert!(raw.contains("SameSite="), "{raw}");
        assert!(raw.contains("Path=/"), "{raw}");
        assert!(cookie_value(&cookies, "lx_session").unwrap().len() >= 32);
        // The session works: the home page renders, /login bounces home.
        let (s, _) = page(&app, &c, home).await;
        assert_eq!(s, StatusCode::OK, "{login} {home}");
        let r = get(&app, &c, "/login").await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&r), home);
    }
    assert!(
        app.audit_actions()
            .await
            .iter()
            .filter(|a| *a == "login")
            .count()
            >= 3
    );
}

#[tokio::test]
async fn login_with_a_wrong_csrf_or_password_gets_no_session() {
    let app = spawn_app().await;
    let sessions = app.count("sessions").await;

    let c = browser();
    let (_, _) = page(&app, &c, "/login").await;
    let r = post_form(
        &app,
        &c,
        "/login",
        &[
            ("login", "13800000001"),
            ("password", PASSWORD),
            ("csrf", "forged"),
            ("next", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(cookie_value(&set_cookies(&r), "lx_session").is_none());
    let html = r.text().await.unwrap();
    assert!(html.contains("页面已过期"), "expired-page message");
    assert!(html.contains("value=\"13800000001\""), "the login is kept");

    // A csrf field without the cookie (a cross-site post) fails too.
    let bare = browser();
    let r = post_form(
        &app,
        &bare,
        "/login",
        &[
            ("login", "13800000001"),
            ("password", PASSWORD),
            ("csrf", "x"),
            ("next", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(cookie_value(&set_cookies(&r), "lx_session").is_none());

    let r = submit_login(&app, &c, "13800000001", "wrong-password", "").await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "the form again, refused"
    );
    assert!(cookie_value(&set_cookies(&r), "lx_session").is_none());
    let html = r.text().await.unwrap();
    assert!(html.contains("账号或密码错误"));
    assert!(
        !html.contains("wrong-password"),
        "the password is never echoed"
    );
    assert_eq!(app.count("sessions").await, sessions);
    let (s, _) = page(&app, &c, "/me").await;
    assert_eq!(s, StatusCode::SEE_OTHER, "still logged out");
}

#[tokio::test]
async fn unauthenticated_pages_redirect_to_login_with_next() {
    let app = spawn_app().await;
    let c = browser();
    let r = get(&app, &c, "/me").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login?next=/me");
    let r = get(&app, &c, "/work?x=1").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login?next=/work%3Fx%3D1");
    let r = get(&app, &c, "/").await;
    assert_eq!(location(&r), "/login");

    // The next= survives the login form and is followed afterwards.
    let (s, html) = page(&app, &c, "/login?next=/org").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(hidden(&html, "next"), "/org");
    let csrf = hidden(&html, "csrf");
    let r = post_form(
        &app,
        &c,
        "/login",
        &[
            ("login", "community-zq"),
            ("password", PASSWORD),
            ("csrf", &csrf),
            ("next", "/org"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/org");

    // Off-site targets are ignored.
    for evil in [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let c = browser();
        let r = submit_login(&app, &c, "13800000001", PASSWORD, evil).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&r), "/me", "next={evil}");
    }
}

#[tokio::test]
async fn me_shows_own_demands_and_the_form() {
    let app = spawn_app().await;
    let c = logged_in(&app, "13800000001").await;
    let (s, html) = page(&app, &c, "/me").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("我要反映"));
    assert!(html.contains("action=\"/demands\""));
    assert!(html.contains("地下车库照明不亮") && html.contains("1号楼旁充电桩无法充电"));
    // A neighbour's open demand may appear among "similar demands" (title
    // and category only, to say 我也遇到), never in the resident's own list.
    let start = html.find("我反映的诉求").expect("own list");
    let own_list = &html[start..start + html[start..].find("</section>").unwrap()];
    assert!(
        !own_list.contains("2号楼垃圾箱满了没人清"),
        "a neighbour's demand leaked into the own list"
    );
    let similar = &html[start + own_list.len()..];
    if let Some(i) = similar.find("2号楼垃圾箱满了没人清") {
        let around = &similar[i.saturating_sub(600)..(i + 600).min(similar.len())];
        assert!(
            !around.contains("李秀兰") && !around.contains("2号楼 1单元 101"),
            "no person or household beside it"
        );
    }
    assert!(
        !html.contains("楼上洗衣机下水管道漏水"),
        "another compound's demand"
    );
    assert!(html.contains("新城壹号小区 1号楼 1单元 101室"));
    assert!(html.contains("樊一新"));
    // Staff have no /me; residents have no /work.
    let staff = logged_in(&app, "butler-xc").await;
    let r = get(&app, &staff, "/me").await;
    assert_eq!(
        (r.status(), location(&r)),
        (StatusCode::SEE_OTHER, "/work".to_string())
    );
    let r = get(&app, &c, "/work").await;
    assert_eq!(
        (r.status(), location(&r)),
        (StatusCode::SEE_OTHER, "/me".to_string())
    );
}

#[tokio::test]
async fn filing_a_demand_by_form_needs_the_csrf_token() {
    let app = spawn_app().await;
    let c = logged_in(&app, "13800000001").await;
    let csrf = form_csrf(&app, &c, "/me").await;
    let before = app.count("demands").await;
    let fields = [
        ("category", "leak"),
        ("title", "阳台顶棚渗水"),
        ("description", "阳台顶棚连续两天渗水,墙皮起鼓"),
        ("location", "阳台"),
    ];
    let with_csrf = |token: &str| {
        let mut f: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        f.push(("csrf".into(), token.into()));
        f
    };

    // Without a token, and with a wrong one: 400, nothing written.
    let r = c
        .post(app.url("/demands"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(is_html(&r), "a page, not JSON");
    assert!(r.text().await.unwrap().contains("页面已过期"));
    let r = c
        .post(app.url("/demands"))
        .form(&with_csrf("forged-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = c
        .post(app.url("/demands"))
        .form(&with_csrf(""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.count("demands").await, before);

    let r = c
        .post(app.url("/demands"))
        .form(&with_csrf(&csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/me?filed=1");
    assert_eq!(app.count("demands").await, before + 1);
    assert_eq!(app.audit_actions().await.last().unwrap(), "demand_created");
    let (s, html) = page(&app, &c, "/me?filed=1").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("诉求已提交"));
    assert!(html.contains("阳台顶棚渗水"));
}

#[tokio::test]
async fn an_invalid_form_is_shown_again_with_its_values() {
    let app = spawn_app().await;
    let c = logged_in(&app, "13800000001").await;
    let csrf = form_csrf(&app, &c, "/me").await;
    let before = app.count("demands").await;
    let r = post_form(
        &app,
        &c,
        "/demands",
        &[
            ("category", "leak"),
            ("title", ""),
            ("description", "厨房水管接头一直滴水"),
            ("location", "厨房"),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(is_html(&r));
    let html = r.text().await.unwrap();
    assert!(
        html.contains("厨房水管接头一直滴水"),
        "the description is kept"
    );
    assert!(html.contains("value=\"厨房\""), "the location is kept");
    assert!(html.contains("标题不能为空"));
    assert!(html.contains("aria-invalid=\"true\""));
    assert!(
        html.contains("<option value=\"leak\" selected>"),
        "the category stays chosen"
    );
    assert_eq!(app.count("demands").await, before);
}

#[tokio::test]
async fn user_text_is_escaped_on_pages() {
    let app = spawn_app().await;
    let c = logged_in(&app, "13800000001").await;
    let csrf = form_csrf(&app, &c, "/me").await;
    let title = "<script>alert(1)</script>";
    let r = post_form(
        &app,
        &c,
        "/demands",
        &[
            ("category", "leak"),
            ("title", title),
            ("description", "<img src=x onerror=alert(2)> 卫生间漏水"),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&app, &c, "/me").await;
    assert!(!html.contains(title), "raw markup rendered");
    assert!(
        html.contains("&lt;script&gt;") || html.contains("&#60;script&#62;"),
        "escaped title shown"
    );
    let butler = logged_in(&app, "butler-xc").await;
    let (_, html) = page(&app, &butler, "/work").await;
    assert!(!html.contains(title));
    let (_, v) = app
        .get("/api/v1/demands?limit=1", &app.token("13800000001").await)
        .await;
    let id = v["items"][0]["id"].as_str().unwrap().to_string();
    let (s, html) = page(&app, &butler, &format!("/demands/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(!html.contains(title) && !html.contains("<img src=x"));
}

#[tokio::test]
async fn work_lists_the_compounds_demands_only() {
    let app = spawn_app().await;
    let c = logged_in(&app, "butler-xc").await;
    let (s, html) = page(&app, &c, "/work").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("新城壹号小区"), "scope shown");
    for t in [
        "地下车库照明不亮",
        "1号楼旁充电桩无法充电",
        "2号楼垃圾箱满了没人清",
    ] {
        assert!(html.contains(t), "{t}");
    }
    assert!(!html.contains("楼上洗衣机下水管道漏水"), "FH demand leaked");

    // Another compound's demand is a 404 page, as if it did not exist.
    let fh = app.token("property-fh").await;
    let (_, v) = app.get("/api/v1/demands", &fh).await;
    let fh_id = v["items"][0]["id"].as_str().unwrap().to_string();
    let r = get(&app, &c, &format!("/demands/{fh_id}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(is_html(&r));
    let html = r.text().await.unwrap();
    assert!(html.contains("页面不存在或您无权查看"));
    assert!(!html.contains("楼上洗衣机下水管道漏水"));
    let r = get(&app, &c, "/demands/not-an-id").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Its own compound's demand renders with the timeline.
    let (_, v) = app
        .get("/api/v1/demands", &app.token("butler-xc").await)
        .await;
    let xc_id = v["items"][0]["id"].as_str().unwrap().to_string();
    let (s, html) = page(&app, &c, &format!("/demands/{xc_id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains(v["items"][0]["title"].as_str().unwrap()));
}

#[tokio::test]
async fn org_pages_render_for_community_staff() {
    let app = spawn_app().await;
    let c = logged_in(&app, "community-zq").await;
    let (s, html) = page(&app, &c, "/org").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("站前社区"));
    let xc = app.node_id(XC).await;
    let (s, html) = page(&app, &c, &format!("/org/{xc}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("新城壹号小区") && html.contains("1号楼") && html.contains("2号楼"));
    let h = app.node_id(XC_101).await;
    let (s, html) = page(&app, &c, &format!("/org/{h}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("樊一新"));
    assert!(html.contains("138****0001"));
    assert!(!html.contains("13800000001"), "phones are masked on pages");
    let fh = app.node_id(FH).await;
    let r = get(&app, &c, &format!("/org/{fh}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(is_html(&r));
}

#[tokio::test]
async fn lang_en_is_remembered() {
    let app = spawn_app().await;
    let c = browser();
    let r = get(&app, &c, "/login?lang=en").await;
    assert_eq!(r.status(), StatusCode::OK);
    let cookies = set_cookies(&r);
    assert_eq!(cookie_value(&cookies, "lx_lang").as_deref(), Some("en"));
    let html = r.text().await.unwrap();
    assert!(html.contains("Log in"));
    assert!(html.contains("lang=\"en\""));
    assert!(!html.contains("登录连心"));

    // No ?lang= now: still English, from the cookie.
    let (_, html) = page(&app, &c, "/login").await;
    assert!(html.contains("Log in to Lianxin"), "remembered");
    let r = submit_login(&app, &c, "13800000001", "wrong-password", "").await;
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Wrong account or password"));
    let r = submit_login(&app, &c, "13800000001", PASSWORD, "").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&app, &c, "/me").await;
    assert!(html.contains("Raise a demand"));

    // And back.
    let (_, html) = page(&app, &c, "/me?lang=zh").await;
    assert!(html.contains("我要反映"));
    let (_, html) = page(&app, &c, "/me").await;
    assert!(html.contains("我要反映"));
}

#[tokio::test]
async fn logout_revokes_the_session() {
    let app = spawn_app().await;
    let c = browser();
    let r = submit_login(&app, &c, "13800000001", PASSWORD, "").await;
    let token = cookie_value(&set_cookies(&r), "lx_session").unwrap();
    let csrf = form_csrf(&app, &c, "/me").await;

    // Without the token: refused, still logged in.
    let r = post_form(&app, &c, "/logout", &[("csrf", "forged")]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let (s, _) = page(&app, &c, "/me").await;
    assert_eq!(s, StatusCode::OK);

    let r = post_form(&app, &c, "/logout", &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login");
    let cleared = set_cookies(&r);
    assert!(
        cleared
            .iter()
            .any(|c| c.starts_with("lx_session=;") && c.contains("Max-Age=0")),
        "{cleared:?}"
    );
    assert_eq!(app.audit_actions().await.last().unwrap(), "logout");
    let r = get(&app, &c, "/me").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login?next=/me");

    // Revoked on the server, not just forgotten by the browser.
    let replay = app
        .client
        .get(app.url("/me"))
        .header(reqwest::header::COOKIE, format!("lx_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&replay), "/login?next=/me");
    let (s, _) = app.get("/api/v1/me", &token).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cookie_sessions_need_the_csrf_header_on_api_writes() {
    let app = spawn_app().await;
    let c = logged_in(&app, "13800000001").await;
    let before = app.count("demands").await;
    let body = json!({"category": "leak", "title": "卫生间漏水", "description": "卫生间顶棚渗水,已经三天了"});

    // Reads need no token.
    let r = get(&app, &c, "/api/v1/demands").await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 2);

    let r = c
        .post(app.url("/api/v1/demands"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "forbidden", "the API keeps answering JSON");
    let r = c
        .post(app.url("/api/v1/demands"))
        .header("X-CSRF-Token", "forged")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("demands").await, before);

    let csrf = form_csrf(&app, &c, "/me").await;
    let r = c
        .post(app.url("/api/v1/demands"))
        .header("X-CSRF-Token", &csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "submitted");
    assert_eq!(app.count("demands").await, before + 1);

    // The login form's pre-session token is not the session's.
    let (_, login_html) = page(&app, &browser(), "/login").await;
    let pre = hidden(&login_html, "csrf");
    let r = c
        .post(app.url("/api/v1/demands"))
        .header("X-CSRF-Token", &pre)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn pages_carry_security_headers() {
    let app = spawn_app().await;
    let c = logged_in(&app, "13800000001").await;
    for path in ["/login", "/me", "/demands/not-an-id", "/no-such-page"] {
        let r = get(&app, &c, path).await;
        let h = r.headers();
        let csp = h
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("no CSP on {path}"))
            .to_str()
            .unwrap();
        assert!(
            csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
    }
    let r = get(&app, &c, "/me").await;
    assert_eq!(
        r.headers()["cache-control"],
        "no-store",
        "personal pages are not cached"
    );
}
