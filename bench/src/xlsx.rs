//! The residents workbook for the import figure: `rows` fake but valid
//! residents (GB 11643 ID numbers with their check digit, unique mobile
//! numbers), three to a household, in the import's column layout.

use rust_xlsxwriter::Workbook;

const HEADERS: [&str; 8] = [
    "楼栋",
    "单元",
    "户号",
    "姓名",
    "手机号",
    "身份证号",
    "身份",
    "与户主关系",
];
const SURNAMES: [&str; 12] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙",
];
const GIVEN: [&str; 12] = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳",
];

/// The GB 11643-1999 check character of the first 17 digits.
pub fn id_check_char(first17: &str) -> char {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const C: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let sum: u32 = first17
        .chars()
        .zip(W)
        .map(|(c, w)| c.to_digit(10).unwrap_or(0) * w)
        .sum();
    C[(sum % 11) as usize]
}

/// Resident `i`'s ID number: 太原市小店区 (140105), a birth date 1950-01-01 plus
/// `i / 1000` days, a sequence of `i % 1000`; unique for `i` < ~9 million.
pub fn id_number(i: usize) -> String {
    let birth = chrono::NaiveDate::from_ymd_opt(1950, 1, 1).expect("date")
        + chrono::Days::new((i / 1000) as u64);
    // 太原市小店区 (140105): never a code `lianxin seed` gives its residents,
    // so the imported people are new ones.
    let first17 = format!("140105{}{:03}", birth.format("%Y%m%d"), i % 1000);
    format!("{first17}{}", id_check_char(&first17))
}

pub fn residents_workbook(rows: usize) -> Result<Vec<u8>, String> {
    let x = |e: rust_xlsxwriter::XlsxError| e.to_string();
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in HEADERS.iter().enumerate() {
        ws.write_string(0, c as u16, *h).map_err(x)?;
    }
    for i in 0..rows {
        let household = i / 3;
        let building = format!("B{}", household / 200 + 1);
        let entrance = format!("{}", (household / 50) % 4 + 1);
        let room = format!("{}{:02}", (household % 50) / 4 + 1, household % 4 + 1);
        let name = format!(
            "{}{}{}",
            SURNAMES[i % SURNAMES.len()],
            GIVEN[(i / 7) % GIVEN.len()],
            GIVEN[(i / 3) % GIVEN.len()]
        );
        let phone = format!("199{:08}", i);
        let (tenure, relation) = match i % 3 {
            0 => ("业主", "户主"),
            1 => ("业主", "配偶"),
            _ => ("租户", "子女"),
        };
        let row = (i + 1) as u32;
        for (c, v) in [
            building.as_str(),
            &entrance,
            &room,
            &name,
            &phone,
            &id_number(i),
            tenure,
            relation,
        ]
        .iter()
        .enumerate()
        {
            ws.write_string(row, c as u16, *v).map_err(x)?;
        }
    }
    wb.save_to_buffer().map_err(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits_follow_gb11643() {
        // The standard's own example.
        assert_eq!(id_check_char("11010519491231002"), 'X');
        assert_eq!(
            id_number(0),
            format!("14010519500101000{}", id_check_char("14010519500101000"))
        );
        let a = id_number(1234);
        assert_eq!(&a[6..14], "19500102");
        assert_eq!(&a[14..17], "234");
    }
}
