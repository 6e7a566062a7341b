//! Batches on `POST /v1/events`: a JSON array of envelopes from a platform that buffers. The body is bounded
//! (`ingest.batch_max_bytes`, then `ingest.batch_max_events`) before any event in it is decoded; each event is
//! checked on its own, the valid ones are committed in one transaction, and the answer gives each event's
//! result in order, as a single post of it would have had it.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::value::RawValue;

use super::{new_event, refusal, too_large, unknown_tenant};
use crate::api::error::ErrorDetail;
use crate::api::{ApiError, ApiResult, AppState, now_millis};
use crate::event::Event;
use crate::store::Inserted;
use crate::telemetry::spans::IngestSpan;

/// What a batch's events became.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BatchAccepted {
    /// Committed now: they will be delivered.
    pub accepted: usize,
    /// Accepted before (same tenant and id, or earlier in this batch): not delivered again.
    pub duplicates: usize,
    /// Refused: nothing stored for them; `results` says why.
    pub refused: usize,
    /// Each event's result, in the order sent.
    pub results: Vec<BatchItem>,
}

/// One event of a batch.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BatchItem {
    /// Its place in the array, from 0.
    pub index: usize,
    /// Its id, when it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// What a single post of it would have been answered: 202 accepted, 200 duplicate, 400/413/422 refused
    /// as sent, 404 unknown tenant.
    pub status: u16,
    /// True for a duplicate.
    pub duplicate: bool,
    /// Why it was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

/// A body is a batch when its first character (past white space) opens an array.
pub(super) fn is_batch(body: &[u8]) -> bool {
    body.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'[')
}

/// Checks, commits and answers a batch (a body [`is_batch`] said is one).
pub(super) async fn ingest(state: &AppState, body: &[u8]) -> ApiResult<Response> {
    let limits = &state.config.ingest;
    if body.len() > limits.batch_max_bytes {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the batch is larger than {} bytes (ingest.batch_max_bytes); send it in smaller batches",
                limits.batch_max_bytes
            ),
        ));
    }
    // Each element is kept as its text (no event is decoded yet): the array's length is checked first.
    let items: Vec<&RawValue> = serde_json::from_slice(body).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("the body is not a JSON array of events: {error}"),
        )
    })?;
    if items.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty_batch",
            "the batch is empty: send at least one event",
        ));
    }
    if items.len() > limits.batch_max_events {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!(
                "the batch has {} events, more than ingest.batch_max_events ({}); send it in smaller batches",
                items.len(),
                limits.batch_max_events
            ),
        ));
    }

    let received_at = now_millis();
    let mut results: Vec<BatchItem> = Vec::with_capacity(items.len());
    let mut valid = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let checked = match item.get().len() > limits.max_body_bytes {
            true => Err(too_large(limits.max_body_bytes)),
            false => Event::parse(item.get().as_bytes()).map_err(refusal),
        };
        match checked {
            Ok(event) => {
                results.push(BatchItem {
                    index,
                    id: Some(event.id.clone()),
                    status: 0,
                    duplicate: false,
                    error: None,
                });
                valid.push((index, new_event(event, received_at)));
            }
            Err(error) => results.push(refused(index, None, error)),
        }
    }

    let (indexes, events): (Vec<usize>, Vec<_>) = valid.into_iter().unzip();
    let tenants: Vec<String> = events.iter().map(|event| event.tenant_id.clone()).collect();
    let spans: Vec<IngestSpan> = events.iter().map(IngestSpan::begin).collect();
    let inserted = if events.is_empty() {
        Vec::new()
    } else {
        // As for one event: once queued, the commit completes even if the client hangs up meanwhile.
        state.ingest.submit_all(events).await?
    };
    for (((index, tenant), inserted), span) in indexes.into_iter().zip(tenants).zip(inserted).zip(spans) {
        span.end(&inserted);
        state.metrics.events_received(inserted);
        let item = &mut results[index];
        match inserted {
            Inserted::New { .. } => item.status = StatusCode::ACCEPTED.as_u16(),
            Inserted::Duplicate => (item.status, item.duplicate) = (StatusCode::OK.as_u16(), true),
            Inserted::UnknownTenant => *item = refused(index, item.id.take(), unknown_tenant(&tenant)),
        }
    }
    let count = |status: StatusCode| results.iter().filter(|item| item.status == status.as_u16()).count();
    let (accepted, duplicates) = (count(StatusCode::ACCEPTED), count(StatusCode::OK));
    let refused = results.len() - accepted - duplicates;
    Ok((StatusCode::OK, Json(BatchAccepted { accepted, duplicates, refused, results })).into_response())
}

fn refused(index: usize, id: Option<String>, error: ApiError) -> BatchItem {
    BatchItem {
        index,
        id,
        status: error.status.as_u16(),
        duplicate: false,
        error: Some(ErrorDetail { code: error.code.to_owned(), message: error.message, field: error.field }),
    }
}

#[cfg(test)]
mod tests {
    use super::is_batch;

    #[test]
    fn an_array_is_a_batch_and_an_object_is_one_event() {
        assert!(is_batch(b"[]"));
        assert!(is_batch(b" \n\t[{\"id\": \"e1\"}]"));
        assert!(!is_batch(b"{\"id\": \"e1\"}"));
        assert!(!is_batch(b"  {\"data\": [1]}"));
        assert!(!is_batch(b""));
    }
}
