"""The ``local`` source: a text task from a folder with one file per split (CSV, TSV, JSONL or
Parquet), or from one file split by seeded, stratified fractions; checked by
:func:`harness.data.make_task` as every source is."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from . import FORMATS, SPLIT_ALIASES, SPLITS, Task, check_column, make_task, stratified_indices


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
        checked = check_column(labels, "label", str(folder))
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


