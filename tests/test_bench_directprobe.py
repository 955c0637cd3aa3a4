"""DirectProbe benchmarks (pytest-benchmark).

    pytest tests/test_bench_directprobe.py --benchmark-enable --benchmark-group-by=group -s

Data: the offline encoder's last-layer first-token vectors (max length 64) of the first n training
texts of ../shared/data (sst2: 2 labels, trec6: 6, trec50: 50), cached in an artifact store under
``.benchmarks/``; where ../shared is absent, generated vectors of the same shape. Each benchmark
records wall time, peak resident memory and LPs solved (``extra_info``), and prints them.

The comparison in the same run: the engine against a straightforward DirectProbe that checks every
candidate merge with a fresh SVM fit against every cluster of another label (what the published
code does without a commercial LP solver), at sizes that baseline can finish.

In a normal test run (benchmarks disabled) only the smallest cases run, once, as plain tests.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from harness.directprobe import engine as dp

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SETS = {2: "sst2", 6: "trec6", 50: "trec50"}


def enabled(config) -> bool:
    return bool(config.getoption("benchmark_enable")) or not config.getoption("benchmark_disable")


@pytest.fixture(scope="module")
def vectors(request):
    """(x, y) of the first n training texts of the set with the given number of labels."""
    cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def get(num_labels: int, n: int):
        if (num_labels, n) in cache:
            return cache[num_labels, n]
        folder = SHARED / SETS[num_labels]
        if folder.is_dir():
            from harness.data import resize
            from harness.data.local import load_local
            from harness.models.encoders import EncoderSpec
            from harness.pipeline.build import Harness
            from harness.store import ArtifactStore

            task = load_local(folder)
            n = min(n, len(task["train"]))
            task = resize(task, {"train": n}) if n < len(task["train"]) else task
            harness = Harness(ArtifactStore(ROOT / ".benchmarks" / "store"), device="cpu")
            x = harness.embedding_matrix(EncoderSpec("offline:minilm-l6"), task, "train", max_length=64)
            y = task["train"].labels
        else:
            rng = np.random.default_rng(0)
            y = rng.integers(num_labels, size=n)
            x = rng.normal(size=(n, 384)) + rng.normal(size=(num_labels, 384))[y] * 0.5
        cache[num_labels, n] = (x, y)
        return x, y

    return get


def _rss() -> int:
    """Resident set size of this process in bytes (Linux; 0 elsewhere)."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def measured(benchmark, fn):
    """Run fn once under the benchmark; record its wall time and its peak memory: the resident set
    sampled every 20 ms, less the resident set before the call. (Resident memory, not tracemalloc:
    HiGHS's LPs live in C++ allocations that tracemalloc does not see, and tracing every NumPy
    allocation slowed the runs.)"""
    box = {}

    def run():
        base = peak = _rss()
        done = threading.Event()

        def sample():
            nonlocal peak
            while not done.wait(0.02):
                peak = max(peak, _rss())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        start = time.perf_counter()
        try:
            box["result"] = fn()
        finally:
            box["wall"] = time.perf_counter() - start
            done.set()
            sampler.join()
        box["peak"] = max(peak, _rss()) - base
        return box["result"]

    benchmark.pedantic(run, rounds=1, iterations=1)
    return box


CASES = [(labels, n) for labels in (2, 6, 50) for n in (1000, 3000, 10000)]


@pytest.mark.parametrize(("num_labels", "n"), CASES, ids=[f"{lab}labels-{n}" for lab, n in CASES])
def test_bench_cluster(benchmark, request, vectors, num_labels, n):
    if not enabled(request.config) and (num_labels, n) != (6, 1000):
        pytest.skip("benchmark: run with --benchmark-enable")
    x, y = vectors(num_labels, n)
    benchmark.group = "directprobe-cluster"
    box = measured(benchmark, lambda: dp.cluster(x, y))
    clusters = box["result"]
    c = clusters.counters
    benchmark.extra_info.update(
        n=len(x), labels=num_labels, clusters=clusters.num_clusters, lps=c.lps, lps_warm=c.lps_warm,
        merges_tried=c.merges_tried, merges_rejected=c.merges_rejected, wall_s=round(box["wall"], 3),
        peak_mib=round(box["peak"] / 2**20, 1),
    )
    print(f"\ncluster {num_labels} labels n={len(x)}: {clusters.num_clusters} clusters, {c.lps} LPs "
          f"({c.lps_warm} warm), {c.merges_tried} merges tried ({c.merges_rejected} rejected), "
          f"{box['wall']:.2f} s, peak {box['peak'] / 2**20:.0f} MiB")
    assert clusters.num_clusters >= num_labels


def test_bench_issue_case_trec6_3000(benchmark, request, vectors):
    """The issue's bar: TREC-6, first 3,000 training questions: the right answer is 6 clusters
    (all 15 label pairs linearly separable); the published code's SVM fallback says 8."""
    if not enabled(request.config):
        pytest.skip("benchmark: run with --benchmark-enable")
    if not (SHARED / "trec6").is_dir():
        pytest.skip("../shared/data/trec6 is absent")
    x, y = vectors(6, 3000)
    benchmark.group = "directprobe-issue-case"
    box = measured(benchmark, lambda: dp.cluster(x, y))
    benchmark.extra_info.update(wall_s=round(box["wall"], 3), lps=box["result"].counters.lps)
    print(f"\nTREC-6 3000: {box['result'].num_clusters} clusters in {box['wall']:.2f} s, "
          f"{box['result'].counters.lps} LPs")
    assert box["result"].num_clusters == 6


# ---- the straightforward baseline, same run ------------------------------------------------


def svm_overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """The published fallback: a standardised linear SVC must classify every point right."""
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    x = np.vstack([a, b])
    t = np.r_[np.zeros(len(a)), np.ones(len(b))]
    x = StandardScaler().fit_transform(x)
    return SVC(kernel="linear", C=1e4, tol=1e-5, max_iter=500_000).fit(x, t).score(x, t) != 1.0


def straightforward_cluster(x: np.ndarray, y: np.ndarray) -> int:
    """Closest same-label pair by centroid distance, every merge checked with an SVM fit against
    every cluster of another label; no caches, no label-level shortcut. Returns #clusters."""
    clusters = [[i] for i in range(len(x))]
    rejected: set[tuple[frozenset, frozenset]] = set()
    while True:
        cents = np.stack([x[c].mean(0) for c in clusters])
        labels = np.array([y[c[0]] for c in clusters])
        dist = np.sqrt(((cents[:, None] - cents[None]) ** 2).sum(-1))
        dist[labels[:, None] != labels[None]] = np.inf
        np.fill_diagonal(dist, np.inf)
        for i, j in zip(*np.nonzero(np.isfinite(dist)), strict=True):
            if (frozenset(clusters[i]), frozenset(clusters[j])) in rejected:
                dist[i, j] = np.inf
        if not np.isfinite(dist).any():
            return len(clusters)
        i, j = np.unravel_index(np.argmin(dist), dist.shape)
        merged = clusters[i] + clusters[j]
        if any(svm_overlap(x[merged], x[c]) for c, lab in zip(clusters, labels, strict=True)
               if lab != labels[i]):
            rejected.add((frozenset(clusters[i]), frozenset(clusters[j])))
            rejected.add((frozenset(clusters[j]), frozenset(clusters[i])))
        else:
            clusters = [c for k, c in enumerate(clusters) if k not in (i, j)] + [merged]


BASELINE_N = int(os.environ.get("DIRECTPROBE_BASELINE_N", "150"))


@pytest.mark.parametrize("impl", ["engine", "straightforward"])
def test_bench_against_straightforward(benchmark, request, vectors, impl):
    n = BASELINE_N if enabled(request.config) else 40
    x, y = vectors(6, max(n, 1000))
    x, y = x[:n], y[:n]
    benchmark.group = f"directprobe-vs-straightforward-n{n}"
    fn = (lambda: dp.cluster(x, y).num_clusters) if impl == "engine" else (lambda: straightforward_cluster(x, y))
    box = measured(benchmark, fn)
    benchmark.extra_info.update(n=n, clusters=box["result"], wall_s=round(box["wall"], 3))
    print(f"\n{impl} n={n}: {box['result']} clusters, {box['wall']:.2f} s")
    assert box["result"] >= len(set(y.tolist()))


# ---- label distances: the Wolfe minor cycle against the previous one, same run --------------


def lstsq_min_norm_difference(a: np.ndarray, b: np.ndarray, max_iter: int = 10_000) -> float:
    """The previous Wolfe iteration (before 2026-11-23): the corral stacked again and its KKT system
    solved by least squares (an SVD) in every minor cycle."""

    def vertex(z):
        return a[np.argmin(a @ z)] - b[np.argmax(b @ z)]

    corral = [vertex(b.mean(0) - a.mean(0))]
    weights = np.array([1.0])
    x = corral[0]
    for _ in range(max_iter):
        q = vertex(x)
        xx = float(x @ x)
        if xx == 0.0:
            return 0.0
        if xx - float(x @ q) <= dp.CERTIFY_RTOL * xx:
            return float(np.sqrt(xx))
        corral.append(q)
        weights = np.append(weights, 0.0)
        while True:
            s = np.stack(corral)
            k = len(corral)
            kkt = np.zeros((k + 1, k + 1))
            kkt[:k, :k] = s @ s.T
            kkt[:k, k] = kkt[k, :k] = 1.0
            rhs = np.zeros(k + 1)
            rhs[k] = 1.0
            alpha = np.linalg.lstsq(kkt, rhs, rcond=None)[0][:k]
            if (alpha > 1e-12).all():
                weights = alpha
                break
            neg = alpha <= 1e-12
            with np.errstate(divide="ignore", invalid="ignore"):
                ratios = weights[neg] / (weights[neg] - alpha[neg])
            theta = float(np.min(ratios[np.isfinite(ratios)], initial=1.0))
            weights = theta * alpha + (1 - theta) * weights
            keep = weights > 1e-12
            corral = [p for p, kp in zip(corral, keep, strict=True) if kp]
            weights = weights[keep] / weights[keep].sum()
        x = weights @ np.stack(corral)
    raise RuntimeError("did not converge")


_clusters: dict[tuple[int, int], dp.Clusters] = {}
_distances: dict[int, np.ndarray] = {}


@pytest.mark.parametrize("n", [1000, 10000], ids=["trec50-1000", "trec50-all"])
@pytest.mark.parametrize("impl", ["engine", "lstsq-minor-cycle"])
def test_bench_label_distances(benchmark, request, vectors, monkeypatch, impl, n):
    """label_distances on TREC-50's final clusters (clustering not timed): about 1,300 hull
    distances, each Wolfe's algorithm on two clusters."""
    if not enabled(request.config):
        pytest.skip("benchmark: run with --benchmark-enable")
    x, y = vectors(50, n)
    if (50, n) not in _clusters:
        _clusters[50, n] = dp.cluster(x, y)
    if impl != "engine":
        monkeypatch.setattr(dp, "_min_norm_difference", lstsq_min_norm_difference)
    benchmark.group = f"directprobe-label-distances-n{len(x)}"
    box = measured(benchmark, lambda: dp.label_distances(x, y, _clusters[50, n]))
    result = box["result"]
    benchmark.extra_info.update(n=len(x), distances=result.counters.distances, wall_s=round(box["wall"], 3))
    print(f"\nlabel_distances {impl} n={len(x)}: {result.counters.distances} hull distances, {box['wall']:.2f} s")
    if n in _distances:  # both within CERTIFY_RTOL of the true distance
        np.testing.assert_allclose(result.matrix, _distances[n], rtol=2 * dp.CERTIFY_RTOL)
    _distances[n] = result.matrix


# ---- DirectProbe jobs side by side (Harness.directprobe_many), same run ---------------------


@pytest.mark.parametrize("workers", ["1", "cpus"])
def test_bench_directprobe_jobs_side_by_side(benchmark, request, vectors, tmp_path, monkeypatch, workers):
    """Four DirectProbe runs (clusters and label distances) of TREC-50's first 1,000 questions
    under four perturbations, as a claim hands them over (checkpoints, layers): in this process
    against one worker per CPU. A fresh store each time: nothing is found."""
    from harness.directprobe import pool as geometry_pool
    from harness.pipeline import build
    from harness.store import ArtifactStore

    if not enabled(request.config):
        pytest.skip("benchmark: run with --benchmark-enable")
    x, y = vectors(50, 1000)
    rng = np.random.default_rng(0)
    jobs = [(x + rng.normal(scale=1e-3, size=x.shape).astype(x.dtype), y) for _ in range(4)]
    if workers == "1":
        monkeypatch.setenv(geometry_pool.GEOMETRY_WORKERS_ENV, "1")
    else:
        monkeypatch.delenv(geometry_pool.GEOMETRY_WORKERS_ENV, raising=False)
    harness = build.Harness(ArtifactStore(tmp_path / "store"), device="cpu")
    benchmark.group = "directprobe-jobs-side-by-side"
    box = measured(benchmark, lambda: harness.directprobe_many(jobs))
    n_workers = geometry_pool.geometry_workers()
    benchmark.extra_info.update(jobs=len(jobs), workers=n_workers, wall_s=round(box["wall"], 3))
    print(f"\n{len(jobs)} DirectProbe jobs, {n_workers} worker(s): {box['wall']:.2f} s")
    assert len(box["result"]) == 4 and all(p.clusters.num_clusters >= 50 for p in box["result"])


# ---- the kept LP: stays factorised (_WarmLP) or HiGHS every time (_SlabLP), same run ----------

KEPT = [(kind, n) for n in (1500, 3000) for kind in ("_WarmLP", "_SlabLP")]


@pytest.mark.parametrize(("kind", "n"), KEPT, ids=[f"{k.strip('_')}-{n}" for k, n in KEPT])
def test_bench_kept_lp_where_labels_overlap(benchmark, request, vectors, monkeypatch, kind, n):
    """SST-2 training sentences (2 labels that overlap): clustering with each kept LP; the same
    partition either way (checked in the test run at 300 sentences, compared at full size in the
    benchmark's printout)."""
    if not enabled(request.config):
        if n != 1500:
            pytest.skip("benchmark: run with --benchmark-enable")
        n = 300
    x, y = vectors(2, n)
    monkeypatch.setattr(dp, "KEPT_LP", getattr(dp, kind))
    benchmark.group = f"directprobe-kept-lp-sst2-{n}"
    box = measured(benchmark, lambda: dp.cluster(x, y))
    c = box["result"].counters
    benchmark.extra_info.update(n=n, clusters=box["result"].num_clusters, lps=c.lps, fallbacks=c.lp_fallbacks,
                                wall_s=round(box["wall"], 3), peak_mib=round(box["peak"] / 2**20, 1))
    print(f"\nkept LP {kind} n={n}: {box['result'].num_clusters} clusters, {c.lps} LPs "
          f"({c.lp_fallbacks} to HiGHS), {box['wall']:.2f} s, peak {box['peak'] / 2**20:.0f} MiB")
    if not enabled(request.config):
        monkeypatch.setattr(dp, "KEPT_LP", dp._SlabLP)
        assert np.array_equal(box["result"].assignment, dp.cluster(x, y).assignment)


# ---- issue 17's sizes: every training text of SST-2 and TREC-6 (labels that overlap) ---------

ALL = {"sst2-all": (2, 6920), "trec6-all": (6, 5452)}


def cluster_measured(benchmark, group: str, name: str, x: np.ndarray, y: np.ndarray):
    """``dp.cluster(x, y)`` under the benchmark, its label level on as many threads as the harness
    gives a run alone (``geometry_workers``: the CPUs): wall time, peak memory and where the LP work
    went (kept-LP solves, simplex pivots, starts from HiGHS's basis, hand-overs to HiGHS, merges),
    recorded and printed. Returns the clusters."""
    from harness.directprobe.pool import geometry_workers

    threads = geometry_workers()
    benchmark.group = group
    box = measured(benchmark, lambda: dp.cluster(x, y, threads=threads))
    clusters, c = box["result"], box["result"].counters
    benchmark.extra_info.update(n=len(x), threads=threads, clusters=clusters.num_clusters, lps=c.lps, pivots=c.pivots,
                                imports=c.lp_imports, fallbacks=c.lp_fallbacks, merges=c.merges_tried,
                                rejected=c.merges_rejected, wall_s=round(box["wall"], 3),
                                peak_mib=round(box["peak"] / 2**20, 1))
    print(f"\n{name} n={len(x)}, label level on {threads} thread(s): {clusters.num_clusters} clusters, "
          f"{c.lps} LPs, {c.pivots} pivots, "
          f"{c.lp_imports} HiGHS starts, {c.lp_fallbacks} to HiGHS, {c.merges_tried} merges "
          f"({c.merges_rejected} rejected), {box['wall']:.2f} s, peak {box['peak'] / 2**20:.0f} MiB")
    return clusters


def every_split(task, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """The offline encoder's vectors and the labels of every split of ``task``, one after another
    (cached in the benchmarks' artifact store)."""
    from harness.models.encoders import EncoderSpec
    from harness.pipeline.build import Harness
    from harness.store import ArtifactStore

    harness = Harness(ArtifactStore(ROOT / ".benchmarks" / "store"), device="cpu")
    splits = sorted(task.splits)
    x = np.concatenate([harness.embedding_matrix(EncoderSpec("offline:minilm-l6"), task, s, **kwargs)
                        for s in splits])
    return x, np.concatenate([task[s].labels for s in splits])


@pytest.mark.parametrize("case", list(ALL))
def test_bench_all_training_texts_where_labels_overlap(benchmark, request, vectors, case):
    """The engine on all of SST-2's 6,920 and TREC-6's 5,452 training texts."""
    if not enabled(request.config):
        pytest.skip("benchmark: run with --benchmark-enable")
    num_labels, n = ALL[case]
    x, y = vectors(num_labels, n)
    clusters = cluster_measured(benchmark, f"directprobe-all-{case}", case, x, y)
    assert clusters.num_clusters >= num_labels and clusters.counters.uncertified == 0


def test_bench_every_sst2_sentence(benchmark, request):
    """Issue 17's largest SST-2 case that ../shared/data can build: every sentence of the three
    splits (6,920 + 872 + 1,821 = 9,613; the 67,349 training phrases are not at hand), the offline
    encoder's first-token vectors (max length 64), the labels overlapping as in SST-2's training set."""
    if not enabled(request.config):
        pytest.skip("benchmark: run with --benchmark-enable")
    folder = SHARED / "sst2"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    from harness.data.local import load_local

    x, y = every_split(load_local(folder), max_length=64)
    clusters = cluster_measured(benchmark, "directprobe-every-sst2-sentence", "every SST-2 sentence", x, y)
    assert len(x) == 9_613 and clusters.num_clusters >= 2 and clusters.counters.uncertified == 0


def test_bench_pud_words(benchmark, request):
    """Issue 17's token-level case: every word of the English PUD treebank (21,180 words, 17 UPOS
    tags; all three of the fixture's splits), the offline encoder's last layer, sub-words averaged."""
    if not enabled(request.config):
        pytest.skip("benchmark: run with --benchmark-enable")
    conllu = SHARED / "ud-english-pud" / "en_pud-ud-test.conllu"
    if not conllu.is_file():
        pytest.skip(f"{conllu} is absent")
    from harness.data.tasks import TaskSpec

    x, y = every_split(TaskSpec.from_dict({"source": "conllu", "path": str(conllu), "task": "pos"}).load())
    clusters = cluster_measured(benchmark, "directprobe-pud-words", "PUD words", x, y)
    assert len(x) == 21_180 and clusters.num_clusters >= 17 and clusters.counters.uncertified == 0
