//! Rolling out a new version of a subscription's plugin: dry runs of a candidate over the subscription's
//! past events (`…/subscriptions/{id}/dry-runs`, then `…/dry-runs/{id}` for progress and the report), and
//! canaries (`…/subscriptions/{id}/rollouts`) that promote or roll back by their rules, or by hand.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::plugin_runs::{candidate_plugin, read_candidate_body};
use super::{ApiError, ApiResult, AppState, Caller, parse_json_body, parse_rfc3339, rfc3339};
use crate::clock::now_millis;
use crate::plugins::{PluginRef, ResolveError};
use crate::rollout::canary::{Rules, VersionFigures};
use crate::rollout::dry_run::{self, DryRunJob, DryRunView, Selection, Side};
use crate::rollout::lifecycle::{self, Ending, RolloutBody};
use crate::runtime::Plugin;
use crate::store::{Canary, RolloutRecord, RolloutState, Subscription};

/// Events a dry run compares when the request does not say.
const DEFAULT_LAST_EVENTS: u32 = 100;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/tenants/{tenant}/subscriptions/{id}/dry-runs", post(start_dry_run))
        .route("/v1/tenants/{tenant}/dry-runs/{id}", get(read_dry_run))
        .route("/v1/tenants/{tenant}/subscriptions/{id}/rollouts", post(start_rollout).get(list_rollouts))
        .route("/v1/tenants/{tenant}/subscriptions/{id}/rollouts/{rollout}", get(read_rollout))
        .route("/v1/tenants/{tenant}/subscriptions/{id}/rollouts/{rollout}/promote", post(promote))
        .route("/v1/tenants/{tenant}/subscriptions/{id}/rollouts/{rollout}/rollback", post(roll_back))
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, field, message)
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

/// The subscription's plugin at `version` (`None`: the latest), compiled, with its label.
async fn plugin_version(
    state: &AppState,
    subscription: &Subscription,
    version: Option<u32>,
    field: &str,
) -> ApiResult<(String, Plugin)> {
    let (_, label, plugin) = resolve_version(state, subscription, version, field).await?;
    Ok((label, plugin))
}

/// The subscription's plugin at `version` (`None`: the latest): its number, label and compiled plugin.
async fn resolve_version(
    state: &AppState,
    subscription: &Subscription,
    version: Option<u32>,
    field: &str,
) -> ApiResult<(u32, String, Plugin)> {
    let reference = PluginRef { name: subscription.plugin_name.clone(), version };
    let (version, plugin) = state.plugins.resolve(&reference).await.map_err(|error| match error {
        ResolveError::Missing(_) => {
            ApiError::field(StatusCode::NOT_FOUND, field, format!("plugin `{reference}` does not exist"))
        }
        ResolveError::Unavailable(message) => ApiError::internal(message),
    })?;
    Ok((version, format!("{}@{version}", reference.name), plugin))
}

async fn find_subscription(state: &AppState, tenant: &str, id: &str) -> ApiResult<Subscription> {
    state
        .store
        .get_subscription(tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("subscription {id}")))
}

/// Start a dry run: the subscription's version and a candidate over its past events, sending nothing.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/subscriptions/{id}/dry-runs", tag = "rollouts", request_body = DryRunRequest,
    responses((status = 202, description = "Started: fetch it from `GET /v1/tenants/{tenant}/dry-runs/{id}`", body = DryRunView),
        (status = 404, description = "No such subscription or candidate version (named in `field`)", body = super::error::ErrorBody),
        (status = 413, description = "The candidate is over the tenant's quotas.max_plugin_bytes (code `quota_exceeded`), or the body is over that in base64 with an event (code `body_too_large`)", body = super::error::ErrorBody),
        (status = 422, description = "A bad field (named), or a candidate that is no valid plugin", body = super::error::ErrorBody),
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

/// A canary to start: this share of the subscription's events run the candidate.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolloutRequest {
    /// A stored version of the subscription's plugin.
    pub candidate_version: u32,
    /// Of every 100 events (chosen by event id), this many run the candidate: 1 to 100.
    pub percent: u8,
    /// When to roll back or promote by itself; every field has a default.
    #[serde(default)]
    pub rules: Rules,
}

/// A rollout as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RolloutView {
    pub id: String,
    pub subscription_id: String,
    pub state: RolloutState,
    pub started_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    /// The current version (`acme/crm@2`) and the candidate (`acme/crm@3`).
    pub current: String,
    pub candidate: String,
    pub percent: u8,
    pub rules: Rules,
    /// Why it ended, and by whom (`rules` or `hand`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<String>,
    /// Each version's figures since the start (current, then candidate): live while it runs, as they were
    /// when it ended after.
    pub figures: Vec<VersionFigures>,
    /// Events whose candidate run did not succeed, run again by the current version after a rollback.
    pub reruns: u64,
    /// Some of those are still to be run again.
    pub reruns_pending: bool,
}

async fn rollout_view(state: &AppState, record: RolloutRecord) -> ApiResult<RolloutView> {
    let body = RolloutBody::decode(&record)?;
    let figures = match &body.figures_at_end {
        Some(figures) => figures.clone(),
        None => {
            let (current, candidate) = lifecycle::figures(state.store.as_ref(), &record, &body).await?;
            vec![current, candidate]
        }
    };
    Ok(RolloutView {
        current: body.current_label(),
        candidate: body.candidate_label(),
        id: record.id,
        subscription_id: record.subscription_id,
        state: record.state,
        started_at: rfc3339(record.started_at),
        ended_at: record.ended_at.map(rfc3339),
        percent: body.percent,
        rules: body.rules,
        reason: body.reason,
        ended_by: body.ended_by,
        figures,
        reruns: body.reruns,
        reruns_pending: record.reruns_pending,
    })
}

/// Start a canary: the subscription is pinned to the version it runs now, and `percent` of its events run
/// the candidate, judged by `rules`.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/subscriptions/{id}/rollouts", tag = "rollouts", request_body = RolloutRequest,
    responses((status = 201, body = RolloutView),
        (status = 404, description = "No such subscription or candidate version", body = super::error::ErrorBody),
        (status = 409, description = "A rollout of this subscription is running already", body = super::error::ErrorBody),
        (status = 422, description = "A bad field (named)", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn start_rollout(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<RolloutView>)> {
    caller.require_tenant(&tenant)?;
    let request: RolloutRequest = parse_json_body(&body)?;
    if !(1..=100).contains(&request.percent) {
        return Err(invalid("percent", "`percent` must be 1 to 100"));
    }
    if let Some((field, message)) = request.rules.invalid() {
        return Err(invalid(field, format!("`{field}` {message}")));
    }
    let subscription = find_subscription(&state, &tenant, &id).await?;
    if let Some(canary) = &subscription.canary {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "rollout_running",
            format!(
                "rollout {} is running on this subscription; promote it or roll it back first",
                canary.rollout_id
            ),
        ));
    }
    // The version it runs now: pinned, or the latest, which it is then pinned to.
    let (current_version, current_label, _) =
        resolve_version(&state, &subscription, subscription.plugin_version, "plugin").await?;
    if current_version == request.candidate_version {
        return Err(invalid(
            "candidate_version",
            format!(
                "the subscription runs {current_label} already; upload the new version, pin the subscription to \
                 the one to compare against (PATCH {{\"plugin\": \"{}@N\"}}) if it follows the latest, and start again",
                subscription.plugin_name
            ),
        ));
    }
    // Loaded and given the subscription's configuration to check now, so that a candidate that does not
    // compile, or refuses the configuration, is refused here rather than failing events.
    plugin_version(&state, &subscription, Some(request.candidate_version), "candidate_version").await?;
    let candidate =
        PluginRef { name: subscription.plugin_name.clone(), version: Some(request.candidate_version) };
    let config = &subscription.config_json;
    super::subscriptions::check_plugin_accepts(
        &state,
        &tenant,
        &candidate,
        config,
        &subscription.event_types,
    )
    .await?;
    let now = now_millis();
    let body = RolloutBody {
        plugin: subscription.plugin_name.clone(),
        current_version,
        candidate_version: request.candidate_version,
        percent: request.percent,
        rules: request.rules,
        reason: None,
        ended_by: None,
        figures_at_end: None,
        reruns: 0,
    };
    let record = RolloutRecord {
        id: crate::ids::new_id("rol"),
        tenant_id: tenant.clone(),
        subscription_id: id.clone(),
        state: RolloutState::Running,
        reruns_pending: false,
        started_at: now,
        ended_at: None,
        body_json: serde_json::to_string(&body).map_err(ApiError::internal)?,
    };
    let canary = Canary {
        rollout_id: record.id.clone(),
        version: request.candidate_version,
        percent: request.percent,
    };
    state.store.start_rollout(&record, current_version, &canary).await.map_err(|error| match error {
        crate::store::StoreError::Conflict(what) => {
            ApiError::new(StatusCode::CONFLICT, "rollout_running", format!("{what} has just started"))
        }
        other => other.into(),
    })?;
    Ok((StatusCode::CREATED, Json(rollout_view(&state, record).await?)))
}

/// A subscription's rollouts, newest first, with each version's figures.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/subscriptions/{id}/rollouts", tag = "rollouts",
    responses((status = 200, body = [RolloutView]), (status = 404, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn list_rollouts(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> ApiResult<Json<Vec<RolloutView>>> {
    caller.require_tenant(&tenant)?;
    find_subscription(&state, &tenant, &id).await?;
    let mut views = Vec::new();
    for record in state.store.list_rollouts(&tenant, &id).await? {
        views.push(rollout_view(&state, record).await?);
    }
    Ok(Json(views))
}

async fn find_rollout(
    state: &AppState,
    tenant: &str,
    subscription: &str,
    id: &str,
) -> ApiResult<RolloutRecord> {
    state
        .store
        .get_rollout(tenant, id)
        .await?
        .filter(|record| record.subscription_id == subscription)
        .ok_or_else(|| ApiError::not_found(format!("rollout {id} of subscription {subscription}")))
}

/// One rollout, with each version's figures.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/subscriptions/{id}/rollouts/{rollout}", tag = "rollouts",
    responses((status = 200, body = RolloutView), (status = 404, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn read_rollout(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id, rollout)): Path<(String, String, String)>,
) -> ApiResult<Json<RolloutView>> {
    caller.require_tenant(&tenant)?;
    let record = find_rollout(&state, &tenant, &id, &rollout).await?;
    Ok(Json(rollout_view(&state, record).await?))
}

async fn end_by_hand(
    state: &AppState,
    tenant: &str,
    id: &str,
    rollout: &str,
    ending: Ending,
) -> ApiResult<RolloutView> {
    let record = find_rollout(state, tenant, id, rollout).await?;
    let reason = match ending {
        Ending::Promote => "promoted by hand",
        Ending::RollBack | Ending::Abandon => "rolled back by hand",
    };
    let ended =
        lifecycle::conclude(state.store.as_ref(), &record, ending, reason.to_owned(), "hand", now_millis())
            .await?;
    let record = find_rollout(state, tenant, id, rollout).await?;
    if !ended {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "rollout_ended",
            format!("rollout {rollout} is {} already", record.state.as_str()),
        ));
    }
    state.wake.events.notify_one();
    rollout_view(state, record).await
}

/// Promote the candidate: the subscription is pinned to it, and the canary ends.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/subscriptions/{id}/rollouts/{rollout}/promote", tag = "rollouts",
    responses((status = 200, body = RolloutView), (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "The rollout has ended already", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn promote(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id, rollout)): Path<(String, String, String)>,
) -> ApiResult<Json<RolloutView>> {
    caller.require_tenant(&tenant)?;
    Ok(Json(end_by_hand(&state, &tenant, &id, &rollout, Ending::Promote).await?))
}

/// Roll the candidate back: the canary ends, and every event whose candidate run did not succeed runs again
/// with the current version.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/subscriptions/{id}/rollouts/{rollout}/rollback", tag = "rollouts",
    responses((status = 200, body = RolloutView), (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "The rollout has ended already", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn roll_back(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id, rollout)): Path<(String, String, String)>,
) -> ApiResult<Json<RolloutView>> {
    caller.require_tenant(&tenant)?;
    Ok(Json(end_by_hand(&state, &tenant, &id, &rollout, Ending::RollBack).await?))
}
