//! English for the server's Chinese messages, on pages.
//!
//! The JSON API's `message` and `fields` stay Chinese (the contract); a page
//! rendered in English shows the same messages translated here, at render
//! time, from `i18n/messages.txt`: one `中文 = English` per line. A `{}` in
//! the Chinese side stands for a value (a label, a number, a code): the
//! message is matched as a pattern, each value is translated in turn when it
//! is itself a known message (a field label such as 标题), and put in the
//! English side's `{}` in order (or `{0}`, `{1}`… to reorder).
//!
//! A test (`source_messages_have_english` below) scans the workspace's
//! source for the Chinese literals that can reach a page (every module but
//! the machine-only ones and data files, see [`SKIPPED`]) and fails on any
//! without an entry here.

use std::collections::HashMap;
use std::sync::OnceLock;

pub const MESSAGES: &str = include_str!("../../i18n/messages.txt");

struct Pattern {
    /// The literal pieces around the `{}`s (one more than the values).
    pieces: Vec<&'static str>,
    en: &'static str,
}

struct Table {
    exact: HashMap<&'static str, &'static str>,
    /// Most specific first (longest literal text).
    patterns: Vec<Pattern>,
    /// Every Chinese side as written, for the coverage test.
    keys: HashMap<&'static str, &'static str>,
}

fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| {
        let mut exact = HashMap::new();
        let mut patterns = Vec::new();
        let mut keys = HashMap::new();
        for (zh, en) in entries() {
            keys.insert(zh, en);
            if zh.contains("{}") {
                patterns.push(Pattern {
                    pieces: zh.split("{}").collect(),
                    en,
                });
            } else {
                exact.insert(zh, en);
            }
        }
        patterns.sort_by_key(|p| {
            std::cmp::Reverse(p.pieces.iter().map(|s| s.chars().count()).sum::<usize>())
        });
        Table {
            exact,
            patterns,
            keys,
        }
    })
}

/// The `(Chinese, English)` lines of the file.
pub fn entries() -> impl Iterator<Item = (&'static str, &'static str)> {
    MESSAGES
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(" = "))
        .map(|(zh, en)| (zh.trim(), en.trim()))
}

/// Whether the Chinese text (a literal of the source, its values written
/// `{}`) has an English entry.
pub fn covers(zh: &str) -> bool {
    let t = table();
    t.keys.contains_key(zh) || to_english(zh).is_some()
}

/// The English of a Chinese message, if it is known.
pub fn to_english(zh: &str) -> Option<String> {
    let zh = zh.trim();
    if zh.is_empty() {
        return None;
    }
    let t = table();
    if let Some(en) = t.exact.get(zh) {
        return Some((*en).to_string());
    }
    for p in &t.patterns {
        if let Some(values) = capture(zh, &p.pieces) {
            let values: Vec<String> = values
                .into_iter()
                .map(|v| to_english(v).unwrap_or_else(|| v.to_string()))
                .collect();
            return Some(fill(p.en, &values));
        }
    }
    None
}

/// The values of `text` matched against `pieces` (literal text between the
/// values); each value non-empty. The first match found, shortest values
/// first.
fn capture<'a>(text: &'a str, pieces: &[&str]) -> Option<Vec<&'a str>> {
    let rest = text.strip_prefix(pieces[0])?;
    let mut out = Vec::new();
    if go(rest, &pieces[1..], &mut out) {
        Some(out)
    } else {
        None
    }
}

fn go<'a>(text: &'a str, pieces: &[&str], out: &mut Vec<&'a str>) -> bool {
    let Some((lit, more)) = pieces.split_first() else {
        return text.is_empty();
    };
    if more.is_empty() {
        // The last value runs to the final piece.
        return match text.strip_suffix(lit) {
            Some(v) if !v.is_empty() => {
                out.push(v);
                true
            }
            _ => false,
        };
    }
    if lit.is_empty() {
        return false;
    }
    let mut from = 0;
    while let Some(i) = text[from..].find(lit) {
        let at = from + i;
        if at > 0 {
            out.push(&text[..at]);
            if go(&text[at + lit.len()..], more, out) {
                return true;
            }
            out.pop();
        }
        from = at + text[at..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

/// Puts the values into the English side: `{}` in order, `{0}`, `{1}`…
/// by position.
fn fill(en: &str, values: &[String]) -> String {
    let mut out = String::with_capacity(en.len() + 16);
    let mut next = 0;
    let mut rest = en;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.find('}') {
            Some(j) => {
                let inner = &after[..j];
                let idx = if inner.is_empty() {
                    let k = next;
                    next += 1;
                    Some(k)
                } else {
                    inner.parse::<usize>().ok()
                };
                match idx.and_then(|k| values.get(k)) {
                    Some(v) => out.push_str(v),
                    None => {
                        out.push('{');
                        out.push_str(inner);
                        out.push('}');
                    }
                }
                rest = &after[j + 1..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Source the coverage test skips: machine interfaces whose messages never
/// reach a page (Open311; webhooks and the stored notification texts), seed
/// and demo data, workbook and report contents (Chinese by design), the
/// OpenAPI text, the formatting code itself, and the category catalogue
/// (names come with their English from the database).
pub const SKIPPED: &[&str] = &[
    "crates/open311/",
    "crates/notify/",
    "crates/app/src/seed.rs",
    "crates/app/src/demo.rs",
    "crates/app/src/main.rs",
    "crates/party/src/demo.rs",
    "crates/cases/src/mediation/demo.rs",
    "crates/cases/src/catalogue.rs",
    "crates/cases/src/notices.rs",
    "crates/insight/src/report.rs",
    "crates/kernel/src/openapi.rs",
    "crates/app/src/openapi.rs",
    "crates/kernel/src/i18n",
    "xlsx.rs",
];

/// The string literals of Rust source outside comments, attributes and the
/// `#[cfg(test)]` module, their `{…}` format arguments written `{}`.
pub fn literals(src: &str) -> Vec<String> {
    let src = match src.find("#[cfg(test)]") {
        Some(i) => &src[..i],
        None => src,
    };
    let b = src.as_bytes();
    let n = b.len();
    let mut out = Vec::new();
    let mut i = 0;
    // The end of a normal string literal starting after its quote at `k`.
    let string_end = |mut k: usize| -> usize {
        while k < n && b[k] != b'"' {
            k += if b[k] == b'\\' { 2 } else { 1 };
        }
        k
    };
    while i < n {
        let rest = &src[i..];
        if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
        } else if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |j| j + 2);
        } else if rest.starts_with("#[") || rest.starts_with("#![") {
            // Skip the attribute (doc and OpenAPI text), brackets matched.
            let mut k = i + rest.find('[').unwrap_or(0);
            let mut depth = 0;
            while k < n {
                match b[k] {
                    b'"' => k = string_end(k + 1),
                    b'[' => depth += 1,
                    b']' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                k += 1;
            }
            i = k + 1;
        } else if b[i] == b'\'' {
            // A char literal ('"', '\'', '\u{41}', 'x'); a lifetime is passed over.
            let mut cs = rest.char_indices().skip(1);
            let skip = match cs.next() {
                Some((_, '\\')) => rest
                    .get(3..)
                    .and_then(|r| r.find('\''))
                    .map(|j| j + 4)
                    .filter(|&j| j <= 12),
                Some((j, c)) => {
                    let after = j + c.len_utf8();
                    rest[after..].starts_with('\'').then_some(after + 1)
                }
                None => None,
            };
            i += skip.unwrap_or(1);
        } else if b[i] == b'r'
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
            && rest[1..].trim_start_matches('#').starts_with('"')
        {
            let hashes = rest[1..].len() - rest[1..].trim_start_matches('#').len();
            let open = 1 + hashes + 1;
            let close = format!("\"{}", "#".repeat(hashes));
            let body_end = rest[open..].find(&close).map_or(rest.len(), |j| open + j);
            out.push(normalise(&rest[open..body_end]));
            i += body_end + close.len();
        } else if b[i] == b'"' {
            let end = string_end(i + 1);
            out.push(normalise(&unescape(&src[i + 1..end.min(n)])));
            i = end + 1;
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    out
}

/// Line continuations (`\` at a line's end) joined; other escapes kept.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\\' && it.peek() == Some(&'\n') {
            while it.peek().is_some_and(|c| c.is_whitespace()) {
                it.next();
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `{label}`, `{:.1}`, `{}` → `{}`; `{{`/`}}` → `{`/`}`.
fn normalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '{' if it.peek() == Some(&'{') => {
                it.next();
                out.push('{');
            }
            '}' if it.peek() == Some(&'}') => {
                it.next();
                out.push('}');
            }
            '{' => {
                for d in it.by_ref() {
                    if d == '}' {
                        break;
                    }
                }
                out.push_str("{}");
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                rust_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    /// Every Chinese literal of the source that can reach a page (a field
    /// message, a refusal, a label put into one) has its English here.
    #[test]
    fn source_messages_have_english() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files = Vec::new();
        for krate in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
            let src = krate.path().join("src");
            if src.is_dir() {
                rust_files(&src, &mut files);
            }
        }
        let mut missing = std::collections::BTreeSet::new();
        let mut seen = 0;
        for f in &files {
            let rel = f
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if SKIPPED.iter().any(|s| rel.contains(s)) {
                continue;
            }
            let text = std::fs::read_to_string(f).unwrap();
            for lit in literals(&text) {
                if lit.chars().any(super::super::is_cjk) {
                    seen += 1;
                    if !covers(&lit) {
                        missing.insert(format!("{rel}: {lit}"));
                    }
                }
            }
        }
        assert!(seen > 300, "the scan found the messages ({seen})");
        assert!(
            missing.is_empty(),
            "Chinese text without English in i18n/messages.txt ({}):\n{}",
            missing.len(),
            missing.into_iter().collect::<Vec<_>>().join("\n")
        );
    }

    #[test]
    fn literals_are_read_like_the_compiler() {
        let src = r##"
            // "注释" is not a literal
            #[schema(example = "属性")]
            fn f() { let a = "标题{label}不能为空"; let c = '"'; let d = "x\"引号\"";
              let r = r#"原始"#; let l: &'static str = "生命周期"; }
            #[cfg(test)]
            mod tests { const T: &str = "测试"; }
        "##;
        assert_eq!(
            literals(src),
            vec!["标题{}不能为空", "x\\\"引号\\\"", "原始", "生命周期"]
        );
    }

    #[test]
    fn exact_and_patterns() {
        assert_eq!(
            to_english("提交的内容有误,请按提示修改").as_deref(),
            Some("Please correct the highlighted fields")
        );
        // A pattern whose value is itself a known label.
        assert_eq!(
            to_english("标题不能为空").as_deref(),
            Some("Title is required")
        );
        assert_eq!(
            to_english("标题不能超过 60 个字").as_deref(),
            Some("Title must be at most 60 characters")
        );
        // A value that is not a message is kept as it is.
        assert_eq!(
            to_english("第 3 条与前面的党员重复").as_deref(),
            Some("Entry 3 repeats a member listed before it")
        );
        assert_eq!(to_english("完全不认识的话"), None);
        assert_eq!(to_english(""), None);
    }

    #[test]
    fn values_can_be_reordered() {
        assert_eq!(fill("{1} then {0}", &["a".into(), "b".into()]), "b then a");
        assert_eq!(fill("{} and {}", &["a".into(), "b".into()]), "a and b");
        assert_eq!(fill("{x}", &[]), "{x}");
    }

    #[test]
    fn every_line_parses_and_english_has_no_chinese() {
        let mut seen = std::collections::HashSet::new();
        for line in MESSAGES.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (zh, en) = line
                .split_once(" = ")
                .unwrap_or_else(|| panic!("no ` = `: {line}"));
            assert!(seen.insert(zh.trim()), "twice: {zh}");
            assert!(!en.trim().is_empty(), "empty English: {zh}");
            assert!(
                !en.chars().any(super::super::is_cjk),
                "Chinese in the English of {zh}: {en}"
            );
            assert_eq!(
                zh.matches("{}").count(),
                en.matches('{').count(),
                "values differ: {line}"
            );
        }
    }
}
