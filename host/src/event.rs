//! The event envelope the platform posts (`id`, `type`, `tenant`, `timestamp`, `data`), parsed and checked
//! field by field, so that bad input is refused with the name of the field that is wrong.

use serde::Deserialize;
use serde_json::value::RawValue;
use thiserror::Error;

/// A checked event envelope. `data` is kept as the JSON text it arrived as.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub event_type: String,
    pub tenant: String,
    /// RFC 3339, as sent.
    pub timestamp: String,
    /// The `data` object, as JSON text.
    pub data: Box<RawValue>,
}

/// Why an envelope was refused; the message names the field.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("the body is not valid JSON: {0}")]
    Json(String),
    #[error("field `{0}` is missing")]
    Missing(&'static str),
    #[error("field `{field}` {problem}")]
    Invalid { field: &'static str, problem: String },
}

impl EnvelopeError {
    /// The envelope field at fault, if one is.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            EnvelopeError::Json(_) => None,
            EnvelopeError::Missing(field) | EnvelopeError::Invalid { field, .. } => Some(field),
        }
    }
}

/// Longest `id` and `tenant` accepted.
const MAX_ID_LEN: usize = 256;

impl Event {
    /// Parses and checks an envelope.
    pub fn parse(body: &[u8]) -> Result<Event, EnvelopeError> {
        #[derive(Deserialize)]
        struct Envelope<'a> {
            #[serde(borrow)]
            id: Option<&'a RawValue>,
            #[serde(rename = "type", borrow)]
            event_type: Option<&'a RawValue>,
            #[serde(borrow)]
            tenant: Option<&'a RawValue>,
            #[serde(borrow)]
            timestamp: Option<&'a RawValue>,
            data: Option<Box<RawValue>>,
        }
        let envelope: Envelope<'_> = serde_json::from_slice(body).map_err(|e| {
            if e.is_data() {
                EnvelopeError::Json(format!("expected a JSON object with the event envelope ({e})"))
            } else {
                EnvelopeError::Json(e.to_string())
            }
        })?;
        let id = string_field("id", envelope.id)?;
        check_identifier("id", &id)?;
        let event_type = string_field("type", envelope.event_type)?;
        check_event_type(&event_type)?;
        let tenant = string_field("tenant", envelope.tenant)?;
        check_identifier("tenant", &tenant)?;
        let timestamp = string_field("timestamp", envelope.timestamp)?;
        if time::OffsetDateTime::parse(&timestamp, &time::format_description::well_known::Rfc3339).is_err() {
            return Err(EnvelopeError::Invalid {
                field: "timestamp",
                problem: format!("must be an RFC 3339 time such as 2026-11-21T14:03:07Z, got `{timestamp}`"),
            });
        }
        let data = envelope.data.ok_or(EnvelopeError::Missing("data"))?;
        if !data.get().starts_with('{') {
            return Err(EnvelopeError::Invalid { field: "data", problem: "must be a JSON object".into() });
        }
        Ok(Event { id, event_type, tenant, timestamp, data })
    }

    /// The event as the plugin runtime takes it.
    pub fn as_input(&self) -> crate::runtime::EventInput<'_> {
        crate::runtime::EventInput {
            id: &self.id,
            event_type: &self.event_type,
            tenant: &self.tenant,
            timestamp: &self.timestamp,
            data_json: self.data.get(),
        }
    }
}

fn string_field(field: &'static str, raw: Option<&RawValue>) -> Result<String, EnvelopeError> {
    let raw = raw.filter(|raw| raw.get() != "null").ok_or(EnvelopeError::Missing(field))?;
    serde_json::from_str::<String>(raw.get()).map_err(|_| EnvelopeError::Invalid {
        field,
        problem: format!("must be a string, got {}", raw.get()),
    })
}

fn check_identifier(field: &'static str, value: &str) -> Result<(), EnvelopeError> {
    if value.is_empty() || value.len() > MAX_ID_LEN || value.chars().any(char::is_control) {
        return Err(EnvelopeError::Invalid {
            field,
            problem: format!("must be 1 to {MAX_ID_LEN} bytes without control characters"),
        });
    }
    Ok(())
}

/// `type` is dot-separated segments of `[a-z0-9_]`, as in `call.ended`.
fn check_event_type(event_type: &str) -> Result<(), EnvelopeError> {
    let valid_segment = |segment: &str| {
        !segment.is_empty()
            && segment.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    if event_type.len() > 128 || !event_type.split('.').all(valid_segment) {
        return Err(EnvelopeError::Invalid {
            field: "type",
            problem: format!(
                "must be dot-separated segments of lowercase letters, digits and `_` (like `call.ended`), got `{event_type}`"
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"id": "evt_1", "type": "call.ended", "tenant": "acme",
        "timestamp": "2026-11-21T14:03:07Z", "data": {"call": {"id": "cl_1"}}, "extra": 1}"#;

    #[test]
    fn a_good_envelope_keeps_data_as_sent() {
        let event = Event::parse(GOOD.as_bytes()).unwrap();
        assert_eq!(event.event_type, "call.ended");
        assert_eq!(event.data.get(), r#"{"call": {"id": "cl_1"}}"#);
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            (GOOD.replace(r#""id": "evt_1", "#, ""), Some("id")),
            (GOOD.replace(r#""call.ended""#, r#""Call Ended""#), Some("type")),
            (GOOD.replace(r#""acme""#, "42"), Some("tenant")),
            (GOOD.replace("2026-11-21T14:03:07Z", "21/11/2026"), Some("timestamp")),
            (GOOD.replace(r#"{"call": {"id": "cl_1"}}"#, "[1]"), Some("data")),
            (GOOD.replace(r#""tenant": "acme""#, r#""tenant": null"#), Some("tenant")),
            ("{not json".to_owned(), None),
            ("[1, 2]".to_owned(), None),
        ];
        for (body, field) in cases {
            let error = Event::parse(body.as_bytes()).unwrap_err();
            assert_eq!(error.field(), field, "{body}: {error}");
        }
    }
}
