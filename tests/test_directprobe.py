"""DirectProbe: decisions against a brute-force LP, distances against an SVM, and properties."""

from __future__ import annotations

import threading
import warnings
from itertools import combinations

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import SVC

from harness.directprobe import engine as dp
from harness.errors import ConfigError


def brute_force_separable(a: np.ndarray, b: np.ndarray) -> bool:
    """The plain LP on every point: feasible iff y (w.x + c) >= 1 has a solution."""
    d = a.shape[1]
    rows = np.vstack([-np.hstack([a, np.ones((len(a), 1))]), np.hstack([b, np.ones((len(b), 1))])])
    res = linprog(np.zeros(d + 1), A_ub=rows, b_ub=-np.ones(len(rows)), bounds=[(None, None)] * (d + 1),
                  method="highs")
    assert res.status in (0, 2), res.message
    return res.status == 0


def svm_distance(a: np.ndarray, b: np.ndarray) -> float | None:
    """Reference: 2 / |w| of scikit-learn's linear SVC with a very large C (hard margin), or None
    where libsvm does not converge within its iteration cap (it can take minutes on thin margins:
    the reason the engine does not use it)."""
    x = np.vstack([a, b])
    y = np.r_[np.ones(len(a)), -np.ones(len(b))]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            svm = SVC(kernel="linear", C=1e8, tol=1e-10, max_iter=200_000).fit(x, y)
        except ConvergenceWarning:
            return None
    assert svm.score(x, y) == 1.0
    return 2.0 / np.linalg.norm(svm.coef_[0])


point_sets = st.tuples(st.integers(1, 12), st.integers(1, 12), st.integers(1, 4), st.integers(0, 2**32 - 1),
                       st.floats(0.0, 4.0))


def make_pair(na, nb, d, seed, shift):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(na, d))
    b = rng.normal(size=(nb, d))
    a[:, 0] += shift
    return a, b


@settings(max_examples=300, deadline=None)
@given(point_sets)
def test_overlap_decisions_equal_a_brute_force_lp(params):
    a, b = make_pair(*params)
    plane = dp.separating_hyperplane(a, b)
    assert (plane is not None) == brute_force_separable(a, b)
    if plane is not None:  # the returned hyperplane is a real certificate
        w, c = plane
        assert (a @ w > c).all() and (b @ w < c).all()


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 40), st.integers(2, 40), st.integers(1, 4), st.integers(0, 2**32 - 1), st.floats(0.0, 4.0))
def test_whole_labels_are_decided_as_by_a_brute_force_lp(na, nb, d, seed, shift):
    """The label-level check: an overlap found on a sample of each label is the labels' overlap;
    a sample found apart decides nothing. Samples of 1 x (d + 2) points a label, so that the larger
    of these sets are sampled; the hyperplane candidates are off, so the LPs decide."""
    a, b = make_pair(na, nb, d, seed, shift)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dp, "SAMPLE_PER_SIDE", 1)
        mp.setattr(dp, "_cheap_hyperplane", lambda a, b, start=None, bisector=True, steps=dp.LOGISTIC_STEPS, known=None: None)
        assert dp._labels_separable(a, b, dp.Counters()) == brute_force_separable(a, b)


def test_a_sampled_overlap_spares_the_lp_on_every_point(monkeypatch):
    """Two labels that overlap everywhere: the sample's LP answers, and the LP on all points never
    runs; two that overlap in one corner only: the sample misses it and the LP on all decides."""
    monkeypatch.setattr(dp, "SAMPLE_PER_SIDE", 1)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(200, 3)), rng.normal(size=(200, 3))
    counters = dp.Counters()
    assert not dp._labels_separable(a, b, counters)
    assert counters.lps == 1
    b = a + 10.0
    b[0] = a.mean(0)  # one point of b amid a's: only samples with it overlap
    counters = dp.Counters()
    assert not dp._labels_separable(a, b, counters)
    assert counters.lps == 2


def labels_with_overlaps() -> tuple[np.ndarray, np.ndarray]:
    """Five labels in 3-d of unequal sizes (so that largest-first is not the pairs' natural order):
    0 and 1 overlap, 2 and 3 overlap, 4 is one point amid label 2's."""
    rng = np.random.default_rng(3)
    parts = [rng.normal(size=(30, 3)), rng.normal(size=(5, 3)) + 0.3, rng.normal(size=(60, 3)) + 8.0,
             rng.normal(size=(12, 3)) + 8.5]
    parts.append(parts[2].mean(0, keepdims=True))
    return np.vstack(parts), np.repeat(np.arange(5), [len(p) for p in parts])


@pytest.mark.parametrize("threads", [2, 3])
def test_label_lps_in_the_background_give_the_one_thread_answer(threads):
    """The label level's LPs on threads while the agglomeration runs: the overlap matrix of a
    brute-force LP per pair, the same LP counts as one pair after the other (each pair counts on
    its own counters, then summed), and the same clusters."""
    x, y = labels_with_overlaps()
    by_label = {lab: np.flatnonzero(y == lab) for lab in range(5)}
    truth = np.zeros((5, 5), bool)
    for i in range(5):
        for j in range(i + 1, 5):
            truth[i, j] = truth[j, i] = not brute_force_separable(x[by_label[i]], x[by_label[j]])
    assert truth[0, 1] and truth[2, 3] and truth[2, 4] and not truth[0, 2]  # the premise
    alone, background = dp.Counters(), dp.Counters()
    np.testing.assert_array_equal(dp._label_overlaps(x, by_label, alone), truth)
    overlap, hard = dp._label_pairs_left(x, by_label)
    assert len(hard) >= truth.sum() // 2  # an overlap needs an LP
    lps = dp._LabelLPs(x, by_label, hard, overlap, threads - 1)
    assert all(overlap[pair] and overlap[pair[::-1]] for pair in hard)  # overlapping until answered
    lps.settle(background, wait=True)
    np.testing.assert_array_equal(overlap, truth)
    assert background == alone and not lps.futures
    assert np.array_equal(dp.cluster(x, y, threads=threads).assignment, dp.cluster(x, y).assignment)


def test_label_pairs_counted_as_overlapping_until_answered_change_no_cluster(monkeypatch):
    """A pair of labels that are apart, counted as overlapping while its LP runs, changes no
    cluster: the same partition as on one thread, where the LPs answer first. Here every label pair
    goes to an LP, and the LPs wait until the agglomeration has checked its first merge."""
    x, y = labels_with_overlaps()
    monkeypatch.setattr(dp, "_label_pairs_left", lambda x, by_label: (
        np.zeros((5, 5), bool), list(combinations(range(5), 2))))
    first_check = threading.Event()
    lp = dp._label_lp
    monkeypatch.setattr(dp, "_label_lp", lambda *args: (first_check.wait(10), lp(*args))[1])
    seen = []
    check = dp._Agglomeration.overlaps_other_label

    def recorded(self, merged, a, b):
        seen.append(self.overlap.copy())
        first_check.set()
        return check(self, merged, a, b)

    monkeypatch.setattr(dp._Agglomeration, "overlaps_other_label", recorded)
    counters = dp.Counters()
    background = dp.cluster(x, y, counters, threads=2)
    assert seen and (seen[0] | np.eye(5, dtype=bool)).all()  # the premise: every pair counted as overlapping
    assert counters.lp_pairs >= 10  # every pair's LP answered in the end and was counted
    monkeypatch.setattr(dp, "_label_lp", lp)
    assert np.array_equal(background.assignment, dp.cluster(x, y).assignment)


@pytest.mark.parametrize("threads", [0, -1, 1.5, "2"])
def test_threads_must_be_a_whole_number(threads):
    x, y = labels_with_overlaps()
    with pytest.raises(ConfigError, match="threads must be a whole number, at least 1"):
        dp.cluster(x, y, threads=threads)


def test_a_label_of_one_point_gets_the_logistic_search_before_an_lp():
    """One point outside another label's hull, where the centroids' bisector does not separate: the
    logistic search finds a plane, so no LP runs (PUD's one INTJ word against 4,015 NOUN words took
    6 s of LPs before)."""
    rng = np.random.default_rng(0)
    b = rng.normal(size=(200, 30))
    a = b.mean(0, keepdims=True)
    a[0, 0] += 2.0  # inside the cloud's extent along the centroids' line, outside its hull
    direction = (a.mean(0) - b.mean(0))
    assert (a @ direction).min() < (b @ direction).max() and brute_force_separable(a, b)  # the premise
    counters = dp.Counters()
    assert dp._labels_separable(a, b, counters) and dp._labels_separable(b, a, counters)
    assert counters.lp_pairs == 0


def test_the_label_level_gives_the_search_more_steps(monkeypatch):
    """Two whole labels: up to LABEL_LOGISTIC_STEPS L-BFGS steps before their LP (PUD's NOUN and
    VERB words needed more than the agglomeration's LOGISTIC_STEPS, and their LP took 13.6 s)."""
    asked = []
    monkeypatch.setattr(dp, "_logistic_candidate", lambda a, b, reach, start=None, steps=0, frame=None: asked.append(steps))
    x, y = labels_with_overlaps()
    dp._labels_separable(x[y == 0], x[y == 1], dp.Counters())  # (they overlap: the bisector fails)
    assert asked == [dp.LABEL_LOGISTIC_STEPS] and dp.LABEL_LOGISTIC_STEPS > dp.LOGISTIC_STEPS
    dp._label_overlaps(x, {lab: np.flatnonzero(y == lab) for lab in range(5)}, dp.Counters())
    assert len(asked) > 1 and set(asked) == {dp.LABEL_LOGISTIC_STEPS}


@settings(max_examples=150, deadline=None)
@given(point_sets)
def test_an_overlap_answer_carries_a_witness_checked_on_the_points(params):
    """Where the slab LP says "overlap", its duals give a convex combination of each set, and the
    two coincide (computed here on the original points, not the LP's scaled ones)."""
    a, b = make_pair(*params)
    assume(not brute_force_separable(a, b))
    counters = dp.Counters()
    lp = dp._SlabLP(a, b, counters)
    assert lp.solve() is None
    lam, mu = lp.witness()
    assert lam.min() >= 0 and mu.min() >= 0 and lam.sum() == pytest.approx(1) and mu.sum() == pytest.approx(1)
    scale = max(np.abs(a).max(), np.abs(b).max(), 1.0)
    np.testing.assert_allclose(lam @ a, mu @ b, atol=1e-9 * scale)
    assert counters.uncertified == 0


def test_a_kept_lp_keeps_its_witness_through_added_and_undone_rows():
    a, b = make_pair(6, 6, 2, 0, 0.0)
    lp = dp._SlabLP(a[:3], b, dp.Counters())
    lp.add(a[3:], +1, undoable=True)
    assert lp.solve() is None and lp.witness_gap() < 1e-9
    lp.undo()
    lp.solve()
    assert len(lp.witness()[0]) == 3  # the undone rows are gone from the witness too


def test_an_answer_without_a_witness_is_solved_again_and_counted(monkeypatch):
    """A witness that does not close (here forced) triggers one tight re-solve; still open, the
    answer is counted as uncertified, in the counters every artifact keeps."""
    a, b = make_pair(8, 8, 2, 1, 0.0)
    counters = dp.Counters()
    lp = dp._SlabLP(a, b, counters)
    monkeypatch.setattr(dp._SlabLP, "witness_gap", lambda self: 1.0)
    assert lp.solve() is None
    assert counters.lps == 2 and counters.uncertified == 1


@settings(max_examples=120, deadline=None)
@given(point_sets)
def test_distances_equal_the_hard_margin_svm(params):
    a, b = make_pair(*params)
    assume(brute_force_separable(a, b))
    ref = svm_distance(a, b)
    # A vanishing margin makes the SVM reference itself unreliable: at 0.0094 and 0.0196 (the two
    # cases below) libsvm is 0.17% and 0.12% off the exact distances, which the engine matches.
    assume(ref is not None and ref > 5e-2)
    assert dp.hull_distance(a, b) == pytest.approx(ref, rel=1e-3)


def test_a_thin_margin_in_one_dimension_is_the_gap():
    """Hypothesis's case (1, 6, 1, 475789276, 0.0): in one dimension the hull distance is the gap
    from the single point of a to the nearest point of b; libsvm gives 0.019544 (0.12% off)."""
    a, b = make_pair(1, 6, 1, 475789276, 0.0)
    exact = np.abs(b[:, 0] - a[0, 0]).min()
    assert exact == pytest.approx(0.0195674, rel=1e-5)
    assert dp.hull_distance(a, b) == pytest.approx(exact, rel=1e-12)


def test_a_thin_margin_equals_the_exact_point_to_hull_distance():
    """Hypothesis's case (7, 1, 2, 272, 1.0): one point of b, 7 of a, margin 0.0094. Reference: the
    distance from the point to the hull of a, by a QP over convex weights (SLSQP, several starts)."""
    from scipy.optimize import minimize

    a, b = make_pair(7, 1, 2, 272, 1.0)
    runs = [minimize(lambda w: np.sum((w @ a - b[0]) ** 2), np.random.default_rng(s).dirichlet(np.ones(len(a))),
                     bounds=[(0, 1)] * len(a), constraints=({"type": "eq", "fun": lambda w: w.sum() - 1},),
                     method="SLSQP", options={"ftol": 1e-16, "maxiter": 1000}) for s in range(5)]
    exact = np.sqrt(min(r.fun for r in runs))
    assert exact == pytest.approx(0.0093699, rel=1e-4)
    assert dp.hull_distance(a, b) == pytest.approx(exact, rel=1e-8)


def nnls_distance(a: np.ndarray, b: np.ndarray, weight: float = 1e4) -> float:
    """Reference: the distance between the hulls as a non-negative least-squares problem, min over
    convex weights of |a^T l - b^T m|, the two sums held at 1 by heavily weighted rows (their error
    is about 1e-7 here), by scipy's Lawson-Hanson NNLS. (HiGHS's QP solver on the SVM primal was
    tried first: it reports a solve error on some of these cases.)"""
    from scipy.optimize import nnls

    na, nb = len(a), len(b)
    m = np.vstack([np.hstack([a.T, -b.T]), weight * np.r_[np.ones(na), np.zeros(nb)],
                   weight * np.r_[np.zeros(na), np.ones(nb)]])
    z, _ = nnls(m, np.r_[np.zeros(a.shape[1]), weight, weight], maxiter=50 * m.shape[1])
    assert abs(z[:na].sum() - 1) < 1e-6 and abs(z[na:].sum() - 1) < 1e-6
    return float(np.linalg.norm(a.T @ z[:na] - b.T @ z[na:]))


wide_pairs = st.tuples(st.integers(2, 60), st.integers(2, 60), st.integers(5, 30), st.integers(0, 2**32 - 1),
                       st.floats(1.0, 6.0))


@settings(max_examples=40, deadline=None)
@given(wide_pairs)
@example((20, 22, 21, 21, 4.125))  # where HiGHS's QP solver gave up
def test_distances_in_many_dimensions_equal_nnls(params):
    """Up to 30 dimensions and 60 points a side: corrals of tens of points, where the minor cycle
    (Cholesky, its fallback, point removal) does the work."""
    a, b = make_pair(*params)
    assume(brute_force_separable(a, b))
    assert dp.hull_distance(a, b, known_separable=True) == pytest.approx(nnls_distance(a, b), rel=2e-4)


def test_the_least_squares_fallback_gives_the_same_distances(monkeypatch):
    """Where the Cholesky factor fails (a corral that rounding makes affinely dependent), the
    minor cycle solves the KKT system by least squares: forced here on every solve."""
    pairs = [make_pair(40, 30, 12, seed, 2.5) for seed in range(5)]
    pairs = [(a, b) for a, b in pairs if brute_force_separable(a, b)]
    fast = [dp.hull_distance(a, b, known_separable=True) for a, b in pairs]
    monkeypatch.setattr(dp, "_potrf", lambda m, lower: (m, 1))  # info 1: "not positive definite"
    slow = [dp.hull_distance(a, b, known_separable=True) for a, b in pairs]
    assert len(pairs) >= 3
    np.testing.assert_allclose(slow, fast, rtol=2e-4)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 12), st.integers(0, 2**32 - 1))
def test_the_affine_minimiser_solves_the_kkt_system(k, seed):
    points = np.random.default_rng(seed).normal(size=(k, 12)) + 3.0  # affinely independent (k <= 13)
    kkt = np.block([[points @ points.T, np.ones((k, 1))], [np.ones((1, k)), np.zeros((1, 1))]])
    expected = np.linalg.solve(kkt, np.r_[np.zeros(k), 1.0])[:k]
    alpha = dp._affine_minimiser(points @ points.T)
    np.testing.assert_allclose(alpha, expected, rtol=1e-6, atol=1e-9)
    assert alpha.sum() == pytest.approx(1.0)


def test_overlapping_hulls_have_distance_zero():
    a = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    b = np.array([[0.5, 0.5], [5.0, 5.0]])
    assert dp.hull_distance(a, b) == 0.0
    assert not dp.separable(a, b)
    # Shared point: touching hulls are not strictly separable.
    assert not dp.separable(a, np.array([[2.0, 0.0], [3.0, 3.0]]))


def test_hull_distance_of_simple_shapes():
    square = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert dp.hull_distance(square, square + [3.0, 0.0]) == pytest.approx(2.0, rel=1e-6)
    assert dp.hull_distance(square, np.array([[3.0, 3.0]])) == pytest.approx(np.sqrt(8), rel=1e-6)


def separable_by_construction(n_per_label: int, num_labels: int, d: int, seed: int):
    """Labels in disjoint slabs along the first axis: linearly separable by construction."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_per_label * num_labels, d))
    y = np.repeat(np.arange(num_labels), n_per_label)
    x[:, 0] = y * 10.0 + rng.uniform(0, 5, len(y))
    return x, y


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 30), st.integers(2, 5), st.integers(2, 6), st.integers(0, 2**32 - 1))
def test_separable_by_construction_gives_one_cluster_per_label(n, labels, d, seed):
    x, y = separable_by_construction(n, labels, d, seed)
    clusters = dp.cluster(x, y)
    assert clusters.num_clusters == labels and clusters.linearly_separable
    assert all(len(set(y[clusters.members(k)])) == 1 for k in range(labels))


def partition(clusters: dp.Clusters) -> set[frozenset[int]]:
    return {frozenset(clusters.members(k).tolist()) for k in range(clusters.num_clusters)}


def overlapping_data(seed: int, n: int = 60, d: int = 2):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = (x[:, 0] + 0.8 * rng.normal(size=n) > 0).astype(int)  # interleaved labels
    return x, y


@pytest.mark.parametrize("seed", range(4))
def test_result_does_not_depend_on_point_order(seed):
    x, y = overlapping_data(seed)
    perm = np.random.default_rng(99).permutation(len(x))
    first = partition(dp.cluster(x, y))
    second = {frozenset(perm[list(s)].tolist()) for s in partition(dp.cluster(x[perm], y[perm]))}
    assert first == second
    assert len(first) > 2  # the case is not trivially separable


@pytest.mark.parametrize("seed", range(3))
def test_translation_changes_nothing_and_scaling_scales_distances(seed):
    x, y = overlapping_data(seed, n=40, d=3)
    base = dp.cluster(x, y)
    moved = dp.cluster(x + np.array([100.0, -7.0, 3.0]), y)
    scaled = dp.cluster(x * 3.5, y)
    assert partition(base) == partition(moved) == partition(scaled)
    d_base = dp.label_distances(x, y, base).matrix
    d_scaled = dp.label_distances(x * 3.5, y, scaled).matrix
    np.testing.assert_allclose(d_scaled, 3.5 * d_base, rtol=1e-3)


def brute_force_cluster(x: np.ndarray, y: np.ndarray) -> set[frozenset[int]]:
    """DirectProbe as written in the paper, nothing cached: every candidate merge is checked by the
    brute-force LP against every current cluster of another label."""
    clusters = [[i] for i in range(len(x))]
    rejected = set()
    while True:
        best = None
        for i in range(len(clusters)):
            for j in range(i + 1, len(clusters)):
                a, b = clusters[i], clusters[j]
                if y[a[0]] != y[b[0]] or (frozenset(a), frozenset(b)) in rejected:
                    continue
                dist = np.linalg.norm(x[a].mean(0) - x[b].mean(0))
                if best is None or dist < best[0]:
                    best = (dist, i, j)
        if best is None:
            return {frozenset(c) for c in clusters}
        _, i, j = best
        merged = clusters[i] + clusters[j]
        others = [c for c in clusters if y[c[0]] != y[merged[0]]]
        if all(brute_force_separable(x[merged], x[c]) for c in others):
            clusters = [c for k, c in enumerate(clusters) if k not in (i, j)] + [merged]
        else:
            rejected.add((frozenset(clusters[i]), frozenset(clusters[j])))


@pytest.mark.parametrize("seed", range(5))
def test_clusters_equal_the_brute_force_procedure(seed):
    x, y = overlapping_data(seed, n=30, d=2)
    assert partition(dp.cluster(x, y)) == brute_force_cluster(x, y)


def test_a_merge_puts_the_larger_part_first(monkeypatch):
    """``_Cluster.merge`` copies only its second part's points onto the first's buffer, so ``run``
    must hand it the larger part first (a speed rule: a large cluster that grows a point at a time
    would otherwise be copied whole at every merge). Both orders give the same clusters."""
    sizes: list[tuple[int, int]] = []
    merge = dp._Cluster.merge.__func__

    def spy(cls, first, second):
        sizes.append((len(first.idx), len(second.idx)))
        return merge(cls, first, second)

    x, y = overlapping_data(3, n=60, d=3)
    expected = partition(dp.cluster(x, y))
    monkeypatch.setattr(dp._Cluster, "merge", classmethod(spy))
    assert partition(dp.cluster(x, y)) == expected
    assert any(a != b for a, b in sizes) and all(a >= b for a, b in sizes), sizes


@pytest.mark.parametrize(("seed", "bytes_kept"), [(0, dp.LP_BYTES_KEPT), (1, dp.LP_BYTES_KEPT), (2, 1)])
def test_kept_lps_give_the_brute_force_clusters(monkeypatch, seed, bytes_kept):
    """With the cheap candidates switched off every decision the certificates cannot make is an
    LP, so kept LPs are grown, re-solved from their basis, undone after rejected merges and (with a
    budget of 1 byte: only the most recently used one stays) evicted; inherited rejections skip merges. The clusters must still be the
    brute-force procedure's."""
    monkeypatch.setattr(dp, "_cheap_hyperplane", lambda a, b, start=None, bisector=True, steps=dp.LOGISTIC_STEPS, known=None: None)
    monkeypatch.setattr(dp, "LP_BYTES_KEPT", bytes_kept)
    x, y = overlapping_data(seed, n=40, d=3)
    counters = dp.Counters()
    assert partition(dp.cluster(x, y, counters)) == brute_force_cluster(x, y)
    assert counters.lps_warm > 0 and counters.merges_rejected > 0


@pytest.mark.parametrize("seed", range(3))
def test_a_point_present_under_two_labels_stays_alone(seed):
    """TREC-50 holds the same question under two labels: two identical points, which no
    hyperplane separates, so any cluster holding one overlaps the other and both stay single. A
    centroid bisector once "separated" such a pair by a rounding difference of 1.5e-15 between two
    ways of computing the same dot product."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(80, 384)) * 0.3 + rng.normal(size=384)  # far from the origin, like embeddings
    y = rng.integers(0, 2, size=80)
    twins = rng.choice(80, size=10, replace=False)
    x = np.vstack([x, x[twins]])
    y = np.r_[y, 1 - y[twins]]
    clusters = dp.cluster(x, y)
    for i in [*twins.tolist(), *range(80, 90)]:
        assert len(clusters.members(clusters.assignment[i])) == 1


@pytest.mark.parametrize(("seed", "offset", "n"), [(0, 0.0, 60), (1, 0.0, 60), (2, 0.0, 60), (0, 1000.0, 60), (47, 300.0, 60)])
def test_each_merge_tried_is_the_closest_allowed_pair(monkeypatch, seed, offset, n):
    """Invariants checked before every merge the agglomeration tries: the pair is the closest
    pair of live same-label clusters not rejected together (the bounds that skip searches must not
    change the order), each label's centroid slots hold its live clusters with few free (compacted),
    and every kept LP holds exactly the rows of its two live clusters. (Far from the origin,
    ``offset``, the bounds from centroid products are wide: with 1,000 a distance kept loose comes
    first in ``run``, with 300 and seed 47 a new cluster falls between the bounds of another's
    loose partner in ``commit``; each case fails where that distance is not made exact.)"""
    monkeypatch.setattr(dp, "_cheap_hyperplane", lambda a, b, start=None, bisector=True, steps=dp.LOGISTIC_STEPS, known=None: None)
    tried = dp._Agglomeration.overlaps_other_label
    seen, loose = [], []

    def check(self, merged, a, b):
        live = np.flatnonzero(self.alive & (self.slot >= 0))
        dist = {(i, j): np.linalg.norm(self.cents[i] - self.cents[j]) for i in live for j in live
                if i < j and self.labels[i] == self.labels[j] and j not in self.rejected.get(i, ())}
        assert np.linalg.norm(self.cents[a] - self.cents[b]) <= min(dist.values()) * (1 + 1e-12)
        for k in live:  # every cluster's partner is its nearest allowed one, at its exact distance
            allowed = [dist[min(k, j), max(k, j)] for j in live if (min(k, j), max(k, j)) in dist]
            if not allowed:
                assert not np.isfinite(self.pdist[k])
                continue
            exact = np.linalg.norm(self.cents[k] - self.cents[self.partner[k]])
            assert exact <= min(allowed) * (1 + 1e-12)
            if self.loose[k]:  # or between the bounds that commit kept, the lower one in pdist
                loose.append(k)
                assert self.pdist[k] <= exact * (1 + 1e-12) and exact <= self.pup[k] * (1 + 1e-12)
            else:
                assert abs(self.pdist[k] - exact) <= 1e-12 * exact and self.pup[k] == self.pdist[k]
            assert self.partner[k] not in self.rejected.get(k, ())
        for lab, owner in self.slot_owner.items():  # each live cluster in its own slot; few slots free
            mine = live[self.labels[live] == lab]
            assert (owner[self.slot[mine]] == mine).all() and np.isfinite(self.slot_sq[lab]).sum() == len(mine)
            assert dp.SLOTS_LIVE_MIN * len(owner) <= len(mine)
        for key, (lp, _) in self.lps.items():
            assert all(self.alive[k] for k in key)
            assert lp.rows == sum(len(self.clusters[k].idx) for k in key)
        seen.append(len(self.lps))
        return tried(self, merged, a, b)

    monkeypatch.setattr(dp._Agglomeration, "overlaps_other_label", check)
    x, y = overlapping_data(seed, n=n, d=2)
    counters = dp.Counters()
    dp.cluster(x + offset, y, counters)
    assert len(seen) > 20 and max(seen) > 0 and counters.merges_rejected > 5 and loose


def test_min_distance_per_label_and_vector():
    x, y = separable_by_construction(10, 3, 2, seed=0)
    dist = dp.label_distances(x, y)
    m = dist.matrix
    assert np.allclose(m, m.T) and np.all(np.diag(m) == 0)
    assert dist.min_per_label()[0] == pytest.approx(m[0, 1:].min())
    assert dist.vector().tolist() == [m[0, 1], m[0, 2], m[1, 2]]
    assert m[0, 2] > m[0, 1]  # the far slab is farther


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_replicates_equal_directprobe_run_again_on_each_subset(seed):
    """The shortcut (a pair is computed again only where a replicate drops its support rows)
    against the brute force: DirectProbe on each replicate's rows, from scratch; words grouped by
    sentence as a token task's jackknife groups them."""
    from harness.analysis import stats

    rng = np.random.default_rng(seed)
    n, labels, d = 90, 3, 20
    y = np.arange(n) % labels
    x = 5.0 * np.eye(labels, d)[y] + rng.standard_normal((n, d))
    clusters = dp.cluster(x, y)
    assert clusters.linearly_separable
    sentences = None if seed == 0 else rng.integers(0, 30, n)
    keeps = stats.jackknife_keep(n, clusters=sentences, seed=seed)
    counters = dp.Counters()
    got = dp.replicate_label_distances(x, y, clusters, keeps, counters)
    brute = np.stack([dp.label_distances(x[k], y[k], dp.cluster(x[k], y[k])).matrix for k in keeps])
    computed = np.isfinite(got)
    np.testing.assert_allclose(got[computed], brute[computed], rtol=1e-6)
    assert (got[~computed] >= brute[~computed]).all()  # left out: no shorter than the minimum found
    np.testing.assert_allclose(dp.min_per_label(got), dp.min_per_label(brute), rtol=1e-6)
    full = dp.label_distances(x, y, clusters).matrix
    assert (brute >= full - 1e-9).all() and (np.abs(got[computed] - full[None].repeat(len(keeps), 0)[computed])
                                             > 1e-9).any()  # leaving points out only lengthens
    assert counters.distances < len(keeps) * 3  # fewer than every pair on every replicate


@pytest.mark.parametrize("seed", [0, 1])
def test_replicates_leave_out_the_pairs_that_cannot_be_a_labels_minimum(seed):
    """Labels on a line (each close to its neighbours only): the far pairs are not computed, and
    every label's minimum, over all the labels and over those every replicate holds, is the brute
    force's. A label whose items all sit in one sentence is missing from one replicate."""
    from harness.analysis import stats

    rng = np.random.default_rng(seed)
    labels, per, d = 8, 12, 6
    y = np.repeat(np.arange(labels), per)
    x = np.zeros((len(y), d))
    x[:, 0] = 4.0 * y * (1 + 0.3 * rng.random(labels))[y]
    x += rng.standard_normal(x.shape) * 0.5
    clusters = dp.cluster(x, y)
    assert clusters.linearly_separable
    sentences = rng.integers(0, 40, len(y))
    sentences[y == 5] = 99  # label 5: one sentence, so absent from one replicate
    keeps = stats.jackknife_keep(len(y), clusters=sentences, seed=seed)
    counters = dp.Counters()
    got = dp.replicate_label_distances(x, y, clusters, keeps, counters)
    brute = np.stack([dp.label_distances(x[k], y[k], dp.cluster(x[k], y[k])).matrix
                      if len(np.unique(y[k])) == labels else np.full((labels, labels), np.nan) for k in keeps])
    for r, k in enumerate(keeps):  # the replicate without label 5: brute force on the other labels
        if len(np.unique(y[k])) < labels:
            assert np.isnan(got[r, 5, [0, 1, 2, 3, 4, 6, 7]]).all()
            rest = np.flatnonzero(np.arange(labels) != 5)
            sub = dp.label_distances(x[k], y[k], dp.cluster(x[k], y[k])).matrix
            brute[r][np.ix_(rest, rest)] = sub
    held = ~(np.isnan(got).sum(-1) >= labels - 1).any(axis=0)
    assert held.sum() == labels - 1
    np.testing.assert_allclose(dp.min_per_label(got), dp.min_per_label(brute), rtol=1e-6)
    np.testing.assert_allclose(dp.min_per_label(got[:, held][:, :, held]),
                               dp.min_per_label(brute[:, held][:, :, held]), rtol=1e-6)
    pairs = labels * (labels - 1) // 2
    assert np.isinf(got).sum() > 0 and counters.distances < pairs * (1 + len(keeps)) / 2


def test_the_support_rows_alone_are_at_the_same_distance():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((40, 8)), rng.standard_normal((30, 8)) + 4.0
    support: list = []
    d = dp.hull_distance(a, b, support=support)
    assert 0 < len(support[0]) + len(support[1]) <= 8 + 1
    assert dp.hull_distance(a[support[0]], b[support[1]]) == pytest.approx(d, rel=1e-6)
    overlap: list = []
    assert dp.hull_distance(a, a + 0.1, support=overlap) == 0.0 and overlap == [None, None]


def test_a_label_missing_from_a_replicate_has_no_distance():
    x, y = separable_by_construction(6, 3, 3, seed=0)
    clusters = dp.cluster(x, y)
    keeps = [np.flatnonzero(y != 2), np.arange(len(y))]
    got = dp.replicate_label_distances(x, y, clusters, keeps)
    assert np.isnan(got[0, 2, :2]).all() and np.isfinite(got[0, 0, 1]) and not np.isnan(got[1]).any()
    mins = dp.min_per_label(got)
    assert np.isnan(mins[0, 2]) and mins[0, 0] == pytest.approx(got[0, 0, 1])
    np.testing.assert_allclose(mins[1], dp.label_distances(x, y, clusters).min_per_label())


def test_identical_representations_have_similarity_one():
    x, y = separable_by_construction(8, 4, 3, seed=1)
    d = dp.label_distances(x, y)
    assert dp.spatial_similarity(d, d) == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="same length"):
        dp.spatial_similarity(d.vector(), d.vector()[:-1])


def test_bad_input():
    with pytest.raises(ConfigError, match="at least two labels"):
        dp.cluster(np.zeros((3, 2)), [1, 1, 1])
    with pytest.raises(ConfigError, match="NaN"):
        dp.cluster(np.array([[np.nan, 0.0], [1.0, 1.0]]), [0, 1])
    with pytest.raises(ConfigError, match=r"points must be \(n, d\)"):
        dp.cluster(np.zeros((3, 2)), [0, 1])


# ---- the cached, parallel step (harness.pipeline.build.Harness.directprobe_many) ---------------------


def probe_jobs():
    jobs = [separable_by_construction(30, 3, 4, seed) for seed in range(3)]
    jobs.append(overlapping_data(7, n=60, d=3))
    return [(x.astype(np.float32), y) for x, y in jobs]


def same_result(got: dp.Probed, want: dp.Probed) -> None:
    assert partition(got.clusters) == partition(want.clusters)
    np.testing.assert_array_equal(got.clusters.cluster_labels[got.clusters.assignment],
                                  want.clusters.cluster_labels[want.clusters.assignment])
    np.testing.assert_allclose(got.distances.matrix, want.distances.matrix, rtol=1e-12)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_harness_probes_in_workers_and_caches_by_content(tmp_path, monkeypatch, workers):
    from harness.directprobe import pool as geometry_pool
    from harness.pipeline import build
    from harness.store import ArtifactStore

    monkeypatch.setenv(geometry_pool.GEOMETRY_WORKERS_ENV, workers)
    monkeypatch.setattr(geometry_pool, "POOL_MIN_POINTS", 0)  # these jobs are small: use the pool anyway
    harness = build.Harness(ArtifactStore(tmp_path / "store"), device="cpu")
    jobs = probe_jobs()
    first = harness.directprobe_many(jobs)
    for got, (x, y) in zip(first, jobs, strict=True):
        same_result(got, dp.probe(x, y))
    assert len(harness.store.stats.builds) == 4 and not harness.store.stats.hits
    assert harness.stage_times["directprobe"] > 0

    # a job given twice is probed once
    calls = []
    real = dp.probe
    monkeypatch.setattr(geometry_pool, "POOL_MIN_POINTS", 10**9)  # in this process, where calls are counted
    monkeypatch.setattr(dp, "probe", lambda x, y, threads=1: calls.append(1) or real(x, y, threads))
    twice = harness.directprobe_many([(jobs[0][0] + 1, jobs[0][1])] * 2)
    assert len(calls) == 1 and np.array_equal(twice[0].distances.matrix, twice[1].distances.matrix)

    # the same points again, in another order and as another array: found, not computed
    monkeypatch.setattr(dp, "probe", lambda x, y, threads=1: pytest.fail("probed again"))
    again = harness.directprobe_many([(jobs[2][0].copy(), jobs[2][1].tolist()), jobs[0]])
    same_result(again[0], first[2])
    same_result(again[1], first[0])
    assert len(harness.store.stats.hits) == 2 + 1 and again[0].distances.counters == first[2].distances.counters


def test_harness_caches_the_replicates_distances_by_content_and_sampling_unit(tmp_path, monkeypatch):
    from harness.analysis import stats
    from harness.pipeline import build
    from harness.store import ArtifactStore

    harness = build.Harness(ArtifactStore(tmp_path / "store"), device="cpu")
    x, y = separable_by_construction(12, 3, 4, seed=2)
    probed = dp.probe(x, y)
    first = harness.directprobe_replicates(x, y, probed)
    expected = dp.replicate_label_distances(x, y, probed.clusters, stats.jackknife_keep(len(y)))
    np.testing.assert_array_equal(first, expected)
    from harness import directprobe  # the public API, through which the harness calls it

    monkeypatch.setattr(directprobe, "replicate_label_distances", lambda *a, **k: pytest.fail("computed again"))
    np.testing.assert_array_equal(harness.directprobe_replicates(x.copy(), y, probed), first)
    with pytest.raises(pytest.fail.Exception):  # sentences are other sampling units: another artifact
        harness.directprobe_replicates(x, y, probed, np.arange(len(y)) // 3)


def test_other_points_or_labels_are_another_artifact(tmp_path):
    from harness.directprobe.pool import directprobe_inputs as _directprobe_inputs

    x, y = probe_jobs()[0]
    key = _directprobe_inputs(x, y)
    assert _directprobe_inputs(x.copy(), list(y)) == key
    assert _directprobe_inputs(x.astype(np.float64), y) != key  # other bytes
    moved = x.copy()
    moved[0, 0] += 1e-3
    assert _directprobe_inputs(moved, y) != key
    assert _directprobe_inputs(x, np.roll(y, 1)) != key
    assert _directprobe_inputs(x, y + 5) == key  # labels are numbered as the engine numbers them
    with pytest.raises(ConfigError, match=r"points \(n, d\) and n labels"):
        _directprobe_inputs(x, y[:-1])


def test_a_bad_job_fails_with_the_engines_message_and_stores_nothing(tmp_path, monkeypatch):
    from harness.directprobe import pool as geometry_pool
    from harness.pipeline import build
    from harness.store import ArtifactStore

    monkeypatch.setenv(geometry_pool.GEOMETRY_WORKERS_ENV, "2")
    monkeypatch.setattr(geometry_pool, "POOL_MIN_POINTS", 0)
    harness = build.Harness(ArtifactStore(tmp_path / "store"), device="cpu")
    (x, y), bad = probe_jobs()[0], probe_jobs()[1][0].copy()
    bad[3, 1] = np.nan
    with pytest.raises(ConfigError, match="NaN"):
        harness.directprobe_many([(x, y), (bad, y)])
    assert not list((tmp_path / "store").glob("directprobe/*/*"))
    monkeypatch.setenv(geometry_pool.GEOMETRY_WORKERS_ENV, "many")
    with pytest.raises(ConfigError, match="CLAIMS_GEOMETRY_WORKERS must be a whole number"):
        harness.directprobe_many([(x, y), (x * 2, y)])


def _die(x, y, threads=1):
    import os

    os._exit(9)  # as a worker killed for memory


def test_a_worker_that_dies_is_reported_with_what_to_do(tmp_path, monkeypatch):
    from harness.directprobe import pool as geometry_pool
    from harness.pipeline import build
    from harness.store import ArtifactStore

    monkeypatch.setenv(geometry_pool.GEOMETRY_WORKERS_ENV, "2")
    monkeypatch.setattr(geometry_pool, "POOL_MIN_POINTS", 0)
    monkeypatch.setattr(dp, "probe", _die)  # the pool sends the function by name: this module's _die
    harness = build.Harness(ArtifactStore(tmp_path / "store"), device="cpu")
    with pytest.raises(RuntimeError, match="CLAIMS_GEOMETRY_WORKERS to fewer than 2"):
        harness.directprobe_many(probe_jobs()[:2])
    assert not list((tmp_path / "store").glob("directprobe/*/*"))


def test_a_large_run_is_warned_about(tmp_path, monkeypatch):
    from harness.pipeline import build
    from harness.store import ArtifactStore

    monkeypatch.setattr(build, "DIRECTPROBE_WARN_SECONDS", 0.001)
    harness = build.Harness(ArtifactStore(tmp_path / "store"), device="cpu")
    x, y = probe_jobs()[0]  # 90 points
    with pytest.warns(RuntimeWarning, match="DirectProbe on 90 points: where labels overlap this takes about 0 minutes"):
        harness.directprobe(x, y)
    assert build._duration(40 * 60) == "40 minutes" and build._duration(3.2 * 3600) == "3.2 hours"


def test_the_time_estimate_goes_through_the_measured_timings():
    for n, seconds in dp.OVERLAP_TIMINGS:
        assert dp.overlap_seconds(n) == pytest.approx(seconds, rel=1e-9)
    sizes = [100, 1_000, 2_000, 5_000, 10_000, 67_349]
    assert all(dp.overlap_seconds(a) < dp.overlap_seconds(b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    # Beyond the largest timing, the growth of the last two; between two, a power law through both.
    (n1, t1), (n2, t2) = dp.OVERLAP_TIMINGS[-2:]
    growth = np.log(t2 / t1) / np.log(n2 / n1)
    assert dp.overlap_seconds(4 * n2) == pytest.approx(t2 * 4**growth, rel=1e-9)
    (m1, s1), (m2, s2) = dp.OVERLAP_TIMINGS[:2]
    middle = np.sqrt(m1 * m2)
    assert dp.overlap_seconds(middle) == pytest.approx(np.sqrt(s1 * s2), rel=1e-9)


def test_a_run_alone_gets_the_cpus_for_its_label_level(monkeypatch):
    """In-process runs (one job, or small ones): each run's label level gets the CPUs the pool's
    share leaves it, one job all of them."""
    from harness.directprobe import pool as geometry_pool

    asked = []
    monkeypatch.setattr(geometry_pool, "geometry_workers", lambda: 4)
    monkeypatch.setattr(geometry_pool.directprobe, "probe", lambda x, y, threads=1: asked.append(threads))
    x, y = labels_with_overlaps()
    geometry_pool.probe_locally({0: (x, y)})
    geometry_pool.probe_locally({0: (x, y), 1: (x, y)})
    assert asked == [4, 2, 2]
    assert geometry_pool.probe_locally({}) == {}  # a rank whose share is empty (torchrun)


def test_geometry_workers_share_the_cpus_among_xdist_workers(monkeypatch):
    import os

    from harness.directprobe import pool as geometry_pool

    cpus = len(os.sched_getaffinity(0))
    monkeypatch.delenv(geometry_pool.GEOMETRY_WORKERS_ENV, raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    assert geometry_pool.geometry_workers() == cpus
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", str(2 * cpus))
    assert geometry_pool.geometry_workers() == 1
    monkeypatch.setenv(geometry_pool.GEOMETRY_WORKERS_ENV, "3")
    assert geometry_pool.geometry_workers() == 3


@settings(max_examples=200, deadline=None)
@given(point_sets, st.floats(-1e6, 1e6), st.floats(1e-6, 1e6))
def test_the_frame_is_the_centred_copy_s_without_the_copy(params, offset, size):
    """``_frame``'s scale from column extremes is, to the bit, the largest coordinate of the
    points less the centre (the LPs' conditioning and their rows depend on it)."""
    a, b = make_pair(*params)
    a, b = a * size + offset, b * size - offset
    centre, scale = dp._frame(a, b)
    np.testing.assert_array_equal(centre, (a.mean(0) + b.mean(0)) / 2)
    assert scale == max(np.abs(a - centre).max(), np.abs(b - centre).max(), 1e-300)


def test_hulls_that_nearly_touch_get_a_distance_to_the_absolute_tolerance(monkeypatch):
    """Where the relative bound cannot close (forced here: CERTIFY_RTOL = 0; on 1,500 SST-2
    sentences two final clusters 1e-7 apart kept it open for 10,000 iterations), the upper bound is
    returned once it is below the absolute tolerance: it is never below the true distance and
    never above it by more than that."""
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(80, 60)), rng.normal(size=(80, 60)) + 0.3
    na, nb, _, scale = dp._normalise(a, b)
    exact = dp._min_norm_difference(na, nb)
    monkeypatch.setattr(dp, "CERTIFY_RTOL", 0.0)
    with pytest.raises(RuntimeError, match="did not converge"):
        dp._min_norm_difference(na, nb, max_iter=300)
    got = dp._min_norm_difference(na, nb, max_iter=300, abs_tol=1e-3 + exact)
    assert exact * (1 - 1e-4) <= got <= exact + 1e-3 + exact


# ---- the kept LP that stays factorised between merges (_WarmLP) ----------------------------


@settings(max_examples=200, deadline=None)
@given(point_sets)
def test_the_warm_lp_answers_as_a_brute_force_lp_with_checked_certificates(params):
    a, b = make_pair(*params)
    counters = dp.Counters()
    plane = dp._WarmLP(a, b, counters).solve()
    assert (plane is not None) == brute_force_separable(a, b)
    if plane is not None:
        w, c = plane
        assert (a @ w > c).all() and (b @ w < c).all()


@settings(max_examples=100, deadline=None)
@given(point_sets, st.sampled_from(["zeros", "negated"]))
def test_single_precision_pricing_only_guides_the_warm_lp(params, scramble):
    """The points' reduced costs in single precision only choose the entering column: with that
    copy of the columns zeroed or negated, every choice and the final "optimal" are checked in
    double, so the answer is still the brute force's, found by our simplex alone (no restart from
    HiGHS, no fallback to it)."""
    a, b = make_pair(*params)
    counters = dp.Counters()
    lp = dp._WarmLP(a, b, counters)
    lp._cols32[:lp.rows] = 0.0 if scramble == "zeros" else -lp._cols32[:lp.rows]
    plane = lp.solve()
    assert (counters.lp_imports, counters.lp_fallbacks) == (0, 0)
    assert (plane is not None) == brute_force_separable(a, b)
    if plane is not None:
        w, c = plane
        assert (a @ w > c).all() and (b @ w < c).all()


@settings(max_examples=150, deadline=None)
@given(st.integers(4, 40), st.integers(2, 40), st.integers(1, 4), st.integers(0, 2**32 - 1),
       st.floats(0.0, 4.0), st.integers(1, 6))
def test_a_sifted_re_solve_answers_as_a_brute_force_lp(na, nb, d, seed, shift, grown):
    """A re-solve after new points prices only the best-priced points at first (SIFT * (d + 2), 1 x
    here, so that it sifts on small sets): an overlap among them is certified there, a separable
    optimum among them is only a start and every point is priced from there. Either way the answer
    is the brute force's, reached by our simplex alone (a plane optimal on the sifted points alone
    can miss the others: its certificate then fails and HiGHS restarts it, counted as an import)."""
    a, b = make_pair(na, nb, d, seed, shift)
    kept = max(1, na - grown)
    counters = dp.Counters()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dp._WarmLP, "SIFT", 1)
        lp = dp._WarmLP(a[:kept], b, counters)
        assert (lp.solve() is not None) == brute_force_separable(a[:kept], b)
        lp.add(a[kept:], +1, undoable=True)
        plane = lp.solve()
        assert (plane is not None) == brute_force_separable(a, b)
        if plane is not None:
            w, c = plane
            assert (a @ w > c).all() and (b @ w < c).all()
        lp.undo()
        assert (lp.solve() is not None) == brute_force_separable(a[:kept], b)
    assert (counters.lp_imports, counters.lp_fallbacks) == (0, 0)


def test_sifted_re_solves_find_overlaps_among_the_sifted_points():
    """The sifting is exercised: on sets that grow into overlap, some re-solves answer "overlap"
    from the sifted points alone."""
    counters = dp.Counters()
    for seed in range(20):
        a, b = make_pair(30, 30, 3, seed, 10.0)
        a[-3:, 0] -= 10.0  # the last three points of a lie among b's
        lp = dp._WarmLP(a[:-3], b, counters)
        assert lp.solve() is not None
        lp.add(a[-3:], +1, undoable=True)
        assert lp.solve() is None
    assert counters.sifted > 0


def test_an_overlap_to_be_undone_is_certified_before_refactorising(monkeypatch):
    """A re-solve that will be undone (a rejected merge) answers "overlap" from the inverse as its
    pivots left it; only a witness that does not close gets a clean inverse, and no restart from
    HiGHS."""
    refactors = []
    real_refactor, real_certified = dp._WarmLP._refactor, dp._WarmLP._certified
    monkeypatch.setattr(dp._WarmLP, "_refactor", lambda self: refactors.append(1) or real_refactor(self))
    for fail_first in (False, True):
        calls: list[int] = []  # the pivots since the last inverse at each certificate of the re-solve

        def certified(self, fail_first=fail_first, calls=calls):
            if self._undo is None:  # (the first solve)
                return real_certified(self)
            calls.append(self.pivots)
            return False if fail_first and len(calls) == 1 else real_certified(self)

        monkeypatch.setattr(dp._WarmLP, "_certified", certified)
        answered = 0
        for seed in range(20):
            a, b = make_pair(80, 80, 12, seed, 10.0)
            a[-6:] = b.mean(0)  # inside b's hull (and yet a walk of many pivots away)
            a[-6:, 0] += np.linspace(-0.01, 0.01, 6)
            counters = dp.Counters()
            lp = dp._WarmLP(a[:-6], b, counters)
            assert lp.solve() is not None
            lp.add(a[-6:], +1, undoable=True)
            refactors.clear()
            calls.clear()
            assert lp.solve() is None
            if calls[0] > 8:  # (a walk of more pivots than a fresh inverse is refactorised after)
                answered += 1
                assert len(refactors) == (1 if fail_first else 0) and len(calls) == (2 if fail_first else 1)
                assert counters.lp_imports == counters.lp_fallbacks == 0
            lp.undo()
            assert lp.solve() is not None
        assert answered > 0


@settings(max_examples=150, deadline=None)
@given(point_sets)
def test_a_warm_lp_started_from_highs_basis_answers_as_a_brute_force_lp(params):
    """The cold solve of a large kept LP: HiGHS's optimal slab-LP basis, complemented, is this
    LP's optimal basis (forced here on small sets); its answers carry the same checked certificates."""
    a, b = make_pair(*params)
    counters = dp.Counters()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dp, "COLD_SIMPLEX_ROWS", 0)
        plane = dp._WarmLP(a, b, counters).solve()
    assert counters.lp_imports == 1 and counters.lp_fallbacks == 0
    assert (plane is not None) == brute_force_separable(a, b)
    if plane is not None:
        w, c = plane
        assert (a @ w > c).all() and (b @ w < c).all()


@settings(max_examples=150, deadline=None)
@given(point_sets, st.sampled_from(["bisector", "random"]))
def test_a_warm_lp_started_from_a_plane_answers_as_a_brute_force_lp(params, hint):
    """The cold solve of a large kept LP whose pair a plane parts: our simplex on the points
    nearest the plane, then on all (forced here on small sets, where the working set, 0.65 (d + 2)
    points a side, is a strict part of them). A hint that parts nothing (a random direction, or
    the bisector where the sets overlap) only changes which points come first: the answer is the
    brute-force LP's, and no HiGHS solve is needed."""
    a, b = make_pair(*params)
    normal = a.mean(0) - b.mean(0) if hint == "bisector" else np.random.default_rng(params[3]).normal(size=a.shape[1])
    counters = dp.Counters()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dp, "COLD_SIMPLEX_ROWS", 0)
        lp = dp._WarmLP(a, b, counters, hint=normal)
        plane = lp.solve()
    assert counters.lp_imports == counters.lp_fallbacks == 0
    assert (plane is not None) == brute_force_separable(a, b)
    if plane is not None:
        w, c = plane
        assert (a @ w > c).all() and (b @ w < c).all()
    more = make_pair(*params[:3], params[3] + 1, params[4])[0]  # and it goes on warm from there
    lp.add(more, +1)
    assert (lp.solve() is not None) == brute_force_separable(np.vstack([a, more]), b)


@pytest.mark.parametrize("seed", range(3))
def test_a_large_pair_the_first_search_cannot_part_starts_its_lp_from_the_plane_found_from_0(monkeypatch, seed):
    """Clustering: where the logistic search finds no plane for a large pair (every first search of
    a merge's pair fails here), the search from 0, longer, runs before the pair's first LP solve,
    and that LP starts from the points nearest its plane; the clusters are the brute-force
    procedure's."""
    real, started = dp._cheap_hyperplane, []

    def cheap(a, b, start=None, bisector=True, steps=dp.LOGISTIC_STEPS, known=None):
        return None if steps == dp.LOGISTIC_STEPS else real(a, b, start, bisector, steps, known)

    real_from_plane = dp._WarmLP._from_plane

    def from_plane(self):
        started.append(self.rows)
        return real_from_plane(self)

    monkeypatch.setattr(dp, "_cheap_hyperplane", cheap)
    monkeypatch.setattr(dp._WarmLP, "_from_plane", from_plane)
    monkeypatch.setattr(dp, "COLD_SIMPLEX_ROWS", 0)
    x, y = overlapping_data(seed, n=40, d=3)
    counters = dp.Counters()
    assert partition(dp.cluster(x, y, counters=counters)) == brute_force_cluster(x, y)
    assert started and counters.lp_fallbacks == 0


@pytest.mark.parametrize(("seed", "shift"), [(5, 0.0), (6, 0.5), (7, 2.5), (8, 4.0)])
def test_highs_basis_complemented_is_already_optimal(seed, shift):
    """The mapping itself: HiGHS's optimal slab-LP basis, complemented, is an optimal basis of the
    weight LP, so no pivot follows it (the test above passes even where the mapping fails, since
    our own simplex then takes over)."""
    a, b = make_pair(40, 40, 3, seed, shift)
    counters = dp.Counters()
    lp = dp._WarmLP(a, b, counters)
    assert lp._from_highs()
    assert counters.pivots == 0
    assert (lp._certified() is not None) == brute_force_separable(a, b)


@pytest.mark.parametrize(("seed", "shift"), [(5, 0.0), (6, 0.5), (7, 2.5), (8, 4.0)])
def test_a_first_solve_by_the_interior_point_method_leaves_an_optimal_basis(monkeypatch, seed, shift):
    """HiGHS's interior point method and crossover (for large first solves, forced here on small
    sets): the answer of a brute-force LP, a basis that the kept LP imports as already optimal, and
    re-solves after new rows by the simplex from it."""
    monkeypatch.setattr(dp, "INTERIOR_MIN_DIM", 1)
    a, b = make_pair(40, 40, 3, seed, shift)
    lp = dp._SlabLP(a, b, dp.Counters(), interior=True)
    plane = lp.solve()
    assert lp.highs.getInfo().ipm_iteration_count > 0 and lp.highs.getBasis().valid
    assert (plane is not None) == brute_force_separable(a, b)
    if plane is not None:
        assert (a @ plane[0] > plane[1]).all() and (b @ plane[0] < plane[1]).all()
    more, _ = make_pair(12, 1, 3, seed + 10, shift)
    lp.add(more, +1)
    grown = lp.solve()
    assert lp.highs.getInfo().ipm_iteration_count == 0  # warm, by the simplex
    assert (grown is not None) == brute_force_separable(np.vstack([a, more]), b)
    counters, interior = dp.Counters(), []
    run = dp._SlabLP._run
    monkeypatch.setattr(dp._SlabLP, "_run", lambda self: (run(self), interior.append(
        self.highs.getInfo().ipm_iteration_count > 0))[0])
    warm = dp._WarmLP(a, b, counters)
    assert warm._from_highs() and counters.pivots == 0 and interior == [True]
    assert (warm._certified() is not None) == (plane is not None)


@pytest.mark.parametrize("interior_min_dim", [1, 10**6])
def test_a_basis_from_the_interior_point_method_that_fails_here_is_taken_again_from_the_simplex(
        monkeypatch, interior_min_dim):
    """Crossover's basis can be too ill-conditioned for the kept LP (on PUD's words: weights of
    -2.4e-3): then HiGHS's dual simplex solves the LP again for its basis. A simplex basis that
    fails is not tried twice, and the basis is then the one before (the real complement is taken
    and factorised, then refused)."""
    monkeypatch.setattr(dp, "INTERIOR_MIN_DIM", interior_min_dim)
    a, b = make_pair(40, 40, 3, 6, 0.5)
    take, ran = dp._WarmLP._take_basis, []
    monkeypatch.setattr(dp._WarmLP, "_take_basis", lambda self, slab, order: (
        ran.append(slab.interior_ran), not slab.interior_ran and take(self, slab, order))[1])
    counters = dp.Counters()
    lp = dp._WarmLP(a, b, counters)
    before, binv = lp.basic.copy(), lp.binv.copy()
    if interior_min_dim == 1:
        assert lp._from_highs() and ran == [True, False] and counters.lp_imports == 2
        assert (lp._certified() is not None) == brute_force_separable(a, b)
    else:
        monkeypatch.setattr(dp._WarmLP, "_take_basis", lambda self, slab, order: (
            ran.append(slab.interior_ran), take(self, slab, order) and False)[1])
        assert not lp._from_highs() and ran == [False] and counters.lp_imports == 1
        np.testing.assert_array_equal(lp.basic, before)  # the basis before
        np.testing.assert_array_equal(lp.binv, binv)


def test_the_interior_point_method_takes_first_solves_of_2_d_plus_2_rows_from_interior_min_dim():
    """Only where asked for (a kept LP's first solve), and only for large LPs."""
    d = dp.INTERIOR_MIN_DIM
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(d + 2, d)), rng.normal(size=(d + 2, d))
    for pos, neg, asked, interior in ((a, b, True, True), (a, b, False, False), (a[1:], b, True, False),
                                      (a[:, 1:], b[:, 1:], True, False)):
        lp = dp._SlabLP(pos, neg, dp.Counters(), interior=asked)
        lp.solve()
        assert (lp.highs.getInfo().ipm_iteration_count > 0) == interior


def test_a_warm_lp_without_a_certificate_restarts_from_highs_basis_once(monkeypatch):
    """A basis gone ill-conditioned gets one fresh start from HiGHS's optimum before the pair is
    HiGHS's for good."""
    a, b = make_pair(10, 10, 2, 3, 0.0)
    counters = dp.Counters()
    lp = dp._WarmLP(a, b, counters)
    real, calls = dp._WarmLP._certified, []
    monkeypatch.setattr(dp._WarmLP, "_certified", lambda self: calls.append(1) or (False if len(calls) == 1 else real(self)))
    assert (lp.solve() is not None) == brute_force_separable(a, b)
    assert (counters.lp_imports, counters.lp_fallbacks, len(calls)) == (1, 0, 2)


@pytest.mark.parametrize("cold_rows", [dp.COLD_SIMPLEX_ROWS, 0])
@pytest.mark.parametrize("seed", range(4))
def test_the_warm_lp_grows_and_undoes_like_fresh_ones(monkeypatch, seed, cold_rows):
    """Points added (columns) and taken back: each answer is the one a fresh LP gives (started by
    our own simplex, or from HiGHS's basis)."""
    monkeypatch.setattr(dp, "COLD_SIMPLEX_ROWS", cold_rows)
    rng = np.random.default_rng(seed)
    a, b = make_pair(30, 30, 3, seed, float(rng.uniform(0.5, 3.0)))
    counters = dp.Counters()
    lp = dp._WarmLP(a[:5], b[:5], counters)
    have_a, have_b = 5, 5
    for step in range(12):
        grow_a = step % 2 == 0
        k = int(rng.integers(1, 4))
        new = a[have_a:have_a + k] if grow_a else b[have_b:have_b + k]
        if len(new) == 0:
            continue
        undo = step % 3 == 2
        lp.add(new, +1 if grow_a else -1, undoable=undo)
        na, nb = (have_a + len(new), have_b) if grow_a else (have_a, have_b + len(new))
        assert (lp.solve() is not None) == brute_force_separable(a[:na], b[:nb])
        if undo:
            lp.undo()
            assert (lp.solve() is not None) == brute_force_separable(a[:have_a], b[:have_b])
        else:
            have_a, have_b = na, nb
    assert counters.lp_fallbacks == 0


def test_an_answer_the_warm_lp_cannot_certify_goes_to_highs(monkeypatch):
    a, b = make_pair(10, 10, 2, 3, 0.0)
    counters = dp.Counters()
    lp = dp._WarmLP(a, b, counters)
    monkeypatch.setattr(dp._WarmLP, "_certified", lambda self: False)
    more = make_pair(6, 6, 2, 4, 0.0)[0]
    lp.add(more, +1, undoable=True)  # pending when HiGHS takes over: it stays undoable there
    assert (lp.solve() is not None) == brute_force_separable(np.vstack([a, more]), b)
    assert counters.lp_fallbacks == 1
    lp.undo()
    assert (lp.solve() is not None) == brute_force_separable(a, b)  # HiGHS's LP, warm, without them
    lp.add(more, +1)
    assert (lp.solve() is not None) == brute_force_separable(np.vstack([a, more]), b)
    assert counters.lp_fallbacks == 1  # the pair stays with HiGHS
    # Rows added and taken back while HiGHS has the pair (a rejected merge): its footprint, which
    # clustering reads after every merge, still adds up (all 9,613 SST-2 sentences failed there).
    held = lp.footprint()
    lp.add(make_pair(6, 6, 2, 5, 0.0)[0], +1, undoable=True)
    lp.solve()
    lp.undo()
    assert lp.footprint() == held
    assert (lp.solve() is not None) == brute_force_separable(np.vstack([a, more]), b)


@pytest.mark.parametrize("cold_rows", [dp.COLD_SIMPLEX_ROWS, 0])
@pytest.mark.parametrize("seed", range(3))
def test_clusterings_with_either_kept_lp_are_the_same(monkeypatch, seed, cold_rows):
    monkeypatch.setattr(dp, "_cheap_hyperplane", lambda a, b, start=None, bisector=True, steps=dp.LOGISTIC_STEPS, known=None: None)  # every decision an LP
    monkeypatch.setattr(dp, "COLD_SIMPLEX_ROWS", cold_rows)  # 0: every kept LP starts from HiGHS's basis
    x, y = overlapping_data(seed, n=40, d=3)
    got = {}
    for kind in (dp._WarmLP, dp._SlabLP):
        monkeypatch.setattr(dp, "KEPT_LP", kind)
        got[kind.__name__] = partition(dp.cluster(x, y))
    assert got["_WarmLP"] == got["_SlabLP"] == brute_force_cluster(x, y)


@pytest.mark.parametrize("seed", range(4))
def test_the_basis_witness_gap_is_the_gap_of_the_weights_convex_combinations(seed):
    """The basis's witness, against the same combinations computed point by point from the points
    as given (centred and scaled like the LP's): negative weights clipped, each side's summing to 1."""
    a, b = make_pair(20, 20, 3, seed, 0.0)
    lp = dp._WarmLP(a, b, dp.Counters())
    rng = np.random.default_rng(seed)
    support = rng.choice(lp.rows, 9, replace=False)
    support[:2] = [0, lp.rows - 1]  # both sides
    weights = rng.normal(size=9)
    weights[:2] = [0.5, 0.7]
    pos, neg = np.zeros(3), np.zeros(3)
    wpos = wneg = 0.0
    for i, wt in zip(support.tolist(), np.maximum(weights, 0.0).tolist(), strict=True):
        point = (lp.orig[i] - lp.centre) / lp.scale
        if lp.side[i] > 0:
            pos, wpos = pos + wt * point, wpos + wt
        else:
            neg, wneg = neg + wt * point, wneg + wt
    expected = np.abs(pos / wpos - neg / wneg).max()
    assert lp._basis_witness_gap(support, weights) == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert lp._basis_witness_gap(support[lp.side[support] > 0], weights[lp.side[support] > 0]) == np.inf


def test_an_overlap_the_basis_cannot_show_is_shown_by_the_best_priced_points(monkeypatch):
    """Where neither the basis's weights nor NNLS on its points give a witness (a drifted, slightly
    infeasible basis), NNLS on the basis and the best-priced points certifies the overlap, with no
    restart from HiGHS."""
    a, b = make_pair(40, 40, 3, 5, 0.0)
    assert not brute_force_separable(a, b)
    counters = dp.Counters()
    lp = dp._WarmLP(a, b, counters)
    real, calls = dp._WarmLP._support_witness, []

    def support_witness(self, support):  # the first NNLS, on the basis's points, does not close
        calls.append(len(support))
        return np.inf if len(calls) == 1 else real(self, support)

    monkeypatch.setattr(dp._WarmLP, "_basis_witness_gap", lambda self, support, weights: np.inf)
    monkeypatch.setattr(dp._WarmLP, "_support_witness", support_witness)
    assert lp.solve() is None
    assert len(calls) == 2 and calls[1] > calls[0]
    assert (counters.lp_imports, counters.lp_fallbacks) == (0, 0)


@pytest.mark.parametrize("max_planes", [4096, 3])
@pytest.mark.parametrize("seed", range(4))
def test_cluster_planes_re_checked_on_the_smaller_part_give_the_brute_force_clusters(monkeypatch, seed, max_planes):
    """Every cluster keeps its planes (PLANES_MIN_POINTS 2), so most checks are the smaller part's
    points against the larger part's planes (3 at most: the oldest dropped at every merge); the
    clusters must still be the brute-force ones."""
    monkeypatch.setattr(dp, "PLANES_MIN_POINTS", 2)
    monkeypatch.setattr(dp, "MAX_PLANES", max_planes)
    x, y = overlapping_data(seed, n=60, d=3)
    clusters = dp.cluster(x, y)
    assert clusters.counters.planes_reused > 0
    assert partition(clusters) == brute_force_cluster(x, y)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 12), st.integers(1, 30), st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_a_clusters_planes_keep_the_rows_that_new_points_leave_standing(k, n, d, seed):
    """``_Planes.holding`` against a loop over rows and points; ``compact`` keeps the live rows in
    order, the last ``limit`` of them."""
    rng = np.random.default_rng(seed)
    planes = dp._Planes(d)
    normals = rng.normal(size=(k, d))
    others = rng.integers(0, 6, size=k)
    others[rng.random(k) < 0.2] = -1
    tops = rng.normal(size=k)
    planes.append(others.tolist(), list(normals), tops.tolist())
    pts = rng.normal(size=(n, d))
    reach = float(np.linalg.norm(pts, axis=1).max())
    holds = planes.holding(pts, reach)
    for i in range(k):
        expected = others[i] >= 0 and all(
            p @ normals[i] - tops[i] > dp.SEPARATION_RTOL * np.linalg.norm(normals[i]) * reach for p in pts)
        assert holds[i] == expected
    live = rng.random(6) < 0.5
    limit = int(rng.integers(1, k + 1))
    rows = [i for i in range(k) if others[i] >= 0 and live[others[i]]][-limit:]
    planes.compact(live, limit)
    assert planes.n == len(rows)
    np.testing.assert_array_equal(planes.others[:planes.n], others[rows])
    np.testing.assert_array_equal(planes.normals[:planes.n], normals[rows])
    np.testing.assert_array_equal(planes.tops[:planes.n], tops[rows])


def blobs_data(seed: int, n: int = 80, d: int = 3):
    """Labels that overlap where their blobs meet, and far apart elsewhere: many merges with no
    other-label cluster near them."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0] * d, [3.0] + [0.0] * (d - 1), [12.0] + [0.0] * (d - 1), [-12.0] + [0.0] * (d - 1)])
    blob = rng.integers(4, size=n)
    x = centres[blob] + rng.normal(size=(n, d))
    y = np.where(blob == 1, 1, np.where(blob == 0, 0, blob % 2))
    return x, y


@pytest.mark.parametrize("data", [overlapping_data, blobs_data])
@pytest.mark.parametrize("max_planes", [4096, 3])
@pytest.mark.parametrize("seed", range(4))
def test_every_kept_plane_separates_its_two_clusters_after_every_merge(monkeypatch, seed, max_planes, data):
    """The invariant behind re-checking only a merge's smaller part: after each merge, every row of
    the merged cluster's planes has all its points above the row's top and, while the other cluster
    lives, all of that cluster's points at or below it; so for every cluster's planes, the rows
    turned over for a new cluster included. (It caught a merge that found no other-label
    cluster near it inheriting the planes of the check before, which may have been a rejected one.)"""
    monkeypatch.setattr(dp, "PLANES_MIN_POINTS", 2)
    monkeypatch.setattr(dp, "MAX_PLANES", max_planes)
    real, checked = dp._Agglomeration.commit, []

    def commit(self, merged, a, b):
        real(self, merged, a, b)
        for k, planes in self.planes.items():  # the merged cluster's, and those turned over for it
            assert self.alive[k]
            for i in range(planes.n):
                other, w, top = int(planes.others[i]), planes.normals[i], planes.tops[i]
                if other < 0:
                    continue
                assert (self.x[self.clusters[k].idx] @ w > top).all()
                if self.alive[other]:  # (the top is that cluster's highest point, rounded another way)
                    assert (self.x[self.clusters[other].idx] @ w <= top + 1e-12 * np.linalg.norm(w) * self.reach).all()
                checked.append(i)

    monkeypatch.setattr(dp._Agglomeration, "commit", commit)
    x, y = data(seed, n=80, d=3)
    dp.cluster(x, y)
    assert checked


@pytest.mark.parametrize("seed", range(3))
def test_planes_a_merged_cluster_inherits_are_turned_over_to_the_clusters_they_face(monkeypatch, seed):
    """A merged cluster's planes kept from its larger part show the clusters they face apart from
    it too: each such cluster that keeps planes gets a row against the merged cluster (so that its
    own next merge near it re-checks only its smaller part, with no search)."""
    monkeypatch.setattr(dp, "PLANES_MIN_POINTS", 2)
    real, turned = dp._Agglomeration.commit, []

    def commit(self, merged, a, b):
        kept = []
        if self.holding is not None:
            big, holds = self.holding
            planes = self.planes[big]
            kept = {int(o) for o in planes.others[:planes.n][holds] if o >= 0 and int(o) in self.planes}
        real(self, merged, a, b)
        m = len(self.clusters) - 1
        for o in kept:
            store = self.planes[o]
            assert m in store.others[:store.n].tolist()
            turned.append(o)

    monkeypatch.setattr(dp._Agglomeration, "commit", commit)
    x, y = overlapping_data(seed, n=80, d=3)
    dp.cluster(x, y)
    assert turned


@settings(max_examples=200, deadline=None)
@given(point_sets, st.floats(-1e6, 1e6), st.floats(1e-6, 1e6))
def test_a_clusters_radius_bounds_the_distances_of_its_points(params, offset, size):
    """The bounding sphere from |x|^2 - 2 x.c + |c|^2 and its rounding allowance contains every
    point (distances in extended precision), and is not much larger: a sphere too small could
    keep an overlapping cluster out of a merge's check."""
    a, _ = make_pair(*params)
    a = a * size + offset
    c = dp._Cluster(np.arange(len(a)), 0, a)
    exact = np.sqrt((((a.astype(np.longdouble) - c.centroid.astype(np.longdouble)) ** 2).sum(1)).max())
    assert c.radius >= exact
    assert c.radius <= exact + 1e-6 * (np.abs(offset) + size) * a.shape[1]


@settings(max_examples=100, deadline=None)
@given(point_sets, st.floats(-1e3, 1e3), st.integers(1, 11))
def test_a_merged_clusters_summaries_are_those_of_its_points(params, offset, cut):
    """Norms, coordinate bounds and centroid combined from the parts are, to the bit, those
    computed from the merged points: the logistic search's frame and rounding allowance come
    from them (``_Agglomeration.separate``), and must be ``_frame``'s and the points' own."""
    a, b = make_pair(*params)
    assume(len(a) >= 2)  # two non-empty parts
    a = a + offset
    cut = min(cut, len(a) - 1)
    parts = dp._Cluster(np.arange(cut), 0, a[:cut]), dp._Cluster(np.arange(cut, len(a)), 0, a[cut:])
    merged = dp._Cluster(np.arange(len(a)), 0, np.concatenate([p.pts for p in parts]), parts)
    whole = dp._Cluster(np.arange(len(a)), 0, a)
    for name in ("norms2", "hi", "lo", "centroid"):
        np.testing.assert_array_equal(getattr(merged, name), getattr(whole, name))
    assert merged.radius == whole.radius
    total = np.zeros(a.shape[1])  # the centroid: the points summed one after the other
    for row in a:
        total = total + row
    np.testing.assert_array_equal(merged.centroid, total / len(a))
    if a.shape[1] > 1:  # where numpy's mean sums in the same order (the frame test relies on it)
        np.testing.assert_array_equal(merged.centroid, a.mean(0))
    by_merge = dp._Cluster.merge(*parts)  # the same, the points on the first part's buffer
    np.testing.assert_array_equal(by_merge.pts, a)
    np.testing.assert_array_equal(by_merge.centroid, merged.centroid)


def test_merges_share_the_larger_parts_buffer_without_touching_its_points():
    """``_Cluster.merge`` writes the second part's points past the first part's rows on its
    buffer: a merge tried and rejected leaves the first part's points as they were, the next one
    tried writes over the rejected one's, and a buffer without room is replaced, not overrun."""
    rng = np.random.default_rng(0)
    single = [dp._Cluster(np.array([i]), 0, p[None]) for i, p in enumerate(rng.normal(size=(70, 3)))]
    grown = single[0]
    for c in single[1:60]:  # a cluster grown a point at a time, as a run grows its large ones
        grown = dp._Cluster.merge(grown, c)
    before = grown.pts.copy()
    rejected = dp._Cluster.merge(grown, single[60])
    assert np.shares_memory(rejected.pts, grown.pts)
    tried = dp._Cluster.merge(grown, dp._Cluster.merge(single[61], single[62]))
    np.testing.assert_array_equal(grown.pts, before)
    np.testing.assert_array_equal(tried.pts, np.vstack([before, single[61].pts, single[62].pts]))
    np.testing.assert_array_equal(tried.idx, np.r_[np.arange(60), 61, 62])
    big = dp._Cluster.merge(grown, dp._Cluster(np.arange(100, 300), 0, rng.normal(size=(200, 3))))
    assert len(big.buf) >= len(big.pts) == 260 and not np.shares_memory(big.pts, grown.pts)
    np.testing.assert_array_equal(big.pts[:60], before)


def test_the_agglomerations_logistic_searches_get_frame_and_reach_of_their_points(monkeypatch):
    """The frame and the rounding allowance that ``separate`` hands the logistic search (from the
    clusters' summaries) are those ``_cheap_hyperplane`` computes from the points themselves."""
    real, seen = dp._cheap_hyperplane, []

    def cheap(a, b, start=None, bisector=True, steps=dp.LOGISTIC_STEPS, known=None):
        if known is not None:
            (centre, scale), reach = known
            want_centre, want_scale = dp._frame(a, b)
            np.testing.assert_array_equal(centre, want_centre)
            assert scale == want_scale
            assert reach == float(np.sqrt(max(np.einsum("ij,ij->i", a, a).max(), np.einsum("ij,ij->i", b, b).max())))
            seen.append(len(a) + len(b))
        return real(a, b, start, bisector, steps, known)

    monkeypatch.setattr(dp, "_cheap_hyperplane", cheap)
    x, y = overlapping_data(0, n=80, d=3)
    dp.cluster(x, y)
    assert seen
