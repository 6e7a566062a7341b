//! Rolling out a new version of a customer's CRM mapping safely, as an integrator with the customer's key
//! does it: a dry run over the subscription's real past events shows what each candidate would change
//! (a renamed field by its path, the events a candidate newly fails on) and sends nothing; a canary of a
//! bad candidate rolls itself back and every event still reaches the CRM exactly once; a good candidate
//! is promoted after its clean events. And the same diff, locally, from the command line.

mod support;

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use support::service::{INGEST, OPERATOR, Receiver, Service};
use support::{plugin_bytes, plugin_path, repo_root};

const WAIT: Duration = Duration::from_secs(60);

/// Tenant `acme` with a key, its own plugin `acme/crm` at versions 1 (and the `later` ones), and a
/// subscription pinned to version 1 that sends to `receiver`. Returns the key and the subscription id.
fn acme_with_crm(service: &Service, receiver: &Receiver, later: &[&str]) -> (String, String) {
    let (status, body) = service.post("/v1/tenants", OPERATOR, &json!({"id": "acme", "name": "Acme"}));
    assert_eq!(status, 201, "{body}");
    let (status, body) = service.post("/v1/tenants/acme/keys", OPERATOR, &json!({}));
    assert_eq!(status, 201, "{body}");
    let key = body["key"].as_str().unwrap().to_owned();
    upload(service, &key, "crm-v1");
    let (status, subscription) = service.post(
        "/v1/tenants/acme/subscriptions",
        &key,
        &json!({"event_types": ["call.*", "chat.*"], "plugin": "acme/crm@1", "endpoint_url": receiver.url}),
    );
    assert_eq!(status, 201, "{subscription}");
    receiver.set_secret(subscription["secret"].as_str().unwrap());
    for plugin in later {
        upload(service, &key, plugin);
    }
    (key, subscription["id"].as_str().unwrap().to_owned())
}

fn upload(service: &Service, key: &str, plugin: &str) {
    let (status, body) = service.post_raw(
        "/v1/tenants/acme/plugins/crm/versions",
        key,
        "application/wasm",
        &plugin_bytes(plugin),
    );
    assert_eq!(status, 201, "uploading {plugin}: {body}");
}

/// An event of `acme`: a missed call, or (every `chat_every`-th) a closed chat.
fn event(n: usize, chat_every: usize) -> Value {
    let sample = if chat_every > 0 && n.is_multiple_of(chat_every) {
        gancho_sdk::testing::samples::CHAT_CLOSED
    } else {
        gancho_sdk::testing::samples::CALL_ENDED_MISSED
    };
    let mut event: Value = serde_json::from_str(sample).unwrap();
    event["tenant"] = json!("acme");
    event["id"] = json!(format!("evt_{n:03}"));
    event
}

fn post_events(service: &Service, range: std::ops::Range<usize>, chat_every: usize) {
    for n in range {
        let (status, body) = service.post("/v1/events", INGEST, &event(n, chat_every));
        assert_eq!(status, 202, "{body}");
    }
}

/// The event ids the receiver got, with how many times each.
fn received_ids(receiver: &Receiver) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for request in receiver.received() {
        assert!(request.signature_valid, "every request is signed: {request:?}");
        let body: Value = serde_json::from_str(&request.body).unwrap();
        *counts.entry(body["id"].as_str().unwrap().to_owned()).or_insert(0) += 1;
    }
    counts
}

fn wait_until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(started.elapsed() < WAIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Starts a dry run and waits for its report.
fn dry_run(service: &Service, key: &str, subscription: &str, request: Value) -> Value {
    let (status, started) =
        service.post(&format!("/v1/tenants/acme/subscriptions/{subscription}/dry-runs"), key, &request);
    assert_eq!(status, 202, "{started}");
    assert_eq!(started["status"], "running");
    let path = format!("/v1/tenants/acme/dry-runs/{}", started["id"].as_str().unwrap());
    wait_until("the dry run", || {
        let (status, view) = service.get(&path, key);
        assert_eq!(status, 200, "{view}");
        assert_ne!(view["status"], "failed", "{view}");
        (view["status"] == "done").then_some(view)
    })
}

fn paths(event: &Value) -> Vec<(String, String)> {
    event["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["path"].as_str().unwrap().to_owned(), c["kind"].as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn a_dry_run_over_past_events_shows_what_a_candidate_changes_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(dir.path(), &[]);
    let receiver = Receiver::start();
    let (key, subscription) = acme_with_crm(&service, &receiver, &["crm-v2", "crm-v3"]);
    // 50 real events through version 1: 40 calls, 10 chats.
    post_events(&service, 0..50, 5);
    service.wait_for_deliveries("acme", "", WAIT, |d| {
        d.len() == 50 && d.iter().all(|d| d["status"] == "succeeded")
    });
    assert_eq!(received_ids(&receiver).len(), 50);

    // Version 2 renames `type`: all 50 change, by that field's path, and each says from what to what.
    let report =
        dry_run(&service, &key, &subscription, json!({"candidate_version": 2, "events": {"last": 50}}));
    assert_eq!(
        (report["current"].as_str(), report["candidate"].as_str()),
        (Some("acme/crm@1"), Some("acme/crm@2"))
    );
    assert_eq!(report["events_total"], 50);
    assert_eq!(report["events_done"], 50);
    let summary = &report["summary"];
    assert_eq!((summary["events"].as_u64(), summary["changed"].as_u64()), (Some(50), Some(50)), "{summary}");
    let events = report["report"]["events"].as_array().unwrap();
    assert_eq!(events.len(), 50);
    for event in events {
        assert_eq!(
            paths(event),
            [
                ("requests[0].body.type".to_owned(), "removed".to_owned()),
                ("requests[0].body.event_type".to_owned(), "added".to_owned())
            ],
            "{event}"
        );
        assert_eq!(event["changes"][0]["before"], event["event_type"]);
    }

    // Version 3 fails on chats: 10 newly failing, with the plugin's error; the 40 calls are identical.
    let report =
        dry_run(&service, &key, &subscription, json!({"candidate_version": 3, "events": {"last": 50}}));
    let summary = &report["summary"];
    assert_eq!(
        (summary["identical"].as_u64(), summary["newly_failing"].as_u64()),
        (Some(40), Some(10)),
        "{summary}"
    );
    for event in report["report"]["events"].as_array().unwrap() {
        assert_eq!(
            (event["verdict"].as_str(), event["event_type"].as_str()),
            (Some("newly_failing"), Some("chat.closed"))
        );
        let message = event["candidate_error"]["message"].as_str().unwrap();
        assert!(message.contains("version 3 cannot map chat events"), "{message}");
    }

    // A candidate not uploaded (its bytes), over given events; and a bad request named by its field.
    let wasm = base64::engine::general_purpose::STANDARD.encode(plugin_bytes("crm-v2"));
    let report = dry_run(
        &service,
        &key,
        &subscription,
        json!({"wasm_base64": wasm, "events": {"ids": ["evt_001", "evt_002", "evt_nope"]}}),
    );
    assert_eq!(report["summary"]["changed"], 2, "{report}");
    assert_eq!(report["events_missing"], json!(["evt_nope"]), "{report}");
    assert!(report["candidate"].as_str().unwrap().starts_with("candidate sha256:"));
    let (status, body) = service.post(
        &format!("/v1/tenants/acme/subscriptions/{subscription}/dry-runs"),
        &key,
        &json!({"candidate_version": 2, "events": {"last": 0}}),
    );
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("events.last")), "{body}");
    let (status, body) = service.post(
        &format!("/v1/tenants/acme/subscriptions/{subscription}/dry-runs"),
        &key,
        &json!({"candidate_version": 9}),
    );
    assert_eq!((status, body["error"]["field"].as_str()), (404, Some("candidate_version")), "{body}");

    // The same from the command line, against the service.
    let output = Command::new(env!("CARGO_BIN_EXE_gancho"))
        .args([
            "plugin",
            "diff",
            "--service",
            &service.url,
            "--tenant",
            "acme",
            "--subscription",
            &subscription,
        ])
        .args(["--candidate-version", "2", "--last", "50"])
        .env("GANCHO_TOKEN", &key)
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{text}{stderr}");
    assert!(!stderr.contains("0 of 0"), "no progress line before the service counted the events: {stderr}");
    assert!(
        text.starts_with("acme/crm@1 → acme/crm@2: 50 events compared\n  0 identical, 50 changed"),
        "{text}"
    );
    assert!(
        text.contains("  - requests[0].body.type: \"call.ended\"\n  + requests[0].body.event_type:"),
        "{text}"
    );

    // Nothing was sent, and no delivery was made.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(receiver.received().len(), 50, "a dry run sends nothing");
    let (_, deliveries) = service.get("/v1/tenants/acme/deliveries?limit=1000", &key);
    assert_eq!(deliveries.as_array().unwrap().len(), 50, "a dry run stores no delivery");
}

#[test]
fn a_dry_run_over_one_event_named_ten_thousand_times_runs_it_once_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(dir.path(), &[]);
    let receiver = Receiver::start();
    let (key, subscription) = acme_with_crm(&service, &receiver, &["crm-v2"]);
    // One stored event of 100 KiB.
    let mut big = event(1, 0);
    big["id"] = json!("evt_big");
    big["data"]["notes"] = json!("x".repeat(100 << 10));
    assert_eq!(service.post("/v1/events", INGEST, &big).0, 202);
    service.wait_for_deliveries("acme", "", WAIT, |d| d.len() == 1);

    let before = service.peak_rss();
    let ids = vec!["evt_big"; 10_000];
    let report =
        dry_run(&service, &key, &subscription, json!({"candidate_version": 2, "events": {"ids": ids}}));
    assert_eq!((report["events_total"].as_u64(), report["events_done"].as_u64()), (Some(1), Some(1)));
    assert_eq!(report["summary"]["events"], 1, "{}", report["summary"]);
    // Each copy of the event used to stay in memory for the whole run: 1 GB here.
    let grown = service.peak_rss().saturating_sub(before);
    assert!(grown < 200 << 20, "the dry run took {} MiB more at its peak", grown >> 20);
}

fn rollout(service: &Service, key: &str, subscription: &str, id: &str) -> Value {
    let (status, view) =
        service.get(&format!("/v1/tenants/acme/subscriptions/{subscription}/rollouts/{id}"), key);
    assert_eq!(status, 200, "{view}");
    view
}

#[test]
fn a_failing_canary_rolls_back_by_itself_and_every_event_arrives_once() {
    let dir = tempfile::tempdir().unwrap();
    // A lease far longer than the re-runs take: `reruns_pending` must not wait for it.
    let service = Service::start(dir.path(), &[("GANCHO_WORKERS__LEASE_SECS", "30")]);
    let receiver = Receiver::start();
    let (key, subscription) = acme_with_crm(&service, &receiver, &["crm-v2", "crm-v3"]);
    let rollouts = format!("/v1/tenants/acme/subscriptions/{subscription}/rollouts");
    let (status, started) = service.post(
        &rollouts,
        &key,
        &json!({"candidate_version": 3, "percent": 20, "rules": {"min_events": 5, "max_plugin_error_increase": 0.1}}),
    );
    assert_eq!(status, 201, "{started}");
    assert_eq!(
        (started["current"].as_str(), started["candidate"].as_str()),
        (Some("acme/crm@1"), Some("acme/crm@3"))
    );
    let id = started["id"].as_str().unwrap().to_owned();
    let (_, read) = service.get(&format!("/v1/tenants/acme/subscriptions/{subscription}"), &key);
    assert_eq!((read["canary"]["version"].as_u64(), read["canary"]["percent"].as_u64()), (Some(3), Some(20)));
    let (status, body) = service.post(&rollouts, &key, &json!({"candidate_version": 2, "percent": 10}));
    assert_eq!(status, 409, "one rollout at a time: {body}");
    let (status, body) = service.patch(
        &format!("/v1/tenants/acme/subscriptions/{subscription}"),
        &key,
        &json!({"plugin": "acme/crm@2"}),
    );
    assert_eq!((status, body["error"]["field"].as_str()), (409, Some("plugin")), "{body}");

    // 100 events, half of them chats, which version 3 fails on.
    post_events(&service, 0..100, 2);
    let ended = wait_until("the rollback", || {
        let view = rollout(&service, &key, &subscription, &id);
        (view["state"] != "running").then_some(view)
    });
    let rolled_back_at = Instant::now();
    assert_eq!(
        (ended["state"].as_str(), ended["ended_by"].as_str()),
        (Some("rolled_back"), Some("rules")),
        "{ended}"
    );
    assert!(ended["reason"].as_str().unwrap().contains("the candidate acme/crm@3 failed on"), "{ended}");
    let candidate = &ended["figures"][1];
    assert!(candidate["plugin_errors"].as_u64().unwrap() >= 1, "{ended}");

    // Every event reaches the CRM exactly once: the candidate's failures were run again by version 1.
    let counts = wait_until("every event delivered", || {
        let counts = received_ids(&receiver);
        (counts.len() == 100).then_some(counts)
    });
    std::thread::sleep(Duration::from_secs(2));
    let counts_later = received_ids(&receiver);
    assert_eq!(counts_later.len(), 100);
    assert!(counts_later.values().all(|&n| n == 1), "no event twice: {counts:?}");
    let deliveries = service.wait_for_deliveries("acme", "", WAIT, |d| {
        d.iter().all(|d| d["status"] == "succeeded") && d.len() == 100
    });
    for delivery in &deliveries {
        let plugin = delivery["plugin"].as_str().unwrap();
        assert!(plugin == "acme/crm@1" || plugin == "acme/crm@3", "{delivery}");
    }
    let rerun = wait_until("the re-runs to be counted", || {
        let view = rollout(&service, &key, &subscription, &id);
        (view["reruns_pending"] == false).then_some(view)
    });
    let pending_for = rolled_back_at.elapsed();
    eprintln!("reruns_pending was true for {pending_for:?} after the rollback was seen (lease: 30 s)");
    assert!(pending_for < Duration::from_secs(20), "reruns_pending stayed true {pending_for:?}, not a lease");
    assert!(rerun["reruns"].as_u64().unwrap() >= candidate["plugin_errors"].as_u64().unwrap(), "{rerun}");

    // The candidate's failures stay readable after the re-runs replaced its deliveries: the event, the
    // kind, the plugin's message and its logs.
    let failures = rerun["failures"].as_array().expect("failures of a rolled-back candidate");
    assert!(!failures.is_empty() && failures.len() <= 50, "{rerun:#}");
    for failure in failures {
        let event = failure["event_id"].as_str().unwrap();
        let number: usize = event.trim_start_matches("evt_").parse().unwrap();
        assert!(number.is_multiple_of(2), "only chats failed: {failure}");
        assert_eq!(
            (failure["status"].as_str(), failure["error_kind"].as_str()),
            (Some("plugin_error"), Some("plugin_error_permanent")),
            "{failure}"
        );
        let message = failure["error"].as_str().unwrap();
        assert!(
            message.contains(&format!("version 3 cannot map chat events (chat.closed, event {event})")),
            "{message}"
        );
        assert_eq!(failure["logs"], json!([{"level": "warn", "message": "no mapping for chat.closed yet"}]));
        let replaced = service
            .get(&format!("/v1/tenants/acme/deliveries/{}", failure["delivery_id"].as_str().unwrap()), &key);
        assert_eq!(replaced.0, 404, "its delivery was replaced by the re-run: {replaced:?}");
    }
    let listed = service.get(&rollouts, &key).1;
    assert!(listed[0].get("failures").is_none(), "the list stays light: {listed}");
    let (_, read) = service.get(&format!("/v1/tenants/acme/subscriptions/{subscription}"), &key);
    assert_eq!((read["plugin"].as_str(), read.get("canary")), (Some("acme/crm@1"), None), "{read}");
    let (status, body) = service.post(&format!("{rollouts}/{id}/promote"), &key, &json!({}));
    assert_eq!(status, 409, "an ended rollout stays ended: {body}");
}

#[test]
fn a_clean_canary_is_promoted_after_its_clean_events() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(dir.path(), &[]);
    let receiver = Receiver::start();
    let (key, subscription) = acme_with_crm(&service, &receiver, &["crm-v2"]);
    let rollouts = format!("/v1/tenants/acme/subscriptions/{subscription}/rollouts");
    let (status, started) = service.post(
        &rollouts,
        &key,
        &json!({"candidate_version": 2, "percent": 50, "rules": {"min_events": 5, "promote_after": 5}}),
    );
    assert_eq!(status, 201, "{started}");
    let id = started["id"].as_str().unwrap().to_owned();
    // Events a few at a time, so that the candidate's deliveries are judged as they arrive.
    let mut next = 0;
    let promoted = wait_until("the promotion", || {
        post_events(&service, next..next + 5, 0);
        next += 5;
        let view = rollout(&service, &key, &subscription, &id);
        (view["state"] != "running").then_some(view)
    });
    assert_eq!(
        (promoted["state"].as_str(), promoted["ended_by"].as_str()),
        (Some("promoted"), Some("rules")),
        "{promoted}"
    );
    assert!(promoted["figures"][1]["delivered"].as_u64().unwrap() >= 5, "{promoted}");
    let (_, read) = service.get(&format!("/v1/tenants/acme/subscriptions/{subscription}"), &key);
    assert_eq!((read["plugin"].as_str(), read.get("canary")), (Some("acme/crm@2"), None), "{read}");

    // From now on every event runs version 2; each is delivered once.
    post_events(&service, 200..210, 0);
    let total = next + 10;
    let counts = wait_until("every event delivered", || {
        let counts = received_ids(&receiver);
        (counts.len() == total).then_some(counts)
    });
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
    let deliveries = service.wait_for_deliveries("acme", "", WAIT, |d| d.len() == total);
    let after: Vec<&Value> =
        deliveries.iter().filter(|d| d["event_id"].as_str().unwrap() >= "evt_200").collect();
    assert_eq!(after.len(), 10);
    assert!(after.iter().all(|d| d["plugin"] == "acme/crm@2"), "{after:?}");
    let (_, history) = service.get(&rollouts, &key);
    assert_eq!(history.as_array().unwrap().len(), 1);
}

#[test]
fn plugin_diff_prints_a_readable_report_of_two_builds_on_the_sample_events() {
    let samples = repo_root().join("plugin-sdk/samples");
    let diff = |current: &str, candidate: &str| {
        Command::new(env!("CARGO_BIN_EXE_gancho"))
            .args(["plugin", "diff"])
            .arg(plugin_path(current))
            .arg(plugin_path(candidate))
            .arg("--events")
            .arg(&samples)
            .env("GANCHO_CACHE_DIR", std::env::temp_dir().join("gancho-rollout-test-cache"))
            .output()
            .unwrap()
    };
    let output = diff("crm-v1", "crm-v3");
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(1), "differences exit 1: {text}");
    let events = std::fs::read_dir(&samples).unwrap().count();
    assert!(text.contains(&format!(": {events} events compared\n")), "{text}");
    assert!(
        text.contains(
            "\nevt_chat_closed_1 (chat.closed): newly failing\n  candidate fails (plugin_error_permanent): "
        ),
        "{text}"
    );
    assert!(
        text.contains("version 3 cannot map chat events (chat.closed, event evt_chat_closed_1)"),
        "{text}"
    );

    let output = diff("crm-v1", "crm-v2");
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("evt_call_ended (call.ended): changed\n  - requests[0].body.type: \"call.ended\"\n  + requests[0].body.event_type: \"call.ended\"\n"),
        "{text}"
    );

    let output = diff("crm-v1", "crm-v1");
    assert_eq!(output.status.code(), Some(0), "no change exits 0");
    assert!(String::from_utf8(output.stdout).unwrap().contains(&format!("{events} identical, 0 changed")));
}
