//! Which subscriptions an event goes to: event type patterns (`call.ended`, `chat.*`, `*`), then each
//! subscription's filter (see [`crate::conditions`]), and a test send's one subscription.

use std::sync::Arc;

use crate::conditions::EventView;
use crate::store::{ClaimedEvent, Subscription};

/// The subscriptions (of the event's tenant, enabled) that `event` goes through. The event's data is
/// parsed only when a subscription of its type has a filter; data that is not JSON passes no filter.
pub fn subscriptions_for(
    event: &ClaimedEvent,
    subscriptions: &[Arc<Subscription>],
) -> Vec<Arc<Subscription>> {
    let mut data: Option<serde_json::Value> = None;
    subscriptions
        .iter()
        .filter(|s| s.event_types.iter().any(|p| event_type_matches(p, &event.event_type)))
        .filter(|s| event.only_subscription().is_none_or(|only| only == s.id))
        .filter(|s| {
            let Some(filter) = &s.filter else { return true };
            let data = data.get_or_insert_with(|| {
                serde_json::from_str(&event.data_json).unwrap_or(serde_json::Value::Null)
            });
            let view =
                EventView { event_type: &event.event_type, id: &event.id, timestamp: &event.timestamp, data };
            filter.matches(&view)
        })
        .cloned()
        .collect()
}

/// Whether `pattern` is a valid event type pattern: `*`, a type (`call.ended`), or a type prefix
/// followed by `.*` (`chat.*`).
pub fn valid_event_type_pattern(pattern: &str) -> bool {
    let segments = match pattern {
        "*" => return true,
        _ => pattern.strip_suffix(".*").unwrap_or(pattern),
    };
    segments.len() <= 128
        && segments.split('.').all(|segment| {
            !segment.is_empty()
                && segment.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

/// Whether an event of type `event_type` matches `pattern`.
pub fn event_type_matches(pattern: &str, event_type: &str) -> bool {
    match pattern.strip_suffix(".*") {
        _ if pattern == "*" => true,
        Some(prefix) => event_type.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('.')),
        None => pattern == event_type,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_exactly_by_prefix_or_all() {
        assert!(event_type_matches("call.ended", "call.ended"));
        assert!(!event_type_matches("call.ended", "call.ended_late"));
        assert!(event_type_matches("chat.*", "chat.closed"));
        assert!(event_type_matches("chat.*", "chat.exported.v2"));
        assert!(!event_type_matches("chat.*", "chatbot.closed"));
        assert!(!event_type_matches("chat.*", "chat"));
        assert!(event_type_matches("*", "invoice.paid"));
    }

    #[test]
    fn invalid_patterns_are_refused() {
        for good in ["*", "call.ended", "chat.*", "a_1.b_2"] {
            assert!(valid_event_type_pattern(good), "{good}");
        }
        for bad in ["", "Call.Ended", "chat.", "*.closed", "chat..closed", "chat.**"] {
            assert!(!valid_event_type_pattern(bad), "{bad}");
        }
    }
}
