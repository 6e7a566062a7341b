//! Plugin references (`slack`, `slack@2`, a tenant's own `acme/crm@3`) and the cache of compiled plugins,
//! shared by the API (which fills it on upload) and the pipeline (which runs them): each version is
//! fetched from the store and compiled (or loaded precompiled) once per instance; "latest" is looked up
//! again every few seconds, so a version uploaded to any instance is picked up by all. At start, every
//! live version is loaded in the background, so the first event for it does not wait for a compile.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::runtime::{Plugin, Runtime};
use crate::store::{PluginScope, PluginVersion, Store};

/// How long the latest version of each plugin is trusted before asking the store again.
const LATEST_TTL: Duration = Duration::from_secs(2);

/// A plugin as a subscription names it: pinned (`slack@2`) or following the latest (`slack`); a tenant's
/// own plugin has its tenant before a `/` (`acme/crm@3`).
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
        let valid = |part: &str| {
            !part.is_empty()
                && part.len() <= 256
                && part.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        };
        let valid = match name.split_once('/') {
            Some((tenant, plugin)) => valid(tenant) && valid(plugin),
            None => valid(name),
        };
        if !valid {
            return Err(format!(
                "`{text}` is not a plugin: name a shared plugin (`slack`, `slack@2`) or one of your own \
                 (`<tenant>/<name>`, `<tenant>/<name>@3`)"
            ));
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

/// Why a plugin reference could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// No such plugin or version (any more).
    #[error("{0}")]
    Missing(String),
    /// It exists but could not be read or loaded now (the database, a compile).
    #[error("{0}")]
    Unavailable(String),
}

/// A plugin version: its name and number.
type VersionKey = (String, u32);

/// Compiled plugins by name and version, shared by the pipeline and the API.
pub struct PluginCache {
    store: Arc<dyn Store>,
    runtime: Arc<Runtime>,
    compiled: Mutex<HashMap<VersionKey, Plugin>>,
    /// Versions being loaded now, so that two callers (the start-up precompile and the first event, say)
    /// wait for one compile instead of each making their own.
    loading: Mutex<HashMap<VersionKey, Arc<tokio::sync::Mutex<()>>>>,
    latest: Mutex<Option<(Instant, HashMap<String, u32>)>>,
}

impl PluginCache {
    pub fn new(store: Arc<dyn Store>, runtime: Arc<Runtime>) -> PluginCache {
        PluginCache {
            store,
            runtime,
            compiled: Mutex::default(),
            loading: Mutex::default(),
            latest: Mutex::default(),
        }
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
    pub async fn resolve(&self, plugin: &PluginRef) -> Result<(u32, Plugin), ResolveError> {
        let version = match plugin.version {
            Some(version) => version,
            None => self.latest_version(&plugin.name).await?,
        };
        let key = (plugin.name.clone(), version);
        if let Some(compiled) = self.compiled.lock().expect("cache lock").get(&key) {
            return Ok((version, compiled.clone()));
        }
        let guard = self.loading.lock().expect("cache lock").entry(key.clone()).or_default().clone();
        let _loading = guard.lock().await;
        if let Some(compiled) = self.compiled.lock().expect("cache lock").get(&key) {
            return Ok((version, compiled.clone()));
        }
        let loaded = self.load(plugin, version).await;
        if let Ok(loaded) = &loaded {
            self.compiled.lock().expect("cache lock").insert(key.clone(), loaded.clone());
        }
        self.loading.lock().expect("cache lock").remove(&key);
        loaded.map(|loaded| (version, loaded))
    }

    /// Fetches a version and compiles it (or loads it precompiled) on a blocking thread.
    async fn load(&self, plugin: &PluginRef, version: u32) -> Result<Plugin, ResolveError> {
        let unavailable = |e: &dyn std::fmt::Display| ResolveError::Unavailable(e.to_string());
        let (_, wasm) = self
            .store
            .get_plugin(&plugin.name, Some(version))
            .await
            .map_err(|e| unavailable(&e))?
            .ok_or_else(|| {
                ResolveError::Missing(format!("plugin {}@{version} does not exist", plugin.name))
            })?;
        let runtime = self.runtime.clone();
        let loaded = tokio::task::spawn_blocking(move || runtime.load(&wasm))
            .await
            .map_err(|e| unavailable(&e))?
            .map_err(|e| unavailable(&format!("plugin {}@{version} cannot be loaded: {e}", plugin.name)))?;
        Ok(loaded)
    }

    /// Loads every live version (the latest of each plugin, and every pinned one) into this cache, one at
    /// a time on a blocking thread, newest uploads included as they were at start. Failures are logged:
    /// the pipeline reports them on the events that need the version.
    pub async fn precompile_live_versions(self: Arc<Self>) {
        let live = match self.store.live_plugin_versions().await {
            Ok(live) => live,
            Err(error) => return tracing::warn!(%error, "cannot list plugin versions to precompile"),
        };
        let started = Instant::now();
        for (name, version) in &live {
            let reference = PluginRef { name: name.clone(), version: Some(*version) };
            if let Err(error) = self.resolve(&reference).await {
                tracing::warn!(plugin = %reference, %error, "cannot precompile a plugin version");
            }
        }
        tracing::info!(
            versions = live.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "plugin versions ready"
        );
    }

    async fn latest_version(&self, name: &str) -> Result<u32, ResolveError> {
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
            .list_plugins(PluginScope::All)
            .await
            .map_err(|e| ResolveError::Unavailable(e.to_string()))?
            .into_iter()
            .map(|v| (v.name, v.version))
            .collect();
        let version = versions.get(name).copied();
        *self.latest.lock().expect("cache lock") = Some((Instant::now(), versions));
        version.ok_or_else(|| ResolveError::Missing(format!("plugin {name} has no version")))
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
        let own = "acme/crm@3".parse::<PluginRef>().unwrap();
        assert_eq!((own.name.as_str(), own.version), ("acme/crm", Some(3)));
        assert!("acme/crm/x".parse::<PluginRef>().is_err());
        assert!("/crm".parse::<PluginRef>().is_err());
        assert!("Slack Bot".parse::<PluginRef>().is_err());
    }
}
