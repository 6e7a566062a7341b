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
        let mut deserializer = serde_json::Deserializer::from_str(config_json);
        let config = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
            let path = e.path().to_string();
            if path == "." {
                PluginError::permanent(format!("invalid plugin config: {}", e.inner()))
            } else {
                PluginError::permanent(format!("invalid plugin config: field `{path}`: {}", e.inner()))
            }
        })?;
        Ok(Subscription { id: id.into(), endpoint_url: endpoint_url.into(), config })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Config {
        sheet: Sheet,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Sheet {
        columns: Vec<String>,
    }

    #[test]
    fn a_wrongly_typed_config_field_is_named_with_its_path() {
        let error = Subscription::<Config>::parse("s", "https://x.example", r#"{"sheet": {"columns": "a"}}"#)
            .unwrap_err();
        assert!(error.message.contains("field `sheet.columns`"), "{}", error.message);
    }

    #[test]
    fn empty_config_text_counts_as_an_empty_object() {
        let subscription = Subscription::<serde_json::Value>::parse("s", "https://x.example", " ").unwrap();
        assert_eq!(subscription.config, serde_json::json!({}));
    }
}
