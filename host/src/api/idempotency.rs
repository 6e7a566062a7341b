//! The `Idempotency-Key` header on creates: the same key with the same request gets the first answer
//! again (a double click, a client's retry after a timeout), and creates nothing more; the same key with a
//! different request is refused. Keys are kept per tenant for a day.

use std::future::Future;

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{ApiError, ApiResult, AppState, now_millis};
use crate::store::Idempotent;

/// How long a key's answer is kept.
const KEPT_MS: i64 = 24 * 60 * 60 * 1000;
/// Longest key accepted.
const MAX_KEY_LEN: usize = 255;

/// Runs `create` once per `Idempotency-Key` (when the request has one) for `what` (the route), with the
/// request `body`: a repeat gets the stored answer, marked with `idempotent-replayed: true`.
pub async fn once<T, F, Fut>(
    state: &AppState,
    tenant: &str,
    headers: &HeaderMap,
    what: &str,
    body: &[u8],
    create: F,
) -> ApiResult<Response>
where
    T: Serialize,
    F: FnOnce() -> Fut,
    Fut: Future<Output = ApiResult<(StatusCode, Json<T>)>>,
{
    let Some(key) = headers.get("idempotency-key") else {
        return create().await.map(IntoResponse::into_response);
    };
    let key = key
        .to_str()
        .ok()
        .filter(|key| {
            !key.is_empty() && key.len() <= MAX_KEY_LEN && key.bytes().all(|b| b.is_ascii_graphic())
        })
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_idempotency_key",
                format!("the Idempotency-Key header must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
            )
        })?;
    let mut hasher = Sha256::new();
    hasher.update(what.as_bytes());
    hasher.update([0]);
    hasher.update(body);
    let fingerprint = hex::encode(hasher.finalize());
    let now = now_millis();
    match state.store.begin_idempotent(tenant, key, &fingerprint, now, now - KEPT_MS).await? {
        Idempotent::New => {}
        Idempotent::Answered { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let mut response = (status, body).into_response();
            let headers = response.headers_mut();
            headers.insert("content-type", "application/json".parse().expect("a valid header"));
            headers.insert("idempotent-replayed", "true".parse().expect("a valid header"));
            return Ok(response);
        }
        Idempotent::InProgress => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "request_in_progress",
                "a request with this Idempotency-Key is still being handled; wait for its answer",
            ));
        }
        Idempotent::Mismatch => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used for a different request; use a new key for a new request",
            ));
        }
    }
    match create().await {
        Ok((status, Json(answer))) => {
            let body = serde_json::to_string(&answer).map_err(ApiError::internal)?;
            state.store.finish_idempotent(tenant, key, Some((status.as_u16(), body.clone()))).await?;
            let mut response = (status, body).into_response();
            response
                .headers_mut()
                .insert("content-type", "application/json".parse().expect("a valid header"));
            Ok(response)
        }
        Err(error) => {
            state.store.finish_idempotent(tenant, key, None).await?;
            Err(error)
        }
    }
}
