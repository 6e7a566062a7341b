//! The console's charts and the controls beside them, in a real browser against the real service, the
//! real template plugin and a real receiver: deliveries that succeed, fail with 500 and fail in the plugin
//! are drawn on the webhook's page, the deliveries page and the operator's overview, with the numbers the
//! stats API and the deliveries list give, in Spanish and in English; a canary started and rolled back
//! from the webhook's page is the rollouts API's; a key revoked on the operator's keys page stops working.
//! Screenshots of each chart and page land in `target/console-screenshots`.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::browser::{portal_link, story};
use support::plugin_bytes;
use support::service::{Behaviour, INGEST, OPERATOR, Receiver, Service};

/// 32 bytes in base64: the connections' sealing key (the budget is set with a connection).
const SEALING_KEY: &str = "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

fn call_ended(id: &str) -> Value {
    let mut event: Value =
        serde_json::from_str(&std::fs::read_to_string(support::sample_path("call.ended.json")).unwrap())
            .unwrap();
    event["id"] = json!(id);
    event["tenant"] = json!("acme");
    event
}

fn send(service: &Service, event: &Value) {
    let (status, body) = service.post("/v1/events", INGEST, event);
    assert_eq!(status, 202, "{body}");
}

/// The template plugin with a custom section added: the same code under another digest, so that it is
/// stored as a new version (the canary's candidate).
fn another_build(wasm: &[u8]) -> Vec<u8> {
    let section = [&[4u8][..], b"note", b"build 2"].concat();
    [wasm, &[0u8, section.len() as u8], &section].concat()
}

/// The numbers a chart's accessible name gives after its title (`Entregas…, últimas 24 horas: 3 …`).
fn numbers(label: &Value) -> Vec<u64> {
    let label = label.as_str().unwrap_or_else(|| panic!("a chart's label: {label}"));
    let (_, figures) = label.split_once(": ").unwrap_or_else(|| panic!("figures after the title: {label}"));
    figures
        .split(|c: char| !c.is_ascii_digit())
        .filter(|n| !n.is_empty())
        .map(|n| n.parse().unwrap())
        .collect()
}

#[test]
fn charts_canaries_and_keys_in_the_console() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start();
    // A failed attempt is retried in ten minutes: the failures stay `retrying` while the test reads them.
    let service = Service::start(
        &dir.path().join("data"),
        &[("GANCHO_DELIVERY__RETRY__DELAYS_SECS", "[0, 600]"), ("GANCHO_CONNECTIONS__KEYS", SEALING_KEY)],
    );
    let (status, _) = service.post("/v1/tenants", OPERATOR, &json!({"id": "acme", "name": "Acme"}));
    assert_eq!(status, 201);
    let template = plugin_bytes("template");
    for (wasm, version) in [(template.clone(), 1), (another_build(&template), 2)] {
        let (status, body) =
            service.post_raw("/v1/plugins/template/versions", OPERATOR, "application/wasm", &wasm);
        assert_eq!((status, body["version"].as_u64()), (201, Some(version)), "{body}");
    }
    // 600 requests a minute to the receiver's host: the pacing chart's budget line.
    let (status, body) = service.post(
        "/v1/tenants/acme/connections",
        OPERATOR,
        &json!({"name": "receiver", "hosts": ["127.0.0.1"], "budget": {"requests": 600, "per_secs": 60},
                "credential": {"kind": "header", "name": "x-api-key", "value": "secret"}}),
    );
    assert_eq!(status, 201, "{body}");
    let (status, subscription) = service.post(
        "/v1/tenants/acme/subscriptions",
        OPERATOR,
        &json!({"event_types": ["call.ended"], "plugin": "template@1", "endpoint_url": format!("{}/hook", receiver.url),
                "config": {"format": "json", "template": "{\"from\": \"{{call.from}}\", \"cost\": \"{{call.cost.amount}}\"}"}}),
    );
    assert_eq!(status, 201, "{subscription}");
    let id = subscription["id"].as_str().unwrap().to_owned();
    receiver.set_secret(subscription["secret"].as_str().unwrap());

    // Three delivered, one the plugin cannot build (a cost in text), two refused with 500.
    for n in 0..3 {
        send(&service, &call_ended(&format!("evt_ok_{n}")));
    }
    receiver.wait_for(3, Duration::from_secs(30));
    let mut odd = call_ended("evt_cost_as_text");
    odd["data"]["call"]["cost"] = json!("12.50");
    send(&service, &odd);
    receiver.set_behaviour(Behaviour::Always(500));
    for n in 0..2 {
        send(&service, &call_ended(&format!("evt_refused_{n}")));
    }
    let listed = service.wait_for_deliveries("acme", "", Duration::from_secs(30), |d| {
        let count = |status: &str| d.iter().filter(|d| d["status"] == status).count();
        (count("succeeded"), count("failed"), count("plugin_error")) == (3, 2, 1)
    });
    assert_eq!(listed.len(), 6, "{listed:#?}");

    // The stats API counts what the list shows.
    let (status, stats) =
        service.get(&format!("/v1/tenants/acme/subscriptions/{id}/stats?window=24h"), OPERATOR);
    assert_eq!(status, 200, "{stats}");
    let totals = &stats["totals"];
    let expected =
        json!({"succeeded": 3, "retrying": 2, "failed": 0, "dead": 0, "plugin_error": 1, "other": 0});
    assert_eq!(totals, &expected, "{stats}");
    assert_eq!(stats["buckets"].as_array().unwrap().len(), 24);
    assert_eq!(stats["plugin_errors"][0]["plugin"], "template@1", "{stats}");
    let pacing = &stats["destinations"][0];
    assert_eq!(pacing["destination"], "127.0.0.1", "{stats}");
    assert_eq!(pacing["budget"], json!({"requests": 600, "per_secs": 60}));
    assert_eq!(pacing["budget_per_bucket"], 36_000);
    let sent: u64 = pacing["sent"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap()).sum();
    assert_eq!(sent, 5, "three successes and two refusals: {stats}");
    let (_, tenant_stats) = service.get("/v1/tenants/acme/stats?window=1h", OPERATOR);
    assert_eq!(tenant_stats["totals"], expected, "{tenant_stats}");
    let (_, openapi) = service.get("/openapi.json", "");
    let operation = &openapi["paths"]["/v1/tenants/{tenant}/subscriptions/{id}/stats"]["get"];
    assert!(operation["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "window"), "{operation}");
    assert!(
        openapi["paths"]["/v1/stats"]["get"].is_object()
            && openapi["paths"]["/v1/tenants/{tenant}/stats"].is_object()
    );
    assert!(openapi["components"]["schemas"]["StatsView"]["properties"]["buckets"].is_object());
    let (status, refused) = service.get("/v1/stats?window=1y", OPERATOR);
    assert_eq!((status, refused["error"]["field"].as_str()), (422, Some("window")), "{refused}");
    let (status, made) = service.post("/v1/tenants/acme/keys", OPERATOR, &json!({}));
    assert_eq!(status, 201, "{made}");
    let key = made["key"].as_str().unwrap().to_owned();
    let (status, _) = service.get("/v1/stats", &key);
    assert_eq!(status, 403, "the service's figures are the operator's");

    // The charts say the same, in Spanish and in English, on the webhook's page and the deliveries page.
    let charts = story(
        "charts",
        &service,
        &[
            ("PORTAL_LINK", portal_link(&service, "acme")),
            ("SUBSCRIPTION", id.clone()),
            ("BROWSER_LOCALE", "es-AR".to_owned()),
        ],
    );
    let outcomes = [3, 2, 0, 0, 1];
    for lang in ["es", "en"] {
        for page in ["subscription", "deliveries", "hour"] {
            let read = &charts[lang][page];
            assert_eq!(numbers(&read["deliveries"])[..5], outcomes, "{lang} {page}: {read}");
            assert_eq!(numbers(&read["latency"])[0], 3, "{lang} {page}: {read}");
            assert!(
                read["plugin_errors"].as_str().unwrap().contains(": template@1 1 ("),
                "{lang} {page}: {read}"
            );
            assert!(read["pacing"][0].as_str().unwrap().contains(" 127.0.0.1, "), "{lang} {page}: {read}");
            assert_eq!(numbers(&read["pacing"][0])[..2], [5, 600], "sent, then the budget: {read}");
        }
        let list = &charts[lang]["list"];
        assert_eq!(list, &json!({"succeeded": 3, "failed": 2, "plugin_error": 1}), "{lang}: {list}");
    }
    assert!(charts["es"]["subscription"]["deliveries"].as_str().unwrap().contains("entregadas"));
    assert!(charts["en"]["subscription"]["deliveries"].as_str().unwrap().contains("delivered"));

    // The operator's overview draws the whole service's.
    let overview = story("chartsOverview", &service, &[("OPERATOR_TOKEN", OPERATOR.to_owned())]);
    for lang in ["en", "es"] {
        assert_eq!(numbers(&overview[lang]["deliveries"])[..5], outcomes, "{lang}: {overview}");
    }

    // A canary started from the webhook's page runs, as the rollouts API says; rolled back from there too.
    let rollouts = format!("/v1/tenants/acme/subscriptions/{id}/rollouts");
    let started = story(
        "canary",
        &service,
        &[
            ("PORTAL_LINK", portal_link(&service, "acme")),
            ("SUBSCRIPTION", id.clone()),
            ("END", String::new()),
            ("BROWSER_LOCALE", "es-AR".to_owned()),
        ],
    );
    let (_, list) = service.get(&rollouts, OPERATOR);
    assert_eq!(list[0]["state"], "running", "{list}");
    assert_eq!((list[0]["candidate"].as_str(), list[0]["percent"].as_u64()), (Some("template@2"), Some(25)));
    assert_eq!(started["rollout"], list[0]["id"]);
    story(
        "canary",
        &service,
        &[
            ("PORTAL_LINK", portal_link(&service, "acme")),
            ("SUBSCRIPTION", id.clone()),
            ("END", "rollback".to_owned()),
        ],
    );
    let (_, list) = service.get(&rollouts, OPERATOR);
    assert_eq!(
        (list[0]["state"].as_str(), list[0]["ended_by"].as_str()),
        (Some("rolled_back"), Some("hand")),
        "{list}"
    );

    // A key revoked on the operator's keys page no longer reaches the API.
    let (status, made) = service.post("/v1/tenants/acme/keys", OPERATOR, &json!({}));
    assert_eq!(status, 201, "{made}");
    let revoked = made["key"].as_str().unwrap();
    assert_eq!(service.get("/v1/tenants/acme", revoked).0, 200);
    story(
        "revokeKey",
        &service,
        &[("OPERATOR_TOKEN", OPERATOR.to_owned()), ("KEY_ID", made["id"].as_str().unwrap().to_owned())],
    );
    assert_eq!(service.get("/v1/tenants/acme", revoked).0, 401, "the revoked key is refused");
    assert_eq!(service.get("/v1/tenants/acme", &key).0, 200, "the other key still works");
}
