//! `gancho plugin`, through the real binary, the real compiled plugins and the real cargo: every example
//! plugin, on every sample event, with its `config.example.json`, prints exactly the requests the same
//! mapping produces natively — the sandbox changes nothing about the output; `check` and `run` keep
//! precompiled plugins in a cache directory, and an unusable one only costs a warning; a crate made by
//! `plugin new` builds with `plugin build`, runs, and passes its own tests.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gancho_sdk::testing::{self, samples};
use serde_json::{Value, json};

const ENDPOINT: &str = "https://endpoint.example/webhook";

/// `gancho` with the tests' own precompiled cache, so that they never write to the user's `~/.cache`.
fn gancho(args: &[&str]) -> Output {
    gancho_command().args(args).output().expect("gancho runs")
}

fn gancho_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gancho"));
    command.env("GANCHO_CACHE_DIR", target_dir().join("plugin-cli-cache"));
    command
}

/// The target directory the `gancho` binary was built into (`<target>/debug/gancho`).
fn target_dir() -> PathBuf {
    let binary = Path::new(env!("CARGO_BIN_EXE_gancho"));
    binary.parent().and_then(Path::parent).expect("the binary is in <target>/<profile>/").to_owned()
}

/// The `.cwasm` files in `dir`.
fn precompiled_in(dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir).map(|entries| entries.flatten().map(|e| e.path()).collect());
    let entries: Vec<PathBuf> = entries.unwrap_or_default();
    entries.into_iter().filter(|path| path.extension().is_some_and(|ext| ext == "cwasm")).collect()
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
        // Slack has no endpoint that takes many messages; the others merge what waits for their destination.
        let merges =
            if *name == "slack" { "merges:  no" } else { "merges:  requests waiting for one destination" };
        assert!(stdout.contains(merges), "{name}: {stdout}");
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
    let mut command = gancho_command();
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
    assert!(stderr.contains("timeout: the plugin ran for more than 100 ms"), "{stderr}");
}

#[test]
fn check_fills_the_precompiled_cache_and_run_uses_it() {
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().join("precompiled");
    let slack = support::plugin_path("slack");
    let output =
        gancho(&["plugin", "check", slack.to_str().unwrap(), "--cache-dir", cache_dir.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let cached = precompiled_in(&cache_dir);
    assert_eq!(cached.len(), 1, "one precompiled plugin in {}", cache_dir.display());
    let stored = std::fs::metadata(&cached[0]).unwrap().modified().unwrap();

    let event = support::sample_path("call.ended.missed.json");
    let output = gancho_command()
        .args(["plugin", "run", slack.to_str().unwrap(), "--event", event.to_str().unwrap()])
        .env("GANCHO_CACHE_DIR", &cache_dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(printed[0]["body"].as_str().unwrap().contains("Missed call"), "{printed}");
    assert!(output.stderr.is_empty(), "no warning: {}", text(&output.stderr));
    assert_eq!(precompiled_in(&cache_dir), cached, "run loaded the same precompiled plugin");
    assert_eq!(std::fs::metadata(&cached[0]).unwrap().modified().unwrap(), stored, "and did not rewrite it");
}

#[test]
fn the_default_cache_is_under_xdg_cache_home_then_home() {
    let slack = support::plugin_path("slack");
    let (xdg, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let check = |xdg_cache_home: Option<&Path>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_gancho"));
        command.args(["plugin", "check", slack.to_str().unwrap()]).env_remove("GANCHO_CACHE_DIR");
        command.env("HOME", home.path());
        match xdg_cache_home {
            Some(dir) => command.env("XDG_CACHE_HOME", dir),
            None => command.env_remove("XDG_CACHE_HOME"),
        };
        let output = command.output().unwrap();
        assert!(output.status.success(), "{}", text(&output.stderr));
    };
    check(Some(xdg.path()));
    assert_eq!(precompiled_in(&xdg.path().join("gancho/precompiled")).len(), 1);
    check(None);
    assert_eq!(precompiled_in(&home.path().join(".cache/gancho/precompiled")).len(), 1);
}

#[test]
fn an_unusable_cache_dir_is_a_warning_not_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let cache_dir = file.join("precompiled");
    let slack = support::plugin_path("slack");
    let event = support::sample_path("call.ended.missed.json");
    for args in [
        vec!["plugin", "check", slack.to_str().unwrap()],
        vec!["plugin", "run", slack.to_str().unwrap(), "--event", event.to_str().unwrap()],
    ] {
        let output = gancho_command().args(&args).env("GANCHO_CACHE_DIR", &cache_dir).output().unwrap();
        assert!(output.status.success(), "{args:?}: {}", text(&output.stderr));
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains("warning: cannot use") && stderr.contains("a-file/precompiled"),
            "{args:?}: {stderr}"
        );
    }
}

/// `gancho` or `cargo` for a scaffolded crate: none of the outer cargo's settings, and one target directory
/// under the shared one for every scaffolded build, so that repeated runs are incremental.
fn scaffold_command(program: impl AsRef<std::ffi::OsStr>, dir: &Path) -> Command {
    let mut command = Command::new(program);
    command.current_dir(dir);
    support::without_outer_cargo(&mut command);
    command
        .env("CARGO_TARGET_DIR", target_dir().join("scaffold-test"))
        .env("GANCHO_CACHE_DIR", target_dir().join("plugin-cli-cache"));
    command
}

#[test]
fn a_new_plugin_builds_checks_runs_and_tests_as_it_is() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("acme-crm");
    let output = gancho(&["plugin", "new", "acme-crm", "--dir", dir.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    for file in ["Cargo.toml", "src/lib.rs", "README.md", "config.example.json", ".gitignore"] {
        assert!(dir.join(file).is_file(), "{file} is created");
    }
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    let sdk = support::repo_root().join("plugin-sdk").canonicalize().unwrap();
    assert!(
        manifest.contains(&format!("gancho-sdk = {{ path = {:?} }}", sdk.to_str().unwrap())),
        "{manifest}"
    );

    // `plugin build`: no .cargo/config.toml in the crate, and it reports the world like `plugin check`.
    assert!(!dir.join(".cargo").exists());
    let output =
        scaffold_command(env!("CARGO_BIN_EXE_gancho"), &dir).args(["plugin", "build"]).output().unwrap();
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", text(&output.stderr));
    let wasm =
        stdout.lines().find_map(|line| line.strip_prefix("built ")).expect("the path of the component");
    assert!(wasm.ends_with("wasm32-wasip2/release/acme_crm.wasm"), "{stdout}");
    assert!(stdout.contains(&format!("{wasm}: ok")), "{stdout}");
    let world = format!("world:   gancho:plugin/plugin@{}", gancho::runtime::WORLD_VERSION);
    assert!(stdout.contains(&world), "{stdout}");
    assert!(stdout.contains("config:  checked when a subscription sets it"), "{stdout}");
    assert!(stdout.contains("merges:  no: one request per delivery"), "{stdout}");

    let event = support::sample_path("call.ended.missed.json");
    let config = dir.join("config.example.json");
    let output = gancho(&[
        "plugin",
        "run",
        wasm,
        "--event",
        event.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--endpoint",
        ENDPOINT,
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    let requests = printed.as_array().unwrap();
    assert_eq!(requests.len(), 1, "{printed}");
    assert_eq!(requests[0]["method"], "POST");
    assert_eq!(requests[0]["url"], ENDPOINT);
    assert_eq!(requests[0]["headers"], json!([["content-type", "application/json"]]));
    let body: Value = serde_json::from_str(requests[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body, support::scaffold_body());

    // The scaffold's own native tests pass.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = scaffold_command(cargo, &dir).args(["test", "--quiet"]).output().unwrap();
    assert!(output.status.success(), "{}\n{}", text(&output.stdout), text(&output.stderr));
    assert!(text(&output.stdout).contains("4 passed"), "{}", text(&output.stdout));
}

#[test]
fn new_refuses_a_bad_name_a_used_directory_and_a_wrong_sdk_path() {
    let temp = tempfile::tempdir().unwrap();
    let output = gancho(&["plugin", "new", "Acme CRM", "--dir", temp.path().join("x").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("plugin name `Acme CRM` is not valid"), "{stderr}");
    assert!(!temp.path().join("x").exists());

    std::fs::write(temp.path().join("notes.txt"), "mine").unwrap();
    let output = gancho(&["plugin", "new", "acme-crm", "--dir", temp.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains(&format!("{}: exists and is not empty", temp.path().display())), "{stderr}");
    assert_eq!(std::fs::read_dir(temp.path()).unwrap().count(), 1, "nothing was written");

    let dir = temp.path().join("y");
    let wrong = temp.path().join("notes.txt");
    let args =
        ["plugin", "new", "acme-crm", "--dir", dir.to_str().unwrap(), "--sdk-path", wrong.to_str().unwrap()];
    let output = gancho(&args);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("--sdk-path") && stderr.contains("notes.txt"), "{stderr}");
    assert!(!dir.exists());
}

#[test]
fn build_says_what_to_do_without_a_crate() {
    let temp = tempfile::tempdir().unwrap();
    let output = gancho(&["plugin", "build", temp.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("no Cargo.toml there") && stderr.contains("gancho plugin new"), "{stderr}");
}
