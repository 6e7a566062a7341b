//! Access: a tenant's API keys made, listed (by their first characters, creation and last use) and
//! deleted; its console sessions ended; and what keeps guessing slow: failed authentications limited per
//! client address, on every door (bearer tokens, the metrics token, the console's sign-in).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{self as http, StatusCode};
use axum::routing::{delete, post};
use axum::{Json, Router};
use serde::Serialize;

use super::tenants::API_KEY_PREFIX;
use super::{ApiError, ApiResult, AppState, Caller, now_millis, rfc3339};

/// Failed authentications a client may make at once before it must wait.
const FAILURES_BURST: f64 = 20.0;
/// How fast a client's failures are forgiven, per second.
const FAILURES_FORGIVEN_PER_SEC: f64 = 1.0;
/// Clients whose failures are remembered at once; past it, those forgiven are forgotten first.
const MAX_CLIENTS: usize = 10_000;
/// A key's last use is written at most this often.
const KEY_USE_INTERVAL: Duration = Duration::from_secs(60);
/// Characters of a new key kept to recognise it by: `gk_` and six more.
const PREFIX_CHARS: usize = API_KEY_PREFIX.len() + 6;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/tenants/{tenant}/keys", post(create_key).get(list_keys))
        .route("/v1/tenants/{tenant}/keys/{id}", delete(delete_key))
        .route("/v1/tenants/{tenant}/sessions", delete(end_sessions))
}

/// What access keeps in memory on this instance.
#[derive(Default)]
pub struct Access {
    /// Each client address's failed authentications, as a bucket that empties with time.
    failures: Mutex<HashMap<IpAddr, Bucket>>,
    /// When each key's use (by its SHA-256) was last written.
    key_uses: Mutex<HashMap<String, Instant>>,
}

/// Failures not yet forgiven, as of `at`.
#[derive(Clone, Copy)]
struct Bucket {
    level: f64,
    at: Instant,
}

impl Bucket {
    fn now(self, now: Instant) -> f64 {
        (self.level - now.duration_since(self.at).as_secs_f64() * FAILURES_FORGIVEN_PER_SEC).max(0.0)
    }
}

impl Access {
    /// Refuses (429, with when to try again) a client that failed too often of late, whatever it sends
    /// now: a right guess must not be told apart from a wrong one.
    pub fn check(&self, client: IpAddr) -> Result<(), ApiError> {
        let failures = self.failures.lock().expect("no panics while held");
        let level = failures.get(&client).map_or(0.0, |bucket| bucket.now(Instant::now()));
        if level + 1.0 > FAILURES_BURST {
            let wait = (level + 1.0 - FAILURES_BURST) / FAILURES_FORGIVEN_PER_SEC;
            return Err(ApiError::too_many_attempts(wait.ceil().max(1.0) as u64));
        }
        Ok(())
    }

    /// Counts a failed authentication of `client`.
    pub fn failed(&self, client: IpAddr) {
        let now = Instant::now();
        let mut failures = self.failures.lock().expect("no panics while held");
        if failures.len() >= MAX_CLIENTS && !failures.contains_key(&client) {
            failures.retain(|_, bucket| bucket.now(now) > 0.0);
        }
        let bucket = failures.entry(client).or_insert(Bucket { level: 0.0, at: now });
        *bucket = Bucket { level: bucket.now(now) + 1.0, at: now };
    }

    /// Notes that a key (by its SHA-256) was used, in the store at most once a minute.
    pub async fn key_used(&self, state: &AppState, digest: &str) {
        let now = Instant::now();
        {
            let mut uses = self.key_uses.lock().expect("no panics while held");
            if uses.get(digest).is_some_and(|at| now.duration_since(*at) < KEY_USE_INTERVAL) {
                return;
            }
            if uses.len() >= MAX_CLIENTS {
                uses.retain(|_, at| now.duration_since(*at) < KEY_USE_INTERVAL);
            }
            uses.insert(digest.to_owned(), now);
        }
        if let Err(error) = state.store.record_api_key_use(digest, now_millis()).await {
            tracing::warn!(%error, "could not record an API key's use");
        }
    }
}

/// The client's address: the connection's, or, when that is one of the operator's `trusted_proxies`, the
/// last address in `X-Forwarded-For` that is not (so that the clients behind a proxy do not share one
/// bucket, and one of them cannot make the others wait). Unknown ones share a bucket.
pub fn client(state: &AppState, parts: &http::request::Parts) -> IpAddr {
    client_of(&state.config, parts)
}

fn client_of(config: &crate::config::Config, parts: &http::request::Parts) -> IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(address)| address.ip());
    // Checked at start: a list that does not parse never gets here.
    let proxies = config.trusted_proxy_networks().unwrap_or_default();
    let trusted = |ip: &IpAddr| proxies.iter().any(|net| net.contains(ip));
    if !trusted(&peer) {
        return peer;
    }
    let forwarded = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    forwarded.into_iter().rev().find(|ip| !trusted(ip)).unwrap_or(peer)
}

/// When `tenant` last ended its console sessions (0: never); `None` if there is no such tenant. For the
/// console, which judges its sessions by it.
pub(crate) async fn sessions_ended_at(
    state: &AppState,
    tenant: &str,
) -> ApiResult<Option<crate::store::Millis>> {
    Ok(state.store.console_sessions_valid_after(tenant).await?)
}

/// Uses up the portal link `id` (valid until `expires_at`, Unix milliseconds): true the first time only.
/// For the console, whose links work once.
pub(crate) async fn use_portal_link(
    state: &AppState,
    id: &str,
    expires_at: crate::store::Millis,
) -> ApiResult<bool> {
    Ok(state.store.follow_portal_link(id, expires_at, now_millis()).await?)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct NewKey {
    pub tenant: String,
    /// Shown once; only its hash is stored.
    pub key: String,
    /// What names it in `GET`/`DELETE …/keys/{id}`.
    pub id: String,
}

/// A tenant's key as listed: never the key itself.
#[derive(Serialize, utoipa::ToSchema)]
pub struct KeyView {
    /// What names it in `DELETE /v1/tenants/{tenant}/keys/{id}`.
    pub id: String,
    /// The key's first characters (`gk_3f9a1c`), to recognise it by; absent for keys made before they
    /// were kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    pub created_at: String,
    /// Its last use (to the minute); absent if never used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
}

/// Create an API key for a tenant (operator). The key is in the answer and nowhere else.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/keys", tag = "tenants",
    responses((status = 201, body = NewKey), (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<(StatusCode, Json<NewKey>)> {
    caller.require_operator()?;
    if state.store.get_tenant(&tenant).await?.is_none() {
        return Err(ApiError::not_found(format!("tenant {tenant}")));
    }
    let key = format!("{API_KEY_PREFIX}{}", crate::ids::random_token());
    let digest = crate::ids::key_digest(&key);
    state.store.create_api_key(&tenant, &digest, &key[..PREFIX_CHARS], now_millis()).await?;
    Ok((StatusCode::CREATED, Json(NewKey { tenant, key, id: digest[..16].to_owned() })))
}

/// A tenant's API keys (operator, or the tenant): when each was made and last used, never the key.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/keys", tag = "tenants",
    responses((status = 200, body = Vec<KeyView>), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_keys(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Json<Vec<KeyView>>> {
    caller.require_tenant(&tenant)?;
    if state.store.get_tenant(&tenant).await?.is_none() {
        return Err(ApiError::not_found(format!("tenant {tenant}")));
    }
    let keys = state.store.list_api_keys(&tenant).await?;
    Ok(Json(
        keys.into_iter()
            .map(|key| KeyView {
                id: key.id,
                prefix: key.prefix,
                created_at: rfc3339(key.created_at),
                last_used_at: key.last_used_at.map(rfc3339),
            })
            .collect(),
    ))
}

/// Delete a tenant's API key (operator, or the tenant): it stops working at once, and so do the console
/// sessions signed in with it.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/keys/{id}", tag = "tenants",
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such tenant or key", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_key(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require_tenant(&tenant)?;
    if state.store.delete_api_key(&tenant, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("key {id} of tenant {tenant} (list them with GET …/keys)")))
    }
}

/// End every console session of a tenant (operator, or the tenant): from portal links and from sign-ins
/// with its keys. Its keys keep working; delete a key to end its use.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/sessions", tag = "tenants",
    responses((status = 204, description = "Every session begun until now is over"), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn end_sessions(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require_tenant(&tenant)?;
    if state.store.end_console_sessions(&tenant, now_millis()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("tenant {tenant}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behind_a_trusted_proxy_the_client_is_the_one_it_forwards_for() {
        let parts = |peer: &str, forwarded: Option<&str>| {
            let mut request = axum::http::Request::builder();
            if let Some(forwarded) = forwarded {
                request = request.header("x-forwarded-for", forwarded);
            }
            let (mut parts, ()) = request.body(()).unwrap().into_parts();
            parts.extensions.insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 4000)));
            parts
        };
        let trusting =
            |nets: &str| crate::config::Config { trusted_proxies: nets.to_owned(), ..Default::default() };
        let client = client_of;
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let none = trusting("");
        assert_eq!(
            client(&none, &parts("198.51.100.1", Some("203.0.113.9"))),
            ip("198.51.100.1"),
            "untrusted"
        );
        let proxy = trusting("10.0.0.0/8");
        assert_eq!(client(&proxy, &parts("10.0.0.2", Some("203.0.113.9"))), ip("203.0.113.9"));
        // A client cannot choose its address by sending a header of its own before the proxy's.
        assert_eq!(
            client(&proxy, &parts("10.0.0.2", Some("192.0.2.1, 203.0.113.9, 10.0.0.3"))),
            ip("203.0.113.9")
        );
        assert_eq!(client(&proxy, &parts("10.0.0.2", None)), ip("10.0.0.2"));
    }

    #[test]
    fn a_client_that_keeps_failing_waits_and_others_do_not() {
        let access = Access::default();
        let (guesser, other) = (IpAddr::from([203, 0, 113, 7]), IpAddr::from([198, 51, 100, 1]));
        for _ in 0..FAILURES_BURST as usize {
            access.check(guesser).unwrap();
            access.failed(guesser);
        }
        let refused = access.check(guesser).unwrap_err();
        assert_eq!((refused.status, refused.code), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"));
        assert!(refused.retry_after_secs.is_some_and(|secs| (1..=2).contains(&secs)), "{refused:?}");
        access.check(other).unwrap();
        // Forgiven with time: a bucket as of a second and a half ago has room again.
        let mut failures = access.failures.lock().unwrap();
        let bucket = failures.get_mut(&guesser).unwrap();
        bucket.at -= Duration::from_millis(1_500);
        drop(failures);
        access.check(guesser).unwrap();
    }
}
