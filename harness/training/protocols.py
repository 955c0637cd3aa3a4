"""Training protocols, as pure computations on loaded objects (caching lives in :mod:`harness.pipeline.build`).

- :func:`fine_tune`: the whole encoder plus a RoBERTa-style head on the first token, Bogaert et
  al.'s protocol by default (2 epochs, AdamW, lr 2e-5, linear decay, no warm-up, gradient norm
  clipped at 1.0), with optional snapshots of embeddings during training.
- frozen: embeddings of the untouched encoder, then :func:`harness.models.heads.train_head`.
- cross-task: fine-tune on task B, then a frozen head on task A's embeddings from that encoder.

Frozen and cross-task are compositions of steps, so they are spelled out in :mod:`harness.pipeline.build`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .. import distributed
from ..constraints import Boolean, Constraint, Interval, ListOf, Options, OrNone, check_fields
from ..data import Task
from ..errors import ConfigError, diverged
from ..models.encoders import autocast_for, encode, is_out_of_memory, release_memory, tokenize
from ..models.heads import RobertaStyleHead
from ..runtime import seeded


@dataclass(frozen=True)
class FineTuneConfig:
    """Fine-tuning hyper-parameters (defaults: Bogaert et al. 2023).

    ``snapshot_at`` lists fractions of training (0 = before the first step, 1 = the end) at which
    the embeddings of ``snapshot_split`` are recorded (layers ``snapshot_layers``, first token),
    for claims that follow the geometry over training.

    ``trainable_layers = k`` trains only the top k transformer layers and the head (embeddings and
    lower layers frozen): Merchant et al.'s partial fine-tuning, Hart's "last two layers" (k = 2).

    ``group_by_length``: each epoch's shuffled order is cut into mega-batches of 50 batches, each
    sorted by length before it is cut into batches (Hugging Face's ``group_by_length``), so that a
    batch pads to a similar length. It changes which examples share a batch, so it is part of the
    protocol (and of the artifact key), off by default as in the papers.
    """

    # Fields added after the first release, left out of artifact keys at their default so that
    # existing stores stay valid (see key_fields).
    LATER_FIELDS = {"trainable_layers": None, "group_by_length": False, "truncate_layers": None}

    epochs: int = 2
    lr: float = 2e-5
    batch_size: int = 16
    max_length: int = 128
    warmup_ratio: float = 0.0
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    head_dropout: float = 0.1
    snapshot_at: tuple[float, ...] = ()
    snapshot_split: str = "test"
    snapshot_layers: tuple[int, ...] = (-1,)
    trainable_layers: int | None = None  # None: the whole encoder; k: only its top k layers
    group_by_length: bool = False  # batches of similar lengths (less padding; other batches)
    truncate_layers: int | None = None  # None: every layer; k: the encoder cut after its k-th layer

    @classmethod
    def preset(cls, name: str, **overrides) -> FineTuneConfig:
        """A named protocol (``PRESETS``), with ``overrides`` on top."""
        if name not in PRESETS:
            raise ConfigError(f"fine_tune preset = {name!r}: must be one of {sorted(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    def __post_init__(self) -> None:
        check_fields(self, FINE_TUNE, "[fine_tune]")
        object.__setattr__(self, "snapshot_at", tuple(sorted(set(map(float, self.snapshot_at)))))
        object.__setattr__(self, "snapshot_layers", tuple(self.snapshot_layers))


# What each [fine_tune] key allows (harness/constraints.py: the fixture loader checks a file's table
# with these, and so does a FineTuneConfig built in Python)
FINE_TUNE: dict[str, Constraint] = {
    "epochs": Interval(int, 1), "lr": Interval(float, 0, closed="right"), "batch_size": Interval(int, 1),
    "max_length": Interval(int, 1), "warmup_ratio": Interval(float, 0, 1, closed="left"),
    "weight_decay": Interval(float, 0), "grad_clip": Interval(float, 0),
    "head_dropout": Interval(float, 0, 1, closed="left"), "snapshot_at": ListOf(Interval(float, 0, 1), as_tuple=True),
    "snapshot_split": Options(("train", "validation", "test")),
    "snapshot_layers": ListOf(Interval(int), nonempty=True, as_tuple=True),
    "trainable_layers": OrNone(Interval(int, 0)), "group_by_length": Boolean(),
    "truncate_layers": OrNone(Interval(int, 1)),
}


# Named protocols. Zhou and Srikumar (2022, Appendix A): Adam, lr 3e-4, linear schedule with 10%
# warm-up, batch 32, 10 epochs (3 for BERT-base: the fixture says ``epochs = 3``). With no weight
# decay AdamW is Adam.
PRESETS: dict[str, dict] = {
    "bogaert": {},  # the dataclass defaults
    "zhou": {"lr": 3e-4, "warmup_ratio": 0.1, "batch_size": 32, "epochs": 10, "weight_decay": 0.0},
}


def adamw(params, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW, fused where this torch build offers it: on a CPU, one step over MiniLM's 22M
    parameters takes 38 ms fused against 275 ms with the default per-tensor loop (measured on the
    2-core development machine, torch 2.13), which was half of a smoke fine-tuning's time."""
    try:
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):  # older torch, or a device without the fused kernel
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def key_fields(config: FineTuneConfig) -> dict:
    """The config as it enters an artifact key: later fields only where they differ from their
    default, so that adding a field does not invalidate every stored fine-tune."""
    out = dataclasses.asdict(config)
    for name, default in FineTuneConfig.LATER_FIELDS.items():
        if out.get(name) == default:
            out.pop(name, None)
    return out


def transformer_layers(model: nn.Module) -> nn.ModuleList:
    """The stack of transformer blocks of a Hugging Face encoder (BERT, RoBERTa, CamemBERT,
    DistilBERT, ...)."""
    for path in ("encoder.layer", "transformer.layer", "encoder.layers", "layers"):
        obj = model
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if isinstance(obj, nn.ModuleList):
            return obj
    raise ConfigError(f"cannot find the transformer layers of {type(model).__name__} (looked for "
                      "encoder.layer, transformer.layer, encoder.layers, layers): trainable_layers "
                      "does not support this architecture")


def truncate_after(model: nn.Module, k: int) -> None:
    """Cut the encoder after its ``k``-th transformer layer (Merchant et al.'s truncated models,
    Fig. 4): the top layers are dropped, and the saved configuration says ``k`` layers."""
    layers = transformer_layers(model)
    if not 1 <= k <= len(layers):
        raise ConfigError(f"fine_tune truncate_layers must be in 1..{len(layers)} for this "
                          f"{len(layers)}-layer encoder, got {k}")
    for path in ("encoder.layer", "transformer.layer", "encoder.layers", "layers"):
        *parents, last = path.split(".")
        owner = model
        for part in parents:
            owner = getattr(owner, part, None)
        if owner is not None and getattr(owner, last, None) is layers:
            setattr(owner, last, nn.ModuleList(list(layers)[:k]))
            break
    for name in ("num_hidden_layers", "n_layers"):
        if hasattr(model.config, name):
            setattr(model.config, name, k)


def prepare(model: nn.Module, config: FineTuneConfig) -> None:
    """Truncation then freezing, as ``config`` asks (both change ``model`` in place)."""
    if config.truncate_layers is not None:
        truncate_after(model, int(config.truncate_layers))
    if config.trainable_layers is not None:
        freeze_below(model, int(config.trainable_layers))


def freeze_below(model: nn.Module, trainable: int) -> None:
    """Freeze every encoder parameter except those of the top ``trainable`` layers."""
    layers = transformer_layers(model)
    if not 0 <= trainable <= len(layers):
        raise ConfigError(f"fine_tune trainable_layers must be in 0..{len(layers)} for this "
                          f"{len(layers)}-layer encoder, got {trainable}")
    for p in model.parameters():
        p.requires_grad_(False)
    for layer in layers[len(layers) - trainable:]:
        for p in layer.parameters():
            p.requires_grad_(True)


class SequenceClassifier(nn.Module):
    """An encoder with a head on its last layer's first token: a new RoBERTa-style head, or
    ``head``, a trained one (the frozen protocol's, for attribution)."""

    def __init__(self, encoder: nn.Module, num_labels: int, dropout: float = 0.0, head: nn.Module | None = None):
        super().__init__()
        self.encoder = encoder
        self.head = head if head is not None else RobertaStyleHead(int(encoder.config.hidden_size), num_labels,
                                                                   dropout=dropout)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.head(hidden[:, 0].float())


@dataclass
class FineTuneResult:
    classifier: SequenceClassifier
    losses: list[float]
    snapshots: dict[int, dict[int, np.ndarray]] = field(default_factory=dict)  # step -> layer -> X
    total_steps: int = 0


MEGABATCH = 50


def length_grouped(order: np.ndarray, lengths: np.ndarray, batch_size: int) -> np.ndarray:
    """``order`` (a shuffled permutation) cut into mega-batches of ``MEGABATCH`` batches, each
    sorted by length, longest first: consecutive batches then hold texts of similar length."""
    size = MEGABATCH * batch_size
    chunks = [order[i : i + size] for i in range(0, len(order), size)]
    return np.concatenate([c[np.argsort(-lengths[c], kind="stable")] for c in chunks])


def linear_schedule(optimizer, warmup: int, total: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over ``warmup`` steps, then linear decay to 0 at ``total`` (Hugging Face's
    ``get_linear_schedule_with_warmup``)."""

    def lr_factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)


def to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """A small NumPy array as a tensor on ``device``, through pinned memory on a GPU (no wait)."""
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    if device.type == "cuda":
        tensor = tensor.pin_memory()
    return tensor.to(device, non_blocking=True)


def snapshot_steps(fractions: Sequence[float], total_steps: int) -> list[int]:
    return sorted({round(f * total_steps) for f in fractions})


def fine_tune(encoder, task: Task, config: FineTuneConfig, seed: int, progress=None,
              compile: bool = False) -> FineTuneResult:
    """Fine-tune ``encoder`` (an :class:`harness.models.encoders.Encoder`, changed in place) on the task's
    train split. Deterministic for a given seed on the CPU.

    On a GPU: bf16 autocast, batches copied from pinned memory, no host synchronisation inside the
    loop (losses stay on the device until the end), and a step that runs out of memory is retried
    as accumulated micro-batches (same batch size, same gradient). ``compile``: run the forward
    pass through ``torch.compile`` (dynamic shapes). On an H100 it gave +30% at batch 256 and +12%
    at batch 16, length 512, after about 90 s of compiling (docs/gpu-throughput.md). The protocol,
    and so the artifact key, is the same.
    """
    model, tokenizer = encoder.model, encoder.tokenizer
    device = next(model.parameters()).device
    train = task["train"]
    ids = tokenize(tokenizer, train.texts, config.max_length)
    labels = np.asarray(train.labels, dtype=np.int64)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    steps_per_epoch = math.ceil(len(ids) / config.batch_size)
    total = steps_per_epoch * config.epochs
    snap_steps = snapshot_steps(config.snapshot_at, total)
    snap_texts = task[config.snapshot_split].texts if snap_steps else ()

    with seeded(seed, deterministic=device.type == "cpu"):
        classifier = SequenceClassifier(model, task.num_labels, config.head_dropout).to(device)
        prepare(model, config)
        forward = torch.compile(classifier, dynamic=True) if compile else classifier
        parallel = distributed.active()
        if parallel:  # one process per GPU (torchrun, accelerate launch): data parallel
            from torch.nn.parallel import DistributedDataParallel

            forward = DistributedDataParallel(forward, device_ids=[device.index] if device.type == "cuda" else None)
        ranks, me = distributed.world_size(), distributed.rank()
        optimizer = adamw([p for p in classifier.parameters() if p.requires_grad], config.lr,
                          config.weight_decay)
        warmup = int(config.warmup_ratio * total)

        schedule = linear_schedule(optimizer, warmup, total)
        generator = torch.Generator().manual_seed(seed)
        loss_fn = nn.CrossEntropyLoss()
        result = FineTuneResult(classifier=classifier, losses=[], total_steps=total)

        def snapshot(step: int) -> None:
            if step in snap_steps:
                result.snapshots[step] = encode(
                    model, tokenizer, snap_texts, layers=config.snapshot_layers,
                    pooling="first", max_length=config.max_length,
                )

        micro_batches = MicroBatches("fine_tune", "examples", device)

        def train_step(batch: np.ndarray, micro: int) -> torch.Tensor:
            """One optimizer step on ``batch``: this rank's share of it (all of it in a single
            process), as ``micro`` accumulated micro-batches. Each micro-batch's mean loss is
            weighted by its share of the batch (times the number of ranks, whose gradients
            DistributedDataParallel averages), so the gradient is the whole batch's."""
            optimizer.zero_grad(set_to_none=True)
            step_loss = torch.zeros((), device=device)
            mine = np.array_split(batch, ranks)[me] if parallel else batch
            weight_all = ranks * len(mine) / len(batch)
            if len(mine) == 0:  # fewer examples than ranks: take part in the all-reduce with nothing
                mine, weight_all = batch[:1], 0.0
            parts = np.array_split(mine, micro)
            for i, part in enumerate(parts):
                sync = not parallel or i == len(parts) - 1  # all-reduce once, after the last part
                with contextlib.nullcontext() if sync else forward.no_sync():
                    input_ids, mask = ids.batch(part, pad_id, device)
                    with autocast_for(device):
                        logits = forward(input_ids, mask)
                    loss = loss_fn(logits.float(), to_device(labels[part], device))
                    if micro > 1 or parallel:
                        loss = loss * (weight_all * len(part) / len(mine))
                    loss.backward()
                step_loss += loss.detach()
            return step_loss

        def batches():  # one epoch's batches of example indices
            order = torch.randperm(len(ids), generator=generator).numpy()
            if config.group_by_length:
                order = length_grouped(order, ids.lengths, config.batch_size)
            return (order[start:start + config.batch_size] for start in range(0, len(order), config.batch_size))

        losses_on_device = optimizer_steps(config, classifier, optimizer, schedule, batches, micro_batches, train_step,
                                           total, seed, snap_steps, snapshot, progress)
        if losses_on_device:  # each rank's weighted share: their mean is the batch's loss
            result.losses = distributed.all_reduce_mean(torch.stack(losses_on_device).float()).cpu().tolist()
    return result


def optimizer_steps(config: FineTuneConfig, classifier: nn.Module, optimizer, schedule, batches, micro_batches,
                    train_step, total: int, seed: int, snap_steps: set[int], snapshot, progress=None) -> list:
    """The training loop both fine-tuning protocols share (:func:`fine_tune` on texts,
    ``harness.training.tokens.fine_tune_tokens`` on words): the snapshot before the first step,
    then per epoch each batch of ``batches()`` as one optimizer step (``micro_batches`` retries it
    in smaller parts when memory runs out), clipped, scheduled, checked for a finite loss, reported
    to ``progress`` and snapshotted at ``snap_steps``. The step losses, on the device."""
    losses: list = []
    finite = FiniteLossCheck(total, seed, config.lr)
    step = 0
    snapshot(0)
    classifier.train()
    for _ in range(config.epochs):
        for batch in batches():
            loss = micro_batches.run(train_step, batch, optimizer)
            if config.grad_clip:
                nn.utils.clip_grad_norm_(classifier.parameters(), config.grad_clip)
            optimizer.step()
            schedule.step()
            losses.append(loss)
            step += 1
            finite(losses, step)
            if progress is not None:
                progress(step)
            if step in snap_steps:
                snapshot(step)
                classifier.train()
    classifier.eval()
    return losses


class MicroBatches:
    """How many accumulated micro-batches a training step takes: 1 at first, doubled each time a
    step runs out of accelerator memory, so that the batch size, and so the gradient, stay the
    protocol's (``fine_tune``; ``harness.training.tokens.fine_tune_tokens``, whose batches are sentences)."""

    def __init__(self, who: str, unit: str, device: torch.device):
        self.count, self.who, self.unit, self.device = 1, who, unit, device

    def run(self, train_step, batch: np.ndarray, optimizer) -> torch.Tensor:
        """``train_step(batch, count)``, retried with twice the micro-batches after running out of
        memory, until each holds one element of the batch; any other error is raised."""
        while True:
            try:
                return train_step(batch, self.count)
            except Exception as exc:
                if not is_out_of_memory(exc) or self.count >= len(batch):
                    raise
                optimizer.zero_grad(set_to_none=True)
                release_memory(self.device)
                per_pass = math.ceil(len(batch) / self.count)
                self.count *= 2
                warnings.warn(f"{self.who}: out of memory at {per_pass} {self.unit} per pass; going on with "
                              f"{self.count} accumulated micro-batches per step (same batch size, same gradient)",
                              RuntimeWarning, stacklevel=3)


DIVERGENCE_CHECK_EVERY = 50  # steps between checks that the loss is still finite


class FiniteLossCheck:
    """Stops a training run whose loss is no longer finite, with :class:`TrainingDiverged`
    naming the first bad step, the seed and the learning rate.

    Every ``DIVERGENCE_CHECK_EVERY`` steps the window of losses since the last check is reduced
    to one flag on the device. On a CUDA device the flag is copied to pinned host memory without
    blocking and read at the next check, one window later (so the check never stalls the queue of
    kernels); elsewhere it is read at once. The last step checks everything still open."""

    def __init__(self, total: int, seed: int, lr: float, what: str = "fine-tuning"):
        self.total, self.seed, self.lr, self.what = total, seed, lr, what
        self.checked = 0  # losses[:checked] have a check under way or done
        self.pending: tuple[int, int, torch.Tensor, torch.cuda.Event] | None = None

    def __call__(self, losses: list[torch.Tensor], step: int) -> None:
        if step % DIVERGENCE_CHECK_EVERY and step != self.total:
            return
        start, self.checked = self.checked, step
        flag = torch.isfinite(torch.stack(losses[start:step]).float()).all()
        self._settle()
        if flag.device.type == "cuda" and step != self.total:
            host = torch.empty((), dtype=torch.bool, pin_memory=True)
            host.copy_(flag, non_blocking=True)
            event = torch.cuda.Event()
            event.record()
            self.pending = (start, step, host, event)
            self._losses = losses
        elif not bool(flag):
            self._raise(losses, start, step)

    def _settle(self) -> None:
        """Read the flag of the window before (its copy finished long ago)."""
        if self.pending is None:
            return
        start, end, host, event = self.pending
        self.pending = None
        event.synchronize()
        if not bool(host):
            self._raise(self._losses, start, end)

    def _raise(self, losses: list[torch.Tensor], start: int, end: int) -> None:
        window = torch.stack(losses[start:end]).float().cpu()
        first = int((~torch.isfinite(window)).nonzero()[0, 0])
        raise diverged(self.what, float(window[first]), start + first + 1, self.total, self.seed, self.lr)


def classifier_logits(
    classifier: SequenceClassifier, tokenizer, texts: Sequence[str], max_length: int, batch_size: int = 64
) -> np.ndarray:
    """Logits of the fine-tuned classifier: its head on the encoder's last-layer first token."""
    features = encode(
        classifier.encoder, tokenizer, texts, layers=(-1,), pooling="first",
        max_length=max_length, batch_size=batch_size,
    )
    (last,) = features.values()
    with torch.inference_mode():
        head = classifier.head.eval()
        weight = next(head.parameters())
        return head(torch.from_numpy(last).to(weight.device)).float().cpu().numpy()
