"""Statistics for comparing two classifiers, and for summarising seeds.

Why these tests. Both classifiers of a claim (fine-tuned vs frozen, same-task vs cross-task) are
scored on *the same* test texts, so their outcomes are paired: the right test of "is one more
accurate than the other" is McNemar's, which looks only at the texts on which exactly one of the
two is right (Dietterich 1998, "Approximate statistical tests for comparing supervised
classification learning algorithms"). As in lm-evaluation-harness, the exact binomial form is used
under 25 discordant pairs and the continuity-corrected chi-square above.

Bogaert et al. (2023) instead report an unpaired two-proportion z statistic,
``z = (p1 - p2) / sqrt(P (1 - P) / n)`` with ``P = (p1 + p2) / 2`` and ``n`` the test size. The
textbook pooled two-sample form has ``2 P (1 - P) / n`` under the root (for equal n). Both are
computed so that a report can show the paper's figure beside the right one; verdicts use McNemar.

Across seeds: Welch's t-test on per-seed accuracies (Hart), a paired t-test when the seeds pair
runs, and Holm's step-down correction when many claims are tested at once.

Results are frozen dataclasses; inputs are checked with errors that say what is allowed.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .errors import ConfigError

EXACT_BELOW = 25  # discordant pairs under which McNemar's exact binomial test is used


def _as_outcomes(x, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 1 or a.size == 0:
        raise ConfigError(f"{name} must be a non-empty 1-D array of per-example outcomes")
    if a.dtype != bool:
        if not np.isin(a, (0, 1)).all():
            raise ConfigError(f"{name} must hold booleans or 0/1 (correct or not per example)")
        a = a.astype(bool)
    return a


def _check_proportion(p: float, name: str) -> float:
    if not 0.0 <= p <= 1.0 or math.isnan(p):
        raise ConfigError(f"{name} must be a proportion in [0, 1], got {p}")
    return float(p)


@dataclass(frozen=True)
class McNemarResult:
    """``b``: texts only A gets right; ``c``: texts only B gets right."""

    b: int
    c: int
    statistic: float
    pvalue: float
    method: str  # "exact" or "chi2"


def mcnemar(correct_a: Sequence, correct_b: Sequence, exact: bool | None = None) -> McNemarResult:
    """McNemar's two-sided test that two classifiers have the same accuracy on paired outcomes.

    ``exact=None`` picks the exact binomial test under 25 discordant pairs and the
    continuity-corrected chi-square (1 d.f.) otherwise.
    """
    a, b_ = _as_outcomes(correct_a, "correct_a"), _as_outcomes(correct_b, "correct_b")
    if a.shape != b_.shape:
        raise ConfigError(f"paired outcomes must have equal length, got {a.size} and {b_.size}")
    b = int(np.sum(a & ~b_))
    c = int(np.sum(~a & b_))
    n = b + c
    if exact is None:
        exact = n < EXACT_BELOW
    if n == 0:
        return McNemarResult(b, c, 0.0, 1.0, "exact" if exact else "chi2")
    if exact:
        p = stats.binomtest(min(b, c), n, 0.5).pvalue
        return McNemarResult(b, c, float(min(b, c)), float(min(1.0, p)), "exact")
    chi2 = (abs(b - c) - 1) ** 2 / n
    return McNemarResult(b, c, float(chi2), float(stats.chi2.sf(chi2, 1)), "chi2")


@dataclass(frozen=True)
class ZTestResult:
    z: float
    pvalue: float
    form: str  # "pooled" (textbook) or "paper" (Bogaert et al. 2023)


def two_proportion_z(p1: float, p2: float, n: int, form: str = "pooled") -> ZTestResult:
    """Two-sided z test of two accuracies measured on ``n`` examples each.

    ``pooled``: ``(p1 - p2) / sqrt(P (1 - P) (2 / n))``, the textbook pooled test.
    ``paper``:  ``(p1 - p2) / sqrt(P (1 - P) / n)``, the formula of Bogaert et al. (2023).
    """
    p1, p2 = _check_proportion(p1, "p1"), _check_proportion(p2, "p2")
    if not isinstance(n, int | np.integer) or n < 1:
        raise ConfigError(f"n must be a positive integer (the test size), got {n!r}")
    if form not in ("pooled", "paper"):
        raise ConfigError(f"form must be 'pooled' or 'paper', got {form!r}")
    pooled = (p1 + p2) / 2
    var = pooled * (1 - pooled) * (2 / n if form == "pooled" else 1 / n)
    if var == 0:
        z = 0.0 if p1 == p2 else math.copysign(math.inf, p1 - p2)
    else:
        z = (p1 - p2) / math.sqrt(var)
    return ZTestResult(float(z), float(2 * stats.norm.sf(abs(z))), form)


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    level: float


def bootstrap_accuracy(correct: Sequence, *, level: float = 0.95, n_resamples: int = 2000,
                       seed: int = 0) -> Interval:
    """Accuracy with a percentile bootstrap confidence interval (``scipy.stats.bootstrap``)."""
    a = _as_outcomes(correct, "correct").astype(float)
    if a.size < 2:
        return Interval(float(a.mean()), float(a.mean()), float(a.mean()), level)
    res = stats.bootstrap((a,), np.mean, confidence_level=level, n_resamples=n_resamples,
                          method="percentile", random_state=np.random.default_rng(seed))
    return Interval(float(a.mean()), float(res.confidence_interval.low),
                    float(res.confidence_interval.high), level)


def paired_bootstrap_difference(correct_a: Sequence, correct_b: Sequence, *, level: float = 0.95,
                                n_resamples: int = 2000, seed: int = 0) -> Interval:
    """Accuracy of A minus accuracy of B with a paired percentile bootstrap interval."""
    a = _as_outcomes(correct_a, "correct_a").astype(float)
    b = _as_outcomes(correct_b, "correct_b").astype(float)
    if a.shape != b.shape:
        raise ConfigError(f"paired outcomes must have equal length, got {a.size} and {b.size}")
    diff = float(a.mean() - b.mean())
    if a.size < 2:
        return Interval(diff, diff, diff, level)
    res = stats.bootstrap((a, b), lambda x, y: np.mean(x) - np.mean(y), paired=True,
                          confidence_level=level, n_resamples=n_resamples, method="percentile",
                          random_state=np.random.default_rng(seed))
    return Interval(diff, float(res.confidence_interval.low), float(res.confidence_interval.high), level)


@dataclass(frozen=True)
class Summary:
    mean: float
    sd: float  # sample standard deviation (ddof=1); 0 for a single value
    n: int
    values: tuple[float, ...]


def summarize(values: Sequence[float]) -> Summary:
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        raise ConfigError("cannot summarise an empty list of values")
    sd = float(v.std(ddof=1)) if v.size > 1 else 0.0
    return Summary(float(v.mean()), sd, int(v.size), tuple(float(x) for x in v))


@dataclass(frozen=True)
class TTestResult:
    t: float
    df: float
    pvalue: float
    method: str


def welch_t(a: Sequence[float], b: Sequence[float]) -> TTestResult:
    """Welch's unequal-variance t-test on two samples (e.g. per-seed accuracies)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.size < 2 or b.size < 2:
        raise ConfigError(f"Welch's t-test needs at least 2 values per group, got {a.size} and {b.size}")
    if np.ptp(a) == 0 and np.ptp(b) == 0:  # no spread at all: t is undefined, the outcome is not
        d = float(a[0] - b[0])
        return TTestResult(math.copysign(math.inf, d) if d else 0.0, float(a.size + b.size - 2),
                           0.0 if d else 1.0, "welch")
    with warnings.catch_warnings():  # one group without spread (a deterministic probe) is fine
        warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
        res = stats.ttest_ind(a, b, equal_var=False)
    return TTestResult(float(res.statistic), float(res.df), float(res.pvalue), "welch")


def paired_t(a: Sequence[float], b: Sequence[float]) -> TTestResult:
    """Paired t-test on per-seed values of two protocols run with the same seeds."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.size != b.size or a.size < 2:
        raise ConfigError(f"a paired t-test needs two equal-length samples of 2 or more, got {a.size}, {b.size}")
    if np.allclose(a - b, (a - b)[0]):  # zero variance of the differences: t is undefined
        d = float((a - b)[0])
        return TTestResult(math.copysign(math.inf, d) if d else 0.0, float(a.size - 1),
                           0.0 if d else 1.0, "paired")
    res = stats.ttest_rel(a, b)
    return TTestResult(float(res.statistic), float(res.df), float(res.pvalue), "paired")


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control over many claims)."""
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1 or ((p < 0) | (p > 1)).any():
        raise ConfigError("p-values must be a 1-D sequence of numbers in [0, 1]")
    m = p.size
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out
