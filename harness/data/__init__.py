"""Tasks: labelled text data sets with train / validation / test splits.

A :class:`Task` is loaded from one of three sources, all checked the same way by :func:`make_task`:

- a local folder with one file per split (CSV, TSV, JSONL or Parquet): :mod:`harness.data.local`;
- the Hugging Face hub by repository, configuration and revision, its Parquet files fetched
  through ``huggingface_hub`` (which reads its local cache offline): :mod:`harness.data.hubdata`;
- a generator of labelled texts for offline smoke runs: :mod:`harness.data.synthetic`;

and token-level tasks from CoNLL-U and STREUSLE files come from :mod:`harness.data.tokens`. This
module holds what they share: the types, :func:`make_task`'s checks, the split helpers.
:mod:`harness.data.tasks` is the table of sources a fixture names.

Labels may be strings or integers in the source; inside a task they are integer indices into
``Task.label_names`` (the label values seen in the training split, as strings, sorted numerically
when they are all integers). A task without a validation split gets one carved out of train by
:func:`with_validation` (seeded, stratified); :func:`subsample` shrinks a split the same way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError, DataError

SPLITS = ("train", "validation", "test")
# Other names a file or hub split may have for each canonical split.
SPLIT_ALIASES = {"train": ("train",), "validation": ("validation", "valid", "val", "dev"), "test": ("test",)}
FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".parquet": "parquet"}


@dataclass(frozen=True)
class Split:
    """The texts of one split and their labels as indices into the task's label names."""

    texts: tuple[str, ...]
    labels: np.ndarray  # int64, same length as texts

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.labels):
            raise DataError(f"{len(self.texts)} texts but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.texts)

    def take(self, indices: Sequence[int] | np.ndarray) -> Split:
        idx = np.asarray(indices, dtype=np.int64)
        return Split(tuple(self.texts[i] for i in idx), self.labels[idx].copy())


@dataclass(frozen=True)
class Task:
    """A labelled text classification data set with train, validation and test splits."""

    name: str
    label_names: tuple[str, ...]
    splits: Mapping[str, Split]
    source: str = ""
    _fingerprint: list = field(default_factory=list, repr=False, compare=False)

    def __getitem__(self, split: str) -> Split:
        if split not in self.splits:
            raise DataError(
                f"task {self.name!r} has no split {split!r}; it has {sorted(self.splits)}"
            )
        return self.splits[split]

    @property
    def num_labels(self) -> int:
        return len(self.label_names)

    def fingerprint(self) -> str:
        """SHA-256 of the label names and every split's texts and labels: the task's content id."""
        if not self._fingerprint:
            h = hashlib.sha256()
            h.update(json.dumps(list(self.label_names)).encode())
            for name in SPLITS:
                if name not in self.splits:
                    continue
                split = self.splits[name]
                h.update(f"\x00split:{name}:{len(split)}\x00".encode())
                for text in split.texts:
                    h.update(text.encode("utf-8"))
                    h.update(b"\x00")
                h.update(np.ascontiguousarray(split.labels, dtype=np.int64).tobytes())
            self._fingerprint.append(h.hexdigest())
        return self._fingerprint[0]


# --------------------------------------------------------------------------------------------
# Building and checking a task from raw (text, label) columns


def _label_order(values: set[str]) -> list[str]:
    try:
        return sorted(values, key=lambda v: (int(v), v))
    except ValueError:
        return sorted(values)


# Label values that mean "no label" in the files people write (pandas' and spreadsheets' markers).
MISSING_MARKERS = frozenset({"", "nan", "null", "na", "n/a", "#n/a", "<na>"})


def _label_text(value: Any, where: str) -> str:
    """A label as its canonical string: integral numbers written alike ("1", "1.0", 1, 1.0 -> "1"),
    other strings as they are. Missing markers and non-labels raise, naming the row."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        raise DataError(f"{where}: the label is missing ({value!r}); every example needs a label")
    if isinstance(value, bool | np.bool_):
        raise DataError(f"{where}: label {value!r} is a boolean; write the class name or number")
    if isinstance(value, float | np.floating):
        if not float(value).is_integer():
            raise DataError(f"{where}: label {value!r} is a fractional number; labels are class names "
                            "or integers")
        return str(int(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if not isinstance(value, str):
        raise DataError(f"{where}: label must be a string or an integer, got {type(value).__name__} {value!r}")
    if value.strip().lower() in MISSING_MARKERS:
        raise DataError(f"{where}: label {value!r} marks a missing value (allowed: a class name or an "
                        "integer); remove the row or give it a label")
    try:
        number = float(value)
    except ValueError:
        return value
    return str(int(number)) if number.is_integer() and value.strip() == value else value


def check_column(values: Sequence, kind: str, where: str) -> list[str]:
    """Check a text or label column; return its values as strings. Rows are counted from 1, as an
    editor shows them (the header, where there is one, not counted)."""
    out = []
    for i, value in enumerate(values):
        at = f"{where}, row {i + 1}"
        if kind == "text":
            if not isinstance(value, str):
                raise DataError(f"{at}: text must be a string, got {type(value).__name__} {value!r}")
            if not value.strip():
                raise DataError(f"{at}: text is empty; every example needs a text")
            out.append(value)
        else:
            out.append(_label_text(value, at))
    return out


def make_task(
    name: str,
    columns: Mapping[str, tuple[Sequence, Sequence]],
    *,
    source: str = "",
    where: Mapping[str, str] | None = None,
) -> Task:
    """Build a checked :class:`Task` from ``{split: (texts, labels)}``.

    ``where`` names each split's origin (a file, a hub split) for error messages. Checks: known
    split names, a train and a test split, no empty split, string texts that are not blank,
    string or integer labels, at least two classes per split, and no label in validation or test
    that train never saw.
    """
    where = dict(where or {})
    unknown = set(columns) - set(SPLITS)
    if unknown:
        raise DataError(f"task {name!r}: unknown split(s) {sorted(unknown)}; allowed: {list(SPLITS)}")
    for required in ("train", "test"):
        if required not in columns:
            raise DataError(
                f"task {name!r} has no {required!r} split (it has {sorted(columns)}); "
                "train and test are required, validation is derived from train when absent"
            )
    raw: dict[str, tuple[list[str], list[str]]] = {}
    for split, (texts, labels) in columns.items():
        origin = where.get(split, f"task {name!r}, split {split!r}")
        if len(texts) == 0:
            raise DataError(f"{origin}: no examples (an empty split)")
        if len(texts) != len(labels):
            raise DataError(f"{origin}: {len(texts)} texts but {len(labels)} labels")
        raw[split] = (check_column(texts, "text", origin), check_column(labels, "label", origin))

    label_names = _label_order(set(raw["train"][1]))
    index = {label: i for i, label in enumerate(label_names)}
    splits = {}
    for split, (texts, labels) in raw.items():
        origin = where.get(split, f"task {name!r}, split {split!r}")
        seen = set(labels)
        if len(seen) < 2:
            raise DataError(
                f"{origin}: a single class ({next(iter(seen))!r}); a classification split needs "
                "at least two"
            )
        unseen = seen - set(label_names)
        if unseen:
            raise DataError(
                f"{origin}: label(s) {sorted(unseen)} never occur in train; train has {label_names}"
            )
        splits[split] = Split(tuple(texts), np.array([index[v] for v in labels], dtype=np.int64))
    return Task(name=name, label_names=tuple(label_names), splits=splits, source=source)


# --------------------------------------------------------------------------------------------
# Stratified, seeded sampling


def stratified_indices(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of a stratified random sample of size ``n`` (sorted, so the original order stays).

    Each class gets its share of ``n`` by the largest-remainder method; classes too rare for a
    share of at least one are still sampled when the remainders allow it. scikit-learn's
    ``train_test_split(stratify=...)`` refuses classes with a single member, which real
    fine-grained tasks (TREC-50) have, hence this small function.
    """
    labels = np.asarray(labels)
    if not 0 < n <= len(labels):
        raise ConfigError(f"sample size must be in 1..{len(labels)}, got {n}")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * n / len(labels)
    take = np.floor(quota).astype(int)
    short = n - take.sum()
    if short:
        order = np.lexsort((rng.random(len(classes)), -(quota - take)))
        take[order[:short]] += 1
    chosen = []
    for cls, k in zip(classes, take, strict=True):
        members = np.flatnonzero(labels == cls)
        chosen.append(rng.permutation(members)[:k])
    return np.sort(np.concatenate(chosen))


def subsample(split: Split, n: int | None, seed: int) -> Split:
    """A stratified, seeded sample of ``n`` examples (the split itself when n is None or >= size)."""
    if n is None or n >= len(split):
        return split
    return split.take(stratified_indices(split.labels, n, seed))


def with_validation(task: Task, fraction: float = 0.1, seed: int = 0) -> Task:
    """The task with a validation split; carved from train (stratified, seeded) when it has none."""
    if "validation" in task.splits:
        return task
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"validation fraction must be in (0, 1), got {fraction}")
    train = task["train"]
    n_val = max(1, round(len(train) * fraction))
    val_idx = stratified_indices(train.labels, n_val, seed)
    keep = np.setdiff1d(np.arange(len(train)), val_idx)
    splits = dict(task.splits)
    splits["train"], splits["validation"] = train.take(keep), train.take(val_idx)
    return Task(task.name, task.label_names, splits, source=f"{task.source}; validation carved from train")


def resize(task: Task, sizes: Mapping[str, int | None], seed: int = 0) -> Task:
    """The task with each split named in ``sizes`` stratified-subsampled to that many examples (a
    token task's items: :func:`harness.data.tokens.resize`; either: :func:`harness.data.tasks.resize`)."""
    unknown = set(sizes) - set(SPLITS)
    if unknown:
        raise ConfigError(f"sizes name unknown split(s) {sorted(unknown)}; allowed: {list(SPLITS)}")
    for name, n in sizes.items():
        if n is not None and name in task.splits and n > len(task.splits[name]):
            raise ConfigError(f"sizes.{name} = {n}: the {name} split of {task.name} has only "
                              f"{len(task.splits[name])} examples (allowed: 1 to {len(task.splits[name])}, "
                              "or leave it out to use them all)")
    splits = {name: subsample(split, sizes.get(name), seed) for name, split in task.splits.items()}
    return Task(task.name, task.label_names, splits, source=task.source)
