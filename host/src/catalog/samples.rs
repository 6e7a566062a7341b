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
}
