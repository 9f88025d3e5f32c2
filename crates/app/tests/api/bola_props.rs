//! BOLA (OWASP API1) as a property: accounts with random role grants at
//! random places of the demo org tree see exactly what a simple reference
//! model of scope says — a demand or a resident record is visible when its
//! place lies in the subtree of a grant of a role that reads it (or is the
//! caller's own household) — in every list, get and count of the real
//! server.

use crate::helpers::*;
use kernel::clock::Clock;
use kernel::Role;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use reqwest::StatusCode;
use sqlx::Row;
use std::collections::BTreeSet;

/// Roles a random grant is drawn from (the separated roles at most once:
/// the store refuses a second, as its own test proves).
const ROLES: [Role; 15] = [
    Role::Butler,
    Role::PropertyStaff,
    Role::PropertyManager,
    Role::PartyBranchSecretary,
    Role::PartyGroupLeader,
    Role::GridWorker,
    Role::CommunityStaff,
    Role::StreetAdmin,
    Role::DistrictAdmin,
    Role::CityAdmin,
    Role::AgencyStaff,
    Role::Expert,
    Role::Auditor,
    Role::Sysadmin,
    Role::Secadmin,
];

fn within(path: &str, root: &str) -> bool {
    path.starts_with(root)
}

async fn all_ids(app: &TestApp, token: &str, path: &str) -> (StatusCode, BTreeSet<String>) {
    let mut ids = BTreeSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}?limit=100&cursor={c}"),
            None => format!("{path}?limit=100"),
        };
        let (s, v) = app.get(&url, token).await;
        if s != StatusCode::OK {
            return (s, ids);
        }
        for item in v["items"].as_array().unwrap() {
            ids.insert(item["id"].as_str().unwrap().to_string());
        }
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return (s, ids),
        }
    }
}

#[test]
fn random_grants_see_exactly_their_scope() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(spawn_app());
    let (nodes, demands, residents) = rt.block_on(async {
        let q = |sql: &'static str| {
            let db = app.ctx.db.clone();
            async move {
                sqlx::query(sql)
                    .fetch_all(db.reader())
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| (r.get::<String, _>(0), r.get::<String, _>(1)))
                    .collect::<Vec<_>>()
            }
        };
        (
            q("SELECT id, org_path FROM org_nodes ORDER BY org_path").await,
            q("SELECT id, org_path FROM demands ORDER BY id").await,
            q("SELECT id, org_path FROM residents ORDER BY id").await,
        )
    });
    assert!(nodes.len() > 20 && demands.len() >= 4 && residents.len() >= 4);

    let grants = proptest::collection::vec((0..ROLES.len(), 0..nodes.len()), 1..4);
    let mut runner = TestRunner::new(Config {
        cases: 12,
        failure_persistence: None,
        ..Config::default()
    });
    let n = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(&grants, |grants| {
            let login = format!(
                "bola-{}",
                n.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            );
            rt.block_on(async {
                // The account, its grants (a second separated role is skipped).
                let hash = accounts::model::hash_password(PASSWORD);
                let now = app.clock.now_ms();
                let mut tx = app.ctx.db.begin().await.unwrap();
                let uid = accounts::store::create_user(
                    &mut tx,
                    &app.ctx.cipher,
                    &login,
                    &login,
                    &hash,
                    now,
                )
                .await
                .unwrap();
                let mut held: Vec<(Role, String)> = Vec::new();
                for (r, i) in grants {
                    let role = ROLES[r];
                    if Role::SEPARATED_DUTIES.contains(&role)
                        && held.iter().any(|(h, _)| Role::SEPARATED_DUTIES.contains(h))
                    {
                        continue;
                    }
                    let (id, path) = &nodes[i];
                    accounts::store::grant_role(
                        &mut tx,
                        &uid,
                        role,
                        id,
                        &kernel::OrgPath::from_db(path.clone()),
                        None,
                        now,
                    )
                    .await
                    .unwrap();
                    held.push((role, path.clone()));
                }
                tx.commit().await.unwrap();
                let token = app.token(&login).await;

                // The reference model.
                let covered = |roles: &[Role], path: &str| {
                    held.iter()
                        .any(|(r, root)| roles.contains(r) && within(path, root))
                };
                let want_demands: BTreeSet<String> = demands
                    .iter()
                    .filter(|(_, p)| covered(Role::CASE_STAFF, p))
                    .map(|(id, _)| id.clone())
                    .collect();

                // List, count, get.
                let (s, got) = all_ids(&app, &token, "/api/v1/demands").await;
                prop_assert_eq!(s, StatusCode::OK);
                prop_assert_eq!(&got, &want_demands, "demand list of {:?}", held);
                for (id, p) in &demands {
                    let s = app.get(&format!("/api/v1/demands/{id}"), &token).await.0;
                    let want = if covered(Role::CASE_STAFF, p) {
                        StatusCode::OK
                    } else {
                        StatusCode::NOT_FOUND
                    };
                    prop_assert_eq!(s, want, "demand at {} for {:?}", p, held);
                }
                for (id, p) in &residents {
                    let s = app
                        .get(&format!("/api/v1/org/residents/{id}"), &token)
                        .await
                        .0;
                    let visible = covered(Role::REGISTRY_READERS, p);
                    prop_assert_eq!(
                        s == StatusCode::OK,
                        visible,
                        "resident at {} for {:?}: {}",
                        p,
                        held,
                        s
                    );
                    if !visible {
                        prop_assert_eq!(s, StatusCode::NOT_FOUND);
                    }
                }
                // The export answers only for a node in the registry scope.
                for (id, p) in nodes.iter().step_by(7) {
                    let s = app
                        .get(&format!("/api/v1/org/export.xlsx?org={id}"), &token)
                        .await
                        .0;
                    let allowed = covered(Role::REGISTRY_READERS, p);
                    prop_assert!(
                        (s == StatusCode::OK) == allowed && s != StatusCode::INTERNAL_SERVER_ERROR,
                        "export of {} for {:?}: {}",
                        p,
                        held,
                        s
                    );
                }
                // The audit log: the auditor's only.
                let s = app.get("/api/v1/audit/events", &token).await.0;
                let auditor = held.iter().any(|(r, _)| *r == Role::Auditor);
                prop_assert_eq!(s == StatusCode::OK, auditor);
                Ok(())
            })
        })
        .unwrap();
}
