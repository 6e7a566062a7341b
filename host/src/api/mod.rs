//! The HTTP API: ingest for the platform, administration for operators and tenants, and operations
//! (health, readiness, metrics, the OpenAPI document). One file per resource, each with its `router()`.

pub(crate) mod access;
mod auth;
pub(crate) mod connections;
pub(crate) mod deliveries;
pub(crate) mod destinations;
mod dry_runs;
pub(crate) mod error;
pub(crate) mod event_types;
mod events;
pub(crate) mod health;
pub(crate) mod idempotency;
pub(crate) mod ops;
pub(crate) mod ordering;
mod plugin_config;
pub(crate) mod plugin_runs;
pub(crate) mod plugins;
pub(crate) mod rollouts;
pub(crate) mod stats;
pub(crate) mod subscriptions;
pub(crate) mod tenants;
pub(crate) mod test_events;

use std::sync::Arc;

use axum::Router;

pub use access::Access;
pub use auth::{Caller, ServiceTokens};
pub(crate) use auth::{same_secret, tenant_of_key};
pub use error::{ApiError, ApiResult};
pub use events::IngestQueue;
pub use plugin_runs::Compiling;

pub(crate) use crate::clock::{now_millis, rfc3339};
use crate::config::Config;
use crate::connections::Registry;
use crate::executor::PluginExecutor;
use crate::metrics::Metrics;
use crate::plugins::PluginCache;
use crate::runtime::Runtime;
use crate::store::Store;
use crate::tenancy::Policies;
use crate::wake::Wakeups;

/// What every handler can reach: the [`Services`] behind one reference count. axum clones the state for each
/// request (and for each extractor that takes it); one count to bump and drop costs less than one per service,
/// which every post to the ingest endpoint used to pay (1.3% of the service's CPU under load).
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The service's parts the API works with, and the few states it keeps of its own.
pub struct Services {
    pub config: Arc<Config>,
    /// The operator's and the platform's tokens, as the caller check compares them.
    pub tokens: ServiceTokens,
    pub store: Arc<dyn Store>,
    pub runtime: Arc<Runtime>,
    pub plugins: Arc<PluginCache>,
    pub policies: Arc<Policies>,
    /// Plugin runs the API makes (tests of a plugin, config checks) take their turn with the pipeline's.
    pub executor: Arc<PluginExecutor>,
    /// Tenants' connections: sealing new secrets, forgetting changed ones.
    pub connections: Arc<Registry>,
    pub ingest: IngestQueue,
    pub metrics: Arc<Metrics>,
    pub wake: Wakeups,
    /// The dry runs running on this instance, so that a tenant's are bounded.
    pub dry_runs: crate::rollout::dry_run::Running,
    /// The candidate plugins compiling, so that a tenant's are bounded.
    pub compiling: Arc<Compiling>,
    /// Failed authentications per client, and keys' last uses.
    pub access: Arc<Access>,
    /// The replays each tenant started lately (`quotas.max_replays_per_hour`).
    pub replays: Arc<crate::tenancy::ReplayBudget>,
    /// The portal's *Connect* sign-ins in progress on this instance.
    pub oauth_flows: Arc<crate::connections::oauth_flow::PendingFlows>,
}

/// Every route of the API.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(events::router())
        .merge(tenants::router())
        .merge(access::router())
        .merge(plugins::router())
        .merge(plugin_runs::router())
        .merge(connections::router())
        .merge(subscriptions::router())
        .merge(event_types::router())
        .merge(test_events::router())
        .merge(rollouts::router())
        .merge(dry_runs::router())
        .merge(deliveries::router())
        .merge(destinations::router())
        .merge(stats::router())
        .merge(ops::router())
        .fallback(|| async { ApiError::not_found("route") })
        .with_state(state)
}

/// Checks a name the API gives to things (a plugin, a connection): 1 to 64 lowercase letters, digits, `-`
/// or `_`, so that it is safe in URLs and never ambiguous; the error names the field `name`.
pub fn check_name(what: &str, name: &str) -> ApiResult<()> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(ApiError::field(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "name",
            format!("{what} name `{name}` must be 1 to 64 lowercase letters, digits, `-` or `_`"),
        ))
    }
}

/// Unix milliseconds from an RFC 3339 time, or an error naming `field`.
pub fn parse_rfc3339(field: &str, text: &str) -> ApiResult<i64> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .map_err(|_| {
            ApiError::field(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                field,
                format!("`{field}` must be an RFC 3339 time such as 2026-11-21T14:03:07Z, got `{text}`"),
            )
        })
}

/// Parses a JSON request body into `T`: malformed JSON is a 400, a missing or mistyped field a 422 that
/// names the field.
pub fn parse_json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        if path == "." {
            ApiError::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", message)
        } else {
            ApiError::field(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                path.clone(),
                format!("field `{path}`: {message}"),
            )
        }
    })
}
