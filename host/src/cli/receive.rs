//! `gancho receive`: a local webhook receiver for trying Gancho without a real destination. Prints every
//! request it gets and, given the subscription's secret, whether its signature verifies. With
//! `--issue-tokens SECS` it also stands in for an OAuth provider or Google's token endpoint (`POST /token`
//! answers the refresh-token and JWT-bearer grants with short-lived access tokens) and checks the bearer
//! token of every other request, answering 401 to a missing or expired one: a connection can be tried
//! end to end, past its tokens' lifetime, on one machine.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, Method, Uri};
use axum::response::IntoResponse;

use crate::delivery::signing;

#[derive(clap::Args)]
pub struct ReceiveArgs {
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:9000")]
    listen: SocketAddr,
    /// The subscription's signing secret (`whsec_…`), to verify signatures.
    #[arg(long)]
    secret: Option<String>,
    /// HTTP status to answer with (try 503 to watch retries, 410 to watch a subscription get disabled).
    #[arg(long, default_value_t = 200)]
    status: u16,
    /// Also issue access tokens of this many seconds at `POST /token`, and require one on every other
    /// request (401 when missing or expired).
    #[arg(long, value_name = "SECS")]
    issue_tokens: Option<u64>,
}

/// The access tokens this receiver issued, with when each expires.
type Issued = Arc<Mutex<HashMap<String, Instant>>>;

/// A stand-in token endpoint: any refresh-token or JWT-bearer grant gets a new access token.
fn issue_token(issued: &Issued, lifetime: u64, body: &[u8]) -> (axum::http::StatusCode, String) {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let grant = form.get("grant_type").map(String::as_str).unwrap_or("");
    if !matches!(grant, "refresh_token" | "urn:ietf:params:oauth:grant-type:jwt-bearer") {
        let error = serde_json::json!({"error": "unsupported_grant_type"});
        return (axum::http::StatusCode::BAD_REQUEST, error.to_string());
    }
    let token = format!("stand-in-{}", crate::ids::random_token());
    issued.lock().expect("issued lock").insert(token.clone(), Instant::now() + Duration::from_secs(lifetime));
    println!("POST /token ({grant}): issued a token for {lifetime} s\n---");
    let answer = serde_json::json!({"access_token": token, "token_type": "Bearer", "expires_in": lifetime});
    (axum::http::StatusCode::OK, answer.to_string())
}

pub fn run(args: ReceiveArgs) -> ExitCode {
    let Ok(status) = axum::http::StatusCode::from_u16(args.status) else {
        eprintln!("error: --status {} is not an HTTP status", args.status);
        return ExitCode::from(2);
    };
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
        eprintln!("gancho receive: listening on http://{}/ (answering {status})", args.listen);
        let secret = args.secret;
        let (issued, lifetime) = (Issued::default(), args.issue_tokens);
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: axum::body::Bytes| {
                let (secret, issued) = (secret.clone(), issued.clone());
                async move {
                    if let Some(lifetime) = lifetime
                        && method == Method::POST
                        && uri.path() == "/token"
                    {
                        return issue_token(&issued, lifetime, &body).into_response();
                    }
                    let header =
                        |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                    println!("{method} {uri}");
                    for (name, value) in &headers {
                        println!("{name}: {}", value.to_str().unwrap_or("<binary>"));
                    }
                    println!("\n{}", String::from_utf8_lossy(&body));
                    if let Some(secret) = &secret {
                        let timestamp = header("webhook-timestamp").parse().unwrap_or(0);
                        let valid = signing::verify(
                            secret,
                            &header("webhook-id"),
                            timestamp,
                            &body,
                            &header("webhook-signature"),
                        );
                        println!("signature: {}", if valid { "valid" } else { "INVALID" });
                    }
                    let mut answer = status;
                    if lifetime.is_some() {
                        let authorization = header("authorization");
                        let token = authorization.strip_prefix("Bearer ").unwrap_or("");
                        let expires = issued.lock().expect("issued lock").get(token).copied();
                        let verdict = match expires {
                            Some(at) if at > Instant::now() => "valid",
                            Some(_) => "EXPIRED",
                            None => "MISSING or unknown",
                        };
                        println!("token: {verdict}");
                        if verdict != "valid" {
                            answer = axum::http::StatusCode::UNAUTHORIZED;
                        }
                    }
                    println!("---");
                    answer.into_response()
                }
            },
        );
        match axum::serve(listener, app).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        }
    })
}
