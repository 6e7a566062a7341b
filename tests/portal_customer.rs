//! The phone platform's customer, alone in the portal (issue 24), in a real browser in Spanish and in
//! English: an office manager who is not a developer builds her four webhooks with menus and rows only —
//! (1) on START a JSON POST with number and name, (2) nothing on TALK, (3) on END a form POST with number,
//! duration, cost and status, (4) for missed calls only a GET — then the platform posts calls and the
//! receiver gets exactly what she asked for. Then: a test event marked as a test, a failing endpoint shown
//! on the list (and her notification settings saved) and recovered, a template that cannot render refused
//! at save, and a delivery the webhook could not build re-run after her fix. Screenshots of each page, in
//! both languages, land in `target/console-screenshots`.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::browser::{portal_link, story};
use support::service::{Behaviour, INGEST, OPERATOR, Received, Receiver, Service};
use support::smtp::SmtpSink;

/// A sample event of the catalog for `tenant`, with its own id.
fn event(sample: &str, tenant: &str, id: &str) -> Value {
    let mut event: Value =
        serde_json::from_str(&std::fs::read_to_string(support::sample_path(sample)).unwrap()).unwrap();
    event["id"] = json!(id);
    event["tenant"] = json!(tenant);
    event
}

fn post(service: &Service, event: &Value) {
    let (status, body) = service.post("/v1/events", INGEST, event);
    assert_eq!(status, 202, "{body}");
}

/// The requests that reached `path` (`/crm`) for `tenant`'s events (their `webhook-id`s are the tenant's
/// deliveries; the body or query says the rest).
fn at<'r>(received: &'r [Received], path: &str) -> Vec<&'r Received> {
    received.iter().filter(|r| r.uri.split('?').next() == Some(path)).collect()
}

/// One customer: her tenant, the stories' words for her language, her browser's locale and zone.
struct Customer {
    tenant: &'static str,
    words: &'static str,
    locale: &'static str,
    zone: &'static str,
}

const CUSTOMERS: [Customer; 2] = [
    Customer { tenant: "acme", words: "es", locale: "es-AR", zone: "America/Argentina/Buenos_Aires" },
    Customer { tenant: "initech", words: "en", locale: "en-US", zone: "America/New_York" },
];

impl Customer {
    /// A story's environment: a fresh portal link (a link works once), her language and zone, and `extra`.
    fn env(
        &self,
        service: &Service,
        receiver: &str,
        extra: &[(&'static str, String)],
    ) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("PORTAL_LINK", portal_link(service, self.tenant)),
            ("TENANT", self.tenant.to_owned()),
            ("RECEIVER_URL", receiver.to_owned()),
            ("WORDS", self.words.to_owned()),
            ("BROWSER_LOCALE", self.locale.to_owned()),
            ("TIMEZONE", self.zone.to_owned()),
        ];
        env.extend(extra.iter().map(|(key, value)| (*key, value.clone())));
        env
    }
}

#[test]
fn a_phone_customer_builds_her_four_webhooks_alone_in_her_language() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start();
    // Where she is told that a webhook fails: her e-mail (through an SMTP server), a webhook of hers.
    let smtp = SmtpSink::start();
    let her_webhook = Receiver::start();
    // Connections are off here (no `connections.keys`): the portal does not offer them.
    let service = Service::start(
        &dir.path().join("data"),
        &[
            ("GANCHO_NOTIFICATIONS__SMTP_URL", &smtp.url),
            ("GANCHO_NOTIFICATIONS__FAILING_AFTER_SECS", "1"),
            ("GANCHO_NOTIFICATIONS__INTERVAL_SECS", "1"),
            // Failing long enough to be told.
            ("GANCHO_DELIVERY__RETRY__DELAYS_SECS", "[0, 2, 2, 2, 2, 2, 2, 2, 2, 2]"),
        ],
    );
    let base = receiver.url.trim_end_matches("/hook").to_owned();
    let wasm = support::plugin_bytes("template");
    let (status, body) =
        service.post_raw("/v1/plugins/template/versions", OPERATOR, "application/wasm", &wasm);
    assert_eq!(status, 201, "{body}");

    let mut webhooks = Vec::new();
    for customer in &CUSTOMERS {
        let tenant = customer.tenant;
        assert_eq!(service.post("/v1/tenants", OPERATOR, &json!({"id": tenant, "name": tenant})).0, 201);
        // A phone platform's tenant: only call events are offered.
        let (status, body) =
            service.patch(&format!("/v1/tenants/{tenant}"), OPERATOR, &json!({"platforms": ["phone"]}));
        assert_eq!(status, 200, "{body}");
        let built = story("wishes", &service, &customer.env(&service, &base, &[]));
        let (_, list) = service.get(&format!("/v1/tenants/{tenant}/subscriptions"), OPERATOR);
        assert_eq!(list.as_array().unwrap().len(), 3, "a double click saved one webhook: {list}");
        assert!(!list.to_string().contains("call.answered"), "nothing listens to TALK: {list}");
        webhooks.push((customer, built));
    }

    // The platform's calls: START, TALK, END (answered), END (missed), for each tenant.
    for (Customer { tenant, .. }, _) in &webhooks {
        post(&service, &event("call.started.json", tenant, &format!("evt_{tenant}_start")));
        post(&service, &event("call.answered.json", tenant, &format!("evt_{tenant}_talk")));
        post(&service, &event("call.ended.json", tenant, &format!("evt_{tenant}_end")));
        post(&service, &event("call.ended.missed.json", tenant, &format!("evt_{tenant}_missed")));
    }
    // Per tenant: one to the CRM, two to the sheet, one (the missed call) to the legacy system.
    let received = receiver.wait_for(8, Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(2));
    let received = if receiver.received().len() > received.len() { receiver.received() } else { received };
    assert_eq!(received.len(), 8, "{received:#?}");

    let crm = at(&received, "/crm");
    assert_eq!(crm.len(), 2, "one START per tenant: {crm:#?}");
    for request in &crm {
        assert_eq!(request.method, "POST");
        let body: Value = serde_json::from_str(&request.body).expect("a JSON body");
        let values: Vec<&str> = body.as_object().unwrap().values().filter_map(Value::as_str).collect();
        assert_eq!(values, ["+5491155551234", "Juan Gómez"], "{body}");
    }
    let sheet = at(&received, "/sheet");
    assert_eq!(sheet.len(), 4, "two ENDs per tenant: {sheet:#?}");
    for request in &sheet {
        assert_eq!(request.method, "POST");
        assert_eq!(request.headers["content-type"], "application/x-www-form-urlencoded");
        assert!(request.body.contains("=%2B5491155551234&"), "{}", request.body);
    }
    assert!(
        sheet
            .iter()
            .any(|r| r.body.contains("=134&") && r.body.contains("=12.50&") && r.body.ends_with("=answered"))
    );
    assert!(
        sheet
            .iter()
            .any(|r| r.body.contains("=31&") && r.body.contains("=0.00&") && r.body.ends_with("=missed"))
    );
    let legacy = at(&received, "/legacy");
    assert_eq!(legacy.len(), 2, "wish 4 fires for missed calls only, once per tenant: {legacy:#?}");
    for request in &legacy {
        assert_eq!(request.method, "GET");
        assert!(request.uri.ends_with("=%2B5491155551234"), "{}", request.uri);
    }
    for (Customer { tenant, .. }, built) in &webhooks {
        let id = built["legacy"].as_str().unwrap();
        let done = service.wait_for_deliveries(
            tenant,
            &format!("&subscription_id={id}&status=succeeded"),
            Duration::from_secs(10),
            |d| !d.is_empty(),
        );
        assert_eq!(done.len(), 1);
        assert_eq!(done[0]["event_id"], format!("evt_{tenant}_missed"));
    }

    // Her deliveries, in her words and zone; a test event through all matching webhooks, marked as a test.
    for (customer, _) in &webhooks {
        story("herDeliveries", &service, &customer.env(&service, &base, &[]));
    }
    receiver.wait_for(10, Duration::from_secs(30));

    // She asks to be told when her spreadsheet's webhook fails; then its script answers 500: the list shows
    // it failing, with why, and she is told by e-mail and at her webhook.
    for (customer, built) in &webhooks {
        let sheet = built["sheet"].as_str().unwrap().to_owned();
        let extra = [("SUBSCRIPTION", sheet.clone()), ("NOTIFY_URL", her_webhook.url.clone())];
        story("notify", &service, &customer.env(&service, &base, &extra));
        let (_, saved) =
            service.get(&format!("/v1/tenants/{}/subscriptions/{sheet}", customer.tenant), OPERATOR);
        assert_eq!(saved["notify"]["email"], "ana@example.com", "{saved}");
    }
    receiver.set_behaviour(Behaviour::Always(500));
    for (Customer { tenant, .. }, _) in &webhooks {
        post(&service, &event("call.ended.json", tenant, &format!("evt_{tenant}_end_2")));
    }
    for (customer, built) in &webhooks {
        let tenant = customer.tenant;
        let sheet = built["sheet"].as_str().unwrap().to_owned();
        service.wait_for_deliveries(
            tenant,
            &format!("&subscription_id={sheet}&status=failed"),
            Duration::from_secs(30),
            |d| !d.is_empty(),
        );
        story("failing", &service, &customer.env(&service, &base, &[("SUBSCRIPTION", sheet.clone())]));
    }
    // She is told, once per webhook: at her webhook (signed) and by e-mail.
    let notices = her_webhook.wait_for(webhooks.len(), Duration::from_secs(60));
    for notice in &notices {
        let notice: Value = serde_json::from_str(&notice.body).unwrap();
        assert_eq!(notice["type"], "subscription.failing", "{notice}");
    }
    let mails = smtp.wait_for(webhooks.len(), Duration::from_secs(60));
    assert!(mails.iter().all(|mail| mail.to == ["ana@example.com"]), "{mails:#?}");
    assert!(mails.iter().all(|mail| mail.words().contains("no logra entregar")), "{mails:#?}");
    // It answers again: a retry (or the next automatic attempt) goes through, and the list no longer says it
    // fails.
    receiver.set_behaviour(Behaviour::Accept);
    for (customer, built) in &webhooks {
        let tenant = customer.tenant;
        let sheet = built["sheet"].as_str().unwrap().to_owned();
        let failing = |d: &Value| d["status"] == "failed" || d["status"] == "dead";
        let listed = |status: &str| {
            let (code, list) = service.get(
                &format!("/v1/tenants/{tenant}/deliveries?subscription_id={sheet}&status={status}"),
                OPERATOR,
            );
            assert_eq!(code, 200, "{list}");
            list.as_array().cloned().unwrap_or_default()
        };
        let all: Vec<Value> = listed("failed").into_iter().chain(listed("dead")).collect();
        // (Its automatic retries may get there first.)
        for delivery in all.iter().filter(|d| failing(d)) {
            let id = delivery["id"].as_str().unwrap();
            let (status, body) =
                service.post(&format!("/v1/tenants/{tenant}/deliveries/{id}/retry"), OPERATOR, &json!({}));
            // (409: its automatic retry delivered it meanwhile.)
            assert!(matches!(status, 200 | 202 | 409), "{body}");
        }
        let started = std::time::Instant::now();
        while !(listed("failed").is_empty() && listed("dead").is_empty()) {
            assert!(started.elapsed() < Duration::from_secs(30), "the retried deliveries went through");
            std::thread::sleep(Duration::from_millis(200));
        }
        story("recovered", &service, &customer.env(&service, &base, &[("SUBSCRIPTION", sheet)]));
    }
    let notices = her_webhook.wait_for(2 * webhooks.len(), Duration::from_secs(60));
    let recovered = notices.iter().filter(|notice| notice.body.contains("subscription.recovered")).count();
    assert_eq!(recovered, webhooks.len(), "told once more when it works again");

    // A body that cannot render is refused at save, in her words.
    for (customer, _) in &webhooks {
        story("badTemplate", &service, &customer.env(&service, &base, &[]));
    }

    // A delivery the webhook could not build (this call's cost came as text, not as amount and currency):
    // after she removes the cost row, it is run again with the current settings and delivered.
    let (customer, _) = &webhooks[0];
    let tenant = customer.tenant;
    let (status, fix) = service.post(
        &format!("/v1/tenants/{tenant}/subscriptions"),
        OPERATOR,
        &json!({"event_types": ["call.ended"], "plugin": "template", "endpoint_url": format!("{base}/fix"),
                "config": {"format": "json", "template": "{\"numero\": \"{{call.from}}\", \"costo\": \"{{call.cost.amount}}\"}"}}),
    );
    assert_eq!(status, 201, "{fix}");
    let fix = fix["id"].as_str().unwrap().to_owned();
    let mut odd = event("call.ended.json", tenant, "evt_cost_as_text");
    odd["data"]["call"]["cost"] = json!("12.50");
    post(&service, &odd);
    let broken = service.wait_for_deliveries(
        tenant,
        &format!("&subscription_id={fix}&status=plugin_error"),
        Duration::from_secs(30),
        |d| !d.is_empty(),
    );
    let before = receiver.received().len();
    story(
        "rerunAfterFix",
        &service,
        &customer.env(
            &service,
            &base,
            &[("DELIVERY", broken[0]["id"].as_str().unwrap().to_owned()), ("SUBSCRIPTION", fix)],
        ),
    );
    let received = receiver.wait_for(before + 1, Duration::from_secs(30));
    let fixed = received.iter().find(|r| r.uri == "/fix").expect("the re-run reached her system");
    assert_eq!(fixed.body, "{\n  \"numero\": \"+5491155551234\"\n}");
}
