"""Verdicts: what a claim concluded on one fixture, readable on its own and as JSON.

A verdict carries the claim, the fixture, the seeds, the measured values beside the paper's
figures, the criterion in words, and whether it passed; 95% confidence intervals of measured
values where they have one (``intervals``), and the data of the figures the paper drew
(``figures``: small data inline, large data as artifact references, see ``claims/figures.py``).
A failing claim test's message is the verdict's text; every verdict of a run goes to
``verdicts.json`` (schema in the README).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA_VERSION = 2  # 2 added intervals and figures; files of schema 1 still load


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.4g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


@dataclass(frozen=True)
class Verdict:
    claim: str
    fixture: str
    seeds: tuple[int, ...]
    passed: bool
    criterion: str
    measured: dict[str, Any]
    paper: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    profile: str = ""
    intervals: dict[str, Any] = field(default_factory=dict)  # measured key -> [low, high] (per seed)
    figures: tuple[dict[str, Any], ...] = ()

    def text(self) -> str:
        lines = [
            f"claim {self.claim} on fixture {self.fixture}: {'PASS' if self.passed else 'FAIL'}",
            f"  criterion: {self.criterion}",
            f"  seeds:     {list(self.seeds)}",
        ]
        for key, value in self.measured.items():
            ci = f"  95% CI {_fmt(self.intervals[key])}" if key in self.intervals else ""
            paper = f"   (paper: {_fmt(self.paper[key])})" if key in self.paper else ""
            lines.append(f"  {key}: {_fmt(value)}{ci}{paper}")
        extra = {k: v for k, v in self.paper.items() if k not in self.measured}
        if extra:
            lines.append(f"  paper, other figures: {_fmt(extra)}")
        for key, value in self.details.items():
            lines.append(f"  {key}: {_fmt(value)}")
        return "\n".join(lines)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Verdict:
        return cls(**{**d, "seeds": tuple(d["seeds"]), "figures": tuple(d.get("figures", ()))})

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["seeds"] = list(self.seeds)
        d["figures"] = list(self.figures)
        return d


def dump(verdicts: list[Verdict], run: dict[str, Any]) -> str:
    """The verdicts file: ``{"schema": 2, "run": {...}, "verdicts": [...]}``."""
    return json.dumps(
        {"schema": SCHEMA_VERSION, "run": run, "verdicts": [v.to_dict() for v in verdicts]},
        indent=2, default=lambda o: o.item() if hasattr(o, "item") else str(o), allow_nan=True,
    )


class VerdictsFileError(ValueError):
    """A verdicts file that cannot be read: the message names the file and what is wrong."""


REQUIRED = {"claim": str, "fixture": str, "seeds": list, "passed": bool, "criterion": str, "measured": dict}


def load(path) -> dict[str, Any]:
    """Read and check a verdicts file (schema 1 or 2); schema-1 verdicts get empty intervals and
    figures. Raises :class:`VerdictsFileError` naming the file, the verdict and the key."""
    from pathlib import Path

    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise VerdictsFileError(f"{path}: no such verdicts file") from None
    except json.JSONDecodeError as exc:
        raise VerdictsFileError(f"{path}: not JSON ({exc})") from None
    if not isinstance(doc, dict) or "verdicts" not in doc:
        raise VerdictsFileError(f"{path}: expected an object with 'schema', 'run' and 'verdicts'")
    schema = doc.get("schema")
    if schema not in (1, SCHEMA_VERSION):
        raise VerdictsFileError(f"{path}: schema {schema!r} is not supported (allowed: 1, {SCHEMA_VERSION})")
    if not isinstance(doc["verdicts"], list):
        raise VerdictsFileError(f"{path}: 'verdicts' must be a list")
    for i, v in enumerate(doc["verdicts"]):
        for key, kind in REQUIRED.items():
            if not isinstance(v, dict):
                raise VerdictsFileError(f"{path}: verdict {i} must be an object, got {v!r}")
            if not isinstance(v.get(key), kind):
                got = type(v[key]).__name__ if key in v else "nothing"
                raise VerdictsFileError(f"{path}: verdict {i} ({v.get('claim', '?')}): "
                                        f"'{key}' must be a {kind.__name__}, got {got}")
        v.setdefault("paper", {})
        v.setdefault("details", {})
        v.setdefault("intervals", {})
        v.setdefault("figures", [])
        v.setdefault("profile", "")
    doc.setdefault("run", {})
    return doc
