"""2-D maps of embedding spaces (Bogaert et al. 2023 draw t-SNE maps of the frozen and the
fine-tuned space, coloured by label).

openTSNE where it is installed (the ``report`` extra), with FFT-accelerated gradients (linear in
n) and PCA initialisation. Up to ``MULTISCALE_MAX`` points the affinities are multi-scale (a
Gaussian mixture over perplexities 30 and 300, which keeps both local and global structure);
above that, one perplexity of 30: the large perplexity's 900 neighbours per point make
multi-scale affinities slower than scikit-learn's whole t-SNE at 20,000 points (209 s against
170 s on 2 cores), while one perplexity takes 65 s. Without openTSNE: scikit-learn's Barnes-Hut
t-SNE with one perplexity. Which one ran is part of the map artifact's key and metadata.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError


@dataclass(frozen=True)
class Map2D:
    coords: np.ndarray  # (n, 2)
    method: str
    perplexities: tuple[float, ...]


MULTISCALE_MAX = 5_000
METHODS = ("opentsne-multiscale", "opentsne-fft", "sklearn-tsne")


def available_method(n: int = 0) -> str:
    """The map method for ``n`` points on this installation."""
    try:
        import openTSNE  # noqa: F401
    except ImportError:
        return "sklearn-tsne"
    return "opentsne-multiscale" if n <= MULTISCALE_MAX else "opentsne-fft"


def _perplexities(n: int, method: str) -> tuple[float, ...]:
    top = max(2.0, (n - 1) / 3.0)  # t-SNE needs n > 3 x perplexity
    base = min(30.0, top)
    if method != "opentsne-multiscale":
        return (base,)
    return tuple(sorted({base, min(10 * base, top)}))


def tsne_2d(x: np.ndarray, seed: int = 0, method: str | None = None) -> Map2D:
    """A t-SNE map of the rows of ``x`` (seeded: the same input gives the same map)."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or len(x) < 5:
        raise ConfigError(f"a 2-D map needs at least 5 points in a 2-D array, got shape {x.shape}")
    method = method or available_method(len(x))
    if method not in METHODS:
        raise ConfigError(f"map method must be one of {list(METHODS)}, got {method!r}")
    perps = _perplexities(len(x), method)
    if method.startswith("opentsne"):
        from openTSNE import TSNEEmbedding, affinity, initialization

        if method == "opentsne-multiscale":
            aff = affinity.Multiscale(x, perplexities=list(perps), random_state=seed, n_jobs=-1)
        else:
            aff = affinity.PerplexityBasedNN(x, perplexity=perps[0], random_state=seed, n_jobs=-1)
        emb = TSNEEmbedding(initialization.pca(x, random_state=seed), aff,
                            negative_gradient_method="fft", random_state=seed, n_jobs=-1)
        emb = emb.optimize(250, exaggeration=12).optimize(500)
        coords = np.asarray(emb)
    else:
        from sklearn.manifold import TSNE

        coords = TSNE(2, perplexity=perps[0], init="pca", random_state=seed).fit_transform(x)
    return Map2D(np.asarray(coords, np.float32), method, perps)
