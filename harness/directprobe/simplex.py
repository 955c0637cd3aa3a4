"""The kept LPs' simplex walk (``directprobe._WarmLP``), compiled with Numba.

The walk is the revised primal simplex of ``_WarmLP``'s overlap LP: a dense basis inverse
(``d + 2`` square, Fortran order) updated in place at each pivot, pricing in single precision,
sifted re-solves, Harris's ratio test, Bland's rule after ``bland_after`` degenerate pivots in a
row, a fresh inverse every ``refactor_every`` pivots. ``_WarmLP._iterate`` documents the choices
and what they were measured against; this module only runs them. In NumPy the walk was mostly
the interpreter's dispatch of some 40 small operations a pivot; compiled, a cold walk over 1,400
SST-2 sentences (the offline MiniLM's 384 dimensions, every point priced) takes 230 us a pivot
against 365 us, most of it now in the two matrix-vector products (pricing, and the entering
column), and all 6,920 SST-2 sentences cluster in 60.4 and 61.5 s against 70.3 and 71.6 s (the
same pivots, the same clusters; interleaved runs in one slow hour). Nothing here decides an
answer: ``_WarmLP`` checks every one on the points, in double, as before.

``nogil``: the walk releases the GIL, so the label level's LPs (``directprobe._LabelLPs``) run
beside it. ``cache``: the compiled code is kept beside this file (or in Numba's user-wide cache
where this folder is read-only), so only the first process compiles (a few seconds).
"""

from __future__ import annotations

import numpy as np
from numba import njit

# What a walk ended with (the first value ``walk`` returns).
RAN_OUT = 0  # max_pivots iterations without reaching an optimum
OPTIMAL = 1  # optimal on every point (or a sifted re-solve's overlap: see ``walk``)
UNBOUNDED = 2  # no row limits the entering column (the objective is bounded below: not expected)


@njit(cache=True, nogil=True)
def factor(basic, cols, d, binv, x):
    """The basis of columns ``basic`` (slack ``k < d``: e_k, ``d <= k < 2d``: -e_(k-d), else point
    ``k - 2d``'s column of ``cols``), inverted into ``binv`` (Fortran order, written in place),
    and the basic values ``x = binv @ (0, ..., 0, 1, 1)``. Raises numpy.linalg.LinAlgError where
    the basis is singular."""
    m = d + 2
    basis = np.zeros((m, m))
    for j in range(m):
        k = basic[j]
        if k < d:
            basis[k, j] = 1.0
        elif k < 2 * d:
            basis[k - d, j] = -1.0
        else:
            basis[:, j] = cols[k - 2 * d]
    binv[:, :] = np.linalg.inv(basis)
    for i in range(m):
        x[i] = binv[i, d] + binv[i, d + 1]


@njit(cache=True, nogil=True)
def _duals(cost_b, binv):
    """``cost_b @ binv`` (BLAS: a loop here is a chain of dependent additions, 8 times slower)."""
    return np.dot(cost_b, binv)


@njit(cache=True, nogil=True)
def _smallest(values, k):
    """The positions of the ``k`` smallest of ``values`` (``np.argpartition(values, k)[:k]``'s
    set; ties at the boundary by position), sorted."""
    return np.sort(np.argsort(values, kind="mergesort")[:k])


@njit(cache=True, nogil=True)
def _union(first, second, n):
    """The sorted union of two index arrays into ``range(n)``, and each index's position in it
    (-1 for those not in it)."""
    mark = np.zeros(n, np.bool_)
    mark[first] = True
    mark[second] = True
    union = np.flatnonzero(mark)
    where = np.full(n, -1, np.int64)
    where[union] = np.arange(len(union))
    return union, where


@njit(cache=True, nogil=True)
def walk(binv, x, basic, cols_all, cols32_all, rows, d, max_pivots, sift, shortlisted, tol, harris,
         bland_after, refactor_every, pivots):
    """``_WarmLP._iterate``'s walk on its state (``binv``, ``x``, ``basic`` updated in place; the
    first ``rows`` rows of ``cols_all`` and of its single-precision copy ``cols32_all`` are the
    points' columns). ``pivots``: the pivots since the last factorisation. Returns (how it ended:
    RAN_OUT, OPTIMAL or UNBOUNDED; the pivots since the last factorisation; the pivots taken; the
    degenerate ones among them; 1 where a sifted re-solve ended on an overlap among its priced
    points, else 0)."""
    m = d + 2
    cost_b = np.zeros(m)
    for i in range(m):
        cost_b[i] = 1.0 if basic[i] < 2 * d else 0.0
    degenerate = 0  # degenerate pivots in a row
    taken = 0
    degenerate_pivots = 0
    all_priced = True  # else only the points ``priced`` (sorted), at positions ``where``
    priced = np.empty(0, np.int64)
    where = np.empty(0, np.int64)
    cols = cols_all[:rows]
    cols32 = cols32_all[:rows]
    sift = sift and rows > shortlisted
    # The duals are updated with each pivot (pi += d_q * the pivot row, O(m) where recomputing
    # them is a product with the m-square inverse), and computed afresh after a refactorisation
    # and before the answer "optimal".
    pi = _duals(cost_b, binv)
    fresh = True
    for _ in range(max_pivots):
        n_cols = len(cols)
        rc = np.empty(2 * d + n_cols)  # reduced costs: 1 -+ pi_k for the slacks, -pi.A_j for points
        for k in range(d):
            rc[k] = 1.0 - pi[k]
            rc[d + k] = 1.0 + pi[k]
        # The positions in rc of the basic columns, and the basic points.
        n_points = 0
        for i in range(m):
            if basic[i] >= 2 * d:
                n_points += 1
        points = np.empty(n_points, np.int64)
        basic_at = np.empty(m, np.int64)
        j = 0
        for i in range(m):
            if basic[i] >= 2 * d:
                points[j] = basic[i] - 2 * d
                j += 1
        exact = degenerate > bland_after
        enter = -1
        d_q = 0.0
        # (Partial pricing, a shortlist of the best-priced points between full pricings, was tried:
        # on 3,000 SST-2 sentences it took more pivots, more of them degenerate, and more restarts
        # from HiGHS: 99.7 to 104 s against 92.0 s. So did pricing by the reduced cost over the
        # column's norm: 14% fewer pivots at 1,500, but at 3,000 more degenerate ones and
        # restarts: 102.9 s against 91.1 s. Devex pricing took as many pivots as Dantzig's: a walk
        # to an overlap must bring about as many points into the basis as it has basic slacks.)
        # The points' reduced costs in single precision (half the memory traffic: twice as fast
        # at thousands of points) only choose the entering column: its own reduced cost, and
        # every one before the answer "optimal", are computed again in double.
        if not exact:
            rc[2 * d:] = np.dot(cols32, (-pi).astype(np.float32))
            _basic_positions(basic, d, all_priced, where, basic_at)
            for i in range(m):
                rc[basic_at[i]] = 0.0
            if sift:
                sift = False
                shortlist = _smallest(rc[2 * d:], shortlisted)
                priced, where = _union(shortlist, points, rows)
                all_priced = False
                trimmed = np.empty(2 * d + len(priced))
                trimmed[:2 * d] = rc[:2 * d]
                for i in range(len(priced)):
                    trimmed[2 * d + i] = rc[2 * d + priced[i]]
                rc = trimmed
                cols = cols_all[priced]
                cols32 = cols32_all[priced]
                _basic_positions(basic, d, all_priced, where, basic_at)
            enter = int(np.argmin(rc))
            d_q = -np.dot(cols[enter - 2 * d], pi) if enter >= 2 * d else rc[enter]
            exact = d_q >= -tol
        if exact:
            if not fresh:
                pi = _duals(cost_b, binv)
                fresh = True
                for k in range(d):
                    rc[k] = 1.0 - pi[k]
                    rc[d + k] = 1.0 + pi[k]
            rc[2 * d:] = -np.dot(cols, pi)
            _basic_positions(basic, d, all_priced, where, basic_at)
            for i in range(m):
                rc[basic_at[i]] = 0.0
            enter = -1
            if degenerate > bland_after:  # Bland's rule while the pivots make no progress: no cycling
                for k in range(len(rc)):
                    if rc[k] < -tol:
                        enter = k
                        break
            else:
                k = int(np.argmin(rc))
                if rc[k] < -tol:
                    enter = k
            if enter < 0:  # optimal on the points priced
                if all_priced:
                    return OPTIMAL, pivots, taken, degenerate_pivots, 0
                objective = 0.0
                for i in range(m):
                    objective += cost_b[i] * x[i]
                if objective <= 1e-9:
                    return OPTIMAL, pivots, taken, degenerate_pivots, 1
                # Optimal on the priced points but not an overlap: price every point (in double,
                # the duals fresh); none negative is optimal on all of them, else the best priced
                # join the priced ones, and the walk goes on among those.
                every = -np.dot(cols_all[:rows], pi)
                every[points] = 0.0
                wanted = np.flatnonzero(every < -tol)
                if len(wanted) == 0:
                    return OPTIMAL, pivots, taken, degenerate_pivots, 0
                if len(wanted) > shortlisted:
                    wanted = wanted[_smallest(every[wanted], shortlisted)]
                priced, where = _union(priced, wanted, rows)
                cols = cols_all[priced]
                cols32 = cols32_all[priced]
                continue
            d_q = rc[enter]
        if enter >= 2 * d and not all_priced:
            enter = 2 * d + priced[enter - 2 * d]
        # The entering column in the basis's terms (a slack's is a signed column of the inverse).
        if enter >= 2 * d:
            u = np.dot(binv, cols_all[enter - 2 * d])
        elif enter < d:
            u = binv[:, enter].copy()
        else:
            u = -binv[:, enter - d]
        # The ratio test over the rows where u > 1e-9.
        least = np.inf  # min over those rows of max(x, 0) / u
        harris_bound = np.inf  # min of (max(x, 0) + harris) / u
        limited = False
        for i in range(m):
            if u[i] > 1e-9:
                limited = True
                xr = max(x[i], 0.0)
                least = min(least, xr / u[i])
                harris_bound = min(harris_bound, (xr + harris) / u[i])
        if not limited:  # the objective is bounded below by 0
            return UNBOUNDED, pivots, taken, degenerate_pivots, 0
        r = -1
        best = 0.0
        if degenerate > bland_after:
            # The least ratio; among ties (within 1e-12), the row whose basic column is first.
            for i in range(m):
                if u[i] > 1e-9:
                    ratio = max(x[i], 0.0) / u[i]
                    if ratio <= least + 1e-12 and (r < 0 or basic[i] < basic[r]):
                        r = i
            best = least
        else:
            # Harris's ratio test: the largest pivot (the first among equal ones) among the rows
            # whose ratio is within ``harris`` (a feasibility tolerance) of the least, so that no
            # pivot on a tiny entry of u magnifies rounding. The first-come ties before let the
            # walks that sifting takes drift: at 6,920 SST-2 sentences 12 answers failed their
            # certificates (inverses with a condition number of 5e3 whose basic weights, computed
            # afresh, were down to -2.9e-4), 12 starts again from HiGHS, 20 imports against 10;
            # with this test none failed, 8 imports. (This test alone, without the widening:
            # 135,124 pivots, 120.8 s, no gain.)
            for i in range(m):
                if u[i] > 1e-9:
                    ratio = max(x[i], 0.0) / u[i]
                    if ratio <= harris_bound and (r < 0 or u[i] > u[r]):
                        r = i
            best = max(x[r], 0.0) / u[r]
        if best <= 1e-12:
            degenerate += 1
            degenerate_pivots += 1
        else:
            degenerate = 0
        pivot_row = binv[r, :] / u[r]
        for k in range(m):
            pi[k] += d_q * pivot_row[k]
        fresh = False
        for jj in range(m):  # binv -= outer(u, pivot_row), a column at a time
            p = pivot_row[jj]
            for i in range(m):
                binv[i, jj] -= u[i] * p
        binv[r, :] = pivot_row
        for i in range(m):
            x[i] -= best * u[i]
        x[r] = best
        basic[r] = enter
        cost_b[r] = 1.0 if enter < 2 * d else 0.0
        pivots += 1
        taken += 1
        if pivots >= refactor_every:
            factor(basic, cols_all, d, binv, x)
            pivots = 0
            for i in range(m):
                cost_b[i] = 1.0 if basic[i] < 2 * d else 0.0
            pi = _duals(cost_b, binv)
            fresh = True
    return RAN_OUT, pivots, taken, degenerate_pivots, 0


@njit(cache=True, nogil=True)
def _basic_positions(basic, d, all_priced, where, out):
    """Each basic column's position in the reduced costs: a slack's is its index, a point's is
    ``2d`` plus its position among the priced points."""
    for i in range(len(basic)):
        k = basic[i]
        if k < 2 * d or all_priced:
            out[i] = k
        else:
            out[i] = 2 * d + where[k - 2 * d]
