"""Slack, in Python: the same Block Kit messages as the Rust plugin in plugins/slack, posted to an incoming
webhook (the subscription's endpoint URL). Missed and answered calls, recordings, closed and exported chats
with their transcript within Slack's limits, quick replies. See README.md."""

import json
from typing import Any, Optional

from gancho_sdk import ConfigError, Event, PermanentError, Request, Subscription
from gancho_sdk import is_missed, money_text, rendered_body, utf8_length

# Every field is optional: the switches' defaults, and overrides only legacy webhooks honour.
DEFAULTS: dict[str, Any] = {
    "notify_missed_calls": True,
    "notify_answered_calls": False,
    "notify_recordings": False,
    "notify_closed_chats": True,
    "notify_exported_chats": True,
    "notify_quick_replies": True,
    "include_transcript": True,
    "channel": None,
    "username": None,
    "icon_emoji": None,
}

# Block Kit's limits, in characters, and our budget for a message's text in UTF-8 bytes.
MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_MESSAGE_BYTES = 10_000


def validate_config(config: dict[str, Any]) -> None:
    """Refuses unknown fields and wrong types, naming the field."""
    for name, value in config.items():
        if name not in DEFAULTS:
            expected = ", ".join(f"`{f}`" for f in DEFAULTS)
            raise ConfigError(name, f"unknown field `{name}`, expected one of {expected}")
        wanted = bool if isinstance(DEFAULTS[name], bool) else str
        if value is not None and not isinstance(value, wanted):
            raise ConfigError(name, f"invalid type: {json.dumps(value)}, expected a {'boolean' if wanted is bool else 'string'}")
    emoji = config.get("icon_emoji")
    if emoji is not None and (len(emoji) < 3 or not emoji.startswith(":") or not emoji.endswith(":")):
        raise ConfigError("icon_emoji", f'config field "icon_emoji" is {json.dumps(emoji, ensure_ascii=False)}; set it to an emoji code such as ":telephone_receiver:" or remove it')


def transform(event: Event, subscription: Subscription) -> list[Request]:
    """Maps one event to at most one Slack message."""
    try:
        validate_config(subscription.config)
    except ConfigError as error:
        raise PermanentError(f'config field "{error.field}": {error.message}') from None
    config = {**DEFAULTS, **subscription.config}
    data, kind = event.data, event.type
    if kind == "call.ended" and is_missed(data["call"]) and config["notify_missed_calls"]:
        text, blocks = call_message("📞 Missed call", data["call"], event, False)
    elif kind == "call.ended" and not is_missed(data["call"]) and config["notify_answered_calls"]:
        text, blocks = call_message("✅ Answered call", data["call"], event, True)
    elif kind == "call.recording_ready" and config["notify_recordings"]:
        text, blocks = call_message("🎙️ Call recording ready", data["call"], event, True)
    elif kind == "chat.closed" and config["notify_closed_chats"]:
        text, blocks = chat_message("💬 Chat closed", data, config["include_transcript"])
    elif kind == "chat.exported" and config["notify_exported_chats"]:
        text, blocks = chat_message("📤 Chat sent to CRM", data, config["include_transcript"])
    elif kind == "template.quick_reply" and config["notify_quick_replies"]:
        text, blocks = quick_reply(data)
    else:
        return []
    body: dict[str, Any] = {"text": text, "blocks": blocks}
    for name in ("channel", "username", "icon_emoji"):
        if config[name] is not None:
            body[name] = config[name]
    return [Request.json(body)]


def call_message(title: str, call: dict, event: Event, answered: bool) -> tuple[str, list]:
    """Caller, called number, queue, agent and time; ``answered`` adds duration, cost and the recording."""
    name, from_ = call.get("caller_name"), call.get("from")
    extension = f"ext. {call['extension']}" if call.get("extension") is not None else None
    agent = call.get("agent")
    agent_name = first(agent.get("name"), agent["id"]) if agent is not None else None
    when = time(first(call.get("started_at"), call.get("ended_at"), event.timestamp))
    fields = [
        field("Caller", [name, from_], "\n"),
        field("Called", [call.get("to"), extension], " · "),
        field("Queue", [call.get("queue")], ""),
        field("Agent", [agent_name], ""),
        field("When", [when], ""),
    ]
    if answered:
        seconds, cost = call.get("duration_s"), call.get("cost")
        fields.append(field("Duration", [duration(seconds) if seconds is not None else None], ""))
        fields.append(field("Cost", [money_text(cost) if cost is not None else None], ""))
    blocks = [header(title), section_fields(fields)]
    recording = call.get("recording_url") if answered else None
    button = actions("Listen to recording", recording) if recording is not None else None
    if button:
        blocks.append(button)
    who = escape(first(name, from_, "unknown"), 200)
    return f"{title} from {who}", blocks


def chat_message(title: str, data: dict, with_transcript: bool) -> tuple[str, list]:
    """A chat's summary, as much of its transcript as fits, and a button to the whole conversation."""
    chat, contact = data["chat"], data["contact"]
    name, phone = contact.get("name"), contact.get("phone")
    agent, by = chat.get("agent"), data.get("exported_by")
    agent_name = first(agent.get("name"), agent["id"]) if agent is not None else None
    sent_by = first(by.get("name"), by["id"]) if by is not None else None
    tags = ", ".join(chat.get("tags") or []) or None
    messages = chat.get("messages") or []
    fields = [
        field("Contact", [name, phone, contact.get("email")], "\n"),
        field("Agent", [agent_name], ""),
        field("Sent by", [sent_by], ""),
        field("Channel", [chat.get("channel")], ""),
        field("Department", [chat.get("department")], ""),
        field("Tags", [tags], ""),
    ]
    blocks = [header(title), section_fields(fields)]
    url = chat.get("viewer_url")
    button = actions("Open conversation", url) if url is not None else None
    if with_transcript and messages:
        blocks.append({"type": "divider"})
        # Counting the JSON of the summary and the button, not just their text, errs on the safe side; 200
        # bytes are left for the "…and N more" line.
        used = utf8_length(json.dumps([blocks, button], ensure_ascii=False, separators=(",", ":")))
        max_bytes = max(0, MAX_MESSAGE_BYTES - (used + 200))
        sections, shown = transcript(messages, MAX_BLOCKS - len(blocks) - 2, max_bytes)
        blocks.extend(section(text) for text in sections)
        rest = len(messages) - shown
        if rest >= 1:
            plural = "message" if rest == 1 else "messages"
            line = f"…and {rest} more {plural} — open the conversation to read them all"
            blocks.append({"type": "context", "elements": [mrkdwn(line)]})
    if button:
        blocks.append(button)
    who = escape(first(name, phone, contact["id"]), 200)
    return f"{title}: {who}", blocks


def transcript(messages: list, max_sections: int, max_bytes: int) -> tuple[list[str], int]:
    """One line per message packed into as few sections as fit; always the first messages, in order."""
    sections: list[str] = []
    last_chars = used = shown = 0
    for message in messages:
        line = transcript_line(message)
        chars, size = len(line), utf8_length(line)
        if sections and last_chars + 1 + chars <= MAX_SECTION and used + 1 + size <= max_bytes:
            sections[-1] += "\n" + line
            last_chars += 1 + chars
            used += 1 + size
        elif len(sections) < max_sections and used + size <= max_bytes:
            sections.append(line)
            last_chars = chars
            used += size
        else:
            break
        shown += 1
    return sections, shown


def transcript_line(message: dict) -> str:
    """``*Juan Gómez* (13:40): Hola``, media as a link labelled with its kind."""
    author = first(message.get("author"), message["from"])
    at = message.get("at")
    hhmm = f" ({at[11:16]})" if at is not None and len(at) >= 16 else ""
    line = f"*{escape(author, 100)}*{hhmm}:"
    if message["type"] != "text":
        kind = escape(message["type"], 20)
        url = message.get("media_url")
        if url is not None and utf8_length(url) <= 500 and "|" not in url:
            line += f" <{escape(url, 3000)}|[{kind}]>"
        else:
            line += f" [{kind}]"
    if message.get("text") is not None:
        line += f" {escape(message['text'], 2000)}"
    return line.replace("\n", " ")


def quick_reply(data: dict) -> tuple[str, list]:
    """"Juan Gómez clicked «Confirmar» on confirmacion_cita" and the template they answered."""
    contact = data["contact"]
    who = escape(first(contact.get("name"), contact.get("phone"), contact["id"]), 200)
    button = escape(data["button"]["text"], 200)
    template = escape(data["template"]["name"], 200)
    text = f"*{who}* clicked *«{button}»* on `{template}`"
    body = rendered_body(data["template"])
    if body is not None:
        text += "\n>" + escape(body, 2000).replace("\n", "\n>")
    return f"{who} clicked «{button}» on {template}", [section(text)]


def first(*values: Optional[str]) -> Optional[str]:
    """The first value that is not None (an empty string counts, as in the Rust plugin)."""
    return next((v for v in values if v is not None), None)


def header(text: str) -> dict:
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": True}}


def mrkdwn(text: str) -> dict:
    return {"type": "mrkdwn", "text": text}


def section(text: str) -> dict:
    return {"type": "section", "text": mrkdwn(text)}


def section_fields(fields: list) -> dict:
    return {"type": "section", "fields": [f for f in fields if f is not None]}


def field(label: str, parts: list, separator: str) -> Optional[dict]:
    """A bold label over the parts that are present, escaped and joined; None when none is."""
    present = [escape(part, 300) for part in parts if part is not None]
    return mrkdwn(f"*{label}*\n{separator.join(present)}") if present else None


def actions(label: str, url: str) -> Optional[dict]:
    """An actions block with one link button, if Slack would take the URL."""
    if not url.startswith(("https://", "http://")) or utf8_length(url) > 3000:
        return None
    button = {"type": "button", "text": {"type": "plain_text", "text": label}, "url": url}
    return {"type": "actions", "elements": [button]}


_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def escape(text: str, limit: int) -> str:
    """Escapes ``&``, ``<``, ``>`` and cuts to ``limit`` characters, ending in "…" if cut."""
    width = lambda c: len(_ESCAPES.get(c, c))  # noqa: E731
    cut = sum(width(c) for c in text) > limit
    out, used = [], 0
    for c in text:
        used += width(c)
        if used > limit - cut:
            break
        out.append(_ESCAPES.get(c, c))
    return "".join(out) + ("…" if cut else "")


def time(at: str) -> str:
    """``2026-11-21 14:00 UTC`` from ``2026-11-21T14:00:00Z``; any other form as it is."""
    return f"{at[:10]} {at[11:16]} UTC" if len(at) >= 16 and at.endswith("Z") else at


def duration(seconds: int) -> str:
    """``31 s``, ``2 min 14 s``, ``1 h 5 min``."""
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
