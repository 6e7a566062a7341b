//! `gancho plugin diff`: what a candidate version would change. Locally, on two `.wasm` files and event
//! files, with no service; or against a running service, as a dry run over a subscription's past events
//! (started with the API, followed until done). Either way it prints the same report.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::plugin::{config_arg, load, read};
use super::precompiled::CacheArgs;
use crate::event::Event;
use crate::rollout::diff::RunOutcome;
use crate::rollout::dry_run::{DryRunView, Status};
use crate::rollout::report::Report;
use crate::runtime::{Plugin, Runtime, SubscriptionInput};

#[derive(clap::Args)]
pub struct DiffArgs {
    /// Locally: the current version's and the candidate's `.wasm`. Against a service: the candidate's
    /// `.wasm` (not uploaded), or nothing with `--candidate-version`.
    #[arg(value_name = "WASM", num_args = 0..=2)]
    plugins: Vec<PathBuf>,
    /// Locally: event files, or folders of them (`*.json`), to run both versions on.
    #[arg(long, value_name = "PATH")]
    events: Vec<PathBuf>,
    /// Locally: the plugin configuration both versions run with, a JSON file or the JSON itself; `{}` when
    /// omitted.
    #[arg(long, value_name = "FILE|JSON")]
    config: Option<String>,
    /// The candidate's configuration, if it differs from the current version's: a JSON file, or the JSON
    /// itself (`{"channel": "#sales"}`).
    #[arg(long, value_name = "FILE|JSON")]
    candidate_config: Option<String>,
    /// Run a dry run on this service instead (for example http://127.0.0.1:8080).
    #[arg(long, value_name = "URL")]
    service: Option<String>,
    /// The tenant's API key (or the operator token) for `--service`.
    #[arg(long, env = "GANCHO_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[arg(long)]
    tenant: Option<String>,
    /// The subscription whose version and past events are compared.
    #[arg(long)]
    subscription: Option<String>,
    /// A stored version of the subscription's plugin, as the candidate.
    #[arg(long)]
    candidate_version: Option<u32>,
    /// The latest events the subscription ran on [default: 100].
    #[arg(long, conflicts_with_all = ["since", "until"])]
    last: Option<u32>,
    /// Events it ran on from this time (RFC 3339), with `--until`.
    #[arg(long, requires = "until")]
    since: Option<String>,
    #[arg(long, requires = "since")]
    until: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    cache: CacheArgs,
}

/// Exit codes: 0 the candidate changes nothing, 1 it changes something, 2 bad input.
pub fn run(args: DiffArgs) -> Result<ExitCode, String> {
    let (report, current, candidate) = match &args.service {
        Some(service) => remote(service, &args)?,
        None => local(&args)?,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).expect("a report encodes"));
    } else {
        print!("{}", report.to_text(&current, &candidate));
    }
    let unchanged = report.summary.identical == report.summary.events;
    Ok(if unchanged { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn local(args: &DiffArgs) -> Result<(Report, String, String), String> {
    let [current_path, candidate_path] = args.plugins.as_slice() else {
        return Err("give the current version's and the candidate's .wasm files, and --events".into());
    };
    if args.events.is_empty() {
        return Err("give --events: event files, or folders of them, to run both versions on".into());
    }
    let config = config_arg("--config", args.config.as_deref())?;
    let candidate_config = match &args.candidate_config {
        Some(value) => config_arg("--candidate-config", Some(value))?,
        None => config.clone(),
    };
    let current = (load(current_path, &args.cache)?, config);
    let candidate = (load(candidate_path, &args.cache)?, candidate_config);
    let mut report = Report::default();
    for path in event_files(&args.events)? {
        let event = Event::parse(&read(&path)?).map_err(|e| format!("{}: {e}", path.display()))?;
        let outcomes = [&current, &candidate]
            .map(|((runtime, plugin), config)| run_once(runtime, plugin, &event, config));
        report.add(&event.id, &event.event_type, &outcomes[0], &outcomes[1]);
    }
    Ok((report, current_path.display().to_string(), candidate_path.display().to_string()))
}

fn run_once(runtime: &Runtime, plugin: &Plugin, event: &Event, config_json: &str) -> RunOutcome {
    let subscription =
        SubscriptionInput { id: "sub_cli", endpoint_url: "https://endpoint.example/webhook", config_json };
    match runtime.invoke(plugin, &event.as_input(), &subscription).result {
        Ok(requests) => RunOutcome::Requests(requests),
        Err(error) => RunOutcome::Failed { kind: error.kind().to_owned(), message: error.to_string() },
    }
}

/// The files given, and the `*.json` files of the folders given (sorted by name).
fn event_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries =
                std::fs::read_dir(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|file| file.extension().is_some_and(|ext| ext == "json"))
                .collect();
            if found.is_empty() {
                return Err(format!("{}: holds no .json event files", path.display()));
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// Starts a dry run on the service and follows it until it is done.
fn remote(service: &str, args: &DiffArgs) -> Result<(Report, String, String), String> {
    let missing = |flag: &str| format!("--service needs {flag}");
    let token = args.token.as_deref().ok_or_else(|| missing("--token (or GANCHO_TOKEN)"))?;
    let tenant = args.tenant.as_deref().ok_or_else(|| missing("--tenant"))?;
    let subscription = args.subscription.as_deref().ok_or_else(|| missing("--subscription"))?;
    let mut request = serde_json::Map::new();
    match (args.plugins.as_slice(), args.candidate_version) {
        ([], Some(version)) => {
            request.insert("candidate_version".into(), version.into());
        }
        ([candidate], None) => {
            let wasm = base64::engine::general_purpose::STANDARD.encode(read(candidate)?);
            request.insert("wasm_base64".into(), wasm.into());
        }
        _ => return Err("with --service, give the candidate's .wasm or --candidate-version, not both".into()),
    }
    if let Some(value) = &args.candidate_config {
        let config: serde_json::Value =
            serde_json::from_str(&config_arg("--candidate-config", Some(value))?).expect("checked JSON");
        request.insert("config".into(), config);
    }
    let events = match (&args.last, &args.since, &args.until) {
        (_, Some(from), Some(to)) => serde_json::json!({"from": from, "to": to}),
        (last, _, _) => serde_json::json!({"last": last.unwrap_or(100)}),
    };
    request.insert("events".into(), events);

    let base = service.trim_end_matches('/');
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("failed to start the HTTP client: {e}"))?;
    runtime.block_on(async {
        let client = Client::builder(TokioExecutor::new()).build(
            hyper_rustls::HttpsConnectorBuilder::new()
                .with_webpki_roots()
                .https_or_http()
                .enable_http1()
                .build(),
        );
        let started = call(
            &client,
            "POST",
            &format!("{base}/v1/tenants/{tenant}/subscriptions/{subscription}/dry-runs"),
            token,
            Some(serde_json::Value::Object(request)),
        )
        .await?;
        let mut view: DryRunView =
            serde_json::from_value(started).map_err(|e| format!("unexpected answer from {base}: {e}"))?;
        let url = format!("{base}/v1/tenants/{tenant}/dry-runs/{}", view.id);
        // Progress on one line, rewritten; none before the service has counted the events.
        let mut progress = false;
        while view.status == Status::Running {
            if view.events_total > 0 {
                eprint!("\r{}: {} of {} events compared", view.id, view.events_done, view.events_total);
                progress = true;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            view = serde_json::from_value(call(&client, "GET", &url, token, None).await?)
                .map_err(|e| format!("unexpected answer from {base}: {e}"))?;
        }
        if progress {
            eprintln!();
        }
        match (view.status, view.report) {
            (Status::Done, Some(report)) => Ok((report, view.current, view.candidate)),
            (status, _) => Err(format!(
                "dry run {} ended {status:?}: {}",
                view.id,
                view.error.unwrap_or_else(|| "no report".into())
            )),
        }
    })
}

type HttpClient =
    Client<hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>, Full<Bytes>>;

/// One API call; an error answer becomes its message.
async fn call(
    client: &HttpClient,
    method: &str,
    url: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> Result<serde_json::Value, String> {
    let request = http::Request::builder()
        .method(method)
        .uri(url)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.map(|b| b.to_string()).unwrap_or_default())))
        .map_err(|e| format!("{url}: {e}"))?;
    let response =
        client.request(request).await.map_err(|e| format!("{url}: cannot reach the service: {e}"))?;
    let status = response.status();
    let bytes = response.into_body().collect().await.map_err(|e| format!("{url}: {e}"))?.to_bytes();
    let answer: serde_json::Value =
        serde_json::from_slice(&bytes).unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into());
    if !status.is_success() {
        let message = answer
            .get("message")
            .and_then(|m| m.as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| answer.to_string());
        return Err(format!("{method} {url}: {status}: {message}"));
    }
    Ok(answer)
}
