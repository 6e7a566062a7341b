"""Gancho's plugin SDK for Python: what an integrator writes against.

A plugin is a module (``plugin.py``) with ``transform(event, subscription)`` and optionally
``validate_config(config)`` and ``merge(requests, subscription)`` (see ``merge_by``); ``gancho plugin build`` makes it a WebAssembly component with componentize-py.
The event and configuration arrive parsed; requests are built with ``Request.json``, ``.form`` or ``.text``;
``local_time(event.timestamp, "America/Argentina/Buenos_Aires")`` reads an instant in the customer's zone.
"""

from .config import ConfigError
from .errors import PermanentError, TransientError
from .events import Event, Subscription, is_missed, money_text, rendered_body
from .log import log
from .merge import Merged, merge_by
from .request import Request, form_encode, percent_encode, utf8_length
from .time import local_time

__all__ = [
    "ConfigError",
    "Event",
    "Merged",
    "PermanentError",
    "Request",
    "Subscription",
    "TransientError",
    "form_encode",
    "is_missed",
    "local_time",
    "log",
    "merge_by",
    "money_text",
    "percent_encode",
    "rendered_body",
    "utf8_length",
]
