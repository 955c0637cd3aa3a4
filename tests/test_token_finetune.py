"""Fine-tuning on token tasks (harness/training/tokens.py) and the protocol knobs that came with it: the
`zhou` preset, truncated encoders, token tasks in fixtures."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tokendata import write_conllu, write_streusle

from harness.data.tasks import TaskSpec
from harness.data.tokens import load_conllu, resize, with_validation
from harness.errors import ConfigError, TrainingDiverged
from harness.models.words import encode_words, item_vectors
from harness.training import tokens as token_training
from harness.training.protocols import PRESETS, FineTuneConfig
from harness.training.tokens import (
    TokenClassifier,
    _batch,
    _tokenize,
    fine_tune_tokens,
    length_parts,
    micro_parts,
)

pytest.importorskip("conllu")


@pytest.fixture(scope="module")
def tiny():
    from harness.models.encoders import EncoderSpec, load_encoder

    return load_encoder(EncoderSpec("offline:minilm-l2"))


@pytest.fixture(scope="module")
def no_dropout():
    """The 2-layer offline encoder with every dropout off, so that two ways of computing one
    training step's gradient give one model (no different masks); copy it before training."""
    from harness.models.encoders import EncoderSpec, load_encoder

    encoder = load_encoder(EncoderSpec("offline:minilm-l2"))
    for module in encoder.model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    return encoder


def assert_same_training(got, want):
    """Two token fine-tunes that are the same training to rounding: losses and weights."""
    np.testing.assert_allclose(got.losses, want.losses, rtol=1e-5)
    for (name, a), b in zip(want.classifier.state_dict().items(), got.classifier.state_dict().values(), strict=True):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-4, atol=1e-4, err_msg=name)


@pytest.mark.parametrize("kind", ["pos", "dep"])
@pytest.mark.parametrize("pooling", ["mean", "first"])
def test_the_trained_head_sees_the_same_vectors_as_encode_words(tiny, tmp_path, kind, pooling):
    """The differentiable item representation (one batch through TokenClassifier) against the
    cached path (encode_words + item_vectors, sentence by sentence): same numbers."""
    from dataclasses import replace

    task = replace(load_conllu(write_conllu(tmp_path / "t.conllu", 12), kind, fractions=(0.5, 0.25, 0.25)),
                   pooling=pooling)
    split = task["train"]
    classifier = TokenClassifier(tiny.model, task.num_labels, task.kind, pooling).eval()
    captured = {}
    classifier.head = torch.nn.Sequential(torch.nn.Identity())
    classifier.head.register_forward_hook(lambda m, i, o: captured.setdefault("x", o.detach()))
    sentences = np.arange(len(split.sentences))
    items = np.arange(len(split))
    with torch.inference_mode():
        classifier(*_batch(_tokenize(tiny.tokenizer, split.sentences, pooling), split, sentences, items,
                           tiny.tokenizer.pad_token_id, torch.device("cpu")))
    words = encode_words(tiny.model, tiny.tokenizer, split.sentences, layers=(-1,), pooling=pooling, batch_size=1)
    (vectors,) = words.values()
    np.testing.assert_allclose(captured["x"].numpy(), item_vectors(vectors, split, task.kind), atol=2e-5)


def test_fine_tuning_on_words_learns_is_seeded_and_checks_its_loss(tiny, tmp_path):
    task = load_conllu(write_conllu(tmp_path / "t.conllu", 40), "pos")
    config = FineTuneConfig.preset("zhou", epochs=3, batch_size=8, snapshot_at=(0.0, 1.0), snapshot_split="test")
    from copy import deepcopy

    runs = [fine_tune_tokens(deepcopy(tiny), task, config, seed=0) for _ in range(2)]
    assert runs[0].losses == runs[1].losses  # deterministic on the CPU
    assert np.mean(runs[0].losses[-3:]) < np.mean(runs[0].losses[:3])
    assert sorted(runs[0].snapshots) == [0, runs[0].total_steps]
    assert runs[0].snapshots[0][2].shape == (len(task["test"]), 384)  # items x dim, at the last layer (2 of 2)
    diverging = FineTuneConfig(epochs=1, lr=1e6, batch_size=8)
    with pytest.raises(TrainingDiverged, match="diverged"):
        fine_tune_tokens(deepcopy(tiny), task, diverging, seed=0)


def test_a_token_fine_tune_is_a_cached_artifact_with_item_predictions(tmp_path):
    from harness.models.encoders import EncoderSpec
    from harness.pipeline.build import Harness, Predictions
    from harness.store import ArtifactStore

    spec = TaskSpec.from_dict({"source": "conllu", "path": str(write_conllu(tmp_path / "t.conllu", 30)), "task": "dep"})
    h = Harness(ArtifactStore(tmp_path / "store"), device="cpu")
    task = h.task(spec)
    config = FineTuneConfig(epochs=1, batch_size=8, lr=1e-4, snapshot_at=(0.0, 1.0), snapshot_split="test",
                            truncate_layers=1)
    art = h.fine_tuned(EncoderSpec("offline:minilm-l2"), task, config, 0)
    assert Predictions.of(art, "test").labels.tolist() == task["test"].labels.tolist()
    assert json.loads((art.file("encoder") / "config.json").read_text())["num_hidden_layers"] == 1  # truncated
    assert art.array("snapshots/step_000000_layer_1.npy").shape == (len(task["test"]), 2 * 384)  # pairs
    again = h.fine_tuned(EncoderSpec("offline:minilm-l2"), task, config, 0)
    assert again.key == art.key and again.manifest == art.manifest  # found, not rebuilt
    x = h.embedding_matrix(art, task, "test")
    assert x.shape == (len(task["test"]), 768)


def test_the_zhou_preset_is_the_papers_protocol_and_a_fixture_can_override_it(tmp_path):
    config = FineTuneConfig.preset("zhou")
    assert (config.lr, config.warmup_ratio, config.batch_size, config.epochs) == (3e-4, 0.1, 32, 10)
    assert FineTuneConfig.preset("zhou", epochs=3).epochs == 3
    with pytest.raises(ConfigError, match="preset = 'zhuo'.*bogaert.*zhou"):
        FineTuneConfig.preset("zhuo")
    assert set(PRESETS) >= {"bogaert", "zhou"}
    from claims.fixture import load_fixture

    path = tmp_path / "f.toml"
    base = ('name = "f"\nprofile = "smoke"\n[encoder]\nname = "offline:minilm-l2"\n[task]\nsource = "conllu"\n'
            'path = "t.conllu"\n[claims.probe_accuracy]\n[fine_tune]\n')
    path.write_text(base + 'preset = "zhou"\nepochs = 3\n')
    fx = load_fixture(path)
    assert (fx.fine_tune.lr, fx.fine_tune.epochs) == (3e-4, 3)
    assert fx.missing_paths == (f"[task] path = 't.conllu': nothing at {tmp_path / 't.conllu'}",)  # relative to the fixture
    path.write_text(base + 'preset = "howard"\n')
    with pytest.raises(ConfigError, match=r"f.toml: \[fine_tune\] preset = 'howard'"):
        load_fixture(path)


def test_truncation_is_checked_against_the_encoder(tiny):
    from copy import deepcopy

    from harness.training.protocols import truncate_after

    model = deepcopy(tiny.model)
    truncate_after(model, 1)
    assert model.config.num_hidden_layers == 1 and len(model.encoder.layer) == 1
    with pytest.raises(ConfigError, match="truncate_layers must be in 1..2"):
        truncate_after(deepcopy(tiny.model), 3)
    with pytest.raises(ConfigError, match=r"\[fine_tune\] truncate_layers = 0: must be an integer >= 1 \(or left out\)"):
        FineTuneConfig(truncate_layers=0)


def test_token_splits_resize_and_carve_validation_by_sentence(tmp_path):
    spec = {"source": "streusle", "train": str(write_streusle(tmp_path / "s") / "train" / "streusle.ud_train.json"),
            "test": str(tmp_path / "s" / "test" / "streusle.ud_test.json"), "target": "ss2"}
    task = TaskSpec.from_dict(spec).load()
    train, val = task["train"], task["validation"]
    assert set(train.sentences).isdisjoint(set(val.sentences))  # by sentence (each sentence is unique)
    assert len(train) + len(val) == 60  # 30 sentences, two items each
    cut = resize(task, {"test": 20}, seed=0)
    assert len(cut["test"]) == 20 and set(cut["test"].labels) == set(task["test"].labels)  # stratified
    assert cut["train"] is task["train"]
    with pytest.raises(ConfigError, match="sizes.test = 99: the test split of streusle-fxn has only 60 words"):
        resize(task, {"test": 99})
    assert with_validation(task) is task


def test_a_corpus_at_a_url_is_fetched_once_pinned_and_fails_fast(tmp_path, monkeypatch):
    import hashlib
    import time

    from harness.data.remote import local_copy
    from harness.errors import DataError

    monkeypatch.setenv("CLAIMS_DATA_CACHE", str(tmp_path / "cache"))
    source = write_conllu(tmp_path / "t.conllu", 20)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    spec = {"source": "conllu", "path": source.as_uri(), "task": "pos", "sha256": digest}
    task = TaskSpec.from_dict(spec).load()
    assert task.fingerprint() == TaskSpec.from_dict({**spec, "path": str(source)}).load().fingerprint()
    cached = list((tmp_path / "cache").iterdir())
    assert len(cached) == 1 and not [p for p in cached if p.name.startswith(".")]  # no temporary left
    source.write_text("changed")  # the cached copy is what is read now ...
    assert TaskSpec.from_dict(spec).load().fingerprint() == task.fingerprint()
    with pytest.raises(DataError, match="SHA-256 .* but the fixture pins 0000"):  # ... unless the pin says otherwise
        local_copy(source.as_uri(), "0" * 64)
    start = time.monotonic()
    with pytest.raises(DataError, match=r"http://127.0.0.1:9/en_pud.conllu: cannot be downloaded .* local path"):
        local_copy("http://127.0.0.1:9/en_pud.conllu")
    assert time.monotonic() - start < 15


def test_out_of_memory_in_a_token_step_accumulates_micro_batches_with_the_same_gradient(tmp_path, no_dropout):
    """As for sentence tasks (test_protocols): a token step that runs out of accelerator memory is
    retried as accumulated micro-batches of sentences, each one's loss weighted by its share of the
    batch's items, so the trained model is the protocol's (dropout off: no different masks)."""
    from copy import deepcopy

    from tests.test_encoders import fail_above

    task = load_conllu(write_conllu(tmp_path / "t.conllu", 40), "pos")
    config = FineTuneConfig.preset("zhou", epochs=1, batch_size=8, head_dropout=0.0)

    def run(max_rows):
        enc = deepcopy(no_dropout)
        calls: list[int] = []
        if max_rows:
            fail_above(enc.model, max_rows, calls)
        return fine_tune_tokens(enc, task, config, seed=0), calls

    plain, _ = run(None)
    with pytest.warns(RuntimeWarning) as caught:
        backed_off, calls = run(2)
    assert [str(w.message).split(";")[0] for w in caught] == [
        "fine_tune_tokens: out of memory at 8 sentences per pass",
        "fine_tune_tokens: out of memory at 4 sentences per pass"]
    failed = [i for i, rows in enumerate(calls) if rows > 2]  # one pass at each of 1 and 2 micro-batches per part
    assert len(failed) == 2 and max(calls[failed[-1] + 1:]) == 2
    assert_same_training(backed_off, plain)


def test_out_of_memory_halves_the_word_encoding_batch_and_keeps_every_word(tiny, tmp_path):
    """``encode_words`` backs off as ``encode`` does: a batch that runs out of accelerator memory
    is halved until it fits (the same vectors), and one sentence that does not fit raises."""
    from tests.test_encoders import fail_above

    sentences = load_conllu(write_conllu(tmp_path / "t.conllu", 40), "pos")["train"].sentences
    assert len(sentences) > 8
    (ref,) = encode_words(tiny.model, tiny.tokenizer, sentences, batch_size=8).values()
    calls: list[int] = []
    original = fail_above(tiny.model, 2, calls)
    try:
        with pytest.warns(RuntimeWarning) as caught:
            (got,) = encode_words(tiny.model, tiny.tokenizer, sentences, batch_size=8).values()
        assert [str(w.message) for w in caught] == ["encode_words: out of memory at batch size 8; going on with 4",
                                                     "encode_words: out of memory at batch size 4; going on with 2"]
        assert calls[:3] == [8, 4, 2] and max(calls[3:]) == 2
        assert len(got) == len(ref) == len(sentences)
        for a, b in zip(got, ref, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
        calls.clear()
        fail_above(tiny.model, 0, calls)  # not even one sentence fits: the error is raised
        with pytest.raises(torch.OutOfMemoryError), pytest.warns(RuntimeWarning):
            encode_words(tiny.model, tiny.tokenizer, sentences, batch_size=4)
        assert calls == [4, 2, 1]
    finally:
        tiny.model.forward = original


def _padded_cost(lengths, groups, part_cost):
    return sum(len(g) * max(lengths[i] for i in g) + part_cost for g in groups)


def _set_partitions(items):
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for partition in _set_partitions(rest):
        yield [[first], *partition]
        for i in range(len(partition)):
            yield [*partition[:i], [first, *partition[i]], *partition[i + 1:]]


@given(st.lists(st.integers(1, 60), min_size=1, max_size=7), st.sampled_from([0, 5, 20, 80, 1000]))
@settings(max_examples=150, deadline=None)
def test_length_parts_is_the_cheapest_cut_of_all(lengths, part_cost):
    """Against every way of cutting the batch into groups (not only runs of the sorted lengths): the
    cut's padded sub-words plus ``part_cost`` per part are the least there is, and every sentence
    is in exactly one part, the parts sorted by length."""
    lengths = np.array(lengths)
    parts = length_parts(lengths, part_cost)
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(lengths)))
    assert all((np.diff(lengths[p]) >= 0).all() for p in parts)
    best = min(_padded_cost(lengths, g, part_cost) for g in _set_partitions(list(range(len(lengths)))))
    assert _padded_cost(lengths, [p.tolist() for p in parts], part_cost) == best


def test_length_parts_cuts_only_where_it_pays():
    lengths = np.array([10, 60, 11, 12, 58, 9])
    assert [p.tolist() for p in length_parts(lengths, None)] == [[0, 1, 2, 3, 4, 5]]  # as it is
    assert [p.tolist() for p in length_parts(lengths, 10_000)] == [[5, 0, 2, 3, 4, 1]]  # one part, sorted
    assert [p.tolist() for p in length_parts(lengths, 20)] == [[5, 0, 2, 3], [4, 1]]
    pieces = micro_parts(lengths, torch.device("cpu"), 3)  # memory ran out twice: each part in 3 pieces
    assert sorted(np.concatenate(pieces).tolist()) == list(range(6)) and all(len(p) for p in pieces)
    assert max(len(p) for p in pieces) <= 2


def test_length_sorted_micro_batches_give_the_batch_s_gradient(tmp_path, monkeypatch, no_dropout):
    """A token step on the CPU runs as micro-batches of similar lengths: the trained model is the
    one the whole batch in one pass gives (dropout off: no different masks), to rounding."""
    from copy import deepcopy

    task = load_conllu(write_conllu(tmp_path / "t.conllu", 40), "pos")
    config = FineTuneConfig.preset("zhou", epochs=1, batch_size=16, head_dropout=0.0)
    lengths = np.array([len(ids) for ids in _tokenize(no_dropout.tokenizer, task["train"].sentences, "mean").ids])
    assert len(set(lengths)) >= 4  # so that each batch is cut in several parts at a part cost of 1
    monkeypatch.setitem(token_training.PART_COST, "cpu", 1)
    passes = []
    encoder = deepcopy(no_dropout)
    encoder.model.register_forward_pre_hook(lambda module, args: passes.append(1))
    cut = fine_tune_tokens(encoder, task, config, seed=0)
    assert len(passes) >= 2 * len(cut.losses)
    monkeypatch.delitem(token_training.PART_COST, "cpu")
    whole = fine_tune_tokens(deepcopy(no_dropout), task, config, seed=0)
    assert cut.losses != whole.losses  # other rounding, so the two runs did differ
    assert_same_training(cut, whole)
