//! Deliveries of a tenant: listing them with their attempts, retrying one by hand (the same request again),
//! and re-running one (the subscription's current plugin, config and endpoint on its stored event).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiResult, AppState, Caller, now_millis, rfc3339};
use crate::runtime::{LogLine, LoggedLines};
use crate::store::{Delivery, DeliveryFilter, DeliveryStatus};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/tenants/{tenant}/deliveries", get(list))
        .route("/v1/tenants/{tenant}/deliveries/{id}", get(read))
        .route("/v1/tenants/{tenant}/deliveries/{id}/retry", post(retry))
        .route("/v1/tenants/{tenant}/deliveries/{id}/rerun", post(rerun))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub event_id: Option<String>,
    pub subscription_id: Option<String>,
    /// `pending`, `succeeded`, `failed`, `dead`, `skipped`, `plugin_error` or `superseded`.
    pub status: Option<String>,
    /// `true`: only the heads of ordered lanes that hold their key while failing (what the rest of their
    /// key waits on).
    pub holding_key: Option<bool>,
    /// At most this many (default 100, at most 1000), newest first.
    pub limit: Option<u32>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    pub id: String,
    pub event_id: String,
    /// Its event's type (`call.ended`), while the event is kept (see `retention`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    pub subscription_id: String,
    /// The plugin version that produced it (`slack@2`).
    pub plugin: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For a plugin error: `timeout`, `trap`, `memory_limit`, `plugin_error_permanent`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<String>,
    /// What the plugin logged (the `log` import, stdout, stderr) on the run that made this delivery.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<LogLine>,
    /// Log lines beyond the per-invocation limits, counted but not kept.
    #[serde(skip_serializing_if = "is_zero")]
    pub logs_dropped: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    /// The value of its subscription's ordering key it is ordered by (`cl_9f3a`), when it is in a lane.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ordering_key: Option<String>,
    /// The host its request goes to: the destination whose budget it draws on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// The batch that last carried it, when it went out merged with others (its attempts are the batch's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_id: Option<String>,
    /// Made for a test send by the tenant (`POST …/test-events`).
    pub test: bool,
    /// The delivery this one re-ran: it was made by the subscription's plugin, config and endpoint as
    /// they were at the re-run (`plugin` says which version).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rerun_of: Option<String>,
    /// On a single delivery: whether its subscription changed after it was made (a retry sends the request
    /// as it was; a re-run makes it anew with the current settings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_changed_since: Option<bool>,
    pub created_at: String,
    pub updated_at: String,
    pub attempts: Vec<AttemptView>,
}

pub(super) fn is_zero(count: &usize) -> bool {
    *count == 0
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RequestView {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// The body as text, when it is UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The body in base64, when it is not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AttemptView {
    pub at: String,
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    /// The first bytes of the response.
    pub response: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A run's log lines as deliveries keep them (JSON), and how many were dropped.
pub(super) fn stored_logs(logs_json: Option<&str>) -> (Vec<LogLine>, usize) {
    let logged: Option<LoggedLines<Vec<LogLine>>> =
        logs_json.and_then(|json| serde_json::from_str(json).ok());
    logged.map_or_else(Default::default, |logged| (logged.lines, logged.dropped))
}

fn view(delivery: Delivery) -> DeliveryView {
    let (logs, logs_dropped) = stored_logs(delivery.logs_json.as_deref());
    DeliveryView {
        error_kind: delivery.error_kind,
        logs,
        logs_dropped,
        id: delivery.id,
        event_id: delivery.event_id,
        event_type: delivery.event_type,
        subscription_id: delivery.subscription_id,
        plugin: delivery.plugin,
        status: delivery.status.as_str().to_owned(),
        request: delivery.request.map(|request| {
            let (body, body_base64) = match String::from_utf8(request.body) {
                Ok(text) => (Some(text), None),
                Err(bytes) => {
                    (None, Some(base64::engine::general_purpose::STANDARD.encode(bytes.into_bytes())))
                }
            };
            RequestView {
                method: request.method,
                url: request.url,
                headers: request.headers,
                body,
                body_base64,
            }
        }),
        error: delivery.error,
        next_attempt_at: delivery.next_attempt_at.map(rfc3339),
        ordering_key: delivery.ordering_key,
        destination: delivery
            .destination
            .as_deref()
            .map(|destination| crate::delivery::budgets::host_of_destination(destination).to_owned()),
        batch_id: delivery.batch_id,
        test: delivery.test,
        rerun_of: delivery.rerun_of,
        subscription_changed_since: None,
        created_at: rfc3339(delivery.created_at),
        updated_at: rfc3339(delivery.updated_at),
        attempts: delivery
            .attempts
            .into_iter()
            .map(|a| AttemptView {
                at: rfc3339(a.at),
                status_code: a.status_code,
                latency_ms: a.latency_ms,
                response: a.response_excerpt,
                error: a.error,
            })
            .collect(),
    }
}

/// A tenant's deliveries, newest first, with their attempts.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/deliveries", tag = "deliveries", params(ListQuery),
    responses((status = 200, body = Vec<DeliveryView>), (status = 422, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Vec<DeliveryView>>> {
    caller.require_tenant(&tenant)?;
    let status = match query.status.as_deref() {
        None => None,
        Some(text) => Some(DeliveryStatus::parse(text).ok_or_else(|| {
            ApiError::field(
                StatusCode::UNPROCESSABLE_ENTITY,
                "status",
                format!(
                    "unknown status `{text}`: use pending, succeeded, failed, dead, skipped, plugin_error or \
                     superseded"
                ),
            )
        })?),
    };
    let filter = DeliveryFilter {
        event_id: query.event_id,
        subscription_id: query.subscription_id,
        status,
        holding_key: query.holding_key.unwrap_or(false),
        limit: query.limit.unwrap_or(100).clamp(1, 1000),
    };
    let deliveries = state.store.list_deliveries(&tenant, &filter).await?;
    Ok(Json(deliveries.into_iter().map(view).collect()))
}

/// One delivery with its attempts.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/deliveries/{id}", tag = "deliveries",
    responses((status = 200, body = DeliveryView), (status = 404, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> ApiResult<Json<DeliveryView>> {
    caller.require_tenant(&tenant)?;
    let delivery = find(&state, &tenant, &id).await?;
    let subscription = state.store.get_subscription(&tenant, &delivery.subscription_id).await?;
    let changed = subscription.map(|s| s.updated_at > delivery.created_at);
    Ok(Json(DeliveryView { subscription_changed_since: changed, ..view(delivery) }))
}

async fn find(state: &AppState, tenant: &str, id: &str) -> ApiResult<Delivery> {
    state.store.get_delivery(tenant, id).await?.ok_or_else(|| ApiError::not_found(format!("delivery {id}")))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryRequest {
    /// Send a delivery that already succeeded again (the destination receives it twice).
    #[serde(default)]
    pub force: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RetryAnswer {
    /// The delivery retried (sent again with its request), or re-run: a re-run's new deliveries are among
    /// its event's (`GET …/deliveries?event_id=`) and name it in `rerun_of`.
    pub delivery_id: String,
    pub event_id: String,
    /// Whether the plugin runs again (a plugin error has no request to send: it is re-run).
    pub rerun: bool,
}

/// Attempt a delivery again now with the request it has (a dead or failed one; a succeeded one only with
/// `{"force": true}`). A plugin error has no request: it is re-run instead. A manual attempt that fails
/// leaves the automatic schedule where it was. A dead or succeeded delivery of an ordered subscription is
/// sent on its own: its key went on without it, so it holds the key no more.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/deliveries/{id}/retry", tag = "deliveries", request_body = Option<RetryRequest>,
    responses((status = 202, body = RetryAnswer), (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "Already delivered (send `force`), already re-run, or being sent", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<RetryAnswer>)> {
    caller.require_tenant(&tenant)?;
    let request: RetryRequest =
        if body.is_empty() { RetryRequest::default() } else { super::parse_json_body(&body)? };
    let delivery = find(&state, &tenant, &id).await?;
    match delivery.status {
        DeliveryStatus::PluginError | DeliveryStatus::Skipped => {
            return rerun_now(&state, &tenant, &id).await;
        }
        DeliveryStatus::Superseded => return Err(already_rerun(&id)),
        DeliveryStatus::Succeeded if !request.force => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "already_delivered",
                format!(
                    "delivery {id} already succeeded: sending it again delivers it twice. Send                      {{\"force\": true}} to send it anyway, or re-run it (POST …/deliveries/{id}/rerun)"
                ),
            ));
        }
        _ => {}
    }
    if state.store.retry_delivery(&tenant, &id, now_millis()).await? {
        state.wake.deliveries.notify_one();
        Ok((
            StatusCode::ACCEPTED,
            Json(RetryAnswer { delivery_id: id, event_id: delivery.event_id, rerun: false }),
        ))
    } else {
        Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_retryable",
            format!("delivery {id} is waiting for its next attempt already, or its subscription was deleted"),
        ))
    }
}

/// Re-run a delivery: the subscription's current plugin, config and endpoint on the stored event, delivered
/// anew (the new deliveries name this one in `rerun_of`). An unfinished delivery is superseded (never sent);
/// a plugin error after its config was fixed is delivered this way.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/deliveries/{id}/rerun", tag = "deliveries",
    responses((status = 202, body = RetryAnswer), (status = 404, body = super::error::ErrorBody),
        (status = 409, description = "Already re-run, being sent, or its subscription deleted", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn rerun(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<RetryAnswer>)> {
    caller.require_tenant(&tenant)?;
    rerun_now(&state, &tenant, &id).await
}

async fn rerun_now(state: &AppState, tenant: &str, id: &str) -> ApiResult<(StatusCode, Json<RetryAnswer>)> {
    use crate::store::Rerun;
    match state.store.rerun_delivery(tenant, id, now_millis()).await? {
        Rerun::Started { event_id } => {
            state.wake.events.notify_one();
            Ok((
                StatusCode::ACCEPTED,
                Json(RetryAnswer { delivery_id: id.to_owned(), event_id, rerun: true }),
            ))
        }
        Rerun::NotFound => Err(ApiError::not_found(format!("delivery {id}"))),
        Rerun::AlreadyRerun => Err(already_rerun(id)),
        Rerun::SubscriptionGone => Err(ApiError::new(
            StatusCode::CONFLICT,
            "subscription_deleted",
            format!("delivery {id}'s subscription was deleted: there is no current plugin to re-run it with"),
        )),
        Rerun::InFlight => Err(ApiError::new(
            StatusCode::CONFLICT,
            "in_flight",
            format!("delivery {id} is being sent right now; try again in a few seconds"),
        )),
    }
}

fn already_rerun(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "already_rerun",
        format!("delivery {id} was re-run already: see the deliveries whose `rerun_of` is {id}"),
    )
}
