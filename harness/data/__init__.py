"""Tasks: labelled text data sets with train / validation / test splits.

A :class:`Task` is loaded from one of three sources, all checked the same way by :func:`make_task`:

- a local folder with one file per split (CSV, TSV, JSONL or Parquet): :func:`load_local`;
- the Hugging Face hub by repository, configuration and revision, its Parquet files fetched
  through ``huggingface_hub`` (which reads its local cache offline): :func:`load_hub`;
- a generator of labelled texts for offline smoke runs: :mod:`harness.data.synthetic`.

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
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, DataError, HubUnavailable
from .hub import require_hub

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


def _check_column(values: Sequence, kind: str, where: str) -> list[str]:
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
        raw[split] = (_check_column(texts, "text", origin), _check_column(labels, "label", origin))

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


# --------------------------------------------------------------------------------------------
# Local files


def _read_table(path: Path, fmt: str, text_column: str, label_column: str) -> tuple[list, list]:
    import pandas as pd

    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")
    try:
        if fmt == "jsonl":
            rows = []
            with path.open(encoding="utf-8") as fh:
                for lineno, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise DataError(f"{path}, line {lineno}: not valid JSON ({exc.msg})") from None
                    if not isinstance(row, dict):
                        raise DataError(f"{path}, line {lineno}: expected a JSON object per line")
                    rows.append(row)
            columns = sorted({k for row in rows for k in row})
            get = {c: [row.get(c) for row in rows] for c in (text_column, label_column) if c in columns}
        elif fmt == "parquet":
            frame = pd.read_parquet(path)
            columns = list(frame.columns)
            get = {c: frame[c].tolist() for c in (text_column, label_column) if c in columns}
        else:
            # Text stays text: no NA parsing ("NA" and "null" are words), labels read as strings.
            frame = pd.read_csv(
                path, sep="\t" if fmt == "tsv" else ",", dtype=str, keep_default_na=False
            )
            columns = list(frame.columns)
            get = {c: frame[c].tolist() for c in (text_column, label_column) if c in columns}
    except DataError:
        raise
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read as {fmt} ({exc})") from None
    for column, role in ((text_column, "text"), (label_column, "label")):
        if column not in get:
            raise DataError(
                f"{path}: no {role} column {column!r}; the file has columns {columns}. "
                f"Name the right one with {role}_column."
            )
    if not get[text_column]:
        raise DataError(f"{path}: the file has a header but no rows")
    return get[text_column], get[label_column]


def find_split_files(folder: Path) -> dict[str, Path]:
    """Map canonical split names to the files of a folder (``train.csv``, ``dev.jsonl``...)."""
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in FORMATS:
            continue
        for split, aliases in SPLIT_ALIASES.items():
            if path.stem.lower() in aliases:
                if split in found:
                    raise DataError(
                        f"{folder}: two files for split {split!r}: {found[split].name} and {path.name}"
                    )
                found[split] = path
    return found


def split_fractions_of(labels: np.ndarray, fractions: Sequence[float], seed: int) -> dict[str, np.ndarray]:
    """Stratified, seeded train / validation / test indices for one labelled table."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise ConfigError(
            f"split_fractions must be three non-negative numbers (train, validation, test) summing "
            f"to 1, got {list(fractions)}"
        )
    n = len(labels)
    rest = np.arange(n)
    n_test = max(1, round(fractions[2] * n))
    test = stratified_indices(labels, n_test, seed)
    rest = np.setdiff1d(rest, test)
    out = {"test": test}
    if fractions[1] > 0:
        n_val = max(1, round(fractions[1] * n))
        val = rest[stratified_indices(labels[rest], n_val, seed + 1)]
        out["validation"] = val
        rest = np.setdiff1d(rest, val)
    out["train"] = rest
    return out


def load_local(
    folder: str | Path,
    *,
    name: str | None = None,
    text_column: str = "text",
    label_column: str = "label",
    split_fractions: Sequence[float] = (0.8, 0.1, 0.1),
    split_seed: int = 0,
) -> Task:
    """Load a task from a folder holding one file per split, or from one file.

    Files in a folder are named after their split (``train``, ``validation``/``valid``/``val``/
    ``dev``, ``test``) with the extension ``.csv``, ``.tsv``, ``.jsonl`` or ``.parquet``. A single
    file is split into train, validation and test by ``split_fractions`` (stratified, seeded;
    Bogaert et al.'s 80/10/10 by default).
    """
    folder = Path(folder)
    if folder.is_file():
        fmt = FORMATS.get(folder.suffix.lower())
        if fmt is None:
            raise DataError(f"{folder}: unknown extension; allowed: {sorted(FORMATS)}")
        texts, labels = _read_table(folder, fmt, text_column, label_column)
        checked = _check_column(labels, "label", str(folder))
        parts = split_fractions_of(np.asarray(checked), split_fractions, split_seed)
        columns = {
            split: ([texts[i] for i in idx], [checked[i] for i in idx]) for split, idx in parts.items()
        }
        where = {split: f"{folder} ({split} part)" for split in columns}
        return make_task(name or folder.stem, columns, source=f"local:{folder}", where=where)
    if not folder.is_dir():
        raise DataError(
            f"{folder}: no such folder or file; a local task is a folder with one file per split, "
            "or one file to split"
        )
    files = find_split_files(folder)
    if not files:
        raise DataError(
            f"{folder}: no split files; expected e.g. train.jsonl and test.jsonl "
            f"(extensions {sorted(FORMATS)}; split names {sum(SPLIT_ALIASES.values(), ())})"
        )
    columns, where = {}, {}
    for split in (s for s in SPLITS if s in files):
        path = files[split]
        columns[split] = _read_table(path, FORMATS[path.suffix.lower()], text_column, label_column)
        where[split] = str(path)
    return make_task(name or folder.name, columns, source=f"local:{folder}", where=where)


# --------------------------------------------------------------------------------------------
# The Hugging Face hub


PARQUET_EXPORT = "refs/convert/parquet"  # where the hub keeps every public data set as Parquet


def load_hub(
    dataset: str,
    config: str | None = None,
    *,
    name: str | None = None,
    text_column: str = "text",
    label_column: str = "label",
    split_names: Mapping[str, str] | None = None,
    revision: str | None = None,
) -> Task:
    """Load a task from a data set on the Hugging Face hub, read from its Parquet files.

    ``dataset`` is the repository (``owner/name``), ``config`` the folder of the configuration
    (none: every Parquet file of the repository), ``revision`` a branch, tag, commit or
    :data:`PARQUET_EXPORT` (the hub's Parquet export, for data sets that still ship a loading
    script, which ``datasets`` 4 and later refuse). The files come through
    ``huggingface_hub.snapshot_download``, which reads the local cache where it holds them (with
    ``HF_HUB_OFFLINE=1``, only there), so a paper-scale run can be prepared on one machine and run
    on another. A split is a folder (``<config>/<split>/0000.parquet``, the export's layout) or a
    file name (``<config>/<split>-00000-of-00001.parquet``, the layout of data sets uploaded as
    Parquet); ``split_names`` maps the canonical splits to the hub's (default: the same names and
    the usual aliases). Integer labels of a ``ClassLabel`` column keep their names (from the
    features ``datasets`` writes into the files). The commit the revision resolved to is in
    ``task.source`` (``hub:<dataset>/<config>@<commit>``). Raises :class:`HubUnavailable` within
    seconds when the hub cannot be reached, or offline when the cache lacks the files.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    require_hub(f"data set {dataset!r}")
    pattern = f"{config}/*.parquet" if config else "*.parquet"
    try:
        folder = Path(snapshot_download(dataset, repo_type="dataset", revision=revision, allow_patterns=[pattern]))
    except LocalEntryNotFoundError as exc:
        raise HubUnavailable(f"data set {dataset!r} (revision {revision or 'main'}) is not in the local Hugging Face "
                             f"cache and the hub is not to be asked (HF_HUB_OFFLINE=1): {exc}") from None
    except Exception as exc:  # no such repository or revision, no access
        raise DataError(f"hub data set {dataset!r} (revision {revision or 'main'}): {type(exc).__name__}: {exc}") from None
    commit = folder.name
    files = sorted(p for p in folder.glob("**/*.parquet") if p.relative_to(folder).match(pattern)
                   or (config and p.relative_to(folder).parts[0] == config))
    origin_root = f"hub {dataset}" + (f"/{config}" if config else "") + f"@{commit[:12]}"
    if not files:
        raise DataError(f"{origin_root}: no Parquet files under {config or 'the repository'}/ at revision "
                        f"{revision or 'main'}; name the configuration folder with `config`, or try "
                        f"revision = {PARQUET_EXPORT!r} (the hub's Parquet export)")
    known = {a for aliases in SPLIT_ALIASES.values() for a in aliases} | set((split_names or {}).values())
    by_split: dict[str, list[Path]] = {}
    for f in files:
        rel = f.relative_to(folder).parts
        prefix = f.stem.split("-")[0]  # train-00000-of-00001
        in_folder = rel[-2] if len(rel) >= 2 and rel[-2] in known else None  # <config>/train/0000
        by_split.setdefault(in_folder or prefix, []).append(f)
    mapping = dict(split_names or {})
    for split, aliases in SPLIT_ALIASES.items():
        if split not in mapping:
            match = next((a for a in aliases if a in by_split), None)
            if match:
                mapping[split] = match
    columns, where = {}, {}
    for split, hub_split in mapping.items():
        if split not in SPLITS:
            raise ConfigError(f"split_names maps unknown split {split!r}; allowed: {list(SPLITS)}")
        if hub_split not in by_split:
            raise DataError(f"{origin_root}: no split {hub_split!r}; it has {sorted(by_split)}")
        origin = f"{origin_root} split {hub_split!r}"
        texts, labels = _read_parquet_split(by_split[hub_split], text_column, label_column, origin)
        columns[split] = (texts, labels)
        where[split] = origin
    return make_task(name or dataset, columns, source=f"hub:{dataset}/{config or ''}@{commit}", where=where)


def _read_parquet_split(files: Sequence[Path], text_column: str, label_column: str, origin: str) -> tuple[list, list]:
    """Texts and labels of one split's Parquet files; ``ClassLabel`` integers as their names."""
    import pyarrow.parquet as pq

    texts: list = []
    labels: list = []
    for f in files:
        table = pq.read_table(f)
        for column in (text_column, label_column):
            if column not in table.column_names:
                raise DataError(f"{origin} ({f.name}): no column {column!r}; it has {table.column_names}")
        names = _class_label_names(table.schema.metadata or {}, label_column)
        values = table.column(label_column).to_pylist()
        if names is not None:
            if any(v is not None and not 0 <= v < len(names) for v in values):
                bad = next(v for v in values if v is not None and not 0 <= v < len(names))
                raise DataError(f"{origin} ({f.name}): label {bad!r} is not one of the {len(names)} classes of "
                                f"{label_column!r} (unlabelled rows, as in a benchmark's hidden test split?); "
                                "map another split to this one with split_names")
            values = [names[v] if v is not None else None for v in values]
        texts += table.column(text_column).to_pylist()
        labels += values
    return texts, labels


def _class_label_names(metadata: Mapping[bytes, bytes], column: str) -> list[str] | None:
    """The class names ``datasets`` stored for ``column`` in a Parquet file's metadata, if any."""
    raw = metadata.get(b"huggingface")
    if not raw:
        return None
    try:
        feature = json.loads(raw)["info"]["features"][column]
    except (ValueError, KeyError, TypeError):
        return None
    return list(feature["names"]) if isinstance(feature, dict) and feature.get("_type") == "ClassLabel" else None
