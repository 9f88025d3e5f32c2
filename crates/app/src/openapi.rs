//! `GET /api/openapi.json`: the OpenAPI 3 document of every `/api/v1`
//! operation, generated from the code with utoipa (derives only, no UI).
//!
//! # How to document a route
//!
//! Every `.route("/api/v1/…", …)` needs its operation in this document;
//! `cargo test -p app --test api openapi` fails on a route the document
//! lacks (it reads every router in `crates/*/src`), on an operation no
//! route serves, and on a bad `$ref`. For a new handler:
//!
//! 1. Derive `utoipa::ToSchema` on its request and response types (and on
//!    the types they contain); derive `utoipa::IntoParams` with
//!    `#[into_params(parameter_in = Query)]` on its query struct. A field
//!    kept as `String` but holding an enum's code can say so with
//!    `#[schema(value_type = TheEnum)]`; lists answer `kernel::page::Page<T>`.
//! 2. Put `#[utoipa::path(...)]` on the handler:
//!
//!    ```ignore
//!    #[utoipa::path(
//!        post,
//!        path = "/api/v1/demands/{id}/rating",      // exactly as in .route(…)
//!        operation_id = "rate_demand",
//!        tag = "demands",                           // the module (see `tags` below)
//!        summary = "评价(回访)",
//!        params(("id" = String, Path, description = "诉求编号")),
//!        request_body = RatingInput,
//!        responses(
//!            (status = 200, description = "评价后的诉求", body = DemandView),
//!            BodyErrors, Unauthorized, Forbidden, NotFound, Conflict,
//!        ),
//!        security(("bearer" = [])),                 // omit only on public operations
//!    )]
//!    async fn rating(…) { … }
//!    ```
//!
//!    The error responses are `kernel::openapi`'s: `BodyErrors` (400, 413,
//!    415, 422 of a JSON body), `QueryErrors` (400, 422 of a query),
//!    `BadRequest`, `Unauthorized`, `Forbidden`, `NotFound`, `Conflict`,
//!    `PayloadTooLarge`, `UnsupportedMediaType`, `Unprocessable`, `Locked`,
//!    `TooManyRequests`; list every status the handler can answer (the
//!    test drives each read as several callers and checks each answer's
//!    status and body against the document). Give a unique
//!    `operation_id = "module_verb_noun"` (else it is the handler's name;
//!    the test checks they are unique). Files are `kernel::openapi::Binary`
//!    under their media type, photo uploads `kernel::openapi::PhotoUpload`
//!    as `multipart/form-data`. With `summary` given, the handler's doc
//!    comment becomes the description from its second paragraph on.
//!    Schema names are the type names: two types of one name overwrite
//!    each other, so rename one with `#[schema(as = NewName)]` (tested).
//! 3. Add the handler to `paths(...)` below, and a new tag to `tags(...)`.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lianxin 连心 API",
        description = "连心 grassroots-governance platform. Every `/api/v1` call takes \
            `Authorization: Bearer <token>` from `POST /api/v1/auth/login`. Errors are \
            `ErrorBody` (`{code, message, fields?}`); lists take `limit` (1–100) and \
            `cursor` and answer `{items, next_cursor}`; times are RFC 3339.",
        license(name = "Apache-2.0"),
    ),
    servers((url = "/", description = "This server")),
    paths(
        // auth, audit (accounts)
        accounts::api::login_api,
        accounts::api::logout_api,
        accounts::api::me_api,
        accounts::api::change_password_api,
        accounts::api::enrol_totp_api,
        accounts::api::create_account_api,
        accounts::api::grant_api,
        accounts::api::audit_events,
        // org
        org::api::tree,
        org::api::create_node,
        org::api::get_node,
        org::api::rename_node,
        org::api::delete_node,
        org::api::children,
        org::api::household_residents,
        org::api::add_resident,
        org::api::get_resident,
        org::api::list_grids,
        org::api::create_grid,
        org::api::import_xlsx,
        org::import_job::start_api,
        org::import_job::job_api,
        org::api::export_xlsx,
        // demands (cases)
        cases::api::list_categories,
        cases::api::update_category,
        cases::api::list,
        cases::api::create,
        cases::api::inbox,
        cases::api::similar,
        cases::api::detail,
        cases::api::transition,
        cases::api::rating,
        cases::api::support,
        cases::attachments::upload,
        cases::attachments::download,
        // indicators (cases)
        cases::insight_api::rates_handler,
        // mediation (cases)
        cases::mediation::api::list,
        cases::mediation::api::create,
        cases::mediation::api::detail,
        cases::mediation::api::add_session,
        cases::mediation::api::outcome,
        cases::mediation::api::add_followup,
        cases::mediation::api::close,
        // open311 integration keys (the GeoReport v2 endpoints are not /api/v1)
        open311::api::list_keys,
        open311::api::issue_key,
        open311::api::revoke_key,
        // party
        party::api::list_orgs_h,
        party::api::create_org_h,
        party::api::org_detail_h,
        party::api::add_officer_h,
        party::api::set_centre_h,
        party::api::stats_h,
        party::api::org_transfers_h,
        party::api::end_officer_h,
        party::api::list_members_h,
        party::api::create_member_h,
        party::api::import_h,
        party::api::export_h,
        party::api::member_detail_h,
        party::api::update_member_h,
        party::api::status_h,
        party::api::transfer_h,
        party::api::register_h,
        party::api::unregister_h,
        party::api::checkins_h,
        party::api::checkin_h,
        party::api::me_h,
        party::api::butlers_h,
        party::api::add_butler_h,
        party::api::end_butler_h,
        party::api::appointments_h,
        party::api::add_appointment_h,
        party::api::end_appointment_h,
        party::api::activities_h,
        party::api::create_activity_h,
        party::api::activity_h,
        party::api::minutes_h,
        party::api::attendance_h,
        party::api::photo_upload_h,
        party::api::photo_h,
        party::api::tasks_h,
        party::api::create_task_h,
        party::api::claim_h,
        party::api::service_list_h,
        party::api::record_service_h,
        party::api::decide_service_h,
        // insight
        insight::api::dashboard_handler,
        insight::api::league_handler,
        insight::api::weights_handler,
        insight::api::put_weights_handler,
        insight::api::report_handler,
        insight::survey::list_handler,
        insight::survey::create_handler,
        insight::survey::detail_handler,
        insight::survey::answer_handler,
        insight::survey::publish_handler,
        insight::survey::company_handler,
        // notify
        notify::api::inbox,
        notify::api::unread,
        notify::api::inbox_item,
        notify::api::read_one,
        notify::api::read_all,
        notify::stream::stream,
        notify::api::list_subscriptions,
        notify::api::create_subscription,
        notify::api::delete_subscription,
        notify::api::list_webhooks,
        notify::api::create_webhook,
        notify::api::get_webhook,
        notify::api::update_webhook,
        notify::api::delete_webhook,
        notify::api::test_webhook,
        notify::api::dead_letters,
        notify::api::retry_dead,
        // PIPL rights
        crate::rights::api::my_data,
        crate::rights::api::my_data_json,
        crate::rights::api::my_data_xlsx,
        crate::rights::api::correction,
        crate::rights::api::deletion,
        crate::rights::api::list_requests,
        crate::rights::api::decision,
    ),
    components(schemas(kernel::openapi::ErrorBody)),
    modifiers(&Common),
    tags(
        (name = "auth", description = "登录: bearer tokens, the current user"),
        (name = "audit", description = "审计: the tamper-evident audit log (auditors only)"),
        (name = "org", description = "组织: the region tree, residents (masked), grids, Excel import/export"),
        (name = "mediation", description = "调解: dispute mediation cases, sessions, outcome, follow-ups"),
        (name = "open311", description = "Open311: API keys of GeoReport v2 integrations (the GeoReport endpoints themselves are under /open311/v2)"),
        (name = "party", description = "党建: organisations, members, 双报到, red butlers, activities, volunteer service, statistics"),
        (name = "notify", description = "通知: the inbox, the live stream (SSE), subscriptions, webhooks to 企业微信/钉钉 robots and generic endpoints, dead letters"),
        (name = "demands", description = "诉求: categories, filing, the workflow, rating, photos"),
        (name = "rights", description = "个人信息权利: a resident sees, exports (JSON, xlsx), corrects and asks to delete their data; staff process the requests"),
        (name = "insight", description = "评价与报表: indicators, dashboards, league tables and weights, the monthly report"),
    ),
)]
pub struct ApiDoc;

/// What the derive cannot say: the bearer scheme, the shared error
/// responses, the version of this build.
struct Common;

impl Modify for Common {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        doc.info.version = env!("CARGO_PKG_VERSION").to_string();
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            kernel::openapi::BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The `token` of `POST /api/v1/auth/login` (an opaque string).",
                    ))
                    .build(),
            ),
        );
        for (name, response) in kernel::openapi::error_response_components() {
            components.responses.insert(name, response);
        }
        add_idempotency_key(doc);
    }
}

/// Every POST honours `Idempotency-Key` (the layer `kernel::idempotency`),
/// except the few whose answer carries a credential: declare the header on
/// each of them.
fn add_idempotency_key(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    use utoipa::openapi::{ObjectBuilder, Required, Type};
    for (path, item) in doc.paths.paths.iter_mut() {
        if kernel::idempotency::EXEMPT_PATHS.contains(&path.as_str()) {
            continue;
        }
        let Some(op) = item.post.as_mut() else {
            continue;
        };
        let param = ParameterBuilder::new()
            .name("Idempotency-Key")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "幂等键: 1–255 个可见 ASCII 字符。同一用户以同一个键重发同一请求(包括重新登录后),\
                 得到第一次的应答(`Idempotency-Replayed: true`)而不重复写入;\
                 同一个键用于不同请求时 422。键保留 24 小时,按用户区分。",
            ))
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(255))
                    .pattern(Some("^[!-~]+$")),
            ))
            .build();
        op.parameters.get_or_insert_with(Vec::new).push(param);
        // A malformed key, or a key reused for a different request, is 422
        // on every operation that honours it.
        op.responses
            .responses
            .entry("422".to_string())
            .or_insert_with(|| {
                utoipa::openapi::RefOr::Ref(utoipa::openapi::Ref::from_response_name(
                    "Unprocessable",
                ))
            });
    }
}

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as JSON, built once.
pub fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        document()
            .to_json()
            .expect("the OpenAPI document serialises")
    })
}

/// `GET /api/openapi.json`
pub async fn serve() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        json(),
    )
        .into_response()
}
