"""The table of task sources a fixture names, on top of the sources themselves: a text task from
local files or the hub (:mod:`harness.data`, which also holds the types every source returns), a
generated one (:mod:`harness.data.synthetic`), or a token-level one (:mod:`harness.data.tokens`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import data
from ..errors import ConfigError
from . import Task, synthetic, tokens
from .tokens import TokenTask

TASK_SOURCES = ("synthetic", "local", "hub", "conllu", "streusle")
TOKEN_SOURCES = ("conllu", "streusle")  # token-level tasks (harness/data/tokens.py)


@dataclass(frozen=True)
class TaskSpec:
    """Where a task comes from and how it is cut, as a fixture file writes it.

    ``source`` is ``synthetic`` (params: kind, n_train, n_validation, n_test, signal, seed),
    ``local`` (params: path, text_column, label_column) or ``hub`` (params: dataset, config,
    text_column, label_column, split_names, revision); the token-level sources ``conllu`` and
    ``streusle`` give a :class:`harness.data.tokens.TokenTask` (:func:`harness.data.tokens.load`). ``sizes`` subsamples splits (stratified,
    seeded with ``split_seed``); a missing validation split is carved from train
    (``validation_fraction``).
    """

    source: str
    params: tuple[tuple[str, Any], ...] = ()
    sizes: tuple[tuple[str, int], ...] = ()
    validation_fraction: float = 0.1
    split_seed: int = 0
    name: str | None = None

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> TaskSpec:
        spec = dict(spec)
        source = spec.pop("source", None)
        if source not in TASK_SOURCES:
            raise ConfigError(f"task source must be one of {list(TASK_SOURCES)}, got {source!r}")
        sizes = spec.pop("sizes", {}) or {}
        bad = [k for k, v in sizes.items() if not isinstance(v, int) or v < 1]
        if bad:
            raise ConfigError(f"task sizes must be positive integers; bad: {bad}")
        return cls(
            source=source,
            sizes=tuple(sorted(sizes.items())),
            validation_fraction=float(spec.pop("validation_fraction", 0.1)),
            split_seed=int(spec.pop("split_seed", 0)),
            name=spec.pop("name", None),
            params=tuple(sorted((k, _freeze(v)) for k, v in spec.items())),
        )

    def load(self) -> Task | TokenTask:
        params = {k: _thaw(v) for k, v in self.params}
        if self.name:
            params.setdefault("name", self.name)
        if self.source in TOKEN_SOURCES:
            task = tokens.load(self.source, params, seed=self.split_seed)
            task = tokens.with_validation(task, self.validation_fraction, self.split_seed)
            return tokens.resize(task, dict(self.sizes), self.split_seed)
        if self.source == "synthetic":
            params.pop("name", None)
            task = synthetic.generate_task(**params)
        elif self.source == "local":
            if "path" not in params:
                raise ConfigError("a local task needs `path`: the folder with train/test files")
            params.setdefault("split_seed", self.split_seed)
            task = data.load_local(Path(params.pop("path")).expanduser(), **params)
        else:
            if "dataset" not in params:
                raise ConfigError("a hub task needs `dataset`: the data set's hub name")
            task = data.load_hub(params.pop("dataset"), params.pop("config", None), **params)
        task = data.with_validation(task, self.validation_fraction, self.split_seed)
        return data.resize(task, dict(self.sizes), self.split_seed)


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return ("__dict__", tuple(sorted((k, _freeze(v)) for k, v in value.items())))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "__dict__":
        return {k: _thaw(v) for k, v in value[1]}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


def resize(task: Task | TokenTask, sizes: Mapping[str, int | None], seed: int = 0) -> Task | TokenTask:
    """The task with each split named in ``sizes`` stratified-subsampled to that many examples (or
    items, for a token task)."""
    if isinstance(task, TokenTask):
        return tokens.resize(task, sizes, seed)
    return data.resize(task, sizes, seed)
