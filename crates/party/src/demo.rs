//! The seed page's party building for the demo world: 泛华盛世小区's branch
//! (书记 雷爱珍, login branch-fh) under 泛华社区党委, its 3号楼党小组 with
//! its leader, members of the three kinds — 居民党员 managed directly, 在职
//! 党员 of 岚县行政审批局's branch registered at the compound (双报到), 流动党员
//! followed up by check-ins — the 党群服务中心, 三会一课 and a 重温入党誓词
//! themed day with attendance and minutes, a community service task and
//! volunteer hours; 站前社区党委 and 新城壹号小区党支部 for the other compound.
//! Everything goes through the same procedures as the API, except what no
//! demo account may do (the work unit's own branch and its two members).

use crate::api::{self, ActivityBody, AttendanceBody, NewMemberBody, NewOrgBody};
use crate::model::{self, AttendanceInput, ManagementMode, Profile};
use crate::store;
use kernel::clock::to_rfc3339;
use kernel::{AppError, AppResult, Ctx, Principal};

async fn by_login(ctx: &Ctx, login: &str) -> AppResult<Principal> {
    let u = accounts::store::find_user_by_login(&ctx.db, &ctx.cipher, login)
        .await?
        .ok_or(AppError::NotFound)?;
    accounts::store::principal_of(&ctx.db, &u.id)
        .await?
        .ok_or(AppError::NotFound)
}

async fn node(ctx: &Ctx, path: &str) -> AppResult<org::store::NodeRow> {
    org::store::get_node_by_path(&ctx.db, path)
        .await?
        .ok_or(AppError::NotFound)
}

const APPROVAL: &str = "/141100/141127/XZSPJ/";
const FANHUA_C: &str = "/141100/141102/141102002/141102002003/";
const FH: &str = "/141100/141102/141102002/141102002003/FH/";
const ZHANQIAN: &str = "/141100/141102/141102003/141102003001/";
const XC: &str = "/141100/141102/141102003/141102003001/XC/";

fn org_body(
    kind: &str,
    name: &str,
    org_id: &str,
    parent: Option<&str>,
    founded: &str,
) -> NewOrgBody {
    NewOrgBody {
        kind: kind.into(),
        name: name.into(),
        org_id: org_id.into(),
        parent_id: parent.map(str::to_string),
        areas: None,
        founded_on: Some(founded.into()),
    }
}

#[allow(clippy::too_many_arguments)]
fn member_body(
    branch: &str,
    group: Option<&str>,
    name: &str,
    phone: Option<&str>,
    status: &str,
    joined: Option<String>,
    full: Option<String>,
    mode: &str,
) -> NewMemberBody {
    NewMemberBody {
        branch_id: branch.into(),
        group_id: group.map(str::to_string),
        name: name.into(),
        phone: phone.map(str::to_string),
        status: status.into(),
        joined_on: joined,
        full_on: full,
        mode: mode.into(),
        ..Default::default()
    }
}

/// One seeded activity: organisation, kind, title, theme, days ago,
/// minutes, attendance.
type Seeded<'a> = (
    &'a str,
    &'a str,
    &'a str,
    Option<&'a str>,
    i64,
    &'a str,
    Vec<AttendanceInput>,
);

/// Seeds the party world described above; returns the FH branch's id.
pub async fn seed(ctx: &Ctx) -> AppResult<String> {
    let now = ctx.now_ms();
    let day = model::day_of(now);
    let ago = |days: i64| model::fmt_date(day - chrono::Duration::days(days));
    let at = |days: i64, hour: i64| to_rfc3339(now - days * 86_400_000 - hour * 3_600_000);
    let district = by_login(ctx, "district-ls").await?;
    let branch = by_login(ctx, "branch-fh").await?;

    // The work unit of the in-service members: 岚县行政审批局 (many of
    // the county's cadres live in the city and work in the county).
    let work_unit = node(ctx, APPROVAL).await?;

    // Organisations, set up by the district (an overseer may set up structure).
    let fanhua_c = node(ctx, FANHUA_C).await?;
    let fh = node(ctx, FH).await?;
    let b3 = node(ctx, &format!("{FH}B3/")).await?;
    let committee = api::create_org(
        ctx,
        &district,
        &org_body(
            "committee",
            "泛华社区党委",
            &fanhua_c.id,
            None,
            "2016-06-30",
        ),
    )
    .await?;
    let fh_branch = api::create_org(
        ctx,
        &district,
        &org_body(
            "branch",
            "泛华盛世小区党支部",
            &fh.id,
            Some(&committee.id),
            "2019-07-01",
        ),
    )
    .await?;
    let group = api::create_org(
        ctx,
        &district,
        &org_body(
            "group",
            "3号楼党小组",
            &b3.id,
            Some(&fh_branch.id),
            "2020-05-04",
        ),
    )
    .await?;
    let work_branch = store::get_org(&ctx.db, &seed_work_branch(ctx, &work_unit).await?)
        .await?
        .ok_or(AppError::NotFound)?;
    let zq = node(ctx, ZHANQIAN).await?;
    let xc = node(ctx, XC).await?;
    let zq_committee = api::create_org(
        ctx,
        &district,
        &org_body("committee", "站前社区党委", &zq.id, None, "2015-07-01"),
    )
    .await?;
    api::create_org(
        ctx,
        &district,
        &org_body(
            "branch",
            "新城壹号小区党支部",
            &xc.id,
            Some(&zq_committee.id),
            "2021-03-15",
        ),
    )
    .await?;

    // 居民党员 (直接管) of the compound's branch.
    let years = |y: i64| day - chrono::Duration::days(365 * y);
    let mut lei = member_body(
        &fh_branch.id,
        None,
        "雷爱珍",
        Some("13900000061"),
        "full",
        Some("1998-06-20".into()),
        Some("1999-06-20".into()),
        "resident",
    );
    lei.account = Some("branch-fh".into());
    let lei = api::create_member(ctx, &branch, &lei).await?;
    let liu = api::create_member(
        ctx,
        &branch,
        &member_body(
            &fh_branch.id,
            Some(&group.id),
            "刘建军",
            Some("13900000062"),
            "full",
            Some("2008-07-01".into()),
            Some("2009-07-01".into()),
            "resident",
        ),
    )
    .await?;
    let h301 = node(ctx, &format!("{FH}B3/U1/301/")).await?;
    let mut sun = member_body(
        &fh_branch.id,
        Some(&group.id),
        "孙桂芳",
        Some("13900000063"),
        "full",
        Some("1985-05-10".into()),
        Some("1986-05-10".into()),
        "resident",
    );
    sun.household_id = Some(h301.id.clone());
    sun.central_household = Some(true);
    sun.vanguard_post = Some("楼道文明先锋岗".into());
    let sun = api::create_member(ctx, &branch, &sun).await?;
    let zhao = api::create_member(
        ctx,
        &branch,
        &member_body(
            &fh_branch.id,
            Some(&group.id),
            "赵梦瑶",
            None,
            "probationary",
            Some(model::fmt_date(years(0) - chrono::Duration::days(200))),
            None,
            "resident",
        ),
    )
    .await?;
    let zhou = api::create_member(
        ctx,
        &branch,
        &member_body(
            &fh_branch.id,
            None,
            "周晓明",
            None,
            "activist",
            None,
            None,
            "resident",
        ),
    )
    .await?;

    // 流动党员 (跟进管): away, followed up by check-ins.
    let mut wang = member_body(
        &fh_branch.id,
        None,
        "王海",
        Some("13900000064"),
        "full",
        Some("2010-07-01".into()),
        Some("2011-07-01".into()),
        "floating",
    );
    wang.whereabouts = Some("太原市小店区".into());
    wang.away_since = Some(ago(400));
    wang.away_reason = Some("外出务工".into());
    let wang = api::create_member(ctx, &branch, &wang).await?;
    let mut chen = member_body(
        &fh_branch.id,
        None,
        "陈磊",
        Some("13900000065"),
        "full",
        Some("2014-06-01".into()),
        Some("2015-06-01".into()),
        "floating",
    );
    chen.whereabouts = Some("广东省深圳市南山区".into());
    chen.away_since = Some(ago(300));
    chen.away_reason = Some("经商".into());
    let chen = api::create_member(ctx, &branch, &chen).await?;
    for (m, days, place, note) in [
        (
            &wang,
            20,
            "太原市小店区",
            "电话联系,工作稳定,已在线上参加支部学习",
        ),
        (&wang, 110, "太原市小店区", "电话联系,已按时交纳党费"),
        (
            &chen,
            120,
            "广东省深圳市南山区",
            "微信联系,已转达支部学习安排",
        ),
    ] {
        api::add_checkin(
            ctx,
            &branch,
            &m.id,
            &api::CheckinBody {
                at: Some(at(days, 0)),
                place: place.into(),
                note: Some(note.into()),
            },
        )
        .await?;
    }

    // 在职党员 (双重管): organisation relation in 岚县行政审批局机关党支部,
    // registered at the compound where they live (双报到).
    let mut in_service = Vec::new();
    for (name, phone, joined, full) in [
        ("张志强", "13900000066", "2003-07-01", "2004-07-01"),
        ("李红梅", "13900000067", "2012-07-01", "2013-07-01"),
    ] {
        let profile = Profile {
            name: name.into(),
            phone: Some(phone.into()),
            status: Some(model::MemberStatus::Full),
            joined_on: Some(joined.into()),
            full_on: Some(full.into()),
            work_unit: Some("岚县行政审批局".into()),
            ..Default::default()
        };
        let mut tx = ctx.db.begin().await?;
        let id = store::insert_member(
            &mut tx,
            &ctx.cipher,
            &store::MemberInsert {
                branch: &work_branch,
                group_id: None,
                mode: ManagementMode::InService,
                profile: &profile,
                central_household: false,
                vanguard_post: None,
                created_by: &district.user_id,
            },
            now,
        )
        .await?;
        let mut m = store::get_member_tx(&mut tx, &ctx.cipher, &id)
            .await?
            .ok_or(AppError::NotFound)?;
        let v = m.version;
        m.reg_org_id = Some(fh_branch.id.clone());
        m.reg_on = Some(ago(90));
        store::save_member(&mut tx, &ctx.cipher, &m, v, now).await?;
        kernel::audit::record(
            &mut tx,
            ctx.db.backend(),
            kernel::audit::AuditEntry {
                at_ms: now,
                actor_id: Some(&district.user_id),
                action: "party_member_created",
                object_type: "party_member",
                object_id: Some(&id),
                org_path: Some(work_branch.org_path.as_str()),
                detail: serde_json::json!({"branch": work_branch.id, "mode": "in_service", "registered_at": fh_branch.id, "seed": true}),
                ..Default::default()
            },
        )
        .await?;
        tx.commit().await?;
        in_service.push(id);
    }

    // Officers with their terms.
    let term_start = model::fmt_date(years(2));
    let term_end = model::fmt_date(years(2) + chrono::Duration::days(365 * 5 - 2));
    for (org, m, pos) in [
        (&fh_branch.id, &lei.id, "secretary"),
        (&fh_branch.id, &liu.id, "organisation_member"),
        (&fh_branch.id, &sun.id, "publicity_member"),
        (&group.id, &liu.id, "group_leader"),
    ] {
        api::add_officer(
            ctx,
            &branch,
            org,
            &api::OfficerBody {
                member_id: m.clone(),
                position: pos.into(),
                term_start: term_start.clone(),
                term_end: (pos != "group_leader").then(|| term_end.clone()),
            },
        )
        .await?;
    }

    // 党群服务中心.
    api::set_centre(
        ctx,
        &branch,
        &fh_branch.id,
        &api::CentreBody {
            name: "泛华盛世小区党群服务中心".into(),
            address: "泛华盛世小区3号楼一层".into(),
            opening_hours: Some("每天 8:30-18:00".into()),
            phone: Some("0358-8220001".into()),
        },
    )
    .await?;

    // Red butlers roster and cross-appointments (双向进入、交叉任职).
    api::add_butler(
        ctx,
        &branch,
        &api::ButlerBody {
            building_id: b3.id.clone(),
            role: "party_volunteer".into(),
            member_id: Some(liu.id.clone()),
            duty: Some("楼道巡查、邻里纠纷第一时间上门".into()),
            started_on: ago(300),
            ..Default::default()
        },
    )
    .await?;
    api::add_butler(
        ctx,
        &branch,
        &api::ButlerBody {
            building_id: b3.id.clone(),
            role: "party_volunteer".into(),
            member_id: Some(in_service[0].clone()),
            duty: Some("双报到党员,周末协助楼道清理".into()),
            started_on: ago(80),
            ..Default::default()
        },
    )
    .await?;
    for (m, body, dir, pos) in [
        (&sun.id, "owners_committee", "into_body", "业委会委员"),
        (&liu.id, "property_company", "into_body", "物业服务监督员"),
    ] {
        api::add_appointment(
            ctx,
            &branch,
            &api::AppointmentBody {
                org_id: fh_branch.id.clone(),
                member_id: m.clone(),
                compound_id: fh.id.clone(),
                body: body.into(),
                direction: dir.into(),
                position: pos.into(),
                started_on: ago(250),
            },
        )
        .await?;
    }

    // 三会一课 and the themed day, with attendance and minutes.
    let home = [
        &lei.id, &liu.id, &sun.id, &zhao.id, &zhou.id, &wang.id, &chen.id,
    ];
    let everyone_present = |absent: &[&String], excused: &[&String]| -> Vec<AttendanceInput> {
        home.iter()
            .map(|m| AttendanceInput {
                member_id: (*m).clone(),
                status: if absent.contains(m) {
                    "absent"
                } else if excused.contains(m) {
                    "excused"
                } else {
                    "present"
                }
                .into(),
            })
            .collect()
    };
    let activities: Vec<Seeded> = vec![
        (
            &fh_branch.id,
            "party_lecture",
            "红色物业与小区治理",
            None,
            35,
            "书记雷爱珍讲党课:以“红色物业”提升基层治理效能,党员要在小区治理中亮身份、作表率。",
            everyone_present(&[&chen.id], &[&wang.id]),
        ),
        (
            &fh_branch.id,
            "branch_assembly",
            "学习党建引领基层治理,推进红色物业建设",
            None,
            20,
            "传达离石区“党建+物业”工作部署;通报小区车棚翻新、充电设施升级进展;讨论党员联系楼栋分工。",
            everyone_present(&[&chen.id], &[&wang.id]),
        ),
        (
            &fh_branch.id,
            "branch_committee",
            "研究车棚翻新和充电设施升级",
            None,
            10,
            "支委会研究:协调物业公司本月完成自行车车棚翻新;充电桩升级方案提交业委会征求意见。",
            vec![
                AttendanceInput { member_id: lei.id.clone(), status: "present".into() },
                AttendanceInput { member_id: liu.id.clone(), status: "present".into() },
                AttendanceInput { member_id: sun.id.clone(), status: "present".into() },
            ],
        ),
        (
            &group.id,
            "group_meeting",
            "3号楼楼道杂物清理分工",
            None,
            8,
            "党小组长刘建军组织:按单元分工清理楼道杂物,孙桂芳负责联系401、501住户。",
            vec![
                AttendanceInput { member_id: liu.id.clone(), status: "present".into() },
                AttendanceInput { member_id: sun.id.clone(), status: "present".into() },
                AttendanceInput { member_id: zhao.id.clone(), status: "excused".into() },
            ],
        ),
        (
            &fh_branch.id,
            "themed_day",
            "主题党日:不忘初心 服务小区",
            Some("重温入党誓词"),
            5,
            "全体党员和双报到党员在党群服务中心面向党旗重温入党誓词,随后开展楼道清理志愿服务。",
            {
                let mut v = everyone_present(&[], &[&wang.id, &chen.id]);
                for id in &in_service {
                    v.push(AttendanceInput { member_id: id.clone(), status: "present".into() });
                }
                v
            },
        ),
    ];
    for (org, kind, title, theme, days, minutes, attendance) in activities {
        let a = api::create_activity(
            ctx,
            &branch,
            &ActivityBody {
                org_id: org.to_string(),
                kind: kind.into(),
                title: title.into(),
                theme: theme.map(str::to_string),
                held_at: at(days, 0),
                place: "泛华盛世小区党群服务中心".into(),
                minutes: Some(minutes.into()),
            },
        )
        .await?;
        api::set_attendance(
            ctx,
            &branch,
            &a.id,
            &AttendanceBody {
                entries: attendance,
                version: None,
            },
        )
        .await?;
    }

    // A community service task for the registered members, and volunteer hours.
    let task = api::create_task(
        ctx,
        &branch,
        &api::TaskBody {
            org_id: fh_branch.id.clone(),
            title: "楼道杂物清理".into(),
            description: "每月第一个周六上午,清理3号楼各单元楼道堆放的杂物,消除消防隐患。".into(),
        },
    )
    .await?;
    for m in &in_service {
        api::claim_task(
            ctx,
            &branch,
            &task.id,
            &api::ClaimBody {
                member_id: Some(m.clone()),
            },
        )
        .await?;
    }
    let services = [
        (
            &in_service[0],
            Some(&task.id),
            5,
            2.0,
            "协助清理3号楼楼道杂物",
            true,
        ),
        (
            &in_service[1],
            None,
            3,
            1.5,
            "为独居老人代购生活用品",
            false,
        ),
        (&liu.id, None, 12, 3.0, "自行车车棚翻新义务劳动", true),
    ];
    for (m, task_id, days, hours, what, verify) in services {
        let s = api::record_service(
            ctx,
            &branch,
            &api::ServiceBody {
                member_id: m.clone(),
                org_id: Some(fh_branch.id.clone()),
                task_id: task_id.cloned(),
                served_on: ago(days),
                hours,
                description: what.into(),
            },
        )
        .await?;
        if verify {
            api::decide_service(
                ctx,
                &branch,
                &s.id,
                &api::DecideBody {
                    approve: true,
                    version: None,
                },
            )
            .await?;
        }
    }
    Ok(fh_branch.id)
}

/// 岚县行政审批局机关党支部: no demo account covers 岚县 with a setup role,
/// so it is inserted directly (with its audit row).
async fn seed_work_branch(ctx: &Ctx, work_unit: &org::store::NodeRow) -> AppResult<String> {
    let now = ctx.now_ms();
    let by = by_login(ctx, "district-ls").await?;
    let mut tx = ctx.db.begin().await?;
    let id = store::insert_org(
        &mut tx,
        &store::OrgInsert {
            kind: model::PartyOrgKind::Branch,
            name: "岚县行政审批局机关党支部",
            parent_id: None,
            node: work_unit,
            extra: &[],
            founded_on: Some("2018-11-20".into()),
            created_by: &by.user_id,
        },
        now,
    )
    .await?;
    kernel::audit::record(
        &mut tx,
        ctx.db.backend(),
        kernel::audit::AuditEntry {
            at_ms: now,
            actor_id: None,
            action: "party_org_created",
            object_type: "party_org",
            object_id: Some(&id),
            org_path: Some(work_unit.org_path.as_str()),
            detail: serde_json::json!({"kind": "branch", "name": "岚县行政审批局机关党支部", "seed": true}),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}
