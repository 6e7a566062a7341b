"""One row per event; rows waiting for the same URL are merged into one request of all of them."""

import json

from gancho_sdk import Event, Merged, Request, Subscription, merge_by


def transform(event: Event, subscription: Subscription) -> list[Request]:
    return [Request.json({"values": [[event.id, event.type]]})]


def merge(requests: list[Request], subscription: Subscription) -> list[Merged]:
    def combine(url: str, batch: list[Request]) -> Request:
        return Request.json({"values": [row for r in batch for row in json.loads(r.body)["values"]]}).url(url)

    return merge_by(requests, lambda r: r.url_value, combine, max_requests=subscription.config.get("max_rows", 500))
