//! `gancho plugin build` for plugins in JavaScript and Python: runs the SDK's own build command
//! (`gancho-build-js` with QuickJS, `gancho_sdk.build` with componentize-py) in the plugin's directory,
//! with the WIT this `gancho` speaks, and returns the component it wrote. A toolchain that is not installed
//! is said before, with the command that installs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The contract this binary speaks, handed to the guest toolchains so a plugin is built against it.
const WIT: &str = include_str!("../../../wit/plugin.wit");

/// The QuickJS toolchain, a dependency of the plugin itself (the SDK's peer): where node finds it from the
/// plugin's directory.
const QUICKJS_TOOLCHAIN: &str = "node_modules/componentize-qjs/package.json";

/// Builds the JavaScript plugin in `dir` (a package.json whose dependencies include @gancho/plugin-sdk and
/// componentize-qjs).
pub fn build_js(dir: &Path) -> Result<PathBuf, String> {
    let not_installed = |what: &str| {
        format!(
            "{}: {what} is not installed; run `npm install` there (package.json must list @gancho/plugin-sdk and \
             componentize-qjs, as `gancho plugin new --lang js` writes it) and build again",
            dir.display()
        )
    };
    let script = find_upwards(dir, "node_modules/@gancho/plugin-sdk/bin/build.mjs")
        .ok_or_else(|| not_installed("@gancho/plugin-sdk"))?;
    find_upwards(dir, QUICKJS_TOOLCHAIN)
        .ok_or_else(|| not_installed("componentize-qjs (the QuickJS toolchain)"))?;
    let mut node = Command::new("node");
    node.arg(script);
    run_build(node, dir, "node (https://nodejs.org, version 20 or later)")
}

/// Builds the Python plugin in `dir` (a plugin.py) with the SDK its venv has installed (`pip install -e` of
/// a clone's plugin-sdk/python), or the one its pyproject.toml names (`[tool.gancho] sdk`, as the examples
/// of Gancho's repository do).
pub fn build_python(dir: &Path) -> Result<PathBuf, String> {
    let python = python_interpreter(dir);
    let program = format!("{} (set GANCHO_PYTHON to a Python 3.11+ with componentize-py)", python.display());
    let mut command = Command::new(&python);
    match python_sdk(&dir.join("pyproject.toml"))? {
        Some(sdk) => {
            command.arg(sdk.join("gancho_sdk/build.py"));
        }
        None => {
            check_sdk_installed(&python, dir, &program)?;
            command.args(["-m", "gancho_sdk.build"]);
        }
    }
    run_build(command, dir, &program)
}

/// `python` can import gancho_sdk, or an error saying how to install it.
fn check_sdk_installed(python: &Path, dir: &Path, program: &str) -> Result<(), String> {
    let found = Command::new(python)
        .args(["-c", "import importlib.util, sys; sys.exit(importlib.util.find_spec('gancho_sdk') is None)"])
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run {program}: {e}; make the plugin's venv as its README says"))?;
    if found.success() {
        return Ok(());
    }
    Err(format!(
        "{}: gancho_sdk is not installed for {}; install the toolchain and the SDK into the plugin's venv as its \
         README says (`{0}/.venv/bin/pip install --require-hashes -r requirements.txt` and `{0}/.venv/bin/pip \
         install -e PATH/TO/GANCHO/plugin-sdk/python`), and build again",
        dir.display(),
        python.display(),
    ))
}

/// Runs `command DIR --wit WIT`; its last line of output is the component's path.
fn run_build(mut command: Command, dir: &Path, program: &str) -> Result<PathBuf, String> {
    let wit_dir = dir.join("build/wit");
    std::fs::create_dir_all(&wit_dir).map_err(|e| format!("{}: cannot create: {e}", wit_dir.display()))?;
    std::fs::write(wit_dir.join("plugin.wit"), WIT)
        .map_err(|e| format!("{}: cannot write: {e}", wit_dir.display()))?;
    let output = command
        .arg(dir)
        .arg("--wit")
        .arg(&wit_dir)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if !output.status.success() {
        return Err(format!("building {} failed ({}); see the errors above", dir.display(), output.status));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let path = stdout.lines().last().map(str::trim).unwrap_or_default();
    if path.is_empty() {
        return Err(format!("building {} printed no component path", dir.display()));
    }
    Ok(PathBuf::from(path))
}

/// `[tool.gancho] sdk`: the `plugin-sdk/python` directory the plugin builds with, when the pyproject.toml
/// names one.
fn python_sdk(manifest: &Path) -> Result<Option<PathBuf>, String> {
    let text = match std::fs::read_to_string(manifest) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: cannot read: {e}", manifest.display())),
    };
    let table: toml::Table =
        toml::from_str(&text).map_err(|e| format!("{}: invalid TOML: {e}", manifest.display()))?;
    let sdk =
        table.get("tool").and_then(|t| t.get("gancho")).and_then(|g| g.get("sdk")).and_then(|s| s.as_str());
    let Some(sdk) = sdk else { return Ok(None) };
    let sdk = manifest.parent().unwrap_or(Path::new(".")).join(sdk);
    if !sdk.join("gancho_sdk/build.py").is_file() {
        return Err(format!(
            "{}: field `tool.gancho.sdk` is {}, which has no gancho_sdk/build.py; set it to the plugin-sdk/python \
             directory of a Gancho clone, or remove it to build with the SDK installed in the plugin's venv",
            manifest.display(),
            sdk.display()
        ));
    }
    Ok(Some(sdk))
}

/// `GANCHO_PYTHON`, else the plugin's `.venv`, else `python3`.
fn python_interpreter(dir: &Path) -> PathBuf {
    if let Some(python) = std::env::var_os("GANCHO_PYTHON") {
        return PathBuf::from(python);
    }
    let venv = dir.join(".venv/bin/python");
    if venv.exists() { venv } else { PathBuf::from("python3") }
}

/// `relative` under `dir` or one of its ancestors (where node would find a package).
fn find_upwards(dir: &Path, relative: &str) -> Option<PathBuf> {
    let dir = dir.canonicalize().ok()?;
    dir.ancestors().map(|ancestor| ancestor.join(relative)).find(|path| path.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_python_sdk_may_be_named_in_pyproject() {
        let temp = tempfile::tempdir().unwrap();
        let manifest = temp.path().join("pyproject.toml");
        assert_eq!(python_sdk(&manifest).unwrap(), None);
        std::fs::write(&manifest, "[project]\nname = \"x\"\n").unwrap();
        assert_eq!(python_sdk(&manifest).unwrap(), None);
        let sdk = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugin-sdk/python");
        std::fs::write(&manifest, format!("[tool.gancho]\nsdk = \"{sdk}\"\n")).unwrap();
        assert_eq!(python_sdk(&manifest).unwrap(), Some(PathBuf::from(sdk)));
        std::fs::write(&manifest, "[tool.gancho]\nsdk = \"/nowhere\"\n").unwrap();
        assert!(python_sdk(&manifest).unwrap_err().contains("/nowhere"));
    }

    #[test]
    fn the_wit_handed_to_the_toolchains_is_the_hosts() {
        assert!(WIT.contains(&format!("package gancho:plugin@{};", crate::runtime::WORLD_VERSION)));
    }
}
