"""PCs for a share of the variance: against a brute-force eigen-decomposition, and properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from harness.analysis import geometry
from harness.analysis.geometry import components_for_variance, explained_variance_ratio
from harness.errors import ConfigError


def brute_force_components(x: np.ndarray, threshold: float) -> int:
    cov = np.cov(x, rowvar=False)
    eig = np.sort(np.linalg.eigvalsh(np.atleast_2d(cov)))[::-1].clip(min=0)
    share = np.cumsum(eig) / eig.sum()
    return int(np.argmax(share >= threshold - 1e-12)) + 1


matrices = st.tuples(st.integers(3, 40), st.integers(1, 12)).flatmap(
    lambda s: arrays(np.float64, s, elements=st.floats(-100, 100, allow_nan=False, width=32))
)


@settings(max_examples=150, deadline=None)
@given(x=matrices, threshold=st.sampled_from([0.5, 0.8, 0.9, 0.95, 0.99]))
def test_matches_brute_force(x, threshold):
    if np.allclose(x, x[0]):
        with pytest.raises(ConfigError, match="zero variance"):
            components_for_variance(x, threshold)
        return
    eig = np.sort(np.linalg.eigvalsh(np.atleast_2d(np.cov(x, rowvar=False))))[::-1]
    share = np.cumsum(eig) / eig.sum()
    if np.min(np.abs(share - threshold)) < 1e-6:  # a tie at the threshold: round-off decides
        return
    assert components_for_variance(x, threshold) == brute_force_components(x, threshold)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shift=st.floats(-1e3, 1e3), scale=st.floats(0.01, 100))
def test_invariant_to_translation_rotation_and_scale(seed, shift, scale):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(60, 8)) * np.linspace(5, 0.1, 8)
    q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    k = components_for_variance(x, 0.9)
    assert components_for_variance(x @ q * scale + shift, 0.9) == k


def test_rank_k_data_needs_at_most_k_components():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3)) @ rng.normal(size=(3, 50))
    assert components_for_variance(x, 0.999) <= 3
    assert explained_variance_ratio(x)[:3].sum() == pytest.approx(1.0)
    one_direction = np.outer(rng.normal(size=100), rng.normal(size=20))
    assert components_for_variance(one_direction, 0.95) == 1


def test_bad_input():
    with pytest.raises(ConfigError, match="at least 2 rows"):
        components_for_variance(np.ones((1, 4)))
    with pytest.raises(ConfigError, match="NaN"):
        components_for_variance(np.array([[1.0, np.nan], [2.0, 3.0]]))
    with pytest.raises(ConfigError, match=r"threshold must be in \(0, 1\]"):
        components_for_variance(np.eye(3), 95)


@settings(max_examples=100, deadline=None)
@given(x=matrices)
def test_variance_ratios_equal_the_singular_values_of_the_centred_data(x):
    """The solver (covariance eigenvalues for tall data) against an SVD of the centred data,
    including nearly rank-deficient inputs, where squaring the condition number costs only an
    absolute error of order eps in the ratios."""
    if np.allclose(x, x[0]):
        return
    s = np.linalg.svd(x - x.mean(0), compute_uv=False)
    want = s**2 / np.sum(s**2)
    got = explained_variance_ratio(x)
    assert got.shape == (min(x.shape),)
    np.testing.assert_allclose(got, want[: len(got)], rtol=0, atol=1e-9)


# ---- the spread and the centroid gaps (label_distances, cross_task_distances, centroid_directions) ----


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 60), d=st.integers(1, 12),
       shift=st.floats(-100, 100), scale=st.floats(0.1, 10))
def test_spread_is_the_root_of_the_total_variance_and_free_of_translation(seed, n, d, shift, scale):
    x = np.random.default_rng(seed).normal(size=(n, d))
    assert geometry.spread(x) == pytest.approx(np.sqrt(np.trace(np.atleast_2d(np.cov(x.T, ddof=0)))), rel=1e-9)
    assert geometry.spread(x + shift) == pytest.approx(geometry.spread(x), rel=1e-6, abs=1e-9)
    assert geometry.spread(scale * x) == pytest.approx(scale * geometry.spread(x), rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), labels=st.integers(2, 6), d=st.integers(1, 8))
def test_nearest_centroid_gap_against_scipys_pairwise_distances(seed, labels, d):
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(seed)
    y = np.r_[np.arange(labels), rng.integers(0, labels, 40)]
    x = rng.normal(size=(y.size, d)) + 3 * rng.normal(size=(labels, d))[y]
    c = np.stack([x[y == k].mean(axis=0) for k in range(labels)])
    brute = cdist(c, c)
    np.fill_diagonal(brute, np.inf)
    assert geometry.nearest_centroid_gap(x, y) == pytest.approx(brute.min(axis=1), rel=1e-7, abs=1e-9)
    assert geometry.centroids(x, y) == pytest.approx(c)
    assert geometry.nearest_centroid_gap(x + 50.0, y) == pytest.approx(brute.min(axis=1), rel=1e-5)


def test_spread_and_gaps_refuse_what_they_cannot_measure():
    with pytest.raises(ConfigError, match="at least 2 rows"):
        geometry.spread(np.zeros((1, 3)))
    with pytest.raises(ConfigError, match="two labels"):
        geometry.nearest_centroid_gap(np.zeros((4, 2)), np.zeros(4, int))
    with pytest.raises(ConfigError, match="one label per row"):
        geometry.centroids(np.zeros((4, 2)), np.zeros(3, int))


# ---- component counts with the jackknife's replicates ------------------------------------------


def test_component_count_against_scikit_learn_and_a_brute_force_held_out_share():
    """In-sample shares: scikit-learn's PCA on the whole sample and on each replicate's rows.
    Held-out shares: each half's principal directions (numpy's SVD of the centred half) applied to
    the other half's centred covariance, averaged; recomputed from scratch per replicate."""
    from sklearn.decomposition import PCA

    from harness.analysis import geometry, stats

    rng = np.random.default_rng(2)
    x = rng.standard_normal((120, 10)) * np.linspace(3, 0.3, 10) + 7.0
    keep = stats.jackknife_keep(120)
    c = geometry.component_count(x, 0.9, keep, seed=5)
    assert c.count == geometry.components_for_variance(x, 0.9)
    np.testing.assert_allclose(c.in_sample, PCA().fit(x).explained_variance_ratio_, atol=1e-12)
    np.testing.assert_allclose(c.in_sample_replicates[3], PCA().fit(x[keep[3]]).explained_variance_ratio_, atol=1e-12)

    half = np.random.default_rng(5).permutation(120) % 2

    def held(rows):
        parts = [rows[half[rows] == h] for h in (0, 1)]
        out = []
        for fit, other in (parts, parts[::-1]):
            v = np.linalg.svd(x[fit] - x[fit].mean(0), full_matrices=False)[2]
            y = x[other] - x[other].mean(0)
            out.append(np.sum((y @ v.T) ** 2, axis=0) / np.sum(y ** 2))
        return (out[0] + out[1]) / 2

    np.testing.assert_allclose(c.held_out, held(np.arange(120)), atol=1e-10)
    np.testing.assert_allclose(c.held_out_replicates[7], held(keep[7]), atol=1e-10)


def test_held_out_share_falls_below_and_in_sample_share_above_the_population():
    """The two biases the tests lean on, on a known spectrum (a power law over 40 dimensions,
    80 texts): averaged over draws, the in-sample top-k share exceeds the population's and the
    held-out share falls short of it."""
    from harness.analysis import geometry, stats

    shares = np.arange(1, 41) ** -1.0
    shares /= shares.sum()
    rng = np.random.default_rng(0)
    keep = stats.jackknife_keep(80)
    counts = [geometry.component_count(rng.standard_normal((80, 40)) * np.sqrt(shares), 0.95, keep) for _ in range(30)]
    k = 10
    population = shares[:k].sum()
    assert np.mean([c.in_sample[:k].sum() for c in counts]) > population
    assert np.mean([c.held_out[:k].sum() for c in counts]) < population


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 1000), alpha=st.sampled_from([0.01, 0.05, 0.2]))
def test_component_count_bounds_bracket_nested_tests(seed, alpha):
    """Each bound is the edge of its nested tests: more_than is shown short and the next is not;
    at_most is the first k shown to hold."""
    from harness.analysis import geometry, stats

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((150, 12)) * np.linspace(2, 0.1, 12)
    c = geometry.component_count(x, 0.9, stats.jackknife_keep(150))
    low, high = c.more_than(alpha), c.at_most(alpha)
    assert c.p_short(low + 1) >= alpha or low == c.components
    assert low == 0 or c.p_short(low) < alpha
    assert c.p_holds(high) < alpha or high == c.components
    assert all(c.p_holds(k) >= alpha for k in range(1, high))
    assert c.p_short(0) == 0.0 and c.p_holds(0) == 1.0
