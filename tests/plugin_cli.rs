//! `gancho plugin check` and `gancho plugin run`, through the real binary and the real compiled plugins:
//! every example plugin, on every sample event, with its `config.example.json`, prints exactly the
//! requests the same mapping produces natively — the sandbox changes nothing about the output.

mod support;

use std::process::{Command, Output};

use gancho_sdk::testing::{self, samples};
use serde_json::{Value, json};

const ENDPOINT: &str = "https://endpoint.example/webhook";

fn gancho(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gancho")).args(args).output().expect("gancho runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

type Transform = fn(&str, &str) -> Result<Vec<gancho_sdk::Request>, gancho_sdk::PluginError>;

fn native(name: &str) -> Transform {
    match name {
        "slack" => |e, c| testing::run(gancho_plugin_slack::transform, e, c),
        "google-sheets" => |e, c| testing::run(gancho_plugin_google_sheets::transform, e, c),
        "hubspot" => |e, c| testing::run(gancho_plugin_hubspot::transform, e, c),
        "template" => |e, c| testing::run(gancho_plugin_template::transform, e, c),
        other => panic!("no native mapping for {other}"),
    }
}

/// The requests as `gancho plugin run` prints them, from the native mapping.
fn as_printed(requests: Vec<gancho_sdk::Request>) -> Value {
    Value::Array(
        requests
            .into_iter()
            .map(|r| {
                json!({
                    "method": r.method.as_str(),
                    "url": r.url.clone().unwrap_or_else(|| ENDPOINT.to_owned()),
                    "headers": r.headers,
                    "body": String::from_utf8(r.body).expect("example plugins write UTF-8 bodies"),
                })
            })
            .collect(),
    )
}

#[test]
fn every_example_plugin_checks_ok() {
    for name in support::EXAMPLE_PLUGINS {
        let path = support::plugin_path(name);
        let output = gancho(&["plugin", "check", path.to_str().unwrap()]);
        let stdout = text(&output.stdout);
        assert!(output.status.success(), "{name}: {}", text(&output.stderr));
        let world = format!("world:   gancho:plugin/plugin@{}", gancho::runtime::WORLD_VERSION);
        assert!(stdout.contains(&world), "{name}: {stdout}");
        assert!(stdout.contains("digest:  sha256:"), "{name}: {stdout}");
        // Every import is either our log interface or WASI (granting nothing): no network, no HTTP.
        let imports: Vec<&str> =
            stdout.lines().skip_while(|l| !l.contains("imports:")).skip(1).map(str::trim).collect();
        assert!(!imports.is_empty(), "{name}: {stdout}");
        for import in imports {
            assert!(
                import.starts_with("gancho:plugin/") || import.starts_with("wasi:"),
                "{name} imports {import}"
            );
            assert!(!import.starts_with("wasi:http"), "{name} imports {import}");
        }
    }
}

#[test]
fn every_example_plugin_runs_every_sample_as_it_does_natively() {
    for name in support::EXAMPLE_PLUGINS {
        let plugin = support::plugin_path(name);
        let config_path = support::repo_root().join("plugins").join(name).join("config.example.json");
        let config = std::fs::read_to_string(&config_path).unwrap();
        let mut requests_seen = 0;
        for (file, sample) in samples::ALL {
            let output = gancho(&[
                "plugin",
                "run",
                plugin.to_str().unwrap(),
                "--event",
                support::sample_path(file).to_str().unwrap(),
                "--config",
                config_path.to_str().unwrap(),
                "--endpoint",
                ENDPOINT,
            ]);
            let expected = native(name)(sample, &config);
            match expected {
                Ok(requests) => {
                    assert!(output.status.success(), "{name} on {file}: {}", text(&output.stderr));
                    let printed: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
                        panic!("{name} on {file}: stdout is not JSON ({e}): {}", text(&output.stdout))
                    });
                    requests_seen += printed.as_array().unwrap().len();
                    assert_eq!(printed, as_printed(requests), "{name} on {file}");
                }
                Err(error) => {
                    assert_eq!(output.status.code(), Some(1), "{name} on {file}");
                    assert!(
                        text(&output.stderr).contains(&error.message),
                        "{name} on {file}: {}",
                        text(&output.stderr)
                    );
                }
            }
        }
        assert!(requests_seen > 0, "{name} produced no request for any sample with its example config");
    }
}

#[test]
fn a_long_chat_runs_in_the_sandbox_like_natively() {
    let event = samples::long_chat_closed(400);
    let dir = tempfile::tempdir().unwrap();
    let event_path = dir.path().join("long-chat.json");
    std::fs::write(&event_path, &event).unwrap();
    for name in ["slack", "hubspot"] {
        let config = support::repo_root().join("plugins").join(name).join("config.example.json");
        let output = gancho(&[
            "plugin",
            "run",
            support::plugin_path(name).to_str().unwrap(),
            "--event",
            event_path.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--endpoint",
            ENDPOINT,
        ]);
        assert!(output.status.success(), "{name}: {}", text(&output.stderr));
        let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
        let expected = native(name)(&event, &std::fs::read_to_string(&config).unwrap()).unwrap();
        assert_eq!(printed, as_printed(expected), "{name}");
    }
}

#[test]
fn a_bad_event_file_names_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    let mut event: Value = serde_json::from_str(samples::CALL_ENDED).unwrap();
    event["timestamp"] = json!("21/11/2026 14:03");
    std::fs::write(&bad, event.to_string()).unwrap();
    let slack = support::plugin_path("slack");
    let output = gancho(&["plugin", "run", slack.to_str().unwrap(), "--event", bad.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("bad.json") && stderr.contains("field `timestamp`"), "{stderr}");

    let missing = dir.path().join("nope.json");
    let output = gancho(&["plugin", "run", slack.to_str().unwrap(), "--event", missing.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("nope.json: cannot read"), "{}", text(&output.stderr));
}

#[test]
fn a_plugin_error_goes_to_stderr_with_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(&config, r#"{"format": "text", "template": "Call from {{caller.number}}"}"#).unwrap();
    let template = support::plugin_path("template");
    let event = support::sample_path("call.ended.json");
    let output = gancho(&[
        "plugin",
        "run",
        template.to_str().unwrap(),
        "--event",
        event.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(output.stdout.is_empty());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("permanent plugin error") && stderr.contains("caller.number"), "{stderr}");
}

#[test]
fn check_refuses_what_is_not_a_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let not_wasm = dir.path().join("plugin.wasm");
    std::fs::write(&not_wasm, b"hello").unwrap();
    let output = gancho(&["plugin", "check", not_wasm.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("plugin.wasm: not a WebAssembly component"),
        "{}",
        text(&output.stderr)
    );
    let forbidden = support::plugin_path("forbidden-import");
    let output = gancho(&["plugin", "check", forbidden.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("acme:net/sockets@0.1.0"), "{}", text(&output.stderr));
}

#[test]
fn a_plugin_sleeping_in_a_host_call_ends_with_timeout_at_the_deadline() {
    // `gancho plugin run` on a plugin that sleeps an hour in a WASI call ends at the 100 ms deadline with
    // the ordinary timeout error (it used to run until killed).
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(&config, r#"{"behaviour": "sleep-in-host-call"}"#).unwrap();
    let plugin = support::plugin_path("misbehaving");
    let event = support::sample_path("call.ended.missed.json");
    let args = ["plugin", "run", plugin.to_str().unwrap(), "--event", event.to_str().unwrap()];
    let mut command = Command::new(env!("CARGO_BIN_EXE_gancho"));
    command.args(args).args(["--config", config.to_str().unwrap()]);
    let mut child =
        command.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    // Generous: the command also compiles the plugin; a plugin that really slept would take an hour.
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("gancho plugin run was still running after a minute");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("timeout: the plugin ran longer than 100 ms"), "{stderr}");
}
