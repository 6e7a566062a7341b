// Slack, in JavaScript: the same Block Kit messages as the Rust plugin in plugins/slack, posted to an
// incoming webhook (the subscription's endpoint URL). Missed and answered calls, recordings, closed and
// exported chats with their transcript within Slack's limits, quick replies. See README.md.

import { ConfigError, PermanentError, Request, charCount, isMissed, moneyText, renderedBody, utf8Length } from "@gancho/plugin-sdk";

/** Every field is optional: the switches' defaults, and overrides only legacy webhooks honour. */
const DEFAULTS = {
  notify_missed_calls: true,
  notify_answered_calls: false,
  notify_recordings: false,
  notify_closed_chats: true,
  notify_exported_chats: true,
  notify_quick_replies: true,
  include_transcript: true,
  channel: null,
  username: null,
  icon_emoji: null,
};

/** Block Kit's limits, in characters, and our budget for a message's text in UTF-8 bytes. */
const MAX_BLOCKS = 50;
const MAX_SECTION = 3000;
const MAX_MESSAGE_BYTES = 10_000;

/** Refuses unknown fields and wrong types, naming the field. */
export function validateConfig(config) {
  for (const [field, value] of Object.entries(config)) {
    if (!(field in DEFAULTS)) {
      throw new ConfigError(field, `unknown field \`${field}\`, expected one of ${Object.keys(DEFAULTS).map((f) => `\`${f}\``).join(", ")}`);
    }
    const wanted = typeof DEFAULTS[field] === "boolean" ? "boolean" : "string";
    if (value !== null && typeof value !== wanted) {
      throw new ConfigError(field, `invalid type: ${JSON.stringify(value)}, expected a ${wanted}`);
    }
  }
  const emoji = config.icon_emoji;
  if (emoji != null && (emoji.length < 3 || !emoji.startsWith(":") || !emoji.endsWith(":"))) {
    throw new ConfigError("icon_emoji", `config field "icon_emoji" is ${JSON.stringify(emoji)}; set it to an emoji code such as ":telephone_receiver:" or remove it`);
  }
}

/** Maps one event to at most one Slack message. */
export function transform(event, subscription) {
  try {
    validateConfig(subscription.config);
  } catch (error) {
    throw new PermanentError(`config field "${error.field}": ${error.message}`);
  }
  const config = { ...DEFAULTS, ...subscription.config };
  const data = event.data;
  let message;
  if (event.type === "call.ended" && isMissed(data.call) && config.notify_missed_calls) {
    message = callMessage("📞 Missed call", data.call, event, false);
  } else if (event.type === "call.ended" && !isMissed(data.call) && config.notify_answered_calls) {
    message = callMessage("✅ Answered call", data.call, event, true);
  } else if (event.type === "call.recording_ready" && config.notify_recordings) {
    message = callMessage("🎙️ Call recording ready", data.call, event, true);
  } else if (event.type === "chat.closed" && config.notify_closed_chats) {
    message = chatMessage("💬 Chat closed", data, config.include_transcript);
  } else if (event.type === "chat.exported" && config.notify_exported_chats) {
    message = chatMessage("📤 Chat sent to CRM", data, config.include_transcript);
  } else if (event.type === "template.quick_reply" && config.notify_quick_replies) {
    message = quickReply(data);
  } else {
    return [];
  }
  const body = { text: message.text, blocks: message.blocks };
  for (const field of ["channel", "username", "icon_emoji"]) {
    if (config[field] != null) body[field] = config[field];
  }
  return [Request.json(body)];
}

/** Caller, called number, queue, agent and time; `answered` adds duration, cost and the recording button. */
function callMessage(title, call, event, answered) {
  const name = call.caller_name ?? null;
  const from = call.from ?? null;
  const extension = call.extension != null ? `ext. ${call.extension}` : null;
  const agent = call.agent != null ? call.agent.name ?? call.agent.id : null;
  const when = time(call.started_at ?? call.ended_at ?? event.timestamp);
  const fields = [
    field("Caller", [name, from], "\n"),
    field("Called", [call.to, extension], " · "),
    field("Queue", [call.queue], ""),
    field("Agent", [agent], ""),
    field("When", [when], ""),
  ];
  if (answered) {
    fields.push(field("Duration", [call.duration_s != null ? duration(call.duration_s) : null], ""));
    fields.push(field("Cost", [call.cost != null ? moneyText(call.cost) : null], ""));
  }
  const blocks = [header(title), sectionFields(fields)];
  const recording = answered && call.recording_url != null ? actions("Listen to recording", call.recording_url) : null;
  if (recording) blocks.push(recording);
  const who = escape(name ?? from ?? "unknown", 200);
  return { text: `${title} from ${who}`, blocks };
}

/** A chat's summary, as much of its transcript as fits, and a button to the whole conversation. */
function chatMessage(title, data, withTranscript) {
  const { chat, contact } = data;
  const [name, phone] = [contact.name ?? null, contact.phone ?? null];
  const agent = chat.agent != null ? chat.agent.name ?? chat.agent.id : null;
  const sentBy = data.exported_by != null ? data.exported_by.name ?? data.exported_by.id : null;
  const tags = (chat.tags ?? []).join(", ") || null;
  const messages = chat.messages ?? [];
  const fields = [
    field("Contact", [name, phone, contact.email], "\n"),
    field("Agent", [agent], ""),
    field("Sent by", [sentBy], ""),
    field("Channel", [chat.channel], ""),
    field("Department", [chat.department], ""),
    field("Tags", [tags], ""),
  ];
  const blocks = [header(title), sectionFields(fields)];
  const button = chat.viewer_url != null ? actions("Open conversation", chat.viewer_url) : null;
  if (withTranscript && messages.length > 0) {
    blocks.push({ type: "divider" });
    // Counting the JSON of the summary and the button, not just their text, errs on the safe side; 200
    // bytes are left for the "…and N more" line.
    const used = utf8Length(JSON.stringify([blocks, button]));
    const maxBytes = Math.max(0, MAX_MESSAGE_BYTES - (used + 200));
    const { sections, shown } = transcript(messages, MAX_BLOCKS - blocks.length - 2, maxBytes);
    for (const text of sections) blocks.push(section(text));
    const rest = messages.length - shown;
    if (rest >= 1) {
      const plural = rest === 1 ? "message" : "messages";
      const line = `…and ${rest} more ${plural} — open the conversation to read them all`;
      blocks.push({ type: "context", elements: [mrkdwn(line)] });
    }
  }
  if (button) blocks.push(button);
  const who = escape(name ?? phone ?? contact.id, 200);
  return { text: `${title}: ${who}`, blocks };
}

/** One line per message packed into as few sections as fit; always the first messages, in order. */
function transcript(messages, maxSections, maxBytes) {
  const sections = [];
  let lastChars = 0;
  let bytes = 0;
  let shown = 0;
  for (const message of messages) {
    const line = transcriptLine(message);
    const [chars, len] = [charCount(line), utf8Length(line)];
    if (sections.length > 0 && lastChars + 1 + chars <= MAX_SECTION && bytes + 1 + len <= maxBytes) {
      sections[sections.length - 1] += "\n" + line;
      lastChars += 1 + chars;
      bytes += 1 + len;
    } else if (sections.length < maxSections && bytes + len <= maxBytes) {
      sections.push(line);
      lastChars = chars;
      bytes += len;
    } else {
      break;
    }
    shown += 1;
  }
  return { sections, shown };
}

/** `*Juan Gómez* (13:40): Hola`, media as a link labelled with its kind. */
function transcriptLine(message) {
  const author = message.author ?? message.from;
  const at = message.at;
  const hhmm = at != null && at.length >= 16 ? ` (${at.slice(11, 16)})` : "";
  let line = `*${escape(author, 100)}*${hhmm}:`;
  if (message.type !== "text") {
    const kind = escape(message.type, 20);
    const url = message.media_url;
    if (url != null && utf8Length(url) <= 500 && !url.includes("|")) line += ` <${escape(url, 3000)}|[${kind}]>`;
    else line += ` [${kind}]`;
  }
  if (message.text != null) line += ` ${escape(message.text, 2000)}`;
  return line.replaceAll("\n", " ");
}

/** "Juan Gómez clicked «Confirmar» on confirmacion_cita" and the template they answered. */
function quickReply(data) {
  const contact = data.contact;
  const who = escape(contact.name ?? contact.phone ?? contact.id, 200);
  const button = escape(data.button.text, 200);
  const template = escape(data.template.name, 200);
  let text = `*${who}* clicked *«${button}»* on \`${template}\``;
  const body = renderedBody(data.template);
  if (body !== null) text += `\n>${escape(body, 2000).replaceAll("\n", "\n>")}`;
  return { text: `${who} clicked «${button}» on ${template}`, blocks: [section(text)] };
}

const header = (text) => ({ type: "header", text: { type: "plain_text", text, emoji: true } });
const mrkdwn = (text) => ({ type: "mrkdwn", text });
const section = (text) => ({ type: "section", text: mrkdwn(text) });
const sectionFields = (fields) => ({ type: "section", fields: fields.filter((f) => f !== null) });

/** A bold label over the parts that are present, escaped and joined; null when none is. */
function field(label, parts, separator) {
  const present = parts.filter((part) => part != null).map((part) => escape(part, 300));
  return present.length > 0 ? mrkdwn(`*${label}*\n${present.join(separator)}`) : null;
}

/** An actions block with one link button, if Slack would take the URL. */
function actions(label, url) {
  const http = url.startsWith("https://") || url.startsWith("http://");
  if (!http || utf8Length(url) > 3000) return null;
  return { type: "actions", elements: [{ type: "button", text: { type: "plain_text", text: label }, url }] };
}

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;" };

/** Escapes `&`, `<`, `>` and cuts to `max` characters, ending in "…" if cut: never inside an escape. */
function escape(text, max) {
  const specials = text.match(/[&<>]/g);
  const extra = specials ? specials.reduce((sum, c) => sum + ESCAPES[c].length - 1, 0) : 0;
  if (charCount(text) + extra <= max) return specials ? text.replace(/[&<>]/g, (c) => ESCAPES[c]) : text;
  let out = "";
  let used = 0;
  for (const c of text) {
    used += ESCAPES[c] ? ESCAPES[c].length : 1;
    if (used > max - 1) break; // room for the "…"
    out += ESCAPES[c] ?? c;
  }
  return out + "…";
}

/** `2026-11-21 14:00 UTC` from `2026-11-21T14:00:00Z`; any other form as it is. */
function time(at) {
  return at.length >= 16 && at.endsWith("Z") ? `${at.slice(0, 10)} ${at.slice(11, 16)} UTC` : at;
}

/** `31 s`, `2 min 14 s`, `1 h 5 min`. */
function duration(seconds) {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}
