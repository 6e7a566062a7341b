"""Local time in IANA time zones: an event's timestamp as the customer's clocks read it, right across
daylight-saving changes. Inside the component the host converts it (the ``gancho:plugin/time`` import, WIT
0.1.3, from the time zone database compiled into Gancho: the sandbox has no ``zoneinfo`` database); in native
tests, ``zoneinfo`` does, with the same answers."""

import re
from datetime import datetime, timedelta, timezone
from typing import Callable, NamedTuple, Optional

from .errors import PermanentError


class LocalFields(NamedTuple):
    """What the host answers: the local date and time, the offset in seconds east, the abbreviation."""

    year: int
    month: int
    day: int
    hour: int
    minute: int
    second: int
    nanosecond: int
    offset_seconds: int
    abbreviation: str


_source: Optional[Callable[[str, str], LocalFields]] = None


def set_source(convert: Optional[Callable[[str, str], LocalFields]]) -> None:
    """Where conversions go: set by the component's entry to the host's import (a ``ValueError`` carries
    its message)."""
    global _source
    _source = convert


def local_time(instant: str, zone: str) -> datetime:
    """``instant`` (RFC 3339, an event's ``timestamp``) in the IANA time zone ``zone``, as an aware
    ``datetime`` whose ``tzinfo`` is the zone's offset at that instant, named by its abbreviation:
    ``local_time("2026-03-29T01:30:00Z", "Europe/Madrid").strftime("%d/%m/%Y %H:%M %Z")`` is
    ``"29/03/2026 03:30 CEST"``. Microseconds are kept (Python has no nanoseconds). An unknown zone or an
    instant that is not RFC 3339 raises ``PermanentError`` naming it."""
    try:
        fields = (_source or _zoneinfo_fields)(str(instant), str(zone))
    except ValueError as error:
        raise PermanentError(str(error)) from None
    offset = timezone(timedelta(seconds=fields.offset_seconds), fields.abbreviation)
    return datetime(
        fields.year, fields.month, fields.day, fields.hour, fields.minute, fields.second,
        fields.nanosecond // 1000, tzinfo=offset,
    )


_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$")


def _zoneinfo_fields(instant: str, zone: str) -> LocalFields:
    """The native test harness's conversion, with ``zoneinfo`` (the host's messages, word for word)."""
    from zoneinfo import ZoneInfo  # only natively: the component never reaches here

    text = instant.strip()
    match = _RFC3339.match(text) if len(text) <= 64 else None
    if match is None:
        raise ValueError(f'{_quoted(text)} is not an RFC 3339 instant (such as "2026-03-29T01:30:00Z")')
    date, clock, fraction, offset = match.groups()
    offset = "+00:00" if offset in "Zz" else offset
    moment = datetime.fromisoformat(f"{date}T{clock}{offset}")
    name = zone.strip()
    try:
        if len(name) > 64 or not name:
            raise ValueError(name)
        local = moment.astimezone(ZoneInfo(name))
    except (ValueError, LookupError, OSError):
        raise ValueError(
            f'unknown time zone {_quoted(name)}; name an IANA time zone such as "America/Argentina/Buenos_Aires" '
            'or "Europe/Madrid"'
        ) from None
    return LocalFields(
        local.year, local.month, local.day, local.hour, local.minute, local.second,
        int((fraction or "").ljust(9, "0")), int(local.utcoffset().total_seconds()), local.tzname(),
    )


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
