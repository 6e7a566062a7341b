//! A plugin built against `gancho:plugin@0.1.0`, from a verbatim copy of that version's WIT (`wit/`), as
//! plugins compiled before 0.1.1 are: it has no `validate-config`. Gancho must keep loading and running it.

wit_bindgen::generate!({ path: "wit", world: "plugin" });

use gancho::plugin::log::{Level, log};
use gancho::plugin::types::Method;

struct Old;

impl Guest for Old {
    /// One POST to the endpoint, its body the event's id and type and the subscription's config.
    fn transform(event: Event, subscription: Subscription) -> Result<Vec<Request>, PluginError> {
        log(Level::Info, &format!("mapping {}", event.id));
        let body = format!("{} {} {}", event.id, event.event_type, subscription.config);
        Ok(vec![Request { method: Method::Post, url: None, headers: vec![], body: body.into_bytes() }])
    }
}

export!(Old);
