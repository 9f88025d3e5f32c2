//! Pure rules of party building: the kinds of organisation and where each
//! may be attached, officers and their terms, members' statuses and dates,
//! the three management modes, transfers, activities (三会一课 and themed
//! days) and what each kind of organisation is required to hold per quarter,
//! volunteer hours and points, the floating members' contact rule, who may
//! see and do what with a member record, and the statistics. No IO.

use chrono::{Datelike, Months, NaiveDate};
use kernel::personal::{IdCardNumber, PhoneNumber};
use kernel::{text, FieldErrors, Role};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

// ---------------------------------------------------------------- who

/// The party-organisation roles. Their holders read member records in full
/// (unmasked) and do the branch's work wherever their grant covers the
/// organisation's attachment node (a grant on a compound covers the
/// compound's branch and its buildings' groups; a grant on a community
/// covers the community committee and everything under it).
pub const PARTY_ROLES: &[Role] = &[Role::PartyBranchSecretary, Role::PartyGroupLeader];

/// The overseers (the community and the street/district/city levels, who
/// supervise party building in their subtree as the 党工委 and 组织部 do).
///
/// Decision (issue #6, "Privacy"): party membership is sensitive, so an
/// overseer who does NOT also hold a party role over the organisation sees
/// the organisations, officers' posts, activities (without attendance
/// names), statistics, and member lists only **masked** — name 雷*, no
/// phone, ID masked, dates reduced to the year, no whereabouts — and exports
/// masked. They may set up the structure (organisations, service centres)
/// but never write member records (403). Everyone else (residents, butlers,
/// property staff, grid workers, experts, agency staff, auditors) gets 404
/// for every member record, except a member reading their own.
pub const OVERSEERS: &[Role] = &[
    Role::CommunityStaff,
    Role::StreetAdmin,
    Role::DistrictAdmin,
    Role::CityAdmin,
];

/// Who sees a mediation's title on a member's page: the same staff who may
/// read mediations (mirrors `cases::mediation::model::MEDIATION_STAFF`,
/// which this crate does not depend on).
pub const MEDIATION_READERS: &[Role] = &[
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

/// What the caller is to one member record. Every field is a fact the API
/// establishes from the caller's grants and the member's organisations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemberAccess {
    /// A party role over the member's home branch (组织关系所在支部).
    pub home: bool,
    /// A party role over the member's party group (楼宇党小组).
    pub group: bool,
    /// A party role over the organisation an in-service member registered
    /// at (双报到, the residential community's branch).
    pub registered: bool,
    /// The member themself (their account is linked to the record).
    pub own: bool,
    /// An overseer over any of the member's organisations.
    pub overseer: bool,
}

impl MemberAccess {
    /// May see the record at all (else 404).
    pub fn visible(self) -> bool {
        self.home || self.group || self.registered || self.own || self.overseer
    }
    /// Sees names, phone, ID, dates and whereabouts unmasked.
    pub fn unmasked(self) -> bool {
        self.home || self.group || self.registered || self.own
    }
    /// Edits personal fields, status, mode, designations, group; transfers;
    /// appoints to office — the home branch's business only.
    pub fn manage(self) -> bool {
        self.home
    }
    /// Records a floating member's check-in: the home branch, or the member.
    pub fn check_in(self) -> bool {
        self.home || self.own
    }
    /// Records volunteer service (and, for staff, assigns tasks): the home
    /// branch, the branch of registration (双报到 service is done there), or
    /// the member reporting their own (pending until the branch verifies).
    pub fn record_service(self) -> bool {
        self.home || self.registered || self.own
    }
    /// Registers or ends a 双报到 registration: the home branch (the work
    /// unit sends its members) — the receiving branch may too, checked
    /// against the target organisation by the caller.
    pub fn register(self) -> bool {
        self.home || self.registered
    }
    /// The relation shown in lists: the strongest one.
    pub fn relation(self) -> &'static str {
        if self.home {
            "home"
        } else if self.group {
            "group"
        } else if self.registered {
            "registered"
        } else if self.own {
            "own"
        } else {
            "overseen"
        }
    }
}

// ---------------------------------------------------------------- enums

macro_rules! code_enum {
    ($(#[$m:meta])* $name:ident { $($v:ident => $code:literal, $zh:literal, $en:literal);+ $(;)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($v),+ }

        /// Serialised as its code, exactly as `as_str` spells it.
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::ALL
                    .iter()
                    .copied()
                    .find(|x| x.as_str() == s)
                    .ok_or_else(|| serde::de::Error::custom(format!("unknown variant `{s}`")))
            }
        }

        /// Documented as a string enum of the codes.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($code),+]))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $code),+ }
            }
            pub fn label_zh(self) -> &'static str {
                match self { $($name::$v => $zh),+ }
            }
            pub fn label_en(self) -> &'static str {
                match self { $($name::$v => $en),+ }
            }
            pub fn label(self, en: bool) -> &'static str {
                if en { self.label_en() } else { self.label_zh() }
            }
            /// The code, or the Chinese label (Excel cells use labels).
            pub fn parse(s: &str) -> Option<$name> {
                let s = s.trim();
                Self::ALL.iter().copied().find(|x| x.as_str() == s || x.label_zh() == s)
            }
        }
    };
}

code_enum!(
    /// 社区党委 / 党支部 / 党小组.
    PartyOrgKind {
        Committee => "committee", "党委", "Party committee";
        Branch => "branch", "党支部", "Party branch";
        Group => "group", "党小组", "Party group";
    }
);

code_enum!(
    /// Officers' posts.
    OfficerPosition {
        Secretary => "secretary", "书记", "Secretary";
        DeputySecretary => "deputy_secretary", "副书记", "Deputy secretary";
        OrganisationMember => "organisation_member", "组织委员", "Organisation member";
        PublicityMember => "publicity_member", "宣传委员", "Publicity member";
        DisciplineMember => "discipline_member", "纪检委员", "Discipline member";
        CommitteeMember => "committee_member", "委员", "Committee member";
        GroupLeader => "group_leader", "小组长", "Group leader";
    }
);

code_enum!(
    /// 积极分子 / 预备党员 / 正式党员.
    MemberStatus {
        Activist => "activist", "入党积极分子", "Activist";
        Probationary => "probationary", "预备党员", "Probationary member";
        Full => "full", "正式党员", "Full member";
    }
);

code_enum!(
    /// 直接管 / 双重管 / 跟进管.
    ManagementMode {
        Resident => "resident", "居民党员(直接管)", "Resident member (managed directly)";
        InService => "in_service", "在职党员(双重管)", "In-service member (dual management)";
        Floating => "floating", "流动党员(跟进管)", "Floating member (followed up)";
    }
);

code_enum!(
    /// 三会一课 and themed days.
    ActivityKind {
        BranchAssembly => "branch_assembly", "支部党员大会", "Branch assembly";
        BranchCommittee => "branch_committee", "支部委员会", "Branch committee meeting";
        GroupMeeting => "group_meeting", "党小组会", "Party group meeting";
        PartyLecture => "party_lecture", "党课", "Party lecture";
        ThemedDay => "themed_day", "主题党日", "Themed party day";
    }
);

code_enum!(
    AttendanceStatus {
        Present => "present", "出席", "Present";
        Excused => "excused", "请假", "Excused";
        Absent => "absent", "缺席", "Absent";
    }
);

code_enum!(
    VolunteerStatus {
        Pending => "pending", "待核实", "Awaiting verification";
        Verified => "verified", "已核实", "Verified";
        Rejected => "rejected", "未通过", "Not accepted";
    }
);

code_enum!(
    /// The two bodies of 双向进入、交叉任职.
    CrossBody {
        OwnersCommittee => "owners_committee", "业主委员会", "Owners' committee";
        PropertyCompany => "property_company", "物业公司", "Property company";
    }
);

code_enum!(
    CrossDirection {
        IntoBody => "into_body", "党员进入", "Party member serves in the body";
        IntoBranch => "into_branch", "进入支部班子", "Body's member serves on the branch committee";
    }
);

code_enum!(
    /// The red-butler roster: building butlers and party-member volunteers.
    ButlerRole {
        Butler => "butler", "楼宇管家", "Building butler";
        PartyVolunteer => "party_volunteer", "党员志愿者", "Party-member volunteer";
    }
);

code_enum!(
    CheckinChannel {
        SelfReport => "self", "本人报到", "Reported by the member";
        Branch => "branch", "支部联系", "Recorded by the branch";
    }
);

// ---------------------------------------------------------------- limits

pub const NAME_MAX: usize = 32;
pub const ORG_NAME_MAX: usize = 60;
pub const TITLE_MAX: usize = 60;
pub const PLACE_MAX: usize = 100;
pub const MINUTES_MAX: usize = 10_000;
pub const NOTE_MAX: usize = 500;
pub const DESCRIPTION_MAX: usize = 1000;
pub const WORK_UNIT_MAX: usize = 60;
pub const POST_MAX: usize = 30;
pub const MAX_ATTENDANCE: usize = 500;
/// A term of office lasts at most five years (社区党组织每届任期五年;
/// 党支部委员会三年或五年).
pub const MAX_TERM_YEARS: u32 = 5;
/// 预备期一年, extended by at most one more year.
pub const PROBATION_MIN_MONTHS: u32 = 12;
pub const PROBATION_MAX_MONTHS: u32 = 24;
/// 年满十八岁 may join the Party.
pub const MIN_JOIN_AGE: u32 = 18;
/// A floating member is to be in contact with the home branch at least
/// once a quarter; longer without a check-in is overdue (失联预警).
pub const FLOATING_CONTACT_DAYS: i64 = 90;
/// Volunteer points per verified hour.
pub const POINTS_PER_HOUR: i64 = 10;
/// One volunteer record: at most a day's work, in half hours.
pub const MAX_SERVICE_MINUTES: i64 = 24 * 60;
/// Activities may be entered up to 60 days ahead (planned) …
pub const MAX_ACTIVITY_AHEAD_MS: i64 = 60 * 24 * 3600 * 1000;
/// … and nothing before 2000-01-01T00:00:00+08:00 is plausible.
pub const EARLIEST_MS: i64 = 946_656_000_000;

/// The founding of the Party; no party date lies before it.
pub fn founding() -> NaiveDate {
    NaiveDate::from_ymd_opt(1921, 7, 1).expect("valid date")
}

// ---------------------------------------------------------------- dates

/// A date as `YYYY-MM-DD`.
pub fn parse_date(value: &str, label: &str) -> Result<NaiveDate, String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(format!("请填写{label}"));
    }
    if v.len() != 10 {
        return Err(format!("{label}格式应为 YYYY-MM-DD,如 2021-07-01"));
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .map_err(|_| format!("{label}格式应为 YYYY-MM-DD,如 2021-07-01"))
}

/// An optional date (empty → None).
pub fn parse_opt_date(value: Option<&str>, label: &str) -> Result<Option<NaiveDate>, String> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => parse_date(v, label).map(Some),
    }
}

pub fn fmt_date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// The day `ms` falls on in Beijing.
pub fn day_of(ms: i64) -> NaiveDate {
    use chrono::TimeZone;
    kernel::clock::shanghai()
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.date_naive())
        .unwrap_or_else(founding)
}

fn add_months(d: NaiveDate, months: u32) -> NaiveDate {
    d.checked_add_months(Months::new(months))
        .unwrap_or(NaiveDate::MAX)
}

/// The birth date in an 18-digit ID-card number.
pub fn birth_date(id: &IdCardNumber) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(&id.as_str()[6..14], "%Y%m%d").ok()
}

// ---------------------------------------------------------------- organisations

impl PartyOrgKind {
    /// The org-node kinds an organisation of this kind may be attached to:
    /// a committee to a community or village; a branch to a compound (小区
    /// 党支部), a community or village, or an agency (a work unit's branch,
    /// where in-service members' organisation relation lies); a party group
    /// to a building (楼宇党小组) or a compound.
    pub fn attach_kinds(self) -> &'static [&'static str] {
        match self {
            PartyOrgKind::Committee => &["community", "village"],
            PartyOrgKind::Branch => &["compound", "community", "village", "agency"],
            PartyOrgKind::Group => &["building", "compound"],
        }
    }

    /// The kind of parent this kind needs (`None` in the slice: may stand alone).
    pub fn parent_kinds(self) -> &'static [Option<PartyOrgKind>] {
        match self {
            PartyOrgKind::Committee => &[None],
            // A work unit's branch usually has no committee in the platform.
            PartyOrgKind::Branch => &[None, Some(PartyOrgKind::Committee)],
            PartyOrgKind::Group => &[Some(PartyOrgKind::Branch)],
        }
    }

    /// Members' home organisation (组织关系) is always a branch.
    pub fn holds_members(self) -> bool {
        self == PartyOrgKind::Branch
    }
}

/// Is `kind` (an org node's kind) residential — where people live, so
/// resident members may be managed directly and in-service members may
/// register (双报到)?
pub fn residential(node_kind: &str) -> bool {
    matches!(node_kind, "compound" | "community" | "village" | "building")
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewOrg {
    pub kind: PartyOrgKind,
    pub name: String,
    pub founded_on: Option<NaiveDate>,
}

/// The organisation's own fields and its attachment; whether the parent
/// and the nodes fit together is [`check_nesting`].
pub fn validate_org(
    kind: &str,
    name: &str,
    founded_on: Option<&str>,
    node_kind: Option<&str>,
    today: NaiveDate,
) -> Result<NewOrg, FieldErrors> {
    let mut e = FieldErrors::new();
    let k = PartyOrgKind::parse(kind);
    if k.is_none() {
        e.add("kind", "组织类型应为 committee、branch 或 group");
    }
    let name = e.take("name", text::required(name, 2, ORG_NAME_MAX, "组织名称"));
    let founded = e
        .take("founded_on", parse_opt_date(founded_on, "成立日期"))
        .flatten();
    if let Some(d) = founded {
        if d > today || d < founding() {
            e.add(
                "founded_on",
                "成立日期不能晚于今天,也不能早于 1921 年 7 月 1 日",
            );
        }
    }
    match (k, node_kind) {
        (Some(k), Some(nk)) if !k.attach_kinds().contains(&nk) => e.add(
            "org_id",
            format!(
                "{}只能设在{}",
                k.label_zh(),
                k.attach_kinds()
                    .iter()
                    .map(|x| node_label(x))
                    .collect::<Vec<_>>()
                    .join("、")
            ),
        ),
        (_, None) => e.add("org_id", "所在的组织节点不存在"),
        _ => {}
    }
    e.check()
        .map_err(|err| err.fields().cloned().unwrap_or_default())?;
    Ok(NewOrg {
        kind: k.expect("checked"),
        name: name.expect("checked"),
        founded_on: founded,
    })
}

fn node_label(kind: &str) -> &'static str {
    match kind {
        "community" => "社区",
        "village" => "村",
        "compound" => "小区",
        "agency" => "单位(部门)",
        "building" => "楼栋",
        _ => "节点",
    }
}

/// How an organisation sits in the tree: its parent's kind and attachment
/// paths, its own primary node path, and the extra compounds of a joint
/// branch (联合党支部). A branch under a committee lies in the committee's
/// community; a group lies within its branch's area; only a branch may be
/// joint, and a joint branch's extra areas are compounds in the same
/// community as its primary node.
pub fn check_nesting(
    kind: PartyOrgKind,
    parent: Option<(PartyOrgKind, &[String])>,
    node_path: &str,
    extra: &[(String, String)],
) -> Result<(), FieldErrors> {
    let mut e = FieldErrors::new();
    let parent_kind = parent.map(|(k, _)| k);
    if !kind.parent_kinds().contains(&parent_kind) {
        e.add(
            "parent_id",
            match kind {
                PartyOrgKind::Committee => "党委不设上级组织",
                PartyOrgKind::Branch => "党支部的上级只能是党委",
                PartyOrgKind::Group => "党小组必须设在一个党支部之下",
            },
        );
    } else if let Some((_, parent_paths)) = parent {
        if !parent_paths
            .iter()
            .any(|p| node_path.starts_with(p.as_str()))
        {
            e.add("org_id", "下级组织所在的节点应在上级组织的范围之内");
        }
    }
    if !extra.is_empty() {
        if kind != PartyOrgKind::Branch {
            e.add("areas", "只有联合党支部可以覆盖多个小区");
        } else {
            let community = community_of(node_path);
            for (node_kind, path) in extra {
                if node_kind != "compound" {
                    e.add("areas", "联合党支部覆盖的范围只能是小区");
                    break;
                }
                if community_of(path) != community || path == node_path {
                    e.add("areas", "联合党支部覆盖的小区应在同一社区,且不能重复");
                    break;
                }
            }
        }
    }
    e.check()
        .map_err(|err| err.fields().cloned().unwrap_or_default())
}

/// The path of the node one level up (a compound's community).
fn community_of(path: &str) -> String {
    kernel::OrgPath::from_db(path.to_string())
        .parent()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default()
}

// ---------------------------------------------------------------- officers

impl OfficerPosition {
    /// The posts an organisation of this kind has.
    pub fn fits(self, kind: PartyOrgKind) -> bool {
        match self {
            OfficerPosition::GroupLeader => kind == PartyOrgKind::Group,
            _ => kind != PartyOrgKind::Group,
        }
    }
    /// Posts held by one person at a time.
    pub fn single(self) -> bool {
        matches!(
            self,
            OfficerPosition::Secretary | OfficerPosition::GroupLeader
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewOfficer {
    pub position: OfficerPosition,
    pub term_start: NaiveDate,
    pub term_end: Option<NaiveDate>,
}

pub fn validate_officer(
    position: &str,
    term_start: &str,
    term_end: Option<&str>,
    org_kind: PartyOrgKind,
) -> Result<NewOfficer, FieldErrors> {
    let mut e = FieldErrors::new();
    let pos = OfficerPosition::parse(position);
    match pos {
        None => e.add("position", "职务无效"),
        Some(p) if !p.fits(org_kind) => e.add(
            "position",
            format!("{}不设{}", org_kind.label_zh(), p.label_zh()),
        ),
        _ => {}
    }
    let start = e.take("term_start", parse_date(term_start, "任期开始日期"));
    let end = e
        .take("term_end", parse_opt_date(term_end, "任期届满日期"))
        .flatten();
    if let (Some(s), Some(t)) = (start, end) {
        if t <= s {
            e.add("term_end", "任期届满日期应晚于开始日期");
        } else if t > add_months(s, MAX_TERM_YEARS * 12) {
            e.add("term_end", format!("每届任期不超过 {MAX_TERM_YEARS} 年"));
        }
    }
    if start.is_some_and(|s| s < founding()) {
        e.add("term_start", "任期开始日期无效");
    }
    e.check()
        .map_err(|err| err.fields().cloned().unwrap_or_default())?;
    Ok(NewOfficer {
        position: pos.expect("checked"),
        term_start: start.expect("checked"),
        term_end: end,
    })
}

/// Is an office held on `day`? From its start, until it ended (resigned,
/// transferred) or its term ran out.
pub fn in_office(
    term_start: NaiveDate,
    term_end: Option<NaiveDate>,
    ended_on: Option<NaiveDate>,
    day: NaiveDate,
) -> bool {
    term_start <= day && term_end.is_none_or(|t| day <= t) && ended_on.is_none_or(|t| day < t)
}

// ---------------------------------------------------------------- members

/// The encrypted part of a member record: everything that says who the
/// person is, and their standing in the Party. Stored as one AES-GCM value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub name: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub id_card: Option<String>,
    pub status: Option<MemberStatus>,
    #[serde(default)]
    pub joined_on: Option<String>,
    #[serde(default)]
    pub full_on: Option<String>,
    /// The member's own account, if any.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The household (org node) the member lives in.
    #[serde(default)]
    pub household_id: Option<String>,
    /// In-service: the work unit (工作单位).
    #[serde(default)]
    pub work_unit: Option<String>,
    /// Floating: where they are now (流入地), since when, and why.
    #[serde(default)]
    pub whereabouts: Option<String>,
    #[serde(default)]
    pub away_since: Option<String>,
    #[serde(default)]
    pub away_reason: Option<String>,
}

impl Profile {
    pub fn status(&self) -> MemberStatus {
        self.status.unwrap_or(MemberStatus::Full)
    }
}

/// A member's fields as sent by a client (JSON, a form or an Excel row).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberInput {
    pub name: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub id_card: Option<String>,
    pub status: String,
    #[serde(default)]
    pub joined_on: Option<String>,
    #[serde(default)]
    pub full_on: Option<String>,
    pub mode: String,
    #[serde(default)]
    pub work_unit: Option<String>,
    #[serde(default)]
    pub whereabouts: Option<String>,
    #[serde(default)]
    pub away_since: Option<String>,
    #[serde(default)]
    pub away_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewMember {
    pub name: String,
    pub phone: Option<PhoneNumber>,
    pub id_card: Option<IdCardNumber>,
    pub status: MemberStatus,
    pub joined_on: Option<NaiveDate>,
    pub full_on: Option<NaiveDate>,
    pub mode: ManagementMode,
    pub work_unit: Option<String>,
    pub whereabouts: Option<String>,
    pub away_since: Option<NaiveDate>,
    pub away_reason: Option<String>,
}

impl NewMember {
    /// The profile to encrypt (links are filled in by the caller).
    pub fn profile(&self) -> Profile {
        Profile {
            name: self.name.clone(),
            phone: self.phone.as_ref().map(|p| p.as_str().to_string()),
            id_card: self.id_card.as_ref().map(|p| p.as_str().to_string()),
            status: Some(self.status),
            joined_on: self.joined_on.map(fmt_date),
            full_on: self.full_on.map(fmt_date),
            user_id: None,
            household_id: None,
            work_unit: self.work_unit.clone(),
            whereabouts: self.whereabouts.clone(),
            away_since: self.away_since.map(fmt_date),
            away_reason: self.away_reason.clone(),
        }
    }
}

/// The status's dates: an activist has neither date; a probationary member
/// has joined (入党) and is not yet full; a full member became full
/// (转正) one year after joining at the earliest and two at the latest.
/// Nobody joins before eighteen (when the ID number tells the birth date),
/// and no date lies in the future or before the Party's founding.
pub fn check_status_dates(
    status: MemberStatus,
    joined: Option<NaiveDate>,
    full: Option<NaiveDate>,
    birth: Option<NaiveDate>,
    today: NaiveDate,
    e: &mut FieldErrors,
) {
    match status {
        MemberStatus::Activist => {
            if joined.is_some() {
                e.add("joined_on", "入党积极分子还没有入党日期");
            }
            if full.is_some() {
                e.add("full_on", "入党积极分子还没有转正日期");
            }
        }
        MemberStatus::Probationary => {
            if joined.is_none() {
                e.add("joined_on", "预备党员应填写入党日期");
            }
            if full.is_some() {
                e.add("full_on", "预备党员还没有转正日期");
            }
        }
        MemberStatus::Full => {
            if joined.is_none() {
                e.add("joined_on", "正式党员应填写入党日期");
            }
            if full.is_none() {
                e.add("full_on", "正式党员应填写转正日期");
            }
        }
    }
    for (field, d, label) in [
        ("joined_on", joined, "入党日期"),
        ("full_on", full, "转正日期"),
    ] {
        if let Some(d) = d {
            if d > today {
                e.add(field, format!("{label}不能晚于今天"));
            } else if d < founding() {
                e.add(field, format!("{label}不能早于 1921 年 7 月 1 日"));
            }
        }
    }
    if let (Some(j), Some(f)) = (joined, full) {
        if f < add_months(j, PROBATION_MIN_MONTHS) {
            e.add("full_on", "预备期为一年,转正日期应在入党一年之后");
        } else if f > add_months(j, PROBATION_MAX_MONTHS) {
            e.add("full_on", "预备期最长延长一年,转正日期不能晚于入党两年之后");
        }
    }
    if let (Some(j), Some(b)) = (joined, birth) {
        if j < add_months(b, MIN_JOIN_AGE * 12) {
            e.add("joined_on", "年满十八岁才能入党,入党日期早于本人十八岁生日");
        }
    }
}

/// Checks a member's fields (from JSON, a form or an Excel row).
pub fn validate_member(input: &MemberInput, today: NaiveDate) -> Result<NewMember, FieldErrors> {
    let mut e = FieldErrors::new();
    let name = e.take("name", text::required(&input.name, 1, NAME_MAX, "姓名"));
    let phone = match input
        .phone
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(p) => e.take("phone", PhoneNumber::parse(p)),
    };
    let id_card = match input
        .id_card
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(i) => e.take("id_card", IdCardNumber::parse(i)),
    };
    let status = MemberStatus::parse(&input.status);
    if status.is_none() {
        e.add("status", "党员状态应为 activist、probationary 或 full");
    }
    let joined = e
        .take(
            "joined_on",
            parse_opt_date(input.joined_on.as_deref(), "入党日期"),
        )
        .flatten();
    let full = e
        .take(
            "full_on",
            parse_opt_date(input.full_on.as_deref(), "转正日期"),
        )
        .flatten();
    if let Some(s) = status {
        check_status_dates(
            s,
            joined,
            full,
            id_card.as_ref().and_then(birth_date),
            today,
            &mut e,
        );
    }
    let mode = ManagementMode::parse(&input.mode);
    if mode.is_none() {
        e.add("mode", "管理方式应为 resident、in_service 或 floating");
    }
    let work_unit = e
        .take(
            "work_unit",
            text::optional(input.work_unit.as_deref(), WORK_UNIT_MAX, "工作单位"),
        )
        .flatten();
    let whereabouts = e
        .take(
            "whereabouts",
            text::optional(input.whereabouts.as_deref(), PLACE_MAX, "流出地"),
        )
        .flatten();
    let away_since = e
        .take(
            "away_since",
            parse_opt_date(input.away_since.as_deref(), "外出日期"),
        )
        .flatten();
    let away_reason = e
        .take(
            "away_reason",
            text::optional(input.away_reason.as_deref(), NOTE_MAX, "外出原因"),
        )
        .flatten();
    if let Some(m) = mode {
        check_mode_fields(
            m,
            work_unit.is_some(),
            whereabouts.is_some(),
            away_since,
            today,
            &mut e,
        );
    }
    e.check()
        .map_err(|err| err.fields().cloned().unwrap_or_default())?;
    let mode = mode.expect("checked");
    Ok(NewMember {
        name: name.expect("checked"),
        phone,
        id_card,
        status: status.expect("checked"),
        joined_on: joined,
        full_on: full,
        mode,
        // Fields of the other modes are not kept.
        work_unit: work_unit.filter(|_| mode == ManagementMode::InService),
        whereabouts: whereabouts.filter(|_| mode == ManagementMode::Floating),
        away_since: away_since.filter(|_| mode == ManagementMode::Floating),
        away_reason: away_reason.filter(|_| mode == ManagementMode::Floating),
    })
}

/// The fields each mode needs: an in-service member's work unit; a floating
/// member's whereabouts and the date they left (not in the future).
pub fn check_mode_fields(
    mode: ManagementMode,
    has_work_unit: bool,
    has_whereabouts: bool,
    away_since: Option<NaiveDate>,
    today: NaiveDate,
    e: &mut FieldErrors,
) {
    match mode {
        ManagementMode::Resident => {}
        ManagementMode::InService => {
            if !has_work_unit {
                e.add("work_unit", "在职党员应填写工作单位");
            }
        }
        ManagementMode::Floating => {
            if !has_whereabouts {
                e.add("whereabouts", "流动党员应填写流出地(现在所在地)");
            }
            match away_since {
                None => e.add("away_since", "流动党员应填写外出日期"),
                Some(d) if d > today => e.add("away_since", "外出日期不能晚于今天"),
                _ => {}
            }
        }
    }
}

/// Where a member's home branch must be for the mode: a resident member is
/// managed directly (直接管) by the branch of the place they live — a
/// residential branch, and when their household is known, a branch whose
/// area holds it. `home_areas` are the branch's attachment paths.
pub fn check_home_branch(
    mode: ManagementMode,
    branch_node_kind: &str,
    home_areas: &[String],
    household_path: Option<&str>,
) -> Result<(), String> {
    if mode == ManagementMode::Resident {
        if !residential(branch_node_kind) {
            return Err("居民党员由所居住小区(社区)的党支部直接管理,不能编入单位党支部".into());
        }
        if let Some(h) = household_path {
            if !home_areas.iter().any(|a| h.starts_with(a.as_str())) {
                return Err("居民党员应由其居住小区的党支部直接管理,该住户不在本支部范围内".into());
            }
        }
    }
    Ok(())
}

/// Status changes go forward only: 积极分子 → 预备党员 (on joining) →
/// 正式党员 (on becoming full).
pub fn status_step_allowed(from: MemberStatus, to: MemberStatus) -> bool {
    matches!(
        (from, to),
        (MemberStatus::Activist, MemberStatus::Probationary)
            | (MemberStatus::Probationary, MemberStatus::Full)
    )
}

/// A 双报到 registration: only in-service members register, at a
/// residential branch or committee other than their home branch.
pub fn check_registration(
    mode: ManagementMode,
    target_kind: PartyOrgKind,
    target_node_kind: &str,
    target_is_home: bool,
) -> Result<(), (&'static str, &'static str)> {
    if mode != ManagementMode::InService {
        return Err(("conflict", "只有在职党员需要到居住地社区双报到"));
    }
    if target_kind == PartyOrgKind::Group || !residential(target_node_kind) {
        return Err(("org_id", "双报到应报到到居住地的社区党委或小区党支部"));
    }
    if target_is_home {
        return Err(("org_id", "报到组织不能是本人组织关系所在的党支部"));
    }
    Ok(())
}

/// A floating member's contact is overdue when the last check-in (or, with
/// none, the day they left) is more than [`FLOATING_CONTACT_DAYS`] ago.
pub fn contact_overdue(
    last_checkin: Option<NaiveDate>,
    away_since: Option<NaiveDate>,
    today: NaiveDate,
) -> bool {
    match last_checkin.or(away_since) {
        Some(d) => (today - d).num_days() > FLOATING_CONTACT_DAYS,
        None => true,
    }
}

// ---------------------------------------------------------------- transfers

#[derive(Debug, Clone, PartialEq)]
pub enum TransferTarget {
    /// Another branch in the platform (its id).
    Branch(String),
    /// An organisation outside the platform (转出至系统外): the member's
    /// record leaves the lists; the history stays.
    External(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewTransfer {
    pub target: TransferTarget,
    pub on: NaiveDate,
    pub reason: Option<String>,
}

pub fn validate_transfer(
    to_branch_id: Option<&str>,
    to_external: Option<&str>,
    transferred_on: &str,
    reason: Option<&str>,
    today: NaiveDate,
    last_move: Option<NaiveDate>,
) -> Result<NewTransfer, FieldErrors> {
    let mut e = FieldErrors::new();
    let branch = to_branch_id.map(str::trim).filter(|s| !s.is_empty());
    let external = e
        .take(
            "to_external",
            text::optional(to_external, ORG_NAME_MAX, "转入组织名称"),
        )
        .flatten();
    let target = match (branch, external) {
        (Some(b), None) => match kernel::id::parse_id(b) {
            Some(id) => Some(TransferTarget::Branch(id)),
            None => {
                e.add("to_branch_id", "转入的党支部不存在");
                None
            }
        },
        (None, Some(x)) => {
            if x.chars().count() < 4 {
                e.add("to_external", "转入组织名称至少 4 个字");
            }
            Some(TransferTarget::External(x))
        }
        (Some(_), Some(_)) => {
            e.add("to_branch_id", "转入系统内党支部或系统外组织,只能选一个");
            None
        }
        (None, None) => {
            e.add("to_branch_id", "请选择转入的党支部,或填写系统外的转入组织");
            None
        }
    };
    let on = e.take("transferred_on", parse_date(transferred_on, "转接日期"));
    if let Some(d) = on {
        if d > today {
            e.add("transferred_on", "转接日期不能晚于今天");
        }
        if last_move.is_some_and(|l| d < l) {
            e.add("transferred_on", "转接日期不能早于上一次转接或入党的日期");
        }
    }
    let reason = e
        .take("reason", text::optional(reason, NOTE_MAX, "转接原因"))
        .flatten();
    e.check()
        .map_err(|err| err.fields().cloned().unwrap_or_default())?;
    Ok(NewTransfer {
        target: target.expect("checked"),
        on: on.expect("checked"),
        reason,
    })
}

// ---------------------------------------------------------------- activities

impl ActivityKind {
    /// Which organisations hold it: 党员大会, 支委会 and 主题党日 are the
    /// branch's (or committee's); 党小组会 the group's; a 党课 anyone's.
    pub fn held_by(self, kind: PartyOrgKind) -> bool {
        match self {
            ActivityKind::BranchAssembly
            | ActivityKind::BranchCommittee
            | ActivityKind::ThemedDay => kind != PartyOrgKind::Group,
            ActivityKind::GroupMeeting => kind == PartyOrgKind::Group,
            ActivityKind::PartyLecture => true,
        }
    }

    /// 三会一课: how many a quarter the rules ask of an organisation of
    /// this kind — 支部党员大会 and 党课 at least once a quarter, 支委会 and
    /// 党小组会 monthly; themed days are monthly practice, not counted here.
    pub fn required_per_quarter(self, kind: PartyOrgKind) -> u32 {
        if !self.held_by(kind) {
            return 0;
        }
        match self {
            ActivityKind::BranchAssembly | ActivityKind::PartyLecture => 1,
            ActivityKind::BranchCommittee | ActivityKind::GroupMeeting => 3,
            ActivityKind::ThemedDay => 0,
        }
    }

    /// The four of 三会一课.
    pub fn is_three_meetings(self) -> bool {
        self != ActivityKind::ThemedDay
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewActivity {
    pub kind: ActivityKind,
    pub title: String,
    pub theme: Option<String>,
    pub held_at: i64,
    pub place: String,
    pub minutes: Option<String>,
}

/// The standard themes of themed party days (主题党日), offered on forms;
/// any theme may be typed.
pub const THEMES: &[&str] = &[
    "重温入党誓词",
    "学习党章党规",
    "志愿服务进小区",
    "缴纳党费",
    "红色教育参观",
];

#[allow(clippy::too_many_arguments)]
pub fn validate_activity(
    kind: &str,
    title: &str,
    theme: Option<&str>,
    held_at: &str,
    place: &str,
    minutes: Option<&str>,
    org_kind: PartyOrgKind,
    now_ms: i64,
) -> Result<NewActivity, FieldErrors> {
    let mut e = FieldErrors::new();
    let k = ActivityKind::parse(kind);
    match k {
        None => e.add("kind", "活动类型无效"),
        Some(k) if !k.held_by(org_kind) => e.add(
            "kind",
            format!("{}不召开{}", org_kind.label_zh(), k.label_zh()),
        ),
        _ => {}
    }
    let title = e.take("title", text::required(title, 2, TITLE_MAX, "活动主题"));
    let theme = e
        .take("theme", text::optional(theme, TITLE_MAX, "主题党日内容"))
        .flatten();
    if k == Some(ActivityKind::ThemedDay) && theme.is_none() {
        e.add("theme", "主题党日应填写活动内容,如“重温入党誓词”");
    }
    let held = e.take("held_at", parse_moment(held_at, now_ms));
    let place = e.take("place", text::required(place, 2, PLACE_MAX, "地点"));
    let minutes = e
        .take(
            "minutes",
            text::multiline(minutes.unwrap_or(""), 0, MINUTES_MAX, "会议记录"),
        )
        .filter(|m| !m.is_empty());
    e.check()
        .map_err(|err| err.fields().cloned().unwrap_or_default())?;
    Ok(NewActivity {
        kind: k.expect("checked"),
        title: title.expect("checked"),
        theme: theme.filter(|_| k == Some(ActivityKind::ThemedDay)),
        held_at: held.expect("checked"),
        place: place.expect("checked"),
        minutes,
    })
}

/// An activity's time in RFC 3339 (or a `YYYY-MM-DDTHH:MM` form value read
/// as Beijing time): not before 2000, at most 60 days ahead.
pub fn parse_moment(value: &str, now_ms: i64) -> Result<i64, String> {
    let v = value.trim();
    if v.is_empty() {
        return Err("请填写活动时间".into());
    }
    let bad = || "活动时间格式应为 RFC 3339,如 2026-07-01T09:00:00+08:00".to_string();
    if v.len() > 40 {
        return Err(bad());
    }
    let ms = kernel::clock::from_rfc3339(v)
        .or_else(|| {
            use chrono::TimeZone;
            let t = v.replacen(' ', "T", 1);
            ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
                .iter()
                .find_map(|f| chrono::NaiveDateTime::parse_from_str(&t, f).ok())
                .and_then(|t| kernel::clock::shanghai().from_local_datetime(&t).single())
                .map(|t| t.timestamp_millis())
        })
        .ok_or_else(bad)?;
    if ms < EARLIEST_MS {
        return Err("活动时间不能早于 2000 年".into());
    }
    if ms > now_ms + MAX_ACTIVITY_AHEAD_MS {
        return Err("活动时间最多只能提前 60 天登记".into());
    }
    Ok(ms)
}

/// Attendance is recorded once the activity has begun.
pub fn attendance_open(held_at: i64, now_ms: i64) -> bool {
    held_at <= now_ms
}

/// One attendance entry as sent by the client.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttendanceInput {
    pub member_id: String,
    #[schema(value_type = AttendanceStatus)]
    pub status: String,
}

/// Checks the entries: well-formed member ids, known statuses, no member twice.
pub fn validate_attendance(
    entries: &[AttendanceInput],
) -> Result<Vec<(String, AttendanceStatus)>, FieldErrors> {
    let mut e = FieldErrors::new();
    let mut out: Vec<(String, AttendanceStatus)> = Vec::new();
    if entries.len() > MAX_ATTENDANCE {
        e.add("entries", format!("一次最多登记 {MAX_ATTENDANCE} 人"));
    }
    for (i, x) in entries.iter().enumerate().take(MAX_ATTENDANCE) {
        let n = i + 1;
        match (
            kernel::id::parse_id(x.member_id.trim()),
            AttendanceStatus::parse(&x.status),
        ) {
            (None, _) => e.add("entries", format!("第 {n} 条的党员不存在")),
            (_, None) => e.add(
                "entries",
                format!("第 {n} 条的出勤情况应为 present、excused 或 absent"),
            ),
            (Some(id), Some(s)) => {
                if out.iter().any(|(m, _)| *m == id) {
                    e.add("entries", format!("第 {n} 条与前面的党员重复"));
                } else {
                    out.push((id, s));
                }
            }
        }
    }
    e.check()
        .map_err(|err| err.fields().cloned().unwrap_or_default())?;
    Ok(out)
}

// ---------------------------------------------------------------- volunteer service

/// Hours as typed (0.5 to 24, in half hours) → minutes.
pub fn parse_hours(hours: f64) -> Result<i64, String> {
    if !hours.is_finite() || hours <= 0.0 {
        return Err("服务时长应大于 0".into());
    }
    let halves = hours * 2.0;
    if (halves - halves.round()).abs() > 1e-9 {
        return Err("服务时长以半小时为单位,如 1.5".into());
    }
    let minutes = (halves.round() as i64) * 30;
    if minutes > MAX_SERVICE_MINUTES {
        return Err("一条记录的服务时长不能超过 24 小时".into());
    }
    Ok(minutes)
}

/// Points a verified record earns: [`POINTS_PER_HOUR`] per hour, pro rata
/// (half an hour → 5).
pub fn points_for(minutes: i64) -> i64 {
    minutes.max(0) * POINTS_PER_HOUR / 60
}

/// Hours for display: 90 minutes → 1.5.
pub fn hours_of(minutes: i64) -> f64 {
    minutes as f64 / 60.0
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewService {
    pub served_on: NaiveDate,
    pub minutes: i64,
    pub description: String,
}

pub fn validate_service(
    served_on: &str,
    hours: f64,
    description: &str,
    today: NaiveDate,
) -> Result<NewService, FieldErrors> {
    let mut e = FieldErrors::new();
    let on = e.take("served_on", parse_date(served_on, "服务日期"));
    if let Some(d) = on {
        if d > today {
            e.add("served_on", "服务日期不能晚于今天");
        } else if d.year() < 2000 {
            e.add("served_on", "服务日期不能早于 2000 年");
        }
    }
    let minutes = e.take("hours", parse_hours(hours));
    let description = e.take(
        "description",
        text::required(description, 2, DESCRIPTION_MAX, "服务内容"),
    );
    e.check()
        .map_err(|err| err.fields().cloned().unwrap_or_default())?;
    Ok(NewService {
        served_on: on.expect("checked"),
        minutes: minutes.expect("checked"),
        description: description.expect("checked"),
    })
}

/// A pending record is verified or turned down once; anything else is a
/// wrong state.
pub fn verify_allowed(status: VolunteerStatus) -> bool {
    status == VolunteerStatus::Pending
}

// ---------------------------------------------------------------- statistics

/// One member as the statistics see it.
#[derive(Debug, Clone)]
pub struct StatMember {
    pub id: String,
    pub branch_id: String,
    pub reg_org_id: Option<String>,
    pub mode: ManagementMode,
    pub status: MemberStatus,
    pub floating_overdue: bool,
}

#[derive(Debug, Clone)]
pub struct StatService {
    pub party_org_id: String,
    pub member_id: String,
    pub minutes: i64,
    pub status: VolunteerStatus,
}

#[derive(Debug, Clone)]
pub struct StatActivity {
    pub id: String,
    pub party_org_id: String,
    pub kind: ActivityKind,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ModeCounts {
    pub resident: i64,
    pub in_service: i64,
    pub floating: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StatusCounts {
    pub activist: i64,
    pub probationary: i64,
    pub full: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct KindCounts {
    pub branch_assembly: i64,
    pub branch_committee: i64,
    pub group_meeting: i64,
    pub party_lecture: i64,
    pub themed_day: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PartyStats {
    /// Members whose organisation relation lies in the organisation(s).
    pub members: i64,
    pub by_mode: ModeCounts,
    pub by_status: StatusCounts,
    /// In-service members (home here) with a 双报到 registration, and the
    /// share of in-service members that is (None when there are none).
    pub in_service_registered: i64,
    pub registration_coverage: Option<f64>,
    /// In-service members of other branches registered here.
    pub registered_here: i64,
    /// Floating members whose contact is overdue.
    pub floating_overdue: i64,
    /// Volunteer service done for the organisation(s) in the period.
    pub service_hours: f64,
    pub service_hours_pending: f64,
    pub service_records: i64,
    pub service_points: i64,
    /// Activities held in the period, by kind; attendance over them.
    pub activities: i64,
    pub activities_by_kind: KindCounts,
    pub attendance_expected: i64,
    pub attendance_present: i64,
    pub attendance_rate: Option<f64>,
}

fn ratio(n: i64, d: i64) -> Option<f64> {
    (d > 0).then(|| ((n as f64 / d as f64) * 10_000.0).round() / 10_000.0)
}

/// The statistics of a set of organisations (one branch, or a committee
/// with everything under it): `orgs` are their ids; members, service and
/// activities are those already limited to the period by the caller.
/// Attendance: `(activity_id, status)` rows of those activities.
pub fn compute_stats(
    orgs: &HashSet<String>,
    members: &[StatMember],
    service: &[StatService],
    activities: &[StatActivity],
    attendance: &[(String, AttendanceStatus)],
) -> PartyStats {
    let mut s = PartyStats::default();
    let mut in_service = 0;
    for m in members {
        let home = orgs.contains(&m.branch_id);
        let reg_here = m.reg_org_id.as_ref().is_some_and(|r| orgs.contains(r));
        if home {
            s.members += 1;
            match m.mode {
                ManagementMode::Resident => s.by_mode.resident += 1,
                ManagementMode::InService => {
                    s.by_mode.in_service += 1;
                    in_service += 1;
                    if m.reg_org_id.is_some() {
                        s.in_service_registered += 1;
                    }
                }
                ManagementMode::Floating => {
                    s.by_mode.floating += 1;
                    if m.floating_overdue {
                        s.floating_overdue += 1;
                    }
                }
            }
            match m.status {
                MemberStatus::Activist => s.by_status.activist += 1,
                MemberStatus::Probationary => s.by_status.probationary += 1,
                MemberStatus::Full => s.by_status.full += 1,
            }
        } else if reg_here {
            s.registered_here += 1;
        }
    }
    s.registration_coverage = ratio(s.in_service_registered, in_service);
    let (mut verified, mut pending) = (0i64, 0i64);
    for v in service.iter().filter(|v| orgs.contains(&v.party_org_id)) {
        s.service_records += 1;
        match v.status {
            VolunteerStatus::Verified => {
                verified += v.minutes;
                s.service_points += points_for(v.minutes);
            }
            VolunteerStatus::Pending => pending += v.minutes,
            VolunteerStatus::Rejected => {}
        }
    }
    s.service_hours = hours_of(verified);
    s.service_hours_pending = hours_of(pending);
    let held: HashSet<&str> = activities
        .iter()
        .filter(|a| orgs.contains(&a.party_org_id))
        .map(|a| {
            s.activities += 1;
            let k = &mut s.activities_by_kind;
            match a.kind {
                ActivityKind::BranchAssembly => k.branch_assembly += 1,
                ActivityKind::BranchCommittee => k.branch_committee += 1,
                ActivityKind::GroupMeeting => k.group_meeting += 1,
                ActivityKind::PartyLecture => k.party_lecture += 1,
                ActivityKind::ThemedDay => k.themed_day += 1,
            }
            a.id.as_str()
        })
        .collect();
    for (aid, st) in attendance {
        if held.contains(aid.as_str()) {
            s.attendance_expected += 1;
            if *st == AttendanceStatus::Present {
                s.attendance_present += 1;
            }
        }
    }
    s.attendance_rate = ratio(s.attendance_present, s.attendance_expected);
    s
}

/// 三会一课 in one quarter for one organisation: per kind, held and required.
pub fn quarter_compliance(
    kind: PartyOrgKind,
    held: &HashMap<ActivityKind, i64>,
) -> Vec<(ActivityKind, i64, i64)> {
    ActivityKind::ALL
        .iter()
        .filter(|k| k.is_three_meetings() && k.required_per_quarter(kind) > 0)
        .map(|k| {
            (
                *k,
                held.get(k).copied().unwrap_or(0),
                k.required_per_quarter(kind) as i64,
            )
        })
        .collect()
}

/// The first and last day of the quarter `day` falls in.
pub fn quarter_of(day: NaiveDate) -> (NaiveDate, NaiveDate) {
    let q0 = (day.month0() / 3) * 3 + 1;
    let start = NaiveDate::from_ymd_opt(day.year(), q0, 1).expect("valid quarter start");
    let end = add_months(start, 3).pred_opt().expect("valid quarter end");
    (start, end)
}

/// The statistics period: `from`/`to` (inclusive days) default to the
/// calendar year of `today`; `to` must not precede `from`, and a period is
/// at most ten years.
pub fn parse_period(
    from: Option<&str>,
    to: Option<&str>,
    today: NaiveDate,
) -> Result<(NaiveDate, NaiveDate), FieldErrors> {
    let mut e = FieldErrors::new();
    let f = e.take("from", parse_opt_date(from, "开始日期")).flatten();
    let t = e.take("to", parse_opt_date(to, "结束日期")).flatten();
    e.check()
        .map_err(|err| err.fields().cloned().unwrap_or_default())?;
    let f = f.unwrap_or_else(|| NaiveDate::from_ymd_opt(today.year(), 1, 1).expect("valid"));
    let t = t.unwrap_or_else(|| NaiveDate::from_ymd_opt(today.year(), 12, 31).expect("valid"));
    if t < f {
        return Err(FieldErrors::single("to", "结束日期不能早于开始日期"));
    }
    if t > add_months(f, 120) {
        return Err(FieldErrors::single("to", "统计区间最长十年"));
    }
    Ok((f, t))
}

// ---------------------------------------------------------------- roster and appointments

#[derive(Debug, Clone, PartialEq)]
pub struct NewAppointment {
    pub body: CrossBody,
    pub direction: CrossDirection,
    pub position: String,
    pub started_on: NaiveDate,
}

pub fn validate_appointment(
    body: &str,
    direction: &str,
    position: &str,
    started_on: &str,
    today: NaiveDate,
) -> Result<NewAppointment, FieldErrors> {
    let mut e = FieldErrors::new();
    let b = CrossBody::parse(body);
    if b.is_none() {
        e.add("body", "任职机构应为 owners_committee 或 property_company");
    }
    let d = CrossDirection::parse(direction);
    if d.is_none() {
        e.add("direction", "任职方向应为 into_body 或 into_branch");
    }
    let position = e.take("position", text::required(position, 2, POST_MAX, "职务"));
    let on = e.take("started_on", parse_date(started_on, "任职日期"));
    if on.is_some_and(|d| d > today) {
        e.add("started_on", "任职日期不能晚于今天");
    }
    e.check()
        .map_err(|err| err.fields().cloned().unwrap_or_default())?;
    Ok(NewAppointment {
        body: b.expect("checked"),
        direction: d.expect("checked"),
        position: position.expect("checked"),
        started_on: on.expect("checked"),
    })
}

/// An end date for an office, a roster entry or an appointment: not before
/// it began, not in the future.
pub fn check_end(started: NaiveDate, ended: NaiveDate, today: NaiveDate) -> Result<(), String> {
    if ended < started {
        Err("结束日期不能早于开始日期".into())
    } else if ended > today {
        Err("结束日期不能晚于今天".into())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn input(status: &str, joined: Option<&str>, full: Option<&str>, mode: &str) -> MemberInput {
        MemberInput {
            name: "雷爱珍".into(),
            status: status.into(),
            joined_on: joined.map(str::to_string),
            full_on: full.map(str::to_string),
            mode: mode.into(),
            ..Default::default()
        }
    }

    #[test]
    fn enums_round_trip_by_code_and_label() {
        for k in ManagementMode::ALL {
            assert_eq!(ManagementMode::parse(k.as_str()), Some(*k));
            assert_eq!(ManagementMode::parse(k.label_zh()), Some(*k));
        }
        for k in ActivityKind::ALL {
            assert_eq!(ActivityKind::parse(k.as_str()), Some(*k));
        }
        assert_eq!(MemberStatus::parse("正式党员"), Some(MemberStatus::Full));
        assert_eq!(MemberStatus::parse("member"), None);
    }

    #[test]
    fn status_dates() {
        let today = d("2026-06-01");
        assert!(validate_member(
            &input("full", Some("2005-07-01"), Some("2006-07-01"), "resident"),
            today
        )
        .is_ok());
        // Full needs both dates, a year apart at least, two at most.
        let e = validate_member(&input("full", Some("2005-07-01"), None, "resident"), today)
            .unwrap_err();
        assert!(e.0.contains_key("full_on"));
        let e = validate_member(
            &input("full", Some("2005-07-01"), Some("2006-06-30"), "resident"),
            today,
        )
        .unwrap_err();
        assert_eq!(
            e.0["full_on"],
            vec!["预备期为一年,转正日期应在入党一年之后"]
        );
        let e = validate_member(
            &input("full", Some("2005-07-01"), Some("2007-07-02"), "resident"),
            today,
        )
        .unwrap_err();
        assert!(e.0["full_on"][0].contains("两年"));
        // Probationary: joined, not full; activist: neither.
        assert!(validate_member(
            &input("probationary", Some("2026-01-10"), None, "resident"),
            today
        )
        .is_ok());
        let e = validate_member(
            &input("activist", Some("2026-01-10"), None, "resident"),
            today,
        )
        .unwrap_err();
        assert!(e.0.contains_key("joined_on"));
        // Not in the future, not before 1921-07-01.
        let e = validate_member(
            &input("probationary", Some("2026-06-02"), None, "resident"),
            today,
        )
        .unwrap_err();
        assert!(e.0.contains_key("joined_on"));
        let e = validate_member(
            &input("probationary", Some("1920-01-01"), None, "resident"),
            today,
        )
        .unwrap_err();
        assert!(e.0.contains_key("joined_on"));
    }

    #[test]
    fn joining_before_eighteen_is_refused() {
        let today = d("2026-06-01");
        // 11010519491231002X: born 1949-12-31.
        let mut i = input("probationary", Some("1967-12-30"), None, "resident");
        i.id_card = Some("11010519491231002X".into());
        let e = validate_member(&i, today).unwrap_err();
        assert!(e.0["joined_on"][0].contains("十八岁"));
        i.joined_on = Some("1967-12-31".into());
        i.status = "full".into();
        i.full_on = Some("1968-12-31".into());
        assert!(validate_member(&i, today).is_ok());
    }

    #[test]
    fn modes_need_their_fields() {
        let today = d("2026-06-01");
        let e = validate_member(
            &input("full", Some("2005-07-01"), Some("2006-07-01"), "in_service"),
            today,
        )
        .unwrap_err();
        assert!(e.0.contains_key("work_unit"));
        let e = validate_member(
            &input("full", Some("2005-07-01"), Some("2006-07-01"), "floating"),
            today,
        )
        .unwrap_err();
        assert!(e.0.contains_key("whereabouts") && e.0.contains_key("away_since"));
        let mut i = input("full", Some("2005-07-01"), Some("2006-07-01"), "floating");
        i.whereabouts = Some("太原市小店区".into());
        i.away_since = Some("2025-03-01".into());
        i.work_unit = Some("某公司".into());
        let m = validate_member(&i, today).unwrap();
        assert_eq!(m.mode, ManagementMode::Floating);
        assert_eq!(m.work_unit, None, "another mode's field is dropped");
        let e = validate_member(&input("x", None, None, "y"), today).unwrap_err();
        assert!(e.0.contains_key("status") && e.0.contains_key("mode"));
    }

    #[test]
    fn resident_members_are_managed_by_their_compound_branch() {
        let fh = "/1/2/FH/".to_string();
        assert!(check_home_branch(
            ManagementMode::Resident,
            "compound",
            std::slice::from_ref(&fh),
            Some("/1/2/FH/B3/U1/301/")
        )
        .is_ok());
        assert!(check_home_branch(
            ManagementMode::Resident,
            "compound",
            std::slice::from_ref(&fh),
            Some("/1/2/XC/B1/U1/101/")
        )
        .is_err());
        assert!(check_home_branch(
            ManagementMode::Resident,
            "agency",
            &["/1/JYJ/".into()],
            None
        )
        .is_err());
        // In-service and floating members keep their relation anywhere.
        assert!(check_home_branch(
            ManagementMode::InService,
            "agency",
            &["/1/JYJ/".into()],
            None
        )
        .is_ok());
        assert!(
            check_home_branch(ManagementMode::Floating, "compound", &[fh], Some("/9/")).is_ok()
        );
    }

    #[test]
    fn registration_rules() {
        use PartyOrgKind::*;
        assert!(check_registration(ManagementMode::InService, Branch, "compound", false).is_ok());
        assert!(
            check_registration(ManagementMode::InService, Committee, "community", false).is_ok()
        );
        assert_eq!(
            check_registration(ManagementMode::Resident, Branch, "compound", false)
                .unwrap_err()
                .0,
            "conflict"
        );
        assert_eq!(
            check_registration(ManagementMode::InService, Branch, "agency", false)
                .unwrap_err()
                .0,
            "org_id"
        );
        assert_eq!(
            check_registration(ManagementMode::InService, Group, "building", false)
                .unwrap_err()
                .0,
            "org_id"
        );
        assert!(check_registration(ManagementMode::InService, Branch, "compound", true).is_err());
    }

    #[test]
    fn status_only_moves_forward() {
        use MemberStatus::*;
        assert!(status_step_allowed(Activist, Probationary));
        assert!(status_step_allowed(Probationary, Full));
        for (a, b) in [
            (Full, Probationary),
            (Activist, Full),
            (Full, Full),
            (Probationary, Activist),
        ] {
            assert!(!status_step_allowed(a, b), "{a:?} → {b:?}");
        }
    }

    #[test]
    fn org_attachment_and_nesting() {
        let today = d("2026-06-01");
        assert!(validate_org(
            "branch",
            "泛华盛世小区党支部",
            None,
            Some("compound"),
            today
        )
        .is_ok());
        let e = validate_org("group", "3号楼党小组", None, Some("community"), today).unwrap_err();
        assert!(e.0.contains_key("org_id"));
        let e = validate_org("x", "", Some("2030-01-01"), None, today).unwrap_err();
        for f in ["kind", "name", "org_id"] {
            assert!(e.0.contains_key(f), "{f}");
        }
        let committee = vec!["/1/C/".to_string()];
        assert!(check_nesting(
            PartyOrgKind::Branch,
            Some((PartyOrgKind::Committee, &committee)),
            "/1/C/FH/",
            &[]
        )
        .is_ok());
        assert!(check_nesting(
            PartyOrgKind::Branch,
            Some((PartyOrgKind::Committee, &committee)),
            "/1/D/FH/",
            &[]
        )
        .is_err());
        assert!(check_nesting(PartyOrgKind::Group, None, "/1/C/FH/B3/", &[]).is_err());
        assert!(check_nesting(
            PartyOrgKind::Committee,
            Some((PartyOrgKind::Committee, &committee)),
            "/1/C/",
            &[]
        )
        .is_err());
        // Joint branches: extra compounds in the same community only.
        let extra = vec![("compound".to_string(), "/1/C/YY/".to_string())];
        assert!(check_nesting(PartyOrgKind::Branch, None, "/1/C/FH/", &extra).is_ok());
        let far = vec![("compound".to_string(), "/1/D/YY/".to_string())];
        assert!(check_nesting(PartyOrgKind::Branch, None, "/1/C/FH/", &far).is_err());
        assert!(check_nesting(
            PartyOrgKind::Group,
            Some((PartyOrgKind::Branch, &committee)),
            "/1/C/FH/B1/",
            &extra
        )
        .is_err());
    }

    #[test]
    fn officers_and_terms() {
        use PartyOrgKind::*;
        assert!(validate_officer("secretary", "2024-01-01", Some("2028-12-31"), Branch).is_ok());
        let e =
            validate_officer("secretary", "2024-01-01", Some("2029-01-02"), Branch).unwrap_err();
        assert!(e.0["term_end"][0].contains("5 年"));
        let e = validate_officer("group_leader", "2024-01-01", None, Branch).unwrap_err();
        assert!(e.0.contains_key("position"));
        assert!(validate_officer("group_leader", "2024-01-01", None, Group).is_ok());
        let e =
            validate_officer("secretary", "2024-01-01", Some("2023-01-01"), Branch).unwrap_err();
        assert!(e.0.contains_key("term_end"));
        assert!(in_office(
            d("2024-01-01"),
            Some(d("2028-12-31")),
            None,
            d("2026-01-01")
        ));
        assert!(!in_office(
            d("2024-01-01"),
            Some(d("2025-12-31")),
            None,
            d("2026-01-01")
        ));
        assert!(!in_office(
            d("2024-01-01"),
            None,
            Some(d("2026-01-01")),
            d("2026-01-01")
        ));
    }

    #[test]
    fn activities_by_kind_of_org() {
        use ActivityKind::*;
        use PartyOrgKind::*;
        assert!(GroupMeeting.held_by(Group) && !GroupMeeting.held_by(Branch));
        assert!(BranchAssembly.held_by(Branch) && !BranchAssembly.held_by(Group));
        assert!(PartyLecture.held_by(Group));
        assert_eq!(BranchCommittee.required_per_quarter(Branch), 3);
        assert_eq!(BranchAssembly.required_per_quarter(Branch), 1);
        assert_eq!(GroupMeeting.required_per_quarter(Branch), 0);
        let now = kernel::clock::from_rfc3339("2026-06-01T09:00:00+08:00").unwrap();
        let ok = validate_activity(
            "themed_day",
            "七一主题党日",
            Some("重温入党誓词"),
            "2026-05-30T09:00:00+08:00",
            "党群服务中心",
            None,
            Branch,
            now,
        )
        .unwrap();
        assert_eq!(ok.theme.as_deref(), Some("重温入党誓词"));
        let e = validate_activity(
            "themed_day",
            "主题党日",
            None,
            "2026-05-30T09:00",
            "党群服务中心",
            None,
            Branch,
            now,
        )
        .unwrap_err();
        assert!(e.0.contains_key("theme"));
        let e = validate_activity(
            "group_meeting",
            "x",
            None,
            "2027-01-01T09:00:00+08:00",
            "",
            None,
            Branch,
            now,
        )
        .unwrap_err();
        for f in ["kind", "title", "held_at", "place"] {
            assert!(e.0.contains_key(f), "{f}");
        }
        // A form's local time is Beijing time.
        let a = validate_activity(
            "party_lecture",
            "红色物业与小区治理",
            None,
            "2026-05-30T09:00",
            "党群服务中心",
            None,
            Branch,
            now,
        )
        .unwrap();
        assert_eq!(
            kernel::clock::to_rfc3339(a.held_at),
            "2026-05-30T09:00:00+08:00"
        );
        assert!(attendance_open(a.held_at, now) && !attendance_open(now + 1, now));
    }

    #[test]
    fn hours_and_points() {
        assert_eq!(parse_hours(1.5).unwrap(), 90);
        assert_eq!(parse_hours(24.0).unwrap(), 1440);
        for bad in [0.0, -1.0, 0.2, 24.5, f64::NAN, f64::INFINITY] {
            assert!(parse_hours(bad).is_err(), "{bad}");
        }
        assert_eq!(points_for(90), 15);
        assert_eq!(points_for(30), 5);
        assert!(verify_allowed(VolunteerStatus::Pending));
        assert!(!verify_allowed(VolunteerStatus::Verified));
    }

    #[test]
    fn floating_contact() {
        let today = d("2026-06-01");
        assert!(!contact_overdue(
            Some(d("2026-05-01")),
            Some(d("2020-01-01")),
            today
        ));
        assert!(contact_overdue(Some(d("2026-02-01")), None, today));
        assert!(!contact_overdue(None, Some(d("2026-04-01")), today));
        assert!(contact_overdue(None, None, today));
    }

    #[test]
    fn transfers() {
        let today = d("2026-06-01");
        let id = kernel::id::new_id();
        let t = validate_transfer(
            Some(&id),
            None,
            "2026-05-01",
            Some("搬家"),
            today,
            Some(d("2005-07-01")),
        )
        .unwrap();
        assert_eq!(t.target, TransferTarget::Branch(id.clone()));
        let e = validate_transfer(
            Some(&id),
            Some("太原市某党支部"),
            "2026-05-01",
            None,
            today,
            None,
        )
        .unwrap_err();
        assert!(e.0.contains_key("to_branch_id"));
        let e = validate_transfer(None, None, "2026-07-01", None, today, None).unwrap_err();
        assert!(e.0.contains_key("to_branch_id") && e.0.contains_key("transferred_on"));
        let e = validate_transfer(
            Some(&id),
            None,
            "2020-01-01",
            None,
            today,
            Some(d("2021-01-01")),
        )
        .unwrap_err();
        assert!(e.0.contains_key("transferred_on"));
        assert!(validate_transfer(
            None,
            Some("太原市小店区某社区党支部"),
            "2026-05-01",
            None,
            today,
            None
        )
        .is_ok());
    }

    #[test]
    fn stats_by_hand() {
        let orgs: HashSet<String> = ["B".to_string()].into();
        let m = |id: &str, b: &str, reg: Option<&str>, mode, status, overdue| StatMember {
            id: id.into(),
            branch_id: b.into(),
            reg_org_id: reg.map(str::to_string),
            mode,
            status,
            floating_overdue: overdue,
        };
        use ManagementMode::*;
        use MemberStatus::*;
        let members = vec![
            m("1", "B", None, Resident, Full, false),
            m("2", "B", None, Resident, Probationary, false),
            m("3", "B", Some("X"), InService, Full, false),
            m("4", "B", None, InService, Activist, false),
            m("5", "B", None, Floating, Full, true),
            m("6", "W", Some("B"), InService, Full, false),
        ];
        let service = vec![
            StatService {
                party_org_id: "B".into(),
                member_id: "6".into(),
                minutes: 90,
                status: VolunteerStatus::Verified,
            },
            StatService {
                party_org_id: "B".into(),
                member_id: "1".into(),
                minutes: 60,
                status: VolunteerStatus::Pending,
            },
            StatService {
                party_org_id: "B".into(),
                member_id: "1".into(),
                minutes: 60,
                status: VolunteerStatus::Rejected,
            },
            StatService {
                party_org_id: "W".into(),
                member_id: "6".into(),
                minutes: 600,
                status: VolunteerStatus::Verified,
            },
        ];
        let acts = vec![
            StatActivity {
                id: "a".into(),
                party_org_id: "B".into(),
                kind: ActivityKind::BranchAssembly,
            },
            StatActivity {
                id: "b".into(),
                party_org_id: "B".into(),
                kind: ActivityKind::ThemedDay,
            },
            StatActivity {
                id: "c".into(),
                party_org_id: "W".into(),
                kind: ActivityKind::PartyLecture,
            },
        ];
        let att = vec![
            ("a".to_string(), AttendanceStatus::Present),
            ("a".to_string(), AttendanceStatus::Excused),
            ("b".to_string(), AttendanceStatus::Present),
            ("b".to_string(), AttendanceStatus::Absent),
            ("c".to_string(), AttendanceStatus::Present),
        ];
        let s = compute_stats(&orgs, &members, &service, &acts, &att);
        assert_eq!(s.members, 5);
        assert_eq!(
            s.by_mode,
            ModeCounts {
                resident: 2,
                in_service: 2,
                floating: 1
            }
        );
        assert_eq!(
            s.by_status,
            StatusCounts {
                activist: 1,
                probationary: 1,
                full: 3
            }
        );
        assert_eq!(s.in_service_registered, 1);
        assert_eq!(s.registration_coverage, Some(0.5));
        assert_eq!(s.registered_here, 1);
        assert_eq!(s.floating_overdue, 1);
        assert_eq!(s.service_hours, 1.5);
        assert_eq!(s.service_hours_pending, 1.0);
        assert_eq!(s.service_records, 3);
        assert_eq!(s.service_points, 15);
        assert_eq!(s.activities, 2);
        assert_eq!(s.activities_by_kind.branch_assembly, 1);
        assert_eq!(s.attendance_expected, 4);
        assert_eq!(s.attendance_present, 2);
        assert_eq!(s.attendance_rate, Some(0.5));
    }

    #[test]
    fn quarters_and_periods() {
        assert_eq!(
            quarter_of(d("2026-05-17")),
            (d("2026-04-01"), d("2026-06-30"))
        );
        assert_eq!(
            quarter_of(d("2026-12-31")),
            (d("2026-10-01"), d("2026-12-31"))
        );
        let held: HashMap<ActivityKind, i64> = [(ActivityKind::BranchCommittee, 2)].into();
        let c = quarter_compliance(PartyOrgKind::Branch, &held);
        assert!(c.contains(&(ActivityKind::BranchCommittee, 2, 3)));
        assert!(c.contains(&(ActivityKind::BranchAssembly, 0, 1)));
        assert!(!c.iter().any(|x| x.0 == ActivityKind::GroupMeeting));
        let (f, t) = parse_period(None, None, d("2026-05-17")).unwrap();
        assert_eq!((f, t), (d("2026-01-01"), d("2026-12-31")));
        assert!(parse_period(Some("2026-05-01"), Some("2026-04-01"), d("2026-05-17")).is_err());
        assert!(parse_period(Some("2026-5-1"), None, d("2026-05-17")).is_err());
    }

    fn access() -> impl Strategy<Value = MemberAccess> {
        (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(home, group, registered, own, overseer)| MemberAccess {
                home,
                group,
                registered,
                own,
                overseer,
            })
    }

    proptest! {
        /// Every right implies seeing the record; an overseer alone never
        /// sees it unmasked nor changes it; only the home branch manages.
        #[test]
        fn access_is_monotone(a in access()) {
            for right in [a.unmasked(), a.manage(), a.check_in(), a.record_service(), a.register()] {
                prop_assert!(!right || a.visible());
            }
            let overseer_only = MemberAccess { overseer: true, ..Default::default() };
            prop_assert!(overseer_only.visible() && !overseer_only.unmasked());
            prop_assert!(!overseer_only.manage() && !overseer_only.record_service());
            prop_assert_eq!(a.manage(), a.home);
            if !a.visible() { prop_assert_eq!(a, MemberAccess::default()); }
        }

        /// Statuses never skip or go back, whatever the pair.
        #[test]
        fn status_steps_are_single_forward(a in 0usize..3, b in 0usize..3) {
            let (x, y) = (MemberStatus::ALL[a], MemberStatus::ALL[b]);
            prop_assert_eq!(status_step_allowed(x, y), b == a + 1);
        }

        /// Hours in half-hour steps round-trip; points never exceed ten an hour.
        #[test]
        fn hours_round_trip(halves in 1i64..=48) {
            let h = halves as f64 / 2.0;
            let m = parse_hours(h).unwrap();
            prop_assert_eq!(m, halves * 30);
            prop_assert_eq!(hours_of(m), h);
            prop_assert!(points_for(m) <= (h * 10.0) as i64 && points_for(m) >= 0);
        }

        /// The validators never panic on arbitrary text.
        #[test]
        fn validators_never_panic(s in "\\PC{0,30}", t in "\\PC{0,12}") {
            let today = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
            let i = MemberInput { name: s.clone(), status: t.clone(), mode: s.clone(), joined_on: Some(t.clone()),
                full_on: Some(s.clone()), id_card: Some(s.clone()), phone: Some(t.clone()), ..Default::default() };
            let _ = validate_member(&i, today);
            let _ = validate_officer(&s, &t, Some(&s), PartyOrgKind::Branch);
            let _ = validate_transfer(Some(&s), Some(&t), &t, Some(&s), today, None);
            let _ = parse_moment(&s, 0);
            let _ = validate_service(&t, 1.0, &s, today);
            let _ = parse_period(Some(&s), Some(&t), today);
        }

        /// Statistics: the modes and the statuses each add up to the members.
        #[test]
        fn stats_add_up(modes in proptest::collection::vec((0usize..3, 0usize..3, any::<bool>(), any::<bool>()), 0..40)) {
            let orgs: HashSet<String> = ["B".to_string()].into();
            let members: Vec<StatMember> = modes.iter().enumerate().map(|(i, (m, s, home, reg))| StatMember {
                id: i.to_string(),
                branch_id: if *home { "B".into() } else { "W".into() },
                reg_org_id: reg.then(|| "B".to_string()),
                mode: ManagementMode::ALL[*m],
                status: MemberStatus::ALL[*s],
                floating_overdue: false,
            }).collect();
            let st = compute_stats(&orgs, &members, &[], &[], &[]);
            prop_assert_eq!(st.by_mode.resident + st.by_mode.in_service + st.by_mode.floating, st.members);
            prop_assert_eq!(st.by_status.activist + st.by_status.probationary + st.by_status.full, st.members);
            prop_assert!(st.in_service_registered <= st.by_mode.in_service);
            if let Some(c) = st.registration_coverage { prop_assert!((0.0..=1.0).contains(&c)); }
        }
    }
}
