"""Gancho's plugin SDK for Python: what an integrator writes against.

A plugin is a module (``plugin.py``) with ``transform(event, subscription)`` and optionally
``validate_config(config)``; ``gancho plugin build`` makes it a WebAssembly component with componentize-py.
The event and configuration arrive parsed; requests are built with ``Request.json``, ``.form`` or ``.text``.
"""

from .config import ConfigError
from .errors import PermanentError, TransientError
from .events import Event, Subscription, is_missed, money_text, rendered_body
from .log import log
from .request import Request, form_encode, percent_encode, utf8_length

__all__ = [
    "ConfigError",
    "Event",
    "PermanentError",
    "Request",
    "Subscription",
    "TransientError",
    "form_encode",
    "is_missed",
    "log",
    "money_text",
    "percent_encode",
    "rendered_body",
    "utf8_length",
]
