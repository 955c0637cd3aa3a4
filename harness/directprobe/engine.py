"""DirectProbe (Zhou and Srikumar, NAACL 2021 and ACL 2022): label clusters, exactly and fast.

Clustering. Every point starts as its own cluster. The two closest clusters of the same label (by
the Euclidean distance of their centroids) are merged, and the merge is kept only if the convex
hull of the merged cluster overlaps no convex hull of a current cluster of another label; a
rejected pair is never tried again, and neither is any pair of clusters that contain a rejected pair
(clusters only grow, so their merge would overlap the same points of the other label). It ends when
no pair of same-label clusters is left. The space is *linearly separable* for the task when the
number of clusters equals the number of labels.

Overlap is decided exactly: two finite point sets have disjoint convex hulls iff they are strictly
linearly separable, iff the widest slab between them (``max t`` with ``y_i (w . x_i + b) >= t``
and ``w`` in the unit box, a bounded LP) has ``t > 0``. It is solved with HiGHS (through highspy),
never with an SVM fit, whose iteration limits make "not separable" a
possible wrong answer (the published code's fallback). Cheap certificates come first so that an LP
runs only when it must:

1. label level: if two whole labels are separable, no cluster of one can overlap a cluster of the
   other, so a label separable from every other label is one cluster, and the full agglomerative
   run is needed only among labels that overlap somewhere (on the TREC-6 case of the issue, none);
   where a label pair has at least four times the points of a sample of 2 (d + 2) a label, the LP
   runs on the samples first, and an overlap there (its witness checked) is the labels'. Given more
   than one thread, the LPs run in the background while the agglomeration goes on, each pair
   counted as overlapping until its LP answers (``_LabelLPs``: that changes no cluster);
2. bounding spheres: disjoint spheres around two clusters mean disjoint hulls;
3. a known separating hyperplane of a cluster (kept from earlier checks while the cluster lives);
4. candidate hyperplanes, each checked on every point: the centroids' bisector, then the iterates
   of L-BFGS on a logistic loss (started from the cluster's best kept hyperplane; compiled with
   Numba, ``harness/directprobe/logistic.py``), stopped at the first that separates. A hyperplane that
   separates is a certificate; only when none is found does the LP run. Its optimum ``t* = 0`` says "overlap", and the LP's duals carry the
   certificate: a convex combination of each set, and the two must coincide (to ``WITNESS_TOL``,
   checked on the points). Where they do not, the answer rested on HiGHS's tolerance (1e-7): the
   LP is solved again at 1e-10, and an answer still without a witness is counted
   (``Counters.uncertified``, in every DirectProbe artifact). (Constraint generation inside
   the LP was tried and measured slower on real embeddings: the hard core of a pair is most of it.)
5. kept LPs: an LP that had to be solved is kept while its two clusters live; when one of them
   grows, the new points join it and it goes on from its last optimal basis (a pair with a kept
   LP goes to it straight after step 3, before the candidates of step 4). Where labels overlap, a
   large cluster grows one point at a time against a large cluster of the other label, and each
   check is then a re-solve. The kept LP is :class:`_WarmLP`: the overlap LP in the points'
   weights, whose dense basis inverse is updated in place at each pivot, so that a re-solve
   costs milliseconds where HiGHS re-factorised its basis every time (about 0.1 s on 1,500 SST-2
   sentences; ``KEPT_LP = _SlabLP`` puts HiGHS back). Its simplex walk is compiled with Numba
   (``harness/directprobe/simplex.py``), the same pivots as the NumPy walk before it. A large pair's first
   solve comes after the logistic search from a start failed: the search runs again from 0, longer, and where it finds a
   plane, our simplex solves on the points nearest that plane first, then on all
   (``WORKING_SET``). Otherwise it is HiGHS's (in many dimensions by its interior point method,
   then crossover: ``INTERIOR_MIN_DIM``), whose optimal basis, complemented, becomes the kept LP's
   (our simplex from scratch on all the points stalled there). Its
   answers are certified on the points like HiGHS's; one it cannot certify starts again from
   HiGHS's basis once, and then goes to HiGHS for good. Its pricing runs in single precision (the
   choice only; every "optimal" is checked in double), and a re-solve first prices only the points
   that price best at its start: a merge that is rejected walks from the last separable basis to an
   overlapping one, and the witness it reaches among those points is a witness among all of them.

Re-checks on the new points only. A cluster of ``PLANES_MIN_POINTS`` or more keeps, for each
other-label cluster it was shown apart from, the plane that showed it (:class:`_Planes`, grown in
place), so a merge checks only its smaller part's points against the larger part's planes, voids
the rows they break and appends the planes it finds; those planes, and the rows that held, turned
over, also go to the other clusters' own stores. A row the smaller part broke starts the logistic
search against its cluster. Each cluster also keeps the last few planes found against it (step 3).

Distances. Between two clusters: twice the margin of the hard-margin linear SVM, which is the
Euclidean distance between their convex hulls (0 when they overlap). On pairs the LP has shown
separable it is computed by Wolfe's minimum-norm-point algorithm (finite and exact, unlike an SVM
solver with a huge C, which can run for minutes), and certified by matching upper and lower bounds.
Per label: the minimum distance to any cluster of another label.

Spatial similarity of two representations of the same points: the Pearson correlation of their
vectors of label-pair distances (Zhou and Srikumar 2022, section 4.4).
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from itertools import combinations

import numpy as np
from scipy.linalg.lapack import dpotrf as _potrf
from scipy.linalg.lapack import dpotrs as _potrs

from ..errors import ConfigError
from . import logistic, simplex

LOGISTIC_STEPS = 150  # most L-BFGS steps spent looking for a cheap separating hyperplane
LABEL_LOGISTIC_STEPS = 1000  # the same for two whole labels, where the LP after a failed search is
#                              a cold one on thousands of points: PUD's NOUN and VERB words (4,015 and
#                              2,149) are apart, and the search found their plane after more than 150
#                              steps, 0.38 s, where the LP took 13.6 s; on the overlapping label pairs
#                              of PUD, TREC-6 and SST-2 L-BFGS converges in about 150 steps anyway
#                              (0.13 to 0.30 s for 1,000 steps at most, 0.08 to 0.30 s for 150)
LP_MARGIN_TOL = 1e-9  # half-width of the widest slab (unit-box normal, data scaled to [-1, 1])
#                       below which two sets count as overlapping
MAX_WITNESSES = 16  # separating hyperplanes kept per cluster as certificates for later merges
SEPARATION_RTOL = 1e-9  # a hyperplane w certifies separation only with a gap above this times
#                          |w| * (largest point norm): rounding cannot fake such a gap (it did: on
#                          TREC-50 a question present under two labels, two identical points, was
#                          "separated" from itself by a centroid bisector, by 1.5e-15)
CERTIFY_RTOL = 1e-4  # agreement required between the SVM's upper and lower distance bounds
DISTANCE_ATOL = 1e-6  # ... or an upper bound this small (in units of the data's scale: points in
#                       [-1, 1]), for hulls that nearly touch: on 1,500 SST-2 sentences two final
#                       clusters with a slab of 1.1e-7 kept Wolfe's relative bound open for 10,000
#                       iterations (125 s, then an error); to 1e-6 it took 6.6 s
MAX_PIVOTS_PER_ROW = 4  # a kept LP's solve gives up after 4 (d + 2) pivots and hands the pair to HiGHS
COLD_SIMPLEX_ROWS = 800  # a new kept LP with more points than this starts from the points nearest a plane
#                           that parts them (a second logistic search's), else from HiGHS's optimal basis
COLD_PIVOTS_PER_ROW = 16  # ... and that walk from the slack basis gives up after 16 (d + 2) pivots (SST-2's
#                           and PUD's: 1,900 to 4,700, d = 384)
WORKING_SET = 0.65  # a large kept LP whose pair a plane already parts solves first on this many times
#                     d + 2 points a side, those nearest the plane, then on all (``_WarmLP._from_plane``)
LP_CERTIFY_RTOL = 1e-12  # a kept LP's hyperplane separates with a gap above this * |w| * max |x|
WITNESS_TOL = 1e-9  # an overlap answer is certified when the duals' two convex combinations
#                     coincide to this (scaled coordinates), far above rounding (1e-12), far below
#                     any distance DirectProbe reports
PLANES_MIN_POINTS = 32  # clusters this large keep one plane per other-label cluster they are apart from,
MAX_PLANES = 4096  # at most this many (the last found): d * 8 bytes each, 12 MiB for d = 384. (256
#                    before: late in a run where labels overlap, a large cluster has thousands of
#                    other-label clusters near it, mostly single points, and re-checked those beyond
#                    256 by their bisectors on all its points at every merge: 57 of 322 s on 6,920
#                    SST-2 sentences)
SLOTS_LIVE_MIN = 0.8  # a label's centroid slots are compacted when fewer than this share are live
SAMPLE_PER_SIDE = 2  # the label-level check first solves the LP on this many times d + 2 points a label
LP_BYTES_KEPT = 1 << 30  # memory of the LPs kept for re-use while clustering, beyond the most
#                          recently used one (each LP's ``footprint``); an LP evicted and needed
#                          again is a cold solve (several seconds on thousands of points)
INTERIOR_MIN_DIM = 192  # a kept LP's first solve by HiGHS (the pairs are mostly apart: the logistic search
#                         failed, but on a margin) with at least 2 (d + 2) rows in this many dimensions
#                         or more is by its interior point method (IPX, then crossover to a basis), not
#                         the dual simplex: 12.8 s against 24.2 s for the 10 such solves on 6,920 SST-2
#                         sentences (1,039 to 1,791 rows, d = 384; the one pair that overlaps 2.45 s
#                         against 2.22 s). Gaussian point sets (3 shifts), 1,600 rows: 0.34 s against 0.44 s at
#                         d = 192, 1.09 s against 1.94 s at d = 384, but 0.11 s against 0.09 s at d = 96.
#                         Where overlap is likely (the label level), the simplex: TREC-6's and SST-2's
#                         four overlapping label pairs, 1,500 to 3,000 rows, 9.6 s in all against 10.8 s
#                         (13.4 s with presolve)
HIGHS_BYTES_PER_ENTRY = 190  # HiGHS holds about 70 MiB per 1,000 rows of 384 dimensions


# Clustering time where labels overlap (SST-2 sentences: a stratified sample of the training set,
# all of it, and every split; the offline encoder's 384-d first-token vectors, one core of the 2-core
# development machine; docs/benchmarks.md, DirectProbe): (points, seconds). Where every pair of
# labels is separable it takes seconds instead.
OVERLAP_TIMINGS = ((1_500, 5.97), (3_000, 12.69), (6_920, 45.64), (9_613, 90.74))


def overlap_seconds(n: int) -> float:
    """About how long clustering ``n`` points takes where labels overlap: a power law between each
    two neighbouring measured timings (OVERLAP_TIMINGS, straight lines on log-log), so exact at
    those sizes; beyond the largest it goes on with the last two's growth, below the smallest with
    the first two's. A guess away from them, and for other dimensions and machines."""
    sizes, seconds = np.log(np.array(OVERLAP_TIMINGS, dtype=float)).T
    at = np.log(max(n, 1))
    k = int(np.clip(np.searchsorted(sizes, at), 1, len(sizes) - 1))  # between sizes k - 1 and k
    slope = (seconds[k] - seconds[k - 1]) / (sizes[k] - sizes[k - 1])
    return float(np.exp(seconds[k - 1] + slope * (at - sizes[k - 1])))


_blas = threading.local()  # .limited: inside a call that already runs BLAS on one thread


def _one_blas_thread(fn):
    """Run ``fn`` with BLAS on one thread. The engine's products are small (a cluster's points
    against one vector, L-BFGS's own updates), and there a second BLAS thread costs more than it
    gives: one logistic-candidate search on 300 + 300 SST-2 sentences took 0.112 s with OpenBLAS
    on 2 threads and 0.011 s on 1 (2-core machine). Nested calls (``cluster`` calling
    ``separable``, ``label_distances`` calling ``hull_distance``) do not limit again: entering
    threadpoolctl's limit costs about 0.5 ms, and TREC-50 has 1,225 label pairs."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if getattr(_blas, "limited", False):
            return fn(*args, **kwargs)
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            _blas.limited = True
            try:
                return fn(*args, **kwargs)
            finally:
                _blas.limited = False

    return wrapper


def _row_distances(rows: np.ndarray, other: np.ndarray) -> np.ndarray:
    """``np.sqrt(((rows - other) ** 2).sum(1))`` bit for bit, computed in ``rows`` itself (a
    scratch copy, as a gather gives): no temporaries of the rows' size. On 6,920 SST-2 sentences
    a merged cluster's distances to the clusters whose nearest partner it replaced (428 a merge,
    the mean) took 4.4 s written as that expression, 3.1 s in place (line profiler)."""
    rows -= other
    rows *= rows
    return np.sqrt(rows.sum(1))


@dataclass
class Counters:
    lps: int = 0  # HiGHS solves
    uncertified: int = 0  # overlap answers whose dual witness did not close even after a tight re-solve
    lp_fallbacks: int = 0  # kept LPs whose own answer could not be certified: HiGHS decided
    lp_imports: int = 0  # HiGHS solves for a kept LP's starting basis (cold, or after a failed certificate)
    pivots: int = 0  # simplex pivots of the kept LPs
    degenerate_pivots: int = 0  # of them, pivots that did not move (a step of 0)
    lps_warm: int = 0  # of them, re-solves of a kept LP after new rows (from its optimal basis)
    sifted: int = 0  # of them, overlaps found pricing only the sifted points (_WarmLP._iterate)
    lp_pairs: int = 0  # separability questions that needed an LP
    distances: int = 0  # hull distances computed (Wolfe's algorithm)
    planes_reused: int = 0  # cluster pairs certified apart by re-checking only a merge's smaller part
    merges_tried: int = 0
    merges_rejected: int = 0

    def add(self, other: Counters) -> None:
        """Add ``other``'s counts to these (the label pairs' own counters, checked side by side)."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


# --------------------------------------------------------------------------------------------
# Separability (exact) and hull distance (certified)


def _frame(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, float]:
    """The joint midpoint of two sets' centroids, and the largest coordinate of a point less it (by
    column maxima and minima: no centred copy of the points, the same value as one)."""
    centre = (a.mean(0) + b.mean(0)) / 2
    scale = max(float((a.max(0) - centre).max()), float((centre - a.min(0)).max()),
                float((b.max(0) - centre).max()), float((centre - b.min(0)).max()), 1e-300)
    return centre, scale


def _normalise(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Centre both sets on their joint midpoint and scale to unit size: better-conditioned LPs.
    Returns the normalised sets, the centre and the scale."""
    centre, scale = _frame(a, b)
    return (a - centre) / scale, (b - centre) / scale, centre, scale


class _SlabLP:
    """The widest-slab LP of two point sets, kept solved so that either side can grow.

    Maximise ``t`` subject to ``w.p - c >= t`` on the positive side, ``w.q - c <= -t`` on the
    negative side, ``-1 <= w <= 1`` and ``t <= 1``: feasible and bounded, so HiGHS always reaches
    an optimum, and the sets are separable iff ``t* > 0``. The points are centred and scaled to
    unit size once, when the model is built (better-conditioned LPs); rows added later use the same
    transform.

    Adding the rows of new points to a solved model and solving again restarts HiGHS's dual
    simplex from the last optimal basis: on SST-2 (3,000 sentences, overlapping labels) a cluster
    of ~600 sentences that gains one sentence is re-checked against one of ~575 in 0.1 to 0.5 s,
    where a cold solve takes 4 to 5 s. ``undo`` removes the last rows added and puts the previous
    optimal basis back, so a rejected merge costs no re-solve either.

    This form replaced the textbook feasibility LP ``y (w.x + b) >= 1``: on 3,000 SST-2 sentences
    HiGHS spent 58 s on that one and returned status "Unknown"; this form solves in 4.6 s with
    ``t* = 2e-12``.
    """

    def __init__(self, pos: np.ndarray, neg: np.ndarray, counters: Counters, presolve: bool = True,
                 interior: bool = False, hint: np.ndarray | None = None):
        """``hint`` (a normal that parts the sets, for ``_WarmLP``'s first solve) is not used here."""
        import highspy

        self.counters = counters
        self.interior = interior  # a first solve where the sets are likely apart: see INTERIOR_MIN_DIM
        self.interior_ran = False  # ... and it ran
        self.centre, self.scale = _frame(pos, neg)
        d = pos.shape[1]
        self.highs = highspy.Highs()
        self.highs.setOptionValue("output_flag", False)
        if not presolve:  # for a single cold solve: 2.61 s against 3.01 s on 3,000 SST-2 sentences
            self.highs.setOptionValue("presolve", "off")
        inf = highspy.kHighsInf
        self.highs.addVars(d + 2, np.r_[-np.ones(d), -inf, -inf], np.r_[np.ones(d), inf, 1.0])
        self.highs.changeColsCost(1, np.array([d + 1], np.int32), np.array([-1.0]))
        self.rows = 0
        self._ran = False
        self._undo: tuple | None = None
        self._z: list[tuple[np.ndarray, int]] = []  # each add's rows (scaled points, side), in row order
        self.add(pos, +1)
        self.add(neg, -1)

    def add(self, pts: np.ndarray, side: int, undoable: bool = False) -> None:
        """Rows for new points on the positive (+1) or negative (-1) side."""
        import highspy

        if undoable:
            self._undo = (self.highs.getBasis(), self.rows, len(pts))
        n, k = len(pts), pts.shape[1] + 2
        z = (pts - self.centre) / self.scale
        coef = np.hstack([-side * z, np.full((n, 1), float(side)), np.ones((n, 1))])
        self.highs.addRows(n, np.full(n, -highspy.kHighsInf), np.zeros(n), n * k,
                           np.arange(0, n * k, k, dtype=np.int32), np.tile(np.arange(k, dtype=np.int32), n),
                           coef.ravel())
        self.rows += n
        self._z.append((z, side))

    def footprint(self) -> int:
        """Bytes held, about."""
        return self.rows * (len(self.centre) + 2) * HIGHS_BYTES_PER_ENTRY

    def undo(self) -> None:
        """Remove the rows of the last ``add(..., undoable=True)`` and restore the basis before it."""
        basis, start, n = self._undo
        self.highs.deleteRows(n, np.arange(start, start + n, dtype=np.int32))
        self.highs.setBasis(basis)
        self.rows -= n
        self._undo = None
        self._z.pop()

    def solve(self) -> tuple[np.ndarray, float] | None:
        """The widest slab's hyperplane ``(w, c)`` in the original coordinates (positive side on
        ``w.x > c``) when ``t*`` exceeds LP_MARGIN_TOL, else None (hulls overlap, or are closer
        than the solver can resolve)."""

        sol = self._run()
        if sol[-1] <= LP_MARGIN_TOL and self.witness_gap() > WITNESS_TOL:
            # HiGHS says "overlap" but its duals do not show two coinciding convex combinations:
            # the answer rests on the solver's tolerance. Solve again, tightly, from this basis.
            tight = ("primal_feasibility_tolerance", "dual_feasibility_tolerance")
            for option in tight:
                self.highs.setOptionValue(option, 1e-10)
            try:
                sol = self._run()
            finally:
                for option in tight:
                    self.highs.setOptionValue(option, 1e-7)
            if sol[-1] <= LP_MARGIN_TOL and self.witness_gap() > WITNESS_TOL:
                self.counters.uncertified += 1
        if sol[-1] <= LP_MARGIN_TOL:
            return None
        w = sol[:-2] / self.scale  # w.(x - centre)/scale - c = 0 in the original coordinates
        return w, float(w @ self.centre + sol[-2])

    def _run(self) -> np.ndarray:
        import highspy

        self.counters.lps += 1
        d = len(self.centre)
        if self.interior and not self._ran and d >= INTERIOR_MIN_DIM and self.rows >= 2 * (d + 2):
            # A large first solve: the interior point method, then crossover to an optimal basis
            # (for the duals, the warm re-solves and the kept LP's import), where it is faster.
            self.highs.setOptionValue("solver", "ipm")
            self.interior_ran = True
            try:
                self.highs.run()
            finally:
                self.highs.setOptionValue("solver", "choose")  # re-solves: the dual simplex, warm
            if not (self.highs.getModelStatus() == highspy.HighsModelStatus.kOptimal and self.highs.getBasis().valid):
                self.highs.run()  # (crossover did not end at an optimal basis) the simplex, from there
        else:
            self.highs.run()
        self._ran = True
        status = self.highs.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(f"HiGHS failed on a separability LP: {self.highs.modelStatusToString(status)}")
        return np.asarray(self.highs.getSolution().col_value)

    def witness(self) -> tuple[np.ndarray, np.ndarray]:
        """The overlap certificate in the optimal duals: weights ``lam`` on the positive rows and
        ``mu`` on the negative rows (each summing to 1; the rows in the order they were added)
        whose convex combinations of the two point sets coincide when the hulls meet. (The slab
        LP's dual says: ``sum(lam) = sum(mu)`` from ``c``, ``lam.P = mu.Q`` from ``w`` while
        the box is not active, which it is not at ``t* = 0``.)"""
        duals = np.abs(np.asarray(self.highs.getSolution().row_dual))
        side = np.concatenate([np.full(len(z), s) for z, s in self._z])
        lam, mu = duals[side > 0], duals[side < 0]
        return lam / max(lam.sum(), 1e-300), mu / max(mu.sum(), 1e-300)

    def witness_gap(self) -> float:
        """The largest coordinate of ``lam.P - mu.Q`` in the LP's scaled coordinates (points in
        [-1, 1]): about 1e-12 where the overlap is real (296 of 296 overlap answers on PUD's
        context-free word embeddings were within 2.3e-12); inf without a witness."""
        lam, mu = self.witness()
        if lam.sum() == 0 or mu.sum() == 0:
            return float("inf")
        pos = np.vstack([z for z, s in self._z if s > 0])
        neg = np.vstack([z for z, s in self._z if s < 0])
        return float(np.abs(lam @ pos - mu @ neg).max())


class _WarmLP:
    """The overlap question of two point sets as a small dense LP that stays factorised between
    merges (the kept LPs of clustering), with every answer checked on the points.

    ``min |P'lam - Q'mu|_1`` over ``lam``, ``mu`` in the unit simplices: the optimum is 0 iff the
    hulls meet, and then ``lam``, ``mu`` are the witness (two coinciding convex combinations); when
    it is positive, the optimal duals ``(y, alpha, beta)`` give the hyperplane ``-y`` with the
    positive points at ``>= alpha`` and the negative ones at ``<= -beta``, ``alpha + beta > 0``.
    A point is a column, so a cluster that grows adds columns and the last optimal basis stays
    feasible: the revised primal simplex goes on from it, with the dense basis inverse (``d + 2``
    square) updated in place at each pivot and refactorised every ``REFACTOR`` pivots (the walk
    is compiled with Numba: ``harness/directprobe/simplex.py``). HiGHS re-factorises its basis on every run
    instead (about 0.1 s a re-solve on 1,500 SST-2 sentences, where this takes milliseconds).

    Nothing rests on this solver's tolerances: a hyperplane is returned only if it separates every
    point with a gap above rounding, an overlap only with a witness that closes to
    ``WITNESS_TOL``; otherwise HiGHS's slab LP decides (``Counters.lp_fallbacks``).
    """

    # Every 64 pivots until c967c66; 128 and 256 take the same pivots on all 6,920 SST-2 sentences
    # (77,406), 3,000 of them (14,109), TREC-6 (15,222) and PUD (23,153), with no restart from
    # HiGHS and no fallback, and inverses cost a quarter of a walk's time at 64: the same run, 6,920
    # 65.5 / 66.2 s at 64 against 60.3 / 58.3 s at 128 (56.4 s at 256 after them); the first walks
    # from the slack basis (``_from_plane``), replayed, 5.9 s at 64, 4.5 s at 256, 4.0 s at 512.
    # (Refactorising when the duals drift, |pi B - c_B| above 1e-9 measured every 16 pivots, and
    # at the latest every 128 or 512 pivots, was tried in an earlier engine: on 6,920 SST-2
    # sentences fewer inverses, but walks that did not finish and more restarts from HiGHS, 207 s
    # against 208 s.)
    REFACTOR = 256
    TOL = 1e-10
    HARRIS = 1e-9  # the ratio test's feasibility tolerance (1e-8: the same pivots and time at 6,920)
    BLAND_AFTER = 50  # degenerate pivots in a row after which Bland's rules choose (no cycling)
    SIFT = 0.5  # a re-solve first prices this many times d + 2 points, and the basic ones (``_iterate``)

    def __init__(self, pos: np.ndarray, neg: np.ndarray, counters: Counters, hint: np.ndarray | None = None):
        self.counters = counters
        self.hint = hint  # a normal that parts the points as given (``pos`` above), for the first solve
        self.centre, self.scale = _frame(pos, neg)
        self.d = pos.shape[1]
        self.m = self.d + 2
        # Grown in place (capacity doubles): per point, as given (for the checks and the fallback),
        # its side, and its column of the constraint matrix: side * (centred, scaled point), then
        # the indicator of its side's sum row.
        self._orig = np.empty((0, self.d))
        self._side = np.empty(0, np.int64)
        self._cols = np.empty((0, self.m))
        self._cols32 = np.empty((0, self.m), np.float32)  # the same in single precision, for pricing
        self.rows = 0
        self.reach = 0.0  # the largest norm of a point as given (scales the certificates' rounding)
        self._undo: tuple | None = None
        self._highs: _SlabLP | None = None  # once this LP needed HiGHS, HiGHS keeps it (warm)
        self._solved = False
        self.add(pos, +1)
        self.add(neg, -1)
        self._start()

    orig = property(lambda self: self._orig[:self.rows])
    side = property(lambda self: self._side[:self.rows])
    z = property(lambda self: self._cols[:self.rows, :self.d] * self.side[:, None])  # centred, scaled

    # columns: 0..d-1 are s+_k (e_k), d..2d-1 are s-_k (-e_k), 2d + i is point i (``_cols[i]``)
    def _start(self) -> None:
        d = self.d
        p0 = int(np.flatnonzero(self.side > 0)[0])
        q0 = int(np.flatnonzero(self.side < 0)[0])
        diff = self.z[p0] - self.z[q0]  # row k: diff_k + s+_k - s-_k = 0
        self.basic = np.r_[np.where(diff <= 0, np.arange(d), np.arange(d) + d), 2 * d + p0, 2 * d + q0]
        self._refactor()

    def _refactor(self) -> None:
        """A fresh inverse of the basis (new arrays: ``_from_highs`` keeps the old ones to go back
        to) and the basic values."""
        self.binv = np.empty((self.m, self.m), order="F")  # Fortran order: simplex.walk's updates
        self.x = np.empty(self.m)
        simplex.factor(self.basic, self._cols, self.d, self.binv, self.x)
        self.pivots = 0

    def add(self, pts: np.ndarray, side: int, undoable: bool = False) -> None:
        if self._highs is not None:
            self._highs.add(pts, side, undoable)
        if undoable:
            # (Once HiGHS has the pair, this LP's basis is left as it was: nothing to restore.)
            basis = (self.basic.copy(), self.binv.copy(order="F"), self.x.copy()) if self._highs is None else (
                self.basic, self.binv, self.x)
            self._undo = (len(self.side), *basis, self.pivots, self.reach)
        pts = np.asarray(pts, np.float64)
        self.reach = max(self.reach, float(np.sqrt(np.einsum("ij,ij->i", pts, pts).max(initial=0.0))))
        n, k = self.rows, len(pts)
        if n + k > len(self._side):
            cap = max(2 * len(self._side), n + k, 64)
            self._orig = np.resize(self._orig, (cap, self.d))  # keeps the first n rows
            self._side = np.resize(self._side, cap)
            self._cols = np.resize(self._cols, (cap, self.m))
            self._cols32 = np.resize(self._cols32, (cap, self.m))
        self._orig[n:n + k] = pts
        self._side[n:n + k] = side
        self._cols[n:n + k, :self.d] = side * (pts - self.centre) / self.scale
        self._cols[n:n + k, self.d:] = [1.0, 0.0] if side > 0 else [0.0, 1.0]
        self._cols32[n:n + k] = self._cols[n:n + k]
        self.rows += k

    def footprint(self) -> int:
        """Bytes held: the points' buffers and the basis inverse (and HiGHS's LP, once it has one)."""
        held = self._orig.nbytes + self._cols.nbytes + self._cols32.nbytes + self._side.nbytes + self.binv.nbytes
        return held + (self._highs.footprint() if self._highs is not None else 0)

    def undo(self) -> None:
        if self._highs is not None:
            self._highs.undo()
        n, self.basic, self.binv, self.x, self.pivots, self.reach = self._undo
        self.rows = n
        self._undo = None

    def _iterate(self, max_pivots: int, sift: bool = False) -> bool:
        """Primal simplex from the current (feasible) basis; False if it did not finish.

        ``sift``: a re-solve after new points price, at first, only the SIFT * (d + 2) points that
        price best at its start and the basic ones. Where those reach 0 the hulls overlap, with a
        witness among them (a witness on some of the points is one on all of them); where they do
        not, every point is priced once (in double), and the SIFT * (d + 2) best of those that price
        below 0 join the priced ones; none below 0 is optimal on every point. (Pricing every point
        at every pivot from there on, as before: on all 6,920 SST-2 sentences 105,364 pivots
        against 61,271, 128.4 s against 96.9 s, the same hour; PUD's words 102.6 s against
        79.4 s.) A rejected merge walks from the last separable
        basis to an overlapping one: on 3,000 SST-2 sentences, 408 such walks of 130 pivots (the
        median) all ended inside 2 (d + 2) sifted points, 16.1 s against 20.3 s pricing every point.
        Half of d + 2 (SIFT = 0.5; the basic points are about as many again) walks to an overlap in
        far fewer pivots, though fewer walks end inside: at 3,000, 307 walks against 408, 21,630
        pivots in all against 63,866, 35.2 s against 44.2 s; on all 6,920 sentences 107,571
        pivots against 252,952, 152.8 s against 169.8 s (ad hoc, the same hour; 10 starts from
        HiGHS against 9, where sifting d + 2 points gave 16); on TREC-6's 5,452 questions 44.8 s
        against 47.7 s. (A quarter of d + 2 took the same pivots as a half at 3,000.)
        """
        ended, self.pivots, taken, degenerate, sifted = simplex.walk(
            self.binv, self.x, self.basic, self._cols, self._cols32, self.rows, self.d, max_pivots, sift,
            int(self.SIFT * self.m), self.TOL, self.HARRIS, self.BLAND_AFTER, self.REFACTOR, self.pivots)
        self.counters.pivots += taken
        self.counters.degenerate_pivots += degenerate
        self.counters.sifted += sifted
        return ended == simplex.OPTIMAL

    def solve(self) -> tuple[np.ndarray, float] | None:
        if self._highs is not None:
            return self._highs.solve()
        self.counters.lps += 1
        cold = not self._solved
        self._solved = True
        large = cold and self.rows > COLD_SIMPLEX_ROWS
        # A large cold LP: from the points nearest a plane that parts them where there is one, else
        # from HiGHS's optimal basis; then our own simplex.
        # (_from_plane reorders the rows: not while added rows wait to be undone. A kept LP is
        # first solved when it is made, before any add; this only guards the order.)
        finished = large and self.hint is not None and self._undo is None and self._from_plane()
        imported = large and not finished
        finished = finished or (imported and self._from_highs())
        if not finished:  # else (or where that basis does not carry over) our own simplex
            if imported:
                self._start()  # from scratch
            finished = self._iterate(max_pivots=MAX_PIVOTS_PER_ROW * self.m, sift=not cold)
        for attempt in range(2):
            if finished:
                # A clean inverse for the answer's duals and values (and the next re-solve: without
                # it, 14 restarts from HiGHS on 3,000 SST-2 sentences instead of 4), unless the
                # answer is an overlap that will be undone: then first the inverse as the pivots
                # left it, and a clean one only where its witness does not close.
                undone = self._undo is not None and float((self.basic < 2 * self.d) @ self.x) <= 1e-9
                if self.pivots > 8 and not undone:
                    self._refactor()
                answer = self._certified()
                if answer is False and undone and self.pivots > 0:
                    self._refactor()
                    answer = self._certified()
                if answer is not False:
                    return answer
            if attempt == 0 and not imported:
                # A basis gone ill-conditioned over many updates (a condition number of 1e11 left
                # residuals of 4e-4 on 3,000 SST-2 sentences): start again from HiGHS's optimum.
                finished, imported = self._from_highs(), True
        # No basis from HiGHS either, or no certificate: from now on this pair is HiGHS's slab
        # LP, re-solved warm like before.
        self.counters.lp_fallbacks += 1
        n = self._undo[0] if self._undo is not None else len(self.side)
        self._highs = _SlabLP(self.orig[:n][self.side[:n] > 0], self.orig[:n][self.side[:n] < 0], self.counters)
        if n < len(self.side):  # the pending add stays undoable there
            self._highs.add(self.orig[n:], int(self.side[n]), undoable=True)
        return self._highs.solve()

    def _from_plane(self) -> bool:
        """The first solve of a large LP whose points ``hint`` parts: our simplex from the slack
        basis on the WORKING_SET * (d + 2) points a side nearest the plane, then on every point,
        sifted from that optimum. (The rows are reordered, working set first.) Where a search
        found the plane that HiGHS's interior point method would have found anew, this is 2 to 2.5
        times faster: the 9 such first solves on 6,920 SST-2 sentences 5.8 s against 12.2 s, the 2 on
        PUD's words 2.9 s against 6.6 s, on their own. (Other sizes, the same 9: 150 points a side
        7.5 s, the optimum's points not among them; 300 6.2 s; HiGHS on 200 to 400 a side no faster
        than on all.) False where the walk does not finish; the rows stay reordered."""
        n, k = self.rows, int(WORKING_SET * self.m)
        along = self.orig @ self.hint
        order = np.argsort(np.where(self.side > 0, along, -along), kind="stable")
        pos, neg = order[self.side[order] > 0], order[self.side[order] < 0]
        first = np.r_[pos[:k], neg[:k]]
        order = np.r_[first, pos[k:], neg[k:]]
        for buf in (self._orig, self._side, self._cols, self._cols32):
            buf[:n] = buf[order]
        self.rows = len(first)
        self._start()
        done = self._iterate(max_pivots=COLD_PIVOTS_PER_ROW * self.m)
        self.rows = n
        return done and self._iterate(max_pivots=MAX_PIVOTS_PER_ROW * self.m, sift=True)

    def _from_highs(self) -> bool:
        """Solve the slab LP of the current points once with HiGHS and take its optimal basis,
        complemented, as this LP's basis: a point is basic here where its row is active there, and
        ``s+_k`` (``s-_k``) where ``w_k`` sits at its lower (upper) bound. (The two LPs are each
        other's duals, up to the scale of the weights.) Then a few pivots of our own clean up what
        HiGHS's tolerances left. A large LP is solved by HiGHS's interior point method first
        (INTERIOR_MIN_DIM), and by its dual simplex where that basis fails here (on PUD's words, a
        pair that overlaps: crossover's basis had a condition number of 5e11 and weights down to
        -2.4e-3 here). False when the basis does not carry over (a free variable non-basic there,
        or ``t`` at its bound of 1 on sets far apart; a singular or infeasible basis here) or the
        pivots do not finish; the basis is then the one before."""
        pos = self.side > 0
        order = np.r_[np.flatnonzero(pos), np.flatnonzero(~pos)]  # the points in _SlabLP's row order
        saved = self.basic, self.binv, self.x, self.pivots
        for interior in (True, False):
            self.counters.lp_imports += 1
            slab = _SlabLP(self.orig[pos], self.orig[~pos], self.counters, presolve=False, interior=interior)
            slab._run()
            if self._take_basis(slab, order) and self._iterate(max_pivots=MAX_PIVOTS_PER_ROW * self.m):
                return True
            self.basic, self.binv, self.x, self.pivots = saved
            if not slab.interior_ran:
                break
        return False

    def _take_basis(self, slab: _SlabLP, order: np.ndarray) -> bool:
        """Complement ``slab``'s optimal basis (its rows are the points ``order``) into this LP's
        and factorise it: False where it does not carry over or is singular or infeasible here."""
        import highspy

        status = slab.highs.getBasis()
        lower, upper = highspy.HighsBasisStatus.kLower, highspy.HighsBasisStatus.kUpper
        cols = status.col_status
        at_lower = np.array([cols[k] == lower for k in range(self.d)])
        at_upper = np.array([cols[k] == upper for k in range(self.d)])
        active = np.array([s == upper for s in status.row_status])
        basic = np.r_[np.flatnonzero(at_lower), self.d + np.flatnonzero(at_upper), 2 * self.d + order[active]]
        if len(basic) != self.m:
            return False
        self.basic = basic.astype(np.int64)
        try:
            self._refactor()
        except np.linalg.LinAlgError:
            return False
        return bool(np.isfinite(self.x).all() and self.x.min() >= -1e-9)

    def _certified(self):
        """The answer with its certificate checked on the points, or False."""
        d = self.d
        pos, neg = self.side > 0, self.side < 0
        cost_b = (self.basic < 2 * d).astype(float)
        if float(cost_b @ self.x) <= 1e-9:
            return None if self._overlap_witnessed(cost_b) else False
        pi = cost_b @ self.binv
        w = -pi[:d] / self.scale  # in the original coordinates
        c = float(w @ self.centre + (pi[d] - pi[d + 1]) / 2)
        # A dot product of d terms is exact to about d * 1.1e-16 * |w| |x|: a gap above
        # LP_CERTIFY_RTOL * |w| * max |x| (1e-12, 20 times that for d = 384) cannot be rounding.
        margin = LP_CERTIFY_RTOL * np.linalg.norm(w) * self.reach
        proj = self.orig @ w  # (no copy of the points by side)
        if proj[pos].min() - c > margin and c - proj[neg].max() > margin:
            return w, c
        return False

    def _overlap_witnessed(self, cost_b: np.ndarray) -> bool:
        """Two convex combinations that coincide to WITNESS_TOL: the basis's weights, else NNLS on
        the basis's points, else NNLS on those and the best-priced points."""
        d = self.d
        at = self.basic >= 2 * d
        support = self.basic[at] - 2 * d
        if self._basis_witness_gap(support, self.x[at]) <= WITNESS_TOL:
            return True
        # An ill-conditioned basis can leave small negative weights (-1e-4 at a condition number
        # of 2e11 on 3,000 SST-2 sentences): all the basic points, negative ones included, solved
        # as non-negative least squares with the two sums held at 1, usually close.
        if self._support_witness(support) <= WITNESS_TOL:
            return True
        # Where the drifted basis is not even feasible (weights of -1.5e-4 at a condition number
        # of 4e10 on 6,920 SST-2 sentences), the witness lies among the points that price nearly
        # as well: the basis and the d + 2 best-priced points, NNLS again (0.08 s on 1,183
        # points, where a restart from HiGHS costs seconds).
        priced = np.argsort(self._cols[:self.rows] @ -(cost_b @ self.binv))[:self.m]
        return self._support_witness(np.union1d(support, priced)) <= WITNESS_TOL

    def _basis_witness_gap(self, support: np.ndarray, weights: np.ndarray) -> float:
        """The largest coordinate of the difference of the basis's two convex combinations (its
        weights, negative ones clipped to 0): inf where a side has no weight."""
        sides = self.side[support]
        weights = np.maximum(weights, 0.0)
        lam, mu = weights[sides > 0], weights[sides < 0]
        if lam.sum() <= 0 or mu.sum() <= 0:
            return float("inf")
        # A point's column is its side times its centred, scaled coordinates, so the difference
        # lam.P - mu.Q is one product of the columns with the weights, each side's summing to 1.
        coef = weights / np.where(sides > 0, lam.sum(), mu.sum())
        return float(np.abs(coef @ self._cols[support, :self.d]).max())

    def _support_witness(self, support: np.ndarray) -> float:
        """The closest two convex combinations of the points ``support`` (indices, both sides),
        by NNLS with the weight sums held at 1: the largest coordinate of their difference."""
        from scipy.optimize import nnls

        sides = self.side[support]
        if not ((sides > 0).any() and (sides < 0).any()):
            return float("inf")
        big = 1e3  # weight of the two sum rows
        z = self._cols[support, :self.d] * sides[:, None]  # the points, centred and scaled
        a = np.vstack([(sides[:, None] * z).T, big * (sides > 0), big * (sides < 0)])
        weights, _ = nnls(a, np.r_[np.zeros(self.d), big, big], maxiter=50 * len(support))
        lam, mu = weights[sides > 0], weights[sides < 0]
        if lam.sum() <= 0 or mu.sum() <= 0:
            return float("inf")
        pos, neg = z[sides > 0], z[sides < 0]
        return float(np.abs((lam / lam.sum()) @ pos - (mu / mu.sum()) @ neg).max())


KEPT_LP = _WarmLP  # the LP that clustering keeps between merges (_SlabLP: HiGHS every time)


@_one_blas_thread
def separating_hyperplane(a: np.ndarray, b: np.ndarray, counters: Counters | None = None
                          ) -> tuple[np.ndarray, float] | None:
    """A hyperplane ``(w, c)`` with ``w.x > c`` on ``a`` and ``w.x < c`` on ``b``, in the original
    coordinates, or None when the convex hulls of ``a`` and ``b`` intersect.

    A hyperplane is its own certificate, so cheap candidates are tried first (``_cheap_hyperplane``).
    Only when none separates does the exact LP decide (HiGHS); its optimum ``t* = 0`` is the
    certificate of overlap.
    """
    counters = counters if counters is not None else Counters()
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) == 0 or len(b) == 0:
        raise ConfigError("separability needs two non-empty point sets")
    found = _cheap_hyperplane(a, b)
    if found is not None:
        return found
    counters.lp_pairs += 1
    return _exact_hyperplane(_SlabLP(a, b, counters), a, b)


def _cheap_hyperplane(a: np.ndarray, b: np.ndarray, start: tuple[np.ndarray, float] | None = None,
                      bisector: bool = True, steps: int = LOGISTIC_STEPS,
                      known: tuple[tuple[np.ndarray, float], float] | None = None) -> tuple[np.ndarray, float] | None:
    """The perpendicular bisector of the centroids (unless ``bisector`` is False: a caller that
    checked it already), then the L-BFGS iterates of a weakly regularised logistic regression
    (``_logistic_candidate``), from ``start`` (a hyperplane that nearly separates, ``a`` on
    ``w.x > c``) where given, at most ``steps`` of them: the first that separates, or None. A
    single point against a set gets the search too (PUD's one INTJ word against its 4,015 NOUN
    words: a plane in 0.02 s, where the LPs took 6 s). Each is checked on the points as
    given (no normalised copy: on 6,920 SST-2 sentences, under cProfile, making the copies took
    5.5 s of the 35.2 s the 4,110 searches took). ``known``: ``_frame(a, b)`` and the largest point
    norm, where the caller has them (the same values, without a pass over the points)."""
    if known is None:
        frame = None
        reach = float(np.sqrt(max(np.einsum("ij,ij->i", a, a).max(), np.einsum("ij,ij->i", b, b).max())))
    else:
        frame, reach = known

    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    found = None
    if bisector:
        direction = a.mean(0) - b.mean(0)
        c = float((a @ direction).min() + (b @ direction).max()) / 2
        # (The search's own certificate: every point of ``a`` above ``c``, every point of ``b``
        # below, each by more than the rounding of the products.)
        if logistic.separates(a, b, direction, c, reach, SEPARATION_RTOL):
            found = direction, c
    if found is None and len(a) + len(b) > 2:  # (two single points: the bisector is all there is)
        # (A working set, the 128 points a side nearest the other plus the ones a round gets
        # wrong, was tried: on 3,000 SST-2 sentences the searches took 28.4 s against 16.6 s.)
        found = _logistic_candidate(a, b, reach, start, steps, frame)
    return found


def _exact_hyperplane(lp: _SlabLP, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Solve the slab LP of ``a`` (positive side) and ``b``; check that its hyperplane separates."""
    plane = lp.solve()
    if plane is not None:
        w, c = plane
        if (a @ w).min() <= c or (b @ w).max() >= c:  # pragma: no cover - optimal within tolerance only
            raise RuntimeError("HiGHS returned a hyperplane that does not separate the sets")
    return plane


def _logistic_candidate(a: np.ndarray, b: np.ndarray, reach: float, start: tuple[np.ndarray, float] | None = None,
                        steps: int = LOGISTIC_STEPS, frame: tuple[np.ndarray, float] | None = None):
    """Minimise a weakly regularised logistic loss by L-BFGS (``harness/directprobe/logistic.py``, compiled),
    checking after every step whether the current hyperplane separates every point with a gap above
    rounding (``reach``: the largest point norm); return the first that does, as ``(w, c)`` with
    ``a`` on ``w.x > c``, or None after ``steps``. The loss sees the points centred and scaled
    (``_frame``), and starts from ``start`` (``a`` on ``w.x > c``) where given, else from 0.

    On separable data the logistic loss has no finite minimiser and its iterates head for a
    separating direction, usually in tens of steps (TREC-6 pairs at 3,000 points: 29 to 99 steps,
    0.3 to 0.9 s, where the LP takes 2.5 to 4.8 s); on overlapping data L-BFGS converges and the
    LP decides.
    """
    centre, scale = _frame(a, b) if frame is None else frame
    w0 = np.zeros(a.shape[1] + 1) if start is None else np.r_[start[0] * scale, start[0] @ centre - start[1]]
    found, normal, offset, _ = logistic.search(a, b, centre, float(scale), reach, SEPARATION_RTOL, w0, 1e-6, steps)
    return (normal, float(offset)) if found else None


def separable(a: np.ndarray, b: np.ndarray, counters: Counters | None = None) -> bool:
    """True iff the convex hulls of the two point sets are disjoint (exact, by LP)."""
    return separating_hyperplane(a, b, counters) is not None


def _labels_separable(a: np.ndarray, b: np.ndarray, counters: Counters) -> bool:
    """``separable`` for two whole labels: the cheap hyperplanes, with up to LABEL_LOGISTIC_STEPS
    logistic steps, then ``_labels_apart_by_lp``. (``cluster`` takes the two steps apart, so that
    only the LPs go to threads; this one-pair form is the one the tests hold against a brute-force
    LP.)"""
    return _cheap_hyperplane(a, b, steps=LABEL_LOGISTIC_STEPS) is not None or _labels_apart_by_lp(a, b, counters)


def _labels_apart_by_lp(a: np.ndarray, b: np.ndarray, counters: Counters) -> bool:
    """Whether two whole labels are apart, by LP, with one more step before the LP on every point:
    the LP on a sample of SAMPLE_PER_SIDE * (d + 2) points of each (fixed seed), whose overlap, if
    its witness closes, is the labels' (a witness among some points is one among all). On all 6,920
    SST-2 training sentences the label level took 6.2 s, with the sample 2.2 s. A sample that is
    separable decides nothing: the LP on every point follows. So the sample is taken only where it
    is at most a quarter of the points: on TREC-6 (about 1,100 questions a label) one pair's sample
    missed the overlap, and the label level took 8.5 s instead of 7.0 s."""
    counters.lp_pairs += 1
    k = SAMPLE_PER_SIDE * (a.shape[1] + 2)
    if 4 * (min(len(a), k) + min(len(b), k)) <= len(a) + len(b):  # (a quarter of the points at most)
        rng = np.random.default_rng(0)
        sample = [s[np.sort(rng.choice(len(s), k, replace=False))] if len(s) > k else s for s in (a, b)]
        lp = _SlabLP(*sample, counters, presolve=False)
        if lp._run()[-1] <= LP_MARGIN_TOL and lp.witness_gap() <= WITNESS_TOL:
            return False
    # (Without presolve: on the overlapping label pairs of TREC-6 and of 3,000 and 1,500 SST-2
    # sentences, 2.07, 3.34, 2.60 and 1.54 s against 2.88, 3.51, 2.96 and 1.95 s.)
    return _exact_hyperplane(_SlabLP(a, b, counters, presolve=False), a, b) is not None


@_one_blas_thread
def hull_distance(a: np.ndarray, b: np.ndarray, counters: Counters | None = None,
                  known_separable: bool = False, support: list | None = None) -> float:
    """Euclidean distance between the convex hulls of ``a`` and ``b``: twice the hard-margin SVM
    margin; 0 when the hulls intersect (decided by LP).

    For separable sets it is the norm of the minimum-norm point of the Minkowski difference
    ``conv(a) - conv(b)``, found by Wolfe's (1976) finite algorithm with the difference's vertices
    generated on demand (the vertex minimising ``z . v`` is ``argmin a.z`` minus ``argmax b.z``).
    The result is certified: the point found bounds the distance from above, its supporting
    hyperplane from below, and the two agree to ``CERTIFY_RTOL``; where the hulls nearly touch,
    the upper bound is returned once it is below ``DISTANCE_ATOL`` (times the data's scale), which
    is then the distance's absolute accuracy.

    ``support`` (a list, filled in): the rows of ``a`` and of ``b`` that the closest points are
    convex combinations of (``None`` where the hulls intersect).
    """
    counters = counters if counters is not None else Counters()
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if not known_separable and separating_hyperplane(a, b, counters) is None:
        if support is not None:
            support[:] = [None, None]
        return 0.0
    na, nb, _, scale = _normalise(a, b)
    counters.distances += 1
    return _min_norm_difference(na, nb, abs_tol=DISTANCE_ATOL, support=support) * scale


def _min_norm_difference(a: np.ndarray, b: np.ndarray, max_iter: int = 10_000, abs_tol: float = 0.0,
                         support: list | None = None) -> float:
    """Wolfe's algorithm on ``conv(a) - conv(b)``. The corral's Gram matrix is kept up to date as
    points come and go, and each minor cycle solves the affine minimiser through a Cholesky factor
    of ``S S^T + 1 1^T`` (positive definite while the corral is affinely independent, as Wolfe's
    corrals are; least squares on the KKT system where rounding says otherwise). Only the certified
    bounds decide the result, so the minor cycle's rounding can cost iterations, never accuracy.

    ``support``, where given, receives the rows of ``a`` and of ``b`` whose differences make up
    the final corral: the returned point is a convex combination of them, so any subsets of ``a``
    and ``b`` that keep these rows are at the same distance (see :func:`replicate_label_distances`)."""
    d = a.shape[1]
    cap = d + 2  # a corral is affinely independent: at most d + 1 points, plus the one entering
    pts = np.empty((cap, d))
    gram = np.empty((cap, cap))
    rows = np.empty((cap, 2), np.intp)  # the rows of a and b behind each corral point

    def vertex(z: np.ndarray) -> tuple[np.ndarray, int, int]:
        i, j = int(np.argmin(a @ z)), int(np.argmax(b @ z))
        return a[i] - b[j], i, j

    def done(value: float) -> float:
        if support is not None:
            support[:] = [np.unique(rows[:k, 0]), np.unique(rows[:k, 1])]
        return value

    pts[0], *rows[0] = vertex(b.mean(0) - a.mean(0))  # start at the vertex nearest the centroids' gap
    gram[0, 0] = pts[0] @ pts[0]
    k = 1
    weights = np.array([1.0])
    x = pts[0].copy()
    for _ in range(max_iter):
        q, qa, qb = vertex(x)
        xx = float(x @ x)
        if xx == 0.0:
            return done(0.0)  # a shared point: the hulls touch
        if xx <= abs_tol * abs_tol:  # the distance lies in [0, |x|]: |x| is within abs_tol of it
            return done(float(np.sqrt(xx)))
        if xx - float(x @ q) <= CERTIFY_RTOL * xx:  # lower bound x.q/|x| within rtol of |x|
            upper = np.sqrt(xx)
            lower = float(x @ q) / upper
            if upper - lower > CERTIFY_RTOL * upper:  # pragma: no cover - by the stopping rule
                raise RuntimeError("hull distance not certified")
            return done(float(upper))
        if k == cap:  # pragma: no cover - Wolfe's corrals stay affinely independent
            raise RuntimeError("Wolfe's corral outgrew the dimension")
        pts[k] = q
        rows[k] = qa, qb
        gram[k, : k + 1] = gram[: k + 1, k] = pts[: k + 1] @ q
        k += 1
        weights = np.append(weights, 0.0)
        while True:  # minor cycle: affine minimiser of the corral, kept inside its convex hull
            alpha = _affine_minimiser(gram[:k, :k])
            if (alpha > 1e-12).all():
                weights = alpha
                break
            neg = alpha <= 1e-12
            with np.errstate(divide="ignore", invalid="ignore"):
                ratios = weights[neg] / (weights[neg] - alpha[neg])
            theta = float(np.min(ratios[np.isfinite(ratios)], initial=1.0))
            weights = theta * alpha + (1 - theta) * weights
            keep = np.flatnonzero(weights > 1e-12)
            pts[: len(keep)] = pts[keep]
            rows[: len(keep)] = rows[keep]
            gram[: len(keep), : len(keep)] = gram[np.ix_(keep, keep)]
            k = len(keep)
            weights = weights[keep] / weights[keep].sum()
        x = weights @ pts[:k]
    raise RuntimeError("Wolfe's algorithm did not converge")  # pragma: no cover


def _affine_minimiser(gram: np.ndarray) -> np.ndarray:
    """The weights (summing to 1) of the point of least norm in the affine hull of points with
    Gram matrix ``gram``: ``M^-1 1 / 1^T M^-1 1`` with ``M = gram + 1 1^T``, since on the
    hyperplane ``sum(alpha) = 1`` the quadratic forms of ``gram`` and ``M`` differ by a constant."""
    k = len(gram)
    factor, info = _potrf(gram + 1.0, lower=1)  # LAPACK directly: scipy's wrappers cost as much
    if info == 0:  #                                as the solve itself on these small systems
        alpha, info = _potrs(factor, np.ones(k), lower=1)
        total = alpha.sum()
        if info == 0 and np.isfinite(total) and total > 0:
            return alpha / total
    kkt = np.zeros((k + 1, k + 1))  # nearly affinely dependent: least squares on the KKT system
    kkt[:k, :k] = gram
    kkt[:k, k] = kkt[k, :k] = 1.0
    rhs = np.zeros(k + 1)
    rhs[k] = 1.0
    return np.linalg.lstsq(kkt, rhs, rcond=None)[0][:k]


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
    __slots__ = ("idx", "label", "centroid", "radius", "witnesses", "alive", "pts", "norms2", "hi", "lo", "total",
                 "buf")

    def __init__(self, idx: np.ndarray, label: int, pts: np.ndarray, parts: tuple[_Cluster, ...] = ()):
        """A cluster of the points ``pts`` (``x[idx]``); ``parts``: the two clusters it merges
        (``pts`` their points in that order), whose summaries combine into its own."""
        self.idx, self.label = idx, label
        # Its points (``x[idx]``), kept while it lives: a merge puts its parts' together (``merge``)
        # instead of gathering them from x, and the checks read them with no copy (at most two
        # copies of x in all, 130 MB for PUD's 21,180 words; on 6,920 SST-2 sentences gathering the points of the
        # clusters near a merge, to project them on their bisectors, took 10.9 of 115 s). With
        # them, their squared norms and the coordinates' bounds (a logistic search's frame and
        # rounding allowance, ``_Agglomeration.separate``), combined from the parts' at a merge.
        self.pts = pts
        self.buf: np.ndarray | None = None  # the array ``pts`` is the head of, where ``merge`` made it
        if parts:
            self.norms2 = np.concatenate([p.norms2 for p in parts])
            self.hi = np.maximum(parts[0].hi, parts[1].hi)
            self.lo = np.minimum(parts[0].lo, parts[1].lo)
            self.total = np.cumsum(np.concatenate([parts[0].total[None], parts[1].pts]), axis=0)[-1]
        else:
            self.norms2 = np.einsum("ij,ij->i", pts, pts)
            self.hi, self.lo = pts.max(0), pts.min(0)
            self.total = np.cumsum(pts, axis=0)[-1]
        # The points' sum row after row (a cumulative sum): a merge's is its first part's, then the
        # second part's rows, the same bits as summing the merged points afresh. (It is also
        # ``pts.mean(0)``'s sum where there are two coordinates or more: numpy sums the first axis
        # of a C-ordered array in order; a single column it sums pairwise.)
        self.centroid = c = self.total / len(pts)
        # The radius from |x|^2 - 2 x.c + |c|^2 (one product, no copy of the points less c), with
        # (d + 2) * 2.3e-16 * (|x| + |c|)^2 added, twice the rounding of its terms at worst, so that
        # it bounds the distances from above: a bounding sphere that is too small could drop a cluster that
        # overlaps from a check. (4.7 of 6.3 s of clustering 6,920 SST-2 sentences went to the
        # radius computed from the points less c.)
        cc = float(c @ c)
        top = float(np.sqrt(self.norms2.max())) + np.sqrt(cc)
        self.radius = float(np.sqrt(max(float((self.norms2 - 2.0 * (pts @ c)).max()) + cc, 0.0)
                                    + (pts.shape[1] + 2) * 2.3e-16 * top * top))
        # Hyperplanes (w, c) with this cluster on w.x < c, and the cluster's highest w.x: a later
        # cluster entirely above that is apart from this one (a test strictly weaker than w.x > c).
        self.witnesses: list[tuple[np.ndarray, float, float]] = []
        self.alive = True

    @classmethod
    def merge(cls, first: _Cluster, second: _Cluster) -> _Cluster:
        """The cluster of ``first``'s points, then ``second``'s. They go on ``first``'s buffer where
        it has room beyond ``first``'s own rows (``buf``; ``first`` keeps only its head, and a merge
        that is rejected leaves it as it was), else on a new one with room for as many again, so
        that a merge copies the smaller part's points only (``run`` puts the larger part first):
        on 6,920 SST-2 sentences, 9,125 merges tried, concatenating both parts' points took 1.7 s
        and their mean 1.4 s (line profiler), as a large cluster grows a point at a time."""
        n, k = len(first.idx), len(first.idx) + len(second.idx)
        buf = first.buf
        if buf is None or len(buf) < k:
            buf = np.empty((max(2 * k, 64), first.pts.shape[1]))
            buf[:n] = first.pts
        buf[n:k] = second.pts
        merged = cls(np.concatenate([first.idx, second.idx]), first.label, buf[:k], (first, second))
        merged.buf = buf
        return merged


@_one_blas_thread
def cluster(x, y, counters: Counters | None = None, threads: int = 1) -> Clusters:
    """DirectProbe clustering (see the module docstring). ``threads``: the CPUs it may use. With
    more than one, the label level's LPs run on ``threads - 1`` threads while the agglomeration
    runs (``_LabelLPs``); the agglomeration itself is sequential."""
    x, y, num_labels = _check_input(x, y)
    if not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"DirectProbe's threads must be a whole number, at least 1; got {threads!r}")
    counters = counters if counters is not None else Counters()
    labels = range(num_labels)
    by_label = {lab: np.flatnonzero(y == lab) for lab in labels}

    # 1. Label level: which whole labels are separable from which: the cheap hyperplanes here, the
    # LPs here too on one thread, else in the background, each pair counted as overlapping until
    # its LP shows it apart.
    background = None
    if threads > 1:
        overlap, hard = _label_pairs_left(x, by_label)
        background = _LabelLPs(x, by_label, hard, overlap, threads - 1) if hard else None
    else:
        overlap = _label_overlaps(x, by_label, counters)

    clusters: list[_Cluster] = []
    for lab in labels:
        if not overlap[lab].any():  # separable from every other label: one cluster
            clusters.append(_Cluster(by_label[lab], lab, x[by_label[lab]]))
        else:
            clusters.extend(_Cluster(np.array([i]), lab, x[i:i + 1]) for i in by_label[lab])

    # 2. Agglomerative merging among labels that overlap some other label.
    try:
        _Agglomeration(x, clusters, overlap, counters, background).run()
    finally:
        if background is not None:
            background.settle(counters, wait=True)

    alive = [c for c in clusters if c.alive]
    alive.sort(key=lambda c: (c.label, int(c.idx.min())))  # canonical order, independent of input order
    assignment = np.empty(len(x), np.int64)
    for k, c in enumerate(alive):
        assignment[c.idx] = k
    return Clusters(assignment, np.array([c.label for c in alive], np.int64), num_labels, counters)


def _label_pairs_left(x: np.ndarray, by_label: dict[int, np.ndarray]) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The label level's cheap step: an all-False overlap matrix (labels by labels) and the label
    pairs whose cheap hyperplanes (up to LABEL_LOGISTIC_STEPS logistic steps) found no plane, the
    pairs with the most points first: those go to ``_label_lp``."""
    num_labels = len(by_label)
    hard = [(i, j) for i, j in combinations(range(num_labels), 2)
            if _cheap_hyperplane(x[by_label[i]], x[by_label[j]], steps=LABEL_LOGISTIC_STEPS) is None]
    hard.sort(key=lambda p: -(len(by_label[p[0]]) + len(by_label[p[1]])))
    return np.zeros((num_labels, num_labels), bool), hard


def _label_lp(x: np.ndarray, by_label: dict[int, np.ndarray], pair: tuple[int, int]) -> tuple[Counters, bool]:
    """One label pair's ``_labels_apart_by_lp``, on its own counters (its answer and counts do not
    depend on which thread runs it or when)."""
    own = Counters()
    return own, _labels_apart_by_lp(x[by_label[pair[0]]], x[by_label[pair[1]]], own)


def _label_overlaps(x: np.ndarray, by_label: dict[int, np.ndarray], counters: Counters) -> np.ndarray:
    """Which whole labels overlap which (a symmetric boolean matrix): ``_labels_separable`` on
    every pair of labels, one after the other (``cluster`` on one thread does the same)."""
    overlap, hard = _label_pairs_left(x, by_label)
    for pair in hard:
        own, apart = _label_lp(x, by_label, pair)
        counters.add(own)
        overlap[pair] = overlap[pair[::-1]] = not apart
    return overlap


class _LabelLPs:
    """The label pairs' LPs on a pool of threads while the agglomeration runs (``cluster`` with
    ``threads`` > 1). Until its LP answers, a pair counts as overlapping (``overlap`` is set so
    here). That changes no cluster: merges are tried in the same order whatever the matrix says,
    and a pair of labels that are apart never rejects a merge, so counting it as overlapping only
    adds checks that find planes (a label apart from every other still ends as one cluster, merged
    point by point). What it saves is the wait: where the LP shows the pair overlapping, as on the
    overlapping pairs of TREC-6, SST-2 and PUD, the agglomeration did not need its answer.
    ``settle`` takes the answers that are in (the agglomeration calls it before each merge): a pair
    shown apart is no longer checked. HiGHS releases the GIL, so the LPs run beside the
    agglomeration's Python. (Before, the LPs ran side by side on every thread and the agglomeration
    waited for them: TREC-6's two overlapping pairs, 3.56 s on 2 threads against 6.33 s.)"""

    def __init__(self, x: np.ndarray, by_label: dict[int, np.ndarray], hard: list[tuple[int, int]],
                 overlap: np.ndarray, workers: int):
        from concurrent.futures import ThreadPoolExecutor

        self.overlap = overlap
        for i, j in hard:
            overlap[i, j] = overlap[j, i] = True
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="directprobe-labels")
        self.futures = {pair: self.pool.submit(_label_lp, x, by_label, pair) for pair in hard}

    def settle(self, counters: Counters, wait: bool = False) -> None:
        """Take the answers in (all of them, waiting, where ``wait``; an LP's error is raised here)."""
        try:
            for pair, future in list(self.futures.items()):
                if wait or future.done():
                    own, apart = future.result()
                    del self.futures[pair]
                    counters.add(own)
                    self.overlap[pair] = self.overlap[pair[::-1]] = not apart
        finally:
            if wait:
                self.pool.shutdown(wait=True, cancel_futures=True)


class _Planes:
    """One cluster's planes against other-label clusters, grown in place: row i has every point of
    the cluster above ``tops[i]`` along ``normals[i]`` and every point of cluster ``others[i]`` at
    or below it (``others[i]`` is -1 once the row is void). A merge voids the rows its new points
    break and appends the planes found for it, so nothing is copied per merge."""

    def __init__(self, d: int):
        self.others = np.empty(0, np.int64)
        self.normals = np.empty((0, d))
        self.norms = np.empty(0)  # |normals[i]|: the rounding allowance of each check
        self.tops = np.empty(0)
        self.n = 0

    def append(self, others: list, normals: list, tops: list) -> None:
        k = len(others)
        if self.n + k > len(self.tops):
            cap = max(2 * len(self.tops), self.n + k, 64)
            self.others = np.resize(self.others, cap)
            self.normals = np.resize(self.normals, (cap, self.normals.shape[1]))
            self.norms = np.resize(self.norms, cap)
            self.tops = np.resize(self.tops, cap)
        end = self.n + k
        self.others[self.n:end] = others
        self.normals[self.n:end] = normals
        self.norms[self.n:end] = np.linalg.norm(self.normals[self.n:end], axis=1)
        self.tops[self.n:end] = tops
        self.n = end

    def holding(self, pts: np.ndarray, reach: float) -> np.ndarray:
        """Which rows the points ``pts`` keep: all of them above the row's top, by more than rounding."""
        n = self.n
        low = (pts @ self.normals[:n].T).min(0)
        return (low - self.tops[:n] > SEPARATION_RTOL * self.norms[:n] * reach) & (self.others[:n] >= 0)

    def current(self, live: np.ndarray) -> np.ndarray:
        """Which rows are neither void nor against a cluster no longer alive (``live``, by cluster)."""
        others = self.others[:self.n]
        return (others >= 0) & live[np.maximum(others, 0)]

    def compact(self, live: np.ndarray, limit: int) -> None:
        """Drop the void rows and those of clusters no longer alive, and the oldest beyond ``limit``."""
        keep = np.flatnonzero(self.current(live))[-limit:]
        k = len(keep)
        self.others[:k], self.normals[:k] = self.others[keep], self.normals[keep]
        self.norms[:k], self.tops[:k] = self.norms[keep], self.tops[keep]
        self.n = k


class _Agglomeration:
    """Merge closest same-label pairs (centroid distance) while no hull overlap is created.

    Each cluster keeps its nearest acceptable partner and its distance (``partner``, ``pdist``,
    inf for the dead and the partnerless), always current, so the next pair to try is the argmin
    of ``pdist``: the smallest distance, then the lower cluster number, the order a heap of
    ``(distance, a, b)`` would give. (Where ``commit`` kept only bounds on the distance, ``pdist``
    is the lower one, ``loose`` says so, and ``run`` makes it exact when it comes first: the
    argmin is then exact, as every other entry is at most its cluster's distance.) (A heap with lazily invalidated entries did that before:
    on 3,000 SST-2 sentences it popped a million stale entries for 3,402 merges, 4.4 s, where
    the argmin costs microseconds a merge.) The centroids of each label live in one array, a merged cluster taking the slot of one of its
    parts, so a nearest-partner search is one matrix-vector product with no copy.

    LPs that had to be solved are kept (``KEPT_LP``; the most recently used one, and others up to
    LP_BYTES_KEPT bytes, least recently used first out): when a cluster with a kept LP against
    another cluster grows, the new points join that LP and it goes on from its optimal basis.
    """

    def __init__(self, x: np.ndarray, clusters: list[_Cluster], overlap: np.ndarray, counters: Counters,
                 background: _LabelLPs | None = None):
        self.x, self.clusters, self.overlap, self.counters = x, clusters, overlap, counters
        self.background = background  # the label level's LPs still running (their answers: ``overlap``)
        self.reach = float(np.sqrt((x**2).sum(1).max()))  # the largest point norm: scales rounding
        cap = 2 * len(clusters) + 1
        self.cents = np.zeros((cap, x.shape[1]))
        self.labels = np.full(cap, -1)
        self.alive = np.zeros(cap, bool)
        self.radii = np.zeros(cap)
        self.sq = np.zeros(cap)  # squared norms of the centroids
        self.sq_max = 0.0  # the largest squared norm seen: a scale for near-ties
        self.partner = np.full(cap, -1)
        self.pdist = np.full(cap, np.inf)
        self.pup = np.full(cap, np.inf)  # pdist's upper bound, where it is only bounded (``commit``)
        self.loose = np.zeros(cap, bool)  # pdist a lower bound, not the exact distance
        self.marks = np.zeros(cap, bool)  # all False between calls of ``among``
        self.second = np.full(cap, np.inf)  # a lower bound on the distance to every other candidate
        self.rejected: dict[int, set[int]] = {}
        # Per label: the centroids by slot, their squared norms (inf where the slot is free), and
        # which cluster holds each slot.
        self.slot = np.full(cap, -1)
        self.slot_cents: dict[int, np.ndarray] = {}
        self.slot_sq: dict[int, np.ndarray] = {}
        self.slot_owner: dict[int, np.ndarray] = {}
        self.lps: OrderedDict[frozenset[int], tuple[_SlabLP, int]] = OrderedDict()  # pair -> (LP, positive side)
        self.pending: list[tuple] = []  # LPs touched by the merge being checked
        # Per cluster of PLANES_MIN_POINTS points or more: the other-label clusters it is known to
        # be apart from, one plane each (_Planes). A merge re-checks only the smaller part's points
        # against the larger part's planes.
        self.planes: dict[int, _Planes] = {}
        # The planes found for the merge in progress: per other-label cluster shown apart, the
        # plane's normal, that cluster's highest point along it and the merged cluster's lowest.
        self.found: tuple[list, list, list, list] = ([], [], [], [])
        self.holding: tuple[int, np.ndarray] | None = None  # (larger part, its rows the merge keeps)

        agglomerated = [k for k, c in enumerate(clusters) if overlap[c.label].any()]
        for k in range(len(clusters)):
            self.register(k)
        for lab in {clusters[k].label for k in agglomerated}:
            own = [k for k in agglomerated if clusters[k].label == lab]
            self.slot[own] = np.arange(len(own))
            self.slot_cents[lab] = self.cents[own].copy()
            self.slot_sq[lab] = self.sq[own].copy()
            self.slot_owner[lab] = np.array(own)
        self.nearest(agglomerated)

    def register(self, k: int) -> None:
        c = self.clusters[k]
        self.cents[k], self.labels[k], self.alive[k], self.radii[k] = c.centroid, c.label, True, c.radius
        self.sq[k] = c.centroid @ c.centroid
        self.sq_max = max(self.sq_max, self.sq[k])

    def nearest(self, rows, known: dict[int, np.ndarray] | None = None) -> None:
        """Each row's nearest live same-label cluster not rejected with it (``partner``, ``pdist``).

        One matrix product per label finds the candidates (``|c|^2 - 2 c.c' + |c'|^2``), then the
        exact distances of the near-minimal ones decide, the lower cluster number breaking exact
        ties, so the choice is the one a loop over exact distances would make. The second smallest
        value, less the rounding allowance, bounds the distance to every other candidate from
        below (``second``): ``commit`` uses it to skip most searches. ``known``: rows whose products
        with their label's slots (``c.c'``) the caller has computed already (``commit``: the merged
        cluster's).
        """
        rows = np.asarray(rows, np.int64)
        known = known or {}
        for lab in np.unique(self.labels[rows]).tolist():
            cents, sqs, owner = self.slot_cents[lab], self.slot_sq[lab], self.slot_owner[lab]
            batch = rows[self.labels[rows] == lab]
            for start in range(0, len(batch), 256):  # bounded memory: 256 x slots
                sub = batch[start:start + 256]
                fresh = np.array([r not in known for r in sub.tolist()])
                prod = np.empty((len(sub), len(cents)))
                prod[fresh] = self.cents[sub[fresh]] @ cents.T
                for i in np.flatnonzero(~fresh).tolist():
                    prod[i] = known[int(sub[i])]
                d2 = self.sq[sub][:, None] - 2.0 * prod + sqs[None, :]
                d2[np.arange(len(sub)), self.slot[sub]] = np.inf
                for i, a in enumerate(sub.tolist()):
                    gone = [self.slot[r] for r in self.rejected.get(a, ())]  # all live: see commit
                    d2[i, gone] = np.inf
                first = d2.argmin(1)
                best = d2[np.arange(len(sub)), first]
                found = np.isfinite(best)
                slack = 1e-8 * (self.sq[sub] + self.sq_max)
                within = d2 <= (best + slack)[:, None]
                runner_up = np.partition(d2, 1, axis=1)[:, 1] if d2.shape[1] > 1 else np.full(len(sub), np.inf)
                self.second[sub] = np.sqrt(np.maximum(runner_up - slack, 0.0))
                choice = owner[first]
                dist = _row_distances(self.cents[choice], self.cents[sub])
                for i in np.flatnonzero(found & (within.sum(1) > 1)).tolist():
                    near = owner[within[i]]  # near-ties: the exact distance, then the lower number
                    exact = _row_distances(self.cents[near], self.cents[sub[i]])
                    k = np.lexsort((near, exact))[0]
                    choice[i], dist[i] = near[k], exact[k]
                self.partner[sub] = np.where(found, choice, -1)
                self.pdist[sub] = self.pup[sub] = np.where(found, dist, np.inf)
                self.loose[sub] = False

    def run(self) -> None:
        while True:
            if self.background is not None and self.background.futures:
                self.background.settle(self.counters)
            a = int(np.argmin(self.pdist))
            if not np.isfinite(self.pdist[a]):
                return
            if self.loose[a]:  # a lower bound came first: the exact distance, then the argmin again
                self.tighten([a])
                continue
            b = int(self.partner[a])
            if not self.alive[b] or b in self.rejected.get(a, ()):  # pragma: no cover - kept current
                self.nearest([a])
                continue
            self.counters.merges_tried += 1
            merged = _Cluster.merge(*(self.clusters[k] for k in self.parts(a, b)))
            overlaps = self.overlaps_other_label(merged, a, b)
            if overlaps:
                self.settle_lps(a, b, None)
                self.counters.merges_rejected += 1
                self.rejected.setdefault(a, set()).add(b)
                self.rejected.setdefault(b, set()).add(a)
                self.nearest([a, b] if self.partner[b] == a else [a])  # (b's partner, if another, stays)
                continue
            self.commit(merged, a, b)

    def commit(self, merged: _Cluster, a: int, b: int) -> None:
        for k in (a, b):
            self.clusters[k].alive = False
            self.alive[k] = False
            self.pdist[k] = np.inf
        self.clusters.append(merged)
        m = len(self.clusters) - 1
        self.register(m)
        self.settle_lps(a, b, m)
        if len(merged.idx) >= PLANES_MIN_POINTS:
            # The larger part's planes that the smaller part's points keep, then those just found.
            planes = None
            if self.holding is not None:  # set by the check of this merge
                big, holds = self.holding
                planes = self.planes.pop(big)
                planes.others[:planes.n][~holds] = -1
                self.turn_over(planes, np.flatnonzero(holds), m)
            if self.found[0]:
                planes = planes if planes is not None else _Planes(self.x.shape[1])
                planes.append(*self.found[:3])
            if planes is not None:
                # Rows void or against clusters gone (merged since): dropped once they are half.
                # (Void ones only, before: at 6,920 SST-2 sentences the planes checked at a merge
                # were 2,260 rows on average, 570 void and 726 against clusters gone.)
                stale = planes.n - int(np.count_nonzero(planes.current(self.alive)))
                if 2 * stale > planes.n or planes.n > MAX_PLANES:
                    planes.compact(self.alive, MAX_PLANES)
                self.planes[m] = planes
        self.planes.pop(a, None)
        self.planes.pop(b, None)
        for k in (a, b):  # (settle_lps read them; m holds the larger part's buffer now)
            self.clusters[k].pts = self.clusters[k].buf = None
        self.holding = None
        # The same planes turned over show each other cluster apart from m: that cluster above m's
        # lowest point, m below. Those that keep planes get them, so their next merges re-check
        # only their smaller part against m (on 6,920 SST-2 sentences a large cluster otherwise
        # met each newly merged cluster of the other label with a logistic search on all its points).
        others, normals, _, lows = self.found
        for i in [i for i, o in enumerate(others) if o in self.planes]:
            store = self.planes[others[i]]
            store.append([m], [-normals[i]], [-lows[i]])
            if store.n > 2 * MAX_PLANES:  # (a cluster that does not merge for long gains a row a merge)
                store.compact(self.alive, MAX_PLANES)
        lab = merged.label
        self.slot[m] = self.slot[a]  # m takes a's slot; b's is freed
        self.slot_cents[lab][self.slot[m]] = merged.centroid
        self.slot_sq[lab][self.slot[m]] = self.sq[m]
        self.slot_owner[lab][self.slot[m]] = m
        self.slot_sq[lab][self.slot[b]] = np.inf
        if SLOTS_LIVE_MIN * len(self.slot_sq[lab]) > np.count_nonzero(np.isfinite(self.slot_sq[lab])):
            self.compact_slots(lab)
        # Rejections are inherited: if a + e overlapped some cluster f of another label, then m + e
        # overlaps the cluster f is part of now (hulls only grow), so m and e never merge either.
        banned = self.rejected.pop(a, set()) | self.rejected.pop(b, set())
        for e in banned:
            self.rejected[e] -= {a, b}
            self.rejected[e].add(m)
        self.rejected[m] = banned
        # m's distance to each live same-label cluster: from lower bounds by |c|^2 - 2 c.c' + |c'|^2
        # over the label's slots (no copy of thousands of centroids; 44% of commit's time before),
        # exact where m may be nearer than the distance it is compared with below.
        sqs = self.slot_sq[lab]
        prod = self.slot_cents[lab] @ self.cents[m]  # (nearest's search for m below takes it too)
        d2 = sqs - 2.0 * prod + self.sq[m]  # inf at free slots
        d2[self.slot[m]] = np.inf
        live = np.flatnonzero(np.isfinite(d2))
        same = self.slot_owner[lab][live]
        allowance = 1e-8 * (sqs[live] + self.sq[m])  # (nearest's)
        low, high = np.sqrt(np.maximum(d2[live] - allowance, 0.0)), np.sqrt(d2[live] + allowance)
        # Update each same-label cluster's nearest partner without a search where the bounds allow:
        # one whose partner is gone takes m if m is strictly nearer than every other candidate can
        # be (``second``); another takes m if m is strictly nearer than its partner. Where the bounds
        # decide, the distance kept is loose (``loose``: between ``pdist`` and ``pup``), to be made
        # exact when the cluster's pair comes first (``run``) or decides a comparison here: on
        # 6,920 SST-2 sentences a merged cluster replaced the nearest partner of 428 clusters a
        # merge (the mean), whose exact distances took 3.1 s, and most were replaced again before
        # their pair came first.
        allowed = ~self.among(same, np.fromiter(banned, np.int64, len(banned)))
        partner = self.partner[same]
        orphan = (partner == a) | (partner == b) | (partner == -1)
        bar_low = np.where(orphan, self.second[same], self.pdist[same])  # what m's distance must be below
        bar_high = np.where(orphan, self.second[same], self.pup[same])
        unsure = np.flatnonzero(allowed & (low < bar_high) & (high >= bar_low))
        if len(unsure):  # exact distances decide: m's, and the partner's where loose
            low[unsure] = high[unsure] = _row_distances(self.cents[same[unsure]], self.cents[m])
            bounded = unsure[~orphan[unsure] & self.loose[same[unsure]]]  # partners known by bounds only
            self.tighten(same[bounded])
            bar_low[bounded] = self.pdist[same[bounded]]
        nearer = allowed & (high < bar_low)
        adopt, closer = orphan & nearer, ~orphan & nearer
        farther = ~orphan & allowed & ~closer  # (low is a lower bound: second stays a lower bound)
        self.second[same[closer]] = np.minimum(self.second[same[closer]], self.pdist[same[closer]])
        self.second[same[farther]] = np.minimum(self.second[same[farther]], low[farther])
        take = same[nearer]
        self.partner[take], self.pdist[take], self.pup[take] = m, low[nearer], high[nearer]
        self.loose[take] = low[nearer] < high[nearer]
        self.nearest([m, *same[orphan & ~adopt].tolist()], known={m: prod})

    def among(self, clusters: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """``np.isin(clusters, ids)`` for cluster numbers, by marking ``ids`` in an array of flags
        (``np.isin`` sorts both: on 6,920 SST-2 sentences the whole run took 65.7 s with it and
        58.9 s with this, the same run)."""
        self.marks[ids] = True
        found = self.marks[clusters]
        self.marks[ids] = False
        return found

    def tighten(self, rows: np.ndarray) -> None:
        """The exact distances of the clusters ``rows`` to their partners (no longer loose)."""
        rows = np.asarray(rows, np.int64)
        if len(rows):
            self.pdist[rows] = self.pup[rows] = _row_distances(self.cents[self.partner[rows]], self.cents[rows])
            self.loose[rows] = False

    def turn_over(self, planes: _Planes, rows: np.ndarray, m: int) -> None:
        """The rows ``rows`` of the merged cluster ``m``'s planes (inherited from its larger part
        and kept by its smaller part's points), turned over into the stores of the clusters they
        show apart from m: such a cluster o lies at or below ``top`` along the normal, m above
        ``top + tol`` (``tol`` the rounding allowance of the check), so o is above ``-top - tol``
        along the normal turned over, by ``tol`` at least, and m is below it. Without them, o's
        store had no plane against m (only against m's larger part, now gone), and o's next merge
        near m searched for one: 1,266 of the 4,147 logistic searches on 6,920 SST-2 sentences."""
        others = planes.others[rows]
        rows = rows[self.among(others, np.fromiter(self.planes, np.int64, len(self.planes)))]
        for i in rows.tolist():
            store = self.planes[int(planes.others[i])]
            tol = SEPARATION_RTOL * planes.norms[i] * self.reach
            store.append([m], [-planes.normals[i]], [-(planes.tops[i] + tol)])
            if store.n > 2 * MAX_PLANES:
                store.compact(self.alive, MAX_PLANES)

    def compact_slots(self, lab: int) -> None:
        """Drop the label's free slots. Each merge's searches read all of the label's slots:
        without this, all 3,610 centroids of an SST-2 label (11 MB) to the end of the run (on all
        6,920 sentences ``nearest`` took 7.0 s instead of 12.3 s under cProfile). No choice depends
        on the slots' order: near-ties go to the exact distances, then the lower cluster number."""
        live = np.flatnonzero(np.isfinite(self.slot_sq[lab]))
        owner = self.slot_owner[lab][live]
        self.slot_cents[lab] = self.slot_cents[lab][live]
        self.slot_sq[lab] = self.slot_sq[lab][live]
        self.slot_owner[lab] = owner
        self.slot[owner] = np.arange(len(live))

    def parts(self, a: int, b: int) -> tuple[int, int]:
        """The larger and the smaller of two clusters (``a`` first on a tie)."""
        return (a, b) if len(self.clusters[a].idx) >= len(self.clusters[b].idx) else (b, a)

    def overlaps_other_label(self, merged: _Cluster, a: int, b: int) -> bool:
        """Does the merged cluster's hull overlap the hull of any live cluster of another label?"""
        # What this check learns, for commit, set before the check can end: the planes found for the
        # merged cluster (a merge with no other-label cluster near it used to inherit the planes
        # found in the check before, maybe a rejected merge's), and which of the larger part's
        # planes the smaller part's points leave standing.
        self.found = found = ([], [], [], [])
        big, small = self.parts(a, b)
        planes = self.planes.get(big)
        holds = planes.holding(self.clusters[small].pts, self.reach) if planes is not None else None
        self.holding = (big, holds) if planes is not None else None
        # The live clusters of the labels this one overlaps whose bounding spheres meet its own: by
        # |c|^2 - 2 c.c' + |c'|^2 over each label's slots at once (no copy of thousands of
        # centroids), with a rounding allowance so that none is dropped wrongly (one kept wrongly
        # only costs a check).
        sq_m = float(merged.centroid @ merged.centroid)
        near, d2 = [], []
        for lab in np.flatnonzero(self.overlap[merged.label]).tolist():
            owner, sq = self.slot_owner[lab], self.slot_sq[lab]
            dist2 = sq - 2.0 * (self.slot_cents[lab] @ merged.centroid) + sq_m  # inf at free slots
            reach = self.radii[owner] + merged.radius
            meet = np.flatnonzero((dist2 <= reach**2 + 1e-8 * (sq + sq_m) + 1e-300) & np.isfinite(sq))
            near.append(owner[meet])
            d2.append(dist2[meet])
        near = np.concatenate(near) if near else np.empty(0, np.int64)
        if len(near) == 0:
            return False
        gaps = np.sqrt(np.maximum(np.concatenate(d2), 0.0))
        pts = merged.pts
        broken: dict[int, int] = {}  # other-label cluster -> the larger part's plane against it that the merge broke
        if planes is not None:  # the larger part's planes: only the smaller part's points to check
            others = planes.others[:planes.n]
            keep = ~self.among(near, others[holds])
            self.counters.planes_reused += len(near) - int(keep.sum())
            near, gaps = near[keep], gaps[keep]
            if len(near) == 0:
                return False
            voided = np.flatnonzero(~holds & (others >= 0))
            broken = dict(zip(others[voided].tolist(), voided.tolist(), strict=True))  # (the last row wins)
        order = near[np.argsort(gaps, kind="stable")]
        # Batched centroid bisectors, one per nearby cluster d: w_d = centroid(merged) - centroid(d)
        # separates when min over merged of w_d.x > max over d of w_d.x. One matrix product for all d.
        w = merged.centroid - self.cents[order]
        low = (pts @ w.T).min(0)
        members = [self.clusters[d].pts for d in order.tolist()]
        sizes = np.array([len(m) for m in members])
        high = np.empty(len(order))
        few = sizes < 16  # the small clusters' points at once (copied), the others each by itself
        if few.any():
            proj = np.einsum("ij,ij->i", np.concatenate([m for m, f in zip(members, few, strict=True) if f]),
                             np.repeat(w[few], sizes[few], axis=0))
            high[few] = np.maximum.reduceat(proj, np.r_[0, np.cumsum(sizes[few])[:-1]])
        for j in np.flatnonzero(~few).tolist():
            high[j] = (members[j] @ w[j]).max()
        gap = low - high
        apart = gap > SEPARATION_RTOL * np.linalg.norm(w, axis=1) * self.reach
        found[0].extend(order[apart].tolist())
        found[1].extend(w[apart])
        found[2].extend(high[apart].tolist())
        found[3].extend(low[apart].tolist())
        for d in order[~apart].tolist():
            cd = self.clusters[d]
            if cd.witnesses:
                ws = np.stack([v for v, _, _ in cd.witnesses])
                tops = np.array([top for _, _, top in cd.witnesses])
                worst = ((pts @ ws.T) - tops).min(0)
                good = worst > SEPARATION_RTOL * np.linalg.norm(ws, axis=1) * self.reach
                if good.any():  # a known direction has d below and every merged point above
                    j = int(np.argmax(good))
                    found[0].append(d)
                    found[1].append(ws[j])
                    found[2].append(float(tops[j]))
                    found[3].append(float(worst[j] + tops[j]))
                    continue
                start = cd.witnesses[int(np.argmax(worst / np.linalg.norm(ws, axis=1)))][:2]
            else:
                start = None
            if d in broken:
                # The larger part's plane against d, broken only by the smaller part's points, is the
                # better start: on 600 such searches on 6,920 SST-2 sentences 2.04 s against 3.30 s
                # from d's best kept plane; the whole run 85.9 s against 93.0 s, TREC-6's 5,452
                # questions 22.4 s against 27.7 s (the same run).
                row = broken[d]
                start = planes.normals[row], float(planes.tops[row])
            plane = self.separate(merged, a, b, d, start)
            if plane is None:
                return True
            # d lies below the plane; a later cluster above d's highest point is apart from it.
            # (On 3,000 SST-2 sentences this spares 5 of 1,052 kept-LP solves over the plane's offset.)
            top = float((cd.pts @ plane[0]).max())
            cd.witnesses = [*cd.witnesses[-(MAX_WITNESSES - 1):], (*plane, top)]
            found[0].append(d)
            found[1].append(plane[0])
            found[2].append(top)
            found[3].append(float((pts @ plane[0]).min()))
        return False

    def separate(self, merged: _Cluster, a: int, b: int, d: int, start=None) -> tuple[np.ndarray, float] | None:
        """A hyperplane with the merged cluster (parts ``a`` and ``b``) on ``w.x > c`` and cluster
        ``d`` on ``w.x < c``, or None when their hulls overlap. A kept LP of one part against
        ``d`` gains the other part's rows; otherwise cheap candidates, then a new LP."""
        pts, other = merged.pts, self.clusters[d].pts
        for part, rest in sorted(((a, b), (b, a)), key=lambda pr: -len(self.clusters[pr[0]].idx)):
            key = frozenset((part, d))
            if key in self.lps:
                self.lps.move_to_end(key)
                lp, positive = self.lps[key]
                side = 1 if positive == part else -1
                lp.add(self.clusters[rest].pts, side, undoable=True)
                self.pending.append(("grown", key, d, side))
                self.counters.lps_warm += 1
                plane = _exact_hyperplane(lp, pts, other) if side == 1 else _exact_hyperplane(lp, other, pts)
                return plane if plane is None or side == 1 else (-plane[0], -plane[1])
        theirs = self.clusters[d]
        centre = (merged.centroid + theirs.centroid) / 2  # _frame(pts, other) from the summaries
        scale = max(float((merged.hi - centre).max()), float((centre - merged.lo).max()),
                    float((theirs.hi - centre).max()), float((centre - theirs.lo).max()), 1e-300)
        reach = float(np.sqrt(max(merged.norms2.max(), theirs.norms2.max())))
        known = ((centre, scale), reach)
        plane = _cheap_hyperplane(pts, other, start, bisector=False, known=known)  # (overlaps_other_label tried the bisector)
        if plane is not None:
            return plane
        hint = None
        if len(pts) + len(other) > COLD_SIMPLEX_ROWS:
            # Before a large LP's first solve: the search again, from 0 and longer. A start far off
            # (on the first such pair at 6,920 SST-2 sentences, every merged point lay on the wrong
            # side of it) can use up the steps where the search from 0 finds a plane: the 9 such
            # pairs at 6,920 within 300 steps (6 within 150), 0.03 to 0.19 s; those of SST-2 3,000,
            # TREC-6 and PUD within 1,000, at most 0.24 s. The pair still gets its LP (without one
            # the later merges each needed a search, and the first solve came anyway, on more
            # points: 81.7 s against 63.2 s), from that plane.
            plane = _cheap_hyperplane(pts, other, None, bisector=False, steps=LABEL_LOGISTIC_STEPS, known=known)
            hint = None if plane is None else plane[0]
        self.counters.lp_pairs += 1
        lp = KEPT_LP(pts, other, self.counters, hint=hint)
        self.pending.append(("new", lp, d, 1))
        return _exact_hyperplane(lp, pts, other)

    def settle_lps(self, a: int, b: int, m: int | None) -> None:
        """After the merge of ``a`` and ``b``: kept (into ``m``) or rejected (``m`` is None).

        On a kept merge every LP of ``a`` or ``b`` becomes an LP of ``m``: those the check grew are
        renamed, the others gain the other part's rows now and are solved when next needed.
        """
        for kind, ref, d, side in self.pending:
            if m is None:
                if kind == "grown":
                    self.lps[ref][0].undo()
                continue
            lp = self.lps.pop(ref)[0] if kind == "grown" else ref
            self.lps[frozenset((m, d))] = (lp, m if side == 1 else d)
        self.pending = []
        if m is not None:
            for key in [k for k in self.lps if a in k or b in k]:
                lp, positive = self.lps.pop(key)
                part = a if a in key else b
                (d,) = key - {part}
                if frozenset((m, d)) in self.lps:
                    continue  # the merge grew the other part's LP with d
                rest = b if part == a else a
                lp.add(self.clusters[rest].pts, 1 if positive == part else -1)
                self.lps[frozenset((m, d))] = (lp, m if positive == part else d)
        held = 0
        for key in list(reversed(self.lps))[1:]:  # after the most recently used, until the budget
            held += self.lps[key][0].footprint()
            if held > LP_BYTES_KEPT:
                del self.lps[key]


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


@dataclass(frozen=True)
class _ClusterGeometry:
    """The points of each cluster, its centroid and radius: the bounds that order the search for
    the closest pair of clusters of two labels."""

    x: np.ndarray
    clusters: Clusters
    groups: list[np.ndarray]
    cents: np.ndarray
    radii: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray, clusters: Clusters) -> _ClusterGeometry:
        groups = [clusters.members(k) for k in range(clusters.num_clusters)]
        cents = np.stack([x[g].mean(0) for g in groups])
        radii = np.array([np.sqrt(((x[g] - c) ** 2).sum(1).max()) for g, c in zip(groups, cents, strict=True)])
        return cls(x, clusters, groups, cents, radii)

    def closest(self, li: int, lj: int, counters: Counters,
                kept: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """The smallest hull distance between a cluster of label ``li`` and one of ``lj`` (over the
        rows ``kept``, a boolean mask; all where None) and the rows its closest points are made of.
        Cluster pairs are visited in order of a lower bound (centroid distance minus radii; the
        whole clusters' bounds hold for their subsets too), and the search stops once the bound
        exceeds the best distance found."""
        ki = np.flatnonzero(self.clusters.cluster_labels == li)
        kj = np.flatnonzero(self.clusters.cluster_labels == lj)
        order = sorted((max(0.0, float(np.linalg.norm(self.cents[a] - self.cents[b]) - self.radii[a] - self.radii[b])),
                        a, b) for a in ki for b in kj)
        best, rows = math.inf, np.empty(0, np.intp)
        for bound, a, b in order:
            if bound >= best:
                break
            ga, gb = self.groups[a], self.groups[b]
            if kept is not None:
                ga, gb = ga[kept[ga]], gb[kept[gb]]
            if not (ga.size and gb.size):
                continue
            # Final clusters of different labels never overlap (every merge was checked against
            # them), except identical single points, which Wolfe's algorithm returns as 0.
            support: list = []
            d = hull_distance(self.x[ga], self.x[gb], counters, known_separable=True, support=support)
            if d < best:
                best, rows = d, np.concatenate([ga[support[0]], gb[support[1]]])
            if best == 0.0:
                break
        return best, rows


@_one_blas_thread
def label_distances(x, y, clusters: Clusters | None = None, counters: Counters | None = None) -> LabelDistances:
    """For each pair of labels, the smallest hull distance between one cluster of each.

    Cluster pairs are visited in order of a lower bound (centroid distance minus radii), and the
    search stops once the bound exceeds the best distance found.
    """
    x, y, num_labels = _check_input(x, y)
    counters = counters if counters is not None else Counters()
    clusters = clusters if clusters is not None else cluster(x, y, counters)
    geometry = _ClusterGeometry.of(x, clusters)
    matrix = np.zeros((num_labels, num_labels))
    for li, lj in combinations(range(num_labels), 2):
        matrix[li, lj] = matrix[lj, li] = geometry.closest(li, lj, counters)[0]
    return LabelDistances(matrix, counters)


def replicate_label_distances(x, y, clusters: Clusters, keeps: Sequence[np.ndarray],
                              counters: Counters | None = None) -> np.ndarray:
    """The label distances (:func:`label_distances`) that decide each label's minimum on each
    subset ``x[keep]`` for ``keep`` in ``keeps`` (a jackknife's replicates,
    :func:`harness.analysis.stats.jackknife_keep`), with each cluster restricted to the rows kept: shape
    (replicates, L, L); NaN for a label with no row kept.

    Where the space is linearly separable (one cluster per label, as the distance claims require)
    this is the subset's own DirectProbe distance: a subset of a separable set is separable by the
    same clusters. Elsewhere the clusters are held fixed (DirectProbe is not re-run on the subset).

    Removing rows can only lengthen a hull distance, which gives two shortcuts that leave every
    label's minimum as it is:

    - a pair is computed again only where the replicate removes one of its closest points'
      support rows (:func:`hull_distance`'s ``support``). In many dimensions the support spans
      most groups and this saves little (3 labels in 20 dimensions: 111 hull distances for 126);
    - a label's partners are tried in the order of their distance on all the rows, and once that
      distance is no shorter than the label's minimum found on the replicate, the remaining
      partners cannot be closer: they are not computed, and their entries are ``inf``. The
      minima are exact over all the labels and over the labels that every replicate holds (the
      ones the claims keep, :meth:`claims.judges.DistanceReplicates.kept`), not over other
      subsets of labels.
    """
    x, y, num_labels = _check_input(x, y)
    counters = counters if counters is not None else Counters()
    geometry = _ClusterGeometry.of(x, clusters)
    masks = np.zeros((len(keeps), len(x)), bool)
    for r, keep in enumerate(keeps):
        masks[r, np.asarray(keep, np.intp)] = True
    present = np.stack([[bool(masks[r, y == lab].any()) for lab in range(num_labels)] for r in range(len(keeps))])
    held = present.all(axis=0)  # the labels every replicate holds

    full = np.zeros((num_labels, num_labels))
    support: dict[tuple[int, int], np.ndarray] = {}
    for li, lj in combinations(range(num_labels), 2):
        full[li, lj], support[li, lj] = geometry.closest(li, lj, counters)
        full[lj, li] = full[li, lj]
    partners = [[int(lj) for lj in np.argsort(full[li], kind="stable") if lj != li] for li in range(num_labels)]

    out = np.full((len(keeps), num_labels, num_labels), math.inf)
    for r in range(len(keeps)):
        out[r, ~present[r], :] = math.nan
        out[r, :, ~present[r]] = math.nan
        np.fill_diagonal(out[r], 0.0)
        done = np.eye(num_labels, dtype=bool)
        for li in np.flatnonzero(present[r]):
            shortest = math.inf  # the label's minimum so far, over the partners every replicate holds
            for lj in partners[li]:
                if not present[r, lj]:
                    continue
                if full[li, lj] >= shortest:
                    break  # on the replicate, this partner and the rest are at least this far
                if not done[li, lj]:
                    pair = (min(li, lj), max(li, lj))
                    if masks[r, support[pair]].all():
                        value = full[pair]  # the closest points survive: the same distance
                    else:
                        value = geometry.closest(*pair, counters, masks[r])[0]
                    out[r, li, lj] = out[r, lj, li] = value
                    done[li, lj] = done[lj, li] = True
                if held[lj]:
                    shortest = min(shortest, out[r, li, lj])
    return out


def min_per_label(matrices: np.ndarray) -> np.ndarray:
    """Each label's minimum distance to any other label, for each matrix along the first axis
    (NaN where a label, or every other label, has no distance)."""
    m = np.array(matrices, float, copy=True)
    idx = np.arange(m.shape[-1])
    m[..., idx, idx] = np.inf
    low = np.min(np.where(np.isnan(m), np.inf, m), axis=-1)
    missing = np.isnan(m).sum(-1) >= m.shape[-1] - 1
    return np.where(missing | ~np.isfinite(low), np.nan, low)


@dataclass(frozen=True)
class Probed:
    """DirectProbe's clusters of a set of points and the distances between its labels."""

    clusters: Clusters
    distances: LabelDistances
    seconds: float = field(default=0.0, compare=False)


def probe(x, y, threads: int = 1) -> Probed:
    """Clusters and label distances of ``(x, y)``: the whole of DirectProbe, as a claim uses it
    (and as :meth:`harness.pipeline.build.Harness.directprobe` runs it in worker processes); ``threads``
    as for ``cluster``."""
    start = time.perf_counter()
    counters = Counters()
    clusters = cluster(x, y, counters, threads)
    distances = label_distances(x, y, clusters, counters)
    return Probed(clusters, distances, time.perf_counter() - start)


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
