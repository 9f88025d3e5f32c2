//! `/api/v1/org`: the tree and its paging, node CRUD in scope, residents
//! (always masked), grids, and the xlsx import (all or nothing) and export.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashSet;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Every maximal run of exactly 11 ASCII digits that looks like a mainland
/// mobile number and is not part of a longer alphanumeric token (so UUID
/// segments, which are 4, 8 or 12 characters, never match).
fn bare_phones(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let before_ok = start == 0 || !b[start - 1].is_ascii_alphanumeric();
            let after_ok = i == b.len() || !b[i].is_ascii_alphanumeric();
            let run = &text[start..i];
            if run.len() == 11
                && before_ok
                && after_ok
                && run.starts_with('1')
                && (b'3'..=b'9').contains(&run.as_bytes()[1])
            {
                out.push(run.to_string());
            }
        } else {
            i += 1;
        }
    }
    out
}

/// Walks `/api/v1/org/tree?{query}` page by page; returns the items and the
/// number of pages, checking each page's size.
async fn walk_tree(app: &TestApp, tok: &str, query: &str, limit: usize) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!("/api/v1/org/tree?{query}&limit={limit}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (s, v) = app.get(&path, tok).await;
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
        let page = v["items"].as_array().unwrap().clone();
        assert!(page.len() <= limit, "page larger than limit: {v}");
        pages += 1;
        assert!(pages <= 200, "paging never ends");
        items.extend(page);
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    (items, pages)
}

fn paths(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|n| n["org_path"].as_str().unwrap().to_string())
        .collect()
}

fn xlsx_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    use calamine::Reader;
    let mut wb = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes.to_vec()))
        .expect("export is a readable workbook");
    let range = wb
        .worksheet_range_at(0)
        .expect("a first sheet")
        .expect("readable sheet");
    range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

async fn import(
    app: &TestApp,
    tok: &str,
    org: &str,
    ct: &str,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    let r = app
        .client
        .post(app.url(&format!("/api/v1/org/import?org={org}")))
        .bearer_auth(tok)
        .header(reqwest::header::CONTENT_TYPE, ct)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn export(app: &TestApp, tok: &str, org: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/api/v1/org/export.xlsx?org={org}")))
        .bearer_auth(tok)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn tree_is_the_callers_subtree_only() {
    let app = spawn_app().await;
    let tok = app.token("community-zq").await;
    let (s, v) = app.get("/api/v1/org/tree?limit=100", &tok).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["next_cursor"].is_null(), "{v}");
    let all = paths(v["items"].as_array().unwrap());
    // 站前社区, 新城壹号小区, 2 buildings, 2 entrances, 6 households.
    assert_eq!(all.len(), 12, "{all:?}");
    assert_eq!(all[0], ZHANQIAN, "the root of the scope comes first");
    assert!(all.iter().all(|p| p.starts_with(ZHANQIAN)), "{all:?}");
    assert!(all.contains(&XC.to_string()) && all.contains(&XC_101.to_string()));
    assert!(all.contains(&XC2_101.to_string()));
    assert!(!all.iter().any(|p| p.starts_with(FH)), "FH leaked: {all:?}");
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted, "tree is in path order");
    let xc = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["org_path"] == XC)
        .unwrap();
    assert_eq!(xc["kind"], "compound");
    assert_eq!(xc["kind_label"], "小区");
    assert_eq!(xc["name"], "新城壹号小区");
    assert_eq!(xc["id"], app.node_id(XC).await);

    // A resident's tree is their own household only.
    let res = app.token("13800000001").await;
    let (s, v) = app.get("/api/v1/org/tree", &res).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        paths(v["items"].as_array().unwrap()),
        vec![XC_101.to_string()]
    );
}

#[tokio::test]
async fn tree_pages_without_duplicates_or_gaps() {
    let app = spawn_app().await;
    let tok = app.token("community-zq").await;
    let (s, v) = app.get("/api/v1/org/tree?limit=100", &tok).await;
    assert_eq!(s, StatusCode::OK);
    let full = paths(v["items"].as_array().unwrap());
    for limit in [1usize, 5, 11, 12] {
        let (items, pages) = walk_tree(&app, &tok, "", limit).await;
        let got = paths(&items);
        assert_eq!(got, full, "limit {limit}");
        let unique: HashSet<_> = got.iter().collect();
        assert_eq!(unique.len(), got.len(), "duplicates at limit {limit}");
        assert_eq!(pages, full.len().div_ceil(limit), "pages at limit {limit}");
    }
    // Default limit is 20: all 12 fit on one page.
    let (_, v) = app.get("/api/v1/org/tree", &tok).await;
    assert_eq!(v["items"].as_array().unwrap().len(), 12);
    assert!(v["next_cursor"].is_null());
}

#[tokio::test]
async fn tree_depth_limits_levels_and_pages_too() {
    let app = spawn_app().await;
    let tok = app.token("community-zq").await;
    let (s, v) = app.get("/api/v1/org/tree?depth=0", &tok).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        paths(v["items"].as_array().unwrap()),
        vec![ZHANQIAN.to_string()]
    );

    let (s, v) = app.get("/api/v1/org/tree?depth=1", &tok).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        paths(v["items"].as_array().unwrap()),
        vec![ZHANQIAN.to_string(), XC.to_string()]
    );

    // depth=2 paged one by one: 站前社区, XC, B1, B2 and nothing deeper.
    let (items, pages) = walk_tree(&app, &tok, "depth=2", 1).await;
    assert_eq!(
        paths(&items),
        vec![
            ZHANQIAN.to_string(),
            XC.to_string(),
            format!("{XC}B1/"),
            format!("{XC}B2/")
        ]
    );
    assert_eq!(pages, 4);

    // root= narrows to a visible node; depth counts from it.
    let xc = app.node_id(XC).await;
    let (s, v) = app
        .get(&format!("/api/v1/org/tree?root={xc}&depth=1"), &tok)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        paths(v["items"].as_array().unwrap()),
        vec![XC.to_string(), format!("{XC}B1/"), format!("{XC}B2/")]
    );
    let fh = app.node_id(FH).await;
    let (s, v) = app.get(&format!("/api/v1/org/tree?root={fh}"), &tok).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(v["code"], "not_found");

    for bad in ["11", "-1", "abc"] {
        let (s, v) = app
            .get(&format!("/api/v1/org/tree?depth={bad}"), &tok)
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "depth={bad}: {v}");
        assert!(v["fields"]["depth"].is_array(), "{v}");
    }
    for bad in ["limit=0", "limit=101", "cursor=!!!"] {
        let (s, v) = app.get(&format!("/api/v1/org/tree?{bad}"), &tok).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {v}");
    }
}

#[tokio::test]
async fn node_detail_has_ancestors_and_children() {
    let app = spawn_app().await;
    let tok = app.token("community-zq").await;
    let xc = app.node_id(XC).await;
    let zq = app.node_id(ZHANQIAN).await;
    let (s, v) = app.get(&format!("/api/v1/org/nodes/{xc}"), &tok).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["id"], xc);
    assert_eq!(v["name"], "新城壹号小区");
    assert_eq!(v["org_path"], XC);
    assert_eq!(v["parent_id"], zq);
    assert_eq!(v["version"], 1);
    let ancestors = v["ancestors"].as_array().unwrap();
    assert!(!ancestors.is_empty());
    // Top-down, each the parent of the next, ending with the direct parent.
    let last = ancestors.last().unwrap();
    assert_eq!(last["id"], zq);
    assert_eq!(last["name"], "站前社区");
    for w in ancestors.windows(2) {
        assert_eq!(w[1]["parent_id"], w[0]["id"], "{w:?}");
        assert!(w[1]["depth"].as_u64() > w[0]["depth"].as_u64());
    }
    assert!(
        ancestors.iter().all(|a| a["id"] != xc),
        "self is not its own ancestor"
    );

    let (s, v) = app
        .get(&format!("/api/v1/org/nodes/{xc}/children"), &tok)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let kids: Vec<_> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["code"].as_str().unwrap().to_string(),
                k["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        kids,
        vec![
            ("B1".to_string(), "building".to_string()),
            ("B2".to_string(), "building".to_string())
        ]
    );

    // Out of scope and missing look alike.
    let fh = app.node_id(FH).await;
    for id in [
        fh.as_str(),
        "00000000-0000-7000-8000-000000000000",
        "not-an-id",
    ] {
        let (s, v) = app.get(&format!("/api/v1/org/nodes/{id}"), &tok).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{id}: {v}");
        assert_eq!(v["code"], "not_found");
        let (s, _) = app
            .get(&format!("/api/v1/org/nodes/{id}/children"), &tok)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{id}");
    }
}

#[tokio::test]
async fn community_staff_create_nodes_in_scope() {
    let app = spawn_app().await;
    let tok = app.token("community-zq").await;
    let xc = app.node_id(XC).await;
    let nodes = app.count("org_nodes").await;

    let (s, v) = app
        .post(
            "/api/v1/org/nodes",
            &tok,
            json!({"parent_id": xc, "kind": "building", "code": "B9", "name": "9号楼"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["org_path"], format!("{XC}B9/"));
    assert_eq!(v["parent_id"], xc);
    assert_eq!(v["kind"], "building");
    assert_eq!(v["name"], "9号楼");
    assert_eq!(v["version"], 1);
    assert_eq!(app.count("org_nodes").await, nodes + 1);
    assert_eq!(
        app.audit_actions().await.last().unwrap(),
        "org_node_created"
    );
    let (s, got) = app
        .get(
            &format!("/api/v1/org/nodes/{}", v["id"].as_str().unwrap()),
            &tok,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got["name"], "9号楼");

    // Wrong kind under a compound.
    let audits = app.audit_actions().await.len();
    let (s, v) = app
        .post(
            "/api/v1/org/nodes",
            &tok,
            json!({"parent_id": xc, "kind": "household", "code": "999", "name": "999室"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["code"], "validation_failed");
    assert!(
        v["fields"]["kind"][0].as_str().unwrap().contains("小区"),
        "{v}"
    );

    // Same code under the same parent.
    let (s, v) = app
        .post(
            "/api/v1/org/nodes",
            &tok,
            json!({"parent_id": xc, "kind": "building", "code": "B1", "name": "又一个1号楼"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["code"], "code_taken");

    // A parent outside the caller's scope is reported as a bad parent_id.
    let fh = app.node_id(FH).await;
    let (s, v) = app
        .post(
            "/api/v1/org/nodes",
            &tok,
            json!({"parent_id": fh, "kind": "building", "code": "B8", "name": "8号楼"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["fields"]["parent_id"].is_array(), "{v}");
    assert!(
        org::store::get_node_by_path(&app.ctx.db, &format!("{FH}B8/"))
            .await
            .unwrap()
            .is_none()
    );

    assert_eq!(
        app.count("org_nodes").await,
        nodes + 1,
        "failed creates wrote nothing"
    );
    assert_eq!(
        app.audit_actions().await.len(),
        audits,
        "failed creates audited nothing"
    );
}

#[tokio::test]
async fn readers_may_not_write_the_registry() {
    let app = spawn_app().await;
    let butler = app.token("butler-xc").await;
    let xc = app.node_id(XC).await;
    let nodes = app.count("org_nodes").await;

    let (s, v) = app.get("/api/v1/org/tree?limit=100", &butler).await;
    assert_eq!(s, StatusCode::OK);
    let got = paths(v["items"].as_array().unwrap());
    assert_eq!(got[0], XC, "a butler's tree starts at the compound");
    assert_eq!(got.len(), 11);
    let (s, _) = app.get(&format!("/api/v1/org/nodes/{xc}"), &butler).await;
    assert_eq!(s, StatusCode::OK);

    let (s, v) = app
        .post(
            "/api/v1/org/nodes",
            &butler,
            json!({"parent_id": xc, "kind": "building", "code": "B9", "name": "9号楼"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["code"], "forbidden");
    let b1 = app.node_id(&format!("{XC}B1/")).await;
    let (s, _) = app
        .patch(
            &format!("/api/v1/org/nodes/{b1}"),
            &butler,
            json!({"name": "一号楼", "version": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .delete(&format!("/api/v1/org/nodes/{b1}"), &butler)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let h = app.node_id(XC_101).await;
    let (s, _) = app
        .post(
            &format!("/api/v1/org/households/{h}/residents"),
            &butler,
            json!({"name": "张三"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(app.count("org_nodes").await, nodes);
    assert_eq!(
        org::store::get_node(&app.ctx.db, &b1)
            .await
            .unwrap()
            .unwrap()
            .name,
        "1号楼"
    );
}

#[tokio::test]
async fn rename_checks_the_version() {
    let app = spawn_app().await;
    let tok = app.token("community-zq").await;
    let b1 = app.node_id(&format!("{XC}B1/")).await;
    let path = format!("/api/v1/org/nodes/{b1}");

    let (s, v) = app
        .patch(&path, &tok, json!({"name": "一号楼", "version": 1}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["name"], "一号楼");
    assert_eq!(v["version"], 2);
    assert_eq!(
        app.audit_actions().await.last().unwrap(),
        "org_node_renamed"
    );

    // The same (now stale) version again: conflict, nothing changes.
    let (s, v) = app
        .patch(&path, &tok, json!({"name": "壹号楼", "version": 1}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["code"], "version_conflict");
    let (_, v) = app.get(&path, &tok).await;
    assert_eq!(v["name"], "一号楼");
    assert_eq!(v["version"], 2);

    let (s, v) = app
        .patch(&path, &tok, json!({"name": "  ", "version": 2}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["fields"]["name"].is_array());

    let (s, v) = app
        .patch(&path, &tok, json!({"name": "壹号楼", "version": 2}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["version"], 3);
}

#[tokio::test]
async fn delete_only_leaves() {
    let app = spawn_app().await;
    let tok = app.token("community-zq").await;
    let xc = app.node_id(XC).await;
    let (s, v) = app
        .post(
            "/api/v1/org/nodes",
            &tok,
            json!({"parent_id": xc, "kind": "building", "code": "B9", "name": "9号楼"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let nodes = app.count("org_nodes").await;

    let (s, _) = app.delete(&format!("/api/v1/org/nodes/{id}"), &tok).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(app.count("org_nodes").await, nodes - 1);
    assert_eq!(
        app.audit_actions().await.last().unwrap(),
        "org_node_deleted"
    );
    let (s, _) = app.get(&format!("/api/v1/org/nodes/{id}"), &tok).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // A building with entrances and households under it.
    let b1 = app.node_id(&format!("{XC}B1/")).await;
    let (s, v) = app.delete(&format!("/api/v1/org/nodes/{b1}"), &tok).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["code"], "has_children");
    // A household with residents and demands.
    let h = app.node_id(XC_101).await;
    let (s, v) = app.delete(&format!("/api/v1/org/nodes/{h}"), &tok).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(
        app.count("org_nodes").await,
        nodes - 1,
        "refused deletes wrote nothing"
    );
}

#[tokio::test]
async fn household_residents_are_masked() {
    let app = spawn_app().await;
    let tok = app.token("community-zq").await;
    let h = app.node_id(XC_101).await;
    let r = app
        .client
        .get(app.url(&format!("/api/v1/org/households/{h}/residents")))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    assert!(bare_phones(&text).is_empty(), "unmasked phone in {text}");
    assert!(!text.contains("13800000001") && !text.contains("14110219850312001X"));
    let v: Value = serde_json::from_str(&text).unwrap();
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{v}");
    let fan = items
        .iter()
        .find(|r| r["name"] == "樊一新")
        .expect("樊一新");
    assert_eq!(fan["phone"], "138****0001");
    assert_eq!(fan["id_card"], "1411**********001X");
    assert_eq!(fan["masked"], true);
    let xy = items
        .iter()
        .find(|r| r["name"] == "樊晓燕")
        .expect("樊晓燕");
    assert_eq!(xy["phone"], "139****0011");

    // Another compound's staff cannot see them; nor can a neighbour.
    let fh = app.token("property-fh").await;
    let (s, _) = app
        .get(&format!("/api/v1/org/households/{h}/residents"), &fh)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let li = app.token("13800000002").await;
    let (s, _) = app
        .get(&format!("/api/v1/org/households/{h}/residents"), &li)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A node that is not a household has no residents list.
    let xc = app.node_id(XC).await;
    let (s, _) = app
        .get(&format!("/api/v1/org/households/{xc}/residents"), &tok)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn add_resident_validates_phone_and_id_card() {
    let app = spawn_app().await;
    let tok = app.token("community-zq").await;
    let h = app.node_id(XC_101).await;
    let path = format!("/api/v1/org/households/{h}/residents");
    let before = app.count("residents").await;

    let (s, v) = app
        .post(
            &path,
            &tok,
            json!({"name": "樊小新", "phone": "1380000001"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["fields"]["phone"][0].as_str().unwrap().contains("手机号"),
        "{v}"
    );

    // 14110219850312001X is valid; any other last character fails the check.
    let (s, v) = app
        .post(
            &path,
            &tok,
            json!({"name": "樊小新", "id_card": "141102198503120011"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["fields"]["id_card"][0].as_str().unwrap().contains("校验"),
        "{v}"
    );

    let (s, v) = app
        .post(
            &path,
            &tok,
            json!({"name": "", "phone": "12345678901", "id_card": "141102198503120011", "tenure": "房东"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    for f in ["name", "phone", "id_card", "tenure"] {
        assert!(v["fields"][f].is_array(), "{f}: {v}");
    }
    // An ID already registered to someone else.
    let (s, v) = app
        .post(
            &path,
            &tok,
            json!({"name": "冒名", "id_card": "14110219850312001X"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["fields"]["id_card"].is_array(), "{v}");
    assert_eq!(app.count("residents").await, before, "nothing written");

    let (s, v) = app
        .post(
            &path,
            &tok,
            json!({"name": "樊小新", "phone": "137 0000 1111", "tenure": "租户", "relation": "子女"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["phone"], "137****1111");
    assert_eq!(v["tenure"], "tenant");
    assert_eq!(v["masked"], true);
    assert_eq!(app.count("residents").await, before + 1);
    assert_eq!(
        app.audit_actions().await.last().unwrap(),
        "resident_created"
    );
}

#[tokio::test]
async fn grids_list_and_create() {
    let app = spawn_app().await;
    let tok = app.token("community-zq").await;
    let zq = app.node_id(ZHANQIAN).await;
    let (s, v) = app.get("/api/v1/org/grids", &tok).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let codes: Vec<_> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["code"].clone())
        .collect();
    assert_eq!(
        codes,
        vec![json!("141102003001001")],
        "only the caller's grids"
    );

    let (s, v) = app
        .post(
            "/api/v1/org/grids",
            &tok,
            json!({"org_id": zq, "number": 2, "name": "站前社区第二网格"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let code = v["code"].as_str().unwrap();
    assert_eq!(code, "141102003001002");
    assert_eq!(code.len(), 15);
    assert!(code.starts_with("141102003001"));
    assert_eq!(v["org_id"], zq);
    assert_eq!(app.audit_actions().await.last().unwrap(), "grid_created");

    let (_, v) = app.get("/api/v1/org/grids?limit=1", &tok).await;
    assert_eq!(v["items"][0]["code"], "141102003001001");
    let cursor = v["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_string();
    let (_, v) = app
        .get(&format!("/api/v1/org/grids?limit=1&cursor={cursor}"), &tok)
        .await;
    assert_eq!(v["items"][0]["code"], "141102003001002");
    assert!(v["next_cursor"].is_null());

    let grids = app.count("grids").await;
    let (s, v) = app
        .post(
            "/api/v1/org/grids",
            &tok,
            json!({"org_id": zq, "number": 1, "name": "重复"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["code"], "code_taken");
    for n in [0, 1000] {
        let (s, v) = app
            .post(
                "/api/v1/org/grids",
                &tok,
                json!({"org_id": zq, "number": n, "name": "网格"}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{n}: {v}");
        assert!(v["fields"]["number"].is_array(), "{v}");
    }
    let xc = app.node_id(XC).await;
    let (s, v) = app
        .post(
            "/api/v1/org/grids",
            &tok,
            json!({"org_id": xc, "number": 3, "name": "小区网格"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["fields"]["org_id"].is_array(), "{v}");
    let butler = app.token("butler-xc").await;
    let (s, _) = app
        .post(
            "/api/v1/org/grids",
            &butler,
            json!({"org_id": zq, "number": 4, "name": "网格"}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the community is outside a butler's scope"
    );
    assert_eq!(app.count("grids").await, grids);
}

#[tokio::test]
async fn xlsx_import_adds_households_and_residents() {
    let app = spawn_app().await;
    let tok = app.token("community-zq").await;
    let xc = app.node_id(XC).await;
    let (nodes, residents) = (app.count("org_nodes").await, app.count("residents").await);
    let wb = org::xlsx::template_workbook(&[
        ["3", "1", "101", "赵大明", "13700000301", "", "业主", "户主"],
        ["3", "1", "102", "钱小红", "13700000302", "", "租户", ""],
        ["3", "", "103", "孙平", "", "", "", ""],
        ["1", "1", "101", "樊三", "13700000303", "", "业主", "子女"],
    ]);
    let (s, v) = import(&app, &tok, &xc, XLSX, wb).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["imported_residents"], 4, "{v}");
    assert_eq!(v["errors"], json!([]));
    // New: 3号楼, its 1单元, 101, 102 under the entrance, 103 directly under the building.
    assert_eq!(app.count("org_nodes").await, nodes + 5);
    assert_eq!(app.count("residents").await, residents + 4);
    assert!(app
        .audit_actions()
        .await
        .contains(&"residents_imported".to_string()));

    let (items, _) = walk_tree(&app, &tok, &format!("root={xc}"), 100).await;
    let got = paths(&items);
    for p in ["B3/", "B3/U1/", "B3/U1/101/", "B3/U1/102/", "B3/103/"] {
        assert!(
            got.contains(&format!("{XC}{p}")),
            "{p} missing from {got:?}"
        );
    }
    let h = app.node_id(&format!("{XC}B3/U1/101/")).await;
    let (_, v) = app
        .get(&format!("/api/v1/org/households/{h}/residents"), &tok)
        .await;
    assert_eq!(v["items"][0]["name"], "赵大明");
    assert_eq!(v["items"][0]["phone"], "137****0301");
    assert_eq!(v["items"][0]["relation"], "户主");
    // The existing household got a third resident, not a duplicate node.
    let h = app.node_id(XC_101).await;
    let (_, v) = app
        .get(&format!("/api/v1/org/households/{h}/residents"), &tok)
        .await;
    assert_eq!(v["items"].as_array().unwrap().len(), 3, "{v}");
}

#[tokio::test]

async fn xlsx_import_reports_created_nodes() {
    let app = spawn_app().await;
    let tok = app.token("community-zq").await;
    let xc = app.node_id(XC).await;
    let nodes = app.count("org_nodes").await;
    let wb = org::xlsx::template_workbook(&[
        ["3", "1", "101", "赵大明", "13700000301", "", "业主", ""],
        ["1", "1", "101", "樊三", "13700000303", "", "业主", ""],
    ]);
    let (s, v) = import(&app, &tok, &xc, XLSX, wb).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let created = app.count("org_nodes").await - nodes;
    assert_eq!(created, 3);
    assert_eq!(v["created_nodes"], created, "{v}");
}

#[tokio::test]
async fn xlsx_import_with_one_bad_row_writes_nothing() {
    let app = spawn_app().await;
    let tok = app.token("community-zq").await;
    let xc = app.node_id(XC).await;
    let (nodes, residents, audits) = (
        app.count("org_nodes").await,
        app.count("residents").await,
        app.audit_actions().await.len(),
    );
    let wb = org::xlsx::template_workbook(&[
        ["3", "1", "101", "赵大明", "13700000301", "", "业主", ""],
        ["3", "1", "102", "钱小红", "1370000030", "", "租户", ""],
        [
            "3",
            "1",
            "103",
            "孙平",
            "13700000303",
            "141102198503120011",
            "",
            "",
        ],
        ["3", "1", "104", "李四", "13700000304", "", "", ""],
    ]);
    let (s, v) = import(&app, &tok, &xc, XLSX, wb).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["code"], "validation_failed");
    let fields = v["fields"].as_object().unwrap();
    assert!(fields.contains_key("第3行.手机号"), "{v}");
    assert!(fields.contains_key("第4行.身份证号"), "{v}");
    assert!(
        !fields
            .keys()
            .any(|k| k.starts_with("第2行") || k.starts_with("第5行")),
        "{v}"
    );
    assert!(fields["第3行.手机号"][0]
        .as_str()
        .unwrap()
        .contains("手机号"));
    assert_eq!(
        app.count("org_nodes").await,
        nodes,
        "no node from the good rows"
    );
    assert_eq!(app.count("residents").await, residents);
    assert_eq!(app.audit_actions().await.len(), audits);
    assert!(
        org::store::get_node_by_path(&app.ctx.db, &format!("{XC}B3/"))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn xlsx_import_of_an_id_already_registered_rolls_back() {
    // The duplicate is only found by the database, after the good rows'
    // nodes were written inside the transaction; it is the last row.
    let app = spawn_app().await;
    let tok = app.token("community-zq").await;
    let xc = app.node_id(XC).await;
    let (nodes, residents) = (app.count("org_nodes").await, app.count("residents").await);
    let wb = org::xlsx::template_workbook(&[
        ["3", "1", "101", "赵大明", "13700000301", "", "业主", ""],
        [
            "3",
            "1",
            "102",
            "冒名",
            "",
            "14110219850312001X",
            "业主",
            "",
        ],
    ]);
    let (s, v) = import(&app, &tok, &xc, XLSX, wb).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["fields"]["第3行.身份证号"].is_array(), "{v}");
    assert_eq!(app.count("org_nodes").await, nodes);
    assert_eq!(app.count("residents").await, residents);
}

#[tokio::test]

async fn xlsx_import_of_an_id_already_registered_then_more_rows() {
    // As above, but good rows follow the duplicate: on PostgreSQL the failed
    // INSERT aborts the transaction and the next row's SELECT fails.
    let app = spawn_app().await;
    let tok = app.token("community-zq").await;
    let xc = app.node_id(XC).await;
    let (nodes, residents) = (app.count("org_nodes").await, app.count("residents").await);
    let wb = org::xlsx::template_workbook(&[
        [
            "3",
            "1",
            "101",
            "冒名",
            "",
            "14110219850312001X",
            "业主",
            "",
        ],
        ["3", "1", "102", "钱小红", "13700000302", "", "租户", ""],
    ]);
    let (s, v) = import(&app, &tok, &xc, XLSX, wb).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["fields"]["第2行.身份证号"].is_array(), "{v}");
    assert_eq!(app.count("org_nodes").await, nodes);
    assert_eq!(app.count("residents").await, residents);
}

#[tokio::test]
async fn xlsx_import_accepts_workbooks_over_the_json_body_limit() {
    // The import route raises the body limit above the 1 MiB of JSON bodies:
    // a 1.5 MiB workbook (one resident, plus incompressible padding in
    // columns the import ignores) goes through.
    let app = spawn_app().await;
    let tok = app.token("community-zq").await;
    let xc = app.node_id(XC).await;
    let residents = app.count("residents").await;
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    let row = ["3", "1", "101", "赵大明", "13700000301", "", "业主", ""];
    for (c, v) in org::xlsx::HEADERS.iter().chain(row.iter()).enumerate() {
        ws.write_string((c / 8) as u32, (c % 8) as u16, *v).unwrap();
    }
    let mut seed = 0x5eed_u64;
    for col in 0..70u16 {
        let junk: String = (0..30_000)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                char::from(b'!' + ((seed >> 33) % 90) as u8)
            })
            .collect();
        ws.write_string(1, 20 + col, &junk).unwrap();
    }
    let bytes = wb.save_to_buffer().unwrap();
    assert!(bytes.len() > 1024 * 1024 + 1024 * 256, "{}", bytes.len());
    let (s, v) = import(&app, &tok, &xc, XLSX, bytes).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["imported_residents"], 1);
    assert_eq!(app.count("residents").await, residents + 1);
}

#[tokio::test]
async fn xlsx_import_refuses_wrong_requests() {
    let app = spawn_app().await;
    let tok = app.token("community-zq").await;
    let xc = app.node_id(XC).await;
    let nodes = app.count("org_nodes").await;
    let good = || {
        org::xlsx::template_workbook(&[["3", "1", "101", "赵大明", "13700000301", "", "业主", ""]])
    };

    for ct in [
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
    ] {
        let (s, v) = import(&app, &tok, &xc, ct, good()).await;
        assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct}: {v}");
        assert_eq!(v["code"], "unsupported_media_type");
    }
    // Not a workbook at all.
    let (s, v) = import(
        &app,
        &tok,
        &xc,
        XLSX,
        b"PK\x03\x04 not really a zip".to_vec(),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["fields"]["file"].is_array(), "{v}");
    // Only into a compound.
    let zq = app.node_id(ZHANQIAN).await;
    let (s, v) = import(&app, &tok, &zq, XLSX, good()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["fields"]["org"].is_array(), "{v}");
    // Out of scope compound: 404.
    let fh = app.node_id(FH).await;
    let (s, _) = import(&app, &tok, &fh, XLSX, good()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A butler sees the compound but may not import into it.
    let butler = app.token("butler-xc").await;
    let (s, v) = import(&app, &butler, &xc, XLSX, good()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    // A resident cannot see the compound at all: 404, as if it did not exist.
    let res = app.token("13800000001").await;
    let (s, v) = import(&app, &res, &xc, XLSX, good()).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(v["code"], "not_found");
    assert_eq!(app.count("org_nodes").await, nodes);
}

#[tokio::test]
async fn xlsx_export_is_masked_and_readable() {
    let app = spawn_app().await;
    let tok = app.token("community-zq").await;
    let xc = app.node_id(XC).await;
    let r = export(&app, &tok, &xc).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[reqwest::header::CONTENT_TYPE], XLSX);
    let bytes = r.bytes().await.unwrap();
    let rows = xlsx_rows(&bytes);
    let mut header: Vec<String> = org::xlsx::HEADERS.iter().map(|s| s.to_string()).collect();
    header.push("组织路径".into());
    assert_eq!(rows[0], header);
    // XC has 樊一新, 樊晓燕, 刘婷 in 1号楼 and 李秀兰 in 2号楼; not 王勇 of FH.
    assert_eq!(rows.len(), 5, "{rows:?}");
    let fan = rows.iter().find(|r| r[3] == "樊一新").expect("樊一新 row");
    assert_eq!(
        &fan[..3],
        &["1".to_string(), "1".to_string(), "101".to_string()]
    );
    assert_eq!(fan[4], "138****0001");
    assert_eq!(fan[5], "1411**********001X");
    assert_eq!(fan[6], "业主");
    assert_eq!(fan[8], XC_101);
    assert!(rows.iter().all(|r| r[3] != "王勇"));
    for row in &rows {
        for c in row {
            assert!(bare_phones(c).is_empty(), "unmasked phone in export: {c}");
        }
    }
    assert_eq!(
        app.audit_actions().await.last().unwrap(),
        "residents_exported"
    );
    let li = rows.iter().find(|r| r[3] == "李秀兰").unwrap();
    assert_eq!(li[0], "2");
}

#[tokio::test]
async fn xlsx_export_out_of_scope_is_not_found() {
    let app = spawn_app().await;
    let xc = app.node_id(XC).await;
    let fh = app.token("property-fh").await;
    let r = export(&app, &fh, &xc).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "not_found");
    // A resident may see their household but may not export it.
    let res = app.token("13800000001").await;
    let h = app.node_id(XC_101).await;
    assert_eq!(export(&app, &res, &h).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        export(&app, &res, &xc).await.status(),
        StatusCode::NOT_FOUND
    );
    // A butler reads the registry of their compound.
    let butler = app.token("butler-xc").await;
    assert_eq!(export(&app, &butler, &xc).await.status(), StatusCode::OK);
    // No ?org= is a field error.
    let r = app
        .client
        .get(app.url("/api/v1/org/export.xlsx"))
        .bearer_auth(&butler)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
