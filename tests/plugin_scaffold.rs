//! A new plugin in JavaScript or Python, made by `gancho plugin new` in a directory outside the repository
//! and set up with exactly the steps its README gives, on a machine where nothing was installed before (a
//! fresh `HOME`, empty npm and pip caches; the registries are reachable; the clone's root `npm ci` is never
//! used): its tests pass, and it builds, checks and runs. A Python plugin behaves the same in pytest, in
//! `gancho plugin run` and in the live service: standard modules imported inside a function, a package
//! from its venv (the build refuses, naming it, until it is installed), a memory blow-up that is
//! `memory_limit`, and a rebuild of the same sources that gives the same component.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::service::{INGEST, OPERATOR, Receiver, Service};

/// A machine of its own: a home, caches and a precompiled cache under `root`, `gancho` on the PATH, and
/// none of the test run's cargo, node or Python settings.
struct Machine {
    root: PathBuf,
}

impl Machine {
    fn new(root: &Path) -> Machine {
        let repo = support::repo_root().canonicalize().unwrap();
        assert!(!root.canonicalize().unwrap().starts_with(&repo), "{} is outside the clone", root.display());
        for dir in ["home", "cache", "npm-cache", "gancho-cache"] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        Machine { root: root.to_owned() }
    }

    /// `program` run in `dir` on this machine.
    fn command(&self, program: &str, dir: &Path) -> Command {
        let gancho = Path::new(env!("CARGO_BIN_EXE_gancho")).parent().unwrap().to_owned();
        let path = std::env::join_paths(
            std::iter::once(gancho)
                .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
        )
        .unwrap();
        let mut command = Command::new(program);
        command.current_dir(dir);
        support::without_outer_cargo(&mut command);
        for key in [
            "NODE_PATH",
            "NODE_OPTIONS",
            "VIRTUAL_ENV",
            "PYTHONPATH",
            "GANCHO_PYTHON",
            "PIP_REQUIRE_VIRTUALENV",
        ] {
            command.env_remove(key);
        }
        command
            .env("PATH", path)
            .env("HOME", self.root.join("home"))
            .env("XDG_CACHE_HOME", self.root.join("cache"))
            .env("npm_config_cache", self.root.join("npm-cache"))
            .env("npm_config_update_notifier", "false")
            .env("PIP_CACHE_DIR", self.root.join("cache/pip"))
            .env("GANCHO_CACHE_DIR", self.root.join("gancho-cache"));
        command
    }

    /// One shell line of a README, run in `dir`; panics with its output unless it succeeds.
    fn step(&self, dir: &Path, line: &str) -> Output {
        let output = self.command("sh", dir).args(["-c", line]).output().unwrap();
        assert!(
            output.status.success(),
            "`{line}` failed:\n{}\n{}",
            text(&output.stdout),
            text(&output.stderr)
        );
        output
    }

    fn gancho(&self, dir: &Path, args: &[&str]) -> Output {
        self.command(env!("CARGO_BIN_EXE_gancho"), dir).args(args).output().unwrap()
    }

    /// Runs the commands of the README's "Test, build, try" block in `dir`, one a line, and returns them:
    /// they build the plugin and the last one runs it on the missed-call sample.
    fn follow_readme(&self, dir: &Path) -> Vec<String> {
        let steps = readme_steps(dir);
        let outputs: Vec<Output> = steps.iter().map(|step| self.step(dir, step)).collect();
        assert!(steps.iter().any(|s| s.starts_with("gancho plugin build")), "{steps:?}");
        let last = outputs.last().expect("the README has steps");
        assert_eq!(printed_body(last), support::scaffold_body(), "the README's `gancho plugin run`");
        steps
    }

    /// `gancho plugin new NAME --lang LANG` here, as an integrator types it.
    fn new_plugin(&self, name: &str, lang: &str) -> PathBuf {
        let output = self.gancho(&self.root, &["plugin", "new", name, "--lang", lang]);
        assert!(output.status.success(), "{}", text(&output.stderr));
        self.root.join(name)
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The commands of the README's "Test, build, try" block, one a line.
fn readme_steps(dir: &Path) -> Vec<String> {
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    let section =
        readme.split("## Test, build, try").nth(1).expect("the README has a Test, build, try section");
    let block = section.split("```sh\n").nth(1).and_then(|b| b.split("```").next()).expect("a sh block");
    block.lines().filter(|line| !line.trim().is_empty()).map(str::to_owned).collect()
}

/// The body of the one request `gancho plugin run` printed.
fn printed_body(output: &Output) -> Value {
    let printed: Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&output.stdout)));
    let requests = printed.as_array().unwrap();
    assert_eq!(requests.len(), 1, "{printed}");
    serde_json::from_str(requests[0]["body"].as_str().unwrap()).unwrap()
}

/// The component `gancho plugin build` printed, and its digest.
fn built(output: &Output) -> (PathBuf, String) {
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", text(&output.stderr));
    let wasm = stdout.lines().find_map(|line| line.strip_prefix("built ")).expect("the component's path");
    assert!(stdout.contains(&format!("{wasm}: ok")), "checked: {stdout}");
    let digest = hex::encode(Sha256::digest(std::fs::read(wasm).unwrap()));
    (PathBuf::from(wasm), digest)
}

#[test]
fn a_new_javascript_plugin_builds_outside_the_clone_with_its_readme_steps() {
    let temp = tempfile::tempdir().unwrap();
    let machine = Machine::new(temp.path());
    let dir = machine.new_plugin("acme-js", "js");

    let steps = machine.follow_readme(&dir);
    assert!(steps[0].starts_with("npm install"), "one install step first: {steps:?}");
    assert!(steps.iter().any(|s| s.starts_with("npm test")));

    // The toolchain is the plugin's own (not a link into the clone), pinned as the SDK is tested with.
    let toolchain = dir.join("node_modules/componentize-qjs");
    assert!(toolchain.is_dir() && !toolchain.is_symlink());
    let lock: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("package-lock.json")).unwrap()).unwrap();
    assert_eq!(lock["packages"]["node_modules/componentize-qjs"]["version"], "0.4.5");

    // Without it, both the CLI and the SDK's own script say what to run: the SDK never resolves it from its
    // real path in the clone (whose root node_modules may hold one, from other tests).
    std::fs::rename(&toolchain, dir.join("componentize-qjs.away")).unwrap();
    let output = machine.gancho(&dir, &["plugin", "build"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("componentize-qjs (the QuickJS toolchain) is not installed")
            && stderr.contains("run `npm install` there"),
        "{stderr}"
    );
    let output = machine
        .command("node", &dir)
        .args(["node_modules/@gancho/plugin-sdk/bin/build.mjs", "."])
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("componentize-qjs (the QuickJS toolchain) is not installed")
            && stderr.contains("`npm install`"),
        "{stderr}"
    );
    assert!(stderr.contains("componentize-qjs@0.4.5"), "{stderr}");
}

/// The plugin an integrator writes next: a note for a CRM, with standard modules imported inside the
/// function, a package from PyPI, and (on a closed chat) more memory than the sandbox allows.
const NOTE_PLUGIN: &str = r#""""A note for a CRM."""

import iso8601

from gancho_sdk import Request


def transform(event, subscription):
    if event.type == "chat.closed":
        hog = [bytearray(1 << 20) for _ in range(64)]  # 64 MiB: fine natively, not in the sandbox
        return [Request.json({"held": len(hog)})]
    import csv
    import decimal
    import io
    import uuid
    import zoneinfo
    from datetime import datetime

    row = io.StringIO()
    csv.writer(row).writerow(["caller", event.data["call"]["from"]])
    when = iso8601.parse_date(event.timestamp)
    return [
        Request.json(
            {
                "cost": str(decimal.Decimal("1.10") * 3),
                "row": row.getvalue(),
                "id": str(uuid.UUID(int=7)),
                "zone": zoneinfo.ZoneInfo.__name__,
                "year": when.year,
                "parsed": datetime.strptime("21/11/2026", "%d/%m/%Y").date().isoformat(),
            }
        )
    ]
"#;

const NOTE_TEST: &str = r#"import json

from gancho_sdk.testing import run, samples

import plugin

EXPECTED = json.loads(open("expected.json").read())


def test_a_call_becomes_a_note():
    [request] = run(plugin, samples["call.ended.missed.json"])
    assert request.body_json() == EXPECTED
"#;

fn note_body() -> Value {
    json!({
        "cost": "3.30",
        "row": "caller,+5491155551234\r\n",
        "id": "00000000-0000-0000-0000-000000000007",
        "zone": "ZoneInfo",
        "year": 2026,
        "parsed": "2026-11-21",
    })
}

#[test]
fn a_new_python_plugin_builds_outside_the_clone_and_behaves_live_as_in_its_tests() {
    let temp = tempfile::tempdir().unwrap();
    let machine = Machine::new(temp.path());
    let dir = machine.new_plugin("acme-py", "python");
    let pyproject = std::fs::read_to_string(dir.join("pyproject.toml")).unwrap();
    let clone = support::repo_root().canonicalize().unwrap();
    assert!(!pyproject.contains(clone.to_str().unwrap()), "no path of this clone: {pyproject}");

    let steps = machine.follow_readme(&dir);
    assert!(steps.iter().any(|s| s.contains("pytest")), "{steps:?}");

    // The note plugin: a package it imports is refused by the build, naming it, until the venv has it.
    std::fs::write(dir.join("plugin.py"), NOTE_PLUGIN).unwrap();
    std::fs::write(dir.join("tests/test_plugin.py"), NOTE_TEST).unwrap();
    std::fs::write(dir.join("expected.json"), note_body().to_string()).unwrap();
    let output = machine.gancho(&dir, &["plugin", "build"]);
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("plugin.py:3 imports `iso8601`") && stderr.contains("pip install iso8601"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("panicked") && stderr.lines().count() < 6,
        "a few lines, no backtrace: {stderr}"
    );
    machine.step(&dir, ".venv/bin/pip install iso8601==2.1.0");
    machine.step(&dir, ".venv/bin/python -m pytest -q -p no:cacheprovider");

    let (wasm, digest) = built(&machine.gancho(&dir, &["plugin", "build"]));
    let (again, digest_again) = built(&machine.gancho(&dir, &["plugin", "build"]));
    assert_eq!((&again, &digest_again), (&wasm, &digest), "the same sources give the same component");

    let sample = |name: &str| support::sample_path(name).to_str().unwrap().to_owned();
    let run = machine.gancho(
        &dir,
        &["plugin", "run", wasm.to_str().unwrap(), "--event", &sample("call.ended.missed.json")],
    );
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert_eq!(printed_body(&run), note_body(), "`gancho plugin run` as pytest");

    // Live: the same note, and the memory blow-up is `memory_limit`.
    let service = Service::start(&temp.path().join("data"), &[("GANCHO_LIMITS__TIMEOUT_MS", "5000")]);
    let receiver = Receiver::start();
    let (status, _) = service.post("/v1/tenants", OPERATOR, &json!({"id": "acme", "name": "acme"}));
    assert_eq!(status, 201);
    let bytes = std::fs::read(&wasm).unwrap();
    let (status, body) =
        service.post_raw("/v1/plugins/acme-py/versions", OPERATOR, "application/wasm", &bytes);
    assert_eq!(status, 201, "{body}");
    let (status, subscription) = service.post(
        "/v1/tenants/acme/subscriptions",
        OPERATOR,
        &json!({"event_types": ["call.ended", "chat.closed"], "plugin": "acme-py@1", "endpoint_url": receiver.url}),
    );
    assert_eq!(status, 201, "{subscription}");
    receiver.set_secret(subscription["secret"].as_str().unwrap());
    for name in ["call.ended.missed.json", "chat.closed.json"] {
        let event: Value = serde_json::from_str(&std::fs::read_to_string(sample(name)).unwrap()).unwrap();
        let (status, body) = service.post("/v1/events", INGEST, &event);
        assert_eq!(status, 202, "{body}");
    }
    let received = receiver.wait_for(1, Duration::from_secs(120));
    assert_eq!(serde_json::from_str::<Value>(&received[0].body).unwrap(), note_body(), "live as in pytest");
    let deliveries =
        service.wait_for_deliveries("acme", "&event_id=evt_chat_closed_1", Duration::from_secs(60), |d| {
            d.iter().any(|d| d["status"] == "plugin_error")
        });
    assert_eq!(deliveries[0]["error_kind"], "memory_limit", "{deliveries:#?}");
}
