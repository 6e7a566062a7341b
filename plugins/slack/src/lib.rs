//! # Slack
//!
//! Posts events to a Slack channel as [Block Kit](https://api.slack.com/block-kit) messages through an
//! [incoming webhook](https://api.slack.com/messaging/webhooks): the subscription's endpoint URL is the
//! webhook URL (`https://hooks.slack.com/services/…`).
//!
//! | event | message | switch (default) |
//! |---|---|---|
//! | `call.ended`, not answered | caller, called number, queue, agent, time | `notify_missed_calls` (on) |
//! | `call.ended`, answered | the same, duration, cost, recording button | `notify_answered_calls` (off) |
//! | `call.recording_ready` | the call and a button to its recording | `notify_recordings` (off) |
//! | `chat.closed` | contact, agent, channel, department, tags, transcript, a button to the chat | `notify_closed_chats` (on) |
//! | `chat.exported` | the same, and who sent it to the CRM | `notify_exported_chats` (on) |
//! | `template.quick_reply` | "Juan Gómez clicked «Confirmar» on confirmacion_cita" and the template | `notify_quick_replies` (on) |
//!
//! Anything else (`call.started`, `call.answered`, types outside the catalog) sends nothing. Every message
//! fits Slack's limits: 50 blocks, 3,000 characters a section, and a total of block text Slack does not
//! document (past about 12,000 characters it answers `msg_blocks_too_long`). A long transcript is packed
//! several messages to a section and ends with "…and N more messages" when the budget runs out. Text from
//! users is escaped (`&`, `<`, `>`), so it can neither ping `@channel` nor forge a link.
//!
//! Config ([`Config`], all optional): the `notify_*` switches above, `include_transcript` (on), and
//! `channel`, `username`, `icon_emoji` overrides, which only legacy webhooks honour. Times are shown as the
//! platform sent them (UTC).

use gancho_sdk::{Call, ChatEvent, Event, EventData, Message, MessageType, PluginError};
use gancho_sdk::{QuickReplyEvent, Request, Subscription};
use serde::Deserialize;
use serde_json::{Value, json};

/// The subscription's configuration. Every field is optional; `config.example.json` shows them all.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Post calls nobody answered (`call.ended` with status `missed`, or never answered). Default `true`.
    #[serde(default = "yes")]
    pub notify_missed_calls: bool,
    /// Post answered calls when they end, with duration, cost and recording. Default `false`: on a busy
    /// line they would bury the missed calls.
    #[serde(default)]
    pub notify_answered_calls: bool,
    /// Post `call.recording_ready` with a button to the recording. Default `false`.
    #[serde(default)]
    pub notify_recordings: bool,
    /// Post `chat.closed`. Default `true`.
    #[serde(default = "yes")]
    pub notify_closed_chats: bool,
    /// Post `chat.exported` (an agent pressed "send to CRM"). Default `true`.
    #[serde(default = "yes")]
    pub notify_exported_chats: bool,
    /// Post `template.quick_reply`. Default `true`.
    #[serde(default = "yes")]
    pub notify_quick_replies: bool,
    /// Include the transcript in chat messages (`false`: only the summary and the button). Default `true`.
    #[serde(default = "yes")]
    pub include_transcript: bool,
    /// Channel to post to (`#ventas`, `@lucia`). Only legacy webhooks honour it (and `username`,
    /// `icon_emoji`): a webhook made by a Slack app always posts to the channel it was installed for.
    pub channel: Option<String>,
    /// Name to post as.
    pub username: Option<String>,
    /// Icon to post with, as an emoji code such as `:telephone_receiver:`.
    pub icon_emoji: Option<String>,
}

fn yes() -> bool {
    true
}

/// Block Kit's limits, in characters (<https://api.slack.com/reference/block-kit/blocks>).
const MAX_BLOCKS: usize = 50;
const MAX_SECTION: usize = 3000;
/// Our budget for the text of a whole message. Slack does not say in what unit it counts, so we count UTF-8
/// bytes, never fewer than characters, and stay well under its limit.
const MAX_MESSAGE_BYTES: usize = 10_000;

/// Maps one event to at most one Slack message.
pub fn transform(event: Event, subscription: Subscription<Config>) -> Result<Vec<Request>, PluginError> {
    let config = subscription.config;
    if let Some(emoji) = &config.icon_emoji
        && (emoji.len() < 3 || !emoji.starts_with(':') || !emoji.ends_with(':'))
    {
        return Err(PluginError::permanent(format!(
            "config field \"icon_emoji\" is {emoji:?}; set it to an emoji code such as \":telephone_receiver:\" or remove it"
        )));
    }
    let (text, blocks) = match event.data()? {
        EventData::CallEnded(data) if data.call.is_missed() && config.notify_missed_calls => {
            call_message("📞 Missed call", &data.call, &event, false)
        }
        EventData::CallEnded(data) if !data.call.is_missed() && config.notify_answered_calls => {
            call_message("✅ Answered call", &data.call, &event, true)
        }
        EventData::CallRecordingReady(data) if config.notify_recordings => {
            call_message("🎙️ Call recording ready", &data.call, &event, true)
        }
        EventData::ChatClosed(data) if config.notify_closed_chats => {
            chat_message("💬 Chat closed", &data, config.include_transcript)
        }
        EventData::ChatExported(data) if config.notify_exported_chats => {
            chat_message("📤 Chat sent to CRM", &data, config.include_transcript)
        }
        EventData::TemplateQuickReply(data) if config.notify_quick_replies => quick_reply(&data),
        _ => return Ok(vec![]),
    };
    let mut body = json!({
        "text": text, "blocks": blocks,
        "channel": config.channel, "username": config.username, "icon_emoji": config.icon_emoji,
    });
    if let Some(body) = body.as_object_mut() {
        body.retain(|_, value| !value.is_null()); // overrides that are not set
    }
    Ok(vec![Request::json(&body)?])
}

/// Caller, called number, queue, agent and time; `answered` adds duration, cost and the recording button.
fn call_message(title: &str, call: &Call, event: &Event, answered: bool) -> (String, Vec<Value>) {
    let (name, from) = (call.caller_name.as_deref(), call.from.as_deref());
    let extension = call.extension.as_ref().map(|ext| format!("ext. {ext}"));
    let agent = call.agent.as_ref().map(|a| or_id(&a.name, &a.id));
    let when = call.started_at.as_ref().or(call.ended_at.as_ref());
    let when = time(when.unwrap_or(&event.timestamp));
    let mut fields = vec![
        field("Caller", [name, from], "\n"),
        field("Called", [call.to.as_deref(), extension.as_deref()], " · "),
        field("Queue", [call.queue.as_deref()], ""),
        field("Agent", [agent], ""),
        field("When", [Some(when.as_str())], ""),
    ];
    if answered {
        let (duration, cost) = (call.duration_s.map(duration), call.cost.as_ref());
        let cost = cost.map(ToString::to_string);
        fields.push(field("Duration", [duration.as_deref()], ""));
        fields.push(field("Cost", [cost.as_deref()], ""));
    }
    let mut blocks = vec![header(title), section_fields(fields)];
    let recording = call.recording_url.as_deref().filter(|_| answered);
    blocks.extend(recording.and_then(|url| actions("Listen to recording", url)));
    let who = escape(name.or(from).unwrap_or("unknown"), 200);
    (format!("{title} from {who}"), blocks)
}

/// A chat's summary, as much of its transcript as fits, and a button to the whole conversation.
fn chat_message(title: &str, data: &ChatEvent, with_transcript: bool) -> (String, Vec<Value>) {
    let (chat, contact) = (&data.chat, &data.contact);
    let (name, phone) = (contact.name.as_deref(), contact.phone.as_deref());
    let agent = chat.agent.as_ref().map(|a| or_id(&a.name, &a.id));
    let sent_by = data.exported_by.as_ref().map(|by| or_id(&by.name, &by.id));
    let tags = Some(chat.tags.join(", ")).filter(|tags| !tags.is_empty());
    let fields = vec![
        field("Contact", [name, phone, contact.email.as_deref()], "\n"),
        field("Agent", [agent], ""),
        field("Sent by", [sent_by], ""),
        field("Channel", [chat.channel.as_deref()], ""),
        field("Department", [chat.department.as_deref()], ""),
        field("Tags", [tags.as_deref()], ""),
    ];
    let mut blocks = vec![header(title), section_fields(fields)];
    let button = chat.viewer_url.as_deref();
    let button = button.and_then(|url| actions("Open conversation", url));
    if with_transcript && !chat.messages.is_empty() {
        blocks.push(json!({ "type": "divider" }));
        // Counting the JSON of the summary and the button, not just their text, errs on the safe side; 200
        // bytes are left for the "…and N more" line.
        let used = serde_json::to_string(&(&blocks, &button));
        let used = used.map_or(MAX_MESSAGE_BYTES, |json| json.len());
        let max_bytes = MAX_MESSAGE_BYTES.saturating_sub(used + 200);
        let (sections, shown) = transcript(&chat.messages, MAX_BLOCKS - blocks.len() - 2, max_bytes);
        blocks.extend(sections.iter().map(|text| section(text)));
        if let rest @ 1.. = chat.messages.len() - shown {
            let plural = if rest == 1 { "message" } else { "messages" };
            let line = format!("…and {rest} more {plural} — open the conversation to read them all");
            blocks.push(json!({ "type": "context", "elements": [mrkdwn(&line)] }));
        }
    }
    blocks.extend(button);
    let who = escape(name.or(phone).unwrap_or(&contact.id), 200);
    (format!("{title}: {who}"), blocks)
}

/// Packs one line per message into as few sections as fit in `max_sections` and `max_bytes`. Returns the
/// sections and how many messages they hold: always the first ones, in order.
fn transcript(messages: &[Message], max_sections: usize, max_bytes: usize) -> (Vec<String>, usize) {
    let mut sections: Vec<String> = Vec::new();
    let (mut bytes, mut shown) = (0, 0);
    for message in messages {
        let line = transcript_line(message);
        let (chars, len) = (line.chars().count(), line.len());
        let fits =
            |last: &String| last.chars().count() + 1 + chars <= MAX_SECTION && bytes + 1 + len <= max_bytes;
        if let Some(last) = sections.last_mut().filter(|last| fits(last)) {
            last.push('\n');
            last.push_str(&line);
            bytes += 1 + len;
        } else if sections.len() < max_sections && bytes + len <= max_bytes {
            sections.push(line);
            bytes += len;
        } else {
            break;
        }
        shown += 1;
    }
    (sections, shown)
}

/// `*Juan Gómez* (13:40): Hola`, media as a link labelled with its kind: one line, at most ~2,500 characters.
fn transcript_line(message: &Message) -> String {
    let author = message.author.as_deref().unwrap_or(message.from.as_str());
    let time = message.at.as_deref().and_then(|at| at.get(11..16));
    let time = time.map(|time| format!(" ({time})")).unwrap_or_default();
    let mut line = format!("*{}*{time}:", escape(author, 100));
    if message.message_type != MessageType::Text {
        let kind = escape(message.message_type.as_str(), 20);
        let url = message.media_url.as_deref();
        match url.filter(|url| url.len() <= 500 && !url.contains('|')) {
            Some(url) => line += &format!(" <{}|[{kind}]>", escape(url, 3000)),
            None => line += &format!(" [{kind}]"),
        }
    }
    if let Some(text) = &message.text {
        line += &format!(" {}", escape(text, 2000));
    }
    line.replace('\n', " ")
}

/// "Juan Gómez clicked «Confirmar» on confirmacion_cita" and the template they answered.
fn quick_reply(data: &QuickReplyEvent) -> (String, Vec<Value>) {
    let contact = &data.contact;
    let who = contact.name.as_ref().or(contact.phone.as_ref());
    let who = escape(who.unwrap_or(&contact.id), 200);
    let button = escape(&data.button.text, 200);
    let template = escape(&data.template.name, 200);
    let mut text = format!("*{who}* clicked *«{button}»* on `{template}`");
    if let Some(body) = data.template.rendered_body() {
        text += &format!("\n>{}", escape(&body, 2000).replace('\n', "\n>"));
    }
    let fallback = format!("{who} clicked «{button}» on {template}");
    (fallback, vec![section(&text)])
}

fn header(text: &str) -> Value {
    json!({ "type": "header", "text": { "type": "plain_text", "text": text, "emoji": true } })
}

fn mrkdwn(text: &str) -> Value {
    json!({ "type": "mrkdwn", "text": text })
}

fn section(text: &str) -> Value {
    json!({ "type": "section", "text": mrkdwn(text) })
}

/// A field of a section: a bold label over the parts that are present, escaped and joined.
fn field<const N: usize>(label: &str, parts: [Option<&str>; N], separator: &str) -> Option<Value> {
    let parts: Vec<_> = parts.iter().flatten().map(|p| escape(p, 300)).collect();
    (!parts.is_empty()).then(|| mrkdwn(&format!("*{label}*\n{}", parts.join(separator))))
}

fn section_fields(fields: Vec<Option<Value>>) -> Value {
    json!({ "type": "section", "fields": fields.into_iter().flatten().collect::<Vec<_>>() })
}

/// An actions block with one link button, if Slack would take the URL.
fn actions(label: &str, url: &str) -> Option<Value> {
    let http = url.starts_with("https://") || url.starts_with("http://");
    let text = json!({ "type": "plain_text", "text": label });
    let button = json!({ "type": "button", "text": text, "url": url });
    (http && url.len() <= 3000).then(|| json!({ "type": "actions", "elements": [button] }))
}

/// Escapes Slack's control characters and cuts the result to `max` characters, ending in "…" if cut: never
/// inside a character or an escape.
fn escape(text: &str, max: usize) -> String {
    let width = |c| match c {
        '&' => 5,
        '<' | '>' => 4,
        _ => 1,
    };
    let cut = text.chars().map(width).sum::<usize>() > max;
    let (mut out, mut used) = (String::with_capacity(text.len()), 0);
    for c in text.chars() {
        used += width(c);
        if used > max - usize::from(cut) {
            break;
        }
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    if cut {
        out.push('…');
    }
    out
}

/// `2026-11-21 14:00 UTC` from `2026-11-21T14:00:00Z`; any other form as it is.
fn time(at: &str) -> String {
    match (at.get(..10), at.get(11..16), at.ends_with('Z')) {
        (Some(date), Some(time), true) => format!("{date} {time} UTC"),
        _ => at.to_owned(),
    }
}

/// `31 s`, `2 min 14 s`, `1 h 5 min`.
fn duration(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min {} s", seconds / 60, seconds % 60),
        _ => format!("{} h {} min", seconds / 3600, seconds % 3600 / 60),
    }
}

fn or_id<'a>(name: &'a Option<String>, id: &'a str) -> &'a str {
    name.as_deref().unwrap_or(id)
}

gancho_sdk::plugin!(transform);

#[cfg(test)]
mod tests {
    use super::*;
    use gancho_sdk::testing::{run, samples};
    use gancho_sdk::{ErrorKind, Method};

    const ALL_ON: &str = r#"{"notify_answered_calls": true, "notify_recordings": true}"#;

    /// The one message `event` maps to, checked against Slack's limits.
    fn message(event: &str, config: &str) -> Value {
        let requests = run(transform, event, config).unwrap();
        assert_eq!(requests.len(), 1, "one message per event");
        let request = &requests[0];
        assert_eq!(request.method, Method::Post);
        assert_eq!(request.url, None, "goes to the webhook URL, the subscription's endpoint");
        assert_eq!(request.headers, [("content-type".to_owned(), "application/json".to_owned())]);
        let body = request.body_json().unwrap();
        assert_fits_slack(&body);
        body
    }

    /// Block Kit's limits, and ours on a whole message; every `&` in text starts an escape.
    fn assert_fits_slack(body: &Value) {
        let chars = |text: &Value| text.as_str().unwrap().chars().count();
        let fallback = &body["text"];
        assert!((1..=3000).contains(&chars(fallback)), "text fallback: {fallback}");
        let blocks = body["blocks"].as_array().unwrap();
        assert!(!blocks.is_empty() && blocks.len() <= 50, "{} blocks", blocks.len());
        let mut texts = vec![fallback.as_str().unwrap()];
        for block in blocks {
            match block["type"].as_str().unwrap() {
                "header" => {
                    assert_eq!(block["text"]["type"], "plain_text");
                    assert!(chars(&block["text"]["text"]) <= 150, "{block}");
                    texts.push(block["text"]["text"].as_str().unwrap());
                }
                "section" => {
                    let fields = block["fields"].as_array().map_or(&[][..], Vec::as_slice);
                    assert!(block.get("text").is_some() || !fields.is_empty(), "{block}");
                    if let Some(text) = block.get("text") {
                        assert!(chars(&text["text"]) <= 3000, "section of {}", chars(&text["text"]));
                        texts.push(text["text"].as_str().unwrap());
                    }
                    assert!(fields.len() <= 10, "{block}");
                    for field in fields {
                        assert!(chars(&field["text"]) <= 2000, "{field}");
                        texts.push(field["text"].as_str().unwrap());
                    }
                }
                "context" => {
                    let elements = block["elements"].as_array().unwrap();
                    assert!((1..=10).contains(&elements.len()), "{block}");
                    for element in elements {
                        assert!(chars(&element["text"]) <= 3000, "{element}");
                        texts.push(element["text"].as_str().unwrap());
                    }
                }
                "actions" => {
                    let elements = block["elements"].as_array().unwrap();
                    assert!((1..=25).contains(&elements.len()), "{block}");
                    for button in elements {
                        assert_eq!(button["text"]["type"], "plain_text");
                        assert!(chars(&button["text"]["text"]) <= 75, "{button}");
                        assert!(chars(&button["url"]) <= 3000, "{button}");
                        texts.extend([&button["text"]["text"], &button["url"]].map(|t| t.as_str().unwrap()));
                    }
                }
                "divider" => {}
                other => panic!("unexpected block type {other}"),
            }
        }
        let total: usize = texts.iter().skip(1).map(|text| text.len()).sum();
        assert!(total <= MAX_MESSAGE_BYTES, "{total} bytes of block text");
        for text in texts {
            for (at, _) in text.match_indices('&') {
                let rest = &text[at..];
                assert!(
                    ["&amp;", "&lt;", "&gt;"].iter().any(|entity| rest.starts_with(entity)),
                    "unescaped & in {text:?}"
                );
            }
        }
    }

    /// A sample with its `data` changed by `edit`.
    fn edited(sample: &str, edit: impl FnOnce(&mut Value)) -> String {
        let mut event: Value = serde_json::from_str(sample).unwrap();
        edit(&mut event["data"]);
        event.to_string()
    }

    #[test]
    fn every_sample_fits_slack_limits() {
        for (name, sample) in samples::ALL {
            for config in ["{}", ALL_ON, r#"{"include_transcript": false}"#] {
                let requests = run(transform, sample, config).unwrap_or_else(|e| panic!("{name}: {e}"));
                for request in requests {
                    assert_fits_slack(&request.body_json().unwrap());
                }
            }
        }
    }

    #[test]
    fn missed_call_shows_caller_called_queue_and_time_escaped() {
        assert_eq!(
            message(samples::CALL_ENDED_MISSED, "{}"),
            json!({
                "text": "📞 Missed call from Ñandú &amp; Cía",
                "blocks": [
                    { "type": "header", "text": { "type": "plain_text", "text": "📞 Missed call", "emoji": true } },
                    { "type": "section", "fields": [
                        { "type": "mrkdwn", "text": "*Caller*\nÑandú &amp; Cía\n+5491155551234" },
                        { "type": "mrkdwn", "text": "*Called*\n+541140001234 · ext. 201" },
                        { "type": "mrkdwn", "text": "*Queue*\nSoporte" },
                        { "type": "mrkdwn", "text": "*When*\n2026-11-21 14:00 UTC" },
                    ] },
                ],
            })
        );
    }

    #[test]
    fn minimal_missed_call_leaves_out_what_is_absent() {
        assert_eq!(
            message(samples::CALL_ENDED_MINIMAL, "{}"),
            json!({
                "text": "📞 Missed call from anonymous",
                "blocks": [
                    { "type": "header", "text": { "type": "plain_text", "text": "📞 Missed call", "emoji": true } },
                    { "type": "section", "fields": [
                        { "type": "mrkdwn", "text": "*Caller*\nanonymous" },
                        { "type": "mrkdwn", "text": "*Called*\n201" },
                        { "type": "mrkdwn", "text": "*When*\n2026-11-21 16:00 UTC" },
                    ] },
                ],
            })
        );
    }

    #[test]
    fn answered_calls_are_opt_in_and_carry_duration_cost_and_recording() {
        assert!(run(transform, samples::CALL_ENDED, "{}").unwrap().is_empty());
        let config = r##"{"notify_answered_calls": true, "channel": "#llamadas", "username": "Gancho", "icon_emoji": ":telephone_receiver:"}"##;
        assert_eq!(
            message(samples::CALL_ENDED, config),
            json!({
                "text": "✅ Answered call from Juan Gómez",
                "channel": "#llamadas",
                "username": "Gancho",
                "icon_emoji": ":telephone_receiver:",
                "blocks": [
                    { "type": "header", "text": { "type": "plain_text", "text": "✅ Answered call", "emoji": true } },
                    { "type": "section", "fields": [
                        { "type": "mrkdwn", "text": "*Caller*\nJuan Gómez\n+5491155551234" },
                        { "type": "mrkdwn", "text": "*Called*\n+541140001234 · ext. 201" },
                        { "type": "mrkdwn", "text": "*Queue*\nSoporte" },
                        { "type": "mrkdwn", "text": "*Agent*\nMartín Ruiz" },
                        { "type": "mrkdwn", "text": "*When*\n2026-11-21 14:00 UTC" },
                        { "type": "mrkdwn", "text": "*Duration*\n2 min 14 s" },
                        { "type": "mrkdwn", "text": "*Cost*\n12.50 ARS" },
                    ] },
                    { "type": "actions", "elements": [{
                        "type": "button",
                        "text": { "type": "plain_text", "text": "Listen to recording" },
                        "url": "https://pbx.example/rec/cl_9f3a.mp3",
                    }] },
                ],
            })
        );
    }

    #[test]
    fn recordings_are_opt_in_and_link_the_recording() {
        assert!(run(transform, samples::CALL_RECORDING_READY, "{}").unwrap().is_empty());
        let body = message(samples::CALL_RECORDING_READY, r#"{"notify_recordings": true}"#);
        assert_eq!(body["text"], "🎙️ Call recording ready from Juan Gómez");
        assert_eq!(body["blocks"][2]["elements"][0]["url"], "https://pbx.example/rec/cl_9f3a.mp3");
    }

    #[test]
    fn closed_chat_has_summary_transcript_and_button() {
        assert_eq!(
            message(samples::CHAT_CLOSED, "{}"),
            json!({
                "text": "💬 Chat closed: Juan Gómez",
                "blocks": [
                    { "type": "header", "text": { "type": "plain_text", "text": "💬 Chat closed", "emoji": true } },
                    { "type": "section", "fields": [
                        { "type": "mrkdwn", "text": "*Contact*\nJuan Gómez\n+573001234567\njuan@example.com" },
                        { "type": "mrkdwn", "text": "*Agent*\nLucía Pérez" },
                        { "type": "mrkdwn", "text": "*Channel*\nwhatsapp" },
                        { "type": "mrkdwn", "text": "*Department*\nVentas" },
                        { "type": "mrkdwn", "text": "*Tags*\nventa, seguimiento" },
                    ] },
                    { "type": "divider" },
                    { "type": "section", "text": { "type": "mrkdwn", "text": concat!(
                        "*Juan Gómez* (13:40): Hola, ¿tienen envíos a Medellín? 🚚\n",
                        "*Lucía Pérez* (13:41): <https://cdn.example/m2.jpg|[image]>\n",
                        "*Lucía Pérez* (13:42): ¡Sí! Llegamos en 48 h. ¿Te envío el \"catálogo\"? 😊\n",
                        "*Juan Gómez* (13:45): Perfecto, gracias",
                    ) } },
                    { "type": "actions", "elements": [{
                        "type": "button",
                        "text": { "type": "plain_text", "text": "Open conversation" },
                        "url": "https://chat.example/viewer/ch_88213",
                    }] },
                ],
            })
        );
    }

    #[test]
    fn exported_chat_names_who_sent_it_and_skips_the_missing_phone() {
        let body = message(samples::CHAT_EXPORTED, "{}");
        assert_eq!(body["text"], "📤 Chat sent to CRM: Ana Ríos");
        assert_eq!(
            body["blocks"][1]["fields"],
            json!([
                { "type": "mrkdwn", "text": "*Contact*\nAna Ríos\nana@example.com" },
                { "type": "mrkdwn", "text": "*Agent*\nLucía Pérez" },
                { "type": "mrkdwn", "text": "*Sent by*\nLucía Pérez" },
                { "type": "mrkdwn", "text": "*Channel*\nwebchat" },
                { "type": "mrkdwn", "text": "*Department*\nSoporte" },
            ])
        );
        let body = message(samples::CHAT_EXPORTED, r#"{"include_transcript": false}"#);
        let types: Vec<_> = body["blocks"].as_array().unwrap().iter().map(|b| b["type"].clone()).collect();
        assert_eq!(types, ["header", "section", "actions"]);
    }

    #[test]
    fn quick_reply_says_who_clicked_what_with_the_template_text() {
        assert_eq!(
            message(samples::TEMPLATE_QUICK_REPLY, "{}"),
            json!({
                "text": "Juan Gómez clicked «Confirmar» on confirmacion_cita",
                "blocks": [{ "type": "section", "text": { "type": "mrkdwn", "text":
                    "*Juan Gómez* clicked *«Confirmar»* on `confirmacion_cita`\n>Hola Juan, ¿confirmas tu cita del 25/11 10:00?"
                } }],
            })
        );
    }

    #[test]
    fn a_400_message_chat_is_packed_and_cut_with_the_button_kept() {
        let body = message(&samples::long_chat_closed(400), "{}");
        let blocks = body["blocks"].as_array().unwrap();
        let sections: Vec<&str> =
            blocks[3..blocks.len() - 2].iter().map(|block| block["text"]["text"].as_str().unwrap()).collect();
        let shown: usize = sections.iter().map(|section| section.lines().count()).sum();
        assert!(sections.len() >= 2 && shown > sections.len(), "several messages a section");
        assert!(sections[0].starts_with("*Juan Gómez* (13:00): Mensaje 1 — ¿podrías"));
        assert_eq!(
            blocks[blocks.len() - 2],
            json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text":
                format!("…and {} more messages — open the conversation to read them all", 400 - shown) }] })
        );
        assert_eq!(blocks[blocks.len() - 1]["elements"][0]["text"]["text"], "Open conversation");
    }

    #[test]
    fn huge_and_many_tiny_messages_stay_within_limits() {
        let huge = "<&>ñ🚀".repeat(5000);
        for (count, text) in [(5, huge.as_str()), (3000, "ok"), (1, "x")] {
            let event = edited(samples::CHAT_CLOSED, |data| {
                let message = json!({ "from": "contact", "type": "text", "text": text, "author": huge });
                data["chat"]["messages"] = json!(vec![message; count]);
                data["chat"]["viewer_url"] = json!(format!("https://chat.example/{}", "a".repeat(2900)));
            });
            let body = message(&event, "{}");
            let last = &body["blocks"][body["blocks"].as_array().unwrap().len() - 2];
            assert_eq!(count > 1, last["type"] == "context", "{count}: {last}");
        }
    }

    #[test]
    fn media_without_url_and_odd_timestamps_still_read_well() {
        let event = edited(samples::CHAT_CLOSED, |data| {
            data["chat"]["messages"] = json!([
                { "from": "contact", "type": "audio" },
                { "from": "bot", "type": "file", "media_url": "https://cdn.example/a|b.pdf", "text": "Factura\n<b>" },
                { "from": "agent", "author": "Lucía", "at": "ayer", "type": "location", "text": "Aquí" },
            ]);
            data["chat"]["viewer_url"] = json!("javascript:alert(1)");
        });
        let body = message(&event, "{}");
        assert_eq!(
            body["blocks"][3]["text"]["text"],
            "*contact*: [audio]\n*bot*: [file] Factura &lt;b&gt;\n*Lucía*: [location] Aquí"
        );
        assert_eq!(body["blocks"].as_array().unwrap().len(), 4, "no button to a non-http URL");
    }

    #[test]
    fn other_events_and_switched_off_ones_send_nothing() {
        for sample in [samples::UNKNOWN_TYPE, samples::CALL_STARTED, samples::CALL_ANSWERED] {
            assert_eq!(run(transform, sample, ALL_ON).unwrap(), vec![]);
        }
        let off = r#"{"notify_missed_calls": false, "notify_closed_chats": false, "notify_exported_chats": false, "notify_quick_replies": false}"#;
        for (name, sample) in samples::ALL {
            assert_eq!(run(transform, sample, off).unwrap(), vec![], "{name}");
        }
    }

    #[test]
    fn bad_config_is_a_permanent_error_naming_the_field() {
        for (config, field) in [
            (r#"{"icon_emoji": "rocket"}"#, "icon_emoji"),
            (r#"{"notify_missed_call": true}"#, "notify_missed_call"),
            (r#"{"notify_answered_calls": "yes"}"#, "expected a boolean"),
        ] {
            let error = run(transform, samples::CALL_ENDED_MISSED, config).unwrap_err();
            assert_eq!(error.kind, ErrorKind::Permanent);
            assert!(error.message.contains(field), "{}", error.message);
        }
    }

    #[test]
    fn example_config_parses_and_posts() {
        let config = include_str!("../config.example.json");
        for (name, sample) in samples::ALL {
            run(transform, sample, config).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let body = message(samples::CHAT_CLOSED, config);
        assert_eq!(body["channel"], "#ventas");
    }

    #[test]
    fn escape_cuts_between_characters_and_escapes() {
        assert_eq!(escape("a<b>&c", 100), "a&lt;b&gt;&amp;c");
        assert_eq!(escape("ñandú", 5), "ñandú");
        assert_eq!(escape("ñandú!", 5), "ñand…");
        assert_eq!(escape("ab&cd", 6), "ab…", "never half an escape");
        assert_eq!(escape("🚀🚀🚀", 2), "🚀…");
        assert_eq!([duration(31), duration(134), duration(3725)], ["31 s", "2 min 14 s", "1 h 2 min"]);
    }
}
