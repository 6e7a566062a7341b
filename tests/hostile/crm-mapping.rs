// The mapping the `crm-v*` test plugins share, for tests/rollout.rs: each crate sets `VERSION` and
// includes this file. Version 1 posts the event as JSON; version 2 renames `type` to `event_type`;
// version 3 is version 1 failing on chat events (and logging why).

use gancho_sdk::{Event, PluginError, Request, Subscription};

gancho_sdk::plugin!(transform);

fn transform(event: Event, _subscription: Subscription<serde_json::Value>) -> Result<Vec<Request>, PluginError> {
    if VERSION == 3 && event.event_type.starts_with("chat.") {
        gancho_sdk::warn!("no mapping for {} yet", event.event_type);
        return Err(PluginError::permanent(format!(
            "version 3 cannot map chat events ({}, event {})",
            event.event_type, event.id
        )));
    }
    let type_field = if VERSION == 2 { "event_type" } else { "type" };
    let mut body = serde_json::Map::new();
    body.insert("id".into(), event.id.clone().into());
    body.insert(type_field.into(), event.event_type.clone().into());
    body.insert("tenant".into(), event.tenant.clone().into());
    Ok(vec![Request::json(&body)?])
}
