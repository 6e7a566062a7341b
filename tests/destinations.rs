//! Destinations that ration their APIs: a destination that answers 429 is paused as a whole, its waiting
//! deliveries keep their retry budgets, and every one lands once it lets them through; a budget set with
//! a connection paces every subscription sending to its hosts.

mod support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::service::{INGEST, OPERATOR, Service};

/// A stand-in API that answers 429 (with `Retry-After: 1` when asked) to its first `refuse` requests, then
/// 200, and records when each accepted request came and what it carried.
struct RationedApi {
    url: String,
    refused: Arc<AtomicU32>,
    accepted: Arc<Mutex<Vec<(Instant, Value)>>>,
    _runtime: tokio::runtime::Runtime,
}

impl RationedApi {
    fn start(refuse: u32, retry_after: bool) -> RationedApi {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let address = listener.local_addr().unwrap();
        let refused = Arc::new(AtomicU32::new(0));
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let (r, a) = (refused.clone(), accepted.clone());
        let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
            let (refused, accepted) = (r.clone(), a.clone());
            async move {
                use axum::response::IntoResponse;
                if refused.load(Ordering::SeqCst) < refuse {
                    refused.fetch_add(1, Ordering::SeqCst);
                    let mut response =
                        (axum::http::StatusCode::TOO_MANY_REQUESTS, "RESOURCE_EXHAUSTED").into_response();
                    if retry_after {
                        response.headers_mut().insert("retry-after", "1".parse().unwrap());
                    }
                    return response;
                }
                let body: Value = serde_json::from_slice(&body).unwrap_or_default();
                accepted.lock().unwrap().push((Instant::now(), body));
                (axum::http::StatusCode::OK, "ok").into_response()
            }
        });
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        RationedApi { url: format!("http://{address}/rows"), refused, accepted, _runtime: runtime }
    }

    fn accepted(&self) -> Vec<(Instant, Value)> {
        self.accepted.lock().unwrap().clone()
    }
}

fn setup(service: &Service, tenant: &str, endpoint: &str) -> Value {
    let (status, _) = service.post("/v1/tenants", OPERATOR, &json!({"id": tenant, "name": tenant}));
    assert!(status == 201 || status == 409);
    let wasm = support::plugin_bytes("template");
    let (status, body) =
        service.post_raw("/v1/plugins/template/versions", OPERATOR, "application/wasm", &wasm);
    assert!(status == 201 || status == 200, "{body}");
    let (status, subscription) = service.post(
        &format!("/v1/tenants/{tenant}/subscriptions"),
        OPERATOR,
        &json!({"event_types": ["call.ended"], "plugin": "template", "endpoint_url": endpoint,
                "config": {"format": "json", "method": "POST", "event_types": ["call.ended"],
                           "template": "{\"event\": \"{{event.id}}\"}"}}),
    );
    assert_eq!(status, 201, "{subscription}");
    subscription
}

fn call_ended(tenant: &str, id: &str) -> Value {
    json!({"id": id, "type": "call.ended", "tenant": tenant, "timestamp": "2026-11-21T14:00:00Z",
           "data": {"call": {"id": format!("cl_{id}")}}})
}

#[test]
fn a_429_pauses_the_destination_without_using_up_any_deliverys_retries() {
    let dir = tempfile::tempdir().unwrap();
    // Three attempts each: 8 answers of 429 would kill every delivery if they counted.
    let service =
        Service::start(&dir.path().join("data"), &[("GANCHO_DELIVERY__RETRY__DELAYS_SECS", "[0, 1, 1]")]);
    let api = RationedApi::start(8, true);
    let subscription = setup(&service, "acme", &api.url);
    let id = subscription["id"].as_str().unwrap();
    for n in 0..5 {
        let (status, body) = service.post("/v1/events", INGEST, &call_ended("acme", &format!("evt_{n}")));
        assert_eq!(status, 202, "{body}");
    }

    // While it refuses, the subscription shows its destination paused, and why.
    let started = Instant::now();
    loop {
        let (_, shown) = service.get(&format!("/v1/tenants/acme/subscriptions/{id}"), OPERATOR);
        if shown["destinations"][0]["state"] == "paused" {
            assert!(shown["destinations"][0]["pause_reason"].as_str().unwrap().contains("429"), "{shown}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "never shown paused: {shown}");
        std::thread::sleep(Duration::from_millis(20));
    }

    let deliveries = service.wait_for_deliveries("acme", "", Duration::from_secs(60), |d| {
        d.len() == 5 && d.iter().all(|d| d["status"] == "succeeded")
    });
    assert_eq!(api.refused.load(Ordering::SeqCst), 8);
    assert_eq!(api.accepted().len(), 5, "each event once");
    let paced: usize = deliveries
        .iter()
        .flat_map(|d| d["attempts"].as_array().unwrap())
        .filter(|a| a["status_code"] == 429)
        .inspect(|a| assert!(a["error"].as_str().unwrap().starts_with("paced, not a failed attempt"), "{a}"))
        .count();
    assert_eq!(paced, 8, "every 429 is shown, as paced");
    let (_, shown) = service.get(&format!("/v1/tenants/acme/subscriptions/{id}"), OPERATOR);
    assert!(shown.get("failing_since").is_none() && shown["enabled"] == true, "{shown}");
}

#[test]
fn a_connections_budget_paces_every_subscription_sending_to_its_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(
        &dir.path().join("data"),
        &[("GANCHO_CONNECTIONS__KEYS", "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")],
    );
    let api = RationedApi::start(0, false);
    setup(&service, "acme", &api.url);
    setup(&service, "acme", &api.url);
    // 5 requests per 2 s for the account on 127.0.0.1, whichever subscription sends.
    let (status, body) = service.post(
        "/v1/tenants/acme/connections",
        OPERATOR,
        &json!({"name": "rows-api", "hosts": ["127.0.0.1"], "budget": {"requests": 5, "per_secs": 2},
                "credential": {"kind": "header", "name": "x-api-key", "value": "secret"}}),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["destinations"][0]["budget"], json!({"requests": 5, "per_secs": 2}), "{body}");
    let (status, body) = service.post(
        "/v1/tenants/acme/connections",
        OPERATOR,
        &json!({"name": "bad", "hosts": ["x.example"], "budget": {"requests": 0, "per_secs": 2},
                "credential": {"kind": "header", "name": "x-api-key", "value": "secret"}}),
    );
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("budget")), "{body}");

    for n in 0..10 {
        let (status, body) = service.post("/v1/events", INGEST, &call_ended("acme", &format!("evt_{n}")));
        assert_eq!(status, 202, "{body}");
    }
    // 20 requests (two subscriptions) at 2.5 per second: about 8 s, never more than 5 in any 2 s.
    let started = Instant::now();
    while api.accepted().len() < 20 {
        assert!(started.elapsed() < Duration::from_secs(30), "{} of 20 arrived", api.accepted().len());
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut arrivals: Vec<Instant> = api.accepted().into_iter().map(|(at, _)| at).collect();
    arrivals.sort();
    for (index, start) in arrivals.iter().enumerate() {
        let in_window = arrivals[index..]
            .iter()
            .take_while(|at| at.duration_since(*start) < Duration::from_millis(1_900))
            .count();
        assert!(in_window <= 5, "{in_window} requests within 2 s of request {index}");
    }
    let span = arrivals[19].duration_since(arrivals[0]);
    assert!(span >= Duration::from_secs(7), "20 requests at 2.5/s took only {span:?}");
    let (_, destinations) = service.get("/v1/tenants/acme/destinations", OPERATOR);
    assert_eq!(destinations[0]["host"], "127.0.0.1", "{destinations}");
}

/// A stand-in for the Sheets API's `values.append`: at most `per_minute` writes in any 60 s (over it, 429
/// `RESOURCE_EXHAUSTED` without `Retry-After`, as Google answers), and a 400 for an append holding the row
/// `cl_bad` (the whole append refused, as Google does). Keeps every appended row's first cell.
struct SheetsStandIn {
    url: String,
    rows: Arc<Mutex<Vec<String>>>,
    writes: Arc<Mutex<Vec<Instant>>>,
    refused: Arc<AtomicU32>,
    _runtime: tokio::runtime::Runtime,
}

impl SheetsStandIn {
    fn start(per_minute: usize) -> SheetsStandIn {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let address = listener.local_addr().unwrap();
        let rows: Arc<Mutex<Vec<String>>> = Arc::default();
        let writes: Arc<Mutex<Vec<Instant>>> = Arc::default();
        let refused = Arc::new(AtomicU32::new(0));
        let (r, w, q) = (rows.clone(), writes.clone(), refused.clone());
        let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
            let (rows, writes, refused) = (r.clone(), w.clone(), q.clone());
            async move {
                let now = Instant::now();
                {
                    let mut writes = writes.lock().unwrap();
                    writes.retain(|at| now.duration_since(*at) < Duration::from_secs(60));
                    if writes.len() >= per_minute {
                        refused.fetch_add(1, Ordering::SeqCst);
                        let answer = json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED",
                            "message": "Quota exceeded for quota metric 'Write requests' per minute per user"}});
                        return (axum::http::StatusCode::TOO_MANY_REQUESTS, answer.to_string());
                    }
                    writes.push(now);
                }
                let body: Value = serde_json::from_slice(&body).unwrap_or_default();
                let firsts: Vec<String> = body["values"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|row| row[0].as_str().unwrap_or_default().to_owned())
                    .collect();
                if let Some(bad) = firsts.iter().position(|first| first == "cl_bad") {
                    let answer = json!({"error": {"code": 400, "status": "INVALID_ARGUMENT",
                        "message": format!("Invalid value at 'data.values[{bad}]'")}});
                    return (axum::http::StatusCode::BAD_REQUEST, answer.to_string());
                }
                rows.lock().unwrap().extend(firsts);
                (axum::http::StatusCode::OK, json!({"updates": {"updatedRows": 1}}).to_string())
            }
        });
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        SheetsStandIn { url: format!("http://{address}"), rows, writes, refused, _runtime: runtime }
    }

    fn rows(&self) -> Vec<String> {
        self.rows.lock().unwrap().clone()
    }
}

/// Tenant `acme` with the Google Sheets plugin appending each ended call's id to the stand-in, through a
/// connection that sets the account's budget (60 writes a minute, as Google's).
fn sheets_subscription(service: &Service, sheets: &SheetsStandIn) {
    let (status, _) = service.post("/v1/tenants", OPERATOR, &json!({"id": "acme", "name": "Acme"}));
    assert_eq!(status, 201);
    let wasm = support::plugin_bytes("google-sheets");
    let (status, body) =
        service.post_raw("/v1/plugins/google-sheets/versions", OPERATOR, "application/wasm", &wasm);
    assert_eq!(status, 201, "{body}");
    let (status, body) = service.post(
        "/v1/tenants/acme/connections",
        OPERATOR,
        &json!({"name": "google", "hosts": ["127.0.0.1"], "budget": {"requests": 60, "per_secs": 60},
                "credential": {"kind": "header", "name": "authorization", "value": "Bearer ya29.test"}}),
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = service.post(
        "/v1/tenants/acme/subscriptions",
        OPERATOR,
        &json!({"event_types": ["call.ended"], "plugin": "google-sheets", "endpoint_url": format!("{}/", sheets.url),
                "connections": ["google"],
                "config": {"spreadsheet_id": "sheet_1", "api_base": sheets.url, "columns": ["call.id"]}}),
    );
    assert_eq!(status, 201, "{body}");
}

#[test]
fn a_sheet_gets_every_calls_row_at_call_centre_volume() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(
        &dir.path().join("data"),
        &[("GANCHO_CONNECTIONS__KEYS", "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")],
    );
    let sheets = SheetsStandIn::start(60);
    sheets_subscription(&service, &sheets);

    // 300 calls end at 10 a second.
    let started = Instant::now();
    for n in 0..300 {
        let (status, body) = service.post("/v1/events", INGEST, &call_ended("acme", &format!("e{n:03}")));
        assert_eq!(status, 202, "{body}");
        let next = started + Duration::from_millis(100 * (n + 1));
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    let last_posted = Instant::now();
    while sheets.rows().len() < 300 {
        assert!(
            last_posted.elapsed() < Duration::from_secs(90),
            "{} of 300 rows within 90 s of the last call ({} writes refused)",
            sheets.rows().len(),
            sheets.refused.load(Ordering::SeqCst)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "300 rows in {} writes, the last {:?} after the last call; {} writes refused",
        sheets.writes.lock().unwrap().len(),
        last_posted.elapsed(),
        sheets.refused.load(Ordering::SeqCst)
    );
    let mut rows = sheets.rows();
    rows.sort();
    rows.dedup();
    assert_eq!(rows.len(), 300, "none twice, none lost");
    let deliveries = service.wait_for_deliveries("acme", "", Duration::from_secs(10), |d| {
        d.len() == 300 && d.iter().all(|d| d["status"] == "succeeded")
    });
    for delivery in &deliveries {
        let own = delivery["attempts"].as_array().unwrap().iter().filter(|a| a["status_code"] != 429).count();
        assert_eq!(own, 1, "one attempt of its own, whatever the 429s: {delivery}");
    }
    let batched = deliveries.iter().filter(|d| d["batch_id"].is_string()).count();
    assert!(batched > 200, "most rows went out merged: {batched}");
}

#[test]
fn a_batch_refused_for_one_bad_row_lands_the_others_and_fails_the_bad_one_alone() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(
        &dir.path().join("data"),
        &[
            ("GANCHO_CONNECTIONS__KEYS", "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="),
            ("GANCHO_DELIVERY__RETRY__DELAYS_SECS", "[0, 1, 1]"),
        ],
    );
    let sheets = SheetsStandIn::start(1_000);
    sheets_subscription(&service, &sheets);
    // Budgeted at 60 a minute, the first goes alone and the next 19 wait together for the next slot.
    for n in 0..20 {
        let id = if n == 12 { "bad".to_owned() } else { format!("e{n:03}") };
        let (status, body) = service.post("/v1/events", INGEST, &call_ended("acme", &id));
        assert_eq!(status, 202, "{body}");
    }
    let deliveries = service.wait_for_deliveries("acme", "", Duration::from_secs(60), |d| {
        d.len() == 20 && d.iter().all(|d| d["status"] == "succeeded" || d["status"] == "dead")
    });
    let mut rows = sheets.rows();
    rows.sort();
    assert_eq!(rows.len(), 19, "every good row once: {rows:?}");
    assert!(!rows.contains(&"cl_bad".to_owned()));
    let bad = deliveries.iter().find(|d| d["event_id"] == "bad").unwrap();
    assert_eq!(bad["status"], "dead", "{bad}");
    let last = bad["attempts"].as_array().unwrap().last().unwrap();
    assert_eq!(last["status_code"], 400, "{bad}");
    assert!(
        last["response"].as_str().unwrap().contains("Invalid value at 'data.values[0]'"),
        "alone at last: {bad}"
    );
}

/// A stand-in for HubSpot's CRM API allowing 100 requests per 10 s (429 over it), with its batch
/// endpoints: keeps the `from` number of every call created, one by one or in a batch.
struct HubSpotStandIn {
    url: String,
    calls: Arc<Mutex<Vec<String>>>,
    requests: Arc<AtomicU32>,
    refused: Arc<AtomicU32>,
    _runtime: tokio::runtime::Runtime,
}

impl HubSpotStandIn {
    fn start() -> HubSpotStandIn {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let address = listener.local_addr().unwrap();
        let calls: Arc<Mutex<Vec<String>>> = Arc::default();
        let (requests, refused) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
        let window: Arc<Mutex<Vec<Instant>>> = Arc::default();
        let (c, q, r, w) = (calls.clone(), requests.clone(), refused.clone(), window.clone());
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri, body: axum::body::Bytes| {
            let (calls, requests, refused, window) = (c.clone(), q.clone(), r.clone(), w.clone());
            async move {
                let now = Instant::now();
                {
                    let mut window = window.lock().unwrap();
                    window.retain(|at| now.duration_since(*at) < Duration::from_secs(10));
                    if window.len() >= 100 {
                        refused.fetch_add(1, Ordering::SeqCst);
                        return (axum::http::StatusCode::TOO_MANY_REQUESTS, r#"{"category":"RATE_LIMITS"}"#);
                    }
                    window.push(now);
                }
                requests.fetch_add(1, Ordering::SeqCst);
                let body: Value = serde_json::from_slice(&body).unwrap_or_default();
                let path = uri.path();
                if path.starts_with("/crm/v3/objects/calls") {
                    let inputs = match body["inputs"].as_array() {
                        Some(inputs) => inputs.clone(),
                        None => vec![body.clone()],
                    };
                    let mut calls = calls.lock().unwrap();
                    for input in inputs {
                        calls.push(
                            input["properties"]["hs_call_from_number"].as_str().unwrap_or("?").to_owned(),
                        );
                    }
                }
                (axum::http::StatusCode::OK, r#"{"status":"COMPLETE","results":[]}"#)
            }
        });
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        HubSpotStandIn { url: format!("http://{address}"), calls, requests, refused, _runtime: runtime }
    }
}

#[test]
fn hubspot_gets_every_call_in_batches_within_its_rate_limit() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(
        &dir.path().join("data"),
        &[("GANCHO_CONNECTIONS__KEYS", "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")],
    );
    let hubspot = HubSpotStandIn::start();
    let (status, _) = service.post("/v1/tenants", OPERATOR, &json!({"id": "acme", "name": "Acme"}));
    assert_eq!(status, 201);
    let wasm = support::plugin_bytes("hubspot");
    let (status, body) =
        service.post_raw("/v1/plugins/hubspot/versions", OPERATOR, "application/wasm", &wasm);
    assert_eq!(status, 201, "{body}");
    let (status, body) = service.post(
        "/v1/tenants/acme/connections",
        OPERATOR,
        &json!({"name": "hubspot", "hosts": ["127.0.0.1"], "budget": {"requests": 100, "per_secs": 10},
                "credential": {"kind": "header", "name": "authorization", "value": "Bearer pat-test"}}),
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = service.post(
        "/v1/tenants/acme/subscriptions",
        OPERATOR,
        &json!({"event_types": ["call.ended"], "plugin": "hubspot", "endpoint_url": format!("{}/", hubspot.url),
                "connections": ["hubspot"], "config": {"base_url": hubspot.url}}),
    );
    assert_eq!(status, 201, "{body}");

    // 400 answered calls from 400 numbers, posted as fast as the platform can: each a contact upsert and
    // a call engagement, 800 requests unmerged — 80 s of HubSpot's budget.
    for n in 0..400 {
        let mut event: Value = serde_json::from_str(gancho_sdk::testing::samples::CALL_ENDED).unwrap();
        event["tenant"] = json!("acme");
        event["id"] = json!(format!("evt_{n}"));
        event["data"]["call"]["from"] = json!(format!("+5491100{n:05}"));
        let (status, body) = service.post("/v1/events", INGEST, &event);
        assert_eq!(status, 202, "{body}");
    }
    let started = Instant::now();
    while hubspot.calls.lock().unwrap().len() < 400 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} of 400 calls in HubSpot ({} requests, {} refused)",
            hubspot.calls.lock().unwrap().len(),
            hubspot.requests.load(Ordering::SeqCst),
            hubspot.refused.load(Ordering::SeqCst)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut calls = hubspot.calls.lock().unwrap().clone();
    calls.sort();
    calls.dedup();
    assert_eq!(calls.len(), 400, "every call once");
    let requests = hubspot.requests.load(Ordering::SeqCst);
    println!("400 calls and contacts in {requests} requests, {:?}", started.elapsed());
    assert!(requests < 100, "batched: {requests} requests for 800 deliveries");
    assert_eq!(hubspot.refused.load(Ordering::SeqCst), 0, "kept within its rate limit");
}
