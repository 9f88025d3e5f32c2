//! The personal-data registry (个人信息登记册, PIPL art. 51): every column
//! that holds personal information, from `docs/personal-data.toml`, embedded
//! in the binary so the security admin's page and the tests read the same
//! file. A test checks it against the migrations in both directions.

use serde::Deserialize;

pub const REGISTRY_TOML: &str = include_str!("../../../docs/personal-data.toml");

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PersonalColumn {
    pub table: String,
    pub column: String,
    /// identity, contact, account, location, health, political, opinion,
    /// content, network.
    pub category: String,
    /// `sensitive` (PIPL art. 28) or `general`.
    pub sensitivity: String,
    pub purpose: String,
    pub retention: String,
    pub encrypted: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotPersonal {
    pub table: String,
    pub column: String,
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    #[serde(default)]
    pub column: Vec<PersonalColumn>,
    #[serde(default)]
    pub not_personal: Vec<NotPersonal>,
}

pub const CATEGORIES: &[&str] = &[
    "identity",
    "contact",
    "account",
    "location",
    "health",
    "political",
    "opinion",
    "content",
    "network",
];

/// Retention values that are not a configurable period.
/// Retentions not set in the config: "account" (while the account exists),
/// "statutory" (kept by law) and "replay_24h" (an Idempotency-Key's stored
/// answer, purged hourly once its 24 hours are over).
pub const FIXED_RETENTIONS: &[&str] = &["account", "statutory", "replay_24h"];

pub fn registry() -> Registry {
    toml::from_str(REGISTRY_TOML).expect("docs/personal-data.toml is valid (tested)")
}

/// `(table, column)` of every column the SQL creates: `CREATE TABLE t (…)`
/// and `ALTER TABLE t ADD COLUMN c`. Comments are dropped first.
pub fn schema_columns(sql: &str) -> Vec<(String, String)> {
    let text: String = sql
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    let upper = text.to_ascii_uppercase();
    let mut at = 0;
    while let Some(i) = upper[at..].find("CREATE TABLE") {
        let start = at + i + "CREATE TABLE".len();
        let Some(open) = text[start..].find('(') else {
            break;
        };
        let table = text[start..start + open]
            .split_whitespace()
            .last()
            .unwrap_or("")
            .to_string();
        // The body ends at the parenthesis that closes the opening one.
        let body_start = start + open + 1;
        let mut depth = 1;
        let mut end = body_start;
        for (j, ch) in text[body_start..].char_indices() {
            match ch {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = body_start + j;
                        break;
                    }
                }
                _ => {}
            }
        }
        for item in split_top_level(&text[body_start..end]) {
            let mut words = item.split_whitespace();
            let Some(first) = words.next() else { continue };
            let kw = first.to_ascii_uppercase();
            if matches!(
                kw.as_str(),
                "PRIMARY" | "UNIQUE" | "FOREIGN" | "CHECK" | "CONSTRAINT"
            ) || words.next().is_none()
            {
                continue;
            }
            out.push((table.clone(), first.trim_matches('"').to_string()));
        }
        at = end;
    }
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let up: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
        if up.len() >= 6 && up[0] == "ALTER" && up[1] == "TABLE" && up[3] == "ADD" {
            let col = if up[4] == "COLUMN" {
                words[5]
            } else {
                words[4]
            };
            out.push((words[2].to_string(), col.trim_matches('"').to_string()));
        }
    }
    out
}

fn split_top_level(body: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut last = 0;
    for (i, ch) in body.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&body[last..i]);
                last = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&body[last..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Words that make a column look personal: a column whose name contains
    /// one of them (as an `_`-separated word) must be in the registry, as
    /// personal or with a reason why not.
    const PERSONAL_WORDS: &[&str] = &[
        "name",
        "phone",
        "mobile",
        "card",
        "address",
        "birth",
        "birthday",
        "gender",
        "sex",
        "ethnicity",
        "health",
        "symptom",
        "temperature",
        "political",
        "religion",
        "login",
        "email",
        "wechat",
        "location",
        "place",
        "whereabouts",
        "plate",
        "profile",
        "comment",
        "description",
        "note",
        "notes",
        "reason",
        "detail",
        "summary",
        "agreement",
        "ip",
        "photo",
        "title",
        "relation",
        "tenure",
        "body",
        "index",
        "enc",
        "masked",
        "data",
        "filename",
    ];

    fn looks_personal(column: &str) -> bool {
        column
            .split('_')
            .any(|w| PERSONAL_WORDS.contains(&w.to_ascii_lowercase().as_str()))
    }

    fn migration_columns() -> BTreeSet<(String, String)> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite");
        let mut all = BTreeSet::new();
        let mut files = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("sql") {
                continue;
            }
            files += 1;
            let sql = std::fs::read_to_string(&path).unwrap();
            all.extend(schema_columns(&sql));
        }
        assert!(files >= 9, "read the migrations ({files})");
        all
    }

    #[test]
    fn the_parser_reads_create_and_alter() {
        let cols = schema_columns(
            "-- residents\nCREATE TABLE t (\n id TEXT PRIMARY KEY, -- the id\n amount NUMERIC(10, 2),\n PRIMARY KEY (a, b)\n);\nALTER TABLE t ADD COLUMN phone_enc TEXT;\nALTER TABLE u ADD note TEXT;",
        );
        assert_eq!(
            cols,
            vec![
                ("t".to_string(), "id".to_string()),
                ("t".to_string(), "amount".to_string()),
                ("t".to_string(), "phone_enc".to_string()),
                ("u".to_string(), "note".to_string()),
            ]
        );
    }

    #[test]
    fn every_personal_looking_column_is_registered() {
        let reg = registry();
        let listed: BTreeSet<(String, String)> = reg
            .column
            .iter()
            .map(|c| (c.table.clone(), c.column.clone()))
            .chain(
                reg.not_personal
                    .iter()
                    .map(|c| (c.table.clone(), c.column.clone())),
            )
            .collect();
        let missing: Vec<_> = migration_columns()
            .into_iter()
            .filter(|(_, c)| looks_personal(c))
            .filter(|tc| !listed.contains(tc))
            .collect();
        assert!(
            missing.is_empty(),
            "columns that look personal but are not in docs/personal-data.toml: {missing:?}"
        );
    }

    #[test]
    fn every_registry_entry_names_a_real_column_once() {
        let reg = registry();
        let cols = migration_columns();
        let mut seen = BTreeSet::new();
        for (t, c) in reg
            .column
            .iter()
            .map(|c| (&c.table, &c.column))
            .chain(reg.not_personal.iter().map(|c| (&c.table, &c.column)))
        {
            assert!(
                cols.contains(&(t.clone(), c.clone())),
                "docs/personal-data.toml names {t}.{c}, which no migration creates"
            );
            assert!(seen.insert((t, c)), "{t}.{c} is listed twice");
        }
    }

    #[test]
    fn every_entry_is_complete() {
        let reg = registry();
        assert!(reg.column.len() >= 20);
        for c in &reg.column {
            let at = format!("{}.{}", c.table, c.column);
            assert!(CATEGORIES.contains(&c.category.as_str()), "{at}: category");
            assert!(
                matches!(c.sensitivity.as_str(), "sensitive" | "general"),
                "{at}: sensitivity"
            );
            assert!(!c.purpose.trim().is_empty(), "{at}: purpose");
            assert!(
                FIXED_RETENTIONS.contains(&c.retention.as_str())
                    || crate::retention::RETENTION_KEYS.contains(&c.retention.as_str()),
                "{at}: retention {} is neither fixed nor a retention setting",
                c.retention
            );
            // Encrypted columns carry it in their name, so a reviewer sees it.
            if c.column.ends_with("_enc") || c.column.ends_with("_index") {
                assert!(c.encrypted, "{at} is ciphertext or a blind index");
            }
            // Sensitive information (PIPL art. 28) must be encrypted at rest.
            if c.sensitivity == "sensitive" {
                assert!(c.encrypted, "{at} is sensitive but not encrypted");
            }
        }
        for n in &reg.not_personal {
            assert!(!n.reason.trim().is_empty(), "{}.{}", n.table, n.column);
        }
    }
}
