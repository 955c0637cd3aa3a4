"""Zhou and Srikumar's MLP probe: the grid search picks by validation accuracy, the restarts are
the chosen setting from other initialisations, against scikit-learn fitted directly."""

from __future__ import annotations

import numpy as np
import pytest

from harness.analysis.probes import PAPER_ALPHAS, PAPER_HIDDEN, ProbeConfig, zhou_probe
from harness.errors import ConfigError


def blobs(n: int, seed: int, noise: float = 1.0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(size=(n, 8)) * noise + np.eye(3, 8)[y] * 3
    return x, y


def test_the_paper_grid_is_the_default():
    config = ProbeConfig()
    assert config.hidden == (32, 64, 128, 256) == PAPER_HIDDEN and config.max_iter == 1000 and config.restarts == 5
    assert PAPER_ALPHAS[0] == 1e-7 and PAPER_ALPHAS[-1] == 1.0


def test_the_probe_picks_by_validation_and_restarts_the_chosen_setting():
    from sklearn.neural_network import MLPClassifier

    (xt, yt), (xv, yv), (xs, ys) = blobs(300, 0), blobs(100, 1), blobs(200, 2)
    config = ProbeConfig(hidden=(8, 32), alphas=(1e-4, 10.0), max_iter=200, restarts=3)
    result = zhou_probe(xt, yt, xv, yv, xs, ys, config, seed=0)
    assert result.mean > 0.9 and len(result.test_accuracy) == 3
    # the chosen setting is the best on validation among every setting of the grid
    scores = {((a, b), alpha): MLPClassifier((a, b), alpha=alpha, max_iter=200, random_state=0).fit(xt, yt).score(xv, yv)
              for a in (8, 32) for b in (8, 32) for alpha in (1e-4, 10.0)}
    assert result.validation_accuracy == pytest.approx(max(scores.values()))
    assert scores[(result.hidden, result.alpha)] == max(scores.values())
    # each restart is that setting from initialisation seed + r
    for r, acc in enumerate(result.test_accuracy):
        direct = MLPClassifier(result.hidden, alpha=result.alpha, max_iter=200, random_state=r).fit(xt, yt)
        assert acc == pytest.approx(direct.score(xs, ys))


def test_a_probe_on_labels_that_carry_nothing_stays_near_chance():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 8))
    result = zhou_probe(x[:200], rng.integers(0, 2, 200), x[200:300], rng.integers(0, 2, 100), x[300:],
                        rng.integers(0, 2, 100), ProbeConfig(hidden=(8,), alphas=(1e-3,), max_iter=100, restarts=2))
    assert result.mean < 0.7


def test_bad_configurations_are_named():
    with pytest.raises(ConfigError, match="hidden sizes must be positive integers"):
        ProbeConfig(hidden=(0,))
    with pytest.raises(ConfigError, match="restarts must be at least 1"):
        ProbeConfig(restarts=0)
    x, y = blobs(10, 0)
    with pytest.raises(ConfigError, match="probe validation split: 0 vectors"):
        zhou_probe(x, y, x[:0], y[:0], x, y)


def test_the_harness_caches_a_probe_by_its_inputs(tmp_path, monkeypatch):
    """Harness.zhou_probe: the same vectors, labels, grid and seed are read from the store (the
    grid is not trained again) with the same result; other labels are another probe."""
    from harness.analysis import probes
    from harness.pipeline.build import Harness
    from harness.store import ArtifactStore

    h = Harness(ArtifactStore(tmp_path), device="cpu")
    (xt, yt), (xv, yv), (xs, ys) = blobs(120, 0), blobs(40, 1), blobs(60, 2)
    config = ProbeConfig(hidden=(8,), alphas=(1e-4,), max_iter=100, restarts=2)
    first = h.zhou_probe(xt, yt, xv, yv, xs, ys, config)
    assert first == zhou_probe(xt, yt, xv, yv, xs, ys, config)

    def no_training(*args, **kwargs):
        raise AssertionError("the cached probe was trained again")

    monkeypatch.setattr(probes, "zhou_probe", no_training)
    assert h.zhou_probe(xt, yt, xv, yv, xs, ys, config) == first
    with pytest.raises(AssertionError, match="trained again"):
        h.zhou_probe(xt, yt, xv, yv, xs, (ys + 1) % 3, config)  # other test labels: another probe


def test_probes_trained_side_by_side_equal_each_trained_alone(tmp_path, monkeypatch):
    """Harness.zhou_probes: the probes not in the store go to worker processes (here 2, one BLAS
    thread each) and give what each gives alone in this process; a cached one is read, not sent,
    and one given twice is sent once."""
    import harness.pipeline.build as build
    from harness.pipeline.build import Harness
    from harness.store import ArtifactStore

    monkeypatch.setattr("harness.runtime.cpu_share", lambda: 2)
    h = Harness(ArtifactStore(tmp_path), device="cpu")
    config = ProbeConfig(hidden=(8,), alphas=(1e-4, 1e-2), max_iter=100, restarts=2)
    jobs = [(*blobs(120, s), *blobs(40, s + 10), *blobs(60, s + 20), config, s % 2) for s in range(3)]
    jobs.append(jobs[1])  # the same probe twice: trained once
    h.zhou_probe(*jobs[0][:6], config, seed=0)  # cached before
    sent = []  # what reaches the pool
    pool = build._probe_pool
    monkeypatch.setattr(build, "_probe_pool", lambda todo: sent.append(sorted(todo)) or pool(todo))
    got = h.zhou_probes(jobs)
    assert sent == [[1, 2]]
    assert got == [zhou_probe(*job[:6], job[6], seed=job[7]) for job in jobs]


def _die(code: int) -> None:
    import os

    os._exit(code)


def test_a_worker_that_dies_is_said_plainly():
    """A worker killed (for memory, say) is a RuntimeError that says so and what to do, for the
    probes' pool and DirectProbe's alike (harness.runtime.in_processes), not a BrokenProcessPool."""
    from harness.runtime import in_processes

    assert in_processes({"a": (abs, (-2,)), "b": (max, (1, 3))}, 2, died="never") == {"a": 2, "b": 3}
    with pytest.raises(RuntimeError, match=r"a worker process died \(.*\); run with more memory"):
        in_processes({"a": (_die, (9,))}, 2, died="run with more memory")
