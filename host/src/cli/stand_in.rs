//! `gancho stand-in oauth`: an OAuth 2 provider to try the portal's *Connect* button on one machine, and the
//! one the tests sign in at. A consent page (`GET /authorize`, in English or Spanish), codes that work once,
//! and a token endpoint (`POST /token`) that checks what a real provider checks: the client id and secret,
//! the redirect URI, and the PKCE verifier against the S256 challenge; a code used twice is refused and the
//! tokens it gave are revoked (RFC 6749 §4.1.2). Refresh tokens get new access tokens; `POST /revoke`
//! revokes one (to watch a connection break and be reconnected).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use maud::{DOCTYPE, Markup, html};
use serde_json::json;

use crate::connections::oauth_flow::challenge;

#[derive(clap::Subcommand)]
pub enum StandInCommand {
    /// An OAuth 2 provider (authorization code with PKCE, refresh tokens) on this machine.
    Oauth(OAuthArgs),
}

#[derive(clap::Args)]
pub struct OAuthArgs {
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:9100")]
    listen: SocketAddr,
    /// The client id Gancho's app must present (`connections.oauth.<provider>.client_id`).
    #[arg(long, default_value = "stand-in-app")]
    client_id: String,
    /// The client secret Gancho's app must present.
    #[arg(long, default_value = "stand-in-secret")]
    client_secret: String,
    /// How long the access tokens it issues last.
    #[arg(long, default_value_t = 3600)]
    token_secs: u64,
}

pub fn run(command: StandInCommand) -> ExitCode {
    let StandInCommand::Oauth(args) = command;
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime starts");
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(args.listen).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("error: cannot listen on {}: {error}", args.listen);
                return ExitCode::from(2);
            }
        };
        let provider = OAuthStandIn::new(&args.client_id, &args.client_secret, args.token_secs);
        eprintln!(
            "gancho stand-in oauth: listening on http://{0}/ (authorize_url http://{0}/authorize, token_url \
             http://{0}/token, client_id {1})",
            args.listen, args.client_id
        );
        match axum::serve(listener, provider.router()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::from(1)
            }
        }
    })
}

/// How long a code may wait to be exchanged.
const CODE_TTL: Duration = Duration::from_secs(120);

/// The stand-in provider: cheap to clone, every clone the same provider.
#[derive(Clone)]
pub struct OAuthStandIn {
    shared: Arc<Shared>,
}

struct Shared {
    client_id: String,
    client_secret: String,
    token_lifetime: Duration,
    issued: Mutex<Issued>,
}

#[derive(Default)]
struct Issued {
    codes: HashMap<String, Code>,
    /// Refresh tokens, and whether each is still good.
    refresh_tokens: HashMap<String, bool>,
    /// Access tokens in the order issued.
    access_tokens: Vec<String>,
}

struct Code {
    redirect_uri: String,
    code_challenge: String,
    scope: String,
    expires: Instant,
    /// Set on first use; the refresh token it gave, revoked if the code comes again.
    redeemed: Option<String>,
}

#[derive(serde::Deserialize)]
struct AuthorizeRequest {
    #[serde(default)]
    response_type: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    redirect_uri: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    code_challenge: String,
    #[serde(default)]
    code_challenge_method: String,
    /// On the consent form's post: `allow` or `deny`.
    #[serde(default)]
    decision: String,
}

impl OAuthStandIn {
    pub fn new(client_id: &str, client_secret: &str, token_secs: u64) -> OAuthStandIn {
        OAuthStandIn {
            shared: Arc::new(Shared {
                client_id: client_id.to_owned(),
                client_secret: client_secret.to_owned(),
                token_lifetime: Duration::from_secs(token_secs),
                issued: Mutex::default(),
            }),
        }
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/", get(|| async { "gancho stand-in OAuth provider: /authorize, /token, /revoke\n" }))
            .route("/authorize", get(consent_page).post(decide))
            .route("/token", post(token))
            .route("/revoke", post(revoke))
            .with_state(self.shared.clone())
    }

    /// Every access token issued so far, oldest first.
    pub fn access_tokens(&self) -> Vec<String> {
        self.shared.issued.lock().expect("issued lock").access_tokens.clone()
    }

    /// Revokes every refresh token issued so far: the connections made with them break on their next refresh.
    pub fn revoke_all(&self) {
        for good in self.shared.issued.lock().expect("issued lock").refresh_tokens.values_mut() {
            *good = false;
        }
    }
}

/// The request's problem, if it is not one this provider would show a consent page for.
fn check(shared: &Shared, request: &AuthorizeRequest) -> Result<(), String> {
    if request.client_id != shared.client_id {
        return Err(format!("unknown client_id `{}`", request.client_id));
    }
    if request.response_type != "code" {
        return Err("response_type must be `code`".to_owned());
    }
    if !(request.redirect_uri.starts_with("http://") || request.redirect_uri.starts_with("https://")) {
        return Err("redirect_uri must be an http or https URL".to_owned());
    }
    if request.code_challenge.is_empty() || request.code_challenge_method != "S256" {
        return Err("PKCE is required: code_challenge with code_challenge_method=S256".to_owned());
    }
    Ok(())
}

fn spanish(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("es"))
}

fn page(title: &str, es: bool, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(if es { "es" } else { "en" }) {
            head { meta charset="utf-8"; title { (title) }
                style { "body{font-family:sans-serif;max-width:34rem;margin:4rem auto;color:#222}"
                    ".box{border:1px solid #ccc;border-radius:8px;padding:1.5rem}"
                    "button{font-size:1rem;padding:.5rem 1.2rem;margin-right:.5rem}"
                    "button.allow{background:#2563eb;color:#fff;border:0;border-radius:6px}" } }
            body { div.box { (body) } }
        }
    }
}

async fn consent_page(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(request): Query<AuthorizeRequest>,
) -> Response {
    let es = spanish(&headers);
    if let Err(why) = check(&shared, &request) {
        let body = html! { h1 { "Invalid request" } p #problem { (why) } };
        return (StatusCode::BAD_REQUEST, Html(page("Stand-in OAuth", es, body).into_string()))
            .into_response();
    }
    let (title, asks, allow, deny) = if es {
        ("Proveedor OAuth de prueba", "pide acceso a su cuenta con estos alcances:", "Permitir", "Rechazar")
    } else {
        ("Stand-in OAuth provider", "asks for access to your account with these scopes:", "Allow", "Deny")
    };
    let body = html! {
        h1 { (title) }
        p { strong { (request.client_id) } " " (asks) }
        ul #scopes { @for scope in request.scope.split_whitespace() { li { code { (scope) } } } }
        form method="post" action="/authorize" {
            @for (name, value) in [("response_type", &request.response_type), ("client_id", &request.client_id),
                ("redirect_uri", &request.redirect_uri), ("scope", &request.scope), ("state", &request.state),
                ("code_challenge", &request.code_challenge), ("code_challenge_method", &request.code_challenge_method)] {
                input type="hidden" name=(name) value=(value);
            }
            button.allow #allow type="submit" name="decision" value="allow" { (allow) }
            button #deny type="submit" name="decision" value="deny" { (deny) }
        }
    };
    Html(page(title, es, body).into_string()).into_response()
}

/// The consent form's answer: back to the client with a code, or with `access_denied`.
async fn decide(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Ok(request) = serde_json::from_value::<AuthorizeRequest>(json!(form(&body))) else {
        return (StatusCode::BAD_REQUEST, "not a consent form").into_response();
    };
    if let Err(why) = check(&shared, &request) {
        return (StatusCode::BAD_REQUEST, why).into_response();
    }
    let mut back = match url::Url::parse(&request.redirect_uri) {
        Ok(url) => url,
        Err(_) => return (StatusCode::BAD_REQUEST, "redirect_uri is not a URL").into_response(),
    };
    if request.decision == "allow" {
        let code = format!("code-{}", crate::ids::random_token());
        shared.issued.lock().expect("issued lock").codes.insert(
            code.clone(),
            Code {
                redirect_uri: request.redirect_uri.clone(),
                code_challenge: request.code_challenge.clone(),
                scope: request.scope.clone(),
                expires: Instant::now() + CODE_TTL,
                redeemed: None,
            },
        );
        back.query_pairs_mut().append_pair("code", &code);
    } else {
        back.query_pairs_mut().append_pair("error", "access_denied");
    }
    back.query_pairs_mut().append_pair("state", &request.state);
    Redirect::to(back.as_str()).into_response()
}

/// A form body (`application/x-www-form-urlencoded`), by field.
fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, Json(json!({"error": error, "error_description": description}))).into_response()
}

/// The token endpoint: the authorization-code grant (PKCE checked) and the refresh-token grant.
async fn token(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let form = form(&body);
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    if field("client_id") != shared.client_id || field("client_secret") != shared.client_secret {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "unknown client or wrong secret");
    }
    let mut guard = shared.issued.lock().expect("issued lock");
    // Borrowed field by field below, which the guard itself would not allow.
    let issued = &mut *guard;
    let (scope, refresh_token) = match field("grant_type") {
        "authorization_code" => {
            let Some(code) = issued.codes.get_mut(field("code")) else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown code");
            };
            if let Some(given) = code.redeemed.clone() {
                issued.refresh_tokens.insert(given, false);
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "code already used");
            }
            code.redeemed = Some(String::new());
            if code.expires < Instant::now() {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "code expired");
            }
            if code.redirect_uri != field("redirect_uri") {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "redirect_uri does not match");
            }
            if challenge(field("code_verifier")) != code.code_challenge {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "PKCE verification failed");
            }
            let refresh_token = format!("refresh-{}", crate::ids::random_token());
            code.redeemed = Some(refresh_token.clone());
            let scope = code.scope.clone();
            issued.refresh_tokens.insert(refresh_token.clone(), true);
            (scope, Some(refresh_token))
        }
        "refresh_token" => {
            if issued.refresh_tokens.get(field("refresh_token")) != Some(&true) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "refresh token revoked or unknown",
                );
            }
            (field("scope").to_owned(), None)
        }
        _ => return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "use authorization_code"),
    };
    let access_token = format!("access-{}", crate::ids::random_token());
    issued.access_tokens.push(access_token.clone());
    let mut answer = json!({"access_token": access_token, "token_type": "Bearer",
        "expires_in": shared.token_lifetime.as_secs(), "scope": scope});
    if let Some(refresh_token) = refresh_token {
        answer["refresh_token"] = json!(refresh_token);
    }
    Json(answer).into_response()
}

/// Revokes a refresh token (RFC 7009), for the client that holds it.
async fn revoke(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    let form = form(&body);
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    if field("client_id") != shared.client_id || field("client_secret") != shared.client_secret {
        return StatusCode::UNAUTHORIZED;
    }
    if let Some(good) = shared.issued.lock().expect("issued lock").refresh_tokens.get_mut(field("token")) {
        *good = false;
    }
    StatusCode::OK
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;

    use super::*;

    fn stand_in() -> Arc<Shared> {
        OAuthStandIn::new("app", "secret", 60).shared
    }

    fn encode(pairs: &[(&str, &str)]) -> Bytes {
        Bytes::from(url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish())
    }

    /// Consents to a request with the challenge of `verifier`; the code the redirect carries.
    async fn code_for(shared: &Arc<Shared>, verifier: &str) -> String {
        let consent = encode(&[
            ("response_type", "code"),
            ("client_id", "app"),
            ("redirect_uri", "http://127.0.0.1:1/cb"),
            ("scope", "a"),
            ("state", "st"),
            ("code_challenge", &challenge(verifier)),
            ("code_challenge_method", "S256"),
            ("decision", "allow"),
        ]);
        let answer = decide(State(shared.clone()), consent).await;
        let location = answer.headers()[header::LOCATION].to_str().unwrap();
        let back = url::Url::parse(location).unwrap();
        let query: HashMap<_, _> = back.query_pairs().into_owned().collect();
        assert_eq!(query["state"], "st");
        query["code"].clone()
    }

    async fn redeem(
        shared: &Arc<Shared>,
        code: &str,
        verifier: &str,
        secret: &str,
    ) -> (StatusCode, serde_json::Value) {
        let form = encode(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", "http://127.0.0.1:1/cb"),
            ("code_verifier", verifier),
            ("client_id", "app"),
            ("client_secret", secret),
        ]);
        let answer = token(State(shared.clone()), form).await;
        let status = answer.status();
        let body = to_bytes(answer.into_body(), 64 * 1024).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn a_code_is_redeemed_once_with_its_verifier_and_the_client_secret() {
        let shared = stand_in();
        let code = code_for(&shared, "verifier-1").await;
        let (status, body) = redeem(&shared, &code, "verifier-1", "wrong").await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
        let (status, body) = redeem(&shared, &code, "verifier-1", "secret").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let refresh_token = body["refresh_token"].as_str().unwrap().to_owned();
        let (status, body) = redeem(&shared, &code, "verifier-1", "secret").await;
        assert_eq!(
            (status, body["error_description"].as_str()),
            (StatusCode::BAD_REQUEST, Some("code already used"))
        );
        // The replay revoked what the code gave.
        let refresh = encode(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_token),
            ("client_id", "app"),
            ("client_secret", "secret"),
        ]);
        assert_eq!(token(State(shared.clone()), refresh).await.status(), StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn a_wrong_verifier_is_refused() {
        let shared = stand_in();
        let code = code_for(&shared, "verifier-1").await;
        let (status, body) = redeem(&shared, &code, "verifier-2", "secret").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error_description"], "PKCE verification failed");
        assert!(shared.issued.lock().unwrap().access_tokens.is_empty());
    }
}
