"""Statistics against independent references (statsmodels, scipy) and as properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
