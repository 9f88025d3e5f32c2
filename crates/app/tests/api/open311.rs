//! Open311 GeoReport v2 driven as a civic-tech client would: JSON parsed
//! with serde_json, XML with a real parser (roxmltree), errors in the
//! specification's shape, and FixMyStreet's `servicerequestupdates`.

use crate::helpers::*;
use kernel::clock::Clock;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const KEY: &str = "lianxin-demo-open311";
const FORMATS: [&str; 2] = ["json", "xml"];
const MINUTE: i64 = 60_000;
const DAY: i64 = 86_400_000;

type Record = BTreeMap<String, Option<String>>;

struct Answer {
    status: StatusCode,
    content_type: String,
    retry_after: Option<String>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        assert!(
            self.content_type.starts_with("application/json"),
            "{} {}",
            self.content_type,
            self.body
        );
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// The records under the root: `<root><item><field>…</field></item>…</root>`.
    fn xml(&self, root: &str, item: &str) -> Vec<Record> {
        assert!(
            self.content_type.starts_with("text/xml"),
            "{} {}",
            self.content_type,
            self.body
        );
        assert!(
            self.body
                .starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"),
            "declaration with the encoding: {}",
            self.body
        );
        let doc =
            roxmltree::Document::parse(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body));
        let r = doc.root_element();
        assert_eq!(r.tag_name().name(), root, "{}", self.body);
        r.children()
            .filter(|c| c.is_element())
            .map(|c| {
                assert_eq!(c.tag_name().name(), item, "{}", self.body);
                fields(c)
            })
            .collect()
    }

    /// The spec's error shape in either format, with `want` as the HTTP
    /// status and as every error's code.
    fn assert_fault(&self, fmt: &str, want: u16) {
        assert_eq!(self.status.as_u16(), want, "{fmt}: {}", self.body);
        if fmt == "json" {
            let v = self.json();
            let errors = v.as_array().expect("an array of errors");
            assert!(!errors.is_empty());
            for e in errors {
                assert_eq!(e.as_object().unwrap().len(), 2, "{e}");
                assert_eq!(e["code"], json!(want), "{e}");
                assert!(!e["description"].as_str().unwrap().is_empty());
            }
        } else {
            let errors = self.xml("errors", "error");
            assert!(!errors.is_empty());
            for e in errors {
                assert_eq!(e["code"].as_deref(), Some(want.to_string().as_str()));
                assert!(!e["description"].as_deref().unwrap().is_empty());
            }
        }
    }
}

fn fields(n: roxmltree::Node) -> Record {
    n.children()
        .filter(|f| f.is_element())
        .map(|f| {
            let text = if f.children().any(|c| c.is_element()) {
                None
            } else {
                f.text().map(str::to_string)
            };
            (f.tag_name().name().to_string(), text)
        })
        .collect()
}

async fn fetch(app: &TestApp, path: &str) -> Answer {
    fetch_with(app, path, None).await
}

async fn fetch_with(app: &TestApp, path: &str, accept: Option<&str>) -> Answer {
    let mut rq = app.client.get(app.url(path));
    if let Some(a) = accept {
        rq = rq.header("accept", a);
    }
    answer(rq.send().await.unwrap()).await
}

async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status();
    let content_type = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let retry_after = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    Answer {
        status,
        content_type,
        retry_after,
        body: r.text().await.unwrap(),
    }
}

async fn post(app: &TestApp, fmt: &str, form: &[(&str, &str)]) -> Answer {
    let r = app
        .client
        .post(app.url(&format!("/open311/v2/requests.{fmt}")))
        .form(form)
        .send()
        .await
        .unwrap();
    answer(r).await
}

/// Files over Open311 (JSON) and returns the new service_request_id.
async fn file(app: &TestApp, form: &[(&str, &str)]) -> String {
    let a = post(app, "json", form).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let v = a.json();
    let items = v.as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert!(items[0]["service_notice"]
        .as_str()
        .unwrap()
        .contains("内派遣"));
    assert!(items[0]["account_id"].is_null());
    assert!(items[0].get("token").is_none(), "realtime: no token");
    items[0]["service_request_id"].as_str().unwrap().to_string()
}

async fn file_leak_at_xc(app: &TestApp, description: &str) -> String {
    file(
        app,
        &[
            ("api_key", KEY),
            ("jurisdiction_id", "XC"),
            ("service_code", "leak"),
            ("description", description),
            ("address_string", "1号楼 东侧楼道"),
        ],
    )
    .await
}

fn ids_of(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["service_request_id"].as_str().unwrap().to_string())
        .collect()
}

fn w3c(ms: i64) -> String {
    kernel::clock::to_rfc3339(ms)
}

async fn act(app: &TestApp, token: &str, id: &str, body: Value) -> Value {
    let (s, v) = app
        .post(
            &format!("/api/v1/demands/{id}/transitions"),
            token,
            body.clone(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body} → {v}");
    v
}

async fn user_id(app: &TestApp, login: &str) -> String {
    accounts::store::find_user_by_login(&app.ctx.db, &app.ctx.cipher, login)
        .await
        .unwrap()
        .unwrap()
        .id
}

// ---------------------------------------------------------------------------

#[tokio::test]
async fn discovery_in_both_formats() {
    let app = spawn_app().await;
    let a = fetch(&app, "/open311/v2/discovery.json").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.content_type, "application/json; charset=utf-8");
    let v = a.json();
    for f in ["changeset", "contact", "key_service"] {
        assert!(!v[f].as_str().unwrap().is_empty(), "{f}");
    }
    let e = &v["endpoints"][0];
    assert_eq!(e["specification"], "http://wiki.open311.org/GeoReport_v2");
    assert_eq!(e["url"], format!("{}/open311/v2", app.base));
    assert_eq!(e["type"], "test", "the demo world is not production");
    assert_eq!(e["formats"], json!(["text/xml", "application/json"]));
    assert!(kernel::clock::from_rfc3339(e["changeset"].as_str().unwrap()).is_some());

    let a = fetch(&app, "/open311/v2/discovery.xml").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.content_type, "text/xml; charset=utf-8");
    let doc = roxmltree::Document::parse(&a.body).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "discovery");
    let endpoint = root
        .descendants()
        .find(|n| n.has_tag_name("endpoint"))
        .unwrap();
    let formats: Vec<_> = endpoint
        .descendants()
        .filter(|n| n.has_tag_name("format"))
        .map(|n| n.text().unwrap())
        .collect();
    assert_eq!(formats, ["text/xml", "application/json"]);
    assert_eq!(
        fields(endpoint)["specification"].as_deref(),
        Some("http://wiki.open311.org/GeoReport_v2")
    );
}

#[tokio::test]
async fn services_and_their_definitions() {
    let app = spawn_app().await;
    let active = cases::store::categories(&app.ctx.db).await.unwrap();
    let a = fetch(&app, "/open311/v2/services.json").await;
    assert_eq!(a.status, StatusCode::OK);
    let v = a.json();
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), active.len());
    let leak = list.iter().find(|s| s["service_code"] == "leak").unwrap();
    assert_eq!(leak["service_name"], "漏水");
    assert_eq!(leak["metadata"], json!(false));
    assert_eq!(leak["type"], "realtime");
    assert_eq!(leak["group"], "报修");
    assert!(leak["keywords"].as_str().unwrap().contains("Water leak"));
    let d = leak["description"].as_str().unwrap();
    assert!(d.contains("漏水") && d.contains("楼宇管家"), "{d}");
    let dispute = list
        .iter()
        .find(|s| s["service_code"] == "neighbour_dispute")
        .unwrap();
    assert_eq!(dispute["group"], "纠纷");

    let xml = fetch(&app, "/open311/v2/services.xml")
        .await
        .xml("services", "service");
    assert_eq!(xml.len(), active.len());
    let leak = xml
        .iter()
        .find(|s| s["service_code"].as_deref() == Some("leak"))
        .unwrap();
    assert_eq!(leak["service_name"].as_deref(), Some("漏水"));
    assert_eq!(leak["metadata"].as_deref(), Some("false"));
    assert_eq!(leak["type"].as_deref(), Some("realtime"));
    assert_eq!(leak["group"].as_deref(), Some("报修"));

    // The jurisdiction is checked, then the services are the catalogue's.
    let a = fetch(&app, "/open311/v2/services.json?jurisdiction_id=XC").await;
    assert_eq!(a.json().as_array().unwrap().len(), active.len());

    let a = fetch(&app, "/open311/v2/services/leak.json").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json(), json!({"service_code": "leak", "attributes": []}));
    let a = fetch(&app, "/open311/v2/services/leak.xml").await;
    assert_eq!(a.status, StatusCode::OK);
    let doc = roxmltree::Document::parse(&a.body).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "service_definition");
    let f = fields(root);
    assert_eq!(f["service_code"].as_deref(), Some("leak"));
    let attributes = root
        .children()
        .find(|c| c.has_tag_name("attributes"))
        .unwrap();
    assert_eq!(attributes.children().filter(|c| c.is_element()).count(), 0);
}

#[tokio::test]
async fn a_post_becomes_an_ordinary_demand_routed_like_any_other() {
    let app = spawn_app().await;
    let before = app.count("demands").await;
    let id = file_leak_at_xc(&app, "1号楼东侧楼道顶棚漏水,地面有积水").await;
    assert_eq!(app.count("demands").await, before + 1);

    // Staff in scope see it like any demand; staff elsewhere do not.
    let community = app.token("community-zq").await;
    let (s, d) = app.get(&format!("/api/v1/demands/{id}"), &community).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(d["status"], "submitted");
    assert_eq!(d["channel"], "open311");
    assert_eq!(d["category"], "leak");
    assert_eq!(d["org_path"], XC, "filed at the compound (no account_id)");
    assert_eq!(
        d["building_id"],
        app.node_id(&format!("{XC}B1/")).await,
        "the building named in address_string"
    );
    assert_eq!(d["urgency"], "high", "the category's default urgency");
    assert_eq!(
        d["events"][0]["actor"],
        "Open311 · 演示集成 demo integration"
    );
    let (s, _) = app
        .get(
            &format!("/api/v1/demands/{id}"),
            &app.token("property-fh").await,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = app
        .get("/api/v1/demands?status=submitted", &community)
        .await;
    assert!(list["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["id"] == id));

    // The same deadlines a web filing of the same category gets.
    let resident = app.token("13800000001").await;
    let web = app.file_demand(&resident, "楼上漏水").await;
    assert_eq!(d["dispatch_deadline"], web["dispatch_deadline"]);

    // Routed like any other: automatic dispatch reaches the compound's butler.
    act(&app, &community, &id, json!({"action": "accept"})).await;
    let v = act(&app, &community, &id, json!({"action": "dispatch"})).await;
    assert_eq!(v["status"], "dispatched");
    assert_eq!(v["assignee_id"], user_id(&app, "butler-xc").await);
    let butler = app.token("butler-xc").await;
    act(&app, &butler, &id, json!({"action": "start"})).await;

    let audit = app.audit_actions().await;
    assert!(audit.contains(&"demand_created".to_string()));

    // The XML answer of a POST.
    let a = post(
        &app,
        "xml",
        &[
            ("api_key", KEY),
            ("jurisdiction_id", &app.node_id(XC).await),
            ("service_code", "garbage"),
            ("description", "2号楼门口垃圾桶满了"),
            ("first_name", "不存"),
            ("phone", "13900009999"),
            ("email", "x@example.org"),
            ("attribute[ignored]", "1"),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let r = a.xml("service_requests", "request");
    assert_eq!(r.len(), 1);
    let new_id = r[0]["service_request_id"].clone().unwrap();
    assert!(r[0]["service_notice"]
        .as_deref()
        .unwrap()
        .contains("垃圾清运"));
    assert_eq!(r[0]["account_id"], None);
    let (s, d) = app
        .get(&format!("/api/v1/demands/{new_id}"), &community)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(d["building_id"], Value::Null);
    assert_eq!(d["title"], "2号楼门口垃圾桶满了");
    // The submitter's personal details are not kept anywhere.
    let dump: String = sqlx::query_scalar::<_, String>(
        "SELECT title || description || COALESCE(location, '') FROM demands WHERE id = $1",
    )
    .bind(&new_id)
    .fetch_one(app.ctx.db.reader())
    .await
    .unwrap();
    assert!(!dump.contains("13900009999") && !dump.contains("不存"));
}

#[tokio::test]
async fn account_id_files_for_the_residents_household() {
    let app = spawn_app().await;
    let id = file(
        &app,
        &[
            ("api_key", KEY),
            ("service_code", "noise"),
            ("account_id", "13800000001"),
            ("description", "楼上每天夜里十一点还在装修"),
        ],
    )
    .await;
    let resident = app.token("13800000001").await;
    let (s, d) = app.get(&format!("/api/v1/demands/{id}"), &resident).await;
    assert_eq!(s, StatusCode::OK, "the resident sees it as their own: {d}");
    assert_eq!(d["org_path"], XC_101);
    assert_eq!(d["channel"], "open311");
    assert_eq!(
        d["building_id"],
        app.node_id(&format!("{XC}B1/")).await,
        "the household's own building"
    );
    // A resident outside the jurisdiction named, or not a resident at all.
    for (account, jurisdiction) in [
        ("13800000003", "XC"),
        ("13899999999", "XC"),
        ("butler-xc", "XC"),
        ("13800000001", "FH"),
    ] {
        let a = post(
            &app,
            "json",
            &[
                ("api_key", KEY),
                ("jurisdiction_id", jurisdiction),
                ("service_code", "noise"),
                ("account_id", account),
                ("description", "楼上每天夜里十一点还在装修"),
            ],
        )
        .await;
        a.assert_fault("json", 400);
        assert!(a.body.contains("account_id"), "{}", a.body);
    }
}

#[tokio::test]
async fn keys_are_issued_listed_scoped_and_revoked() {
    let app = spawn_app().await;
    let district = app.token("district-ls").await;
    let xc = app.node_id(XC).await;
    let (s, k) = app
        .post(
            "/api/v1/open311/keys",
            &district,
            json!({"name": "12345 热线", "org_id": xc}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    let secret = k["api_key"].as_str().unwrap().to_string();
    let key_id = k["id"].as_str().unwrap().to_string();
    assert_eq!(k["org_path"], XC);
    assert_eq!(k["active"], true);
    assert!(app
        .audit_actions()
        .await
        .contains(&"open311_key_issued".to_string()));
    // Stored as its SHA-256 only.
    let stored: String = sqlx::query_scalar("SELECT key_hash FROM open311_keys WHERE id = $1")
        .bind(&key_id)
        .fetch_one(app.ctx.db.reader())
        .await
        .unwrap();
    assert_eq!(stored, kernel::crypto::sha256_hex(secret.as_bytes()));

    // Listed without secrets, in the caller's scope.
    let (s, list) = app.get("/api/v1/open311/keys", &district).await;
    assert_eq!(s, StatusCode::OK);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "the new key and the demo key: {list}");
    assert!(!list.to_string().contains(&secret));
    assert!(items
        .iter()
        .all(|i| i.get("api_key").is_none() && i.get("key_hash").is_none()));
    let (_, list) = app
        .get("/api/v1/open311/keys", &app.token("community-zq").await)
        .await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(
        items.len(),
        1,
        "the district's key is not the community's: {list}"
    );
    assert_eq!(items[0]["id"], key_id);
    let (_, list) = app
        .get("/api/v1/open311/keys", &app.token("butler-xc").await)
        .await;
    assert!(list["items"].as_array().unwrap().is_empty());

    // Issued only by admins over the place.
    let fh = app.node_id(FH).await;
    let (s, _) = app
        .post(
            "/api/v1/open311/keys",
            &app.token("community-zq").await,
            json!({"name": "x", "org_id": fh}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .post(
            "/api/v1/open311/keys",
            &app.token("butler-xc").await,
            json!({"name": "x", "org_id": xc}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .post(
            "/api/v1/open311/keys",
            &app.token("13800000001").await,
            json!({"name": "x", "org_id": xc}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = app
        .post(
            "/api/v1/open311/keys",
            &district,
            json!({"name": " ", "org_id": xc}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = app
        .post(
            "/api/v1/open311/keys",
            &district,
            json!({"name": "x", "org_id": app.node_id(XC_101).await}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "not for a household: {v}"
    );

    // The key files inside its subtree only.
    let ok = |j: &'static str| {
        [
            ("api_key", secret.clone()),
            ("jurisdiction_id", j.to_string()),
            ("service_code", "parking".to_string()),
            ("description", "消防通道被私家车长期占用".to_string()),
        ]
    };
    let form = ok("XC");
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    file(&app, &pairs).await;
    let pairs: Vec<(&str, &str)> = form
        .iter()
        .filter(|(k, _)| *k != "jurisdiction_id")
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    file(&app, &pairs).await;
    for fmt in FORMATS {
        let form = ok("FH");
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        post(&app, fmt, &pairs).await.assert_fault(fmt, 403);
    }
    // The service account behind a key cannot log in.
    let r = app.login_response(&format!("open311:{key_id}"), "!").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Revoked: refused from then on, in both formats.
    let (s, _) = app
        .delete(
            &format!("/api/v1/open311/keys/{key_id}"),
            &app.token("butler-xc").await,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = app
        .delete(
            &format!("/api/v1/open311/keys/{key_id}"),
            &app.token("community-zq").await,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["active"], false);
    assert!(v["revoked_at"].as_str().unwrap().ends_with("+08:00"));
    assert!(app
        .audit_actions()
        .await
        .contains(&"open311_key_revoked".to_string()));
    for fmt in FORMATS {
        let form = ok("XC");
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        post(&app, fmt, &pairs).await.assert_fault(fmt, 403);
    }
    let (s, _) = app.delete("/api/v1/open311/keys/nope", &district).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn requests_with_each_filter() {
    let app = spawn_app().await;
    let mine = file_leak_at_xc(&app, "1号楼东侧楼道顶棚漏水").await;
    let (all_ids, fh_ids): (Vec<String>, Vec<String>) = {
        use sqlx::Row;
        let rows = sqlx::query("SELECT id, org_path FROM demands")
            .fetch_all(app.ctx.db.reader())
            .await
            .unwrap();
        let all = rows.iter().map(|r| r.get::<String, _>(0)).collect();
        let fh = rows
            .iter()
            .filter(|r| r.get::<String, _>(1).starts_with(FH))
            .map(|r| r.get::<String, _>(0))
            .collect();
        (all, fh)
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };

    // No filter: everything of the last 90 days, newest first.
    let v = fetch(&app, "/open311/v2/requests.json").await.json();
    assert_eq!(sorted(ids_of(&v)), sorted(all_ids.clone()));
    assert_eq!(ids_of(&v)[0], mine, "newest first");
    let times: Vec<i64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| kernel::clock::from_rfc3339(r["requested_datetime"].as_str().unwrap()).unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]));

    // status
    for (status, want) in [("open", "open"), ("closed", "closed")] {
        let v = fetch(&app, &format!("/open311/v2/requests.json?status={status}"))
            .await
            .json();
        let items = v.as_array().unwrap();
        assert!(!items.is_empty(), "{status}");
        assert!(items.iter().all(|r| r["status"] == want), "{v}");
    }
    let v = fetch(&app, "/open311/v2/requests.json?status=open,closed")
        .await
        .json();
    assert_eq!(ids_of(&v).len(), all_ids.len());
    let v = fetch(&app, "/open311/v2/requests.json?status=open&status=closed")
        .await
        .json();
    assert_eq!(ids_of(&v).len(), all_ids.len(), "declared several times");

    // service_code, one or several
    let v = fetch(&app, "/open311/v2/requests.json?service_code=leak")
        .await
        .json();
    assert!(v
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["service_code"] == "leak"));
    assert!(ids_of(&v).contains(&mine));
    let v = fetch(&app, "/open311/v2/requests.json?service_code=leak,charging")
        .await
        .json();
    let codes: std::collections::BTreeSet<_> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["service_code"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.into_iter().collect::<Vec<_>>(), ["charging", "leak"]);
    let v = fetch(&app, "/open311/v2/requests.json?service_code=no_such")
        .await
        .json();
    assert!(v.as_array().unwrap().is_empty());

    // service_request_id overrides the other arguments.
    let two = format!("{},{}", all_ids[0], mine);
    let v = fetch(
        &app,
        &format!("/open311/v2/requests.json?service_request_id={two}&status=closed&service_code=noise&start_date=2010-01-01T00:00:00Z"),
    )
    .await
    .json();
    assert_eq!(
        sorted(ids_of(&v)),
        sorted(vec![all_ids[0].clone(), mine.clone()])
    );

    // start_date / end_date
    let now = app.clock.now_ms();
    let v = fetch(
        &app,
        "/open311/v2/requests.json?start_date=2010-01-01T00:00:00Z&end_date=2010-02-01T00:00:00%2B08:00",
    )
    .await
    .json();
    assert!(v.as_array().unwrap().is_empty());
    let v = fetch(
        &app,
        &format!(
            "/open311/v2/requests.json?start_date={}&end_date={}",
            w3c(now - 10 * MINUTE).replace('+', "%2B"),
            w3c(now + MINUTE).replace('+', "%2B")
        ),
    )
    .await
    .json();
    assert!(ids_of(&v).contains(&mine));
    assert!(
        !ids_of(&v).iter().any(|i| fh_ids.contains(i)),
        "the demo's older ones are out"
    );
    // An unencoded '+' (decoded to a space) still reads as the offset.
    let v = fetch(
        &app,
        &format!(
            "/open311/v2/requests.json?start_date={}",
            w3c(now - 10 * MINUTE)
        ),
    )
    .await
    .json();
    assert!(ids_of(&v).contains(&mine));

    // jurisdiction_id: a compound or a community, by code, id or path.
    let v = fetch(
        &app,
        &format!("/open311/v2/requests.json?jurisdiction_id={FH}"),
    )
    .await
    .json();
    assert_eq!(sorted(ids_of(&v)), sorted(fh_ids.clone()));
    for j in [
        "XC".to_string(),
        "141102003001".to_string(),
        app.node_id(ZHANQIAN).await,
    ] {
        let v = fetch(
            &app,
            &format!("/open311/v2/requests.json?jurisdiction_id={j}"),
        )
        .await
        .json();
        let ids = ids_of(&v);
        assert!(ids.contains(&mine), "{j}");
        assert!(!ids.iter().any(|i| fh_ids.contains(i)), "{j}");
    }

    // The same filters in XML.
    let a = fetch(
        &app,
        "/open311/v2/requests.xml?status=open&service_code=leak",
    )
    .await;
    let rows = a.xml("service_requests", "request");
    assert!(rows
        .iter()
        .any(|r| r["service_request_id"].as_deref() == Some(mine.as_str())));
    assert!(rows
        .iter()
        .all(|r| r["status"].as_deref() == Some("open")
            && r["service_code"].as_deref() == Some("leak")));
}

#[tokio::test]
async fn empty_parameters_are_absent() {
    let app = spawn_app().await;
    let plain = fetch(&app, "/open311/v2/requests.json").await.json();
    let empty = fetch(
        &app,
        "/open311/v2/requests.json?status=&service_code=&start_date=&end_date=&service_request_id=&jurisdiction_id=",
    )
    .await
    .json();
    assert_eq!(plain, empty);
    // An empty jurisdiction_id on a POST falls back to the key's place (a
    // district), where a request without account_id cannot land.
    let a = post(
        &app,
        "json",
        &[
            ("api_key", KEY),
            ("jurisdiction_id", ""),
            ("service_code", "leak"),
            ("description", "楼道顶棚漏水"),
        ],
    )
    .await;
    a.assert_fault("json", 400);
    assert!(a.body.contains("compound"), "{}", a.body);
}

#[tokio::test]
async fn the_default_window_is_90_days_and_the_limit_1000() {
    let app = spawn_app().await;
    let seeded_at = app.clock.now_ms();
    app.clock.advance_ms(91 * DAY);
    let v = fetch(&app, "/open311/v2/requests.json").await.json();
    assert!(v.as_array().unwrap().is_empty(), "older than 90 days: {v}");
    let v = fetch(
        &app,
        &format!(
            "/open311/v2/requests.json?start_date={}",
            w3c(seeded_at - DAY).replace('+', "%2B")
        ),
    )
    .await
    .json();
    assert!(
        !v.as_array().unwrap().is_empty(),
        "a start_date reaches back"
    );
    let a = fetch(
        &app,
        "/open311/v2/requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-04-02T00:00:00Z",
    )
    .await;
    a.assert_fault("json", 400);

    // 1001 demands: the list stops at 1000, the newest.
    let home = org::store::get_node_by_path(&app.ctx.db, XC_101)
        .await
        .unwrap()
        .unwrap();
    let creator = user_id(&app, "13800000001").await;
    let now = app.clock.now_ms();
    let mut tx = app.ctx.db.begin().await.unwrap();
    let new = cases::model::validate_new(
        "garbage",
        "垃圾没人清",
        "楼下垃圾桶满了没人清运",
        None,
        false,
    )
    .unwrap();
    for i in 0..1001 {
        cases::store::insert_demand(
            &mut tx,
            &new,
            &cases::store::Filing {
                urgency: "normal",
                dispatch_deadline: now + DAY,
                household_id: &home.id,
                household_path: &home.org_path,
                building_id: None,
                channel: "web",
                reporter_user_id: Some(&creator),
                created_by: &creator,
            },
            now - i,
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let v = fetch(&app, "/open311/v2/requests.json").await.json();
    let items = v.as_array().unwrap();
    assert_eq!(items.len(), 1000);
    let xml = fetch(&app, "/open311/v2/requests.xml")
        .await
        .xml("service_requests", "request");
    assert_eq!(xml.len(), 1000);
}

#[tokio::test]
async fn one_request_and_its_token() {
    let app = spawn_app().await;
    let id = file_leak_at_xc(&app, "1号楼东侧楼道顶棚漏水").await;
    let a = fetch(&app, &format!("/open311/v2/requests/{id}.json")).await;
    assert_eq!(a.status, StatusCode::OK);
    let v = a.json();
    let r = &v.as_array().unwrap()[0];
    assert_eq!(r["service_request_id"], id);
    assert_eq!(r["status"], "open");
    assert_eq!(r["status_notes"], "已提交,等待受理");
    assert_eq!(r["service_code"], "leak");
    assert_eq!(r["service_name"], "漏水");
    assert_eq!(r["description"], "1号楼东侧楼道顶棚漏水");
    assert_eq!(r["agency_responsible"], "新城壹号小区");
    assert_eq!(r["address"], "1号楼, 新城壹号小区");
    assert!(r["service_notice"].as_str().unwrap().contains("漏水"));
    assert!(
        r["expected_datetime"].is_null(),
        "no feedback deadline before dispatch"
    );
    assert!(r["zipcode"].is_null());
    assert!(r.get("lat").is_none() && r.get("long").is_none());
    let requested = r["requested_datetime"].as_str().unwrap();
    assert!(requested.ends_with("+08:00"));
    assert_eq!(
        kernel::clock::from_rfc3339(requested),
        Some(app.clock.now_ms() / 1000 * 1000)
    );

    // After dispatch the expected time is the feedback deadline.
    let community = app.token("community-zq").await;
    act(&app, &community, &id, json!({"action": "accept"})).await;
    let d = act(&app, &community, &id, json!({"action": "dispatch"})).await;
    let a = fetch(&app, &format!("/open311/v2/requests/{id}.xml")).await;
    let rows = a.xml("service_requests", "request");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0]["expected_datetime"].as_deref(),
        d["feedback_deadline"].as_str()
    );
    assert_eq!(rows[0]["status_notes"].as_deref(), Some("已派遣处置人员"));
    assert_eq!(rows[0]["zipcode"], None);

    // Scoped by the jurisdiction like the list.
    let a = fetch(
        &app,
        &format!("/open311/v2/requests/{id}.json?jurisdiction_id=FH"),
    )
    .await;
    a.assert_fault("json", 404);

    // Realtime: a request's token is its id.
    let v = fetch(&app, &format!("/open311/v2/tokens/{id}.json"))
        .await
        .json();
    assert_eq!(v, json!([{"service_request_id": id, "token": id}]));
    let rows = fetch(&app, &format!("/open311/v2/tokens/{id}.xml"))
        .await
        .xml("service_requests", "request");
    assert_eq!(rows[0]["token"].as_deref(), Some(id.as_str()));
}

#[tokio::test]
async fn status_changes_follow_the_workflow() {
    let app = spawn_app().await;
    let start = w3c(app.clock.now_ms() - MINUTE).replace('+', "%2B");
    let id = file_leak_at_xc(&app, "1号楼东侧楼道顶棚漏水").await;
    let community = app.token("community-zq").await;
    let butler = app.token("butler-xc").await;
    let mut times = Vec::new();
    for (who, body) in [
        (&community, json!({"action": "accept"})),
        (&community, json!({"action": "dispatch"})),
        (&butler, json!({"action": "start"})),
        (
            &butler,
            json!({"action": "comment", "note": "已联系樊一新,明天上门"}),
        ),
        (
            &butler,
            json!({"action": "resolve", "note": "已更换破裂的水管"}),
        ),
        (&community, json!({"action": "verify_pass"})),
    ] {
        app.clock.advance_ms(5 * MINUTE);
        times.push(app.clock.now_ms());
        act(&app, who, &id, body).await;
    }
    let v = fetch(
        &app,
        &format!("/open311/v2/servicerequestupdates.json?start_date={start}"),
    )
    .await
    .json();
    let mine: Vec<&Value> = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["service_request_id"] == id)
        .collect();
    // Five changes of state (the comment changes none).
    let statuses: Vec<&str> = mine.iter().map(|u| u["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["open", "open", "open", "closed", "closed"]);
    let notes: Vec<&str> = mine
        .iter()
        .map(|u| u["description"].as_str().unwrap())
        .collect();
    assert_eq!(
        notes,
        [
            "已受理,等待派遣",
            "已派遣处置人员",
            "正在处理",
            "已办理完毕,等待核验",
            "已办结"
        ]
    );
    let mut ids: Vec<&str> = mine
        .iter()
        .map(|u| u["update_id"].as_str().unwrap())
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 5);
    for u in &mine {
        assert!(kernel::clock::from_rfc3339(u["updated_datetime"].as_str().unwrap()).is_some());
        assert!(u["media_url"].is_null());
    }
    assert!(
        !v.to_string().contains("樊一新"),
        "staff notes are not published"
    );

    let rows = fetch(
        &app,
        &format!("/open311/v2/servicerequestupdates.xml?start_date={start}"),
    )
    .await
    .xml("service_request_updates", "request_update");
    let mine: Vec<&Record> = rows
        .iter()
        .filter(|u| u["service_request_id"].as_deref() == Some(id.as_str()))
        .collect();
    assert_eq!(mine.len(), 5);
    assert_eq!(mine[4]["status"].as_deref(), Some("closed"));

    // Only what changed after start_date.
    let later = w3c(times[5] - 1000).replace('+', "%2B");
    let v = fetch(
        &app,
        &format!("/open311/v2/servicerequestupdates.json?start_date={later}"),
    )
    .await
    .json();
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");

    // The closed request dates from its closing, not from later touches.
    let r = fetch(&app, &format!("/open311/v2/requests/{id}.json"))
        .await
        .json();
    assert_eq!(r[0]["status"], "closed");
    assert_eq!(r[0]["status_notes"], "已办结");
    assert_eq!(
        kernel::clock::from_rfc3339(r[0]["updated_datetime"].as_str().unwrap()),
        Some(times[5] / 1000 * 1000)
    );

    let a = fetch(
        &app,
        "/open311/v2/servicerequestupdates.json?start_date=soon",
    )
    .await;
    a.assert_fault("json", 400);
    let a = fetch(
        &app,
        "/open311/v2/servicerequestupdates.xml?jurisdiction_id=nowhere",
    )
    .await;
    a.assert_fault("xml", 404);
}

#[tokio::test]
async fn no_resident_in_any_public_output() {
    let app = spawn_app().await;
    // A resident who writes their own details into the text…
    let id = file(
        &app,
        &[
            ("api_key", KEY),
            ("service_code", "leak"),
            ("account_id", "13800000001"),
            (
                "description",
                "我是樊一新,家住1单元101室,卫生间漏水,电话13800000001,樊晓燕也在家",
            ),
        ],
    )
    .await;
    // …and an anonymous demand filed on the web.
    let li = app.token("13800000002").await;
    let (s, anon) = app
        .post(
            "/api/v1/demands",
            &li,
            json!({"category": "noise", "title": "夜间噪音", "description": "楼上夜里很吵,请管家协调", "anonymous": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let anon_id = anon["id"].as_str().unwrap().to_string();

    // Staff still read what was written.
    let (_, d) = app
        .get(
            &format!("/api/v1/demands/{id}"),
            &app.token("butler-xc").await,
        )
        .await;
    assert!(d["description"].as_str().unwrap().contains("13800000001"));

    let forbidden = [
        "樊一新",
        "樊晓燕",
        "李秀兰",
        "王勇",
        "刘婷",
        "13800000001",
        "13800000002",
        "13800000003",
        "13900000011",
        "14110219850312001X",
        "101室",
        "102室",
        "1单元",
        "/U1/",
        "/141100/",
        "household",
        "reporter",
        "account",
    ];
    let since = w3c(app.clock.now_ms() - DAY).replace('+', "%2B");
    let mut outputs = Vec::new();
    for fmt in FORMATS {
        for path in [
            format!("/open311/v2/requests.{fmt}"),
            format!("/open311/v2/requests/{id}.{fmt}"),
            format!("/open311/v2/requests/{anon_id}.{fmt}"),
            format!("/open311/v2/tokens/{id}.{fmt}"),
            format!("/open311/v2/servicerequestupdates.{fmt}?start_date={since}"),
            format!("/open311/v2/requests.{fmt}?jurisdiction_id=XC&status=open"),
        ] {
            let a = fetch(&app, &path).await;
            assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.body);
            outputs.push((path, a.body));
        }
    }
    for (path, body) in &outputs {
        for f in forbidden {
            assert!(!body.contains(f), "{path} shows {f}: {body}");
        }
    }

    let v = fetch(&app, &format!("/open311/v2/requests/{id}.json"))
        .await
        .json();
    assert_eq!(
        v[0]["address"], "1号楼, 新城壹号小区",
        "building and compound only"
    );
    assert!(v[0]["description"].as_str().unwrap().contains("卫生间漏水"));
    let v = fetch(&app, &format!("/open311/v2/requests/{anon_id}.json"))
        .await
        .json();
    assert_eq!(
        v[0]["address"], "新城壹号小区",
        "anonymous: not even the building"
    );
    assert_eq!(v[0]["agency_responsible"], "新城壹号小区");
    // Households, buildings and entrances are never a jurisdiction.
    for place in [XC_101, "/141100/141102/141102003/141102003001/XC/B1/"] {
        let a = fetch(
            &app,
            &format!("/open311/v2/requests.json?jurisdiction_id={place}"),
        )
        .await;
        a.assert_fault("json", 404);
    }
    let a = fetch(
        &app,
        &format!(
            "/open311/v2/requests.xml?jurisdiction_id={}",
            app.node_id(XC_101).await
        ),
    )
    .await;
    a.assert_fault("xml", 404);
}

#[tokio::test]
async fn every_error_in_the_specs_shape() {
    let app = spawn_app().await;
    let unknown = kernel::id::new_id();
    let base = |extra: &[(&'static str, &'static str)]| {
        let mut f: Vec<(&'static str, &'static str)> = vec![
            ("jurisdiction_id", "XC"),
            ("service_code", "leak"),
            ("description", "楼道顶棚漏水"),
        ];
        for (k, v) in extra {
            f.retain(|(x, _)| x != k);
            f.push((k, v));
        }
        f.retain(|(_, v)| *v != "-");
        f
    };
    for fmt in FORMATS {
        // POST Service Request
        for (form, want, says) in [
            (base(&[]), 403, "api_key"),
            (base(&[("api_key", "not-a-key")]), 403, "api_key"),
            (
                base(&[("api_key", KEY), ("service_code", "no_such")]),
                400,
                "service_code",
            ),
            (
                base(&[("api_key", KEY), ("service_code", "-")]),
                400,
                "service_code",
            ),
            (
                base(&[("api_key", KEY), ("description", "-")]),
                400,
                "description",
            ),
            (
                base(&[("api_key", KEY), ("description", "漏")]),
                400,
                "description",
            ),
            (
                base(&[("api_key", KEY), ("jurisdiction_id", "nowhere")]),
                404,
                "jurisdiction_id",
            ),
            (
                base(&[("api_key", KEY), ("jurisdiction_id", "141102003001")]),
                400,
                "compound",
            ),
            (
                base(&[("api_key", KEY), ("jurisdiction_id", "141125104201")]),
                403,
                "jurisdiction_id",
            ),
            (
                base(&[("api_key", KEY), ("lat", "91"), ("long", "0")]),
                400,
                "lat",
            ),
            (
                base(&[("api_key", KEY), ("address_id", "x")]),
                400,
                "address_id",
            ),
        ] {
            let a = post(&app, fmt, &form).await;
            a.assert_fault(fmt, want);
            assert!(a.body.contains(says), "{form:?}: {}", a.body);
        }
        // Several problems at once are several errors.
        let a = post(&app, fmt, &[("api_key", KEY), ("jurisdiction_id", "XC")]).await;
        a.assert_fault(fmt, 400);
        assert!(a.body.contains("service_code") && a.body.contains("description"));
        // Not form-encoded.
        let r = app
            .client
            .post(app.url(&format!("/open311/v2/requests.{fmt}")))
            .json(&json!({"api_key": KEY}))
            .send()
            .await
            .unwrap();
        answer(r).await.assert_fault(fmt, 400);

        // GET errors
        for (path, want) in [
            (format!("/open311/v2/services/no_such.{fmt}"), 404),
            (format!("/open311/v2/services.{fmt}?jurisdiction_id=nowhere"), 404),
            (format!("/open311/v2/services/leak.{fmt}?jurisdiction_id=nowhere"), 404),
            (format!("/open311/v2/requests.{fmt}?jurisdiction_id=nowhere"), 404),
            (format!("/open311/v2/requests.{fmt}?start_date=yesterday"), 400),
            (format!("/open311/v2/requests.{fmt}?end_date=2026-01-01T00:00:00"), 400),
            (format!("/open311/v2/requests.{fmt}?status=fixed"), 400),
            (
                format!("/open311/v2/requests.{fmt}?start_date=2026-03-01T00:00:00Z&end_date=2026-02-01T00:00:00Z"),
                400,
            ),
            (format!("/open311/v2/requests/{unknown}.{fmt}"), 404),
            (format!("/open311/v2/requests/not-an-id.{fmt}"), 404),
            (format!("/open311/v2/tokens/{unknown}.{fmt}"), 404),
            (format!("/open311/v2/servicerequestupdates.{fmt}?end_date=x"), 400),
            (format!("/open311/v2/nothing.{fmt}"), 404),
            (format!("/open311/v2/requests/a/b.{fmt}"), 404),
        ] {
            fetch(&app, &path).await.assert_fault(fmt, want);
        }
        // A wrong method.
        let r = app
            .client
            .delete(app.url(&format!("/open311/v2/requests.{fmt}")))
            .send()
            .await
            .unwrap();
        let a = answer(r).await;
        a.assert_fault(fmt, 405);
    }
    // A wrong (or no) format extension: 404, in the format the client accepts.
    for path in [
        "/open311/v2/requests.html",
        "/open311/v2/requests",
        "/open311/v2/services/leak.yaml",
        "/open311/v2/discovery.JSON",
        "/open311/v2/tokens/x.txt",
    ] {
        fetch_with(&app, path, Some("application/json"))
            .await
            .assert_fault("json", 404);
        fetch_with(&app, path, Some("text/xml"))
            .await
            .assert_fault("xml", 404);
        fetch(&app, path).await.assert_fault("xml", 404);
    }
}

#[tokio::test]
async fn an_integration_files_under_the_intake_limit() {
    let app = spawn_configured(true, |c| c.intake_rate_per_minute = 3).await;
    let form = [
        ("api_key", KEY),
        ("jurisdiction_id", "XC"),
        ("service_code", "garbage"),
        ("description", "2号楼门口垃圾桶满了"),
    ];
    let mut filed = 0;
    let refused = loop {
        let a = post(&app, "xml", &form).await;
        if a.status == StatusCode::OK {
            filed += 1;
            assert!(filed <= 10, "no limit reached");
            continue;
        }
        break a;
    };
    assert_eq!(filed, 3, "the intake limit, counted per integration");
    refused.assert_fault("xml", 429);
    let wait: i64 = refused.retry_after.as_deref().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait));
    // A minute later the integration may file again.
    app.clock.advance_ms(MINUTE);
    assert_eq!(post(&app, "json", &form).await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_demo_key_is_there_on_every_demo_start() {
    let app = spawn_app().await;
    assert!(open311::store::key_by_secret(&app.ctx.db, KEY)
        .await
        .unwrap()
        .is_some_and(|k| k.org_path.as_str() == "/141100/141102/"));
    // A demo database seeded before Open311 existed gets it on its next start.
    sqlx::query("DELETE FROM open311_keys")
        .execute(app.ctx.db.writer())
        .await
        .unwrap();
    assert!(!app::demo::seed_if_empty(&app.ctx).await.unwrap());
    assert!(!app::demo::seed_if_empty(&app.ctx).await.unwrap());
    assert_eq!(app.count("open311_keys").await, 1);
    file_leak_at_xc(&app, "1号楼东侧楼道顶棚漏水").await;
}
