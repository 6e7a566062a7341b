"""Why a subscription's configuration is refused, and the entry's own check that it is a JSON object."""

import json
from typing import Any, Optional


class ConfigError(Exception):
    """A configuration refused: ``field`` is its path (``channel``, ``columns[2]``), or None for all of it."""

    def __init__(self, field: Optional[str], message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def parse_config(text: str) -> dict[str, Any]:
    """The configuration's JSON text parsed; a ConfigError unless it is an object."""
    try:
        config = json.loads(text)
    except ValueError as error:
        raise ConfigError(None, f"the configuration is not valid JSON: {error}") from None
    if not isinstance(config, dict):
        raise ConfigError(None, 'the configuration must be a JSON object, such as {} or {"channel": "#sales"}')
    return config
