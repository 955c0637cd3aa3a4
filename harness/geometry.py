"""Geometry of embedding spaces: how many principal components carry the variance.

Bogaert et al. (2023, section 3.3) count the principal components needed for 95% of the variance
of test-set first-token vectors: a fine-tuned space needs very few, a frozen one hundreds.
"""

from __future__ import annotations

import numpy as np

from .errors import ConfigError


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


def components_for_variance(x: np.ndarray, threshold: float = 0.95) -> int:
    """The smallest k such that the first k principal components explain >= ``threshold`` of
    the variance."""
    if not 0.0 < threshold <= 1.0:
        raise ConfigError(f"variance threshold must be in (0, 1], got {threshold}")
    cumulative = np.cumsum(explained_variance_ratio(x))
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
