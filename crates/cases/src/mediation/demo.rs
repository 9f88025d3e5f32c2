//! The seed page's case for the demo world: in 泛华盛世小区 陈先生's
//! bathroom ceiling leaked from the washing-machine drain of 老李 upstairs;
//! words got heated; the compound's party members went at once with the
//! property company to mediate; the two families became friends.

use super::api::{self, FollowupBody, NewCaseBody, OutcomeBody, SessionBody};
use super::model::PartyInput;
use kernel::clock::to_rfc3339;
use kernel::{AppError, AppResult, Ctx, Principal};
use org::model::{NewNode, OrgKind, Tenure};
use org::store::NodeRow;

pub const TITLE: &str = "楼上洗衣机下水管道漏水引发邻里纠纷";
pub const AGREEMENT: &str = "老李负责维修下水管道并承担陈先生家卫生间吊顶修复费用,物业公司协助安排维修师傅并在一周内完工;双方互谅互让,今后有事好好商量。";

async fn by_login(ctx: &Ctx, login: &str) -> AppResult<Principal> {
    let u = accounts::store::find_user_by_login(&ctx.db, &ctx.cipher, login)
        .await?
        .ok_or(AppError::NotFound)?;
    accounts::store::principal_of(&ctx.db, &u.id)
        .await?
        .ok_or(AppError::NotFound)
}

/// 老李's household upstairs (3号楼 1单元 501), created when missing.
async fn upstairs(ctx: &Ctx, entrance: &NodeRow) -> AppResult<NodeRow> {
    let path = entrance.org_path.child("501");
    if let Some(n) = org::store::get_node_by_path(&ctx.db, path.as_str()).await? {
        return Ok(n);
    }
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let (home, _created) = org::store::ensure_child(
        &mut tx,
        entrance,
        &NewNode {
            kind: OrgKind::Household,
            code: "501".into(),
            name: "501室".into(),
        },
        now,
    )
    .await?;
    let li = org::model::parse_resident("李", None, None, Some(Tenure::Owner.as_str()), None)
        .map_err(AppError::Validation)?;
    org::store::insert_resident(&mut tx, &ctx.cipher, &home, &li, None, now).await?;
    tx.commit().await?;
    Ok(home)
}

/// Seeds the mediation in `compound` (泛华盛世小区): 陈建国's household (3号楼
/// 1单元 401) against 老李's (501), mediated by the party branch secretary
/// and the property manager; one session, the agreement, one satisfied
/// follow-up visit. Goes through the same procedures as the API.
pub async fn seed_demo(ctx: &Ctx, compound: &NodeRow) -> AppResult<String> {
    let entrance_path = compound.org_path.child("B3").child("U1");
    let entrance = org::store::get_node_by_path(&ctx.db, entrance_path.as_str())
        .await?
        .ok_or(AppError::NotFound)?;
    let chen = org::store::get_node_by_path(&ctx.db, entrance_path.child("401").as_str())
        .await?
        .ok_or(AppError::NotFound)?;
    let li = upstairs(ctx, &entrance).await?;
    let branch = by_login(ctx, "branch-fh").await?;
    let property = by_login(ctx, "property-fh").await?;

    let case = api::open_case(
        ctx,
        &branch,
        &NewCaseBody {
            title: TITLE.into(),
            summary: "3号楼1单元501室老李家洗衣机下水管道漏水,渗到楼下401室陈先生家卫生间吊顶。陈先生上楼交涉,双方言语激烈。小区党员得知后第一时间赶到,会同物业公司上门调解。".into(),
            compound_id: Some(compound.id.clone()),
            demand_id: None,
            parties: Some(vec![
                PartyInput {
                    household_id: chen.id.clone(),
                    role: "applicant".into(),
                },
                PartyInput {
                    household_id: li.id.clone(),
                    role: "respondent".into(),
                },
            ]),
            mediators: Some(vec![branch.user_id.clone(), property.user_id.clone()]),
        },
    )
    .await?;
    let now = ctx.now_ms();
    api::record_session(
        ctx,
        &branch,
        &case.id,
        &SessionBody {
            held_at: to_rfc3339(now - 2 * 3600 * 1000),
            place: "3号楼1单元401室、501室".into(),
            notes: "雷爱珍与物业张经理上门察看,确认漏点是501室洗衣机下水管道接口老化渗漏;分别听取双方意见,讲邻里情分、讲法律责任,双方情绪平复,同意协商解决。".into(),
            version: None,
        },
    )
    .await?;
    api::record_outcome(
        ctx,
        &branch,
        &case.id,
        &OutcomeBody {
            kind: "agreement".into(),
            agreement_text: Some(AGREEMENT.into()),
            note: None,
            version: None,
        },
    )
    .await?;
    api::record_followup(
        ctx,
        &property,
        &case.id,
        &FollowupBody {
            visited_at: to_rfc3339(now),
            notes: "下水管道已更换,陈先生家卫生间吊顶已修复;两家人握手言和,如今成了朋友。".into(),
            satisfied: Some(true),
            version: None,
        },
    )
    .await?;
    Ok(case.id)
}
