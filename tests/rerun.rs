//! The tenant tests, fixes and re-sends alone, with its own key: a test send delivered with its logs; a
//! delivery re-run after its endpoint changed reaches the new endpoint with the current plugin's request;
//! a plugin error re-run after its config is fixed is delivered (by id and by range); a delivered row is
//! not sent twice by accident; and a manual retry during an outage leaves the automatic schedule alone.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::service::{Behaviour, INGEST, OPERATOR, Receiver, Service};

fn tenant_key(service: &Service, tenant: &str) -> String {
    let (status, body) = service.post(&format!("/v1/tenants/{tenant}/keys"), OPERATOR, &json!({}));
    assert_eq!(status, 201, "{body}");
    body["key"].as_str().unwrap().to_owned()
}

fn post_call(service: &Service, tenant: &str, id: &str, status: &str) {
    let event = json!({"id": id, "type": "call.ended", "tenant": tenant, "timestamp": "2026-11-21T14:02:14Z",
        "data": {"call": {"id": format!("cl_{id}"), "from": "+5491155551234", "status": status, "duration_s": 31}}});
    let (code, body) = service.post("/v1/events", INGEST, &event);
    assert_eq!(code, 202, "{body}");
}

fn template(body: &str) -> Value {
    json!({"format": "json", "template": body})
}

/// A service whose tenant `acme` sends each call's id, as JSON, to a receiver that checks signatures.
fn calls_to_a_receiver(dir: &std::path::Path, env: &[(&str, &str)]) -> (Service, Receiver, Value) {
    let service = Service::start(dir, env);
    let receiver = Receiver::start();
    let subscription = service.subscribe(
        "acme",
        "template",
        &["call.ended"],
        &receiver.url,
        template(r#"{"call": "{{call.id}}"}"#),
    );
    receiver.set_secret(subscription["secret"].as_str().unwrap());
    (service, receiver, subscription)
}

#[test]
fn a_tenant_key_sends_a_test_event_and_reads_its_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let (service, receiver, subscription) = calls_to_a_receiver(dir.path(), &[]);
    let key = tenant_key(&service, "acme");

    // With the tenant's key alone (no ingest token): a sample of a type, through every matching one.
    let (status, sent) = service.post("/v1/tenants/acme/test-events", &key, &json!({"type": "call.ended"}));
    assert_eq!(status, 202, "{sent}");
    assert_eq!(sent["test"], true);
    assert_eq!(sent["subscriptions"], json!([subscription["id"]]));
    let event_id = sent["event_id"].as_str().unwrap();
    assert!(event_id.starts_with("test_"), "{event_id}");
    let deliveries =
        service.wait_for_deliveries("acme", &format!("&event_id={event_id}"), Duration::from_secs(20), |d| {
            d.len() == 1 && d[0]["status"] == "succeeded"
        });
    let received = receiver.wait_for(1, Duration::from_secs(20));
    assert!(received[0].signature_valid);
    assert_eq!(deliveries[0]["test"], true, "{:#?}", deliveries[0]);
    let (status, one) =
        service.get(&format!("/v1/tenants/acme/deliveries/{}", deliveries[0]["id"].as_str().unwrap()), &key);
    assert_eq!(status, 200);
    assert_eq!(one["test"], true);

    // A copy of a real event, through one chosen subscription.
    post_call(&service, "acme", "evt_real", "missed");
    receiver.wait_for(2, Duration::from_secs(20));
    let (status, copy) = service.post(
        "/v1/tenants/acme/test-events",
        &key,
        &json!({"copy_of": "evt_real", "subscription_id": subscription["id"]}),
    );
    assert_eq!(status, 202, "{copy}");
    let copied = receiver.wait_for(3, Duration::from_secs(20));
    assert!(copied[2].body.contains("cl_evt_real"), "{}", copied[2].body);

    // What cannot be sent is refused, naming why.
    let (status, error) = service.post("/v1/tenants/acme/test-events", &key, &json!({"type": "call.missed"}));
    assert_eq!((status, error["error"]["field"].as_str()), (422, Some("type")), "{error}");
    let (status, error) = service.post("/v1/tenants/acme/test-events", &key, &json!({"type": "chat.closed"}));
    assert_eq!((status, error["error"]["code"].as_str()), (422, Some("no_matching_subscription")), "{error}");
    let (status, error) = service.post("/v1/tenants/acme/test-events", &key, &json!({"copy_of": "evt_nope"}));
    assert_eq!(status, 404, "{error}");
    let (status, _) = service.post("/v1/tenants/globex/test-events", &key, &json!({"type": "call.ended"}));
    assert!(status == 401 || status == 403 || status == 404, "another tenant's: {status}");
}

#[test]
fn a_rerun_after_a_patch_reaches_the_new_endpoint_with_the_current_request() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(dir.path(), &[("GANCHO_DELIVERY__RETRY__DELAYS_SECS", "[0, 3600]")]);
    let old = Receiver::start();
    old.set_behaviour(Behaviour::Always(500));
    let new = Receiver::start();
    let subscription = service.subscribe(
        "acme",
        "template",
        &["call.ended"],
        &old.url,
        template(r#"{"v": 1, "call": "{{call.id}}"}"#),
    );
    let id = subscription["id"].as_str().unwrap();
    new.set_secret(subscription["secret"].as_str().unwrap());
    post_call(&service, "acme", "evt_1", "answered");
    let failed = service.wait_for_deliveries("acme", "", Duration::from_secs(20), |d| {
        d.len() == 1 && d[0]["status"] == "failed"
    });
    let failed_id = failed[0]["id"].as_str().unwrap().to_owned();

    // The customer fixes her endpoint and her template.
    let (status, body) = service.patch(
        &format!("/v1/tenants/acme/subscriptions/{id}"),
        OPERATOR,
        &json!({"endpoint_url": new.url, "config": template(r#"{"v": 2, "call": "{{call.id}}"}"#)}),
    );
    assert_eq!(status, 200, "{body}");
    let (_, shown) = service.get(&format!("/v1/tenants/acme/deliveries/{failed_id}"), OPERATOR);
    assert_eq!(shown["subscription_changed_since"], true, "{shown}");

    let (status, answer) =
        service.post(&format!("/v1/tenants/acme/deliveries/{failed_id}/rerun"), OPERATOR, &json!({}));
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["rerun"], true);
    let received = new.wait_for(1, Duration::from_secs(20));
    assert_eq!(
        serde_json::from_str::<Value>(&received[0].body).unwrap(),
        json!({"v": 2, "call": "cl_evt_1"})
    );
    assert!(received[0].signature_valid);

    let deliveries = service.wait_for_deliveries("acme", "", Duration::from_secs(20), |d| {
        d.iter().any(|d| d["status"] == "succeeded")
    });
    let rerun = deliveries.iter().find(|d| d["status"] == "succeeded").unwrap();
    assert_eq!(rerun["rerun_of"], failed_id.as_str(), "{rerun:#?}");
    assert_eq!(rerun["request"]["url"], new.url.as_str());
    assert!(rerun["plugin"].as_str().unwrap().starts_with("template@"));
    let old_one = deliveries.iter().find(|d| d["id"] == failed_id.as_str()).unwrap();
    assert_eq!(old_one["status"], "superseded", "the old request is never sent again: {old_one:#?}");
    let (status, again) =
        service.post(&format!("/v1/tenants/acme/deliveries/{failed_id}/rerun"), OPERATOR, &json!({}));
    assert_eq!((status, again["error"]["code"].as_str()), (409, Some("already_rerun")), "{again}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        old.received().iter().filter(|r| r.body.contains("\"v\": 2") || r.body.contains("\"v\":2")).count(),
        0
    );
}

#[test]
fn plugin_errors_are_delivered_after_the_fix_by_retry_rerun_and_range() {
    let dir = tempfile::tempdir().unwrap();
    let (service, receiver, subscription) = calls_to_a_receiver(dir.path(), &[]);
    let id = subscription["id"].as_str().unwrap();
    // A mistake: the plugin's requests go to a host the subscription does not allow.
    let (status, body) = service.patch(
        &format!("/v1/tenants/acme/subscriptions/{id}"),
        OPERATOR,
        &json!({"allowed_hosts": ["crm.example.com"]}),
    );
    assert_eq!(status, 200, "{body}");
    for n in 1..=3 {
        post_call(&service, "acme", &format!("evt_{n}"), "answered");
    }
    let errors = service.wait_for_deliveries("acme", "", Duration::from_secs(20), |d| {
        d.len() == 3 && d.iter().all(|d| d["status"] == "plugin_error")
    });
    assert!(errors.iter().all(|d| d["next_attempt_at"].is_null()), "permanent: {errors:#?}");

    // Fixed: a retry of a plugin error re-runs it (it has no request to send again) ...
    let (status, body) = service.patch(
        &format!("/v1/tenants/acme/subscriptions/{id}"),
        OPERATOR,
        &json!({"allowed_hosts": null}),
    );
    assert_eq!(status, 200, "{body}");
    let first = errors.iter().find(|d| d["event_id"] == "evt_1").unwrap()["id"].as_str().unwrap().to_owned();
    let (status, answer) =
        service.post(&format!("/v1/tenants/acme/deliveries/{first}/retry"), OPERATOR, &json!({}));
    assert_eq!((status, &answer["rerun"]), (202, &json!(true)), "{answer}");
    receiver.wait_for(1, Duration::from_secs(20));

    // ... and a range replay re-runs the rest.
    let (status, replay) = service.post(
        &format!("/v1/tenants/acme/subscriptions/{id}/replay"),
        OPERATOR,
        &json!({"from": "2020-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}),
    );
    assert_eq!(status, 202, "{replay}");
    assert_eq!(replay["rerun"], 2, "{replay}");
    let received = receiver.wait_for(3, Duration::from_secs(20));
    let mut calls: Vec<String> = received
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap()["call"].as_str().unwrap().to_owned())
        .collect();
    calls.sort();
    assert_eq!(calls, ["cl_evt_1", "cl_evt_2", "cl_evt_3"]);
    let deliveries =
        service.wait_for_deliveries("acme", "&status=succeeded", Duration::from_secs(20), |d| d.len() == 3);
    assert!(deliveries.iter().all(|d| d["rerun_of"].is_string()), "{deliveries:#?}");
}

#[test]
fn a_delivered_row_is_not_sent_twice_by_accident_and_a_manual_retry_keeps_the_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let (service, receiver, _) =
        calls_to_a_receiver(dir.path(), &[("GANCHO_DELIVERY__RETRY__DELAYS_SECS", "[0, 300, 1800]")]);
    post_call(&service, "acme", "evt_ok", "answered");
    let delivered = service.wait_for_deliveries("acme", "", Duration::from_secs(20), |d| {
        d.len() == 1 && d[0]["status"] == "succeeded"
    });
    let delivered_id = delivered[0]["id"].as_str().unwrap();
    let (status, error) =
        service.post(&format!("/v1/tenants/acme/deliveries/{delivered_id}/retry"), OPERATOR, &json!({}));
    assert_eq!((status, error["error"]["code"].as_str()), (409, Some("already_delivered")), "{error}");
    let (status, _) = service.post(
        &format!("/v1/tenants/acme/deliveries/{delivered_id}/retry"),
        OPERATOR,
        &json!({"force": true}),
    );
    assert_eq!(status, 202);
    assert_eq!(receiver.wait_for(2, Duration::from_secs(20)).len(), 2, "sent again when forced");

    // An outage: the first attempt fails and the next is due in 5 minutes.
    receiver.set_behaviour(Behaviour::Always(500));
    post_call(&service, "acme", "evt_outage", "answered");
    let failing = service.wait_for_deliveries("acme", "&event_id=evt_outage", Duration::from_secs(20), |d| {
        d.len() == 1 && d[0]["status"] == "failed"
    });
    let failing_id = failing[0]["id"].as_str().unwrap();
    let scheduled = failing[0]["next_attempt_at"].as_str().unwrap().to_owned();
    let (status, _) =
        service.post(&format!("/v1/tenants/acme/deliveries/{failing_id}/retry"), OPERATOR, &json!({}));
    assert_eq!(status, 202);
    let after = service.wait_for_deliveries("acme", "&event_id=evt_outage", Duration::from_secs(20), |d| {
        d[0]["attempts"].as_array().is_some_and(|a| a.len() == 2) && d[0]["status"] == "failed"
    });
    assert_eq!(
        after[0]["next_attempt_at"].as_str().unwrap(),
        scheduled,
        "the failed manual try goes back to the automatic schedule, not 30 minutes on: {:#?}",
        after[0]
    );
}
