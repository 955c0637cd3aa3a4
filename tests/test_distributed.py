"""Data parallel through torchrun (two CPU processes, Gloo): the same fine-tuned model, the same
embeddings and one published artifact, as in one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

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
