"""A long run shows what it is doing: log lines for every artifact built (what, and how long),
live in a claims run and in CI logs; and a live bar on the terminal even under pytest's capture."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tiny import tiny_fixture

from harness import runtime
from harness.store import ArtifactStore

ROOT = Path(__file__).resolve().parents[1]


def test_every_build_is_logged_with_what_and_how_long(tmp_path, caplog):
    store = ArtifactStore(tmp_path)

    def build(folder):
        np.save(folder / "x.npy", np.zeros(3))

    with caplog.at_level(logging.INFO, logger="claims"):
        store.get_or_build("demo", "1", {"a": 1}, build, "a demo of three zeros")
        store.get_or_build("demo", "1", {"a": 1}, build, "a demo of three zeros")  # a hit: nothing built
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("building demo/") and lines[0].endswith("(a demo of three zeros)")
    assert lines[1].startswith("built demo/") and lines[1].endswith(" s") and " in " in lines[1]

    def broken(folder):
        raise RuntimeError("no")

    with caplog.at_level(logging.INFO, logger="claims"), pytest.raises(RuntimeError):
        store.get_or_build("demo", "1", {"a": 2}, broken, "a build that fails")
    assert caplog.records[-1].getMessage().startswith("failed demo/")


def test_the_bar_goes_to_the_terminal_and_stays_out_of_ci(monkeypatch):
    screen = io.StringIO()
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(runtime, "_terminal", lambda: screen)
    bar = runtime.Progress(10, "fine-tune demo")
    bar(4)
    bar(10)
    bar.bar.refresh()  # tqdm redraws at most every 0.1 s on its own
    bar.close()
    assert "fine-tune demo" in screen.getvalue() and "10/10" in screen.getvalue()
    monkeypatch.setenv("CI", "true")
    assert runtime.Progress(10, "quiet").bar is None


def test_without_a_terminal_a_long_stage_logs_where_it_stands(monkeypatch, caplog):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(runtime, "LOG_EVERY_S", 0.0)
    with caplog.at_level(logging.INFO, logger="claims"):
        bar = runtime.Progress(120, "fine-tune sst2")
        bar(30)
        bar(120)  # the end: the store's 'built ... in N s' says it
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and lines[0].startswith("fine-tune sst2: 30 of 120 (") and "s left)" in lines[0]


@pytest.mark.slow
def test_a_claims_run_logs_what_it_builds_without_being_asked(tmp_path):
    """Plain `pytest claims ...` (captured, redirected to a file as in CI) prints the build lines."""
    fixture = tmp_path / "f.toml"
    fixture.write_text(tiny_fixture("tiny-log", "[claims.pca_variance]", n_train=32, n_validation=8, n_test=24))
    res = subprocess.run([sys.executable, "-m", "pytest", "claims", "--claim", "pca_variance", "-m", "smoke",
                          "--claim-fixtures", str(fixture), "--artifacts", str(tmp_path / "store")],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    out = res.stdout
    assert "claim pca_variance on fixture tiny-log (seeds 0)" in out, out[-3000:]
    assert "building finetune/" in out and "(fine-tune offline:minilm-l2 on synthetic-sentiment, seed 0)" in out
    assert "built finetune/" in out
