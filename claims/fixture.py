"""Fixture files: encoder x task(s) x protocol x expected outcomes, declared in TOML.

A user adds a fixture by writing a file (see ``fixtures/`` and ``docs/fixtures.md``), never code::

    name = "minilm-synthetic-sentiment"
    profile = "smoke"                       # smoke | full
    seeds = [0]                             # --seeds N replaces them with 0..N-1
    [encoder]   name = "offline:minilm-l6"  # hub id, local folder, or offline:minilm-l6 / -l2
    [task]      source = "synthetic" ...    # the target task (synthetic | local | hub | conllu | streusle)
    [other_task] ...                        # task B, for the cross-task claims (optional)
    [fine_tune] epochs = 2 ...              # harness.training.protocols.FineTuneConfig
    [frozen_head] kind = "roberta" ...      # harness.models.heads.HeadConfig
    [claims.no_overfitting] tolerance = 0.05
    [claims.no_overfitting.paper] ...       # the paper's figures, shown beside the measured ones

Values like ``"${INFOPINION_DIR}"`` are read from the environment; a fixture whose variable is
unset is skipped with a reason that names it. A relative local ``path`` (and an encoder ``name``
that starts with ``./``, ``../``, ``/`` or ``~``: a local folder) is relative to the fixture file.
Where a local input is absent, :attr:`Fixture.missing_paths` names the table, the key, the value
as written and the path looked at; the run (``claims/plugin.py``) makes that an error of a file named
on the command line and a skip of a file found in a folder.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.constraints import Constraint, Interval, ListOf, Options, Text, check, check_table
from harness.data.remote import is_remote
from harness.data.tasks import FILE_KEYS, TaskSpec, check_task_table
from harness.errors import ConfigError
from harness.models.encoders import ENCODER, OFFLINE_LAYERS, EncoderSpec
from harness.models.heads import FROZEN_HEAD, HeadConfig
from harness.training.protocols import FINE_TUNE, PRESETS, FineTuneConfig

from .registry import CLAIMS, spec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PROFILES = ("smoke", "full")
TOP_LEVEL = {"name", "profile", "description", "seeds", "encoder", "task", "other_task",
             "fine_tune", "frozen_head", "claims"}
# Each claim's parameters, defaults and allowed values: its SPEC in claims/catalog/ (one place for each).
CLAIM_PARAMS: dict[str, dict[str, Any]] = {name: s.defaults() for name, s in CLAIMS.items()}
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


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


def _dataclass_from(cls, table: Any, constraints: dict[str, Constraint], where: str):
    """``cls(**table)`` with every key and value checked first against ``constraints`` (the one
    vocabulary and message of harness/constraints.py: the file, the table, the key, the value and
    what is allowed). The values are passed as written (lists as tuples): artifact keys hash them."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table, got {table!r}")
    check_table(table, constraints, where)
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in table.items()})


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
    missing_paths: tuple[str, ...] = ()  # "[table] key = 'value': what is not there"
    missing_claim_inputs: dict[str, tuple[str, ...]] = field(default_factory=dict)  # claim -> the same

    @property
    def needs_hub(self) -> bool:
        local = self.encoder.name in OFFLINE_LAYERS or Path(self.encoder.name).is_dir()
        tasks = [self.task] + ([self.other_task] if self.other_task else [])
        return not local or any(t.source == "hub" for t in tasks)

    def missing_inputs(self, claim: str | None = None) -> list[str]:
        """What is not on this machine: the fixture's own inputs, and ``claim``'s (every claim's
        where ``claim`` is None)."""
        claims = self.missing_claim_inputs.values() if claim is None else [self.missing_claim_inputs.get(claim, ())]
        return [*self.missing_paths, *(m for ms in claims for m in ms)]

    def claim(self, name: str) -> dict[str, Any]:
        return self.claims[name]

    def with_seeds(self, n: int | None) -> Fixture:
        if not n:
            return self
        from dataclasses import replace

        return replace(self, seeds=tuple(range(n)))


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start + 1}: {exc.object[exc.start:exc.start + 1]!r}); "
                          "save the fixture as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def load_fixture(path: str | Path) -> Fixture:
    """Read and check one fixture file: every table, key and value, before anything runs. Errors
    name the file, the table, the key, the value and what is allowed."""
    path = Path(path)
    raw = _read(path)
    where = str(path)
    unknown = set(raw) - TOP_LEVEL
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(TOP_LEVEL)}")
    for required in ("name", "profile", "encoder", "task", "claims"):
        if required not in raw:
            raise ConfigError(f"{where}: missing required key {required!r}")
    check(raw["name"], Text(nonempty=True), f"{where}:", "name")
    check(raw["profile"], Options(PROFILES), f"{where}:", "profile")
    missing: list[str] = []
    raw = _expand(raw, missing)
    seeds = check(raw.get("seeds", [0]), ListOf(Interval(int, 0), nonempty=True), f"{where}:", "seeds")
    for table in ("encoder", "task", "other_task", "fine_tune", "frozen_head", "claims"):
        if table in raw and not isinstance(raw[table], dict):
            raise ConfigError(f"{where}: {table} = {raw[table]!r}: must be a table ([{table}])")

    fine_tune_table = dict(raw.get("fine_tune", {}))
    preset = fine_tune_table.pop("preset", "bogaert")  # a named protocol; the table's keys override it
    if preset not in PRESETS:
        raise ConfigError(f"{where}: [fine_tune] preset = {preset!r}: must be one of {sorted(PRESETS)}")
    fine_tune = _dataclass_from(FineTuneConfig, {**PRESETS[preset], **fine_tune_table}, FINE_TUNE, f"{where}: [fine_tune]")
    claims = {}
    for claim, params in raw["claims"].items():
        if claim not in CLAIMS:
            raise ConfigError(f"{where}: [claims.{claim}]: unknown claim {claim!r}; allowed: {sorted(CLAIMS)}")
        claims[claim] = spec(claim).validate(params, where, has_other_task="other_task" in raw,
                                             snapshots=len(fine_tune.snapshot_at))

    missing_claim_inputs: dict[str, tuple[str, ...]] = {}
    for claim, params in claims.items():  # a claim's own local files (kind "path"): the same rule
        missing_here = []
        for param in spec(claim).all_params:
            written = params.get(param.name)
            if param.kind != "path" or written is None:
                continue
            local = Path(written).expanduser()
            if not local.is_absolute():
                local = (path.parent / local).resolve()
            params[param.name] = str(local)
            if not local.exists() and not _VAR.search(str(local)):
                missing_here.append(f"[claims.{claim}] {param.name} = {written!r}: nothing at {local}")
        if missing_here:
            missing_claim_inputs[claim] = tuple(missing_here)

    missing_paths = []
    for table in ("task", "other_task"):
        spec_ = raw.get(table)
        if not isinstance(spec_, dict):
            continue
        for key in FILE_KEYS.get(spec_.get("source"), ()):
            if not isinstance(spec_.get(key), str) or is_remote(spec_[key]):
                continue  # (a URL is fetched when the task loads: harness/data/remote.py)
            written = spec_[key]
            local = Path(written).expanduser()
            if not local.is_absolute():  # relative to the fixture file, not to the working directory
                local = (path.parent / local).resolve()
            spec_[key] = str(local)
            if not local.exists() and not _VAR.search(str(local)):
                missing_paths.append(f"[{table}] {key} = {written!r}: nothing at {local}")
    encoder_name = raw["encoder"].get("name") if isinstance(raw["encoder"], dict) else None
    if isinstance(encoder_name, str) and encoder_name.startswith(("/", "./", "../", "~")):
        local = Path(encoder_name).expanduser()  # a local encoder folder, not a hub id
        if not local.is_absolute():
            local = (path.parent / local).resolve()
        raw["encoder"]["name"] = str(local)
        if not local.is_dir() and not _VAR.search(str(local)):
            missing_paths.append(f"[encoder] name = {encoder_name!r}: no folder at {local}")
    tasks = {}
    for table in ("task", "other_task"):
        if table in raw:
            check_task_table(raw[table], f"{where}: [{table}]")
            tasks[table] = TaskSpec.from_dict(raw[table])
    return Fixture(
        name=raw["name"],
        profile=raw["profile"],
        path=path,
        description=raw.get("description", ""),
        seeds=tuple(seeds),
        encoder=_dataclass_from(EncoderSpec, raw["encoder"], ENCODER, f"{where}: [encoder]"),
        task=tasks["task"],
        other_task=tasks.get("other_task"),
        fine_tune=fine_tune,
        frozen_head=_dataclass_from(HeadConfig, raw.get("frozen_head", {}), FROZEN_HEAD, f"{where}: [frozen_head]"),
        claims=claims,
        missing_variables=tuple(sorted(set(missing))),
        missing_paths=tuple(missing_paths),
        missing_claim_inputs=missing_claim_inputs,
    )


@dataclass(frozen=True)
class FixtureError:
    """A fixture file that could not be loaded: reported once, as its own failing test, while the
    run goes on with the other fixtures."""

    path: Path
    message: str

    @property
    def name(self) -> str:
        return self.path.stem


def fixture_files(paths: list[str | Path]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(p.rglob("*.toml")))
        elif p.is_file():
            files.append(p)
        else:
            raise ConfigError(f"{p}: no such fixture file or folder")
    return files


def load_fixtures(paths: list[str | Path], errors: list[FixtureError] | None = None) -> list[Fixture]:
    """Fixtures from files and folders (every ``*.toml`` below a folder), sorted by name.

    Without ``errors`` the first bad file raises; with it, each bad file is appended there and
    left out, so that one mistake does not stop the other fixtures."""
    fixtures: list[Fixture] = []
    for f in fixture_files(paths):
        try:
            fixtures.append(load_fixture(f))
        except ConfigError as exc:
            if errors is None:
                raise
            errors.append(FixtureError(f, str(exc)))
    seen: dict[str, Path] = {}
    kept = []
    for fx in fixtures:
        if fx.name in seen:
            message = f"fixture name {fx.name!r} is used by both {seen[fx.name]} and {fx.path}"
            if errors is None:
                raise ConfigError(message)
            errors.append(FixtureError(fx.path, message))
            continue
        seen[fx.name] = fx.path
        kept.append(fx)
    return sorted(kept, key=lambda f: f.name)
