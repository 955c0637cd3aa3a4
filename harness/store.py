"""A content-addressed artifact store: build once, find it again, never see half of it.

An artifact is a folder of plain files (``.npy`` arrays, JSON, ``safetensors``/``save_pretrained``
model folders) plus ``manifest.json``. Its key is the SHA-256 of the canonical JSON of everything
that determines it: the kind of step, the step's code version, and its inputs (encoder identity,
task fingerprint, split, hyper-parameters, seed, keys of upstream artifacts). Same inputs, same
key, same folder: a second run recomputes nothing.

Safety, because stores are shared between colleagues and runs get killed:

- *Atomic.* A build writes into ``.tmp/<key>.<pid>.<random>/`` and the finished folder is renamed
  into place in one ``os.rename``; a process killed at any moment leaves at most a stray temporary
  folder (swept on the next build of that key), never a half-written artifact.
- *One builder.* A file lock per key (``filelock``) makes two processes (pytest-xdist workers,
  colleagues) that need the same artifact wait for one build instead of both computing it.
- *Checked on load.* The manifest records every file's size and SHA-256, and is itself sealed:
  ``seal`` is the SHA-256 of the rest of the manifest, ``meta`` (the accuracies a claim may read)
  included. An artifact whose files do not match, that holds a file the manifest does not list,
  or whose manifest was edited is moved to ``.corrupt/`` (kept for inspection, never deleted) and
  rebuilt. Stale temporary folders of killed builds are swept when a store is opened.
- *Nothing executable.* Loading never unpickles: ``np.load(allow_pickle=False)``, JSON, and
  ``safetensors``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from .errors import ConfigError, IntegrityError

MANIFEST = "manifest.json"
STORE_FORMAT = 1  # artifact keys; the manifest's seal (below) came later and is checked on load
DEFAULT_ROOT = ".artifacts"


# Several processes under torchrun: :mod:`harness.distributed` builds an artifact on every rank and
# publishes rank 0's copy. It holds torch, which a reader of the store (the report) does not need,
# so it installs itself here when it is imported (the harness imports it), rather than this
# module importing it.
RANKS: Any = None


def _on_ranks() -> bool:
    if RANKS is not None:
        return RANKS.active()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError(f"WORLD_SIZE={os.environ['WORLD_SIZE']}: several processes share this store, but "
                          "harness.distributed, which keeps their builds in step, was not imported")
    return False


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal values give equal strings (and keys)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=_jsonable)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.integer | np.floating | np.bool_):
        return value.item()
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-serialisable in an artifact key or manifest: {type(value).__name__}")


def artifact_key(kind: str, version: str, inputs: Mapping[str, Any]) -> str:
    payload = {"format": STORE_FORMAT, "kind": kind, "version": version, "inputs": inputs}
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


log = logging.getLogger("claims")


def _logged(build: Callable[[Path], Any], what: str) -> Callable[[Path], Any]:
    """``build`` with a log line when it starts and one with its time when it ends (or fails)."""

    def run(folder: Path):
        log.info("building %s", what)
        started = time.perf_counter()
        try:
            meta = build(folder)
        except BaseException:
            log.info("failed %s after %.1f s", what, time.perf_counter() - started)
            raise
        log.info("built %s in %.1f s", what, time.perf_counter() - started)
        return meta

    return run


def seal(manifest: Mapping[str, Any]) -> str:
    """SHA-256 of a manifest without its seal: any edit of it (``meta`` included) changes this."""
    return hashlib.sha256(canonical_json({k: v for k, v in manifest.items() if k != "seal"}).encode()).hexdigest()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def _file_table(folder: Path) -> dict[str, dict[str, Any]]:
    table = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel != MANIFEST:
            table[rel] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
    return table


def environment() -> dict[str, Any]:
    """Versions and machine facts recorded in every manifest."""
    import importlib.metadata as md

    versions = {}
    for pkg in ("torch", "transformers", "numpy", "scipy", "scikit-learn", "safetensors",
                "matplotlib", "openTSNE", "pytest"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": versions,
    }


@dataclass
class Artifact:
    """A finished artifact folder and its manifest."""

    key: str
    kind: str
    path: Path
    manifest: dict[str, Any]
    cache_hit: bool

    def file(self, name: str) -> Path:
        path = self.path / name
        if name not in self.manifest["files"] and not path.is_dir():
            raise KeyError(f"artifact {self.kind}/{self.key[:12]} has no file {name!r}")
        return path

    def array(self, name: str) -> np.ndarray:
        return np.load(self.file(name if name.endswith(".npy") else f"{name}.npy"), allow_pickle=False)

    def json(self, name: str) -> Any:
        return json.loads(self.file(name if name.endswith(".json") else f"{name}.json").read_text())

    @property
    def meta(self) -> dict[str, Any]:
        """What the build function returned (small JSON metadata: metrics, shapes...)."""
        return self.manifest.get("meta", {})


@dataclass
class StoreStats:
    hits: list[str] = field(default_factory=list)
    builds: list[str] = field(default_factory=list)
    rebuilt_corrupt: list[str] = field(default_factory=list)


class ArtifactStore:
    """Content-addressed artifacts under ``root`` (see the module docstring)."""

    def __init__(self, root: str | Path = DEFAULT_ROOT, *, verify: bool = True):
        self.root = Path(root).expanduser().resolve()
        self.verify = verify
        self.stats = StoreStats()
        self._verified: set[str] = set()
        for sub in (".tmp", ".locks", ".corrupt"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.sweep_stale()

    def sweep_stale(self) -> list[Path]:
        """Remove temporary folders left by killed builds: those whose key's lock nobody holds (a
        build holds its key's lock until it has renamed its folder into place)."""
        from filelock import Timeout

        removed = []
        for stale in (self.root / ".tmp").iterdir():
            key = stale.name.split(".", 1)[0]
            try:
                with FileLock(str(self.root / ".locks" / f"{key}.lock"), timeout=0):
                    shutil.rmtree(stale, ignore_errors=True)
                    removed.append(stale)
            except Timeout:  # a build of that key is running now
                continue
        return removed

    def path_for(self, kind: str, key: str) -> Path:
        if not kind.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(f"artifact kind must be alphanumeric (with - or _), got {kind!r}")
        return self.root / kind / key[:2] / key

    def find(self, kind: str, version: str, inputs: Mapping[str, Any]) -> Artifact | None:
        """The finished, intact artifact for these inputs, or None."""
        key = artifact_key(kind, version, inputs)
        return self._open(kind, key, cache_hit=True)

    def open(self, ref: str) -> Artifact | None:
        """The finished, intact artifact named ``"<kind>/<key>"`` (as figures refer to them), or
        None when this store does not hold it. Never builds anything."""
        kind, _, key = ref.partition("/")
        if not key or len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
            raise ConfigError(f"artifact reference must be '<kind>/<64 hex digits>', got {ref!r}")
        return self._open(kind, key, cache_hit=True)

    def get_or_build(
        self,
        kind: str,
        version: str,
        inputs: Mapping[str, Any],
        build: Callable[[Path], Mapping[str, Any] | None],
        describe: str = "",
    ) -> Artifact:
        """Return the artifact for ``inputs``, building it with ``build(folder)`` if absent.

        ``build`` writes its files into the folder it is given and may return small JSON
        metadata, stored in the manifest as ``meta``. ``version`` is the code version of the step:
        bump it when the step's output would change for the same inputs. ``describe`` says what is
        built, in words, for the log lines at the start and the end of a build (logger
        ``claims``).
        """
        key = artifact_key(kind, version, inputs)
        build = _logged(build, f"{kind}/{key[:12]}" + (f" ({describe})" if describe else ""))
        if _on_ranks():
            return RANKS.get_or_build(self, kind, key, version, inputs, build)
        found = self._open(kind, key, cache_hit=True)
        if found is not None:
            self.stats.hits.append(f"{kind}/{key}")
            return found
        with FileLock(str(self.root / ".locks" / f"{key}.lock")):
            found = self._open(kind, key, cache_hit=True)  # built by another process meanwhile
            if found is not None:
                self.stats.hits.append(f"{kind}/{key}")
                return found
            self._publish(kind, key, version, inputs, build)
        self.stats.builds.append(f"{kind}/{key}")
        artifact = self._open(kind, key, cache_hit=False)
        assert artifact is not None
        return artifact

    def _publish(self, kind, key, version, inputs, build) -> None:
        """Run ``build`` into a temporary folder, write the manifest, and rename the folder into
        place; a failed build leaves nothing. The caller holds the key's lock."""
        self._sweep_tmp(key)
        tmp = self.root / ".tmp" / f"{key}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        tmp.mkdir(parents=True)
        try:
            self._write(kind, key, version, inputs, build, tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _write(self, kind, key, version, inputs, build, tmp: Path) -> None:
        started = time.time()
        meta = build(tmp) or {}
        wall = time.time() - started
        manifest = {
            "format": STORE_FORMAT,
            "kind": kind,
            "key": key,
            "version": version,
            "inputs": inputs,
            "meta": meta,
            "files": _file_table(tmp),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "wall_time_s": round(wall, 3),
            "environment": environment(),
        }
        manifest["seal"] = seal(manifest)
        (tmp / MANIFEST).write_text(canonical_json(manifest))
        final = self.path_for(kind, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.rename(tmp, final)  # atomic on one file system; the artifact appears whole

    # ----------------------------------------------------------------------------------------

    def _open(self, kind: str, key: str, *, cache_hit: bool) -> Artifact | None:
        path = self.path_for(kind, key)
        manifest_path = path / MANIFEST
        if not path.exists():
            return None
        try:
            manifest = json.loads(manifest_path.read_text())
            self._check(path, manifest)
        except (OSError, ValueError, KeyError, IntegrityError) as exc:
            self._quarantine(path, kind, key, exc)
            return None
        return Artifact(key=key, kind=kind, path=path, manifest=manifest, cache_hit=cache_hit)

    def _check(self, path: Path, manifest: dict[str, Any]) -> None:
        if path.as_posix() in self._verified:
            return
        if manifest.get("seal") != seal(manifest):
            raise IntegrityError(f"{path / MANIFEST}: the manifest was changed after the artifact was built "
                                 "(its seal does not match)" if "seal" in manifest else
                                 f"{path / MANIFEST}: no seal (written by an older version)")
        listed = set(manifest["files"]) | {MANIFEST}
        extra = sorted(p.relative_to(path).as_posix() for p in path.rglob("*")
                       if p.is_file() and p.relative_to(path).as_posix() not in listed)
        if extra:
            raise IntegrityError(f"{path}: file(s) {extra[:5]} are not listed in the manifest")
        for rel, expected in manifest["files"].items():
            file = path / rel
            if not file.is_file():
                raise IntegrityError(f"{file}: missing")
            if file.stat().st_size != expected["bytes"]:
                raise IntegrityError(f"{file}: {file.stat().st_size} bytes, manifest says {expected['bytes']}")
            if self.verify and _sha256(file) != expected["sha256"]:
                raise IntegrityError(f"{file}: SHA-256 differs from the manifest")
        self._verified.add(path.as_posix())

    def _quarantine(self, path: Path, kind: str, key: str, exc: Exception) -> None:
        import warnings

        dest = self.root / ".corrupt" / f"{kind}-{key}-{int(time.time())}-{uuid.uuid4().hex[:6]}"
        try:
            os.rename(path, dest)
        except OSError:
            return  # another process moved it first
        self.stats.rebuilt_corrupt.append(f"{kind}/{key}")
        if "no seal" in str(exc):  # an artifact of a store older than sealed manifests
            warnings.warn(f"artifact {kind}/{key[:12]} was stored before manifests were sealed, so an edit of its "
                          f"manifest could not be detected; moved to {dest} and rebuilding it once", stacklevel=3)
            return
        warnings.warn(
            f"artifact {kind}/{key[:12]} is damaged ({exc}); moved to {dest} and rebuilding",
            stacklevel=3,
        )

    def _sweep_tmp(self, key: str) -> None:
        """Remove temporary folders of this key left by killed builds (we hold its lock)."""
        for stale in (self.root / ".tmp").glob(f"{key}.*"):
            shutil.rmtree(stale, ignore_errors=True)


@dataclass(frozen=True)
class Predictions:
    """Gold labels, predicted labels and logits of one split, read from an artifact."""

    labels: np.ndarray
    pred: np.ndarray
    logits: np.ndarray

    @property
    def correct(self) -> np.ndarray:
        return self.pred == self.labels

    @property
    def accuracy(self) -> float:
        return float(self.correct.mean())

    @classmethod
    def of(cls, artifact: Artifact, split: str) -> Predictions:
        if artifact.kind not in ("finetune", "probe", "sparse"):
            raise ConfigError(f"{artifact.kind} artifacts hold no predictions")
        return cls(artifact.array(f"labels_{split}"), artifact.array(f"pred_{split}"),
                   artifact.array(f"logits_{split}"))
