"""The verdicts file: what each claim concluded on each fixture, as strict JSON.

One row per claim x fixture that the run collected, whatever happened to it:

- ``status``: ``passed`` (the fixture's expectation held), ``failed`` (it did not), ``error``
  (the claim could not be computed: ``message`` says why) or ``skipped`` (``message``: the reason).
- ``conclusion``: what the evidence says about the *paper*: ``reproduced``, ``contradicted`` or
  ``inconclusive`` (the data cannot decide); ``null`` for errors and skips.
- ``expected``: the conclusion the fixture expected (``reproduced`` unless it says otherwise: a
  fixture may expect a contradiction at small scale).
- ``statement``: the paper's sentence and where it stands (``source``), shown beside ours.
- ``pvalues``: the raw p-value of each significance test the verdict used.
- ``deciding``: the one test that decides whether the verdict reproduces the paper (``test``, a
  key of ``pvalues``; ``p``, the largest over the seeds and layers that must all hold; ``alpha``),
  and, filled in at the end of a run, ``family`` (how many verdicts of the run have one),
  ``p_holm`` (Holm-adjusted over those) and ``holds_under_holm`` (whether the verdict would still
  reproduce after the adjustment); ``pvalues_holm`` holds the same adjusted p under the test's
  key. Empty where no significance test decides (geometry, counts).
- ``headline``: the one or two measured keys the report shows in its first table (the claim's
  choice; empty: the first two).

One value shape: every measured quantity is ``{"value": v, "sd": s, "per_seed": [...]}`` (the
value is the mean over the seeds, ``sd`` is null for one seed, ``per_seed`` is null for a
quantity of the whole run, a test across seeds), and every interval is a list of ``[low, high]``
(one per seed, or one for the run).

Schema history: 1 (verdicts), 2 (+ intervals, figures), 3 (+ status, conclusion, expected,
statement, pvalues, message; one value shape; strict JSON: NaN and infinities are written as
null), 4 (+ deciding; Holm over one deciding p per verdict instead of every p), 5 (+ headline). Files
of schemas 1 to 4 still load: their ``passed`` becomes ``status`` and their conclusion is unknown
(``null``). This module is part of the installed package, so ``python -m reports build`` reads a
verdicts file from any folder.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 5
FIXTURE_FILE = "(fixture file)"  # the claim of a row for a fixture file that did not load
CONCLUSIONS = ("reproduced", "contradicted", "inconclusive")
STATUSES = ("passed", "failed", "error", "skipped")


def fmt(value: Any) -> str:
    """A value as a report shows it: floats to 4 significant digits, None as n/a."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.4g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {fmt(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    return str(value)



def value_text(value: Any) -> str:
    """A measured value as a report shows it: the value, ± sd over seeds where there are several."""
    if isinstance(value, dict) and "value" in value:
        sd = f" ± {fmt(value['sd'])}" if value.get("sd") is not None else ""
        return f"{fmt(value['value'])}{sd}"
    return fmt(value)


def interval_text(intervals: Any) -> str:
    """``[[low, high], ...]`` as ``[low, high]`` (one) or ``per seed [..], [..]`` (several)."""
    if not isinstance(intervals, list) or not intervals:
        return ""
    # (An unbounded end is inf in memory and null in the verdicts file: both "-inf" / "inf".)
    pairs = [f"[{fmt(-math.inf if lo is None else float(lo))}, {fmt(math.inf if hi is None else float(hi))}]"
             for lo, hi in intervals]
    return pairs[0] if len(pairs) == 1 else "per seed " + ", ".join(pairs)


def deciding_text(d: dict[str, Any]) -> str:
    """The deciding test in words: its p, alpha, and what Holm over the run's verdicts makes of it."""
    if not d:
        return ""
    text = f"{d.get('test', '?')}: p = {fmt(d.get('p'))} (alpha {fmt(d.get('alpha'))})"
    if d.get("family"):
        text += f"; Holm over the run's {d['family']} verdicts with a deciding test: {fmt(d.get('p_holm'))}"
        if d.get("holds_under_holm") is False:
            text += " (would NOT reproduce after the adjustment)"
    return text


@dataclass(frozen=True)
class Verdict:
    """What one claim concluded on one fixture (see the module docstring for the fields)."""

    claim: str
    fixture: str
    seeds: tuple[int, ...]
    conclusion: str | None
    criterion: str
    measured: dict[str, Any]
    expected: str = "reproduced"
    statement: dict[str, str] = field(default_factory=dict)  # {"sentence": ..., "source": ...}
    paper: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    profile: str = ""
    intervals: dict[str, Any] = field(default_factory=dict)  # measured key -> [low, high] (per seed)
    figures: tuple[dict[str, Any], ...] = ()
    pvalues: dict[str, float] = field(default_factory=dict)
    pvalues_holm: dict[str, float] = field(default_factory=dict)
    deciding: dict[str, Any] = field(default_factory=dict)  # see the module docstring
    status: str = ""  # derived from conclusion and expected unless given (error, skipped)
    message: str = ""  # the error or the reason for a skip
    headline: tuple[str, ...] = ()  # measured keys for the report's first table

    def __post_init__(self) -> None:
        if self.conclusion is not None and self.conclusion not in CONCLUSIONS:
            raise ValueError(f"conclusion must be one of {list(CONCLUSIONS)} or None, got {self.conclusion!r}")
        if self.expected not in CONCLUSIONS:
            raise ValueError(f"expected must be one of {list(CONCLUSIONS)}, got {self.expected!r}")
        if not self.status:
            held = self.conclusion is not None and self.conclusion == self.expected
            object.__setattr__(self, "status", "passed" if held else "failed")
        elif self.status not in STATUSES:
            raise ValueError(f"status must be one of {list(STATUSES)}, got {self.status!r}")

    @property
    def passed(self) -> bool:
        """The fixture's expectation held (which says nothing, alone, about the paper)."""
        return self.status == "passed"

    def text(self) -> str:
        head = (f"claim {self.claim} on fixture {self.fixture}: {self.status.upper()} "
                f"(the paper's claim: {self.conclusion or 'not judged'}; the fixture expected "
                f"{self.expected})")
        lines = [head]
        if self.statement:
            lines.append(f"  paper:     \"{self.statement.get('sentence', '')}\" ({self.statement.get('source', '')})")
        if self.message:
            lines.append(f"  message:   {self.message}")
        lines += [f"  criterion: {self.criterion}", f"  seeds:     {list(self.seeds)}"]
        for key, value in self.measured.items():
            ci = f"  interval {interval_text(self.intervals[key])}" if key in self.intervals else ""
            paper = f"   (paper: {fmt(self.paper[key])})" if key in self.paper else ""
            per_seed = value.get("per_seed") if isinstance(value, dict) else None
            seeds = f"  per seed {fmt(per_seed)}" if per_seed and len(per_seed) > 1 else ""
            lines.append(f"  {key}: {value_text(value)}{seeds}{ci}{paper}")
        extra = {k: v for k, v in self.paper.items() if k not in self.measured}
        if extra:
            lines.append(f"  paper, other figures: {fmt(extra)}")
        for key, p in self.pvalues.items():
            holm = f", Holm-adjusted {fmt(self.pvalues_holm[key])}" if key in self.pvalues_holm else ""
            lines.append(f"  p ({key}): {fmt(p)}{holm}")
        if self.deciding:
            lines.append(f"  deciding:  {deciding_text(self.deciding)}")
        for key, value in self.details.items():
            lines.append(f"  {key}: {fmt(value)}")
        return "\n".join(lines)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Verdict:
        d = dict(d)
        d.pop("passed", None)  # derived
        return cls(**{**d, "seeds": tuple(d["seeds"]), "figures": tuple(d.get("figures", ())),
                      "headline": tuple(d.get("headline", ()))})

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["seeds"] = list(self.seeds)
        d["figures"] = list(self.figures)
        d["headline"] = list(self.headline)
        d["passed"] = self.passed  # kept for readers of schemas 1 and 2
        return d


def outcome_row(claim: str, fixture: str, status: str, message: str, *, profile: str = "",
                seeds: tuple[int, ...] = (), statement: dict[str, str] | None = None) -> Verdict:
    """A claim x fixture that produced no verdict: an error (with its message) or a skip (reason)."""
    if status not in ("error", "skipped"):
        raise ValueError(f"an outcome row is an error or a skip, got {status!r}")
    return Verdict(claim=claim, fixture=fixture, seeds=seeds, conclusion=None,
                   criterion="not judged: " + ("the claim could not be computed" if status == "error"
                                               else "skipped"),
                   measured={}, statement=statement or {}, profile=profile, status=status, message=message)


def _plain(value: Any) -> Any:
    """JSON-able, strictly: numpy scalars and arrays as numbers and lists, NaN/inf as None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, str):  # numpy scalar or array
        return _plain(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def dump(verdicts: list[Verdict], run: dict[str, Any]) -> str:
    """The verdicts file: ``{"schema": 3, "run": {...}, "verdicts": [...]}``, strict JSON."""
    doc = {"schema": SCHEMA_VERSION, "run": run, "verdicts": [v.to_dict() for v in verdicts]}
    return json.dumps(_plain(doc), indent=2, allow_nan=False)


class VerdictsFileError(ValueError):
    """A verdicts file that cannot be read: the message names the file and what is wrong."""


REQUIRED = {"claim": str, "fixture": str, "seeds": list, "criterion": str, "measured": dict}


def _old_value(value: Any) -> Any:
    """A schema-1/2 measured value (a number, or ``{"mean", "sd", "per_seed"}``) in the one shape."""
    if isinstance(value, dict) and "mean" in value:
        return {"value": value["mean"], "sd": value.get("sd"), "per_seed": value.get("per_seed")}
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"value": value, "sd": None, "per_seed": None}
    return value


def _old_interval(ci: Any) -> Any:
    """``[low, high]`` or ``{"per_seed": [[low, high], ...]}`` as ``[[low, high], ...]``."""
    if isinstance(ci, dict) and "per_seed" in ci:
        return ci["per_seed"]
    if isinstance(ci, list) and len(ci) == 2 and all(isinstance(c, int | float) for c in ci):
        return [ci]
    return ci


def _upgrade(v: dict[str, Any], schema: int) -> None:
    """A schema-1 or -2 verdict in the shape of schema 3 (conclusion unknown)."""
    v.setdefault("intervals", {})
    v.setdefault("figures", [])
    if schema < 3:
        v["status"] = "passed" if v.get("passed") else "failed"
        v.setdefault("conclusion", None)
        v.setdefault("expected", "reproduced")
        v["measured"] = {k: _old_value(x) for k, x in v["measured"].items()}
        v["intervals"] = {k: _old_interval(x) for k, x in v["intervals"].items()}


def load(path: str | Path) -> dict[str, Any]:
    """Read and check a verdicts file (schema 1 to 5). Raises :class:`VerdictsFileError`
    naming the file, the verdict and the key."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VerdictsFileError(f"{path}: no such verdicts file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise VerdictsFileError(f"{path}: not JSON ({exc})") from None
    if not isinstance(doc, dict) or "verdicts" not in doc:
        raise VerdictsFileError(f"{path}: expected an object with 'schema', 'run' and 'verdicts'")
    schema = doc.get("schema")
    if schema not in range(1, SCHEMA_VERSION + 1):
        raise VerdictsFileError(f"{path}: schema {schema!r} is not supported (allowed: 1 to {SCHEMA_VERSION})")
    if not isinstance(doc["verdicts"], list):
        raise VerdictsFileError(f"{path}: 'verdicts' must be a list")
    required = REQUIRED | ({"passed": bool} if schema < 3 else {"status": str})
    for i, v in enumerate(doc["verdicts"]):
        if not isinstance(v, dict):
            raise VerdictsFileError(f"{path}: verdict {i} must be an object, got {v!r}")
        for key, kind in required.items():
            if not isinstance(v.get(key), kind):
                got = type(v[key]).__name__ if key in v else "nothing"
                raise VerdictsFileError(f"{path}: verdict {i} ({v.get('claim', '?')}): "
                                        f"'{key}' must be a {kind.__name__}, got {got}")
        if schema >= 3 and v["status"] not in STATUSES:
            raise VerdictsFileError(f"{path}: verdict {i} ({v['claim']}): 'status' must be one of "
                                    f"{list(STATUSES)}, got {v['status']!r}")
        if schema >= 3 and v.get("conclusion") not in (*CONCLUSIONS, None):
            raise VerdictsFileError(f"{path}: verdict {i} ({v['claim']}): 'conclusion' must be one of "
                                    f"{list(CONCLUSIONS)} or null, got {v.get('conclusion')!r}")
        _upgrade(v, schema)
        for key in ("paper", "details", "statement", "pvalues", "pvalues_holm", "deciding"):
            v.setdefault(key, {})
        v.setdefault("profile", "")
        v.setdefault("message", "")
        v.setdefault("headline", [])
        v["passed"] = v["status"] == "passed"
    doc.setdefault("run", {})
    return doc
