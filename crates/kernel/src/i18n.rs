//! Translations from catalogue files (`i18n/zh-CN.txt`, `i18n/en.txt`):
//! one `key = text` per line, `#` comments. zh-CN is the default and the
//! fallback; a test keeps both catalogues on the same keys.

use std::collections::HashMap;
use std::sync::OnceLock;

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
    fn lookup_and_fallback() {
        assert_eq!(Lang::Zh.t("app.name"), "连心");
        assert_eq!(Lang::En.t("app.name"), "Lianxin");
        assert_eq!(Lang::En.t("no.such.key"), "no.such.key");
        assert_eq!(Lang::parse("EN"), Some(Lang::En));
    }
}
