"""What claims read: the artifacts of a fixture, built (or found) by the harness.

Claims call these helpers and never train or encode anything themselves; every function returns
an artifact or arrays read from one.
"""

from __future__ import annotations

import numpy as np

from harness.build import Harness, Predictions
from harness.data import Task
from harness.store import Artifact

from .fixture import Fixture


def target_task(h: Harness, fx: Fixture) -> Task:
    return h.task(fx.task)


def other_task(h: Harness, fx: Fixture) -> Task:
    assert fx.other_task is not None, f"fixture {fx.name} has no [other_task]"
    return h.task(fx.other_task)


def finetuned(h: Harness, fx: Fixture, seed: int) -> Artifact:
    """The encoder fine-tuned on the target task (with its own head's predictions)."""
    return h.fine_tuned(fx.encoder, target_task(h, fx), fx.fine_tune, seed)


def frozen(h: Harness, fx: Fixture, seed: int) -> Artifact:
    """A head trained on the untouched encoder's target-task embeddings."""
    return h.frozen(fx.encoder, target_task(h, fx), fx.frozen_head, seed, max_length=fx.fine_tune.max_length)


def cross(h: Harness, fx: Fixture, seed: int) -> Artifact:
    """A head on the target task's embeddings from the encoder fine-tuned on the other task."""
    return h.cross_task(fx.encoder, other_task(h, fx), target_task(h, fx), fx.fine_tune,
                        fx.frozen_head, seed)


def predictions(artifact: Artifact, split: str = "test") -> Predictions:
    return Predictions.of(artifact, split)


def test_embeddings(h: Harness, fx: Fixture, model) -> np.ndarray:
    """Last-layer first-token vectors of the target task's test texts under ``model`` (an
    EncoderSpec or a finetune artifact)."""
    return h.embedding_matrix(model, target_task(h, fx), "test", layer=-1, pooling="first",
                              max_length=fx.fine_tune.max_length)
