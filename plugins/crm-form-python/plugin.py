"""A niche CRM that takes form posts: a missed call becomes a lead to call back, a closed chat a note on the
contact. The subscription's endpoint URL is the CRM's form endpoint. See README.md."""

from typing import Any

from gancho_sdk import ConfigError, Event, PermanentError, Request, Subscription, is_missed, log

KNOWN = ("list_id", "owner", "source")


def validate_config(config: dict[str, Any]) -> None:
    """``list_id`` is required; ``owner`` (who gets the callback) and ``source`` are optional."""
    for name, value in config.items():
        if name not in KNOWN:
            raise ConfigError(name, f"unknown field `{name}`, expected one of `list_id`, `owner`, `source`")
        if not isinstance(value, str) or value == "":
            raise ConfigError(name, f"set {name} to a non-empty string")
    if "list_id" not in config:
        raise ConfigError("list_id", "missing field `list_id`: set it to the CRM list leads go to")


def transform(event: Event, subscription: Subscription) -> list[Request]:
    """One form post per missed call or closed chat; nothing for anything else."""
    config = subscription.config
    try:
        validate_config(config)
    except ConfigError as error:
        raise PermanentError(f'config field "{error.field}": {error.message}') from None
    source = config.get("source", "gancho")
    if event.type == "call.ended" and is_missed(event.data["call"]):
        call = event.data["call"]
        when = call.get("started_at") if call.get("started_at") is not None else event.timestamp
        queue = f" ({call['queue']})" if call.get("queue") is not None else ""
        return [
            Request.form([
                ("action", "create_lead"),
                ("list_id", config["list_id"]),
                ("phone", call.get("from")),
                ("name", call.get("caller_name")),
                ("owner", config.get("owner")),
                ("source", source),
                ("note", f"Missed call at {when}{queue}"),
            ])
        ]
    if event.type == "chat.closed":
        chat, contact = event.data["chat"], event.data["contact"]
        messages = chat.get("messages") or []
        texts = [f"{m['author'] if m.get('author') is not None else m['from']}: {m['text']}" for m in messages if m.get("text") is not None]
        log.info(f"chat {chat['id']}: {len(texts)} of {len(messages)} messages have text")
        return [
            Request.form([
                ("action", "add_note"),
                ("list_id", config["list_id"]),
                ("phone", contact.get("phone")),
                ("email", contact.get("email")),
                ("name", contact.get("name")),
                ("source", source),
                ("note", "\n".join([f"Chat {chat['id']} closed", *texts])),
            ])
        ]
    return []
