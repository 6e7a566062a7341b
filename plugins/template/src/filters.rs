//! Filters after a variable, each after a `|`, applied left to right:
//! - `map: missed=perdida, answered=atendida, *=otra`: a value's words in the customer's; an unmapped value
//!   passes unchanged, unless `*=` gives one for every other value.
//! - `number: 2, ","`: a number (or numeric text) with that many decimals and that decimal separator
//!   (defaults: the decimals it has, and the config's `decimal_separator`).
//! - `date: "%d/%m/%Y %H:%M", "America/Argentina/Buenos_Aires"`: an RFC 3339 time in that zone (default:
//!   the config's `timezone`, else UTC), written by the pattern (default `%Y-%m-%d %H:%M`).
//!
//! Arguments are separated by commas; quote one (`"…"` or `'…'`) that holds a comma, `|` or spaces at its
//! ends.

use gancho_sdk::time::to_local;
use serde_json::Value;

/// One filter, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    Map { pairs: Vec<(String, String)>, otherwise: Option<String> },
    Number { decimals: Option<usize>, separator: Option<String> },
    Date { pattern: Option<String>, zone: Option<String> },
}

/// What filters fall back on when their arguments leave something out: the config's settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct Defaults<'c> {
    pub decimal_separator: Option<&'c str>,
    pub timezone: Option<&'c str>,
}

/// Splits `text` on `separator` outside quotes.
pub fn split_outside_quotes(text: &str, separator: char) -> Vec<&str> {
    let (mut pieces, mut start, mut quote) = (Vec::new(), 0, None);
    for (at, c) in text.char_indices() {
        match quote {
            Some(open) if c == open => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == separator => {
                pieces.push(&text[start..at]);
                start = at + c.len_utf8();
            }
            None => {}
        }
    }
    pieces.push(&text[start..]);
    pieces
}

/// An argument without its surrounding whitespace and quotes.
fn unquote(argument: &str) -> String {
    let argument = argument.trim();
    for quote in ['"', '\''] {
        if let Some(inner) = argument.strip_prefix(quote).and_then(|rest| rest.strip_suffix(quote)) {
            return inner.to_owned();
        }
    }
    argument.to_owned()
}

/// Parses one filter, `name: arguments`; the error says what to write instead.
pub fn parse(text: &str) -> Result<Filter, String> {
    let (name, arguments) = text.split_once(':').unwrap_or((text, ""));
    let arguments: Vec<String> = match arguments.trim() {
        "" => Vec::new(),
        listed => split_outside_quotes(listed, ',').into_iter().map(unquote).collect(),
    };
    match name.trim() {
        "map" => {
            let (mut pairs, mut otherwise) = (Vec::new(), None);
            for argument in &arguments {
                let Some((from, to)) = argument.split_once('=') else {
                    return Err(format!(
                        "map takes value=word pairs, as in map: missed=perdida; not {argument:?}"
                    ));
                };
                match from.trim() {
                    "*" => otherwise = Some(to.trim().to_owned()),
                    from => pairs.push((from.to_owned(), to.trim().to_owned())),
                }
            }
            if pairs.is_empty() && otherwise.is_none() {
                return Err("map needs value=word pairs, as in map: missed=perdida, answered=atendida".into());
            }
            Ok(Filter::Map { pairs, otherwise })
        }
        "number" => {
            let decimals = match arguments.first().map(String::as_str) {
                None | Some("") => None,
                Some(digits) => Some(digits.parse::<usize>().ok().filter(|d| *d <= 10).ok_or_else(|| {
                    format!(
                        "number takes the decimals first, 0 to 10, as in number: 2, \",\"; not {digits:?}"
                    )
                })?),
            };
            Ok(Filter::Number { decimals, separator: arguments.get(1).cloned() })
        }
        "date" => {
            let zone = arguments.get(1).cloned();
            if let Some(zone) = &zone {
                to_local("2026-01-01T00:00:00Z", zone).map_err(|error| error.message)?;
            }
            Ok(Filter::Date { pattern: arguments.first().cloned().filter(|p| !p.is_empty()), zone })
        }
        other => Err(format!("there is no filter {other:?}; use map, number or date")),
    }
}

/// `value` through `filter`; `None` stays `None` (but for `map` with `*=`). The error names what the
/// value is instead.
pub fn apply(filter: &Filter, value: Option<&Value>, defaults: Defaults) -> Result<Option<Value>, String> {
    let text = |value: &Value| match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    match filter {
        Filter::Map { pairs, otherwise } => {
            let given = value.map(text);
            let mapped =
                pairs.iter().find(|(from, _)| Some(from) == given.as_ref()).map(|(_, to)| to.clone());
            Ok(match (mapped, otherwise) {
                (Some(word), _) => Some(Value::String(word)),
                (None, Some(word)) => Some(Value::String(word.clone())),
                (None, None) => value.cloned(),
            })
        }
        Filter::Number { decimals, separator } => {
            let Some(value) = value else { return Ok(None) };
            let written = text(value);
            let number: f64 = written.trim().parse().map_err(|_| format!("{written:?} is not a number"))?;
            let written = match decimals {
                Some(decimals) => format!("{number:.decimals$}"),
                None => written.trim().to_owned(),
            };
            let separator = separator.as_deref().or(defaults.decimal_separator).unwrap_or(".");
            Ok(Some(Value::String(written.replace('.', separator))))
        }
        Filter::Date { pattern, zone } => {
            let Some(value) = value else { return Ok(None) };
            let zone = zone.as_deref().or(defaults.timezone).unwrap_or("UTC");
            let local = to_local(&text(value), zone).map_err(|error| error.message)?;
            Ok(Some(Value::String(local.format(pattern.as_deref().unwrap_or("%Y-%m-%d %H:%M")))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn through(filter: &str, value: Value) -> Result<Option<Value>, String> {
        apply(&parse(filter)?, Some(&value), Defaults::default())
    }

    #[test]
    fn map_gives_her_words_and_passes_the_rest() {
        assert_eq!(
            through("map: missed=perdida, answered=atendida", json!("missed")),
            Ok(Some(json!("perdida")))
        );
        assert_eq!(through("map: missed=perdida", json!("busy")), Ok(Some(json!("busy"))));
        assert_eq!(through("map: missed=perdida, *=otra", json!("busy")), Ok(Some(json!("otra"))));
        assert_eq!(through("map: true=sí, false=no", json!(true)), Ok(Some(json!("sí"))));
        assert!(parse("map: perdida").unwrap_err().contains("value=word"));
    }

    #[test]
    fn number_writes_her_decimal_separator() {
        assert_eq!(through(r#"number: 2, ",""#, json!("12.5")), Ok(Some(json!("12,50"))));
        assert_eq!(through("number: 0", json!(134.4)), Ok(Some(json!("134"))));
        let defaults = Defaults { decimal_separator: Some(","), timezone: None };
        assert_eq!(apply(&parse("number").unwrap(), Some(&json!("0.75")), defaults), Ok(Some(json!("0,75"))));
        assert_eq!(through("number: 2", json!("doce")), Err("\"doce\" is not a number".into()));
        assert!(parse("number: dos").is_err());
    }

    #[test]
    fn date_is_written_in_her_zone_across_daylight_saving() {
        let madrid = r#"date: "%d/%m/%Y %H:%M %Z", "Europe/Madrid""#;
        assert_eq!(through(madrid, json!("2026-03-29T00:30:00Z")), Ok(Some(json!("29/03/2026 01:30 CET"))));
        assert_eq!(through(madrid, json!("2026-03-29T01:30:00Z")), Ok(Some(json!("29/03/2026 03:30 CEST"))));
        let defaults = Defaults { decimal_separator: None, timezone: Some("America/Argentina/Buenos_Aires") };
        let date = parse("date: '%d/%m/%Y %H:%M'").unwrap();
        assert_eq!(
            apply(&date, Some(&json!("2026-11-21T14:02:14Z")), defaults),
            Ok(Some(json!("21/11/2026 11:02")))
        );
        assert!(parse(r#"date: "%d", "America/Buenos_Aries""#).unwrap_err().starts_with("unknown time zone"));
        assert!(parse("upper").unwrap_err().contains("there is no filter \"upper\""));
    }
}
