//! The OpenAPI pieces every module's `#[utoipa::path]` shares: the one
//! error schema of the contract (`ErrorBody`), the contract's error
//! responses as reusable components (`401` → `#/components/responses/Unauthorized`, …),
//! and a binary body for Excel downloads. The document itself is assembled
//! in `crates/app/src/openapi.rs`, which also says how to document a route.
//!
//! In a `responses(...)` list, name the errors an operation can answer
//! beside its success tuple:
//!
//! ```ignore
//! responses(
//!     (status = 201, description = "已创建", body = DemandView),
//!     BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
//! )
//! ```

use std::collections::BTreeMap;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{IntoResponses, ToResponse, ToSchema};

/// The name of the security scheme (`Authorization: Bearer <token>`).
pub const BEARER: &str = "bearer";

/// The contract's error body, for every 4xx answer of `/api/v1`.
/// Documentation only: the body is written by [`crate::error::AppError`]'s
/// `IntoResponse` (its `ErrorBody`); a test checks the two agree.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Machine-readable snake_case code, e.g. `validation_failed`,
    /// `malformed_json`, `not_found`, `invalid_transition`.
    #[schema(example = "validation_failed")]
    pub code: String,
    /// 中文说明 for the user.
    #[schema(example = "提交的内容有误,请按提示修改")]
    pub message: String,
    /// 422 only: each invalid field with its messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = json!({"title": ["标题至少 2 个字"]}))]
    pub fields: Option<BTreeMap<String, Vec<String>>>,
}

/// A file download or upload (the bytes themselves).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Binary(pub Vec<u8>);

/// A photo upload: `multipart/form-data` with one part named `file`
/// (JPEG, PNG or WebP, judged by content; at most 5 MiB).
#[derive(ToSchema)]
pub struct PhotoUpload {
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

fn error_response(description: &str, header: Option<(&str, &str)>) -> RefOr<Response> {
    let mut b = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build(),
    );
    if let Some((name, what)) = header {
        b = b.header(
            name,
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::String))
                .description(Some(what))
                .build(),
        );
    }
    b.build().into()
}

macro_rules! error_responses {
    ($($(#[$m:meta])* $name:ident = $status:literal, $desc:literal $(, $header:literal : $hdesc:literal)?;)+) => {
        $(
            $(#[$m])*
            pub struct $name;

            impl<'r> ToResponse<'r> for $name {
                fn response() -> (&'r str, RefOr<Response>) {
                    (stringify!($name), error_response($desc, None $(.or(Some(($header, $hdesc))))?))
                }
            }

            impl IntoResponses for $name {
                fn responses() -> BTreeMap<String, RefOr<Response>> {
                    BTreeMap::from([(
                        $status.to_string(),
                        RefOr::Ref(Ref::from_response_name(stringify!($name))),
                    )])
                }
            }
        )+

        /// Every error response component, for the document's `components.responses`.
        pub fn error_response_components() -> Vec<(String, RefOr<Response>)> {
            vec![$({
                let (name, r) = <$name as ToResponse>::response();
                (name.to_string(), r)
            }),+]
        }
    };
}

error_responses! {
    /// 400: malformed JSON, an unreadable body, NUL characters, a bad query string.
    BadRequest = 400, "请求格式错误 (malformed_json, invalid_query, invalid_characters, …)";
    /// 401: no, expired or revoked bearer token; wrong credentials at login.
    Unauthorized = 401, "未登录或登录已失效 (unauthenticated, invalid_credentials)",
        "WWW-Authenticate": "Bearer realm=\"lianxin\"";
    /// 403: in scope, but the caller's role may not do this.
    Forbidden = 403, "无权执行此操作 (forbidden)";
    /// 404: missing, or outside the caller's scope (never told apart).
    NotFound = 404, "未找到,或不在您的管辖范围内 (not_found)";
    /// 409: a state or version conflict, a duplicate.
    Conflict = 409, "与当前状态冲突 (invalid_transition, version_conflict, already_exists, …)";
    /// 413: the body is larger than allowed.
    PayloadTooLarge = 413, "提交的内容过大 (payload_too_large)";
    /// 415: the body is not of the media type the operation takes.
    UnsupportedMediaType = 415, "不支持的内容类型 (unsupported_media_type)";
    /// 422: the body or the query failed validation; `fields` says where.
    Unprocessable = 422, "提交的内容有误 (validation_failed),见 fields";
    /// 423: too many failed logins; the account is locked for a while.
    Locked = 423, "账号已锁定 (account_locked)",
        "Retry-After": "锁定剩余秒数 (seconds)";
    /// 429: a rate limit was hit.
    TooManyRequests = 429, "请求过于频繁 (too_many_requests)",
        "Retry-After": "可重试前的秒数 (seconds)";
}

/// The errors of any operation that takes a JSON body: 400 (malformed),
/// 413 (too large), 415 (not JSON), 422 (invalid fields).
pub struct BodyErrors;

impl IntoResponses for BodyErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut all = BadRequest::responses();
        all.append(&mut PayloadTooLarge::responses());
        all.append(&mut UnsupportedMediaType::responses());
        all.append(&mut Unprocessable::responses());
        all
    }
}

/// The errors of an operation with query parameters: 400 (unparsable
/// query) and 422 (a parameter out of range, e.g. `limit`, `cursor`).
pub struct QueryErrors;

impl IntoResponses for QueryErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut all = BadRequest::responses();
        all.append(&mut Unprocessable::responses());
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{AppError, FieldErrors};
    use axum::response::IntoResponse;

    async fn body_of(e: AppError) -> serde_json::Value {
        let resp = e.into_response();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    /// The documented schema and the written body agree: every key written
    /// is documented, and the real bodies parse into the doc struct.
    #[tokio::test]
    async fn doc_error_body_matches_the_real_one() {
        let mut f = FieldErrors::new();
        f.add("title", "标题至少 2 个字");
        for e in [
            AppError::Validation(f),
            AppError::NotFound,
            AppError::conflict("x", "y"),
            AppError::Locked {
                retry_after_secs: 5,
            },
        ] {
            let v = body_of(e).await;
            for k in v.as_object().unwrap().keys() {
                assert!(["code", "message", "fields"].contains(&k.as_str()), "{k}");
            }
            let doc: ErrorBody = serde_json::from_value(v).unwrap();
            assert!(!doc.code.is_empty() && !doc.message.is_empty());
        }
    }

    #[test]
    fn every_error_response_refers_to_a_component() {
        let names: Vec<String> = error_response_components()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        for (_, r) in BodyErrors::responses()
            .into_iter()
            .chain(QueryErrors::responses())
            .chain(Locked::responses())
            .chain(TooManyRequests::responses())
        {
            let RefOr::Ref(r) = r else { panic!("inline") };
            let name = r.ref_location.rsplit('/').next().unwrap().to_string();
            assert!(names.contains(&name), "{name}");
        }
    }
}
