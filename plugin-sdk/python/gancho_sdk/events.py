"""The event and subscription a plugin gets, the catalog's data as typed dicts (docs/EVENTS.md), and what
the events mean beyond their fields: whether a call was missed, a template's rendered text.

``event.data`` is the parsed ``data`` object: a plain dict, typed below for editors and type checkers
(``call: Call = event.data["call"]``). Optional fields may be absent or None."""

from dataclasses import dataclass, field
from typing import Any, Optional, TypedDict

try:
    from typing import NotRequired
except ImportError:  # Python < 3.11
    from typing_extensions import NotRequired  # type: ignore


@dataclass
class Event:
    """One event: ``type`` is ``call.ended``, ``chat.closed``…; ``data`` the parsed ``data`` object."""

    id: str
    type: str
    tenant: str
    timestamp: str
    data: dict[str, Any]


@dataclass
class Subscription:
    """The subscription the plugin runs for; ``config`` is the customer's configuration, parsed."""

    id: str
    endpoint_url: str
    config: dict[str, Any] = field(default_factory=dict)


class Agent(TypedDict):
    id: str
    name: NotRequired[Optional[str]]
    email: NotRequired[Optional[str]]


class Person(TypedDict):
    id: str
    name: NotRequired[Optional[str]]


class Money(TypedDict):
    amount: str  # a decimal, never a float
    currency: str


class Contact(TypedDict):
    id: str
    name: NotRequired[Optional[str]]
    phone: NotRequired[Optional[str]]
    email: NotRequired[Optional[str]]
    identification: NotRequired[Optional[str]]
    custom_fields: NotRequired[dict[str, Any]]


Message = TypedDict(
    "Message",
    {
        "from": str,  # contact, agent, bot, system
        "type": str,  # text, image, audio, video, file, location, sticker, template
        "id": NotRequired[Optional[str]],
        "at": NotRequired[Optional[str]],
        "author": NotRequired[Optional[str]],
        "text": NotRequired[Optional[str]],
        "media_url": NotRequired[Optional[str]],
    },
)


class Chat(TypedDict):
    id: str
    channel: NotRequired[Optional[str]]
    department: NotRequired[Optional[str]]
    opened_at: NotRequired[Optional[str]]
    closed_at: NotRequired[Optional[str]]
    viewer_url: NotRequired[Optional[str]]
    agent: NotRequired[Optional[Agent]]
    closed_by: NotRequired[Optional[str]]  # agent, contact, system, timeout
    tags: NotRequired[list[str]]
    messages: NotRequired[list[Message]]


class ChatData(TypedDict):
    """``chat.closed`` and ``chat.exported`` (which adds ``exported_by``)."""

    chat: Chat
    contact: Contact
    exported_by: NotRequired[Optional[Person]]


class Template(TypedDict):
    name: str
    language: NotRequired[Optional[str]]
    body: NotRequired[Optional[str]]
    parameters: NotRequired[list[str]]


class Button(TypedDict):
    text: str
    payload: NotRequired[Optional[str]]


class QuickReplyData(TypedDict):
    """``template.quick_reply``."""

    contact: Contact
    template: Template
    button: Button
    message_id: NotRequired[Optional[str]]
    clicked_at: NotRequired[Optional[str]]


Call = TypedDict(
    "Call",
    {
        "id": str,
        "direction": NotRequired[Optional[str]],  # inbound, outbound, internal
        "from": NotRequired[Optional[str]],
        "to": NotRequired[Optional[str]],
        "caller_name": NotRequired[Optional[str]],
        "extension": NotRequired[Optional[str]],
        "queue": NotRequired[Optional[str]],
        "hangup_by": NotRequired[Optional[str]],
        "recording_url": NotRequired[Optional[str]],
        "agent": NotRequired[Optional[Agent]],
        "started_at": NotRequired[Optional[str]],
        "answered_at": NotRequired[Optional[str]],
        "ended_at": NotRequired[Optional[str]],
        "duration_s": NotRequired[Optional[int]],
        "billable_s": NotRequired[Optional[int]],
        "cost": NotRequired[Optional[Money]],
        "status": NotRequired[Optional[str]],  # ringing, answered, missed, busy, failed, voicemail
    },
)


class CallData(TypedDict):
    """``call.started``, ``call.answered``, ``call.ended``, ``call.recording_ready``."""

    call: Call


def is_missed(call: Call) -> bool:
    """Whether nobody answered: true for status ``missed``, false for ``answered``; otherwise true exactly
    when ``answered_at`` is absent or None. Ask it of ``call.ended``: a ringing call is "missed" too."""
    status = call.get("status")
    if status == "missed":
        return True
    if status == "answered":
        return False
    return call.get("answered_at") is None


def rendered_body(template: Template) -> Optional[str]:
    """The body with ``{{1}}``-style placeholders filled from its parameters, in one pass; None without a body."""
    body = template.get("body")
    if not isinstance(body, str):
        return None
    parameters = template.get("parameters") or []
    rendered, rest = [], body
    while (start := rest.find("{{")) >= 0:
        rendered.append(rest[:start])
        after = rest[start + 2 :]
        end = after.find("}}")
        index = int(after[:end].strip()) if end >= 0 and after[:end].strip().isdigit() else 0
        if 1 <= index <= len(parameters):
            rendered.append(parameters[index - 1])
            rest = after[end + 2 :]
        else:
            rendered.append("{{")
            rest = after
    rendered.append(rest)
    return "".join(rendered)


def money_text(money: Money) -> str:
    """``12.50 ARS``."""
    return f"{money['amount']} {money['currency']}"
