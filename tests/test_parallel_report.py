"""Parallel runs (pytest-xdist): every worker's verdicts reach the one report the controller writes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tiny import tiny_fixture

ROOT = Path(__file__).resolve().parents[1]

FIXTURE = tiny_fixture("tiny-parallel", """
[claims.accuracy_gap]
paper_says = "no_difference"
[claims.cross_task]
[claims.no_overfitting]
tolerance = 1.0""", other_task=True)


@pytest.mark.slow
def test_verdicts_of_all_workers_are_merged(tmp_path):
    pytest.importorskip("xdist")
    fixture = tmp_path / "tiny.toml"
    fixture.write_text(FIXTURE)
    report = tmp_path / "report"
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "-q", "-m", "smoke", "claims",
         "--claim", "accuracy_gap", "--claim", "cross_task", "--claim", "no_overfitting", "--claim-fixtures", str(fixture),
         "--artifacts", str(tmp_path / "store"), "--report", str(report)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert (report / "verdicts.json").exists(), res.stdout[-3000:] + res.stderr[-3000:]
    doc = json.loads((report / "verdicts.json").read_text())
    assert sorted(v["claim"] for v in doc["verdicts"]) == ["accuracy_gap", "cross_task", "no_overfitting"]
    assert doc["run"]["workers"] == 2
    assert doc["run"]["cache"]["built"] >= 3  # built on the workers, counted on the controller
    html = (report / "report.html").read_text()
    assert all(c in html for c in ("accuracy_gap", "cross_task", "no_overfitting"))


def test_each_xdist_worker_keeps_its_share_of_the_cpus(monkeypatch):
    """``pytest -n N`` (the README's test command): torch, the BLAS pools and the child
    processes' thread variables get the CPUs divided by N, at least one each."""
    import os

    import torch
    from threadpoolctl import threadpool_info, threadpool_limits

    from harness.runtime import THREAD_VARIABLES, share_cpus

    for name in THREAD_VARIABLES:
        monkeypatch.setenv(name, "unset by the test")  # (restored afterwards)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    threads, saved = torch.get_num_threads(), threadpool_limits(limits=None)
    try:
        assert share_cpus(3) == 2
        assert torch.get_num_threads() == 2 and all(os.environ[n] == "2" for n in THREAD_VARIABLES)
        assert all(pool["num_threads"] <= 2 for pool in threadpool_info())
        assert share_cpus(16) == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)
        saved.restore_original_limits()
