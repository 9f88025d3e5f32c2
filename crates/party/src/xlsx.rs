//! Members in and out of Excel. Import: one sheet of members into a branch,
//! every row checked first; a single bad row rejects the whole file with a
//! per-cell report (422 keyed `第N行.列名`), so nothing is half-imported.
//! Export: the members the caller sees, masked exactly as the API masks
//! them for the caller (unmasked only for the party roles over them).

use crate::api::MemberView;
use crate::model::{self, MemberInput, PartyOrgKind};
use crate::store::{self, OrgRow};
use kernel::{AppError, AppResult, Ctx, FieldErrors, Principal};
use serde::Serialize;
use std::collections::HashMap;

/// The import columns (an export starts with the same ones, so a party
/// secretary's export can be edited and imported elsewhere).
pub const HEADERS: [&str; 11] = [
    "姓名",
    "手机号",
    "身份证号",
    "状态",
    "入党日期",
    "转正日期",
    "管理方式",
    "工作单位",
    "流出地",
    "外出日期",
    "党小组",
];
pub const EXPORT_EXTRA: [&str; 6] = [
    "所在党支部",
    "双报到组织",
    "党员中心户",
    "先锋岗",
    "服务时长(小时)",
    "积分",
];
pub const MAX_ROWS: usize = 20_000;

#[derive(Debug, Serialize, PartialEq, utoipa::ToSchema)]
#[schema(as = PartyRowError)]
pub struct RowError {
    pub row: usize,
    pub column: String,
    pub message: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = PartyImportReport)]
pub struct ImportReport {
    pub imported_members: usize,
    pub errors: Vec<RowError>,
}

#[derive(Debug, Clone)]
pub struct ImportRow {
    pub line: usize,
    pub member: model::NewMember,
    pub group: Option<String>,
}

/// A cell as text; Excel dates (serial numbers) become YYYY-MM-DD.
fn cell(row: &[calamine::Data], i: usize) -> String {
    match row.get(i) {
        Some(calamine::Data::DateTime(d)) => {
            let days = d.as_f64().floor() as i64;
            chrono::NaiveDate::from_ymd_opt(1899, 12, 30)
                .and_then(|b| b.checked_add_signed(chrono::Duration::days(days)))
                .map(model::fmt_date)
                .unwrap_or_default()
        }
        Some(c) => c.to_string().trim().to_string(),
        None => String::new(),
    }
}

fn column_of(field: &str) -> &'static str {
    match field {
        "name" => "姓名",
        "phone" => "手机号",
        "id_card" => "身份证号",
        "status" => "状态",
        "joined_on" => "入党日期",
        "full_on" => "转正日期",
        "mode" => "管理方式",
        "work_unit" => "工作单位",
        "whereabouts" => "流出地",
        "away_since" => "外出日期",
        _ => "党小组",
    }
}

/// Reads and checks every row; returns the rows or every problem found.
pub fn parse_workbook(
    bytes: &[u8],
    today: chrono::NaiveDate,
) -> Result<Vec<ImportRow>, Vec<RowError>> {
    use calamine::Reader;
    let err = |m: &str| {
        vec![RowError {
            row: 0,
            column: String::new(),
            message: m.into(),
        }]
    };
    let mut wb = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes.to_vec()))
        .map_err(|_| err("无法读取文件,请上传 .xlsx 格式的 Excel 文件"))?;
    let range = match wb.worksheet_range_at(0) {
        Some(Ok(r)) => r,
        _ => return Err(err("文件中没有工作表")),
    };
    let mut rows = range.rows();
    let header: Vec<String> = match rows.next() {
        Some(h) => (0..HEADERS.len()).map(|i| cell(h, i)).collect(),
        None => return Err(err("工作表是空的")),
    };
    if header
        .iter()
        .map(String::as_str)
        .ne(HEADERS.iter().copied())
    {
        return Err(err(&format!("表头应为:{}", HEADERS.join("、"))));
    }
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut seen_ids: HashMap<String, usize> = HashMap::new();
    for (i, r) in rows.enumerate() {
        let line = i + 2;
        if r.iter().all(|c| c.to_string().trim().is_empty()) {
            continue;
        }
        if out.len() + errors.len() >= MAX_ROWS {
            errors.push(RowError {
                row: line,
                column: String::new(),
                message: format!("一次最多导入 {MAX_ROWS} 行"),
            });
            break;
        }
        let opt = |i: usize| Some(cell(r, i)).filter(|s| !s.is_empty());
        let input = MemberInput {
            name: cell(r, 0),
            phone: opt(1),
            id_card: opt(2),
            status: cell(r, 3),
            joined_on: opt(4),
            full_on: opt(5),
            mode: cell(r, 6),
            work_unit: opt(7),
            whereabouts: opt(8),
            away_since: opt(9),
            away_reason: None,
        };
        match model::validate_member(&input, today) {
            Ok(m) => {
                if let Some(id) = &m.id_card {
                    if let Some(first) = seen_ids.insert(id.as_str().to_string(), line) {
                        errors.push(RowError {
                            row: line,
                            column: "身份证号".into(),
                            message: format!("与第 {first} 行的身份证号重复"),
                        });
                        continue;
                    }
                }
                out.push(ImportRow {
                    line,
                    member: m,
                    group: opt(10),
                });
            }
            Err(fe) => {
                for (field, msgs) in fe.0 {
                    for m in msgs {
                        errors.push(RowError {
                            row: line,
                            column: column_of(&field).into(),
                            message: m,
                        });
                    }
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The whole-file rejection: 422 with one field entry per bad cell.
pub fn rejected(errors: &[RowError]) -> AppError {
    let mut f = FieldErrors::new();
    for e in errors {
        let key = if e.row == 0 {
            "file".to_string()
        } else {
            format!("第{}行.{}", e.row, e.column)
        };
        f.add(key, e.message.clone());
    }
    AppError::Validation(f)
}

/// Imports checked rows into a branch the caller manages, in one transaction.
pub async fn import(
    ctx: &Ctx,
    p: &Principal,
    branch: &OrgRow,
    bytes: &[u8],
) -> AppResult<ImportReport> {
    if branch.kind != PartyOrgKind::Branch {
        return Err(AppError::field("org", "只能导入到党支部"));
    }
    let rows = parse_workbook(bytes, model::day_of(ctx.now_ms())).map_err(|e| rejected(&e))?;
    // The branch's groups by name.
    let groups: HashMap<String, String> =
        store::orgs_by_ids(&ctx.db, &store::subtree_ids(&ctx.db, &branch.id).await?)
            .await?
            .into_iter()
            .filter(|o| o.kind == PartyOrgKind::Group)
            .map(|o| (o.name, o.id))
            .collect();
    let mut errors = Vec::new();
    for r in &rows {
        if r.group.as_ref().is_some_and(|g| !groups.contains_key(g)) {
            errors.push(RowError {
                row: r.line,
                column: "党小组".into(),
                message: "本支部没有这个党小组".into(),
            });
        }
        if let Err(m) =
            model::check_home_branch(r.member.mode, &branch.node_kind, &branch.area_paths(), None)
        {
            errors.push(RowError {
                row: r.line,
                column: "管理方式".into(),
                message: m,
            });
        }
    }
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    // Numbers already registered are found first: a failed INSERT would
    // abort the whole transaction on PostgreSQL.
    for r in &rows {
        let id = r.member.id_card.as_ref().map(|i| i.as_str().to_string());
        if store::identity_taken(&mut tx, &ctx.cipher, id.as_deref(), None, None)
            .await?
            .is_some()
        {
            errors.push(RowError {
                row: r.line,
                column: "身份证号".into(),
                message: "该身份证号已登记为党员".into(),
            });
        }
    }
    if !errors.is_empty() {
        tx.rollback().await?;
        errors.sort_by_key(|e| e.row);
        return Err(rejected(&errors));
    }
    for r in &rows {
        let profile = r.member.profile();
        store::insert_member(
            &mut tx,
            &ctx.cipher,
            &store::MemberInsert {
                branch,
                group_id: r
                    .group
                    .as_ref()
                    .and_then(|g| groups.get(g))
                    .map(String::as_str),
                mode: r.member.mode,
                profile: &profile,
                central_household: false,
                vanguard_post: None,
                created_by: &p.user_id,
            },
            now,
        )
        .await?;
    }
    kernel::audit::record(
        &mut tx,
        ctx.db.backend(),
        kernel::audit::AuditEntry {
            at_ms: now,
            actor_id: Some(&p.user_id),
            action: "party_members_imported",
            object_type: "party_org",
            object_id: Some(&branch.id),
            org_path: Some(branch.org_path.as_str()),
            detail: serde_json::json!({"members": rows.len()}),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(ImportReport {
        imported_members: rows.len(),
        errors: vec![],
    })
}

/// The export workbook, from views already masked for the caller.
pub fn export_workbook(members: &[MemberView]) -> AppResult<Vec<u8>> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold().set_background_color("F2F2F2");
    let ws = wb.add_worksheet();
    let x = |e: rust_xlsxwriter::XlsxError| AppError::internal(e);
    ws.set_name("党员").map_err(x)?;
    for (c, h) in HEADERS.iter().chain(EXPORT_EXTRA.iter()).enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)
            .map_err(x)?;
        ws.set_column_width(c as u16, if c == 2 { 22 } else { 14 })
            .map_err(x)?;
    }
    for (i, m) in members.iter().enumerate() {
        let row = (i + 1) as u32;
        let cells = [
            m.name.clone(),
            m.phone.clone().unwrap_or_default(),
            m.id_card.clone().unwrap_or_default(),
            m.status.label_zh().to_string(),
            m.joined_on.clone().unwrap_or_default(),
            m.full_on.clone().unwrap_or_default(),
            m.mode.label_zh().to_string(),
            m.work_unit.clone().unwrap_or_default(),
            m.whereabouts.clone().unwrap_or_default(),
            m.away_since.clone().unwrap_or_default(),
            m.group.as_ref().map(|g| g.name.clone()).unwrap_or_default(),
            m.branch.name.clone(),
            m.registration
                .as_ref()
                .map(|r| r.org_name.clone())
                .unwrap_or_default(),
            if m.central_household {
                "是".into()
            } else {
                String::new()
            },
            m.vanguard_post.clone().unwrap_or_default(),
            format!("{}", m.service_hours),
            m.service_points.to_string(),
        ];
        for (c, v) in cells.iter().enumerate() {
            ws.write_string(row, c as u16, v).map_err(x)?;
        }
    }
    wb.save_to_buffer().map_err(x)
}

/// Builds an import workbook (tests, a template for staff to fill in).
pub fn template_workbook(rows: &[[&str; 11]]) -> Vec<u8> {
    use rust_xlsxwriter::Workbook;
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in HEADERS.iter().enumerate() {
        ws.write_string(0, c as u16, *h).expect("write header");
    }
    for (i, r) in rows.iter().enumerate() {
        for (c, v) in r.iter().enumerate() {
            ws.write_string((i + 1) as u32, c as u16, *v)
                .expect("write cell");
        }
    }
    wb.save_to_buffer().expect("xlsx to buffer")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(2026, 6, 1).unwrap()
    }

    #[test]
    fn good_rows_parse() {
        let wb = template_workbook(&[
            [
                "雷爱珍",
                "13900000061",
                "",
                "正式党员",
                "2005-07-01",
                "2006-07-01",
                "居民党员(直接管)",
                "",
                "",
                "",
                "",
            ],
            [
                "张志强",
                "",
                "",
                "probationary",
                "2025-07-01",
                "",
                "in_service",
                "离石区教育局",
                "",
                "",
                "3号楼党小组",
            ],
            [
                "王海",
                "",
                "",
                "full",
                "2010-07-01",
                "2011-07-01",
                "floating",
                "",
                "太原市小店区",
                "2025-03-01",
                "",
            ],
        ]);
        let rows = parse_workbook(&wb, today()).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1].member.mode, model::ManagementMode::InService);
        assert_eq!(rows[1].group.as_deref(), Some("3号楼党小组"));
    }

    #[test]
    fn every_bad_cell_is_reported() {
        let wb = template_workbook(&[
            [
                "",
                "123",
                "110105194912310021",
                "党员",
                "2005-07-01",
                "",
                "居民",
                "",
                "",
                "",
                "",
            ],
            [
                "张三",
                "",
                "11010519491231002X",
                "full",
                "2005-07-01",
                "2006-07-01",
                "resident",
                "",
                "",
                "",
                "",
            ],
            [
                "李四",
                "",
                "11010519491231002X",
                "full",
                "2005-07-01",
                "2006-07-01",
                "resident",
                "",
                "",
                "",
                "",
            ],
            [
                "王五",
                "",
                "",
                "full",
                "2005-07-01",
                "2005-08-01",
                "floating",
                "",
                "",
                "",
                "",
            ],
        ]);
        let errs = parse_workbook(&wb, today()).unwrap_err();
        let cols: Vec<(usize, &str)> = errs.iter().map(|e| (e.row, e.column.as_str())).collect();
        for want in [
            (2, "姓名"),
            (2, "手机号"),
            (2, "身份证号"),
            (2, "状态"),
            (2, "管理方式"),
            (4, "身份证号"),
            (5, "转正日期"),
            (5, "流出地"),
        ] {
            assert!(cols.contains(&want), "{want:?} in {cols:?}");
        }
    }

    #[test]
    fn wrong_files_are_refused() {
        assert!(parse_workbook(b"not a zip", today()).is_err());
        let mut wb = rust_xlsxwriter::Workbook::new();
        wb.add_worksheet().write_string(0, 0, "name").unwrap();
        let bytes = wb.save_to_buffer().unwrap();
        assert!(parse_workbook(&bytes, today()).unwrap_err()[0]
            .message
            .contains("表头"));
    }
}
