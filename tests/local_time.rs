//! Local time in every plugin language, live through the service: a tenant's plugins in Rust (the
//! template plugin's `date` filter), JavaScript and Python write an event's timestamp in Madrid, Santiago
//! and Buenos Aires, tried (plugin-runs) on instants on both sides of a daylight-saving change; each
//! answers what the SDKs' native test harnesses answer (their own tests hold the same figures). And the
//! customer's template: refused when saved if it cannot render on her events, warned about in a preview.

mod support;

use serde_json::{Value, json};
use support::guest_plugin_bytes;
use support::service::{OPERATOR, Service, missed_call};

const ZONES: [&str; 3] = ["Europe/Madrid", "America/Santiago", "America/Argentina/Buenos_Aires"];

/// (instant, the local time and abbreviation expected in each of [`ZONES`]): both sides of Madrid's
/// spring change (2026-03-29 01:00 UTC) and of Santiago's (2026-09-06 04:00 UTC).
const EXPECTED: [(&str, [(&str, &str); 3]); 4] = [
    (
        "2026-03-29T00:59:59Z",
        [
            ("2026-03-29T01:59:59+01:00", "CET"),
            ("2026-03-28T21:59:59-03:00", "-03"),
            ("2026-03-28T21:59:59-03:00", "-03"),
        ],
    ),
    (
        "2026-03-29T01:00:00Z",
        [
            ("2026-03-29T03:00:00+02:00", "CEST"),
            ("2026-03-28T22:00:00-03:00", "-03"),
            ("2026-03-28T22:00:00-03:00", "-03"),
        ],
    ),
    (
        "2026-09-06T03:59:00Z",
        [
            ("2026-09-06T05:59:00+02:00", "CEST"),
            ("2026-09-05T23:59:00-04:00", "-04"),
            ("2026-09-06T00:59:00-03:00", "-03"),
        ],
    ),
    (
        "2026-09-06T04:00:00Z",
        [
            ("2026-09-06T06:00:00+02:00", "CEST"),
            ("2026-09-06T01:00:00-03:00", "-03"),
            ("2026-09-06T01:00:00-03:00", "-03"),
        ],
    ),
];

fn preview(service: &Service, plugin: &str, timestamp: &str, config: &Value) -> Value {
    let mut event = missed_call("acme", "evt_local");
    event["timestamp"] = json!(timestamp);
    let (status, run) = service.post(
        "/v1/tenants/acme/plugin-runs",
        OPERATOR,
        &json!({"plugin": plugin, "event": event, "config": config}),
    );
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["outcome"], "requests", "{plugin} at {timestamp}: {run}");
    run
}

fn body_json(run: &Value) -> Value {
    let body = &run["requests"][0]["body"];
    let text = body.as_str().map(str::to_owned).unwrap_or_else(|| body.to_string());
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("a JSON body: {run}"))
}

#[test]
fn every_language_reads_local_time_across_a_daylight_saving_change() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(&dir.path().join("data"), &[("GANCHO_LIMITS__TIMEOUT_MS", "10000")]);
    let (status, body) = service.post("/v1/tenants", OPERATOR, &json!({"id": "acme", "name": "Acme"}));
    assert_eq!(status, 201, "{body}");
    for (name, wasm) in [
        ("localtime-js", guest_plugin_bytes("localtime-js")),
        ("localtime-python", guest_plugin_bytes("localtime-python")),
        ("template", support::plugin_bytes("template")),
    ] {
        let path = format!("/v1/tenants/acme/plugins/{name}/versions");
        let (status, body) = service.post_raw(&path, OPERATOR, "application/wasm", &wasm);
        assert_eq!(status, 201, "uploading {name}: {body}");
    }
    let zones = json!({"zones": ZONES});
    let pattern = "%Y-%m-%dT%H:%M:%S%:z";
    let row = |zone: &str| {
        format!(
            r#"{{"zone": "{zone}", "local": "{{{{event.timestamp | date: "{pattern}", "{zone}"}}}}", "abbreviation": "{{{{event.timestamp | date: "%Z", "{zone}"}}}}"}}"#
        )
    };
    let template = json!({"template": format!("[{}]", ZONES.map(row).join(", "))});

    for (instant, expected) in EXPECTED {
        let expected: Vec<Value> = ZONES
            .iter()
            .zip(expected)
            .map(|(zone, (local, abbreviation))| json!({"zone": zone, "local": local, "abbreviation": abbreviation}))
            .collect();
        for (plugin, config) in
            [("acme/localtime-js", &zones), ("acme/localtime-python", &zones), ("acme/template", &template)]
        {
            assert_eq!(
                body_json(&preview(&service, plugin, instant, config)),
                json!(expected),
                "{plugin} at {instant}"
            );
        }
    }

    // An unknown zone is an error that names it, in every language: a plugin error of the run, or — for the
    // template, whose configuration check knows its zones — the same 422 the subscription would get.
    for (plugin, config, refused) in [
        ("acme/localtime-js", json!({"zones": ["America/Buenos_Aries"]}), 200),
        ("acme/localtime-python", json!({"zones": ["America/Buenos_Aries"]}), 200),
        (
            "acme/template",
            json!({"template": "{\"at\": \"{{event.timestamp | date: \"%H:%M\", \"America/Buenos_Aries\"}}\"}"}),
            422,
        ),
    ] {
        let mut event = missed_call("acme", "evt_zone");
        event["timestamp"] = json!("2026-03-29T01:00:00Z");
        let (status, run) = service.post(
            "/v1/tenants/acme/plugin-runs",
            OPERATOR,
            &json!({"plugin": plugin, "event": event, "config": config}),
        );
        assert_eq!(status, refused, "{run}");
        let message = run["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("unknown time zone \"America/Buenos_Aries\""), "{plugin}: {run}");
    }
}

#[test]
fn a_template_that_cannot_render_on_her_events_is_refused_when_saved() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(&dir.path().join("data"), &[]);
    let (status, body) = service.post("/v1/tenants", OPERATOR, &json!({"id": "acme", "name": "Acme"}));
    assert_eq!(status, 201, "{body}");
    let (status, body) = service.post_raw(
        "/v1/plugins/template/versions",
        OPERATOR,
        "application/wasm",
        &support::plugin_bytes("template"),
    );
    assert_eq!(status, 201, "{body}");
    let subscribe = |event_types: Value, config: Value| {
        service.post(
            "/v1/tenants/acme/subscriptions",
            OPERATOR,
            &json!({"event_types": event_types, "plugin": "template", "endpoint_url": "https://crm.example/hook",
                    "config": config}),
        )
    };

    // A misspelt field under a valid first segment, which a live event would write as "".
    let (status, body) =
        subscribe(json!(["call.ended"]), json!({"template": "{\"form\": \"{{call.form}}\"}"}));
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("config.template")), "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("cannot render a call.ended event") && message.contains("no \"form\" in \"call\""),
        "{message}"
    );

    // A JSON body that is not JSON once rendered; an empty body for a POST.
    let (status, body) =
        subscribe(json!(["call.ended"]), json!({"template": "{\"duration\": {{call.duration_s}} s}"}));
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("config.template")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("does not render to valid JSON"), "{body}");
    let (status, body) = subscribe(json!(["call.ended"]), json!({"template": ""}));
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("config.template")), "{body}");

    // A template fit for calls, refused when the subscription also takes chats; accepted for calls alone.
    let fine = json!({"template": "{\"from\": \"{{call.from}}\", \"estado\": \"{{call.status | map: missed=perdida, answered=atendida}}\"}",
                      "timezone": "America/Argentina/Buenos_Aires"});
    let (status, body) = subscribe(json!(["call.ended", "chat.closed"]), fine.clone());
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("cannot render a chat.closed event"),
        "{body}"
    );
    let (status, subscription) = subscribe(json!(["call.ended"]), fine);
    assert_eq!(status, 201, "{subscription}");

    // Adding chats to the saved subscription is checked the same way.
    let id = subscription["id"].as_str().unwrap();
    let (status, body) = service.patch(
        &format!("/v1/tenants/acme/subscriptions/{id}"),
        OPERATOR,
        &json!({"event_types": ["call.*", "chat.*"]}),
    );
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("config.template")), "{body}");

    // A preview of the misspelt variable shows a warning, not a silent "".
    let (status, run) = service.post(
        "/v1/tenants/acme/plugin-runs",
        OPERATOR,
        &json!({"plugin": "template", "event": missed_call("acme", "evt_1"), "config": {"template": "{\"form\": \"{{call.form}}\"}"}}),
    );
    assert_eq!(status, 200, "{run}");
    let warned = run["logs"].as_array().unwrap().iter().any(|line| {
        line["level"] == "warn"
            && line["message"].as_str().unwrap().contains("{{call.form}} is written empty")
    });
    assert!(warned, "{run}");
}
