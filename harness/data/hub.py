"""Fail-fast access to the Hugging Face hub.

`huggingface_hub` and `transformers` retry for minutes when the network is down. Before either is asked
for something by name, :func:`require_hub` sends one HEAD request to the hub through
``huggingface_hub``'s own HTTP client (so that ``HF_ENDPOINT``, ``HTTPS_PROXY`` / ``HTTP_PROXY``
and the client's certificates apply exactly as they will for the download) and raises
:class:`HubUnavailable` unless an answer comes within :data:`PROBE_DEADLINE_S` seconds. A server
that accepts the connection and never answers, a DNS lookup that hangs, a proxy that refuses: each
is "unreachable" within that deadline, so that a full fixture on an offline machine is skipped in
seconds instead of hanging. With ``HF_HUB_OFFLINE=1`` the probe is skipped and the libraries read
their local cache only.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache

from ..errors import HubUnavailable

PROBE_TIMEOUT_S = 3.0  # per phase of the request (connect, write, read)
PROBE_DEADLINE_S = 8.0  # the whole probe, DNS included: the answer comes within this
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy",
                   "NO_PROXY", "no_proxy")


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def offline_mode() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes", "on"}


@lru_cache(maxsize=8)
def _probe(endpoint: str, proxies: tuple[tuple[str, str], ...], deadline: float = PROBE_DEADLINE_S) -> str | None:
    """None when the hub answered in time, else the reason it did not. ``proxies`` is part of the
    cache key only: the client reads them from the environment."""
    outcome: dict[str, str | None] = {}

    def ask() -> None:
        from huggingface_hub.utils import get_session

        try:
            response = get_session().head(f"{endpoint}/api/models", timeout=PROBE_TIMEOUT_S,
                                          follow_redirects=False)
            outcome["reason"] = (None if response.status_code < 500
                                 else f"it answered HTTP {response.status_code}")
        except Exception as exc:  # DNS failure, refused, proxy error, TLS, timeout
            outcome["reason"] = f"{type(exc).__name__}: {exc}"

    worker = threading.Thread(target=ask, name="hub-probe", daemon=True)  # a hung DNS lookup cannot hold us
    worker.start()
    worker.join(deadline)
    if "reason" not in outcome:
        return f"no answer within {deadline:g} s"
    return outcome["reason"]


def require_hub(what: str) -> None:
    """Raise HubUnavailable, naming `what` was wanted, unless the hub answers (or offline mode is on)."""
    if offline_mode():
        return
    endpoint = hub_endpoint()
    proxies = tuple((k, os.environ[k]) for k in PROXY_VARIABLES if k in os.environ)
    reason = _probe(endpoint, proxies)
    if reason is not None:
        via = f" through the proxy {dict(proxies)}" if proxies else ""
        raise HubUnavailable(
            f"{what} needs the Hugging Face hub, and {endpoint} cannot be reached{via} ({reason}). "
            "Run where the hub is reachable, or set HF_HUB_OFFLINE=1 to use what the local "
            "Hugging Face cache already holds."
        )
