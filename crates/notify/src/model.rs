//! Pure rules of notification: the event a module publishes, who it names,
//! the exact bodies 企业微信 / 钉钉 / generic webhooks receive, their
//! signatures, the retry schedule and the per-endpoint rate window. No IO.

use base64::Engine;
use hmac::{Hmac, Mac};
use kernel::i18n::Lang;
use kernel::{OrgPath, Role};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::VecDeque;

/// Kinds the modules publish today (others may be added freely: a kind is
/// just a name; its label comes from the catalogue `notify.kind.<kind>`).
pub mod kind {
    pub const DEMAND_FILED: &str = "demand.filed";
    pub const DEMAND_DISPATCHED: &str = "demand.dispatched";
    pub const DEMAND_OVERDUE: &str = "demand.overdue";
    pub const DEMAND_ESCALATED: &str = "demand.escalated";
    pub const DEMAND_RESOLVED: &str = "demand.resolved";
    pub const DEMAND_REWORK: &str = "demand.rework";
    pub const DEMAND_REOPENED: &str = "demand.reopened";
    pub const DEMAND_REJECTED: &str = "demand.rejected";
    pub const DEMAND_RETURNED: &str = "demand.returned";
    pub const DIGEST: &str = "digest";
    pub const TEST: &str = "webhook.test";

    pub const ALL: &[&str] = &[
        DEMAND_FILED,
        DEMAND_DISPATCHED,
        DEMAND_OVERDUE,
        DEMAND_ESCALATED,
        DEMAND_RESOLVED,
        DEMAND_REWORK,
        DEMAND_REOPENED,
        DEMAND_REJECTED,
        DEMAND_RETURNED,
        DIGEST,
        TEST,
    ];
}

/// The label of a kind in a language ("诉求已派遣给您").
pub fn kind_label(lang: Lang, kind: &str) -> String {
    let key = format!("notify.kind.{kind}");
    let t = lang.t(&key);
    if t == key {
        kind.to_string()
    } else {
        t.to_string()
    }
}

/// Whom an event names directly, besides the subscriptions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Hint {
    /// One account.
    User { id: String },
    /// The accounts of a household's residents (`residents.user_id`).
    Household { id: String },
    /// Holders of one of `roles` with a grant exactly at `org_path`.
    RolesAt { org_path: String, roles: Vec<Role> },
}

/// Which webhooks hear an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum WebhookScope {
    /// Every endpoint registered at a node covering the event's place.
    #[default]
    Covering,
    /// Only endpoints registered exactly at the event's node (digests).
    Exact,
    /// None (personal messages).
    None,
}

impl WebhookScope {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookScope::Covering => "covering",
            WebhookScope::Exact => "exact",
            WebhookScope::None => "none",
        }
    }
    pub fn parse(s: &str) -> WebhookScope {
        match s {
            "exact" => WebhookScope::Exact,
            "none" => WebhookScope::None,
            _ => WebhookScope::Covering,
        }
    }
}

/// A domain event, written to the outbox inside the publisher's transaction.
#[derive(Clone, Debug)]
pub struct Event {
    pub kind: String,
    /// The place it happened (the demand's household, a node…).
    pub org_path: OrgPath,
    pub object_type: String,
    pub object_id: Option<String>,
    /// Who caused it; never notified of their own action.
    pub actor: Option<String>,
    /// People named directly (assignee, household, staff at a node).
    pub audience: Vec<Hint>,
    pub webhooks: WebhookScope,
    /// The line people read (e.g. the demand's title).
    pub title: String,
    pub body: Option<String>,
    /// Where the inbox item leads (a path of the web UI).
    pub link: Option<String>,
    /// Anything else receivers of the generic webhook may use.
    pub payload: Value,
    /// An event with a key already in the outbox is not written again.
    pub dedupe_key: Option<String>,
    /// When it happened (the publisher's clock); None → now.
    pub at_ms: Option<i64>,
}

impl Event {
    pub fn new(
        kind: &str,
        org_path: &OrgPath,
        object_type: &str,
        object_id: Option<&str>,
        title: impl Into<String>,
    ) -> Event {
        Event {
            kind: kind.to_string(),
            org_path: org_path.clone(),
            object_type: object_type.to_string(),
            object_id: object_id.map(str::to_string),
            actor: None,
            audience: Vec::new(),
            webhooks: WebhookScope::Covering,
            title: title.into(),
            body: None,
            link: None,
            payload: json!({}),
            dedupe_key: None,
            at_ms: None,
        }
    }
    pub fn at(mut self, at_ms: i64) -> Event {
        self.at_ms = Some(at_ms);
        self
    }
    pub fn actor(mut self, actor: Option<&str>) -> Event {
        self.actor = actor.map(str::to_string);
        self
    }
    pub fn to_user(mut self, id: &str) -> Event {
        let h = Hint::User { id: id.to_string() };
        if !self.audience.contains(&h) {
            self.audience.push(h);
        }
        self
    }
    pub fn to_household(mut self, id: &str) -> Event {
        self.audience.push(Hint::Household { id: id.to_string() });
        self
    }
    pub fn to_roles_at(mut self, org_path: &str, roles: &[Role]) -> Event {
        self.audience.push(Hint::RolesAt {
            org_path: org_path.to_string(),
            roles: roles.to_vec(),
        });
        self
    }
    pub fn webhooks(mut self, scope: WebhookScope) -> Event {
        self.webhooks = scope;
        self
    }
    pub fn body(mut self, body: impl Into<String>) -> Event {
        self.body = Some(body.into());
        self
    }
    pub fn link(mut self, link: impl Into<String>) -> Event {
        self.link = Some(link.into());
        self
    }
    pub fn payload(mut self, payload: Value) -> Event {
        self.payload = payload;
        self
    }
    pub fn dedupe(mut self, key: impl Into<String>) -> Event {
        self.dedupe_key = Some(key.into());
        self
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// 企业微信群机器人.
    Wecom,
    /// 钉钉自定义机器人.
    Dingtalk,
    /// Any HTTP endpoint taking JSON, signed with HMAC-SHA256.
    Generic,
}

impl Platform {
    pub fn parse(s: &str) -> Option<Platform> {
        match s {
            "wecom" => Some(Platform::Wecom),
            "dingtalk" => Some(Platform::Dingtalk),
            "generic" => Some(Platform::Generic),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Wecom => "wecom",
            Platform::Dingtalk => "dingtalk",
            Platform::Generic => "generic",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Text,
    Markdown,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "text" => Some(Format::Text),
            "markdown" => Some(Format::Markdown),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Markdown => "markdown",
        }
    }
}

/// What one delivery says, whatever the platform.
#[derive(Clone, Debug)]
pub struct Message {
    pub delivery_id: String,
    pub event_id: String,
    pub kind: String,
    pub org_path: String,
    pub object_type: String,
    pub object_id: Option<String>,
    pub title: String,
    pub body: Option<String>,
    pub link: Option<String>,
    pub occurred_at_ms: i64,
    pub payload: Value,
}

/// The request to make: where, which extra headers, which body.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// Stars out runs of 7 or more digits (phones, ID numbers) — chat groups
/// are wider audiences than the inbox.
pub fn mask_digits(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let run = &chars[start..i];
            if run.len() >= 7 {
                out.extend(std::iter::repeat_n('*', run.len()));
            } else {
                out.extend(run.iter());
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// Cuts `s` to at most `max` bytes on a character boundary, marking the cut.
pub fn truncate_bytes(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// The plain-text content shown in a chat group.
pub fn text_content(m: &Message) -> String {
    let label = kind_label(Lang::Zh, &m.kind);
    let mut out = format!("【连心】{label}\n{}", mask_digits(&m.title));
    if let Some(b) = m.body.as_deref().filter(|b| !b.is_empty()) {
        out.push('\n');
        out.push_str(&mask_digits(b));
    }
    out
}

fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '<' | '>' | '|'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The markdown content (a bold heading, the title quoted, the body).
pub fn markdown_content(m: &Message) -> (String, String) {
    let label = kind_label(Lang::Zh, &m.kind);
    let mut text = format!(
        "#### 【连心】{label}\n> {}",
        md_escape(&mask_digits(&m.title))
    );
    if let Some(b) = m.body.as_deref().filter(|b| !b.is_empty()) {
        text.push_str("\n\n");
        text.push_str(&md_escape(&mask_digits(b)));
    }
    (format!("【连心】{label}"), text)
}

/// 企业微信: `{"msgtype":"text","text":{"content":…}}` (content ≤ 2048
/// bytes) or `{"msgtype":"markdown","markdown":{"content":…}}` (≤ 4096).
pub fn wecom_body(m: &Message, format: Format) -> Value {
    match format {
        Format::Text => json!({
            "msgtype": "text",
            "text": {"content": truncate_bytes(&text_content(m), 2048)}
        }),
        Format::Markdown => json!({
            "msgtype": "markdown",
            "markdown": {"content": truncate_bytes(&markdown_content(m).1, 4096)}
        }),
    }
}

/// 钉钉: `{"msgtype":"text","text":{"content":…}}` or
/// `{"msgtype":"markdown","markdown":{"title":…,"text":…}}`.
pub fn dingtalk_body(m: &Message, format: Format) -> Value {
    match format {
        Format::Text => json!({
            "msgtype": "text",
            "text": {"content": truncate_bytes(&text_content(m), 4000)}
        }),
        Format::Markdown => {
            let (title, text) = markdown_content(m);
            json!({
                "msgtype": "markdown",
                "markdown": {"title": title, "text": truncate_bytes(&text, 4000)}
            })
        }
    }
}

/// The generic webhook's JSON document.
pub fn generic_body(m: &Message) -> Value {
    json!({
        "id": m.delivery_id,
        "event_id": m.event_id,
        "kind": m.kind,
        "label": kind_label(Lang::Zh, &m.kind),
        "org_path": m.org_path,
        "object_type": m.object_type,
        "object_id": m.object_id,
        "title": m.title,
        "body": m.body,
        "link": m.link,
        "occurred_at": kernel::clock::to_rfc3339(m.occurred_at_ms),
        "payload": m.payload,
    })
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// 钉钉 加签: base64(HMAC-SHA256(key = secret, "{timestamp}\n{secret}")).
pub fn dingtalk_sign(secret: &str, timestamp_ms: i64) -> String {
    let to_sign = format!("{timestamp_ms}\n{secret}");
    base64::engine::general_purpose::STANDARD.encode(hmac(secret.as_bytes(), to_sign.as_bytes()))
}

/// `sha256=<hex HMAC-SHA256(secret, body)>`, the generic webhook's signature.
pub fn generic_signature(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(hmac(secret.as_bytes(), body)))
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Appends query parameters to a URL that may already have some.
pub fn with_query(url: &str, params: &[(&str, String)]) -> String {
    let mut out = url.to_string();
    for (k, v) in params {
        out.push(if out.contains('?') { '&' } else { '?' });
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Builds the request for one delivery.
pub fn outgoing(
    platform: Platform,
    format: Format,
    url: &str,
    secret: Option<&str>,
    m: &Message,
    now_ms: i64,
) -> Outgoing {
    let secret = secret.filter(|s| !s.is_empty());
    let mut headers = vec![("x-lianxin-delivery", m.delivery_id.clone())];
    match platform {
        Platform::Wecom => Outgoing {
            url: url.to_string(),
            headers,
            body: wecom_body(m, format).to_string().into_bytes(),
        },
        Platform::Dingtalk => {
            let url = match secret {
                Some(s) => with_query(
                    url,
                    &[
                        ("timestamp", now_ms.to_string()),
                        ("sign", url_encode(&dingtalk_sign(s, now_ms))),
                    ],
                ),
                None => url.to_string(),
            };
            Outgoing {
                url,
                headers,
                body: dingtalk_body(m, format).to_string().into_bytes(),
            }
        }
        Platform::Generic => {
            let body = generic_body(m).to_string().into_bytes();
            headers.push(("x-lianxin-event", m.kind.clone()));
            if let Some(s) = secret {
                headers.push(("x-lianxin-signature", generic_signature(s, &body)));
            }
            Outgoing {
                url: url.to_string(),
                headers,
                body,
            }
        }
    }
}

/// Did the platform accept it? 企业微信 and 钉钉 answer HTTP 200 with
/// `{"errcode":0,"errmsg":"ok"}`; any other errcode is a failure. Generic
/// endpoints: any 2xx.
pub fn accepted(platform: Platform, status: u16, body: &[u8]) -> Result<(), String> {
    if !(200..300).contains(&status) {
        return Err(format!("HTTP {status}"));
    }
    match platform {
        Platform::Generic => Ok(()),
        Platform::Wecom | Platform::Dingtalk => {
            let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            match v.get("errcode").and_then(Value::as_i64) {
                Some(0) => Ok(()),
                Some(code) => Err(format!(
                    "errcode {code}: {}",
                    truncate_bytes(v["errmsg"].as_str().unwrap_or(""), 200)
                )),
                None => Err("答复不是机器人接口的格式".into()),
            }
        }
    }
}

/// The wait before attempt `attempts + 1` after `attempts` failures:
/// base, 2×base, 4×base, … capped at one day.
pub fn backoff_ms(base_ms: i64, attempts: i64) -> i64 {
    let exp = (attempts.max(1) - 1).min(20) as u32;
    base_ms
        .max(1)
        .saturating_mul(1i64 << exp)
        .min(24 * 3_600_000)
}

/// A sliding one-minute window of send times for one endpoint.
#[derive(Debug, Default)]
pub struct RateWindow(VecDeque<i64>);

impl RateWindow {
    /// Counts a send at `now` if fewer than `limit` happened in the last
    /// minute; else `Err(when)` the next one may go.
    pub fn admit(&mut self, limit: i64, now: i64) -> Result<(), i64> {
        while self.0.front().is_some_and(|t| *t <= now - 60_000) {
            self.0.pop_front();
        }
        if limit > 0 && self.0.len() as i64 >= limit {
            return Err(self.0.front().copied().unwrap_or(now) + 60_000);
        }
        self.0.push_back(now);
        Ok(())
    }
}

/// "08:00" → minutes since midnight.
pub fn parse_time_of_day(s: &str) -> Result<u32, String> {
    let (h, m) = s
        .trim()
        .split_once(':')
        .ok_or_else(|| format!("{s:?}: expected HH:MM"))?;
    let h: u32 = h.parse().map_err(|_| format!("{s:?}: bad hour"))?;
    let m: u32 = m.parse().map_err(|_| format!("{s:?}: bad minute"))?;
    if h > 23 || m > 59 {
        return Err(format!("{s:?}: out of range"));
    }
    Ok(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg() -> Message {
        Message {
            delivery_id: "d1".into(),
            event_id: "e1".into(),
            kind: kind::DEMAND_FILED.into(),
            org_path: "/1/".into(),
            object_type: "demand".into(),
            object_id: Some("x".into()),
            title: "楼道灯坏了,电话13812345678".into(),
            body: Some("报修".into()),
            link: Some("/demands/x".into()),
            occurred_at_ms: 0,
            payload: json!({}),
        }
    }

    #[test]
    fn dingtalk_signature_matches_the_documented_recipe() {
        // HMAC-SHA256 with key "SECabc" over "1700000000000\nSECabc",
        // base64; computed independently (openssl dgst -sha256 -hmac).
        let sign = dingtalk_sign("SECabc", 1_700_000_000_000);
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&sign)
            .unwrap();
        assert_eq!(raw.len(), 32);
        assert_eq!(
            raw,
            hmac(b"SECabc", b"1700000000000\nSECabc"),
            "key is the secret, data is timestamp\\nsecret"
        );
        let enc = url_encode("a+b/c=");
        assert_eq!(enc, "a%2Bb%2Fc%3D");
    }

    #[test]
    fn bodies_have_each_platform_shape() {
        let m = msg();
        let w = wecom_body(&m, Format::Text);
        assert_eq!(w["msgtype"], "text");
        let c = w["text"]["content"].as_str().unwrap();
        assert!(c.contains("楼道灯坏了"), "{c}");
        assert!(!c.contains("13812345678"), "digits are starred: {c}");
        let w = wecom_body(&m, Format::Markdown);
        assert!(w["markdown"]["content"]
            .as_str()
            .unwrap()
            .starts_with("####"));
        let d = dingtalk_body(&m, Format::Markdown);
        assert_eq!(d["msgtype"], "markdown");
        assert!(d["markdown"]["title"].is_string());
        assert!(d["markdown"]["text"].is_string());
        let g = generic_body(&m);
        assert_eq!(g["id"], "d1");
        assert_eq!(g["kind"], "demand.filed");
    }

    #[test]
    fn outgoing_signs_as_each_platform_wants() {
        let m = msg();
        let o = outgoing(
            Platform::Dingtalk,
            Format::Text,
            "http://h/robot/send?access_token=t",
            Some("SEC1"),
            &m,
            1234,
        );
        assert!(o
            .url
            .starts_with("http://h/robot/send?access_token=t&timestamp=1234&sign="));
        let o = outgoing(
            Platform::Generic,
            Format::Text,
            "http://h/x",
            Some("k"),
            &m,
            0,
        );
        let sig = o
            .headers
            .iter()
            .find(|(h, _)| *h == "x-lianxin-signature")
            .unwrap()
            .1
            .clone();
        assert_eq!(sig, generic_signature("k", &o.body));
        assert!(o
            .headers
            .iter()
            .any(|(h, v)| *h == "x-lianxin-delivery" && v == "d1"));
    }

    #[test]
    fn platform_answers_are_judged() {
        assert!(accepted(Platform::Wecom, 200, br#"{"errcode":0,"errmsg":"ok"}"#).is_ok());
        assert!(accepted(
            Platform::Wecom,
            200,
            br#"{"errcode":45009,"errmsg":"freq"}"#
        )
        .is_err());
        assert!(accepted(Platform::Dingtalk, 500, b"").is_err());
        assert!(accepted(Platform::Generic, 204, b"").is_ok());
        assert!(accepted(Platform::Generic, 302, b"").is_err());
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff_ms(1000, 1), 1000);
        assert_eq!(backoff_ms(1000, 2), 2000);
        assert_eq!(backoff_ms(1000, 4), 8000);
        assert_eq!(backoff_ms(1000, 80), 24 * 3_600_000);
    }

    #[test]
    fn rate_window_slides() {
        let mut w = RateWindow::default();
        assert!(w.admit(2, 0).is_ok());
        assert!(w.admit(2, 10).is_ok());
        assert_eq!(w.admit(2, 20), Err(60_000));
        assert!(w.admit(2, 60_001).is_ok());
    }

    #[test]
    fn helpers() {
        assert_eq!(mask_digits("a1234567b12"), "a*******b12");
        assert_eq!(truncate_bytes("连心连心", 7), "连…");
        assert_eq!(parse_time_of_day("08:30"), Ok(510));
        assert!(parse_time_of_day("24:00").is_err());
        assert_eq!(
            with_query("http://a/b", &[("x", "1".into())]),
            "http://a/b?x=1"
        );
    }
}
