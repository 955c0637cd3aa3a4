"""DirectProbe (Zhou and Srikumar, NAACL 2021 and ACL 2022): label clusters, exactly and fast.

Clustering. Every point starts as its own cluster. The two closest clusters of the same label (by
the Euclidean distance of their centroids) are merged, and the merge is kept only if the convex
hull of the merged cluster overlaps no convex hull of a current cluster of another label; a
rejected pair is never tried again. It ends when no pair of same-label clusters is left. The space
is *linearly separable* for the task when the number of clusters equals the number of labels.

Overlap is decided exactly: two finite point sets have disjoint convex hulls iff they are strictly
linearly separable, iff the widest slab between them (``max t`` with ``y_i (w . x_i + b) >= t``
and ``w`` in the unit box, a bounded LP) has ``t > 0``. It is solved with HiGHS (through scipy),
never with an SVM fit, whose iteration limits make "not separable" a
possible wrong answer (the published code's fallback). Cheap certificates come first so that an LP
runs only when it must:

1. label level: if two whole labels are separable, no cluster of one can overlap a cluster of the
   other, so a label separable from every other label is one cluster, and the full agglomerative
   run is needed only among labels that overlap somewhere (on the TREC-6 case of the issue, none);
2. bounding spheres: disjoint spheres around two clusters mean disjoint hulls;
3. a known separating hyperplane of a cluster (kept from earlier checks while the cluster lives);
4. candidate hyperplanes, each checked on every point: the centroids' bisector, then the iterates
   of L-BFGS on a logistic loss, stopped at the first that separates. A hyperplane that separates is a certificate; only when none is found
   does the LP run, and its optimum ``t* = 0`` certifies the overlap. (Constraint generation inside the
   LP was tried and measured slower on real embeddings: the hard core of a pair is most of it.)

Distances. Between two clusters: twice the margin of the hard-margin linear SVM, which is the
Euclidean distance between their convex hulls (0 when they overlap). On pairs the LP has shown
separable it is computed by Wolfe's minimum-norm-point algorithm (finite and exact, unlike an SVM
solver with a huge C, which can run for minutes), and certified by matching upper and lower bounds.
Per label: the minimum distance to any cluster of another label.

Spatial similarity of two representations of the same points: the Pearson correlation of their
vectors of label-pair distances (Zhou and Srikumar 2022, section 4.4).
"""

from __future__ import annotations

import contextlib
import heapq
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
from scipy.optimize import linprog

from .errors import ConfigError

LOGISTIC_STEPS = 150  # most L-BFGS steps spent looking for a cheap separating hyperplane
LP_MARGIN_TOL = 1e-9  # half-width of the widest slab (unit-box normal, data scaled to [-1, 1])
#                       below which two sets count as overlapping
MAX_WITNESSES = 16  # separating hyperplanes kept per cluster as certificates for later merges
CERTIFY_RTOL = 1e-4  # agreement required between the SVM's upper and lower distance bounds


@dataclass
class Counters:
    lps: int = 0  # HiGHS solves
    lp_pairs: int = 0  # separability questions that needed an LP
    distances: int = 0  # hull distances computed (Wolfe's algorithm)
    merges_tried: int = 0
    merges_rejected: int = 0


# --------------------------------------------------------------------------------------------
# Separability (exact) and hull distance (certified)


def _normalise(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Centre both sets on their joint midpoint and scale to unit size: better-conditioned LPs."""
    centre = (a.mean(0) + b.mean(0)) / 2
    a, b = a - centre, b - centre
    scale = max(np.abs(a).max(), np.abs(b).max(), 1e-300)
    return a / scale, b / scale, scale


def _lp(a: np.ndarray, b: np.ndarray, counters: Counters) -> np.ndarray | None:
    """The widest slab between the sets with the normal in the unit box: maximise ``t`` subject to
    ``w.a - c >= t`` on ``a``, ``w.b - c <= -t`` on ``b``, ``-1 <= w <= 1``, ``t <= 1``. Feasible
    and bounded, so HiGHS always reaches an optimum; the sets are separable iff ``t* > 0``. Returns
    ``(w, -c)`` when ``t*`` exceeds LP_MARGIN_TOL, else None (hulls overlap, or are closer than the
    solver can resolve).

    This form replaced the textbook feasibility LP ``y (w.x + b) >= 1``: on 3,000 SST-2 sentences
    (overlapping labels) HiGHS spent 58 s on that one and returned status "Unknown"; this form
    solves in 4.6 s with ``t* = 2e-12``.
    """
    d = a.shape[1]
    ones_a, ones_b = np.ones((len(a), 1)), np.ones((len(b), 1))
    rows = np.vstack([np.hstack([-a, ones_a, ones_a]), np.hstack([b, -ones_b, ones_b])])
    objective = np.zeros(d + 2)
    objective[-1] = -1.0
    counters.lps += 1
    res = linprog(objective, A_ub=rows, b_ub=np.zeros(len(rows)),
                  bounds=[(-1.0, 1.0)] * d + [(None, None), (None, 1.0)], method="highs")
    if res.status != 0:
        raise RuntimeError(f"HiGHS failed on a separability LP: {res.message}")
    if res.x[-1] <= LP_MARGIN_TOL:
        return None
    return np.r_[res.x[:d], -res.x[d]]


def separating_hyperplane(a: np.ndarray, b: np.ndarray, counters: Counters | None = None
                          ) -> tuple[np.ndarray, float] | None:
    """A hyperplane ``(w, c)`` with ``w.x > c`` on ``a`` and ``w.x < c`` on ``b``, in the original
    coordinates, or None when the convex hulls of ``a`` and ``b`` intersect.

    A hyperplane is its own certificate, so cheap candidates are tried first: the perpendicular
    bisector of the centroids, then the L-BFGS iterates of a weakly regularised logistic
    regression (see ``_logistic_candidate``). Only when neither separates does the exact LP decide (HiGHS); its infeasibility
    is the certificate of overlap.
    """
    counters = counters if counters is not None else Counters()
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) == 0 or len(b) == 0:
        raise ConfigError("separability needs two non-empty point sets")
    centre = (a.mean(0) + b.mean(0)) / 2
    na, nb, scale = _normalise(a, b)

    def accept(w: np.ndarray, off: float) -> tuple[np.ndarray, float] | None:
        lo, hi = (na @ w).min() + off, (nb @ w).max() + off
        if lo <= 0 or hi >= 0:
            return None
        w_orig = w / scale  # w.(x - centre)/scale + off = 0 in the original coordinates
        return w_orig, float(w_orig @ centre - off)

    direction = na.mean(0) - nb.mean(0)
    found = accept(direction, -float((na @ direction).min() + (nb @ direction).max()) / 2)
    if found is None and len(na) > 1 and len(nb) > 1:
        found = _logistic_candidate(na, nb, accept)
    if found is not None:
        return found
    counters.lp_pairs += 1
    sol = _lp(na, nb, counters)
    if sol is None:
        return None
    found = accept(sol[:-1], sol[-1])
    if found is None:  # pragma: no cover - HiGHS optimal within tolerance but not strictly
        raise RuntimeError("HiGHS returned a hyperplane that does not separate the sets")
    return found


def _logistic_candidate(na: np.ndarray, nb: np.ndarray, accept):
    """Minimise a weakly regularised logistic loss by L-BFGS, checking after every step whether
    the current hyperplane separates; stop at the first that does, or after LOGISTIC_STEPS.

    On separable data the logistic loss has no finite minimiser and its iterates head for a
    separating direction, usually in tens of steps (TREC-6 pairs at 3,000 points: 29 to 99 steps,
    0.3 to 0.9 s, where the LP takes 2.5 to 4.8 s); on overlapping data L-BFGS converges and the
    LP decides.
    """
    from scipy.optimize import minimize
    from scipy.special import expit, log_expit

    z = np.vstack([np.hstack([na, np.ones((len(na), 1))]), -np.hstack([nb, np.ones((len(nb), 1))])])
    lam = 1e-6

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        m = z @ w
        grad = -(z.T @ expit(-m))
        grad[:-1] += lam * w[:-1]
        return float(-log_expit(m).sum() + lam / 2 * w[:-1] @ w[:-1]), grad

    found: list = []

    def check(w: np.ndarray) -> None:
        if (z @ w).min() > 0:
            hit = accept(w[:-1], float(w[-1]))
            if hit is not None:
                found.append(hit)
                raise StopIteration

    with contextlib.suppress(StopIteration):  # scipy >= 1.11 stops quietly, older ones raise
        minimize(loss, np.zeros(z.shape[1]), jac=True, method="L-BFGS-B", callback=check,
                 options={"maxiter": LOGISTIC_STEPS, "gtol": 1e-10, "ftol": 1e-12})
    return found[0] if found else None


def separable(a: np.ndarray, b: np.ndarray, counters: Counters | None = None) -> bool:
    """True iff the convex hulls of the two point sets are disjoint (exact, by LP)."""
    return separating_hyperplane(a, b, counters) is not None


def hull_distance(a: np.ndarray, b: np.ndarray, counters: Counters | None = None,
                  known_separable: bool = False) -> float:
    """Euclidean distance between the convex hulls of ``a`` and ``b``: twice the hard-margin SVM
    margin; 0 when the hulls intersect (decided by LP).

    For separable sets it is the norm of the minimum-norm point of the Minkowski difference
    ``conv(a) - conv(b)``, found by Wolfe's (1976) finite algorithm with the difference's vertices
    generated on demand (the vertex minimising ``z . v`` is ``argmin a.z`` minus ``argmax b.z``).
    The result is certified: the point found bounds the distance from above, its supporting
    hyperplane from below, and the two agree to ``CERTIFY_RTOL``.
    """
    counters = counters if counters is not None else Counters()
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if not known_separable and separating_hyperplane(a, b, counters) is None:
        return 0.0
    na, nb, scale = _normalise(a, b)
    counters.distances += 1
    return _min_norm_difference(na, nb) * scale


def _min_norm_difference(a: np.ndarray, b: np.ndarray, max_iter: int = 10_000) -> float:
    def vertex(z: np.ndarray) -> np.ndarray:
        return a[np.argmin(a @ z)] - b[np.argmax(b @ z)]

    corral = [vertex(b.mean(0) - a.mean(0))]  # start at the vertex nearest the centroids' gap
    weights = np.array([1.0])
    x = corral[0]
    for _ in range(max_iter):
        q = vertex(x)
        xx = float(x @ x)
        if xx == 0.0:
            return 0.0  # a shared point: the hulls touch
        if xx - float(x @ q) <= CERTIFY_RTOL * xx:  # lower bound x.q/|x| within rtol of |x|
            upper = np.sqrt(xx)
            lower = float(x @ q) / upper
            if upper - lower > CERTIFY_RTOL * upper:  # pragma: no cover - by the stopping rule
                raise RuntimeError("hull distance not certified")
            return float(upper)
        corral.append(q)
        weights = np.append(weights, 0.0)
        while True:  # minor cycle: affine minimiser of the corral, kept inside its convex hull
            s = np.stack(corral)
            k = len(corral)
            kkt = np.zeros((k + 1, k + 1))
            kkt[:k, :k] = s @ s.T
            kkt[:k, k] = kkt[k, :k] = 1.0
            rhs = np.zeros(k + 1)
            rhs[k] = 1.0
            alpha = np.linalg.lstsq(kkt, rhs, rcond=None)[0][:k]
            if (alpha > 1e-12).all():
                weights = alpha
                break
            neg = alpha <= 1e-12
            with np.errstate(divide="ignore", invalid="ignore"):
                ratios = weights[neg] / (weights[neg] - alpha[neg])
            theta = float(np.min(ratios[np.isfinite(ratios)], initial=1.0))
            weights = theta * alpha + (1 - theta) * weights
            keep = weights > 1e-12
            corral = [p for p, kp in zip(corral, keep, strict=True) if kp]
            weights = weights[keep] / weights[keep].sum()
        x = weights @ np.stack(corral)
    raise RuntimeError("Wolfe's algorithm did not converge")  # pragma: no cover


# --------------------------------------------------------------------------------------------
# Clustering


@dataclass(frozen=True)
class Clusters:
    """The result of DirectProbe clustering on points ``x`` with labels ``y``."""

    assignment: np.ndarray  # (n,) cluster index of each point
    cluster_labels: np.ndarray  # (k,) label of each cluster
    num_labels: int
    counters: Counters = field(compare=False)

    @property
    def num_clusters(self) -> int:
        return len(self.cluster_labels)

    @property
    def linearly_separable(self) -> bool:
        return self.num_clusters == self.num_labels

    def members(self, k: int) -> np.ndarray:
        return np.flatnonzero(self.assignment == k)


def _check_input(x, y) -> tuple[np.ndarray, np.ndarray, int]:
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y)
    if x.ndim != 2 or len(x) != len(y) or len(x) == 0:
        raise ConfigError(f"points must be (n, d) with n labels, got {x.shape} and {y.shape}")
    if not np.isfinite(x).all():
        raise ConfigError("points hold NaN or infinite values")
    _, y = np.unique(y, return_inverse=True)
    num_labels = int(y.max()) + 1
    if num_labels < 2:
        raise ConfigError("DirectProbe needs at least two labels")
    return x, y.astype(np.int64), num_labels


class _Cluster:
    __slots__ = ("idx", "label", "centroid", "radius", "witnesses", "alive")

    def __init__(self, idx: np.ndarray, label: int, x: np.ndarray):
        self.idx, self.label = idx, label
        pts = x[idx]
        self.centroid = pts.mean(0)
        self.radius = float(np.sqrt(((pts - self.centroid) ** 2).sum(1).max()))
        self.witnesses: list[tuple[np.ndarray, float]] = []  # hyperplanes with this cluster on w.x < c
        self.alive = True


def cluster(x, y, counters: Counters | None = None) -> Clusters:
    """DirectProbe clustering (see the module docstring)."""
    x, y, num_labels = _check_input(x, y)
    counters = counters if counters is not None else Counters()
    labels = range(num_labels)
    by_label = {lab: np.flatnonzero(y == lab) for lab in labels}

    # 1. Label level: which whole labels are separable from which.
    overlap = np.zeros((num_labels, num_labels), bool)
    for i, j in combinations(labels, 2):
        if not separable(x[by_label[i]], x[by_label[j]], counters):
            overlap[i, j] = overlap[j, i] = True

    clusters: list[_Cluster] = []
    for lab in labels:
        if not overlap[lab].any():  # separable from every other label: one cluster
            clusters.append(_Cluster(by_label[lab], lab, x))
        else:
            clusters.extend(_Cluster(np.array([i]), lab, x) for i in by_label[lab])

    # 2. Agglomerative merging among labels that overlap some other label.
    _agglomerate(x, clusters, overlap, counters)

    alive = [c for c in clusters if c.alive]
    alive.sort(key=lambda c: (c.label, int(c.idx.min())))  # canonical order, independent of input order
    assignment = np.empty(len(x), np.int64)
    for k, c in enumerate(alive):
        assignment[c.idx] = k
    return Clusters(assignment, np.array([c.label for c in alive], np.int64), num_labels, counters)


def _agglomerate(x: np.ndarray, clusters: list[_Cluster], overlap: np.ndarray, counters: Counters) -> None:
    """Merge closest same-label pairs (centroid distance) while no hull overlap is created.

    Each cluster keeps its nearest acceptable partner; a heap holds those candidates with lazy
    invalidation (an entry is stale once either side is gone or its partner changed).
    """
    cap = 2 * len(clusters) + 1
    cents = np.zeros((cap, x.shape[1]))
    labels = np.full(cap, -1)
    alive = np.zeros(cap, bool)
    radii = np.zeros(cap)
    sq = np.zeros(cap)  # squared norms of the centroids
    partner = np.full(cap, -1)
    pdist = np.full(cap, np.inf)
    rejected: dict[int, set[int]] = {}
    heap: list[tuple[float, int, int]] = []

    def register(k: int) -> None:
        cents[k], labels[k], alive[k] = clusters[k].centroid, clusters[k].label, True
        radii[k] = clusters[k].radius
        sq[k] = cents[k] @ cents[k]

    def nearest(rows) -> None:
        """Each row's nearest live same-label cluster not rejected with it, pushed on the heap.

        Batched: one matrix product per label finds the candidates (``|c|^2 - 2 c.c' + |c'|^2``),
        then the exact distances of the near-minimal ones decide, so the choice, ties included
        (the first in index order), is the one a per-row loop over exact distances would make.
        """
        rows = np.asarray(rows, np.int64)
        for lab in np.unique(labels[rows]):
            cand = np.flatnonzero(alive & (labels == lab))
            batch = rows[labels[rows] == lab]
            for start in range(0, len(batch), 256):  # bounded memory: 256 x |cand|
                sub = batch[start:start + 256]
                d2 = sq[sub][:, None] - 2.0 * (cents[sub] @ cents[cand].T) + sq[cand][None, :]
                pos = np.searchsorted(cand, sub)
                own = (pos < len(cand)) & (cand[np.minimum(pos, len(cand) - 1)] == sub)
                d2[np.flatnonzero(own), pos[own]] = np.inf
                for i, a in enumerate(sub.tolist()):
                    for r in rejected.get(a, ()):
                        j = np.searchsorted(cand, r)
                        if j < len(cand) and cand[j] == r:
                            d2[i, j] = np.inf
                if len(cand) == 0:
                    partner[sub], pdist[sub] = -1, np.inf
                    continue
                first = d2.argmin(1)
                best = d2[np.arange(len(sub)), first]
                within = d2 <= (best + 1e-8 * (sq[sub] + sq[cand].max()))[:, None]
                choice = cand[first]
                dist = np.sqrt(((cents[choice] - cents[sub]) ** 2).sum(1))
                for i in np.flatnonzero(within.sum(1) > 1).tolist():  # near-ties: exact distances decide
                    near = cand[np.flatnonzero(within[i])]
                    exact = np.sqrt(((cents[near] - cents[sub[i]]) ** 2).sum(1))
                    k = int(np.argmin(exact))
                    choice[i], dist[i] = near[k], exact[k]
                for a, b, d, ok in zip(sub.tolist(), choice.tolist(), dist.tolist(), np.isfinite(best).tolist(),
                                       strict=True):
                    if ok:
                        partner[a], pdist[a] = b, d
                        heapq.heappush(heap, (d, a, b))
                    else:
                        partner[a], pdist[a] = -1, np.inf

    for k in range(len(clusters)):
        register(k)
    nearest([k for k, c in enumerate(clusters) if overlap[c.label].any() and len(c.idx) == 1])

    while heap:
        _, a, b = heapq.heappop(heap)
        if not alive[a] or partner[a] != b:
            continue  # stale
        if not alive[b] or b in rejected.get(a, ()):
            nearest([a])
            continue
        counters.merges_tried += 1
        merged = _Cluster(np.concatenate([clusters[a].idx, clusters[b].idx]), clusters[a].label, x)
        if _overlaps_other_label(x, merged, clusters, cents, radii, labels, alive, overlap, counters):
            counters.merges_rejected += 1
            rejected.setdefault(a, set()).add(b)
            rejected.setdefault(b, set()).add(a)
            nearest([a, b])
            continue
        clusters[a].alive = clusters[b].alive = False
        alive[a] = alive[b] = False
        clusters.append(merged)
        m = len(clusters) - 1
        register(m)
        same = np.flatnonzero(alive & (labels == labels[m]))
        same = same[same != m]
        redo = [m]
        if len(same):
            dist = np.sqrt(((cents[same] - cents[m]) ** 2).sum(1))
            for e, de in zip(same.tolist(), dist.tolist(), strict=True):
                if partner[e] in (a, b) or partner[e] == -1:
                    redo.append(e)
                elif de < pdist[e]:  # m is new, so it cannot have been rejected with e
                    partner[e], pdist[e] = m, de
                    heapq.heappush(heap, (de, e, m))
        nearest(redo)


def _overlaps_other_label(x, merged: _Cluster, clusters: list[_Cluster], cents, radii, labels,
                          alive, overlap: np.ndarray, counters: Counters) -> bool:
    """Does the merged cluster's hull overlap the hull of any live cluster of another label?"""
    near = np.flatnonzero(alive & (labels >= 0) & overlap[merged.label][np.maximum(labels, 0)])
    if len(near) == 0:
        return False
    gaps = np.sqrt(((cents[near] - merged.centroid) ** 2).sum(1))
    keep = gaps <= radii[near] + merged.radius  # bounding spheres that meet
    near, gaps = near[keep], gaps[keep]
    if len(near) == 0:
        return False
    pts = x[merged.idx]
    order = near[np.argsort(gaps, kind="stable")]
    # Batched centroid bisectors, one per nearby cluster d: w_d = centroid(merged) - centroid(d)
    # separates when min over merged of w_d.x > max over d of w_d.x. One matrix product for all d.
    w = merged.centroid - cents[order]
    members = [clusters[d].idx for d in order.tolist()]
    sizes = np.array([len(m) for m in members])
    proj = np.einsum("ij,ij->i", x[np.concatenate(members)], np.repeat(w, sizes, axis=0))
    apart = (pts @ w.T).min(0) > np.maximum.reduceat(proj, np.r_[0, np.cumsum(sizes)[:-1]])
    for d in order[~apart].tolist():
        cd = clusters[d]
        if cd.witnesses:
            ws = np.stack([v for v, _ in cd.witnesses])
            cs = np.array([c for _, c in cd.witnesses])
            if ((pts @ ws.T) > cs).all(0).any():
                continue  # a known hyperplane keeps d on one side and the merged points on the other
        plane = separating_hyperplane(pts, x[cd.idx], counters)
        if plane is None:
            return True
        # d lies on w.x < c; a later cluster on w.x > c is apart from it. Keep the latest few.
        cd.witnesses = [*cd.witnesses[-(MAX_WITNESSES - 1):], plane]
    return False


# --------------------------------------------------------------------------------------------
# Distances, similarity, movement


@dataclass(frozen=True)
class LabelDistances:
    """Minimum hull distance between the clusters of each pair of labels."""

    matrix: np.ndarray  # (L, L), symmetric, 0 on the diagonal
    counters: Counters = field(compare=False)

    def min_per_label(self) -> np.ndarray:
        """Each label's minimum distance to any other label (Zhou and Srikumar 2022, Fig. 2)."""
        m = self.matrix.copy()
        np.fill_diagonal(m, np.inf)
        return m.min(1)

    def vector(self) -> np.ndarray:
        """The label-pair distances (i < j) in row-major order: the representation's signature."""
        i, j = np.triu_indices(len(self.matrix), 1)
        return self.matrix[i, j]


def label_distances(x, y, clusters: Clusters | None = None, counters: Counters | None = None) -> LabelDistances:
    """For each pair of labels, the smallest hull distance between one cluster of each.

    Cluster pairs are visited in order of a lower bound (centroid distance minus radii), and the
    search stops once the bound exceeds the best distance found.
    """
    x, y, num_labels = _check_input(x, y)
    counters = counters if counters is not None else Counters()
    clusters = clusters if clusters is not None else cluster(x, y, counters)
    groups = [clusters.members(k) for k in range(clusters.num_clusters)]
    cents = np.stack([x[g].mean(0) for g in groups])
    radii = np.array([np.sqrt(((x[g] - c) ** 2).sum(1).max()) for g, c in zip(groups, cents, strict=True)])
    matrix = np.zeros((num_labels, num_labels))
    for li, lj in combinations(range(num_labels), 2):
        ki = np.flatnonzero(clusters.cluster_labels == li)
        kj = np.flatnonzero(clusters.cluster_labels == lj)
        pairs = []
        for a in ki:
            for b in kj:
                bound = np.linalg.norm(cents[a] - cents[b]) - radii[a] - radii[b]
                pairs.append((max(0.0, bound), a, b))
        best = np.inf
        for bound, a, b in sorted(pairs):
            if bound >= best:
                break
            # Final clusters of different labels never overlap (every merge was checked against
            # them), except identical single points, which Wolfe's algorithm returns as 0.
            best = min(best, hull_distance(x[groups[a]], x[groups[b]], counters, known_separable=True))
            if best == 0.0:
                break
        matrix[li, lj] = matrix[lj, li] = best
    return LabelDistances(matrix, counters)


def spatial_similarity(first: LabelDistances | np.ndarray, second: LabelDistances | np.ndarray) -> float:
    """Pearson correlation of two representations' label-pair distance vectors."""
    from scipy.stats import pearsonr

    u = first.vector() if isinstance(first, LabelDistances) else np.asarray(first, float)
    v = second.vector() if isinstance(second, LabelDistances) else np.asarray(second, float)
    if u.shape != v.shape or u.size < 2:
        raise ConfigError(f"distance vectors must have the same length >= 2, got {u.size} and {v.size}")
    if np.ptp(u) == 0 or np.ptp(v) == 0:
        raise ConfigError("a constant distance vector has no correlation (fewer than 3 labels?)")
    return float(pearsonr(u, v).statistic)


@dataclass(frozen=True)
class Movement:
    before: np.ndarray  # (L, d) label centroids before fine-tuning
    after: np.ndarray  # (L, d) after
    displacement: np.ndarray  # after - before
    pca2: np.ndarray  # (L, 2) displacement vectors projected on their first two PCs
    explained: np.ndarray  # variance ratio of those two PCs


def centroid_movement(before, after, y) -> Movement:
    """Label centroids of the same points in two representations, and how they moved
    (Zhou and Srikumar 2022, Fig. 3 and 5)."""
    from sklearn.decomposition import PCA

    before, y_, num_labels = _check_input(before, y)
    after = np.asarray(after, np.float64)
    if after.shape[0] != before.shape[0]:
        raise ConfigError("before and after must hold the same points")
    cb = np.stack([before[y_ == k].mean(0) for k in range(num_labels)])
    ca = np.stack([after[y_ == k].mean(0) for k in range(num_labels)])
    disp = ca - cb
    n_comp = min(2, num_labels)
    pca = PCA(n_components=n_comp).fit(disp)
    proj = pca.transform(disp)
    if n_comp < 2:
        proj = np.hstack([proj, np.zeros((num_labels, 1))])
    return Movement(cb, ca, disp, proj, pca.explained_variance_ratio_)
