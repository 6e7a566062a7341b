//! Testing a plugin natively with `cargo test`: no wasm, no host. [`run`] takes the same path as the
//! plugin's entry point inside Gancho (envelope → typed event, config JSON → typed config),
//! [`take_logs`] returns what the plugin logged on this thread, and [`Request::body_form`] decodes a form
//! body as `body_json` parses a JSON one.

use std::cell::RefCell;

use serde::de::DeserializeOwned;

use crate::log::Level;
use crate::merge::MergeFn;
use crate::subscription::parse_config;
use crate::{ConfigError, Event, Merged, PluginError, Request, Subscription};

/// The endpoint URL [`run`] gives the subscription.
pub const TEST_ENDPOINT: &str = "https://receiver.example/hook";

thread_local! {
    static LOGS: RefCell<Vec<(Level, String)>> = const { RefCell::new(Vec::new()) };
    static SAMPLE_EVENTS: RefCell<Vec<Event>> = const { RefCell::new(Vec::new()) };
}

/// Runs `transform` on an event envelope (JSON text, as the platform posts it) with a configuration (JSON
/// text), for a subscription `sub_test` whose endpoint is [`TEST_ENDPOINT`].
///
/// ```
/// use gancho_sdk::{Event, PluginError, Request, Subscription};
/// fn transform(event: Event, _: Subscription) -> Result<Vec<Request>, PluginError> {
///     Ok(vec![Request::text(event.id)])
/// }
/// let event = r#"{"id": "evt_1", "type": "call.ended", "tenant": "acme",
///                 "timestamp": "2026-11-21T14:03:07Z", "data": {"call": {"id": "cl_1"}}}"#;
/// let requests = gancho_sdk::testing::run(transform, event, "{}").unwrap();
/// assert_eq!(requests[0].body_text(), "evt_1");
/// ```
pub fn run<C: DeserializeOwned>(
    transform: fn(Event, Subscription<C>) -> Result<Vec<Request>, PluginError>,
    event_json: &str,
    config_json: &str,
) -> Result<Vec<Request>, PluginError> {
    let event = Event::from_json(event_json)?;
    let subscription = Subscription::parse("sub_test", TEST_ENDPOINT, config_json)?;
    transform(event, subscription)
}

/// Runs a plugin's `merge` on `requests` (as `transform` made them) with a configuration (JSON text), for
/// the subscription [`run`] uses, the way Gancho does: a request without a URL gets [`TEST_ENDPOINT`]
/// first, as Gancho resolves URLs before it merges. Panics when the answer breaks the contract Gancho
/// holds `merge` to (every index carried exactly once, ascending within a merged request, merged requests
/// in the order of their first index), naming what is wrong.
pub fn merge<C: DeserializeOwned>(
    merge: MergeFn<C>,
    requests: Vec<Request>,
    config_json: &str,
) -> Result<Vec<Merged>, PluginError> {
    let given = requests.len();
    let requests = requests
        .into_iter()
        .map(|r| Request { url: r.url.or_else(|| Some(TEST_ENDPOINT.into())), ..r })
        .collect();
    let subscription = Subscription::parse("sub_test", TEST_ENDPOINT, config_json)?;
    let answer = merge(requests, subscription)?;
    if let Some(broken) = crate::merge::contract_broken(&answer, given) {
        panic!("merge's answer to {given} requests would be refused by Gancho: {broken}");
    }
    Ok(answer)
}

/// Checks a configuration (JSON text) as Gancho does when a subscription is saved: it must deserialize
/// into the `C` that `transform` takes, then pass `validate`, during which
/// [`crate::subscription::sample_events`] answers `samples` (event envelopes, JSON text: say, the samples
/// of the types the subscription receives).
pub fn validate<C: DeserializeOwned>(
    _transform: fn(Event, Subscription<C>) -> Result<Vec<Request>, PluginError>,
    validate: fn(&C) -> Result<(), ConfigError>,
    config_json: &str,
    samples: &[&str],
) -> Result<(), ConfigError> {
    let config: C = parse_config(config_json)?;
    let samples =
        samples.iter().map(|json| Event::from_json(json).expect("a sample is an event envelope")).collect();
    SAMPLE_EVENTS.with(|given| *given.borrow_mut() = samples);
    let checked = validate(&config);
    SAMPLE_EVENTS.with(|given| given.borrow_mut().clear());
    checked
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn sample_events() -> Vec<Event> {
    SAMPLE_EVENTS.with(|given| given.borrow().clone())
}

/// Returns and clears the lines logged on this thread.
pub fn take_logs() -> Vec<(Level, String)> {
    LOGS.with(|logs| std::mem::take(&mut *logs.borrow_mut()))
}

impl Request {
    /// The body decoded as `application/x-www-form-urlencoded` name–value pairs, in order, for tests: the
    /// other side of [`Request::form`], as [`Request::body_json`] is of [`Request::json`].
    ///
    /// ```
    /// let request = gancho_sdk::Request::form([("from", "+5491155551234"), ("note", "Ñandú & Cía")]);
    /// assert_eq!(request.body_form()[1], ("note".to_owned(), "Ñandú & Cía".to_owned()));
    /// ```
    pub fn body_form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(&self.body).into_owned().collect()
    }
}

#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
pub(crate) fn record_log(level: Level, message: &str) {
    eprintln!("[{level:?}] {message}");
    LOGS.with(|logs| logs.borrow_mut().push((level, message.to_owned())));
}

/// Sample events, one per type in the catalog plus edge cases, as the platform posts them. The same files
/// live in `plugin-sdk/samples/` for `gancho plugin run --event`.
pub mod samples {
    /// `chat.closed`: Spanish text, emoji, an image message without text.
    pub const CHAT_CLOSED: &str = include_str!("../samples/chat.closed.json");
    /// `chat.exported`: includes `exported_by`; the contact has no phone.
    pub const CHAT_EXPORTED: &str = include_str!("../samples/chat.exported.json");
    /// `template.quick_reply`.
    pub const TEMPLATE_QUICK_REPLY: &str = include_str!("../samples/template.quick_reply.json");
    /// `call.started` (START): ringing, nothing answered yet.
    pub const CALL_STARTED: &str = include_str!("../samples/call.started.json");
    /// `call.answered` (TALK).
    pub const CALL_ANSWERED: &str = include_str!("../samples/call.answered.json");
    /// `call.ended` (END) of an answered call, with cost and recording.
    pub const CALL_ENDED: &str = include_str!("../samples/call.ended.json");
    /// `call.ended` of a missed call: `answered_at: null`, `billable_s: 0`, no recording.
    pub const CALL_ENDED_MISSED: &str = include_str!("../samples/call.ended.missed.json");
    /// `call.ended` with only the required fields: caller `anonymous`, called an extension.
    pub const CALL_ENDED_MINIMAL: &str = include_str!("../samples/call.ended.minimal.json");
    /// `call.recording_ready`.
    pub const CALL_RECORDING_READY: &str = include_str!("../samples/call.recording_ready.json");
    /// An event type outside the catalog (`invoice.paid`).
    pub const UNKNOWN_TYPE: &str = include_str!("../samples/invoice.paid.json");

    /// Every sample above, with its file name.
    pub const ALL: &[(&str, &str)] = &[
        ("chat.closed.json", CHAT_CLOSED),
        ("chat.exported.json", CHAT_EXPORTED),
        ("template.quick_reply.json", TEMPLATE_QUICK_REPLY),
        ("call.started.json", CALL_STARTED),
        ("call.answered.json", CALL_ANSWERED),
        ("call.ended.json", CALL_ENDED),
        ("call.ended.missed.json", CALL_ENDED_MISSED),
        ("call.ended.minimal.json", CALL_ENDED_MINIMAL),
        ("call.recording_ready.json", CALL_RECORDING_READY),
        ("invoice.paid.json", UNKNOWN_TYPE),
    ];

    /// A `chat.closed` event with `messages` long messages (each about 300 characters, mixed senders,
    /// Spanish text and emoji): for checking that a destination's size limits hold on long transcripts.
    pub fn long_chat_closed(messages: usize) -> String {
        let mut event: serde_json::Value = serde_json::from_str(CHAT_CLOSED).expect("sample is valid JSON");
        let senders = [("contact", "Juan Gómez"), ("agent", "Lucía Pérez"), ("bot", "Asistente")];
        let transcript: Vec<serde_json::Value> = (0..messages)
            .map(|i| {
                let (from, author) = senders[i % senders.len()];
                serde_json::json!({
                    "id": format!("m{}", i + 1),
                    "at": format!("2026-11-21T13:{:02}:{:02}Z", (i / 60) % 60, i % 60),
                    "from": from,
                    "author": author,
                    "type": "text",
                    "text": format!("Mensaje {} — ¿podrías confirmar la dirección de envío? 📦 {}", i + 1, "ñ".repeat(240)),
                })
            })
            .collect();
        event["data"]["chat"]["messages"] = serde_json::Value::Array(transcript);
        event.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::samples;
    use crate::{Event, EventData, Request};

    #[test]
    fn a_form_body_decodes_to_its_pairs() {
        let fields =
            [("from", "+54 9 11 5555-1234"), ("note", "a&b=c ñ 🚀"), ("empty", ""), ("from", "again")];
        let request = Request::form(fields);
        let expected: Vec<(String, String)> =
            fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(request.body_form(), expected);
        assert_eq!(Request::text("").body_form(), vec![]);
    }

    #[test]
    fn every_sample_parses_into_its_type() {
        for (name, json) in samples::ALL {
            let event = Event::from_json(json).unwrap_or_else(|e| panic!("{name}: {e}"));
            let data = event.data().unwrap_or_else(|e| panic!("{name}: {e}"));
            let is_other = matches!(data, EventData::Other(_));
            assert_eq!(is_other, event.event_type == "invoice.paid", "{name}");
        }
    }

    #[test]
    fn long_chat_has_the_requested_length() {
        let event = Event::from_json(&samples::long_chat_closed(400)).unwrap();
        let EventData::ChatClosed(chat) = event.data().unwrap() else { panic!("chat.closed") };
        assert_eq!(chat.chat.messages.len(), 400);
    }
}
