//! `gancho receive`: a local webhook receiver for trying Gancho without a real destination. Prints every
//! request it gets and, given the subscription's secret, whether its signature verifies.

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::http::{HeaderMap, Method, Uri};

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
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: axum::body::Bytes| {
                let secret = secret.clone();
                async move {
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
                    println!("---");
                    status
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
