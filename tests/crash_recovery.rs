//! Nothing accepted is lost: the service killed with SIGKILL in the middle of a load delivers every
//! event it answered 202 after a restart, and an event whose client hung up without reading the answer is
//! delivered all the same.

mod support;

use std::collections::HashSet;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use support::service::{INGEST, Receiver, Service, missed_call};

#[test]
fn every_accepted_event_survives_a_sigkill_mid_load() {
    let dir = tempfile::tempdir().unwrap();
    let mut service = Service::start(&dir.path().join("data"), &[]);
    let receiver = Receiver::start();
    let subscription = service.subscribe("acme", "slack", &["call.ended"], &receiver.url, json!({}));
    receiver.set_secret(subscription["secret"].as_str().unwrap());

    // Four clients post 400 events; the service is killed while they are at it.
    let accepted = Arc::new(Mutex::new(HashSet::new()));
    let url = service.url.clone();
    let clients: Vec<_> = (0..4)
        .map(|client| {
            let (accepted, url) = (accepted.clone(), url.clone());
            std::thread::spawn(move || {
                for i in 0..100 {
                    let id = format!("evt_{client}_{i}");
                    let response = ureq::post(&format!("{url}/v1/events"))
                        .set("authorization", &format!("Bearer {INGEST}"))
                        .timeout(Duration::from_secs(5))
                        .send_json(missed_call("acme", &id));
                    match response {
                        Ok(r) if r.status() == 202 => {
                            accepted.lock().unwrap().insert(id);
                        }
                        Ok(_) | Err(ureq::Error::Status(..)) => panic!("event {id} refused"),
                        Err(_) => return, // the service is gone
                    }
                }
            })
        })
        .collect();
    while accepted.lock().unwrap().len() < 120 {
        std::thread::sleep(Duration::from_millis(5));
    }
    service.kill();
    for client in clients {
        client.join().unwrap();
    }
    let accepted = accepted.lock().unwrap().clone();
    assert!(accepted.len() >= 120 && accepted.len() < 400, "killed mid-load: {} accepted", accepted.len());

    service.restart();
    let deliveries = service.wait_for_deliveries("acme", "&status=succeeded", Duration::from_secs(60), |d| {
        let delivered: HashSet<String> =
            d.iter().map(|d| d["event_id"].as_str().unwrap().to_owned()).collect();
        accepted.is_subset(&delivered)
    });
    assert!(deliveries.len() >= accepted.len());
    let received = receiver.received();
    let distinct: HashSet<&str> = received.iter().map(|r| r.webhook_id.as_str()).collect();
    assert!(
        distinct.len() >= accepted.len(),
        "{} distinct deliveries for {} accepted events",
        distinct.len(),
        accepted.len()
    );
    assert!(received.iter().all(|r| r.signature_valid));
}

#[test]
fn a_client_that_hangs_up_after_posting_still_gets_its_event_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(&dir.path().join("data"), &[]);
    let receiver = Receiver::start();
    service.subscribe("acme", "slack", &["call.ended"], &receiver.url, json!({}));
    let body = missed_call("acme", "evt_hangup").to_string();
    let address = service.url.trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    write!(
        stream,
        "POST /v1/events HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {INGEST}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    stream.flush().unwrap();
    // Hang up without reading the answer, once the request has had a moment to reach the service: the
    // ingest queue commits what was queued whether or not the request still waits, and the stored record
    // drives delivery.
    std::thread::sleep(std::time::Duration::from_millis(50));
    drop(stream);

    receiver.wait_for(1, Duration::from_secs(30));
    let deliveries =
        service
            .wait_for_deliveries("acme", "&event_id=evt_hangup", Duration::from_secs(30), |d| d.len() == 1);
    assert_eq!(deliveries[0]["status"], "succeeded");
}
