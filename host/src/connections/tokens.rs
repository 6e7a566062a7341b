//! The header a credential puts on a request, and the access tokens behind OAuth ones: cached per connection
//! in memory, refreshed shortly before they expire, one refresh at a time per connection.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest as _, Sha256};

use super::endpoint::{Grant, TokenEndpoint};
use super::{ConnectionError, Credential};
use crate::delivery::guard::DestinationGuard;

/// What to add to a request for a connection.
#[derive(Clone, PartialEq, Eq)]
pub struct Authorized {
    /// The header (name, value); the value is a secret.
    pub header: (String, String),
    /// A new refresh token the provider rotated in, to be saved (sealed) in the connection.
    pub rotated_refresh_token: Option<String>,
    /// Whether this call went to the token endpoint.
    pub refreshed: bool,
    /// When the token expires (unix ms), if it does.
    pub expires_at: Option<i64>,
}

/// Shows everything but the header's value and the refresh token.
impl std::fmt::Debug for Authorized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorized")
            .field("header", &self.header.0)
            .field("rotated_refresh_token", &self.rotated_refresh_token.as_ref().map(|_| "<secret>"))
            .field("refreshed", &self.refreshed)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Obtains, caches and refreshes access tokens.
pub struct TokenService {
    endpoint: TokenEndpoint,
    /// One entry per connection that has asked for a token since start.
    entries: Mutex<HashMap<String, Arc<Entry>>>,
}

/// A connection's cached state. The async lock makes concurrent callers wait for one refresh and share it.
#[derive(Default)]
struct Entry {
    /// Set by [`TokenService::invalidate`], which cannot wait for the lock; read by the next caller.
    stale: AtomicBool,
    slot: tokio::sync::Mutex<Slot>,
}

#[derive(Default)]
struct Slot {
    /// A digest of the credential without its refresh token: a changed client, URL, key or scopes starts over.
    identity: Option<[u8; 32]>,
    /// Digests of the refresh tokens of this grant: the credential's, and those rotated in since. A
    /// credential whose refresh token is none of these was re-authorised: it starts over too.
    lineage: Vec<[u8; 32]>,
    /// The newest refresh token the provider rotated in. The provider may already refuse the one before, and
    /// the caller may not have saved this one yet, so refreshes use it.
    latest_refresh_token: Option<String>,
    token: Option<Token>,
    /// The last refresh's failure, shared with the callers that waited for it instead of each trying again.
    failure: Option<(Instant, ConnectionError)>,
}

struct Token {
    header_value: String,
    expires_at: Option<i64>,
    /// Until when to use it; after, the next caller refreshes.
    refresh_at: Instant,
    /// When it expires, for using it while a refresh fails.
    expires: Option<Instant>,
}

/// How many refresh tokens of a grant are remembered: enough for a few rotations not yet saved.
const LINEAGE: usize = 4;

impl TokenService {
    /// A service whose token requests only reach destinations `guard` accepts and each last at most `timeout`.
    pub fn new(guard: DestinationGuard, timeout: Duration) -> TokenService {
        TokenService { endpoint: TokenEndpoint::new(guard, timeout), entries: Mutex::default() }
    }

    /// The header to add for `credential`, the credential of connection `connection_id` (named `name` in
    /// messages). OAuth credentials get a cached access token, refreshed when due.
    pub async fn authorize(
        &self,
        connection_id: &str,
        name: &str,
        credential: &Credential,
    ) -> Result<Authorized, ConnectionError> {
        let fixed = |name: &str, value: String| Authorized {
            header: (name.to_owned(), value),
            rotated_refresh_token: None,
            refreshed: false,
            expires_at: None,
        };
        match credential {
            Credential::Header { name, value } => Ok(fixed(name, value.clone())),
            Credential::Basic { username, password } => Ok(fixed(
                "authorization",
                format!("Basic {}", BASE64.encode(format!("{username}:{password}"))),
            )),
            Credential::Oauth2RefreshToken { .. } | Credential::GoogleServiceAccount { .. } => {
                self.cached(connection_id, name, credential).await
            }
        }
    }

    /// Exchanges an authorization code (the *Connect* flow's callback) for tokens; see
    /// [`TokenEndpoint::authorization_code`].
    pub(crate) async fn redeem_code(
        &self,
        name: &str,
        exchange: &super::endpoint::CodeExchange<'_>,
    ) -> Result<Grant, ConnectionError> {
        self.endpoint.authorization_code(name, exchange).await
    }

    /// Forgets the cached token (the destination answered 401): the next [`TokenService::authorize`] refreshes.
    pub fn invalidate(&self, connection_id: &str) {
        if let Some(entry) = self.entries.lock().expect("token cache lock").get(connection_id) {
            entry.stale.store(true, Ordering::SeqCst);
        }
    }

    async fn cached(
        &self,
        connection_id: &str,
        name: &str,
        credential: &Credential,
    ) -> Result<Authorized, ConnectionError> {
        let asked = Instant::now();
        let entry = self
            .entries
            .lock()
            .expect("token cache lock")
            .entry(connection_id.to_owned())
            .or_default()
            .clone();
        let mut slot = entry.slot.lock().await;

        let (identity, refresh_digest) = fingerprint(credential);
        if slot.identity != Some(identity)
            || refresh_digest.is_some_and(|digest| !slot.lineage.contains(&digest))
        {
            *slot = Slot {
                identity: Some(identity),
                lineage: refresh_digest.into_iter().collect(),
                ..Slot::default()
            };
        }
        if entry.stale.swap(false, Ordering::SeqCst) {
            slot.token = None;
        }
        let now = Instant::now();
        if let Some(token) = slot.token.as_ref().filter(|token| now < token.refresh_at) {
            return Ok(bearer(token, None, false));
        }
        if let Some((_, error)) = slot.failure.as_ref().filter(|(at, _)| *at >= asked) {
            return Err(error.clone());
        }

        let grant = match credential {
            Credential::Oauth2RefreshToken { token_url, client_id, client_secret, refresh_token, scopes } => {
                let refresh_token = slot.latest_refresh_token.as_deref().unwrap_or(refresh_token);
                self.endpoint.refresh(name, token_url, client_id, client_secret, refresh_token, scopes).await
            }
            Credential::GoogleServiceAccount { key, scopes } => {
                self.endpoint.service_account(name, key, scopes).await
            }
            Credential::Header { .. } | Credential::Basic { .. } => {
                unreachable!("fixed credentials are not cached")
            }
        };
        match grant {
            Ok(grant) => {
                let rotated = store(&mut slot, grant);
                Ok(bearer(slot.token.as_ref().expect("just stored"), rotated, true))
            }
            Err(error) => {
                slot.failure = Some((Instant::now(), error.clone()));
                // A token not yet expired still works while its refresh fails for a passing reason.
                let usable = |token: &&Token| token.expires.is_some_and(|expires| Instant::now() < expires);
                match (&error, slot.token.as_ref().filter(usable)) {
                    (ConnectionError::Failed(why), Some(token)) => {
                        tracing::warn!(connection = name, "{why}; using the current token until it expires");
                        Ok(bearer(token, None, false))
                    }
                    _ => {
                        slot.token = None;
                        Err(error)
                    }
                }
            }
        }
    }
}

/// Keeps `grant` in `slot`; returns the refresh token it rotated in, if any.
fn store(slot: &mut Slot, grant: Grant) -> Option<String> {
    let obtained = Instant::now();
    slot.failure = None;
    slot.token = Some(Token {
        header_value: format!("Bearer {}", grant.access_token),
        expires_at: grant.lifetime.map(|lifetime| crate::clock::now_millis() + lifetime.as_millis() as i64),
        refresh_at: obtained + grant.use_for(),
        expires: grant.lifetime.map(|lifetime| obtained + lifetime),
    });
    let rotated = grant.refresh_token.filter(|new| slot.latest_refresh_token.as_ref() != Some(new))?;
    let digest = digest(rotated.as_bytes());
    if !slot.lineage.contains(&digest) {
        if slot.lineage.len() == LINEAGE {
            slot.lineage.remove(0);
        }
        slot.lineage.push(digest);
    }
    slot.latest_refresh_token = Some(rotated.clone());
    Some(rotated)
}

fn bearer(token: &Token, rotated_refresh_token: Option<String>, refreshed: bool) -> Authorized {
    Authorized {
        header: ("authorization".to_owned(), token.header_value.clone()),
        rotated_refresh_token,
        refreshed,
        expires_at: token.expires_at,
    }
}

/// Digests of the credential without its refresh token, and of the refresh token.
fn fingerprint(credential: &Credential) -> ([u8; 32], Option<[u8; 32]>) {
    match credential {
        Credential::Oauth2RefreshToken { refresh_token, .. } => {
            let mut without = credential.clone();
            if let Credential::Oauth2RefreshToken { refresh_token, .. } = &mut without {
                refresh_token.clear();
            }
            (
                digest(&serde_json::to_vec(&without).expect("serialises")),
                Some(digest(refresh_token.as_bytes())),
            )
        }
        _ => (digest(&serde_json::to_vec(credential).expect("serialises")), None),
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::AtomicUsize;

    use axum::extract::State;
    use axum::response::{IntoResponse, Response};
    use axum::routing::post;
    use axum::{Json, Router};
    use http::StatusCode;
    use serde_json::json;

    use super::*;
    use crate::connections::endpoint::AssertionClaims;
    use crate::delivery::guard::parse_allowed;

    /// A test key pair (tests/fixtures/README.md): it protects nothing.
    const PRIVATE_KEY: &str = include_str!("../../../tests/fixtures/test-service-account.key.pem");
    const PUBLIC_KEY: &str = include_str!("../../../tests/fixtures/test-service-account.pub.pem");
    const EMAIL: &str = "gancho-test@example-project.iam.gserviceaccount.com";

    /// An OAuth provider issuing 2-second tokens and rotating refresh tokens; `/broken` answers 500.
    #[derive(Default)]
    struct Provider {
        requests: AtomicUsize,
        /// The refresh token it accepts now; each refresh replaces it.
        current: Mutex<String>,
        /// When each request arrived, and when each token was issued.
        arrived: Mutex<Vec<Instant>>,
        issued: Mutex<Vec<Instant>>,
    }

    async fn oauth_token(State(provider): State<Arc<Provider>>, body: bytes::Bytes) -> Response {
        let form = form(&body);
        let issued = provider.requests.fetch_add(1, Ordering::SeqCst) + 1;
        provider.arrived.lock().unwrap().push(Instant::now());
        // Slow enough that concurrent callers overlap.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut current = provider.current.lock().unwrap();
        let good = form["grant_type"] == "refresh_token"
            && form["client_id"] == "gancho"
            && form["client_secret"] == "client-SECRET"
            && form.get("scope").map(String::as_str)
                == Some("crm.objects.contacts.write crm.objects.contacts.read")
            && form["refresh_token"] == *current;
        if !good {
            let body = json!({"error": "invalid_grant", "error_description": "Token has been revoked"});
            return (StatusCode::BAD_REQUEST, Json(body)).into_response();
        }
        *current = format!("rt-{issued}");
        provider.issued.lock().unwrap().push(Instant::now());
        Json(json!({"access_token": format!("at-{issued}"), "token_type": "bearer", "expires_in": 2,
            "refresh_token": *current}))
        .into_response()
    }

    /// A Google token endpoint that verifies the assertion as Google does: RS256 against the public key, the
    /// key id, `iss`, `scope`, `aud` (its own URL) and `exp`.
    async fn google_token(State(state): State<Arc<(AtomicUsize, String)>>, body: bytes::Bytes) -> Response {
        let form = form(&body);
        let (requests, token_uri) = &*state;
        let issued = requests.fetch_add(1, Ordering::SeqCst) + 1;
        let deny = |why: &str| {
            (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_grant", "error_description": why})))
                .into_response()
        };
        if form["grant_type"] != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
            return deny("unsupported grant type");
        }
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&[token_uri]);
        validation.set_issuer(&[EMAIL]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()).unwrap();
        let Ok(verified) = jsonwebtoken::decode::<AssertionClaims>(&form["assertion"], &key, &validation)
        else {
            return deny("Invalid JWT Signature.");
        };
        let claims = verified.claims;
        if verified.header.kid.as_deref() != Some("test-key-1") {
            return deny("Invalid key id.");
        }
        if claims.scope
            != "https://www.googleapis.com/auth/spreadsheets https://www.googleapis.com/auth/drive.file"
            || claims.exp - claims.iat != 3600
            || (claims.iat - crate::clock::now_millis() / 1000).abs() > 5
        {
            return deny("Invalid JWT claims.");
        }
        Json(json!({"access_token": format!("ya29.{issued}"), "expires_in": 3599, "token_type": "Bearer"}))
            .into_response()
    }

    fn form(body: &[u8]) -> HashMap<String, String> {
        url::form_urlencoded::parse(body).into_owned().collect()
    }

    async fn serve(router: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        format!("http://{addr}")
    }

    async fn provider() -> (Arc<Provider>, String) {
        let provider = Arc::new(Provider { current: Mutex::new("rt-0".into()), ..Provider::default() });
        let router = Router::new()
            .route("/token", post(oauth_token))
            .route("/broken", post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "oops") }))
            .with_state(provider.clone());
        (provider, serve(router).await)
    }

    fn service() -> TokenService {
        TokenService::new(
            DestinationGuard::new(parse_allowed("127.0.0.0/8").unwrap()),
            Duration::from_secs(5),
        )
    }

    fn oauth(token_url: String, refresh_token: &str) -> Credential {
        Credential::Oauth2RefreshToken {
            token_url,
            client_id: "gancho".into(),
            client_secret: "client-SECRET".into(),
            refresh_token: refresh_token.into(),
            scopes: vec!["crm.objects.contacts.write".into(), "crm.objects.contacts.read".into()],
        }
    }

    #[tokio::test]
    async fn fixed_credentials_need_no_request() {
        let service = service();
        let header = Credential::Header { name: "x-api-key".into(), value: "k".into() };
        assert_eq!(
            service.authorize("c1", "n", &header).await.unwrap().header,
            ("x-api-key".into(), "k".into())
        );
        let basic = Credential::Basic { username: "Aladdin".into(), password: "open sesame".into() };
        let authorized = service.authorize("c2", "n", &basic).await.unwrap();
        assert_eq!(authorized.header, ("authorization".into(), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==".into()));
        assert!(!authorized.refreshed && authorized.expires_at.is_none());
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_token_request() {
        let (provider, url) = provider().await;
        let service = Arc::new(service());
        let credential = oauth(format!("{url}/token"), "rt-0");
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let (service, credential) = (service.clone(), credential.clone());
            calls.spawn(async move { service.authorize("c1", "hubspot-main", &credential).await.unwrap() });
        }
        let results = calls.join_all().await;
        assert_eq!(provider.requests.load(Ordering::SeqCst), 1);
        assert!(results.iter().all(|a| a.header == ("authorization".into(), "Bearer at-1".into())));
        assert_eq!(results.iter().filter(|a| a.refreshed).count(), 1);
        let rotated: Vec<_> = results.iter().filter_map(|a| a.rotated_refresh_token.clone()).collect();
        assert_eq!(rotated, ["rt-1"]);
        let expires_at = results[0].expires_at.unwrap();
        assert!((expires_at - crate::clock::now_millis() - 2000).abs() < 1000, "{expires_at}");
    }

    #[tokio::test]
    async fn a_token_is_refreshed_before_it_expires_with_the_rotated_refresh_token() {
        let (provider, url) = provider().await;
        let service = service();
        // The caller keeps passing the credential it started with, as if it had not saved the rotated token yet.
        let credential = oauth(format!("{url}/token"), "rt-0");
        let first = service.authorize("c1", "hubspot-main", &credential).await.unwrap();
        assert_eq!(
            (first.header.1.as_str(), first.rotated_refresh_token.as_deref()),
            ("Bearer at-1", Some("rt-1"))
        );
        let refreshed = loop {
            let again = service.authorize("c1", "hubspot-main", &credential).await.unwrap();
            if again.refreshed {
                break again;
            }
            assert_eq!(again.header.1, "Bearer at-1");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        // at-1 lives 2 s: it was being replaced while still valid.
        let (issued, arrived) = (provider.issued.lock().unwrap()[0], provider.arrived.lock().unwrap()[1]);
        assert!(arrived < issued + Duration::from_secs(2), "{:?}", arrived - issued);
        assert_eq!(refreshed.header.1, "Bearer at-2");
        assert_eq!(refreshed.rotated_refresh_token.as_deref(), Some("rt-2"));
        assert_eq!(provider.requests.load(Ordering::SeqCst), 2);
        // Once the caller saved the rotated token, passing it changes nothing.
        let saved = oauth(format!("{url}/token"), "rt-2");
        let cached = service.authorize("c1", "hubspot-main", &saved).await.unwrap();
        assert!(!cached.refreshed && cached.header.1 == "Bearer at-2");
    }

    #[tokio::test]
    async fn invalidate_forces_a_refresh() {
        let (provider, url) = provider().await;
        let service = service();
        let credential = oauth(format!("{url}/token"), "rt-0");
        service.authorize("c1", "hubspot-main", &credential).await.unwrap();
        assert!(!service.authorize("c1", "hubspot-main", &credential).await.unwrap().refreshed);
        service.invalidate("c1");
        let after = service.authorize("c1", "hubspot-main", &credential).await.unwrap();
        assert!(after.refreshed && after.header.1 == "Bearer at-2");
        assert_eq!(provider.requests.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_revoked_grant_is_revoked_and_says_what_to_do() {
        let (provider, url) = provider().await;
        let service = Arc::new(service());
        let credential = oauth(format!("{url}/token"), "rt-SECRET-revoked");
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..5 {
            let (service, credential) = (service.clone(), credential.clone());
            calls.spawn(
                async move { service.authorize("c1", "hubspot-main", &credential).await.unwrap_err() },
            );
        }
        let errors = calls.join_all().await;
        // The callers that waited share the failure instead of each asking again.
        assert_eq!(provider.requests.load(Ordering::SeqCst), 1);
        let expected = ConnectionError::Revoked(
            "connection `hubspot-main`: token endpoint answered 400 invalid_grant (Token has been revoked) — \
             re-authorise it (PATCH the connection with a new refresh_token)"
                .into(),
        );
        assert!(errors.iter().all(|error| *error == expected), "{errors:?}");
        // A later call tries again.
        service.authorize("c1", "hubspot-main", &credential).await.unwrap_err();
        assert_eq!(provider.requests.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failing_endpoint_is_a_failure_to_retry() {
        let (_provider, url) = provider().await;
        let service = service();
        let error = service
            .authorize("c1", "hubspot-main", &oauth(format!("{url}/broken"), "rt-0"))
            .await
            .unwrap_err();
        assert_eq!(
            error,
            ConnectionError::Failed(
                "connection `hubspot-main`: token endpoint answered 500 — it will be retried".into()
            )
        );
        // Loopback is refused unless allowed, as for deliveries.
        let guarded = TokenService::new(DestinationGuard::default(), Duration::from_secs(5));
        let refused = guarded.authorize("c1", "hubspot-main", &oauth(format!("{url}/token"), "rt-0")).await;
        let ConnectionError::Failed(message) = refused.unwrap_err() else { panic!("not a failure") };
        assert!(message.contains("destination 127.0.0.1 was refused"), "{message}");
        assert!(!message.contains("loopback range"), "{message}");
        assert!(!message.contains("SECRET"), "{message}");
    }

    fn google(token_uri: &str, key_id: &str) -> Credential {
        Credential::GoogleServiceAccount {
            key: json!({
                "type": "service_account",
                "project_id": "example-project",
                "private_key_id": key_id,
                "private_key": PRIVATE_KEY,
                "client_email": EMAIL,
                "client_id": "100000000000000000001",
                "token_uri": token_uri,
            }),
            scopes: vec![
                "https://www.googleapis.com/auth/spreadsheets".into(),
                "https://www.googleapis.com/auth/drive.file".into(),
            ],
        }
    }

    #[tokio::test]
    async fn a_service_account_gets_tokens_with_a_verified_jwt() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let token_uri = format!("http://{}/token", listener.local_addr().unwrap());
        let state = Arc::new((AtomicUsize::new(0), token_uri.clone()));
        let router = Router::new().route("/token", post(google_token)).with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        let service = service();
        let credential = google(&token_uri, "test-key-1");
        assert!(credential.validate().is_ok());

        let first = service.authorize("g1", "sheets", &credential).await.unwrap();
        assert_eq!(first.header, ("authorization".into(), "Bearer ya29.1".into()));
        assert!(first.refreshed && first.rotated_refresh_token.is_none());
        assert!(!service.authorize("g1", "sheets", &credential).await.unwrap().refreshed);
        service.invalidate("g1");
        let second = service.authorize("g1", "sheets", &credential).await.unwrap();
        assert!(second.refreshed && second.header.1 == "Bearer ya29.2");
        assert_eq!(state.0.load(Ordering::SeqCst), 2);

        // The stand-in does verify: an assertion naming another key id is refused, and that is final.
        let error = service.authorize("g2", "sheets", &google(&token_uri, "other-key")).await.unwrap_err();
        let ConnectionError::Revoked(message) = error else { panic!("not revoked: {error:?}") };
        assert!(
            message.starts_with(
                "connection `sheets`: token endpoint answered 400 invalid_grant (Invalid key id.)"
            )
        );
        assert!(!message.contains("PRIVATE KEY") && !message.contains("eyJ"), "{message}");
    }
}
