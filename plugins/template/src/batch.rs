//! Batching, when the configuration asks for it (`"batch"`): requests that wait for the receiver (its
//! budget spent, or a pause it asked for) and share a method and URL become one request whose body is a
//! JSON array of their bodies (`json_array`) or their bodies one per line (`ndjson`, newline-delimited
//! JSON). Off by default: the receiver must expect batches.

use gancho_sdk::{BatchLimits, ConfigError, Merged, Method, PluginError, Request, Subscription, merge_by};
use serde::{Deserialize, Deserializer};

use crate::{Config, Format};

/// How a batch's body is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batch {
    /// `[body, body, …]`, `content-type: application/json`.
    JsonArray,
    /// `body\nbody\n…`, each body on one line, `content-type: application/x-ndjson`.
    Ndjson,
}

impl<'de> Deserialize<'de> for Batch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match String::deserialize(deserializer)?.as_str() {
            "json_array" => Ok(Batch::JsonArray),
            "ndjson" => Ok(Batch::Ndjson),
            other => Err(serde::de::Error::custom(format!(
                "config field \"batch\" is {other:?}; set it to \"json_array\" or \"ndjson\", or leave it out \
                 to send one request per event"
            ))),
        }
    }
}

/// The default of `batch_max`.
pub fn default_batch_max() -> usize {
    100
}

/// Most bytes of bodies in one batch.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// What serde cannot check: a batch is of JSON bodies, and holds 1 to 1000 of them.
pub fn validate(config: &Config) -> Result<(), ConfigError> {
    if config.batch.is_some() && config.format != Format::Json {
        return Err(ConfigError::field(
            "batch",
            "batches are of JSON bodies (an array, or one per line); set \"format\" to \"json\", or leave \
             \"batch\" out",
        ));
    }
    if !(1..=1000).contains(&config.batch_max) {
        return Err(ConfigError::field("batch_max", "set it to a number of events from 1 to 1000"));
    }
    Ok(())
}

/// Requests with the same method and URL become one batch, as `batch` says; without `batch`, none.
pub fn merge(requests: Vec<Request>, subscription: Subscription<Config>) -> Result<Vec<Merged>, PluginError> {
    let config = subscription.config;
    let Some(batch) = config.batch else {
        return Ok(requests
            .into_iter()
            .enumerate()
            .map(|(index, request)| Merged::alone(index, request))
            .collect());
    };
    let limits = BatchLimits { max_requests: config.batch_max, max_body_bytes: MAX_BODY_BYTES };
    let key = |request: &Request| match request.method {
        Method::Get | Method::Head => None,
        method => Some((method, request.url.clone())),
    };
    merge_by(requests, limits, key, |_, requests| {
        let bodies = requests.iter().map(|request| request.body.as_slice());
        let (body, content_type) = match batch {
            Batch::JsonArray => (json_array(bodies), "application/json"),
            Batch::Ndjson => (ndjson(bodies), "application/x-ndjson"),
        };
        let content_type = config.content_type.as_deref().unwrap_or(content_type);
        Ok(Request { body, ..requests[0].clone() }.header("content-type", content_type))
    })
}

fn json_array<'a>(bodies: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut array = b"[".to_vec();
    for (index, body) in bodies.enumerate() {
        if index > 0 {
            array.push(b',');
        }
        array.extend_from_slice(body);
    }
    array.push(b']');
    array
}

/// A rendered JSON body can span lines only between its tokens (JSON strings escape line breaks), so
/// each becomes one line by turning its line breaks into spaces.
fn ndjson<'a>(bodies: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut lines = Vec::new();
    for body in bodies {
        lines.extend(body.iter().map(|&byte| if byte == b'\n' || byte == b'\r' { b' ' } else { byte }));
        lines.push(b'\n');
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use gancho_sdk::testing::{self, samples};
    use serde_json::{Value, json};

    fn config(extra: Value) -> String {
        let mut config =
            json!({"template": "{\n  \"id\": \"{{event.id}}\",\n  \"type\": \"{{event.type}}\"\n}"});
        config.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        config.to_string()
    }

    fn requests(config: &str) -> Vec<Request> {
        [samples::CALL_ENDED, samples::CHAT_CLOSED, samples::CALL_ENDED_MISSED]
            .iter()
            .flat_map(|event| testing::run(crate::transform, event, config).unwrap())
            .collect()
    }

    #[test]
    fn without_batch_nothing_is_merged() {
        let config = config(json!({}));
        let merged = testing::merge(merge, requests(&config), &config).unwrap();
        assert_eq!(merged.len(), 3);
    }

    #[test]
    fn a_json_array_batch_is_the_bodies_in_order() {
        let config = config(json!({"batch": "json_array"}));
        let merged = testing::merge(merge, requests(&config), &config).unwrap();
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].carries, [0, 1, 2]);
        assert_eq!(merged[0].request.header_value("content-type"), Some("application/json"));
        assert_eq!(
            merged[0].request.body_json().unwrap(),
            json!([
                {"id": "evt_call_ended", "type": "call.ended"},
                {"id": "evt_chat_closed_1", "type": "chat.closed"},
                {"id": "evt_call_ended_missed", "type": "call.ended"},
            ])
        );
    }

    #[test]
    fn an_ndjson_batch_is_one_body_per_line() {
        let config = config(json!({"batch": "ndjson", "batch_max": 2}));
        let merged = testing::merge(merge, requests(&config), &config).unwrap();
        let carries: Vec<&[usize]> = merged.iter().map(|m| m.carries.as_slice()).collect();
        assert_eq!(carries, [&[0, 1][..], &[2]]);
        assert_eq!(merged[0].request.header_value("content-type"), Some("application/x-ndjson"));
        let text = merged[0].request.body_text();
        let lines: Vec<Value> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
        assert_eq!(
            lines,
            [
                json!({"id": "evt_call_ended", "type": "call.ended"}),
                json!({"id": "evt_chat_closed_1", "type": "chat.closed"})
            ]
        );
        assert!(text.ends_with("}\n"));
    }

    #[test]
    fn only_requests_with_the_same_method_and_url_are_batched() {
        let config = config(json!({"batch": "json_array", "url": "https://crm.example/{{event.type}}"}));
        let merged = testing::merge(merge, requests(&config), &config).unwrap();
        let carries: Vec<&[usize]> = merged.iter().map(|m| m.carries.as_slice()).collect();
        assert_eq!(carries, [&[0, 2][..], &[1]]);
    }

    #[test]
    fn a_bad_batch_setting_is_refused_naming_the_field() {
        let refused = |config: Value| {
            let parsed = gancho_sdk::subscription::parse_config::<Config>(&config.to_string());
            let error = parsed.and_then(|config| validate(&config)).unwrap_err();
            (error.field.unwrap_or_default(), error.message)
        };
        let (field, message) = refused(json!({"template": "{}", "batch": "csv"}));
        assert_eq!(field, "batch");
        assert!(message.contains("set it to \"json_array\" or \"ndjson\""), "{message}");
        let (field, message) = refused(json!({"template": "a", "format": "text", "batch": "ndjson"}));
        assert_eq!(field, "batch");
        assert!(message.contains("set \"format\" to \"json\""), "{message}");
        assert_eq!(refused(json!({"template": "{}", "batch_max": 0})).0, "batch_max");
    }
}
