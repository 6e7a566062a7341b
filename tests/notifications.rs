//! Failures she sees: while her spreadsheet script answers 500, the subscription shows it is failing (since
//! when, the last error, the share of recent deliveries that failed), and she is told — by e-mail through
//! the configured SMTP server (a local sink here) and at a webhook of hers, signed — once when it starts
//! failing and once when it recovers.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::service::{Behaviour, INGEST, OPERATOR, Receiver, Service};
use support::smtp::SmtpSink;

fn bodies(receiver: &Receiver) -> Vec<Value> {
    receiver.received().iter().map(|r| serde_json::from_str(&r.body).unwrap_or_default()).collect()
}

#[test]
fn a_failing_endpoint_is_shown_and_told_then_its_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let sink = SmtpSink::start();
    let service = Service::start(
        dir.path(),
        &[
            ("GANCHO_NOTIFICATIONS__SMTP_URL", &sink.url),
            ("GANCHO_NOTIFICATIONS__FROM", "Avisos <avisos@telefonia.example>"),
            ("GANCHO_NOTIFICATIONS__FAILING_AFTER_SECS", "1"),
            ("GANCHO_NOTIFICATIONS__INTERVAL_SECS", "1"),
            ("GANCHO_DELIVERY__RETRY__DELAYS_SECS", "[0, 2, 2, 2, 2, 2, 2, 2, 2, 2]"),
        ],
    );
    let script = Receiver::start();
    script.set_behaviour(Behaviour::Always(500));
    let told = Receiver::start();
    let subscription = service.subscribe(
        "acme",
        "template",
        &["call.ended"],
        &script.url,
        json!({"format": "form", "template": "numero={{call.from}}&estado={{call.status}}"}),
    );
    let id = subscription["id"].as_str().unwrap();
    script.set_secret(subscription["secret"].as_str().unwrap());
    told.set_secret(subscription["secret"].as_str().unwrap());
    let (status, body) = service.patch(
        &format!("/v1/tenants/acme/subscriptions/{id}"),
        OPERATOR,
        &json!({"name": "Planilla de llamadas", "notify": {"email": "ana@oficina.example", "webhook_url": told.url}}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["health"]["state"], "idle", "{body}");

    let event = json!({"id": "evt_1", "type": "call.ended", "tenant": "acme", "timestamp": "2026-11-21T14:02:14Z",
        "data": {"call": {"id": "cl_1", "from": "+5491155551234", "status": "missed"}}});
    assert_eq!(service.post("/v1/events", INGEST, &event).0, 202);

    // Told once it has been failing a while: at her webhook, signed, and by e-mail.
    let notices = told.wait_for(1, Duration::from_secs(30));
    assert!(notices[0].signature_valid, "signed with the subscription's secret");
    let notice: Value = serde_json::from_str(&notices[0].body).unwrap();
    assert_eq!(notice["type"], "subscription.failing", "{notice}");
    assert_eq!(notice["subscription"]["id"], id);
    assert_eq!(notice["subscription"]["name"], "Planilla de llamadas");
    assert!(notice["last_error"].as_str().unwrap_or_default().contains("500"), "{notice}");
    let mails = sink.wait_for(1, Duration::from_secs(30));
    assert_eq!(mails[0].to, ["ana@oficina.example"]);
    assert_eq!(mails[0].from, "avisos@telefonia.example");
    assert!(mails[0].data.contains("no logra entregar"), "{}", mails[0].data);
    assert!(mails[0].data.contains("Planilla de llamadas"), "{}", mails[0].data);

    // The list shows it too.
    let (_, list) = service.get("/v1/tenants/acme/subscriptions", OPERATOR);
    let shown = list.as_array().unwrap().iter().find(|s| s["id"] == id).unwrap().clone();
    assert_eq!(shown["health"]["state"], "failing", "{shown}");
    assert!(shown["health"]["failing_since"].is_string(), "{shown}");
    assert!(shown["health"]["last_error"].as_str().unwrap_or_default().contains("500"), "{shown}");
    assert_eq!(shown["health"]["recent"]["deliveries"], 1, "{shown}");
    assert_eq!(shown["health"]["recent"]["failed"], 1, "{shown}");

    // Still failing: not told again.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(bodies(&told).len(), 1, "told once per change: {:#?}", bodies(&told));

    // Her script works again: the next retry succeeds, and she is told it recovered.
    script.set_behaviour(Behaviour::Accept);
    let notices = told.wait_for(2, Duration::from_secs(30));
    let recovered: Value = serde_json::from_str(&notices[1].body).unwrap();
    assert_eq!(recovered["type"], "subscription.recovered", "{recovered}");
    let mails = sink.wait_for(2, Duration::from_secs(30));
    assert!(mails[1].data.contains("volvió a entregar"), "{}", mails[1].data);
    let (_, shown) = service.get(&format!("/v1/tenants/acme/subscriptions/{id}"), OPERATOR);
    assert_eq!(shown["health"]["state"], "healthy", "{shown}");
    assert_eq!(shown["health"]["recent"]["failed"], 0, "{shown}");
}
