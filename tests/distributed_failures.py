"""Ranks of the failure cases in tests/test_distributed.py, run under torchrun (two Gloo processes).

- ``in_step``: builds that fail on one rank or on all of them fail on every rank, and the next
  build works;
- ``probe_shared``: the ranks share DirectProbe jobs, and fail them together;
- the ``test_*`` functions (run by pytest under torchrun): rank 0 fails inside a build while rank 1
  waits in the build's collective; the session must stop instead of hanging."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch


def _outcome(store, inputs, build) -> str:
    try:
        artifact = store.get_or_build("toy", "1", inputs, build)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return "built" if not artifact.cache_hit else "found"


def in_step(out: Path, store_root: Path) -> None:
    from harness import distributed
    from harness.store import ArtifactStore

    store = ArtifactStore(store_root)
    me = distributed.rank()

    def fails_on_rank_0_after_its_collective(folder: Path):
        distributed.all_reduce_mean(torch.tensor(1.0))
        if me == 0:
            raise OSError("disk full (simulated)")  # as when writing the artifact fails

    def fails_everywhere(folder: Path):
        raise ValueError(f"bad label 'x' (simulated, rank {me})")

    def works(folder: Path):
        total = distributed.all_reduce_mean(torch.tensor(float(me + 1)))
        (folder / "x.json").write_text(json.dumps({"mean": float(total)}))

    outcomes = [_outcome(store, {"case": 1}, fails_on_rank_0_after_its_collective),
                _outcome(store, {"case": 2}, fails_everywhere),
                _outcome(store, {"case": 3}, works)]
    (out / f"rank{me}.json").write_text(json.dumps(outcomes))


def test_rank_0_fails_while_rank_1_waits_in_a_collective():
    from harness import distributed
    from harness.store import ArtifactStore

    def build(folder: Path):
        if distributed.rank() == 0:
            raise OSError("disk full (simulated)")
        distributed.all_reduce_mean(torch.tensor(1.0))  # rank 1 waits here for rank 0, which left

    ArtifactStore(os.environ["CLAIMS_TEST_STORE"]).get_or_build("toy", "1", {"case": 4}, build)


def test_not_reached_once_the_ranks_are_out_of_step():
    from harness import distributed

    (Path(os.environ["CLAIMS_TEST_OUT"]) / f"reached-by-rank{distributed.rank()}").write_text("")




def probe_shared(out: Path, store_root: Path) -> None:
    """Three DirectProbe jobs: each rank probes its share (recorded), the ranks swap results; then
    a job that fails on rank 1 fails on both ranks, and the ranks stay in step."""
    import numpy as np

    from harness import distributed
    from harness.directprobe import engine as directprobe  # the worker pool calls the engine
    from harness.directprobe import pool as geometry_pool
    from harness.pipeline import build
    from harness.store import ArtifactStore

    me = distributed.rank()
    calls = []
    real = directprobe.probe

    def counted(x, y, threads=1):
        calls.append(int(round(float(x[0, 0]))))
        return real(x, y, threads)

    directprobe.probe = counted
    geometry_pool.POOL_MIN_POINTS = 10**9  # in this process: the calls are counted here
    harness = build.Harness(ArtifactStore(store_root), device="cpu")
    rng = np.random.default_rng(0)
    jobs = []
    for k in range(3):
        x = rng.normal(size=(40, 3))
        y = np.repeat([0, 1], 20)
        x[:, 1] += 4 * y
        x[0, 0] = 100 * (k + 1)  # the job's number, read back in `counted`
        jobs.append((x, y))
    probed = harness.directprobe_many(jobs)
    bad = jobs[2][0].copy()
    bad[5, 2] = np.nan  # the second of two new jobs: rank 1's share
    try:
        harness.directprobe_many([(jobs[0][0] + 1.0, jobs[0][1]), (bad, jobs[0][1])])
        failure = ""
    except Exception as exc:
        failure = f"{type(exc).__name__}: {exc}"
    after = harness.directprobe_many([(jobs[1][0] * 2.0, jobs[1][1])])  # still in step
    (out / f"probe-rank{me}.json").write_text(json.dumps({
        "calls": calls, "clusters": [p.clusters.num_clusters for p in probed],
        "distances": [p.distances.matrix.tolist() for p in probed], "failure": failure,
        "after": after[0].clusters.num_clusters}))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    {"in_step": in_step, "probe_shared": probe_shared}[sys.argv[3]](Path(sys.argv[1]), Path(sys.argv[2]))
