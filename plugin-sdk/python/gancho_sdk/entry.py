"""The bridge between the component's exports and the integrator's ``transform`` (and ``validate_config``,
``merge``): the event and configuration parsed for the plugin, its Requests back as plain tuples, and every
exception turned into a plugin error (or a config error) that carries its message, never a bare trap. Knows
nothing of the WIT bindings, so that the native test harness takes the same path."""

import json
import traceback
from contextlib import contextmanager
from types import ModuleType
from typing import Any, Iterator, Optional

from .config import ConfigError, parse_config
from .events import Event, Subscription
from .request import Request


class PluginFailure(Exception):
    """What the plugin failed with, as the host will see it: ``kind`` is permanent or transient."""

    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind} plugin error: {message}")
        self.kind = kind
        self.message = message


class ConfigRefusal(Exception):
    """A configuration refused, as the host will see it."""

    def __init__(self, field: Optional[str], message: str):
        super().__init__(message)
        self.field = field
        self.message = message


# One request as the host gets it: (method, url or None, headers, body).
SentTuple = tuple[str, Optional[str], list[tuple[str, str]], bytes]


def run_transform(plugin: ModuleType, event: dict[str, str], subscription: dict[str, str]) -> list[SentTuple]:
    """The plugin's requests, or a PluginFailure. ``event`` and ``subscription`` are the WIT records' fields."""
    with _failures_as_plugin_errors():
        try:
            data = json.loads(event["data"])
        except ValueError as error:
            raise PluginFailure("permanent", f"the event's data is not valid JSON: {error}") from None
        parsed = Event(event["id"], event["event_type"], event["tenant"], event["timestamp"], data)
        returned = plugin.transform(parsed, _subscription(subscription))
        return _to_tuples(returned)


def run_merge(
    plugin: ModuleType, requests: list[SentTuple], subscription: dict[str, str]
) -> list[tuple[SentTuple, list[int]]]:
    """The plugin's merged requests as ``(request, carries)``, or a PluginFailure. ``requests`` are the WIT
    requests' fields (their URLs resolved by Gancho), ``subscription`` the WIT record's."""
    with _failures_as_plugin_errors():
        given = []
        for method, url, headers, body in requests:
            request = Request().method(method).body_bytes(body)
            if url is not None:
                request.url(url)
            for name, value in headers:
                request.header(name, value)
            given.append(request)
        answer = plugin.merge(given, _subscription(subscription))
        if not isinstance(answer, (list, tuple)):
            raise PluginFailure("permanent", "merge returned something else than a list of Merged")
        out = []
        for index, merged in enumerate(answer):
            carries = getattr(merged, "carries", None)
            if not isinstance(carries, (list, tuple)):
                raise PluginFailure("permanent", f"merge returned something else than a Merged at index {index}")
            (request,) = _to_tuples([merged.request])
            out.append((request, [int(carried) for carried in carries]))
        return out


def _subscription(subscription: dict[str, str]) -> Subscription:
    """The WIT subscription's fields as the plugin gets them, its configuration parsed."""
    try:
        config = parse_config(subscription["config"])
    except ConfigError as error:
        raise PluginFailure("permanent", error.message) from None
    return Subscription(subscription["id"], subscription["endpoint_url"], config)


@contextmanager
def _failures_as_plugin_errors() -> Iterator[None]:
    """Every exception reaches the host with its message: a PermanentError or TransientError keeps its kind,
    anything else is a permanent error naming it."""
    try:
        yield
    except PluginFailure:
        raise
    except MemoryError:
        # Said without formatting a traceback, which needs memory; the host reports it as `memory_limit`.
        raise PluginFailure("permanent", "MemoryError: the plugin ran out of memory") from None
    except Exception as error:
        kind = getattr(error, "kind", None)
        if kind in ("permanent", "transient"):
            raise PluginFailure(kind, str(getattr(error, "message", error))) from None
        raise PluginFailure("permanent", f"uncaught {describe(error)}") from None


def run_validate(plugin: ModuleType, text: str) -> None:
    """Nothing, or a ConfigRefusal."""
    try:
        config = parse_config(text)
        check = getattr(plugin, "validate_config", None)
        if check is not None:
            check(config)
    except ConfigError as error:
        raise ConfigRefusal(error.field, error.message) from None
    except Exception as error:
        raise ConfigRefusal(None, describe(error)) from None


def _to_tuples(returned: Any) -> list[SentTuple]:
    if returned is None:
        return []
    requests = returned if isinstance(returned, (list, tuple)) else [returned]
    out = []
    for index, request in enumerate(requests):
        if not hasattr(request, "method_name") or not isinstance(getattr(request, "body", None), bytes):
            raise PluginFailure(
                "permanent",
                f"transform returned something else than a Request at index {index}: "
                "build it with Request.json, Request.form or Request.text",
            )
        out.append((request.method_name, request.url_value, list(request.headers), request.body))
    return out


def describe(error: BaseException) -> str:
    """``KeyError: 'phone' (at plugin.py:12 in transform)``."""
    frames = traceback.extract_tb(error.__traceback__)
    where = ""
    if frames:
        last = frames[-1]
        where = f" (at {last.filename.rsplit('/', 1)[-1]}:{last.lineno} in {last.name})"
    return f"{type(error).__name__}: {error}{where}"
