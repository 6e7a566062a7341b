//! The service end to end, as its users meet it: the real `gancho serve`, the real example plugins, and
//! a real receiver that checks every signature.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::service::{Behaviour, INGEST, OPERATOR, Receiver, Service, missed_call};

const WAIT: Duration = Duration::from_secs(30);

fn succeeded(deliveries: &[Value], count: usize) -> bool {
    deliveries.iter().filter(|d| d["status"] == "succeeded").count() >= count
}

#[test]
fn a_missed_call_reaches_slack_signed_once_even_if_posted_twice() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(&dir.path().join("data"), &[]);
    let receiver = Receiver::start();
    let subscription = service.subscribe("acme", "slack", &["call.*"], &receiver.url, json!({}));
    receiver.set_secret(subscription["secret"].as_str().unwrap());
    assert!(subscription["secret"].as_str().unwrap().starts_with("whsec_"));

    let event = missed_call("acme", "evt_missed_1");
    let (status, body) = service.post("/v1/events", INGEST, &event);
    assert_eq!((status, &body["id"]), (202, &json!("evt_missed_1")), "{body}");
    let (status, body) = service.post("/v1/events", INGEST, &event);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["duplicate"], true);

    let received = receiver.wait_for(1, WAIT);
    assert!(received[0].signature_valid, "signature does not verify: {:?}", received[0].headers);
    assert!(received[0].body.contains("Missed call"), "{}", received[0].body);
    assert_eq!(received[0].headers["content-type"], "application/json");
    let deliveries = service.wait_for_deliveries("acme", "&event_id=evt_missed_1", WAIT, |d| succeeded(d, 1));
    assert_eq!(deliveries.len(), 1, "{deliveries:#?}");
    assert_eq!(deliveries[0]["plugin"], "slack@1");
    assert_eq!(deliveries[0]["attempts"][0]["status_code"], 200);
    assert_eq!(deliveries[0]["id"], received[0].webhook_id);

    // An event the plugin has nothing to send for is recorded as skipped.
    let mut started: Value = serde_json::from_str(gancho_sdk::testing::samples::CALL_STARTED).unwrap();
    started["tenant"] = json!("acme");
    assert_eq!(service.post("/v1/events", INGEST, &started).0, 202);
    service.wait_for_deliveries("acme", "&status=skipped", WAIT, |d| d.len() == 1);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(receiver.received().len(), 1, "nothing more is sent");
}

#[test]
fn bad_input_gets_a_clear_error_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(&dir.path().join("data"), &[("GANCHO_INGEST__MAX_BODY_BYTES", "4096")]);
    let receiver = Receiver::start();
    let subscription = service.subscribe("acme", "slack", &["*"], &receiver.url, json!({}));

    let (status, body) = service.post_raw("/v1/events", INGEST, "application/json", b"{\"id\": ");
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_json")), "{body}");
    let mut no_timestamp = missed_call("acme", "evt_bad_1");
    no_timestamp.as_object_mut().unwrap().remove("timestamp");
    let (status, body) = service.post("/v1/events", INGEST, &no_timestamp);
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("timestamp")), "{body}");
    let mut bad_time = missed_call("acme", "evt_bad_2");
    bad_time["timestamp"] = json!("yesterday");
    let (status, body) = service.post("/v1/events", INGEST, &bad_time);
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("timestamp")), "{body}");
    let (status, body) = service.post("/v1/events", INGEST, &missed_call("nobody", "evt_bad_3"));
    assert_eq!((status, body["error"]["field"].as_str()), (404, Some("tenant")), "{body}");
    let mut huge = missed_call("acme", "evt_bad_4");
    huge["data"]["padding"] = json!("x".repeat(5000));
    let (status, body) = service.post("/v1/events", INGEST, &huge);
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("payload_too_large")), "{body}");
    let (status, body) = service.post_raw("/v1/events", INGEST, "text/plain", b"{}");
    assert_eq!(status, 415, "{body}");
    let (status, _) = service.post("/v1/events", "wrong-token", &missed_call("acme", "evt_bad_5"));
    assert_eq!(status, 401);
    let (status, body) =
        service.post_raw("/v1/plugins/broken/versions", OPERATOR, "application/wasm", b"\0asm garbage");
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("invalid_plugin")), "{body}");
    let (status, body) = service.post(
        "/v1/tenants/acme/subscriptions",
        OPERATOR,
        &json!({"event_types": ["Call Ended"], "plugin": "slack", "endpoint_url": receiver.url}),
    );
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("event_types")), "{body}");
    let (status, body) = service.post(
        "/v1/tenants/acme/subscriptions",
        OPERATOR,
        &json!({"event_types": ["*"], "plugin": "slack@9", "endpoint_url": receiver.url}),
    );
    assert_eq!((status, body["error"]["field"].as_str()), (404, Some("plugin")), "{body}");
    for (limit, field) in
        [(json!({"max_in_flight": 0}), "max_in_flight"), (json!({"rate_limit": 1_000_000}), "rate_limit")]
    {
        let mut request = json!({"event_types": ["*"], "plugin": "slack", "endpoint_url": receiver.url});
        request.as_object_mut().unwrap().extend(limit.as_object().unwrap().clone());
        let (status, body) = service.post("/v1/tenants/acme/subscriptions", OPERATOR, &request);
        assert_eq!((status, body["error"]["field"].as_str()), (422, Some(field)), "{body}");
        let id = subscription["id"].as_str().unwrap();
        let (status, body) = service.patch(&format!("/v1/tenants/acme/subscriptions/{id}"), OPERATOR, &limit);
        assert_eq!((status, body["error"]["field"].as_str()), (422, Some(field)), "{body}");
    }

    // None of it left a record: a good event after all that is the only delivery.
    assert_eq!(service.post("/v1/events", INGEST, &missed_call("acme", "evt_good")).0, 202);
    receiver.wait_for(1, WAIT);
    let deliveries = service.wait_for_deliveries("acme", "", WAIT, |d| succeeded(d, 1));
    assert_eq!(deliveries.len(), 1, "{deliveries:#?}");
    assert_eq!(deliveries[0]["event_id"], "evt_good");
    assert!(service.get("/v1/plugins/broken/versions", OPERATOR).0 == 404);
}

#[test]
fn a_platform_that_buffers_posts_a_batch_and_learns_what_became_of_each_event() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(
        &dir.path().join("data"),
        &[
            ("GANCHO_INGEST__MAX_BODY_BYTES", "4096"),
            ("GANCHO_INGEST__BATCH_MAX_EVENTS", "8"),
            ("GANCHO_INGEST__BATCH_MAX_BYTES", "32768"),
        ],
    );
    let receiver = Receiver::start();
    service.subscribe("acme", "slack", &["call.*"], &receiver.url, json!({}));
    assert_eq!(service.post("/v1/events", INGEST, &missed_call("acme", "evt_before")).0, 202);

    let mut bad_time = missed_call("acme", "evt_b_bad");
    bad_time["timestamp"] = json!("yesterday");
    let mut huge = missed_call("acme", "evt_b_huge");
    huge["data"]["padding"] = json!("x".repeat(5000));
    let batch = json!([
        missed_call("acme", "evt_b1"),
        bad_time,
        missed_call("acme", "evt_before"),
        missed_call("nobody", "evt_b_nobody"),
        huge,
        missed_call("acme", "evt_b2"),
        missed_call("acme", "evt_b1"),
    ]);
    let (status, body) = service.post("/v1/events", INGEST, &batch);
    assert_eq!(status, 200, "{body}");
    assert_eq!((&body["accepted"], &body["duplicates"], &body["refused"]), (&json!(2), &json!(2), &json!(3)));
    let results = body["results"].as_array().unwrap();
    let summary: Vec<(u64, Option<&str>, Option<&str>)> = results
        .iter()
        .map(|item| (item["status"].as_u64().unwrap(), item["id"].as_str(), item["error"]["field"].as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            (202, Some("evt_b1"), None),
            (422, None, Some("timestamp")),
            (200, Some("evt_before"), None),
            (404, Some("evt_b_nobody"), Some("tenant")),
            (413, None, None),
            (202, Some("evt_b2"), None),
            (200, Some("evt_b1"), None),
        ],
        "{body:#}"
    );
    assert_eq!(results[4]["error"]["code"], "payload_too_large");
    assert!(results.iter().enumerate().all(|(index, item)| item["index"] == index));

    // The two accepted events are delivered, once each; nothing of the refused ones is stored.
    receiver.wait_for(3, WAIT);
    let deliveries = service.wait_for_deliveries("acme", "", WAIT, |d| succeeded(d, 3));
    let mut events: Vec<&str> = deliveries.iter().map(|d| d["event_id"].as_str().unwrap()).collect();
    events.sort();
    assert_eq!(events, ["evt_b1", "evt_b2", "evt_before"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(receiver.received().len(), 3, "each accepted event once");

    // The batch as a whole is bounded before any event in it is read.
    let nine: Vec<Value> = (0..9).map(|i| missed_call("acme", &format!("evt_n{i}"))).collect();
    let (status, body) = service.post("/v1/events", INGEST, &json!(nine));
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("batch_too_large")), "{body}");
    let padding = format!("[{}]", vec![" "; 40_000].concat());
    let (status, body) = service.post_raw("/v1/events", INGEST, "application/json", padding.as_bytes());
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("payload_too_large")), "{body}");
    let (status, body) = service.post("/v1/events", INGEST, &json!([]));
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("empty_batch")), "{body}");
    let (status, body) = service.post_raw("/v1/events", INGEST, "application/json", b"[{\"id\": 1},");
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_json")), "{body}");
    let (_, listed) = service.get("/v1/tenants/acme/deliveries", OPERATOR);
    assert_eq!(listed.as_array().map(Vec::len), Some(3), "{listed:#}");
}

#[test]
fn a_receiver_that_fails_then_recovers_gets_everything() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(&dir.path().join("data"), &[]);
    let receiver = Receiver::start();
    let subscription = service.subscribe("acme", "slack", &["call.ended"], &receiver.url, json!({}));
    receiver.set_secret(subscription["secret"].as_str().unwrap());
    receiver.set_behaviour(Behaviour::FailNext(12));
    for i in 0..20 {
        assert_eq!(service.post("/v1/events", INGEST, &missed_call("acme", &format!("evt_{i}"))).0, 202);
    }
    let received = receiver.wait_for(20, WAIT);
    assert!(received.iter().all(|r| r.signature_valid));
    let mut ids: Vec<_> = received.iter().map(|r| r.webhook_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "every delivery once");
    let deliveries = service.wait_for_deliveries("acme", "", WAIT, |d| succeeded(d, 20));
    let retried = deliveries.iter().filter(|d| d["attempts"].as_array().unwrap().len() > 1).count();
    assert!(retried > 0, "some deliveries needed more than one attempt");
    let failed_attempt = deliveries
        .iter()
        .flat_map(|d| d["attempts"].as_array().unwrap().iter())
        .find(|a| a["status_code"] == 503)
        .expect("a failed attempt is recorded");
    assert!(failed_attempt["latency_ms"].is_u64());
}

#[test]
fn gone_endpoints_disable_the_subscription_and_dead_deliveries_can_be_retried() {
    let dir = tempfile::tempdir().unwrap();
    let service =
        Service::start(&dir.path().join("data"), &[("GANCHO_DELIVERY__RETRY__DELAYS_SECS", "[0, 1]")]);
    let receiver = Receiver::start();
    let subscription = service.subscribe("acme", "slack", &["call.ended"], &receiver.url, json!({}));
    let id = subscription["id"].as_str().unwrap();
    receiver.set_secret(subscription["secret"].as_str().unwrap());

    // 500 twice: the schedule (two attempts) runs out and the delivery is dead.
    receiver.set_behaviour(Behaviour::Always(500));
    service.post("/v1/events", INGEST, &missed_call("acme", "evt_dead"));
    let dead = service.wait_for_deliveries("acme", "&status=dead", WAIT, |d| d.len() == 1);
    assert_eq!(dead[0]["attempts"].as_array().unwrap().len(), 2);
    receiver.set_behaviour(Behaviour::Accept);
    let (status, _) = service.post(
        &format!("/v1/tenants/acme/deliveries/{}/retry", dead[0]["id"].as_str().unwrap()),
        OPERATOR,
        &json!({}),
    );
    assert_eq!(status, 202);
    receiver.wait_for(1, WAIT);

    // 410 Gone: the subscription is disabled and says why.
    receiver.set_behaviour(Behaviour::Always(410));
    service.post("/v1/events", INGEST, &missed_call("acme", "evt_gone"));
    service.wait_for_deliveries("acme", "&event_id=evt_gone&status=dead", WAIT, |d| d.len() == 1);
    let (_, subscription) = service.get(&format!("/v1/tenants/acme/subscriptions/{id}"), OPERATOR);
    assert_eq!(subscription["enabled"], false, "{subscription}");
    assert!(subscription["disabled_reason"].as_str().unwrap().contains("410"), "{subscription}");

    // Re-enabled and replayed over a time range, the dead delivery goes through.
    receiver.set_behaviour(Behaviour::Accept);
    let (status, _) =
        service.patch(&format!("/v1/tenants/acme/subscriptions/{id}"), OPERATOR, &json!({"enabled": true}));
    assert_eq!(status, 200);
    let (status, body) = service.post(
        &format!("/v1/tenants/acme/subscriptions/{id}/replay"),
        OPERATOR,
        &json!({"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}),
    );
    assert_eq!((status, body["replayed"].as_u64()), (202, Some(1)), "{body}");
    let received = receiver.wait_for(2, WAIT);
    assert!(received.iter().all(|r| r.signature_valid));
}

#[test]
fn a_rotated_secret_keeps_the_old_one_valid_during_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(&dir.path().join("data"), &[]);
    let receiver = Receiver::start();
    let subscription = service.subscribe("acme", "slack", &["call.ended"], &receiver.url, json!({}));
    let old_secret = subscription["secret"].as_str().unwrap().to_owned();
    let (status, rotated) = service.patch(
        &format!("/v1/tenants/acme/subscriptions/{}", subscription["id"].as_str().unwrap()),
        OPERATOR,
        &json!({"rotate_secret": true}),
    );
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, old_secret);
    receiver.set_secret(&old_secret);
    service.post("/v1/events", INGEST, &missed_call("acme", "evt_rotated"));
    let received = receiver.wait_for(1, WAIT);
    let signature = &received[0].headers["webhook-signature"];
    assert_eq!(signature.split(' ').count(), 2, "both signatures are sent: {signature}");
    assert!(received[0].signature_valid, "the old secret still verifies");
    let r = &received[0];
    let timestamp: i64 = r.headers["webhook-timestamp"].parse().unwrap();
    assert!(gancho::delivery::signing::verify(
        &new_secret,
        &r.webhook_id,
        timestamp,
        r.body.as_bytes(),
        signature
    ));
}

#[test]
fn private_destinations_are_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(
        &dir.path().join("data"),
        &[("GANCHO_ALLOWED_DESTINATIONS", ""), ("GANCHO_DELIVERY__RETRY__DELAYS_SECS", "[0]")],
    );
    let receiver = Receiver::start();
    service.subscribe(
        "acme",
        "slack",
        &["call.ended"],
        &receiver.url.replace("127.0.0.1", "localhost"),
        json!({}),
    );
    service.post("/v1/events", INGEST, &missed_call("acme", "evt_ssrf"));
    let dead = service.wait_for_deliveries("acme", "&status=dead", WAIT, |d| d.len() == 1);
    // The tenant is told the destination was refused and why in general terms; what `localhost` resolves
    // to, and its range, are only in the operator's log.
    let error = dead[0]["attempts"][0]["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("destination localhost was refused"), "{error}");
    assert!(!error.contains("127.0.0.1") && !error.contains("::1") && !error.contains("range"), "{error}");
    let log = std::fs::read_to_string(service.data_dir.with_extension("log")).unwrap();
    assert!(log.contains("destination localhost (") && log.contains("loopback range"), "{log}");
    assert!(receiver.received().is_empty());
}

#[test]
fn tenants_see_only_their_own_subscriptions_and_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(&dir.path().join("data"), &[]);
    let receiver = Receiver::start();
    service.subscribe("acme", "slack", &["call.ended"], &receiver.url, json!({}));
    service.subscribe("globex", "slack", &["call.ended"], &receiver.url, json!({}));
    let (status, key) = service.post("/v1/tenants/acme/keys", OPERATOR, &json!({}));
    assert_eq!(status, 201);
    let key = key["key"].as_str().unwrap().to_owned();
    assert_eq!(service.get("/v1/tenants/acme/subscriptions", &key).0, 200);
    assert_eq!(service.get("/v1/tenants/globex/subscriptions", &key).0, 404);
    assert_eq!(service.get("/v1/tenants/globex/deliveries", &key).0, 404);
    assert_eq!(service.post("/v1/tenants", &key, &json!({"id": "x", "name": "x"})).0, 403);
    assert_eq!(service.post("/v1/events", &key, &missed_call("acme", "evt_k")).0, 403);
}

#[test]
fn operations_endpoints_answer() {
    let dir = tempfile::tempdir().unwrap();
    let mut service = Service::start(&dir.path().join("data"), &[]);
    assert_eq!(service.get("/healthz", "").0, 200);
    assert_eq!(service.get("/readyz", "").0, 200);
    let (status, openapi) = service.get("/openapi.json", "");
    assert_eq!(status, 200);
    for path in ["/v1/events", "/v1/tenants/{tenant}/subscriptions", "/v1/tenants/{tenant}/deliveries"] {
        assert!(openapi["paths"].get(path).is_some(), "{path} missing from the OpenAPI document");
    }
    let receiver = Receiver::start();
    service.subscribe("acme", "slack", &["call.ended"], &receiver.url, json!({}));
    service.post("/v1/events", INGEST, &missed_call("acme", "evt_metrics"));
    receiver.wait_for(1, WAIT);
    service.wait_for_deliveries("acme", "", WAIT, |d| succeeded(d, 1));
    // The metrics are the scraper's: a token of their own, generated into the data directory when not set.
    let (status, refused) = service.get("/metrics", "");
    assert_eq!((status, refused["error"]["code"].as_str()), (401, Some("unauthorized")), "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("metrics_token"), "{refused}");
    assert_eq!(service.get("/metrics", INGEST).0, 401);
    let token = std::fs::read_to_string(service.data_dir.join("metrics.token")).unwrap();
    let (status, metrics) = service.get("/metrics", token.trim());
    assert_eq!(status, 200, "{metrics}");
    let metrics = metrics.as_str().unwrap().to_owned();
    for line in [
        "gancho_events_received_total{outcome=\"new\"} 1",
        "gancho_plugin_runs_total{outcome=\"ok\"} 1",
        "gancho_delivery_attempts_total{status=\"succeeded\"} 1",
        "gancho_deliveries_pending 0",
    ] {
        assert!(metrics.contains(line), "missing `{line}` in:\n{metrics}");
    }
    assert!(service.terminate(), "SIGTERM stops the service cleanly");
}

#[test]
fn finished_work_is_purged_after_the_retention_age() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(
        &dir.path().join("data"),
        &[("GANCHO_RETENTION__MAX_AGE_SECS", "1"), ("GANCHO_RETENTION__INTERVAL_SECS", "1")],
    );
    let receiver = Receiver::start();
    service.subscribe("acme", "slack", &["call.ended"], &receiver.url, json!({}));
    receiver.set_behaviour(Behaviour::Always(500));
    service.post("/v1/events", INGEST, &missed_call("acme", "evt_old"));
    // A delivery still being retried is kept however old it gets; once delivered, it goes.
    service.wait_for_deliveries("acme", "&status=failed", WAIT, |d| d.len() == 1);
    std::thread::sleep(Duration::from_millis(2_500));
    assert_eq!(
        service.get("/v1/tenants/acme/deliveries?status=failed", OPERATOR).1.as_array().map(Vec::len),
        Some(1)
    );
    receiver.set_behaviour(Behaviour::Accept);
    receiver.wait_for(1, WAIT);
    service.wait_for_deliveries("acme", "", WAIT, |d| d.is_empty());
    // The event went with it: the same id counts as new again.
    assert_eq!(service.post("/v1/events", INGEST, &missed_call("acme", "evt_old")).0, 202);
}

#[test]
fn a_weak_operator_token_is_refused_at_start_and_a_generated_one_is_strong() {
    let dir = tempfile::tempdir().unwrap();
    let serve = |token: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_gancho"));
        command.arg("serve");
        for (key, _) in std::env::vars().filter(|(key, _)| key.starts_with("GANCHO_")) {
            command.env_remove(key);
        }
        command.env("GANCHO_DATA_DIR", dir.path().join("data")).env("GANCHO_LISTEN", "127.0.0.1:0");
        if let Some(token) = token {
            command.env("GANCHO_OPERATOR_TOKEN", token);
        }
        command
    };
    // The old quick start's token, and a long one of two characters: refused, saying what to do.
    for weak in ["op", "abababababababababababababababababab"] {
        let mut child = serve(Some(weak)).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("gancho serve started with the operator token {weak:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let output = child.wait_with_output().unwrap();
        assert!(!output.status.success(), "{weak} was accepted");
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(said.contains("operator_token") && said.contains("openssl rand -hex 32"), "{said}");
    }
    // Left unset, one is generated (and kept), strong enough to start with.
    let mut child = serve(None).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let started = std::io::BufRead::lines(stderr)
        .map_while(Result::ok)
        .any(|line| line.starts_with("gancho: listening on "));
    let _ = child.kill();
    let _ = child.wait();
    assert!(started, "gancho serve did not start with a generated token");
    let generated = std::fs::read_to_string(dir.path().join("data/operator.token")).unwrap();
    assert_eq!(generated.trim().len(), 64);
}
