"""Every claim x fixture outcome reaches verdicts.json and the report: verdicts with a conclusion
about the paper, claims that raised an error (with the message), fixture files that did not load
(once, by name), the run's exit status, a banner that turns red, and strict JSON throughout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import selects_full

ROOT = Path(__file__).resolve().parents[1]

GOOD = """
name = "tiny-good"
profile = "smoke"
[encoder]
name = "offline:minilm-l2"
[task]
source = "synthetic"
kind = "sentiment"
n_train = 48
n_validation = 16
n_test = 40
seed = 0
[fine_tune]
epochs = 1
lr = 1e-4
batch_size = 16
max_length = 16
[frozen_head]
kind = "logreg"
[claims.no_overfitting]
tolerance = 1.0
"""

NO_LABEL_COLUMN = """
name = "tiny-no-label-column"
profile = "smoke"
[encoder]
name = "offline:minilm-l2"
[task]
source = "local"
path = "data"
label_column = "label"
[claims.no_overfitting]
"""


def test_selects_full():
    assert selects_full("full") and selects_full("smoke or full") and selects_full("(full)")
    assert not selects_full("not slow") and not selects_full("not full") and not selects_full("smoke")
    assert not selects_full("not  full")


def _strict(text: str) -> dict:
    def refuse(name):
        raise AssertionError(f"{name} in verdicts.json: not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.slow
def test_errors_skips_and_bad_fixture_files_are_reported(tmp_path):
    fixtures = tmp_path / "fixtures"
    (fixtures / "data").mkdir(parents=True)
    (fixtures / "good.toml").write_text(GOOD)
    (fixtures / "no-label.toml").write_text(NO_LABEL_COLUMN)
    for split in ("train", "test"):
        (fixtures / "data" / f"{split}.csv").write_text("text,sentiment\nfine,pos\nbad,neg\n")
    (fixtures / "bad.toml").write_text(GOOD.replace('"tiny-good"', '"tiny-bad"').replace("epochs = 1", 'epochs = "3"'))
    report = tmp_path / "report"
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rN", "-p", "no:randomly", "-m", "smoke",
         "claims/test_no_overfitting.py", "claims/test_fixture_files.py", "--claim-fixtures", str(fixtures),
         "--artifacts", str(tmp_path / "store"), "--report", str(report)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    out = res.stdout + res.stderr
    assert res.returncode == 1, out[-3000:]
    assert out.count("epochs = '3'") == 1, out[-3000:]  # the bad file's error, once
    doc = _strict((report / "verdicts.json").read_text())
    assert doc["schema"] == 3 and doc["run"]["exit_status"] == 1
    rows = {(v["claim"], v["fixture"]): v for v in doc["verdicts"]}
    good = rows[("no_overfitting", "tiny-good")]
    assert good["conclusion"] in ("reproduced", "contradicted", "inconclusive")
    assert good["statement"]["source"] == "Bogaert et al. 2023, Table 1"
    error = rows[("no_overfitting", "tiny-no-label-column")]
    assert error["status"] == "error" and error["conclusion"] is None
    assert "label" in error["message"] and "train.csv" in error["message"]
    bad = rows[("(fixture file)", "bad")]
    assert bad["status"] == "error" and "[fine_tune] epochs = '3': must be an integer" in bad["message"]
    html = (report / "report.html").read_text()
    assert 'class="banner bad"' in html and "2 errors" in html
    assert "tiny-no-label-column" in html and "epochs = &#x27;3&#x27;" in html
    md = (report / "report.md").read_text()
    assert "ATTENTION" in md and "ERROR" in md
