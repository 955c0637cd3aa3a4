"""Statistics against independent references (statsmodels, scipy) and as properties."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sp_stats

from harness.analysis import stats
from harness.errors import ConfigError

sm_contingency = pytest.importorskip("statsmodels.stats.contingency_tables")
sm_proportion = pytest.importorskip("statsmodels.stats.proportion")
sm_multitest = pytest.importorskip("statsmodels.stats.multitest")

outcomes = st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=300)


def table(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array([[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]])


@settings(max_examples=200, deadline=None)
@given(pairs=outcomes)
def test_mcnemar_matches_statsmodels(pairs):
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    ours = stats.mcnemar(a, b)
    exact = ours.method == "exact"
    ref = sm_contingency.mcnemar(table(a, b), exact=exact, correction=True)
    if ours.b + ours.c == 0:
        assert ours.pvalue == 1.0
    else:
        assert ours.pvalue == pytest.approx(min(1.0, ref.pvalue), rel=1e-9, abs=1e-12)
        assert ours.statistic == pytest.approx(ref.statistic, rel=1e-9)
    assert 0.0 <= ours.pvalue <= 1.0
    swapped = stats.mcnemar(b, a)
    assert swapped.pvalue == pytest.approx(ours.pvalue) and (swapped.b, swapped.c) == (ours.c, ours.b)


def test_mcnemar_switches_to_chi2_at_25_discordant_pairs():
    a = np.array([True] * 20 + [False] * 5 + [True] * 10)
    b = np.array([False] * 20 + [True] * 5 + [True] * 10)
    assert stats.mcnemar(a, b).method == "chi2"
    assert stats.mcnemar(a[1:], b[1:]).method == "exact"


def test_bogaert_infopinion_figures():
    """The paper's formula gives its p = 0.34; the textbook pooled form gives 0.50."""
    paper = stats.two_proportion_z(0.9560, 0.9620, 1000, form="paper")
    pooled = stats.two_proportion_z(0.9560, 0.9620, 1000, form="pooled")
    assert round(paper.pvalue, 2) == 0.34
    assert round(pooled.pvalue, 2) == 0.50


@settings(max_examples=200, deadline=None)
@given(k1=st.integers(0, 500), k2=st.integers(0, 500), n=st.integers(500, 2000))
def test_pooled_z_matches_statsmodels(k1, k2, n):
    ours = stats.two_proportion_z(k1 / n, k2 / n, n, form="pooled")
    if k1 + k2 in (0, 2 * n):  # both 0% or both 100%: statsmodels gives nan, we give no evidence
        assert (ours.z, ours.pvalue) == (0.0, 1.0)
        return
    z, p = sm_proportion.proportions_ztest([k1, k2], [n, n])
    assert ours.z == pytest.approx(z, rel=1e-9, abs=1e-12)
    assert ours.pvalue == pytest.approx(p, rel=1e-9, abs=1e-12)
    # The paper's form drops the factor 2 under the root: z larger by sqrt(2).
    assert stats.two_proportion_z(k1 / n, k2 / n, n, form="paper").z == pytest.approx(np.sqrt(2) * z)


def test_z_inputs_are_checked():
    with pytest.raises(ConfigError, match=r"p1 must be a proportion in \[0, 1\]"):
        stats.two_proportion_z(97.07, 94.31, 1000)
    with pytest.raises(ConfigError, match="n must be a positive integer"):
        stats.two_proportion_z(0.9, 0.8, 0)
    with pytest.raises(ConfigError, match="form must be"):
        stats.two_proportion_z(0.9, 0.8, 10, form="welch")
    with pytest.raises(ConfigError, match="equal length"):
        stats.mcnemar([1, 0, 1], [1, 0])
    with pytest.raises(ConfigError, match="booleans or 0/1"):
        stats.mcnemar([2, 0], [1, 0])


@settings(max_examples=100, deadline=None)
@given(p=st.lists(st.floats(0, 1), min_size=1, max_size=30))
def test_holm_matches_statsmodels(p):
    # multipletests runs gc.collect() on every call: 0.14 s each in a test process holding torch
    with mock.patch("gc.collect", return_value=0):
        ref = sm_multitest.multipletests(p, method="holm")[1]
    assert np.allclose(stats.holm(p), ref, rtol=1e-12, atol=1e-15)


def test_welch_matches_scipy_and_hart_shape():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.90, 0.01, 10), rng.normal(0.905, 0.02, 10)
    from scipy.stats import ttest_ind

    ref = ttest_ind(a, b, equal_var=False)
    res = stats.welch_t(a, b)
    assert res.pvalue == pytest.approx(ref.pvalue) and res.t == pytest.approx(ref.statistic)
    assert 9 <= res.df <= 18


def test_paired_t_with_constant_difference():
    res = stats.paired_t([0.9, 0.8, 0.7], [0.8, 0.7, 0.6])
    assert res.t == np.inf and res.pvalue == 0.0
    assert stats.paired_t([0.5, 0.6], [0.5, 0.6]).pvalue == 1.0


def test_bootstrap_intervals_cover_the_estimate_and_shrink_with_n():
    rng = np.random.default_rng(0)
    small = rng.random(100) < 0.8
    large = rng.random(5000) < 0.8
    ci_small, ci_large = stats.bootstrap_accuracy(small), stats.bootstrap_accuracy(large)
    assert ci_small.low <= ci_small.estimate <= ci_small.high
    assert (ci_large.high - ci_large.low) < (ci_small.high - ci_small.low) / 4
    diff = stats.paired_bootstrap_difference(large, large)
    assert diff.estimate == diff.low == diff.high == 0.0


@pytest.mark.parametrize(("n", "acc"), [(60, 0.7), (500, 0.9), (2000, 0.55)])
def test_binomial_bootstrap_agrees_with_scipys_resampling(n, acc):
    """The same distribution of resampled accuracies: the two intervals agree to Monte Carlo error."""
    correct = np.random.default_rng(n).random(n) < acc
    ours = stats.bootstrap_accuracy(correct, n_resamples=20000)
    ref = sp_stats.bootstrap((correct.astype(float),), np.mean, n_resamples=20000, method="percentile",
                             random_state=np.random.default_rng(1)).confidence_interval
    se = np.sqrt(correct.mean() * (1 - correct.mean()) / n)
    assert ours.low == pytest.approx(ref.low, abs=0.1 * se + 1 / n)
    assert ours.high == pytest.approx(ref.high, abs=0.1 * se + 1 / n)


def test_summarize():
    s = stats.summarize([1.0, 2.0, 3.0])
    assert (s.mean, s.sd, s.n) == (2.0, 1.0, 3)
    assert stats.summarize([5.0]).sd == 0.0
    with pytest.raises(ConfigError):
        stats.summarize([])


# ---- one-sided tests, equivalence (TOST), chance, macro-F1, permutation ----------------------

sm_weightstats = pytest.importorskip("statsmodels.stats.weightstats")


def tango_denominator(b: int, c: int, n: int, delta: float) -> float:
    """The standard error (in texts) of Tango's (1998) score statistic, from the paper's closed
    form of the constrained estimate (as R's PropCIs ``scoreci.mp`` has it)."""
    big_a = 2 * n
    big_b = -b - c + (2 * n - b + c) * delta
    big_c = -c * delta * (1 - delta)
    q21 = (np.sqrt(big_b**2 - 4 * big_a * big_c) - big_b) / (2 * big_a)
    return float(np.sqrt(n * (2 * q21 + delta * (1 - delta))))


def tango_closed_form(b: int, c: int, n: int, delta: float, correction: float = 0.0) -> float:
    """Tango's score statistic, shrunk by ``correction`` texts: an independent route to
    ``stats.score_z`` on the values (1, -1, 0)."""
    num = b - c - n * delta
    num = np.sign(num) * max(abs(num) - correction, 0.0)
    if num == 0:
        return 0.0
    with np.errstate(divide="ignore"):
        return float(num / tango_denominator(b, c, n, delta))


@settings(max_examples=300, deadline=None)
@given(b=st.integers(0, 60), c=st.integers(0, 60), rest=st.integers(0, 400), delta=st.floats(-0.95, 0.95))
def test_score_z_on_paired_outcomes_is_tangos(b, c, rest, delta):
    n = b + c + rest
    if n == 0:
        return
    ours = stats.score_z((1.0, -1.0, 0.0), (b, c, rest), delta)
    ref = tango_closed_form(b, c, n, delta)
    if not np.isfinite(ref):  # the closed form divides by zero where all texts sit on delta's side
        return
    assert ours == pytest.approx(ref, rel=1e-7, abs=1e-6)


def brute_constrained_mle(values, counts, mean):
    """The constrained multinomial MLE by a general-purpose optimiser (SLSQP)."""
    from scipy.optimize import minimize

    v, n = np.asarray(values, float), np.asarray(counts, float)
    start = (n + 1) / (n + 1).sum()
    res = minimize(lambda p: -np.sum(n * np.log(np.maximum(p, 1e-300))), start, method="SLSQP",
                   bounds=[(0, 1)] * len(v), options={"ftol": 1e-14, "maxiter": 1000},
                   constraints=[{"type": "eq", "fun": lambda p: p.sum() - 1},
                                {"type": "eq", "fun": lambda p: p @ v - mean}])
    return res.x, -res.fun


@settings(max_examples=60, deadline=None)
@given(counts=st.lists(st.integers(0, 40), min_size=4, max_size=4), where=st.floats(0.05, 0.95))
def test_constrained_mle_maximises_the_likelihood(counts, where):
    """On the recovery's support (four values, some never seen): no feasible point is likelier."""
    values = np.array([-1.0, -0.1, 0.3, 0.9])
    if sum(counts) == 0:
        return
    mean = values.min() + where * (values.max() - values.min())
    p = stats.constrained_mle(values, counts, mean)
    assert p.sum() == pytest.approx(1.0) and p @ values == pytest.approx(mean, abs=1e-9) and (p >= 0).all()
    n = np.asarray(counts, float)
    ours = float(np.sum(n[n > 0] * np.log(p[n > 0])))
    _, best = brute_constrained_mle(values, counts, mean)
    assert ours >= best - 1e-6


@settings(max_examples=150, deadline=None)
@given(pairs=st.lists(st.tuples(st.booleans(), st.booleans()), min_size=3, max_size=300),
       margin=st.floats(0.005, 0.3), alpha=st.sampled_from([0.01, 0.05, 0.1]))
def test_tost_paired_is_tangos_continuity_corrected_score_test(pairs, margin, alpha):
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    ours = stats.tost_paired(a, b, margin, alpha)
    n10, n01, n = int(np.sum(a & ~b)), int(np.sum(~a & b)), len(a)
    assert ours.difference == pytest.approx((n10 - n01) / n) and ours.method == "tango"
    assert ours.low <= ours.difference <= ours.high  # (the correction's band holds the estimate)

    def z(delta):  # continuity-corrected Tango, from the closed form
        if abs(delta) >= 1:
            return np.sign(n10 - n01 - n * delta) * np.inf
        return tango_closed_form(n10, n01, n, delta, stats.TANGO_CORRECTION)

    p_ref = max(sp_stats.norm.sf(z(-margin)), sp_stats.norm.cdf(z(margin)))
    assert ours.pvalue == pytest.approx(p_ref, rel=1e-6, abs=1e-9)
    q = sp_stats.norm.ppf(1 - alpha)
    if ours.low > -1 + 1e-9:  # the interval's ends are where the statistic meets the quantile
        assert z(ours.low) == pytest.approx(q, abs=1e-5)
    if ours.high < 1 - 1e-9:
        assert z(ours.high) == pytest.approx(-q, abs=1e-5)
    if abs(ours.pvalue - alpha) > 1e-9:  # TOST at alpha <=> the (1 - 2 alpha) interval inside the margin
        assert ours.equivalent == (ours.pvalue < alpha)


@pytest.mark.parametrize(("n", "margin", "alpha"), [(150, 0.02, 0.05), (300, 0.02, 0.05), (200, 0.05, 0.05),
                                                    (150, 0.02, 0.01)])
def test_tost_paired_holds_its_size_at_the_margin_by_exact_enumeration(n, margin, alpha):
    """The audit's cases: the true difference at the margin, few disagreements. The paired t
    interval said 'equivalent' 19.6% of the time at n = 150 (exact); Tango's, corrected, holds
    alpha over every rate of disagreement tried (its worst here: 4.8% at n = 300)."""
    from scipy.stats import multinomial

    worst = 0.0
    for p21 in (0.0, 0.002, 0.005, 0.01, 0.03):
        p12 = p21 + margin
        total = 0.0
        for b in range(0, min(n, 40) + 1):
            for c in range(0, min(n - b, 40) + 1):
                pr = multinomial.pmf([b, c, n - b - c], n, [p12, p21, 1 - p12 - p21])
                if pr > 1e-12 and stats.tost_paired_counts(b, c, n, margin, alpha).equivalent:
                    total += pr
        worst = max(worst, total)
    assert worst <= alpha


def test_tost_paired_no_longer_certifies_one_disagreement_in_150():
    """The audit's case: two models that disagree on 1 text of 150 were 'equivalent within 0.02'."""
    a = np.ones(150, bool)
    b = a.copy()
    b[0] = False
    eq = stats.tost_paired(a, b, 0.02)
    assert not eq.equivalent and not eq.beyond_margin


def test_clustered_counts_widen_the_interval():
    plain = stats.tost_paired_counts(30, 10, 2000, 0.02)
    clustered = stats.tost_paired_counts(30, 10, 2000, 0.02, effective=500)
    assert clustered.difference == plain.difference
    assert clustered.high - clustered.low > 1.8 * (plain.high - plain.low)
    assert clustered.method == "tango, clustered"


@settings(max_examples=100, deadline=None)
@given(k1=st.integers(0, 300), n1=st.integers(1, 300), k2=st.integers(0, 300), n2=st.integers(1, 300),
       level=st.sampled_from([0.8, 0.9, 0.95]))
def test_newcombe_matches_statsmodels(k1, n1, k2, n2, level):
    k1, k2 = min(k1, n1), min(k2, n2)
    a = np.r_[np.ones(k1, bool), np.zeros(n1 - k1, bool)]
    b = np.r_[np.ones(k2, bool), np.zeros(n2 - k2, bool)]
    ours = stats.newcombe_difference(a, b, level)
    low, high = sm_proportion.confint_proportions_2indep(k1, n1, k2, n2, method="newcomb", compare="diff",
                                                         alpha=1 - level)
    assert (ours.low, ours.high) == pytest.approx((low, high), rel=1e-9, abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(a=st.lists(st.floats(0.5, 1.0), min_size=2, max_size=12),
       b=st.lists(st.floats(0.5, 1.0), min_size=2, max_size=12), margin=st.floats(0.005, 0.2))
def test_tost_welch_matches_statsmodels(a, b, margin):
    a, b = np.array(a), np.array(b)
    if a.std() < 1e-6 or b.std() < 1e-6:  # statsmodels' Welch d.f. break down without spread
        return
    ours = stats.tost_welch(a, b, margin, 0.05)
    p_ref = sm_weightstats.ttost_ind(a, b, -margin, margin, usevar="unequal")[0]
    assert ours.pvalue == pytest.approx(p_ref, rel=1e-6, abs=1e-10)
    cm = sm_weightstats.CompareMeans(sm_weightstats.DescrStatsW(a), sm_weightstats.DescrStatsW(b))
    assert (ours.low, ours.high) == pytest.approx(cm.tconfint_diff(alpha=0.1, usevar="unequal"), rel=1e-7)


def test_equivalence_properties():
    same = np.r_[np.ones(900, bool), np.zeros(100, bool)]
    eq = stats.tost_paired(same, same, 0.01)  # 1,000 texts, no disagreement: the rate is below 0.3%
    assert eq.equivalent and eq.difference == 0.0 and 0.0 < eq.high < 0.01 and eq.pvalue < 0.05
    few = stats.tost_paired(same[:20], same[:20], 0.01)  # 20 texts cannot show 1%: not a point interval
    assert not few.equivalent and not few.beyond_margin and few.high > 0.1
    far = stats.tost_paired(np.ones(500, bool), np.r_[np.ones(250, bool), np.zeros(250, bool)], 0.02)
    assert far.beyond_margin and not far.equivalent
    assert far.certifiable_margin >= abs(far.difference)
    with pytest.raises(ConfigError, match="margin must be a positive number"):
        stats.tost_paired(same, same, 0.0)
    with pytest.raises(ConfigError, match="alpha must be in"):
        stats.tost_paired(same, same, 0.02, alpha=0.5)


@settings(max_examples=150, deadline=None)
@given(pairs=st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=200))
def test_mcnemar_greater_is_the_one_sided_exact_binomial(pairs):
    from scipy.special import comb

    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    n10, n01 = int(np.sum(a & ~b)), int(np.sum(~a & b))
    n = n10 + n01
    brute = 1.0 if n == 0 else sum(comb(n, k, exact=True) for k in range(n10, n + 1)) / 2**n
    assert stats.mcnemar_greater(a, b) == pytest.approx(brute, rel=1e-9)
    if n:  # the two one-sided p-values sum to 1 + P(X = n10)
        both = stats.mcnemar_greater(a, b) + stats.mcnemar_greater(b, a)
        assert both == pytest.approx(1 + comb(n, n10, exact=True) / 2**n, rel=1e-9)


def test_welch_greater_matches_scipy():
    from scipy.stats import ttest_ind

    a, b = [0.91, 0.93, 0.92, 0.95], [0.88, 0.9, 0.87]
    assert stats.welch_greater(a, b) == pytest.approx(ttest_ind(a, b, equal_var=False, alternative="greater").pvalue)
    assert stats.welch_greater(a, b) + stats.welch_greater(b, a) == pytest.approx(1.0)


@settings(max_examples=100, deadline=None)
@given(k=st.integers(0, 60), extra=st.integers(0, 60), level=st.floats(0.05, 0.9))
def test_above_chance_is_the_binomial_tail(k, extra, level):
    from scipy.special import comb

    n = k + extra
    if n == 0:
        return
    correct = np.r_[np.ones(k, bool), np.zeros(extra, bool)]
    brute = sum(comb(n, j, exact=True) * level**j * (1 - level) ** (n - j) for j in range(k, n + 1))
    assert stats.above_chance(correct, level) == pytest.approx(brute, rel=1e-6, abs=1e-12)


def test_majority_share():
    assert stats.majority_share(["a", "b", "a", "a"]) == 0.75
    with pytest.raises(ConfigError, match="empty label list"):
        stats.majority_share([])


@settings(max_examples=100, deadline=None)
@given(data=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=100))
def test_macro_f1_matches_scikit_learn(data):
    from sklearn.metrics import f1_score

    y = np.array([d[0] for d in data])
    p = np.array([d[1] for d in data])
    classes = np.unique(np.r_[y, p])
    ref = f1_score(y, p, average="macro", labels=classes, zero_division=0)
    assert float(stats.macro_f1(y, p)) == pytest.approx(ref, abs=1e-12)


def test_paired_bootstrap_f1_difference_brackets_the_estimate():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 400)
    a = np.where(rng.random(400) < 0.9, y, (y + 1) % 3)
    b = np.where(rng.random(400) < 0.6, y, (y + 1) % 3)
    ci = stats.paired_bootstrap_f1_difference(y, a, b)
    assert ci.low < ci.estimate < ci.high and ci.low > 0.15
    same = stats.paired_bootstrap_f1_difference(y, a, a)
    assert same.low == same.estimate == same.high == 0.0


@settings(max_examples=30, deadline=None)
@given(x=st.lists(st.integers(0, 5), min_size=2, max_size=5), y=st.lists(st.integers(0, 5), min_size=2, max_size=5))
def test_permutation_difference_matches_a_brute_force_enumeration(x, y):
    from itertools import combinations

    pooled = np.array(x + y, float)
    observed = np.mean(x) - np.mean(y)
    diffs = []
    for idx in combinations(range(len(pooled)), len(x)):
        mask = np.zeros(len(pooled), bool)
        mask[list(idx)] = True
        diffs.append(pooled[mask].mean() - pooled[~mask].mean())
    diffs = np.array(diffs)
    ours = stats.permutation_difference(x, y)  # few enough values: scipy enumerates them exactly
    tol = 1e-9 * max(1.0, abs(observed))
    assert ours.p_greater == pytest.approx(np.mean(diffs >= observed - tol), rel=1e-9)
    assert ours.p_less == pytest.approx(np.mean(diffs <= observed + tol), rel=1e-9)


# ---- recovery of a gain (Fieller) ----------------------------------------------------------------


def _three_models(seed: int, texts: int, base_rate: float, full_rate: float, reached_rate: float):
    """Per-text outcomes of a base, a full and a partial model, correlated as fine-tuned models are:
    each improves on the base's mistakes at its own rate, and the partial one only where the full one does."""
    rng = np.random.default_rng(seed)
    base = rng.random(texts) < base_rate
    full = base | (rng.random(texts) < full_rate)
    reached = base | (full & (rng.random(texts) < reached_rate))
    return reached, full, base


def _lossy(reached, full, base, seed, lost=4):
    """The same models with a few texts lost by the partial one (right under the base, wrong
    after): outcomes that are no longer nested."""
    reached = reached.copy()
    idx = np.flatnonzero(base & reached)[:lost]
    reached[idx] = False
    return reached, full, base


@pytest.mark.parametrize("seed", range(4))
def test_nested_recovery_is_the_exact_binomial_share(seed):
    """No text lost: the share is k of the m texts the full model gained, judged by Clopper-Pearson."""
    reached, full, base = _three_models(seed, 400, 0.7, 0.5, 0.8)
    r = stats.recovery(reached, full, base, 0.9, 0.05)
    k, m = int(np.sum(reached & ~base)), int(np.sum(full & ~base))
    ci = sp_stats.binomtest(k, m).proportion_ci(0.90, method="exact")
    assert r.method == "exact" and r.ratio == pytest.approx(k / m)
    assert (r.low, r.high) == pytest.approx((ci.low, ci.high), rel=1e-12)
    assert r.shown_above == (sp_stats.binomtest(k, m, 0.9, alternative="greater").pvalue < 0.05)
    assert r.shown_below == (sp_stats.binomtest(k, m, 0.9, alternative="less").pvalue < 0.05)


def test_recovery_of_20_gained_texts_kept_is_bounded_by_0861():
    """The audit's case: 200 texts, 20 gained, none lost. The t-test said [1.0, 1.0]."""
    base = np.zeros(200, bool)
    gained = np.r_[np.ones(20, bool), np.zeros(180, bool)]
    r = stats.recovery(gained, gained, base, 0.9)
    assert r.low == pytest.approx(0.05 ** (1 / 20)) and r.high == 1.0
    assert not r.shown_above and not r.shown_below


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("constant_base", [False, True])
def test_score_recovery_against_a_brute_force_constrained_likelihood(seed, constant_base):
    """Outcomes that are not nested: the score statistic of mean d = 0, recomputed from an
    optimiser's constrained estimate on the values d can take, decides as the function does."""
    reached, full, base = _lossy(*_three_models(seed, 300, 0.7, 0.5, 0.8), seed)
    base_arg = 0.55 if constant_base else base
    alpha, need = 0.05, 0.9
    r = stats.recovery(reached, full, base_arg, need, alpha)
    assert r.method == "score"
    b = np.full(300, 0.55) if constant_base else base.astype(float)
    d = np.round((reached - b) - need * (full - b), 12)
    bases = (0.55,) if constant_base else (0.0, 1.0)
    values = np.unique(np.round([(x - y) - need * (f - y) for x in (0, 1) for f in (0, 1) for y in bases], 12))
    counts = np.array([np.sum(d == v) for v in values])
    p, _ = brute_constrained_mle(values, counts, 0.0)
    distance = max(abs(d.sum()) - stats.RECOVERY_CORRECTION, 0.0) * np.sign(d.sum())
    z = distance / np.sqrt(300 * np.sum(p * values**2))
    q = sp_stats.norm.ppf(1 - alpha)
    if abs(abs(z) - q) > 1e-3:
        assert r.shown_above == (z > q) and r.shown_below == (z < -q)
    assert r.ratio == pytest.approx((reached - b).mean() / (full - b).mean())


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), texts=st.integers(20, 600), base_rate=st.floats(0.3, 0.9),
       full_rate=st.floats(0.0, 0.9), reached_rate=st.floats(0.0, 1.0), need=st.floats(0.0, 1.2),
       alpha=st.sampled_from([0.01, 0.05, 0.2]), lost=st.integers(0, 5))
def test_recovery_decides_as_its_interval_says(seed, texts, base_rate, full_rate, reached_rate, need, alpha, lost):
    reached, full, base = _lossy(*_three_models(seed, texts, base_rate, full_rate, reached_rate), seed, lost)
    if full.mean() <= base.mean():
        return
    r = stats.recovery(reached, full, base, need, alpha)
    assert not (r.shown_above and r.shown_below)
    assert r.shortfall_low <= r.shortfall_high
    if np.isfinite(r.low) and np.isfinite(r.high):  # the share is shown above need iff the interval is
        assert r.low <= r.ratio + 1e-9 and r.ratio <= r.high + 1e-9
        if abs(r.low - need) > 1e-6:
            assert r.shown_above == (need < r.low)
        if abs(r.high - need) > 1e-6:
            assert r.shown_below == (r.high < need)


def test_recovery_rejects_outcomes_on_different_texts_and_bad_parameters():
    ok = np.array([True, False, True, True])
    with pytest.raises(ConfigError, match="same texts"):
        stats.recovery(ok, ok[:3], ok, 0.9)
    with pytest.raises(ConfigError, match="alpha"):
        stats.recovery(ok, ok, ok, 0.9, alpha=0.5)
    with pytest.raises(ConfigError, match="share to recover"):
        stats.recovery(ok, ok, ok, -0.1)
    with pytest.raises(ConfigError, match="base"):
        stats.recovery(ok, ok, 1.5, 0.9)


@pytest.mark.parametrize(("texts", "shown"), [(3, False), (2000, True)])
def test_recovery_without_spread_is_shown_only_on_enough_texts(texts, shown):
    """Base wrong, full and partial right on every text: nested, all gains kept. The t interval
    would be a point at any size; the exact binomial bound needs enough texts."""
    right, wrong = np.ones(texts, bool), np.zeros(texts, bool)
    r = stats.recovery(right, right, wrong, 0.9)
    assert r.ratio == 1.0 and r.shown_above == shown and not r.shown_below
    assert r.low == pytest.approx(0.05 ** (1 / texts))  # Clopper-Pearson's bound with every gain kept


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), sentences=st.integers(3, 40), words=st.integers(1, 25),
       spread=st.floats(0.0, 3.0))
def test_design_effect_is_the_cluster_robust_over_the_plain_variance_of_statsmodels_ols(seed, sentences, words,
                                                                                         spread):
    """Against statsmodels: OLS of the per-item difference on a constant, cluster-robust by
    sentence (its default small-sample factor, G / (G - 1) here) over the plain variance."""
    import statsmodels.api as sm

    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(sentences), words)
    hard = rng.gamma(1.0, spread + 1e-9, sentences)[g]
    a = rng.random(g.size) < np.clip(0.8 - 0.1 * hard, 0.05, 0.95)
    b = rng.random(g.size) < np.clip(0.75 - 0.1 * hard, 0.05, 0.95)
    d = a.astype(float) - b.astype(float)
    if d.var() == 0:
        assert stats.design_effect(a, b, g) == 1.0
        return
    ones = np.ones((d.size, 1))
    clustered = sm.OLS(d, ones).fit(cov_type="cluster", cov_kwds={"groups": g}).bse[0] ** 2
    plain = sm.OLS(d, ones).fit().bse[0] ** 2
    assert stats.design_effect(a, b, g) == pytest.approx(max(1.0, clustered / plain), rel=1e-9)


def test_one_item_per_sentence_is_the_plain_test():
    rng = np.random.default_rng(3)
    a, b = rng.random(500) < 0.8, rng.random(500) < 0.78
    plain = stats.tost_paired(a, b, 0.05)
    clustered = stats.tost_paired_clustered(a, b, np.arange(500), 0.05)
    assert (clustered.low, clustered.high) == pytest.approx((plain.low, plain.high), rel=1e-9)
    assert stats.mcnemar_greater_clustered(a, b, np.arange(500)) == pytest.approx(stats.mcnemar_greater(a, b))


@settings(max_examples=60, deadline=None)
@given(k1=st.integers(0, 400), n1=st.integers(5, 400), k2=st.integers(0, 200), n2=st.integers(5, 200),
       bound=st.floats(-0.2, 0.3), alpha=st.sampled_from([0.01, 0.05, 0.1]))
def test_newcombe_p_decides_as_its_interval(k1, n1, k2, n2, bound, alpha):
    k1, k2 = min(k1, n1), min(k2, n2)
    a = np.r_[np.ones(k1, bool), np.zeros(n1 - k1, bool)]
    b = np.r_[np.ones(k2, bool), np.zeros(n2 - k2, bool)]
    p = stats.newcombe_p_below(a, b, bound)
    high = stats.newcombe_difference(a, b, 1 - 2 * alpha).high
    if abs(high - bound) > 1e-6:
        assert (p < alpha) == (high < bound)


def test_the_f1_bootstrap_p_is_its_share_of_resamples_at_or_below_zero():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    a = np.where(rng.random(400) < 0.9, y, 1 - y)
    b = np.where(rng.random(400) < 0.85, y, 1 - y)
    ci = stats.paired_bootstrap_f1_difference(y, a, b, level=0.9)
    assert 0 <= ci.p_above_zero <= 1
    assert (ci.p_above_zero < 0.05) == (ci.low > 0)


def test_the_share_interval_holds_the_ratio_where_the_full_model_loses():
    """A negative 'gain' (the full model below the base): the interval of the share is still around
    the ratio, on the same scale (it was mirrored to the negative shares)."""
    rng = np.random.default_rng(1)
    base = rng.random(400) < 0.8
    full = base & (rng.random(400) < 0.8)
    reached = base & (rng.random(400) < 0.9)
    r = stats.recovery(reached, full, base, 0.5)
    assert r.method == "score" and r.ratio > 0
    assert r.low < r.ratio < r.high


# ---- the delete-a-group jackknife ------------------------------------------------------------


@given(st.lists(st.floats(-100, 100), min_size=3, max_size=40))
def test_jackknife_of_the_mean_is_the_t_interval(xs):
    """One item per group: the jackknife of a mean is the mean with standard error s / sqrt(n)."""
    x = np.asarray(xs)
    keep = stats.jackknife_keep(x.size, groups=x.size)
    j = stats.jackknife(float(x.mean()), [x[k].mean() for k in keep])
    assert j.estimate == pytest.approx(x.mean(), abs=1e-9)
    assert j.se == pytest.approx(x.std(ddof=1) / np.sqrt(x.size), rel=1e-7, abs=1e-9)
    assert j.df == x.size - 1


@given(st.lists(st.floats(-100, 100), min_size=3, max_size=40))
def test_jackknife_removes_the_plug_in_variances_bias(xs):
    """Quenouille's correction turns the plug-in variance (ddof 0) into the unbiased one (ddof 1)."""
    x = np.asarray(xs)
    keep = stats.jackknife_keep(x.size, groups=x.size)
    j = stats.jackknife(float(x.var()), [x[k].var() for k in keep])
    assert j.estimate == pytest.approx(x.var(ddof=1), rel=1e-7, abs=1e-7)


@given(n=st.integers(2, 300), groups=st.integers(2, 30), sentences=st.integers(2, 40), seed=st.integers(0, 5))
def test_jackknife_groups_partition_the_units_and_never_split_a_sentence(n, groups, sentences, seed):
    clusters = np.random.default_rng(seed).integers(0, sentences, n)
    if np.unique(clusters).size < 2:
        return
    keep = stats.jackknife_keep(n, groups, clusters, seed)
    left = [np.setdiff1d(np.arange(n), k) for k in keep]
    assert len(keep) == min(groups, np.unique(clusters).size)
    assert sorted(np.concatenate(left).tolist()) == list(range(n))  # each item left out exactly once
    for out in left:
        assert not set(clusters[out]) & set(np.delete(clusters, out))  # a sentence leaves whole


def test_jackknife_p_values_are_student_t_and_a_statistic_no_replicate_moves_is_exact():
    j = stats.Jackknife(value=0.3, estimate=0.3, se=0.1, df=19)
    assert j.p_above(0.1) == pytest.approx(sp_stats.t.sf(2.0, 19))
    assert j.p_below(0.5) == pytest.approx(sp_stats.t.sf(2.0, 19))
    low, high = j.interval(0.9)
    assert j.p_above(low) == pytest.approx(0.05) and j.p_below(high) == pytest.approx(0.05)
    exact = stats.jackknife(1.0, [1.0] * 20)
    assert exact.se == 0 and exact.p_below(0.95) == 1.0 and exact.p_above(0.95) == 0.0
    assert np.isnan(stats.jackknife(float("nan"), [1.0] * 20).p_above(0))
    with pytest.raises(ConfigError, match="2 or more"):
        stats.jackknife(1.0, [1.0])
    with pytest.raises(ConfigError, match="2 or more sampling units"):
        stats.jackknife_keep(5, clusters=[0] * 5)


def test_jackknife_difference_of_independent_samples_matches_welch():
    """Two means by the jackknife (one item per group): their difference's standard error and
    degrees of freedom are Welch's (scipy)."""
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 30), rng.normal(0.5, 2, 45)
    ja, jb = (stats.jackknife(float(x.mean()), [x[k].mean() for k in stats.jackknife_keep(x.size, x.size)])
              for x in (a, b))
    d = stats.jackknife_difference(ja, jb)
    welch = sp_stats.ttest_ind(a, b, equal_var=False)
    assert d.estimate / d.se == pytest.approx(welch.statistic)
    assert d.df == int(welch.df)
