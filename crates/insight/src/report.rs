//! The monthly report as an xlsx workbook (`lianxin export report` and the
//! 下载月报 button): 汇总 (the month against the month before), 分单位 (one
//! row per unit below the node, with its score), 小区排名 (the compound
//! league and its scoring rules), 超期清单 (the late demands, no resident's
//! personal data) and 图表数据 (the dashboard's charts as tables). Chinese
//! headers; percentages as `0.0%`. Every figure is the dashboard's.

use crate::dashboard::{self, Dashboard, League, LeagueKind, Scope};
use crate::model::{self, Indicator, Weights};
use crate::store::{self, CategoryName, DemandLine};
use cases::rates::{Period, Rates};
use kernel::clock::to_display;
use kernel::i18n::Lang;
use kernel::{AppError, AppResult, Ctx, OrgPath};
use org::model::OrgKind;
use rust_xlsxwriter::{Format, FormatAlign, Workbook, Worksheet, XlsxError};
use std::collections::HashMap;

pub const SUMMARY: &str = "汇总";
pub const UNITS: &str = "分单位";
pub const LEAGUE: &str = "小区排名";
pub const LATE: &str = "超期清单";
pub const CHARTS: &str = "图表数据";

/// Rows of the summary sheet (0-based) that tests and readers rely on.
pub const SUMMARY_FIRST_FIGURE: u32 = 8;

/// The most late demands listed.
pub const LATE_LIMIT: i64 = 5000;

fn x(e: XlsxError) -> AppError {
    AppError::internal(e)
}

struct Formats {
    title: Format,
    head: Format,
    bold: Format,
    pct: Format,
    pct_change: Format,
    int: Format,
    int_change: Format,
    score: Format,
    days: Format,
}

impl Formats {
    fn new() -> Formats {
        Formats {
            title: Format::new().set_bold().set_font_size(14),
            head: Format::new()
                .set_bold()
                .set_background_color("F2F2F2")
                .set_align(FormatAlign::Center),
            bold: Format::new().set_bold(),
            pct: Format::new().set_num_format("0.0%"),
            pct_change: Format::new().set_num_format("+0.0%;-0.0%;0.0%"),
            int: Format::new().set_num_format("0"),
            int_change: Format::new().set_num_format("+0;-0;0"),
            score: Format::new().set_num_format("0.00"),
            days: Format::new().set_num_format("0.0"),
        }
    }
}

fn header(ws: &mut Worksheet, f: &Formats, row: u32, cols: &[&str]) -> AppResult<()> {
    for (c, h) in cols.iter().enumerate() {
        ws.write_string_with_format(row, c as u16, *h, &f.head)
            .map_err(x)?;
    }
    Ok(())
}

fn widths(ws: &mut Worksheet, w: &[f64]) -> AppResult<()> {
    for (c, v) in w.iter().enumerate() {
        ws.set_column_width(c as u16, *v).map_err(x)?;
    }
    Ok(())
}

fn rates_row(ws: &mut Worksheet, f: &Formats, row: u32, col: u16, r: &Rates) -> AppResult<()> {
    for (i, ind) in Indicator::ALL.iter().enumerate() {
        ws.write_number_with_format(row, col + i as u16, ind.value(r), &f.pct)
            .map_err(x)?;
    }
    Ok(())
}

const RATE_HEADS: [&str; 6] = [
    "响应率",
    "解决率",
    "满意率",
    "结案率",
    "按期结案率",
    "返工率",
];

fn formula(i: Indicator) -> &'static str {
    match i {
        Indicator::ResponseRate => "已联系 / 回访数",
        Indicator::ResolutionRate => "已解决 / 回访数",
        Indicator::SatisfactionRate => "满意(4–5分) / 回访数",
        Indicator::ClosureRate => "结案 / (到期 − 缓办)",
        Indicator::OnTimeClosureRate => "按期结案 / (到期 − 缓办)",
        Indicator::ReworkRate => "返工 / 反馈次数",
    }
}

/// Builds the workbook of `month` for the scope.
pub async fn workbook(
    ctx: &Ctx,
    scope: &Scope,
    month: &str,
    period: &Period,
) -> AppResult<Vec<u8>> {
    let d = dashboard::dashboard(ctx, scope, period).await?;
    let league = dashboard::league(ctx, scope, LeagueKind::Compound, period).await?;
    let late = store::late_list(
        &ctx.db,
        &scope.roots,
        period.from_ms,
        period.to_ms,
        ctx.now_ms(),
        LATE_LIMIT,
    )
    .await?;
    let cats = store::category_names(&ctx.db).await?;
    let mut places: HashMap<String, (String, String)> = HashMap::new();
    for l in &late {
        if !places.contains_key(l.org_path.as_str()) {
            let p = place_of(ctx, &l.org_path).await?;
            places.insert(l.org_path.as_str().to_string(), p);
        }
    }
    let name = scope
        .node
        .as_ref()
        .map(|n| n.name.clone())
        .unwrap_or_else(|| "全部".into());
    build(&Input {
        name: &name,
        month,
        generated: &to_display(ctx.now_ms()),
        now_ms: ctx.now_ms(),
        d: &d,
        league: &league,
        late: &late,
        places: &places,
        cats: &cats,
    })
}

/// (compound or village, building) names of a household path.
async fn place_of(ctx: &Ctx, path: &OrgPath) -> AppResult<(String, String)> {
    let chain = org::store::ancestors(&ctx.db, path).await?;
    let find = |kinds: &[OrgKind]| {
        chain
            .iter()
            .rev()
            .find(|n| kinds.contains(&n.kind))
            .map(|n| n.name.clone())
            .unwrap_or_default()
    };
    Ok((
        find(&[OrgKind::Compound, OrgKind::Village]),
        find(&[OrgKind::Building]),
    ))
}

pub struct Input<'a> {
    pub name: &'a str,
    pub month: &'a str,
    pub generated: &'a str,
    pub now_ms: i64,
    pub d: &'a Dashboard,
    pub league: &'a League,
    pub late: &'a [DemandLine],
    pub places: &'a HashMap<String, (String, String)>,
    pub cats: &'a [CategoryName],
}

/// The workbook from computed figures (pure, no IO).
pub fn build(i: &Input<'_>) -> AppResult<Vec<u8>> {
    let f = Formats::new();
    let mut wb = Workbook::new();
    summary(wb.add_worksheet(), &f, i)?;
    units(wb.add_worksheet(), &f, i)?;
    league_sheet(wb.add_worksheet(), &f, i)?;
    late_sheet(wb.add_worksheet(), &f, i)?;
    charts(wb.add_worksheet(), &f, i)?;
    wb.save_to_buffer().map_err(x)
}

fn summary(ws: &mut Worksheet, f: &Formats, i: &Input<'_>) -> AppResult<()> {
    let d = i.d;
    ws.set_name(SUMMARY).map_err(x)?;
    widths(ws, &[16.0, 14.0, 14.0, 14.0, 30.0])?;
    ws.write_string_with_format(0, 0, "连心 · 诉求办理月度报告", &f.title)
        .map_err(x)?;
    let info = [
        ("单位", i.name.to_string()),
        ("月份", i.month.to_string()),
        ("统计区间", format!("{} 至 {}", d.from, d.to)),
        (
            "对比区间(上月)",
            format!("{} 至 {}", d.previous.from, d.previous.to),
        ),
        ("生成时间", i.generated.to_string()),
    ];
    for (r, (k, v)) in info.iter().enumerate() {
        ws.write_string_with_format(1 + r as u32, 0, *k, &f.bold)
            .map_err(x)?;
        ws.write_string(1 + r as u32, 1, v).map_err(x)?;
    }
    header(ws, f, 7, &["指标", "本月", "上月", "变化", "说明"])?;
    let (c, p) = (&d.indicators.counts, &d.previous_indicators.counts);
    let counts: [(&str, i64, i64, &str); 10] = [
        ("新增诉求", d.created, d.previous_created, "本月反映的诉求"),
        (
            "超期诉求",
            d.late,
            d.previous_late,
            "反馈时限在本月且已超期未按时反馈",
        ),
        (
            "督办诉求",
            d.escalated,
            d.previous_escalated,
            "本月被督办(含超期自动督办)",
        ),
        ("回访数", c.rated, p.rated, "本月完成回访评价"),
        (
            "到期诉求",
            c.due,
            p.due,
            "反馈时限在本月(不含合并、不予受理)",
        ),
        ("缓办", c.suspended, p.suspended, "到期诉求中缓办的"),
        ("结案", c.closed, p.closed, "到期诉求中已结案的"),
        (
            "按期结案",
            c.closed_on_time,
            p.closed_on_time,
            "到期诉求中按期结案的",
        ),
        ("反馈次数", c.handled, p.handled, "本月向居民反馈的次数"),
        ("返工次数", c.rework, p.rework, "本月核查不通过的次数"),
    ];
    let mut row = SUMMARY_FIRST_FIGURE;
    for (label, now, before, note) in counts {
        ws.write_string(row, 0, label).map_err(x)?;
        ws.write_number_with_format(row, 1, now as f64, &f.int)
            .map_err(x)?;
        ws.write_number_with_format(row, 2, before as f64, &f.int)
            .map_err(x)?;
        ws.write_number_with_format(row, 3, (now - before) as f64, &f.int_change)
            .map_err(x)?;
        ws.write_string(row, 4, note).map_err(x)?;
        row += 1;
    }
    for ind in Indicator::ALL {
        let (now, before) = (ind.value(&d.indicators), ind.value(&d.previous_indicators));
        ws.write_string(row, 0, ind.label(false)).map_err(x)?;
        ws.write_number_with_format(row, 1, now, &f.pct)
            .map_err(x)?;
        ws.write_number_with_format(row, 2, before, &f.pct)
            .map_err(x)?;
        ws.write_number_with_format(row, 3, now - before, &f.pct_change)
            .map_err(x)?;
        ws.write_string(row, 4, formula(ind)).map_err(x)?;
        row += 1;
    }
    row += 1;
    for (label, v) in [
        ("当前办理中", d.now.open),
        ("当前超期", d.now.overdue),
        ("当前督办中", d.now.escalated),
    ] {
        ws.write_string(row, 0, label).map_err(x)?;
        ws.write_number_with_format(row, 1, v as f64, &f.int)
            .map_err(x)?;
        row += 1;
    }
    ws.set_freeze_panes(8, 0).map_err(x)?;
    Ok(())
}

fn units(ws: &mut Worksheet, f: &Formats, i: &Input<'_>) -> AppResult<()> {
    ws.set_name(UNITS).map_err(x)?;
    let heads = [
        "单位",
        "类型",
        "新增诉求",
        "超期",
        "督办",
        "回访数",
        "到期(扣除缓办)",
        "响应率",
        "解决率",
        "满意率",
        "结案率",
        "按期结案率",
        "返工率",
        "综合得分",
    ];
    header(ws, f, 0, &heads)?;
    widths(
        ws,
        &[
            18.0, 8.0, 10.0, 8.0, 8.0, 8.0, 14.0, 9.0, 9.0, 9.0, 9.0, 11.0, 9.0, 10.0,
        ],
    )?;
    let weights = Weights {
        criteria: i.league.weights.criteria.clone(),
    };
    let mut row = 1u32;
    let mut line = |ws: &mut Worksheet,
                    name: &str,
                    kind: &str,
                    created: i64,
                    late: i64,
                    esc: i64,
                    r: &Rates,
                    fmt: Option<&Format>|
     -> AppResult<()> {
        match fmt {
            Some(b) => ws.write_string_with_format(row, 0, name, b),
            None => ws.write_string(row, 0, name),
        }
        .map_err(x)?;
        ws.write_string(row, 1, kind).map_err(x)?;
        for (c, v) in [
            created,
            late,
            esc,
            r.counts.rated,
            r.counts.due - r.counts.suspended,
        ]
        .iter()
        .enumerate()
        {
            ws.write_number_with_format(row, 2 + c as u16, *v as f64, &f.int)
                .map_err(x)?;
        }
        rates_row(ws, f, row, 7, r)?;
        match model::score(&weights, r).score {
            Some(s) => ws.write_number_with_format(row, 13, s, &f.score),
            None => ws.write_string(row, 13, "—"),
        }
        .map_err(x)?;
        row += 1;
        Ok(())
    };
    for u in &i.d.units {
        line(
            ws,
            &u.org.name,
            u.org.kind.label(false),
            u.created,
            u.late,
            u.escalated,
            &u.rates,
            None,
        )?;
    }
    line(
        ws,
        "合计",
        "",
        i.d.created,
        i.d.late,
        i.d.escalated,
        &i.d.indicators,
        Some(&f.bold),
    )?;
    ws.set_freeze_panes(1, 1).map_err(x)?;
    Ok(())
}

fn league_sheet(ws: &mut Worksheet, f: &Formats, i: &Input<'_>) -> AppResult<()> {
    ws.set_name(LEAGUE).map_err(x)?;
    let heads = [
        "排名",
        "变化",
        "小区",
        "所属",
        "得分",
        "上月得分",
        "响应率",
        "解决率",
        "满意率",
        "结案率",
        "按期结案率",
        "返工率",
        "回访数",
        "到期(扣除缓办)",
    ];
    header(ws, f, 0, &heads)?;
    widths(
        ws,
        &[
            6.0, 6.0, 18.0, 14.0, 8.0, 10.0, 9.0, 9.0, 9.0, 9.0, 11.0, 9.0, 8.0, 14.0,
        ],
    )?;
    let mut row = 1u32;
    for it in &i.league.items {
        match it.rank {
            Some(r) => ws.write_number(row, 0, r as f64),
            None => ws.write_string(row, 0, "—"),
        }
        .map_err(x)?;
        ws.write_string(row, 1, &it.arrow).map_err(x)?;
        ws.write_string(row, 2, &it.name).map_err(x)?;
        ws.write_string(row, 3, it.place.as_deref().unwrap_or(""))
            .map_err(x)?;
        for (c, s) in [(4u16, it.score), (5, it.previous_score)] {
            match s {
                Some(s) => ws.write_number_with_format(row, c, s, &f.score),
                None => ws.write_string(row, c, "—"),
            }
            .map_err(x)?;
        }
        rates_row(ws, f, row, 6, &it.rates)?;
        ws.write_number_with_format(row, 12, it.rates.counts.rated as f64, &f.int)
            .map_err(x)?;
        ws.write_number_with_format(
            row,
            13,
            (it.rates.counts.due - it.rates.counts.suspended) as f64,
            &f.int,
        )
        .map_err(x)?;
        row += 1;
    }
    row += 1;
    let w = &i.league.weights;
    let source = w
        .source
        .as_ref()
        .map(|s| format!("评分规则({} 设定)", s.name))
        .unwrap_or_else(|| "评分规则(默认)".into());
    ws.write_string_with_format(row, 0, &source, &f.bold)
        .map_err(x)?;
    row += 1;
    header(
        ws,
        f,
        row,
        &["", "", "指标", "", "分值", "达标线", "每差1个百分点扣分"],
    )?;
    row += 1;
    for c in &w.criteria {
        ws.write_string(row, 2, c.indicator.label(false))
            .map_err(x)?;
        ws.write_number_with_format(row, 4, c.points, &f.score)
            .map_err(x)?;
        ws.write_number_with_format(row, 5, c.threshold, &f.pct)
            .map_err(x)?;
        ws.write_number_with_format(row, 6, c.per_point, &f.score)
            .map_err(x)?;
        row += 1;
    }
    ws.write_string(
        row,
        2,
        "达到达标线得满分,每差 1 个百分点扣相应分数(返工率为上限);无数据的指标不计,得分按满分折算。",
    )
    .map_err(x)?;
    ws.set_freeze_panes(1, 0).map_err(x)?;
    Ok(())
}

fn late_sheet(ws: &mut Worksheet, f: &Formats, i: &Input<'_>) -> AppResult<()> {
    ws.set_name(LATE).map_err(x)?;
    let heads = [
        "序号",
        "诉求编号",
        "标题",
        "类别",
        "小区/村",
        "楼栋",
        "处置人",
        "状态",
        "反馈时限",
        "反馈时间",
        "超期天数",
        "督办级别",
    ];
    header(ws, f, 0, &heads)?;
    widths(
        ws,
        &[
            6.0, 38.0, 28.0, 10.0, 14.0, 8.0, 16.0, 8.0, 17.0, 17.0, 9.0, 9.0,
        ],
    )?;
    for (n, l) in i.late.iter().enumerate() {
        let row = 1 + n as u32;
        let (place, building) = i
            .places
            .get(l.org_path.as_str())
            .cloned()
            .unwrap_or_default();
        let deadline = l.feedback_deadline.unwrap_or(0);
        let fed_back = l.resolved_at.or(l.closed_at);
        ws.write_number(row, 0, (n + 1) as f64).map_err(x)?;
        ws.write_string(row, 1, &l.id).map_err(x)?;
        ws.write_string(row, 2, &l.title).map_err(x)?;
        ws.write_string(
            row,
            3,
            dashboard::category_label(i.cats, &l.category, false),
        )
        .map_err(x)?;
        ws.write_string(row, 4, &place).map_err(x)?;
        ws.write_string(row, 5, &building).map_err(x)?;
        ws.write_string(row, 6, l.assignee.as_deref().unwrap_or(""))
            .map_err(x)?;
        ws.write_string(row, 7, Lang::Zh.t(&format!("status.{}", l.status)))
            .map_err(x)?;
        ws.write_string(row, 8, to_display(deadline)).map_err(x)?;
        ws.write_string(
            row,
            9,
            fed_back.map(to_display).unwrap_or_else(|| "未反馈".into()),
        )
        .map_err(x)?;
        let days = (fed_back.unwrap_or(i.now_ms) - deadline) as f64 / model::DAY_MS as f64;
        ws.write_number_with_format(row, 10, model::round1(days), &f.days)
            .map_err(x)?;
        ws.write_number_with_format(row, 11, l.escalation_level as f64, &f.int)
            .map_err(x)?;
    }
    if i.late.is_empty() {
        ws.write_string(1, 0, "本月没有超期诉求").map_err(x)?;
    }
    ws.set_freeze_panes(1, 0).map_err(x)?;
    Ok(())
}

fn charts(ws: &mut Worksheet, f: &Formats, i: &Input<'_>) -> AppResult<()> {
    let d = i.d;
    ws.set_name(CHARTS).map_err(x)?;
    widths(
        ws,
        &[
            16.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0,
        ],
    )?;
    let label = |code: &str| dashboard::category_label(i.cats, code, false);
    let mut row = 0u32;

    // 1. Filings per day (or week / month) by category.
    ws.write_string_with_format(row, 0, "诉求量(按类别)", &f.title)
        .map_err(x)?;
    row += 1;
    let cols: Vec<String> = d.by_category.iter().map(|c| c.code.clone()).collect();
    let mut heads: Vec<String> = vec!["日期".into()];
    heads.extend(cols.iter().map(|c| label(c)));
    heads.push("合计".into());
    let heads_ref: Vec<&str> = heads.iter().map(String::as_str).collect();
    header(ws, f, row, &heads_ref)?;
    row += 1;
    for t in &d.trend {
        ws.write_string(row, 0, &t.bucket).map_err(x)?;
        for (c, code) in cols.iter().enumerate() {
            let v = t.by_category.get(code).copied().unwrap_or(0);
            ws.write_number(row, 1 + c as u16, v as f64).map_err(x)?;
        }
        ws.write_number(row, 1 + cols.len() as u16, t.created as f64)
            .map_err(x)?;
        row += 1;
    }
    row += 1;

    // 2. Channels.
    ws.write_string_with_format(row, 0, "反映渠道", &f.title)
        .map_err(x)?;
    row += 1;
    header(ws, f, row, &["渠道", "数量", "占比"])?;
    row += 1;
    for c in &d.by_channel {
        ws.write_string(row, 0, &c.name).map_err(x)?;
        ws.write_number(row, 1, c.count as f64).map_err(x)?;
        ws.write_number_with_format(row, 2, c.share, &f.pct)
            .map_err(x)?;
        row += 1;
    }
    row += 1;

    // 3. Categories, most filed first.
    ws.write_string_with_format(row, 0, "诉求类别排行", &f.title)
        .map_err(x)?;
    row += 1;
    header(ws, f, row, &["类别", "数量", "占比"])?;
    row += 1;
    for c in &d.by_category {
        ws.write_string(row, 0, &c.name).map_err(x)?;
        ws.write_number(row, 1, c.count as f64).map_err(x)?;
        ws.write_number_with_format(row, 2, c.share, &f.pct)
            .map_err(x)?;
        row += 1;
    }
    row += 1;

    // 4. The indicators' trend.
    ws.write_string_with_format(row, 0, "指标趋势", &f.title)
        .map_err(x)?;
    row += 1;
    let mut heads = vec!["日期"];
    heads.extend(RATE_HEADS);
    header(ws, f, row, &heads)?;
    row += 1;
    for t in &d.trend {
        ws.write_string(row, 0, &t.bucket).map_err(x)?;
        rates_row(ws, f, row, 1, &t.rates)?;
        row += 1;
    }
    row += 1;

    // 5. Units × categories.
    ws.write_string_with_format(row, 0, "单位 × 类别", &f.title)
        .map_err(x)?;
    row += 1;
    let mut heads: Vec<String> = vec!["单位".into()];
    heads.extend(d.heat.categories.iter().map(|c| label(c)));
    heads.push("合计".into());
    let heads_ref: Vec<&str> = heads.iter().map(String::as_str).collect();
    header(ws, f, row, &heads_ref)?;
    row += 1;
    for h in &d.heat.rows {
        ws.write_string(row, 0, &h.name).map_err(x)?;
        for (c, v) in h.counts.iter().enumerate() {
            ws.write_number(row, 1 + c as u16, *v as f64).map_err(x)?;
        }
        ws.write_number(row, 1 + h.counts.len() as u16, h.total as f64)
            .map_err(x)?;
        row += 1;
    }
    Ok(())
}
