//! # HubSpot
//!
//! Logs calls and chats in HubSpot's CRM (v3 API) and keeps the contacts they belong to up to date.
//!
//! | event | requests |
//! |---|---|
//! | `call.ended` | contact upsert by phone (if `phone_id_property` is set), then a call engagement |
//! | `call.recording_ready` | the same, instead of `call.ended`, for answered calls when `wait_for_recording` is on |
//! | `chat.closed`, `chat.exported` | contact upsert (by email, else phone), then a note or a communication with the transcript |
//! | `template.quick_reply` | contact upsert that sets `quick_reply_property` to the button's payload |
//! | anything else (`call.started`, `call.answered`, unknown types) | nothing |
//!
//! A plugin cannot read responses, so every request stands alone: contacts are upserted by a unique property
//! (email, or a phone property with unique values), and engagements are associated with a contact only when
//! the event carries the contact's HubSpot record id (`contact_id_field`). See the README for why.
//!
//! Authentication is not configured here: set `Authorization: Bearer <private app token>` as a header of the
//! subscription, and Gancho adds it to every request.
//!
//! ## Config
//! Every field is optional (`{}` works): see [`Config`] and `config.example.json`.
//!
//! ## Layout
//! - this file: configuration, dispatch by event type, contact upserts and engagement creation.
//! - `calls`: `call.*` → call engagements.
//! - `chats`: `chat.*` → notes or communications, with an HTML transcript that fits HubSpot's limit.
//! - [`merge`]: requests waiting for HubSpot's rate limit → batch upserts and batch creates.

mod calls;
mod chats;
pub mod merge;

use std::collections::BTreeMap;

use gancho_sdk::{Contact, Event, EventData, PluginError, QuickReplyEvent, Request, Subscription};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value, json};

/// The configuration a customer sets on the subscription.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where HubSpot's API lives. Change it only to point at a mock server in tests or a proxy.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The contact property that finds a contact by phone number when it has no email, for example
    /// `gancho_phone`. HubSpot upserts only by a property with unique values, and its built-in `phone` cannot
    /// be made unique: create a single-line text contact property with "Require unique values" and name it
    /// here. Gancho writes the number to it (digits and a leading `+` only) along with `phone`. Unset,
    /// contacts without an email (and every caller) are not upserted.
    #[serde(default)]
    pub phone_id_property: Option<String>,
    /// Extra contact properties, from the chat contact's `custom_fields`: key there → HubSpot property's
    /// internal name, for example `{"ciudad": "city"}`.
    #[serde(default)]
    pub contact_properties: BTreeMap<String, String>,
    /// Where an event carries the contact's HubSpot record id, so that engagements are associated with the
    /// contact: a key of `contact.custom_fields` (chats), or a field of the `call` object (calls, if the
    /// phone system sends one). Without an id, engagements are created unassociated.
    #[serde(default)]
    pub contact_id_field: Option<String>,
    /// How a chat is logged: `note` (any channel), or `communication` (HubSpot's WhatsApp / SMS / LinkedIn
    /// message log; chats on other channels still become notes).
    #[serde(default)]
    pub chat_as: ChatAs,
    /// Log answered calls on `call.recording_ready` instead of `call.ended`, so the engagement carries the
    /// recording. Turn on only if the phone system sends `call.recording_ready` for every answered call;
    /// calls nobody answered are still logged on `call.ended`.
    #[serde(default)]
    pub wait_for_recording: bool,
    /// The contact property that a `template.quick_reply` sets to the clicked button's payload (or its text
    /// when it has none), for example `appointment_confirmation`. Unset, quick replies are ignored.
    #[serde(default)]
    pub quick_reply_property: Option<String>,
}

fn default_base_url() -> String {
    "https://api.hubapi.com".to_owned()
}

/// How a chat is logged in HubSpot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChatAs {
    /// A note (`/crm/v3/objects/notes`).
    #[default]
    Note,
    /// A communication (`/crm/v3/objects/communications`).
    Communication,
}

impl<'de> Deserialize<'de> for ChatAs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match String::deserialize(deserializer)?.as_str() {
            "note" => Ok(ChatAs::Note),
            "communication" => Ok(ChatAs::Communication),
            other => Err(serde::de::Error::custom(format!(
                "config field \"chat_as\" is {other:?}; set it to \"note\" or \"communication\""
            ))),
        }
    }
}

impl Config {
    /// Checks what serde cannot: the base URL and the property names.
    fn validate(&self) -> Result<(), PluginError> {
        if !(self.base_url.starts_with("https://") || self.base_url.starts_with("http://")) {
            return Err(PluginError::permanent(format!(
                "config field \"base_url\" is {:?}; set it to an http(s) URL such as https://api.hubapi.com",
                self.base_url
            )));
        }
        let mut names: Vec<(String, &str)> = Vec::new();
        if let Some(name) = &self.phone_id_property {
            names.push(("phone_id_property".into(), name));
        }
        if let Some(name) = &self.quick_reply_property {
            names.push(("quick_reply_property".into(), name));
        }
        for (key, name) in &self.contact_properties {
            names.push((format!("contact_properties.{key}"), name));
        }
        for (field, name) in names {
            let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
                && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !valid {
                return Err(PluginError::permanent(format!(
                    "config field \"{field}\" is {name:?}, which is not a HubSpot property's internal name; use \
                     the lowercase internal name (Settings → Properties → the property → \"Internal name\")"
                )));
            }
        }
        Ok(())
    }
}

/// Maps one event to HubSpot API requests. Public so that benchmarks can call it natively.
pub fn transform(event: Event, subscription: Subscription<Config>) -> Result<Vec<Request>, PluginError> {
    let config = &subscription.config;
    config.validate()?;
    let api = Api { config };
    match event.data()? {
        EventData::CallEnded(data) => calls::requests(&api, &event, &data.call, false),
        EventData::CallRecordingReady(data) => calls::requests(&api, &event, &data.call, true),
        EventData::ChatClosed(data) => chats::requests(&api, &event, &data, false),
        EventData::ChatExported(data) => chats::requests(&api, &event, &data, true),
        EventData::TemplateQuickReply(data) => quick_reply(&api, &data),
        // A HubSpot call is logged once, when it is over; a ringing or ongoing call has nothing to log yet.
        EventData::CallStarted(_) | EventData::CallAnswered(_) => Ok(vec![]),
        _ => Ok(vec![]),
    }
}

gancho_sdk::plugin!(transform, merge = merge::merge);

/// `template.quick_reply`: writes the button's payload to the contact property the customer chose.
fn quick_reply(api: &Api, data: &QuickReplyEvent) -> Result<Vec<Request>, PluginError> {
    let Some(property) = &api.config.quick_reply_property else {
        return Ok(vec![]);
    };
    let answer = data.button.payload.as_deref().unwrap_or(&data.button.text);
    let extra = [(property.as_str(), answer)];
    Ok(api.upsert_contact(&data.contact, &extra)?.into_iter().collect())
}

/// Builds requests against the HubSpot API for one subscription's configuration.
pub(crate) struct Api<'c> {
    pub(crate) config: &'c Config,
}

/// HubSpot's association type ids (category `HUBSPOT_DEFINED`) from an engagement to a contact.
pub(crate) mod association {
    pub const CALL_TO_CONTACT: u32 = 194;
    pub const NOTE_TO_CONTACT: u32 = 202;
    pub const COMMUNICATION_TO_CONTACT: u32 = 81;
}

impl Api<'_> {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.base_url.trim_end_matches('/'))
    }

    /// Upserts a chat or quick-reply contact with what the event knows about them, plus `extra` properties.
    /// `None` when the contact has neither an email nor (with `phone_id_property` set) a phone number.
    pub(crate) fn upsert_contact(
        &self,
        contact: &Contact,
        extra: &[(&str, &str)],
    ) -> Result<Option<Request>, PluginError> {
        let mut properties = Map::new();
        if let Some(name) = contact.name.as_deref() {
            let mut words = name.split_whitespace();
            if let Some(first) = words.next() {
                properties.insert("firstname".into(), first.into());
                let last = words.collect::<Vec<_>>().join(" ");
                if !last.is_empty() {
                    properties.insert("lastname".into(), last.into());
                }
            }
        }
        for (key, property) in &self.config.contact_properties {
            let value = match contact.custom_fields.get(key) {
                None | Some(Value::Null) => continue,
                Some(Value::String(text)) => text.clone(),
                Some(other) => other.to_string(),
            };
            properties.insert(property.clone(), value.into());
        }
        for (property, value) in extra {
            properties.insert((*property).into(), (*value).into());
        }
        self.upsert_contact_by(contact.email.as_deref(), contact.phone.as_deref(), properties)
    }

    /// Upserts a contact keyed by `email` when it looks like one, else by the normalised phone number in
    /// `phone_id_property`; `None` if neither applies. Sets `email`, `phone` and the phone id property, then
    /// `properties`.
    pub(crate) fn upsert_contact_by(
        &self,
        email: Option<&str>,
        phone: Option<&str>,
        properties: Map<String, Value>,
    ) -> Result<Option<Request>, PluginError> {
        let email = email.map(str::trim).filter(|email| email.contains('@'));
        let phone_id = self.config.phone_id_property.as_deref().zip(phone.and_then(normalize_phone));
        let (id_property, id) = match (email, &phone_id) {
            (Some(email), _) => ("email", email.to_owned()),
            (None, Some((property, number))) => (*property, number.clone()),
            (None, None) => return Ok(None),
        };
        let mut all = Map::new();
        if let Some(email) = email {
            all.insert("email".into(), email.into());
        }
        if let Some(phone) = phone.filter(|phone| !phone.trim().is_empty()) {
            all.insert("phone".into(), phone.into());
        }
        if let Some((property, number)) = phone_id {
            all.insert(property.into(), number.into());
        }
        all.extend(properties);
        let body = json!({"inputs": [{"idProperty": id_property, "id": id, "properties": all}]});
        Ok(Some(Request::json(&body)?.url(self.url("/crm/v3/objects/contacts/batch/upsert"))))
    }

    /// Creates an engagement (`calls`, `notes`, `communications`), associated with `contact_id` if known.
    pub(crate) fn create_engagement(
        &self,
        object: &str,
        properties: Map<String, Value>,
        contact_id: Option<String>,
        association_type: u32,
    ) -> Result<Request, PluginError> {
        let mut body = json!({"properties": properties});
        if let Some(id) = contact_id {
            body["associations"] = json!([{
                "to": {"id": id},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": association_type}],
            }]);
        }
        Ok(Request::json(&body)?.url(self.url(&format!("/crm/v3/objects/{object}"))))
    }

    /// The contact's HubSpot record id from `fields[contact_id_field]`, if configured and present. A value
    /// that is not a record id is logged and ignored: HubSpot would reject the whole engagement for it.
    pub(crate) fn contact_id(&self, fields: &Map<String, Value>) -> Option<String> {
        let value = fields.get(self.config.contact_id_field.as_deref()?)?;
        let id = match value {
            Value::String(text) => text.trim().to_owned(),
            Value::Number(number) => number.to_string(),
            _ => String::new(),
        };
        if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
            Some(id)
        } else {
            if !value.is_null() {
                gancho_sdk::warn!("ignoring HubSpot contact id {value}: a record id is a number");
            }
            None
        }
    }
}

/// A phone number as a unique key: separators dropped, `+` and 7–15 digits kept. Extensions and
/// `anonymous` are not numbers a contact can be found by.
fn normalize_phone(phone: &str) -> Option<String> {
    let kept: String = phone.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).collect();
    let digits = kept.strip_prefix('+').unwrap_or(&kept);
    let valid = (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    valid.then_some(kept)
}

/// Escapes text for HTML bodies (notes, call bodies, communications).
pub(crate) fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match escape_char(c) {
            Some(entity) => escaped.push_str(entity),
            None => escaped.push(c),
        }
    }
    escaped
}

/// The entity that stands for `c` in HTML text or attributes, if it needs one.
pub(crate) fn escape_char(c: char) -> Option<&'static str> {
    match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '"' => Some("&quot;"),
        '\'' => Some("&#39;"),
        _ => None,
    }
}

/// A link to `url` if it is http(s) (anything else could be `javascript:`), else the escaped text.
pub(crate) fn link_html(url: &str, label: &str) -> String {
    if url.starts_with("https://") || url.starts_with("http://") {
        format!("<a href=\"{}\">{}</a>", escape_html(url), escape_html(label))
    } else {
        escape_html(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gancho_sdk::testing::{run, samples};
    use gancho_sdk::{ErrorKind, Method};

    const CONTACTS: &str = "https://api.hubapi.com/crm/v3/objects/contacts/batch/upsert";
    const CALLS: &str = "https://api.hubapi.com/crm/v3/objects/calls";
    const NOTES: &str = "https://api.hubapi.com/crm/v3/objects/notes";
    const COMMUNICATIONS: &str = "https://api.hubapi.com/crm/v3/objects/communications";

    fn map(event: &str, config: Value) -> Vec<Request> {
        run(transform, event, &config.to_string()).unwrap()
    }

    /// Every request is a JSON POST: checks each one's URL and whole body.
    fn assert_requests(actual: &[Request], expected: &[(&str, Value)]) {
        let urls: Vec<_> = actual.iter().map(|request| request.url.as_deref().unwrap_or("")).collect();
        let expected_urls: Vec<_> = expected.iter().map(|(url, _)| *url).collect();
        assert_eq!(urls, expected_urls);
        for (request, (_, body)) in actual.iter().zip(expected) {
            assert_eq!(request.method, Method::Post);
            assert_eq!(request.headers, [("content-type".to_owned(), "application/json".to_owned())]);
            assert_eq!(&request.body_json().unwrap(), body, "{}", request.body_text());
        }
    }

    /// A sample event with `edit` applied to its JSON.
    fn edited(sample: &str, edit: impl FnOnce(&mut Value)) -> String {
        let mut event: Value = serde_json::from_str(sample).unwrap();
        edit(&mut event);
        event.to_string()
    }

    fn config_error(config: Value) -> String {
        let error = run(transform, samples::CALL_ENDED, &config.to_string()).unwrap_err();
        assert_eq!(error.kind, ErrorKind::Permanent);
        error.message
    }

    #[test]
    fn answered_call_upserts_the_caller_and_logs_the_call() {
        let requests = map(samples::CALL_ENDED, json!({"phone_id_property": "gancho_phone"}));
        assert_requests(
            &requests,
            &[
                (
                    CONTACTS,
                    json!({"inputs": [{"idProperty": "gancho_phone", "id": "+5491155551234",
                "properties": {"phone": "+5491155551234", "gancho_phone": "+5491155551234"}}]}),
                ),
                (
                    CALLS,
                    json!({"properties": {
                        "hs_timestamp": "2026-11-21T14:02:14Z",
                        "hs_call_title": "Inbound call from Juan Gómez (+5491155551234)",
                        "hs_call_body": "<p>Caller: Juan Gómez<br>Agent: Martín Ruiz<br>Queue: Soporte<br>Extension: 201<br>\
                            Billable: 125 s<br>Cost: 12.50 ARS<br>Hung up by: caller<br>Call id: cl_9f3a</p>",
                        "hs_call_status": "COMPLETED",
                        "hs_call_duration": "134000",
                        "hs_call_direction": "INBOUND",
                        "hs_call_from_number": "+5491155551234",
                        "hs_call_to_number": "+541140001234",
                        "hs_call_recording_url": "https://pbx.example/rec/cl_9f3a.mp3",
                    }}),
                ),
            ],
        );
    }

    #[test]
    fn missed_call_is_no_answer_with_escaped_html() {
        // Without phone_id_property there is no way to find the caller's contact: only the call is logged.
        assert_requests(
            &map(samples::CALL_ENDED_MISSED, json!({})),
            &[(
                CALLS,
                json!({"properties": {
                    "hs_timestamp": "2026-11-21T14:00:31Z",
                    "hs_call_title": "Inbound call from Ñandú & Cía (+5491155551234) — missed",
                    "hs_call_body": "<p>Caller: Ñandú &amp; Cía<br>Queue: Soporte<br>Extension: 201<br>Billable: 0 s<br>\
                        Cost: 0.00 ARS<br>Hung up by: caller<br>Call id: cl_a001</p>",
                    "hs_call_status": "NO_ANSWER",
                    "hs_call_duration": "31000",
                    "hs_call_direction": "INBOUND",
                    "hs_call_from_number": "+5491155551234",
                    "hs_call_to_number": "+541140001234",
                }}),
            )],
        );
    }

    #[test]
    fn minimal_call_has_only_what_is_known() {
        // `anonymous` is no number to find a contact by, even with phone_id_property set.
        let requests = map(samples::CALL_ENDED_MINIMAL, json!({"phone_id_property": "gancho_phone"}));
        assert_requests(
            &requests,
            &[(
                CALLS,
                json!({"properties": {
                    "hs_timestamp": "2026-11-21T16:00:00Z",
                    "hs_call_title": "Call from anonymous to 201 — missed",
                    "hs_call_body": "<p>Call id: cl_b002</p>",
                    "hs_call_status": "NO_ANSWER",
                    "hs_call_from_number": "anonymous",
                    "hs_call_to_number": "201",
                }}),
            )],
        );
    }

    #[test]
    fn statuses_and_directions_map_to_hubspot() {
        let call = |status: &str, direction: &str| {
            let event = edited(samples::CALL_ENDED, |event| {
                event["data"]["call"]["status"] = status.into();
                event["data"]["call"]["direction"] = direction.into();
            });
            let requests = map(&event, json!({}));
            requests.first().map(|request| request.body_json().unwrap()["properties"].clone())
        };
        let busy = call("busy", "outbound").unwrap();
        assert_eq!(busy["hs_call_status"], "BUSY");
        assert_eq!(busy["hs_call_direction"], "OUTBOUND");
        assert_eq!(busy["hs_call_title"], "Outbound call to +541140001234 — busy");
        assert_eq!(call("failed", "inbound").unwrap()["hs_call_status"], "FAILED");
        assert_eq!(call("answered", "inbound").unwrap()["hs_call_status"], "COMPLETED");
        assert_eq!(call("transferred", "inbound").unwrap()["hs_call_status"], "COMPLETED", "it was answered");
        assert_eq!(call("internal", "internal"), None, "calls between agents are not logged");
    }

    #[test]
    fn ringing_ongoing_and_recording_events_are_skipped_by_default() {
        for sample in [samples::CALL_STARTED, samples::CALL_ANSWERED, samples::CALL_RECORDING_READY] {
            assert_eq!(map(sample, json!({"phone_id_property": "gancho_phone"})), []);
        }
    }

    #[test]
    fn wait_for_recording_logs_answered_calls_once_with_the_recording() {
        let config = json!({"wait_for_recording": true});
        assert_eq!(map(samples::CALL_ENDED, config.clone()), [], "logged when the recording is ready");
        let requests = map(samples::CALL_RECORDING_READY, config.clone());
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].url.as_deref(), Some(CALLS));
        let properties = &requests[0].body_json().unwrap()["properties"];
        assert_eq!(properties["hs_call_recording_url"], "https://pbx.example/rec/cl_9f3a.mp3");
        assert_eq!(
            map(samples::CALL_ENDED_MISSED, config).len(),
            1,
            "unanswered calls have no recording to wait for"
        );
    }

    #[test]
    fn call_is_associated_when_it_carries_the_contact_id() {
        let event =
            edited(samples::CALL_ENDED, |event| event["data"]["call"]["crm_contact_id"] = "5101".into());
        let requests = map(&event, json!({"contact_id_field": "crm_contact_id"}));
        assert_eq!(
            requests[0].body_json().unwrap()["associations"],
            json!([{"to": {"id": "5101"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 194}]}])
        );
    }

    #[test]
    fn closed_chat_upserts_the_contact_and_logs_a_note() {
        let config = json!({"contact_properties": {"ciudad": "city", "plan": "plan"}});
        assert_requests(
            &map(samples::CHAT_CLOSED, config),
            &[
                (
                    CONTACTS,
                    json!({"inputs": [{"idProperty": "email", "id": "juan@example.com", "properties": {
                        "email": "juan@example.com", "phone": "+573001234567", "firstname": "Juan", "lastname": "Gómez",
                        "city": "Medellín",
                    }}]}),
                ),
                (
                    NOTES,
                    json!({"properties": {
                        "hs_timestamp": "2026-11-21T14:03:07Z",
                        "hs_note_body": "<p><b>Chat ch_88213 closed by agent</b><br>Channel: whatsapp<br>Department: Ventas<br>\
                            Agent: Lucía Pérez<br>Tags: venta, seguimiento<br>Conversation: \
                            <a href=\"https://chat.example/viewer/ch_88213\">https://chat.example/viewer/ch_88213</a></p>\
                            <p><b>13:40 Juan Gómez:</b> Hola, ¿tienen envíos a Medellín? 🚚</p>\
                            <p><b>13:41 Lucía Pérez:</b> <a href=\"https://cdn.example/m2.jpg\">[image]</a></p>\
                            <p><b>13:42 Lucía Pérez:</b> ¡Sí! Llegamos en 48 h. ¿Te envío el &quot;catálogo&quot;? 😊</p>\
                            <p><b>13:45 Juan Gómez:</b> Perfecto, gracias</p>",
                    }}),
                ),
            ],
        );
    }

    #[test]
    fn whatsapp_chat_as_communication_is_associated_with_the_contact() {
        let event = edited(samples::CHAT_CLOSED, |event| {
            let contact = &mut event["data"]["contact"];
            contact["custom_fields"]["hubspot_id"] = 5101.into();
            contact["name"] = "<script>alert(1)</script> O'Brien".into();
            contact["email"] = Value::Null;
            event["data"]["chat"]["messages"] = json!([
                {"from": "contact", "type": "text", "text": "<b>hola</b>\n& adiós"},
            ]);
        });
        let config = json!({"chat_as": "communication", "contact_id_field": "hubspot_id",
                            "phone_id_property": "gancho_phone"});
        assert_requests(
            &map(&event, config),
            &[
                (
                    CONTACTS,
                    json!({"inputs": [{"idProperty": "gancho_phone", "id": "+573001234567", "properties": {
                        "phone": "+573001234567", "gancho_phone": "+573001234567",
                        "firstname": "<script>alert(1)</script>", "lastname": "O'Brien",
                    }}]}),
                ),
                (
                    COMMUNICATIONS,
                    json!({
                        "properties": {
                            "hs_timestamp": "2026-11-21T14:03:07Z",
                            "hs_communication_channel_type": "WHATS_APP",
                            "hs_communication_logged_from": "CRM",
                            "hs_communication_body": "<p><b>Chat ch_88213 closed by agent</b><br>Channel: whatsapp<br>\
                                Department: Ventas<br>Agent: Lucía Pérez<br>Tags: venta, seguimiento<br>Conversation: \
                                <a href=\"https://chat.example/viewer/ch_88213\">https://chat.example/viewer/ch_88213</a></p>\
                                <p><b>contact:</b> &lt;b&gt;hola&lt;/b&gt;<br>&amp; adiós</p>",
                        },
                        "associations": [{"to": {"id": "5101"},
                            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 81}]}],
                    }),
                ),
            ],
        );
    }

    #[test]
    fn exported_webchat_is_a_note_even_as_communication() {
        let event = edited(samples::CHAT_EXPORTED, |event| {
            event["data"]["contact"]["custom_fields"] = json!({"hubspot_id": "not-an-id"});
        });
        let requests = map(&event, json!({"chat_as": "communication", "contact_id_field": "hubspot_id"}));
        assert_requests(
            &requests,
            &[
                (
                    CONTACTS,
                    json!({"inputs": [{"idProperty": "email", "id": "ana@example.com",
                "properties": {"email": "ana@example.com", "firstname": "Ana", "lastname": "Ríos"}}]}),
                ),
                // HubSpot would reject the note for an association to "not-an-id": it is logged and left out.
                (
                    NOTES,
                    json!({"properties": {
                        "hs_timestamp": "2026-11-21T14:10:00Z",
                        "hs_note_body": "<p><b>Chat ch_88214 exported by Lucía Pérez</b><br>Channel: webchat<br>\
                            Department: Soporte<br>Agent: Lucía Pérez<br>Conversation: \
                            <a href=\"https://chat.example/viewer/ch_88214\">https://chat.example/viewer/ch_88214</a></p>\
                            <p><b>14:05 Ana Ríos:</b> Mi pedido #4411 no llegó</p>\
                            <p><b>14:06 Asistente:</b> Te comunico con un agente</p>",
                    }}),
                ),
            ],
        );
        assert!(gancho_sdk::testing::take_logs().iter().any(|(_, line)| line.contains("\"not-an-id\"")));
    }

    #[test]
    fn a_400_message_chat_fits_in_the_note_limit() {
        let requests = map(&samples::long_chat_closed(400), json!({}));
        assert_eq!(requests.len(), 2);
        let note = requests[1].body_json().unwrap();
        let body = note["properties"]["hs_note_body"].as_str().unwrap();
        assert!(body.encode_utf16().count() <= chats::BODY_LIMIT, "{} units", body.encode_utf16().count());
        assert!(body.starts_with("<p><b>Chat ch_88213 closed by agent</b>"));
        assert!(body.ends_with(" of 400 messages shown.</i></p>"));
    }

    #[test]
    fn quick_reply_sets_the_configured_property() {
        let config =
            json!({"quick_reply_property": "appointment_confirmation", "phone_id_property": "gancho_phone"});
        assert_requests(
            &map(samples::TEMPLATE_QUICK_REPLY, config),
            &[(
                CONTACTS,
                json!({"inputs": [{
                    "idProperty": "gancho_phone", "id": "+573001234567",
                    "properties": {"phone": "+573001234567", "gancho_phone": "+573001234567", "firstname": "Juan",
                                   "lastname": "Gómez", "appointment_confirmation": "CONFIRM"},
                }]}),
            )],
        );
        let without_payload = edited(samples::TEMPLATE_QUICK_REPLY, |event| {
            event["data"]["button"]["payload"] = Value::Null;
        });
        let requests = map(
            &without_payload,
            json!({"quick_reply_property": "appointment_confirmation",
                                                     "phone_id_property": "gancho_phone"}),
        );
        let properties = &requests[0].body_json().unwrap()["inputs"][0]["properties"];
        assert_eq!(properties["appointment_confirmation"], "Confirmar");
        assert_eq!(map(samples::TEMPLATE_QUICK_REPLY, json!({})), [], "no quick_reply_property");
    }

    #[test]
    fn unknown_event_types_send_nothing() {
        assert_eq!(map(samples::UNKNOWN_TYPE, json!({"quick_reply_property": "answer"})), []);
    }

    #[test]
    fn base_url_can_point_elsewhere() {
        let requests = map(samples::CALL_ENDED, json!({"base_url": "http://127.0.0.1:8080/"}));
        assert_eq!(requests[0].url.as_deref(), Some("http://127.0.0.1:8080/crm/v3/objects/calls"));
    }

    #[test]
    fn bad_config_names_the_field() {
        let message = config_error(json!({"chat_as": "email"}));
        assert!(
            message
                .contains("config field \"chat_as\" is \"email\"; set it to \"note\" or \"communication\"")
        );
        let message = config_error(json!({"base_url": "api.hubapi.com"}));
        assert!(
            message.starts_with("config field \"base_url\" is \"api.hubapi.com\"; set it to an http(s) URL")
        );
        let message = config_error(json!({"contact_properties": {"ciudad": "City Name"}}));
        assert!(
            message.starts_with("config field \"contact_properties.ciudad\" is \"City Name\", which is not")
        );
        let message = config_error(json!({"phone_id_property": "Phone"}));
        assert!(message.starts_with("config field \"phone_id_property\" is \"Phone\""), "{message}");
        let message = config_error(json!({"token": "pat-123"}));
        assert!(message.contains("unknown field `token`"), "{message}");
    }

    #[test]
    fn the_example_config_works() {
        let example = include_str!("../config.example.json");
        let requests = run(transform, samples::CHAT_CLOSED, example).unwrap();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].url.as_deref(), Some(CONTACTS));
        let contact = &requests[0].body_json().unwrap()["inputs"][0]["properties"];
        assert_eq!(contact["city"], "Medellín");
        assert_eq!(requests[1].url.as_deref(), Some(NOTES));
        assert_eq!(run(transform, samples::TEMPLATE_QUICK_REPLY, example).unwrap().len(), 1);
        assert_eq!(run(transform, samples::CALL_ENDED, example).unwrap().len(), 2);
    }
}
