//! One error type for every module. It renders the contract's JSON shape
//! `{"code", "message", "fields"}`; internal failures are logged with the
//! request id and never leaked to the client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::BTreeMap;

pub type AppResult<T> = Result<T, AppError>;

/// Field name → Chinese messages, rendered as the contract's `fields`.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct FieldErrors(pub BTreeMap<String, Vec<String>>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_default().push(message.into());
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut f = Self::new();
        f.add(field, message);
        f
    }
    /// `Ok(())` when nothing was added, else the 422 error.
    pub fn check(self) -> AppResult<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self))
        }
    }
    /// Collects the error of a parse into this set, returning the value if any.
    pub fn take<T>(&mut self, field: &str, r: Result<T, String>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(m) => {
                self.add(field, m);
                None
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("validation failed: {0:?}")]
    Validation(FieldErrors),
    #[error("bad request: {code}")]
    BadRequest {
        code: &'static str,
        message: Cow<'static, str>,
    },
    #[error("unauthenticated")]
    Unauthenticated,
    #[error("invalid credentials")]
    InvalidCredentials,
    /// 401: the password was right; a staff login needs its TOTP code too.
    #[error("second factor required")]
    SecondFactorRequired,
    #[error("forbidden")]
    Forbidden,
    /// 403 with its own code: the session may only do one thing first
    /// (change an expired password, enrol a second factor).
    #[error("restricted: {code}")]
    Restricted {
        code: &'static str,
        message: Cow<'static, str>,
    },
    #[error("not found")]
    NotFound,
    #[error("conflict: {code}")]
    Conflict {
        code: &'static str,
        message: Cow<'static, str>,
    },
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("account locked")]
    Locked { retry_after_secs: i64 },
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: i64 },
    #[error("internal: {0}")]
    Internal(String),
}

impl AppError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        AppError::Internal(e.to_string())
    }
    pub fn bad_request(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        AppError::BadRequest {
            code,
            message: message.into(),
        }
    }
    pub fn conflict(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        AppError::Conflict {
            code,
            message: message.into(),
        }
    }
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        AppError::Validation(FieldErrors::single(field, message))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Unauthenticated
            | AppError::InvalidCredentials
            | AppError::SecondFactorRequired => StatusCode::UNAUTHORIZED,
            AppError::Forbidden | AppError::Restricted { .. } => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Locked { .. } => StatusCode::LOCKED,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppError::Validation(_) => "validation_failed",
            AppError::BadRequest { code, .. }
            | AppError::Conflict { code, .. }
            | AppError::Restricted { code, .. } => code,
            AppError::Unauthenticated => "unauthenticated",
            AppError::InvalidCredentials => "invalid_credentials",
            AppError::SecondFactorRequired => "totp_required",
            AppError::Forbidden => "forbidden",
            AppError::NotFound => "not_found",
            AppError::PayloadTooLarge => "payload_too_large",
            AppError::UnsupportedMediaType => "unsupported_media_type",
            AppError::Locked { .. } => "account_locked",
            AppError::TooManyRequests { .. } => "too_many_requests",
            AppError::Internal(_) => "internal_error",
        }
    }

    /// The Chinese message of the contract.
    pub fn message(&self) -> Cow<'static, str> {
        match self {
            AppError::Validation(_) => "提交的内容有误,请按提示修改".into(),
            AppError::BadRequest { message, .. }
            | AppError::Conflict { message, .. }
            | AppError::Restricted { message, .. } => message.clone(),
            AppError::Unauthenticated => "请先登录".into(),
            AppError::InvalidCredentials => "账号或密码错误".into(),
            AppError::SecondFactorRequired => "请输入动态口令(两步验证)".into(),
            AppError::Forbidden => "您没有执行此操作的权限".into(),
            AppError::NotFound => "未找到该记录".into(),
            AppError::PayloadTooLarge => "提交的内容过大".into(),
            AppError::UnsupportedMediaType => "不支持的内容类型,请使用 application/json".into(),
            AppError::Locked { retry_after_secs } => format!(
                "登录失败次数过多,账号已锁定,请 {} 分钟后再试",
                (retry_after_secs + 59) / 60
            )
            .into(),
            AppError::TooManyRequests { .. } => "请求过于频繁,请稍后再试".into(),
            AppError::Internal(_) => {
                let id = crate::web::current_request_id().unwrap_or_default();
                format!("服务器内部错误,请稍后重试(请求编号 {id})").into()
            }
        }
    }

    pub fn fields(&self) -> Option<&FieldErrors> {
        match self {
            AppError::Validation(f) => Some(f),
            _ => None,
        }
    }
}

#[derive(Serialize)]
pub struct ErrorBody<'a> {
    pub code: &'a str,
    pub message: Cow<'static, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<&'a FieldErrors>,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Internal(detail) = &self {
            tracing::error!(
                request_id = crate::web::current_request_id().unwrap_or_default(),
                error = %detail,
                "internal error"
            );
        }
        let body = ErrorBody {
            code: self.code(),
            message: self.message(),
            fields: self.fields(),
        };
        let mut resp = (self.status(), axum::Json(body)).into_response();
        match &self {
            AppError::Locked { retry_after_secs }
            | AppError::TooManyRequests { retry_after_secs } => {
                if let Ok(v) = HeaderValue::from_str(&retry_after_secs.max(&1).to_string()) {
                    resp.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            AppError::Unauthenticated
            | AppError::InvalidCredentials
            | AppError::SecondFactorRequired => {
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"lianxin\""),
                );
            }
            _ => {}
        }
        resp
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        use sqlx::error::ErrorKind;
        match &e {
            sqlx::Error::RowNotFound => AppError::NotFound,
            sqlx::Error::Database(db) => match db.kind() {
                ErrorKind::UniqueViolation => {
                    AppError::conflict("already_exists", "记录已存在,不能重复创建")
                }
                ErrorKind::ForeignKeyViolation => {
                    AppError::conflict("referenced_record", "关联的记录不存在或仍被引用")
                }
                _ => AppError::internal(e),
            },
            _ => AppError::internal(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_codes_are_stable() {
        assert_eq!(AppError::NotFound.status(), StatusCode::NOT_FOUND);
        assert_eq!(AppError::NotFound.code(), "not_found");
        let v = AppError::field("phone", "手机号格式不正确");
        assert_eq!(v.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(v.fields().unwrap().0["phone"], vec!["手机号格式不正确"]);
        assert_eq!(
            AppError::Locked {
                retry_after_secs: 61
            }
            .message(),
            "登录失败次数过多,账号已锁定,请 2 分钟后再试"
        );
    }

    #[test]
    fn internal_detail_is_not_in_the_message() {
        let e = AppError::internal("password column missing");
        assert!(!e.message().contains("password"));
    }
}
