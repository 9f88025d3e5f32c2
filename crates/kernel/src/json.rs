//! The JSON body extractor of every `/api/v1` write. It turns each way a body
//! can be wrong into the contract's error: wrong content type → 415, too big
//! → 413, not JSON → 400 `malformed_json`, wrong shape (missing, unknown or
//! mistyped fields) → 422 with a Chinese message per field.

use crate::error::{AppError, FieldErrors};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                let mime = ct
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                mime == "application/json" || mime.ends_with("+json")
            })
            .unwrap_or(false);
        if !is_json {
            return Err(AppError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge
            } else {
                AppError::bad_request("unreadable_body", "无法读取请求内容")
            }
        })?;
        parse(&bytes).map(Json)
    }
}

/// NUL characters are never legitimate in text and PostgreSQL refuses them,
/// so they are turned away at the door rather than deep in a query.
fn has_nul(bytes: &[u8]) -> bool {
    bytes.contains(&0) || bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000"))
}

pub fn nul_error() -> AppError {
    AppError::bad_request("invalid_characters", "提交的内容含有不允许的字符")
}

/// Parses a JSON document into `T`, mapping errors as described above.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    if has_nul(bytes) {
        return Err(nul_error());
    }
    // Every body is a JSON object; an array would otherwise fill a struct
    // by field order (serde's sequence form).
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_err() {
            return Err(AppError::bad_request(
                "malformed_json",
                "请求内容不是有效的 JSON",
            ));
        }
        return Err(AppError::field("body", "请求内容应为 JSON 对象"));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut *de) {
        // Trailing bytes after the document make the whole body invalid.
        Ok(v) => match de.end() {
            Ok(()) => Ok(v),
            Err(_) => Err(AppError::bad_request(
                "malformed_json",
                "请求内容不是有效的 JSON",
            )),
        },
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            use serde_json::error::Category;
            match inner.classify() {
                Category::Syntax | Category::Eof | Category::Io => Err(AppError::bad_request(
                    "malformed_json",
                    "请求内容不是有效的 JSON",
                )),
                Category::Data => Err(AppError::Validation(data_error(&path, &inner.to_string()))),
            }
        }
    }
}

fn backticked(msg: &str) -> Option<&str> {
    let start = msg.find('`')? + 1;
    let end = start + msg[start..].find('`')?;
    Some(&msg[start..end])
}

fn data_error(path: &str, msg: &str) -> FieldErrors {
    let prefix = if path == "." || path.is_empty() {
        String::new()
    } else {
        format!("{path}.")
    };
    if msg.starts_with("unknown field") {
        // serde_path_to_error already ends the path with the unknown key.
        let name = backticked(msg).unwrap_or("?");
        let field = if path == name || path.ends_with(&format!(".{name}")) {
            path.to_string()
        } else {
            format!("{prefix}{name}")
        };
        FieldErrors::single(field, "不允许的字段")
    } else if msg.starts_with("missing field") {
        let name = backticked(msg).unwrap_or("?");
        FieldErrors::single(format!("{prefix}{name}"), "缺少必填字段")
    } else if msg.starts_with("unknown variant") {
        FieldErrors::single(field_or_body(path), "取值不在允许的范围内")
    } else if msg.starts_with("invalid type") {
        FieldErrors::single(field_or_body(path), "类型不正确")
    } else {
        FieldErrors::single(field_or_body(path), "取值无效")
    }
}

fn field_or_body(path: &str) -> String {
    if path == "." || path.is_empty() {
        "body".into()
    } else {
        path.to_string()
    }
}

/// Query-string extractor whose failures are the contract's 400.
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        if q.contains("%00") {
            return Err(nul_error());
        }
        serde_urlencoded_like(q).map(Query)
    }
}

fn serde_urlencoded_like<T: DeserializeOwned>(q: &str) -> Result<T, AppError> {
    axum::extract::Query::<T>::try_from_uri(
        &format!("/?{q}")
            .parse()
            .map_err(|_| AppError::bad_request("invalid_query", "查询参数无效"))?,
    )
    .map(|axum::extract::Query(v)| v)
    .map_err(|_| AppError::bad_request("invalid_query", "查询参数无效"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        title: String,
        n: Option<i64>,
    }

    #[test]
    fn maps_each_failure() {
        assert!(parse::<Body>(br#"{"title":"a"}"#).is_ok());
        assert_eq!(parse::<Body>(b"{").unwrap_err().code(), "malformed_json");
        let e = parse::<Body>(br#"{"title":"a","x":1}"#).unwrap_err();
        assert_eq!(e.fields().unwrap().0["x"], vec!["不允许的字段"]);
        let e = parse::<Body>(br#"{}"#).unwrap_err();
        assert!(e.fields().unwrap().0.contains_key("title"));
        let e = parse::<Body>(br#"{"title":5}"#).unwrap_err();
        assert_eq!(e.fields().unwrap().0["title"], vec!["类型不正确"]);
        let e = parse::<Body>(br#"{"title":"a\u0000"}"#).unwrap_err();
        assert_eq!(e.code(), "invalid_characters");
        let e = parse::<Body>(br#"[]"#).unwrap_err();
        assert!(e.fields().unwrap().0.contains_key("body"));
        let e = parse::<Body>(br#"["a", 1]"#).unwrap_err();
        assert!(
            e.fields().unwrap().0.contains_key("body"),
            "no struct from an array"
        );
        let e = parse::<Body>(br#"{"title":"a"} trailing"#).unwrap_err();
        assert_eq!(e.code(), "malformed_json");
    }
}
