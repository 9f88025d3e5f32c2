//! The case workflow as one pure state machine (DESIGN.md §3, GB/T 30428 and
//! the 12345 接诉即办 practice). The transition table says, for each state and
//! action, who may take it and where it leads; everything else is refused
//! (409 for a wrong state, 403 for a wrong actor) and changes nothing.

use crate::model::DemandStatus::{self, *};
use serde::{Deserialize, Serialize};

/// What an actor is to one demand (derived from grants and assignment).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// The resident whose household filed it.
    Resident,
    /// The assignee (or their property manager).
    Handler,
    /// Who accepts and dispatches: property manager, community, street …
    Dispatcher,
    /// Who verifies and closes: community and above.
    Verifier,
    /// Street, district, city: supervision (督办) and approvals.
    Supervisor,
    /// The background job (overdue escalation).
    System,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Accept,
    Reject,
    Dispatch,
    Start,
    Return,
    Resolve,
    VerifyPass,
    VerifyFail,
    Suspend,
    Resume,
    Extend,
    Merge,
    Escalate,
    Reopen,
    Comment,
}

impl Action {
    pub const ALL: [Action; 15] = [
        Action::Accept,
        Action::Reject,
        Action::Dispatch,
        Action::Start,
        Action::Return,
        Action::Resolve,
        Action::VerifyPass,
        Action::VerifyFail,
        Action::Suspend,
        Action::Resume,
        Action::Extend,
        Action::Merge,
        Action::Escalate,
        Action::Reopen,
        Action::Comment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::Reject => "reject",
            Action::Dispatch => "dispatch",
            Action::Start => "start",
            Action::Return => "return",
            Action::Resolve => "resolve",
            Action::VerifyPass => "verify_pass",
            Action::VerifyFail => "verify_fail",
            Action::Suspend => "suspend",
            Action::Resume => "resume",
            Action::Extend => "extend",
            Action::Merge => "merge",
            Action::Escalate => "escalate",
            Action::Reopen => "reopen",
            Action::Comment => "comment",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Actions whose note is required (a reason the resident or the next
    /// handler must be able to read).
    pub fn needs_note(self) -> bool {
        matches!(
            self,
            Action::Reject
                | Action::Return
                | Action::Resolve
                | Action::VerifyFail
                | Action::Suspend
                | Action::Extend
                | Action::Reopen
                | Action::Comment
        )
    }
}

/// Where an action leads: a fixed state, the same state, or the state the
/// demand was in before it was suspended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    To(DemandStatus),
    Stay,
    BeforeSuspension,
}

pub struct Rule {
    pub from: &'static [DemandStatus],
    pub action: Action,
    pub actors: &'static [Actor],
    pub target: Target,
}

const OPEN: &[DemandStatus] = &[
    Submitted, Accepted, Dispatched, InProgress, Returned, Rework, Suspended,
];
const WORKING: &[DemandStatus] = &[Dispatched, InProgress, Rework];
const DISPATCHERS: &[Actor] = &[Actor::Dispatcher, Actor::Supervisor];

/// The transition table. Reading it top to bottom is reading the workflow.
pub const RULES: &[Rule] = &[
    Rule {
        from: &[Submitted],
        action: Action::Accept,
        actors: DISPATCHERS,
        target: Target::To(Accepted),
    },
    Rule {
        from: &[Submitted, Accepted, Returned],
        action: Action::Reject,
        actors: DISPATCHERS,
        target: Target::To(Rejected),
    },
    Rule {
        from: &[Accepted, Returned, Dispatched, Rework],
        action: Action::Dispatch,
        actors: DISPATCHERS,
        target: Target::To(Dispatched),
    },
    Rule {
        from: &[Dispatched, Rework],
        action: Action::Start,
        actors: &[Actor::Handler],
        target: Target::To(InProgress),
    },
    Rule {
        from: &[Dispatched, InProgress],
        action: Action::Return,
        actors: &[Actor::Handler],
        target: Target::To(Returned),
    },
    Rule {
        from: &[InProgress, Rework],
        action: Action::Resolve,
        actors: &[Actor::Handler],
        target: Target::To(Resolved),
    },
    Rule {
        from: &[Resolved],
        action: Action::VerifyPass,
        actors: &[Actor::Verifier],
        target: Target::To(Closed),
    },
    Rule {
        from: &[Resolved],
        action: Action::VerifyFail,
        actors: &[Actor::Verifier],
        target: Target::To(Rework),
    },
    Rule {
        from: WORKING,
        action: Action::Suspend,
        actors: DISPATCHERS,
        target: Target::To(Suspended),
    },
    Rule {
        from: &[Suspended],
        action: Action::Resume,
        actors: DISPATCHERS,
        target: Target::BeforeSuspension,
    },
    Rule {
        from: WORKING,
        action: Action::Extend,
        actors: DISPATCHERS,
        target: Target::Stay,
    },
    Rule {
        from: &[Submitted, Accepted, Returned, Dispatched],
        action: Action::Merge,
        actors: DISPATCHERS,
        target: Target::To(Merged),
    },
    Rule {
        from: &[
            Submitted, Accepted, Returned, Dispatched, InProgress, Rework,
        ],
        action: Action::Escalate,
        actors: &[Actor::Supervisor, Actor::Verifier, Actor::System],
        target: Target::Stay,
    },
    Rule {
        from: &[Resolved, Closed],
        action: Action::Reopen,
        actors: &[Actor::Resident],
        target: Target::To(Dispatched),
    },
    Rule {
        from: OPEN,
        action: Action::Comment,
        actors: &[
            Actor::Resident,
            Actor::Handler,
            Actor::Dispatcher,
            Actor::Verifier,
            Actor::Supervisor,
        ],
        target: Target::Stay,
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The action does not apply in this state (409).
    WrongState,
    /// It applies, but not for this actor (403).
    NotAllowed,
}

/// Decides a transition. `actors` are all the capacities the caller holds
/// for this demand; `before_suspension` is the state recorded at suspend.
pub fn decide(
    from: DemandStatus,
    action: Action,
    actors: &[Actor],
    before_suspension: Option<DemandStatus>,
) -> Result<DemandStatus, Refusal> {
    let rule = RULES
        .iter()
        .find(|r| r.action == action && r.from.contains(&from))
        .ok_or(Refusal::WrongState)?;
    if !rule.actors.iter().any(|a| actors.contains(a)) {
        return Err(Refusal::NotAllowed);
    }
    Ok(match rule.target {
        Target::To(s) => s,
        Target::Stay => from,
        Target::BeforeSuspension => before_suspension.unwrap_or(InProgress),
    })
}

/// Is the case still being worked on (not closed, rejected or merged)?
pub fn is_open(s: DemandStatus) -> bool {
    OPEN.contains(&s)
}

/// The clock that runs for a state: waiting for dispatch, or for feedback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    Dispatch,
    Feedback,
    Stopped,
}

pub fn running_clock(s: DemandStatus) -> Clock {
    match s {
        Submitted | Accepted | Returned => Clock::Dispatch,
        Dispatched | InProgress | Rework => Clock::Feedback,
        _ => Clock::Stopped,
    }
}

/// A satisfaction score 1–5 (非常不满意 … 非常满意); 4 and 5 count as satisfied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Satisfaction(u8);

impl Satisfaction {
    pub fn new(v: i64) -> Result<Satisfaction, String> {
        if (1..=5).contains(&v) {
            Ok(Satisfaction(v as u8))
        } else {
            Err("满意度应为 1 到 5 的整数".into())
        }
    }
    pub fn value(self) -> i64 {
        self.0 as i64
    }
    pub fn is_satisfied(self) -> bool {
        self.0 >= 4
    }
}

/// Urgency classes with their default limits (minutes) and clock basis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Urgent,
    High,
    Normal,
    Low,
}

impl Urgency {
    pub const ALL: [Urgency; 4] = [
        Urgency::Urgent,
        Urgency::High,
        Urgency::Normal,
        Urgency::Low,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::Urgent => "urgent",
            Urgency::High => "high",
            Urgency::Normal => "normal",
            Urgency::Low => "low",
        }
    }

    pub fn parse(s: &str) -> Option<Urgency> {
        Urgency::ALL.into_iter().find(|u| u.as_str() == s)
    }

    /// (dispatch minutes, feedback minutes): 1 h / 2 h / 24 h to dispatch;
    /// 2 h / 24 h / 7 d / 15 d to feed back. Urgent limits run round the
    /// clock; the others count office time (a working day is 7 h).
    pub fn default_limits(self) -> (i64, i64) {
        match self {
            Urgency::Urgent => (60, 120),
            Urgency::High => (120, 24 * 60),
            Urgency::Normal => (7 * 60, 5 * 7 * 60),
            Urgency::Low => (7 * 60, 11 * 7 * 60),
        }
    }

    pub fn natural_clock(self) -> bool {
        self == Urgency::Urgent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_actors() -> Vec<Actor> {
        vec![
            Actor::Resident,
            Actor::Handler,
            Actor::Dispatcher,
            Actor::Verifier,
            Actor::Supervisor,
            Actor::System,
        ]
    }

    /// Every row of the table: allowed for its actors, refused (403) for the
    /// others, and every action in a state not listed is refused (409).
    #[test]
    fn every_row_of_the_table() {
        for rule in RULES {
            for &from in rule.from {
                for actor in all_actors() {
                    let got = decide(from, rule.action, &[actor], Some(InProgress));
                    if rule.actors.contains(&actor) {
                        let want = match rule.target {
                            Target::To(s) => s,
                            Target::Stay => from,
                            Target::BeforeSuspension => InProgress,
                        };
                        assert_eq!(got, Ok(want), "{from:?} {:?} by {actor:?}", rule.action);
                    } else {
                        assert_eq!(
                            got,
                            Err(Refusal::NotAllowed),
                            "{from:?} {:?} by {actor:?}",
                            rule.action
                        );
                    }
                }
            }
        }
        for from in DemandStatus::ALL {
            for action in Action::ALL {
                let listed = RULES
                    .iter()
                    .any(|r| r.action == action && r.from.contains(&from));
                if !listed {
                    assert_eq!(
                        decide(from, action, &all_actors(), None),
                        Err(Refusal::WrongState),
                        "{from:?} {action:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_main_path() {
        let d = [Actor::Dispatcher];
        let h = [Actor::Handler];
        let v = [Actor::Verifier];
        let mut s = Submitted;
        for (a, who, want) in [
            (Action::Accept, &d[..], Accepted),
            (Action::Dispatch, &d[..], Dispatched),
            (Action::Start, &h[..], InProgress),
            (Action::Resolve, &h[..], Resolved),
            (Action::VerifyFail, &v[..], Rework),
            (Action::Resolve, &h[..], Resolved),
            (Action::VerifyPass, &v[..], Closed),
        ] {
            s = decide(s, a, who, None).unwrap();
            assert_eq!(s, want);
        }
        assert_eq!(
            decide(Closed, Action::Reopen, &[Actor::Resident], None),
            Ok(Dispatched)
        );
        assert_eq!(
            decide(Closed, Action::Reopen, &[Actor::Handler], None),
            Err(Refusal::NotAllowed)
        );
    }

    #[test]
    fn resume_returns_to_where_it_was() {
        assert_eq!(
            decide(
                Suspended,
                Action::Resume,
                &[Actor::Dispatcher],
                Some(Dispatched)
            ),
            Ok(Dispatched)
        );
        assert_eq!(
            decide(
                Suspended,
                Action::Resume,
                &[Actor::Dispatcher],
                Some(Rework)
            ),
            Ok(Rework)
        );
    }

    #[test]
    fn final_states_are_final() {
        for s in [Rejected, Merged] {
            for a in Action::ALL {
                assert_eq!(decide(s, a, &all_actors(), None), Err(Refusal::WrongState));
            }
        }
        assert!(!is_open(Closed) && !is_open(Resolved) && is_open(Rework));
    }

    #[test]
    fn satisfaction_bounds() {
        assert!(Satisfaction::new(0).is_err());
        assert!(Satisfaction::new(6).is_err());
        assert!(Satisfaction::new(4).unwrap().is_satisfied());
        assert!(!Satisfaction::new(3).unwrap().is_satisfied());
    }

    #[test]
    fn clocks_run_per_state() {
        assert_eq!(running_clock(Submitted), Clock::Dispatch);
        assert_eq!(running_clock(Rework), Clock::Feedback);
        assert_eq!(running_clock(Suspended), Clock::Stopped);
    }
}
