"""Errors the harness raises on purpose, each with a message that says what was wrong and what is allowed."""


class HarnessError(Exception):
    """Base class of the harness's own errors."""


class DataError(HarnessError, ValueError):
    """A task's data is missing, malformed or unusable (names the file, column or value)."""


class ConfigError(HarnessError, ValueError):
    """A fixture or protocol parameter is out of range or of the wrong type."""


class HubUnavailable(HarnessError, ConnectionError):
    """The Hugging Face hub cannot be reached, or an optional hub dependency is missing.

    Claims turn this into a skip with the message as the reason: a full fixture on an offline
    machine is not a failure of the claim.
    """


class IntegrityError(HarnessError):
    """A file's content does not match the checksum it was pinned or recorded with."""
