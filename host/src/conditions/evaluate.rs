//! One condition on one event: reading the field, comparing it with the value.

use std::cmp::Ordering;

use serde_json::Value;

use super::{Condition, Op};

/// What a filter reads of an event: its envelope and its parsed data.
pub struct EventView<'a> {
    pub event_type: &'a str,
    pub id: &'a str,
    pub timestamp: &'a str,
    pub data: &'a Value,
}

/// Whether `condition` holds for `event`. A missing or `null` field holds only `not_exists`, `not_equals`
/// and `not_in`.
pub fn holds(condition: &Condition, event: &EventView<'_>) -> bool {
    let envelope;
    let field = match condition.field.as_str() {
        "event.type" => {
            envelope = Value::String(event.event_type.to_owned());
            Some(&envelope)
        }
        "event.id" => {
            envelope = Value::String(event.id.to_owned());
            Some(&envelope)
        }
        "event.timestamp" => {
            envelope = Value::String(event.timestamp.to_owned());
            Some(&envelope)
        }
        path => path.split('.').try_fold(event.data, |value, segment| value.get(segment)),
    }
    .filter(|value| !value.is_null());
    let value = condition.value.as_ref();
    match (condition.op, field) {
        (Op::Exists, field) => field.is_some(),
        (Op::NotExists, field) => field.is_none(),
        (Op::NotEquals, field) => !field.is_some_and(|f| value.is_some_and(|v| same(f, v))),
        (Op::NotIn, field) => !field.is_some_and(|f| in_list(f, value)),
        (_, None) => false,
        (Op::Equals, Some(field)) => value.is_some_and(|v| same(field, v)),
        (Op::In, Some(field)) => in_list(field, value),
        (Op::Contains, Some(field)) => value.is_some_and(|v| contains(field, v)),
        (Op::GreaterThan, Some(field)) => value.and_then(|v| compare(field, v)) == Some(Ordering::Greater),
        (Op::LessThan, Some(field)) => value.and_then(|v| compare(field, v)) == Some(Ordering::Less),
    }
}

fn in_list(field: &Value, list: Option<&Value>) -> bool {
    list.and_then(Value::as_array).is_some_and(|items| items.iter().any(|item| same(field, item)))
}

/// Equal values; numbers by value (`10` equals `10.0`), and a number equals text holding that number
/// (money is sent as a decimal string).
fn same(field: &Value, value: &Value) -> bool {
    match (number(field), number(value)) {
        (Some(a), Some(b)) if field.is_number() || value.is_number() => a == b,
        _ => field == value,
    }
}

fn contains(field: &Value, value: &Value) -> bool {
    match (field, value) {
        (Value::String(text), Value::String(part)) => text.to_lowercase().contains(&part.to_lowercase()),
        (Value::Array(items), value) => items.iter().any(|item| same(item, value)),
        _ => false,
    }
}

/// Orders numbers (and decimal text) by value, RFC 3339 times by instant.
fn compare(field: &Value, value: &Value) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (number(field), number(value)) {
        return a.partial_cmp(&b);
    }
    match (instant(field), instant(value)) {
        (Some(a), Some(b)) => Some(a.cmp(&b)),
        _ => None,
    }
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
        _ => None,
    }
}

fn instant(value: &Value) -> Option<time::OffsetDateTime> {
    let text = value.as_str()?;
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

/// Whether a text value can be ordered: a number or an RFC 3339 time.
pub(super) fn comparable_text(text: &str) -> bool {
    let value = Value::String(text.to_owned());
    number(&value).is_some() || instant(&value).is_some()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::conditions::Filter;

    fn ended(status: &str, duration: u64, amount: &str) -> Value {
        json!({"call": {"status": status, "duration_s": duration, "cost": {"amount": amount},
                        "answered_at": null, "ended_at": "2026-11-21T14:02:14Z", "tags": ["vip", "ventas"],
                        "caller_name": "Juan Gómez"}})
    }

    fn passes(filter: Value, data: &Value) -> bool {
        let filter: Filter = serde_json::from_value(filter).unwrap();
        let view =
            EventView { event_type: "call.ended", id: "evt_1", timestamp: "2026-11-21T14:02:14Z", data };
        filter.matches(&view)
    }

    #[test]
    fn every_operator_on_every_field_type() {
        let missed = ended("missed", 31, "0.00");
        let answered = ended("answered", 134, "12.50");
        let cases = [
            (json!({"all": [{"field": "call.status", "op": "equals", "value": "missed"}]}), true, false),
            (json!({"all": [{"field": "call.status", "op": "not_equals", "value": "missed"}]}), false, true),
            (
                json!({"all": [{"field": "call.status", "op": "in", "value": ["missed", "busy"]}]}),
                true,
                false,
            ),
            (json!({"all": [{"field": "call.status", "op": "not_in", "value": ["missed"]}]}), false, true),
            (json!({"all": [{"field": "call.duration_s", "op": "greater_than", "value": 60}]}), false, true),
            (json!({"all": [{"field": "call.duration_s", "op": "less_than", "value": 60}]}), true, false),
            (json!({"all": [{"field": "call.duration_s", "op": "equals", "value": 31.0}]}), true, false),
            (json!({"all": [{"field": "call.cost.amount", "op": "greater_than", "value": 10}]}), false, true),
            (json!({"all": [{"field": "call.cost.amount", "op": "equals", "value": 12.5}]}), false, true),
            (json!({"all": [{"field": "call.answered_at", "op": "exists"}]}), false, false),
            (json!({"all": [{"field": "call.answered_at", "op": "not_exists"}]}), true, true),
            (json!({"all": [{"field": "call.nothing", "op": "not_equals", "value": "x"}]}), true, true),
            (json!({"all": [{"field": "call.caller_name", "op": "contains", "value": "gómez"}]}), true, true),
            (json!({"all": [{"field": "call.tags", "op": "contains", "value": "vip"}]}), true, true),
            (
                json!({"all": [{"field": "call.ended_at", "op": "greater_than", "value": "2026-11-21T11:00:00-03:00"}]}),
                true,
                true,
            ),
            (
                json!({"all": [{"field": "call.ended_at", "op": "less_than", "value": "2026-11-21T11:00:00-03:00"}]}),
                false,
                false,
            ),
            (json!({"all": [{"field": "event.type", "op": "equals", "value": "call.ended"}]}), true, true),
            (
                json!({"any": [{"field": "call.status", "op": "equals", "value": "busy"},
                            {"field": "call.duration_s", "op": "less_than", "value": 60}]}),
                true,
                false,
            ),
            (
                json!({"all": [{"field": "call.status", "op": "equals", "value": "missed"},
                            {"field": "call.duration_s", "op": "greater_than", "value": 60}]}),
                false,
                false,
            ),
        ];
        for (filter, on_missed, on_answered) in cases {
            assert_eq!(passes(filter.clone(), &missed), on_missed, "{filter} on a missed call");
            assert_eq!(passes(filter.clone(), &answered), on_answered, "{filter} on an answered call");
        }
    }
}
