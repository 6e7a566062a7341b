//! Ordered delivery lanes, as the phone platform's customer relies on them: a call's START, TALK and END
//! reach her system in that order, through a receiver that fails some attempts and answers slowly, on one
//! instance and on two PostgreSQL instances with one killed mid-run; a head that keeps failing holds only
//! its own call, is dead-lettered by its bound, and the call's next events follow it.

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::database::TestDatabase;
use support::service::{INGEST, OPERATOR, Service};

const CALL_STATES: [&str; 3] = ["call.started", "call.answered", "call.ended"];

/// What one accepted request said: which call, which state.
#[derive(Debug, Clone)]
struct Arrival {
    webhook_id: String,
    call: String,
    state: String,
    at: Instant,
}

/// A destination that fails a seeded share of attempts (503) and answers after a random delay — and
/// never fails one delivery more than three times in a row, so that nothing dies of bad luck. Requests
/// whose body names a call in `refuse` are always refused.
struct FlakyReceiver {
    url: String,
    accepted: Arc<Mutex<Vec<Arrival>>>,
    refuse: Arc<Mutex<HashSet<String>>>,
    _runtime: tokio::runtime::Runtime,
}

impl FlakyReceiver {
    fn start(fail_percent: u64, max_delay_ms: u64, seed: u64) -> FlakyReceiver {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let address = listener.local_addr().unwrap();
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let refuse = Arc::new(Mutex::new(HashSet::new()));
        let failures_in_a_row: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
        let random = Arc::new(AtomicU64::new(seed.max(1)));
        let (a, r) = (accepted.clone(), refuse.clone());
        let app =
            axum::Router::new().fallback(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let (accepted, refuse, failures, random) =
                    (a.clone(), r.clone(), failures_in_a_row.clone(), random.clone());
                async move {
                    let roll = next_random(&random);
                    tokio::time::sleep(Duration::from_millis(roll % (max_delay_ms + 1))).await;
                    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
                    let call = body["call_id"].as_str().unwrap_or_default().to_owned();
                    let state = body["state"].as_str().unwrap_or_default().to_owned();
                    let id = headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                    let refused = refuse.lock().unwrap().contains(&call);
                    let unlucky = {
                        let mut failures = failures.lock().unwrap();
                        let in_a_row = failures.entry(id.clone()).or_default();
                        let fail = (roll >> 16) % 100 < fail_percent && *in_a_row < 3;
                        *in_a_row = if fail { *in_a_row + 1 } else { 0 };
                        fail
                    };
                    if refused || unlucky {
                        return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "try later");
                    }
                    accepted.lock().unwrap().push(Arrival {
                        webhook_id: id,
                        call,
                        state,
                        at: Instant::now(),
                    });
                    (axum::http::StatusCode::OK, "ok")
                }
            });
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        FlakyReceiver { url: format!("http://{address}/calls"), accepted, refuse, _runtime: runtime }
    }

    fn accepted(&self) -> Vec<Arrival> {
        self.accepted.lock().unwrap().clone()
    }

    /// Waits until `count` distinct deliveries were accepted, or panics after `timeout`.
    fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Arrival> {
        let started = Instant::now();
        loop {
            let accepted = self.accepted();
            let distinct: HashSet<&str> = accepted.iter().map(|a| a.webhook_id.as_str()).collect();
            if distinct.len() >= count {
                return accepted;
            }
            assert!(
                started.elapsed() < timeout,
                "{} of {count} deliveries accepted in {timeout:?}",
                distinct.len()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// xorshift64: a seeded sequence, so a run's share of failures is the same every time.
fn next_random(state: &AtomicU64) -> u64 {
    let mut x = state.load(Ordering::Relaxed);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    state.store(x, Ordering::Relaxed);
    x
}

/// Sets up tenant `acme` with the template plugin posting `{"call_id", "state"}` for every call event to
/// `endpoint`, ordered by `call.id`; returns the subscription.
fn ordered_subscription(service: &Service, endpoint: &str) -> Value {
    let (status, _) = service.post("/v1/tenants", OPERATOR, &json!({"id": "acme", "name": "Acme"}));
    assert!(status == 201 || status == 409);
    let wasm = support::plugin_bytes("template");
    let (status, body) =
        service.post_raw("/v1/plugins/template/versions", OPERATOR, "application/wasm", &wasm);
    assert_eq!(status, 201, "{body}");
    let request = json!({
        "event_types": ["call.*"],
        "plugin": "template",
        "endpoint_url": endpoint,
        "ordering_key": "call.id",
        "config": {
            "format": "json",
            "method": "POST",
            "url": endpoint,
            "event_types": CALL_STATES,
            "template": "{\"call_id\": \"{{call.id}}\", \"state\": \"{{event.type}}\"}"
        }
    });
    let (status, subscription) = service.post("/v1/tenants/acme/subscriptions", OPERATOR, &request);
    assert_eq!(status, 201, "{subscription}");
    assert_eq!(subscription["ordering"]["key"], "call.id", "{subscription}");
    subscription
}

/// One state of a call, as the phone platform posts it.
fn call_event(call: &str, state: &str) -> Value {
    json!({
        "id": format!("evt_{call}_{state}"),
        "type": state,
        "tenant": "acme",
        "timestamp": "2026-11-21T14:00:00Z",
        "data": {"call": {"id": call, "from": "+5491155551234", "status": "answered"}}
    })
}

/// Posts every call's START, TALK and END — each after the previous one's 202, as the platform does —
/// from `threads` threads at once, the calls interleaved; `urls` are the instances, taken in turn (one that
/// is gone is skipped). Returns the calls.
fn post_calls(urls: &[String], calls: usize, threads: usize) -> Vec<String> {
    let names: Vec<String> = (0..calls).map(|n| format!("cl_{n:03}")).collect();
    let workers: Vec<_> = (0..threads)
        .map(|thread| {
            let mine: Vec<String> = names.iter().skip(thread).step_by(threads).cloned().collect();
            let urls = urls.to_vec();
            std::thread::spawn(move || {
                for (turn, state) in CALL_STATES.iter().enumerate() {
                    for (n, call) in mine.iter().enumerate() {
                        post_until_accepted(&urls, thread + n + turn, &call_event(call, state));
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    names
}

fn post_until_accepted(urls: &[String], first: usize, event: &Value) {
    for attempt in 0..4 * urls.len() {
        let url = &urls[(first + attempt) % urls.len()];
        let response = ureq::post(&format!("{url}/v1/events"))
            .set("authorization", &format!("Bearer {INGEST}"))
            .timeout(Duration::from_secs(5))
            .send_json(event.clone());
        // 200: a duplicate, stored by an instance that died before answering.
        if matches!(&response, Ok(r) if r.status() == 202 || r.status() == 200) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no instance accepted {event}");
}

/// Each call's states in the order they were first accepted (a delivery sent twice after a crash counts
/// where it first arrived).
fn states_per_call(arrivals: &[Arrival]) -> HashMap<String, Vec<String>> {
    let mut seen = HashSet::new();
    let mut per_call: HashMap<String, Vec<String>> = HashMap::new();
    for arrival in arrivals {
        if seen.insert(arrival.webhook_id.clone()) {
            per_call.entry(arrival.call.clone()).or_default().push(arrival.state.clone());
        }
    }
    per_call
}

fn assert_every_call_in_order(calls: &[String], arrivals: &[Arrival]) {
    let per_call = states_per_call(arrivals);
    let out_of_order: Vec<_> = calls
        .iter()
        .filter(|call| per_call.get(*call).map(Vec::as_slice) != Some(&CALL_STATES.map(String::from)[..]))
        .map(|call| (call, per_call.get(call)))
        .collect();
    assert!(
        out_of_order.is_empty(),
        "{} calls out of order or incomplete: {out_of_order:?}",
        out_of_order.len()
    );
}

/// Retries quickly and often enough that a seeded failure never kills a delivery.
const PATIENT_RETRIES: (&str, &str) =
    ("GANCHO_DELIVERY__RETRY__DELAYS_SECS", "[0, 1, 1, 1, 1, 1, 1, 1, 1, 1]");

#[test]
fn a_calls_events_arrive_in_order_through_a_flaky_slow_receiver() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(&dir.path().join("data"), &[PATIENT_RETRIES]);
    let receiver = FlakyReceiver::start(15, 30, 0x5eed);
    ordered_subscription(&service, &receiver.url);

    let calls = post_calls(std::slice::from_ref(&service.url), 100, 4);
    let arrivals = receiver.wait_for(calls.len() * 3, Duration::from_secs(120));
    assert_every_call_in_order(&calls, &arrivals);
    let retried = arrivals.len();
    println!("{} calls, {} deliveries accepted in order", calls.len(), retried);

    // Each delivery says which key it was ordered by.
    let (_, deliveries) = service.get("/v1/tenants/acme/deliveries?limit=5", OPERATOR);
    assert!(deliveries[0]["ordering_key"].as_str().is_some_and(|key| key.starts_with("cl_")), "{deliveries}");
}

#[test]
fn a_failing_head_holds_only_its_call_until_its_bound_then_the_call_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    // The bound, 6 s here, cuts the head's retries short (they would go on for 9 s).
    let service = Service::start(
        &dir.path().join("data"),
        &[PATIENT_RETRIES, ("GANCHO_DELIVERY__ORDERING_MAX_HOLD_SECS", "6")],
    );
    let receiver = FlakyReceiver::start(0, 5, 1);
    receiver.refuse.lock().unwrap().insert("cl_stuck".to_owned());
    let subscription = ordered_subscription(&service, &receiver.url);
    let subscription_id = subscription["id"].as_str().unwrap().to_owned();

    post_until_accepted(std::slice::from_ref(&service.url), 0, &call_event("cl_stuck", "call.started"));
    let head_failing_since = Instant::now();
    // The stuck call's next states wait behind its head; 20 other calls flow meanwhile.
    for state in &CALL_STATES[1..] {
        post_until_accepted(std::slice::from_ref(&service.url), 0, &call_event("cl_stuck", state));
    }
    let others = post_calls(std::slice::from_ref(&service.url), 20, 2);

    // While it fails, the subscription shows the blocked key and the head can be listed.
    let started = Instant::now();
    let lanes = loop {
        let (_, shown) = service.get(&format!("/v1/tenants/acme/subscriptions/{subscription_id}"), OPERATOR);
        let lanes = shown["ordering"]["lanes"].clone();
        if lanes["blocked_keys"] == 1 && lanes["waiting_behind"] == 2 {
            break lanes;
        }
        assert!(started.elapsed() < Duration::from_secs(3), "no blocked key shown: {shown}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(lanes["oldest_blocked_head"]["key"], "cl_stuck", "{lanes}");
    assert_eq!(lanes["waiting_behind"], 2, "TALK and END wait behind START: {lanes}");
    let (_, holding) = service.get("/v1/tenants/acme/deliveries?holding_key=true", OPERATOR);
    let holding = holding.as_array().unwrap();
    assert_eq!(holding.len(), 1, "{holding:?}");
    assert_eq!(holding[0]["event_id"], "evt_cl_stuck_call.started");
    let head_id = holding[0]["id"].as_str().unwrap().to_owned();

    // Every other call was delivered, in order, while the head was still failing.
    let arrivals = receiver.wait_for(60, Duration::from_secs(30));
    let others_done = arrivals.iter().map(|a| a.at).max().unwrap();
    assert_every_call_in_order(&others, &arrivals);
    let (_, head) = service.get(&format!("/v1/tenants/acme/deliveries/{head_id}"), OPERATOR);
    assert_eq!(head["status"], "failed", "the head still holds its key when the others are done: {head}");
    println!(
        "other calls done {:?} after the head began failing",
        others_done.duration_since(head_failing_since)
    );

    // At the bound the head is dead, saying why, and the call's TALK and END follow in order.
    let deliveries = service.wait_for_deliveries("acme", "", Duration::from_secs(30), |d| {
        d.iter().any(|d| d["id"] == head_id.as_str() && d["status"] == "dead")
    });
    let head = deliveries.iter().find(|d| d["id"] == head_id.as_str()).unwrap();
    let error = head["error"].as_str().unwrap_or_default();
    assert!(error.contains("ordering key `cl_stuck`") && error.contains("ordering_max_hold_secs"), "{head}");
    let attempts = head["attempts"].as_array().unwrap().len();
    assert!((3..10).contains(&attempts), "the bound cut its retries short: {attempts} attempts");
    receiver.refuse.lock().unwrap().clear();
    let arrivals = receiver.wait_for(62, Duration::from_secs(10));
    assert_eq!(states_per_call(&arrivals)["cl_stuck"], ["call.answered", "call.ended"]);
    let (_, shown) = service.get(&format!("/v1/tenants/acme/subscriptions/{subscription_id}"), OPERATOR);
    assert_eq!(shown["ordering"]["lanes"]["blocked_keys"], 0, "{shown}");

    // Retried by hand, the dead head is sent on its own: out of its lane, it blocks nothing.
    let (status, _) =
        service.post(&format!("/v1/tenants/acme/deliveries/{head_id}/retry"), OPERATOR, &json!({}));
    assert_eq!(status, 202);
    let arrivals = receiver.wait_for(63, Duration::from_secs(10));
    assert_eq!(states_per_call(&arrivals)["cl_stuck"], ["call.answered", "call.ended", "call.started"]);
    let (_, head) = service.get(&format!("/v1/tenants/acme/deliveries/{head_id}"), OPERATOR);
    assert_eq!(head["status"], "succeeded");
    assert!(head.get("ordering_key").is_none(), "{head}");
}

#[test]
fn ordering_key_and_hold_bound_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(&dir.path().join("data"), &[]);
    let subscription = ordered_subscription(&service, "http://127.0.0.1:9/x");
    let id = subscription["id"].as_str().unwrap();
    for (patch, field) in [
        (json!({"ordering_key": "call..id"}), "ordering_key"),
        (json!({"ordering_key": "event.data"}), "ordering_key"),
        (json!({"ordering_max_hold_secs": 5}), "ordering_max_hold_secs"),
    ] {
        let (status, body) = service.patch(&format!("/v1/tenants/acme/subscriptions/{id}"), OPERATOR, &patch);
        assert_eq!(status, 422, "{patch}: {body}");
        assert_eq!(body["error"]["field"], field, "{body}");
    }
    let (status, body) = service.patch(
        &format!("/v1/tenants/acme/subscriptions/{id}"),
        OPERATOR,
        &json!({"ordering_key": "event.tenant", "ordering_max_hold_secs": 600}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ordering"]["key"], "event.tenant");
    assert_eq!(body["ordering"]["max_hold_secs"], 600);
    let (status, body) = service.patch(
        &format!("/v1/tenants/acme/subscriptions/{id}"),
        OPERATOR,
        &json!({"ordering_key": null}),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.get("ordering").is_none(), "{body}");
}

#[test]
fn order_holds_on_two_postgres_instances_with_one_killed_mid_run() {
    let database = TestDatabase::create();
    let url = database.url();
    let dir = tempfile::tempdir().unwrap();
    let settings = [("GANCHO_DATABASE_URL", url.as_str()), PATIENT_RETRIES];
    let mut instances: Vec<Service> =
        (0..2).map(|i| Service::start(&dir.path().join(format!("instance-{i}")), &settings)).collect();
    let receiver = FlakyReceiver::start(15, 20, 0xfeed);
    ordered_subscription(&instances[0], &receiver.url);

    let urls: Vec<String> = instances.iter().map(|i| i.url.clone()).collect();
    let poster = std::thread::spawn(move || post_calls(&urls, 60, 3));
    // Kill one instance once a third of the deliveries are in, with work claimed and in flight.
    receiver.wait_for(60, Duration::from_secs(60));
    instances[1].kill();
    let calls = poster.join().unwrap();
    let arrivals = receiver.wait_for(calls.len() * 3, Duration::from_secs(120));
    assert_every_call_in_order(&calls, &arrivals);
    let distinct: HashSet<&str> = arrivals.iter().map(|a| a.webhook_id.as_str()).collect();
    println!(
        "{} deliveries, {} sends accepted (a send in flight at the kill may repeat)",
        distinct.len(),
        arrivals.len()
    );
    assert_eq!(distinct.len(), 180, "none lost");
}
