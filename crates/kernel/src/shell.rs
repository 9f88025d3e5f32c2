//! The page shell (header, navigation, language toggle, footer) that every
//! module's pages extend via `templates/base.html`.

use crate::i18n::Lang;
use crate::principal::Principal;

pub struct Shell {
    pub lang: Lang,
    pub title: String,
    pub user: Option<String>,
    pub csrf: String,
    pub active: &'static str,
    pub is_staff: bool,
    /// Holds a role that works on cases (not only the auditor or an expert).
    pub handles_cases: bool,
    pub is_auditor: bool,
    pub is_resident: bool,
    /// The current path, for the language toggle link.
    pub path: String,
    /// Unread notifications, when the page has the count at hand; otherwise
    /// the header's badge is filled by /static/app.js.
    pub unread: Option<i64>,
}

impl Shell {
    pub fn new(
        lang: Lang,
        title_key: &str,
        active: &'static str,
        who: Option<&Principal>,
    ) -> Shell {
        Shell {
            lang,
            title: lang.t(title_key).to_string(),
            user: who.map(|p| p.display_name.clone()),
            csrf: who.and_then(|p| p.csrf_token.clone()).unwrap_or_default(),
            active,
            is_staff: who.is_some_and(|p| p.is_staff()),
            handles_cases: who.is_some_and(|p| {
                p.grants
                    .iter()
                    .any(|g| crate::Role::CASE_STAFF.contains(&g.role))
            }),
            is_auditor: who.is_some_and(|p| p.has_role(crate::Role::Auditor)),
            is_resident: who.is_some_and(|p| p.is_resident()),
            path: String::new(),
            unread: None,
        }
    }

    pub fn with_unread(mut self, unread: i64) -> Shell {
        self.unread = Some(unread);
        self
    }

    /// The badge text: empty when there is nothing unread or the count is
    /// not known (the badge is then hidden).
    pub fn unread_label(&self) -> String {
        match self.unread {
            Some(n) if n > 99 => "99+".into(),
            Some(n) if n > 0 => n.to_string(),
            _ => String::new(),
        }
    }

    pub fn with_title(mut self, title: impl Into<String>) -> Shell {
        self.title = title.into();
        self
    }

    pub fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    /// A date or instant of the API ("2026-11-29", RFC 3339…) shown in the
    /// page's language; see [`Lang::when`].
    pub fn when(&self, s: impl AsRef<str>) -> String {
        self.lang.when(s.as_ref())
    }

    /// An instant (Unix ms) shown in the page's language.
    pub fn datetime(&self, ms: impl Int) -> String {
        self.lang.datetime(ms.int())
    }

    /// A count, grouped by thousands when large.
    pub fn num(&self, n: impl Int) -> String {
        self.lang.number(n.int())
    }

    /// A server message in the page's language; see [`Lang::msg`].
    pub fn msg(&self, zh: impl AsRef<str>) -> String {
        self.lang.msg(zh.as_ref())
    }

    pub fn lang_code(&self) -> &'static str {
        self.lang.code()
    }

    pub fn other_lang(&self) -> &'static str {
        match self.lang.other() {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }
}

/// A whole number however many references a template puts around it.
pub trait Int {
    fn int(&self) -> i64;
}

impl Int for i64 {
    fn int(&self) -> i64 {
        *self
    }
}

impl<T: Int + ?Sized> Int for &T {
    fn int(&self) -> i64 {
        (**self).int()
    }
}

/// Renders an askama template, turning a render failure into a 500 that is
/// logged (templates are compiled, so this only fails on a bug).
pub fn render<T: askama::Template>(t: &T) -> axum::response::Response {
    use axum::response::IntoResponse;
    match t.render() {
        Ok(html) => axum::response::Html(html).into_response(),
        Err(e) => crate::error::AppError::internal(format!("template: {e}")).into_response(),
    }
}
