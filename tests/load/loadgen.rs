//! Load generator: posts `call.ended` missed-call events at a given rate to a running Gancho, receives the
//! Slack plugin's deliveries on a local receiver, and reports accepted/s, delivered/s and the latency from
//! posting an event to receiving its delivery (p50, p99, max).
//!
//! With `--plugin misbehaving --plugin-config '{"behaviour": "endless-loop"}'` (or a receiver that answers
//! late, `--receiver-delay-ms`) and `--neighbour`, it is instead a badly behaved tenant next to another
//! run's well-behaved one: it posts, and neither waits for nor checks deliveries (see
//! `tests/load/fairness.sh`).
//!
//! ```sh
//! export GANCHO_OPERATOR_TOKEN=$(openssl rand -hex 32) GANCHO_INGEST_TOKEN=in
//! GANCHO_ALLOWED_DESTINATIONS=127.0.0.0/8 cargo run --release -p gancho -- serve &
//! cargo run --release -p gancho --example loadgen -- --rate 1000 --seconds 10
//! ```

#[path = "../support/plugins.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;

#[derive(Parser)]
struct Args {
    /// The Gancho to load; several comma-separated instances get the events round-robin.
    #[arg(long, default_value = "http://127.0.0.1:8080", value_delimiter = ',')]
    url: Vec<String>,
    #[arg(long, env = "GANCHO_OPERATOR_TOKEN")]
    operator_token: String,
    #[arg(long, env = "GANCHO_INGEST_TOKEN")]
    ingest_token: String,
    /// Events per second to post; 0 posts as fast as the connections allow.
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// How long to post.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent client connections.
    #[arg(long, default_value_t = 32)]
    connections: u64,
    /// How long to wait for the last deliveries after posting stops.
    #[arg(long, default_value_t = 60)]
    drain_seconds: u64,
    /// The plugin the tenant's subscription runs: an example plugin, or a test plugin (`misbehaving`).
    #[arg(long, default_value = "slack")]
    plugin: String,
    /// The subscription's plugin config (JSON).
    #[arg(long, default_value = "{}")]
    plugin_config: String,
    /// The receiver answers each delivery this late (a hanging endpoint).
    #[arg(long, default_value_t = 0)]
    receiver_delay_ms: u64,
    /// Act as a neighbour: post, report what was accepted, and neither wait for nor check deliveries.
    #[arg(long)]
    neighbour: bool,
    /// The subscription's ordering key (`call.id`): its deliveries go one at a time per key value.
    #[arg(long)]
    ordering_key: Option<String>,
    /// Spread the events over this many calls (`call.id` values), in turn; 0: each event its own call.
    #[arg(long, default_value_t = 0)]
    keys: u64,
    /// Act as a Google Sheet allowing this many writes a minute (429 `RESOURCE_EXHAUSTED` over it, no
    /// Retry-After): the Google Sheets plugin appends each event as a row, through a connection whose budget
    /// says so. The service needs connections keys (GANCHO_CONNECTIONS__KEYS). Prints the lag over time.
    #[arg(long)]
    sheets_per_minute: Option<usize>,
}

/// The subscription to create; `ordering_key` only when asked for, so that a build from before ordering
/// keys can be measured too.
fn subscription_request(args: &Args, plugin: &str, receiver_url: &str) -> anyhow::Result<serde_json::Value> {
    let config = match args.sheets_per_minute {
        Some(_) => json!({"spreadsheet_id": "load", "api_base": receiver_url.trim_end_matches("/slack"),
                          "columns": ["call.caller_name"]}),
        None => serde_json::from_str::<serde_json::Value>(&args.plugin_config)?,
    };
    let mut request = json!({"event_types": ["call.ended"], "plugin": plugin, "endpoint_url": receiver_url, "config": config});
    if args.sheets_per_minute.is_some() {
        request["connections"] = json!(["sheet"]);
    }
    if let Some(key) = &args.ordering_key {
        request["ordering_key"] = json!(key);
    }
    Ok(request)
}

/// Marks each event's sequence number inside the caller name, which the Slack plugin puts in its message.
fn marker(seq: u64) -> String {
    format!("zq{seq}qz")
}

/// Every event marker in a body: one for a message, one per row for a merged append.
fn parse_markers(body: &[u8]) -> Vec<u64> {
    let Ok(mut text) = std::str::from_utf8(body) else { return Vec::new() };
    let mut markers = Vec::new();
    while let Some(start) = text.find("zq") {
        let rest = &text[start + 2..];
        let Some(end) = rest.find("qz") else { break };
        if let Ok(seq) = rest[..end].parse() {
            markers.push(seq);
        }
        text = &rest[end + 2..];
    }
    markers
}

struct Clock {
    started: Instant,
    sent: Vec<AtomicU64>,
    received: Vec<AtomicU64>,
    accepted: AtomicU64,
    delivered: AtomicU64,
}

impl Clock {
    fn now(&self) -> u64 {
        self.started.elapsed().as_nanos() as u64
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let capacity = if args.rate == 0 { 2_000_000 } else { (args.rate * args.seconds + 1) as usize };
    let clock = Arc::new(Clock {
        started: Instant::now(),
        sent: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
        received: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
        accepted: AtomicU64::new(0),
        delivered: AtomicU64::new(0),
    });

    // The receiver: notes when each event's delivery arrives.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let receiver_url = format!("http://{}/slack", listener.local_addr()?);
    let receiver_clock = clock.clone();
    let receiver_delay = Duration::from_millis(args.receiver_delay_ms);
    let quota = args.sheets_per_minute;
    let writes = Arc::new(std::sync::Mutex::new(std::collections::VecDeque::<Instant>::new()));
    let refused = Arc::new(AtomicU64::new(0));
    let (receiver_writes, receiver_refused) = (writes.clone(), refused.clone());
    let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
        let (clock, writes, refused) =
            (receiver_clock.clone(), receiver_writes.clone(), receiver_refused.clone());
        async move {
            tokio::time::sleep(receiver_delay).await;
            if let Some(per_minute) = quota {
                let now = Instant::now();
                let mut writes = writes.lock().unwrap();
                while writes.front().is_some_and(|at| now.duration_since(*at) >= Duration::from_secs(60)) {
                    writes.pop_front();
                }
                if writes.len() >= per_minute {
                    refused.fetch_add(1, Ordering::Relaxed);
                    return (hyper::StatusCode::TOO_MANY_REQUESTS, "RESOURCE_EXHAUSTED");
                }
                writes.push_back(now);
            }
            for seq in parse_markers(&body) {
                if let Some(slot) = clock.received.get(seq as usize)
                    && slot.compare_exchange(0, clock.now(), Ordering::Relaxed, Ordering::Relaxed).is_ok()
                {
                    clock.delivered.fetch_add(1, Ordering::Relaxed);
                }
            }
            (hyper::StatusCode::OK, "ok")
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });

    // Set up a tenant of its own, the Slack plugin and a subscription to the receiver.
    let client: Client<_, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).pool_max_idle_per_host(args.connections as usize).build_http();
    let tenant = format!("load-{}", std::process::id());
    let admin = |method: &str, path: &str, body: Vec<u8>, content_type: &str| {
        hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", args.url[0]))
            .header("authorization", format!("Bearer {}", args.operator_token))
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body)))
            .expect("valid request")
    };
    let plugin = if quota.is_some() { "google-sheets".to_owned() } else { args.plugin.clone() };
    let mut setup = vec![
        admin(
            "POST",
            "/v1/tenants",
            json!({"id": tenant, "name": "load test"}).to_string().into_bytes(),
            "application/json",
        ),
        admin(
            "POST",
            &format!("/v1/plugins/{plugin}/versions"),
            support::plugin_bytes(&plugin),
            "application/wasm",
        ),
    ];
    if let Some(per_minute) = quota {
        let connection = json!({"name": "sheet", "hosts": ["127.0.0.1"],
            "budget": {"requests": per_minute, "per_secs": 60},
            "credential": {"kind": "header", "name": "authorization", "value": "Bearer load-test"}});
        setup.push(admin(
            "POST",
            &format!("/v1/tenants/{tenant}/connections"),
            connection.to_string().into_bytes(),
            "application/json",
        ));
    }
    setup.push(admin(
        "POST",
        &format!("/v1/tenants/{tenant}/subscriptions"),
        subscription_request(&args, &plugin, &receiver_url)?.to_string().into_bytes(),
        "application/json",
    ));
    for request in setup {
        let path = request.uri().path().to_owned();
        let response = client.request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        anyhow::ensure!(status.is_success(), "{path}: {status} {}", String::from_utf8_lossy(&body));
    }

    let template: serde_json::Value = serde_json::from_str(gancho_sdk::testing::samples::CALL_ENDED_MISSED)?;
    let total = if args.rate == 0 { u64::MAX } else { args.rate * args.seconds };
    let next = Arc::new(AtomicU64::new(0));
    let deadline = Duration::from_secs(args.seconds);
    let posting_started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.connections {
        let (client, clock, next, template, tenant) =
            (client.clone(), clock.clone(), next.clone(), template.clone(), tenant.clone());
        let (urls, token, rate, keys) = (args.url.clone(), args.ingest_token.clone(), args.rate, args.keys);
        workers.push(tokio::spawn(async move {
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= total || seq as usize >= clock.sent.len() || posting_started.elapsed() >= deadline {
                    return;
                }
                if let Some(offset) = (seq * 1_000_000_000).checked_div(rate) {
                    tokio::time::sleep_until((posting_started + Duration::from_nanos(offset)).into()).await;
                }
                let mut event = template.clone();
                event["tenant"] = json!(tenant);
                event["id"] = json!(format!("evt_{seq}"));
                event["data"]["call"]["caller_name"] = json!(marker(seq));
                let call = if keys == 0 { seq } else { seq % keys };
                event["data"]["call"]["id"] = json!(format!("cl_{call}"));
                let url = &urls[seq as usize % urls.len()];
                let request = hyper::Request::post(format!("{url}/v1/events"))
                    .header("authorization", format!("Bearer {token}"))
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(event.to_string())))
                    .expect("valid request");
                clock.sent[seq as usize].store(clock.now(), Ordering::Relaxed);
                match client.request(request).await {
                    Ok(response) if response.status() == 202 => {
                        clock.accepted.fetch_add(1, Ordering::Relaxed);
                        let _ = response.into_body().collect().await;
                    }
                    Ok(response) => eprintln!("event {seq}: {}", response.status()),
                    Err(error) => eprintln!("event {seq}: {error}"),
                }
            }
        }));
    }
    for worker in workers {
        worker.await?;
    }
    let posting = posting_started.elapsed();
    let accepted = clock.accepted.load(Ordering::Relaxed);
    if args.neighbour {
        println!(
            "neighbour        {} {} posted {accepted} events in {:.2} s",
            args.plugin,
            args.plugin_config,
            posting.as_secs_f64()
        );
        return Ok(());
    }
    let drain_deadline = Instant::now() + Duration::from_secs(args.drain_seconds);
    while clock.delivered.load(Ordering::Relaxed) < accepted && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let delivered = clock.delivered.load(Ordering::Relaxed);
    let mut latencies: Vec<u64> = clock
        .received
        .iter()
        .zip(&clock.sent)
        .filter(|(received, _)| received.load(Ordering::Relaxed) > 0)
        .map(|(received, sent)| received.load(Ordering::Relaxed).saturating_sub(sent.load(Ordering::Relaxed)))
        .collect();
    latencies.sort_unstable();
    let last_delivery = clock.received.iter().map(|r| r.load(Ordering::Relaxed)).max().unwrap_or(0);
    let first_post = posting_started.duration_since(clock.started).as_nanos() as u64;
    let delivery_span = Duration::from_nanos(last_delivery.saturating_sub(first_post));
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1e6
    };
    println!(
        "target rate      {} events/s for {} s over {} connections",
        args.rate, args.seconds, args.connections
    );
    println!(
        "accepted         {accepted} in {:.2} s = {:.0} events/s",
        posting.as_secs_f64(),
        accepted as f64 / posting.as_secs_f64()
    );
    println!(
        "delivered        {delivered} of {accepted} in {:.2} s = {:.0} events/s",
        delivery_span.as_secs_f64(),
        delivered as f64 / delivery_span.as_secs_f64().max(1e-9)
    );
    println!(
        "ingest→receipt   p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(0.50),
        percentile(0.99),
        percentile(1.0)
    );
    if quota.is_some() {
        println!("sheet            {} writes refused (429)", refused.load(Ordering::Relaxed));
        print_lag_over_time(&clock, first_post);
    }
    anyhow::ensure!(delivered == accepted, "{} accepted events were not delivered", accepted - delivered);
    Ok(())
}

/// Ingest→receipt by 30 s of posting: a lag that stays flat keeps up; one that grows falls behind.
fn print_lag_over_time(clock: &Clock, first_post: u64) {
    const WINDOW: u64 = 30_000_000_000;
    let mut windows: std::collections::BTreeMap<u64, Vec<u64>> = std::collections::BTreeMap::new();
    for (sent, received) in clock.sent.iter().zip(&clock.received) {
        let (sent, received) = (sent.load(Ordering::Relaxed), received.load(Ordering::Relaxed));
        if sent > 0 && received > 0 {
            windows.entry(sent.saturating_sub(first_post) / WINDOW).or_default().push(received - sent);
        }
    }
    println!("lag by posting time   rows      p50        p99        max");
    for (window, mut lags) in windows {
        lags.sort_unstable();
        let at = |p: f64| lags[((lags.len() as f64 * p) as usize).min(lags.len() - 1)] as f64 / 1e9;
        println!(
            "  {:>4}–{:<4} s   {:>6}   {:>6.2} s   {:>6.2} s   {:>6.2} s",
            window * 30,
            window * 30 + 30,
            lags.len(),
            at(0.5),
            at(0.99),
            at(1.0)
        );
    }
}
