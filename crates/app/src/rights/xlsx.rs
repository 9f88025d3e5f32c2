//! The resident's copy of their data as a workbook (PIPL art. 45: a copy in
//! a common format): one sheet per kind of record.

use super::MyData;
use kernel::{AppError, AppResult};
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

fn x(e: XlsxError) -> AppError {
    AppError::internal(e)
}

fn sheet(wb: &mut Workbook, name: &str, headers: &[&str], rows: Vec<Vec<String>>) -> AppResult<()> {
    let bold = Format::new().set_bold().set_background_color("F2F2F2");
    let ws: &mut Worksheet = wb.add_worksheet();
    ws.set_name(name).map_err(x)?;
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)
            .map_err(x)?;
        ws.set_column_width(c as u16, 18).map_err(x)?;
    }
    for (i, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            ws.write_string((i + 1) as u32, c as u16, v).map_err(x)?;
        }
    }
    Ok(())
}

fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

pub fn workbook(d: &MyData) -> AppResult<Vec<u8>> {
    let mut wb = Workbook::new();
    sheet(
        &mut wb,
        "账号",
        &["编号", "姓名", "登录账号", "注册时间", "导出时间"],
        vec![vec![
            d.account.id.clone(),
            d.account.display_name.clone(),
            d.account.login.clone(),
            d.account.created_at.clone(),
            d.generated_at.clone(),
        ]],
    )?;
    sheet(
        &mut wb,
        "住户",
        &[
            "住址",
            "姓名",
            "手机号",
            "身份证号",
            "身份",
            "与户主关系",
            "本人",
        ],
        d.residents
            .iter()
            .map(|r| {
                vec![
                    r.household.clone(),
                    r.name.clone(),
                    opt(&r.phone),
                    opt(&r.id_card),
                    r.tenure.clone(),
                    opt(&r.relation),
                    if r.is_me { "是" } else { "" }.to_string(),
                ]
            })
            .collect(),
    )?;
    sheet(
        &mut wb,
        "诉求",
        &[
            "编号",
            "类别",
            "标题",
            "内容",
            "地点",
            "状态",
            "提交时间",
            "满意度",
            "评价",
        ],
        d.demands
            .iter()
            .map(|r| {
                vec![
                    r.id.clone(),
                    r.category.clone(),
                    r.title.clone(),
                    r.description.clone(),
                    opt(&r.location),
                    r.status.clone(),
                    r.created_at.clone(),
                    r.satisfaction.map(|s| s.to_string()).unwrap_or_default(),
                    opt(&r.rating_comment),
                ]
            })
            .collect(),
    )?;
    sheet(
        &mut wb,
        "测评",
        &["测评", "得分", "意见", "时间"],
        d.survey_answers
            .iter()
            .map(|a| {
                vec![
                    a.survey_id.clone(),
                    a.answers
                        .iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join(","),
                    opt(&a.comment),
                    a.at.clone(),
                ]
            })
            .collect(),
    )?;
    sheet(
        &mut wb,
        "申请",
        &[
            "编号",
            "类型",
            "项目",
            "状态",
            "提交时间",
            "处理期限",
            "处理说明",
        ],
        d.requests
            .iter()
            .map(|r| {
                vec![
                    r.id.clone(),
                    r.kind.clone(),
                    opt(&r.field),
                    r.status.clone(),
                    r.created_at.clone(),
                    r.due_at.clone(),
                    opt(&r.decision_note),
                ]
            })
            .collect(),
    )?;
    wb.save_to_buffer().map_err(x)
}
