//! Sending one webhook request: a plain HTTP client with a total timeout,
//! no redirects, no proxies from the environment, and name resolution
//! through the SSRF guard.

use crate::model::Outgoing;
use crate::ssrf::GuardedResolver;
use std::sync::Arc;
use std::time::Duration;

pub fn client(settings: &kernel::Settings) -> reqwest::Client {
    let timeout = Duration::from_secs(settings.webhook_timeout_seconds.max(1));
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver {
            allow_private: settings.webhook_allow_private,
        }))
        .user_agent(concat!("Lianxin-Webhook/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// A failed attempt: what went wrong and the HTTP status, if any.
#[derive(Debug)]
pub struct Failure {
    pub error: String,
    pub status: Option<u16>,
}

/// Posts the request; `Ok((status, body))` when an answer came back.
pub async fn post(client: &reqwest::Client, out: &Outgoing) -> Result<(u16, Vec<u8>), Failure> {
    let mut req = client
        .post(&out.url)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/json; charset=utf-8",
        )
        .body(out.body.clone());
    for (k, v) in &out.headers {
        req = req.header(*k, v);
    }
    let resp = req.send().await.map_err(|e| Failure {
        error: describe(&e),
        status: None,
    })?;
    let status = resp.status().as_u16();
    // Robots answer a small JSON document; read at most 64 KiB of it.
    let mut body = Vec::new();
    let mut resp = resp;
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                body.extend_from_slice(&c);
                if body.len() > 64 * 1024 {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                return Err(Failure {
                    error: describe(&e),
                    status: Some(status),
                })
            }
        }
    }
    Ok((status, body))
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "超时未答复".into()
    } else if e.is_connect() {
        "无法连接".into()
    } else if e.is_builder() {
        "地址无效".into()
    } else {
        let s = e.to_string();
        crate::model::truncate_bytes(&s, 200)
    }
}
