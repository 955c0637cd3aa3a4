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

from .errors import ConfigError


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
    if len(x) > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(len(x), max_points, replace=False))
        x, y = x[keep], y[keep]
    dx, dy = pdist(x, metric), pdist(y, metric)
    if np.ptp(dx) == 0 or np.ptp(dy) == 0:
        raise ConfigError("all pairwise distances are equal: RSA is undefined")
    return float((pearsonr if method == "pearson" else spearmanr)(dx, dy).statistic)
