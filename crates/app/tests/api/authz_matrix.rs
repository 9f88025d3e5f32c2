//! The authorization matrix (OWASP API1/API5, #9): ONE table, `MATRIX`,
//! lists every API operation with the outcome expected for every caller —
//! anonymous, then each demo account — on the demo world. The objects in
//! the paths are fixed ones (a demand, a household, a resident … of
//! 新城壹号小区, a mediation of 泛华盛世小区, the first party record …), so for
//! each account they are in scope or out of scope as the account's place
//! says. One test runs every cell over real HTTP and reports all
//! mismatches at once; another fails when an operation of the OpenAPI
//! document (which another test proves complete) is missing from the table.
//!
//! Cells, one character per caller: `A` 2xx, `0` 400, `1` 401, `3` 403,
//! `4` 404, `9` 409, `2` 422, `M` 413/415, `R` 429, `!` anything else.
//! Writes run in table order with bodies made from the documented request
//! schema (required fields only), so an allowed write shows as `A`, `9`
//! (the state changed by an earlier cell) or `2` (the sample body is not
//! good enough) — never as `3`/`4`, which are kept for refusals.
//! Set `LIANXIN_MATRIX_PRINT=1` to print the observed table.

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// The callers, in the order of the cells after the anonymous one.
const CALLERS: [&str; 15] = [
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

/// (method, path template, cells: anonymous, then `CALLERS` in order).
#[rustfmt::skip]
const MATRIX: &[(&str, &str, &str)] = &[
    // Columns: anonymous, 13800000001, 13800000002, 13800000003, butler-xc,
    // property-xc, property-fh, branch-fh, community-zq, street-cb,
    // district-ls, village-xmz, approval-lx, expert-1, grid-cz, auditor.
    ("POST",   "/api/v1/admin/accounts",                            "1333333333333333"),
    ("GET",    "/api/v1/audit/events",                              "133333333333333A"),
    ("POST",   "/api/v1/auth/login",                                "1AAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/auth/logout",                               "1AAAAAAAAAAAAAAA"),
    ("GET",    "/api/v1/demand-categories",                         "AAAAAAAAAAAAAAAA"),
    ("PUT",    "/api/v1/demand-categories/{code}",                  "1333333333233333"),
    ("GET",    "/api/v1/demands",                                   "1AAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/demands",                                   "1222222222222222"),
    ("GET",    "/api/v1/demands/inbox",                             "1AAAAAAAAAAAAAAA"),
    ("GET",    "/api/v1/demands/similar",                           "1AAAAAAAAAAAAAAA"),
    ("GET",    "/api/v1/demands/{id}",                              "1A44AA44AAA44444"),
    ("POST",   "/api/v1/demands/{id}/attachments",                  "1000000000000000"),
    ("GET",    "/api/v1/demands/{id}/attachments/{attachment}",     "1444444444444444"),
    ("POST",   "/api/v1/demands/{id}/rating",                       "1944994499944444"),
    ("POST",   "/api/v1/demands/{id}/support",                      "1994444444444444"),
    ("POST",   "/api/v1/demands/{id}/transitions",                  "1944994499944444"),
    ("PUT",    "/api/v1/insight/compounds/{id}/company",            "14443344AAA44444"),
    ("GET",    "/api/v1/insight/dashboard",                         "1333222222223323"),
    ("GET",    "/api/v1/insight/league",                            "1333222222223323"),
    ("GET",    "/api/v1/insight/rates",                             "1333222222223323"),
    ("GET",    "/api/v1/insight/report.xlsx",                       "1333222222223323"),
    ("GET",    "/api/v1/insight/surveys",                           "1AAAAAAAAAAA33A3"),
    ("POST",   "/api/v1/insight/surveys",                           "1222332222222222"),
    ("GET",    "/api/v1/insight/surveys/{id}",                      "1444444444444444"),
    ("POST",   "/api/v1/insight/surveys/{id}/answers",              "1444444444444444"),
    ("POST",   "/api/v1/insight/surveys/{id}/publish",              "1444444444444444"),
    ("GET",    "/api/v1/insight/weights",                           "1333AAAAAAAA33A3"),
    ("PUT",    "/api/v1/insight/weights",                           "1333333333233333"),
    ("GET",    "/api/v1/me",                                        "1AAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/me/password",                               "1222222222222222"),
    ("GET",    "/api/v1/me/data",                                   "1AAA333333333333"),
    ("GET",    "/api/v1/me/data.json",                              "1AAA333333333333"),
    ("GET",    "/api/v1/me/data.xlsx",                              "1AAA333333333333"),
    ("POST",   "/api/v1/me/corrections",                            "1222333333333333"),
    ("POST",   "/api/v1/me/deletion-request",                       "1AAA333333333333"),
    ("POST",   "/api/v1/me/totp",                                   "1333222222222222"),
    ("GET",    "/api/v1/mediation/cases",                           "1AAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/mediation/cases",                           "1333222222223333"),
    ("GET",    "/api/v1/mediation/cases/{id}",                      "144444AA44A44444"),
    ("POST",   "/api/v1/mediation/cases/{id}/close",                "144444A944944444"),
    ("POST",   "/api/v1/mediation/cases/{id}/followups",            "1444442244244444"),
    ("POST",   "/api/v1/mediation/cases/{id}/outcome",              "1444442244244444"),
    ("POST",   "/api/v1/mediation/cases/{id}/sessions",             "1444442244244444"),
    ("GET",    "/api/v1/notify/inbox",                              "1AAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/notify/inbox/read-all",                     "1AAAAAAAAAAAAAAA"),
    ("GET",    "/api/v1/notify/inbox/{id}",                         "1444444444444444"),
    ("POST",   "/api/v1/notify/inbox/{id}/read",                    "1444444444444444"),
    ("GET",    "/api/v1/notify/stream",                             "1AAAAAAAAAAAAAAA"),
    ("GET",    "/api/v1/notify/subscriptions",                      "1AAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/notify/subscriptions",                      "1222222222222222"),
    ("DELETE", "/api/v1/notify/subscriptions/{id}",                 "1444433444444444"),
    ("GET",    "/api/v1/notify/unread",                             "1AAAAAAAAAAAAAAA"),
    ("GET",    "/api/v1/notify/webhooks",                           "1AAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/notify/webhooks",                           "1444334422244444"),
    ("GET",    "/api/v1/notify/webhooks/dead",                      "1AAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/notify/webhooks/dead/{id}/retry",           "1444444444444444"),
    ("DELETE", "/api/v1/notify/webhooks/{id}",                      "1444444444444444"),
    ("GET",    "/api/v1/notify/webhooks/{id}",                      "1444444444444444"),
    ("PATCH",  "/api/v1/notify/webhooks/{id}",                      "1444444444444444"),
    ("POST",   "/api/v1/notify/webhooks/{id}/test",                 "1444444444444444"),
    ("GET",    "/api/v1/open311/keys",                              "1AAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/open311/keys",                              "14443344AAA44444"),
    ("DELETE", "/api/v1/open311/keys/{id}",                         "1444444444A44444"),
    ("GET",    "/api/v1/org/export.xlsx",                           "1222222222222222"),
    ("GET",    "/api/v1/org/grids",                                 "1AAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/org/grids",                                 "1222332222222222"),
    ("GET",    "/api/v1/org/households/{id}/residents",             "1A44AA44AAA44444"),
    ("POST",   "/api/v1/org/households/{id}/residents",             "13443344AAA44444"),
    ("POST",   "/api/v1/org/import",                                "1MMMMMMMMMMMMMMM"),
    ("POST",   "/api/v1/org/import/jobs",                           "1MMMMMMMMMMMMMMM"),
    ("GET",    "/api/v1/org/import/jobs/{id}",                      "1444444444444444"),
    ("POST",   "/api/v1/org/nodes",                                 "1222222222222222"),
    ("DELETE", "/api/v1/org/nodes/{id}",                            "1444334499944444"),
    ("GET",    "/api/v1/org/nodes/{id}",                            "1444AA44AAA44444"),
    ("PATCH",  "/api/v1/org/nodes/{id}",                            "14443344A9944444"),
    ("GET",    "/api/v1/org/nodes/{id}/children",                   "1444AA44AAA44444"),
    ("GET",    "/api/v1/org/privacy-requests",                      "13333333AAAA3333"),
    ("POST",   "/api/v1/org/privacy-requests/{id}/decision",        "1222222222222222"),
    ("GET",    "/api/v1/org/residents/{id}",                        "1A44AA44AAA44444"),
    ("GET",    "/api/v1/org/tree",                                  "1AAAAAAAAAAAAAAA"),
    ("GET",    "/api/v1/party/activities",                          "1AAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/party/activities",                          "1222222222222222"),
    ("GET",    "/api/v1/party/activities/{id}",                     "1444444A44A44444"),
    ("PATCH",  "/api/v1/party/activities/{id}",                     "1444444A44344444"),
    ("PUT",    "/api/v1/party/activities/{id}/attendance",          "1444444A44344444"),
    ("POST",   "/api/v1/party/activities/{id}/photos",              "1000000000000000"),
    ("GET",    "/api/v1/party/activities/{id}/photos/{photo}",      "1444444444444444"),
    ("GET",    "/api/v1/party/appointments",                        "1AAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/party/appointments",                        "1222222222222222"),
    ("POST",   "/api/v1/party/appointments/{id}/end",               "1444444244344444"),
    ("GET",    "/api/v1/party/butlers",                             "1AAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/party/butlers",                             "1222222222222222"),
    ("POST",   "/api/v1/party/butlers/{id}/end",                    "1444444244344444"),
    ("GET",    "/api/v1/party/me",                                  "1AAAAAAAAAAAAAAA"),
    ("GET",    "/api/v1/party/members",                             "1AAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/party/members",                             "1222222222222222"),
    ("GET",    "/api/v1/party/members/export.xlsx",                 "1222222222222222"),
    ("POST",   "/api/v1/party/members/import",                      "1MMMMMMMMMMMMMMM"),
    ("GET",    "/api/v1/party/members/{id}",                        "1444444A44A44444"),
    ("PATCH",  "/api/v1/party/members/{id}",                        "1444444A44344444"),
    ("GET",    "/api/v1/party/members/{id}/checkins",               "1444444A44344444"),
    ("POST",   "/api/v1/party/members/{id}/checkins",               "1444444944344444"),
    ("DELETE", "/api/v1/party/members/{id}/registration",           "1444444944344444"),
    ("POST",   "/api/v1/party/members/{id}/registration",           "1444444244244444"),
    ("POST",   "/api/v1/party/members/{id}/status",                 "1444444944344444"),
    ("POST",   "/api/v1/party/members/{id}/transfer",               "1444444244344444"),
    ("POST",   "/api/v1/party/officers/{id}/end",                   "1444444244344444"),
    ("GET",    "/api/v1/party/orgs",                                "1AAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/party/orgs",                                "1222332222222222"),
    ("GET",    "/api/v1/party/orgs/{id}",                           "1444444444A44444"),
    ("POST",   "/api/v1/party/orgs/{id}/officers",                  "1444444444344444"),
    ("PUT",    "/api/v1/party/orgs/{id}/service-centre",            "1444444444A44444"),
    ("GET",    "/api/v1/party/orgs/{id}/stats",                     "1444444444A44444"),
    ("GET",    "/api/v1/party/orgs/{id}/transfers",                 "1444444444A44444"),
    ("GET",    "/api/v1/party/tasks",                               "1AAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/party/tasks",                               "1222222222222222"),
    ("POST",   "/api/v1/party/tasks/{id}/claims",                   "1444444A44444444"),
    ("GET",    "/api/v1/party/volunteer",                           "1AAAAAAAAAAAAAAA"),
    ("POST",   "/api/v1/party/volunteer",                           "1444444444444444"),
    ("POST",   "/api/v1/party/volunteer/{id}/verify",               "1444444944344444"),
    ("POST",   "/api/v1/security/grants",                           "1333333333333333"),
];

const NIL_ID: &str = "0190f0f0-0000-7000-8000-000000000000";

fn cell(s: StatusCode) -> char {
    match s.as_u16() {
        200..=299 => 'A',
        400 => '0',
        401 => '1',
        403 => '3',
        404 => '4',
        409 => '9',
        422 => '2',
        413 | 415 => 'M',
        429 => 'R',
        _ => '!',
    }
}

fn doc() -> Value {
    serde_json::from_str(app::openapi::json()).expect("the document is JSON")
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (m, op) in item.as_object().expect("path item") {
            if ["get", "post", "put", "patch", "delete"].contains(&m.as_str()) {
                out.push((m.to_uppercase(), path.clone(), op.clone()));
            }
        }
    }
    out
}

#[test]
fn the_matrix_names_every_operation_once() {
    let doc = doc();
    let documented: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect();
    let mut tabled = BTreeSet::new();
    for (m, p, cells) in MATRIX {
        assert!(
            tabled.insert((m.to_string(), p.to_string())),
            "{m} {p} twice in the matrix"
        );
        assert_eq!(cells.chars().count(), 1 + CALLERS.len(), "{m} {p}: {cells}");
    }
    let missing: Vec<_> = documented.difference(&tabled).collect();
    let extra: Vec<_> = tabled.difference(&documented).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing from the matrix: {missing:?}\nnot operations: {extra:?}"
    );
}

/// Ids of the fixed objects, looked up in the seeded demo world.
struct Fixtures {
    xc: String,
    xc_101: String,
    values: std::collections::HashMap<&'static str, String>,
}

async fn first_id(app: &TestApp, sql: &str) -> String {
    use sqlx::Row;
    sqlx::query(sql)
        .fetch_optional(app.ctx.db.reader())
        .await
        .unwrap()
        .map(|r| r.get::<String, _>(0))
        .unwrap_or_else(|| NIL_ID.to_string())
}

impl Fixtures {
    async fn load(app: &TestApp) -> Fixtures {
        let mut values = std::collections::HashMap::new();
        for (key, sql) in [
            (
                "demand",
                "SELECT id FROM demands WHERE title = '地下车库照明不亮'".to_string(),
            ),
            (
                "attachment",
                "SELECT id FROM attachments ORDER BY id LIMIT 1".into(),
            ),
            (
                "mediation",
                "SELECT id FROM mediations ORDER BY id LIMIT 1".into(),
            ),
            (
                "inbox",
                "SELECT id FROM notify_inbox ORDER BY id LIMIT 1".into(),
            ),
            (
                "subscription",
                "SELECT id FROM notify_subscriptions ORDER BY id LIMIT 1".into(),
            ),
            (
                "webhook",
                "SELECT id FROM notify_webhooks ORDER BY id LIMIT 1".into(),
            ),
            (
                "delivery",
                "SELECT id FROM notify_deliveries ORDER BY id LIMIT 1".into(),
            ),
            (
                "resident",
                format!("SELECT id FROM residents WHERE org_path = '{XC_101}' ORDER BY id LIMIT 1"),
            ),
            (
                "survey",
                "SELECT id FROM property_surveys ORDER BY id LIMIT 1".into(),
            ),
            (
                "key",
                "SELECT id FROM open311_keys ORDER BY id LIMIT 1".into(),
            ),
            (
                "party_org",
                "SELECT id FROM party_orgs ORDER BY id LIMIT 1".into(),
            ),
            (
                "officer",
                "SELECT id FROM party_officers ORDER BY id LIMIT 1".into(),
            ),
            (
                "member",
                "SELECT id FROM party_members ORDER BY id LIMIT 1".into(),
            ),
            (
                "butler",
                "SELECT id FROM party_butlers ORDER BY id LIMIT 1".into(),
            ),
            (
                "appointment",
                "SELECT id FROM party_cross_appointments ORDER BY id LIMIT 1".into(),
            ),
            (
                "activity",
                "SELECT id FROM party_activities ORDER BY id LIMIT 1".into(),
            ),
            (
                "photo",
                "SELECT id FROM party_activity_photos ORDER BY id LIMIT 1".into(),
            ),
            (
                "task",
                "SELECT id FROM party_tasks ORDER BY id LIMIT 1".into(),
            ),
            (
                "volunteer",
                "SELECT id FROM party_volunteer ORDER BY id LIMIT 1".into(),
            ),
        ] {
            values.insert(key, first_id(app, &sql).await);
        }
        Fixtures {
            xc: app.node_id(XC).await,
            xc_101: app.node_id(XC_101).await,
            values,
        }
    }

    fn get(&self, key: &str) -> String {
        self.values
            .get(key)
            .cloned()
            .unwrap_or_else(|| NIL_ID.to_string())
    }

    /// The value of path parameter `param` of the operation at `path`.
    fn param(&self, path: &str, param: &str) -> String {
        let under = |p: &str| path.starts_with(p);
        match param {
            "code" => "leak".into(),
            "attachment" => self.get("attachment"),
            "photo" => self.get("photo"),
            _ if under("/api/v1/demands/") => self.get("demand"),
            _ if under("/api/v1/mediation/") => self.get("mediation"),
            _ if under("/api/v1/notify/inbox/") => self.get("inbox"),
            _ if under("/api/v1/notify/subscriptions/") => self.get("subscription"),
            _ if under("/api/v1/notify/webhooks/dead/") => self.get("delivery"),
            _ if under("/api/v1/notify/webhooks/") => self.get("webhook"),
            _ if under("/api/v1/org/nodes/") => self.xc.clone(),
            _ if under("/api/v1/org/households/") => self.xc_101.clone(),
            _ if under("/api/v1/org/residents/") => self.get("resident"),
            _ if under("/api/v1/insight/surveys/") => self.get("survey"),
            _ if under("/api/v1/insight/compounds/") => self.xc.clone(),
            _ if under("/api/v1/open311/keys/") => self.get("key"),
            _ if under("/api/v1/party/orgs/") => self.get("party_org"),
            _ if under("/api/v1/party/officers/") => self.get("officer"),
            _ if under("/api/v1/party/members/") => self.get("member"),
            _ if under("/api/v1/party/butlers/") => self.get("butler"),
            _ if under("/api/v1/party/appointments/") => self.get("appointment"),
            _ if under("/api/v1/party/activities/") => self.get("activity"),
            _ if under("/api/v1/party/tasks/") => self.get("task"),
            _ if under("/api/v1/party/volunteer/") => self.get("volunteer"),
            _ => NIL_ID.into(),
        }
    }

    /// A sample value for a query parameter or body field, by name.
    fn sample_named(&self, name: &str) -> Option<Value> {
        Some(match name {
            "org" | "org_id" | "compound_id" => json!(self.xc),
            "household_id" => json!(self.xc_101),
            "category" => json!("leak"),
            "from" | "date" | "day" => json!("2026-11-01"),
            "to" => json!("2026-11-28"),
            "month" => json!("2026-11"),
            "q" => json!("灯"),
            "phone" => json!("13900009999"),
            _ => return None,
        })
    }
}

fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(|r| r.as_str()) {
        Some(r) => doc.pointer(r.trim_start_matches('#')).unwrap_or(v),
        None => v,
    }
}

/// A value of `schema` with its required fields only, named samples first.
fn sample(doc: &Value, schema: &Value, name: &str, fx: &Fixtures, depth: usize) -> Value {
    let schema = resolve(doc, schema);
    if let Some(v) = fx.sample_named(name) {
        return v;
    }
    for k in ["allOf", "oneOf", "anyOf"] {
        if let Some(first) = schema[k].as_array().and_then(|a| {
            a.iter()
                .find(|s| resolve(doc, s)["type"] != "null")
                .or(a.first())
        }) {
            return sample(doc, first, name, fx, depth + 1);
        }
    }
    if let Some(first) = schema["enum"].as_array().and_then(|a| a.first()) {
        return first.clone();
    }
    let ty = match &schema["type"] {
        Value::Array(a) => a
            .iter()
            .find(|t| *t != "null")
            .cloned()
            .unwrap_or(Value::Null),
        t => t.clone(),
    };
    match ty.as_str().unwrap_or("object") {
        "string" => match schema["format"].as_str() {
            Some("date") => json!("2026-11-20"),
            Some("date-time") => json!("2026-11-20T09:00:00+08:00"),
            _ => json!("矩阵测试"),
        },
        "integer" | "number" => json!(schema["minimum"].as_i64().unwrap_or(1).max(1)),
        "boolean" => json!(true),
        "array" => json!([]),
        _ if depth > 4 => json!({}),
        _ => {
            let mut out = Map::new();
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
                .unwrap_or_default();
            if let Some(props) = schema["properties"].as_object() {
                for (k, v) in props {
                    if required.contains(&k.as_str()) {
                        out.insert(k.clone(), sample(doc, v, k, fx, depth + 1));
                    }
                }
            }
            Value::Object(out)
        }
    }
}

#[tokio::test]
async fn every_cell_of_the_matrix_holds() {
    let app = spawn_app().await;
    let doc = doc();
    let fx = Fixtures::load(&app).await;
    let mut tokens = Vec::new();
    for login in CALLERS {
        tokens.push(app.token(login).await);
    }
    let ops = operations(&doc);
    let mut mismatches = Vec::new();
    let mut observed = Vec::new();
    // In the document's order (sorted by path), so that the writes of one
    // run happen in the same order as in the next.
    for (method, template, op) in &ops {
        let (method, template) = (method.as_str(), template.as_str());
        let expected = MATRIX
            .iter()
            .find(|(m, p, _)| *m == method && *p == template)
            .map(|(_, _, c)| *c)
            .unwrap_or("(not in the matrix)");
        // The path, its required query and a sample body.
        let mut url = template
            .split('/')
            .map(
                |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(param) => fx.param(template, param),
                    None => seg.to_string(),
                },
            )
            .collect::<Vec<_>>()
            .join("/");
        let mut query = Vec::new();
        for p in op["parameters"].as_array().into_iter().flatten() {
            let p = resolve(&doc, p);
            if p["in"] == "query" && p["required"] == true {
                let name = p["name"].as_str().unwrap_or("");
                let v = sample(&doc, &p["schema"], name, &fx, 0);
                let v = v.as_str().map(str::to_string).unwrap_or(v.to_string());
                query.push(format!("{name}={v}"));
            }
        }
        if !query.is_empty() {
            url = format!("{url}?{}", query.join("&"));
        }
        let body = op["requestBody"]["content"]["application/json"]["schema"]
            .as_object()
            .map(|s| sample(&doc, &Value::Object(s.clone()), "", &fx, 0));

        let mut row = String::new();
        for i in 0..=CALLERS.len() {
            let mut req = app
                .client
                .request(method.parse::<Method>().unwrap(), app.url(&url));
            if i > 0 {
                let token = if template == "/api/v1/auth/logout" {
                    // Logging out ends the token: use one of its own.
                    app.token(CALLERS[i - 1]).await
                } else {
                    tokens[i - 1].clone()
                };
                req = req.bearer_auth(token);
            }
            if template == "/api/v1/auth/login" {
                let login = if i == 0 { "nobody" } else { CALLERS[i - 1] };
                req = req.json(&json!({"login": login, "password": PASSWORD}));
            } else if let Some(b) = &body {
                req = req.json(b);
            }
            // Only the status is read (the live stream would never end).
            let status = req.send().await.unwrap().status();
            row.push(cell(status));
        }
        if row != expected {
            let who: Vec<String> = row
                .chars()
                .zip(expected.chars())
                .enumerate()
                .filter(|(_, (a, b))| a != b)
                .map(|(i, (a, b))| {
                    let name = if i == 0 { "anonymous" } else { CALLERS[i - 1] };
                    format!("{name}: expected {b}, got {a}")
                })
                .collect();
            mismatches.push(format!("{method} {template}: {}", who.join("; ")));
        }
        observed.push(format!("    ({method:?}, {template:?}, {row:?}),"));
    }
    if std::env::var("LIANXIN_MATRIX_PRINT").is_ok() {
        println!("{}", observed.join("\n"));
    }
    assert!(
        mismatches.is_empty(),
        "{} cells differ from the matrix:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
