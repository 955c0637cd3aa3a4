"""The ``hub`` source: a text task from a data set on the Hugging Face hub, by repository,
configuration and revision, its Parquet files fetched through ``huggingface_hub`` (which reads its
local cache offline); checked by :func:`harness.data.make_task` as every source is."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import ConfigError, DataError, HubUnavailable
from . import SPLIT_ALIASES, SPLITS, Task, make_task
from .hub import require_hub

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
