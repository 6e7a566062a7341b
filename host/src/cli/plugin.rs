//! `gancho plugin`: scaffold a plugin crate (`new`), build it into a component (`build`), validate a
//! component against the world (`check`), and run it once on an event file exactly as the service would,
//! printing the requests it produced (`run`); compare two versions (`diff`). Loading goes through the
//! precompiled cache (`precompiled`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use super::precompiled::CacheArgs;
use super::{build, diff, scaffold};
use crate::event::Event;
use crate::runtime::{LoadError, LogLevelName, Runtime, RuntimeSettings, SubscriptionInput};

#[derive(Subcommand)]
pub enum PluginCommand {
    /// Create a plugin crate that builds, tests and runs as it is: a typed `transform`, its tests, a README.
    New(scaffold::NewArgs),
    /// Build a plugin crate into a component (`cargo build --release --target wasm32-wasip2` with the
    /// settings Gancho's plugins need), then check it.
    Build {
        /// The plugin crate's directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        cache: CacheArgs,
    },
    /// Validate a plugin against the gancho:plugin world and print its world version, imports and size.
    Check {
        /// The plugin's `.wasm` component.
        plugin: PathBuf,
        #[command(flatten)]
        cache: CacheArgs,
    },
    /// Run a plugin once on an event and print the requests it produced as a JSON array.
    Run {
        /// The plugin's `.wasm` component.
        plugin: PathBuf,
        /// The event envelope, as the platform posts it (JSON).
        #[arg(long)]
        event: PathBuf,
        /// The subscription's plugin configuration: a JSON file, or the JSON itself (`{"list_id": "L1"}`);
        /// `{}` when omitted.
        #[arg(long, value_name = "FILE|JSON")]
        config: Option<String>,
        /// The subscription's endpoint URL, where requests without their own URL go.
        #[arg(long, default_value = "https://endpoint.example/webhook")]
        endpoint: String,
        #[command(flatten)]
        cache: CacheArgs,
    },
    /// Compare a candidate version with the current one: locally on event files (two `.wasm` files), or as
    /// a dry run over a subscription's past events on a running service (`--service`). Prints what would
    /// change: each differing event, field by field.
    Diff(Box<diff::DiffArgs>),
}

/// Exit code for input the user must fix (a file, a field, a plugin that does not load or build).
const BAD_INPUT: u8 = 2;
/// Exit code for a plugin that ran and failed.
const PLUGIN_FAILED: u8 = 1;

pub fn run(command: PluginCommand) -> ExitCode {
    match execute(command) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(BAD_INPUT)
        }
    }
}

fn execute(command: PluginCommand) -> Result<ExitCode, String> {
    match command {
        PluginCommand::New(args) => {
            scaffold::new(args)?;
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Build { dir, cache } => {
            let wasm = build::build(&dir)?;
            println!("built {}", wasm.display());
            check(&wasm, &cache)
        }
        PluginCommand::Check { plugin, cache } => check(&plugin, &cache),
        PluginCommand::Diff(args) => diff::run(*args),
        PluginCommand::Run { plugin, event, config, endpoint, cache } => {
            let (runtime, loaded) = load(&plugin, &cache)?;
            let event_bytes = read(&event)?;
            let event = Event::parse(&event_bytes).map_err(|e| format!("{}: {e}", event.display()))?;
            let config_json = config_arg("--config", config.as_deref())?;
            let subscription =
                SubscriptionInput { id: "sub_cli", endpoint_url: &endpoint, config_json: &config_json };
            let invocation = runtime.invoke(&loaded, &event.as_input(), &subscription);
            for line in &invocation.logs {
                eprintln!("plugin {}: {}", level_name(line.level), line.message);
            }
            if invocation.logs_dropped > 0 {
                eprintln!("plugin: {} more log lines dropped", invocation.logs_dropped);
            }
            match invocation.result {
                Ok(requests) => {
                    let json = serde_json::to_string_pretty(&requests).expect("requests serialise to JSON");
                    println!("{json}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(error) => {
                    eprintln!("error: plugin {} failed on event {}: {error}", plugin.display(), event.id);
                    Ok(ExitCode::from(PLUGIN_FAILED))
                }
            }
        }
    }
}

/// `plugin check`'s report, also the end of `plugin build`.
fn check(plugin: &Path, cache: &CacheArgs) -> Result<ExitCode, String> {
    let (_, loaded) = load(plugin, cache)?;
    let info = loaded.info();
    println!("{}: ok", plugin.display());
    println!("  world:   gancho:plugin/plugin@{}", info.world_version);
    println!(
        "  config:  {}",
        if info.validates_config {
            "checked when a subscription sets it (exports validate-config)"
        } else {
            "not checked when set (built without validate-config)"
        }
    );
    println!(
        "  merges:  {}",
        if info.merges {
            "requests waiting for one destination, when asked (exports merge)"
        } else {
            "no: one request per delivery (built without merge)"
        }
    );
    println!("  size:    {} bytes", info.size_bytes);
    let needs = info.instance_needs;
    println!(
        "  needs:   {} core instances, {} memories, {} tables per instance",
        needs.core_instances, needs.memories, needs.tables
    );
    println!("  digest:  {}", info.digest);
    println!("  imports:");
    for import in &info.imports {
        println!("    {import}");
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))
}

/// A configuration flag's JSON object: the value itself when it starts with `{`, else the file it names;
/// `{}` when the flag is not given. Errors name the flag.
pub(super) fn config_arg(flag: &str, value: Option<&str>) -> Result<String, String> {
    let Some(value) = value else { return Ok("{}".to_owned()) };
    let (text, what) = if value.trim_start().starts_with('{') {
        (value.to_owned(), format!("{flag} (inline JSON)"))
    } else {
        let path = Path::new(value);
        let bytes =
            read(path).map_err(|e| format!("{flag}: {e}; give a JSON file, or the JSON object itself"))?;
        let text = String::from_utf8(bytes).map_err(|_| format!("{flag} {value}: is not UTF-8 text"))?;
        (text, format!("{flag} {value}"))
    };
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(_)) => Ok(text),
        Ok(_) => Err(format!("{what}: the configuration must be a JSON object (`{{\"field\": …}}`)")),
        Err(e) => Err(format!("{what}: invalid JSON: {e}")),
    }
}

/// Loads a plugin with the precompiled cache, and the runtime to invoke it with. A cache that fails only
/// when the compiled plugin is stored (a full disk) costs a warning and a second compilation, not the
/// command.
pub(super) fn load(path: &Path, cache: &CacheArgs) -> Result<(Runtime, crate::runtime::Plugin), String> {
    let wasm = read(path)?;
    let runtime = new_runtime(cache.usable_dir())?;
    match runtime.load(&wasm) {
        Ok(plugin) => Ok((runtime, plugin)),
        Err(LoadError::Cache { path: cache_path, message }) => {
            eprintln!(
                "warning: cannot store the precompiled plugin in {cache_path} ({message}); compiling it \
                 without the cache"
            );
            drop(runtime);
            let runtime = new_runtime(None)?;
            let plugin = runtime.load(&wasm).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok((runtime, plugin))
        }
        Err(error) => Err(format!("{}: {error}", path.display())),
    }
}

fn new_runtime(cache_dir: Option<PathBuf>) -> Result<Runtime, String> {
    Runtime::new(RuntimeSettings { cache_dir, ..RuntimeSettings::default() })
        .map_err(|e| format!("failed to start the plugin runtime: {e:#}"))
}

fn level_name(level: LogLevelName) -> &'static str {
    match level {
        LogLevelName::Trace => "trace",
        LogLevelName::Debug => "debug",
        LogLevelName::Info => "info",
        LogLevelName::Warn => "warn",
        LogLevelName::Error => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_flag_takes_a_file_or_the_json_itself() {
        assert_eq!(config_arg("--config", None).unwrap(), "{}");
        assert_eq!(config_arg("--candidate-config", Some(r#"{"a": 1}"#)).unwrap(), r#"{"a": 1}"#);
        let temp = tempfile::tempdir().unwrap();
        let file = temp.path().join("config.json");
        std::fs::write(&file, r#"{"b": 2}"#).unwrap();
        assert_eq!(config_arg("--config", file.to_str()).unwrap(), r#"{"b": 2}"#);

        let error = config_arg("--candidate-config", Some("{channel: 1}")).unwrap_err();
        assert!(error.starts_with("--candidate-config (inline JSON): invalid JSON"), "{error}");
        let error = config_arg("--candidate-config", Some("nowhere.json")).unwrap_err();
        assert!(error.starts_with("--candidate-config: nowhere.json: cannot read"), "{error}");
        assert!(error.contains("or the JSON object itself"), "{error}");
        std::fs::write(&file, "[1]").unwrap();
        let error = config_arg("--config", file.to_str()).unwrap_err();
        assert!(error.contains("must be a JSON object"), "{error}");
    }
}
