//! `gancho plugin new`: writes a plugin (a Rust crate, a JavaScript package or a Python module) that tests,
//! builds and runs as it is. The templates are real files under `scaffold/`, embedded in the binary;
//! `{{placeholders}}` in them are filled in here.

use std::path::{Path, PathBuf};

use clap::Args;

use super::language::Language;

/// The files of a new plugin crate: its path inside the crate, and the template.
const RUST_TEMPLATES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("scaffold/Cargo.toml.tmpl")),
    ("src/lib.rs", include_str!("scaffold/lib.rs.tmpl")),
    ("README.md", include_str!("scaffold/README.md.tmpl")),
    ("config.example.json", include_str!("scaffold/config.example.json")),
    (".gitignore", include_str!("scaffold/gitignore.tmpl")),
];

/// The files of a new JavaScript plugin.
const JS_TEMPLATES: &[(&str, &str)] = &[
    ("package.json", include_str!("scaffold/js/package.json.tmpl")),
    ("plugin.js", include_str!("scaffold/js/plugin.js.tmpl")),
    ("test/plugin.test.js", include_str!("scaffold/js/plugin.test.js.tmpl")),
    ("README.md", include_str!("scaffold/js/README.md.tmpl")),
    ("config.example.json", include_str!("scaffold/config.example.json")),
    (".gitignore", include_str!("scaffold/js/gitignore.tmpl")),
];

/// The files of a new Python plugin.
const PYTHON_TEMPLATES: &[(&str, &str)] = &[
    ("pyproject.toml", include_str!("scaffold/python/pyproject.toml.tmpl")),
    ("plugin.py", include_str!("scaffold/python/plugin.py.tmpl")),
    ("tests/test_plugin.py", include_str!("scaffold/python/test_plugin.py.tmpl")),
    ("README.md", include_str!("scaffold/python/README.md.tmpl")),
    ("config.example.json", include_str!("scaffold/config.example.json")),
    (".gitignore", include_str!("scaffold/python/gitignore.tmpl")),
    // The toolchain, pinned with every platform's hashes: the SDK's own list.
    ("requirements.txt", include_str!("../../../plugin-sdk/python/requirements.txt")),
];

/// The JavaScript SDK's manifest: its peer dependency on componentize-qjs is the version a new plugin pins.
const JS_SDK_MANIFEST: &str = include_str!("../../../plugin-sdk/js/package.json");

/// The componentize-qjs version the JavaScript SDK is built and tested with.
fn componentize_qjs_version() -> String {
    let manifest: serde_json::Value =
        serde_json::from_str(JS_SDK_MANIFEST).expect("plugin-sdk/js/package.json is valid JSON");
    let version = manifest["peerDependencies"]["componentize-qjs"].as_str();
    version.expect("plugin-sdk/js/package.json has a peer dependency on componentize-qjs").to_owned()
}

fn templates(language: Language) -> &'static [(&'static str, &'static str)] {
    match language {
        Language::Rust => RUST_TEMPLATES,
        Language::Js => JS_TEMPLATES,
        Language::Python => PYTHON_TEMPLATES,
    }
}

/// The SDK of the clone this binary was built from (`cargo install --path host`), if it is still there.
const BUILT_FROM_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugin-sdk");
/// Gancho's repository (the workspace's `repository`), where the SDK comes from without a clone.
const REPOSITORY: &str = env!("CARGO_PKG_REPOSITORY");

#[derive(Args)]
pub struct NewArgs {
    /// The plugin's name, as it will be uploaded: 1 to 64 lowercase letters, digits, `-` or `_`.
    name: String,
    /// Where to create the crate (a new or empty directory) [default: ./NAME].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// The plugin's language.
    #[arg(long, value_enum, default_value = "rust")]
    lang: Language,
    /// The `plugin-sdk` directory of a Gancho clone to depend on [default: the clone this `gancho` was
    /// built from if it is still there, else the SDK from Gancho's git repository].
    #[arg(long, value_name = "PATH")]
    sdk_path: Option<PathBuf>,
}

/// Where the new crate's `gancho-sdk` dependency comes from.
#[derive(Debug, Clone, PartialEq)]
enum Sdk {
    /// A local `plugin-sdk` directory (absolute).
    Path(PathBuf),
    /// Gancho's git repository.
    Git(&'static str),
}

/// Creates the crate and says what to do next.
pub fn new(args: NewArgs) -> Result<(), String> {
    check_name(&args.name)?;
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(&args.name));
    check_free(&dir)?;
    let sdk = match &args.sdk_path {
        Some(path) => Sdk::Path(check_sdk(path)?),
        None => match Path::new(BUILT_FROM_SDK).canonicalize() {
            Ok(path) if is_sdk(&path) => Sdk::Path(path),
            _ => Sdk::Git(REPOSITORY),
        },
    };
    if let (Sdk::Git(_), Language::Js | Language::Python) = (&sdk, args.lang) {
        return Err(format!(
            "no local clone of Gancho found for the {:?} SDK; pass --sdk-path with the plugin-sdk directory of a \
             clone (git clone {REPOSITORY})",
            args.lang
        ));
    }
    for (file, template) in templates(args.lang) {
        let path = dir.join(file);
        let parent = path.parent().expect("template paths have a parent");
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: cannot create: {e}", parent.display()))?;
        std::fs::write(&path, render(template, &args.name, &sdk))
            .map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
    }
    println!("created plugin {} in {}", args.name, dir.display());
    match &sdk {
        Sdk::Path(path) => println!("  gancho-sdk: {}", path.display()),
        Sdk::Git(url) => println!("  gancho-sdk: {url} (git; --sdk-path uses a local clone)"),
    }
    let next = match args.lang {
        Language::Rust => "cargo test && gancho plugin build",
        Language::Js => "npm install && npm test && gancho plugin build",
        Language::Python => {
            "see README.md: a venv with requirements.txt and the SDK, pytest, gancho plugin build"
        }
    };
    println!("next: cd {} && {next}", dir.display());
    Ok(())
}

/// A plugin name as the service accepts it.
fn check_name(name: &str) -> Result<(), String> {
    let valid = (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "plugin name `{name}` is not valid: use 1 to 64 lowercase letters, digits, `-` or `_` \
             (for example `acme-crm`)"
        ))
    }
}

/// The directory must not exist, or be empty: a scaffold never overwrites anything.
fn check_free(dir: &Path) -> Result<(), String> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => match entries.next() {
            None => Ok(()),
            Some(_) => Err(format!(
                "{}: exists and is not empty; pass --dir with a new or empty directory",
                dir.display()
            )),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) if dir.exists() && !dir.is_dir() => Err(format!(
            "{}: exists and is not a directory ({e}); pass --dir with a new or empty directory",
            dir.display()
        )),
        Err(e) => Err(format!("{}: cannot read: {e}", dir.display())),
    }
}

fn check_sdk(path: &Path) -> Result<PathBuf, String> {
    match path.canonicalize() {
        Ok(path) if is_sdk(&path) => Ok(path),
        _ => Err(format!(
            "--sdk-path {}: not the gancho-sdk crate (no Cargo.toml with name = \"gancho-sdk\" there); pass \
             the plugin-sdk directory of a Gancho clone",
            path.display()
        )),
    }
}

fn is_sdk(dir: &Path) -> bool {
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
    let manifest: toml::Table = toml::from_str(&manifest).unwrap_or_default();
    manifest.get("package").and_then(|p| p.get("name")).and_then(|n| n.as_str()) == Some("gancho-sdk")
}

/// A template with its placeholders filled in.
fn render(template: &str, name: &str, sdk: &Sdk) -> String {
    // A crate name cannot start with a digit or `-`; the plugin's name can.
    let package = if name.starts_with(|c: char| c.is_ascii_lowercase()) {
        name.to_owned()
    } else {
        format!("plugin-{name}")
    };
    let quoted = |text: &str| serde_json::to_string(text).expect("strings serialise"); // a TOML string too
    let (dependency, samples) = match sdk {
        Sdk::Path(path) => (
            format!(
                "# From a local clone of Gancho; elsewhere, use {{ git = {} }}.\ngancho-sdk = {{ path = {} }}",
                quoted(REPOSITORY),
                quoted(&path.to_string_lossy())
            ),
            path.join("samples").to_string_lossy().into_owned(),
        ),
        Sdk::Git(url) => (
            format!(
                "# From Gancho's repository: `gancho plugin new` found no local clone (`--sdk-path` uses one).\n\
                 gancho-sdk = {{ git = {} }}",
                quoted(url)
            ),
            "path/to/gancho/plugin-sdk/samples".to_owned(),
        ),
    };
    let sdk_dir = |language: &str| match sdk {
        Sdk::Path(path) => path.join(language).to_string_lossy().into_owned(),
        Sdk::Git(_) => format!("path/to/gancho/plugin-sdk/{language}"),
    };
    template
        .replace("{{sdk_js}}", &sdk_dir("js"))
        .replace("{{sdk_python}}", &sdk_dir("python"))
        .replace("{{componentize_qjs}}", &componentize_qjs_version())
        .replace("{{name}}", name)
        .replace("{{package}}", &package)
        .replace("{{lib}}", &package.replace('-', "_"))
        .replace("{{sdk_dependency}}", &dependency)
        .replace("{{samples}}", &samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cargo_toml(name: &str, sdk: &Sdk) -> toml::Table {
        toml::from_str(&render(RUST_TEMPLATES[0].1, name, sdk)).unwrap()
    }

    #[test]
    fn names_are_checked_as_the_service_does() {
        for name in ["acme-crm", "a", "crm_2", "3cx", &"x".repeat(64)] {
            check_name(name).unwrap();
        }
        for name in ["", "Acme", "acme crm", "acme/crm", "café", &"x".repeat(65)] {
            let error = check_name(name).unwrap_err();
            assert!(error.contains(&format!("`{name}`")), "{error}");
        }
    }

    #[test]
    fn every_placeholder_is_filled() {
        for sdk in [Sdk::Path("/src/gancho/plugin-sdk".into()), Sdk::Git(REPOSITORY)] {
            for (file, template) in [RUST_TEMPLATES, JS_TEMPLATES, PYTHON_TEMPLATES].concat() {
                let rendered = render(template, "acme-crm", &sdk);
                assert!(!rendered.contains("{{"), "{file}: {rendered}");
            }
        }
    }

    #[test]
    fn the_manifest_is_a_plugin_crate_of_its_own() {
        let manifest = cargo_toml("acme-crm", &Sdk::Path("/src/gancho/plugin-sdk".into()));
        assert_eq!(manifest["package"]["name"].as_str(), Some("acme-crm"));
        assert_eq!(manifest["workspace"].as_table().map(toml::Table::len), Some(0));
        assert_eq!(manifest["lib"]["crate-type"], toml::Value::from(vec!["cdylib", "rlib"]));
        let release = &manifest["profile"]["release"];
        assert_eq!(release["opt-level"].as_integer(), Some(3));
        assert_eq!(release["lto"].as_bool(), Some(true));
        assert_eq!(release["codegen-units"].as_integer(), Some(1));
        assert_eq!(release["panic"].as_str(), Some("abort"));
        assert_eq!(release["strip"].as_bool(), Some(true));
        let sdk = &manifest["dependencies"]["gancho-sdk"];
        assert_eq!(sdk["path"].as_str(), Some("/src/gancho/plugin-sdk"));

        let manifest = cargo_toml("3cx", &Sdk::Git(REPOSITORY));
        assert_eq!(manifest["package"]["name"].as_str(), Some("plugin-3cx"));
        assert_eq!(manifest["dependencies"]["gancho-sdk"]["git"].as_str(), Some(REPOSITORY));
    }

    #[test]
    fn the_readme_builds_runs_and_uploads_the_component() {
        let readme = render(RUST_TEMPLATES[2].1, "acme-crm", &Sdk::Path("/src/gancho/plugin-sdk".into()));
        assert!(readme.contains("gancho plugin build"));
        assert!(readme.contains("target/wasm32-wasip2/release/acme_crm.wasm"));
        assert!(readme.contains("/src/gancho/plugin-sdk/samples/call.ended.missed.json"));
        assert!(readme.contains("/v1/tenants/$TENANT/plugins/acme-crm/versions"));
        assert!(readme.contains("Authorization: Bearer gk_"));
    }

    #[test]
    fn a_js_plugin_pins_the_toolchain_the_sdk_is_tested_with() {
        let manifest = render(JS_TEMPLATES[0].1, "acme-crm", &Sdk::Path("/src/gancho/plugin-sdk".into()));
        let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
        assert_eq!(manifest["dependencies"]["@gancho/plugin-sdk"], "file:/src/gancho/plugin-sdk/js");
        let pinned = manifest["devDependencies"]["componentize-qjs"].as_str().unwrap();
        assert_eq!(pinned, componentize_qjs_version());
        assert!(pinned.chars().all(|c| c.is_ascii_digit() || c == '.'), "an exact version: {pinned}");
        let lock: serde_json::Value =
            serde_json::from_str(include_str!("../../../package-lock.json")).unwrap();
        assert_eq!(lock["packages"]["node_modules/componentize-qjs"]["version"], pinned);
    }

    #[test]
    fn a_python_plugin_names_no_clone_in_its_pyproject() {
        let sdk = Sdk::Path("/src/gancho/plugin-sdk".into());
        let (_, template) = PYTHON_TEMPLATES.iter().find(|(file, _)| *file == "pyproject.toml").unwrap();
        let pyproject = render(template, "acme-crm", &sdk);
        assert!(!pyproject.contains("/src/gancho"), "{pyproject}");
        let readme = PYTHON_TEMPLATES.iter().find(|(file, _)| *file == "README.md").unwrap().1;
        let readme = render(readme, "acme-crm", &sdk);
        assert!(readme.contains("pip install --require-hashes -r requirements.txt"), "{readme}");
        assert!(readme.contains("pip install -e /src/gancho/plugin-sdk/python"), "{readme}");
        let requirements = PYTHON_TEMPLATES.iter().find(|(file, _)| *file == "requirements.txt").unwrap().1;
        let componentize = requirements.split("componentize-py==").nth(1).unwrap().split("\n").take(6);
        assert_eq!(
            componentize.filter(|line| line.contains("--hash=sha256:")).count(),
            5,
            "every platform's wheel"
        );
    }

    #[test]
    fn only_a_new_or_empty_directory_is_used() {
        let temp = tempfile::tempdir().unwrap();
        check_free(&temp.path().join("new")).unwrap();
        check_free(temp.path()).unwrap();
        std::fs::write(temp.path().join("notes.txt"), "x").unwrap();
        let error = check_free(temp.path()).unwrap_err();
        assert!(error.contains(&temp.path().display().to_string()) && error.contains("not empty"), "{error}");
        let error = check_free(&temp.path().join("notes.txt")).unwrap_err();
        assert!(error.contains("not a directory"), "{error}");
    }

    #[test]
    fn the_sdk_of_this_clone_is_found() {
        let sdk = Path::new(BUILT_FROM_SDK).canonicalize().unwrap();
        assert!(is_sdk(&sdk));
        assert_eq!(check_sdk(Path::new(BUILT_FROM_SDK)), Ok(sdk));
        let error = check_sdk(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap_err();
        assert!(error.contains("--sdk-path") && error.contains("not the gancho-sdk crate"), "{error}");
    }
}
