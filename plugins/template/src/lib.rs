//! # Template
//!
//! The no-code plugin: one request per event, whose body (and optionally URL) is a template with
//! `{{path.to.field}}` variables, for any receiver that takes JSON, a form or plain text.
//!
//! Variables name `event.id`, `event.type`, `event.tenant`, `event.timestamp`, or a field of the event's
//! data: `{{call.from}}`, `{{call.cost.amount}}`, `{{contact.custom_fields.ciudad}}`,
//! `{{chat.messages.0.text}}` (lists by index). Whitespace inside the braces is allowed (`{{ call.from }}`).
//! Each value is escaped for where it lands:
//! - `text`: as is.
//! - `form` (the template is the urlencoded body, `from={{call.from}}&…`): encoded as a form value.
//! - `json`: inside a string literal (`"{{call.from}}"`) escaped as string content; standing alone
//!   (`{{call.cost}}`) written as a JSON value. The result must be valid JSON.
//! - `url`: percent-encoded.
//!
//! A variable may go through filters: `{{call.status | map: missed=perdida, answered=atendida}}`,
//! `{{call.cost.amount | number: 2, ","}}`, `{{event.timestamp | date: "%d/%m/%Y %H:%M"}}` (see
//! [`filters`]).
//!
//! An optional field that is absent or `null` renders as empty text (`null` as a standalone JSON value);
//! one absent from its object is logged as a warning, so a misspelt `{{call.form}}` shows in a preview. A
//! variable that cannot exist on the event (its first segment is neither `event` nor a key of the data, or
//! it goes through a text, number or list without an index) fails the event with an error naming it.
//!
//! ## Config
//! See [`Config`] and `config.example.json`.
//!
//! ## Layout
//! - this file: configuration and the request.
//! - `render`: the template language (parsing, variable lookup, escaping).
//! - [`filters`]: `map`, `number` and `date` after a variable.
//! - [`batch`]: batching requests that wait for the receiver, when `batch` asks for it.

pub mod batch;
pub mod check;
pub mod filters;
mod render;

use gancho_sdk::{Event, Method, PluginError, Request, Subscription};
use serde::{Deserialize, Deserializer};

use render::{Scope, Target};

/// The configuration a customer sets on the subscription.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// How the body is written and escaped: `json` (the default), `text` or `form`.
    #[serde(default)]
    pub format: Format,
    /// The body template. Required unless `method` is GET or HEAD, which send no body.
    #[serde(default)]
    pub template: Option<String>,
    /// The `content-type` header, if not the format's own (`application/json`, `text/plain; charset=utf-8`,
    /// `application/x-www-form-urlencoded`).
    #[serde(default)]
    pub content_type: Option<String>,
    /// The HTTP method, in any case: GET, HEAD, POST (the default), PUT, PATCH or DELETE.
    #[serde(default, deserialize_with = "method")]
    pub method: Method,
    /// A URL template (values are percent-encoded), for example
    /// `https://crm.example/hook?from={{call.from}}`. Unset, requests go to the subscription's endpoint.
    #[serde(default)]
    pub url: Option<String>,
    /// The event types to send, exactly (`call.ended`) or by prefix (`call.*`). Unset, every event is sent;
    /// set it so that a template only meets events that carry its fields.
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    /// When requests wait for the receiver (its budget spent, or a pause it asked for), send those with the
    /// same method and URL as one: `json_array` (a JSON array of the bodies) or `ndjson` (one body per
    /// line). Unset (the default), every event is its own request. Needs `format` `json`.
    #[serde(default)]
    pub batch: Option<batch::Batch>,
    /// Most events in one batch, 1 to 1000. Default 100.
    #[serde(default = "batch::default_batch_max")]
    pub batch_max: usize,
    /// The IANA time zone `date` filters write times in when they name none (`America/Argentina/Buenos_Aires`).
    /// Default UTC.
    #[serde(default)]
    pub timezone: Option<String>,
    /// The decimal separator `number` filters write when they name none (`,`). Default `.`.
    #[serde(default)]
    pub decimal_separator: Option<String>,
}

/// How a body is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Json,
    Text,
    Form,
}

impl<'de> Deserialize<'de> for Format {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match String::deserialize(deserializer)?.as_str() {
            "json" => Ok(Format::Json),
            "text" => Ok(Format::Text),
            "form" => Ok(Format::Form),
            other => Err(serde::de::Error::custom(format!(
                "config field \"format\" is {other:?}; set it to \"json\", \"text\" or \"form\""
            ))),
        }
    }
}

impl Format {
    fn target(self) -> Target {
        match self {
            Format::Json => Target::Json,
            Format::Text => Target::Text,
            Format::Form => Target::Form,
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Text => "text/plain; charset=utf-8",
            Format::Form => "application/x-www-form-urlencoded",
        }
    }
}

fn method<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Method, D::Error> {
    let name = String::deserialize(deserializer)?;
    Method::parse(&name).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "config field \"method\" is {name:?}; set it to GET, HEAD, POST, PUT, PATCH or DELETE"
        ))
    })
}

impl Config {
    fn defaults(&self) -> filters::Defaults<'_> {
        filters::Defaults {
            decimal_separator: self.decimal_separator.as_deref(),
            timezone: self.timezone.as_deref(),
        }
    }

    fn sends(&self, event_type: &str) -> bool {
        let Some(types) = &self.event_types else {
            return true;
        };
        types.iter().any(|wanted| match wanted.strip_suffix(".*") {
            Some(prefix) => event_type.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('.')),
            None => wanted == event_type,
        })
    }
}

/// Renders one request for the event. Public so that benchmarks can call it natively.
pub fn transform(event: Event, subscription: Subscription<Config>) -> Result<Vec<Request>, PluginError> {
    render_request(&event, &subscription.config, false).map_err(|refused| refused.error)
}

/// Why a config cannot render: the config field at fault and the error.
pub(crate) struct Refused {
    pub field: &'static str,
    pub error: PluginError,
}

/// The request for `event` (none when `event_types` leaves it out). `strict` for a sample event, on which
/// a field absent from its object is an error rather than empty text (see [`render::Scope::strict`]).
pub(crate) fn render_request(event: &Event, config: &Config, strict: bool) -> Result<Vec<Request>, Refused> {
    let refused = |field| move |error| Refused { field, error };
    // Templates are checked before the filter, so a broken config fails on the first event, not the first match.
    let body = match (&config.template, config.method) {
        (_, Method::Get | Method::Head) => None,
        (Some(template), _) => Some(render::parse(template, "template").map_err(refused("template"))?),
        (None, _) => {
            return Err(refused("template")(PluginError::permanent(
                "config field \"template\" is missing; set it to the body template, or set \"method\" to GET or \
                 HEAD to send no body",
            )));
        }
    };
    let url =
        config.url.as_deref().map(|url| render::parse(url, "url")).transpose().map_err(refused("url"))?;
    if !config.sends(&event.event_type) {
        return Ok(vec![]);
    }

    let data = event.data_value().map_err(refused("template"))?;
    let scope = if strict { Scope::strict(event, data) } else { Scope::new(event, data) };
    let mut request = Request::new().method(config.method);
    if let Some(url) = url {
        let url =
            render::render(&url, &scope, config.defaults(), Target::Url, "url").map_err(refused("url"))?;
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(refused("url")(PluginError::permanent(format!(
                "config field \"url\" renders to {url:?}, which is not an http(s) URL; start it with https://"
            ))));
        }
        request = request.url(url);
    }
    if let Some(body) = body {
        let body = render::render(&body, &scope, config.defaults(), config.format.target(), "template")
            .map_err(refused("template"))?;
        let content_type = config.content_type.as_deref().unwrap_or(config.format.content_type());
        request = request.header("content-type", content_type).body(body);
    }
    Ok(vec![request])
}

gancho_sdk::plugin!(transform, validate = check::validate, merge = batch::merge);

#[cfg(test)]
mod tests {
    use super::*;
    use gancho_sdk::testing::{TEST_ENDPOINT, run, samples};
    use serde_json::json;

    fn render(event: &str, config: serde_json::Value) -> Result<Vec<Request>, PluginError> {
        run(transform, event, &config.to_string())
    }

    fn only(requests: Vec<Request>) -> Request {
        assert_eq!(requests.len(), 1, "{requests:?}");
        requests.into_iter().next().unwrap()
    }

    fn error(event: &str, config: serde_json::Value) -> String {
        let error = render(event, config).unwrap_err();
        assert_eq!(error.kind, gancho_sdk::ErrorKind::Permanent);
        error.message
    }

    /// A `call.ended` event whose call has these fields.
    fn call_event(call: serde_json::Value) -> String {
        json!({"id": "evt_1", "type": "call.ended", "tenant": "acme", "timestamp": "2026-11-21T14:02:14Z",
               "data": {"call": call}})
        .to_string()
    }

    #[test]
    fn text_is_written_as_is() {
        let config = json!({"format": "text",
            "template": "Missed call from {{ call.from }} ({{call.caller_name}}), agent: {{call.agent.name}}."});
        let request = only(render(samples::CALL_ENDED_MISSED, config).unwrap());
        assert_eq!(request.method, Method::Post);
        assert_eq!(request.url, None, "the subscription's endpoint");
        assert_eq!(request.headers, [("content-type".to_owned(), "text/plain; charset=utf-8".to_owned())]);
        assert_eq!(request.body_text(), "Missed call from +5491155551234 (Ñandú & Cía), agent: .");
    }

    #[test]
    fn json_string_content_is_escaped() {
        let event = call_event(json!({"id": "cl_1", "from": "\"Q\" \\ back\nline\ttab 😀 +54 & co",
                                      "caller_name": "Lucía", "duration_s": 31}));
        let config = json!({"format": "json",
            "template": r#"{"from": "{{call.from}}", "note": "{{call.caller_name}} talked {{call.duration_s}} s"}"#});
        let request = only(render(&event, config).unwrap());
        assert_eq!(request.headers, [("content-type".to_owned(), "application/json".to_owned())]);
        assert_eq!(
            request.body_text(),
            r#"{"from": "\"Q\" \\ back\nline\ttab 😀 +54 & co", "note": "Lucía talked 31 s"}"#
        );
        assert_eq!(
            request.body_json().unwrap(),
            json!({"from": "\"Q\" \\ back\nline\ttab 😀 +54 & co", "note": "Lucía talked 31 s"})
        );
    }

    #[test]
    fn json_values_standing_alone_are_written_as_json() {
        let config = json!({"template": r#"{"duration": {{call.duration_s}}, "cost": {{ call.cost }},
            "agent": {{call.agent}}, "recording": {{call.recording_url}}, "transfer": {{call.transferred_to}},
            "queue": {{call.queue}}, "agent_name": "{{call.agent.name}}", "cost_text": "{{call.cost}}"}"#});
        let request = only(render(samples::CALL_ENDED_MISSED, config).unwrap());
        assert_eq!(
            request.body_text(),
            r#"{"duration": 31, "cost": {"amount":"0.00","currency":"ARS"},
            "agent": null, "recording": null, "transfer": null,
            "queue": "Soporte", "agent_name": "", "cost_text": "{\"amount\":\"0.00\",\"currency\":\"ARS\"}"}"#
        );
        assert_eq!(
            request.body_json().unwrap(),
            json!({"duration": 31, "cost": {"amount": "0.00", "currency": "ARS"}, "agent": null, "recording": null,
                   "transfer": null, "queue": "Soporte", "agent_name": "",
                   "cost_text": r#"{"amount":"0.00","currency":"ARS"}"#})
        );
    }

    #[test]
    fn absent_optional_fields_are_empty_or_null() {
        let config =
            json!({"template": r#"{"duration": {{call.duration_s}}, "agent": "{{call.agent.name}}"}"#});
        let request = only(render(samples::CALL_ENDED_MINIMAL, config).unwrap());
        assert_eq!(request.body_text(), r#"{"duration": null, "agent": ""}"#);
    }

    #[test]
    fn form_values_are_form_encoded() {
        let event =
            call_event(json!({"id": "cl_1", "from": "+54 9 11 5555-1234", "caller_name": "Lucía & Cía"}));
        let config = json!({"format": "form",
            "template": "from={{call.from}}&name={{ call.caller_name }}&agent={{call.agent.name}}&src=gancho"});
        let request = only(render(&event, config).unwrap());
        assert_eq!(
            request.headers,
            [("content-type".to_owned(), "application/x-www-form-urlencoded".to_owned())]
        );
        assert_eq!(
            request.body_text(),
            "from=%2B54+9+11+5555-1234&name=Luc%C3%ADa+%26+C%C3%ADa&agent=&src=gancho"
        );
    }

    #[test]
    fn get_sends_the_url_template_and_no_body() {
        let config = json!({"method": "get", "format": "json", "template": "ignored",
            "url": "https://crm.example/hook?from={{call.from}}&dur={{call.duration_s}}&name={{call.caller_name}}"});
        let request = only(render(samples::CALL_ENDED, config).unwrap());
        assert_eq!(
            request,
            Request::new()
                .method(Method::Get)
                .url("https://crm.example/hook?from=%2B5491155551234&dur=134&name=Juan%20G%C3%B3mez")
        );
        assert!(request.body.is_empty() && request.headers.is_empty());
    }

    #[test]
    fn url_values_are_percent_encoded_with_a_body() {
        let event = call_event(json!({"id": "cl 1/2", "from": "+54 9 11 & co"}));
        let config = json!({"method": "Patch", "url": "https://crm.example/calls/{{call.id}}?from={{call.from}}",
            "format": "text", "template": "{{call.from}}", "content_type": "text/csv"});
        let request = only(render(&event, config).unwrap());
        assert_eq!(request.method, Method::Patch);
        assert_eq!(
            request.url.as_deref(),
            Some("https://crm.example/calls/cl%201%2F2?from=%2B54%209%2011%20%26%20co")
        );
        assert_eq!(request.headers, [("content-type".to_owned(), "text/csv".to_owned())]);
        assert_eq!(request.body_text(), "+54 9 11 & co");
    }

    #[test]
    fn envelope_lists_and_nested_fields_resolve() {
        let config = json!({"format": "text", "template": "{{event.type}} {{event.id}} {{event.tenant}} \
            {{event.timestamp}} | {{chat.messages.0.text}} | {{chat.messages.1.text}}|{{chat.messages.9.text}}| \
            {{contact.custom_fields.ciudad}} | {{chat.tags}} | {{chat.tags.1}}"});
        let request = only(render(samples::CHAT_CLOSED, config).unwrap());
        assert_eq!(
            request.body_text(),
            "chat.closed evt_chat_closed_1 acme 2026-11-21T14:03:07Z | Hola, ¿tienen envíos a Medellín? 🚚 | || \
             Medellín | [\"venta\",\"seguimiento\"] | seguimiento"
        );
    }

    #[test]
    fn unknown_variables_are_errors_naming_them() {
        let text = |template: &str| json!({"format": "text", "template": template});
        assert_eq!(
            error(samples::CALL_ENDED, text("{{cal.from}}")),
            "unknown template variable {{cal.from}}: \"cal\" is neither \"event\" nor a field of this event's \
             data; available: event, call"
        );
        assert_eq!(
            error(samples::CALL_ENDED, text("{{ call.from.number }}")),
            "unknown template variable {{call.from.number}}: \"call.from\" is text, which has no field \"number\""
        );
        assert_eq!(
            error(samples::CHAT_CLOSED, text("{{chat.messages.text}}")),
            "unknown template variable {{chat.messages.text}}: \"chat.messages\" is a list of 4 items; pick one \
             by index, as in chat.messages.0"
        );
        assert_eq!(
            error(samples::CALL_ENDED, text("{{event.name}}")),
            "unknown template variable {{event.name}}: the event has id, type, tenant and timestamp"
        );
    }

    #[test]
    fn malformed_templates_are_config_errors() {
        assert_eq!(
            error(samples::CALL_ENDED, json!({"template": "{\"a\": 1,\n \"from\": \"{{call.from\"}"})),
            "config field \"template\" has an unclosed \"{{\" at line 2, column 11; close it with \"}}\""
        );
        assert_eq!(
            error(samples::CALL_ENDED, json!({"template": "{{call..from}}"})),
            "config field \"template\" has an invalid variable {{call..from}} at line 1, column 1; write a dotted \
             path such as {{call.from}} or {{chat.messages.0.text}}"
        );
        let message = error(samples::CALL_ENDED, json!({"template": r#"{"from": "{{call.from}}""#}));
        assert!(
            message.starts_with(
                "config field \"template\" does not render to valid JSON (EOF while parsing an object"
            ),
            "{message}"
        );
        let message =
            error(samples::CALL_ENDED, json!({"url": "https://x.example/{{call.id", "method": "GET"}));
        assert!(message.starts_with("config field \"url\" has an unclosed"), "{message}");
        let message = error(samples::CALL_ENDED, json!({"url": "{{call.from}}", "method": "GET"}));
        assert!(message.starts_with("config field \"url\" renders to \"%2B5491155551234\""), "{message}");
    }

    #[test]
    fn bad_config_names_the_field() {
        let message = error(samples::CALL_ENDED, json!({"template": "{}", "method": "TRACE"}));
        assert!(message.contains("config field \"method\" is \"TRACE\"; set it to GET, HEAD"), "{message}");
        let message = error(samples::CALL_ENDED, json!({"template": "{}", "format": "xml"}));
        assert!(message.contains("config field \"format\" is \"xml\""), "{message}");
        let message = error(samples::CALL_ENDED, json!({"format": "text"}));
        assert!(message.starts_with("config field \"template\" is missing"), "{message}");
        let message = error(samples::CALL_ENDED, json!({"template": "{}", "headers": {}}));
        assert!(message.contains("unknown field `headers`"), "{message}");
    }

    #[test]
    fn event_types_filter_exactly_or_by_prefix() {
        let config =
            json!({"template": r#"{"type": "{{event.type}}"}"#, "event_types": ["call.*", "chat.exported"]});
        assert_eq!(render(samples::CALL_ENDED, config.clone()).unwrap().len(), 1);
        assert_eq!(render(samples::CHAT_EXPORTED, config.clone()).unwrap().len(), 1);
        assert_eq!(render(samples::CHAT_CLOSED, config.clone()).unwrap(), []);
        assert_eq!(render(samples::UNKNOWN_TYPE, config).unwrap(), []);
        let config = json!({"template": "{}", "event_types": ["call"]});
        assert_eq!(render(samples::CALL_ENDED, config).unwrap(), [], "\"call\" is not a prefix pattern");
    }

    #[test]
    fn without_a_filter_unknown_types_are_rendered_too() {
        let config = json!({"template": r#"{"type": "{{event.type}}", "total": {{invoice.total.amount}}}"#});
        let request = only(render(samples::UNKNOWN_TYPE, config).unwrap());
        assert_eq!(request.body_json().unwrap(), json!({"type": "invoice.paid", "total": "99.00"}));
    }

    #[test]
    fn the_example_config_works() {
        let example = include_str!("../config.example.json");
        let request = only(run(transform, samples::CALL_ENDED, example).unwrap());
        assert_eq!(request.method, Method::Post);
        assert!(request.url.as_deref().unwrap().starts_with("https://"), "{:?}", request.url);
        assert_ne!(request.url.as_deref(), Some(TEST_ENDPOINT));
        assert_eq!(request.header_value("content-type"), Some("application/json"));
        let body = request.body_json().unwrap();
        assert_eq!(body["from"], "+5491155551234");
        assert_eq!(body["cost"], json!({"amount": "12.50", "currency": "ARS"}));
        assert_eq!((&body["status"], &body["ended"]), (&json!("atendida"), &json!("21/11/2026 11:02")));
        assert_eq!(run(transform, samples::CHAT_CLOSED, example).unwrap(), [], "filtered out");
    }
}
