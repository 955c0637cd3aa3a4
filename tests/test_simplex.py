"""The compiled simplex walk (harness/directprobe/simplex.py) against the NumPy walk it replaced.

``reference_walk`` is ``_WarmLP._iterate`` as it was in NumPy before the walk was compiled (commit
632a426), with NumPy's outer product for BLAS's rank-one update and SciPy's inverse: the same
pivots, on the same LP states, must come out of both, and so must the basis, its inverse and the
basic values (to rounding: the two use different BLAS kernels).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import inv

from harness.directprobe import engine as dp
from harness.directprobe import simplex


def reference_factor(lp) -> None:
    d, basic = lp.d, lp.basic
    basis = np.zeros((lp.m, lp.m))
    slack = np.flatnonzero(basic < 2 * d)
    basis[basic[slack] % d, slack] = np.where(basic[slack] < d, 1.0, -1.0)
    point = np.flatnonzero(basic >= 2 * d)
    basis[:, point] = lp._cols[basic[point] - 2 * d].T
    lp.binv = np.asfortranarray(inv(basis, check_finite=False))
    lp.x = lp.binv @ np.r_[np.zeros(d), 1.0, 1.0]
    lp.pivots = 0


def reference_walk(lp, max_pivots: int, sift: bool = False, refactor_every: int = dp._WarmLP.REFACTOR,
                   bland_after: int = dp._WarmLP.BLAND_AFTER) -> bool:
    d, tol = lp.d, lp.TOL
    cost_b = (lp.basic < 2 * d).astype(float)
    degenerate = 0
    priced = where = None  # the points priced (indices), None for all
    cols, cols32 = lp._cols[:lp.rows], lp._cols32[:lp.rows]
    shortlisted = int(lp.SIFT * lp.m)  # the points a sifted re-solve prices first, besides the basic ones
    sift = sift and lp.rows > shortlisted
    pi, fresh = cost_b @ lp.binv, True
    for _ in range(max_pivots):
        rc = np.empty(2 * d + len(cols))  # reduced costs: 1 -+ pi_k for the slacks, -pi.A_j for points
        np.subtract(1.0, pi[:d], out=rc[:d])
        np.add(1.0, pi[:d], out=rc[d:2 * d])
        at = lp.basic >= 2 * d  # rc's positions of the basic columns
        points = lp.basic[at] - 2 * d
        basic = np.concatenate([lp.basic[~at], 2 * d + (points if priced is None else where[points])])
        exact = degenerate > bland_after
        if not exact:
            rc[2 * d:] = cols32 @ -pi.astype(np.float32)
            rc[basic] = 0.0
            if sift:
                sift = False
                shortlist = np.argpartition(rc[2 * d:], shortlisted)[:shortlisted]
                priced = np.union1d(shortlist, points)  # the basic points stay priced (rc 0)
                where = np.full(lp.rows, -1)  # a point's position among the priced
                where[priced] = np.arange(len(priced))
                rc = np.concatenate([rc[:2 * d], rc[2 * d:][priced]])
                cols, cols32 = lp._cols[priced], lp._cols32[priced]
                basic = np.concatenate([lp.basic[~at], 2 * d + where[points]])
            enter = int(np.argmin(rc))
            d_q = float(cols[enter - 2 * d] @ -pi) if enter >= 2 * d else float(rc[enter])
            exact = d_q >= -tol
        if exact:
            if not fresh:
                pi, fresh = cost_b @ lp.binv, True
                np.subtract(1.0, pi[:d], out=rc[:d])
                np.add(1.0, pi[:d], out=rc[d:2 * d])
            np.matmul(cols, -pi, out=rc[2 * d:])
            rc[basic] = 0.0
            if degenerate > bland_after:  # Bland's rule while the pivots make no progress: no cycling
                candidates = np.flatnonzero(rc < -tol)
                enter = int(candidates[0]) if len(candidates) else -1
            else:
                enter = int(np.argmin(rc))
                enter = enter if rc[enter] < -tol else -1
            d_q = float(rc[enter])
            if enter < 0:  # optimal on the points priced
                if priced is None:
                    return True
                if float(cost_b @ lp.x) <= 1e-9:
                    lp.counters.sifted += 1
                    return True
                every = lp._cols[:lp.rows] @ -pi
                every[points] = 0.0
                wanted = np.flatnonzero(every < -tol)
                if len(wanted) == 0:
                    return True
                if len(wanted) > shortlisted:
                    wanted = wanted[np.argpartition(every[wanted], shortlisted)[:shortlisted]]
                priced = np.union1d(priced, wanted)
                where = np.full(lp.rows, -1)
                where[priced] = np.arange(len(priced))
                cols, cols32 = lp._cols[priced], lp._cols32[priced]
                continue
        if enter >= 2 * d and priced is not None:
            enter = 2 * d + int(priced[enter - 2 * d])
        u = lp.binv @ lp._cols[enter - 2 * d] if enter >= 2 * d else (
            lp.binv[:, enter].copy() if enter < d else -lp.binv[:, enter - d])
        rows = np.flatnonzero(u > 1e-9)
        if len(rows) == 0:  # pragma: no cover - the objective is bounded below by 0
            return False
        xr, ur = np.maximum(lp.x[rows], 0.0), u[rows]
        ratios = xr / ur
        if degenerate > bland_after:
            best = ratios.min()
            ties = rows[ratios <= best + 1e-12]
            r = int(ties[np.argmin(lp.basic[ties])])
        else:
            near = np.flatnonzero(ratios <= ((xr + lp.HARRIS) / ur).min())
            k = near[np.argmax(ur[near])]
            r, best = int(rows[k]), float(ratios[k])
        degenerate = degenerate + 1 if best <= 1e-12 else 0
        lp.counters.degenerate_pivots += best <= 1e-12
        pivot_row = lp.binv[r] / u[r]
        pi += d_q * pivot_row
        fresh = False
        lp.binv = lp.binv - np.outer(u, pivot_row)
        lp.binv[r] = pivot_row
        lp.x -= best * u
        lp.x[r] = best
        lp.basic[r] = enter
        cost_b[r] = 1.0 if enter < 2 * d else 0.0
        lp.pivots += 1
        lp.counters.pivots += 1
        if lp.pivots >= refactor_every:
            reference_factor(lp)
            cost_b = (lp.basic < 2 * d).astype(float)
            pi, fresh = cost_b @ lp.binv, True
    return False



def make_lp(seed: int, kind: str, d: int = 12, n: int = 60) -> dp._WarmLP:
    """A kept LP on two point sets: ``apart`` (shifted clouds), ``overlap`` (the same cloud) or
    ``lattice`` (small integers with repeats: ties and degenerate pivots)."""
    rng = np.random.default_rng(seed)
    if kind == "lattice":
        pos, neg = rng.integers(-2, 3, size=(n, d)).astype(float), rng.integers(-2, 3, size=(n, d)).astype(float)
        pos[n // 2:] = pos[:n - n // 2]  # repeated points
    else:
        pos, neg = rng.normal(size=(n, d)), rng.normal(size=(n, d))
        if kind == "apart":
            neg[:, 0] += 6.0
    return dp._WarmLP(pos, neg, dp.Counters())


def both(lp: dp._WarmLP) -> tuple[dp._WarmLP, dp._WarmLP]:
    ref = copy.deepcopy(lp)
    ref.counters = dp.Counters()
    lp.counters = dp.Counters()
    return lp, ref


def assert_same_state(lp: dp._WarmLP, ref: dp._WarmLP) -> None:
    np.testing.assert_array_equal(lp.basic, ref.basic)
    np.testing.assert_allclose(lp.x, ref.x, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(lp.binv, ref.binv, rtol=1e-7, atol=1e-7 * np.abs(ref.binv).max())
    assert lp.binv.flags.f_contiguous
    assert lp.pivots == ref.pivots
    for name in ("pivots", "degenerate_pivots", "sifted"):
        assert getattr(lp.counters, name) == getattr(ref.counters, name), name


@pytest.mark.parametrize("refactor_every", [dp._WarmLP.REFACTOR, 5])
@pytest.mark.parametrize("max_pivots", [7, 10_000])
@pytest.mark.parametrize("kind", ["apart", "overlap"])
@pytest.mark.parametrize("seed", range(3))
def test_a_cold_walk_takes_the_numpy_walks_pivots(seed, kind, max_pivots, refactor_every):
    """From the slack basis, every point priced: the same pivots, stopped early or run to the end,
    with the inverse refactorised in the walk (every 5 pivots) or not."""
    lp, ref = both(make_lp(seed, kind))
    lp.REFACTOR = refactor_every
    finished = lp._iterate(max_pivots)
    assert finished == reference_walk(ref, max_pivots, refactor_every=refactor_every)
    assert lp.counters.pivots > 0
    assert finished == (max_pivots > 7)
    assert_same_state(lp, ref)


@pytest.mark.parametrize("kind", ["apart", "overlap"])
@pytest.mark.parametrize("seed", range(3))
def test_a_sifted_re_solve_takes_the_numpy_walks_pivots(seed, kind):
    """After new points (a merge), from the last optimal basis, the best-priced points first: the
    same pivots, and the same answer (an overlap among the priced points is counted as sifted)."""
    lp = make_lp(seed, kind, n=150)
    assert lp._iterate(10_000)
    rng = np.random.default_rng(100 + seed)
    lp.add(rng.normal(size=(40, lp.d)) + (3.0 if kind == "apart" else 0.0), -1)
    lp, ref = both(lp)
    assert lp._iterate(10_000, sift=True) == reference_walk(ref, 10_000, sift=True)
    assert_same_state(lp, ref)
    if kind == "overlap":
        assert lp.counters.sifted == 1


@pytest.mark.parametrize("seed", range(4))
def test_a_degenerate_walk_reaches_the_numpy_walks_answer(seed):
    """Repeated lattice points: ties in the ratio test and runs of degenerate pivots (Bland's rule
    after 50). Rounding may break an exact tie the other way, so the walks need not be the same;
    both must finish, at the same optimum."""
    lp, ref = both(make_lp(seed, "lattice", d=6, n=40))
    assert lp._iterate(10_000) and reference_walk(ref, 10_000)
    objective = lambda s: float((s.basic < 2 * s.d) @ s.x)  # noqa: E731
    assert objective(lp) == pytest.approx(objective(ref), abs=1e-9)
    assert (lp._certified() is None) == (ref._certified() is None)


@pytest.mark.parametrize("kind", ["apart", "overlap", "lattice"])
@pytest.mark.parametrize("seed", range(3))
def test_blands_rule_takes_the_numpy_walks_pivots(seed, kind):
    """Bland's rules from the first pivot (``BLAND_AFTER = -1``; runs of 50 degenerate pivots are
    rare on small sets): the first improving column enters, ratio ties go to the first basic
    column."""
    lp, ref = both(make_lp(seed, kind, d=6, n=40))
    lp.BLAND_AFTER = -1
    assert lp._iterate(10_000) == reference_walk(ref, 10_000, bland_after=-1)
    assert_same_state(lp, ref)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 8), st.integers(2, 25), st.integers(2, 25), st.floats(0.0, 4.0))
def test_any_small_lp_walks_like_the_numpy_walk(seed, d, n_pos, n_neg, shift):
    rng = np.random.default_rng(seed)
    pos, neg = rng.normal(size=(n_pos, d)), rng.normal(size=(n_neg, d))
    neg[:, 0] += shift
    lp, ref = both(dp._WarmLP(pos, neg, dp.Counters()))
    assert lp._iterate(10_000) == reference_walk(ref, 10_000)
    assert_same_state(lp, ref)


def test_factor_inverts_the_basis_like_scipy():
    lp = make_lp(0, "overlap")
    lp._iterate(10_000)
    binv, x = np.empty((lp.m, lp.m), order="F"), np.empty(lp.m)
    simplex.factor(lp.basic, lp._cols, lp.d, binv, x)
    ref = copy.deepcopy(lp)
    reference_factor(ref)
    np.testing.assert_allclose(binv, ref.binv, rtol=1e-9, atol=1e-9 * np.abs(ref.binv).max())
    np.testing.assert_allclose(x, ref.x, rtol=1e-9, atol=1e-12)
    assert (lp.basic >= 2 * lp.d).any()  # points in the basis, not only slacks


def test_factor_refuses_a_singular_basis():
    lp = make_lp(0, "overlap")
    basic = lp.basic.copy()
    basic[:2] = basic[0]  # one column twice
    with pytest.raises(np.linalg.LinAlgError):
        simplex.factor(basic, lp._cols, lp.d, np.empty((lp.m, lp.m), order="F"), np.empty(lp.m))
