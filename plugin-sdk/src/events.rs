//! Typed events: the envelope Gancho hands a plugin, and a serde struct for every event in the catalog
//! (`docs/EVENTS.md`). Optional fields are `Option`s, unknown fields are kept in `extra`, and values of
//! open-ended enumerations that this SDK does not know yet arrive as `Other(..)` instead of failing.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::PluginError;

/// One event, as the platform posted it. `data` is parsed on demand with [`Event::data`], so a plugin that
/// only looks at the envelope, or wants the raw JSON ([`Event::data_value`]), pays for nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The platform's id, unique per tenant.
    pub id: String,
    /// Dot-separated type, for example `call.ended`.
    pub event_type: String,
    /// The customer the event belongs to.
    pub tenant: String,
    /// RFC 3339 time at which the event happened at the platform.
    pub timestamp: String,
    /// The `data` object as JSON text.
    pub data_json: String,
}

impl Event {
    /// Parses an event envelope (`{"id", "type", "tenant", "timestamp", "data"}`) from JSON text, as the
    /// platform posts it. Used by tests and tools; inside Gancho the host hands the fields over directly.
    pub fn from_json(envelope: &str) -> Result<Event, PluginError> {
        #[derive(Deserialize)]
        struct Envelope {
            id: String,
            #[serde(rename = "type")]
            event_type: String,
            tenant: String,
            timestamp: String,
            data: Box<serde_json::value::RawValue>,
        }
        let envelope: Envelope = serde_json::from_str(envelope)
            .map_err(|e| PluginError::permanent(format!("invalid event envelope: {e}")))?;
        Ok(Event {
            id: envelope.id,
            event_type: envelope.event_type,
            tenant: envelope.tenant,
            timestamp: envelope.timestamp,
            data_json: envelope.data.get().to_owned(),
        })
    }

    /// The event's data, typed by its `type`. Types outside the catalog become [`EventData::Other`].
    /// Data that does not match its type's shape is a permanent error naming the field.
    pub fn data(&self) -> Result<EventData, PluginError> {
        fn parse<T: serde::de::DeserializeOwned>(event: &Event) -> Result<T, PluginError> {
            let mut deserializer = serde_json::Deserializer::from_str(&event.data_json);
            serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
                let path = e.path().to_string();
                let field = if path == "." { "data".to_owned() } else { format!("data.{path}") };
                PluginError::permanent(format!(
                    "event {} ({}) has invalid data: field `{field}`: {}",
                    event.id,
                    event.event_type,
                    e.inner()
                ))
            })
        }
        Ok(match self.event_type.as_str() {
            "chat.closed" => EventData::ChatClosed(parse(self)?),
            "chat.exported" => EventData::ChatExported(parse(self)?),
            "template.quick_reply" => EventData::TemplateQuickReply(parse(self)?),
            "call.started" => EventData::CallStarted(parse(self)?),
            "call.answered" => EventData::CallAnswered(parse(self)?),
            "call.ended" => EventData::CallEnded(parse(self)?),
            "call.recording_ready" => EventData::CallRecordingReady(parse(self)?),
            _ => EventData::Other(parse(self)?),
        })
    }

    /// The event's data as an untyped JSON value (for generic mappings such as templates).
    pub fn data_value(&self) -> Result<Value, PluginError> {
        serde_json::from_str(&self.data_json)
            .map_err(|e| PluginError::permanent(format!("event {} has invalid data JSON: {e}", self.id)))
    }
}

/// An event's data, by type.
#[derive(Debug, Clone, PartialEq)]
pub enum EventData {
    /// `chat.closed`: an agent or the system closed a chat.
    ChatClosed(ChatEvent),
    /// `chat.exported`: an agent pressed "send to CRM" on a chat.
    ChatExported(ChatEvent),
    /// `template.quick_reply`: a contact clicked a quick-reply button in a template message.
    TemplateQuickReply(QuickReplyEvent),
    /// `call.started`: the call began (START).
    CallStarted(CallEvent),
    /// `call.answered`: someone picked up (TALK).
    CallAnswered(CallEvent),
    /// `call.ended`: the call is over (END).
    CallEnded(CallEvent),
    /// `call.recording_ready`: the recording can be fetched.
    CallRecordingReady(CallEvent),
    /// A type outside the catalog, passed through as JSON.
    Other(Value),
}

/// Declares an enumeration whose wire values are snake_case strings and which keeps values it does not know
/// as `Other(String)`: platforms add values before integrations catch up.
macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this version of the SDK does not know, as sent.
            Other(String),
        }

        impl $name {
            /// The value as it appears in the JSON.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)+
                    $name::Other(value) => value,
                }
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $($wire => $name::$variant,)+
                    other => $name::Other(other.to_owned()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Ok($name::from(value.as_ref()))
            }
        }
    };
}

open_enum!(
    /// Who sent a chat message.
    MessageFrom { Contact => "contact", Agent => "agent", Bot => "bot", System => "system" }
);
open_enum!(
    /// What a chat message carries.
    MessageType {
        Text => "text", Image => "image", Audio => "audio", Video => "video", File => "file",
        Location => "location", Sticker => "sticker", Template => "template",
    }
);
open_enum!(
    /// Who closed a chat.
    ClosedBy { Agent => "agent", Contact => "contact", System => "system", Timeout => "timeout" }
);
open_enum!(
    /// Which way a call went.
    CallDirection { Inbound => "inbound", Outbound => "outbound", Internal => "internal" }
);
open_enum!(
    /// How far a call got.
    CallStatus {
        Ringing => "ringing", Answered => "answered", Missed => "missed", Busy => "busy",
        Failed => "failed", Voicemail => "voicemail",
    }
);

/// `data` of `chat.closed` and `chat.exported`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatEvent {
    pub chat: Chat,
    pub contact: Contact,
    /// The agent who pressed "send to CRM" (`chat.exported` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exported_by: Option<Person>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A chat conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chat {
    pub id: String,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub agent: Option<Agent>,
    #[serde(default)]
    pub opened_at: Option<String>,
    #[serde(default)]
    pub closed_at: Option<String>,
    #[serde(default)]
    pub closed_by: Option<ClosedBy>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Link to the conversation in the chat platform's viewer.
    #[serde(default)]
    pub viewer_url: Option<String>,
    #[serde(default)]
    pub messages: Vec<Message>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One message of a chat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub at: Option<String>,
    pub from: MessageFrom,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(rename = "type")]
    pub message_type: MessageType,
    /// The text; absent for media without a caption.
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub media_url: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An agent of the platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Someone identified by id and name (for example the agent who exported a chat).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Person {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The customer's customer: who chatted or clicked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub identification: Option<String>,
    #[serde(default)]
    pub custom_fields: Map<String, Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `data` of `template.quick_reply`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuickReplyEvent {
    pub contact: Contact,
    pub template: Template,
    pub button: Button,
    #[serde(default)]
    pub message_id: Option<String>,
    #[serde(default)]
    pub clicked_at: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A message template, with its body and the parameters it was sent with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    pub name: String,
    #[serde(default)]
    pub language: Option<String>,
    /// The body with `{{1}}`-style placeholders.
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub parameters: Vec<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Template {
    /// The body with its `{{n}}` placeholders replaced by the parameters it was sent with, in one pass (a
    /// parameter that itself contains `{{1}}` is not substituted again). Unknown placeholders stay as they are.
    pub fn rendered_body(&self) -> Option<String> {
        let body = self.body.as_deref()?;
        let mut rendered = String::with_capacity(body.len());
        let mut rest = body;
        while let Some(start) = rest.find("{{") {
            rendered.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let parameter = after.find("}}").and_then(|end| {
                let index: usize = after[..end].trim().parse().ok()?;
                Some((self.parameters.get(index.checked_sub(1)?)?, end))
            });
            match parameter {
                Some((value, end)) => {
                    rendered.push_str(value);
                    rest = &after[end + 2..];
                }
                None => {
                    rendered.push_str("{{");
                    rest = after;
                }
            }
        }
        rendered.push_str(rest);
        Some(rendered)
    }
}

/// The quick-reply button that was clicked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Button {
    pub text: String,
    #[serde(default)]
    pub payload: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `data` of every `call.*` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallEvent {
    pub call: Call,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A phone call, filled in as far as it has got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    pub id: String,
    #[serde(default)]
    pub direction: Option<CallDirection>,
    /// Caller number: E.164 where known, otherwise whatever the carrier gave (an extension, `anonymous`).
    #[serde(default)]
    pub from: Option<String>,
    /// Called number.
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub caller_name: Option<String>,
    #[serde(default)]
    pub extension: Option<String>,
    #[serde(default)]
    pub agent: Option<Agent>,
    #[serde(default)]
    pub queue: Option<String>,
    #[serde(default)]
    pub started_at: Option<String>,
    /// `None` for a call nobody answered.
    #[serde(default)]
    pub answered_at: Option<String>,
    #[serde(default)]
    pub ended_at: Option<String>,
    #[serde(default)]
    pub duration_s: Option<u64>,
    #[serde(default)]
    pub billable_s: Option<u64>,
    #[serde(default)]
    pub cost: Option<Money>,
    #[serde(default)]
    pub status: Option<CallStatus>,
    #[serde(default)]
    pub hangup_by: Option<String>,
    #[serde(default)]
    pub recording_url: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Call {
    /// True for a call that ended without being answered (status `missed`, or no `answered_at`).
    pub fn is_missed(&self) -> bool {
        match &self.status {
            Some(CallStatus::Missed) => true,
            Some(CallStatus::Answered) => false,
            _ => self.answered_at.is_none(),
        }
    }
}

/// An amount of money: a decimal string and its currency, never a float.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub amount: String,
    pub currency: String,
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event_type: &str, data: &str) -> Event {
        Event {
            id: "evt_1".into(),
            event_type: event_type.into(),
            tenant: "acme".into(),
            timestamp: "2026-11-21T14:03:07Z".into(),
            data_json: data.into(),
        }
    }

    #[test]
    fn call_event_keeps_unknown_fields_and_values() {
        let event = event(
            "call.ended",
            r#"{"call": {"id": "cl_1", "status": "transferred", "answered_at": null, "sip_code": 486}, "trunk": "t1"}"#,
        );
        let EventData::CallEnded(data) = event.data().unwrap() else {
            panic!("expected call.ended");
        };
        assert_eq!(data.call.status, Some(CallStatus::Other("transferred".into())));
        assert_eq!(data.call.extra["sip_code"], 486);
        assert_eq!(data.extra["trunk"], "t1");
        assert!(data.call.is_missed());
        let round_trip = serde_json::to_value(&data).unwrap();
        assert_eq!(round_trip["call"]["status"], "transferred");
    }

    #[test]
    fn invalid_data_names_the_field() {
        let error = event("chat.closed", r#"{"chat": {"id": "ch_1"}}"#).data().unwrap_err();
        assert!(error.message.contains("missing field `contact`"), "{}", error.message);
        let error =
            event("call.ended", r#"{"call": {"id": "cl_1", "duration_s": "long"}}"#).data().unwrap_err();
        assert!(error.message.contains("field `data.call.duration_s`"), "{}", error.message);
        assert!(error.message.contains("evt_1"), "{}", error.message);
    }

    #[test]
    fn unknown_event_types_pass_through() {
        let data = event("invoice.paid", r#"{"total": "10.00"}"#).data().unwrap();
        assert_eq!(data, EventData::Other(serde_json::json!({"total": "10.00"})));
    }

    #[test]
    fn template_body_is_rendered_with_parameters() {
        let template = Template {
            name: "t".into(),
            language: None,
            body: Some("Hola {{1}}, ¿confirmas tu cita del {{2}}?".into()),
            parameters: vec!["Juan".into(), "25/11 10:00".into()],
            extra: Map::new(),
        };
        assert_eq!(template.rendered_body().unwrap(), "Hola Juan, ¿confirmas tu cita del 25/11 10:00?");
        let sneaky = Template { parameters: vec!["{{2}}".into(), "x".into()], ..template };
        assert_eq!(sneaky.rendered_body().unwrap(), "Hola {{2}}, ¿confirmas tu cita del x?");
    }
}
