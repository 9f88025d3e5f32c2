//! The residents import as a job with progress: a real workbook uploaded
//! through the page (multipart, CSRF) and through the API, the status
//! polled to the end; a file with bad rows writes nothing and lists every
//! bad cell by row and column (also as CSV); a good file imports and says
//! how much. Only staff who may import into the compound may start or see a
//! job; others get 403/404.

use crate::helpers::*;
use crate::pages::{form_csrf, location, logged_in, page};
use reqwest::{Client, StatusCode};
use serde_json::Value;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const FH: &str = "/141100/141102/141102002/141102002003/FH/";

/// Polls the job over the API (the session cookie) until it has finished.
async fn finished(app: &TestApp, c: &Client, id: &str) -> Value {
    for _ in 0..400 {
        let r = c
            .get(app.url(&format!("/api/v1/org/import/jobs/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.unwrap();
        if v["state"] != "running" {
            return v;
        }
        assert!(v["done"].as_u64() <= v["total"].as_u64().or(Some(u64::MAX)));
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the import job {id} never finished");
}

async fn upload(app: &TestApp, c: &Client, xc: &str, wb: Vec<u8>) -> reqwest::Response {
    let path = format!("/org/{xc}/import");
    let csrf = form_csrf(app, c, &path).await;
    let form = reqwest::multipart::Form::new().text("csrf", csrf).part(
        "file",
        reqwest::multipart::Part::bytes(wb)
            .file_name("住户.xlsx")
            .mime_str(XLSX)
            .unwrap(),
    );
    c.post(app.url(&path)).multipart(form).send().await.unwrap()
}

#[tokio::test]
async fn a_workbook_with_bad_rows_is_listed_row_by_row_and_writes_nothing() {
    let app = spawn_app().await;
    let zq = logged_in(&app, "community-zq").await;
    let xc = app.node_id(XC).await;
    // The node page links to the import page, which offers the form.
    let (_, html) = page(&app, &zq, &format!("/org/{xc}")).await;
    assert!(html.contains(&format!("href=\"/org/{xc}/import\"")));
    let (s, html) = page(&app, &zq, &format!("/org/{xc}/import")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("enctype=\"multipart/form-data\"") && html.contains("name=\"file\""));

    let (nodes, residents) = (app.count("org_nodes").await, app.count("residents").await);
    let wb = org::xlsx::template_workbook(&[
        ["5", "1", "101", "赵大明", "13700000501", "", "业主", "户主"],
        ["5", "1", "102", "", "13700000502", "", "业主", ""],
        ["5", "1", "103", "孙平", "1370000", "", "", ""],
        ["5", "1", "104", "李四", "13700000504", "", "业主", ""],
    ]);
    let r = upload(&app, &zq, &xc, wb).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "to the job's page");
    let job_path = location(&r);
    assert!(job_path.starts_with("/org/import/"), "{job_path}");
    let id = job_path.rsplit('/').next().unwrap().to_string();

    let v = finished(&app, &zq, &id).await;
    assert_eq!(v["state"], "rejected", "{v}");
    assert_eq!(v["imported_residents"], 0);
    let errors = v["errors"].as_array().unwrap();
    let at = |row: u64, col: &str| {
        errors.iter().any(|e| {
            e["row"] == row && e["column"] == col && !e["message"].as_str().unwrap().is_empty()
        })
    };
    assert!(at(3, "姓名"), "row 3 has no name: {v}");
    assert!(at(4, "手机号"), "row 4's phone is short: {v}");
    assert_eq!(errors.len(), 2, "only the bad cells: {v}");
    assert_eq!(app.count("org_nodes").await, nodes, "nothing written");
    assert_eq!(app.count("residents").await, residents);

    // The page lists them by row and column, and offers the CSV.
    let (s, html) = page(&app, &zq, &job_path).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("data-import-state=\"rejected\""));
    assert!(
        html.contains("<td class=\"num\">3</td><td translate=\"no\" lang=\"zh-CN\">姓名</td>"),
        "{html}"
    );
    assert!(
        html.contains("<td class=\"num\">4</td><td translate=\"no\" lang=\"zh-CN\">手机号</td>")
    );
    assert!(
        !html.contains("http-equiv=\"refresh\""),
        "a finished job stops refreshing"
    );
    let r = zq
        .get(app.url(&format!("{job_path}/errors.csv")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let csv = r.text().await.unwrap();
    assert!(csv.starts_with("\u{feff}行,列,问题\r\n"));
    assert!(csv.contains("\r\n3,\"姓名\",") && csv.contains("\r\n4,\"手机号\","));

    // Someone who may not import into the compound sees neither job nor form.
    let butler = logged_in(&app, "butler-xc").await;
    let (s, _) = page(&app, &butler, &job_path).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let property = logged_in(&app, "property-xc").await;
    let (s, _) = page(&app, &property, &format!("/org/{xc}/import")).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "reads the registry, may not import"
    );
    let (s, _) = page(&app, &property, &job_path).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let other = logged_in(&app, "property-fh").await;
    let (s, _) = page(&app, &other, &format!("/org/{xc}/import")).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "another compound's staff");
    let r = butler
        .get(app.url(&format!("/api/v1/org/import/jobs/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Without the CSRF token nothing starts.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(org::xlsx::template_workbook(&[])).file_name("a.xlsx"),
    );
    let r = zq
        .post(app.url(&format!("/org/{xc}/import")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_good_workbook_imports_with_progress_to_a_summary() {
    let app = spawn_app().await;
    let zq = logged_in(&app, "community-zq").await;
    let xc = app.node_id(XC).await;
    let residents = app.count("residents").await;
    let rows: Vec<[String; 8]> = (1..=60)
        .map(|i| {
            [
                "6".into(),
                "1".into(),
                format!("{}", 100 + i),
                format!("住户{i}"),
                format!("137{:08}", 600 + i),
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
    let r = upload(&app, &zq, &xc, org::xlsx::template_workbook(&rows)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let job_path = location(&r);
    let id = job_path.rsplit('/').next().unwrap().to_string();
    let v = finished(&app, &zq, &id).await;
    assert_eq!(v["state"], "done", "{v}");
    assert_eq!(v["total"], 60);
    assert_eq!(v["done"], 60);
    assert_eq!(v["imported_residents"], 60);
    assert_eq!(v["created_nodes"], 62, "6号楼, its 1单元 and 60 households");
    assert_eq!(v["errors"], serde_json::json!([]));
    assert_eq!(v["compound_id"], xc.as_str());
    assert!(v["finished_at"].is_string());
    assert_eq!(app.count("residents").await, residents + 60);
    assert!(app
        .audit_actions()
        .await
        .contains(&"residents_imported".to_string()));
    let (s, html) = page(&app, &zq, &job_path).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("data-import-state=\"done\"") && html.contains("导入完成"));
    assert!(html.contains("<dd class=\"num\" id=\"import-imported\">60</dd>"));

    // The API: a raw body with ?org=, 202 and the job; only into compounds.
    let tok = app.token("community-zq").await;
    let wb = org::xlsx::template_workbook(&[["7", "", "701", "钱七", "", "", "", ""]]);
    let r = app
        .client
        .post(app.url(&format!("/api/v1/org/import/jobs?org={xc}")))
        .bearer_auth(&tok)
        .header("content-type", XLSX)
        .body(wb.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let started: Value = r.json().await.unwrap();
    let id = started["id"].as_str().unwrap().to_string();
    let v = loop {
        let (s, v) = app
            .get(&format!("/api/v1/org/import/jobs/{id}"), &tok)
            .await;
        assert_eq!(s, StatusCode::OK);
        if v["state"] != "running" {
            break v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    };
    assert_eq!(v["state"], "done", "{v}");
    assert_eq!(v["imported_residents"], 1);
    let fh = app.node_id(FH).await;
    for (org, want) in [
        (fh.as_str(), StatusCode::NOT_FOUND),
        ("nope", StatusCode::NOT_FOUND),
    ] {
        let r = app
            .client
            .post(app.url(&format!("/api/v1/org/import/jobs?org={org}")))
            .bearer_auth(&tok)
            .header("content-type", XLSX)
            .body(wb.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), want, "{org}");
    }
    let building = app.node_id(&format!("{XC}B1/")).await;
    let r = app
        .client
        .post(app.url(&format!("/api/v1/org/import/jobs?org={building}")))
        .bearer_auth(&tok)
        .header("content-type", XLSX)
        .body(wb)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "residents go into a compound"
    );
}
