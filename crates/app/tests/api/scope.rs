//! Scope as a matrix: every demo account against demands of each compound.
//! Out of scope answers 404, exactly like a missing record.

use crate::helpers::*;
use reqwest::StatusCode;

/// Who may see a demand filed in 新城壹号小区 1号楼 101 / 泛华盛世小区 301.
const MATRIX: &[(&str, bool, bool)] = &[
    // login, sees XC 101's demand, sees FH 301's demand
    ("13800000001", true, false),
    ("13800000002", false, false),
    ("13800000003", false, true),
    ("butler-xc", true, false),
    ("property-xc", true, false),
    ("property-fh", false, true),
    ("branch-fh", false, true),
    ("community-zq", true, false),
    ("street-cb", true, false),
    ("district-ls", true, true),
    ("village-xmz", false, false),
    ("approval-lx", false, false),
    ("expert-1", false, false),
    ("grid-cz", false, false),
    ("auditor", false, false),
];

#[tokio::test]
async fn demand_visibility_matrix() {
    let app = spawn_app().await;
    let t1 = app.token("13800000001").await;
    let t3 = app.token("13800000003").await;
    let xc = app.file_demand(&t1, "矩阵测试-新城").await;
    let fh = app.file_demand(&t3, "矩阵测试-泛华").await;
    let (xc_id, fh_id) = (xc["id"].as_str().unwrap(), fh["id"].as_str().unwrap());

    for (login, sees_xc, sees_fh) in MATRIX {
        let t = app.token(login).await;
        for (id, expected) in [(xc_id, *sees_xc), (fh_id, *sees_fh)] {
            let (s, _) = app.get(&format!("/api/v1/demands/{id}"), &t).await;
            let want = if expected {
                StatusCode::OK
            } else {
                StatusCode::NOT_FOUND
            };
            assert_eq!(s, want, "{login} GET {id}");
        }
        // The list agrees with the single reads.
        let (s, v) = app.get("/api/v1/demands?limit=100", &t).await;
        assert_eq!(s, StatusCode::OK, "{login} list");
        let ids: Vec<&str> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.contains(&xc_id), *sees_xc, "{login} list has XC");
        assert_eq!(ids.contains(&fh_id), *sees_fh, "{login} list has FH");
    }
}

#[tokio::test]
async fn a_missing_demand_and_an_out_of_scope_one_look_the_same() {
    let app = spawn_app().await;
    let t1 = app.token("13800000001").await;
    let t3 = app.token("13800000003").await;
    let fh = app.file_demand(&t3, "别人的诉求").await;
    let (s1, v1) = app
        .get(
            &format!("/api/v1/demands/{}", fh["id"].as_str().unwrap()),
            &t1,
        )
        .await;
    let (s2, v2) = app
        .get(&format!("/api/v1/demands/{}", kernel::id::new_id()), &t1)
        .await;
    assert_eq!((s1, s2), (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND));
    assert_eq!(v1, v2);
}

#[tokio::test]
async fn residents_of_the_same_compound_do_not_see_each_other() {
    let app = spawn_app().await;
    let t1 = app.token("13800000001").await;
    let t2 = app.token("13800000002").await;
    let d = app.file_demand(&t2, "2号楼的诉求").await;
    let (s, _) = app
        .get(
            &format!("/api/v1/demands/{}", d["id"].as_str().unwrap()),
            &t1,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // The seeded demands of 李秀兰 never reach 樊一新's list.
    let (_, v) = app.get("/api/v1/demands?limit=100", &t1).await;
    for d in v["items"].as_array().unwrap() {
        assert_eq!(d["org_path"], XC_101);
    }
}

#[tokio::test]
async fn the_org_filter_cannot_widen_scope() {
    let app = spawn_app().await;
    let t = app.token("community-zq").await;
    let fh = app.node_id(FH).await;
    let (s, _) = app.get(&format!("/api/v1/demands?org={fh}"), &t).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "a node outside the scope is 404");
    // Narrowing to one building works.
    let b2 = app
        .node_id("/141100/141102/141102003/141102003001/XC/B2/")
        .await;
    let (s, v) = app.get(&format!("/api/v1/demands?org={b2}"), &t).await;
    assert_eq!(s, StatusCode::OK);
    let items = v["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items.iter().all(|d| d["org_path"]
        .as_str()
        .unwrap()
        .starts_with("/141100/141102/141102003/141102003001/XC/B2/")));
}

#[tokio::test]
async fn the_audit_log_is_for_auditors_only() {
    let app = spawn_app().await;
    for login in ["13800000001", "butler-xc", "community-zq", "district-ls"] {
        let t = app.token(login).await;
        let (s, v) = app.get("/api/v1/audit/events", &t).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{login}");
        assert_eq!(v["code"], "forbidden");
    }
    for _ in 0..3 {
        app.token("street-cb").await;
    }
    let t = app.token("auditor").await;
    let (s, v) = app.get("/api/v1/audit/events?limit=5", &t).await;
    assert_eq!(s, StatusCode::OK);
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert!(v["next_cursor"].is_string());
    let seqs: Vec<i64> = items.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "newest first");
    let (_, next) = app
        .get(
            &format!(
                "/api/v1/audit/events?limit=5&cursor={}",
                v["next_cursor"].as_str().unwrap()
            ),
            &t,
        )
        .await;
    assert!(next["items"][0]["seq"].as_i64().unwrap() < *seqs.last().unwrap());
}
