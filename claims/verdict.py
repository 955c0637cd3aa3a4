"""Verdicts: what a claim concluded on one fixture, readable on its own and as JSON.

A verdict carries the claim, the fixture, the seeds, the measured values beside the paper's
figures, the criterion in words, and whether it passed. A failing claim test's message is the
verdict's text; every verdict of a run goes to ``verdicts.json`` (schema in the README).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA_VERSION = 1


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

    def text(self) -> str:
        lines = [
            f"claim {self.claim} on fixture {self.fixture}: {'PASS' if self.passed else 'FAIL'}",
            f"  criterion: {self.criterion}",
            f"  seeds:     {list(self.seeds)}",
        ]
        for key, value in self.measured.items():
            paper = f"   (paper: {_fmt(self.paper[key])})" if key in self.paper else ""
            lines.append(f"  {key}: {_fmt(value)}{paper}")
        extra = {k: v for k, v in self.paper.items() if k not in self.measured}
        if extra:
            lines.append(f"  paper, other figures: {_fmt(extra)}")
        for key, value in self.details.items():
            lines.append(f"  {key}: {_fmt(value)}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["seeds"] = list(self.seeds)
        return d


def dump(verdicts: list[Verdict], run: dict[str, Any]) -> str:
    """The verdicts file: ``{"schema": 1, "run": {...}, "verdicts": [...]}``."""
    return json.dumps(
        {"schema": SCHEMA_VERSION, "run": run, "verdicts": [v.to_dict() for v in verdicts]},
        indent=2, default=lambda o: o.item() if hasattr(o, "item") else str(o), allow_nan=True,
    )
