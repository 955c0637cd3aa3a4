"""Every claim x fixture outcome reaches verdicts.json and the report: verdicts with a conclusion
about the paper, claims that raised an error (with the message), fixture files that did not load
(once, by name), the run's exit status, a banner that turns red, and strict JSON throughout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tiny import tiny_fixture

from claims.plugin import selects_full

ROOT = Path(__file__).resolve().parents[1]

GOOD = tiny_fixture("tiny-good", "[claims.no_overfitting]\ntolerance = 1.0")

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
         "claims", "--claim", "no_overfitting", "--claim-fixtures", str(fixtures),
         "--artifacts", str(tmp_path / "store"), "--report", str(report)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    out = res.stdout + res.stderr
    assert res.returncode == 1, out[-3000:]
    run, summary = out.split("claims not judged", 1)
    assert run.count("epochs = '3'") == 1, out[-3000:]  # the bad file's error, once
    assert summary.count("epochs = '3'") == 1 and "no label column 'label'" in summary, summary  # and at the end
    assert "tiny-good" not in summary  # judged: its expectation failed, but it is not "not judged"
    assert "claim no_overfitting on fixture tiny-good: FAILED" in run and "Verdict(" not in run  # its text, no repr
    doc = _strict((report / "verdicts.json").read_text())
    assert doc["schema"] == 5 and doc["run"]["exit_status"] == 1
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


@pytest.mark.parametrize("option", ["--report", "--artifacts"])
def test_a_folder_option_that_names_a_file_is_refused_before_anything_runs(tmp_path, option):
    taken = tmp_path / "taken"
    taken.write_text("a file the user made")
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "claims/test_fixture_files.py", option, str(taken)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 4, res.stdout[-2000:] + res.stderr[-2000:]  # pytest's usage error
    assert f"{option} {taken}: a file is there; {option} takes a folder" in res.stderr
    assert taken.read_text() == "a file the user made"  # nothing the user made is lost


def test_a_run_without_claims_creates_no_store_and_an_impossible_folder_is_refused(tmp_path):
    """The store's folder is made when a claim first uses it: a run of unit tests leaves none. A
    folder that cannot be made (under a file) is refused before anything runs."""
    store = tmp_path / "store"
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "tests/test_stage_benchmark.py",
                          "--artifacts", str(store)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert not store.exists()
    (tmp_path / "a-file").write_text("x")
    bad = tmp_path / "a-file" / "store"
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "tests/test_stage_benchmark.py", "--artifacts", str(bad)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 4 and f"--artifacts {bad}: cannot create that folder" in res.stderr, res.stderr[-2000:]


def test_two_runs_writing_one_report_folder_do_not_collide(tmp_path):
    """Each write goes to a temporary file of its own, then one rename: two writers at once both
    finish and leave whole files (before, they shared '<file>.tmp' and 1 of 3 pairs crashed)."""
    script = (
        "import sys\n"
        "from reports.build import build_report\n"
        "from reports.schema import Verdict, dump\n"
        "v = Verdict(claim='c', fixture='f', seeds=(0,), conclusion='reproduced', criterion='x', measured={'a': 1.0})\n"
        "doc = {'schema': 3, 'run': {}, 'verdicts': [v.to_dict()] * 200}\n"
        "for _ in range(30):\n"
        "    build_report(doc, sys.argv[1])\n"
    )
    out = tmp_path / "report"
    procs = [subprocess.Popen([sys.executable, "-c", script, str(out)], cwd=ROOT, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    assert (out / "report.html").read_text().endswith("</html>\n")
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*.tmp"))


def test_holm_adjusts_one_deciding_p_per_verdict_over_the_run():
    """The family is the verdicts, not their tests: a verdict needing three seeds to hold counts
    once, with its largest p (what the judges put in ``deciding``)."""
    from statsmodels.stats.multitest import multipletests

    from claims.catalog import accuracy_gap, layer_change
    from claims.fixture import CLAIM_PARAMS
    from claims.plugin import with_holm

    rng = np.random.default_rng(0)
    ps = dict(CLAIM_PARAMS["accuracy_gap"], alpha=0.05)
    three_seeds = accuracy_gap.judge(accuracy_gap.Evidence(
        fixture="three", seeds=[0, 1, 2], finetuned=[rng.random(400) < 0.95 for _ in range(3)],
        frozen=[rng.random(400) < 0.85 for _ in range(3)], chance=0.5), ps)
    one = accuracy_gap.judge(accuracy_gap.Evidence(fixture="one", seeds=[0], finetuned=[rng.random(100) < 0.9],
                                                   frozen=[rng.random(100) < 0.8], chance=0.5), ps)
    geometry = layer_change.judge(layer_change.Evidence(fixture="geo", layers=[1, 2], similarity={"cka": [[0.9, 0.5]]}),
                                  dict(CLAIM_PARAMS["layer_change"]))
    assert len(three_seeds.pvalues) == 3 and three_seeds.deciding["p"] == max(three_seeds.pvalues.values())
    assert geometry.deciding == {}
    adjusted = with_holm([three_seeds, geometry, one])
    ref = multipletests([three_seeds.deciding["p"], one.deciding["p"]], method="holm")[1]
    assert adjusted[0].deciding["p_holm"] == pytest.approx(ref[0]) and adjusted[0].deciding["family"] == 2
    assert adjusted[2].deciding["p_holm"] == pytest.approx(ref[1])
    assert adjusted[0].pvalues_holm == {three_seeds.deciding["test"]: pytest.approx(ref[0])}
    assert adjusted[1].deciding == {} and adjusted[1].pvalues_holm == {}
    assert [a.pvalues for a in adjusted] == [x.pvalues for x in (three_seeds, geometry, one)]  # raw kept


def test_a_reproduction_that_holm_would_undo_is_marked():
    from claims.plugin import with_holm
    from claims.verdict import Verdict

    def v(name, p, conclusion="reproduced"):
        return Verdict(claim=name, fixture="f", seeds=(0,), conclusion=conclusion, criterion="x", measured={},
                       pvalues={"t": p}, deciding={"test": "t", "p": p, "alpha": 0.05})

    adjusted = with_holm([v("a", 0.04), v("b", 0.001), v("c", 0.2, "inconclusive")])
    assert [a.deciding["holds_under_holm"] for a in adjusted] == [False, True, True]
    assert "would NOT reproduce" in adjusted[0].text() and adjusted[0].conclusion == "reproduced"


@pytest.mark.parametrize(("args", "message"), [
    (["--seeds", "0"], "--seeds must be at least 1, got 0"),
    (["--max-examples", "1"], "--max-examples must be at least 2 (examples per split), got 1"),
    (["--claim-fixtures", "no/such.toml"], "--claim-fixtures no/such.toml: no such fixture file or folder"),
])
def test_bad_options_are_one_usage_error_not_a_collection_error_per_module(args, message):
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "claims", "-m", "smoke", *args],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 4 and res.stderr.count(message) == 1, res.stdout[-2000:] + res.stderr[-2000:]
    assert "errors during collection" not in res.stdout


MISTYPED = GOOD.replace('name = "offline:minilm-l2"', 'name = "./my-encodr"')


def _claims_run(tmp_path, fixture_arg: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "claims",
         "--claim", "no_overfitting", "--claim", "accuracy_gap", "--claim-fixtures", str(fixture_arg),
         "--artifacts", str(tmp_path / "store"), "--report", str(tmp_path / "report")],
        cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_a_named_fixture_file_whose_inputs_are_missing_fails_naming_the_key(tmp_path):
    """Tried as a new user: a fixture file of one's own with a mistyped encoder folder. It is an
    error of that file (exit status 1, a row in the report), and the end of the run gives the
    whole reason, the key and the value as written first, without -rs."""
    path = tmp_path / "mine.toml"
    path.write_text(MISTYPED)
    res = _claims_run(tmp_path, path)
    assert res.returncode == 1, res.stdout[-3000:]
    summary = res.stdout.split("claims not judged", 1)[1]
    assert f"[encoder] name = './my-encodr': no folder at {tmp_path / 'my-encodr'}" in summary
    assert "ERROR test_fixture_file[mine]" in summary
    assert "no selected fixture declares: accuracy_gap" in summary
    doc = json.loads((tmp_path / "report" / "verdicts.json").read_text())
    [row] = doc["verdicts"]
    assert row["claim"] == "(fixture file)" and row["status"] == "error" and "./my-encodr" in row["message"]


def test_a_fixture_found_in_a_folder_whose_inputs_are_missing_is_skipped_with_the_whole_reason(tmp_path):
    """The shipped fixtures read data beside the repository that a user may lack: found in a
    folder, such a fixture is skipped, and the run's end says exactly what is missing."""
    folder = tmp_path / "fixtures"
    folder.mkdir()
    (folder / "mine.toml").write_text(MISTYPED)
    res = _claims_run(tmp_path, folder)
    assert res.returncode == 0, res.stdout[-3000:]
    summary = res.stdout.split("claims not judged", 1)[1]
    assert "SKIPPED test_claim[no_overfitting-tiny-good]:" in summary
    assert (f"fixture tiny-good ({folder / 'mine.toml'}): its inputs are not on this machine: "
            f"[encoder] name = './my-encodr': no folder at {folder / 'my-encodr'}") in summary


@pytest.mark.slow
def test_an_installed_copy_runs_a_fixture_of_ones_own_from_any_folder(tmp_path):
    """The README's way: the package (claims and their plugin included) installed, a fixture file in
    a folder of one's own, ``pytest --pyargs claims``, no repository in sight."""
    from importlib.metadata import entry_points

    if not any(ep.value == "claims.plugin" for ep in entry_points(group="pytest11")):
        pytest.skip("the package is not installed (pip install -e .): no pytest11 entry point")
    (tmp_path / "mine.toml").write_text(GOOD.replace("tolerance = 1.0", 'tolerance = 1.0\nexpect = "inconclusive"'))
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "--pyargs", "claims", "-m", "smoke",
                          "--claim-fixtures", "mine.toml", "--artifacts", "store", "--report", "rep"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "PytestUnknownMarkWarning" not in res.stdout  # the plugin registers the profiles' markers
    doc = json.loads((tmp_path / "rep" / "verdicts.json").read_text())
    assert [(v["claim"], v["fixture"], v["status"]) for v in doc["verdicts"]] == [
        ("no_overfitting", "tiny-good", "passed")]
