//! The configuration check, when a subscription is saved: what serde cannot check (batching, the time
//! zone, an empty body), the templates parsed, and — on the sample event Gancho gives of each event type
//! the subscription receives — every template rendered strictly: a variable those events do not have,
//! however deep (`{{call.form}}`), a filter that cannot apply, or a JSON body that does not parse, is
//! refused naming the field and the event type. Nothing is lost to a template that cannot render.

use gancho_sdk::subscription::sample_events;
use gancho_sdk::{ConfigError, Method};

use crate::{Config, batch, render, render_request};

/// The `validate` of `plugin!`: see the module's documentation.
pub fn validate(config: &Config) -> Result<(), ConfigError> {
    batch::validate(config)?;
    let sends_a_body = matches!(config.method, Method::Post | Method::Put | Method::Patch);
    if sends_a_body && config.template.as_deref().is_none_or(|template| template.trim().is_empty()) {
        return Err(ConfigError::field(
            "template",
            "the body is empty, and a POST, PUT or PATCH sends one; write the body, or choose GET",
        ));
    }
    if let Some(zone) = &config.timezone {
        gancho_sdk::time::to_local("2026-01-01T00:00:00Z", zone)
            .map_err(|error| ConfigError::field("timezone", error.message))?;
    }
    for (field, template) in [("template", &config.template), ("url", &config.url)] {
        if let Some(template) = template {
            render::parse(template, field).map_err(|error| ConfigError::field(field, error.message))?;
        }
    }
    for event in sample_events() {
        if let Err(refused) = render_request(&event, config, true) {
            return Err(ConfigError::field(
                refused.field,
                format!("cannot render a {} event: {}", event.event_type, refused.error.message),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use gancho_sdk::testing::{run, samples, take_logs, validate};
    use serde_json::json;

    /// The config check as Gancho makes it for a subscription to `call.ended` and `chat.closed`.
    fn check(config: serde_json::Value) -> Result<(), (Option<String>, String)> {
        let given = [samples::CALL_ENDED, samples::CHAT_CLOSED];
        validate(crate::transform, super::validate, &config.to_string(), &given)
            .map_err(|refused| (refused.field, refused.message))
    }

    #[test]
    fn what_renders_on_every_chosen_event_is_accepted() {
        let config = json!({"event_types": ["call.ended"], "timezone": "America/Argentina/Buenos_Aires",
            "template": r#"{"from": "{{call.from}}", "status": "{{call.status | map: missed=perdida, *=otra}}",
                "cost": "{{call.cost.amount | number: 2, ","}}", "at": "{{event.timestamp | date: "%d/%m/%Y %H:%M"}}"}"#});
        assert_eq!(check(config), Ok(()));
    }

    #[test]
    fn an_empty_body_for_a_post_is_refused() {
        let (field, message) = check(json!({"template": "  "})).unwrap_err();
        assert_eq!(field.as_deref(), Some("template"));
        assert!(message.starts_with("the body is empty"), "{message}");
        let get =
            json!({"method": "GET", "url": "https://x.example/?n={{call.from}}", "event_types": ["call.*"]});
        assert_eq!(check(get), Ok(()));
    }

    #[test]
    fn a_variable_the_chosen_events_do_not_have_is_refused_however_deep() {
        let (field, message) =
            check(json!({"event_types": ["call.*"], "template": r#"{"f": "{{call.form}}"}"#})).unwrap_err();
        assert_eq!(field.as_deref(), Some("template"));
        assert!(message.starts_with("cannot render a call.ended event: unknown template variable {{call.form}}: call.ended events have no \"form\" in \"call\" (it has id, "), "{message}");
        let (_, message) = check(json!({"template": r#"{"f": "{{call.from}}"}"#})).unwrap_err();
        assert!(message.starts_with("cannot render a chat.closed event"), "{message}");
    }

    #[test]
    fn a_body_that_is_not_json_on_a_sample_is_refused() {
        let config =
            json!({"event_types": ["call.ended"], "template": r#"{"duration": {{call.duration_s}} s}"#});
        let (field, message) = check(config).unwrap_err();
        assert_eq!(field.as_deref(), Some("template"));
        assert!(
            message.contains("call.ended event: config field \"template\" does not render to valid JSON"),
            "{message}"
        );
    }

    #[test]
    fn a_bad_zone_or_filter_is_refused_naming_the_field() {
        let (field, message) = check(json!({"template": "{}", "timezone": "Buenos Aires"})).unwrap_err();
        assert_eq!(field.as_deref(), Some("timezone"));
        assert!(message.starts_with("unknown time zone \"Buenos Aires\""), "{message}");
        let (field, message) =
            check(json!({"template": "{{call.status | upper}}", "format": "text"})).unwrap_err();
        assert_eq!(field.as_deref(), Some("template"));
        assert!(message.contains("there is no filter \"upper\""), "{message}");
    }

    #[test]
    fn a_live_event_without_the_field_renders_empty_with_a_warning() {
        take_logs();
        let config = json!({"format": "text", "template": "[{{call.form}}]"}).to_string();
        let requests = run(crate::transform, samples::CALL_ENDED, &config).unwrap();
        assert_eq!(requests[0].body_text(), "[]");
        let logs = take_logs();
        assert!(
            logs.iter().any(|(level, line)| *level == gancho_sdk::log::Level::Warn
                && line.starts_with(
                    "template variable {{call.form}} is written empty: call.ended events have no"
                )),
            "{logs:?}"
        );
    }
}
