"""Requests a plugin asks Gancho to deliver, with builders for the bodies destinations expect: JSON,
form-urlencoded and plain text."""

import json
from typing import Any, Iterable, Mapping, Optional, Union
from urllib.parse import quote

from .errors import PermanentError

METHODS = ("get", "head", "post", "put", "patch", "delete")

Pairs = Union[Mapping[str, Any], Iterable[tuple[str, Any]]]


class Request:
    """One HTTP request for Gancho to sign and deliver. Build it with ``Request.json``, ``.form`` or ``.text``."""

    def __init__(self) -> None:
        self.method_name = "post"
        #: Absolute URL; None sends to the subscription's endpoint URL.
        self.url_value: Optional[str] = None
        #: Header names and values, in order.
        self.headers: list[tuple[str, str]] = []
        self.body = b""

    @staticmethod
    def json(value: Any) -> "Request":
        """A POST with ``value`` as compact JSON (UTF-8) and ``content-type: application/json``."""
        try:
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError) as error:
            raise PermanentError(f"cannot encode the body as JSON: {error}") from None
        return Request().header("content-type", "application/json").body_text(text)

    @staticmethod
    def form(pairs: Pairs) -> "Request":
        """A POST with ``pairs`` (a dict or ``(name, value)`` pairs) form-urlencoded, in order; None skipped."""
        items = pairs.items() if isinstance(pairs, Mapping) else pairs
        kept = [(name, value) for name, value in items if value is not None]
        request = Request().header("content-type", "application/x-www-form-urlencoded")
        return request.body_text(form_encode(kept))

    @staticmethod
    def text(text: str) -> "Request":
        """A POST with ``text`` and ``content-type: text/plain; charset=utf-8``."""
        return Request().header("content-type", "text/plain; charset=utf-8").body_text(str(text))

    def method(self, name: str) -> "Request":
        """Sets the method: ``get``, ``head``, ``post``, ``put``, ``patch`` or ``delete`` (any case)."""
        method = str(name).lower()
        if method not in METHODS:
            raise ValueError(f"unknown HTTP method {name!r}; use one of {', '.join(METHODS)}")
        self.method_name = method
        return self

    def url(self, url: str) -> "Request":
        """Sends to ``url`` (absolute ``http(s)``) instead of the subscription's endpoint."""
        self.url_value = str(url)
        return self

    def header(self, name: str, value: Any) -> "Request":
        """Adds a header (Gancho adds its signature headers itself)."""
        self.headers.append((str(name), str(value)))
        return self

    def body_text(self, text: str) -> "Request":
        self.body = text.encode("utf-8", "replace")
        return self

    def body_bytes(self, data: bytes) -> "Request":
        self.body = bytes(data)
        return self


def percent_encode(value: Any) -> str:
    """Percent-encodes ``value`` for a URL path segment or query value (RFC 3986 unreserved kept)."""
    return quote(str(value), safe="-_.~")


def form_encode(pairs: Iterable[tuple[str, Any]]) -> str:
    """``application/x-www-form-urlencoded`` text of ``(name, value)`` pairs, spaces as ``+``."""
    encode = lambda text: percent_encode(text).replace("%20", "+")  # noqa: E731
    return "&".join(f"{encode(name)}={encode(value)}" for name, value in pairs)


def utf8_length(text: str) -> int:
    """The number of UTF-8 bytes of ``text``."""
    return len(text.encode("utf-8", "replace"))
