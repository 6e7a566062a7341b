//! Plugins that belong to their tenant, as an integrator with one customer's key meets them: upload,
//! try on an event without sending anything, subscribe, read the delivery with the plugin's logs — and
//! another tenant that can neither see nor use them, quotas that refuse clearly, limits the operator lowers.

mod support;

use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use support::plugin_bytes;
use support::service::{INGEST, OPERATOR, Receiver, Service, missed_call};

const WAIT: Duration = Duration::from_secs(30);

fn messages(logs: &Value) -> Vec<String> {
    logs.as_array()
        .map(|lines| {
            lines
                .iter()
                .map(|l| format!("{} {}", l["level"].as_str().unwrap(), l["message"].as_str().unwrap()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_tenant_uploads_tries_and_runs_its_own_plugin_and_reads_its_logs() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(&dir.path().join("data"), &[]);
    let receiver = Receiver::start();
    let key = service.tenant_with_key("acme");

    let (status, version) = service.upload("/v1/tenants/acme/plugins/crm/versions", &key, "misbehaving");
    assert_eq!(status, 201, "{version}");
    assert_eq!(
        (&version["name"], &version["version"], &version["tenant"]),
        (&json!("acme/crm"), &json!(1), &json!("acme"))
    );

    // Tried on an event before anything is subscribed: the requests it would send, and its logs.
    let event = missed_call("acme", "evt_tried");
    let (status, tried) = service.post(
        "/v1/tenants/acme/plugin-runs",
        &key,
        &json!({"plugin": "acme/crm", "event": event, "config": {"behaviour": "log-then-send"}, "endpoint_url": receiver.url}),
    );
    assert_eq!(status, 200, "{tried}");
    assert_eq!((&tried["outcome"], &tried["plugin"]), (&json!("requests"), &json!("acme/crm@1")), "{tried}");
    let logged = messages(&tried["logs"]);
    assert_eq!(
        logged,
        [
            "info mapping event evt_tried",
            "warn contact has no email",
            "info stdout: call.ended",
            "warn stderr: checked"
        ],
        "{tried}"
    );
    assert_eq!(receiver.received().len(), 0, "trying sends nothing");
    let (_, deliveries) = service.get("/v1/tenants/acme/deliveries", &key);
    assert_eq!(deliveries, json!([]), "trying stores nothing");

    // Subscribed and posted: the service delivers exactly what the test answered, and keeps the logs.
    let (status, subscription) = service.post(
        "/v1/tenants/acme/subscriptions",
        &key,
        &json!({"event_types": ["call.*"], "plugin": "acme/crm", "endpoint_url": receiver.url, "config": {"behaviour": "log-then-send"}}),
    );
    assert_eq!(status, 201, "{subscription}");
    assert_eq!(service.post("/v1/events", INGEST, &missed_call("acme", "evt_tried")).0, 202);
    receiver.wait_for(1, WAIT);
    let delivered = service.wait_for_deliveries("acme", "&status=succeeded", WAIT, |d| d.len() == 1);
    let delivery = &delivered[0];
    assert_eq!(delivery["plugin"], "acme/crm@1");
    for field in ["method", "url", "headers", "body"] {
        assert_eq!(
            delivery["request"][field], tried["requests"][0][field],
            "{field}: {delivery:#}\n{tried:#}"
        );
    }
    assert_eq!(messages(&delivery["logs"]), logged);

    // A plugin that fails: the delivery says what kind of failure, the panic's text, and the logs. Each
    // event runs with the configuration of its time, so the next change waits for its delivery.
    let behave_then_post = |behaviour: &str, event_id: &str| {
        let (status, _) = service.patch(
            &format!("/v1/tenants/acme/subscriptions/{}", subscription["id"].as_str().unwrap()),
            &key,
            &json!({"config": {"behaviour": behaviour}}),
        );
        assert_eq!(status, 200);
        assert_eq!(service.post("/v1/events", INGEST, &missed_call("acme", event_id)).0, 202);
        service.wait_for_deliveries("acme", &format!("&event_id={event_id}"), WAIT, |d| d.len() == 1)
    };
    let failed = behave_then_post("log-then-panic", "evt_panic");
    assert_eq!(
        (&failed[0]["status"], &failed[0]["error_kind"]),
        (&json!("plugin_error"), &json!("trap")),
        "{failed:#?}"
    );
    assert!(
        failed[0]["error"].as_str().unwrap().contains("no phone number in event evt_panic"),
        "{failed:#?}"
    );
    assert!(messages(&failed[0]["logs"]).contains(&"info mapping event evt_panic".to_owned()), "{failed:#?}");
    let skipped = behave_then_post("log-then-skip", "evt_skip");
    assert_eq!(skipped[0]["status"], "skipped");
    assert!(messages(&skipped[0]["logs"]).contains(&"warn contact has no email".to_owned()), "{skipped:#?}");

    // A stored event, by id, with the subscription's config: the same requests as delivered.
    let (status, again) = service.post(
        "/v1/tenants/acme/plugin-runs",
        &key,
        &json!({"event_id": "evt_tried", "subscription_id": subscription["id"], "config": {"behaviour": "log-then-send"}}),
    );
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["requests"][0]["body"], delivery["request"]["body"]);

    // A candidate not uploaded: run from its bytes, stored nowhere (not even compiled, in the plugin cache).
    let cached_before = cached_plugins(&service);
    let candidate = base64::engine::general_purpose::STANDARD.encode(plugin_bytes("slack"));
    let (status, candidate) = service.post(
        "/v1/tenants/acme/plugin-runs",
        &key,
        &json!({"wasm_base64": candidate, "event_id": "evt_tried", "endpoint_url": receiver.url}),
    );
    assert_eq!((status, &candidate["outcome"]), (200, &json!("requests")), "{candidate}");
    assert!(candidate["plugin"].as_str().unwrap().starts_with("candidate sha256:"), "{candidate}");
    assert!(candidate["requests"][0]["body"].as_str().unwrap().contains("Missed call"), "{candidate}");
    let (_, own) = service.get("/v1/tenants/acme/plugins", &key);
    assert_eq!(own.as_array().unwrap().len(), 1, "{own}");
    assert_eq!(cached_plugins(&service), cached_before, "the candidate's compile is not kept");

    // Bad input to the test operation is named.
    for (body, status, field) in [
        (json!({"plugin": "acme/crm"}), 422, "event"),
        (json!({"plugin": "acme/nope", "event_id": "evt_tried"}), 404, "plugin"),
        (json!({"plugin": "acme/crm", "event_id": "evt_never"}), 404, "event_id"),
        (json!({"plugin": "acme/crm", "event": {"id": "e", "type": "call.ended"}}), 422, "event.timestamp"),
        (json!({"wasm_base64": "%%%", "event_id": "evt_tried"}), 422, "wasm_base64"),
    ] {
        let (got, answer) = service.post("/v1/tenants/acme/plugin-runs", &key, &body);
        assert_eq!((got, answer["error"]["field"].as_str()), (status, Some(field)), "{body}: {answer}");
    }
}

#[test]
fn another_tenant_can_neither_see_nor_use_nor_overwrite_a_tenants_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(&dir.path().join("data"), &[]);
    let receiver = Receiver::start();
    let acme = service.tenant_with_key("acme");
    let globex = service.tenant_with_key("globex");
    assert_eq!(service.upload("/v1/tenants/acme/plugins/crm/versions", &acme, "misbehaving").0, 201);
    assert_eq!(service.upload("/v1/plugins/slack/versions", OPERATOR, "slack").0, 201);

    for path in [
        "/v1/tenants/acme/plugins",
        "/v1/tenants/acme/plugins/crm/versions",
        "/v1/plugins/acme%2Fcrm/versions",
    ] {
        let (status, body) = service.get(path, &globex);
        assert_eq!(status, 404, "{path}: {body}");
    }
    // Refused before its body is read: a short body, so that the client has sent it all when the answer
    // comes (a large one may still be on its way when the connection closes).
    let (status, body) =
        service.post_raw("/v1/tenants/acme/plugins/crm/versions", &globex, "application/wasm", b"\0asm");
    assert_eq!(status, 404, "{body}");
    let (_, visible) = service.get("/v1/plugins", &globex);
    let names: Vec<&str> = visible.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["slack"], "globex sees only the shared catalog");
    assert!(!visible.to_string().contains("acme"), "{visible}");
    let (status, body) = service.post(
        "/v1/tenants/globex/subscriptions",
        &globex,
        &json!({"event_types": ["*"], "plugin": "acme/crm", "endpoint_url": receiver.url}),
    );
    assert_eq!((status, body["error"]["field"].as_str()), (404, Some("plugin")), "{body}");
    let (status, body) = service.post(
        "/v1/tenants/globex/plugin-runs",
        &globex,
        &json!({"plugin": "acme/crm", "event": missed_call("globex", "evt_1")}),
    );
    assert_eq!((status, body["error"]["field"].as_str()), (404, Some("plugin")), "{body}");

    // Globex's own `crm` is another plugin, and uploading it changes nothing of acme's.
    let (status, own) = service.upload("/v1/tenants/globex/plugins/crm/versions", &globex, "slack");
    assert_eq!((status, &own["name"], &own["version"]), (201, &json!("globex/crm"), &json!(1)), "{own}");
    // Nor does a shared plugin of the same name.
    assert_eq!(service.upload("/v1/plugins/crm/versions", OPERATOR, "slack").0, 201);
    let (status, _) = service.post(
        "/v1/tenants/acme/subscriptions",
        &acme,
        &json!({"event_types": ["call.*"], "plugin": "acme/crm", "endpoint_url": receiver.url, "config": {"behaviour": "log-then-send"}}),
    );
    assert_eq!(status, 201);
    assert_eq!(service.post("/v1/events", INGEST, &missed_call("acme", "evt_acme")).0, 202);
    let delivered = service.wait_for_deliveries("acme", "&status=succeeded", WAIT, |d| d.len() == 1);
    assert_eq!(delivered[0]["plugin"], "acme/crm@1");
    assert_eq!(delivered[0]["request"]["body"], json!({"event": "evt_acme"}).to_string());

    // The operator sees every plugin.
    let (_, all) = service.get("/v1/plugins", OPERATOR);
    let names: Vec<&str> = all.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["acme/crm", "crm", "globex/crm", "slack"]);
}

/// The files of the precompiled-plugin cache in the service's data directory.
fn cached_plugins(service: &Service) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(service.data_dir.join("plugin-cache"))
        .map(|dir| dir.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

/// Sends only the head of a POST that declares a 100 MiB JSON body, and reads the answer.
fn declare_huge_body(service: &Service, path: &str, key: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let address = service.url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {key}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{{\"wasm_base64\": \"",
        100 << 20
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, answer)
}

#[test]
fn quotas_and_limits_refuse_clearly_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(&dir.path().join("data"), &[]);
    let key = service.tenant_with_key("acme");
    let small = plugin_bytes("slack").len() - 1;

    let (status, body) = service.patch("/v1/tenants/acme", &key, &json!({"policy": {}}));
    assert_eq!(status, 403, "only the operator sets a tenant's policy: {body}");
    let (status, body) =
        service.patch("/v1/tenants/acme", OPERATOR, &json!({"policy": {"limits": {"timeout_ms": 100_000}}}));
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("policy.limits.timeout_ms")), "{body}");
    let (status, body) =
        service.patch("/v1/tenants/acme", OPERATOR, &json!({"policy": {"quotas": {"max_plugins": 1}}}));
    assert_eq!(status, 422, "{body}");

    let (status, body) = service.patch(
        "/v1/tenants/acme",
        OPERATOR,
        &json!({"policy": {"quotas": {"max_plugin_bytes": small}, "limits": {"timeout_ms": 20}}}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["effective"]["quotas"]["max_plugin_bytes"], small);
    assert_eq!(body["effective"]["limits"]["timeout_ms"], 20);
    let (status, body) = service.upload("/v1/tenants/acme/plugins/crm/versions", &key, "slack");
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("quota_exceeded")), "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("quotas.max_plugin_bytes") && message.contains(&small.to_string()), "{message}");
    assert_eq!(service.get("/v1/tenants/acme/plugins/crm/versions", &key).0, 404, "nothing stored");

    // A candidate is judged by its encoded size before it is decoded: these characters are no base64 at all.
    let oversized = "!".repeat((small + 3) / 3 * 4 + 8);
    let (status, body) = service.post(
        "/v1/tenants/acme/plugin-runs",
        &key,
        &json!({"wasm_base64": oversized, "event": missed_call("acme", "evt_big")}),
    );
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("quota_exceeded")), "{body}");
    // A body that could hold nothing acceptable is refused from its declared length, before it is read.
    for path in ["/v1/tenants/acme/plugin-runs", "/v1/tenants/acme/subscriptions/sub_x/dry-runs"] {
        let (status, body) = declare_huge_body(&service, path, &key);
        assert_eq!(status, 413, "{path}: {body}");
        assert!(
            body.contains("body_too_large") && body.contains("quotas.max_plugin_bytes"),
            "{path}: {body}"
        );
    }

    let (status, _) = service.patch(
        "/v1/tenants/acme",
        OPERATOR,
        &json!({"policy": {"quotas": {"max_versions_per_plugin": 1}, "limits": {"timeout_ms": 20}}}),
    );
    assert_eq!(status, 200);
    assert_eq!(service.upload("/v1/tenants/acme/plugins/crm/versions", &key, "misbehaving").0, 201);
    let cached_before = cached_plugins(&service);
    let (status, body) = service.upload("/v1/tenants/acme/plugins/crm/versions", &key, "slack");
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("quota_exceeded")), "{body}");
    assert_eq!(cached_plugins(&service), cached_before, "refused before it was compiled");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("max_versions_per_plugin") && message.contains("has 1 versions"), "{message}");
    let (_, versions) = service.get("/v1/tenants/acme/plugins/crm/versions", &key);
    assert_eq!(versions.as_array().unwrap().len(), 1, "{versions}");
    let (status, body) = service.delete("/v1/tenants/acme/plugins/crm/versions/1", &key);
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("in_use")), "the latest stays: {body}");
    let (_, tenant) = service.get("/v1/tenants/acme", &key);
    assert_eq!(tenant["plugin_usage"]["versions"], 1, "{tenant}");

    // The tenant's lower deadline applies to its runs.
    let (status, run) = service.post(
        "/v1/tenants/acme/plugin-runs",
        &key,
        &json!({"plugin": "acme/crm", "event": missed_call("acme", "evt_1"), "config": {"behaviour": "endless-loop"}}),
    );
    assert_eq!(
        (status, &run["outcome"], &run["error"]["kind"]),
        (200, &json!("plugin_error"), &json!("timeout")),
        "{run}"
    );
    assert!(run["error"]["message"].as_str().unwrap().contains("20 ms"), "{run}");
}

#[test]
fn a_plugin_with_an_import_the_host_does_not_grant_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(&dir.path().join("data"), &[]);
    let key = service.tenant_with_key("acme");
    let started = std::time::Instant::now();
    let (status, body) = service.upload("/v1/tenants/acme/plugins/crm/versions", &key, "forbidden-import");
    assert!(started.elapsed() < Duration::from_secs(1), "refused in {:?}", started.elapsed());
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("invalid_plugin")), "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("acme:net/sockets") && message.contains("gancho:plugin/log"), "{message}");
    assert_eq!(service.get("/v1/tenants/acme/plugins", &key).1, json!([]));
}

#[test]
fn the_api_document_lists_every_operation_with_its_answers() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(&dir.path().join("data"), &[]);
    let (status, document) = service.get("/openapi.json", OPERATOR);
    assert_eq!(status, 200);
    let paths = document["paths"].as_object().unwrap();
    for path in [
        "/v1/tenants/{tenant}/plugins/{name}/versions",
        "/v1/tenants/{tenant}/plugins/{name}/versions/{version}",
        "/v1/tenants/{tenant}/plugins",
        "/v1/tenants/{tenant}/plugin-runs",
    ] {
        assert!(paths.contains_key(path), "{path} is missing");
    }
    let mut operations = 0;
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            assert!(responses.contains_key("400"), "{method} {path} has no 400");
            // axum words a query or path that does not parse in plain text.
            let malformed = &responses["400"]["content"];
            assert!(malformed.get("text/plain").is_some(), "{method} {path}: {malformed}");
            if operation.get("security").is_some() {
                assert!(responses.contains_key("401"), "{method} {path} has no 401");
                assert!(responses.contains_key("429"), "{method} {path} has no 429");
            }
            if operation.get("requestBody").is_some() {
                assert!(responses.contains_key("422"), "{method} {path} has a body but no 422");
            }
            operations += 1;
        }
    }
    assert!(operations >= 22, "{operations} operations");
}

#[test]
fn a_misspelt_config_key_is_refused_when_the_subscription_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(&dir.path().join("data"), &[]);
    let receiver = Receiver::start();
    let key = service.tenant_with_key("acme");
    assert_eq!(service.upload("/v1/plugins/slack/versions", OPERATOR, "slack").0, 201);

    let (status, body) = service.post(
        "/v1/tenants/acme/subscriptions",
        &key,
        &json!({"event_types": ["call.*"], "plugin": "slack", "endpoint_url": receiver.url, "config": {"chanel": "#ventas"}}),
    );
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("config.chanel")), "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("slack@1 refused the config") && message.contains("`channel`"), "{message}");
    assert_eq!(service.get("/v1/tenants/acme/subscriptions", &key).1, json!([]), "nothing stored");

    let (status, subscription) = service.post(
        "/v1/tenants/acme/subscriptions",
        &key,
        &json!({"event_types": ["call.*"], "plugin": "slack", "endpoint_url": receiver.url, "config": {"channel": "#ventas"}}),
    );
    assert_eq!(status, 201, "{subscription}");
    let path = format!("/v1/tenants/acme/subscriptions/{}", subscription["id"].as_str().unwrap());
    let (status, body) = service.patch(&path, &key, &json!({"config": {"channel": 7}}));
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("config.channel")), "{body}");
    assert_eq!(service.get(&path, &key).1["config"], json!({"channel": "#ventas"}), "unchanged");
    let (status, body) = service.patch(&path, &key, &json!({"config": {"channel": "#soporte"}}));
    assert_eq!(status, 200, "{body}");
}
