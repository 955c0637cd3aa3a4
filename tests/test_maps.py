"""2-D maps: which method runs, and that a map keeps well-separated clusters apart."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from harness.analysis.maps import MULTISCALE_MAX, available_method, tsne_2d
from harness.errors import ConfigError

HAS_OPENTSNE = importlib.util.find_spec("openTSNE") is not None


def clusters(n_per: int = 60, dim: int = 20, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((3, dim)) * 8
    y = np.repeat(np.arange(3), n_per)
    return (centres[y] + rng.standard_normal((len(y), dim))).astype(np.float32), y


def neighbour_agreement(coords: np.ndarray, y: np.ndarray, k: int = 5) -> float:
    d = ((coords[:, None] - coords[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    nn = np.argsort(d, axis=1)[:, :k]
    return float((y[nn] == y[:, None]).mean())


METHODS = ["sklearn-tsne"] + (["opentsne-multiscale", "opentsne-fft"] if HAS_OPENTSNE else [])


@pytest.mark.parametrize("method", METHODS)
def test_a_map_keeps_separate_clusters_apart_and_is_seeded(method):
    x, y = clusters()
    a = tsne_2d(x, seed=0, method=method)
    assert a.method == method and a.coords.shape == (len(x), 2)
    assert neighbour_agreement(a.coords, y) > 0.95
    np.testing.assert_array_equal(tsne_2d(x, seed=0, method=method).coords, a.coords)


def test_method_choice_and_perplexities():
    if HAS_OPENTSNE:
        assert available_method(MULTISCALE_MAX) == "opentsne-multiscale"
        assert available_method(MULTISCALE_MAX + 1) == "opentsne-fft"
    else:
        assert available_method(10) == available_method(10**6) == "sklearn-tsne"
    x, _ = clusters(n_per=10)
    assert tsne_2d(x, method="sklearn-tsne").perplexities == (pytest.approx(29 / 3),)  # n > 3 x perplexity
    with pytest.raises(ConfigError, match="map method must be one of"):
        tsne_2d(x, method="umap")
    with pytest.raises(ConfigError, match="at least 5 points"):
        tsne_2d(x[:4])
