"""Fixture files: encoder x task(s) x protocol x expected outcomes, declared in TOML.

A user adds a fixture by writing a file (see ``fixtures/`` and the README), never code::

    name = "minilm-synthetic-sentiment"
    profile = "smoke"                       # smoke | full
    seeds = [0]                             # --seeds N replaces them with 0..N-1
    [encoder]   name = "offline:minilm-l6"  # hub id, local folder, or offline:minilm-l6 / -l2
    [task]      source = "synthetic" ...    # the target task (synthetic | local | hub)
    [other_task] ...                        # task B, for the cross-task claims (optional)
    [fine_tune] epochs = 2 ...              # harness.protocols.FineTuneConfig
    [frozen_head] kind = "roberta" ...      # harness.heads.HeadConfig
    [claims.no_overfitting] tolerance = 0.05
    [claims.no_overfitting.paper] ...       # the paper's figures, shown beside the measured ones

Values like ``"${INFOPINION_DIR}"`` are read from the environment; a fixture whose variable is
unset is skipped with a reason that names it. A relative local ``path`` is relative to the
fixture file; a fixture whose local data is absent is skipped with a reason that names the path.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from harness.build import TaskSpec
from harness.encoders import OFFLINE_LAYERS, EncoderSpec
from harness.errors import ConfigError
from harness.heads import HeadConfig
from harness.protocols import FineTuneConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PROFILES = ("smoke", "full")
TOP_LEVEL = {"name", "profile", "description", "seeds", "encoder", "task", "other_task",
             "fine_tune", "frozen_head", "claims"}

# Each claim's parameters with their defaults, and the allowed values where they are a choice.
CLAIM_PARAMS: dict[str, dict[str, Any]] = {
    "no_overfitting": {"expect": "no_overfitting", "tolerance": 0.05, "max_overlap": 0.1, "paper": {}},
    "accuracy_gap": {"expect": None, "alpha": 0.01, "paper": {}},
    "pca_variance": {"variance": 0.95, "max_ratio": 0.5, "cross_task_between": False, "paper": {}},
    "label_distances": {"min_growth": 0.01, "train_test_similarity": False, "paper": {}},
    "cross_task": {"expect": "lower", "alpha": 0.05, "paper": {}},
    "cross_task_distances": {"expect": "lower", "all_labels": False, "min_change": 0.01, "split": "train",
                             "scale": "raw", "paper": {}},
    "layer_change": {"measure": "cka", "pooling": "mean", "split": "test", "min_drop": 0.05,
                     "max_trend": -0.5, "min_similarity": None, "paper": {}},
    "seed_welch": {"a": "frozen", "b": "finetuned", "expect": "not_significant", "alpha": 0.05,
                   "min_seeds": 3, "paper": {}},
    "discriminant_words": {"method": "ig", "n_steps": 16, "split": "test", "max_texts": 500, "min_count": 5,
                           "top_k": 10, "relatedness": "mutual_information", "lexicon": [], "min_margin": 0.0,
                           "paper": {}},
    "domain_shift": {"measure": "cka", "pooling": "mean", "split": "test", "top_layers": 2, "min_gap": 0.02,
                     "max_texts": 500, "paper": {}},
    "sparse_baselines": {"expect": "finetuned_better", "features": ["tfidf", "counts", "hashing"], "folds": 10,
                         "alpha": 0.01, "paper": {}},
    "partial_finetuning": {"expect": "recovers", "trainable_layers": [1, 2], "few": 2, "min_recovery": 0.9, "min_gain": 0.01,
                           "paper": {}},
}
CLAIM_CHOICES = {
    ("no_overfitting", "expect"): ("no_overfitting", "overfitting"),
    ("accuracy_gap", "expect"): ("finetuned_better", "frozen_better", "not_significant"),
    ("cross_task", "expect"): ("lower", "not_significant"),
    ("cross_task_distances", "expect"): ("lower", "higher"),
    ("cross_task_distances", "split"): ("train", "validation", "test"),
    ("cross_task_distances", "scale"): ("raw", "mean_norm"),
    ("layer_change", "measure"): ("cka", "rsa", "spatial"),
    ("partial_finetuning", "expect"): ("recovers", "does_not_recover"),
    ("seed_welch", "expect"): ("a_better", "b_better", "not_significant"),
    ("discriminant_words", "method"): ("ig", "gradxinput"),
    ("discriminant_words", "relatedness"): ("mutual_information", "lexicon"),
    ("discriminant_words", "split"): ("train", "validation", "test"),
    ("domain_shift", "measure"): ("cka", "rsa"),
    ("domain_shift", "pooling"): ("first", "mean"),
    ("domain_shift", "split"): ("train", "validation", "test"),
    ("sparse_baselines", "expect"): ("finetuned_better", "sparse_better", "not_significant"),
    ("layer_change", "pooling"): ("first", "mean"),
    ("layer_change", "split"): ("train", "validation", "test"),
}
CLAIMS_NEEDING_OTHER_TASK = ("cross_task", "cross_task_distances", "domain_shift")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class MissingInput(Exception):
    """An input the fixture needs is not on this machine (an unset variable): skip, not fail."""


def _expand(value: Any, missing: list[str]) -> Any:
    if isinstance(value, str):
        for var in _VAR.findall(value):
            if var not in os.environ:
                missing.append(var)
        return _VAR.sub(lambda m: os.environ.get(m.group(1), m.group(0)), value)
    if isinstance(value, dict):
        return {k: _expand(v, missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, missing) for v in value]
    return value


def _dataclass_from(cls, table: dict[str, Any], where: str):
    allowed = {f.name for f in fields(cls)}
    unknown = set(table) - allowed
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in table.items()}
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


@dataclass(frozen=True)
class Fixture:
    name: str
    profile: str
    path: Path
    encoder: EncoderSpec
    task: TaskSpec
    fine_tune: FineTuneConfig
    frozen_head: HeadConfig
    seeds: tuple[int, ...] = (0,)
    other_task: TaskSpec | None = None
    claims: dict[str, dict[str, Any]] = field(default_factory=dict)
    description: str = ""
    missing_variables: tuple[str, ...] = ()
    missing_paths: tuple[str, ...] = ()

    @property
    def needs_hub(self) -> bool:
        local = self.encoder.name in OFFLINE_LAYERS or Path(self.encoder.name).is_dir()
        tasks = [self.task] + ([self.other_task] if self.other_task else [])
        return not local or any(t.source == "hub" for t in tasks)

    def claim(self, name: str) -> dict[str, Any]:
        return self.claims[name]

    def with_seeds(self, n: int | None) -> Fixture:
        if not n:
            return self
        from dataclasses import replace

        return replace(self, seeds=tuple(range(n)))


def load_fixture(path: str | Path) -> Fixture:
    """Read and check one fixture file; errors name the file and the key."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    where = str(path)
    unknown = set(raw) - TOP_LEVEL
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(TOP_LEVEL)}")
    for required in ("name", "profile", "encoder", "task", "claims"):
        if required not in raw:
            raise ConfigError(f"{where}: missing required key {required!r}")
    if raw["profile"] not in PROFILES:
        raise ConfigError(f"{where}: profile must be one of {list(PROFILES)}, got {raw['profile']!r}")
    missing: list[str] = []
    raw = _expand(raw, missing)
    seeds = raw.get("seeds", [0])
    if not seeds or not all(isinstance(s, int) and s >= 0 for s in seeds):
        raise ConfigError(f"{where}: seeds must be a non-empty list of non-negative integers")

    claims = {}
    for claim, params in raw["claims"].items():
        if claim not in CLAIM_PARAMS:
            raise ConfigError(f"{where}: unknown claim {claim!r}; allowed: {sorted(CLAIM_PARAMS)}")
        bad = set(params) - set(CLAIM_PARAMS[claim])
        if bad:
            raise ConfigError(
                f"{where}: claims.{claim} has unknown key(s) {sorted(bad)}; "
                f"allowed: {sorted(CLAIM_PARAMS[claim])}"
            )
        merged = {**CLAIM_PARAMS[claim], **params}
        for (c, key), choices in CLAIM_CHOICES.items():
            if c == claim and merged[key] not in choices:
                raise ConfigError(
                    f"{where}: claims.{claim}.{key} must be one of {list(choices)}, got {merged[key]!r}"
                )
        if claim in CLAIMS_NEEDING_OTHER_TASK and "other_task" not in raw:
            raise ConfigError(f"{where}: claim {claim!r} needs an [other_task] table (task B)")
        claims[claim] = merged

    missing_paths = []
    for table in ("task", "other_task"):
        spec = raw.get(table)
        if isinstance(spec, dict) and spec.get("source") == "local" and "path" in spec:
            local = Path(spec["path"]).expanduser()
            if not local.is_absolute():  # relative to the fixture file, not to the working directory
                local = (path.parent / local).resolve()
            spec["path"] = str(local)
            if not local.exists() and not _VAR.search(str(local)):
                missing_paths.append(str(local))
    try:
        task = TaskSpec.from_dict(raw["task"])
        other = TaskSpec.from_dict(raw["other_task"]) if "other_task" in raw else None
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return Fixture(
        name=raw["name"],
        profile=raw["profile"],
        path=path,
        description=raw.get("description", ""),
        seeds=tuple(seeds),
        encoder=_dataclass_from(EncoderSpec, raw["encoder"], f"{where} [encoder]"),
        task=task,
        other_task=other,
        fine_tune=_dataclass_from(FineTuneConfig, raw.get("fine_tune", {}), f"{where} [fine_tune]"),
        frozen_head=_dataclass_from(HeadConfig, raw.get("frozen_head", {}), f"{where} [frozen_head]"),
        claims=claims,
        missing_variables=tuple(sorted(set(missing))),
        missing_paths=tuple(missing_paths),
    )


def load_fixtures(paths: list[str | Path]) -> list[Fixture]:
    """Fixtures from files and folders (every ``*.toml`` below a folder), sorted by name."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(p.rglob("*.toml")))
        elif p.is_file():
            files.append(p)
        else:
            raise ConfigError(f"{p}: no such fixture file or folder")
    fixtures = [load_fixture(f) for f in files]
    seen: dict[str, Path] = {}
    for fx in fixtures:
        if fx.name in seen:
            raise ConfigError(f"fixture name {fx.name!r} is used by both {seen[fx.name]} and {fx.path}")
        seen[fx.name] = fx.path
    return sorted(fixtures, key=lambda f: f.name)
