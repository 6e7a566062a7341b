"""The errors a plugin raises: its message, and whether retrying may help."""


class PermanentError(Exception):
    """An error retrying will not fix (bad data, bad configuration). Say what to change."""

    kind = "permanent"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class TransientError(Exception):
    """An error that may go away later: Gancho retries the event on its delivery schedule."""

    kind = "transient"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
