"""``--plan``: what a run would do, before it does it: nothing is built, the artifacts the claims
start from are listed as cached or to build, with a time measured on this device."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from tiny import tiny_fixture

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = tiny_fixture("tiny-plan", "[claims.accuracy_gap]", n_validation=8, n_test=24,
                       head='kind = "roberta"\nepochs = 2')


def run(args, tmp_path):
    return subprocess.run([sys.executable, "-m", "pytest", "claims/test_accuracy_gap.py", "-m", "smoke", "-p",
                           "no:randomly", "--claim-fixtures", str(tmp_path / "f.toml"),
                           "--artifacts", str(tmp_path / "store"), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_the_plan_lists_what_will_be_built_and_then_what_is_cached(tmp_path):
    (tmp_path / "f.toml").write_text(FIXTURE)
    before = run(["--plan"], tmp_path)
    out = before.stdout
    assert before.returncode == 0, out[-3000:] + before.stderr[-2000:]
    assert "Plan: nothing is computed" in out and "fixture tiny-plan" in out and "claims: accuracy_gap" in out
    assert re.search(r"to build\s+fine-tune on the target task \(synthetic-sentiment\), seed 0: 3 steps\s+about \d+ s", out)
    assert re.search(r"to build\s+frozen roberta head \(synthetic-sentiment\), seed 0: 4 steps", out)
    assert not list((tmp_path / "store").rglob("manifest.json"))  # nothing was built
    assert run([], tmp_path).returncode in (0, 1)  # the run itself builds them
    after = run(["--plan"], tmp_path).stdout
    assert re.search(r"cached\s+fine-tune on the target task", after) and re.search(r"cached\s+frozen roberta head", after)
    assert "To build: 0 of these artifacts" in after
