"""Logging through the host: Gancho tags every line with the tenant, plugin and event. Inside the component
lines go to the ``gancho:plugin/log`` import; in native tests, to the test harness."""

import json
from typing import Any, Callable, Optional

_sink: Optional[Callable[[str, str], None]] = None


def set_sink(write: Optional[Callable[[str, str], None]]) -> None:
    """Where lines go: set by the component's entry (the host import) or by the test harness."""
    global _sink
    _sink = write


class _Log:
    """``log.info("mapped", n, "messages")``: parts that are not strings are written as JSON."""

    def _write(self, level: str, parts: tuple[Any, ...]) -> None:
        if _sink is not None:
            text = " ".join(p if isinstance(p, str) else json.dumps(p, ensure_ascii=False) for p in parts)
            _sink(level, text)

    def trace(self, *parts: Any) -> None:
        self._write("trace", parts)

    def debug(self, *parts: Any) -> None:
        self._write("debug", parts)

    def info(self, *parts: Any) -> None:
        self._write("info", parts)

    def warn(self, *parts: Any) -> None:
        self._write("warn", parts)

    def error(self, *parts: Any) -> None:
        self._write("error", parts)


log = _Log()
