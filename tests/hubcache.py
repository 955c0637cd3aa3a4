"""An offline copy of the Hugging Face hub for tests: a cache laid out as ``huggingface_hub`` lays
it out (``<HF_HOME>/hub/{models,datasets}--owner--name/{refs,snapshots}``), holding every
repository the full fixtures name, at the revisions they name.

- Each encoder id gets the offline MiniLM's files (linked, not copied) standing in for its weights.
- Each data set gets generated rows in Parquet, with the configuration, split names and columns
  the fixtures use, laid out as the hub has them (the Parquet export's
  ``<config>/<split>/0000.parquet`` for ``refs/convert/parquet``, ``<config>/<split>-00000-of-00001
  .parquet`` otherwise), and label columns as ``ClassLabel`` features in the files' metadata, as
  ``datasets`` writes them.

With ``HF_HOME`` pointing at the folder and ``HF_HUB_OFFLINE=1``, the project's own loaders
(``harness.data.hubdata.load_hub``, ``harness.models.encoders.load_encoder``) read these as they would read a
cache filled from the hub; nothing of the project is mocked.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from claims.fixture import Fixture
from harness.data.hubdata import PARQUET_EXPORT
from harness.data.tasks import TaskSpec, _thaw
from harness.models.encoders import OFFLINE_LAYERS, offline_model_dir

MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
               "special_tokens_map.json")
CLASSES = 6  # per label column
WORDS = ("river", "price", "doctor", "planet", "music", "city", "engine", "garden", "storm", "castle")


def fake_commit(*parts: str) -> str:
    return hashlib.sha1("/".join(parts).encode()).hexdigest()


def _repo(root: Path, kind: str, repo_id: str) -> Path:
    return root / "hub" / f"{kind}--{repo_id.replace('/', '--')}"


def snapshot_folder(root: Path, kind: str, repo_id: str, revision: str | None) -> tuple[Path, str]:
    """A repository's snapshot folder for ``revision`` (a commit, or a name written to ``refs/``
    and given a made-up commit), created; and that commit."""
    repo = _repo(root, kind, repo_id)
    is_commit = revision is not None and len(revision) == 40
    commit = revision if is_commit else fake_commit(kind, repo_id, revision or "main")
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True, exist_ok=True)
    if not is_commit:
        ref = repo / "refs" / (revision or "main")
        ref.parent.mkdir(parents=True, exist_ok=True)
        ref.write_text(commit)
    return snap, commit


def add_model(root: Path, repo_id: str, revision: str | None = None) -> str:
    snap, commit = snapshot_folder(root, "models", repo_id, revision)
    source = offline_model_dir()
    for name in MODEL_FILES:
        if (source / name).exists() and not (snap / name).exists():
            (snap / name).symlink_to(source / name)
    return commit


def add_dataset(root: Path, repo_id: str, config: str | None, revision: str | None, text_column: str,
                label_columns: list[str], splits: list[str], rows: int = 60) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    snap, commit = snapshot_folder(root, "datasets", repo_id, revision)
    features = {text_column: {"dtype": "string", "_type": "Value"}}
    features |= {c: {"names": [f"{c}_{k}" for k in range(CLASSES)], "_type": "ClassLabel"} for c in label_columns}
    metadata = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
    for i, split in enumerate(splits):
        labels = [(j * 7 + i) % CLASSES for j in range(rows)]
        texts = [f"{split} text {j} about the {WORDS[y]} and the {WORDS[(y + j) % len(WORDS)]}"
                 for j, y in enumerate(labels)]
        table = pa.table({text_column: texts, **{c: labels for c in label_columns}})
        table = table.replace_schema_metadata(metadata)
        if revision == PARQUET_EXPORT:
            path = snap / (config or "default") / split / "0000.parquet"
        else:
            path = snap / (config or "data") / f"{split}-00000-of-00001.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
    return commit


def build_cache(root: Path, fixtures: list[Fixture], rows: int = 60) -> dict[str, str]:
    """The cache under ``root`` (use as ``HF_HOME``) for every hub encoder and hub task of
    ``fixtures``; returns what each name resolves to, keyed as ``Harness.resolved`` keys it."""
    resolved: dict[str, str] = {}
    datasets: dict[tuple, dict] = {}
    for fx in fixtures:
        if fx.encoder.name not in OFFLINE_LAYERS and not Path(fx.encoder.name).is_dir():
            resolved[f"model {fx.encoder.name}"] = add_model(root, fx.encoder.name, fx.encoder.revision)
        for spec in (fx.task, fx.other_task):
            if isinstance(spec, TaskSpec) and spec.source == "hub":
                p = {k: _thaw(v) for k, v in spec.params}
                key = (p["dataset"], p.get("config"), p.get("revision"))
                entry = datasets.setdefault(key, {"text": p.get("text_column", "text"), "labels": set(),
                                                  "splits": {"train", "test"}})
                entry["labels"].add(p.get("label_column", "label"))
                entry["splits"] |= set((p.get("split_names") or {}).values())
    for (dataset, config, revision), entry in datasets.items():
        commit = add_dataset(root, dataset, config, revision, entry["text"], sorted(entry["labels"]),
                             sorted(entry["splits"]), rows)
        resolved[f"data {dataset}/{config or ''}".rstrip("/")] = commit
    return resolved
