//! 物业服务满意度测评: which property company serves each compound, a
//! yearly or quarterly survey of the compound's residents (five questions
//! scored 1–5, one answer per household), and, when staff publish it, a
//! grade that combines the survey (60 %) with the compound's league score
//! over the same period (40 %, the indicators of `cases::rates` under the
//! weights that apply) — 优秀 ≥ 90, 良好 ≥ 80, 合格 ≥ 60, else 不合格. The
//! published result is shown to the compound's residents.
//!
//! Who: org admins over the compound (community staff and above) set its
//! company, open a survey and publish it; residents of the compound answer
//! while it is open and see the result once published; other staff in
//! scope read it; anyone else gets 404.

use crate::dashboard::{self, OrgRef};
use crate::model::{self, Grade, Tally, Weights};
use crate::store::{self, SurveyRow};
use accounts::Auth;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json as JsonOut, Router};
use cases::rates;
use kernel::audit::{self, AuditEntry};
use kernel::clock::to_rfc3339;
use kernel::json::{Json, Query};
use kernel::openapi::{BodyErrors, Conflict, Forbidden, NotFound, QueryErrors, Unauthorized};
use kernel::page::Page;
use kernel::{text, AppError, AppResult, Ctx, OrgPath, Principal, Role};
use org::model::OrgKind;
use org::store::NodeRow;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

pub fn routes() -> Router<Ctx> {
    Router::new()
        .route(
            "/api/v1/insight/surveys",
            get(list_handler).post(create_handler),
        )
        .route("/api/v1/insight/surveys/{id}", get(detail_handler))
        .route("/api/v1/insight/surveys/{id}/answers", post(answer_handler))
        .route(
            "/api/v1/insight/surveys/{id}/publish",
            post(publish_handler),
        )
        .route(
            "/api/v1/insight/compounds/{id}/company",
            put(company_handler),
        )
}

/// The grade of a published survey (stored with it).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, ToSchema)]
#[schema(as = PropertySurveyResult)]
pub struct SurveyResult {
    pub answers: i64,
    /// Households in the compound, and the share that answered.
    pub households: i64,
    pub participation: f64,
    /// Each question's mean × 20, in the order of `questions`.
    pub question_scores: Vec<Option<f64>>,
    /// The share of all scores that were 4 or 5.
    pub satisfaction: f64,
    /// The mean of every score × 20.
    pub survey_score: Option<f64>,
    /// The compound's league score over the survey period.
    pub indicator_score: Option<f64>,
    /// 60 % survey + 40 % indicators (the survey alone without indicators).
    pub combined: Option<f64>,
    pub grade: Option<Grade>,
    pub grade_label: Option<String>,
    pub company: Option<String>,
}

#[derive(Serialize, Clone, Debug, ToSchema)]
#[schema(as = PropertySurveyAnswer)]
pub struct MyAnswer {
    pub scores: [i64; 5],
    pub comment: Option<String>,
}

#[derive(Serialize, Clone, Debug, ToSchema)]
#[schema(as = PropertySurvey)]
pub struct SurveyView {
    pub id: String,
    pub compound: OrgRef,
    pub company: Option<String>,
    /// `2026` or `2026Q4`.
    pub period: String,
    /// `2026年第四季度` …
    pub title: String,
    pub from: String,
    pub to: String,
    /// `open` or `published`.
    pub status: String,
    pub questions: Vec<String>,
    pub version: i64,
    pub created_at: String,
    pub published_at: Option<String>,
    /// The answers so far (staff; residents once published).
    pub tally: Option<Tally>,
    /// Residents' comments, newest first (staff only).
    pub comments: Vec<String>,
    pub result: Option<SurveyResult>,
    /// The caller's household's answer (residents).
    pub my_answer: Option<MyAnswer>,
    pub can_answer: bool,
    pub can_publish: bool,
}

/// The caller's household within the compound, if a resident of it.
fn home_in(p: &Principal, compound: &OrgPath) -> Option<String> {
    p.households
        .iter()
        .find(|h| h.org_path.is_within(compound))
        .map(|h| h.id.clone())
}

fn is_staff_over(p: &Principal, path: &OrgPath) -> bool {
    p.covers(Role::CASE_STAFF, path)
}

async fn compound_node(ctx: &Ctx, id: &str) -> AppResult<NodeRow> {
    org::store::get_node(&ctx.db, id)
        .await?
        .ok_or(AppError::NotFound)
}

/// The survey as `p` may see it (404 when not theirs to see).
pub async fn view(ctx: &Ctx, p: &Principal, s: &SurveyRow) -> AppResult<SurveyView> {
    let staff = is_staff_over(p, &s.org_path);
    let home = home_in(p, &s.org_path);
    if !staff && home.is_none() {
        return Err(AppError::NotFound);
    }
    let published = s.status == "published";
    let (tally, comments) = if staff || published {
        let (t, c) = store::answers(&ctx.db, &s.id).await?;
        (Some(t), if staff { c } else { vec![] })
    } else {
        (None, vec![])
    };
    let my_answer = match &home {
        Some(h) => store::answer_of(&ctx.db, &s.id, h)
            .await?
            .map(|(scores, comment)| MyAnswer { scores, comment }),
        None => None,
    };
    let compound = compound_node(ctx, &s.compound_id).await?;
    let (from, to) = model::parse_survey_period(&s.period)
        .map(|(_, per)| model::period_dates(&per))
        .unwrap_or_default();
    Ok(SurveyView {
        id: s.id.clone(),
        compound: OrgRef::from(&compound),
        company: s.company.clone(),
        period: s.period.clone(),
        title: format!(
            "{}物业服务满意度测评",
            model::survey_period_label(&s.period, false)
        ),
        from,
        to,
        status: s.status.clone(),
        questions: model::QUESTIONS.iter().map(|q| q.0.to_string()).collect(),
        version: s.version,
        created_at: to_rfc3339(s.created_at),
        published_at: s.published_at.map(to_rfc3339),
        tally,
        comments,
        result: s
            .result
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok()),
        can_answer: !published && home.is_some() && my_answer.is_none(),
        my_answer,
        can_publish: !published && p.covers(Role::ORG_ADMINS, &s.org_path),
    })
}

pub(crate) async fn visible_survey(
    ctx: &Ctx,
    p: &Principal,
    id: &str,
) -> AppResult<(SurveyRow, SurveyView)> {
    let id = kernel::id::parse_id(id).ok_or(AppError::NotFound)?;
    let s = store::get_survey(&ctx.db, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    let v = view(ctx, p, &s).await?;
    Ok((s, v))
}

#[derive(Deserialize, Default, Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SurveysQuery {
    /// An org node id (staff; default: the caller's whole scope).
    pub org: Option<String>,
}

/// Staff: the surveys in their scope (or under `org`); residents: their
/// compounds' surveys.
pub async fn list(ctx: &Ctx, p: &Principal, org: Option<&str>) -> AppResult<Vec<SurveyView>> {
    let roots = p.roots_for(Role::CASE_STAFF);
    let rows = if !roots.is_empty() {
        let scope = dashboard::Scope::for_principal(ctx, p, org).await?;
        store::surveys_in(&ctx.db, &scope.roots, 200).await?
    } else if p.is_resident() {
        let paths: Vec<OrgPath> = p
            .households
            .iter()
            .flat_map(|h| h.org_path.ancestors_and_self())
            .collect();
        store::surveys_at(&ctx.db, &paths).await?
    } else {
        return Err(AppError::Forbidden);
    };
    let mut out = Vec::new();
    for s in &rows {
        out.push(view(ctx, p, s).await?);
    }
    Ok(out)
}

/// The surveys the caller may see.
#[utoipa::path(
    get,
    path = "/api/v1/insight/surveys",
    tag = "insight",
    summary = "物业服务满意度测评列表",
    params(SurveysQuery),
    responses(
        (status = 200, description = "测评", body = Page<SurveyView>),
        QueryErrors, Unauthorized, Forbidden, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn list_handler(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Query(q): Query<SurveysQuery>,
) -> AppResult<JsonOut<Page<SurveyView>>> {
    Ok(JsonOut(Page {
        items: list(&ctx, &p, q.org.as_deref()).await?,
        next_cursor: None,
    }))
}

#[derive(Deserialize, Debug, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSurvey {
    /// The compound's id.
    pub compound_id: String,
    /// `2026` (a year) or `2026Q4` (a quarter).
    pub period: String,
}

/// Opens a survey of a compound for a year or a quarter (org admins over
/// the compound); its company is the one serving the compound now.
pub async fn create(ctx: &Ctx, p: &Principal, b: &NewSurvey) -> AppResult<SurveyView> {
    let node = org::api::visible_node(ctx, p, &b.compound_id)
        .await
        .map_err(|_| AppError::field("compound_id", "小区不存在"))?;
    p.can_act(Role::ORG_ADMINS, &node.org_path, true)?;
    if node.kind != OrgKind::Compound {
        return Err(AppError::field("compound_id", "测评只能按小区发起"));
    }
    let (period, _) = model::parse_survey_period(&b.period)
        .ok_or_else(|| AppError::field("period", "测评期应为年份(如 2026)或季度(如 2026Q4)"))?;
    let company = store::company_of(&ctx.db, &node.id).await?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let id = store::insert_survey(
        &mut tx,
        &node,
        &period,
        company.as_ref().map(|c| c.id.as_str()),
        &p.user_id,
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        ctx.db.backend(),
        AuditEntry {
            at_ms: now,
            actor_id: Some(&p.user_id),
            action: "property_survey_created",
            object_type: "property_survey",
            object_id: Some(&id),
            org_path: Some(node.org_path.as_str()),
            detail: json!({"period": period}),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(visible_survey(ctx, p, &id).await?.1)
}

#[utoipa::path(
    post,
    path = "/api/v1/insight/surveys",
    tag = "insight",
    summary = "发起物业服务满意度测评(社区及以上)",
    request_body = NewSurvey,
    responses(
        (status = 201, description = "已发起", body = SurveyView),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn create_handler(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Json(b): Json<NewSurvey>,
) -> AppResult<(StatusCode, JsonOut<SurveyView>)> {
    Ok((StatusCode::CREATED, JsonOut(create(&ctx, &p, &b).await?)))
}

#[utoipa::path(
    get,
    path = "/api/v1/insight/surveys/{id}",
    tag = "insight",
    summary = "一次测评(结果公布后居民可见)",
    params(("id" = String, Path, description = "测评编号")),
    responses(
        (status = 200, description = "测评", body = SurveyView),
        Unauthorized, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn detail_handler(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<JsonOut<SurveyView>> {
    Ok(JsonOut(visible_survey(&ctx, &p, &id).await?.1))
}

#[derive(Deserialize, Debug, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    /// Five scores 1–5, in the order of the survey's `questions`.
    pub scores: Vec<i64>,
    #[serde(default)]
    pub comment: Option<String>,
}

/// A resident answers for their household (once; while open).
pub async fn answer(ctx: &Ctx, p: &Principal, id: &str, b: &AnswerBody) -> AppResult<SurveyView> {
    let (s, v) = visible_survey(ctx, p, id).await?;
    let Some(home) = home_in(p, &s.org_path) else {
        return Err(AppError::Forbidden);
    };
    if s.status != "open" {
        return Err(AppError::conflict("survey_closed", "该测评已经结束"));
    }
    if v.my_answer.is_some() {
        return Err(AppError::conflict(
            "already_answered",
            "您家已经参与过本次测评",
        ));
    }
    let (scores, comment) =
        model::check_answer(&b.scores, b.comment.as_deref()).map_err(AppError::Validation)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    store::insert_answer(
        &mut tx,
        &s.id,
        &home,
        &p.user_id,
        &scores,
        comment.as_deref(),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(visible_survey(ctx, p, &s.id).await?.1)
}

#[utoipa::path(
    post,
    path = "/api/v1/insight/surveys/{id}/answers",
    tag = "insight",
    summary = "居民参与测评(每户一次)",
    params(("id" = String, Path, description = "测评编号")),
    request_body = AnswerBody,
    responses(
        (status = 201, description = "已提交", body = SurveyView),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn answer_handler(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<AnswerBody>,
) -> AppResult<(StatusCode, JsonOut<SurveyView>)> {
    Ok((
        StatusCode::CREATED,
        JsonOut(answer(&ctx, &p, &id, &b).await?),
    ))
}

/// Computes a survey's result from its answers and the compound's
/// indicators over the survey period.
pub async fn result_of(ctx: &Ctx, s: &SurveyRow) -> AppResult<SurveyResult> {
    let (tally, _) = store::answers(&ctx.db, &s.id).await?;
    let households = store::households_in(&ctx.db, &s.org_path).await?;
    let indicator_score = match model::parse_survey_period(&s.period) {
        Some((_, period)) => {
            let w = dashboard::weights_at(&ctx.db, Some(&s.org_path)).await?;
            let c = rates::compute(&ctx.db, std::slice::from_ref(&s.org_path), &period).await?;
            model::score(
                &Weights {
                    criteria: w.criteria,
                },
                &rates::rates_from(&c),
            )
            .score
        }
        None => None,
    };
    let survey_score = tally.score();
    let combined = model::combined(survey_score, indicator_score);
    let grade = combined.map(Grade::of);
    let company = store::company_of(&ctx.db, &s.compound_id)
        .await?
        .map(|c| c.name)
        .or_else(|| s.company.clone());
    Ok(SurveyResult {
        answers: tally.answers,
        households,
        participation: if households > 0 {
            tally.answers as f64 / households as f64
        } else {
            0.0
        },
        question_scores: tally.question_scores(),
        satisfaction: tally.satisfaction(),
        survey_score,
        indicator_score,
        combined,
        grade,
        grade_label: grade.map(|g| g.label(false).to_string()),
        company,
    })
}

#[derive(Deserialize, Debug, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishBody {
    /// The survey's version as read (optional).
    #[serde(default)]
    pub version: Option<i64>,
}

/// Publishes the result (org admins over the compound): the grade is fixed
/// and shown to the compound's residents. A survey without answers is 409.
pub async fn publish(ctx: &Ctx, p: &Principal, id: &str, b: &PublishBody) -> AppResult<SurveyView> {
    let (s, v) = visible_survey(ctx, p, id).await?;
    p.can_act(Role::ORG_ADMINS, &s.org_path, true)?;
    if s.status != "open" {
        return Err(AppError::conflict("survey_closed", "该测评已经公布"));
    }
    if v.tally.as_ref().is_none_or(|t| t.answers == 0) {
        return Err(AppError::conflict(
            "no_answers",
            "还没有居民参与测评,不能公布结果",
        ));
    }
    let result = result_of(ctx, &s).await?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    store::publish_survey(
        &mut tx,
        &s.id,
        b.version.unwrap_or(s.version),
        &serde_json::to_string(&result).map_err(AppError::internal)?,
        &p.user_id,
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        ctx.db.backend(),
        AuditEntry {
            at_ms: now,
            actor_id: Some(&p.user_id),
            action: "property_survey_published",
            object_type: "property_survey",
            object_id: Some(&s.id),
            org_path: Some(s.org_path.as_str()),
            detail: json!({"combined": result.combined, "grade": result.grade}),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(visible_survey(ctx, p, &s.id).await?.1)
}

#[utoipa::path(
    post,
    path = "/api/v1/insight/surveys/{id}/publish",
    tag = "insight",
    summary = "公布测评结果(社区及以上)",
    params(("id" = String, Path, description = "测评编号")),
    request_body = PublishBody,
    responses(
        (status = 200, description = "已公布", body = SurveyView),
        BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
    ),
    security(("bearer" = [])),
)]
async fn publish_handler(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<PublishBody>,
) -> AppResult<JsonOut<SurveyView>> {
    Ok(JsonOut(publish(&ctx, &p, &id, &b).await?))
}

#[derive(Deserialize, Debug, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyBody {
    /// The property company's name (2–60 characters).
    pub name: String,
}

#[derive(Serialize, Debug, ToSchema)]
#[schema(as = CompoundCompany)]
pub struct CompanyView {
    pub compound: OrgRef,
    pub company_id: String,
    pub company: String,
}

/// Sets the property company serving a compound (org admins over it).
pub async fn set_company(
    ctx: &Ctx,
    p: &Principal,
    compound_id: &str,
    b: &CompanyBody,
) -> AppResult<CompanyView> {
    let node = org::api::visible_node(ctx, p, compound_id).await?;
    p.can_act(Role::ORG_ADMINS, &node.org_path, true)?;
    if node.kind != OrgKind::Compound {
        return Err(AppError::field("compound_id", "物业公司只能设在小区"));
    }
    let name =
        text::required(&b.name, 2, 60, "物业公司名称").map_err(|m| AppError::field("name", m))?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let company = store::company_named(&mut tx, &name, &p.user_id, now).await?;
    store::assign_company(&mut tx, &node, &company.id, &p.user_id, now).await?;
    audit::record(
        &mut tx,
        ctx.db.backend(),
        AuditEntry {
            at_ms: now,
            actor_id: Some(&p.user_id),
            action: "property_company_assigned",
            object_type: "org_node",
            object_id: Some(&node.id),
            org_path: Some(node.org_path.as_str()),
            detail: json!({"company": company.name}),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(CompanyView {
        compound: OrgRef::from(&node),
        company_id: company.id,
        company: company.name,
    })
}

#[utoipa::path(
    put,
    path = "/api/v1/insight/compounds/{id}/company",
    tag = "insight",
    summary = "设置小区的物业公司(社区及以上)",
    params(("id" = String, Path, description = "小区编号")),
    request_body = CompanyBody,
    responses(
        (status = 200, description = "已设置", body = CompanyView),
        BodyErrors, Unauthorized, Forbidden, NotFound,
    ),
    security(("bearer" = [])),
)]
async fn company_handler(
    State(ctx): State<Ctx>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(b): Json<CompanyBody>,
) -> AppResult<JsonOut<CompanyView>> {
    Ok(JsonOut(set_company(&ctx, &p, &id, &b).await?))
}
