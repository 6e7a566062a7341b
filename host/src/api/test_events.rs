//! Test sends: a tenant (with its own key, no ingest token) sends itself a sample event of a type, or a
//! copy of one of its recent events, through one subscription or every matching one — a real event, run
//! and delivered like any other, marked as a test wherever it shows.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiResult, AppState, Caller, now_millis, parse_json_body, rfc3339};
use crate::store::{ClaimedEvent, Inserted, NewEvent};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/tenants/{tenant}/test-events", post(send))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestSend {
    /// Send the catalog's sample of this type (`call.ended`); or
    #[serde(default, rename = "type")]
    pub event_type: Option<String>,
    /// send a copy of this event of the tenant (its type and data).
    #[serde(default)]
    pub copy_of: Option<String>,
    /// Only through this subscription; absent: every subscription it matches.
    #[serde(default)]
    pub subscription_id: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TestSent {
    /// The test event's id (`test_…`): its deliveries are listed with `?event_id=`.
    pub event_id: String,
    pub test: bool,
    /// The subscriptions it goes through.
    pub subscriptions: Vec<String>,
}

/// Send a test event (tenant key): a sample of a type, or a copy of a recent event.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/test-events", tag = "deliveries", request_body = TestSend,
    responses((status = 202, body = TestSent), (status = 404, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn send(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<axum::response::Response> {
    caller.require_tenant(&tenant)?;
    super::idempotency::once(&state, &tenant, &headers, "test-events", &body, || {
        send_test(state.clone(), tenant.clone(), &body)
    })
    .await
}

async fn send_test(state: AppState, tenant: String, body: &[u8]) -> ApiResult<(StatusCode, Json<TestSent>)> {
    let request: TestSend = parse_json_body(body)?;
    let now = now_millis();
    let (event_type, timestamp, data_json) = match (&request.event_type, &request.copy_of) {
        (Some(event_type), None) => {
            let sample = crate::catalog::samples::all()
                .into_iter()
                .find(|(t, _)| t == event_type)
                .map(|(_, sample)| sample)
                .ok_or_else(|| {
                    ApiError::field(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "type",
                        format!(
                            "there is no sample of `{event_type}`; use one of {}, or `copy_of` one of your events",
                            crate::catalog::EVENT_TYPES.join(", ")
                        ),
                    )
                })?;
            (event_type.clone(), rfc3339(now), sample["data"].to_string())
        }
        (None, Some(copy_of)) => {
            let original = state
                .store
                .get_event(&tenant, copy_of)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("event {copy_of}")).with_field("copy_of"))?;
            (original.event_type, original.timestamp, original.data_json)
        }
        _ => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                "send either `type` (a sample of that type) or `copy_of` (an event id), not both",
            ));
        }
    };
    let origin = match &request.subscription_id {
        Some(id) => format!("test:{id}"),
        None => "test".to_owned(),
    };
    let event = ClaimedEvent {
        tenant_id: tenant.clone(),
        id: crate::ids::new_id("test"),
        event_type,
        timestamp,
        data_json,
        received_at: now,
        seq: 0,
        origin: Some(origin),
    };
    let subscriptions: Vec<Arc<_>> = state
        .store
        .list_subscriptions(&tenant)
        .await?
        .into_iter()
        .filter(|s| s.enabled)
        .map(Arc::new)
        .collect();
    if let Some(id) = &request.subscription_id
        && !subscriptions.iter().any(|s| &s.id == id)
    {
        return Err(ApiError::not_found(format!("enabled subscription {id}")).with_field("subscription_id"));
    }
    let through: Vec<String> =
        crate::pipeline::subscriptions_for(&event, &subscriptions).iter().map(|s| s.id.clone()).collect();
    if through.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "no_matching_subscription",
            format!(
                "no enabled subscription{} takes this `{}` event (its event types or its filter leave it out)",
                request.subscription_id.as_deref().map(|id| format!(" ({id})")).unwrap_or_default(),
                event.event_type
            ),
        ));
    }
    // Each test send runs plugins and sends requests, like a replay: as many an hour, counted apart.
    let per_hour = state.policies.get(&tenant).await.quotas.max_replays_per_hour;
    if let Err(wait_secs) = state.replays.try_start(&format!("{tenant} test sends"), per_hour, now) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "quota_exceeded",
            format!(
                "{per_hour} test sends an hour (quota max_replays_per_hour) are used; try again in {wait_secs} s"
            ),
        ));
    }
    let new_event = NewEvent {
        tenant_id: event.tenant_id,
        id: event.id.clone(),
        event_type: event.event_type,
        timestamp: event.timestamp,
        data_json: event.data_json,
        received_at: now,
        origin: event.origin,
        lease_until: 0,
    };
    match state.store.insert_events(&[new_event]).await?.first() {
        Some(Inserted::New { .. }) => {}
        _ => return Err(ApiError::not_found(format!("tenant {tenant}"))),
    }
    state.wake.events.notify_one();
    Ok((StatusCode::ACCEPTED, Json(TestSent { event_id: event.id, test: true, subscriptions: through })))
}
