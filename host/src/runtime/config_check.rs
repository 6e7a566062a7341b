//! Checking a subscription's configuration with the plugin's optional `validate-config` export (WIT
//! 0.1.1), in a fresh sandbox under the same deadline and limits as `transform`. A plugin without the
//! export accepts every configuration.

use std::time::{Duration, SystemTime};

use wasmtime::component::types::{ComponentItem, Type};
use wasmtime::component::{Component, ComponentExportIndex};

use super::bindings::{VALIDATE_CONFIG, wit};
use super::{ConfigCheckError, Limits, LoadError, Plugin, Runtime, block_on, settle, within_deadline};

impl Runtime {
    /// Asks `plugin` whether `config_json` is a configuration it can run with, under the runtime's limits,
    /// on this thread. `Ok(())` when the plugin has no `validate-config` export. Must not be called from
    /// inside an async runtime (use [`Runtime::check_config_async`] there).
    pub fn check_config(
        &self,
        plugin: &Plugin,
        config_json: &str,
        limits: &Limits,
    ) -> Result<(), ConfigCheckError> {
        block_on(self.check_config_async(plugin, config_json, limits))
    }

    /// [`Runtime::check_config`] as a future: `validate-config` in a fresh store and instance, under
    /// `limits` capped by the runtime's (as [`Runtime::invoke_limited_async`]). CPU-bound while wasm runs:
    /// poll it on a thread meant for plugins.
    pub async fn check_config_async(
        &self,
        plugin: &Plugin,
        config_json: &str,
        limits: &Limits,
    ) -> Result<(), ConfigCheckError> {
        let Some(export) = &plugin.validate_config else {
            return Ok(());
        };
        let limits = &limits.capped_by(&self.limits);
        // There is no event: the plugin's clocks read the time the configuration is set.
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or(Duration::ZERO);
        let mut store = self.sandbox_store(limits, now);
        let called = within_deadline(limits, async {
            let instance = plugin.pre.instance_pre().instantiate_async(&mut store).await?;
            let validate =
                instance.get_typed_func::<(&str,), (Result<(), wit::ConfigError>,)>(&mut store, export)?;
            let (returned,) = validate.call_async(&mut store, (config_json,)).await?;
            Ok(returned)
        })
        .await;
        match settle(called, &store, limits)? {
            Ok(()) => Ok(()),
            Err(refused) => Err(ConfigCheckError::Refused { field: refused.field, message: refused.message }),
        }
    }
}

/// The component's `validate-config` export, if it has one; refuses one whose type is not
/// `func(config: string) -> result<_, config-error>`, rather than fail every check later.
pub(super) fn find_export(component: &Component) -> Result<Option<ComponentExportIndex>, LoadError> {
    let Some((item, index)) = component.get_export(None, VALIDATE_CONFIG) else {
        return Ok(None);
    };
    let fits = match &item {
        ComponentItem::ComponentFunc(func) => {
            let params: Vec<Type> = func.params().map(|(_, ty)| ty).collect();
            let results: Vec<Type> = func.results().collect();
            matches!(params.as_slice(), [Type::String])
                && matches!(results.as_slice(), [Type::Result(result)]
                    if result.ok().is_none() && matches!(result.err(), Some(Type::Record(_))))
        }
        _ => false,
    };
    if !fits {
        return Err(LoadError::WrongExports(format!(
            "its `{VALIDATE_CONFIG}` export is not `func(config: string) -> result<_, config-error>`"
        )));
    }
    Ok(Some(index))
}
