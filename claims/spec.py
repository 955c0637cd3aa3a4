"""How a claim is declared: :class:`ClaimSpec` (its paper and section, the paper's sentence,
typed parameters with ranges and defaults, what it needs, its figures and negative controls) and
:class:`Param`, with the parameters several claims share (:func:`alpha`, :func:`margin`,
:func:`chance_floor`, :func:`probe_params`).

Each claim's ``SPEC`` lives in its module (``claims/catalog/<name>.py``); the registry
(``claims/registry.py``) collects them, and everything else derives from it: fixture validation
(``claims/fixture.py`` checks every ``[claims.NAME]`` table against the spec when the fixture is
loaded, before anything trains), the test parametrization, the claim tables in the docs and the
paper's sentence that each verdict carries into the report.

Every claim also takes ``expect`` (the conclusion about the paper that the fixture expects:
``reproduced``, the default, ``contradicted`` or ``inconclusive``) and a ``paper`` table (the
paper's figures, shown beside the measured ones).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.constraints import (
    Boolean,
    Constraint,
    Interval,
    ListOf,
    LocalPath,
    Options,
    OrNone,
    Table,
    Text,
    check,
)
from harness.errors import ConfigError
from reports.schema import CONCLUSIONS


@dataclass(frozen=True)
class Param:
    """One parameter of a claim: its type, default, and what values are allowed.

    ``kind``: ``float``, ``int``, ``bool``, ``str``, ``path`` (a local file, relative to the fixture
    file: the fixture loader resolves it and names it where it is missing), ``str_list``,
    ``int_list`` or ``table``; ``choices`` (for ``str`` and the items of ``str_list``),
    ``low``/``high`` (bounds, open where ``low_open``/``high_open``), ``optional`` (``None``, i.e.
    the key left out, is allowed), ``required`` (the key must be given: no default), ``pattern`` (a
    regular expression a ``str`` must match in full)."""

    name: str
    kind: str
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    optional: bool = False
    pattern: str | None = None
    required: bool = False

    @property
    def constraint(self) -> Constraint:
        """The parameter's constraint, in the vocabulary every table of a fixture uses
        (``harness/constraints.py``)."""
        closed = {(False, False): "both", (False, True): "left", (True, False): "right", (True, True): "neither"}
        bounded = dict(low=self.low, high=self.high, closed=closed[self.low_open, self.high_open])
        kind = self.kind
        if kind in ("float", "int"):
            c: Constraint = Interval(float if kind == "float" else int, **bounded)
        elif kind == "bool":
            c = Boolean()
        elif kind == "str":
            c = Options(self.choices) if self.choices else Text(self.pattern)
        elif kind == "path":
            c = LocalPath()
        elif kind == "str_list":
            c = ListOf(Options(self.choices), nonempty=True) if self.choices else ListOf(Text())
        elif kind == "int_list":
            c = ListOf(Interval(int, **bounded), nonempty=True)
        elif kind == "table":
            c = Table()
        else:
            raise AssertionError(f"unknown parameter kind {kind!r}")  # a mistake in a spec, not a fixture
        return OrNone(c) if self.optional else c

    def allowed(self) -> str:
        """What is allowed, in words (the second half of every error message)."""
        return str(self.constraint)

    def check(self, value: Any, where: str) -> Any:
        """The value as the claim uses it, or a :class:`ConfigError` that names ``where`` (file
        and table), the key, the value and what is allowed."""
        return check(value, self.constraint, where, self.name)


def alpha(default: float) -> Param:
    return Param("alpha", "float", default, "significance level of the claim's tests",
                 low=0.0, high=0.5, low_open=True, high_open=True)


def margin(default: float = 0.02) -> Param:
    return Param("margin", "float", default,
                 "equivalence margin on the accuracy difference: a difference smaller than this is "
                 "negligible (TOST); 0.02 = two accuracy points", low=0.0, high=1.0, low_open=True)


def chance_floor() -> Param:
    return Param("min_above_chance", "float", 0.05,
                 "each model's test accuracy must exceed the majority-class rate by more than this "
                 "(one-sided binomial test at alpha on the test texts; across seeds, the mean), else the "
                 "claim is inconclusive: models that "
                 "learned nothing say nothing about fine-tuning", low=0.0, high=1.0, high_open=True)


SPLIT = ("train", "validation", "test")
# `expect` values of fixtures written before the claims concluded about the papers, with the way to
# say the same now (schema 3 of the verdicts file)
_SAYS = "what the paper found is now `paper_says = {!r}`"
LEGACY_EXPECT = {
    "finetuned_better": _SAYS.format("finetuned_better"), "frozen_better": _SAYS.format("frozen_better"),
    "a_better": _SAYS.format("a_better"), "b_better": _SAYS.format("b_better"),
    "not_significant": _SAYS.format("no_difference") + ", tested by equivalence within `margin`",
    "sparse_better": "the sparse-better direction is not a paper's claim",
    "lower": _SAYS.format("lower") + " for cross_task_distances; cross_task now tests Bogaert et al.'s "
             "equivalence of cross-task and frozen accuracy",
    "higher": _SAYS.format("higher"),
    "overfitting": "a fixture where the claim should not hold says `expect = 'contradicted'`",
    "no_overfitting": "the default, `expect = 'reproduced'`, says the same",
    "recovers": "the default, `expect = 'reproduced'`, says the same",
    "does_not_recover": "say `expect = 'contradicted'`",
}
COMMON = (
    Param("expect", "str", "reproduced",
          "the conclusion about the paper that this fixture expects (a fixture may expect a "
          "contradiction at small scale)", choices=CONCLUSIONS),
    Param("paper", "table", {}, "the paper's figures, shown beside the measured ones"),
)


@dataclass(frozen=True)
class ClaimSpec:
    """A claim: see the module docstring. ``sentence`` is one string, or a dict keyed by the value
    of the parameter ``paper_says`` where what the paper found depends on the setting (Bogaert et
    al.'s gap is significant on Allocine, not on InfOpinion)."""

    name: str
    source: str
    sentence: str | dict[str, str]
    decides: str  # how the verdict is decided, in words (docs/claims.md's table)
    params: tuple[Param, ...]
    figures: tuple[str, ...]
    needs: tuple[str, ...] = ()  # "other_task", "snapshots"
    controls: tuple[str, ...] = ()  # negative controls, in words
    # a rule across parameters: (checked parameters, has [other_task]) -> what is wrong, or None
    check: Callable[[dict[str, Any], bool], str | None] | None = field(default=None, compare=False)
    # the one or two measured keys the report's first table shows (shell patterns: a key that
    # names a layer or a size); none found: the first two measured
    headline: tuple[str, ...] = ()

    @property
    def all_params(self) -> tuple[Param, ...]:
        return self.params + COMMON

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.all_params}

    def headline_keys(self, measured: dict[str, Any]) -> tuple[str, ...]:
        """The measured keys the headline patterns name, in the patterns' order (two at most)."""
        keys = [k for pattern in self.headline for k in measured if fnmatch.fnmatchcase(k, pattern)]
        return tuple(dict.fromkeys(keys))[:2]

    def statement(self, params: dict[str, Any]) -> dict[str, str]:
        """The paper's sentence for this fixture's setting, and where it stands."""
        sentence = self.sentence
        if isinstance(sentence, dict):
            sentence = sentence[params["paper_says"]]
        return {"sentence": sentence, "source": self.source}

    def validate(self, table: Any, where: str, *, has_other_task: bool,
                 snapshots: int = 0) -> dict[str, Any]:
        """The fixture's ``[claims.NAME]`` table checked and merged with the defaults.
        ``where`` names the file; errors add the table and key."""
        at = f"{where}: [claims.{self.name}]"
        if not isinstance(table, dict):
            raise ConfigError(f"{at} must be a table, got {table!r}")
        known = {p.name: p for p in self.all_params}
        unknown = sorted(set(table) - set(known))
        if unknown:
            raise ConfigError(f"{at} unknown key(s) {unknown}; allowed: {sorted(known)}")
        out = {}
        for name, param in known.items():
            if param.required and name not in table:
                raise ConfigError(f"{at} {name}: required ({param.help}); must be {param.allowed()}")
            value = table.get(name, param.default)
            if name == "expect" and isinstance(value, str) and value in LEGACY_EXPECT:
                raise ConfigError(f"{at} expect = {value!r}: must be {param.allowed()} (the conclusion "
                                  f"about the paper that this fixture expects); {LEGACY_EXPECT[value]}")
            out[name] = param.check(value, at)
        if "other_task" in self.needs and not has_other_task:
            raise ConfigError(f"{at} needs an [other_task] table (task B)")
        if "snapshots" in self.needs and snapshots < 2:
            raise ConfigError(f"{at} needs [fine_tune] snapshot_at with at least two checkpoints "
                              f"(e.g. [0, 0.5, 1]), got {snapshots}")
        if self.check is not None:
            problem = self.check(out, has_other_task)
            if problem:
                raise ConfigError(f"{at} {problem}")
        return out


def probe_params(max_items: int = 3000) -> tuple[Param, ...]:
    """Zhou and Srikumar's probe (harness/analysis/probes.py), as claims that train it declare it."""
    return (
        Param("max_items", "int", max_items, "items per split at most (seeded sample; the probe's cost)", low=10),
        Param("hidden", "int_list", [32, 64, 128, 256], "the probe's hidden sizes (both layers)", low=1),
        Param("alphas", "str_list", ["1e-7", "1e-5", "1e-3", "1e-1", "1"],
              "the probe's L2 weights (as strings: TOML lists are of one type)"),
        Param("max_iter", "int", 1000, "the probe's iterations at most", low=1),
        Param("restarts", "int", 5, "initialisations of the chosen setting", low=1),
    )


def check_probe_alphas(p: dict[str, Any], has_other_task: bool) -> str | None:
    for a in p["alphas"]:
        try:
            if not float(a) >= 0:
                raise ValueError
        except ValueError:
            return f"alphas = {p['alphas']!r}: each must be a non-negative number written as a string (\"1e-5\")"
    return None


PROTOCOL = r"frozen|finetuned|top[1-9][0-9]*"


