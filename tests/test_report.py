"""The report builder on a fixed, small verdicts file: every verdict appears, failures are marked
as failures, figures are present and non-empty, the HTML is self-contained, a rebuild recomputes
nothing, and a real browser (headless Chromium, where installed) renders it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from claims import figures
from claims.verdict import Verdict, VerdictsFileError, dump, load, outcome_row
from harness.store import ArtifactStore
from reports.build import build_report

ROOT = Path(__file__).resolve().parents[1]


def fake_artifacts(store: ArtifactStore):
    """A map2d and a probe artifact written directly (no model): 60 points, 3 labels."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    coords = rng.normal(size=(60, 2)) + labels[:, None] * 4.0
    pred = labels.copy()
    pred[::7] = (pred[::7] + 1) % 3

    def build_map(folder):
        np.save(folder / "coords.npy", coords.astype(np.float32))
        np.save(folder / "labels.npy", labels)
        return {"method": "sklearn-tsne", "perplexities": [19.0], "label_names": ["a", "b", "c"], "split": "test"}

    def build_probe(folder):
        np.save(folder / "labels_test.npy", labels)
        np.save(folder / "pred_test.npy", pred)
        np.save(folder / "logits_test.npy", np.eye(3, dtype=np.float32)[pred])
        return {}

    m = store.get_or_build("map2d", "test", {"n": 60}, build_map)
    p = store.get_or_build("probe", "test", {"n": 60}, build_probe)
    return m, p


def one(x: float) -> dict:
    """A value measured on one seed, in the schema's one shape."""
    return {"value": x, "sd": None, "per_seed": [x]}


@pytest.fixture
def run(tmp_path):
    store = ArtifactStore(tmp_path / "store")
    m, p = fake_artifacts(store)
    passing = Verdict(
        claim="accuracy_gap", fixture="fx-pass", seeds=(0,), conclusion="reproduced", criterion="FT better",
        statement={"sentence": "Allocine: the gap is significant", "source": "Bogaert et al. 2023, section 3.1"},
        pvalues={"McNemar one-sided": 1e-4}, pvalues_holm={"McNemar one-sided": 2e-4},
        measured={"finetuned_accuracy": one(0.91), "frozen_accuracy": one(0.83), "p_mcnemar": one(1e-4)},
        paper={"finetuned_accuracy": 0.9707}, intervals={"finetuned_accuracy": [[0.88, 0.94]]},
        figures=(figures.accuracy_bars("Accuracy", [("finetuned", 0.91, [0.88, 0.94], 0.9707),
                                                    ("frozen", 0.83, [0.8, 0.86], None)]),
                 figures.embedding_maps("Maps", [("frozen", figures.ref(m), figures.ref(p))])),
        profile="smoke",
    )
    failing = Verdict(
        claim="pca_variance", fixture="fx-fail", seeds=(0, 1), conclusion="contradicted", criterion="few PCs",
        measured={"finetuned_pcs": {"value": 50.0, "sd": 2.0, "per_seed": [48, 52]},
                  "frozen_pcs": {"value": 60, "sd": 0.0, "per_seed": [60, 60]}},
        paper={"finetuned_pcs": 1},
        figures=(figures.pca_curves("PCA", 0.95, [("frozen", np.full(10, 0.1)),
                                                  ("fine-tuned", np.r_[0.9, np.full(9, 0.1 / 9)])]),
                 figures.distance_trajectories("Trajectories", ["a", "b"], [(0, [0, 5], [[1.0, 2.0], [3.0, 4.0]])]),
                 figures.distance_bars("Bars", ["a", "b"], [("before", [1.0, 2.0]), ("after", [0.5, 1.0])]),
                 figures.word_lists("Words", "mutual information", [
                     ("fine-tuned", [("awful", 3.3, 0.04), ("boring", 3.1, 0.03)]),
                     ("frozen", [("amazing", -2.5, 0.03), ("hotel", -1.2, 0.0)])])),
        profile="smoke",
    )
    run_info = {"command": "pytest claims -m smoke --report R", "git_commit": "abc123", "device": "cpu",
                "artifacts": str(store.root), "wall_time_s": 1.0,
                "environment": {"python": "3.11", "packages": {"torch": "2.13.0"}},
                "machine": {"cpu": "Test CPU", "cpu_count": 2, "gpus": []},
                "cache": {"hits": 1, "built": 2, "rebuilt_corrupt": 0},
                "cache_artifacts": {"hits": [figures.ref(m)], "built": [figures.ref(p)]}}
    path = tmp_path / "in" / "verdicts.json"
    path.parent.mkdir()
    skipped = outcome_row("cross_task", "fx-skip", "skipped", "local data not found at /data/infopinion",
                          profile="full")
    path.write_text(dump([passing, failing, skipped], run_info))
    return path, store


def test_every_verdict_and_failure_is_in_the_report(run, tmp_path):
    path, store = run
    report = build_report(path, tmp_path / "out", store)
    md = (tmp_path / "out" / "report.md").read_text()
    html = (tmp_path / "out" / "report.html").read_text()
    for text in (md, html):
        assert "fx-pass" in text and "fx-fail" in text
        assert "accuracy_gap" in text and "pca_variance" in text
        assert ("2 claim verdicts: 1 reproduced, 1 contradicted, 0 inconclusive. Fixture expectations: "
                "1 held, 1 failed; 0 errors, 1 skipped.") in text
        assert "Allocine: the gap is significant" in text and "Bogaert et al. 2023, section 3.1" in text
        assert "local data not found at /data/infopinion" in text  # the skip, with its reason
        assert "0.0002" in text  # the Holm-adjusted p beside the raw one
        assert "0.9707" in text  # the paper's figure beside the measured one
        assert "[0.88, 0.94]" in text  # the bootstrap interval
        assert "git checkout abc123" in text and "python -m reports build" in text
        assert "Test CPU" in text
    assert md.count("**EXPECTED REPRODUCED**") == 1 and "ATTENTION" in md  # the first table's cell
    assert html.count('<span class="fail">EXPECTED REPRODUCED</span>') == 2  # first table, heading
    assert 'class="banner bad"' in html
    assert json.loads((tmp_path / "out" / "verdicts.json").read_text()) == json.loads(path.read_text())
    assert [f.error for f in report.figures] == [None] * 6


def _first_table(html: str) -> str:
    return html.split('<table class="matrix">', 1)[1].split("</table>", 1)[0]


def test_the_first_table_answers_which_claims_hold_where(tmp_path):
    """The papers' claims as rows (grouped by paper, with the sentence), fixtures as columns; a cell
    is coloured by what it says about the paper, never by the fixture's expectation (a contradiction
    that the fixture expected is not green), with its headline numbers; errors, skips and fixture
    files that did not load are there too."""
    bogaert = {"sentence": "the loss is negligible", "source": "Bogaert et al. 2023, Table 3"}
    zhou = {"sentence": "clusters move apart", "source": "Zhou and Srikumar 2022, section 4.3"}
    verdicts = [
        Verdict(claim="cross_task", fixture="fx-a", seeds=(0,), conclusion="contradicted", criterion="c",
                expected="contradicted", statement=bogaert, measured={"frozen_accuracy": one(0.93),
                "cross_task_accuracy": one(0.61), "difference": one(-0.32)},
                headline=("cross_task_accuracy", "frozen_accuracy")),
        Verdict(claim="label_distances", fixture="fx-b", seeds=(0,), conclusion="reproduced", criterion="c",
                statement=zhou, measured={"clusters_first": one(6.0)}, paper={"clusters_first": 9.0},
                deciding={"test": "t", "p": 0.01, "alpha": 0.05, "family": 3, "p_holm": 0.06,
                          "holds_under_holm": False}),
        outcome_row("cross_task", "fx-b", "error", "DataError: no column 'label'", statement=bogaert),
        outcome_row("(fixture file)", "broken.toml", "error", "broken.toml: [fine_tune] epochs = '3'"),
    ]
    path = tmp_path / "verdicts.json"
    path.write_text(dump(verdicts, {"command": "pytest claims"}))
    build_report(path, tmp_path / "out")
    html = (tmp_path / "out" / "report.html").read_text()
    table = _first_table(html)
    assert re.findall(r"<th>(fx-[ab])</th>", table) == ["fx-a", "fx-b"]
    assert [p for p in re.findall(r'<tr class="paper"><th colspan="3">([^<]+)</th>', table)] == [
        "Bogaert et al. 2023", "Zhou and Srikumar 2022"]
    rows = table.split('<tr class="paper">')
    bogaert_row, zhou_row = rows[1], rows[2]
    assert "the loss is negligible" in bogaert_row and "clusters move apart" in zhou_row
    assert re.search(r'<td class="c-contradicted"><a class="state" href="#v0">contradicted</a>'
                     r"<br><small>cross_task_accuracy 0.61</small><br><small>frozen_accuracy 0.93</small>"
                     r"<br><small>&#10003; as expected</small></td>", bogaert_row)
    assert '<td class="c-error"><a class="state" href="#v2">error</a></td>' in bogaert_row
    assert "clusters_first 6 (paper 9)" in zhou_row and "not after Holm" in zhou_row  # first two keys
    assert 'title="not run on this fixture"' in zhou_row  # label_distances did not run on fx-a
    assert "Fixture files that did not load" in html and "[fine_tune] epochs = &#x27;3&#x27;" in html
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| **Bogaert et al. 2023** | | |" in md
    assert "❌ **contradicted**<br>cross_task_accuracy 0.61<br>frozen_accuracy 0.93<br>as the fixture expected" in md
    assert "- broken.toml: broken.toml: [fine_tune] epochs = '3'" in md


def test_figures_are_present_and_not_empty(run, tmp_path):
    path, store = run
    report = build_report(path, tmp_path / "out", store)
    import matplotlib.image as mpimg

    for f in report.figures:
        assert f.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        pixels = mpimg.imread(f.png)
        assert pixels.std() > 0.01, f"{f.png} is blank"
        root = ET.parse(f.svg).getroot()
        assert root.tag.endswith("svg") and len(list(root.iter())) > 20
    html = (tmp_path / "out" / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(report.figures)
    assert not list((tmp_path / "out").rglob("*.tmp"))


def test_html_is_self_contained(run, tmp_path):
    path, store = run
    build_report(path, tmp_path / "out", store)
    html = (tmp_path / "out" / "report.html").read_text()
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', html)
    assert "url(http" not in html and "<script src" not in html
    assert not re.search(r'<img[^>]+src="(?!data:)', html)


def test_rebuild_recomputes_nothing_and_missing_artifacts_are_listed(run, tmp_path):
    path, store = run
    fresh = ArtifactStore(store.root)
    build_report(path, tmp_path / "out", fresh)
    assert fresh.stats.builds == []
    empty = ArtifactStore(tmp_path / "empty")
    report = build_report(path, tmp_path / "out2", empty)
    errors = [f.error for f in report.figures if f.error]
    assert len(errors) == 1 and "not in the store" in errors[0]
    assert "Figure not drawn" in (tmp_path / "out2" / "report.html").read_text()


def test_command_line_build(run, tmp_path):
    path, store = run
    out = tmp_path / "cli"
    res = subprocess.run([sys.executable, "-m", "reports", "build", "--verdicts", str(path),
                          "--artifacts", str(store.root), "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "6 of 6 figures drawn" in res.stdout
    assert (out / "report.html").stat().st_size > 10_000 and (out / "report.md").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not JSON"),
        ('{"schema": 9, "verdicts": []}', "schema 9 is not supported"),
        ('{"schema": 2, "verdicts": [{"claim": "c", "fixture": "f", "seeds": [0], "criterion": "x", '
         '"measured": {}}]}', "verdict 0 (c): 'passed' must be a bool, got nothing"),
        ('{"schema": 3, "verdicts": [{"claim": "c", "fixture": "f", "seeds": [0], "criterion": "x", '
         '"measured": {}, "status": "great"}]}', "verdict 0 (c): 'status' must be one of"),
        ('{"schema": 3, "verdicts": [{"claim": "c", "fixture": "f", "seeds": [0], "criterion": "x", '
         '"measured": {}, "status": "passed", "conclusion": "sort of"}]}', "'conclusion' must be one of"),
    ],
)
def test_bad_verdicts_files_are_named_with_what_is_wrong(tmp_path, content, message):
    bad = tmp_path / "v.json"
    bad.write_text(content)
    with pytest.raises(VerdictsFileError, match=re.escape(message)) as info:
        load(bad)
    assert str(bad) in str(info.value)
    res = subprocess.run([sys.executable, "-m", "reports", "build", "--verdicts", str(bad)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and message in res.stderr


@pytest.mark.parametrize("schema", [1, 2])
def test_older_schemas_still_build(tmp_path, schema):
    doc = {"schema": schema, "run": {}, "verdicts": [{"claim": "c", "fixture": "f", "seeds": [0, 1], "passed": True,
                                                      "criterion": "x", "measured": {
                                                          "a": 1.0, "b": {"mean": 0.5, "sd": 0.1, "per_seed": [0.4, 0.6]}},
                                                      "intervals": {"a": [0.9, 1.0], "b": {"per_seed": [[0, 1], [0, 2]]}}}]}
    (tmp_path / "verdicts.json").write_text(json.dumps(doc))
    report = build_report(tmp_path / "verdicts.json", tmp_path, None)
    v = report.doc["verdicts"][0]
    assert v["status"] == "passed" and v["conclusion"] is None
    assert v["measured"] == {"a": {"value": 1.0, "sd": None, "per_seed": None},
                             "b": {"value": 0.5, "sd": 0.1, "per_seed": [0.4, 0.6]}}  # in the one shape
    assert v["intervals"] == {"a": [[0.9, 1.0]], "b": [[0, 1], [0, 2]]}
    assert "Fixture expectations: 1 held, 0 failed" in (tmp_path / "report.html").read_text()


def test_a_schema_3_file_builds_without_a_deciding_test(tmp_path):
    doc = {"schema": 3, "run": {}, "verdicts": [{"claim": "c", "fixture": "f", "seeds": [0], "status": "passed",
                                                 "conclusion": "reproduced", "expected": "reproduced",
                                                 "criterion": "x", "measured": {}, "pvalues": {"t": 0.01},
                                                 "pvalues_holm": {"t": 0.03}}]}
    (tmp_path / "verdicts.json").write_text(json.dumps(doc))
    report = build_report(tmp_path / "verdicts.json", tmp_path, None)
    assert report.doc["verdicts"][0]["deciding"] == {}
    assert "Deciding test" not in (tmp_path / "report.html").read_text()


def test_the_report_marks_a_reproduction_that_holm_would_undo(tmp_path):
    v = Verdict(claim="accuracy_gap", fixture="f", seeds=(0,), conclusion="reproduced", criterion="x", measured={},
                pvalues={"McNemar": 0.04}, pvalues_holm={"McNemar": 0.12},
                deciding={"test": "McNemar", "p": 0.04, "alpha": 0.05, "family": 3, "p_holm": 0.12,
                          "holds_under_holm": False})
    (tmp_path / "verdicts.json").write_text(dump([v], {}))
    build_report(tmp_path / "verdicts.json", tmp_path, None)
    html = (tmp_path / "report.html").read_text()
    assert "would NOT reproduce after the adjustment" in html and "3 verdicts with a deciding test" in html
    assert "would NOT reproduce" in (tmp_path / "report.md").read_text()


def test_verdicts_file_is_strict_json(tmp_path):
    """NaN (a recovery with nothing to recover) and numpy numbers are written as JSON can read."""
    v = Verdict(claim="partial_finetuning", fixture="f", seeds=(0,), conclusion="inconclusive", criterion="x",
                measured={"recovery": float("nan"), "acc": np.float32(0.5), "per_seed": np.array([1, 2])})
    text = dump([v], {"wall_time_s": float("inf")})

    def refuse(name):
        raise AssertionError(f"{name} is not JSON")

    doc = json.loads(text, parse_constant=refuse)
    assert doc["verdicts"][0]["measured"] == {"recovery": None, "acc": 0.5, "per_seed": [1, 2]}
    assert doc["run"]["wall_time_s"] is None
    path = tmp_path / "verdicts.json"
    path.write_text(text)
    assert Verdict.from_dict({k: v for k, v in load(path)["verdicts"][0].items()}).conclusion == "inconclusive"


def test_reports_build_works_from_any_folder(run, tmp_path):
    """The installed package holds the schema: no import of the repository's claims/ needed."""
    path, store = run
    res = subprocess.run([sys.executable, "-m", "reports", "build", "--verdicts", str(path),
                          "--artifacts", str(store.root), "--out", str(tmp_path / "elsewhere")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "elsewhere" / "report.html").exists()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (Debian: apt-get install chromium)")
def test_report_renders_in_headless_chromium(run, tmp_path):
    """A real browser opens the file offline and paints the embedded figures (the first bar's
    colour, #4477AA, appears on the screenshot)."""
    path, store = run
    build_report(path, tmp_path / "out", store)
    shot = tmp_path / "shot.png"
    res = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,3000", f"--screenshot={shot}",
         (tmp_path / "out" / "report.html").as_uri()],
        capture_output=True, text=True, timeout=120)
    assert shot.exists(), res.stderr[-2000:]
    import matplotlib.image as mpimg

    rgb = (mpimg.imread(shot)[..., :3] * 255).round()
    bar = np.abs(rgb - np.array([0x44, 0x77, 0xAA])).max(-1) <= 3
    assert bar.sum() > 500, "the embedded accuracy figure was not painted"
    red = np.abs(rgb - np.array([0xB0, 0x00, 0x20])).max(-1) <= 10  # the FAIL marks
    assert red.sum() > 20


def test_the_token_level_figures_draw(tmp_path):
    """Zhou and Srikumar's centroid paths (Fig. 3) and per-layer movements (Fig. 5), and Merchant
    et al.'s truncated models (Fig. 4), from the claims' figure specifications."""
    from reports.draw import draw

    rng = np.random.default_rng(0)
    specs = [figures.centroid_paths("paths", ["NOUN", "VERB", "ADP"], [rng.normal(size=(3, 8)) for _ in range(4)]),
             figures.centroid_pca("movements", [1, 2, 3], [rng.normal(size=(3, 8)) * k for k in (1, 2, 3)]),
             figures.accuracy_by_layers("cut", [(1, 0.7), (2, 0.8)], 0.9, 0.5, mode="truncated")]
    assert len(specs[0]["paths"]) == 3 and len(specs[0]["paths"][0]) == 4  # per label, per checkpoint
    assert [p["layer"] for p in specs[1]["panels"]] == [1, 2, 3]
    for i, spec in enumerate(specs):
        drawn = draw(json.loads(json.dumps(spec)), tmp_path / f"fig{i}")
        assert drawn.png.stat().st_size > 1000 and "Fig." in drawn.caption


def test_a_table_figure_is_laid_out_as_a_table(tmp_path):
    """Zhou and Srikumar's Table 5 comes out as a table in both reports, cells as written."""
    table = figures.table("Table 5 on PS-fxn", ["label", "pre-trained", "fine-tuned on POS"],
                          [["p.Goal", 0.2869, 0.0972], ["mean", 0.31, 0.12]])
    verdict = Verdict(claim="cross_task_distances", fixture="fx-table", seeds=(0,), conclusion="reproduced",
                      criterion="lower", measured={}, figures=(table,), profile="smoke")
    path = tmp_path / "verdicts.json"
    path.write_text(dump([verdict], {"command": "pytest", "device": "cpu", "wall_time_s": 1.0}))
    build_report(path, tmp_path / "out", None)
    md = (tmp_path / "out" / "report.md").read_text()
    html = (tmp_path / "out" / "report.html").read_text()
    assert "| label | pre-trained | fine-tuned on POS |" in md and "| p.Goal | 0.2869 | 0.0972 |" in md
    assert "<caption>Table 5 on PS-fxn</caption>" in html and "<td>p.Goal</td><td>0.2869</td>" in html
    assert not list((tmp_path / "out").rglob("*.png"))  # nothing drawn for it


def test_an_unbounded_interval_reads_the_same_before_and_after_the_verdicts_file():
    """A Fieller interval of a share is unbounded where the gain is not significant: inf in memory,
    null in the strict-JSON verdicts file; the report says "-inf" / "inf" for both, not "n/a"."""
    from reports.schema import _plain, interval_text

    bounded_and_not = [[0.49, 0.69], [float("-inf"), float("inf")]]
    assert interval_text(bounded_and_not) == "per seed [0.49, 0.69], [-inf, inf]"
    assert interval_text(_plain(bounded_and_not)) == interval_text(bounded_and_not)
