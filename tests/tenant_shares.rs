//! Two tenants on one service: `gamma`'s many subscriptions send to a host that accepts connections and
//! never answers, and `delta`'s events still reach its healthy receiver within a second each — a tenant's
//! stuck sends take its share of the sending capacity, never the whole of it. Tenants' quotas bound what
//! one can ask for: subscriptions, and replays started per hour.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::service::{INGEST, OPERATOR, Receiver, Service};

/// A host that accepts every connection and never answers: each request to it holds its send until the
/// delivery timeout.
struct BlackHole {
    url: String,
    _runtime: tokio::runtime::Runtime,
}

impl BlackHole {
    fn start() -> BlackHole {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let address = listener.local_addr().unwrap();
        runtime.spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        BlackHole { url: format!("http://{address}/never"), _runtime: runtime }
    }
}

fn template_config(endpoint: &str) -> Value {
    json!({
        "format": "json",
        "method": "POST",
        "url": endpoint,
        "event_types": ["call.ended"],
        "template": "{\"event\": \"{{event.id}}\", \"from\": \"{{call.from}}\"}"
    })
}

fn create_tenant(service: &Service, tenant: &str) {
    let (status, body) = service.post("/v1/tenants", OPERATOR, &json!({"id": tenant, "name": tenant}));
    assert_eq!(status, 201, "{body}");
}

fn subscribe(service: &Service, tenant: &str, endpoint: &str) -> (u16, Value) {
    service.post(
        &format!("/v1/tenants/{tenant}/subscriptions"),
        OPERATOR,
        &json!({"event_types": ["call.ended"], "plugin": "template", "endpoint_url": endpoint,
                "config": template_config(endpoint)}),
    )
}

fn call_ended(tenant: &str, id: &str) -> Value {
    json!({"id": id, "type": "call.ended", "tenant": tenant, "timestamp": "2026-11-21T14:00:00Z",
           "data": {"call": {"id": format!("cl_{id}"), "from": "+5491155551234"}}})
}

fn set_quotas(service: &Service, tenant: &str, quotas: Value) {
    let (status, body) =
        service.patch(&format!("/v1/tenants/{tenant}"), OPERATOR, &json!({"policy": {"quotas": quotas}}));
    assert_eq!(status, 200, "{body}");
}

#[test]
fn a_tenant_stuck_on_a_dead_host_does_not_delay_another() {
    let dir = tempfile::tempdir().unwrap();
    // Each stuck send holds its slot for 30 s, longer than the test: only the shares can make room.
    let service = Service::start(
        &dir.path().join("data"),
        &[("GANCHO_DELIVERY__TIMEOUT_SECS", "30"), ("GANCHO_WORKERS__LEASE_SECS", "60")],
    );
    let wasm = support::plugin_bytes("template");
    let (status, body) =
        service.post_raw("/v1/plugins/template/versions", OPERATOR, "application/wasm", &wasm);
    assert_eq!(status, 201, "{body}");
    let dead = BlackHole::start();
    let healthy = Receiver::start();
    create_tenant(&service, "gamma");
    create_tenant(&service, "delta");
    for _ in 0..4 {
        let (status, body) = subscribe(&service, "gamma", &dead.url);
        assert_eq!(status, 201, "{body}");
    }
    let (status, subscription) = subscribe(&service, "delta", &healthy.url);
    assert_eq!(status, 201, "{subscription}");
    healthy.set_secret(subscription["secret"].as_str().unwrap());

    // gamma: 200 events, 800 sends that hang — more than the instance's 512 slots.
    for n in 0..200 {
        let (status, body) = service.post("/v1/events", INGEST, &call_ended("gamma", &format!("g{n}")));
        assert_eq!(status, 202, "{body}");
    }
    let stuck_since = Instant::now();
    while stuck_since.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(100));
    }

    // delta: 20 events at 4 per second, each wanted at its receiver within a second.
    let mut posted = Vec::new();
    for n in 0..20 {
        let id = format!("d{n}");
        let (status, body) = service.post("/v1/events", INGEST, &call_ended("delta", &id));
        assert_eq!(status, 202, "{body}");
        posted.push((id, Instant::now()));
        std::thread::sleep(Duration::from_millis(250));
    }
    let received = healthy.wait_for(20, Duration::from_secs(20));
    let mut latencies: Vec<Duration> = posted
        .iter()
        .map(|(id, at)| {
            let arrival = received
                .iter()
                .find(|r| r.body.contains(&format!("\"{id}\"")))
                .unwrap_or_else(|| panic!("{id} not delivered"));
            assert!(arrival.signature_valid);
            arrival.at.duration_since(*at)
        })
        .collect();
    latencies.sort();
    println!("delta's ingest→receipt with gamma stuck: p50 {:?}, max {:?}", latencies[10], latencies[19]);
    assert!(latencies[19] < Duration::from_secs(1), "delta waited behind gamma: {latencies:?}");
}

#[test]
fn quotas_bound_subscriptions_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(&dir.path().join("data"), &[]);
    let wasm = support::plugin_bytes("template");
    let (status, body) =
        service.post_raw("/v1/plugins/template/versions", OPERATOR, "application/wasm", &wasm);
    assert_eq!(status, 201, "{body}");
    create_tenant(&service, "gamma");
    set_quotas(&service, "gamma", json!({"max_subscriptions": 2, "max_replays_per_hour": 2}));

    let endpoint = "http://127.0.0.1:9/x";
    let ids: Vec<String> = (0..2)
        .map(|_| {
            let (status, body) = subscribe(&service, "gamma", endpoint);
            assert_eq!(status, 201, "{body}");
            body["id"].as_str().unwrap().to_owned()
        })
        .collect();
    let (status, body) = subscribe(&service, "gamma", endpoint);
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "quota_exceeded", "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("max_subscriptions is 2"), "{body}");
    // Room again after a delete; the operator may raise it too.
    let (status, _) = service.delete(&format!("/v1/tenants/gamma/subscriptions/{}", ids[0]), OPERATOR);
    assert_eq!(status, 204);
    assert_eq!(subscribe(&service, "gamma", endpoint).0, 201);

    let replay = json!({"from": "2026-01-01T00:00:00Z", "to": "2026-12-31T00:00:00Z"});
    let path = format!("/v1/tenants/gamma/subscriptions/{}/replay", ids[1]);
    for _ in 0..2 {
        let (status, body) = service.post(&path, OPERATOR, &replay);
        assert_eq!(status, 202, "{body}");
    }
    let (status, body) = service.post(&path, OPERATOR, &replay);
    assert_eq!(status, 429, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("max_replays_per_hour is 2"), "{body}");
}
