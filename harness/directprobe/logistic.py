"""DirectProbe's search for a cheap separating hyperplane, compiled with Numba.

L-BFGS on a weakly regularised logistic loss, every iterate checked as a separating hyperplane
(``directprobe._logistic_candidate`` says why and what it was measured against). Through SciPy's
L-BFGS-B the search spent more time in SciPy's Python (its function wrappers, the callback, the
set-up of each run: about 0.45 ms a search and 0.2 ms a step) than in the loss: on all 6,920 SST-2
sentences, under cProfile, 19.3 s for 3,406 searches of which 7.9 s evaluating the loss. Here the
whole search is one compiled call: the 6,920 sentences cluster in 49.6 and 50.3 s against 61.4 s
with SciPy's L-BFGS-B (interleaved, the same hour; the same clusters and the same 2,556 LPs: the
searches fail where they failed before).

The method is the textbook one (Nocedal and Wright, Numerical Optimization, 2nd ed., algorithms
7.4 and 7.5): the two-loop recursion over the last ``MEMORY`` curvature pairs, the first step
scaled to unit length as L-BFGS-B does, then unit steps cut back until the sufficient decrease
(Armijo's condition); the loss is convex, so every pair has positive curvature (the regulariser
makes it strict; a pair without is skipped). It stops as SciPy's did with ``gtol=1e-10`` and
``ftol=1e-12``: at a gradient below ``gtol`` everywhere, or a relative decrease below ``ftol``.
Its iterates are not SciPy's, and need not be: each is only a candidate, and a candidate counts
only where it separates every point, in double, with a gap above rounding (``separates``; the
centroids' bisector is checked by it too).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

MEMORY = 10  # curvature pairs kept (L-BFGS-B's default)
ARMIJO = 1e-4  # sufficient decrease: f(w + t p) <= f(w) + ARMIJO t g.p
GTOL = 1e-10
FTOL = 1e-12
MAX_BACKTRACKS = 40


@njit(cache=True, nogil=True)
def frame_rows(a, b, centre, scale):
    """The search's rows in single precision: a point's side times (its coordinates less
    ``centre``, over ``scale``; then 1). The plane of weights w is w[:-1].(x - centre) / scale +
    w[-1] = 0."""
    n_a, d = a.shape
    z = np.empty((n_a + len(b), d + 1), np.float32)
    for i in range(n_a):
        for k in range(d):
            z[i, k] = np.float32((a[i, k] - centre[k]) / scale)
        z[i, d] = 1.0
    for i in range(len(b)):
        for k in range(d):
            z[n_a + i, k] = np.float32(-(b[i, k] - centre[k]) / scale)
        z[n_a + i, d] = -1.0
    return z


@njit(cache=True, nogil=True)
def loss_and_grad(z, w, lam):
    """The loss ``sum log(1 + exp(-z w)) + lam/2 |w[:-1]|^2`` (the offset unregularised), its
    gradient, and the margins ``z w``: the products in single precision (half the memory traffic:
    they are most of a search's time), the sums in double."""
    margins = np.dot(z, w.astype(np.float32))
    n = len(margins)
    weights = np.empty(n, np.float32)  # the logistic function of -margin: each row's pull
    total = 0.0
    for i in range(n):
        m = float(margins[i])
        if m > 0:
            e = math.exp(-m)
            total += math.log1p(e)
            weights[i] = e / (1.0 + e)
        else:
            e = math.exp(m)
            total += math.log1p(e) - m
            weights[i] = 1.0 / (1.0 + e)
    grad = -np.dot(z.T, weights).astype(np.float64)
    d = len(w) - 1
    for k in range(d):
        grad[k] += lam * w[k]
        total += lam / 2 * w[k] * w[k]
    return total, grad, margins


@njit(cache=True, nogil=True)
def separates(a, b, normal, c, reach, rtol):
    """Every point of ``a`` above ``c`` along ``normal`` and every point of ``b`` below, each by
    more than ``rtol * |normal| * reach`` (rounding of the products), in double. ``a`` and ``b``
    C-contiguous."""
    tol = rtol * np.sqrt(np.dot(normal, normal)) * reach
    return np.dot(a, normal).min() - c > tol and c - np.dot(b, normal).max() > tol


@njit(cache=True, nogil=True)
def search(a, b, centre, scale, reach, rtol, w0, lam, steps):
    """L-BFGS from ``w0`` (the rows' weights: ``frame_rows``) for at most ``steps`` iterations,
    each iterate with every margin positive checked by ``separates`` on the points as given.
    Returns (found, normal, offset, w): the first iterate that separates, as the plane
    ``normal . x = offset`` with ``a`` above, or found False; and the last iterate's weights."""
    z = frame_rows(a, b, centre, scale)
    dim = len(w0)
    d = dim - 1
    s_hist = np.zeros((MEMORY, dim))
    y_hist = np.zeros((MEMORY, dim))
    rho = np.zeros(MEMORY)
    alpha = np.zeros(MEMORY)
    kept = 0  # pairs held
    newest = -1  # slot of the newest pair
    w = w0.copy()
    f, g, _ = loss_and_grad(z, w, lam)
    empty = np.zeros(d)
    for it in range(steps):
        if np.abs(g).max() <= GTOL:
            break
        # The two-loop recursion: p = -H g.
        q = g.copy()
        for j in range(kept):
            slot = (newest - j) % MEMORY
            alpha[slot] = rho[slot] * np.dot(s_hist[slot], q)
            q -= alpha[slot] * y_hist[slot]
        if kept > 0:
            q *= np.dot(s_hist[newest], y_hist[newest]) / np.dot(y_hist[newest], y_hist[newest])
        for j in range(kept - 1, -1, -1):
            slot = (newest - j) % MEMORY
            beta = rho[slot] * np.dot(y_hist[slot], q)
            q += (alpha[slot] - beta) * s_hist[slot]
        p = -q
        slope = np.dot(g, p)
        if slope >= 0:  # not a descent direction (rounding): steepest descent, history dropped
            p = -g
            slope = np.dot(g, p)
            kept = 0
        t = 1.0 / np.sqrt(np.dot(p, p)) if kept == 0 and it == 0 else 1.0
        decreased = False
        for _ in range(MAX_BACKTRACKS):
            w_new = w + t * p
            f_new, g_new, margins = loss_and_grad(z, w_new, lam)
            if f_new <= f + ARMIJO * t * slope:
                decreased = True
                break
            t *= 0.5
        if not decreased:
            break  # no decrease along p: at the loss's floor in this precision
        s = w_new - w
        y = g_new - g
        sy = np.dot(s, y)
        if sy > 1e-12 * np.dot(y, y):
            newest = (newest + 1) % MEMORY
            s_hist[newest] = s
            y_hist[newest] = y
            rho[newest] = 1.0 / sy
            kept = min(kept + 1, MEMORY)
        decrease = (f - f_new) / max(abs(f), abs(f_new), 1.0)
        w, f, g = w_new, f_new, g_new
        if margins.min() > 0:
            normal = w[:d] / scale
            offset = np.dot(normal, centre) - w[d]
            if separates(a, b, normal, offset, reach, rtol):
                return True, normal, offset, w
        if decrease <= FTOL:
            break
    return False, empty, 0.0, w
