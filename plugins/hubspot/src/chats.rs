//! Chats → a HubSpot note (`/crm/v3/objects/notes`) or communication (`/crm/v3/objects/communications`)
//! holding the conversation as HTML, cut to fit HubSpot's limit on the body's length.

use gancho_sdk::{ChatEvent, Event, Message, PluginError, Request};
use serde_json::{Map, Value};

use crate::{Api, ChatAs, association, escape_char, escape_html, link_html};

/// The most characters HubSpot stores in `hs_note_body`. HubSpot counts UTF-16 code units (an emoji is
/// two), so that is what this module counts: never more than HubSpot's own count.
pub(crate) const BODY_LIMIT: usize = 65_536;

/// The requests for a `chat.closed` or `chat.exported` (`exported: true`) event.
pub(crate) fn requests(
    api: &Api,
    event: &Event,
    data: &ChatEvent,
    exported: bool,
) -> Result<Vec<Request>, PluginError> {
    let mut requests: Vec<Request> = api.upsert_contact(&data.contact, &[])?.into_iter().collect();
    let contact_id = api.contact_id(&data.contact.custom_fields);
    let timestamp = data.chat.closed_at.as_deref().unwrap_or(&event.timestamp);
    let body = transcript_html(data, exported);
    let mut properties = Map::new();
    properties.insert("hs_timestamp".into(), timestamp.into());
    let channel = communication_channel(data.chat.channel.as_deref());
    requests.push(match (api.config.chat_as, channel) {
        (ChatAs::Communication, Some(channel)) => {
            properties.insert("hs_communication_channel_type".into(), channel.into());
            properties.insert("hs_communication_logged_from".into(), "CRM".into());
            properties.insert("hs_communication_body".into(), body.into());
            api.create_engagement(
                "communications",
                properties,
                contact_id,
                association::COMMUNICATION_TO_CONTACT,
            )?
        }
        // HubSpot logs communications for three channels only; any other chat is a note.
        _ => {
            properties.insert("hs_note_body".into(), Value::String(body));
            api.create_engagement("notes", properties, contact_id, association::NOTE_TO_CONTACT)?
        }
    });
    Ok(requests)
}

/// `hs_communication_channel_type` for a chat channel, if HubSpot has one.
fn communication_channel(channel: Option<&str>) -> Option<&'static str> {
    match channel?.to_ascii_lowercase().as_str() {
        "whatsapp" => Some("WHATS_APP"),
        "sms" => Some("SMS"),
        "linkedin" => Some("LINKEDIN_MESSAGE"),
        _ => None,
    }
}

/// The chat as HTML: a summary paragraph, then one paragraph per message. If that would pass
/// [`BODY_LIMIT`], the transcript is cut at a message (or inside the first message that does not fit, at a
/// character) and ends with a paragraph saying so.
pub(crate) fn transcript_html(data: &ChatEvent, exported: bool) -> String {
    let mut html = summary_html(data, exported);
    let lines: Vec<Line> = data.chat.messages.iter().map(Line::new).collect();
    let total = units(&html) + lines.iter().map(Line::units).sum::<usize>();
    if total <= BODY_LIMIT {
        lines.iter().for_each(|line| line.write(&mut html));
        return html;
    }
    let count = lines.len();
    let reserve = units(&truncation_notice(count, count));
    let mut budget = BODY_LIMIT.saturating_sub(units(&html) + reserve);
    let mut shown = 0;
    for line in &lines {
        if line.units() <= budget {
            line.write(&mut html);
            budget -= line.units();
            shown += 1;
        } else {
            shown += usize::from(line.write_cut(&mut html, budget));
            break;
        }
    }
    html.push_str(&truncation_notice(shown, count));
    html
}

fn truncation_notice(shown: usize, count: usize) -> String {
    format!("<p><i>Transcript cut to fit HubSpot: {shown} of {count} messages shown.</i></p>")
}

/// Who, on which channel, and where to read the whole conversation.
fn summary_html(data: &ChatEvent, exported: bool) -> String {
    let chat = &data.chat;
    let title = match (exported, &data.exported_by, &chat.closed_by) {
        (true, Some(agent), _) => {
            format!("Chat {} exported by {}", chat.id, agent.name.as_deref().unwrap_or(&agent.id))
        }
        (true, None, _) => format!("Chat {} exported", chat.id),
        (false, _, Some(closed_by)) => format!("Chat {} closed by {closed_by}", chat.id),
        (false, _, None) => format!("Chat {} closed", chat.id),
    };
    let mut lines = vec![format!("<b>{}</b>", escape_html(&title))];
    let mut line = |label: &str, value: &str| lines.push(format!("{label}: {}", escape_html(value)));
    if let Some(channel) = &chat.channel {
        line("Channel", channel);
    }
    if let Some(department) = &chat.department {
        line("Department", department);
    }
    if let Some(agent) = &chat.agent {
        line("Agent", agent.name.as_deref().unwrap_or(&agent.id));
    }
    if !chat.tags.is_empty() {
        line("Tags", &chat.tags.join(", "));
    }
    if let Some(url) = &chat.viewer_url {
        lines.push(format!("Conversation: {}", link_html(url, url)));
    }
    format!("<p>{}</p>", lines.join("<br>"))
}

/// One message as `<p><b>13:40 Juan Gómez:</b> text [image]</p>`, kept in parts so the text can be cut.
struct Line<'m> {
    head: String,
    text: &'m str,
    escaped_text: String,
    tail: String,
}

impl<'m> Line<'m> {
    fn new(message: &'m Message) -> Line<'m> {
        let time =
            message.at.as_deref().filter(|at| at.get(10..11) == Some("T")).and_then(|at| at.get(11..16));
        let author = message.author.as_deref().unwrap_or(message.from.as_str());
        let head = match time {
            Some(time) => format!("<p><b>{time} {}:</b> ", escape_html(author)),
            None => format!("<p><b>{}:</b> ", escape_html(author)),
        };
        let text = message.text.as_deref().unwrap_or("");
        let mut escaped_text = String::new();
        push_escaped(&mut escaped_text, text, usize::MAX);
        let kind = format!("[{}]", message.message_type);
        let attachment = match (&message.media_url, text.is_empty()) {
            (Some(url), _) => link_html(url, &kind),
            (None, true) => kind,
            (None, false) => String::new(),
        };
        let separator = if text.is_empty() || attachment.is_empty() { "" } else { " " };
        Line { head, text, escaped_text, tail: format!("{separator}{attachment}</p>") }
    }

    fn units(&self) -> usize {
        units(&self.head) + units(&self.escaped_text) + units(&self.tail)
    }

    fn write(&self, html: &mut String) {
        html.push_str(&self.head);
        html.push_str(&self.escaped_text);
        html.push_str(&self.tail);
    }

    /// Writes as much of the message's text as fits in `budget`, ending with `…`; false if nothing fits.
    fn write_cut(&self, html: &mut String, budget: usize) -> bool {
        const ELLIPSIS: &str = "…</p>";
        let Some(room) = budget.checked_sub(units(&self.head) + units(ELLIPSIS)).filter(|room| *room > 0)
        else {
            return false;
        };
        html.push_str(&self.head);
        push_escaped(html, self.text, room);
        html.push_str(ELLIPSIS);
        true
    }
}

/// Escapes `text` as HTML (newlines become `<br>`) into `html`, stopping before `max_units` would be passed,
/// so an entity or a character is never split.
fn push_escaped(html: &mut String, text: &str, max_units: usize) {
    let mut used = 0;
    let mut buffer = [0u8; 4];
    for c in text.chars() {
        let piece = match c {
            '\n' => "<br>",
            c => escape_char(c).unwrap_or_else(|| c.encode_utf8(&mut buffer)),
        };
        used += units(piece);
        if used > max_units {
            return;
        }
        html.push_str(piece);
    }
}

/// Length as HubSpot counts it: UTF-16 code units.
fn units(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gancho_sdk::EventData;

    fn chat(messages: usize) -> ChatEvent {
        let event = Event::from_json(&gancho_sdk::testing::samples::long_chat_closed(messages)).unwrap();
        let EventData::ChatClosed(chat) = event.data().unwrap() else { panic!("chat.closed") };
        chat
    }

    #[test]
    fn a_long_transcript_is_cut_at_a_message_with_a_notice() {
        let html = transcript_html(&chat(400), false);
        assert!(units(&html) <= BODY_LIMIT, "{} units", units(&html));
        assert!(units(&html) > BODY_LIMIT - 400, "the limit is used: {} units", units(&html));
        assert!(html.ends_with(" of 400 messages shown.</i></p>"), "{}", &html[html.len() - 200..]);
        assert!(html.contains("<p><b>13:00 Juan Gómez:</b> Mensaje 1 — ¿podrías confirmar"));
        assert!(!html.contains("Mensaje 400 "));
    }

    #[test]
    fn one_huge_message_is_cut_on_a_character() {
        let mut data = chat(1);
        data.chat.messages[0].text = Some("<ñ & 😀> ".repeat(10_000));
        let html = transcript_html(&data, false);
        assert!(units(&html) <= BODY_LIMIT);
        assert!(html.ends_with("…</p><p><i>Transcript cut to fit HubSpot: 1 of 1 messages shown.</i></p>"));
        let cut = html.rsplit("</b> ").next().unwrap();
        let text = cut.split('…').next().unwrap();
        assert!(text.starts_with("&lt;ñ &amp; 😀&gt; "));
        // Only whole entities: the text ends after a complete escape or character.
        assert!(
            text.rsplit_once('&').is_none_or(|(_, rest)| rest.contains(';')),
            "{}",
            &text[text.len() - 20..]
        );
    }

    #[test]
    fn a_short_transcript_is_whole() {
        let html = transcript_html(&chat(3), false);
        assert!(!html.contains("Transcript cut"));
        assert_eq!(html.matches("<p><b>").count(), 4, "summary and three messages");
    }
}
