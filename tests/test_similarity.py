"""Representational similarity against independent references and its invariances."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from harness.analysis.similarity import linear_cka, rsa
from harness.errors import ConfigError


def cka_by_hsic(x, y):
    """Kornblith et al.'s definition through Gram matrices: HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))
    with K = X X^T, L = Y Y^T and HSIC(K, L) = tr(K H L H) (the constant 1/(n-1)^2 cancels)."""
    n = len(x)
    h = np.eye(n) - np.ones((n, n)) / n
    k, l_ = x @ x.T, y @ y.T

    def hsic(a, b):
        return np.trace(a @ h @ b @ h)

    return hsic(k, l_) / np.sqrt(hsic(k, k) * hsic(l_, l_))


def rsa_brute(x, y):
    n = len(x)
    dx, dy = [], []
    for i in range(n):
        for j in range(i + 1, n):
            dx.append(1 - x[i] @ x[j] / (np.linalg.norm(x[i]) * np.linalg.norm(x[j])))
            dy.append(1 - y[i] @ y[j] / (np.linalg.norm(y[i]) * np.linalg.norm(y[j])))
    return np.corrcoef(dx, dy)[0, 1]


matrices = st.integers(6, 30).flatmap(lambda n: st.tuples(
    arrays(np.float64, (n, 5), elements=st.floats(-10, 10, allow_nan=False, width=32)),
    arrays(np.float64, (n, 3), elements=st.floats(-10, 10, allow_nan=False, width=32)),
))


def _usable(x, y):
    return np.linalg.matrix_rank(x - x.mean(0)) >= 2 and np.linalg.matrix_rank(y - y.mean(0)) >= 2


@settings(max_examples=60, deadline=None)
@given(matrices)
def test_cka_matches_the_gram_matrix_definition(pair):
    x, y = pair
    if not _usable(x, y):
        return
    assert linear_cka(x, y) == pytest.approx(cka_by_hsic(x, y), rel=1e-6, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(matrices, st.floats(0.1, 100), st.integers(0, 2**32 - 1))
def test_cka_properties(pair, scale, seed):
    x, y = pair
    if not _usable(x, y):
        return
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(5, 5)))
    assert linear_cka(x, x) == pytest.approx(1.0)
    assert linear_cka(x, y) == pytest.approx(linear_cka(y, x))
    assert linear_cka(x @ q * scale + 3.0, y) == pytest.approx(linear_cka(x, y), rel=1e-6, abs=1e-9)
    assert -1e-12 <= linear_cka(x, y) <= 1 + 1e-12


def test_rsa_matches_a_brute_force_loop():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(25, 8))
    y = x @ rng.normal(size=(8, 4)) + rng.normal(size=(25, 4))
    assert rsa(x, y) == pytest.approx(rsa_brute(x, y), rel=1e-9)
    assert rsa(x, x) == pytest.approx(1.0)
    assert rsa(x * 7.0, y) == pytest.approx(rsa(x, y))  # cosine distance ignores scale


def test_unrelated_representations_are_dissimilar_and_bad_input_is_named():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(400, 20)), rng.normal(size=(400, 20))
    assert linear_cka(x, y) < 0.1 and abs(rsa(x, y)) < 0.1
    with pytest.raises(ConfigError, match="same n texts"):
        linear_cka(x, y[:10])
    with pytest.raises(ConfigError, match="zero variance"):
        linear_cka(np.ones((5, 3)), y[:5])
    with pytest.raises(ConfigError, match="'pearson' or 'spearman'"):
        rsa(x, y, method="kendall")


def test_replicates_are_the_measures_on_the_kept_rows():
    """The jackknife's replicates, computed from the whole sample's products and distances, equal
    the measures recomputed on each replicate's rows (with a large common offset: precision)."""
    from harness.analysis import stats
    from harness.analysis.similarity import linear_cka_replicates, rsa_replicates

    rng = np.random.default_rng(3)
    x = rng.standard_normal((90, 12)) + 40.0
    y = x @ rng.standard_normal((12, 7)) + rng.standard_normal((90, 7))
    keep = stats.jackknife_keep(90, clusters=np.repeat(np.arange(30), 3))
    np.testing.assert_allclose(linear_cka_replicates(x, y, keep), [linear_cka(x[k], y[k]) for k in keep], atol=1e-12)
    np.testing.assert_allclose(rsa_replicates(x, y, keep), [rsa(x[k], y[k]) for k in keep], atol=1e-12)
