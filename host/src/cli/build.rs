//! `gancho plugin build`: builds a plugin directory into a component. A Rust crate is built with the guest
//! settings Gancho's own plugins are built with (the repository's `.cargo/config.toml`, passed to cargo
//! with `--config`), so an integrator's crate needs no cargo configuration of its own; JavaScript and
//! Python plugins with their SDK's build command ([`super::guest_build`]).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::language::Language;

const TARGET: &str = "wasm32-wasip2";
/// The repository's cargo configuration: the one place the guest rustflags are written down.
const REPOSITORY_CARGO_CONFIG: &str = include_str!("../../../.cargo/config.toml");

/// Builds the plugin in `dir`, in the language its files say, and returns the path of its component.
pub fn build(dir: &Path) -> Result<PathBuf, String> {
    match Language::of_dir(dir)? {
        Language::Rust => build_rust(dir),
        Language::Js => super::guest_build::build_js(dir),
        Language::Python => super::guest_build::build_python(dir),
    }
}

/// Runs `cargo build --release --target wasm32-wasip2` in `dir` with the guest rustflags (cargo's output
/// goes to stderr as it comes) and returns the path of the crate's component.
fn build_rust(dir: &Path) -> Result<PathBuf, String> {
    let manifest = dir.join("Cargo.toml");
    check_target(dir)?;
    if ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS"].iter().any(|key| std::env::var_os(key).is_some()) {
        eprintln!(
            "warning: RUSTFLAGS is set, so cargo ignores the guest settings (stack size, initial memory, \
             SIMD) that `gancho plugin build` passes; unset it to build the plugin as Gancho expects"
        );
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = Command::new(&cargo)
        .current_dir(dir)
        .args(["build", "--release", "--target", TARGET, "--message-format", "json-render-diagnostics"])
        .arg("--config")
        .arg(guest_config())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| {
            format!("cannot run {}: {e}; is Rust installed (https://rustup.rs)?", cargo.display())
        })?;
    // Cargo's messages on stdout, one JSON object a line: the components it built, with their manifests.
    let mut components = Vec::new();
    let stdout = child.stdout.take().expect("stdout is piped");
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| format!("cannot read cargo's output: {e}"))?;
        if let Some(component) = component(&line) {
            components.push(component);
        }
    }
    let status = child.wait().map_err(|e| format!("cannot wait for cargo: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build failed in {} ({status}); see its errors above", dir.display()));
    }
    let manifest = manifest.canonicalize().unwrap_or(manifest);
    let (ours, others): (Vec<_>, Vec<_>) = components.into_iter().partition(|(from, _)| *from == manifest);
    match (ours.first(), others.as_slice()) {
        (Some((_, wasm)), _) | (None, [(_, wasm)]) => Ok(wasm.clone()),
        (None, []) => Err(format!(
            "{}: the crate built no component; set crate-type = [\"cdylib\", \"rlib\"] under [lib]",
            manifest.display()
        )),
        (None, several) => Err(format!(
            "{}: cargo built several components ({}); run `gancho plugin build` in the plugin's own directory",
            dir.display(),
            several.iter().map(|(_, wasm)| wasm.display().to_string()).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// From one line of cargo's JSON messages: the manifest and `.wasm` of a cdylib it built.
fn component(line: &str) -> Option<(PathBuf, PathBuf)> {
    let message: serde_json::Value = serde_json::from_str(line).ok()?;
    if message["reason"] != "compiler-artifact" {
        return None;
    }
    let kinds = message["target"]["kind"].as_array()?;
    if !kinds.iter().any(|kind| kind == "cdylib") {
        return None;
    }
    let files = message["filenames"].as_array()?;
    let wasm = files.iter().filter_map(|file| file.as_str()).find(|file| file.ends_with(".wasm"))?;
    Some((PathBuf::from(message["manifest_path"].as_str()?), PathBuf::from(wasm)))
}

/// The toolchain that builds in `dir` (its `rust-toolchain.toml`, if any) must have the target: said
/// before cargo's own, much longer, error about a missing `core`.
fn check_target(dir: &Path) -> Result<(), String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let Ok(output) = Command::new(rustc).current_dir(dir).args(["--print", "sysroot"]).output() else {
        return Ok(()); // cargo will say what is wrong with the toolchain
    };
    let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if output.status.success() && !sysroot.join("lib/rustlib").join(TARGET).is_dir() {
        return Err(format!(
            "the Rust toolchain in {} ({}) lacks the {TARGET} target; run `rustup target add {TARGET}` there \
             and build again",
            dir.display(),
            sysroot.display()
        ));
    }
    Ok(())
}

/// `--config target.wasm32-wasip2.rustflags=[…]`: the repository's guest rustflags.
fn guest_config() -> String {
    // A JSON array of strings is also a TOML array.
    let flags = serde_json::to_string(&guest_rustflags()).expect("strings serialise");
    format!("target.{TARGET}.rustflags={flags}")
}

fn guest_rustflags() -> Vec<String> {
    let config: toml::Table =
        toml::from_str(REPOSITORY_CARGO_CONFIG).expect("the repository's .cargo/config.toml is valid TOML");
    let flags = config["target"][TARGET]["rustflags"].as_array();
    let flags = flags.expect("the repository's .cargo/config.toml sets the guest rustflags");
    flags.iter().map(|flag| flag.as_str().expect("rustflags are strings").to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guest_gets_the_repository_stack_memory_and_simd_settings() {
        let config = guest_config();
        assert!(config.starts_with("target.wasm32-wasip2.rustflags=[\"-C\""), "{config}");
        for flag in
            ["link-arg=-zstack-size=65536", "link-arg=--initial-memory=262144", "target-feature=+simd128"]
        {
            assert!(config.contains(&format!("\"{flag}\"")), "{config}");
        }
        let parsed: toml::Table =
            toml::from_str(&config.replacen("target.wasm32-wasip2.rustflags", "f", 1)).unwrap();
        assert_eq!(parsed["f"].as_array().unwrap().len(), guest_rustflags().len());
    }

    #[test]
    fn the_component_is_read_from_cargo_messages() {
        let line = r#"{"reason":"compiler-artifact","manifest_path":"/p/Cargo.toml","target":{"kind":["cdylib","rlib"]},"filenames":["/t/wasm32-wasip2/release/libp.rlib","/t/wasm32-wasip2/release/p.wasm"],"fresh":true}"#;
        assert_eq!(component(line), Some(("/p/Cargo.toml".into(), "/t/wasm32-wasip2/release/p.wasm".into())));
        let dependency = r#"{"reason":"compiler-artifact","manifest_path":"/d/Cargo.toml","target":{"kind":["lib"]},"filenames":["/t/libd.rlib"]}"#;
        assert_eq!(component(dependency), None);
        assert_eq!(component(r#"{"reason":"build-finished","success":true}"#), None);
        assert_eq!(component("not json"), None);
    }
}
