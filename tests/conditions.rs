//! The phone platform's customer says "only when": a webhook for missed calls only fires for missed calls,
//! the filter is evaluated by the host before any plugin runs, and a filter or event type that cannot fire
//! is refused with a 422 naming it. Her portal's menus come from the event catalog of her platform, and a
//! double click on Save creates one subscription (`Idempotency-Key`).

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::service::{INGEST, OPERATOR, Receiver, Service};

fn call_ended(tenant: &str, id: &str, status: &str, duration: u64) -> Value {
    json!({"id": id, "type": "call.ended", "tenant": tenant, "timestamp": "2026-11-21T14:02:14Z",
        "data": {"call": {"id": format!("cl_{id}"), "from": "+5491155551234", "status": status,
                          "duration_s": duration, "cost": {"amount": "12.50", "currency": "ARS"},
                          "answered_at": null}}})
}

fn create(service: &Service, tenant: &str, body: Value) -> (u16, Value) {
    service.post(&format!("/v1/tenants/{tenant}/subscriptions"), OPERATOR, &body)
}

#[test]
fn a_missed_calls_only_webhook_fires_for_missed_calls_only() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(dir.path(), &[]);
    let receiver = Receiver::start();
    // Every call to one endpoint (no filter), missed ones only to the legacy system (a GET).
    let everything = service.subscribe(
        "acme",
        "template",
        &["call.ended"],
        &receiver.url,
        json!({"format": "json", "template": "{\"all\": \"{{call.id}}\"}"}),
    );
    receiver.set_secret(everything["secret"].as_str().unwrap());
    let (status, missed) = create(
        &service,
        "acme",
        json!({
            "name": "Sistema viejo – perdidas",
            "event_types": ["call.ended"], "plugin": "template", "endpoint_url": format!("{}/legacy", receiver.url),
            "config": {"method": "GET", "url": format!("{}/legacy?numero={{{{call.from}}}}&llamada={{{{call.id}}}}", receiver.url)},
            "filter": {"all": [{"field": "call.status", "op": "equals", "value": "missed"}]},
        }),
    );
    assert_eq!(status, 201, "{missed}");
    assert_eq!(missed["name"], "Sistema viejo – perdidas");
    assert_eq!(missed["filter"]["all"][0]["op"], "equals");

    let calls = [("evt_1", "answered"), ("evt_2", "missed"), ("evt_3", "answered"), ("evt_4", "missed")];
    for (id, status) in calls {
        let (code, body) = service.post("/v1/events", INGEST, &call_ended("acme", id, status, 40));
        assert_eq!(code, 202, "{body}");
    }
    let received = receiver.wait_for(6, Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(500));
    let received = if receiver.received().len() > received.len() { receiver.received() } else { received };
    assert_eq!(received.len(), 6, "4 to everything, 2 to legacy: {received:#?}");
    let legacy: Vec<&str> = received
        .iter()
        .filter(|r| r.body.is_empty())
        .map(|r| r.headers.get("webhook-id").map(String::as_str).unwrap_or(""))
        .collect();
    assert_eq!(legacy.len(), 2, "{received:#?}");
    // Filtered-out events make no delivery and run no plugin.
    let missed_id = missed["id"].as_str().unwrap();
    let deliveries = service.wait_for_deliveries(
        "acme",
        &format!("&subscription_id={missed_id}"),
        Duration::from_secs(10),
        |d| d.len() == 2,
    );
    let mut events: Vec<&str> = deliveries.iter().map(|d| d["event_id"].as_str().unwrap()).collect();
    events.sort();
    assert_eq!(events, ["evt_2", "evt_4"]);
    assert!(deliveries.iter().all(|d| d["request"]["method"] == "GET"), "{deliveries:#?}");
    assert!(
        deliveries[0]["request"]["url"].as_str().unwrap().contains("numero=%2B5491155551234"),
        "{deliveries:#?}"
    );

    // `any`, numbers and money: long calls or expensive ones.
    let (status, body) = service.patch(
        &format!("/v1/tenants/acme/subscriptions/{missed_id}"),
        OPERATOR,
        &json!({"filter": {"any": [{"field": "call.duration_s", "op": "greater_than", "value": 100},
                                    {"field": "call.cost.amount", "op": "greater_than", "value": 20}]}}),
    );
    assert_eq!(status, 200, "{body}");
    let (code, _) = service.post("/v1/events", INGEST, &call_ended("acme", "evt_long", "answered", 300));
    assert_eq!(code, 202);
    let (code, _) = service.post("/v1/events", INGEST, &call_ended("acme", "evt_short", "answered", 20));
    assert_eq!(code, 202);
    let deliveries = service.wait_for_deliveries(
        "acme",
        &format!("&subscription_id={missed_id}"),
        Duration::from_secs(20),
        |d| d.len() == 3,
    );
    assert!(deliveries.iter().any(|d| d["event_id"] == "evt_long"));
    std::thread::sleep(Duration::from_millis(500));
    let (_, all) = service.get(&format!("/v1/tenants/acme/deliveries?subscription_id={missed_id}"), OPERATOR);
    assert!(!all.as_array().unwrap().iter().any(|d| d["event_id"] == "evt_short"), "{all:#?}");

    // `null` removes the filter.
    let (status, body) = service.patch(
        &format!("/v1/tenants/acme/subscriptions/{missed_id}"),
        OPERATOR,
        &json!({"filter": null}),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.get("filter").is_none(), "{body}");
}

#[test]
fn filters_and_event_types_that_cannot_fire_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(dir.path(), &[]);
    let receiver = Receiver::start();
    service.subscribe(
        "acme",
        "template",
        &["call.ended"],
        &receiver.url,
        json!({"format": "text", "template": "x"}),
    );
    let base = json!({"event_types": ["call.ended"], "plugin": "template", "endpoint_url": receiver.url,
                      "config": {"format": "text", "template": "x"}});
    let with = |extra: Value| {
        let mut body = base.clone();
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        body
    };
    let refused = [
        (
            json!({"filter": {"all": [{"field": "call.form", "op": "exists"}]}}),
            "invalid_filter",
            "filter.all[0].field",
        ),
        (
            json!({"filter": {"all": [{"field": "call.status", "op": "equals", "value": 1}]}}),
            "invalid_filter",
            "filter.all[0].value",
        ),
        (
            json!({"filter": {"all": [{"field": "call.status", "op": "equals", "value": "perdida"}]}}),
            "invalid_filter",
            "filter.all[0].value",
        ),
        (
            json!({"filter": {"any": [{"field": "call.duration_s", "op": "greater_than", "value": "long"}]}}),
            "invalid_filter",
            "filter.any[0].value",
        ),
        (
            json!({"filter": {"all": [{"field": "chat.id", "op": "exists"}]}}),
            "invalid_filter",
            "filter.all[0].field",
        ),
        (
            json!({"filter": {"all": [{"field": "call.status", "op": "in", "value": "missed"}]}}),
            "invalid_filter",
            "filter.all[0].value",
        ),
        (json!({"filter": {"all": "call.status"}}), "invalid_filter", "filter"),
        (json!({"event_types": ["call.missed"]}), "unknown_event_type", "event_types[0]"),
        (json!({"event_types": ["call.ended", "invoice.*"]}), "unknown_event_type", "event_types[1]"),
        (json!({"notify": {"email": "not an address"}}), "invalid_field", "notify.email"),
        (json!({"notify": {"webhook_url": "ftp://x"}}), "invalid_field", "notify.webhook_url"),
        (json!({"name": ""}), "invalid_field", "name"),
    ];
    for (extra, code, field) in refused {
        let (status, body) = create(&service, "acme", with(extra.clone()));
        assert_eq!(status, 422, "{extra}: {body}");
        assert_eq!(body["error"]["code"], code, "{extra}: {body}");
        assert_eq!(body["error"]["field"], field, "{extra}: {body}");
    }
    // A platform that sends other types says so; its fields cannot be checked in advance.
    let (status, body) = create(
        &service,
        "acme",
        with(json!({"event_types": ["invoice.paid"], "custom_event_types": true,
        "filter": {"all": [{"field": "invoice.total", "op": "greater_than", "value": 5}]}})),
    );
    assert_eq!(status, 201, "{body}");
    // Changing the event types re-checks the filter against them.
    let (status, created) = create(
        &service,
        "acme",
        with(json!({"filter": {"all": [{"field": "call.status", "op": "equals", "value": "missed"}]}})),
    );
    assert_eq!(status, 201, "{created}");
    let (status, body) = service.patch(
        &format!("/v1/tenants/acme/subscriptions/{}", created["id"].as_str().unwrap()),
        OPERATOR,
        &json!({"event_types": ["chat.closed"]}),
    );
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("filter.all[0].field")), "{body}");
}

#[test]
fn her_platform_s_catalog_and_one_subscription_per_double_click() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(dir.path(), &[]);
    let (status, _) = service.post("/v1/tenants", OPERATOR, &json!({"id": "acme", "name": "Acme"}));
    assert_eq!(status, 201);
    let (status, body) = service.patch("/v1/tenants/acme", OPERATOR, &json!({"platforms": ["phone"]}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["platforms"], json!(["phone"]));
    let (status, body) = service.patch("/v1/tenants/acme", OPERATOR, &json!({"platforms": ["fax"]}));
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("platforms")), "{body}");
    let (status, catalog) = service.get("/v1/tenants/acme/event-types", OPERATOR);
    assert_eq!(status, 200, "{catalog}");
    let types: Vec<&str> =
        catalog["event_types"].as_array().unwrap().iter().map(|t| t["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["call.started", "call.answered", "call.ended", "call.recording_ready"]);
    let ended = &catalog["event_types"][2];
    let status_field =
        ended["fields"].as_array().unwrap().iter().find(|f| f["path"] == "call.status").unwrap();
    assert_eq!(status_field["type"], "string");
    assert!(status_field["values"].as_array().unwrap().contains(&json!("missed")), "{status_field}");
    assert_eq!(ended["sample"]["type"], "call.ended");

    // Save clicked twice: the same key, one subscription, the same answer.
    let receiver = Receiver::start();
    service.subscribe(
        "acme",
        "template",
        &["call.ended"],
        &receiver.url,
        json!({"format": "text", "template": "x"}),
    );
    let body = json!({"event_types": ["call.started"], "plugin": "template", "endpoint_url": receiver.url,
                      "config": {"format": "json", "template": "{\"n\": \"{{call.from}}\"}"}});
    let post = |key: &str, body: &Value| {
        let response = ureq::post(&format!("{}/v1/tenants/acme/subscriptions", service.url))
            .set("authorization", &format!("Bearer {OPERATOR}"))
            .set("idempotency-key", key)
            .send_json(body.clone());
        let response = match response {
            Ok(response) => response,
            Err(ureq::Error::Status(_, response)) => response,
            Err(error) => panic!("{error}"),
        };
        let replayed = response.header("idempotent-replayed").is_some();
        (
            response.status(),
            replayed,
            serde_json::from_str::<Value>(&response.into_string().unwrap()).unwrap(),
        )
    };
    let (first_status, first_replayed, first) = post("form-7f3a", &body);
    let (second_status, second_replayed, second) = post("form-7f3a", &body);
    assert_eq!((first_status, first_replayed), (201, false), "{first}");
    assert_eq!((second_status, second_replayed), (201, true), "{second}");
    assert_eq!(first["id"], second["id"]);
    let (_, list) = service.get("/v1/tenants/acme/subscriptions", OPERATOR);
    assert_eq!(
        list.as_array().unwrap().iter().filter(|s| s["event_types"] == json!(["call.started"])).count(),
        1
    );
    let mut other = body.clone();
    other["event_types"] = json!(["call.answered"]);
    let (status, _, error) = post("form-7f3a", &other);
    assert_eq!((status, error["error"]["code"].as_str()), (422, Some("idempotency_key_reused")), "{error}");
    // A refused request keeps no key: the corrected one goes through with it.
    let mut bad = body.clone();
    bad["event_types"] = json!(["call.missed"]);
    let (status, _, _) = post("form-8b21", &bad);
    assert_eq!(status, 422);
    let (status, _, _) = post("form-8b21", &other);
    assert_eq!(status, 201);
}
