//! Keyset pagination in the contract's shape:
//! `?limit=` (1–100, default 20) and `?cursor=` → `{"items", "next_cursor"}`.
//! The cursor is the opaque (base64url) sort key of the last row returned.

use crate::error::{AppResult, FieldErrors};
use base64::Engine;
use serde::{Deserialize, Serialize};

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1–100 (default 20).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PageParams {
    pub limit: i64,
    /// The decoded sort key to continue after.
    pub after: Option<String>,
}

impl PageParams {
    pub fn parse(limit: Option<&str>, cursor: Option<&str>) -> AppResult<PageParams> {
        let mut errors = FieldErrors::new();
        let limit = match limit.map(str::trim).filter(|s| !s.is_empty()) {
            None => DEFAULT_LIMIT,
            Some(s) => match s.parse::<i64>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    errors.add("limit", "limit 必须是 1 到 100 之间的整数");
                    DEFAULT_LIMIT
                }
            },
        };
        let after = match cursor.map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(c) => match decode_cursor(c) {
                Some(k) => Some(k),
                None => {
                    errors.add("cursor", "cursor 无效,请使用上一页返回的 next_cursor");
                    None
                }
            },
        };
        errors.check()?;
        Ok(PageParams { limit, after })
    }

    pub fn from_query(q: &PageQuery) -> AppResult<PageParams> {
        Self::parse(q.limit.as_deref(), q.cursor.as_deref())
    }

    /// Rows to fetch: one more than the page, to know whether another follows.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }
}

/// The contract's list shape.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The cursor of the next page; null on the last one.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds the page from `limit + 1` fetched rows; `key` gives a row's sort key.
    pub fn from_rows(mut rows: Vec<T>, params: &PageParams, key: impl Fn(&T) -> String) -> Self {
        let more = rows.len() as i64 > params.limit;
        rows.truncate(params.limit as usize);
        let next_cursor = if more {
            rows.last().map(|r| encode_cursor(&key(r)))
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

pub fn encode_cursor(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.as_bytes())
}

pub fn decode_cursor(c: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c.as_bytes())
        .ok()?;
    let s = String::from_utf8(bytes).ok()?;
    (!s.is_empty() && s.len() <= 512 && !s.contains('\0')).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked() {
        assert_eq!(PageParams::parse(None, None).unwrap().limit, 20);
        assert_eq!(PageParams::parse(Some("100"), None).unwrap().limit, 100);
        for bad in ["0", "101", "-1", "abc", "1.5"] {
            let e = PageParams::parse(Some(bad), None).unwrap_err();
            assert!(e.fields().unwrap().0.contains_key("limit"), "{bad}");
        }
        assert!(PageParams::parse(None, Some("!!")).is_err());
    }

    #[test]
    fn pages_carry_the_last_key() {
        let params = PageParams::parse(Some("2"), None).unwrap();
        let page = Page::from_rows(vec![1, 2, 3], &params, |n| n.to_string());
        assert_eq!(page.items, vec![1, 2]);
        let next = page.next_cursor.unwrap();
        assert_eq!(decode_cursor(&next).unwrap(), "2");
        let last = Page::from_rows(vec![1, 2], &params, |n| n.to_string());
        assert!(last.next_cursor.is_none());
    }
}
