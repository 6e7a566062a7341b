"""Testing a plugin natively with pytest: no wasm, no host. ``run`` takes the same path as the component's
entry (envelope → Event, config text → dict, Requests → what the host gets, exceptions → a plugin error);
``samples`` are the SDK's sample events."""

import json
from pathlib import Path
from types import ModuleType
from typing import Any, Optional
from urllib.parse import parse_qsl

from .log import set_sink
from .entry import ConfigRefusal, PluginFailure, run_merge, run_transform, run_validate
from .merge import Merged, contract_broken
from .request import Request

__all__ = [
    "PluginFailure", "SentRequest", "TEST_ENDPOINT", "long_chat_closed", "merge", "run", "samples", "take_logs",
    "validate",
]

#: The endpoint URL ``run`` gives the subscription.
TEST_ENDPOINT = "https://receiver.example/hook"

_SAMPLES_DIR = Path(__file__).resolve().parent.parent.parent / "samples"

#: Every sample event, by file name (``call.ended.missed.json``), as JSON text.
samples: dict[str, str] = {p.name: p.read_text("utf-8") for p in sorted(_SAMPLES_DIR.glob("*.json"))}

_logs: list[tuple[str, str]] = []


def take_logs() -> list[tuple[str, str]]:
    """Returns and clears the lines logged since the last call, as ``(level, message)``."""
    taken = list(_logs)
    _logs.clear()
    return taken


class SentRequest:
    """A request as the host receives it."""

    def __init__(self, method: str, url: Optional[str], headers: list[tuple[str, str]], body: bytes):
        self.method, self.url, self.headers, self.body = method, url, headers, body

    def body_text(self) -> str:
        return self.body.decode("utf-8")

    def body_json(self) -> Any:
        return json.loads(self.body)

    def body_form(self) -> list[tuple[str, str]]:
        """The form body's ``(name, value)`` pairs, in order."""
        return parse_qsl(self.body_text(), keep_blank_values=True)

    def header(self, name: str) -> Optional[str]:
        """The first value of header ``name`` (any case), or None."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def run(plugin: ModuleType, event_json: str, config_json: str = "{}", endpoint_url: str = TEST_ENDPOINT) -> list[SentRequest]:
    """Runs ``plugin`` (the module) on an event envelope (JSON text) with a configuration (JSON text).
    Raises PluginFailure (``.kind``, ``.message``) for a plugin error."""
    set_sink(lambda level, message: _logs.append((level, message)))
    envelope = json.loads(event_json)
    event = {
        "id": envelope["id"],
        "event_type": envelope["type"],
        "tenant": envelope["tenant"],
        "timestamp": envelope["timestamp"],
        "data": json.dumps(envelope["data"]),
    }
    subscription = {"id": "sub_test", "endpoint_url": endpoint_url, "config": config_json}
    return [SentRequest(*sent) for sent in run_transform(plugin, event, subscription)]


def validate(plugin: ModuleType, config_json: str) -> Optional[ConfigRefusal]:
    """None if ``plugin`` accepts the configuration (JSON text), else the refusal (``.field``, ``.message``)."""
    try:
        run_validate(plugin, config_json)
        return None
    except ConfigRefusal as refusal:
        return refusal


def merge(
    plugin: ModuleType, requests: list, config_json: str = "{}", endpoint_url: str = TEST_ENDPOINT
) -> list[Merged]:
    """Runs ``plugin.merge`` on ``requests`` (Requests, or SentRequests as ``run`` returned them) with a
    configuration (JSON text), the way Gancho does: a request without a URL gets the endpoint first. Returns
    Merged with SentRequests; raises PluginFailure for a plugin error, and AssertionError naming what is
    wrong when the answer breaks the contract Gancho holds ``merge`` to."""
    set_sink(lambda level, message: _logs.append((level, message)))
    given = []
    for request in requests:
        if isinstance(request, Request):
            given.append((request.method_name, request.url_value or endpoint_url, list(request.headers), request.body))
        else:
            given.append((request.method, request.url or endpoint_url, list(request.headers), request.body))
    subscription = {"id": "sub_test", "endpoint_url": endpoint_url, "config": config_json}
    answer = [Merged(SentRequest(*sent), carries) for sent, carries in run_merge(plugin, given, subscription)]
    broken = contract_broken(answer, len(requests))
    if broken:
        raise AssertionError(f"merge's answer to {len(requests)} requests would be refused by Gancho: {broken}")
    return answer


def long_chat_closed(count: int) -> str:
    """A ``chat.closed`` event with ``count`` long messages (mixed senders, Spanish text and emoji)."""
    event = json.loads(samples["chat.closed.json"])
    senders = [("contact", "Juan Gómez"), ("agent", "Lucía Pérez"), ("bot", "Asistente")]
    event["data"]["chat"]["messages"] = [
        {
            "id": f"m{i + 1}",
            "at": f"2026-11-21T13:{(i // 60) % 60:02}:{i % 60:02}Z",
            "from": senders[i % 3][0],
            "author": senders[i % 3][1],
            "type": "text",
            "text": f"Mensaje {i + 1} — ¿podrías confirmar la dirección de envío? 📦 {'ñ' * 240}",
        }
        for i in range(count)
    ]
    return json.dumps(event, ensure_ascii=False)
