"""Training protocols through the cached pipeline, on the tiny offline encoder and generated data."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from harness.data.synthetic import generate_task
from harness.errors import ConfigError
from harness.models.encoders import EncoderSpec, load_encoder
from harness.models.heads import HeadConfig, train_head
from harness.pipeline.build import Harness, Predictions
from harness.store import ArtifactStore
from harness.training.protocols import FineTuneConfig, snapshot_steps

ROOT = Path(__file__).resolve().parents[1]
TINY = EncoderSpec("offline:minilm-l2")
CONFIG = FineTuneConfig(epochs=1, lr=1e-4, batch_size=8, max_length=16, snapshot_at=(0, 0.5, 1))


@pytest.fixture(scope="module")
def task():
    return generate_task("sentiment", n_train=48, n_validation=16, n_test=24, seed=0)


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    return Harness(ArtifactStore(tmp_path_factory.mktemp("store")), device="cpu")


@pytest.fixture(scope="module")
def tuned(harness, task):
    return harness.fine_tuned(TINY, task, CONFIG, seed=0)


def test_fine_tuning_changes_the_encoder_weights(tuned):
    original = load_encoder(TINY).model.state_dict()
    after = load_file(tuned.file("encoder") / "model.safetensors")
    changed = [k for k in after if k in original and not torch.equal(after[k], original[k])]
    assert len(changed) > 0.8 * len(after)
    assert set(tuned.meta["accuracy"]) == {"train", "validation", "test"}
    assert tuned.array("losses").shape == (tuned.meta["total_steps"],) == (6,)


def test_snapshots_are_taken_at_the_asked_fractions(tuned, task):
    assert tuned.meta["snapshot_steps"] == [0, 3, 6]
    first = tuned.array("snapshots/step_000000_layer_2")
    last = tuned.array("snapshots/step_000006_layer_2")
    assert first.shape == (len(task["test"]), 384)
    assert not np.allclose(first, last)
    assert snapshot_steps([0, 0.25, 1], 10) == [0, 2, 10]  # round(2.5) is banker's 2


def test_snapshot_at_step_zero_equals_the_pretrained_encoder(harness, tuned, task):
    pretrained = harness.embedding_matrix(TINY, task, "test", max_length=CONFIG.max_length)
    np.testing.assert_allclose(tuned.array("snapshots/step_000000_layer_2"), pretrained, atol=1e-5)


def test_frozen_protocol_leaves_the_encoder_untouched(harness, task):
    before = {k: v.clone() for k, v in load_encoder(TINY).model.state_dict().items()}
    probe = harness.frozen(TINY, task, HeadConfig(epochs=3), seed=0, max_length=16)
    after = load_encoder(TINY).model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    preds = Predictions.of(probe, "test")
    assert preds.accuracy == pytest.approx(probe.meta["accuracy"]["test"])
    # The probe read the pretrained embeddings, which are themselves a cached artifact.
    emb = harness.embeddings(TINY, task, "train", max_length=16)
    assert emb.cache_hit


def test_cross_task_uses_the_encoder_tuned_on_the_other_task(harness, task, tuned):
    topic = generate_task("topic", n_train=48, n_validation=16, n_test=24, seed=1)
    cross = harness.cross_task(TINY, topic, task, CONFIG, HeadConfig(epochs=3), seed=0)
    assert cross.manifest["inputs"]["model"].startswith("finetune:")
    tuned_on_topic = harness.fine_tuned(TINY, topic, CONFIG, seed=0)
    assert tuned_on_topic.cache_hit and cross.manifest["inputs"]["model"] == f"finetune:{tuned_on_topic.key}"
    assert cross.manifest["inputs"]["task"] == task.fingerprint()


def test_same_seed_same_predictions_bit_for_bit_across_processes(tmp_path, tuned):
    script = textwrap.dedent(f"""
        import sys
        from harness.pipeline.build import Harness
        from harness.models.encoders import EncoderSpec
        from harness.training.protocols import FineTuneConfig
        from harness.store import ArtifactStore
        from harness.data.synthetic import generate_task
        task = generate_task("sentiment", n_train=48, n_validation=16, n_test=24, seed=0)
        art = Harness(ArtifactStore(sys.argv[1]), device="cpu").fine_tuned(
            EncoderSpec("offline:minilm-l2"), task, {CONFIG!r}, seed=0)
        print(art.path)
    """)
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "other")], cwd=ROOT,
                         capture_output=True, text=True, timeout=300, check=True)
    other = Path(out.stdout.strip().splitlines()[-1])
    for split in ("train", "test"):
        ours = tuned.array(f"logits_{split}")
        theirs = np.load(other / f"logits_{split}.npy")
        assert ours.tobytes() == theirs.tobytes()
    assert tuned.array("losses").tobytes() == np.load(other / "losses.npy").tobytes()


def test_another_seed_gives_another_model(harness, task, tuned):
    other = harness.fine_tuned(TINY, task, CONFIG, seed=1)
    assert other.key != tuned.key
    assert not np.array_equal(other.array("logits_test"), tuned.array("logits_test"))


@pytest.mark.parametrize("kind", ["roberta", "mlp", "logreg"])
def test_heads_learn_a_separable_problem_deterministically(kind):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 16)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)
    config = HeadConfig(kind=kind, epochs=30, lr=1e-2)
    head = train_head(x, y, 2, config, seed=0)
    assert (head.logits(x).argmax(1) == y).mean() > 0.95
    again = train_head(x, y, 2, config, seed=0)
    assert np.array_equal(head.logits(x), again.logits(x))


def test_protocol_parameters_are_checked():
    with pytest.raises(ConfigError, match=r"\[frozen_head\] kind = 'svm': must be one of \['roberta', 'mlp', 'logreg'\]"):
        HeadConfig(kind="svm")
    with pytest.raises(ConfigError, match=r"\[fine_tune\] epochs = 0: must be an integer >= 1"):
        FineTuneConfig(epochs=0)
    with pytest.raises(ConfigError, match=r"\[fine_tune\] snapshot_at = \[.*\]: must be a list of numbers in \[0, 1\]"):
        FineTuneConfig(snapshot_at=(1.5,))
    with pytest.raises(ConfigError, match="seed must be a non-negative integer"):
        train_head(np.zeros((4, 2)), np.array([0, 1, 0, 1]), 2, HeadConfig(), seed=-1)


def test_trainable_layers_trains_only_the_top_layers():
    """With trainable_layers = 1, the embeddings and the lower layer keep their weights exactly;
    the top layer moves. An architecture without a known layer stack is refused by name."""
    import torch

    from harness.data.synthetic import generate_task
    from harness.models.encoders import EncoderSpec, load_encoder
    from harness.training.protocols import FineTuneConfig, fine_tune, transformer_layers

    task = generate_task("sentiment", n_train=32, n_validation=8, n_test=8, seed=0)
    enc = load_encoder(EncoderSpec("offline:minilm-l2"))
    before = {k: v.clone() for k, v in enc.model.state_dict().items()}
    fine_tune(enc, task, FineTuneConfig(epochs=1, lr=1e-3, batch_size=8, max_length=16, trainable_layers=1), seed=0)
    after = enc.model.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved and all(k.startswith("encoder.layer.1.") for k in moved), sorted(moved)[:5]
    assert any(k.startswith("encoder.layer.1.") for k in moved)
    with pytest.raises(ConfigError, match="trainable_layers must be in 0..2"):
        fine_tune(enc, task, FineTuneConfig(epochs=1, trainable_layers=3, max_length=16), seed=0)
    with pytest.raises(ConfigError, match="cannot find the transformer layers of Linear"):
        transformer_layers(torch.nn.Linear(2, 2))


def test_out_of_memory_in_a_step_accumulates_micro_batches_with_the_same_gradient():
    """A step that runs out of accelerator memory is retried as accumulated micro-batches: the
    batch size, and so the trained model, stay those of the protocol (dropout off, so that the
    two runs draw no different masks)."""
    from harness.training.protocols import fine_tune
    from tests.test_encoders import fail_above

    task = generate_task("sentiment", n_train=24, n_validation=8, n_test=8, seed=0)
    config = FineTuneConfig(epochs=1, lr=1e-3, batch_size=8, max_length=16, head_dropout=0.0)

    def run(max_rows):
        enc = load_encoder(TINY)
        for module in enc.model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
        calls: list[int] = []
        if max_rows:
            fail_above(enc.model, max_rows, calls)
        result = fine_tune(enc, task, config, seed=0)
        return result, calls

    plain, _ = run(None)
    with pytest.warns(RuntimeWarning) as caught:
        backed_off, calls = run(2)
    assert [str(w.message).split(";")[0] for w in caught] == [
        "fine_tune: out of memory at 8 examples per pass", "fine_tune: out of memory at 4 examples per pass"]
    assert calls[:3] == [8, 4, 2] and max(calls[3:]) == 2  # 8 fails, 4 fails, then 2 at a time
    np.testing.assert_allclose(backed_off.losses, plain.losses, rtol=1e-5)
    for (name, a), b in zip(plain.classifier.state_dict().items(), backed_off.classifier.state_dict().values(), strict=True):
        # Adam divides by the root of the squared gradient, so where a gradient is near zero a
        # rounding difference in the sum moves a weight by up to a fraction of lr (1e-3)
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-4, atol=1e-4, err_msg=name)


def test_length_grouped_batches_cover_every_example_once_and_pad_less():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from harness.training.protocols import MEGABATCH, key_fields, length_grouped

    @settings(max_examples=60, deadline=None)
    @given(st.integers(1, 900), st.integers(1, 40), st.integers(0, 2**16))
    def check(n, batch, seed):
        rng = np.random.default_rng(seed)
        lengths = rng.integers(2, 128, n)
        order = rng.permutation(n)
        grouped = length_grouped(order, lengths, batch)
        assert sorted(grouped.tolist()) == list(range(n))
        for start in range(0, n, MEGABATCH * batch):  # each mega-batch: the same examples, sorted
            mega = grouped[start : start + MEGABATCH * batch]
            assert set(mega.tolist()) == set(order[start : start + MEGABATCH * batch].tolist())
            assert (np.diff(lengths[mega]) <= 0).all()

        def padding(o):
            return sum(lengths[o[i : i + batch]].max() * len(o[i : i + batch]) - lengths[o[i : i + batch]].sum()
                       for i in range(0, n, batch))

        assert padding(grouped) <= padding(order)

    check()
    assert "group_by_length" not in key_fields(FineTuneConfig())  # stores stay valid at the default
    assert key_fields(FineTuneConfig(group_by_length=True))["group_by_length"] is True


def test_fine_tuning_with_length_grouped_batches_runs_every_step():
    from harness.training.protocols import fine_tune

    task = generate_task("sentiment", n_train=40, n_validation=8, n_test=8, seed=1)
    config = FineTuneConfig(epochs=1, lr=1e-4, batch_size=8, max_length=16, group_by_length=True)
    result = fine_tune(load_encoder(TINY), task, config, seed=0)
    assert len(result.losses) == 5 and np.isfinite(result.losses).all()
