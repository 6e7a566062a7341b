//! Who is calling: the operator, the platform (ingest token) or a tenant (an API key), from
//! `Authorization: Bearer <token>`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};

use super::{ApiError, AppState};

/// The caller's role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// May do everything.
    Operator,
    /// May post events.
    Ingest,
    /// May see and change only this tenant's subscriptions and deliveries.
    Tenant(String),
}

impl Caller {
    /// Operator only.
    pub fn require_operator(&self) -> Result<(), ApiError> {
        match self {
            Caller::Operator => Ok(()),
            _ => Err(ApiError::forbidden("this needs the operator token")),
        }
    }

    /// The operator, or the tenant `tenant_id` itself.
    pub fn require_tenant(&self, tenant_id: &str) -> Result<(), ApiError> {
        match self {
            Caller::Operator => Ok(()),
            Caller::Tenant(own) if own == tenant_id => Ok(()),
            Caller::Tenant(_) => Err(ApiError::not_found(format!("tenant {tenant_id}"))),
            Caller::Ingest => Err(ApiError::forbidden("the ingest token may only post events")),
        }
    }
}

/// The tenant whose API key has this SHA-256 (hex), if any: how a key (or a console session signed in
/// with one) becomes its tenant.
pub(crate) async fn tenant_of_key(state: &AppState, digest: &str) -> Result<Option<String>, ApiError> {
    Ok(state.store.tenant_for_api_key(digest).await?)
}

/// Compares two secrets in time that does not depend on where they differ.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token of `Authorization: Bearer <token>`, if the request has one.
pub(crate) fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|token| !token.is_empty())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        // A caller an outer layer already established (the console's session cookie, CSRF-checked).
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let token = bearer(&parts.headers).ok_or_else(ApiError::unauthorized)?;
        let client = super::access::client(state, parts);
        state.access.check(client)?;
        if same_secret(token, &state.config.operator_token) {
            return Ok(Caller::Operator);
        }
        if same_secret(token, &state.config.ingest_token) {
            return Ok(Caller::Ingest);
        }
        if token.starts_with(super::tenants::API_KEY_PREFIX) {
            let digest = crate::ids::key_digest(token);
            if let Some(tenant) = tenant_of_key(state, &digest).await? {
                state.access.key_used(state, &digest).await;
                return Ok(Caller::Tenant(tenant));
            }
        }
        state.access.failed(client);
        Err(ApiError::unauthorized())
    }
}
