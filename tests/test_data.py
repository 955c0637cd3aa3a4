"""The data layer: loading tasks from files, checking them, carving and subsampling splits."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import data
from harness.data import hub, hubdata, local
from harness.errors import ConfigError, DataError, HubUnavailable
from harness.pipeline.build import TaskSpec

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

TRAIN = [("good film", "pos"), ("bad film", "neg"), ("great plot", "pos"), ("awful plot", "neg")] * 5
TEST = [("good plot", "pos"), ("bad plot", "neg"), ("fine", "pos"), ("dull", "neg")]


def write(folder: Path, split: str, rows, fmt: str, text="text", label="label") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{split}.{fmt}"
    frame = pd.DataFrame(rows, columns=[text, label])
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "tsv":
        frame.to_csv(path, index=False, sep="\t")
    elif fmt == "parquet":
        frame.to_parquet(path)
    else:
        path.write_text("".join(json.dumps({text: t, label: y}) + "\n" for t, y in rows))
    return path


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "parquet"])
def test_load_local_every_format(tmp_path, fmt):
    write(tmp_path, "train", TRAIN, fmt)
    write(tmp_path, "dev", TEST, fmt)
    write(tmp_path, "test", TEST, fmt)
    task = local.load_local(tmp_path)
    assert task.label_names == ("neg", "pos")
    assert set(task.splits) == {"train", "validation", "test"}
    assert task["train"].texts[:2] == ("good film", "bad film")
    assert task["train"].labels[:2].tolist() == [1, 0]
    assert len(task["test"]) == 4


def test_integer_labels_sort_numerically_and_custom_columns(tmp_path):
    rows = [(f"text {i}", [2, 10, 1][i % 3]) for i in range(12)]
    write(tmp_path, "train", rows, "jsonl", text="sentence", label="y")
    write(tmp_path, "test", rows[:6], "jsonl", text="sentence", label="y")
    task = local.load_local(tmp_path, text_column="sentence", label_column="y")
    assert task.label_names == ("1", "2", "10")
    assert task["train"].labels[:3].tolist() == [1, 2, 0]


def test_csv_keeps_words_that_look_like_missing_values(tmp_path):
    write(tmp_path, "train", [("NA", "a"), ("null", "b")] * 2, "csv")
    write(tmp_path, "test", [("NA", "a"), ("none", "b")], "csv")
    assert local.load_local(tmp_path)["train"].texts[:2] == ("NA", "null")


# ---- bad input: every message names the file or split and what is allowed -------------------


def test_missing_column_names_file_and_columns(tmp_path):
    write(tmp_path, "train", TRAIN, "csv", label="sentiment")
    write(tmp_path, "test", TEST, "csv", label="sentiment")
    with pytest.raises(DataError, match=r"train\.csv: no label column 'label'.*\['text', 'sentiment'\]"):
        local.load_local(tmp_path)


def test_unknown_split_is_refused():
    with pytest.raises(DataError, match=r"unknown split\(s\) \['dev2'\]"):
        data.make_task("t", {"train": (["a", "b"], [0, 1]), "test": (["a", "b"], [0, 1]),
                             "dev2": (["a", "b"], [0, 1])})
    task = data.make_task("t", {"train": (["a", "b"], [0, 1]), "test": (["a", "b"], [0, 1])})
    with pytest.raises(DataError, match=r"no split 'validation'; it has \['test', 'train'\]"):
        task["validation"]
    with pytest.raises(ConfigError, match="unknown split"):
        data.resize(task, {"holdout": 3})


def test_missing_test_split(tmp_path):
    write(tmp_path, "train", TRAIN, "csv")
    with pytest.raises(DataError, match="no 'test' split"):
        local.load_local(tmp_path)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        # rows are counted from 1, as an editor shows them (the second row here)
        ([("ok", "pos"), ("   ", "neg")], r"train\.jsonl, row 2: text is empty"),
        ([("ok", "pos"), (3.5, "neg")], r"train\.jsonl, row 2: text must be a string, got float"),
        ([("ok", "pos"), (None, "neg")], r"row 2: text must be a string, got NoneType"),
        ([("ok", "pos"), ("fine", None)], r"row 2: the label is missing \(None\)"),
        ([("ok", "pos"), ("fine", 1.5)], r"row 2: label 1\.5 is a fractional number"),
        ([("ok", "pos"), ("fine", True)], r"row 2: label True is a boolean"),
        ([("ok", "pos"), ("fine", "NaN")], r"row 2: label 'NaN' marks a missing value"),
        ([("ok", "pos"), ("fine", "null")], r"row 2: label 'null' marks a missing value"),
    ],
)
def test_bad_text_or_label_values(tmp_path, rows, message):
    write(tmp_path, "train", rows, "jsonl")
    write(tmp_path, "test", TEST, "jsonl")
    with pytest.raises(DataError, match=message):
        local.load_local(tmp_path)


@pytest.mark.parametrize("marker", ["NaN", "nan", "", "NA", "N/A", "null"])
def test_a_missing_label_in_a_csv_is_refused_not_a_new_class(tmp_path, marker):
    """pandas would read these as NaN, the loader as strings: a third class "NaN" in both cases,
    before. Now the file and the row (counted from 1 below the header) are named."""
    (tmp_path / "train.csv").write_text(f"text,label\ngood,pos\nbad,neg\nmeh,{marker}\n")
    write(tmp_path, "test", TEST, "csv")
    with pytest.raises(DataError, match=rf"train\.csv, row 3: .*label.*{marker if marker else ''}"):
        local.load_local(tmp_path)


def test_numeric_labels_written_two_ways_are_one_class(tmp_path):
    (tmp_path / "train.csv").write_text("text,label\ngood,1\ngreat,1.0\nbad,0\nawful,0.0\n")
    (tmp_path / "test.csv").write_text("text,label\nfine,1\npoor,0\n")
    task = local.load_local(tmp_path)
    assert list(task.label_names) == ["0", "1"]
    assert task["train"].labels.tolist() == [1, 1, 0, 0]


def test_single_class_split(tmp_path):
    write(tmp_path, "train", TRAIN, "csv")
    write(tmp_path, "test", [("good", "pos"), ("great", "pos")], "csv")
    with pytest.raises(DataError, match=r"test\.csv: a single class \('pos'\)"):
        local.load_local(tmp_path)


def test_labels_in_test_that_train_never_saw(tmp_path):
    write(tmp_path, "train", TRAIN, "csv")
    write(tmp_path, "test", TEST + [("meh", "neutral")], "csv")
    with pytest.raises(DataError, match=r"test\.csv: label\(s\) \['neutral'\] never occur in train"):
        local.load_local(tmp_path)


def test_empty_file_and_header_only(tmp_path):
    write(tmp_path, "train", TRAIN, "csv")
    (tmp_path / "test.csv").write_text("")
    with pytest.raises(DataError, match=r"test\.csv: the file is empty"):
        local.load_local(tmp_path)
    (tmp_path / "test.csv").write_text("text,label\n")
    with pytest.raises(DataError, match=r"test\.csv: the file has a header but no rows"):
        local.load_local(tmp_path)


def test_invalid_json_line_is_located(tmp_path):
    write(tmp_path, "train", TRAIN, "jsonl")
    (tmp_path / "test.jsonl").write_text('{"text": "a", "label": "pos"}\n{"text": oops}\n')
    with pytest.raises(DataError, match=r"test\.jsonl, line 2: not valid JSON"):
        local.load_local(tmp_path)


def test_not_a_folder_and_no_files(tmp_path):
    with pytest.raises(DataError, match="no such folder or file"):
        local.load_local(tmp_path / "absent")
    with pytest.raises(DataError, match="no split files"):
        local.load_local(tmp_path)


def test_two_files_for_one_split(tmp_path):
    write(tmp_path, "train", TRAIN, "csv")
    write(tmp_path, "train", TRAIN, "jsonl")
    with pytest.raises(DataError, match="two files for split 'train'"):
        local.load_local(tmp_path)


# ---- validation carving and subsampling ----------------------------------------------------


def test_validation_is_carved_stratified_and_reproducibly():
    rng = np.random.default_rng(0)
    labels = rng.choice(["a", "b", "c"], p=[0.6, 0.3, 0.1], size=500).tolist()
    texts = [f"text {i}" for i in range(500)]
    task = data.make_task("t", {"train": (texts, labels), "test": (texts[:50], labels[:50])})
    one, two = data.with_validation(task, 0.2, seed=3), data.with_validation(task, 0.2, seed=3)
    assert one["validation"].texts == two["validation"].texts
    assert len(one["validation"]) == 100 and len(one["train"]) == 400
    assert not set(one["validation"].texts) & set(one["train"].texts)
    val_share = np.bincount(one["validation"].labels, minlength=3) / 100
    all_share = np.bincount(task["train"].labels, minlength=3) / 500
    assert np.abs(val_share - all_share).max() <= 0.011
    other = data.with_validation(task, 0.2, seed=4)
    assert other["validation"].texts != one["validation"].texts


def test_existing_validation_is_kept():
    task = data.make_task("t", {s: (["a", "b"], [0, 1]) for s in ("train", "validation", "test")})
    assert data.with_validation(task) is task


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(1, 40), min_size=2, max_size=8),
    frac=st.floats(0.05, 1.0),
    seed=st.integers(0, 2**31),
)
def test_stratified_indices_properties(counts, frac, seed):
    labels = np.repeat(np.arange(len(counts)), counts)
    n = max(1, int(round(frac * len(labels))))
    idx = data.stratified_indices(labels, n, seed)
    assert len(idx) == n == len(set(idx.tolist()))
    assert np.all(np.diff(idx) > 0)
    got = np.bincount(labels[idx], minlength=len(counts))
    quota = np.asarray(counts) * n / len(labels)
    assert np.all(np.abs(got - quota) < 1.0 + 1e-9)  # each class within one of its exact share
    assert np.array_equal(idx, data.stratified_indices(labels, n, seed))


def test_stratified_sample_size_checked():
    with pytest.raises(ConfigError, match=r"sample size must be in 1\.\.3"):
        data.stratified_indices(np.array([0, 1, 1]), 5, 0)


def test_subsample_via_task_spec_sizes():
    spec = TaskSpec.from_dict({"source": "synthetic", "kind": "topic", "n_train": 200,
                               "n_test": 100, "sizes": {"train": 40, "test": 20}})
    task = spec.load()
    assert len(task["train"]) == 40 and len(task["test"]) == 20 and len(task["validation"]) == 100
    assert task.fingerprint() == spec.load().fingerprint()
    with pytest.raises(ConfigError, match=r"\[task\] sizes = \{'train': 0\}: must be a table of split"):
        TaskSpec.from_dict({"source": "synthetic", "kind": "topic", "sizes": {"train": 0}})
    with pytest.raises(ConfigError, match=r"\[task\] source = 'ftp': must be one of \['synthetic', 'local', 'hub', 'conllu', 'streusle'\]"):
        TaskSpec.from_dict({"source": "ftp"})


def test_fingerprint_changes_with_any_text_or_label():
    base = data.make_task("t", {"train": (["a", "b"], [0, 1]), "test": (["c", "d"], [0, 1])})
    text = data.make_task("t", {"train": (["a", "b"], [0, 1]), "test": (["c", "e"], [0, 1])})
    label = data.make_task("t", {"train": (["a", "b"], [0, 1]), "test": (["c", "d"], [1, 0])})
    assert len({base.fingerprint(), text.fingerprint(), label.fingerprint()}) == 3


# ---- the hub --------------------------------------------------------------------------------


def test_hub_loader_fails_fast_when_unreachable(monkeypatch):
    hub._probe.cache_clear()
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "https://127.0.0.1:9")  # discard port: refused at once
    with pytest.raises(HubUnavailable, match=r"data set 'nyu-mll/glue' needs the Hugging Face hub.*127\.0\.0\.1:9"):
        hubdata.load_hub("nyu-mll/glue", "sst2")
    hub._probe.cache_clear()


def test_hub_probe_reports_refusal(monkeypatch):
    hub._probe.cache_clear()
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(HubUnavailable, match="HF_HUB_OFFLINE=1"):
        hub.require_hub("encoder 'bert-base-uncased'")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub.require_hub("anything")  # offline mode: the cache decides, no probe
    hub._probe.cache_clear()


# ---- real data (skips where ../shared is absent) --------------------------------------------


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is absent (it is not part of the project)")
def test_shared_real_sets_load_and_get_a_validation_split():
    sst2 = local.load_local(SHARED / "sst2")
    assert sst2.label_names == ("negative", "positive")
    assert (len(sst2["train"]), len(sst2["validation"]), len(sst2["test"])) == (6920, 872, 1821)
    trec = data.with_validation(local.load_local(SHARED / "trec50"), 0.1, seed=0)
    assert len(trec["validation"]) == 545 and len(trec["train"]) == 5452 - 545
    counts = Counter(trec["validation"].labels.tolist())
    assert len(trec.label_names) == 50 and len(counts) >= 40


def test_single_file_is_split_80_10_10_stratified(tmp_path):
    rows = [(f"review number {i}", "opinion" if i % 4 == 0 else "information") for i in range(1000)]
    path = write(tmp_path, "infopinion", rows, "csv")
    task = local.load_local(path)
    sizes = {s: len(task[s]) for s in task.splits}
    assert sizes == {"train": 800, "validation": 100, "test": 100}
    assert set(task["train"].texts).isdisjoint(task["test"].texts)
    assert set(task["validation"].texts).isdisjoint(task["test"].texts)
    assert np.mean(task["test"].labels == task.label_names.index("opinion")) == 0.25
    assert local.load_local(path).fingerprint() == task.fingerprint()
    assert local.load_local(path, split_seed=1).fingerprint() != task.fingerprint()
    with pytest.raises(ConfigError, match="split_fractions must be three"):
        local.load_local(path, split_fractions=(0.5, 0.5))


def test_sizes_larger_than_a_split_are_refused(tmp_path):
    write(tmp_path, "train", TRAIN, "csv")
    write(tmp_path, "test", TEST, "csv")
    task = local.load_local(tmp_path)
    with pytest.raises(ConfigError, match=rf"sizes.test = 99: the test split of .* has only {len(TEST)} examples"):
        data.resize(task, {"test": 99})
    assert len(data.resize(task, {"test": len(TEST)})["test"]) == len(TEST)


def test_max_examples_cuts_every_split_for_a_dry_run(tmp_path):
    from harness.data.tasks import TaskSpec
    from harness.pipeline.build import Harness
    from harness.store import ArtifactStore

    spec = TaskSpec.from_dict({"source": "synthetic", "kind": "sentiment", "n_train": 60, "n_validation": 8,
                               "n_test": 30, "seed": 0})
    whole = Harness(ArtifactStore(tmp_path)).task(spec)
    cut = Harness(ArtifactStore(tmp_path), max_examples=20).task(spec)
    assert {k: len(v) for k, v in cut.splits.items()} == {"train": 20, "validation": 8, "test": 20}
    assert sorted(set(cut["train"].labels)) == sorted(set(whole["train"].labels))  # stratified: both labels
    assert cut.fingerprint() != whole.fingerprint()  # other content, other artifacts
    with pytest.raises(ConfigError, match="max_examples must be an integer of at least 2"):
        Harness(ArtifactStore(tmp_path), max_examples=1)
