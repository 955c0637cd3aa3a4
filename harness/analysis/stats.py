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

"No difference" is never concluded from a test that failed to find one (absence of evidence is
not evidence of absence): equivalence is shown by two one-sided tests (TOST; Schuirmann 1987),
which at level alpha is the same as the (1 - 2 alpha) confidence interval of the difference lying
inside the margin (-m, m).

Which interval. Two classifiers scored on the same texts often disagree on a handful of them, and
there the paired t (Wald) interval of the per-text differences holds nothing like its level: with
the true difference at the margin it certified equivalence 19% of the time at n = 150 and margin
0.02 (nominal 5%), and it shrinks to a point when the two never disagree. Paired proportions are
therefore judged by Tango's score interval (Tango 1998, "Equal-tailed confidence intervals for the
difference of paired proportions"; Newcombe 1998 compares it with ten others): the difference is
tested against each candidate value with the cell probabilities re-estimated under that value
(their constrained maximum likelihood), so the variance never vanishes where the data are sparse.
A continuity correction of half a text (``TANGO_CORRECTION``) keeps the test's size at or under
alpha: by exact enumeration over n = 50..800, margins 0.01-0.1, alpha 0.05 and 0.01 and rates of
disagreement 0-0.3, the uncorrected interval reached 6.0% at alpha 0.05 (n = 300, margin 0.02) and
the corrected one never exceeded alpha (up to n = 1,821 at margins 0.01-0.05: at most 4.8%);
``tests/test_stats.py`` re-enumerates the audit's cases.
The same score test serves any mean of an outcome that takes a known, finite set of values
(:func:`score_z`): a share of a gain recovered (:func:`recovery`), for one. Where outcomes are
nested (a model right only where another is), the share is a binomial proportion and is judged
exactly (Clopper-Pearson). Two proportions on independent samples (train and test accuracy) get
Newcombe's hybrid score interval (:func:`newcombe_difference`; Newcombe 1998, method 10).

Across seeds the TOST is Welch's (``ttost_ind(usevar="unequal")``). Each result also carries the
smallest margin the data could have certified, so that a report can say how much the data could
see. Every judge's rate of wrong conclusions at its decision boundary is measured by simulation in
``claims/calibration.py`` (the table in ``docs/calibration.md``).

Results are frozen dataclasses; inputs are checked with errors that say what is allowed.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from ..errors import ConfigError

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


TANGO_CORRECTION = 0.5  # continuity correction of the paired score test, in texts (module docstring)


# ---------------------------------------------------------------------------------------------
# Score tests of a mean, for an outcome with a known, finite set of values


def constrained_mle(values: Sequence[float], counts: Sequence[float], mean: float) -> np.ndarray:
    """The multinomial maximum-likelihood probabilities of ``values`` (every value the outcome can
    take, seen or not) given their ``counts``, under the constraint that the outcome's mean is
    ``mean`` (strictly inside the values' range).

    The Lagrange conditions give ``p_k = n_k / (N + lam (v_k - mean))`` for the values seen, with
    ``lam`` the root of a decreasing function; where that root would leave the range in which every
    probability stays non-negative, the extreme value *not* seen takes the remaining mass (the
    way Tango's closed form puts mass on a cell with no texts). For the values (1, -1, 0) this is
    Tango's constrained estimate exactly (a test compares them)."""
    v = np.asarray(values, float)
    n = np.asarray(counts, float)
    total = float(n.sum())
    u = v - mean
    seen = n > 0
    if not (u.min() < 0 < u.max()):
        raise ConfigError(f"the constrained mean {mean!r} must lie strictly inside the values' range "
                          f"[{v.min():g}, {v.max():g}]")
    top, bottom = int(np.argmax(u)), int(np.argmin(u))
    lam_low, lam_high = -total / u[top], total / -u[bottom]

    def g(lam: float) -> float:
        return float(np.sum(n[seen] * u[seen] / (total + lam * u[seen])))

    inset = 1e-12 * (lam_high - lam_low)
    lo = lam_low + (inset if seen[top] else 0.0)
    hi = lam_high - (inset if seen[bottom] else 0.0)
    extra = None
    if not seen[top] and g(lo) <= 0:
        lam, extra = lo, top
    elif not seen[bottom] and g(hi) >= 0:
        lam, extra = hi, bottom
    elif g(lo) <= 0:  # all the seen mass at the top value, inside the rounding of the bracket
        lam = lo
    elif g(hi) >= 0:
        lam = hi
    else:
        lam = optimize.brentq(g, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)
    p = np.zeros_like(v)
    p[seen] = n[seen] / (total + lam * u[seen])
    if extra is not None:  # from the mean constraint, not as 1 - sum (which rounds a tiny mass to 0)
        p[extra] = max(0.0, -float(np.sum(p[seen] * u[seen])) / u[extra])
    return p / p.sum()


def score_z(values: Sequence[float], counts: Sequence[float], mean: float, correction: float = 0.0) -> float:
    """The score statistic of "the outcome's mean is ``mean``": the observed mean's distance from
    it over the standard error that the constrained estimate (:func:`constrained_mle`) implies,
    the distance first shrunk by ``correction`` (in units of the outcome's sum over the texts: a
    continuity correction). Positive where the observed mean is above ``mean``. A ``mean`` at or
    beyond the values' range gets an infinite statistic (0 where the data sit exactly on it)."""
    v = np.asarray(values, float)
    n = np.asarray(counts, float)
    total = float(n.sum())
    distance = float(np.sum(n * v)) - total * mean
    distance = math.copysign(max(abs(distance) - correction, 0.0), distance)
    if mean <= v.min() or mean >= v.max():
        return 0.0 if distance == 0 else math.copysign(math.inf, distance)
    if distance == 0:
        return 0.0
    p = constrained_mle(v, n, mean)
    var = float(np.sum(p * (v - mean) ** 2))
    return distance / math.sqrt(total * var) if var > 0 else math.copysign(math.inf, distance)


def score_interval(values: Sequence[float], counts: Sequence[float], level: float,
                   correction: float = 0.0) -> tuple[float, float]:
    """The two-sided ``level`` interval of the outcome's mean: every ``mean`` whose
    :func:`score_z` lies within the normal quantile (equal tails), found by root finding on
    either side of the observed mean (the statistic falls as ``mean`` rises)."""
    v = np.asarray(values, float)
    n = np.asarray(counts, float)
    z = float(stats.norm.ppf(0.5 + level / 2))
    observed = float(np.sum(n * v) / n.sum())
    vmin, vmax = float(v.min()), float(v.max())
    tiny = 1e-12 * (vmax - vmin)

    def end(target: float, a: float, b: float, edge: float) -> float:
        f = lambda m: score_z(v, n, m, correction) - target  # noqa: E731
        if f(a) * f(b) > 0:
            return edge
        return float(optimize.brentq(f, a, b, xtol=1e-12))

    low = end(z, vmin + tiny, observed, vmin) if observed > vmin + tiny else vmin
    high = end(-z, observed, vmax - tiny, vmax) if observed < vmax - tiny else vmax
    return low, high


def newcombe_p_below(correct_a: Sequence, correct_b: Sequence, bound: float) -> float:
    """The one-sided p-value of "A's accuracy minus B's is below ``bound``" that Newcombe's
    interval implies: the ``alpha`` at which the upper end of its (1 - 2 alpha) interval meets
    ``bound`` (the interval's ends move monotonically with the level)."""
    def high(alpha: float) -> float:
        return newcombe_difference(correct_a, correct_b, 1 - 2 * alpha).high - bound

    lo, hi = 1e-12, 0.5 - 1e-12
    if high(lo) < 0:
        return lo
    if high(hi) >= 0:
        return 0.5 if newcombe_difference(correct_a, correct_b, 0.0).high < bound else 1.0
    return float(optimize.brentq(high, lo, hi, xtol=1e-12))


def newcombe_difference(correct_a: Sequence, correct_b: Sequence, level: float = 0.95) -> Interval:
    """Accuracy of A minus accuracy of B on *independent* samples (train and test texts), with
    Newcombe's hybrid score interval (Newcombe 1998, method 10: the two Wilson intervals combined;
    ``statsmodels``' ``confint_proportions_2indep(method="newcomb")``)."""
    a, b = _as_outcomes(correct_a, "correct_a"), _as_outcomes(correct_b, "correct_b")
    z = float(stats.norm.ppf(0.5 + level / 2))

    def wilson(k: int, n: int) -> tuple[float, float, float]:
        p = k / n
        centre = (k + z * z / 2) / (n + z * z)
        half = z * math.sqrt(k * (n - k) / n + z * z / 4) / (n + z * z)
        return p, centre - half, centre + half

    p1, l1, u1 = wilson(int(a.sum()), a.size)
    p2, l2, u2 = wilson(int(b.sum()), b.size)
    d = p1 - p2
    return Interval(d, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
                    d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2), level)


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
    p_above_zero: float = math.nan  # a bootstrap interval's one-sided p of "above 0": resamples at or below 0


def bootstrap_accuracy(correct: Sequence, *, level: float = 0.95, n_resamples: int = 2000,
                       seed: int = 0) -> Interval:
    """Accuracy with a percentile bootstrap confidence interval. The mean of ``n`` outcomes drawn
    with replacement from 0/1 outcomes with ``k`` ones is a Binomial(``n``, ``k / n``) count over
    ``n``, so the resamples are drawn as that (the same distribution as ``scipy.stats.bootstrap``'s
    resampling, at about a fiftieth of the cost; a test compares the two)."""
    a = _as_outcomes(correct, "correct").astype(float)
    if a.size < 2:
        return Interval(float(a.mean()), float(a.mean()), float(a.mean()), level)
    means = np.random.default_rng(seed).binomial(a.size, a.mean(), n_resamples) / a.size
    tail = (1 - level) / 2
    return Interval(float(a.mean()), float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail)), level)


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
    res = stats.bootstrap((a, b), lambda x, y: np.mean(x) - np.mean(y), paired=True, batch=200,
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


# ---------------------------------------------------------------------------------------------
# One-sided and equivalence tests


def design_effect(correct_a: Sequence, correct_b: Sequence, clusters: Sequence) -> float:
    """How much the clustering of the items (the words of one sentence) inflates the variance of
    the paired accuracy difference: the cluster-robust variance of the mean per-item difference
    (sentences resampled, Kish's ratio estimator with the K / (K - 1) correction) over the variance
    an independent sample of the same items would have. At least 1: clustering is never taken to
    help. Rao and Scott (1992) divide the counts by it; Obuchowski (1998) adjusts McNemar the
    same way."""
    a, b = _as_outcomes(correct_a, "correct_a").astype(float), _as_outcomes(correct_b, "correct_b").astype(float)
    g = np.asarray(clusters)
    if not (a.shape == b.shape == g.shape):
        raise ConfigError(f"one cluster (sentence) per item: got {g.size} for {a.size} and {b.size} items")
    d = a - b
    n = d.size
    _, k = np.unique(g, return_inverse=True)
    sums, sizes = np.bincount(k, weights=d), np.bincount(k).astype(float)
    big_k = sums.size
    iid = float(d.var(ddof=1)) / n if n > 1 else 0.0
    if big_k < 2 or iid == 0:
        return 1.0
    ratio = d.mean()
    clustered = big_k / (big_k - 1) * float(np.sum((sums - ratio * sizes) ** 2)) / n**2
    return max(1.0, clustered / iid)


def mcnemar_greater_clustered(correct_a: Sequence, correct_b: Sequence, clusters: Sequence) -> float:
    """:func:`mcnemar_greater` with the items grouped in clusters (sentences): the exact one-sided
    binomial test on the discordant counts divided by the :func:`design_effect` (Rao-Scott's
    effective counts, rounded down: never more evidence than the sentences carry)."""
    a, b_ = _as_outcomes(correct_a, "correct_a"), _as_outcomes(correct_b, "correct_b")
    deff = design_effect(a, b_, clusters)
    b, c = int(np.sum(a & ~b_)), int(np.sum(~a & b_))
    n_eff = int(math.floor((b + c) / deff))
    if n_eff == 0:
        return 1.0
    b_eff = int(math.floor(b / deff))
    return float(stats.binomtest(min(b_eff, n_eff), n_eff, 0.5, alternative="greater").pvalue)


def tost_paired_clustered(correct_a: Sequence, correct_b: Sequence, clusters: Sequence, margin: float,
                          alpha: float = 0.05) -> Equivalence:
    """:func:`tost_paired` with the items grouped in clusters (the words of a sentence: the
    sentence is the sampling unit): Tango's test on the counts divided by the :func:`design_effect`."""
    a, b = _as_outcomes(correct_a, "correct_a"), _as_outcomes(correct_b, "correct_b")
    deff = design_effect(a, b, clusters)
    return tost_paired_counts(int(np.sum(a & ~b)), int(np.sum(~a & b)), a.size, margin, alpha,
                              effective=a.size / deff)


def mcnemar_greater(correct_a: Sequence, correct_b: Sequence) -> float:
    """One-sided exact McNemar p-value that A is more accurate than B: of the ``b + c`` texts on
    which exactly one is right, A is right on more than half (binomial, p = 1/2)."""
    a, b_ = _as_outcomes(correct_a, "correct_a"), _as_outcomes(correct_b, "correct_b")
    if a.shape != b_.shape:
        raise ConfigError(f"paired outcomes must have equal length, got {a.size} and {b_.size}")
    b, c = int(np.sum(a & ~b_)), int(np.sum(~a & b_))
    if b + c == 0:
        return 1.0
    return float(stats.binomtest(b, b + c, 0.5, alternative="greater").pvalue)


@dataclass(frozen=True)
class Equivalence:
    """TOST of ``difference`` (A - B) against the margin ``(-margin, margin)`` at ``alpha``.

    ``low``/``high``: the (1 - 2 alpha) interval; ``pvalue``: the larger of the two one-sided
    p-values; ``certifiable_margin``: the smallest margin this interval would have certified;
    ``detectable``: the smallest true difference that a one-sided test at ``alpha`` finds with 80%
    power on data as variable as these."""

    difference: float
    low: float
    high: float
    margin: float
    alpha: float
    pvalue: float
    certifiable_margin: float
    detectable: float
    method: str = "t"  # "t" (Welch, across seeds), "tango" (paired score test) or "tango, clustered"
    # one-sided p-value that the difference lies beyond the margin (above it or below -margin): a
    # judge that looks at several seeds or layers contradicts at alpha / looks with it (Bonferroni)
    p_beyond: float = 1.0
    p_low: float = math.nan  # one-sided p of "difference <= -margin" (non-superiority of B)
    p_high: float = math.nan  # one-sided p of "difference >= margin" (non-inferiority of B)

    @property
    def equivalent(self) -> bool:
        return -self.margin < self.low and self.high < self.margin

    @property
    def beyond_margin(self) -> bool:
        """The whole interval lies outside the margin: a difference larger than it, shown."""
        return self.low >= self.margin or self.high <= -self.margin


def _check_tost(margin: float, alpha: float) -> tuple[float, float]:
    if not (isinstance(margin, int | float) and margin > 0 and math.isfinite(margin)):
        raise ConfigError(f"an equivalence margin must be a positive number, got {margin!r}")
    if not 0 < alpha < 0.5:
        raise ConfigError(f"alpha must be in (0, 0.5), got {alpha!r}")
    return float(margin), float(alpha)


def _tost(diff: float, se: float, df: float, margin: float, alpha: float) -> Equivalence:
    if se == 0 or not math.isfinite(se):
        # No spread across seeds says nothing about the test split's own sampling error: three
        # identical accuracies do not pin the difference down. Nothing is certified either way
        # (use :func:`seed_difference`, which adds the split's variance).
        return Equivalence(diff, -math.inf, math.inf, margin, alpha, 1.0, math.inf, math.inf, "t")
    q = stats.t.ppf(1 - alpha, df)
    low, high = diff - q * se, diff + q * se
    p_low = stats.t.sf((diff + margin) / se, df)  # H0: diff <= -margin
    p_high = stats.t.cdf((diff - margin) / se, df)  # H0: diff >= margin
    detectable = (q + stats.t.ppf(0.8, df)) * se
    p_beyond = min(stats.t.sf((diff - margin) / se, df), stats.t.cdf((diff + margin) / se, df))
    return Equivalence(diff, float(low), float(high), margin, alpha, float(max(p_low, p_high)),
                       float(max(abs(low), abs(high))), float(detectable), "t", float(p_beyond),
                       float(p_low), float(p_high))


def tost_paired(correct_a: Sequence, correct_b: Sequence, margin: float, alpha: float = 0.05) -> Equivalence:
    """Equivalence of two classifiers' accuracies on the same texts (TOST at ``alpha``) by Tango's
    score test of the paired difference, with its (1 - 2 alpha) score interval (module docstring):
    see :func:`tost_paired_counts`."""
    margin, alpha = _check_tost(margin, alpha)
    a, b = _as_outcomes(correct_a, "correct_a"), _as_outcomes(correct_b, "correct_b")
    if a.shape != b.shape or a.size < 2:
        raise ConfigError(f"paired outcomes must have equal length of 2 or more, got {a.size} and {b.size}")
    return tost_paired_counts(int(np.sum(a & ~b)), int(np.sum(~a & b)), a.size, margin, alpha)


def tost_paired_counts(only_a: int, only_b: int, n: int, margin: float, alpha: float = 0.05,
                       effective: float | None = None) -> Equivalence:
    """:func:`tost_paired` from the texts only A gets right (``only_a``), only B (``only_b``),
    and all ``n``. ``effective``: where the texts are not independent (the words of a sentence),
    the effective sample size; the counts are scaled by ``effective / n`` before the test (Rao and
    Scott's adjustment for clustered binary data: same estimate, the variance of the clusters)."""
    margin, alpha = _check_tost(margin, alpha)
    if not (only_a >= 0 and only_b >= 0 and only_a + only_b <= n and n >= 1):
        raise ConfigError(f"discordant counts must be non-negative and at most n, got {only_a}, {only_b} of {n}")
    k = 1.0 if effective is None else float(effective) / n
    values, counts = (1.0, -1.0, 0.0), (only_a * k, only_b * k, (n - only_a - only_b) * k)
    z_low = score_z(values, counts, -margin, TANGO_CORRECTION)  # H0: difference <= -margin
    z_high = score_z(values, counts, margin, TANGO_CORRECTION)  # H0: difference >= margin
    p_low, p_high = float(stats.norm.sf(z_low)), float(stats.norm.cdf(z_high))
    p = max(p_low, p_high)
    low, high = score_interval(values, counts, 1 - 2 * alpha, TANGO_CORRECTION)
    # a one-sided test's 80%-power difference, from the rate of disagreement (one text at least)
    rate = max(only_a + only_b, 1) / n
    detectable = float((stats.norm.ppf(1 - alpha) + stats.norm.ppf(0.8)) * math.sqrt(rate / (n * k)))
    p_beyond = min(float(stats.norm.sf(z_high)), float(stats.norm.cdf(z_low)))
    return Equivalence((only_a - only_b) / n, low, high, margin, alpha, p, max(abs(low), abs(high)),
                       detectable, "tango" if effective is None else "tango, clustered", p_beyond, p_low, p_high)


def tost_welch(a: Sequence[float], b: Sequence[float], margin: float, alpha: float = 0.05) -> Equivalence:
    """Equivalence of two groups' means (per-seed accuracies), Welch's standard error and d.f."""
    margin, alpha = _check_tost(margin, alpha)
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.size < 2 or b.size < 2:
        raise ConfigError(f"an equivalence test across seeds needs 2 or more values per group, got {a.size} and {b.size}")
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1)) if se > 0 else float(a.size + b.size - 2)
    return _tost(float(a.mean() - b.mean()), se, df, margin, alpha)


@dataclass(frozen=True)
class SeedDifference:
    """Two protocols' mean test accuracy over seeds, A - B, on the same test texts, with a standard
    error that adds the test split's sampling error to the spread across seeds: ``se_seeds``
    (Welch's, per-seed accuracies) and ``se_split`` (the per-text differences averaged over the
    seeds, over the texts); ``df`` by Satterthwaite. ``deterministic`` names a protocol that gave
    the same accuracy on every seed."""

    difference: float
    se: float
    df: float
    se_seeds: float
    se_split: float
    deterministic: tuple[str, ...]

    def equivalence(self, margin: float, alpha: float) -> Equivalence:
        margin, alpha = _check_tost(margin, alpha)
        return _tost(self.difference, self.se, self.df, margin, alpha)

    def p_greater(self) -> float:
        """One-sided p-value that A's mean accuracy exceeds B's."""
        if self.se == 0:
            return 1.0
        return float(stats.t.sf(self.difference / self.se, self.df))


def seed_difference(correct_a: Sequence[Sequence], correct_b: Sequence[Sequence],
                    names: tuple[str, str] = ("a", "b")) -> SeedDifference:
    """Compare two protocols run over seeds on one test split (``correct_a[seed]``: per-text
    outcomes). Welch's t across seeds alone ignores that every seed is scored on the same texts:
    with a population difference at the margin it certified equivalence 15-30% of the time, and
    from three identical accuracies per protocol it certified it outright. Here the variance is
    Welch's plus the split's (the seed-averaged per-text differences' variance over n), so a
    protocol without spread (a deterministic head) still carries the split's uncertainty."""
    a = [_as_outcomes(c, f"correct_{names[0]}").astype(float) for c in correct_a]
    b = [_as_outcomes(c, f"correct_{names[1]}").astype(float) for c in correct_b]
    if len(a) < 2 or len(b) < 2:
        raise ConfigError(f"a comparison across seeds needs 2 or more seeds per protocol, got {len(a)} and {len(b)}")
    n = a[0].size
    if any(x.size != n for x in a + b) or n < 2:
        raise ConfigError(f"every seed must be scored on the same test texts (2 or more): got sizes "
                          f"{[x.size for x in a]} and {[x.size for x in b]}")
    acc_a, acc_b = np.array([x.mean() for x in a]), np.array([x.mean() for x in b])
    va, vb = acc_a.var(ddof=1) / acc_a.size, acc_b.var(ddof=1) / acc_b.size
    per_text = np.mean(a, axis=0) - np.mean(b, axis=0)
    vs = float(per_text.var(ddof=1)) / n
    var = va + vb + vs
    parts = [(va, acc_a.size - 1), (vb, acc_b.size - 1), (vs, n - 1)]
    denom = sum(v * v / d for v, d in parts if v > 0)
    df = var * var / denom if denom > 0 else float(n - 1)
    deterministic = tuple(name for name, acc in zip(names, (acc_a, acc_b), strict=True) if np.ptp(acc) == 0)
    return SeedDifference(float(acc_a.mean() - acc_b.mean()), math.sqrt(var), float(df),
                          math.sqrt(va + vb), math.sqrt(vs), deterministic)


@dataclass(frozen=True)
class Recovery:
    """How much of a gain a model recovers, on the same texts: ``ratio`` = (reached - base) /
    (full - base) in accuracy, with the (1 - 2 alpha) interval ``(low, high)`` of the ratio
    (infinite where the data bound it on neither side), and the (1 - 2 alpha) interval
    ``(shortfall_low, shortfall_high)`` of the mean per-text ``(reached - base) - need (full -
    base)``, which decides: above 0, the recovery is shown to exceed ``need`` (one-sided at
    alpha); below 0, shown to fall short. ``method``: ``exact`` (nested outcomes: the share of the
    gained texts kept, Clopper-Pearson) or ``score`` (see :func:`recovery`)."""

    ratio: float
    low: float
    high: float
    need: float
    shortfall_low: float
    shortfall_high: float
    alpha: float
    method: str = "score"
    p_above: float = math.nan  # one-sided p-value of "the share exceeds need"

    @property
    def shown_above(self) -> bool:
        return self.shortfall_low > 0

    @property
    def shown_below(self) -> bool:
        return self.shortfall_high < 0


RECOVERY_CORRECTION = 0.5  # continuity correction of the recovery score test, in units of the outcome's sum


def _recovery_support(need: float, base: float | None) -> np.ndarray:
    """Every value ``(r - b) - need (f - b)`` can take: ``r, f, b`` each right or wrong, or ``b``
    the constant ``base``."""
    bases = (0.0, 1.0) if base is None else (base,)
    return np.unique(np.round([(r - b) - need * (f - b) for r in (0.0, 1.0) for f in (0.0, 1.0) for b in bases], 12))


def _recovery_z(a: np.ndarray, g: np.ndarray, share: float, base: float | None) -> tuple[np.ndarray, np.ndarray, float]:
    values = _recovery_support(share, base)
    d = np.round(a - share * g, 12)
    counts = np.array([np.sum(d == v) for v in values], float)
    return values, counts, score_z(values, counts, 0.0, RECOVERY_CORRECTION)


def recovery(correct_reached: Sequence, correct_full: Sequence, base: Sequence | float, need: float,
             alpha: float = 0.05) -> Recovery:
    """Whether a model (``correct_reached``) recovers at least ``need`` of the accuracy that
    another (``correct_full``) gains over a base, on the same texts. ``base``: the base model's
    per-text outcomes (frozen encoder), or a constant accuracy (chance).

    The recovery exceeds ``need`` iff the mean of ``d_i = (reached_i - base_i) - need (full_i -
    base_i)`` exceeds 0. Two cases:

    - **Nested outcomes** (per-text base; no text lost by either model; the model right beyond
      the base only where the full model is): the share is ``k`` of the ``m`` texts the full model
      gained, a binomial proportion given ``m``, judged exactly (Clopper-Pearson, the inversion of
      the one-sided binomial tests). 200 texts, 20 gained, all 20 kept: the share is shown above
      0.861 and no higher, where a t-test on ``d`` said [1.0, 1.0].
    - **Otherwise** the score test of ``mean d = 0`` on the values ``d`` can take
      (:func:`score_z`, continuity correction ``RECOVERY_CORRECTION``); the ratio's interval is
      the set of shares the same test does not reject. The paired t-test used before said "shown
      above" 12-50% of the time at a true share equal to ``need`` where lost texts are rare."""
    if not 0 < alpha < 0.5:
        raise ConfigError(f"alpha must be in (0, 0.5), got {alpha!r}")
    if not (math.isfinite(need) and need >= 0):
        raise ConfigError(f"the share to recover must be a number >= 0, got {need!r}")
    reached = _as_outcomes(correct_reached, "correct_reached").astype(float)
    full = _as_outcomes(correct_full, "correct_full").astype(float)
    constant = None
    if np.ndim(base) == 0:
        constant = _check_proportion(float(base), "base")
        base_ = np.full(reached.shape, constant)
    else:
        base_ = _as_outcomes(base, "base").astype(float)
    if not (reached.shape == full.shape == base_.shape) or reached.size < 2:
        raise ConfigError(f"the outcomes must be on the same texts, 2 or more: got {reached.size}, {full.size} "
                          f"and {base_.size} texts")
    n = reached.size
    a, g = reached - base_, full - base_  # per text: what the model reached, what the full model gained
    ratio = float(a.mean() / g.mean()) if g.mean() != 0 else math.nan
    if constant is None and np.all((a >= 0) & (a <= g)):
        k, m = int(a.sum()), int(g.sum())
        if m == 0:
            return Recovery(ratio, -math.inf, math.inf, float(need), -math.inf, math.inf, float(alpha), "exact", 1.0)
        ci = stats.binomtest(k, m).proportion_ci(1 - 2 * alpha, method="exact")
        low, high = float(ci.low), float(ci.high)
        p_above = float(stats.binomtest(k, m, min(need, 1.0), alternative="greater").pvalue) if need < 1 else 1.0
        return Recovery(ratio, low, high, float(need), (low - need) * m / n, (high - need) * m / n,
                        float(alpha), "exact", p_above)
    z = float(stats.norm.ppf(1 - alpha))
    values, counts, z_need = _recovery_z(a, g, need, constant)
    low_d, high_d = score_interval(values, counts, 1 - 2 * alpha, RECOVERY_CORRECTION)
    low, high = -math.inf, math.inf
    if math.isfinite(ratio):
        def f(share: float) -> float:  # falls as the share rises where the gain is positive
            return _recovery_z(a, g, share, constant)[2]

        sign = 1.0 if g.mean() > 0 else -1.0  # sign * f falls as the share rises, either way
        low = _share_end(lambda r: sign * f(r) - z, ratio, -1.0)
        high = _share_end(lambda r: sign * f(r) + z, ratio, 1.0)
    return Recovery(ratio, low, high, float(need), low_d, high_d, float(alpha), "score", float(stats.norm.sf(z_need)))


def _share_end(f, start: float, direction: float) -> float:
    """Where ``f`` changes sign, walking from ``start`` in ``direction`` (steps doubling from 0.05
    to a share 20 away); infinite where it never does."""
    step, here = 0.05, start
    while step <= 20:
        there = start + direction * step
        if f(here) * f(there) <= 0:
            return float(optimize.brentq(f, min(here, there), max(here, there), xtol=1e-9))
        here, step = there, step * 2
    return direction * math.inf


def welch_greater(a: Sequence[float], b: Sequence[float]) -> float:
    """One-sided Welch p-value that the mean of ``a`` exceeds the mean of ``b``."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.size < 2 or b.size < 2:
        raise ConfigError(f"Welch's t-test needs at least 2 values per group, got {a.size} and {b.size}")
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return 0.0 if a[0] > b[0] else 1.0
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
        return float(stats.ttest_ind(a, b, equal_var=False, alternative="greater").pvalue)


def above_chance(correct: Sequence, chance: float, floor: float = 0.0) -> float:
    """One-sided exact binomial p-value that the accuracy exceeds ``chance + floor`` (``chance``:
    the majority class's share of the texts, what a constant classifier scores)."""
    a = _as_outcomes(correct, "correct")
    level = _check_proportion(chance + floor, "chance + floor")
    if level >= 1.0:
        return 1.0
    return float(stats.binomtest(int(a.sum()), a.size, level, alternative="greater").pvalue)


def majority_share(labels: Sequence) -> float:
    """The share of the most frequent label: the accuracy of always answering it."""
    values, counts = np.unique(np.asarray(labels), return_counts=True)
    if values.size == 0:
        raise ConfigError("cannot compute the chance level of an empty label list")
    return float(counts.max() / counts.sum())


def macro_f1(labels: np.ndarray, pred: np.ndarray, classes: np.ndarray | None = None) -> np.ndarray:
    """Macro-averaged F1 (classes absent from both labels and predictions count 0, as
    scikit-learn's ``f1_score(average="macro", labels=classes, zero_division=0)``). ``labels`` and
    ``pred`` may carry a leading batch axis (one row per bootstrap resample)."""
    labels, pred = np.asarray(labels), np.asarray(pred)
    classes = np.unique(np.concatenate([labels.ravel(), pred.ravel()])) if classes is None else np.asarray(classes)
    f1 = []
    for c in classes:
        tp = np.sum((pred == c) & (labels == c), axis=-1)
        fp = np.sum((pred == c) & (labels != c), axis=-1)
        fn = np.sum((pred != c) & (labels == c), axis=-1)
        denom = 2 * tp + fp + fn
        f1.append(np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0))
    return np.mean(f1, axis=0)


def paired_bootstrap_f1_difference(labels: Sequence, pred_a: Sequence, pred_b: Sequence, *,
                                   level: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> Interval:
    """Macro-F1 of A minus macro-F1 of B on the same texts, with a paired percentile bootstrap
    interval (texts resampled together for both)."""
    y, a, b = (np.asarray(v) for v in (labels, pred_a, pred_b))
    if not y.shape == a.shape == b.shape or y.ndim != 1 or y.size < 2:
        raise ConfigError(f"labels and both predictions must be 1-D of one length >= 2, got {y.shape}, {a.shape}, {b.shape}")
    classes = np.unique(np.concatenate([y, a, b]))
    diff = float(macro_f1(y, a, classes) - macro_f1(y, b, classes))
    rng = np.random.default_rng(seed)
    out = np.empty(n_resamples)
    for start in range(0, n_resamples, 250):  # 250 resamples at a time: bounded memory
        idx = rng.integers(0, y.size, size=(min(250, n_resamples - start), y.size))
        out[start:start + idx.shape[0]] = macro_f1(y[idx], a[idx], classes) - macro_f1(y[idx], b[idx], classes)
    tail = (1 - level) / 2
    return Interval(diff, float(np.quantile(out, tail)), float(np.quantile(out, 1 - tail)), level,
                    float(np.mean(out <= 0)))


@dataclass(frozen=True)
class Permutation:
    difference: float  # mean(x) - mean(y)
    p_greater: float  # one-sided: x's mean exceeds y's by more than chance allows
    p_less: float


def permutation_difference(x: Sequence[float], y: Sequence[float], *, n_resamples: int = 9999,
                           seed: int = 0) -> Permutation:
    """Permutation test of mean(x) - mean(y) (``scipy.stats.permutation_test``, independent
    samples: the values are shuffled between the two groups), both one-sided p-values."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size < 2 or y.size < 2:
        raise ConfigError(f"a permutation test needs 2 or more values in each group, got {x.size} and {y.size}")

    def stat(a, b, axis):
        return np.mean(a, axis=axis) - np.mean(b, axis=axis)

    out = {}
    for alt in ("greater", "less"):
        res = stats.permutation_test((x, y), stat, permutation_type="independent", alternative=alt,
                                     n_resamples=n_resamples, vectorized=True,
                                     random_state=np.random.default_rng(seed))
        out[alt] = float(res.pvalue)
    return Permutation(float(x.mean() - y.mean()), out["greater"], out["less"])


# --------------------------------------------------------------------------------------------
# Smooth statistics of a sample of texts (similarities, shares of variance, centroid movements):
# the delete-a-group jackknife


JACKKNIFE_GROUPS = 20  # groups of texts (or sentences) left out in turn: 19 degrees of freedom


def jackknife_keep(n: int, groups: int = JACKKNIFE_GROUPS, clusters: Sequence | None = None,
                   seed: int = 0) -> list[np.ndarray]:
    """The items each replicate of a delete-a-group jackknife keeps: the sampling units (items, or
    the ``clusters`` they belong to: the sentence of each word) dealt at random into ``groups``
    groups of nearly equal size (fewer where there are fewer units), and each replicate leaves one
    group out. Sorted index arrays into the ``n`` items."""
    if clusters is None:
        units = np.arange(n)
    else:
        g = np.asarray(clusters)
        if g.shape != (n,):
            raise ConfigError(f"one cluster (sentence) per item: got {g.size} for {n} items")
        units = np.unique(g, return_inverse=True)[1]
    k = int(units.max()) + 1 if n else 0
    size = min(groups, k)
    if size < 2:
        raise ConfigError(f"a jackknife needs 2 or more sampling units, got {k}")
    group_of_unit = np.random.default_rng(seed).permutation(k) % size
    group = group_of_unit[units]
    return [np.flatnonzero(group != j) for j in range(size)]


@dataclass(frozen=True)
class Jackknife:
    """A statistic on all the texts (``value``), its bias-corrected jackknife estimate and standard
    error over ``df + 1`` leave-a-group-out replicates; tests of where it lies use Student's t on
    ``df`` degrees of freedom (the grouped jackknife's reference distribution). A statistic that no
    replicate moves (``se`` 0) is known exactly: its p-values are 0 or 1."""

    value: float
    estimate: float
    se: float
    df: int

    def p_above(self, threshold: float) -> float:
        """One-sided p of 'the statistic is above ``threshold``' (H0: at or below it)."""
        return self._p(self.estimate - threshold)

    def p_below(self, threshold: float) -> float:
        """One-sided p of 'the statistic is below ``threshold``' (H0: at or above it)."""
        return self._p(threshold - self.estimate)

    def _p(self, distance: float) -> float:
        if not math.isfinite(self.estimate):
            return math.nan
        return float(jackknife_p(np.float64(distance), np.float64(self.se), self.df))

    def interval(self, level: float) -> tuple[float, float]:
        """The two-sided ``level`` interval (a TOST at alpha reads the 1 - 2 alpha one)."""
        h = float(stats.t.ppf((1 + level) / 2, self.df)) * self.se
        return self.estimate - h, self.estimate + h


def jackknife(value: float, replicates: Sequence[float], correct_bias: bool = True) -> Jackknife:
    """:class:`Jackknife` from a statistic on all the items and on each leave-a-group-out
    replicate (:func:`jackknife_keep`): estimate ``G value - (G - 1) mean(replicates)`` (first-order
    bias removed), variance ``(G - 1) / G sum (replicate - mean)^2`` (Quenouille; Tukey).

    ``correct_bias=False`` keeps the value itself as the estimate: for a statistic whose bias is
    known to lie on the safe side of a test (removing it would add variance the standard error
    does not see)."""
    r = np.asarray(replicates, float)
    g = r.size
    if g < 2:
        raise ConfigError(f"a jackknife needs 2 or more replicates, got {g}")
    if not (math.isfinite(value) and np.isfinite(r).all()):
        return Jackknife(float(value), math.nan, math.nan, g - 1)
    mean = float(r.mean())
    estimate = g * float(value) - (g - 1) * mean if correct_bias else float(value)
    return Jackknife(float(value), estimate, float(jackknife_se(r)), g - 1)


def jackknife_se(replicates: np.ndarray) -> np.ndarray:
    """The grouped jackknife's standard error, ``sqrt((G - 1) / G sum (replicate - mean)^2)``, over
    the G replicates along the first axis (one per statistic along the others)."""
    r = np.asarray(replicates, float)
    g = r.shape[0]
    return np.sqrt((g - 1) / g * np.sum((r - r.mean(axis=0)) ** 2, axis=0))


def jackknife_p(distance: np.ndarray, se: np.ndarray, df: int) -> np.ndarray:
    """One-sided p that a statistic lies ``distance`` (estimate minus threshold, signed towards the
    claim) beyond its threshold: Student's t on ``df``; a statistic no replicate moves (``se`` 0)
    is known exactly, so 0 where it is beyond and 1 where not."""
    with np.errstate(divide="ignore", invalid="ignore"):
        p = stats.t.sf(distance / se, df)
    return np.where(se > 0, p, np.where(distance > 0, 0.0, 1.0))


def jackknife_difference(a: Jackknife, b: Jackknife) -> Jackknife:
    """``a - b`` for two statistics of independent samples (other texts): the variances add, and
    the degrees of freedom are Welch-Satterthwaite's."""
    va, vb = a.se ** 2, b.se ** 2
    df = (va + vb) ** 2 / (va ** 2 / a.df + vb ** 2 / b.df) if va + vb > 0 else min(a.df, b.df)
    return Jackknife(a.value - b.value, a.estimate - b.estimate, math.sqrt(va + vb), max(1, int(df)))
