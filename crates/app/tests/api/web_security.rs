//! Transport and browser-side controls: security headers on pages, APIs
//! and errors (HSTS only over HTTPS), no inline script or event-handler
//! attributes in any template (so the CSP can forbid them), and a CSRF token
//! on every form that posts, checked by crawling every page as every role.

use crate::helpers::*;
use crate::pages::{browser, logged_in, page, post_form};
use reqwest::StatusCode;
use std::collections::{BTreeSet, VecDeque};
use std::path::Path;

const LOGINS: &[&str] = &[
    "13800000001",
    "13800000002",
    "13800000003",
    "butler-xc",
    "property-xc",
    "property-fh",
    "branch-fh",
    "community-zq",
    "street-cb",
    "district-ls",
    "village-xmz",
    "approval-lx",
    "expert-1",
    "grid-cz",
    "auditor",
];

fn assert_headers(r: &reqwest::Response, what: &str) {
    let h = r.headers();
    let get = |k: &str| {
        h.get(k)
            .unwrap_or_else(|| panic!("{what}: no {k}"))
            .to_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(get("x-frame-options"), "DENY", "{what}");
    let csp = get("content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    let script = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("script-src"))
        .unwrap_or_else(|| panic!("{what}: no script-src in {csp}"));
    assert!(
        !script.contains("unsafe-inline") && !script.contains("unsafe-eval"),
        "{what}: {script}"
    );
    assert!(csp.contains("object-src 'none'"), "{what}: {csp}");
}

#[tokio::test]
async fn pages_apis_and_errors_carry_the_security_headers() {
    let app = spawn_app().await;
    let t = app.token("13800000001").await;
    let r = app.client.get(app.url("/login")).send().await.unwrap();
    assert_headers(&r, "login page");
    assert!(
        r.headers().get("strict-transport-security").is_none(),
        "no HSTS over plain HTTP"
    );
    let r = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_headers(&r, "API");
    let r = app
        .client
        .get(app.url("/api/v1/nowhere"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_headers(&r, "API error");

    // Behind HTTPS (built-in TLS or a proxy: secure_cookies = true): HSTS.
    let https = spawn_configured(false, |c| c.secure_cookies = true).await;
    let r = https.client.get(https.url("/login")).send().await.unwrap();
    assert_headers(&r, "login page over https");
    let hsts = r
        .headers()
        .get("strict-transport-security")
        .expect("HSTS behind https")
        .to_str()
        .unwrap()
        .to_string();
    assert!(hsts.contains("max-age=31536000"), "{hsts}");
}

fn templates() -> Vec<(String, String)> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = Vec::new();
    for c in std::fs::read_dir(&crates).unwrap() {
        let dir = c.unwrap().path().join("templates");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "html") {
                out.push((
                    p.strip_prefix(&crates).unwrap().display().to_string(),
                    std::fs::read_to_string(&p).unwrap(),
                ));
            }
        }
    }
    out
}

/// Problems the CSP would block (or that would need 'unsafe-inline'):
/// a `<script>` with a body, an `on…=` handler attribute, a `javascript:`
/// URL, an inline `style=` attribute.
fn inline_script_problems(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(i) = lower[at..].find("<script") {
        let start = at + i;
        let tag_end = start + lower[start..].find('>').unwrap_or(lower.len() - start);
        let close = lower[tag_end..]
            .find("</script>")
            .map(|j| tag_end + j)
            .unwrap_or(tag_end);
        let tag = &lower[start..=tag_end.min(lower.len() - 1)];
        let body = lower[(tag_end + 1).min(close)..close].trim();
        if !tag.contains(" src=") || !body.is_empty() {
            found.push(format!(
                "inline <script>: {}",
                &html[start..close.max(tag_end)]
            ));
        }
        at = tag_end + 1;
    }
    // Attributes: whitespace, then on<letters>=, inside a tag.
    let bytes = lower.as_bytes();
    let mut in_tag = false;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'<' => in_tag = true,
            b'>' => in_tag = false,
            b' ' | b'\n' | b'\t' if in_tag => {
                let rest = &lower[i + 1..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphabetic())
                    .collect();
                if name.len() > 2
                    && name.starts_with("on")
                    && rest[name.len()..].trim_start().starts_with('=')
                {
                    found.push(format!("event handler attribute {name}"));
                }
                if name == "style" && rest[name.len()..].trim_start().starts_with('=') {
                    found.push("inline style attribute".into());
                }
            }
            _ => {}
        }
    }
    if lower.contains("javascript:") {
        found.push("javascript: URL".into());
    }
    found
}

#[test]
fn the_scanner_finds_what_it_looks_for() {
    assert!(inline_script_problems("<script src=\"/static/app.js\" defer></script>").is_empty());
    assert!(!inline_script_problems("<script>alert(1)</script>").is_empty());
    assert!(!inline_script_problems("<button onclick=\"x()\">").is_empty());
    assert!(!inline_script_problems("<a href=\"javascript:void(0)\">").is_empty());
    assert!(!inline_script_problems("<div style=\"color:red\">").is_empty());
    assert!(inline_script_problems("<p>online = true</p><input name=\"one\">").is_empty());
}

#[test]
fn no_template_has_inline_script_or_handlers() {
    let all = templates();
    assert!(all.len() >= 15, "found the templates ({})", all.len());
    let mut bad = Vec::new();
    for (name, html) in &all {
        for p in inline_script_problems(html) {
            bad.push(format!("{name}: {p}"));
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}

/// `(action, has_csrf)` for every `<form method="post">` of a page.
fn post_forms(html: &str) -> Vec<(String, bool)> {
    let lower = html.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = lower[at..].find("<form") {
        let start = at + i;
        let end = lower[start..]
            .find("</form>")
            .map(|j| start + j)
            .unwrap_or(lower.len());
        let tag_end = start + lower[start..].find('>').unwrap();
        let tag = &html[start..tag_end];
        if tag.to_ascii_lowercase().contains("method=\"post\"") {
            let action = tag
                .split("action=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or("")
                .replace("&amp;", "&");
            out.push((action, html[start..end].contains("name=\"csrf\"")));
        }
        at = end.max(start + 5);
    }
    out
}

fn links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(|s| s.replace("&amp;", "&"))
        .filter(|h| h.starts_with('/') && !h.starts_with("//"))
        .filter(|h| {
            !h.starts_with("/api/")
                && !h.starts_with("/static/")
                && !h.starts_with("/open311/")
                && !h.contains("lang=")
                && h.as_str() != "/metrics"
        })
        .collect()
}

#[tokio::test]
async fn every_form_that_posts_carries_the_csrf_token_and_needs_it() {
    let app = spawn_app().await;
    // The login form (before any session): double-submit token.
    let (s, html) = page(&app, &browser(), "/login").await;
    assert_eq!(s, StatusCode::OK);
    assert!(post_forms(&html).iter().all(|(_, csrf)| *csrf));

    let mut actions = BTreeSet::new();
    let mut pages_seen = 0;
    for login in LOGINS {
        let c = logged_in(&app, login).await;
        let mut queue = VecDeque::from(["/".to_string()]);
        let mut seen = BTreeSet::new();
        while let Some(path) = queue.pop_front() {
            // One page per route shape is enough (ids vary, forms do not).
            let shape: String = path
                .split('?')
                .next()
                .unwrap()
                .split('/')
                .map(|seg| if seg.len() >= 20 { "{id}" } else { seg })
                .collect::<Vec<_>>()
                .join("/");
            if !seen.insert(shape) || seen.len() > 60 {
                continue;
            }
            let r = c.get(app.url(&path)).send().await.unwrap();
            let status = r.status();
            if status.is_redirection() {
                if let Some(to) = r.headers().get("location") {
                    queue.push_back(to.to_str().unwrap().to_string());
                }
                continue;
            }
            let html = r.text().await.unwrap();
            if status != StatusCode::OK {
                continue;
            }
            pages_seen += 1;
            for (action, csrf) in post_forms(&html) {
                assert!(
                    csrf,
                    "{login}: the form posting to {action} on {path} has no csrf field"
                );
                if !action.is_empty() {
                    actions.insert((login.to_string(), action));
                }
            }
            queue.extend(links(&html));
        }
    }
    assert!(pages_seen >= 30, "crawled {pages_seen} pages");
    assert!(actions.len() >= 10, "found {} forms", actions.len());

    // Posting any of them without the token is refused (4xx) and changes
    // nothing the audit log would record.
    let audit_before = app.count("audit_events").await;
    let mut tried = BTreeSet::new();
    for (login, action) in &actions {
        let shape = action.split('?').next().unwrap().to_string();
        if action == "/logout" || !tried.insert(shape) {
            continue;
        }
        let c = logged_in(&app, login).await;
        let after_login = app.count("audit_events").await;
        let r = post_form(&app, &c, action, &[("reason", "x"), ("note", "x")]).await;
        assert!(
            r.status().is_client_error(),
            "{login}: POST {action} without csrf answered {}",
            r.status()
        );
        assert_eq!(
            app.count("audit_events").await,
            after_login,
            "{login}: POST {action} without csrf changed something"
        );
    }
    assert!(app.count("audit_events").await >= audit_before);
}

#[tokio::test]
async fn the_built_in_tls_serves_https_with_hsts() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let (cert, key) = (
        fixtures.join("test-cert.pem"),
        fixtures.join("test-key.pem"),
    );
    // The config file turns TLS on (and with it Secure cookies).
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("lianxin.toml");
    std::fs::write(
        &toml,
        format!(
            "tls_cert = {:?}\ntls_key = {:?}\n",
            cert.display().to_string(),
            key.display().to_string()
        ),
    )
    .unwrap();
    let args = app::config::CommonArgs {
        config: Some(toml),
        ..Default::default()
    };
    let mut config = app::config::Config::load(&args, true).unwrap();
    assert!(config.secure_cookies);
    let (database_url, _dir, _file, pg_drop) = fresh_database().await;
    config.database_url = database_url;
    let db = app::open_database(&config.database_url).await.unwrap();
    let ctx = app::context(
        db,
        kernel::crypto::FieldCipher::from_hex(TEST_KEY).unwrap(),
        kernel::clock::system(),
        &config,
    );
    let (c, k) = config.tls.clone().unwrap();
    let tls = app::tls_config(&c, &k).unwrap();
    let running = app::start_tls(ctx, "127.0.0.1:0", config.max_body_bytes, tls)
        .await
        .unwrap();

    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap(),
        )
        .build()
        .unwrap();
    let port = running.addr.port();
    let r = client
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()
            .get("strict-transport-security")
            .is_some_and(|v| v.to_str().unwrap().contains("max-age")),
        "HSTS over TLS"
    );
    assert_eq!(r.text().await.unwrap(), "ok");
    let r = client
        .get(format!("https://localhost:{port}/login"))
        .send()
        .await
        .unwrap();
    assert_headers(&r, "login over TLS");

    // Plain HTTP on the TLS port gets no answer.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .timeout(std::time::Duration::from_secs(5))
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());

    // A bad key file is a clear start-up error, not a panic.
    assert!(app::tls_config(&cert, &cert)
        .unwrap_err()
        .contains("tls_key"));
    running.handle.abort();
    running.ctx.db.close().await;
    if let Some((admin, name)) = pg_drop {
        let db = kernel::Db::connect(&admin).await.unwrap();
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(db.reader())
            .await;
        db.close().await;
    }
}

/// A TLS client that trusts the committed test certificate.
fn tls_connector() -> tokio_rustls::TlsConnector {
    use rustls::pki_types::pem::PemObject;
    let cert = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/test-cert.pem");
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(&cert).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
}

/// SIGTERM to the real binary serving HTTPS: it stops accepting at once
/// (new connections are refused), a slow request already in flight still
/// gets its whole answer, and the process then exits cleanly.
#[tokio::test]
async fn the_built_in_tls_server_shuts_down_gracefully_on_sigterm() {
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let world = crate::binary::World::new();
    std::fs::write(
        world.path().join("lianxin.toml"),
        format!(
            "login_rate_per_minute = 0\nintake_rate_per_minute = 0\ntls_cert = {:?}\ntls_key = {:?}\n",
            fixtures.join("test-cert.pem").display().to_string(),
            fixtures.join("test-key.pem").display().to_string()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(world.log_file()).unwrap();
    let mut child = std::process::Command::new(crate::binary::BIN)
        .arg("demo")
        .arg("--addr")
        .arg(format!("127.0.0.1:{}", world.port))
        .arg("--database-url")
        .arg(world.database_url())
        .arg("--config")
        .arg(world.path().join("lianxin.toml"))
        .current_dir(world.path())
        .env_remove("LIANXIN_FIELD_KEY")
        .env_remove("LIANXIN_DATABASE_URL")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::from(log.try_clone().unwrap()))
        .stderr(std::process::Stdio::from(log))
        .spawn()
        .unwrap();
    struct Reap<'a>(&'a mut std::process::Child);
    impl Drop for Reap<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let child = Reap(&mut child);
    let addr = format!("127.0.0.1:{}", world.port);
    let connector = tls_connector();
    let connect = || async {
        let tcp = tokio::net::TcpStream::connect(&addr).await?;
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        connector.connect(name, tcp).await
    };
    // Healthy over HTTPS.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(mut s) = connect().await {
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            let mut answer = String::new();
            let _ = s.read_to_string(&mut answer).await;
            if answer.starts_with("HTTP/1.1 200") {
                break;
            }
        }
        assert!(
            child.0.try_wait().unwrap().is_none(),
            "lianxin exited:\n{}",
            world.log_text()
        );
        assert!(
            Instant::now() < deadline,
            "not healthy:\n{}",
            world.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A slow request: the head and half of the body now, the rest later.
    let body = format!(r#"{{"login": "13800000001", "password": "{PASSWORD}"}}"#);
    let (first, rest) = body.split_at(body.len() / 2);
    let mut slow = connect().await.unwrap();
    // `Expect: 100-continue`: the server says "100 Continue" once its handler
    // reads the body, so the request is known to be in flight (no sleep).
    slow.write_all(
        format!(
            "POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    slow.flush().await.unwrap();
    let mut interim = Vec::new();
    let mut byte = [0u8; 1];
    while !interim.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(30), slow.read(&mut byte))
            .await
            .expect("100 Continue in time")
            .unwrap();
        assert_eq!(n, 1, "closed before 100 Continue");
        interim.push(byte[0]);
    }
    assert!(
        interim.starts_with(b"HTTP/1.1 100"),
        "{}",
        String::from_utf8_lossy(&interim)
    );
    slow.write_all(first.as_bytes()).await.unwrap();
    slow.flush().await.unwrap();

    let pid = child.0.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    // Shutdown has begun once new connections are refused.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::net::TcpStream::connect(&addr).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "still accepting after SIGTERM:\n{}",
            world.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "it waits for the request in flight"
    );

    // The request in flight finishes and gets its whole answer.
    slow.write_all(rest.as_bytes()).await.unwrap();
    slow.flush().await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), slow.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"token\""), "{answer}");

    // … and the process exits cleanly.
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "still running:\n{}",
            world.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}\n{}", world.log_text());
}
