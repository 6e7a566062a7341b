//! The JavaScript and Python example plugins, built into components once per process by the SDKs' own
//! build commands (into `target/guest-plugins`), and the toolchains those need, installed on first use
//! from the lock files in the repository: `npm ci` (package-lock.json) into `node_modules/`, and a venv in
//! `target/toolchains/python` from `plugin-sdk/python/requirements.txt` (`pip install --require-hashes`).
//! Each install is skipped while its lock file is unchanged; each build while its sources are.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use sha2::{Digest, Sha256};

use super::plugins::repo_root;

/// The example plugins in other languages, by directory name under `plugins/`.
pub const GUEST_PLUGINS: &[&str] = &["slack-js", "crm-form-js", "slack-python", "crm-form-python"];

/// A plugin's language, from its directory's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    JavaScript,
    Python,
}

pub fn language_of(name: &str) -> Language {
    if name.ends_with("-python") { Language::Python } else { Language::JavaScript }
}

/// The component of `plugins/<name>` (one of [`GUEST_PLUGINS`]) or `tests/guests/<name>`, built if its
/// sources changed.
pub fn guest_plugin_bytes(name: &str) -> Vec<u8> {
    let path = guest_plugin_path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// See [`guest_plugin_bytes`].
pub fn guest_plugin_path(name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(path) = built.get(name) {
        return path.clone();
    }
    let path = build(name);
    built.insert(name.to_owned(), path.clone());
    path
}

/// `node` with the JS workspace installed: for running the SDK's and examples' native tests.
pub fn node() -> Command {
    ensure_npm_workspace();
    let mut command = Command::new("node");
    command.current_dir(repo_root());
    command
}

/// The venv's `python` with componentize-py and pytest: for the native tests and the Python build.
pub fn python() -> Command {
    let mut command = Command::new(python_venv().join("bin/python"));
    command.current_dir(repo_root());
    command
}

fn build(name: &str) -> PathBuf {
    let root = repo_root();
    // The examples, or a plugin for tests only (`tests/guests/`).
    let dir = Some(root.join("plugins").join(name))
        .filter(|dir| dir.exists())
        .unwrap_or_else(|| root.join("tests/guests").join(name));
    let out_dir = root.join("target/guest-plugins");
    std::fs::create_dir_all(&out_dir).expect("target/guest-plugins can be created");
    let language = language_of(name);
    let sdk = match language {
        Language::JavaScript => root.join("plugin-sdk/js"),
        Language::Python => root.join("plugin-sdk/python"),
    };
    let digest = sources_digest(&[&dir, &sdk, &root.join("wit")]);
    let out = out_dir.join(format!("{name}.wasm"));
    let stamp = out_dir.join(format!("{name}.sources"));
    if out.exists() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == digest) {
        return out;
    }
    let mut command = match language {
        Language::JavaScript => {
            let mut command = node();
            command.arg(sdk.join("bin/build.mjs"));
            command
        }
        Language::Python => {
            let mut command = python();
            command.arg(sdk.join("gancho_sdk/build.py"));
            command
        }
    };
    command.arg(&dir).arg("--out").arg(&out);
    run(&mut command, &format!("building plugins/{name}"));
    std::fs::write(&stamp, digest).expect("the build stamp can be written");
    out
}

/// `npm ci` at the root unless node_modules already holds what package-lock.json says.
fn ensure_npm_workspace() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let root = repo_root();
        let lock =
            std::fs::read(root.join("package-lock.json")).expect("package-lock.json is in the repository");
        let stamp = root.join("node_modules/.gancho-lock.sha256");
        let digest = hex::encode(Sha256::digest(&lock));
        if std::fs::read_to_string(&stamp).is_ok_and(|s| s == digest) {
            return;
        }
        let mut npm = Command::new("npm");
        npm.current_dir(&root).args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]);
        run(&mut npm, "installing the JavaScript toolchain (npm ci)");
        std::fs::write(stamp, digest).expect("node_modules is writable");
    });
}

/// The venv in `target/toolchains/python`, made and filled from the hashed requirements when they changed.
fn python_venv() -> PathBuf {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let root = repo_root();
        let requirements = root.join("plugin-sdk/python/requirements.txt");
        let venv = root.join("target/toolchains/python");
        let digest =
            hex::encode(Sha256::digest(std::fs::read(&requirements).expect("requirements.txt exists")));
        let stamp = venv.join("gancho-requirements.sha256");
        if std::fs::read_to_string(&stamp).is_ok_and(|s| s == digest) {
            return venv;
        }
        let python = std::env::var_os("GANCHO_PYTHON").unwrap_or_else(|| "python3".into());
        let mut create = Command::new(python);
        create.arg("-m").arg("venv").arg("--clear").arg(&venv);
        run(&mut create, "creating the Python venv (python3 -m venv)");
        let mut pip = Command::new(venv.join("bin/python"));
        pip.args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--require-hashes",
            "-r",
        ])
        .arg(&requirements);
        run(&mut pip, "installing the Python toolchain (pip install --require-hashes)");
        std::fs::write(stamp, digest).expect("the venv is writable");
        venv
    })
    .clone()
}

/// A digest of every source file under `dirs` (not builds, installs or caches), to rebuild on change.
fn sources_digest(dirs: &[&Path]) -> String {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let skipped = ["build", "node_modules", "__pycache__", ".pytest_cache"];
            if path.is_dir() {
                if !skipped.iter().any(|s| name == *s) {
                    walk(&path, files);
                }
            } else {
                files.push(path);
            }
        }
    }
    let mut files = Vec::new();
    for dir in dirs {
        walk(dir, &mut files);
    }
    files.sort();
    let mut hasher = Sha256::new();
    for file in files {
        hasher.update(file.to_string_lossy().as_bytes());
        hasher.update(std::fs::read(&file).unwrap_or_default());
    }
    hex::encode(hasher.finalize())
}

fn run(command: &mut Command, what: &str) {
    let status = command.status().unwrap_or_else(|e| panic!("{what}: cannot start {command:?}: {e}"));
    assert!(status.success(), "{what} failed ({status}); see the output above");
}
