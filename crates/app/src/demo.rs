//! The demo world of CONTRACT.md, built from the seed page's places and
//! people: 离石区 › 城北街道 › 站前社区 › 新城壹号小区, 泛华盛世小区, 柳林县 ›
//! 金家庄镇 › 下帽芝村, 岚县行政审批局, 临县 › 城庄镇. Seeded only into an
//! empty database, so a second start never duplicates it.

use kernel::{AppResult, Ctx, Role, Tx};
use org::model::{NewNode, OrgKind, Tenure};
use org::store::NodeRow;
use sqlx::Row;

pub const DEMO_PASSWORD: &str = "lianxin-demo";

/// (login, display name, role or None for residents, where)
pub const ACCOUNTS: &[(&str, &str, &str)] = &[
    (
        "13800000001",
        "樊一新",
        "居民 · 新城壹号小区 1号楼 1单元 101",
    ),
    (
        "13800000002",
        "李秀兰",
        "居民 · 新城壹号小区 2号楼 1单元 101",
    ),
    ("13800000003", "王勇", "居民 · 泛华盛世小区 3号楼 1单元 301"),
    ("butler-xc", "赵晓东", "楼宇管家 · 新城壹号小区"),
    (
        "property-xc",
        "新城壹号物业 刘经理",
        "物业经理 · 新城壹号小区",
    ),
    (
        "property-fh",
        "泛华盛世物业 张经理",
        "物业经理 · 泛华盛世小区",
    ),
    ("branch-fh", "雷爱珍", "小区党支部书记 · 泛华盛世小区"),
    ("community-zq", "站前社区 郭敏", "社区工作人员 · 站前社区"),
    ("street-cb", "城北街道 冯涛", "街道管理员 · 城北街道"),
    ("district-ls", "离石区 高峰", "区管理员 · 离石区"),
    ("village-xmz", "下帽芝村 王东平", "村工作人员 · 下帽芝村"),
    (
        "approval-lx",
        "岚县行政审批局 梁瑞霞",
        "部门工作人员 · 岚县行政审批局",
    ),
    ("expert-1", "评审专家 孟繁雄", "评审专家 · 岚县"),
    ("grid-cz", "城庄镇网格员 刘华", "网格员 · 临县城庄镇"),
    ("auditor", "审计员 白颖凯", "审计员 · 吕梁市"),
];

struct Seeder<'a> {
    tx: Tx,
    ctx: &'a Ctx,
    now: i64,
    password_hash: String,
}

impl Seeder<'_> {
    async fn node(
        &mut self,
        parent: Option<&NodeRow>,
        kind: OrgKind,
        code: &str,
        name: &str,
    ) -> AppResult<NodeRow> {
        org::store::insert_node(
            &mut self.tx,
            parent,
            &NewNode {
                kind,
                code: code.into(),
                name: name.into(),
            },
            self.now,
        )
        .await
    }

    async fn user(&mut self, login: &str, name: &str) -> AppResult<String> {
        accounts::store::create_user(
            &mut self.tx,
            &self.ctx.cipher,
            login,
            name,
            &self.password_hash,
            self.now,
        )
        .await
    }

    async fn staff(&mut self, login: &str, role: Role, at: &NodeRow) -> AppResult<String> {
        let name = ACCOUNTS
            .iter()
            .find(|a| a.0 == login)
            .map(|a| a.1)
            .unwrap_or(login);
        let id = self.user(login, name).await?;
        accounts::store::grant_role(
            &mut self.tx,
            &id,
            role,
            &at.id,
            &at.org_path,
            None,
            self.now,
        )
        .await?;
        Ok(id)
    }

    async fn resident(
        &mut self,
        home: &NodeRow,
        name: &str,
        phone: &str,
        id_card: Option<&str>,
        tenure: Tenure,
        account: bool,
    ) -> AppResult<Option<String>> {
        let user_id = if account {
            Some(self.user(phone, name).await?)
        } else {
            None
        };
        let r = org::model::parse_resident(name, Some(phone), id_card, Some(tenure.as_str()), None)
            .expect("demo residents are valid");
        org::store::insert_resident(
            &mut self.tx,
            &self.ctx.cipher,
            home,
            &r,
            user_id.as_deref(),
            self.now,
        )
        .await?;
        if let Some(uid) = &user_id {
            accounts::store::grant_role(
                &mut self.tx,
                uid,
                Role::Resident,
                &home.id,
                &home.org_path,
                None,
                self.now,
            )
            .await?;
        }
        Ok(user_id)
    }

    /// A building with one entrance and the given rooms; returns the households.
    async fn building(
        &mut self,
        compound: &NodeRow,
        no: u32,
        rooms: &[&str],
    ) -> AppResult<Vec<NodeRow>> {
        let b = self
            .node(
                Some(compound),
                OrgKind::Building,
                &format!("B{no}"),
                &format!("{no}号楼"),
            )
            .await?;
        let u = self
            .node(Some(&b), OrgKind::Entrance, "U1", "1单元")
            .await?;
        let mut out = Vec::new();
        for r in rooms {
            out.push(
                self.node(Some(&u), OrgKind::Household, r, &format!("{r}室"))
                    .await?,
            );
        }
        Ok(out)
    }

    async fn demand(
        &mut self,
        home: &NodeRow,
        by: &str,
        category: &str,
        title: &str,
        description: &str,
        minutes_ago: i64,
    ) -> AppResult<String> {
        let d = cases::model::validate_new(category, title, description, None, false)
            .expect("demo demands are valid");
        let at = self.now - minutes_ago * 60_000;
        let row = cases::store::insert_demand(
            &mut self.tx,
            &d,
            &cases::store::Filing {
                urgency: "normal",
                dispatch_deadline: self.ctx.calendar().deadline(
                    at,
                    7 * 60,
                    kernel::calendar::LimitBasis::Working,
                ),
                household_id: &home.id,
                household_path: &home.org_path,
                building_id: None,
                channel: "web",
                reporter_user_id: Some(by),
                created_by: by,
            },
            at,
        )
        .await?;
        Ok(row.id)
    }
}

/// True when the database has no org nodes yet.
pub async fn is_empty(ctx: &Ctx) -> AppResult<bool> {
    let n: i64 = sqlx::query("SELECT COUNT(*) FROM org_nodes")
        .fetch_one(ctx.db.reader())
        .await?
        .get(0);
    Ok(n == 0)
}

/// Seeds the demo world when the database is empty; returns whether it did.
pub async fn seed_if_empty(ctx: &Ctx) -> AppResult<bool> {
    if !is_empty(ctx).await? {
        // A demo database from before Open311 gets the contract's key too.
        open311::store::seed_demo_key(ctx).await?;
        return Ok(false);
    }
    let password_hash =
        tokio::task::spawn_blocking(|| accounts::model::hash_password(DEMO_PASSWORD))
            .await
            .map_err(kernel::AppError::internal)?;
    let mut s = Seeder {
        tx: ctx.db.begin().await?,
        ctx,
        now: ctx.now_ms(),
        password_hash,
    };

    let city = s.node(None, OrgKind::City, "141100", "吕梁市").await?;
    let lishi = s
        .node(Some(&city), OrgKind::District, "141102", "离石区")
        .await?;
    let chengbei = s
        .node(Some(&lishi), OrgKind::Street, "141102003", "城北街道")
        .await?;
    let zhanqian = s
        .node(
            Some(&chengbei),
            OrgKind::Community,
            "141102003001",
            "站前社区",
        )
        .await?;
    let xincheng = s
        .node(Some(&zhanqian), OrgKind::Compound, "XC", "新城壹号小区")
        .await?;
    let lianhua = s
        .node(Some(&lishi), OrgKind::Street, "141102002", "莲花池街道")
        .await?;
    let fanhua_c = s
        .node(
            Some(&lianhua),
            OrgKind::Community,
            "141102002003",
            "泛华社区",
        )
        .await?;
    let fanhua = s
        .node(Some(&fanhua_c), OrgKind::Compound, "FH", "泛华盛世小区")
        .await?;
    let liulin = s
        .node(Some(&city), OrgKind::District, "141125", "柳林县")
        .await?;
    let jinjia = s
        .node(Some(&liulin), OrgKind::Township, "141125104", "金家庄镇")
        .await?;
    let xiamaozhi = s
        .node(Some(&jinjia), OrgKind::Village, "141125104201", "下帽芝村")
        .await?;
    let lanxian = s
        .node(Some(&city), OrgKind::District, "141127", "岚县")
        .await?;
    let approval = s
        .node(Some(&lanxian), OrgKind::Agency, "XZSPJ", "岚县行政审批局")
        .await?;
    let linxian = s
        .node(Some(&city), OrgKind::District, "141124", "临县")
        .await?;
    let chengzhuang = s
        .node(Some(&linxian), OrgKind::Township, "141124102", "城庄镇")
        .await?;
    let cz_village = s
        .node(
            Some(&chengzhuang),
            OrgKind::Village,
            "141124102200",
            "城庄村",
        )
        .await?;

    // Grids (CJ/T 349 style: area code + number).
    org::store::insert_grid(
        &mut s.tx,
        &zhanqian,
        "141102003001001",
        "站前社区第一网格",
        s.now,
    )
    .await?;
    org::store::insert_grid(
        &mut s.tx,
        &cz_village,
        "141124102200001",
        "城庄村第一网格",
        s.now,
    )
    .await?;

    // Households.
    let xc1 = s
        .building(&xincheng, 1, &["101", "102", "201", "202"])
        .await?;
    let xc2 = s.building(&xincheng, 2, &["101", "102"]).await?;
    let fh3 = s.building(&fanhua, 3, &["301", "401"]).await?;
    let xmz = s
        .node(Some(&xiamaozhi), OrgKind::Building, "G1", "一组")
        .await?;
    let wang_home = s
        .node(Some(&xmz), OrgKind::Household, "08", "8号院")
        .await?;
    let cz_group = s
        .node(Some(&cz_village), OrgKind::Building, "G1", "一组")
        .await?;
    let cz_home = s
        .node(Some(&cz_group), OrgKind::Household, "03", "3号院")
        .await?;
    s.resident(
        &cz_home,
        "刘福贵",
        "13900000051",
        None,
        Tenure::Owner,
        false,
    )
    .await?;

    let fan = s
        .resident(
            &xc1[0],
            "樊一新",
            "13800000001",
            Some("14110219850312001X"),
            Tenure::Owner,
            true,
        )
        .await?
        .expect("account");
    s.resident(&xc1[0], "樊晓燕", "13900000011", None, Tenure::Owner, false)
        .await?;
    let li = s
        .resident(
            &xc2[0],
            "李秀兰",
            "13800000002",
            Some("141102197908250029"),
            Tenure::Owner,
            true,
        )
        .await?
        .expect("account");
    let wang = s
        .resident(
            &fh3[0],
            "王勇",
            "13800000003",
            Some("141102198011030034"),
            Tenure::Owner,
            true,
        )
        .await?
        .expect("account");
    s.resident(&fh3[1], "陈建国", "13900000031", None, Tenure::Owner, false)
        .await?;
    s.resident(&xc1[1], "刘婷", "13900000012", None, Tenure::Tenant, false)
        .await?;
    s.resident(
        &wang_home,
        "王东平",
        "13900000041",
        None,
        Tenure::Owner,
        false,
    )
    .await?;

    // Staff.
    s.staff("butler-xc", Role::Butler, &xincheng).await?;
    s.staff("property-xc", Role::PropertyManager, &xincheng)
        .await?;
    s.staff("property-fh", Role::PropertyManager, &fanhua)
        .await?;
    s.staff("branch-fh", Role::PartyBranchSecretary, &fanhua)
        .await?;
    s.staff("community-zq", Role::CommunityStaff, &zhanqian)
        .await?;
    s.staff("street-cb", Role::StreetAdmin, &chengbei).await?;
    s.staff("district-ls", Role::DistrictAdmin, &lishi).await?;
    s.staff("village-xmz", Role::CommunityStaff, &xiamaozhi)
        .await?;
    s.staff("approval-lx", Role::AgencyStaff, &approval).await?;
    s.staff("expert-1", Role::Expert, &lanxian).await?;
    s.staff("grid-cz", Role::GridWorker, &chengzhuang).await?;
    s.staff("auditor", Role::Auditor, &city).await?;

    // A few demands, as the seed page tells them.
    let garage = s
        .demand(
            &xc1[0],
            &fan,
            "public_facility",
            "地下车库照明不亮",
            "地下车库B区好几盏灯不亮,晚上停车看不清,请尽快维修。",
            180,
        )
        .await?;
    let charger = s
        .demand(
            &xc1[0],
            &fan,
            "charging",
            "1号楼旁充电桩无法充电",
            "1号楼东侧的电动车充电桩扫码后不通电,已经两天了。",
            60,
        )
        .await?;
    s.demand(
        &xc2[0],
        &li,
        "garbage",
        "2号楼垃圾箱满了没人清",
        "2号楼门口的垃圾箱已经满出来了,天热有味道。",
        30,
    )
    .await?;
    s.demand(
        &fh3[0],
        &wang,
        "leak",
        "楼上洗衣机下水管道漏水",
        "楼上洗衣机下水管道漏水,渗到我家卫生间顶棚,希望物业帮忙查看。",
        240,
    )
    .await?;
    s.tx.commit().await?;

    // Walk two of them along the workflow, as the people involved would.
    let community = by_login(ctx, "community-zq").await?;
    let butler = by_login(ctx, "butler-xc").await?;
    let resident = accounts::store::principal_of(&ctx.db, &fan)
        .await?
        .expect("resident");
    let step = |action: &str, note: Option<&str>| cases::flow::TransitionInput {
        action: action.into(),
        note: note.map(str::to_string),
        ..Default::default()
    };
    for (who, action, note) in [
        (&community, "accept", None),
        (&community, "dispatch", None),
        (&butler, "start", None),
        (
            &butler,
            "resolve",
            Some("已更换车库B区6盏LED灯,照明恢复正常。"),
        ),
        (&community, "verify_pass", None),
    ] {
        cases::flow::transition(ctx, who, &garage, &step(action, note)).await?;
    }
    let rating = cases::flow::RatingInput {
        contacted: true,
        resolved: true,
        satisfaction: 5,
        comment: Some("管家师傅来得很快,谢谢!".into()),
    };
    cases::flow::rate(ctx, &resident, &garage, &rating).await?;
    for action in ["accept", "dispatch"] {
        cases::flow::transition(ctx, &community, &charger, &step(action, None)).await?;
    }
    cases::mediation::demo::seed_demo(ctx, &fanhua).await?;
    open311::store::seed_demo_key(ctx).await?;
    party::demo::seed(ctx).await?;
    Ok(true)
}

async fn by_login(ctx: &Ctx, login: &str) -> AppResult<kernel::Principal> {
    let u = accounts::store::find_user_by_login(&ctx.db, &ctx.cipher, login)
        .await?
        .ok_or(kernel::AppError::NotFound)?;
    accounts::store::principal_of(&ctx.db, &u.id)
        .await?
        .ok_or(kernel::AppError::NotFound)
}
