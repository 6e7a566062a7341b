//! The real plugins, built for `wasm32-wasip2` once per process by the same cargo that runs the tests
//! (into `target/wasm-plugins`, so it never waits on the outer build).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The example plugins under `plugins/`, by directory name.
pub const EXAMPLE_PLUGINS: &[&str] = &["slack", "google-sheets", "hubspot", "template"];

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("host/ has a parent").to_owned()
}

/// The `.wasm` component of an example plugin (`slack`) or a hostile test plugin (`misbehaving`).
pub fn plugin_path(name: &str) -> PathBuf {
    let dir = built_plugins_dir();
    let file = if EXAMPLE_PLUGINS.contains(&name) {
        format!("gancho_plugin_{}.wasm", name.replace('-', "_"))
    } else {
        format!("{}.wasm", name.replace('-', "_"))
    };
    dir.join(file)
}

/// The bytes of a plugin, see [`plugin_path`].
pub fn plugin_bytes(name: &str) -> Vec<u8> {
    let path = plugin_path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A sample event from `plugin-sdk/samples/`.
pub fn sample_path(file: &str) -> PathBuf {
    repo_root().join("plugin-sdk/samples").join(file)
}

/// What `gancho plugin new`'s example sends for the missed-call sample, in every language.
pub fn scaffold_body() -> serde_json::Value {
    serde_json::json!({
        "list_id": "L-1001",
        "phone": "+5491155551234",
        "name": "Ñandú & Cía",
        "tags": ["missed-call"],
        "note": "Missed call at 2026-11-21T14:00:00Z",
    })
}

fn built_plugins_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = repo_root();
        let target_dir = root.join("target/wasm-plugins");
        ensure_wasm_target();
        let mut examples = cargo(&root, &target_dir);
        for name in EXAMPLE_PLUGINS {
            examples.args(["-p", &format!("gancho-plugin-{name}")]);
        }
        run(examples, "the example plugins");
        let mut hostile = cargo(&root, &target_dir);
        hostile.arg("--manifest-path").arg(root.join("tests/hostile/Cargo.toml"));
        run(hostile, "the hostile test plugins");
        target_dir.join("wasm32-wasip2/plugin")
    })
}

/// `cargo build` for wasm32-wasip2 with the plugins' profile, run from the repository root so that its
/// `.cargo/config.toml` (guest link flags) applies, with none of the outer cargo's settings leaking in.
fn cargo(root: &Path, target_dir: &Path) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command
        .current_dir(root)
        .args(["build", "--quiet", "--target", "wasm32-wasip2", "--profile", "plugin", "--target-dir"])
        .arg(target_dir);
    without_outer_cargo(&mut command);
    command
}

/// Removes the outer cargo's settings (`CARGO_*` but `CARGO_HOME`, `RUSTFLAGS`, a workspace wrapper) from
/// `command`, so that a cargo it runs builds as it would from a shell.
pub fn without_outer_cargo(command: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_") && key != "CARGO_HOME"
            || key == "RUSTFLAGS"
            || key == "RUSTC_WORKSPACE_WRAPPER"
        {
            command.env_remove(key.as_ref());
        }
    }
}

fn run(mut command: Command, what: &str) {
    let status = command.status().unwrap_or_else(|e| panic!("failed to run cargo to build {what}: {e}"));
    assert!(
        status.success(),
        "building {what} for wasm32-wasip2 failed ({status}); see the cargo output above"
    );
}

/// Installs the `wasm32-wasip2` target if the toolchain lacks it (rustup may be set not to install a
/// toolchain file's targets by itself).
fn ensure_wasm_target() {
    let sysroot = Command::new("rustc").args(["--print", "sysroot"]).current_dir(repo_root()).output();
    let installed = sysroot
        .ok()
        .map(|out| {
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
                .join("lib/rustlib/wasm32-wasip2")
                .exists()
        })
        .unwrap_or(false);
    if !installed {
        let status = Command::new("rustup")
            .args(["target", "add", "wasm32-wasip2"])
            .current_dir(repo_root())
            .status()
            .expect("failed to run rustup to install the wasm32-wasip2 target");
        assert!(status.success(), "`rustup target add wasm32-wasip2` failed");
    }
}
