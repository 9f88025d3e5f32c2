//! BOLA (OWASP API1) as a property, on random org trees.
//!
//! Each case draws a random region tree (city › district › street/township
//! › community/village › compound › building › [entrance] › household, with
//! varying depth and fan-out, and sibling codes that are string prefixes of
//! one another: `1`, `10`, `1-`, `1_0`), random accounts holding random role
//! grants at random places (of the new tree or of the demo world) and/or
//! homes in random households, random resident records and random demands
//! (two categories; some due on a fixed day, some of those closed). Then,
//! for every account, a pure reference model of scope — a record is visible
//! when its place lies in the subtree of a grant of a role that reads it, or
//! in the caller's own household — is compared with every answer of the
//! real server that depends on scope:
//!
//! - lists: `GET /api/v1/demands` paged through to the end (a random page
//!   size), with the `category` filter and with the `org` filter (which may
//!   narrow but never widen: an invisible node is 404), `/demands/similar`,
//!   `/demands/inbox` (only visible demands), `/org/tree` paged through,
//!   `/org/nodes/{id}/children`, `/org/households/{id}/residents`;
//! - gets by id: every demand, resident and node of the case and of the
//!   demo world (in scope 200, out of scope 404), and the unmasking of every
//!   resident of the case (an org admin over it 200, a mere reader 403, else
//!   404);
//! - counts: `GET /api/v1/insight/rates` over the due day, for the whole
//!   scope and narrowed to nodes (the `due` and `closed` counts), 403 for
//!   callers without a case role;
//! - exports: `GET /api/v1/org/export.xlsx?org=` for nodes of the case and
//!   the demo world, the workbook parsed and its rows (name, place)
//!   compared; `GET /api/v1/me/data.json` (one's own households' residents
//!   and demands only, 403 without a home);
//! - notices: the notice of each filing (published as the app does, fanned
//!   out by the worker) reaches only accounts that may see the demand, and
//!   an inbox entry opens for its owner only.
//!
//! The data is written with the store functions the app itself uses (the
//! seeder's way), the answers are read over HTTP. Proptest shrinks a failure
//! to a smaller tree, fewer accounts and fewer records (a new root per run,
//! so shrinking needs no clean-up: the model covers every record in the
//! database). `LIANXIN_BOLA_CASES` sets the number of cases (default 32).

use crate::helpers::*;
use calamine::Reader;
use kernel::clock::Clock;
use kernel::{OrgPath, Role};
use org::model::{NewNode, OrgKind};
use org::store::NodeRow;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};

/// Roles a random grant is drawn from (the separated roles at most once per
/// account: the store refuses a second, as its own test proves).
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

/// Drawn again (the roles the filing notice goes to by default), so that
/// notices reach some accounts in most cases.
const EXTRA: [Role; 2] = [Role::CommunityStaff, Role::PropertyManager];

/// Sibling codes: each a string prefix of the next ones, so a scope check
/// done with a bare `LIKE 'path%'` or `starts_with` without the slash leaks.
const CODES: [&str; 4] = ["1", "10", "1-", "1_0"];

/// The demand fields the day of `DUE_DAY` is due on (12:00 in Shanghai).
const DUE_DAY: &str = "2026-06-15";
const DUE_AT_MS: i64 = 1_781_496_000_000;

/// The roles whose inbox holds the demands waiting for dispatch.
const DISPATCHERS: &[Role] = &[
    Role::PropertyManager,
    Role::CommunityStaff,
    Role::StreetAdmin,
    Role::DistrictAdmin,
    Role::CityAdmin,
];

/// The statuses of an open demand.
const OPEN: [&str; 7] = [
    "submitted",
    "accepted",
    "dispatched",
    "in_progress",
    "returned",
    "rework",
    "suspended",
];

/// At most this many nodes per random tree.
const NODE_BUDGET: usize = 40;

#[derive(Debug, Clone)]
struct Account {
    /// (index into `ROLES` then `EXTRA`, node index: the case's nodes, then
    /// the demo's).
    grants: Vec<(usize, usize)>,
    /// Household indices the account lives in (0, 1 or 2).
    homes: Vec<usize>,
}

#[derive(Debug, Clone)]
struct Case {
    /// Dice that shape the tree (missing dice read as 0: a single chain).
    shape: Vec<u8>,
    accounts: Vec<Account>,
    /// Households of resident records without an account.
    residents: Vec<usize>,
    /// (household, second category?, 0 not due / 1 due / 2 due and closed).
    demands: Vec<(usize, bool, u8)>,
    /// The page size of the list walks.
    page: usize,
}

fn case_strategy() -> impl Strategy<Value = Case> {
    let account = (
        proptest::collection::vec((0..ROLES.len() + EXTRA.len(), 0..256usize), 0..3),
        proptest::collection::vec(0..256usize, 0..3),
    )
        .prop_map(|(grants, homes)| Account { grants, homes });
    (
        proptest::collection::vec(any::<u8>(), 0..48),
        proptest::collection::vec(account, 1..5),
        proptest::collection::vec(0..256usize, 0..10),
        proptest::collection::vec((0..256usize, any::<bool>(), 0..3u8), 0..14),
        1..8usize,
    )
        .prop_map(|(shape, accounts, residents, demands, page)| Case {
            shape,
            accounts,
            residents,
            demands,
            page,
        })
}

/// A node of the generated tree: (parent index, kind, code, name).
type Planned = (Option<usize>, OrgKind, String, String);

/// The tree the dice describe, parents before children. Missing dice are
/// 0, which gives one child of the first allowed kind: shrinking the dice
/// shrinks the tree towards a single chain down to one household.
fn plan_tree(root_code: &str, shape: &[u8]) -> Vec<Planned> {
    let mut dice = shape.iter().copied();
    let mut next = move || dice.next().unwrap_or(0);
    let mut out: Vec<Planned> = vec![(None, OrgKind::City, root_code.into(), "随机市".into())];
    let mut stack = vec![0usize];
    while let Some(i) = stack.pop() {
        let kind = out[i].1;
        let allowed = kind.allowed_children();
        if allowed.is_empty() {
            continue;
        }
        // 1, 2, 1, 2, 0 or 3 children.
        let fan = [1, 2, 1, 2, 0, 3][next() as usize % 6];
        let mut kids = Vec::new();
        for c in 0..fan {
            if out.len() >= NODE_BUDGET {
                break;
            }
            let k = allowed[next() as usize % allowed.len()];
            let code = CODES[c % CODES.len()].to_string();
            out.push((Some(i), k, code.clone(), format!("{}{code}", k.as_str())));
            kids.push(out.len() - 1);
        }
        // Depth first, so a deep chain is finished before the budget runs out.
        stack.extend(kids.into_iter().rev());
    }
    out
}

/// The roles for which a grant covers a place, and the homes of an account.
#[derive(Debug, Clone)]
struct Who {
    grants: Vec<(Role, String)>,
    homes: Vec<String>,
}

/// The model's own subtree test (places are `/`-separated and end in `/`).
fn within(path: &str, root: &str) -> bool {
    assert!(path.ends_with('/') && root.ends_with('/'));
    path.starts_with(root)
}

impl Who {
    fn covers(&self, roles: &[Role], path: &str) -> bool {
        self.grants
            .iter()
            .any(|(r, root)| roles.contains(r) && within(path, root))
    }
    fn lives_at(&self, path: &str) -> bool {
        self.homes.iter().any(|h| within(path, h))
    }
    /// Demands and the registry: staff with a reading role, or home.
    fn sees_demand(&self, path: &str) -> bool {
        self.covers(Role::CASE_STAFF, path) || self.lives_at(path)
    }
    fn sees_registry(&self, path: &str) -> bool {
        self.covers(Role::REGISTRY_READERS, path) || self.lives_at(path)
    }
}

/// What the database holds, as (id, place …) rows.
#[derive(Default)]
struct World {
    nodes: Vec<(String, String)>,
    residents: Vec<(String, String, String)>,
    /// (id, place, category, status).
    demands: Vec<(String, String, String, String)>,
}

async fn world(app: &TestApp) -> World {
    let db = app.ctx.db.reader();
    let rows = |sql: &'static str| sqlx::query(sql).fetch_all(db);
    World {
        nodes: rows("SELECT id, org_path FROM org_nodes")
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect(),
        residents: rows("SELECT id, org_path, name FROM residents")
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect(),
        demands: rows("SELECT id, org_path, category, status FROM demands")
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect(),
    }
}

/// Every id of a paged list, in order (duplicates kept, so they show).
async fn walk(app: &TestApp, token: &str, path: &str, page: usize) -> (StatusCode, Vec<String>) {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..500 {
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit={page}&cursor={c}"),
            None => format!("{path}{sep}limit={page}"),
        };
        let (s, v) = app.get(&url, token).await;
        if s != StatusCode::OK {
            return (s, ids);
        }
        for item in v["items"].as_array().unwrap() {
            ids.push(item["id"].as_str().unwrap().to_string());
        }
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return (s, ids),
        }
    }
    panic!("{path} never ends");
}

fn ids_of(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| i["id"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The (name, place) rows of an exported residents workbook.
fn workbook_rows(bytes: &[u8]) -> Vec<(String, String)> {
    let mut wb = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes.to_vec()))
        .expect("the export is a workbook");
    let sheet = wb.sheet_names()[0].clone();
    let range = wb.worksheet_range(&sheet).expect("a sheet");
    let mut out: Vec<(String, String)> = range
        .rows()
        .skip(1)
        .map(|r| (r[3].to_string(), r[8].to_string()))
        .collect();
    out.sort();
    out
}

macro_rules! check {
    ($cond:expr, $($fmt:tt)*) => {
        if !$cond {
            return Err(TestCaseError::fail(format!($($fmt)*)));
        }
    };
}

/// Writes the case into the database: the tree, the accounts with their
/// grants and homes, the residents and the demands; returns the case's
/// nodes, the accounts (with their tokens) and the due/closed demand ids.
async fn write_case(
    app: &TestApp,
    case: &Case,
    n: usize,
    demo: &[NodeRow],
    categories: &[String],
    hash: &str,
) -> (Vec<NodeRow>, Vec<(Who, String)>, Vec<(String, bool)>) {
    let now = app.clock.now_ms();
    let mut tx = app.ctx.db.begin().await.unwrap();
    let mut nodes: Vec<NodeRow> = Vec::new();
    for (parent, kind, code, name) in plan_tree(&format!("141100{n}"), &case.shape) {
        let parent = parent.map(|p| nodes[p].clone());
        let node =
            org::store::insert_node(&mut tx, parent.as_ref(), &NewNode { kind, code, name }, now)
                .await
                .unwrap();
        nodes.push(node);
    }
    let households: Vec<NodeRow> = nodes
        .iter()
        .filter(|n| n.kind == OrgKind::Household)
        .cloned()
        .collect();
    let mut resident_no = 0;
    let mut resident = |tx_home: &NodeRow| {
        resident_no += 1;
        (
            tx_home.clone(),
            org::model::parse_resident(&format!("居民{n}-{resident_no}"), None, None, None, None)
                .unwrap(),
        )
    };

    let mut accounts = Vec::new();
    for (a, acc) in case.accounts.iter().enumerate() {
        let login = format!("bola-{n}-{a}");
        let uid = accounts::store::create_user(&mut tx, &app.ctx.cipher, &login, &login, hash, now)
            .await
            .unwrap();
        let mut who = Who {
            grants: Vec::new(),
            homes: Vec::new(),
        };
        for (r, i) in &acc.grants {
            let role = ROLES.get(*r).copied().unwrap_or(EXTRA[r % EXTRA.len()]);
            if Role::SEPARATED_DUTIES.contains(&role)
                && who
                    .grants
                    .iter()
                    .any(|(h, _)| Role::SEPARATED_DUTIES.contains(h))
            {
                continue;
            }
            let at = if *i < nodes.len() * 3 {
                &nodes[i % nodes.len()]
            } else {
                &demo[i % demo.len()]
            };
            accounts::store::grant_role(&mut tx, &uid, role, &at.id, &at.org_path, None, now)
                .await
                .unwrap();
            who.grants.push((role, at.org_path.as_str().to_string()));
        }
        if !households.is_empty() {
            for h in &acc.homes {
                let home = &households[h % households.len()];
                if who.homes.iter().any(|p| p == home.org_path.as_str()) {
                    continue;
                }
                let (home, r) = resident(home);
                org::store::insert_resident(&mut tx, &app.ctx.cipher, &home, &r, Some(&uid), now)
                    .await
                    .unwrap();
                accounts::store::grant_role(
                    &mut tx,
                    &uid,
                    Role::Resident,
                    &home.id,
                    &home.org_path,
                    None,
                    now,
                )
                .await
                .unwrap();
                who.homes.push(home.org_path.as_str().to_string());
            }
        }
        // A session as the login would make it (no password check: speed).
        let s = accounts::store::create_session(&mut tx, &uid, "api", now, 12 * 3_600_000)
            .await
            .unwrap();
        accounts.push((who, s.token, uid));
    }
    let mut due = Vec::new();
    if !households.is_empty() {
        for h in &case.residents {
            let (home, r) = resident(&households[h % households.len()]);
            org::store::insert_resident(&mut tx, &app.ctx.cipher, &home, &r, None, now)
                .await
                .unwrap();
        }
        let filer = &accounts[0].2;
        for (k, (h, second, state)) in case.demands.iter().enumerate() {
            let home = &households[h % households.len()];
            let category = &categories[usize::from(*second)];
            let d = cases::model::validate_new(
                category,
                &format!("随机诉求{n}-{k}"),
                "楼道灯不亮,已经好几天了",
                None,
                false,
            )
            .unwrap();
            let row = cases::store::insert_demand(
                &mut tx,
                &d,
                &cases::store::Filing {
                    urgency: "normal",
                    dispatch_deadline: now + 3_600_000,
                    household_id: &home.id,
                    household_path: &home.org_path,
                    building_id: None,
                    channel: "phone",
                    reporter_user_id: None,
                    created_by: filer,
                },
                now,
            )
            .await
            .unwrap();
            // The notice the app publishes on filing (fanned out below).
            cases::notices::on_filed(&mut tx, app.ctx.db.backend(), &row, filer, now)
                .await
                .unwrap();
            if *state > 0 {
                let closed = *state == 2;
                sqlx::query(
                    "UPDATE demands SET feedback_deadline = $1, closed_at = $2 WHERE id = $3",
                )
                .bind(DUE_AT_MS)
                .bind(closed.then_some(DUE_AT_MS - 3_600_000))
                .bind(&row.id)
                .execute(&mut *tx)
                .await
                .unwrap();
                // The indicators read incremental rollups: move them as the
                // app's own writes do.
                let after = cases::store::get_demand_tx(&mut tx, &row.id)
                    .await
                    .unwrap()
                    .unwrap();
                cases::rollup::apply(&mut tx, Some(&row), &after)
                    .await
                    .unwrap();
                due.push((row.id, closed));
            }
        }
    }
    tx.commit().await.unwrap();
    for _ in 0..10 {
        if notify::worker::run_once(&app.ctx).await.unwrap().fanned_out == 0 {
            break;
        }
    }
    let accounts = accounts.into_iter().map(|(w, t, _)| (w, t)).collect();
    (nodes, accounts, due)
}

/// The compound (or village) a household belongs to.
fn compound_of(path: &str, kinds: &BTreeMap<String, OrgKind>) -> Option<String> {
    OrgPath::from_db(path.to_string())
        .ancestors_and_self()
        .into_iter()
        .rev()
        .map(|p| p.as_str().to_string())
        .find(|p| {
            matches!(
                kinds.get(p),
                Some(OrgKind::Compound) | Some(OrgKind::Village)
            )
        })
}

#[allow(clippy::too_many_arguments)]
async fn check_account(
    app: &TestApp,
    who: &Who,
    token: &str,
    case: &Case,
    nodes: &[NodeRow],
    demo: &[NodeRow],
    w: &World,
    due: &[(String, bool)],
    categories: &[String],
    kinds: &BTreeMap<String, OrgKind>,
    previous: &[String],
    seen: &Seen,
) -> Result<(), TestCaseError> {
    let page = case.page;
    let case_paths: BTreeSet<&str> = nodes.iter().map(|n| n.org_path.as_str()).collect();
    let in_case = |p: &str| case_paths.iter().any(|c| within(p, c));
    let root = nodes[0].org_path.as_str().to_string();
    let near = |p: &str| {
        within(p, &root)
            || demo_paths(demo).iter().any(|d| within(p, d))
            || previous.iter().any(|q| within(p, q))
    };

    // Demands: the list, paged through.
    let want: Vec<String> = sorted(
        w.demands
            .iter()
            .filter(|(_, p, _, _)| who.sees_demand(p))
            .map(|(id, _, _, _)| id.clone())
            .collect(),
    );
    let (s, got) = walk(app, token, "/api/v1/demands", page).await;
    check!(s == StatusCode::OK, "demand list: {s}");
    seen.add(0, got.len());
    check!(sorted(got) == want, "the demand list of {who:?}");
    // The category filter.
    for c in categories {
        let want: Vec<String> = sorted(
            w.demands
                .iter()
                .filter(|(_, p, cat, _)| cat == c && who.sees_demand(p))
                .map(|(id, _, _, _)| id.clone())
                .collect(),
        );
        let (s, got) = walk(app, token, &format!("/api/v1/demands?category={c}"), page).await;
        check!(
            s == StatusCode::OK && sorted(got) == want,
            "category {c} for {who:?}: {s}"
        );
    }
    // The org filter narrows, and never widens.
    for n in nodes.iter().step_by(3).chain(demo.iter()) {
        let path = n.org_path.as_str();
        let (s, got) = walk(app, token, &format!("/api/v1/demands?org={}", n.id), page).await;
        if who.sees_registry(path) {
            let want: Vec<String> = sorted(
                w.demands
                    .iter()
                    .filter(|(_, p, _, _)| within(p, path) && who.sees_demand(p))
                    .map(|(id, _, _, _)| id.clone())
                    .collect(),
            );
            check!(
                s == StatusCode::OK && sorted(got) == want,
                "demands under {path} for {who:?}: {s}"
            );
        } else {
            check!(
                s == StatusCode::NOT_FOUND,
                "demands under invisible {path} for {who:?}: {s}"
            );
        }
    }
    // Every demand by id.
    for (id, p, _, _) in w.demands.iter().filter(|(_, p, _, _)| near(p)) {
        let s = app.get(&format!("/api/v1/demands/{id}"), token).await.0;
        let want = if who.sees_demand(p) {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        };
        check!(s == want, "demand at {p} for {who:?}: {s}");
        seen.add(usize::from(s == StatusCode::NOT_FOUND), 1);
    }
    // The inbox: nothing is assigned to these accounts, so it holds the
    // demands waiting for dispatch or verification under a dispatching grant.
    let want: Vec<String> = sorted(
        w.demands
            .iter()
            .filter(|(_, p, _, status)| {
                ["submitted", "accepted", "returned", "resolved"].contains(&status.as_str())
                    && who.covers(DISPATCHERS, p)
            })
            .map(|(id, _, _, _)| id.clone())
            .collect(),
    );
    let (s, got) = walk(app, token, "/api/v1/demands/inbox", page).await;
    check!(
        s == StatusCode::OK && sorted(got) == want,
        "the inbox of {who:?}: {s}"
    );
    seen.add(5, want.len());
    // Similar open demands: other households of the caller's compounds.
    let compounds: Vec<String> = who
        .homes
        .iter()
        .filter_map(|h| compound_of(h, kinds))
        .collect();
    for c in std::iter::once(None).chain(categories.iter().map(Some)) {
        let url = match c {
            Some(c) => format!("/api/v1/demands/similar?category={c}"),
            None => "/api/v1/demands/similar".into(),
        };
        let (s, v) = app.get(&url, token).await;
        let want: Vec<String> = sorted(
            w.demands
                .iter()
                .filter(|(_, p, cat, status)| {
                    compounds.iter().any(|r| within(p, r))
                        && !who.lives_at(p)
                        && OPEN.contains(&status.as_str())
                        && c.is_none_or(|c| c == cat)
                })
                .map(|(id, _, _, _)| id.clone())
                .collect(),
        );
        check!(
            s == StatusCode::OK && sorted(ids_of(&v)) == want,
            "{url} for {who:?}: {s}"
        );
        seen.add(6, want.len());
    }

    // The PIPL export of one's own data (JSON): one's households only.
    let (s, v) = app.get("/api/v1/me/data.json", token).await;
    if who.homes.is_empty() {
        check!(s == StatusCode::FORBIDDEN, "my data of {who:?}: {s}");
    } else {
        let home = |p: &str| who.homes.iter().any(|h| h == p);
        let want_residents: Vec<String> = sorted(
            w.residents
                .iter()
                .filter(|(_, p, _)| home(p))
                .map(|(id, _, _)| id.clone())
                .collect(),
        );
        let want_demands: Vec<String> = sorted(
            w.demands
                .iter()
                .filter(|(_, p, _, _)| home(p))
                .map(|(id, _, _, _)| id.clone())
                .collect(),
        );
        let got = |key: &str| {
            sorted(
                v[key]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|r| r["id"].as_str().unwrap_or_default().to_string())
                            .collect()
                    })
                    .unwrap_or_default(),
            )
        };
        check!(
            s == StatusCode::OK
                && got("residents") == want_residents
                && got("demands") == want_demands,
            "my data of {who:?}: {s}"
        );
    }

    // The registry: the tree, nodes, children.
    let want: Vec<String> = sorted(
        w.nodes
            .iter()
            .filter(|(_, p)| who.sees_registry(p))
            .map(|(id, _)| id.clone())
            .collect(),
    );
    let (s, got) = walk(app, token, "/api/v1/org/tree", 100).await;
    check!(
        s == StatusCode::OK && sorted(got) == want,
        "the tree of {who:?}: {s}"
    );
    for n in nodes.iter().chain(demo.iter()) {
        let path = n.org_path.as_str();
        let s = app
            .get(&format!("/api/v1/org/nodes/{}", n.id), token)
            .await
            .0;
        let visible = who.sees_registry(path);
        let want = if visible {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        };
        check!(s == want, "node {path} for {who:?}: {s}");
        if in_case(path) {
            let (s, v) = app
                .get(&format!("/api/v1/org/nodes/{}/children", n.id), token)
                .await;
            check!(s == want, "children of {path} for {who:?}: {s}");
            if visible {
                let kids: Vec<String> = sorted(
                    nodes
                        .iter()
                        .filter(|k| k.parent_id.as_deref() == Some(n.id.as_str()))
                        .map(|k| k.id.clone())
                        .collect(),
                );
                check!(sorted(ids_of(&v)) == kids, "children of {path} for {who:?}");
            }
        }
        if n.kind == OrgKind::Household {
            let (s, v) = app
                .get(&format!("/api/v1/org/households/{}/residents", n.id), token)
                .await;
            check!(s == want, "residents of {path} for {who:?}: {s}");
            if visible {
                let here: Vec<String> = sorted(
                    w.residents
                        .iter()
                        .filter(|(_, p, _)| p == path)
                        .map(|(id, _, _)| id.clone())
                        .collect(),
                );
                check!(
                    sorted(ids_of(&v)) == here,
                    "residents of {path} for {who:?}"
                );
            }
        }
    }
    // Every resident by id, and unmasking those of the case.
    for (id, p, _) in w.residents.iter().filter(|(_, p, _)| near(p)) {
        let s = app
            .get(&format!("/api/v1/org/residents/{id}"), token)
            .await
            .0;
        let visible = who.sees_registry(p);
        let want = if visible {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        };
        check!(s == want, "resident at {p} for {who:?}: {s}");
        if within(p, &root) {
            let s = app
                .get(
                    &format!("/api/v1/org/residents/{id}?unmask=true&reason=核实身份"),
                    token,
                )
                .await
                .0;
            let want = if who.covers(Role::ORG_ADMINS, p) {
                StatusCode::OK
            } else if visible {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::NOT_FOUND
            };
            check!(s == want, "unmasking the resident at {p} for {who:?}: {s}");
            seen.add(4, usize::from(s == StatusCode::FORBIDDEN));
        }
    }

    // Counts: the indicators over the due day.
    let due_in = |within_node: Option<&str>| {
        let mut due_n = 0;
        let mut closed_n = 0;
        for (id, closed) in due {
            let p = &w.demands.iter().find(|d| &d.0 == id).unwrap().1;
            if who.covers(Role::CASE_STAFF, p) && within_node.is_none_or(|n| within(p, n)) {
                due_n += 1;
                closed_n += i64::from(*closed);
            }
        }
        (due_n, closed_n)
    };
    let staff = who.grants.iter().any(|(r, _)| Role::CASE_STAFF.contains(r));
    let rates = |org: Option<&str>| match org {
        Some(id) => format!("/api/v1/insight/rates?from={DUE_DAY}&to={DUE_DAY}&org={id}"),
        None => format!("/api/v1/insight/rates?from={DUE_DAY}&to={DUE_DAY}"),
    };
    let (s, v) = app.get(&rates(None), token).await;
    if staff {
        let (d, c) = due_in(None);
        seen.add(3, d);
        check!(
            s == StatusCode::OK && v["due"] == d && v["closed"] == c,
            "rates for {who:?}: {s} {v}, want due {d} closed {c}"
        );
    } else {
        check!(s == StatusCode::FORBIDDEN, "rates for {who:?}: {s}");
    }
    for n in nodes.iter().step_by(2) {
        let path = n.org_path.as_str();
        let (s, v) = app.get(&rates(Some(&n.id)), token).await;
        let case_scope = who
            .grants
            .iter()
            .any(|(r, g)| Role::CASE_STAFF.contains(r) && (within(path, g) || within(g, path)));
        if !staff {
            check!(
                s == StatusCode::FORBIDDEN,
                "rates at {path} for {who:?}: {s}"
            );
        } else if who.sees_registry(path) && case_scope {
            let (d, c) = due_in(Some(path));
            check!(
                s == StatusCode::OK && v["due"] == d && v["closed"] == c,
                "rates at {path} for {who:?}: {s} {v}, want due {d} closed {c}"
            );
        } else {
            check!(
                s == StatusCode::NOT_FOUND,
                "rates at {path} for {who:?}: {s}"
            );
        }
    }

    // Exports: the residents workbook of a node.
    for n in nodes.iter().step_by(4).chain(demo.iter()) {
        let path = n.org_path.as_str();
        let r = app
            .client
            .get(app.url(&format!("/api/v1/org/export.xlsx?org={}", n.id)))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let s = r.status();
        if who.covers(Role::REGISTRY_READERS, path) {
            check!(s == StatusCode::OK, "export of {path} for {who:?}: {s}");
            let got = workbook_rows(&r.bytes().await.unwrap());
            let mut want: Vec<(String, String)> = w
                .residents
                .iter()
                .filter(|(_, p, _)| within(p, path))
                .map(|(_, p, name)| (name.clone(), p.clone()))
                .collect();
            want.sort();
            check!(got == want, "export of {path} for {who:?}");
            seen.add(2, got.len());
        } else if who.sees_registry(path) {
            check!(
                s == StatusCode::FORBIDDEN,
                "export of {path} for {who:?}: {s}"
            );
        } else {
            check!(
                s == StatusCode::NOT_FOUND,
                "export of {path} for {who:?}: {s}"
            );
        }
    }
    Ok(())
}

/// Notices: every entry of an account's inbox is about a demand it may see,
/// and an entry opens for its owner only (404 for every other account).
async fn check_notices(
    app: &TestApp,
    accounts: &[(Who, String)],
    w: &World,
    seen: &Seen,
) -> Result<(), TestCaseError> {
    let mut entries: Vec<(usize, String)> = Vec::new();
    for (k, (who, token)) in accounts.iter().enumerate() {
        let (s, v) = app.get("/api/v1/notify/inbox?limit=100", token).await;
        check!(
            s == StatusCode::OK && v["next_cursor"].is_null(),
            "the notices of {who:?}: {s}"
        );
        for item in v["items"].as_array().unwrap() {
            entries.push((k, item["id"].as_str().unwrap().to_string()));
            if item["object_type"] == "demand" {
                let id = item["object_id"].as_str().unwrap_or_default();
                if let Some((_, p, _, _)) = w.demands.iter().find(|d| d.0 == id) {
                    check!(who.sees_demand(p), "a notice about {p} for {who:?}");
                    seen.add(7, 1);
                }
            }
        }
    }
    for (owner, id) in &entries {
        for (k, (who, token)) in accounts.iter().enumerate() {
            let s = app
                .get(&format!("/api/v1/notify/inbox/{id}"), token)
                .await
                .0;
            let want = if k == *owner {
                StatusCode::OK
            } else {
                StatusCode::NOT_FOUND
            };
            check!(s == want, "another account's notice for {who:?}: {s}");
        }
    }
    Ok(())
}

/// What the cases exercised, so a run that compared only empty answers
/// fails: demands listed, demands hidden (404), exported rows, due demands
/// counted, unmaskings refused (403), inbox rows, similar demands, notices.
struct Seen(std::sync::Mutex<[usize; 8]>);

impl Seen {
    fn add(&self, what: usize, n: usize) {
        self.0.lock().unwrap()[what] += n;
    }
}

fn demo_paths(demo: &[NodeRow]) -> Vec<String> {
    demo.iter()
        .map(|n| n.org_path.as_str().to_string())
        .collect()
}

#[test]
fn random_trees_grants_and_records_match_the_reference_model() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(spawn_app());
    let (demo, categories, hash) = rt.block_on(async {
        let mut demo = Vec::new();
        for p in ["/141100/", ZHANQIAN, XC, XC_101, FH] {
            demo.push(
                org::store::get_node_by_path(&app.ctx.db, p)
                    .await
                    .unwrap()
                    .unwrap(),
            );
        }
        let categories: Vec<String> =
            sqlx::query("SELECT code FROM demand_categories ORDER BY code LIMIT 2")
                .fetch_all(app.ctx.db.reader())
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
        let hash = accounts::model::hash_password(PASSWORD);
        (demo, categories, hash)
    });
    assert_eq!(categories.len(), 2);
    let cases = std::env::var("LIANXIN_BOLA_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);
    // A fixed seed by default, so CI is deterministic and every area is
    // compared (a random run can draw 32 cases in which nobody is notified);
    // `LIANXIN_BOLA_SEED=<n>` explores other worlds.
    let seed = std::env::var("LIANXIN_BOLA_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_261_129u64);
    println!("bola_props: LIANXIN_BOLA_SEED={seed}");
    let mut runner = TestRunner::new(Config {
        cases,
        rng_seed: proptest::test_runner::RngSeed::Fixed(seed),
        failure_persistence: None,
        max_shrink_iters: 64,
        ..Config::default()
    });
    let n = std::sync::atomic::AtomicUsize::new(0);
    let roots = std::sync::Mutex::new(Vec::<String>::new());
    let seen = Seen(std::sync::Mutex::new([0; 8]));
    runner
        .run(&case_strategy(), |case| {
            let n = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            rt.block_on(async {
                let (nodes, accounts, due) =
                    write_case(&app, &case, n, &demo, &categories, &hash).await;
                let w = world(&app).await;
                let kinds: BTreeMap<String, OrgKind> = nodes
                    .iter()
                    .map(|n| (n.org_path.as_str().to_string(), n.kind))
                    .collect();
                // The previous case's root: its records are checked too (its
                // root code is a string prefix of this one's or the reverse).
                let previous: Vec<String> = roots
                    .lock()
                    .unwrap()
                    .iter()
                    .rev()
                    .take(1)
                    .cloned()
                    .collect();
                for (who, token) in &accounts {
                    check_account(
                        &app,
                        who,
                        token,
                        &case,
                        &nodes,
                        &demo,
                        &w,
                        &due,
                        &categories,
                        &kinds,
                        &previous,
                        &seen,
                    )
                    .await?;
                }
                check_notices(&app, &accounts, &w, &seen).await?;
                roots
                    .lock()
                    .unwrap()
                    .push(nodes[0].org_path.as_str().to_string());
                Ok(())
            })
        })
        .unwrap();
    let seen = seen.0.into_inner().unwrap();
    assert!(
        seen.iter().all(|n| *n > 0),
        "the cases compared nothing in places (listed, hidden, exported, due, refused, inbox, similar, notices): {seen:?}"
    );
}
