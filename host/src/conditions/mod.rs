//! A subscription's filter ("only when"): conditions on the event, checked by the host before any plugin
//! runs, so a filtered-out event costs no plugin time and the filter works with every plugin.
//!
//! `{"all": [cond, …]}` or `{"any": [cond, …]}`, each `cond` being `{"field": "call.status", "op":
//! "equals", "value": "missed"}`. Fields are paths into the event's `data` (as the template plugin's
//! variables and the ordering key are), or `event.type`, `event.id`, `event.timestamp`. [`check`] refuses a
//! field the chosen event types do not have and a value of the wrong type, naming the condition at fault.

mod evaluate;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::{self, FieldKind};

/// Most conditions in one filter.
const MAX_CONDITIONS: usize = 20;
/// Most values an `in` / `not_in` list holds.
const MAX_LIST: usize = 100;
/// Longest text value, and longest field path, in bytes.
const MAX_TEXT: usize = 1_000;
const MAX_PATH: usize = 200;

/// A checked filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Every condition must hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<Vec<Condition>>,
    /// At least one condition must hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any: Option<Vec<Condition>>,
}

/// One condition on a field of the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// A path into the event's data (`call.status`), or `event.type`, `event.id`, `event.timestamp`.
    pub field: String,
    pub op: Op,
    /// What the field is compared with: absent for `exists` / `not_exists`, a list for `in` / `not_in`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub value: Option<Value>,
}

/// How a field is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Equals,
    NotEquals,
    In,
    NotIn,
    Exists,
    NotExists,
    /// Text containing the value (ignoring case), or a list holding it.
    Contains,
    GreaterThan,
    LessThan,
}

/// Why a filter was refused: the path of the part at fault (`filter.all[1].value`) and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    pub field: String,
    pub message: String,
}

fn refuse(field: impl Into<String>, message: impl Into<String>) -> FilterError {
    FilterError { field: field.into(), message: message.into() }
}

/// The envelope's fields a filter may use, with their types.
const ENVELOPE: &[(&str, FieldKind)] = &[
    ("event.type", FieldKind::String),
    ("event.id", FieldKind::String),
    ("event.timestamp", FieldKind::String),
];

/// Parses and checks a filter for a subscription to `event_types`. With `custom_types` (the subscription
/// takes types outside the catalog), or patterns that match no catalog type, fields cannot be known in
/// advance: only the shape and the values are checked.
pub fn check(value: Value, event_types: &[String], custom_types: bool) -> Result<Filter, FilterError> {
    let filter: Filter = serde_json::from_value(value).map_err(|error| {
        refuse(
            "filter",
            format!(
                "`filter` must be {{\"all\": [conditions]}} or {{\"any\": [conditions]}}, each condition \
                 {{\"field\": \"call.status\", \"op\": \"equals\", \"value\": \"missed\"}}: {error}"
            ),
        )
    })?;
    let (mode, conditions) = match (&filter.all, &filter.any) {
        (Some(all), None) => ("all", all),
        (None, Some(any)) => ("any", any),
        _ => return Err(refuse("filter", "`filter` takes exactly one of `all` and `any`")),
    };
    if conditions.is_empty() || conditions.len() > MAX_CONDITIONS {
        return Err(refuse(
            format!("filter.{mode}"),
            format!("`filter.{mode}` takes 1 to {MAX_CONDITIONS} conditions, not {}", conditions.len()),
        ));
    }
    let known = catalog::fields_for(event_types);
    let only_catalog_types = !custom_types
        && event_types.iter().all(|pattern| {
            catalog::EVENT_TYPES.iter().any(|t| crate::pipeline::event_type_matches(pattern, t))
        });
    for (index, condition) in conditions.iter().enumerate() {
        let at = format!("filter.{mode}[{index}]");
        let kind = field_kind(condition, &known, only_catalog_types, &at)?;
        check_value(condition, kind, known.get(&condition.field).and_then(|f| f.values), &at)?;
    }
    Ok(filter)
}

/// The type of the condition's field, when the catalog knows it.
fn field_kind(
    condition: &Condition,
    known: &std::collections::BTreeMap<String, catalog::Field>,
    only_catalog_types: bool,
    at: &str,
) -> Result<Option<FieldKind>, FilterError> {
    let path = condition.field.as_str();
    let valid_path = !path.is_empty()
        && path.len() <= MAX_PATH
        && path
            .split('.')
            .all(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
    if !valid_path {
        return Err(refuse(
            format!("{at}.field"),
            format!("`{path}` is not a field path: use dot-separated names, like `call.status`"),
        ));
    }
    if let Some((_, kind)) = ENVELOPE.iter().find(|(name, _)| *name == path) {
        return Ok(Some(*kind));
    }
    if path.starts_with("event.") {
        return Err(refuse(
            format!("{at}.field"),
            format!("`{path}`: the envelope's fields are `event.type`, `event.id` and `event.timestamp`"),
        ));
    }
    match known.get(path) {
        Some(field) => Ok(Some(field.kind)),
        None if !only_catalog_types => Ok(None),
        None => {
            let parent = path.rsplit_once('.').map_or("", |(parent, _)| parent);
            let near: Vec<&str> = known
                .keys()
                .filter(|p| p.rsplit_once('.').map_or("", |(parent, _)| parent) == parent)
                .map(String::as_str)
                .take(12)
                .collect();
            let hint =
                if near.is_empty() { String::new() } else { format!("; fields there: {}", near.join(", ")) };
            Err(refuse(format!("{at}.field"), format!("the chosen event types have no field `{path}`{hint}")))
        }
    }
}

/// Checks the condition's value against its operator and, when known, the field's type and values.
fn check_value(
    condition: &Condition,
    kind: Option<FieldKind>,
    values: Option<&[&str]>,
    at: &str,
) -> Result<(), FilterError> {
    let field = &condition.field;
    let value_at = format!("{at}.value");
    let scalar = |value: &Value| -> Result<(), FilterError> {
        let fits = match (kind, value) {
            (_, Value::String(text)) if text.len() > MAX_TEXT => {
                return Err(refuse(&value_at, format!("a value is at most {MAX_TEXT} bytes")));
            }
            (None, Value::String(_) | Value::Number(_) | Value::Bool(_)) => true,
            (Some(FieldKind::String), Value::String(_)) => true,
            (Some(FieldKind::Number), Value::Number(_)) => true,
            (Some(FieldKind::Boolean), Value::Bool(_)) => true,
            _ => false,
        };
        if !fits {
            let wanted = kind.map_or("text, a number or true/false", FieldKind::as_str);
            return Err(refuse(
                &value_at,
                format!("`{field}` is {wanted}, so the value must be too, not {value}"),
            ));
        }
        if let (Some(values), Value::String(text)) = (values, value)
            && !values.contains(&text.as_str())
        {
            return Err(refuse(
                &value_at,
                format!("`{text}` is not a value of `{field}`; it takes {}", values.join(", ")),
            ));
        }
        Ok(())
    };
    match (condition.op, &condition.value) {
        (Op::Exists | Op::NotExists, None) => Ok(()),
        (Op::Exists | Op::NotExists, Some(_)) => {
            Err(refuse(&value_at, "`exists` and `not_exists` take no value"))
        }
        (_, None) => Err(refuse(&value_at, format!("`{}` needs a value", op_name(condition.op)))),
        (Op::Equals | Op::NotEquals, Some(value)) => scalar(value),
        (Op::In | Op::NotIn, Some(Value::Array(items))) if !items.is_empty() && items.len() <= MAX_LIST => {
            items.iter().try_for_each(scalar)
        }
        (Op::In | Op::NotIn, Some(_)) => {
            Err(refuse(&value_at, format!("`in` and `not_in` take a list of 1 to {MAX_LIST} values")))
        }
        (Op::Contains, Some(value)) => match (kind, value) {
            (Some(FieldKind::Array) | None, _) => scalar_any(value, &value_at),
            (Some(FieldKind::String), Value::String(text)) if text.len() <= MAX_TEXT => Ok(()),
            _ => Err(refuse(
                &value_at,
                format!("`contains` works on text and lists; `{field}` is not, or the value is not text"),
            )),
        },
        (Op::GreaterThan | Op::LessThan, Some(value)) => match (kind, value) {
            (Some(FieldKind::Number | FieldKind::String) | None, Value::Number(_)) => Ok(()),
            (Some(FieldKind::String) | None, Value::String(text)) if evaluate::comparable_text(text) => {
                Ok(())
            }
            _ => Err(refuse(
                &value_at,
                format!(
                    "`{}` compares numbers (`{field}` with a number such as 60) or times (an RFC 3339 time)",
                    op_name(condition.op)
                ),
            )),
        },
    }
}

fn scalar_any(value: &Value, at: &str) -> Result<(), FilterError> {
    match value {
        Value::String(text) if text.len() > MAX_TEXT => {
            Err(refuse(at, format!("a value is at most {MAX_TEXT} bytes")))
        }
        Value::String(_) | Value::Number(_) | Value::Bool(_) => Ok(()),
        _ => Err(refuse(at, "the value must be text, a number or true/false")),
    }
}

fn op_name(op: Op) -> String {
    serde_json::to_value(op).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

impl Filter {
    /// Whether the event passes the filter: `data` is its data, parsed.
    pub fn matches(&self, event: &evaluate::EventView<'_>) -> bool {
        match (&self.all, &self.any) {
            (Some(all), _) => all.iter().all(|c| evaluate::holds(c, event)),
            (None, Some(any)) => any.iter().any(|c| evaluate::holds(c, event)),
            (None, None) => true,
        }
    }
}

pub use evaluate::EventView;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn calls() -> Vec<String> {
        vec!["call.ended".to_owned()]
    }

    #[test]
    fn a_filter_on_known_fields_is_accepted() {
        let filter = json!({"all": [
            {"field": "call.status", "op": "equals", "value": "missed"},
            {"field": "call.duration_s", "op": "greater_than", "value": 10},
            {"field": "call.recording_url", "op": "exists"},
            {"field": "call.cost.amount", "op": "less_than", "value": 100},
            {"field": "event.type", "op": "in", "value": ["call.ended"]},
        ]});
        check(filter, &calls(), false).unwrap();
    }

    #[test]
    fn refusals_name_the_condition() {
        let cases = [
            (
                json!({"all": [{"field": "call.form", "op": "exists"}]}),
                "filter.all[0].field",
                "no field `call.form`",
            ),
            (
                json!({"any": [{"field": "call.status", "op": "equals", "value": 3}]}),
                "filter.any[0].value",
                "is string",
            ),
            (
                json!({"all": [{"field": "call.status", "op": "equals", "value": "perdida"}]}),
                "filter.all[0].value",
                "not a value",
            ),
            (
                json!({"all": [{"field": "call.status", "op": "in", "value": "missed"}]}),
                "filter.all[0].value",
                "list",
            ),
            (
                json!({"all": [{"field": "call.status", "op": "exists", "value": 1}]}),
                "filter.all[0].value",
                "no value",
            ),
            (
                json!({"all": [{"field": "call.duration_s", "op": "contains", "value": "1"}]}),
                "filter.all[0].value",
                "contains",
            ),
            (
                json!({"all": [{"field": "call.status", "op": "like", "value": "x"}]}),
                "filter",
                "unknown variant",
            ),
            (json!({"all": [], "any": []}), "filter", "exactly one"),
            (json!({"all": []}), "filter.all", "1 to 20"),
            (json!({"all": [{"field": "event.tenant", "op": "exists"}]}), "filter.all[0].field", "envelope"),
        ];
        for (filter, field, text) in cases {
            let error = check(filter.clone(), &calls(), false).unwrap_err();
            assert_eq!(error.field, field, "{filter}: {}", error.message);
            assert!(error.message.contains(text), "{filter}: {}", error.message);
        }
    }

    #[test]
    fn custom_types_skip_the_field_check_but_not_the_shape() {
        let types = vec!["invoice.paid".to_owned()];
        check(json!({"all": [{"field": "invoice.total", "op": "greater_than", "value": 5}]}), &types, false)
            .unwrap();
        let error =
            check(json!({"all": [{"field": "x", "op": "in", "value": []}]}), &types, false).unwrap_err();
        assert_eq!(error.field, "filter.all[0].value");
    }
}
