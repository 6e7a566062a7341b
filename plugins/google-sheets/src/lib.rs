//! # Google Sheets
//!
//! Appends one row per event to a Google Sheet, a call log or a chat log that grows by a line per event,
//! with the Sheets API's [`spreadsheets.values.append`](https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets.values/append):
//! `POST https://sheets.googleapis.com/v4/spreadsheets/{spreadsheet_id}/values/{range}:append`. The
//! subscription's endpoint URL is not used.
//!
//! **Authentication.** The API takes an OAuth 2.0 access token with the `spreadsheets` scope. Credentials do
//! not belong in plugin config (it is shown to operators and logged with deliveries): give the subscription
//! a Gancho *connection* of kind `google_service_account` for the host `sheets.googleapis.com`, and Gancho
//! obtains the token, refreshes it every hour and adds it to each request. There is no `api_key` option:
//! Google API keys can read public sheets but never write.
//!
//! **Values.** By default rows are sent with `valueInputOption=RAW`: Sheets stores each value exactly as sent,
//! so a phone number `+573001234567` stays text instead of becoming the number 573001234567, and a chat
//! message `=IMPORTXML(…)` stays text instead of running as a formula. Counts, durations and costs are sent as
//! numbers, so they still add up. With `USER_ENTERED`, Sheets parses values as if typed (dates become dates,
//! in the sheet's locale); the plugin then puts an apostrophe before any text starting with `=`, `+`, `-` or
//! `@`, which Sheets shows as plain text. A cell holds at most 50,000 characters; longer text (a long
//! transcript) is cut and ends with `… [truncated]`. An absent value is an empty cell.
//!
//! **Columns** (`columns`, in order; names of another event family give empty cells):
//! - any event: `event_id`, `event_type`, `tenant`, `timestamp`
//! - calls: `call.id`, `call.direction`, `call.status`, `call.from`, `call.caller_name`, `call.to`,
//!   `call.extension`, `call.queue`, `call.agent`, `call.started_at`, `call.answered_at`, `call.ended_at`,
//!   `call.duration_s`, `call.billable_s`, `call.cost` (the amount, a number), `call.currency`,
//!   `call.hangup_by`, `call.recording_url`
//! - chats: `chat.id`, `chat.channel`, `chat.department`, `chat.agent`, `chat.opened_at`, `chat.closed_at`,
//!   `chat.closed_by`, `chat.exported_by`, `chat.tags`, `chat.message_count`, `chat.transcript`,
//!   `chat.viewer_url`
//! - chats and quick replies: `contact.id`, `contact.name`, `contact.phone`, `contact.email`,
//!   `contact.identification`
//! - quick replies: `template.name`, `template.language`, `template.body` (with its parameters filled in),
//!   `button.text`, `button.payload`, `quick_reply.message_id`, `quick_reply.clicked_at`
//!
//! Without `columns`, each family gets the set in [`CALL_COLUMNS`], [`CHAT_COLUMNS`] or
//! [`QUICK_REPLY_COLUMNS`]. Calls and chats have different columns: send them to different sheets, with
//! one subscription each and its own `range` and `event_types`.
//!
//! **Batching.** When appends wait for the Sheets API's quota, Gancho asks [`merge::merge`] to make the
//! appends to one spreadsheet and range one append of many rows.

pub mod merge;

use gancho_sdk::{Call, ChatEvent, Contact, Event, EventData, Message, MessageType, PluginError};
use gancho_sdk::{Money, QuickReplyEvent, Request, Subscription, percent_encode};
use serde::Deserialize;
use serde_json::{Value, json};

/// The subscription's configuration. Only `spreadsheet_id` is required.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The spreadsheet's id: the part of its address between `/d/` and `/edit`.
    #[serde(default)]
    pub spreadsheet_id: String,
    /// Where to append, in A1 notation: a sheet (`Sheet1`, `'Llamadas 2026'`) or the first cell of a table
    /// in it (`Calls!A1`). Rows go after the last row of the table found there. Default `Sheet1`.
    #[serde(default = "sheet1")]
    pub range: String,
    /// `RAW` (default) or `USER_ENTERED`; see "Values" above.
    #[serde(default = "raw")]
    pub value_input_option: String,
    /// The columns to write, in order, from the names above. Default: per event family.
    pub columns: Option<Vec<String>>,
    /// The event types that get a row. Default `call.ended`, `chat.closed`, `chat.exported` and
    /// `template.quick_reply`; `call.started`, `call.answered` and `call.recording_ready` can be added.
    #[serde(default = "default_event_types")]
    pub event_types: Vec<String>,
    /// Where the Sheets API is: `https://sheets.googleapis.com` (default), or a stand-in for trying a
    /// subscription without a real spreadsheet.
    #[serde(default = "sheets_api")]
    pub api_base: String,
}

fn sheets_api() -> String {
    "https://sheets.googleapis.com".into()
}

fn sheet1() -> String {
    "Sheet1".into()
}

fn raw() -> String {
    "RAW".into()
}

fn default_event_types() -> Vec<String> {
    let types = "call.ended chat.closed chat.exported template.quick_reply";
    types.split_whitespace().map(String::from).collect()
}

/// Default columns for `call.*` events.
pub const CALL_COLUMNS: &str = "timestamp event_type call.id call.direction call.status call.from \
    call.caller_name call.to call.queue call.agent call.started_at call.duration_s call.billable_s \
    call.cost call.currency call.recording_url";
/// Default columns for `chat.closed` and `chat.exported`.
pub const CHAT_COLUMNS: &str = "timestamp event_type chat.id chat.channel chat.department chat.agent \
    contact.name contact.phone contact.email chat.tags chat.message_count chat.viewer_url chat.transcript";
/// Default columns for `template.quick_reply`.
pub const QUICK_REPLY_COLUMNS: &str =
    "timestamp contact.name contact.phone template.name button.text button.payload template.body";

const EVENT_TYPES: &str = "call.started call.answered call.ended call.recording_ready chat.closed \
    chat.exported template.quick_reply";
/// Google's limit on one cell, in characters; we count UTF-16 units, never fewer.
const MAX_CELL: usize = 50_000;
const CUT: &str = "… [truncated]";

/// Maps one event to one `values.append` request, or none if its type is not in `event_types`.
pub fn transform(event: Event, subscription: Subscription<Config>) -> Result<Vec<Request>, PluginError> {
    let config = subscription.config;
    config.check()?;
    if !config.event_types.contains(&event.event_type) {
        return Ok(vec![]);
    }
    let data = event.data()?;
    let defaults = match data {
        EventData::ChatClosed(_) | EventData::ChatExported(_) => CHAT_COLUMNS,
        EventData::TemplateQuickReply(_) => QUICK_REPLY_COLUMNS,
        EventData::Other(_) => return Ok(vec![]),
        _ => CALL_COLUMNS,
    };
    let defaults = || defaults.split_whitespace().map(String::from).collect();
    let columns: Vec<String> = config.columns.unwrap_or_else(defaults);
    let user_entered = config.value_input_option == "USER_ENTERED";
    let mut row = Vec::with_capacity(columns.len());
    for column in &columns {
        let value = cell(column, &event, &data).ok_or_else(|| {
            PluginError::permanent(format!(
                "config field \"columns\" names an unknown column {column:?}; use the names listed in the plugin's README"
            ))
        })?;
        row.push(finish(value, user_entered));
    }
    let url = format!(
        "{}/v4/spreadsheets/{}/values/{}:append?valueInputOption={}&insertDataOption=INSERT_ROWS",
        config.api_base.trim_end_matches('/'),
        percent_encode(&config.spreadsheet_id),
        percent_encode(&config.range),
        config.value_input_option,
    );
    let body = json!({ "range": config.range, "majorDimension": "ROWS", "values": [row] });
    Ok(vec![Request::json(&body)?.url(url)])
}

impl Config {
    fn check(&self) -> Result<(), PluginError> {
        let id_chars = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        let problem = if self.spreadsheet_id.is_empty() || !self.spreadsheet_id.chars().all(id_chars) {
            format!(
                "\"spreadsheet_id\" is {:?}; set it to the id in the spreadsheet's address, between /d/ and /edit",
                self.spreadsheet_id
            )
        } else if self.range.trim().is_empty() {
            "\"range\" is empty; set it to a sheet name such as \"Sheet1\", or remove it".into()
        } else if !["RAW", "USER_ENTERED"].contains(&self.value_input_option.as_str()) {
            format!(
                "\"value_input_option\" is {:?}; set it to \"RAW\" or \"USER_ENTERED\"",
                self.value_input_option
            )
        } else if !self.api_base.starts_with("https://") && !self.api_base.starts_with("http://") {
            format!(
                "\"api_base\" is {:?}; set it to an http(s) URL, or remove it for Google's",
                self.api_base
            )
        } else if self.columns.as_ref().is_some_and(Vec::is_empty) {
            "\"columns\" is empty; list the columns to write, or remove it for the defaults".into()
        } else if let Some(unknown) = self.event_types.iter().find(|t| !is_catalog_type(t)) {
            format!("\"event_types\" has {unknown:?}; use some of: {EVENT_TYPES}")
        } else {
            return Ok(());
        };
        Err(PluginError::permanent(format!("config field {problem}")))
    }
}

/// The value of `column` for this event: text, a number, or `None` if there is no such column.
fn cell(column: &str, event: &Event, data: &EventData) -> Option<Value> {
    use EventData::*;
    let call = match data {
        CallStarted(e) | CallAnswered(e) | CallEnded(e) | CallRecordingReady(e) => Some(&e.call),
        _ => None,
    };
    let chat = match data {
        ChatClosed(e) | ChatExported(e) => Some(e),
        _ => None,
    };
    let reply = match data {
        TemplateQuickReply(e) => Some(e),
        _ => None,
    };
    let contact = chat.map(|e| &e.contact).or(reply.map(|e| &e.contact));
    let text = |value: Option<&str>| Value::from(value.unwrap_or_default());
    let number = |value: Option<u64>| value.map_or_else(|| Value::from(""), Value::from);
    let on_call = |get: fn(&Call) -> Option<&str>| text(call.and_then(get));
    let on_chat = |get: fn(&ChatEvent) -> Option<&str>| text(chat.and_then(get));
    let on_contact = |get: fn(&Contact) -> Option<&str>| text(contact.and_then(get));
    let on_reply = |get: fn(&QuickReplyEvent) -> Option<&str>| text(reply.and_then(get));
    Some(match column {
        "event_id" => text(Some(&event.id)),
        "event_type" => text(Some(&event.event_type)),
        "tenant" => text(Some(&event.tenant)),
        "timestamp" => text(Some(&event.timestamp)),
        "call.id" => on_call(|c| Some(c.id.as_str())),
        "call.direction" => on_call(|c| c.direction.as_ref().map(|d| d.as_str())),
        "call.status" => on_call(|c| c.status.as_ref().map(|s| s.as_str())),
        "call.from" => on_call(|c| c.from.as_deref()),
        "call.caller_name" => on_call(|c| c.caller_name.as_deref()),
        "call.to" => on_call(|c| c.to.as_deref()),
        "call.extension" => on_call(|c| c.extension.as_deref()),
        "call.queue" => on_call(|c| c.queue.as_deref()),
        "call.agent" => on_call(|c| c.agent.as_ref().map(|a| or_id(&a.name, &a.id))),
        "call.started_at" => on_call(|c| c.started_at.as_deref()),
        "call.answered_at" => on_call(|c| c.answered_at.as_deref()),
        "call.ended_at" => on_call(|c| c.ended_at.as_deref()),
        "call.duration_s" => number(call.and_then(|c| c.duration_s)),
        "call.billable_s" => number(call.and_then(|c| c.billable_s)),
        "call.cost" => amount(call.and_then(|c| c.cost.as_ref())),
        "call.currency" => on_call(|c| c.cost.as_ref().map(|cost| cost.currency.as_str())),
        "call.hangup_by" => on_call(|c| c.hangup_by.as_deref()),
        "call.recording_url" => on_call(|c| c.recording_url.as_deref()),
        "chat.id" => on_chat(|e| Some(e.chat.id.as_str())),
        "chat.channel" => on_chat(|e| e.chat.channel.as_deref()),
        "chat.department" => on_chat(|e| e.chat.department.as_deref()),
        "chat.agent" => on_chat(|e| e.chat.agent.as_ref().map(|a| or_id(&a.name, &a.id))),
        "chat.opened_at" => on_chat(|e| e.chat.opened_at.as_deref()),
        "chat.closed_at" => on_chat(|e| e.chat.closed_at.as_deref()),
        "chat.closed_by" => on_chat(|e| e.chat.closed_by.as_ref().map(|by| by.as_str())),
        "chat.exported_by" => on_chat(|e| e.exported_by.as_ref().map(|p| or_id(&p.name, &p.id))),
        "chat.tags" => text(chat.map(|e| e.chat.tags.join(", ")).as_deref()),
        "chat.message_count" => number(chat.map(|e| e.chat.messages.len() as u64)),
        "chat.transcript" => text(chat.map(|e| transcript(&e.chat.messages)).as_deref()),
        "chat.viewer_url" => on_chat(|e| e.chat.viewer_url.as_deref()),
        "contact.id" => on_contact(|c| Some(c.id.as_str())),
        "contact.name" => on_contact(|c| c.name.as_deref()),
        "contact.phone" => on_contact(|c| c.phone.as_deref()),
        "contact.email" => on_contact(|c| c.email.as_deref()),
        "contact.identification" => on_contact(|c| c.identification.as_deref()),
        "template.name" => on_reply(|r| Some(r.template.name.as_str())),
        "template.language" => on_reply(|r| r.template.language.as_deref()),
        "template.body" => text(reply.and_then(|r| r.template.rendered_body()).as_deref()),
        "button.text" => on_reply(|r| Some(r.button.text.as_str())),
        "button.payload" => on_reply(|r| r.button.payload.as_deref()),
        "quick_reply.message_id" => on_reply(|r| r.message_id.as_deref()),
        "quick_reply.clicked_at" => on_reply(|r| r.clicked_at.as_deref()),
        _ => return None,
    })
}

/// One line per message: `[13:40] Juan Gómez: Hola`, media as `[image] caption https://…`.
fn transcript(messages: &[Message]) -> String {
    let line = |message: &Message| {
        let time = message.at.as_deref().and_then(|at| at.get(11..16));
        let time = time.map(|time| format!("[{time}] ")).unwrap_or_default();
        let author = message.author.as_deref().unwrap_or(message.from.as_str());
        let kind = (message.message_type != MessageType::Text).then(|| format!("[{}]", message.message_type));
        let (text, url) = (message.text.as_deref(), message.media_url.as_deref());
        let body: Vec<&str> = [kind.as_deref(), text, url].into_iter().flatten().collect();
        format!("{time}{author}: {}", body.join(" "))
    };
    messages.iter().map(line).collect::<Vec<_>>().join("\n")
}

/// An amount as a number, so sums work; as text if it is not a plain decimal.
fn amount(money: Option<&Money>) -> Value {
    let amount = money.map_or("", |money| money.amount.as_str());
    match amount.parse().ok().and_then(serde_json::Number::from_f64) {
        Some(number) => Value::Number(number),
        None => Value::from(amount),
    }
}

/// Guards text from being read as a formula under `USER_ENTERED`, and cuts it to what a cell holds, at a
/// character boundary.
fn finish(value: Value, user_entered: bool) -> Value {
    let Value::String(mut text) = value else {
        return value;
    };
    if user_entered && text.starts_with(['=', '+', '-', '@']) {
        text.insert(0, '\'');
    }
    if text.encode_utf16().count() > MAX_CELL {
        let mut units = CUT.encode_utf16().count();
        let end = text.char_indices().find(|(_, c)| {
            units += c.len_utf16();
            units > MAX_CELL
        });
        text.truncate(end.map_or(text.len(), |(at, _)| at));
        text.push_str(CUT);
    }
    Value::String(text)
}

fn is_catalog_type(event_type: &str) -> bool {
    EVENT_TYPES.split_whitespace().any(|known| known == event_type)
}

fn or_id<'a>(name: &'a Option<String>, id: &'a str) -> &'a str {
    name.as_deref().unwrap_or(id)
}

gancho_sdk::plugin!(transform, merge = merge::merge);

#[cfg(test)]
mod tests {
    use super::*;
    use gancho_sdk::testing::{run, samples};
    use gancho_sdk::{ErrorKind, Method};

    const CONFIG: &str = r#"{"spreadsheet_id": "sheet_123"}"#;
    const APPEND: &str = "https://sheets.googleapis.com/v4/spreadsheets/sheet_123/values/Sheet1:append?valueInputOption=RAW&insertDataOption=INSERT_ROWS";

    /// Every column name the README documents.
    const ALL_COLUMNS: &[&str] = &[
        "event_id",
        "event_type",
        "tenant",
        "timestamp",
        "call.id",
        "call.direction",
        "call.status",
        "call.from",
        "call.caller_name",
        "call.to",
        "call.extension",
        "call.queue",
        "call.agent",
        "call.started_at",
        "call.answered_at",
        "call.ended_at",
        "call.duration_s",
        "call.billable_s",
        "call.cost",
        "call.currency",
        "call.hangup_by",
        "call.recording_url",
        "chat.id",
        "chat.channel",
        "chat.department",
        "chat.agent",
        "chat.opened_at",
        "chat.closed_at",
        "chat.closed_by",
        "chat.exported_by",
        "chat.tags",
        "chat.message_count",
        "chat.transcript",
        "chat.viewer_url",
        "contact.id",
        "contact.name",
        "contact.phone",
        "contact.email",
        "contact.identification",
        "template.name",
        "template.language",
        "template.body",
        "button.text",
        "button.payload",
        "quick_reply.message_id",
        "quick_reply.clicked_at",
    ];

    /// The one request `event` maps to; checks it is an append, and returns its row.
    fn row(event: &str, config: &str) -> Vec<Value> {
        let requests = run(transform, event, config).unwrap();
        assert_eq!(requests.len(), 1);
        let request = &requests[0];
        assert_eq!(request.method, Method::Post);
        assert_eq!(request.headers, [("content-type".to_owned(), "application/json".to_owned())]);
        let body = request.body_json().unwrap();
        assert_eq!(body["majorDimension"], "ROWS");
        let values = body["values"].as_array().unwrap();
        assert_eq!(values.len(), 1, "one row per event");
        values[0].as_array().unwrap().clone()
    }

    #[test]
    fn answered_call_is_one_exact_append_request() {
        let requests = run(transform, samples::CALL_ENDED, CONFIG).unwrap();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].method, Method::Post);
        assert_eq!(requests[0].url.as_deref(), Some(APPEND));
        assert_eq!(requests[0].header_value("content-type"), Some("application/json"));
        assert_eq!(
            requests[0].body_json().unwrap(),
            json!({
                "range": "Sheet1",
                "majorDimension": "ROWS",
                "values": [[
                    "2026-11-21T14:02:14Z", "call.ended", "cl_9f3a", "inbound", "answered", "+5491155551234",
                    "Juan Gómez", "+541140001234", "Soporte", "Martín Ruiz", "2026-11-21T14:00:00Z",
                    134, 125, 12.5, "ARS", "https://pbx.example/rec/cl_9f3a.mp3",
                ]],
            })
        );
    }

    #[test]
    fn absent_fields_are_empty_cells() {
        assert_eq!(
            row(samples::CALL_ENDED_MINIMAL, CONFIG),
            json!([
                "2026-11-21T16:00:00Z",
                "call.ended",
                "cl_b002",
                "",
                "missed",
                "anonymous",
                "",
                "201",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
            ])
            .as_array()
            .unwrap()
            .clone()
        );
        let missed = row(samples::CALL_ENDED_MISSED, CONFIG);
        assert_eq!(missed[6], "Ñandú & Cía");
        assert_eq!(missed[9], "", "agent: null");
        assert_eq!((&missed[12], &missed[13], &missed[15]), (&json!(0), &json!(0.0), &json!("")));
    }

    #[test]
    fn closed_chat_row_has_contact_counts_and_transcript() {
        assert_eq!(
            Value::from(row(samples::CHAT_CLOSED, CONFIG)),
            json!([
                "2026-11-21T14:03:07Z",
                "chat.closed",
                "ch_88213",
                "whatsapp",
                "Ventas",
                "Lucía Pérez",
                "Juan Gómez",
                "+573001234567",
                "juan@example.com",
                "venta, seguimiento",
                4,
                "https://chat.example/viewer/ch_88213",
                concat!(
                    "[13:40] Juan Gómez: Hola, ¿tienen envíos a Medellín? 🚚\n",
                    "[13:41] Lucía Pérez: [image] https://cdn.example/m2.jpg\n",
                    "[13:42] Lucía Pérez: ¡Sí! Llegamos en 48 h. ¿Te envío el \"catálogo\"? 😊\n",
                    "[13:45] Juan Gómez: Perfecto, gracias",
                ),
            ])
        );
        let exported = row(
            samples::CHAT_EXPORTED,
            r#"{"spreadsheet_id": "s", "columns": ["contact.phone", "chat.exported_by", "chat.closed_at", "chat.tags"]}"#,
        );
        assert_eq!(exported, ["", "Lucía Pérez", "", ""]);
    }

    #[test]
    fn quick_reply_row_has_the_rendered_template() {
        assert_eq!(
            row(samples::TEMPLATE_QUICK_REPLY, CONFIG),
            [
                "2026-11-21T15:00:02Z",
                "Juan Gómez",
                "+573001234567",
                "confirmacion_cita",
                "Confirmar",
                "CONFIRM",
                "Hola Juan, ¿confirmas tu cita del 25/11 10:00?",
            ]
        );
    }

    #[test]
    fn range_is_percent_encoded_in_the_path_only() {
        let config = r#"{"spreadsheet_id": "sheet_123", "range": "'Llamadas 2026'!A1", "value_input_option": "USER_ENTERED", "columns": ["call.id"]}"#;
        let request = &run(transform, samples::CALL_ENDED, config).unwrap()[0];
        assert_eq!(
            request.url.as_deref(),
            Some(
                "https://sheets.googleapis.com/v4/spreadsheets/sheet_123/values/%27Llamadas%202026%27%21A1:append?valueInputOption=USER_ENTERED&insertDataOption=INSERT_ROWS"
            )
        );
        assert_eq!(request.body_json().unwrap()["range"], "'Llamadas 2026'!A1");
    }

    #[test]
    fn user_entered_text_never_becomes_a_formula() {
        let event = edited(samples::CALL_ENDED, |call| {
            call["caller_name"] = json!("=HYPERLINK(\"http://evil.example\")");
            call["queue"] = json!("-Soporte");
            call["extension"] = json!("@201");
        });
        let columns = r#""columns": ["call.from", "call.caller_name", "call.queue", "call.extension", "call.duration_s", "call.id"]"#;
        let user_entered =
            format!(r#"{{"spreadsheet_id": "s", "value_input_option": "USER_ENTERED", {columns}}}"#);
        assert_eq!(
            Value::from(row(&event, &user_entered)),
            json!([
                "'+5491155551234",
                "'=HYPERLINK(\"http://evil.example\")",
                "'-Soporte",
                "'@201",
                134,
                "cl_9f3a"
            ])
        );
        let raw = format!(r#"{{"spreadsheet_id": "s", {columns}}}"#);
        assert_eq!(
            Value::from(row(&event, &raw)),
            json!([
                "+5491155551234",
                "=HYPERLINK(\"http://evil.example\")",
                "-Soporte",
                "@201",
                134,
                "cl_9f3a"
            ])
        );
    }

    #[test]
    fn a_400_message_transcript_is_cut_to_one_cell() {
        let row = row(&samples::long_chat_closed(400), CONFIG);
        let transcript = row[12].as_str().unwrap();
        assert!(transcript.encode_utf16().count() <= MAX_CELL);
        assert!(transcript.encode_utf16().count() > MAX_CELL - 20, "cut near the limit, not far before");
        assert!(transcript.starts_with("[13:00] Juan Gómez: Mensaje 1 — ¿podrías"));
        assert!(transcript.ends_with("ñ… [truncated]"), "{}", &transcript[transcript.len() - 40..]);
        assert_eq!(row[10], 400);
        let rockets = finish(Value::from("🚀".repeat(MAX_CELL)), false);
        let rockets = rockets.as_str().unwrap();
        assert!(rockets.encode_utf16().count() <= MAX_CELL && rockets.ends_with("🚀… [truncated]"));
        assert_eq!(finish(Value::from("ñ".repeat(MAX_CELL)), false).as_str().unwrap().len(), MAX_CELL * 2);
    }

    #[test]
    fn every_sample_and_every_column_maps() {
        let everything = json!({
            "spreadsheet_id": "s",
            "columns": ALL_COLUMNS,
            "event_types": EVENT_TYPES.split_whitespace().collect::<Vec<_>>(),
        })
        .to_string();
        let readme = include_str!("../README.md");
        for column in ALL_COLUMNS {
            assert!(readme.contains(&format!("`{column}`")), "{column} is documented");
        }
        for (name, sample) in samples::ALL {
            let requests = run(transform, sample, &everything).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(requests.len(), usize::from(*name != "invoice.paid.json"), "{name}");
            for request in requests {
                let body = request.body_json().unwrap();
                assert_eq!(body["values"][0].as_array().unwrap().len(), ALL_COLUMNS.len(), "{name}");
            }
        }
    }

    #[test]
    fn unlisted_and_unknown_event_types_send_nothing() {
        for sample in [samples::UNKNOWN_TYPE, samples::CALL_STARTED, samples::CALL_RECORDING_READY] {
            assert_eq!(run(transform, sample, CONFIG).unwrap(), vec![]);
        }
        let only_chats = r#"{"spreadsheet_id": "s", "event_types": ["chat.closed"]}"#;
        assert_eq!(run(transform, samples::CALL_ENDED, only_chats).unwrap(), vec![]);
        assert_eq!(run(transform, samples::CHAT_EXPORTED, only_chats).unwrap(), vec![]);
        assert_eq!(run(transform, samples::CHAT_CLOSED, only_chats).unwrap().len(), 1);
    }

    #[test]
    fn bad_config_is_a_permanent_error_naming_the_field() {
        for (config, expected) in [
            ("{}", "\"spreadsheet_id\""),
            (
                r#"{"spreadsheet_id": "https://docs.google.com/spreadsheets/d/abc/edit"}"#,
                "between /d/ and /edit",
            ),
            (r#"{"spreadsheet_id": "s", "range": " "}"#, "\"range\""),
            (r#"{"spreadsheet_id": "s", "value_input_option": "raw"}"#, "\"value_input_option\""),
            (r#"{"spreadsheet_id": "s", "columns": []}"#, "\"columns\" is empty"),
            (r#"{"spreadsheet_id": "s", "columns": ["call.form"]}"#, "unknown column \"call.form\""),
            (
                r#"{"spreadsheet_id": "s", "event_types": ["call.missed"]}"#,
                "\"event_types\" has \"call.missed\"",
            ),
            (r#"{"spreadsheet_id": "s", "api_key": "k"}"#, "unknown field `api_key`"),
        ] {
            let error = run(transform, samples::CALL_ENDED, config).unwrap_err();
            assert_eq!(error.kind, ErrorKind::Permanent);
            assert!(error.message.contains(expected), "{config}: {}", error.message);
        }
    }

    #[test]
    fn example_config_parses_and_appends_a_call() {
        let config = include_str!("../config.example.json");
        let requests = run(transform, samples::CALL_ENDED, config).unwrap();
        assert!(requests[0].url.as_deref().unwrap().contains("/values/Calls%21A1:append?"));
        assert_eq!(row(samples::CALL_ENDED, config).len(), 13);
        for (name, sample) in samples::ALL {
            run(transform, sample, config).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    /// A sample with its `data.call` changed by `edit`.
    fn edited(sample: &str, edit: impl FnOnce(&mut Value)) -> String {
        let mut event: Value = serde_json::from_str(sample).unwrap();
        edit(&mut event["data"]["call"]);
        event.to_string()
    }
}
