//! Checking a subscription's configuration with the plugin's optional `validate-config` export (WIT
//! 0.1.1), in a fresh sandbox under the same deadline and limits as `transform`. A plugin without the
//! export accepts every configuration.

use std::time::{Duration, SystemTime};

use wasmtime::component::types::{ComponentItem, Type};
use wasmtime::component::{Component, ComponentExportIndex};

use super::bindings::{VALIDATE_CONFIG, wit};
use super::{
    ConfigCheckError, EventInput, Limits, LoadError, Plugin, Runtime, block_on, settle, within_deadline,
};

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
        self.check_config_on_samples(plugin, config_json, &[], limits)
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
        self.check_config_on_samples_async(plugin, config_json, &[], limits).await
    }

    /// [`Runtime::check_config`] for a subscription that receives the event types of `samples` (one
    /// sample event of each, from the catalog): the plugin may try the configuration on them (the `check`
    /// import, 0.1.3), for example render a template on each.
    pub fn check_config_on_samples(
        &self,
        plugin: &Plugin,
        config_json: &str,
        samples: &[EventInput<'_>],
        limits: &Limits,
    ) -> Result<(), ConfigCheckError> {
        block_on(self.check_config_on_samples_async(plugin, config_json, samples, limits))
    }

    /// [`Runtime::check_config_on_samples`] as a future (see [`Runtime::check_config_async`]).
    pub async fn check_config_on_samples_async(
        &self,
        plugin: &Plugin,
        config_json: &str,
        samples: &[EventInput<'_>],
        limits: &Limits,
    ) -> Result<(), ConfigCheckError> {
        let Some(export) = &plugin.validate_config else {
            return Ok(());
        };
        let limits = &limits.capped_by(&self.limits);
        // There is no event: the plugin's clocks read the time the configuration is set.
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or(Duration::ZERO);
        let (mut store, clock) = self.sandbox_store(limits, now);
        store.data_mut().samples = samples.iter().map(super::to_wit_event).collect();
        let called = within_deadline(&clock, async {
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

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_encoder as enc;

    /// A component exporting `name` as a function taking nothing and returning nothing.
    fn component_exporting(name: &str) -> Vec<u8> {
        let mut types = enc::TypeSection::new();
        types.ty().function([], []);
        let mut functions = enc::FunctionSection::new();
        functions.function(0);
        let mut exports = enc::ExportSection::new();
        exports.export("f", enc::ExportKind::Func, 0);
        let mut code = enc::CodeSection::new();
        let mut body = enc::Function::new([]);
        body.instruction(&enc::Instruction::End);
        code.function(&body);
        let mut module = enc::Module::new();
        module.section(&types).section(&functions).section(&exports).section(&code);

        let mut component = enc::Component::new();
        component.section(&enc::ModuleSection(&module));
        let mut instances = enc::InstanceSection::new();
        instances.instantiate(0, Vec::<(&str, enc::ModuleArg)>::new());
        component.section(&instances);
        let mut aliases = enc::ComponentAliasSection::new();
        aliases.alias(enc::Alias::CoreInstanceExport { instance: 0, kind: enc::ExportKind::Func, name: "f" });
        component.section(&aliases);
        let mut func_types = enc::ComponentTypeSection::new();
        func_types.function().async_(false).params(Vec::<(&str, enc::ComponentValType)>::new()).result(None);
        component.section(&func_types);
        let mut lifted = enc::CanonicalFunctionSection::new();
        lifted.lift(0, 0, []);
        component.section(&lifted);
        let mut component_exports = enc::ComponentExportSection::new();
        component_exports.export(name, enc::ComponentExportKind::Func, 0, None);
        component.section(&component_exports);
        component.finish()
    }

    fn compile(wasm: &[u8]) -> Component {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        Component::new(&wasmtime::Engine::new(&config).unwrap(), wasm).unwrap()
    }

    #[test]
    fn a_validate_config_export_of_the_wrong_type_is_refused_at_load() {
        let error = find_export(&compile(&component_exporting(VALIDATE_CONFIG))).unwrap_err();
        assert!(matches!(&error, LoadError::WrongExports(m) if m.contains("validate-config")), "{error:?}");
    }

    #[test]
    fn a_plugin_without_validate_config_has_nothing_to_check() {
        assert!(find_export(&compile(&component_exporting("something-else"))).unwrap().is_none());
    }

    /// Compiles only if the check can run in the API's multi-threaded handlers (its future is `Send`).
    #[allow(dead_code)]
    fn the_check_can_be_awaited_on_any_thread(runtime: &Runtime, plugin: &Plugin, limits: &Limits) {
        fn send<T: Send>(_: T) {}
        send(runtime.check_config_async(plugin, "{}", limits));
    }
}
