"""Representational similarity of two encodings of the same texts (Merchant et al. 2020;
Kornblith et al. 2019).

- Linear CKA: ``||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)`` on column-centred ``X`` (n, p)
  and ``Y`` (n, q); 1 for representations that differ by a rotation and an isotropic scaling,
  invariant to both, and comparable across widths. Computed in feature space: O(n (p + q)^2), no
  n x n matrix.
- RSA: the correlation (Pearson, or Spearman) of the two representations' pairwise distance
  vectors (cosine distance by default, as in Merchant et al.); O(n^2) memory, so it subsamples to
  ``max_points`` texts (seeded) where there are more.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError


def _pair(x, y) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.ndim != 2 or y.ndim != 2 or len(x) != len(y):
        raise ConfigError(f"two representations of the same n texts are needed, got {x.shape} and {y.shape}")
    if len(x) < 3:
        raise ConfigError(f"similarity needs at least 3 texts, got {len(x)}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ConfigError("representations hold NaN or infinite values")
    return x, y


def linear_cka(x, y) -> float:
    """Linear centred kernel alignment of two (n, p) and (n, q) representations, in [0, 1]."""
    x, y = _pair(x, y)
    x = x - x.mean(0)
    y = y - y.mean(0)
    xx, yy = np.linalg.norm(x.T @ x), np.linalg.norm(y.T @ y)
    if xx == 0 or yy == 0:
        raise ConfigError("a representation with zero variance has no CKA")
    return float(np.linalg.norm(y.T @ x) ** 2 / (xx * yy))


def rsa(x, y, metric: str = "cosine", method: str = "pearson", max_points: int = 2000, seed: int = 0) -> float:
    """Correlation of the condensed pairwise-distance matrices of two representations."""
    from scipy.spatial.distance import pdist
    from scipy.stats import pearsonr, spearmanr

    if method not in ("pearson", "spearman"):
        raise ConfigError(f"RSA method must be 'pearson' or 'spearman', got {method!r}")
    x, y = _pair(x, y)
    keep = rsa_points(len(x), max_points, seed)
    x, y = x[keep], y[keep]
    dx, dy = pdist(x, metric), pdist(y, metric)
    if np.ptp(dx) == 0 or np.ptp(dy) == 0:
        raise ConfigError("all pairwise distances are equal: RSA is undefined")
    return float((pearsonr if method == "pearson" else spearmanr)(dx, dy).statistic)


def rsa_points(n: int, max_points: int = 2000, seed: int = 0) -> np.ndarray:
    """The texts RSA compares: all ``n``, or a seeded sample of ``max_points`` (sorted)."""
    if n <= max_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False))


# The jackknife's replicates (harness/analysis/stats.py, ``jackknife_keep``): each measure on the texts a
# replicate keeps, computed from what the whole sample shares instead of from scratch.


def linear_cka_replicates(x, y, keep: list[np.ndarray]) -> np.ndarray:
    """:func:`linear_cka` on the rows ``keep[j]`` for each j: the cross-products of the rows
    left out are subtracted from the whole sample's (O(p q) per replicate after one pass). NaN for
    a replicate without variance."""
    x, y = _pair(x, y)
    x, y = x - x.mean(0), y - y.mean(0)  # a constant shift changes no centred product; precision
    sxx, syy, sxy = x.T @ x, y.T @ y, y.T @ x
    sum_x, sum_y, n = x.sum(0), y.sum(0), len(x)
    out = np.empty(len(keep))
    for j, k in enumerate(keep):
        left = np.setdiff1d(np.arange(n), k, assume_unique=True)
        xl, yl = x[left], y[left]
        m = len(k)
        mx, my = (sum_x - xl.sum(0)) / m, (sum_y - yl.sum(0)) / m
        cxx = sxx - xl.T @ xl - m * np.outer(mx, mx)
        cyy = syy - yl.T @ yl - m * np.outer(my, my)
        cxy = sxy - yl.T @ xl - m * np.outer(my, mx)
        xx, yy = np.linalg.norm(cxx), np.linalg.norm(cyy)
        out[j] = np.linalg.norm(cxy) ** 2 / (xx * yy) if xx > 0 and yy > 0 else np.nan
    return out


def rsa_replicates(x, y, keep: list[np.ndarray], metric: str = "cosine") -> np.ndarray:
    """:func:`rsa` (Pearson) on the rows ``keep[j]`` for each j (the rows are the texts RSA
    compares, :func:`rsa_points`): the pairwise distances are computed once and each replicate
    correlates the pairs of the texts it keeps. NaN where a replicate's distances are all equal."""
    from scipy.spatial.distance import pdist

    x, y = _pair(x, y)
    dx, dy = pdist(x, metric), pdist(y, metric)
    i, j = np.triu_indices(len(x), 1)  # pdist's order
    out = np.empty(len(keep))
    for r, k in enumerate(keep):
        kept = np.zeros(len(x), bool)
        kept[k] = True
        pair = kept[i] & kept[j]
        a, b = dx[pair], dy[pair]
        out[r] = np.corrcoef(a, b)[0, 1] if np.ptp(a) > 0 and np.ptp(b) > 0 else np.nan
    return out
