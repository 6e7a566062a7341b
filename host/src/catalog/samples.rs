//! The sample events of the catalog (`plugin-sdk/samples/`), compiled in: the template editor previews on
//! them, the catalog reads its fields from them, and a test send sends one.

/// (event type, the sample envelope without its `tenant`).
pub fn all() -> Vec<(String, serde_json::Value)> {
    const FILES: &[&str] = &[
        include_str!("../../../plugin-sdk/samples/call.started.json"),
        include_str!("../../../plugin-sdk/samples/call.answered.json"),
        include_str!("../../../plugin-sdk/samples/call.ended.json"),
        include_str!("../../../plugin-sdk/samples/call.ended.missed.json"),
        include_str!("../../../plugin-sdk/samples/call.recording_ready.json"),
        include_str!("../../../plugin-sdk/samples/chat.closed.json"),
        include_str!("../../../plugin-sdk/samples/chat.exported.json"),
        include_str!("../../../plugin-sdk/samples/template.quick_reply.json"),
    ];
    FILES
        .iter()
        .filter_map(|text| serde_json::from_str::<serde_json::Value>(text).ok())
        .map(|mut event| {
            if let Some(envelope) = event.as_object_mut() {
                envelope.remove("tenant");
            }
            (event["type"].as_str().unwrap_or_default().to_owned(), event)
        })
        .collect()
}

/// One sample envelope of each catalog type that matches one of `patterns` (a subscription's event types),
/// in the catalog's order, with `tenant` set: what a plugin's configuration check tries a configuration on.
pub fn for_patterns(patterns: &[String], tenant: &str) -> Vec<serde_json::Value> {
    let mut chosen: Vec<(String, serde_json::Value)> = Vec::new();
    for (event_type, mut event) in all() {
        let wanted = patterns.iter().any(|p| crate::pipeline::event_type_matches(p, &event_type));
        if wanted && !chosen.iter().any(|(t, _)| *t == event_type) {
            event["tenant"] = tenant.into();
            chosen.push((event_type, event));
        }
    }
    chosen.into_iter().map(|(_, event)| event).collect()
}

/// The catalog's event types, in order.
pub const EVENT_TYPES: &[&str] = &[
    "call.started",
    "call.answered",
    "call.ended",
    "call.recording_ready",
    "chat.closed",
    "chat.exported",
    "template.quick_reply",
];

#[cfg(test)]
mod tests {
    #[test]
    fn every_catalog_type_has_a_sample() {
        let samples = super::all();
        for event_type in super::EVENT_TYPES {
            assert!(samples.iter().any(|(t, _)| t == event_type), "no sample of {event_type}");
        }
        assert!(samples.iter().all(|(_, event)| event.get("tenant").is_none()));
    }

    #[test]
    fn one_sample_of_each_type_a_subscription_receives() {
        let chosen = super::for_patterns(&["call.ended".into(), "chat.*".into()], "acme");
        let types: Vec<&str> = chosen.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["call.ended", "chat.closed", "chat.exported"]);
        assert!(chosen.iter().all(|e| e["tenant"] == "acme"));
        assert!(super::for_patterns(&["invoice.paid".into()], "acme").is_empty());
    }
}
