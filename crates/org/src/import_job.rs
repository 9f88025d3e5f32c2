//! The residents import as a job with progress. Staff upload the workbook
//! for their compound (`/org/{id}/import`, a plain multipart form; with
//! JavaScript the upload shows a `<progress>` bar). The import then runs in
//! the background and the browser lands on the job's status page
//! (`/org/import/{job}`), which refreshes itself while the job runs: rows
//! done of total, then a summary — or, when any row is bad, every bad cell
//! with its row and column (downloadable as CSV) and nothing written.
//! The same job is reachable over the API (`POST /api/v1/org/import/jobs`,
//! `GET /api/v1/org/import/jobs/{id}`).
//!
//! Jobs live in this process's memory for a day: a job is a view of work in
//! progress, while the import itself is one transaction (all or nothing)
//! and leaves its audit entry as before.

use crate::api::visible_node;
use crate::model::OrgKind;
use crate::store::NodeRow;
use crate::xlsx::{self, ImportError, Progress, RowError};
use accounts::session::check_csrf;
use accounts::Auth;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json as JsonOut, Router};
use kernel::i18n::Lang;
use kernel::json::Query;
use kernel::openapi::{
    BadRequest, Forbidden, NotFound, PayloadTooLarge, Unauthorized, Unprocessable,
    UnsupportedMediaType,
};
use kernel::shell::{render, Shell};
use kernel::{AppError, AppResult, Ctx, FormState, Principal, Role};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use utoipa::{IntoParams, ToSchema};

/// Uploads up to 64 MB (about 200 000 rows).
const MAX_UPLOAD: usize = 64 * 1024 * 1024;
/// How long a finished job stays readable.
const KEEP_MS: i64 = 24 * 3600 * 1000;
const XLSX_MIME: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

pub fn routes() -> Router<Ctx> {
    Router::new()
        .route(
            "/org/{id}/import",
            get(upload_page)
                .post(upload_submit)
                .layer(axum::extract::DefaultBodyLimit::max(MAX_UPLOAD)),
        )
        .route("/org/import/template.xlsx", get(template_xlsx))
        .route("/org/import/{job}", get(job_page))
        .route("/org/import/{job}/errors.csv", get(errors_csv))
        .route(
            "/api/v1/org/import/jobs",
            post(start_api).layer(axum::extract::DefaultBodyLimit::max(MAX_UPLOAD)),
        )
        .route("/api/v1/org/import/jobs/{id}", get(job_api))
}

/// An import job, as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportJob {
    pub id: String,
    /// `running`, `done` (written), `rejected` (bad rows, nothing written)
    /// or `failed` (an error, nothing written).
    pub state: &'static str,
    /// While running: `reading` the workbook, `checking` the rows against
    /// the registry, `writing` them.
    pub stage: &'static str,
    /// Rows handled in the current stage.
    pub done: usize,
    /// Data rows in the workbook (known once it is read).
    pub total: usize,
    pub imported_residents: usize,
    pub created_nodes: usize,
    /// Every bad cell: row number (as Excel shows it), column, message.
    /// Row 0 is the file itself.
    pub errors: Vec<RowError>,
    /// Why a job failed.
    pub message: Option<String>,
    pub compound_id: String,
    pub compound_name: String,
    /// RFC 3339.
    pub started_at: String,
    pub finished_at: Option<String>,
    #[serde(skip)]
    owner: String,
    #[serde(skip)]
    org_path: kernel::OrgPath,
    #[serde(skip)]
    started_ms: i64,
}

impl RowError {
    fn file(message: &str) -> RowError {
        RowError {
            row: 0,
            column: String::new(),
            message: message.into(),
        }
    }
}

type Jobs = Mutex<HashMap<String, ImportJob>>;
static JOBS: LazyLock<Arc<Jobs>> = LazyLock::new(|| Arc::new(Mutex::new(HashMap::new())));

fn update(id: &str, f: impl FnOnce(&mut ImportJob)) {
    if let Ok(mut jobs) = JOBS.lock() {
        if let Some(j) = jobs.get_mut(id) {
            f(j);
        }
    }
}

/// The job, when the caller may see it (who started it, or staff who may
/// import into its compound); else 404.
fn job_for(p: &Principal, id: &str) -> AppResult<ImportJob> {
    let job = JOBS
        .lock()
        .map_err(|_| AppError::internal("import jobs lock"))?
        .get(id)
        .cloned()
        .ok_or(AppError::NotFound)?;
    // Whoever may administer the place now, the starter included only while
    // they still may.
    if p.covers(Role::ORG_ADMINS, &job.org_path) {
        Ok(job)
    } else {
        Err(AppError::NotFound)
    }
}

/// The compound the caller may import into: visible (else 404), theirs to
/// administer (else 403), and a compound (else 422).
async fn import_target(ctx: &Ctx, p: &Principal, id: &str) -> AppResult<NodeRow> {
    let node = visible_node(ctx, p, id).await?;
    p.can_act(Role::ORG_ADMINS, &node.org_path, true)?;
    if node.kind != OrgKind::Compound {
        return Err(AppError::field("org", "只能导入到小区"));
    }
    Ok(node)
}

/// Starts the import of `bytes` into `compound`; returns the job's id.
/// Starts an import job; one running job per person at a time (each holds
/// its workbook in memory until it ends).
pub fn start(ctx: &Ctx, p: &Principal, compound: &NodeRow, bytes: Vec<u8>) -> AppResult<String> {
    let id = kernel::id::new_id();
    let now = ctx.now_ms();
    let busy = JOBS
        .lock()
        .map_err(|_| AppError::internal("import jobs lock"))?
        .values()
        .any(|j| j.owner == p.user_id && j.state == "running");
    if busy {
        return Err(AppError::conflict(
            "import_running",
            "您已有一个导入正在进行,请等它完成后再导入",
        ));
    }
    let job = ImportJob {
        id: id.clone(),
        state: "running",
        stage: "reading",
        done: 0,
        total: 0,
        imported_residents: 0,
        created_nodes: 0,
        errors: vec![],
        message: None,
        compound_id: compound.id.clone(),
        compound_name: compound.name.clone(),
        started_at: kernel::clock::to_rfc3339(now),
        finished_at: None,
        owner: p.user_id.clone(),
        org_path: compound.org_path.clone(),
        started_ms: now,
    };
    if let Ok(mut jobs) = JOBS.lock() {
        jobs.retain(|_, j| j.started_ms > now - KEEP_MS);
        jobs.insert(id.clone(), job);
    }
    let (ctx, actor, compound, job_id) =
        (ctx.clone(), p.user_id.clone(), compound.clone(), id.clone());
    tokio::spawn(async move {
        run(&ctx, &actor, &compound, &job_id, bytes).await;
    });
    Ok(id)
}

async fn run(ctx: &Ctx, actor: &str, compound: &NodeRow, id: &str, bytes: Vec<u8>) {
    let parsed = tokio::task::spawn_blocking(move || xlsx::parse_workbook(&bytes)).await;
    let finish = |state: &'static str, f: &dyn Fn(&mut ImportJob)| {
        let at = kernel::clock::to_rfc3339(ctx.now_ms());
        update(id, |j| {
            j.state = state;
            j.stage = "";
            j.finished_at = Some(at);
            f(j);
        });
    };
    let rows = match parsed {
        Ok(Ok(rows)) => rows,
        Ok(Err(errors)) => {
            finish("rejected", &|j| j.errors = errors.clone());
            return;
        }
        Err(_) => {
            finish("rejected", &|j| {
                j.errors = vec![RowError::file(
                    "无法读取文件,请上传 .xlsx 格式的 Excel 文件",
                )]
            });
            return;
        }
    };
    let total = rows.len();
    update(id, |j| {
        j.total = total;
        j.stage = "checking";
    });
    let progress = |p: Progress| {
        update(id, |j| {
            j.stage = p.stage;
            j.done = p.done;
            j.total = p.total;
        })
    };
    match xlsx::import_rows(ctx, Some(actor), compound, &rows, &progress).await {
        Ok(report) => finish("done", &|j| {
            j.imported_residents = report.imported_residents;
            j.created_nodes = report.created_nodes;
            j.done = total;
        }),
        Err(ImportError::Rows(errors)) => finish("rejected", &|j| j.errors = errors.clone()),
        Err(ImportError::Other(e)) => {
            tracing::error!(job = id, error = %e, "residents import failed");
            let msg = match &e {
                AppError::Validation(_) | AppError::Conflict { .. } => e.message().to_string(),
                _ => "导入失败,未写入任何数据,请稍后重试".to_string(),
            };
            finish("failed", &|j| j.message = Some(msg.clone()))
        }
    }
}

// ---------------------------------------------------------------- the API

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobQuery {
    /// The compound to import into.
    org: Option<String>,
}

/// Starts an import job: the workbook as the raw body (`Content-Type` of
/// xlsx), `?org=` the compound. 202 with the job; follow it with
/// `GET /api/v1/org/import/jobs/{id}` until `state` is not `running`.
#[utoipa::path(
    post,
    path = "/api/v1/org/import/jobs",
    operation_id = "start_residents_import",
    tag = "org",
    summary = "Excel 导入居民(后台任务,可查看进度)",
    params(JobQuery),
    request_body(
        description = "The workbook (xlsx). 表头:楼栋 单元 户号 姓名 手机号 身份证号 身份 与户主关系",
        content(
            (kernel::openapi::Binary = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (kernel::openapi::Binary = "application/octet-stream"),
        ),
    ),
    responses(
        (status = 202, description = "任务已开始", body = ImportJob),
        BadRequest, Unauthorized, Forbidden, NotFound, PayloadTooLarge,
        UnsupportedMediaType, Unprocessable,
    ),
    security(("bearer" = [])),
)]
pub async fn start_api(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<JobQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !(ct.starts_with(XLSX_MIME) || ct.starts_with("application/octet-stream")) {
        return Err(AppError::UnsupportedMediaType);
    }
    let org = q
        .org
        .ok_or_else(|| AppError::field("org", "请指定导入到哪个小区"))?;
    let compound = import_target(&ctx, &p, &org).await?;
    if body.is_empty() {
        return Err(AppError::field("file", "请上传 Excel 文件"));
    }
    let id = start(&ctx, &p, &compound, body.to_vec())?;
    let job = job_for(&p, &id)?;
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/api/v1/org/import/jobs/{id}"))],
        JsonOut(job),
    )
        .into_response())
}

/// One import job: its state, progress, and (when rejected) every bad cell.
#[utoipa::path(
    get,
    path = "/api/v1/org/import/jobs/{id}",
    operation_id = "residents_import_job",
    tag = "org",
    summary = "导入任务进度",
    params(("id" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "任务", body = ImportJob),
        Unauthorized, NotFound,
    ),
    security(("bearer" = [])),
)]
pub async fn job_api(Auth(p): Auth, Path(id): Path<String>) -> AppResult<JsonOut<ImportJob>> {
    Ok(JsonOut(job_for(&p, &id)?))
}

// ---------------------------------------------------------------- pages

#[derive(Template)]
#[template(path = "org_import.html")]
struct UploadPage {
    shell: Shell,
    node_id: String,
    name: String,
    headers: String,
    max_rows: usize,
    fs: FormState,
}

async fn upload_form(
    ctx: &Ctx,
    p: &Principal,
    lang: Lang,
    id: &str,
    fs: FormState,
) -> AppResult<Response> {
    let node = import_target(ctx, p, id).await?;
    let page = UploadPage {
        shell: Shell::new(lang, "import.title", "org", Some(p)),
        node_id: node.id,
        name: node.name,
        headers: xlsx::HEADERS.join(" · "),
        max_rows: xlsx::MAX_ROWS,
        fs,
    };
    Ok((page.fs.status(), render(&page)).into_response())
}

async fn upload_page(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Response {
    upload_form(&ctx, &p, lang, &id, FormState::none())
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn upload_submit(
    State(ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Path(id): Path<String>,
    kernel::web::Upload(mut form): kernel::web::Upload,
) -> Response {
    let (csrf, file) = match kernel::web::csrf_and_file(&mut form, "").await {
        Ok(read) => read,
        Err(e) => return e.into_response(),
    };
    if let Err(e) = check_csrf(&p, &csrf) {
        return e.into_response();
    }
    let compound = match import_target(&ctx, &p, &id).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let fs = FormState::new("import", &());
    let bytes = match file {
        None => {
            let fs = fs.with_field("file", lang.t("import.need_file"));
            return upload_form(&ctx, &p, lang, &id, fs)
                .await
                .unwrap_or_else(IntoResponse::into_response);
        }
        Some((name, _)) if !name.to_ascii_lowercase().ends_with(".xlsx") && !name.is_empty() => {
            let fs = fs.with_field("file", lang.t("import.need_xlsx"));
            return upload_form(&ctx, &p, lang, &id, fs)
                .await
                .unwrap_or_else(IntoResponse::into_response);
        }
        Some((_, b)) => b,
    };
    match start(&ctx, &p, &compound, bytes) {
        Ok(job) => Redirect::to(&format!("/org/import/{job}")).into_response(),
        Err(e) => {
            let fs = fs.with_field("file", lang.msg(&e.message()));
            upload_form(&ctx, &p, lang, &id, fs)
                .await
                .unwrap_or_else(IntoResponse::into_response)
        }
    }
}

pub struct ErrorRow {
    pub row: String,
    pub column: String,
    pub message: String,
}

#[derive(Template)]
#[template(path = "org_import_job.html")]
struct JobPage {
    shell: Shell,
    job: ImportJob,
    running: bool,
    stage: &'static str,
    /// Percent of the current stage, for the bar's text.
    percent: usize,
    errors: Vec<ErrorRow>,
    more_errors: usize,
}

/// Rows shown on the page; the CSV has them all.
const SHOWN_ERRORS: usize = 200;

async fn job_page(
    State(_ctx): State<Ctx>,
    lang: Lang,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Response {
    let job = match job_for(&p, &id) {
        Ok(j) => j,
        Err(e) => return e.into_response(),
    };
    let running = job.state == "running";
    let stage = lang.t(match (job.state, job.stage) {
        ("running", "reading") => "import.stage_reading",
        ("running", "checking") => "import.stage_checking",
        ("running", _) => "import.stage_writing",
        ("done", _) => "import.state_done",
        ("rejected", _) => "import.state_rejected",
        _ => "import.state_failed",
    });
    let percent = (job.done * 100).checked_div(job.total).unwrap_or(0);
    let errors = job
        .errors
        .iter()
        .take(SHOWN_ERRORS)
        .map(|e| ErrorRow {
            row: if e.row == 0 {
                lang.t("import.the_file").to_string()
            } else {
                e.row.to_string()
            },
            column: e.column.clone(),
            message: lang.msg(&e.message),
        })
        .collect();
    let page = JobPage {
        shell: Shell::new(lang, "import.job_title", "org", Some(&p)),
        more_errors: job.errors.len().saturating_sub(SHOWN_ERRORS),
        running,
        stage,
        percent,
        errors,
        job,
    };
    let mut resp = render(&page);
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    resp
}

/// Every bad cell of a rejected import as CSV (UTF-8 with a BOM, so Excel
/// reads the Chinese).
async fn errors_csv(lang: Lang, Auth(p): Auth, Path(id): Path<String>) -> Response {
    let job = match job_for(&p, &id) {
        Ok(j) => j,
        Err(e) => return e.into_response(),
    };
    let cell = |s: &str| {
        // Quoted, and never read as a formula.
        let s = if s.starts_with(['=', '+', '-', '@']) {
            format!("'{s}")
        } else {
            s.to_string()
        };
        format!("\"{}\"", s.replace('"', "\"\""))
    };
    // A byte-order mark so Excel reads the UTF-8; the header and the
    // messages in the language of the page the report was fetched from.
    let mut out = format!(
        "\u{feff}{},{},{}\r\n",
        lang.t("import.row"),
        lang.t("import.column"),
        lang.t("import.problem")
    );
    for e in &job.errors {
        out.push_str(&format!(
            "{},{},{}\r\n",
            e.row,
            cell(&e.column),
            cell(&lang.msg(&e.message))
        ));
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"import-errors.csv\"".to_string(),
            ),
        ],
        out,
    )
        .into_response()
}

/// The empty workbook to fill in: the header row only.
async fn template_xlsx(Auth(p): Auth) -> Response {
    if p.roots_for(Role::ORG_ADMINS).is_empty() {
        return AppError::Forbidden.into_response();
    }
    (
        [
            (header::CONTENT_TYPE, XLSX_MIME.to_string()),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"residents-template.xlsx\"".to_string(),
            ),
        ],
        xlsx::template_workbook(&[]),
    )
        .into_response()
}

/// May the caller import into this node (the link on the node's page)?
pub fn may_import(p: &Principal, node: &NodeRow) -> bool {
    node.kind == OrgKind::Compound && p.covers(Role::ORG_ADMINS, &node.org_path)
}
