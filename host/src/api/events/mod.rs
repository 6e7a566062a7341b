//! `POST /v1/events`: the platform's events, answered `202` only once committed to disk. One event per
//! request, or an array of them ([`batch`]); events that arrive together are committed together (one
//! transaction, one disk sync) by the [`IngestQueue`].

mod batch;
mod queue;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use http_body_util::BodyExt;
use serde::Serialize;

use super::{ApiError, ApiResult, AppState, Caller, now_millis};
use crate::event::{EnvelopeError, Event};
use crate::store::{Inserted, NewEvent};

pub use queue::IngestQueue;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/events", post(ingest))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Accepted {
    /// The event's id, as sent.
    pub id: String,
    /// True when this `(tenant, id)` had been accepted before; it is not delivered again.
    pub duplicate: bool,
}

/// Accept one event, or a batch of them.
///
/// A batch is a JSON array of envelopes (at most `ingest.batch_max_events`, `ingest.batch_max_bytes` in
/// all): the valid ones are committed in one transaction, and the answer (200) gives each one's result in
/// order — its status as a single post would have had it (202, 200 for a duplicate, 404, 413, 422, 400) and,
/// for a refused one, the error naming its field.
#[utoipa::path(post, path = "/v1/events", tag = "events",
    request_body(content = String, description = "The event envelope: id, type, tenant, timestamp, data; or a JSON array of envelopes", content_type = "application/json"),
    responses(
        (status = 202, description = "Committed; it will be delivered", body = Accepted),
        (status = 200, description = "A single event already accepted before (same tenant and id; not delivered again): `Accepted` with `duplicate: true`. A batch: each event's result, in order", body = batch::BatchAccepted),
        (status = 400, description = "Malformed JSON", body = super::error::ErrorBody),
        (status = 404, description = "Unknown tenant", body = super::error::ErrorBody),
        (status = 413, description = "Body over ingest.max_body_bytes (a batch: over ingest.batch_max_bytes or ingest.batch_max_events)", body = super::error::ErrorBody),
        (status = 415, description = "Not application/json", body = super::error::ErrorBody),
        (status = 422, description = "A missing or invalid envelope field (named)", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn ingest(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    if !matches!(caller, Caller::Ingest | Caller::Operator) {
        return Err(ApiError::forbidden("posting events needs the ingest token"));
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let is_json = content_type
        .split(';')
        .next()
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("send the event as `content-type: application/json`, not `{content_type}`"),
        ));
    }
    let ingest = &state.config.ingest;
    let limit = ingest.max_body_bytes.max(ingest.batch_max_bytes);
    let bytes = http_body_util::Limited::new(body, limit).collect().await.map_err(|error| {
        if error.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!(
                    "the body is larger than {limit} bytes (ingest.max_body_bytes for an event, \
                     ingest.batch_max_bytes for a batch)"
                ),
            )
        } else {
            ApiError::bad_request(format!("failed to read the body: {error}"))
        }
    })?;
    let bytes = bytes.to_bytes();
    if batch::is_batch(&bytes) {
        return batch::ingest(&state, &bytes).await;
    }
    if bytes.len() > ingest.max_body_bytes {
        return Err(too_large(ingest.max_body_bytes));
    }
    let event = Event::parse(&bytes).map_err(refusal)?;
    let (id, tenant) = (event.id.clone(), event.tenant.clone());
    let new_event = new_event(event, now_millis());
    // Committed by the ingest queue's own task: if the client hangs up once the event is queued, the commit
    // still completes (and the event is then delivered, since the stored record drives delivery).
    let span = crate::telemetry::spans::IngestSpan::begin(&new_event);
    let inserted = state.ingest.submit(new_event).await?;
    span.end(&inserted);
    state.metrics.events_received(inserted);
    match inserted {
        Inserted::New { .. } => {
            Ok((StatusCode::ACCEPTED, Json(Accepted { id, duplicate: false })).into_response())
        }
        Inserted::Duplicate => Ok((StatusCode::OK, Json(Accepted { id, duplicate: true })).into_response()),
        Inserted::UnknownTenant => Err(unknown_tenant(&tenant)),
    }
}

/// An envelope's refusal: 400 for JSON that does not parse, 422 naming the field at fault.
fn refusal(error: EnvelopeError) -> ApiError {
    match &error {
        EnvelopeError::Json(_) => ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", error.to_string()),
        _ => ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            error.field().unwrap_or_default(),
            error.to_string(),
        ),
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the event is larger than {limit} bytes (ingest.max_body_bytes)"),
    )
}

fn unknown_tenant(tenant: &str) -> ApiError {
    ApiError::field(
        StatusCode::NOT_FOUND,
        "tenant",
        format!("tenant `{tenant}` does not exist; create it with POST /v1/tenants"),
    )
}

/// A checked envelope as the store takes it.
fn new_event(event: Event, received_at: crate::store::Millis) -> NewEvent {
    NewEvent {
        tenant_id: event.tenant,
        id: event.id,
        event_type: event.event_type,
        timestamp: event.timestamp,
        data_json: event.data.get().to_owned(),
        received_at,
        origin: None,
        lease_until: 0,
    }
}
