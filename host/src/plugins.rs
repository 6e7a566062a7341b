//! Plugin references (`slack`, `slack@2`) and the cache of compiled plugins, shared by the API (which
//! fills it on upload) and the pipeline (which runs them): each version is fetched from the store and
//! compiled (or loaded precompiled) once per instance; "latest" is looked up again every few seconds, so
//! a version uploaded to any instance is picked up by all.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::runtime::{Plugin, Runtime};
use crate::store::{PluginVersion, Store};

/// How long the latest version of each plugin is trusted before asking the store again.
const LATEST_TTL: Duration = Duration::from_secs(2);

/// A plugin as a subscription names it: pinned (`slack@2`) or following the latest (`slack`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PluginRef {
    pub name: String,
    pub version: Option<u32>,
}

impl std::str::FromStr for PluginRef {
    type Err = String;

    fn from_str(text: &str) -> Result<PluginRef, String> {
        let (name, version) = match text.split_once('@') {
            Some((name, version)) => {
                let version = version
                    .parse::<u32>()
                    .ok()
                    .filter(|v| *v > 0)
                    .ok_or_else(|| format!("`{text}`: the version after `@` must be a number from 1"))?;
                (name, Some(version))
            }
            None => (text, None),
        };
        if name.is_empty() {
            return Err("`plugin` must name a plugin, like `slack` or `slack@2`".into());
        }
        Ok(PluginRef { name: name.to_owned(), version })
    }
}

impl std::fmt::Display for PluginRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.version {
            Some(version) => write!(f, "{}@{version}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Compiled plugins by name and version, shared by the pipeline and the API.
pub struct PluginCache {
    store: Arc<dyn Store>,
    runtime: Arc<Runtime>,
    compiled: Mutex<HashMap<(String, u32), Plugin>>,
    latest: Mutex<Option<(Instant, HashMap<String, u32>)>>,
}

impl PluginCache {
    pub fn new(store: Arc<dyn Store>, runtime: Arc<Runtime>) -> PluginCache {
        PluginCache { store, runtime, compiled: Mutex::default(), latest: Mutex::default() }
    }

    /// Adds a plugin this instance just validated (an upload), so it is not compiled twice.
    pub fn insert(&self, version: &PluginVersion, plugin: Plugin) {
        self.compiled.lock().expect("cache lock").insert((version.name.clone(), version.version), plugin);
        if let Some((_, latest)) = self.latest.lock().expect("cache lock").as_mut() {
            let entry = latest.entry(version.name.clone()).or_insert(0);
            *entry = (*entry).max(version.version);
        }
    }

    /// The version a reference means now, and the compiled plugin.
    pub async fn resolve(&self, plugin: &PluginRef) -> Result<(u32, Plugin), String> {
        let version = match plugin.version {
            Some(version) => version,
            None => self.latest_version(&plugin.name).await?,
        };
        let key = (plugin.name.clone(), version);
        if let Some(compiled) = self.compiled.lock().expect("cache lock").get(&key) {
            return Ok((version, compiled.clone()));
        }
        let (_, wasm) = self
            .store
            .get_plugin(&plugin.name, Some(version))
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("plugin {}@{version} does not exist", plugin.name))?;
        let runtime = self.runtime.clone();
        let loaded = tokio::task::spawn_blocking(move || runtime.load(&wasm))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("plugin {}@{version} cannot be loaded: {e}", plugin.name))?;
        self.compiled.lock().expect("cache lock").insert(key, loaded.clone());
        Ok((version, loaded))
    }

    async fn latest_version(&self, name: &str) -> Result<u32, String> {
        {
            let latest = self.latest.lock().expect("cache lock");
            if let Some((fetched, versions)) = latest.as_ref()
                && fetched.elapsed() < LATEST_TTL
                && let Some(version) = versions.get(name)
            {
                return Ok(*version);
            }
        }
        let versions: HashMap<String, u32> = self
            .store
            .list_plugins()
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|v| (v.name, v.version))
            .collect();
        let version = versions.get(name).copied();
        *self.latest.lock().expect("cache lock") = Some((Instant::now(), versions));
        version.ok_or_else(|| format!("plugin {name} has no version"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_and_print() {
        assert_eq!("slack".parse::<PluginRef>().unwrap(), PluginRef { name: "slack".into(), version: None });
        assert_eq!("slack@2".parse::<PluginRef>().unwrap().to_string(), "slack@2");
        assert!("slack@0".parse::<PluginRef>().is_err());
        assert!("slack@latest".parse::<PluginRef>().is_err());
        assert!("@2".parse::<PluginRef>().is_err());
    }
}
