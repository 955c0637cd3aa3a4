"""Statistics against independent references (statsmodels, scipy) and as properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sp_stats
from scipy.stats import binom

from harness import stats
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


def test_summarize():
    s = stats.summarize([1.0, 2.0, 3.0])
    assert (s.mean, s.sd, s.n) == (2.0, 1.0, 3)
    assert stats.summarize([5.0]).sd == 0.0
    with pytest.raises(ConfigError):
        stats.summarize([])


# ---- one-sided tests, equivalence (TOST), chance, macro-F1, permutation ----------------------

sm_weightstats = pytest.importorskip("statsmodels.stats.weightstats")


@settings(max_examples=150, deadline=None)
@given(pairs=st.lists(st.tuples(st.booleans(), st.booleans()), min_size=3, max_size=300),
       margin=st.floats(0.005, 0.3), alpha=st.sampled_from([0.01, 0.05, 0.1]))
def test_tost_paired_matches_statsmodels(pairs, margin, alpha):
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    ours = stats.tost_paired(a, b, margin, alpha)
    d = a.astype(float) - b.astype(float)
    if not d.any():  # the same outcome everywhere: the exact bound on how often they disagree
        assert ours.high == -ours.low == pytest.approx(1 - alpha ** (1 / len(d)), rel=1e-9)
        assert ours.pvalue == pytest.approx(binom.pmf(0, len(d), margin), rel=1e-9)
        assert ours.equivalent == (ours.pvalue < alpha)
        return
    if d.std() == 0:  # every text the same nonzero difference: statsmodels divides by zero
        assert ours.beyond_margin and not ours.equivalent
        return
    p_ref = sm_weightstats.ttost_paired(a.astype(float), b.astype(float), -margin, margin)[0]
    assert ours.pvalue == pytest.approx(p_ref, rel=1e-7, abs=1e-12)
    # TOST at alpha <=> the (1 - 2 alpha) interval inside the margin (away from the boundary)
    if abs(ours.pvalue - alpha) > 1e-9:
        assert ours.equivalent == (ours.pvalue < alpha)
    ref_ci = sm_weightstats.DescrStatsW(d).tconfint_mean(alpha=2 * alpha)
    assert (ours.low, ours.high) == pytest.approx(ref_ci, rel=1e-9, abs=1e-12)


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


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("constant_base", [False, True])
def test_recovery_matches_a_brute_force_inversion_of_scipys_t_interval(seed, constant_base):
    reached, full, base = _three_models(seed, 400, 0.7, 0.5, 0.8)
    base_arg = 0.55 if constant_base else base
    alpha, need = 0.05, 0.9
    r = stats.recovery(reached, full, base_arg, need, alpha)
    b = np.full(400, 0.55) if constant_base else base.astype(float)
    a, g = reached - b, full - b

    def interval(ratio):  # scipy's (1 - 2 alpha) one-sample t interval of a - ratio g
        return sp_stats.ttest_1samp(a - ratio * g, 0.0).confidence_interval(1 - 2 * alpha)

    ci = interval(need)
    assert (r.shortfall_low, r.shortfall_high) == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert r.ratio == pytest.approx(a.mean() / g.mean())
    grid = np.linspace(r.ratio - 1, r.ratio + 1, 401)  # steps of 0.005: the ratios whose interval holds 0
    kept = np.array([x for x in grid if (c := interval(x)).low <= 0 <= c.high])
    assert kept.min() == pytest.approx(r.low, abs=0.0051) and kept.max() == pytest.approx(r.high, abs=0.0051)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), texts=st.integers(20, 600), base_rate=st.floats(0.3, 0.9),
       full_rate=st.floats(0.0, 0.9), reached_rate=st.floats(0.0, 1.0), need=st.floats(0.0, 1.2),
       alpha=st.sampled_from([0.01, 0.05, 0.2]))
def test_recovery_decides_as_its_fieller_interval_says(seed, texts, base_rate, full_rate, reached_rate, need, alpha):
    reached, full, base = _three_models(seed, texts, base_rate, full_rate, reached_rate)
    if full.mean() <= base.mean():
        return
    r = stats.recovery(reached, full, base, need, alpha)
    assert not (r.shown_above and r.shown_below)
    assert r.shortfall_low <= r.shortfall_high
    if np.isfinite(r.low):  # a significant gain: the share is shown above need iff the interval is
        assert r.low <= r.ratio <= r.high
        if abs(r.low - need) > 1e-9:
            assert r.shown_above == (need < r.low)
        if abs(r.high - need) > 1e-9:
            assert r.shown_below == (r.high < need)
    else:  # no bound on the share: the test at need is then never decisive in the claimed direction
        assert not r.shown_above or need < r.ratio


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
    """Base wrong, full and partial right on every text: a share of 1 with no spread. The t interval
    would be a point at any size; the exact bound on unseen kinds of texts needs enough of them."""
    right, wrong = np.ones(texts, bool), np.zeros(texts, bool)
    r = stats.recovery(right, right, wrong, 0.9)
    assert r.ratio == 1.0 and r.shown_above == shown and not r.shown_below
    bound = 1 - 0.05 ** (1 / texts)  # Clopper-Pearson's one-sided bound with no event seen
    assert r.shortfall_low == pytest.approx(0.1 - bound * 3.8)
