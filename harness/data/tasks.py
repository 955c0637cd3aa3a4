"""The table of task sources a fixture names, on top of the sources themselves: a text task from
local files or the hub (:mod:`harness.data`, which also holds the types every source returns), a
generated one (:mod:`harness.data.synthetic`), or a token-level one (:mod:`harness.data.tokens`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import data
from ..constraints import (
    Constraint,
    Interval,
    Options,
    OrNone,
    Table,
    Text,
    check,
    check_table,
    problem,
    require,
)
from ..errors import ConfigError
from . import Task, hubdata, local, synthetic, tokens
from .tokens import TokenTask

TOKEN_SOURCES = ("conllu", "streusle")  # token-level tasks (harness/data/tokens.py)

# The keys a [task] table may hold, in the vocabulary of harness/constraints.py: those every source
# takes, then each source's own (and which of those it needs). The fixture loader checks a table
# against them before anything loads.
_COLUMN = Text(nonempty=True)
COMMON_KEYS: dict[str, Constraint] = {
    "name": OrNone(Text(nonempty=True)), "sizes": Table(), "validation_fraction": Interval(float, 0, 1, closed="left"),
    "split_seed": Interval(int, 0),
}
SOURCES: dict[str, tuple[dict[str, Constraint], tuple[str, ...]]] = {
    "synthetic": ({"kind": Options(tuple(sorted(synthetic.KINDS))), "n_train": Interval(int, 1),
                   "n_validation": Interval(int, 0), "n_test": Interval(int, 1), "signal": Interval(float, 0, 1),
                   "seed": Interval(int, 0)}, ("kind",)),
    "local": ({"path": tokens.FILE, "text_column": _COLUMN, "label_column": _COLUMN,
               "split_fractions": tokens.FRACTIONS}, ("path",)),
    "hub": ({"dataset": Text(nonempty=True), "config": OrNone(Text(nonempty=True)), "text_column": _COLUMN,
             "label_column": _COLUMN, "split_names": Table(), "revision": OrNone(Text(nonempty=True))}, ("dataset",)),
    **tokens.SOURCE_KEYS,
}
TASK_SOURCES = tuple(SOURCES)
# the keys of each source that name a file (a local one is resolved against the fixture file's folder)
FILE_KEYS = {source: tuple(k for k, c in keys.items() if c is tokens.FILE) for source, (keys, _) in SOURCES.items()}


def check_task_table(table: Mapping[str, Any], where: str = "[task]") -> None:
    """A [task] table's source, keys and values (``where`` names the file and the table)."""
    source = table.get("source")
    check(source, Options(TASK_SOURCES), where, "source")
    keys, needs = SOURCES[source]
    check_table({k: v for k, v in table.items() if k != "source"}, COMMON_KEYS | keys, where)
    require(table, needs, where, f"a {source} task")
    bad = {k: v for k, v in (table.get("sizes") or {}).items() if k not in ("train", "validation", "test")
           or not Interval(int, 1).allows(v)}
    if bad:
        raise problem(where, "sizes", dict(table["sizes"]), "a table of split (train, validation, test) = "
                                                            "an integer >= 1")


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
        check_task_table(spec)
        spec = dict(spec)
        source = spec.pop("source")
        sizes = spec.pop("sizes", {}) or {}
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
            task = local.load_local(Path(params.pop("path")).expanduser(), **params)
        else:
            if "dataset" not in params:
                raise ConfigError("a hub task needs `dataset`: the data set's hub name")
            task = hubdata.load_hub(params.pop("dataset"), params.pop("config", None), **params)
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
