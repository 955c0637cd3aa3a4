"""The paper-scale fixtures load with today's libraries, offline, through the project's own
loaders: an offline copy of the hub (tests/hubcache.py: the repositories, configurations,
revisions, splits and columns the fixtures name, MiniLM standing in for every encoder) read with
``HF_HUB_OFFLINE=1``. Each fixture's encoder and data resolve, and one full fixture runs end to end
(all its claims and the report) with its sizes capped by ``--max-examples``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from claims.fixture import load_fixtures

ROOT = Path(__file__).resolve().parents[1]
FULL = [fx for fx in load_fixtures([ROOT / "fixtures" / "full"])]

LOAD = """
import json, sys
from pathlib import Path
from claims.fixture import load_fixture
from harness.pipeline.build import Harness
from harness.store import ArtifactStore

out = {}
for path in sys.argv[2:]:
    fx = load_fixture(path)
    h = Harness(ArtifactStore(sys.argv[1]), device="cpu")
    tasks = {t: h.task(spec) for t, spec in (("task", fx.task), ("other_task", fx.other_task)) if spec is not None}
    h.identity(fx.encoder)
    out[fx.name] = {"resolved": h.resolved,
                    "splits": {t: {s: len(task[s]) for s in task.splits} for t, task in tasks.items()},
                    "labels": {t: list(task.label_names) for t, task in tasks.items()}}
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def offline_hub(tmp_path_factory):
    """HF_HOME with every full fixture's repositories, and the environment that reads it offline."""
    from hubcache import build_cache

    home = tmp_path_factory.mktemp("hf_home")
    resolved = build_cache(home, FULL)
    csv = home / "infopinion.csv"  # the one full fixture that reads a local file
    csv.write_text("text,label\n" + "".join(f"article {i} on the {'budget' if i % 2 else 'match'},"
                                              f"{'opinion' if i % 2 else 'information'}\n" for i in range(80)))
    from tokendata import (  # the token corpora that Zhou's fixtures read
        write_conllu,
        write_streusle,
    )

    pud, streusle = write_conllu(home / "pud.conllu", 60), write_streusle(home / "streusle")
    env = dict(os.environ, HF_HOME=str(home), HF_HUB_OFFLINE="1", INFOPINION_CSV=str(csv), PYTHONPATH=str(ROOT),
               ZHOU_PUD=str(pud), ZHOU_STREUSLE=str(streusle))
    env.pop("HF_ENDPOINT", None)
    return env, resolved


def test_the_offline_hub_copy_is_laid_out_as_huggingface_hub_reads_it(offline_hub):
    """huggingface_hub's own cache scanner reads it: every repository, with its revisions."""
    env, resolved = offline_hub
    script = ("import json; from huggingface_hub import scan_cache_dir; info = scan_cache_dir();"
              "print(json.dumps(sorted((r.repo_type, r.repo_id, sorted(c.commit_hash for c in r.revisions))"
              " for r in info.repos)))")
    res = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    repos = {(kind, repo): commits for kind, repo, commits in json.loads(res.stdout)}
    for key, commit in resolved.items():
        kind, name = key.split(" ", 1)
        repo_id = name if kind == "model" else "/".join(name.split("/")[:2])
        assert [commit] == repos[("model" if kind == "model" else "dataset", repo_id)], key


@pytest.mark.slow
def test_every_full_fixture_resolves_its_encoder_and_data_offline(offline_hub, tmp_path):
    env, resolved = offline_hub
    res = subprocess.run([sys.executable, "-c", LOAD, str(tmp_path / "store"), *(str(fx.path) for fx in FULL)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    out = json.loads(res.stdout.split("RESULT ", 1)[1])
    assert set(out) == {fx.name for fx in FULL}
    for fx in FULL:
        got = out[fx.name]
        for key, commit in got["resolved"].items():
            assert resolved[key] == commit, (fx.name, key)  # the commit the fixture's revision names
        if fx.encoder.name.count("/") == 1:
            assert f"model {fx.encoder.name}" in got["resolved"], fx.name
        for table, spec in (("task", fx.task), ("other_task", fx.other_task)):
            if spec is not None:
                splits = got["splits"][table]
                assert {"train", "validation", "test"} <= set(splits) and min(splits.values()) > 0, (fx.name, table)
                if spec.source == "hub":  # ClassLabel integers came back as their names
                    label = dict(spec.params)["label_column"]
                    assert all(name.startswith(f"{label}_") for name in got["labels"][table]), (fx.name, table)


@pytest.mark.slow
def test_a_full_fixture_runs_end_to_end_offline_with_capped_sizes(offline_hub, tmp_path):
    """Zhou and Srikumar's BERT-tiny fixture: every claim, the report, and the revisions it
    resolved in verdicts.json, at 40 examples per split on the CPU."""
    env, resolved = offline_hub
    fixture = ROOT / "fixtures" / "full" / "zhou-bert-tiny-trec50.toml"
    report = tmp_path / "report"
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "claims", "-m", "full", "--device", "cpu",
         "--max-examples", "40", "--claim-fixtures", str(fixture), "--artifacts", str(tmp_path / "store"),
         "--report", str(report)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    doc = json.loads((report / "verdicts.json").read_text())
    rows = {v["claim"]: v for v in doc["verdicts"] if v["fixture"] == "zhou-bert-tiny-trec50"}
    fx = next(f for f in FULL if f.name == "zhou-bert-tiny-trec50")
    assert set(rows) == set(fx.claims), res.stdout[-3000:]
    assert all(v["status"] in ("passed", "failed") and v["conclusion"] for v in rows.values()), \
        {k: v["message"] for k, v in rows.items() if v["status"] in ("error", "skipped")}
    assert doc["run"]["max_examples"] == 40
    want = {k: v for k, v in resolved.items()
            if k in (f"model {fx.encoder.name}", "data CogComp/trec/default")}
    assert doc["run"]["resolved_revisions"] == want and len(want) == 2
    html = (report / "report.html").read_text()
    assert want["data CogComp/trec/default"] in html and "dry run" in html


def test_a_hidden_test_split_and_a_missing_config_are_named(tmp_path):
    """GLUE's test split has no labels (-1): mapped to test it is refused with the way out; a
    configuration folder that is not there names the revision and the export to try."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from hubcache import add_dataset

    add_dataset(tmp_path, "nyu-mll/glue", "sst2", None, "sentence", ["label"], ["train", "validation", "test"])
    snap = next((tmp_path / "hub" / "datasets--nyu-mll--glue" / "snapshots").iterdir())
    test = pq.read_table(snap / "sst2" / "test-00000-of-00001.parquet")
    hidden = test.set_column(1, "label", pa.array([-1] * test.num_rows)).replace_schema_metadata(test.schema.metadata)
    pq.write_table(hidden, snap / "sst2" / "test-00000-of-00001.parquet")
    script = ("import sys\nfrom harness.data.hubdata import load_hub\nfrom harness.errors import DataError\n"
              "for config in ('sst2', 'cola'):\n"
              "    try:\n        load_hub('nyu-mll/glue', config, text_column='sentence')\n"
              "    except DataError as exc:\n        print('ERROR', exc)\n")
    env = dict(os.environ, HF_HOME=str(tmp_path), HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    res = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    errors = [line for line in res.stdout.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 2, res.stdout + res.stderr[-2000:]
    assert "split 'test'" in errors[0] and "label -1 is not one of the 6 classes" in errors[0] and "split_names" in errors[0]
    assert "no Parquet files under cola/" in errors[1] and "refs/convert/parquet" in errors[1]
