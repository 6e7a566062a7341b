//! What went wrong, in the customer's words: a delivery's failure (her system's answer, a connection that
//! failed, a webhook that could not build its request) and a subscription's health. The service's own
//! messages are English and often address operators; here they become one sentence of hers, and the
//! original stays in a tooltip for integrators. The template's messages are recognised by what they say
//! ([`TEMPLATE_ERRORS`]); the pages' script gets the same table for the live preview.

use maud::{Markup, html};
use serde_json::{Value, json};

use super::i18n::Lang;
use crate::api::deliveries::DeliveryView;

/// (a piece of the template plugin's message, the text that says it to her). The first that matches wins;
/// `{var}` in the text is the first `{{variable}}` of the message.
pub const TEMPLATE_ERRORS: &[(&str, &str)] = &[
    ("unknown template variable", "why.tpl_unknown_variable"),
    ("does not render to valid JSON", "why.tpl_invalid_json"),
    ("is not valid JSON", "why.tpl_invalid_json"),
    ("\"template\" is missing", "why.tpl_empty"),
    ("is empty", "why.tpl_empty"),
    ("unclosed", "why.tpl_unclosed"),
    ("invalid variable", "why.tpl_bad_variable"),
    ("not an http(s) URL", "why.tpl_bad_url"),
];

/// The template's message in her words, if it is one the table knows.
pub fn template_error(lang: Lang, message: &str) -> Option<String> {
    let (_, key) = TEMPLATE_ERRORS.iter().find(|(needle, _)| message.contains(needle))?;
    let variable = message
        .find("{{")
        .and_then(|start| message[start..].find("}}").map(|end| &message[start..start + end + 2]))
        .unwrap_or("");
    Some(lang.t(key).replace("{var}", variable))
}

/// The table for the pages' script: `[[needle, text], …]` in the page's language.
pub fn template_errors_for_script(lang: Lang) -> Value {
    TEMPLATE_ERRORS.iter().map(|(needle, key)| json!([needle, lang.t(key)])).collect()
}

/// Why a delivery failed, in her words (`None` when nothing failed).
pub fn delivery_failure(lang: Lang, d: &DeliveryView) -> Option<String> {
    if let Some(error) = &d.error {
        return Some(failure(lang, d.error_kind.as_deref(), None, error, d.destination.as_deref()));
    }
    let last = d.attempts.last()?;
    if last.error.is_none() && last.status_code.is_some_and(|code| (200..300).contains(&code)) {
        return None;
    }
    let error = last.error.clone().unwrap_or_default();
    Some(failure(lang, None, last.status_code, &error, d.destination.as_deref()))
}

/// One failure in her words: from its kind (a plugin error's), the HTTP status her system answered, or the
/// service's message.
pub fn failure(
    lang: Lang,
    kind: Option<&str>,
    status: Option<u16>,
    message: &str,
    host: Option<&str>,
) -> String {
    let t = |key| lang.t(key);
    let host = host.unwrap_or("");
    let status = status.or_else(|| http_status(message));
    let plugin = |kind: &str| match kind {
        "timeout" | "fuel" | "deadline" => t("why.plugin_slow").to_owned(),
        "memory_limit" => t("why.plugin_memory").to_owned(),
        _ => match template_error(lang, message) {
            Some(words) => format!("{} {words}", t("why.plugin_failed")),
            None => t("why.plugin_other").to_owned(),
        },
    };
    // A kind is a plugin error's; an HTTP answer in the message is the endpoint's.
    if let Some(kind) = kind.filter(|_| status.is_none()) {
        return plugin(kind);
    }
    if status.is_none() && is_plugin_message(message) {
        return plugin("");
    }
    match (kind, status) {
        (_, Some(401 | 403)) => t("why.http_auth").replace("{code}", &status.unwrap_or(0).to_string()),
        (_, Some(404)) => t("why.http_not_found").to_owned(),
        (_, Some(429)) => t("why.http_busy").to_owned(),
        (_, Some(code)) if code >= 500 => t("why.http_server").replace("{code}", &code.to_string()),
        (_, Some(code)) if code >= 300 => t("why.http_refused").replace("{code}", &code.to_string()),
        _ if message.contains("timed out") || message.contains("timeout") => {
            t("why.slow").replace("{host}", host)
        }
        _ if message.contains("dns") || message.contains("resolve") || message.contains("lookup") => {
            t("why.no_such_host").replace("{host}", host)
        }
        _ if message.contains("not allowed")
            || message.contains("private")
            || message.contains("refuses") =>
        {
            t("why.not_allowed").replace("{host}", host)
        }
        _ if message.contains("connect") || message.contains("refused") => {
            t("why.unreachable").replace("{host}", host)
        }
        _ => t("why.other").to_owned(),
    }
}

/// A plugin's message (the run's preamble `plugin template@1 failed on event …`, or a config check's).
fn is_plugin_message(message: &str) -> bool {
    message.starts_with("plugin ") || message.contains("config field") || message.contains("template")
}

/// `HTTP 500` / `status 500` / `answered 500` in a message.
fn http_status(message: &str) -> Option<u16> {
    ["HTTP ", "status ", "answered "].iter().find_map(|marker| {
        let at = message.find(marker)? + marker.len();
        message[at..].get(..3)?.parse().ok().filter(|code| (100..600).contains(code))
    })
}

/// A failure as a table cell or a fact: her words, the service's own in the tooltip.
pub fn words(text: &str, original: &str) -> Markup {
    html! { span.failure title=(original) { (text) } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_said_in_her_words() {
        let es = Lang::Es;
        assert!(failure(es, None, Some(500), "", Some("sheets.example")).contains("500"));
        let unreachable = failure(
            es,
            None,
            None,
            "connecting to crm.example failed: Connection refused",
            Some("crm.example"),
        );
        assert!(unreachable.contains("crm.example") && !unreachable.contains("Connection"), "{unreachable}");
        let template = failure(
            es,
            Some("plugin_error_permanent"),
            None,
            "plugin template@1 failed on event evt_1: permanent plugin error: unknown template variable {{call.form}}: …",
            None,
        );
        assert!(template.contains("{{call.form}}") && template.contains("dato"), "{template}");
        assert_eq!(http_status("the receiver answered HTTP 503"), Some(503));
    }
}
