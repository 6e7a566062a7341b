//! Operations: liveness, readiness, Prometheus metrics (behind `metrics_token`) and the OpenAPI document
//! (generated from the handlers' annotations, never written by hand; served by [`crate::console::app`],
//! which adds the operations that live above the API).

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;

use super::{AppState, now_millis};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({"status": "ready"}))),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "unavailable", "reason": error.to_string()})),
        ),
    }
}

/// `/metrics` for a scraper with `Authorization: Bearer <metrics_token>` (or the operator token): the figures
/// say how busy each tenant's plugins are, which is no one else's business.
async fn metrics(State(state): State<AppState>, request: axum::extract::Request) -> axum::response::Response {
    let (parts, _) = request.into_parts();
    let token = super::auth::bearer(&parts.headers).unwrap_or_default();
    let client = super::access::client(&state, &parts);
    if let Err(refused) = state.access.check(client) {
        return refused.into_response();
    }
    let config = &state.config;
    let allowed = !token.is_empty()
        && [&config.metrics_token, &config.operator_token]
            .iter()
            .any(|expected| !expected.is_empty() && super::same_secret(token, expected));
    if !allowed {
        if !token.is_empty() {
            state.access.failed(client);
        }
        return super::ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "GET /metrics needs `Authorization: Bearer <metrics_token>` (in <data_dir>/metrics.token unless \
             configured); in Prometheus, set `authorization: {credentials_file: …}` on the scrape job",
        )
        .into_response();
    }
    (
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        metrics_text(&state).await,
    )
        .into_response()
}

/// The metrics in the OpenMetrics text format, with the queue figures read now.
pub(crate) async fn metrics_text(state: &AppState) -> String {
    if let Ok(stats) = state.store.queue_stats(now_millis()).await {
        state.metrics.set_queue(&stats);
    }
    state.metrics.encode()
}

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The answers every operation can give, added to each so that no handler has to list them: 401 for a
/// missing or unknown token and 429 for a client that failed to authenticate too often (every operation
/// with a bearer), 400 for a malformed request (a path or query that does not parse, in text as axum
/// words it; a body that is not JSON), 422 for a body whose fields do not fit (every operation with one).
struct CommonResponses;

impl utoipa::Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{RefOr, ResponseBuilder, content::ContentBuilder};
        let error = || {
            ContentBuilder::new().schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody"))).build()
        };
        let response = |description: &str| {
            RefOr::T(
                ResponseBuilder::new().description(description).content("application/json", error()).build(),
            )
        };
        let text = || {
            use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
            ContentBuilder::new()
                .schema(Some(RefOr::T(Schema::Object(
                    ObjectBuilder::new().schema_type(Type::String).build(),
                ))))
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            let operations =
                [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                if operation.security.as_ref().is_some_and(|security| !security.is_empty()) {
                    responses.entry("401".into()).or_insert_with(|| {
                        response("Missing or unknown bearer token: send `Authorization: Bearer <token>`")
                    });
                    responses.entry("429".into()).or_insert_with(|| {
                        response(
                            "Too many failed authentications from this address: wait `Retry-After` seconds",
                        )
                    });
                }
                if operation.request_body.is_some() {
                    responses.entry("422".into()).or_insert_with(|| {
                        response(
                            "A field of the body is missing, mistyped or out of range (named in `field`)",
                        )
                    });
                }
                let malformed = responses.entry("400".into()).or_insert_with(|| {
                    response("Malformed request: a path or query parameter that does not parse (text), or a body that is not valid JSON")
                });
                if let RefOr::T(malformed) = malformed {
                    malformed.content.entry("text/plain".into()).or_insert_with(text);
                }
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Gancho", description = "Events in, each tenant's plugins run in a sandbox, requests delivered."),
    modifiers(&BearerAuth, &CommonResponses),
    paths(
        super::events::ingest,
        super::tenants::create_tenant, super::tenants::list_tenants, super::tenants::get_tenant, super::tenants::update_tenant,
        super::access::create_key, super::access::list_keys, super::access::delete_key,
        super::access::end_sessions,
        super::plugins::upload_shared, super::plugins::list_plugins, super::plugins::list_shared_versions,
        super::plugins::upload_own, super::plugins::list_own, super::plugins::list_own_versions,
        super::plugins::delete_own_version, super::plugin_runs::run,
        super::subscriptions::create, super::subscriptions::list, super::subscriptions::read,
        super::subscriptions::update, super::subscriptions::remove, super::subscriptions::replay,
        super::event_types::list, super::test_events::send,
        super::deliveries::list, super::deliveries::read, super::deliveries::retry, super::deliveries::rerun,
        super::connections::create, super::connections::list, super::connections::read,
        super::connections::update, super::connections::remove, super::destinations::list,
        super::dry_runs::start_dry_run, super::dry_runs::read_dry_run, super::rollouts::start_rollout,
        super::rollouts::list_rollouts, super::rollouts::read_rollout, super::rollouts::promote,
        super::rollouts::roll_back, super::stats::subscription_stats, super::stats::tenant_stats,
        super::stats::service_stats,
    )
)]
pub struct ApiDoc;

/// The API document with `extra` operations (served above the API, like the console's portal links) added,
/// each given the common answers too.
pub fn document_with(extra: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use utoipa::Modify;
    let mut document = ApiDoc::openapi();
    document.merge(extra);
    CommonResponses.modify(&mut document);
    document
}
