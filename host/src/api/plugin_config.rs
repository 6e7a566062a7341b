//! Asking a plugin whether it accepts a configuration (its optional `validate-config` export), before a
//! subscription keeps it (create, change, a canary's candidate) and before a preview runs on it (a plugin
//! run, a dry run's candidate): every one answers the same 422 naming the field, so a preview never shows
//! a run the service would refuse to set up.

use axum::http::StatusCode;

use super::{ApiError, ApiResult, AppState};
use crate::plugins::{PluginRef, ResolveError};
use crate::runtime::{ConfigCheckError, Plugin};

/// Resolves `plugin` (a stored version, or the latest) and lets it check `config_json`; see
/// [`check_accepts`].
pub(super) async fn check_plugin_accepts(
    state: &AppState,
    tenant: &str,
    plugin: &PluginRef,
    config_json: &str,
    event_types: &[String],
) -> ApiResult<()> {
    let (version, loaded) = state.plugins.resolve(plugin).await.map_err(|error| match error {
        ResolveError::Missing(message) => ApiError::field(StatusCode::NOT_FOUND, "plugin", message),
        ResolveError::Unavailable(message) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "plugin_unavailable",
            format!("{message}; try again"),
        ),
    })?;
    check_accepts(state, tenant, &format!("{}@{version}", plugin.name), &loaded, config_json, event_types)
        .await
}

/// Lets the compiled `plugin` (named `label` in messages: `slack@2`, `candidate sha256:…`) check the
/// configuration, with the catalog's sample of each of `event_types` to try it on, on a plugin thread in
/// the tenant's turn and under its limits: a refusal is a 422 naming the field (`config.<field>`, or
/// `config`), with the plugin's message. A plugin built without the export accepts any configuration.
pub(super) async fn check_accepts(
    state: &AppState,
    tenant: &str,
    label: &str,
    plugin: &Plugin,
    config_json: &str,
    event_types: &[String],
) -> ApiResult<()> {
    if !plugin.info().validates_config {
        return Ok(());
    }
    let policy = state.policies.get(tenant).await;
    let (runtime, plugin, config) = (state.runtime.clone(), plugin.clone(), config_json.to_owned());
    let samples: Vec<crate::event::Event> = crate::catalog::samples::for_patterns(event_types, tenant)
        .iter()
        .filter_map(|sample| crate::event::Event::parse(sample.to_string().as_bytes()).ok())
        .collect();
    let checked = state
        .executor
        .submit(tenant, move || {
            let started = std::time::Instant::now();
            let samples: Vec<_> = samples.iter().map(|sample| sample.as_input()).collect();
            let checked = runtime.check_config_on_samples(&plugin, &config, &samples, &policy.limits);
            (checked, started.elapsed())
        })
        .await
        .ok_or_else(|| ApiError::internal("the configuration check was lost"))?;
    match checked {
        Ok(()) => Ok(()),
        Err(ConfigCheckError::Refused { field, message }) => Err(ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            field.as_deref().map_or_else(|| "config".to_owned(), |field| format!("config.{field}")),
            format!(
                "plugin {label} refused the config{}: {message}",
                field.map(|field| format!(" at `{field}`")).unwrap_or_default()
            ),
        )),
        Err(ConfigCheckError::Failed(error)) => Err(ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "config",
            format!("plugin {label} failed while checking the config: {error}"),
        )),
    }
}
