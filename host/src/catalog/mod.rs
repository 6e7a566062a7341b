//! The event catalog: the event types the platforms send, which platform sends each, and the fields of
//! their `data` (path, JSON type, the values an enumerated field takes), read from the sample events.
//! Subscriptions are checked against it (an unknown type, a filter on a field the chosen events do not
//! have), and the portal builds its menus from it.

pub mod samples;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

pub use samples::EVENT_TYPES;

/// One event type of the catalog.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventType {
    #[serde(rename = "type")]
    pub id: &'static str,
    /// The platform that sends it: `phone` or `chat`.
    pub platform: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    /// The fields of its `data`, by path (`call.status`), in the order of the sample.
    pub fields: Vec<Field>,
    /// A sample event (the envelope without `tenant`).
    #[schema(value_type = Object)]
    pub sample: Value,
}

/// A field of an event's `data`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Field {
    /// Dot-separated path into `data` (`call.cost.amount`).
    pub path: String,
    /// `string`, `number`, `boolean`, `object` or `array`.
    #[serde(rename = "type")]
    pub kind: FieldKind,
    /// The values an enumerated field takes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<&'static [&'static str]>,
    /// The sample's value, when it is not an object.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub example: Option<Value>,
}

/// The JSON type of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    String,
    Number,
    Boolean,
    Object,
    Array,
}

impl FieldKind {
    pub fn of(value: &Value) -> Option<FieldKind> {
        match value {
            Value::Null => None,
            Value::Bool(_) => Some(FieldKind::Boolean),
            Value::Number(_) => Some(FieldKind::Number),
            Value::String(_) => Some(FieldKind::String),
            Value::Array(_) => Some(FieldKind::Array),
            Value::Object(_) => Some(FieldKind::Object),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FieldKind::String => "string",
            FieldKind::Number => "number",
            FieldKind::Boolean => "boolean",
            FieldKind::Object => "object",
            FieldKind::Array => "array",
        }
    }
}

/// The platforms a tenant may be set to, and the event types each sends.
pub const PLATFORMS: &[&str] = &["phone", "chat"];

/// (type, platform, name, description).
const TYPES: &[(&str, &str, &str, &str)] = &[
    ("call.started", "phone", "Call started (START)", "A call began ringing: number, caller, queue."),
    ("call.answered", "phone", "Call answered (TALK)", "Someone picked up: adds the agent and when."),
    (
        "call.ended",
        "phone",
        "Call ended (END)",
        "The call ended, answered or missed: duration, cost, status, recording.",
    ),
    ("call.recording_ready", "phone", "Recording ready", "The call's recording can be fetched."),
    (
        "chat.closed",
        "chat",
        "Chat closed",
        "An agent or the system closed a chat: messages, contact, viewer link.",
    ),
    (
        "chat.exported",
        "chat",
        "Chat sent manually",
        "An agent pressed \"send to CRM\" on a chat: as chat closed, plus who sent it.",
    ),
    (
        "template.quick_reply",
        "chat",
        "Quick-reply button clicked",
        "A contact clicked a quick-reply button in a template message.",
    ),
];

/// The values of the enumerated fields, by path (from the catalog's documentation).
const ENUMS: &[(&str, &[&str])] = &[
    ("call.direction", &["inbound", "outbound", "internal"]),
    ("call.status", &["ringing", "answered", "missed", "busy", "failed", "voicemail"]),
    ("chat.closed_by", &["agent", "contact", "system", "timeout"]),
];

/// The whole catalog, in order.
pub fn all() -> Vec<EventType> {
    let samples = samples::all();
    TYPES
        .iter()
        .map(|&(id, platform, name, description)| {
            let of_type: Vec<&Value> = samples.iter().filter(|(t, _)| t == id).map(|(_, e)| e).collect();
            EventType {
                id,
                platform,
                name,
                description,
                fields: fields_of(of_type.iter().map(|event| &event["data"])),
                sample: of_type.first().map(|event| (*event).clone()).unwrap_or_default(),
            }
        })
        .collect()
}

/// The catalog's types of the given platforms (all of them when `platforms` is empty).
pub fn for_platforms(platforms: &[String]) -> Vec<EventType> {
    all().into_iter().filter(|t| platforms.is_empty() || platforms.iter().any(|p| p == t.platform)).collect()
}

/// Whether `event_type` is one of the catalog's types.
pub fn is_known(event_type: &str) -> bool {
    TYPES.iter().any(|(id, ..)| *id == event_type)
}

/// The fields of the data of several samples of one type: every path any of them has, typed by the first
/// sample where it is not `null`.
fn fields_of<'a>(datas: impl Iterator<Item = &'a Value>) -> Vec<Field> {
    let mut fields: Vec<Field> = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for data in datas {
        walk(data, "", &mut |path, value| match seen.get(path) {
            Some(&index) if fields[index].example.is_none() && !value.is_null() && !value.is_object() => {
                fields[index].kind = FieldKind::of(value).unwrap_or(fields[index].kind);
                fields[index].example = Some(value.clone());
            }
            Some(_) => {}
            None => {
                seen.insert(path.to_owned(), fields.len());
                fields.push(Field {
                    path: path.to_owned(),
                    // A field only ever `null` in the samples is taken to be text.
                    kind: FieldKind::of(value).unwrap_or(FieldKind::String),
                    values: ENUMS.iter().find(|(p, _)| *p == path).map(|(_, values)| *values),
                    example: (!value.is_null() && !value.is_object()).then(|| value.clone()),
                });
            }
        });
    }
    fields
}

/// Calls `visit` with every path in `value` (objects are walked into; arrays are leaves).
fn walk(value: &Value, prefix: &str, visit: &mut dyn FnMut(&str, &Value)) {
    let Value::Object(map) = value else { return };
    for (key, child) in map {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        visit(&path, child);
        walk(child, &path, visit);
    }
}

/// The fields an event of any of `event_types` (patterns: `call.ended`, `call.*`, `*`) may have, by path.
pub fn fields_for(event_types: &[String]) -> BTreeMap<String, Field> {
    let mut fields = BTreeMap::new();
    for event_type in all() {
        if event_types.iter().any(|pattern| crate::pipeline::event_type_matches(pattern, event_type.id)) {
            for field in event_type.fields {
                fields.entry(field.path.clone()).or_insert(field);
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_its_sample_and_fields() {
        for event_type in all() {
            assert_eq!(event_type.sample["type"], event_type.id);
            assert!(!event_type.fields.is_empty(), "{}", event_type.id);
        }
        assert_eq!(all().len(), EVENT_TYPES.len());
    }

    #[test]
    fn call_fields_are_typed_and_enumerated() {
        let fields = fields_for(&["call.ended".to_owned()]);
        assert_eq!(fields["call.status"].kind, FieldKind::String);
        assert!(fields["call.status"].values.unwrap().contains(&"missed"));
        assert_eq!(fields["call.duration_s"].kind, FieldKind::Number);
        assert_eq!(fields["call.cost"].kind, FieldKind::Object);
        assert_eq!(fields["call.cost.amount"].kind, FieldKind::String);
        // `null` in the missed-call sample, text in the answered one.
        assert_eq!(fields["call.recording_url"].kind, FieldKind::String);
        assert!(!fields.contains_key("chat.id"));
        assert!(fields_for(&["*".to_owned()]).contains_key("chat.id"));
    }

    #[test]
    fn platforms_choose_their_types() {
        let phone: Vec<&str> = for_platforms(&["phone".to_owned()]).iter().map(|t| t.id).collect();
        assert_eq!(phone, ["call.started", "call.answered", "call.ended", "call.recording_ready"]);
        assert_eq!(for_platforms(&[]).len(), all().len());
    }
}
