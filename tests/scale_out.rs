//! Several instances on one PostgreSQL database: any instance accepts events and any one delivers them;
//! one killed with SIGKILL under load has its claimed work taken over once its leases run out, so every
//! accepted event is delivered, and duplicates stay within what was in flight at the kill. An endpoint's
//! concurrency bound and rate limit hold for all instances together.
//!
//! Uses the PostgreSQL at `GANCHO_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`),
//! in a database of its own that it creates and drops.

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use support::database::TestDatabase;
use support::service::{INGEST, OPERATOR, Receiver, Service, missed_call};

#[test]
fn three_instances_share_the_work_and_survive_losing_one() {
    let database = TestDatabase::create();
    let url = database.url();
    let dir = tempfile::tempdir().unwrap();
    let settings = [("GANCHO_DATABASE_URL", url.as_str())];
    let mut instances: Vec<Service> =
        (0..3).map(|i| Service::start(&dir.path().join(format!("instance-{i}")), &settings)).collect();
    let receiver = Receiver::start();
    // Set up through one instance; the plugin version uploaded there is runnable on all.
    let subscription = instances[0].subscribe("acme", "slack", &["call.ended"], &receiver.url, json!({}));
    receiver.set_secret(subscription["secret"].as_str().unwrap());

    let urls: Vec<String> = instances.iter().map(|i| i.url.clone()).collect();
    let accepted = Arc::new(Mutex::new(HashSet::new()));
    let clients: Vec<_> = (0..3)
        .map(|client| {
            let (accepted, urls) = (accepted.clone(), urls.clone());
            std::thread::spawn(move || {
                for i in 0..200 {
                    let id = format!("evt_{client}_{i}");
                    // Round-robin over the instances (twice round at most); an instance that is gone is skipped.
                    for attempt in 0..2 * urls.len() {
                        let url = &urls[(client + i + attempt) % urls.len()];
                        let response = ureq::post(&format!("{url}/v1/events"))
                            .set("authorization", &format!("Bearer {INGEST}"))
                            .timeout(Duration::from_secs(5))
                            .send_json(missed_call("acme", &id));
                        // 202, or 200 for a duplicate: the killed instance stored it but died before answering.
                        if matches!(&response, Ok(r) if r.status() == 202 || r.status() == 200) {
                            accepted.lock().unwrap().insert(id.clone());
                            break;
                        }
                    }
                }
            })
        })
        .collect();
    while accepted.lock().unwrap().len() < 150 {
        std::thread::sleep(Duration::from_millis(5));
    }
    instances[1].kill();
    for client in clients {
        client.join().unwrap();
    }
    let accepted = accepted.lock().unwrap().clone();
    assert_eq!(accepted.len(), 600, "the surviving instances accept every event");

    let deliveries =
        instances[2].wait_for_deliveries("acme", "&status=succeeded", Duration::from_secs(90), |d| {
            let delivered: HashSet<&str> = d.iter().filter_map(|d| d["event_id"].as_str()).collect();
            accepted.iter().all(|id| delivered.contains(id.as_str()))
        });
    let delivered_events: HashSet<&str> = deliveries.iter().filter_map(|d| d["event_id"].as_str()).collect();
    assert_eq!(delivered_events.len(), 600);

    let received = receiver.received();
    assert!(received.iter().all(|r| r.signature_valid));
    let mut per_delivery: HashMap<&str, usize> = HashMap::new();
    for r in &received {
        *per_delivery.entry(r.webhook_id.as_str()).or_default() += 1;
    }
    let duplicates: usize = per_delivery.values().map(|n| n - 1).sum();
    println!("{} deliveries received, {duplicates} duplicates", received.len());
    // Only what the killed instance had claimed and was sending can go out twice: at most one claimed batch.
    assert!(duplicates <= 256, "{duplicates} duplicate sends");
    assert_eq!(per_delivery.len(), 600, "one delivery per event");
}

/// Posts `count` missed calls for `acme`, round-robin over `instances`; all must be accepted.
fn post_round_robin(instances: &[Service], count: usize) {
    for i in 0..count {
        let (status, body) = instances[i % instances.len()].post(
            "/v1/events",
            INGEST,
            &missed_call("acme", &format!("evt_{i}")),
        );
        assert_eq!(status, 202, "{body}");
    }
}

#[test]
fn endpoint_limits_hold_across_instances() {
    let database = TestDatabase::create();
    let url = database.url();
    let dir = tempfile::tempdir().unwrap();
    let settings = [("GANCHO_DATABASE_URL", url.as_str())];
    let instances: Vec<Service> =
        (0..2).map(|i| Service::start(&dir.path().join(format!("instance-{i}")), &settings)).collect();
    // A slow endpoint allowed 3 requests at once, and a fast one allowed 10 per second.
    let (slow, throttled) = (Receiver::start(), Receiver::start());
    slow.set_delay(Duration::from_millis(150));
    for (receiver, limit) in [(&slow, json!({"max_in_flight": 3})), (&throttled, json!({"rate_limit": 10}))] {
        let subscription = instances[0].subscribe("acme", "slack", &["call.ended"], &receiver.url, json!({}));
        receiver.set_secret(subscription["secret"].as_str().unwrap());
        let id = subscription["id"].as_str().unwrap();
        let (status, body) =
            instances[1].patch(&format!("/v1/tenants/acme/subscriptions/{id}"), OPERATOR, &limit);
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["max_in_flight"], limit.get("max_in_flight").cloned().unwrap_or(json!(null)));
        assert_eq!(body["rate_limit"], limit.get("rate_limit").cloned().unwrap_or(json!(null)));
    }

    let events = 40;
    post_round_robin(&instances, events);
    let slow_received = slow.wait_for(events, Duration::from_secs(60));
    let throttled_received = throttled.wait_for(events, Duration::from_secs(60));
    assert!(slow_received.iter().chain(&throttled_received).all(|r| r.signature_valid));

    assert!(slow.most_open() <= 3, "{} requests open at once at the slow endpoint", slow.most_open());
    let mut arrivals: Vec<Instant> = throttled_received.iter().map(|r| r.at).collect();
    arrivals.sort();
    // A burst of one second's worth, then 10 per second: never more than 2 × 10 sent in any second. The
    // receiver sees sends a little late at times (a claim waits for its poll, a busy machine), which can bunch
    // a few more into one second; 5 more are allowed for that. Without the limit all 40 come at once.
    for (index, start) in arrivals.iter().enumerate() {
        let in_second = arrivals[index..]
            .iter()
            .take_while(|at| at.duration_since(*start) < Duration::from_secs(1))
            .count();
        assert!(in_second <= 25, "{in_second} requests within one second of request {index}");
    }
    let span = arrivals[events - 1].duration_since(arrivals[0]);
    assert!(span >= Duration::from_millis(2_500), "{events} requests at 10/s took only {span:?}");
    println!(
        "slow endpoint: at most {} open; throttled endpoint: {events} requests over {span:?}",
        slow.most_open()
    );
}
