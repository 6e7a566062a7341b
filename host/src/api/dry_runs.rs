//! Dry runs of a candidate over a subscription's past events: `POST …/subscriptions/{id}/dry-runs` starts
//! one (nothing is sent or changed), `GET …/dry-runs/{id}` answers its progress and, once done, its report.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::plugin_config::check_accepts;
use super::plugin_runs::{candidate_plugin, read_candidate_body};
use super::rollouts::{find_subscription, invalid, plugin_version};
use super::{ApiError, ApiResult, AppState, Caller, parse_json_body, parse_rfc3339};
use crate::clock::now_millis;
use crate::rollout::dry_run::{self, DryRunJob, DryRunView, Selection, Side};

/// Events a dry run compares when the request does not say.
const DEFAULT_LAST_EVENTS: u32 = 100;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/tenants/{tenant}/subscriptions/{id}/dry-runs", post(start_dry_run))
        .route("/v1/tenants/{tenant}/dry-runs/{id}", get(read_dry_run))
}

/// What to try, on which events. Give `candidate_version` or `wasm_base64`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DryRunRequest {
    /// A stored version of the subscription's plugin.
    pub candidate_version: Option<u32>,
    /// Or a candidate's `.wasm`, in base64: validated and run, never stored.
    pub wasm_base64: Option<String>,
    /// The candidate's configuration (a JSON object); the subscription's when absent.
    #[schema(value_type = Option<Object>)]
    pub config: Option<serde_json::Value>,
    /// Which of the subscription's past events; the last 100 when absent.
    pub events: Option<EventsRequest>,
}

/// `{"last": 50}`, `{"from": "2026-12-01T00:00:00Z", "to": "2026-12-02T00:00:00Z"}` or `{"ids": [...]}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventsRequest {
    /// The latest events the subscription ran on, at most 10000.
    pub last: Option<u32>,
    /// RFC 3339: events it ran on at or after this time (with `to`).
    pub from: Option<String>,
    /// RFC 3339: events it ran on before this time.
    pub to: Option<String>,
    /// Events of the tenant by id (at most 10000).
    pub ids: Option<Vec<String>>,
}

fn selection(events: Option<EventsRequest>) -> ApiResult<Selection> {
    let Some(events) = events else { return Ok(Selection::Last(DEFAULT_LAST_EVENTS)) };
    let max = dry_run::MAX_EVENTS;
    match (events.last, events.from, events.to, events.ids) {
        (Some(last), None, None, None) if (1..=max).contains(&last) => Ok(Selection::Last(last)),
        (Some(_), None, None, None) => {
            Err(invalid("events.last", format!("`events.last` must be 1 to {max}")))
        }
        (None, Some(from), Some(to), None) => {
            let (from, to) = (parse_rfc3339("events.from", &from)?, parse_rfc3339("events.to", &to)?);
            if from >= to {
                return Err(invalid("events.to", "`events.to` must be after `events.from`"));
            }
            Ok(Selection::Range { from, to })
        }
        (None, Some(_), None, None) | (None, None, Some(_), None) => {
            Err(invalid("events", "a time range needs both `from` and `to`"))
        }
        (None, None, None, Some(ids)) if !ids.is_empty() && ids.len() <= max as usize => {
            // Each event is compared once, however often it is named.
            let mut seen = std::collections::HashSet::new();
            Ok(Selection::Ids(ids.into_iter().filter(|id| seen.insert(id.clone())).collect()))
        }
        (None, None, None, Some(_)) => {
            Err(invalid("events.ids", format!("`events.ids` must list 1 to {max} event ids")))
        }
        _ => Err(invalid("events", "give one of `last`, `from` and `to`, or `ids`")),
    }
}

/// Start a dry run: the subscription's version and a candidate over its past events, sending nothing.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/subscriptions/{id}/dry-runs", tag = "rollouts", request_body = DryRunRequest,
    responses((status = 202, description = "Started: fetch it from `GET /v1/tenants/{tenant}/dry-runs/{id}`", body = DryRunView),
        (status = 404, description = "No such subscription or candidate version (named in `field`)", body = super::error::ErrorBody),
        (status = 413, description = "The candidate is over the tenant's quotas.max_plugin_bytes (code `quota_exceeded`), or the body is over that in base64 with an event (code `body_too_large`)", body = super::error::ErrorBody),
        (status = 422, description = "A bad field (named), a candidate that is no valid plugin, or a configuration the plugin refuses (field `config.<key>`, as a subscription would be refused)", body = super::error::ErrorBody),
        (status = 429, description = "The tenant has as many dry runs (or events in them) running as it may (code `too_many_dry_runs`)", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn start_dry_run(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> ApiResult<(StatusCode, [(axum::http::header::HeaderName, String); 1], Json<DryRunView>)> {
    caller.require_tenant(&tenant)?;
    let policy = state.policies.get(&tenant).await;
    let body = read_candidate_body(&state, &headers, body, policy.quotas.max_plugin_bytes).await?;
    let request: DryRunRequest = parse_json_body(&body)?;
    drop(body);
    let subscription = find_subscription(&state, &tenant, &id).await?;
    let selection = selection(request.events)?;
    // Before any candidate is compiled: a tenant's running dry runs are bounded.
    let slot = state.dry_runs.reserve(&tenant, selection.most_events()).map_err(|busy| {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_dry_runs", busy.to_string())
    })?;
    let (candidate_label, candidate_plugin) = match (request.candidate_version, &request.wasm_base64) {
        (Some(_), Some(_)) => {
            return Err(invalid("wasm_base64", "give `candidate_version` or `wasm_base64`, not both"));
        }
        (Some(version), None) => {
            plugin_version(&state, &subscription, Some(version), "candidate_version").await?
        }
        (None, Some(encoded)) => {
            candidate_plugin(&state, &tenant, encoded, policy.quotas.max_plugin_bytes).await?
        }
        (None, None) => {
            return Err(invalid("candidate_version", "give a `candidate_version` or a `wasm_base64`"));
        }
    };
    let candidate_config = match request.config {
        Some(config @ serde_json::Value::Object(_)) => config.to_string(),
        Some(_) => return Err(invalid("config", "`config` must be a JSON object")),
        None => subscription.config_json.clone(),
    };
    // A candidate's configuration the subscription would refuse is refused here, with the same answer.
    check_accepts(
        &state,
        &tenant,
        &candidate_label,
        &candidate_plugin,
        &candidate_config,
        &subscription.event_types,
    )
    .await?;
    let (current_label, current_plugin) =
        plugin_version(&state, &subscription, subscription.plugin_version, "plugin").await?;
    let job = DryRunJob {
        id: crate::ids::new_id("dry"),
        current: Side {
            label: current_label,
            plugin: current_plugin,
            config_json: subscription.config_json.clone(),
        },
        candidate: Side { label: candidate_label, plugin: candidate_plugin, config_json: candidate_config },
        subscription,
        selection,
        policy,
    };
    let services = dry_run::Services {
        store: state.store.clone(),
        runtime: state.runtime.clone(),
        executor: state.executor.clone(),
    };
    let view = dry_run::start(services, job, slot).await?;
    let location = format!("/v1/tenants/{tenant}/dry-runs/{}", view.id);
    Ok((StatusCode::ACCEPTED, [(axum::http::header::LOCATION, location)], Json(view)))
}

/// A dry run: its progress, its counts, and (once done) the events that differ, with their changes.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/dry-runs/{id}", tag = "rollouts",
    responses((status = 200, body = DryRunView), (status = 404, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn read_dry_run(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> ApiResult<Json<DryRunView>> {
    caller.require_tenant(&tenant)?;
    let record = state
        .store
        .get_dry_run(&tenant, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("dry run {id}")))?;
    Ok(Json(DryRunView::from_record(&record, now_millis())?))
}
