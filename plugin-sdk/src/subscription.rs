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
        let config = parse_config(config_json).map_err(|e| PluginError::permanent(e.to_string()))?;
        Ok(Subscription { id: id.into(), endpoint_url: endpoint_url.into(), config })
    }
}

/// Why a configuration was refused: where (a path such as `channel` or `sheet.columns[2]`) and what to
/// change. [`plugin!`](crate::plugin) returns it when the configuration does not fit the plugin's type `C`
/// (for an unknown or missing field, the path names that field); a `validate = …` function returns it for
/// what serde cannot check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The path of the offending field; `None` for the configuration as a whole.
    pub field: Option<String>,
    /// What is wrong and what to set instead, shown to the customer.
    pub message: String,
}

impl ConfigError {
    /// A problem with the configuration as a whole.
    pub fn new(message: impl Into<String>) -> ConfigError {
        ConfigError { field: None, message: message.into() }
    }

    /// A problem with one field, by its path (`channel`, `columns[2]`).
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError { field: Some(field.into()), message: message.into() }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "invalid plugin config: field `{field}`: {}", self.message),
            None => write!(f, "invalid plugin config: {}", self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

impl From<ConfigError> for PluginError {
    fn from(error: ConfigError) -> PluginError {
        PluginError::permanent(error.to_string())
    }
}

/// Parses a configuration into `C` (empty text counts as `{}`), naming the field of the first error.
pub fn parse_config<C: DeserializeOwned>(config_json: &str) -> Result<C, ConfigError> {
    let config_json = if config_json.trim().is_empty() { "{}" } else { config_json };
    let mut deserializer = serde_json::Deserializer::from_str(config_json);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        // serde_json ends its messages with where in the text the problem is; the field path says it better.
        let (inner, mut message) = (e.inner(), e.inner().to_string());
        let position = format!(" at line {} column {}", inner.line(), inner.column());
        if message.ends_with(&position) {
            message.truncate(message.len() - position.len());
        }
        let path = Some(e.path().to_string()).filter(|path| path != ".");
        // A missing field is reported at its parent (an unknown one at itself): name the field.
        let missing = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next());
        let field = match (missing, path) {
            (Some(name), Some(parent)) => Some(format!("{parent}.{name}")),
            (Some(name), None) => Some(name.to_owned()),
            (None, path) => path,
        };
        ConfigError { field, message }
    })
}

/// While Gancho checks a configuration (a `validate` function given to [`crate::plugin!`]): a sample event
/// of each event type the subscription receives, from Gancho's catalog, with every field its type can
/// have, so that the check can try the configuration on them. Empty in any other call, for types the
/// catalog has no sample of, and with a host older than WIT 0.1.3. In native tests, the samples given to
/// [`crate::testing::validate`].
pub fn sample_events() -> Vec<crate::Event> {
    #[cfg(target_arch = "wasm32")]
    {
        crate::bindings::gancho::plugin::check::sample_events()
            .into_iter()
            .map(|event| crate::Event {
                id: event.id,
                event_type: event.event_type,
                tenant: event.tenant,
                timestamp: event.timestamp,
                data_json: event.data,
            })
            .collect()
    }
    #[cfg(not(target_arch = "wasm32"))]
    crate::testing::sample_events()
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

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Strict {
        channel: String,
        #[serde(default)]
        columns: Vec<u32>,
    }

    #[test]
    fn an_unknown_or_missing_field_is_named_itself() {
        let error = parse_config::<Strict>(r#"{"channel": "x", "chanel": "y"}"#).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("chanel"), "{error}");
        assert!(error.message.starts_with("unknown field `chanel`"), "{error}");
        assert!(
            error.message.ends_with("expected `channel` or `columns`"),
            "no position in the text: {error}"
        );
        let error = parse_config::<Strict>("{}").unwrap_err();
        assert_eq!(error.field.as_deref(), Some("channel"), "{error}");
        let error = parse_config::<Config>(r#"{"sheet": {}}"#).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("sheet.columns"), "{error}");
    }

    #[test]
    fn a_wrongly_typed_list_entry_is_named_with_its_index() {
        let error = parse_config::<Strict>(r#"{"channel": "x", "columns": [1, 2, "three"]}"#).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("columns[2]"), "{error}");
    }

    #[test]
    fn empty_config_text_counts_as_an_empty_object() {
        let subscription = Subscription::<serde_json::Value>::parse("s", "https://x.example", " ").unwrap();
        assert_eq!(subscription.config, serde_json::json!({}));
    }
}
