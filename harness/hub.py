"""Fail-fast access to the Hugging Face hub.

`datasets` and `transformers` retry for minutes when the network is down. Before either is asked
for something by name, :func:`require_hub` opens one TCP connection to the hub with a short timeout
and raises :class:`HubUnavailable` at once if it cannot, so that a full fixture on an offline machine
is skipped in seconds instead of hanging. With ``HF_HUB_OFFLINE=1`` the probe is skipped and the
libraries read their local cache only.
"""

from __future__ import annotations

import os
import socket
from functools import lru_cache
from urllib.parse import urlparse

from .errors import HubUnavailable

PROBE_TIMEOUT_S = 3.0


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


def offline_mode() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes", "on"}


@lru_cache(maxsize=8)
def _probe(host: str, port: int, timeout: float) -> str | None:
    """Return None when a TCP connection to host:port opens, else the reason it did not."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:  # DNS failure, refused, unreachable, timeout
        return f"{type(exc).__name__}: {exc}"


def require_hub(what: str) -> None:
    """Raise HubUnavailable, naming `what` was wanted, unless the hub answers (or offline mode is on)."""
    if offline_mode():
        return
    url = urlparse(hub_endpoint())
    host = url.hostname or "huggingface.co"
    port = url.port or (443 if url.scheme == "https" else 80)
    reason = _probe(host, port, PROBE_TIMEOUT_S)
    if reason is not None:
        raise HubUnavailable(
            f"{what} needs the Hugging Face hub, and {host}:{port} cannot be reached ({reason}). "
            "Run where the hub is reachable, or set HF_HUB_OFFLINE=1 to use what the local "
            "Hugging Face cache already holds."
        )
