//! Every row of the transition table, driven over HTTP on the real
//! database: for each rule and each state it starts from, a demand is
//! brought to that state, an allowed actor takes the action (success, the
//! state the table names), and an actor outside the rule is refused with 403.

use crate::helpers::*;
use cases::model::DemandStatus;
use cases::workflow::{Action, Actor, Target, RULES};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn login_of(actor: Actor) -> Option<&'static str> {
    match actor {
        Actor::Resident => Some("13800000001"),
        Actor::Handler => Some("butler-xc"),
        Actor::Dispatcher => Some("property-xc"),
        Actor::Verifier => Some("community-zq"),
        Actor::Supervisor => Some("street-cb"),
        Actor::System => None,
    }
}

/// Someone holding none of the rule's capacities for this demand.
fn outsider(actors: &[Actor]) -> &'static str {
    // property-xc dispatches; community-zq dispatches and verifies; the
    // resident of 102 next door is nothing to a demand of 101.
    if actors.contains(&Actor::Resident) && actors.contains(&Actor::Handler) {
        "13800000002"
    } else if !actors.contains(&Actor::Handler) {
        "butler-xc"
    } else {
        "13800000001"
    }
}

struct Driver<'a> {
    app: &'a TestApp,
    tokens: std::collections::HashMap<&'static str, String>,
}

impl Driver<'_> {
    async fn token(&mut self, login: &'static str) -> String {
        if !self.tokens.contains_key(login) {
            let t = self.app.token(login).await;
            self.tokens.insert(login, t);
        }
        self.tokens[login].clone()
    }

    async fn step(&mut self, login: &'static str, id: &str, body: Value) -> (StatusCode, Value) {
        let t = self.token(login).await;
        self.app
            .post(&format!("/api/v1/demands/{id}/transitions"), &t, body)
            .await
    }

    async fn must(&mut self, login: &'static str, id: &str, body: Value) {
        let (s, v) = self.step(login, id, body.clone()).await;
        assert_eq!(s, StatusCode::OK, "setup {body}: {v}");
    }

    async fn new_demand(&mut self) -> String {
        let t = self.token("13800000001").await;
        self.app.file_demand(&t, "转移表测试").await["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// A fresh demand brought to `state` along the usual path.
    async fn reach(&mut self, state: DemandStatus) -> String {
        use DemandStatus::*;
        let id = self.new_demand().await;
        let steps: Vec<(&'static str, Value)> = match state {
            Submitted => vec![],
            Accepted => vec![("property-xc", json!({"action": "accept"}))],
            Returned => vec![
                ("property-xc", json!({"action": "accept"})),
                ("property-xc", json!({"action": "dispatch"})),
                (
                    "butler-xc",
                    json!({"action": "return", "note": "不属于本人负责"}),
                ),
            ],
            Dispatched => vec![
                ("property-xc", json!({"action": "accept"})),
                ("property-xc", json!({"action": "dispatch"})),
            ],
            InProgress => vec![
                ("property-xc", json!({"action": "accept"})),
                ("property-xc", json!({"action": "dispatch"})),
                ("butler-xc", json!({"action": "start"})),
            ],
            Resolved | Closed | Rework => {
                let mut v = vec![
                    ("property-xc", json!({"action": "accept"})),
                    ("property-xc", json!({"action": "dispatch"})),
                    ("butler-xc", json!({"action": "start"})),
                    ("butler-xc", json!({"action": "resolve", "note": "已处理"})),
                ];
                if state == Closed {
                    v.push(("community-zq", json!({"action": "verify_pass"})));
                }
                if state == Rework {
                    v.push((
                        "community-zq",
                        json!({"action": "verify_fail", "note": "没修好"}),
                    ));
                }
                v
            }
            Suspended => vec![
                ("property-xc", json!({"action": "accept"})),
                ("property-xc", json!({"action": "dispatch"})),
                ("butler-xc", json!({"action": "start"})),
                (
                    "property-xc",
                    json!({"action": "suspend", "note": "等配件"}),
                ),
            ],
            Rejected | Merged => unreachable!("final states start no rule"),
        };
        for (login, body) in steps {
            self.must(login, &id, body).await;
        }
        id
    }

    async fn body_for(&mut self, action: Action) -> Value {
        let mut body = json!({"action": action.as_str()});
        if action.needs_note() {
            body["note"] = json!("测试说明");
        }
        match action {
            Action::Extend => body["extend_minutes"] = json!(420),
            Action::Merge => {
                let main = self.new_demand().await;
                body["into"] = json!(main);
            }
            _ => {}
        }
        body
    }
}

#[tokio::test]
async fn every_row_of_the_transition_table_over_http() {
    let app = spawn_app().await;
    let mut d = Driver {
        app: &app,
        tokens: Default::default(),
    };
    let mut checked = 0;
    for rule in RULES {
        for &from in rule.from {
            let Some(actor) = rule.actors.iter().copied().find(|a| login_of(*a).is_some()) else {
                continue;
            };
            // Refused for an outsider, and nothing changes.
            let id = d.reach(from).await;
            let body = d.body_for(rule.action).await;
            let out = outsider(rule.actors);
            let (s, v) = d.step(out, &id, body.clone()).await;
            assert!(
                s == StatusCode::FORBIDDEN || s == StatusCode::NOT_FOUND,
                "{from:?} {:?} by outsider {out}: {s} {v}",
                rule.action
            );
            let status = cases::store::get_demand(&app.ctx.db, &id)
                .await
                .unwrap()
                .unwrap()
                .status;
            assert_eq!(status, from, "a refused step changed nothing");

            // Allowed for the rule's actor, landing where the table says.
            let (s, v) = d.step(login_of(actor).unwrap(), &id, body).await;
            assert_eq!(
                s,
                StatusCode::OK,
                "{from:?} {:?} by {actor:?}: {v}",
                rule.action
            );
            let want = match rule.target {
                Target::To(t) => t,
                Target::Stay => from,
                Target::BeforeSuspension => DemandStatus::InProgress,
            };
            assert_eq!(v["status"], want.as_str(), "{from:?} {:?}", rule.action);
            checked += 1;
        }
    }
    let rows: usize = RULES.iter().map(|r| r.from.len()).sum();
    assert_eq!(
        checked, rows,
        "every (state, action) pair of the table was driven"
    );
}
