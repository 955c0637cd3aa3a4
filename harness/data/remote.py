"""Data files that live at a URL or on the Hugging Face hub, fetched once into a local cache.

A token corpus (a CoNLL-U treebank, STREUSLE's JSON) may be given as a local path, an
``http(s)://`` or ``file://`` URL, or ``hf://datasets/<owner>/<name>[@<revision>]/<file>``.
:func:`local_copy` returns a local path for any of them: a URL is downloaded once into
``$CLAIMS_DATA_CACHE`` (default ``~/.cache/finetune-claims/data``), written under a temporary name
and renamed (an interrupted download leaves nothing), and checked against ``sha256`` where the
fixture pins one; a hub file goes through ``huggingface_hub`` (its cache, ``HF_HUB_OFFLINE``, the
fail-fast probe of :mod:`harness.data.hub`). A server that does not answer fails within
``TIMEOUT_S`` seconds, with a message that names the URL and the way out (a local path).
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import DataError

TIMEOUT_S = 10.0
_HF = re.compile(r"hf://datasets/(?P<repo>[^/@]+/[^/@]+)(?:@(?P<revision>[^/]+))?/(?P<file>.+)")


def is_remote(location: str) -> bool:
    return isinstance(location, str) and location.startswith(("http://", "https://", "file://", "hf://"))


def cache_dir() -> Path:
    return Path(os.environ.get("CLAIMS_DATA_CACHE", Path.home() / ".cache" / "finetune-claims" / "data")).expanduser()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def local_copy(location: str | Path, sha256: str | None = None) -> Path:
    """A local path for ``location`` (a local path is returned as it is)."""
    location = str(location)
    if not is_remote(location):
        return Path(location).expanduser()
    hub = _HF.fullmatch(location)
    if hub:
        from huggingface_hub import hf_hub_download

        from .hub import require_hub

        require_hub()
        try:
            path = Path(hf_hub_download(hub["repo"], hub["file"], repo_type="dataset", revision=hub["revision"]))
        except Exception as exc:  # the client's own errors: not found, offline without a cached copy
            raise DataError(f"{location}: cannot be fetched from the hub ({type(exc).__name__}: {exc}); "
                            "give a local path instead") from None
    else:
        name = re.sub(r"[^A-Za-z0-9._-]", "_", location.rsplit("/", 1)[-1]) or "data"
        path = cache_dir() / f"{hashlib.sha256(location.encode()).hexdigest()[:16]}-{name}"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            try:
                with urllib.request.urlopen(location, timeout=TIMEOUT_S) as response, tmp.open("wb") as out:
                    while block := response.read(1 << 20):
                        out.write(block)
                tmp.replace(path)
            except (urllib.error.URLError, OSError, ValueError) as exc:
                reason = getattr(exc, "reason", exc)
                raise DataError(f"{location}: cannot be downloaded ({reason}); download it yourself and give "
                                "its local path instead") from None
            finally:
                tmp.unlink(missing_ok=True)
    if sha256 is not None and _sha256(path) != sha256.lower():
        got = _sha256(path)
        if not hub:
            path.unlink(missing_ok=True)  # a wrong download is not kept
        raise DataError(f"{location}: SHA-256 {got}, but the fixture pins {sha256}: another file than the "
                        "one the fixture was written for")
    return path
