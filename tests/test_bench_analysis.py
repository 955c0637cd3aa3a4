"""Benchmarks of the analysis steps and of the cache (pytest-benchmark).

    pytest tests/test_bench_analysis.py --benchmark-enable --benchmark-group-by=group \
        --benchmark-json report/benchmarks.json

- PCA (the full spectrum, as the PCA claim needs it) at 20,000 x 768: the harness's solver
  against scikit-learn's defaults and against the full SVD that the harness used before.
- t-SNE at 20,000 x 768: the harness's map (openTSNE, multi-scale affinities, FFT gradients,
  where the ``report`` extra is installed) against scikit-learn's ``TSNE()`` defaults.
- The smoke profile cold (an empty artifact store) against warm (cache hits only), as
  subprocesses running the README's main command.

In a normal test run (benchmarks disabled) PCA and t-SNE run once on 500 rows, as plain tests of
the code path; the smoke-profile benchmark, minutes long, runs only when benchmarks are enabled.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.analysis.geometry import explained_variance_ratio
from harness.analysis.maps import tsne_2d

ROOT = Path(__file__).resolve().parents[1]
ROWS, DIM = 20_000, 768


def enabled(config) -> bool:
    return bool(config.getoption("benchmark_enable"))


@pytest.fixture(scope="module")
def embeddings(request):
    """Embedding-like rows: a few strong directions, a long tail, and label clusters."""
    n = ROWS if enabled(request.config) else 500
    rng = np.random.default_rng(0)
    spectrum = 1.0 / np.arange(1, DIM + 1) ** 0.8
    basis = np.linalg.qr(rng.standard_normal((DIM, DIM)))[0]
    labels = rng.integers(0, 6, n)
    centres = rng.standard_normal((6, DIM)) * 2.0
    x = (rng.standard_normal((n, DIM)) * spectrum) @ basis.T + centres[labels]
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def svd_ratios(embeddings):
    """The reference spectrum: singular values of the centred data, in float64."""
    x = embeddings.astype(np.float64)
    s = np.linalg.svd(x - x.mean(0), compute_uv=False) ** 2
    return s / s.sum()


@pytest.mark.benchmark(group="pca")
@pytest.mark.parametrize("solver", ["harness", "sklearn-default", "sklearn-full-svd"])
def test_bench_pca(benchmark, embeddings, svd_ratios, solver):
    from sklearn.decomposition import PCA

    def run():
        if solver == "harness":
            return explained_variance_ratio(embeddings)
        if solver == "sklearn-default":
            return PCA().fit(embeddings.astype(np.float64)).explained_variance_ratio_
        return PCA(svd_solver="full").fit(embeddings.astype(np.float64)).explained_variance_ratio_

    ratio = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=0)
    benchmark.extra_info["shape"] = list(embeddings.shape)
    np.testing.assert_allclose(ratio, svd_ratios, atol=1e-9)


@pytest.mark.benchmark(group="tsne")
@pytest.mark.parametrize("method", ["harness", "sklearn-default"])
def test_bench_tsne(benchmark, embeddings, method):
    from sklearn.manifold import TSNE

    def run():
        if method == "harness":
            result = tsne_2d(embeddings, seed=0)
            benchmark.extra_info["method"] = result.method
            return result.coords
        return TSNE(random_state=0).fit_transform(embeddings)

    coords = benchmark.pedantic(run, rounds=1, iterations=1, warmup_rounds=0)
    benchmark.extra_info["shape"] = list(embeddings.shape)
    assert coords.shape == (len(embeddings), 2) and np.isfinite(coords).all()
    assert coords.std(0).min() > 0  # a map, not a point


@pytest.mark.benchmark(group="smoke-profile")
@pytest.mark.parametrize("cache", ["cold", "warm"])
def test_bench_smoke_profile(benchmark, request, tmp_path_factory, cache):
    """The README's main job (``pytest claims -m smoke --report ...``) in a subprocess: cold on
    an empty store, then warm on the store the cold run filled."""
    if not enabled(request.config):
        pytest.skip("the smoke-profile benchmark runs minutes: only with --benchmark-enable")
    store = tmp_path_factory.getbasetemp() / "smoke-store"  # shared by the cold and warm cases
    if cache == "warm" and not store.is_dir():
        pytest.skip("the warm case needs the cold case's store: run both")

    def run():
        env = {**os.environ, "CI": "1"}
        return subprocess.run(
            [sys.executable, "-m", "pytest", "claims", "-m", "smoke", "-q",
             "--artifacts", str(store), "--report", str(tmp_path_factory.mktemp(f"report-{cache}"))],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)

    proc = benchmark.pedantic(run, rounds=1, iterations=1, warmup_rounds=0)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    benchmark.extra_info["summary"] = proc.stdout.strip().splitlines()[-1]
