//! Plugins in JavaScript and Python are as first-class as Rust ones: their SDKs' and examples' native
//! tests pass, the examples build into components with the SDKs' build commands (toolchains installed from
//! the repository's lock files), and through the real runtime they send exactly what the Rust Slack
//! plugin sends, on every sample event, with errors and logs that carry their messages. A JavaScript or
//! Python plugin that defines `merge` merges requests through the runtime; one that does not is built
//! without the export.

mod support;

use gancho::runtime::SubscriptionInput;
use gancho::runtime::{ConfigCheckError, InstanceBudget, InvokeError, Limits, LoadError, OutgoingRequest};
use gancho::runtime::{Plugin, Runtime, RuntimeSettings};
use serde_json::Value;
use support::{Language, guest_plugin_bytes, language_of, node, python, repo_root};

const ENDPOINT: &str = "https://hooks.slack.example/services/T0/B0/x";

/// Generous deadlines: the tests run in parallel on two cores, and Python's first instance is the slowest.
fn runtime() -> Runtime {
    let limits = Limits { timeout_ms: 10_000, ..Limits::default() };
    Runtime::new(RuntimeSettings { limits, ..RuntimeSettings::default() }).expect("runtime starts")
}

fn load(runtime: &Runtime, name: &str) -> Plugin {
    let bytes = if name == "slack" { support::plugin_bytes("slack") } else { guest_plugin_bytes(name) };
    runtime.load(&bytes).unwrap_or_else(|e| panic!("plugins/{name} loads: {e}"))
}

fn invoke(
    runtime: &Runtime,
    plugin: &Plugin,
    event: &str,
    config: &str,
) -> Result<Vec<OutgoingRequest>, InvokeError> {
    let event = gancho::event::Event::parse(event.as_bytes()).expect("a valid envelope");
    let subscription = SubscriptionInput { id: "sub_1", endpoint_url: ENDPOINT, config_json: config };
    runtime.invoke(plugin, &event.as_input(), &subscription).result
}

/// Every sample event, and a 400-message chat, with its name.
fn events() -> Vec<(String, String)> {
    let mut events: Vec<(String, String)> = gancho_sdk::testing::samples::ALL
        .iter()
        .map(|(name, json)| (name.to_string(), json.to_string()))
        .collect();
    events.push(("long chat".into(), gancho_sdk::testing::samples::long_chat_closed(400)));
    events
}

/// A request as compared across languages: the JSON body parsed (key order is not part of the contract).
fn comparable(request: &OutgoingRequest) -> (String, String, Vec<(String, String)>, Value) {
    let body = serde_json::from_slice(request.body.as_bytes())
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(request.body.as_bytes()).into_owned()));
    (request.method.to_owned(), request.url.clone(), request.headers.clone(), body)
}

#[test]
fn the_javascript_sdk_and_examples_pass_their_native_tests() {
    let status = node()
        .args([
            "--test",
            "--test-reporter=dot",
            "plugin-sdk/js/test/",
            "plugins/slack-js/test/",
            "plugins/crm-form-js/test/",
        ])
        .status()
        .expect("node runs");
    assert!(status.success(), "node --test failed ({status}); see its output above");
}

#[test]
fn the_python_sdk_and_examples_pass_their_native_tests() {
    for dir in ["plugin-sdk/python", "plugins/slack-python", "plugins/crm-form-python"] {
        let status = python()
            .current_dir(repo_root().join(dir))
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .status()
            .expect("pytest runs");
        assert!(status.success(), "pytest in {dir} failed ({status}); see its output above");
    }
}

#[test]
fn javascript_and_python_slack_send_what_the_rust_slack_plugin_sends_on_every_sample() {
    let runtime = runtime();
    let rust = load(&runtime, "slack");
    let example = std::fs::read_to_string(repo_root().join("plugins/slack/config.example.json")).unwrap();
    let configs = [
        "{}",
        r#"{"notify_answered_calls": true, "notify_recordings": true}"#,
        r#"{"include_transcript": false}"#,
        &example,
    ];
    for name in ["slack-js", "slack-python"] {
        let guest = load(&runtime, name);
        let mut messages = 0;
        for (event_name, event) in events() {
            for config in configs {
                let expected =
                    invoke(&runtime, &rust, &event, config).expect("the Rust plugin maps every sample");
                let got = invoke(&runtime, &guest, &event, config)
                    .unwrap_or_else(|e| panic!("{name} on {event_name} with {config}: {e}"));
                let expected: Vec<_> = expected.iter().map(comparable).collect();
                let got: Vec<_> = got.iter().map(comparable).collect();
                assert_eq!(
                    got, expected,
                    "{name} differs from the Rust plugin on {event_name} with {config}"
                );
                messages += got.len();
            }
        }
        assert!(messages >= 25, "{name}: only {messages} messages were compared");
    }
}

#[test]
fn the_crm_form_plugin_sends_the_same_forms_in_javascript_and_python() {
    let runtime = runtime();
    let (js, py) = (load(&runtime, "crm-form-js"), load(&runtime, "crm-form-python"));
    let config =
        std::fs::read_to_string(repo_root().join("plugins/crm-form-js/config.example.json")).unwrap();
    let mut forms = 0;
    for (event_name, event) in events() {
        let from_js =
            invoke(&runtime, &js, &event, &config).unwrap_or_else(|e| panic!("js on {event_name}: {e}"));
        let from_py =
            invoke(&runtime, &py, &event, &config).unwrap_or_else(|e| panic!("python on {event_name}: {e}"));
        assert_eq!(from_js, from_py, "the two differ on {event_name}");
        forms += from_js.len();
    }
    assert!(forms >= 3, "only {forms} forms were compared");
    let missed = include_str!("../plugin-sdk/samples/call.ended.missed.json");
    let form = invoke(&runtime, &js, missed, &config).unwrap();
    assert_eq!(form[0].url, ENDPOINT);
    assert!(String::from_utf8_lossy(form[0].body.as_bytes()).contains("name=%C3%91and%C3%BA+%26+C%C3%ADa"));
}

#[test]
fn an_uncaught_exception_a_plugin_error_and_a_refused_configuration_carry_their_messages() {
    let runtime = runtime();
    // `data.call` is null: the plugin's own code fails on it.
    let broken = r#"{"id": "evt_x", "type": "call.ended", "tenant": "acme", "timestamp": "2026-11-21T14:00:31Z", "data": {"call": null}}"#;
    let missed = include_str!("../plugin-sdk/samples/call.ended.missed.json");
    for name in ["crm-form-js", "crm-form-python"] {
        let plugin = load(&runtime, name);
        let config = r#"{"list_id": "L1"}"#;
        match invoke(&runtime, &plugin, broken, config) {
            Err(InvokeError::Plugin { permanent: true, message }) => {
                let kind = if language_of(name) == Language::Python { "AttributeError" } else { "TypeError" };
                assert!(message.starts_with(&format!("uncaught {kind}")), "{name}: {message}");
            }
            other => panic!("{name}: expected a permanent plugin error, got {other:?}"),
        }
        match invoke(&runtime, &plugin, missed, "{}") {
            Err(InvokeError::Plugin { permanent: true, message }) => {
                assert!(message.contains("list_id"), "{message}")
            }
            other => panic!("{name}: expected a permanent plugin error, got {other:?}"),
        }
        let refused =
            runtime.check_config(&plugin, r#"{"list_id": "L1", "colour": "red"}"#, runtime.limits());
        assert!(
            matches!(&refused, Err(ConfigCheckError::Refused { field: Some(field), .. }) if field == "colour"),
            "{name}: {refused:?}"
        );
        assert_eq!(runtime.check_config(&plugin, config, runtime.limits()), Ok(()), "{name}");
    }
}

#[test]
fn logs_reach_the_host_and_javascript_imports_nothing_but_the_log() {
    let runtime = runtime();
    let chat = include_str!("../plugin-sdk/samples/chat.closed.json");
    for name in ["crm-form-js", "crm-form-python"] {
        let plugin = load(&runtime, name);
        let event = gancho::event::Event::parse(chat.as_bytes()).unwrap();
        let subscription =
            SubscriptionInput { id: "sub_1", endpoint_url: ENDPOINT, config_json: r#"{"list_id": "L1"}"# };
        let invocation = runtime.invoke(&plugin, &event.as_input(), &subscription);
        assert!(invocation.result.is_ok(), "{name}: {:?}", invocation.result);
        assert!(
            invocation.logs.iter().any(|line| line.message.ends_with("messages have text")),
            "{name}: {:?}",
            invocation.logs
        );
        assert!(plugin.info().validates_config, "{name} exports validate-config");
    }
    let js = load(&runtime, "slack-js");
    assert!(js.info().imports.iter().all(|i| i.starts_with("gancho:plugin/")), "{:?}", js.info().imports);
}

#[test]
fn what_a_plugin_takes_from_the_instance_pool_is_checked_when_it_is_loaded() {
    let needs = |name: &str| load(&runtime(), name).info().instance_needs;
    let (rust, js, python) = (needs("slack"), needs("slack-js"), needs("slack-python"));
    let default = InstanceBudget::default();
    for (name, needs) in [("rust", rust), ("js", js), ("python", python)] {
        assert!(needs.core_instances >= 1 && needs.memories >= 1, "{name}: {needs:?}");
        assert!(
            needs.core_instances <= default.core_instances
                && needs.memories <= default.memories
                && needs.tables <= default.tables,
            "{name} must fit the default budget: {needs:?} > {default:?}"
        );
    }
    assert!(
        python.core_instances > js.core_instances && js.core_instances > rust.core_instances,
        "{rust:?} {js:?} {python:?}"
    );

    // A host whose pool gives each instance fewer core instances than Python needs refuses it at upload,
    // before compiling it, naming the setting to raise; the smaller plugins still load.
    let budget = InstanceBudget { core_instances: python.core_instances - 1, ..default };
    let small =
        Runtime::new(RuntimeSettings { instance_budget: budget, ..RuntimeSettings::default() }).unwrap();
    match small.load(&guest_plugin_bytes("slack-python")) {
        Err(error @ LoadError::OverInstanceBudget { resource: "core instances", .. }) => {
            assert!(error.to_string().contains("plugins.core_instances_per_instance"), "{error}");
        }
        Err(other) => panic!("expected an instance budget refusal, got {other}"),
        Ok(_) => panic!("python must not load with {budget:?}"),
    }
    assert!(small.load(&guest_plugin_bytes("slack-js")).is_ok());
    let budget = InstanceBudget { memories: js.memories - 1, ..default };
    let small =
        Runtime::new(RuntimeSettings { instance_budget: budget, ..RuntimeSettings::default() }).unwrap();
    assert!(
        matches!(
            small.load(&guest_plugin_bytes("slack-js")),
            Err(LoadError::OverInstanceBudget { resource: "memories", .. })
        ),
        "js needs {} memories",
        js.memories
    );
}

/// Through the real `gancho serve`: JavaScript and Python plugins are uploaded like any other, refuse a bad
/// configuration with the field's name, and deliver a missed call, signed, with what the plugin logged.
#[test]
fn javascript_and_python_plugins_deliver_through_the_service() {
    use support::service::{INGEST, OPERATOR, Receiver, Service, missed_call};
    let wait = std::time::Duration::from_secs(60);
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(&dir.path().join("data"), &[("GANCHO_LIMITS__TIMEOUT_MS", "5000")]);
    for (tenant, plugin) in [("acme-js", "slack-js"), ("acme-py", "slack-python")] {
        let receiver = Receiver::start();
        let subscription =
            service.subscribe(tenant, plugin, &["call.*"], &receiver.url, serde_json::json!({}));
        receiver.set_secret(subscription["secret"].as_str().unwrap());
        let bad = serde_json::json!({"event_types": ["call.*"], "plugin": plugin, "endpoint_url": receiver.url,
            "config": {"notify_missed_call": true}});
        let (status, body) = service.post(&format!("/v1/tenants/{tenant}/subscriptions"), OPERATOR, &bad);
        assert_eq!(status, 422, "{plugin}: {body}");
        assert!(body.to_string().contains("notify_missed_call"), "{plugin}: {body}");

        let (status, body) = service.post("/v1/events", INGEST, &missed_call(tenant, "evt_1"));
        assert_eq!(status, 202, "{body}");
        let received = receiver.wait_for(1, wait);
        assert!(received[0].signature_valid, "{plugin}: {:?}", received[0].headers);
        assert!(
            received[0].body.contains("📞 Missed call from Caller evt_1"),
            "{plugin}: {}",
            received[0].body
        );
        let deliveries = service.wait_for_deliveries(tenant, "&event_id=evt_1", wait, |d| {
            d.iter().any(|d| d["status"] == "succeeded")
        });
        assert_eq!(deliveries[0]["plugin"], format!("{plugin}@1"), "{deliveries:#?}");
    }
}

#[test]
fn javascript_and_python_plugins_that_define_merge_merge_through_the_runtime() {
    let runtime = runtime();
    for name in ["rows-js", "rows-python"] {
        let plugin = load(&runtime, name);
        assert!(plugin.info().merges, "{name} defines merge");
        assert_eq!(plugin.info().world_version, gancho::runtime::WORLD_VERSION);
        let samples = ["call.ended.json", "chat.closed.json", "call.ended.missed.json"];
        let requests: Vec<OutgoingRequest> = samples
            .iter()
            .flat_map(|sample| {
                let event = std::fs::read_to_string(support::sample_path(sample)).unwrap();
                invoke(&runtime, &plugin, &event, "{}").unwrap()
            })
            .collect();
        let subscription =
            SubscriptionInput { id: "sub_1", endpoint_url: ENDPOINT, config_json: r#"{"max_rows": 2}"# };
        let merging = runtime.merge_limited(&plugin, &requests, &subscription, runtime.limits());
        let merged = merging.result.unwrap_or_else(|e| panic!("{name}: {e}"));
        let carries: Vec<&[usize]> = merged.iter().map(|m| m.carries.as_slice()).collect();
        assert_eq!(carries, [&[0, 1][..], &[2]], "{name}");
        let body: Value = serde_json::from_slice(merged[0].request.body.as_bytes()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"values": [["evt_call_ended", "call.ended"], ["evt_chat_closed_1", "chat.closed"]]}),
            "{name}"
        );
        assert_eq!(merged[0].request.url, ENDPOINT);
        assert_eq!(merged[1].request, requests[2], "{name}: a lone row goes as it was");
    }
    for name in ["slack-js", "slack-python"] {
        assert!(!load(&runtime, name).info().merges, "{name} defines no merge, so it is built without it");
    }
}
