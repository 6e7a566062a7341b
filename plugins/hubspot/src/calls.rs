//! Calls → HubSpot call engagements (`POST /crm/v3/objects/calls`), associated with the contact (type 194)
//! when the call carries the contact's HubSpot record id.

use gancho_sdk::{Call, CallDirection, CallStatus, Event, PluginError, Request};
use serde_json::{Map, Value};

use crate::{Api, association, escape_html, link_html};

/// The requests for a `call.ended` (`recording_ready: false`) or `call.recording_ready` event.
pub(crate) fn requests(
    api: &Api,
    event: &Event,
    call: &Call,
    recording_ready: bool,
) -> Result<Vec<Request>, PluginError> {
    // Creating an engagement is not idempotent, so each call is logged on exactly one of the two events.
    let logged_when_recorded = api.config.wait_for_recording && !call.is_missed();
    if recording_ready != logged_when_recorded {
        return Ok(vec![]);
    }
    // A call between agents involves no contact.
    if call.direction == Some(CallDirection::Internal) {
        return Ok(vec![]);
    }
    let contact_number = match call.direction {
        Some(CallDirection::Outbound) => call.to.as_deref(),
        _ => call.from.as_deref(),
    };
    // Caller-ID names are too unreliable to overwrite names in the CRM with: the contact gets its number only.
    let mut requests: Vec<Request> =
        api.upsert_contact_by(None, contact_number, Map::new())?.into_iter().collect();
    let contact_id = api.contact_id(&call.extra);
    requests.push(api.create_engagement(
        "calls",
        properties(event, call),
        contact_id,
        association::CALL_TO_CONTACT,
    )?);
    Ok(requests)
}

/// The call engagement's properties. Values are strings, as HubSpot's API documents them.
fn properties(event: &Event, call: &Call) -> Map<String, Value> {
    let mut properties = Map::new();
    let mut set = |name: &str, value: String| _ = properties.insert(name.to_owned(), Value::String(value));
    let timestamp = call.ended_at.as_deref().or(call.started_at.as_deref()).unwrap_or(&event.timestamp);
    set("hs_timestamp", timestamp.to_owned());
    set("hs_call_title", title(call));
    set("hs_call_body", body(call));
    set("hs_call_status", status(call).to_owned());
    if let Some(seconds) = call.duration_s {
        set("hs_call_duration", (seconds * 1000).to_string());
    }
    match call.direction {
        Some(CallDirection::Inbound) => set("hs_call_direction", "INBOUND".to_owned()),
        Some(CallDirection::Outbound) => set("hs_call_direction", "OUTBOUND".to_owned()),
        _ => {}
    }
    if let Some(from) = &call.from {
        set("hs_call_from_number", from.clone());
    }
    if let Some(to) = &call.to {
        set("hs_call_to_number", to.clone());
    }
    // HubSpot rejects the whole call for a recording URL that is not HTTPS; such a URL goes in the body.
    if let Some(url) = call.recording_url.as_ref().filter(|url| url.starts_with("https://")) {
        set("hs_call_recording_url", url.clone());
    }
    properties
}

/// `hs_call_status`: HubSpot's statuses for a call that is over.
fn status(call: &Call) -> &'static str {
    match &call.status {
        Some(CallStatus::Answered) => "COMPLETED",
        Some(CallStatus::Busy) => "BUSY",
        Some(CallStatus::Failed) => "FAILED",
        // Missed, voicemail (nobody picked up), ended while ringing, or a status this SDK does not know.
        _ if call.is_missed() => "NO_ANSWER",
        _ => "COMPLETED",
    }
}

/// A one-line title such as `Inbound call from Juan Gómez (+5491155551234) — missed` (plain text).
fn title(call: &Call) -> String {
    let from = match (call.caller_name.as_deref(), call.from.as_deref()) {
        (Some(name), Some(number)) => format!("{name} ({number})"),
        (name, number) => name.or(number).unwrap_or("unknown number").to_owned(),
    };
    let to = call.to.as_deref().unwrap_or("unknown number");
    let title = match call.direction {
        Some(CallDirection::Inbound) => format!("Inbound call from {from}"),
        Some(CallDirection::Outbound) => format!("Outbound call to {to}"),
        _ => format!("Call from {from} to {to}"),
    };
    let outcome = match &call.status {
        Some(CallStatus::Answered) => None,
        Some(CallStatus::Missed | CallStatus::Ringing) => Some("missed"),
        Some(other) => Some(other.as_str()),
        None => call.is_missed().then_some("missed"),
    };
    match outcome {
        Some(outcome) => format!("{title} — {outcome}"),
        None => title,
    }
}

/// `hs_call_body`: the details HubSpot has no property for, as HTML lines.
fn body(call: &Call) -> String {
    let mut lines = Vec::new();
    let mut line = |label: &str, value: &str| lines.push(format!("{label}: {}", escape_html(value)));
    if let Some(name) = &call.caller_name {
        line("Caller", name);
    }
    if let Some(agent) = &call.agent {
        line("Agent", agent.name.as_deref().unwrap_or(&agent.id));
    }
    if let Some(queue) = &call.queue {
        line("Queue", queue);
    }
    if let Some(extension) = &call.extension {
        line("Extension", extension);
    }
    if let Some(billable) = call.billable_s {
        line("Billable", &format!("{billable} s"));
    }
    if let Some(cost) = &call.cost {
        line("Cost", &cost.to_string());
    }
    if let Some(hangup_by) = &call.hangup_by {
        line("Hung up by", hangup_by);
    }
    line("Call id", &call.id);
    if let Some(url) = call.recording_url.as_ref().filter(|url| !url.starts_with("https://")) {
        lines.push(format!("Recording: {}", link_html(url, url)));
    }
    format!("<p>{}</p>", lines.join("<br>"))
}
