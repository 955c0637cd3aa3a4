"""Geometry of embedding spaces: how many principal components carry the variance, where labels
sit (free of translation), and how label centroids move.

Bogaert et al. (2023, section 3.3) count the principal components needed for 95% of the variance
of test-set first-token vectors: a fine-tuned space needs very few, a frozen one hundreds. Zhou
and Srikumar (2022, section 4.5) follow the label centroids from layer to layer. The quantities a
judge tests come with their delete-a-group jackknife replicates (``harness/analysis/stats.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..errors import ConfigError
from . import stats
from .stats import jackknife_keep


def explained_variance_ratio(x: np.ndarray) -> np.ndarray:
    """Fraction of the total variance along each principal component, largest first.

    scikit-learn's PCA. For tall data (more rows than columns, as every embedding matrix here)
    it uses the eigenvalues of the covariance matrix (``covariance_eigh``): exact, one pass over
    the data, 12x faster than a full SVD at 20,000 x 768 (tests/test_bench_analysis.py). The
    spectrum is needed whole, so a randomized solver, which finds the top few, does not apply.
    """
    from sklearn.decomposition import PCA

    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ConfigError(f"PCA needs a 2-D array with at least 2 rows, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ConfigError("PCA input holds NaN or infinite values")
    # np.allclose(x, x[0]) without its (n, d) temporaries: the largest deviation from the first
    # row, per column, against allclose's tolerance
    deviation = np.maximum(x.max(axis=0) - x[0], x[0] - x.min(axis=0))
    if np.all(deviation <= 1e-8 + 1e-5 * np.abs(x[0])):
        raise ConfigError("PCA input has zero variance: every row is the same vector")
    solver = "covariance_eigh" if x.shape[0] >= x.shape[1] else "full"
    return PCA(svd_solver=solver).fit(x).explained_variance_ratio_


@dataclass(frozen=True, eq=False)  # arrays: compared by identity
class ComponentCount:
    """Principal components for a share of the variance of one space: the integer ``count`` (what
    the papers report) and, to test it, the share of the variance the top k components hold, for
    every k, two ways, each with its values on the jackknife's leave-a-group-out samples of the
    texts (groups x components):

    - ``in_sample``: the top k sample components' share (PCA's own figure). Biased upward: the
      sample's top components fit its own noise, so a count from it is too low (the audit: a
      population count of 536-681 shows as 92-103 at n = 120).
    - ``held_out``: the share of one half of the texts' variance captured by the other half's top
      k components, averaged over the two ways round. Biased downward: a subspace fitted elsewhere
      captures no more than the population's best one.

    A test uses the one whose bias is on its safe side ("the top k hold at least the share":
    held out; "they hold less": in sample), with the bias left in place (removing it adds
    variance the jackknife's standard error does not see). The count jumps where the spectrum's
    tail is flat (a fine-tuned space: one component and noise), so it is never tested itself;
    bounds on it come from inverting the share tests (:meth:`more_than`, :meth:`at_most`)."""

    count: int
    variance: float
    in_sample: np.ndarray
    in_sample_replicates: np.ndarray
    held_out: np.ndarray
    held_out_replicates: np.ndarray

    @property
    def components(self) -> int:
        return len(self.in_sample)

    @staticmethod
    def _p_top(shares: np.ndarray, replicates: np.ndarray, threshold: float, above: bool) -> np.ndarray:
        """For every k, the one-sided jackknife p that the top k components' share is above (or
        below) ``threshold``, without the bias correction (:func:`harness.analysis.stats.jackknife` with
        ``correct_bias=False``), all k at once."""
        value = np.cumsum(shares)
        reps = np.cumsum(replicates, axis=1)
        distance = (value - threshold) if above else (threshold - value)
        return stats.jackknife_p(distance, stats.jackknife_se(reps), len(reps) - 1)

    @cached_property
    def _p_holds(self) -> np.ndarray:
        return self._p_top(self.held_out, self.held_out_replicates, self.variance - 1e-12, above=True)

    @cached_property
    def _p_short(self) -> np.ndarray:
        return self._p_top(self.in_sample, self.in_sample_replicates, self.variance - 1e-12, above=False)

    def p_holds(self, k: int) -> float:
        """One-sided p that the top ``k`` components hold at least ``variance`` (the space needs
        at most k), from the held-out share. 1 for k < 1."""
        return 1.0 if k < 1 else float(self._p_holds[min(k, self.components) - 1])

    def p_short(self, k: int) -> float:
        """One-sided p that the top ``k`` components hold less than ``variance`` (the space needs
        more than k), from the in-sample share. 0 for k < 1 (no space needs none)."""
        return 0.0 if k < 1 else float(self._p_short[min(k, self.components) - 1])

    def more_than(self, alpha: float) -> int:
        """A lower confidence bound: the largest k shown to fall short of ``variance`` at ``alpha``
        (the space needs more than k components; the shares rise with k, so the tests are nested)."""
        shown = np.flatnonzero(self._p_short < alpha)
        return int(shown[-1]) + 1 if shown.size else 0

    def at_most(self, alpha: float) -> int:
        """An upper confidence bound: the smallest k shown to hold ``variance`` at ``alpha`` (the
        space needs at most k components); the number of components where none is."""
        shown = np.flatnonzero(self._p_holds < alpha)
        return int(shown[0]) + 1 if shown.size else self.components


def _shares(eigenvalues: np.ndarray) -> np.ndarray:
    eig = np.clip(np.sort(eigenvalues)[::-1], 0.0, None)
    return eig / eig.sum() if eig.sum() > 0 else np.full(eig.shape, np.nan)


def _captured(cov_fit: np.ndarray, cov_other: np.ndarray) -> np.ndarray:
    """The share of ``cov_other``'s variance along each of ``cov_fit``'s principal directions,
    largest eigenvalue first."""
    vectors = np.linalg.eigh(cov_fit)[1][:, ::-1]
    along = np.sum(vectors * (cov_other @ vectors), axis=0)  # v_j' C v_j for each direction j
    total = np.trace(cov_other)
    return np.clip(along, 0.0, None) / total if total > 0 else np.full(along.shape, np.nan)


def component_count(x: np.ndarray, variance: float, keep: list[np.ndarray], seed: int = 0) -> ComponentCount:
    """:class:`ComponentCount` of ``x``'s rows. The texts are dealt into two halves (seeded) for the
    held-out share; each replicate's covariance matrices (the whole sample's, each half's) are the
    full ones minus the rows it leaves out, so the cost is one pass over the data and a few
    symmetric eigen-decompositions per replicate."""
    if not 0.0 < variance <= 1.0:
        raise ConfigError(f"variance threshold must be in (0, 1], got {variance}")
    x = np.asarray(x, np.float64)
    if x.ndim != 2 or x.shape[0] < 4 or not np.isfinite(x).all():
        raise ConfigError(f"a component count needs a finite 2-D array with at least 4 rows, got shape {x.shape}")
    x = x - x.mean(axis=0)  # a constant shift changes no covariance; precision
    n = len(x)
    half = np.random.default_rng(seed).permutation(n) % 2
    parts = [np.flatnonzero(half == h) for h in (0, 1)]
    sums = [(x[p].T @ x[p], x[p].sum(axis=0), len(p)) for p in parts]

    def covariances(left: np.ndarray) -> list[np.ndarray]:
        out = []
        for p, (gram, total, size) in zip(parts, sums, strict=True):
            gone = x[np.intersect1d(p, left, assume_unique=True)]
            m = size - len(gone)
            mean = (total - gone.sum(axis=0)) / m
            out.append(gram - gone.T @ gone - m * np.outer(mean, mean))
        return out

    def between(left: np.ndarray) -> np.ndarray:
        """The pooled scatter is the two halves' plus the scatter of their means."""
        kept = [np.setdiff1d(p, left, assume_unique=True) for p in parts]
        means = [x[k].mean(axis=0) for k in kept]
        w = len(kept[0]) * len(kept[1]) / (len(kept[0]) + len(kept[1]))
        return w * np.outer(means[0] - means[1], means[0] - means[1])

    def measure(left: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a, b = covariances(left)
        return _shares(np.linalg.eigvalsh(a + b + between(left))), (_captured(a, b) + _captured(b, a)) / 2

    full_in, full_out = measure(np.array([], int))
    reps = [measure(np.setdiff1d(np.arange(n), k, assume_unique=True)) for k in keep]
    return ComponentCount(_count(full_in, variance), variance, full_in, np.array([r[0] for r in reps]),
                          full_out, np.array([r[1] for r in reps]))


def components_for_variance(x: np.ndarray, threshold: float = 0.95) -> int:
    """The smallest k such that the first k principal components explain >= ``threshold`` of
    the variance."""
    if not 0.0 < threshold <= 1.0:
        raise ConfigError(f"variance threshold must be in (0, 1], got {threshold}")
    return _count(explained_variance_ratio(x), threshold)


def _count(ratios: np.ndarray, threshold: float) -> int:
    cumulative = np.cumsum(ratios)
    # Guard against float round-off leaving the total a hair under 1.
    k = int(np.searchsorted(cumulative, threshold - 1e-12, side="left")) + 1
    return min(k, len(cumulative))


# ---------------------------------------------------------------------------------------------
# Where labels sit: free of translation, with the space's own scale beside


def spread(x: np.ndarray) -> float:
    """The space's scale, free of translation: the centred RMS distance of the rows to their mean,
    ``sqrt(mean_i ||x_i - mean(x)||^2)``. The mean vector norm used before is not translation-free:
    BERT-family spaces carry a large common direction, and a common offset that shrank by 30% "grew"
    every distance divided by it by 39%."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ConfigError(f"the spread needs a 2-D array with at least 2 rows, got shape {np.shape(x)}")
    return float(np.sqrt(np.mean(np.sum((x - x.mean(axis=0)) ** 2, axis=1))))


def centroids(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each label's mean vector, in the order of ``np.unique(y)`` (DirectProbe's label order),
    averaged in the vectors' own precision and returned as float64."""
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ConfigError(f"centroids need one label per row, got shapes {x.shape} and {y.shape}")
    return np.stack([x[y == k].mean(axis=0) for k in np.unique(y)]).astype(np.float64)


def nearest_centroid_gap(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each label's distance from its centroid to the nearest other label's centroid (labels in
    ``np.unique(y)`` order): whether labels moved apart, where DirectProbe's margins also grow when
    clusters merely tighten around centroids that stayed put."""
    c = centroids(np.asarray(x, dtype=np.float64), y)
    if len(c) < 2:
        raise ConfigError("a centroid gap needs at least two labels")
    d = np.sqrt(np.maximum(np.sum(c**2, 1)[:, None] + np.sum(c**2, 1)[None, :] - 2 * c @ c.T, 0.0))
    np.fill_diagonal(d, np.inf)
    return d.min(axis=1)


def participation_ratio(vectors: np.ndarray) -> float:
    """How many directions the rows of ``vectors`` span, as a number: (sum s^2)^2 / sum s^4 over
    their singular values s (uncentred: movements that share one direction span 1, even when they
    are all the same shift). 0 for all-zero rows."""
    s2 = np.linalg.svd(np.asarray(vectors, float), compute_uv=False) ** 2
    total = float(s2.sum())
    return total ** 2 / float((s2 ** 2).sum()) if total > 0 else 0.0


def centroid_shift(before: np.ndarray, after: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float, float]:
    """How the label centroids moved between two encodings of the same items: the shifts (labels
    in ``np.unique(y)`` order, x dim), their mean length over ``before``'s :func:`spread`, and the
    directions they span (:func:`participation_ratio`)."""
    shifts = centroids(after, y) - centroids(before, y)
    return shifts, float(np.linalg.norm(shifts, axis=1).mean()) / spread(before), participation_ratio(shifts)


@dataclass(frozen=True)
class CentroidMovement:
    """Per layer, how each label's centroid moved from the pre-trained to a fine-tuned encoder:
    ``movements`` (labels x dim per layer), the pre-trained layers' ``spreads``, and the two
    measures (:func:`centroid_shift`) on each leave-a-group-out sample of the
    items (groups x layers). ``labels``: the labels measured, those whose items fall in two or more
    of the jackknife's groups (a label every replicate has)."""

    labels: np.ndarray
    movements: list[np.ndarray]
    spreads: list[float]
    size_replicates: np.ndarray
    span_replicates: np.ndarray


def centroid_movement(before: list[np.ndarray], after: list[np.ndarray], y: np.ndarray,
                      clusters: np.ndarray | None = None) -> CentroidMovement:
    """:class:`CentroidMovement` from the items' vectors per layer under both encoders (``before``,
    ``after``), their labels and (token tasks) their sentences, the sampling unit."""
    keep = jackknife_keep(len(y), clusters=clusters)
    labels = np.unique(y)
    for k in keep:
        labels = np.intersect1d(labels, y[k])
    rows = np.flatnonzero(np.isin(y, labels))
    index = np.full(len(y), -1)
    index[rows] = np.arange(rows.size)
    keep = [index[k[np.isin(y[k], labels)]] for k in keep]
    before, after, y = [x[rows] for x in before], [x[rows] for x in after], y[rows]
    full = [centroid_shift(b, a, y) for b, a in zip(before, after, strict=True)]
    reps = np.array([[centroid_shift(b[k], a[k], y[k])[1:] for b, a in zip(before, after, strict=True)]
                     for k in keep])  # groups x layers x (size, span)
    return CentroidMovement(labels, [f[0] for f in full], [spread(b) for b in before],
                            reps[:, :, 0], reps[:, :, 1])
