//! A refused HTML form, shown again: the values as typed (never passwords)
//! and each field's message next to its field, marked for assistive
//! technology (`aria-invalid`, `aria-describedby`). Refusals not tied to a
//! field of the form are one message at the top.
//!
//! Pages that carry several forms name the refused one (`which`); only that
//! form gets its values and messages back.

use crate::error::{AppError, FieldErrors};
use crate::i18n::Lang;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Default, Clone)]
pub struct FormState {
    /// The refused form on the page; empty when nothing was refused.
    pub which: String,
    pub values: BTreeMap<String, String>,
    pub errors: FieldErrors,
    /// The refusal not tied to a field the form shows.
    pub message: Option<String>,
}

/// Fields never sent back to the page.
const SECRET: &[&str] = &[
    "csrf",
    "password",
    "current_password",
    "new_password",
    "totp",
];

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            _ => out.push(c),
        }
    }
    out
}

fn value_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl FormState {
    /// Nothing refused: every form shows its defaults.
    pub fn none() -> FormState {
        FormState::default()
    }

    /// The typed values of a form (any `Serialize` struct of strings or a
    /// list of pairs), passwords and the CSRF token left out.
    pub fn new(which: &str, form: &impl Serialize) -> FormState {
        let mut values = BTreeMap::new();
        match serde_json::to_value(form) {
            Ok(serde_json::Value::Object(m)) => {
                for (k, v) in m {
                    if let Some(s) = value_text(&v) {
                        values.insert(k, s);
                    }
                }
            }
            Ok(serde_json::Value::Array(pairs)) => {
                for p in pairs {
                    if let serde_json::Value::Array(kv) = p {
                        if let (Some(k), Some(v)) = (kv.first().and_then(|k| k.as_str()), kv.get(1))
                        {
                            if let Some(s) = value_text(v) {
                                values.insert(k.to_string(), s);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        for s in SECRET {
            values.remove(*s);
        }
        FormState {
            which: which.to_string(),
            values,
            errors: FieldErrors::new(),
            message: None,
        }
    }

    /// One field's message.
    pub fn with_field(mut self, field: &str, message: impl Into<String>) -> FormState {
        self.errors.add(field, message);
        self
    }

    /// A refusal of this form: field messages go next to the fields the form
    /// shows (`shown`), the rest (and conflicts, forbidden steps) to the top.
    /// `None` for errors a page does not show (404, 500, ...): they answer as
    /// themselves.
    pub fn refused(mut self, e: &AppError, shown: &[&str], lang: Lang) -> Option<FormState> {
        let mut other = Vec::new();
        match e {
            AppError::Validation(f) => {
                for (field, msgs) in &f.0 {
                    if shown.contains(&field.as_str()) {
                        for m in msgs {
                            self.errors.add(field.clone(), m.clone());
                        }
                    } else {
                        other.extend(msgs.iter().cloned());
                    }
                }
            }
            AppError::Conflict { message, .. } => other.push(message.to_string()),
            AppError::Forbidden => other.push(lang.t("error.forbidden").to_string()),
            AppError::PayloadTooLarge => other.push(e.message().to_string()),
            _ => return None,
        }
        if !other.is_empty() {
            self.message = Some(other.join(";"));
        }
        Some(self)
    }

    /// Was this form refused?
    pub fn is(&self, which: &str) -> bool {
        !self.which.is_empty() && self.which == which
    }

    pub fn refused_any(&self) -> bool {
        !self.which.is_empty()
    }

    /// Does the field of this form carry a message?
    pub fn has(&self, which: &str, field: &str) -> bool {
        self.is(which) && self.errors.0.contains_key(field)
    }

    /// The field's messages, joined.
    pub fn err(&self, which: &str, field: &str) -> String {
        if !self.is(which) {
            return String::new();
        }
        self.errors
            .0
            .get(field)
            .map(|v| v.join(";"))
            .unwrap_or_default()
    }

    /// The value typed into the field of the refused form, else `default`.
    pub fn val(&self, which: &str, field: &str, default: &str) -> String {
        if self.is(which) {
            self.values.get(field).cloned().unwrap_or_default()
        } else {
            default.to_string()
        }
    }

    /// Is `value` the one chosen in the refused form (else is it `default`)?
    pub fn chosen(
        &self,
        which: &str,
        field: &str,
        value: &str,
        default: impl std::borrow::Borrow<bool>,
    ) -> bool {
        if self.is(which) {
            self.values.get(field).map(String::as_str) == Some(value)
        } else {
            *default.borrow()
        }
    }

    fn error_id(which: &str, field: &str) -> String {
        let clean = |s: &str| {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect::<String>()
        };
        format!("{}-{}-error", clean(which), clean(field))
    }

    /// ` has-error` for the field's wrapper.
    pub fn class(&self, which: &str, field: &str) -> &'static str {
        if self.has(which, field) {
            " has-error"
        } else {
            ""
        }
    }

    /// The control's attributes when its field carries a message
    /// (rendered with `|safe`).
    pub fn aria(&self, which: &str, field: &str) -> String {
        if self.has(which, field) {
            format!(
                " aria-invalid=\"true\" aria-describedby=\"{}\"",
                FormState::error_id(which, field)
            )
        } else {
            String::new()
        }
    }

    /// The message shown under the field (rendered with `|safe`).
    pub fn msg(&self, which: &str, field: &str) -> String {
        if self.has(which, field) {
            format!(
                "<p class=\"field-error\" id=\"{}\">{}</p>",
                FormState::error_id(which, field),
                escape(&self.err(which, field))
            )
        } else {
            String::new()
        }
    }

    /// The 422 of a refused form, 200 otherwise.
    pub fn status(&self) -> axum::http::StatusCode {
        if self.refused_any() {
            axum::http::StatusCode::UNPROCESSABLE_ENTITY
        } else {
            axum::http::StatusCode::OK
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct F {
        csrf: String,
        password: String,
        place: String,
        version: Option<i64>,
    }

    #[test]
    fn keeps_values_but_not_secrets() {
        let f = F {
            csrf: "t".into(),
            password: "p".into(),
            place: "<活动室>".into(),
            version: Some(3),
        };
        let s = FormState::new("checkin", &f).with_field("place", "请填写\"地点\"");
        assert_eq!(s.val("checkin", "place", "x"), "<活动室>");
        assert_eq!(s.val("checkin", "version", ""), "3");
        assert_eq!(s.val("checkin", "password", ""), "");
        assert_eq!(s.val("checkin", "csrf", ""), "");
        assert_eq!(s.val("other", "place", "默认"), "默认");
        assert!(s.has("checkin", "place") && !s.has("other", "place"));
        assert_eq!(
            s.aria("checkin", "place"),
            " aria-invalid=\"true\" aria-describedby=\"checkin-place-error\""
        );
        assert_eq!(
            s.msg("checkin", "place"),
            "<p class=\"field-error\" id=\"checkin-place-error\">请填写&quot;地点&quot;</p>"
        );
        assert_eq!(s.aria("checkin", "note"), "");
        assert_eq!(s.status(), axum::http::StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(FormState::none().status(), axum::http::StatusCode::OK);
    }

    #[test]
    fn pairs_and_unshown_fields() {
        let pairs = vec![("a_1".to_string(), "present".to_string())];
        let s = FormState::new("att", &pairs);
        assert!(s.chosen("att", "a_1", "present", false));
        let e = AppError::Validation(FieldErrors::single("version", "已被修改"));
        let s = s.refused(&e, &["a_1"], Lang::Zh).unwrap();
        assert_eq!(s.message.as_deref(), Some("已被修改"));
        assert!(!s.has("att", "version"));
        assert!(FormState::new("x", &pairs)
            .refused(&AppError::NotFound, &[], Lang::Zh)
            .is_none());
    }
}
