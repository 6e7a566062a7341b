//! The subscription a plugin runs for: its id, its endpoint, and the customer's typed configuration.

use serde::de::DeserializeOwned;

use crate::PluginError;

/// The subscription an event is being mapped for. `C` is the plugin's configuration type, parsed from the
/// JSON the customer set on the subscription; a configuration that does not fit `C` never reaches the
/// plugin's code, it fails the event with a permanent error that names the field.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription<C = serde_json::Value> {
    /// The subscription's id.
    pub id: String,
    /// Where requests without their own `url` go.
    pub endpoint_url: String,
    /// The customer's configuration for this plugin.
    pub config: C,
}

impl<C: DeserializeOwned> Subscription<C> {
    /// Builds a subscription, parsing `config_json` (empty text counts as `{}`).
    pub fn parse(
        id: impl Into<String>,
        endpoint_url: impl Into<String>,
        config_json: &str,
    ) -> Result<Subscription<C>, PluginError> {
        let config_json = if config_json.trim().is_empty() { "{}" } else { config_json };
        let config = serde_json::from_str(config_json)
            .map_err(|e| PluginError::permanent(format!("invalid plugin config: {e}")))?;
        Ok(Subscription { id: id.into(), endpoint_url: endpoint_url.into(), config })
    }
}
