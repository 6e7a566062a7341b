//! Console sessions: a signed, HttpOnly cookie that says who the browser is (the operator, or one tenant),
//! until when, and the CSRF token the pages send back with every API call.
//!
//! Sessions are not stored: the cookie carries them, signed with HMAC-SHA256 under a key derived from
//! `console.signing_secret` (a random secret kept in the database unless configured, so every instance
//! sharing the database accepts them) and the operator token (changing either ends them all). The secret
//! makes a cookie or a portal link useless for guessing the operator token offline. A tenant's sessions end
//! when it ends them (`DELETE /v1/tenants/{tenant}/sessions`), and one signed in with a tenant key names
//! the key's digest, and ends when the key is no longer the tenant's.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::api::{ApiError, AppState, Caller};

/// The session cookie's name.
pub const COOKIE: &str = "gancho_session";
/// The header the pages' script sends the session's CSRF token in.
pub const CSRF_HEADER: &str = "x-gancho-csrf";

/// One browser's session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// The tenant this session may reach; `None` for the operator.
    pub tenant: Option<String>,
    /// For a sign-in with a tenant key: the key's SHA-256, checked on every request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Unix seconds after which the session is over.
    pub exp: i64,
    /// Sent back by the pages with every API call; only pages of this origin can read it.
    pub csrf: String,
    /// Whether it began from a portal link (an embedded portal: no operator pages).
    #[serde(default)]
    pub via_link: bool,
    /// When it began, in Unix milliseconds: a tenant's sessions begun before it ended them are over.
    #[serde(default)]
    pub iat: i64,
}

impl Session {
    pub fn new(tenant: Option<String>, key: Option<String>, ttl_secs: u64, via_link: bool) -> Session {
        Session {
            tenant,
            key,
            exp: now_secs() + ttl_secs as i64,
            csrf: crate::ids::random_token(),
            via_link,
            iat: crate::clock::now_millis(),
        }
    }

    pub fn caller(&self) -> Caller {
        match &self.tenant {
            Some(tenant) => Caller::Tenant(tenant.clone()),
            None => Caller::Operator,
        }
    }
}

pub fn now_secs() -> i64 {
    crate::clock::now_millis() / 1000
}

/// A key for one purpose (sessions, portal links), derived from the signing secret and the operator token.
fn mac(state: &AppState, purpose: &str) -> Hmac<Sha256> {
    let mut derive = Hmac::<Sha256>::new_from_slice(state.config.console.signing_secret.as_bytes())
        .expect("HMAC takes keys of any length");
    derive.update(b"gancho console v2: ");
    derive.update(purpose.as_bytes());
    derive.update(b"\0");
    derive.update(state.config.operator_token.as_bytes());
    let key = derive.finalize().into_bytes();
    Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes keys of any length")
}

/// `payload.signature`, both base64url, the payload being `value` in JSON.
pub fn sign<T: Serialize>(state: &AppState, purpose: &str, value: &T) -> String {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("serialisable"));
    let mut mac = mac(state, purpose);
    mac.update(payload.as_bytes());
    format!("{payload}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// The value signed by [`sign`] for `purpose`, if the signature holds.
pub fn verify<T: for<'de> Deserialize<'de>>(state: &AppState, purpose: &str, token: &str) -> Option<T> {
    let (payload, signature) = token.split_once('.')?;
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    let mut mac = mac(state, purpose);
    mac.update(payload.as_bytes());
    mac.verify_slice(&signature).ok()?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// The request's valid session, if it has one: signed, not expired, begun after its tenant last ended its
/// sessions, its key (if any) still the tenant's.
pub async fn from_headers(state: &AppState, headers: &HeaderMap) -> Option<Session> {
    let session: Session = verify(state, "session", cookie(headers, COOKIE)?)?;
    if session.exp < now_secs() {
        return None;
    }
    if let Some(tenant) = &session.tenant {
        let ended = crate::api::access::sessions_ended_at(state, tenant).await.ok()??;
        if session.iat <= ended {
            return None;
        }
    }
    if let (Some(tenant), Some(key)) = (&session.tenant, &session.key) {
        let owner = crate::api::tenant_of_key(state, key).await.ok()??;
        if &owner != tenant {
            return None;
        }
    }
    Some(session)
}

/// Whether the request carries the operator's session (signed and unexpired; nothing else is looked up).
pub fn is_operators(state: &AppState, headers: &HeaderMap) -> bool {
    cookie(headers, COOKIE)
        .and_then(|value| verify::<Session>(state, "session", value))
        .is_some_and(|session| session.tenant.is_none() && session.exp >= now_secs())
}

/// The `Set-Cookie` for a session. A framed session (a portal link opened in an iframe) must be
/// `SameSite=None; Secure` for the browser to send it from inside the platform's page, and is
/// `Partitioned` so that it is kept for that embedding only.
pub fn set_cookie(state: &AppState, session: &Session, framed: bool) -> HeaderValue {
    let value = sign(state, "session", session);
    let max_age = (session.exp - now_secs()).max(0);
    let attributes = if framed {
        "; SameSite=None; Secure; Partitioned"
    } else if state.config.console.secure_cookies {
        "; SameSite=Lax; Secure"
    } else {
        "; SameSite=Lax"
    };
    HeaderValue::from_str(&format!("{COOKIE}={value}; Path=/; HttpOnly; Max-Age={max_age}{attributes}"))
        .expect("base64 is a valid header value")
}

/// The `Set-Cookie` that ends a session.
pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("gancho_session=; Path=/; HttpOnly; Max-Age=0; SameSite=Lax")
}

/// Around the API: a request without `Authorization` but with a console session is that session's
/// caller, provided it carries the session's CSRF token and (when the browser says) comes from this origin.
pub async fn api_caller(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let headers = request.headers();
    let is_api = request.uri().path().starts_with("/v1/");
    if !is_api || headers.contains_key(header::AUTHORIZATION) || cookie(headers, COOKIE).is_none() {
        return next.run(request).await;
    }
    let Some(session) = from_headers(&state, headers).await else {
        return ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "session_expired",
            "the console session has expired or is not valid; sign in again",
        )
        .into_response();
    };
    let csrf = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    let cross_site =
        headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()).is_some_and(|site| site != "same-origin");
    if cross_site || !crate::api::same_secret(csrf, &session.csrf) {
        return ApiError::forbidden(
            "a console request must come from the console's own pages with the session's CSRF token; reload the page",
        )
        .into_response();
    }
    request.extensions_mut().insert(session.caller());
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; gancho_session=x.y; b=2"));
        assert_eq!(cookie(&headers, COOKIE), Some("x.y"));
        assert_eq!(cookie(&headers, "c"), None);
    }
}
