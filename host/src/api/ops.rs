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

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
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

#[derive(OpenApi)]
#[openapi(
    info(title = "Gancho", description = "Events in, each tenant's plugins run in a sandbox, requests delivered."),
    modifiers(&BearerAuth),
    paths(
        super::events::ingest,
        super::tenants::create_tenant, super::tenants::get_tenant, super::tenants::create_key,
        super::plugins::upload_version, super::plugins::list_plugins, super::plugins::list_versions,
        super::subscriptions::create, super::subscriptions::list, super::subscriptions::read,
        super::subscriptions::update, super::subscriptions::remove, super::subscriptions::replay,
        super::deliveries::list, super::deliveries::read, super::deliveries::retry,
    )
)]
pub struct ApiDoc;
