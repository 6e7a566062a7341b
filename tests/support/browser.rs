//! The browser stories' harness: headless Chromium (Debian's `chromium` package, installed here if
//! missing) driven by `playwright-core` (from npm, pinned by `tests/browser/package-lock.json`, installed
//! here with `npm ci`), one story of `tests/browser/stories.mjs` per run, screenshots in
//! `target/console-screenshots`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Value, json};

use super::repo_root;
use super::service::{OPERATOR, Service};

/// Chromium's path: Debian's package, installed with apt-get when it is missing.
pub fn chromium() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let found = || {
            ["chromium", "chromium-browser"].iter().find_map(|name| {
                let out = Command::new("which").arg(name).output().ok()?;
                out.status.success().then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
            })
        };
        if let Some(path) = found() {
            return path;
        }
        let apt = |args: &[&str]| {
            Command::new("apt-get")
                .args(args)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status()
                .is_ok_and(|status| status.success())
        };
        if !apt(&["install", "-y", "-qq", "chromium"]) {
            assert!(
                apt(&["update", "-qq"]),
                "apt-get update failed; install Debian's chromium package by hand"
            );
            assert!(apt(&["install", "-y", "-qq", "chromium"]), "apt-get install chromium failed");
        }
        found().expect("chromium is installed")
    })
}

/// `tests/browser` with its node_modules from the lock file (`npm ci`, only when they are missing or older
/// than the lock). Playwright never downloads a browser: the tests use Debian's.
fn browser_tests_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = repo_root().join("tests/browser");
        let modified = |path: PathBuf| std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let installed = modified(dir.join("node_modules/.package-lock.json"));
        if installed.is_none() || installed < modified(dir.join("package-lock.json")) {
            let status = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
                .status()
                .expect("npm runs (install Node.js 20 or newer)");
            assert!(status.success(), "npm ci failed in {}", dir.display());
        }
        dir
    })
}

fn screenshots_dir() -> PathBuf {
    let dir = repo_root().join("target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs one story of `stories.mjs`; panics with the browser's reason if it fails; returns its results.
pub fn story(name: &str, service: &Service, env: &[(&str, String)]) -> Value {
    let mut command = Command::new("node");
    command
        .arg("stories.mjs")
        .arg(name)
        .current_dir(browser_tests_dir())
        .env("CHROMIUM", chromium())
        .env("GANCHO_URL", &service.url)
        .env("SCREENSHOTS", screenshots_dir())
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "browser story `{name}` failed:\n{}\n{stdout}\n(service log: {})",
        String::from_utf8_lossy(&output.stderr),
        service.data_dir.with_extension("log").display()
    );
    serde_json::from_str(stdout.lines().last().unwrap_or("{}")).unwrap_or(Value::Null)
}

pub fn portal_link(service: &Service, tenant: &str) -> String {
    let (status, link) =
        service.post(&format!("/v1/tenants/{tenant}/portal-links"), OPERATOR, &json!({"ttl_secs": 900}));
    assert_eq!(status, 201, "{link}");
    link["url"].as_str().unwrap().to_owned()
}
