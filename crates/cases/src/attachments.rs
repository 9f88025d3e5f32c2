//! Photos on demands: type checked by content (JPEG, PNG, WebP magic bytes,
//! not the client's word), size-limited, stored in the database with the
//! demand's org path, and served only to callers who may see the demand.

use crate::flow;
use accounts::Auth;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kernel::audit::{self, AuditEntry};
use kernel::{text, AppError, AppResult, Ctx};
use serde::Serialize;
use sqlx::Row;

pub const MAX_BYTES: usize = 5 * 1024 * 1024;
pub const MAX_BODY: usize = MAX_BYTES + 64 * 1024;
pub const MAX_PER_DEMAND: i64 = 9;

/// The image type by its first bytes.
pub fn sniff(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if data.len() >= 12 && &data[0..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AttachmentView {
    pub id: String,
    pub filename: String,
    pub mime: String,
    pub size: i64,
    pub url: String,
}

/// One photo (JPEG, PNG or WebP by content, at most 5 MiB, 9 per demand)
/// on a demand the caller can see.
#[utoipa::path(
    post,
    path = "/api/v1/demands/{id}/attachments",
    operation_id = "upload_demand_photo",
    tag = "demands",
    summary = "上传诉求照片",
    params(("id" = String, Path, description = "诉求编号")),
    request_body(content = kernel::openapi::PhotoUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "已保存的照片", body = AttachmentView),
        kernel::openapi::BadRequest, kernel::openapi::Unauthorized, kernel::openapi::NotFound,
        kernel::openapi::Conflict, kernel::openapi::PayloadTooLarge, kernel::openapi::Unprocessable,
    ),
    security(("bearer" = [])),
)]
pub async fn upload(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    kernel::web::Upload(mut form): kernel::web::Upload,
) -> AppResult<(StatusCode, Json<AttachmentView>)> {
    let d = flow::visible(&ctx, &p, &id).await?;
    let mut file: Option<(String, Vec<u8>)> = None;
    while let Some(field) = form.next_field().await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge
        } else {
            AppError::bad_request("invalid_multipart", "上传内容格式不正确")
        }
    })? {
        if field.name() == Some("file") {
            let name = field.file_name().unwrap_or("photo").to_string();
            let bytes = field.bytes().await.map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::PayloadTooLarge
                } else {
                    AppError::bad_request("invalid_multipart", "上传内容格式不正确")
                }
            })?;
            file = Some((name, bytes.to_vec()));
        }
    }
    let (name, data) = file.ok_or_else(|| AppError::field("file", "请选择要上传的照片"))?;
    Ok((
        StatusCode::CREATED,
        Json(store_photo(&ctx, &p, &d, &name, data).await?),
    ))
}

/// Checks and stores one photo on a demand the caller can see.
pub async fn store_photo(
    ctx: &Ctx,
    p: &kernel::Principal,
    d: &crate::store::DemandRow,
    name: &str,
    data: Vec<u8>,
) -> AppResult<AttachmentView> {
    if data.len() > MAX_BYTES {
        return Err(AppError::PayloadTooLarge);
    }
    let mime = sniff(&data)
        .ok_or_else(|| AppError::field("file", "只能上传 JPEG、PNG 或 WebP 格式的照片"))?;
    let filename: String = text::required(name, 1, 200, "文件名")
        .unwrap_or_else(|_| "photo".into())
        .chars()
        .filter(|c| !matches!(c, '/' | '\\' | '"' | '\r' | '\n'))
        .collect();
    let n: i64 = sqlx::query("SELECT COUNT(*) FROM attachments WHERE demand_id = $1")
        .bind(&d.id)
        .fetch_one(ctx.db.reader())
        .await?
        .get(0);
    if n >= MAX_PER_DEMAND {
        return Err(AppError::conflict(
            "too_many_attachments",
            "每条诉求最多上传 9 张照片",
        ));
    }
    let aid = kernel::id::new_id();
    let now = ctx.now_ms();
    let size = data.len() as i64;
    let mut tx = ctx.db.begin().await?;
    sqlx::query(
        "INSERT INTO attachments (id, demand_id, org_path, filename, mime, size, sha256, data, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&aid)
    .bind(&d.id)
    .bind(d.org_path.as_str())
    .bind(&filename)
    .bind(mime)
    .bind(size)
    .bind(kernel::crypto::sha256_hex(&data))
    .bind(data)
    .bind(&p.user_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        ctx.db.backend(),
        AuditEntry {
            at_ms: now,
            actor_id: Some(&p.user_id),
            action: "attachment_added",
            object_type: "demand",
            object_id: Some(&d.id),
            org_path: Some(d.org_path.as_str()),
            detail: serde_json::json!({"attachment": aid, "size": size, "mime": mime}),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(AttachmentView {
        url: format!("/api/v1/demands/{}/attachments/{aid}", d.id),
        id: aid,
        filename,
        mime: mime.into(),
        size,
    })
}

pub async fn list(ctx: &Ctx, demand_id: &str) -> AppResult<Vec<AttachmentView>> {
    let rows = sqlx::query("SELECT id, filename, mime, size FROM attachments WHERE demand_id = $1 ORDER BY created_at, id")
        .bind(demand_id)
        .fetch_all(ctx.db.reader())
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let id: String = r.get(0);
            AttachmentView {
                url: format!("/api/v1/demands/{demand_id}/attachments/{id}"),
                id,
                filename: r.get(1),
                mime: r.get(2),
                size: r.get(3),
            }
        })
        .collect())
}

/// The photo itself, to callers who may see the demand.
#[utoipa::path(
    get,
    path = "/api/v1/demands/{id}/attachments/{attachment}",
    operation_id = "demand_photo",
    tag = "demands",
    summary = "下载诉求照片",
    params(
        ("id" = String, Path, description = "诉求编号"),
        ("attachment" = String, Path, description = "照片编号"),
    ),
    responses(
        (status = 200, description = "照片", content(
            (kernel::openapi::Binary = "image/jpeg"),
            (kernel::openapi::Binary = "image/png"),
            (kernel::openapi::Binary = "image/webp"),
        )),
        kernel::openapi::Unauthorized, kernel::openapi::NotFound,
    ),
    security(("bearer" = [])),
)]
pub async fn download(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path((id, attachment)): Path<(String, String)>,
) -> AppResult<Response> {
    let d = flow::visible(&ctx, &p, &id).await?;
    let aid = kernel::id::parse_id(&attachment).ok_or(AppError::NotFound)?;
    let r = sqlx::query("SELECT mime, data FROM attachments WHERE id = $1 AND demand_id = $2")
        .bind(&aid)
        .bind(&d.id)
        .fetch_optional(ctx.db.reader())
        .await?
        .ok_or(AppError::NotFound)?;
    let mime: String = r.get(0);
    let data: Vec<u8> = r.get(1);
    Ok((
        [
            (header::CONTENT_TYPE, mime),
            (header::CONTENT_DISPOSITION, "inline".to_string()),
            (header::CACHE_CONTROL, "private, max-age=3600".to_string()),
        ],
        data,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn sniffs_by_content() {
        assert_eq!(super::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(super::sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(super::sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(super::sniff(b"<svg onload=alert(1)>"), None);
        assert_eq!(super::sniff(b"GIF89a"), None);
    }
}
