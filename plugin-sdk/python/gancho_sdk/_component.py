"""The component's ``WitWorld`` for a plugin module: WIT records to the entry and back. Imported only inside
the component (``wit_world`` exists only when componentize-py builds it)."""

from types import ModuleType

import wit_world
from componentize_py_types import Err
from wit_world.imports import log as host_log
from wit_world.imports import time as host_time
from wit_world.imports import types as wit

from .log import set_sink
from .time import LocalFields, set_source
from .entry import ConfigRefusal, PluginFailure, run_merge, run_transform, run_validate

_METHODS = {name.lower(): member for name, member in wit.Method.__members__.items()}
_LEVELS = {name.lower(): member for name, member in host_log.Level.__members__.items()}
_KINDS = {"permanent": wit.ErrorKind.PERMANENT, "transient": wit.ErrorKind.TRANSIENT}


def world_for(plugin: ModuleType) -> type:
    """The class componentize-py exports, calling ``plugin``'s functions."""
    set_sink(lambda level, message: host_log.log(_LEVELS[level], message))
    set_source(_host_local_time)

    class WitWorld(wit_world.WitWorld):
        def transform(self, event: wit.Event, subscription: wit.Subscription) -> list[wit.Request]:
            fields = {
                "id": event.id,
                "event_type": event.event_type,
                "tenant": event.tenant,
                "timestamp": event.timestamp,
                "data": event.data,
            }
            sub = {"id": subscription.id, "endpoint_url": subscription.endpoint_url, "config": subscription.config}
            try:
                sent = run_transform(plugin, fields, sub)
            except PluginFailure as failure:
                raise Err(wit.PluginError(_KINDS[failure.kind], failure.message)) from None
            return [wit.Request(_METHODS[m], url, headers, body) for (m, url, headers, body) in sent]

        def validate_config(self, config: str) -> None:
            try:
                run_validate(plugin, config)
            except ConfigRefusal as refusal:
                raise Err(wit.ConfigError(refusal.field, refusal.message)) from None

    if not callable(getattr(plugin, "merge", None)):
        return WitWorld

    # Built against `merging-plugin` (the plugin defines merge): the world has `merge` too.
    class MergingWitWorld(WitWorld):
        def merge(self, requests: list[wit.Request], subscription: wit.Subscription) -> list[wit.Merged]:
            given = [(r.method.name.lower(), r.url, list(r.headers), bytes(r.body)) for r in requests]
            sub = {"id": subscription.id, "endpoint_url": subscription.endpoint_url, "config": subscription.config}
            try:
                merged = run_merge(plugin, given, sub)
            except PluginFailure as failure:
                raise Err(wit.PluginError(_KINDS[failure.kind], failure.message)) from None
            return [
                wit.Merged(wit.Request(_METHODS[m], url, headers, body), carries)
                for ((m, url, headers, body), carries) in merged
            ]

    return MergingWitWorld


def _host_local_time(instant: str, zone: str) -> LocalFields:
    """The host's ``time`` import, its error as a ``ValueError``."""
    try:
        t = host_time.to_local(instant, zone)
    except Err as refused:
        raise ValueError(str(refused.value)) from None
    return LocalFields(
        t.year, t.month, t.day, t.hour, t.minute, t.second, t.nanosecond, t.offset_seconds, t.abbreviation
    )
