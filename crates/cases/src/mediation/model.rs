//! Pure rules of a mediation case (矛盾调解): its statuses and which steps
//! each allows, the outcomes, the parties' and mediators' kinds, and the
//! checks of every input. No IO.

use kernel::{clock, text, FieldErrors, Role};
use serde::{Deserialize, Serialize};

/// Staff who open and record mediations where their grant covers the
/// compound (and who may serve as mediators there).
pub const MEDIATION_STAFF: &[Role] = &[
    Role::PartyBranchSecretary,
    Role::PartyGroupLeader,
    Role::Butler,
    Role::PropertyStaff,
    Role::PropertyManager,
    Role::CommunityStaff,
    Role::StreetAdmin,
    Role::DistrictAdmin,
    Role::CityAdmin,
];

pub const TITLE_MAX: usize = 60;
pub const SUMMARY_MAX: usize = 2000;
pub const PLACE_MAX: usize = 100;
pub const NOTES_MAX: usize = 4000;
pub const AGREEMENT_MAX: usize = 4000;
pub const OUTCOME_NOTE_MAX: usize = 1000;
pub const MAX_PARTIES: usize = 20;
pub const MAX_MEDIATORS: usize = 10;
/// A session or visit may be recorded up to a day ahead (clock skew, a
/// visit fixed for the next morning), never further.
pub const MAX_AHEAD_MS: i64 = 24 * 3600 * 1000;
/// Nothing before 2000-01-01T00:00:00+08:00 is a plausible record.
pub const EARLIEST_MS: i64 = 946_656_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MediationStatus {
    /// 调解中: sessions are being held.
    Open,
    /// 已达成协议
    Agreed,
    /// 未达成协议
    NoAgreement,
    /// 已移交 (人民调解委员会 or court)
    Referred,
    /// 已结案: final, nothing more is recorded.
    Closed,
}

impl MediationStatus {
    pub const ALL: [MediationStatus; 5] = [
        MediationStatus::Open,
        MediationStatus::Agreed,
        MediationStatus::NoAgreement,
        MediationStatus::Referred,
        MediationStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MediationStatus::Open => "open",
            MediationStatus::Agreed => "agreed",
            MediationStatus::NoAgreement => "no_agreement",
            MediationStatus::Referred => "referred",
            MediationStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<MediationStatus> {
        MediationStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            MediationStatus::Open => "调解中",
            MediationStatus::Agreed => "已达成协议",
            MediationStatus::NoAgreement => "未达成协议",
            MediationStatus::Referred => "已移交",
            MediationStatus::Closed => "已结案",
        }
    }
}

/// How a mediation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// 达成调解协议
    Agreement,
    /// 未达成协议
    NoAgreement,
    /// 移交人民调解委员会
    ReferredPeopleCommittee,
    /// 引导通过诉讼解决 (移交法院)
    ReferredCourt,
}

impl OutcomeKind {
    pub const ALL: [OutcomeKind; 4] = [
        OutcomeKind::Agreement,
        OutcomeKind::NoAgreement,
        OutcomeKind::ReferredPeopleCommittee,
        OutcomeKind::ReferredCourt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Agreement => "agreement",
            OutcomeKind::NoAgreement => "no_agreement",
            OutcomeKind::ReferredPeopleCommittee => "referred_people_committee",
            OutcomeKind::ReferredCourt => "referred_court",
        }
    }

    pub fn parse(s: &str) -> Option<OutcomeKind> {
        OutcomeKind::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            OutcomeKind::Agreement => "达成调解协议",
            OutcomeKind::NoAgreement => "未达成协议",
            OutcomeKind::ReferredPeopleCommittee => "移交人民调解委员会",
            OutcomeKind::ReferredCourt => "移交法院",
        }
    }

    /// The status the case takes when this outcome is recorded.
    pub fn status(self) -> MediationStatus {
        match self {
            OutcomeKind::Agreement => MediationStatus::Agreed,
            OutcomeKind::NoAgreement => MediationStatus::NoAgreement,
            OutcomeKind::ReferredPeopleCommittee | OutcomeKind::ReferredCourt => {
                MediationStatus::Referred
            }
        }
    }

    /// Does this outcome close the demand the case came from? An agreement
    /// settles it and a referral hands it to a body outside the platform;
    /// without agreement the demand stays with its handlers.
    pub fn closes_demand(self) -> bool {
        !matches!(self, OutcomeKind::NoAgreement)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartyRole {
    Applicant,
    Respondent,
    Other,
}

impl PartyRole {
    pub const ALL: [PartyRole; 3] = [
        PartyRole::Applicant,
        PartyRole::Respondent,
        PartyRole::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PartyRole::Applicant => "applicant",
            PartyRole::Respondent => "respondent",
            PartyRole::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<PartyRole> {
        PartyRole::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            PartyRole::Applicant => "申请人",
            PartyRole::Respondent => "被申请人",
            PartyRole::Other => "其他当事人",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MediatorKind {
    PartyMember,
    Butler,
    CommunityStaff,
    PropertyStaff,
}

impl MediatorKind {
    pub const ALL: [MediatorKind; 4] = [
        MediatorKind::PartyMember,
        MediatorKind::Butler,
        MediatorKind::CommunityStaff,
        MediatorKind::PropertyStaff,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MediatorKind::PartyMember => "party_member",
            MediatorKind::Butler => "butler",
            MediatorKind::CommunityStaff => "community_staff",
            MediatorKind::PropertyStaff => "property_staff",
        }
    }

    pub fn parse(s: &str) -> Option<MediatorKind> {
        MediatorKind::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            MediatorKind::PartyMember => "党员",
            MediatorKind::Butler => "楼宇管家",
            MediatorKind::CommunityStaff => "社区工作者",
            MediatorKind::PropertyStaff => "物业人员",
        }
    }

    /// What a role makes its holder at the table.
    pub fn of_role(role: Role) -> Option<MediatorKind> {
        match role {
            Role::PartyBranchSecretary | Role::PartyGroupLeader => Some(MediatorKind::PartyMember),
            Role::Butler => Some(MediatorKind::Butler),
            Role::PropertyStaff | Role::PropertyManager => Some(MediatorKind::PropertyStaff),
            Role::CommunityStaff | Role::StreetAdmin | Role::DistrictAdmin | Role::CityAdmin => {
                Some(MediatorKind::CommunityStaff)
            }
            _ => None,
        }
    }

    /// The kind of a mediator holding these roles (over the compound):
    /// party membership first (党建引领), then butler, community, property.
    pub fn of_roles(roles: &[Role]) -> Option<MediatorKind> {
        let kinds: Vec<MediatorKind> = roles.iter().filter_map(|r| Self::of_role(*r)).collect();
        [
            MediatorKind::PartyMember,
            MediatorKind::Butler,
            MediatorKind::CommunityStaff,
            MediatorKind::PropertyStaff,
        ]
        .into_iter()
        .find(|k| kinds.contains(k))
    }
}

/// The steps recorded on a case after it is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Session,
    Outcome,
    Followup,
    Close,
}

impl Step {
    pub const ALL: [Step; 4] = [Step::Session, Step::Outcome, Step::Followup, Step::Close];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Session => "session",
            Step::Outcome => "outcome",
            Step::Followup => "followup",
            Step::Close => "close",
        }
    }
}

/// Which step each status allows: sessions and the (single) outcome while
/// open; follow-up visits once there is an outcome; closing after the
/// outcome; nothing once closed. Everything else is a wrong state (409).
pub fn allows(status: MediationStatus, step: Step) -> bool {
    use MediationStatus::*;
    match step {
        Step::Session | Step::Outcome => status == Open,
        Step::Followup | Step::Close => matches!(status, Agreed | NoAgreement | Referred),
    }
}

/// The status a step leads to (the outcome's own status for `Outcome`).
pub fn next_status(
    status: MediationStatus,
    step: Step,
    outcome: Option<OutcomeKind>,
) -> Option<MediationStatus> {
    if !allows(status, step) {
        return None;
    }
    match step {
        Step::Session | Step::Followup => Some(status),
        Step::Outcome => outcome.map(OutcomeKind::status),
        Step::Close => Some(MediationStatus::Closed),
    }
}

/// The Chinese reason a step is refused in a status.
pub fn refusal(status: MediationStatus, step: Step) -> &'static str {
    match (status, step) {
        (MediationStatus::Closed, _) => "该调解已结案,不能再记录",
        (_, Step::Session) => "已记录调解结果,不能再添加调解记录",
        (_, Step::Outcome) => "该调解已记录结果,不能重复记录",
        (_, Step::Followup) => "记录调解结果后才能登记回访",
        (_, Step::Close) => "请先记录调解结果再结案",
    }
}

/// One party as sent by the client.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartyInput {
    pub household_id: String,
    #[schema(value_type = PartyRole)]
    pub role: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewParty {
    pub household_id: String,
    pub role: PartyRole,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewMediation {
    pub title: String,
    pub summary: String,
    pub parties: Vec<NewParty>,
    /// Well-formed, distinct user ids (their standing is checked by the caller).
    pub mediators: Vec<String>,
}

fn well_formed_id(s: &str) -> Option<String> {
    kernel::id::parse_id(s.trim())
}

/// Checks a new case's own fields. Parties may be empty here (a case from
/// a demand defaults them); whether households and mediators exist and lie
/// in the compound is checked against the database by the caller.
pub fn validate_new(
    title: &str,
    summary: &str,
    parties: &[PartyInput],
    mediators: &[String],
) -> Result<NewMediation, FieldErrors> {
    let mut e = FieldErrors::new();
    let title = e.take("title", text::required(title, 2, TITLE_MAX, "标题"));
    let summary = e.take(
        "summary",
        text::multiline(summary, 5, SUMMARY_MAX, "纠纷概要"),
    );
    let mut out_parties = Vec::new();
    if parties.len() > MAX_PARTIES {
        e.add("parties", format!("当事人不能超过 {MAX_PARTIES} 户"));
    } else {
        for (i, p) in parties.iter().enumerate() {
            let n = i + 1;
            let id = well_formed_id(&p.household_id);
            let role = PartyRole::parse(p.role.trim());
            match (id, role) {
                (None, _) => e.add("parties", format!("第 {n} 位当事人的住户不存在")),
                (_, None) => e.add(
                    "parties",
                    format!("第 {n} 位当事人的身份应为 applicant、respondent 或 other"),
                ),
                (Some(id), Some(role)) => {
                    if out_parties.iter().any(|x: &NewParty| x.household_id == id) {
                        e.add("parties", format!("第 {n} 位当事人与前面的住户重复"));
                    } else {
                        out_parties.push(NewParty {
                            household_id: id,
                            role,
                        });
                    }
                }
            }
        }
    }
    let mut out_mediators: Vec<String> = Vec::new();
    if mediators.len() > MAX_MEDIATORS {
        e.add("mediators", format!("调解员不能超过 {MAX_MEDIATORS} 人"));
    } else {
        for (i, m) in mediators.iter().enumerate() {
            match well_formed_id(m) {
                None => e.add("mediators", format!("第 {} 位调解员不存在", i + 1)),
                Some(id) => {
                    if !out_mediators.contains(&id) {
                        out_mediators.push(id);
                    }
                }
            }
        }
    }
    e.check()
        .map_err(|err| err.fields().cloned().unwrap_or_default())?;
    Ok(NewMediation {
        title: title.expect("checked"),
        summary: summary.expect("checked"),
        parties: out_parties,
        mediators: out_mediators,
    })
}

/// A moment in RFC 3339, not before 2000 and at most a day ahead of `now`.
pub fn parse_moment(value: &str, now_ms: i64, label: &str) -> Result<i64, String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(format!("请填写{label}"));
    }
    if v.len() > 64 {
        return Err(format!(
            "{label}格式应为 RFC 3339,如 2026-11-29T09:00:00+08:00"
        ));
    }
    let ms = clock::from_rfc3339(v)
        .ok_or_else(|| format!("{label}格式应为 RFC 3339,如 2026-11-29T09:00:00+08:00"))?;
    if ms < EARLIEST_MS {
        return Err(format!("{label}不能早于 2000 年"));
    }
    if ms > now_ms.saturating_add(MAX_AHEAD_MS) {
        return Err(format!("{label}不能晚于当前时间"));
    }
    Ok(ms)
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewSession {
    pub held_at: i64,
    pub place: String,
    pub notes: String,
}

pub fn validate_session(
    held_at: &str,
    place: &str,
    notes: &str,
    now_ms: i64,
) -> Result<NewSession, FieldErrors> {
    let mut e = FieldErrors::new();
    let held_at = e.take("held_at", parse_moment(held_at, now_ms, "调解时间"));
    let place = e.take("place", text::required(place, 1, PLACE_MAX, "调解地点"));
    let notes = e.take("notes", text::multiline(notes, 2, NOTES_MAX, "调解记录"));
    e.check()
        .map_err(|err| err.fields().cloned().unwrap_or_default())?;
    Ok(NewSession {
        held_at: held_at.expect("checked"),
        place: place.expect("checked"),
        notes: notes.expect("checked"),
    })
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewOutcome {
    pub kind: OutcomeKind,
    pub agreement_text: Option<String>,
    pub note: Option<String>,
}

/// An agreement needs its text; the other outcomes must not carry one
/// (their explanation goes in `note`).
pub fn validate_outcome(
    kind: &str,
    agreement_text: Option<&str>,
    note: Option<&str>,
) -> Result<NewOutcome, FieldErrors> {
    let mut e = FieldErrors::new();
    let kind = OutcomeKind::parse(kind.trim());
    if kind.is_none() {
        e.add(
            "kind",
            "调解结果应为 agreement、no_agreement、referred_people_committee 或 referred_court",
        );
    }
    let text_given = agreement_text.map(str::trim).filter(|s| !s.is_empty());
    let agreement = match (kind, text_given) {
        (Some(OutcomeKind::Agreement), None) => {
            e.add("agreement_text", "达成协议时请填写协议内容");
            None
        }
        (Some(OutcomeKind::Agreement), Some(t)) => e.take(
            "agreement_text",
            text::multiline(t, 5, AGREEMENT_MAX, "协议内容"),
        ),
        (Some(_), Some(_)) => {
            e.add("agreement_text", "未达成协议时不填写协议内容,请写在说明中");
            None
        }
        (_, _) => None,
    };
    let note = match note.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(n) => e.take("note", text::multiline(n, 1, OUTCOME_NOTE_MAX, "说明")),
    };
    e.check()
        .map_err(|err| err.fields().cloned().unwrap_or_default())?;
    Ok(NewOutcome {
        kind: kind.expect("checked"),
        agreement_text: agreement,
        note,
    })
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewFollowup {
    pub visited_at: i64,
    pub notes: String,
    pub satisfied: Option<bool>,
}

pub fn validate_followup(
    visited_at: &str,
    notes: &str,
    satisfied: Option<bool>,
    now_ms: i64,
) -> Result<NewFollowup, FieldErrors> {
    let mut e = FieldErrors::new();
    let visited_at = e.take("visited_at", parse_moment(visited_at, now_ms, "回访时间"));
    let notes = e.take("notes", text::multiline(notes, 2, NOTES_MAX, "回访情况"));
    e.check()
        .map_err(|err| err.fields().cloned().unwrap_or_default())?;
    Ok(NewFollowup {
        visited_at: visited_at.expect("checked"),
        notes: notes.expect("checked"),
        satisfied,
    })
}

/// An optional closing note.
pub fn validate_close(note: Option<&str>) -> Result<Option<String>, FieldErrors> {
    let mut e = FieldErrors::new();
    let note = match note.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(n) => e.take("note", text::multiline(n, 1, OUTCOME_NOTE_MAX, "说明")),
    };
    e.check()
        .map_err(|err| err.fields().cloned().unwrap_or_default())?;
    Ok(note)
}

/// The note written on the demand's timeline when a mediation closes it.
pub fn demand_close_note(outcome: &NewOutcome) -> String {
    match outcome.kind {
        OutcomeKind::Agreement => {
            let text = outcome.agreement_text.as_deref().unwrap_or("");
            let short: String = text.chars().take(200).collect();
            let more = if text.chars().count() > 200 {
                "…"
            } else {
                ""
            };
            format!("经调解达成协议:{short}{more}")
        }
        k => match outcome.note.as_deref() {
            Some(n) => format!("调解结果:{};{n}", k.label_zh()),
            None => format!("调解结果:{}", k.label_zh()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_795_000_000_000; // 2026-11-18

    fn party(id: &str, role: &str) -> PartyInput {
        PartyInput {
            household_id: id.into(),
            role: role.into(),
        }
    }

    #[test]
    fn names_round_trip() {
        for s in MediationStatus::ALL {
            assert_eq!(MediationStatus::parse(s.as_str()), Some(s));
        }
        for k in OutcomeKind::ALL {
            assert_eq!(OutcomeKind::parse(k.as_str()), Some(k));
        }
        for r in PartyRole::ALL {
            assert_eq!(PartyRole::parse(r.as_str()), Some(r));
        }
        for k in MediatorKind::ALL {
            assert_eq!(MediatorKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(OutcomeKind::parse("AGREEMENT"), None);
    }

    /// The whole step table, state by state.
    #[test]
    fn step_table() {
        use MediationStatus::*;
        let table = [
            (Open, [true, true, false, false]),
            (Agreed, [false, false, true, true]),
            (NoAgreement, [false, false, true, true]),
            (Referred, [false, false, true, true]),
            (Closed, [false, false, false, false]),
        ];
        for (status, row) in table {
            for (step, want) in Step::ALL.into_iter().zip(row) {
                assert_eq!(allows(status, step), want, "{status:?} {step:?}");
                assert_eq!(
                    next_status(status, step, Some(OutcomeKind::Agreement)).is_some(),
                    want
                );
            }
        }
        assert_eq!(
            next_status(Open, Step::Outcome, Some(OutcomeKind::ReferredCourt)),
            Some(Referred)
        );
        assert_eq!(next_status(Open, Step::Session, None), Some(Open));
        assert_eq!(next_status(Agreed, Step::Close, None), Some(Closed));
        assert_eq!(next_status(Agreed, Step::Outcome, None), None);
        assert!(refusal(Closed, Step::Session).contains("已结案"));
        assert!(refusal(Agreed, Step::Outcome).contains("不能重复"));
    }

    #[test]
    fn outcomes_lead_where_they_should() {
        assert_eq!(OutcomeKind::Agreement.status(), MediationStatus::Agreed);
        assert_eq!(
            OutcomeKind::NoAgreement.status(),
            MediationStatus::NoAgreement
        );
        assert_eq!(
            OutcomeKind::ReferredPeopleCommittee.status(),
            MediationStatus::Referred
        );
        assert!(OutcomeKind::Agreement.closes_demand());
        assert!(OutcomeKind::ReferredCourt.closes_demand());
        assert!(OutcomeKind::ReferredPeopleCommittee.closes_demand());
        assert!(!OutcomeKind::NoAgreement.closes_demand());
    }

    #[test]
    fn outcome_checks() {
        let ok = validate_outcome("agreement", Some(" 老李负责维修下水管道 "), None).unwrap();
        assert_eq!(ok.kind, OutcomeKind::Agreement);
        assert_eq!(ok.agreement_text.as_deref(), Some("老李负责维修下水管道"));
        let e = validate_outcome("agreement", None, None).unwrap_err();
        assert!(e.0.contains_key("agreement_text"));
        let e = validate_outcome("agreement", Some("   "), None).unwrap_err();
        assert!(e.0.contains_key("agreement_text"));
        let e = validate_outcome("no_agreement", Some("双方同意"), None).unwrap_err();
        assert!(e.0.contains_key("agreement_text"));
        let e = validate_outcome("settled", None, None).unwrap_err();
        assert!(e.0.contains_key("kind"));
        let r = validate_outcome("referred_court", None, Some("双方分歧较大,引导诉讼")).unwrap();
        assert_eq!(r.note.as_deref(), Some("双方分歧较大,引导诉讼"));
        assert!(demand_close_note(&r).contains("移交法院"));
        let long = validate_outcome("agreement", Some(&"修".repeat(300)), None).unwrap();
        assert!(demand_close_note(&long).ends_with('…'));
    }

    #[test]
    fn new_case_checks() {
        let h1 = kernel::id::new_id();
        let h2 = kernel::id::new_id();
        let m = kernel::id::new_id();
        let ok = validate_new(
            " 楼上漏水纠纷 ",
            "楼上洗衣机下水管道漏水,渗到楼下卫生间吊顶",
            &[party(&h1, "applicant"), party(&h2, "respondent")],
            &[m.clone(), m.clone()],
        )
        .unwrap();
        assert_eq!(ok.title, "楼上漏水纠纷");
        assert_eq!(ok.parties.len(), 2);
        assert_eq!(ok.mediators, vec![m.clone()], "duplicates collapse");

        let e = validate_new("", "短", &[party("x", "applicant")], &["y".into()]).unwrap_err();
        for f in ["title", "summary", "parties", "mediators"] {
            assert!(e.0.contains_key(f), "{f}: {e:?}");
        }
        let e = validate_new(
            "漏水纠纷",
            "楼上洗衣机下水管道漏水",
            &[party(&h1, "applicant"), party(&h1, "respondent")],
            &[],
        )
        .unwrap_err();
        assert!(e.0["parties"][0].contains("重复"));
        let e = validate_new(
            "漏水纠纷",
            "楼上洗衣机下水管道漏水",
            &[party(&h1, "judge")],
            &[],
        )
        .unwrap_err();
        assert!(e.0.contains_key("parties"));
        let many: Vec<PartyInput> = (0..=MAX_PARTIES)
            .map(|_| party(&kernel::id::new_id(), "other"))
            .collect();
        assert!(validate_new("漏水纠纷", "楼上洗衣机下水管道漏水", &many, &[]).is_err());
    }

    #[test]
    fn moments_are_bounded() {
        assert!(parse_moment("2026-11-17T09:00:00+08:00", NOW, "调解时间").is_ok());
        assert!(parse_moment("2026-11-17 09:00", NOW, "调解时间").is_err());
        assert!(parse_moment("1999-12-31T09:00:00+08:00", NOW, "调解时间").is_err());
        assert!(parse_moment("2027-01-01T09:00:00+08:00", NOW, "调解时间")
            .unwrap_err()
            .contains("晚于"));
        assert_eq!(
            parse_moment("", NOW, "调解时间").unwrap_err(),
            "请填写调解时间"
        );
        let s =
            validate_session("2026-11-17T09:00:00+08:00", "3号楼楼下", "双方到场", NOW).unwrap();
        assert_eq!(s.place, "3号楼楼下");
        let e = validate_session("nope", "", "", NOW).unwrap_err();
        for f in ["held_at", "place", "notes"] {
            assert!(e.0.contains_key(f), "{f}");
        }
        let f =
            validate_followup("2026-11-17T09:00:00Z", "已修好,邻里和睦", Some(true), NOW).unwrap();
        assert_eq!(f.satisfied, Some(true));
        assert!(validate_followup("2026-11-17T09:00:00Z", "", None, NOW).is_err());
    }

    #[test]
    fn mediator_kinds_follow_roles() {
        assert_eq!(
            MediatorKind::of_roles(&[Role::PropertyManager, Role::PartyBranchSecretary]),
            Some(MediatorKind::PartyMember)
        );
        assert_eq!(
            MediatorKind::of_roles(&[Role::PropertyManager]),
            Some(MediatorKind::PropertyStaff)
        );
        assert_eq!(
            MediatorKind::of_roles(&[Role::StreetAdmin]),
            Some(MediatorKind::CommunityStaff)
        );
        assert_eq!(
            MediatorKind::of_roles(&[Role::Resident, Role::Auditor]),
            None
        );
        for r in MEDIATION_STAFF {
            assert!(MediatorKind::of_role(*r).is_some(), "{r:?}");
        }
        for r in [
            Role::Resident,
            Role::GridWorker,
            Role::Auditor,
            Role::Expert,
        ] {
            assert!(!MEDIATION_STAFF.contains(&r));
        }
    }

    proptest! {
        /// No input, however odd, makes any check panic.
        #[test]
        fn validation_never_panics(
            a in "\\PC{0,80}",
            b in "\\PC{0,80}",
            c in "\\PC{0,40}",
            ids in proptest::collection::vec("\\PC{0,40}", 0..25),
            sat in proptest::option::of(any::<bool>()),
            now in any::<i64>(),
        ) {
            let parties: Vec<PartyInput> = ids.iter().map(|i| party(i, &c)).collect();
            let _ = validate_new(&a, &b, &parties, &ids);
            let _ = validate_session(&a, &b, &c, now);
            let _ = validate_session(&c, &a, &b, NOW);
            let _ = validate_outcome(&a, Some(&b), Some(&c));
            let _ = validate_outcome(&c, None, Some(&a));
            let _ = validate_followup(&a, &b, sat, now);
            let _ = validate_close(Some(&a));
            let _ = parse_moment(&a, now, "时间");
            if let Ok(o) = validate_outcome("agreement", Some(&a), None) {
                let _ = demand_close_note(&o);
            }
        }

        /// Any well-formed RFC 3339 moment in range is accepted and kept exact.
        #[test]
        fn moments_in_range_round_trip(ms in EARLIEST_MS..NOW) {
            let s = kernel::clock::to_rfc3339(ms - ms % 1000);
            prop_assert_eq!(parse_moment(&s, NOW, "时间"), Ok(ms - ms % 1000));
        }
    }
}
