//! `POST /v1/events`: the platform's events, answered `202` only once committed to disk. Events that
//! arrive together are committed together (one transaction, one disk sync) by the ingest queue.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use http_body_util::BodyExt;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use super::{ApiError, ApiResult, AppState, Caller, now_millis};
use crate::event::{EnvelopeError, Event};
use crate::store::{Inserted, NewEvent, Store, StoreResult};

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

/// Accept one event.
#[utoipa::path(post, path = "/v1/events", tag = "events",
    request_body(content = String, description = "The event envelope: id, type, tenant, timestamp, data", content_type = "application/json"),
    responses(
        (status = 202, description = "Committed; it will be delivered", body = Accepted),
        (status = 200, description = "Already accepted before (same tenant and id); not delivered again", body = Accepted),
        (status = 400, description = "Malformed JSON", body = super::error::ErrorBody),
        (status = 404, description = "Unknown tenant", body = super::error::ErrorBody),
        (status = 413, description = "Body over ingest.max_body_bytes", body = super::error::ErrorBody),
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
    let limit = state.config.ingest.max_body_bytes;
    let bytes = http_body_util::Limited::new(body, limit).collect().await.map_err(|error| {
        if error.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the event is larger than {limit} bytes (ingest.max_body_bytes)"),
            )
        } else {
            ApiError::bad_request(format!("failed to read the body: {error}"))
        }
    })?;
    let event = Event::parse(&bytes.to_bytes()).map_err(|error| match &error {
        EnvelopeError::Json(_) => ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", error.to_string()),
        _ => ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            error.field().unwrap_or_default(),
            error.to_string(),
        ),
    })?;
    let id = event.id.clone();
    let tenant = event.tenant.clone();
    let new_event = NewEvent {
        tenant_id: event.tenant,
        id: event.id,
        event_type: event.event_type,
        timestamp: event.timestamp,
        data_json: event.data.get().to_owned(),
        received_at: now_millis(),
        origin: None,
    };
    // Committed in a task of its own: if the client hangs up now, the commit still completes (and the
    // event is then delivered, since the stored record drives delivery), rather than being cut off halfway.
    let queue = state.ingest.clone();
    let span = crate::telemetry::spans::IngestSpan::begin(&new_event);
    let inserted =
        tokio::spawn(async move { queue.submit(new_event).await }).await.map_err(ApiError::internal)??;
    span.end(&inserted);
    state.metrics.events_received(inserted);
    match inserted {
        Inserted::New => {
            state.wake.events.notify_one();
            Ok((StatusCode::ACCEPTED, Json(Accepted { id, duplicate: false })).into_response())
        }
        Inserted::Duplicate => Ok((StatusCode::OK, Json(Accepted { id, duplicate: true })).into_response()),
        Inserted::UnknownTenant => Err(ApiError::field(
            StatusCode::NOT_FOUND,
            "tenant",
            format!("tenant `{tenant}` does not exist; create it with POST /v1/tenants"),
        )),
    }
}

type Submission = (NewEvent, oneshot::Sender<StoreResult<Inserted>>);

/// Events waiting to be committed. A single task takes whatever has queued up, commits it in one
/// transaction, and answers each submitter: many concurrent requests share one disk sync.
#[derive(Clone)]
pub struct IngestQueue {
    sender: mpsc::Sender<Submission>,
}

impl IngestQueue {
    /// Starts the committing task; it ends when every `IngestQueue` clone is dropped.
    pub fn start(store: std::sync::Arc<dyn Store>, max_batch: usize) -> IngestQueue {
        let (sender, mut receiver) = mpsc::channel::<Submission>(max_batch * 4);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(max_batch);
            while receiver.recv_many(&mut batch, max_batch).await > 0 {
                let (events, replies): (Vec<NewEvent>, Vec<_>) = batch.drain(..).unzip();
                match store.insert_events(&events).await {
                    Ok(results) => {
                        for (reply, result) in replies.into_iter().zip(results) {
                            let _ = reply.send(Ok(result));
                        }
                    }
                    Err(error) => {
                        let message = error.to_string();
                        for reply in replies {
                            let _ = reply.send(Err(crate::store::StoreError::Database(message.clone())));
                        }
                    }
                }
            }
        });
        IngestQueue { sender }
    }

    /// Commits one event (with whatever else is queued) and says what became of it.
    pub async fn submit(&self, event: NewEvent) -> ApiResult<Inserted> {
        let (reply, answer) = oneshot::channel();
        let unavailable = || {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "Gancho is shutting down; try again",
            )
        };
        self.sender.send((event, reply)).await.map_err(|_| unavailable())?;
        Ok(answer.await.map_err(|_| unavailable())??)
    }
}
