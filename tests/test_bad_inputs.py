"""Nothing wrong gets through: a diverged training run is refused before anything is scored or
stored (an argmax over NaN logits is class 0, a 'constant classifier' that would be judged as
real), and a head that diverges likewise."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from harness.data.synthetic import generate_task
from harness.errors import ConfigError, TrainingDiverged
from harness.models.encoders import EncoderSpec
from harness.models.heads import HeadConfig, train_head
from harness.pipeline.build import Harness
from harness.store import ArtifactStore
from harness.training.protocols import FineTuneConfig

TINY = EncoderSpec("offline:minilm-l2")


def infinite_lr(config):
    """A configuration with an infinite learning rate, which no fixture may write (its check refuses
    it), set behind the check's back: training must still stop at the first non-finite loss."""
    with pytest.raises(ConfigError, match=r"lr = inf: must be a number > 0"):
        type(config)(**{**dataclasses.asdict(config), "lr": float("inf")})
    object.__setattr__(config, "lr", float("inf"))
    return config


@pytest.mark.slow
def test_fine_tuning_that_diverges_stops_and_stores_nothing(tmp_path):
    h = Harness(ArtifactStore(tmp_path / "store"), device="cpu")
    task = generate_task("sentiment", n_train=48, n_validation=8, n_test=16, seed=0)
    config = infinite_lr(FineTuneConfig(epochs=1, batch_size=16, max_length=16))
    with pytest.raises(TrainingDiverged, match=r"fine-tuning diverged: the loss became nan at step \d+ of 3 "
                                               r"\(seed 0, lr inf\); the learning rate is the likely cause"):
        h.fine_tuned(TINY, task, config, seed=0)
    assert not [p for p in (tmp_path / "store").rglob("manifest.json")]  # nothing stored


def test_a_head_that_diverges_is_refused():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 8)).astype(np.float32), rng.integers(0, 2, 64)
    with pytest.raises(TrainingDiverged, match=r"the frozen head's training diverged: the loss became nan at step 2 of 40"):
        train_head(x, y, 2, infinite_lr(HeadConfig(kind="mlp", epochs=20)), seed=0)
    x[3, 2] = np.nan  # a non-finite input gives a non-finite loss too
    with pytest.raises(TrainingDiverged, match="inputs that are not finite"):
        train_head(x, y, 2, HeadConfig(kind="mlp", epochs=2), seed=0)


@pytest.mark.slow
@pytest.mark.parametrize("every", [1, 2, 50])
def test_the_first_bad_step_is_named_whatever_the_check_interval(tmp_path, monkeypatch, every):
    from harness.training import protocols

    monkeypatch.setattr(protocols, "DIVERGENCE_CHECK_EVERY", every)
    h = Harness(ArtifactStore(tmp_path / "store"), device="cpu")
    task = generate_task("sentiment", n_train=96, n_validation=8, n_test=16, seed=0)
    config = infinite_lr(FineTuneConfig(epochs=1, batch_size=16, max_length=16))
    with pytest.raises(TrainingDiverged, match=r"the loss became nan at step 2 of 6 "):
        h.fine_tuned(TINY, task, config, seed=0)
