"""The event's time in each zone the config lists, as local_time reads it: one JSON row per zone."""

from gancho_sdk import Event, Request, Subscription, local_time


def transform(event: Event, subscription: Subscription) -> list[Request]:
    rows = []
    for zone in subscription.config["zones"]:
        local = local_time(event.timestamp, zone)
        rows.append({"zone": zone, "local": local.isoformat(timespec="seconds"), "abbreviation": local.tzname()})
    return [Request.json(rows)]
