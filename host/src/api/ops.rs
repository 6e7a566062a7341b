//! Operations: liveness, readiness, Prometheus metrics and the OpenAPI document (generated from the
//! handlers' annotations, never written by hand).

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
        .route("/openapi.json", get(openapi))
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

pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    if let Ok(stats) = state.store.queue_stats(now_millis()).await {
        state.metrics.set_queue(&stats);
    }
    (
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        state.metrics.encode(),
    )
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
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
/// missing or unknown token (every operation with a bearer), 400 for a malformed request (a path or query
/// that does not parse, a body that is not JSON).
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
        for item in openapi.paths.paths.values_mut() {
            let operations =
                [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                if operation.security.as_ref().is_some_and(|security| !security.is_empty()) {
                    responses.entry("401".into()).or_insert_with(|| {
                        response("Missing or unknown bearer token: send `Authorization: Bearer <token>`")
                    });
                }
                responses.entry("400".into()).or_insert_with(|| {
                    response("Malformed request: a path or query parameter that does not parse, or a body that is not valid JSON")
                });
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
        super::tenants::create_key,
        super::plugins::upload_shared, super::plugins::list_plugins, super::plugins::list_shared_versions,
        super::plugins::upload_own, super::plugins::list_own, super::plugins::list_own_versions,
        super::plugins::delete_own_version, super::plugin_runs::run,
        super::subscriptions::create, super::subscriptions::list, super::subscriptions::read,
        super::subscriptions::update, super::subscriptions::remove, super::subscriptions::replay,
        super::deliveries::list, super::deliveries::read, super::deliveries::retry,
        super::connections::create, super::connections::list, super::connections::read,
        super::connections::update, super::connections::remove, super::destinations::list,
        super::rollouts::start_dry_run, super::rollouts::read_dry_run, super::rollouts::start_rollout,
        super::rollouts::list_rollouts, super::rollouts::read_rollout, super::rollouts::promote,
        super::rollouts::roll_back,
        crate::console::links::mint,
    )
)]
pub struct ApiDoc;
