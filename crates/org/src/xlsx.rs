//! Excel in and out. Import: one sheet of households and residents under a
//! compound, every row checked first; a single bad row rejects the whole file
//! with a per-row report, so nothing is ever half-imported. Export: residents
//! in scope, phones and ID numbers masked.

use crate::model::{self, NewNode, NewResident, OrgKind};
use crate::store::{self, NodeRow, ResidentRow};
use kernel::{AppError, AppResult, Ctx, FieldErrors};
use serde::Serialize;
use std::collections::HashMap;

pub const HEADERS: [&str; 8] = [
    "楼栋",
    "单元",
    "户号",
    "姓名",
    "手机号",
    "身份证号",
    "身份",
    "与户主关系",
];
pub const MAX_ROWS: usize = 200_000;

#[derive(Debug, Clone)]
pub struct ImportRow {
    pub line: usize,
    pub building: String,
    pub entrance: Option<String>,
    pub room: String,
    pub resident: NewResident,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct RowError {
    pub row: usize,
    pub column: String,
    pub message: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub imported_residents: usize,
    pub created_nodes: usize,
    pub errors: Vec<RowError>,
}

fn cell(row: &[calamine::Data], i: usize) -> String {
    row.get(i)
        .map(|c| c.to_string().trim().to_string())
        .unwrap_or_default()
}

fn short_code(s: &str) -> bool {
    kernel::orgpath::is_valid_code(s) && s.len() <= 16
}

/// Reads and checks every row; returns the rows or every problem found.
pub fn parse_workbook(bytes: &[u8]) -> Result<Vec<ImportRow>, Vec<RowError>> {
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
    let mut seen_ids = std::collections::HashMap::new();
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
        let mut push = |col: &str, m: &str| {
            errors.push(RowError {
                row: line,
                column: col.into(),
                message: m.into(),
            })
        };
        let building = cell(r, 0);
        let entrance = Some(cell(r, 1)).filter(|s| !s.is_empty());
        let room = cell(r, 2);
        let mut ok = true;
        if !short_code(&building) {
            push("楼栋", "楼栋号应为 1-16 位字母或数字");
            ok = false;
        }
        if entrance.as_deref().is_some_and(|e| !short_code(e)) {
            push("单元", "单元号应为 1-16 位字母或数字");
            ok = false;
        }
        if !short_code(&room) {
            push("户号", "户号应为 1-16 位字母或数字");
            ok = false;
        }
        let (phone, id_card, tenure, relation) = (cell(r, 4), cell(r, 5), cell(r, 6), cell(r, 7));
        match model::parse_resident(
            &cell(r, 3),
            Some(&phone),
            Some(&id_card),
            Some(&tenure),
            Some(&relation),
        ) {
            Ok(res) => {
                if let Some(id) = &res.id_card {
                    if let Some(first) = seen_ids.insert(id.as_str().to_string(), line) {
                        push("身份证号", &format!("与第 {first} 行的身份证号重复"));
                        ok = false;
                    }
                }
                if ok {
                    out.push(ImportRow {
                        line,
                        building,
                        entrance,
                        room,
                        resident: res,
                    });
                }
            }
            Err(fe) => {
                for (field, msgs) in fe.0 {
                    let col = match field.as_str() {
                        "name" => "姓名",
                        "phone" => "手机号",
                        "id_card" => "身份证号",
                        "tenure" => "身份",
                        _ => "与户主关系",
                    };
                    for m in msgs {
                        push(col, &m);
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

/// Where an import is: `checking` the rows against the registry, then
/// `writing` them; `done` of `total` rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub stage: &'static str,
    pub done: usize,
    pub total: usize,
}

/// Imports checked rows under a compound in one transaction.
pub async fn import(
    ctx: &Ctx,
    actor: Option<&str>,
    compound: &NodeRow,
    bytes: &[u8],
) -> AppResult<ImportReport> {
    if compound.kind != OrgKind::Compound {
        return Err(AppError::field("org", "只能导入到小区"));
    }
    let rows = match parse_workbook(bytes) {
        Ok(r) => r,
        Err(errors) => return Err(rejected(&errors)),
    };
    import_rows(ctx, actor, compound, &rows, &|_| {})
        .await
        .map_err(|e| match e {
            ImportError::Rows(errors) => rejected(&errors),
            ImportError::Other(e) => e,
        })
}

/// Why an import wrote nothing: bad rows (each with its row and column),
/// or another error.
#[derive(Debug)]
pub enum ImportError {
    Rows(Vec<RowError>),
    Other(AppError),
}

impl From<AppError> for ImportError {
    fn from(e: AppError) -> Self {
        ImportError::Other(e)
    }
}

impl From<sqlx::Error> for ImportError {
    fn from(e: sqlx::Error) -> Self {
        ImportError::Other(e.into())
    }
}

/// Imports parsed rows under a compound in one transaction, reporting
/// progress after each row; all or nothing.
pub async fn import_rows(
    ctx: &Ctx,
    actor: Option<&str>,
    compound: &NodeRow,
    rows: &[ImportRow],
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<ImportReport, ImportError> {
    if compound.kind != OrgKind::Compound {
        return Err(AppError::field("org", "只能导入到小区").into());
    }
    let total = rows.len();
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let mut created = 0;
    let mut imported = 0;
    // Numbers already registered are found first: a failed INSERT would
    // abort the whole transaction on PostgreSQL.
    // Looked up 500 at a time by blind index: one statement per chunk, not
    // one per resident.
    let mut errors = Vec::new();
    let mut checked = 0;
    for chunk in rows.chunks(500) {
        let indexes: Vec<(usize, String)> = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, row)| {
                let id = row.resident.id_card.as_ref()?;
                Some((i, ctx.cipher.blind_index("id_card", id.as_str())))
            })
            .collect();
        let taken = store::id_card_indexes_taken(
            &mut tx,
            &indexes.iter().map(|(_, x)| x.as_str()).collect::<Vec<_>>(),
        )
        .await?;
        for (i, index) in &indexes {
            if taken.contains(index) {
                errors.push(RowError {
                    row: chunk[*i].line,
                    column: "身份证号".into(),
                    message: "该身份证号已登记".into(),
                });
            }
        }
        checked += chunk.len();
        progress(Progress {
            stage: "checking",
            done: checked,
            total,
        });
    }
    if !errors.is_empty() {
        tx.rollback().await?;
        return Err(ImportError::Rows(errors));
    }
    // The nodes found or made so far in this transaction, by org path:
    // a building or entrance is looked up once, not once per resident.
    let mut known: HashMap<String, NodeRow> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        let (b, new_b) = ensure_known(
            &mut tx,
            &mut known,
            compound,
            node(
                OrgKind::Building,
                &format!("B{}", row.building),
                &format!("{}号楼", row.building),
            ),
            now,
        )
        .await?;
        let (parent, new_e) = match &row.entrance {
            Some(e) => {
                ensure_known(
                    &mut tx,
                    &mut known,
                    &b,
                    node(OrgKind::Entrance, &format!("U{e}"), &format!("{e}单元")),
                    now,
                )
                .await?
            }
            None => (b.clone(), false),
        };
        let (h, new_h) = ensure_known(
            &mut tx,
            &mut known,
            &parent,
            node(OrgKind::Household, &row.room, &format!("{}室", row.room)),
            now,
        )
        .await?;
        created += [new_b, new_e, new_h].iter().filter(|c| **c).count();
        store::insert_resident(&mut tx, &ctx.cipher, &h, &row.resident, None, now).await?;
        imported += 1;
        progress(Progress {
            stage: "writing",
            done: i + 1,
            total,
        });
    }
    kernel::audit::record(
        &mut tx,
        ctx.db.backend(),
        kernel::audit::AuditEntry {
            at_ms: now,
            actor_id: actor,
            action: "residents_imported",
            object_type: "org_node",
            object_id: Some(&compound.id),
            org_path: Some(compound.org_path.as_str()),
            detail: serde_json::json!({"residents": imported}),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(ImportReport {
        imported_residents: imported,
        created_nodes: created,
        errors: vec![],
    })
}

/// [`store::ensure_child`] through the import's own map of nodes.
async fn ensure_known(
    tx: &mut kernel::Tx,
    known: &mut HashMap<String, NodeRow>,
    parent: &NodeRow,
    n: NewNode,
    now: i64,
) -> AppResult<(NodeRow, bool)> {
    let path = parent.org_path.child(&n.code);
    if let Some(found) = known.get(path.as_str()) {
        if found.kind == n.kind {
            return Ok((found.clone(), false));
        }
    }
    let (found, created) = store::ensure_child(tx, parent, &n, now).await?;
    known.insert(path.as_str().to_string(), found.clone());
    Ok((found, created))
}

fn node(kind: OrgKind, code: &str, name: &str) -> NewNode {
    NewNode {
        kind,
        code: code.into(),
        name: name.into(),
    }
}

/// The whole-file rejection: 422 with one field entry per bad cell,
/// keyed `第N行.列名`.
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

/// An export row: the resident plus the building/entrance/room codes of
/// their household relative to the export root.
pub fn export_workbook(root: &NodeRow, residents: &[ResidentRow]) -> AppResult<Vec<u8>> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold().set_background_color("F2F2F2");
    let ws = wb.add_worksheet();
    let x = |e: rust_xlsxwriter::XlsxError| AppError::internal(e);
    ws.set_name("住户").map_err(x)?;
    for (c, h) in HEADERS.iter().chain(["组织路径"].iter()).enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)
            .map_err(x)?;
        ws.set_column_width(c as u16, if c == 8 { 48 } else { 14 })
            .map_err(x)?;
    }
    for (i, r) in residents.iter().enumerate() {
        let row = (i + 1) as u32;
        let rel = r
            .org_path
            .as_str()
            .strip_prefix(root.org_path.as_str())
            .unwrap_or("");
        let segs: Vec<&str> = rel.split('/').filter(|s| !s.is_empty()).collect();
        let (b, e, room) = match segs.as_slice() {
            [.., b, e, h] if e.starts_with('U') => {
                (b.to_string(), e[1..].to_string(), h.to_string())
            }
            [.., b, h] => (b.to_string(), String::new(), h.to_string()),
            _ => (String::new(), String::new(), String::new()),
        };
        let b = b.strip_prefix('B').map(str::to_string).unwrap_or(b);
        let cells = [
            b,
            e,
            room,
            r.name.clone(),
            r.phone
                .as_deref()
                .map(kernel::mask::phone)
                .unwrap_or_default(),
            r.id_card
                .as_deref()
                .map(kernel::mask::id_card)
                .unwrap_or_default(),
            r.tenure.label(false).to_string(),
            r.relation.clone().unwrap_or_default(),
            r.org_path.as_str().to_string(),
        ];
        for (c, v) in cells.iter().enumerate() {
            ws.write_string(row, c as u16, v).map_err(x)?;
        }
    }
    wb.save_to_buffer().map_err(x)
}

/// Builds an import workbook (tests, templates for staff to fill in).
pub fn template_workbook(rows: &[[&str; 8]]) -> Vec<u8> {
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

    #[test]
    fn good_rows_parse() {
        let wb = template_workbook(&[
            [
                "1",
                "1",
                "101",
                "王勇",
                "13800000011",
                "11010519491231002X",
                "业主",
                "户主",
            ],
            ["1", "", "102", "李娜", "", "", "租户", ""],
        ]);
        let rows = parse_workbook(&wb).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].entrance.as_deref(), Some("1"));
        assert!(rows[1].entrance.is_none());
    }

    #[test]
    fn every_bad_row_is_reported() {
        let wb = template_workbook(&[
            [
                "1",
                "1",
                "101",
                "王勇",
                "13800000011",
                "11010519491231002X",
                "业主",
                "",
            ],
            ["1/2", "1", "102", "", "", "110105194912310021", "房东", ""],
            ["1", "1", "103", "张三", "", "11010519491231002X", "", ""],
            ["1", "1", "104", "李四", "123", "", "", ""],
        ]);
        let errs = parse_workbook(&wb).unwrap_err();
        let cols: Vec<(usize, &str)> = errs.iter().map(|e| (e.row, e.column.as_str())).collect();
        assert!(cols.contains(&(5, "手机号")));
        assert!(cols.contains(&(3, "楼栋")));
        assert!(cols.contains(&(3, "姓名")));
        assert!(cols.contains(&(3, "身份证号")));
        assert!(cols.contains(&(3, "身份")));
        assert!(
            cols.contains(&(4, "身份证号")),
            "duplicate ID within the file"
        );
    }

    #[test]
    fn wrong_files_are_refused() {
        assert!(parse_workbook(b"not a zip").is_err());
        let mut wb = rust_xlsxwriter::Workbook::new();
        wb.add_worksheet().write_string(0, 0, "name").unwrap();
        let bytes = wb.save_to_buffer().unwrap();
        assert!(parse_workbook(&bytes).unwrap_err()[0]
            .message
            .contains("表头"));
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(48))]

            /// Arbitrary bytes are refused with a message, never a panic.
            #[test]
            fn any_bytes_are_refused_or_parsed(raw in proptest::collection::vec(any::<u8>(), 0..400)) {
                if let Err(errors) = parse_workbook(&raw) {
                    prop_assert!(!errors.is_empty());
                }
            }

            /// Any cell text: each row either parses or is reported with its
            /// line number, and nothing is half accepted.
            #[test]
            fn any_cells_give_rows_or_row_errors(
                cells in proptest::collection::vec(proptest::collection::vec("\\PC{0,24}", 8), 1..6)
            ) {
                let rows: Vec<[&str; 8]> = cells
                    .iter()
                    .map(|r| std::array::from_fn(|i| r[i].as_str()))
                    .collect();
                match parse_workbook(&template_workbook(&rows)) {
                    Ok(parsed) => prop_assert_eq!(parsed.len(), rows.len()),
                    Err(errors) => {
                        prop_assert!(!errors.is_empty());
                        for e in errors {
                            prop_assert!(e.row <= rows.len() + 1, "row {}", e.row);
                            prop_assert!(!e.message.is_empty());
                        }
                    }
                }
            }
        }
    }
}
