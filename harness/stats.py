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
inside the margin (-m, m). On paired per-example outcomes the interval is the paired t interval
of the per-example differences (``statsmodels.stats.weightstats.ttost_paired`` computes the same);
across seeds it is Welch's (``ttost_ind(usevar="unequal")``). Each result also carries the
smallest margin the data could have certified and the smallest difference a one-sided test of
the same data would detect with 80% power, so that a report can say how much the data could see.

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
    res = stats.bootstrap((a,), np.mean, confidence_level=level, n_resamples=n_resamples, batch=200,
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
    if se == 0 or not math.isfinite(se):  # no spread: the difference is known exactly
        p = 0.0 if abs(diff) < margin else 1.0
        return Equivalence(diff, diff, diff, margin, alpha, p, abs(diff), 0.0)
    q = stats.t.ppf(1 - alpha, df)
    low, high = diff - q * se, diff + q * se
    p_low = stats.t.sf((diff + margin) / se, df)  # H0: diff <= -margin
    p_high = stats.t.cdf((diff - margin) / se, df)  # H0: diff >= margin
    detectable = (q + stats.t.ppf(0.8, df)) * se
    return Equivalence(diff, float(low), float(high), margin, alpha, float(max(p_low, p_high)),
                       float(max(abs(low), abs(high))), float(detectable))


def tost_paired(correct_a: Sequence, correct_b: Sequence, margin: float, alpha: float = 0.05) -> Equivalence:
    """Equivalence of two classifiers' accuracies on the same texts: TOST on the per-example
    differences (paired t, n - 1 d.f.); where the two agree on every text, the exact binomial
    bound on how often they could disagree (below)."""
    margin, alpha = _check_tost(margin, alpha)
    a = _as_outcomes(correct_a, "correct_a").astype(float)
    b = _as_outcomes(correct_b, "correct_b").astype(float)
    if a.shape != b.shape or a.size < 2:
        raise ConfigError(f"paired outcomes must have equal length of 2 or more, got {a.size} and {b.size}")
    d = a - b
    if not d.any():
        # The same outcome on every text: the t interval would be the single point 0 and "prove"
        # equivalence from 3 texts. The difference is bounded by the chance that the two disagree on
        # a text (|E d| <= P(d != 0)), and none of n disagreed: its exact one-sided bound at alpha
        # (Clopper-Pearson) is 1 - alpha^(1/n), and the chance of no disagreement where the
        # difference is the margin or more is at most (1 - margin)^n, the p-value.
        bound = float(stats.binomtest(0, d.size).proportion_ci(1 - 2 * alpha, method="exact").high)
        return Equivalence(0.0, -bound, bound, margin, alpha, float((1 - margin) ** d.size), bound, 0.0)
    return _tost(float(d.mean()), float(d.std(ddof=1) / math.sqrt(d.size)), d.size - 1, margin, alpha)


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
class Recovery:
    """How much of a gain a model recovers, on the same texts: ``ratio`` = (reached - base) /
    (full - base) in accuracy, with the (1 - 2 alpha) Fieller interval ``(low, high)`` of the ratio
    (infinite where the gain itself is not significant at alpha, so no interval bounds the ratio),
    and the (1 - 2 alpha) paired t interval ``(shortfall_low, shortfall_high)`` of the mean
    per-text ``(reached - base) - need (full - base)``, which decides: above 0, the recovery is
    shown to exceed ``need`` (one-sided t-test at alpha); below 0, shown to fall short. (Where d
    is the same on every text, the decision uses an exact bound instead: see ``recovery``; the
    Fieller interval is then the ratio itself.)"""

    ratio: float
    low: float
    high: float
    need: float
    shortfall_low: float
    shortfall_high: float
    alpha: float

    @property
    def shown_above(self) -> bool:
        return self.shortfall_low > 0

    @property
    def shown_below(self) -> bool:
        return self.shortfall_high < 0


def recovery(correct_reached: Sequence, correct_full: Sequence, base: Sequence | float, need: float,
             alpha: float = 0.05) -> Recovery:
    """Whether a model (``correct_reached``) recovers at least ``need`` of the accuracy that
    another (``correct_full``) gains over a base, on the same texts. ``base``: the base model's
    per-text outcomes (frozen encoder), or a constant accuracy (chance).

    The ratio of two paired means is judged by Fieller's method: the recovery exceeds ``need``
    iff the mean of ``d_i = (reached_i - base_i) - need (full_i - base_i)`` exceeds 0, a paired t
    interval on the texts with no ratio in it; the interval of the ratio is the set of ``r`` whose
    ``d(r)`` interval holds 0 (a quadratic inequality in ``r``). A point estimate of the ratio
    alone (as before) calls a model that recovers 85% of a 2-point gain on 200 texts a
    contradiction of "at least 90%", where the data cannot tell 85% from 95%."""
    if not 0 < alpha < 0.5:
        raise ConfigError(f"alpha must be in (0, 0.5), got {alpha!r}")
    if not (math.isfinite(need) and need >= 0):
        raise ConfigError(f"the share to recover must be a number >= 0, got {need!r}")
    reached = _as_outcomes(correct_reached, "correct_reached").astype(float)
    full = _as_outcomes(correct_full, "correct_full").astype(float)
    if np.ndim(base) == 0:
        base_ = np.full(reached.shape, _check_proportion(float(base), "base"))
    else:
        base_ = _as_outcomes(base, "base").astype(float)
    if not (reached.shape == full.shape == base_.shape) or reached.size < 2:
        raise ConfigError(f"the outcomes must be on the same texts, 2 or more: got {reached.size}, {full.size} "
                          f"and {base_.size} texts")
    n = reached.size
    a, g = reached - base_, full - base_  # per text: what the model reached, what the full model gained
    ratio = float(a.mean() / g.mean()) if g.mean() != 0 else math.nan
    q = float(stats.t.ppf(1 - alpha, n - 1))
    d = a - need * g
    half = q * float(d.std(ddof=1)) / math.sqrt(n)
    if np.ptp(d) == 0:
        # The same d on every text (say the base wrong and both others right on all of them): the t
        # interval would be a point and "show" the share from 3 texts. The mean of d can differ from
        # it only through texts unlike these, as likely as at most 1 - alpha^(1/n) (exact one-sided
        # binomial bound, none of n seen), each moving d by at most 2 (1 + need).
        half = float(stats.binomtest(0, n).proportion_ci(1 - 2 * alpha, method="exact").high) * 2 * (1 + need)
    low_d, high_d = float(d.mean()) - half, float(d.mean()) + half
    # Fieller: (a - r g) mean^2 <= q^2 var(a - r g) / n, i.e. A r^2 - 2 B r + C <= 0.
    cov = np.cov(a, g, ddof=1)
    k = q * q / n
    big_a = g.mean() ** 2 - k * cov[1, 1]
    big_b = a.mean() * g.mean() - k * cov[0, 1]
    big_c = a.mean() ** 2 - k * cov[0, 0]
    if big_a > 0:  # the gain is significant: a bounded interval around the ratio
        root = math.sqrt(max(big_b * big_b - big_a * big_c, 0.0))
        low, high = (big_b - root) / big_a, (big_b + root) / big_a
    else:
        low, high = -math.inf, math.inf
    return Recovery(ratio, float(low), float(high), float(need), low_d, high_d, float(alpha))


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
    return Interval(diff, float(np.quantile(out, tail)), float(np.quantile(out, 1 - tail)), level)


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
