//! A plugin built against `gancho:plugin@0.1.1`, from a verbatim copy of that version's WIT (`wit/`), as
//! plugins compiled before 0.1.2 are: it checks its configuration but has no `merge`. Gancho must keep
//! loading and running it, one request per delivery.

wit_bindgen::generate!({ path: "wit", world: "plugin" });

use gancho::plugin::log::{Level, log};
use gancho::plugin::types::Method;

struct Old;

impl Guest for Old {
    /// One POST to the endpoint, its body the event's id and type.
    fn transform(event: Event, _subscription: Subscription) -> Result<Vec<Request>, PluginError> {
        log(Level::Info, &format!("mapping {}", event.id));
        let body = format!("{} {}", event.id, event.event_type);
        Ok(vec![Request { method: Method::Post, url: None, headers: vec![], body: body.into_bytes() }])
    }

    /// Refuses a configuration that is not a JSON object (by its first character, to need no parser).
    fn validate_config(config: String) -> Result<(), ConfigError> {
        match config.trim_start().starts_with('{') {
            true => Ok(()),
            false => Err(ConfigError { field: None, message: "set a JSON object".into() }),
        }
    }
}

export!(Old);
