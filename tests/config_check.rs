//! A plugin checks a subscription's configuration when it is set: a misspelt, missing or mistyped key is
//! refused at once, naming the field, instead of failing every event later. Plugins built against the old
//! 0.1.0 WIT, which cannot check, keep loading and running, and accept every configuration.

mod support;

use gancho::runtime::{ConfigCheckError, InvokeError, Limits, Runtime, RuntimeSettings, SubscriptionInput};

const EVENT: &str = include_str!("../plugin-sdk/samples/call.ended.missed.json");

fn runtime() -> Runtime {
    let limits = Limits { timeout_ms: 5_000, ..Limits::default() };
    Runtime::new(RuntimeSettings { limits, ..RuntimeSettings::default() }).expect("runtime starts")
}

fn check(runtime: &Runtime, plugin: &str, config: &str) -> Result<(), ConfigCheckError> {
    let plugin = runtime.load(&support::plugin_bytes(plugin)).expect("plugin loads");
    runtime.check_config(&plugin, config, runtime.limits())
}

#[test]
fn a_misspelt_key_is_refused_naming_it() {
    let error = check(&runtime(), "slack", r##"{"chanel": "#ventas"}"##).unwrap_err();
    let ConfigCheckError::Refused { field, message } = &error else {
        panic!("expected a refusal: {error:?}")
    };
    assert_eq!(field.as_deref(), Some("chanel"));
    assert!(message.contains("unknown field `chanel`") && message.contains("`channel`"), "{message}");
    assert!(error.to_string().contains("field `chanel`"), "{error}");
}

#[test]
fn a_bad_value_is_refused_with_the_plugins_own_message() {
    let error = check(&runtime(), "template", r#"{"method": "FETCH"}"#).unwrap_err();
    let ConfigCheckError::Refused { field, message } = &error else {
        panic!("expected a refusal: {error:?}")
    };
    assert_eq!(field.as_deref(), Some("method"));
    assert!(message.contains("set it to GET, HEAD, POST, PUT, PATCH or DELETE"), "{message}");
}

#[test]
fn a_missing_key_is_refused_naming_it() {
    // `validate = …` checks what serde cannot; serde's own refusals come first.
    let runtime = runtime();
    let error = check(&runtime, "misbehaving", "{}").unwrap_err();
    assert_eq!(
        error,
        ConfigCheckError::Refused { field: Some("behaviour".into()), message: missing("behaviour") }
    );
    let error = check(&runtime, "misbehaving", r#"{"behaviour": ""}"#).unwrap_err();
    assert!(
        matches!(&error, ConfigCheckError::Refused { field: Some(f), .. } if f == "behaviour"),
        "{error:?}"
    );
}

fn missing(field: &str) -> String {
    format!("missing field `{field}`")
}

#[test]
fn every_example_plugins_example_config_is_accepted() {
    let runtime = runtime();
    for name in support::EXAMPLE_PLUGINS {
        let plugin = runtime.load(&support::plugin_bytes(name)).expect("plugin loads");
        assert!(plugin.info().validates_config, "{name} is built with gancho-sdk, which exports the check");
        let path = support::repo_root().join("plugins").join(name).join("config.example.json");
        let config = std::fs::read_to_string(&path).unwrap();
        assert_eq!(runtime.check_config(&plugin, &config, runtime.limits()), Ok(()), "{}", path.display());
        let empty = runtime.check_config(&plugin, "", runtime.limits());
        if *name == "template" {
            // The template's body is the config: with none, a POST cannot render.
            assert!(
                matches!(&empty, Err(ConfigCheckError::Refused { field: Some(f), .. }) if f == "template"),
                "{empty:?}"
            );
        } else {
            assert_eq!(empty, Ok(()), "{name}: no config is `{{}}`");
        }
    }
}

#[test]
fn a_check_runs_under_the_same_deadline_and_limits_as_transform() {
    let limits = Limits { timeout_ms: 200, ..Limits::default() };
    let runtime = runtime();
    let plugin = runtime.load(&support::plugin_bytes("misbehaving")).unwrap();
    let started = std::time::Instant::now();
    let error = runtime.check_config(&plugin, r#"{"behaviour": "check-endless-loop"}"#, &limits).unwrap_err();
    assert_eq!(error, ConfigCheckError::Failed(InvokeError::Timeout { limit_ms: 200 }));
    // 200 ms of the plugin's own run: on a loaded machine, more of wall-clock time, but never unbounded.
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    let error = runtime.check_config(&plugin, r#"{"behaviour": "check-panic"}"#, &limits).unwrap_err();
    assert!(
        matches!(&error, ConfigCheckError::Failed(InvokeError::Trap { message }) if message.contains("boom: checking")),
        "{error:?}"
    );
}

#[test]
fn a_plugin_built_against_0_1_0_loads_runs_and_accepts_any_config() {
    let runtime = runtime();
    let plugin = runtime.load(&support::plugin_bytes("plugin-0-1-0")).expect("a 0.1.0 plugin loads");
    assert_eq!(plugin.info().world_version, "0.1.0");
    assert!(!plugin.info().validates_config);
    assert!(plugin.info().imports.contains(&"gancho:plugin/log@0.1.0".to_owned()), "{:?}", plugin.info());

    let event = gancho::event::Event::parse(EVENT.as_bytes()).unwrap();
    let subscription =
        SubscriptionInput { id: "sub_1", endpoint_url: "https://hooks.example/x", config_json: "{}" };
    let invocation = runtime.invoke(&plugin, &event.as_input(), &subscription);
    let requests = invocation.result.expect("the 0.1.0 plugin maps the event");
    assert_eq!(requests.len(), 1);
    assert!(String::from_utf8_lossy(requests[0].body.as_bytes()).contains("call.ended {}"));
    assert!(invocation.logs[0].message.starts_with("mapping "), "{:?}", invocation.logs);

    assert_eq!(runtime.check_config(&plugin, r#"{"anything": ["goes"]}"#, runtime.limits()), Ok(()));
}
