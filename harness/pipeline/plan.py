"""What a plan before a long run is measured from, with nothing trained: the time one fine-tuning
step and one head step take on this device (:class:`Throughput`: a few steps of a randomly
initialised encoder of the fixture's shape, its ``config.json``, at the fixture's batch size and
maximum length, on the task's first training texts), an encoder's identity from the local cache
alone, and whether an artifact is already in the store. ``claims/plan.py`` makes the plan
(``pytest claims ... --plan``) from these.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..models.encoders import OFFLINE_LAYERS, EncoderSpec, encoder_identity, offline_model_dir
from ..store import MANIFEST, artifact_key
from ..training.protocols import FineTuneConfig
from .build import VERSIONS, Harness


@dataclass
class Step:
    what: str
    kind: str
    cached: bool | None  # None: unknown (its inputs are not on this machine)
    seconds: float | None


def _hub_identity(spec: EncoderSpec) -> str | None:
    """A hub encoder's identity as a run would record it, from the local cache only."""
    if spec.revision and len(spec.revision) == 40:
        return f"hub:{spec.name}@{spec.revision}"
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(spec.name, "config.json", revision=spec.revision)
    return f"hub:{spec.name}@{Path(cached).parent.name}" if isinstance(cached, str) else None


def identity_of(spec: EncoderSpec) -> str | None:
    if spec.name in OFFLINE_LAYERS or Path(spec.name).is_dir():
        return encoder_identity(spec)
    return _hub_identity(spec)


def _config_folder(spec: EncoderSpec) -> Path | None:
    if spec.name in OFFLINE_LAYERS:
        return offline_model_dir()
    if Path(spec.name).is_dir():
        return Path(spec.name)
    identity = _hub_identity(spec)
    if identity is None:
        return None
    from huggingface_hub import try_to_load_from_cache

    return Path(try_to_load_from_cache(spec.name, "config.json", revision=spec.revision)).parent


class Throughput:
    """Seconds per fine-tuning step and per head step, measured once per shape on the device."""

    def __init__(self, device):
        self.device = device
        self._finetune: dict[tuple, float] = {}
        self.notes: list[str] = []

    def finetune_step(self, spec: EncoderSpec, config: FineTuneConfig, texts: Sequence[str] = ()) -> float:
        """Seconds per optimizer step of ``spec``'s shape at ``config``'s batch size and length, on
        the first training ``texts`` of the task (full-length texts where none are given)."""
        from transformers import AutoConfig, AutoModel

        from ..data import make_task
        from ..models.encoders import Encoder
        from ..training.protocols import fine_tune
        from .throughput import benchmark_tokenizer, full_length_texts

        folder = _config_folder(spec)
        shape_key = (str(folder or "bert-base-uncased"), config.batch_size, config.max_length,
                     OFFLINE_LAYERS.get(spec.name), tuple(texts[:3]))
        if shape_key in self._finetune:
            return self._finetune[shape_key]
        if folder is None:
            self.notes.append(f"{spec.name} is not in the local cache: timed with bert-base's shape")
            from transformers import BertConfig

            from .throughput import SHAPES

            model_config = BertConfig(**SHAPES["bert-base-uncased"])
        else:
            model_config = AutoConfig.from_pretrained(folder)
            if spec.name in OFFLINE_LAYERS:
                model_config.num_hidden_layers = OFFLINE_LAYERS[spec.name]
        tokenizer = benchmark_tokenizer()
        model = AutoModel.from_config(model_config).to(self.device).eval()
        encoder = Encoder(model=model, tokenizer=tokenizer, identity="random:plan")
        need = config.batch_size * 4  # four steps: one to warm up, three timed
        texts = list(texts[:need])
        if len(texts) < need:  # no task texts at hand: full-length ones, an upper bound
            texts = full_length_texts(tokenizer, need, min(config.max_length, 512))
        labels = [i % 2 for i in range(len(texts))]
        task = make_task("plan", {"train": (texts, labels), "test": (texts[:4], labels[:4])})
        probe_config = dataclasses.replace(config, epochs=1, snapshot_at=(), trainable_layers=None)
        timings = []

        def progress(step: int) -> None:
            if self.device.type == "cuda":
                import torch

                torch.cuda.synchronize()
            timings.append(time.perf_counter())

        fine_tune(encoder, task, probe_config, seed=0, progress=progress)
        per_step = (timings[-1] - timings[0]) / (len(timings) - 1)  # the first step warms up
        self._finetune[shape_key] = per_step
        return per_step

    def head_step(self, dim: int) -> float:

        from ..models.heads import HeadConfig, train_head

        rng = np.random.default_rng(0)
        x = rng.standard_normal((32 * 200, dim)).astype(np.float32)
        started = time.perf_counter()
        train_head(x, (x[:, 0] > 0).astype(np.int64), 2, HeadConfig(epochs=1), seed=0, device=self.device)
        return (time.perf_counter() - started) / 200


def is_cached(h: Harness, kind: str, inputs: dict[str, Any], version: str | None = None) -> bool:
    """Whether the store holds the artifact (``version``: the step's code version where it is not
    ``VERSIONS[kind]``, as for a token task's fine-tuning: ``finetune_version``)."""
    key = artifact_key(kind, version or VERSIONS[kind], inputs)
    return (h.store.path_for(kind, key) / MANIFEST).exists()
