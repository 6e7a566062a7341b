//! Rolling out a new version of a subscription's plugin: canaries (`…/subscriptions/{id}/rollouts`) that
//! promote or roll back by their rules, or by hand, and keep a rolled-back candidate's failures (dry runs
//! of a candidate are in `dry_runs`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiResult, AppState, Caller, parse_json_body, rfc3339};
use crate::clock::now_millis;
use crate::plugins::{PluginRef, ResolveError};
use crate::rollout::canary::{Rules, VersionFigures};
use crate::rollout::lifecycle::{self, Ending, RolloutBody};
use crate::runtime::Plugin;
use crate::store::{Canary, RolloutRecord, RolloutState, Subscription};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/tenants/{tenant}/subscriptions/{id}/rollouts", post(start_rollout).get(list_rollouts))
        .route("/v1/tenants/{tenant}/subscriptions/{id}/rollouts/{rollout}", get(read_rollout))
        .route("/v1/tenants/{tenant}/subscriptions/{id}/rollouts/{rollout}/promote", post(promote))
        .route("/v1/tenants/{tenant}/subscriptions/{id}/rollouts/{rollout}/rollback", post(roll_back))
}

pub(super) fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, field, message)
}

/// The subscription's plugin at `version` (`None`: the latest), compiled, with its label.
pub(super) async fn plugin_version(
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

pub(super) async fn find_subscription(state: &AppState, tenant: &str, id: &str) -> ApiResult<Subscription> {
    state
        .store
        .get_subscription(tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("subscription {id}")))
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
    /// Deliveries of the candidate that had not succeeded when it was rolled back (plugin errors, and
    /// deliveries failed or not yet delivered), handed back to the current version to run their events
    /// again.
    pub reruns: u64,
    /// After a rollback, true until every event handed back has run again with the current version (and
    /// no run that chose the candidate before the rollback can still commit); false otherwise. While it is
    /// true, `reruns` may still grow. A disabled or paused subscription's re-runs wait for it, and this stays
    /// true meanwhile.
    pub reruns_pending: bool,
    /// In `GET …/rollouts/{rollout}` only: the candidate's failures kept when it was rolled back (the first
    /// 50, oldest first), as they were before the current version's re-runs replaced those deliveries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failures: Option<Vec<RolloutFailureView>>,
}

/// One of a rolled-back candidate's failures.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RolloutFailureView {
    pub event_id: String,
    /// The candidate's delivery, since replaced by the re-run.
    pub delivery_id: String,
    /// `plugin_error`, `failed` (the destination refused it, still retrying) or `dead`.
    pub status: String,
    /// For a plugin error: `timeout`, `trap`, `memory_limit`, `plugin_error_permanent`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<String>,
    /// The plugin's error, or the destination's last answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the candidate logged on that run.
    pub logs: Vec<crate::runtime::LogLine>,
    #[serde(skip_serializing_if = "super::deliveries::is_zero")]
    pub logs_dropped: usize,
    /// When the candidate ran.
    pub created_at: String,
}

/// The candidate's failures kept with a rollout, as shown.
async fn failures(state: &AppState, record: &RolloutRecord) -> ApiResult<Vec<RolloutFailureView>> {
    let kept = state.store.rollout_failures(&record.tenant_id, &record.id).await?;
    Ok(kept
        .into_iter()
        .map(|failure| {
            let (logs, logs_dropped) = super::deliveries::stored_logs(failure.logs_json.as_deref());
            RolloutFailureView {
                event_id: failure.event_id,
                delivery_id: failure.delivery_id,
                status: failure.status.as_str().to_owned(),
                error_kind: failure.error_kind,
                error: failure.error,
                logs,
                logs_dropped,
                created_at: rfc3339(failure.created_at),
            }
        })
        .collect())
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
        failures: None,
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
    super::plugin_config::check_plugin_accepts(
        &state,
        &tenant,
        &candidate,
        &subscription.config_json,
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

/// One rollout, with each version's figures and, once rolled back, the candidate's failures.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/subscriptions/{id}/rollouts/{rollout}", tag = "rollouts",
    responses((status = 200, body = RolloutView), (status = 404, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn read_rollout(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id, rollout)): Path<(String, String, String)>,
) -> ApiResult<Json<RolloutView>> {
    caller.require_tenant(&tenant)?;
    let record = find_rollout(&state, &tenant, &id, &rollout).await?;
    let failures = failures(&state, &record).await?;
    Ok(Json(RolloutView { failures: Some(failures), ..rollout_view(&state, record).await? }))
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
