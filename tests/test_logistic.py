"""DirectProbe's compiled logistic search (harness/directprobe/logistic.py) against SciPy.

The loss and its gradient against SciPy's ``log_expit``/``expit`` and finite differences; the
L-BFGS minimiser against SciPy's L-BFGS-B on sets that overlap (where the search finds no plane
and converges); every plane it returns separates the sets (checked on the points), and on sets
that overlap (SciPy's LP says so) it returns none.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize
from scipy.special import expit, log_expit
from test_directprobe import brute_force_separable as separable_by_lp
from test_directprobe import make_pair

from harness.directprobe import engine as dp
from harness.directprobe import logistic

LAM = 1e-6


def reference_loss(z: np.ndarray, w: np.ndarray, lam: float = LAM) -> tuple[float, np.ndarray]:
    """The same loss in double precision with SciPy's special functions."""
    m = z.astype(np.float64) @ w
    grad = -(z.astype(np.float64).T @ expit(-m))
    grad[:-1] += lam * w[:-1]
    return float(-log_expit(m).sum() + lam / 2 * w[:-1] @ w[:-1]), grad


def test_the_rows_are_the_centred_scaled_signed_points():
    a, b = make_pair(5, 5, 3, 0, 1.0)
    centre, scale = dp._frame(a, b)
    z = logistic.frame_rows(a, b, centre, scale)
    expected = np.vstack([np.c_[(a - centre) / scale, np.ones(5)], -np.c_[(b - centre) / scale, np.ones(5)]])
    assert z.dtype == np.float32
    np.testing.assert_allclose(z, expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("lam", [LAM, 0.5])
@pytest.mark.parametrize("seed", range(3))
def test_the_loss_and_gradient_equal_scipys_special_functions(seed, lam):
    a, b = make_pair(40, 40, 6, seed, 0.5)
    centre, scale = dp._frame(a, b)
    z = logistic.frame_rows(a, b, centre, scale)
    rng = np.random.default_rng(seed)
    for w in (np.zeros(7), rng.normal(size=7), 30 * rng.normal(size=7)):  # large margins: the stable branches
        value, grad, margins = logistic.loss_and_grad(z, w, lam)
        ref_value, ref_grad = reference_loss(z, w, lam)
        assert value == pytest.approx(ref_value, rel=1e-5, abs=1e-5)
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-4, atol=1e-4 * (1 + np.abs(ref_grad).max()))
        np.testing.assert_allclose(margins, z.astype(np.float64) @ w, rtol=1e-5, atol=1e-4 * (1 + np.abs(w).sum()))
    # and the gradient is the loss's: central differences
    w, h = rng.normal(size=7) * 0.3, 1e-3
    numeric = [(logistic.loss_and_grad(z, w + h * e, lam)[0] - logistic.loss_and_grad(z, w - h * e, lam)[0]) / (2 * h)
               for e in np.eye(7)]
    np.testing.assert_allclose(logistic.loss_and_grad(z, w, lam)[1], numeric, rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("seed", range(4))
def test_on_overlapping_sets_it_finds_no_plane_and_converges_as_fast_as_scipys_l_bfgs_b(seed):
    """Features scaled over a factor of 20 (an ill-conditioned loss): within 3 steps more than
    SciPy's L-BFGS-B takes, the search is at SciPy's minimiser (steepest descent, or a two-loop
    recursion with a sign wrong, is still far from it then)."""
    a, b = make_pair(80, 80, 12, seed, 0.3)
    factors = np.geomspace(1, 20, 12)
    a, b = a * factors, b * factors
    assert not separable_by_lp(a, b)
    centre, scale = dp._frame(a, b)
    z = logistic.frame_rows(a, b, centre, scale)
    ref = minimize(lambda v: reference_loss(z, v), np.zeros(13), jac=True, method="L-BFGS-B",
                   options={"maxiter": 2000, "gtol": 1e-10, "ftol": 1e-14})
    found, _, _, w = logistic.search(a, b, centre, scale, 10.0, dp.SEPARATION_RTOL, np.zeros(13), LAM, ref.nit + 3)
    assert not found
    assert np.abs(w - ref.x).max() <= 5e-3 * (1 + np.abs(ref.x).max())
    assert reference_loss(z, w)[0] == pytest.approx(ref.fun, rel=1e-5)


def test_a_plane_whose_gap_is_within_rounding_is_not_taken():
    """The sets are apart along the first axis by 2e-11 only: the single-precision margins are all
    positive, but the gap in double is below SEPARATION_RTOL |w| max |x|, so it is no certificate."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(30, 4)), rng.normal(size=(30, 4))
    a[:, 0], b[:, 0] = 1e-11, -1e-11
    centre, scale = dp._frame(a, b)
    z = logistic.frame_rows(a, b, centre, scale)
    w0 = np.r_[1e14, 0.0, 0.0, 0.0, 0.0]
    reach = float(np.sqrt(max((a * a).sum(1).max(), (b * b).sum(1).max())))
    found, _, _, w = logistic.search(a, b, centre, scale, reach, dp.SEPARATION_RTOL, w0, LAM, 1)
    assert (logistic.loss_and_grad(z, w, LAM)[2] > 0).all()  # the iterate the check saw
    assert not found


def test_on_separable_sets_it_returns_a_plane_that_separates_them():
    a, b = make_pair(200, 200, 20, 0, 6.0)
    plane = dp._logistic_candidate(a, b, float(np.sqrt(max((a * a).sum(1).max(), (b * b).sum(1).max()))))
    assert plane is not None
    w, c = plane
    assert (a @ w).min() > c > (b @ w).max()


def test_a_start_that_separates_is_returned_at_the_first_step():
    """From a plane that parts the sets, the first iterate parts them too (the loss only grows the
    margins), so the search ends at once."""
    a, b = make_pair(100, 100, 8, 1, 8.0)
    centre, scale = dp._frame(a, b)
    direction = a.mean(0) - b.mean(0)
    start = direction, float((a @ direction).min() + (b @ direction).max()) / 2
    w0 = np.r_[start[0] * scale, start[0] @ centre - start[1]]
    reach = float(np.sqrt(max((a * a).sum(1).max(), (b * b).sum(1).max())))
    found, normal, offset, w = logistic.search(a, b, centre, scale, reach, dp.SEPARATION_RTOL, w0, LAM, 1)
    assert found and (a @ normal).min() > offset > (b @ normal).max()


@settings(max_examples=120, deadline=None)
@given(st.integers(1, 30), st.integers(1, 30), st.integers(1, 6), st.integers(0, 2**32 - 1), st.floats(0.0, 6.0),
       st.booleans())
def test_a_plane_it_returns_separates_and_it_returns_none_where_the_hulls_meet(na, nb, d, seed, shift, repeat):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(na, d)), rng.normal(size=(nb, d))
    a[:, 0] += shift
    if repeat:  # a point of b also in a: the hulls meet
        a[0] = b[0]
    reach = float(np.sqrt(max((a * a).sum(1).max(), (b * b).sum(1).max())))
    plane = dp._logistic_candidate(a, b, reach, steps=dp.LABEL_LOGISTIC_STEPS)
    if plane is not None:
        w, c = plane
        assert (a @ w).min() > c > (b @ w).max()
    if not separable_by_lp(a, b):
        assert plane is None
