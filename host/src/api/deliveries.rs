//! Deliveries of a tenant: listing them with their attempts, and retrying one by hand.

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
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub event_id: Option<String>,
    pub subscription_id: Option<String>,
    /// `pending`, `succeeded`, `failed`, `dead`, `skipped` or `plugin_error`.
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
                    "unknown status `{text}`: use pending, succeeded, failed, dead, skipped or plugin_error"
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
    let delivery = state
        .store
        .get_delivery(&tenant, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("delivery {id}")))?;
    Ok(Json(view(delivery)))
}

/// Attempt a delivery again now (a dead, failed or even succeeded one). A dead or succeeded delivery of an
/// ordered subscription is sent on its own: its key went on without it, so it holds the key no more.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/deliveries/{id}/retry", tag = "deliveries",
    responses((status = 202), (status = 404, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require_tenant(&tenant)?;
    if state.store.retry_delivery(&tenant, &id, now_millis()).await? {
        state.wake.deliveries.notify_one();
        Ok(StatusCode::ACCEPTED)
    } else {
        Err(ApiError::not_found(format!("delivery {id} with a request to send")))
    }
}
