//! The template language: literal text with `{{path.to.field}}` variables, each optionally through
//! [`filters`](crate::filters) (`{{call.status | map: missed=perdida}}`). [`parse`] splits a template into
//! parts once; [`Scope::resolve`] finds a variable's value in an event; [`render`] writes the parts with
//! the escaping of the place they go (a body in some format, or a URL).

use gancho_sdk::{Event, PluginError, percent_encode};
use serde_json::{Map, Value};

use crate::filters::{self, Defaults, Filter};

/// A piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part<'t> {
    /// Text copied as is.
    Literal(&'t str),
    /// `{{ path | filter … }}`.
    Variable(Variable<'t>),
}

/// A variable: its path, split on `.`, and the filters its value goes through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable<'t> {
    pub path: Vec<&'t str>,
    pub filters: Vec<Filter>,
}

/// Where rendered text goes, which decides how a variable's value is escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A plain-text body: values as they are.
    Text,
    /// An `application/x-www-form-urlencoded` body: values encoded as form values (space as `+`).
    Form,
    /// A JSON body: values inside a string literal are escaped as string content, values standing alone
    /// are written as JSON (a missing value is `null`). The result must be valid JSON.
    Json,
    /// A URL: values percent-encoded (space as `%20`, `+` as `%2B`).
    Url,
}

/// Splits `template` into literals and variables. `field` names the config field in errors.
pub fn parse<'t>(template: &'t str, field: &str) -> Result<Vec<Part<'t>>, PluginError> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            parts.push(Part::Literal(&rest[..open]));
        }
        let offset = template.len() - rest.len() + open;
        let Some(close) = rest[open + 2..].find("}}") else {
            return Err(PluginError::permanent(format!(
                "config field \"{field}\" has an unclosed \"{{{{\" at {}; close it with \"}}}}\"",
                position(template, offset)
            )));
        };
        let inside = &rest[open + 2..open + 2 + close];
        let mut pieces = filters::split_outside_quotes(inside, '|').into_iter();
        let name = pieces.next().unwrap_or_default().trim();
        let path: Vec<&str> = name.split('.').collect();
        let valid = path.iter().all(|segment| {
            !segment.is_empty() && !segment.contains(|c: char| c.is_whitespace() || c == '{' || c == '}')
        });
        if !valid {
            return Err(PluginError::permanent(format!(
                "config field \"{field}\" has an invalid variable {{{{{name}}}}} at {}; write a dotted path such \
                 as {{{{call.from}}}} or {{{{chat.messages.0.text}}}}",
                position(template, offset)
            )));
        }
        let filters = pieces.map(filters::parse).collect::<Result<Vec<_>, _>>().map_err(|message| {
            PluginError::permanent(format!(
                "config field \"{field}\" has a bad filter in {{{{{}}}}} at {}: {message}",
                inside.trim(),
                position(template, offset)
            ))
        })?;
        parts.push(Part::Variable(Variable { path, filters }));
        rest = &rest[open + 2 + close + 2..];
    }
    if !rest.is_empty() {
        parts.push(Part::Literal(rest));
    }
    Ok(parts)
}

/// `line L, column C` (1-based, in characters) of a byte offset.
fn position(text: &str, offset: usize) -> String {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    format!("line {line}, column {column}")
}

/// What variables resolve against: `event.*` (the envelope) and the top-level keys of the event's data.
pub struct Scope {
    envelope: Map<String, Value>,
    data: Map<String, Value>,
    event_type: String,
    /// Whether a field absent from its object is an error (checking a config on a sample event, which
    /// has every field of its type) rather than empty text and a warning in the logs (a live event).
    strict: bool,
}

impl Scope {
    /// For a live event: a field absent from its object is empty, and logged as a warning.
    pub fn new(event: &Event, data: Value) -> Scope {
        Scope::with_strictness(event, data, false)
    }

    /// For a sample event of the catalog, which has every field its type can have: a field absent from
    /// its object is an error naming it and the fields there are.
    pub fn strict(event: &Event, data: Value) -> Scope {
        Scope::with_strictness(event, data, true)
    }

    fn with_strictness(event: &Event, data: Value, strict: bool) -> Scope {
        let envelope = [
            ("id", &event.id),
            ("type", &event.event_type),
            ("tenant", &event.tenant),
            ("timestamp", &event.timestamp),
        ];
        Scope {
            envelope: envelope.into_iter().map(|(k, v)| (k.to_owned(), Value::String(v.clone()))).collect(),
            data: match data {
                Value::Object(data) => data,
                _ => Map::new(),
            },
            event_type: event.event_type.clone(),
            strict,
        }
    }

    /// The value at `path`; `None` for an optional field that is absent or `null` on this event (its parent
    /// exists). A path that cannot exist is an error naming the variable and what is available instead: a
    /// first segment that is neither `event` nor a key of the data, a field of `event` other than its four,
    /// a field of a text, number or boolean, or a non-index into a list.
    pub fn resolve(&self, path: &[&str]) -> Result<Option<&Value>, PluginError> {
        let variable = path.join(".");
        let unknown = |what: String| {
            PluginError::permanent(format!("unknown template variable {{{{{variable}}}}}: {what}"))
        };
        let (mut value, rest) = match path {
            ["event", field] => {
                return match self.envelope.get(*field) {
                    Some(value) => Ok(Some(value)),
                    None => Err(unknown("the event has id, type, tenant and timestamp".to_owned())),
                };
            }
            ["event", ..] => {
                return Err(unknown(
                    "event.id, event.type, event.tenant and event.timestamp are text".to_owned(),
                ));
            }
            [first, rest @ ..] => match self.data.get(*first) {
                Some(value) => (value, rest),
                None => {
                    let keys: Vec<&str> =
                        ["event"].into_iter().chain(self.data.keys().map(String::as_str)).collect();
                    return Err(unknown(format!(
                        "\"{first}\" is neither \"event\" nor a field of this event's data; available: {}",
                        keys.join(", ")
                    )));
                }
            },
            [] => return Err(unknown("empty path".to_owned())),
        };
        let mut walked = path[0].to_owned();
        for segment in rest {
            value = match value {
                Value::Null => return Ok(None),
                Value::Object(object) => match object.get(*segment) {
                    Some(value) => value,
                    None => {
                        let fields: Vec<&str> = object.keys().map(String::as_str).collect();
                        let absent = format!(
                            "{} events have no \"{segment}\" in \"{walked}\" (it has {})",
                            self.event_type,
                            fields.join(", ")
                        );
                        if self.strict {
                            return Err(unknown(absent));
                        }
                        gancho_sdk::warn!("template variable {{{{{variable}}}}} is written empty: {absent}");
                        return Ok(None);
                    }
                },
                Value::Array(items) => match segment.parse::<usize>() {
                    Ok(index) => match items.get(index) {
                        Some(value) => value,
                        None => return Ok(None),
                    },
                    Err(_) => {
                        return Err(unknown(format!(
                            "\"{walked}\" is a list of {} items; pick one by index, as in {walked}.0",
                            items.len()
                        )));
                    }
                },
                scalar => {
                    return Err(unknown(format!(
                        "\"{walked}\" is {}, which has no field \"{segment}\"",
                        kind(scalar)
                    )));
                }
            };
            walked = format!("{walked}.{segment}");
        }
        Ok(Some(value).filter(|value| !value.is_null()))
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "text",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        _ => "a value",
    }
}

/// Renders `parts` for `target`. For [`Target::Json`], `field` names the config field if the result is
/// not valid JSON.
pub fn render(
    parts: &[Part],
    scope: &Scope,
    defaults: Defaults,
    target: Target,
    field: &str,
) -> Result<String, PluginError> {
    let mut out = String::new();
    let mut json = JsonScan::default();
    for part in parts {
        match part {
            Part::Literal(text) => {
                out.push_str(text);
                json.scan(text);
            }
            Part::Variable(variable) => {
                let mut value = scope.resolve(&variable.path)?.cloned();
                for filter in &variable.filters {
                    value = filters::apply(filter, value.as_ref(), defaults).map_err(|message| {
                        PluginError::permanent(format!(
                            "config field \"{field}\": {{{{{}}}}}: {message}",
                            variable.path.join(".")
                        ))
                    })?;
                }
                write_value(&mut out, value.as_ref().filter(|v| !v.is_null()), target, json.in_string)
            }
        }
    }
    if target == Target::Json
        && let Err(error) = serde_json::from_str::<serde::de::IgnoredAny>(&out)
    {
        return Err(PluginError::permanent(format!(
            "config field \"{field}\" does not render to valid JSON ({error}); check its quotes, commas and \
             braces. A variable outside quotes is written as a JSON value, one inside quotes as part of the string"
        )));
    }
    Ok(out)
}

/// Writes one value with the escaping its place needs: the one place that knows how each target escapes.
fn write_value(out: &mut String, value: Option<&Value>, target: Target, in_json_string: bool) {
    if target == Target::Json && !in_json_string {
        out.push_str(&value.map_or_else(|| "null".to_owned(), Value::to_string));
        return;
    }
    let text = match value {
        None => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    };
    match target {
        Target::Text => out.push_str(&text),
        // Percent-encoding leaves no literal `+`, so every `%20` can become the form's `+`.
        Target::Form => out.push_str(&percent_encode(&text).replace("%20", "+")),
        Target::Url => out.push_str(&percent_encode(&text)),
        Target::Json => {
            let quoted = Value::String(text).to_string();
            out.push_str(&quoted[1..quoted.len() - 1]);
        }
    }
}

/// Tracks whether the end of the literal text seen so far is inside a JSON string.
#[derive(Default)]
struct JsonScan {
    in_string: bool,
    escaped: bool,
}

impl JsonScan {
    fn scan(&mut self, literal: &str) {
        for c in literal.chars() {
            match (self.in_string, self.escaped, c) {
                (true, true, _) => self.escaped = false,
                (true, false, '\\') => self.escaped = true,
                (_, false, '"') => self.in_string = !self.in_string,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        let event = Event {
            id: "evt_1".into(),
            event_type: "call.ended".into(),
            tenant: "acme".into(),
            timestamp: "2026-11-21T14:02:14Z".into(),
            data_json: String::new(),
        };
        Scope::new(&event, serde_json::json!({"call": {"from": "say \"hi\"", "duration_s": 7}}))
    }

    #[test]
    fn parse_splits_literals_and_trimmed_variables() {
        assert_eq!(
            parse("a {{ call.from }}{{event.id}} b", "template").unwrap(),
            [
                Part::Literal("a "),
                Part::Variable(Variable { path: vec!["call", "from"], filters: vec![] }),
                Part::Variable(Variable { path: vec!["event", "id"], filters: vec![] }),
                Part::Literal(" b"),
            ]
        );
        assert_eq!(parse("", "template").unwrap(), []);
        assert_eq!(parse("no variables }}", "template").unwrap(), [Part::Literal("no variables }}")]);
    }

    #[test]
    fn positions_count_lines_and_characters() {
        let error = parse("ñandú\n  día {{call", "url").unwrap_err();
        assert_eq!(
            error.message,
            "config field \"url\" has an unclosed \"{{\" at line 2, column 7; close it with \"}}\""
        );
    }

    #[test]
    fn json_context_follows_string_literals_and_their_escapes() {
        let template =
            r#"{"q": "he said \"{{call.from}}\"", "n": {{call.duration_s}}, "s": "{{call.duration_s}}"}"#;
        let parts = parse(template, "template").unwrap();
        let json = render(&parts, &scope(), Defaults::default(), Target::Json, "template").unwrap();
        assert_eq!(json, r#"{"q": "he said \"say \"hi\"\"", "n": 7, "s": "7"}"#);
        assert_eq!(
            serde_json::from_str::<Value>(&json).unwrap(),
            serde_json::json!({"q": "he said \"say \"hi\"\"", "n": 7, "s": "7"})
        );
    }
}
