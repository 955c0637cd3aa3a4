"""Data parallel through torchrun (two CPU processes, Gloo): the same fine-tuned model, the same
embeddings and one published artifact, as in one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_two_ranks_train_the_model_one_process_trains(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(ROOT / "tests" / "distributed_worker.py"), str(tmp_path), str(tmp_path / "store")],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    with np.load(tmp_path / "result.npz") as saved:
        two = dict(saved)

    sys.path.insert(0, str(ROOT / "tests"))
    from distributed_worker import run

    (tmp_path / "one").mkdir()
    one = run(tmp_path / "one", None)  # the same worker, one process
    # 43 examples at batch 8: 6 steps, the last of 3 (2 on rank 0, 1 on rank 1: unequal weights)
    assert len(two["losses"]) == len(one["losses"]) == 6
    np.testing.assert_allclose(two["losses"], one["losses"], rtol=1e-5)
    np.testing.assert_allclose(two["weights"], one["weights"], rtol=1e-4, atol=1e-4)  # Adam: see test_protocols
    np.testing.assert_allclose(two["emb"], one["emb"], rtol=1e-4, atol=1e-5)

    store = json.loads((tmp_path / "store.json").read_text())
    assert store["calls"] == [0]  # rank 0's own record: it built once, then found it
    assert store["who"] == 0 and store["meta"] == {"mean_rank_plus_one": 1.5}  # rank 0's copy, after a collective
    assert not store["first_hit"] and store["again_hit"] and store["same_path"]
    assert not list((tmp_path / "store" / ".tmp").glob("*"))


def _torchrun(args: list[str], env_extra: dict[str, str], timeout: float) -> tuple[subprocess.CompletedProcess, float]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), **env_extra}
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    return proc, time.monotonic() - started


def test_a_build_that_fails_on_one_rank_fails_on_every_rank_and_the_run_goes_on(tmp_path):
    proc, _ = _torchrun([str(ROOT / "tests" / "distributed_failures.py"), str(tmp_path), str(tmp_path / "store"),
                         "in_step"], {}, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    rank0, rank1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    # rank 0 failed after the build's collective: its own error there, rank 0's named on rank 1
    assert rank0[0] == "OSError: disk full (simulated)"
    assert rank1[0].startswith("FailedOnAnotherRank: toy/") and "rank 0 (OSError: disk full (simulated))" in rank1[0]
    # every rank failed the same way: each raises its own
    assert rank0[1] == "ValueError: bad label 'x' (simulated, rank 0)"
    assert rank1[1] == "ValueError: bad label 'x' (simulated, rank 1)"
    # and the ranks are still in step: the next build, with a collective, works
    assert rank0[2] == rank1[2] == "built"
    assert len(list((tmp_path / "store" / "toy").glob("*/*"))) == 1  # only the one that worked
    assert not list((tmp_path / "store" / ".tmp").glob("*"))


def test_a_rank_left_waiting_in_a_collective_stops_the_run_instead_of_hanging(tmp_path):
    """Before, rank 1 waited in the build's collective and rank 0 went on to the next test's
    collectives: the run hung until the process group's timeout (30 minutes)."""
    (tmp_path / "out").mkdir()
    proc, took = _torchrun(
        ["-m", "pytest", "-p", "no:randomly", str(ROOT / "tests" / "distributed_failures.py"),
         "--report", str(tmp_path / "report"), "--artifacts", str(tmp_path / "store")],
        {"CLAIMS_RANK_WAIT": "3", "CLAIMS_TEST_STORE": str(tmp_path / "store"), "CLAIMS_TEST_OUT": str(tmp_path / "out")},
        timeout=240)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-3000:]
    assert "RanksDiverged: toy/" in output and "this rank (0) failed it with OSError: disk full (simulated)" in output
    assert "out of step" in output  # pytest's reason for stopping the session
    assert not list((tmp_path / "out").glob("reached-by-rank*")), "the session went on after the ranks diverged"
    assert (tmp_path / "report" / "verdicts.json").is_file()  # rank 0 still wrote the report
    assert took < 120, f"took {took:.0f} s"


def test_the_rank_wait_must_be_positive_seconds(monkeypatch):
    from harness import distributed
    from harness.errors import ConfigError

    for bad in ("0", "-5", "soon", "nan"):
        monkeypatch.setenv("CLAIMS_RANK_WAIT", bad)
        with pytest.raises(ConfigError, match=f"CLAIMS_RANK_WAIT must be a number of seconds above 0, got '{bad}'"):
            distributed._rank_wait()
    monkeypatch.setenv("CLAIMS_RANK_WAIT", "2.5")
    assert distributed._rank_wait() == 2.5
    monkeypatch.delenv("CLAIMS_RANK_WAIT")
    assert distributed._rank_wait() == distributed.RANK_WAIT_S


def test_ranks_share_directprobe_jobs_and_fail_together(tmp_path):
    proc, _ = _torchrun([str(ROOT / "tests" / "distributed_failures.py"), str(tmp_path), str(tmp_path / "store"),
                         "probe_shared"], {}, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    rank0, rank1 = (json.loads((tmp_path / f"probe-rank{r}.json").read_text()) for r in (0, 1))
    # jobs 0 and 2 on rank 0, job 1 on rank 1; then (new jobs) the first on rank 0, the bad one on
    # rank 1 (its first point reads 300), and the last (job 1 doubled: 400) alone on rank 0
    assert rank0["calls"] == [100, 300, 101, 400] and rank1["calls"] == [200, 300]
    assert rank0["clusters"] == rank1["clusters"] and rank0["distances"] == rank1["distances"]
    assert "points hold NaN" in rank1["failure"] and rank1["failure"].startswith("ConfigError")
    assert rank0["failure"].startswith("FailedOnAnotherRank") and "rank 1 (ConfigError: points hold NaN" in rank0["failure"]
    assert rank0["after"] == rank1["after"] == 2
    import numpy as np

    from harness import directprobe  # the same as one process
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    y = np.repeat([0, 1], 20)
    x[:, 1] += 4 * y
    x[0, 0] = 100
    np.testing.assert_allclose(rank0["distances"][0], directprobe.probe(x, y).distances.matrix)
