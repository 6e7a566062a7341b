//! The ordering key: a path into an event whose value names its lane. `event.tenant`, `event.type` and
//! `event.id` read the envelope; any other path reads the event's `data` (`call.id` is
//! `data.call.id`), as the template plugin's variables do.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::store::ClaimedEvent;

/// The longest path accepted, in bytes.
const MAX_PATH_LEN: usize = 200;
/// Key values longer than this are stored as their SHA-256 (`sha256:<hex>`), so a lane's name stays small.
const MAX_VALUE_LEN: usize = 200;

/// A checked ordering key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderingKey {
    segments: Vec<String>,
}

impl OrderingKey {
    /// Checks a path: dot-separated segments of letters, digits, `_` or `-`, at most 200 bytes. The error
    /// says what is wrong, for the API's 422.
    pub fn parse(path: &str) -> Result<OrderingKey, String> {
        if path.is_empty() || path.len() > MAX_PATH_LEN {
            return Err(format!(
                "must be a path into the event of 1 to {MAX_PATH_LEN} bytes, like `call.id` or `event.tenant`"
            ));
        }
        let segments: Vec<String> = path.split('.').map(str::to_owned).collect();
        let valid = |segment: &String| {
            !segment.is_empty()
                && segment.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        if let Some(bad) = segments.iter().find(|segment| !valid(segment)) {
            let what =
                if bad.is_empty() { "an empty segment".to_owned() } else { format!("the segment `{bad}`") };
            return Err(format!(
                "`{path}` has {what}: use dot-separated names of letters, digits, `_` or `-`, like `call.id` or \
                 `contact.id`"
            ));
        }
        let envelope_key = segments.len() == 2 && matches!(segments[1].as_str(), "tenant" | "type" | "id");
        if segments[0] == "event" && !envelope_key {
            return Err(format!(
                "`{path}`: the envelope's keys are `event.tenant`, `event.type` and `event.id`; a path into the \
                 event's data starts with its first field (`call.id`)"
            ));
        }
        Ok(OrderingKey { segments })
    }

    /// The key's value for `event`, as text: a string as it is, a number or boolean as JSON; `None` when the
    /// event has no value there (or `null`, an object, an array): such an event is delivered unordered.
    pub fn value_in(&self, event: &ClaimedEvent) -> Option<String> {
        let text = if self.segments[0] == "event" {
            match self.segments[1].as_str() {
                "tenant" => event.tenant_id.clone(),
                "type" => event.event_type.clone(),
                _ => event.id.clone(),
            }
        } else {
            let data: Value = serde_json::from_str(&event.data_json).ok()?;
            let value = self.segments.iter().try_fold(&data, |value, segment| value.get(segment))?;
            match value {
                Value::String(text) => text.clone(),
                Value::Number(number) => number.to_string(),
                Value::Bool(flag) => flag.to_string(),
                Value::Null | Value::Array(_) | Value::Object(_) => return None,
            }
        };
        if text.len() > MAX_VALUE_LEN {
            return Some(format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes()))));
        }
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(data: &str) -> ClaimedEvent {
        ClaimedEvent {
            tenant_id: "acme".into(),
            id: "evt_1".into(),
            event_type: "call.ended".into(),
            timestamp: "2026-11-21T14:03:07Z".into(),
            data_json: data.into(),
            received_at: 0,
            origin: None,
            seq: 1,
        }
    }

    #[test]
    fn a_path_reads_the_events_data() {
        let key = OrderingKey::parse("call.id").unwrap();
        assert_eq!(key.value_in(&event(r#"{"call": {"id": "cl_9f3a"}}"#)).as_deref(), Some("cl_9f3a"));
        let number = OrderingKey::parse("contact.n").unwrap();
        assert_eq!(number.value_in(&event(r#"{"contact": {"n": 42}}"#)).as_deref(), Some("42"));
    }

    #[test]
    fn the_envelope_is_read_through_event() {
        let e = event("{}");
        assert_eq!(OrderingKey::parse("event.tenant").unwrap().value_in(&e).as_deref(), Some("acme"));
        assert_eq!(OrderingKey::parse("event.type").unwrap().value_in(&e).as_deref(), Some("call.ended"));
    }

    #[test]
    fn a_missing_or_structured_value_is_no_key() {
        let key = OrderingKey::parse("call.id").unwrap();
        for data in [r#"{}"#, r#"{"call": null}"#, r#"{"call": {"id": null}}"#, r#"{"call": {"id": {}}}"#] {
            assert_eq!(key.value_in(&event(data)), None, "{data}");
        }
    }

    #[test]
    fn long_values_are_hashed() {
        let long = "x".repeat(500);
        let value =
            OrderingKey::parse("k").unwrap().value_in(&event(&format!(r#"{{"k": "{long}"}}"#))).unwrap();
        assert!(value.starts_with("sha256:") && value.len() == 71, "{value}");
    }

    #[test]
    fn bad_paths_are_refused_with_what_to_write() {
        for bad in ["", "call..id", "call.id ", "event.data", "event", "event.tenant.x", "a/b"] {
            let error = OrderingKey::parse(bad).unwrap_err();
            assert!(error.contains("call.id") || error.contains("event.tenant"), "{bad}: {error}");
        }
        assert!(OrderingKey::parse(&"a".repeat(201)).is_err());
    }
}
