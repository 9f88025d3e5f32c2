//! Pure rules of the Open311 GeoReport v2 server: the response formats and
//! their one document tree (rendered to JSON by the Spark convention and to
//! XML by a small writer), the workflow → open/closed status mapping with its
//! notes, parameter parsing (form encoding, W3C datetimes, the 90-day window
//! and the 1000-request cap), the spec's error shape, and the redaction that
//! keeps residents out of public output. No IO.

use cases::model::DemandStatus;
use chrono::{DateTime, NaiveDate, TimeZone};
use std::collections::BTreeMap;

/// The specification token named in the discovery document.
pub const SPECIFICATION: &str = "http://wiki.open311.org/GeoReport_v2";

/// "Default query limit is a span of 90 days or first 1000 requests
/// returned, whichever is smallest."
pub const SPAN_MS: i64 = 90 * 86_400_000;
pub const MAX_REQUESTS: i64 = 1000;

/// At most this many ids in one `service_request_id` list.
pub const MAX_IDS: usize = 1000;

/// Open311 descriptions may be 4,000 characters; Lianxin keeps demands to
/// `cases::model::DESCRIPTION_MAX`, and says so when a longer one arrives.
pub const TITLE_CHARS: usize = 30;

// ---------------------------------------------------------------------------
// formats
// ---------------------------------------------------------------------------

/// The format named by the resource's extension (`services.xml`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json; charset=utf-8",
            Format::Xml => "text/xml; charset=utf-8",
        }
    }

    /// For errors on a path without a usable extension: JSON when the client
    /// asks for it, else XML (the specification's required format).
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.to_ascii_lowercase().contains("json") => Format::Json,
            _ => Format::Xml,
        }
    }
}

/// Splits `name.ext` into the resource name and its format; any other
/// extension (or none) is not a resource of this server.
pub fn split_format(file: &str) -> Option<(&str, Format)> {
    let (name, ext) = file.rsplit_once('.')?;
    if name.is_empty() {
        return None;
    }
    let fmt = match ext {
        "json" => Format::Json,
        "xml" => Format::Xml,
        _ => return None,
    };
    Some((name, fmt))
}

// ---------------------------------------------------------------------------
// status
// ---------------------------------------------------------------------------

/// GeoReport v2 knows two statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Open,
    Closed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        match s.trim().to_ascii_lowercase().as_str() {
            "open" => Some(Status::Open),
            "closed" => Some(Status::Closed),
            _ => None,
        }
    }

    /// The workflow states behind this status.
    pub fn workflow_states(self) -> Vec<DemandStatus> {
        DemandStatus::ALL
            .into_iter()
            .filter(|s| status_of(*s) == self)
            .collect()
    }
}

/// Open while the case is being worked on; closed once the handler has fed
/// back (resolved), it was verified (closed), turned down or merged.
pub fn status_of(s: DemandStatus) -> Status {
    match s {
        DemandStatus::Submitted
        | DemandStatus::Accepted
        | DemandStatus::Dispatched
        | DemandStatus::InProgress
        | DemandStatus::Returned
        | DemandStatus::Rework
        | DemandStatus::Suspended => Status::Open,
        DemandStatus::Resolved
        | DemandStatus::Closed
        | DemandStatus::Rejected
        | DemandStatus::Merged => Status::Closed,
    }
}

/// `status_notes`: where the case stands in the workflow, in words the
/// public may read (no staff notes, which can name people).
pub fn status_notes(s: DemandStatus) -> &'static str {
    match s {
        DemandStatus::Submitted => "已提交,等待受理",
        DemandStatus::Accepted => "已受理,等待派遣",
        DemandStatus::Dispatched => "已派遣处置人员",
        DemandStatus::InProgress => "正在处理",
        DemandStatus::Returned => "处置人员已退回,等待重新派遣",
        DemandStatus::Rework => "核验未通过,正在返工",
        DemandStatus::Suspended => "暂停办理,条件具备后恢复",
        DemandStatus::Resolved => "已办理完毕,等待核验",
        DemandStatus::Closed => "已办结",
        DemandStatus::Rejected => "不予受理",
        DemandStatus::Merged => "已与相同诉求合并办理",
    }
}

/// `updated_datetime`: the last change; for a closed request, the time it
/// was closed (its last change of workflow state).
pub fn updated_ms(s: DemandStatus, updated_at: i64, status_changed_at: Option<i64>) -> i64 {
    match status_of(s) {
        Status::Open => updated_at,
        Status::Closed => status_changed_at.unwrap_or(updated_at),
    }
}

/// The category kind (group) in Chinese.
pub fn kind_zh(kind: &str) -> &str {
    match kind {
        "enquiry" => "咨询",
        "help" => "求助",
        "complaint" => "投诉",
        "report" => "举报",
        "suggestion" => "建议",
        "repair" => "报修",
        "dispute" => "纠纷",
        other => other,
    }
}

/// A time limit in words: "2 小时", "1 个工作日", "24 个工作小时".
pub fn duration_zh(minutes: i64, natural_clock: bool) -> String {
    let m = minutes.max(0);
    if natural_clock {
        if m > 0 && m % 1440 == 0 {
            format!("{} 天", m / 1440)
        } else if m > 0 && m % 60 == 0 {
            format!("{} 小时", m / 60)
        } else {
            format!("{m} 分钟")
        }
    } else if m > 0 && m % 420 == 0 {
        format!("{} 个工作日", m / 420)
    } else if m > 0 && m % 60 == 0 {
        format!("{} 个工作小时", m / 60)
    } else {
        format!("{m} 个工作分钟")
    }
}

/// `service_notice`: what will happen, from the category's time limits.
pub fn service_notice(service_name: &str, dispatch: i64, feedback: i64, natural: bool) -> String {
    format!(
        "按“{service_name}”类诉求的时限办理:{}内派遣处置人员,{}内反馈办理结果。",
        duration_zh(dispatch, natural),
        duration_zh(feedback, natural)
    )
}

/// A service's `description`: its kind, default handler and time limits.
pub fn service_description(
    service_name: &str,
    kind: &str,
    handler: &str,
    dispatch: i64,
    feedback: i64,
    natural: bool,
) -> String {
    format!(
        "{}类诉求:{service_name}。默认由{handler}处置,{}内派遣,{}内反馈。",
        kind_zh(kind),
        duration_zh(dispatch, natural),
        duration_zh(feedback, natural)
    )
}

/// The title of a demand filed over Open311 (which has only a
/// description): its first line, shortened.
pub fn title_from(description: &str, service_name: &str) -> String {
    let line: String = description
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    let line = line.trim();
    let n = line.chars().count();
    let t = if n > TITLE_CHARS {
        let head: String = line.chars().take(TITLE_CHARS - 1).collect();
        format!("{}…", head.trim_end())
    } else {
        line.to_string()
    };
    if t.chars().count() < 2 {
        format!("{service_name}诉求")
    } else {
        t
    }
}

// ---------------------------------------------------------------------------
// parameters
// ---------------------------------------------------------------------------

/// Decodes `application/x-www-form-urlencoded` (a query string or a POST
/// body) into pairs. `+` is a space; a `%` not followed by two hex digits is
/// kept as it is. Invalid UTF-8 and NUL characters are refused.
pub fn parse_form(raw: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for part in raw.split('&') {
        if part.is_empty() {
            continue;
        }
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let k = decode(k)?;
        let v = decode(v)?;
        if k.contains('\0') || v.contains('\0') {
            return Err("parameters may not contain NUL characters(参数含有不允许的字符)".into());
        }
        out.push((k, v));
    }
    Ok(out)
}

fn decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| "parameters must be UTF-8(参数须为 UTF-8 编码)".into())
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The parameters of one call. "Optional means that the response should be
/// the same whether a parameter is passed and is empty or is not passed at
/// all": empty values are dropped here, once.
#[derive(Debug, Default, Clone)]
pub struct Params(BTreeMap<String, Vec<String>>);

impl Params {
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Params {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in pairs {
            if v.trim().is_empty() {
                continue;
            }
            m.entry(k).or_default().push(v);
        }
        Params(m)
    }

    /// Adds the parameters of `other` that this set lacks (a POST's query
    /// string under its body).
    pub fn merge_missing(&mut self, other: Params) {
        for (k, v) in other.0 {
            self.0.entry(k).or_insert(v);
        }
    }

    /// The first value given, trimmed.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .and_then(|v| v.first())
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }

    /// The first value as given (multi-line text keeps its layout).
    pub fn raw(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.first()).map(String::as_str)
    }

    /// A comma-delimited list, which "can be declared multiple times".
    pub fn list(&self, key: &str) -> Option<Vec<String>> {
        let items: Vec<String> = self
            .0
            .get(key)?
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        (!items.is_empty()).then_some(items)
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// `attribute[code]=value` pairs.
    pub fn attributes(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .filter_map(|(k, v)| {
                let code = k.strip_prefix("attribute[")?;
                let code = code.split(']').next()?;
                Some(v.iter().map(move |x| (code.to_string(), x.clone())))
            })
            .flatten()
            .collect()
    }
}

/// Parses a W3C-profile ISO 8601 datetime, which must carry its zone (`Z` or
/// `±hh:mm`); seconds and fractions are optional. A bare date is read as
/// midnight in Asia/Shanghai. A `+` that a query string decoded to a space is
/// put back.
pub fn parse_w3c(s: &str) -> Result<i64, String> {
    let bad = || {
        format!(
            "{s:?} is not a W3C datetime with a time zone, e.g. 2026-01-01T00:00:00+08:00(日期时间格式不正确)"
        )
    };
    let t = s.trim();
    if t.is_empty() || t.len() > 40 {
        return Err(bad());
    }
    let mut fixed = t.to_string();
    if let Some((head, tail)) = t.rsplit_once(' ') {
        let tail_ok = tail.len() == 5
            && tail.as_bytes()[2] == b':'
            && tail
                .bytes()
                .enumerate()
                .all(|(i, c)| i == 2 || c.is_ascii_digit());
        if tail_ok && head.contains('T') {
            fixed = format!("{head}+{tail}");
        }
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(&fixed) {
        return Ok(t.timestamp_millis());
    }
    // Hours and minutes without seconds: 2026-01-01T09:30+08:00 or …Z.
    let zoned = match fixed.strip_suffix(['Z', 'z']) {
        Some(head) => format!("{head}+00:00"),
        None => fixed.clone(),
    };
    if let Ok(t) = DateTime::parse_from_str(&zoned, "%Y-%m-%dT%H:%M%:z") {
        return Ok(t.timestamp_millis());
    }
    if fixed.len() == 10 {
        if let Ok(d) = NaiveDate::parse_from_str(&fixed, "%Y-%m-%d") {
            if let Some(t) = d.and_hms_opt(0, 0, 0) {
                if let Some(t) = kernel::clock::shanghai().from_local_datetime(&t).single() {
                    return Ok(t.timestamp_millis());
                }
            }
        }
    }
    Err(bad())
}

/// The requested-datetime window: the most recent 90 days by default; one
/// bound given extends 90 days from it; both may not span more than 90 days.
pub fn window(now: i64, start: Option<i64>, end: Option<i64>) -> Result<(i64, i64), String> {
    match (start, end) {
        (None, None) => Ok((now.saturating_sub(SPAN_MS), now)),
        (Some(s), None) => Ok((s, s.saturating_add(SPAN_MS))),
        (None, Some(e)) => Ok((e.saturating_sub(SPAN_MS), e)),
        (Some(s), Some(e)) if s > e => {
            Err("start_date must not be later than end_date(开始时间不能晚于结束时间)".into())
        }
        (Some(s), Some(e)) if e - s > SPAN_MS => Err(
            "start_date and end_date may not span more than 90 days(查询时间跨度不能超过 90 天)"
                .into(),
        ),
        (Some(s), Some(e)) => Ok((s, e)),
    }
}

/// The arguments of GET Service Requests, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestsQuery {
    /// "This overrides all other arguments."
    pub ids: Option<Vec<String>>,
    pub service_codes: Option<Vec<String>>,
    pub statuses: Option<Vec<Status>>,
    pub start: i64,
    pub end: i64,
}

/// Parses the filters of GET Service Requests; every problem is reported.
pub fn requests_query(p: &Params, now: i64) -> Result<RequestsQuery, Vec<String>> {
    let mut errors = Vec::new();
    let ids = p.list("service_request_id");
    if ids.as_ref().is_some_and(|v| v.len() > MAX_IDS) {
        errors.push(format!(
            "service_request_id may list at most {MAX_IDS} ids(一次最多查询 {MAX_IDS} 条)"
        ));
    }
    let service_codes = p.list("service_code");
    let statuses = match p.list("status") {
        None => None,
        Some(v) => {
            let mut out = Vec::new();
            for s in v {
                match Status::parse(&s) {
                    Some(x) => out.push(x),
                    None => errors.push(format!(
                        "status {s:?} is not one of open, closed(状态只能是 open 或 closed)"
                    )),
                }
            }
            out.sort();
            out.dedup();
            Some(out)
        }
    };
    let (start, end) = dates(p, &mut errors);
    let (start, end) = match window(now, start, end) {
        Ok(w) => w,
        Err(e) => {
            errors.push(e);
            (0, 0)
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(RequestsQuery {
        ids,
        service_codes,
        statuses,
        start,
        end,
    })
}

/// `start_date` and `end_date`, each checked.
pub fn dates(p: &Params, errors: &mut Vec<String>) -> (Option<i64>, Option<i64>) {
    let mut one = |key: &str| match p.get(key) {
        None => None,
        Some(v) => match parse_w3c(v) {
            Ok(ms) => Some(ms),
            Err(e) => {
                errors.push(format!("{key}: {e}"));
                None
            }
        },
    };
    let start = one("start_date");
    let end = one("end_date");
    (start, end)
}

// ---------------------------------------------------------------------------
// the document tree
// ---------------------------------------------------------------------------

/// One response, written once and rendered to either format. Lists carry
/// the element name of their items, which JSON (Spark convention) drops.
#[derive(Debug, Clone, PartialEq)]
pub enum Doc {
    Null,
    Text(String),
    Bool(bool),
    Int(i64),
    Obj(Vec<(&'static str, Doc)>),
    List(&'static str, Vec<Doc>),
}

impl Doc {
    pub fn text(s: impl Into<String>) -> Doc {
        Doc::Text(s.into())
    }

    pub fn opt(s: Option<String>) -> Doc {
        s.map(Doc::Text).unwrap_or(Doc::Null)
    }
}

pub fn to_json(d: &Doc) -> serde_json::Value {
    use serde_json::Value;
    match d {
        Doc::Null => Value::Null,
        Doc::Text(s) => Value::String(clean(s)),
        Doc::Bool(b) => Value::Bool(*b),
        Doc::Int(n) => Value::from(*n),
        Doc::Obj(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| ((*k).to_string(), to_json(v)))
                .collect(),
        ),
        Doc::List(_, items) => Value::Array(items.iter().map(to_json).collect()),
    }
}

/// Renders `d` as an XML document whose root element is `root`, preceded by
/// the declaration with its encoding, as the specification requires.
pub fn to_xml(root: &str, d: &Doc) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    element(&mut out, root, d, 0);
    out
}

fn element(out: &mut String, name: &str, d: &Doc, depth: usize) {
    let pad = "  ".repeat(depth);
    match d {
        Doc::Null => out.push_str(&format!("{pad}<{name}/>\n")),
        Doc::Text(s) => out.push_str(&format!("{pad}<{name}>{}</{name}>\n", escape(s))),
        Doc::Bool(b) => out.push_str(&format!("{pad}<{name}>{b}</{name}>\n")),
        Doc::Int(n) => out.push_str(&format!("{pad}<{name}>{n}</{name}>\n")),
        Doc::Obj(fields) => {
            out.push_str(&format!("{pad}<{name}>\n"));
            for (k, v) in fields {
                element(out, k, v, depth + 1);
            }
            out.push_str(&format!("{pad}</{name}>\n"));
        }
        Doc::List(item, items) => {
            out.push_str(&format!("{pad}<{name}>\n"));
            for v in items {
                element(out, item, v, depth + 1);
            }
            out.push_str(&format!("{pad}</{name}>\n"));
        }
    }
}

/// Characters XML 1.0 cannot carry at all (most C0 controls, U+FFFE/U+FFFF);
/// they are dropped from every output, JSON included, so both formats agree.
fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

fn clean(s: &str) -> String {
    s.chars().filter(|c| allowed(*c)).collect()
}

/// Escapes text for element content (and attributes). A carriage return is
/// written as a character reference, which parsers do not normalise away.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            c if allowed(c) => out.push(c),
            _ => {}
        }
    }
    out
}

// ---------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------

/// The specification's error response: an array of `{code, description}`,
/// 404 for what does not exist, 403 for a missing or wrong `api_key`, 400
/// for every other request that cannot be fulfilled.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub status: u16,
    pub descriptions: Vec<String>,
    /// Seconds to wait, for a 429.
    pub retry_after: Option<i64>,
}

impl Fault {
    pub fn new(status: u16, description: impl Into<String>) -> Fault {
        Fault {
            status,
            descriptions: vec![description.into()],
            retry_after: None,
        }
    }
    pub fn bad(description: impl Into<String>) -> Fault {
        Fault::new(400, description)
    }
    pub fn forbidden(description: impl Into<String>) -> Fault {
        Fault::new(403, description)
    }
    pub fn not_found(description: impl Into<String>) -> Fault {
        Fault::new(404, description)
    }
    pub fn many(status: u16, descriptions: Vec<String>) -> Fault {
        Fault {
            status,
            descriptions,
            retry_after: None,
        }
    }

    pub fn doc(&self) -> Doc {
        Doc::List(
            "error",
            self.descriptions
                .iter()
                .map(|d| {
                    Doc::Obj(vec![
                        ("code", Doc::Int(self.status as i64)),
                        ("description", Doc::text(d.clone())),
                    ])
                })
                .collect(),
        )
    }
}

// ---------------------------------------------------------------------------
// public views
// ---------------------------------------------------------------------------

/// One service (a demand category).
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceView {
    pub code: String,
    pub name: String,
    pub description: String,
    pub keywords: String,
    pub group: String,
}

pub fn service_doc(s: &ServiceView) -> Doc {
    Doc::Obj(vec![
        ("service_code", Doc::text(s.code.clone())),
        ("service_name", Doc::text(s.name.clone())),
        ("description", Doc::text(s.description.clone())),
        // No category asks for extra fields, so no definition call is needed.
        ("metadata", Doc::Bool(false)),
        ("type", Doc::text("realtime")),
        ("keywords", Doc::text(s.keywords.clone())),
        ("group", Doc::text(s.group.clone())),
    ])
}

/// The service definition: the standard shape with no attributes, since no
/// demand category collects fields beyond the description.
pub fn definition_doc(code: &str) -> Doc {
    Doc::Obj(vec![
        ("service_code", Doc::text(code)),
        ("attributes", Doc::List("attribute", vec![])),
    ])
}

/// A demand as the public may see it: no person, no household.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestView {
    pub id: String,
    pub status: DemandStatus,
    pub service_code: String,
    pub service_name: String,
    pub description: String,
    pub agency_responsible: Option<String>,
    pub service_notice: Option<String>,
    pub requested_ms: i64,
    pub updated_ms: i64,
    pub expected_ms: Option<i64>,
    pub address: Option<String>,
}

pub fn request_doc(r: &RequestView) -> Doc {
    use kernel::clock::to_rfc3339;
    Doc::Obj(vec![
        ("service_request_id", Doc::text(r.id.clone())),
        ("status", Doc::text(status_of(r.status).as_str())),
        ("status_notes", Doc::text(status_notes(r.status))),
        ("service_name", Doc::text(r.service_name.clone())),
        ("service_code", Doc::text(r.service_code.clone())),
        ("description", Doc::text(r.description.clone())),
        ("agency_responsible", Doc::opt(r.agency_responsible.clone())),
        ("service_notice", Doc::opt(r.service_notice.clone())),
        ("requested_datetime", Doc::text(to_rfc3339(r.requested_ms))),
        ("updated_datetime", Doc::text(to_rfc3339(r.updated_ms))),
        ("expected_datetime", Doc::opt(r.expected_ms.map(to_rfc3339))),
        ("address", Doc::opt(r.address.clone())),
        ("zipcode", Doc::Null),
    ])
}

/// The public address: the building (unless the demand is anonymous) and
/// the compound, most specific first, as the specification asks; never the
/// entrance or the room.
pub fn address(compound: Option<&str>, building: Option<&str>, anonymous: bool) -> Option<String> {
    match (compound, building) {
        (Some(c), Some(b)) if !anonymous => Some(format!("{b}, {c}")),
        (Some(c), _) => Some(c.to_string()),
        (None, Some(b)) if !anonymous => Some(b.to_string()),
        _ => None,
    }
}

/// One status change for FixMyStreet's `servicerequestupdates`.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateView {
    pub update_id: String,
    pub service_request_id: String,
    pub status: DemandStatus,
    pub at_ms: i64,
}

pub fn update_doc(u: &UpdateView) -> Doc {
    Doc::Obj(vec![
        ("update_id", Doc::text(u.update_id.clone())),
        (
            "service_request_id",
            Doc::text(u.service_request_id.clone()),
        ),
        ("status", Doc::text(status_of(u.status).as_str())),
        (
            "updated_datetime",
            Doc::text(kernel::clock::to_rfc3339(u.at_ms)),
        ),
        ("description", Doc::text(status_notes(u.status))),
        ("media_url", Doc::Null),
    ])
}

// ---------------------------------------------------------------------------
// redaction
// ---------------------------------------------------------------------------

fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || ('\u{FF10}'..='\u{FF19}').contains(&c)
}

/// What a resident wrote, made fit for a public list: the names of the
/// household's residents and the household's own name (its room) are
/// starred out, and so is every run of seven or more digits (phones, ID
/// numbers, landlines) and every room-like number (digits before 室/户/房,
/// or after 单元). Best effort on free text; structured data never leaves.
pub fn redact(text: &str, names: &[&str]) -> String {
    let mut s = text.to_string();
    let mut names: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| n.chars().count() >= 2 && !n.contains('*'))
        .collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.chars().count()));
    for n in names {
        if s.contains(n) {
            s = s.replace(n, &"*".repeat(n.chars().count()));
        }
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out: Vec<char> = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        if !is_digit(chars[i]) {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && is_digit(chars[i]) {
            i += 1;
        }
        let mut end = i;
        // An ID number ends in a check character that may be X.
        if end - start == 17 && end < chars.len() && matches!(chars[end], 'X' | 'x') {
            end += 1;
            i += 1;
        }
        let next = chars.get(end).copied();
        let after_unit = start >= 2 && chars[start - 2] == '单' && chars[start - 1] == '元';
        let room = matches!(next, Some('室' | '户' | '房')) || after_unit;
        if end - start >= 7 || room {
            out.extend(std::iter::repeat_n('*', end - start));
        } else {
            out.extend_from_slice(&chars[start..end]);
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn params(q: &str) -> Params {
        Params::from_pairs(parse_form(q).unwrap())
    }

    #[test]
    fn formats_by_extension() {
        assert_eq!(
            split_format("services.json"),
            Some(("services", Format::Json))
        );
        assert_eq!(
            split_format("requests.xml"),
            Some(("requests", Format::Xml))
        );
        assert_eq!(split_format("requests.html"), None);
        assert_eq!(split_format("requests"), None);
        assert_eq!(split_format(".json"), None);
        assert_eq!(split_format("requests.JSON"), None);
        assert_eq!(Format::from_accept(Some("application/json")), Format::Json);
        assert_eq!(Format::from_accept(None), Format::Xml);
    }

    #[test]
    fn every_workflow_state_maps() {
        for s in DemandStatus::ALL {
            let open = matches!(
                s,
                DemandStatus::Submitted
                    | DemandStatus::Accepted
                    | DemandStatus::Dispatched
                    | DemandStatus::InProgress
                    | DemandStatus::Returned
                    | DemandStatus::Rework
                    | DemandStatus::Suspended
            );
            assert_eq!(status_of(s) == Status::Open, open, "{s:?}");
            assert!(!status_notes(s).is_empty());
            assert_eq!(
                status_of(s) == Status::Open,
                cases::workflow::is_open(s),
                "agrees with the workflow's own notion of open: {s:?}"
            );
        }
        assert_eq!(Status::Open.workflow_states().len(), 7);
        assert_eq!(Status::Closed.workflow_states().len(), 4);
        assert_eq!(Status::parse(" CLOSED "), Some(Status::Closed));
        assert_eq!(Status::parse("fixed"), None);
    }

    #[test]
    fn closed_requests_date_from_their_closing() {
        assert_eq!(updated_ms(DemandStatus::Closed, 900, Some(500)), 500);
        assert_eq!(updated_ms(DemandStatus::Closed, 900, None), 900);
        assert_eq!(updated_ms(DemandStatus::InProgress, 900, Some(500)), 900);
    }

    #[test]
    fn durations_in_words() {
        assert_eq!(duration_zh(120, true), "2 小时");
        assert_eq!(duration_zh(2880, true), "2 天");
        assert_eq!(duration_zh(45, true), "45 分钟");
        assert_eq!(duration_zh(420, false), "1 个工作日");
        assert_eq!(duration_zh(1440, false), "24 个工作小时");
        assert_eq!(duration_zh(90, false), "90 个工作分钟");
        assert!(service_notice("漏水", 120, 1440, false).contains("2 个工作小时内派遣"));
        assert!(
            service_description("漏水", "repair", "楼宇管家", 60, 120, true)
                .starts_with("报修类诉求:漏水。")
        );
    }

    #[test]
    fn titles_from_descriptions() {
        assert_eq!(
            title_from("  楼道灯坏了\n好几天了", "公共设施"),
            "楼道灯坏了"
        );
        let long = "长".repeat(40);
        let t = title_from(&long, "x");
        assert_eq!(t.chars().count(), TITLE_CHARS);
        assert!(t.ends_with('…'));
        assert_eq!(title_from("a", "漏水"), "漏水诉求");
        assert_eq!(title_from("\n\n", "漏水"), "漏水诉求");
    }

    #[test]
    fn forms_decode_and_empty_means_absent() {
        let p = params("a=1&b=&c=%E6%BC%8F+%E6%B0%B4&status=open&status=closed&d=%&e=%zz&attribute%5Bx%5D=1&attribute[y]=2");
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None, "empty is absent");
        assert!(!p.has("b"));
        assert_eq!(p.get("c"), Some("漏 水"));
        assert_eq!(p.list("status").unwrap(), vec!["open", "closed"]);
        assert_eq!(p.get("d"), Some("%"));
        assert_eq!(p.get("e"), Some("%zz"));
        assert_eq!(
            p.attributes(),
            vec![
                ("x".to_string(), "1".to_string()),
                ("y".to_string(), "2".to_string())
            ]
        );
        assert!(parse_form("a=%00").is_err());
        assert!(parse_form("a=%FF").is_err());
        let mut body = params("api_key=k&description=d");
        body.merge_missing(params("api_key=other&jurisdiction_id=j"));
        assert_eq!(body.get("api_key"), Some("k"));
        assert_eq!(body.get("jurisdiction_id"), Some("j"));
    }

    #[test]
    fn w3c_datetimes() {
        let z = parse_w3c("2010-01-01T00:00:00Z").unwrap();
        assert_eq!(z, 1_262_304_000_000);
        assert_eq!(parse_w3c("2010-01-01T08:00:00+08:00").unwrap(), z);
        assert_eq!(
            parse_w3c("2010-01-01T08:00:00 08:00").unwrap(),
            z,
            "+ decoded as space"
        );
        assert_eq!(parse_w3c("2010-01-01T00:00Z").unwrap(), z);
        assert_eq!(parse_w3c("2010-01-01T08:00+08:00").unwrap(), z);
        assert_eq!(parse_w3c("2010-01-01T00:00:00.000Z").unwrap(), z);
        assert_eq!(parse_w3c("2010-01-01").unwrap(), z - 8 * 3_600_000);
        for bad in [
            "2010-01-01T00:00:00",
            "yesterday",
            "2010-13-01T00:00:00Z",
            "2010-01-01T25:00:00Z",
            "",
            "1262304000",
        ] {
            assert!(parse_w3c(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_window_defaults_and_limits() {
        let now = 1_000 * SPAN_MS;
        assert_eq!(window(now, None, None).unwrap(), (now - SPAN_MS, now));
        assert_eq!(window(now, Some(5), None).unwrap(), (5, 5 + SPAN_MS));
        assert_eq!(window(now, None, Some(now)).unwrap(), (now - SPAN_MS, now));
        assert!(window(now, Some(10), Some(5)).is_err());
        assert!(window(now, Some(0), Some(SPAN_MS + 1)).is_err());
        assert!(window(now, Some(0), Some(SPAN_MS)).is_ok());
    }

    #[test]
    fn request_filters() {
        let now = 2_000_000_000_000;
        let q = requests_query(
            &params("status=open&service_code=leak,noise&service_request_id="),
            now,
        )
        .unwrap();
        assert_eq!(q.statuses, Some(vec![Status::Open]));
        assert_eq!(q.service_codes.unwrap(), vec!["leak", "noise"]);
        assert_eq!(q.ids, None);
        assert_eq!((q.start, q.end), (now - SPAN_MS, now));
        let e = requests_query(
            &params("status=fixed&start_date=x&end_date=2010-01-01T00:00:00Z"),
            now,
        )
        .unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        let e = requests_query(
            &params("start_date=2010-01-01T00:00:00Z&end_date=2011-01-01T00:00:00Z"),
            now,
        )
        .unwrap_err();
        assert!(e[0].contains("90"));
    }

    #[test]
    fn one_tree_two_formats() {
        let d = Doc::List(
            "request",
            vec![Doc::Obj(vec![
                ("service_request_id", Doc::text("1")),
                ("service_notice", Doc::text("a < b & \"c\"")),
                ("account_id", Doc::Null),
                ("n", Doc::Int(3)),
                ("flag", Doc::Bool(true)),
                ("items", Doc::List("item", vec![Doc::text("x")])),
            ])],
        );
        let j = to_json(&d);
        assert_eq!(j[0]["service_request_id"], "1");
        assert!(j[0]["account_id"].is_null());
        assert_eq!(j[0]["n"], 3);
        assert_eq!(j[0]["flag"], true);
        assert_eq!(j[0]["items"][0], "x");
        let x = to_xml("service_requests", &d);
        assert!(x.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<service_requests>"));
        let doc = roxmltree::Document::parse(&x).unwrap();
        let req = doc.root_element().first_element_child().unwrap();
        assert_eq!(req.tag_name().name(), "request");
        let get = |n: &str| req.children().find(|c| c.tag_name().name() == n).unwrap();
        assert_eq!(get("service_notice").text(), Some("a < b & \"c\""));
        assert_eq!(get("account_id").text(), None);
        assert_eq!(get("flag").text(), Some("true"));
        assert_eq!(
            get("items")
                .first_element_child()
                .unwrap()
                .tag_name()
                .name(),
            "item"
        );
        let empty = to_xml("service_requests", &Doc::List("request", vec![]));
        let doc = roxmltree::Document::parse(&empty).unwrap();
        assert_eq!(
            doc.root_element()
                .children()
                .filter(|c| c.is_element())
                .count(),
            0
        );
    }

    #[test]
    fn faults_have_the_spec_shape() {
        let f = Fault::forbidden("api_key missing");
        let j = to_json(&f.doc());
        assert_eq!(j[0]["code"], 403);
        assert_eq!(j[0]["description"], "api_key missing");
        let x = to_xml("errors", &f.doc());
        let doc = roxmltree::Document::parse(&x).unwrap();
        let e = doc.root_element().first_element_child().unwrap();
        assert_eq!(e.tag_name().name(), "error");
        assert_eq!(
            e.children()
                .find(|c| c.has_tag_name("code"))
                .unwrap()
                .text(),
            Some("403")
        );
    }

    #[test]
    fn addresses_never_hold_the_room() {
        assert_eq!(
            address(Some("新城壹号小区"), Some("1号楼"), false).unwrap(),
            "1号楼, 新城壹号小区"
        );
        assert_eq!(
            address(Some("新城壹号小区"), Some("1号楼"), true).unwrap(),
            "新城壹号小区"
        );
        assert_eq!(address(None, None, false), None);
    }

    #[test]
    fn redaction() {
        let r = redact(
            "我是樊一新,住1单元101室,电话13800000001,身份证14110219850312001X,座机 0358-1234567",
            &["樊一新", "1"],
        );
        assert!(!r.contains("樊一新"), "{r}");
        assert!(!r.contains("13800000001"));
        assert!(!r.contains("14110219850312001X"));
        assert!(!r.contains("101"));
        assert!(!r.contains("1234567"));
        assert!(r.contains("1单元"), "short numbers stay: {r}");
        assert_eq!(redact("3号楼电梯坏了", &[]), "3号楼电梯坏了");
        assert_eq!(redact("住在 502 户", &[]), "住在 502 户");
        assert_eq!(redact("住在502户", &[]), "住在***户");
        assert!(
            !redact("电话１３８００００００００１", &[]).contains('１'),
            "full-width digits"
        );
    }

    proptest! {
        #[test]
        fn form_parsing_never_panics(s in "\\PC{0,60}", raw in proptest::collection::vec(any::<u8>(), 0..60)) {
            let _ = parse_form(&s);
            let _ = parse_form(&String::from_utf8_lossy(&raw));
            if let Ok(pairs) = parse_form(&s) {
                let p = Params::from_pairs(pairs);
                let _ = requests_query(&p, 1_700_000_000_000);
                let _ = p.attributes();
            }
        }

        #[test]
        fn date_parsing_never_panics(s in "\\PC{0,40}", d in "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2})?(Z|[+-][0-9]{2}:[0-9]{2}| [0-9]{2}:[0-9]{2})?") {
            let _ = parse_w3c(&s);
            let _ = parse_w3c(&d);
        }

        #[test]
        fn windows_never_exceed_the_span(now in 0i64..4_000_000_000_000, s in proptest::option::of(0i64..4_000_000_000_000), e in proptest::option::of(0i64..4_000_000_000_000)) {
            if let Ok((a, b)) = window(now, s, e) {
                prop_assert!(a <= b);
                prop_assert!(b - a <= SPAN_MS);
            }
        }

        /// Whatever text goes in, the XML stays well formed and gives the
        /// text back (less the characters XML cannot carry).
        #[test]
        fn xml_round_trips(s in "\\PC{0,80}", ctl in proptest::collection::vec(0u32..0x20, 0..4)) {
            let mut text = s.clone();
            for c in ctl { text.push(char::from_u32(c).unwrap()); }
            let x = to_xml("r", &Doc::Obj(vec![("t", Doc::text(text.clone()))]));
            let doc = roxmltree::Document::parse(&x).unwrap();
            let t = doc.root_element().first_element_child().unwrap().text().unwrap_or("").to_string();
            prop_assert_eq!(t, clean(&text));
        }

        #[test]
        fn redaction_leaves_no_names_or_long_numbers(
            text in "[0-9a-z樊一新李秀兰室户单元 ,]{0,60}",
            n in "[樊李一新秀兰]{2,3}",
        ) {
            let r = redact(&text, &[n.as_str()]);
            prop_assert!(!r.contains(n.as_str()));
            let mut run = 0;
            for c in r.chars() {
                if is_digit(c) { run += 1; prop_assert!(run < 7); } else { run = 0; }
            }
        }

        #[test]
        fn titles_always_fit(d in "\\PC{0,80}") {
            let t = title_from(&d, "漏水");
            let n = t.chars().count();
            prop_assert!((2..=TITLE_CHARS).contains(&n), "{}", t);
        }
    }
}
