//! Translations from catalogue files (`i18n/zh-CN.txt`, `i18n/en.txt`):
//! one `key = text` per line, `#` comments. zh-CN is the default and the
//! fallback; a test keeps both catalogues on the same keys.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone};
use std::collections::HashMap;
use std::sync::OnceLock;

pub mod messages;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "zh" | "zh-cn" | "zh_cn" | "zh-hans" => Some(Lang::Zh),
            "en" | "en-us" | "en-gb" => Some(Lang::En),
            _ => None,
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    /// The translation of `key` if the catalogues have it (this language,
    /// else zh-CN).
    pub fn t_opt(self, key: &str) -> Option<&'static str> {
        let cats = catalogues();
        let primary = match self {
            Lang::Zh => &cats.0,
            Lang::En => &cats.1,
        };
        primary.get(key).or_else(|| cats.0.get(key)).copied()
    }

    /// The translation of `key`, falling back to zh-CN, then to the key.
    pub fn t(self, key: &str) -> &'static str {
        let cats = catalogues();
        let primary = match self {
            Lang::Zh => &cats.0,
            Lang::En => &cats.1,
        };
        primary
            .get(key)
            .or_else(|| cats.0.get(key))
            .copied()
            .unwrap_or_else(|| Box::leak(key.to_string().into_boxed_str()))
    }
}

/// Formatting per locale: dates and times (always in Asia/Shanghai), numbers,
/// percentages, money and lists, for pages. Machine formats (the JSON API,
/// xlsx cells, `datetime` attributes) keep RFC 3339 and plain numbers.
impl Lang {
    /// An instant: "2026年11月29日 15:30" / "29 Nov 2026, 15:30".
    pub fn datetime(self, ms: i64) -> String {
        match local(ms) {
            Some(t) => {
                let d = self.date_of(t.date_naive());
                match self {
                    Lang::Zh => format!("{d} {}", t.format("%H:%M")),
                    Lang::En => format!("{d}, {}", t.format("%H:%M")),
                }
            }
            None => String::new(),
        }
    }

    /// The day of an instant: "2026年11月29日" / "29 Nov 2026".
    pub fn date(self, ms: i64) -> String {
        local(ms)
            .map(|t| self.date_of(t.date_naive()))
            .unwrap_or_default()
    }

    /// A calendar date: "2026年11月29日" / "29 Nov 2026".
    pub fn date_of(self, d: NaiveDate) -> String {
        match self {
            Lang::Zh => format!("{}年{}月{}日", d.year(), d.month(), d.day()),
            Lang::En => format!(
                "{} {} {}",
                d.day(),
                MONTHS_EN[d.month0() as usize],
                d.year()
            ),
        }
    }

    /// A month: "2026年11月" / "Nov 2026".
    pub fn month_of(self, year: i32, month: u32) -> String {
        match self {
            Lang::Zh => format!("{year}年{month}月"),
            Lang::En => format!("{} {year}", MONTHS_EN[(month.clamp(1, 12) - 1) as usize]),
        }
    }

    /// A date or instant as the API writes it ("2026-11-29", "2026-11", "11-29",
    /// RFC 3339, or a form's "2026-11-29T15:30"), shown in this language;
    /// anything else (empty, "—", free text) unchanged.
    pub fn when(self, s: &str) -> String {
        let v = s.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(v) {
            return self.datetime(t.timestamp_millis());
        }
        if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
            return self.date_of(d);
        }
        if let Ok(t) = NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M") {
            let ms = (t - chrono::Duration::seconds(crate::clock::SHANGHAI_OFFSET_SECS as i64))
                .and_utc()
                .timestamp_millis();
            return self.datetime(ms);
        }
        // A chart's short day label, "MM-DD".
        if v.len() == 5 && v.as_bytes()[2] == b'-' {
            if let (Ok(m), Ok(d)) = (v[..2].parse::<u32>(), v[3..].parse::<u32>()) {
                if (1..=12).contains(&m) && (1..=31).contains(&d) {
                    return match self {
                        Lang::Zh => format!("{m}月{d}日"),
                        Lang::En => format!("{d} {}", MONTHS_EN[(m - 1) as usize]),
                    };
                }
            }
        }
        if v.len() == 7 && v.as_bytes()[4] == b'-' {
            if let (Ok(y), Ok(m)) = (v[..4].parse::<i32>(), v[5..].parse::<u32>()) {
                if (1..=12).contains(&m) {
                    return self.month_of(y, m);
                }
            }
        }
        s.to_string()
    }

    /// A whole number, grouped by thousands from 10 000 up: "12,345"; smaller
    /// numbers stay plain ("2026", "980").
    pub fn number(self, n: i64) -> String {
        let digits = n.unsigned_abs().to_string();
        let sign = if n < 0 { "-" } else { "" };
        if digits.len() <= 4 {
            return format!("{sign}{digits}");
        }
        format!("{sign}{}", group(&digits))
    }

    /// A fraction as a percentage with one decimal: 0.9523 → "95.2%".
    pub fn percent(self, fraction: f64) -> String {
        if !fraction.is_finite() {
            return "—".into();
        }
        let v = (fraction * 1000.0).round() / 10.0;
        let v = if v == 0.0 { 0.0 } else { v };
        format!("{v:.1}%")
    }

    /// Money in fen (分), two decimals: "1,234.50元" / "¥1,234.50".
    pub fn money(self, fen: i64) -> String {
        let sign = if fen < 0 { "-" } else { "" };
        let a = fen.unsigned_abs();
        let yuan = group(&(a / 100).to_string());
        let amount = format!("{yuan}.{:02}", a % 100);
        match self {
            Lang::Zh => format!("{sign}{amount}元"),
            Lang::En => format!("{sign}¥{amount}"),
        }
    }

    /// A list for reading: "甲、乙、丙" / "A, B, C".
    pub fn join<S: AsRef<str>>(self, items: &[S]) -> String {
        let sep = match self {
            Lang::Zh => "、",
            Lang::En => ", ",
        };
        items
            .iter()
            .map(AsRef::as_ref)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(sep)
    }

    /// A server message (the Chinese text of a field error or a refusal,
    /// as the API sends it) in this language; see [`crate::i18n::messages`].
    pub fn msg(self, zh: &str) -> String {
        match self {
            Lang::Zh => zh.to_string(),
            Lang::En => messages::to_english(zh).unwrap_or_else(|| zh.to_string()),
        }
    }

    /// Several messages, one after another ("；" / "; ").
    pub fn msgs<S: AsRef<str>>(self, zh: &[S]) -> String {
        let sep = match self {
            Lang::Zh => ";",
            Lang::En => "; ",
        };
        zh.iter()
            .map(|m| self.msg(m.as_ref()))
            .collect::<Vec<_>>()
            .join(sep)
    }
}

/// Chinese characters and CJK punctuation (full-width forms included): what
/// an English page should not show outside user data.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3000..=0x303F | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0xFF00..=0xFFEF)
}

const MONTHS_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn local(ms: i64) -> Option<DateTime<chrono::FixedOffset>> {
    crate::clock::shanghai().timestamp_millis_opt(ms).single()
}

fn group(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub const ZH_CATALOGUE: &str = include_str!("../i18n/zh-CN.txt");
pub const EN_CATALOGUE: &str = include_str!("../i18n/en.txt");

type Catalogue = HashMap<&'static str, &'static str>;

fn catalogues() -> &'static (Catalogue, Catalogue) {
    static CATS: OnceLock<(Catalogue, Catalogue)> = OnceLock::new();
    CATS.get_or_init(|| (parse_catalogue(ZH_CATALOGUE), parse_catalogue(EN_CATALOGUE)))
}

pub fn parse_catalogue(text: &'static str) -> Catalogue {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogues_have_the_same_keys() {
        let zh = parse_catalogue(ZH_CATALOGUE);
        let en = parse_catalogue(EN_CATALOGUE);
        let mut missing_en: Vec<_> = zh.keys().filter(|k| !en.contains_key(*k)).collect();
        let mut missing_zh: Vec<_> = en.keys().filter(|k| !zh.contains_key(*k)).collect();
        missing_en.sort();
        missing_zh.sort();
        assert!(missing_en.is_empty(), "missing in en: {missing_en:?}");
        assert!(missing_zh.is_empty(), "missing in zh-CN: {missing_zh:?}");
        assert!(zh.values().all(|v| !v.is_empty()));
    }

    #[test]
    fn dates_and_times_per_locale() {
        // 2026-11-29T07:30:00Z is 15:30 in Shanghai.
        let ms = 1_795_937_400_000;
        assert_eq!(crate::clock::to_rfc3339(ms), "2026-11-29T15:30:00+08:00");
        assert_eq!(Lang::Zh.datetime(ms), "2026年11月29日 15:30");
        assert_eq!(Lang::En.datetime(ms), "29 Nov 2026, 15:30");
        assert_eq!(Lang::Zh.date(ms), "2026年11月29日");
        assert_eq!(Lang::En.date(ms), "29 Nov 2026");
        // Late evening UTC is the next day in Shanghai.
        let late = 1_795_996_800_000 - 1; // 2026-11-29T23:59:59.999Z
        assert_eq!(Lang::En.date(late), "30 Nov 2026");
        let d = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        assert_eq!(Lang::Zh.date_of(d), "2026年1月5日");
        assert_eq!(Lang::En.date_of(d), "5 Jan 2026");
        assert_eq!(Lang::Zh.month_of(2026, 7), "2026年7月");
        assert_eq!(Lang::En.month_of(2026, 7), "Jul 2026");
    }

    #[test]
    fn api_dates_are_shown_per_locale() {
        assert_eq!(
            Lang::En.when("2026-11-29T15:30:00+08:00"),
            "29 Nov 2026, 15:30"
        );
        assert_eq!(Lang::En.when("2026-11-29T07:30:00Z"), "29 Nov 2026, 15:30");
        assert_eq!(
            Lang::Zh.when("2026-11-29T15:30:00+08:00"),
            "2026年11月29日 15:30"
        );
        assert_eq!(Lang::En.when("2026-11-29"), "29 Nov 2026");
        assert_eq!(Lang::Zh.when("2026-11-29"), "2026年11月29日");
        assert_eq!(Lang::En.when("2026-11-29T15:30"), "29 Nov 2026, 15:30");
        assert_eq!(Lang::En.when("2026-11"), "Nov 2026");
        assert_eq!(Lang::Zh.when("2026-11"), "2026年11月");
        assert_eq!(Lang::En.when("03-01"), "1 Mar");
        assert_eq!(Lang::Zh.when("03-01"), "3月1日");
        for other in ["", "—", "下周", "2026Q3", "2026-13", "13-01", "ab-cd"] {
            assert_eq!(Lang::En.when(other), other);
        }
    }

    #[test]
    fn numbers_percentages_money() {
        assert_eq!(Lang::En.number(980), "980");
        assert_eq!(Lang::En.number(2026), "2026");
        assert_eq!(Lang::En.number(12_345), "12,345");
        assert_eq!(Lang::Zh.number(1_234_567), "1,234,567");
        assert_eq!(Lang::En.number(-12_345), "-12,345");
        assert_eq!(Lang::En.percent(0.9523), "95.2%");
        assert_eq!(Lang::Zh.percent(1.0), "100.0%");
        assert_eq!(Lang::En.percent(-0.0001), "0.0%");
        assert_eq!(Lang::En.percent(f64::NAN), "—");
        assert_eq!(Lang::Zh.money(123_450), "1,234.50元");
        assert_eq!(Lang::En.money(123_450), "¥1,234.50");
        assert_eq!(Lang::En.money(5), "¥0.05");
        assert_eq!(Lang::Zh.money(-100), "-1.00元");
    }

    #[test]
    fn lists_and_messages() {
        assert_eq!(Lang::Zh.join(&["张三", "李四", ""]), "张三、李四");
        assert_eq!(Lang::En.join(&["A", "B", "C"]), "A, B, C");
        assert_eq!(Lang::En.join::<&str>(&[]), "");
        assert_eq!(Lang::Zh.msg("标题不能为空"), "标题不能为空");
        assert_eq!(Lang::En.msg("标题不能为空"), "Title is required");
        assert_eq!(Lang::En.msg("没有的话"), "没有的话");
        assert_eq!(
            Lang::En.msgs(&["标题不能为空", "请先登录"]),
            "Title is required; Please log in first"
        );
        assert!(is_cjk('中') && is_cjk('\u{ff0c}') && is_cjk('、') && !is_cjk('a') && !is_cjk('¥'));
    }

    #[test]
    fn lookup_and_fallback() {
        assert_eq!(Lang::Zh.t("app.name"), "连心");
        assert_eq!(Lang::En.t("app.name"), "Lianxin");
        assert_eq!(Lang::En.t("no.such.key"), "no.such.key");
        assert_eq!(Lang::parse("EN"), Some(Lang::En));
    }
}
