//! Trying a plugin without sending anything: `POST /v1/tenants/{tenant}/plugin-runs` runs a plugin (a
//! stored version the tenant may use, or a candidate's bytes) on an event (given, or one of the tenant's
//! stored events) with a configuration (given, or a subscription's), in the same sandbox, limits and fair
//! share of plugin time as the service, and answers with the requests it would send, its logs and its
//! error. It answers what the service would do: a configuration the plugin refuses is refused as a
//! subscription would be (422 naming the field), and a subscription's `allowed_hosts` hold as in the
//! pipeline. Nothing is sent and nothing is stored. The console's live preview calls this.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::plugin_config::check_accepts;
use super::plugins::{plugin_too_large, read_limited};
use super::{ApiError, ApiResult, AppState, Caller, parse_json_body};
use crate::event::Event;
use crate::plugins::{PluginRef, ResolveError};
use crate::runtime::{LogLine, OutgoingRequest, Plugin, SubscriptionInput};
use crate::store::Subscription;

/// Room in a body that may carry a candidate, beside the candidate's base64 and an event of
/// `ingest.max_body_bytes`: the configuration, and the ids of a dry run's events.
const BODY_ROOM_BYTES: u64 = 4 << 20;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/tenants/{tenant}/plugin-runs", post(run))
}

/// Reads the body of a request that may carry a candidate plugin (a plugin run, a dry run), refusing (413)
/// before reading it whole one larger than the tenant's `quotas.max_plugin_bytes` in base64 with an event
/// and room to spare: nothing larger could be accepted, so nothing larger is held in memory.
pub(super) async fn read_candidate_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    max_plugin_bytes: u64,
) -> ApiResult<axum::body::Bytes> {
    let max_body =
        max_plugin_bytes.div_ceil(3) * 4 + state.config.ingest.max_body_bytes as u64 + BODY_ROOM_BYTES;
    read_limited(headers, body, max_body, |size| {
        let size = size.map_or_else(|| format!("over {max_body}"), |size| size.to_string());
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!(
                "the request body is {size} bytes; it may be at most {max_body}: a candidate of \
                 quotas.max_plugin_bytes ({max_plugin_bytes} bytes) in base64, an event of ingest.max_body_bytes \
                 and the rest of the request. Build the plugin smaller or ask the operator to raise the quota"
            ),
        )
    })
    .await
}

/// What to run, on what, with which configuration. Give `plugin` or `wasm_base64` (or neither, with a
/// `subscription_id`: its plugin); `event` or `event_id`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginRunRequest {
    /// A plugin the tenant may use, as a subscription names it: `slack`, `slack@2`, `acme/crm@3`.
    pub plugin: Option<String>,
    /// Or a candidate plugin's `.wasm`, in base64: validated and run, never stored.
    pub wasm_base64: Option<String>,
    /// The event, as the platform posts it; `tenant` may be left out.
    #[schema(value_type = Option<Object>)]
    pub event: Option<serde_json::Value>,
    /// Or the id of one of the tenant's stored events.
    pub event_id: Option<String>,
    /// A subscription of the tenant: its configuration, endpoint URL, `allowed_hosts` and (with neither
    /// `plugin` nor `wasm_base64`) its plugin.
    pub subscription_id: Option<String>,
    /// The plugin's configuration (a JSON object); over the subscription's, if both are given.
    #[schema(value_type = Option<Object>)]
    pub config: Option<serde_json::Value>,
    /// Where requests without their own URL would go.
    pub endpoint_url: Option<String>,
}

/// What the plugin did.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PluginRunView {
    /// The plugin that ran: `name@version`, or `candidate sha256:…`.
    pub plugin: String,
    /// `requests` (it would send them), `skipped` (nothing to send) or `plugin_error`.
    pub outcome: &'static str,
    /// The requests it would send, as the service would deliver them (before signing).
    #[schema(value_type = Vec<Object>)]
    pub requests: Vec<OutgoingRequest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<RunError>,
    pub logs: Vec<LogLine>,
    /// Log lines beyond the limits, counted but not kept.
    pub logs_dropped: usize,
    /// Time in the sandbox, in milliseconds.
    pub elapsed_ms: f64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RunError {
    /// `timeout`, `trap`, `memory_limit`, `plugin_error_permanent`, …
    pub kind: &'static str,
    /// The error, with the panic or exception text.
    pub message: String,
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, field, message)
}

/// Run a plugin on an event without sending or storing anything.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/plugin-runs", tag = "plugins", request_body = PluginRunRequest,
    responses((status = 200, description = "The plugin ran (or failed: see `outcome` and `error`)", body = PluginRunView),
        (status = 404, description = "No such tenant, plugin, subscription or stored event of this tenant (named in `field`)", body = super::error::ErrorBody),
        (status = 413, description = "The candidate is over the tenant's quotas.max_plugin_bytes (code `quota_exceeded`), or the body is over that in base64 with an event (code `body_too_large`)", body = super::error::ErrorBody),
        (status = 422, description = "A bad field (named), a candidate that is no valid plugin, or a configuration the plugin refuses (field `config.<key>`, as a subscription would be refused)", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn run(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<PluginRunView>> {
    caller.require_tenant(&tenant)?;
    let policy = state.policies.get(&tenant).await;
    let body = read_candidate_body(&state, &headers, body, policy.quotas.max_plugin_bytes).await?;
    let request: PluginRunRequest = parse_json_body(&body)?;
    drop(body);

    let subscription = match &request.subscription_id {
        Some(id) => Some(state.store.get_subscription(&tenant, id).await?.ok_or_else(|| {
            ApiError::field(StatusCode::NOT_FOUND, "subscription_id", format!("subscription {id} not found"))
        })?),
        None => None,
    };
    let (label, plugin) =
        plugin_to_run(&state, &tenant, &request, subscription.as_ref(), policy.quotas.max_plugin_bytes)
            .await?;
    let event = event_to_run(&state, &tenant, &request).await?;
    let config_json = match (&request.config, &subscription) {
        (Some(config @ serde_json::Value::Object(_)), _) => config.to_string(),
        (Some(_), _) => return Err(invalid("config", "`config` must be a JSON object")),
        (None, Some(subscription)) => subscription.config_json.clone(),
        (None, None) => "{}".to_owned(),
    };
    let endpoint_url = request
        .endpoint_url
        .clone()
        .or_else(|| subscription.as_ref().map(|s| s.endpoint_url.clone()))
        .unwrap_or_else(|| "https://endpoint.example/webhook".to_owned());
    let subscription_id = subscription.as_ref().map_or_else(|| "sub_test".to_owned(), |s| s.id.clone());
    // A configuration the subscription would refuse is refused here too, with the same answer (tried on
    // the samples of its event types; without a subscription, the plugin's own checks only).
    let event_types = subscription.as_ref().map_or(&[][..], |s| s.event_types.as_slice());
    check_accepts(&state, &tenant, &label, &plugin, &config_json, event_types).await?;

    // On a plugin thread, in the tenant's turn, under the tenant's limits: as the pipeline runs it.
    let (runtime, limits) = (state.runtime.clone(), policy.limits.clone());
    let invocation = state
        .executor
        .submit(&tenant, move || {
            let input = SubscriptionInput {
                id: &subscription_id,
                endpoint_url: &endpoint_url,
                config_json: &config_json,
            };
            let mut invocation = runtime.invoke_limited(&plugin, &event.as_input(), &input, &limits);
            // The subscription's `allowed_hosts` hold as they do in the pipeline.
            if let Some(subscription) = &subscription {
                invocation.result = invocation
                    .result
                    .and_then(|requests| crate::pipeline::keep_to_allowed_hosts(requests, subscription));
            }
            let took = invocation.elapsed;
            (invocation, took)
        })
        .await
        .ok_or_else(|| ApiError::internal("the plugin run was lost"))?;

    let (outcome, requests, error) = match invocation.result {
        Ok(requests) if requests.is_empty() => ("skipped", requests, None),
        Ok(requests) => ("requests", requests, None),
        Err(error) => {
            let message = format!("plugin {label} failed on event {}: {error}", request_event_id(&request));
            ("plugin_error", Vec::new(), Some(RunError { kind: error.kind(), message }))
        }
    };
    Ok(Json(PluginRunView {
        plugin: label,
        outcome,
        requests,
        error,
        logs: invocation.logs,
        logs_dropped: invocation.logs_dropped,
        elapsed_ms: invocation.elapsed.as_secs_f64() * 1000.0,
    }))
}

fn request_event_id(request: &PluginRunRequest) -> String {
    request
        .event_id
        .clone()
        .or_else(|| request.event.as_ref()?.get("id")?.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The stored plugin named, the candidate given, or the subscription's plugin; with its label.
async fn plugin_to_run(
    state: &AppState,
    tenant: &str,
    request: &PluginRunRequest,
    subscription: Option<&Subscription>,
    max_plugin_bytes: u64,
) -> ApiResult<(String, Plugin)> {
    let reference = match (&request.plugin, &request.wasm_base64, subscription) {
        (Some(_), Some(_), _) => {
            return Err(invalid("wasm_base64", "give `plugin` or `wasm_base64`, not both"));
        }
        (None, Some(encoded), _) => return candidate_plugin(state, tenant, encoded, max_plugin_bytes).await,
        (Some(text), None, _) => text.parse::<PluginRef>().map_err(|message| invalid("plugin", message))?,
        (None, None, Some(subscription)) => {
            PluginRef { name: subscription.plugin_name.clone(), version: subscription.plugin_version }
        }
        (None, None, None) => {
            return Err(invalid(
                "plugin",
                "name a `plugin`, give a candidate's `wasm_base64`, or a `subscription_id`",
            ));
        }
    };
    let not_found =
        || ApiError::field(StatusCode::NOT_FOUND, "plugin", format!("plugin `{reference}` does not exist"));
    if !crate::tenancy::may_use(tenant, &reference.name) {
        return Err(not_found());
    }
    let (version, plugin) = state.plugins.resolve(&reference).await.map_err(|error| match error {
        ResolveError::Missing(_) => not_found(),
        ResolveError::Unavailable(message) => ApiError::internal(message),
    })?;
    Ok((format!("{}@{version}", reference.name), plugin))
}

/// Candidates one tenant may have compiling at once.
const COMPILES_PER_TENANT: usize = 1;

/// The candidates being compiled, by tenant.
#[derive(Default)]
pub struct Compiling {
    by_tenant: std::sync::Mutex<std::collections::HashMap<String, usize>>,
}

/// A tenant's place among the compiles, given back when dropped.
struct CompileSlot<'a> {
    compiling: &'a Compiling,
    tenant: String,
}

impl Compiling {
    fn begin(&self, tenant: &str) -> ApiResult<CompileSlot<'_>> {
        let mut by_tenant = self.by_tenant.lock().expect("no panics while held");
        let count = by_tenant.entry(tenant.to_owned()).or_default();
        if *count >= COMPILES_PER_TENANT {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_compiles",
                format!(
                    "tenant {tenant} already has a candidate plugin compiling; wait for it to end, or upload the \
                     plugin as a version (compiled once) and name it"
                ),
            ));
        }
        *count += 1;
        Ok(CompileSlot { compiling: self, tenant: tenant.to_owned() })
    }
}

impl Drop for CompileSlot<'_> {
    fn drop(&mut self) {
        let mut by_tenant = self.compiling.by_tenant.lock().expect("no panics while held");
        if let Some(count) = by_tenant.get_mut(&self.tenant) {
            *count -= 1;
            if *count == 0 {
                by_tenant.remove(&self.tenant);
            }
        }
    }
}

/// A candidate plugin's bytes (`wasm_base64`), within the tenant's `quotas.max_plugin_bytes`, validated and
/// compiled but never stored; with its label, `candidate sha256:…`. It compiles as the tenant's plugin
/// time (on a plugin thread, in the tenant's turn, on one core at the lowest priority), one at a time per
/// tenant, and is never written to the precompiled cache.
pub(super) async fn candidate_plugin(
    state: &AppState,
    tenant: &str,
    encoded: &str,
    max_plugin_bytes: u64,
) -> ApiResult<(String, Plugin)> {
    let encoded = encoded.trim();
    // Judged by its encoded size first, so that an over-quota candidate is never decoded: base64 holds 3
    // bytes in every 4 characters, less up to 2 bytes of padding.
    let least_decoded = (encoded.len() as u64 / 4 * 3).saturating_sub(2);
    if least_decoded > max_plugin_bytes {
        return Err(plugin_too_large(Some(least_decoded), max_plugin_bytes, "quotas.max_plugin_bytes"));
    }
    let wasm = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| invalid("wasm_base64", format!("`wasm_base64` is not base64: {e}")))?;
    if wasm.len() as u64 > max_plugin_bytes {
        return Err(plugin_too_large(Some(wasm.len() as u64), max_plugin_bytes, "quotas.max_plugin_bytes"));
    }
    let _slot = state.compiling.begin(tenant)?;
    let runtime = state.runtime.clone();
    let loaded = state
        .executor
        .submit(tenant, move || {
            let started = std::time::Instant::now();
            let loaded = crate::executor::on_one_low_priority_thread(|| runtime.load_candidate(&wasm));
            (loaded, started.elapsed())
        })
        .await
        .ok_or_else(|| ApiError::internal("the candidate's compile was lost"))?;
    let plugin = loaded.map_err(|error| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_plugin",
            format!("plugin `candidate` refused: {error}"),
        )
    })?;
    Ok((format!("candidate {}", plugin.info().digest), plugin))
}

/// The event given (its `tenant` filled in), or the tenant's stored event.
async fn event_to_run(state: &AppState, tenant: &str, request: &PluginRunRequest) -> ApiResult<Event> {
    match (&request.event, &request.event_id) {
        (Some(_), Some(_)) => Err(invalid("event_id", "give `event` or `event_id`, not both")),
        (Some(serde_json::Value::Object(envelope)), None) => {
            let mut envelope = envelope.clone();
            match envelope.get("tenant").and_then(|t| t.as_str()) {
                Some(other) if other != tenant => {
                    return Err(invalid(
                        "event.tenant",
                        format!("the event is of tenant `{other}`, not `{tenant}`"),
                    ));
                }
                _ => envelope.insert("tenant".into(), tenant.into()),
            };
            let bytes = serde_json::to_vec(&envelope).map_err(ApiError::internal)?;
            Event::parse(&bytes).map_err(|error| {
                let field = error.field().map_or_else(|| "event".to_owned(), |f| format!("event.{f}"));
                invalid(&field, format!("event: {error}"))
            })
        }
        (Some(_), None) => Err(invalid("event", "`event` must be an event envelope (a JSON object)")),
        (None, Some(id)) => {
            let stored = state.store.get_event(tenant, id).await?.ok_or_else(|| {
                ApiError::field(
                    StatusCode::NOT_FOUND,
                    "event_id",
                    format!("event {id} not found among tenant {tenant}'s stored events"),
                )
            })?;
            let data =
                serde_json::value::RawValue::from_string(stored.data_json).map_err(ApiError::internal)?;
            Ok(Event {
                id: stored.id,
                event_type: stored.event_type,
                tenant: stored.tenant_id,
                timestamp: stored.timestamp,
                data,
            })
        }
        (None, None) => Err(invalid("event", "give an `event` envelope or a stored `event_id`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_compiles_one_candidate_at_a_time() {
        let compiling = Compiling::default();
        let first = compiling.begin("acme").unwrap();
        let busy = compiling.begin("acme").err().unwrap();
        assert_eq!((busy.status, busy.code), (StatusCode::TOO_MANY_REQUESTS, "too_many_compiles"));
        let other = compiling.begin("globex").unwrap();
        drop(first);
        let again = compiling.begin("acme").unwrap();
        drop((again, other));
        assert!(compiling.by_tenant.lock().unwrap().is_empty());
    }
}
