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
    same_digest(&Sha256::digest(a.as_bytes()).into(), &Sha256::digest(b.as_bytes()).into())
}

/// Compares two SHA-256 digests in time that does not depend on where they differ.
fn same_digest(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The SHA-256 of the operator and ingest tokens, made once at start-up: a request's bearer token is hashed
/// once and compared with both (rather than hashing all four strings on every post).
pub struct ServiceTokens {
    operator: [u8; 32],
    ingest: [u8; 32],
}

impl ServiceTokens {
    pub fn new(config: &crate::config::Config) -> Self {
        Self {
            operator: Sha256::digest(config.operator_token.as_bytes()).into(),
            ingest: Sha256::digest(config.ingest_token.as_bytes()).into(),
        }
    }

    /// The role a bearer token gives by being one of the service's two tokens, if it is one.
    fn role_of(&self, token: &str) -> Option<Caller> {
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if same_digest(&presented, &self.operator) {
            Some(Caller::Operator)
        } else if same_digest(&presented, &self.ingest) {
            Some(Caller::Ingest)
        } else {
            None
        }
    }
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
        if let Some(role) = state.tokens.role_of(token) {
            return Ok(role);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bearer_token_is_the_operators_the_platforms_or_neither() {
        let config = crate::config::Config {
            operator_token: "operator-secret-0123456789abcdef".into(),
            ingest_token: "ingest-secret".into(),
            ..Default::default()
        };
        let tokens = ServiceTokens::new(&config);
        assert_eq!(tokens.role_of("operator-secret-0123456789abcdef"), Some(Caller::Operator));
        assert_eq!(tokens.role_of("ingest-secret"), Some(Caller::Ingest));
        assert_eq!(tokens.role_of("ingest-secreT"), None);
        assert_eq!(tokens.role_of("operator-secret-0123456789abcde"), None, "a prefix is not the token");
        assert_eq!(tokens.role_of(""), None);
    }
}
